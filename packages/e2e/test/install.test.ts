// pasv installed as a user installs it, outside the checkout: the npm tarballs of `npm run pack`
// put in an empty folder (and globally, under a private prefix) run `pasv --help` and serve a
// directory named relative to the caller's working directory; the systemd unit in docs/ passes
// `systemd-analyze verify` against that installed command; the Dockerfile builds where Docker runs.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FtpControl, readAll } from "./ftp-control.js";
import { ROOT, tempDir } from "./server.js";

const deno = process.env.PASV_E2E_SERVER === "deno";
const dir = tempDir("pasv-install-");
afterAll(() => dir.remove());

/** Starts `command` in `cwd`, waits for its ready line, serves one RETR, then SIGTERMs it; returns what it printed. */
async function serveOnce(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<{ out: string; served: string; code: number | null }> {
  const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let out = "";
  child.stderr.on("data", (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ready line:\n${out}`)), 60_000);
      child.stdout.on("data", (b: Buffer) => {
        out += b.toString();
        const m = /"event":"server\.start","address":"127\.0\.0\.1","port":(\d+)/.exec(out);
        if (m !== null) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      void exited.then((code) => reject(new Error(`exited with ${String(code)} before its ready line:\n${out}`)));
    });
    const c = await FtpControl.connect(port);
    await c.login();
    const data = readAll(await c.pasv());
    expect((await c.cmd("RETR hello.txt")).code).toBe(150);
    expect((await c.reply()).code).toBe(226);
    const served = (await data).toString();
    c.close();
    return { out, served, code: null };
  } finally {
    if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, "SIGTERM");
    await exited;
  }
}

/** A caller's directory holding `served/hello.txt`: DIR is given as the relative name "served". */
function callerDir(name: string): string {
  const caller = path.join(dir.dir, name);
  mkdirSync(path.join(caller, "served"), { recursive: true });
  writeFileSync(path.join(caller, "served", "hello.txt"), `hello from ${name}`);
  return caller;
}

const run = (command: string, args: readonly string[], cwd: string): string => execFileSync(command, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 180_000 });

describe(`installed like a service (${deno ? "deno" : "node"})`, () => {
  if (deno) {
    it("the Deno command serves DIR relative to the caller's working directory", async () => {
      const caller = callerDir("deno-caller");
      const r = await serveOnce("bash", [path.join(ROOT, "scripts/deno.sh"), "run", "-A", path.join(ROOT, "packages/deno/src/main.ts"), "served", "-p", "0"], caller);
      expect(r.out).toContain(`"root":${JSON.stringify(path.join(caller, "served"))}`);
      expect(r.served).toBe("hello from deno-caller");
    }, 120_000);
    return;
  }

  it("npm start -- DIR resolves DIR against the caller's directory, not the checkout", async () => {
    const caller = callerDir("npm-caller");
    // npm passes the caller's directory as INIT_CWD and runs the script from the checkout's root.
    const r = await serveOnce("npm", ["--prefix", ROOT, "start", "--silent", "--", "served", "-p", "0"], caller);
    expect(r.out).toContain(`"root":${JSON.stringify(path.join(caller, "served"))}`);
    expect(r.served).toBe("hello from npm-caller");
  }, 120_000);

  let tarballs: string[] = [];
  it("npm run pack makes one tarball per package the command needs; installed into an empty folder, `pasv --help` runs and `pasv DIR` serves", async () => {
    const packed = path.join(dir.dir, "pack");
    // The suite has built already; pack what is built.
    execFileSync("node", ["--import", "tsx", path.join(ROOT, "scripts/pack.ts"), packed], { env: { ...process.env, PASV_PACK_NO_BUILD: "1" }, stdio: ["ignore", "pipe", "inherit"], timeout: 120_000 });
    tarballs = readdirSync(packed).map((f) => path.join(packed, f));
    const names = readdirSync(packed).sort();
    expect(names).toEqual(expect.arrayContaining(["pasv-cli-0.1.0.tgz", "pasv-core-0.1.0.tgz", "pasv-driver-0.1.0.tgz", "pasv-node-0.1.0.tgz"]));
    // No workspace: protocol is left for npm to choke on, and no build info or test file ships.
    for (const t of tarballs) {
      const manifest = run("tar", ["-xzOf", t, "package/package.json"], dir.dir);
      expect(manifest).not.toContain("workspace:");
      const files = run("tar", ["-tzf", t], dir.dir);
      expect(files).not.toMatch(/tsbuildinfo|\.test\.js/);
    }
    const app = path.join(dir.dir, "app");
    mkdirSync(app);
    writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "empty", private: true }));
    run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", ...tarballs], app);
    const bin = path.join(app, "node_modules", ".bin", "pasv");
    const help = spawnSync(bin, ["--help"], { encoding: "utf8", timeout: 30_000 });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^Usage: pasv \[DIR\]/);
    const caller = callerDir("installed-caller");
    const r = await serveOnce(bin, ["served", "-p", "0"], caller);
    expect(r.out).toContain(`"root":${JSON.stringify(path.join(caller, "served"))}`);
    expect(r.served).toBe("hello from installed-caller");
  }, 300_000);

  it("npm i -g of the tarballs gives a `pasv` on the prefix's PATH, and `npx -p` runs them without an install", async () => {
    expect(tarballs.length).toBeGreaterThan(0);
    const prefix = path.join(dir.dir, "global");
    run("npm", ["install", "--global", "--prefix", prefix, "--no-audit", "--no-fund", "--prefer-offline", ...tarballs], dir.dir);
    const bin = path.join(prefix, "bin", "pasv");
    expect(run(bin, ["--version"], dir.dir)).toMatch(/^pasv 0\.1\.0 \(node\)/);
    const caller = callerDir("global-caller");
    const r = await serveOnce("pasv", ["served", "-p", "0"], caller, { ...process.env, PATH: `${path.join(prefix, "bin")}:${process.env.PATH ?? ""}` });
    expect(r.served).toBe("hello from global-caller");
    const npx = path.join(dir.dir, "npx-caller");
    mkdirSync(npx);
    expect(run("npx", ["--yes", ...tarballs.flatMap((t) => ["-p", t]), "pasv", "--version"], npx)).toMatch(/^pasv 0\.1\.0 \(node\)/);

    // The unit in docs/, with ExecStart pointing at this install instead of /usr/local/bin/pasv:
    // systemd-analyze verify exits 0 and has nothing to say (it warns on unknown keys with exit 0).
    const unit = readFileSync(path.join(ROOT, "docs/pasv.service"), "utf8");
    expect(unit).toContain("ExecStart=/usr/local/bin/pasv ");
    const units = path.join(dir.dir, "units");
    mkdirSync(units);
    writeFileSync(path.join(units, "pasv.service"), unit.replace("ExecStart=/usr/local/bin/pasv ", `ExecStart=${bin} `));
    const verify = spawnSync("systemd-analyze", ["verify", path.join(units, "pasv.service")], { encoding: "utf8", timeout: 60_000 });
    expect(verify.error).toBeUndefined();
    expect({ status: verify.status, stderr: verify.stderr.trim(), stdout: verify.stdout.trim() }).toEqual({ status: 0, stderr: "", stdout: "" });
  }, 300_000);

  it("the Dockerfile in docs/ builds and its image serves (where a Docker daemon runs)", (ctx) => {
    const info = spawnSync("docker", ["info"], { encoding: "utf8", timeout: 20_000 });
    if (info.error !== undefined || info.status !== 0) {
      // The issue allows it: Docker is absent on this machine (no daemon); the unit file is still checked above.
      ctx.skip();
      return;
    }
    run("docker", ["build", "-f", "docs/Dockerfile", "-t", "pasv-e2e-test", "."], ROOT);
    expect(run("docker", ["run", "--rm", "pasv-e2e-test", "--version"], ROOT)).toMatch(/^pasv 0\.1\.0/);
  }, 900_000);
});
