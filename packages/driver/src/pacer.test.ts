import { describe, expect, it } from "vitest";
import { checkRate, MAX_PACE_SLICE_BYTES, PACE_SLICES_PER_SECOND, Pacer, rateOverrides } from "./pacer.js";

interface Send {
  readonly at: number;
  readonly bytes: number;
}

/** A sender that moves `total` bytes in pieces of at most `piece` as fast as the pacer lets it, on a
 * fake clock that jumps by each wait (plus `jitter` ms of timer lateness). */
function run(rate: number, total: number, piece: number, jitter = 0, start = 5_000): { pacer: Pacer; sends: Send[]; end: number } {
  const pacer = new Pacer(rate, start);
  const sends: Send[] = [];
  let now = start;
  let left = total;
  while (left > 0) {
    const n = Math.min(piece, pacer.slice, left);
    const wait = pacer.take(n, now);
    if (wait > 0) now += wait + jitter;
    sends.push({ at: now, bytes: n });
    left -= n;
  }
  return { pacer, sends, end: now };
}

/** The most bytes sent within any span of `span` ms. */
function most(sends: readonly Send[], span: number): number {
  let best = 0;
  let sum = 0;
  let from = 0;
  for (const s of sends) {
    sum += s.bytes;
    while ((sends[from] as Send).at < s.at - span) sum -= (sends[from++] as Send).bytes;
    best = Math.max(best, sum);
  }
  return best;
}

describe("Pacer", () => {
  it("sizes its slice to a sixteenth of a second, between one byte and one read chunk", () => {
    expect(new Pacer(2 * 1024 * 1024, 0).slice).toBe((2 * 1024 * 1024) / PACE_SLICES_PER_SECOND);
    expect(new Pacer(10, 0).slice).toBe(1);
    expect(new Pacer(1, 0).slice).toBe(1);
    expect(new Pacer(10 * 1024 * 1024 * 1024, 0).slice).toBe(MAX_PACE_SLICE_BYTES);
    expect(new Pacer(1000, 0, 16).slice).toBe(16);
  });

  it("lets the first slice go at once and makes the next one wait", () => {
    const pacer = new Pacer(1600, 0);
    expect(pacer.slice).toBe(100);
    expect(pacer.take(100, 0)).toBe(0);
    expect(pacer.take(100, 0)).toBe(63); // 100 bytes at 1600/s: 62.5 ms, rounded up
    expect(pacer.take(50, 63)).toBeGreaterThan(0);
  });

  it("holds the average rate over a long transfer", () => {
    const rate = 2 * 1024 * 1024;
    const total = 10 * 1024 * 1024;
    const { end } = run(rate, total, 1024 * 1024);
    const seconds = (end - 5_000) / 1000;
    // Everything but the first slice is paid for by the clock.
    const expected = (total - rate / PACE_SLICES_PER_SECOND) / rate;
    expect(seconds).toBeGreaterThanOrEqual(expected);
    expect(seconds).toBeLessThan(expected * 1.01);
  });

  it("never bursts more than one slice, in any span, at any rate", () => {
    for (const rate of [7, 1000, 65_536, 3 * 1024 * 1024, 200 * 1024 * 1024]) {
      const { pacer, sends } = run(rate, Math.max(64, rate * 3), 64 * 1024);
      for (const span of [0, 1, 10, 100, 1000]) expect(most(sends, span)).toBeLessThanOrEqual(pacer.slice + (rate * span) / 1000);
    }
  });

  it("keeps the rate when the timer fires late, without catching up in a burst", () => {
    const rate = 1024 * 1024;
    const { pacer, sends, end } = run(rate, 4 * rate, 64 * 1024, 7);
    expect(most(sends, 0)).toBeLessThanOrEqual(pacer.slice);
    // Late timers only make it slower.
    expect((end - 5_000) / 1000).toBeGreaterThan(3.9);
  });

  it("saves up at most one slice while the transfer is idle", () => {
    const pacer = new Pacer(1600, 0);
    expect(pacer.take(100, 0)).toBe(0);
    // A minute of nothing: still only one slice may go at once.
    expect(pacer.take(100, 60_000)).toBe(0);
    expect(pacer.take(100, 60_000)).toBe(63);
  });

  it("neither pays nor charges for a clock that steps back", () => {
    const pacer = new Pacer(1600, 10_000);
    expect(pacer.take(100, 10_000)).toBe(0);
    expect(pacer.take(100, 9_000)).toBe(63);
  });

  it("refuses a take larger than the slice and a rate that is not positive", () => {
    expect(() => new Pacer(1600, 0).take(101, 0)).toThrow(RangeError);
    expect(() => new Pacer(0, 0)).toThrow(RangeError);
    expect(() => new Pacer(Number.NaN, 0)).toThrow(RangeError);
  });
});

describe("checkRate and rateOverrides", () => {
  it("pass whole numbers, read 0 and unset as no limit, and name what is wrong otherwise", () => {
    expect(checkRate("maxRateDown", 2048)).toBe(2048);
    expect(checkRate("maxRateDown", undefined)).toBeNull();
    expect(checkRate("maxRateDown", 0)).toBeNull();
    expect(() => checkRate("maxRateDown", -1)).toThrow(/maxRateDown must be a whole number of bytes per second/);
    expect(() => checkRate("maxRateUp", 1.5)).toThrow(/maxRateUp/);
    expect(() => checkRate("maxRateUp", Number.POSITIVE_INFINITY)).toThrow(/maxRateUp/);
    expect(rateOverrides(["user bob: maxRateDown", "user bob: maxRateUp"], undefined, undefined)).toEqual({});
    expect(rateOverrides(["user bob: maxRateDown", "user bob: maxRateUp"], 0, 100)).toEqual({ down: null, up: 100 });
    expect(() => rateOverrides(["user bob: maxRateDown", "user bob: maxRateUp"], 1.5, undefined)).toThrow(/user bob: maxRateDown/);
  });
});
