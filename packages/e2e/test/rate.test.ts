// Bandwidth limits through the real server process (Node by default, Deno with
// PASV_E2E_SERVER=deno; the same expectations for both): --max-rate-down and --max-rate-up pace
// RETR and STOR to the rate (a raw client, and curl) and every byte still arrives; a [[user]]'s
// own limit in a config file holds for that user only, anonymous-max-rate-down for anonymous
// sessions; STAT on the control connection during a paced download reports the bytes sent so far,
// and the transfer still completes.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FtpControl, readAll } from "./ftp-control.js";
import { startServer, tempDir, type RunningServer } from "./server.js";

const MiB = 1024 * 1024;
const root = tempDir("pasv-rate-");
const big = randomBytes(10 * MiB);
const mid = randomBytes(3 * MiB);
const upload = randomBytes(5 * MiB);
const small = randomBytes(2 * MiB);
const hash = execFileSync("openssl", ["passwd", "-6", "-salt", "pasvrate", "pw"], { encoding: "utf8" }).trim();
let paced: RunningServer;
let perUser: RunningServer;

beforeAll(async () => {
  writeFileSync(path.join(root.dir, "big.bin"), big);
  writeFileSync(path.join(root.dir, "mid.bin"), mid);
  writeFileSync(path.join(root.dir, "small.bin"), small);
  const config = path.join(root.dir, "..", `${path.basename(root.dir)}.toml`);
  writeFileSync(
    config,
    [
      `root = "${root.dir}"`,
      'anonymous-max-rate-down = "512k"',
      "",
      "[[user]]",
      'name = "slow"',
      `password-hash = "${hash}"`,
      'max-rate-down = "512k"',
      "",
      "[[user]]",
      'name = "fast"',
      `password-hash = "${hash}"`,
      "",
    ].join("\n"),
  );
  [paced, perUser] = await Promise.all([startServer(root.dir, ["-u", "alice:pw", "-w", "--max-rate-down", "2M", "--max-rate-up", "2M"]), startServer(root.dir, ["--config", config], { noDir: true })]);
}, 30_000);

afterAll(async () => {
  await Promise.all([paced.stop(), perUser.stop()]);
  root.remove();
});

async function session(server: RunningServer, user: string): Promise<FtpControl> {
  const c = await FtpControl.connect(server.port);
  await c.login(user, "pw");
  expect((await c.cmd("TYPE I")).code).toBe(200);
  return c;
}

/** CPU seconds (user + system) the process has used, from /proc/PID/stat (clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${String(pid)}/stat`, "utf8");
  // Fields after the command name (which is in parentheses and may hold spaces): utime is the 14th field, stime the 15th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** RETR `name`: the bytes received and the seconds from RETR to the final reply. */
async function download(c: FtpControl, name: string): Promise<{ bytes: Buffer; seconds: number; code: number }> {
  const port = await c.pasv();
  const got = readAll(port);
  const start = performance.now();
  expect((await c.cmd(`RETR ${name}`)).code).toBe(150);
  const bytes = await got;
  const code = (await c.reply(60_000)).code;
  return { bytes, seconds: (performance.now() - start) / 1000, code };
}

describe("bandwidth limits", () => {
  it("--max-rate-down 2M makes a 10 MiB RETR take at least 4.5 s, and the file arrives byte-exact", async () => {
    const c = await session(paced, "alice");
    const cpuBefore = cpuSeconds(paced.pid);
    const { bytes, seconds, code } = await download(c, "big.bin");
    const cpu = cpuSeconds(paced.pid) - cpuBefore;
    expect(code).toBe(226);
    expect(bytes.equals(big)).toBe(true);
    expect(seconds).toBeGreaterThanOrEqual(4.5);
    // The waits are timers, not a busy loop: one would burn a core for the whole 5 s.
    expect(cpu).toBeLessThan(seconds / 2);
    c.close();
  }, 60_000);

  it("--max-rate-up 2M makes a 5 MiB STOR take at least 2 s, and the file is stored byte-exact", async () => {
    const c = await session(paced, "alice");
    const port = await c.pasv();
    const data = net.connect({ port, host: "127.0.0.1" });
    await new Promise<void>((resolve, reject) => {
      data.once("connect", resolve);
      data.once("error", reject);
    });
    const start = performance.now();
    expect((await c.cmd("STOR up.bin")).code).toBe(150);
    data.end(upload);
    expect((await c.reply(60_000)).code).toBe(226);
    const seconds = (performance.now() - start) / 1000;
    expect(seconds).toBeGreaterThanOrEqual(2);
    expect(readFileSync(path.join(root.dir, "up.bin")).equals(upload)).toBe(true);
    c.close();
  }, 60_000);

  it("curl downloads a paced file whole, at the rate", () => {
    const start = performance.now();
    const got = execFileSync("curl", ["-sS", "--max-time", "60", "-u", "alice:pw", `ftp://127.0.0.1:${String(paced.port)}/mid.bin`], { maxBuffer: 16 * MiB });
    const seconds = (performance.now() - start) / 1000;
    expect(got.equals(mid)).toBe(true);
    // 3 MiB at 2 MiB/s, less the first slice: about 1.44 s.
    expect(seconds).toBeGreaterThanOrEqual(1.3);
  }, 60_000);

  it("STAT during a paced download reports the bytes sent so far, and the transfer still completes", async () => {
    const c = await session(paced, "alice");
    const port = await c.pasv();
    const got = readAll(port);
    expect((await c.cmd("RETR mid.bin")).code).toBe(150);
    await new Promise((r) => setTimeout(r, 500));
    const stat = await c.cmd("STAT");
    expect(stat.code).toBe(211);
    const line = stat.lines.find((l) => l.includes("Transfer in progress"));
    const m = / Transfer in progress: RETR \/mid\.bin, (\d+) bytes sent$/.exec(line ?? "");
    expect(m, stat.lines.join("\n")).not.toBeNull();
    const sofar = Number(m?.[1]);
    expect(sofar).toBeGreaterThan(0);
    expect(sofar).toBeLessThan(mid.length);
    expect((await c.reply(60_000)).code).toBe(226);
    expect((await got).equals(mid)).toBe(true);
    c.close();
  }, 60_000);

  it("a [[user]]'s max-rate-down in the config file paces that user only (and anonymous-max-rate-down anonymous sessions)", async () => {
    const slow = await session(perUser, "slow");
    const fast = await session(perUser, "fast");
    const anonymous = await FtpControl.connect(perUser.port);
    await anonymous.login();
    expect((await anonymous.cmd("TYPE I")).code).toBe(200);
    const [s, f, a] = await Promise.all([download(slow, "small.bin"), download(fast, "small.bin"), download(anonymous, "small.bin")]);
    for (const r of [s, f, a]) {
      expect(r.code).toBe(226);
      expect(r.bytes.equals(small)).toBe(true);
    }
    // 2 MiB at 512 KiB/s, less the first slice: about 3.9 s.
    expect(s.seconds).toBeGreaterThanOrEqual(3.5);
    expect(a.seconds).toBeGreaterThanOrEqual(3.5);
    // Unpaced, the same file on loopback takes milliseconds; this only tells the two apart.
    expect(f.seconds).toBeLessThan(3.5);
    for (const c of [slow, fast, anonymous]) c.close();
  }, 60_000);
});
