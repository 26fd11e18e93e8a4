// A ByteSocket between the driver and a real one that writes what the fault plan says: in pieces,
// late, or not at all (a reset, an early FIN). What it holds back counts in `buffered`, so the
// driver's backpressure sees it, and `drain`/`finished` keep their meaning.
import type { ByteSocket, Clock, SocketEvents, Timer } from "@pasv/driver";

/** What one write becomes: bytes after a wait, or the connection cut here. */
export type Piece = { readonly bytes: Uint8Array; readonly delayMs: number } | { readonly cut: "reset" | "fin" };

/** What a peer's bytes become: those passed on, and whether the connection is then reset; `then`
 * runs after they are passed on. */
export interface Received {
  readonly bytes: Uint8Array;
  readonly reset: boolean;
  readonly then?: () => void;
}

/** The fault decisions for one connection (kept across a TLS upgrade). */
export interface Shaper {
  shape(bytes: Uint8Array): readonly Piece[];
  receive(bytes: Uint8Array): Received;
}

type Step = { readonly kind: "write"; readonly bytes: Uint8Array; readonly flushed: (() => void) | undefined; delayMs: number } | { readonly kind: "end" } | { readonly kind: "cut"; readonly how: "reset" | "fin" };

export const RESET_MESSAGE = "connection reset (injected by the fault plan)";

export class FaultySocket implements ByteSocket {
  private sink: SocketEvents | null = null;
  private readonly queue: Step[] = [];
  private queued = 0;
  private timer: Timer | null = null;
  private cut: "reset" | "fin" | null = null;
  /** The driver called end(): our FIN may be reported. */
  private ending = false;
  private innerFinished = false;
  /** buffered was above 0 since the last drain. */
  private owed = false;
  private idle: (() => void)[] = [];

  constructor(
    readonly inner: ByteSocket,
    private readonly clock: Clock,
    readonly shaper: Shaper,
  ) {}

  get local(): ByteSocket["local"] {
    return this.inner.local;
  }

  get remote(): ByteSocket["remote"] {
    return this.inner.remote;
  }

  get buffered(): number {
    return this.inner.buffered + this.queued;
  }

  attach(events: SocketEvents): void {
    this.sink = events;
    this.inner.attach({
      data: (bytes) => {
        if (this.cut === "reset") return;
        const got = this.shaper.receive(bytes);
        if (got.bytes.length > 0) events.data(got.bytes);
        if (got.reset) this.reset();
        got.then?.();
      },
      end: () => events.end(),
      error: (message) => events.error(message),
      drain: () => {
        if (this.queue.length === 0) this.drained();
      },
      finished: () => {
        this.innerFinished = true;
        if (this.ending) events.finished();
      },
      close: () => {
        this.clear();
        events.close();
      },
    });
  }

  pause(): void {
    this.inner.pause();
  }

  resume(): void {
    this.inner.resume();
  }

  write(bytes: Uint8Array, flushed?: () => void): void {
    if (this.cut === "reset") return;
    if (this.cut === "fin") {
      // The peer already has our FIN: the bytes are dropped as if sent (the lie is the fault).
      if (flushed !== undefined) this.clock.after(0, flushed);
      return;
    }
    const pieces = this.shaper.shape(bytes);
    const only = pieces[0];
    if (pieces.length === 1 && only !== undefined && "bytes" in only && only.delayMs === 0 && this.queue.length === 0 && this.timer === null) {
      this.inner.write(only.bytes, flushed);
      return;
    }
    pieces.forEach((piece, i) => {
      if ("cut" in piece) {
        this.queue.push({ kind: "cut", how: piece.cut });
        return;
      }
      this.queued += piece.bytes.length;
      this.queue.push({ kind: "write", bytes: piece.bytes, flushed: i === pieces.length - 1 ? flushed : undefined, delayMs: piece.delayMs });
    });
    this.owed = true;
    this.pump();
  }

  end(): void {
    if (this.ending) return;
    if (this.cut === "fin") {
      this.ending = true;
      if (this.innerFinished) this.clock.after(0, () => this.sink?.finished());
      return;
    }
    if (this.cut === "reset") return;
    this.queue.push({ kind: "end" });
    this.pump();
  }

  destroy(): void {
    this.clear();
    this.inner.destroy();
  }

  /** Resolves once everything held back is handed to the real socket (before a TLS upgrade takes it). */
  flushed(): Promise<void> {
    if (this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private pump(): void {
    while (this.timer === null) {
      const step = this.queue[0];
      if (step === undefined) break;
      if (step.kind === "write" && step.delayMs > 0) {
        const wait = step.delayMs;
        step.delayMs = 0;
        this.timer = this.clock.after(wait, () => {
          this.timer = null;
          this.pump();
        });
        return;
      }
      this.queue.shift();
      switch (step.kind) {
        case "write":
          this.queued -= step.bytes.length;
          this.inner.write(step.bytes, step.flushed);
          break;
        case "end":
          this.ending = true;
          this.inner.end();
          break;
        case "cut":
          if (step.how === "reset") this.reset();
          else {
            this.cut = "fin";
            this.drop();
            this.inner.end();
          }
          break;
      }
    }
    if (this.queue.length === 0) {
      for (const resolve of this.idle.splice(0)) resolve();
      if (this.inner.buffered === 0) this.drained();
    }
  }

  private drained(): void {
    if (!this.owed) return;
    this.owed = false;
    this.sink?.drain();
  }

  /** What was queued behind a FIN is dropped as if sent. */
  private drop(): void {
    for (const step of this.queue.splice(0)) if (step.kind === "write" && step.flushed !== undefined) this.clock.after(0, step.flushed);
    this.queued = 0;
  }

  private reset(): void {
    if (this.cut === "reset") return;
    this.cut = "reset";
    this.owed = false;
    this.clear();
    // What a peer's RST looks like to the driver: an error, then the close.
    this.sink?.error(RESET_MESSAGE);
    this.inner.destroy();
  }

  private clear(): void {
    this.timer?.cancel();
    this.timer = null;
    this.queue.length = 0;
    this.queued = 0;
    for (const resolve of this.idle.splice(0)) resolve();
  }
}
