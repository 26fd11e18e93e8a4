// The simulated SessionIo: the same @pasv/driver Session and @pasv/core reducer the Node adapter
// runs, on simulated sockets, files and time.
import { checkInvariants, makeConfig, type CoreConfig, type Family, type Millis, type SessionState } from "@pasv/core";
import { DataStreamError, Session, coreReducer, type AuthProvider, type ControlIo, type DataIo, type DataStream, type PortRange, type Reducer, type SessionIo } from "@pasv/driver";
import type { Endpoint, Network } from "./net.js";
import type { SimFs } from "./memfs.js";

interface Channel {
  port: number | null;
  pending: Map<number, Endpoint>;
  socket: Endpoint | null;
  inUse: boolean;
}

/** One simulated server session; exposes what the leak oracle needs to see after it ends. */
export class SimSessionIo implements SessionIo {
  session!: Session;
  readonly control: ControlIo;
  readonly data: DataIo;
  readonly channels = new Map<number, Channel>();
  private timer: { cancel(): void } | null = null;
  timerArmed = false;
  private nextTag = 1;
  ended = false;
  controlCloseRequested = false;

  constructor(private readonly net: Network, readonly endpoint: Endpoint, private readonly serverAddress: string) {
    endpoint.handlers = {
      data: (bytes) => this.post({ type: "control.data", now: this.now(), bytes }),
      end: () => {
        this.post({ type: "control.eof", now: this.now() });
        this.maybeClosed();
      },
      reset: () => {
        this.post({ type: "control.error", now: this.now(), message: "reset" });
        this.finish();
      },
      drain: () => this.session.controlDrained(),
    };
    this.control = {
      local: endpoint.local,
      remote: endpoint.remote,
      write: (bytes) => endpoint.write(bytes),
      close: () => {
        this.controlCloseRequested = true;
        endpoint.end();
        this.maybeClosed();
      },
      pauseReading: () => endpoint.pause(),
      resumeReading: () => endpoint.resume(),
      startTls: () => this.post({ type: "tls.failed", now: this.now(), message: "no TLS in the simulator" }),
    };
    this.data = {
      listen: (channel, family, ports) => this.listen(channel, family, ports),
      adopt: (channel, tag) => {
        const ch = this.channels.get(channel);
        const socket = ch?.pending.get(tag);
        if (ch === undefined || socket === undefined) return;
        ch.pending.delete(tag);
        ch.socket = socket;
        if (ch.port !== null) this.net.unlisten(this.serverAddress, ch.port);
        ch.port = null;
        socket.handlers = {
          end: () => {
            if (!ch.inUse && this.channels.get(channel) === ch) this.post({ type: "data.closed", now: this.now(), channel });
          },
          reset: () => {
            if (!ch.inUse && this.channels.get(channel) === ch) this.post({ type: "data.closed", now: this.now(), channel });
          },
        };
      },
      reject: (channel, tag) => {
        const ch = this.channels.get(channel);
        ch?.pending.get(tag)?.reset();
        ch?.pending.delete(tag);
      },
      connect: (channel, address, port) => {
        const ch: Channel = { port: null, pending: new Map(), socket: null, inUse: false };
        this.channels.set(channel, ch);
        this.net.connect(this.serverAddress, { address, port }, (endpoint) => {
          if (this.channels.get(channel) !== ch) {
            endpoint?.reset();
            return;
          }
          if (endpoint === null) {
            this.post({ type: "data.connect-failed", now: this.now(), channel, message: "refused" });
            return;
          }
          ch.socket = endpoint;
          this.post({ type: "data.connected", now: this.now(), channel });
        });
      },
      close: (channel) => this.closeChannel(channel),
      open: (channel, _tls, stallTimeout) => this.open(channel, stallTimeout),
    };
  }

  now(): Millis {
    return this.net.world.now;
  }

  setTimer(at: Millis | null): void {
    this.timer?.cancel();
    this.timer = null;
    this.timerArmed = at !== null;
    if (at === null) return;
    const skew = this.net.rng.int(-this.net.faults.timerEarly, this.net.faults.timerLate);
    this.timer = this.net.world.schedule(at + skew, () => {
      this.timer = null;
      this.timerArmed = false;
      this.post({ type: "timer", now: this.now() });
    });
  }

  /** Reports a channel the adapter still holds although the core has let go of it. */
  onLeak: (detail: string) => void = () => undefined;

  private post(event: Parameters<Session["post"]>[0]): void {
    if (this.ended) return;
    this.session.post(event);
    // (post() may have ended the session through the adapter's callbacks.)
    if (this.session.closed) return;
    const ch = this.session.current.channel;
    for (const id of this.channels.keys()) {
      if (ch.kind === "none" || ch.id !== id) this.onLeak(`after ${event.type} the adapter still holds data channel ${id} the session no longer uses`);
    }
  }

  private maybeClosed(): void {
    if (this.endpoint.finished || (this.controlCloseRequested && this.endpoint.closed)) this.finish();
    else if (this.controlCloseRequested) {
      // A peer that never reads or closes cannot pin the session: like the Node adapter's grace timer.
      this.net.world.after(10_000, () => {
        this.endpoint.reset();
        this.finish();
      });
    }
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.session.controlClosed();
    for (const id of [...this.channels.keys()]) this.closeChannel(id);
    this.setTimer(null);
  }

  private listen(channel: number, _family: Family, ports: PortRange): void {
    const ch: Channel = { port: null, pending: new Map(), socket: null, inUse: false };
    this.channels.set(channel, ch);
    for (let attempt = 0; attempt < 32; attempt++) {
      const port = this.net.rng.int(ports.min, ports.max);
      const ok = this.net.listen(this.serverAddress, port, (endpoint) => {
        if (this.channels.get(channel) !== ch || ch.socket !== null) {
          endpoint.reset();
          return;
        }
        const tag = this.nextTag++;
        ch.pending.set(tag, endpoint);
        this.post({ type: "data.accepted", now: this.now(), channel, socket: tag, remote: endpoint.remote });
      });
      if (!ok) continue;
      ch.port = port;
      this.net.world.after(0, () => this.post({ type: "data.listening", now: this.now(), channel, port }));
      return;
    }
    this.channels.delete(channel);
    this.net.world.after(0, () => this.post({ type: "data.listen-failed", now: this.now(), channel, message: "no free port" }));
  }

  private closeChannel(channel: number): void {
    const ch = this.channels.get(channel);
    if (ch === undefined) return;
    this.channels.delete(channel);
    if (ch.port !== null) this.net.unlisten(this.serverAddress, ch.port);
    for (const e of ch.pending.values()) e.reset();
    // After a completed transfer our FIN is out: close gracefully, as a kernel would; otherwise abort.
    if (ch.socket !== null) {
      if (ch.socket.sentFinished) ch.socket.close();
      else ch.socket.reset();
    }
  }

  private open(channel: number, stallTimeout: number): Promise<DataStream> {
    const ch = this.channels.get(channel);
    const socket = ch?.socket ?? null;
    if (ch === undefined || socket === null || socket.closed) return Promise.reject(new DataStreamError("reset", "no data connection"));
    ch.inUse = true;
    return Promise.resolve(new SimDataStream(socket, this.net, stallTimeout));
  }
}

/** Chunks a simulated data stream holds before it stops reading (the peer then sees backpressure). */
const MAX_QUEUED_CHUNKS = 256;

/** A simulated data socket as the driver's DataStream. */
class SimDataStream implements DataStream {
  // A queue with a moving head: shift() on a long array would make one-byte chunks quadratic.
  private queue: Uint8Array[] = [];
  private head = 0;
  private ended = false;
  private failure: DataStreamError | null = null;
  private wake: (() => void) | null = null;
  private stall: { cancel(): void } | null = null;
  private lastActivity: number;

  constructor(private readonly socket: Endpoint, private readonly net: Network, private readonly stallTimeout: number) {
    socket.handlers = {
      data: (bytes) => {
        this.queue.push(bytes);
        if (this.queue.length - this.head >= MAX_QUEUED_CHUNKS) socket.pause();
        this.poke();
      },
      end: () => {
        this.ended = true;
        this.poke();
      },
      reset: () => {
        this.failure = new DataStreamError("reset");
        this.poke();
      },
      drain: () => this.poke(),
    };
    this.lastActivity = net.world.now;
    this.arm(net.world.now + stallTimeout);
  }

  /** One stall timer at a time: activity only moves lastActivity, and the timer re-arms itself. */
  private arm(at: number): void {
    this.stall = this.net.world.schedule(at, () => {
      const due = this.lastActivity + this.stallTimeout;
      if (this.net.world.now < due) {
        this.arm(due);
        return;
      }
      this.stall = null;
      this.failure ??= new DataStreamError("stall");
      this.socket.reset();
      this.poke();
    });
  }

  private poke(): void {
    this.lastActivity = this.net.world.now;
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private take(): Uint8Array | undefined {
    if (this.head >= this.queue.length) return undefined;
    const chunk = this.queue[this.head++];
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
      this.socket.resume();
    }
    return chunk;
  }

  private wait(): Promise<void> {
    return new Promise((r) => (this.wake = r));
  }

  private failed(): DataStreamError | null {
    return this.failure;
  }

  async *chunks(): AsyncIterable<Uint8Array> {
    for (;;) {
      const chunk = this.take();
      if (chunk !== undefined) {
        yield chunk;
        continue;
      }
      const f = this.failed();
      if (f !== null) throw f;
      if (this.ended) return;
      await this.wait();
    }
  }

  async write(chunk: Uint8Array): Promise<void> {
    const f = this.failed();
    if (f !== null) throw f;
    if (!this.socket.write(chunk)) {
      await this.wait();
      const g = this.failed();
      if (g !== null) throw g;
    }
  }

  end(): Promise<void> {
    this.stall?.cancel();
    const f = this.failed();
    if (f !== null) return Promise.reject(f);
    this.socket.end();
    return Promise.resolve();
  }

  destroy(): void {
    this.stall?.cancel();
    this.socket.reset();
  }
}

export interface SimServerOptions {
  readonly address: string;
  readonly port: number;
  readonly config?: CoreConfig;
  readonly fs: SimFs;
  readonly reducer?: Reducer;
  /** Called after every step of every session with its new state (the oracles hook in here). */
  readonly onStep?: (session: number, state: SessionState) => void;
  /** A broken invariant or a leaked channel; the run records it instead of throwing into a promise. */
  readonly onViolation?: (oracle: string, detail: string) => void;
}

/** Accepts control connections and runs one driver Session for each. */
export class SimServer {
  readonly sessions: SimSessionIo[] = [];

  constructor(net: Network, options: SimServerOptions) {
    const auth: AuthProvider = {
      authenticate: ({ user, password }) =>
        new Promise((resolve) => {
          net.world.after(1, () => {
            const lower = user.toLowerCase();
            if (lower === "anonymous" || lower === "ftp") resolve({ account: { user: "anonymous", anonymous: true, write: false }, vfs: options.fs });
            else if (user === "sim" && password === "pw") resolve({ account: { user, anonymous: false, write: true }, vfs: options.fs });
            else resolve(null);
          });
        }),
    };
    net.listen(options.address, options.port, (endpoint) => {
      const id = this.sessions.length;
      const io = new SimSessionIo(net, endpoint, options.address);
      io.onLeak = (detail) => options.onViolation?.("no leaked listeners, connections or files", `session ${id}: ${detail}`);
      this.sessions.push(io);
      const reducer = options.reducer ?? coreReducer;
      io.session = new Session({
        config: options.config ?? makeConfig(),
        open: { local: endpoint.local, remote: endpoint.remote, implicitTls: false, passiveAddress: null, refuse: null },
        io,
        auth,
        reducer,
        hooks: {
          stepped: (_event, state) => {
            try {
              checkInvariants(state);
            } catch (error) {
              options.onViolation?.("invariants and no exceptions", `session ${id}: ${String(error)}`);
            }
            options.onStep?.(id, state);
          },
        },
      });
      io.session.start();
    });
  }
}
