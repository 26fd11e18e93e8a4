import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseCommand } from "./command.js";
import { isAnonymousName, isTransferRunningCommand } from "./commands.js";
import { check } from "../test/replay.js";

const FILE = "packages/core/src/commands.test.ts";
const te = new TextEncoder();

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

describe("isTransferRunningCommand", () => {
  const during = (line: string): boolean => isTransferRunningCommand(parseCommand(te.encode(line)));

  it("ABOR, STAT without a path and NOOP jump in; everything else waits", () => {
    for (const line of ["ABOR", "abor", "STAT", "STAT   ", "NOOP", "noop", "NOOP x"]) expect(during(line), line).toBe(true);
    for (const line of ["STAT /pub", "QUIT", "PASV", "REST 5", "TYPE I", "CWD /", "NOOPS", "XYZZY", ""]) expect(during(line), line).toBe(false);
  });
});
