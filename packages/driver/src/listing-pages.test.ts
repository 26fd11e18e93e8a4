import type { FileStat } from "@pasv/core";
import { describe, expect, it } from "vitest";
import { allEntries, LISTING_PAGE_ENTRIES, listingPages, pagesWithin, sortedWhenSmall, statPages, type Pages } from "./listing-pages.js";
import { MemoryFs } from "./memory-fs.js";
import { VfsError } from "./vfs.js";

const entry = (name: string): FileStat => ({ name, type: "file", size: 0, mtime: 0, mode: 0o644, unique: "" });

async function* of(...pages: string[][]): AsyncGenerator<readonly FileStat[]> {
  for (const page of pages) {
    await Promise.resolve();
    yield page.map(entry);
  }
}

async function collect(pages: Pages): Promise<string[][]> {
  const out: string[][] = [];
  for await (const page of pages) out.push(page.map((e) => e.name));
  return out;
}

describe("sortedWhenSmall", () => {
  it("sorts a directory of at most the limit, whatever its pages", async () => {
    expect(await collect(sortedWhenSmall(of(["c", "a"], [], ["b"]), 3))).toEqual([["a", "b", "c"]]);
    expect(await collect(sortedWhenSmall(of(), 3))).toEqual([]);
  });

  it("passes a larger one on as it comes, holding no more than the limit and a page", async () => {
    expect(await collect(sortedWhenSmall(of(["d", "c"], ["b", "a"], ["z"], ["y"]), 3))).toEqual([["d", "c", "b", "a"], ["z"], ["y"]]);
  });

  it("lets the source go when its reader stops early", async () => {
    let released = false;
    const source = (async function* () {
      try {
        for (let i = 0; ; i++) yield await Promise.resolve([entry(`n${i}`)]);
      } finally {
        released = true;
      }
    })();
    for await (const page of sortedWhenSmall(source, 2)) {
      expect(page.length).toBeGreaterThan(0);
      break;
    }
    expect(released).toBe(true);
  });
});

describe("pagesWithin", () => {
  it("runs the producer one page ahead at most: emit resolves when the next page is asked for", async () => {
    const log: string[] = [];
    const pages = pagesWithin(async (emit) => {
      for (const name of ["a", "b", "c"]) {
        log.push(`emit ${name}`);
        await emit([entry(name)]);
      }
      log.push("done");
    });
    const it = pages[Symbol.asyncIterator]();
    const name = async (): Promise<string | undefined> => {
      const next = await it.next();
      return next.done === true ? undefined : next.value[0]?.name;
    };
    expect(await name()).toBe("a");
    await new Promise((r) => setTimeout(r, 5));
    expect(log).toEqual(["emit a"]);
    expect(await name()).toBe("b");
    expect(await name()).toBe("c");
    expect((await it.next()).done).toBe(true);
    expect(log).toEqual(["emit a", "emit b", "emit c", "done"]);
  });

  it("a failure of the producer is thrown by the iteration, after the pages before it", async () => {
    const pages = pagesWithin(async (emit) => {
      await emit([entry("a")]);
      throw new VfsError("io", "disk gone");
    });
    const got: string[] = [];
    await expect(
      (async () => {
        for await (const page of pages) got.push(...page.map((e) => e.name));
      })(),
    ).rejects.toMatchObject({ kind: "io" });
    expect(got).toEqual(["a"]);
  });

  it("a reader that stops makes emit reject, and return resolves once the producer has unwound", async () => {
    let unwound = false;
    const pages = pagesWithin(async (emit) => {
      try {
        for (let i = 0; ; i++) await emit([entry(`n${i}`)]);
      } finally {
        await new Promise((r) => setTimeout(r, 5));
        unwound = true;
      }
    });
    for await (const page of pages) {
      expect(page[0]?.name).toBe("n0");
      break;
    }
    expect(unwound).toBe(true);
  });
});

describe("statPages and allEntries", () => {
  it("states a directory page by page, leaving out what vanished, at most a page per emit", async () => {
    const count = LISTING_PAGE_ENTRIES * 2 + 5;
    const names = (async function* () {
      for (let i = 0; i < count; i++) yield await Promise.resolve(`n${i}`);
    })();
    let running = 0;
    let most = 0;
    const sizes: number[] = [];
    await statPages(
      names,
      async (name) => {
        running++;
        most = Math.max(most, running);
        await new Promise((r) => setImmediate(r));
        running--;
        return name.endsWith("7") ? null : entry(name);
      },
      async (page) => {
        sizes.push(page.length);
        await Promise.resolve();
      },
    );
    expect(sizes.length).toBe(3);
    expect(sizes.every((n) => n <= LISTING_PAGE_ENTRIES)).toBe(true);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(count - Math.ceil((count - 7) / 10));
    expect(most).toBeLessThanOrEqual(16);
  });

  it("allEntries joins the pages, and fails past its bound", async () => {
    expect((await allEntries(of(["a"], ["b"]))).map((e) => e.name)).toEqual(["a", "b"]);
    await expect(allEntries(of(["a", "b"], ["c"]), 2)).rejects.toMatchObject({ kind: "io" });
  });

  it("listingPages cuts a back end's whole list into pages when it has no listPages", async () => {
    const mem = new MemoryFs(Object.fromEntries(Array.from({ length: LISTING_PAGE_ENTRIES + 1 }, (_, i) => [`f${i}`, ""])));
    const plain = { list: (p: string) => mem.list(p) } as unknown as MemoryFs;
    const pages = await collect(listingPages(plain, "/"));
    expect(pages.map((p) => p.length)).toEqual([LISTING_PAGE_ENTRIES, 1]);
  });
});
