// Login, TLS and the end of a session.
import { initialLineReader } from "./framing.js";
import { DEFAULT_MLST_FACTS } from "./listing.js";
import type { Out } from "./out.js";
import type { Draft } from "./state.js";
import { pushTransferNotice } from "./data.js";
import type { Account, CloseReason, Millis } from "./types.js";

/** Releases everything the session holds, then closes the control connection (after flushing). */
export function closeSession(s: Draft, reason: CloseReason, now: Millis, out: Out): void {
  if (s.op.kind === "transfer") {
    if (s.op.phase === "running") out.push({ type: "transfer.abort", transfer: s.op.transfer });
    // Nobody reads a reply any more, but the operator's log must still show the transfer.
    pushTransferNotice(s, s.op, 426, 0, "aborted", reason === "shutdown" ? "shutdown" : "session-closed", now, out);
  }
  // A transfer or listen op always has its channel (checkInvariants), so closing the channel covers it.
  if (s.channel.kind !== "none") out.push({ type: "data.close", channel: s.channel.id });
  s.channel = { kind: "none" };
  s.op = { kind: "none" };
  // A handshake cut short by the close (a shutdown, a reset) is abandoned with its AUTH op.
  if (s.tls === "handshaking") s.tls = "none";
  s.queue = [];
  s.queueBytes = 0;
  s.reader = initialLineReader;
  s.phase = "closed";
  s.answering = null;
  out.push({ type: "notice", notice: { kind: "closed", reason } });
  out.push({ type: "control.close" });
}

export function onAuthResult(s: Draft, user: string, account: Account | null, now: Millis, out: Out): void {
  if (account !== null) {
    s.op = { kind: "none" };
    s.login = { kind: "in", account };
    s.cwd = "/";
    out.reply(230, "Login successful.");
    out.push({ type: "notice", notice: { kind: "login", user: account.user, anonymous: account.anonymous } });
    return;
  }
  s.failedLogins++;
  s.login = { kind: "none" };
  out.push({ type: "notice", notice: { kind: "login-failed", user } });
  // Later pipelined commands wait behind the delayed reply, so ordering holds.
  s.op = { kind: "login-delay", until: now + s.config.timeouts.failedLoginDelay, user };
}

export function endLoginDelay(s: Draft, now: Millis, out: Out): void {
  s.op = { kind: "none" };
  if (s.failedLogins >= s.config.limits.maxFailedLogins) {
    out.reply(421, "Too many failed login attempts.");
    closeSession(s, "failed-logins", now, out);
    return;
  }
  out.reply(530, "Login incorrect.");
}

/** Forget the user and every per-session parameter (REIN, and after AUTH per RFC 4217 §4.2). */
export function resetSession(s: Draft, now: Millis, out: Out): void {
  // The login clock restarts only when a login ends: a client that never logs in could otherwise
  // hold its connection (and its session slot) for ever by sending REIN just before each deadline.
  // ProFTPD's TimeoutLogin likewise runs from the connection to the first login.
  if (s.login.kind === "in") s.unauthSince = now;
  if (s.channel.kind !== "none") out.push({ type: "data.close", channel: s.channel.id });
  s.channel = { kind: "none" };
  s.login = { kind: "none" };
  s.cwd = "/";
  s.type = "A";
  s.rest = 0;
  s.renameFrom = null;
  s.epsvAll = false;
  s.mlstFacts = DEFAULT_MLST_FACTS;
  s.idleTimeout = s.config.timeouts.idle;
}

export function onTlsReady(s: Draft, now: Millis, out: Out): void {
  if (s.op.kind !== "tls") return;
  const protectData = s.op.protectData;
  s.op = { kind: "none" };
  s.tls = "active";
  resetSession(s, now, out);
  s.pbsz = protectData;
  s.prot = protectData ? "P" : "C";
  s.clearRefused = false;
}

export function onTlsFailed(s: Draft, started: boolean, timedOut: boolean, now: Millis, out: Out): void {
  if (s.op.kind !== "tls") return;
  s.tls = "none";
  // Not one byte of a handshake came: the connection is still plaintext, and the client waits for
  // a reply it can read. Mid-handshake neither plaintext nor TLS can carry one (RFC 4217 §10.1).
  if (!started) out.reply(421, timedOut ? "TLS handshake timed out." : "TLS handshake failed.");
  closeSession(s, timedOut ? "tls-timeout" : "tls-failed", now, out);
}
