import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3Fs } from "@pasv/s3";
import { startS3rver, useS3rverCredentials, type S3rverInstance } from "../../s3/src/s3rver.test-helper.js";
import { parseCli, USAGE, type CliOptions } from "./args.js";
import { parsePasswordHash, verifyPassword, type ServerHooks } from "@pasv/driver";
import { runCommand, serverOptions, VERSION, type CommandHost, type CommandOptions, type CommandServer, type PasswordInput } from "./run.js";

// A real certificate and its key (the run checks them before it builds a server).
const fixtures = path.resolve(import.meta.dirname, "../../node/test-fixtures");
const CERT = readFileSync(path.join(fixtures, "cert.pem"), "utf8");
const KEY = readFileSync(path.join(fixtures, "key.pem"), "utf8");
const CERT2 = readFileSync(path.join(fixtures, "cert2.pem"), "utf8");
const KEY2 = readFileSync(path.join(fixtures, "key2.pem"), "utf8");

// htpasswd -nbB -C 4, password "pässword 1".
const BCRYPT = "$2y$04$c0fxWKDhAxl80Ae4vKzp8udyVlJKK9lkFbRV/Ymz7TMBp/pdaOJvC";

/** Standard input as chunks of text; records raw-mode switches. */
class FakeStdin implements PasswordInput {
  readonly raw: boolean[] = [];
  constructor(
    readonly isTerminal: boolean,
    private readonly chunks: string[],
  ) {}
  setRaw(on: boolean): void {
    this.raw.push(on);
  }
  read(): Promise<Uint8Array | null> {
    const next = this.chunks.shift();
    return Promise.resolve(next === undefined ? null : new TextEncoder().encode(next));
  }
}

class Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

class FakeServer implements CommandServer {
  readonly calls: string[] = [];
  listenError: Error | null = null;
  bound = { address: "127.0.0.1", port: 2121 };
  private finishClose: ((ok: boolean) => void) | null = null;

  listen(port: number, host: string, options?: { readonly implicitTls?: boolean }): Promise<{ address: string; port: number }> {
    this.calls.push(`listen ${host}:${port}${options?.implicitTls === true ? " implicit" : ""}`);
    return this.listenError === null ? Promise.resolve(this.bound) : Promise.reject(this.listenError);
  }

  readonly sessionCount = 0;
  readonly passiveListeners = 0;
  readonly tlsReuseRefused = 0;
  readonly draining = false;
  on(): this {
    return this;
  }

  close(options?: { readonly drainMs?: number }): Promise<void> {
    this.calls.push(`close drain=${String(options?.drainMs)}`);
    return new Promise((resolve, reject) => {
      this.finishClose = (ok) => {
        if (ok) resolve();
        else reject(new Error("close failed"));
      };
    });
  }

  settleClose(ok = true): void {
    this.finishClose?.(ok);
  }

  readonly reloads: CommandOptions[] = [];
  reloadError: Error | null = null;
  /** When set, reloads wait until the test calls it. */
  holdReload: (() => void) | null = null;
  held = false;
  reload(options: CommandOptions): Promise<{ changed: readonly string[]; needRestart: readonly string[] }> {
    this.reloads.push(options);
    const answer = (): Promise<{ changed: readonly string[]; needRestart: readonly string[] }> => (this.reloadError === null ? Promise.resolve({ changed: ["users"], needRestart: [] }) : Promise.reject(this.reloadError));
    if (!this.held) return answer();
    return new Promise((resolve, reject) => {
      this.holdReload = () => {
        answer().then(resolve, reject);
      };
    });
  }
}

class FakeHost implements CommandHost {
  readonly runtime = "testrt";
  interactive = false;
  noTls: string | null = null;
  readonly out_: string[] = [];
  readonly err_: string[] = [];
  readonly log: string[] = [];
  readonly exits: number[] = [];
  /** Like process.exit, exit() does not return (it throws Exit) unless this is false. */
  exitThrows = true;
  readonly files = new Map<string, string>();
  readonly dirs = new Map<string, string>([
    [".", "/real/cwd"],
    ["/srv", "/srv"],
  ]);
  readonly created: CommandOptions[] = [];
  readonly server = new FakeServer();
  createError: Error | null = null;
  readonly signals = new Map<string, () => void>();
  stdin: FakeStdin = new FakeStdin(false, []);

  constructor(readonly args: readonly string[]) {}

  out(line: string): void {
    this.out_.push(line);
    this.log.push(`out ${line}`);
  }
  err(line: string): void {
    this.err_.push(line);
  }
  exit(code: number): never {
    this.exits.push(code);
    this.log.push(`exit ${code}`);
    if (this.exitThrows) throw new Exit(code);
    return undefined as never;
  }
  directory(path: string): string {
    const real = this.dirs.get(path);
    if (real === undefined) throw new Error("ENOTDIR");
    return real;
  }
  readText(path: string): string {
    const t = this.files.get(path);
    if (t === undefined) throw new Error(`ENOENT: ${path}`);
    return t;
  }
  readBytes(path: string): Uint8Array {
    return new TextEncoder().encode(this.readText(path));
  }
  readonly hooks: (ServerHooks | undefined)[] = [];
  createServer(options: CommandOptions, hooks?: ServerHooks): CommandServer {
    this.created.push(options);
    this.hooks.push(hooks);
    if (this.createError !== null) throw this.createError;
    this.server.calls.push("created");
    return this.server;
  }
  onSignal(signal: "SIGINT" | "SIGTERM" | "SIGHUP", run: () => void): void {
    this.signals.set(signal, run);
  }
  readonly appended: [string, string][] = [];
  appendError: Error | null = null;
  appendText(file: string, text: string): Promise<void> {
    if (this.appendError !== null) return Promise.reject(this.appendError);
    this.appended.push([file, text]);
    return Promise.resolve();
  }
  flush(): Promise<void> {
    this.log.push("flush");
    return Promise.resolve();
  }
  stderr(): string {
    return this.err_.join("\n");
  }
  /** Standard output as the JSON log records it holds (not a terminal: JSON is the default). */
  records(): Record<string, unknown>[] {
    return this.out_.map((line) => JSON.parse(line) as Record<string, unknown>);
  }
  /** The records without their time, the part a test can pin down. */
  events(): Record<string, unknown>[] {
    return this.records().map(({ time: _time, ...rest }) => rest);
  }
}

/** Runs the command; the exit code, or null when it kept running (serving). */
async function run(host: FakeHost): Promise<number | null> {
  try {
    await runCommand(host);
    return null;
  } catch (error) {
    if (error instanceof Exit) return error.code;
    throw error;
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

function options(argv: string[]): CliOptions {
  const parsed = parseCli(argv);
  if (parsed.kind !== "run") throw new Error(`not a run: ${JSON.stringify(parsed)}`);
  return parsed.options;
}

const TRY = "Try 'pasv --help' for more information.";

describe("runCommand: help, version, bad flags", () => {
  it("--help prints the usage, flushes and exits 0", async () => {
    for (const flag of ["--help", "-h"]) {
      const host = new FakeHost([flag]);
      expect(await run(host)).toBe(0);
      expect(host.out_).toEqual([USAGE.trimEnd()]);
      expect(host.log.slice(-2)).toEqual(["flush", "exit 0"]);
      expect(host.created).toEqual([]);
    }
  });

  it("--version prints the version and runtime, flushes and exits 0", async () => {
    const host = new FakeHost(["--version"]);
    expect(await run(host)).toBe(0);
    expect(host.out_).toEqual([`pasv ${VERSION} (testrt)`]);
    expect(host.log.slice(-2)).toEqual(["flush", "exit 0"]);
  });

  it("a bad flag exits 2 with the reason and \"Try 'pasv --help'\"", async () => {
    const host = new FakeHost(["--bogus"]);
    expect(await run(host)).toBe(2);
    expect(host.stderr()).toMatch(/^pasv: .*bogus/);
    expect(host.stderr()).toContain(TRY);
    expect(host.out_).toEqual([]);
  });
});

describe("runCommand: start-up errors exit 2", () => {
  it("--tls-cert on a host that cannot run FTPS names the reason", async () => {
    const host = new FakeHost(["--tls-cert", "c.pem", "--tls-key", "k.pem"]);
    host.noTls = "Deno cannot upgrade an accepted connection to TLS";
    expect(await run(host)).toBe(2);
    expect(host.stderr()).toBe(`pasv: --tls-cert/--tls-key: Deno cannot upgrade an accepted connection to TLS\n${TRY}`);
    expect(host.created).toEqual([]);
  });

  it("a --max-passive-per-ip that is not a positive whole number", async () => {
    const host = new FakeHost(["--max-passive-per-ip", "0"]);
    expect(await run(host)).toBe(2);
    expect(host.stderr()).toBe(`pasv: --max-passive-per-ip must be between 1 and 65535, got 0\n${TRY}`);
    expect(host.created).toEqual([]);
  });

  it("--no-anonymous without any user", async () => {
    const host = new FakeHost(["--no-anonymous"]);
    expect(await run(host)).toBe(2);
    expect(host.stderr()).toBe(`pasv: --no-anonymous needs at least one --user or --users file\n${TRY}`);
  });

  it("a bad users file line names the file and the line", async () => {
    const host = new FakeHost(["--users", "/etc/pasv-users"]);
    host.files.set("/etc/pasv-users", `# ok\nalice:${BCRYPT}\nnocolon\n`);
    expect(await run(host)).toBe(2);
    expect(host.stderr()).toBe(`pasv: /etc/pasv-users line 3: expected NAME:HASH\n${TRY}`);
  });

  it("a plaintext password in the users file stops the start on one line without showing it", async () => {
    const host = new FakeHost(["--users", "/etc/pasv-users"]);
    host.files.set("/etc/pasv-users", `alice:${BCRYPT}\nbob:plain-secret\n`);
    expect(await run(host)).toBe(2);
    expect(host.stderr().split("\n")[0]).toMatch(/^pasv: \/etc\/pasv-users line 2: the password of "bob" is not a recognised hash \(.*\); make one with 'pasv hash-password', htpasswd -B or mkpasswd -m sha-512$/);
    expect(host.stderr()).not.toContain("plain-secret");
    expect(host.created).toEqual([]);
  });

  it("a name given by -u and in the users file stops the start naming both places", async () => {
    const host = new FakeHost(["-u", "alice:pw", "--users", "u.txt"]);
    host.files.set("u.txt", `bob:${BCRYPT}\nalice:${BCRYPT}\n`);
    expect(await run(host)).toBe(2);
    expect(host.stderr()).toBe(`pasv: duplicate user "alice": --user and u.txt line 2\n${TRY}`);
    const twice = new FakeHost(["--users", "u.txt"]);
    twice.files.set("u.txt", `bob:${BCRYPT}\n\nbob:${BCRYPT}\n`);
    expect(await run(twice)).toBe(2);
    expect(twice.stderr()).toBe(`pasv: duplicate user "bob": u.txt line 1 and u.txt line 3\n${TRY}`);
  });

  it("anonymous names and an empty password given with -u stop the start", async () => {
    for (const [args, message] of [
      [["-u", "ftp:secret", "-w"], '--user: "ftp" is an anonymous login name (it logs in read-only with any password); choose another name'],
      [["-u", "anonymous:pw"], '--user: "anonymous" is an anonymous login name (it logs in read-only with any password); choose another name'],
      [["-u", "alice:"], '--user: user "alice" has an empty password'],
    ] as const) {
      const host = new FakeHost(args);
      expect(await run(host)).toBe(2);
      expect(host.stderr()).toBe(`pasv: ${message}\n${TRY}`);
      expect(host.created).toEqual([]);
    }
  });

  it("an unreadable users file names the file and the error", async () => {
    const host = new FakeHost(["--users", "/missing"]);
    expect(await run(host)).toBe(2);
    expect(host.stderr()).toMatch(/^pasv: cannot read users file \/missing: ENOENT: \/missing\n/);
  });

  it("a directory that is not one", async () => {
    const host = new FakeHost(["/nope"]);
    expect(await run(host)).toBe(2);
    expect(host.stderr()).toBe(`pasv: cannot serve /nope: not a directory\n${TRY}`);
  });

  it("unreadable TLS material", async () => {
    const host = new FakeHost(["--tls-cert", "c.pem", "--tls-key", "k.pem"]);
    host.files.set("c.pem", CERT);
    expect(await run(host)).toBe(2);
    expect(host.stderr()).toMatch(/^pasv: cannot read the TLS key k.pem: ENOENT: k.pem\n/);
  });

  it("a certificate that is not PEM, or a key that does not match it, is one line naming the file", async () => {
    const garbage = new FakeHost(["--tls-cert", "c.pem", "--tls-key", "k.pem"]);
    garbage.files.set("c.pem", "CERT").set("k.pem", KEY);
    expect(await run(garbage)).toBe(2);
    expect(garbage.stderr()).toBe(`pasv: c.pem: not a PEM certificate (no "-----BEGIN CERTIFICATE-----" block)\n${TRY}`);
    expect(garbage.created).toEqual([]);
    const swapped = new FakeHost(["--tls-cert", "c.pem", "--tls-key", "k.pem"]);
    swapped.files.set("c.pem", KEY).set("k.pem", CERT);
    expect(await run(swapped)).toBe(2);
    expect(swapped.stderr()).toMatch(/^pasv: c\.pem: not a PEM certificate/);
  });

  it("a server the options cannot build", async () => {
    const host = new FakeHost([]);
    host.createError = new RangeError("bad range");
    expect(await run(host)).toBe(2);
    expect(host.stderr()).toBe(`pasv: bad range\n${TRY}`);
  });

  it("a listen failure names host:port", async () => {
    const host = new FakeHost(["-H", "0.0.0.0", "-p", "21"]);
    host.server.listenError = new Error("EADDRINUSE");
    expect(await run(host)).toBe(2);
    expect(host.stderr()).toBe(`pasv: cannot listen on 0.0.0.0:21: EADDRINUSE\n${TRY}`);
    expect(host.server.calls).toEqual(["created", "listen 0.0.0.0:21"]);
  });

  it("a failure of the implicit listener closes the plain one and names the flag", async () => {
    const host = new FakeHost(["-p", "21", "--implicit-tls-port", "990", "--tls-cert", "c.pem", "--tls-key", "k.pem"]);
    host.files.set("c.pem", CERT).set("k.pem", KEY);
    const server = host.server;
    const listen = server.listen.bind(server);
    server.listen = (port, address, options) => (options?.implicitTls === true ? Promise.reject(new Error("EACCES")) : listen(port, address, options));
    const ran = run(host);
    await new Promise((r) => setTimeout(r, 10));
    server.settleClose();
    expect(await ran).toBe(2);
    expect(host.stderr()).toBe(`pasv: cannot listen on 127.0.0.1:990 (--implicit-tls-port): EACCES\n${TRY}`);
    expect(server.calls).toEqual(["created", "listen 127.0.0.1:21", "close drain=undefined"]);
  });
});

describe("runCommand: hash-password", () => {
  async function hashed(host: FakeHost): Promise<string> {
    expect(await run(host)).toBe(0);
    expect(host.out_).toHaveLength(1);
    expect(host.log.at(-2)).toBe("flush");
    return host.out_[0]!;
  }

  it("hashes the first line of a pipe into an argon2id string that verifies", async () => {
    const host = new FakeHost(["hash-password"]);
    host.stdin = new FakeStdin(false, ["pässw", "ord 1\r\nsecond line\n"]);
    const text = await hashed(host);
    expect(text).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    const hash = parsePasswordHash(text)!;
    expect(await verifyPassword(hash, "pässword 1")).toBe(true);
    expect(await verifyPassword(hash, "pässword 1\r")).toBe(false);
    expect(host.stdin.raw).toEqual([]);
    expect(host.err_).toEqual([]);
  }, 20_000);

  it("takes a last line without a newline; refuses empty input", async () => {
    const host = new FakeHost(["hash-password"]);
    host.stdin = new FakeStdin(false, ["pw"]);
    expect(await verifyPassword(parsePasswordHash(await hashed(host))!, "pw")).toBe(true);
    for (const chunks of [[], ["\n"], [""]]) {
      const empty = new FakeHost(["hash-password"]);
      empty.stdin = new FakeStdin(false, chunks);
      expect(await run(empty)).toBe(2);
      expect(empty.stderr()).toBe(`pasv: hash-password: no password on stdin\n${TRY}`);
    }
  }, 20_000);

  it("on a terminal reads twice in raw mode (Backspace edits) and restores the terminal", async () => {
    const host = new FakeHost(["hash-password"]);
    host.stdin = new FakeStdin(true, ["pwx\u007f", "d\r", "pwd\r"]);
    const text = await hashed(host);
    expect(await verifyPassword(parsePasswordHash(text)!, "pwd")).toBe(true);
    expect(host.stdin.raw).toEqual([true, false]);
    expect(host.err_).toEqual(["pasv: password (not shown), then Enter:", "pasv: the same password again:"]);
  }, 20_000);

  it("on a terminal: different passwords exit 2, Ctrl-C exits 130, printing no hash", async () => {
    const differ = new FakeHost(["hash-password"]);
    differ.stdin = new FakeStdin(true, ["one\r", "two\r"]);
    expect(await run(differ)).toBe(2);
    expect(differ.err_.at(-1)).toBe(`pasv: hash-password: the passwords differ\n${TRY}`);
    expect(differ.stdin.raw).toEqual([true, false]);
    const interrupted = new FakeHost(["hash-password"]);
    interrupted.stdin = new FakeStdin(true, ["pw\u0003"]);
    expect(await run(interrupted)).toBe(130);
    expect(interrupted.stdin.raw).toEqual([true, false]);
    expect(differ.out_.concat(interrupted.out_)).toEqual([]);
  });
});

describe("runCommand: serving", () => {
  it("prints where it serves and whom it admits, then keeps running", async () => {
    const host = new FakeHost([]);
    expect(await run(host)).toBeNull();
    expect(host.events()).toEqual([{ level: "info", event: "server.start", address: "127.0.0.1", port: 2121, implicitTlsPort: null, url: "ftp://127.0.0.1:2121", version: VERSION, runtime: "testrt", root: "/real/cwd", access: "anonymous read-only" }]);
    expect(host.records()[0]?.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(host.exits).toEqual([]);
    expect([...host.signals.keys()].sort()).toEqual(["SIGHUP", "SIGINT", "SIGTERM"]);
    expect(host.created[0]).toMatchObject({ root: "/real/cwd", anonymous: true, write: false, users: [] });
  });

  it("says the server's bandwidth limits", async () => {
    const host = new FakeHost(["--max-rate-down", "2M", "--max-rate-up", "1536"]);
    expect(await run(host)).toBeNull();
    expect(host.records()[0]?.access).toBe("anonymous read-only, at most 2M/s down and 1536/s up per session");
    expect(host.created[0]).toMatchObject({ maxRateDown: 2_097_152, maxRateUp: 1536 });
    const k = new FakeHost(["--max-rate-up", "64k", "--max-rate-down", "0"]);
    expect(await run(k)).toBeNull();
    expect(k.records()[0]?.access).toBe("anonymous read-only, at most 64k/s up per session");
  });

  it("describes users, write access, TLS and an IPv6 address", async () => {
    const host = new FakeHost(["/srv", "-H", "::1", "-u", "a:1", "--users", "u.txt", "-w", "--no-anonymous", "--tls-cert", "c.pem", "--tls-key", "k.pem", "--tls-required"]);
    host.files.set("u.txt", `b:${BCRYPT}\n`).set("c.pem", CERT).set("k.pem", KEY);
    host.server.bound = { address: "::1", port: 2121 };
    expect(await run(host)).toBeNull();
    expect(host.events()).toEqual([expect.objectContaining({ event: "server.start", address: "::1", url: "ftp://[::1]:2121", root: "/srv", access: "2 users read-write, TLS required for users" })]);
    const created = host.created[0]!;
    expect(created.users).toEqual([
      { user: "a", password: "1", write: true },
      { user: "b", passwordHash: BCRYPT, write: true },
    ]);
    expect(created.tls).toEqual({ cert: new TextEncoder().encode(CERT), key: new TextEncoder().encode(KEY), required: true, minVersion: "TLSv1.2", ciphers: null, reuseCheck: true });
  });

  it("one user, read-only, TLS offered", async () => {
    const host = new FakeHost(["-u", "a:1", "--tls-cert", "c.pem", "--tls-key", "k.pem"]);
    host.files.set("c.pem", CERT).set("k.pem", KEY);
    await run(host);
    expect(host.records()[0]?.access).toBe("anonymous read-only, 1 user read-only, TLS offered");
  });

  it("the server's records go to out: JSON lines off a terminal, text on one, or as --log-format says", async () => {
    const record = { time: Date.UTC(2026, 11, 4, 1, 2, 3, 4), level: "info", event: "file", session: 7, client: "192.0.2.1", clientPort: 4000, tls: true, user: "a b", command: "DELE", path: "/x", from: null, ok: true, code: 250 } as const;
    const json = new FakeHost([]);
    await run(json);
    json.created[0]!.log?.(record);
    expect(json.out_.at(-1)).toBe('{"time":"2026-12-04T01:02:03.004Z","level":"info","event":"file","session":7,"client":"192.0.2.1","clientPort":4000,"tls":true,"user":"a b","command":"DELE","path":"/x","from":null,"ok":true,"code":250}');
    expect(json.created[0]?.logLevel).toBe("info");
    const text = new FakeHost([]);
    text.interactive = true;
    await run(text);
    expect(text.out_[0]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z info {2}server\.start address=127\.0\.0\.1 port=2121 url=ftp:\/\/127\.0\.0\.1:2121 version=[\d.]+ runtime=testrt root=\/real\/cwd access="anonymous read-only"$/);
    text.created[0]!.log?.(record);
    expect(text.out_.at(-1)).toBe('2026-12-04T01:02:03.004Z info  file session=7 client=192.0.2.1 clientPort=4000 tls=true user="a b" command=DELE path=/x ok=true code=250');
    const forced = new FakeHost(["--log-format", "text", "--log-level", "warn"]);
    await run(forced);
    // The start record is written at every level.
    expect(forced.out_).toHaveLength(1);
    expect(forced.out_[0]).toMatch(/ info {2}server\.start /);
    expect(forced.created[0]?.logLevel).toBe("warn");
    forced.created[0]!.log?.({ ...record, level: "warn" });
    expect(forced.out_.at(-1)).toMatch(/^2026-12-04T01:02:03\.004Z warn {2}file /);
  });

  it("refuses an unknown --log-format or --log-level, naming the flag", async () => {
    const format = new FakeHost(["--log-format", "xml"]);
    expect(await run(format)).toBe(2);
    expect(format.stderr()).toBe(`pasv: --log-format must be text or json, got "xml"\n${TRY}`);
    const level = new FakeHost(["--log-level", "loud"]);
    expect(await run(level)).toBe(2);
    expect(level.stderr()).toBe(`pasv: --log-level must be one of debug, info, warn, error, got "loud"\n${TRY}`);
  });

  it("--inline-fs reaches the server's options (absent: the adapter's default), and a bad value names the flag", async () => {
    const never = new FakeHost(["--inline-fs", "never"]);
    expect(await run(never)).toBeNull();
    expect(never.created[0]?.inlineFs).toBe("never");
    const plain = new FakeHost([]);
    expect(await run(plain)).toBeNull();
    expect(plain.created[0]?.inlineFs).toBeUndefined();
    const bad = new FakeHost(["--inline-fs", "always"]);
    expect(await run(bad)).toBe(2);
    expect(bad.stderr()).toBe(`pasv: --inline-fs must be auto or never, got "always"\n${TRY}`);
  });

  it("an implicit FTPS port beside the plain one, or alone; the TLS policy flags reach the server", async () => {
    const both = new FakeHost(["-p", "2121", "--implicit-tls-port", "990", "--tls-cert", "c.pem", "--tls-key", "k.pem", "--tls-min-version", "1.3", "--tls-ciphers", "TLS_AES_256_GCM_SHA384", "--no-tls-reuse-check"]);
    both.files.set("c.pem", CERT).set("k.pem", KEY);
    expect(await run(both)).toBeNull();
    expect(both.server.calls).toEqual(["created", "listen 127.0.0.1:2121", "listen 127.0.0.1:990 implicit"]);
    expect(both.records()[0]).toMatchObject({ event: "server.start", port: 2121, implicitTlsPort: 2121, url: "ftp://127.0.0.1:2121 and ftps://127.0.0.1:2121 (implicit TLS)", access: "anonymous read-only, TLS offered" });
    expect(both.created[0]?.tls).toMatchObject({ minVersion: "TLSv1.3", ciphers: "TLS_AES_256_GCM_SHA384", reuseCheck: false });
    const alone = new FakeHost(["--implicit-tls-port", "990", "--tls-cert", "c.pem", "--tls-key", "k.pem"]);
    alone.files.set("c.pem", CERT).set("k.pem", KEY);
    expect(await run(alone)).toBeNull();
    expect(alone.server.calls).toEqual(["created", "listen 127.0.0.1:990 implicit"]);
  });

  it("SIGTERM drains the server for --drain-timeout, then flushes and exits 0", async () => {
    const host = new FakeHost([]);
    await run(host);
    host.exitThrows = false;
    host.signals.get("SIGTERM")!();
    await settle();
    expect(host.events().at(-1)).toEqual({ level: "info", event: "server.stop", signal: "SIGTERM", drainMs: 30_000, immediate: false });
    expect(host.server.calls).toEqual(["created", "listen 127.0.0.1:2121", "close drain=30000"]);
    expect(host.exits).toEqual([]);
    host.server.settleClose(true);
    await settle();
    expect(host.log.slice(-2)).toEqual(["flush", "exit 0"]);
    expect(host.events().at(-1)).toEqual({ level: "info", event: "server.exit", code: 0 });
    expect(host.exits).toEqual([0]);
    const quick = new FakeHost(["--drain-timeout", "0"]);
    await run(quick);
    quick.signals.get("SIGINT")!();
    await settle();
    expect(quick.events().at(-1)).toEqual({ level: "info", event: "server.stop", signal: "SIGINT", drainMs: 0, immediate: false });
    expect(quick.server.calls.at(-1)).toBe("close drain=0");
  });

  it("a second signal stops at once and exits 1, without waiting for the drain", async () => {
    const host = new FakeHost([]);
    await run(host);
    host.exitThrows = false;
    host.signals.get("SIGTERM")!();
    host.signals.get("SIGINT")!();
    await settle();
    expect(host.events().slice(-2)).toEqual([
      { level: "warn", event: "server.stop", signal: "SIGINT", drainMs: 0, immediate: true },
      { level: "info", event: "server.exit", code: 1 },
    ]);
    expect(host.log.slice(-2)).toEqual(["flush", "exit 1"]);
    expect(host.server.calls.filter((c) => c.startsWith("close"))).toHaveLength(1);
  });

  it("SIGINT with a failing close exits 1 after the flush", async () => {
    const host = new FakeHost([]);
    await run(host);
    host.exitThrows = false;
    host.signals.get("SIGINT")!();
    host.server.settleClose(false);
    await settle();
    expect(host.events()).toContainEqual({ level: "info", event: "server.stop", signal: "SIGINT", drainMs: 30_000, immediate: false });
    expect(host.log.slice(-2)).toEqual(["flush", "exit 1"]);
  });
});

describe("serverOptions", () => {
  const log = (): void => undefined;

  it("maps every flag", () => {
    const o = options(["/srv", "-H", "0.0.0.0", "-p", "0", "-w", "--no-anonymous", "--pasv-ports", "50000-50100", "--public-address", "203.0.113.1", "--idle-timeout", "60", "--max-sessions", "10", "--max-sessions-per-ip", "2", "--max-passive-per-ip", "3", "--login-fail-delay", "0.25", "--max-login-failures", "5", "--ban-after", "4", "--ban-window", "60", "--ban-seconds", "120", "--tls-cert", "c", "--tls-key", "k", "--tls-handshake-timeout", "7"]);
    const tls = { cert: new Uint8Array([1]), key: new Uint8Array([2]), required: true, minVersion: "TLSv1.2", ciphers: null, reuseCheck: true } as const;
    expect(serverOptions(o, "/real/srv", [{ user: "a", password: "b" }], tls, log, "info")).toEqual({
      root: "/real/srv",
      users: [{ user: "a", password: "b", write: true }],
      anonymous: false,
      write: true,
      passivePorts: { min: 50000, max: 50100 },
      publicAddress: "203.0.113.1",
      idleTimeoutMs: 60_000,
      maxSessions: 10,
      maxSessionsPerIp: 2,
      maxPassivePerIp: 3,
      loginFailDelayMs: 250,
      maxLoginFailures: 5,
      bans: { after: 4, windowMs: 60_000, durationMs: 120_000 },
      tls,
      tlsHandshakeTimeoutMs: 7_000,
      log,
      logLevel: "info",
    });
    expect(serverOptions(options(["--ban-after", "0"]), "/d", [], undefined, log, "info").bans).toBe(false);
    expect(serverOptions(options(["--ban-seconds", "5"]), "/d", [], undefined, log, "info").bans).toEqual({ durationMs: 5000 });
  });

  it("maps --proxy-protocol --proxy-from to proxyProtocol, and nothing without them", () => {
    expect(serverOptions(options(["--proxy-protocol", "--proxy-from", "10.0.0.0/8,::1"]), "/d", [], undefined, log, "info").proxyProtocol).toEqual({ from: ["10.0.0.0/8", "::1/128"] });
    expect(serverOptions(options([]), "/d", [], undefined, log, "info")).not.toHaveProperty("proxyProtocol");
  });

  it("gives each user their home and permissions, and --hide-dotfiles to everyone", () => {
    const o = options(["-w", "--user-home", "a=in/a", "--user-permissions", "a=upload-only", "--hide-dotfiles"]);
    const mapped = serverOptions(o, "/d", [{ user: "a", password: "p" }, { user: "b", password: "q" }], undefined, log, "info");
    expect(mapped.users).toEqual([
      { user: "a", password: "p", write: true, home: "in/a", permissions: ["list", "mkdir", "create"] },
      { user: "b", password: "q", write: true },
    ]);
    expect(mapped.hideDotfiles).toBe(true);
  });

  it("maps the bandwidth limits, the server's and each user's", () => {
    const o = options(["--max-rate-down", "2M", "--max-rate-up", "1k", "--anonymous-max-rate-down", "0", "--user-max-rate-down", "a=0", "--user-max-rate-up", "b=3k"]);
    const mapped = serverOptions(o, "/d", [{ user: "a", password: "p" }, { user: "b", password: "q" }], undefined, log, "info");
    expect(mapped).toMatchObject({ maxRateDown: 2_097_152, maxRateUp: 1024, anonymousMaxRateDown: 0 });
    expect(mapped.anonymousMaxRateUp).toBeUndefined();
    expect(mapped.users).toEqual([
      { user: "a", password: "p", write: false, maxRateDown: 0 },
      { user: "b", password: "q", write: false, maxRateUp: 3072 },
    ]);
  });

  it("leaves unset flags to the server's defaults", () => {
    const mapped = serverOptions(options([]), "/d", [], undefined, log, "info");
    expect(mapped).toEqual({ root: "/d", users: [], anonymous: true, write: false, log, logLevel: "info" });
    expect(Object.keys(mapped).sort()).toEqual(["anonymous", "log", "logLevel", "root", "users", "write"]);
  });
});

describe("runCommand: per-user homes and permissions", () => {
  it("refuses a --user-home or --user-permissions for a user nobody added, naming the flag", async () => {
    for (const [flag, value] of [["--user-home", "ghost=in"], ["--user-permissions", "ghost=read-only"], ["--user-max-rate-down", "ghost=1M"], ["--user-max-rate-up", "ghost=1M"]] as const) {
      const host = new FakeHost(["-u", "a:p", flag, value]);
      expect(await run(host)).toBe(2);
      expect(host.stderr()).toBe(`pasv: ${flag}: no user named "ghost" (add it with --user or --users)\n${TRY}`);
      expect(host.created).toEqual([]);
    }
  });

  it("refuses a home that is not a directory, and serves one that is", async () => {
    const bad = new FakeHost(["-u", "a:p", "--user-home", "a=nope"]);
    expect(await run(bad)).toBe(2);
    expect(bad.stderr()).toBe(`pasv: --user-home a=nope: not a directory\n${TRY}`);
    const good = new FakeHost(["-u", "a:p", "--user-home", "a=in", "--user-permissions", "a=read-only"]);
    good.dirs.set("/real/cwd/in", "/real/cwd/in");
    expect(await run(good)).toBeNull();
    expect(good.created[0]?.users).toEqual([{ user: "a", password: "p", write: false, home: "in", permissions: ["list", "read"] }]);
    expect(good.records().at(-1)?.access).toContain("1 user with rights per user");
  });
});

describe("--xferlog", () => {
  it("checks the file at start-up, appends one line per transfer in order, and survives SIGHUP", async () => {
    const host = new FakeHost(["--xferlog", "/var/log/x.log"]);
    await run(host);
    expect(host.appended).toEqual([["/var/log/x.log", ""]]);
    const xferlog = host.created[0]?.xferlog;
    if (xferlog === undefined) throw new Error("no xferlog option");
    xferlog("line 1");
    xferlog("line 2");
    await settle();
    expect(host.appended.slice(1).map(([, t]) => t).join("")).toBe("line 1\nline 2\n");
    host.signals.get("SIGHUP")!();
    await settle();
    expect(host.events().at(-1)).toMatchObject({ level: "info", event: "reload", ok: true, access: "anonymous read-only", changed: ["users"] });
    expect(host.exits).toEqual([]);
    // The same sink after the reload: the driver sees the xferlog unchanged.
    expect(host.server.reloads[0]?.xferlog).toBe(xferlog);
  });

  it("stops the start when the file cannot be written, and reports (never throws) a failed write later", async () => {
    const bad = new FakeHost(["--xferlog", "/nope/x.log"]);
    bad.appendError = new Error("ENOENT: no such file or directory");
    expect(await run(bad)).toBe(2);
    expect(bad.stderr()).toContain("pasv: cannot write the xferlog /nope/x.log: ENOENT: no such file or directory");
    const later = new FakeHost(["--xferlog", "/var/log/x.log"]);
    await run(later);
    later.appendError = new Error("EIO");
    later.created[0]?.xferlog?.("lost");
    await settle();
    expect(later.stderr()).toContain("pasv: cannot write the xferlog /var/log/x.log: EIO (1 line(s) lost)");
  });
});


describe("SIGHUP reloads", () => {
  /** The reload records since `from`: a failure's message, or what a success says. */
  const lines = (host: FakeHost, from: number): string[] =>
    host
      .events()
      .slice(from)
      .map((e) => (e.ok === true ? `ok: ${String(e.access)}; changed: ${String(e.changed)}; restart: ${String(e.needRestart)}` : `${String(e.level)}: ${String(e.message)}`));
  const hup = async (host: FakeHost): Promise<void> => {
    host.signals.get("SIGHUP")!();
    await settle();
  };

  it("re-reads the users file, the config file and the TLS files, and hands the server the new options", async () => {
    const host = new FakeHost(["--config", "/etc/pasv.toml", "--users", "u.txt"]);
    host.files.set("/etc/pasv.toml", 'max-sessions = 5\ntls-cert = "c.pem"\ntls-key = "k.pem"\n').set("u.txt", `alice:${BCRYPT}\n`).set("/etc/c.pem", CERT).set("/etc/k.pem", KEY);
    expect(await run(host)).toBeNull();
    const from = host.out_.length;
    host.files.set("/etc/pasv.toml", 'max-sessions = 7\ntls-cert = "c.pem"\ntls-key = "k.pem"\n').set("u.txt", `alice:${BCRYPT}\nbob:${BCRYPT}\n`).set("/etc/c.pem", CERT2).set("/etc/k.pem", KEY2);
    await hup(host);
    const sent = host.server.reloads[0]!;
    expect(sent.users?.map((u) => u.user)).toEqual(["alice", "bob"]);
    expect(sent.maxSessions).toBe(7);
    expect(sent.tls).toEqual({ cert: new TextEncoder().encode(CERT2), key: new TextEncoder().encode(KEY2), required: false, minVersion: "TLSv1.2", ciphers: null, reuseCheck: true });
    // The log sink is the start-up's, so the driver does not count it as changed.
    expect(sent.log).toBe(host.created[0]?.log);
    expect(lines(host, from)).toEqual(["ok: anonymous read-only, 2 users read-only, TLS offered; changed: users; restart: "]);
    expect(host.records().at(-1)).toMatchObject({ event: "reload", time: expect.stringMatching(/^\d{4}-\d\d-\d\dT[\d:.]+Z$/) as string });
    expect(host.exits).toEqual([]);
  });

  it("a broken users file or config file keeps the previous settings and logs one line naming the file and line", async () => {
    const host = new FakeHost(["--config", "/etc/pasv.toml", "--users", "u.txt"]);
    host.files.set("/etc/pasv.toml", "max-sessions = 5\n").set("u.txt", `alice:${BCRYPT}\n`);
    expect(await run(host)).toBeNull();
    const from = host.out_.length;
    host.files.set("u.txt", `alice:${BCRYPT}\nnocolon\n`);
    await hup(host);
    host.files.set("u.txt", `alice:${BCRYPT}\n`).set("/etc/pasv.toml", "max-sessions = 5\nmax-sessions-per-ip = 0\n");
    await hup(host);
    host.files.set("/etc/pasv.toml", "max-sessions = [\n");
    await hup(host);
    host.files.delete("/etc/pasv.toml");
    await hup(host);
    expect(lines(host, from)).toEqual([
      "error: u.txt line 2: expected NAME:HASH; keeping the previous settings",
      "error: /etc/pasv.toml:2: max-sessions-per-ip: --max-sessions-per-ip must be between 1 and 1000000, got 0; keeping the previous settings",
      "error: /etc/pasv.toml:2: Invalid TOML document: invalid value; keeping the previous settings",
      "error: cannot read config file /etc/pasv.toml: ENOENT: /etc/pasv.toml; keeping the previous settings",
    ]);
    expect(host.server.reloads).toEqual([]);
    expect(host.exits).toEqual([]);
  });

  it("a server that refuses the new options (a bad certificate) keeps the previous ones and says why", async () => {
    const host = new FakeHost(["-u", "a:p"]);
    expect(await run(host)).toBeNull();
    const from = host.out_.length;
    host.server.reloadError = new Error("the certificate is not PEM");
    await hup(host);
    expect(lines(host, from)).toEqual(["error: the certificate is not PEM; keeping the previous settings"]);
  });

  it("settings only a restart applies are logged as such; the rest applies", async () => {
    const host = new FakeHost(["--config", "/etc/pasv.toml"]);
    host.files.set("/etc/pasv.toml", 'port = 2121\nroot = "/srv"\n');
    host.dirs.set("/etc/data", "/etc/data");
    expect(await run(host)).toBeNull();
    const from = host.out_.length;
    host.files.set("/etc/pasv.toml", 'port = 2200\nhost = "0.0.0.0"\nroot = "data"\nmetrics = "127.0.0.1:9100"\nxferlog = "/var/log/x"\n');
    await hup(host);
    expect(lines(host, from)).toEqual(["ok: anonymous read-only; changed: users; restart: listen address,served directory,--metrics,--xferlog"]);
    expect(host.server.calls.filter((c) => c.startsWith("listen"))).toEqual(["listen 127.0.0.1:2121"]);
  });

  it("turning TLS on needs a restart; TLS may be turned off and on again", async () => {
    const plain = new FakeHost(["--config", "/etc/pasv.toml"]);
    plain.files.set("/etc/pasv.toml", "write = false\n").set("/etc/c.pem", CERT).set("/etc/k.pem", KEY);
    expect(await run(plain)).toBeNull();
    const from = plain.out_.length;
    plain.files.set("/etc/pasv.toml", 'tls-cert = "c.pem"\ntls-key = "k.pem"\n');
    await hup(plain);
    expect(lines(plain, from)).toEqual(["error: --tls-cert/--tls-key: turning TLS on needs a restart; keeping the previous settings"]);
    const secure = new FakeHost(["--config", "/etc/pasv.toml"]);
    secure.files.set("/etc/pasv.toml", 'tls-cert = "c.pem"\ntls-key = "k.pem"\n').set("/etc/c.pem", CERT).set("/etc/k.pem", KEY);
    expect(await run(secure)).toBeNull();
    secure.files.set("/etc/pasv.toml", "write = false\n");
    await hup(secure);
    expect(secure.server.reloads[0]?.tls).toBeUndefined();
    secure.files.set("/etc/pasv.toml", 'tls-cert = "c.pem"\ntls-key = "k.pem"\n');
    await hup(secure);
    expect(secure.server.reloads[1]?.tls).toBeDefined();
  });

  it("one reload at a time: signals during one make one more; none once stopping; a new --drain-timeout applies to the stop", async () => {
    const host = new FakeHost(["--config", "/etc/pasv.toml"]);
    host.files.set("/etc/pasv.toml", "drain-timeout = 30\n");
    expect(await run(host)).toBeNull();
    host.server.held = true;
    await hup(host);
    await hup(host);
    await hup(host);
    expect(host.server.reloads).toHaveLength(1);
    host.files.set("/etc/pasv.toml", "drain-timeout = 3\n");
    host.server.holdReload?.();
    await settle();
    expect(host.server.reloads).toHaveLength(2);
    host.server.held = false;
    host.server.holdReload?.();
    await settle();
    expect(host.server.reloads).toHaveLength(2);
    host.signals.get("SIGTERM")!();
    expect(host.server.calls.at(-1)).toBe("close drain=3000");
    await hup(host);
    expect(host.server.reloads).toHaveLength(2);
  });
});

describe("runCommand: --faults", () => {
  it("without --faults the server gets no hooks at all", async () => {
    const host = new FakeHost(["/srv"]);
    expect(await run(host)).toBeNull();
    expect(host.hooks).toEqual([undefined]);
  });

  it("with --faults the server gets the fault layer's hooks", async () => {
    const host = new FakeHost(["/srv", "--faults", "data-reset=0.1", "--seed", "3"]);
    expect(await run(host)).toBeNull();
    expect(typeof host.hooks[0]?.platform).toBe("function");
    expect(typeof host.hooks[0]?.instrument?.wrapSession).toBe("function");
  });

  it("reads a TOML or JSON plan file, and names the file and entry of a bad one", async () => {
    const host = new FakeHost(["/srv", "--faults", "plan.toml"]);
    host.files.set("plan.toml", 'data-reset = 0.5\nenospc-after = "5M"\n');
    expect(await run(host)).toBeNull();
    const bad = new FakeHost(["/srv", "--faults", "plan.json"]);
    bad.files.set("plan.json", '{ "data-reset": 0.5, "reply-spit": 1 }');
    expect(await run(bad)).toBe(2);
    expect(bad.stderr()).toBe(`pasv: --faults: plan.json: fault plan entry "reply-spit=1": unknown fault "reply-spit" (known: reply-split, reply-delay, reply-stall, close-421, data-reset, data-fin, data-trickle, pasv-refuse, pasv-delay, connect-refuse, enospc, eio, vanish, slow, delay-ms, stall-ms, multiline)\n${TRY}`);
    const broken = new FakeHost(["/srv", "--faults", "plan.toml"]);
    broken.files.set("plan.toml", "data-reset = \n");
    expect(await run(broken)).toBe(2);
    expect(broken.stderr().split("\n")[0]).toMatch(/^pasv: --faults: plan.toml: /);
    const missing = new FakeHost(["/srv", "--faults", "nope.toml"]);
    expect(await run(missing)).toBe(2);
    expect(missing.stderr()).toMatch(/^pasv: --faults: cannot read the fault plan nope.toml: ENOENT/);
  });
});

describe("runCommand: an S3 bucket", () => {
  let s3: S3rverInstance;
  beforeAll(async () => {
    useS3rverCredentials();
    s3 = await startS3rver(["served"]);
  });
  afterAll(async () => {
    await s3.stop();
  });

  it("checks the bucket at start-up and hands the server an S3 file system instead of a root", async () => {
    const host = new FakeHost(["--s3-bucket", "served", "--s3-prefix", "/ftp/", "--s3-endpoint", s3.endpoint, "--s3-path-style", "-u", "a:1", "--user-home", "a=/homes/a"]);
    expect(await run(host)).toBeNull();
    expect(host.records()[0]).toMatchObject({ event: "server.start", root: "s3://served/ftp/", access: "anonymous read-only, 1 user read-only" });
    const given = host.created[0];
    expect(given?.root).toBeUndefined();
    expect(given?.vfs).toBeInstanceOf(S3Fs);
    expect(given?.vfs).toMatchObject({ bucket: "served", prefix: "ftp/", atomicWrites: true });
    expect(given?.users).toMatchObject([{ user: "a", home: "/homes/a" }]);
  });

  it("a bucket that is not there stops the start with one line", async () => {
    const host = new FakeHost(["--s3-bucket", "missing", "--s3-endpoint", s3.endpoint, "--s3-path-style"]);
    expect(await run(host)).toBe(2);
    expect(host.stderr()).toMatch(/^pasv: cannot serve s3:\/\/missing\/: S3: no bucket missing there\nTry 'pasv --help' for more information\.$/);
    expect(host.created).toEqual([]);
  });
});
