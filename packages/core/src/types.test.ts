import { describe, expect, it } from "vitest";
import { InvariantError } from "./types.js";

describe("InvariantError", () => {
  it("names itself", () => {
    expect(new InvariantError("x").name).toBe("InvariantError");
  });
});
