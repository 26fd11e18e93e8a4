import type { SessionEvent } from "@pasv/core";
import { describe, expect, it } from "vitest";
import { FakePlatform, FakeSocket, FakeTls, bytes, settle, text } from "./fake-platform.test-helper.js";
import { CONTROL_CLOSE_GRACE_MS, CONTROL_QUEUE_BYTES, PlatformSessionIo, TLS_HANDSHAKE_MS, type SessionIoOptions } from "./platform-io.js";
import { PassiveCounter } from "./port-range.js";
import type { Session } from "./session.js";

/** The part of Session that PlatformSessionIo talks to, recorded. */
class StubSession {
  readonly events: SessionEvent[] = [];
  closed = false;
  drained = 0;
  controlClosedCalls = 0;
  post(event: SessionEvent): void {
    this.events.push(event);
  }
  controlDrained(): void {
    this.drained++;
  }
  controlClosed(): void {
    this.controlClosedCalls++;
  }
  types(): string[] {
    return this.events.map((e) => e.type);
  }
}

function setup(tls: FakeTls | null = null, options: SessionIoOptions = {}): { platform: FakePlatform; socket: FakeSocket; io: PlatformSessionIo; session: StubSession; ended: () => number } {
  const platform = new FakePlatform({ tls });
  const socket = new FakeSocket({ address: "192.0.2.1", port: 21 }, { address: "198.51.100.4", port: 5555 });
  let endedCalls = 0;
  const passive = new PassiveCounter(16);
  const io = new PlatformSessionIo(
    platform,
    socket,
    { range: { min: 50000, max: 50010 }, claim: () => passive.claim(socket.remote.address) },
    () => {
      endedCalls++;
    },
    options,
  );
  const session = new StubSession();
  io.session = session as unknown as Session;
  io.start();
  return { platform, socket, io, session, ended: () => endedCalls };
}

describe("PlatformSessionIo control connection", () => {
  it("exposes the socket's endpoints, starts reading and posts data, eof and errors", () => {
    const { socket, io, session, platform } = setup();
    expect(io.control.local).toEqual({ address: "192.0.2.1", port: 21 });
    expect(io.control.remote).toEqual({ address: "198.51.100.4", port: 5555 });
    expect(socket.paused).toBe(false);
    socket.data("USER a\r\n");
    socket.peerEnd();
    socket.fail("ECONNRESET");
    expect(session.events).toEqual([
      { type: "control.data", now: platform.clock.now(), bytes: bytes("USER a\r\n") },
      { type: "control.eof", now: platform.clock.now() },
      { type: "control.error", now: platform.clock.now(), message: "ECONNRESET" },
    ]);
    io.control.pauseReading();
    expect(socket.paused).toBe(true);
    io.control.resumeReading();
    expect(socket.paused).toBe(false);
  });

  it(`write() returns false once more than ${CONTROL_QUEUE_BYTES} bytes are buffered; drain calls controlDrained`, () => {
    const { socket, io, session } = setup();
    expect(io.control.write(bytes("220 hi\r\n"))).toBe(true);
    socket.buffered = CONTROL_QUEUE_BYTES;
    expect(io.control.write(bytes("a"))).toBe(true);
    socket.buffered = CONTROL_QUEUE_BYTES + 1;
    expect(io.control.write(bytes("b"))).toBe(false);
    expect(socket.written()).toBe("220 hi\r\nab");
    expect(session.drained).toBe(0);
    socket.drain();
    expect(session.drained).toBe(1);
  });

  it("close() ends the socket and destroys it after the grace period when the peer never closes", () => {
    const { socket, io, platform, session, ended } = setup();
    io.control.close();
    io.control.close();
    expect(socket.endCalls).toBe(2);
    expect(platform.clock.pending).toBe(1);
    platform.clock.advance(CONTROL_CLOSE_GRACE_MS - 1);
    expect(socket.destroyed).toBe(false);
    platform.clock.advance(1);
    expect(socket.destroyed).toBe(true);
    // the destroy's close released everything, once
    expect(io.closed).toBe(true);
    expect(session.controlClosedCalls).toBe(1);
    expect(ended()).toBe(1);
  });

  it("a peer that closes within the grace period is released without a destroy", () => {
    const { socket, io, platform, ended } = setup();
    io.control.close();
    socket.finished();
    socket.close();
    socket.close();
    expect(io.closed).toBe(true);
    expect(ended()).toBe(1);
    expect(platform.clock.pending).toBe(0);
    platform.clock.advance(CONTROL_CLOSE_GRACE_MS * 2);
    expect(socket.destroyed).toBe(false);
  });

  it("a close after the peer's leaves no grace timer behind (the session answers the socket's end with one)", () => {
    const { socket, io, platform, ended } = setup();
    socket.close();
    io.control.close();
    expect(socket.endCalls).toBe(1);
    expect(platform.clock.pending).toBe(0);
    expect(ended()).toBe(1);
  });

  it("release closes the data channels", async () => {
    const { socket, io, platform } = setup();
    io.data.listen(1, 4);
    await settle();
    expect(io.data.held()).toEqual([1]);
    socket.close();
    expect(io.data.held()).toEqual([]);
    expect(platform.last.closed).toBe(true);
  });

  it("destroy() cuts the control connection", () => {
    const { socket, io } = setup();
    io.destroy();
    expect(socket.destroyed).toBe(true);
    expect(io.closed).toBe(true);
  });

  it("nothing is posted once the session has closed", () => {
    const { socket, session } = setup();
    session.closed = true;
    socket.data("NOOP\r\n");
    expect(session.events).toEqual([]);
  });
});

describe("PlatformSessionIo timer", () => {
  it("posts a timer event when the armed time comes, with the clock's now", () => {
    const { io, platform, session } = setup();
    const start = platform.clock.now();
    expect(io.now()).toBe(start);
    io.setTimer(start + 500);
    expect(io.timerArmed).toBe(true);
    platform.clock.advance(499);
    expect(session.events).toEqual([]);
    platform.clock.advance(1);
    expect(session.events).toEqual([{ type: "timer", now: start + 500 }]);
    expect(io.timerArmed).toBe(false);
  });

  it("re-arming replaces the earlier timer; null disarms; a past time fires at once", () => {
    const { io, platform, session } = setup();
    const start = platform.clock.now();
    io.setTimer(start + 100);
    io.setTimer(start + 300);
    platform.clock.advance(200);
    expect(session.events).toEqual([]);
    io.setTimer(null);
    expect(io.timerArmed).toBe(false);
    platform.clock.advance(1_000);
    expect(session.events).toEqual([]);
    io.setTimer(platform.clock.now() - 50);
    platform.clock.advance(0);
    expect(session.types()).toEqual(["timer"]);
  });

  it("arms nothing after the connection is released and cancels the armed one", () => {
    const { io, platform, socket } = setup();
    io.setTimer(platform.clock.now() + 100);
    socket.close();
    expect(io.timerArmed).toBe(false);
    io.setTimer(platform.clock.now() + 100);
    expect(io.timerArmed).toBe(false);
    expect(platform.clock.pending).toBe(0);
  });
});

describe("PlatformSessionIo AUTH TLS upgrade", () => {
  it("without TLS on the platform posts tls.failed (nothing started, so the core can answer)", () => {
    const { io, session } = setup(null);
    io.control.startTls();
    expect(session.events).toMatchObject([{ type: "tls.failed", message: "no TLS on this platform", started: false, timedOut: false }]);
  });

  it("the handshake starts with the client's first byte, which the upgrader gets as prefix", () => {
    const tls = new FakeTls();
    const { io, socket } = setup(tls);
    io.control.pauseReading();
    io.control.startTls();
    // Read even if the core had paused reading: the handshake must be read.
    expect(socket.paused).toBe(false);
    expect(tls.upgrades).toHaveLength(0);
    socket.data("\x16\x03\x01");
    expect(tls.upgrades).toHaveLength(1);
    expect(tls.upgrades[0]!.socket).toBe(socket);
    expect(text(tls.upgrades[0]!.prefix)).toBe("\x16\x03\x01");
    // Bytes that still reach the session's sink are neither posted nor a second upgrade.
    socket.data("more");
    expect(tls.upgrades).toHaveLength(1);
  });

  it("a failed handshake posts tls.failed (started) with the reason and cuts the socket at once", async () => {
    const tls = new FakeTls();
    const { io, session, socket, platform, ended } = setup(tls);
    io.control.startTls();
    socket.data("hello");
    tls.upgrades[0]!.reject(new Error("no shared cipher"));
    await settle();
    expect(session.events).toEqual([{ type: "tls.failed", now: platform.clock.now(), message: "no shared cipher", started: true, timedOut: false }]);
    expect(socket.destroyed).toBe(true);
    expect(ended()).toBe(1);
    expect(session.controlClosedCalls).toBe(1);
    expect(platform.clock.pending).toBe(0);
  });

  it("a handshake rejection that is not an Error posts tls.failed with its text", async () => {
    const tls = new FakeTls();
    const { io, session, socket } = setup(tls);
    io.control.startTls();
    socket.data("hello");
    tls.upgrades[0]!.reject("handshake_failure");
    await settle();
    expect(session.events).toMatchObject([{ type: "tls.failed", message: "handshake_failure" }]);
  });

  it("bytes on the plaintext socket after startTls are not posted; success posts tls.ready and rewires", async () => {
    const tls = new FakeTls();
    const { io, session, socket, platform } = setup(tls);
    io.control.startTls();
    socket.data("PASS injected\r\n");
    socket.data("QUIT\r\n");
    socket.peerEnd();
    expect(session.events).toEqual([]);
    const secure = tls.upgrades[0]!.resolve();
    await settle();
    expect(session.events).toEqual([{ type: "tls.ready", now: platform.clock.now() }]);
    expect(secure.paused).toBe(false);
    expect(platform.clock.pending).toBe(0); // the handshake deadline is cancelled
    secure.data("USER a\r\n");
    socket.data("PASS late plaintext\r\n");
    expect(session.types()).toEqual(["tls.ready", "control.data"]);
    expect(text([(session.events[1] as { bytes: Uint8Array }).bytes])).toBe("USER a\r\n");
    expect(io.control.write(bytes("331 ok\r\n"))).toBe(true);
    expect(secure.written()).toBe("331 ok\r\n");
    expect(socket.written()).toBe("");
    secure.drain();
    expect(session.drained).toBe(1);
    io.control.close();
    expect(secure.endCalls).toBe(1);
    secure.close();
    expect(io.closed).toBe(true);
  });

  it("a handshake that never started: at its deadline the session is told (not cut), so the core can answer 421 in plaintext", () => {
    const tls = new FakeTls();
    const { io, socket, platform, session, ended } = setup(tls);
    io.control.startTls();
    platform.clock.advance(TLS_HANDSHAKE_MS - 1);
    expect(session.events).toEqual([]);
    platform.clock.advance(1);
    expect(session.events).toEqual([{ type: "tls.failed", now: platform.clock.now(), message: "TLS handshake timed out", started: false, timedOut: true }]);
    expect(socket.destroyed).toBe(false);
    // The core's 421 and close go out on the plaintext socket.
    io.control.write(bytes("421 TLS handshake timed out.\r\n"));
    io.control.close();
    expect(socket.written()).toBe("421 TLS handshake timed out.\r\n");
    expect(socket.endCalls).toBe(1);
    // A ClientHello that comes now is too late: nothing starts.
    socket.data("\x16\x03\x01");
    expect(tls.upgrades).toHaveLength(0);
    socket.close();
    expect(ended()).toBe(1);
    expect(platform.clock.pending).toBe(0);
  });

  it("a handshake that started and outlasts its deadline is cut, and the session told it timed out", async () => {
    const tls = new FakeTls();
    const { io, socket, platform, session, ended } = setup(tls);
    io.control.startTls();
    socket.data("\x16\x03");
    platform.clock.advance(TLS_HANDSHAKE_MS - 1);
    expect(socket.destroyed).toBe(false);
    platform.clock.advance(1);
    expect(session.events).toMatchObject([{ type: "tls.failed", started: true, timedOut: true }]);
    expect(socket.destroyed).toBe(true);
    expect(ended()).toBe(1);
    tls.upgrades[0]!.reject(new Error("socket destroyed"));
    await settle();
    expect(ended()).toBe(1);
  });

  it("a FIN before any handshake byte is the client leaving", () => {
    const tls = new FakeTls();
    const { io, socket, session, platform } = setup(tls);
    io.control.startTls();
    socket.peerEnd();
    expect(session.events).toEqual([{ type: "control.eof", now: platform.clock.now() }]);
    expect(tls.upgrades).toHaveLength(0);
  });

  it("a failed handshake ends the session even when the upgrader took the socket's events (Deno's relay)", async () => {
    const tls = new FakeTls();
    const { io, socket, ended } = setup(tls);
    io.control.startTls();
    socket.data("hello");
    // The upgrader reads the raw socket itself, so its close no longer reaches the session's sink.
    socket.attach({ data: () => undefined, end: () => undefined, error: () => undefined, drain: () => undefined, finished: () => undefined, close: () => undefined });
    tls.upgrades[0]!.reject(new Error("bad record mac"));
    await settle();
    expect(socket.destroyed).toBe(true);
    expect(io.closed).toBe(true);
    expect(ended()).toBe(1);
  });

  it("the handshake deadline comes from the options", () => {
    const tls = new FakeTls();
    const { io, socket, platform, ended } = setup(tls, { tlsHandshakeMs: 1_500 });
    io.control.startTls();
    socket.data("h");
    platform.clock.advance(1_499);
    expect(socket.destroyed).toBe(false);
    platform.clock.advance(1);
    expect(socket.destroyed).toBe(true);
    expect(ended()).toBe(1);
  });

  it("a reset mid-handshake ends the session once and cancels the deadline; the late rejection changes nothing", async () => {
    const tls = new FakeTls();
    const { io, socket, platform, session, ended } = setup(tls);
    io.control.startTls();
    socket.data("h");
    socket.fail("ECONNRESET");
    socket.close();
    expect(io.closed).toBe(true);
    expect(ended()).toBe(1);
    expect(platform.clock.pending).toBe(0);
    expect(session.types()).toEqual([]);
    tls.upgrades[0]!.reject(new Error("ECONNRESET"));
    await settle();
    expect(ended()).toBe(1);
    expect(session.controlClosedCalls).toBe(1);
    platform.clock.advance(TLS_HANDSHAKE_MS);
    expect(socket.destroyCalls).toBe(1);
  });

  it("a reset before any handshake byte ends the session once and cancels the deadline", () => {
    const tls = new FakeTls();
    const { io, socket, platform, session, ended } = setup(tls);
    io.control.startTls();
    socket.fail("ECONNRESET");
    socket.close();
    expect(io.closed).toBe(true);
    expect(ended()).toBe(1);
    expect(platform.clock.pending).toBe(0);
    expect(session.types()).toEqual([]);
  });

  it("a handshake that completes after the connection is gone destroys the secure socket", async () => {
    const tls = new FakeTls();
    const { io, socket, session } = setup(tls);
    io.control.startTls();
    socket.data("h");
    socket.close();
    const secure = tls.upgrades[0]!.resolve();
    await settle();
    expect(secure.destroyed).toBe(true);
    expect(session.types()).not.toContain("tls.ready");
  });
});
