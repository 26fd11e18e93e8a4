import { describe, expect, it } from "vitest";
import { fileStat, fromNodeStats } from "./host-stat.js";

const stats = (kind: "dir" | "file" | "link" | "fifo") => ({
  isDirectory: () => kind === "dir",
  isFile: () => kind === "file",
  isSymbolicLink: () => kind === "link",
  size: 123,
  mtimeMs: 1700000000123.9,
  mode: 0o100754,
  dev: 0x2a,
  ino: 0xff,
});

describe("host stats", () => {
  it("maps node:fs Stats, and turns any host's stat into the core's FileStat by one rule", () => {
    expect(fromNodeStats(stats("fifo")).kind).toBe("other");
    expect(fileStat("a", fromNodeStats(stats("file")))).toEqual({ name: "a", type: "file", size: 123, mtime: 1700000000123, mode: 0o754, unique: "2aUff" });
    expect(fileStat("d", fromNodeStats(stats("dir"))).size).toBe(4096);
    expect(fileStat("l", fromNodeStats(stats("link")), "/x")).toMatchObject({ type: "symlink", target: "/x" });
  });
});
