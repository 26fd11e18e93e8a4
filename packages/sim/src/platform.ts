// The simulated Platform: the same @pasv/driver server, sessions and data channels the runtimes run,
// on simulated sockets, listeners and time. Only bytes and timers are simulated here.
import { checkInvariants, PRESETS, RIGHTS, type Action, type Right, type CoreLimits, type CoreTimeouts, type SessionEvent, type SessionState } from "@pasv/core";
import { CONTROL_CLOSE_GRACE_MS, FtpServer, ListenError, SocketRelay, type BanOptions, type ByteSocket, type Clock, type Listener, type Platform, type PlatformSessionIo, type PortRange, type Reducer, type ServerOptions, type Session, type SocketEvents, type TlsUpgrader } from "@pasv/driver";
import { SOCKET_BUFFER_BYTES, type Counters, type Endpoint, type Network } from "./net.js";
import { SimTlsUpgrader } from "./tls.js";
import { DiskVfs, unstablePath } from "./disk.js";
import type { SimFs } from "./memfs.js";

/** A simulated connection end as a ByteSocket. */
class SimSocket implements ByteSocket {
  private readonly relay = new SocketRelay();

  constructor(private readonly endpoint: Endpoint, private readonly net: Network) {
    endpoint.pause();
    endpoint.handlers = {
      data: (bytes) => this.relay.data(bytes),
      end: () => {
        this.relay.end();
        this.closeIfDone();
      },
      reset: () => {
        this.relay.error("connection reset");
        this.relay.close();
      },
      drain: () => this.relay.drain(),
    };
  }

  get local(): { address: string; port: number } {
    return this.endpoint.local;
  }

  get remote(): { address: string; port: number } {
    return this.endpoint.remote;
  }

  attach(events: SocketEvents): void {
    this.relay.attach(events);
  }

  pause(): void {
    this.endpoint.pause();
  }

  resume(): void {
    this.endpoint.resume();
  }

  /** What a kernel would hold beyond its socket buffer: the part a real write() would queue. */
  get buffered(): number {
    return Math.max(0, this.endpoint.unacknowledged - SOCKET_BUFFER_BYTES);
  }

  write(bytes: Uint8Array, flushed?: () => void): void {
    if (this.endpoint.closed || this.endpoint.sentFinished) return;
    this.endpoint.write(bytes);
    // The endpoint copied the bytes: they are the "kernel's" now.
    if (flushed !== undefined) this.net.world.after(0, flushed);
  }

  end(): void {
    if (this.endpoint.closed || this.endpoint.sentFinished) return;
    this.endpoint.end();
    this.net.world.after(0, () => {
      if (this.endpoint.closed) return;
      this.relay.finished();
      this.closeIfDone();
    });
  }

  destroy(): void {
    if (this.relay.isClosed) return;
    // After our FIN a kernel still delivers what is in flight; before it, close() means a reset, and
    // so does unread input (Linux answers close() with unread data by RST). A peer that stopped
    // reading gets the reset a kernel sends once it gives up on the orphan.
    if (this.endpoint.sentFinished && this.endpoint.unacknowledged === 0 && !this.endpoint.hasUnread) this.endpoint.close();
    else this.endpoint.reset();
    this.net.world.after(0, () => this.relay.close());
  }

  private closeIfDone(): void {
    if (this.endpoint.finished) this.relay.close();
  }
}

/** The latest a simulated platform timer fires (the largest `timerLate` a scenario draws). */
export const MAX_TIMER_LATE_MS = 50;

/** The simulated platform of one server address. */
export function simPlatform(net: Network, address: string, fs: SimFs, tls: TlsUpgrader | null = null): Platform {
  const clock: Clock = {
    now: () => net.world.now,
    // A platform timer may fire early (Node's setTimeout can) or late (a busy loop).
    after: (delay, fn) => net.world.schedule(net.world.now + delay + net.rng.int(-net.faults.timerEarly, net.faults.timerLate), fn),
  };
  return {
    clock,
    random: () => net.rng.float(),
    listen: (request, accept) => {
      if (!net.listen(request.host, request.port, (endpoint) => accept(new SimSocket(endpoint, net)))) return Promise.reject(new ListenError("in-use", `${request.host}:${request.port} in use`));
      let closed = false;
      const listener: Listener = {
        address: request.host,
        port: request.port,
        close: () => {
          if (!closed) net.unlisten(request.host, request.port);
          closed = true;
          return Promise.resolve();
        },
      };
      return Promise.resolve(listener);
    },
    connect: (request) =>
      new Promise((resolve, reject) => {
        net.connect(address, { address: request.host, port: request.port }, (endpoint) => {
          if (endpoint === null) reject(new Error("connection refused"));
          else resolve(new SimSocket(endpoint, net));
        });
      }),
    tls,
    localFs: () => fs,
    cwd: () => "/",
  };
}

export interface SimServerConfig {
  readonly passivePorts: PortRange;
  readonly limits?: Partial<CoreLimits>;
  readonly timeouts?: Partial<CoreTimeouts>;
  readonly maxSessions?: number;
  readonly maxSessionsPerIp?: number;
  /** The named user "sim"'s rights (default: every right). */
  readonly rights?: readonly Right[];
  /** Bans per address (default: the server's); false: none. */
  readonly bans?: Partial<BanOptions> | false;
  /** Bandwidth limits per session, bytes per second (default: none): the driver's pacer on the virtual clock. */
  readonly maxRateDown?: number;
  readonly maxRateUp?: number;
  /** Passive listeners one client address may hold at once (default: the driver's, a share of the range). */
  readonly maxPassivePerIp?: number;
  /** FTPS on the simulated TLS (absent: no AUTH TLS). */
  readonly tls?: { readonly required: boolean; readonly reuseCheck: boolean };
  /** The TLS handshake deadline (control and data). */
  readonly tlsHandshakeMs?: number;
}

/** The key and certificate the simulated TLS is made with (its "PEM" is never parsed). */
export const SIM_CREDENTIALS = { key: "sim-key", cert: "sim-cert" } as const;

export interface SimServerOptions {
  readonly address: string;
  readonly port: number;
  readonly server: SimServerConfig;
  readonly fs: SimFs;
  readonly reducer?: Reducer;
  /** A broken invariant or a leaked channel; the run records it instead of throwing into a promise. */
  readonly onViolation?: (oracle: string, detail: string) => void;
  /** Every step of every session (the run's trace and counters hook in here). */
  readonly onStep?: (session: number, event: SessionEvent, actions: readonly Action[]) => void;
  /** Where the simulated TLS counts its handshakes (with `server.tls`). */
  readonly counters?: Counters;
  /** Changes what the driver is given while the oracles keep judging by `server` (tests plant a
   * deadline or a cap the driver does not keep this way). */
  readonly plant?: (options: ServerOptions) => ServerOptions;
}

export interface SimSession {
  readonly id: number;
  readonly session: Session;
  readonly io: PlatformSessionIo;
}

/** The driver's FtpServer on the simulated platform, with the oracles that watch its sessions. */
export class SimServer {
  readonly sessions: SimSession[] = [];
  /** The same, by id (a guesser's seed opens hundreds, and every step looks one up). */
  private readonly byId = new Map<number, SimSession>();
  readonly server: FtpServer;
  /** Sessions admitted (greeted with 220) and not yet closed, by client address. */
  private readonly admitted = new Map<number, string>();

  constructor(net: Network, private readonly options: SimServerOptions) {
    const violation = (oracle: string, detail: string): void => options.onViolation?.(oracle, detail);
    const last = new Map<number, SessionState>();
    this.server = new FtpServer(
      simPlatform(net, options.address, options.fs, options.server.tls === undefined || options.counters === undefined ? null : new SimTlsUpgrader(options.counters)),
      this.serverOptions(options.server),
      {
        ...(options.reducer === undefined ? {} : { reducer: options.reducer }),
        opened: (id, handle) => {
          const entry = { id, ...handle };
          this.sessions.push(entry);
          this.byId.set(id, entry);
        },
        stepped: (id, event, state, actions) => {
          options.counters?.bump("check: invariants and no exceptions");
          try {
            checkInvariants(state);
          } catch (error) {
            violation("invariants and no exceptions", `session ${id}: ${String(error)}`);
          }
          this.checkHeld(id, event, last.get(id));
          this.checkRights(id, last.get(id), state, actions);
          if (event.type === "shutdown") this.checkShutdown(id, last.get(id), actions);
          if (actions.some((a) => a.type === "control.tls")) this.watchHandshake(net, id, last);
          last.set(id, state);
          if (event.type === "open") this.checkAdmission(id, state, actions);
          options.onStep?.(id, event, actions);
        },
      },
    );
    this.server.on("session-close", ({ id }) => {
      this.admitted.delete(id);
      last.delete(id);
    });
  }

  listen(): Promise<{ address: string; port: number }> {
    return this.server.listen(this.options.port, this.options.address);
  }

  /** The driver's reload with other timeouts and bandwidth limits (the caps and rights the oracles
   * check stay as they were): new sessions get them, running ones keep theirs. */
  reload(change: Pick<SimServerConfig, "timeouts" | "maxRateDown" | "maxRateUp">): Promise<unknown> {
    return this.server.reload(this.serverOptions({ ...this.options.server, ...change }));
  }

  private serverOptions(config: SimServerConfig): ServerOptions {
    const options: ServerOptions = {
      vfs: this.options.fs,
      users: [{ user: "sim", password: "pw", permissions: config.rights ?? RIGHTS }],
      passivePorts: config.passivePorts,
      core: { limits: config.limits ?? {}, timeouts: config.timeouts ?? {} },
      ...(config.maxSessions === undefined ? {} : { maxSessions: config.maxSessions }),
      ...(config.maxSessionsPerIp === undefined ? {} : { maxSessionsPerIp: config.maxSessionsPerIp }),
      ...(config.bans === undefined ? {} : { bans: config.bans }),
      ...(config.maxRateDown === undefined ? {} : { maxRateDown: config.maxRateDown }),
      ...(config.maxRateUp === undefined ? {} : { maxRateUp: config.maxRateUp }),
      ...(config.maxPassivePerIp === undefined ? {} : { maxPassivePerIp: config.maxPassivePerIp }),
      ...(config.tls === undefined ? {} : { tls: { ...config.tls, ...SIM_CREDENTIALS } }),
      ...(config.tlsHandshakeMs === undefined ? {} : { tlsHandshakeTimeoutMs: config.tlsHandshakeMs }),
    };
    return this.options.plant?.(options) ?? options;
  }

  /** Every action of the previous step has run by now: the platform holds only the core's channel. */
  private checkHeld(id: number, event: SessionEvent, previous: SessionState | undefined): void {
    if (previous === undefined) return;
    const entry = this.byId.get(id);
    if (entry === undefined) return;
    this.options.counters?.bump("check: no leaked listeners, connections or files");
    const ch = previous.channel;
    for (const held of entry.io.data.held()) {
      if (ch.kind === "none" || ch.id !== held) this.options.onViolation?.("no leaked listeners, connections or files", `session ${id}: before ${event.type} the platform still holds data channel ${held} the session no longer uses`);
    }
  }

  /**
   * Rights: no file-system change, upload or download an account may not make is ever started, and
   * a step that refuses for a missing right starts nothing at all. The rights are the configured
   * ones (the user the session logged in as), not the session state's, so a reducer that grants
   * itself more is caught.
   */
  private checkRights(id: number, previous: SessionState | undefined, state: SessionState, actions: readonly Action[]): void {
    if (actions.length === 0) return;
    const login = previous?.login.kind === "in" ? previous.login : state.login;
    if (login.kind !== "in") return;
    const granted = login.account.anonymous ? PRESETS["read-only"] : (this.options.server.rights ?? RIGHTS);
    // Where an attacker swaps entries, whether a file existed when the core looked is unknowable here.
    const exists = (path: string): boolean | null => (this.options.fs.inner instanceof DiskVfs && unstablePath(path) ? null : this.options.fs.file(path) !== undefined);
    // Only a step that answered just this refusal: in a pipelined burst the next command's actions share the step.
    const refused = refusedOnly(actions);
    if (refused) this.options.counters?.bump("check: no refused operation touches the file system");
    for (const a of actions) {
      const needs = rightsFor(a, exists, granted);
      if (needs === null) continue;
      this.options.counters?.bump("check: no operation beyond the account's rights");
      const what = a.type === "fs" ? `fs ${a.fs.op}` : a.type === "transfer.start" ? `transfer ${a.spec.kind}${a.spec.kind === "receive-file" ? ` (${a.spec.mode})` : ""}` : a.type;
      if (refused) this.options.onViolation?.("no refused operation touches the file system", `session ${id}: ${what} in the step that said 550 Permission denied.`);
      const lacking = needs.filter((r) => !granted.includes(r));
      if (lacking.length > 0) this.options.onViolation?.("no operation beyond the account's rights", `session ${id} (${login.account.user}): ${what} without ${lacking.join(", ")}`);
    }
  }

  /**
   * A control handshake holds its session's slot at most until its deadline, plus the close grace
   * (a server that answers a stalled handshake with 421 may then wait for the peer's FIN that long).
   */
  private watchHandshake(net: Network, id: number, last: ReadonlyMap<number, SessionState>): void {
    const deadline = this.options.server.tlsHandshakeMs ?? 10_000;
    const bound = deadline + CONTROL_CLOSE_GRACE_MS + MAX_TIMER_LATE_MS + 1_000;
    const since = net.world.now;
    net.world.after(bound, () => {
      const entry = this.sessions.find((s) => s.id === id);
      this.options.counters?.bump("check: a stalled TLS handshake frees its slot");
      if (entry !== undefined && !entry.io.closed && last.get(id)?.tls === "handshaking") this.options.onViolation?.("a stalled TLS handshake frees its slot", `session ${id}: still handshaking ${net.world.now - since} ms after AUTH (deadline ${deadline} ms)`);
    });
  }

  /** Shutdown: a session not already closing says 421 and closes. */
  private checkShutdown(id: number, previous: SessionState | undefined, actions: readonly Action[]): void {
    if (previous?.phase === "closed") return;
    this.options.counters?.bump("check: shutdown sends 421 and closes");
    // A session in its AUTH TLS handshake is dropped without a reply (SPEC 6.1).
    const said421 = previous?.tls === "handshaking" || actions.some((a) => a.type === "control.write" && DECODER.decode(a.bytes).startsWith("421"));
    const closes = actions.some((a) => a.type === "control.close");
    if (!said421 || !closes) this.options.onViolation?.("shutdown sends 421 and closes", `session ${id}: shutdown produced ${actions.map((a) => a.type).join(",") || "nothing"}`);
  }

  /** Session caps: a greeting goes only to sessions within both limits; the rest get 421. */
  private checkAdmission(id: number, state: SessionState, actions: readonly Action[]): void {
    const greeted = actions.some((a) => a.type === "control.write" && DECODER.decode(a.bytes).startsWith("220"));
    if (!greeted) return;
    this.options.counters?.bump("check: session caps hold");
    const address = state.remote.address;
    this.admitted.set(id, address);
    const max = this.options.server.maxSessions;
    const perIp = this.options.server.maxSessionsPerIp;
    const here = [...this.admitted.values()].filter((a) => a === address).length;
    if (max !== undefined && this.admitted.size > max) this.options.onViolation?.("session caps hold", `session ${id}: ${this.admitted.size} sessions admitted, cap ${max}`);
    if (perIp !== undefined && here > perIp) this.options.onViolation?.("session caps hold", `session ${id}: ${here} sessions admitted from ${address}, cap ${perIp}`);
  }
}

const DECODER = new TextDecoder();

const REFUSAL = "550 Permission denied.\r\n";

/** Whether the step's only reply line is the refusal for a missing right (decoded only when the
 * length says it may be: most steps are not). */
function refusedOnly(actions: readonly Action[]): boolean {
  let length = 0;
  for (const a of actions) if (a.type === "control.write") length += a.bytes.length;
  if (length !== REFUSAL.length) return false;
  const written = actions.flatMap((a) => (a.type === "control.write" ? DECODER.decode(a.bytes).split("\r\n").filter((l) => l !== "") : []));
  return written.length === 1 && written[0] === "550 Permission denied.";
}

/** The rights an action needs (null: it changes and reveals no file's content). */
function rightsFor(a: Action, exists: (path: string) => boolean | null, granted: readonly Right[]): readonly Right[] | null {
  // Unknown existence: the right the account has of the two, if any.
  const either = (path: string, ifNew: Right, ifOld: Right): Right => {
    const e = exists(path);
    return e === null ? (granted.includes(ifNew) ? ifNew : ifOld) : e ? ifOld : ifNew;
  };
  if (a.type === "fs") {
    switch (a.fs.op) {
      case "stat":
      case "list":
        return null;
      case "mkdir":
        return ["mkdir"];
      case "rmdir":
        return ["rmdir"];
      case "delete":
        return ["delete"];
      case "rename":
        return ["rename"];
      case "setMtime":
        return ["set-mtime"];
    }
  }
  if (a.type !== "transfer.start") return null;
  const spec = a.spec;
  switch (spec.kind) {
    case "send-bytes":
    case "send-listing":
      return null;
    case "send-file":
      return ["read"];
    case "receive-file":
      switch (spec.mode) {
        case "truncate":
          return [either(spec.path, "create", "overwrite")];
        case "append":
          return [either(spec.path, "create", "append")];
        case "at-offset":
          return ["append", "overwrite"];
        case "create-new":
          return ["create"];
      }
  }
}
