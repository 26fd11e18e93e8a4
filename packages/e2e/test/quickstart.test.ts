// The README's first command, run as a user would: it serves, prints one ready line, stops on SIGTERM.
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FtpControl, readAll } from "./ftp-control.js";
import { ROOT, tempDir } from "./server.js";

const dir = tempDir();
afterAll(() => dir.remove());

// The README's command runs the Node server; the Deno entry point is exercised by every other file.
describe.skipIf(process.env.PASV_E2E_SERVER === "deno")("quick start", () => {
  it("npm start -- DIR serves DIR read-only to anonymous users and stops cleanly on SIGTERM", async () => {
    writeFileSync(path.join(dir.dir, "readme.txt"), "served");
    const child = spawn("npm", ["start", "--silent", "--", dir.dir, "-p", "0"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], detached: true });
    let out = "";
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ready line:\n${out}`)), 120_000);
      child.stdout.on("data", (b: Buffer) => {
        out += b.toString();
        const m = /pasv: serving .* on ftp:\/\/127\.0\.0\.1:(\d+) \(anonymous read-only\)/.exec(out);
        if (m !== null) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      child.stderr.on("data", (b: Buffer) => (out += b.toString()));
    });
    try {
      expect(out.match(/pasv: serving/g)).toHaveLength(1);
      const c = await FtpControl.connect(port);
      await c.login();
      const data = readAll(await c.pasv());
      expect((await c.cmd("RETR readme.txt")).code).toBe(150);
      expect((await c.reply()).code).toBe(226);
      expect((await data).toString()).toBe("served");
      expect((await c.cmd("STOR nope.txt")).code).toBe(550);
      c.close();
    } finally {
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      const started = Date.now();
      // npm runs the server in a child process group; signal the whole group, as a terminal would.
      if (child.pid !== undefined) process.kill(-child.pid, "SIGTERM");
      await exited;
      expect(Date.now() - started).toBeLessThan(3_000);
      // (npm itself reports the signal; the server's own exit code is checked in server.ts-based tests.)
      expect(out).toContain("pasv: SIGTERM, stopping");
    }
  }, 180_000);
});
