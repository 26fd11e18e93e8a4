import type { SessionState } from "./state.js";
import type { Millis } from "./types.js";

/** The one instant the driver must wake the session at, or null. An early or repeated `timer` is harmless. */
export function nextDeadline(s: SessionState): Millis | null {
  if (s.phase !== "ready") return null;
  let at = Infinity;
  const op = s.op;
  if (op.kind === "login-delay") at = Math.min(at, op.until);
  if (op.kind === "transfer" && op.deadline !== null) at = Math.min(at, op.deadline);
  if (op.kind === "none") {
    at = Math.min(at, s.lastActivity + s.idleTimeout);
    if (s.channel.kind === "passive" && s.channel.expires !== null) at = Math.min(at, s.channel.expires);
  }
  if (s.login.kind !== "in" && op.kind !== "auth" && op.kind !== "login-delay") {
    at = Math.min(at, s.unauthSince + s.config.timeouts.login);
  }
  return at === Infinity ? null : at;
}
