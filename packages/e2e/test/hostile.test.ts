// Hostile peers against the real server: nothing escapes the root, nothing leaks, nobody stops it.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FtpControl, openData, readAll } from "./ftp-control.js";
import { startServer, tempDir, type RunningServer } from "./server.js";

let server: RunningServer;
const outer = tempDir("pasv-outer-");
const root = path.join(outer.dir, "root");
const outside = path.join(outer.dir, "outside");
const big = randomBytes(8 * 1024 * 1024);

beforeAll(async () => {
  mkdirSync(root);
  mkdirSync(outside);
  writeFileSync(path.join(outer.dir, "canary.txt"), "canary");
  writeFileSync(path.join(outside, "secret.txt"), "secret");
  writeFileSync(path.join(root, "hello.txt"), "hello");
  writeFileSync(path.join(root, "ok.txt"), "ok");
  writeFileSync(path.join(root, "big.bin"), big);
  symlinkSync(outside, path.join(root, "escape"));
  symlinkSync(path.join(outside, "secret.txt"), path.join(root, "secret-link"));
  symlinkSync(path.join(outside, "new.txt"), path.join(root, "dangling-out"));
  server = await startServer(root, ["-u", "alice:pw", "-w", "--max-sessions-per-ip", "64"]);
});

afterAll(async () => {
  await server.stop();
  outer.remove();
});

async function alice(from?: string): Promise<FtpControl> {
  const c = await FtpControl.connect(server.port, "127.0.0.1", from);
  await c.login("alice", "pw");
  await c.cmd("TYPE I");
  return c;
}

function snapshot(dir: string): string[] {
  return readdirSync(dir, { recursive: true }).map(String).sort();
}

function fdCount(): number {
  return readdirSync(`/proc/${server.pid}/fd`).length;
}

async function settleFds(baseline: number): Promise<number> {
  let n = fdCount();
  for (let i = 0; i < 100 && n > baseline; i++) {
    await new Promise((r) => setTimeout(r, 50));
    n = fdCount();
  }
  return n;
}

describe("path traversal", () => {
  it("never reads or writes outside the root, whatever the path looks like", async () => {
    const before = snapshot(outer.dir).filter((p) => !p.startsWith("root"));
    const c = await alice();
    for (const p of ["../canary.txt", "/../canary.txt", "../../../../etc/passwd", "..\\canary.txt", "%2e%2e/canary.txt", "escape/secret.txt", "/escape/secret.txt", "secret-link", `${outer.dir}/canary.txt`]) {
      const port = await c.pasv();
      const data = readAll(port).catch(() => Buffer.alloc(0));
      const r = await c.cmd(`RETR ${p}`);
      if (r.code === 150) {
        const final = await c.reply();
        expect(final.code, p).not.toBe(226);
      } else {
        expect(r.code, p).toBeGreaterThanOrEqual(500);
      }
      const got = (await Promise.race([data, new Promise<Buffer>((r) => setTimeout(() => r(Buffer.alloc(0)), 300))])).toString();
      expect(got, p).not.toContain("canary");
      expect(got, p).not.toContain("secret");
      expect(got, p).not.toContain("root:");
    }
    // Writes aimed outside land inside (the path is clamped to the root) or are refused.
    for (const p of ["../evil.txt", "/../../evil2.txt", "escape/evil3.txt", "dangling-out"]) {
      const port = await c.pasv();
      const r = await c.cmd(`STOR ${p}`);
      if (r.code === 150) {
        const s = await openData(port);
        s.end("evil");
        await c.reply();
      }
    }
    expect((await c.cmd("MKD ../outdir")).code).toBe(257);
    expect((await c.cmd("MKD escape/sub")).code).toBe(550);
    expect((await c.cmd("CWD escape")).code).toBe(550);
    expect((await c.cmd("CWD ../../..")).code).toBe(250);
    expect((await c.cmd("PWD")).lines[0]).toBe('"/" is the current directory.');
    expect((await c.cmd("RNFR hello.txt")).code).toBe(350);
    expect((await c.cmd("RNTO ../../moved.txt")).code).toBe(250);
    expect((await c.cmd("DELE escape/secret.txt")).code).toBe(550);
    expect((await c.cmd("SIZE secret-link")).code).toBe(550);
    expect((await c.cmd("STAT escape")).code).toBe(550);
    await c.pasv();
    expect((await c.cmd("LIST escape")).code).toBe(550);
    c.close();
    expect(snapshot(outer.dir).filter((p) => !p.startsWith("root"))).toEqual(before);
    expect(readFileSync(path.join(outer.dir, "canary.txt"), "utf8")).toBe("canary");
    expect(readFileSync(path.join(outside, "secret.txt"), "utf8")).toBe("secret");
    expect(existsSync(path.join(root, "evil.txt"))).toBe(true);
    expect(existsSync(path.join(root, "moved.txt"))).toBe(true);
  });
});

describe("garbage on the control connection", () => {
  it("answers a 1 MB line without newline once with 500 and keeps serving others", async () => {
    const c = await FtpControl.connect(server.port);
    await c.greeting();
    c.socket.write(Buffer.alloc(1024 * 1024, 0x41));
    expect((await c.reply()).code).toBe(500);
    const other = await alice();
    expect((await other.cmd("NOOP")).code).toBe(200);
    other.close();
    c.close();
  });

  it("survives random bytes and Telnet IAC sequences", async () => {
    for (let i = 0; i < 5; i++) {
      const c = await FtpControl.connect(server.port);
      await c.greeting();
      c.socket.write(randomBytes(64 * 1024));
      await new Promise((r) => setTimeout(r, 50));
      c.close();
    }
    const c = await alice();
    c.socket.write(Buffer.from([0xff, 0xfb, 0x01, ...Buffer.from("NOOP\r\n")]));
    expect((await c.reply()).code).toBe(200);
    c.socket.write(Buffer.from([0xff, 0xf4, 0xff, 0xf2, ...Buffer.from("ABOR\r\n")]));
    expect((await c.reply()).code).toBe(225);
    c.socket.write(Buffer.from([0xff, 0xfa, 0x18, 0x01, 0xff, 0xf0, ...Buffer.from("SYST\r\n")]));
    expect((await c.reply()).code).toBe(215);
    expect(c.error).toBeNull();
    c.close();
  });

  it("keeps serving new clients through 1,000 rapid bad logins, and bans the guessing address", async () => {
    // The guesser comes from an address of its own, so the ban it earns is only its own.
    const GUESSER = "127.0.0.3";
    let attempts = 0;
    let refusedAtDoor = 0;
    const attack = async (): Promise<void> => {
      try {
        const c = await FtpControl.connect(server.port, "127.0.0.1", GUESSER);
        const g = await c.greeting();
        if (g.code === 220) c.socket.write("USER root\r\nPASS a\r\nUSER root\r\nPASS b\r\nUSER root\r\nPASS c\r\nUSER root\r\nPASS d\r\n");
        else if (g.code === 421) refusedAtDoor++;
        attempts += 4;
        await c.waitClosed(15_000);
        c.close();
      } catch {
        attempts += 4;
      }
    };
    const running = Array.from({ length: 250 }, () => attack());
    // While the attack runs, a client from another address is served at once.
    const during = await alice("127.0.0.2");
    const port = await during.pasv();
    const data = readAll(port, "127.0.0.2");
    expect((await during.cmd("RETR ok.txt")).code).toBe(150);
    expect((await during.reply()).code).toBe(226);
    expect((await data).length).toBeGreaterThan(0);
    during.close();
    await Promise.all(running);
    expect(attempts).toBeGreaterThanOrEqual(1000);
    // The default ban (10 failures within 600 s) shut the guesser out: the connections that came
    // after it met a 421 at the greeting (the first ones, all at once, were already greeted).
    expect(refusedAtDoor).toBeGreaterThan(100);
    const again = await FtpControl.connect(server.port, "127.0.0.1", GUESSER);
    expect((await again.greeting()).code).toBe(421);
    again.close();
    const after = await alice();
    expect((await after.cmd("NOOP")).code).toBe(200);
    after.close();
  }, 60_000);
});

describe("clients that vanish", () => {
  it("leaves no descriptor behind when a client disappears mid-RETR or mid-STOR", async () => {
    const warm = await alice();
    warm.close();
    await new Promise((r) => setTimeout(r, 300));
    const base = fdCount();
    // Mid-RETR: read a little, then drop both connections without a word.
    const c1 = await alice();
    const p1 = await c1.pasv();
    const d1 = await openData(p1);
    c1.send("RETR big.bin");
    await new Promise<void>((r) => d1.once("data", () => r()));
    d1.destroy();
    c1.socket.destroy();
    // Mid-STOR: send part of a file, then vanish.
    const c2 = await alice();
    const p2 = await c2.pasv();
    const d2 = await openData(p2);
    c2.send("STOR partial.bin");
    expect((await c2.reply()).code).toBe(150);
    d2.write(randomBytes(256 * 1024));
    await new Promise((r) => setTimeout(r, 100));
    d2.destroy();
    c2.socket.destroy();
    expect(await settleFds(base)).toBeLessThanOrEqual(base);
    const c3 = await alice();
    expect((await c3.cmd("NOOP")).code).toBe(200);
    c3.close();
  });
});
