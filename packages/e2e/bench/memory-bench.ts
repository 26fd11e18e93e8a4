// Server memory under many downloads: pasv (Node and Deno) beside vsftpd (from apt), each started
// fresh. (a) DOWNLOADS concurrent RETRs of a 64 KiB file, every session logged in with its data
// connection open before the RETRs go out together; (b) STALLED RETRs of a large file whose data
// connections are opened and never read; then the RSS left once they are all closed. Resident
// memory is sampled from /proc (VmRSS; vsftpd forks per session, so its whole process tree is summed,
// which counts pages the processes share once per process). Figures are printed, never asserted.
// Run: pnpm bench memory [--downloads N] [--stalled N]
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { FtpControl, openData } from "../test/ftp-control.js";
import { statusBytes, treeRss } from "../test/proc-memory.js";
import { denoBinary } from "../test/server.js";

const ROOT = path.resolve(import.meta.dirname, "../../..");
const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
};
const MiB = 1024 * 1024;
/** Concurrent small downloads in (a). */
const DOWNLOADS = arg("--downloads", 1000);
/** Stalled large downloads in (b). */
const STALLED = arg("--stalled", 50);
const SMALL_BYTES = 64 * 1024;
const LARGE_BYTES = 64 * MiB;
/** Source addresses the sessions spread over (127.0.0.2…), so no per-address limit or port range of
 * one address decides the figures. */
const SOURCE_ADDRESSES = 16;
/** Each phase gives up after this long; unfinished sessions are counted, not waited for. */
const PHASE_MS = 120_000;
/** How long a stalled phase waits for the server's memory to stop moving. */
const SETTLE_MS = 3_000;
const SAMPLE_MS = 50;

const source = (i: number): string => `127.0.0.${2 + (i % SOURCE_ADDRESSES)}`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Server { readonly name: string; readonly proc: ChildProcess; readonly port: number; readonly user: string; readonly password: string; readonly forking: boolean }

/** Samples the server's resident memory while `work` runs; the peak and the value at the end. */
async function sampled<T>(s: Server, work: () => Promise<T>): Promise<{ result: T; peak: number; last: number }> {
  const pid = s.proc.pid!;
  const rss = (): number => (s.forking ? treeRss(pid) : statusBytes(pid, "VmRSS"));
  let peak = rss();
  const poll = setInterval(() => (peak = Math.max(peak, rss())), SAMPLE_MS);
  try {
    const result = await work();
    const last = rss();
    return { result, peak: Math.max(peak, last), last };
  } finally {
    clearInterval(poll);
  }
}

async function session(s: Server, i: number, opened: FtpControl[]): Promise<FtpControl> {
  const c = await FtpControl.connect(s.port, "127.0.0.1", source(i));
  opened.push(c);
  if ((await c.greeting()).code !== 220) throw new Error("no greeting");
  // vsftpd logs an anonymous user in on USER alone (no_anon_password).
  if ((await c.cmd(`USER ${s.user}`)).code === 331 && (await c.cmd(`PASS ${s.password}`)).code !== 230) throw new Error("login refused");
  if ((await c.cmd("TYPE I")).code !== 200) throw new Error("TYPE I refused");
  return c;
}

function drain(data: Socket): Promise<number> {
  return new Promise((resolve, reject) => {
    let n = 0;
    data.on("data", (b: Buffer) => (n += b.length));
    data.on("end", () => resolve(n));
    data.on("error", reject);
  });
}

/** (a): every session ready first, then every RETR at once. Resolves how many got all bytes and a 226. */
async function smallDownloads(s: Server): Promise<{ ok: number; failed: number }> {
  const opened: FtpControl[] = [];
  const datas: Socket[] = [];
  let ok = 0;
  const deadline = sleep(PHASE_MS).then(() => "deadline" as const);
  try {
    const ready = await Promise.all(
      Array.from({ length: DOWNLOADS }, async (_, i) => {
        try {
          const c = await session(s, i, opened);
          const data = await openData(await c.pasv(), source(i));
          datas.push(data);
          return { c, data };
        } catch {
          return null;
        }
      }),
    );
    const all = Promise.all(
      ready.map(async (r) => {
        if (r === null) return;
        try {
          const got = drain(r.data);
          if ((await r.c.cmd("RETR small.bin")).code !== 150) throw new Error("no 150");
          if ((await got) !== SMALL_BYTES || (await r.c.reply()).code !== 226) throw new Error("short");
          ok++;
        } catch {
          // counted as not ok
        }
      }),
    );
    await Promise.race([all, deadline]);
  } finally {
    for (const d of datas) d.destroy();
    for (const c of opened) c.close();
  }
  return { ok, failed: DOWNLOADS - ok };
}

/** (b): STALLED RETRs of the large file, data connections never read; held until the memory settles. */
async function stalledDownloads(s: Server): Promise<{ running: number; close: () => void }> {
  const opened: FtpControl[] = [];
  const datas: Socket[] = [];
  let running = 0;
  const start = Date.now();
  for (let i = 0; i < STALLED && Date.now() - start < PHASE_MS; i++) {
    try {
      const c = await session(s, i, opened);
      const data = await openData(await c.pasv(), source(i));
      data.pause();
      datas.push(data);
      if ((await c.cmd("RETR large.bin")).code === 150) running++;
    } catch {
      // counted as not running
    }
  }
  await sleep(SETTLE_MS);
  return {
    running,
    close: () => {
      for (const d of datas) d.destroy();
      for (const c of opened) c.close();
    },
  };
}

function waitForPort(port: number): void {
  for (let i = 0; i < 100; i++) {
    if (spawnSync("bash", ["-c", `exec 3<>/dev/tcp/127.0.0.1/${port}`]).status === 0) return;
    spawnSync("sleep", ["0.1"]);
  }
  throw new Error(`nothing answers on port ${port}`);
}

const work = mkdtempSync(path.join(tmpdir(), "pasv-membench-"));
const served = path.join(work, "srv");
mkdirSync(served, { recursive: true });
writeFileSync(path.join(served, "small.bin"), Buffer.alloc(SMALL_BYTES, 0x61));
writeFileSync(path.join(served, "large.bin"), Buffer.alloc(LARGE_BYTES, 0x62));

const base = 23000 + Math.floor(Math.random() * 1000);
const caps = ["--max-sessions", String(DOWNLOADS + STALLED + 100), "--max-sessions-per-ip", String(DOWNLOADS + STALLED + 100)];
const starts: (() => Server)[] = [];
if (spawnSync("test", ["-x", "/usr/sbin/vsftpd"]).status === 0) {
  starts.push(() => {
    mkdirSync("/var/run/vsftpd/empty", { recursive: true });
    const conf = path.join(work, "vsftpd.conf");
    writeFileSync(conf, [
      "listen=YES", "listen_address=127.0.0.1", `listen_port=${base}`, "background=NO", "anonymous_enable=YES", `anon_root=${served}`,
      "no_anon_password=YES", "local_enable=NO", "max_clients=0", "max_per_ip=0", "pasv_min_port=50000", "pasv_max_port=51999",
      "seccomp_sandbox=NO", "xferlog_enable=NO", "secure_chroot_dir=/var/run/vsftpd/empty", "",
    ].join("\n"));
    return { name: "vsftpd", proc: spawn("/usr/sbin/vsftpd", [conf], { stdio: "ignore" }), port: base, user: "anonymous", password: "bench@", forking: true };
  });
} else {
  console.log("vsftpd is not installed (pnpm bench server installs it): pasv only");
}
starts.push(() => ({
  name: "pasv (node)",
  proc: spawn(process.execPath, [path.join(ROOT, "packages/cli/dist/main.js"), served, "-p", String(base + 1), "-u", "bench:bench", "--pasv-ports", "52000-53999", ...caps], { stdio: "ignore" }),
  port: base + 1, user: "bench", password: "bench", forking: false,
}));
starts.push(() => ({
  name: "pasv (deno)",
  proc: spawn(denoBinary(), ["run", "-A", "--quiet", path.join(ROOT, "packages/deno/src/main.ts"), served, "-p", String(base + 2), "-u", "bench:bench", "--pasv-ports", "54000-55999", ...caps], { stdio: "ignore" }),
  port: base + 2, user: "bench", password: "bench", forking: false,
}));

const mib = (n: number): string => (n / MiB).toFixed(0).padStart(6);
const rows: string[] = [];
try {
  for (const start of starts) {
    const s = start();
    try {
      waitForPort(s.port);
      await sleep(500);
      const idle = s.forking ? treeRss(s.proc.pid!) : statusBytes(s.proc.pid!, "VmRSS");
      const a = await sampled(s, () => smallDownloads(s));
      await sleep(1_000);
      let stalledClose: () => void = () => undefined;
      const b = await sampled(s, async () => {
        const r = await stalledDownloads(s);
        stalledClose = r.close;
        return r;
      });
      stalledClose();
      await sleep(SETTLE_MS);
      const after = s.forking ? treeRss(s.proc.pid!) : statusBytes(s.proc.pid!, "VmRSS");
      const hwm = s.forking ? "     -" : mib(statusBytes(s.proc.pid!, "VmHWM"));
      rows.push(`${s.name.padEnd(12)} ${mib(idle)} ${mib(a.peak)} ${`${a.result.ok}/${DOWNLOADS}`.padStart(10)} ${mib(b.peak)} ${`${b.result.running}/${STALLED}`.padStart(8)} ${mib(after)} ${hwm}`);
    } finally {
      s.proc.kill("SIGTERM");
      await new Promise((r) => (s.proc.exitCode === null ? s.proc.once("exit", r) : r(null)));
    }
  }
  console.log(`\nserver resident memory (MiB); (a) ${DOWNLOADS} concurrent ${SMALL_BYTES / 1024} KiB RETRs, (b) ${STALLED} stalled ${LARGE_BYTES / MiB} MiB RETRs\n`);
  console.log("server         idle  peak(a)    (a) ok  peak(b)  running  after  VmHWM");
  for (const r of rows) console.log(r);
} finally {
  rmSync(work, { recursive: true, force: true });
}
