// What the benchmarks share: the peer servers from Debian's archive (vsftpd, pyftpdlib) and pasv on
// Node and on Deno, each started on its own ports over one served directory, and the /proc
// sampling that counts a forking server over all its processes.
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, writeFileSync, writeSync } from "node:fs";
import { randomFillSync } from "node:crypto";
import path from "node:path";
import { denoBinary } from "../test/server.js";

export const ROOT = path.resolve(import.meta.dirname, "../../..");

export interface Server {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly port: number;
  /** The command name of a forking server's session processes (counted with the main PID), or null. */
  readonly comm: string | null;
  /** The login a client uses: "" for vsftpd's anonymous root, else "bench:bench@". */
  readonly user: string;
}

/** The peer servers come from Debian's archive; installed on first use (we are root on CI). */
export function ensurePeers(): void {
  const missing = [existsSync("/usr/sbin/vsftpd") ? null : "vsftpd", hasPyftpdlib() ? null : "python3-pyftpdlib"].filter((p) => p !== null);
  if (missing.length === 0) return;
  console.log(`installing ${missing.join(" ")} from apt …`);
  execFileSync("sh", ["-c", `apt-get update -qq >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${missing.join(" ")} >/dev/null 2>&1`]);
}

function hasPyftpdlib(): boolean {
  return spawnSync("/usr/bin/python3", ["-c", "import pyftpdlib"]).status === 0;
}

/** pyftpdlib as its docs show it: one user with full rights, a passive range, the default handler. */
const PYFTPDLIB_SERVER = `
import sys
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer
root, port = sys.argv[1], int(sys.argv[2])
auth = DummyAuthorizer()
auth.add_user("bench", "bench", root, perm="elradfmwMT")
FTPHandler.authorizer = auth
FTPHandler.passive_ports = range(int(sys.argv[3]), int(sys.argv[4]))
FTPServer(("127.0.0.1", port), FTPHandler).serve_forever()
`;

export function makeFile(file: string, bytes: number): void {
  if (existsSync(file) && statSync(file).size === bytes) return;
  const fd = openSync(file, "w");
  const chunk = Buffer.alloc(8 * 1024 * 1024);
  for (let done = 0; done < bytes; done += chunk.length) {
    randomFillSync(chunk);
    writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - done));
  }
  closeSync(fd);
}

/** CPU ticks (utime+stime) of every live process of a server: its main PID and, for a forking
 * server, every process with its command name (vsftpd's per-session processes are not reaped into
 * the parent's counters, so they are sampled while they live). */
export function serverTicks(pid: number, comm: string | null): Map<number, number> {
  const out = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      if (Number(entry) !== pid && name !== comm) continue;
      const fields = stat.slice(stat.lastIndexOf(") ") + 2).split(" ");
      out.set(Number(entry), Number(fields[11]) + Number(fields[12]));
    } catch {
      // gone between readdir and read
    }
  }
  return out;
}

export function waitForPort(port: number): void {
  for (let i = 0; i < 100; i++) {
    // A TCP connect is enough: not every server here lets an anonymous curl log in.
    if (spawnSync("bash", ["-c", `exec 3<>/dev/tcp/127.0.0.1/${port}`]).status === 0) return;
    spawnSync("sleep", ["0.1"]);
  }
  throw new Error(`nothing answers on port ${port}`);
}

/** Each server of a run gets a passive range of its own (2,500 ports), so none competes for ports. */
let nextRange = 0;
function passiveRange(): [number, number] {
  const from = 30_000 + (nextRange++ % 12) * 2_500;
  return [from, from + 2_499];
}

/**
 * vsftpd serving `served` to anonymous users (uploads need a sub-directory owned by "ftp"; it
 * refuses a writable anonymous root). Extra lines go into its config.
 */
export function startVsftpd(work: string, served: string, port: number, extra: readonly string[] = []): Server {
  mkdirSync("/var/run/vsftpd/empty", { recursive: true });
  const [lo, hi] = passiveRange();
  const conf = path.join(work, `vsftpd-${port}.conf`);
  writeFileSync(conf, [
    "listen=YES", "listen_address=127.0.0.1", `listen_port=${port}`, "background=NO", "anonymous_enable=YES", `anon_root=${served}`,
    "no_anon_password=YES", "write_enable=YES", "anon_upload_enable=YES", "anon_other_write_enable=YES", "local_enable=NO",
    `pasv_min_port=${lo}`, `pasv_max_port=${hi}`, "seccomp_sandbox=NO", "xferlog_enable=NO", "secure_chroot_dir=/var/run/vsftpd/empty", ...extra, "",
  ].join("\n"));
  return { name: "vsftpd", proc: spawn("/usr/sbin/vsftpd", [conf], { stdio: "ignore" }), port, comm: "vsftpd", user: "" };
}

/** pasv's command on one runtime, from `checkout` (this tree by default; another one to compare builds). */
export function startPasv(runtime: "node" | "deno", served: string, port: number, options: { readonly checkout?: string; readonly label?: string; readonly flags?: readonly string[] } = {}): Server {
  const checkout = options.checkout ?? ROOT;
  const [lo, hi] = passiveRange();
  const args = [served, "-p", String(port), "-u", "bench:bench", "-w", "--pasv-ports", `${lo}-${hi}`, ...(options.flags ?? [])];
  const proc =
    runtime === "node"
      ? spawn(process.execPath, [path.join(checkout, "packages/cli/dist/main.js"), ...args], { stdio: "ignore" })
      : spawn(denoBinary(), ["run", "-A", "--quiet", path.join(checkout, "packages/deno/src/main.ts"), ...args], { stdio: "ignore" });
  return { name: options.label ?? `pasv (${runtime})`, proc, port, comm: null, user: "bench:bench@" };
}

/** pyftpdlib as its docs show it (Debian's python3, the one apt's pyftpdlib belongs to). */
export function startPyftpdlib(served: string, port: number): Server {
  const [lo, hi] = passiveRange();
  const proc = spawn("/usr/bin/python3", ["-c", PYFTPDLIB_SERVER, served, String(port), String(lo), String(hi + 1)], { stdio: "ignore" });
  return { name: "pyftpdlib", proc, port, comm: null, user: "bench:bench@" };
}

/** Runs curl (quiet, 600 s at most, then `args`) while sampling `server`'s CPU over its whole process
 * tree; returns wall seconds and server CPU seconds. */
export async function measureCurl(args: readonly string[], server: Server): Promise<{ seconds: number; cpu: number }> {
  const pid = server.proc.pid!;
  const first = serverTicks(pid, server.comm);
  const last = new Map(first);
  const sample = (): void => {
    for (const [p, t] of serverTicks(pid, server.comm)) last.set(p, Math.max(t, last.get(p) ?? 0));
  };
  const start = process.hrtime.bigint();
  const child = spawn("curl", ["-sS", "--max-time", "600", ...args], { stdio: ["ignore", "ignore", "inherit"] });
  const poll = setInterval(sample, 20);
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  clearInterval(poll);
  await new Promise((r) => setTimeout(r, 100));
  sample();
  if (code !== 0) throw new Error(`${server.name}: curl ${args.join(" ")} failed (${String(code)})`);
  let ticks = 0;
  for (const [p, t] of last) ticks += t - (first.get(p) ?? 0);
  return { seconds, cpu: ticks / 100 };
}

/** The served tree of the transfer benches: `data.bin` (a hard link to `source`) and `incoming/`,
 * owned by "ftp" (vsftpd refuses a writable anonymous root, so uploads go there). */
export function servedTree(work: string, source: string): string {
  const served = path.join(work, "srv");
  mkdirSync(path.join(served, "incoming"), { recursive: true });
  execFileSync("ln", [source, path.join(served, "data.bin")]);
  spawnSync("chown", ["ftp", path.join(served, "incoming")]);
  spawnSync("chmod", ["777", path.join(served, "incoming")]);
  return served;
}
