// Starts a real pasv server process for a test and stops it by PID. PASV_E2E_SERVER picks the
// runtime (node today; deno once its adapter exists), so one suite judges every adapter.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

export const ROOT = path.resolve(import.meta.dirname, "../../..");

export interface RunningServer {
  readonly port: number;
  readonly pid: number;
  readonly dir: string;
  readonly output: () => string;
  stop(): Promise<number | null>;
}

export function tempDir(prefix = "pasv-e2e-"): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

function command(dir: string, flags: readonly string[]): [string, string[]] {
  const which = process.env.PASV_E2E_SERVER ?? "node";
  if (which === "deno") return ["deno", ["run", "-A", path.join(ROOT, "packages/deno/src/main.ts"), dir, "-p", "0", ...flags]];
  return [process.execPath, [path.join(ROOT, "packages/cli/dist/main.js"), dir, "-p", "0", ...flags]];
}

/** Starts `pasv DIR -p 0 FLAGS` and resolves once its ready line names the port. */
export function startServer(dir: string, flags: readonly string[] = []): Promise<RunningServer> {
  const [cmd, args] = command(dir, flags);
  const child: ChildProcess = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`server did not start:\n${out}`));
    }, 20_000);
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      const m = /serving .* on ftp:\/\/[^:]+:(\d+)/.exec(out);
      if (m === null || child.pid === undefined) return;
      clearTimeout(timer);
      const pid = child.pid;
      resolve({
        port: Number(m[1]),
        pid,
        dir,
        output: () => out,
        stop: () =>
          new Promise((done) => {
            if (child.exitCode !== null) {
              done(child.exitCode);
              return;
            }
            const kill = setTimeout(() => child.kill("SIGKILL"), 5_000);
            child.once("exit", (code) => {
              clearTimeout(kill);
              done(code);
            });
            child.kill("SIGTERM");
          }),
      });
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}) before it was ready:\n${out}`));
    });
  });
}

/** Absent tools fail the suite under CI (CI must install them) and skip loudly elsewhere. */
export function haveTool(name: string, probe: () => boolean): boolean {
  if (probe()) return true;
  if (process.env.CI === "true") throw new Error(`${name} is not installed; scripts/ensure-peers.sh should have installed it`);
  console.warn(`SKIPPING ${name} tests: ${name} is not installed (run npm test as root to install it)`);
  return false;
}
