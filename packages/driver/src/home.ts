// Per-user homes: where a user's "/" lies. On disk a home is its own pinned root (the confinement
// rule holds for it as for the served root); on a file system handed in (a MemoryFs, the simulator's)
// it is a view of a subtree, so no virtual path of the user can name anything outside it.
import type { FileStat, Millis } from "@pasv/core";
import type { Vfs, VfsReader, VfsWriter } from "./vfs.js";

/**
 * A home as a directory: absolute as given, relative under `base` (the served root). A relative home
 * may not climb out with ".." (it is "a directory under the served root"); null then.
 */
export function resolveHome(base: string, home: string): string | null {
  const parts = home.split("/").filter((p) => p !== "" && p !== ".");
  if (home.startsWith("/")) return `/${parts.join("/")}`;
  if (parts.length === 0 || parts.includes("..")) return null;
  return `${base.replace(/\/+$/, "")}/${parts.join("/")}`;
}

/** The subtree of `vfs` at `dir` (a virtual path of it) as a file system of its own. */
export function subtreeVfs(vfs: Vfs, dir: string): Vfs {
  const prefix = dir.replace(/\/+$/, "");
  // The core hands only normalised absolute paths ("/", "/a/b"), so a plain prefix cannot climb out.
  const at = (path: string): string => (path === "/" ? prefix || "/" : `${prefix}${path}`);
  const pages = vfs.listPages?.bind(vfs);
  return {
    ...(vfs.atomicWrites === true ? { atomicWrites: true as const } : {}),
    stat: (p: string): Promise<FileStat> => vfs.stat(at(p)),
    list: (p: string): Promise<FileStat[]> => vfs.list(at(p)),
    ...(pages === undefined ? {} : { listPages: (p: string) => pages(at(p)) }),
    mkdir: (p: string): Promise<void> => vfs.mkdir(at(p)),
    rmdir: (p: string): Promise<void> => vfs.rmdir(at(p)),
    delete: (p: string): Promise<void> => vfs.delete(at(p)),
    rename: (from: string, to: string): Promise<void> => vfs.rename(at(from), at(to)),
    setMtime: (p: string, mtime: Millis): Promise<void> => vfs.setMtime(at(p), mtime),
    read: (p: string, offset: number): Promise<VfsReader> => vfs.read(at(p), offset),
    write: (p: string, mode: "truncate" | "append" | "at-offset" | "create-new", offset: number): Promise<VfsWriter> => vfs.write(at(p), mode, offset),
  };
}
