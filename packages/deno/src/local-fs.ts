// The local disk under a root, on Deno's file APIs, with the driver's one confinement rule (the
// same as the Node adapter's LocalFs): what an operation touches must resolve inside the root. The
// descriptors that make the rule race-free on Linux come from Deno's node:fs, whose descriptors
// are the host's own (Deno.FsFile exposes none); the files are then used with Deno's APIs.
import fs from "node:fs";
import { sortByName, type FileStat, type Millis } from "@pasv/core";
import { Confinement, DownloadReader, INLINE_READ_BYTES, InlineGate, fileStat, nodeFsDescriptors, toVfsError, writeAccess, VfsError, vfsGuard as guard, type Access, type ChunkSource, type ConfinePlatform, type Guarantee, type HostStat, type InlineFs, type Reached, type Vfs, type VfsReader, type VfsWriter, type WriteMode, allEntries, pagesWithin, statPages, type Pages } from "@pasv/driver";

/** Read size for downloads (as on Node); a download's one buffer is this or the file's remaining
 * size, whichever is smaller. */
export const READ_CHUNK_BYTES = 1024 * 1024;

function confinePlatform(gate: InlineGate): ConfinePlatform {
  return {
    realPath: (p) => Deno.realPath(p),
    isSymlink: async (p) => (await Deno.lstat(p)).isSymlink,
    ...(Deno.build.os === "linux" ? { descriptors: nodeFsDescriptors(fs, gate) } : {}),
  };
}

export interface DenoLocalFsOptions {
  /** Blocking calls on the event loop while they stay fast (see the driver's InlineGate); default "auto". */
  readonly inline?: InlineFs;
}

/** A directory's names; leaving the loop closes it. */
async function* names(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) yield entry.name;
}

/** One entry of a directory being listed, or null when it vanished since the directory was read. */
async function entryAt(dir: string, name: string): Promise<FileStat | null> {
  try {
    const full = `${dir}/${name}`;
    const info = await Deno.lstat(full);
    return fileStat(name, hostStat(info), info.isSymlink ? await Deno.readLink(full) : undefined);
  } catch {
    return null;
  }
}

/** The open options of a write once the rule has passed: a file the check created is new and empty. */
function writeOptions(mode: WriteMode, at: Reached): Deno.OpenOptions {
  if (at.created) return mode === "append" ? { append: true } : { write: true };
  return mode === "truncate" ? { write: true, create: true, truncate: true } : mode === "append" ? { append: true, create: true } : mode === "create-new" ? { write: true, createNew: true } : { read: true, write: true };
}

/** A Deno.FileInfo as the driver's HostStat. */
function hostStat(info: Deno.FileInfo): HostStat {
  const kind = info.isDirectory ? "dir" : info.isFile ? "file" : info.isSymlink ? "symlink" : "other";
  return { kind, size: info.size, mtimeMs: info.mtime?.getTime() ?? 0, mode: info.mode ?? 0, dev: info.dev ?? 0, ino: info.ino ?? 0 };
}

/** The stat of what a "follow" check reached: inline on its pinned descriptor when it has one. */
async function statOf(at: Reached): Promise<HostStat> {
  return at.stat?.() ?? hostStat(await Deno.stat(at.path));
}

export class DenoLocalFs implements Vfs {
  private readonly confinement: Confinement;
  private readonly gate: InlineGate;

  /** The root's real path is pinned now: moving a symlink on the way to it later does not move this file system. */
  constructor(root: string, options: DenoLocalFsOptions = {}) {
    this.gate = new InlineGate(options.inline ?? "auto", () => performance.now());
    this.confinement = new Confinement(root, confinePlatform(this.gate));
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

  /** The directory read in its own order, a page at a time, its descriptor pinned meanwhile. */
  listPages(p: string): Pages {
    return pagesWithin((emit) => this.at(p, "follow", (at) => statPages(names(at.path), (name) => entryAt(at.path, name), emit)));
  }

  mkdir(p: string): Promise<void> {
    return this.at(p, "entry", (at) => Deno.mkdir(at.path));
  }

  rmdir(p: string): Promise<void> {
    return this.at(p, "entry", async (at) => {
      if (!(await Deno.lstat(at.path)).isDirectory) throw new VfsError("not-a-directory");
      await Deno.remove(at.path);
    });
  }

  delete(p: string): Promise<void> {
    return this.at(p, "entry", async (at) => {
      if ((await Deno.lstat(at.path)).isDirectory) throw new VfsError("is-a-directory");
      await Deno.remove(at.path);
    });
  }

  rename(from: string, to: string): Promise<void> {
    return this.at(from, "entry", (a) => this.confinement.with(to, "entry", (b) => Deno.rename(a.path, b.path)));
  }

  setMtime(p: string, mtime: Millis): Promise<void> {
    return this.at(p, "follow", async (at) => {
      const info = await Deno.stat(at.path);
      await Deno.utime(at.path, info.atime ?? new Date(mtime), new Date(mtime));
    });
  }

  read(p: string, offset: number): Promise<VfsReader> {
    return this.at(p, "follow", async (at) => {
      // Checked before opening: opening a FIFO for reading would wait for a writer.
      const info = await statOf(at);
      if (info.kind !== "file") throw new VfsError(info.kind === "dir" ? "is-a-directory" : "permission");
      const gate = this.gate;
      // Opening a checked regular file is a name lookup the check just made; a small file is then
      // read inline too (while the gate stays open), a large one through Deno's async reads.
      const inline = gate.open;
      const file = inline ? gate.run(() => Deno.openSync(at.path, { read: true })) : await Deno.open(at.path, { read: true });
      try {
        if (offset > 0) {
          if (inline) file.seekSync(offset, Deno.SeekMode.Start);
          else await file.seek(offset, Deno.SeekMode.Start);
        }
      } catch (error) {
        closeQuietly(file);
        throw error;
      }
      return new DownloadReader(new FileSource(file, inline && info.size - offset <= INLINE_READ_BYTES ? gate : null), offset, info.size, READ_CHUNK_BYTES);
    });
  }

  write(p: string, mode: WriteMode, offset: number): Promise<VfsWriter> {
    return this.at(p, writeAccess(mode), async (at) => {
      const file = await Deno.open(at.path, { ...writeOptions(mode, at), mode: 0o644 });
      if (mode === "at-offset") {
        try {
          await file.truncate(offset);
          await file.seek(offset, Deno.SeekMode.Start);
        } catch (error) {
          closeQuietly(file);
          throw error;
        }
      }
      return writer(file);
    });
  }
}

function writer(file: Deno.FsFile): VfsWriter {
  let closed = false;
  return {
    write: async (chunk) => {
      try {
        let at = 0;
        while (at < chunk.length) at += await file.write(chunk.subarray(at));
      } catch (error) {
        throw toVfsError(error);
      }
    },
    // A failing close of a written file is reported (never a false 226); aborting ignores it.
    close: () => guard(() => {
      if (!closed) {
        closed = true;
        file.close();
      }
      return Promise.resolve();
    }),
    abort: () => {
      if (!closed) {
        closed = true;
        closeQuietly(file);
      }
      return Promise.resolve();
    },
  };
}

function closeQuietly(file: Deno.FsFile): void {
  try {
    file.close();
  } catch {
    // already closed
  }
}

/** A download's file for the driver's DownloadReader: Deno.FsFile reads at its own position (the
 * open seeked to the offset), and the reader asks in order, so `position` is not needed. */
class FileSource implements ChunkSource {
  /** `gate`: a small file's reads run inline while it is open. */
  constructor(private readonly file: Deno.FsFile, private readonly gate: InlineGate | null) {}

  async read(into: Uint8Array): Promise<number> {
    const gate = this.gate;
    if (gate?.open === true) return gate.run(() => this.file.readSync(into)) ?? 0;
    return (await this.file.read(into)) ?? 0;
  }

  close(): Promise<void> {
    closeQuietly(this.file);
    return Promise.resolve();
  }
}
