import { describe, expect, it } from "vitest";
import { ERRNO_KINDS, fsErrorKind, toVfsError, vfsGuard } from "./errno.js";
import { VfsError } from "./vfs.js";

function errno(code: string): Error {
  return Object.assign(new Error(`${code}: something`), { code });
}

/** Shaped like Deno's own errors: a class name and, for OS errors, an errno code too. */
function denoError(name: string, code?: string): Error {
  const error = new Error(`${name} (os error)`);
  error.name = name;
  return code === undefined ? error : Object.assign(error, { code });
}

describe("errno table", () => {
  it("maps errno codes to the kinds the core answers", () => {
    const expected = {
      ENOENT: "not-found",
      EACCES: "permission",
      EPERM: "permission",
      EROFS: "permission",
      ELOOP: "permission",
      EEXIST: "exists",
      ENOTEMPTY: "not-empty",
      ENOTDIR: "not-a-directory",
      EISDIR: "is-a-directory",
      ENOSPC: "no-space",
      EDQUOT: "quota",
      EBUSY: "busy",
      EMFILE: "busy",
      ENFILE: "busy",
      ENAMETOOLONG: "invalid-name",
      EINVAL: "invalid-name",
      EIO: "io",
    } as const;
    for (const [code, kind] of Object.entries(expected)) expect(fsErrorKind(errno(code)), code).toBe(kind);
    for (const [code, kind] of Object.entries(ERRNO_KINDS)) expect(fsErrorKind(errno(code))).toBe(kind);
  });

  it("reads Deno's errors by code first and by class name without one", () => {
    expect(fsErrorKind(denoError("NotFound", "ENOENT"))).toBe("not-found");
    expect(fsErrorKind(denoError("Error", "ENOTEMPTY"))).toBe("not-empty");
    expect(fsErrorKind(denoError("NotFound"))).toBe("not-found");
    expect(fsErrorKind(denoError("PermissionDenied"))).toBe("permission");
    expect(fsErrorKind(denoError("NotCapable"))).toBe("permission");
    expect(fsErrorKind(denoError("AlreadyExists"))).toBe("exists");
    expect(fsErrorKind(denoError("IsADirectory"))).toBe("is-a-directory");
    expect(fsErrorKind(denoError("NotADirectory"))).toBe("not-a-directory");
    expect(fsErrorKind(denoError("FilesystemLoop"))).toBe("permission");
    expect(fsErrorKind(denoError("Busy"))).toBe("busy");
  });

  it("calls anything else io, and keeps a VfsError's own kind", () => {
    expect(fsErrorKind(new Error("what"))).toBe("io");
    expect(fsErrorKind(errno("EWHATEVER"))).toBe("io");
    expect(fsErrorKind(errno("toString"))).toBe("io");
    expect(fsErrorKind(denoError("constructor"))).toBe("io");
    expect(fsErrorKind(null)).toBe("io");
    expect(fsErrorKind("ENOENT")).toBe("io");
    expect(fsErrorKind({ code: 2 })).toBe("io");
    const own = new VfsError("quota");
    expect(fsErrorKind(own)).toBe("quota");
    expect(toVfsError(own)).toBe(own);
    const made = toVfsError(errno("ENOSPC"));
    expect(made).toBeInstanceOf(VfsError);
    expect(made.kind).toBe("no-space");
  });

  it("guards a call so it only ever rejects with a VfsError", async () => {
    await expect(vfsGuard(() => Promise.reject(errno("EEXIST")))).rejects.toMatchObject({ name: "VfsError", kind: "exists" });
    await expect(vfsGuard(() => Promise.resolve(3))).resolves.toBe(3);
  });
});
