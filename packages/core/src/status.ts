// The no-argument STAT reply (SPEC §5.5, §4.10): the session's parameters and, during a transfer,
// its progress.
import { assertNever } from "./assert.js";
import type { Draft, TransferCommand } from "./state.js";

/** The no-argument STAT reply; `moved` is the running transfer's byte count so far, when known. */
export function statusLines(s: Draft, moved: number | null = null): string[] {
  const lines = ["Status of pasv:", ` Connected to ${s.remote.address}`];
  lines.push(s.login.kind === "in" ? ` Logged in as ${s.login.account.user}` : " Not logged in");
  lines.push(` TYPE: ${s.type === "A" ? "ASCII" : "BINARY"}; STRUcture: File; transfer MODE: Stream`);
  lines.push(s.tls === "active" ? ` Control connection protected by TLS; data protection: ${s.prot === "P" ? "Private" : "Clear"}` : " Control connection in plaintext");
  const ch = s.channel;
  if (ch.kind === "passive") lines.push(ch.port === null ? " Passive listener opening" : ` Passive mode, port ${ch.port}${ch.socket === null ? "" : ", connected"}`);
  else if (ch.kind === "active") lines.push(` Active mode to ${ch.address} port ${ch.port}`);
  else lines.push(" No data connection");
  if (s.op.kind === "transfer") {
    const plan = s.op.plan;
    if (moved !== null) lines.push(` Transfer in progress: ${plan.command} ${plan.path}, ${String(moved)} bytes ${directionWord(plan.command)}`);
    else lines.push(` Transfer in progress: ${plan.command} ${plan.path}${s.op.phase === "running" ? "" : " (waiting for the data connection)"}`);
  }
  lines.push("End of status");
  return lines;
}

function directionWord(command: TransferCommand): string {
  switch (command) {
    case "STOR":
    case "APPE":
    case "STOU":
      return "received";
    case "RETR":
    case "LIST":
    case "NLST":
    case "MLSD":
      return "sent";
    default:
      return assertNever(command);
  }
}
