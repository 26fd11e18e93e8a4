// The embedding API: createServer(options) -> listen, close, typed events.
import { EventEmitter } from "node:events";
import net, { type Server, type Socket } from "node:net";
import tls, { type SecureContext } from "node:tls";
import { makeConfig, normalizeIp, type CoreLimits, type CoreTimeouts, type SessionNotice } from "@pasv/core";
import { Session, SessionCounter, type AuthProvider, type Vfs } from "@pasv/driver";
import { LocalFs } from "./local-fs.js";
import { NodeSessionIo } from "./node-io.js";

export interface UserSpec {
  readonly user: string;
  readonly password: string;
  /** The user's own root (default: the server's). */
  readonly root?: string;
  /** May upload, make and remove directories, delete, rename (default: the server's `write`). */
  readonly write?: boolean;
}

export interface ServerOptions {
  /** Served directory (default: the current directory). */
  readonly root?: string;
  /** Any file system instead of `root` (e.g. a MemoryFs). */
  readonly vfs?: Vfs;
  readonly users?: readonly UserSpec[];
  /** Replaces users/anonymous entirely. */
  readonly auth?: AuthProvider;
  /** Anonymous ("anonymous"/"ftp", any password) read-only logins; default true. */
  readonly anonymous?: boolean;
  /** Named users may write; default false. */
  readonly write?: boolean;
  readonly passivePorts?: { readonly min: number; readonly max: number };
  /** The address put in 227 replies: fixed, or chosen per client (NAT, containers). */
  readonly publicAddress?: string | ((client: { address: string; port: number }) => string | null);
  readonly idleTimeoutMs?: number;
  readonly maxSessions?: number;
  readonly maxSessionsPerIp?: number;
  /**
   * Enables AUTH TLS (explicit FTPS). With `required`, named users must protect the control
   * connection before USER and their data with PROT P (vsftpd's force_local_logins_ssl and
   * force_local_data_ssl); anonymous sessions may stay in plaintext.
   */
  readonly tls?: { readonly key: string | Buffer; readonly cert: string | Buffer; readonly required?: boolean };
  readonly core?: { readonly limits?: Partial<CoreLimits>; readonly timeouts?: Partial<CoreTimeouts> };
  /** One line per transfer and notable event. */
  readonly log?: (line: string) => void;
}

type Remote = { address: string; port: number };

export interface ServerEvents {
  "session-open": { id: number; remote: Remote };
  "session-close": { id: number; remote: Remote };
  login: { id: number; user: string; anonymous: boolean };
  "login-failed": { id: number; user: string; remote: Remote };
  transfer: { id: number } & Extract<SessionNotice, { kind: "transfer" }>;
}

export interface FtpServer {
  listen(port?: number, host?: string): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
  on<K extends keyof ServerEvents>(event: K, listener: (e: ServerEvents[K]) => void): this;
  off<K extends keyof ServerEvents>(event: K, listener: (e: ServerEvents[K]) => void): this;
  readonly sessionCount: number;
}

/** Control connections waiting in the kernel: FTP's server speaks first, so a dropped SYN is a client hung forever. */
export const LISTEN_BACKLOG = 1024;
/** How long close() lets sessions finish after their 421 before destroying them. */
export const CLOSE_GRACE_MS = 5_000;

export function defaultAuth(options: ServerOptions, vfsFor: (root: string | undefined) => Vfs): AuthProvider {
  const users = new Map((options.users ?? []).map((u) => [u.user, u]));
  const anonymous = options.anonymous ?? true;
  return {
    authenticate: ({ user, password }) => {
      const lower = user.toLowerCase();
      if (lower === "anonymous" || lower === "ftp") {
        return Promise.resolve(anonymous ? { account: { user: "anonymous", anonymous: true, write: false }, vfs: vfsFor(undefined) } : null);
      }
      const spec = users.get(user);
      if (spec === undefined || !constantTimeEqual(spec.password, password)) return Promise.resolve(null);
      return Promise.resolve({ account: { user, anonymous: false, write: spec.write ?? options.write ?? false }, vfs: vfsFor(spec.root) });
    },
  };
}

function constantTimeEqual(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) diff |= (a.charCodeAt(i) || 0) ^ (b.charCodeAt(i) || 0);
  return diff === 0;
}

class NodeFtpServer extends EventEmitter implements FtpServer {
  private readonly server: Server;
  private readonly sessions = new Map<number, { session: Session; io: NodeSessionIo; socket: Socket }>();
  private readonly counter: SessionCounter;
  private readonly secureContext: SecureContext | null;
  private readonly auth: AuthProvider;
  private readonly config;
  private nextId = 1;
  private closing = false;

  constructor(private readonly options: ServerOptions) {
    super();
    const fsCache = new Map<string, Vfs>();
    const vfsFor = (root: string | undefined): Vfs => {
      if (root === undefined && options.vfs !== undefined) return options.vfs;
      const dir = root ?? options.root ?? process.cwd();
      let vfs = fsCache.get(dir);
      if (vfs === undefined) {
        vfs = new LocalFs(dir);
        fsCache.set(dir, vfs);
      }
      return vfs;
    };
    this.auth = options.auth ?? defaultAuth(options, vfsFor);
    this.secureContext = options.tls === undefined ? null : tls.createSecureContext({ key: options.tls.key, cert: options.tls.cert });
    this.counter = new SessionCounter({ maxSessions: options.maxSessions ?? 512, maxSessionsPerIp: options.maxSessionsPerIp ?? 64 });
    this.config = makeConfig({
      anonymous: options.anonymous ?? true,
      tls: this.secureContext !== null,
      requireTlsForLogin: options.tls?.required === true,
      requireTlsForData: options.tls?.required === true,
      ...(options.passivePorts === undefined ? {} : { passivePorts: options.passivePorts }),
      limits: options.core?.limits ?? {},
      timeouts: { ...(options.idleTimeoutMs === undefined ? {} : { idle: options.idleTimeoutMs }), ...options.core?.timeouts },
    });
    this.server = net.createServer({ noDelay: true }, (socket) => this.accept(socket));
    this.server.on("error", (error) => this.log(`server error: ${error.message}`));
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  private log(line: string): void {
    this.options.log?.(line);
  }

  private passiveAddress(remote: Remote): string | null {
    const pub = this.options.publicAddress;
    if (pub === undefined) return null;
    return typeof pub === "string" ? pub : pub(remote);
  }

  private accept(socket: Socket): void {
    socket.on("error", () => undefined);
    if (socket.remoteAddress === undefined) {
      socket.destroy();
      return;
    }
    const id = this.nextId++;
    const remote = { address: normalizeIp(socket.remoteAddress)?.address ?? socket.remoteAddress, port: socket.remotePort ?? 0 };
    const admission = this.closing ? ({ admitted: false, reason: "shutting-down" } as const) : this.counter.admit(remote.address);
    const io = new NodeSessionIo({
      socket,
      secureContext: this.secureContext,
      onClosed: () => {
        if (admission.admitted) admission.release();
        this.sessions.delete(id);
        this.emit("session-close", { id, remote });
        if (this.sessions.size === 0) this.emit("drained");
      },
    });
    const session = new Session({
      config: this.config,
      open: {
        local: io.localEndpoint,
        remote: io.remoteEndpoint,
        implicitTls: false,
        passiveAddress: this.passiveAddress(remote),
        refuse: admission.admitted ? null : { reason: admission.reason },
      },
      io,
      auth: this.auth,
      hooks: {
        notice: (notice) => this.notice(id, remote, notice),
        log: (level, message) => {
          if (level !== "debug") this.log(`session ${id} ${remote.address}: ${message}`);
        },
      },
    });
    io.session = session;
    this.sessions.set(id, { session, io, socket });
    this.emit("session-open", { id, remote });
    io.attach();
    session.start();
  }

  private notice(id: number, remote: Remote, notice: SessionNotice): void {
    switch (notice.kind) {
      case "login":
        this.emit("login", { id, user: notice.user, anonymous: notice.anonymous });
        return;
      case "login-failed":
        this.log(`session ${id} ${remote.address}: failed login for ${JSON.stringify(notice.user)}`);
        this.emit("login-failed", { id, user: notice.user, remote });
        return;
      case "transfer": {
        const seconds = notice.durationMs / 1000;
        const rate = seconds > 0 ? `${(notice.bytes / seconds / 1048576).toFixed(2)} MiB/s` : "-";
        this.log(
          `transfer ${notice.outcome} user=${notice.user || "-"} ip=${remote.address} ${notice.command} ${JSON.stringify(notice.path)} bytes=${notice.bytes} duration=${notice.durationMs}ms rate=${rate} code=${notice.code}`,
        );
        this.emit("transfer", { id, ...notice });
        return;
      }
    }
  }

  listen(port = 2121, host = "127.0.0.1"): Promise<{ address: string; port: number }> {
    return new Promise((resolve, reject) => {
      const fail = (error: Error): void => reject(error);
      this.server.once("error", fail);
      this.server.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
        this.server.off("error", fail);
        const address = this.server.address();
        if (address === null || typeof address === "string") reject(new Error("no address"));
        else resolve({ address: address.address, port: address.port });
      });
    });
  }

  close(): Promise<void> {
    this.closing = true;
    const stopped = new Promise<void>((resolve) => {
      this.server.close(() => resolve());
    });
    const drained = new Promise<void>((resolve) => {
      if (this.sessions.size === 0) {
        resolve();
        return;
      }
      this.once("drained", () => resolve());
      for (const { session } of this.sessions.values()) session.post({ type: "shutdown", now: Date.now() });
      setTimeout(() => {
        for (const { socket } of this.sessions.values()) socket.destroy();
      }, CLOSE_GRACE_MS).unref();
    });
    return Promise.all([stopped, drained]).then(() => undefined);
  }
}

export function createServer(options: ServerOptions = {}): FtpServer {
  return new NodeFtpServer(options);
}
