// The file system a session works on. Paths are the core's virtual absolute paths ("/", "/a/b");
// an implementation maps them under its own root and must never reach outside it.
import type { FileStat, FsErrorKind, Millis } from "@pasv/core";

export class VfsError extends Error {
  override readonly name = "VfsError";
  /** `limit`: for a "too-large" refusal, the bound it hit (the reply names it). */
  constructor(readonly kind: FsErrorKind, message?: string, readonly limit?: number) {
    super(message ?? kind);
  }
}

/** How a write opens its file (see TransferSpec "receive-file"). */
export type WriteMode = "truncate" | "append" | "at-offset" | "create-new";

export interface Vfs {
  /** Set when a truncating write is already whole or nothing by itself (an object store's upload
   * shows nothing until it completes): the server then writes in place rather than to a hidden
   * name renamed at the end (atomicUploads), which such a store could only do by copying. */
  readonly atomicWrites?: true;
  /** Every method rejects with a VfsError (never another error type). */
  stat(path: string): Promise<FileStat>;
  /** The whole directory at once, for answers that are small by nature (STAT of a directory). */
  list(path: string): Promise<FileStat[]>;
  /**
   * The directory's entries page by page (at most LISTING_PAGE_ENTRIES or so each, in any order),
   * for LIST/NLST/MLSD: the next page is read only when asked for, so a listing's memory does not
   * grow with the directory. A failure (not-found, not-a-directory…) is thrown by the iteration;
   * an iteration stopped early (return) releases what it held. Optional: without it the server
   * lists with `list` and cuts the answer into pages.
   */
  listPages?(path: string): AsyncIterable<readonly FileStat[]>;
  mkdir(path: string): Promise<void>;
  rmdir(path: string): Promise<void>;
  delete(path: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  setMtime(path: string, mtime: Millis): Promise<void>;
  /** Stream a regular file from `offset`. */
  read(path: string, offset: number): Promise<VfsReader>;
  /** Open a regular file for writing (see TransferSpec "receive-file" for the modes). */
  write(path: string, mode: WriteMode, offset: number): Promise<VfsWriter>;
}

export interface VfsReader {
  chunks(): AsyncIterable<Uint8Array>;
  /** Optional: the consumer is done with a chunk this reader yielded, so its memory may be reused
   * (a download then needs no fresh buffer per chunk). Called at most once per chunk. */
  recycle?(chunk: Uint8Array): void;
  /** Idempotent. */
  close(): Promise<void>;
}

export interface VfsWriter {
  write(chunk: Uint8Array): Promise<void>;
  /** write() only queues the chunk and writes many together (one writev per batch), so an upload
   * hands it the pieces as they came: joining them first would copy every byte once more. */
  readonly gathers?: boolean;
  /** Everything written is durable in the file once this resolves. */
  close(): Promise<void>;
  /** Give up: close without claiming success (partial data may remain). Idempotent, and a no-op after close(). */
  abort(): Promise<void>;
}
