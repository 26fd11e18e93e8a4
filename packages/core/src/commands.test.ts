import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isAnonymousName } from "./commands.js";
import { check } from "../test/replay.js";

const FILE = "packages/core/src/commands.test.ts";

/** The name in any mix of upper and lower case. */
const anyCase = (name: string): fc.Arbitrary<string> =>
  fc.array(fc.boolean(), { minLength: name.length, maxLength: name.length }).map((upper) => Array.from({ length: name.length }, (_, i) => (upper[i] === true ? name.charAt(i).toUpperCase() : name.charAt(i))).join(""));

describe("isAnonymousName", () => {
  it("is anonymous or ftp, in any case, and nothing else", () => {
    for (const name of ["anonymous", "ANONYMOUS", "Anonymous", "ftp", "FTP", "fTp"]) expect(isAnonymousName(name), name).toBe(true);
    for (const name of ["", "anon", "anonymous ", " ftp", "ftp1", "ftpuser", "anonymous@", "alice"]) expect(isAnonymousName(name), name).toBe(false);
    check(fc.property(fc.oneof(anyCase("anonymous"), anyCase("ftp")), (name) => isAnonymousName(name)), FILE);
    check(
      fc.property(fc.string({ maxLength: 12 }), (name) => {
        const lower = name.toLowerCase();
        expect(isAnonymousName(name)).toBe(lower === "anonymous" || lower === "ftp");
      }),
      FILE,
    );
  });
});
