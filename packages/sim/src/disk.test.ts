import { O_PATH, VfsError } from "@pasv/driver";
import { describe, expect, it } from "vitest";
import { buildHost, DiskVfs, raceSwaps, SECRET, SimDisk, type DiskConfinement } from "./disk.js";
import { Prng } from "./prng.js";
import { World } from "./world.js";

function host(confine: DiskConfinement): { world: World; disk: SimDisk; vfs: DiskVfs } {
  const world = new World();
  const disk = new SimDisk(world, new Prng(3), "/srv/ftp", 2);
  buildHost(disk);
  return { world, disk, vfs: new DiskVfs(disk, confine) };
}

/** Runs `work` while the world turns, and returns its outcome. */
async function settle<T>(world: World, work: Promise<T>): Promise<{ ok: T } | { error: unknown }> {
  const out = work.then(
    (ok) => ({ ok }),
    (error: unknown) => ({ error }),
  );
  await world.run(world.now + 1_000);
  return out;
}

const kind = (r: { ok: unknown } | { error: unknown }): string => ("error" in r ? (r.error instanceof VfsError ? r.error.kind : "thrown") : "ok");

describe("the simulated disk", () => {
  it("follows symlinks inside the root and refuses every way out, through the driver's confinement", async () => {
    for (const confine of ["descriptor", "name"] as const) {
      const { world, disk, vfs } = host(confine);
      expect(kind(await settle(world, vfs.stat("/links/in-file")))).toBe("ok");
      expect(kind(await settle(world, vfs.list("/links/chain")))).toBe("ok");
      for (const out of ["/links/out-file", "/links/out-dir", "/links/out-rel", "/links/sibling/secret.txt", "/links/up", "/links/dangling-out"]) {
        expect(kind(await settle(world, vfs.stat(out))), `${confine} stat ${out}`).not.toBe("ok");
        expect(kind(await settle(world, vfs.write(out, "truncate", 0))), `${confine} write ${out}`).not.toBe("ok");
      }
      expect(kind(await settle(world, vfs.stat("/links/loop")))).toBe("permission");
      expect(disk.escapes).toEqual([]);
      expect(disk.openDescriptors).toBe(0);
    }
  });

  it("reports a host call that lands outside the root (confinement skipped)", async () => {
    const { world, disk, vfs } = host("none");
    const read = await settle(world, vfs.read("/links/out-file", 0));
    expect(kind(read)).toBe("ok");
    expect(disk.escapes).toContain("read /outside/secret.txt");
    await settle(world, vfs.write("/links/dangling-out", "truncate", 0));
    expect(disk.escapes).toContain("create /outside/planted.txt");
  });

  it("reads /proc/self/fd/N as the inode's path, ' (deleted)' once unlinked, and swaps entries atomically", async () => {
    const { world, disk } = host("descriptor");
    const opened = await settle(world, new Promise<number>((resolve, reject) => disk.nodeFs.open("/srv/ftp/race/file", O_PATH, 0, (e, n) => (e === null ? resolve(n) : reject(e)))));
    const fd = "ok" in opened ? opened.ok : -1;
    expect(disk.nodeFs.readlinkSync(`/proc/self/fd/${fd}`)).toBe("/srv/ftp/race/file");
    expect(disk.exchange("/srv/ftp/race/file", "/srv/ftp/race/.file")).toBe(true);
    // The descriptor holds the inode, wherever its name went.
    expect(disk.nodeFs.readlinkSync(`/proc/self/fd/${fd}`)).toBe("/srv/ftp/race/.file");
    expect(new TextDecoder().decode(disk.peek("/srv/ftp/race/file"))).toBe(SECRET);
    await settle(world, disk.unlink("/srv/ftp/race/.file"));
    expect(disk.nodeFs.readlinkSync(`/proc/self/fd/${fd}`)).toBe("/srv/ftp/race/.file (deleted)");
    disk.nodeFs.closeSync(fd);
    expect(disk.openDescriptors).toBe(0);
  });

  it("the attacker's swaps each trade an entry for its symlink and back", () => {
    const { disk } = host("descriptor");
    const before = disk.peek("/srv/ftp/race/file");
    for (const swap of raceSwaps(disk)) expect(swap()).toBe(true);
    expect(new TextDecoder().decode(disk.peek("/srv/ftp/race/file"))).toBe(SECRET);
    expect(disk.peek("/srv/ftp/race/.file")).toEqual(before);
    expect(disk.swaps).toBe(4);
  });
});
