// npm run sim -- [--seed N] [--count N] [--duration SECONDS] [--workers N] [--keep-going] [--trace FILE] [--determinism N] [--shrink]
// Runs seeds (in N worker threads), stops at the first failure and prints its replay line (or, with
// --keep-going, one per failure), records failing seeds as regressions, shows progress on stderr.
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { runPool, type Failed } from "./pool.js";
import { formatFailures, runSeed } from "./run.js";
import { formatShrunk, shrinkSeed } from "./shrink.js";
import { checked, FAULTS, neverFired, ORACLES, SWARM_SEEDS } from "./swarm.js";

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

/** "1 h 02 min", "3 min 20 s", "12 s": the estimate of the time left. */
function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
  if (s >= 60) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  return `${s} s`;
}

export const USAGE = `Usage: npm run sim -- [options]
  --seed N          run seed N (or PASV_SEED=N); with --count, N is the first of the run
  --count N         how many seeds (default 100; 1 with --seed)
  --duration S      run fresh seeds for S seconds
  --workers N       worker threads (default 1); each seed is still a pure function of its number
  --keep-going      go on after a failure, printing each failure's replay line
  --no-record       do not add failing seeds to regressions.json
  --trace FILE      append every seed's trace to FILE (one worker)
  --determinism N   run N seeds twice each and compare their trace hashes
  --shrink          with --seed (or PASV_SEED): simplify the failing seed's scenario while the same
                    oracle still bites, then print the smallest run's transcript of control lines
  -h, --help        show this help`;

const OPTIONS = {
  seed: { type: "string" },
  count: { type: "string" },
  duration: { type: "string" },
  trace: { type: "string" },
  determinism: { type: "string" },
  workers: { type: "string" },
  "keep-going": { type: "boolean" },
  "no-record": { type: "boolean" },
  shrink: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** The flags, or the one line that says what is wrong with them. */
export function parseSimArgs(argv: readonly string[]): { values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>["values"] } | string {
  let values;
  try {
    ({ values } = parseArgs({ args: [...argv], options: OPTIONS }));
  } catch (error) {
    // node:util's messages can run to several lines; the first says what is wrong.
    return (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "bad flags";
  }
  for (const name of ["seed", "count", "determinism", "workers"] as const) {
    const v = values[name];
    if (v !== undefined && !/^\d+$/.test(v)) return `--${name} wants a whole number, not ${JSON.stringify(v)}`;
  }
  if (values.workers !== undefined && Number(values.workers) < 1) return "--workers wants at least 1";
  if (values.shrink === true && values.seed === undefined && process.env.PASV_SEED === undefined) return "--shrink wants the failing seed: --seed N or PASV_SEED=N";
  if (values.duration !== undefined && !(Number.isFinite(Number(values.duration)) && Number(values.duration) > 0)) return `--duration wants a number of seconds, not ${JSON.stringify(values.duration)}`;
  const env = process.env.PASV_SEED;
  if (values.seed === undefined && env !== undefined && !/^\d+$/.test(env)) return `PASV_SEED wants a whole number, not ${JSON.stringify(env)}`;
  return { values };
}

async function main(): Promise<void> {
  const parsed = parseSimArgs(process.argv.slice(2));
  if (typeof parsed === "string") {
    console.error(`sim: ${parsed} (npm run sim -- --help lists the flags)`);
    process.exitCode = 2;
    return;
  }
  const { values } = parsed;
  if (values.help === true) {
    console.log(USAGE);
    return;
  }
  const envSeed = process.env.PASV_SEED;
  const fixed = values.seed ?? envSeed;
  if (values.shrink === true) {
    const shrunk = await shrinkSeed(Number(fixed));
    if (shrunk === null) {
      console.log(`seed ${String(fixed)} passes: nothing to shrink`);
      return;
    }
    for (const line of formatShrunk(shrunk)) console.log(line);
    process.exitCode = 1;
    return;
  }
  const workers = values.workers === undefined ? 1 : Number(values.workers);
  const started = performance.now();
  const deadline = values.duration === undefined ? Infinity : Date.now() + Number(values.duration) * 1000;
  const count = values.count === undefined ? (fixed === undefined && values.duration === undefined ? 100 : fixed === undefined ? Infinity : 1) : Number(values.count);
  const first = fixed === undefined ? Math.floor(Date.now() % 1_000_000_000) : Number(fixed);
  const keepGoing = values["keep-going"] === true;
  const totals = { runs: 0, failed: 0, counters: new Map<string, number>(), next: first };
  const onFailure = (failed: Failed): void => {
    clearProgress();
    for (const line of failed.lines) console.log(line);
    if (values["no-record"] !== true) remember(failed.seed);
  };
  // Progress on stderr: a line rewritten in place at most once a second on a terminal, else a plain
  // line every 10 s (a CI log stays readable).
  const tty = process.stderr.isTTY;
  let shown = false;
  const clearProgress = (): void => {
    if (tty && shown) process.stderr.write("\r\x1b[K");
    shown = false;
  };
  const progress = setInterval(
    () => {
      const seconds = (performance.now() - started) / 1000;
      const rate = totals.runs / seconds;
      const left = Math.min(Number.isFinite(count) ? (count - totals.runs) / rate : Infinity, (deadline - Date.now()) / 1000);
      const bar = Number.isFinite(count) ? `[${"#".repeat(Math.round((20 * totals.runs) / count)).padEnd(20, ".")}] ` : "";
      const line = `sim: ${bar}${totals.runs}${Number.isFinite(count) ? `/${count}` : ""} seeds, ${totals.failed} failing, ${rate.toFixed(1)} seeds/s, ${duration(left)} left`;
      if (tty) process.stderr.write(`\r\x1b[K${line}`);
      else process.stderr.write(`${line}\n`);
      shown = true;
    },
    tty ? 1_000 : 10_000,
  );
  progress.unref();
  try {
    if (values.trace !== undefined) {
      // A trace is written seed by seed, in order: it runs here, in this thread.
      for (let seed = first; totals.runs < count && Date.now() < deadline; seed++) {
        const result = await runSeed(seed, { keepTrace: true });
        totals.runs++;
        totals.next = seed + 1;
        for (const [k, v] of result.counters) totals.counters.set(k, (totals.counters.get(k) ?? 0) + v);
        if (result.trace !== null) appendFileSync(values.trace, result.trace.map((line) => `${JSON.stringify({ seed, line })}\n`).join(""));
        if (result.failures.length > 0) {
          totals.failed++;
          onFailure({ seed, lines: formatFailures(result) });
          if (!keepGoing) break;
        }
      }
    } else {
      await runPool({ first, count, deadline, workers, keepGoing, onFailure }, totals);
    }
  } finally {
    clearInterval(progress);
    clearProgress();
  }
  const runs = totals.runs;
  let failed = totals.failed;
  const next = totals.next;
  const counters = totals.counters;
  const seconds = (performance.now() - started) / 1000;
  console.log(`sim: ${runs} seeds from ${first}, ${failed} failing, ${(runs / seconds).toFixed(1)} seeds/s${workers > 1 ? ` (${workers} workers)` : ""} in ${seconds.toFixed(1)} s`);
  // The roll call: every fault and oracle check is listed, zero or not (swarm.ts).
  for (const name of [...FAULTS, ...ORACLES.map(checked)]) if (!counters.has(name)) counters.set(name, 0);
  for (const [k, v] of [...counters].sort()) console.log(`  ${k}: ${v}`);
  const silent = neverFired(counters);
  if (silent.length > 0 && runs >= SWARM_SEEDS) {
    console.log(`sim: never fired or never checked in ${runs} seeds (a hole in the swarm): ${silent.join("; ")}`);
    failed++;
  }
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
