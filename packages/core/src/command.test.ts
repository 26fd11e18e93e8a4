import { describe, expect, it } from "vitest";
import { parseCommand } from "./command.js";

const te = new TextEncoder();
const parse = (s: string | Uint8Array) => parseCommand(typeof s === "string" ? te.encode(s) : s);

describe("parseCommand", () => {
  it("upper-cases the verb and keeps the argument verbatim after the first space", () => {
    expect(parse("retr  a file ")).toEqual({ verb: "RETR", arg: " a file ", argInvalid: false });
    expect(parse("NOOP")).toEqual({ verb: "NOOP", arg: null, argInvalid: false });
    expect(parse("PASS ")).toEqual({ verb: "PASS", arg: "", argInvalid: false });
    expect(parse(" x")).toEqual({ verb: "", arg: "x", argInvalid: false });
  });

  it("decodes NUL in the argument as LF (Bernstein's encoding)", () => {
    expect(parse(new Uint8Array([0x4d, 0x4b, 0x44, 0x20, 0x61, 0x00, 0x62])).arg).toBe("a\nb");
  });

  it("flags an argument that is not UTF-8", () => {
    const r = parse(new Uint8Array([0x53, 0x54, 0x4f, 0x52, 0x20, 0xc3, 0x28]));
    expect(r.argInvalid).toBe(true);
    expect(r.arg).toBe("\ufffd(");
    expect(parse("STOR grüße").arg).toBe("grüße");
  });

  it("keeps a byte-order mark that begins the argument: it is part of the name", () => {
    const r = parse(new Uint8Array([0x53, 0x54, 0x4f, 0x52, 0x20, 0xef, 0xbb, 0xbf, 0x61]));
    expect(r).toEqual({ verb: "STOR", arg: "\ufeffa", argInvalid: false });
    expect(parse(new Uint8Array([0x53, 0x54, 0x4f, 0x52, 0x20, 0xef, 0xbb, 0xbf, 0xff])).arg).toBe("\ufeff\ufffd");
  });

  it("finds ABOR/STAT/QUIT behind urgent-data garbage, not behind letters", () => {
    expect(parse(new Uint8Array([0xf2, 0x41, 0x42, 0x4f, 0x52])).verb).toBe("ABOR");
    expect(parse("\x01\x02quit").verb).toBe("QUIT");
    expect(parse("XSTAT").verb).toBe("XSTAT");
    expect(parse("12NOOP").verb).toBe("12NOOP");
    expect(parse(`${"A".repeat(100)} x`).verb).toHaveLength(64);
  });
});
