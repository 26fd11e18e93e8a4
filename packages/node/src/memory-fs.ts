// An in-memory file system for tests and embedding: the same error kinds as the local disk.
import type { FileStat, Millis } from "@pasv/core";
import { VfsError, type Vfs, type VfsReader, type VfsWriter } from "@pasv/driver";

export type MemoryTree = { readonly [name: string]: string | Uint8Array | MemoryTree };

interface Node {
  type: "file" | "dir";
  data: Uint8Array;
  mtime: Millis;
  id: number;
}

/** Largest file the in-memory store accepts; beyond it writes fail with "no-space". */
export const MEMORY_FS_MAX_FILE_BYTES = 1024 * 1024 * 1024;
const READ_CHUNK = 256 * 1024;

function parentOf(p: string): string {
  const i = p.lastIndexOf("/");
  return i <= 0 ? "/" : p.slice(0, i);
}

function nameOf(p: string): string {
  return p.slice(p.lastIndexOf("/") + 1);
}

export class MemoryFs implements Vfs {
  readonly capabilities = { setMtime: true };
  private readonly nodes = new Map<string, Node>();
  private nextId = 1;

  constructor(tree: MemoryTree = {}, private readonly clock: () => Millis = () => Date.now()) {
    this.nodes.set("/", this.node("dir"));
    this.load("/", tree);
  }

  private node(type: "file" | "dir", data: Uint8Array = new Uint8Array(0)): Node {
    return { type, data, mtime: this.clock(), id: this.nextId++ };
  }

  private load(dir: string, tree: MemoryTree): void {
    for (const [name, value] of Object.entries(tree)) {
      const p = dir === "/" ? `/${name}` : `${dir}/${name}`;
      if (typeof value === "string") this.nodes.set(p, this.node("file", new TextEncoder().encode(value)));
      else if (value instanceof Uint8Array) this.nodes.set(p, this.node("file", value));
      else {
        this.nodes.set(p, this.node("dir"));
        this.load(p, value);
      }
    }
  }

  /** The file's bytes (for tests), or undefined. */
  readFile(p: string): Uint8Array | undefined {
    const n = this.nodes.get(p);
    return n?.type === "file" ? n.data : undefined;
  }

  private get(p: string): Node {
    const n = this.nodes.get(p);
    if (n === undefined) throw new VfsError(this.nodes.get(parentOf(p))?.type === "file" ? "not-a-directory" : "not-found");
    return n;
  }

  private statOf(p: string, n: Node): FileStat {
    return { name: nameOf(p) || "/", type: n.type, size: n.data.length, mtime: n.mtime, mode: n.type === "dir" ? 0o755 : 0o644, unique: `m${n.id.toString(16)}` };
  }

  private parentDir(p: string): void {
    const parent = this.nodes.get(parentOf(p));
    if (parent === undefined) throw new VfsError("not-found");
    if (parent.type !== "dir") throw new VfsError("not-a-directory");
  }

  private children(p: string): string[] {
    const prefix = p === "/" ? "/" : `${p}/`;
    return [...this.nodes.keys()].filter((k) => k !== p && k.startsWith(prefix) && !k.slice(prefix.length).includes("/"));
  }

  stat(p: string): Promise<FileStat> {
    return this.run(() => this.statOf(p, this.get(p)));
  }

  list(p: string): Promise<FileStat[]> {
    return this.run(() => {
      if (this.get(p).type !== "dir") throw new VfsError("not-a-directory");
      return this.children(p).map((c) => this.statOf(c, this.get(c)));
    });
  }

  mkdir(p: string): Promise<void> {
    return this.run(() => {
      if (this.nodes.has(p)) throw new VfsError("exists");
      this.parentDir(p);
      this.nodes.set(p, this.node("dir"));
    });
  }

  rmdir(p: string): Promise<void> {
    return this.run(() => {
      const n = this.get(p);
      if (n.type !== "dir") throw new VfsError("not-a-directory");
      if (p === "/") throw new VfsError("permission");
      if (this.children(p).length > 0) throw new VfsError("not-empty");
      this.nodes.delete(p);
    });
  }

  delete(p: string): Promise<void> {
    return this.run(() => {
      if (this.get(p).type === "dir") throw new VfsError("is-a-directory");
      this.nodes.delete(p);
    });
  }

  rename(from: string, to: string): Promise<void> {
    return this.run(() => {
      this.get(from);
      this.parentDir(to);
      if (to === from || to.startsWith(`${from}/`)) throw new VfsError("invalid-name");
      if (this.nodes.get(to)?.type === "dir") throw new VfsError("exists");
      const moved = [...this.nodes.entries()].filter(([k]) => k === from || k.startsWith(`${from}/`));
      for (const [k] of moved) this.nodes.delete(k);
      for (const [k, v] of moved) this.nodes.set(to + k.slice(from.length), v);
    });
  }

  setMtime(p: string, mtime: Millis): Promise<void> {
    return this.run(() => {
      this.get(p).mtime = mtime;
    });
  }

  read(p: string, offset: number): Promise<VfsReader> {
    return this.run(() => {
      const n = this.get(p);
      if (n.type !== "file") throw new VfsError("is-a-directory");
      const data = n.data;
      return {
        chunks: async function* () {
          for (let at = offset; at < data.length; at += READ_CHUNK) {
            await Promise.resolve();
            yield data.subarray(at, Math.min(data.length, at + READ_CHUNK));
          }
        },
        close: () => Promise.resolve(),
      };
    });
  }

  write(p: string, mode: "truncate" | "append" | "at-offset" | "create-new", offset: number): Promise<VfsWriter> {
    return this.run(() => {
      this.parentDir(p);
      const existing = this.nodes.get(p);
      if (existing?.type === "dir") throw new VfsError("is-a-directory");
      if (mode === "create-new" && existing !== undefined) throw new VfsError("exists");
      const base = existing === undefined ? new Uint8Array(0) : mode === "append" ? existing.data : mode === "at-offset" ? existing.data.subarray(0, offset) : new Uint8Array(0);
      const parts: Uint8Array[] = [base];
      let size = base.length;
      let done = false;
      const node = existing ?? this.node("file");
      if (existing === undefined) this.nodes.set(p, node);
      return {
        write: (chunk) => {
          if (size + chunk.length > MEMORY_FS_MAX_FILE_BYTES) return Promise.reject(new VfsError("no-space"));
          parts.push(chunk.slice());
          size += chunk.length;
          return Promise.resolve();
        },
        close: () => {
          if (done) return Promise.resolve();
          done = true;
          const data = new Uint8Array(size);
          let at = 0;
          for (const part of parts) {
            data.set(part, at);
            at += part.length;
          }
          node.data = data;
          node.mtime = this.clock();
          return Promise.resolve();
        },
        abort: () => {
          done = true;
          return Promise.resolve();
        },
      };
    });
  }

  private run<T>(work: () => T): Promise<T> {
    try {
      return Promise.resolve(work());
    } catch (error) {
      return Promise.reject(error instanceof VfsError ? error : new VfsError("io", String(error)));
    }
  }
}
