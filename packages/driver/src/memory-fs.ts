// The one in-memory file system (for tests, embedding and the simulator), answering with the same
// error kinds as the local disk. Like a POSIX disk it renames directories with their contents and
// replaces an existing target (a file by a file, a directory by an empty one). A writer creates a
// missing file at once (empty) and its bytes become visible when it closes, all at once: close is
// the only moment the Vfs contract promises them (the Node disk adapter, which gathers 1 MiB per
// write, shows a small upload only at close too), so nothing can pass for stored before that. An
// aborted writer leaves the file as it was. Readers read the bytes the file had when they opened.
import { encodeUtf8, type FileStat, type Millis } from "@pasv/core";
import { LISTING_PAGE_ENTRIES } from "./listing-pages.js";
import { VfsError, type Vfs, type VfsReader, type VfsWriter } from "./vfs.js";

export type MemoryTree = { readonly [name: string]: string | Uint8Array | MemoryTree };

/** Largest file the in-memory store accepts; beyond it writes fail with "no-space". */
export const MEMORY_FS_MAX_FILE_BYTES = 1024 * 1024 * 1024;
/** Largest chunk a reader yields. */
export const MEMORY_FS_READ_CHUNK = 256 * 1024;

interface FileNode {
  readonly type: "file";
  data: Uint8Array;
  mtime: Millis;
  readonly id: number;
}

interface DirNode {
  readonly type: "dir";
  readonly entries: Map<string, Node>;
  mtime: Millis;
  readonly id: number;
}

type Node = FileNode | DirNode;

/** The longest name a directory entry may have, in UTF-8 bytes: Linux's NAME_MAX, so the tree refuses what the disk refuses. */
export const MEMORY_FS_NAME_MAX_BYTES = 255;

function split(p: string): string[] {
  const parts = p.split("/").filter((s) => s !== "" && s !== ".");
  if (parts.includes("..")) throw new VfsError("permission", "a '..' segment in a virtual path");
  return parts;
}

/** Refuses a name too long for a directory entry; checked where the disk checks it, when the name is looked up in a directory. */
function checkName(name: string): void {
  if (name.length * 3 > MEMORY_FS_NAME_MAX_BYTES && encodeUtf8(name).length > MEMORY_FS_NAME_MAX_BYTES) throw new VfsError("invalid-name", "a name longer than NAME_MAX");
}

export class MemoryFs implements Vfs {
  private readonly top: DirNode;
  private nextId = 1;
  private handles = 0;

  constructor(tree: MemoryTree = {}, private readonly clock: () => Millis = () => Date.now()) {
    this.top = this.dir();
    this.load(this.top, tree);
  }

  /** Readers and writers opened and not yet closed or aborted. */
  get openHandles(): number {
    return this.handles;
  }

  private dir(): DirNode {
    return { type: "dir", entries: new Map(), mtime: this.clock(), id: this.nextId++ };
  }

  private file(data: Uint8Array): FileNode {
    return { type: "file", data, mtime: this.clock(), id: this.nextId++ };
  }

  private load(into: DirNode, tree: MemoryTree): void {
    for (const [name, value] of Object.entries(tree)) {
      if (typeof value === "string") into.entries.set(name, this.file(encodeUtf8(value)));
      else if (value instanceof Uint8Array) into.entries.set(name, this.file(value));
      else {
        const sub = this.dir();
        into.entries.set(name, sub);
        this.load(sub, value);
      }
    }
  }

  /** The node at `p`, or the error the disk would give for it. */
  private lookup(p: string): Node {
    let at: Node = this.top;
    for (const name of split(p)) {
      if (at.type !== "dir") throw new VfsError("not-a-directory");
      checkName(name);
      const next = at.entries.get(name);
      if (next === undefined) throw new VfsError("not-found");
      at = next;
    }
    return at;
  }

  /** The directory that holds (or would hold) the last segment of `p`, and that segment; the root has no parent. */
  private parent(p: string): { dir: DirNode; name: string } {
    const parts = split(p);
    const name = parts.pop();
    if (name === undefined) throw new VfsError("permission", "the root itself");
    const dir = this.lookup(`/${parts.join("/")}`);
    if (dir.type !== "dir") throw new VfsError("not-a-directory");
    checkName(name);
    return { dir, name };
  }

  private statOf(name: string, n: Node): FileStat {
    return {
      name,
      type: n.type,
      size: n.type === "file" ? n.data.length : 4096,
      mtime: n.mtime,
      mode: n.type === "dir" ? 0o755 : 0o644,
      unique: `m${n.id.toString(16)}`,
    };
  }

  /** The file's bytes (for tests and oracles), or undefined when there is no file at `p`. */
  readFile(p: string): Uint8Array | undefined {
    try {
      const n = this.lookup(p);
      return n.type === "file" ? n.data : undefined;
    } catch {
      return undefined;
    }
  }

  /** Puts a file, or a directory holding a tree, at `p` at once (replacing what was there), for setting up tests; the parent must exist. */
  put(p: string, content: string | Uint8Array | MemoryTree): void {
    const { dir, name } = this.parent(p);
    this.load(dir, { [name]: content });
  }

  stat(p: string): Promise<FileStat> {
    return this.run(() => {
      const name = split(p).pop() ?? "/";
      return this.statOf(name, this.lookup(p));
    });
  }

  list(p: string): Promise<FileStat[]> {
    return this.run(() => {
      const n = this.lookup(p);
      if (n.type !== "dir") throw new VfsError("not-a-directory");
      return [...n.entries.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, child]) => this.statOf(name, child));
    });
  }

  /** Pages of the directory in name order; an entry removed before its page is read is left out, as on a disk. */
  async *listPages(p: string): AsyncGenerator<readonly FileStat[]> {
    const n = await this.run(() => this.lookup(p));
    if (n.type !== "dir") throw new VfsError("not-a-directory");
    const names = [...n.entries.keys()].sort();
    for (let at = 0; at < names.length; at += LISTING_PAGE_ENTRIES) {
      const page: FileStat[] = [];
      for (const name of names.slice(at, at + LISTING_PAGE_ENTRIES)) {
        const child = n.entries.get(name);
        if (child !== undefined) page.push(this.statOf(name, child));
      }
      yield page;
    }
  }

  mkdir(p: string): Promise<void> {
    return this.run(() => {
      const { dir, name } = this.parent(p);
      if (dir.entries.has(name)) throw new VfsError("exists");
      dir.entries.set(name, this.dir());
      dir.mtime = this.clock();
    });
  }

  rmdir(p: string): Promise<void> {
    return this.run(() => {
      if (split(p).length === 0) throw new VfsError("permission", "the root itself");
      const { dir, name } = this.parent(p);
      const n = dir.entries.get(name);
      if (n === undefined) throw new VfsError("not-found");
      if (n.type !== "dir") throw new VfsError("not-a-directory");
      if (n.entries.size > 0) throw new VfsError("not-empty");
      dir.entries.delete(name);
      dir.mtime = this.clock();
    });
  }

  delete(p: string): Promise<void> {
    return this.run(() => {
      const { dir, name } = this.parent(p);
      const n = dir.entries.get(name);
      if (n === undefined) throw new VfsError("not-found");
      if (n.type === "dir") throw new VfsError("is-a-directory");
      dir.entries.delete(name);
      dir.mtime = this.clock();
    });
  }

  /** POSIX rename(2): directories move with their contents; an existing target is replaced when the types allow it. */
  rename(from: string, to: string): Promise<void> {
    return this.run(() => {
      const source = this.parent(from);
      const node = source.dir.entries.get(source.name);
      if (node === undefined) throw new VfsError("not-found");
      const target = this.parent(to);
      const a = split(from);
      const b = split(to);
      if (a.length === b.length && a.every((s, i) => s === b[i])) return;
      if (node.type === "dir" && b.length > a.length && a.every((s, i) => s === b[i])) throw new VfsError("invalid-name", "a directory cannot move into itself");
      const existing = target.dir.entries.get(target.name);
      if (existing !== undefined) {
        if (node.type === "dir" && existing.type !== "dir") throw new VfsError("not-a-directory");
        if (node.type === "file" && existing.type === "dir") throw new VfsError("is-a-directory");
        if (existing.type === "dir" && existing.entries.size > 0) throw new VfsError("not-empty");
      }
      source.dir.entries.delete(source.name);
      target.dir.entries.set(target.name, node);
      source.dir.mtime = target.dir.mtime = this.clock();
    });
  }

  setMtime(p: string, mtime: Millis): Promise<void> {
    return this.run(() => {
      this.lookup(p).mtime = mtime;
    });
  }

  read(p: string, offset: number): Promise<VfsReader> {
    return this.run(() => {
      const n = this.lookup(p);
      if (n.type !== "file") throw new VfsError("is-a-directory");
      const data = n.data;
      let open = true;
      const isOpen = (): boolean => open;
      this.handles++;
      return {
        chunks: async function* () {
          for (let at = offset; at < data.length && isOpen(); at += MEMORY_FS_READ_CHUNK) {
            await Promise.resolve();
            if (!isOpen()) return;
            yield data.subarray(at, Math.min(data.length, at + MEMORY_FS_READ_CHUNK));
          }
        },
        close: () => {
          if (open) this.handles--;
          open = false;
          return Promise.resolve();
        },
      };
    });
  }

  write(p: string, mode: "truncate" | "append" | "at-offset" | "create-new", offset: number): Promise<VfsWriter> {
    return this.run(() => {
      const { dir, name } = this.parent(p);
      const existing = dir.entries.get(name);
      if (existing?.type === "dir") throw new VfsError("is-a-directory");
      if (mode === "create-new" && existing !== undefined) throw new VfsError("exists");
      let node = existing;
      if (node === undefined) {
        node = this.file(new Uint8Array(0));
        dir.entries.set(name, node);
        dir.mtime = this.clock();
      }
      const file = node;
      const parts: Uint8Array[] = [];
      let size = 0;
      let open = true;
      this.handles++;
      const release = (): void => {
        if (open) this.handles--;
        open = false;
      };
      return {
        write: (chunk) => {
          if (!open) return Promise.reject(new VfsError("io", "written after close"));
          if (size + chunk.length > MEMORY_FS_MAX_FILE_BYTES) return Promise.reject(new VfsError("no-space"));
          parts.push(chunk.slice());
          size += chunk.length;
          return Promise.resolve();
        },
        close: () => {
          if (!open) return Promise.resolve();
          release();
          // The bytes land on the file (wherever it is now, even unlinked, like an inode) at once.
          const old = file.data;
          const keep = mode === "append" ? old.length : mode === "at-offset" ? offset : 0;
          const data = new Uint8Array(keep + size);
          data.set(old.subarray(0, Math.min(keep, old.length)));
          let at = keep;
          for (const part of parts) {
            data.set(part, at);
            at += part.length;
          }
          file.data = data;
          file.mtime = this.clock();
          return Promise.resolve();
        },
        abort: () => {
          release();
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
