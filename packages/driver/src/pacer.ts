// A bandwidth limit for one transfer: a token bucket on the platform clock (ProFTPD's TransferRate,
// vsftpd's local_max_rate/anon_max_rate). The bucket holds at most one slice, so after any pause
// the peer gets at most one slice at once and then the rate; a transfer out of tokens waits on one
// platform timer, never a polling loop.
import type { Millis } from "@pasv/core";

/** The largest burst: one download read chunk (the local file systems read 1 MiB at a time). */
export const MAX_PACE_SLICE_BYTES = 1024 * 1024;
/** A limited transfer moves in about this many slices a second (down to one byte a slice), so the
 * pace is smooth at any rate and no wait between two slices is much longer than 1/16 s, far below
 * any stall timeout. */
export const PACE_SLICES_PER_SECOND = 16;

/** Bytes per second for each direction of a session's transfers; null is unlimited. */
export interface RateLimits {
  /** Downloads (RETR), server to client. */
  readonly down: number | null;
  /** Uploads (STOR, APPE, STOU), client to server. */
  readonly up: number | null;
}

export const UNLIMITED: RateLimits = { down: null, up: null };

/** A configured rate: a whole number of bytes per second, 0 (or unset) for none. */
export function checkRate(what: string, rate: number | undefined): number | null {
  if (rate === undefined || rate === 0) return null;
  if (!Number.isSafeInteger(rate) || rate < 0) throw new RangeError(`${what} must be a whole number of bytes per second (0 for no limit), not ${String(rate)}`);
  return rate;
}

/** A limit an account sets over the server's: unset keeps the server's, 0 lifts it. */
export function rateOverrides(names: readonly [down: string, up: string], down: number | undefined, up: number | undefined): Partial<RateLimits> {
  return { ...(down === undefined ? {} : { down: checkRate(names[0], down) }), ...(up === undefined ? {} : { up: checkRate(names[1], up) }) };
}

export class Pacer {
  /** Bytes one take() may ask for at most: the bucket's size. */
  readonly slice: number;
  /** Below zero: bytes already granted that the clock has not paid for yet. */
  private tokens: number;
  private last: Millis;

  constructor(readonly rate: number, now: Millis, maxSlice = MAX_PACE_SLICE_BYTES) {
    if (!(Number.isFinite(rate) && rate > 0)) throw new RangeError(`rate must be a positive number of bytes per second, not ${String(rate)}`);
    this.slice = Math.max(1, Math.min(maxSlice, Math.floor(rate / PACE_SLICES_PER_SECOND)));
    // A full bucket: the first slice goes at once.
    this.tokens = this.slice;
    this.last = now;
  }

  /**
   * Grants `bytes` (at most `slice`) and says how long to wait before sending them: 0 to send now.
   * After the wait the bucket is empty, so over any span T at most slice + rate*T bytes go.
   */
  take(bytes: number, now: Millis): Millis {
    if (bytes > this.slice) throw new RangeError(`take(${String(bytes)}) exceeds the slice of ${String(this.slice)} bytes`);
    // A clock that steps back pays nothing and takes nothing.
    const elapsed = Math.max(0, now - this.last);
    this.last = Math.max(this.last, now);
    this.tokens = Math.min(this.slice, this.tokens + (elapsed * this.rate) / 1000);
    this.tokens -= bytes;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.rate);
  }
}
