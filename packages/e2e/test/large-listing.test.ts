// A directory of 200,000 entries listed in full with LIST, NLST and MLSD while the server's resident
// memory is sampled: listings stream page by page, so the server grows by a bounded amount, not by
// the directory (read whole it held every entry and the whole text, hundreds of MB here). The same
// bound holds for every runtime (PASV_E2E_SERVER).
import { closeSync, mkdirSync, openSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FtpControl, readAll } from "./ftp-control.js";
import { statusBytes } from "./proc-memory.js";
import { startServer, tempDir, type RunningServer } from "./server.js";

/** PASV_E2E_LISTING_ENTRIES: another size, to see the growth does not follow the directory's. */
const ENTRIES = Number(process.env.PASV_E2E_LISTING_ENTRIES ?? 200_000);
const MiB = 1024 * 1024;
/** Growth allowed while the three listings run: a sorted head of the directory, a page, and the
 * runtime's own slack (the collector lets the garbage of 600,000 formatted entries pile up a
 * while: measured +7 MiB on Node, +64 MiB on Deno); read whole, the listings grew the server by
 * 395 MiB (Node) and 206 MiB (Deno). */
const GROWTH_LIMIT_BYTES = 96 * MiB;

let server: RunningServer;
const root = tempDir("pasv-big-dir-");
const name = (i: number): string => `entry-${String(i).padStart(6, "0")}.dat`;

beforeAll(async () => {
  const big = path.join(root.dir, "big");
  mkdirSync(big);
  for (let i = 0; i < ENTRIES; i++) closeSync(openSync(path.join(big, name(i)), "w"));
  const warm = path.join(root.dir, "warm");
  mkdirSync(warm);
  for (let i = 0; i < 20_000; i++) closeSync(openSync(path.join(warm, name(i)), "w"));
  server = await startServer(root.dir, ["-u", "alice:pw"]);
}, 300_000);

afterAll(async () => {
  await server.stop();
  root.remove();
});

/** One listing command on a fresh data connection: its lines and final reply code. */
async function listing(c: FtpControl, line: string): Promise<{ lines: string[]; code: number }> {
  const received = readAll(await c.pasv());
  c.send(line);
  // A server that reads the whole directory before its mark (as pasv did) takes a while here.
  const mark = await c.reply(120_000);
  if (mark.code !== 150) return { lines: [], code: mark.code };
  const text = (await received).toString("utf8");
  const code = (await c.reply(120_000)).code;
  return { lines: text.split("\r\n").filter((l) => l !== ""), code };
}

describe(`a directory of ${ENTRIES} entries`, () => {
  it(`is listed in full by LIST, NLST and MLSD while the server grows by less than ${GROWTH_LIMIT_BYTES / MiB} MiB`, async () => {
    const c = await FtpControl.connect(server.port);
    try {
      await c.login("alice", "pw");
      // A directory past the sorted head, listed once with each command, so the baseline holds what
      // any listing warms up (the formatter, the data path, the heap's first growth).
      for (const line of ["LIST warm", "NLST warm", "MLSD warm"]) expect((await listing(c, line)).code).toBe(226);
      const before = statusBytes(server.pid, "VmRSS");
      let peak = before;
      const sampler = setInterval(() => {
        peak = Math.max(peak, statusBytes(server.pid, "VmRSS"));
      }, 20);
      const results: Record<string, { lines: string[]; code: number }> = {};
      try {
        for (const line of ["LIST big", "NLST big", "MLSD big"]) results[line] = await listing(c, line);
      } finally {
        clearInterval(sampler);
      }
      const growth = peak - before;
      console.log(`large listing ${process.env.PASV_E2E_SERVER ?? "node"}: RSS ${(before / MiB).toFixed(0)} MiB before LIST, NLST and MLSD of ${ENTRIES} entries, peak ${(peak / MiB).toFixed(0)} MiB (+${(growth / MiB).toFixed(1)} MiB)`);
      for (const [line, r] of Object.entries(results)) {
        expect(r.code, line).toBe(226);
        expect(r.lines.length, line).toBe(ENTRIES);
      }
      const names = new Set(Array.from({ length: ENTRIES }, (_, i) => name(i)));
      const nlst = results["NLST big"]?.lines ?? [];
      expect(new Set(nlst.map((l) => l.slice(l.lastIndexOf("/") + 1)))).toEqual(names);
      expect((results["LIST big"]?.lines ?? []).every((l) => /^-rw.* entry-\d{6}\.dat$/.test(l))).toBe(true);
      expect((results["MLSD big"]?.lines ?? []).every((l) => /^type=file;size=0;.* entry-\d{6}\.dat$/.test(l))).toBe(true);
      expect(growth).toBeLessThan(GROWTH_LIMIT_BYTES);
    } finally {
      c.close();
    }
  }, 600_000);
});
