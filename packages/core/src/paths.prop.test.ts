import { posix } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { check } from "../test/replay.js";
import { baseName, joinPath, parentPath, resolvePath } from "./paths.js";

const FILE = "packages/core/src/paths.prop.test.ts";

/** Segments biased towards the ones that matter: dots, empties, backslashes, spaces. */
const segment = fc.oneof(
  fc.constantFrom("..", ".", "", "a", "b c", "...", "..\\..", " ", ".hidden", "é"),
  fc.string({ maxLength: 5 }),
  fc.string({ unit: fc.constantFrom(".", "/", "a", "\\"), maxLength: 6 }),
);
const pathArb = fc.array(segment, { maxLength: 10 }).map((parts) => parts.join("/"));
const absolute = pathArb.map((p) => resolvePath("/", p));

function isNormalisedAbsolute(p: string): boolean {
  if (p === "/") return true;
  if (!p.startsWith("/") || p.endsWith("/")) return false;
  return p.slice(1).split("/").every((s) => s !== "" && s !== "." && s !== "..");
}

describe("resolvePath (properties)", () => {
  it("always yields a normalised absolute path that never leaves /", () => {
    check(
      fc.property(pathArb, pathArb, fc.boolean(), (cwdRaw, argRaw, abs) => {
        const cwd = resolvePath("/", cwdRaw);
        const arg = abs ? `/${argRaw}` : argRaw;
        const r = resolvePath(cwd, arg);
        expect(isNormalisedAbsolute(cwd)).toBe(true);
        expect(isNormalisedAbsolute(r)).toBe(true);
        // Climbing more levels than the result has ends at the root, never above it. (A segment may
        // hold slashes, so a result can be far deeper than 20: the count follows its depth.)
        const depth = r === "/" ? 0 : r.split("/").length - 1;
        expect(resolvePath(r, "../".repeat(depth + 3))).toBe("/");
        if (depth > 0) expect(resolvePath(r, "../".repeat(depth - 1))).toBe(`/${r.split("/")[1] ?? ""}`);
      }),
      FILE,
    );
  });

  it("is idempotent: a resolved path resolves to itself from anywhere", () => {
    check(
      fc.property(absolute, pathArb, absolute, (cwd, arg, elsewhere) => {
        const r = resolvePath(cwd, arg);
        expect(resolvePath(r, "")).toBe(r);
        expect(resolvePath(r, ".")).toBe(r);
        expect(resolvePath("/", r)).toBe(r);
        expect(resolvePath(elsewhere, r)).toBe(r);
        expect(resolvePath(cwd, r)).toBe(r);
      }),
      FILE,
    );
  });

  it("agrees with POSIX path resolution rooted at /", () => {
    check(
      fc.property(absolute, pathArb, fc.boolean(), (cwd, argRaw, abs) => {
        const arg = abs ? `/${argRaw}` : argRaw;
        expect(resolvePath(cwd, arg)).toBe(posix.resolve("/", cwd, arg));
      }),
      FILE,
    );
  });

  it("parentPath, baseName and joinPath take a resolved path apart and back together", () => {
    check(
      fc.property(absolute, (p) => {
        expect(parentPath(p)).toBe(resolvePath(p, ".."));
        if (p !== "/") {
          expect(joinPath(parentPath(p), baseName(p))).toBe(p);
          expect(resolvePath(parentPath(p), baseName(p))).toBe(p);
        } else {
          expect(baseName(p)).toBe("");
        }
      }),
      FILE,
    );
  });
});
