// Login cost: logins per second for a user whose --users line is argon2id (`pasv hash-password`,
// OWASP m=19 MiB t=2 p=1) and one whose line is bcrypt (htpasswd -B -C 10), with the server's CPU
// per login; then the server CPU of 1,000 failed logins (wrong password for an htpasswd -B user,
// htpasswd's default cost 5), run over many parallel sessions because each failure waits ~2 s and
// the third closes the session. That wait is a timer, so it should cost no CPU: the figure is the
// hash checks plus the connections. Node and Deno. Figures are printed, never asserted.
// Run: pnpm bench login [--logins N] [--parallel N] [--failures N] [--fail-parallel N] [--runtime node|deno]
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { FtpControl } from "../test/ftp-control.js";
import { ROOT, startPasv, waitForPort, type Server } from "./servers.js";

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : process.argv[i + 1];
};
const logins = Number(arg("--logins") ?? 30);
const parallel = Number(arg("--parallel") ?? 4);
const failures = Number(arg("--failures") ?? 1000);
const failParallel = Number(arg("--fail-parallel") ?? 60);
const runtimes = (arg("--runtime")?.split(",") ?? ["node", "deno"]) as ("node" | "deno")[];

function cpuMs(server: Server): number {
  return server.tree.cpuSeconds() * 1000;
}

/** USER+PASS on a fresh connection; the reply code to PASS (and QUIT after a success). */
async function attempt(port: number, user: string, password: string): Promise<number> {
  const c = await FtpControl.connect(port);
  try {
    await c.greeting();
    await c.cmd(`USER ${user}`);
    const code = (await c.cmd(`PASS ${password}`)).code;
    if (code === 230) await c.cmd("QUIT").catch(() => undefined);
    return code;
  } finally {
    c.close();
  }
}

async function loginRate(server: Server, user: string, password: string): Promise<string> {
  await attempt(server.port, user, password); // warm-up (JIT, first allocation of the hash memory)
  const cpu0 = cpuMs(server);
  const start = Date.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < logins) {
      next++;
      const code = await attempt(server.port, user, password);
      if (code !== 230) throw new Error(`${server.name}: ${user} got ${code}`);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  const seconds = (Date.now() - start) / 1000;
  const cpu = cpuMs(server) - cpu0;
  return `${(logins / seconds).toFixed(1)} logins/s, ${(cpu / logins).toFixed(0)} ms server CPU per login`;
}

/** Sessions turned away at the greeting (the per-address cap counts a closing session until it is gone). */
let refused = 0;

/** One session failing until the server closes it; the failures it made. */
async function failingSession(port: number, budget: { left: number }): Promise<number> {
  const c = await FtpControl.connect(port);
  let failed = 0;
  try {
    if ((await c.greeting()).code !== 220) {
      refused++;
      await new Promise((resolve) => setTimeout(resolve, 100));
      return 0;
    }
    while (budget.left > 0) {
      // Claimed before the reply so the parallel sessions stop at `failures` in all.
      budget.left--;
      await c.cmd("USER carol");
      const r = await c.cmd("PASS wrong-guess");
      if (r.code !== 530 && r.code !== 421) throw new Error(`failed login got ${r.code}`);
      failed++;
      if (r.code === 421) break;
    }
  } finally {
    c.close();
  }
  return failed;
}

async function failedLogins(server: Server): Promise<string> {
  const cpu0 = cpuMs(server);
  const start = Date.now();
  const budget = { left: failures };
  let failed = 0;
  const worker = async (): Promise<void> => {
    while (budget.left > 0) {
      // Awaited first: `failed += await …` would add to the value read before the wait.
      const n = await failingSession(server.port, budget);
      failed += n;
    }
  };
  await Promise.all(Array.from({ length: failParallel }, worker));
  const seconds = (Date.now() - start) / 1000;
  const cpu = cpuMs(server) - cpu0;
  return `${failed} failed logins in ${seconds.toFixed(1)} s over ${failParallel} connections (${refused} connects turned away): ${(cpu / 1000).toFixed(2)} s server CPU (${(cpu / failed).toFixed(2)} ms each)`;
}

const work = mkdtempSync(path.join(tmpdir(), "pasv-login-bench-"));
try {
  const served = path.join(work, "served");
  execFileSync("mkdir", ["-p", served]);
  const hashed = spawnSync(process.execPath, [path.join(ROOT, "packages/cli/dist/main.js"), "hash-password"], { input: "argon-pw\n", encoding: "utf8" });
  if (hashed.status !== 0) throw new Error(`pasv hash-password failed: ${hashed.stderr}`);
  const lines = [
    `anna:${hashed.stdout.trim()}`,
    execFileSync("htpasswd", ["-nbB", "-C", "10", "bert", "bcrypt-pw"], { encoding: "utf8" }).trim(),
    execFileSync("htpasswd", ["-nbB", "carol", "carol-pw"], { encoding: "utf8" }).trim(),
  ];
  const usersFile = path.join(work, "users");
  writeFileSync(usersFile, `${lines.join("\n")}\n`);
  let port = 22000;
  for (const runtime of runtimes) {
    refused = 0;
    const server = startPasv(runtime, served, port, { flags: ["--users", usersFile, "--max-sessions-per-ip", String(Math.max(failParallel, parallel) + 4), "--ban-after", "0"] });
    try {
      waitForPort(port);
      console.log(`pasv (${runtime}) argon2id m=19456 t=2 p=1, ${parallel} clients: ${await loginRate(server, "anna", "argon-pw")}`);
      console.log(`pasv (${runtime}) bcrypt cost 10, ${parallel} clients: ${await loginRate(server, "bert", "bcrypt-pw")}`);
      console.log(`pasv (${runtime}) bcrypt cost 5 wrong password: ${await failedLogins(server)}`);
    } finally {
      await server.tree.stop();
    }
    port += 1000;
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
