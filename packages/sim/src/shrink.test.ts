import { coreReducer, type Reducer } from "@pasv/driver";
import { describe, expect, it } from "vitest";
import { runSeed } from "./run.js";
import { formatShrunk, shrinkSeed } from "./shrink.js";

// A planted bug: every download starts one byte late (the REST-offset oracle catches it).
const lateByOne: Reducer = {
  ...coreReducer,
  step: (state, event) => {
    const result = coreReducer.step(state, event);
    return { state: result.state, actions: result.actions.map((a) => (a.type === "transfer.start" && a.spec.kind === "send-file" ? { ...a, spec: { ...a.spec, offset: a.spec.offset + 1 } } : a)) };
  },
};

describe("shrinking a failing seed", () => {
  it("keeps the same oracle biting with a smaller run, and prints a transcript of control lines", async () => {
    let seed = -1;
    for (let s = 1; s <= 40 && seed < 0; s++) if ((await runSeed(s, { reducer: lateByOne })).failures.length > 0) seed = s;
    expect(seed, "a seed where the planted bug bites").toBeGreaterThan(0);
    const shrunk = await shrinkSeed(seed, { reducer: lateByOne });
    if (shrunk === null) throw new Error("the seed passed");
    const printed = formatShrunk(shrunk);
    console.log(printed.slice(0, 12).join("\n"));
    expect(shrunk.after.failures.some((f) => f.oracle === shrunk.oracle)).toBe(true);
    expect(shrunk.steps.length).toBeGreaterThan(0);
    expect(shrunk.after.events).toBeLessThan(shrunk.before.events);
    expect(printed[0]).toMatch(new RegExp(`^shrunk seed ${seed} \\[${shrunk.oracle}\\] in \\d+ runs: \\d+ events`));
    expect(printed.some((l) => / s\d+ C> RETR /.test(l))).toBe(true);
    expect(printed.some((l) => / s\d+ S> 226 /.test(l))).toBe(true);
  }, 120_000);

  it("a passing seed has nothing to shrink", async () => {
    expect(await shrinkSeed(3)).toBeNull();
  }, 60_000);
});
