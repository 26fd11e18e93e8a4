// The one confinement rule for a file system on a host directory (the local disk on Node and on
// Deno). The root's real path is pinned once; a virtual path (absolute and normalised by the core)
// maps below it segment by segment; and before the host path is used, the real path of what the
// operation will touch must still lie inside the pinned root, so a symlink that leads out of the
// root is refused like a missing permission. Host paths are POSIX ("/"-separated); a host whose
// real paths look different fails closed (everything is refused), never open.
import { fsErrorKind, toVfsError } from "./errno.js";
import type { HostStat } from "./host-stat.js";
import { VfsError, type WriteMode } from "./vfs.js";

/** The platform's realpath: the canonical absolute path of an existing host path, all symlinks resolved. */
export type RealPath = (hostPath: string) => Promise<string>;
/** Whether the entry itself (a final symlink not followed) is a symbolic link; false when it does not exist. */
export type IsSymlink = (hostPath: string) => Promise<boolean>;

/**
 * A Linux host's descriptor primitives (node:fs, on Node and on Deno alike): what makes the check
 * race-free. A name is resolved once, into a descriptor; the check reads what the kernel says the
 * descriptor is (/proc/self/fd/N); the operation then goes through that descriptor's magic link, so
 * a symlink swapped in between the check and the use cannot redirect it.
 */
export interface DescriptorOps {
  /** open(host, O_PATH, or O_PATH | O_DIRECTORY), following symlinks: a reference to what the name is now. */
  openPath(host: string, directory: boolean): Promise<number>;
  /** open(host, O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY, 0o644): a new empty file, never through a symlink. */
  createNew(host: string): Promise<number>;
  readLink(host: string): Promise<string>;
  /** fstat of an open descriptor. */
  stat(fd: number): HostStat;
  close(fd: number): Promise<void>;
}

export interface ConfinePlatform {
  readonly realPath: RealPath;
  readonly isSymlink: IsSymlink;
  /** Present on Linux; without it (or without /proc) the rule is checked by name (see Guarantee). */
  readonly descriptors?: DescriptorOps | undefined;
}

/**
 * How an operation treats the last component of its path:
 * - "follow": it follows a final symlink and needs the target to exist (stat, list, read, set mtime);
 * - "entry": it acts on the directory entry itself, never following it (mkdir, rmdir, delete, rename);
 * - "create": it follows a final symlink, or creates the entry when there is none (open for writing).
 */
export type Reach = "follow" | "entry" | "create";

/** An operation's reach, with "create-new": a file that must not exist yet (STOU's "create-new" mode). */
export type Access = Reach | "create-new";

/** A write's reach: REST-offset writes need the file to exist; STOU's file must not. */
export function writeAccess(mode: WriteMode): Access {
  return mode === "at-offset" ? "follow" : mode === "create-new" ? "create-new" : "create";
}

/**
 * What the rule guarantees on this host:
 * - "descriptor": what is checked is what is used (Linux with /proc): no race can lead outside;
 * - "name": the real path is checked, and the operation then uses the name again, so a local
 *   process that swaps a symlink in between can win (the rule still holds against FTP commands on
 *   a tree without symlinks that lead out).
 */
export type Guarantee = "descriptor" | "name";

/** What an operation uses once the rule has passed. */
export interface Reached {
  /** The host path to hand to the platform call: through /proc/self/fd when descriptors pin it. */
  readonly path: string;
  /** The entry's own name (the last segment of its host path). */
  readonly name: string;
  /** The check itself created the file, empty ("create" and "create-new" with descriptors). */
  readonly created: boolean;
  /**
   * The stat of what a "follow" check passed, by fstat on its O_PATH descriptor: the very inode it
   * pins, already in memory, so read inline (no thread-pool round trip). Absent with the "name"
   * guarantee and for the other accesses.
   */
  readonly stat?: () => HostStat;
}

/** Rounds of "open, else create" before a name that keeps vanishing and reappearing (or a dangling symlink) is refused. */
export const CREATE_ATTEMPTS = 3;

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

/** The magic link through which a descriptor's file is used by name. */
function fdLink(fd: number): string {
  return `/proc/self/fd/${String(fd)}`;
}

function lastSegment(host: string): string {
  return host.slice(host.lastIndexOf("/") + 1);
}

/** A root pinned at creation, with the rule bound to one platform: what a local-disk VFS keeps. */
export class Confinement {
  /** The pinned real root; rejects (as a VfsError) if the root could not be resolved. */
  readonly root: Promise<string>;
  /** Which guarantee holds here, decided once with the pin. */
  readonly guarantee: Promise<Guarantee>;

  constructor(root: string, private readonly platform: ConfinePlatform) {
    this.root = pinRoot(root, platform.realPath);
    this.guarantee = this.root.then((real) => this.probe(real));
    // Each operation awaits (and reports) a failed pin; this only keeps it from being unhandled meanwhile.
    this.root.catch(() => undefined);
    this.guarantee.catch(() => undefined);
  }

  /** Descriptors are used only where /proc/self/fd reports the pinned root exactly. */
  private async probe(real: string): Promise<Guarantee> {
    const ops = this.platform.descriptors;
    if (ops === undefined) return "name";
    let fd: number;
    try {
      fd = await ops.openPath(real, true);
    } catch {
      return "name";
    }
    try {
      return (await ops.readLink(fdLink(fd))) === real ? "descriptor" : "name";
    } catch {
      return "name";
    } finally {
      await ops.close(fd).catch(() => undefined);
    }
  }

  /**
   * Runs `use` on what `virtual` reaches once the rule has passed; descriptors taken for the check
   * stay open until `use` settles. Rejects with a VfsError as confine() does.
   */
  async with<T>(virtual: string, access: Access, use: (at: Reached) => Promise<T>): Promise<T> {
    const root = await this.root;
    const ops = this.platform.descriptors;
    if ((await this.guarantee) === "name" || ops === undefined) {
      const path = await confine(root, virtual, access === "create-new" ? "create" : access, this.platform);
      return use({ path, name: lastSegment(path), created: false });
    }
    const host = hostPath(root, virtual);
    const name = lastSegment(host);
    if (access === "follow") return this.held(ops, root, await opened(() => ops.openPath(host, false)), (fd) => use({ path: fdLink(fd), name, created: false, stat: () => ops.stat(fd) }));
    if (host === root) throw access === "entry" ? new VfsError("permission", "the root itself") : new VfsError("is-a-directory");
    const dir = await opened(() => ops.openPath(parentOf(host), true));
    return this.held(ops, root, dir, (d) => {
      const inDir = `${fdLink(d)}/${name}`;
      if (access === "entry") return use({ path: inDir, name, created: false });
      return this.openOrCreate(ops, root, inDir, access === "create-new", (path, created) => use({ path, name, created }));
    });
  }

  /** Checks the descriptor, runs `use` on it and closes it, whatever happens. */
  private async held<T>(ops: DescriptorOps, root: string, fd: number, use: (fd: number) => Promise<T>): Promise<T> {
    try {
      let real: string;
      try {
        real = await ops.readLink(fdLink(fd));
      } catch (error) {
        throw toVfsError(error);
      }
      if (!isWithin(root, real)) throw new VfsError("permission", "outside the root");
      return await use(fd);
    } finally {
      await ops.close(fd).catch(() => undefined);
    }
  }

  /**
   * The file `inDir` names in a checked directory: the existing one (checked, since a final symlink
   * is followed), or a new one created there with O_EXCL | O_NOFOLLOW, so nothing is ever created
   * before a check has passed and never through a symlink.
   */
  private async openOrCreate<T>(ops: DescriptorOps, root: string, inDir: string, exclusive: boolean, use: (path: string, created: boolean) => Promise<T>): Promise<T> {
    for (let attempt = 0; attempt < CREATE_ATTEMPTS; attempt++) {
      if (!exclusive) {
        let fd: number | null = null;
        try {
          fd = await ops.openPath(inDir, false);
        } catch (error) {
          // Missing, or a dangling symlink: created below (O_EXCL refuses the dangling symlink).
          if (!missing(error)) throw toVfsError(error);
        }
        if (fd !== null) return this.held(ops, root, fd, (f) => use(fdLink(f), false));
      }
      let fd: number;
      try {
        fd = await ops.createNew(inDir);
      } catch (error) {
        if (!exclusive && fsErrorKind(error) === "exists") continue;
        throw toVfsError(error);
      }
      return this.held(ops, root, fd, (f) => use(fdLink(f), true));
    }
    throw new VfsError("permission", "a dangling symlink");
  }
}

async function opened(open: () => Promise<number>): Promise<number> {
  try {
    return await open();
  } catch (error) {
    throw toVfsError(error);
  }
}
