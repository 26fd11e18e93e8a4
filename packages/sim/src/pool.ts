// Runs many seeds, in this thread or in worker threads. Each seed is still a pure function of its
// number, so where it runs changes nothing; the main thread hands out small batches of seed numbers
// (a slow seed delays one worker, not a fixed share) and merges what comes back: counts, counter
// totals and the printed lines of failing seeds. Nothing per passing seed is kept, so a run of a
// million seeds holds no more memory than a run of ten.
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { formatFailures, runSeed } from "./run.js";

export interface Failed {
  readonly seed: number;
  /** What `formatFailures` prints: the replay line first. */
  readonly lines: readonly string[];
}

export interface PoolOptions {
  readonly first: number;
  /** How many seeds (Infinity: until the deadline). */
  readonly count: number;
  /** Date.now() after which no new batch is handed out. */
  readonly deadline: number;
  /** 1 runs in this thread; more start worker threads. */
  readonly workers: number;
  /** Keep running after a failure (otherwise the first failure stops the run). */
  readonly keepGoing: boolean;
  readonly onFailure: (failed: Failed) => void;
}

export interface PoolTotals {
  runs: number;
  failed: number;
  readonly counters: Map<string, number>;
  /** The next seed never handed out (where a following run could start). */
  next: number;
}

interface BatchDone {
  readonly runs: number;
  readonly counters: readonly (readonly [string, number])[];
  readonly failures: readonly Failed[];
}

/** Seeds the command treats as failing: how its tests prove that a failure anywhere in any worker
 * stops the run (or not, with --keep-going) and is printed with its replay line. */
const PLANTED = new Set((process.env.PASV_SIM_PLANT_FAILURE ?? "").split(",").filter((s) => s !== "").map(Number));

/** Seeds `from` until `to`, stopping after the first failure unless `keepGoing`. */
async function runBatch(from: number, to: number, keepGoing: boolean): Promise<BatchDone> {
  const counters = new Map<string, number>();
  const failures: Failed[] = [];
  let runs = 0;
  for (let seed = from; seed < to; seed++) {
    const result = await runSeed(seed);
    runs++;
    for (const [k, v] of result.counters) counters.set(k, (counters.get(k) ?? 0) + v);
    const planted = PLANTED.has(seed) ? [{ oracle: "planted", detail: "PASV_SIM_PLANT_FAILURE names this seed" }] : [];
    if (result.failures.length + planted.length > 0) {
      failures.push({ seed, lines: formatFailures({ ...result, failures: [...result.failures, ...planted] }) });
      if (!keepGoing) break;
    }
  }
  return { runs, counters: [...counters], failures };
}

/** Small batches keep the workers evenly busy and the progress line current; one seed takes ~40 ms. */
function batchSize(remaining: number, workers: number): number {
  return Math.max(1, Math.min(16, Math.ceil(remaining / (workers * 4))));
}

export async function runPool(options: PoolOptions, totals: PoolTotals = { runs: 0, failed: 0, counters: new Map(), next: options.first }): Promise<PoolTotals> {
  const end = options.first + options.count;
  let stopped = false;
  const take = (): [number, number] | null => {
    if (stopped || totals.next >= end || Date.now() >= options.deadline) return null;
    const from = totals.next;
    const to = Math.min(end, from + batchSize(end - from, options.workers));
    totals.next = to;
    return [from, to];
  };
  const merge = (done: BatchDone): void => {
    totals.runs += done.runs;
    for (const [k, v] of done.counters) totals.counters.set(k, (totals.counters.get(k) ?? 0) + v);
    for (const failed of done.failures) {
      if (stopped) break;
      totals.failed++;
      options.onFailure(failed);
      if (!options.keepGoing) stopped = true;
    }
  };
  if (options.workers <= 1) {
    for (let batch = take(); batch !== null; batch = take()) merge(await runBatch(batch[0], batch[1], options.keepGoing));
    return totals;
  }
  await Promise.all(
    Array.from({ length: options.workers }, async () => {
      const worker = new Worker(new URL(import.meta.url), { workerData: { role: "pasv-sim-worker", keepGoing: options.keepGoing } });
      try {
        const ask = (from: number, to: number): Promise<BatchDone> =>
          new Promise((resolve, reject) => {
            const onMessage = (done: BatchDone): void => {
              worker.off("error", onError);
              resolve(done);
            };
            const onError = (error: unknown): void => {
              worker.off("message", onMessage);
              reject(new Error(`a worker crashed in seeds ${from}..${to - 1}: ${String(error)}`));
            };
            worker.once("message", onMessage);
            worker.once("error", onError);
            worker.postMessage({ from, to });
          });
        for (let batch = take(); batch !== null; batch = take()) merge(await ask(batch[0], batch[1]));
      } catch (error) {
        // The other workers stop after their current batch; the caller reports the crash.
        stopped = true;
        throw error;
      } finally {
        await worker.terminate();
      }
    }),
  );
  return totals;
}

// The worker side: one batch per message, answered with its merged result.
if (!isMainThread && (workerData as { role?: string } | null)?.role === "pasv-sim-worker") {
  const { keepGoing } = workerData as { keepGoing: boolean };
  parentPort?.on("message", (batch: { from: number; to: number }) => {
    void runBatch(batch.from, batch.to, keepGoing).then((done) => parentPort?.postMessage(done));
  });
}
