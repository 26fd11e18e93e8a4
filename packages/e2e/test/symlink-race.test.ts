// The symlink swap race, end to end (Node by default, Deno with PASV_E2E_SERVER=deno; the same
// expectations for both). A local process swaps a directory and a file inside the root with
// symlinks that lead out of it (renameat2 RENAME_EXCHANGE, through Python's ctypes), as fast as it
// can, while FTP sessions read, store, append and make directories through those names. A server
// that checks a path and then opens it by name again loses this race within a few hundred tries;
// one that checks what it actually opened never does.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FtpControl, openData, readAll } from "./ftp-control.js";
import { startServer, tempDir, type RunningServer } from "./server.js";

/** Operations tried, spread over the sessions; a few hundred suffice to lose the race by name. */
const TRIES = Number(process.env.PASV_RACE_TRIES ?? 10_000);
const SESSIONS = 8;
/** The swapper stops by itself after this long, even if the test runner dies. */
const SWAPPER_MAX_S = 300;

const SWAPPER = `
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, RENAME_EXCHANGE = -100, 2
pairs = [(sys.argv[1].encode(), sys.argv[2].encode()), (sys.argv[3].encode(), sys.argv[4].encode())]
until = time.monotonic() + float(sys.argv[5])
print("swapping", flush=True)
while time.monotonic() < until:
    for a, b in pairs:
        if libc.renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) != 0:
            sys.exit("renameat2: " + os.strerror(ctypes.get_errno()))
`;

const outer = tempDir("pasv-race-");
const root = path.join(outer.dir, "root");
const outsideDir = path.join(outer.dir, "outside");
const outsideFile = path.join(outer.dir, "outside-file");
const INSIDE_SECRET = "inside secret";
const OUTSIDE_SECRET = "OUTSIDE SECRET";
const INSIDE_FILE = "inside file";
const OUTSIDE_FILE = "OUTSIDE FILE";
let server: RunningServer;
let swapper: ChildProcess;

beforeAll(async () => {
  mkdirSync(path.join(root, "d"), { recursive: true });
  mkdirSync(outsideDir);
  writeFileSync(path.join(root, "d", "secret.txt"), INSIDE_SECRET);
  writeFileSync(path.join(outsideDir, "secret.txt"), OUTSIDE_SECRET);
  writeFileSync(path.join(root, "f"), INSIDE_FILE);
  writeFileSync(outsideFile, OUTSIDE_FILE);
  symlinkSync(outsideDir, path.join(root, "dl"));
  symlinkSync(outsideFile, path.join(root, "fl"));
  server = await startServer(root, ["-u", "alice:pw", "-w"]);
  swapper = spawn("python3", ["-c", SWAPPER, path.join(root, "d"), path.join(root, "dl"), path.join(root, "f"), path.join(root, "fl"), String(SWAPPER_MAX_S)], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    swapper.stdout?.once("data", () => resolve());
    swapper.once("exit", (code) => reject(new Error(`the swapper exited (${String(code)})`)));
  });
});

afterAll(async () => {
  swapper.kill("SIGKILL");
  await server.stop();
  outer.remove();
});

interface Tally {
  leaks: string[];
  served: number;
  refused: number;
}

/** RETR `name`: what arrived, or null when the server refused. */
async function retr(c: FtpControl, name: string): Promise<string | null> {
  const port = await c.pasv();
  const data = readAll(port).catch(() => Buffer.alloc(0));
  const r = await c.cmd(`RETR ${name}`);
  if (r.code !== 150 && r.code !== 125) {
    // Refused before the mark: the passive connection is never used; do not wait for it.
    void data;
    return null;
  }
  const final = await c.reply();
  const got = (await data).toString();
  return final.code === 226 ? got : null;
}

/** STOR or APPE `name`; refused or not, nothing may land outside the root. */
async function upload(c: FtpControl, verb: "STOR" | "APPE", name: string): Promise<boolean> {
  const port = await c.pasv();
  const r = await c.cmd(`${verb} ${name}`);
  if (r.code !== 150 && r.code !== 125) return false;
  const s = await openData(port);
  s.end("x");
  return (await c.reply()).code === 226;
}

async function session(next: () => number | null, tally: Tally): Promise<void> {
  const c = await FtpControl.connect(server.port);
  await c.login("alice", "pw");
  await c.cmd("TYPE I");
  for (let i = next(); i !== null; i = next()) {
    let ok: boolean;
    switch (i % 5) {
      case 0:
      case 1: {
        const got = await retr(c, i % 5 === 0 ? "d/secret.txt" : "f");
        if (got !== null && got.includes("OUTSIDE")) tally.leaks.push(`try ${i}: ${got}`);
        ok = got !== null;
        break;
      }
      case 2:
        ok = await upload(c, "STOR", `d/up-${i}.txt`);
        break;
      case 3:
        ok = await upload(c, "APPE", "d/secret.txt");
        break;
      default:
        ok = (await c.cmd(`MKD d/m-${i}`)).code === 257;
        break;
    }
    if (ok) tally.served++;
    else tally.refused++;
  }
  await c.cmd("QUIT").catch(() => undefined);
  c.close();
}

describe("the symlink swap race", () => {
  it(`leaks nothing and writes nothing outside the root in ${TRIES} tries`, async () => {
    let n = 0;
    const next = (): number | null => (n < TRIES ? n++ : null);
    const tally: Tally = { leaks: [], served: 0, refused: 0 };
    await Promise.all(Array.from({ length: SESSIONS }, () => session(next, tally)));
    const strays = readdirSync(outsideDir).length - 1;
    console.log(`symlink race: ${TRIES} tries, ${tally.served} served, ${tally.refused} refused, ${tally.leaks.length} leaks, ${strays} entries created outside`);
    expect(swapper.exitCode, "the swapper kept swapping").toBe(null);
    expect(tally.leaks.slice(0, 5)).toEqual([]);
    expect(readdirSync(outsideDir)).toEqual(["secret.txt"]);
    expect(readFileSync(path.join(outsideDir, "secret.txt"), "utf8")).toBe(OUTSIDE_SECRET);
    expect(readFileSync(outsideFile, "utf8")).toBe(OUTSIDE_FILE);
    expect(readdirSync(outer.dir).sort()).toEqual(["outside", "outside-file", "root"]);
    // The race was real: most operations went through (the names are inside the root half the time).
    expect(tally.served).toBeGreaterThan(TRIES / 10);
  }, 600_000);
});
