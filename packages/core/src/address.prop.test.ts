import { isIPv4, isIPv6 } from "node:net";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { check } from "../test/replay.js";
import { formatEprtArg, formatEpsvReply, formatPasvReply, formatPortArg, normalizeIp, parse227, parse229, parseEprtArg, parsePortArg, sameIp } from "./address.js";

const FILE = "packages/core/src/address.prop.test.ts";

const ipv4 = fc.ipV4();
/** IPv6 text in every spelling fast-check knows (compressed, full, v4 tail), upper or lower case. */
const ipv6Text = fc.tuple(fc.ipV6(), fc.boolean()).map(([a, up]) => (up ? a.toUpperCase() : a));
const port = fc.integer({ min: 1, max: 65535 });

/** The WHATWG URL parser's IPv6 serialisation is RFC 5952 (lower case, longest zero run as ::). */
function urlCanonical(v6: string): string {
  return new URL(`http://[${v6}]/`).hostname.slice(1, -1);
}

function isV4Mapped(v6: string): boolean {
  return /^::ffff:[0-9a-f]{1,4}:[0-9a-f]{1,4}$/.test(urlCanonical(v6));
}

const groupList = fc.array(fc.oneof(fc.constantFrom("0", "1", "ffff", "abcd", "10000", ""), ipv4), { maxLength: 8 });
/** Characters and pieces addresses are made of, so random strings often come close to valid. */
const addressish = fc.oneof(
  fc.string({ unit: fc.constantFrom("0", "1", "9", "a", "f", "F", "g", ":", ".", "%", " ", "2", "5"), maxLength: 45 }),
  fc.array(fc.constantFrom("1", "ffff", "0", "FFFF", "12345", "g", "::", ":", "1.2.3.4", "255.255.255.255", "256.1.1.1", "1.2.3", "."), { maxLength: 12 }).map((t) => t.join("")),
  // Group lists around an optional "::", with dotted quads anywhere (valid only at the very end).
  fc
    .tuple(groupList, groupList, fc.constantFrom(":", "::"))
    .map(([head, tail, middle]) => `${head.join(":")}${middle}${tail.join(":")}`),
);

describe("normalizeIp properties", () => {
  it("accepts exactly what node:net accepts, for near-address strings", () => {
    check(
      fc.property(fc.oneof(addressish, ipv4, ipv6Text), (s) => {
        const n = normalizeIp(s);
        // We also take leading zeros in dotted quads (decimal, never octal): node:net refuses them.
        const leadingZeros = /^[\d.]+$/.test(s) && s.split(".").some((p) => /^0\d/.test(p));
        if (!s.includes("%") && !leadingZeros) expect(n !== null, s).toBe(isIPv4(s) || isIPv6(s));
      }),
      FILE,
      { numRuns: 3000 },
    );
  });

  it("canonicalises IPv6 as RFC 5952 (the URL parser's form) and maps ::ffff:a.b.c.d to IPv4", () => {
    check(
      fc.property(ipv6Text, (a) => {
        const n = normalizeIp(a);
        expect(n).not.toBeNull();
        if (isV4Mapped(a)) {
          expect(n?.family).toBe(4);
          expect(isIPv4(n?.address ?? "")).toBe(true);
          expect(sameIp(a, `::ffff:${n?.address ?? ""}`)).toBe(true);
        } else {
          expect(n).toEqual({ family: 6, address: urlCanonical(a) });
        }
        // Idempotent, and every spelling of one address compares equal.
        expect(normalizeIp(n?.address ?? "")).toEqual(n);
        expect(sameIp(a, urlCanonical(a))).toBe(true);
      }),
      FILE,
      { numRuns: 2000 },
    );
  });

  it("treats an IPv4 address and its mapped IPv6 form as the same, and different addresses as different", () => {
    check(
      fc.property(ipv4, ipv4, (a, b) => {
        expect(sameIp(`::ffff:${a}`, a)).toBe(true);
        expect(sameIp(`::FFFF:${a}`, `::ffff:${a}`)).toBe(true);
        expect(sameIp(a, b)).toBe(a === b);
      }),
      FILE,
    );
  });
});

describe("PORT/EPRT/227/229 properties", () => {
  it("format → parse round-trips for any address and port", () => {
    check(
      fc.property(ipv4, ipv6Text, port, (a4, a6, p) => {
        expect(parsePortArg(formatPortArg(a4, p))).toEqual({ address: a4, port: p });
        expect(parse227(`227 ${formatPasvReply(a4, p)}`)).toEqual({ address: a4, port: p });
        expect(parseEprtArg(formatEprtArg(4, a4, p))).toEqual({ ok: true, family: 4, address: a4, port: p });
        const n6 = normalizeIp(a6);
        expect(parseEprtArg(formatEprtArg(6, a6, p))).toEqual({ ok: true, family: n6?.family, address: n6?.address, port: p });
        expect(parse229(`229 ${formatEpsvReply(p)}`)).toBe(p);
      }),
      FILE,
      { numRuns: 1000 },
    );
  });

  it("parsePortArg and parse227 read any six numbers 0–255 (port 0 only for 227)", () => {
    check(
      fc.property(fc.array(fc.nat(255), { minLength: 6, maxLength: 6 }), fc.constantFrom("", " "), (n, pad) => {
        const text = n.map((x) => `${pad}${x}${pad}`).join(",");
        const expected = { address: n.slice(0, 4).join("."), port: (n[4] ?? 0) * 256 + (n[5] ?? 0) };
        expect(parsePortArg(text)).toEqual(expected.port === 0 ? null : expected);
        expect(parse227(`Entering Passive Mode (${n.join(",")})`)).toEqual(expected);
      }),
      FILE,
    );
  });

  it("never throws on arbitrary text, and what parses is always valid", () => {
    const text = fc.oneof(fc.string({ maxLength: 60 }), fc.string({ unit: fc.constantFrom("|", "!", "1", "2", ".", ":", ",", "(", ")", "9", " ", "f"), maxLength: 40 }));
    check(
      fc.property(text, (s) => {
        const e = parseEprtArg(s);
        if (e.ok) {
          expect(normalizeIp(e.address)).toEqual({ family: e.family, address: e.address });
          expect(e.port).toBeGreaterThanOrEqual(1);
          expect(e.port).toBeLessThanOrEqual(65535);
        }
        for (const r of [parsePortArg(s), parse227(s)]) {
          if (r !== null) {
            expect(isIPv4(r.address)).toBe(true);
            expect(r.port).toBeLessThanOrEqual(65535);
          }
        }
        const p = parse229(s);
        if (p !== null) expect(p >= 1 && p <= 65535).toBe(true);
        normalizeIp(s);
      }),
      FILE,
      { numRuns: 3000 },
    );
  });
});
