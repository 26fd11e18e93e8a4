import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { check } from "../test/replay.js";
import { bufferedBytes, feedControl, initialLineReader, type FramedItem, type LineReader } from "./framing.js";

const FILE = "packages/core/src/framing.test.ts";
const te = new TextEncoder();
const td = new TextDecoder();

function feedAll(chunks: readonly Uint8Array[], max = 64): { items: string[]; reader: LineReader } {
  let reader = initialLineReader;
  const items: string[] = [];
  for (const chunk of chunks) {
    const fed = feedControl(reader, chunk, max);
    reader = fed.reader;
    for (const item of fed.items) items.push(show(item));
  }
  return { items, reader };
}

function show(item: FramedItem): string {
  return item.kind === "line" ? td.decode(item.bytes) : "<overlong>";
}

/** Every example also runs split at every byte and one byte at a time. */
function frames(input: Uint8Array | string, max = 64): string[] {
  const bytes = typeof input === "string" ? te.encode(input) : input;
  const whole = feedAll([bytes], max).items;
  for (let cut = 1; cut < bytes.length; cut++) {
    expect(feedAll([bytes.subarray(0, cut), bytes.subarray(cut)], max).items, `split at ${cut}`).toEqual(whole);
  }
  expect(feedAll([...bytes].map((b) => new Uint8Array([b])), max).items, "byte by byte").toEqual(whole);
  return whole;
}

describe("feedControl", () => {
  it("splits on CRLF and bare LF, drops empty lines", () => {
    expect(frames("USER a\r\nPASS b\nNOOP\r\n\r\n\n")).toEqual(["USER a", "PASS b", "NOOP"]);
  });

  it("keeps a partial line until its end arrives", () => {
    const { items, reader } = feedAll([te.encode("NO")]);
    expect(items).toEqual([]);
    expect(bufferedBytes(reader)).toBe(2);
    expect(feedControl(reader, te.encode("OP\r\n"), 64).items.map(show)).toEqual(["NOOP"]);
  });

  it("ends a line at a CR followed by anything but LF or NUL", () => {
    expect(frames("NOOP\rPWD\r\n")).toEqual(["NOOP", "PWD"]);
    expect(frames("A\r\r\nB\n")).toEqual(["A", "B"]);
    expect(frames("A\rB\rC\n")).toEqual(["A", "B", "C"]);
  });

  it("keeps CR NUL as a data CR inside the line (a file name cannot split a command)", () => {
    expect(frames("DELE a\r\0b\r\n")).toEqual(["DELE a\rb"]);
    expect(frames("RETR a\r\0\r\0\r\n")).toEqual(["RETR a"]); // trailing CRs are stripped
    expect(frames("\r\0\n")).toEqual([]);
  });

  it("waits at a CR that ends the buffer, unless the line is an urgent ABOR/STAT/QUIT", () => {
    const { items, reader } = feedAll([te.encode("RETR a\r")]);
    expect(items).toEqual([]);
    expect(feedControl(reader, new Uint8Array([0, 0x62, 0x0a]), 64).items.map(show)).toEqual(["RETR a\rb"]);
    expect(feedAll([te.encode("abor\r")]).items).toEqual(["abor"]);
    expect(feedAll([te.encode("STAT\r")]).items).toEqual(["STAT"]);
    expect(feedAll([new Uint8Array([0xf2, ...te.encode("QUIT\r")])]).items).toEqual(["\ufffdQUIT"]);
    expect(feedAll([te.encode("\x01\x02Quit\r")]).items).toEqual(["\x01\x02Quit"]);
  });

  it("takes an urgent line's following LF or NUL as part of its end", () => {
    expect(frames("ABOR\rNOOP\r\n")).toEqual(["ABOR", "NOOP"]);
    expect(frames("ABOR\r")).toEqual(["ABOR"]);
    expect(frames("ABOR\r\nNOOP\n")).toEqual(["ABOR", "NOOP"]);
    expect(frames("ABOR\r\0NOOP\n")).toEqual(["ABOR", "NOOP"]);
    expect(frames("STAT\r\r\n")).toEqual(["STAT"]);
    expect(frames(new Uint8Array([0xff, 0xf4, 0xff, 0xf2, ...te.encode("ABOR\r")]))).toEqual(["ABOR"]);
  });

  it("does not take letters, a space or a long line in front of the verb as urgent garbage", () => {
    for (const text of ["XSTAT\r", "STOR ABOR\r", `${"-".repeat(61)}ABOR\r`, "ABO\r", "\r\0ABOX\r"]) {
      expect(feedAll([te.encode(text)], 128).items, JSON.stringify(text)).toEqual([]);
    }
    expect(feedAll([te.encode(`${"-".repeat(60)}ABOR\r`)], 128).items).toHaveLength(1);
    expect(feedAll([te.encode("\r\0ABOR\r")]).items).toEqual(["\rABOR"]);
  });

  it("filters Telnet: IAC IAC, option negotiation, sub-negotiation, commands, stray IAC", () => {
    expect(frames(new Uint8Array([0x41, 0xff, 0xff, 0x42, 0x0a]))).toEqual(["A\ufffdB"]);
    expect(frames(new Uint8Array([0xff, 0xfb, 0x01, 0x4e, 0x4f, 0x4f, 0x50, 0x0a]))).toEqual(["NOOP"]);
    expect(frames(new Uint8Array([0xff, 0xfa, 0x18, 0x01, 0x41, 0xff, 0xf0, 0x42, 0x0a]))).toEqual(["B"]);
    expect(frames(new Uint8Array([0xff, 0xfa, 0xff, 0x01, 0xff, 0xf0, 0x43, 0x0a]))).toEqual(["C"]);
    expect(frames(new Uint8Array([0xff, 0xf4, 0xff, 0xf2, ...te.encode("ABOR\r\n")]))).toEqual(["ABOR"]);
    // The urgent DM was eaten: IAC then a plain byte loses only the IAC.
    expect(frames(new Uint8Array([0xff, 0xf4, 0xff, ...te.encode("ABOR\r\n")]))).toEqual(["ABOR"]);
  });

  it("answers an overlong line once and discards it through its LF", () => {
    expect(frames(`${"x".repeat(100)}\r\nNOOP\r\n`, 10)).toEqual(["<overlong>", "NOOP"]);
    expect(frames(`${"x".repeat(10)}\r\n${"y".repeat(11)}\nZ\n`, 10)).toEqual(["x".repeat(10), "<overlong>", "Z"]);
    expect(frames(`${"y".repeat(30)}\rZ\n`, 10)).toEqual(["<overlong>", "Z"]);
    const { reader } = feedAll([te.encode("q".repeat(1000))], 10);
    expect(bufferedBytes(reader)).toBe(0);
  });

  it("gives the same items for any split of any input, within the limit, without throwing", () => {
    const byteInput = fc.array(fc.oneof(fc.constantFrom(0x0d, 0x0a, 0x00, 0xff, 0xfb, 0xfa, 0xf0, 0xf4, 0x41, 0x20), fc.integer({ min: 0, max: 255 })), { maxLength: 200 });
    check(
      fc.property(byteInput, fc.array(fc.nat(), { maxLength: 10 }), fc.integer({ min: 1, max: 40 }), (arr, cutsRaw, max) => {
        const bytes = new Uint8Array(arr);
        const cuts = [...new Set(cutsRaw.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const chunks: Uint8Array[] = [];
        let from = 0;
        for (const c of [...cuts, bytes.length]) {
          chunks.push(bytes.subarray(from, c));
          from = c;
        }
        const whole = feedAll([bytes], max);
        const split = feedAll(chunks, max);
        expect(split.items).toEqual(whole.items);
        expect(bufferedBytes(split.reader)).toBeLessThanOrEqual(max);
        for (const item of whole.items) if (item !== "<overlong>") expect(te.encode(item).length).toBeGreaterThan(0);
      }),
      FILE,
      { numRuns: 500 },
    );
  });
});
