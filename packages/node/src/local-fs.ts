// The local disk under a root, with the driver's one confinement rule (the same as the Deno
// adapter's): virtual paths ("/a/b") map below the root's real path, and what an operation touches
// must resolve inside it, so a symlink that points out of the root is refused like a missing permission.
import { promises as fsp, type Stats } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import path from "node:path";
import type { FileStat, Millis } from "@pasv/core";
import { Confinement, DownloadReader, toVfsError, VfsError, vfsGuard as guard, type ChunkSource, type ConfinePlatform, type Reach, type Vfs, type VfsReader, type VfsWriter } from "@pasv/driver";

/** Read size for downloads: large chunks keep loopback throughput high (see DESIGN's notes); a
 * download's one buffer is this or the file's remaining size, whichever is smaller. */
export const READ_CHUNK_BYTES = 1024 * 1024;
/** Uploads arrive in socket-sized pieces (64 KiB); gathering them into one writev per this many bytes cuts syscalls 16-fold. */
export const WRITE_BATCH_BYTES = 1024 * 1024;

const platform: ConfinePlatform = {
  realPath: (p) => fsp.realpath(p),
  isSymlink: async (p) => (await fsp.lstat(p)).isSymbolicLink(),
};

function toStat(name: string, st: Stats, target?: string): FileStat {
  const type = st.isDirectory() ? "dir" : st.isFile() ? "file" : st.isSymbolicLink() ? "symlink" : "other";
  return {
    name,
    type,
    size: type === "dir" ? 4096 : st.size,
    mtime: Math.floor(st.mtimeMs),
    mode: st.mode & 0o777,
    unique: `${st.dev.toString(16)}U${st.ino.toString(16)}`,
    ...(target === undefined ? {} : { target }),
  };
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

export class LocalFs implements Vfs {
  private readonly confinement: Confinement;

  /** The root's real path is pinned now: moving a symlink on the way to it later does not move this file system. */
  constructor(root: string) {
    this.confinement = new Confinement(path.resolve(root), platform);
  }

  /** The host path for `virtual`, refused unless what the operation touches stays inside the root (see the driver's confine). */
  private confine(virtual: string, reach: Reach): Promise<string> {
    return this.confinement.resolve(virtual, reach);
  }

  stat(p: string): Promise<FileStat> {
    return guard(async () => {
      const host = await this.confine(p, "follow");
      return toStat(path.basename(host), await fsp.stat(host));
    });
  }

  list(p: string): Promise<FileStat[]> {
    return guard(async () => {
      const host = await this.confine(p, "follow");
      const names = await fsp.readdir(host);
      const out: FileStat[] = [];
      for (const name of names) {
        try {
          const full = path.join(host, name);
          const st = await fsp.lstat(full);
          out.push(toStat(name, st, st.isSymbolicLink() ? await fsp.readlink(full) : undefined));
        } catch {
          // Vanished between readdir and lstat: it is simply not listed.
        }
      }
      return out;
    });
  }

  mkdir(p: string): Promise<void> {
    return guard(async () => {
      await fsp.mkdir(await this.confine(p, "entry"));
    });
  }

  rmdir(p: string): Promise<void> {
    return guard(async () => {
      await fsp.rmdir(await this.confine(p, "entry"));
    });
  }

  delete(p: string): Promise<void> {
    return guard(async () => {
      const host = await this.confine(p, "entry");
      const st = await fsp.lstat(host);
      if (st.isDirectory()) throw new VfsError("is-a-directory");
      await fsp.unlink(host);
    });
  }

  rename(from: string, to: string): Promise<void> {
    return guard(async () => {
      await fsp.rename(await this.confine(from, "entry"), await this.confine(to, "entry"));
    });
  }

  setMtime(p: string, mtime: Millis): Promise<void> {
    return guard(async () => {
      const host = await this.confine(p, "follow");
      const st = await fsp.stat(host);
      await fsp.utimes(host, st.atime, new Date(mtime));
    });
  }

  read(p: string, offset: number): Promise<VfsReader> {
    return guard(async () => {
      const host = await this.confine(p, "follow");
      const handle = await fsp.open(host, "r");
      const st = await handle.stat();
      if (!st.isFile()) {
        await handle.close();
        throw new VfsError(st.isDirectory() ? "is-a-directory" : "permission");
      }
      return new DownloadReader(new HandleSource(handle), offset, st.size, READ_CHUNK_BYTES);
    });
  }

  write(p: string, mode: "truncate" | "append" | "at-offset" | "create-new", offset: number): Promise<VfsWriter> {
    return guard(async () => {
      const host = await this.confine(p, "create");
      const existing = await fsp.lstat(host).catch(() => null);
      if (existing?.isDirectory() === true) throw new VfsError("is-a-directory");
      const flags = mode === "truncate" ? "w" : mode === "append" ? "a" : mode === "create-new" ? "wx" : "r+";
      const handle = await fsp.open(host, flags, 0o644);
      let position: number | null = null;
      if (mode === "at-offset") {
        await handle.truncate(offset);
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
    });
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
