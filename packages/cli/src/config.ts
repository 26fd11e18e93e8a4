// `pasv --config FILE`: a TOML file whose keys are the long flags (`port`, `pasv-ports`,
// `tls-cert`, …), plus `root` (the served directory) and `[[user]]` tables. The file becomes flags
// placed before the command line's, so the command line overrides it and every value passes the
// very checks a flag does; an error names the file, the line and the key.
import { parse, TomlError } from "smol-toml";
import { parsePasswordHash, PASSWORD_HASH_FORMATS, passwordHashCostProblem } from "@pasv/driver";
import { nameProblem, parseCli, parseRate } from "./args.js";

/** "rate": bytes per second, a whole number or a string with a k/M suffix ("2M"). */
/** "list": a string, or an array of strings joined with commas (`proxy-from = ["10.0.0.0/8", "::1"]`). */
type Kind = "string" | "path" | "integer" | "number" | "boolean" | "rate" | "list";

/** Every key the file may set, with the flag it stands for. Paths are relative to the file's directory. */
export const CONFIG_KEYS: Readonly<Record<string, Kind>> = {
  root: "path", // --root
  host: "string",
  port: "integer",
  users: "path",
  write: "boolean",
  "no-anonymous": "boolean",
  "keep-partial-uploads": "boolean",
  "hide-dotfiles": "boolean",
  "max-rate-down": "rate",
  "max-rate-up": "rate",
  "anonymous-max-rate-down": "rate",
  "anonymous-max-rate-up": "rate",
  "pasv-ports": "string",
  "public-address": "string",
  "proxy-protocol": "boolean",
  "proxy-from": "list",
  "idle-timeout": "integer",
  "max-sessions": "integer",
  "max-sessions-per-ip": "integer",
  "max-passive-per-ip": "integer",
  "login-fail-delay": "number",
  "max-login-failures": "integer",
  "ban-after": "integer",
  "ban-window": "integer",
  "ban-seconds": "integer",
  "tls-cert": "path",
  "tls-key": "path",
  "tls-required": "boolean",
  "tls-handshake-timeout": "integer",
  "tls-min-version": "string",
  "tls-ciphers": "string",
  "implicit-tls-port": "integer",
  "no-tls-reuse-check": "boolean",
  "drain-timeout": "integer",
  xferlog: "path",
  "log-format": "string",
  "inline-fs": "string",
  "log-level": "string",
  metrics: "string",
  "s3-bucket": "string",
  "s3-prefix": "string",
  "s3-endpoint": "string",
  "s3-region": "string",
  "s3-path-style": "boolean",
  faults: "string",
  seed: "integer",
};

const USER_KEYS = ["name", "password-hash", "home", "permissions", "max-rate-down", "max-rate-up"] as const;

/** A `[[user]]` table. */
export interface ConfigUser {
  readonly name: string;
  readonly passwordHash: string;
  /** Where the table starts, for errors found later (an unrecognised hash). */
  readonly line: number;
}

export interface Config {
  /** Flags standing for the file's keys, to go before the command line's. */
  readonly args: readonly string[];
  readonly users: readonly ConfigUser[];
}

/** Joins a path from the file to the file's directory (POSIX paths, as the CLI uses them). */
function relative(dir: string, p: string): string {
  return p.startsWith("/") ? p : `${dir}/${p}`;
}

/** The 1-based line that sets `key`: at the top level, or inside the `index`-th `[[user]]` table. */
function lineOf(text: string, key: string, table: number | null): number {
  const lines = text.split("\n");
  let seen = -1;
  let inTable = false;
  const keyLine = new RegExp(`^\\s*("?)${key.replace(/[-]/g, "\\-")}\\1\\s*=`);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    if (/^\s*\[\[\s*user\s*\]\]/.test(line)) {
      seen++;
      inTable = true;
      if (table === seen && key === "[[user]]") return i + 1;
      continue;
    }
    if (/^\s*\[/.test(line)) inTable = true;
    if (keyLine.test(line) && (table === null ? !inTable : inTable && seen === table)) return i + 1;
  }
  return 1;
}

/** A rate as the flag's text: a whole number, or a string the flag will check; null for anything else. */
function rateText(value: unknown): string | null {
  if (typeof value === "number") return Number.isSafeInteger(value) ? String(value) : null;
  return typeof value === "string" ? value : null;
}

function typeName(value: unknown): string {
  if (Array.isArray(value)) return "an array";
  if (value instanceof Date) return "a date";
  return typeof value === "object" && value !== null ? "a table" : `a ${typeof value}`;
}

/**
 * Reads the file's text (`file` names it in errors; `dir` is its directory). Returns the flags it
 * stands for, or a one-line error `FILE:LINE: key: what is wrong`.
 */
export function readConfig(text: string, file: string, dir: string): Config | string {
  let doc: Record<string, unknown>;
  try {
    doc = parse(text);
  } catch (error) {
    if (error instanceof TomlError) return `${file}:${String(error.line)}: ${error.message.split("\n")[0] ?? "invalid TOML"}`;
    return `${file}: ${error instanceof Error ? error.message : String(error)}`;
  }
  const args: string[] = [];
  const users: ConfigUser[] = [];
  for (const [key, value] of Object.entries(doc)) {
    const at = (message: string, table: number | null = null, line = key): string => `${file}:${String(lineOf(text, line, table))}: ${message}`;
    if (key === "user") {
      if (!Array.isArray(value)) return at("user: write users as [[user]] tables");
      for (let i = 0; i < value.length; i++) {
        const table: unknown = value[i];
        if (typeof table !== "object" || table === null || Array.isArray(table)) return at("user: write users as [[user]] tables");
        const entry = table as Record<string, unknown>;
        for (const k of Object.keys(entry)) if (!(USER_KEYS as readonly string[]).includes(k)) return at(`user.${k}: unknown key (a [[user]] has ${USER_KEYS.join(", ")})`, i, k);
        const name = entry.name;
        const hash = entry["password-hash"];
        if (typeof name !== "string" || name === "") return at("user.name: a [[user]] needs a name (a string)", i, typeof name === "undefined" ? "[[user]]" : "name");
        if (typeof hash !== "string" || hash === "") return at(`user ${name}: password-hash must be a string (make one with \`pasv hash-password\`)`, i, typeof hash === "undefined" ? "[[user]]" : "password-hash");
        const problem = nameProblem(name);
        if (problem !== null) return at(`user.name: ${problem}`, i, "name");
        // Never echoed: a plaintext password put here by mistake must not reach a log.
        const parsed = parsePasswordHash(hash);
        if (parsed === null) return at(`user ${name}: password-hash is not a recognised hash (${PASSWORD_HASH_FORMATS}); make one with 'pasv hash-password'`, i, "password-hash");
        const costly = passwordHashCostProblem(parsed);
        if (costly !== null) return at(`user ${name}: password-hash: ${costly}; make one with 'pasv hash-password'`, i, "password-hash");
        const home = entry.home;
        if (home !== undefined) {
          if (typeof home !== "string") return at(`user ${name}: home must be a string, got ${typeName(home)}`, i, "home");
          args.push("--user-home", `${name}=${home}`);
        }
        const permissions = entry.permissions;
        if (permissions !== undefined) {
          const list = typeof permissions === "string" ? [permissions] : Array.isArray(permissions) && permissions.every((p) => typeof p === "string") ? permissions : null;
          if (list === null) return at(`user ${name}: permissions must be a preset or an array of rights, got ${typeName(permissions)}`, i, "permissions");
          args.push("--user-permissions", `${name}=${list.join(",")}`);
        }
        for (const k of ["max-rate-down", "max-rate-up"] as const) {
          const value = entry[k];
          if (value === undefined) continue;
          const rate = rateText(value);
          if (rate === null) return at(`user ${name}: ${k} must be bytes per second (a whole number, or a string like "2M"), got ${typeName(value)}`, i, k);
          const problem = parseRate(rate, k);
          if (typeof problem === "string") return at(`user ${name}: ${problem}`, i, k);
          args.push(`--user-${k}`, `${name}=${rate}`);
        }
        users.push({ name, passwordHash: hash, line: lineOf(text, "[[user]]", i) });
      }
      continue;
    }
    const kind = CONFIG_KEYS[key];
    if (kind === undefined) return at(`${key}: unknown key`);
    switch (kind) {
      case "boolean":
        if (typeof value !== "boolean") return at(`${key} must be true or false, got ${typeName(value)}`);
        if (value) args.push(`--${key}`);
        break;
      case "integer":
        if (typeof value !== "number" || !Number.isInteger(value)) return at(`${key} must be a whole number, got ${typeof value === "number" ? String(value) : typeName(value)}`);
        args.push(...numberFlag(key, value));
        break;
      case "number":
        if (typeof value !== "number") return at(`${key} must be a number, got ${typeName(value)}`);
        args.push(...numberFlag(key, value));
        break;
      case "rate": {
        const rate = rateText(value);
        if (rate === null) return at(`${key} must be bytes per second (a whole number, or a string like "2M"), got ${typeName(value)}`);
        // One argument: node:util would read a negative value as another flag.
        args.push(`--${key}=${rate}`);
        break;
      }
      case "list": {
        const list = typeof value === "string" ? [value] : Array.isArray(value) && value.every((x) => typeof x === "string") ? value : null;
        if (list === null) return at(`${key} must be a string or an array of strings, got ${typeName(value)}`);
        args.push(`--${key}`, list.join(","));
        break;
      }
      case "string":
      case "path":
        if (typeof value !== "string") return at(`${key} must be a string, got ${typeName(value)}`);
        args.push(`--${key}`, kind === "path" ? relative(dir, value) : value);
        break;
    }
    // The flag's own checks, here so the error can name the line; a rule between flags (a
    // certificate needs its key) is checked once all are in.
    if (kind !== "boolean" && !key.startsWith("tls-") && key !== "implicit-tls-port" && !(key.startsWith("s3-") && key !== "s3-bucket")) {
      // --proxy-from goes with --proxy-protocol; checked alone it would only say so.
      const partner = key === "proxy-from" ? ["--proxy-protocol"] : [];
      const alone = parseCli([...partner, ...args.slice(args.findLastIndex((a) => a === `--${key}` || a.startsWith(`--${key}=`)))]);
      if (alone.kind === "error") return at(`${key}: ${alone.message}`);
    }
  }
  return { args, users };
}

/** A negative value joined to its flag, so the parser reads it as the value, not as another flag
 * (its range check then names it, on one line). */
function numberFlag(key: string, value: number): string[] {
  return value < 0 ? [`--${key}=${String(value)}`] : [`--${key}`, String(value)];
}

/** Where the command line names a config file: `--config FILE` or `--config=FILE`; the rest of the line without it. */
export function splitConfigFlag(argv: readonly string[]): { file: string | null; rest: string[] } | string {
  const rest: string[] = [];
  let file: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? "";
    if (a === "--") {
      rest.push(...argv.slice(i));
      break;
    }
    if (a === "--config" || a.startsWith("--config=")) {
      if (file !== null) return "--config may be given once";
      const value = a === "--config" ? argv[++i] : a.slice("--config=".length);
      if (value === undefined || value === "") return "--config needs a FILE";
      file = value;
      continue;
    }
    rest.push(a);
  }
  return { file, rest };
}
