// Bans per client address, across all its sessions: a password guesser that reconnects after each
// session's last allowed failure is still counted (pure-ftpd and fail2ban's rule). Only the
// address's own failures count, so nobody is locked out by another address's guessing. The table
// is bounded: it forgets the address it heard from least recently first.
import { normalizeIp, type Millis } from "@pasv/core";

export interface BanOptions {
  /** Failed logins within `windowMs` that ban an address; 0 turns bans off. */
  readonly after: number;
  readonly windowMs: Millis;
  readonly durationMs: Millis;
  /**
   * Decides instead of the threshold (an embedder's own rule, e.g. a firewall's allow list):
   * called at every failed login with that address's failures within the window; true bans it,
   * false does not, undefined leaves it to `after`.
   */
  readonly decide?: (failure: { readonly address: string; readonly failures: number }) => boolean | undefined;
}

/** vsftpd has no bans, pure-ftpd's and fail2ban's defaults are of this order. */
export const DEFAULT_BAN_AFTER = 10;
export const DEFAULT_BAN_WINDOW_MS = 600_000;
export const DEFAULT_BAN_MS = 900_000;
/** Addresses remembered (with failures or a ban); beyond it the least recently heard is forgotten. */
export const MAX_BAN_TABLE_ENTRIES = 10_000;
/** Failure times kept per address (a decide hook may look past `after`). */
export const MAX_FAILURES_KEPT = 1_000;

interface Entry {
  failures: Millis[];
  bannedUntil: Millis;
}

export interface Ban {
  readonly address: string;
  readonly failures: number;
  readonly until: Millis;
}

export class BanTable {
  private readonly entries = new Map<string, Entry>();

  private options: BanOptions;

  constructor(options: BanOptions) {
    this.options = checkBanOptions(options);
  }

  /** New rules from now on (a reload); the failures and bans already counted stay. */
  configure(options: BanOptions): void {
    this.options = checkBanOptions(options);
  }

  /** Addresses remembered now (for tests and metrics). */
  get size(): number {
    return this.entries.size;
  }

  /** Whether `address` is banned at `now`. */
  banned(address: string, now: Millis): boolean {
    const entry = this.entries.get(key(address));
    return entry !== undefined && entry.bannedUntil > now;
  }

  /** Records a failed login from `address`; returns the ban when this failure starts one. */
  failed(address: string, now: Millis): Ban | null {
    if (this.options.after === 0 && this.options.decide === undefined) return null;
    const ip = key(address);
    const entry = this.entries.get(ip) ?? { failures: [], bannedUntil: 0 };
    // Re-inserted, so the Map's order is least recently heard first.
    this.entries.delete(ip);
    this.entries.set(ip, entry);
    const since = now - this.options.windowMs;
    entry.failures = entry.failures.filter((t) => t > since);
    entry.failures.push(now);
    if (entry.failures.length > MAX_FAILURES_KEPT) entry.failures.splice(0, entry.failures.length - MAX_FAILURES_KEPT);
    while (this.entries.size > MAX_BAN_TABLE_ENTRIES) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
    if (entry.bannedUntil > now) return null;
    const failures = entry.failures.length;
    const verdict = this.options.decide?.({ address: ip, failures });
    const ban = verdict ?? (this.options.after > 0 && failures >= this.options.after);
    if (!ban) return null;
    entry.bannedUntil = now + this.options.durationMs;
    // The ban is the answer to these failures; after it ends, the address starts afresh.
    entry.failures = [];
    return { address: ip, failures, until: entry.bannedUntil };
  }
}

/** The options themselves, or a RangeError naming what is wrong. */
export function checkBanOptions(options: BanOptions): BanOptions {
  if (!Number.isInteger(options.after) || options.after < 0) throw new RangeError(`ban threshold must be a whole number >= 0, got ${String(options.after)}`);
  if (!(options.windowMs > 0) || !(options.durationMs > 0)) throw new RangeError("ban window and duration must be positive");
  return options;
}

function key(address: string): string {
  return normalizeIp(address)?.address ?? address;
}
