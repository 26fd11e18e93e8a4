// The session's state: several small machines side by side rather than one big enum (h11's lesson).
import { initialLineReader, type FramedItem, type LineReader } from "./framing.js";
import { normalizeIp } from "./address.js";
import { DEFAULT_MLST_FACTS, type MlstFact } from "./listing.js";
import { NO_DEADLINES, type Deadlines } from "./deadline.js";
import type { Account, CoreConfig, Endpoint, Family, Millis, SessionOpen, TransferSpec } from "./types.js";

export type Phase =
  /** Connected, greeting not yet sent (waiting for the `open` event). */
  | "new"
  | "ready"
  /** `control.close` was emitted; every later event is ignored. */
  | "closed";

export type Login =
  | { readonly kind: "none" }
  | { readonly kind: "need-pass"; readonly user: string }
  | { readonly kind: "in"; readonly account: Account };

export type Tls = "none" | "handshaking" | "active";

/** The data connection set-up (PASV/EPSV or PORT/EPRT), consumed by one transfer command. */
export type Channel =
  | { readonly kind: "none" }
  | {
      readonly kind: "passive";
      readonly id: number;
      readonly family: Family;
      /** null until the adapter reports the listener is up. */
      readonly port: number | null;
      /** The adopted connection's socket tag, or null while still waiting for the client. */
      readonly socket: number | null;
      /** An idle listener is dropped silently after the accept timeout. */
      readonly expires: Millis | null;
    }
  | { readonly kind: "active"; readonly id: number; readonly family: Family; readonly address: string; readonly port: number };

export type TransferCommand = "RETR" | "STOR" | "APPE" | "STOU" | "LIST" | "NLST" | "MLSD";

/** Everything a transfer command decided before its mark. */
export interface TransferPlan {
  readonly command: TransferCommand;
  /** The virtual path reported in notices (for listings, the listed path). */
  readonly path: string;
  readonly spec: TransferSpec;
  readonly mark: string;
  /** A streamed listing (spec send-listing): what each batch is formatted as. */
  readonly listing?: ListingRequest;
}

/** What the one outstanding command waits for. Commands run strictly one at a time. */
export type Op =
  | { readonly kind: "none" }
  | { readonly kind: "fs"; readonly request: number; readonly then: FsContinuation; readonly started: Millis }
  | { readonly kind: "auth"; readonly request: number; readonly user: string }
  /** A failed PASS: the 530 (or 421) goes out at `until` (brute-force throttling). */
  | { readonly kind: "login-delay"; readonly until: Millis; readonly user: string }
  /** PASV/EPSV: the 227/229 goes out once the listener is up. */
  | { readonly kind: "listen"; readonly channel: number; readonly extended: boolean }
  /** AUTH: waiting for the control TLS handshake. */
  | { readonly kind: "tls"; readonly protectData: boolean }
  | {
      readonly kind: "transfer";
      readonly phase: "await-connection" | "connecting" | "running";
      readonly transfer: number;
      readonly channel: number;
      readonly plan: TransferPlan;
      readonly started: Millis;
      /** Accept or connect timeout while not yet running. */
      readonly deadline: Millis | null;
      /** STATs answered once the driver reports the bytes moved so far (transfer.progress). */
      readonly statQueries: number;
    };

/** What to do when a file-system request answers; each carries what it needs. */
export type FsContinuation =
  | { readonly k: "cwd"; readonly path: string }
  | { readonly k: "size"; readonly path: string }
  | { readonly k: "mdtm"; readonly path: string }
  | { readonly k: "mfmt-set"; readonly path: string; readonly mtime: Millis; readonly shown: string }
  | { readonly k: "mlst"; readonly path: string; readonly shown: string }
  | { readonly k: "stat-path"; readonly path: string }
  | { readonly k: "stat-list"; readonly path: string }
  | { readonly k: "mkd"; readonly path: string }
  | { readonly k: "rmd"; readonly path: string }
  | { readonly k: "dele"; readonly path: string }
  | { readonly k: "rnfr"; readonly path: string }
  | { readonly k: "rnto"; readonly from: string; readonly path: string }
  | { readonly k: "retr"; readonly path: string; readonly shown: string; readonly offset: number }
  | { readonly k: "store"; readonly command: "STOR" | "APPE"; readonly path: string; readonly offset: number }
  | { readonly k: "stou"; readonly base: string; readonly attempt: number }
  /** A new file's directory must exist before the mark (vsftpd: 553), so the data set-up survives a refusal. */
  | { readonly k: "parent"; readonly command: "STOR" | "APPE" | "STOU"; readonly path: string; readonly offset: number }
  /** LIST/NLST/MLSD: first stat the argument; a directory (or a glob's parent) is then streamed. */
  | { readonly k: "listing-stat"; readonly listing: ListingRequest };

export interface ListingRequest {
  readonly command: "LIST" | "NLST" | "MLSD";
  /** Resolved virtual path of the argument (cwd when none). */
  readonly path: string;
  /** The argument as the client wrote it (NLST prefixes names with it), or null. */
  readonly given: string | null;
  /** A `*`/`?` pattern for the last component, or null. */
  readonly glob: string | null;
}

export interface SessionState {
  readonly config: CoreConfig;
  readonly local: Endpoint;
  readonly remote: Endpoint;
  readonly family: Family;
  /** The address advertised in 227, or null when none can be (genuine IPv6 without a configured one). */
  readonly passiveAddress: string | null;
  readonly refuse: SessionOpen["refuse"];
  /** When the session started waiting for its login (connect, or the REIN or AUTH that ended one): the login timeout runs from here. */
  readonly unauthSince: Millis;
  readonly phase: Phase;
  /** The server is draining: the session ends with 421 as soon as it has nothing running. */
  readonly draining: boolean;
  readonly login: Login;
  readonly failedLogins: number;
  readonly tls: Tls;
  readonly pbsz: boolean;
  readonly prot: "C" | "P";
  /** The client asked for PROT C and policy refused it: it will open a clear data connection where
   * a protected one is due (curl's --ftp-ssl-control does), so transfers are refused until PROT P. */
  readonly clearRefused: boolean;
  readonly cwd: string;
  readonly type: "A" | "I";
  readonly rest: number;
  readonly renameFrom: string | null;
  readonly epsvAll: boolean;
  readonly mlstFacts: readonly MlstFact[];
  readonly idleTimeout: Millis;
  /** Control input framing: the partial line, and complete lines not yet executed (pipelining). */
  readonly reader: LineReader;
  readonly queue: readonly FramedItem[];
  readonly queueBytes: number;
  readonly paused: boolean;
  readonly overlongLines: number;
  readonly badCommands: number;
  readonly channel: Channel;
  readonly op: Op;
  /** The verb of the command whose final reply is still to come (its refusal is noticed then), or null. */
  readonly answering: string | null;
  readonly lastActivity: Millis;
  /** The one id counter: channels, transfers, fs and auth requests. */
  readonly nextId: number;
  /** The named deadlines, brought up to date at the end of every step (`deadlinesOf`). */
  readonly deadlines: Deadlines;
}

export function initialSession(config: CoreConfig, open: SessionOpen): SessionState {
  const local = normalizeIp(open.local.address);
  const remote = normalizeIp(open.remote.address);
  const family: Family = local?.family ?? 4;
  return {
    config,
    local: { address: local?.address ?? open.local.address, port: open.local.port },
    remote: { address: remote?.address ?? open.remote.address, port: open.remote.port },
    family,
    passiveAddress: open.passiveAddress ?? (family === 4 ? (local?.address ?? null) : null),
    refuse: open.refuse,
    unauthSince: open.now,
    phase: "new",
    login: { kind: "none" },
    draining: false,
    failedLogins: 0,
    tls: open.implicitTls ? "active" : "none",
    pbsz: false,
    prot: open.implicitTls ? "P" : "C",
    clearRefused: false,
    cwd: "/",
    type: "A",
    rest: 0,
    renameFrom: null,
    epsvAll: false,
    mlstFacts: DEFAULT_MLST_FACTS,
    idleTimeout: config.timeouts.idle,
    reader: initialLineReader,
    queue: [],
    queueBytes: 0,
    paused: false,
    overlongLines: 0,
    badCommands: 0,
    channel: { kind: "none" },
    op: { kind: "none" },
    answering: null,
    lastActivity: open.now,
    nextId: 1,
    deadlines: NO_DEADLINES,
  };
}

/** A working copy that `step` mutates; the caller's state is never touched. */
export type Draft = { -readonly [K in keyof SessionState]: SessionState[K] };

/**
 * The working copy as an object literal with every field spelled out: V8 builds it with a fixed
 * shape in a few nanoseconds, where a spread of this many fields costs over a hundred (measured),
 * and the compiler insists the list stays complete.
 */
export function copyState(s: SessionState): Draft {
  return {
    config: s.config,
    local: s.local,
    remote: s.remote,
    family: s.family,
    passiveAddress: s.passiveAddress,
    refuse: s.refuse,
    unauthSince: s.unauthSince,
    phase: s.phase,
    login: s.login,
    draining: s.draining,
    failedLogins: s.failedLogins,
    tls: s.tls,
    pbsz: s.pbsz,
    prot: s.prot,
    clearRefused: s.clearRefused,
    cwd: s.cwd,
    type: s.type,
    rest: s.rest,
    renameFrom: s.renameFrom,
    epsvAll: s.epsvAll,
    mlstFacts: s.mlstFacts,
    idleTimeout: s.idleTimeout,
    reader: s.reader,
    queue: s.queue,
    queueBytes: s.queueBytes,
    paused: s.paused,
    overlongLines: s.overlongLines,
    badCommands: s.badCommands,
    channel: s.channel,
    op: s.op,
    answering: s.answering,
    lastActivity: s.lastActivity,
    nextId: s.nextId,
    deadlines: s.deadlines,
  };
}
