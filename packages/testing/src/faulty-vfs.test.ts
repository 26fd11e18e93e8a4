import { describe, expect, it } from "vitest";
import { MemoryFs, VfsError } from "@pasv/driver";
import { FakeClock } from "../../driver/src/fake-platform.test-helper.js";
import { faultyVfs } from "./faulty-vfs.js";
import { FaultInjector } from "./injector.js";
import { parsePlan } from "./plan.js";

function setup(plan: string): { vfs: ReturnType<typeof faultyVfs>; injector: FaultInjector; clock: FakeClock; inner: MemoryFs } {
  const clock = new FakeClock();
  const inner = new MemoryFs({ "a.bin": new Uint8Array(10_000).fill(7) });
  const injector = new FaultInjector({ plan: parsePlan(plan), seed: 1, clock });
  return { vfs: faultyVfs(inner, injector), injector, clock, inner };
}

async function readAll(reader: { chunks(): AsyncIterable<Uint8Array> }): Promise<number> {
  let n = 0;
  for await (const c of reader.chunks()) n += c.length;
  return n;
}

describe("faultyVfs", () => {
  it("enospc-after fails the write that crosses the limit, keeping what fit", async () => {
    const { vfs, injector, inner } = setup("enospc-after=100");
    const w = await vfs.write("/b.bin", "truncate", 0);
    await w.write(new Uint8Array(60));
    await expect(w.write(new Uint8Array(60))).rejects.toEqual(expect.objectContaining({ kind: "no-space" }));
    await expect(w.write(new Uint8Array(1))).rejects.toBeInstanceOf(VfsError);
    await w.close();
    expect((await inner.stat("/b.bin")).size).toBe(100);
    expect(injector.log.map((r) => r.fault)).toEqual(["enospc"]);
  });

  it("eio-after yields that many bytes, then fails with io", async () => {
    const { vfs, injector } = setup("eio-after=4000");
    const r = await vfs.read("/a.bin", 0);
    let n = 0;
    await expect(
      (async () => {
        for await (const c of r.chunks()) n += c.length;
      })(),
    ).rejects.toEqual(expect.objectContaining({ kind: "io" }));
    expect(n).toBe(4000);
    expect(injector.log[0]?.detail).toBe("read of /a.bin failed with EIO after 4000 bytes");
  });

  it("a file shorter than the EIO point reads whole", async () => {
    const { vfs } = setup("eio-after=1M");
    expect(await readAll(await vfs.read("/a.bin", 0))).toBe(10_000);
  });

  it("vanish: the stat'ed file is not found at its next open only", async () => {
    const { vfs } = setup("vanish=1");
    expect((await vfs.stat("/a.bin")).size).toBe(10_000);
    await expect(vfs.read("/a.bin", 0)).rejects.toEqual(expect.objectContaining({ kind: "not-found" }));
    expect(await readAll(await vfs.read("/a.bin", 0))).toBe(10_000);
  });

  it("slow: an operation settles only after delay-ms on the clock", async () => {
    const { vfs, clock } = setup("slow=1,delay-ms=300");
    let done = false;
    void vfs.list("/").then(() => (done = true));
    await Promise.resolve();
    clock.advance(299);
    await new Promise((r) => setTimeout(r, 5));
    expect(done).toBe(false);
    clock.advance(1);
    await new Promise((r) => setTimeout(r, 5));
    expect(done).toBe(true);
  });
});
