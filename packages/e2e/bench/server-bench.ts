// pasv (Node and Deno) beside vsftpd and pyftpdlib (both from apt) in one run: RETR and STOR of a
// large file over loopback, and server CPU seconds per GiB. Figures are printed as ratios to vsftpd;
// nothing is asserted (machines are noisy).
// Run: pnpm bench server [--size-mib N] [--rounds N]
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import { randomFillSync } from "node:crypto";
import { tmpdir } from "node:os";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "../../..");
const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
};
const sizeMiB = arg("--size-mib", 1024);
const rounds = arg("--rounds", 3);

/** The peer servers come from Debian's archive; installed on first use (we are root on CI). */
function ensurePeers(): void {
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
FTPHandler.passive_ports = range(44000, 45000)
FTPServer(("127.0.0.1", port), FTPHandler).serve_forever()
`;

function makeFile(file: string, bytes: number): void {
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
function serverTicks(pid: number, comm: string | null): Map<number, number> {
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

/** Runs curl while sampling the server's CPU; returns wall seconds and server CPU seconds. */
async function measured(args: string[], pid: number, comm: string | null): Promise<{ seconds: number; cpu: number }> {
  const first = serverTicks(pid, comm);
  const last = new Map(first);
  const sample = (): void => {
    for (const [p, t] of serverTicks(pid, comm)) last.set(p, Math.max(t, last.get(p) ?? 0));
  };
  const start = process.hrtime.bigint();
  const child = spawn("curl", ["-sS", "--max-time", "600", ...args], { stdio: ["ignore", "ignore", "inherit"] });
  const poll = setInterval(sample, 20);
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  clearInterval(poll);
  await new Promise((r) => setTimeout(r, 100));
  sample();
  if (code !== 0) throw new Error(`curl ${args.join(" ")} failed`);
  let ticks = 0;
  for (const [p, t] of last) ticks += t - (first.get(p) ?? 0);
  return { seconds, cpu: ticks / 100 };
}

function waitForPort(port: number): void {
  for (let i = 0; i < 100; i++) {
    // A TCP connect is enough: not every server here lets an anonymous curl log in.
    if (spawnSync("bash", ["-c", `exec 3<>/dev/tcp/127.0.0.1/${port}`]).status === 0) return;
    spawnSync("sleep", ["0.1"]);
  }
  throw new Error(`nothing answers on port ${port}`);
}


interface Server { name: string; proc: ChildProcess; port: number; up: string }

const work = mkdtempSync(path.join(tmpdir(), "pasv-bench-"));
const cacheDir = path.join(ROOT, ".cache", "bench");
mkdirSync(cacheDir, { recursive: true });
const source = path.join(cacheDir, `data-${sizeMiB}MiB.bin`);
makeFile(source, sizeMiB * 1024 * 1024);

// vsftpd refuses a writable anonymous root; uploads go to a sub-directory owned by "ftp".
const served = path.join(work, "srv");
mkdirSync(path.join(served, "incoming"), { recursive: true });
execFileSync("ln", [source, path.join(served, "data.bin")]);
spawnSync("chown", ["ftp", path.join(served, "incoming")]);
spawnSync("chmod", ["777", path.join(served, "incoming")]);

const servers: Server[] = [];
try {
  ensurePeers();
  const vsftpd = "/usr/sbin/vsftpd";
  mkdirSync("/var/run/vsftpd/empty", { recursive: true });
  const vport = 22000 + Math.floor(Math.random() * 1000);
  const conf = path.join(work, "vsftpd.conf");
  writeFileSync(conf, [
    "listen=YES", "listen_address=127.0.0.1", `listen_port=${vport}`, "background=NO", "anonymous_enable=YES", `anon_root=${served}`,
    "no_anon_password=YES", "write_enable=YES", "anon_upload_enable=YES", "anon_other_write_enable=YES", "local_enable=NO",
    "pasv_min_port=41000", "pasv_max_port=41999", "seccomp_sandbox=NO", "xferlog_enable=NO", "secure_chroot_dir=/var/run/vsftpd/empty", "",
  ].join("\n"));
  servers.push({ name: "vsftpd", proc: spawn(vsftpd, [conf], { stdio: "ignore" }), port: vport, up: "incoming/up.bin" });
  const pport = vport + 1000;
  servers.push({
    name: "pasv (node)",
    proc: spawn(process.execPath, [path.join(ROOT, "packages/cli/dist/main.js"), served, "-p", String(pport), "-u", "bench:bench", "-w", "--pasv-ports", "42000-42999"], { stdio: "ignore" }),
    port: pport,
    up: "incoming/up.bin",
  });
  const dport = vport + 2000;
  const { denoBinary } = await import("../test/server.js");
  servers.push({
    name: "pasv (deno)",
    proc: spawn(denoBinary(), ["run", "-A", "--quiet", path.join(ROOT, "packages/deno/src/main.ts"), served, "-p", String(dport), "-u", "bench:bench", "-w", "--pasv-ports", "43000-43999"], { stdio: "ignore" }),
    port: dport,
    up: "incoming/up.bin",
  });
  const yport = vport + 3000;
  // Debian's python3 (the one apt's pyftpdlib belongs to), not whatever python3 is first on PATH.
  servers.push({ name: "pyftpdlib", proc: spawn("/usr/bin/python3", ["-c", PYFTPDLIB_SERVER, served, String(yport)], { stdio: "ignore" }), port: yport, up: "incoming/up.bin" });
  for (const s of servers) waitForPort(s.port);

  const results = new Map<string, { retr: number[]; stor: number[]; cpuRetr: number[]; cpuStor: number[] }>();
  for (const s of servers) results.set(s.name, { retr: [], stor: [], cpuRetr: [], cpuStor: [] });
  const gib = sizeMiB / 1024;
  for (let r = 0; r < rounds; r++) {
    for (const s of servers) {
      const res = results.get(s.name)!;
      const user = s.name === "vsftpd" ? "" : "bench:bench@";
      const pid = s.proc.pid!;
      const comm = s.name === "vsftpd" ? "vsftpd" : null;
      const retr = await measured(["-o", "/dev/null", `ftp://${user}127.0.0.1:${s.port}/data.bin`], pid, comm);
      res.retr.push(retr.seconds);
      res.cpuRetr.push(retr.cpu / gib);
      const stor = await measured(["-T", source, `ftp://${user}127.0.0.1:${s.port}/${s.up}`], pid, comm);
      res.stor.push(stor.seconds);
      res.cpuStor.push(stor.cpu / gib);
      rmSync(path.join(served, s.up), { force: true });
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const base = results.get("vsftpd")!;
  console.log(`\n${sizeMiB} MiB over loopback, median of ${rounds} rounds (curl client)\n`);
  console.log("server        RETR MiB/s  STOR MiB/s  CPU s/GiB RETR  CPU s/GiB STOR   RETR ratio  STOR ratio  CPU ratio RETR  CPU ratio STOR");
  for (const [name, res] of results) {
    const retr = sizeMiB / median(res.retr);
    const stor = sizeMiB / median(res.stor);
    const bRetr = sizeMiB / median(base.retr);
    const bStor = sizeMiB / median(base.stor);
    console.log(
      `${name.padEnd(12)} ${retr.toFixed(0).padStart(10)} ${stor.toFixed(0).padStart(11)} ${median(res.cpuRetr).toFixed(2).padStart(15)} ${median(res.cpuStor).toFixed(2).padStart(15)}` +
        `   ${(retr / bRetr).toFixed(2).padStart(9)}x ${(stor / bStor).toFixed(2).padStart(10)}x ${(median(res.cpuRetr) / Math.max(0.01, median(base.cpuRetr))).toFixed(2).padStart(14)}x ${(median(res.cpuStor) / Math.max(0.01, median(base.cpuStor))).toFixed(2).padStart(14)}x`,
    );
  }
} finally {
  for (const s of servers) s.proc.kill("SIGTERM");
  rmSync(work, { recursive: true, force: true });
}
