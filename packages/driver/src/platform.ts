// What a runtime supplies: byte sockets, listeners, outgoing connections, a clock, randomness, a TLS
// upgrade and a local file system. Nothing here knows FTP; everything that does lives in the driver.
import type { Endpoint, Family, Millis } from "@pasv/core";
import type { Guarantee } from "./confine.js";
import type { Vfs } from "./vfs.js";

/** What a socket reports. Every callback may run at any time after `attach`; `close` runs exactly once. */
export interface SocketEvents {
  data(bytes: Uint8Array): void;
  /** The peer's FIN (or TLS close_notify then FIN): no more bytes will come. */
  end(): void;
  /** A reset, a broken pipe, a TLS error: the connection is unusable; `close` follows. */
  error(message: string): void;
  /** `buffered` went back to 0. */
  drain(): void;
  /** Our FIN (after every byte written) has been handed to the kernel. */
  finished(): void;
  /** The socket is fully closed: both directions ended, or destroyed, or failed. */
  close(): void;
}

/**
 * One TCP (or TLS) connection. Half-open by design: the peer's FIN does not close our side, so a
 * driver decides when to finish. Reading starts paused; `resume` starts it.
 */
export interface ByteSocket {
  readonly local: Endpoint;
  readonly remote: Endpoint;
  /** Replaces the event sink (the previous one gets nothing more). */
  attach(events: SocketEvents): void;
  pause(): void;
  resume(): void;
  /** Bytes accepted by write() but not yet handed to the kernel. */
  readonly buffered: number;
  /** Queue bytes. `flushed` runs once they are handed to the kernel (never, if the socket fails first).
   * The caller must not change `bytes` afterwards. */
  write(bytes: Uint8Array, flushed?: () => void): void;
  /** FIN after everything written; `finished` reports it. Idempotent. */
  end(): void;
  /** Close at once (an abortive close unless our FIN is already out). Idempotent; `close` follows. */
  destroy(): void;
}

export interface ListenRequest {
  readonly host: string;
  readonly port: number;
  readonly family: Family;
  /** Connections waiting in the kernel's accept queue. */
  readonly backlog: number;
  /** Accepted connections may carry TCP urgent data (the Telnet Synch a client sends before ABOR),
   * which stops a read at the urgent mark; a platform whose reads assume a short read drained the
   * socket must read these connections another way. */
  readonly urgentData: boolean;
}

export interface Listener {
  readonly address: string;
  readonly port: number;
  /** Stop accepting; resolves once the port is released. Idempotent. */
  close(): Promise<void>;
}

/** Why a listen failed; only "in-use" and "denied" make the driver try another port. */
export class ListenError extends Error {
  override readonly name = "ListenError";
  constructor(readonly code: "in-use" | "denied" | "other", message: string) {
    super(message);
  }
}

export interface ConnectRequest {
  readonly host: string;
  readonly port: number;
  readonly family: Family;
  /** Bind the outgoing socket to this local address (the control connection's). */
  readonly localAddress: string;
}

export interface Timer {
  cancel(): void;
}

export interface Clock {
  now(): Millis;
  /** Run `fn` once after `delay` ms. A platform may run it a little early or late; nobody waits on it
   * to keep the process alive. */
  after(delay: Millis, fn: () => void): Timer;
}

/** A PEM private key and certificate (chain), as text or bytes. */
export interface TlsCredentials {
  readonly key: string | Uint8Array;
  readonly cert: string | Uint8Array;
}

/** One control connection's TLS sessions, opaque to the driver (Node: a secure context with its own
 * ticket keys, so no other session's ticket resumes in it). */
export type TlsScope = object;

export interface TlsUpgrader {
  /** Server-side handshake over `socket`. `prefix` holds bytes already read from it (a ClientHello
   * that arrived while the connection sat idle). With `scope`, the session is of that scope and may
   * resume only sessions of it. Rejects when the handshake fails. It takes the socket's events
   * before it returns: bytes that arrive after the call are the handshake's. */
  upgrade(socket: ByteSocket, prefix: readonly Uint8Array[], scope?: TlsScope): Promise<TlsSocket>;
  /** A new scope for one control connection; absent when this platform cannot tell a resumed
   * session (then data connections are not required to resume). */
  scope?(): TlsScope;
  /** Another upgrader like this one with this key and certificate (a reload); this one is left as
   * it is, so sessions holding it keep their certificate. Throws when the material is unusable. */
  withCredentials(credentials: TlsCredentials): TlsUpgrader;
  /** No new session will use this upgrader (a reload replaced it, or the server stops); sessions
   * that hold it may still call `upgrade`. A platform may free what it keeps for new handshakes. */
  retire?(): void;
}

/** A socket after a server-side handshake. */
export interface TlsSocket extends ByteSocket {
  /** Whether its session resumed one of its scope's (undefined: the platform cannot tell). */
  readonly resumed?: boolean;
}

/** A file system on a host directory (a platform without one may return any Vfs). */
export interface LocalVfs extends Vfs {
  /** Settles once the root's real path is pinned, with what confinement guarantees on this host;
   * rejects (a VfsError) when the root cannot be resolved. */
  readonly guarantee?: Promise<Guarantee>;
}

export interface Platform {
  readonly clock: Clock;
  /** Uniform in [0, 1): passive port choice. The simulator's is seeded. */
  random(): number;
  /** Accepted sockets go to `accept`, paused. Rejects with a ListenError. */
  listen(request: ListenRequest, accept: (socket: ByteSocket) => void): Promise<Listener>;
  /** Resolves with a paused socket; rejects when the connection cannot be made. */
  connect(request: ConnectRequest): Promise<ByteSocket>;
  /** null when this platform cannot run server-side TLS over an accepted connection. */
  readonly tls: TlsUpgrader | null;
  /** The local-disk file system rooted at `root`. */
  localFs(root: string): LocalVfs;
  /** Where `root` defaults to. */
  cwd(): string;
}
