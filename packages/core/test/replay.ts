// fast-check with a one-line replay: every failing property prints the command that re-runs it.
import fc from "fast-check";

export function replayParams(): fc.Parameters<unknown> {
  const seed = process.env.FC_SEED;
  const path = process.env.FC_PATH;
  const runs = process.env.FC_RUNS;
  return {
    ...(seed === undefined ? {} : { seed: Number(seed) }),
    ...(path === undefined ? {} : { path }),
    ...(runs === undefined ? {} : { numRuns: Number(runs) }),
  };
}

/** Like fc.assert, but the failure message starts with `replay: FC_SEED=… FC_PATH=… pnpm exec vitest run <file>`. */
export function check<Ts>(property: fc.IProperty<Ts>, file: string, params: fc.Parameters<Ts> = {}): void {
  const details = fc.check(property, { ...params, ...(replayParams() as fc.Parameters<Ts>) });
  if (!details.failed) return;
  const line = `replay: FC_SEED=${details.seed} FC_PATH=${details.counterexamplePath ?? ""} pnpm exec vitest run ${file}`;
  console.error(line);
  throw new Error(`${line}\ncounterexample: ${fc.stringify(details.counterexample)}\n${String(details.errorInstance)}`);
}
