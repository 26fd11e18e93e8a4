// SessionIo on any Platform: the control connection (with its close grace and the AUTH TLS upgrade),
// the session's one timer and its data channels. Runtimes supply only the Platform underneath.
import type { Endpoint, Millis, SessionEvent } from "@pasv/core";
import { DataChannels } from "./data-channels.js";
import { TLS_HANDSHAKE_MS, type ControlIo, type SessionIo } from "./io.js";
import type { ByteSocket, Platform, Timer, TlsScope, TlsUpgrader } from "./platform.js";
import type { PassivePorts } from "./port-range.js";
import type { ProxyGate } from "./proxy-gate.js";
import type { Session } from "./session.js";

/** Replies a peer may leave unread before the session stops reading its commands. */
export const CONTROL_QUEUE_BYTES = 64 * 1024;
/** After our close: how long a peer that never reads may hold the control connection. */
export const CONTROL_CLOSE_GRACE_MS = 10_000;
export { TLS_HANDSHAKE_MS };

export interface SessionIoOptions {
  /** Deadline of a TLS handshake, control and data (default TLS_HANDSHAKE_MS). */
  readonly tlsHandshakeMs?: Millis;
  /** The TLS scope of a control connection that is protected already (implicit FTPS). */
  readonly tlsScope?: TlsScope | null;
  /** A protected data connection that did not resume the control connection's session was refused. */
  readonly onReuseRefused?: () => void;
  /** PROXY protocol on the passive listeners (the control connection came through the same gate). */
  readonly proxy?: ProxyGate | null;
}

export class PlatformSessionIo implements SessionIo {
  session: Session | null = null;
  readonly control: ControlIo;
  readonly data: DataChannels;
  private socket: ByteSocket;
  private timer: Timer | null = null;
  private grace: Timer | null = null;
  private handshake: Timer | null = null;
  private ended = false;
  private readonly tlsHandshakeMs: Millis;
  /** The control connection's TLS sessions, which its data connections must resume. */
  private scope: TlsScope | null;

  constructor(
    private readonly platform: Platform,
    socket: ByteSocket,
    ports: PassivePorts,
    private readonly onEnded: () => void,
    options: SessionIoOptions = {},
  ) {
    this.socket = socket;
    this.tlsHandshakeMs = options.tlsHandshakeMs ?? TLS_HANDSHAKE_MS;
    this.scope = options.tlsScope ?? null;
    this.data = new DataChannels(platform, socket.local, ports, (make) => this.post(make), this.tlsHandshakeMs, () => this.scope, options.onReuseRefused, options.proxy ?? null);
    const local: Endpoint = socket.local;
    const remote: Endpoint = socket.remote;
    this.control = {
      local,
      remote,
      write: (bytes) => {
        this.socket.write(bytes);
        return this.socket.buffered <= CONTROL_QUEUE_BYTES;
      },
      close: () => {
        this.socket.end();
        // The session closes itself when told the socket is gone; nothing is left to cut then.
        if (this.ended) return;
        // A peer that never reads or closes must not pin the session.
        this.grace ??= this.platform.clock.after(CONTROL_CLOSE_GRACE_MS, () => this.socket.destroy());
      },
      pauseReading: () => this.socket.pause(),
      resumeReading: () => this.socket.resume(),
      startTls: () => this.upgrade(),
    };
  }

  /** The session's timer is armed (the simulator's leak oracle reads this). */
  get timerArmed(): boolean {
    return this.timer !== null;
  }

  /** The control connection is gone and everything was released. */
  get closed(): boolean {
    return this.ended;
  }

  now(): Millis {
    return this.platform.clock.now();
  }

  after(delay: Millis, fn: () => void): Timer {
    return this.platform.clock.after(delay, fn);
  }

  setTimer(at: Millis | null): void {
    this.timer?.cancel();
    this.timer = null;
    if (at === null || this.ended) return;
    this.timer = this.platform.clock.after(Math.max(0, at - this.now()), () => {
      this.timer = null;
      this.post((now) => ({ type: "timer", now }));
    });
  }

  /** Wires the control connection to the session and starts reading; call once `session` is set. */
  start(): void {
    this.wire(this.socket);
    this.socket.resume();
  }

  /** Cuts the control connection now (shutdown after its grace period). */
  destroy(): void {
    this.socket.destroy();
  }

  private post(make: (now: Millis) => SessionEvent): void {
    const session = this.session;
    if (session === null || session.closed) return;
    session.post(make(this.now()));
  }

  private wire(socket: ByteSocket): void {
    socket.attach({
      data: (bytes) => this.post((now) => ({ type: "control.data", now, bytes })),
      end: () => this.post((now) => ({ type: "control.eof", now })),
      error: (message) => this.post((now) => ({ type: "control.error", now, message })),
      drain: () => this.session?.controlDrained(),
      finished: () => undefined,
      close: () => this.release(),
    });
  }

  private upgrade(): void {
    const tls = this.platform.tls;
    if (tls === null) {
      this.post((now) => ({ type: "tls.failed", now, message: "no TLS on this platform", started: false, timedOut: false }));
      return;
    }
    const raw = this.socket;
    // The handshake starts with the client's first byte after the 234: until then the connection is
    // still plaintext, and a handshake that never starts can be answered with a 421 the client reads
    // (RFC 4217 §10.1). Bytes that followed AUTH in the same read were dropped by the core already.
    let started = false;
    // The core runs no deadline while AUTH waits for the handshake, logged in or not, so this is the
    // only bound. Before the first byte the core answers 421 and closes; after it, it cuts rather than
    // closes: mid-handshake no reply can be read, and a FIN would let a peer that never reads hold the
    // session for the close grace as well.
    this.handshake = this.platform.clock.after(this.tlsHandshakeMs, () => {
      this.handshake = null;
      this.post((now) => ({ type: "tls.failed", now, message: "TLS handshake timed out", started, timedOut: true }));
      if (started) raw.destroy();
    });
    raw.attach({
      data: (bytes) => {
        // Later bytes are the upgrader's (it takes the socket's events as it starts); any that still
        // reach this sink are plaintext that must never be posted as protected commands.
        if (started || this.ended || this.handshake === null) return;
        started = true;
        this.handshakeFrom(raw, tls, bytes);
      },
      // A FIN before any handshake byte: the client left; the core closes without a reply.
      end: () => {
        if (!started) this.post((now) => ({ type: "control.eof", now }));
      },
      error: () => undefined,
      drain: () => undefined,
      finished: () => undefined,
      close: () => this.release(),
    });
    // The core may have paused reading (replies unread) before AUTH; the handshake must be read.
    raw.resume();
  }

  /** The client's first handshake bytes came: the upgrader takes the socket from here. */
  private handshakeFrom(raw: ByteSocket, tls: TlsUpgrader, first: Uint8Array): void {
    this.scope = tls.scope?.() ?? null;
    tls.upgrade(raw, [first], this.scope ?? undefined).then(
      (secure) => {
        this.endHandshake();
        if (this.ended) {
          secure.destroy();
          return;
        }
        this.socket = secure;
        // tls.ready first: protected bytes that came with the handshake's end are commands, and the
        // core drops anything it reads while the handshake is still running.
        this.post((now) => ({ type: "tls.ready", now }));
        this.wire(secure);
        secure.resume();
      },
      (error: unknown) => {
        this.endHandshake();
        this.post((now) => ({ type: "tls.failed", now, message: error instanceof Error ? error.message : String(error), started: true, timedOut: false }));
        // Nothing can be said on a broken handshake. Cut at once so the session ends now, whatever a
        // runtime's TLS layer left of the socket underneath (the core's close would be a FIN and a
        // grace period on a connection that can no longer carry a reply).
        raw.destroy();
        // An upgrader may have taken the raw socket's events for itself (Deno's relays the bytes),
        // so its close need not come back here: the session ends now either way (release is once).
        this.release();
      },
    );
  }

  private endHandshake(): void {
    this.handshake?.cancel();
    this.handshake = null;
  }

  private release(): void {
    if (this.ended) return;
    this.ended = true;
    this.timer?.cancel();
    this.timer = null;
    this.grace?.cancel();
    this.grace = null;
    // A reset mid-handshake ends the session here; its deadline must not outlive it.
    this.endHandshake();
    this.session?.controlClosed();
    this.data.closeAll();
    this.onEnded();
  }
}
