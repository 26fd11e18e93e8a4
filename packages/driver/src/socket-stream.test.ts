import { describe, expect, it } from "vitest";
import { FakeClock, FakeSocket, bytes, settle, text } from "./fake-platform.test-helper.js";
import { DataStreamError } from "./io.js";
import { MERGE_BYTES, RECEIVE_QUEUE_BYTES, SEND_QUEUE_BYTES, SocketStream, type Prefix } from "./socket-stream.js";

const STALL = 1_000;
const none: Prefix = { chunks: [], ended: false };

function setup(prefix: Prefix = none): { socket: FakeSocket; clock: FakeClock; stream: SocketStream } {
  const socket = new FakeSocket();
  socket.holdFlushes = true;
  const clock = new FakeClock();
  const stream = new SocketStream(socket, clock, STALL, prefix);
  return { socket, clock, stream };
}

interface Reading {
  readonly chunks: Uint8Array[];
  done: boolean;
  error: unknown;
}

/** Consumes chunks() in the background, recording what arrived and how it ended. */
function read(stream: SocketStream, mergeBytes?: number): Reading {
  const r: Reading = { chunks: [], done: false, error: undefined };
  void (async () => {
    try {
      for await (const chunk of stream.chunks(mergeBytes)) r.chunks.push(chunk);
      r.done = true;
    } catch (error) {
      r.error = error;
    }
  })();
  return r;
}

/** A promise's state without awaiting it. */
function track<T>(promise: Promise<T>): { state: "pending" | "resolved" | "rejected"; error: unknown } {
  const t: { state: "pending" | "resolved" | "rejected"; error: unknown } = { state: "pending", error: undefined };
  promise.then(
    () => (t.state = "resolved"),
    (error: unknown) => {
      t.state = "rejected";
      t.error = error;
    },
  );
  return t;
}

function reason(error: unknown): string {
  expect(error).toBeInstanceOf(DataStreamError);
  return (error as DataStreamError).reason;
}

describe("SocketStream upload (chunks)", () => {
  it("a clean end of stream completes, after every chunk, and starts reading", async () => {
    const { socket, stream, clock } = setup();
    const r = read(stream);
    await settle();
    expect(socket.paused).toBe(false);
    socket.data("ab");
    socket.data("cd");
    await settle();
    expect(r.done).toBe(false);
    socket.peerEnd();
    await settle();
    expect(r.done).toBe(true);
    expect(r.error).toBeUndefined();
    expect(text(r.chunks)).toBe("abcd");
    expect(clock.pending).toBe(0); // the stall watchdog is gone
  });

  it("an upload ending with an error (reset) throws DataStreamError reset and never completes", async () => {
    const { socket, stream } = setup();
    const r = read(stream);
    socket.data("partial");
    await settle();
    socket.fail("ECONNRESET");
    socket.close();
    await settle();
    expect(text(r.chunks)).toBe("partial");
    expect(r.done).toBe(false);
    expect(reason(r.error)).toBe("reset");
    expect((r.error as Error).message).toBe("ECONNRESET");
  });

  it("an error arriving while nobody reads is still thrown once reading starts, after held chunks", async () => {
    const { socket, stream } = setup();
    socket.data("held");
    socket.fail("broken pipe");
    const r = read(stream);
    await settle();
    expect(text(r.chunks)).toBe("held");
    expect(r.done).toBe(false);
    expect(reason(r.error)).toBe("reset");
  });

  it("a close without end of stream throws reset", async () => {
    const { socket, stream } = setup();
    const r = read(stream);
    socket.data("x");
    socket.close();
    await settle();
    expect(text(r.chunks)).toBe("x");
    expect(r.done).toBe(false);
    expect(reason(r.error)).toBe("reset");
    expect((r.error as Error).message).toMatch(/without end of stream/);
  });

  it("a close after a clean end is still a completed upload", async () => {
    const { socket, stream } = setup();
    const r = read(stream);
    socket.data("x");
    socket.peerEnd();
    socket.close();
    await settle();
    expect(r.done).toBe(true);
    expect(r.error).toBeUndefined();
  });

  it("prefix chunks from the idle watch come first", async () => {
    const { socket, stream } = setup({ chunks: [bytes("p1"), bytes("p2")], ended: false });
    socket.data("d1");
    const r = read(stream);
    socket.data("d2");
    socket.peerEnd();
    await settle();
    // What waited is joined for the writer (p1 p2 d1 came before the reader); order is kept.
    expect(r.chunks.map((c) => new TextDecoder().decode(c))).toEqual(["p1p2d1", "d2"]);
    expect(r.done).toBe(true);
  });

  it("joins waiting chunks up to MERGE_BYTES, never past it", async () => {
    const { socket, stream } = setup();
    const half = "h".repeat(MERGE_BYTES / 2);
    socket.data(half);
    socket.data(half);
    socket.data("x");
    socket.peerEnd();
    const r = read(stream);
    await settle();
    expect(r.chunks.map((c) => c.length)).toEqual([MERGE_BYTES, 1]);
    expect(r.done).toBe(true);
  });

  it("joins nothing for a consumer that gathers (mergeBytes 0): the pieces come as they arrived, uncopied", async () => {
    const { socket, stream } = setup({ chunks: [bytes("p1")], ended: false });
    socket.data("d1");
    socket.data("d2");
    socket.peerEnd();
    const r = read(stream, 0);
    await settle();
    expect(r.chunks.map((c) => new TextDecoder().decode(c))).toEqual(["p1", "d1", "d2"]);
    expect(r.done).toBe(true);
  });

  it("an ended prefix completes with just its chunks", async () => {
    const { stream } = setup({ chunks: [bytes("all")], ended: true });
    const r = read(stream);
    await settle();
    expect(text(r.chunks)).toBe("all");
    expect(r.done).toBe(true);
  });

  it(`pauses reading once ${RECEIVE_QUEUE_BYTES} bytes are held and resumes when they are taken`, async () => {
    const { socket, stream } = setup();
    socket.resume();
    const quarter = "z".repeat(RECEIVE_QUEUE_BYTES / 4);
    for (let i = 0; i < 3; i++) socket.data(quarter);
    socket.data("z".repeat(RECEIVE_QUEUE_BYTES / 4 - 1));
    expect(socket.paused).toBe(false);
    socket.data("z");
    expect(socket.paused).toBe(true);
    const r = read(stream);
    await settle(32);
    expect(r.chunks.length).toBe(5);
    expect(socket.paused).toBe(false);
    socket.peerEnd();
    await settle();
    expect(r.done).toBe(true);
  });
});

describe("SocketStream download (write, end)", () => {
  it("a reset after the peer's clean end (close_notify, then a reset) is still a whole upload, and our end of stream may fail", async () => {
    const { socket, stream } = setup();
    const r = read(stream);
    socket.data("every byte");
    socket.peerEnd();
    socket.fail("ECONNRESET");
    socket.close();
    await settle();
    expect(text(r.chunks)).toBe("every byte");
    expect(r.done).toBe(true);
    expect(r.error).toBeUndefined();
    const ending = track(stream.end());
    await settle();
    expect(ending.state).toBe("resolved");
  });

  it("a reset after the clean end while the writer lags behind: the held chunks, then the end", async () => {
    const { socket, stream } = setup();
    socket.data("held");
    socket.peerEnd();
    socket.fail("ECONNRESET");
    const r = read(stream);
    await settle();
    expect(text(r.chunks)).toBe("held");
    expect(r.done).toBe(true);
  });

  it("a reset before the end (or an end the platform reports after it) stays a cut upload", async () => {
    const { socket, stream } = setup();
    const r = read(stream);
    socket.data("part");
    socket.fail("ECONNRESET");
    socket.peerEnd();
    socket.close();
    await settle();
    expect(r.done).toBe(false);
    expect(reason(r.error)).toBe("reset");
    await expect(stream.end()).rejects.toThrow("ECONNRESET");
  });

  it("end() sends our FIN and resolves only after `finished`", async () => {
    const { socket, stream, clock } = setup();
    const w = stream.write(bytes("payload"));
    socket.flush();
    await w;
    const ending = track(stream.end());
    await settle();
    expect(socket.endCalls).toBe(1);
    expect(ending.state).toBe("pending");
    socket.finished();
    await settle();
    expect(ending.state).toBe("resolved");
    expect(socket.written()).toBe("payload");
    expect(clock.pending).toBe(0);
  });

  it("end() rejects with reset when the socket errors before `finished`", async () => {
    const { socket, stream } = setup();
    const ending = track(stream.end());
    await settle();
    socket.fail("EPIPE");
    socket.finished(); // too late: the failure stands
    await settle();
    expect(ending.state).toBe("rejected");
    expect(reason(ending.error)).toBe("reset");
  });

  it("end() rejects when the socket closes without our FIN going out", async () => {
    const { socket, stream } = setup();
    const ending = track(stream.end());
    socket.close();
    await settle();
    expect(ending.state).toBe("rejected");
    expect(reason(ending.error)).toBe("reset");
    expect((ending.error as Error).message).toMatch(/before our end of stream/);
  });

  it("write() resolves only once its chunk is handed to the kernel, so a stalled peer pins one chunk", async () => {
    const { socket, stream } = setup();
    const first = track(stream.write(bytes("a")));
    await settle();
    expect(first.state).toBe("pending");
    expect(socket.written()).toBe("a"); // the chunk was queued; only the promise waits
    expect(socket.flush()).toBe(1);
    await settle();
    expect(first.state).toBe("resolved");
    // The platform still queues bytes above the mark after the flush: a drain is what wakes it.
    socket.buffered = SEND_QUEUE_BYTES + 1;
    const over = track(stream.write(bytes("b")));
    socket.flush();
    await settle();
    expect(over.state).toBe("pending");
    socket.buffered = SEND_QUEUE_BYTES;
    socket.drain();
    await settle();
    expect(over.state).toBe("resolved");
  });

  it("a flushed callback that does not empty the queue keeps write() waiting", async () => {
    const { socket, stream } = setup();
    socket.buffered = SEND_QUEUE_BYTES + 10;
    let flushed = 0;
    const w = track(stream.write(bytes("c"), () => flushed++));
    await settle();
    socket.flush();
    await settle();
    expect(flushed).toBe(1);
    expect(w.state).toBe("pending");
    socket.buffered = 0;
    socket.flush(); // nothing pending; a drain is what wakes it
    socket.drain();
    await settle();
    expect(w.state).toBe("resolved");
  });

  it("a write waiting on a full queue rejects when the socket fails", async () => {
    const { socket, stream } = setup();
    socket.buffered = SEND_QUEUE_BYTES * 2;
    const w = track(stream.write(bytes("x")));
    await settle();
    socket.fail("reset by peer");
    await settle();
    expect(w.state).toBe("rejected");
    expect(reason(w.error)).toBe("reset");
    await expect(stream.write(bytes("y"))).rejects.toThrow(DataStreamError);
  });

  it("write() after the socket closed rejects reset", async () => {
    const { socket, stream } = setup();
    socket.close();
    await expect(stream.write(bytes("late"))).rejects.toMatchObject({ reason: "reset" });
    expect(socket.writes).toEqual([]);
  });

  it("destroy() cuts the socket and stops the watchdog", () => {
    const { socket, stream, clock } = setup();
    expect(clock.pending).toBe(1);
    stream.destroy();
    stream.destroy();
    expect(socket.destroyed).toBe(true);
    expect(clock.pending).toBe(0);
  });
});

describe("SocketStream stall watchdog", () => {
  it("fires after stallTimeout of no activity: the reader fails with stall and the socket is destroyed", async () => {
    const { socket, stream, clock } = setup();
    const r = read(stream);
    await settle();
    clock.advance(STALL - 1);
    await settle();
    expect(r.error).toBeUndefined();
    expect(socket.destroyed).toBe(false);
    clock.advance(1);
    await settle();
    expect(reason(r.error)).toBe("stall");
    expect(socket.destroyed).toBe(true);
  });

  it("does not fire while received data keeps arriving", async () => {
    const { socket, stream, clock } = setup();
    const r = read(stream);
    for (let i = 0; i < 10; i++) {
      clock.advance(STALL / 2);
      socket.data("k");
      await settle();
    }
    expect(r.error).toBeUndefined();
    clock.advance(STALL);
    await settle();
    expect(reason(r.error)).toBe("stall");
  });

  it("does not fire while flushed callbacks keep arriving, then fires once they stop", async () => {
    const { socket, stream, clock } = setup();
    for (let i = 0; i < 10; i++) {
      const w = stream.write(bytes("chunk"));
      clock.advance(STALL - 100);
      socket.flush();
      await w;
    }
    expect(socket.destroyed).toBe(false);
    const ending = track(stream.end());
    clock.advance(STALL);
    await settle();
    expect(ending.state).toBe("rejected");
    expect(reason(ending.error)).toBe("stall");
    expect(socket.destroyed).toBe(true);
  });

  it("does not fire while drain events keep arriving for blocked writes", async () => {
    const { socket, stream, clock } = setup();
    socket.buffered = SEND_QUEUE_BYTES + 1;
    const w = track(stream.write(bytes("big")));
    socket.flush();
    for (let i = 0; i < 10; i++) {
      clock.advance(STALL - 1);
      // Activity, though the platform queued more meanwhile: the write keeps waiting, unharmed.
      socket.drain();
      socket.buffered = SEND_QUEUE_BYTES + 1;
      await settle();
      expect(w.state).toBe("pending");
    }
    expect(socket.destroyed).toBe(false);
    socket.drain();
    await settle();
    expect(w.state).toBe("resolved");
    const stuck = track(stream.write(bytes("big")));
    clock.advance(STALL);
    await settle();
    expect(stuck.state).toBe("rejected");
    expect(reason(stuck.error)).toBe("stall");
    expect(socket.destroyed).toBe(true);
  });

  it("a stall during end() rejects it with stall", async () => {
    const { stream, clock } = setup();
    const ending = track(stream.end());
    clock.advance(STALL);
    await settle();
    expect(ending.state).toBe("rejected");
    expect(reason(ending.error)).toBe("stall");
  });
});

describe("SocketStream hold (a rate-limit wait)", () => {
  it("an upload stops reading while held, even once its queue is empty, and reads again on release", async () => {
    const { socket, stream } = setup();
    const r = read(stream);
    await settle();
    expect(socket.paused).toBe(false);
    stream.hold(true);
    expect(socket.paused).toBe(true);
    socket.data("abc");
    await settle();
    // The consumer took the chunk, which empties the queue: that must not resume a held stream.
    expect(text(r.chunks)).toBe("abc");
    expect(socket.paused).toBe(true);
    stream.hold(false);
    expect(socket.paused).toBe(false);
  });

  it("a held stream does not stall, however long the wait", async () => {
    const { socket, stream, clock } = setup();
    const r = read(stream);
    await settle();
    stream.hold(true);
    clock.advance(STALL * 5);
    await settle();
    expect(r.error).toBeUndefined();
    expect(socket.destroyed).toBe(false);
    // After the wait the stall clock starts afresh.
    stream.hold(false);
    clock.advance(STALL - 1);
    await settle();
    expect(r.error).toBeUndefined();
    clock.advance(1);
    await settle();
    expect(reason(r.error)).toBe("stall");
  });

  it("a download's hold never starts reading what the peer sends", () => {
    const { socket, stream } = setup();
    stream.hold(true);
    stream.hold(false);
    expect(socket.paused).toBe(true);
    expect(socket.resumes).toBe(0);
  });
});
