import { RIGHTS, type SessionEvent } from "@pasv/core";
import { describe, expect, it } from "vitest";
import { FakePlatform, FakeSocket, FakeTls, settle, type FakeListener } from "./fake-platform.test-helper.js";
import { MemoryFs } from "./memory-fs.js";
import { VfsError, type Vfs, type VfsReader } from "./vfs.js";
import { CONTROL_CLOSE_GRACE_MS } from "./platform-io.js";
import { CLOSE_GRACE_MS, FtpServer, LISTEN_BACKLOG, type ServerEvents, type ServerOptions } from "./server.js";
import { formatText, type LogRecord } from "./log-record.js";

const CLIENT = { address: "198.51.100.1", port: 4000 };

interface Harness {
  platform: FakePlatform;
  server: FtpServer;
  /** Every log record, and each as its text line (the text format is tested with them). */
  records: LogRecord[];
  lines: string[];
  events: { name: keyof ServerEvents; event: unknown }[];
  connect(remote?: { address: string; port: number }): FakeSocket;
}

async function start(options: ServerOptions = {}, platform = new FakePlatform({ tree: { pub: { "a.txt": "hello" } } })): Promise<Harness> {
  const records: LogRecord[] = [];
  const lines: string[] = [];
  const server = new FtpServer(platform, {
    log: (record) => {
      records.push(record);
      lines.push(formatText(record));
    },
    ...options,
  });
  const events: Harness["events"] = [];
  for (const name of ["session-open", "session-close", "login", "login-failed", "transfer", "ban"] as const) server.on(name, (event) => events.push({ name, event }));
  await server.listen(2121, "127.0.0.1");
  const listener = platform.last;
  return { platform, server, records, lines, events, connect: (remote = CLIENT) => listener.connect(remote) };
}

/** Sends a command and lets the session's promises (auth, fs) settle. */
async function send(socket: FakeSocket, line: string): Promise<void> {
  socket.data(`${line}\r\n`);
  await settle(40);
}

/** The start of a ClientHello after AUTH's 234: from here the handshake has started. */
async function hello(socket: FakeSocket): Promise<void> {
  socket.data(new Uint8Array([0x16, 0x03, 0x01]));
  await settle(40);
}

function replies(socket: FakeSocket): string[] {
  return socket.written().split("\r\n").filter((l) => l !== "");
}

function lastReply(socket: FakeSocket): string {
  return replies(socket).at(-1) ?? "";
}

function track<T>(promise: Promise<T>): { state: "pending" | "resolved" | "rejected" } {
  const t: { state: "pending" | "resolved" | "rejected" } = { state: "pending" };
  promise.then(
    () => (t.state = "resolved"),
    () => (t.state = "rejected"),
  );
  return t;
}

describe("FtpServer construction", () => {
  it("refuses the tls option on a platform without TLS", () => {
    expect(() => new FtpServer(new FakePlatform(), { tls: {} })).toThrow("TLS is not available on this platform");
    expect(() => new FtpServer(new FakePlatform({ tls: new FakeTls() }), { tls: { required: true } })).not.toThrow();
  });

  it("refuses an invalid passive port range with a RangeError", () => {
    expect(() => new FtpServer(new FakePlatform(), { passivePorts: { min: 100, max: 200 } })).toThrow(RangeError);
    expect(() => new FtpServer(new FakePlatform(), { passivePorts: { min: 60000, max: 50000 } })).toThrow(/reversed/);
  });

  it("refuses a bandwidth limit that is not a whole number of bytes per second, naming it", () => {
    expect(() => new FtpServer(new FakePlatform(), { maxRateDown: -1 })).toThrow(/^maxRateDown must be a whole number of bytes per second/);
    expect(() => new FtpServer(new FakePlatform(), { maxRateUp: 1.5 })).toThrow(/^maxRateUp/);
    expect(() => new FtpServer(new FakePlatform(), { anonymousMaxRateDown: Number.NaN })).toThrow(/^anonymousMaxRateDown/);
    expect(() => new FtpServer(new FakePlatform(), { users: [{ user: "bob", password: "pw", maxRateDown: -2 }] })).toThrow(/^user "bob": maxRateDown/);
    expect(() => new FtpServer(new FakePlatform(), { maxRateDown: 0, maxRateUp: 2 * 1024 * 1024, anonymousMaxRateUp: 0 })).not.toThrow();
  });

  it("listens with a large backlog and urgent data, once", async () => {
    const platform = new FakePlatform();
    const server = new FtpServer(platform);
    expect(await server.listen(0, "::1")).toEqual({ address: "::1", port: 2121 });
    expect(platform.listenRequests[0]).toEqual({ host: "::1", port: 0, family: 6, backlog: LISTEN_BACKLOG, urgentData: true });
    await expect(server.listen()).rejects.toThrow("already listening");
  });
});

describe("FtpServer sessions", () => {
  it("greets with 220 and emits session-open / session-close with the peer address", async () => {
    const h = await start();
    const c = h.connect();
    expect(lastReply(c)).toMatch(/^220 /);
    expect(h.server.sessionCount).toBe(1);
    expect(h.events).toEqual([{ name: "session-open", event: { id: 1, remote: CLIENT } }]);
    c.close();
    expect(h.server.sessionCount).toBe(0);
    expect(h.events[1]).toEqual({ name: "session-close", event: { id: 1, remote: CLIENT } });
  });

  it("normalizes an IPv4-mapped peer address in events", async () => {
    const h = await start();
    h.connect({ address: "::ffff:198.51.100.1", port: 4000 });
    expect(h.events[0]).toEqual({ name: "session-open", event: { id: 1, remote: CLIENT } });
  });

  it("refuses sessions beyond maxSessions with 421 and admits again once one closes", async () => {
    const h = await start({ maxSessions: 1 });
    const a = h.connect();
    const b = h.connect({ address: "198.51.100.2", port: 1 });
    expect(lastReply(a)).toMatch(/^220 /);
    expect(lastReply(b)).toMatch(/^421 /);
    expect(b.endCalls).toBeGreaterThan(0);
    b.close();
    a.close();
    const c = h.connect();
    expect(lastReply(c)).toMatch(/^220 /);
  });

  it("refuses sessions beyond maxSessionsPerIp with 421, per address", async () => {
    const h = await start({ maxSessionsPerIp: 1 });
    const a = h.connect({ address: "198.51.100.1", port: 1 });
    const b = h.connect({ address: "198.51.100.1", port: 2 });
    const other = h.connect({ address: "198.51.100.9", port: 3 });
    expect(lastReply(a)).toMatch(/^220 /);
    expect(lastReply(b)).toMatch(/^421 /);
    expect(lastReply(other)).toMatch(/^220 /);
  });

  it("calls the instrumentation hooks", async () => {
    const opened: number[] = [];
    const stepped: string[] = [];
    const platform = new FakePlatform();
    const server = new FtpServer(platform, {}, { opened: (id) => opened.push(id), stepped: (id, event: SessionEvent) => stepped.push(`${id}:${event.type}`) });
    await server.listen();
    platform.last.connect();
    expect(opened).toEqual([1]);
    expect(stepped[0]).toBe("1:open");
  });
});

describe("FtpServer logins", () => {
  it("anonymous login succeeds by default, emits login, and uses the platform's local fs at cwd", async () => {
    const h = await start();
    const c = h.connect();
    await send(c, "USER anonymous");
    expect(lastReply(c)).toMatch(/^331 /);
    await send(c, "PASS me@example.com");
    expect(lastReply(c)).toMatch(/^230 /);
    expect(h.events.at(-1)).toEqual({ name: "login", event: { id: 1, user: "anonymous", anonymous: true } });
    expect(h.platform.fsRoots).toEqual(["/srv/ftp"]);
    const d = h.connect();
    await send(d, "USER ftp");
    await send(d, "PASS x");
    expect(lastReply(d)).toMatch(/^230 /);
    expect(h.platform.fsRoots).toEqual(["/srv/ftp"]); // cached per root
  });

  it("bans an address after repeated failed logins across its sessions, and no other address", async () => {
    const h = await start({ users: [{ user: "alice", password: "pw" }], maxLoginFailures: 2, loginFailDelayMs: 500, bans: { after: 3, windowMs: 60_000, durationMs: 30_000 } });
    const fail = async (c: FakeSocket): Promise<void> => {
      await send(c, "USER alice");
      await send(c, "PASS wrong");
      h.platform.clock.advance(500);
      await settle(40);
    };
    const first = h.connect();
    await fail(first);
    expect(lastReply(first)).toMatch(/^530 /);
    await fail(first);
    expect(lastReply(first)).toMatch(/^421 /); // the session's own limit
    const second = h.connect();
    // The ban starts at the failed PASS itself, before its delayed 530.
    const bannedAt = h.platform.clock.now();
    await fail(second);
    expect(h.events.filter((e) => e.name === "ban")).toEqual([{ name: "ban", event: { address: CLIENT.address, failures: 3, until: bannedAt + 30_000 } }]);
    expect(h.records).toContainEqual(expect.objectContaining({ level: "warn", event: "ban", client: CLIENT.address, seconds: 30, failures: 3 }));
    const refused = h.connect();
    await settle(40);
    expect(replies(refused)).toEqual(["421 Too many failed logins from your address; try again later."]);
    const other = h.connect({ address: "198.51.100.9", port: 4001 });
    await send(other, "USER alice");
    await send(other, "PASS pw");
    expect(lastReply(other)).toMatch(/^230 /);
    h.platform.clock.advance(30_000);
    await settle(40);
    const later = h.connect();
    await settle(40);
    expect(lastReply(later)).toMatch(/^220 /);
  });

  it("bans nobody with bans off", async () => {
    const h = await start({ users: [{ user: "alice", password: "pw" }], maxLoginFailures: 1, loginFailDelayMs: 10, bans: false });
    for (let i = 0; i < 20; i++) {
      const c = h.connect();
      await send(c, "USER alice");
      await send(c, "PASS wrong");
      h.platform.clock.advance(10);
      await settle(20);
      expect(lastReply(c)).toMatch(/^421 Too many failed login/);
    }
    const c = h.connect();
    await settle(20);
    expect(lastReply(c)).toMatch(/^220 /);
  });

  it("with anonymous disabled refuses an anonymous login", async () => {
    const h = await start({ anonymous: false, users: [{ user: "alice", password: "pw" }] });
    const c = h.connect();
    await send(c, "USER anonymous");
    await send(c, "PASS x");
    expect(replies(c).slice(1).some((r) => r.startsWith("530 "))).toBe(true);
    expect(replies(c).some((r) => r.startsWith("230 "))).toBe(false);
    expect(h.events.some((e) => e.name === "login")).toBe(false);
  });

  it("a named user logs in on their own root; a wrong password emits login-failed and a log line", async () => {
    const h = await start({ root: "/data", users: [{ user: "alice", password: "pw", home: "/home/alice" }] });
    // Every root the server knows is opened (and pinned) at start-up, before any login.
    expect(h.platform.fsRoots).toEqual(["/data", "/home/alice"]);
    const c = h.connect();
    await send(c, "USER alice");
    await send(c, "PASS wrong");
    h.platform.clock.advance(5_000);
    await settle(40);
    expect(lastReply(c)).toMatch(/^530 /);
    expect(h.events).toContainEqual({ name: "login-failed", event: { id: 1, user: "alice", remote: CLIENT } });
    expect(h.records).toContainEqual(expect.objectContaining({ event: "login.failed", session: 1, client: "198.51.100.1", tls: false, user: null, attempted: "alice" }));
    await send(c, "USER alice");
    await send(c, "PASS pw");
    expect(lastReply(c)).toMatch(/^230 /);
    expect(h.events.at(-1)).toEqual({ name: "login", event: { id: 1, user: "alice", anonymous: false } });
    expect(h.platform.fsRoots).toEqual(["/data", "/home/alice"]);
  });

  it("a relative home lies under the served root and is pinned at start-up; one that climbs out is refused", async () => {
    const h = await start({ root: "/data", users: [{ user: "alice", password: "pw", home: "alice/in" }, { user: "bob", password: "pw", home: "/abs/bob" }] });
    expect(h.platform.fsRoots).toEqual(["/data", "/data/alice/in", "/abs/bob"]);
    expect(() => new FtpServer(new FakePlatform(), { users: [{ user: "eve", password: "pw", home: "../etc" }] })).toThrow(/the home \.\.\/etc must be a directory under the root/);
  });

  it("a home on a handed-in file system is its subtree, and must exist at start-up", async () => {
    const vfs = new MemoryFs({ homes: { a: { "mine.txt": "A" } }, "top.txt": "T" });
    const server = new FtpServer(new FakePlatform(), { vfs, users: [{ user: "a", password: "pw", home: "homes/a" }] });
    await server.listen();
    const missing = new FtpServer(new FakePlatform(), { vfs, users: [{ user: "b", password: "pw", home: "homes/b" }] });
    await expect(missing.listen()).rejects.toThrow(/the home homes\/b cannot be served/);
  });

  it("does not listen when a root cannot be pinned, and says which root", async () => {
    const platform = new FakePlatform({ tree: {} });
    const local = platform.localFs.bind(platform);
    platform.localFs = (root: string) => (root === "/gone" ? Object.assign(new MemoryFs({}), { guarantee: Promise.reject(new VfsError("not-found", "ENOENT")) }) : local(root));
    const server = new FtpServer(platform, { root: "/data", users: [{ user: "bob", password: "pw", home: "/gone" }] });
    await expect(server.listen(2121, "127.0.0.1")).rejects.toThrow(/the root \/gone cannot be served/);
    expect(platform.listeners).toEqual([]);
  });

  it("uses options.vfs instead of the platform's file system, and options.auth instead of accounts", async () => {
    const vfs = new MemoryFs({});
    const h = await start({ vfs });
    const c = h.connect();
    await send(c, "USER anonymous");
    await send(c, "PASS x");
    expect(lastReply(c)).toMatch(/^230 /);
    expect(h.platform.fsRoots).toEqual([]);
    const h2 = await start({ auth: { authenticate: (r) => Promise.resolve(r.user === "root" ? { account: { user: "root", anonymous: false, rights: RIGHTS, hideDotFiles: false }, vfs } : null) } });
    const d = h2.connect();
    await send(d, "USER root");
    await send(d, "PASS anything");
    expect(lastReply(d)).toMatch(/^230 /);
  });
});

describe("FtpServer transfers", () => {
  it("a RETR emits a transfer event and logs one transfer line", async () => {
    const h = await start({ publicAddress: "203.0.113.5", passivePorts: { min: 50000, max: 50000 } });
    const c = h.connect();
    await send(c, "USER anonymous");
    await send(c, "PASS x");
    await send(c, "PASV");
    expect(lastReply(c)).toBe("227 Entering Passive Mode (203,0,113,5,195,80).");
    const data = h.platform.last.connect({ address: CLIENT.address, port: 4001 });
    await send(c, "RETR /pub/a.txt");
    expect(lastReply(c)).toMatch(/^150 /);
    await settle(40);
    expect(data.written()).toBe("hello");
    expect(data.endCalls).toBe(1);
    data.finished();
    await settle(40);
    expect(lastReply(c)).toMatch(/^226 /);
    const transfer = h.events.find((e) => e.name === "transfer");
    expect(transfer?.event).toEqual({ id: 1, kind: "transfer", transfer: 4, outcome: "completed", reason: null, command: "RETR", direction: "download", path: "/pub/a.txt", bytes: 5, durationMs: 0, user: "anonymous", anonymous: true, ascii: true, code: 226 });
    expect(h.records).toContainEqual(expect.objectContaining({ event: "transfer", session: 1, client: "198.51.100.1", user: "anonymous", command: "RETR", direction: "download", path: "/pub/a.txt", bytes: 5, outcome: "completed", reason: null, code: 226 }));
    expect(h.lines.find((l) => l.includes(" transfer "))).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z info {2}transfer session=1 client=198\.51\.100\.1 clientPort=\d+ tls=false user=anonymous command=RETR direction=download path=\/pub\/a\.txt bytes=5 durationMs=\d+ rate=\d+ outcome=completed code=226 ascii=true$/);
  });

  it("a publicAddress function is asked per client", async () => {
    const asked: string[] = [];
    const h = await start({
      publicAddress: (client) => {
        asked.push(client.address);
        return "192.0.2.77";
      },
      passivePorts: { min: 50001, max: 50001 },
    });
    const c = h.connect();
    await send(c, "USER anonymous");
    await send(c, "PASS x");
    await send(c, "PASV");
    expect(lastReply(c)).toBe("227 Entering Passive Mode (192,0,2,77,195,81).");
    expect(asked).toEqual([CLIENT.address]);
  });
});

describe("FtpServer close", () => {
  it("sends 421 to live sessions, stops listening, and resolves once they close", async () => {
    const h = await start();
    const a = h.connect();
    const b = h.connect({ address: "198.51.100.2", port: 1 });
    const closing = track(h.server.close());
    await settle();
    expect(lastReply(a)).toMatch(/^421 /);
    expect(lastReply(b)).toMatch(/^421 /);
    expect(a.endCalls).toBeGreaterThan(0);
    expect(h.platform.last.closed).toBe(true);
    expect(closing.state).toBe("pending");
    a.close();
    await settle();
    expect(closing.state).toBe("pending");
    b.close();
    await settle();
    expect(closing.state).toBe("resolved");
    expect(a.destroyed || b.destroyed).toBe(false);
    expect(h.platform.clock.pending).toBe(0);
  });

  it("close({ drainMs }) ends idle sessions at once, lets running work finish, stops what is left when the drain is up, and refuses a negative drain", async () => {
    const h = await start();
    const idle = h.connect();
    const busy = h.connect({ address: "198.51.100.2", port: 1 });
    await send(busy, "USER anonymous");
    await send(busy, "PASS x");
    // A command whose answer waits (a failed login's delay) keeps the session running meanwhile.
    await send(busy, "USER nobody");
    await send(busy, "PASS wrong");
    expect(h.server.draining).toBe(false);
    const closing = track(h.server.close({ drainMs: 60_000 }));
    await settle();
    expect(h.server.draining).toBe(true);
    expect(h.platform.last.closed).toBe(true);
    expect(lastReply(idle)).toBe("421 Server shutting down.");
    expect(lastReply(busy)).toMatch(/^331 /);
    expect(h.records).toContainEqual(expect.objectContaining({ event: "drain", drainMs: 60_000 }));
    // The delayed 530 is answered, then the session ends.
    h.platform.clock.advance(5_000);
    await settle();
    expect(replies(busy).slice(-2)).toEqual(["530 Login incorrect.", "421 Server shutting down."]);
    idle.close();
    busy.close();
    await settle();
    expect(closing.state).toBe("resolved");
    expect(h.platform.clock.pending).toBe(0);
    await expect(new FtpServer(new FakePlatform()).close({ drainMs: -1 })).rejects.toThrow(RangeError);
    // A drain shorter than what is running: at its end the session gets its 421 anyway.
    const h2 = await start({ loginFailDelayMs: 10_000 });
    const slow = h2.connect();
    await send(slow, "USER nobody");
    await send(slow, "PASS wrong");
    void h2.server.close({ drainMs: 1_000 });
    await settle();
    expect(lastReply(slow)).toMatch(/^331 /);
    h2.platform.clock.advance(1_000);
    await settle();
    expect(lastReply(slow)).toBe("421 Server shutting down.");
  });

  it(`destroys sessions still open after ${CLOSE_GRACE_MS} ms`, async () => {
    const h = await start();
    const a = h.connect();
    const closing = track(h.server.close());
    await settle();
    h.platform.clock.advance(CLOSE_GRACE_MS - 1);
    await settle();
    expect(a.destroyed).toBe(false);
    expect(closing.state).toBe("pending");
    h.platform.clock.advance(1);
    await settle();
    expect(a.destroyed).toBe(true);
    expect(closing.state).toBe("resolved");
    expect(h.server.sessionCount).toBe(0);
  });

  it("resolves at once with no sessions, and refuses connections that arrive while closing", async () => {
    const platform = new FakePlatform();
    const server = new FtpServer(platform);
    await server.close(); // never listened
    const h = await start();
    await h.server.close();
    const late = h.connect();
    expect(lastReply(late)).toMatch(/^421 /);
  });

  // Once a bug: a second close() replaced the first one's resolver, which then never settled.
  it("close() called twice: both calls resolve once the sessions are gone", async () => {
    const h = await start();
    const a = h.connect();
    const first = track(h.server.close());
    const second = track(h.server.close());
    await settle();
    a.close();
    await settle();
    expect(second.state).toBe("resolved");
    expect(first.state).toBe("resolved");
  });
});

/** Logs in on a fresh control connection. */
async function loggedIn(h: Harness, user = "anonymous", password = "x"): Promise<FakeSocket> {
  const c = h.connect();
  await send(c, `USER ${user}`);
  await send(c, `PASS ${password}`);
  expect(lastReply(c)).toMatch(/^230 /);
  return c;
}

/** PASV, then the client's data connection from its own address. */
async function passive(h: Harness, c: FakeSocket): Promise<FakeSocket> {
  await send(c, "PASV");
  expect(lastReply(c)).toMatch(/^227 /);
  return h.platform.last.connect({ address: CLIENT.address, port: 4100 });
}

describe("FtpServer end to end on the fake platform", () => {
  const writer = { users: [{ user: "alice", password: "pw" }], write: true, passivePorts: { min: 50000, max: 50000 } } as const;

  it("an idle session is closed after idleTimeoutMs with 421", async () => {
    const h = await start({ idleTimeoutMs: 1_000 });
    const c = await loggedIn(h);
    h.platform.clock.advance(999);
    await settle();
    expect(lastReply(c)).toMatch(/^230 /);
    h.platform.clock.advance(1);
    await settle();
    expect(lastReply(c)).toMatch(/^421 /);
    expect(c.endCalls).toBeGreaterThan(0);
  });

  it("STOR stores the bytes once the client's end of stream arrives, then 226 after our FIN", async () => {
    const h = await start(writer);
    const c = await loggedIn(h, "alice", "pw");
    const data = await passive(h, c);
    await send(c, "STOR /up.txt");
    expect(lastReply(c)).toMatch(/^150 /);
    data.data("abc");
    data.data("def");
    await settle(40);
    expect(lastReply(c)).toMatch(/^150 /);
    data.peerEnd();
    await settle(40);
    expect(data.endCalls).toBe(1);
    data.finished();
    await settle(40);
    expect(lastReply(c)).toMatch(/^226 /);
    await send(c, "TYPE I");
    await send(c, "SIZE /up.txt");
    expect(lastReply(c)).toBe("213 6");
    expect(h.events.find((e) => e.name === "transfer")?.event).toMatchObject({ outcome: "completed", command: "STOR", direction: "upload", bytes: 6, user: "alice", code: 226 });
  });

  it("an upload reset before its end of stream is a 426, not a stored file", async () => {
    const h = await start(writer);
    const c = await loggedIn(h, "alice", "pw");
    const data = await passive(h, c);
    await send(c, "STOR /broken.txt");
    data.data("partial");
    await settle(40);
    data.fail("ECONNRESET");
    data.close();
    await settle(40);
    expect(lastReply(c)).toMatch(/^426 /);
    expect(h.events.find((e) => e.name === "transfer")?.event).toMatchObject({ outcome: "failed", command: "STOR", code: 426 });
  });

  it("anonymous users may not upload", async () => {
    const h = await start(writer);
    const c = await loggedIn(h);
    await passive(h, c);
    await send(c, "STOR /nope.txt");
    expect(lastReply(c)).toMatch(/^550 /);
  });

  it("LIST sends the listing over the data connection", async () => {
    const h = await start({ passivePorts: { min: 50000, max: 50000 } });
    const c = await loggedIn(h);
    const data = await passive(h, c);
    await send(c, "LIST /pub");
    await settle(40);
    expect(data.written()).toContain("a.txt");
    data.finished();
    await settle(40);
    expect(lastReply(c)).toMatch(/^226 /);
  });

  it("file commands reach the file system: MKD, SIZE, MDTM, RNFR/RNTO, DELE, RMD", async () => {
    const h = await start(writer);
    const c = await loggedIn(h, "alice", "pw");
    for (const [command, code] of [
      ["TYPE I", "200"],
      ["MKD /d", "257"],
      ["SIZE /pub/a.txt", "213"],
      ["MDTM /pub/a.txt", "213"],
      ["RNFR /pub/a.txt", "350"],
      ["RNTO /d/b.txt", "250"],
      ["SIZE /pub/a.txt", "550"],
      ["DELE /d/b.txt", "250"],
      ["RMD /d", "250"],
      ["RMD /d", "550"],
    ] as const) {
      await send(c, command);
      expect(lastReply(c).slice(0, 3), command).toBe(code);
    }
  });

  it("RETR of a missing file is 550 and moves no bytes", async () => {
    const h = await start({ passivePorts: { min: 50000, max: 50000 } });
    const c = await loggedIn(h);
    const data = await passive(h, c);
    await send(c, "RETR /pub/missing.txt");
    expect(lastReply(c)).toMatch(/^550 /);
    expect(data.written()).toBe("");
  });

  it("ABOR during a download blocked on a full send queue cuts the data connection", async () => {
    const h = await start({ passivePorts: { min: 50000, max: 50000 } });
    const c = await loggedIn(h);
    const data = await passive(h, c);
    data.buffered = Number.MAX_SAFE_INTEGER;
    await send(c, "RETR /pub/a.txt");
    await settle(40);
    expect(lastReply(c)).toMatch(/^150 /);
    await send(c, "ABOR");
    await settle(40);
    expect(data.destroyed).toBe(true);
    expect(replies(c).slice(-2).map((r) => r.slice(0, 3))).toEqual(["426", "226"]);
  });

  it("a download whose data connection stalls fails with 426 after the stall timeout", async () => {
    const h = await start({ passivePorts: { min: 50000, max: 50000 }, core: { timeouts: { dataStall: 2_000 } } });
    const c = await loggedIn(h);
    const data = await passive(h, c);
    await send(c, "RETR /pub/a.txt");
    await settle(40);
    expect(data.endCalls).toBe(1); // our FIN is queued but never reported out
    h.platform.clock.advance(2_000);
    await settle(40);
    expect(data.destroyed).toBe(true);
    expect(lastReply(c)).toMatch(/^426 /);
  });

  it("active mode: PORT connects from the control address and RETR sends over it", async () => {
    const h = await start();
    const c = await loggedIn(h);
    await send(c, "PORT 198,51,100,1,19,137");
    expect(lastReply(c)).toMatch(/^200 /);
    await send(c, "RETR /pub/a.txt");
    await settle(40);
    expect(h.platform.connects).toHaveLength(1);
    expect(h.platform.connects[0]!.request).toEqual({ host: "198.51.100.1", port: 5001, family: 4, localAddress: "127.0.0.1" });
    const data = h.platform.connects[0]!.resolve();
    await settle(40);
    expect(data.written()).toBe("hello");
    data.finished();
    await settle(40);
    expect(lastReply(c)).toMatch(/^226 /);
  });

  it("runs the instrumented reducer and writes the session's log lines", async () => {
    const platform = new FakePlatform();
    const records: LogRecord[] = [];
    let steps = 0;
    const { coreReducer } = await import("./session.js");
    const server = new FtpServer(platform, { log: (r) => records.push(r), logLevel: "debug" }, { reducer: { ...coreReducer, step: (s, e) => (steps++, coreReducer.step(s, e)) } });
    await server.listen();
    const c = platform.last.connect({ address: "not-an-ip", port: 9 });
    expect(lastReply(c)).toMatch(/^220 /);
    expect(steps).toBeGreaterThan(0);
    c.close();
    expect(records.map((r) => r.event)).toEqual(expect.arrayContaining(["session.open", "session.close"]));
    expect(records.every((r) => r.event === "fault" || !("session" in r) || (r.session === 1 && r.client === "not-an-ip"))).toBe(true);
  });
});

describe("FtpServer on the fake platform: TLS, backpressure, foreign data connections, ASCII", () => {
  it("AUTH TLS upgrades the control connection; PROT P data is upgraded too", async () => {
    const tls = new FakeTls();
    const platform = new FakePlatform({ tls, tree: { pub: { "a.txt": "hello" } } });
    const h = await start({ tls: {}, passivePorts: { min: 50000, max: 50000 } }, platform);
    const raw = h.connect();
    await send(raw, "AUTH TLS");
    expect(lastReply(raw)).toMatch(/^234 /);
    expect(tls.upgrades).toHaveLength(0);
    await hello(raw);
    expect(tls.upgrades).toHaveLength(1);
    const c = tls.upgrades[0]!.resolve();
    await settle(40);
    await send(c, "USER anonymous");
    await send(c, "PASS x");
    expect(lastReply(c)).toMatch(/^230 /);
    await send(c, "PBSZ 0");
    await send(c, "PROT P");
    expect(lastReply(c)).toMatch(/^200 /);
    await send(c, "PASV");
    const rawData = h.platform.last.connect({ address: CLIENT.address, port: 4200 });
    await send(c, "RETR /pub/a.txt");
    await settle(40);
    expect(tls.upgrades).toHaveLength(2);
    expect(tls.upgrades[1]!.socket).toBe(rawData);
    const data = tls.upgrades[1]!.resolve();
    await settle(40);
    expect(data.written()).toBe("hello");
    data.finished();
    await settle(40);
    expect(lastReply(c)).toMatch(/^226 /);
    expect(raw.written()).not.toContain("230");
  });

  it("a control writer backed up pauses reading until it drains", async () => {
    const h = await start();
    const c = h.connect();
    expect(c.paused).toBe(false);
    c.buffered = 10 * 1024 * 1024;
    await send(c, "NOOP");
    expect(c.paused).toBe(true);
    c.drain();
    expect(c.paused).toBe(false);
  });

  it("a data connection from a foreign address is rejected; the client's own is used", async () => {
    const h = await start({ passivePorts: { min: 50000, max: 50000 } });
    const c = await loggedIn(h);
    await send(c, "PASV");
    const listener = h.platform.last;
    const foreign = listener.connect({ address: "203.0.113.99", port: 1234 });
    expect(foreign.destroyed).toBe(true);
    const own = listener.connect({ address: CLIENT.address, port: 4300 });
    await send(c, "RETR /pub/a.txt");
    await settle(40);
    expect(own.written()).toBe("hello");
    expect(foreign.written()).toBe("");
  });

  it("an ASCII upload turns CRLF into LF; MFMT sets the modification time", async () => {
    const h = await start({ users: [{ user: "alice", password: "pw" }], write: true, passivePorts: { min: 50000, max: 50000 } });
    const c = await loggedIn(h, "alice", "pw");
    await send(c, "TYPE A");
    let data = await passive(h, c);
    await send(c, "STOR /t.txt");
    data.data("one\r\ntwo\r");
    data.data("\n");
    data.peerEnd();
    await settle(40);
    data.finished();
    await settle(40);
    expect(lastReply(c)).toMatch(/^226 /);
    await send(c, "TYPE I");
    await send(c, "SIZE /t.txt");
    expect(lastReply(c)).toBe("213 8");
    await send(c, "MFMT 20200102030405 /t.txt");
    expect(lastReply(c)).toMatch(/^213 /);
    await send(c, "MDTM /t.txt");
    expect(lastReply(c)).toBe("213 20200102030405");
    data = await passive(h, c);
    await send(c, "RETR /t.txt");
    await settle(40);
    expect(data.written()).toBe("one\ntwo\n");
  });
});

/** The in-memory fs with a reader the test shapes (a recycle hook, a read that breaks). */
function shapedFs(options: { recycle?: (chunk: Uint8Array) => void; failWith?: Error }): Vfs {
  const inner = new MemoryFs({ pub: { "a.txt": "hello" } });
  return new Proxy(inner, {
    get(target, key, receiver) {
      if (key !== "read") return Reflect.get(target, key, receiver) as unknown;
      return async (path: string, offset: number): Promise<VfsReader> => {
        const reader = await target.read(path, offset);
        const failWith = options.failWith;
        return {
          chunks: failWith === undefined
            ? () => reader.chunks()
            : async function* () {
                yield await Promise.resolve(new Uint8Array([104, 105]));
                throw failWith;
              },
          ...(options.recycle === undefined ? {} : { recycle: options.recycle }),
          close: () => reader.close(),
        };
      };
    },
  });
}

describe("FtpServer on the fake platform: file readers", () => {
  it("a reader's recycle hook runs once the chunk is flushed to the kernel", async () => {
    const recycled: number[] = [];
    const h = await start({ vfs: shapedFs({ recycle: (chunk) => recycled.push(chunk.length) }), passivePorts: { min: 50000, max: 50000 } });
    const c = await loggedIn(h);
    await send(c, "TYPE I");
    const data = await passive(h, c);
    data.holdFlushes = true;
    await send(c, "RETR /pub/a.txt");
    await settle(40);
    expect(data.written()).toBe("hello");
    expect(recycled).toEqual([]);
    data.flush();
    expect(recycled).toEqual([5]);
    data.finished();
    await settle(40);
    expect(lastReply(c)).toMatch(/^226 /);
  });

  it("a reader that breaks with a plain Error fails the transfer on the file side (451)", async () => {
    const h = await start({ vfs: shapedFs({ failWith: new Error("EIO") }), passivePorts: { min: 50000, max: 50000 } });
    const c = await loggedIn(h);
    const data = await passive(h, c);
    await send(c, "RETR /pub/a.txt");
    await settle(60);
    expect(data.written()).toBe("hi");
    expect(lastReply(c)).toMatch(/^451 /);
    expect(h.records).toContainEqual(expect.objectContaining({ level: "warn", event: "message", message: expect.stringContaining("EIO") as string }));
    expect(h.records).toContainEqual(expect.objectContaining({ level: "warn", event: "transfer", outcome: "failed", reason: "file-io", code: 451 }));
  });

  it("a reader that breaks with a VfsError keeps its kind", async () => {
    const h = await start({ vfs: shapedFs({ failWith: new VfsError("permission") }), passivePorts: { min: 50000, max: 50000 } });
    const c = await loggedIn(h);
    await passive(h, c);
    await send(c, "RETR /pub/a.txt");
    await settle(60);
    expect(lastReply(c)).toMatch(/^(451|550) /);
  });

  it("ABOR while the data connection's TLS handshake is still running sends nothing", async () => {
    const tls = new FakeTls();
    const platform = new FakePlatform({ tls, tree: { pub: { "a.txt": "hello" } } });
    const h = await start({ tls: {}, passivePorts: { min: 50000, max: 50000 } }, platform);
    const raw = h.connect();
    await send(raw, "AUTH TLS");
    await hello(raw);
    const c = tls.upgrades[0]!.resolve();
    await settle(40);
    await send(c, "USER anonymous");
    await send(c, "PASS x");
    await send(c, "PBSZ 0");
    await send(c, "PROT P");
    const rawData = await passive(h, c);
    await send(c, "RETR /pub/a.txt");
    await send(c, "ABOR");
    expect(rawData.destroyed).toBe(true);
    const late = tls.upgrades[1]!.resolve();
    await settle(40);
    expect(late.destroyed).toBe(true);
    expect(late.written()).toBe("");
  });
});

describe("FtpServer passive listeners per client address", () => {
  /** Passive listeners not closed yet. */
  function open(h: Harness): number {
    return h.platform.listeners.filter((l) => l.port !== 2121 && !l.closed).length;
  }

  it("a client over maxPassivePerIp gets 425 on PASV and EPSV and no listener; other addresses and freed slots still work", async () => {
    const h = await start({ maxPassivePerIp: 2, passivePorts: { min: 50000, max: 50099 } });
    const a = await loggedIn(h);
    const b = await loggedIn(h);
    const c = await loggedIn(h);
    await send(a, "PASV");
    await send(b, "EPSV");
    expect(lastReply(a)).toMatch(/^227 /);
    expect(lastReply(b)).toMatch(/^229 /);
    const requests = h.platform.listenRequests.length;
    await send(c, "PASV");
    expect(lastReply(c)).toBe("425 Can't open passive connection.");
    await send(c, "EPSV");
    expect(lastReply(c)).toBe("425 Can't open passive connection.");
    expect(h.platform.listenRequests).toHaveLength(requests);
    expect(open(h)).toBe(2);
    const other = h.connect({ address: "198.51.100.77", port: 5 });
    await send(other, "USER anonymous");
    await send(other, "PASS x");
    await send(other, "PASV");
    expect(lastReply(other)).toMatch(/^227 /);
    // A's session ends: its slot is free for C at once.
    a.close();
    await send(c, "PASV");
    expect(lastReply(c)).toMatch(/^227 /);
    // B's client connects: the listener closes, and its slot goes with it.
    h.platform.listeners.filter((l) => l.port !== 2121 && !l.closed)[0]!.connect({ address: CLIENT.address, port: 4200 });
    await settle(40);
    const d = await loggedIn(h);
    await send(d, "PASV");
    expect(lastReply(d)).toMatch(/^227 /);
  });

  it("without maxPassivePerIp, one address may hold at most a quarter of a small range", async () => {
    const h = await start({ passivePorts: { min: 50000, max: 50007 } });
    const sessions = [await loggedIn(h), await loggedIn(h), await loggedIn(h)];
    for (const s of sessions) await send(s, "PASV");
    expect(sessions.map((s) => lastReply(s).slice(0, 3))).toEqual(["227", "227", "425"]);
    const other = h.connect({ address: "198.51.100.77", port: 5 });
    await send(other, "USER anonymous");
    await send(other, "PASS x");
    await send(other, "PASV");
    expect(lastReply(other)).toMatch(/^227 /);
  });

  it("PASV again, EPSV, PORT and EPRT (even refused) close the session's listener at once, so it holds one at most", async () => {
    const h = await start({ maxPassivePerIp: 1, passivePorts: { min: 50000, max: 50099 } });
    const a = await loggedIn(h);
    for (let i = 0; i < 20; i++) {
      await send(a, i % 2 === 0 ? "PASV" : "EPSV");
      expect(lastReply(a)).toMatch(/^22[79] /);
      expect(open(h)).toBe(1);
    }
    for (const refused of ["PORT 198,51,100,1,0,80", "EPRT |1|203.0.113.9|5000|", "EPSV 2", "PORT 1,2"]) {
      await send(a, "PASV");
      expect(open(h), refused).toBe(1);
      await send(a, refused);
      expect(lastReply(a), refused).toMatch(/^50[14] |^522 /);
      expect(open(h), refused).toBe(0);
    }
    await send(a, "PASV");
    await send(a, "PORT 198,51,100,1,200,10");
    expect(lastReply(a)).toMatch(/^200 /);
    expect(open(h)).toBe(0);
    const b = await loggedIn(h);
    await send(b, "PASV");
    expect(lastReply(b)).toMatch(/^227 /);
  });

  it("refuses a maxPassivePerIp that is not a positive whole number", () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => new FtpServer(new FakePlatform(), { maxPassivePerIp: bad }), String(bad)).toThrow(RangeError);
  });
});

describe("FtpServer session slots: every wait before a session is usable frees its slot", () => {
  const tlsStart = async (options: ServerOptions = {}): Promise<{ h: Harness; tls: FakeTls }> => {
    const tls = new FakeTls();
    const platform = new FakePlatform({ tls, tree: { pub: { "a.txt": "hello" } } });
    return { h: await start({ tls: {}, passivePorts: { min: 50000, max: 50000 }, ...options }, platform), tls };
  };
  /** Whether a new connection is greeted (220) or refused at the cap (421). */
  const greeted = (h: Harness, port: number): boolean => {
    const probe = h.connect({ address: "198.51.100.77", port });
    const first = replies(probe)[0] ?? "";
    probe.close();
    return first.startsWith("220 ");
  };

  it("a logged-in session stalled in AUTH TLS is cut after 10 s by default, and its slot is free", async () => {
    const { h, tls } = await tlsStart({ maxSessions: 1 });
    const a = await loggedIn(h);
    await send(a, "AUTH TLS");
    expect(lastReply(a)).toMatch(/^234 /);
    await hello(a);
    expect(tls.upgrades).toHaveLength(1);
    expect(greeted(h, 1)).toBe(false);
    // Neither the idle nor the login deadline runs while AUTH waits: only the handshake's bounds it.
    h.platform.clock.advance(9_999);
    await settle();
    expect(a.destroyed).toBe(false);
    h.platform.clock.advance(1);
    await settle();
    expect(a.destroyed).toBe(true);
    expect(h.server.sessionCount).toBe(0);
    expect(greeted(h, 2)).toBe(true);
    tls.upgrades[0]!.reject(new Error("socket destroyed"));
    await settle();
    expect(greeted(h, 3)).toBe(true);
    // Cut without a reply: mid-handshake nothing can be read.
    expect(lastReply(a)).toMatch(/^234 /);
  });

  it("a session whose client never starts the handshake after 234 gets a plaintext 421 at the deadline, then a close, and its slot is free", async () => {
    const { h, tls } = await tlsStart({ maxSessions: 1, tlsHandshakeTimeoutMs: 3_000 });
    const a = await loggedIn(h);
    await send(a, "AUTH TLS\r\nNOOP");
    expect(lastReply(a)).toMatch(/^234 /);
    expect(greeted(h, 1)).toBe(false);
    h.platform.clock.advance(2_999);
    await settle();
    expect(lastReply(a)).toMatch(/^234 /);
    h.platform.clock.advance(1);
    await settle();
    // Flushed, then a FIN (not a cut): the client reads why.
    expect(lastReply(a)).toBe("421 TLS handshake timed out.");
    expect(a.endCalls).toBe(1);
    expect(a.destroyed).toBe(false);
    expect(tls.upgrades).toHaveLength(0);
    // The client's close on our FIN gives the slot back.
    a.peerEnd();
    a.close();
    await settle();
    expect(h.records).toContainEqual(expect.objectContaining({ event: "session.close", reason: "tls-timeout" }));
    expect(h.server.sessionCount).toBe(0);
    expect(greeted(h, 2)).toBe(true);
    expect(h.platform.clock.pending).toBe(0);
  });

  it("tlsHandshakeTimeoutMs sets the handshake deadline; it must be positive", async () => {
    const { h } = await tlsStart({ maxSessions: 1, tlsHandshakeTimeoutMs: 2_000 });
    const a = h.connect();
    await send(a, "AUTH TLS");
    await hello(a);
    h.platform.clock.advance(1_999);
    await settle();
    expect(a.destroyed).toBe(false);
    h.platform.clock.advance(1);
    await settle();
    expect(a.destroyed).toBe(true);
    expect(greeted(h, 1)).toBe(true);
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) expect(() => new FtpServer(new FakePlatform({ tls: new FakeTls() }), { tls: {}, tlsHandshakeTimeoutMs: bad })).toThrow(RangeError);
  });

  it("a failed handshake cuts the connection at once: no close grace on a socket that cannot carry a reply", async () => {
    const { h, tls } = await tlsStart({ maxSessions: 1 });
    const a = await loggedIn(h);
    await send(a, "AUTH TLS");
    await hello(a);
    tls.upgrades[0]!.reject(new Error("wrong version number"));
    await settle();
    expect(a.destroyed).toBe(true);
    expect(h.server.sessionCount).toBe(0);
    expect(greeted(h, 1)).toBe(true);
    expect(h.platform.clock.pending).toBe(0);
  });

  it("a reset mid-handshake gives the slot back exactly once, and leaves no timer behind", async () => {
    const { h, tls } = await tlsStart({ maxSessions: 2 });
    const a = h.connect();
    await send(a, "AUTH TLS");
    await hello(a);
    a.fail("ECONNRESET");
    a.close();
    await settle();
    expect(h.server.sessionCount).toBe(0);
    expect(h.platform.clock.pending).toBe(0);
    tls.upgrades[0]!.reject(new Error("ECONNRESET"));
    await settle();
    // Two slots: two more sessions fit, a third does not (a double release would let it in).
    const b = h.connect();
    const c = h.connect();
    expect(lastReply(b)).toMatch(/^220 /);
    expect(lastReply(c)).toMatch(/^220 /);
    expect(greeted(h, 1)).toBe(false);
  });

  it("close() during a handshake cuts the session after the grace period and frees its slot", async () => {
    const { h } = await tlsStart({ maxSessions: 1 });
    const a = h.connect();
    await send(a, "AUTH TLS");
    const closing = track(h.server.close());
    await settle();
    h.platform.clock.advance(CLOSE_GRACE_MS);
    await settle();
    expect(a.destroyed).toBe(true);
    expect(closing.state).toBe("resolved");
    expect(h.server.sessionCount).toBe(0);
    expect(h.platform.clock.pending).toBe(0);
  });

  it("connections refused at the cap never count, even while their 421 is still open", async () => {
    const h = await start({ maxSessions: 1 });
    const a = h.connect();
    const refused = [1, 2, 3].map((port) => h.connect({ address: "198.51.100.5", port }));
    for (const r of refused) expect(lastReply(r)).toMatch(/^421 /);
    expect(h.server.sessionCount).toBe(4);
    a.close();
    const b = h.connect();
    expect(lastReply(b)).toMatch(/^220 /);
    expect(greeted(h, 9)).toBe(false);
  });

  it("a connection that never logs in frees its slot at the login deadline, REIN or not", async () => {
    const h = await start({ maxSessions: 1, core: { timeouts: { login: 10_000, idle: 60_000 } } });
    const a = h.connect();
    h.platform.clock.advance(9_000);
    await send(a, "REIN");
    expect(lastReply(a)).toMatch(/^220 /);
    h.platform.clock.advance(1_000);
    await settle();
    expect(lastReply(a)).toBe("421 Login timeout.");
    // The peer never reads or closes: the control close grace cuts it.
    h.platform.clock.advance(CONTROL_CLOSE_GRACE_MS);
    await settle();
    expect(a.destroyed).toBe(true);
    expect(greeted(h, 1)).toBe(true);
  });

  it("a PROT P data connection stalled in its handshake fails the transfer at the handshake deadline, not the stall timeout", async () => {
    const { h, tls } = await tlsStart({ tlsHandshakeTimeoutMs: 5_000 });
    const raw = h.connect();
    await send(raw, "AUTH TLS");
    await hello(raw);
    const c = tls.upgrades[0]!.resolve();
    await settle(40);
    await send(c, "USER anonymous");
    await send(c, "PASS x");
    await send(c, "PBSZ 0");
    await send(c, "PROT P");
    const rawData = await passive(h, c);
    rawData.data(new Uint8Array([0x16, 0x03, 0x01, 0x01, 0x00]));
    await send(c, "RETR /pub/a.txt");
    expect(lastReply(c)).toMatch(/^150 /);
    expect(tls.upgrades).toHaveLength(2);
    h.platform.clock.advance(4_999);
    await settle(40);
    expect(rawData.destroyed).toBe(false);
    h.platform.clock.advance(1);
    await settle(40);
    expect(rawData.destroyed).toBe(true);
    expect(lastReply(c)).toMatch(/^425 /);
    // The session is usable again.
    await send(c, "NOOP");
    expect(lastReply(c)).toMatch(/^200 /);
    expect(c.destroyed).toBe(false);
  });
});

describe("FtpServer reload", () => {
  const login = async (c: FakeSocket, user: string, password: string): Promise<string> => {
    await send(c, `USER ${user}`);
    await send(c, `PASS ${password}`);
    return lastReply(c);
  };

  it("new sessions get the new users and passive range; a session opened before keeps its own, transfers included", async () => {
    const records: LogRecord[] = [];
    const log = (record: LogRecord): void => {
      records.push(record);
    };
    const base: ServerOptions = { root: "/data", log, anonymous: false, passivePorts: { min: 50000, max: 50000 } };
    const h = await start({ ...base, users: [{ user: "alice", password: "pw" }] }, new FakePlatform({ tree: { "a.txt": "hello" } }));
    const reloads: unknown[] = [];
    h.server.on("reload", (r) => reloads.push(r));
    const old = h.connect();
    expect(await login(old, "alice", "pw")).toMatch(/^230 /);
    const result = await h.server.reload({ ...base, users: [{ user: "bob", password: "pw2", home: "/homes/bob" }], passivePorts: { min: 50001, max: 50001 } });
    expect(result).toEqual({ changed: ["passivePorts", "users"], needRestart: [] });
    expect(reloads).toEqual([result]);
    // The new home is pinned by the reload itself, before anyone logs in.
    expect(h.platform.fsRoots).toEqual(["/data", "/homes/bob"]);
    // The old session still has alice's account, its range and its transfer.
    await send(old, "PASV");
    expect(lastReply(old)).toMatch(/,195,80\)\.$/);
    const data = h.platform.last.connect({ address: CLIENT.address, port: 4001 });
    await send(old, "RETR a.txt");
    await settle(40);
    expect(data.written()).toBe("hello");
    data.finished();
    await settle(40);
    expect(lastReply(old)).toMatch(/^226 /);
    const fresh = h.connect({ address: "198.51.100.2", port: 4002 });
    expect(await login(fresh, "alice", "pw")).toMatch(/^331 /);
    h.platform.clock.advance(5_000);
    await settle(40);
    expect(lastReply(fresh)).toMatch(/^530 /);
    expect(await login(fresh, "bob", "pw2")).toMatch(/^230 /);
    await send(fresh, "PASV");
    expect(lastReply(fresh)).toMatch(/,195,81\)\.$/);
    // A login in a session opened before the reload checks the accounts in force now.
    await send(old, "REIN");
    expect(lastReply(old)).toMatch(/^220 /);
    expect(await login(old, "alice", "pw")).toMatch(/^331 /);
    h.platform.clock.advance(5_000);
    await settle(40);
    expect(lastReply(old)).toMatch(/^530 /);
    expect(await login(old, "bob", "pw2")).toMatch(/^230 /);
    // Nothing changed: nothing reported.
    expect(await h.server.reload({ ...base, users: [{ user: "bob", password: "pw2", home: "/homes/bob" }], passivePorts: { min: 50001, max: 50001 } })).toEqual({ changed: [], needRestart: [] });
  });

  it("an invalid reload rejects and changes nothing; a home that cannot be pinned is tried again by the next reload", async () => {
    const platform = new FakePlatform({ tree: { pub: { "a.txt": "hello" } } });
    const local = platform.localFs.bind(platform);
    let gone = true;
    platform.localFs = (root: string) => (root === "/later" && gone ? Object.assign(new MemoryFs({}), { guarantee: Promise.reject(new VfsError("not-found", "ENOENT")) }) : local(root));
    const h = await start({ root: "/data", users: [{ user: "alice", password: "pw" }] }, platform);
    await expect(h.server.reload({ root: "/data", passivePorts: { min: 100, max: 200 } })).rejects.toThrow(RangeError);
    await expect(h.server.reload({ root: "/data", maxPassivePerIp: 0 })).rejects.toThrow(/passive listener cap/);
    await expect(h.server.reload({ root: "/data", bans: { after: -1 } })).rejects.toThrow(/ban threshold/);
    await expect(h.server.reload({ root: "/data", users: [{ user: "eve", password: "pw", home: "../etc" }] })).rejects.toThrow(/the home \.\.\/etc must be a directory/);
    await expect(h.server.reload({ root: "/data", tls: {} })).rejects.toThrow("TLS is not available on this platform");
    await expect(h.server.reload({ root: "/data", users: [{ user: "bob", password: "pw", home: "/later" }] })).rejects.toThrow(/the root \/later cannot be served/);
    // A build that fails after it met the home (a later user is wrong) does not keep the home's failed pin either.
    await expect(h.server.reload({ root: "/data", users: [{ user: "bob", password: "pw", home: "/later" }, { user: "eve", password: "pw", home: "../etc" }] })).rejects.toThrow(/the home \.\.\/etc/);
    await expect(h.server.reload({ root: "/data", users: [{ user: "bob", password: "pw", home: "/later" }, { user: "eve", passwordHash: "plain" }] })).rejects.toThrow(/not a recognised hash/);
    // Still alice, still anonymous.
    const c = h.connect();
    expect(await login(c, "alice", "pw")).toMatch(/^230 /);
    gone = false;
    expect((await h.server.reload({ root: "/data", users: [{ user: "bob", password: "pw", home: "/later" }] })).changed).toEqual(["log", "users"]);
    const d = h.connect();
    expect(await login(d, "bob", "pw")).toMatch(/^230 /);
  });

  it("a changed root or vfs needs a restart: reported, not applied", async () => {
    const h = await start({ root: "/data" });
    const vfs = new MemoryFs({});
    const result = await h.server.reload({ root: "/elsewhere", vfs, anonymous: true });
    expect(result.needRestart).toEqual(["root", "vfs"]);
    expect(result.changed).toEqual(["anonymous", "log"]);
    const c = h.connect();
    expect(await login(c, "anonymous", "x")).toMatch(/^230 /);
    expect(h.platform.fsRoots).toEqual(["/data"]);
  });

  it("new caps apply to newcomers; admitted sessions keep their slots; bans keep their history under new rules", async () => {
    const log = (): void => undefined;
    const users = [{ user: "alice", password: "pw" }];
    const h = await start({ log, users, loginFailDelayMs: 0, bans: { after: 3, windowMs: 60_000, durationMs: 30_000 } });
    const a = h.connect();
    const b = h.connect();
    // One failure before the reload, under a threshold of 3.
    await login(a, "alice", "wrong");
    h.platform.clock.advance(10);
    await settle(40);
    expect(lastReply(a)).toMatch(/^530 /);
    await h.server.reload({ log, users, loginFailDelayMs: 0, maxSessions: 2, bans: { after: 2, windowMs: 60_000, durationMs: 30_000 } });
    const refused = h.connect({ address: "198.51.100.3", port: 1 });
    expect(lastReply(refused)).toMatch(/^421 /);
    expect(lastReply(b)).toMatch(/^220 /);
    b.close();
    // The second failure bans under the new threshold of 2: the first one was remembered.
    await login(a, "alice", "wrong");
    h.platform.clock.advance(10);
    await settle(40);
    expect(h.events.filter((e) => e.name === "ban")).toHaveLength(1);
    const banned = h.connect();
    await settle(40);
    expect(lastReply(banned)).toMatch(/^421 /);
    banned.close();
    // Bans off: the address is let in again at once.
    await h.server.reload({ log, users, loginFailDelayMs: 0, bans: false });
    a.close();
    const d = h.connect();
    await settle(40);
    expect(lastReply(d)).toMatch(/^220 /);
  });

  it("a new certificate is for new handshakes: a session opened before keeps its own, data connections too; a bad one changes nothing", async () => {
    const tls = new FakeTls();
    const platform = new FakePlatform({ tls, tree: { pub: { "a.txt": "hello" } } });
    const log = (): void => undefined;
    const options: ServerOptions = { log, tls: { key: "k1", cert: "c1" }, passivePorts: { min: 50000, max: 50001 } };
    const h = await start(options, platform);
    const old = h.connect();
    await send(old, "AUTH TLS");
    await hello(old);
    const oldSecure = tls.upgrades[0]!.resolve();
    await settle(40);
    await expect(h.server.reload({ ...options, tls: { key: "k2", cert: "bad" } })).rejects.toThrow("bad certificate");
    // The material it was made with makes no new context.
    expect(await h.server.reload(options)).toEqual({ changed: [], needRestart: [] });
    expect(tls.renewed).toEqual([]);
    expect(await h.server.reload({ ...options, tls: { key: "k2", cert: new TextEncoder().encode("c2") } })).toEqual({ changed: ["tls"], needRestart: [] });
    expect(tls.renewed.map((t) => t.credentials)).toEqual([{ key: "k2", cert: new TextEncoder().encode("c2") }]);
    const renewed = tls.renewed[0]!;
    // The old upgrader is told no new session comes (Deno then frees its private listener once idle).
    expect(tls.retired).toBe(1);
    expect(renewed.retired).toBe(0);
    const fresh = h.connect({ address: CLIENT.address, port: 4100 });
    await send(fresh, "AUTH TLS");
    expect(lastReply(fresh)).toMatch(/^234 /);
    await hello(fresh);
    expect(renewed.upgrades.map((u) => u.socket)).toEqual([fresh]);
    expect(tls.upgrades).toHaveLength(1);
    // The old session's PROT P data connection still goes through the old upgrader.
    expect(await login(oldSecure, "anonymous", "x")).toMatch(/^230 /);
    await send(oldSecure, "PBSZ 0");
    await send(oldSecure, "PROT P");
    await send(oldSecure, "PASV");
    const rawData = h.platform.last.connect({ address: CLIENT.address, port: 4200 });
    await send(oldSecure, "RETR /pub/a.txt");
    await settle(40);
    expect(tls.upgrades.map((u) => u.socket)).toEqual([old, rawData]);
    expect(renewed.upgrades).toHaveLength(1);
    // Bytes equal (same content, another array) are the same certificate.
    expect(await h.server.reload({ ...options, tls: { key: "k2", cert: new TextEncoder().encode("c2") } })).toEqual({ changed: [], needRestart: [] });
    expect(renewed.renewed).toEqual([]);
    // A reload that fails after its certificate was made retires that one, never the one in use.
    const local = platform.localFs.bind(platform);
    platform.localFs = (root: string) => (root === "/missing" ? Object.assign(new MemoryFs({}), { guarantee: Promise.reject(new VfsError("not-found", "ENOENT")) }) : local(root));
    await expect(h.server.reload({ ...options, tls: { key: "k3", cert: "c3" }, users: [{ user: "u", password: "p", home: "/missing" }] })).rejects.toThrow(/cannot be served/);
    expect(renewed.renewed.map((t) => t.retired)).toEqual([1]);
    expect(renewed.retired).toBe(0);
    expect(tls.retired).toBe(1);
    void h.server.close();
    expect(renewed.retired).toBe(1);
  });

  it("refuses once close() was called", async () => {
    const h = await start();
    void h.server.close();
    await expect(h.server.reload({})).rejects.toThrow("the server is stopping");
  });
});

describe("FtpServer implicit TLS listener", () => {
  const implicitStart = async (options: ServerOptions = {}): Promise<{ h: Harness; tls: FakeTls; implicit: FakeListener }> => {
    const tls = new FakeTls();
    const platform = new FakePlatform({ tls, tree: { pub: { "a.txt": "hello" } } });
    const h = await start({ tls: {}, passivePorts: { min: 50000, max: 50000 }, ...options }, platform);
    await h.server.listen(990, "127.0.0.1", { implicitTls: true });
    return { h, tls, implicit: platform.last };
  };

  it("greets only after the handshake, inside TLS, with data protection P; the plain listener serves beside it", async () => {
    const { h, tls, implicit } = await implicitStart();
    const raw = implicit.connect(CLIENT);
    await settle();
    expect(raw.written()).toBe("");
    expect(tls.upgrades).toHaveLength(1);
    const secure = tls.upgrades[0]!.resolve();
    await settle(40);
    expect(replies(secure)[0]).toMatch(/^220 /);
    await send(secure, "AUTH TLS");
    expect(lastReply(secure)).toMatch(/^503 /);
    await send(secure, "USER anonymous");
    await send(secure, "PASS x");
    await send(secure, "STAT");
    expect(secure.written()).toContain("data protection: Private");
    // A protected data connection: the data handshake is asked for without any PROT P.
    const data = await passive(h, secure);
    await send(secure, "RETR /pub/a.txt");
    expect(tls.upgrades).toHaveLength(2);
    expect(tls.upgrades[1]!.socket).toBe(data);
    const plain = h.connect({ address: "198.51.100.9", port: 4000 });
    expect(replies(plain)[0]).toMatch(/^220 /);
  });

  it("a connection that never completes the handshake is cut at the deadline without a reply and frees its slot", async () => {
    const { h, tls, implicit } = await implicitStart({ maxSessions: 1, tlsHandshakeTimeoutMs: 3_000 });
    const raw = implicit.connect(CLIENT);
    await settle();
    // It holds the one slot while it shakes hands.
    const refused = h.connect({ address: "198.51.100.9", port: 4000 });
    expect(replies(refused)[0]).toMatch(/^421 /);
    refused.close();
    await settle();
    h.platform.clock.advance(2_999);
    await settle();
    expect(raw.destroyed).toBe(false);
    h.platform.clock.advance(1);
    await settle();
    expect(raw.destroyed).toBe(true);
    tls.upgrades[0]!.reject(new Error("socket destroyed"));
    await settle();
    expect(raw.written()).toBe("");
    expect(h.records).toContainEqual(expect.objectContaining({ event: "message", client: "198.51.100.1", message: "implicit TLS handshake timed out; closed without a reply" }));
    const next = h.connect({ address: "198.51.100.9", port: 4001 });
    expect(replies(next)[0]).toMatch(/^220 /);
  });

  it("a handshake that fails (a plaintext client) closes at once with one log line", async () => {
    const { h, tls, implicit } = await implicitStart();
    const raw = implicit.connect(CLIENT);
    await settle();
    tls.upgrades[0]!.reject(new Error("wrong version number"));
    await settle();
    expect(raw.destroyed).toBe(true);
    expect(raw.written()).toBe("");
    expect(h.records.filter((r) => r.event === "message" && r.message.includes("implicit TLS")).map((r) => (r.event === "message" ? r.message : ""))).toEqual(["implicit TLS handshake failed: wrong version number; closed without a reply"]);
    expect(h.server.sessionCount).toBe(0);
  });

  it("needs the tls option, one listener of each kind, and close() cuts handshakes in progress", async () => {
    const bare = await start();
    await expect(bare.server.listen(990, "127.0.0.1", { implicitTls: true })).rejects.toThrow("implicit TLS needs the tls option");
    const { h, implicit } = await implicitStart();
    await expect(h.server.listen(991, "127.0.0.1", { implicitTls: true })).rejects.toThrow("already listening");
    const raw = implicit.connect(CLIENT);
    await settle();
    await h.server.close();
    expect(raw.destroyed).toBe(true);
    expect(implicit.closed).toBe(true);
  });
});

describe("FtpServer behind a load balancer (proxyProtocol)", () => {
  const LB = { address: "10.0.0.2", port: 51000 };
  const proxy = { proxyProtocol: { from: ["10.0.0.0/24"] } } as const;
  const header = (client: { address: string; port: number }, port = 2121): string => `PROXY TCP4 ${client.address} 10.0.0.1 ${client.port} ${port}\r\n`;

  it("reads the header before the greeting; the client it names is the session's everywhere", async () => {
    const h = await start(proxy);
    const c = h.connect(LB);
    await settle(40);
    expect(c.written()).toBe("");
    c.data(`${header(CLIENT)}USER anonymous\r\n`);
    await settle(40);
    expect(replies(c)).toEqual([expect.stringMatching(/^220 /), expect.stringMatching(/^331 /)]);
    expect(h.events[0]).toEqual({ name: "session-open", event: { id: 1, remote: CLIENT } });
    expect(h.records).toContainEqual(expect.objectContaining({ event: "session.open", client: CLIENT.address, clientPort: CLIENT.port }));
  });

  it("cuts a connection that is not from the balancer, or sends no valid header, without a byte and without a session", async () => {
    const h = await start(proxy);
    const direct = h.connect(CLIENT);
    const garbage = h.connect(LB);
    garbage.data("USER anonymous\r\n");
    const silent = h.connect({ address: "10.0.0.3", port: 1 });
    await settle(40);
    for (const s of [direct, garbage]) {
      expect(s.destroyed).toBe(true);
      expect(s.written()).toBe("");
    }
    expect(h.server.sessionCount).toBe(0);
    expect(h.records.filter((r) => r.event === "proxy.refused")).toEqual([
      expect.objectContaining({ level: "warn", listener: "control", peer: CLIENT.address, reason: "not-from-proxy" }),
      expect.objectContaining({ level: "warn", listener: "control", peer: LB.address, reason: "malformed", detail: "not a PROXY protocol header" }),
    ]);
    // A stop cuts the one still waiting for its header.
    await h.server.close();
    expect(silent.destroyed).toBe(true);
    expect(silent.written()).toBe("");
  });

  it("caps and bans count the client's address, not the balancer's", async () => {
    const h = await start({ ...proxy, maxSessionsPerIp: 1, users: [{ user: "alice", password: "pw" }], loginFailDelayMs: 1, bans: { after: 1, windowMs: 60_000, durationMs: 60_000 } });
    const via = async (client: { address: string; port: number }): Promise<FakeSocket> => {
      const s = h.connect(LB);
      s.data(header(client));
      await settle(40);
      return s;
    };
    const one = await via(CLIENT);
    const other = await via({ address: "198.51.100.2", port: 4001 });
    const again = await via({ address: CLIENT.address, port: 4002 });
    expect(lastReply(one)).toMatch(/^220 /);
    expect(lastReply(other)).toMatch(/^220 /);
    expect(lastReply(again)).toMatch(/^421 /);
    await send(other, "USER alice");
    await send(other, "PASS wrong");
    expect(h.events.filter((e) => e.name === "ban").map((e) => (e.event as { address: string }).address)).toEqual(["198.51.100.2"]);
    one.peerEnd();
    one.close();
    await settle(40);
    const fresh = await via({ address: CLIENT.address, port: 4003 });
    expect(lastReply(fresh)).toMatch(/^220 /);
    const banned = await via({ address: "198.51.100.2", port: 4004 });
    expect(lastReply(banned)).toMatch(/^421 /);
  });

  it("227 names the address the client reached (the header's destination) unless publicAddress says otherwise; LOCAL falls back to the node's own", async () => {
    const pasvAddress = async (h: Awaited<ReturnType<typeof start>>, first: string): Promise<string> => {
      const c = h.connect(LB);
      c.data(first);
      await settle(40);
      await send(c, "USER anonymous");
      await send(c, "PASS x");
      await send(c, "PASV");
      return lastReply(c).replace(/^227 .*\((\d+),(\d+),(\d+),(\d+),.*$/s, "$1.$2.$3.$4");
    };
    expect(await pasvAddress(await start({ ...proxy, passivePorts: { min: 50000, max: 50000 } }), header(CLIENT))).toBe("10.0.0.1");
    expect(await pasvAddress(await start({ ...proxy, passivePorts: { min: 50000, max: 50000 }, publicAddress: "203.0.113.10" }), header(CLIENT))).toBe("203.0.113.10");
    // A health check's LOCAL header (v2) carries no addresses: the connection's own are used.
    const local = String.fromCharCode(0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0x20, 0x00, 0x00, 0x00);
    expect(await pasvAddress(await start({ ...proxy, passivePorts: { min: 50000, max: 50000 } }), local)).toBe("127.0.0.1");
  });

  it("a health check (LOCAL header) is greeted like a client, and its session is logged at debug, not info", async () => {
    const local = String.fromCharCode(0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0x20, 0x00, 0x00, 0x00);
    for (const logLevel of ["info", "debug"] as const) {
      const h = await start({ ...proxy, logLevel });
      const check = h.connect(LB);
      check.data(local);
      await settle(40);
      expect(replies(check)).toEqual([expect.stringMatching(/^220 /)]);
      check.close();
      const client = h.connect(LB);
      client.data(header(CLIENT));
      await settle(40);
      client.close();
      await settle(40);
      const sessions = h.records.filter((r) => r.event === "session.open" || r.event === "session.close");
      expect(sessions.filter((r) => r.level === "info").map((r) => r.client)).toEqual([CLIENT.address, CLIENT.address]);
      expect(sessions.filter((r) => r.level === "debug").map((r) => r.client)).toEqual(logLevel === "debug" ? [LB.address, LB.address] : []);
    }
  });

  it("a passive connection must come through the balancer with the control connection's client in its header", async () => {
    const h = await start({ ...proxy, passivePorts: { min: 50000, max: 50000 } });
    const c = h.connect(LB);
    c.data(header(CLIENT));
    await settle(40);
    await send(c, "USER anonymous");
    await send(c, "PASS x");
    await send(c, "PASV");
    expect(lastReply(c)).toMatch(/^227 /);
    const listener = h.platform.last;
    const direct = listener.connect(CLIENT);
    const foreign = listener.connect({ address: LB.address, port: 51001 });
    foreign.data(header({ address: "203.0.113.99", port: 1234 }, 50000));
    await settle(40);
    expect(direct.destroyed).toBe(true);
    expect(foreign.destroyed).toBe(true);
    expect(h.records).toContainEqual(expect.objectContaining({ event: "proxy.refused", listener: "data", peer: CLIENT.address, reason: "not-from-proxy" }));
    const own = listener.connect({ address: LB.address, port: 51002 });
    // The header and the first bytes of the connection in one chunk, as a balancer may send them.
    own.data(header({ address: CLIENT.address, port: 4300 }, 50000));
    await send(c, "RETR /pub/a.txt");
    await settle(40);
    expect(own.written()).toBe("hello");
    expect(foreign.written()).toBe("");
    own.finished();
    own.close();
    await settle(40);
    expect(lastReply(c)).toMatch(/^226 /);
  });

  it("AUTH TLS behind the balancer upgrades the real socket and keeps the client's address", async () => {
    const tls = new FakeTls();
    const platform = new FakePlatform({ tls, tree: { pub: { "a.txt": "hello" } } });
    const h = await start({ ...proxy, tls: {} }, platform);
    const raw = h.connect(LB);
    raw.data(`${header(CLIENT)}AUTH TLS\r\n`);
    await settle(40);
    expect(lastReply(raw)).toMatch(/^234 /);
    await hello(raw);
    expect(tls.upgrades[0]!.socket).toBe(raw);
    const secure = tls.upgrades[0]!.resolve();
    await settle(40);
    await send(secure, "USER anonymous");
    await send(secure, "PASS x");
    expect(lastReply(secure)).toMatch(/^230 /);
    expect(h.records).toContainEqual(expect.objectContaining({ event: "login", client: CLIENT.address, tls: true }));
  });

  it("a reload turns the PROXY protocol on for connections accepted from then on", async () => {
    const h = await start({});
    const before = h.connect(CLIENT);
    await settle(40);
    expect(lastReply(before)).toMatch(/^220 /);
    // (`log` differs too: the harness's sink is a closure of its own.)
    expect((await h.server.reload({ log: (r) => h.records.push(r), ...proxy })).changed).toEqual(["log", "proxyProtocol"]);
    const direct = h.connect(CLIENT);
    const via = h.connect(LB);
    via.data(header({ address: "198.51.100.3", port: 4005 }));
    await settle(40);
    expect(direct.destroyed).toBe(true);
    expect(direct.written()).toBe("");
    expect(lastReply(via)).toMatch(/^220 /);
    expect(h.events.filter((e) => e.name === "session-open").map((e) => (e.event as { remote: { address: string } }).remote.address)).toEqual([CLIENT.address, "198.51.100.3"]);
    await expect(h.server.reload({ ...proxy, proxyProtocol: { from: ["nope"] } })).rejects.toThrow(/"nope" is not an IP address/);
  });

  it("refuses a proxyProtocol.from that is not a list of blocks", () => {
    expect(() => new FtpServer(new FakePlatform(), { proxyProtocol: { from: ["10.0.0.0/33"] } })).toThrow(/is not an IP address or CIDR block/);
  });
});
