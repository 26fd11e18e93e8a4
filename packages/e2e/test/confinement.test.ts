// The one confinement rule, end to end on the real server (Node by default, Deno with
// PASV_E2E_SERVER=deno; the same expectations for both): names that start with dots are names, a
// path through a directory called "...." does not climb, and a symlink inside the root that leads
// out of it is refused for reading, sizing and storing.
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FtpControl, openData, readAll } from "./ftp-control.js";
import { startServer, tempDir, type RunningServer } from "./server.js";

let server: RunningServer;
const outer = tempDir("pasv-confine-");
const root = path.join(outer.dir, "root");
// A sibling whose name starts like the root's: "/x/root2" is not under "/x/root".
const sibling = path.join(outer.dir, "root2");
const outside = path.join(outer.dir, "outside");
const INSIDE = "inside";
const OUTSIDE = "the important file outside the root";
const SIBLING = "the sibling's important file";

beforeAll(async () => {
  mkdirSync(root);
  mkdirSync(sibling);
  mkdirSync(outside);
  writeFileSync(path.join(outer.dir, "important"), OUTSIDE);
  writeFileSync(path.join(sibling, "important"), SIBLING);
  writeFileSync(path.join(root, "important"), INSIDE);
  symlinkSync(path.join(outer.dir, "important"), path.join(root, "out-link"));
  symlinkSync(path.join(sibling, "important"), path.join(root, "sib-link"));
  symlinkSync(outside, path.join(root, "out-dir"));
  symlinkSync(path.join(outside, "new.txt"), path.join(root, "dangling-out"));
  symlinkSync(path.join(root, "important"), path.join(root, "in-link"));
  server = await startServer(root, ["-u", "alice:pw", "-w"]);
});

afterAll(async () => {
  await server.stop();
  outer.remove();
});

async function alice(): Promise<FtpControl> {
  const c = await FtpControl.connect(server.port);
  await c.login("alice", "pw");
  await c.cmd("TYPE I");
  return c;
}

/** STOR `name` with `body`; the final reply code (the first one when the server refuses at once). */
async function stor(c: FtpControl, name: string, body: string): Promise<number> {
  const port = await c.pasv();
  const r = await c.cmd(`STOR ${name}`);
  if (r.code !== 150 && r.code !== 125) return r.code;
  const s = await openData(port);
  s.end(body);
  return (await c.reply()).code;
}

/** RETR `name`: the final reply code and the bytes that arrived. */
async function retr(c: FtpControl, name: string): Promise<{ code: number; data: string }> {
  const port = await c.pasv();
  const data = readAll(port).catch(() => Buffer.alloc(0));
  const r = await c.cmd(`RETR ${name}`);
  if (r.code !== 150 && r.code !== 125) {
    const got = await Promise.race([data, new Promise<Buffer>((done) => setTimeout(() => done(Buffer.alloc(0)), 200))]);
    return { code: r.code, data: got.toString() };
  }
  const final = await c.reply();
  return { code: final.code, data: (await data).toString() };
}

function untouched(): void {
  expect(readFileSync(path.join(outer.dir, "important"), "utf8")).toBe(OUTSIDE);
  expect(readFileSync(path.join(sibling, "important"), "utf8")).toBe(SIBLING);
  expect(readFileSync(path.join(root, "important"), "utf8")).toBe(INSIDE);
  expect(readdirSync(outside)).toEqual([]);
  expect(readdirSync(outer.dir).sort()).toEqual(["important", "outside", "root", "root2"]);
}

describe("confinement", () => {
  it("stores ..important as a file of that name inside the root", async () => {
    const c = await alice();
    expect(await stor(c, "..important", "dots")).toBe(226);
    expect(readFileSync(path.join(root, "..important"), "utf8")).toBe("dots");
    expect((await c.cmd("SIZE ..important")).lines[0]).toBe("4");
    expect(await retr(c, "/..important")).toEqual({ code: 226, data: "dots" });
    expect(await stor(c, "/...", "three")).toBe(226);
    expect(readFileSync(path.join(root, "..."), "utf8")).toBe("three");
    untouched();
    c.close();
  });

  it("does not climb through a directory named ....", async () => {
    const c = await alice();
    const base = path.basename(root);
    expect((await c.cmd(`SIZE /..../${base}/important`)).code).toBe(550);
    expect((await c.cmd(`SIZE /..../${path.basename(sibling)}/important`)).code).toBe(550);
    expect((await c.cmd(`SIZE ..../important`)).code).toBe(550);
    expect((await retr(c, `/..../${base}/important`)).code).toBe(550);
    // A real ".." is clamped at the root by the core: it names the file inside.
    expect((await c.cmd("SIZE /../important")).lines[0]).toBe(String(INSIDE.length));
    untouched();
    c.close();
  });

  it("refuses RETR, SIZE and STOR through a symlink that leads outside the root", async () => {
    const c = await alice();
    for (const link of ["out-link", "sib-link"]) {
      expect((await c.cmd(`SIZE ${link}`)).code, link).toBe(550);
      const got = await retr(c, link);
      expect(got.code, link).toBe(550);
      expect(got.data, link).toBe("");
      expect(await stor(c, link, "overwritten"), link).toBe(550);
    }
    // An upload replaces the name it is given (atomic uploads: a hidden file renamed over it), so a
    // dangling link that leads out is replaced by a regular file inside the root; nothing is created outside.
    expect(await stor(c, "dangling-out", "kept inside"), "dangling-out").toBe(226);
    expect(lstatSync(path.join(root, "dangling-out")).isFile()).toBe(true);
    expect(readFileSync(path.join(root, "dangling-out"), "utf8")).toBe("kept inside");
    expect(await stor(c, "out-dir/new.txt", "created outside"), "out-dir/new.txt").toBe(550);
    expect((await c.cmd("SIZE out-dir/new.txt")).code).toBe(550);
    expect(existsSync(path.join(outside, "new.txt"))).toBe(false);
    // A link that stays inside works like its target.
    expect((await c.cmd("SIZE in-link")).lines[0]).toBe(String(INSIDE.length));
    expect(await retr(c, "in-link")).toEqual({ code: 226, data: INSIDE });
    untouched();
    c.close();
  });
});
