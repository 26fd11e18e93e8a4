// Live reload through the real server process (Node by default, Deno with PASV_E2E_SERVER=deno;
// the same expectations for both): SIGHUP reads the users file, the config file and the TLS files
// again; new sessions get what they say while a session opened before keeps going, its transfer
// included; a broken file keeps the previous settings and logs the start-up's one-line error; a
// new listen port is logged as needing a restart; a new certificate is shown to the next
// handshake while a TLS session opened before keeps its own.
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes, X509Certificate } from "node:crypto";
import { copyFileSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import tls, { type TLSSocket } from "node:tls";
import { feedReplies, initialReplyReader, parse227, type ParsedReply } from "@pasv/core";
import { afterAll, describe, expect, it } from "vitest";
import { canConnect, FtpControl, openData, slowDownload } from "./ftp-control.js";
import { cliCommand, logRecords, ROOT, startServer, tempDir, type LogRecord, type RunningServer } from "./server.js";

const root = tempDir("pasv-reload-");
const files = tempDir("pasv-reload-files-");
const started: RunningServer[] = [];
const open: net.Socket[] = [];
const BIG = randomBytes(48 * 1024 * 1024);
const SMALL = randomBytes(512 * 1024 + 7);
writeFileSync(path.join(root.dir, "big.bin"), BIG);
writeFileSync(path.join(root.dir, "small.bin"), SMALL);
const hash = (password: string): string => execFileSync("openssl", ["passwd", "-6", "-salt", "pasvreload", password], { encoding: "utf8" }).trim();
const ALICE = `alice:${hash("alice-pw")}`;
const BOB = `bob:${hash("bob-pw")}`;

afterAll(async () => {
  for (const s of open) s.destroy();
  await Promise.all(started.map((s) => s.stop()));
  root.remove();
  files.remove();
});

async function serve(flags: readonly string[], options: Parameters<typeof startServer>[2] = {}): Promise<RunningServer> {
  const s = await startServer(root.dir, flags, options);
  started.push(s);
  return s;
}

function file(name: string, text: string): string {
  const p = path.join(files.dir, name);
  writeFileSync(p, text);
  return p;
}

/** USER+PASS on a fresh connection: the final reply code to PASS. */
async function login(server: RunningServer, user: string, password: string): Promise<number> {
  const c = await FtpControl.connect(server.port);
  try {
    expect((await c.greeting()).code).toBe(220);
    expect((await c.cmd(`USER ${user}`)).code).toBe(331);
    return (await c.cmd(`PASS ${password}`)).code;
  } finally {
    c.close();
  }
}

/** The server's reload records, the successful or the failed ones. */
function reloads(server: RunningServer, ok: boolean): LogRecord[] {
  return logRecords(server).filter((r) => r.event === "reload" && r.ok === ok);
}

/** Sends SIGHUP and waits for the `n`-th reload record that is `ok` or not (a reload logs once it is done). */
async function hup(server: RunningServer, ok: boolean, n: number): Promise<LogRecord> {
  process.kill(server.pid, "SIGHUP");
  const until = Date.now() + 10_000;
  while (reloads(server, ok).length < n && Date.now() < until) await new Promise((r) => setTimeout(r, 25));
  const records = reloads(server, ok);
  expect(records, server.output()).toHaveLength(n);
  const last = records.at(-1);
  if (last === undefined) throw new Error("no reload record");
  return last;
}

/** The one-line error `pasv ARGS` stops its start with (without "pasv: " and the hint). */
function startUpError(args: readonly string[]): string {
  const [cmd, argv] = cliCommand(args);
  const r = spawnSync(cmd, argv, { encoding: "utf8", timeout: 60_000 });
  expect(r.status).toBe(2);
  const first = r.stderr.split("\n")[0] ?? "";
  expect(first).toMatch(/^pasv: /);
  return first.slice("pasv: ".length);
}

async function until(what: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!what() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}

describe("SIGHUP reloads the users file", () => {
  it("a user added to the file logs in after SIGHUP, while a slow download begun before goes on and completes byte for byte", async () => {
    const users = file("users.txt", `${ALICE}\n`);
    const s = await serve(["--users", users, "--no-anonymous", "--login-fail-delay", "0"]);
    expect(await login(s, "bob", "bob-pw")).toBe(530);
    const c = await FtpControl.connect(s.port);
    await c.login("alice", "alice-pw");
    await c.cmd("TYPE I");
    const dl = slowDownload(await c.pasv(), 12 * 1024 * 1024);
    open.push(dl.socket);
    expect((await c.cmd("RETR big.bin")).code).toBe(150);
    await until(() => dl.bytes() > 2 * 1024 * 1024, 10_000);
    writeFileSync(users, `${ALICE}\n${BOB}\n`);
    expect(await hup(s, true, 1)).toMatchObject({ level: "info", access: "2 users read-only", changed: ["users"], needRestart: [] });
    expect(await login(s, "bob", "bob-pw")).toBe(230);
    expect(await login(s, "alice", "alice-pw")).toBe(230);
    // The reload came in the middle of the download, which ends whole.
    expect(dl.bytes()).toBeLessThan(BIG.length);
    const got = await dl.received;
    expect(got.length).toBe(BIG.length);
    expect(got.equals(BIG)).toBe(true);
    expect((await c.reply(15_000)).code).toBe(226);
    expect((await c.cmd("NOOP")).code).toBe(200);
    c.close();
  }, 60_000);
});

describe("SIGHUP removes a user", () => {
  it("sessions opened before the reload cannot log in as that user any more, after REIN or with a login not finished", async () => {
    const users = file("users-removed.txt", `${ALICE}\n${BOB}\n`);
    const s = await serve(["--users", users, "--no-anonymous", "--login-fail-delay", "0"]);
    const loggedIn = await FtpControl.connect(s.port);
    await loggedIn.login("bob", "bob-pw");
    const waiting = await FtpControl.connect(s.port);
    expect((await waiting.greeting()).code).toBe(220);
    writeFileSync(users, `${ALICE}\n`);
    expect(await hup(s, true, 1)).toMatchObject({ changed: ["users"] });
    expect((await waiting.cmd("USER bob")).code).toBe(331);
    expect((await waiting.cmd("PASS bob-pw")).code).toBe(530);
    // The session logged in before the reload keeps its login until it asks for another.
    expect((await loggedIn.cmd("PWD")).code).toBe(257);
    expect((await loggedIn.cmd("REIN")).code).toBe(220);
    expect((await loggedIn.cmd("USER bob")).code).toBe(331);
    expect((await loggedIn.cmd("PASS bob-pw")).code).toBe(530);
    expect((await loggedIn.cmd("USER alice")).code).toBe(331);
    expect((await loggedIn.cmd("PASS alice-pw")).code).toBe(230);
    loggedIn.close();
    waiting.close();
  }, 60_000);
});

describe("SIGHUP with a broken file keeps the previous settings", () => {
  it("a broken config file, then a broken users file: one line each, the start-up's error, and the server serves as before", async () => {
    const users = file("users-b.txt", `${ALICE}\n`);
    const good = `users = "${path.basename(users)}"\nno-anonymous = true\nmax-sessions = 10\nlogin-fail-delay = 0\n`;
    const config = file("pasv.toml", good);
    const s = await serve(["--config", config]);
    expect(await login(s, "alice", "alice-pw")).toBe(230);
    // Bob is in the users file now, but the config file breaks on line 3: the whole reload is refused.
    writeFileSync(users, `${ALICE}\n${BOB}\n`);
    writeFileSync(config, good.replace("max-sessions = 10", 'max-sessions = "ten"'));
    const configError = startUpError([root.dir, "--config", config]);
    expect(configError).toBe(`${config}:3: max-sessions must be a whole number, got a string`);
    expect(await hup(s, false, 1)).toMatchObject({ level: "error", message: `${configError}; keeping the previous settings` });
    expect(await login(s, "bob", "bob-pw")).toBe(530);
    expect(await login(s, "alice", "alice-pw")).toBe(230);
    // The config file is good again, the users file is not (line 2).
    writeFileSync(config, good);
    writeFileSync(users, `${ALICE}\nbob has no colon\n`);
    const usersError = startUpError([root.dir, "--config", config]);
    expect(usersError).toBe(`${users} line 2: expected NAME:HASH`);
    expect(await hup(s, false, 2)).toMatchObject({ level: "error", message: `${usersError}; keeping the previous settings` });
    expect(await login(s, "alice", "alice-pw")).toBe(230);
    expect(reloads(s, true)).toEqual([]);
    // Both good: bob is in.
    writeFileSync(users, `${ALICE}\n${BOB}\n`);
    expect(await hup(s, true, 1)).toMatchObject({ access: "2 users read-only", changed: ["users"] });
    expect(await login(s, "bob", "bob-pw")).toBe(230);
    expect(await s.exited(0)).toBe("running");
  }, 60_000);
});

describe("SIGHUP with a new listen port", () => {
  it("logs that the change needs a restart and keeps serving on its port", async () => {
    const [first = 0, second = 0] = await freePorts(2);
    const config = file("port.toml", `port = ${String(first)}\n`);
    const s = await serve(["--config", config], { noPort: true });
    expect(s.port).toBe(first);
    writeFileSync(config, `port = ${String(second)}\n`);
    expect((await hup(s, true, 1)).needRestart).toEqual(["listen address"]);
    expect(await login(s, "anonymous", "guest@")).toBe(230);
    expect(await canConnect(second)).toBe(false);
  }, 30_000);
});

/** Ports nobody listens on right now. */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<net.Server>((resolve) => {
      const srv = net.createServer();
      srv.listen(0, "127.0.0.1", () => resolve(srv));
    })),
  );
  const ports = servers.map((srv) => (srv.address() as net.AddressInfo).port);
  await Promise.all(servers.map((srv) => new Promise((r) => srv.close(r))));
  return ports;
}

/** A control connection protected by AUTH TLS, and the certificate its handshake showed. */
class SecureControl {
  private reader = initialReplyReader;
  private readonly replies: ParsedReply[] = [];
  private wake: (() => void) | null = null;

  private constructor(
    readonly socket: TLSSocket,
    readonly fingerprint: string,
  ) {
    socket.on("data", (chunk: Buffer) => {
      const fed = feedReplies(this.reader, chunk);
      this.reader = fed.reader;
      this.replies.push(...fed.replies);
      this.wake?.();
    });
    socket.on("close", () => this.wake?.());
    socket.on("error", () => undefined);
  }

  static async start(port: number): Promise<SecureControl> {
    const c = await FtpControl.connect(port);
    expect((await c.greeting()).code).toBe(220);
    expect((await c.cmd("AUTH TLS")).code).toBe(234);
    c.socket.removeAllListeners("data");
    const secure = await handshake(c.socket, undefined);
    return new SecureControl(secure, secure.getPeerX509Certificate()?.fingerprint256 ?? "");
  }

  async reply(ms = 10_000): Promise<ParsedReply> {
    const end = Date.now() + ms;
    while (this.replies.length === 0) {
      if (this.socket.destroyed) throw new Error("control connection closed");
      const left = end - Date.now();
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

  async cmd(line: string): Promise<ParsedReply> {
    this.socket.write(`${line}\r\n`);
    return this.reply();
  }
}

/** A protected data connection, resuming `session` (the control connection's: the server requires it). */
async function handshake(socket: net.Socket, session: Buffer | undefined): Promise<TLSSocket> {
  const secure = tls.connect({ socket, servername: "localhost", rejectUnauthorized: false, ...(session === undefined ? {} : { session }) });
  open.push(secure);
  await new Promise<void>((resolve, reject) => {
    secure.once("secureConnect", resolve);
    secure.once("error", reject);
  });
  return secure;
}

// The Node command, also under Deno (its node:tls has the server-side upgrade; see ftps.test.ts).
describe("SIGHUP with a new TLS certificate and key", () => {
  it("the next handshake shows the new certificate; a TLS session opened before keeps its own and still downloads over PROT P", async () => {
    const fixtures = path.join(ROOT, "packages/node/test-fixtures");
    const fingerprint = (name: string): string => new X509Certificate(readFileSync(path.join(fixtures, name))).fingerprint256;
    const cert = path.join(files.dir, "server-cert.pem");
    const key = path.join(files.dir, "server-key.pem");
    copyFileSync(path.join(fixtures, "cert.pem"), cert);
    copyFileSync(path.join(fixtures, "key.pem"), key);
    const s = await serve(["--tls-cert", cert, "--tls-key", key], { entry: "node-cli" });
    const before = await SecureControl.start(s.port);
    expect(before.fingerprint).toBe(fingerprint("cert.pem"));
    // Unusable material: the reload fails and the old certificate stays.
    writeFileSync(cert, "not a certificate\n");
    expect(String((await hup(s, false, 1)).message)).toBe(`${cert}: not a PEM certificate (no "-----BEGIN CERTIFICATE-----" block); keeping the previous settings`);
    expect((await SecureControl.start(s.port)).fingerprint).toBe(fingerprint("cert.pem"));
    copyFileSync(path.join(fixtures, "cert2.pem"), cert);
    copyFileSync(path.join(fixtures, "key2.pem"), key);
    expect((await hup(s, true, 1)).changed).toEqual(["tls"]);
    const after = await SecureControl.start(s.port);
    expect(after.fingerprint).toBe(fingerprint("cert2.pem"));
    expect(after.fingerprint).not.toBe(before.fingerprint);
    // The session from before: login, protected data, byte for byte, under its own TLS session.
    for (const line of ["USER anonymous", "PASS guest@"]) await before.cmd(line);
    expect((await before.cmd("PBSZ 0")).code).toBe(200);
    expect((await before.cmd("PROT P")).code).toBe(200);
    expect((await before.cmd("TYPE I")).code).toBe(200);
    const target = parse227((await before.cmd("PASV")).lines[0] ?? "");
    if (target === null) throw new Error("PASV gave no address");
    const raw = await openData(target.port);
    open.push(raw);
    const retr = before.cmd("RETR small.bin");
    const data = await handshake(raw, before.socket.getSession());
    // It resumes the control connection's TLS session (the server requires that), which is the one
    // made with the first certificate: a resumed handshake sends no certificate of its own.
    expect(data.isSessionReused()).toBe(true);
    const chunks: Buffer[] = [];
    data.on("data", (chunk: Buffer) => chunks.push(chunk));
    await new Promise<void>((resolve) => data.once("end", () => resolve()));
    expect((await retr).code).toBe(150);
    expect(Buffer.concat(chunks).equals(SMALL)).toBe(true);
    expect((await before.reply()).code).toBe(226);
    expect((await after.cmd("NOOP")).code).toBe(200);
  }, 60_000);
});

/** TCP sockets the process `pid` holds in LISTEN state (its descriptors matched to /proc/net/tcp*). */
function listeningSockets(pid: number): number {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m?.[1] !== undefined) inodes.add(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  let listening = 0;
  for (const table of ["tcp", "tcp6"]) {
    for (const row of readFileSync(`/proc/${pid}/net/${table}`, "utf8").split("\n").slice(1)) {
      const cols = row.trim().split(/\s+/);
      // st 0A is LISTEN; the inode is the tenth column.
      if (cols[3] === "0A" && cols[9] !== undefined && inodes.has(cols[9])) listening++;
    }
  }
  return listening;
}

// The runtime's own command (on Deno the adapter, whose TLS is a private loopback listener per
// certificate): a reload must not leave the previous certificate's listener behind.
describe("SIGHUP with new TLS certificates, again and again", () => {
  it.runIf(process.platform === "linux")("the server's listening sockets do not grow, and a TLS session opened before still downloads over PROT P", async () => {
    const fixtures = path.join(ROOT, "packages/node/test-fixtures");
    const cert = path.join(files.dir, "again-cert.pem");
    const key = path.join(files.dir, "again-key.pem");
    copyFileSync(path.join(fixtures, "cert.pem"), cert);
    copyFileSync(path.join(fixtures, "key.pem"), key);
    const s = await serve(["--tls-cert", cert, "--tls-key", key]);
    const before = await SecureControl.start(s.port);
    const baseline = listeningSockets(s.pid);
    expect(baseline).toBeGreaterThanOrEqual(1);
    const RELOADS = 6;
    for (let i = 1; i <= RELOADS; i++) {
      const which = i % 2 === 1 ? "2" : "";
      copyFileSync(path.join(fixtures, `cert${which}.pem`), cert);
      copyFileSync(path.join(fixtures, `key${which}.pem`), key);
      expect((await hup(s, true, i)).changed).toEqual(["tls"]);
      // A handshake with the new certificate, so its listener (if any) is open.
      const fresh = await SecureControl.start(s.port);
      expect((await fresh.cmd("NOOP")).code).toBe(200);
      fresh.socket.destroy();
    }
    // Closed listeners may take a moment to leave the table.
    await until(() => listeningSockets(s.pid) <= baseline, 2_000);
    expect(listeningSockets(s.pid), `baseline ${baseline}`).toBe(baseline);
    // The session from before the reloads: protected data under its own (first) certificate.
    for (const line of ["USER anonymous", "PASS guest@"]) await before.cmd(line);
    expect((await before.cmd("PBSZ 0")).code).toBe(200);
    expect((await before.cmd("PROT P")).code).toBe(200);
    expect((await before.cmd("TYPE I")).code).toBe(200);
    const target = parse227((await before.cmd("PASV")).lines[0] ?? "");
    if (target === null) throw new Error("PASV gave no address");
    const raw = await openData(target.port);
    open.push(raw);
    const retr = before.cmd("RETR small.bin");
    const data = await handshake(raw, before.socket.getSession());
    const chunks: Buffer[] = [];
    data.on("data", (chunk: Buffer) => chunks.push(chunk));
    await new Promise<void>((resolve) => data.once("end", () => resolve()));
    expect((await retr).code).toBe(150);
    expect(Buffer.concat(chunks).equals(SMALL)).toBe(true);
    expect((await before.reply()).code).toBe(226);
    // Its handshake's listener is let go again once that handshake is done.
    await until(() => listeningSockets(s.pid) <= baseline, 2_000);
    expect(listeningSockets(s.pid), `baseline ${baseline}`).toBe(baseline);
  }, 60_000);
});
