import { describe, expect, it } from "vitest";
import { seededRandom } from "./fake-platform.test-helper.js";
import { checkPortRange, DEFAULT_MAX_PASSIVE_PER_IP, DEFAULT_PASSIVE_PORTS, defaultMaxPassivePerIp, LOWEST_PASSIVE_PORT, PASSIVE_RANGE_SHARE, PassiveCounter, pickPort, portRangeProblem } from "./port-range.js";

describe("passive port range", () => {
  it("accepts the default and the edges of the allowed span", () => {
    expect(portRangeProblem(DEFAULT_PASSIVE_PORTS)).toBeNull();
    expect(portRangeProblem({ min: LOWEST_PASSIVE_PORT, max: 65535 })).toBeNull();
    expect(portRangeProblem({ min: 50000, max: 50000 })).toBeNull();
  });

  it("names each problem", () => {
    expect(portRangeProblem({ min: 1.5, max: 2000 })).toBe("passive ports must be whole numbers (got 1.5-2000)");
    expect(portRangeProblem({ min: 2000, max: Number.NaN })).toMatch(/whole numbers/);
    expect(portRangeProblem({ min: 1023, max: 2000 })).toBe("passive ports must lie within 1024-65535 (got 1023-2000)");
    expect(portRangeProblem({ min: 2000, max: 65536 })).toMatch(/within 1024-65535/);
    expect(portRangeProblem({ min: 3000, max: 2000 })).toBe("passive port range 3000-2000 is reversed");
  });

  it("checkPortRange throws a RangeError with the problem, else returns the range", () => {
    const ok = { min: 50000, max: 50010 };
    expect(checkPortRange(ok)).toBe(ok);
    expect(() => checkPortRange({ min: 10, max: 20 })).toThrow(RangeError);
    expect(() => checkPortRange({ min: 3000, max: 2000 })).toThrow("passive port range 3000-2000 is reversed");
  });

  it("pickPort stays within the range, reaching both ends", () => {
    const range = { min: 50000, max: 50003 };
    expect(pickPort(range, () => 0)).toBe(50000);
    expect(pickPort(range, () => 0.999999)).toBe(50003);
    // a random() of exactly 1 (outside the contract) still stays inside
    expect(pickPort(range, () => 1)).toBe(50003);
    expect(pickPort({ min: 60000, max: 60000 }, () => 0.7)).toBe(60000);
    const random = seededRandom(7);
    const seen = new Set<number>();
    for (let i = 0; i < 400; i++) {
      const p = pickPort(range, random);
      expect(p).toBeGreaterThanOrEqual(50000);
      expect(p).toBeLessThanOrEqual(50003);
      seen.add(p);
    }
    expect(seen.size).toBe(4);
  });
});

describe("PassiveCounter and the default cap", () => {
  it("counts per normalized address and refuses beyond the cap", () => {
    const counter = new PassiveCounter(2);
    const one = counter.claim("192.0.2.7");
    const two = counter.claim("::ffff:192.0.2.7");
    expect([one.granted, two.granted]).toEqual([true, true]);
    expect(counter.claim("192.0.2.7")).toEqual({ granted: false, limit: 2 });
    expect(counter.claim("192.0.2.8").granted).toBe(true);
    if (one.granted) {
      one.release();
      one.release();
    }
    expect(counter.held).toBe(2);
    expect(counter.claim("192.0.2.7").granted).toBe(true);
  });

  it("refuses a cap below 1 or not whole", () => {
    for (const bad of [0, -3, 2.5, Number.NaN, Number.POSITIVE_INFINITY]) expect(() => new PassiveCounter(bad), String(bad)).toThrow(RangeError);
    expect(() => new PassiveCounter(1).setMaxPerIp(0)).toThrow(RangeError);
  });

  it("a new cap (a reload) applies to claims from then on; listeners held stay held", () => {
    const counter = new PassiveCounter(2);
    const one = counter.claim("192.0.2.7");
    counter.claim("192.0.2.7");
    counter.setMaxPerIp(1);
    expect(counter.maxPerIp).toBe(1);
    expect(counter.held).toBe(2);
    expect(counter.claim("192.0.2.7")).toEqual({ granted: false, limit: 1 });
    if (one.granted) one.release();
    expect(counter.claim("192.0.2.7").granted).toBe(false);
    counter.setMaxPerIp(3);
    expect(counter.claim("192.0.2.7").granted).toBe(true);
  });

  it(`defaults to ${DEFAULT_MAX_PASSIVE_PER_IP}, but never more than 1/${PASSIVE_RANGE_SHARE} of the range and never less than 1`, () => {
    expect(defaultMaxPassivePerIp({ min: 49152, max: 65534 })).toBe(DEFAULT_MAX_PASSIVE_PER_IP);
    expect(defaultMaxPassivePerIp({ min: 50000, max: 50099 })).toBe(Math.min(DEFAULT_MAX_PASSIVE_PER_IP, 25));
    expect(defaultMaxPassivePerIp({ min: 50000, max: 50015 })).toBe(4);
    expect(defaultMaxPassivePerIp({ min: 50000, max: 50003 })).toBe(1);
    expect(defaultMaxPassivePerIp({ min: 50000, max: 50000 })).toBe(1);
  });
});
