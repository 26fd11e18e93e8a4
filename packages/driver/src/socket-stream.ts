// A data connection as the driver's DataStream, the same on every platform. This is where "transfer
// done" has its one meaning: a download is done once every byte and our FIN are handed to the kernel
// (SPEC 4.7 step 6: close first, then reply; never wait for the client's close); an upload is done
// only on the peer's clean end of stream. A reset, an error or a stall is a failure, always, unless
// the peer's clean end came first: its FIN (on TLS, its close_notify, the authenticated end of the
// data) says every byte was sent, so a reset after it (a client that closes with bytes of ours
// unread) cannot cut an upload that was whole.
import type { Millis } from "@pasv/core";
import { DataStreamError, type DataStream } from "./io.js";
import type { ByteSocket, Clock, Timer } from "./platform.js";

/** Bytes write() leaves queued above the kernel when it resolves: none. A download then holds one
 * chunk outside the kernel, so a peer that stops reading pins only that chunk, not a queue of
 * them; the kernel's socket buffer (megabytes on a busy link) keeps the link busy while the next
 * chunk is read, and measured RETR throughput on loopback stayed level with a 4 MiB queue. */
export const SEND_QUEUE_BYTES = 0;
/** Waiting received chunks joined into one for the file writer at most. */
export const MERGE_BYTES = 256 * 1024;
/** Received bytes held before reading pauses (the file writer is slower than the network). */
export const RECEIVE_QUEUE_BYTES = 4 * 1024 * 1024;

/** What an idle data connection already delivered before the transfer took it over. */
export interface Prefix {
  readonly chunks: readonly Uint8Array[];
  readonly ended: boolean;
}

export class SocketStream implements DataStream {
  private queue: Uint8Array[];
  private held = 0;
  /** chunks() is being consumed (an upload); a download never reads what the peer sends. */
  private reading = false;
  /** The transfer waits on its rate limit: reading stays paused and the stall clock stands still. */
  private holding = false;
  private head = 0;
  private ended: boolean;
  /** The peer's end of stream came before any failure. */
  private cleanEnd: boolean;
  private finished = false;
  private closed = false;
  private failure: DataStreamError | null = null;
  private waiter: (() => void) | null = null;
  private lastActivity: Millis;
  private stall: Timer | null = null;

  constructor(private readonly socket: ByteSocket, private readonly clock: Clock, private readonly stallTimeout: Millis, prefix: Prefix) {
    this.queue = [...prefix.chunks];
    for (const chunk of this.queue) this.held += chunk.length;
    this.ended = prefix.ended;
    this.cleanEnd = prefix.ended;
    this.lastActivity = clock.now();
    socket.attach({
      data: (bytes) => {
        this.queue.push(bytes);
        this.held += bytes.length;
        if (this.held >= RECEIVE_QUEUE_BYTES) socket.pause();
        this.moved();
      },
      end: () => {
        this.ended = true;
        if (this.failure === null) this.cleanEnd = true;
        this.moved();
      },
      error: (message) => this.fail(new DataStreamError("reset", message)),
      drain: () => this.moved(),
      finished: () => {
        this.finished = true;
        this.moved();
      },
      close: () => {
        this.closed = true;
        this.wake();
      },
    });
    this.armStall(this.lastActivity + stallTimeout);
  }

  /** One timer for the whole stream: activity only moves `lastActivity`; the timer re-arms itself. */
  private armStall(at: Millis): void {
    this.stall = this.clock.after(Math.max(0, at - this.clock.now()), () => {
      // An upload whose chunks still wait for the file writer, or a transfer waiting on its rate
      // limit: the slow side is ours, not the connection.
      if (this.holding || (this.reading && this.head < this.queue.length)) this.lastActivity = this.clock.now();
      const due = this.lastActivity + this.stallTimeout;
      if (this.clock.now() < due) {
        this.armStall(due);
        return;
      }
      this.stall = null;
      this.fail(new DataStreamError("stall", "no data moved before the stall timeout"));
      this.socket.destroy();
    });
  }

  private moved(): void {
    this.lastActivity = this.clock.now();
    this.wake();
  }

  private fail(error: DataStreamError): void {
    this.failure ??= error;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  private wait(): Promise<void> {
    return new Promise((resolve) => (this.waiter = resolve));
  }

  /** A method, so no flag is narrowed across awaits. */
  private check(): void {
    if (this.failure !== null) throw this.failure;
  }

  private checkWritable(): void {
    this.check();
    if (this.closed) throw new DataStreamError("reset", "connection closed");
  }

  private gone(): boolean {
    return this.failure !== null || this.closed;
  }

  async *chunks(mergeBytes = MERGE_BYTES): AsyncIterable<Uint8Array> {
    this.reading = true;
    this.socket.resume();
    try {
      for (;;) {
        if (this.head < this.queue.length) {
          const chunk = this.take(mergeBytes);
          if (this.head === this.queue.length) {
            this.queue = [];
            this.head = 0;
            if (!this.holding) this.socket.resume();
          }
          yield chunk;
          continue;
        }
        // Every byte before the peer's clean end is in: what broke after it changes nothing.
        if (this.cleanEnd) return;
        this.check();
        // Only a FIN is a clean end; a close without one (a reset the platform reported late) is not.
        if (this.ended) return;
        if (this.closed) throw new DataStreamError("reset", "connection closed without end of stream");
        await this.wait();
      }
    } finally {
      this.cancelStall();
    }
  }

  /** The next chunk; when the writer fell behind, the small chunks waiting are joined (up to
   * `mergeBytes`), so a stream cut into tiny segments does not cost one file write per segment. */
  private take(mergeBytes: number): Uint8Array {
    const first = this.queue[this.head++] as Uint8Array;
    let size = first.length;
    let end = this.head;
    while (end < this.queue.length && size + (this.queue[end] as Uint8Array).length <= mergeBytes) size += (this.queue[end++] as Uint8Array).length;
    this.held -= size;
    if (end === this.head) return first;
    const merged = new Uint8Array(size);
    merged.set(first, 0);
    let at = first.length;
    for (; this.head < end; this.head++) {
      const chunk = this.queue[this.head] as Uint8Array;
      merged.set(chunk, at);
      at += chunk.length;
    }
    return merged;
  }

  /** Resolves once `chunk` is handed to the kernel (its `flushed` ran) and the platform queues no
   * more than SEND_QUEUE_BYTES: the caller reads its next chunk only then. */
  async write(chunk: Uint8Array, flushed?: () => void): Promise<void> {
    this.checkWritable();
    // An object, so the flag set in the callback is not narrowed away across the awaits.
    const sent = { out: false };
    this.socket.write(chunk, () => {
      sent.out = true;
      this.moved();
      flushed?.();
    });
    while ((!sent.out || this.socket.buffered > SEND_QUEUE_BYTES) && !this.gone()) await this.wait();
    this.checkWritable();
  }

  async end(): Promise<void> {
    // An upload whose every byte came before the peer's clean end is complete whether or not our
    // end of stream can still reach a peer that has gone (it reset after its close_notify).
    const received = this.reading && this.cleanEnd;
    if (!received) this.check();
    this.socket.end();
    while (!this.finished && !this.gone()) await this.wait();
    this.cancelStall();
    if (received) return;
    this.check();
    if (!this.finished) throw new DataStreamError("reset", "connection closed before our end of stream went out");
  }

  hold(on: boolean): void {
    if (on === this.holding) return;
    this.holding = on;
    // The wait's end counts as activity, so the stall clock starts afresh after it.
    this.lastActivity = this.clock.now();
    if (!this.reading) return;
    if (on) this.socket.pause();
    else if (this.held < RECEIVE_QUEUE_BYTES) this.socket.resume();
  }

  destroy(): void {
    this.cancelStall();
    this.socket.destroy();
  }

  private cancelStall(): void {
    this.stall?.cancel();
    this.stall = null;
  }
}
