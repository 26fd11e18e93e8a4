// What a runtime adapter (Node, Deno, the simulator) implements for one session. The adapter performs
// I/O and reports what happened by posting events to the session; it makes no FTP decision.
import type { Endpoint, Family, Millis } from "@pasv/core";
import type { Timer } from "./platform.js";

/** A server-side TLS handshake (AUTH TLS on the control connection, PROT P on a data connection)
 * that has not finished after this long fails and its socket is cut. A handshake is a few round
 * trips; anything longer is a peer holding the connection (and its session slot) open by sending
 * half a ClientHello. */
export const TLS_HANDSHAKE_MS = 10_000;

export interface SessionIo {
  /** The platform clock (ms). The simulator's is virtual. */
  now(): Millis;
  /** Arm the session's single timer at the absolute time `at`, replacing any earlier one; null disarms. */
  setTimer(at: Millis | null): void;
  /** Run `fn` once after `delay` ms on the platform clock: a rate-limited transfer waits on this. */
  after(delay: Millis, fn: () => void): Timer;
  readonly control: ControlIo;
  readonly data: DataIo;
}

export interface ControlIo {
  readonly local: Endpoint;
  readonly remote: Endpoint;
  /** Queue bytes for the peer. Returns false when the writer is backed up; the adapter then calls
   * the session's `controlDrained()` once it has room again. */
  write(bytes: Uint8Array): boolean;
  /** Flush what was written, then close (FIN, or TLS close_notify then FIN). Idempotent. */
  close(): void;
  pauseReading(): void;
  resumeReading(): void;
  /** Start a server-side TLS handshake on the control connection; post `tls.ready` or `tls.failed`.
   * Bytes read but not yet posted are discarded (no plaintext injection after AUTH). */
  startTls(): void;
}

export interface DataIo {
  /** Listen at the control connection's local address on a random free port of the passive range;
   * post `data.listening` or `data.listen-failed`, then `data.accepted` for each connection that arrives. */
  listen(channel: number, family: Family): void;
  /** Keep this accepted socket as the channel's connection and stop listening. */
  adopt(channel: number, socket: number): void;
  /** Close this accepted socket at once. */
  reject(channel: number, socket: number): void;
  /** Connect to the peer; post `data.connected` or `data.connect-failed`. */
  connect(channel: number, address: string, port: number, family: Family): void;
  /** Close everything of the channel (listener, sockets, a connect in progress). No events after. */
  close(channel: number): void;
  /** The channel's connected socket as a stream, optionally after a server-side TLS handshake
   * (bounded by the server's handshake deadline, not by `stallTimeout`). When no byte moves for
   * `stallTimeout` ms the stream fails with reason "stall". Rejects (with a DataStreamError) when
   * there is no connection or the handshake fails or times out. */
  open(channel: number, tls: boolean, stallTimeout: number, requireResumption?: boolean): Promise<DataStream>;
}

/** How a data connection failed; anything else a DataStream throws counts as "reset". */
export class DataStreamError extends Error {
  override readonly name = "DataStreamError";
  constructor(readonly reason: "reset" | "stall" | "tls" | "tls-timeout" | "tls-reuse", message?: string) {
    super(message ?? reason);
  }
}

/** A data connection as a byte stream. */
export interface DataStream {
  /** Chunks from the peer until it closes; throws if the connection is reset. Small chunks that
   * wait are joined into one of at most `mergeBytes` (default: the stream's own limit; 0 joins none,
   * for a consumer that gathers pieces itself). */
  chunks(mergeBytes?: number): AsyncIterable<Uint8Array>;
  /** Resolves once the chunk is taken (backpressure); rejects if the connection broke. `flushed`,
   * if given and the adapter supports it, runs once the stream no longer needs the chunk's memory
   * (it may never run, e.g. when the connection fails first). */
  write(chunk: Uint8Array, flushed?: () => void): Promise<void>;
  /** Finish sending: resolves once every byte and our FIN are handed to the kernel (TLS: after
   * close_notify). Rejects if the connection failed first. */
  end(): Promise<void>;
  /** The transfer is waiting on its rate limit (true) or moving again (false): an upload stops
   * reading meanwhile (the peer feels it as TCP backpressure), and the wait is not a stall. */
  hold(on: boolean): void;
  /** Abortive close. Idempotent. */
  destroy(): void;
}
