import { describe, expect, it } from "vitest";
import { nodeFsDescriptors, O_PATH, type NodeFsLike } from "./descriptors.js";
import { InlineGate } from "./inline-gate.js";

const constants = { O_CREAT: 0o100, O_DIRECTORY: 0o200000, O_EXCL: 0o200, O_NOFOLLOW: 0o400000, O_WRONLY: 1 };

function fake(): { fs: NodeFsLike; opened: [string, number][]; openedInline: [string, number][]; closed: number[] } {
  const opened: [string, number][] = [];
  const openedInline: [string, number][] = [];
  const closed: number[] = [];
  const fs: NodeFsLike = {
    open: (path, flags, _mode, callback) => {
      opened.push([path, flags]);
      queueMicrotask(() => (path === "/missing" ? callback(Object.assign(new Error("ENOENT"), { code: "ENOENT" }), -1) : callback(null, 7)));
    },
    openSync: (path, flags) => {
      openedInline.push([path, flags]);
      if (path === "/missing") throw Object.assign(new Error("ENOENT"), { code: "ENOENT" });
      return 7;
    },
    closeSync: (fd) => {
      closed.push(fd);
      if (fd === 8) throw new Error("EBADF");
    },
    readlinkSync: (path) => `link of ${path}`,
    fstatSync: (fd) => ({ isDirectory: () => false, isFile: () => fd === 7, isSymbolicLink: () => false, size: 3, mtimeMs: 1000.7, mode: 0o100644, dev: 1, ino: 2 }),
    constants,
  };
  return { fs, opened, openedInline, closed };
}

describe("nodeFsDescriptors", () => {
  it("opens references with O_PATH and creates only with O_EXCL | O_NOFOLLOW", async () => {
    const { fs, opened } = fake();
    const ops = nodeFsDescriptors(fs);
    expect(await ops.openPath("/a", false)).toBe(7);
    expect(await ops.openPath("/d", true)).toBe(7);
    expect(await ops.createNew("/n")).toBe(7);
    expect(opened).toEqual([
      ["/a", O_PATH],
      ["/d", O_PATH | constants.O_DIRECTORY],
      ["/n", constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW | constants.O_WRONLY],
    ]);
    await expect(ops.openPath("/missing", false)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("opens references inline while the gate is open, else by the callback API", async () => {
    const { fs, opened, openedInline } = fake();
    const auto = nodeFsDescriptors(fs, new InlineGate("auto", () => 0));
    expect(await auto.openPath("/a", false)).toBe(7);
    expect(await auto.openPath("/d", true)).toBe(7);
    await expect(auto.openPath("/missing", false)).rejects.toMatchObject({ code: "ENOENT" });
    // Creating a file writes to the disk: never inline.
    expect(await auto.createNew("/n")).toBe(7);
    expect(openedInline).toEqual([
      ["/a", O_PATH],
      ["/d", O_PATH | constants.O_DIRECTORY],
      ["/missing", O_PATH],
    ]);
    expect(await nodeFsDescriptors(fs, new InlineGate("never", () => 0)).openPath("/b", false)).toBe(7);
    expect(opened).toEqual([
      ["/n", constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW | constants.O_WRONLY],
      ["/b", O_PATH],
    ]);
  });

  it("stats a descriptor as the driver's HostStat", () => {
    const { fs } = fake();
    expect(nodeFsDescriptors(fs).stat(7)).toEqual({ kind: "file", size: 3, mtimeMs: 1000.7, mode: 0o100644, dev: 1, ino: 2 });
    expect(nodeFsDescriptors(fs).stat(9).kind).toBe("other");
  });

  it("reads links and closes without ever throwing", async () => {
    const { fs, closed } = fake();
    const ops = nodeFsDescriptors(fs);
    expect(await ops.readLink("/proc/self/fd/7")).toBe("link of /proc/self/fd/7");
    await ops.close(7);
    await ops.close(8);
    expect(closed).toEqual([7, 8]);
  });
});
