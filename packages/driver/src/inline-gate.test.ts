import { describe, expect, it } from "vitest";
import { INLINE_COOLDOWN_MS, InlineGate, SLOW_CALLS_TO_CLOSE, SLOW_INLINE_MS, SLOW_WINDOW_MS } from "./inline-gate.js";

/** A gate on a hand-moved clock; `call(ms)` is a blocking call that takes `ms`. */
function gate(mode: "auto" | "never" = "auto"): { g: InlineGate; clock: { t: number }; call: (ms: number) => number } {
  const clock = { t: 0 };
  const g = new InlineGate(mode, () => clock.t);
  const call = (ms: number): number =>
    g.run(() => {
      clock.t += ms;
      return ms;
    });
  return { g, clock, call };
}

describe("InlineGate", () => {
  it("stays open while calls are fast, and never opens in 'never' mode", () => {
    const { g, call } = gate();
    for (let i = 0; i < 1000; i++) call(SLOW_INLINE_MS);
    expect(g.open).toBe(true);
    expect(g.slow).toBe(0);
    expect(gate("never").g.open).toBe(false);
  });

  it("one slow call (a preemption) leaves it open; SLOW_CALLS_TO_CLOSE within the window close it for the cool-down", () => {
    const { g, clock, call } = gate();
    call(SLOW_INLINE_MS + 1);
    expect(g.open).toBe(true);
    for (let i = 1; i < SLOW_CALLS_TO_CLOSE; i++) call(SLOW_INLINE_MS + 1);
    expect(g.open).toBe(false);
    expect(g.slow).toBe(SLOW_CALLS_TO_CLOSE);
    clock.t += INLINE_COOLDOWN_MS - 1;
    expect(g.open).toBe(false);
    clock.t += 1;
    expect(g.open).toBe(true);
    // A fresh count after the cool-down: one more slow call does not close it again.
    call(SLOW_INLINE_MS + 1);
    expect(g.open).toBe(true);
  });

  it("slow calls spread wider than the window never close it", () => {
    const { g, clock, call } = gate();
    for (let i = 0; i < 10; i++) {
      call(SLOW_INLINE_MS + 1);
      clock.t += SLOW_WINDOW_MS;
    }
    expect(g.open).toBe(true);
    expect(g.slow).toBe(10);
  });

  it("times a call that throws, and settle() turns the outcome into a promise", async () => {
    const { g, clock } = gate();
    for (let i = 0; i < SLOW_CALLS_TO_CLOSE; i++) {
      expect(() =>
        g.run(() => {
          clock.t += SLOW_INLINE_MS + 1;
          throw new Error("EIO");
        }),
      ).toThrow("EIO");
    }
    expect(g.open).toBe(false);
    await expect(g.settle(() => 7)).resolves.toBe(7);
    await expect(
      g.settle(() => {
        throw new Error("ENOENT");
      }),
    ).rejects.toThrow("ENOENT");
  });
});
