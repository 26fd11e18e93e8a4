// The contract every Vfs keeps, as vitest cases for any implementation: the in-memory one, the
// local disk, S3. Runtime-neutral: the tree is built through the Vfs itself. Where back ends
// legitimately differ (an object store cannot append or set times), the factory says what it can.
import { describe, expect, it } from "vitest";
import type { FileStat } from "@pasv/core";
import { LISTING_PAGE_ENTRIES } from "./listing-pages.js";
import type { Vfs, VfsReader } from "./vfs.js";

export interface ContractSubject {
  readonly vfs: Vfs;
  cleanup(): Promise<void>;
}

export interface ContractAbilities {
  /** APPE and REST+STOR change an existing file in place. */
  readonly inPlaceWrites: boolean;
  /** setMtime works (MFMT). */
  readonly setMtime: boolean;
  /** An aborted writer leaves the file exactly as it was. */
  readonly abortKeepsFile: boolean;
}

async function kind(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (error) {
    // By name: a back end in another package may hold another copy of the class.
    const found = error instanceof Error && error.name === "VfsError" ? (error as { kind?: unknown }).kind : undefined;
    return typeof found === "string" ? found : `not a VfsError: ${String(error)}`;
  }
}

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

async function readAll(r: VfsReader): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of r.chunks()) {
    parts.push(c.slice());
    r.recycle?.(c);
  }
  await r.close();
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

async function text(vfs: Vfs, path: string, offset = 0): Promise<string> {
  return new TextDecoder().decode(await readAll(await vfs.read(path, offset)));
}

async function put(vfs: Vfs, path: string, content: string | Uint8Array, chunk = 64 * 1024): Promise<void> {
  const data = typeof content === "string" ? bytes(content) : content;
  const w = await vfs.write(path, "truncate", 0);
  for (let at = 0; at < data.length; at += chunk) await w.write(data.subarray(at, at + chunk));
  await w.close();
}

const names = async (vfs: Vfs, path: string): Promise<string[]> => (await vfs.list(path)).map((e) => `${e.name}:${e.type}`);

/** Every page of the streamed listing of `path`. */
async function pages(vfs: Vfs, path: string): Promise<(readonly FileStat[])[]> {
  const listPages = vfs.listPages?.bind(vfs);
  if (listPages === undefined) throw new Error("no listPages");
  const out: (readonly FileStat[])[] = [];
  for await (const page of listPages(path)) out.push(page);
  return out;
}

const paged = async (vfs: Vfs, path: string): Promise<string[]> =>
  (await pages(vfs, path))
    .flat()
    .map((e) => `${e.name}:${e.type}`)
    .sort();

/** Registers the contract's cases for a fresh file system from `make` per case. */
export function vfsContract(name: string, make: () => Promise<ContractSubject>, can: ContractAbilities): void {
  const withFs = (title: string, body: (vfs: Vfs) => Promise<void>, timeout?: number): void => {
    it(
      title,
      async () => {
        const subject = await make();
        try {
          await body(subject.vfs);
        } finally {
          await subject.cleanup();
        }
      },
      timeout,
    );
  };

  describe(`Vfs contract: ${name}`, () => {
    withFs("builds a tree and lists it sorted, with types and sizes", async (vfs) => {
      expect(await names(vfs, "/")).toEqual([]);
      await vfs.mkdir("/dir");
      await vfs.mkdir("/dir/sub");
      await put(vfs, "/b.txt", "bee");
      await put(vfs, "/a.txt", "hello");
      await put(vfs, "/dir/c.bin", new Uint8Array([0, 1, 2, 255]));
      await put(vfs, "/with space é.txt", "unicode");
      expect(await names(vfs, "/")).toEqual(["a.txt:file", "b.txt:file", "dir:dir", "with space é.txt:file"]);
      expect(await names(vfs, "/dir")).toEqual(["c.bin:file", "sub:dir"]);
      expect(await names(vfs, "/dir/sub")).toEqual([]);
      expect(await vfs.stat("/a.txt")).toMatchObject({ name: "a.txt", type: "file", size: 5 });
      expect(await vfs.stat("/dir")).toMatchObject({ name: "dir", type: "dir" });
      expect(await vfs.stat("/")).toMatchObject({ type: "dir" });
      const listed = (await vfs.list("/")).find((e) => e.name === "a.txt");
      expect(listed?.size).toBe(5);
      expect(Math.abs((listed?.mtime ?? 0) - Date.now())).toBeLessThan(10 * 60_000);
      expect(await text(vfs, "/with space é.txt")).toBe("unicode");
    });

    withFs("lists page by page what list lists, and fails the iteration on a wrong path", async (vfs) => {
      expect(await pages(vfs, "/")).toEqual([]);
      await vfs.mkdir("/dir");
      await vfs.mkdir("/empty");
      await put(vfs, "/b.txt", "bee");
      await put(vfs, "/dir/a.txt", "hello");
      await put(vfs, "/with space é.txt", "unicode");
      expect(await paged(vfs, "/")).toEqual(["b.txt:file", "dir:dir", "empty:dir", "with space é.txt:file"]);
      expect((await pages(vfs, "/")).flat().find((e) => e.name === "b.txt")).toEqual((await vfs.list("/")).find((e) => e.name === "b.txt"));
      expect(await paged(vfs, "/dir")).toEqual(["a.txt:file"]);
      expect((await pages(vfs, "/empty")).flat()).toEqual([]);
      expect(await kind(pages(vfs, "/nope"))).toBe("not-found");
      expect(await kind(pages(vfs, "/b.txt"))).toBe("not-a-directory");
    });

    withFs("lists a directory of several pages in full, no page larger than a page", async (vfs) => {
      await vfs.mkdir("/many");
      const count = LISTING_PAGE_ENTRIES + 234;
      const want: string[] = [];
      for (let at = 0; at < count; at += 32) {
        const batch = Array.from({ length: Math.min(32, count - at) }, (_, i) => `f${String(at + i).padStart(5, "0")}`);
        await Promise.all(batch.map((n) => put(vfs, `/many/${n}`, "")));
        want.push(...batch.map((n) => `${n}:file`));
      }
      await vfs.mkdir("/many/zdir");
      want.push("zdir:dir");
      const got = await pages(vfs, "/many");
      expect(got.length).toBeGreaterThan(1);
      for (const page of got) expect(page.length).toBeLessThanOrEqual(LISTING_PAGE_ENTRIES);
      expect(await paged(vfs, "/many")).toEqual(want.sort());
      // Stopped after the first page, the listing lets go of the directory; it can be listed again.
      const listPages = vfs.listPages?.bind(vfs);
      if (listPages === undefined) throw new Error("no listPages");
      const it = listPages("/many")[Symbol.asyncIterator]();
      expect((await it.next()).done).toBe(false);
      await it.return?.();
      expect((await paged(vfs, "/many")).length).toBe(count + 1);
      // 1,235 writes: an object store on a busy machine takes a while.
    }, 180_000);

    withFs("reads from an offset, and nothing from the end on", async (vfs) => {
      await put(vfs, "/f.txt", "0123456789");
      expect(await text(vfs, "/f.txt")).toBe("0123456789");
      expect(await text(vfs, "/f.txt", 4)).toBe("456789");
      expect(await text(vfs, "/f.txt", 10)).toBe("");
      expect(await text(vfs, "/f.txt", 50)).toBe("");
      await put(vfs, "/empty", "");
      expect(await text(vfs, "/empty")).toBe("");
      expect((await vfs.stat("/empty")).size).toBe(0);
      // A reader may be closed before its end, and closed twice.
      const r = await vfs.read("/f.txt", 0);
      await r.close();
      await r.close();
    });

    withFs("stores a multi-megabyte file written in small chunks byte for byte", async (vfs) => {
      const data = new Uint8Array(11 * 1024 * 1024 + 123);
      for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 13)) & 0xff;
      await put(vfs, "/big.bin", data, 60 * 1024 + 1);
      expect((await vfs.stat("/big.bin")).size).toBe(data.length);
      const back = await readAll(await vfs.read("/big.bin", 0));
      expect(back.length).toBe(data.length);
      expect(back.every((b, i) => b === data[i])).toBe(true);
      const tail = await readAll(await vfs.read("/big.bin", data.length - 1000));
      expect(tail).toEqual(data.subarray(data.length - 1000));
    });

    withFs("replaces a file at close; create-new refuses a taken name", async (vfs) => {
      await put(vfs, "/f.txt", "old content");
      await put(vfs, "/f.txt", "new");
      expect(await text(vfs, "/f.txt")).toBe("new");
      expect(await kind(vfs.write("/f.txt", "create-new", 0))).toBe("exists");
      const n = await vfs.write("/fresh.txt", "create-new", 0);
      await n.write(bytes("fresh"));
      await n.close();
      expect(await text(vfs, "/fresh.txt")).toBe("fresh");
      // close and abort after close are no-ops.
      await n.close();
      await n.abort();
      expect(await text(vfs, "/fresh.txt")).toBe("fresh");
    });

    if (can.abortKeepsFile) {
      withFs("an aborted writer leaves the file as it was, and a new name absent or empty", async (vfs) => {
        await put(vfs, "/f.txt", "kept");
        const w = await vfs.write("/f.txt", "truncate", 0);
        await w.write(bytes("lost"));
        await w.abort();
        await w.abort();
        expect(await text(vfs, "/f.txt")).toBe("kept");
        const n = await vfs.write("/new.txt", "truncate", 0);
        await n.write(bytes("lost"));
        await n.abort();
        const after = await kind(vfs.stat("/new.txt"));
        if (after === "ok") expect((await vfs.stat("/new.txt")).size).toBe(0);
        else expect(after).toBe("not-found");
      });
    }

    if (can.inPlaceWrites) {
      withFs("appends, and writes at an offset", async (vfs) => {
        await put(vfs, "/f.txt", "hello");
        const a = await vfs.write("/f.txt", "append", 0);
        await a.write(bytes("!"));
        await a.close();
        expect(await text(vfs, "/f.txt")).toBe("hello!");
        const o = await vfs.write("/f.txt", "at-offset", 2);
        await o.write(bytes("Y"));
        await o.close();
        expect((await text(vfs, "/f.txt")).startsWith("heY")).toBe(true);
      });
    } else {
      withFs("refuses to change a file in place, and appends to a missing one as a new file", async (vfs) => {
        await put(vfs, "/f.txt", "hello");
        expect(await kind(vfs.write("/f.txt", "append", 0))).toBe("permission");
        expect(await kind(vfs.write("/f.txt", "at-offset", 2))).toBe("permission");
        expect(await text(vfs, "/f.txt")).toBe("hello");
        const a = await vfs.write("/g.txt", "append", 0);
        await a.write(bytes("new"));
        await a.close();
        expect(await text(vfs, "/g.txt")).toBe("new");
      });
    }

    if (can.setMtime) {
      withFs("sets modification times", async (vfs) => {
        await put(vfs, "/f.txt", "x");
        await vfs.setMtime("/f.txt", 1_000_000_000_000);
        expect((await vfs.stat("/f.txt")).mtime).toBe(1_000_000_000_000);
      });
    }

    withFs("makes and removes directories with the disk's error kinds", async (vfs) => {
      await vfs.mkdir("/d");
      await put(vfs, "/d/f", "x");
      await put(vfs, "/file", "x");
      expect(await kind(vfs.mkdir("/d"))).toBe("exists");
      expect(await kind(vfs.mkdir("/file"))).toBe("exists");
      expect(await kind(vfs.mkdir("/nope/x"))).toBe("not-found");
      expect(await kind(vfs.mkdir("/file/x"))).toBe("not-a-directory");
      expect(await kind(vfs.rmdir("/d"))).toBe("not-empty");
      expect(await kind(vfs.rmdir("/file"))).toBe("not-a-directory");
      expect(await kind(vfs.rmdir("/nope"))).toBe("not-found");
      expect(await kind(vfs.rmdir("/"))).toBe("permission");
      expect(await kind(vfs.delete("/d"))).toBe("is-a-directory");
      expect(await kind(vfs.delete("/nope"))).toBe("not-found");
      // Deleting the last file keeps its directory; only RMD removes it.
      await vfs.delete("/d/f");
      expect(await names(vfs, "/d")).toEqual([]);
      expect((await vfs.stat("/d")).type).toBe("dir");
      await vfs.rmdir("/d");
      expect(await kind(vfs.stat("/d"))).toBe("not-found");
      expect(await names(vfs, "/")).toEqual(["file:file"]);
    });

    withFs("answers reads, writes and stats of wrong things with the disk's kinds", async (vfs) => {
      await vfs.mkdir("/d");
      await put(vfs, "/a.txt", "x");
      expect(await kind(vfs.stat("/nope"))).toBe("not-found");
      expect(await kind(vfs.stat("/a.txt/x"))).toBe("not-a-directory");
      expect(await kind(vfs.list("/a.txt"))).toBe("not-a-directory");
      expect(await kind(vfs.list("/nope"))).toBe("not-found");
      expect(await kind(vfs.read("/d", 0))).toBe("is-a-directory");
      expect(await kind(vfs.read("/nope", 0))).toBe("not-found");
      expect(await kind(vfs.write("/d", "truncate", 0))).toBe("is-a-directory");
      expect(await kind(vfs.write("/nope/f", "truncate", 0))).toBe("not-found");
      expect(await kind(vfs.stat("/../a.txt"))).toBe("permission");
      expect(await kind(vfs.stat(`/${"n".repeat(256)}`))).toBe("invalid-name");
    });

    withFs("renames files and directories as rename(2) does", async (vfs) => {
      await vfs.mkdir("/a");
      await vfs.mkdir("/a/b");
      await put(vfs, "/a/b/c.txt", "deep");
      await put(vfs, "/a/f.txt", "f");
      await vfs.mkdir("/empty");
      await vfs.mkdir("/full");
      await put(vfs, "/full/x", "x");
      await put(vfs, "/file.txt", "file");
      await put(vfs, "/other.txt", "other");
      await vfs.rename("/file.txt", "/other.txt");
      expect(await text(vfs, "/other.txt")).toBe("file");
      expect(await kind(vfs.stat("/file.txt"))).toBe("not-found");
      await vfs.rename("/other.txt", "/other.txt");
      expect(await text(vfs, "/other.txt")).toBe("file");
      await vfs.rename("/other.txt", "/a/moved.txt");
      expect(await text(vfs, "/a/moved.txt")).toBe("file");
      // Names with characters that URLs escape (an object store's copy names its source in a URL).
      const odd = "/a&b, c+d #e?f;g=h@i$j%20k 日本.txt";
      await put(vfs, odd, "odd");
      await vfs.rename(odd, "/odd renamed.txt");
      expect(await text(vfs, "/odd renamed.txt")).toBe("odd");
      await vfs.rename("/odd renamed.txt", odd);
      expect(await text(vfs, odd)).toBe("odd");
      await vfs.delete(odd);
      await vfs.rename("/a", "/moved");
      expect(await kind(vfs.stat("/a"))).toBe("not-found");
      expect(await text(vfs, "/moved/b/c.txt")).toBe("deep");
      expect(await names(vfs, "/moved")).toEqual(["b:dir", "f.txt:file", "moved.txt:file"]);
      await vfs.rename("/moved/b", "/empty");
      expect(await text(vfs, "/empty/c.txt")).toBe("deep");
      expect(await names(vfs, "/moved")).toEqual(["f.txt:file", "moved.txt:file"]);
      expect(await kind(vfs.rename("/moved", "/moved/inside"))).toBe("invalid-name");
      expect(await kind(vfs.rename("/moved", "/full"))).toBe("not-empty");
      expect(await kind(vfs.rename("/moved", "/moved/f.txt"))).not.toBe("ok");
      expect(await kind(vfs.rename("/moved/f.txt", "/full"))).toBe("is-a-directory");
      expect(await kind(vfs.rename("/nope", "/x"))).toBe("not-found");
      expect(await kind(vfs.rename("/moved/f.txt", "/nope/x"))).toBe("not-found");
      expect(await names(vfs, "/")).toEqual(["empty:dir", "full:dir", "moved:dir"]);
    });
  });
}
