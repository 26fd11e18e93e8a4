// Implicit FTPS as users meet it: `pasv --implicit-tls-port` beside the plain port, with a
// certificate signed by an intermediate CA (so a client that trusts only the root verifies the
// connection only if the whole chain is served), real clients (curl ftps://, Python's ftplib, Node's
// TLS client) and clients that must be refused (TLS 1.1 only, plaintext on the TLS port).
import { execFileSync, spawnSync } from "node:child_process";
import { constants as cryptoConstants, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import type { Socket } from "node:net";
import path from "node:path";
import tls from "node:tls";
import { parse227 } from "@pasv/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FtpControl, openData } from "./ftp-control.js";
import { haveTool, startServer, tempDir, waitForLogLine, type RunningServer } from "./server.js";

const has = (cmd: string): boolean => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
/** Which pasv runs: the Node command, or under PASV_E2E_SERVER=deno the Deno adapter (Deno.listenTls). */
const onDeno = process.env.PASV_E2E_SERVER === "deno";
/**
 * Uploads over TLS 1.3, whose session tickets curl never reads on an upload (on Deno they used to
 * reset the connection under the last bytes, packages/deno/README.md), and over TLS 1.2, where curl
 * resumes by session ID only (on Node the reuse check needs the adapter's session-ID cache for that).
 */
const UPLOAD_TLS: readonly (readonly string[])[] = [["--tls-max", "1.2"], ["--tlsv1.3"]];

let server: RunningServer;
let implicitPort: number;
const root = tempDir();
const work = tempDir("pasv-ftps-client-");
const pki = tempDir("pasv-pki-");
const payload = randomBytes(3 * 1024 * 1024 + 7);
const at = (name: string): string => path.join(pki.dir, name);

/** Root CA -> intermediate CA -> leaf (localhost, 127.0.0.1); the served file is leaf + intermediate. */
function makeChain(): void {
  const openssl = (...args: string[]): void => void execFileSync("openssl", args, { stdio: "ignore" });
  writeFileSync(at("ca.ext"), "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n");
  writeFileSync(at("leaf.ext"), "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", at("root.key"), "-out", at("root.pem"), "-days", "30", "-subj", "/CN=pasv test root");
  openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", at("int.key"), "-out", at("int.csr"), "-subj", "/CN=pasv test intermediate");
  openssl("x509", "-req", "-in", at("int.csr"), "-CA", at("root.pem"), "-CAkey", at("root.key"), "-CAcreateserial", "-out", at("int.pem"), "-days", "30", "-extfile", at("ca.ext"));
  openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", at("leaf.key"), "-out", at("leaf.csr"), "-subj", "/CN=localhost");
  openssl("x509", "-req", "-in", at("leaf.csr"), "-CA", at("int.pem"), "-CAkey", at("int.key"), "-CAcreateserial", "-out", at("leaf.pem"), "-days", "30", "-extfile", at("leaf.ext"));
  writeFileSync(at("chain.pem"), Buffer.concat([readFileSync(at("leaf.pem")), readFileSync(at("int.pem"))]));
}

beforeAll(async () => {
  makeChain();
  writeFileSync(path.join(root.dir, "payload.bin"), payload);
  server = await startServer(root.dir, ["-u", "alice:s3cret", "-w", "--tls-cert", at("chain.pem"), "--tls-key", at("leaf.key"), "--tls-required", "--implicit-tls-port", "0", "--tls-handshake-timeout", "3"], onDeno ? {} : { entry: "node-cli" });
  const m = /ftps:\/\/[^:]+:(\d+) \(implicit TLS\)/.exec(server.output());
  if (m === null) throw new Error(`no implicit port in: ${server.output()}`);
  implicitPort = Number(m[1]);
});

afterAll(async () => {
  await server.stop();
  root.remove();
  work.remove();
  pki.remove();
});

function curl(...args: string[]): { status: number | null; stdout: Buffer; stderr: string } {
  const r = spawnSync("curl", ["-sS", "--max-time", "30", "--cacert", at("root.pem"), ...args], { maxBuffer: 16 * 1024 * 1024 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

const ftps = (p: string): string => `ftps://alice:s3cret@localhost:${String(implicitPort)}/${p}`;

/** A TLS connection to the implicit port as a control connection (greeting not yet read). */
function secureControl(options: tls.ConnectionOptions = {}): Promise<{ control: FtpControl; socket: tls.TLSSocket }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port: implicitPort, servername: "localhost", ca: readFileSync(at("root.pem")), ...options }, () => resolve({ control: FtpControl.over(socket), socket }));
    socket.once("error", reject);
  });
}

describe.runIf(haveTool("curl", () => has("curl")))("implicit FTPS with curl ftps://", () => {
  it("verifies the whole chain, lists, downloads and uploads byte for byte", () => {
    const list = curl(ftps(""));
    expect(list.stderr).toBe("");
    expect(list.stdout.toString()).toContain("payload.bin");
    const got = curl(ftps("payload.bin"));
    expect(got.stderr).toBe("");
    expect(Buffer.compare(got.stdout, payload)).toBe(0);
    const up = path.join(work.dir, "up.bin");
    writeFileSync(up, payload.subarray(0, 1_000_003));
    for (const version of UPLOAD_TLS) {
      const put = curl(...version, "-T", up, ftps("up.bin"));
      expect(put.stderr, version.join(" ")).toBe("");
      expect(put.status, version.join(" ")).toBe(0);
      expect(Buffer.compare(readFileSync(path.join(root.dir, "up.bin")), payload.subarray(0, 1_000_003)), version.join(" ")).toBe(0);
    }
  });
});

describe("implicit FTPS with Python's ftplib", () => {
  it("connects in TLS, logs in and transfers protected without AUTH", () => {
    const script = `
import ftplib, ssl, io, sys
ctx = ssl.create_default_context(cafile=${JSON.stringify(at("root.pem"))})
class Implicit(ftplib.FTP_TLS):
    def ntransfercmd(self, cmd, rest=None):
        # Resume the control connection's TLS session, as the server requires by default.
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        conn = self.context.wrap_socket(conn, server_hostname=self.host, session=self.sock.session)
        return conn, size
    def connect(self, host, port):
        self.sock = ctx.wrap_socket(__import__("socket").create_connection((host, port), 20), server_hostname="localhost")
        self.host = "localhost"
        self.af = self.sock.family
        self.file = self.sock.makefile("r", encoding=self.encoding)
        self.welcome = self.getresp()
        return self.welcome
f = Implicit(context=ctx, timeout=20)
print(f.connect("127.0.0.1", ${String(implicitPort)}), file=sys.stderr)
f.login("alice", "s3cret")
f.prot_p()
buf = io.BytesIO()
f.retrbinary("RETR payload.bin", buf.write)
sys.stdout.buffer.write(buf.getvalue()[:32])
f.quit()
`;
    const out = execFileSync("python3", ["-c", script], { timeout: 60_000 });
    expect(Buffer.compare(out, payload.subarray(0, 32))).toBe(0);
  });
});

describe("implicit FTPS refusals", () => {
  it("a TLS 1.1-only client is refused by the server (an alert), a TLS 1.2 one is served", async () => {
    // SECLEVEL=0 so this client's own OpenSSL offers TLS 1.1: the refusal must come from the server.
    const old = secureControl({ minVersion: "TLSv1", maxVersion: "TLSv1.1", ciphers: "DEFAULT@SECLEVEL=0" });
    const refused: unknown = await old.then(
      () => null,
      (error: unknown) => error,
    );
    // An alert from the server (OpenSSL: 70 protocol_version; rustls on Deno: 40 handshake_failure),
    // not this client declining to offer TLS 1.1.
    expect((refused as { code?: string } | null)?.code).toMatch(/^ERR_SSL_(TLSV1_ALERT_PROTOCOL_VERSION|SSLV3_ALERT_HANDSHAKE_FAILURE)$/);
    const { control, socket } = await secureControl({ maxVersion: "TLSv1.2" });
    expect(socket.getProtocol()).toBe("TLSv1.2");
    expect((await control.greeting()).code).toBe(220);
    control.close();
  });

  it("a plaintext client gets no greeting and is closed; the server keeps serving, with no stack trace in its log", async () => {
    const plain = await FtpControl.connect(implicitPort);
    const bytes: Buffer[] = [];
    plain.socket.on("data", (b: Buffer) => bytes.push(b));
    plain.send("USER alice");
    expect(await plain.waitClosed(10_000)).toBe(true);
    expect(Buffer.concat(bytes).toString("latin1")).not.toMatch(/\d{3} /);
    // A silent one is cut at the handshake deadline (3 s here).
    const silent = await FtpControl.connect(implicitPort);
    const since = Date.now();
    expect(await silent.waitClosed(10_000)).toBe(true);
    expect(Date.now() - since).toBeGreaterThanOrEqual(2_500);
    const { control } = await secureControl();
    expect((await control.greeting()).code).toBe(220);
    control.close();
    expect(await waitForLogLine(server, /"event":"message","client":"127\.0\.0\.1","clientPort":\d+,"message":"implicit TLS handshake (failed|timed out)/)).not.toBeNull();
    expect(server.output()).not.toMatch(/^\s+at /m);
  });

  it("data is protected without PROT P, and PROT C is refused with --tls-required", async () => {
    const { control, socket } = await secureControl();
    expect((await control.greeting()).code).toBe(220);
    expect((await control.cmd("AUTH TLS")).code).toBe(503);
    expect((await control.cmd("USER alice")).code).toBe(331);
    expect((await control.cmd("PASS s3cret")).code).toBe(230);
    expect((await control.cmd("PBSZ 0")).code).toBe(200);
    expect((await control.cmd("PROT C")).code).toBe(534);
    // PROT P after the refusal: a clear data connection would have been refused before the mark.
    expect((await control.cmd("PROT P")).code).toBe(200);
    expect((await control.cmd("TYPE I")).code).toBe(200);
    const target = parse227((await control.cmd("PASV")).lines[0] ?? "");
    if (target === null) throw new Error("PASV gave no address");
    const raw: Socket = await openData(target.port);
    const data = tls.connect({ socket: raw, servername: "localhost", ca: readFileSync(at("root.pem")), session: socket.getSession() });
    const chunks: Buffer[] = [];
    data.on("data", (c: Buffer) => chunks.push(c));
    const ended = new Promise<void>((resolve) => data.once("end", () => resolve()));
    expect((await control.cmd("RETR payload.bin")).code).toBe(150);
    await ended;
    expect((await control.reply(20_000)).code).toBe(226);
    expect(Buffer.compare(Buffer.concat(chunks), payload)).toBe(0);
    control.close();
  });
});

/** Logs in on the implicit port, TYPE I; returns the control and its TLS socket. */
async function loggedIn(options: tls.ConnectionOptions = {}): Promise<{ control: FtpControl; socket: tls.TLSSocket }> {
  const s = await secureControl(options);
  expect((await s.control.greeting()).code).toBe(220);
  expect((await s.control.cmd("USER alice")).code).toBe(331);
  expect((await s.control.cmd("PASS s3cret")).code).toBe(230);
  expect((await s.control.cmd("TYPE I")).code).toBe(200);
  // A NOOP round trip: a TLS 1.3 session ticket arrives after the handshake, before this reply.
  expect((await s.control.cmd("NOOP")).code).toBe(200);
  return s;
}

/** RETR over a protected data connection offering `session`; the transfer's final reply and bytes. */
async function retr(control: FtpControl, session: Buffer | undefined, options: tls.ConnectionOptions = {}): Promise<{ mark: number; final: number; bytes: number }> {
  const target = parse227((await control.cmd("PASV")).lines[0] ?? "");
  if (target === null) throw new Error("PASV gave no address");
  const raw: Socket = await openData(target.port);
  const data = tls.connect({ socket: raw, servername: "localhost", ca: readFileSync(at("root.pem")), ...options, ...(session === undefined ? {} : { session }) });
  data.on("error", () => undefined);
  let bytes = 0;
  data.on("data", (c: Buffer) => (bytes += c.length));
  const closed = new Promise<void>((resolve) => data.once("close", () => resolve()));
  const mark = (await control.cmd("RETR payload.bin")).code;
  const final = (await control.reply(20_000)).code;
  // The server closes the data connection before its final reply, whatever the outcome.
  await closed;
  return { mark, final, bytes };
}

describe.skipIf(onDeno)("data-channel TLS session reuse (on by default)", () => {
  it("a data connection without resumption is refused with 522; resuming this session is served; another session's ticket is refused", async () => {
    const a = await loggedIn();
    const b = await loggedIn();
    const fresh = await retr(a.control, undefined);
    expect(fresh).toMatchObject({ mark: 150, final: 522 });
    expect(fresh.bytes).toBe(0);
    // B's ticket is a valid ticket of this server, but not of A's control session.
    const stranger = await retr(a.control, b.socket.getSession());
    expect(stranger).toMatchObject({ mark: 150, final: 522 });
    const resumed = await retr(a.control, a.socket.getSession());
    expect(resumed).toEqual({ mark: 150, final: 226, bytes: payload.length });
    expect(await waitForLogLine(server, /data connection refused: its TLS session is not the control connection's/)).not.toBeNull();
    a.control.close();
    b.control.close();
  });

  it("over TLS 1.2 by session ID (no tickets, as curl resumes): this session's ID is served, another session's is refused", async () => {
    // What curl does with OpenSSL: TLS 1.2 tickets off, resumption by the server's session-ID cache.
    const byId: tls.ConnectionOptions = { maxVersion: "TLSv1.2", secureOptions: cryptoConstants.SSL_OP_NO_TICKET };
    const a = await loggedIn(byId);
    const b = await loggedIn(byId);
    expect(a.socket.getProtocol()).toBe("TLSv1.2");
    expect(a.socket.getTLSTicket()).toBeUndefined();
    const stranger = await retr(a.control, b.socket.getSession(), byId);
    expect(stranger).toMatchObject({ mark: 150, final: 522 });
    const resumed = await retr(a.control, a.socket.getSession(), byId);
    expect(resumed).toEqual({ mark: 150, final: 226, bytes: payload.length });
    // Again: the data connection's own session is remembered too.
    expect(await retr(a.control, a.socket.getSession(), byId)).toEqual({ mark: 150, final: 226, bytes: payload.length });
    a.control.close();
    b.control.close();
  });
});

describe.runIf(onDeno)("data-channel TLS session reuse on Deno (not checked: packages/deno/README.md)", () => {
  it("serves a protected data connection that did not resume the control session", async () => {
    const a = await loggedIn();
    expect(await retr(a.control, undefined)).toEqual({ mark: 150, final: 226, bytes: payload.length });
    a.control.close();
  });
});

describe("--no-tls-reuse-check", () => {
  it("lets Python's plain ftplib (no session reuse) transfer over protected data", async () => {
    const other = await startServer(root.dir, ["-u", "alice:s3cret", "--tls-cert", at("chain.pem"), "--tls-key", at("leaf.key"), "--no-tls-reuse-check"], onDeno ? {} : { entry: "node-cli" });
    try {
      const script = `
import ftplib, ssl, io, sys
ctx = ssl.create_default_context(cafile=${JSON.stringify(at("root.pem"))})
f = ftplib.FTP_TLS(context=ctx, timeout=20)
f.connect("localhost", ${String(other.port)})
f.auth()
f.login("alice", "s3cret")
f.prot_p()
buf = io.BytesIO()
f.retrbinary("RETR payload.bin", buf.write)
sys.stdout.buffer.write(buf.getvalue()[-32:])
f.quit()
`;
      const out = execFileSync("python3", ["-c", script], { timeout: 60_000 });
      expect(Buffer.compare(out, payload.subarray(payload.length - 32))).toBe(0);
    } finally {
      await other.stop();
    }
  });
});

describe.runIf(haveTool("openssl", () => has("openssl")))("the certificate chain", () => {
  it("is served whole: leaf and intermediate", () => {
    const r = spawnSync("sh", ["-c", `timeout 10 openssl s_client -connect 127.0.0.1:${String(implicitPort)} -servername localhost -showcerts -CAfile ${at("root.pem")} </dev/null 2>&1`]);
    const out = r.stdout.toString();
    expect(out.match(/-----BEGIN CERTIFICATE-----/g)).toHaveLength(2);
    expect(out).toContain("Verify return code: 0 (ok)");
  });
});
