// --users FILE through the real server process (Node, or Deno with PASV_E2E_SERVER=deno): files
// written by the real htpasswd -B and mkpasswd log their users in, a wrong password gets 530, a
// plaintext line and the account-hygiene mistakes stop the start with one line and exit 2, and
// `pasv hash-password` prints a hash that works in such a file.
import { execFileSync, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FtpControl } from "./ftp-control.js";
import { cliCommand, haveTool, startServer, tempDir, type RunningServer } from "./server.js";

const tools = haveTool("htpasswd and mkpasswd", () => {
  try {
    execFileSync("htpasswd", ["-nbB", "probe", "probe"], { stdio: "ignore" });
    execFileSync("mkpasswd", ["-m", "sha-512", "probe"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
});

const root = tempDir();
const files = tempDir("pasv-users-");
afterAll(() => {
  root.remove();
  files.remove();
});

function usersFile(name: string, text: string): string {
  const file = path.join(files.dir, name);
  writeFileSync(file, text);
  return file;
}

/** USER+PASS on a fresh connection: the final reply code to PASS. */
async function login(server: RunningServer, user: string, password: string): Promise<number> {
  const c = await FtpControl.connect(server.port);
  try {
    expect((await c.greeting()).code).toBe(220);
    expect((await c.cmd(`USER ${user}`)).code).toBe(331);
    return (await c.cmd(`PASS ${password}`)).code;
  } finally {
    c.close();
  }
}

/** Runs `pasv ARGS` to its end: exit code and everything it printed. */
function pasv(args: readonly string[], input = ""): { code: number | null; stdout: string; stderr: string } {
  const [cmd, argv] = cliCommand(args);
  const r = spawnSync(cmd, argv, { input, encoding: "utf8", timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.skipIf(!tools)("--users FILE with hashes from the real tools", () => {
  it("an htpasswd -B file logs its users in; a wrong password or an unknown name gets 530", async () => {
    const alice = execFileSync("htpasswd", ["-nbB", "alice", "wonder land"], { encoding: "utf8" }).trim();
    const bob = execFileSync("htpasswd", ["-nbB", "-C", "10", "bob", "b0b"], { encoding: "utf8" }).trim();
    const file = usersFile("htpasswd", `# made by htpasswd -B\n${alice}\n\n${bob}\n`);
    const server = await startServer(root.dir, ["--users", file, "--no-anonymous"]);
    try {
      expect(server.output()).toContain('"access":"2 users read-only"');
      expect(await login(server, "alice", "wonder land")).toBe(230);
      expect(await login(server, "bob", "b0b")).toBe(230);
      expect(await login(server, "alice", "wonder")).toBe(530);
      expect(await login(server, "mallory", "wonder land")).toBe(530);
    } finally {
      await server.stop();
    }
  }, 60_000);

  it("a mkpasswd -m sha-512 (and sha-256) file logs its users in; a wrong password gets 530", async () => {
    const carol = execFileSync("mkpasswd", ["-m", "sha-512", "c@rol pass"], { encoding: "utf8" }).trim();
    const dave = execFileSync("mkpasswd", ["-m", "sha-256", "-R", "20000", "d4ve"], { encoding: "utf8" }).trim();
    const file = usersFile("mkpasswd", `carol:${carol}\r\ndave:${dave}\r\n`);
    const server = await startServer(root.dir, ["--users", file, "-w"]);
    try {
      expect(server.output()).toContain('"access":"anonymous read-only, 2 users read-write"');
      expect(await login(server, "carol", "c@rol pass")).toBe(230);
      expect(await login(server, "dave", "d4ve")).toBe(230);
      expect(await login(server, "carol", "d4ve")).toBe(530);
    } finally {
      await server.stop();
    }
  }, 60_000);

  it("pasv hash-password prints an argon2id hash that logs its user in (-u plaintext users alongside)", async () => {
    const made = pasv(["hash-password"], "s3cret phrase\nnot this line\n");
    expect(made.code).toBe(0);
    expect(made.stderr).toBe("");
    const hash = made.stdout.trim();
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
    expect(made.stdout).not.toContain("s3cret");
    const file = usersFile("argon2", `erin:${hash}\n`);
    const server = await startServer(root.dir, ["--users", file, "-u", "local:pw"]);
    try {
      expect(server.output()).toContain('"access":"anonymous read-only, 2 users read-only"');
      expect(await login(server, "erin", "s3cret phrase")).toBe(230);
      expect(await login(server, "erin", "not this line")).toBe(530);
      expect(await login(server, "local", "pw")).toBe(230);
    } finally {
      await server.stop();
    }
    expect(pasv(["hash-password"], "")).toMatchObject({ code: 2, stdout: "", stderr: "pasv: hash-password: no password on stdin\nTry 'pasv --help' for more information.\n" });
  }, 90_000);
});

describe("start-up errors for users (exit 2, one line, no secret)", () => {
  const bcrypt = "$2y$05$Fi17/8P3ImVczNkfmI50GebaYB1nMm5ggFAaXPeRjfIe39xHnB/02";

  function refused(args: readonly string[], message: string | RegExp, secret?: string): void {
    const r = pasv([root.dir, "-p", "0", ...args]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    const [first, ...rest] = r.stderr.trimEnd().split("\n");
    if (typeof message === "string") expect(first).toBe(`pasv: ${message}`);
    else expect(first).toMatch(message);
    expect(rest).toEqual(["Try 'pasv --help' for more information."]);
    if (secret !== undefined) expect(r.stderr).not.toContain(secret);
  }

  it("a plaintext line in the users file names the file and the line, never the password", () => {
    const file = usersFile("plain", `# users\nalice:${bcrypt}\nbob:Tr0ub4dor&3\n`);
    refused(["--users", file], new RegExp(`^pasv: ${file.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} line 3: the password of "bob" is not a recognised hash \\(bcrypt .*\\); make one with 'pasv hash-password'`), "Tr0ub4dor");
  }, 60_000);

  it.runIf(tools)("a SHA-crypt hash with more rounds than SHA_CRYPT_MAX_ROUNDS (mkpasswd -R 656000, passlib's default) stops the start with its line", () => {
    const costly = execFileSync("mkpasswd", ["-m", "sha-512", "-R", "656000", "s3cret"], { encoding: "utf8" }).trim();
    const file = usersFile("rounds", `alice:${bcrypt}\nbob:${costly}\n`);
    refused(["--users", file], `${file} line 2: the password of "bob": SHA-crypt with rounds=656000 would stop every other session while each login is checked (SHA-crypt cannot yield; the most is 50000 rounds); make one with 'pasv hash-password'`);
  }, 60_000);

  it("anonymous names, an empty password and duplicate names are refused", () => {
    refused(["-u", "ftp:secret", "-u", "anonymous:pw", "-w"], '--user: "ftp" is an anonymous login name (it logs in read-only with any password); choose another name', "secret");
    refused(["-u", "anonymous:pw"], '--user: "anonymous" is an anonymous login name (it logs in read-only with any password); choose another name');
    refused(["-u", "alice:"], '--user: user "alice" has an empty password');
    const file = usersFile("dup", `bob:${bcrypt}\nalice:${bcrypt}\n`);
    refused(["-u", "alice:pw", "--users", file], `duplicate user "alice": --user and ${file} line 2`);
    const twice = usersFile("twice", `bob:${bcrypt}\n# again\nbob:${bcrypt}\n`);
    refused(["--users", twice], `duplicate user "bob": ${twice} line 1 and ${twice} line 3`);
    const ftp = usersFile("ftp", `ftp:${bcrypt}\n`);
    refused(["--users", ftp], `${ftp} line 1: "ftp" is an anonymous login name (it logs in read-only with any password); choose another name`);
  }, 120_000);
});
