// The contract between the pure core and whoever drives it (driver, simulator, tools).
// Everything here is plain serializable data: events come in, actions go out.
import type { Right } from "./rights.js";

/** Milliseconds on the driver's clock; the core never reads a clock itself. */
export type Millis = number;

export type Family = 4 | 6;

export interface Endpoint {
  /** Textual IP address as the runtime reports it (IPv4-mapped IPv6 allowed; the core normalises). */
  readonly address: string;
  readonly port: number;
}

/** What a session knows about its control connection when it starts. */
/** Why a connection is refused at the door (421 before the greeting). */
export type RefusalReason = "max-sessions" | "max-sessions-per-ip" | "shutting-down" | "banned";

export interface SessionOpen {
  readonly now: Millis;
  readonly local: Endpoint;
  readonly remote: Endpoint;
  /** True when TLS already protects the control connection (implicit FTPS). */
  readonly implicitTls: boolean;
  /** IPv4 address to advertise in 227 replies; null: the control connection's local address. */
  readonly passiveAddress: string | null;
  /** Set by server policy: greet with 421 and close instead of 220. */
  readonly refuse: null | { readonly reason: RefusalReason };
}

export interface CoreLimits {
  /** Longest control line, in bytes, before it is answered with 500 and discarded. */
  readonly maxLineBytes: number;
  /** Overlong lines tolerated per session; one more gets 421 and a close. */
  readonly maxOverlongLines: number;
  /** Unprocessed input bytes held (pipelining) before the core asks the driver to pause reading. */
  readonly maxBufferedInput: number;
  /** Failed PASS attempts per session before 421 and a close. */
  readonly maxFailedLogins: number;
  /** Unknown or refused commands in a row before 421 and a close (garbage floods). */
  readonly maxBadCommands: number;
  /** Largest listing text the core builds whole: STAT of a directory, answered on the control
   * connection. LIST/NLST/MLSD of a directory are streamed batch by batch and have no such bound. */
  readonly maxListingBytes: number;
  /** Names the core tries for STOU before giving up. */
  readonly maxStouAttempts: number;
}

export interface CoreTimeouts {
  /** No command and no transfer for this long: 421 and close. RFC 1123: at least 5 minutes. */
  readonly idle: Millis;
  /** Not logged in within this long of connecting: 421 and close. */
  readonly login: Millis;
  /** Waiting for the client to connect to a passive listener. */
  readonly dataAccept: Millis;
  /** Waiting for an active (PORT/EPRT) connect to complete. */
  readonly dataConnect: Millis;
  /** Handed to the adapter with each transfer: no byte moved for this long fails it. */
  readonly dataStall: Millis;
  /** Delay before a 530 for a bad password (brute-force throttling). */
  readonly failedLoginDelay: Millis;
}

/**
 * How the middle lines of a multi-line reply are written; each is a legal RFC 959 §4.2 form, and a
 * client must read them all: "plain" lines as they are (one that starts with three digits is
 * indented), "dashed" each as `ddd-text`, "indented" each after a space.
 */
export type MultilineStyle = "plain" | "dashed" | "indented";

export interface CoreConfig {
  /** Middle lines of multi-line replies (default "plain"). */
  readonly multilineStyle: MultilineStyle;
  /** Lines of the 220 greeting (ASCII; never names the software version by default). */
  readonly greeting: readonly string[];
  readonly limits: CoreLimits;
  readonly timeouts: CoreTimeouts;
  readonly anonymous: boolean;
  /** Whether AUTH TLS can be offered (the adapter has a certificate). */
  readonly tls: boolean;
  /** Refuse USER/PASS for non-anonymous users until the control connection is protected. */
  readonly requireTlsForLogin: boolean;
  /** Named users may transfer only over protected data connections (PROT P): PROT C gets 534, a transfer without PROT P 522. */
  readonly requireTlsForData: boolean;
  /** A protected data connection of a TLS session must resume that control connection's TLS session
   * (vsftpd's require_ssl_reuse): the defence against a stranger taking the data connection. */
  readonly requireTlsReuse: boolean;
  /** Bounce defence: PORT/EPRT may only name the client's own address and a port >= 1024. */
  readonly allowForeignDataAddress: boolean;
  readonly allowPrivilegedDataPort: boolean;
  /** Listings show names that start with a dot. */
  readonly showDotFiles: boolean;
}

export type FsErrorKind =
  | "not-found"
  | "permission"
  | "exists"
  | "not-empty"
  | "not-a-directory"
  | "is-a-directory"
  | "no-space"
  | "quota"
  | "busy"
  | "invalid-name"
  /** Refused because it is beyond a limit of the store (e.g. a directory rename of more objects
   * than an object store copies); the result may carry the limit. */
  | "too-large"
  | "io";

export type EntryType = "file" | "dir" | "symlink" | "other";

export interface FileStat {
  readonly name: string;
  readonly type: EntryType;
  readonly size: number;
  /** Modification time, ms since the Unix epoch (UTC). */
  readonly mtime: Millis;
  /** Unix permission bits (e.g. 0o644); 0 when unknown. */
  readonly mode: number;
  /** Stable identity for MLSD `unique` (e.g. device and inode in hex); empty when unknown. */
  readonly unique: string;
  /** Symlink target text, when type is symlink. */
  readonly target?: string;
}

export type FsOp =
  | { readonly op: "stat"; readonly path: string }
  | { readonly op: "list"; readonly path: string }
  | { readonly op: "mkdir"; readonly path: string }
  | { readonly op: "rmdir"; readonly path: string }
  | { readonly op: "delete"; readonly path: string }
  | { readonly op: "rename"; readonly from: string; readonly to: string }
  | { readonly op: "setMtime"; readonly path: string; readonly mtime: Millis };

export type FsValue =
  | { readonly op: "stat"; readonly stat: FileStat }
  | { readonly op: "list"; readonly entries: readonly FileStat[] }
  | { readonly op: "mkdir" | "rmdir" | "delete" | "rename" | "setMtime" };

export type FsResult =
  | { readonly ok: true; readonly value: FsValue }
  /** `limit`: the bound a "too-large" refusal hit, for the reply to name. */
  | { readonly ok: false; readonly error: FsErrorKind; readonly limit?: number };

/** What a logged-in user may do, as the auth provider decided. */
export interface Account {
  readonly user: string;
  readonly anonymous: boolean;
  /** What the user may do; the core's COMMAND_RIGHTS table says which rights each command needs. */
  readonly rights: readonly Right[];
  /** Names starting with a dot are neither listed nor served, as if absent (default for anonymous). */
  readonly hideDotFiles: boolean;
}

/** What moves on a data connection for one transfer. File bytes never pass through the core. */
export type TransferSpec =
  /** Stream a file from `offset` (an offset into the converted stream when ascii) to the peer. */
  | { readonly kind: "send-file"; readonly path: string; readonly offset: number; readonly ascii: boolean }
  /** Send these bytes (a listing the core formatted). */
  | { readonly kind: "send-bytes"; readonly bytes: Uint8Array }
  /**
   * Send the listing of this directory, streamed: the driver reads the entries batch by batch and
   * posts each batch as `listing.batch`; the core answers each with one `listing.write` of the
   * formatted lines, which the driver writes before it reads the next batch. After the last batch
   * the driver ends the connection and posts transfer.done (a failure to read: transfer.failed).
   */
  | { readonly kind: "send-listing"; readonly path: string }
  /**
   * Receive into a file. `truncate`: create or replace; `append`: create or append at the end;
   * `at-offset`: keep the first `offset` bytes, drop the rest, write from there (REST + STOR);
   * `create-new`: fail with `exists` if the name is taken (STOU).
   */
  | {
      readonly kind: "receive-file";
      readonly path: string;
      readonly mode: "truncate" | "append" | "at-offset" | "create-new";
      readonly offset: number;
      readonly ascii: boolean;
    };

export type TransferFailure =
  /** The data connection broke, was reset, or stalled; its TLS handshake failed or ran out of time. */
  | { readonly side: "data"; readonly reason: "reset" | "stall" | "tls" | "tls-timeout" | "tls-reuse" }
  /** The file system failed while reading or writing. */
  | { readonly side: "file"; readonly error: FsErrorKind };

export type SessionEvent =
  | { readonly type: "open"; readonly now: Millis }
  /** The bytes belong to the core from now on (it keeps views of them): never reuse the buffer. */
  | { readonly type: "control.data"; readonly now: Millis; readonly bytes: Uint8Array }
  | { readonly type: "control.eof"; readonly now: Millis }
  | { readonly type: "control.error"; readonly now: Millis; readonly message: string }
  | { readonly type: "timer"; readonly now: Millis }
  | { readonly type: "tls.ready"; readonly now: Millis }
  /** The AUTH TLS handshake failed or ran out of time. `started`: some of the client's handshake
   * arrived after the 234, so the connection can carry no reply; if none did it is still plaintext
   * and a 421 can be read (RFC 4217 §10.1). */
  | { readonly type: "tls.failed"; readonly now: Millis; readonly message: string; readonly started: boolean; readonly timedOut: boolean }
  | { readonly type: "data.listening"; readonly now: Millis; readonly channel: number; readonly port: number }
  | { readonly type: "data.listen-failed"; readonly now: Millis; readonly channel: number; readonly message: string }
  /** A connection arrived on a passive listener; `socket` is the adapter's tag for it. */
  | { readonly type: "data.accepted"; readonly now: Millis; readonly channel: number; readonly socket: number; readonly remote: Endpoint }
  | { readonly type: "data.connected"; readonly now: Millis; readonly channel: number }
  | { readonly type: "data.connect-failed"; readonly now: Millis; readonly channel: number; readonly message: string }
  /** The peer closed (or reset) an adopted data connection that no transfer was using. */
  | { readonly type: "data.closed"; readonly now: Millis; readonly channel: number }
  | { readonly type: "transfer.done"; readonly now: Millis; readonly transfer: number; readonly bytes: number }
  | { readonly type: "transfer.failed"; readonly now: Millis; readonly transfer: number; readonly bytes: number; readonly failure: TransferFailure }
  /** The answer to transfer.progress: bytes moved so far on the data connection (or, for an upload, read from it). */
  | { readonly type: "transfer.progress"; readonly now: Millis; readonly transfer: number; readonly bytes: number }
  | { readonly type: "fs.result"; readonly now: Millis; readonly request: number; readonly result: FsResult }
  /** The next batch of a running send-listing transfer's directory (in the order to send). */
  | { readonly type: "listing.batch"; readonly now: Millis; readonly transfer: number; readonly entries: readonly FileStat[] }
  | { readonly type: "auth.result"; readonly now: Millis; readonly request: number; readonly account: Account | null }
  /** Server shutting down: finish with 421 and close. */
  | { readonly type: "shutdown"; readonly now: Millis }
  /** The server stops: a session with nothing running ends now, one with a transfer when it ends (421 either way). */
  | { readonly type: "drain"; readonly now: Millis };

export type LogLevel = "debug" | "info" | "warn";

/** Why a session ended: the session-close record says it. */
export type CloseReason =
  | "quit"
  /** The client closed or reset the control connection. */
  | "client-closed"
  | "idle-timeout"
  | "login-timeout"
  | "failed-logins"
  | "bad-commands"
  | "overlong-lines"
  /** Refused at the door (a cap, a ban, a shutdown): see SessionOpen.refuse. */
  | "refused"
  | "tls-failed"
  /** The AUTH TLS handshake did not finish within its deadline. */
  | "tls-timeout"
  /** The server stopped: at once, or after a drain let the running command end. */
  | "shutdown";

/** Why a transfer that started (its mark was sent) did not complete. */
export type TransferEndReason =
  | "abor"
  /** The control connection ended under it (the client went away, or a timeout closed the session). */
  | "session-closed"
  | "shutdown"
  | "data-reset"
  | "data-stall"
  | "data-tls"
  /** The data connection's TLS handshake did not finish in time. */
  | "data-tls-timeout"
  /** The protected data connection did not resume the control connection's TLS session. */
  | "data-tls-reuse"
  /** The data connection was never made (PORT target unreachable, nobody connected in time). */
  | "no-data-connection"
  | `file-${FsErrorKind}`;

/** The commands that change the file system, each logged with its outcome. */
export type FileCommand = "MKD" | "RMD" | "DELE" | "RNFR" | "RNTO" | "MFMT";

/** Typed notifications for embedders and the server's log records. */
export type SessionNotice =
  | { readonly kind: "login"; readonly user: string; readonly anonymous: boolean }
  | { readonly kind: "login-failed"; readonly user: string }
  | {
      readonly kind: "transfer";
      /** The transfer's id (transfer.start / transfer.abort carry the same). */
      readonly transfer: number;
      readonly outcome: "completed" | "aborted" | "failed";
      /** Why it did not complete; null when it did. */
      readonly reason: TransferEndReason | null;
      readonly command: "RETR" | "STOR" | "APPE" | "STOU" | "LIST" | "NLST" | "MLSD";
      readonly direction: "download" | "upload" | "listing";
      readonly path: string;
      /** Bytes moved. An aborted transfer's count is the driver's (the core aborts without waiting for
       * one): the core says 0 and the driver, which counted every byte it moved, puts its count here. */
      readonly bytes: number;
      readonly durationMs: Millis;
      readonly user: string;
      readonly anonymous: boolean;
      /** TYPE A (ASCII) rather than TYPE I. */
      readonly ascii: boolean;
      /** The reply code the transfer ended with. */
      readonly code: number;
    }
  /** A command that changes the file system was carried out (ok) or failed in the file system. */
  | { readonly kind: "file"; readonly command: FileCommand; readonly path: string; readonly from: string | null; readonly ok: boolean; readonly code: number }
  /** A command was answered with a 4xx or 5xx reply (other than a transfer's end, a file command's
   * file-system failure or a failed login, which have their own notices). The verb is as parsed
   * (at most MAX_VERB_BYTES of it); the argument is never included (it may be a password). */
  | { readonly kind: "refused"; readonly command: string; readonly code: number; readonly text: string }
  /** The session is ending; the control connection closes after this step's writes. */
  | { readonly kind: "closed"; readonly reason: CloseReason };

export type Action =
  /** Write these bytes (encoded replies) to the control connection, in order. */
  | { readonly type: "control.write"; readonly bytes: Uint8Array }
  /** Flush what was written, then close the control connection (and everything of the session). */
  | { readonly type: "control.close" }
  /** Stop / resume reading the control connection (input backlog bounded by the core). */
  | { readonly type: "control.pause" }
  | { readonly type: "control.resume" }
  /** Upgrade the control connection to TLS as the server (after the 234 is flushed). */
  | { readonly type: "control.tls" }
  /** Listen at the control connection's local address on a port the driver picks (the passive
   * range is the driver's: the core decides nothing with it and learns the port from data.listening). */
  | { readonly type: "data.listen"; readonly channel: number; readonly family: Family }
  /** Use this accepted socket as the channel's connection and stop listening. */
  | { readonly type: "data.adopt"; readonly channel: number; readonly socket: number }
  /** Close this accepted socket at once; keep listening. */
  | { readonly type: "data.reject"; readonly channel: number; readonly socket: number }
  /** Connect to the client (PORT/EPRT) from an ephemeral port. */
  | { readonly type: "data.connect"; readonly channel: number; readonly address: string; readonly port: number; readonly family: Family }
  /** Close the listener, any accepted or connecting socket of the channel; no more events for it. */
  | { readonly type: "data.close"; readonly channel: number }
  /** Move bytes on the channel's connection; report done only once the connection is fully closed. */
  | {
      readonly type: "transfer.start";
      readonly transfer: number;
      readonly channel: number;
      readonly spec: TransferSpec;
      /** TLS-protect the data connection (PROT P) as the TLS server. */
      readonly tls: boolean;
      /** The data connection's TLS session must resume the control connection's (else "tls-reuse"). */
      readonly requireResumption: boolean;
      readonly stallTimeout: Millis;
    }
  /** Stop a running transfer at once (abortive close); no more events for it. */
  | { readonly type: "transfer.abort"; readonly transfer: number }
  /** The lines of the listing.batch just posted, to write to the transfer's data connection (maybe
   * empty: every entry of the batch was hidden). Exactly one per batch of a running transfer. */
  | { readonly type: "listing.write"; readonly transfer: number; readonly bytes: Uint8Array }
  /** Post transfer.progress with the bytes this running transfer has moved so far (STAT asks). */
  | { readonly type: "transfer.progress"; readonly transfer: number }
  | { readonly type: "fs"; readonly request: number; readonly fs: FsOp }
  | { readonly type: "auth"; readonly request: number; readonly user: string; readonly password: string }
  | { readonly type: "notice"; readonly notice: SessionNotice }
  | { readonly type: "log"; readonly level: LogLevel; readonly message: string };

export interface StepResult<S> {
  readonly state: S;
  readonly actions: readonly Action[];
}

export class InvariantError extends Error {
  override readonly name = "InvariantError";
}
