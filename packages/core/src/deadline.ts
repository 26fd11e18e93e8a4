// The session's named deadlines, one table (quinn's TimerTable): when each one applies is written
// here once; `nextDeadline` is the earliest entry and a `timer` event expires the entries that are due.
import type { Draft, SessionState } from "./state.js";
import type { Millis } from "./types.js";

/** Every deadline a session can have, in the order one `timer` event expires those that are due. */
export const DEADLINE_NAMES = [
  /** A failed PASS: its 530 (or 421) is held until then (brute-force throttling). */
  "login-delay",
  /** A transfer command after its mark, waiting for the client to connect to the passive listener: 425. */
  "data-accept",
  /** A transfer command after its mark, waiting for the PORT/EPRT connect to complete: 425. */
  "data-connect",
  /** A passive listener nobody used: dropped silently (no unsolicited reply). */
  "listener",
  /** Not logged in in time (counted from connect, or from a REIN or AUTH that ended a login): 421 and close. */
  "login",
  /** No command and no outstanding operation for the idle timeout (SITE IDLE): 421 and close. */
  "idle",
] as const;

export type DeadlineName = (typeof DEADLINE_NAMES)[number];

/** When each named deadline falls, or null while it does not apply. */
export type Deadlines = { readonly [K in DeadlineName]: Millis | null };

export const NO_DEADLINES: Deadlines = {
  "login-delay": null,
  "data-accept": null,
  "data-connect": null,
  listener: null,
  login: null,
  idle: null,
};

/** The table a state implies: the one place that says when each deadline applies. */
export function deadlinesOf(s: SessionState): Deadlines {
  if (s.phase !== "ready") return NO_DEADLINES;
  const op = s.op;
  const idle = op.kind === "none";
  return {
    "login-delay": op.kind === "login-delay" ? op.until : null,
    "data-accept": op.kind === "transfer" && op.phase === "await-connection" ? op.deadline : null,
    "data-connect": op.kind === "transfer" && op.phase === "connecting" ? op.deadline : null,
    // While a command is outstanding the listener is its business (a transfer has its own deadline).
    listener: idle && s.channel.kind === "passive" ? s.channel.expires : null,
    // An answer to PASS is on its way: the login it decides is not late. During an AUTH handshake
    // no reply can be read (the driver's handshake deadline bounds it); a login deadline that
    // passed meanwhile fires right after, over TLS.
    login: s.login.kind !== "in" && op.kind !== "auth" && op.kind !== "login-delay" && op.kind !== "tls" ? s.unauthSince + s.config.timeouts.login : null,
    // RFC 1123 §4.1.3.2: only while no command and no transfer is in progress.
    idle: idle ? s.lastActivity + s.idleTimeout : null,
  };
}

/** Brings the draft's table up to date (keeping the old object when nothing moved). */
export function armDeadlines(s: Draft): void {
  const next = deadlinesOf(s);
  const old = s.deadlines;
  for (const name of DEADLINE_NAMES) {
    if (next[name] !== old[name]) {
      s.deadlines = next;
      return;
    }
  }
}

/** The one instant the driver must wake the session at, or null. An early or repeated `timer` is harmless. */
export function nextDeadline(s: SessionState): Millis | null {
  let at: Millis | null = null;
  for (const name of DEADLINE_NAMES) {
    const due = s.deadlines[name];
    if (due !== null && (at === null || due < at)) at = due;
  }
  return at;
}
