import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { check } from "../test/replay.js";
import { encodeReply, feedReplies, initialReplyReader, quotePath, type ParsedReply } from "./reply.js";

const FILE = "packages/core/src/reply.test.ts";
const td = new TextDecoder();
const te = new TextEncoder();

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

describe("encodeReply", () => {
  it("writes one line as ddd<SP>text", () => {
    expect(td.decode(encodeReply(200, "OK"))).toBe("200 OK\r\n");
    expect(td.decode(encodeReply(200, ""))).toBe("200 \r\n");
    expect(td.decode(encodeReply(230, ["only"]))).toBe("230 only\r\n");
  });

  it("writes multi-line replies and pads middle lines that start with three digits", () => {
    expect(td.decode(encodeReply(211, ["Features:", " UTF8", "123 looks final", "End"]))).toBe("211-Features:\r\n UTF8\r\n 123 looks final\r\n211 End\r\n");
  });

  it("writes the middle lines in each legal RFC 959 form, and a strict reader gets the reply whole", () => {
    const lines = ["Features:", "UTF8", "211 looks final", "End"];
    expect(td.decode(encodeReply(211, lines, "dashed"))).toBe("211-Features:\r\n211-UTF8\r\n211-211 looks final\r\n211 End\r\n");
    expect(td.decode(encodeReply(211, lines, "indented"))).toBe("211-Features:\r\n UTF8\r\n 211 looks final\r\n211 End\r\n");
    expect(td.decode(encodeReply(211, lines, "plain"))).toBe("211-Features:\r\nUTF8\r\n 211 looks final\r\n211 End\r\n");
    for (const style of ["plain", "dashed", "indented"] as const) {
      const got = read([encodeReply(211, lines, style), encodeReply(200, "OK", style)]);
      expect(got.error).toBeNull();
      expect(got.replies.map((r) => r.code)).toEqual([211, 200]);
      expect(got.replies[0]?.lines.length).toBe(4);
    }
  });

  it("never lets CR or LF in a text split the reply", () => {
    expect(td.decode(encodeReply(550, "bad\r\n200 fake"))).toBe("550 bad  200 fake\r\n");
    expect(td.decode(encodeReply(213, ["a\nb", "c\rd", "e"]))).toBe("213-a b\r\nc d\r\n213 e\r\n");
  });

  it("quotes 257 paths with inner quotes doubled and LF as NUL", () => {
    expect(quotePath('/a"b\nc')).toBe('"/a""b\0c"');
  });
});

describe("feedReplies", () => {
  it("parses marks, finals and multi-line replies at any split", () => {
    const bytes = te.encode("150 go\r\n226 done\r\n211-a\r\n 211 x\r\n211 end\r\n");
    for (let cut = 0; cut <= bytes.length; cut++) {
      const r = read([bytes.subarray(0, cut), bytes.subarray(cut)]);
      expect(r.error).toBeNull();
      expect(r.replies.map((x) => [x.code, x.final, x.lines])).toEqual([
        [150, false, ["go"]],
        [226, true, ["done"]],
        [211, true, ["a", " 211 x", "end"]],
      ]);
    }
  });

  it("reports malformed replies", () => {
    expect(read([te.encode("200 ok\n")]).error).toMatch(/CRLF/);
    expect(read([te.encode("20 ok\r\n")]).error).toMatch(/malformed/);
    expect(read([te.encode("200\tok\r\n")]).error).toMatch(/malformed/);
    expect(read([te.encode("099 x\r\n")]).error).toMatch(/range/);
    expect(read([te.encode("x".repeat(70_000))]).error).toMatch(/too long/);
    expect(read([te.encode("211-a\r\n212 end\r\n")]).error).toMatch(/unpadded/);
    expect(read([te.encode("211-a\r\n2110\r\n211 end\r\n")]).error).toMatch(/unpadded/);
    expect(read([te.encode("211-a\r\n")]).error).toBeNull();
  });

  it("keeps a U+FEFF that begins a middle line (no byte-order mark is stripped)", () => {
    const r = read([encodeReply(211, ["a", "\ufeffname", "end"])]);
    expect(r.replies).toEqual([{ code: 211, lines: ["a", "\ufeffname", "end"], final: true }]);
  });

  it("accepts RFC 959 continuation lines that repeat the code with a hyphen", () => {
    const r = read([te.encode("211-a\r\n211-b\r\nc\r\n211 end\r\n")]);
    expect(r.error).toBeNull();
    expect(r.replies).toEqual([{ code: 211, lines: ["a", "211-b", "c", "end"], final: true }]);
  });

  it("round-trips encodeReply for any code and lines, at any split", () => {
    const line = fc.string({ maxLength: 30 }).filter((s) => !/[\r\n]/.test(s));
    check(
      fc.property(fc.integer({ min: 100, max: 599 }), fc.array(line, { minLength: 1, maxLength: 5 }), fc.nat(), (code, lines, cutRaw) => {
        const bytes = encodeReply(code, lines);
        const cut = cutRaw % (bytes.length + 1);
        const r = read([bytes.subarray(0, cut), bytes.subarray(cut)]);
        expect(r.error).toBeNull();
        expect(r.replies).toHaveLength(1);
        expect(r.replies[0]?.code).toBe(code);
        const expected = lines.length === 1 ? lines : lines.map((l, i) => (i > 0 && i < lines.length - 1 && /^\d{3}/.test(l) ? ` ${l}` : l));
        expect(r.replies[0]?.lines).toEqual(expected.map((l) => new TextDecoder("utf-8", { ignoreBOM: true }).decode(new TextEncoder().encode(l))));
      }),
      FILE,
    );
  });
});
