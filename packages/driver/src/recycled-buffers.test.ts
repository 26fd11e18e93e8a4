import { describe, expect, it } from "vitest";
import { settle } from "./fake-platform.test-helper.js";
import { VfsError } from "./vfs.js";
import { DownloadReader, RecycledBuffers, type ChunkSource } from "./recycled-buffers.js";

describe("RecycledBuffers", () => {
  it("reuses only lent buffers, each once, up to the spare count", () => {
    const pool = new RecycledBuffers(16, 2);
    const [a, b, c] = [pool.take(), pool.take(), pool.take()];
    for (const x of [a, b, c]) pool.lend(x.subarray(0, 5));
    // A stranger and an unlent buffer are ignored.
    pool.recycle(new Uint8Array(16));
    pool.recycle(pool.take().subarray(0, 3));
    // Twice the same buffer: it comes back once.
    pool.recycle(a.subarray(0, 5));
    pool.recycle(a.subarray(0, 5));
    pool.recycle(b.subarray(0, 5));
    pool.recycle(c.subarray(0, 5)); // over the spare count: dropped
    const again = [pool.take(), pool.take(), pool.take()];
    expect(again.map((x) => x.buffer)).toEqual([b.buffer, a.buffer, expect.anything()]);
    expect(again[2]!.buffer).not.toBe(c.buffer);
    expect(again.every((x) => x.length === 16 && x.byteOffset === 0)).toBe(true);
  });

  it("keeps nothing after clear()", () => {
    const pool = new RecycledBuffers(8, 4);
    const a = pool.take();
    pool.lend(a);
    pool.clear();
    pool.recycle(a);
    expect(pool.take().buffer).not.toBe(a.buffer);
  });
});

/** A file in memory whose reads the test completes by hand, recording every buffer read into. */
class ManualSource implements ChunkSource {
  readonly reads: { into: Uint8Array; position: number; done: (n?: number) => void }[] = [];
  closed = 0;

  constructor(private readonly data: Uint8Array) {}

  read(into: Uint8Array, position: number): Promise<number> {
    return new Promise((resolve) => {
      this.reads.push({
        into,
        position,
        done: (n = Math.min(into.length, Math.max(0, this.data.length - position))) => {
          into.set(this.data.subarray(position, position + n));
          resolve(n);
        },
      });
    });
  }

  close(): Promise<void> {
    this.closed++;
    return Promise.resolve();
  }

  /** Distinct buffers read into so far: what the download allocated. */
  get buffers(): number {
    return new Set(this.reads.map((r) => r.into.buffer)).size;
  }
}

const tick = (): Promise<void> => settle();

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function fileOf(size: number): Uint8Array {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 31 + (i >> 9)) & 0xff;
  return data;
}

describe("DownloadReader", () => {
  it("sizes its one buffer to what is left of a small file, and reads it once", async () => {
    const data = fileOf(64 * 1024);
    const source = new ManualSource(data);
    const reader = new DownloadReader(source, 1000, data.length, 1024 * 1024);
    expect(reader.bufferBytes).toBe(data.length - 1000);
    const it = reader.chunks()[Symbol.asyncIterator]();
    const first = it.next();
    await tick();
    expect(source.reads.map((r) => [r.position, r.into.length])).toEqual([[1000, data.length - 1000]]);
    source.reads[0]!.done();
    const chunk = (await first).value as Uint8Array;
    expect(chunk.buffer.byteLength).toBe(data.length - 1000);
    expect(chunk).toEqual(data.subarray(1000));
    reader.recycle(chunk);
    // The size from open is reached: no read to find the end.
    expect((await it.next()).done).toBe(true);
    expect(source.reads.length).toBe(1);
    await reader.close();
    expect(source.closed).toBe(1);
  });

  it("a consumer that stops pulling (its peer stopped reading) leaves one chunk held, no read ahead", async () => {
    const chunkBytes = 1024;
    const data = fileOf(10 * chunkBytes);
    const source = new ManualSource(data);
    const reader = new DownloadReader(source, 0, data.length, chunkBytes);
    const it = reader.chunks()[Symbol.asyncIterator]();
    // A draining connection: each chunk comes back (flushed) before the next pull, and the next
    // read starts at that moment, ahead of the pull.
    const got: Uint8Array[] = [];
    let next = it.next();
    await tick();
    for (let i = 0; i < 3; i++) {
      source.reads[i]!.done();
      const chunk = (await next).value as Uint8Array;
      got.push(chunk.slice());
      expect(reader.held).toBe(1);
      reader.recycle(chunk);
      expect(source.reads.length).toBe(i + 2); // read ahead on the recycle
      next = it.next();
    }
    // The fourth chunk goes out and is never flushed: nothing more is read, however long it waits.
    source.reads[3]!.done();
    const stuck = (await next).value as Uint8Array;
    for (let i = 0; i < 5; i++) await tick();
    expect(source.reads.length).toBe(4);
    expect(reader.held).toBe(1);
    expect(source.buffers).toBe(1);
    expect([...got, stuck].map((c) => c.length)).toEqual([chunkBytes, chunkBytes, chunkBytes, chunkBytes]);
    expect(stuck).toEqual(data.subarray(3 * chunkBytes, 4 * chunkBytes));
    await reader.close();
    reader.recycle(stuck); // after close: ignored
    expect(source.closed).toBe(1);
  });

  it("a consumer that pulls without recycling still gets every byte, in order, with no read ahead", async () => {
    const data = fileOf(5000);
    const source = new ManualSource(data);
    const reader = new DownloadReader(source, 0, data.length, 1024);
    const parts: Uint8Array[] = [];
    const all = (async () => {
      for await (const c of reader.chunks()) parts.push(c.slice());
    })();
    for (let i = 0; i < 5; i++) {
      await tick();
      expect(source.reads.length).toBe(i + 1);
      source.reads[i]!.done();
    }
    await all;
    expect(concat(parts)).toEqual(data);
    expect(source.reads.map((r) => r.into.length)).toEqual([1024, 1024, 1024, 1024, 5000 - 4096]);
    await reader.close();
  });

  it("ends at an empty read when the file shrank, and sends nothing from past the end or of an empty file", async () => {
    const source = new ManualSource(fileOf(100));
    const reader = new DownloadReader(source, 0, 3000, 1024);
    const parts: number[] = [];
    const all = (async () => {
      for await (const c of reader.chunks()) {
        parts.push(c.length);
        reader.recycle(c);
      }
    })();
    await tick();
    source.reads[0]!.done();
    await tick();
    source.reads[1]!.done();
    await all;
    expect(parts).toEqual([100]);
    expect(source.reads.map((r) => r.position)).toEqual([0, 100]);
    for (const [offset, size] of [[0, 0], [10, 5]] as const) {
      const none = new ManualSource(fileOf(size));
      const r = new DownloadReader(none, offset, size, 1024);
      for await (const c of r.chunks()) throw new Error(`unexpected chunk of ${c.length}`);
      expect(none.reads.length).toBe(0);
      await r.close();
    }
  });

  it("close() during a read waits for it before closing the file, once, and stops the chunks", async () => {
    const source = new ManualSource(fileOf(4096));
    const reader = new DownloadReader(source, 0, 4096, 1024);
    const it = reader.chunks()[Symbol.asyncIterator]();
    const first = it.next();
    await tick();
    const closing = reader.close();
    const again = reader.close();
    await tick();
    expect(source.closed).toBe(0);
    source.reads[0]!.done();
    await Promise.all([closing, again]);
    expect(source.closed).toBe(1);
    expect((await first).done).toBe(true);
  });

  it("a failed read is thrown as a VfsError", async () => {
    const source: ChunkSource = { read: () => Promise.reject(Object.assign(new Error("EIO: i/o error"), { code: "EIO" })), close: () => Promise.resolve() };
    const reader = new DownloadReader(source, 0, 10, 1024);
    await expect((async () => {
      for await (const c of reader.chunks()) expect(c).toBeUndefined();
    })()).rejects.toBeInstanceOf(VfsError);
    await reader.close();
  });
});
