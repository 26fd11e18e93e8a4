// When a disk adapter may make a blocking file-system call on the event loop instead of handing it
// to the runtime's thread pool. A hand-off costs a worker wake-up, a completion wake-up and a
// promise (tens of microseconds on a busy host), and a 4 KiB download makes five of them (two
// O_PATH opens, open, read, close), more than the calls themselves cost while the tree is in the
// kernel's caches. A cold cache or a network file system makes a call slow, and an inline call
// stalls every session for that long: SLOW_CALLS_TO_CLOSE calls slower than SLOW_INLINE_MS within
// SLOW_WINDOW_MS send this file system back to the thread pool for INLINE_COOLDOWN_MS, so a cold
// tree costs a few stalls per cool-down, not one per call. One slow call alone is not enough: on a
// busy host the scheduler preempts the event loop mid-call now and then (measured: about one call
// in 30,000 took 20 ms on a 2-core host at load 10), which says nothing about the disk.

/** "auto": inline while calls stay fast (the default); "never": every call goes to the thread pool. */
export type InlineFs = "auto" | "never";

export const INLINE_FS_MODES: readonly InlineFs[] = ["auto", "never"];

/** An inline call slower than this reached a disk or a network (or was preempted). */
export const SLOW_INLINE_MS = 10;
/** Slow inline calls within SLOW_WINDOW_MS that close the gate. */
export const SLOW_CALLS_TO_CLOSE = 3;
export const SLOW_WINDOW_MS = 1_000;
/** How long a file system whose inline call was slow stays on the thread pool before trying again. */
export const INLINE_COOLDOWN_MS = 10_000;
/** Downloads of at most this many bytes (from their offset) are read inline; larger ones are read
 * by the thread pool, chunk by chunk, whatever the cache holds. */
export const INLINE_READ_BYTES = 64 * 1024;

export class InlineGate {
  /** The clock reading before which calls go to the thread pool (after a slow inline call). */
  private poolUntil = Number.NEGATIVE_INFINITY;
  private slowCalls = 0;
  /** When the last SLOW_CALLS_TO_CLOSE slow calls ended, oldest first. */
  private readonly recent: number[] = [];

  /** `now`: a monotonic clock in milliseconds (performance.now). */
  constructor(readonly mode: InlineFs, private readonly now: () => number) {}

  /** Whether the next call may run inline. */
  get open(): boolean {
    return this.mode === "auto" && this.now() >= this.poolUntil;
  }

  /** Inline calls that were slow so far. */
  get slow(): number {
    return this.slowCalls;
  }

  /** Runs one blocking call now and times it (see SLOW_CALLS_TO_CLOSE). Throws what `call` throws. */
  run<T>(call: () => T): T {
    const start = this.now();
    try {
      return call();
    } finally {
      const end = this.now();
      if (end - start > SLOW_INLINE_MS) this.slowCall(end);
    }
  }

  private slowCall(at: number): void {
    this.slowCalls++;
    this.recent.push(at);
    if (this.recent.length > SLOW_CALLS_TO_CLOSE) this.recent.shift();
    if (this.recent.length === SLOW_CALLS_TO_CLOSE && at - (this.recent[0] as number) <= SLOW_WINDOW_MS) {
      this.poolUntil = at + INLINE_COOLDOWN_MS;
      this.recent.length = 0;
    }
  }

  /** `run` as a settled promise, for interfaces that are asynchronous either way. */
  settle<T>(call: () => T): Promise<T> {
    try {
      return Promise.resolve(this.run(call));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }
}
