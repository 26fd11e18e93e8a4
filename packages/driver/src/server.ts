// The FTP server, once for every runtime (quinn's Endpoint): core config, session caps and refusal,
// the login rule, the file-system cache, events, log lines and shutdown. A runtime hands it a
// Platform (sockets, timers, TLS, files); the simulator hands it a simulated one.
import { assertNever, makeConfig, normalizeIp, type Action, type CloseReason, type CoreConfig, type CoreLimits, type CoreTimeouts, type Endpoint, type Millis, type MultilineStyle, type SessionEvent, type SessionNotice, type SessionState } from "@pasv/core";
import { accountsAuth, type UserSpec } from "./accounts.js";
import type { AuthProvider } from "./auth.js";
import { atomicUploads } from "./atomic-uploads.js";
import { HashLimiter } from "./passwords.js";
import { BanTable, checkBanOptions, DEFAULT_BAN_AFTER, DEFAULT_BAN_MS, DEFAULT_BAN_WINDOW_MS, type Ban, type BanOptions } from "./bans.js";
import { Emitter } from "./events.js";
import { checkRate, rateOverrides, type RateLimits } from "./pacer.js";
import { resolveHome, subtreeVfs } from "./home.js";
import { logs, type LogEvent, type LogLevel, type LogRecord, type SessionFields } from "./log-record.js";
import { xferlogLine } from "./xferlog.js";
import type { ByteSocket, Listener, ListenRequest, LocalVfs, Platform, Timer, TlsScope, TlsUpgrader } from "./platform.js";
import { PlatformSessionIo, TLS_HANDSHAKE_MS } from "./platform-io.js";
import { proxyAwareTls, ProxiedSocket, ProxyGate, type ProxyProtocolOptions, type ProxyRefused } from "./proxy-gate.js";
import { SessionCounter, type Admission } from "./policy.js";
import { checkPassiveCap, checkPortRange, DEFAULT_PASSIVE_PORTS, defaultMaxPassivePerIp, PassiveCounter, type PortRange } from "./port-range.js";
import { Session, type Reducer } from "./session.js";
import type { Vfs } from "./vfs.js";

export interface ServerOptions {
  /** Served directory (default: the platform's current directory). */
  readonly root?: string;
  /** Any file system instead of `root` (e.g. a MemoryFs). */
  readonly vfs?: Vfs;
  readonly users?: readonly UserSpec[];
  /** Replaces users/anonymous entirely. */
  readonly auth?: AuthProvider;
  /** Anonymous ("anonymous"/"ftp", any password) read-only logins; default true. */
  readonly anonymous?: boolean;
  /** Named users without their own `permissions` are read-write; default false (read-only). */
  readonly write?: boolean;
  /** Names starting with a dot are neither listed nor served: for everyone (true), nobody (false),
   * or anonymous sessions only (the default). */
  readonly hideDotfiles?: boolean | "anonymous";
  /** STOR writes to a hidden name and renames over the target only after a clean end, so a failed
   * upload never looks complete (default true). */
  readonly atomicUploads?: boolean;
  /** A failed upload leaves what it received as `NAME.partial` instead of nothing (default false). */
  readonly keepPartialUploads?: boolean;
  /** Inclusive range of passive ports, within 1024-65535 (default 49152-65534). */
  readonly passivePorts?: PortRange;
  /** Behind a load balancer (HAProxy `send-proxy`/`send-proxy-v2`, AWS NLB, …): every connection
   * to the control port and the passive ports must come from `from` and start with a PROXY header
   * (v1 or v2), whose client address then stands for the connection everywhere (sessions, caps,
   * bans, logs, the data-peer rule). Anything else is cut without a byte. See ProxyProtocolOptions. */
  readonly proxyProtocol?: ProxyProtocolOptions;
  /** The address put in 227 replies: fixed, or chosen per client (NAT, containers). */
  readonly publicAddress?: string | ((client: Endpoint) => string | null);
  readonly idleTimeoutMs?: number;
  readonly maxSessions?: number;
  readonly maxSessionsPerIp?: number;
  /** Each failed PASS is answered 530 only after this delay, reading nothing meanwhile (default 2000). */
  readonly loginFailDelayMs?: number;
  /** Failed logins in one session before 421 and a close (default 3). */
  readonly maxLoginFailures?: number;
  /** Bans per client address across its sessions (default: 10 failures within 600 s ban it for
   * 900 s); `false` turns them off. `decide` replaces the threshold with the embedder's rule. */
  readonly bans?: Partial<BanOptions> | false;
  /** Passive listeners one client address may hold at once, over all its sessions; beyond it PASV
   * and EPSV get 425 (default: DEFAULT_MAX_PASSIVE_PER_IP, at most a quarter of passivePorts). */
  readonly maxPassivePerIp?: number;
  /** AUTH TLS is offered (the platform carries the certificate). With `required`, named users must
   * protect the control connection before USER and their data with PROT P (vsftpd's
   * force_local_logins_ssl and force_local_data_ssl); anonymous sessions may stay in plaintext.
   * `key` and `cert` (PEM) are what the platform was made with; given different ones, a reload
   * makes the handshakes of sessions that start from then on use them (TlsUpgrader.withCredentials). */
  readonly tls?: {
    readonly required?: boolean;
    /** A protected data connection must resume its control connection's TLS session, else `522`
     * (default true; vsftpd's require_ssl_reuse). Off for clients that cannot resume (.NET SslStream).
     * A platform that cannot tell a resumed session (Deno) does not check. */
    readonly reuseCheck?: boolean;
    readonly key?: string | Uint8Array;
    readonly cert?: string | Uint8Array;
  };
  /** A TLS handshake (AUTH TLS, or a PROT P data connection) not finished after this long is cut
   * (default TLS_HANDSHAKE_MS, 10 s). */
  readonly tlsHandshakeTimeoutMs?: number;
  /** Bytes per second each session's downloads (RETR) may use; 0 or unset is no limit. A user's own
   * `maxRateDown` (UserSpec) replaces it for that user's sessions (ProFTPD's TransferRate, vsftpd's
   * local_max_rate). */
  readonly maxRateDown?: number;
  /** Bytes per second each session's uploads (STOR, APPE, STOU) may use; 0 or unset is no limit. */
  readonly maxRateUp?: number;
  /** Anonymous sessions' own limits in place of maxRateDown/maxRateUp (vsftpd's anon_max_rate); 0 is no limit. */
  readonly anonymousMaxRateDown?: number;
  readonly anonymousMaxRateUp?: number;
  readonly core?: { readonly limits?: Partial<CoreLimits>; readonly timeouts?: Partial<CoreTimeouts> };
  /** How the middle lines of multi-line replies (FEAT, STAT, HELP, the greeting) are written: every
   * form is legal and clients must read each (default "plain"; `pasv --faults multiline=…` picks
   * another to test them). */
  readonly multilineStyle?: MultilineStyle;
  /** One record per session open and close, login, transfer, file command, refusal, ban, drain
   * and reload (see log-record.ts), at `logLevel` and above. */
  readonly log?: (record: LogRecord) => void;
  /** The least severe records passed to `log` (default "info"). */
  readonly logLevel?: LogLevel;
  /** One xferlog(5) line per file transfer (wu-ftpd/vsftpd format), as it ends. */
  readonly xferlog?: (line: string) => void;
}

export interface ServerEvents {
  "session-open": { id: number; remote: Endpoint };
  "session-close": { id: number; remote: Endpoint };
  login: { id: number; user: string; anonymous: boolean };
  "login-failed": { id: number; user: string; remote: Endpoint };
  transfer: { id: number } & Extract<SessionNotice, { kind: "transfer" }>;
  /** An address is refused at the door from now until `until` (clock milliseconds). */
  ban: Ban;
  /** A reload swapped in new settings for new sessions. */
  reload: Reloaded;
}

/** What the simulator (and tests) hook into: the reducer, every step, every session's I/O. */
export interface Instrumentation {
  readonly reducer?: Reducer;
  readonly stepped?: (session: number, event: SessionEvent, state: SessionState, actions: readonly Action[]) => void;
  readonly opened?: (session: number, handle: { readonly session: Session; readonly io: PlatformSessionIo }) => void;
  /** Each accepted control connection, before its session is made: returns the socket the session
   * reads and writes and the platform its data connections and timers use (the fault layer of
   * @pasv/testing wraps both). Without it the session gets the socket and platform as they are. */
  readonly wrapSession?: (session: number, control: ByteSocket, platform: Platform) => { readonly control: ByteSocket; readonly platform: Platform };
}

/** What an embedder may put between a server and its runtime (the fault layer of @pasv/testing
 * uses both); a host's createServer passes them on. Without them nothing is wrapped. */
export interface ServerHooks {
  /** The platform the server runs on, wrapped (its local file systems, say). */
  readonly platform?: (platform: Platform) => Platform;
  readonly instrument?: Instrumentation;
}

/** `platform` wrapped as `hooks` say. */
export function hookedPlatform(platform: Platform, hooks: ServerHooks): Platform {
  return hooks.platform === undefined ? platform : hooks.platform(platform);
}

/** Control connections waiting in the kernel: FTP's server speaks first, so a dropped SYN is a client hung forever. */
export const LISTEN_BACKLOG = 1024;
/** How long close() lets sessions finish after their 421 before cutting them. */
export const CLOSE_GRACE_MS = 5_000;
export const DEFAULT_MAX_SESSIONS = 512;
export const DEFAULT_MAX_SESSIONS_PER_IP = 64;

/** What a reload did: the options that differ from the previous ones (new sessions use them), and
 * those that differ but only a restart applies (kept as they were). */
export interface Reloaded {
  readonly changed: readonly (keyof ServerOptions)[];
  readonly needRestart: readonly (keyof ServerOptions)[];
}

/** Options a running server cannot take: its files are pinned at start-up (see listen). */
const RESTART_ONLY = ["root", "vfs"] as const satisfies readonly (keyof ServerOptions)[];

/** Everything a new session is made with. A reload builds another one and swaps it in whole, so a
 * session sees one generation, never a mix; running sessions keep the one they were made with,
 * except for logins, which always check the current accounts. */
interface Settings {
  readonly options: ServerOptions;
  readonly config: CoreConfig;
  readonly auth: AuthProvider;
  /** Each session's bandwidth limits (an account's own replace them at login). */
  readonly rates: RateLimits;
  readonly ports: PortRange;
  /** The platform with this generation's TLS upgrader (its certificate). */
  readonly platform: Platform;
  /** That upgrader as the platform made it (a reload derives the next one from it). */
  readonly tls: TlsUpgrader | null;
  /** The PROXY protocol door, or null when connections are taken as they come. */
  readonly proxy: ProxyGate | null;
  readonly limits: { readonly sessions: { maxSessions: number; maxSessionsPerIp: number }; readonly passivePerIp: number; readonly bans: BanOptions | null };
}

export class FtpServer extends Emitter<ServerEvents> {
  private readonly sessions = new Map<number, { session: Session; io: PlatformSessionIo }>();
  private readonly counter: SessionCounter;
  private bans: BanTable | null;
  private settings: Settings;
  private readonly passive: PassiveCounter;
  /** The served directory and the handed-in file system, as at construction (RESTART_ONLY). */
  private readonly base: string;
  private readonly given: Vfs | undefined;
  /** Every root and home pinned so far, by directory: a reload reuses them, so a home keeps the
   * real path it had when it was first pinned. */
  private readonly roots = new Map<string, { readonly local: LocalVfs | null; readonly pinned: Promise<void> }>();
  private listener: Listener | null = null;
  private implicitListener: Listener | null = null;
  private reuseRefused = 0;
  /** Implicit-TLS connections in their handshake: not sessions yet, but cut at shutdown. */
  private readonly handshaking = new Set<PendingTls>();
  /** Connections still sending their PROXY header: a stop cuts them. */
  private readonly reading = new Set<() => void>();
  /** Every root known at construction, pinned (see listen). */
  private readonly pinned: Promise<void>;
  /** Password verifications at once, over every generation of accounts (see HashLimiter). */
  private readonly hashes = new HashLimiter();
  /** Reloads run one after another, in call order. */
  private reloads: Promise<unknown> = Promise.resolve();
  private nextId = 1;
  private closing = false;
  private closed: Promise<void> | null = null;
  private drained: (() => void) | null = null;

  constructor(
    private readonly platform: Platform,
    options: ServerOptions = {},
    private readonly instrument: Instrumentation = {},
  ) {
    super();
    this.base = options.root ?? platform.cwd();
    this.given = options.vfs;
    const { settings, pinned } = this.build(options, platform.tls, null);
    this.settings = settings;
    this.pinned = pinned;
    this.pinned.catch(() => undefined);
    this.counter = new SessionCounter(settings.limits.sessions);
    this.passive = new PassiveCounter(settings.limits.passivePerIp);
    this.bans = settings.limits.bans === null ? null : new BanTable(settings.limits.bans);
  }

  /**
   * New settings for sessions that start from now on; running sessions (and their transfers) keep
   * the ones they started with. Everything is built and checked first (options, every new home
   * pinned, the TLS material) and then swapped in at once; on any error the promise rejects and
   * the server goes on exactly as before. `root` and `vfs` need a restart: a change to them is
   * reported in `needRestart` and not applied. Session counts, passive listeners and ban history
   * carry over; only their limits change. Emits "reload" with the result.
   */
  reload(options: ServerOptions): Promise<Reloaded> {
    const run = this.reloads.then(async () => {
      if (this.closing) throw new Error("the server is stopping");
      const previous = this.settings.options;
      const needRestart = RESTART_ONLY.filter((key) => !sameValue(key === "root" ? (options.root ?? this.platform.cwd()) : options[key], key === "root" ? this.base : this.given));
      const before = this.settings.tls;
      const { settings, pinned } = this.build(options, before, previous);
      try {
        await pinned;
        // close() may have been called while the new homes were being pinned.
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
        if (this.closing) throw new Error("the server is stopping");
      } catch (error) {
        // A certificate that never served lets go of what it holds (Deno: a private listener).
        if (settings.tls !== before) settings.tls?.retire?.();
        throw error;
      }
      this.settings = settings;
      // Sessions from now on shake hands with the new certificate; the ones before keep the old.
      if (settings.tls !== before) before?.retire?.();
      this.counter.setLimits(settings.limits.sessions);
      this.passive.setMaxPerIp(settings.limits.passivePerIp);
      const bans = settings.limits.bans;
      if (bans === null) this.bans = null;
      else if (this.bans === null) this.bans = new BanTable(bans);
      else this.bans.configure(bans);
      const keys = new Set([...Object.keys(previous), ...Object.keys(options)] as (keyof ServerOptions)[]);
      const changed = [...keys].filter((key) => !(RESTART_ONLY as readonly string[]).includes(key) && !sameValue(previous[key], options[key])).sort();
      const result: Reloaded = { changed, needRestart };
      this.emit("reload", result);
      return result;
    });
    this.reloads = run.catch(() => undefined);
    return run;
  }

  /** One generation of settings from `options` after `previous` (null at construction); throws
   * (changing nothing) when they are invalid. `pinned` settles once every root and home they use is
   * pinned, and rejects when one cannot be. */
  private build(options: ServerOptions, tlsBefore: TlsUpgrader | null, previous: ServerOptions | null): { settings: Settings; pinned: Promise<void> } {
    if (options.tls !== undefined && tlsBefore === null) throw new Error("TLS is not available on this platform");
    const ports = checkPortRange(options.passivePorts ?? DEFAULT_PASSIVE_PORTS);
    const passivePerIp = checkPassiveCap(options.maxPassivePerIp ?? defaultMaxPassivePerIp(ports));
    const handshake = options.tlsHandshakeTimeoutMs;
    if (handshake !== undefined && !(Number.isFinite(handshake) && handshake > 0)) throw new RangeError(`tlsHandshakeTimeoutMs must be a positive number of milliseconds, not ${handshake}`);
    const rates = { down: checkRate("maxRateDown", options.maxRateDown), up: checkRate("maxRateUp", options.maxRateUp) };
    const proxy = options.proxyProtocol === undefined ? null : new ProxyGate(options.proxyProtocol, this.platform.clock, (refused) => this.proxyRefused(refused));
    const anonymousRates = rateOverrides(["anonymousMaxRateDown", "anonymousMaxRateUp"], options.anonymousMaxRateDown, options.anonymousMaxRateUp);
    const bans = options.bans === false ? null : checkBanOptions({ after: DEFAULT_BAN_AFTER, windowMs: DEFAULT_BAN_WINDOW_MS, durationMs: DEFAULT_BAN_MS, ...options.bans });
    const material = options.tls;
    // At construction the platform already carries the certificate; a reload makes a new context
    // only when the material differs, so an unchanged certificate keeps TLS session resumption.
    const renewed = previous !== null && material?.key !== undefined && material.cert !== undefined && !(sameValue(previous.tls?.key, material.key) && sameValue(previous.tls?.cert, material.cert));
    const tls = renewed && tlsBefore !== null ? tlsBefore.withCredentials({ key: material.key, cert: material.cert }) : tlsBefore;
    const uploads = (vfs: Vfs): Vfs => (options.atomicUploads === false ? vfs : atomicUploads(vfs, { keepPartial: options.keepPartialUploads === true }));
    const given = this.given === undefined ? undefined : uploads(this.given);
    const base = this.base;
    const made = new Map<string, Vfs>();
    const pins: Promise<void>[] = [];
    const fresh: string[] = [];
    /** The pinned root at `dir` (made and pinned at its first use): its local file system, or null on a handed-in one. */
    const rootOf = (dir: string, what: string): LocalVfs | null => {
      let root = this.roots.get(dir);
      if (root === undefined) {
        const raw = this.given;
        let local: LocalVfs | null = null;
        let guarantee: Promise<unknown>;
        if (raw === undefined) {
          local = this.platform.localFs(dir);
          guarantee = Promise.resolve(local.guarantee);
        } else {
          // A home on a handed-in file system is a view of its subtree; it must be a directory now.
          guarantee = raw.stat(dir).then((st) => {
            if (st.type !== "dir") throw new Error("not a directory");
          });
        }
        const pinned = guarantee.then(
          () => undefined,
          (error: unknown) => {
            throw new Error(`${what} cannot be served: ${error instanceof Error ? error.message : String(error)}`);
          },
        );
        // Awaited by listen() or reload(); this only keeps one that fails before then from being unhandled.
        pinned.catch(() => undefined);
        root = { local, pinned };
        this.roots.set(dir, root);
        fresh.push(dir);
      }
      pins.push(root.pinned);
      return root.local;
    };
    const vfsFor = (home: string | undefined): Vfs => {
      if (home === undefined && given !== undefined) return given;
      const dir = home === undefined ? base : (resolveHome(given === undefined ? base : "/", home) ?? badHome(home));
      let vfs = made.get(dir);
      if (vfs === undefined) {
        const local = rootOf(dir, given === undefined ? `the root ${dir}` : `the home ${home ?? dir}`);
        vfs = given !== undefined ? subtreeVfs(given, dir) : uploads(local ?? badHome(dir));
        made.set(dir, vfs);
      }
      return vfs;
    };
    // Checks every account (before any root is pinned); their file systems are looked up at login.
    const auth =
      options.auth ??
      accountsAuth({ users: options.users ?? [], anonymous: options.anonymous ?? true, write: options.write ?? false, hideDotfiles: options.hideDotfiles ?? "anonymous", anonymousRates, limiter: this.hashes }, vfsFor);
    // A root this build added is forgotten when the build fails, so the next reload tries it afresh.
    const forget = (): void => {
      for (const dir of fresh) this.roots.delete(dir);
    };
    // Every root and home known now is pinned now (at start-up, at a reload), not at its first
    // login: a root replaced by a symlink before anyone logs in is not followed.
    try {
      if (given === undefined) vfsFor(undefined);
      for (const user of options.users ?? []) if (user.home !== undefined) vfsFor(user.home);
    } catch (error) {
      forget();
      throw error;
    }
    const pinned = Promise.all(pins).then(
      () => undefined,
      (error: unknown) => {
        forget();
        throw error;
      },
    );
    const config = makeConfig({
      anonymous: options.anonymous ?? true,
      tls: options.tls !== undefined,
      requireTlsForLogin: options.tls?.required === true,
      requireTlsForData: options.tls?.required === true,
      ...(options.multilineStyle === undefined ? {} : { multilineStyle: options.multilineStyle }),
      requireTlsReuse: options.tls?.reuseCheck !== false && tls?.scope !== undefined,
      limits: { ...(options.maxLoginFailures === undefined ? {} : { maxFailedLogins: options.maxLoginFailures }), ...options.core?.limits },
      timeouts: {
        ...(options.idleTimeoutMs === undefined ? {} : { idle: options.idleTimeoutMs }),
        ...(options.loginFailDelayMs === undefined ? {} : { failedLoginDelay: options.loginFailDelayMs }),
        ...options.core?.timeouts,
      },
    });
    const limits = { sessions: { maxSessions: options.maxSessions ?? DEFAULT_MAX_SESSIONS, maxSessionsPerIp: options.maxSessionsPerIp ?? DEFAULT_MAX_SESSIONS_PER_IP }, passivePerIp, bans };
    // Behind a balancer a socket is a ProxiedSocket; the platform's handshake needs the one underneath.
    const platform = withTls(this.platform, tls !== null && proxy !== null ? proxyAwareTls(tls) : tls);
    return { settings: { options, config, auth, rates, ports, platform, tls, proxy, limits }, pinned };
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /**
   * Accepts FTP sessions on `host:port`; with `implicitTls`, implicit FTPS: TLS from the first byte,
   * the greeting inside it, data protected by default (port 990 by convention). One listener of each
   * kind; both serve at once.
   */
  async listen(port = 2121, host = "127.0.0.1", options: { readonly implicitTls?: boolean } = {}): Promise<{ address: string; port: number }> {
    const implicit = options.implicitTls === true;
    if ((implicit ? this.implicitListener : this.listener) !== null) throw new Error("already listening");
    if (implicit && this.settings.options.tls === undefined) throw new Error("implicit TLS needs the tls option (a certificate)");
    if (this.closing) throw new Error("the server is closed");
    await this.pinned;
    const family = host.includes(":") ? 6 : 4;
    const request: ListenRequest = { host, port, family, backlog: LISTEN_BACKLOG, urgentData: true };
    const listener = implicit ? await this.listenImplicit(request) : await this.platform.listen(request, (socket) => this.gated(socket, (s) => this.accept(s, false, this.admit(s))));
    if (implicit) this.implicitListener = listener;
    else this.listener = listener;
    return { address: listener.address, port: listener.port };
  }

  private listenImplicit(request: ListenRequest): Promise<Listener> {
    if (this.settings.platform.tls === null) return Promise.reject(new Error("TLS is not available on this platform"));
    return this.platform.listen(request, (raw) => this.gated(raw, (socket) => {
      // The handshake is this generation's: a reloaded certificate serves the connections after it.
      const settings = this.settings;
      const tls = settings.platform.tls;
      if (tls === null) {
        socket.destroy();
        return;
      }
      const scope = tls.scope?.() ?? null;
      this.acceptImplicit({ remote: socket.remote, handshake: () => tls.upgrade(socket, [], scope ?? undefined), destroy: () => socket.destroy() }, settings, scope);
    }));
  }

  /** `then` with the socket as it is, or, behind a balancer, once its PROXY header has named the
   * client (a socket whose `remote` is the client's); a connection the gate refuses never gets there. */
  private gated(socket: ByteSocket, then: (socket: ByteSocket) => void): void {
    const gate = this.settings.proxy;
    if (gate === null) {
      then(socket);
      return;
    }
    let cancel: (() => void) | null = null;
    cancel = gate.admit(socket, "control", (proxied) => {
      if (cancel !== null) this.reading.delete(cancel);
      then(proxied);
    });
    if (cancel !== null) this.reading.add(cancel);
  }

  private proxyRefused(refused: ProxyRefused): void {
    const { listener, peer, reason, detail } = refused;
    // A peer that is not the balancer, or a balancer that sends garbage, is a misconfiguration or an
    // attack; one that just hangs up (a port probe) is not worth a warning.
    this.log(reason === "closed" ? "info" : "warn", { event: "proxy.refused", listener, peer: peer.address, peerPort: peer.port, reason, detail });
  }

  /**
   * The slot is taken before the handshake (a handshake holds a socket and memory too) and its
   * deadline bounds it; a connection that does not speak TLS (a plaintext client, a scanner) is cut
   * without a reply, since nothing it could read was ever agreed, and costs one log record.
   */
  private acceptImplicit(pending: PendingTls, settings: Settings, scope: TlsScope | null): void {
    const admission = this.admit(pending);
    this.handshaking.add(pending);
    let timedOut = false;
    const deadline = this.platform.clock.after(settings.options.tlsHandshakeTimeoutMs ?? TLS_HANDSHAKE_MS, () => {
      timedOut = true;
      pending.destroy();
    });
    const remote = this.remoteOf(pending);
    pending.handshake().then(
      (secure) => {
        deadline.cancel();
        this.handshaking.delete(pending);
        if (this.closing) {
          if (admission.admitted) admission.release();
          secure.destroy();
          return;
        }
        this.accept(secure, true, admission, scope, settings);
      },
      (error: unknown) => {
        deadline.cancel();
        this.handshaking.delete(pending);
        if (admission.admitted) admission.release();
        pending.destroy();
        // One line whatever the TLS layer's message holds (OpenSSL's end in a newline).
        const why = timedOut ? "timed out" : `failed: ${(error instanceof Error ? error.message : String(error)).replace(/\s+/g, " ").trim()}`;
        this.log("info", { event: "message", client: remote.address, clientPort: remote.port, message: `implicit TLS handshake ${why}; closed without a reply` });
      },
    );
  }

  /**
   * Stops accepting at once. With `drainMs`, sessions with nothing running get their 421 now and
   * running transfers go on to their end for up to `drainMs`; then (or at once, without it) every
   * session left gets its 421 (a running transfer its 426 first), and those still open after the
   * grace period are cut. Idempotent: every call resolves when the first one does, once every
   * session is gone.
   */
  close(options: { readonly drainMs?: Millis } = {}): Promise<void> {
    const drainMs = options.drainMs ?? 0;
    if (!(Number.isFinite(drainMs) && drainMs >= 0)) return Promise.reject(new RangeError(`drainMs must be a number of milliseconds >= 0, not ${drainMs}`));
    this.closed ??= this.shutDown(drainMs);
    return this.closed;
  }

  /** Protected data connections refused since start because they did not resume their control
   * connection's TLS session (a metrics counter). */
  get tlsReuseRefused(): number {
    return this.reuseRefused;
  }

  /** Passive listeners open now, over all sessions (a metrics gauge). */
  get passiveListeners(): number {
    return this.passive.held;
  }

  /** Whether close() has been called: the server no longer accepts (a health check answers 503). */
  get draining(): boolean {
    return this.closing;
  }

  private async shutDown(drainMs: Millis): Promise<void> {
    this.closing = true;
    const stopped = Promise.all([this.listener?.close(), this.implicitListener?.close()]);
    // Sessions still draining may shake hands (a data connection), but no new one comes.
    this.settings.tls?.retire?.();
    for (const pending of this.handshaking) pending.destroy();
    for (const cancel of [...this.reading]) cancel();
    this.reading.clear();
    const timers: Timer[] = [];
    const stopAll = (): void => {
      for (const { session } of this.sessions.values()) session.post({ type: "shutdown", now: this.platform.clock.now() });
      timers.push(
        this.platform.clock.after(CLOSE_GRACE_MS, () => {
          for (const { io } of this.sessions.values()) io.destroy();
        }),
      );
    };
    const drained = new Promise<void>((resolve) => {
      if (this.sessions.size === 0) {
        resolve();
        return;
      }
      this.drained = resolve;
      if (drainMs === 0) {
        stopAll();
        return;
      }
      this.log("info", { event: "drain", drainMs, sessions: this.sessions.size });
      for (const { session } of this.sessions.values()) session.post({ type: "drain", now: this.platform.clock.now() });
      timers.push(this.platform.clock.after(drainMs, stopAll));
    });
    await Promise.all([stopped, drained]);
    for (const t of timers) t.cancel();
  }

  private log(level: LogLevel, event: LogEvent): void {
    const options = this.settings.options;
    const sink = options.log;
    if (sink === undefined || !logs(options.logLevel ?? "info", level)) return;
    sink({ time: this.platform.clock.now(), level, ...event });
  }

  /** The address `227` names: `publicAddress`; else, behind a balancer, the address the client
   * reached (the PROXY header's destination, as ProFTPD's mod_proxy_protocol takes it), which is
   * where the balancer forwards the passive range; else null (the core names the control
   * connection's own address). */
  private passiveAddress(settings: Settings, remote: Endpoint, socket: ByteSocket): string | null {
    const pub = settings.options.publicAddress;
    if (pub !== undefined) return typeof pub === "string" ? pub : pub(remote);
    const header = socket instanceof ProxiedSocket ? socket.proxyHeader : null;
    return header?.command === "proxy" ? header.destination.address : null;
  }

  /**
   * A session is admitted when it is accepted under both caps; from then until its control
   * connection is fully closed it holds one slot, also before login and during a TLS handshake,
   * because it holds a socket and memory all that time (vsftpd's max_clients and ProFTPD's
   * MaxInstances count at accept as well). What keeps connections that never become usable from
   * starving logged-in users is that every wait before a session is usable is bounded: the core's
   * login deadline counts from the connection (REIN and AUTH do not restart it before a login), and
   * the TLS handshake, control or data, has its own deadline (`tlsHandshakeTimeoutMs`) that cuts the
   * socket. A connection refused at a cap gets its 421 and never counts. The slot is given back
   * exactly once, when the socket reports its close: PlatformSessionIo reports the end once, and
   * the admission's release is idempotent besides.
   */
  private remoteOf(socket: { readonly remote: Endpoint }): Endpoint {
    return { address: normalizeIp(socket.remote.address)?.address ?? socket.remote.address, port: socket.remote.port };
  }

  private admit(socket: { readonly remote: Endpoint }): Door {
    const address = this.remoteOf(socket).address;
    if (this.closing) return { admitted: false, reason: "shutting-down" };
    if (this.bans?.banned(address, this.platform.clock.now()) === true) return { admitted: false, reason: "banned" };
    return this.counter.admit(address);
  }

  /** `settings`: the generation the session is made with (an implicit-TLS one's is its handshake's). */
  private accept(socket: ByteSocket, implicitTls: boolean, admission: Door, tlsScope: TlsScope | null = null, settings: Settings = this.settings): void {
    const id = this.nextId++;
    const remote = this.remoteOf(socket);
    // The session keeps its generation of settings through any reload.
    const passive = { range: settings.ports, claim: () => this.passive.claim(remote.address) };
    const handshake = settings.options.tlsHandshakeTimeoutMs;
    const record: SessionRecord = { opened: this.platform.clock.now(), user: null, bytesIn: 0, bytesOut: 0, closed: "client-closed", fields: () => ({ session: id, client: remote.address, clientPort: remote.port, tls: session.tlsActive, user: record.user }) };
    // A balancer's health check (a PROXY LOCAL or UNKNOWN header) opens a session every few seconds;
    // its open and close are logged at debug so they do not drown the clients' sessions.
    const opens: LogLevel = socket instanceof ProxiedSocket && socket.proxyHeader !== null && socket.proxyHeader.command !== "proxy" ? "debug" : "info";
    const wrapped = this.instrument.wrapSession?.(id, socket, settings.platform);
    const io = new PlatformSessionIo(wrapped?.platform ?? settings.platform, wrapped?.control ?? socket, passive, () => {
      if (admission.admitted) {
        admission.release();
        this.log(opens, { event: "session.close", ...record.fields(), reason: record.closed, durationMs: Math.max(0, this.platform.clock.now() - record.opened), bytesIn: record.bytesIn, bytesOut: record.bytesOut });
      }
      this.sessions.delete(id);
      this.emit("session-close", { id, remote });
      if (this.sessions.size === 0 && this.drained !== null) {
        this.drained();
        this.drained = null;
      }
    }, {
      ...(handshake === undefined ? {} : { tlsHandshakeMs: handshake }),
      tlsScope,
      proxy: settings.proxy,
      onReuseRefused: () => {
        this.reuseRefused++;
        this.log("warn", { event: "message", ...record.fields(), message: "data connection refused: its TLS session is not the control connection's (no resumption)" });
      },
    });
    const stepped = this.instrument.stepped;
    const session = new Session({
      config: settings.config,
      open: { local: socket.local, remote: socket.remote, implicitTls, passiveAddress: this.passiveAddress(settings, remote, socket), refuse: admission.admitted ? null : { reason: admission.reason } },
      io,
      // Logins always check the accounts in force now: a reload that removes a user or changes a
      // password shuts them out of running sessions too (REIN, or a login not yet finished).
      auth: { authenticate: (request) => this.settings.auth.authenticate(request) },
      rates: settings.rates,
      ...(this.instrument.reducer === undefined ? {} : { reducer: this.instrument.reducer }),
      hooks: {
        notice: (notice) => this.notice(id, remote, record, notice),
        log: (level, message) => this.log(level, { event: "message", ...record.fields(), message }),
        ...(stepped === undefined ? {} : { stepped: (event: SessionEvent, state: SessionState, actions: readonly Action[]) => stepped(id, event, state, actions) }),
      },
    });
    if (admission.admitted) this.log(opens, { event: "session.open", ...record.fields() });
    else this.log(admission.reason === "banned" ? "warn" : "info", { event: "session.refused", ...record.fields(), reason: admission.reason });
    io.session = session;
    this.sessions.set(id, { session, io });
    this.instrument.opened?.(id, { session, io });
    this.emit("session-open", { id, remote });
    session.start();
    io.start();
  }

  private banFailure(remote: Endpoint, record: SessionRecord): void {
    const ban = this.bans?.failed(remote.address, this.platform.clock.now()) ?? null;
    if (ban === null) return;
    const seconds = Math.round((ban.until - this.platform.clock.now()) / 1000);
    // The session whose failure tipped the count: the record says which one, as every session's does.
    this.log("warn", { event: "ban", ...record.fields(), failures: ban.failures, seconds });
    this.emit("ban", ban);
  }

  private notice(id: number, remote: Endpoint, record: SessionRecord, notice: SessionNotice): void {
    switch (notice.kind) {
      case "login":
        record.user = notice.user;
        this.log("info", { event: "login", ...record.fields(), anonymous: notice.anonymous });
        this.emit("login", { id, user: notice.user, anonymous: notice.anonymous });
        return;
      case "login-failed":
        this.log("warn", { event: "login.failed", ...record.fields(), attempted: notice.user });
        this.emit("login-failed", { id, user: notice.user, remote });
        this.banFailure(remote, record);
        return;
      case "transfer": {
        if (notice.direction === "upload") record.bytesIn += notice.bytes;
        else record.bytesOut += notice.bytes;
        const seconds = notice.durationMs / 1000;
        this.log(notice.outcome === "failed" ? "warn" : "info", {
          event: "transfer",
          ...record.fields(),
          command: notice.command,
          direction: notice.direction,
          path: notice.path,
          bytes: notice.bytes,
          durationMs: notice.durationMs,
          rate: seconds > 0 ? Math.round(notice.bytes / seconds) : 0,
          outcome: notice.outcome,
          reason: notice.reason,
          code: notice.code,
          ascii: notice.ascii,
        });
        const xferlog = this.settings.options.xferlog;
        const xfer = xferlog === undefined ? null : xferlogLine(notice, remote, new Date(this.platform.clock.now()));
        if (xfer !== null) xferlog?.(xfer);
        this.emit("transfer", { id, ...notice });
        return;
      }
      case "file":
        this.log("info", { event: "file", ...record.fields(), command: notice.command, path: notice.path, from: notice.from, ok: notice.ok, code: notice.code });
        return;
      case "refused":
        this.log("info", { event: "refused", ...record.fields(), command: notice.command, code: notice.code, text: notice.text });
        return;
      case "closed":
        record.closed = notice.reason;
        return;
      default:
        assertNever(notice);
    }
  }
}

/** A connection on an implicit-TLS listener, before its handshake. */
interface PendingTls {
  readonly remote: Endpoint;
  /** The server-side handshake; resolves with the protected socket, rejects when it fails. */
  handshake(): Promise<ByteSocket>;
  /** Cuts the connection (a handshake past its deadline, a shutdown). Idempotent. */
  destroy(): void;
}

/** Admitted under the caps, or refused with the reason its 421 gives. */
type Door = Admission | { readonly admitted: false; readonly reason: "banned" | "shutting-down" };

/** What a session's records carry, kept from its notices. */
interface SessionRecord {
  readonly opened: Millis;
  user: string | null;
  bytesIn: number;
  bytesOut: number;
  closed: CloseReason;
  fields(): SessionFields;
}

/** The platform with another TLS upgrader (a reloaded certificate), or itself when it is the same. */
function withTls(platform: Platform, tls: TlsUpgrader | null): Platform {
  if (tls === platform.tls) return platform;
  return {
    clock: platform.clock,
    random: () => platform.random(),
    listen: (request, accept) => platform.listen(request, accept),
    connect: (request) => platform.connect(request),
    tls,
    localFs: (root) => platform.localFs(root),
    cwd: () => platform.cwd(),
  };
}

/** Equal option values: plain data compared by value (bytes by content), functions and objects
 * with a prototype (a Vfs, an AuthProvider) by identity. */
function sameValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (a instanceof Uint8Array && b instanceof Uint8Array) return a.length === b.length && a.every((x, i) => x === b[i]);
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  if (Object.getPrototypeOf(a) !== Object.prototype || Object.getPrototypeOf(b) !== Object.prototype) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

function badHome(home: string): never {
  throw new Error(`the home ${home} must be a directory under the root (no "..") or an absolute path`);
}
