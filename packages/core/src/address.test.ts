import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { check } from "../test/replay.js";
import { formatEprtArg, formatEpsvReply, formatPasvReply, formatPortArg, normalizeIp, parse227, parse229, parseEprtArg, parsePortArg, sameIp } from "./address.js";

const FILE = "packages/core/src/address.test.ts";
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join("."));
const ipv6 = fc.ipV6().map((a) => normalizeIp(a)?.address ?? "::1").filter((a) => normalizeIp(a)?.family === 6);
const port = fc.integer({ min: 1, max: 65535 });

describe("normalizeIp and sameIp", () => {
  it("validates and canonicalises", () => {
    expect(normalizeIp("127.0.0.1")).toEqual({ family: 4, address: "127.0.0.1" });
    expect(normalizeIp("::ffff:10.1.2.3")).toEqual({ family: 4, address: "10.1.2.3" });
    expect(normalizeIp("::FFFF:a01:203")).toEqual({ family: 4, address: "10.1.2.3" });
    expect(normalizeIp("2001:0DB8:0:0:0:0:0:1")).toEqual({ family: 6, address: "2001:db8::1" });
    expect(normalizeIp("fe80::1%eth0")?.address).toBe("fe80::1");
    expect(normalizeIp("1:2:3:4:5:6:7:8")?.address).toBe("1:2:3:4:5:6:7:8");
    expect(normalizeIp("1:0:0:2:0:0:0:3")?.address).toBe("1:0:0:2::3");
    expect(normalizeIp("::")?.address).toBe("::");
    expect(normalizeIp("::1.2.3.4")?.address).toBe("::102:304");
    for (const bad of ["256.0.0.1", "1.2.3", "", "x", "1::2::3", "1:2:3:4:5:6:7:8:9", "12345::", "::1.2.3.999", "1:2:3:4:5:6:7::8", "g::1", "1.2.3.4::", "1:1.2.3.4::1", "1::2:3:4:5:6:7:8", ":1::", "1:::2"]) expect(normalizeIp(bad), bad).toBeNull();
    expect(sameIp("::ffff:1.2.3.4", "1.2.3.4")).toBe(true);
    expect(sameIp("::1", "0:0:0:0:0:0:0:1")).toBe(true);
    expect(sameIp("1.2.3.4", "1.2.3.5")).toBe(false);
    expect(sameIp("x", "x")).toBe(false);
  });

  it("refuses leading zeros in the IPv4 tail of an IPv6 address (as inet_pton and node:net), not in plain IPv4", () => {
    // Found by the node:net property (FC_SEED=572091640): "::01.2.3.4" was taken as ::102:304.
    for (const bad of ["::01.2.3.4", "::1.2.3.04", "::ffff:010.0.0.1", "1:2:3:4:5:6:00.0.0.0"]) expect(normalizeIp(bad), bad).toBeNull();
    expect(parseEprtArg("|2|::ffff:010.0.0.1|1025|")).toEqual({ ok: false, error: "syntax" });
    expect(normalizeIp("::0.0.0.0")?.address).toBe("::");
    expect(normalizeIp("::ffff:10.0.0.1")).toEqual({ family: 4, address: "10.0.0.1" });
    // Plain dotted quads keep their documented leniency: decimal, never octal.
    expect(normalizeIp("010.001.0.1")).toEqual({ family: 4, address: "10.1.0.1" });
  });
});

describe("PORT and 227", () => {
  it("parses six numbers 0–255 and refuses the rest", () => {
    expect(parsePortArg("127,0,0,1,4,1")).toEqual({ address: "127.0.0.1", port: 1025 });
    expect(parsePortArg(" 0,0,0,0,0,1 ")).toEqual({ address: "0.0.0.0", port: 1 });
    for (const bad of ["1,2,3,4,5", "1,2,3,4,5,6,7", "1,2,3,4,0,0", "256,0,0,1,1,1", "a,b,c,d,e,f", "1,2,3,4,5,-6", ""]) expect(parsePortArg(bad), bad).toBeNull();
  });

  it("formats 227 as RFC 959 does and reads it back like curl and ftplib", () => {
    expect(formatPasvReply("192.0.2.10", 50000)).toBe("Entering Passive Mode (192,0,2,10,195,80).");
    expect(parse227("Entering Passive Mode (192,0,2,10,195,80).")).toEqual({ address: "192.0.2.10", port: 50000 });
    expect(parse227("=1,2,3,4,5,6")).toEqual({ address: "1.2.3.4", port: 1286 });
    expect(parse227("no numbers")).toBeNull();
    expect(parse227("(999,1,1,1,1,1)")).toBeNull();
    // curl stops at the first six numbers; a longer number is not split to make a match.
    expect(parse227("(1234,1,2,3,4,5)")).toBeNull();
    expect(parse227("(1,2,3,4,5,6789)")).toBeNull();
    expect(parse227("227 x 10,0,0,1,200,10 and 1,1,1,1,1,1")).toEqual({ address: "10.0.0.1", port: 51210 });
  });

  it("round-trips for any address and port", () => {
    check(
      fc.property(ipv4, port, (a, p) => {
        expect(parsePortArg(formatPortArg(a, p))).toEqual({ address: a, port: p });
        expect(parse227(formatPasvReply(a, p))).toEqual({ address: a, port: p });
      }),
      FILE,
    );
  });
});

describe("EPRT and 229", () => {
  it("parses RFC 2428 arguments with any delimiter", () => {
    expect(parseEprtArg("|1|132.235.1.2|6275|")).toEqual({ ok: true, family: 4, address: "132.235.1.2", port: 6275 });
    expect(parseEprtArg("!2!1080::8:800:200C:417A!5282!")).toEqual({ ok: true, family: 6, address: "1080::8:800:200c:417a", port: 5282 });
    expect(parseEprtArg("|3|x|1|")).toEqual({ ok: false, error: "family" });
    expect(parseEprtArg("|2|::ffff:10.0.0.1|1025|")).toEqual({ ok: true, family: 4, address: "10.0.0.1", port: 1025 });
    expect(parseEprtArg(" |1|1.2.3.4|5| ")).toEqual({ ok: true, family: 4, address: "1.2.3.4", port: 5 });
    expect(parseEprtArg("x1x1.2.3.4x5x")).toEqual({ ok: true, family: 4, address: "1.2.3.4", port: 5 });
    for (const bad of ["", "|1|1.2.3.4|0|", "|1|1.2.3.4|70000|", "|1|1.2.3.4|", "|x|1.2.3.4|1|", "|1|::1|5|", "|2|1.2.3.4|5|", "|2|fe80::1%eth0|5|", "|1|1.2.3.4|5|6|", "|11|1.2.3.4|5|", " |1|1.2.3.4|5|x", "\x01\x011.2.3.4\x015\x01"]) {
      expect(parseEprtArg(bad).ok, bad).toBe(false);
    }
  });

  it("formats 229 so curl and ftplib find the port", () => {
    expect(formatEpsvReply(50211)).toBe("Entering Extended Passive Mode (|||50211|)");
    expect(parse229("Entering Extended Passive Mode (|||50211|)")).toBe(50211);
    expect(parse229("(!!!6446!)")).toBe(6446);
    expect(parse229("(|||0|)")).toBeNull();
    expect(parse229("|||5|")).toBeNull();
  });

  it("round-trips for any address, port and family", () => {
    check(
      fc.property(fc.oneof(ipv4.map((a) => [4, a] as const), ipv6.map((a) => [6, a] as const)), port, ([family, a], p) => {
        expect(parseEprtArg(formatEprtArg(family, a, p))).toEqual({ ok: true, family, address: a, port: p });
        expect(parse229(formatEpsvReply(p))).toBe(p);
      }),
      FILE,
    );
  });

  it("never throws on arbitrary text", () => {
    check(
      fc.property(fc.string({ maxLength: 60 }), (s) => {
        parseEprtArg(s);
        parsePortArg(s);
        parse227(s);
        parse229(s);
        normalizeIp(s);
      }),
      FILE,
    );
  });
});
