// The simulated file system: the driver's in-memory MemoryFs behind a fault wrapper. Operations
// finish on the world's clock and fail on demand (ENOENT races, EACCES, ENOSPC mid-write, EIO on
// read, short reads, slow operations); the semantics (renames, when written bytes show) are the
// MemoryFs's own. It records every path it is asked about, for the "never outside the root" oracle.
import type { FileStat, FsErrorKind, Millis } from "@pasv/core";
import { MemoryFs, VfsError, type Vfs, type VfsReader, type VfsWriter } from "@pasv/driver";
import type { DiskVfs } from "./disk.js";
import type { Counters } from "./net.js";
import type { Prng } from "./prng.js";
import type { World } from "./world.js";

export interface FsFaults {
  /** Probability that an operation fails with a random kind (not-found, permission, io). */
  readonly failOp: number;
  /** Probability that a write fails with no-space part-way. */
  readonly noSpaceMidWrite: number;
  /** Probability that a read fails with io part-way. */
  readonly ioMidRead: number;
  /** Largest read piece (short reads). */
  readonly maxReadChunk: number;
  readonly maxDelay: Millis;
}

export const CALM_FS: FsFaults = { failOp: 0, noSpaceMidWrite: 0, ioMidRead: 0, maxReadChunk: 65536, maxDelay: 0 };

/** What the faults wrap: the driver's MemoryFs, or the sim's local disk with symlinks (disk.ts). */
export type Backing = MemoryFs | DiskVfs;

export class SimFs implements Vfs {
  /** The file system underneath, without faults. */
  readonly inner: Backing;
  readonly touched: string[] = [];

  constructor(private readonly world: World, private readonly rng: Prng, public faults: FsFaults, private readonly counters: Counters, inner?: Backing) {
    this.inner = inner ?? new MemoryFs({}, () => world.now);
  }

  /** Readers and writers opened and not yet closed or aborted. */
  get openHandles(): number {
    return this.inner.openHandles;
  }

  addFile(path: string, data: Uint8Array): void {
    this.inner.put(path, data);
  }

  addDir(path: string): void {
    this.inner.put(path, {});
  }

  file(path: string): Uint8Array | undefined {
    return this.inner.readFile(path);
  }

  /** Runs `work` later on the simulated clock, or fails it by chance. */
  private op<T>(paths: readonly string[], work: () => Promise<T>): Promise<T> {
    this.touched.push(...paths);
    return new Promise<void>((resolve) => this.world.after(this.rng.int(0, this.faults.maxDelay), resolve)).then(() => {
      if (this.rng.chance(this.faults.failOp)) {
        const kind = this.rng.pick<FsErrorKind>(["not-found", "permission", "io"]);
        this.counters.bump(`fault: fs ${kind}`);
        throw new VfsError(kind, "injected");
      }
      return work();
    });
  }

  stat = (p: string): Promise<FileStat> => this.op([p], () => this.inner.stat(p));
  list = (p: string): Promise<FileStat[]> => this.op([p], () => this.inner.list(p));
  mkdir = (p: string): Promise<void> => this.op([p], () => this.inner.mkdir(p));
  rmdir = (p: string): Promise<void> => this.op([p], () => this.inner.rmdir(p));
  delete = (p: string): Promise<void> => this.op([p], () => this.inner.delete(p));
  rename = (from: string, to: string): Promise<void> => this.op([from, to], () => this.inner.rename(from, to));
  setMtime = (p: string, mtime: Millis): Promise<void> => this.op([p], () => this.inner.setMtime(p, mtime));

  read = (p: string, offset: number): Promise<VfsReader> =>
    this.op([p], async () => {
      const inner = await this.inner.read(p, offset);
      const size = this.inner.readFile(p)?.length ?? 0;
      const failAt = this.rng.chance(this.faults.ioMidRead) ? this.rng.int(offset, size) : -1;
      const { world, rng, counters } = this;
      const maxChunk = this.faults.maxReadChunk;
      let open = true;
      return {
        // The inner chunks, cut into short reads that each take a turn of the world's clock.
        chunks: async function* () {
          let at = offset;
          for await (const chunk of inner.chunks()) {
            for (let k = 0; k < chunk.length && open; ) {
              if (failAt >= 0 && at >= failAt) {
                counters.bump("fault: read EIO");
                throw new VfsError("io", "injected read error");
              }
              const n = Math.min(chunk.length - k, rng.int(1, maxChunk));
              await new Promise<void>((r) => world.after(0, r));
              yield chunk.subarray(k, k + n);
              k += n;
              at += n;
            }
            if (!open) return;
          }
        },
        close: () => {
          open = false;
          return inner.close();
        },
      };
    });

  write = (p: string, mode: "truncate" | "append" | "at-offset" | "create-new", offset: number): Promise<VfsWriter> =>
    this.op([p], async () => {
      const inner = await this.inner.write(p, mode, offset);
      const failAfter = this.rng.chance(this.faults.noSpaceMidWrite) ? this.rng.int(0, 4) : -1;
      let writes = 0;
      return {
        write: async (chunk: Uint8Array) => {
          if (failAfter >= 0 && writes++ >= failAfter) {
            this.counters.bump("fault: ENOSPC mid-write");
            throw new VfsError("no-space", "injected");
          }
          await inner.write(chunk);
          await new Promise<void>((r) => this.world.after(0, r));
        },
        close: () => inner.close(),
        abort: () => inner.abort(),
      };
    });
}
