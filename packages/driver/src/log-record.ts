// The server's log: one schema of records, written once for every runtime, and its two renderings
// (JSON lines for machines, logfmt-style text for people). Field names are stable: the package
// README documents them, and tools parse them.
import { assertNever, type CloseReason, type FileCommand, type Millis, type TransferEndReason } from "@pasv/core";
import type { ProxyRefusal } from "./proxy-gate.js";

export type LogLevel = "debug" | "info" | "warn" | "error";
export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

/** Whether a record of `level` is written when the threshold is `threshold`. */
export function logs(threshold: LogLevel, level: LogLevel): boolean {
  return LOG_LEVELS.indexOf(level) >= LOG_LEVELS.indexOf(threshold);
}

/** What every record of a session carries. */
export interface SessionFields {
  readonly session: number;
  /** The client's address (as the server sees it, or from a PROXY header). */
  readonly client: string;
  readonly clientPort: number;
  /** Whether the control connection is protected by TLS at the time of the record. */
  readonly tls: boolean;
  /** The logged-in user, or null before a login. */
  readonly user: string | null;
}

export type TransferOutcome = "completed" | "aborted" | "failed";

export type LogEvent =
  /** `port` is the plain listener's (null with only implicit FTPS), `implicitTlsPort` the implicit one's. */
  | { readonly event: "server.start"; readonly address: string; readonly port: number | null; readonly implicitTlsPort: number | null; readonly url: string; readonly version: string; readonly runtime: string; readonly root: string; readonly access: string }
  /** A stop began (`immediate`: a second signal, nothing waits any more). */
  | { readonly event: "server.stop"; readonly signal: string; readonly drainMs: Millis; readonly immediate: boolean }
  | { readonly event: "server.exit"; readonly code: number }
  | { readonly event: "metrics.start"; readonly address: string; readonly port: number; readonly url: string }
  | ({ readonly event: "session.open" } & SessionFields)
  /** Refused at the door with 421: a cap, a ban, a stop under way. */
  | ({ readonly event: "session.refused"; readonly reason: "max-sessions" | "max-sessions-per-ip" | "shutting-down" | "banned" } & SessionFields)
  | ({ readonly event: "session.close"; readonly reason: CloseReason; readonly durationMs: Millis; readonly bytesIn: number; readonly bytesOut: number } & SessionFields)
  | ({ readonly event: "login"; readonly anonymous: boolean } & SessionFields)
  /** `attempted` is the name the client gave (never the password). */
  | ({ readonly event: "login.failed"; readonly attempted: string } & SessionFields)
  | ({
      readonly event: "transfer";
      readonly command: string;
      readonly direction: "download" | "upload" | "listing";
      readonly path: string;
      readonly bytes: number;
      readonly durationMs: Millis;
      /** Bytes per second over the transfer, rounded; 0 when it took no measurable time. */
      readonly rate: number;
      readonly outcome: TransferOutcome;
      readonly reason: TransferEndReason | null;
      readonly code: number;
      readonly ascii: boolean;
    } & SessionFields)
  | ({ readonly event: "file"; readonly command: FileCommand; readonly path: string; readonly from: string | null; readonly ok: boolean; readonly code: number } & SessionFields)
  | ({ readonly event: "refused"; readonly command: string; readonly code: number; readonly text: string } & SessionFields)
  /** The client's address is refused for `seconds`; the session is the one whose failure tipped it. */
  | ({ readonly event: "ban"; readonly failures: number; readonly seconds: number } & SessionFields)
  /** A connection to the control port or a passive port cut before it was used: not from a
   * `proxyProtocol.from` address, or its PROXY header malformed, late or never sent. `peer` is the
   * balancer's (or intruder's) address, not a client's. */
  | { readonly event: "proxy.refused"; readonly listener: "control" | "data"; readonly peer: string; readonly peerPort: number; readonly reason: ProxyRefusal; readonly detail: string | null }
  | { readonly event: "drain"; readonly drainMs: Millis; readonly sessions: number }
  /** A reload (SIGHUP): `ok` with whom new sessions admit, what changed and what only a restart
   * applies; or not ok with why (the previous settings stay). */
  | { readonly event: "reload"; readonly ok: boolean; readonly message: string | null; readonly access: string | null; readonly changed: readonly string[]; readonly needRestart: readonly string[] }
  | ({ readonly event: "message"; readonly message: string } & Partial<SessionFields>)
  /** A fault @pasv/testing injected on purpose (`pasv --faults`): its number in the run, its name,
   * the session it hit (null for a file-system fault outside any known session), what it did, and
   * the command line that replays the run. */
  | { readonly event: "fault"; readonly seq: number; readonly fault: string; readonly session: number | null; readonly detail: string; readonly replay: string };

export type LogRecord = { readonly time: Millis; readonly level: LogLevel } & LogEvent;

/** One JSON object per line: `time` as ISO 8601 UTC, then the record's fields in their order. */
export function formatJson(record: LogRecord): string {
  return JSON.stringify({ ...record, time: new Date(record.time).toISOString() });
}

/**
 * `TIME LEVEL EVENT key=value ...`: a value with a space, quote, `=` or control character (and the
 * empty string) is written as a JSON string, so a path can never forge a field or a line; null
 * fields are left out.
 */
export function formatText(record: LogRecord): string {
  let line = `${new Date(record.time).toISOString()} ${record.level.padEnd(5)} ${record.event}`;
  for (const [key, value] of Object.entries(record)) {
    if (key === "time" || key === "level" || key === "event" || value === null || value === undefined) continue;
    line += ` ${key}=${textValue(Array.isArray(value) ? value.join(",") : (value as string | number | boolean))}`;
  }
  return line;
}

function textValue(value: string | number | boolean): string {
  if (typeof value !== "string") return String(value);
  return value === "" || /[\s"=\\\p{Cc}]/u.test(value) ? JSON.stringify(value) : value;
}

export type LogFormat = "text" | "json";

export function formatRecord(format: LogFormat, record: LogRecord): string {
  switch (format) {
    case "text":
      return formatText(record);
    case "json":
      return formatJson(record);
    default:
      return assertNever(format);
  }
}
