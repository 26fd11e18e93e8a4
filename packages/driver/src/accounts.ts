// The built-in login rule: anonymous (read-only, when enabled) and a fixed list of named users.
import { isAnonymousName } from "@pasv/core";
import type { AuthProvider } from "./auth.js";
import type { Vfs } from "./vfs.js";

export interface UserSpec {
  readonly user: string;
  readonly password: string;
  /** The user's own root (default: the server's). */
  readonly root?: string;
  /** May upload, make and remove directories, delete, rename (default: the server's `write`). */
  readonly write?: boolean;
}

export interface AccountOptions {
  readonly users: readonly UserSpec[];
  readonly anonymous: boolean;
  readonly write: boolean;
}

export function accountsAuth(options: AccountOptions, vfsFor: (root: string | undefined) => Vfs): AuthProvider {
  const users = new Map(options.users.map((u) => [u.user, u]));
  return {
    authenticate: ({ user, password }) => {
      if (isAnonymousName(user)) {
        return Promise.resolve(options.anonymous ? { account: { user: "anonymous", anonymous: true, write: false }, vfs: vfsFor(undefined) } : null);
      }
      const spec = users.get(user);
      if (spec === undefined || !constantTimeEqual(spec.password, password)) return Promise.resolve(null);
      return Promise.resolve({ account: { user, anonymous: false, write: spec.write ?? options.write }, vfs: vfsFor(spec.root) });
    },
  };
}

/** Takes as long for a wrong first character as for a wrong last one. */
export function constantTimeEqual(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) diff |= (a.charCodeAt(i) || 0) ^ (b.charCodeAt(i) || 0);
  return diff === 0;
}
