import { describe, expect, it } from "vitest";
import { parseSimArgs } from "./cli.js";

describe("sim flags", () => {
  it("reads the flags a run needs", () => {
    const parsed = parseSimArgs(["--seed", "42", "--count", "10", "--workers", "2", "--keep-going"]);
    expect(typeof parsed).toBe("object");
    if (typeof parsed === "string") return;
    expect(parsed.values).toMatchObject({ seed: "42", count: "10", workers: "2", "keep-going": true });
  });

  it.each([
    [["--bogus"], /Unknown option '--bogus'/],
    [["--count", "ten"], /--count wants a whole number, not "ten"/],
    [["--seed", "-1"], /--seed/],
    [["--workers", "0"], /--workers wants at least 1/],
    [["--duration", "soon"], /--duration wants a number of seconds/],
  ])("answers %j with one line, not a stack trace", (argv, message) => {
    const parsed = parseSimArgs(argv);
    if (typeof parsed !== "string") throw new Error(`accepted ${JSON.stringify(argv)}`);
    expect(parsed).toMatch(message);
    expect(parsed).not.toContain("\n");
  });
});
