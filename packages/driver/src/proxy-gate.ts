// PROXY protocol at the door, once for every runtime: a connection accepted on the control listener
// or a passive listener behind a load balancer is admitted only from the balancer's addresses and
// only after a valid header; from then on it is a ByteSocket whose `remote` is the client the header
// names, so the session, caps, bans, logs and the data-peer rule all see the client, never the
// balancer. Nothing is ever written to a refused connection: it is cut.
import { feedProxyHeader, inCidrs, initialProxyReader, parseCidr, type Cidr, type Endpoint, type Millis, type ProxyHeader, type ProxyReader } from "@pasv/core";
import type { ByteSocket, Clock, SocketEvents, TlsUpgrader } from "./platform.js";
import { SocketRelay } from "./socket-relay.js";

/** How long an admitted balancer connection may take to send its whole header. A balancer sends it
 * with its first packet, so this only bounds a broken or hostile peer holding a socket. */
export const PROXY_HEADER_MS = 5_000;

export interface ProxyProtocolOptions {
  /** The load balancers' addresses: CIDR blocks or single addresses. Anyone else is cut at once. */
  readonly from: readonly string[];
  /** Deadline for the header (default PROXY_HEADER_MS). */
  readonly headerTimeoutMs?: Millis;
}

/** Why a connection was cut before it became a session or a data connection. */
export type ProxyRefusal = "not-from-proxy" | "malformed" | "timeout" | "closed";

export interface ProxyRefused {
  /** Which listener accepted the connection. */
  readonly listener: "control" | "data";
  readonly peer: Endpoint;
  readonly reason: ProxyRefusal;
  /** What was wrong with the header (for "malformed"). */
  readonly detail: string | null;
}

/** The checked blocks, or a RangeError naming the first one that is not a block. */
export function checkProxyFrom(from: readonly string[]): Cidr[] {
  if (from.length === 0) throw new RangeError("proxyProtocol.from must name at least one load balancer address or CIDR block");
  return from.map((text) => {
    const cidr = parseCidr(text.trim());
    if (cidr === null) throw new RangeError(`proxyProtocol.from: ${JSON.stringify(text)} is not an IP address or CIDR block (like 10.0.0.0/8)`);
    return cidr;
  });
}

export class ProxyGate {
  private readonly cidrs: readonly Cidr[];
  private readonly timeoutMs: Millis;

  constructor(
    options: ProxyProtocolOptions,
    private readonly clock: Clock,
    private readonly refused: (refusal: ProxyRefused) => void,
  ) {
    this.cidrs = checkProxyFrom(options.from);
    const t = options.headerTimeoutMs ?? PROXY_HEADER_MS;
    if (!(Number.isFinite(t) && t > 0)) throw new RangeError(`proxyProtocol.headerTimeoutMs must be a positive number of milliseconds, not ${t}`);
    this.timeoutMs = t;
  }

  /** The blocks as normalised text (what a start-up line shows). */
  get blocks(): string[] {
    return this.cidrs.map((c) => c.text);
  }

  /**
   * Reads the header of a freshly accepted (paused) socket. `admitted` gets the socket as the client
   * sees it, paused, holding any bytes that came after the header; a refusal cuts the socket and
   * calls `admitted` nothing. Returns a cancel that cuts a socket still waiting (a stop), or null
   * when the socket was refused at once.
   */
  admit(socket: ByteSocket, listener: "control" | "data", admitted: (socket: ByteSocket) => void): (() => void) | null {
    const peer = socket.remote;
    if (!inCidrs(this.cidrs, peer.address)) {
      socket.destroy();
      this.refused({ listener, peer, reason: "not-from-proxy", detail: null });
      return null;
    }
    let reader: ProxyReader = initialProxyReader;
    let done = false;
    const fail = (reason: ProxyRefusal, detail: string | null): void => {
      if (done) return;
      done = true;
      timer.cancel();
      socket.attach(QUIET);
      socket.destroy();
      this.refused({ listener, peer, reason, detail });
    };
    const timer = this.clock.after(this.timeoutMs, () => fail("timeout", null));
    // Until the header is read, the socket's events come here; then they go to the new owner.
    const proxied: ProxiedSocket = new ProxiedSocket(socket, {
      data: (bytes) => {
        if (done) return;
        const fed = feedProxyHeader(reader, bytes);
        switch (fed.kind) {
          case "incomplete":
            reader = fed.reader;
            return;
          case "invalid":
            fail("malformed", fed.reason);
            return;
          case "header":
            done = true;
            timer.cancel();
            socket.pause();
            proxied.opened(fed.header, fed.rest);
            admitted(proxied);
            return;
        }
      },
      end: () => fail("closed", null),
      error: () => fail("closed", null),
      close: () => fail("closed", null),
    });
    proxied.start();
    socket.resume();
    return () => fail("closed", null);
  }
}

type Held = { readonly kind: "data"; readonly bytes: Uint8Array } | { readonly kind: "end" } | { readonly kind: "error"; readonly message: string } | { readonly kind: "close" };

/**
 * A socket whose peer is the client a PROXY header named. It replays what came after the header
 * before anything newer (in order with the socket's end, error and close), and only while resumed,
 * so a pipelining client's first command is read exactly as without a balancer.
 */
export class ProxiedSocket implements ByteSocket {
  private readonly relay = new SocketRelay();
  private header: ProxyHeader | null = null;
  private readonly held: Held[] = [];
  private paused = true;
  private flushing = false;
  private reading: Pick<SocketEvents, "data" | "end" | "error" | "close"> = QUIET;

  /** `header`: the header already read (a socket made from another one), or the handlers that read
   * it from the socket's first events. Nothing arrives before start(). */
  constructor(
    readonly inner: ByteSocket,
    header: ProxyHeader | Pick<SocketEvents, "data" | "end" | "error" | "close">,
  ) {
    if ("command" in header) this.header = header;
    else this.reading = header;
  }

  /** Takes the real socket's events. */
  start(): this {
    const forward = (event: Held): void => {
      if (this.header === null) {
        const f = this.reading;
        switch (event.kind) {
          case "data":
            f.data(event.bytes);
            return;
          case "end":
            f.end();
            return;
          case "error":
            f.error(event.message);
            return;
          case "close":
            f.close();
            return;
        }
      }
      if (this.held.length === 0) {
        this.deliver(event);
        return;
      }
      this.held.push(event);
      // Gone while paused with bytes unread (destroyed, reset): nobody can read them any more, but
      // the owner must still hear that the socket is gone.
      if (event.kind === "close" && this.paused) {
        for (const next of this.held.splice(0)) if (next.kind !== "data") this.deliver(next);
      }
    };
    this.inner.attach({
      data: (bytes) => forward({ kind: "data", bytes }),
      end: () => forward({ kind: "end" }),
      error: (message) => forward({ kind: "error", message }),
      drain: () => this.relay.drain(),
      finished: () => this.relay.finished(),
      close: () => forward({ kind: "close" }),
    });
    return this;
  }

  /** The header is read; `rest` is the connection's own first bytes. */
  opened(header: ProxyHeader, rest: Uint8Array): void {
    this.header = header;
    if (rest.length > 0) this.held.push({ kind: "data", bytes: rest });
  }

  /** The header that admitted this connection. */
  get proxyHeader(): ProxyHeader | null {
    return this.header;
  }

  get local(): Endpoint {
    return this.inner.local;
  }

  /** The client from the header; the balancer's own connection for LOCAL and UNKNOWN (health checks). */
  get remote(): Endpoint {
    return this.header?.command === "proxy" ? this.header.source : this.inner.remote;
  }

  get buffered(): number {
    return this.inner.buffered;
  }

  attach(events: SocketEvents): void {
    this.relay.attach(events);
  }

  pause(): void {
    this.paused = true;
    this.inner.pause();
  }

  resume(): void {
    this.paused = false;
    if (this.held.length === 0) {
      this.inner.resume();
      return;
    }
    // Not from inside resume(): a caller may resume while it is handling an event of its own.
    if (this.flushing) return;
    this.flushing = true;
    void Promise.resolve().then(() => {
      this.flushing = false;
      this.flush();
    });
  }

  private flush(): void {
    while (this.held.length > 0) {
      const next = this.held[0] as Held;
      if (next.kind === "data" && this.paused) return;
      this.held.shift();
      this.deliver(next);
    }
    if (!this.paused) this.inner.resume();
  }

  private deliver(event: Held): void {
    switch (event.kind) {
      case "data":
        this.relay.data(event.bytes);
        return;
      case "end":
        this.relay.end();
        return;
      case "error":
        this.relay.error(event.message);
        return;
      case "close":
        this.relay.close();
        return;
    }
  }

  /** Bytes after the header not yet delivered; they go to whoever takes the socket over (TLS). */
  takeHeld(): Uint8Array[] {
    const out: Uint8Array[] = [];
    while (this.held[0]?.kind === "data") out.push((this.held.shift() as { bytes: Uint8Array }).bytes);
    return out;
  }

  write(bytes: Uint8Array, flushed?: () => void): void {
    this.inner.write(bytes, flushed);
  }

  end(): void {
    this.inner.end();
  }

  destroy(): void {
    this.inner.destroy();
  }
}

/**
 * An upgrader that sees through ProxiedSocket: the platform's handshake runs on the real socket (a
 * runtime's TLS needs its own socket type), with the bytes not yet delivered as part of its prefix,
 * and the protected socket keeps the client's address.
 */
export function proxyAwareTls(tls: TlsUpgrader): TlsUpgrader {
  return {
    withCredentials: (credentials) => proxyAwareTls(tls.withCredentials(credentials)),
    ...(tls.scope === undefined ? {} : { scope: tls.scope.bind(tls) }),
    upgrade: async (socket, prefix, tlsScope) => {
      if (!(socket instanceof ProxiedSocket)) return tls.upgrade(socket, prefix, tlsScope);
      const header = socket.proxyHeader;
      const secure = await tls.upgrade(socket.inner, [...prefix, ...socket.takeHeld()], tlsScope);
      if (header === null) return secure;
      // The client's address from the header, the resumption from the handshake underneath.
      const proxied = new ProxiedSocket(secure, header).start();
      return Object.assign(proxied, { resumed: secure.resumed });
    },
  };
}

function noop(): void {
  // a refused socket's events go nowhere
}

const QUIET: SocketEvents = { data: noop, end: noop, error: noop, drain: noop, finished: noop, close: noop };
