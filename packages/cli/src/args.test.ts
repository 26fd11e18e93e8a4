import { describe, expect, it } from "vitest";
import { duplicateUser, parseCli, parseUser, parseUsersFile } from "./args.js";

// htpasswd -nbB -C 4 / mkpasswd -m sha-512, password "pässword 1".
const BCRYPT = "$2y$04$c0fxWKDhAxl80Ae4vKzp8udyVlJKK9lkFbRV/Ymz7TMBp/pdaOJvC";
const SHA512 = "$6$oI2NoZCViwMcuS8B$k0XWDkEuw8Kz2UE8RoZvp/1zbnd5trkilsjMgktwNS8e.AcF6c3MHcQMEgmzqzHDCMHvfmuVstSRtB4EzaKXO1";

describe("pasv command line", () => {
  it("defaults: the current directory, read-only anonymous, 127.0.0.1:2121", () => {
    expect(parseCli([])).toEqual({
      kind: "run",
      options: { dir: ".", host: "127.0.0.1", port: 2121, users: [], usersFile: null, write: false, anonymous: true, keepPartialUploads: false, passivePorts: null, publicAddress: null, idleTimeoutSeconds: null, maxSessions: null, maxSessionsPerIp: null, maxPassivePerIp: null, logins: { failDelaySeconds: null, maxFailures: null, banAfter: null, banWindowSeconds: null, banSeconds: null }, userHomes: new Map(), userPermissions: new Map(), hideDotfiles: false, rates: { down: null, up: null, anonymousDown: null, anonymousUp: null }, userRates: new Map(), drainTimeoutSeconds: null, xferlog: null, logFormat: null, inlineFs: null, logLevel: null, metrics: null, s3: null, tls: null, proxyFrom: null, faults: null, seed: null },
    });
  });

  it("reads every flag", () => {
    const r = parseCli(["/srv", "-H", "0.0.0.0", "-p", "0", "-u", "a:b:c", "--user", "x:y", "--users", "f", "-w", "--no-anonymous", "--keep-partial-uploads", "--inline-fs", "never", "--pasv-ports", "50000-50100", "--public-address", "203.0.113.1", "--idle-timeout", "60", "--max-sessions", "10", "--max-sessions-per-ip", "2", "--max-passive-per-ip", "3", "--login-fail-delay", "0.5", "--max-login-failures", "5", "--ban-after", "4", "--ban-window", "60", "--ban-seconds", "120", "--user-home", "a=in/a", "--user-home", "x=/abs/x", "--user-permissions", "a=upload-only", "--user-permissions", "x=read,append", "--hide-dotfiles", "--max-rate-down", "2M", "--max-rate-up", "500k", "--anonymous-max-rate-down", "1024", "--anonymous-max-rate-up", "0", "--user-max-rate-down", "a=3K", "--user-max-rate-up", "a=0", "--drain-timeout", "7", "--xferlog", "x.log", "--metrics", "[::1]:9100", "--tls-cert", "c.pem", "--tls-key", "k.pem", "--tls-required", "--tls-handshake-timeout", "5", "--faults", "data-reset=0.1,reply-split=1", "--seed", "42"]);
    expect(r).toEqual({
      kind: "run",
      options: { dir: "/srv", host: "0.0.0.0", port: 0, users: [{ user: "a", password: "b:c" }, { user: "x", password: "y" }], usersFile: "f", write: true, anonymous: false, keepPartialUploads: true, passivePorts: { min: 50000, max: 50100 }, publicAddress: "203.0.113.1", idleTimeoutSeconds: 60, maxSessions: 10, maxSessionsPerIp: 2, maxPassivePerIp: 3, logins: { failDelaySeconds: 0.5, maxFailures: 5, banAfter: 4, banWindowSeconds: 60, banSeconds: 120 }, userHomes: new Map([["a", "in/a"], ["x", "/abs/x"]]), userPermissions: new Map([["a", ["list", "mkdir", "create"]], ["x", ["read", "append"]]]), hideDotfiles: true, rates: { down: 2 * 1048576, up: 500 * 1024, anonymousDown: 1024, anonymousUp: 0 }, userRates: new Map([["a", { down: 3 * 1024, up: 0 }]]), drainTimeoutSeconds: 7, xferlog: "x.log", logFormat: null, inlineFs: "never", logLevel: null, metrics: { host: "::1", port: 9100 }, s3: null, tls: { cert: "c.pem", key: "k.pem", required: true, handshakeTimeoutSeconds: 5, minVersion: "1.2", ciphers: null, implicitPort: null, reuseCheck: true }, proxyFrom: null, faults: "data-reset=0.1,reply-split=1", seed: 42 },
    });
  });

  it("--s3-bucket serves a bucket, with its prefix, endpoint, region and path style", () => {
    expect(parseCli(["--s3-bucket", "my.bucket-1"])).toMatchObject({ kind: "run", options: { s3: { bucket: "my.bucket-1", prefix: "", endpoint: null, region: null, pathStyle: false } } });
    expect(parseCli(["--s3-bucket", "b12", "--s3-prefix", "ftp/root", "--s3-endpoint", "http://127.0.0.1:9000", "--s3-region", "eu-west-1", "--s3-path-style"])).toMatchObject({
      options: { s3: { bucket: "b12", prefix: "ftp/root", endpoint: "http://127.0.0.1:9000", region: "eu-west-1", pathStyle: true } },
    });
    const error = (argv: string[]): string => {
      const r = parseCli(argv);
      return r.kind === "error" ? r.message : "no error";
    };
    expect(error(["--s3-prefix", "p"])).toBe("--s3-prefix needs --s3-bucket");
    expect(error(["--s3-path-style"])).toBe("--s3-path-style needs --s3-bucket");
    expect(error(["--s3-bucket", "B_ad"])).toBe('--s3-bucket must be a bucket name (3-63 lower-case letters, digits, dots, hyphens), got "B_ad"');
    expect(error(["/srv", "--s3-bucket", "bkt"])).toBe('--s3-bucket serves a bucket: give no DIR or --root with it (got "/srv")');
    expect(error(["--s3-bucket", "bkt", "--s3-prefix", "a/../b"])).toBe('--s3-prefix must be a key prefix without "." or ".." segments, got "a/../b"');
    expect(error(["--s3-bucket", "bkt", "--s3-endpoint", "ftp://x"])).toBe('--s3-endpoint must be an http:// or https:// URL, got "ftp://x"');
    expect(error(["--s3-bucket", "bkt", "--s3-endpoint", "http://key:secret@host"])).toMatch(/^--s3-endpoint must not carry credentials: set AWS_ACCESS_KEY_ID/);
    expect(error(["--s3-bucket", "bkt", "--s3-region", "EU West"])).toBe('--s3-region must be a region name such as eu-west-1, got "EU West"');
  });

  it("explains bad input instead of guessing", () => {
    for (const argv of [["--bogus"], ["-p", "70000"], ["-p", "x"], ["-u", "nopassword"], ["-u", ":p"], ["--pasv-ports", "10-20"], ["--pasv-ports", "5000"], ["--pasv-ports", "60000-50000"], ["--public-address", "example.com"], ["--public-address", "999.1.1.1"], ["--public-address", "::1"], ["-H", "localhost"], ["-H", "10.0.0.256"], ["--pasv-ports", "1000-2000"], ["--pasv-ports", "2000-70000"], ["--idle-timeout", "0"], ["--max-sessions", "-1"], ["a", "b"], ["--tls-cert", "c.pem"], ["--tls-key", "k.pem"], ["--tls-required"], ["--tls-handshake-timeout", "5"], ["--tls-cert", "c", "--tls-key", "k", "--tls-handshake-timeout", "0"], ["--tls-cert", "c", "--tls-key", "k", "--tls-handshake-timeout", "3601"], ["--tls-cert", "c", "--tls-key", "k", "--tls-handshake-timeout", "1.5"], ["--implicit-tls-port", "990"], ["--no-tls-reuse-check"], ["--tls-min-version", "1.3"], ["--tls-ciphers", "X"], ["--tls-cert", "c", "--tls-key", "k", "--tls-min-version", "1.1"], ["--tls-cert", "c", "--tls-key", "k", "--tls-min-version", "TLSv1.3"], ["--tls-cert", "c", "--tls-key", "k", "--implicit-tls-port", "70000"], ["--tls-cert", "c", "--tls-key", "k", "-p", "990", "--implicit-tls-port", "990"], ["--tls-cert", "c", "--tls-key", "k", "--tls-ciphers", "A;rm -rf"]]) {
      const r = parseCli(argv);
      expect(r.kind, argv.join(" ")).toBe("error");
    }
    expect(parseCli(["--help"])).toEqual({ kind: "help" });
    expect(parseCli(["--faults", "data-rest=0.1"])).toEqual({ kind: "error", message: '--faults: fault plan entry "data-rest=0.1": unknown fault "data-rest" (known: reply-split, reply-delay, reply-stall, close-421, data-reset, data-fin, data-trickle, pasv-refuse, pasv-delay, connect-refuse, enospc, eio, vanish, slow, delay-ms, stall-ms, multiline)' });
    expect(parseCli(["--faults", "data-reset=2"])).toMatchObject({ kind: "error", message: expect.stringMatching(/^--faults: fault plan entry "data-reset=2": "2" is not a probability/) as unknown });
    expect(parseCli(["--faults", "plan.toml"])).toMatchObject({ kind: "run", options: { faults: "plan.toml", seed: null } });
    expect(parseCli(["--seed", "1"])).toEqual({ kind: "error", message: "--seed needs --faults" });
    expect(parseCli(["--faults", "vanish", "--seed", "4294967296"])).toEqual({ kind: "error", message: "--seed must be between 0 and 4294967295, got 4294967296" });
    expect(parseCli(["-h"])).toEqual({ kind: "help" });
    expect(parseCli(["--version"])).toEqual({ kind: "version" });
  });

  it("--max-passive-per-ip takes a whole number from 1 to 65535 and names what was wrong", () => {
    expect(parseCli(["--max-passive-per-ip", "1"])).toMatchObject({ kind: "run", options: { maxPassivePerIp: 1 } });
    expect(parseCli(["--max-passive-per-ip", "65535"])).toMatchObject({ kind: "run", options: { maxPassivePerIp: 65535 } });
    expect(parseCli(["--max-passive-per-ip", "0"])).toEqual({ kind: "error", message: "--max-passive-per-ip must be between 1 and 65535, got 0" });
    expect(parseCli(["--max-passive-per-ip", "65536"])).toEqual({ kind: "error", message: "--max-passive-per-ip must be between 1 and 65535, got 65536" });
    expect(parseCli(["--max-passive-per-ip", "-1"]).kind).toBe("error");
    for (const bad of ["1.5", "x", "", "2k", " 3"]) expect(parseCli([`--max-passive-per-ip=${bad}`])).toEqual({ kind: "error", message: `--max-passive-per-ip must be a whole number, got ${JSON.stringify(bad)}` });
    expect(parseCli(["--max-passive-per-ip"]).kind).toBe("error");
  });

  it("rates take a whole number with an optional k/K or M suffix, and every error names its flag", () => {
    expect(parseCli(["--max-rate-down", "2M"])).toMatchObject({ kind: "run", options: { rates: { down: 2_097_152, up: null } } });
    expect(parseCli(["--max-rate-up", "64k"])).toMatchObject({ kind: "run", options: { rates: { up: 65_536 } } });
    expect(parseCli(["--max-rate-up", "64K"])).toMatchObject({ kind: "run", options: { rates: { up: 65_536 } } });
    expect(parseCli(["--max-rate-down", "1500"])).toMatchObject({ kind: "run", options: { rates: { down: 1500 } } });
    expect(parseCli(["--max-rate-down", "0"])).toMatchObject({ kind: "run", options: { rates: { down: 0 } } });
    for (const bad of ["2G", "2m", "1.5M", "-1", "", " 2M", "2 M", "M", "k", "0x10", "1e6", "9999999999999999"]) {
      expect(parseCli([`--max-rate-down=${bad}`])).toEqual({ kind: "error", message: `--max-rate-down must be bytes per second: a whole number with an optional k (1024) or M (1048576) suffix, e.g. 2M; got ${JSON.stringify(bad)}` });
    }
    expect(parseCli(["--anonymous-max-rate-up", "x"])).toMatchObject({ kind: "error", message: expect.stringMatching(/^--anonymous-max-rate-up must be bytes per second/) as unknown });
    expect(parseCli(["--user-max-rate-down", "bob=1M", "--user-max-rate-up", "bob=2k", "--user-max-rate-up", "amy=0"])).toMatchObject({
      kind: "run",
      options: { userRates: new Map([["bob", { down: 1_048_576, up: 2048 }], ["amy", { up: 0 }]]) },
    });
    expect(parseCli(["--user-max-rate-down", "bob"])).toEqual({ kind: "error", message: '--user-max-rate-down must be NAME=RATE, got "bob"' });
    expect(parseCli(["--user-max-rate-down", "bob=fast"])).toEqual({ kind: "error", message: '--user-max-rate-down bob must be bytes per second: a whole number with an optional k (1024) or M (1048576) suffix, e.g. 2M; got "fast"' });
    expect(parseCli(["--user-max-rate-up", "bob=1", "--user-max-rate-up", "bob=2"])).toEqual({ kind: "error", message: "--user-max-rate-up: bob given twice" });
    expect(parseCli(["--max-rate-down"]).kind).toBe("error");
  });

  it("--metrics takes IP:PORT or [IPv6]:PORT", () => {
    expect(parseCli(["--metrics", "127.0.0.1:0"])).toMatchObject({ options: { metrics: { host: "127.0.0.1", port: 0 } } });
    for (const bad of ["localhost:9100", "127.0.0.1", "127.0.0.1:70000", "::1:9100", ":9100"]) expect(parseCli(["--metrics", bad])).toEqual({ kind: "error", message: `--metrics must be IP:PORT (or [IPv6]:PORT), got ${JSON.stringify(bad)}` });
  });

  it("reads the login limits, and names what was wrong with them", () => {
    expect(parseCli(["--login-fail-delay", "0"])).toMatchObject({ options: { logins: { failDelaySeconds: 0 } } });
    expect(parseCli(["--login-fail-delay", "2.125"])).toMatchObject({ options: { logins: { failDelaySeconds: 2.125 } } });
    expect(parseCli(["--ban-after", "0"])).toMatchObject({ options: { logins: { banAfter: 0 } } });
    for (const bad of ["-1", "61", "1.2345", "x", "", "1e3"]) expect(parseCli([`--login-fail-delay=${bad}`])).toEqual({ kind: "error", message: `--login-fail-delay must be seconds from 0 to 60 (at most 3 decimals), got ${JSON.stringify(bad)}` });
    expect(parseCli(["--max-login-failures", "0"])).toEqual({ kind: "error", message: "--max-login-failures must be between 1 and 100, got 0" });
    expect(parseCli(["--ban-window", "0"])).toEqual({ kind: "error", message: "--ban-window must be between 1 and 604800, got 0" });
    expect(parseCli(["--ban-seconds", "1.5"])).toEqual({ kind: "error", message: '--ban-seconds must be a whole number, got "1.5"' });
  });

  it("--user-home and --user-permissions take NAME=VALUE and name the flag in every error", () => {
    const rights = "(presets: read-only, read-write, upload-only; rights: list, read, create, overwrite, append, delete, rename, mkdir, rmdir, set-mtime)";
    expect(parseCli(["--user-permissions", "a=write"])).toEqual({ kind: "error", message: `--user-permissions a=write: unknown preset or right ${rights}` });
    expect(parseCli(["--user-permissions", "a=read,,list"])).toEqual({ kind: "error", message: `--user-permissions a=read,,list: unknown preset or right ${rights}` });
    expect(parseCli(["--user-permissions", "a"])).toEqual({ kind: "error", message: '--user-permissions must be NAME=PRESET or NAME=right,right, got "a"' });
    expect(parseCli(["--user-permissions", "a=read", "--user-permissions", "a=list"])).toEqual({ kind: "error", message: "--user-permissions: a given twice" });
    expect(parseCli(["--user-home", "=d"])).toEqual({ kind: "error", message: '--user-home must be NAME=DIR, got "=d"' });
    expect(parseCli(["--user-home", "a="])).toEqual({ kind: "error", message: '--user-home must be NAME=DIR, got "a="' });
    expect(parseCli(["--user-home", "a=../etc"])).toEqual({ kind: "error", message: '--user-home a=../etc: a relative home must lie under the served directory (no "..")' });
    expect(parseCli(["--user-home", "a=x", "--user-home", "a=y"])).toEqual({ kind: "error", message: "--user-home: a given twice" });
    expect(parseCli(["--user-home", "a=dir=with=equals"])).toMatchObject({ options: { userHomes: new Map([["a", "dir=with=equals"]]) } });
  });

  it("reads users files of NAME:HASH with comments, blank lines and CRLF", () => {
    expect(parseUsersFile(`# users\nalice:${BCRYPT}\n\n  bob:${SHA512}  \r\n`)).toEqual([
      { user: "alice", passwordHash: BCRYPT, line: 2 },
      { user: "bob", passwordHash: SHA512, line: 4 },
    ]);
  });

  it("a users file line that is not NAME:HASH names its line, never its password", () => {
    expect(parseUsersFile(`ok:${BCRYPT}\nbroken\n`)).toBe("line 2: expected NAME:HASH");
    const plain = parseUsersFile(`ok:${BCRYPT}\n# fine\ncarol:hunter2-secret\n`);
    expect(plain).toBe(
      `line 3: the password of "carol" is not a recognised hash (bcrypt ($2a$, $2b$, $2y$), SHA-crypt ($5$, $6$), argon2id ($argon2id$), scrypt ($7$)); make one with 'pasv hash-password', htpasswd -B or mkpasswd -m sha-512`,
    );
    expect(typeof plain === "string" && !plain.includes("hunter2")).toBe(true);
    // /etc/shadow lines carry more fields: not a hash either.
    expect(parseUsersFile(`dave:${SHA512}:19000:0:99999:7:::\n`)).toMatch(/^line 1: the password of "dave" is not a recognised hash/);
    expect(parseUsersFile("erin:\n")).toMatch(/^line 1: the password of "erin" is not a recognised hash/);
    expect(parseUsersFile(`ftp:${BCRYPT}\n`)).toBe('line 1: "ftp" is an anonymous login name (it logs in read-only with any password); choose another name');
    expect(parseUsersFile(`x:${BCRYPT}\nAnonymous:${BCRYPT}\n`)).toMatch(/^line 2: "Anonymous" is an anonymous login name/);
  });

  it("-u refuses an empty password and anonymous names, without echoing the password", () => {
    expect(parseUser("a:")).toBe('user "a" has an empty password');
    expect(parseUser("a:b")).toEqual({ user: "a", password: "b" });
    expect(parseUser("ftp:secret")).toBe('"ftp" is an anonymous login name (it logs in read-only with any password); choose another name');
    expect(parseUser("anonymous:pw")).toMatch(/^"anonymous" is an anonymous login name/);
    expect(parseUser("nocolon-secret")).toBe("user must be NAME:PASSWORD");
    expect(parseCli(["-u", "ftp:secret", "-w"])).toEqual({ kind: "error", message: '--user: "ftp" is an anonymous login name (it logs in read-only with any password); choose another name' });
    expect(parseCli(["-u", "alice:"])).toEqual({ kind: "error", message: '--user: user "alice" has an empty password' });
  });

  it("names both places of a duplicate user", () => {
    const a = { user: "alice", password: "1" };
    const f = (line: number) => ({ user: "alice", passwordHash: BCRYPT, line });
    expect(duplicateUser([a, { user: "bob", password: "2" }], "u.txt")).toBeNull();
    expect(duplicateUser([a, f(3)], "u.txt")).toBe('duplicate user "alice": --user and u.txt line 3');
    expect(duplicateUser([f(1), f(4)], "u.txt")).toBe('duplicate user "alice": u.txt line 1 and u.txt line 4');
    expect(duplicateUser([a, a], null)).toBe('duplicate user "alice": --user and --user');
  });

  it("hash-password is a subcommand that takes no arguments", () => {
    expect(parseCli(["hash-password"])).toEqual({ kind: "hash-password" });
    expect(parseCli(["hash-password", "pw"]).kind).toBe("error");
    expect(parseCli(["hash-password", "-w"]).kind).toBe("error");
    // A directory of that name is still served with a path.
    expect(parseCli(["./hash-password"])).toMatchObject({ kind: "run", options: { dir: "./hash-password" } });
  });
});

describe("--proxy-protocol and --proxy-from", () => {
  it("go together and give the blocks, normalised", () => {
    expect(parseCli(["--proxy-protocol", "--proxy-from", "10.1.2.3/8, 127.0.0.1,::1"])).toMatchObject({ kind: "run", options: { proxyFrom: ["10.0.0.0/8", "127.0.0.1/32", "::1/128"] } });
    expect(parseCli([])).toMatchObject({ kind: "run", options: { proxyFrom: null } });
  });

  it("say on one line what is wrong, naming the flag", () => {
    expect(parseCli(["--proxy-protocol"])).toEqual({ kind: "error", message: "--proxy-protocol needs --proxy-from CIDR[,CIDR...] (the load balancers' addresses)" });
    expect(parseCli(["--proxy-from", "10.0.0.0/8"])).toEqual({ kind: "error", message: "--proxy-from needs --proxy-protocol" });
    expect(parseCli(["--proxy-protocol", "--proxy-from", "10.0.0.0/8,10.0.0.0/33"])).toEqual({ kind: "error", message: '--proxy-from: "10.0.0.0/33" is not an IP address or CIDR block (like 10.0.0.0/8)' });
    expect(parseCli(["--proxy-protocol", "--proxy-from", "lb.example.com"])).toEqual({ kind: "error", message: '--proxy-from: "lb.example.com" is not an IP address or CIDR block (like 10.0.0.0/8)' });
    expect(parseCli(["--proxy-protocol", "--proxy-from", ""]).kind).toBe("error");
  });
});
