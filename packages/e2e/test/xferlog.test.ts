// --xferlog through the real server (Node by default, Deno with PASV_E2E_SERVER=deno; the same
// expectations for both): one line per file transfer in xferlog(5)'s field layout, written as the
// transfer ends; after a logrotate-style rename and SIGHUP the next line goes to a new file and
// the server keeps serving.
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FtpControl, openData, readAll } from "./ftp-control.js";
import { startServer, tempDir, type RunningServer } from "./server.js";

const outer = tempDir("pasv-xferlog-");
const served = path.join(outer.dir, "srv");
const log = path.join(outer.dir, "xferlog");
let server: RunningServer;

beforeAll(async () => {
  const { mkdirSync } = await import("node:fs");
  mkdirSync(served);
  writeFileSync(path.join(served, "a file.txt"), "hello xferlog\n");
  server = await startServer(served, ["-u", "alice:pw", "-w", "--xferlog", log]);
});

afterAll(async () => {
  await server.stop();
  outer.remove();
});

/** xferlog(5): a 24-character ctime date, then 13 fields. */
const LINE = /^(\w{3} \w{3} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}) (\d+) (\S+) (\d+) (\S+) ([ab]) (_) ([oi]) ([ar]) (\S+) (ftp) (0) (\*) ([ci])$/;

async function lines(file: string, count: number): Promise<string[]> {
  const end = Date.now() + 5_000;
  for (;;) {
    let text = "";
    try {
      text = readFileSync(file, "utf8");
    } catch {
      // not there yet
    }
    const got = text.split("\n").filter((l) => l !== "");
    if (got.length >= count || Date.now() > end) return got;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("--xferlog", () => {
  it("writes one xferlog(5) line per file transfer, and follows a rotated file", async () => {
    const c = await FtpControl.connect(server.port);
    await c.login("alice", "pw");
    await c.cmd("TYPE I");
    const data = readAll(await c.pasv());
    expect((await c.cmd("RETR a file.txt")).code).toBe(150);
    expect((await c.reply()).code).toBe(226);
    expect((await data).toString()).toBe("hello xferlog\n");
    const up = await c.pasv();
    expect((await c.cmd("STOR up.bin")).code).toBe(150);
    (await openData(up)).end(Buffer.alloc(1000, 1));
    expect((await c.reply()).code).toBe(226);
    // A listing is not a file transfer: no line.
    const listing = readAll(await c.pasv());
    expect((await c.cmd("LIST")).code).toBe(150);
    expect((await c.reply()).code).toBe(226);
    await listing;
    const [retr, stor, extra] = await lines(log, 3);
    expect(extra).toBeUndefined();
    expect(retr).toMatch(LINE);
    expect(retr?.match(LINE)?.slice(3)).toEqual(["127.0.0.1", "14", "/a_file.txt", "b", "_", "o", "r", "alice", "ftp", "0", "*", "c"]);
    expect(stor?.match(LINE)?.slice(3)).toEqual(["127.0.0.1", "1000", "/up.bin", "b", "_", "i", "r", "alice", "ftp", "0", "*", "c"]);
    // logrotate: rename, then SIGHUP; the server keeps running and writes a new file.
    renameSync(log, `${log}.1`);
    process.kill(server.pid, "SIGHUP");
    await new Promise((r) => setTimeout(r, 200));
    const again = readAll(await c.pasv());
    expect((await c.cmd("RETR a file.txt")).code).toBe(150);
    expect((await c.reply()).code).toBe(226);
    await again;
    expect(await lines(log, 1)).toHaveLength(1);
    expect(await lines(`${log}.1`, 2)).toHaveLength(2);
    expect((await c.cmd("NOOP")).code).toBe(200);
    c.close();
  });
});
