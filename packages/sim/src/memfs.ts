// The simulated file system: an in-memory tree whose operations finish on the world's clock and
// fail on demand (ENOENT races, EACCES, ENOSPC mid-write, EIO on read, short reads, slow operations).
// It records every path it is asked about, for the "never outside the root" oracle.
import type { FileStat, FsErrorKind, Millis } from "@pasv/core";
import { VfsError, type Vfs, type VfsReader, type VfsWriter } from "@pasv/driver";
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

interface Node {
  type: "file" | "dir";
  data: Uint8Array;
  mtime: Millis;
  id: number;
}

export class SimFs implements Vfs {
  readonly capabilities = { setMtime: true };
  readonly nodes = new Map<string, Node>();
  readonly touched: string[] = [];
  /** Readers and writers opened and not yet closed or aborted. */
  openHandles = 0;
  private nextId = 1;

  constructor(private readonly world: World, private readonly rng: Prng, public faults: FsFaults, private readonly counters: Counters) {
    this.nodes.set("/", { type: "dir", data: new Uint8Array(), mtime: 0, id: this.nextId++ });
  }

  addFile(path: string, data: Uint8Array): void {
    this.nodes.set(path, { type: "file", data, mtime: this.world.now, id: this.nextId++ });
  }

  addDir(path: string): void {
    this.nodes.set(path, { type: "dir", data: new Uint8Array(), mtime: this.world.now, id: this.nextId++ });
  }

  file(path: string): Uint8Array | undefined {
    const n = this.nodes.get(path);
    return n?.type === "file" ? n.data : undefined;
  }

  /** Runs `work` later on the simulated clock, or fails it by chance. */
  private op<T>(paths: readonly string[], work: () => T): Promise<T> {
    this.touched.push(...paths);
    return new Promise((resolve, reject) => {
      this.world.after(this.rng.int(0, this.faults.maxDelay), () => {
        if (this.rng.chance(this.faults.failOp)) {
          const kind = this.rng.pick<FsErrorKind>(["not-found", "permission", "io"]);
          this.counters.bump(`fault: fs ${kind}`);
          reject(new VfsError(kind, "injected"));
          return;
        }
        try {
          resolve(work());
        } catch (error) {
          reject(error instanceof VfsError ? error : new VfsError("io", String(error)));
        }
      });
    });
  }

  private get(path: string): Node {
    const n = this.nodes.get(path);
    if (n === undefined) throw new VfsError("not-found");
    return n;
  }

  private statNode(path: string, n: Node): FileStat {
    return { name: path.slice(path.lastIndexOf("/") + 1), type: n.type, size: n.data.length, mtime: n.mtime, mode: n.type === "dir" ? 0o755 : 0o644, unique: `s${n.id}` };
  }

  private parentDir(path: string): void {
    const parent = path.slice(0, Math.max(1, path.lastIndexOf("/")));
    if (this.nodes.get(parent)?.type !== "dir") throw new VfsError("not-found");
  }

  private children(path: string): string[] {
    const prefix = path === "/" ? "/" : `${path}/`;
    return [...this.nodes.keys()].filter((k) => k !== path && k.startsWith(prefix) && !k.slice(prefix.length).includes("/")).sort();
  }

  stat = (p: string): Promise<FileStat> => this.op([p], () => this.statNode(p, this.get(p)));
  list = (p: string): Promise<FileStat[]> =>
    this.op([p], () => {
      if (this.get(p).type !== "dir") throw new VfsError("not-a-directory");
      return this.children(p).map((c) => this.statNode(c, this.get(c)));
    });
  mkdir = (p: string): Promise<void> =>
    this.op([p], () => {
      if (this.nodes.has(p)) throw new VfsError("exists");
      this.parentDir(p);
      this.addDir(p);
    });
  rmdir = (p: string): Promise<void> =>
    this.op([p], () => {
      if (this.get(p).type !== "dir") throw new VfsError("not-a-directory");
      if (this.children(p).length > 0) throw new VfsError("not-empty");
      this.nodes.delete(p);
    });
  delete = (p: string): Promise<void> =>
    this.op([p], () => {
      if (this.get(p).type === "dir") throw new VfsError("is-a-directory");
      this.nodes.delete(p);
    });
  rename = (from: string, to: string): Promise<void> =>
    this.op([from, to], () => {
      const n = this.get(from);
      this.parentDir(to);
      if (n.type === "dir") throw new VfsError("permission", "the simulator renames files only");
      this.nodes.delete(from);
      this.nodes.set(to, n);
    });
  setMtime = (p: string, mtime: Millis): Promise<void> =>
    this.op([p], () => {
      this.get(p).mtime = mtime;
    });

  read = (p: string, offset: number): Promise<VfsReader> =>
    this.op([p], () => {
      const n = this.get(p);
      if (n.type !== "file") throw new VfsError("is-a-directory");
      const data = n.data;
      const failAt = this.rng.chance(this.faults.ioMidRead) ? this.rng.int(offset, data.length) : -1;
      const world = this.world;
      const rng = this.rng;
      const maxChunk = this.faults.maxReadChunk;
      const counters = this.counters;
      let open = true;
      this.openHandles++;
      const release = (): void => {
        if (open) this.openHandles--;
        open = false;
      };
      return {
        chunks: async function* () {
          let at = offset;
          while (at < data.length && open) {
            if (failAt >= 0 && at >= failAt) {
              counters.bump("fault: read EIO");
              throw new VfsError("io", "injected read error");
            }
            const size = Math.min(data.length - at, rng.int(1, maxChunk));
            await new Promise<void>((r) => world.after(0, r));
            yield data.subarray(at, at + size);
            at += size;
          }
        },
        close: () => {
          release();
          return Promise.resolve();
        },
      };
    });

  write = (p: string, mode: "truncate" | "append" | "at-offset" | "create-new", offset: number): Promise<VfsWriter> =>
    this.op([p], () => {
      this.parentDir(p);
      const existing = this.nodes.get(p);
      if (existing?.type === "dir") throw new VfsError("is-a-directory");
      if (mode === "create-new" && existing !== undefined) throw new VfsError("exists");
      const old = existing?.data ?? new Uint8Array();
      const base = mode === "append" ? old : mode === "at-offset" ? old.subarray(0, offset) : new Uint8Array();
      // The file grows in a buffer that doubles, so a transfer of n one-byte chunks costs O(n), not
      // O(n²); node.data is always a view of exactly what has been written.
      let buffer = base.slice();
      let length = base.length;
      const failAfter = this.rng.chance(this.faults.noSpaceMidWrite) ? this.rng.int(0, 4) : -1;
      let writes = 0;
      let open = true;
      this.openHandles++;
      const release = (): void => {
        if (open) this.openHandles--;
        open = false;
      };
      const node = existing ?? { type: "file" as const, data: new Uint8Array(), mtime: this.world.now, id: this.nextId++ };
      if (mode !== "append" || existing === undefined) node.data = buffer.subarray(0, length);
      this.nodes.set(p, node);
      return {
        write: (chunk: Uint8Array) => {
          if (failAfter >= 0 && writes++ >= failAfter) {
            this.counters.bump("fault: ENOSPC mid-write");
            return Promise.reject(new VfsError("no-space", "injected"));
          }
          if (length + chunk.length > buffer.length) {
            // A fresh buffer: readers holding the old view keep the bytes they saw.
            const grown = new Uint8Array(Math.max(length + chunk.length, buffer.length * 2, 64));
            grown.set(buffer.subarray(0, length));
            buffer = grown;
          }
          buffer.set(chunk, length);
          length += chunk.length;
          node.data = buffer.subarray(0, length);
          return new Promise<void>((r) => this.world.after(0, r));
        },
        close: () => {
          release();
          return Promise.resolve();
        },
        abort: () => {
          release();
          return Promise.resolve();
        },
      };
    });
}

