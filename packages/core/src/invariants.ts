// Properties every reachable state has. Tests and the simulator call this after every step.
import { assertNever } from "./assert.js";
import { InvariantError } from "./types.js";
import type { SessionState } from "./state.js";
import { DEADLINE_NAMES, deadlinesOf } from "./deadline.js";

function check(condition: boolean, message: string): void {
  if (!condition) throw new InvariantError(message);
}

// The simulator checks every step of every session: a message is built only when its check fails.
function fail(message: string): never {
  throw new InvariantError(message);
}

export function checkInvariants(s: SessionState): void {
  const limits = s.config.limits;
  if (!(s.cwd.startsWith("/") && (s.cwd === "/" || !s.cwd.endsWith("/")) && !s.cwd.includes("//"))) fail(`cwd not normalised: ${s.cwd}`);
  if (/(^|\/)\.\.?(\/|$)/.test(s.cwd)) fail(`cwd has dot segments: ${s.cwd}`);
  if (!(Number.isSafeInteger(s.rest) && s.rest >= 0)) fail(`bad REST offset ${s.rest}`);
  if (!(s.failedLogins >= 0 && s.failedLogins <= limits.maxFailedLogins)) fail(`failed logins out of range: ${s.failedLogins}`);
  check(s.overlongLines <= limits.maxOverlongLines + 1, "overlong line count past its limit");
  check(s.badCommands <= limits.maxBadCommands + 1, "bad command count past its limit");
  let queued = 0;
  for (const item of s.queue) if (item.kind === "line") queued += item.bytes.length;
  if (queued !== s.queueBytes) fail(`queueBytes ${s.queueBytes} != ${queued}`);
  check(s.renameFrom === null || s.login.kind === "in", "RNFR pending without a login");
  check(s.tls !== "handshaking" || s.op.kind === "tls", "TLS handshaking without the AUTH op");
  check(s.op.kind !== "tls" || s.tls === "handshaking", "AUTH op without a handshake");
  if (s.phase !== "ready") {
    if (!(s.op.kind === "none" && s.channel.kind === "none")) fail(`${s.phase} session still holds resources`);
    if (s.phase === "closed") check(s.queue.length === 0, "closed session with queued input");
  }
  const ids: number[] = [];
  if (s.channel.kind !== "none") ids.push(s.channel.id);
  switch (s.op.kind) {
    case "fs":
    case "auth":
      ids.push(s.op.request);
      break;
    case "listen":
      check(s.channel.kind === "passive" && s.channel.id === s.op.channel && s.channel.port === null, "listen op without its listener");
      break;
    case "transfer":
      ids.push(s.op.transfer);
      check(s.channel.kind !== "none" && s.channel.id === s.op.channel, "transfer without its channel");
      check(s.op.phase === "running" ? s.op.deadline === null : s.op.deadline !== null, "transfer deadline inconsistent");
      if (s.op.phase === "await-connection") check(s.channel.kind === "passive", "awaiting a connection on an active channel");
      if (s.op.phase === "connecting") check(s.channel.kind === "active", "connecting on a passive channel");
      if (!(Number.isSafeInteger(s.op.statQueries) && s.op.statQueries >= 0 && (s.op.statQueries === 0 || s.op.phase === "running"))) fail(`STAT queries ${s.op.statQueries} in phase ${s.op.phase}`);
      break;
    case "none":
    case "login-delay":
    case "tls":
      break;
    default:
      assertNever(s.op);
  }
  if (s.channel.kind === "passive" && s.channel.socket !== null) check(s.channel.port !== null, "adopted a socket before listening");
  for (const id of ids) if (!(id > 0 && id < s.nextId)) fail(`id ${id} not from the counter (next ${s.nextId})`);
  check(s.login.kind !== "in" || s.login.account.user.length > 0 || s.login.account.anonymous, "logged in without a user");
  const table = deadlinesOf(s);
  for (const name of DEADLINE_NAMES) if (s.deadlines[name] !== table[name]) fail(`deadline ${name} is ${s.deadlines[name]}, the state implies ${table[name]}`);
}
