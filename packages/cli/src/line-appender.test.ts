import { describe, expect, it } from "vitest";
import { LineAppender, MAX_QUEUED_XFERLOG_LINES } from "./line-appender.js";

describe("LineAppender", () => {
  it("writes lines in order, batching what queued meanwhile", async () => {
    const writes: string[] = [];
    const a = new LineAppender("f", (_f, text) => (writes.push(text), Promise.resolve()), () => undefined);
    a.push("1");
    a.push("2");
    a.push("3");
    await a.idle();
    expect(writes.join("")).toBe("1\n2\n3\n");
  });

  it("drops (and reports) lines beyond its queue limit while the disk does not keep up", async () => {
    let release: () => void = () => undefined;
    const reports: string[] = [];
    const writes: string[] = [];
    const a = new LineAppender("f", (_f, text) => {
      writes.push(text);
      return new Promise<void>((r) => (release = r));
    }, (p) => reports.push(p));
    a.push("first");
    for (let i = 0; i < MAX_QUEUED_XFERLOG_LINES + 5; i++) a.push(String(i));
    release();
    await new Promise((r) => setTimeout(r, 0));
    release();
    await a.idle();
    expect(reports).toEqual(["5 xferlog line(s) dropped (the disk did not keep up)"]);
    expect(writes[1]?.split("\n").filter((l) => l !== "")).toHaveLength(MAX_QUEUED_XFERLOG_LINES);
  });
});
