// pasv (Node and Deno) beside vsftpd and pyftpdlib (both from apt) in one run: RETR and STOR of a
// large file over loopback, and server CPU seconds per GiB. Figures are printed as ratios to vsftpd;
// nothing is asserted (machines are noisy).
// Run: pnpm bench server [--size-mib N] [--rounds N]
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ensurePeers, makeFile, measureCurl, ROOT, servedTree, startPasv, startPyftpdlib, startVsftpd, waitForPort, type Server } from "./servers.js";

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
};
const sizeMiB = arg("--size-mib", 1024);
const rounds = arg("--rounds", 3);

const work = mkdtempSync(path.join(tmpdir(), "pasv-bench-"));
const cacheDir = path.join(ROOT, ".cache", "bench");
mkdirSync(cacheDir, { recursive: true });
const source = path.join(cacheDir, `data-${sizeMiB}MiB.bin`);
makeFile(source, sizeMiB * 1024 * 1024);

// vsftpd refuses a writable anonymous root; uploads go to a sub-directory owned by "ftp".
const served = servedTree(work, source);

const UPLOAD = "incoming/up.bin";
const servers: Server[] = [];
try {
  ensurePeers();
  const base = 22000 + Math.floor(Math.random() * 1000);
  servers.push(startVsftpd(work, served, base), startPasv("node", served, base + 1000), startPasv("deno", served, base + 2000), startPyftpdlib(served, base + 3000));
  for (const s of servers) waitForPort(s.port);

  const results = new Map<string, { retr: number[]; stor: number[]; cpuRetr: number[]; cpuStor: number[] }>();
  for (const s of servers) results.set(s.name, { retr: [], stor: [], cpuRetr: [], cpuStor: [] });
  const gib = sizeMiB / 1024;
  for (let r = 0; r < rounds; r++) {
    for (const s of servers) {
      const res = results.get(s.name)!;
      const retr = await measureCurl(["-o", "/dev/null", `ftp://${s.user}127.0.0.1:${s.port}/data.bin`], s);
      res.retr.push(retr.seconds);
      res.cpuRetr.push(retr.cpu / gib);
      const stor = await measureCurl(["-T", source, `ftp://${s.user}127.0.0.1:${s.port}/${UPLOAD}`], s);
      res.stor.push(stor.seconds);
      res.cpuStor.push(stor.cpu / gib);
      rmSync(path.join(served, UPLOAD), { force: true });
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const ref = results.get("vsftpd")!;
  console.log(`\n${sizeMiB} MiB over loopback, median of ${rounds} rounds (curl client)\n`);
  console.log("server        RETR MiB/s  STOR MiB/s  CPU s/GiB RETR  CPU s/GiB STOR   RETR ratio  STOR ratio  CPU ratio RETR  CPU ratio STOR");
  for (const [name, res] of results) {
    const retr = sizeMiB / median(res.retr);
    const stor = sizeMiB / median(res.stor);
    const bRetr = sizeMiB / median(ref.retr);
    const bStor = sizeMiB / median(ref.stor);
    console.log(
      `${name.padEnd(12)} ${retr.toFixed(0).padStart(10)} ${stor.toFixed(0).padStart(11)} ${median(res.cpuRetr).toFixed(2).padStart(15)} ${median(res.cpuStor).toFixed(2).padStart(15)}` +
        `   ${(retr / bRetr).toFixed(2).padStart(9)}x ${(stor / bStor).toFixed(2).padStart(10)}x ${(median(res.cpuRetr) / Math.max(0.01, median(ref.cpuRetr))).toFixed(2).padStart(14)}x ${(median(res.cpuStor) / Math.max(0.01, median(ref.cpuStor))).toFixed(2).padStart(14)}x`,
    );
  }
} finally {
  for (const s of servers) s.proc.kill("SIGTERM");
  rmSync(work, { recursive: true, force: true });
}
