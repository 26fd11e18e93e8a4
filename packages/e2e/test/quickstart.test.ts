// The README's command for each runtime, run as a user would: it serves, prints one ready line, and
// stops on SIGTERM. On Node that is `npm start -- DIR`; on Deno `bash scripts/deno.sh run -A
// packages/deno/src/main.ts DIR`, whose PID is the Deno server itself (no launcher left behind).
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { canConnect, FtpControl, readAll } from "./ftp-control.js";
import { ROOT, tempDir } from "./server.js";

const dir = tempDir();
afterAll(() => dir.remove());

const readme: [string, string[]] =
  process.env.PASV_E2E_SERVER === "deno" ? ["bash", ["scripts/deno.sh", "run", "-A", "packages/deno/src/main.ts", dir.dir, "-p", "0"]] : ["npm", ["start", "--silent", "--", dir.dir, "-p", "0"]];

describe("quick start", () => {
  it("the README's command serves DIR read-only to anonymous users and stops cleanly on SIGTERM", async () => {
    writeFileSync(path.join(dir.dir, "readme.txt"), "served");
    const child = spawn(readme[0], readme[1], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], detached: true });
    let out = "";
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ready line:\n${out}`)), 120_000);
      child.stdout.on("data", (b: Buffer) => {
        out += b.toString();
        const m = /"event":"server\.start","address":"127\.0\.0\.1","port":(\d+),.*"access":"anonymous read-only"/.exec(out);
        if (m !== null) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      child.stderr.on("data", (b: Buffer) => (out += b.toString()));
    });
    try {
      expect(out.match(/"event":"server\.start"/g)).toHaveLength(1);
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
      // Signal the whole process group, as a terminal would (npm runs the server as its child).
      if (child.pid !== undefined) process.kill(-child.pid, "SIGTERM");
      await exited;
      expect(Date.now() - started).toBeLessThan(3_000);
      // (npm itself reports the signal; the server's own exit code is checked in server.ts-based tests.)
      expect(out).toContain('"event":"server.stop","signal":"SIGTERM"');
      // Nothing of the server is left behind: the port is free again.
      expect(await canConnect(port)).toBe(false);
    }
  }, 180_000);
});
