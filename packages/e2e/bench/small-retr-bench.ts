// Small downloads per second: sessions that each repeat PASV + RETR of a 4 KiB file, on pasv (Node
// and Deno) beside vsftpd, in one run; what the per-operation costs (the confinement check, the
// passive listener, the replies) add up to. With --baseline DIR, pasv built in another checkout runs
// beside this one (e.g. the commit before a change), so a change's cost is a ratio from one run.
// With --logging, each runtime runs twice: logging nothing (--log-level error) and logging every
// record as JSON with the metrics endpoint on (--log-format json --metrics), so their cost is a ratio.
// Figures are printed, never asserted.
// Run: pnpm bench small [--seconds N] [--rounds N] [--sessions N] [--baseline DIR] [--logging]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { FtpControl, readAll } from "../test/ftp-control.js";
import { ensurePeers, logIn, startPasv, startVsftpd, waitForPort, type Server } from "./servers.js";

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : process.argv[i + 1];
};
const seconds = Number(arg("--seconds") ?? 5);
const rounds = Number(arg("--rounds") ?? 3);
const sessions = Number(arg("--sessions") ?? 4);
const baseline = arg("--baseline");
const logging = process.argv.includes("--logging");
const QUIET = ["--log-level", "error"];
const OBSERVED = ["--log-format", "json", "--metrics", "127.0.0.1:0"];
const FILE_BYTES = 4096;

/** One session's loop until `until`: RETRs completed. */
async function loop(server: Server, until: number): Promise<number> {
  const c = await FtpControl.connect(server.port);
  await logIn(c, server);
  let done = 0;
  while (Date.now() < until) {
    const port = await c.pasv();
    const data = readAll(port);
    const mark = await c.cmd("RETR small.bin");
    if (mark.code !== 150 && mark.code !== 125) throw new Error(`${server.name}: RETR got ${mark.code}`);
    const [bytes, final] = await Promise.all([data, c.reply()]);
    if (final.code !== 226 || bytes.length !== FILE_BYTES) throw new Error(`${server.name}: ${final.code}, ${bytes.length} bytes`);
    done++;
  }
  await c.cmd("QUIT").catch(() => undefined);
  c.close();
  return done;
}

/** RETRs per second over all sessions, and server CPU milliseconds per RETR (its whole process tree). */
async function round(server: Server): Promise<{ rate: number; cpuMs: number }> {
  const cpu0 = server.tree.cpuSeconds();
  const start = Date.now();
  const until = start + seconds * 1000;
  const counts = await Promise.all(Array.from({ length: sessions }, () => loop(server, until)));
  const total = counts.reduce((a, b) => a + b, 0);
  return { rate: total / ((Date.now() - start) / 1000), cpuMs: ((server.tree.cpuSeconds() - cpu0) * 1000) / Math.max(1, total) };
}

const work = mkdtempSync(path.join(tmpdir(), "pasv-small-bench-"));
const served = path.join(work, "srv");
mkdirSync(served);
writeFileSync(path.join(served, "small.bin"), Buffer.alloc(FILE_BYTES, 0x61));
const servers: Server[] = [];
try {
  ensurePeers();
  const base = 23000 + Math.floor(Math.random() * 900);
  servers.push(startVsftpd(work, served, base));
  if (logging) {
    servers.push(startPasv("node", served, base + 1, { flags: QUIET, label: "node, no log" }), startPasv("node", served, base + 5, { flags: OBSERVED, label: "node, json+metrics" }));
    // Each half alone, to tell which one costs what.
    servers.push(startPasv("node", served, base + 7, { flags: ["--log-format", "json"], label: "node, json" }), startPasv("node", served, base + 8, { flags: [...QUIET, "--metrics", "127.0.0.1:0"], label: "node, metrics" }));
    servers.push(startPasv("deno", served, base + 2, { flags: QUIET, label: "deno, no log" }), startPasv("deno", served, base + 6, { flags: OBSERVED, label: "deno, json+metrics" }));
    servers.push(startPasv("deno", served, base + 9, { flags: ["--log-format", "json"], label: "deno, json" }), startPasv("deno", served, base + 10, { flags: [...QUIET, "--metrics", "127.0.0.1:0"], label: "deno, metrics" }));
  } else {
    servers.push(startPasv("node", served, base + 1), startPasv("deno", served, base + 2));
  }
  if (baseline !== undefined) {
    servers.push(startPasv("node", served, base + 3, { checkout: path.resolve(baseline), label: "baseline (node)" }));
    servers.push(startPasv("deno", served, base + 4, { checkout: path.resolve(baseline), label: "baseline (deno)" }));
  }
  for (const s of servers) waitForPort(s.port);
  const results = new Map<string, { rate: number[]; cpuMs: number[] }>(servers.map((s) => [s.name, { rate: [], cpuMs: [] }]));
  for (let r = 0; r < rounds; r++) {
    for (const s of servers) {
      const got = await round(s);
      results.get(s.name)!.rate.push(got.rate);
      results.get(s.name)!.cpuMs.push(got.cpuMs);
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const ref = results.get("vsftpd")!;
  console.log(`\n4 KiB RETRs, ${sessions} sessions for ${seconds} s, median of ${rounds} rounds (raw client, PASV per RETR)\n`);
  console.log("server                RETR/s   CPU ms/RETR   RETR/s ratio   CPU ratio   (ratios to vsftpd)");
  for (const [name, res] of results) {
    const rate = median(res.rate);
    const cpu = median(res.cpuMs);
    console.log(`${name.padEnd(20)} ${rate.toFixed(0).padStart(7)} ${cpu.toFixed(3).padStart(13)} ${(rate / median(ref.rate)).toFixed(2).padStart(13)}x ${(cpu / Math.max(0.001, median(ref.cpuMs))).toFixed(2).padStart(10)}x`);
  }
  if (logging) {
    console.log("\nthe cost of logging and metrics (json+metrics vs no log, same runtime, same run):");
    for (const runtime of ["node", "deno"]) {
      const quiet = results.get(`${runtime}, no log`)!;
      const observed = results.get(`${runtime}, json+metrics`)!;
      const cpu = median(observed.cpuMs) / Math.max(0.001, median(quiet.cpuMs));
      const rate = median(observed.rate) / median(quiet.rate);
      console.log(`${runtime}: CPU per RETR ${cpu.toFixed(3)}x (${((cpu - 1) * 100).toFixed(1)}%), RETR/s ${rate.toFixed(3)}x`);
    }
  }
} finally {
  await Promise.all(servers.map((s) => s.tree.stop()));
  rmSync(work, { recursive: true, force: true });
}
