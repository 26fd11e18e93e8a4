// The local disk under a root, on Deno's file APIs, with the driver's one confinement rule (the
// same as the Node adapter's LocalFs): what an operation touches must resolve inside the root.
import type { FileStat, Millis } from "@pasv/core";
import { Confinement, DownloadReader, toVfsError, VfsError, vfsGuard as guard, type ChunkSource, type ConfinePlatform, type Reach, type Vfs, type VfsReader, type VfsWriter } from "@pasv/driver";

/** Read size for downloads (as on Node); a download's one buffer is this or the file's remaining
 * size, whichever is smaller. */
export const READ_CHUNK_BYTES = 1024 * 1024;

const platform: ConfinePlatform = {
  realPath: (p) => Deno.realPath(p),
  isSymlink: async (p) => (await Deno.lstat(p)).isSymlink,
};

function toStat(name: string, info: Deno.FileInfo, target?: string): FileStat {
  const type = info.isDirectory ? "dir" : info.isFile ? "file" : info.isSymlink ? "symlink" : "other";
  return {
    name,
    type,
    size: type === "dir" ? 4096 : info.size,
    mtime: info.mtime?.getTime() ?? 0,
    mode: (info.mode ?? 0) & 0o777,
    unique: `${(info.dev ?? 0).toString(16)}U${(info.ino ?? 0).toString(16)}`,
    ...(target === undefined ? {} : { target }),
  };
}

export class DenoLocalFs implements Vfs {
  private readonly confinement: Confinement;

  /** The root's real path is pinned now: moving a symlink on the way to it later does not move this file system. */
  constructor(root: string) {
    this.confinement = new Confinement(root, platform);
  }

  private confine(virtual: string, reach: Reach): Promise<string> {
    return this.confinement.resolve(virtual, reach);
  }

  stat(p: string): Promise<FileStat> {
    return guard(async () => {
      const host = await this.confine(p, "follow");
      return toStat(host.slice(host.lastIndexOf("/") + 1), await Deno.stat(host));
    });
  }

  list(p: string): Promise<FileStat[]> {
    return guard(async () => {
      const host = await this.confine(p, "follow");
      const out: FileStat[] = [];
      for await (const entry of Deno.readDir(host)) {
        try {
          const full = `${host}/${entry.name}`;
          const info = await Deno.lstat(full);
          out.push(toStat(entry.name, info, info.isSymlink ? await Deno.readLink(full) : undefined));
        } catch {
          // vanished meanwhile
        }
      }
      return out;
    });
  }

  mkdir(p: string): Promise<void> {
    return guard(async () => Deno.mkdir(await this.confine(p, "entry")));
  }

  rmdir(p: string): Promise<void> {
    return guard(async () => {
      const host = await this.confine(p, "entry");
      if (!(await Deno.lstat(host)).isDirectory) throw new VfsError("not-a-directory");
      await Deno.remove(host);
    });
  }

  delete(p: string): Promise<void> {
    return guard(async () => {
      const host = await this.confine(p, "entry");
      if ((await Deno.lstat(host)).isDirectory) throw new VfsError("is-a-directory");
      await Deno.remove(host);
    });
  }

  rename(from: string, to: string): Promise<void> {
    return guard(async () => Deno.rename(await this.confine(from, "entry"), await this.confine(to, "entry")));
  }

  setMtime(p: string, mtime: Millis): Promise<void> {
    return guard(async () => {
      const host = await this.confine(p, "follow");
      const info = await Deno.stat(host);
      await Deno.utime(host, info.atime ?? new Date(mtime), new Date(mtime));
    });
  }

  read(p: string, offset: number): Promise<VfsReader> {
    return guard(async () => {
      const host = await this.confine(p, "follow");
      const file = await Deno.open(host, { read: true });
      let size: number;
      try {
        const info = await file.stat();
        size = info.size;
        if (!info.isFile) throw new VfsError(info.isDirectory ? "is-a-directory" : "permission");
        if (offset > 0) await file.seek(offset, Deno.SeekMode.Start);
      } catch (error) {
        closeQuietly(file);
        throw error;
      }
      return new DownloadReader(new FileSource(file), offset, size, READ_CHUNK_BYTES);
    });
  }

  write(p: string, mode: "truncate" | "append" | "at-offset" | "create-new", offset: number): Promise<VfsWriter> {
    return guard(async () => {
      const host = await this.confine(p, "create");
      const existing = await Deno.lstat(host).catch(() => null);
      if (existing?.isDirectory === true) throw new VfsError("is-a-directory");
      const options: Deno.OpenOptions =
        mode === "truncate" ? { write: true, create: true, truncate: true } : mode === "append" ? { append: true, create: true } : mode === "create-new" ? { write: true, createNew: true } : { read: true, write: true };
      const file = await Deno.open(host, { ...options, mode: 0o644 });
      if (mode === "at-offset") {
        await file.truncate(offset);
        await file.seek(offset, Deno.SeekMode.Start);
      }
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
    });
  }
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
  constructor(private readonly file: Deno.FsFile) {}

  async read(into: Uint8Array): Promise<number> {
    return (await this.file.read(into)) ?? 0;
  }

  close(): Promise<void> {
    closeQuietly(this.file);
    return Promise.resolve();
  }
}
