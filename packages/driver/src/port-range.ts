// The passive port range: one type, one validation, one pick. The core decides nothing with it (it
// asks for "a listener" and is told the port), so it lives where listeners are made.
import { normalizeIp } from "@pasv/core";

export interface PortRange {
  readonly min: number;
  readonly max: number;
}

export const DEFAULT_PASSIVE_PORTS: PortRange = { min: 49152, max: 65534 };

/** Ports below this need privileges and belong to well-known services. */
export const LOWEST_PASSIVE_PORT = 1024;

/** Null when the range is usable, else why not (for a start-up error). */
export function portRangeProblem(range: PortRange): string | null {
  const { min, max } = range;
  if (!Number.isInteger(min) || !Number.isInteger(max)) return `passive ports must be whole numbers (got ${String(min)}-${String(max)})`;
  if (min < LOWEST_PASSIVE_PORT || max > 65535) return `passive ports must lie within ${LOWEST_PASSIVE_PORT}-65535 (got ${min}-${max})`;
  if (min > max) return `passive port range ${min}-${max} is reversed`;
  return null;
}

/** Throws a RangeError naming the problem; returns the range otherwise. */
export function checkPortRange(range: PortRange): PortRange {
  const problem = portRangeProblem(range);
  if (problem !== null) throw new RangeError(problem);
  return range;
}

/** A uniformly random port of the range; `random` is uniform in [0, 1). */
export function pickPort(range: PortRange, random: () => number): number {
  return range.min + Math.min(range.max - range.min, Math.floor(random() * (range.max - range.min + 1)));
}

// Who may hold ports of the range. A passive listener lives from PASV/EPSV until its client connects
// (milliseconds for a real client), the session asks for another set-up, or the 60 s accept deadline;
// a client that PASVs and never connects keeps its port that long. The cap is per client address and
// shared by all its sessions, so one address cannot pin the range with many idle sessions.

/**
 * Passive listeners one client address may hold at once when the operator sets no cap. FileZilla
 * runs at most 10 transfers in parallel (WinSCP 2 by default), and each holds its listener only until
 * it connects, so 16 leaves room for a busy client and a few NAT neighbours; in the default range
 * (16,383 ports) it is 0.1%, so pinning that range takes a thousand addresses.
 */
export const DEFAULT_MAX_PASSIVE_PER_IP = 16;

/** Without an explicit cap, one address holds at most 1/PASSIVE_RANGE_SHARE of a small range, so a
 * 4-port range still has 3 ports for others (and any range has at least one port per address). */
export const PASSIVE_RANGE_SHARE = 4;

/** The cap used when none is configured: the constant, but never more than a share of the range. */
export function defaultMaxPassivePerIp(range: PortRange): number {
  const share = Math.floor((range.max - range.min + 1) / PASSIVE_RANGE_SHARE);
  return Math.max(1, Math.min(DEFAULT_MAX_PASSIVE_PER_IP, share));
}

export type PassiveClaim =
  | { readonly granted: true; readonly release: () => void }
  | { readonly granted: false; readonly limit: number };

/** Passive listeners held per client address, across every session of one server. */
/** The cap itself, or a RangeError saying what a cap must be. */
export function checkPassiveCap(maxPerIp: number): number {
  if (!Number.isInteger(maxPerIp) || maxPerIp < 1) throw new RangeError(`the passive listener cap per address must be a whole number of at least 1 (got ${String(maxPerIp)})`);
  return maxPerIp;
}

export class PassiveCounter {
  private readonly perIp = new Map<string, number>();

  private max: number;

  constructor(maxPerIp: number) {
    this.max = checkPassiveCap(maxPerIp);
  }

  get maxPerIp(): number {
    return this.max;
  }

  /** A new cap for claims from now on (a reload); listeners already held stay held. */
  setMaxPerIp(maxPerIp: number): void {
    this.max = checkPassiveCap(maxPerIp);
  }

  /** Listeners held by every address together (tests and leak checks read this). */
  get held(): number {
    let total = 0;
    for (const n of this.perIp.values()) total += n;
    return total;
  }

  /** A slot for one listener of `address`; release it when the listener closes (more than once is harmless). */
  claim(address: string): PassiveClaim {
    const ip = normalizeIp(address)?.address ?? address;
    const here = this.perIp.get(ip) ?? 0;
    if (here >= this.maxPerIp) return { granted: false, limit: this.maxPerIp };
    this.perIp.set(ip, here + 1);
    let released = false;
    return {
      granted: true,
      release: () => {
        if (released) return;
        released = true;
        const left = (this.perIp.get(ip) ?? 1) - 1;
        if (left <= 0) this.perIp.delete(ip);
        else this.perIp.set(ip, left);
      },
    };
  }
}

/** What one session's data channels draw on: the server's range and its client's share of it. */
export interface PassivePorts {
  readonly range: PortRange;
  claim(): PassiveClaim;
}
