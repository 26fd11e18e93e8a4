// The built-in login rule: anonymous (read-only, when enabled) and a fixed list of named users,
// each with a home (their "/") and a rights set the core enforces.
import { isAnonymousName, PRESETS, type Account, type Preset, type Right } from "@pasv/core";
import type { AuthProvider } from "./auth.js";
import type { Vfs } from "./vfs.js";

export interface UserSpec {
  readonly user: string;
  readonly password: string;
  /** The user's "/": a directory under the served root (relative) or an absolute path (default: the served root). */
  readonly home?: string;
  /** A preset or a list of rights (default: read-write with `write`, else read-only). */
  readonly permissions?: Preset | readonly Right[];
  /** Without `permissions`: read-write when true, read-only when false (default: the server's `write`). */
  readonly write?: boolean;
}

export interface AccountOptions {
  readonly users: readonly UserSpec[];
  readonly anonymous: boolean;
  readonly write: boolean;
  /** Dot files hidden for everyone (true), nobody (false), or anonymous sessions only. */
  readonly hideDotfiles: boolean | "anonymous";
}

/** The rights a spec grants: its permissions, else read-write or read-only as `write` says. */
export function userRights(spec: UserSpec, serverWrite: boolean): readonly Right[] {
  const p = spec.permissions;
  if (p === undefined) return PRESETS[(spec.write ?? serverWrite) ? "read-write" : "read-only"];
  return typeof p === "string" ? PRESETS[p] : p;
}

export function accountsAuth(options: AccountOptions, vfsFor: (home: string | undefined) => Vfs): AuthProvider {
  const users = new Map(options.users.map((u) => [u.user, u]));
  const anonymous: Account = { user: "anonymous", anonymous: true, rights: PRESETS["read-only"], hideDotFiles: options.hideDotfiles !== false };
  return {
    authenticate: ({ user, password }) => {
      if (isAnonymousName(user)) {
        return Promise.resolve(options.anonymous ? { account: anonymous, vfs: vfsFor(undefined) } : null);
      }
      const spec = users.get(user);
      if (spec === undefined || !constantTimeEqual(spec.password, password)) return Promise.resolve(null);
      const account: Account = { user, anonymous: false, rights: userRights(spec, options.write), hideDotFiles: options.hideDotfiles === true };
      return Promise.resolve({ account, vfs: vfsFor(spec.home) });
    },
  };
}

/** Takes as long for a wrong first character as for a wrong last one. */
export function constantTimeEqual(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) diff |= (a.charCodeAt(i) || 0) ^ (b.charCodeAt(i) || 0);
  return diff === 0;
}
