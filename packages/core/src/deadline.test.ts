import { describe, expect, it } from "vitest";
import { armDeadlines, DEADLINE_NAMES, deadlinesOf, nextDeadline, NO_DEADLINES } from "./deadline.js";
import { copyState } from "./state.js";
import { World } from "../test/harness.js";

describe("the deadline table", () => {
  it("is empty before the greeting and after the close", () => {
    const w = new World({ noOpen: true });
    expect(w.state.deadlines).toBe(NO_DEADLINES);
    expect(deadlinesOf(w.state)).toBe(NO_DEADLINES);
    w.post({ type: "open", now: w.now });
    w.cmd("QUIT");
    expect(w.state.deadlines).toBe(NO_DEADLINES);
    expect(nextDeadline(w.state)).toBeNull();
  });

  it("nextDeadline is the earliest entry", () => {
    const w = new World({ config: { timeouts: { login: 9_000, idle: 4_000 } } });
    expect(w.state.deadlines).toMatchObject({ login: w.now + 9_000, idle: w.now + 4_000 });
    expect(nextDeadline(w.state)).toBe(w.now + 4_000);
    expect(nextDeadline({ ...w.state, deadlines: { ...NO_DEADLINES, listener: 7, "data-connect": 3, idle: 5 } })).toBe(3);
  });

  it("armDeadlines keeps the table object while nothing moved", () => {
    const w = new World();
    const draft = copyState(w.state);
    const before = draft.deadlines;
    armDeadlines(draft);
    expect(draft.deadlines).toBe(before);
    draft.lastActivity += 1;
    armDeadlines(draft);
    expect(draft.deadlines).not.toBe(before);
    expect(draft.deadlines.idle).toBe((before.idle ?? 0) + 1);
  });

  it("names every entry once", () => {
    expect(new Set(DEADLINE_NAMES).size).toBe(DEADLINE_NAMES.length);
    expect(Object.keys(NO_DEADLINES).sort()).toEqual([...DEADLINE_NAMES].sort());
  });
});
