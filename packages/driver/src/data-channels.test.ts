import type { Millis, SessionEvent } from "@pasv/core";
import { describe, expect, it } from "vitest";
import { MAX_PASSIVE_PORT_ATTEMPTS, PASSIVE_BACKLOG, DataChannels } from "./data-channels.js";
import { FakePlatform, FakeSocket, FakeTls, settle, text } from "./fake-platform.test-helper.js";
import { DataStreamError, type DataStream } from "./io.js";
import { ListenError } from "./platform.js";
import { DEFAULT_MAX_PASSIVE_PER_IP, PassiveCounter } from "./port-range.js";

const LOCAL = { address: "192.0.2.1", port: 21 };
const PORTS = { min: 50000, max: 50009 };

const CLIENT = "198.51.100.9";

function setup(options: { ports?: { min: number; max: number }; tls?: FakeTls; counter?: PassiveCounter; platform?: FakePlatform; client?: string; tlsHandshakeMs?: number } = {}): { platform: FakePlatform; channels: DataChannels; events: SessionEvent[]; counter: PassiveCounter } {
  const platform = options.platform ?? new FakePlatform({ seed: 42, ...(options.tls === undefined ? {} : { tls: options.tls }) });
  const events: SessionEvent[] = [];
  const counter = options.counter ?? new PassiveCounter(DEFAULT_MAX_PASSIVE_PER_IP);
  const passive = { range: options.ports ?? PORTS, claim: () => counter.claim(options.client ?? CLIENT) };
  const channels = new DataChannels(platform, LOCAL, passive, (make: (now: Millis) => SessionEvent) => events.push(make(platform.clock.now())), options.tlsHandshakeMs);
  return { platform, channels, events, counter };
}

function types(events: readonly SessionEvent[]): string[] {
  return events.map((e) => e.type);
}

async function readAll(stream: DataStream): Promise<string> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream.chunks()) chunks.push(chunk);
  return text(chunks);
}

/** Listens on channel 1, accepts one connection and adopts it. */
async function adopted(): Promise<ReturnType<typeof setup> & { socket: FakeSocket }> {
  const s = setup();
  s.channels.listen(1, 4);
  await settle();
  const socket = s.platform.last.connect({ address: "198.51.100.9", port: 6000 });
  const accepted = s.events.find((e) => e.type === "data.accepted");
  if (accepted?.type !== "data.accepted") throw new Error("not accepted");
  s.channels.adopt(1, accepted.socket);
  s.events.length = 0;
  return { ...s, socket };
}

describe("DataChannels passive listen", () => {
  it("listens at the control connection's address on a port of the range and posts data.listening", async () => {
    const { platform, channels, events } = setup();
    channels.listen(1, 4);
    await settle();
    expect(platform.listenRequests).toHaveLength(1);
    const request = platform.listenRequests[0]!;
    expect(request).toMatchObject({ host: LOCAL.address, family: 4, backlog: PASSIVE_BACKLOG, urgentData: false });
    expect(request.port).toBeGreaterThanOrEqual(PORTS.min);
    expect(request.port).toBeLessThanOrEqual(PORTS.max);
    expect(events).toEqual([{ type: "data.listening", now: platform.clock.now(), channel: 1, port: request.port }]);
    expect(channels.held()).toEqual([1]);
  });

  it("retries another random port on in-use and denied", async () => {
    const { platform, channels, events } = setup({ ports: { min: 50000, max: 50003 } });
    platform.inUse.add(50000).add(50001);
    platform.denied.add(50002);
    channels.listen(7, 4);
    await settle(400);
    expect(events).toEqual([{ type: "data.listening", now: platform.clock.now(), channel: 7, port: 50003 }]);
    expect(platform.listenRequests.length).toBeGreaterThan(1);
    expect(platform.listenRequests.slice(0, -1).every((r) => r.port !== 50003)).toBe(true);
  });

  it(`gives up after ${MAX_PASSIVE_PORT_ATTEMPTS} in-use ports with data.listen-failed and forgets the channel`, async () => {
    const { platform, channels, events } = setup({ ports: { min: 50000, max: 50001 } });
    platform.inUse.add(50000).add(50001);
    channels.listen(3, 6);
    await settle(MAX_PASSIVE_PORT_ATTEMPTS * 8);
    expect(platform.listenRequests).toHaveLength(MAX_PASSIVE_PORT_ATTEMPTS);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: "data.listen-failed", channel: 3 });
    expect((events[0] as { message: string }).message).toMatch(/port 5000[01] in use/);
    expect(channels.held()).toEqual([]);
  });

  it("a listen error other than in-use/denied fails at once", async () => {
    const { platform, channels, events } = setup();
    platform.otherFailure = "EADDRNOTAVAIL";
    channels.listen(2, 4);
    await settle();
    expect(platform.listenRequests).toHaveLength(1);
    expect(events).toEqual([{ type: "data.listen-failed", now: platform.clock.now(), channel: 2, message: "EADDRNOTAVAIL" }]);
  });

  it("a listen rejection that is not an Error fails with its text", async () => {
    const { platform, channels, events } = setup();
    platform.manualListen = true;
    channels.listen(2, 4);
    platform.pendingListens[0]!.reject("EACCES-ish");
    await settle();
    expect(events).toEqual([{ type: "data.listen-failed", now: platform.clock.now(), channel: 2, message: "EACCES-ish" }]);
  });

  it("a listen that resolves after close(channel) closes the listener and posts nothing", async () => {
    const { platform, channels, events } = setup();
    platform.manualListen = true;
    channels.listen(1, 4);
    channels.close(1);
    const listener = platform.pendingListens[0]!.resolve();
    await settle();
    expect(listener.closed).toBe(true);
    expect(events).toEqual([]);
    expect(channels.held()).toEqual([]);
  });

  it("a listen that fails after close(channel) posts nothing", async () => {
    const { platform, channels, events } = setup();
    platform.manualListen = true;
    channels.listen(1, 4);
    channels.close(1);
    platform.pendingListens[0]!.reject(new ListenError("other", "nope"));
    await settle();
    expect(events).toEqual([]);
  });

  // Once a bug: the retry loop went on binding fresh ports for a channel closed while its listen was in flight.
  it("a channel closed while its listen is in flight makes no further listen attempts", async () => {
    const { platform, channels, events } = setup();
    platform.manualListen = true;
    channels.listen(1, 4);
    channels.close(1);
    platform.pendingListens[0]!.reject(new ListenError("in-use", "busy"));
    await settle();
    expect(platform.listenRequests).toHaveLength(1);
    expect(events).toEqual([]);
  });
});

describe("DataChannels accept, adopt, reject", () => {
  it("tags each accepted connection and posts data.accepted with the peer address", async () => {
    const { platform, channels, events } = setup();
    channels.listen(1, 4);
    await settle();
    const a = platform.last.connect({ address: "198.51.100.1", port: 7001 });
    const b = platform.last.connect({ address: "198.51.100.2", port: 7002 });
    expect(events.slice(1)).toEqual([
      { type: "data.accepted", now: platform.clock.now(), channel: 1, socket: 1, remote: { address: "198.51.100.1", port: 7001 } },
      { type: "data.accepted", now: platform.clock.now(), channel: 1, socket: 2, remote: { address: "198.51.100.2", port: 7002 } },
    ]);
    expect(a.destroyed || b.destroyed).toBe(false);
    channels.reject(1, 2);
    expect(b.destroyed).toBe(true);
    channels.reject(1, 99); // unknown tag: nothing
    channels.adopt(1, 1);
    expect(a.destroyed).toBe(false);
    expect(platform.last.closed).toBe(true);
  });

  it("destroys a stranger's connection that arrives after adopt", async () => {
    const { platform, channels, events } = setup();
    channels.listen(1, 4);
    await settle();
    const listener = platform.last;
    listener.connect();
    channels.adopt(1, 1);
    const count = events.length;
    const stranger = listener.connect({ address: "203.0.113.66", port: 1 });
    expect(stranger.destroyed).toBe(true);
    expect(events).toHaveLength(count);
  });

  it("destroys a connection that arrives after the channel closed; close destroys pending ones", async () => {
    const { platform, channels } = setup();
    channels.listen(1, 4);
    await settle();
    const listener = platform.last;
    const pending = listener.connect();
    channels.close(1);
    expect(pending.destroyed).toBe(true);
    expect(listener.closed).toBe(true);
    expect(listener.connect().destroyed).toBe(true);
    channels.adopt(1, 1); // gone: nothing
    channels.close(1); // idempotent
  });

  it("closeAll closes every channel", async () => {
    const { platform, channels } = setup();
    channels.listen(1, 4);
    channels.listen(2, 4);
    await settle();
    expect(channels.held().sort()).toEqual([1, 2]);
    channels.closeAll();
    expect(channels.held()).toEqual([]);
    expect(platform.listeners.every((l) => l.closed)).toBe(true);
  });
});

describe("DataChannels idle watch on the adopted connection", () => {
  it("starts reading; a FIN with no data posts data.closed once", async () => {
    const { socket, events, platform } = await adopted();
    expect(socket.paused).toBe(false);
    socket.peerEnd();
    socket.close();
    expect(events).toEqual([{ type: "data.closed", now: platform.clock.now(), channel: 1 }]);
  });

  it("data then FIN: no data.closed, reading pauses, and open() yields the held chunk then ends", async () => {
    const { socket, events, channels } = await adopted();
    socket.data("first");
    expect(socket.paused).toBe(true);
    socket.peerEnd();
    expect(events).toEqual([]);
    const stream = await channels.open(1, false, 1_000);
    expect(await readAll(stream)).toBe("first");
  });

  it("data and no FIN yet: open() yields the held chunk first, then the rest", async () => {
    const { socket, channels } = await adopted();
    socket.data("one");
    const stream = await channels.open(1, false, 1_000);
    const all = readAll(stream);
    await settle();
    socket.data("two");
    socket.peerEnd();
    expect(await all).toBe("onetwo");
  });

  it("a reset posts data.closed once and open() then rejects reset", async () => {
    const { socket, events, channels } = await adopted();
    socket.fail("ECONNRESET");
    socket.close();
    expect(types(events)).toEqual(["data.closed"]);
    await expect(channels.open(1, false, 1_000)).rejects.toMatchObject({ name: "DataStreamError", reason: "reset" });
  });

  it("a close with neither FIN nor error also posts data.closed", async () => {
    const { socket, events } = await adopted();
    socket.close();
    expect(types(events)).toEqual(["data.closed"]);
  });

  it("a reset after data was held still means the connection is unusable", async () => {
    const { socket, events, channels } = await adopted();
    socket.data("x");
    socket.fail("boom");
    expect(types(events)).toEqual(["data.closed"]);
    await expect(channels.open(1, false, 1_000)).rejects.toBeInstanceOf(DataStreamError);
  });

  it("posts nothing once the channel is closed", async () => {
    const { socket, events, channels } = await adopted();
    channels.close(1);
    expect(socket.destroyed).toBe(true);
    socket.peerEnd();
    expect(events).toEqual([]);
  });

  it("posts nothing once the transfer has taken the connection", async () => {
    const { socket, events, channels } = await adopted();
    const stream = await channels.open(1, false, 1_000);
    const all = readAll(stream);
    socket.peerEnd();
    expect(await all).toBe("");
    expect(events).toEqual([]);
  });
});

describe("DataChannels open", () => {
  it("rejects reset when the channel has no connection", async () => {
    const { channels } = setup();
    await expect(channels.open(5, false, 1_000)).rejects.toMatchObject({ reason: "reset" });
    channels.listen(5, 4);
    await settle();
    await expect(channels.open(5, false, 1_000)).rejects.toMatchObject({ reason: "reset", message: "no data connection" });
  });

  it("rejects tls when TLS is asked for on a platform without it", async () => {
    const { channels } = await adopted();
    await expect(channels.open(1, true, 1_000)).rejects.toMatchObject({ reason: "tls" });
  });
});

describe("DataChannels active connect", () => {
  it("connects from the control connection's address and posts data.connected; open gives a stream", async () => {
    const { platform, channels, events } = setup();
    channels.connect(4, "198.51.100.7", 6001, 4);
    expect(platform.connects[0]!.request).toEqual({ host: "198.51.100.7", port: 6001, family: 4, localAddress: LOCAL.address });
    const socket = platform.connects[0]!.resolve();
    await settle();
    expect(events).toEqual([{ type: "data.connected", now: platform.clock.now(), channel: 4 }]);
    const stream = await channels.open(4, false, 1_000);
    const all = readAll(stream);
    socket.data("up");
    socket.peerEnd();
    expect(await all).toBe("up");
  });

  it("posts data.connect-failed with the reason", async () => {
    const { platform, channels, events } = setup();
    channels.connect(4, "198.51.100.7", 6001, 4);
    platform.connects[0]!.reject(new Error("ECONNREFUSED"));
    await settle();
    expect(events).toEqual([{ type: "data.connect-failed", now: platform.clock.now(), channel: 4, message: "ECONNREFUSED" }]);
  });

  it("a connect rejection that is not an Error is reported as text", async () => {
    const { platform, channels, events } = setup();
    channels.connect(4, "198.51.100.7", 6001, 4);
    platform.connects[0]!.reject("refused");
    await settle();
    expect(events).toMatchObject([{ type: "data.connect-failed", channel: 4, message: "refused" }]);
  });

  it("a connect that settles after close posts nothing and destroys the socket", async () => {
    const { platform, channels, events } = setup();
    channels.connect(4, "198.51.100.7", 6001, 4);
    channels.connect(5, "198.51.100.7", 6002, 4);
    channels.close(4);
    channels.close(5);
    const late = platform.connects[0]!.resolve();
    platform.connects[1]!.reject("refused");
    await settle();
    expect(late.destroyed).toBe(true);
    expect(events).toEqual([]);
  });
});

describe("DataChannels TLS session reuse", () => {
  const scoped = async (scope: object | null, resumed: boolean | undefined, require: boolean): Promise<{ outcome: unknown; refused: number; secure: FakeSocket; scopes: unknown[] }> => {
    const tls = new FakeTls();
    const platform = new FakePlatform({ seed: 42, tls });
    let refused = 0;
    const passive = { range: PORTS, claim: () => new PassiveCounter(DEFAULT_MAX_PASSIVE_PER_IP).claim(CLIENT) };
    const channels = new DataChannels(platform, LOCAL, passive, () => undefined, undefined, () => scope, () => refused++);
    channels.listen(1, 4);
    await settle();
    platform.last.connect();
    channels.adopt(1, 1);
    const opening = channels.open(1, true, 1_000, require).catch((error: unknown) => error);
    await settle();
    const secure = Object.assign(new FakeSocket(LOCAL, { address: CLIENT, port: 1 }), { resumed });
    tls.upgrades[0]!.resolve(secure);
    return { outcome: await opening, refused, secure, scopes: tls.scopes };
  };

  it("refuses a data session that did not resume the control connection's, and counts it", async () => {
    const scope = {};
    const r = await scoped(scope, false, true);
    expect(r.outcome).toMatchObject({ reason: "tls-reuse" });
    expect(r.refused).toBe(1);
    expect(r.secure.destroyed).toBe(true);
    expect(r.scopes).toEqual([scope]);
  });

  it("serves a resumed one, one not asked to resume, and one on a platform that cannot tell", async () => {
    for (const [scope, resumed, require] of [[{}, true, true], [{}, false, false], [null, false, true], [{}, undefined, true]] as const) {
      const r = await scoped(scope, resumed, require);
      expect(r.outcome, JSON.stringify([scope, resumed, require])).not.toBeInstanceOf(Error);
      expect(r.refused).toBe(0);
    }
  });
});

describe("DataChannels TLS on open", () => {
  it("upgrades with the held chunks as prefix and streams over the secure socket", async () => {
    const tls = new FakeTls();
    const s = setup({ tls });
    s.channels.listen(1, 4);
    await settle();
    const raw = s.platform.last.connect();
    s.channels.adopt(1, 1);
    raw.data("ClientHello");
    const opening = s.channels.open(1, true, 1_000);
    await settle();
    expect(tls.upgrades).toHaveLength(1);
    expect(tls.upgrades[0]!.socket).toBe(raw);
    expect(text(tls.upgrades[0]!.prefix)).toBe("ClientHello");
    const secure = tls.upgrades[0]!.resolve();
    const stream = await opening;
    const all = readAll(stream);
    await settle();
    secure.data("secret");
    secure.peerEnd();
    expect(await all).toBe("secret");
    expect(s.platform.clock.pending).toBe(0); // handshake deadline and stream watchdog both gone
    s.channels.close(1);
    expect(secure.destroyed).toBe(true);
  });

  it("a failed handshake rejects tls", async () => {
    const tls = new FakeTls();
    const s = setup({ tls });
    s.channels.listen(1, 4);
    await settle();
    s.platform.last.connect();
    s.channels.adopt(1, 1);
    const opening = s.channels.open(1, true, 1_000);
    await settle();
    tls.upgrades[0]!.reject(new Error("bad record mac"));
    await expect(opening).rejects.toMatchObject({ reason: "tls", message: "bad record mac" });
    expect(s.platform.clock.pending).toBe(0);
  });

  it("a handshake rejection that is not an Error rejects tls with its text", async () => {
    const tls = new FakeTls();
    const s = setup({ tls });
    s.channels.listen(1, 4);
    await settle();
    s.platform.last.connect();
    s.channels.adopt(1, 1);
    const opening = s.channels.open(1, true, 1_000);
    await settle();
    tls.upgrades[0]!.reject("alert 40");
    await expect(opening).rejects.toMatchObject({ reason: "tls", message: "alert 40" });
  });

  it("a handshake that outlasts the handshake deadline (not the longer stall timeout) cuts the socket and rejects tls-timeout", async () => {
    const tls = new FakeTls();
    const s = setup({ tls, tlsHandshakeMs: 1_000 });
    s.channels.listen(1, 4);
    await settle();
    const raw = s.platform.last.connect();
    s.channels.adopt(1, 1);
    const opening = s.channels.open(1, true, 300_000);
    const outcome = opening.catch((error: unknown) => error);
    await settle();
    s.platform.clock.advance(999);
    expect(raw.destroyed).toBe(false);
    s.platform.clock.advance(1);
    expect(raw.destroyed).toBe(true);
    expect(await outcome).toMatchObject({ reason: "tls-timeout", message: "TLS handshake timed out" });
  });

  it("a channel closed during the handshake destroys the secure socket and rejects reset", async () => {
    const tls = new FakeTls();
    const s = setup({ tls });
    s.channels.listen(1, 4);
    await settle();
    s.platform.last.connect();
    s.channels.adopt(1, 1);
    const opening = s.channels.open(1, true, 1_000);
    await settle();
    s.channels.close(1);
    const secure = tls.upgrades[0]!.resolve();
    await expect(opening).rejects.toMatchObject({ reason: "reset" });
    expect(secure.destroyed).toBe(true);
  });
});

describe("DataChannels per-address passive cap", () => {
  /** Two sessions' channels of one client address sharing a counter of `max`, on one platform. */
  function pair(max: number): { a: ReturnType<typeof setup>; b: ReturnType<typeof setup>; counter: PassiveCounter } {
    const counter = new PassiveCounter(max);
    const a = setup({ counter });
    const b = setup({ counter, platform: a.platform });
    return { a, b, counter };
  }

  it("over the cap: data.listen-failed naming the limit, no listen attempt, no channel held", async () => {
    const { a, b, counter } = pair(1);
    a.channels.listen(1, 4);
    await settle();
    b.channels.listen(1, 4);
    await settle();
    expect(a.platform.listenRequests).toHaveLength(1);
    expect(b.events).toEqual([{ type: "data.listen-failed", now: a.platform.clock.now(), channel: 1, message: "per-address cap reached: 1 passive listener(s) held (maxPassivePerIp)" }]);
    expect(b.channels.held()).toEqual([]);
    expect(counter.held).toBe(1);
  });

  it("another address has its own share", async () => {
    const counter = new PassiveCounter(1);
    const a = setup({ counter });
    const other = setup({ counter, platform: a.platform, client: "203.0.113.4" });
    a.channels.listen(1, 4);
    other.channels.listen(1, 4);
    await settle();
    expect(types(a.events)).toEqual(["data.listening"]);
    expect(types(other.events)).toEqual(["data.listening"]);
    expect(counter.held).toBe(2);
  });

  it("the slot comes back when the channel closes, even with its listen still in flight", async () => {
    const { a, b, counter } = pair(1);
    a.platform.manualListen = true;
    a.channels.listen(1, 4);
    expect(counter.held).toBe(1);
    a.channels.close(1);
    expect(counter.held).toBe(0);
    const late = a.platform.pendingListens[0]!.resolve();
    await settle();
    expect(late.closed).toBe(true);
    b.channels.listen(2, 4);
    a.platform.pendingListens[1]!.resolve();
    await settle();
    expect(types(b.events)).toEqual(["data.listening"]);
    a.channels.close(1); // again: the slot is not given back twice
    expect(counter.held).toBe(1);
  });

  it("the slot comes back once the listener closes on adopt; the adopted connection does not count", async () => {
    const { a, b, counter } = pair(1);
    a.channels.listen(1, 4);
    await settle();
    a.platform.last.connect({ address: CLIENT, port: 6000 });
    a.channels.adopt(1, 1);
    expect(a.platform.last.closed).toBe(true);
    expect(counter.held).toBe(0);
    b.channels.listen(1, 4);
    await settle();
    expect(types(b.events)).toEqual(["data.listening"]);
    a.channels.close(1);
    expect(counter.held).toBe(1);
  });

  it("a listen that fails gives its slot back", async () => {
    const { a, counter } = pair(1);
    a.platform.otherFailure = "EADDRNOTAVAIL";
    a.channels.listen(1, 4);
    await settle();
    expect(types(a.events)).toEqual(["data.listen-failed"]);
    expect(counter.held).toBe(0);
  });

  it("closeAll and active connects: every slot back, and connects take none", async () => {
    const { a, counter } = pair(2);
    a.channels.listen(1, 4);
    a.channels.listen(2, 4);
    a.channels.connect(3, CLIENT, 7000, 4);
    await settle();
    expect(counter.held).toBe(2);
    a.channels.closeAll();
    expect(counter.held).toBe(0);
  });
});
