// Per-user homes and rights through the real server (Node by default, Deno with
// PASV_E2E_SERVER=deno; the same expectations for both): users with different homes cannot see or
// reach each other's files by any path; upload-only can put new files and nothing else; read-only
// can read and not write; anonymous sessions never see dot files; SITE IDLE cannot pass the
// operator's --idle-timeout; LIST never shows a symlink target outside the root.
import { mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FtpControl, openData, readAll } from "./ftp-control.js";
import { startServer, tempDir, type RunningServer } from "./server.js";

const outer = tempDir("pasv-rights-");
const root = path.join(outer.dir, "srv");
let users: RunningServer;
let anon: RunningServer;
const open: FtpControl[] = [];

beforeAll(async () => {
  mkdirSync(root);
  writeFileSync(path.join(root, "pub.txt"), "public\n");
  writeFileSync(path.join(root, ".secret"), "dot file\n");
  mkdirSync(path.join(root, ".dotdir"));
  writeFileSync(path.join(root, ".dotdir", "x.txt"), "inside a dot dir\n");
  symlinkSync("/etc", path.join(root, "etc-link"));
  for (const [home, file] of [["alice", "a.txt"], ["bob", "b.txt"], ["drop", "existing.jpg"]] as const) {
    mkdirSync(path.join(root, home));
    writeFileSync(path.join(root, home, file), `${home}'s file\n`);
  }
  const flags = ["-w", "--no-anonymous", "-u", "alice:pa", "-u", "bob:pb", "-u", "cam:pc", "-u", "reader:pr"];
  const homes = ["--user-home", "alice=alice", "--user-home", `bob=${path.join(root, "bob")}`, "--user-home", "cam=drop"];
  const rights = ["--user-permissions", "cam=upload-only", "--user-permissions", "reader=read-only"];
  // The anonymous server uses only flags older than this change, so its tests show the old behaviour.
  [users, anon] = await Promise.all([startServer(root, [...flags, ...homes, ...rights]), startServer(root, ["--idle-timeout", "120"])]);
}, 60_000);

afterAll(async () => {
  for (const c of open) c.close();
  await Promise.all([users.stop(), anon.stop()]);
  outer.remove();
});

async function login(server: RunningServer, user: string, password: string): Promise<FtpControl> {
  const c = await FtpControl.connect(server.port);
  open.push(c);
  await c.login(user, password);
  await c.cmd("TYPE I");
  return c;
}

/** A listing command's text ("" when it was refused before the mark). */
async function listing(c: FtpControl, line: string): Promise<string> {
  const port = await c.pasv();
  const data = readAll(port).catch(() => Buffer.alloc(0));
  const r = await c.cmd(line);
  if (r.code !== 150 && r.code !== 125) return "";
  expect((await c.reply()).code).toBe(226);
  return (await data).toString();
}

async function retr(c: FtpControl, name: string): Promise<{ code: number; body: string }> {
  const port = await c.pasv();
  const data = readAll(port).catch(() => Buffer.alloc(0));
  const r = await c.cmd(`RETR ${name}`);
  if (r.code !== 150 && r.code !== 125) return { code: r.code, body: "" };
  return { code: (await c.reply()).code, body: (await data).toString() };
}

async function upload(c: FtpControl, verb: "STOR" | "APPE", name: string, body: string): Promise<number> {
  const port = await c.pasv();
  const data = await openData(port);
  const r = await c.cmd(`${verb} ${name}`);
  if (r.code !== 150 && r.code !== 125) {
    data.destroy();
    return r.code;
  }
  data.end(body);
  return (await c.reply()).code;
}

/** Every file under the root with its content and mtime: what "nothing on disk changed" compares. */
function disk(dir = root): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const at = path.join(dir, name);
    const st = statSync(at, { throwIfNoEntry: false });
    if (st?.isDirectory() === true && name !== "etc-link") out.push(`${name}/`, ...disk(at).map((p) => `${name}/${p}`));
    else if (st?.isFile() === true) out.push(`${name}=${readFileSync(at, "utf8")}@${st.mtimeMs}`);
  }
  return out;
}

describe("per-user homes", () => {
  it("two users with different homes cannot see or reach each other's files by any path", async () => {
    const alice = await login(users, "alice", "pa");
    const bob = await login(users, "bob", "pb");
    for (const [c, mine, theirs, home] of [[alice, "a.txt", "b.txt", "bob"], [bob, "b.txt", "a.txt", "alice"]] as const) {
      expect((await listing(c, "NLST")).split("\r\n").filter(Boolean)).toEqual([mine]);
      expect((await c.cmd("CWD /")).code).toBe(250);
      expect((await c.cmd("PWD")).lines[0]).toBe('"/" is the current directory.');
      expect((await listing(c, "NLST /")).split("\r\n").filter(Boolean)).toEqual([`/${mine}`]);
      expect((await c.cmd("CWD ..")).code).toBe(250);
      expect((await c.cmd(`SIZE ${mine}`)).lines[0]).toBe(String(`${mine === "a.txt" ? "alice" : "bob"}'s file\n`.length));
      for (const p of [`../${home}/${theirs}`, `/../${home}/${theirs}`, `/${home}/${theirs}`, `../../${home}/${theirs}`, path.join(root, home, theirs), `/pub.txt`, `../pub.txt`]) {
        expect((await c.cmd(`SIZE ${p}`)).code, p).toBe(550);
        expect((await retr(c, p)).code, p).toBe(550);
      }
      expect((await c.cmd(`CWD ../${home}`)).code).toBe(550);
      expect((await c.cmd(`CWD ${path.join(root, home)}`)).code).toBe(550);
      expect(await listing(c, `LIST ../${home}`)).not.toContain(theirs);
    }
    // "../bob" from alice's "/" is her own /bob, which does not exist: no file can be made there.
    expect(await upload(alice, "STOR", "../bob/from-alice.txt", "x")).toBe(553);
    expect((await alice.cmd("MKD ../bob")).code).toBe(257);
    expect(await upload(alice, "STOR", "../bob/from-alice.txt", "x")).toBe(226);
    expect(readdirSync(path.join(root, "bob"))).toEqual(["b.txt"]);
    expect(readFileSync(path.join(root, "alice", "bob", "from-alice.txt"), "utf8")).toBe("x");
  });
});

describe("rights", () => {
  it("upload-only can STOR a new file, and every other write or read is refused with nothing changed on disk", async () => {
    const cam = await login(users, "cam", "pc");
    expect(await upload(cam, "STOR", "shot-1.jpg", "JPEG bytes")).toBe(226);
    expect(readFileSync(path.join(root, "drop", "shot-1.jpg"), "utf8")).toBe("JPEG bytes");
    expect((await cam.cmd("MKD day2")).code).toBe(257);
    const before = disk();
    expect(await retr(cam, "existing.jpg")).toEqual({ code: 550, body: "" });
    expect(await retr(cam, "shot-1.jpg")).toEqual({ code: 550, body: "" });
    expect(await upload(cam, "STOR", "existing.jpg", "replaced")).toBe(550);
    expect(await upload(cam, "APPE", "existing.jpg", "appended")).toBe(550);
    expect((await cam.cmd("REST 3")).code).toBe(350);
    expect(await upload(cam, "STOR", "existing.jpg", "resumed")).toBe(550);
    expect((await cam.cmd("DELE existing.jpg")).code).toBe(550);
    expect((await cam.cmd("RNFR existing.jpg")).code).toBe(550);
    expect((await cam.cmd("RMD day2")).code).toBe(550);
    expect((await cam.cmd("MFMT 20200101000000 existing.jpg")).code).toBe(550);
    expect(disk()).toEqual(before);
    expect(readFileSync(path.join(root, "drop", "existing.jpg"), "utf8")).toBe("drop's file\n");
    // It may still see where it puts things.
    expect(await listing(cam, "NLST")).toContain("existing.jpg");
  });

  it("read-only can read but not write (even with -w for the others)", async () => {
    const reader = await login(users, "reader", "pr");
    expect(await retr(reader, "pub.txt")).toEqual({ code: 226, body: "public\n" });
    const before = disk();
    expect(await upload(reader, "STOR", "new.txt", "x")).toBe(550);
    expect(await upload(reader, "STOR", "pub.txt", "x")).toBe(550);
    expect(await upload(reader, "APPE", "pub.txt", "x")).toBe(550);
    for (const line of ["MKD d", "RMD alice", "DELE pub.txt", "RNFR pub.txt", "MFMT 20200101000000 pub.txt"]) expect((await reader.cmd(line)).code, line).toBe(550);
    expect(disk()).toEqual(before);
  });
});

describe("anonymous sessions and the operator's limits", () => {
  it("anonymous never sees dot files: not listed, not served, as if absent", async () => {
    const c = await login(anon, "anonymous", "a@b");
    const names = await listing(c, "NLST");
    expect(names).toContain("pub.txt");
    expect(names).not.toContain(".secret");
    expect(await listing(c, "LIST -a")).not.toContain(".dotdir");
    expect(await retr(c, ".secret")).toEqual({ code: 550, body: "" });
    expect((await c.cmd("SIZE .secret")).code).toBe(550);
    expect((await c.cmd("CWD .dotdir")).code).toBe(550);
    expect(await retr(c, "/.dotdir/x.txt")).toEqual({ code: 550, body: "" });
  });

  it("SITE IDLE cannot raise the idle limit above --idle-timeout", async () => {
    const c = await login(anon, "anonymous", "a@b");
    expect((await c.cmd("SITE IDLE")).lines[0]).toBe("Current idle time limit is 120 seconds.");
    for (const n of ["121", "600", "7200"]) expect((await c.cmd(`SITE IDLE ${n}`)).code, n).toBe(501);
    expect((await c.cmd("SITE IDLE")).lines[0]).toBe("Current idle time limit is 120 seconds.");
    expect((await c.cmd("SITE IDLE 60")).code).toBe(200);
  });

  it("LIST shows a symlink that leads outside the root without its host path", async () => {
    const c = await login(anon, "anonymous", "a@b");
    for (const line of ["LIST", "MLSD"]) {
      const text = await listing(c, line);
      expect(text, line).toMatch(/etc-link\r\n/);
      expect(text, line).not.toContain("/etc");
    }
    const stat = await c.cmd("STAT /");
    expect(stat.lines.join("\n")).toContain("etc-link");
    expect(stat.lines.join("\n")).not.toContain("/etc");
  });
});
