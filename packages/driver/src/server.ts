// The FTP server, once for every runtime (quinn's Endpoint): core config, session caps and refusal,
// the login rule, the file-system cache, events, log lines and shutdown. A runtime hands it a
// Platform (sockets, timers, TLS, files); the simulator hands it a simulated one.
import { makeConfig, normalizeIp, type Action, type CoreConfig, type CoreLimits, type CoreTimeouts, type Endpoint, type Millis, type SessionEvent, type SessionNotice, type SessionState } from "@pasv/core";
import { accountsAuth, type UserSpec } from "./accounts.js";
import type { AuthProvider } from "./auth.js";
import { atomicUploads } from "./atomic-uploads.js";
import { BanTable, DEFAULT_BAN_AFTER, DEFAULT_BAN_MS, DEFAULT_BAN_WINDOW_MS, type Ban, type BanOptions } from "./bans.js";
import { Emitter } from "./events.js";
import { resolveHome, subtreeVfs } from "./home.js";
import { sessionLine, transferLine } from "./log-line.js";
import { xferlogLine } from "./xferlog.js";
import type { ByteSocket, Listener, ListenRequest, Platform, Timer, TlsScope } from "./platform.js";
import { PlatformSessionIo, TLS_HANDSHAKE_MS } from "./platform-io.js";
import { SessionCounter, type Admission } from "./policy.js";
import { checkPortRange, DEFAULT_PASSIVE_PORTS, defaultMaxPassivePerIp, PassiveCounter, type PortRange } from "./port-range.js";
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
   * force_local_logins_ssl and force_local_data_ssl); anonymous sessions may stay in plaintext. */
  readonly tls?: {
    readonly required?: boolean;
    /** A protected data connection must resume its control connection's TLS session, else `522`
     * (default true; vsftpd's require_ssl_reuse). Off for clients that cannot resume (.NET SslStream).
     * A platform that cannot tell a resumed session (Deno) does not check. */
    readonly reuseCheck?: boolean;
  };
  /** A TLS handshake (AUTH TLS, or a PROT P data connection) not finished after this long is cut
   * (default TLS_HANDSHAKE_MS, 10 s). */
  readonly tlsHandshakeTimeoutMs?: number;
  readonly core?: { readonly limits?: Partial<CoreLimits>; readonly timeouts?: Partial<CoreTimeouts> };
  /** One line per transfer and notable event. */
  readonly log?: (line: string) => void;
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
}

/** What the simulator (and tests) hook into: the reducer, every step, every session's I/O. */
export interface Instrumentation {
  readonly reducer?: Reducer;
  readonly stepped?: (session: number, event: SessionEvent, state: SessionState, actions: readonly Action[]) => void;
  readonly opened?: (session: number, handle: { readonly session: Session; readonly io: PlatformSessionIo }) => void;
}

/** Control connections waiting in the kernel: FTP's server speaks first, so a dropped SYN is a client hung forever. */
export const LISTEN_BACKLOG = 1024;
/** How long close() lets sessions finish after their 421 before cutting them. */
export const CLOSE_GRACE_MS = 5_000;
export const DEFAULT_MAX_SESSIONS = 512;
export const DEFAULT_MAX_SESSIONS_PER_IP = 64;

export class FtpServer extends Emitter<ServerEvents> {
  private readonly sessions = new Map<number, { session: Session; io: PlatformSessionIo }>();
  private readonly counter: SessionCounter;
  private readonly bans: BanTable | null;
  private readonly auth: AuthProvider;
  private readonly config: CoreConfig;
  private readonly ports: PortRange;
  private readonly passive: PassiveCounter;
  private listener: Listener | null = null;
  private implicitListener: Listener | null = null;
  private reuseRefused = 0;
  /** Implicit-TLS connections in their handshake: not sessions yet, but cut at shutdown. */
  private readonly handshaking = new Set<PendingTls>();
  /** Every root known at construction, pinned (see listen). */
  private readonly pinned: Promise<void>;
  private nextId = 1;
  private closing = false;
  private closed: Promise<void> | null = null;
  private drained: (() => void) | null = null;

  constructor(
    private readonly platform: Platform,
    private readonly options: ServerOptions = {},
    private readonly instrument: Instrumentation = {},
  ) {
    super();
    if (options.tls !== undefined && platform.tls === null) throw new Error("TLS is not available on this platform");
    this.ports = checkPortRange(options.passivePorts ?? DEFAULT_PASSIVE_PORTS);
    this.passive = new PassiveCounter(options.maxPassivePerIp ?? defaultMaxPassivePerIp(this.ports));
    const handshake = options.tlsHandshakeTimeoutMs;
    if (handshake !== undefined && !(Number.isFinite(handshake) && handshake > 0)) throw new RangeError(`tlsHandshakeTimeoutMs must be a positive number of milliseconds, not ${handshake}`);
    const uploads = (vfs: Vfs): Vfs => (options.atomicUploads === false ? vfs : atomicUploads(vfs, { keepPartial: options.keepPartialUploads === true }));
    const given = options.vfs === undefined ? undefined : uploads(options.vfs);
    const fsCache = new Map<string, Vfs>();
    const pins: Promise<void>[] = [];
    const pin = (what: string, guarantee: Promise<unknown>): void => {
      const pinned = guarantee.then(
        () => undefined,
        (error: unknown) => {
          throw new Error(`${what} cannot be served: ${error instanceof Error ? error.message : String(error)}`);
        },
      );
      // Awaited by listen(); this only keeps a root that fails before then from being unhandled.
      pinned.catch(() => undefined);
      pins.push(pinned);
    };
    const base = options.root ?? platform.cwd();
    const vfsFor = (home: string | undefined): Vfs => {
      if (home === undefined && given !== undefined) return given;
      const dir = home === undefined ? base : (resolveHome(given === undefined ? base : "/", home) ?? badHome(home));
      let vfs = fsCache.get(dir);
      if (vfs === undefined) {
        if (given !== undefined) {
          // A home on a handed-in file system is a view of its subtree; it must be a directory now.
          vfs = subtreeVfs(given, dir);
          pin(`the home ${home ?? dir}`, given.stat(dir).then((st) => {
            if (st.type !== "dir") throw new Error("not a directory");
          }));
        } else {
          const local = platform.localFs(dir);
          pin(`the root ${dir}`, Promise.resolve(local.guarantee));
          vfs = uploads(local);
        }
        fsCache.set(dir, vfs);
      }
      return vfs;
    };
    // Every root and home known now is pinned now, at start-up, not at its first login: a root
    // replaced by a symlink before anyone logs in is not followed.
    if (given === undefined) vfsFor(undefined);
    for (const user of options.users ?? []) if (user.home !== undefined) vfsFor(user.home);
    this.pinned = Promise.all(pins).then(() => undefined);
    this.pinned.catch(() => undefined);
    this.auth =
      options.auth ??
      accountsAuth({ users: options.users ?? [], anonymous: options.anonymous ?? true, write: options.write ?? false, hideDotfiles: options.hideDotfiles ?? "anonymous" }, vfsFor);
    this.bans = options.bans === false ? null : new BanTable({ after: DEFAULT_BAN_AFTER, windowMs: DEFAULT_BAN_WINDOW_MS, durationMs: DEFAULT_BAN_MS, ...options.bans });
    this.counter = new SessionCounter({ maxSessions: options.maxSessions ?? DEFAULT_MAX_SESSIONS, maxSessionsPerIp: options.maxSessionsPerIp ?? DEFAULT_MAX_SESSIONS_PER_IP });
    this.config = makeConfig({
      anonymous: options.anonymous ?? true,
      tls: options.tls !== undefined,
      requireTlsForLogin: options.tls?.required === true,
      requireTlsForData: options.tls?.required === true,
      requireTlsReuse: options.tls?.reuseCheck !== false && platform.tls?.scope !== undefined,
      limits: { ...(options.maxLoginFailures === undefined ? {} : { maxFailedLogins: options.maxLoginFailures }), ...options.core?.limits },
      timeouts: {
        ...(options.idleTimeoutMs === undefined ? {} : { idle: options.idleTimeoutMs }),
        ...(options.loginFailDelayMs === undefined ? {} : { failedLoginDelay: options.loginFailDelayMs }),
        ...options.core?.timeouts,
      },
    });
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
    if (implicit && this.options.tls === undefined) throw new Error("implicit TLS needs the tls option (a certificate)");
    if (this.closing) throw new Error("the server is closed");
    await this.pinned;
    const family = host.includes(":") ? 6 : 4;
    const request: ListenRequest = { host, port, family, backlog: LISTEN_BACKLOG, urgentData: true };
    const listener = implicit ? await this.listenImplicit(request) : await this.platform.listen(request, (socket) => this.accept(socket, false, this.admit(socket)));
    if (implicit) this.implicitListener = listener;
    else this.listener = listener;
    return { address: listener.address, port: listener.port };
  }

  private listenImplicit(request: ListenRequest): Promise<Listener> {
    const tls = this.platform.tls;
    if (tls === null) return Promise.reject(new Error("TLS is not available on this platform"));
    return this.platform.listen(request, (socket) => {
      const scope = tls.scope?.() ?? null;
      this.acceptImplicit({ remote: socket.remote, handshake: () => tls.upgrade(socket, [], scope ?? undefined), destroy: () => socket.destroy() }, scope);
    });
  }

  /**
   * The slot is taken before the handshake (a handshake holds a socket and memory too) and its
   * deadline bounds it; a connection that does not speak TLS (a plaintext client, a scanner) is cut
   * without a reply, since nothing it could read was ever agreed, and costs one log line.
   */
  private acceptImplicit(pending: PendingTls, scope: TlsScope | null): void {
    const admission = this.admit(pending);
    this.handshaking.add(pending);
    let timedOut = false;
    const deadline = this.platform.clock.after(this.options.tlsHandshakeTimeoutMs ?? TLS_HANDSHAKE_MS, () => {
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
        this.accept(secure, true, admission, scope);
      },
      (error: unknown) => {
        deadline.cancel();
        this.handshaking.delete(pending);
        if (admission.admitted) admission.release();
        pending.destroy();
        // One line whatever the TLS layer's message holds (OpenSSL's end in a newline).
        const why = timedOut ? "timed out" : `failed: ${(error instanceof Error ? error.message : String(error)).replace(/\s+/g, " ").trim()}`;
        this.log(`implicit TLS from ${remote.address} port ${String(remote.port)}: handshake ${why}; closed without a reply`);
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
    for (const pending of this.handshaking) pending.destroy();
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
      this.log(`draining: running transfers may finish within ${String(Math.round(drainMs / 1000))} s`);
      for (const { session } of this.sessions.values()) session.post({ type: "drain", now: this.platform.clock.now() });
      timers.push(this.platform.clock.after(drainMs, stopAll));
    });
    await Promise.all([stopped, drained]);
    for (const t of timers) t.cancel();
  }

  private log(line: string): void {
    this.options.log?.(line);
  }

  private passiveAddress(remote: Endpoint): string | null {
    const pub = this.options.publicAddress;
    if (pub === undefined) return null;
    return typeof pub === "string" ? pub : pub(remote);
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

  private accept(socket: ByteSocket, implicitTls: boolean, admission: Door, tlsScope: TlsScope | null = null): void {
    const id = this.nextId++;
    const remote = this.remoteOf(socket);
    if (!admission.admitted && admission.reason === "banned") this.log(sessionLine(id, remote, "refused: the address is banned"));
    const passive = { range: this.ports, claim: () => this.passive.claim(remote.address) };
    const handshake = this.options.tlsHandshakeTimeoutMs;
    const io = new PlatformSessionIo(this.platform, socket, passive, () => {
      if (admission.admitted) admission.release();
      this.sessions.delete(id);
      this.emit("session-close", { id, remote });
      if (this.sessions.size === 0 && this.drained !== null) {
        this.drained();
        this.drained = null;
      }
    }, {
      ...(handshake === undefined ? {} : { tlsHandshakeMs: handshake }),
      tlsScope,
      onReuseRefused: () => {
        this.reuseRefused++;
        this.log(sessionLine(id, remote, "data connection refused: its TLS session is not the control connection's (no resumption)"));
      },
    });
    const stepped = this.instrument.stepped;
    const session = new Session({
      config: this.config,
      open: { local: socket.local, remote: socket.remote, implicitTls, passiveAddress: this.passiveAddress(remote), refuse: admission.admitted ? null : { reason: admission.reason } },
      io,
      auth: this.auth,
      ...(this.instrument.reducer === undefined ? {} : { reducer: this.instrument.reducer }),
      hooks: {
        notice: (notice) => this.notice(id, remote, notice),
        log: (level, message) => {
          if (level !== "debug") this.log(sessionLine(id, remote, message));
        },
        ...(stepped === undefined ? {} : { stepped: (event: SessionEvent, state: SessionState, actions: readonly Action[]) => stepped(id, event, state, actions) }),
      },
    });
    io.session = session;
    this.sessions.set(id, { session, io });
    this.instrument.opened?.(id, { session, io });
    this.emit("session-open", { id, remote });
    session.start();
    io.start();
  }

  private banFailure(remote: Endpoint): void {
    const ban = this.bans?.failed(remote.address, this.platform.clock.now()) ?? null;
    if (ban === null) return;
    const seconds = Math.round((ban.until - this.platform.clock.now()) / 1000);
    this.log(`ban ${ban.address} for ${String(seconds)} s after ${String(ban.failures)} failed logins`);
    this.emit("ban", ban);
  }

  private notice(id: number, remote: Endpoint, notice: SessionNotice): void {
    switch (notice.kind) {
      case "login":
        this.emit("login", { id, user: notice.user, anonymous: notice.anonymous });
        return;
      case "login-failed":
        this.log(sessionLine(id, remote, `failed login for ${JSON.stringify(notice.user)}`));
        this.emit("login-failed", { id, user: notice.user, remote });
        this.banFailure(remote);
        return;
      case "transfer": {
        this.log(transferLine(notice, remote));
        const xfer = this.options.xferlog === undefined ? null : xferlogLine(notice, remote, new Date(this.platform.clock.now()));
        if (xfer !== null) this.options.xferlog?.(xfer);
        this.emit("transfer", { id, ...notice });
        return;
      }
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

function badHome(home: string): never {
  throw new Error(`the home ${home} must be a directory under the root (no "..") or an absolute path`);
}
