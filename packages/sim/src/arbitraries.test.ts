import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { scenarioArbitrary } from "./arbitraries.js";
import { formatFailures, runSeed } from "./run.js";

const FILE = "packages/sim/src/arbitraries.test.ts";

describe("scenarios as fast-check arbitraries", () => {
  it("every drawn scenario passes every oracle (failures shrink to a small scenario)", async () => {
    const seed = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);
    const details = await fc.check(
      fc.asyncProperty(scenarioArbitrary, async ({ seed: s, scenario }) => {
        const result = await runSeed(s, { scenario: () => scenario });
        expect(formatFailures(result)).toEqual([]);
      }),
      { numRuns: Number(process.env.FC_RUNS ?? 5), ...(seed === undefined ? {} : { seed }), ...(process.env.FC_PATH === undefined ? {} : { path: process.env.FC_PATH }) },
    );
    if (details.failed) {
      const line = `replay: FC_SEED=${details.seed} FC_PATH=${details.counterexamplePath ?? ""} pnpm exec vitest run ${FILE}`;
      console.error(line);
      throw new Error(`${line}\ncounterexample: ${fc.stringify(details.counterexample)}\n${String(details.errorInstance)}`);
    }
  }, 300_000);
});
