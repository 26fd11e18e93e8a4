import { describe, expect, it } from "vitest";
import { RecycledBuffers } from "./recycled-buffers.js";

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
