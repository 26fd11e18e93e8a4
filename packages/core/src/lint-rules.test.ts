// The core's purity is enforced by tooling, not discipline: prove the rules fire.
import { readFileSync } from "node:fs";
import path from "node:path";
import { ESLint } from "eslint";
import { describe, expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "../../..");
// An existing core file: typed linting only knows files of the project, and lintText lints our text in its place.
const probe = path.join(root, "packages/core/src/assert.ts");
const eslint = new ESLint({ cwd: root });

async function purityErrors(code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: probe });
  return (result?.messages ?? []).filter((m) => m.ruleId?.startsWith("no-restricted") === true).map((m) => m.message);
}

describe("the core cannot reach I/O, clocks, randomness or asynchrony", () => {
  const forbidden: Record<string, string> = {
    "a Node import": 'import fs from "node:fs";\nexport const x = fs;',
    "a bare Node import": 'import net from "net";\nexport const x = net;',
    "another package": 'import { Session } from "@pasv/driver";\nexport const x = Session;',
    Buffer: 'export const x = Buffer.from("x");',
    "a timer": "export const x = setTimeout(() => 1, 1);",
    "the clock": "export const x = Date.now();",
    "a Date": "export const x = new Date();",
    "randomness": "export const x = Math.random();",
    "an async function": "export async function f(): Promise<number> { return 1; }",
    "a Promise": "export const x = Promise.resolve(1);",
    "process": "export const x = process.env;",
    "TextEncoder": "export const x = new TextEncoder();",
  };
  for (const [what, code] of Object.entries(forbidden)) {
    it(`refuses ${what}`, async () => {
      expect(await purityErrors(code)).not.toEqual([]);
    });
  }

  it("accepts pure code", async () => {
    expect(await purityErrors("export function add(a: number, b: number): number { return a + b; }")).toEqual([]);
  });

  it("compiles the core without Node or DOM types, so Buffer and timers do not even type-check", () => {
    const tsconfig = JSON.parse(readFileSync(path.join(root, "packages/core/tsconfig.json"), "utf8")) as { compilerOptions: { types?: string[]; lib?: string[] } };
    expect(tsconfig.compilerOptions.types).toEqual([]);
    expect(tsconfig.compilerOptions.lib?.some((l) => l.toLowerCase().includes("dom"))).toBe(false);
  });
});
