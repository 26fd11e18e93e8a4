// Test boilerplate (not shipped API): a small deterministic Platform whose sockets, listeners,
// connects, clock and randomness the test drives by hand. No real sockets, no real timers.
import { encodeUtf8, type Endpoint, type Millis } from "@pasv/core";
import { MemoryFs, type MemoryTree } from "./memory-fs.js";
import { ListenError, type ByteSocket, type Clock, type ConnectRequest, type Listener, type ListenRequest, type Platform, type SocketEvents, type Timer, type TlsCredentials, type TlsUpgrader } from "./platform.js";
import { SocketRelay } from "./socket-relay.js";

export function bytes(text: string): Uint8Array {
  return encodeUtf8(text);
}

/** The chunks as text, one character per byte (the tests' data is ASCII). This file is compiled with
 * the driver, which has no TextDecoder in its lib. */
export function text(chunks: readonly Uint8Array[]): string {
  let out = "";
  for (const chunk of chunks) for (const byte of chunk) out += String.fromCharCode(byte);
  return out;
}

/** One end of a connection: records what the code under test does; the test emits what the peer does. */
export class FakeSocket implements ByteSocket {
  private readonly relay = new SocketRelay();
  readonly writes: Uint8Array[] = [];
  /** `flushed` callbacks not yet run (the test runs them with flush()). */
  private readonly pendingFlush: (() => void)[] = [];
  /** false: a kernel with room, which takes every write on the next microtask; true: writes stay
   * queued until the test runs flush() (a peer that does not read). */
  holdFlushes = false;
  buffered = 0;
  paused = true;
  pauses = 0;
  resumes = 0;
  endCalls = 0;
  destroyCalls = 0;
  /** destroy() reports `close` at once (a platform may). */
  closeOnDestroy = true;
  attached = 0;

  constructor(
    readonly local: Endpoint = { address: "127.0.0.1", port: 21 },
    readonly remote: Endpoint = { address: "127.0.0.1", port: 40000 },
  ) {}

  attach(events: SocketEvents): void {
    this.attached++;
    this.relay.attach(events);
  }

  pause(): void {
    this.pauses++;
    this.paused = true;
  }

  resume(): void {
    this.resumes++;
    this.paused = false;
  }

  write(chunk: Uint8Array, flushed?: () => void): void {
    this.writes.push(chunk);
    if (flushed === undefined) return;
    this.pendingFlush.push(flushed);
    if (!this.holdFlushes) void Promise.resolve().then(() => this.flush());
  }

  end(): void {
    this.endCalls++;
  }

  destroy(): void {
    this.destroyCalls++;
    if (this.closeOnDestroy) this.relay.close();
  }

  get destroyed(): boolean {
    return this.destroyCalls > 0;
  }

  get isClosed(): boolean {
    return this.relay.isClosed;
  }

  written(): string {
    return text(this.writes);
  }

  /** Runs every pending `flushed` callback, oldest first; returns how many ran. */
  flush(): number {
    const due = this.pendingFlush.splice(0);
    for (const fn of due) fn();
    return due.length;
  }

  get pendingFlushes(): number {
    return this.pendingFlush.length;
  }

  // What the peer or the kernel does:
  data(chunk: Uint8Array | string): void {
    this.relay.data(typeof chunk === "string" ? bytes(chunk) : chunk);
  }

  peerEnd(): void {
    this.relay.end();
  }

  fail(message = "connection reset"): void {
    this.relay.error(message);
  }

  drain(): void {
    this.buffered = 0;
    this.relay.drain();
  }

  finished(): void {
    this.relay.finished();
  }

  close(): void {
    this.relay.close();
  }
}

interface Due {
  readonly at: Millis;
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
}

/** A clock that moves only when the test advances it. */
export class FakeClock implements Clock {
  time: Millis;
  private timers: Due[] = [];
  private seq = 0;

  constructor(start: Millis = 1_000_000) {
    this.time = start;
  }

  now(): Millis {
    return this.time;
  }

  after(delay: Millis, fn: () => void): Timer {
    const due: Due = { at: this.time + Math.max(0, delay), seq: this.seq++, fn, cancelled: false };
    this.timers.push(due);
    return {
      cancel: () => {
        due.cancelled = true;
      },
    };
  }

  /** Timers armed and not cancelled. */
  get pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /** Moves time forward by `ms`, running every timer that falls due, in (time, arming order). */
  advance(ms: Millis): void {
    const target = this.time + ms;
    for (;;) {
      const live = this.timers.filter((t) => !t.cancelled && t.at <= target);
      if (live.length === 0) break;
      live.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = live[0] as Due;
      next.cancelled = true;
      this.timers = this.timers.filter((t) => t !== next);
      this.time = Math.max(this.time, next.at);
      next.fn();
    }
    this.time = target;
    this.timers = this.timers.filter((t) => !t.cancelled);
  }
}

/** A seeded uniform [0, 1) source (mulberry32). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class FakeListener implements Listener {
  closeCalls = 0;

  constructor(
    readonly address: string,
    readonly port: number,
    private readonly accept: (socket: ByteSocket) => void,
  ) {}

  get closed(): boolean {
    return this.closeCalls > 0;
  }

  close(): Promise<void> {
    this.closeCalls++;
    return Promise.resolve();
  }

  /** A client connects: the platform hands a paused socket to `accept`. */
  connect(remote: Endpoint = { address: "127.0.0.1", port: 40000 }): FakeSocket {
    const socket = new FakeSocket({ address: this.address, port: this.port }, remote);
    this.accept(socket);
    return socket;
  }
}

export interface PendingListen {
  readonly request: ListenRequest;
  readonly accept: (socket: ByteSocket) => void;
  resolve(): FakeListener;
  reject(error: unknown): void;
}

export interface PendingConnect {
  readonly request: ConnectRequest;
  resolve(socket?: FakeSocket): FakeSocket;
  reject(error: unknown): void;
}

/** A TLS upgrader the test settles by hand. */
export class FakeTls implements TlsUpgrader {
  /** What withCredentials made this one with (null for the first). */
  constructor(readonly credentials: TlsCredentials | null = null) {}

  /** The upgraders withCredentials made from this one, in order. */
  readonly renewed: FakeTls[] = [];

  /** Material whose cert reads "bad" is refused, as a real platform refuses a broken PEM. */
  withCredentials(credentials: TlsCredentials): FakeTls {
    if (credentials.cert === "bad") throw new Error("bad certificate");
    const next = new FakeTls(credentials);
    this.renewed.push(next);
    return next;
  }

  /** How many times retire() was called. */
  retired = 0;

  retire(): void {
    this.retired++;
  }

  readonly upgrades: { socket: ByteSocket; prefix: readonly Uint8Array[]; resolve(secure?: FakeSocket): FakeSocket; reject(error: unknown): void }[] = [];

  /** The scope each upgrade was asked for, in order. */
  readonly scopes: unknown[] = [];

  upgrade(socket: ByteSocket, prefix: readonly Uint8Array[], scope?: object): Promise<ByteSocket> {
    this.scopes.push(scope ?? null);
    return new Promise((resolve, reject) => {
      this.upgrades.push({
        socket,
        prefix,
        resolve: (secure = new FakeSocket(socket.local, socket.remote)) => {
          resolve(secure);
          return secure;
        },
        reject,
      });
    });
  }
}

export class FakePlatform implements Platform {
  readonly clock: FakeClock;
  tls: TlsUpgrader | null;
  random: () => number;
  /** Ports whose listen rejects with ListenError (in-use unless listed in `denied`). */
  readonly inUse = new Set<number>();
  readonly denied = new Set<number>();
  /** Listen failures of code "other" for every port. */
  otherFailure: string | null = null;
  /** When set, listens stay pending until the test settles them through `pendingListens`. */
  manualListen = false;
  readonly listenRequests: ListenRequest[] = [];
  readonly pendingListens: PendingListen[] = [];
  readonly listeners: FakeListener[] = [];
  readonly connects: PendingConnect[] = [];
  readonly fsRoots: string[] = [];
  readonly fs: MemoryFs;

  constructor(options: { seed?: number; tls?: TlsUpgrader | null; tree?: MemoryTree } = {}) {
    this.clock = new FakeClock();
    this.random = seededRandom(options.seed ?? 1);
    this.tls = options.tls ?? null;
    this.fs = new MemoryFs(options.tree ?? {}, () => this.clock.now());
  }

  listen(request: ListenRequest, accept: (socket: ByteSocket) => void): Promise<Listener> {
    this.listenRequests.push(request);
    if (this.otherFailure !== null) return Promise.reject(new ListenError("other", this.otherFailure));
    if (this.denied.has(request.port)) return Promise.reject(new ListenError("denied", `port ${request.port} denied`));
    if (this.inUse.has(request.port)) return Promise.reject(new ListenError("in-use", `port ${request.port} in use`));
    const make = (): FakeListener => {
      const listener = new FakeListener(request.host, request.port === 0 ? 2121 : request.port, accept);
      this.listeners.push(listener);
      return listener;
    };
    if (!this.manualListen) return Promise.resolve(make());
    return new Promise((resolve, reject) => {
      this.pendingListens.push({
        request,
        accept,
        resolve: () => {
          const listener = make();
          resolve(listener);
          return listener;
        },
        reject,
      });
    });
  }

  connect(request: ConnectRequest): Promise<ByteSocket> {
    return new Promise((resolve, reject) => {
      this.connects.push({
        request,
        resolve: (socket = new FakeSocket({ address: request.localAddress, port: 20 }, { address: request.host, port: request.port })) => {
          resolve(socket);
          return socket;
        },
        reject,
      });
    });
  }

  localFs(root: string): MemoryFs {
    this.fsRoots.push(root);
    return this.fs;
  }

  cwd(): string {
    return "/srv/ftp";
  }

  /** The newest listener. */
  get last(): FakeListener {
    const l = this.listeners[this.listeners.length - 1];
    if (l === undefined) throw new Error("nothing is listening");
    return l;
  }
}

/** Lets every already-settled promise callback run (no timers involved). */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}
