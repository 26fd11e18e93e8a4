import { describe, expect, it } from "vitest";
import { MEMORY_FS_NAME_MAX_BYTES, MemoryFs } from "./memory-fs.js";
import { VfsError } from "./vfs.js";
import { vfsContract } from "./vfs-contract.test-helper.js";

async function kind(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (error) {
    return error instanceof VfsError ? error.kind : "other";
  }
}

const text = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : new TextDecoder().decode(b));
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe("MemoryFs", () => {
  it("holds a tree and answers like the disk", async () => {
    const fs = new MemoryFs({ "a.txt": "hello", dir: { "b.bin": new Uint8Array([1, 2]) } }, () => 42);
    expect((await fs.list("/")).map((e) => e.name)).toEqual(["a.txt", "dir"]);
    expect(await fs.stat("/dir/b.bin")).toMatchObject({ name: "b.bin", type: "file", size: 2, mtime: 42 });
    expect(await fs.stat("/")).toMatchObject({ name: "/", type: "dir" });
    let read = "";
    const r = await fs.read("/a.txt", 1);
    for await (const c of r.chunks()) read += new TextDecoder().decode(c);
    await r.close();
    expect(read).toBe("ello");
    const w = await fs.write("/a.txt", "append", 0);
    await w.write(bytes("!"));
    await w.close();
    expect(text(fs.readFile("/a.txt"))).toBe("hello!");
    const o = await fs.write("/a.txt", "at-offset", 2);
    await o.write(bytes("Y"));
    await o.close();
    expect(text(fs.readFile("/a.txt"))).toBe("heY");
    const past = await fs.write("/a.txt", "at-offset", 5);
    await past.write(bytes("Z"));
    await past.close();
    expect([...(fs.readFile("/a.txt") ?? [])]).toEqual([...bytes("heY"), 0, 0, ...bytes("Z")]);
    await fs.mkdir("/new");
    await fs.setMtime("/new", 7);
    expect((await fs.stat("/new")).mtime).toBe(7);
    expect(fs.openHandles).toBe(0);
  });

  it("refuses a name longer than NAME_MAX bytes, as the disk does", async () => {
    const fs = new MemoryFs({});
    await fs.mkdir(`/${"a".repeat(MEMORY_FS_NAME_MAX_BYTES)}`);
    await expect(fs.mkdir(`/${"b".repeat(MEMORY_FS_NAME_MAX_BYTES + 1)}`)).rejects.toMatchObject({ kind: "invalid-name" });
    // 128 two-byte characters are 256 bytes.
    await expect(fs.stat(`/${"é".repeat(128)}`)).rejects.toMatchObject({ kind: "invalid-name" });
    await expect(fs.stat(`/${"é".repeat(127)}`)).rejects.toMatchObject({ kind: "not-found" });
  });

  it("renames directories with everything in them, and replaces targets as rename(2) does", async () => {
    const fs = new MemoryFs({ a: { b: { "c.txt": "deep" }, "f.txt": "f" }, empty: {}, full: { x: "x" }, "file.txt": "file", "other.txt": "other" });
    await fs.rename("/a", "/moved");
    expect(await kind(fs.stat("/a"))).toBe("not-found");
    expect(text(fs.readFile("/moved/b/c.txt"))).toBe("deep");
    expect((await fs.list("/moved")).map((e) => e.name)).toEqual(["b", "f.txt"]);
    await fs.rename("/moved/b", "/empty");
    expect(text(fs.readFile("/empty/c.txt"))).toBe("deep");
    await fs.rename("/file.txt", "/other.txt");
    expect(text(fs.readFile("/other.txt"))).toBe("file");
    expect(await kind(fs.stat("/file.txt"))).toBe("not-found");
    await fs.rename("/other.txt", "/other.txt");
    expect(text(fs.readFile("/other.txt"))).toBe("file");
    expect(await kind(fs.rename("/moved", "/moved/inside"))).toBe("invalid-name");
    expect(await kind(fs.rename("/moved", "/full"))).toBe("not-empty");
    expect(await kind(fs.rename("/moved", "/other.txt"))).toBe("not-a-directory");
    expect(await kind(fs.rename("/other.txt", "/full"))).toBe("is-a-directory");
    expect(await kind(fs.rename("/nope", "/x"))).toBe("not-found");
    expect(await kind(fs.rename("/other.txt", "/nope/x"))).toBe("not-found");
    expect(await kind(fs.rename("/other.txt", "/other.txt/x"))).toBe("not-a-directory");
    // A writer keeps its file across a rename, like an open descriptor.
    const w = await fs.write("/moved/f.txt", "truncate", 0);
    await fs.rename("/moved", "/again");
    await w.write(bytes("after"));
    await w.close();
    expect(text(fs.readFile("/again/f.txt"))).toBe("after");
  });

  it("shows written bytes at close, all at once; an abort leaves the file as it was", async () => {
    const fs = new MemoryFs({ "old.txt": "old" });
    const w = await fs.write("/old.txt", "truncate", 0);
    await w.write(bytes("new "));
    await w.write(bytes("content"));
    expect(text(fs.readFile("/old.txt"))).toBe("old");
    const r = await fs.read("/old.txt", 0);
    await w.close();
    expect(text(fs.readFile("/old.txt"))).toBe("new content");
    // A reader opened before the close reads the bytes the file had then.
    let seen = "";
    for await (const c of r.chunks()) seen += new TextDecoder().decode(c);
    await r.close();
    expect(seen).toBe("old");
    const a = await fs.write("/old.txt", "truncate", 0);
    await a.write(bytes("lost"));
    await a.abort();
    expect(text(fs.readFile("/old.txt"))).toBe("new content");
    // A new file exists (empty) from the open on.
    const n = await fs.write("/fresh.txt", "create-new", 0);
    expect(fs.readFile("/fresh.txt")?.length).toBe(0);
    await n.abort();
    expect(fs.readFile("/fresh.txt")?.length).toBe(0);
    expect(await kind(n.write(bytes("late")))).toBe("io");
  });

  it("counts open readers and writers, each released once", async () => {
    const fs = new MemoryFs({ "a.txt": "a".repeat(600 * 1024) });
    const r = await fs.read("/a.txt", 0);
    const w = await fs.write("/b.txt", "truncate", 0);
    expect(fs.openHandles).toBe(2);
    let chunks = 0;
    for await (const c of r.chunks()) {
      chunks++;
      expect(c.length).toBeGreaterThan(0);
      await r.close();
    }
    expect(chunks).toBe(1);
    await r.close();
    await w.close();
    await w.abort();
    await w.close();
    expect(fs.openHandles).toBe(0);
  });

  it("reports the same error kinds as the disk", async () => {
    const fs = new MemoryFs({ "a.txt": "x", d: { f: "y" } });
    expect(await kind(fs.stat("/nope"))).toBe("not-found");
    expect(await kind(fs.stat("/a.txt/x"))).toBe("not-a-directory");
    expect(await kind(fs.list("/a.txt"))).toBe("not-a-directory");
    expect(await kind(fs.mkdir("/d"))).toBe("exists");
    expect(await kind(fs.mkdir("/a.txt"))).toBe("exists");
    expect(await kind(fs.mkdir("/x/y"))).toBe("not-found");
    expect(await kind(fs.mkdir("/a.txt/y"))).toBe("not-a-directory");
    expect(await kind(fs.rmdir("/d"))).toBe("not-empty");
    expect(await kind(fs.rmdir("/a.txt"))).toBe("not-a-directory");
    expect(await kind(fs.rmdir("/nope"))).toBe("not-found");
    expect(await kind(fs.rmdir("/"))).toBe("permission");
    expect(await kind(fs.delete("/d"))).toBe("is-a-directory");
    expect(await kind(fs.delete("/nope"))).toBe("not-found");
    expect(await kind(fs.read("/d", 0))).toBe("is-a-directory");
    expect(await kind(fs.read("/nope", 0))).toBe("not-found");
    expect(await kind(fs.write("/d", "truncate", 0))).toBe("is-a-directory");
    expect(await kind(fs.write("/nope/f", "truncate", 0))).toBe("not-found");
    expect(await kind(fs.write("/a.txt", "create-new", 0))).toBe("exists");
    expect(await kind(fs.stat("/../a.txt"))).toBe("permission");
    fs.put("/d/g", "z");
    fs.put("/t", { u: { v: "w" } });
    expect(text(fs.readFile("/t/u/v"))).toBe("w");
    expect(fs.readFile("/t")).toBeUndefined();
    expect(fs.readFile("/a.txt/x")).toBeUndefined();
  });
});

vfsContract("MemoryFs", () => Promise.resolve({ vfs: new MemoryFs(), cleanup: () => Promise.resolve() }), { inPlaceWrites: true, setMtime: true, abortKeepsFile: true });
