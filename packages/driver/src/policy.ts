// Server-wide limits that no single session can see: how many sessions, and how many per address.
import { normalizeIp } from "@pasv/core";

export interface SessionLimits {
  readonly maxSessions: number;
  readonly maxSessionsPerIp: number;
}

export type Admission =
  | { readonly admitted: true; release(): void }
  | { readonly admitted: false; readonly reason: "max-sessions" | "max-sessions-per-ip" };

export class SessionCounter {
  private total = 0;
  private readonly perIp = new Map<string, number>();

  constructor(private limits: SessionLimits) {}

  /** New caps for sessions admitted from now on (a reload); admitted sessions keep their slots, so
   * a lowered cap refuses newcomers until enough of them have gone. */
  setLimits(limits: SessionLimits): void {
    this.limits = limits;
  }

  get sessions(): number {
    return this.total;
  }

  /** A refused session still gets its 421 from the core; it just never counts. */
  admit(address: string): Admission {
    const ip = normalizeIp(address)?.address ?? address;
    if (this.total >= this.limits.maxSessions) return { admitted: false, reason: "max-sessions" };
    const here = this.perIp.get(ip) ?? 0;
    if (here >= this.limits.maxSessionsPerIp) return { admitted: false, reason: "max-sessions-per-ip" };
    this.total++;
    this.perIp.set(ip, here + 1);
    let released = false;
    return {
      admitted: true,
      release: () => {
        if (released) return;
        released = true;
        this.total--;
        const left = (this.perIp.get(ip) ?? 1) - 1;
        if (left <= 0) this.perIp.delete(ip);
        else this.perIp.set(ip, left);
      },
    };
  }
}
