// A stalled TLS handshake must not hold a session slot: clients that send AUTH TLS (or open a
// PROT P data connection) and then half a ClientHello are cut at the handshake deadline, clients
// that send AUTH TLS and then nothing get a plaintext 421 then, and with --max-sessions full of
// them a new client gets in once they are gone. Under
// PASV_E2E_SERVER=deno this runs the Deno adapter (its TLS: Deno.listenTls behind a loopback relay).
import net, { type Socket } from "node:net";
import tls, { type TLSSocket } from "node:tls";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { feedReplies, initialReplyReader, parse227, type ParsedReply } from "@pasv/core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { FtpControl, openData, readAll } from "./ftp-control.js";
import { ROOT, startServer, tempDir, type RunningServer } from "./server.js";

const fixtures = path.join(ROOT, "packages/node/test-fixtures");
const MAX_SESSIONS = 4;
const HANDSHAKE_SECONDS = 2;
/** A loaded machine (or Deno's timers) may fire late; the deadline must still be what cut them. */
const MARGIN_MS = 3_000;
/** Well under the deadline: a handshake that failed or a peer that left is released at once. */
const AT_ONCE_MS = 1_000;
const CONTENT = "the fifth client gets this\n";

let server: RunningServer;
const root = tempDir();
let clientHello: Buffer;
const open: Socket[] = [];

/** The first flight of a real TLS client, taken from a local server that only listens. */
function captureClientHello(): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const capture = net.createServer((socket) => {
      socket.once("data", (bytes: Buffer) => {
        socket.destroy();
        capture.close();
        resolve(bytes);
      });
    });
    capture.on("error", reject);
    capture.listen(0, "127.0.0.1", () => {
      const address = capture.address() as net.AddressInfo;
      const client = tls.connect({ host: "127.0.0.1", port: address.port, servername: "localhost", rejectUnauthorized: false });
      client.on("error", () => undefined);
    });
  });
}

/** A control connection, tracked so each test leaves no session behind. */
async function control(): Promise<FtpControl> {
  const c = await FtpControl.connect(server.port);
  open.push(c.socket);
  return c;
}

/**
 * A new control connection greeted with 220. A slot whose client just went away (the previous
 * test's, or a reset) is given back once the server sees the close, which may lag a moment behind
 * the client under load, so a 421 is retried for a short while (well under the deadline).
 */
async function admitted(): Promise<FtpControl> {
  const until = Date.now() + AT_ONCE_MS;
  for (;;) {
    const c = await control();
    const hello = await c.greeting();
    if (hello.code === 220) return c;
    c.close();
    if (Date.now() >= until) throw new Error(`refused with ${hello.code} ${hello.lines.join(" ")}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function anonymousLogin(c: FtpControl): Promise<void> {
  expect((await c.cmd("USER anonymous")).code).toBe(331);
  expect((await c.cmd("PASS guest@")).code).toBe(230);
}

/** A client that is logged in (or not), sent AUTH TLS, got 234 and sent half a ClientHello. */
async function stalledInAuth(login: boolean): Promise<FtpControl> {
  const c = await admitted();
  if (login) await anonymousLogin(c);
  expect((await c.cmd("AUTH TLS")).code).toBe(234);
  c.socket.write(clientHello.subarray(0, 100));
  return c;
}

/** Resolves with how long the server took to close each connection, from `since`. */
async function closedAfter(clients: readonly FtpControl[], since: number, ms: number): Promise<number[]> {
  return Promise.all(
    clients.map(async (c) => {
      expect(await c.waitClosed(ms)).toBe(true);
      return Date.now() - since;
    }),
  );
}

/** Whether a new client is greeted or refused at the cap (its first reply's code). */
async function greetingCode(): Promise<number> {
  const c = await control();
  const code = (await c.greeting()).code;
  c.close();
  return code;
}

/** A new anonymous client logs in and downloads over plaintext; the slots are really free. */
async function logInAndTransfer(): Promise<void> {
  const c = await admitted();
  await anonymousLogin(c);
  expect((await c.cmd("TYPE I")).code).toBe(200);
  const port = await c.pasv();
  const data = readAll(port);
  expect((await c.cmd("RETR file.txt")).code).toBe(150);
  expect((await data).toString()).toBe(CONTENT);
  expect((await c.reply()).code).toBe(226);
  expect((await c.cmd("QUIT")).code).toBe(221);
}

/** Control replies over a protected control connection (FtpControl reads the plaintext socket only). */
class SecureControl {
  private reader = initialReplyReader;
  private readonly replies: ParsedReply[] = [];
  private wake: (() => void) | null = null;

  private constructor(readonly socket: TLSSocket) {
    socket.on("data", (chunk: Buffer) => {
      const fed = feedReplies(this.reader, chunk);
      this.reader = fed.reader;
      this.replies.push(...fed.replies);
      this.wake?.();
    });
    socket.on("close", () => this.wake?.());
    socket.on("error", () => undefined);
  }

  /** AUTH TLS on a fresh control connection, then a real handshake over it. */
  static async start(): Promise<SecureControl> {
    const c = await admitted();
    expect((await c.cmd("AUTH TLS")).code).toBe(234);
    c.socket.removeAllListeners("data");
    const secure = tls.connect({ socket: c.socket, servername: "localhost", rejectUnauthorized: false });
    open.push(secure);
    await new Promise<void>((resolve, reject) => {
      secure.once("secureConnect", resolve);
      secure.once("error", reject);
    });
    return new SecureControl(secure);
  }

  async reply(ms: number): Promise<ParsedReply> {
    const until = Date.now() + ms;
    while (this.replies.length === 0) {
      if (this.socket.destroyed) throw new Error("control connection closed");
      const left = until - Date.now();
      if (left <= 0) throw new Error(`no reply within ${ms} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    return this.replies.shift()!;
  }

  async cmd(line: string, ms = 10_000): Promise<ParsedReply> {
    this.socket.write(`${line}\r\n`);
    return this.reply(ms);
  }
}

beforeAll(async () => {
  clientHello = await captureClientHello();
  // A record header and the start of a handshake message: a prefix the server must wait on.
  expect(clientHello[0]).toBe(0x16);
  expect(clientHello.length).toBeGreaterThan(100);
  writeFileSync(path.join(root.dir, "file.txt"), CONTENT);
  server = await startServer(
    root.dir,
    ["--max-sessions", String(MAX_SESSIONS), "--tls-cert", path.join(fixtures, "cert.pem"), "--tls-key", path.join(fixtures, "key.pem"), "--tls-handshake-timeout", String(HANDSHAKE_SECONDS)],
    // On Deno: the adapter's own TLS; PASV_E2E_DENO_FTPS=node-cli: the Node command on Deno's node:tls.
    process.env.PASV_E2E_SERVER === "deno" && process.env.PASV_E2E_DENO_FTPS !== "node-cli" ? {} : { entry: "node-cli" },
  );
});

afterEach(() => {
  for (const socket of open.splice(0)) socket.destroy();
});

afterAll(async () => {
  await server.stop();
  root.remove();
});

describe("a stalled TLS handshake on the control connection", () => {
  it(`${MAX_SESSIONS} logged-in clients stalled after AUTH TLS fill --max-sessions, are cut at the deadline, and a fifth then logs in and transfers`, async () => {
    const stalled = await Promise.all(Array.from({ length: MAX_SESSIONS }, () => stalledInAuth(true)));
    const since = Date.now();
    // The slots are really taken: without this the rest would prove nothing.
    expect(await greetingCode()).toBe(421);
    const took = await closedAfter(stalled, since, HANDSHAKE_SECONDS * 1000 + MARGIN_MS);
    for (const ms of took) expect(ms).toBeGreaterThanOrEqual(HANDSHAKE_SECONDS * 1000 - 500);
    // Mid-handshake no reply can be read: the connection is cut without one.
    for (const c of stalled) await expect(c.reply(100)).rejects.toThrow("control connection closed");
    await logInAndTransfer();
  });

  it(`${MAX_SESSIONS} clients that send AUTH TLS and then nothing get a plaintext 421 at the deadline, and a fifth then logs in and transfers`, async () => {
    // RFC 4217 §10.1: a handshake that never started leaves the connection plaintext, so the client
    // is told why it is closed.
    const silent = await Promise.all(
      Array.from({ length: MAX_SESSIONS }, async (_, i) => {
        const c = await admitted();
        if (i % 2 === 0) await anonymousLogin(c);
        expect((await c.cmd("AUTH TLS")).code).toBe(234);
        return c;
      }),
    );
    const since = Date.now();
    expect(await greetingCode()).toBe(421);
    const told = await Promise.all(silent.map((c) => c.reply(HANDSHAKE_SECONDS * 1000 + MARGIN_MS)));
    const at = Date.now() - since;
    for (const reply of told) expect(`${reply.code} ${reply.lines.join(" ")}`).toBe("421 TLS handshake timed out.");
    expect(at).toBeGreaterThanOrEqual(HANDSHAKE_SECONDS * 1000 - 500);
    // Then the server closes (after the 421, not instead of it) and the slots are free.
    await closedAfter(silent, since, HANDSHAKE_SECONDS * 1000 + MARGIN_MS);
    await logInAndTransfer();
  });

  it("clients stalled in AUTH TLS before any login are cut at the deadline too", async () => {
    const stalled = await Promise.all(Array.from({ length: MAX_SESSIONS }, () => stalledInAuth(false)));
    const since = Date.now();
    expect(await greetingCode()).toBe(421);
    await closedAfter(stalled, since, HANDSHAKE_SECONDS * 1000 + MARGIN_MS);
    await logInAndTransfer();
  });

  it("a peer that closes, resets or breaks the handshake frees its slot at once, not at the deadline", async () => {
    const finned = await stalledInAuth(true);
    const reset = await stalledInAuth(true);
    const garbage = await admitted();
    await anonymousLogin(garbage);
    expect((await garbage.cmd("AUTH TLS")).code).toBe(234);
    const plainAfterAuth = await stalledInAuth(true);
    const since = Date.now();
    finned.socket.end();
    reset.socket.resetAndDestroy();
    garbage.socket.write("GET / HTTP/1.0\r\n\r\n");
    // Plaintext commands after AUTH are never run, and a second AUTH is not a second handshake.
    plainAfterAuth.socket.write("AUTH TLS\r\nQUIT\r\n");
    await closedAfter([finned, garbage], since, AT_ONCE_MS);
    // All but the stalled one are gone: three clients fit beside it, a fourth does not.
    const fresh = [await admitted(), await admitted(), await admitted()];
    expect(await greetingCode()).toBe(421);
    for (const c of fresh) c.close();
    await closedAfter([plainAfterAuth], since, HANDSHAKE_SECONDS * 1000 + MARGIN_MS);
    // Neither the plaintext AUTH nor the QUIT behind it was answered.
    await expect(plainAfterAuth.reply(100)).rejects.toThrow("control connection closed");
    await logInAndTransfer();
  });
});

describe("a stalled TLS handshake on a PROT P data connection", () => {
  it("fails the transfer with 425 at the deadline, closes the data connection, and the session goes on", async () => {
    const c = await SecureControl.start();
    expect((await c.cmd("USER anonymous")).code).toBe(331);
    expect((await c.cmd("PASS guest@")).code).toBe(230);
    expect((await c.cmd("PBSZ 0")).code).toBe(200);
    expect((await c.cmd("PROT P")).code).toBe(200);
    expect((await c.cmd("TYPE I")).code).toBe(200);
    const target = parse227((await c.cmd("PASV")).lines[0] ?? "");
    if (target === null) throw new Error("PASV gave no address");
    const data = await openData(target.port);
    open.push(data);
    const dataClosed = new Promise<void>((resolve) => data.once("close", () => resolve()));
    data.write(clientHello.subarray(0, 100));
    const since = Date.now();
    expect((await c.cmd("RETR file.txt")).code).toBe(150);
    // Before this deadline the handshake waited for the stall timeout (300 s by default).
    const failed = await c.reply(HANDSHAKE_SECONDS * 1000 + MARGIN_MS);
    expect(failed.code).toBe(425);
    expect(Date.now() - since).toBeGreaterThanOrEqual(HANDSHAKE_SECONDS * 1000 - 500);
    await dataClosed;
    expect((await c.cmd("NOOP")).code).toBe(200);
    // A well-behaved protected transfer on the same session still works.
    const again = parse227((await c.cmd("PASV")).lines[0] ?? "");
    if (again === null) throw new Error("PASV gave no address");
    const raw = await openData(again.port);
    open.push(raw);
    // It resumes the control connection's TLS session, as the server requires by default.
    const secureData = tls.connect({ socket: raw, servername: "localhost", rejectUnauthorized: false, session: c.socket.getSession() });
    open.push(secureData);
    secureData.on("error", () => undefined);
    const chunks: Buffer[] = [];
    secureData.on("data", (chunk: Buffer) => chunks.push(chunk));
    const ended = new Promise<void>((resolve) => secureData.once("end", () => resolve()));
    expect((await c.cmd("RETR file.txt")).code).toBe(150);
    await ended;
    expect(Buffer.concat(chunks).toString()).toBe(CONTENT);
    expect((await c.reply(10_000)).code).toBe(226);
  });
});
