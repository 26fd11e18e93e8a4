// The one confinement rule for a file system on a host directory (the local disk on Node and on
// Deno). The root's real path is pinned once; a virtual path (absolute and normalised by the core)
// maps below it segment by segment; and before the host path is used, the real path of what the
// operation will touch must still lie inside the pinned root, so a symlink that leads out of the
// root is refused like a missing permission. Host paths are POSIX ("/"-separated); a host whose
// real paths look different fails closed (everything is refused), never open.
import { fsErrorKind, toVfsError } from "./errno.js";
import { VfsError } from "./vfs.js";

/** The platform's realpath: the canonical absolute path of an existing host path, all symlinks resolved. */
export type RealPath = (hostPath: string) => Promise<string>;
/** Whether the entry itself (a final symlink not followed) is a symbolic link; false when it does not exist. */
export type IsSymlink = (hostPath: string) => Promise<boolean>;

export interface ConfinePlatform {
  readonly realPath: RealPath;
  readonly isSymlink: IsSymlink;
}

/**
 * How an operation treats the last component of its path:
 * - "follow": it follows a final symlink and needs the target to exist (stat, list, read, set mtime);
 * - "entry": it acts on the directory entry itself, never following it (mkdir, rmdir, delete, rename);
 * - "create": it follows a final symlink, or creates the entry when there is none (open for writing).
 */
export type Reach = "follow" | "entry" | "create";

function segments(p: string): string[] {
  return p.split("/").filter((s) => s !== "");
}

/** Pins a root: its real path, resolved once; later changes to a symlink on the way to it do not move it. */
export async function pinRoot(root: string, realPath: RealPath): Promise<string> {
  let real: string;
  try {
    real = await realPath(root);
  } catch (error) {
    throw toVfsError(error);
  }
  if (!real.startsWith("/")) throw new VfsError("permission", "the root's real path is not an absolute POSIX path");
  return `/${segments(real).join("/")}`;
}

/** Whether `real` is `root` or lies below it, compared segment by segment ("/srv/ftp2" is not under "/srv/ftp"). */
export function isWithin(root: string, real: string): boolean {
  if (!root.startsWith("/") || !real.startsWith("/")) return false;
  const r = segments(root);
  const p = segments(real);
  if (p.length < r.length) return false;
  for (let i = 0; i < r.length; i++) if (p[i] !== r[i]) return false;
  return true;
}

/**
 * The host path of a virtual path below `root`: each segment kept literally ("..name", "...",
 * "...." are names), empty and "." segments dropped. A ".." segment (which the core never sends)
 * or a NUL byte is refused, never climbed or stripped.
 */
export function hostPath(root: string, virtual: string): string {
  const parts: string[] = [];
  for (const part of virtual.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") throw new VfsError("permission", "a '..' segment in a virtual path");
    if (part.includes("\0")) throw new VfsError("invalid-name", "a NUL byte in a virtual path");
    parts.push(part);
  }
  const base = segments(root);
  return `/${[...base, ...parts].join("/")}`;
}

function parentOf(host: string): string {
  const i = host.lastIndexOf("/");
  return i <= 0 ? "/" : host.slice(0, i);
}

function missing(error: unknown): boolean {
  const kind = fsErrorKind(error);
  return kind === "not-found" || kind === "not-a-directory";
}

/** Throws unless the real path of `host`, or of its deepest existing ancestor, lies inside `root`. */
async function checkDeepest(root: string, host: string, realPath: RealPath): Promise<void> {
  const depth = segments(root).length;
  let probe = host;
  for (;;) {
    const real = await realOrNull(probe, realPath);
    if (real !== null) {
      if (!isWithin(root, real)) throw new VfsError("permission", "outside the root");
      return;
    }
    // Walk up to the deepest ancestor that exists; the root itself must.
    if (!isWithin(root, probe) || segments(probe).length <= depth) throw new VfsError("not-found", "the root is gone");
    probe = parentOf(probe);
  }
}

/** The real path of `host`, or null when it (or the target of a final symlink) does not exist. */
async function realOrNull(host: string, realPath: RealPath): Promise<string | null> {
  try {
    return await realPath(host);
  } catch (error) {
    if (missing(error)) return null;
    throw toVfsError(error);
  }
}

/**
 * Maps `virtual` below the pinned `root` and checks it (see Reach); returns the host path to use.
 * Rejects with VfsError: "permission" when the operation would reach outside the root (an "entry"
 * operation on the root itself would change the root's parent, so it is refused too), the errno
 * kind when the check itself failed, "not-found" when the root is gone.
 */
export async function confine(root: string, virtual: string, reach: Reach, platform: ConfinePlatform): Promise<string> {
  const base = hostPath(root, "/");
  const host = hostPath(base, virtual);
  if (host === base && reach === "entry") throw new VfsError("permission", "the root itself");
  if (reach !== "entry") {
    // A following operation touches the target's real path, when there is one.
    const real = await realOrNull(host, platform.realPath);
    if (real !== null) {
      if (!isWithin(base, real)) throw new VfsError("permission", "a symlink leads outside the root");
      return host;
    }
    if (host === base) throw new VfsError("not-found", "the root is gone");
  }
  // Missing, a dangling symlink, or the entry itself: the directory it lives in (or that
  // directory's deepest existing ancestor) must be inside.
  await checkDeepest(base, parentOf(host), platform.realPath);
  if (reach === "create") {
    // Opening for writing would create a dangling symlink's target wherever it points.
    let link: boolean;
    try {
      link = await platform.isSymlink(host);
    } catch (error) {
      if (!missing(error)) throw toVfsError(error);
      link = false;
    }
    if (link) throw new VfsError("permission", "a dangling symlink");
  }
  return host;
}

/** A root pinned at creation, with the rule bound to one platform: what a local-disk VFS keeps. */
export class Confinement {
  /** The pinned real root; rejects (as a VfsError) if the root could not be resolved. */
  readonly root: Promise<string>;

  constructor(root: string, private readonly platform: ConfinePlatform) {
    this.root = pinRoot(root, platform.realPath);
    // Each operation awaits (and reports) a failed pin; this only keeps it from being unhandled meanwhile.
    this.root.catch(() => undefined);
  }

  async resolve(virtual: string, reach: Reach): Promise<string> {
    return confine(await this.root, virtual, reach, this.platform);
  }
}
