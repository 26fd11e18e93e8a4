import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { check } from "../test/replay.js";
import { decodeUtf8, decodeUtf8Lossy, encodeUtf8 } from "./utf8.js";

const FILE = "packages/core/src/utf8.test.ts";
const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

describe("UTF-8", () => {
  it("encodes like TextEncoder, lone surrogates as U+FFFD", () => {
    for (const s of ["", "abc", "grüße", "€", "😀", "a\ud800b", "\udc00"]) expect(encodeUtf8(s)).toEqual(new TextEncoder().encode(s));
  });

  it("rejects invalid, overlong, surrogate and out-of-range sequences", () => {
    for (const bad of [[0xc3], [0xc0, 0x80], [0xe0, 0x80, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xf8], [0x80], [0xe2, 0x28, 0xa1]]) {
      expect(decodeUtf8(new Uint8Array(bad)), String(bad)).toBeNull();
      expect(decodeUtf8Lossy(new Uint8Array(bad))).toContain("\ufffd");
    }
    expect(decodeUtf8(new Uint8Array(10_000).fill(0x41))).toBe("A".repeat(10_000));
  });

  it("keeps a leading byte-order mark as U+FEFF, strict and lossy (a path may begin with it)", () => {
    // Found by the TextDecoder property (FC_SEED=2034449398): the oracle's default decoder drops it.
    const bom = new Uint8Array([0xef, 0xbb, 0xbf]);
    expect(decodeUtf8(bom)).toBe("\ufeff");
    expect(decodeUtf8Lossy(bom)).toBe("\ufeff");
    expect(decodeUtf8(new Uint8Array([0xef, 0xbb, 0xbf, 0x61, 0xef, 0xbb, 0xbf]))).toBe("\ufeffa\ufeff");
    expect(decodeUtf8Lossy(new Uint8Array([0xef, 0xbb, 0xbf, 0xff]))).toBe("\ufeff\ufffd");
    expect(encodeUtf8("\ufeffnotes.txt")).toEqual(new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode("notes.txt")]));
  });

  it("round-trips any string and agrees with TextDecoder on any bytes", () => {
    check(
      fc.property(fc.string({ unit: "grapheme", maxLength: 30 }), (s) => {
        expect(decodeUtf8(encodeUtf8(s))).toBe(s);
      }),
      FILE,
    );
    check(
      fc.property(fc.uint8Array({ maxLength: 24 }), (bytes) => {
        let expected: string | null;
        try {
          expected = strict.decode(bytes);
        } catch {
          expected = null;
        }
        expect(decodeUtf8(bytes)).toBe(expected);
      }),
      FILE,
      { numRuns: 2000 },
    );
  });
});
