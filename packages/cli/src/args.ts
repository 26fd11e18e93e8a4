// The `pasv` command line, parsed without side effects so every rule is testable.
import { parseArgs } from "node:util";
import { isAnonymousName, normalizeIp, parseCidr, parseRights, type Right } from "@pasv/core";
import { INLINE_FS_MODES, LOG_LEVELS, parsePasswordHash, PASSWORD_HASH_FORMATS, passwordHashCostProblem, portRangeProblem, resolveHome, type InlineFs, type LogFormat, type LogLevel, type PortRange } from "@pasv/driver";
import { parsePlan } from "@pasv/testing";

/** A named user: plaintext from `-u`, or a hash from the `--users` file (with its line number). */
export interface CliUser {
  readonly user: string;
  readonly password?: string;
  readonly passwordHash?: string;
  readonly line?: number;
  /** Where `line` is, when not the --users file (a config file's [[user]] table). */
  readonly file?: string;
}

export interface CliOptions {
  readonly dir: string;
  readonly host: string;
  /** The plain (explicit FTPS) control port; null with only --implicit-tls-port. */
  readonly port: number | null;
  readonly users: readonly CliUser[];
  readonly usersFile: string | null;
  readonly write: boolean;
  readonly anonymous: boolean;
  /** A failed upload leaves NAME.partial (uploads are atomic either way). */
  readonly keepPartialUploads: boolean;
  readonly passivePorts: PortRange | null;
  readonly publicAddress: string | null;
  readonly idleTimeoutSeconds: number | null;
  readonly maxSessions: number | null;
  readonly maxSessionsPerIp: number | null;
  /** Passive listeners one client address may hold at once (null: the server's default). */
  readonly maxPassivePerIp: number | null;
  /** --user-home NAME=DIR: the user's "/" (relative: under DIR). Names are checked against the users in run. */
  readonly userHomes: ReadonlyMap<string, string>;
  /** --user-permissions NAME=PRESET|right,right: wins over -w for that user. */
  readonly userPermissions: ReadonlyMap<string, readonly Right[]>;
  /** Dot files hidden for named users too (always for anonymous). */
  readonly hideDotfiles: boolean;
  /** Bandwidth limits in bytes per second per session (null: not given; 0: no limit). */
  readonly rates: RateFlags;
  /** --user-max-rate-down/-up NAME=RATE: a user's own limits, over the server's (0: none for them). */
  readonly userRates: ReadonlyMap<string, { readonly down?: number; readonly up?: number }>;
  /** Failed-login pacing and bans (null fields: the server's defaults). */
  readonly logins: LoginLimits;
  /** How long a stop lets running transfers finish (null: DEFAULT_DRAIN_SECONDS). */
  readonly drainTimeoutSeconds: number | null;
  /** Where one xferlog(5) line per file transfer is appended, or null. */
  readonly xferlog: string | null;
  /** How log records are written (null: text on a terminal, JSON lines otherwise). */
  readonly logFormat: LogFormat | null;
  /** --inline-fs auto|never: local-disk calls on the event loop while they stay fast (null: auto). */
  readonly inlineFs: InlineFs | null;
  /** The least severe records written (null: info). */
  readonly logLevel: LogLevel | null;
  /** Where /metrics (Prometheus) and /healthz are served, or null. */
  readonly metrics: { readonly host: string; readonly port: number } | null;
  /** --faults PLAN: a fault plan (a short string, or a .json/.toml file read in run), or null. */
  readonly faults: string | null;
  /** --seed N: the seed of the fault plan (null: a random one, printed in the replay line). */
  readonly seed: number | null;
  /** Serve an S3 bucket (or a prefix of one) instead of a directory; credentials come from the AWS chain. */
  readonly s3: S3Options | null;
  /** PEM files that enable FTPS, the handshake deadline (null: the server's default), the TLS policy
   * and the implicit FTPS port (null: none). */
  readonly tls: CliTls | null;
  /** --proxy-protocol with --proxy-from: the load balancers' blocks (normalised), or null. */
  readonly proxyFrom: readonly string[] | null;
}

export interface CliTls {
  readonly cert: string;
  readonly key: string;
  readonly required: boolean;
  readonly handshakeTimeoutSeconds: number | null;
  readonly minVersion: "1.2" | "1.3";
  /** An OpenSSL cipher list, or null for the server's modern default. */
  readonly ciphers: string | null;
  readonly implicitPort: number | null;
  /** Protected data connections must resume the control connection's TLS session. */
  readonly reuseCheck: boolean;
}

export interface RateFlags {
  readonly down: number | null;
  readonly up: number | null;
  readonly anonymousDown: number | null;
  readonly anonymousUp: number | null;
}

export interface S3Options {
  readonly bucket: string;
  readonly prefix: string;
  readonly endpoint: string | null;
  readonly region: string | null;
  readonly pathStyle: boolean;
}

export interface LoginLimits {
  readonly failDelaySeconds: number | null;
  readonly maxFailures: number | null;
  /** 0 turns bans off. */
  readonly banAfter: number | null;
  readonly banWindowSeconds: number | null;
  readonly banSeconds: number | null;
}

export type ParsedCli =
  | { readonly kind: "run"; readonly options: CliOptions }
  | { readonly kind: "help" }
  | { readonly kind: "version" }
  | { readonly kind: "hash-password" }
  | { readonly kind: "error"; readonly message: string };

export const USAGE = `Usage: pasv [DIR] [options]
       pasv hash-password     read a password from stdin, print its argon2id hash for --users

Serve DIR (default: the current directory) over FTP. By default anyone may log in
anonymously (user "anonymous" or "ftp", any password) and read; nobody may write.

Options:
      --config FILE             read settings from a TOML file (keys are these long flags, plus
                                root and [[user]] tables); flags given here override it
      --root DIR                the served directory, when not given as DIR
  -H, --host ADDR               listen address (default 127.0.0.1)
  -p, --port N                  control port (default 2121, or none with --implicit-tls-port alone;
                                0 picks a free one and prints it)
  -u, --user NAME:PASSWORD      add a user confined to DIR (repeatable; plaintext, for local use)
      --users FILE              add users from FILE, one NAME:HASH per line (# comments), as
                                htpasswd -B, mkpasswd -m sha-512 or pasv hash-password make them
  -w, --write                   logged-in users may upload, make/remove dirs, delete, rename
      --user-home NAME=DIR      NAME's "/" is DIR: relative to the served DIR, or absolute (repeatable)
      --user-permissions NAME=P NAME's rights: read-only, read-write, upload-only, or a list of
                                list,read,create,overwrite,append,delete,rename,mkdir,rmdir,set-mtime
                                (repeatable; wins over -w for NAME)
      --hide-dotfiles           names starting with "." are neither listed nor served to anyone
                                (always so for anonymous sessions)
      --no-anonymous            refuse anonymous login (anonymous is always read-only)
      --max-rate-down RATE      most bytes per second each session may download (RETR); RATE is a
                                whole number with an optional k (x1024) or M (x1048576) suffix,
                                e.g. 500k or 2M; 0 is no limit (the default)
      --max-rate-up RATE        most bytes per second each session may upload (STOR, APPE, STOU)
      --anonymous-max-rate-down RATE, --anonymous-max-rate-up RATE
                                anonymous sessions' own limits in place of the two above
      --user-max-rate-down NAME=RATE, --user-max-rate-up NAME=RATE
                                NAME's own limits in place of the server's (0: none for NAME; repeatable)
      --keep-partial-uploads    a failed upload leaves what it received as NAME.partial
                                (uploads replace a file only once complete either way)
      --pasv-ports A-B          passive port range (default 49152-65534)
      --public-address ADDR     IPv4 address to advertise in PASV replies (NAT, containers; with
                                --proxy-protocol the default is the address the client reached)
      --proxy-protocol          behind a load balancer: every connection to the control port and
                                the passive ports starts with a PROXY header (v1 or v2, HAProxy's
                                send-proxy-v2) and its client address is used everywhere (logs,
                                caps, bans, the passive data address check); needs --proxy-from
      --proxy-from CIDR[,CIDR...]
                                the load balancers' addresses; a connection from anyone else, or
                                without a valid header, is closed without a reply
      --idle-timeout SECONDS    close idle sessions after SECONDS (default 300)
      --max-sessions N          most simultaneous sessions (default 512)
      --max-sessions-per-ip N   most simultaneous sessions from one address (default 64)
      --max-passive-per-ip N    most open passive listeners of one address, over all its sessions
                                (default 16, at most a quarter of --pasv-ports); beyond it PASV gets 425
      --login-fail-delay SECONDS  answer each failed PASS only after SECONDS (default 2, fractions allowed)
      --max-login-failures N    failed logins in one session before 421 and a close (default 3)
      --ban-after N             failed logins from one address within --ban-window that ban it
                                (default 10; 0 turns bans off); a banned address gets 421 at once
      --ban-window SECONDS      how far back --ban-after counts (default 600)
      --ban-seconds S           how long a ban lasts (default 900)
      --metrics HOST:PORT       serve Prometheus metrics at /metrics and a health check at /healthz
                                (200 while accepting, 503 while stopping)
      --xferlog FILE            append one xferlog line (wu-ftpd/vsftpd format) per file transfer
      --log-format text|json    log records as text (key=value) or one JSON object per line
                                (default: text on a terminal, json otherwise)
      --log-level LEVEL         debug, info (default), warn or error: the least severe records logged
      --inline-fs auto|never    auto (default): the local disk's name lookups, opens and reads of
                                files up to 64 KiB run on the event loop while they stay fast (a
                                cold disk or network file system sends them back to the thread
                                pool for 10 s); never: every call goes through the thread pool
      --drain-timeout SECONDS   on SIGTERM/SIGINT, let running transfers finish for up to SECONDS
                                (default 30; 0: stop at once); a second signal stops at once
      --s3-bucket B             serve the S3 bucket B instead of a directory (files are objects,
                                directories key prefixes); credentials come from the standard AWS
                                environment and config files (AWS_ACCESS_KEY_ID, AWS_PROFILE, ...)
      --s3-prefix P             serve only the keys under P/ (homes are prefixes under it)
      --s3-endpoint URL         another S3 API than AWS's (MinIO, Ceph, R2...)
      --s3-region R             the bucket's region (default: from AWS_REGION or the config file)
      --s3-path-style           address the bucket as URL/B/KEY rather than B.URL/KEY
      --tls-cert FILE           PEM certificate, with its chain after it, for FTPS (AUTH TLS)
      --tls-key FILE            PEM private key for --tls-cert
      --tls-required            named users must use TLS for login and data (anonymous may not need it)
      --implicit-tls-port N     also listen on N for implicit FTPS (TLS from the first byte, data
                                protected by default; 990 by convention)
      --tls-min-version V       oldest TLS version accepted: 1.2 (default) or 1.3
      --tls-ciphers LIST        OpenSSL cipher list (TLS 1.2 names and TLS_* 1.3 suites, ":"
                                between them); default: ECDHE with AES-GCM or ChaCha20-Poly1305
      --no-tls-reuse-check      accept protected data connections that do not resume the control
                                connection's TLS session (for clients that cannot, e.g. plain ftplib)
      --tls-handshake-timeout SECONDS
                                cut a TLS handshake (AUTH TLS or a protected data connection)
                                not finished after SECONDS (default 10)
      --faults PLAN             inject faults for testing FTP clients (never in production): PLAN is
                                entries like data-reset=0.1,reply-split=1,enospc-after=5M, or a
                                .json/.toml file of them (see @pasv/testing); each fault is logged
                                with the line that replays the run
      --seed N                  the seed every fault decision comes from (default: a random one)
  -h, --help                    show this help
      --version                 show the version
`;

function integer(text: string, name: string, min: number, max: number): number | string {
  if (!/^\d+$/.test(text)) return `${name} must be a whole number, got ${JSON.stringify(text)}`;
  const n = Number(text);
  if (n < min || n > max) return `${name} must be between ${min} and ${max}, got ${n}`;
  return n;
}

const RATE_UNITS: Readonly<Record<string, number>> = { "": 1, k: 1024, K: 1024, M: 1024 * 1024 };

/** A RATE: bytes per second as a whole number with an optional k/K (1024) or M (1048576) suffix. */
export function parseRate(text: string, name: string): number | string {
  const m = /^(\d{1,15})([kKM]?)$/.exec(text);
  const n = m === null ? Number.NaN : Number(m[1]) * (RATE_UNITS[m[2] ?? ""] ?? Number.NaN);
  if (!Number.isSafeInteger(n)) return `${name} must be bytes per second: a whole number with an optional k (1024) or M (1048576) suffix, e.g. 2M; got ${JSON.stringify(text)}`;
  return n;
}

/** Why `name` cannot be a named user, or null. */
export function nameProblem(name: string): string | null {
  // The core logs these names in as anonymous whatever the password, so such a user could never log in.
  if (isAnonymousName(name)) return `${JSON.stringify(name)} is an anonymous login name (it logs in read-only with any password); choose another name`;
  return null;
}

/** One `-u NAME:PASSWORD` (the error does not repeat the argument: it holds a password). */
export function parseUser(text: string): CliUser | string {
  const colon = text.indexOf(":");
  if (colon <= 0) return "user must be NAME:PASSWORD";
  const user = text.slice(0, colon);
  const problem = nameProblem(user);
  if (problem !== null) return problem;
  if (colon === text.length - 1) return `user ${JSON.stringify(user)} has an empty password`;
  return { user, password: text.slice(colon + 1) };
}

/**
 * Lines of a --users file: NAME:HASH, blank lines and # comments ignored. An error names the line
 * and the user but never shows the rest of the line: it may be a password written in plaintext.
 */
export function parseUsersFile(text: string): CliUser[] | string {
  const users: CliUser[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? "").trim();
    if (line === "" || line.startsWith("#")) continue;
    const colon = line.indexOf(":");
    if (colon <= 0) return `line ${i + 1}: expected NAME:HASH`;
    const user = line.slice(0, colon);
    const problem = nameProblem(user);
    if (problem !== null) return `line ${i + 1}: ${problem}`;
    const passwordHash = line.slice(colon + 1);
    const hash = parsePasswordHash(passwordHash);
    if (hash === null) {
      return `line ${i + 1}: the password of ${JSON.stringify(user)} is not a recognised hash (${PASSWORD_HASH_FORMATS}); make one with 'pasv hash-password', htpasswd -B or mkpasswd -m sha-512`;
    }
    const costly = passwordHashCostProblem(hash);
    if (costly !== null) return `line ${i + 1}: the password of ${JSON.stringify(user)}: ${costly}; make one with 'pasv hash-password'`;
    users.push({ user, passwordHash, line: i + 1 });
  }
  return users;
}

/** The first name given twice, as "duplicate user NAME: PLACE and PLACE", or null. */
export function duplicateUser(users: readonly CliUser[], file: string | null): string | null {
  const where = (u: CliUser): string => (u.line === undefined ? "--user" : `${u.file ?? file ?? "users file"} line ${u.line}`);
  const seen = new Map<string, CliUser>();
  for (const u of users) {
    const first = seen.get(u.user);
    if (first !== undefined) return `duplicate user ${JSON.stringify(u.user)}: ${where(first)} and ${where(u)}`;
    seen.set(u.user, u);
  }
  return null;
}

export function parseCli(argv: readonly string[]): ParsedCli {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        host: { type: "string", short: "H" },
        port: { type: "string", short: "p" },
        user: { type: "string", short: "u", multiple: true },
        users: { type: "string" },
        write: { type: "boolean", short: "w" },
        "no-anonymous": { type: "boolean" },
        "user-home": { type: "string", multiple: true },
        "user-permissions": { type: "string", multiple: true },
        "hide-dotfiles": { type: "boolean" },
        "max-rate-down": { type: "string" },
        "max-rate-up": { type: "string" },
        "anonymous-max-rate-down": { type: "string" },
        "anonymous-max-rate-up": { type: "string" },
        "user-max-rate-down": { type: "string", multiple: true },
        "user-max-rate-up": { type: "string", multiple: true },
        root: { type: "string" },
        "drain-timeout": { type: "string" },
        xferlog: { type: "string" },
        "log-format": { type: "string" },
        "log-level": { type: "string" },
        "inline-fs": { type: "string" },
        metrics: { type: "string" },
        "keep-partial-uploads": { type: "boolean" },
        "pasv-ports": { type: "string" },
        "public-address": { type: "string" },
        "proxy-protocol": { type: "boolean" },
        "proxy-from": { type: "string" },
        "idle-timeout": { type: "string" },
        "max-sessions": { type: "string" },
        "max-sessions-per-ip": { type: "string" },
        "max-passive-per-ip": { type: "string" },
        "login-fail-delay": { type: "string" },
        "max-login-failures": { type: "string" },
        "ban-after": { type: "string" },
        "ban-window": { type: "string" },
        "ban-seconds": { type: "string" },
        "s3-bucket": { type: "string" },
        "s3-prefix": { type: "string" },
        "s3-endpoint": { type: "string" },
        "s3-region": { type: "string" },
        "s3-path-style": { type: "boolean" },
        "tls-cert": { type: "string" },
        "tls-key": { type: "string" },
        "tls-required": { type: "boolean" },
        "tls-handshake-timeout": { type: "string" },
        faults: { type: "string" },
        seed: { type: "string" },
        "tls-min-version": { type: "string" },
        "tls-ciphers": { type: "string" },
        "implicit-tls-port": { type: "string" },
        "no-tls-reuse-check": { type: "boolean" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean" },
      },
    });
  } catch (error) {
    return { kind: "error", message: error instanceof Error ? error.message : String(error) };
  }
  const v = parsed.values;
  if (v.help === true) return { kind: "help" };
  if (parsed.positionals[0] === "hash-password") {
    // Reading the password from stdin keeps it out of the process list and the shell history.
    if (parsed.positionals.length > 1 || Object.keys(v).length > 0) return { kind: "error", message: "hash-password takes no arguments; it reads the password from stdin" };
    return { kind: "hash-password" };
  }
  if (v.version === true) return { kind: "version" };
  if (parsed.positionals.length > 1) return { kind: "error", message: `only one directory may be served, got ${parsed.positionals.join(" ")}` };
  // With only an implicit FTPS port asked for, there is no plain listener unless -p asks for one.
  const port = v.port === undefined && v["implicit-tls-port"] !== undefined ? null : integer(v.port ?? "2121", "--port", 0, 65535);
  if (typeof port === "string") return { kind: "error", message: port };
  const users: CliUser[] = [];
  for (const text of v.user ?? []) {
    const user = parseUser(text);
    if (typeof user === "string") return { kind: "error", message: `--user: ${user}` };
    users.push(user);
  }
  const host = v.host ?? "127.0.0.1";
  if (normalizeIp(host) === null) return { kind: "error", message: `--host must be an IP address, got ${JSON.stringify(host)}` };
  let passivePorts: CliOptions["passivePorts"] = null;
  if (v["pasv-ports"] !== undefined) {
    const m = /^(\d{1,5})-(\d{1,5})$/.exec(v["pasv-ports"]);
    if (m === null) return { kind: "error", message: `--pasv-ports must be A-B, got ${JSON.stringify(v["pasv-ports"])}` };
    passivePorts = { min: Number(m[1]), max: Number(m[2]) };
    const problem = portRangeProblem(passivePorts);
    if (problem !== null) return { kind: "error", message: `--pasv-ports: ${problem}` };
  }
  let publicAddress: string | null = null;
  if (v["public-address"] !== undefined) {
    const ip = normalizeIp(v["public-address"]);
    // 227 carries four bytes, so only an IPv4 address can be advertised.
    if (ip?.family !== 4) return { kind: "error", message: `--public-address must be an IPv4 address, got ${JSON.stringify(v["public-address"])}` };
    publicAddress = ip.address;
  }
  let proxyFrom: string[] | null = null;
  if (v["proxy-from"] !== undefined) {
    proxyFrom = [];
    for (const text of v["proxy-from"].split(",")) {
      const cidr = parseCidr(text.trim());
      if (cidr === null) return { kind: "error", message: `--proxy-from: ${JSON.stringify(text.trim())} is not an IP address or CIDR block (like 10.0.0.0/8)` };
      proxyFrom.push(cidr.text);
    }
  }
  if (v["proxy-protocol"] === true && proxyFrom === null) return { kind: "error", message: "--proxy-protocol needs --proxy-from CIDR[,CIDR...] (the load balancers' addresses)" };
  if (v["proxy-protocol"] !== true && proxyFrom !== null) return { kind: "error", message: "--proxy-from needs --proxy-protocol" };
  const numbers: Record<string, number | null> = {};
  for (const [flag, min, max] of [["idle-timeout", 1, 86_400], ["max-sessions", 1, 1_000_000], ["max-sessions-per-ip", 1, 1_000_000], ["max-passive-per-ip", 1, 65_535], ["max-login-failures", 1, 100], ["ban-after", 0, 1_000_000], ["ban-window", 1, 604_800], ["ban-seconds", 1, 2_592_000], ["tls-handshake-timeout", 1, 3_600], ["drain-timeout", 0, 86_400]] as const) {
    const text = v[flag];
    if (text === undefined) {
      numbers[flag] = null;
      continue;
    }
    const n = integer(text, `--${flag}`, min, max);
    if (typeof n === "string") return { kind: "error", message: n };
    numbers[flag] = n;
  }
  let failDelaySeconds: number | null = null;
  if (v["login-fail-delay"] !== undefined) {
    const text = v["login-fail-delay"];
    // Milliseconds are the core's unit: more decimals would be a precision the server does not have.
    if (!/^\d{1,2}(\.\d{1,3})?$/.test(text) || Number(text) > 60) return { kind: "error", message: `--login-fail-delay must be seconds from 0 to 60 (at most 3 decimals), got ${JSON.stringify(text)}` };
    failDelaySeconds = Number(text);
  }
  const userHomes = new Map<string, string>();
  for (const text of v["user-home"] ?? []) {
    const pair = namePair(text, "--user-home", "NAME=DIR");
    if (typeof pair === "string") return { kind: "error", message: pair };
    if (userHomes.has(pair[0])) return { kind: "error", message: `--user-home: ${pair[0]} given twice` };
    if (resolveHome("/", pair[1]) === null) return { kind: "error", message: `--user-home ${text}: a relative home must lie under the served directory (no "..")` };
    userHomes.set(pair[0], pair[1]);
  }
  const userPermissions = new Map<string, readonly Right[]>();
  for (const text of v["user-permissions"] ?? []) {
    const pair = namePair(text, "--user-permissions", "NAME=PRESET or NAME=right,right");
    if (typeof pair === "string") return { kind: "error", message: pair };
    if (userPermissions.has(pair[0])) return { kind: "error", message: `--user-permissions: ${pair[0]} given twice` };
    const rights = parseRights(pair[1]);
    if (rights === null) {
      return {
        kind: "error",
        message: `--user-permissions ${text}: unknown preset or right (presets: read-only, read-write, upload-only; rights: list, read, create, overwrite, append, delete, rename, mkdir, rmdir, set-mtime)`,
      };
    }
    userPermissions.set(pair[0], rights);
  }
  const rateFlags: Record<string, number | null> = {};
  for (const flag of ["max-rate-down", "max-rate-up", "anonymous-max-rate-down", "anonymous-max-rate-up"] as const) {
    const text = v[flag];
    const n = text === undefined ? null : parseRate(text, `--${flag}`);
    if (typeof n === "string") return { kind: "error", message: n };
    rateFlags[flag] = n;
  }
  const userRates = new Map<string, { down?: number; up?: number }>();
  for (const [flag, direction] of [["user-max-rate-down", "down"], ["user-max-rate-up", "up"]] as const) {
    for (const text of v[flag] ?? []) {
      const pair = namePair(text, `--${flag}`, "NAME=RATE");
      if (typeof pair === "string") return { kind: "error", message: pair };
      const own = userRates.get(pair[0]) ?? {};
      if (own[direction] !== undefined) return { kind: "error", message: `--${flag}: ${pair[0]} given twice` };
      const n = parseRate(pair[1], `--${flag} ${pair[0]}`);
      if (typeof n === "string") return { kind: "error", message: n };
      own[direction] = n;
      userRates.set(pair[0], own);
    }
  }
  let metrics: CliOptions["metrics"] = null;
  if (v.metrics !== undefined) {
    const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(v.metrics);
    const address = m === null ? null : normalizeIp(m[1] ?? m[2] ?? "");
    const mport = m === null ? Number.NaN : Number(m[3]);
    if (address === null || !(mport >= 0 && mport <= 65535)) return { kind: "error", message: `--metrics must be IP:PORT (or [IPv6]:PORT), got ${JSON.stringify(v.metrics)}` };
    metrics = { host: address.address, port: mport };
  }
  const logFormat = v["log-format"] ?? null;
  if (logFormat !== null && logFormat !== "text" && logFormat !== "json") return { kind: "error", message: `--log-format must be text or json, got ${JSON.stringify(logFormat)}` };
  const inlineFs = v["inline-fs"] ?? null;
  if (inlineFs !== null && !isInlineFs(inlineFs)) return { kind: "error", message: `--inline-fs must be ${INLINE_FS_MODES.join(" or ")}, got ${JSON.stringify(inlineFs)}` };
  const logLevel = v["log-level"] ?? null;
  if (logLevel !== null && !isLogLevel(logLevel)) return { kind: "error", message: `--log-level must be one of ${LOG_LEVELS.join(", ")}, got ${JSON.stringify(logLevel)}` };
  const s3 = s3Options(v, parsed.positionals[0] ?? v.root);
  if (typeof s3 === "string") return { kind: "error", message: s3 };
  const cert = v["tls-cert"];
  const key = v["tls-key"];
  if ((cert === undefined) !== (key === undefined)) return { kind: "error", message: "--tls-cert and --tls-key go together" };
  if (v["tls-required"] === true && cert === undefined) return { kind: "error", message: "--tls-required needs --tls-cert and --tls-key" };
  const handshakeTimeoutSeconds = numbers["tls-handshake-timeout"] ?? null;
  if (handshakeTimeoutSeconds !== null && cert === undefined) return { kind: "error", message: "--tls-handshake-timeout needs --tls-cert and --tls-key" };
  const needsCert = (["tls-min-version", "tls-ciphers", "implicit-tls-port", "no-tls-reuse-check"] as const).find((flag) => v[flag] !== undefined);
  if (needsCert !== undefined && cert === undefined) return { kind: "error", message: `--${needsCert} needs --tls-cert and --tls-key` };
  const minVersionText = v["tls-min-version"] ?? "1.2";
  const minVersion: CliTls["minVersion"] = minVersionText === "1.3" ? "1.3" : "1.2";
  if (minVersionText !== minVersion) return { kind: "error", message: `--tls-min-version must be 1.2 or 1.3, got ${JSON.stringify(minVersionText)} (TLS 1.0 and 1.1 are not offered)` };
  const ciphers = v["tls-ciphers"] ?? null;
  if (ciphers !== null && !/^[A-Za-z0-9_\-+!@=:,. ]+$/.test(ciphers)) return { kind: "error", message: `--tls-ciphers must be an OpenSSL cipher list, got ${JSON.stringify(ciphers)}` };
  let implicitPort: number | null = null;
  if (v["implicit-tls-port"] !== undefined) {
    const n = integer(v["implicit-tls-port"], "--implicit-tls-port", 0, 65535);
    if (typeof n === "string") return { kind: "error", message: n };
    if (n !== 0 && n === port) return { kind: "error", message: `--implicit-tls-port ${String(n)} is also the --port` };
    implicitPort = n;
  }
  const tls = cert === undefined || key === undefined ? null : { cert, key, required: v["tls-required"] === true, handshakeTimeoutSeconds, minVersion, ciphers, implicitPort, reuseCheck: v["no-tls-reuse-check"] !== true };
  let seed: number | null = null;
  if (v.seed !== undefined) {
    const n = integer(v.seed, "--seed", 0, 0xffffffff);
    if (typeof n === "string") return { kind: "error", message: n };
    seed = n;
  }
  if (seed !== null && v.faults === undefined) return { kind: "error", message: "--seed needs --faults" };
  if (v.faults !== undefined && !isPlanFile(v.faults)) {
    try {
      parsePlan(v.faults);
    } catch (error) {
      return { kind: "error", message: `--faults: ${error instanceof Error ? error.message : String(error)}` };
    }
  }
  return {
    kind: "run",
    options: {
      dir: parsed.positionals[0] ?? v.root ?? ".",
      host,
      port,
      users,
      usersFile: v.users ?? null,
      write: v.write === true,
      anonymous: v["no-anonymous"] !== true,
      keepPartialUploads: v["keep-partial-uploads"] === true,
      passivePorts,
      publicAddress,
      idleTimeoutSeconds: numbers["idle-timeout"] ?? null,
      maxSessions: numbers["max-sessions"] ?? null,
      maxSessionsPerIp: numbers["max-sessions-per-ip"] ?? null,
      maxPassivePerIp: numbers["max-passive-per-ip"] ?? null,
      logins: {
        failDelaySeconds,
        maxFailures: numbers["max-login-failures"] ?? null,
        banAfter: numbers["ban-after"] ?? null,
        banWindowSeconds: numbers["ban-window"] ?? null,
        banSeconds: numbers["ban-seconds"] ?? null,
      },
      userHomes,
      userPermissions,
      hideDotfiles: v["hide-dotfiles"] === true,
      rates: { down: rateFlags["max-rate-down"] ?? null, up: rateFlags["max-rate-up"] ?? null, anonymousDown: rateFlags["anonymous-max-rate-down"] ?? null, anonymousUp: rateFlags["anonymous-max-rate-up"] ?? null },
      userRates,
      drainTimeoutSeconds: numbers["drain-timeout"] ?? null,
      xferlog: v.xferlog ?? null,
      logFormat,
      inlineFs,
      logLevel,
      metrics,
      s3,
      tls,
      proxyFrom,
      faults: v.faults ?? null,
      seed,
    },
  };
}

/** A --faults value that names a plan file rather than spelling the plan. */
export function isPlanFile(text: string): boolean {
  return /\.(json|toml)$/i.test(text);
}

function isInlineFs(text: string): text is InlineFs {
  return (INLINE_FS_MODES as readonly string[]).includes(text);
}

function isLogLevel(text: string): text is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(text);
}

/** NAME=VALUE, both non-empty; split at the first "=" (user names have none, values may). */
function namePair(text: string, flag: string, shape: string): [string, string] | string {
  const eq = text.indexOf("=");
  if (eq <= 0 || eq === text.length - 1) return `${flag} must be ${shape}, got ${JSON.stringify(text)}`;
  return [text.slice(0, eq), text.slice(eq + 1)];
}

/** S3 bucket names: 3 to 63 lower-case letters, digits, dots and hyphens (AWS's rule; s3rver's and MinIO's too). */
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

function s3Options(v: { readonly [flag: string]: string | boolean | (string | boolean)[] | undefined }, dir: string | undefined): S3Options | null | string {
  const text = (flag: string): string | undefined => {
    const value = v[flag];
    return typeof value === "string" ? value : undefined;
  };
  const bucket = text("s3-bucket");
  if (bucket === undefined) {
    for (const flag of ["s3-prefix", "s3-endpoint", "s3-region", "s3-path-style"]) if (v[flag] !== undefined) return `--${flag} needs --s3-bucket`;
    return null;
  }
  if (!BUCKET_NAME.test(bucket)) return `--s3-bucket must be a bucket name (3-63 lower-case letters, digits, dots, hyphens), got ${JSON.stringify(bucket)}`;
  if (dir !== undefined) return `--s3-bucket serves a bucket: give no DIR or --root with it (got ${JSON.stringify(dir)})`;
  const prefix = text("s3-prefix") ?? "";
  if (prefix.split("/").some((s) => s === "." || s === "..")) return `--s3-prefix must be a key prefix without "." or ".." segments, got ${JSON.stringify(prefix)}`;
  const endpoint = text("s3-endpoint") ?? null;
  if (endpoint !== null) {
    const url = URL.canParse(endpoint) ? new URL(endpoint) : null;
    if (url === null || (url.protocol !== "http:" && url.protocol !== "https:")) return `--s3-endpoint must be an http:// or https:// URL, got ${JSON.stringify(endpoint)}`;
    // Credentials belong to the AWS chain, never to a flag (a flag shows in the process list).
    if (url.username !== "" || url.password !== "") return "--s3-endpoint must not carry credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or a profile) instead";
  }
  const region = text("s3-region") ?? null;
  if (region !== null && !/^[a-z0-9-]{1,64}$/.test(region)) return `--s3-region must be a region name such as eu-west-1, got ${JSON.stringify(region)}`;
  return { bucket, prefix, endpoint, region, pathStyle: v["s3-path-style"] === true };
}
