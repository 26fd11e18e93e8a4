// Starts a real pasv server process for a test and stops it by PID. PASV_E2E_SERVER picks the
// runtime (node or deno), so one suite judges every adapter.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { createRequire } from "node:module";
import path from "node:path";

export const ROOT = path.resolve(import.meta.dirname, "../../..");
/** Whose server the suite starts: this tree's, or with PASV_E2E_CHECKOUT another built checkout's
 * (to show that a test fails on the code before a fix). */
const CHECKOUT = path.resolve(process.env.PASV_E2E_CHECKOUT ?? ROOT);

export interface RunningServer {
  readonly port: number;
  readonly pid: number;
  readonly dir: string;
  readonly output: () => string;
  stop(): Promise<number | null>;
  /** Resolves with the exit code once the server has exited by itself, or "running" after `ms`. */
  exited(ms: number): Promise<number | null | "running">;
}

export function tempDir(prefix = "pasv-e2e-"): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The real Deno executable inside the npm package, not its Node.js launcher: the server's PID must
 * be the server's (signals, /proc/PID/fd), not a wrapper's.
 */
export function denoBinary(): string {
  const require = createRequire(path.join(ROOT, "package.json"));
  const denoDir = path.dirname(require.resolve("deno/package.json"));
  const platform = `@deno/${process.platform}-${process.arch}${process.platform === "linux" ? "-glibc" : ""}`;
  try {
    return path.join(path.dirname(createRequire(path.join(denoDir, "package.json")).resolve(`${platform}/package.json`)), "deno");
  } catch {
    return path.join(ROOT, "node_modules/.bin/deno");
  }
}

/**
 * Which server a test runs: the adapter PASV_E2E_SERVER names, or with `entry: "node-cli"` the Node
 * command on that runtime (under Deno through its Node compatibility, the route to FTPS there).
 */
export interface StartOptions {
  readonly entry?: "adapter" | "node-cli";
  /** This runtime whatever PASV_E2E_SERVER says (for tests that compare the runtimes side by side). */
  readonly runtime?: "node" | "deno";
  /** Pass no DIR argument (the flags name the directory, e.g. through --config). */
  readonly noDir?: boolean;
  /** Pass no `-p 0` (the flags or the config file choose the port). */
  readonly noPort?: boolean;
}

function command(dir: string, flags: readonly string[], options: StartOptions): [string, string[]] {
  return cliCommand([...(options.noDir === true ? [] : [dir]), ...(options.noPort === true ? [] : ["-p", "0"]), ...flags], options);
}

/** The `pasv` command line with exactly these arguments (subcommands, start-up errors), on the runtime chosen as for startServer. */
export function cliCommand(args: readonly string[], options: StartOptions = {}): [string, string[]] {
  const which = options.runtime ?? process.env.PASV_E2E_SERVER ?? "node";
  const nodeCli = path.join(CHECKOUT, "packages/cli/dist/main.js");
  if (which === "deno") {
    const entry = options.entry === "node-cli" ? nodeCli : path.join(CHECKOUT, "packages/deno/src/main.ts");
    return [denoBinary(), ["run", "-A", "--quiet", entry, ...args]];
  }
  return [process.execPath, [nodeCli, ...args]];
}

/**
 * Starts `pasv DIR -p 0 FLAGS` and resolves once its ready line names the port. The server's output
 * goes to a file, not a pipe: tests block in execFileSync while a client runs, and a pipe nobody
 * drains would fill and stall a server that logs synchronously.
 */
export function startServer(dir: string, flags: readonly string[] = [], options: StartOptions = {}): Promise<RunningServer> {
  const [cmd, args] = command(dir, flags, options);
  const logDir = mkdtempSync(path.join(tmpdir(), "pasv-log-"));
  const logFile = path.join(logDir, "server.log");
  const fd = openSync(logFile, "w");
  const child: ChildProcess = spawn(cmd, args, { stdio: ["ignore", fd, fd] });
  closeSync(fd);
  const output = (): string => {
    try {
      return readFileSync(logFile, "utf8");
    } catch {
      return "";
    }
  };
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = setInterval(() => {
      const out = output();
      const m = STARTED.exec(out);
      if (m !== null && child.pid !== undefined) {
        clearInterval(poll);
        const pid = child.pid;
        resolve({
          port: Number(m[1] ?? m[2] ?? m[3]),
          pid,
          dir,
          output,
          exited: (ms) =>
            new Promise((done) => {
              if (child.exitCode !== null || child.signalCode !== null) {
                done(child.exitCode);
                return;
              }
              const timer = setTimeout(() => done("running"), ms);
              child.once("exit", (code) => {
                clearTimeout(timer);
                done(code);
              });
            }),
          stop: () =>
            new Promise((done) => {
              const finish = (code: number | null): void => {
                rmSync(logDir, { recursive: true, force: true });
                done(code);
              };
              if (child.exitCode !== null) {
                finish(child.exitCode);
                return;
              }
              const kill = setTimeout(() => child.kill("SIGKILL"), 5_000);
              child.once("exit", (code) => {
                clearTimeout(kill);
                finish(code);
              });
              child.kill("SIGTERM");
            }),
        });
      } else if (child.exitCode !== null || Date.now() - started > 60_000) {
        clearInterval(poll);
        child.kill("SIGKILL");
        reject(new Error(`server did not start (exit ${child.exitCode}):\n${out}`));
      }
    }, 25);
  });
}

/** The start record, as JSON (the default off a terminal) or text (`--log-format text`): its port
 * (the plain one, else the implicit-TLS one). */
export const STARTED = /"event":"server\.start".*?(?:"port":(\d+)|"implicitTlsPort":(\d+))|server\.start .*?(?:port|implicitTlsPort)=(\d+)/;

export type LogRecord = Record<string, unknown> & { readonly event: string; readonly level: string; readonly time: string };

/** The server's JSON log records so far (other lines skipped). */
export function logRecords(server: RunningServer): LogRecord[] {
  const records: LogRecord[] = [];
  for (const line of server.output().split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      records.push(JSON.parse(line) as LogRecord);
    } catch {
      // A line cut mid-write: the next poll sees it whole.
    }
  }
  return records;
}

/** `read()` once `ok` holds of it, or as it is after `ms`: log records reach the output a little
 * after the replies that led to them (Deno writes them in batches), so a test waits for them. */
export async function eventually<T>(read: () => T, ok: (value: T) => boolean, ms = 5_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = read();
    if (ok(value) || Date.now() >= until) return value;
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Waits until a JSON record has every field of `fields` (the record, or null after `ms`). */
export async function waitForRecord(server: RunningServer, fields: Record<string, unknown>, ms = 5_000): Promise<LogRecord | null> {
  const until = Date.now() + ms;
  const matches = (r: LogRecord): boolean => Object.entries(fields).every(([k, v]) => (v instanceof RegExp ? typeof r[k] === "string" && v.test(r[k]) : r[k] === v));
  for (;;) {
    const found = logRecords(server).find(matches);
    if (found !== undefined) return found;
    if (Date.now() >= until) return null;
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Absent tools fail the suite under CI (CI must install them) and skip loudly elsewhere. */
export function haveTool(name: string, probe: () => boolean): boolean {
  if (probe()) return true;
  if (process.env.CI === "true") throw new Error(`${name} is not installed; scripts/ensure-peers.sh should have installed it`);
  console.warn(`SKIPPING ${name} tests: ${name} is not installed (run npm test as root to install it)`);
  return false;
}

/**
 * Waits until the server's output has a line matching `pattern` (the line, or null after `ms`).
 * The log goes through a file, so lines written asynchronously (Deno's log queue) are polled for.
 */
export async function waitForLogLine(server: RunningServer, pattern: RegExp, ms = 5_000): Promise<string | null> {
  const until = Date.now() + ms;
  for (;;) {
    const line = server.output().split("\n").find((l) => pattern.test(l));
    if (line !== undefined) return line;
    if (Date.now() >= until) return null;
    await new Promise((r) => setTimeout(r, 25));
  }
}
