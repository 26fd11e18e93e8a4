import { encodeUtf8 } from "@pasv/core";
import { describe, expect, it } from "vitest";
import { atomicUploads, partialName, uploadTempName } from "./atomic-uploads.js";
import { MemoryFs } from "./memory-fs.js";
import type { Vfs } from "./vfs.js";

const text = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : String.fromCharCode(...b));

describe("atomic uploads", () => {
  it("says the wrapped writer gathers when it does, so uploads hand it unjoined pieces", async () => {
    const mem = new MemoryFs({});
    const gathering: Vfs = Object.assign(Object.create(mem) as MemoryFs, {
      write: async (path: string, mode: "truncate" | "append" | "at-offset" | "create-new", offset: number) => ({ ...(await mem.write(path, mode, offset)), gathers: true }),
    });
    const w = await atomicUploads(gathering, { keepPartial: false }).write("/g.txt", "truncate", 0);
    expect(w.gathers).toBe(true);
    await w.abort();
    expect((await atomicUploads(mem, { keepPartial: false }).write("/h.txt", "truncate", 0)).gathers).toBeUndefined();
  });

  it("leaves a file system whose writes are atomic by themselves (atomicWrites) unwrapped: no hidden name, no rename", async () => {
    const mem = new MemoryFs({ "f.txt": "old" });
    let renames = 0;
    const store: Vfs = Object.assign(Object.create(mem) as MemoryFs, {
      atomicWrites: true as const,
      rename: (from: string, to: string) => {
        renames++;
        return mem.rename(from, to);
      },
    });
    const vfs = atomicUploads(store, { keepPartial: false });
    expect(vfs).toBe(store);
    const w = await vfs.write("/f.txt", "truncate", 0);
    await w.write(encodeUtf8("new"));
    expect((await mem.list("/")).map((e) => e.name)).toEqual(["f.txt"]);
    await w.close();
    expect(text(mem.readFile("/f.txt"))).toBe("new");
    expect(renames).toBe(0);
    // Without the flag the same store is wrapped.
    expect(atomicUploads(mem, { keepPartial: false })).not.toBe(mem);
  });

  it("a STOR replaces the file only at close; until then the old bytes stay and the new ones are hidden", async () => {
    const mem = new MemoryFs({ d: { "f.txt": "old" } });
    const vfs = atomicUploads(mem, { keepPartial: false });
    const w = await vfs.write("/d/f.txt", "truncate", 0);
    await w.write(encodeUtf8("new bytes"));
    expect(text(mem.readFile("/d/f.txt"))).toBe("old");
    expect((await vfs.list("/d")).map((e) => e.name).filter((n) => !n.startsWith("."))).toEqual(["f.txt"]);
    await w.close();
    await w.abort(); // a no-op after close
    expect(text(mem.readFile("/d/f.txt"))).toBe("new bytes");
    expect((await mem.list("/d")).map((e) => e.name)).toEqual(["f.txt"]);
    expect(mem.openHandles).toBe(0);
  });

  it("a file that must be new is claimed first: an existing one is never touched, an abort leaves nothing", async () => {
    const mem = new MemoryFs({ "taken.txt": "someone else's" });
    const vfs = atomicUploads(mem, { keepPartial: false });
    await expect(vfs.write("/taken.txt", "create-new", 0)).rejects.toMatchObject({ kind: "exists" });
    expect(text(mem.readFile("/taken.txt"))).toBe("someone else's");
    const w = await vfs.write("/new.txt", "create-new", 0);
    // The name is claimed (empty) while the bytes go to the hidden file.
    expect(text(mem.readFile("/new.txt"))).toBe("");
    await expect(vfs.write("/new.txt", "create-new", 0)).rejects.toMatchObject({ kind: "exists" });
    await w.write(encodeUtf8("drop box"));
    await w.close();
    expect(text(mem.readFile("/new.txt"))).toBe("drop box");
    const aborted = await vfs.write("/gone.txt", "create-new", 0);
    await aborted.write(encodeUtf8("half"));
    await aborted.abort();
    expect((await mem.list("/")).map((e) => e.name).sort()).toEqual(["new.txt", "taken.txt"]);
    expect(mem.openHandles).toBe(0);
  });

  it("an aborted STOR leaves the old file and nothing beside it", async () => {
    const mem = new MemoryFs({ "f.txt": "old" });
    const w = await atomicUploads(mem, { keepPartial: false }).write("/f.txt", "truncate", 0);
    await w.write(encodeUtf8("half"));
    await w.abort();
    expect(text(mem.readFile("/f.txt"))).toBe("old");
    expect((await mem.list("/")).map((e) => e.name)).toEqual(["f.txt"]);
    expect(mem.openHandles).toBe(0);
  });

  it("with keepPartial an aborted STOR leaves what arrived as NAME.partial", async () => {
    const mem = new MemoryFs({});
    const w = await atomicUploads(mem, { keepPartial: true }).write("/cam.jpg", "truncate", 0);
    await w.write(encodeUtf8("first half"));
    await w.abort();
    expect(mem.readFile("/cam.jpg")).toBeUndefined();
    expect(text(mem.readFile(partialName("/cam.jpg")))).toBe("first half");
  });

  it("appends and REST offsets change the file in place (passed through)", async () => {
    const mem = new MemoryFs({ "log.txt": "a" });
    const w = await atomicUploads(mem, { keepPartial: false }).write("/log.txt", "append", 0);
    await w.write(encodeUtf8("b"));
    await w.close();
    expect(text(mem.readFile("/log.txt"))).toBe("ab");
  });

  it("a rename that fails at close removes the hidden file and reports the failure", async () => {
    const mem = new MemoryFs({ "dir": {} });
    // The target is a directory: the hidden file cannot be renamed over it.
    const w = await atomicUploads(mem, { keepPartial: false }).write("/dir", "truncate", 0);
    await w.write(encodeUtf8("x"));
    await expect(w.close()).rejects.toBeDefined();
    await w.abort();
    expect((await mem.list("/")).map((e) => e.name)).toEqual(["dir"]);
  });

  it("hidden names stay in the target's directory and start with a dot", () => {
    expect(uploadTempName("/a/b/c.txt", 7)).toBe("/a/b/.pasv-upload-7.c.txt");
    expect(uploadTempName("/c.txt", 1)).toBe("/.pasv-upload-1.c.txt");
  });
});
