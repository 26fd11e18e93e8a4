import { describe, expect, it } from "vitest";
import { resolveHome, subtreeVfs } from "./home.js";
import { MemoryFs } from "./memory-fs.js";
import { VfsError } from "./vfs.js";

describe("resolveHome", () => {
  it("puts a relative home under the root, keeps an absolute one, refuses one that climbs out", () => {
    expect(resolveHome("/srv/ftp", "alice")).toBe("/srv/ftp/alice");
    expect(resolveHome("/srv/ftp/", "./a//b/")).toBe("/srv/ftp/a/b");
    expect(resolveHome("/srv/ftp", "/home/bob")).toBe("/home/bob");
    expect(resolveHome("/srv/ftp", "a/../../etc")).toBeNull();
    expect(resolveHome("/srv/ftp", "..")).toBeNull();
    expect(resolveHome("/srv/ftp", ".")).toBeNull();
  });
});

describe("subtreeVfs", () => {
  it("is the subtree: its / is the home, nothing above it is named", async () => {
    const fs = new MemoryFs({ homes: { a: { "mine.txt": "A" }, b: { "theirs.txt": "B" } } });
    const a = subtreeVfs(fs, "/homes/a");
    expect((await a.list("/")).map((e) => e.name)).toEqual(["mine.txt"]);
    expect((await a.stat("/mine.txt")).size).toBe(1);
    await expect(a.stat("/theirs.txt")).rejects.toBeInstanceOf(VfsError);
    await a.mkdir("/new");
    await a.rename("/mine.txt", "/new/moved.txt");
    expect((await fs.list("/homes/a/new")).map((e) => e.name)).toEqual(["moved.txt"]);
  });

  it("keeps the file system's atomicWrites flag, so the server does not wrap its uploads", () => {
    const fs = new MemoryFs({ h: {} });
    expect(subtreeVfs(fs, "/h").atomicWrites).toBeUndefined();
    const atomic = Object.assign(Object.create(fs) as MemoryFs, { atomicWrites: true as const });
    expect(subtreeVfs(atomic, "/h").atomicWrites).toBe(true);
  });
});
