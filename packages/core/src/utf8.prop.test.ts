import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { check } from "../test/replay.js";
import { decodeUtf8, decodeUtf8Lossy, encodeUtf8 } from "./utf8.js";

const FILE = "packages/core/src/utf8.prop.test.ts";
// ignoreBOM: keep a leading U+FEFF as the core does (see utf8.ts); the default would drop it.
const fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const replacing = new TextDecoder("utf-8", { ignoreBOM: true });
const encoder = new TextEncoder();

/** Bytes near the edges of every rule: lead bytes, continuation ranges, overlong and surrogate starts. */
const edgeBytes = fc
  .array(fc.oneof(fc.constantFrom(0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xee, 0xef, 0xf0, 0xf4, 0xf5, 0xff), fc.integer({ min: 0, max: 255 })), { maxLength: 32 })
  .map((a) => new Uint8Array(a));
const anyBytes = fc.oneof(fc.uint8Array({ maxLength: 32 }), edgeBytes);

function fatalDecode(bytes: Uint8Array): string | null {
  try {
    return fatal.decode(bytes);
  } catch {
    return null;
  }
}

describe("UTF-8 properties", () => {
  it("round-trips any string of valid code points", () => {
    check(
      fc.property(fc.string({ unit: "binary", maxLength: 40 }), (s) => {
        expect(decodeUtf8(encodeUtf8(s))).toBe(s);
      }),
      FILE,
      { numRuns: 2000 },
    );
  });

  it("encodes exactly like TextEncoder, lone surrogates included", () => {
    check(
      fc.property(fc.string({ unit: fc.oneof(fc.constantFrom("\ud800", "\udbff", "\udc00", "\udfff"), fc.string({ unit: "binary", maxLength: 1 })), maxLength: 20 }), (s) => {
        expect(encodeUtf8(s)).toEqual(encoder.encode(s));
      }),
      FILE,
      { numRuns: 2000 },
    );
  });

  it("agrees with TextDecoder on any bytes, strict and lossy", () => {
    check(
      fc.property(anyBytes, (bytes) => {
        expect(decodeUtf8(bytes)).toBe(fatalDecode(bytes));
        expect(decodeUtf8Lossy(bytes)).toBe(replacing.decode(bytes));
      }),
      FILE,
      { numRuns: 5000 },
    );
  });
});
