// The workloads of the peer comparison (server-bench.ts), each against one server and each with a
// deadline: small RETRs and NOOPs in one session, pyftpdlib's ftpbench, many clients logging in at
// once, many idle sessions (memory per session), and memory at rest.
import { spawn } from "node:child_process";
import net, { type Socket } from "node:net";
import { FtpControl, readAll } from "../test/ftp-control.js";
import { memoryOf } from "./process-tree.js";
import { logIn, type Server } from "./servers.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Sessions of the many-session workloads spread over this many source addresses (127.0.0.2…), so
 * no address runs short of ephemeral ports. */
const SOURCE_ADDRESSES = 16;
const source = (i: number): string => `127.0.0.${2 + (i % SOURCE_ADDRESSES)}`;

/** A control connection that gives up after `ms` (a SYN lost to a full backlog is retried for minutes). */
function connectWithin(port: number, localAddress: string, ms: number): Promise<FtpControl> {
  return new Promise((resolve, reject) => {
    const socket: Socket = net.connect({ port, host: "127.0.0.1", localAddress });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("connect timed out"));
    }, ms);
    socket.once("connect", () => {
      clearTimeout(timer);
      resolve(FtpControl.over(socket));
    });
    socket.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** One session repeating EPSV + RETR of the 4 KiB `small.bin` for `seconds`: RETRs per second and
 * server CPU milliseconds per RETR. */
export async function smallRetrs(server: Server, seconds: number): Promise<{ rate: number; cpuMs: number }> {
  const c = await FtpControl.connect(server.port);
  try {
    await logIn(c, server);
    const cpu0 = server.tree.cpuSeconds();
    const start = Date.now();
    let done = 0;
    while (Date.now() - start < seconds * 1000) {
      const data = readAll(await c.epsv());
      const mark = await c.cmd("RETR small.bin");
      if (mark.code !== 150 && mark.code !== 125) throw new Error(`RETR got ${mark.code}`);
      const [bytes, final] = await Promise.all([data, c.reply()]);
      if (final.code !== 226 || bytes.length !== 4096) throw new Error(`RETR: ${final.code}, ${bytes.length} bytes`);
      done++;
    }
    const elapsed = (Date.now() - start) / 1000;
    return { rate: done / elapsed, cpuMs: ((server.tree.cpuSeconds() - cpu0) * 1000) / done };
  } finally {
    await c.cmd("QUIT").catch(() => undefined);
    c.close();
  }
}

/** One session sending NOOP after NOOP (each waits for its reply) for `seconds`: NOOPs per second
 * and server CPU microseconds per NOOP. */
export async function noops(server: Server, seconds: number): Promise<{ rate: number; cpuUs: number }> {
  const c = await FtpControl.connect(server.port);
  try {
    await logIn(c, server);
    const cpu0 = server.tree.cpuSeconds();
    const start = Date.now();
    let done = 0;
    while (Date.now() - start < seconds * 1000) {
      // 100 between clock reads, so reading the clock costs the client little.
      for (let i = 0; i < 100; i++) if ((await c.cmd("NOOP")).code !== 200) throw new Error("NOOP refused");
      done += 100;
    }
    const elapsed = (Date.now() - start) / 1000;
    return { rate: done / elapsed, cpuUs: ((server.tree.cpuSeconds() - cpu0) * 1e6) / done };
  } finally {
    await c.cmd("QUIT").catch(() => undefined);
    c.close();
  }
}

/** How ftpbench is run: its own code, with two changes for every server alike. One CWD into
 * `incoming/` after each login, because vsftpd refuses a writable anonymous root and ftpbench
 * uploads to where it logs in. And where ftplib meets a reply it did not expect, it raises the
 * error ftpbench already forgives after the RETR it cuts short (pure-ftpd answers that cut with a
 * 150 line rather than a 4xx); anywhere else ftpbench stops on either. */
const FTPBENCH_SHIM = `
import ftplib, importlib.machinery, importlib.util, sys
ftplib.error_reply = ftplib.error_temp
path = sys.argv[1]
sys.argv = [path] + sys.argv[2:]
loader = importlib.machinery.SourceFileLoader("ftpbench", path)
mod = importlib.util.module_from_spec(importlib.util.spec_from_loader("ftpbench", loader))
loader.exec_module(mod)
login = mod.connect
def connect():
    ftp = login()
    ftp.cwd("incoming")
    return ftp
mod.connect = connect
mod.main()
`;

export interface FtpbenchResult {
  /** Its output lines as printed. */
  readonly lines: readonly string[];
  /** Each measured line: label, value and unit ("MB/sec" or "secs"). */
  readonly values: readonly { readonly label: string; readonly value: number; readonly unit: string }[];
  readonly cpu: number;
}

/** pyftpdlib's ftpbench (`-b all -n clients`) against `server`, killed after `deadlineMs`. */
export async function ftpbench(server: Server, script: string, clients: number, deadlineMs: number): Promise<FtpbenchResult> {
  const args = ["-W", "ignore", "-c", FTPBENCH_SHIM, script, "-u", server.login.user, "-p", server.login.password, "-H", "127.0.0.1", "-P", String(server.port), "-b", "all", "-n", String(clients), "-t", "60", "-k", String(server.proc.pid)];
  const cpu0 = server.tree.cpuSeconds();
  const child = spawn("/usr/bin/python3", args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr.on("data", (b: Buffer) => (err += b.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), deadlineMs);
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  clearTimeout(timer);
  await sleep(200);
  const cpu = server.tree.cpuSeconds() - cpu0;
  const lines = out.split("\n").filter((l) => l.trim() !== "");
  if (code !== 0) throw new Error(`ftpbench exited ${String(code)}${code === null ? ` (killed after ${deadlineMs / 1000} s)` : ""}: ${err.trim().split("\n").slice(-1)[0] ?? ""}\n${lines.join("\n")}`);
  const values = lines.flatMap((l) => {
    const m = /^(.*?)\s+([\d.]+)\s+(MB\/sec|secs)\b/.exec(l);
    return m === null ? [] : [{ label: m[1]!.trim(), value: Number(m[2]), unit: m[3]! }];
  });
  return { lines, values, cpu };
}

/** `count` clients at once, each connecting, logging in and quitting (each given `perClientMs`):
 * wall seconds until all are done, how many failed, and server CPU milliseconds per session that
 * got through. */
export async function clientsAtOnce(server: Server, count: number, perClientMs: number): Promise<{ wall: number; failures: number; cpuMs: number; why: Map<string, number> }> {
  const cpu0 = server.tree.cpuSeconds();
  const start = process.hrtime.bigint();
  const why = new Map<string, number>();
  const one = async (i: number): Promise<boolean> => {
    let c: FtpControl | null = null;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`no QUIT reply within ${perClientMs / 1000} s`), perClientMs)));
    const run = (async (): Promise<string> => {
      c = await connectWithin(server.port, source(i), perClientMs);
      await logIn(c, server, perClientMs);
      const quit = await c.cmd("QUIT");
      return quit.code === 221 ? "" : `QUIT got ${quit.code}`;
    })().catch((e: unknown) => (e as Error).message);
    try {
      const failure = await Promise.race([run, deadline]);
      if (failure !== "") why.set(failure, (why.get(failure) ?? 0) + 1);
      return failure === "";
    } finally {
      clearTimeout(timer);
      (c as FtpControl | null)?.close();
    }
  };
  const results = await Promise.all(Array.from({ length: count }, (_, i) => one(i)));
  const wall = Number(process.hrtime.bigint() - start) / 1e9;
  // Forked session processes finish exiting.
  await sleep(300);
  const done = results.filter((ok) => ok).length;
  // Per session served: a connection lost in a full accept queue never reached the server.
  return { wall, failures: count - done, cpuMs: done === 0 ? NaN : ((server.tree.cpuSeconds() - cpu0) * 1000) / done, why };
}

/** `count` logged-in sessions held idle (opened `inFlight` at a time, until `deadlineMs`): how many
 * were held, and the server's PSS and RSS growth per held session (summed over all its processes). */
export async function idleSessions(server: Server, count: number, inFlight: number, deadlineMs: number): Promise<{ held: number; seconds: number; pssPerSession: number; rssPerSession: number; processes: number; why: Map<string, number> }> {
  const why = new Map<string, number>();
  const before = memoryOf(server.tree.pids());
  const opened: FtpControl[] = [];
  const start = Date.now();
  let next = 0;
  let held = 0;
  let failed = 0;
  const worker = async (): Promise<void> => {
    while (next < count && Date.now() - start < deadlineMs && failed < 100) {
      const i = next++;
      try {
        const c = await connectWithin(server.port, source(i), 60_000);
        opened.push(c);
        await logIn(c, server, 60_000);
        held++;
      } catch (e) {
        failed++;
        const message = (e as Error).message;
        why.set(message, (why.get(message) ?? 0) + 1);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: inFlight }, worker));
    const seconds = (Date.now() - start) / 1000;
    await sleep(2_000);
    const alive = opened.filter((c) => !c.closed).length;
    const during = memoryOf(server.tree.pids());
    return {
      held: Math.min(held, alive),
      seconds,
      pssPerSession: alive === 0 ? NaN : (during.pss - before.pss) / alive,
      rssPerSession: alive === 0 ? NaN : (during.rss - before.rss) / alive,
      processes: during.processes,
      why,
    };
  } finally {
    for (const c of opened) c.close();
    // A forking server's sessions exit one by one; wait (bounded) until they are gone.
    const until = Date.now() + 30_000;
    while (Date.now() < until && server.tree.pids().length > before.processes) await sleep(200);
  }
}

/** The server's memory now: RSS and PSS summed over its processes. */
export function memoryNow(server: Server): { rss: number; pss: number; processes: number } {
  return memoryOf(server.tree.pids());
}
