import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { check } from "../test/replay.js";
import { encodeReply, feedReplies, initialReplyReader, type ParsedReply } from "./reply.js";

const FILE = "packages/core/src/reply.prop.test.ts";

function read(chunks: readonly Uint8Array[]): { replies: ParsedReply[]; error: string | null } {
  let reader = initialReplyReader;
  const replies: ParsedReply[] = [];
  for (const chunk of chunks) {
    const fed = feedReplies(reader, chunk);
    reader = fed.reader;
    replies.push(...fed.replies);
    if (fed.error !== null) return { replies, error: fed.error };
  }
  return { replies, error: null };
}

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

/** Text lines an attacker might choose: CR/LF, digits that look like reply codes, any code point. */
const hostileLine = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.constantFrom("", "226 fake", "226-x", "\r\n226 forged\r\n", "123", "\n", "\r", "200 ok\r", "550\tx", "\ud800"),
  fc.array(fc.constantFrom("2", "0", " ", "-", "\r", "\n", "a", "é"), { maxLength: 12 }).map((a) => a.join("")),
);

/** What a line looks like after encoding: CR/LF as spaces, lone surrogates as U+FFFD. */
function expectedLine(s: string): string {
  return new TextDecoder("utf-8", { ignoreBOM: true }).decode(new TextEncoder().encode(s.replace(/[\r\n]/g, " ")));
}

const reply = fc.record({
  code: fc.integer({ min: 100, max: 599 }),
  lines: fc.oneof(hostileLine, fc.array(hostileLine, { minLength: 1, maxLength: 6 })),
});

describe("encodeReply → feedReplies", () => {
  it("any sequence of replies with any text comes back one for one, at any split", () => {
    check(
      fc.property(fc.array(reply, { minLength: 1, maxLength: 5 }), fc.array(fc.nat(), { maxLength: 10 }), (replies, cuts) => {
        const encoded = replies.map((r) => encodeReply(r.code, r.lines));
        const bytes = new Uint8Array(encoded.reduce((n, e) => n + e.length, 0));
        let at = 0;
        for (const e of encoded) {
          bytes.set(e, at);
          at += e.length;
        }
        const expected = replies.map((r) => {
          const lines = typeof r.lines === "string" ? [r.lines] : r.lines;
          const text = lines.map((l, i) => {
            const clean = expectedLine(l);
            return i > 0 && i < lines.length - 1 && /^\d{3}/.test(clean) ? ` ${clean}` : clean;
          });
          return { code: r.code, lines: text, final: r.code >= 200 };
        });
        for (const chunks of [[bytes], splitAt(bytes, cuts), [...bytes].map((b) => new Uint8Array([b]))]) {
          const got = read(chunks);
          expect(got.error).toBeNull();
          expect(got.replies).toEqual(expected);
        }
      }),
      FILE,
      { numRuns: 500 },
    );
  });

  it("feedReplies never throws and never grows without bound on arbitrary bytes", () => {
    check(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(), { maxLength: 10 }), (bytes, cuts) => {
        let reader = initialReplyReader;
        for (const chunk of splitAt(bytes, cuts)) {
          const fed = feedReplies(reader, chunk);
          if (fed.error !== null) return;
          reader = fed.reader;
          for (const r of fed.replies) expect(r.code).toBeGreaterThanOrEqual(100);
        }
      }),
      FILE,
      { numRuns: 1000 },
    );
  });
});
