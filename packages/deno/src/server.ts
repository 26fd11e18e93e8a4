// The embedding API on Deno: createServer with the same options and events as @pasv/node where the
// runtime allows (no `tls` option: see deno-io.ts).
import { makeConfig, normalizeIp, type CoreLimits, type CoreTimeouts, type SessionNotice } from "@pasv/core";
import { Session, SessionCounter, type AuthProvider, type Vfs } from "@pasv/driver";
import { DenoSessionIo } from "./deno-io.ts";
import { DenoLocalFs } from "./local-fs.ts";

export interface UserSpec {
  readonly user: string;
  readonly password: string;
  readonly root?: string;
  readonly write?: boolean;
}

export interface ServerOptions {
  readonly root?: string;
  readonly vfs?: Vfs;
  readonly users?: readonly UserSpec[];
  readonly auth?: AuthProvider;
  readonly anonymous?: boolean;
  readonly write?: boolean;
  readonly passivePorts?: { readonly min: number; readonly max: number };
  readonly publicAddress?: string | ((client: { address: string; port: number }) => string | null);
  readonly idleTimeoutMs?: number;
  readonly maxSessions?: number;
  readonly maxSessionsPerIp?: number;
  readonly core?: { readonly limits?: Partial<CoreLimits>; readonly timeouts?: Partial<CoreTimeouts> };
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

export const LISTEN_BACKLOG = 1024;
export const CLOSE_GRACE_MS = 3_000;

export class DenoFtpServer {
  private listener: Deno.Listener | null = null;
  private readonly sessions = new Map<number, { session: Session; io: DenoSessionIo }>();
  private readonly handlers = new Map<keyof ServerEvents, Set<(e: never) => void>>();
  private readonly counter: SessionCounter;
  private readonly auth: AuthProvider;
  private readonly config;
  private nextId = 1;
  private closing = false;
  private drained: (() => void) | null = null;

  constructor(private readonly options: ServerOptions) {
    const cache = new Map<string, Vfs>();
    const vfsFor = (root: string | undefined): Vfs => {
      if (root === undefined && options.vfs !== undefined) return options.vfs;
      const dir = root ?? options.root ?? Deno.cwd();
      let vfs = cache.get(dir);
      if (vfs === undefined) {
        vfs = new DenoLocalFs(dir);
        cache.set(dir, vfs);
      }
      return vfs;
    };
    const users = new Map((options.users ?? []).map((u) => [u.user, u]));
    const anonymous = options.anonymous ?? true;
    this.auth = options.auth ?? {
      authenticate: ({ user, password }) => {
        const lower = user.toLowerCase();
        if (lower === "anonymous" || lower === "ftp") return Promise.resolve(anonymous ? { account: { user: "anonymous", anonymous: true, write: false }, vfs: vfsFor(undefined) } : null);
        const spec = users.get(user);
        if (spec === undefined || spec.password !== password) return Promise.resolve(null);
        return Promise.resolve({ account: { user, anonymous: false, write: spec.write ?? options.write ?? false }, vfs: vfsFor(spec.root) });
      },
    };
    this.counter = new SessionCounter({ maxSessions: options.maxSessions ?? 512, maxSessionsPerIp: options.maxSessionsPerIp ?? 64 });
    this.config = makeConfig({
      anonymous,
      tls: false,
      ...(options.passivePorts === undefined ? {} : { passivePorts: options.passivePorts }),
      limits: options.core?.limits ?? {},
      timeouts: { ...(options.idleTimeoutMs === undefined ? {} : { idle: options.idleTimeoutMs }), ...options.core?.timeouts },
    });
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  on<K extends keyof ServerEvents>(event: K, listener: (e: ServerEvents[K]) => void): this {
    let set = this.handlers.get(event);
    if (set === undefined) {
      set = new Set();
      this.handlers.set(event, set);
    }
    set.add(listener as (e: never) => void);
    return this;
  }

  private emit<K extends keyof ServerEvents>(event: K, payload: ServerEvents[K]): void {
    for (const h of this.handlers.get(event) ?? []) (h as (e: ServerEvents[K]) => void)(payload);
  }

  listen(port = 2121, hostname = "127.0.0.1"): Promise<{ address: string; port: number }> {
    const listener = Deno.listen({ hostname, port, transport: "tcp" });
    this.listener = listener;
    void this.acceptLoop(listener);
    const addr = listener.addr as Deno.NetAddr;
    return Promise.resolve({ address: addr.hostname, port: addr.port });
  }

  private async acceptLoop(listener: Deno.Listener): Promise<void> {
    try {
      for await (const conn of listener) this.accept(conn);
    } catch {
      // closed
    }
  }

  private accept(conn: Deno.Conn): void {
    const id = this.nextId++;
    const addr = conn.remoteAddr as Deno.NetAddr;
    const remote = { address: normalizeIp(addr.hostname)?.address ?? addr.hostname, port: addr.port };
    const admission = this.closing ? ({ admitted: false, reason: "shutting-down" } as const) : this.counter.admit(remote.address);
    const io = new DenoSessionIo(conn, () => {
      if (admission.admitted) admission.release();
      this.sessions.delete(id);
      this.emit("session-close", { id, remote });
      if (this.sessions.size === 0) this.drained?.();
    });
    const pub = this.options.publicAddress;
    const session = new Session({
      config: this.config,
      open: {
        local: io.local,
        remote: io.remote,
        implicitTls: false,
        passiveAddress: pub === undefined ? null : typeof pub === "string" ? pub : pub(remote),
        refuse: admission.admitted ? null : { reason: admission.reason },
      },
      io,
      auth: this.auth,
      hooks: {
        notice: (n) => this.notice(id, remote, n),
        log: (level, message) => {
          if (level !== "debug") this.options.log?.(`session ${id} ${remote.address}: ${message}`);
        },
      },
    });
    io.session = session;
    this.sessions.set(id, { session, io });
    this.emit("session-open", { id, remote });
    session.start();
    void io.run();
  }

  private notice(id: number, remote: Remote, n: SessionNotice): void {
    switch (n.kind) {
      case "login":
        this.emit("login", { id, user: n.user, anonymous: n.anonymous });
        return;
      case "login-failed":
        this.options.log?.(`session ${id} ${remote.address}: failed login for ${JSON.stringify(n.user)}`);
        this.emit("login-failed", { id, user: n.user, remote });
        return;
      case "transfer": {
        const seconds = n.durationMs / 1000;
        const rate = seconds > 0 ? `${(n.bytes / seconds / 1048576).toFixed(2)} MiB/s` : "-";
        this.options.log?.(`transfer ${n.outcome} user=${n.user || "-"} ip=${remote.address} ${n.command} ${JSON.stringify(n.path)} bytes=${n.bytes} duration=${n.durationMs}ms rate=${rate} code=${n.code}`);
        this.emit("transfer", { id, ...n });
        return;
      }
    }
  }

  close(): Promise<void> {
    this.closing = true;
    try {
      this.listener?.close();
    } catch {
      // already closed
    }
    if (this.sessions.size === 0) return Promise.resolve();
    const done = new Promise<void>((resolve) => (this.drained = resolve));
    for (const { session } of this.sessions.values()) session.post({ type: "shutdown", now: Date.now() });
    // Sessions whose peers do not close after the 421 are cut off, as the Node server does.
    const grace = setTimeout(() => {
      for (const { io } of this.sessions.values()) io.abort();
    }, CLOSE_GRACE_MS);
    return done.then(() => clearTimeout(grace));
  }
}

export function createServer(options: ServerOptions = {}): DenoFtpServer {
  return new DenoFtpServer(options);
}
