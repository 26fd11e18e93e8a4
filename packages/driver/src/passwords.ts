// Password hashes as operators already have them (htpasswd -B, mkpasswd, `pasv hash-password`):
// recognising the formats, verifying without stalling the other sessions, making new argon2id hashes.
// The algorithms come from libraries (see README: Password hashes); this module only reads and writes
// the text formats around them.
import { argon2idAsync } from "@noble/hashes/argon2.js";
import { scryptAsync } from "@noble/hashes/scrypt.js";
import { randomBytes } from "@noble/hashes/utils.js";
import bcrypt from "bcryptjs";
import { verify as shaCryptVerify } from "unixcrypt";

/** What a users file may hold, for error messages and the docs. */
export const PASSWORD_HASH_FORMATS = "bcrypt ($2a$, $2b$, $2y$), SHA-crypt ($5$, $6$), argon2id ($argon2id$), scrypt ($7$)";

/** OWASP's first argon2id choice (m=19 MiB, t=2, p=1): what `pasv hash-password` makes. */
export const ARGON2ID_DEFAULTS = { memoryKiB: 19_456, iterations: 2, parallelism: 1, saltBytes: 16, hashBytes: 32 } as const;

/**
 * The longest stretch one verification computes before letting other sessions run. The pure-JS
 * argon2id/scrypt yield this often; bcryptjs yields every 100 ms (its own constant); SHA-crypt does
 * not yield (about 5 ms for $5$ and 20 ms for $6$ at the default 5,000 rounds on these machines).
 */
export const HASH_TIME_SLICE_MS = 10;

/**
 * The most SHA-crypt rounds a users file may ask for. SHA-crypt cannot yield (see HASH_TIME_SLICE_MS),
 * so every login with such a hash stops every other session for its whole computation: 4-9 us per
 * `$6$` round on these machines (50,000 rounds: 0.2-0.4 s; passlib's default of 656,000: 6.3 s on a
 * busy machine; rounds=999999999: hours). Such a hash is refused at start-up instead.
 */
export const SHA_CRYPT_MAX_ROUNDS = 50_000;

/** The argon2 library's own memory cap (under 4 GiB); a bigger m could never be verified. */
const ARGON2ID_MAX_KIB = 2 ** 22;

export type PasswordHashKind = "bcrypt" | "sha-crypt" | "argon2id" | "scrypt";

export interface PasswordHash {
  readonly kind: PasswordHashKind;
  /** The kind and its cost parameters: two hashes of one shape cost the same to verify. */
  readonly shape: string;
  readonly text: string;
  /** Decoded parameters the verifier needs (argon2id, scrypt). */
  readonly params?: Argon2Params | ScryptParams;
  /** SHA-crypt's rounds. */
  readonly rounds?: number;
}

/** Why a recognised hash cannot be used (it would stall the server at every login), or null. */
export function passwordHashCostProblem(hash: PasswordHash): string | null {
  if (hash.kind !== "sha-crypt" || (hash.rounds ?? 0) <= SHA_CRYPT_MAX_ROUNDS) return null;
  return `SHA-crypt with rounds=${hash.rounds} would stop every other session while each login is checked (SHA-crypt cannot yield; the most is ${SHA_CRYPT_MAX_ROUNDS} rounds)`;
}

interface Argon2Params {
  readonly m: number;
  readonly t: number;
  readonly p: number;
  readonly salt: Uint8Array;
  readonly hash: Uint8Array;
}

interface ScryptParams {
  readonly logN: number;
  readonly r: number;
  readonly p: number;
  readonly salt: string;
  readonly hash: string;
}

/** crypt(3)'s base-64 alphabet ($5$, $6$, $7$ and bcrypt salts and hashes). */
const CRYPT64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/** PHC strings use standard base-64 without padding. */
const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

const BCRYPT = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;
const SHA_CRYPT = /^\$([56])\$(?:rounds=(\d{1,9})\$)?([^$:\s]{0,16})\$([./0-9A-Za-z]+)$/;
const ARGON2ID = /^\$argon2id\$v=19\$m=(\d{1,10}),t=(\d{1,10}),p=(\d{1,3})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;
const SCRYPT7 = /^\$7\$([./0-9A-Za-z])([./0-9A-Za-z]{5})([./0-9A-Za-z]{5})([./0-9A-Za-z]{1,64})\$([./0-9A-Za-z]{43})$/;

/** The hash `text` describes, or null when it is none of PASSWORD_HASH_FORMATS (plaintext, a typo, md5crypt…). */
export function parsePasswordHash(text: string): PasswordHash | null {
  let m = BCRYPT.exec(text);
  if (m !== null) {
    const cost = Number(m[1]);
    // bcrypt defines costs 4..31; anything else would be rejected at every login.
    return cost >= 4 && cost <= 31 ? { kind: "bcrypt", shape: `bcrypt:${cost}`, text } : null;
  }
  m = SHA_CRYPT.exec(text);
  if (m !== null) {
    const variant = m[1] ?? "";
    // crypt(3) clamps rounds to 1000..999999999; a file outside that was not written by a crypt tool.
    const rounds = m[2] === undefined ? 5000 : Number(m[2]);
    if (rounds < 1000 || rounds > 999_999_999) return null;
    if ((m[4] ?? "").length !== (variant === "5" ? 43 : 86)) return null;
    return { kind: "sha-crypt", shape: `sha-crypt:${variant}:${rounds}`, text, rounds };
  }
  m = ARGON2ID.exec(text);
  if (m !== null) {
    const [mem, t, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const salt = fromBase64(m[4] ?? "");
    const hash = fromBase64(m[5] ?? "");
    // RFC 9106 bounds: p in 1..2^24-1, m >= 8p KiB, t >= 1, salt >= 8 bytes, tag >= 4 bytes.
    if (salt === null || hash === null || p < 1 || t < 1 || mem < 8 * p || mem >= ARGON2ID_MAX_KIB || salt.length < 8 || hash.length < 4) return null;
    return { kind: "argon2id", shape: `argon2id:${mem}:${t}:${p}:${hash.length}`, text, params: { m: mem, t, p, salt, hash } };
  }
  m = SCRYPT7.exec(text);
  if (m !== null) {
    const logN = CRYPT64.indexOf(m[1] ?? "");
    const r = crypt64Number(m[2] ?? "");
    const p = crypt64Number(m[3] ?? "");
    // scrypt needs N = 2^logN > 1 and r*p < 2^30 (RFC 7914).
    if (logN < 1 || logN > 40 || r < 1 || p < 1 || r * p >= 2 ** 30) return null;
    return { kind: "scrypt", shape: `scrypt:${logN}:${r}:${p}`, text, params: { logN, r, p, salt: m[4] ?? "", hash: m[5] ?? "" } };
  }
  return null;
}

/** Whether `password` is the one `hash` was made from. Yields to the event loop as described at HASH_TIME_SLICE_MS. */
export async function verifyPassword(hash: PasswordHash, password: string): Promise<boolean> {
  switch (hash.kind) {
    case "bcrypt":
      // bcryptjs compares the results in constant time itself.
      return bcrypt.compare(password, hash.text);
    case "sha-crypt":
      // unixcrypt compares with crypto.timingSafeEqual.
      return Promise.resolve(shaCryptVerify(password, hash.text));
    case "argon2id": {
      const a = hash.params as Argon2Params;
      const derived = await argon2idAsync(password, a.salt, { m: a.m, t: a.t, p: a.p, dkLen: a.hash.length, asyncTick: HASH_TIME_SLICE_MS });
      return constantTimeBytesEqual(derived, a.hash);
    }
    case "scrypt": {
      const s = hash.params as ScryptParams;
      const N = 2 ** s.logN;
      // The $7$ format hashes the salt as its text, not decoded (libxcrypt, libsodium).
      const derived = await scryptAsync(password, s.salt, { N, r: s.r, p: s.p, dkLen: 32, asyncTick: HASH_TIME_SLICE_MS, maxmem: 128 * N * s.r * s.p + 128 * s.r * 2 + 1024 });
      return constantTimeBytesEqual(asciiBytes(toCrypt64(derived)), asciiBytes(s.hash));
    }
  }
}

/** A new argon2id PHC string for `password` (random salt), as `pasv hash-password` prints it. */
export async function hashPassword(password: string): Promise<string> {
  const d = ARGON2ID_DEFAULTS;
  const salt = randomBytes(d.saltBytes);
  const hash = await argon2idAsync(password, salt, { m: d.memoryKiB, t: d.iterations, p: d.parallelism, dkLen: d.hashBytes, asyncTick: HASH_TIME_SLICE_MS });
  return `$argon2id$v=19$m=${d.memoryKiB},t=${d.iterations},p=${d.parallelism}$${toBase64(salt)}$${toBase64(hash)}`;
}

/**
 * Runs at most `limit` verifications at once, the rest in arrival order. Each argon2id/scrypt run
 * holds its memory (19 MiB for OWASP argon2id, 64 MiB for mkpasswd's scrypt) until it finishes, and
 * on one thread running more side by side finishes none sooner, so a login flood queues here
 * instead of exhausting memory.
 */
export class HashLimiter {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly limit = 2) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running++;
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      // The slot passes straight to the next waiter, so `running` counts it without a gap.
      if (next === undefined) this.running--;
      else next();
    }
  }
}

/** Takes as long for a difference in the first byte as in the last one. */
export function constantTimeBytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

/** ASCII text as bytes (crypt64 strings are ASCII; the driver's lib has no TextEncoder). */
function asciiBytes(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff);
}

function crypt64Number(text: string): number {
  let value = 0;
  // Little-endian, six bits per character (libxcrypt's decode64_uint32).
  for (let i = 0; i < text.length; i++) value += CRYPT64.indexOf(text.charAt(i)) * 2 ** (6 * i);
  return value;
}

/** libxcrypt's encode64 for $7$: three bytes little-endian into four characters, a short tail into fewer. */
function toCrypt64(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const value = (bytes[i] ?? 0) | ((bytes[i + 1] ?? 0) << 8) | ((bytes[i + 2] ?? 0) << 16);
    const chars = Math.min(4, bytes.length - i + 1);
    for (let j = 0; j < chars; j++) out += CRYPT64.charAt((value >>> (6 * j)) & 63);
  }
  return out;
}

function toBase64(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const value = ((bytes[i] ?? 0) << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = Math.min(4, bytes.length - i + 1);
    for (let j = 0; j < chars; j++) out += B64.charAt((value >>> (18 - 6 * j)) & 63);
  }
  return out;
}

/** Unpadded standard base-64 (PHC), or null for a length no encoder produces. */
function fromBase64(text: string): Uint8Array | null {
  if (text.length % 4 === 1) return null;
  const out = new Uint8Array(Math.floor((text.length * 6) / 8));
  let bits = 0;
  let value = 0;
  let at = 0;
  for (const c of text) {
    value = ((value << 6) | B64.indexOf(c)) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (value >>> bits) & 0xff;
    }
  }
  return out;
}
