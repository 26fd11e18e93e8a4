import { describe, expect, it } from "vitest";
import { checked, FAULTS, neverFired, ORACLES } from "./swarm.js";

describe("the roll call", () => {
  it("names every fault and oracle check that stayed at zero", () => {
    const counters = new Map<string, number>([...FAULTS, ...ORACLES.map(checked)].map((name) => [name, 1]));
    expect(neverFired(counters)).toEqual([]);
    counters.set("fault: read EIO", 0);
    counters.delete(checked("confinement holds"));
    expect(neverFired(counters)).toEqual(["fault: read EIO", "check: confinement holds"]);
  });
});
