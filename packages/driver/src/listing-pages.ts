// Streamed directory listings, the same for every back end and runtime: a Vfs's pages of entries
// (or its whole list cut into pages, for one that has no listPages), small directories sorted by
// name as they always were, and the hand-off that lets a back end list inside a held resource (a
// pinned directory descriptor) while its consumer reads one page at a time.
import { sortByName, type FileStat } from "@pasv/core";
import { VfsError, type Vfs } from "./vfs.js";

/** Entries per page a back end of ours yields (S3's ListObjectsV2 gives 1,000 keys per page too). */
export const LISTING_PAGE_ENTRIES = 1000;
/** A directory of at most this many entries is listed sorted by name, whatever order its back end
 * gives; a larger one goes out in the back end's order as it is read, so a listing holds at most
 * this many entries (plus one page) however large the directory. */
export const LISTING_SORTED_ENTRIES = 10_000;
/** lstat calls one page of a local directory runs at once. */
export const LISTING_STAT_CONCURRENCY = 16;

export type Pages = AsyncIterable<readonly FileStat[]>;

/** The entries of the directory at `path`, page by page; a back end without listPages is listed whole. */
export function listingPages(vfs: Vfs, path: string): Pages {
  if (vfs.listPages !== undefined) return vfs.listPages(path);
  return (async function* () {
    const all = await vfs.list(path);
    for (let at = 0; at < all.length; at += LISTING_PAGE_ENTRIES) yield all.slice(at, at + LISTING_PAGE_ENTRIES);
  })();
}

/**
 * `pages` sorted by name when they hold at most `limit` entries in all (as listings were before
 * they were streamed), else as they come: the first `limit` entries read, then page after page.
 */
export async function* sortedWhenSmall(pages: Pages, limit = LISTING_SORTED_ENTRIES): AsyncGenerator<readonly FileStat[]> {
  const it = pages[Symbol.asyncIterator]();
  try {
    const held: FileStat[] = [];
    for (;;) {
      const next = await it.next();
      if (next.done === true) {
        sortByName(held);
        for (let at = 0; at < held.length; at += LISTING_PAGE_ENTRIES) yield held.slice(at, at + LISTING_PAGE_ENTRIES);
        return;
      }
      held.push(...next.value);
      if (held.length > limit) break;
    }
    for (let at = 0; at < held.length; at += LISTING_PAGE_ENTRIES) yield held.slice(at, at + LISTING_PAGE_ENTRIES);
    held.length = 0;
    for (;;) {
      const next = await it.next();
      if (next.done === true) return;
      yield next.value;
    }
  } finally {
    // A consumer that stopped early (an abort) lets the back end release what it holds.
    await it.return?.();
  }
}

/** Every entry of `pages` in one array, failing beyond `max` (for a whole-array `list`). */
export async function allEntries(pages: Pages, max = Number.POSITIVE_INFINITY): Promise<FileStat[]> {
  const out: FileStat[] = [];
  for await (const page of pages) {
    out.push(...page);
    if (out.length > max) throw new VfsError("io", `a directory of more than ${max} entries`);
  }
  return out;
}

/** A directory read by a local disk adapter: each page's entries stated `LISTING_STAT_CONCURRENCY`
 * at a time; an entry whose stat finds nothing (removed meanwhile) is left out. */
export async function statPages(names: AsyncIterable<string>, entry: (name: string) => Promise<FileStat | null>, emit: (page: readonly FileStat[]) => Promise<void>): Promise<void> {
  let batch: string[] = [];
  const flush = async (): Promise<void> => {
    const found: (FileStat | null)[] = new Array<FileStat | null>(batch.length).fill(null);
    let next = 0;
    const names = batch;
    batch = [];
    const worker = async (): Promise<void> => {
      while (next < names.length) {
        const i = next++;
        found[i] = await entry(names[i] as string);
      }
    };
    await Promise.all(Array.from({ length: Math.min(LISTING_STAT_CONCURRENCY, names.length) }, worker));
    await emit(found.filter((e): e is FileStat => e !== null));
  };
  for await (const name of names) {
    batch.push(name);
    if (batch.length >= LISTING_PAGE_ENTRIES) await flush();
  }
  if (batch.length > 0) await flush();
}

/** Thrown into a producer whose consumer stopped reading. */
class Stopped extends Error {
  override readonly name = "Stopped";
}

/**
 * A producer that emits pages from inside a callback (a directory read while its descriptor is
 * pinned) as an async iterable with a one-page hand-off: `emit` resolves only when the consumer
 * asks for the next page, so the producer reads nothing ahead; when the consumer stops early,
 * `emit` rejects, and the iterator's return() resolves once the producer has unwound (released).
 */
export function pagesWithin(run: (emit: (page: readonly FileStat[]) => Promise<void>) => Promise<void>): Pages {
  return {
    [Symbol.asyncIterator](): AsyncIterator<readonly FileStat[]> {
      let running: Promise<void> | null = null;
      let slot: readonly FileStat[] | null = null;
      let finished = false;
      let failure: { readonly error: unknown } | null = null;
      let stopped = false;
      let producer: { resolve(): void; reject(error: unknown): void } | null = null;
      let consumer: (() => void) | null = null;
      const failed = (): { readonly error: unknown } | null => failure;
      const wake = (): void => {
        const c = consumer;
        consumer = null;
        c?.();
      };
      const emit = (page: readonly FileStat[]): Promise<void> => {
        if (stopped) return Promise.reject(new Stopped("the listing's reader stopped"));
        slot = page;
        wake();
        return new Promise((resolve, reject) => (producer = { resolve, reject }));
      };
      const start = (): Promise<void> =>
        run(emit).then(
          () => {
            finished = true;
            wake();
          },
          (error: unknown) => {
            finished = true;
            failure = { error };
            wake();
          },
        );
      return {
        async next(): Promise<IteratorResult<readonly FileStat[]>> {
          if (running === null) running = start();
          else {
            // The page handed out before is done with: the producer may read on.
            const p = producer;
            producer = null;
            p?.resolve();
          }
          while (slot === null && !finished) await new Promise<void>((resolve) => (consumer = resolve));
          if (slot !== null) {
            const page = slot;
            slot = null;
            return { value: page, done: false };
          }
          // Read through a call: the callbacks set it across the awaits above.
          const f = failed();
          if (f !== null) {
            failure = null;
            throw f.error;
          }
          return { value: undefined, done: true };
        },
        async return(): Promise<IteratorResult<readonly FileStat[]>> {
          stopped = true;
          slot = null;
          const p = producer;
          producer = null;
          p?.reject(new Stopped("the listing's reader stopped"));
          await running;
          return { value: undefined, done: true };
        },
      };
    },
  };
}
