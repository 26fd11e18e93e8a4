import { describe, expect, it } from "vitest";
import { FakeClock, FakeSocket, FakeTls, settle, text } from "./fake-platform.test-helper.js";
import type { ByteSocket, SocketEvents } from "./platform.js";
import { checkProxyFrom, PROXY_HEADER_MS, ProxiedSocket, proxyAwareTls, ProxyGate, type ProxyRefused } from "./proxy-gate.js";

const BALANCER = { address: "10.0.0.2", port: 55000 };
const LOCAL = { address: "10.0.0.10", port: 2121 };

function gate(from: readonly string[] = ["10.0.0.0/24"]): { gate: ProxyGate; clock: FakeClock; refused: ProxyRefused[] } {
  const clock = new FakeClock();
  const refused: ProxyRefused[] = [];
  return { gate: new ProxyGate({ from }, clock, (r) => refused.push(r)), clock, refused };
}

/** Collects what a socket delivers. */
function sink(): SocketEvents & { log: string[] } {
  const log: string[] = [];
  return { log, data: (b) => log.push(`data:${text([b])}`), end: () => log.push("end"), error: (m) => log.push(`error:${m}`), drain: () => log.push("drain"), finished: () => log.push("finished"), close: () => log.push("close") };
}

describe("checkProxyFrom", () => {
  it("reads a list of blocks and names the first bad one", () => {
    expect(checkProxyFrom(["127.0.0.1", " 10.0.0.0/8 "]).map((c) => c.text)).toEqual(["127.0.0.1/32", "10.0.0.0/8"]);
    expect(() => checkProxyFrom(["10.0.0.0/8", "10.0.0.0/40"])).toThrow('proxyProtocol.from: "10.0.0.0/40" is not an IP address or CIDR block');
    expect(() => checkProxyFrom([])).toThrow(/at least one/);
  });

  it("refuses a header deadline that is not positive", () => {
    expect(() => new ProxyGate({ from: ["::1"], headerTimeoutMs: 0 }, new FakeClock(), () => undefined)).toThrow(/headerTimeoutMs/);
  });
});

describe("ProxyGate.admit", () => {
  it("cuts a connection from outside `from` at once, writing nothing", () => {
    const g = gate();
    const socket = new FakeSocket(LOCAL, { address: "203.0.113.5", port: 1 });
    let admitted = false;
    expect(g.gate.admit(socket, "control", () => (admitted = true))).toBeNull();
    expect(socket.destroyed).toBe(true);
    expect(socket.writes).toEqual([]);
    expect(admitted).toBe(false);
    expect(g.refused).toEqual([{ listener: "control", peer: { address: "203.0.113.5", port: 1 }, reason: "not-from-proxy", detail: null }]);
  });

  it("matches an IPv4-mapped balancer address against its IPv4 block", () => {
    const g = gate();
    const socket = new FakeSocket(LOCAL, { address: "::ffff:10.0.0.2", port: 1 });
    expect(g.gate.admit(socket, "control", () => undefined)).not.toBeNull();
    expect(socket.destroyed).toBe(false);
  });

  it("reads a header split in pieces, then hands over the client's socket with what followed, in order, only when resumed", async () => {
    const g = gate();
    const raw = new FakeSocket(LOCAL, BALANCER);
    let got: ByteSocket | null = null;
    g.gate.admit(raw, "control", (s) => (got = s));
    expect(raw.paused).toBe(false);
    raw.data("PROXY TCP4 198.51.100.7 10.0.0.1 4");
    expect(got).toBeNull();
    raw.data("0001 21\r\nUSER a\r\n");
    raw.data("PASS b\r\n");
    raw.peerEnd();
    expect(got).not.toBeNull();
    const s = got as unknown as ByteSocket;
    expect(raw.paused).toBe(true);
    expect(s.remote).toEqual({ address: "198.51.100.7", port: 40001 });
    expect(s.local).toEqual(LOCAL);
    const events = sink();
    s.attach(events);
    await settle();
    expect(events.log).toEqual([]);
    s.resume();
    await settle();
    expect(events.log).toEqual(["data:USER a\r\n", "data:PASS b\r\n", "end"]);
    expect(raw.paused).toBe(false);
    expect(g.refused).toEqual([]);
    expect(g.clock.pending).toBe(0);
  });

  it("stops replaying when paused mid-way and goes on when resumed", async () => {
    const g = gate();
    const raw = new FakeSocket(LOCAL, BALANCER);
    let got: ByteSocket | null = null;
    g.gate.admit(raw, "data", (s) => (got = s));
    raw.data("PROXY UNKNOWN\r\nA");
    raw.data("B");
    const s = got as unknown as ByteSocket;
    // UNKNOWN: the connection's own address.
    expect(s.remote).toEqual(BALANCER);
    const events: string[] = [];
    s.attach({ ...sink(), data: (b) => {
      events.push(text([b]));
      s.pause();
    } });
    s.resume();
    await settle();
    expect(events).toEqual(["A"]);
    expect(raw.paused).toBe(true);
    s.resume();
    await settle();
    expect(events).toEqual(["A", "B"]);
    expect(raw.paused).toBe(true);
    s.resume();
    expect(raw.paused).toBe(false);
  });

  it("a socket closed while paused with bytes unread still reports its close", () => {
    const g = gate();
    const raw = new FakeSocket(LOCAL, BALANCER);
    let got: ByteSocket | null = null;
    g.gate.admit(raw, "data", (s) => (got = s));
    raw.data("PROXY UNKNOWN\r\nupload bytes");
    const events = sink();
    (got as unknown as ByteSocket).attach(events);
    (got as unknown as ByteSocket).destroy();
    expect(events.log).toEqual(["close"]);
  });

  it.each([
    ["a malformed header", (raw: FakeSocket) => raw.data("USER anonymous\r\n"), "malformed"],
    ["a close before the header", (raw: FakeSocket) => raw.peerEnd(), "closed"],
    ["a reset before the header", (raw: FakeSocket) => raw.fail(), "closed"],
  ] as const)("cuts the connection without a byte on %s", (_, act, reason) => {
    const g = gate();
    const raw = new FakeSocket(LOCAL, BALANCER);
    let admitted = false;
    g.gate.admit(raw, "control", () => (admitted = true));
    act(raw);
    expect(raw.destroyed).toBe(true);
    expect(raw.writes).toEqual([]);
    expect(admitted).toBe(false);
    expect(g.refused).toMatchObject([{ reason, listener: "control", peer: BALANCER }]);
    expect(g.clock.pending).toBe(0);
  });

  it(`cuts a connection whose header is not complete after ${PROXY_HEADER_MS} ms`, () => {
    const g = gate();
    const raw = new FakeSocket(LOCAL, BALANCER);
    g.gate.admit(raw, "control", () => undefined);
    raw.data("PROXY TCP4 ");
    g.clock.advance(PROXY_HEADER_MS - 1);
    expect(raw.destroyed).toBe(false);
    g.clock.advance(1);
    expect(raw.destroyed).toBe(true);
    expect(g.refused).toMatchObject([{ reason: "timeout" }]);
  });

  it("cancel cuts a socket still waiting, once", () => {
    const g = gate();
    const raw = new FakeSocket(LOCAL, BALANCER);
    const cancel = g.gate.admit(raw, "control", () => undefined);
    cancel?.();
    cancel?.();
    expect(raw.destroyCalls).toBe(1);
    expect(g.refused).toHaveLength(1);
  });
});

describe("proxyAwareTls", () => {
  it("upgrades the real socket with the undelivered bytes after the prefix, and keeps the client's address", async () => {
    const tls = new FakeTls();
    const aware = proxyAwareTls(tls);
    const raw = new FakeSocket(LOCAL, BALANCER);
    const proxied = new ProxiedSocket(raw, { command: "proxy", version: 2, source: { address: "198.51.100.7", port: 1 }, destination: LOCAL }).start();
    proxied.opened({ command: "proxy", version: 2, source: { address: "198.51.100.7", port: 1 }, destination: LOCAL }, Uint8Array.from([0x16, 3]));
    const upgrading = aware.upgrade(proxied, [Uint8Array.from([1])]);
    await settle();
    expect(tls.upgrades[0]!.socket).toBe(raw);
    expect(tls.upgrades[0]!.prefix).toEqual([Uint8Array.from([1]), Uint8Array.from([0x16, 3])]);
    tls.upgrades[0]!.resolve();
    const secure = await upgrading;
    expect(secure.remote).toEqual({ address: "198.51.100.7", port: 1 });
    const plain = new FakeSocket();
    const direct = aware.upgrade(plain, []);
    await settle();
    expect(tls.upgrades[1]!.socket).toBe(plain);
    const made = tls.upgrades[1]!.resolve();
    expect(await direct).toBe(made);
    expect(aware.withCredentials({ key: "k", cert: "c" })).not.toBe(aware);
  });
});
