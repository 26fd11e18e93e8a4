// The server's log as an operator reads it, from outside (Node by default, Deno with
// PASV_E2E_SERVER=deno; the same expectations for both): one JSON record per line off a terminal,
// with the session, the client's address and TLS on each; a transfer cut short (a ranged curl, a
// stop, a client killed mid-download or mid-upload) says how many bytes moved and why it ended;
// logins, file commands, refusals and session ends are there; no password ever is; a port in use
// is one line on stderr.
import { execFile, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FtpControl, openData, slowDownload } from "./ftp-control.js";
import { cliCommand, haveTool, logRecords, startServer, tempDir, waitForRecord, type RunningServer } from "./server.js";

const root = tempDir("pasv-logs-");
const BIG = randomBytes(64 * 1024 * 1024);
const PASSWORD = "s3cret-Pa55";
const started: RunningServer[] = [];
const hasCurl = haveTool("curl", () => spawnSync("curl", ["--version"]).status === 0);

beforeAll(() => {
  writeFileSync(path.join(root.dir, "big.bin"), BIG);
  writeFileSync(path.join(root.dir, "small.txt"), "hello\n");
});

afterAll(async () => {
  await Promise.all(started.map((s) => s.stop()));
  root.remove();
});

async function serve(flags: readonly string[] = []): Promise<RunningServer> {
  const s = await startServer(root.dir, ["-u", `alice:${PASSWORD}`, "-w", ...flags]);
  started.push(s);
  return s;
}

async function alice(port: number): Promise<FtpControl> {
  const c = await FtpControl.connect(port);
  await c.login("alice", PASSWORD);
  await c.cmd("TYPE I");
  return c;
}

async function until(what: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!what() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}

const SESSION_FIELDS = ["session", "client", "clientPort", "tls", "user"];

describe("the JSON log", () => {
  let s: RunningServer;
  beforeAll(async () => {
    s = await serve();
  });

  it("records a session from open to close: login, file commands, a refusal, a transfer with its bytes", async () => {
    const c = await alice(s.port);
    expect((await c.cmd("MKD logs-dir")).code).toBe(257);
    expect((await c.cmd("RNFR logs-dir")).code).toBe(350);
    expect((await c.cmd("RNTO logs-dir2")).code).toBe(250);
    expect((await c.cmd("RMD logs-dir2")).code).toBe(250);
    expect((await c.cmd("DELE no-such-file")).code).toBe(550);
    expect((await c.cmd("SIZE no-such-file")).code).toBe(550);
    const port = await c.pasv();
    const data = openData(port);
    expect((await c.cmd("RETR small.txt")).code).toBe(150);
    (await data).resume();
    expect((await c.reply()).code).toBe(226);
    expect((await c.cmd("QUIT")).code).toBe(221);
    await c.waitClosed();
    const close = await waitForRecord(s, { event: "session.close", user: "alice" });
    expect(close).not.toBeNull();
    const session = close?.session;
    const mine = logRecords(s).filter((r) => r.session === session);
    for (const r of mine) {
      for (const field of SESSION_FIELDS) expect(r, JSON.stringify(r)).toHaveProperty(field);
      expect(r.client).toBe("127.0.0.1");
      expect(r.tls).toBe(false);
      expect(r.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    const shape = mine.map((r) => {
      switch (r.event) {
        case "file":
          return `file ${String(r.command)} ${String(r.path)} ${String(r.code)} ${String(r.ok)}`;
        case "refused":
          return `refused ${String(r.command)} ${String(r.code)}`;
        case "transfer":
          return `transfer ${String(r.command)} ${String(r.path)} ${String(r.bytes)} ${String(r.outcome)}`;
        case "session.close":
          return `close ${String(r.reason)} out=${String(r.bytesOut)}`;
        default:
          return r.event;
      }
    });
    expect(shape).toEqual([
      "session.open",
      "login",
      "file MKD /logs-dir 257 true",
      "file RNFR /logs-dir 350 true",
      "file RNTO /logs-dir2 250 true",
      "file RMD /logs-dir2 250 true",
      "file DELE /no-such-file 550 false",
      "refused SIZE 550",
      "transfer RETR /small.txt 6 completed",
      "close quit out=6",
    ]);
    const rnto = mine.find((r) => r.event === "file" && r.command === "RNTO");
    expect(rnto?.from).toBe("/logs-dir");
    const transfer = mine.find((r) => r.event === "transfer");
    expect(transfer).toMatchObject({ level: "info", direction: "download", reason: null, code: 226, user: "alice" });
    expect(typeof transfer?.durationMs).toBe("number");
    expect(typeof transfer?.rate).toBe("number");
  });

  it("records a failed login with the name tried and never a password, and the refusal of a banned-or-full server's door", async () => {
    const c = await FtpControl.connect(s.port);
    await c.greeting();
    expect((await c.cmd("USER alice")).code).toBe(331);
    expect((await c.cmd("PASS wrong-Pa55word")).code).toBe(530);
    c.close();
    const failed = await waitForRecord(s, { event: "login.failed", attempted: "alice" });
    expect(failed).toMatchObject({ level: "warn", client: "127.0.0.1", tls: false, user: null });
    const output = s.output();
    expect(output).not.toContain("wrong-Pa55word");
    expect(output).not.toContain(PASSWORD);
  });

  it("a ranged curl download (-r 0-999) is logged aborted, with the bytes the server sent", async () => {
    if (!hasCurl) return;
    const got = await new Promise<Buffer>((resolve, reject) => {
      execFile("curl", ["-s", "-r", "0-999", "-u", `alice:${PASSWORD}`, `ftp://127.0.0.1:${s.port}/big.bin`], { encoding: "buffer", maxBuffer: 1 << 26 }, (error, stdout) => (error === null ? resolve(stdout) : reject(new Error(error.message))));
    });
    expect(got.equals(BIG.subarray(0, 1000))).toBe(true);
    // curl closes the data connection after its range, then sends ABOR: whichever the server sees
    // first ends the transfer (ABOR: aborted; the closed connection: failed, data-reset).
    const r = await waitForRecord(s, { event: "transfer", command: "RETR", path: "/big.bin" });
    expect(r?.outcome, JSON.stringify(r)).not.toBe("completed");
    expect(["abor", "data-reset"]).toContain(r?.reason);
    expect(r?.code).toBe(426);
    expect(Number(r?.bytes)).toBeGreaterThanOrEqual(1000);
    expect(Number(r?.bytes)).toBeLessThan(BIG.length);
  });

  it("a client killed mid-download is logged: the transfer with its bytes, then the session's close", async () => {
    const c = await alice(s.port);
    const dl = slowDownload(await c.pasv(), 4 * 1024 * 1024);
    expect((await c.cmd("RETR big.bin")).code).toBe(150);
    await until(() => dl.bytes() > 2 * 1024 * 1024, 10_000);
    const received = dl.bytes();
    const session = await sessionOf(s, c);
    // Killed: both connections reset, nothing more said.
    c.socket.resetAndDestroy();
    dl.socket.resetAndDestroy();
    const r = await waitForRecord(s, { event: "transfer", command: "RETR", session });
    expect(r?.outcome).not.toBe("completed");
    expect(["session-closed", "data-reset"]).toContain(r?.reason);
    expect(Number(r?.bytes)).toBeGreaterThanOrEqual(received);
    expect(await waitForRecord(s, { event: "session.close", session: r?.session })).toMatchObject({ reason: "client-closed" });
  });

  it("a client killed mid-upload is logged with the bytes received, and leaves no file", async () => {
    const c = await alice(s.port);
    const data = await openData(await c.pasv());
    data.on("error", () => undefined);
    expect((await c.cmd("STOR cut.bin")).code).toBe(150);
    const part = randomBytes(5 * 1024 * 1024);
    await new Promise<void>((resolve) => data.write(part, () => resolve()));
    // The server has it all before the kill (its record must count it).
    await until(() => false, 500);
    const session = await sessionOf(s, c);
    c.socket.resetAndDestroy();
    data.resetAndDestroy();
    const r = await waitForRecord(s, { event: "transfer", command: "STOR", path: "/cut.bin", session });
    expect(r?.outcome).not.toBe("completed");
    expect(r?.direction).toBe("upload");
    expect(Number(r?.bytes)).toBe(part.length);
    expect(await waitForRecord(s, { event: "session.close", session })).toMatchObject({ bytesIn: part.length });
    expect(existsSync(path.join(root.dir, "cut.bin"))).toBe(false);
  });
});

/** The session id of a connection, from its session.open record (matched by the client port). */
async function sessionOf(s: RunningServer, c: FtpControl): Promise<number> {
  const open = await waitForRecord(s, { event: "session.open", clientPort: c.socket.localPort });
  return Number(open?.session);
}

describe("refusals at the door", () => {
  it("a session over --max-sessions gets 421 and is logged as refused, with why", async () => {
    const s = await serve(["--max-sessions", "1"]);
    const first = await alice(s.port);
    const second = await FtpControl.connect(s.port);
    expect((await second.greeting()).code).toBe(421);
    expect(await waitForRecord(s, { event: "session.refused", reason: "max-sessions", client: "127.0.0.1" })).toMatchObject({ level: "info", tls: false, user: null });
    second.close();
    first.close();
  });
});

describe("a stop in the log", () => {
  it("a download cut by SIGTERM at the drain's end is logged with the bytes sent, then the drain and the exit", async () => {
    const s = await serve(["--drain-timeout", "1"]);
    const c = await alice(s.port);
    const dl = slowDownload(await c.pasv(), 8 * 1024 * 1024);
    expect((await c.cmd("RETR big.bin")).code).toBe(150);
    await until(() => dl.bytes() > 4 * 1024 * 1024, 10_000);
    process.kill(s.pid, "SIGTERM");
    expect((await c.reply(10_000)).code).toBe(426);
    const got = dl.bytes();
    dl.socket.destroy();
    expect(await s.exited(15_000)).toBe(0);
    const records = logRecords(s);
    const r = records.find((x) => x.event === "transfer");
    expect(r).toMatchObject({ outcome: "aborted", reason: "shutdown", code: 426 });
    expect(Number(r?.bytes)).toBeGreaterThanOrEqual(got);
    expect(Number(r?.bytes)).toBeLessThan(BIG.length);
    const events = records.map((x) => x.event);
    expect(events).toEqual(expect.arrayContaining(["server.start", "server.stop", "drain", "session.close", "server.exit"]));
    expect(records.find((x) => x.event === "server.stop")).toMatchObject({ signal: "SIGTERM", drainMs: 1000 });
    expect(records.at(-1)).toMatchObject({ event: "server.exit", code: 0 });
  }, 60_000);
});

describe("log options", () => {
  it("--log-format text writes key=value lines; --log-level warn leaves out info records", async () => {
    const text = await serve(["--log-format", "text"]);
    const c = await alice(text.port);
    c.close();
    await until(() => / info {2}login session=\d+ client=127\.0\.0\.1 clientPort=\d+ tls=false user=alice anonymous=false$/m.test(text.output()), 5_000);
    expect(text.output()).toMatch(/ info {2}login session=\d+ client=127\.0\.0\.1 clientPort=\d+ tls=false user=alice anonymous=false$/m);
    expect(text.output()).not.toContain("{");
    const quiet = await serve(["--log-level", "warn"]);
    // The server's start, stop and exit are written at every level.
    expect(logRecords(quiet).map((r) => r.event)).toEqual(["server.start"]);
    const q = await FtpControl.connect(quiet.port);
    await q.greeting();
    await q.cmd("USER alice");
    expect((await q.cmd("PASS nope")).code).toBe(530);
    q.close();
    expect(await waitForRecord(quiet, { event: "login.failed" })).not.toBeNull();
    expect(logRecords(quiet).filter((r) => r.level === "info" && r.event !== "server.start")).toEqual([]);
  });

  it("a port in use is one line on stderr and exit 2", async () => {
    const s = await serve();
    const [cmd, args] = cliCommand([root.dir, "-p", String(s.port)]);
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr.on("data", (b: Buffer) => (err += b.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(code).toBe(2);
    expect(out).toBe("");
    // Node says "EADDRINUSE: address already in use", Deno "Address already in use (os error 98)".
    expect(err.match(/already in use/gi)).toHaveLength(1);
    expect(err.split("\n")[0]).toMatch(new RegExp(`^pasv: cannot listen on 127\\.0\\.0\\.1:${String(s.port)}: .*already in use`, "i"));
  });
});
