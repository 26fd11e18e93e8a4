import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { check } from "../test/replay.js";
import { AsciiDecoder, AsciiEncoder, asciiEncodedLength } from "./ascii.js";

const FILE = "packages/core/src/ascii.test.ts";
const te = new TextEncoder();
const td = new TextDecoder();

function split(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let from = 0;
  for (const p of [...points, bytes.length]) {
    out.push(bytes.subarray(from, p));
    from = p;
  }
  return out;
}

function encode(chunks: readonly Uint8Array[], skip = 0): Uint8Array {
  const e = new AsciiEncoder(skip);
  return concat(chunks.map((c) => e.push(c)));
}

function decode(chunks: readonly Uint8Array[]): Uint8Array {
  const d = new AsciiDecoder();
  return concat([...chunks.map((c) => d.push(c)), d.end()]);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

describe("TYPE A transforms", () => {
  it("encodes LF as CRLF and leaves existing CRLF alone, across chunks", () => {
    expect(td.decode(encode([te.encode("a\nb\r\nc\r")]))).toBe("a\r\nb\r\nc\r");
    expect(td.decode(encode([te.encode("a\r"), te.encode("\nb\n")]))).toBe("a\r\nb\r\n");
    expect(td.decode(encode([te.encode("a\nb")], 2))).toBe("\nb");
    expect(asciiEncodedLength(te.encode("a\nb\r\n"))).toBe(6);
  });

  it("decodes CRLF as LF, keeps a lone CR, holds a trailing CR", () => {
    expect(td.decode(decode([te.encode("a\r\nb\rc\r")]))).toBe("a\nb\rc\r");
    expect(td.decode(decode([te.encode("a\r"), te.encode("\n")]))).toBe("a\n");
    expect(td.decode(decode([te.encode("a\r"), te.encode("x")]))).toBe("a\rx");
  });

  it("any split gives the one-shot output; decode inverts encode; skip is a slice", () => {
    const bytes = fc.array(fc.constantFrom(0x0a, 0x0d, 0x41, 0x20, 0xff), { maxLength: 80 }).map((a) => new Uint8Array(a));
    check(
      fc.property(bytes, fc.array(fc.nat(), { maxLength: 6 }), fc.nat(100), (b, cuts, skip) => {
        const chunks = split(b, cuts);
        const whole = encode([b]);
        expect(encode(chunks)).toEqual(whole);
        expect(encode(chunks, skip)).toEqual(whole.subarray(Math.min(skip, whole.length)));
        expect(whole.length).toBe(asciiEncodedLength(b));
        for (let i = 0; i < whole.length; i++) if (whole[i] === 0x0a) expect(whole[i - 1]).toBe(0x0d);
        expect(decode(split(whole, cuts))).toEqual(decode([whole]));
        const noCr = b.filter((x) => x !== 0x0d);
        expect(decode(split(encode([noCr]), cuts))).toEqual(noCr);
      }),
      FILE,
    );
  });
});
