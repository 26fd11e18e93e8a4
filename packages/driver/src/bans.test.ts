import { describe, expect, it } from "vitest";
import { BanTable, MAX_BAN_TABLE_ENTRIES } from "./bans.js";

const A = "198.51.100.1";
const B = "198.51.100.2";

describe("BanTable", () => {
  it("bans an address at the threshold within the window, for the duration, and only that address", () => {
    const t = new BanTable({ after: 3, windowMs: 1000, durationMs: 5000 });
    expect(t.failed(A, 0)).toBeNull();
    expect(t.failed(B, 100)).toBeNull();
    expect(t.failed(A, 200)).toBeNull();
    expect(t.failed(A, 300)).toEqual({ address: A, failures: 3, until: 5300 });
    expect(t.banned(A, 301)).toBe(true);
    expect(t.banned(B, 301)).toBe(false);
    // Failures while banned do not extend the ban.
    expect(t.failed(A, 400)).toBeNull();
    expect(t.banned(A, 5299)).toBe(true);
    expect(t.banned(A, 5300)).toBe(false);
  });

  it("counts only the failures within the window", () => {
    const t = new BanTable({ after: 3, windowMs: 1000, durationMs: 5000 });
    expect(t.failed(A, 0)).toBeNull();
    expect(t.failed(A, 600)).toBeNull();
    expect(t.failed(A, 1100)).toBeNull(); // the first one has left the window
    expect(t.failed(A, 1500)?.failures).toBe(3);
  });

  it("is off at 0, and an embedder's rule replaces the threshold", () => {
    const off = new BanTable({ after: 0, windowMs: 1000, durationMs: 5000 });
    for (let i = 0; i < 100; i++) expect(off.failed(A, i)).toBeNull();
    expect(off.size).toBe(0);
    const seen: number[] = [];
    const own = new BanTable({ after: 2, windowMs: 1000, durationMs: 10, decide: ({ address, failures }) => (seen.push(failures), address === B ? false : failures >= 5 ? true : undefined) });
    for (let i = 0; i < 4; i++) expect(own.failed(B, i)).toBeNull();
    expect(own.failed(A, 0)).toBeNull();
    expect(own.failed(A, 1)?.failures).toBe(2); // undefined: the threshold decides
    expect(seen).toEqual([1, 2, 3, 4, 1, 2]);
  });

  it("treats an IPv4-mapped IPv6 address as the IPv4 address", () => {
    const t = new BanTable({ after: 2, windowMs: 1000, durationMs: 5000 });
    t.failed("::ffff:198.51.100.1", 0);
    expect(t.failed(A, 1)?.address).toBe(A);
    expect(t.banned("::ffff:198.51.100.1", 2)).toBe(true);
  });

  it("stays within its bound, forgetting the address heard from least recently", () => {
    const t = new BanTable({ after: 3, windowMs: 1_000_000, durationMs: 5000 });
    t.failed(A, 0);
    t.failed(B, 0);
    for (let i = 0; i < MAX_BAN_TABLE_ENTRIES; i++) {
      if (i === 5000) t.failed(B, 1); // B is heard from again: kept
      t.failed(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 2);
    }
    expect(t.size).toBe(MAX_BAN_TABLE_ENTRIES);
    expect(t.failed(A, 3)).toBeNull(); // forgotten: this is its first failure again
    expect(t.failed(B, 3)?.failures).toBe(3);
  });

  it("configure() changes the rules and keeps the failures and bans counted (a reload)", () => {
    const t = new BanTable({ after: 3, windowMs: 1000, durationMs: 5000 });
    expect(t.failed(A, 0)).toBeNull();
    t.configure({ after: 2, windowMs: 1000, durationMs: 100 });
    expect(t.failed(A, 10)).toEqual({ address: A, failures: 2, until: 110 });
    t.configure({ after: 9, windowMs: 1000, durationMs: 100 });
    expect(t.banned(A, 50)).toBe(true);
    expect(() => t.configure({ after: -1, windowMs: 1, durationMs: 1 })).toThrow(RangeError);
    expect(t.failed(B, 60)).toBeNull();
  });

  it("refuses a nonsensical configuration", () => {
    expect(() => new BanTable({ after: -1, windowMs: 1, durationMs: 1 })).toThrow(RangeError);
    expect(() => new BanTable({ after: 1.5, windowMs: 1, durationMs: 1 })).toThrow(RangeError);
    expect(() => new BanTable({ after: 1, windowMs: 0, durationMs: 1 })).toThrow(RangeError);
  });
});
