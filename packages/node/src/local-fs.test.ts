import nodeFs, { mkdirSync, mkdtempSync, promises as fsp, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { VfsError, type VfsReader } from "@pasv/driver";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { vfsContract } from "../../driver/src/vfs-contract.test-helper.js";
import { LocalFs, READ_CHUNK_BYTES } from "./local-fs.js";

const outer = mkdtempSync(path.join(tmpdir(), "pasv-localfs-"));
const root = path.join(outer, "root");
let fs: LocalFs;

beforeAll(() => {
  mkdirSync(path.join(root, "dir"), { recursive: true });
  writeFileSync(path.join(root, "a.txt"), "hello world");
  writeFileSync(path.join(outer, "secret.txt"), "secret");
  symlinkSync(path.join(outer, "secret.txt"), path.join(root, "out-link"));
  symlinkSync(outer, path.join(root, "out-dir"));
  symlinkSync(path.join(root, "a.txt"), path.join(root, "in-link"));
  symlinkSync(path.join(outer, "missing.txt"), path.join(root, "dangling"));
  fs = new LocalFs(root);
});
afterAll(() => rmSync(outer, { recursive: true, force: true }));

async function kind(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (error) {
    return error instanceof VfsError ? error.kind : `not a VfsError: ${String(error)}`;
  }
}

async function readAll(r: VfsReader): Promise<string> {
  let s = "";
  for await (const c of r.chunks()) s += Buffer.from(c).toString();
  await r.close();
  return s;
}

describe("LocalFs", () => {
  it("stats and lists, showing symlinks as symlinks", async () => {
    expect((await fs.stat("/a.txt")).size).toBe(11);
    expect((await fs.stat("/")).type).toBe("dir");
    const names = (await fs.list("/")).map((e) => `${e.name}:${e.type}`).sort();
    expect(names).toEqual(["a.txt:file", "dangling:symlink", "dir:dir", "in-link:symlink", "out-dir:symlink", "out-link:symlink"]);
    expect((await fs.stat("/in-link")).type).toBe("file");
  });

  it("refuses everything that resolves outside the root", async () => {
    expect(await kind(fs.stat("/out-link"))).toBe("permission");
    expect(await kind(fs.read("/out-link", 0))).toBe("permission");
    expect(await kind(fs.list("/out-dir"))).toBe("permission");
    expect(await kind(fs.write("/out-dir/new.txt", "truncate", 0))).toBe("permission");
    expect(await kind(fs.write("/dangling", "truncate", 0))).toBe("permission");
    expect(await kind(fs.write("/out-link", "truncate", 0))).toBe("permission");
    expect(await kind(fs.mkdir("/out-dir/x"))).toBe("permission");
    expect(await kind(fs.rename("/a.txt", "/out-dir/a.txt"))).toBe("permission");
    // A ".." segment (which the core never sends) is refused, never climbed.
    expect(await kind(fs.stat("/../secret.txt"))).toBe("permission");
    expect(readFileSync(path.join(outer, "secret.txt"), "utf8")).toBe("secret");
  });

  it("keeps names that start with two dots as names, inside the root", async () => {
    const w = await fs.write("/..secret.txt", "truncate", 0);
    await w.write(Buffer.from("literal"));
    await w.close();
    expect(readFileSync(path.join(root, "..secret.txt"), "utf8")).toBe("literal");
    expect(readFileSync(path.join(outer, "secret.txt"), "utf8")).toBe("secret");
    expect(await kind(fs.stat(`/..../${path.basename(root)}/a.txt`))).toBe("not-found");
    await fs.delete("/..secret.txt");
  });

  it("pins the root's real path when created, and compares by segments", async () => {
    mkdirSync(path.join(outer, "root2"), { recursive: true });
    writeFileSync(path.join(outer, "root2", "x.txt"), "sibling");
    symlinkSync(path.join(outer, "root2", "x.txt"), path.join(root, "sib-link"));
    expect(await kind(fs.stat("/sib-link"))).toBe("permission");
    symlinkSync(root, path.join(outer, "root-link"));
    const viaLink = new LocalFs(path.join(outer, "root-link"));
    expect((await viaLink.stat("/a.txt")).size).toBe(11);
    rmSync(path.join(outer, "root-link"));
    symlinkSync(path.join(outer, "root2"), path.join(outer, "root-link"));
    expect(await kind(viaLink.stat("/x.txt"))).toBe("not-found");
    expect((await viaLink.stat("/a.txt")).size).toBe(11);
    rmSync(path.join(root, "sib-link"));
  });

  it("reads from an offset and writes in every mode", async () => {
    expect(await readAll(await fs.read("/a.txt", 6))).toBe("world");
    const w = await fs.write("/new.txt", "truncate", 0);
    await w.write(Buffer.from("abcdef"));
    await w.close();
    const a = await fs.write("/new.txt", "append", 0);
    await a.write(Buffer.from("gh"));
    await a.close();
    expect(readFileSync(path.join(root, "new.txt"), "utf8")).toBe("abcdefgh");
    const o = await fs.write("/new.txt", "at-offset", 3);
    await o.write(Buffer.from("XY"));
    await o.close();
    expect(readFileSync(path.join(root, "new.txt"), "utf8")).toBe("abcXY");
    expect(await kind(fs.write("/new.txt", "create-new", 0))).toBe("exists");
    const big = Buffer.alloc(3 * 1024 * 1024, 7);
    const b = await fs.write("/big.bin", "truncate", 0);
    for (let i = 0; i < big.length; i += 65536) await b.write(big.subarray(i, i + 65536));
    await b.close();
    expect(readFileSync(path.join(root, "big.bin")).equals(big)).toBe(true);
    const aborted = await fs.write("/aborted.bin", "truncate", 0);
    await aborted.write(Buffer.from("x"));
    await aborted.abort();
    // A new file in every creating mode; a REST write needs the file to exist.
    const stou = await fs.write("/stou.txt", "create-new", 0);
    await stou.write(Buffer.from("u"));
    await stou.close();
    expect(readFileSync(path.join(root, "stou.txt"), "utf8")).toBe("u");
    const appe = await fs.write("/appe.txt", "append", 0);
    await appe.write(Buffer.from("p"));
    await appe.close();
    expect(readFileSync(path.join(root, "appe.txt"), "utf8")).toBe("p");
    expect(await kind(fs.write("/missing.txt", "at-offset", 2))).toBe("not-found");
    expect(await kind(fs.write("/dir", "truncate", 0))).toBe("is-a-directory");
  });

  it("holds the rule through descriptors on Linux", async () => {
    expect(await fs.guarantee).toBe(process.platform === "linux" ? "descriptor" : "name");
    expect((await fs.stat("/a.txt")).name).toBe("a.txt");
    expect((await fs.stat("/in-link")).name).toBe("in-link");
  });

  it("reads ahead in order at every size and offset, and reuses only buffers handed back once", async () => {
    const chunk = READ_CHUNK_BYTES;
    const data = Buffer.alloc(3 * chunk + 5);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 12)) & 0xff;
    for (const size of [0, 1, chunk - 1, chunk, chunk + 1, 2 * chunk, data.length]) {
      writeFileSync(path.join(root, "ahead.bin"), data.subarray(0, size));
      for (const offset of [0, 1, chunk, size, size + 10]) {
        const r = await fs.read("/ahead.bin", offset);
        const parts: Buffer[] = [];
        // Copy, then hand back: the next reads land in the same memory.
        for await (const c of r.chunks()) {
          parts.push(Buffer.from(c));
          r.recycle?.(c);
        }
        await r.close();
        expect(Buffer.concat(parts).equals(data.subarray(Math.min(offset, size), size)), `size ${size} offset ${offset}`).toBe(true);
      }
    }
    // More chunks than reads in flight, so later reads can only reuse.
    writeFileSync(path.join(root, "ahead.bin"), Buffer.concat([data, data, data]));
    const r = await fs.read("/ahead.bin", 0);
    const seen: Uint8Array[] = [];
    const copies: Buffer[] = [];
    let held: Uint8Array[] = [];
    for await (const c of r.chunks()) {
      seen.push(c);
      copies.push(Buffer.from(c));
      held.push(c);
      // Handed back in batches (as flush callbacks arrive), each twice, plus a stranger: none of it
      // may put one buffer under two reads.
      if (held.length === 3) {
        for (const h of held) {
          r.recycle?.(h);
          r.recycle?.(h);
        }
        r.recycle?.(new Uint8Array(chunk));
        held = [];
      }
    }
    await r.close();
    expect(seen.length).toBe(10);
    expect(Buffer.concat(copies).equals(Buffer.concat([data, data, data]))).toBe(true);
    expect(new Set(seen.map((c) => c.buffer)).size).toBeLessThan(seen.length);
    // A reader closed mid-file stops at once and may be closed again.
    const early = await fs.read("/ahead.bin", 0);
    for await (const c of early.chunks()) {
      expect(c.length).toBe(chunk);
      await early.close();
    }
    await early.close();
  });

  it("reads a small file into a buffer of its own size, not a full chunk", async () => {
    const small = Buffer.alloc(64 * 1024, 7);
    writeFileSync(path.join(root, "small.bin"), small);
    for (const offset of [0, 1000]) {
      const r = await fs.read("/small.bin", offset);
      const sizes: number[] = [];
      for await (const c of r.chunks()) {
        sizes.push(c.buffer.byteLength);
        r.recycle?.(c);
      }
      await r.close();
      expect(sizes).toEqual([small.length - offset]);
    }
  });

  // Inline (the default), a large file is read through node:fs's callbacks; "never" reads through a FileHandle.
  it.each(["auto", "never"] as const)("a download whose consumer stops (its peer stopped reading) holds one chunk and reads no further (inline %s)", async (inline) => {
    writeFileSync(path.join(root, "stall.bin"), Buffer.alloc(8 * READ_CHUNK_BYTES, 1));
    const probe = await fsp.open(path.join(root, "stall.bin"), "r");
    const proto = Object.getPrototypeOf(probe) as { read: (...args: unknown[]) => Promise<unknown> };
    await probe.close();
    const reads = inline === "never" ? vi.spyOn(proto, "read") : vi.spyOn(nodeFs, "read");
    try {
      const idle = async (): Promise<void> => {
        for (let i = 0; i < 20; i++) await new Promise((resolve) => setTimeout(resolve, 5));
      };
      const r = await new LocalFs(root, { inline }).read("/stall.bin", 0);
      const it = r.chunks()[Symbol.asyncIterator]();
      // Two chunks go out and are flushed; the third is never flushed, and nothing pulls again.
      for (let i = 0; i < 2; i++) r.recycle?.((await it.next()).value as Uint8Array);
      const stuck = (await it.next()).value as Uint8Array;
      await idle();
      expect(stuck.length).toBe(READ_CHUNK_BYTES);
      expect(reads.mock.calls.length).toBe(3);
      expect(new Set(reads.mock.calls.map((call) => (call[inline === "never" ? 0 : 1] as Uint8Array).buffer)).size).toBe(1);
      await r.close();
    } finally {
      reads.mockRestore();
    }
  });

  it("reads a small file inline while the gate is open, and through the thread pool with inline 'never'", async () => {
    writeFileSync(path.join(root, "inline.bin"), Buffer.alloc(4096, 2));
    const sync = vi.spyOn(nodeFs, "readSync");
    const pooled = vi.spyOn(nodeFs, "read");
    try {
      const drain = async (r: VfsReader): Promise<number> => {
        let n = 0;
        for await (const c of r.chunks()) {
          n += c.length;
          r.recycle?.(c);
        }
        await r.close();
        return n;
      };
      expect(await drain(await fs.read("/inline.bin", 96))).toBe(4000);
      expect([sync.mock.calls.length, pooled.mock.calls.length]).toEqual([1, 0]);
      expect(await drain(await new LocalFs(root, { inline: "never" }).read("/inline.bin", 0))).toBe(4096);
      expect([sync.mock.calls.length, pooled.mock.calls.length]).toEqual([1, 0]);
    } finally {
      sync.mockRestore();
      pooled.mockRestore();
    }
  });

  it("maps errno to error kinds", async () => {
    expect(await kind(fs.stat("/nope"))).toBe("not-found");
    expect(await kind(fs.read("/dir", 0))).toBe("is-a-directory");
    expect(await kind(fs.write("/dir", "truncate", 0))).toBe("is-a-directory");
    expect(await kind(fs.mkdir("/dir"))).toBe("exists");
    expect(await kind(fs.mkdir("/nope/deeper"))).toBe("not-found");
    expect(await kind(fs.delete("/dir"))).toBe("is-a-directory");
    writeFileSync(path.join(root, "dir", "f"), "x");
    expect(await kind(fs.rmdir("/dir"))).toBe("not-empty");
    expect(await kind(fs.list("/a.txt"))).toBe("not-a-directory");
    expect(await kind(fs.stat("/a.txt/x"))).toBe("not-a-directory");
    expect(await kind(fs.setMtime("/a.txt", Date.UTC(2020, 0, 1)))).toBe("ok");
    expect((await fs.stat("/a.txt")).mtime).toBe(Date.UTC(2020, 0, 1));
    expect(await kind(fs.rename("/a.txt", "/b.txt"))).toBe("ok");
    expect(await kind(fs.delete("/b.txt"))).toBe("ok");
    expect(await kind(new LocalFs(path.join(outer, "no-such-root")).stat("/"))).toBe("not-found");
  });
});

for (const inline of ["auto", "never"] as const) {
  vfsContract(
    `LocalFs (inline ${inline})`,
    () => {
      const dir = mkdtempSync(path.join(tmpdir(), "pasv-contract-"));
      return Promise.resolve({ vfs: new LocalFs(dir, { inline }), cleanup: () => fsp.rm(dir, { recursive: true, force: true }) });
    },
    // The raw disk writes in place; the server's atomicUploads is what keeps a file whole on abort.
    { inPlaceWrites: true, setMtime: true, abortKeepsFile: false },
  );
}
