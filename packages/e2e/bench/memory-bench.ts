// Server memory under many downloads: pasv (Node and Deno) beside vsftpd (from apt), each started
// fresh. (a) DOWNLOADS concurrent RETRs of a 64 KiB file, every session logged in with its data
// connection open before the RETRs go out together; (b) STALLED RETRs of a large file whose data
// connections are opened and never read; then the RSS left once they are all closed. Resident
// memory is sampled from /proc (VmRSS; vsftpd forks per session, so its whole process tree is summed,
// which counts pages the processes share once per process). Figures are printed, never asserted.
// Run: pnpm bench memory [--downloads N] [--stalled N]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { FtpControl, openData } from "../test/ftp-control.js";
import { statusBytes, treeRss } from "../test/proc-memory.js";
import { ensurePeers, startPasv, startVsftpd, waitForPort, type Server } from "./servers.js";

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

/** A forking server's memory is summed over its process tree. */
const forking = (s: Server): boolean => s.forks;

/** Samples the server's resident memory while `work` runs; the peak and the value at the end. */
async function sampled<T>(s: Server, work: () => Promise<T>): Promise<{ result: T; peak: number; last: number }> {
  const pid = s.proc.pid!;
  const rss = (): number => (forking(s) ? treeRss(pid) : statusBytes(pid, "VmRSS"));
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
  // vsftpd logs an anonymous user in on USER alone (no_anon_password); pasv's user is "bench:bench@".
  if ((await c.cmd(`USER ${s.login.user}`)).code === 331 && (await c.cmd(`PASS ${s.login.password}`)).code !== 230) throw new Error("login refused");
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

const work = mkdtempSync(path.join(tmpdir(), "pasv-membench-"));
const served = path.join(work, "srv");
mkdirSync(served, { recursive: true });
writeFileSync(path.join(served, "small.bin"), Buffer.alloc(SMALL_BYTES, 0x61));
writeFileSync(path.join(served, "large.bin"), Buffer.alloc(LARGE_BYTES, 0x62));

const base = 23000 + Math.floor(Math.random() * 1000);
const caps = ["--max-sessions", String(DOWNLOADS + STALLED + 100), "--max-sessions-per-ip", String(DOWNLOADS + STALLED + 100)];
ensurePeers();
const starts: (() => Server)[] = [
  () => startVsftpd(work, served, base),
  () => startPasv("node", served, base + 1, { flags: caps }),
  () => startPasv("deno", served, base + 2, { flags: caps }),
];

const mib = (n: number): string => (n / MiB).toFixed(0).padStart(6);
const rows: string[] = [];
try {
  for (const start of starts) {
    const s = start();
    try {
      waitForPort(s.port);
      await sleep(500);
      const idle = forking(s) ? treeRss(s.proc.pid!) : statusBytes(s.proc.pid!, "VmRSS");
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
      const after = forking(s) ? treeRss(s.proc.pid!) : statusBytes(s.proc.pid!, "VmRSS");
      const hwm = forking(s) ? "     -" : mib(statusBytes(s.proc.pid!, "VmHWM"));
      rows.push(`${s.name.padEnd(12)} ${mib(idle)} ${mib(a.peak)} ${`${a.result.ok}/${DOWNLOADS}`.padStart(10)} ${mib(b.peak)} ${`${b.result.running}/${STALLED}`.padStart(8)} ${mib(after)} ${hwm}`);
    } finally {
      await s.tree.stop();
    }
  }
  console.log(`\nserver resident memory (MiB); (a) ${DOWNLOADS} concurrent ${SMALL_BYTES / 1024} KiB RETRs, (b) ${STALLED} stalled ${LARGE_BYTES / MiB} MiB RETRs\n`);
  console.log("server         idle  peak(a)    (a) ok  peak(b)  running  after  VmHWM");
  for (const r of rows) console.log(r);
} finally {
  rmSync(work, { recursive: true, force: true });
}
