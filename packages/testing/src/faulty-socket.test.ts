import { describe, expect, it } from "vitest";
import type { SocketEvents } from "@pasv/driver";
import { bytes, FakeClock, FakeSocket, settle } from "../../driver/src/fake-platform.test-helper.js";
import { FaultySocket, RESET_MESSAGE, type Piece, type Shaper } from "./faulty-socket.js";

function sink(): SocketEvents & { seen: string[] } {
  const seen: string[] = [];
  return {
    seen,
    data: (b) => seen.push(`data:${new TextDecoder().decode(b)}`),
    end: () => seen.push("end"),
    error: (m) => seen.push(`error:${m}`),
    drain: () => seen.push("drain"),
    finished: () => seen.push("finished"),
    close: () => seen.push("close"),
  };
}

const passThrough = (shape: (b: Uint8Array) => readonly Piece[]): Shaper => ({ shape, receive: (b) => ({ bytes: b, reset: false }) });

describe("FaultySocket", () => {
  it("passes a plain write straight through", () => {
    const inner = new FakeSocket();
    const s = new FaultySocket(inner, new FakeClock(), passThrough((b) => [{ bytes: b, delayMs: 0 }]));
    s.attach(sink());
    s.write(bytes("abc"));
    expect(inner.written()).toBe("abc");
    expect(s.buffered).toBe(0);
  });

  it("holds delayed pieces in buffered, keeps order, then drains and ends after them", () => {
    const inner = new FakeSocket();
    const clock = new FakeClock();
    const events = sink();
    const s = new FaultySocket(inner, clock, passThrough((b) => [{ bytes: b.subarray(0, 1), delayMs: 10 }, { bytes: b.subarray(1), delayMs: 10 }]));
    s.attach(events);
    s.write(bytes("ab"));
    s.write(bytes("cd"));
    s.end();
    expect(s.buffered).toBe(4);
    clock.advance(15);
    expect(inner.written()).toBe("a");
    clock.advance(100);
    expect(inner.written()).toBe("abcd");
    expect(inner.endCalls).toBe(1);
    expect(events.seen).toContain("drain");
    inner.finished();
    expect(events.seen).toContain("finished");
  });

  it("a reset cut writes up to it, then reports an error and destroys", () => {
    const inner = new FakeSocket();
    const events = sink();
    const s = new FaultySocket(inner, new FakeClock(), passThrough((b) => [{ bytes: b.subarray(0, 2), delayMs: 0 }, { cut: "reset" }]));
    s.attach(events);
    s.write(bytes("abcd"));
    expect(inner.written()).toBe("ab");
    expect(events.seen).toEqual([`error:${RESET_MESSAGE}`, "close"]);
    s.write(bytes("more"));
    expect(inner.written()).toBe("ab");
  });

  it("a FIN cut ends early and drops later writes as if sent; finished comes after the driver's end", async () => {
    const inner = new FakeSocket();
    const clock = new FakeClock();
    const events = sink();
    let first = true;
    const s = new FaultySocket(inner, clock, passThrough((b) => (first ? ((first = false), [{ bytes: b.subarray(0, 1), delayMs: 0 }, { cut: "fin" }]) : [{ bytes: b, delayMs: 0 }])));
    s.attach(events);
    s.write(bytes("ab"));
    expect(inner.endCalls).toBe(1);
    let flushed = false;
    s.write(bytes("cd"), () => (flushed = true));
    clock.advance(1);
    expect(flushed).toBe(true);
    expect(inner.written()).toBe("a");
    inner.finished();
    expect(events.seen).not.toContain("finished");
    s.end();
    clock.advance(1);
    await settle();
    expect(events.seen).toContain("finished");
  });

  it("a reset on received bytes passes those before the cut", () => {
    const inner = new FakeSocket();
    const events = sink();
    const s = new FaultySocket(inner, new FakeClock(), { shape: (b) => [{ bytes: b, delayMs: 0 }], receive: (b) => ({ bytes: b.subarray(0, 3), reset: true }) });
    s.attach(events);
    inner.data("hello");
    expect(events.seen).toEqual(["data:hel", `error:${RESET_MESSAGE}`, "close"]);
    expect(inner.destroyed).toBe(true);
  });
});
