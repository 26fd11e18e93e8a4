// A symlink whose target holds CR/LF cannot forge rows in a listing, on any runtime
// (PASV_E2E_SERVER picks it; the same expectations for both). The target comes from the disk, so
// no name check ever saw it.
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FtpControl, readAll } from "./ftp-control.js";
import { startServer, tempDir, type RunningServer } from "./server.js";

let server: RunningServer;
const root = tempDir("pasv-list-");
const FORGED = "x\r\n-rw-r--r--    1 ftp      ftp             1 Jan 01 00:00 FAKE-INJECTED-ENTRY\r\n226 done";

beforeAll(async () => {
  writeFileSync(path.join(root.dir, "real.txt"), "real");
  symlinkSync(FORGED, path.join(root.dir, "link"));
  mkdirSync(path.join(root.dir, "names"));
  writeFileSync(path.join(root.dir, "names", "ok.txt"), "ok");
  // A name on the disk may hold CR and LF too; it must never become rows of its own.
  writeFileSync(path.join(root.dir, "names", FORGED.replace("226 done", "FAKE-BY-NAME")), "name");
  server = await startServer(root.dir, []);
});

afterAll(async () => {
  await server.stop();
  root.remove();
});

describe("listings and link targets", () => {
  it("LIST shows one row per entry even when a link target holds CR/LF, and STAT of the directory too", async () => {
    const c = await FtpControl.connect(server.port);
    await c.login();
    const data = readAll(await c.pasv());
    expect((await c.cmd("LIST")).code).toBe(150);
    expect((await c.reply()).code).toBe(226);
    const rows = (await data).toString().split("\r\n").filter((l) => l !== "");
    expect(rows).toHaveLength(3); // real.txt, link, names
    expect(rows.some((r) => /^-.* FAKE-INJECTED-ENTRY$/.test(r))).toBe(false);
    const stat = await c.cmd("STAT /");
    expect(stat.code).toBe(213);
    expect(stat.lines.some((l) => /^\s*-.* FAKE-INJECTED-ENTRY$/.test(l) || /^226/.test(l))).toBe(false);
    c.close();
  });

  it("LIST, NLST, MLSD and STAT never carry a CR or LF from a file's name", async () => {
    const c = await FtpControl.connect(server.port);
    await c.login();
    for (const verb of ["LIST", "NLST", "MLSD"]) {
      const data = readAll(await c.pasv());
      expect((await c.cmd(`${verb} /names`)).code, verb).toBe(150);
      expect((await c.reply()).code, verb).toBe(226);
      const rows = (await data).toString().split("\r\n").filter((l) => l !== "");
      expect(rows.every((r) => !/FAKE|^-rw/.test(r) || /ok\.txt$/.test(r)), `${verb}: ${JSON.stringify(rows)}`).toBe(true);
      expect(rows.some((r) => r.endsWith("ok.txt")), verb).toBe(true);
    }
    const stat = await c.cmd("STAT /names");
    expect(stat.code).toBe(213);
    expect(stat.lines.some((l) => l.includes("FAKE"))).toBe(false);
    c.close();
  });
});
