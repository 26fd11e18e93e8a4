// The reducer: one event in, the next state and the actions to perform out.
import { bufferedBytes, feedControl, initialLineReader, type FramedItem } from "./framing.js";
import { parseCommand } from "./command.js";
import { executeCommand, isTransferRunningCommand } from "./commands.js";
import { abortTransfer, dropChannel, onAccepted, onConnectFailed, onConnected, onDataSetupTimeout, onListenFailed, onListening, onTransferEnded, onTransferProgress, replyStatus } from "./data.js";
import { armDeadlines, DEADLINE_NAMES, type DeadlineName } from "./deadline.js";
import { onFsResult, onListingBatch } from "./fs-results.js";
import { Out } from "./out.js";
import { closeSession, endLoginDelay, onAuthResult, onTlsFailed, onTlsReady } from "./session-control.js";
import { copyState, type Draft, type SessionState } from "./state.js";
import type { Millis, RefusalReason, SessionEvent, StepResult } from "./types.js";
import { assertNever } from "./assert.js";

export function step(state: SessionState, event: SessionEvent): StepResult<SessionState> {
  if (state.phase === "closed") return { state, actions: [] };
  const s = copyState(state);
  const out = new Out(state.config.multilineStyle);
  const mark = out.replies;
  handle(s, event, out);
  settleCommand(s, mark, out);
  if (s.phase === "ready") {
    runQueue(s, event.now, out);
    if (s.draining && s.op.kind === "none") {
      // Draining: whatever was running has ended, and nothing new starts.
      out.reply(421, "Server shutting down.");
      closeSession(s, "shutdown", event.now, out);
    } else {
      applyBackpressure(s, out);
    }
  }
  armDeadlines(s);
  return { state: s, actions: out.finish() };
}

function handle(s: Draft, event: SessionEvent, out: Out): void {
  switch (event.type) {
    case "open":
      if (s.phase !== "new") return;
      if (s.refuse !== null) {
        out.reply(421, refusalText(s.refuse.reason));
        closeSession(s, "refused", event.now, out);
        return;
      }
      s.phase = "ready";
      s.lastActivity = event.now;
      out.replyText(220, s.config.greeting.length > 0 ? s.config.greeting : ["Service ready."]);
      return;
    case "control.data":
      receive(s, event.bytes);
      return;
    case "control.eof":
    case "control.error":
      // The client is gone: nobody is left to read a reply.
      closeSession(s, "client-closed", event.now, out);
      return;
    case "timer":
      onTimer(s, event.now, out);
      return;
    case "tls.ready":
      onTlsReady(s, event.now, out);
      return;
    case "tls.failed":
      onTlsFailed(s, event.started, event.timedOut, event.now, out);
      return;
    case "data.listening":
      onListening(s, event.channel, event.port, event.now, out);
      return;
    case "data.listen-failed":
      onListenFailed(s, event.channel, event.message, out);
      return;
    case "data.accepted":
      onAccepted(s, event.channel, event.socket, event.remote.address, out);
      return;
    case "data.connected":
      onConnected(s, event.channel, out);
      return;
    case "data.connect-failed":
      onConnectFailed(s, event.channel, event.now, out);
      return;
    case "data.closed":
      if (s.channel.kind === "passive" && s.channel.id === event.channel && s.op.kind !== "transfer") {
        // The client dropped the connection it made before any transfer used it.
        out.push({ type: "data.close", channel: s.channel.id });
        s.channel = { kind: "none" };
      }
      return;
    case "transfer.done":
      onTransferEnded(s, event.transfer, event.bytes, null, event.now, out);
      return;
    case "transfer.failed":
      onTransferEnded(s, event.transfer, event.bytes, event.failure, event.now, out);
      return;
    case "transfer.progress":
      onTransferProgress(s, event.transfer, event.bytes, out);
      return;
    case "listing.batch":
      onListingBatch(s, event.transfer, event.entries, event.now, out);
      return;
    case "fs.result":
      if (s.op.kind === "fs" && s.op.request === event.request) {
        const then = s.op.then;
        const started = s.op.started;
        s.op = { kind: "none" };
        onFsResult(s, then, event.result, started, event.now, out);
      }
      return;
    case "auth.result":
      if (s.op.kind === "auth" && s.op.request === event.request) {
        onAuthResult(s, s.op.user, event.account, event.now, out);
      }
      return;
    case "drain":
      if (s.phase === "new") {
        out.reply(421, "Server shutting down.");
        closeSession(s, "shutdown", event.now, out);
        return;
      }
      s.draining = true;
      return;
    case "shutdown":
      if (s.phase === "new") {
        out.reply(421, "Server shutting down.");
      } else {
        abortTransfer(s, "shutdown", event.now, out);
        // Mid-handshake no reply can be read: the connection is just dropped (SPEC 6.1).
        if (s.tls !== "handshaking") out.reply(421, "Server shutting down.");
      }
      closeSession(s, "shutdown", event.now, out);
      return;
    default:
      assertNever(event);
  }
}

function refusalText(reason: RefusalReason): string {
  switch (reason) {
    case "max-sessions":
      return "Too many users, please try again later.";
    case "max-sessions-per-ip":
      return "Too many connections from your address.";
    case "shutting-down":
      return "Server shutting down.";
    case "banned":
      return "Too many failed logins from your address; try again later.";
    default:
      return assertNever(reason);
  }
}

function receive(s: Draft, bytes: Uint8Array): void {
  const fed = feedControl(s.reader, bytes, s.config.limits.maxLineBytes);
  s.reader = fed.reader;
  if (fed.items.length === 0) return;
  // Lines that arrive while TLS is being negotiated were sent in plaintext after AUTH: never run them.
  if (s.op.kind === "tls") {
    s.reader = initialLineReader;
    return;
  }
  let bytesQueued = s.queueBytes;
  for (const item of fed.items) if (item.kind === "line") bytesQueued += item.bytes.length;
  s.queue = s.queue.length === 0 ? fed.items : s.queue.concat(fed.items);
  s.queueBytes = bytesQueued;
}

/** Executes queued lines while no command is outstanding; during a transfer only ABOR, STAT and NOOP at the head are answered. */
function runQueue(s: Draft, now: Millis, out: Out): void {
  let head = 0;
  while (head < s.queue.length && s.phase === "ready") {
    const item = s.queue[head];
    if (item === undefined) break;
    if (s.op.kind !== "none") {
      if (s.op.kind !== "transfer" || item.kind !== "line") break;
      // Replies keep the order of their commands: nothing more runs until the STAT has its count.
      if (s.op.statQueries > 0) break;
      const command = parseCommand(item.bytes);
      if (!isTransferRunningCommand(command)) break;
      head++;
      s.queueBytes -= item.bytes.length;
      s.lastActivity = now;
      if (command.verb === "ABOR") {
        abortTransfer(s, "abor", now, out);
        out.reply(226, "ABOR successful.");
      } else if (command.verb === "NOOP") {
        executeCommand(s, command, now, out);
      } else {
        replyStatus(s, out);
      }
      continue;
    }
    // A draining session starts nothing new: it ends once the running command is answered.
    if (s.draining) break;
    head++;
    s.lastActivity = now;
    if (item.kind === "overlong") {
      s.overlongLines++;
      if (s.overlongLines > s.config.limits.maxOverlongLines) {
        out.reply(421, "Too many overlong command lines.");
        closeSession(s, "overlong-lines", now, out);
      } else {
        out.reply(500, "Command line too long.");
      }
      continue;
    }
    s.queueBytes -= item.bytes.length;
    const command = parseCommand(item.bytes);
    const mark = out.replies;
    s.answering = command.verb;
    executeCommand(s, command, now, out);
    settleCommand(s, mark, out);
  }
  if (head > 0) s.queue = head >= s.queue.length ? EMPTY_QUEUE : s.queue.slice(head);
}

const EMPTY_QUEUE: readonly FramedItem[] = [];

/** Verbs whose refusals have a notice of their own (a failed PASS is a login-failed notice). */
const OWN_REFUSAL_NOTICE = new Set(["PASS"]);

/**
 * When the command being answered got its final reply since `mark`, it is answered: a 4xx or 5xx
 * reply is noticed as a refusal. Notices of their own (a transfer's end, a file command's result)
 * clear `answering` first, so nothing is noticed twice.
 */
function settleCommand(s: Draft, mark: number, out: Out): void {
  if (s.answering === null || out.replies === mark || out.lastCode < 200) return;
  const command = s.answering;
  s.answering = null;
  if (out.lastCode >= 400 && !OWN_REFUSAL_NOTICE.has(command)) out.push({ type: "notice", notice: { kind: "refused", command, code: out.lastCode, text: out.lastText } });
}

function applyBackpressure(s: Draft, out: Out): void {
  const held = s.queueBytes + bufferedBytes(s.reader);
  const limit = s.config.limits.maxBufferedInput;
  if (!s.paused && held > limit) {
    s.paused = true;
    out.push({ type: "control.pause" });
  } else if (s.paused && held <= limit / 2) {
    s.paused = false;
    out.push({ type: "control.resume" });
  }
}

/**
 * Expires the entries of the deadline table that are due at `now`, in table order, each exactly once;
 * an early or repeated timer finds nothing due and does nothing. The table is the one the previous
 * step left, so each entry's condition lives only in `deadlinesOf`.
 */
function onTimer(s: Draft, now: Millis, out: Out): void {
  const due = s.deadlines;
  for (const name of DEADLINE_NAMES) {
    const at = due[name];
    if (at === null || now < at) continue;
    out.push({ type: "log", level: "debug", message: `deadline ${name} expired` });
    expire(s, name, now, out);
    if (s.phase !== "ready") return;
  }
}

function expire(s: Draft, name: DeadlineName, now: Millis, out: Out): void {
  switch (name) {
    case "login-delay":
      endLoginDelay(s, now, out);
      return;
    case "data-accept":
    case "data-connect":
      onDataSetupTimeout(s, now, out);
      return;
    case "listener":
      // Nobody used the listener: drop it silently (no unsolicited reply).
      dropChannel(s, out);
      return;
    case "login":
      out.reply(421, "Login timeout.");
      closeSession(s, "login-timeout", now, out);
      return;
    case "idle":
      out.reply(421, "Timeout.");
      closeSession(s, "idle-timeout", now, out);
      return;
    default:
      assertNever(name);
  }
}
