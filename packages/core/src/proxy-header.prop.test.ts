import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { check } from "../test/replay.js";
import { feedProxyHeader, initialProxyReader, parseProxyHeader, PROXY_HEADER_MAX_BYTES, type ProxyFeed } from "./proxy-header.js";

const FILE = "packages/core/src/proxy-header.prop.test.ts";
const SIG = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];
const ascii = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));

/** Feeds `input` cut at `cuts`; the outcome and the bytes left for the connection. */
function feedSplit(input: Uint8Array, cuts: readonly number[]): { kind: string; header?: unknown; rest?: number[]; reason?: string } {
  const points = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const p of [...points, input.length]) {
    chunks.push(input.subarray(from, p));
    from = p;
  }
  let reader = initialProxyReader;
  for (let i = 0; i < chunks.length; i++) {
    const feed: ProxyFeed = feedProxyHeader(reader, chunks[i] ?? new Uint8Array(0));
    if (feed.kind === "incomplete") {
      reader = feed.reader;
      continue;
    }
    if (feed.kind === "invalid") return { kind: "invalid" };
    // The connection's bytes: the rest of this chunk and every later one.
    const rest = [...feed.rest, ...chunks.slice(i + 1).flatMap((c) => [...c])];
    return { kind: "header", header: feed.header, rest };
  }
  return { kind: "incomplete" };
}

const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255));
const port = fc.nat(65535);
const header = fc.oneof(
  fc.tuple(v4, v4, port, port).map(([s, d, sp, dp]) => ascii(`PROXY TCP4 ${s.join(".")} ${d.join(".")} ${sp} ${dp}\r\n`)),
  fc.tuple(fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }), port).map(([g, p]) => ascii(`PROXY TCP6 ${g.map((x) => x.toString(16)).join(":")} ::1 ${p} 21\r\n`)),
  fc.constant(ascii("PROXY UNKNOWN\r\n")),
  fc.tuple(fc.constantFrom(0x20, 0x21), fc.constantFrom(0x11, 0x21), fc.uint8Array({ maxLength: 300 })).map(([vc, fam, tlv]) => {
    const body = [...new Array<number>(fam === 0x11 ? 12 : 36).fill(0).map((_, i) => (i * 37) & 255), ...tlv];
    return [...SIG, vc, fam, body.length >> 8, body.length & 255, ...body];
  }),
);

describe("PROXY header properties", () => {
  it("a header followed by anything, cut anywhere, gives the same header and leaves exactly the bytes after it", () => {
    check(
      fc.property(header, fc.uint8Array({ maxLength: 64 }), fc.array(fc.nat(), { maxLength: 8 }), (head, after, cuts) => {
        const input = Uint8Array.from([...head, ...after]);
        const whole = parseProxyHeader(input);
        expect(whole.kind).toBe("header");
        const split = feedSplit(input, cuts);
        expect(split.kind).toBe("header");
        expect(split.header).toEqual(whole.kind === "header" ? whole.header : null);
        expect(split.rest).toEqual([...after]);
      }),
      FILE,
    );
  });

  it("every proper prefix of a header is incomplete", () => {
    check(
      fc.property(header, (head) => {
        for (let n = 0; n < head.length; n++) expect(parseProxyHeader(Uint8Array.from(head.slice(0, n))).kind).toBe("incomplete");
      }),
      FILE,
      { numRuns: 50 },
    );
  });

  it("byte by byte and at random splits, any input gets the answer it gets whole; a verdict never changes with more bytes", () => {
    check(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), header.chain((h) => fc.tuple(fc.constant(h), fc.nat(h.length - 1), fc.nat(255)).map(([x, i, b]) => Uint8Array.from(x.map((v, j) => (j === i ? b : v)))))), fc.array(fc.nat(), { maxLength: 8 }), (input, cuts) => {
        const whole = parseProxyHeader(input);
        const split = feedSplit(input, cuts);
        const bytewise = feedSplit(input, Array.from({ length: input.length }, (_, i) => i));
        expect(split.kind).toBe(whole.kind);
        expect(bytewise.kind).toBe(whole.kind);
        if (whole.kind === "invalid") expect(parseProxyHeader(Uint8Array.from([...input, 0x0d, 0x0a])).kind).toBe("invalid");
        expect(Math.min(input.length, PROXY_HEADER_MAX_BYTES)).toBeGreaterThanOrEqual(0);
      }),
      FILE,
    );
  });
});
