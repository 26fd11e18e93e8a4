// The local disk under a root, with the driver's one confinement rule (the same as the Deno
// adapter's): virtual paths ("/a/b") map below the root's real path, and what an operation touches
// must resolve inside it, so a symlink that points out of the root is refused like a missing
// permission. On Linux the rule holds through descriptors (node:fs open with O_PATH, then
// /proc/self/fd), so a symlink swapped in by a local process cannot win a race against it.
import fs, { promises as fsp } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import path from "node:path";
import { sortByName, type FileStat, type Millis } from "@pasv/core";
import { Confinement, DownloadReader, INLINE_READ_BYTES, InlineGate, fileStat, fromNodeStats, nodeFsDescriptors, toVfsError, writeAccess, VfsError, vfsGuard as guard, type Access, type ChunkSource, type ConfinePlatform, type Guarantee, type HostStat, type InlineFs, type Reached, type Vfs, type VfsReader, type VfsWriter, type WriteMode, allEntries, pagesWithin, statPages, type Pages } from "@pasv/driver";

/** Read size for downloads: large chunks keep loopback throughput high (see DESIGN's notes); a
 * download's one buffer is this or the file's remaining size, whichever is smaller. */
export const READ_CHUNK_BYTES = 1024 * 1024;
/** Uploads arrive in socket-sized pieces (64 KiB); gathering them into one writev per this many bytes cuts syscalls 16-fold. */
export const WRITE_BATCH_BYTES = 1024 * 1024;

function confinePlatform(gate: InlineGate): ConfinePlatform {
  return {
    realPath: (p) => fsp.realpath(p),
    isSymlink: async (p) => (await fsp.lstat(p)).isSymbolicLink(),
    ...(process.platform === "linux" ? { descriptors: nodeFsDescriptors(fs, gate) } : {}),
  };
}

export interface LocalFsOptions {
  /** Blocking calls on the event loop while they stay fast (see the driver's InlineGate); default "auto". */
  readonly inline?: InlineFs;
}

/** Directory entries one opendir read fetches from the kernel. */
export const DIR_READ_ENTRIES = 128;

/** A directory's names; the loop closes it when it ends or is left. */
async function* names(dir: fs.Dir): AsyncGenerator<string> {
  for await (const entry of dir) yield entry.name;
}

/** One entry of a directory being listed, or null when it vanished since the directory was read. */
async function entryAt(dir: string, name: string): Promise<FileStat | null> {
  try {
    const full = `${dir}/${name}`;
    const st = await fsp.lstat(full);
    return fileStat(name, fromNodeStats(st), st.isSymbolicLink() ? await fsp.readlink(full) : undefined);
  } catch {
    return null;
  }
}

/** The open flags of a write once the rule has passed: a file the check created is new and empty. */
function writeFlags(mode: WriteMode, at: Reached): string {
  if (at.created) return mode === "append" ? "a" : "r+";
  return mode === "truncate" ? "w" : mode === "append" ? "a" : mode === "create-new" ? "wx" : "r+";
}


/** What is left of `parts` after the first `written` bytes (a short writev). */
function remainder(parts: readonly Uint8Array[], written: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let skip = written;
  for (const p of parts) {
    if (skip >= p.length) {
      skip -= p.length;
      continue;
    }
    out.push(skip > 0 ? p.subarray(skip) : p);
    skip = 0;
  }
  return out;
}

/**
 * The stat of what a "follow" check reached: fstat on its pinned O_PATH descriptor, done inline
 * (the inode is already in memory; a thread-pool stat costs a hand-off, a wake-up and a promise,
 * twice per RETR, which the core stats before it reads), else stat by the path the check returned.
 */
/** The stat of what a "follow" check reached: inline on its pinned descriptor when it has one. */
async function statOf(at: Reached): Promise<HostStat> {
  return at.stat?.() ?? fromNodeStats(await fsp.stat(at.path));
}

export class LocalFs implements Vfs {
  private readonly confinement: Confinement;
  private readonly gate: InlineGate;

  /** The root's real path is pinned now: moving a symlink on the way to it later does not move this file system. */
  constructor(root: string, options: LocalFsOptions = {}) {
    this.gate = new InlineGate(options.inline ?? "auto", () => performance.now());
    this.confinement = new Confinement(path.resolve(root), confinePlatform(this.gate));
  }

  /** Whether confinement holds against racing local processes here (see the driver's Guarantee). */
  get guarantee(): Promise<Guarantee> {
    return this.confinement.guarantee;
  }

  /** Runs `use` once what `virtual` reaches has passed the driver's confinement rule. */
  private at<T>(virtual: string, access: Access, use: (at: Reached) => Promise<T>): Promise<T> {
    return guard(() => this.confinement.with(virtual, access, use));
  }

  stat(p: string): Promise<FileStat> {
    return this.at(p, "follow", async (at) => fileStat(at.name, await statOf(at)));
  }

  async list(p: string): Promise<FileStat[]> {
    return sortByName(await allEntries(this.listPages(p)));
  }

  /** The directory read in its own order (fs.opendir), a page at a time, its descriptor pinned meanwhile. */
  listPages(p: string): Pages {
    return pagesWithin((emit) =>
      this.at(p, "follow", async (at) => {
        const dir = await fsp.opendir(at.path, { bufferSize: DIR_READ_ENTRIES });
        await statPages(names(dir), (name) => entryAt(at.path, name), emit);
      }),
    );
  }

  mkdir(p: string): Promise<void> {
    return this.at(p, "entry", (at) => fsp.mkdir(at.path));
  }

  rmdir(p: string): Promise<void> {
    return this.at(p, "entry", (at) => fsp.rmdir(at.path));
  }

  delete(p: string): Promise<void> {
    return this.at(p, "entry", async (at) => {
      if ((await fsp.lstat(at.path)).isDirectory()) throw new VfsError("is-a-directory");
      await fsp.unlink(at.path);
    });
  }

  rename(from: string, to: string): Promise<void> {
    return this.at(from, "entry", (a) => this.confinement.with(to, "entry", (b) => fsp.rename(a.path, b.path)));
  }

  setMtime(p: string, mtime: Millis): Promise<void> {
    return this.at(p, "follow", async (at) => {
      const st = await fsp.stat(at.path);
      await fsp.utimes(at.path, st.atime, new Date(mtime));
    });
  }

  read(p: string, offset: number): Promise<VfsReader> {
    return this.at(p, "follow", async (at) => {
      // Checked before opening: opening a FIFO for reading would wait for a writer.
      const st = await statOf(at);
      if (st.kind !== "file") throw new VfsError(st.kind === "dir" ? "is-a-directory" : "permission");
      const gate = this.gate;
      // Opening a checked regular file is a name lookup the check just made; a small file is then
      // read inline too (one read, while the gate stays open), a large one by the thread pool.
      const source = gate.open ? new FdSource(gate.run(() => fs.openSync(at.path, "r")), st.size - offset <= INLINE_READ_BYTES ? gate : null) : new HandleSource(await fsp.open(at.path, "r"));
      return new DownloadReader(source, offset, st.size, READ_CHUNK_BYTES);
    });
  }

  write(p: string, mode: WriteMode, offset: number): Promise<VfsWriter> {
    return this.at(p, writeAccess(mode), async (at) => {
      const handle = await fsp.open(at.path, writeFlags(mode, at), 0o644);
      return writer(handle, mode === "at-offset" ? offset : null);
    });
  }
}

/** A writer on an open file: pieces batched into one writev per WRITE_BATCH_BYTES; `offset` for REST writes. */
async function writer(handle: FileHandle, offset: number | null): Promise<VfsWriter> {
  let position: number | null = null;
  if (offset !== null) {
    try {
      await handle.truncate(offset);
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw error;
    }
    position = offset;
  }
  let closed = false;
  let batch: Uint8Array[] = [];
  let batched = 0;
  const flush = async (): Promise<void> => {
    let parts = batch;
    let left = batched;
    batch = [];
    batched = 0;
    while (left > 0) {
      const { bytesWritten } = await handle.writev(parts, position ?? undefined);
      left -= bytesWritten;
      if (position !== null) position += bytesWritten;
      if (left > 0) parts = remainder(parts, bytesWritten);
    }
  };
  return {
    gathers: true,
    write: async (chunk) => {
      batch.push(chunk);
      batched += chunk.length;
      if (batched < WRITE_BATCH_BYTES) return;
      try {
        await flush();
      } catch (error) {
        throw toVfsError(error);
      }
    },
    close: async () => {
      if (closed) return;
      closed = true;
      try {
        await flush();
        await handle.close();
      } catch (error) {
        await handle.close().catch(() => undefined);
        throw toVfsError(error);
      }
    },
    abort: async () => {
      if (closed) return;
      closed = true;
      await handle.close().catch(() => undefined);
    },
  };
}

/**
 * A download's file by its descriptor: read inline while `gate` is open, else by the thread pool
 * (node:fs callbacks, no FileHandle). Closing a file opened for reading writes nothing back, so it is
 * done inline.
 */
class FdSource implements ChunkSource {
  constructor(private readonly fd: number, private readonly gate: InlineGate | null) {}

  read(into: Uint8Array, position: number): Promise<number> {
    const gate = this.gate;
    if (gate?.open === true) return gate.settle(() => fs.readSync(this.fd, into, 0, into.length, position));
    return new Promise((resolve, reject) => {
      fs.read(this.fd, into, 0, into.length, position, (error, n) => {
        if (error === null) resolve(n);
        else reject(error);
      });
    });
  }

  close(): Promise<void> {
    try {
      fs.closeSync(this.fd);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(toVfsError(error));
    }
  }
}

/** A download's file for the driver's DownloadReader: positional reads, so no seek is needed. */
class HandleSource implements ChunkSource {
  constructor(private readonly handle: FileHandle) {}

  async read(into: Uint8Array, position: number): Promise<number> {
    return (await this.handle.read(into, 0, into.length, position)).bytesRead;
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}
