// A full disk during an upload (Node by default, Deno with PASV_E2E_SERVER=deno; the same
// expectations for both): the client gets 452, and the upload leaves nothing behind (a file it was
// replacing stays as it was), or with --keep-partial-uploads only NAME.partial. The disk is a 1 MiB
// tmpfs mounted for the test (we are root on CI); where mounting is not allowed the test says so
// and is skipped.
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FtpControl, openData } from "./ftp-control.js";
import { startServer, tempDir, type RunningServer } from "./server.js";

const outer = tempDir("pasv-full-");
const disks = ["atomic", "partial"].map((name) => path.join(outer.dir, name));
const mounted: string[] = [];
const canMount = ((): boolean => {
  for (const disk of disks) {
    mkdirSync(disk);
    if (spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", disk]).status !== 0) return false;
    mounted.push(disk);
  }
  return true;
})();
if (!canMount) console.warn("disk-full.test.ts: cannot mount a tmpfs here (not root, or no CAP_SYS_ADMIN): skipped");
const servers: RunningServer[] = [];

beforeAll(async () => {
  if (!canMount) return;
  for (const disk of disks) writeFileSync(path.join(disk, "keep.txt"), "the old contents");
  servers.push(await startServer(disks[0]!, ["-u", "alice:pw", "-w"]));
  servers.push(await startServer(disks[1]!, ["-u", "alice:pw", "-w", "--keep-partial-uploads"]));
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  for (const disk of mounted) spawnSync("umount", [disk]);
  outer.remove();
});

/** STOR `name` with more bytes than the disk holds: the final reply code. */
async function overfill(server: RunningServer, name: string): Promise<number> {
  const c = await FtpControl.connect(server.port);
  await c.login("alice", "pw");
  await c.cmd("TYPE I");
  const port = await c.pasv();
  expect((await c.cmd(`STOR ${name}`)).code).toBe(150);
  const s = await openData(port);
  s.on("error", () => undefined);
  s.end(Buffer.alloc(3 * 1024 * 1024, 0x62));
  const code = (await c.reply(20_000)).code;
  c.close();
  return code;
}

describe.skipIf(!canMount)("a full disk during an upload", () => {
  it("gets 452 and leaves nothing, and the file it was replacing as it was", async () => {
    expect(await overfill(servers[0]!, "new.bin")).toBe(452);
    expect(await overfill(servers[0]!, "keep.txt")).toBe(452);
    expect(readdirSync(disks[0]!)).toEqual(["keep.txt"]);
    expect(readFileSync(path.join(disks[0]!, "keep.txt"), "utf8")).toBe("the old contents");
  });

  it("with --keep-partial-uploads, leaves only NAME.partial", async () => {
    expect(await overfill(servers[1]!, "keep.txt")).toBe(452);
    expect(readdirSync(disks[1]!).sort()).toEqual(["keep.txt", "keep.txt.partial"]);
    expect(readFileSync(path.join(disks[1]!, "keep.txt"), "utf8")).toBe("the old contents");
  });
});
