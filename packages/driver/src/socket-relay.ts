// Platforms report socket events through a relay: it forwards to whoever attached last and replays
// the sticky ones (end, error, finished, close) to a late attacher, so a socket that failed while it
// sat unwatched still tells its new owner.
import type { SocketEvents } from "./platform.js";

export class SocketRelay {
  private sink: SocketEvents | null = null;
  /** Bytes that came before anyone attached (a platform that cannot start paused). */
  private early: Uint8Array[] = [];
  private ended = false;
  private failure: string | null = null;
  private done = false;
  private closed = false;

  attach(sink: SocketEvents): void {
    this.sink = sink;
    const early = this.early;
    this.early = [];
    for (const bytes of early) sink.data(bytes);
    if (this.ended) sink.end();
    if (this.failure !== null) sink.error(this.failure);
    if (this.done) sink.finished();
    if (this.closed) sink.close();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  data(bytes: Uint8Array): void {
    if (this.sink === null) this.early.push(bytes);
    else this.sink.data(bytes);
  }

  end(): void {
    if (this.ended || this.closed) return;
    this.ended = true;
    this.sink?.end();
  }

  error(message: string): void {
    if (this.failure !== null || this.closed) return;
    this.failure = message;
    this.sink?.error(message);
  }

  drain(): void {
    this.sink?.drain();
  }

  finished(): void {
    if (this.done || this.closed) return;
    this.done = true;
    this.sink?.finished();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sink?.close();
  }
}
