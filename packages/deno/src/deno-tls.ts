// Server-side TLS on Deno's own API. It moves bytes; it decides nothing.
//
// An accepted (or outgoing) plain connection cannot be turned into a TLS server on Deno's API:
// Deno.startTls is client-side only (denoland/deno#18451). The upgrader hands the connection's
// bytes, unchanged, to a private Deno.listenTls listener on loopback and back: the TLS session (rustls)
// is between the FTP client and that listener's connection, which the driver then reads and writes
// as the protected socket. A connection reaching the private listener that is not one of ours
// (matched by its loopback source port) is closed at once.
//
// Implicit FTPS uses the same upgrader on a plain Deno.listen listener rather than a public
// Deno.listenTls one: on Deno 2.9.6 closing a Deno.TlsConn whose handshake is still pending cancels
// the handshake but leaves the TCP connection open (no FIN, the descriptor kept; compare
// denoland/deno#35292), so a client that never speaks TLS could not be cut at the handshake deadline.
// The plain socket under the relay can always be closed.
import type { ByteSocket, TlsCredentials, TlsUpgrader } from "@pasv/driver";
import { DenoSocket, endpointOf } from "./deno-platform.ts";
import { ClientRecords } from "./tls-records.ts";

/** PEM as the text Deno.listenTls takes, from text or bytes. */
export function pemText(pem: string | Uint8Array): string {
  return typeof pem === "string" ? pem : new TextDecoder().decode(pem);
}

export interface DenoTlsMaterial {
  /** PEM: the leaf first, then the chain (all of it is served). */
  readonly cert: string;
  readonly key: string;
}

/** Bytes the relay lets queue toward one side before it stops reading the other. */
const RELAY_QUEUE_BYTES = 16 * 1024 * 1024;
const RELAY_READ_BYTES = 64 * 1024;
/** How long a connection on the private listener waits for its upgrade to claim it. */
const EARLY_HOLD_MS = 1_000;
/** Unclaimed connections on the private listener held at once; more are closed at once. */
const MAX_EARLY = 64;
/** How long a failed handshake's alert may take to go out before the connection is cut. */
const ALERT_FLUSH_MS = 1_000;

/** The upgrader for AUTH TLS and protected data connections, through a private loopback listener. */
export class LoopbackTls implements TlsUpgrader {
  private listener: Deno.TlsListener | null = null;
  private readonly waiting = new Map<number, { resolve: (conn: Deno.TlsConn) => void }>();
  /** Loopback connections accepted before their upgrade asked for them, by source port. */
  private readonly early = new Map<number, { conn: Deno.TlsConn; timer: ReturnType<typeof setTimeout> }>();
  /** Handshakes under way through the listener. */
  private busy = 0;
  /** No new session uses this upgrader (a reload replaced it, or the server stops): its listener
   * is closed whenever no handshake needs it, and opened again for one a running session asks for. */
  private retired = false;

  constructor(private readonly material: DenoTlsMaterial) {}

  /** An upgrader with another key and certificate (a reload); this one keeps serving the sessions
   * that hold it. Its listener is opened now, so that unusable material fails here, and closed again
   * until its first handshake: a reload that fails later leaves nothing open. */
  withCredentials(credentials: TlsCredentials): TlsUpgrader {
    const next = new LoopbackTls({ cert: pemText(credentials.cert), key: pemText(credentials.key) });
    next.port();
    next.closeListener();
    return next;
  }

  retire(): void {
    this.retired = true;
    if (this.busy === 0) this.closeListener();
  }

  private closeListener(): void {
    const listener = this.listener;
    this.listener = null;
    try {
      listener?.close();
    } catch {
      // already closed
    }
  }

  private holdEarly(port: number, conn: Deno.TlsConn): void {
    const timer = setTimeout(() => {
      if (this.early.get(port)?.conn !== conn) return;
      this.early.delete(port);
      conn.close();
    }, EARLY_HOLD_MS);
    Deno.unrefTimer(timer);
    this.early.get(port)?.conn.close();
    this.early.set(port, { conn, timer });
  }

  /** The loopback connection from `port`, once the private listener has it. */
  private accepted(port: number): Promise<Deno.TlsConn> {
    const early = this.early.get(port);
    if (early !== undefined) {
      this.early.delete(port);
      clearTimeout(early.timer);
      return Promise.resolve(early.conn);
    }
    return new Promise<Deno.TlsConn>((resolve) => this.waiting.set(port, { resolve }));
  }

  private port(): number {
    if (this.listener === null) {
      const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, transport: "tcp", cert: this.material.cert, key: this.material.key });
      this.listener = listener;
      void (async () => {
        try {
          for await (const conn of listener) {
            const from = endpointOf(conn.remoteAddr);
            const mine = this.waiting.get(from.port);
            if (mine !== undefined && from.address === "127.0.0.1") mine.resolve(conn);
            // It may come before its upgrade has learnt its port (the connect's promise settles
            // after the kernel's accept): held a moment for it, then closed as not ours.
            else if (from.address === "127.0.0.1" && this.early.size < MAX_EARLY) this.holdEarly(from.port, conn);
            else conn.close();
          }
        } catch {
          // closed
        }
      })();
    }
    return endpointOf(this.listener.addr).port;
  }

  /** Takes the socket's events at once (bytes that come while the loopback connection is made
   * queue for it), as the driver expects of an upgrade. */
  upgrade(socket: ByteSocket, prefix: readonly Uint8Array[]): Promise<ByteSocket> {
    const relay = new Relay(socket);
    const gone = new Promise<never>((_, reject) => {
      relay.onGone = () => reject(new Error("the peer closed the connection during the TLS handshake"));
    });
    gone.catch(() => undefined);
    relay.start(prefix);
    this.busy++;
    return this.handshake(relay, gone).finally(() => {
      this.busy--;
      if (this.retired && this.busy === 0) this.closeListener();
    });
  }

  private async handshake(relay: Relay, gone: Promise<never>): Promise<ByteSocket> {
    let conn: Deno.TlsConn | null = null;
    let key: number | null = null;
    let accepted: Promise<Deno.TlsConn> | null = null;
    try {
      const connecting = Deno.connect({ hostname: "127.0.0.1", port: this.port(), transport: "tcp" });
      let inner: Deno.TcpConn;
      try {
        inner = await Promise.race([connecting, gone]);
      } catch (error) {
        void connecting.then(
          (late) => late.close(),
          () => undefined,
        );
        throw error;
      }
      inner.setNoDelay(true);
      const port = endpointOf(inner.localAddr).port;
      key = port;
      accepted = this.accepted(port);
      relay.connected(inner);
      conn = await Promise.race([accepted, gone]);
      await conn.handshake();
    } catch (error) {
      const late = conn === null ? accepted : Promise.resolve(conn);
      void late?.then((c) => {
        try {
          c.close();
        } catch {
          // already closed
        }
      });
      // The alert rustls sent (protocol_version, handshake_failure) should reach the client before
      // the connection is cut, or all it sees is a reset.
      relay.release();
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([relay.flushed, new Promise<void>((resolve) => (timer = setTimeout(resolve, ALERT_FLUSH_MS)))]);
      clearTimeout(timer);
      relay.close();
      throw error;
    } finally {
      if (key !== null) this.waiting.delete(key);
    }
    relay.onGone = null;
    const secure = conn;
    return new DenoSocket(secure, false, { local: relay.outer.local, remote: relay.outer.remote, flushed: () => relay.flushed, sending: () => relay.release(), onClose: (graceful) => (graceful ? relay.closeWhenDone() : relay.close()) });
  }
}

/** Post-handshake bytes of the server's TLS layer held back at most (two session tickets are a
 * few hundred bytes); past this they go out at once. */
const HELD_BYTES = 64 * 1024;

/**
 * Copies bytes between the client's socket and the loopback connection, both ways, with half-close.
 *
 * What the server's TLS layer sends on its own once the handshake is done (TLS 1.3 session
 * tickets, which rustls sends after every handshake and Deno has no option to turn off) is held
 * until the server first writes or ends. A client that uploads and never reads (curl's protected
 * STOR) would otherwise close with those bytes unread: its kernel then resets the connection
 * instead of a FIN and drops whatever of the upload was still in its send buffer, close_notify
 * included, and the upload arrives cut (426). Held, they go out with the server's first bytes or
 * its close_notify, after the client's data is in.
 */
class Relay {
  onGone: (() => void) | null = null;
  private inner: Deno.TcpConn | null = null;
  private markConnected: () => void = () => undefined;
  /** Writes toward the loopback side wait for it to be connected. */
  private writes: Promise<void> = new Promise<void>((resolve) => (this.markConnected = resolve));
  private toInner = 0;
  private closed = false;
  private waitDrain: (() => void) | null = null;
  private outerFinished = false;
  private markFlushed: () => void = () => undefined;
  /** Our FIN went out to the client (or the relay closed: nothing more will). */
  readonly flushed = new Promise<void>((resolve) => (this.markFlushed = resolve));
  private closeOnFinish = false;
  private outerDown = false;
  private innerFinSent = false;
  private readonly records = new ClientRecords();
  /** Server bytes held back (see above), or null when they pass at once. */
  private held: Uint8Array[] | null = null;
  private heldBytes = 0;
  private released = false;

  constructor(readonly outer: ByteSocket) {}

  /** The server writes or ends on the protected socket: what was held goes out first, and nothing
   * more is held. */
  release(): void {
    if (this.released) return;
    this.released = true;
    const held = this.held;
    this.held = null;
    for (const bytes of held ?? []) this.outer.write(bytes);
  }

  /** The loopback connection is up: what queued for it goes out, and its bytes come back. */
  connected(inner: Deno.TcpConn): void {
    if (this.closed) {
      inner.close();
      return;
    }
    this.inner = inner;
    this.markConnected();
    void this.pumpOut(inner);
  }

  /** Both TLS sides ended cleanly: close once the last bytes and the FIN are out to the client. */
  closeWhenDone(): void {
    if (this.outerFinished || this.outerDown) this.close();
    else this.closeOnFinish = true;
  }

  private finishInner(): void {
    if (this.innerFinSent) return;
    this.innerFinSent = true;
    this.writes = this.writes.then(() => this.inner?.closeWrite()).catch(() => this.close());
  }

  /**
   * The client's socket broke. It may be a reset right after its last bytes (a client that closes
   * with bytes of ours unread). What it sent before still goes to the TLS side, then a FIN, so the
   * TLS layer judges the end by whether close_notify came: a clean end is an upload complete, a
   * missing one is not.
   */
  private outerGone(): void {
    if (this.closed || this.outerDown) return;
    // During the handshake there is nothing to save.
    if (this.onGone !== null) {
      this.close();
      return;
    }
    this.outerDown = true;
    // Nothing more goes out to the client: a FIN we are waiting to send never will.
    this.markFlushed();
    this.finishInner();
  }

  start(prefix: readonly Uint8Array[]): void {
    for (const chunk of prefix) this.sendInner(chunk);
    this.outer.attach({
      data: (bytes) => this.sendInner(bytes),
      end: () => this.finishInner(),
      error: () => this.outerGone(),
      drain: () => {
        const w = this.waitDrain;
        this.waitDrain = null;
        w?.();
      },
      finished: () => {
        this.outerFinished = true;
        this.markFlushed();
        if (this.closeOnFinish) this.close();
      },
      close: () => this.outerGone(),
    });
    this.outer.resume();
  }

  private sendInner(bytes: Uint8Array): void {
    if (this.closed) return;
    if (!this.records.applicationData && !this.released) {
      this.records.feed(bytes);
      // Passed on to the TLS layer only after this, so whatever it answers to that record is held.
      if (this.records.applicationData) this.held = [];
    }
    this.toInner += bytes.length;
    if (this.toInner > RELAY_QUEUE_BYTES) this.outer.pause();
    this.writes = this.writes.then(async () => {
      try {
        let at = 0;
        const inner = this.inner;
        while (inner !== null && at < bytes.length && !this.closed) at += await inner.write(bytes.subarray(at));
      } catch {
        this.close();
      } finally {
        this.toInner -= bytes.length;
        if (this.toInner <= RELAY_QUEUE_BYTES && !this.closed) this.outer.resume();
      }
    });
  }

  /** Loopback -> client: what the TLS listener's side sends (handshake, records, close_notify). */
  private async pumpOut(inner: Deno.TcpConn): Promise<void> {
    try {
      for (;;) {
        const buffer = new Uint8Array(RELAY_READ_BYTES);
        const n = await inner.read(buffer);
        if (n === null) {
          this.outer.end();
          return;
        }
        const bytes = buffer.subarray(0, n);
        if (this.held === null) this.outer.write(bytes);
        else {
          this.held.push(bytes);
          this.heldBytes += n;
          if (this.heldBytes > HELD_BYTES) this.release();
        }
        if (this.outer.buffered > RELAY_QUEUE_BYTES) await new Promise<void>((resolve) => (this.waitDrain = resolve));
        if (this.closed) return;
      }
    } catch {
      this.close();
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.inner?.close();
    } catch {
      // already closed
    }
    // Queued writes run and find the relay closed.
    this.markConnected();
    this.outer.destroy();
    this.markFlushed();
    const w = this.waitDrain;
    this.waitDrain = null;
    w?.();
    const gone = this.onGone;
    this.onGone = null;
    gone?.();
  }
}
