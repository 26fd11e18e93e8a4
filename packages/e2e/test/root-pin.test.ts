// The root is resolved once, at start-up (Node by default, Deno with PASV_E2E_SERVER=deno; the
// same expectations for both). If the served directory is replaced by a symlink to / before anyone
// logs in, the server still serves the directory it started with, never the new target.
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FtpControl, readAll } from "./ftp-control.js";
import { startServer, tempDir, type RunningServer } from "./server.js";

const outer = tempDir("pasv-pin-");
const root = path.join(outer.dir, "srv");
let server: RunningServer;

beforeAll(async () => {
  mkdirSync(root);
  writeFileSync(path.join(root, "inside.txt"), "inside");
  server = await startServer(root, ["-u", "alice:pw"]);
  // Nobody has logged in yet: the swap happens before the first file operation.
  renameSync(root, path.join(outer.dir, "srv-away"));
  symlinkSync("/", root);
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

describe("the pinned root", () => {
  it("does not follow the root's name to a symlink put there after start-up", async () => {
    const c = await alice();
    expect((await c.cmd("SIZE /etc/passwd")).code).toBe(550);
    expect((await c.cmd("CWD /etc")).code).toBe(550);
    const port = await c.pasv();
    const listing = readAll(port).catch(() => Buffer.alloc(0));
    const r = await c.cmd("NLST /");
    let names = "";
    if (r.code === 150 || r.code === 125) {
      await c.reply();
      names = (await listing).toString();
    }
    expect(names).not.toMatch(/\betc\b/);
    // A real directory put back under the name is what the server serves from then on.
    rmSync(root);
    mkdirSync(root);
    writeFileSync(path.join(root, "back.txt"), "back");
    expect((await c.cmd("SIZE /back.txt")).lines[0]).toBe("4");
    expect((await c.cmd("SIZE /etc/passwd")).code).toBe(550);
    c.close();
  });
});
