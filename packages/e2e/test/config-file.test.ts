// `pasv --config FILE` through the real server (Node by default, Deno with PASV_E2E_SERVER=deno;
// the same expectations for both): the file's root, passive range, caps and [[user]] tables are
// honoured, a flag on the command line overrides the file, and a broken file stops the start with
// one line naming the file, the line and the key.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FtpControl } from "./ftp-control.js";
import { startServer, tempDir, type RunningServer } from "./server.js";

const outer = tempDir("pasv-config-");
const started: RunningServer[] = [];
/** A small range of its own, below the ephemeral ports, so the check that PASV stays in it means something. */
const LOW = 30_000 + Math.floor(Math.random() * 900) * 10;
const HIGH = LOW + 9;
const hash = execFileSync("openssl", ["passwd", "-6", "-salt", "pasvconfig", "s3cret"], { encoding: "utf8" }).trim();

mkdirSync(path.join(outer.dir, "srv", "cams", "cam1"), { recursive: true });
writeFileSync(path.join(outer.dir, "srv", "cams", "cam1", "old.jpg"), "jpeg");
writeFileSync(path.join(outer.dir, "srv", "top.txt"), "top");
const config = path.join(outer.dir, "pasv.toml");
writeFileSync(
  config,
  [
    "# served directory relative to this file",
    'root = "srv"',
    `pasv-ports = "${LOW}-${HIGH}"`,
    "max-sessions = 2",
    "no-anonymous = true",
    "",
    "[[user]]",
    'name = "cam1"',
    `password-hash = "${hash}"`,
    'home = "cams/cam1"',
    'permissions = "upload-only"',
    "",
  ].join("\n"),
);

afterAll(async () => {
  await Promise.all(started.map((s) => s.stop()));
  outer.remove();
});

async function serve(flags: readonly string[]): Promise<RunningServer> {
  const s = await startServer(outer.dir, ["--config", config, ...flags], { noDir: true });
  started.push(s);
  return s;
}

describe("--config FILE", () => {
  it("serves the file's root, range, caps and users", async () => {
    const s = await serve([]);
    const c = await FtpControl.connect(s.port);
    await c.login("cam1", "s3cret");
    // The home is the user's "/": the served root's top.txt is out of reach.
    expect((await c.cmd("SIZE /top.txt")).code).toBe(550);
    expect((await c.cmd("PWD")).lines[0]).toMatch(/^"\/"/);
    const port = await c.pasv();
    expect(port).toBeGreaterThanOrEqual(LOW);
    expect(port).toBeLessThanOrEqual(HIGH);
    // upload-only: no download.
    expect((await c.cmd("RETR old.jpg")).code).toBe(550);
    const second = await FtpControl.connect(s.port);
    expect((await second.greeting()).code).toBe(220);
    const third = await FtpControl.connect(s.port);
    expect((await third.greeting()).code).toBe(421);
    for (const x of [c, second, third]) x.close();
  });

  it("lets a flag on the command line override the file", async () => {
    const s = await serve(["--max-sessions", "5"]);
    const sessions = await Promise.all([1, 2, 3].map(() => FtpControl.connect(s.port)));
    for (const x of sessions) expect((await x.greeting()).code).toBe(220);
    for (const x of sessions) x.close();
  });

  it("stops the start with the file, line and key of a mistake", async () => {
    const broken = path.join(outer.dir, "broken.toml");
    writeFileSync(broken, 'root = "srv"\nmax-sesions = 2\n');
    await expect(startServer(outer.dir, ["--config", broken], { noDir: true })).rejects.toThrow(`pasv: ${broken}:2: max-sesions: unknown key`);
    writeFileSync(broken, 'root = "srv"\n\n[[user]]\nname = "x"\npassword-hash = "plaintext"\n');
    await expect(startServer(outer.dir, ["--config", broken], { noDir: true })).rejects.toThrow(`pasv: ${broken}:5: user x: password-hash is not a recognised hash`);
  });
});
