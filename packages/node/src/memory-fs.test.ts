import { MemoryFs as DriverMemoryFs } from "@pasv/driver";
import { describe, expect, it } from "vitest";
import { MemoryFs } from "./index.js";

describe("MemoryFs", () => {
  it("is the driver's one in-memory file system, offered by @pasv/node too", async () => {
    expect(MemoryFs).toBe(DriverMemoryFs);
    const fs = new MemoryFs({ d: { "a.txt": "hi" } });
    await fs.rename("/d", "/e");
    expect(new TextDecoder().decode(fs.readFile("/e/a.txt"))).toBe("hi");
  });
});
