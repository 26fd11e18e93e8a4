import { VfsError } from "@pasv/driver";
import { describe, expect, it } from "vitest";
import { MemoryFs } from "./memory-fs.js";

async function kind(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (error) {
    return error instanceof VfsError ? error.kind : "other";
  }
}

describe("MemoryFs", () => {
  it("holds a tree and answers like the disk", async () => {
    const fs = new MemoryFs({ "a.txt": "hello", dir: { "b.bin": new Uint8Array([1, 2]) } }, () => 42);
    expect((await fs.list("/")).map((e) => e.name).sort()).toEqual(["a.txt", "dir"]);
    expect(await fs.stat("/dir/b.bin")).toMatchObject({ type: "file", size: 2, mtime: 42 });
    let text = "";
    const r = await fs.read("/a.txt", 1);
    for await (const c of r.chunks()) text += new TextDecoder().decode(c);
    await r.close();
    expect(text).toBe("ello");
    const w = await fs.write("/a.txt", "append", 0);
    await w.write(new TextEncoder().encode("!"));
    await w.close();
    expect(new TextDecoder().decode(fs.readFile("/a.txt"))).toBe("hello!");
    const o = await fs.write("/a.txt", "at-offset", 2);
    await o.write(new TextEncoder().encode("Y"));
    await o.close();
    expect(new TextDecoder().decode(fs.readFile("/a.txt"))).toBe("heY");
    await fs.mkdir("/new");
    await fs.rename("/dir", "/new/moved");
    expect(await fs.stat("/new/moved/b.bin")).toMatchObject({ size: 2 });
    await fs.setMtime("/new", 7);
    expect((await fs.stat("/new")).mtime).toBe(7);
    await fs.delete("/new/moved/b.bin");
    await fs.rmdir("/new/moved");
  });

  it("reports the same error kinds", async () => {
    const fs = new MemoryFs({ "a.txt": "x", d: { f: "y" } });
    expect(await kind(fs.stat("/nope"))).toBe("not-found");
    expect(await kind(fs.stat("/a.txt/x"))).toBe("not-a-directory");
    expect(await kind(fs.list("/a.txt"))).toBe("not-a-directory");
    expect(await kind(fs.mkdir("/d"))).toBe("exists");
    expect(await kind(fs.mkdir("/x/y"))).toBe("not-found");
    expect(await kind(fs.mkdir("/a.txt/y"))).toBe("not-a-directory");
    expect(await kind(fs.rmdir("/d"))).toBe("not-empty");
    expect(await kind(fs.rmdir("/a.txt"))).toBe("not-a-directory");
    expect(await kind(fs.rmdir("/"))).toBe("permission");
    expect(await kind(fs.delete("/d"))).toBe("is-a-directory");
    expect(await kind(fs.read("/d", 0))).toBe("is-a-directory");
    expect(await kind(fs.write("/d", "truncate", 0))).toBe("is-a-directory");
    expect(await kind(fs.write("/a.txt", "create-new", 0))).toBe("exists");
    expect(await kind(fs.rename("/d", "/d/inside"))).toBe("invalid-name");
    expect(await kind(fs.rename("/a.txt", "/d"))).toBe("exists");
    const w = await fs.write("/gone.txt", "truncate", 0);
    await w.abort();
    expect(fs.readFile("/gone.txt")?.length).toBe(0);
  });
});
