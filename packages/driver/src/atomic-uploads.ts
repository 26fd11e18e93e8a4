// Uploads that replace a file appear whole or not at all (ProFTPD's HiddenStores): the bytes go to a
// hidden name in the same directory, renamed over the target only once the file is closed after a
// clean end of stream. A reset, an abort, a full disk or a killed session leaves the target as it
// was, and nothing else (or, when asked, the partial bytes under a name that says so). Appends and
// REST offsets change the file in place, as on every FTP server, so they are passed through. A
// file that must be new is claimed by name first (see write).
import type { Vfs, VfsReader, VfsWriter } from "./vfs.js";

export interface UploadOptions {
  /** Keep what a failed upload received, as `NAME.partial` beside the target; default false. */
  readonly keepPartial: boolean;
}

/** The hidden name an upload writes to: a dot name, so listings do not show it. */
export function uploadTempName(path: string, n: number): string {
  const slash = path.lastIndexOf("/");
  return `${path.slice(0, slash + 1)}.pasv-upload-${n}.${path.slice(slash + 1)}`;
}

export function partialName(path: string): string {
  return `${path}.partial`;
}

export function atomicUploads(vfs: Vfs, options: UploadOptions): Vfs {
  // Its uploads are whole or absent already; a hidden name and a rename would only cost a copy.
  if (vfs.atomicWrites === true) return vfs;
  let next = 0;
  const pages = vfs.listPages?.bind(vfs);
  return {
    stat: (path) => vfs.stat(path),
    list: (path) => vfs.list(path),
    ...(pages === undefined ? {} : { listPages: (path: string) => pages(path) }),
    mkdir: (path) => vfs.mkdir(path),
    rmdir: (path) => vfs.rmdir(path),
    delete: (path) => vfs.delete(path),
    rename: (from, to) => vfs.rename(from, to),
    setMtime: (path, mtime) => vfs.setMtime(path, mtime),
    read: (path, offset): Promise<VfsReader> => vfs.read(path, offset),
    write: async (path, mode, offset): Promise<VfsWriter> => {
      if (mode !== "truncate" && mode !== "create-new") return vfs.write(path, mode, offset);
      // A file that must be new (STOU, or an account that may not replace one) is claimed first,
      // exclusively, as an empty placeholder: the upload then only ever replaces its own claim.
      const claimed = mode === "create-new";
      if (claimed) await (await vfs.write(path, "create-new", 0)).close();
      const unclaim = async (): Promise<void> => {
        if (claimed) await vfs.delete(path).catch(() => undefined);
      };
      const temp = uploadTempName(path, ++next);
      let writer: VfsWriter;
      try {
        writer = await vfs.write(temp, "create-new", 0);
      } catch (error) {
        await unclaim();
        throw error;
      }
      let done = false;
      return {
        write: (chunk) => writer.write(chunk),
        ...(writer.gathers === true ? { gathers: true } : {}),
        close: async () => {
          await writer.close();
          done = true;
          try {
            await vfs.rename(temp, path);
          } catch (error) {
            await vfs.delete(temp).catch(() => undefined);
            await unclaim();
            throw error;
          }
        },
        abort: async () => {
          if (done) return;
          done = true;
          if (!options.keepPartial) {
            await writer.abort();
            await vfs.delete(temp).catch(() => undefined);
            await unclaim();
            return;
          }
          // Keeping the partial file means keeping every byte that arrived: flush it, then rename.
          await writer.close().catch(() => writer.abort());
          await vfs.rename(temp, partialName(path)).catch(() => vfs.delete(temp).catch(() => undefined));
          await unclaim();
        },
      };
    },
  };
}
