import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { check } from "../test/replay.js";
import { bufferedBytes, feedControl, initialLineReader, type FramedItem } from "./framing.js";

const FILE = "packages/core/src/framing.prop.test.ts";

/** Items as comparable strings: bytes as hex so any byte value survives. */
function show(item: FramedItem): string {
  return item.kind === "line" ? Buffer.from(item.bytes).toString("hex") : "<overlong>";
}

function feedChunks(chunks: readonly Uint8Array[], max: number): { items: string[]; held: number[] } {
  let reader = initialLineReader;
  const items: string[] = [];
  const held: number[] = [];
  for (const chunk of chunks) {
    const fed = feedControl(reader, chunk, max);
    reader = fed.reader;
    items.push(...fed.items.map(show));
    held.push(bufferedBytes(reader));
  }
  return { items, held };
}

/** The Telnet filter of SPEC §1.2, written plainly over the whole input. */
function telnetData(bytes: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] ?? 0;
    if (b !== 0xff) {
      out.push(b);
      continue;
    }
    const c = bytes[i + 1];
    if (c === undefined) break;
    if (c === 0xff) {
      out.push(0xff);
      i++;
    } else if (c >= 251) {
      i += 2; // WILL/WONT/DO/DONT + option
    } else if (c === 250) {
      // SB … IAC SE
      let j = i + 2;
      while (j < bytes.length && !(bytes[j] === 0xff && bytes[j + 1] === 240)) j += bytes[j] === 0xff ? 2 : 1;
      i = j + 1;
    } else if (c >= 240) {
      i++;
    }
    // else: IAC + non-command byte, only the IAC goes
  }
  return out;
}

function urgent(line: readonly number[]): boolean {
  if (line.length < 4 || line.length > 64) return false;
  const text = String.fromCharCode(...line.map((b) => (b < 0x80 ? b : 0x3f)));
  const word = text.slice(-4).toUpperCase();
  const head = text.slice(0, -4);
  if (!["ABOR", "STAT", "QUIT"].includes(word) || head.includes(" ")) return false;
  return head === "" || /[^A-Za-z]/.test(head);
}

/** SPEC §1.1–1.3 as a whole-input reference with lookahead (no chunks, no fast path). */
function reference(bytes: Uint8Array, max: number): string[] {
  const data = telnetData(bytes);
  const items: string[] = [];
  let line: number[] = [];
  let discarding = false as boolean; // set inside the closures, which narrowing does not see
  const end = (): void => {
    if (discarding) discarding = false;
    else {
      while (line.length > 0 && line[line.length - 1] === 0x0d) line.pop();
      if (line.length > 0) items.push(Buffer.from(line).toString("hex"));
    }
    line = [];
  };
  const push = (b: number): void => {
    if (discarding) return;
    if (line.length >= max) {
      items.push("<overlong>");
      discarding = true;
      line = [];
    } else line.push(b);
  };
  for (let i = 0; i < data.length; i++) {
    const b = data[i] ?? 0;
    if (b === 0x0a) end();
    else if (b === 0x0d) {
      const next = data[i + 1];
      if (!discarding && urgent(line)) {
        end();
        if (next === 0x0a || next === 0x00) i++;
      } else if (next === undefined) {
        break; // undecided until more bytes come
      } else if (next === 0x00) {
        push(0x0d);
        i++;
      } else {
        end();
        if (next === 0x0a) i++;
      }
    } else push(b);
  }
  return items;
}

const interesting = fc.constantFrom(0x0d, 0x0a, 0x00, 0xff, 0xfb, 0xfa, 0xf0, 0xf4, 0xf2, 0x20, 0x41, 0x42, 0x4f, 0x52, 0x61, 0x62, 0x6f, 0x72, 0x53, 0x54, 0x01);
const urgentWord = fc.constantFrom("ABOR", "abor", "STAT", "QUIT", "\x01\x02QUIT", "XSTAT", "NOOP").map((s) => Array.from(Buffer.from(s, "latin1")));
const input = fc
  .array(fc.oneof(interesting.map((b) => [b]), fc.integer({ min: 0, max: 255 }).map((b) => [b]), urgentWord), { maxLength: 120 })
  .map((parts) => new Uint8Array(parts.flat()));

function splitAt(bytes: Uint8Array, cutsRaw: readonly number[]): Uint8Array[] {
  const cuts = [...new Set(cutsRaw.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const c of [...cuts, bytes.length]) {
    chunks.push(bytes.subarray(from, c));
    from = c;
  }
  return chunks;
}

describe("feedControl properties", () => {
  it("matches the whole-input reference for any input split anywhere, and one byte at a time", () => {
    check(
      fc.property(input, fc.array(fc.nat(), { maxLength: 8 }), fc.integer({ min: 1, max: 24 }), (bytes, cuts, max) => {
        const expected = reference(bytes, max);
        expect(feedChunks([bytes], max).items).toEqual(expected);
        expect(feedChunks(splitAt(bytes, cuts), max).items).toEqual(expected);
        expect(feedChunks([...bytes].map((b) => new Uint8Array([b])), max).items).toEqual(expected);
      }),
      FILE,
      { numRuns: 1000 },
    );
  });

  it("never holds or emits more than the limit and never throws, on arbitrary bytes", () => {
    check(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.array(fc.nat(), { maxLength: 12 }), fc.integer({ min: 1, max: 64 }), (bytes, cuts, max) => {
        let reader = initialLineReader;
        for (const chunk of splitAt(bytes, cuts)) {
          const fed = feedControl(reader, chunk, max);
          reader = fed.reader;
          expect(bufferedBytes(reader)).toBeLessThanOrEqual(max);
          for (const item of fed.items) {
            if (item.kind === "line") {
              expect(item.bytes.length).toBeGreaterThan(0);
              expect(item.bytes.length).toBeLessThanOrEqual(max);
              expect(item.bytes.includes(0x0a)).toBe(false);
            }
          }
        }
      }),
      FILE,
      { numRuns: 1000 },
    );
  });

  it("stays linear: long lines of CR NUL, CRs and Telnet bytes in one chunk", () => {
    const n = 400_000;
    const crNul = new Uint8Array(n).map((_, i) => (i % 2 === 0 ? 0x0d : 0x00));
    const crs = new Uint8Array(n).fill(0x0d);
    const iacs = new Uint8Array(n).map((_, i) => (i % 2 === 0 ? 0xff : 0xf1));
    const started = performance.now();
    for (const bytes of [crNul, crs, iacs]) feedControl(initialLineReader, bytes, n);
    // Quadratic work on 400k bytes would take minutes; linear takes milliseconds.
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});
