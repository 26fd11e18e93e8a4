// Simulated time: an event heap ordered by (time, sequence); the clock jumps to the next event.
// Between events the runtime's microtasks (the driver's promise chains) run to completion, so the
// order of everything is a function of the seed alone.

/** What an event returns when it did nothing that could queue a microtask (see World.run). A
 * symbol, so that no callback's ordinary return value (a write's `false`) can be taken for it. */
export const QUIET: unique symbol = Symbol("quiet");

/** An event's body; its return value is ignored unless it is QUIET. */
export type EventBody = () => unknown;

/** One scheduled callback; it is its own cancel handle (no closure per event). */
export class Scheduled {
  cancelled = false;
  constructor(readonly at: number, readonly seq: number, readonly run: EventBody) {}
  cancel(): void {
    this.cancelled = true;
  }
}

/** Events between two macrotask turns of the host (see run()). */
const YIELD_EVERY = 256;

const settled = Promise.resolve();

/** Events one run may execute before it is declared runaway (a liveness failure, not a hang). */
export const MAX_EVENTS_PER_RUN = 2_000_000;

export class World {
  now = 0;
  executed = 0;
  private seq = 0;
  /** The sequence number of the event that ran last (-1 before the first). */
  private lastSeq = -1;
  private readonly heap: Scheduled[] = [];

  schedule(at: number, run: EventBody): { cancel(): void } {
    const item = new Scheduled(Math.max(at, this.now), this.seq++, run);
    this.push(item);
    return item;
  }

  /** A place in the order of events at one time, taken now for an event entered later with
   * `enqueueAt` (the network's pieces: see Endpoint.deliver). */
  reserveSeq(): number {
    return this.seq++;
  }

  /** Enters an event with a reserved sequence number; `at` must not be before now. */
  enqueueAt(at: number, seq: number, run: EventBody): void {
    this.push(new Scheduled(at, seq, run));
  }

  /** Whether an event at (`at`, `seq`) would already have run: it comes before the last event run.
   * The network enters a connect attempt into the heap only once it could matter (see
   * Network.connect) and drops one whose turn has passed. */
  isPast(at: number, seq: number): boolean {
    return at < this.now || (at === this.now && seq < this.lastSeq);
  }

  after(delay: number, run: EventBody): { cancel(): void } {
    return this.schedule(this.now + delay, run);
  }

  get pending(): number {
    return this.heap.filter((e) => !e.cancelled).length;
  }

  /** Runs until no event is left, simulated time passes `until`, or `stop()` says so. */
  run(until: number, stop: () => boolean = () => false): Promise<"idle" | "time" | "stopped" | "runaway"> {
    // After each event every microtask it caused runs to completion before the next event, as after
    // each callback of a real event loop: the job queued on `settled` runs once the event's own jobs
    // are queued, and the tick it asks for runs only when the microtask queue is empty (Node drains
    // microtasks fully before it takes the next tick). So the interleaving is a function of the seed,
    // at the price of two queue operations per event (counted turns of `await` cost a third of the
    // run). Every YIELD_EVERY events, and before returning, a macrotask turn lets the host breathe:
    // unhandled rejections are reported inside the run, and the command's progress timer fires.
    return new Promise((resolve, reject) => {
      let n = 0;
      const finish = (outcome: "idle" | "time" | "stopped" | "runaway"): void => {
        setImmediate(() => resolve(outcome));
      };
      const step = (): void => {
        for (;;) {
          if (stop()) {
            finish("stopped");
            return;
          }
          let next = this.pop();
          while (next?.cancelled === true) next = this.pop();
          if (next === undefined) {
            finish("idle");
            return;
          }
          if (next.at > until) {
            this.push(next);
            finish("time");
            return;
          }
          this.now = next.at;
          this.lastSeq = next.seq;
          if (++this.executed > MAX_EVENTS_PER_RUN) {
            finish("runaway");
            return;
          }
          let outcome: unknown;
          try {
            outcome = next.run();
          } catch (error) {
            // An event that throws ends the run, as an `await`ed throw would.
            reject(error instanceof Error ? error : new Error(String(error)));
            return;
          }
          if (++n % YIELD_EVERY === 0) {
            setImmediate(step);
            return;
          }
          // An event that queued nothing leaves the microtask queue as empty as it found it: the
          // next one may run at once, in the order it would have run anyway (a thief's thousands of
          // refused connects and the pieces still due on a reset connection are such events).
          if (outcome !== QUIET) {
            void settled.then(later);
            return;
          }
        }
      };
      const later = (): void => process.nextTick(step);
      setImmediate(step);
    });
  }

  // Sifting moves a hole rather than swapping pairs: a destructuring swap allocates an array per
  // level, and the heap is the simulator's hottest code.
  private push(item: Scheduled): void {
    const h = this.heap;
    let i = h.length;
    h.push(item);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p]!;
      if (!before(item, parent)) break;
      h[i] = parent;
      i = p;
    }
    h[i] = item;
  }

  private pop(): Scheduled | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    const n = h.length;
    if (top === undefined || last === undefined || n === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      let m = l;
      let child = h[l]!;
      if (l + 1 < n && before(h[l + 1]!, child)) {
        m = l + 1;
        child = h[m]!;
      }
      if (!before(child, last)) break;
      h[i] = child;
      i = m;
    }
    h[i] = last;
    return top;
  }
}

function before(x: Scheduled, y: Scheduled): boolean {
  return x.at < y.at || (x.at === y.at && x.seq < y.seq);
}
