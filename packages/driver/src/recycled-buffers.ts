// The buffer bookkeeping behind VfsReader.recycle, written once for every disk adapter: a download
// reads into buffers the data connection has finished with instead of a fresh one per chunk, and
// reads ahead only while the connection drains, so a peer that stops reading pins one chunk.
import { toVfsError } from "./errno.js";
import type { VfsReader } from "./vfs.js";

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

  /** Chunks the consumer holds: a download whose connection stopped draining still holds one. */
  get outstanding(): number {
    return this.lent.size;
  }

  /** Buffers kept for reuse right now (never more than `spare`). */
  get kept(): number {
    return this.free.length;
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

/** Where a DownloadReader's bytes come from: one open file. */
export interface ChunkSource {
  /** Fills the start of `into` from `position` (bytes from the start of the file); resolves how many
   * bytes came, 0 at the end. Called one at a time and in order, so a source that reads at its own
   * position (Deno.FsFile after a seek) may ignore `position`. */
  read(into: Uint8Array, position: number): Promise<number>;
  close(): Promise<void>;
}

/** Returned buffers a download keeps: it reads into one buffer at a time, so one is all it reuses. */
export const DOWNLOAD_SPARE_BUFFERS = 1;

/**
 * A download's reader, the same on every disk adapter. It sends the file as its size was at open
 * (bytes appended later are not sent; a file that shrank ends at the first empty read). Its buffer is
 * the smaller of `chunkBytes` and what is left, so a small file never costs a full chunk. The next
 * chunk is read ahead only once every chunk already yielded has been recycled, i.e. handed to the
 * kernel: while the peer reads, the kernel's socket buffer keeps the link busy during that read;
 * once it stops, the transfer holds just the one chunk it could not send.
 */
export class DownloadReader implements VfsReader {
  private readonly buffers: RecycledBuffers;
  private position: number;
  private readonly end: number;
  /** The one read in flight (or done and not yet yielded); null when none is. */
  private pending: Promise<Uint8Array> | null = null;
  private closed = false;
  private closing: Promise<void> | null = null;

  /** `size`: the file's size when it was opened (its fstat). */
  constructor(private readonly source: ChunkSource, offset: number, size: number, chunkBytes: number) {
    this.position = offset;
    this.end = Math.max(offset, size);
    this.buffers = new RecycledBuffers(Math.max(1, Math.min(chunkBytes, this.end - offset)), DOWNLOAD_SPARE_BUFFERS);
  }

  /** The read buffer's size (tests: a small file gets a small buffer). */
  get bufferBytes(): number {
    return this.buffers.size;
  }

  /** Chunks yielded and not recycled yet, plus a read in flight or waiting to be yielded: what this
   * transfer pins beyond the kernel. */
  get held(): number {
    return this.buffers.outstanding + (this.pending === null ? 0 : 1);
  }

  private issue(): Promise<Uint8Array> | null {
    if (this.closed || this.position >= this.end) return null;
    const buffer = this.buffers.take();
    const want = Math.min(buffer.length, this.end - this.position);
    const read = this.source.read(buffer.subarray(0, want), this.position).then((n) => {
      this.position += n;
      // An empty read before the size from open: the file shrank, and this is its end.
      if (n === 0) this.position = this.end;
      return buffer.subarray(0, n);
    });
    // Awaited by chunks() or drained by close(); this handler only keeps a read that nobody awaits
    // any more (the reader was closed) from becoming an unhandled rejection.
    read.catch(() => undefined);
    return read;
  }

  async *chunks(): AsyncGenerator<Uint8Array> {
    for (;;) {
      // A pull always reads (the consumer asked for it); only read-ahead waits for recycled chunks.
      this.pending ??= this.issue();
      const next = this.pending;
      if (next === null) return;
      let chunk: Uint8Array;
      try {
        chunk = await next;
      } catch (error) {
        throw toVfsError(error);
      } finally {
        // Cleared only once settled, so a close() meanwhile waits for this read too.
        if (this.pending === next) this.pending = null;
      }
      if (this.closed || chunk.length === 0) return;
      this.buffers.lend(chunk);
      yield chunk;
    }
  }

  recycle(chunk: Uint8Array): void {
    if (this.closed) return;
    this.buffers.recycle(chunk);
    // Everything sent so far reached the kernel: the connection drains, so the next read may start now.
    if (this.buffers.outstanding === 0) this.pending ??= this.issue();
  }

  close(): Promise<void> {
    this.closed = true;
    this.buffers.clear();
    // The file closes only once no read still uses it.
    const pending = this.pending;
    this.closing ??= (pending === null ? Promise.resolve() : pending.then(() => undefined, () => undefined)).then(() => this.source.close()).catch(() => undefined);
    return this.closing;
  }
}
