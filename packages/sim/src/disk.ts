// A simulated host disk with symlinks and Linux's descriptor model, and the sim's local-disk Vfs on
// it: the driver's one confinement rule (Confinement, with the driver's own node:fs descriptor
// primitives over this disk's node:fs look-alike), exactly as the Node and Deno LocalFs use it.
// Every host call takes a turn of the world's clock, so an attacker with shell access to the served
// tree (it writes only inside it, and may point symlinks anywhere) can swap an entry for a symlink
// between a check and its use, as renameat2(RENAME_EXCHANGE) does. The oracle lives here too: every
// call that reads, writes, creates, lists or stats something reports where it really landed, and
// anything outside the served root is a confinement failure, whatever the rule above it believed.
import type { FileStat, Millis } from "@pasv/core";
import { Confinement, fileStat, nodeFsDescriptors, toVfsError, VfsError, writeAccess, type Access, type ConfinePlatform, type HostStat, type NodeFsLike, type Reached, type Vfs, type VfsReader, type VfsWriter, type WriteMode } from "@pasv/driver";
import type { Counters } from "./net.js";
import type { Prng } from "./prng.js";
import { QUIET, type World } from "./world.js";

interface Base {
  readonly id: number;
  /** The directory holding it, or null once it is unlinked (an open descriptor still holds it). */
  parent: DirNode | null;
  name: string;
  /** Where it was when it was last unlinked (what /proc/self/fd shows, with " (deleted)"). */
  gone: string;
  mtime: Millis;
}
interface FileNode extends Base {
  readonly kind: "file";
  data: Uint8Array;
}
interface DirNode extends Base {
  readonly kind: "dir";
  readonly entries: Map<string, Node>;
}
interface LinkNode extends Base {
  readonly kind: "symlink";
  readonly target: string;
}
type Node = FileNode | DirNode | LinkNode;

type Tree = { readonly [name: string]: string | Uint8Array | Tree | { readonly symlink: string } };

/** Symlinks followed in one resolution before ELOOP (Linux's limit). */
const MAX_SYMLINK_HOPS = 40;
const FD_PREFIX = "/proc/self/fd/";

function errno(code: string, what: string): Error {
  return Object.assign(new Error(`${code}: ${what}`), { code });
}

function parts(p: string): string[] {
  return p.split("/").filter((s) => s !== "" && s !== ".");
}

/** The oracle's own containment test (not the driver's), segment by segment. */
function inside(root: string, real: string): boolean {
  const r = parts(root);
  const p = parts(real);
  return p.length >= r.length && r.every((s, i) => p[i] === s);
}

const O = { O_CREAT: 0o100, O_EXCL: 0o200, O_NOFOLLOW: 0o400000, O_WRONLY: 0o1, O_DIRECTORY: 0o200000 } as const;

export class SimDisk {
  private readonly top: DirNode;
  private nextId = 1;
  private readonly fds = new Map<number, Node>();
  private nextFd = 3;
  /** Host calls that touched something outside `root` (the confinement oracle reads these). */
  readonly escapes: string[] = [];
  /** Host calls checked against the root. */
  checked = 0;
  /** Bumped by every swap the attacker makes (a use that sees another value than its check did raced). */
  swaps = 0;

  constructor(private readonly world: World, private readonly rng: Prng, readonly root: string, private readonly maxDelay: number) {
    this.top = { kind: "dir", id: this.nextId++, parent: null, name: "", gone: "", mtime: 0, entries: new Map() };
  }

  /** Descriptors open now (a confinement check that never closes one leaks it). */
  get openDescriptors(): number {
    return this.fds.size;
  }

  // ---------------------------------------------------------------- the tree

  private node<T extends Node>(n: Omit<T, "id" | "parent" | "name" | "gone" | "mtime">): T {
    return { ...n, id: this.nextId++, parent: null, name: "", gone: "", mtime: this.world.now } as T;
  }

  private attach(dir: DirNode, name: string, n: Node): void {
    const old = dir.entries.get(name);
    if (old !== undefined) this.orphan(old);
    dir.entries.set(name, n);
    n.parent = dir;
    n.name = name;
    dir.mtime = this.world.now;
  }

  private detach(dir: DirNode, name: string): Node | undefined {
    const n = dir.entries.get(name);
    if (n === undefined) return undefined;
    this.orphan(n);
    dir.entries.delete(name);
    dir.mtime = this.world.now;
    return n;
  }

  private orphan(n: Node): void {
    n.gone = this.where(n);
    n.parent = null;
  }

  /** Resolves a host path the way Linux does (symlinks, "..", /proc/self/fd/N); throws an errno error. */
  private walk(path: string, followLast: boolean): Node {
    let cur: Node = this.top;
    let queue: string[];
    if (path.startsWith(FD_PREFIX)) {
      const [fd = "", ...rest] = path.slice(FD_PREFIX.length).split("/");
      const held = this.fds.get(Number(fd));
      if (held === undefined || !/^\d+$/.test(fd)) throw errno("EBADF", path);
      cur = held;
      queue = parts(rest.join("/"));
    } else if (path.startsWith("/")) queue = parts(path);
    else throw errno("EINVAL", `a relative host path ${path}`);
    let hops = 0;
    while (queue.length > 0) {
      const name = queue.shift()!;
      if (cur.kind !== "dir") throw errno("ENOTDIR", path);
      if (name === "..") {
        cur = cur.parent ?? cur;
        continue;
      }
      const child = cur.entries.get(name);
      if (child === undefined) throw errno("ENOENT", path);
      if (child.kind === "symlink" && (queue.length > 0 || followLast)) {
        if (++hops > MAX_SYMLINK_HOPS) throw errno("ELOOP", path);
        if (child.target.startsWith("/")) cur = this.top;
        queue = [...parts(child.target), ...queue];
        continue;
      }
      cur = child;
    }
    return cur;
  }

  /** The directory an entry lives in (its own last segment not followed), and the entry's name. */
  private entry(path: string): { dir: DirNode; name: string } {
    const cut = path.lastIndexOf("/");
    const name = path.slice(cut + 1);
    if (name === "" || name === "." || name === "..") throw errno("EINVAL", path);
    const dir = this.walk(cut <= 0 ? "/" : path.slice(0, cut), true);
    if (dir.kind !== "dir") throw errno("ENOTDIR", path);
    return { dir, name };
  }

  /** What /proc/self/fd/N reads as: the node's current path, " (deleted)" once it is unlinked. */
  private where(n: Node): string {
    const names: string[] = [];
    for (let at: Node = n; at !== this.top; ) {
      if (at.parent === null) return `${[at.gone, ...names.reverse()].join("/")} (deleted)`;
      names.push(at.name);
      at = at.parent;
    }
    return `/${names.reverse().join("/")}`;
  }

  /** The oracle: a use of `n` (or of an entry of `dir`) must land inside the root. */
  private used(op: string, real: string): void {
    this.checked++;
    if (!inside(this.root, real)) this.escapes.push(`${op} ${real}`);
  }

  private usedNode(op: string, n: Node): void {
    this.used(op, this.where(n));
  }

  private usedEntry(op: string, dir: DirNode, name: string): void {
    this.used(op, `${this.where(dir)}/${name}`);
  }

  private hostStat(n: Node): HostStat {
    return { kind: n.kind, size: n.kind === "file" ? n.data.length : n.kind === "symlink" ? n.target.length : 4096, mtimeMs: n.mtime, mode: n.kind === "dir" ? 0o40755 : n.kind === "symlink" ? 0o120777 : 0o100644, dev: 1, ino: n.id };
  }

  /** A turn of the world's clock: where a racing process gets in between two calls. */
  private turn(): Promise<void> {
    return new Promise((resolve) => this.world.after(this.rng.int(0, this.maxDelay), resolve));
  }

  private async call<T>(work: () => T): Promise<T> {
    await this.turn();
    return work();
  }

  // ---------------------------------------------------------------- set-up and the attacker (unchecked)

  /** Builds `tree` at `path` (a directory, made with its parents if missing). */
  put(path: string, tree: Tree | string | Uint8Array): void {
    const names = parts(path);
    const last = names.pop();
    let dir = this.top;
    for (const name of names) {
      let next = dir.entries.get(name);
      if (next === undefined) {
        next = this.node<DirNode>({ kind: "dir", entries: new Map() });
        this.attach(dir, name, next);
      }
      if (next.kind !== "dir") throw new Error(`${path}: ${name} is not a directory`);
      dir = next;
    }
    if (last === undefined) throw new Error("cannot replace the host's root");
    this.attach(dir, last, this.build(tree));
  }

  private build(tree: Tree | string | Uint8Array | { readonly symlink: string }): Node {
    if (typeof tree === "string") return this.node<FileNode>({ kind: "file", data: new TextEncoder().encode(tree) });
    if (tree instanceof Uint8Array) return this.node<FileNode>({ kind: "file", data: tree.slice() });
    if ("symlink" in tree && typeof tree.symlink === "string") return this.node<LinkNode>({ kind: "symlink", target: tree.symlink });
    const dir = this.node<DirNode>({ kind: "dir", entries: new Map() });
    for (const [name, sub] of Object.entries(tree as Tree)) this.attach(dir, name, this.build(sub));
    return dir;
  }

  /** renameat2(RENAME_EXCHANGE): two entries trade places atomically (both must exist). */
  exchange(a: string, b: string): boolean {
    try {
      const x = this.entry(a);
      const y = this.entry(b);
      const nx = x.dir.entries.get(x.name);
      const ny = y.dir.entries.get(y.name);
      if (nx === undefined || ny === undefined || nx === ny) return false;
      this.detach(x.dir, x.name);
      this.detach(y.dir, y.name);
      this.attach(x.dir, x.name, ny);
      this.attach(y.dir, y.name, nx);
      this.swaps++;
      return true;
    } catch {
      return false;
    }
  }

  /** rename(2) by the attacker: moves an entry (replacing the target). */
  move(from: string, to: string): boolean {
    try {
      const x = this.entry(from);
      const y = this.entry(to);
      const n = this.detach(x.dir, x.name);
      if (n === undefined) return false;
      this.attach(y.dir, y.name, n);
      this.swaps++;
      return true;
    } catch {
      return false;
    }
  }

  /** A file's bytes, following symlinks (the oracles' view: no turn, no check). */
  peek(path: string): Uint8Array | undefined {
    try {
      const n = this.walk(path, true);
      return n.kind === "file" ? n.data : undefined;
    } catch {
      return undefined;
    }
  }

  // ---------------------------------------------------------------- what a LocalFs calls (checked)

  /** node:fs as the driver's descriptor primitives use it (open with O_PATH, readlink, fstat, close). */
  readonly nodeFs: NodeFsLike = {
    constants: O,
    open: (path, flags, _mode, callback) => {
      void this.turn().then(() => {
        try {
          callback(null, this.openSync(path, flags));
        } catch (error) {
          callback(error as Error, -1);
        }
      });
    },
    // Only the inline path calls it (an InlineGate the simulator does not give): the same open, with
    // no turn for the attacker before it.
    openSync: (path, flags) => this.openSync(path, flags),
    closeSync: (fd) => {
      if (!this.fds.delete(fd)) throw errno("EBADF", String(fd));
    },
    readlinkSync: (path) => this.readlinkNow(path),
    fstatSync: (fd) => {
      const n = this.fds.get(fd);
      if (n === undefined) throw errno("EBADF", String(fd));
      this.usedNode("fstat", n);
      const st = this.hostStat(n);
      return { isDirectory: () => st.kind === "dir", isFile: () => st.kind === "file", isSymbolicLink: () => st.kind === "symlink", size: st.size, mtimeMs: st.mtimeMs, mode: st.mode, dev: st.dev, ino: st.ino };
    },
  };

  private openSync(path: string, flags: number): number {
    const O_PATH = 0o10000000;
    let n: Node;
    if ((flags & O_PATH) !== 0) {
      // A reference only: nothing is read, so no use to check (the check reads where it points).
      n = this.walk(path, (flags & O.O_NOFOLLOW) === 0);
      if ((flags & O.O_DIRECTORY) !== 0 && n.kind !== "dir") throw errno("ENOTDIR", path);
    } else if ((flags & O.O_CREAT) !== 0 && (flags & O.O_EXCL) !== 0) {
      const { dir, name } = this.entry(path);
      if (dir.entries.has(name)) throw errno("EEXIST", path);
      this.usedEntry("create", dir, name);
      n = this.node<FileNode>({ kind: "file", data: new Uint8Array(0) });
      this.attach(dir, name, n);
    } else throw errno("EINVAL", `open flags ${flags.toString(8)} are not simulated`);
    const fd = this.nextFd++;
    this.fds.set(fd, n);
    return fd;
  }

  private readlinkNow(path: string): string {
    if (path.startsWith(FD_PREFIX) && /^\d+$/.test(path.slice(FD_PREFIX.length))) {
      const n = this.fds.get(Number(path.slice(FD_PREFIX.length)));
      if (n === undefined) throw errno("EBADF", path);
      return this.where(n);
    }
    const { dir, name } = this.entry(path);
    const n = dir.entries.get(name);
    if (n === undefined) throw errno("ENOENT", path);
    if (n.kind !== "symlink") throw errno("EINVAL", path);
    return n.target;
  }

  realPath = (path: string): Promise<string> => this.call(() => this.where(this.walk(path, true)));

  isSymlink = (path: string): Promise<boolean> =>
    this.call(() => {
      const { dir, name } = this.entry(path);
      return dir.entries.get(name)?.kind === "symlink";
    });

  stat = (path: string): Promise<HostStat> =>
    this.call(() => {
      const n = this.walk(path, true);
      this.usedNode("stat", n);
      return this.hostStat(n);
    });

  lstat = (path: string): Promise<HostStat> =>
    this.call(() => {
      const { dir, name } = this.entry(path);
      const n = dir.entries.get(name);
      if (n === undefined) throw errno("ENOENT", path);
      this.usedEntry("lstat", dir, name);
      return this.hostStat(n);
    });

  readlink = (path: string): Promise<string> => this.call(() => this.readlinkNow(path));

  readdir = (path: string): Promise<string[]> =>
    this.call(() => {
      const n = this.walk(path, true);
      if (n.kind !== "dir") throw errno("ENOTDIR", path);
      this.usedNode("readdir", n);
      return [...n.entries.keys()].sort();
    });

  mkdir = (path: string): Promise<void> =>
    this.call(() => {
      const { dir, name } = this.entry(path);
      if (dir.entries.has(name)) throw errno("EEXIST", path);
      this.usedEntry("mkdir", dir, name);
      this.attach(dir, name, this.node<DirNode>({ kind: "dir", entries: new Map() }));
    });

  rmdir = (path: string): Promise<void> =>
    this.call(() => {
      const { dir, name } = this.entry(path);
      const n = dir.entries.get(name);
      if (n === undefined) throw errno("ENOENT", path);
      if (n.kind !== "dir") throw errno("ENOTDIR", path);
      if (n.entries.size > 0) throw errno("ENOTEMPTY", path);
      this.usedEntry("rmdir", dir, name);
      this.detach(dir, name);
    });

  unlink = (path: string): Promise<void> =>
    this.call(() => {
      const { dir, name } = this.entry(path);
      const n = dir.entries.get(name);
      if (n === undefined) throw errno("ENOENT", path);
      if (n.kind === "dir") throw errno("EISDIR", path);
      this.usedEntry("unlink", dir, name);
      this.detach(dir, name);
    });

  rename = (from: string, to: string): Promise<void> =>
    this.call(() => {
      const a = this.entry(from);
      const b = this.entry(to);
      const n = a.dir.entries.get(a.name);
      if (n === undefined) throw errno("ENOENT", from);
      const existing = b.dir.entries.get(b.name);
      if (existing === n) return;
      for (let up: DirNode | null = b.dir; up !== null; up = up.parent) if (up === n) throw errno("EINVAL", "a directory cannot move into itself");
      if (existing !== undefined) {
        if (n.kind === "dir" && existing.kind !== "dir") throw errno("ENOTDIR", to);
        if (n.kind !== "dir" && existing.kind === "dir") throw errno("EISDIR", to);
        if (existing.kind === "dir" && existing.entries.size > 0) throw errno("ENOTEMPTY", to);
      }
      this.usedEntry("rename from", a.dir, a.name);
      this.usedEntry("rename to", b.dir, b.name);
      this.detach(a.dir, a.name);
      this.attach(b.dir, b.name, n);
    });

  utimes = (path: string, mtime: Millis): Promise<void> =>
    this.call(() => {
      const n = this.walk(path, true);
      this.usedNode("utimes", n);
      n.mtime = mtime;
    });

  /** open(path, O_RDONLY): the file's bytes as they are now (a reader reads that snapshot). */
  openRead = (path: string): Promise<Uint8Array> =>
    this.call(() => {
      const n = this.walk(path, true);
      if (n.kind === "dir") throw errno("EISDIR", path);
      if (n.kind !== "file") throw errno("EACCES", path);
      this.usedNode("read", n);
      return n.data;
    });

  /** open(path, "w" | "a" | "wx" | "r+"): the file written to (created, following a final symlink, unless "wx" or "r+"). */
  openWrite = (path: string, flags: "w" | "a" | "wx" | "r+"): Promise<(data: (old: Uint8Array) => Uint8Array) => void> =>
    this.call(() => {
      let file: FileNode | null = null;
      let existing: Node | null = null;
      if (flags !== "wx") {
        try {
          existing = this.walk(path, true);
        } catch (error) {
          if ((error as { code?: string }).code !== "ENOENT" || flags === "r+") throw error;
        }
      }
      if (existing !== null) {
        if (existing.kind === "dir") throw errno("EISDIR", path);
        if (existing.kind !== "file") throw errno("EACCES", path);
        file = existing;
      }
      // Missing: O_CREAT creates it, and without O_NOFOLLOW a dangling symlink's target, wherever it points.
      for (let at = path, hops = 0; file === null; hops++) {
        const { dir, name } = this.entry(at);
        const n = dir.entries.get(name);
        if (n === undefined) {
          this.usedEntry("create", dir, name);
          file = this.node<FileNode>({ kind: "file", data: new Uint8Array(0) });
          this.attach(dir, name, file);
        } else if (flags === "wx") throw errno("EEXIST", path);
        else if (n.kind === "symlink" && hops < MAX_SYMLINK_HOPS) at = n.target.startsWith("/") ? n.target : `${this.where(dir)}/${n.target}`;
        else throw errno(n.kind === "symlink" ? "ELOOP" : "EEXIST", path);
      }
      const target = file;
      this.usedNode("write", target);
      // The bytes land when the writer closes (as MemoryFs shows them), on the inode it opened.
      return (data) => {
        target.data = data(target.data);
        target.mtime = this.world.now;
      };
    });

  /** The attacker's loop: while `on()` holds, every 1-4 ms one of `swaps` runs (each returns whether it changed anything). */
  race(swaps: readonly (() => boolean)[], on: () => boolean, counters: Counters): void {
    const tick = (): typeof QUIET => {
      if (!on()) return QUIET;
      if (this.rng.pick(swaps)()) counters.bump("fault: symlink swapped in or out (race)");
      this.world.after(this.rng.int(1, 4), tick);
      return QUIET;
    };
    this.world.after(this.rng.int(1, 4), tick);
  }
}

/** How the sim's local-disk Vfs confines: the driver's rule with descriptors (Linux), by name only
 * (other hosts), or not at all (a planted bug). */
export type DiskConfinement = "descriptor" | "name" | "none";

/** The open flags of a write once the rule has passed (LocalFs's rule: a file the check created is new and empty). */
function writeFlags(mode: WriteMode, at: Reached): "w" | "a" | "wx" | "r+" {
  if (at.created) return mode === "append" ? "a" : "r+";
  return mode === "truncate" ? "w" : mode === "append" ? "a" : mode === "create-new" ? "wx" : "r+";
}

/** The sim's LocalFs: the served root on the simulated disk, under the driver's confinement rule. */
export class DiskVfs implements Vfs {
  private readonly confinement: Confinement | null;
  private handles = 0;

  /** `raced`: the attacker swapped something after an operation's check began and before its use. */
  constructor(readonly disk: SimDisk, readonly confine: DiskConfinement, private readonly raced: () => void = () => undefined) {
    const platform: ConfinePlatform = { realPath: disk.realPath, isSymlink: disk.isSymlink, ...(confine === "descriptor" ? { descriptors: nodeFsDescriptors(disk.nodeFs) } : {}) };
    this.confinement = confine === "none" ? null : new Confinement(disk.root, platform);
  }

  /** Readers and writers opened and not yet closed or aborted. */
  get openHandles(): number {
    return this.handles;
  }

  private host(virtual: string): string {
    return `${this.disk.root}/${parts(virtual).join("/")}`.replace(/\/$/, "");
  }

  /** A file's bytes by virtual path (the oracles' view), or undefined. */
  readFile(virtual: string): Uint8Array | undefined {
    return this.disk.peek(this.host(virtual));
  }

  /** Set-up: a file or a tree at a virtual path. */
  put(virtual: string, content: Uint8Array | Tree): void {
    this.disk.put(this.host(virtual), content);
  }

  private async at<T>(virtual: string, access: Access, work: (at: Reached) => Promise<T>): Promise<T> {
    const swaps = this.disk.swaps;
    const use = (at: Reached): Promise<T> => {
      if (this.disk.swaps !== swaps) this.raced();
      return work(at);
    };
    try {
      if (this.confinement === null) {
        const path = this.host(virtual);
        return await use({ path, name: path.slice(path.lastIndexOf("/") + 1), created: false });
      }
      return await this.confinement.with(virtual, access, use);
    } catch (error) {
      throw toVfsError(error);
    }
  }

  stat = (p: string): Promise<FileStat> => this.at(p, "follow", async (at) => fileStat(at.name, at.stat?.() ?? (await this.disk.stat(at.path))));

  list = (p: string): Promise<FileStat[]> =>
    this.at(p, "follow", async (at) => {
      const out: FileStat[] = [];
      for (const name of await this.disk.readdir(at.path)) {
        try {
          const full = `${at.path}/${name}`;
          const st = await this.disk.lstat(full);
          out.push(fileStat(name, st, st.kind === "symlink" ? await this.disk.readlink(full) : undefined));
        } catch {
          // Vanished between readdir and lstat: it is simply not listed.
        }
      }
      return out;
    });

  mkdir = (p: string): Promise<void> => this.at(p, "entry", (at) => this.disk.mkdir(at.path));
  rmdir = (p: string): Promise<void> => this.at(p, "entry", (at) => this.disk.rmdir(at.path));

  delete = (p: string): Promise<void> =>
    this.at(p, "entry", async (at) => {
      if ((await this.disk.lstat(at.path)).kind === "dir") throw new VfsError("is-a-directory");
      await this.disk.unlink(at.path);
    });

  rename = (from: string, to: string): Promise<void> =>
    this.at(from, "entry", (a) => (this.confinement === null ? this.disk.rename(a.path, this.host(to)) : this.confinement.with(to, "entry", (b) => this.disk.rename(a.path, b.path))));

  setMtime = (p: string, mtime: Millis): Promise<void> => this.at(p, "follow", (at) => this.disk.utimes(at.path, mtime));

  read = (p: string, offset: number): Promise<VfsReader> =>
    this.at(p, "follow", async (at) => {
      const st = at.stat?.() ?? (await this.disk.stat(at.path));
      if (st.kind !== "file") throw new VfsError(st.kind === "dir" ? "is-a-directory" : "permission");
      const data = await this.disk.openRead(at.path);
      this.handles++;
      let open = true;
      const isOpen = (): boolean => open;
      return {
        chunks: async function* () {
          for (let i = offset; i < data.length && isOpen(); i += 65536) {
            await Promise.resolve();
            if (!isOpen()) return;
            yield data.subarray(i, Math.min(data.length, i + 65536));
          }
        },
        close: () => {
          if (open) this.handles--;
          open = false;
          return Promise.resolve();
        },
      };
    });

  write = (p: string, mode: WriteMode, offset: number): Promise<VfsWriter> =>
    this.at(p, writeAccess(mode), async (at) => {
      const land = await this.disk.openWrite(at.path, writeFlags(mode, at));
      this.handles++;
      const pieces: Uint8Array[] = [];
      let open = true;
      const release = (): void => {
        if (open) this.handles--;
        open = false;
      };
      return {
        write: (chunk) => {
          if (!open) return Promise.reject(new VfsError("io", "written after close"));
          pieces.push(chunk.slice());
          return Promise.resolve();
        },
        close: () => {
          if (!open) return Promise.resolve();
          release();
          land((old) => {
            const keep = mode === "append" ? old.length : mode === "at-offset" ? Math.min(offset, old.length) : 0;
            const size = pieces.reduce((n, c) => n + c.length, keep);
            const out = new Uint8Array(size);
            out.set(old.subarray(0, keep));
            let i = keep;
            for (const c of pieces) {
              out.set(c, i);
              i += c.length;
            }
            return out;
          });
          return Promise.resolve();
        },
        abort: () => {
          release();
          return Promise.resolve();
        },
      };
    });
}

/** Where the served tree meets the rest of the host: what the confinement must keep out. */
export const SECRET = "SECRET outside the served root\n";

/** The served root and the host around it: symlinks inside and leading out, to files and
 * directories, relative and absolute, dangling, looping; and the entries the attacker swaps. */
export function buildHost(disk: SimDisk): void {
  const root = disk.root;
  disk.put("/outside", { "secret.txt": SECRET, dir: { "secret2.txt": SECRET } });
  disk.put(`${root}-private`, { "secret.txt": SECRET });
  disk.put(root, {
    shared: { "target.txt": "shared target\n" },
    links: {
      "in-file": { symlink: `${root}/shared/target.txt` },
      "in-dir": { symlink: "../shared" },
      chain: { symlink: "in-dir" },
      "out-file": { symlink: "/outside/secret.txt" },
      "out-dir": { symlink: "/outside" },
      "out-rel": { symlink: "../../../outside/secret.txt" },
      sibling: { symlink: `${root}-private` },
      up: { symlink: "../.." },
      "dangling-out": { symlink: "/outside/planted.txt" },
      "dangling-in": { symlink: "../shared/nothing.txt" },
      loop: { symlink: "loop" },
    },
    race: {
      file: "an inside file\n",
      ".file": { symlink: "/outside/secret.txt" },
      dir: { "inner.txt": "an inside file\n" },
      ".dir": { symlink: "/outside/dir" },
      sub: {},
      ".sub": { symlink: "../../../outside" },
      ".new": { symlink: "/outside/planted.txt" },
    },
  });
}

/** The attacker's moves on the tree buildHost made: each entry of race/ traded for its symlink and back. */
export function raceSwaps(disk: SimDisk): (() => boolean)[] {
  const r = `${disk.root}/race`;
  let planted = false;
  return [
    () => disk.exchange(`${r}/file`, `${r}/.file`),
    () => disk.exchange(`${r}/dir`, `${r}/.dir`),
    () => disk.exchange(`${r}/sub`, `${r}/.sub`),
    // A dangling symlink to outside appears where a new file is about to be created, and goes again.
    () => {
      planted = !planted;
      return planted ? disk.move(`${r}/.new`, `${r}/new`) : disk.move(`${r}/new`, `${r}/.new`);
    },
  ];
}

/** The virtual paths a prober aims at (buildHost's tree). */
export const PROBE_PATHS: readonly string[] = [
  "/links/in-file",
  "/links/in-dir",
  "/links/in-dir/target.txt",
  "/links/chain/target.txt",
  "/links/out-file",
  "/links/out-dir",
  "/links/out-dir/secret.txt",
  "/links/out-dir/new.txt",
  "/links/out-rel",
  "/links/sibling/secret.txt",
  "/links/up",
  "/links/up/outside/secret.txt",
  "/links/dangling-out",
  "/links/dangling-in",
  "/links/loop",
  "/links",
  "/race/file",
  "/race/dir",
  "/race/dir/inner.txt",
  "/race/dir/new.txt",
  "/race/sub",
  "/race/sub/new.txt",
  "/race/new",
  "/race",
];

/** Whether a virtual path's existence may change under a racing attacker (the rights oracle cannot say create from overwrite there). */
export function unstablePath(virtual: string): boolean {
  return virtual.startsWith("/race/") || virtual.startsWith("/links/");
}

export function noteEscapes(disk: SimDisk, fail: (oracle: string, detail: string) => void, counters: Counters): void {
  counters.bump("check: confinement holds", disk.checked);
  for (const e of disk.escapes.slice(0, 5)) fail("confinement holds", `a host call reached outside the served root: ${e}`);
}
