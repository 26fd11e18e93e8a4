// Simulated time: an event heap ordered by (time, sequence); the clock jumps to the next event.
// Between events the runtime's microtasks (the driver's promise chains) run to completion, so the
// order of everything is a function of the seed alone.

/** One scheduled callback; it is its own cancel handle (no closure per event). */
class Scheduled {
  cancelled = false;
  constructor(readonly at: number, readonly seq: number, readonly run: () => void) {}
  cancel(): void {
    this.cancelled = true;
  }
}

/** Microtask turns granted after each event (see run()). */
const MICROTASK_TURNS = 12;

/** Events one run may execute before it is declared runaway (a liveness failure, not a hang). */
export const MAX_EVENTS_PER_RUN = 2_000_000;

export class World {
  now = 0;
  executed = 0;
  private seq = 0;
  private readonly heap: Scheduled[] = [];

  schedule(at: number, run: () => void): { cancel(): void } {
    const item = new Scheduled(Math.max(at, this.now), this.seq++, run);
    this.push(item);
    return item;
  }

  after(delay: number, run: () => void): { cancel(): void } {
    return this.schedule(this.now + delay, run);
  }

  get pending(): number {
    return this.heap.filter((e) => !e.cancelled).length;
  }

  /** Runs until no event is left, simulated time passes `until`, or `stop()` says so. */
  async run(until: number, stop: () => boolean = () => false): Promise<"idle" | "time" | "stopped" | "runaway"> {
    for (let n = 0; ; n++) {
      // A few microtask turns settle most promise chains cheaply; a full macrotask turn now and
      // then (and before giving up as idle) settles the deep ones. Both depend on counts only, so
      // the interleaving stays a function of the seed.
      if (n % 64 === 0) await drainMicrotasks();
      else for (let i = 0; i < MICROTASK_TURNS; i++) await Promise.resolve();
      if (stop()) return "stopped";
      let next = this.pop();
      if (next === undefined) {
        await drainMicrotasks();
        if (stop()) return "stopped";
        next = this.pop();
        if (next === undefined) return "idle";
      }
      if (next.cancelled) continue;
      if (next.at > until) {
        this.push(next);
        return "time";
      }
      this.now = next.at;
      if (++this.executed > MAX_EVENTS_PER_RUN) return "runaway";
      next.run();
    }
  }

  private push(item: Scheduled): void {
    const h = this.heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): Scheduled | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (top === undefined || last === undefined || h.length === 0) return top;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && before(h[l]!, h[m]!)) m = l;
      if (r < h.length && before(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
    return top;
  }
}

function before(x: Scheduled, y: Scheduled): boolean {
  return x.at < y.at || (x.at === y.at && x.seq < y.seq);
}

/** setImmediate runs after every queued microtask: the driver's promise chains settle first. */
function drainMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
