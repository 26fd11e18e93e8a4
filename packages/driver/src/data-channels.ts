// The driver's DataIo on any Platform: passive listeners on a random port of the range (one retry
// loop) within the client address's share of listeners, accepted sockets held until the core adopts
// or rejects one, outgoing connects, and the watch on an idle adopted connection that notices the
// client closing it before the transfer.
import type { Endpoint, Family, Millis, SessionEvent } from "@pasv/core";
import { DataStreamError, TLS_HANDSHAKE_MS, type DataIo, type DataStream } from "./io.js";
import type { TlsScope } from "./platform.js";
import type { ByteSocket, Listener, Platform } from "./platform.js";
import { ListenError } from "./platform.js";
import { pickPort, type PassivePorts } from "./port-range.js";
import type { ProxyGate } from "./proxy-gate.js";
import { SocketStream } from "./socket-stream.js";

/** Random ports tried for one passive listener before answering listen-failed. */
export const MAX_PASSIVE_PORT_ATTEMPTS = 64;
/** Data connections a passive listener lets wait in the kernel (one is used; the rest are refused). */
export const PASSIVE_BACKLOG = 16;

type Post = (event: (now: Millis) => SessionEvent) => void;

/** An adopted connection before its transfer: what it delivered, and whether it is still usable. */
interface Idle {
  chunks: Uint8Array[];
  ended: boolean;
  broken: boolean;
}

interface Channel {
  listener: Listener | null;
  /** Gives back the client address's listener slot; called when the listener is gone or never came. */
  release: () => void;
  readonly pending: Map<number, ByteSocket>;
  /** Connections still sending their PROXY header, by the cancel that cuts them. */
  readonly reading: Set<() => void>;
  socket: ByteSocket | null;
  idle: Idle | null;
}

export class DataChannels implements DataIo {
  private readonly channels = new Map<number, Channel>();
  private nextTag = 1;

  constructor(
    private readonly platform: Platform,
    private readonly local: Endpoint,
    private readonly passive: PassivePorts,
    private readonly post: Post,
    private readonly tlsHandshakeMs: Millis = TLS_HANDSHAKE_MS,
    /** The control connection's TLS scope, once it has one. */
    private readonly scope: () => TlsScope | null = () => null,
    private readonly onReuseRefused: () => void = noop,
    /** Behind a load balancer: every passive connection comes from it, with a PROXY header naming the client. */
    private readonly proxy: ProxyGate | null = null,
  ) {}

  /** Channels still held (the simulator's leak oracle reads this). */
  held(): number[] {
    return [...this.channels.keys()];
  }

  listen(channel: number, family: Family): void {
    const claim = this.passive.claim();
    if (!claim.granted) {
      // Answered like any failed listen (425), through the queue: the session is mid-drain here.
      this.post((now) => ({ type: "data.listen-failed", now, channel, message: `per-address cap reached: ${claim.limit} passive listener(s) held (maxPassivePerIp)` }));
      return;
    }
    const ch: Channel = { listener: null, release: claim.release, pending: new Map(), reading: new Set(), socket: null, idle: null };
    this.channels.set(channel, ch);
    void this.bind(channel, ch, family);
  }

  private async bind(channel: number, ch: Channel, family: Family): Promise<void> {
    let last = "no free passive port";
    for (let attempt = 0; attempt < MAX_PASSIVE_PORT_ATTEMPTS && this.channels.get(channel) === ch; attempt++) {
      const port = pickPort(this.passive.range, () => this.platform.random());
      let listener: Listener;
      try {
        listener = await this.platform.listen({ host: this.local.address, port, family, backlog: PASSIVE_BACKLOG, urgentData: false }, (socket) => this.accepted(channel, ch, socket));
      } catch (error) {
        last = error instanceof Error ? error.message : String(error);
        if (error instanceof ListenError && error.code !== "other") continue;
        break;
      }
      if (this.channels.get(channel) !== ch) {
        void listener.close();
        return;
      }
      ch.listener = listener;
      this.post((now) => ({ type: "data.listening", now, channel, port: listener.port }));
      return;
    }
    if (this.channels.get(channel) !== ch) return;
    this.channels.delete(channel);
    ch.release();
    this.post((now) => ({ type: "data.listen-failed", now, channel, message: last }));
  }

  private accepted(channel: number, ch: Channel, socket: ByteSocket): void {
    if (this.proxy === null || this.channels.get(channel) !== ch) {
      this.take(channel, ch, socket);
      return;
    }
    // The core judges the client the header names (the data-peer rule), never the balancer.
    let cancel: (() => void) | null = null;
    cancel = this.proxy.admit(socket, "data", (proxied) => {
      if (cancel !== null) ch.reading.delete(cancel);
      this.take(channel, ch, proxied);
    });
    if (cancel !== null) ch.reading.add(cancel);
  }

  private take(channel: number, ch: Channel, socket: ByteSocket): void {
    if (this.channels.get(channel) !== ch || ch.listener === null || ch.socket !== null) {
      socket.destroy();
      return;
    }
    const tag = this.nextTag++;
    ch.pending.set(tag, socket);
    // A connection the core has not decided on yet: a reset just leaves it to fail at use.
    socket.attach(quiet);
    this.post((now) => ({ type: "data.accepted", now, channel, socket: tag, remote: socket.remote }));
  }

  adopt(channel: number, tag: number): void {
    const ch = this.channels.get(channel);
    const socket = ch?.pending.get(tag);
    if (ch === undefined || socket === undefined) return;
    ch.pending.delete(tag);
    ch.socket = socket;
    void ch.listener?.close();
    ch.listener = null;
    ch.release();
    this.watch(channel, ch, socket);
  }

  /**
   * Until the transfer takes the connection, read at most one chunk: an upload's first bytes (or a
   * TLS ClientHello) are held for it and reading pauses; a FIN or reset with nothing before it
   * means the client gave the connection up, which the core turns into 425 (SPEC 4.8).
   */
  private watch(channel: number, ch: Channel, socket: ByteSocket): void {
    const idle: Idle = { chunks: [], ended: false, broken: false };
    ch.idle = idle;
    let told = false;
    const gone = (): void => {
      if (told || this.channels.get(channel) !== ch || ch.idle !== idle) return;
      told = true;
      this.post((now) => ({ type: "data.closed", now, channel }));
    };
    socket.attach({
      data: (bytes) => {
        idle.chunks.push(bytes);
        socket.pause();
      },
      end: () => {
        idle.ended = true;
        if (idle.chunks.length === 0) gone();
      },
      error: () => {
        if (idle.broken) return;
        idle.broken = true;
        gone();
      },
      drain: noop,
      finished: noop,
      close: () => {
        if (idle.broken || (idle.ended && idle.chunks.length === 0)) return;
        idle.broken = true;
        gone();
      },
    });
    socket.resume();
  }

  reject(channel: number, tag: number): void {
    const ch = this.channels.get(channel);
    const socket = ch?.pending.get(tag);
    ch?.pending.delete(tag);
    socket?.destroy();
  }

  connect(channel: number, address: string, port: number, family: Family): void {
    const ch: Channel = { listener: null, release: noop, pending: new Map(), reading: new Set(), socket: null, idle: null };
    this.channels.set(channel, ch);
    this.platform.connect({ host: address, port, family, localAddress: this.local.address }).then(
      (socket) => {
        if (this.channels.get(channel) !== ch) {
          socket.destroy();
          return;
        }
        ch.socket = socket;
        socket.attach(quiet);
        this.post((now) => ({ type: "data.connected", now, channel }));
      },
      (error: unknown) => {
        if (this.channels.get(channel) === ch) this.post((now) => ({ type: "data.connect-failed", now, channel, message: error instanceof Error ? error.message : String(error) }));
      },
    );
  }

  close(channel: number): void {
    const ch = this.channels.get(channel);
    if (ch === undefined) return;
    this.channels.delete(channel);
    void ch.listener?.close();
    // A listen still in flight is closed when it resolves (bind), so its slot is free already.
    ch.release();
    for (const socket of ch.pending.values()) socket.destroy();
    for (const cancel of [...ch.reading]) cancel();
    ch.reading.clear();
    ch.socket?.destroy();
  }

  closeAll(): void {
    for (const id of [...this.channels.keys()]) this.close(id);
  }

  async open(channel: number, tls: boolean, stallTimeout: number, requireResumption = false): Promise<DataStream> {
    const ch = this.channels.get(channel);
    const socket = ch?.socket ?? null;
    if (ch === undefined || socket === null) throw new DataStreamError("reset", "no data connection");
    const idle = ch.idle ?? { chunks: [], ended: false, broken: false };
    ch.idle = null;
    if (idle.broken) throw new DataStreamError("reset", "the data connection was closed before the transfer");
    if (!tls) return new SocketStream(socket, this.platform.clock, stallTimeout, idle);
    const upgrader = this.platform.tls;
    if (upgrader === null) throw new DataStreamError("tls", "no TLS on this platform");
    // Its own deadline, not the stall timeout: the stall timeout is sized for slow links (minutes),
    // and a peer that sends half a ClientHello would hold the transfer, and the session, that long.
    const scope = this.scope();
    const secure = await withDeadline(upgrader.upgrade(socket, idle.chunks, scope ?? undefined), this.platform, this.tlsHandshakeMs, () => socket.destroy());
    if (this.channels.get(channel) !== ch) {
      secure.destroy();
      throw new DataStreamError("reset", "the data channel closed during the TLS handshake");
    }
    // Only a client that holds the control connection's TLS session can resume it: whoever else
    // reached the passive port first (the same NAT, a scanner) is refused (RFC 4217 §10.2).
    // A platform that cannot tell (no scope, `resumed` unknown) is not asked to.
    if (requireResumption && scope !== null && secure.resumed === false) {
      secure.destroy();
      this.onReuseRefused();
      throw new DataStreamError("tls-reuse", "the data connection did not resume the control connection's TLS session");
    }
    ch.socket = secure;
    return new SocketStream(secure, this.platform.clock, stallTimeout, { chunks: [], ended: false });
  }
}

function noop(): void {
  // nothing to do for this event
}

const quiet = { data: noop, end: noop, error: noop, drain: noop, finished: noop, close: noop };

/** A TLS handshake that does not finish in time fails as "tls-timeout", and its socket is cut. */
async function withDeadline<T>(work: Promise<T>, platform: Platform, ms: Millis, onTimeout: () => void): Promise<T> {
  let timer: { cancel(): void } | null = null;
  const expired = new Promise<never>((_, reject) => {
    timer = platform.clock.after(ms, () => {
      onTimeout();
      reject(new DataStreamError("tls-timeout", "TLS handshake timed out"));
    });
  });
  try {
    return await Promise.race([work.catch((error: unknown) => Promise.reject(new DataStreamError("tls", error instanceof Error ? error.message : String(error)))), expired]);
  } finally {
    (timer as { cancel(): void } | null)?.cancel();
  }
}
