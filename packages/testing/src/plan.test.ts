import { describe, expect, it } from "vitest";
import { DEFAULT_DELAY_MS, DEFAULT_STALL_MS, FAULTS, formatPlan, parsePlan, planFromTable, PlanError, type FaultName } from "./plan.js";

describe("parsePlan", () => {
  it("reads every fault with a probability", () => {
    for (const name of Object.keys(FAULTS) as FaultName[]) {
      expect(parsePlan(`${name}=0.25`).faults[name]).toEqual({ kind: "chance", p: 0.25 });
    }
  });

  it("reads probabilities, percentages, verbs, command numbers and byte counts", () => {
    const plan = parsePlan("data-reset=10%, reply-split=1 ,close-421=retr,reply-stall=#3,enospc-after=5M,eio-after=64K,data-fin-after=1000,vanish");
    expect(plan.faults).toEqual({
      "data-reset": { kind: "chance", p: 0.1 },
      "reply-split": { kind: "chance", p: 1 },
      "close-421": { kind: "verb", verb: "RETR" },
      "reply-stall": { kind: "nth", n: 3 },
      enospc: { kind: "after", bytes: 5 * 1024 * 1024 },
      eio: { kind: "after", bytes: 64 * 1024 },
      "data-fin": { kind: "after", bytes: 1000 },
      vanish: { kind: "chance", p: 1 },
    });
    expect(plan.delayMs).toBe(DEFAULT_DELAY_MS);
    expect(plan.stallMs).toBe(DEFAULT_STALL_MS);
  });

  it("reads the multi-line reply form", () => {
    expect(parsePlan("multiline=dashed").multiline).toBe("dashed");
    expect(parsePlan("multiline=seed,reply-split=1").multiline).toBe("seed");
    expect(() => parsePlan("multiline=wavy")).toThrow(/"multiline=wavy": multiline is one of plain, dashed, indented, seed/);
    expect(formatPlan(parsePlan("multiline=indented"))).toBe("multiline=indented");
  });

  it("reads the waits", () => {
    const plan = parsePlan("reply-delay=1,delay-ms=50,stall-ms=2s");
    expect(plan.delayMs).toBe(50);
    expect(plan.stallMs).toBe(2000);
  });

  it.each([
    ["", /empty/],
    ["data-rest=0.1", /fault plan entry "data-rest=0.1": unknown fault "data-rest"/],
    ["data-reset=1.5", /"data-reset=1.5": "1.5" is not a probability/],
    ["data-reset=-1", /is not a probability/],
    ["reply-split=#0", /commands count from #1/],
    ["enospc-after=lots", /"enospc-after=lots": "lots" is not a byte count/],
    ["reply-split-after=5", /only data-reset-after, data-fin-after, enospc-after, eio-after take a byte count/],
    ["data-reset=0.1,data-reset-after=5", /data-reset is given twice/],
    ["delay-ms=forever", /is not a duration/],
    ["stall-ms=3600s", /at most 600s/],
  ])("refuses %j with one line naming the entry", (text, message) => {
    expect(() => parsePlan(text)).toThrow(PlanError);
    expect(() => parsePlan(text)).toThrow(message);
    try {
      parsePlan(text);
    } catch (error) {
      expect((error as Error).message).not.toContain("\n");
    }
  });

  it("formats a plan so that it parses back to itself", () => {
    const text = "reply-split=0.5,reply-stall=#2,close-421=RETR,data-reset-after=1024,enospc=1,delay-ms=10,stall-ms=1000";
    const plan = parsePlan(text);
    expect(parsePlan(formatPlan(plan))).toEqual(plan);
    expect(formatPlan(plan)).toBe(text);
  });
});

describe("planFromTable", () => {
  it("reads a JSON or TOML table of the same entries", () => {
    expect(planFromTable({ "data-reset": 0.1, "enospc-after": "5M", vanish: true, "delay-ms": 20 }, "plan.json")).toEqual(parsePlan("data-reset=0.1,enospc-after=5M,vanish=1,delay-ms=20"));
  });

  it("names the file and the entry", () => {
    expect(() => planFromTable({ nope: 1 }, "plan.toml")).toThrow(/^plan.toml: fault plan entry "nope=1": unknown fault/);
    expect(() => planFromTable([1], "plan.json")).toThrow(/plan.json: a fault plan is a table/);
    expect(() => planFromTable({ "data-reset": [1] }, "plan.json")).toThrow(/"data-reset" must be a number, a string or true/);
  });
});
