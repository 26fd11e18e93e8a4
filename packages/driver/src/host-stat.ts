// An entry as a host reports it, and the one rule that turns it into the core's FileStat, whichever
// API asked (node:fs on Node and in Deno, Deno.FileInfo): a directory's size, the mode bits, the
// unique id (dev and inode) are then the same on every runtime.
import type { FileStat } from "@pasv/core";

export interface HostStat {
  readonly kind: FileStat["type"];
  readonly size: number;
  readonly mtimeMs: number;
  readonly mode: number;
  readonly dev: number;
  readonly ino: number;
}

/** The part of node:fs's Stats read here. */
export interface NodeStatsLike {
  isDirectory(): boolean;
  isFile(): boolean;
  isSymbolicLink(): boolean;
  readonly size: number;
  readonly mtimeMs: number;
  readonly mode: number;
  readonly dev: number;
  readonly ino: number;
}

export function fromNodeStats(st: NodeStatsLike): HostStat {
  const kind = st.isDirectory() ? "dir" : st.isFile() ? "file" : st.isSymbolicLink() ? "symlink" : "other";
  return { kind, size: st.size, mtimeMs: st.mtimeMs, mode: st.mode, dev: st.dev, ino: st.ino };
}

/** The FileStat of `name` (a symlink's `target` when it is one). */
export function fileStat(name: string, st: HostStat, target?: string): FileStat {
  return {
    name,
    type: st.kind,
    size: st.kind === "dir" ? 4096 : st.size,
    mtime: Math.floor(st.mtimeMs),
    mode: st.mode & 0o777,
    unique: `${st.dev.toString(16)}U${st.ino.toString(16)}`,
    ...(target === undefined ? {} : { target }),
  };
}
