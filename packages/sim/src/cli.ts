// pnpm sim [--seed N] [--count N] [--duration SECONDS] [--trace FILE] [--determinism N]
// Runs seeds, prints one replay line per failure, records failing seeds as regressions.
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { formatFailures, runSeed, type RunResult } from "./run.js";

export const REGRESSIONS = path.resolve(import.meta.dirname, "../regressions.json");

export function loadRegressions(): number[] {
  try {
    return (JSON.parse(readFileSync(REGRESSIONS, "utf8")) as { seeds: number[] }).seeds;
  } catch {
    return [];
  }
}

function remember(seed: number): void {
  const seeds = loadRegressions();
  if (seeds.includes(seed)) return;
  writeFileSync(REGRESSIONS, `${JSON.stringify({ seeds: [...seeds, seed] }, null, 2)}\n`);
}

function report(result: RunResult): void {
  for (const line of formatFailures(result)) console.log(line);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seed: { type: "string" },
      count: { type: "string" },
      duration: { type: "string" },
      trace: { type: "string" },
      determinism: { type: "string" },
      "no-record": { type: "boolean" },
    },
  });
  const envSeed = process.env.PASV_SEED;
  const fixed = values.seed ?? envSeed;
  const counters = new Map<string, number>();
  let failed = 0;
  let runs = 0;
  const started = performance.now();
  const deadline = values.duration === undefined ? Infinity : started + Number(values.duration) * 1000;
  const count = values.count === undefined ? (fixed === undefined && values.duration === undefined ? 100 : fixed === undefined ? Infinity : 1) : Number(values.count);
  let next = fixed === undefined ? Math.floor(Date.now() % 1_000_000_000) : Number(fixed);
  while (runs < count && performance.now() < deadline) {
    const seed = next++;
    const result = await runSeed(seed, { keepTrace: values.trace !== undefined });
    runs++;
    for (const [k, v] of result.counters) counters.set(k, (counters.get(k) ?? 0) + v);
    if (values.trace !== undefined && result.trace !== null) appendFileSync(values.trace, result.trace.map((line) => `${JSON.stringify({ seed, line })}\n`).join(""));
    if (result.failures.length > 0) {
      failed++;
      report(result);
      if (values["no-record"] !== true) remember(seed);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(`sim: ${runs} seeds, ${failed} failing, ${(runs / seconds).toFixed(1)} seeds/s`);
  for (const [k, v] of [...counters].sort()) console.log(`  ${k}: ${v}`);
  const checks = Number(values.determinism ?? 0);
  for (let i = 0; i < checks; i++) {
    const seed = (fixed === undefined ? next : Number(fixed)) + i;
    const [a, b] = [await runSeed(seed), await runSeed(seed)];
    const same = a.traceHash === b.traceHash;
    console.log(`determinism seed ${seed}: ${a.traceHash} ${b.traceHash} ${same ? "same" : "DIFFERENT"}`);
    if (!same) failed++;
  }
  console.log(`${runs - failed} passed, ${failed} failed`);
  process.exitCode = failed > 0 ? 1 : 0;
}

if (process.argv[1] !== undefined && import.meta.filename === path.resolve(process.argv[1])) {
  await main();
}
