// A graceful stop from outside (Node by default, Deno with PASV_E2E_SERVER=deno; the same
// expectations for both): SIGTERM stops new connections at once, ends idle sessions with 421, lets
// a running download finish byte for byte within --drain-timeout, and exits 0; a download still
// running at the drain's end gets 426; a second signal stops at once with a non-zero exit.
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canConnect, FtpControl, slowDownload } from "./ftp-control.js";
import { startServer, tempDir, type RunningServer } from "./server.js";

const root = tempDir("pasv-drain-");
const BIG = randomBytes(100 * 1024 * 1024);
const started: RunningServer[] = [];

beforeAll(() => {
  writeFileSync(path.join(root.dir, "big.bin"), BIG);
});

afterAll(async () => {
  await Promise.all(started.map((s) => s.stop()));
  root.remove();
});

async function serve(flags: readonly string[]): Promise<RunningServer> {
  const s = await startServer(root.dir, ["-u", "alice:pw", ...flags]);
  started.push(s);
  return s;
}

async function alice(port: number): Promise<FtpControl> {
  const c = await FtpControl.connect(port);
  await c.login("alice", "pw");
  await c.cmd("TYPE I");
  return c;
}

async function until(what: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!what() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}

describe("SIGTERM drains", () => {
  it("lets a running download finish byte for byte, ends idle sessions with 421, refuses newcomers, and exits 0", async () => {
    const s = await serve(["--drain-timeout", "30"]);
    const idle = await alice(s.port);
    const c = await alice(s.port);
    const dl = slowDownload(await c.pasv(), 40 * 1024 * 1024);
    expect((await c.cmd("RETR big.bin")).code).toBe(150);
    await until(() => dl.bytes() > 4 * 1024 * 1024, 10_000);
    process.kill(s.pid, "SIGTERM");
    expect((await idle.reply(3_000)).code).toBe(421);
    expect(await idle.waitClosed(3_000)).toBe(true);
    // The listener is gone at once: a newcomer is refused by the kernel.
    await until(() => false, 300);
    expect(await canConnect(s.port)).toBe(false);
    expect(dl.bytes()).toBeLessThan(BIG.length);
    const got = await dl.received;
    expect(got.length).toBe(BIG.length);
    expect(got.equals(BIG)).toBe(true);
    expect((await c.reply(10_000)).code).toBe(226);
    expect((await c.reply(5_000)).code).toBe(421);
    expect(await s.exited(10_000)).toBe(0);
  }, 60_000);

  it("ends a download still running when --drain-timeout is up with 426, then exits 0", async () => {
    const s = await serve(["--drain-timeout", "1"]);
    const c = await alice(s.port);
    const dl = slowDownload(await c.pasv(), 2 * 1024 * 1024);
    expect((await c.cmd("RETR big.bin")).code).toBe(150);
    await until(() => dl.bytes() > 0, 10_000);
    const stopped = Date.now();
    process.kill(s.pid, "SIGTERM");
    expect((await c.reply(10_000)).code).toBe(426);
    expect(Date.now() - stopped).toBeGreaterThanOrEqual(900);
    expect((await c.reply(5_000)).code).toBe(421);
    dl.socket.destroy();
    expect(await s.exited(15_000)).toBe(0);
  }, 60_000);

  it("stops at once on a second signal, with a non-zero exit", async () => {
    const s = await serve(["--drain-timeout", "60"]);
    const c = await alice(s.port);
    const dl = slowDownload(await c.pasv(), 1024 * 1024);
    expect((await c.cmd("RETR big.bin")).code).toBe(150);
    await until(() => dl.bytes() > 0, 10_000);
    process.kill(s.pid, "SIGTERM");
    await new Promise((r) => setTimeout(r, 300));
    expect(await s.exited(0)).toBe("running");
    process.kill(s.pid, "SIGINT");
    expect(await s.exited(5_000)).toBe(1);
    dl.socket.destroy();
    c.close();
  }, 60_000);
});
