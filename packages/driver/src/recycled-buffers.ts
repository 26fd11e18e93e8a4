// The buffer bookkeeping behind VfsReader.recycle, written once for every disk adapter: a download
// reads into buffers the data connection has finished with instead of a fresh one per chunk.

/** Fixed-size read buffers, handed out, lent to the consumer as chunks, and taken back once each. */
export class RecycledBuffers {
  /** Buffers yielded as chunks and not yet handed back; only these may return, each only once. */
  private readonly lent = new Set<ArrayBufferLike>();
  private readonly free: Uint8Array[] = [];

  /** `spare`: how many returned buffers are kept for reuse; the rest are left to the collector. */
  constructor(readonly size: number, private readonly spare: number) {}

  /** A buffer to read into: a returned one, or a fresh one. */
  take(): Uint8Array {
    return this.free.pop() ?? new Uint8Array(this.size);
  }

  /** `chunk` (a view of a taken buffer) now belongs to the consumer until it comes back. */
  lend(chunk: Uint8Array): void {
    this.lent.add(chunk.buffer);
  }

  /** The consumer is done with a lent chunk. Anything else (a stranger, a second return) is ignored,
   * so one buffer can never be under two reads. */
  recycle(chunk: Uint8Array): void {
    if (!this.lent.delete(chunk.buffer) || this.free.length >= this.spare) return;
    this.free.push(new Uint8Array(chunk.buffer, 0, this.size));
  }

  /** The reader is closed: nothing is reused any more. */
  clear(): void {
    this.lent.clear();
    this.free.length = 0;
  }
}
