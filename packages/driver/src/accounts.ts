// The built-in login rule: anonymous (read-only, when enabled) and a fixed list of named users,
// each with a home (their "/") and a rights set the core enforces.
import { isAnonymousName, PRESETS, type Account, type Preset, type Right } from "@pasv/core";
import type { AuthProvider } from "./auth.js";
import { rateOverrides, type RateLimits } from "./pacer.js";
import { HashLimiter, parsePasswordHash, PASSWORD_HASH_FORMATS, passwordHashCostProblem, verifyPassword, type PasswordHash } from "./passwords.js";
import type { Vfs } from "./vfs.js";

export interface UserSpec {
  readonly user: string;
  /** Plaintext, for quick local use (`-u NAME:PASSWORD`); give this or `passwordHash`. */
  readonly password?: string;
  /** A hash in one of PASSWORD_HASH_FORMATS (htpasswd -B, mkpasswd, `pasv hash-password`). */
  readonly passwordHash?: string;
  /** The user's "/": a directory under the served root (relative) or an absolute path (default: the served root). */
  readonly home?: string;
  /** A preset or a list of rights (default: read-write with `write`, else read-only). */
  readonly permissions?: Preset | readonly Right[];
  /** Without `permissions`: read-write when true, read-only when false (default: the server's `write`). */
  readonly write?: boolean;
  /** Bytes per second for this user's downloads / uploads, over the server's; 0 is no limit (default: the server's). */
  readonly maxRateDown?: number;
  readonly maxRateUp?: number;
}

export interface AccountOptions {
  readonly users: readonly UserSpec[];
  readonly anonymous: boolean;
  readonly write: boolean;
  /** Dot files hidden for everyone (true), nobody (false), or anonymous sessions only. */
  readonly hideDotfiles: boolean | "anonymous";
  /** Anonymous sessions' own bandwidth limits over the server's (unset keeps the server's, null lifts it). */
  readonly anonymousRates?: Partial<RateLimits>;
  /** Replaces the hash check (tests count the hash work an attempt costs with it). */
  readonly verify?: (hash: PasswordHash, password: string) => Promise<boolean>;
  /** The bound on verifications at once; the server passes one for all its generations of
   * accounts, so reloads do not multiply it (default: a limiter of this provider's own). */
  readonly limiter?: HashLimiter;
}

/** The rights a spec grants: its permissions, else read-write or read-only as `write` says. */
export function userRights(spec: UserSpec, serverWrite: boolean): readonly Right[] {
  const p = spec.permissions;
  if (p === undefined) return PRESETS[(spec.write ?? serverWrite) ? "read-write" : "read-only"];
  return typeof p === "string" ? PRESETS[p] : p;
}

export function accountsAuth(options: AccountOptions, vfsFor: (home: string | undefined) => Vfs): AuthProvider {
  const users = new Map(options.users.map((u) => [u.user, { spec: u, hash: userHash(u), rates: rateOverrides([`user ${JSON.stringify(u.user)}: maxRateDown`, `user ${JSON.stringify(u.user)}: maxRateUp`], u.maxRateDown, u.maxRateUp) }]));
  const anonymousRates = options.anonymousRates ?? {};
  const anonymous: Account = { user: "anonymous", anonymous: true, rights: PRESETS["read-only"], hideDotFiles: options.hideDotfiles !== false };
  const dummy = typicalHash([...users.values()].map((u) => u.hash));
  const limiter = options.limiter ?? new HashLimiter();
  const verify = options.verify ?? verifyPassword;
  /** One verification of the typical entry's cost, whose answer is thrown away. */
  const burn = async (password: string): Promise<void> => {
    if (dummy !== null) await limiter.run(() => verify(dummy, password));
  };
  return {
    authenticate: async ({ user, password }) => {
      if (isAnonymousName(user)) {
        return options.anonymous ? { account: anonymous, vfs: vfsFor(undefined), rates: anonymousRates } : null;
      }
      const entry = users.get(user);
      // An unknown name, and a plaintext user, cost the same hash work as a hashed user, so the
      // reply time does not tell which names exist.
      let ok: boolean;
      if (entry === undefined) {
        await burn(password);
        ok = false;
      } else if (entry.hash !== null) {
        const hash = entry.hash;
        ok = await limiter.run(() => verify(hash, password));
      } else {
        await burn(password);
        ok = constantTimeEqual(entry.spec.password ?? "", password);
      }
      if (!ok || entry === undefined) return null;
      const account: Account = { user, anonymous: false, rights: userRights(entry.spec, options.write), hideDotFiles: options.hideDotfiles === true };
      return { account, vfs: vfsFor(entry.spec.home), rates: entry.rates };
    },
  };
}

function userHash(spec: UserSpec): PasswordHash | null {
  if ((spec.password === undefined) === (spec.passwordHash === undefined)) throw new Error(`user ${JSON.stringify(spec.user)}: give exactly one of password and passwordHash`);
  if (spec.passwordHash === undefined) return null;
  const hash = parsePasswordHash(spec.passwordHash);
  if (hash === null) throw new Error(`user ${JSON.stringify(spec.user)}: passwordHash is not a recognised hash (${PASSWORD_HASH_FORMATS})`);
  const problem = passwordHashCostProblem(hash);
  if (problem !== null) throw new Error(`user ${JSON.stringify(spec.user)}: ${problem}`);
  return hash;
}

/**
 * The hash an unknown name is checked against: an entry of the most common shape (kind and cost),
 * so a guess at a name that does not exist takes as long as a wrong password for the typical user.
 * Its answer is discarded, so whose hash it is does not matter.
 */
export function typicalHash(hashes: readonly (PasswordHash | null)[]): PasswordHash | null {
  const byShape = new Map<string, { hash: PasswordHash; count: number }>();
  let best: { hash: PasswordHash; count: number } | null = null;
  for (const hash of hashes) {
    if (hash === null) continue;
    const seen = byShape.get(hash.shape) ?? { hash, count: 0 };
    seen.count++;
    byShape.set(hash.shape, seen);
    if (best === null || seen.count > best.count) best = seen;
  }
  return best?.hash ?? null;
}

/** Takes as long for a wrong first character as for a wrong last one. */
export function constantTimeEqual(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) diff |= (a.charCodeAt(i) || 0) ^ (b.charCodeAt(i) || 0);
  return diff === 0;
}
