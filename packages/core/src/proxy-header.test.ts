import { describe, expect, it } from "vitest";
import { feedProxyHeader, initialProxyReader, parseProxyHeader, PROXY_HEADER_MAX_BYTES, PROXY_V1_MAX_BYTES, PROXY_V2_MAX_PAYLOAD, type ProxyFeed } from "./proxy-header.js";

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const SIG = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];

/** A v2 header: version/command byte, family byte, then `body` (its length is written in). */
export function v2(verCmd: number, family: number, body: readonly number[]): Uint8Array {
  return Uint8Array.from([...SIG, verCmd, family, body.length >> 8, body.length & 255, ...body]);
}
const port = (p: number): number[] => [p >> 8, p & 255];

describe("parseProxyHeader v1", () => {
  it("reads TCP4 and says how long the header is", () => {
    const line = "PROXY TCP4 127.0.0.5 127.0.0.1 40001 2121\r\n";
    expect(parseProxyHeader(ascii(`${line}USER x\r\n`))).toEqual({
      kind: "header",
      length: line.length,
      header: { command: "proxy", version: 1, source: { address: "127.0.0.5", port: 40001 }, destination: { address: "127.0.0.1", port: 2121 } },
    });
  });

  it("reads TCP6 into canonical text, a mapped address as IPv4", () => {
    const r = parseProxyHeader(ascii("PROXY TCP6 2001:DB8:0:0::1 ::ffff:10.0.0.1 65535 0\r\n"));
    expect(r).toMatchObject({ kind: "header", header: { source: { address: "2001:db8::1", port: 65535 }, destination: { address: "10.0.0.1", port: 0 } } });
  });

  it("takes UNKNOWN, with or without addresses, as the connection's own", () => {
    expect(parseProxyHeader(ascii("PROXY UNKNOWN\r\n"))).toEqual({ kind: "header", length: 15, header: { command: "local", version: 1 } });
    expect(parseProxyHeader(ascii("PROXY UNKNOWN ffff:f...f:ffff 1 2\r\nX"))).toMatchObject({ kind: "header", header: { command: "local" } });
  });

  it("accepts the longest legal line (107 bytes) and refuses one byte more", () => {
    const a = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    const longest = `PROXY UNKNOWN ${a} ${a} 65535 65535\r\n`;
    expect(longest.length).toBe(PROXY_V1_MAX_BYTES);
    expect(parseProxyHeader(ascii(longest)).kind).toBe("header");
    expect(parseProxyHeader(ascii(`PROXY TCP6 ${a} ${a} 65535 65535\r\n`)).kind).toBe("header");
    expect(parseProxyHeader(ascii(`PROXY UNKNOWN ${"x".repeat(92)}\r\n`)).kind).toBe("invalid");
    expect(parseProxyHeader(ascii(`PROXY UNKNOWN ${"x".repeat(200)}`))).toEqual({ kind: "invalid", reason: "v1 header longer than 107 bytes" });
  });

  it.each([
    ["GET / HTTP/1.1\r\n", "not a PROXY protocol header"],
    ["PROXX", "not a PROXY protocol header"],
    ["PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "not printable"],
    ["PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX", "CR without LF"],
    ["PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", "unknown protocol"],
    ["PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", "expected PROXY"],
    ["PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", "expected PROXY"],
    ["PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n", "not IPv4"],
    ["PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", "not IPv4"],
    ["PROXY TCP4 ::1 5.6.7.8 1 2\r\n", "not IPv4"],
    ["PROXY TCP6 1.2.3.4 ::1 1 2\r\n", "not IPv6"],
    ["PROXY TCP6 ::1 ::g 1 2\r\n", "not IPv6"],
    ["PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", "not 0-65535"],
    ["PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", "not 0-65535"],
    ["PROXY TCP4 1.2.3.4 5.6.7.8 1 -2\r\n", "not 0-65535"],
    ["PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", "expected PROXY"],
    ["PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", "unknown protocol"],
  ])("refuses %j", (input, reason) => {
    const r = parseProxyHeader(ascii(input));
    expect(r.kind).toBe("invalid");
    expect(r.kind === "invalid" ? r.reason : "").toContain(reason);
  });

  it("waits while the line may still become a header", () => {
    for (const s of ["P", "PROXY", "PROXY TCP4 1.2.3.4", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r"]) expect(parseProxyHeader(ascii(s))).toEqual({ kind: "incomplete" });
    expect(parseProxyHeader(new Uint8Array(0))).toEqual({ kind: "incomplete" });
  });
});

describe("parseProxyHeader v2", () => {
  const tcp4 = [127, 0, 0, 5, 127, 0, 0, 1, ...port(40001), ...port(2121)];

  it("reads PROXY TCP over IPv4 and skips TLVs", () => {
    const tlvs = [0x01, 0, 2, 0x68, 0x32, 0x04, 0, 0];
    const header = v2(0x21, 0x11, [...tcp4, ...tlvs]);
    const r = parseProxyHeader(Uint8Array.from([...header, 0x16, 0x03]));
    expect(r).toEqual({ kind: "header", length: header.length, header: { command: "proxy", version: 2, source: { address: "127.0.0.5", port: 40001 }, destination: { address: "127.0.0.1", port: 2121 } } });
  });

  it("reads PROXY TCP over IPv6, canonical and a mapped address as IPv4", () => {
    const src = [0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), 1];
    const mapped = [...new Array<number>(10).fill(0), 0xff, 0xff, 10, 0, 0, 9];
    const r = parseProxyHeader(v2(0x21, 0x21, [...src, ...mapped, ...port(1), ...port(21)]));
    expect(r).toMatchObject({ kind: "header", length: 52, header: { source: { address: "2001:db8::1", port: 1 }, destination: { address: "10.0.0.9", port: 21 } } });
  });

  it("takes LOCAL (any family, any block) and PROXY UNSPEC as the connection's own", () => {
    expect(parseProxyHeader(v2(0x20, 0x00, []))).toEqual({ kind: "header", length: 16, header: { command: "local", version: 2 } });
    expect(parseProxyHeader(v2(0x20, 0x31, [1, 2, 3]))).toEqual({ kind: "header", length: 19, header: { command: "local", version: 2 } });
    expect(parseProxyHeader(v2(0x21, 0x00, [9, 9]))).toEqual({ kind: "header", length: 18, header: { command: "local", version: 2 } });
  });

  it.each([
    ["version 1", v2(0x11, 0x11, tcp4), "version 1"],
    ["command 2", v2(0x22, 0x11, tcp4), "command 2"],
    ["UDP", v2(0x21, 0x12, tcp4), "0x12"],
    ["UNIX", v2(0x21, 0x31, new Array<number>(216).fill(0)), "0x31"],
    ["a short IPv4 block", v2(0x21, 0x11, tcp4.slice(0, 11)), "cannot hold"],
    ["a short IPv6 block", v2(0x21, 0x21, tcp4), "cannot hold"],
    ["a wrong signature", Uint8Array.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0b]), "not a PROXY"],
  ])("refuses %s", (_, input, reason) => {
    const r = parseProxyHeader(input);
    expect(r.kind === "invalid" ? r.reason : r.kind).toContain(reason);
  });

  it("refuses a length over the limit from the fixed part alone, before the payload comes", () => {
    const fixed = Uint8Array.from([...SIG, 0x21, 0x11, (PROXY_V2_MAX_PAYLOAD + 1) >> 8, (PROXY_V2_MAX_PAYLOAD + 1) & 255]);
    expect(parseProxyHeader(fixed).kind).toBe("invalid");
    const most = v2(0x21, 0x11, [...tcp4, ...new Array<number>(PROXY_V2_MAX_PAYLOAD - tcp4.length).fill(0)]);
    expect(most.length).toBe(PROXY_HEADER_MAX_BYTES);
    expect(parseProxyHeader(most).kind).toBe("header");
  });

  it("waits for a truncated header", () => {
    const full = v2(0x21, 0x11, tcp4);
    for (let n = 1; n < full.length; n++) expect(parseProxyHeader(full.subarray(0, n))).toEqual({ kind: "incomplete" });
  });
});

describe("feedProxyHeader", () => {
  it("hands back the chunk's bytes after the header", () => {
    const head = ascii("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n");
    const first = feedProxyHeader(initialProxyReader, head.subarray(0, 10));
    expect(first.kind).toBe("incomplete");
    if (first.kind !== "incomplete") return;
    const second = feedProxyHeader(first.reader, Uint8Array.from([...head.subarray(10), ...ascii("USER a\r\n")]));
    expect(second.kind).toBe("header");
    expect(second.kind === "header" ? String.fromCharCode(...second.rest) : "").toBe("USER a\r\n");
  });

  it("holds at most the limit: the longest v2 header fed in large chunks ends exactly there", () => {
    const fixed = [...SIG, 0x21, 0x11, PROXY_V2_MAX_PAYLOAD >> 8, PROXY_V2_MAX_PAYLOAD & 255];
    let feed: ProxyFeed = feedProxyHeader(initialProxyReader, Uint8Array.from(fixed));
    let fed = fixed.length;
    while (feed.kind === "incomplete") {
      expect(feed.reader.bytes.length).toBeLessThanOrEqual(PROXY_HEADER_MAX_BYTES);
      feed = feedProxyHeader(feed.reader, new Uint8Array(1000).fill(7));
      fed += 1000;
    }
    expect(feed.kind).toBe("header");
    expect(feed.kind === "header" ? feed.rest.length : -1).toBe(fed - PROXY_HEADER_MAX_BYTES);
  });
});
