// Data connections (Bernstein's PASV/PORT rules, SPEC §4) and the transfer lifecycle (§4.7).
import { formatEpsvReply, formatPasvReply, sameIp } from "./address.js";
import { assertNever } from "./assert.js";
import { fsErrorReply, type Reply } from "./errors.js";
import type { Out } from "./out.js";
import type { Draft, Op, TransferCommand, TransferPlan } from "./state.js";
import { statusLines } from "./status.js";
import type { Family, Millis, TransferEndReason, TransferFailure } from "./types.js";

type TransferOp = Extract<Op, { kind: "transfer" }>;

/** Drops the current set-up: a new PASV/EPSV/PORT/EPRT stops the old listener and its connections. */
export function dropChannel(s: Draft, out: Out): void {
  if (s.channel.kind !== "none") out.push({ type: "data.close", channel: s.channel.id });
  s.channel = { kind: "none" };
}

export function openPassive(s: Draft, extended: boolean, family: Family, out: Out): void {
  dropChannel(s, out);
  const id = s.nextId++;
  s.channel = { kind: "passive", id, family, port: null, socket: null, expires: null };
  s.op = { kind: "listen", channel: id, extended };
  out.push({ type: "data.listen", channel: id, family });
}

export function setActive(s: Draft, family: Family, address: string, port: number, out: Out): void {
  dropChannel(s, out);
  s.channel = { kind: "active", id: s.nextId++, family, address, port };
}

export function onListening(s: Draft, channel: number, port: number, now: Millis, out: Out): void {
  if (s.op.kind !== "listen" || s.op.channel !== channel || s.channel.kind !== "passive" || s.channel.id !== channel) return;
  const extended = s.op.extended;
  s.op = { kind: "none" };
  s.channel = { ...s.channel, port, expires: now + s.config.timeouts.dataAccept };
  if (extended) {
    out.replyText(229, formatEpsvReply(port));
  } else {
    // passiveAddress is never null here: PASV is refused up front when it would be.
    out.replyText(227, formatPasvReply(s.passiveAddress ?? "0.0.0.0", port));
  }
}

export function onListenFailed(s: Draft, channel: number, message: string, out: Out): void {
  if (s.op.kind !== "listen" || s.op.channel !== channel) return;
  s.op = { kind: "none" };
  s.channel = { kind: "none" };
  out.reply(425, "Can't open passive connection.");
  // The reply cannot say why (a full range, a per-address cap, a bind error); the operator's log can.
  out.push({ type: "log", level: "warn", message: `passive listen failed: ${message}` });
}

export function onAccepted(s: Draft, channel: number, socket: number, remote: string, out: Out): void {
  const ch = s.channel;
  const wanted = ch.kind === "passive" && ch.id === channel && ch.socket === null && ch.port !== null;
  if (!wanted || !sameIp(remote, s.remote.address)) {
    // A stranger (or a second connection) is closed without a word on the control connection:
    // an unsolicited reply would desynchronise the client (SPEC §1.5).
    out.push({ type: "data.reject", channel, socket });
    if (wanted) out.push({ type: "log", level: "warn", message: `refused data connection from foreign address ${remote}` });
    return;
  }
  s.channel = { ...ch, socket, expires: null };
  out.push({ type: "data.adopt", channel, socket });
  if (s.op.kind === "transfer" && s.op.phase === "await-connection" && s.op.channel === channel) {
    startRunning(s, s.op, out);
  }
}

export function onConnected(s: Draft, channel: number, out: Out): void {
  if (s.op.kind === "transfer" && s.op.phase === "connecting" && s.op.channel === channel) {
    startRunning(s, s.op, out);
  }
}

export function onConnectFailed(s: Draft, channel: number, now: Millis, out: Out): void {
  if (s.op.kind !== "transfer" || s.op.phase !== "connecting" || s.op.channel !== channel) return;
  const op = s.op;
  dropChannel(s, out);
  finishTransfer(s, op, 425, "Failed to establish connection.", 0, "failed", "no-data-connection", now, out);
}

/** The accept or connect deadline of a transfer command passed before its data connection was up. */
export function onDataSetupTimeout(s: Draft, now: Millis, out: Out): void {
  if (s.op.kind !== "transfer") return;
  const op = s.op;
  dropChannel(s, out);
  finishTransfer(s, op, 425, "Failed to establish connection.", 0, "failed", "no-data-connection", now, out);
}

/** After the pre-checks passed: send the mark, then use, await or make the data connection. */
export function beginTransfer(s: Draft, plan: TransferPlan, started: Millis, now: Millis, out: Out): void {
  const ch = s.channel;
  if (ch.kind === "none") {
    out.reply(425, "Use PORT or PASV first.");
    return;
  }
  out.replyText(150, plan.mark);
  const transfer = s.nextId++;
  if (ch.kind === "active") {
    s.op = { kind: "transfer", phase: "connecting", transfer, channel: ch.id, plan, started, deadline: now + s.config.timeouts.dataConnect, statQueries: 0 };
    // Bernstein: the server connects only after the transfer command and after its mark.
    out.push({ type: "data.connect", channel: ch.id, address: ch.address, port: ch.port, family: ch.family });
    return;
  }
  const op: TransferOp = { kind: "transfer", phase: "await-connection", transfer, channel: ch.id, plan, started, deadline: now + s.config.timeouts.dataAccept, statQueries: 0 };
  s.op = op;
  if (ch.socket !== null) startRunning(s, op, out);
}

function startRunning(s: Draft, op: TransferOp, out: Out): void {
  s.op = { ...op, phase: "running", deadline: null };
  out.push({
    type: "transfer.start",
    transfer: op.transfer,
    channel: op.channel,
    spec: op.plan.spec,
    tls: s.prot === "P",
    requireResumption: s.prot === "P" && s.tls === "active" && s.config.requireTlsReuse,
    stallTimeout: s.config.timeouts.dataStall,
  });
}

export function onTransferEnded(s: Draft, transfer: number, bytes: number, failure: TransferFailure | null, now: Millis, out: Out): void {
  if (s.op.kind !== "transfer" || s.op.phase !== "running" || s.op.transfer !== transfer) return;
  const op = s.op;
  dropChannel(s, out);
  if (failure === null) {
    const text = isListing(op.plan.command) ? "Directory send OK." : "Transfer complete.";
    finishTransfer(s, op, 226, text, bytes, "completed", null, now, out);
    return;
  }
  const reply = failureReply(failure);
  finishTransfer(s, op, reply.code, reply.text, bytes, "failed", failureReason(failure), now, out);
}

function failureReason(failure: TransferFailure): TransferEndReason {
  switch (failure.side) {
    case "data":
      switch (failure.reason) {
        case "reset":
          return "data-reset";
        case "stall":
          return "data-stall";
        case "tls":
          return "data-tls";
        case "tls-timeout":
          return "data-tls-timeout";
        case "tls-reuse":
          return "data-tls-reuse";
        default:
          return assertNever(failure.reason);
      }
    case "file":
      return `file-${failure.error}`;
    default:
      return assertNever(failure);
  }
}

/**
 * STAT without an argument. During a running transfer the status carries the bytes moved so far,
 * which only the driver counts: ask it, and answer when transfer.progress comes back, so the
 * per-chunk path never steps the core.
 */
export function replyStatus(s: Draft, out: Out): void {
  if (s.op.kind === "transfer" && s.op.phase === "running") {
    s.op = { ...s.op, statQueries: s.op.statQueries + 1 };
    out.push({ type: "transfer.progress", transfer: s.op.transfer });
    return;
  }
  out.replyText(211, statusLines(s));
}

/** The driver's answer to a STAT during the transfer: one 211 per STAT still waiting for it. */
export function onTransferProgress(s: Draft, transfer: number, bytes: number, out: Out): void {
  if (s.op.kind !== "transfer" || s.op.phase !== "running" || s.op.transfer !== transfer || s.op.statQueries === 0) return;
  s.op = { ...s.op, statQueries: s.op.statQueries - 1 };
  out.replyText(211, statusLines(s, bytes));
}

function failureReply(failure: TransferFailure): Reply {
  switch (failure.side) {
    case "data":
      switch (failure.reason) {
        case "reset":
          return { code: 426, text: "Connection closed; transfer aborted." };
        case "stall":
          return { code: 426, text: "Data connection timed out; transfer aborted." };
        case "tls":
          return { code: 522, text: "TLS negotiation on the data connection failed." };
        case "tls-reuse":
          // vsftpd's wording; the client must offer the control connection's session (RFC 4217 §10.2).
          return { code: 522, text: "SSL connection failed: session reuse required." };
        case "tls-timeout":
          // No TLS at all came (a client that believes the data is clear): the connection failed.
          return { code: 425, text: "No TLS handshake on the data connection in time." };
        default:
          return assertNever(failure.reason);
      }
    case "file": {
      const reply = fsErrorReply(failure.error);
      return reply.code === 550 && failure.error === "exists" ? { code: 553, text: "File name already exists." } : reply;
    }
    default:
      return assertNever(failure);
  }
}

/** ABOR during a transfer command, or the server stopping under it. */
export function abortTransfer(s: Draft, reason: "abor" | "shutdown", now: Millis, out: Out): boolean {
  if (s.op.kind !== "transfer") return false;
  const op = s.op;
  if (op.phase === "running") out.push({ type: "transfer.abort", transfer: op.transfer });
  dropChannel(s, out);
  // The transfer's own final reply always precedes ABOR's.
  finishTransfer(s, op, 426, "Connection closed; transfer aborted.", 0, "aborted", reason, now, out);
  return true;
}

export function finishTransfer(
  s: Draft,
  op: TransferOp,
  code: number,
  text: string,
  bytes: number,
  outcome: "completed" | "aborted" | "failed",
  reason: TransferEndReason | null,
  now: Millis,
  out: Out,
): void {
  // A STAT still waiting for the driver's count is answered before the final reply, with the
  // count the transfer ended with (none for an abort, which does not know it).
  for (let i = 0; i < op.statQueries; i++) out.replyText(211, statusLines(s, outcome === "aborted" ? null : bytes));
  s.op = { kind: "none" };
  // The transfer notice is this command's record: no refusal is noticed for its end as well.
  s.answering = null;
  // The idle clock restarts when the transfer ends (vsftpd re-arms it when it next waits for a
  // command): a transfer longer than the idle timeout must not be followed by 421 at once.
  s.lastActivity = now;
  out.reply(code, text);
  pushTransferNotice(s, op, code, bytes, outcome, reason, now, out);
}

/** The record of a transfer command's end; also for one cut by the session's end, which gets no reply. */
export function pushTransferNotice(
  s: Draft,
  op: TransferOp,
  code: number,
  bytes: number,
  outcome: "completed" | "aborted" | "failed",
  reason: TransferEndReason | null,
  now: Millis,
  out: Out,
): void {
  out.push({
    type: "notice",
    notice: {
      kind: "transfer",
      transfer: op.transfer,
      outcome,
      reason,
      command: op.plan.command,
      direction: directionOf(op.plan.command),
      path: op.plan.path,
      bytes,
      durationMs: Math.max(0, now - op.started),
      user: s.login.kind === "in" ? s.login.account.user : "",
      anonymous: s.login.kind === "in" && s.login.account.anonymous,
      ascii: s.type === "A",
      code,
    },
  });
}

export function isListing(command: TransferCommand): boolean {
  return command === "LIST" || command === "NLST" || command === "MLSD";
}

export function directionOf(command: TransferCommand): "download" | "upload" | "listing" {
  switch (command) {
    case "RETR":
      return "download";
    case "STOR":
    case "APPE":
    case "STOU":
      return "upload";
    case "LIST":
    case "NLST":
    case "MLSD":
      return "listing";
    default:
      return assertNever(command);
  }
}
