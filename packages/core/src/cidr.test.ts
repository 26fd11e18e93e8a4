import { describe, expect, it } from "vitest";
import { cidrContains, inCidrs, parseCidr } from "./cidr.js";

describe("parseCidr", () => {
  it("reads blocks and single hosts, normalised, host bits cleared", () => {
    expect(parseCidr("10.1.2.3/8")).toMatchObject({ family: 4, prefix: 8, text: "10.0.0.0/8" });
    expect(parseCidr("127.0.0.1")?.text).toBe("127.0.0.1/32");
    expect(parseCidr("2001:DB8::1/32")?.text).toBe("2001:db8::/32");
    expect(parseCidr("::1")?.text).toBe("::1/128");
    expect(parseCidr("0.0.0.0/0")?.text).toBe("0.0.0.0/0");
    expect(parseCidr("::ffff:10.0.0.1")?.text).toBe("10.0.0.1/32");
  });

  it.each(["", "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/08", "10.0.0/8", "fe80::1%eth0", "bad", "10.0.0.0/8/8", "1.2.3.4/-1"])("refuses %j", (text) => {
    expect(parseCidr(text)).toBeNull();
  });
});

describe("cidrContains", () => {
  const block = parseCidr("10.0.0.0/9")!;
  it("matches by prefix bits, including a partial byte", () => {
    expect(cidrContains(block, "10.127.255.255")).toBe(true);
    expect(cidrContains(block, "10.128.0.0")).toBe(false);
    expect(cidrContains(block, "::ffff:10.1.1.1")).toBe(true);
    expect(cidrContains(block, "2001:db8::1")).toBe(false);
    expect(cidrContains(block, "garbage")).toBe(false);
  });

  it("matches IPv6 blocks and zone-indexed peers", () => {
    expect(cidrContains(parseCidr("fe80::/10")!, "fe80::1%lo")).toBe(true);
    expect(cidrContains(parseCidr("2001:db8::/33")!, "2001:db8:8000::1")).toBe(false);
    expect(inCidrs([parseCidr("127.0.0.1")!, parseCidr("::1")!], "::1")).toBe(true);
    expect(inCidrs([], "127.0.0.1")).toBe(false);
    expect(cidrContains(parseCidr("0.0.0.0/0")!, "203.0.113.9")).toBe(true);
  });
});
