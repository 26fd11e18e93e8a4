import { describe, expect, it } from "vitest";
import type { SocketEvents } from "./platform.js";
import { SocketRelay } from "./socket-relay.js";

function recorder(): { sink: SocketEvents; log: string[] } {
  const log: string[] = [];
  return {
    log,
    sink: {
      data: (b) => log.push(`data ${b.length}`),
      end: () => log.push("end"),
      error: (m) => log.push(`error ${m}`),
      drain: () => log.push("drain"),
      finished: () => log.push("finished"),
      close: () => log.push("close"),
    },
  };
}

describe("SocketRelay", () => {
  it("holds bytes that come before anyone attaches and hands them to the first sink; drops a drain", () => {
    const relay = new SocketRelay();
    relay.data(new Uint8Array(3));
    relay.drain();
    const a = recorder();
    relay.attach(a.sink);
    const b = recorder();
    relay.attach(b.sink);
    expect(a.log).toEqual(["data 3"]);
    expect(b.log).toEqual([]);
  });

  it("forwards every event to the sink attached last, and nothing more to the previous one", () => {
    const relay = new SocketRelay();
    const a = recorder();
    const b = recorder();
    relay.attach(a.sink);
    relay.data(new Uint8Array(2));
    relay.attach(b.sink);
    relay.data(new Uint8Array(5));
    relay.drain();
    relay.end();
    relay.finished();
    relay.error("boom");
    relay.close();
    expect(a.log).toEqual(["data 2"]);
    expect(b.log).toEqual(["data 5", "drain", "end", "finished", "error boom", "close"]);
    expect(relay.isClosed).toBe(true);
  });

  it("replays end, error, finished and close to a late attacher, in that order", () => {
    const relay = new SocketRelay();
    relay.close();
    relay.end(); // after close: ignored
    const late = recorder();
    relay.attach(late.sink);
    expect(late.log).toEqual(["close"]);

    const r2 = new SocketRelay();
    r2.finished();
    r2.error("reset");
    r2.end();
    r2.close();
    const l2 = recorder();
    r2.attach(l2.sink);
    expect(l2.log).toEqual(["end", "error reset", "finished", "close"]);
  });

  it("reports each sticky event once, and none after close", () => {
    const relay = new SocketRelay();
    const a = recorder();
    relay.attach(a.sink);
    relay.end();
    relay.end();
    relay.error("one");
    relay.error("two");
    relay.finished();
    relay.finished();
    relay.close();
    relay.close();
    relay.error("late");
    relay.finished();
    expect(a.log).toEqual(["end", "error one", "finished", "close"]);
    expect(relay.isClosed).toBe(true);
  });
});
