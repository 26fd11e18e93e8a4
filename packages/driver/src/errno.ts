// The one table from operating-system errors to the VFS error kinds (which the core maps to
// replies). Node's errors and Deno's node-compatible errors carry an errno `code`; Deno's own
// `Deno.errors.*` classes are told apart by `name`. Anything unknown is "io".
import type { FsErrorKind } from "@pasv/core";
import { VfsError } from "./vfs.js";

/** errno code -> error kind. */
export const ERRNO_KINDS: Readonly<Record<string, FsErrorKind>> = {
  ENOENT: "not-found",
  EACCES: "permission",
  EPERM: "permission",
  EROFS: "permission",
  ELOOP: "permission",
  EXDEV: "permission",
  EEXIST: "exists",
  ENOTEMPTY: "not-empty",
  ENOTDIR: "not-a-directory",
  EISDIR: "is-a-directory",
  ENOSPC: "no-space",
  EFBIG: "no-space",
  EDQUOT: "quota",
  EBUSY: "busy",
  ETXTBSY: "busy",
  EMFILE: "busy",
  ENFILE: "busy",
  EAGAIN: "busy",
  ENAMETOOLONG: "invalid-name",
  EINVAL: "invalid-name",
  EILSEQ: "invalid-name",
  ERR_INVALID_ARG_VALUE: "invalid-name", // Node: a NUL byte in a path
  EIO: "io",
};

/** `Deno.errors.*` class name -> error kind, for errors without an errno code. */
export const ERROR_NAME_KINDS: Readonly<Record<string, FsErrorKind>> = {
  NotFound: "not-found",
  PermissionDenied: "permission",
  NotCapable: "permission",
  AlreadyExists: "exists",
  NotADirectory: "not-a-directory",
  IsADirectory: "is-a-directory",
  FilesystemLoop: "permission",
  Busy: "busy",
  WouldBlock: "busy",
  InvalidData: "invalid-name",
};

function field(error: unknown, key: "code" | "name"): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const value = (error as Record<string, unknown>)[key];
  return typeof value === "string" ? value : undefined;
}

/** The error kind of anything a file-system call threw: a VfsError keeps its kind, then the errno code, then the error's name. */
export function fsErrorKind(error: unknown): FsErrorKind {
  if (error instanceof VfsError) return error.kind;
  const code = field(error, "code");
  if (code !== undefined && Object.hasOwn(ERRNO_KINDS, code)) return ERRNO_KINDS[code] ?? "io";
  const name = field(error, "name");
  if (name !== undefined && Object.hasOwn(ERROR_NAME_KINDS, name)) return ERROR_NAME_KINDS[name] ?? "io";
  return "io";
}

/** `error` as a VfsError (itself if it already is one). */
export function toVfsError(error: unknown): VfsError {
  return error instanceof VfsError ? error : new VfsError(fsErrorKind(error), String(error));
}

/** Runs `work`, turning whatever it throws into a VfsError. */
export async function vfsGuard<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw toVfsError(error);
  }
}
