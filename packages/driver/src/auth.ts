import type { Account, Endpoint } from "@pasv/core";
import type { RateLimits } from "./pacer.js";
import type { Vfs } from "./vfs.js";

export interface AuthRequest {
  readonly user: string;
  readonly password: string;
  readonly remote: Endpoint;
  /** The control connection is TLS-protected. */
  readonly tls: boolean;
}

/** A successful login: who the user is, what they may do, and the file system rooted where they live. */
export interface AuthGrant {
  readonly account: Account;
  readonly vfs: Vfs;
  /** Bandwidth limits for this account's transfers; a direction left out keeps the server's, null lifts it. */
  readonly rates?: Partial<RateLimits>;
}

export interface AuthProvider {
  /** Resolves null for a refused login; never rejects for bad credentials. */
  authenticate(request: AuthRequest): Promise<AuthGrant | null>;
}
