// SessionIo on Deno's own APIs (Deno.listen, Deno.connect, Deno.Conn).
//
// Where this differs from the Node adapter, and why:
// - Reads are a loop over conn.read() into a fresh buffer each time (the core keeps views of the
//   bytes it is given, so a buffer is never reused).
// - Writes go through a per-connection queue: Deno's write() may write part of a buffer and is a
//   promise, so order and backpressure are kept here rather than by a stream.
// - Explicit TLS (AUTH TLS) cannot be offered on Deno's own API: Deno.startTls upgrades client
//   connections only (denoland/deno#18451), and an accepted Deno.Conn cannot be handed to node:tls.
//   The core is configured without TLS, so AUTH gets 502 from the core (no FTP decision here);
//   startTls reports a failure if ever called. FTPS on Deno runs the Node adapter instead, whose
//   node:tls server-side upgrade Deno's Node compatibility provides (see README.md).
import type { Endpoint, Family, Millis } from "@pasv/core";
import { DataStreamError, type ControlIo, type DataIo, type DataStream, type PortRange, type Session, type SessionIo } from "@pasv/driver";

/** Bytes read per conn.read() call on a control connection. */
export const READ_BUFFER_BYTES = 64 * 1024;
/** Bytes read per conn.read() on a data connection: an upload then takes a few large file writes. */
export const DATA_READ_BYTES = 1024 * 1024;
/** Bytes queued for a connection before write() reports backpressure. */
export const WRITE_QUEUE_BYTES = 4 * 1024 * 1024;
export const MAX_PASSIVE_PORT_ATTEMPTS = 64;
export const CONTROL_CLOSE_GRACE_MS = 10_000;

/** One TCP connection with an ordered write queue and an interruptible read loop. */
export class Wire {
  private queue: Promise<void> = Promise.resolve();
  queued = 0;
  closed = false;
  private writeFailed: Error | null = null;
  onDrain: () => void = () => undefined;

  constructor(readonly conn: Deno.Conn) {}

  /** `flushed` runs once every byte of `bytes` is written (not if the write fails). */
  write(bytes: Uint8Array, flushed?: () => void): boolean {
    if (this.closed) return true;
    const copy = bytes;
    this.queued += copy.length;
    this.queue = this.queue.then(async () => {
      let at = 0;
      try {
        while (at < copy.length) at += await this.conn.write(copy.subarray(at));
        flushed?.();
      } catch (error) {
        this.writeFailed ??= error instanceof Error ? error : new Error(String(error));
      } finally {
        const before = this.queued;
        this.queued -= copy.length;
        if (before > WRITE_QUEUE_BYTES && this.queued <= WRITE_QUEUE_BYTES) this.onDrain();
      }
    });
    return this.queued <= WRITE_QUEUE_BYTES;
  }

  get error(): Error | null {
    return this.writeFailed;
  }

  /** Resolves when everything queued so far is written (or failed). */
  flushed(): Promise<Error | null> {
    return this.queue.then(() => this.writeFailed);
  }

  async closeWrite(): Promise<Error | null> {
    const failed = await this.flushed();
    if (failed === null && !this.closed) {
      try {
        await this.conn.closeWrite();
      } catch (error) {
        return error instanceof Error ? error : new Error(String(error));
      }
    }
    return failed;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }
}

function endpointOf(addr: Deno.Addr): Endpoint {
  return addr.transport === "tcp" ? { address: addr.hostname, port: addr.port } : { address: "0.0.0.0", port: 0 };
}

interface Channel {
  listener: Deno.Listener | null;
  pending: Map<number, Deno.Conn>;
  conn: Deno.Conn | null;
  inUse: boolean;
}

export class DenoSessionIo implements SessionIo {
  session: Session | null = null;
  readonly control: ControlIo;
  readonly data: DataIo;
  readonly local: Endpoint;
  readonly remote: Endpoint;
  private readonly wire: Wire;
  private timer: number | null = null;
  private paused = false;
  private resume: (() => void) | null = null;
  private readonly channels = new Map<number, Channel>();
  private nextTag = 1;
  private released = false;

  constructor(conn: Deno.Conn, private readonly onClosed: () => void) {
    this.wire = new Wire(conn);
    this.wire.onDrain = () => this.session?.controlDrained();
    this.local = endpointOf(conn.localAddr);
    this.remote = endpointOf(conn.remoteAddr);
    if (conn.remoteAddr.transport === "tcp") {
      // No Nagle delay on replies; keep-alive for long silent transfers behind NAT.
      const tcp = conn as Deno.TcpConn;
      tcp.setNoDelay(true);
      tcp.setKeepAlive(true);
    }
    this.control = {
      local: this.local,
      remote: this.remote,
      write: (bytes) => this.wire.write(bytes),
      close: () => {
        void this.wire.closeWrite().then(() => {
          // The peer normally closes its side now; one that does not is cut off after a grace period.
          setTimeout(() => this.wire.close(), CONTROL_CLOSE_GRACE_MS);
        });
      },
      pauseReading: () => {
        this.paused = true;
      },
      resumeReading: () => {
        this.paused = false;
        this.resume?.();
        this.resume = null;
      },
      startTls: () => this.post((now) => ({ type: "tls.failed", now, message: "Deno cannot upgrade an accepted connection to TLS" })),
    };
    this.data = {
      listen: (channel, family, ports) => void this.listen(channel, family, ports),
      adopt: (channel, tag) => {
        const ch = this.channels.get(channel);
        const conn = ch?.pending.get(tag);
        if (ch === undefined || conn === undefined) return;
        ch.pending.delete(tag);
        ch.conn = conn;
        this.closeListener(ch);
      },
      reject: (channel, tag) => {
        const ch = this.channels.get(channel);
        const conn = ch?.pending.get(tag);
        ch?.pending.delete(tag);
        closeQuietly(conn);
      },
      connect: (channel, address, port) => void this.connect(channel, address, port),
      close: (channel) => this.closeChannel(channel),
      open: (channel, tls, stallTimeout) => this.open(channel, tls, stallTimeout),
    };
  }

  now(): Millis {
    return Date.now();
  }

  /** Cuts the control connection at once (server shutdown after its grace period). */
  abort(): void {
    this.wire.close();
  }

  setTimer(at: Millis | null): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (at === null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.post((now) => ({ type: "timer", now }));
    }, Math.max(0, at - Date.now()));
  }

  private post(make: (now: Millis) => Parameters<Session["post"]>[0]): void {
    const s = this.session;
    if (s === null || s.closed) return;
    s.post(make(Date.now()));
  }

  /** The control read loop; ends when the peer closes or the connection breaks. */
  async run(): Promise<void> {
    const conn = this.wire.conn;
    try {
      for (;;) {
        if (this.paused) await new Promise<void>((r) => (this.resume = r));
        const buffer = new Uint8Array(READ_BUFFER_BYTES);
        const n = await conn.read(buffer);
        if (n === null) {
          this.post((now) => ({ type: "control.eof", now }));
          break;
        }
        this.post((now) => ({ type: "control.data", now, bytes: buffer.subarray(0, n) }));
      }
    } catch (error) {
      this.post((now) => ({ type: "control.error", now, message: String(error) }));
    }
    await this.wire.flushed();
    this.wire.close();
    this.release();
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.session?.controlClosed();
    for (const id of [...this.channels.keys()]) this.closeChannel(id);
    this.onClosed();
  }

  private async listen(channel: number, _family: Family, ports: PortRange): Promise<void> {
    const ch: Channel = { listener: null, pending: new Map(), conn: null, inUse: false };
    this.channels.set(channel, ch);
    for (let attempt = 0; attempt < MAX_PASSIVE_PORT_ATTEMPTS; attempt++) {
      const port = ports.min + Math.floor(Math.random() * (ports.max - ports.min + 1));
      let listener: Deno.Listener;
      try {
        listener = Deno.listen({ hostname: this.local.address, port, transport: "tcp" });
      } catch (error) {
        if (error instanceof Deno.errors.AddrInUse || error instanceof Deno.errors.PermissionDenied) continue;
        break;
      }
      if (this.channels.get(channel) !== ch) {
        listener.close();
        return;
      }
      ch.listener = listener;
      this.post((now) => ({ type: "data.listening", now, channel, port }));
      void this.acceptLoop(channel, ch, listener);
      return;
    }
    this.channels.delete(channel);
    this.post((now) => ({ type: "data.listen-failed", now, channel, message: "no free passive port" }));
  }

  private async acceptLoop(channel: number, ch: Channel, listener: Deno.Listener): Promise<void> {
    try {
      for await (const conn of listener) {
        if (this.channels.get(channel) !== ch || ch.listener !== listener) {
          closeQuietly(conn);
          continue;
        }
        const tag = this.nextTag++;
        ch.pending.set(tag, conn);
        const remote = endpointOf(conn.remoteAddr);
        this.post((now) => ({ type: "data.accepted", now, channel, socket: tag, remote }));
      }
    } catch {
      // the listener was closed
    }
  }

  private closeListener(ch: Channel): void {
    try {
      ch.listener?.close();
    } catch {
      // already closed
    }
    ch.listener = null;
  }

  private async connect(channel: number, address: string, port: number): Promise<void> {
    const ch: Channel = { listener: null, pending: new Map(), conn: null, inUse: false };
    this.channels.set(channel, ch);
    try {
      const conn = await Deno.connect({ hostname: address, port, transport: "tcp" });
      if (this.channels.get(channel) !== ch) {
        closeQuietly(conn);
        return;
      }
      ch.conn = conn;
      this.post((now) => ({ type: "data.connected", now, channel }));
    } catch (error) {
      if (this.channels.get(channel) === ch) this.post((now) => ({ type: "data.connect-failed", now, channel, message: String(error) }));
    }
  }

  private closeChannel(channel: number): void {
    const ch = this.channels.get(channel);
    if (ch === undefined) return;
    this.channels.delete(channel);
    this.closeListener(ch);
    for (const conn of ch.pending.values()) closeQuietly(conn);
    closeQuietly(ch.conn);
  }

  private open(channel: number, tls: boolean, stallTimeout: number): Promise<DataStream> {
    const ch = this.channels.get(channel);
    if (ch === undefined || ch.conn === null) return Promise.reject(new DataStreamError("reset", "no data connection"));
    if (tls) return Promise.reject(new DataStreamError("tls", "no TLS on Deno"));
    ch.inUse = true;
    return Promise.resolve(new ConnStream(ch.conn, stallTimeout));
  }
}

function closeQuietly(conn: Deno.Conn | null | undefined): void {
  try {
    conn?.close();
  } catch {
    // already closed
  }
}

/** A data connection as the driver's DataStream. */
class ConnStream implements DataStream {
  private readonly wire: Wire;
  private stall: number | null = null;
  private failure: DataStreamError | null = null;
  private drained: (() => void) | null = null;

  constructor(conn: Deno.Conn, private readonly stallTimeout: number) {
    this.wire = new Wire(conn);
    this.wire.onDrain = () => {
      this.drained?.();
      this.drained = null;
    };
    this.arm();
  }

  private arm(): void {
    if (this.stall !== null) clearTimeout(this.stall);
    this.stall = setTimeout(() => {
      this.failure = new DataStreamError("stall");
      this.wire.close();
      this.drained?.();
    }, this.stallTimeout);
  }

  private disarm(): void {
    if (this.stall !== null) clearTimeout(this.stall);
    this.stall = null;
  }

  async *chunks(): AsyncIterable<Uint8Array> {
    try {
      for (;;) {
        const buffer = new Uint8Array(DATA_READ_BYTES);
        const n = await this.wire.conn.read(buffer);
        this.arm();
        if (n === null) return;
        yield buffer.subarray(0, n);
      }
    } catch (error) {
      throw this.failure ?? new DataStreamError("reset", String(error));
    } finally {
      this.disarm();
    }
  }

  async write(chunk: Uint8Array, flushed?: () => void): Promise<void> {
    if (this.failure !== null) throw this.failure;
    const broken = this.wire.error;
    if (broken !== null) throw new DataStreamError("reset", broken.message);
    if (!this.wire.write(chunk, flushed)) await new Promise<void>((r) => (this.drained = r));
    this.arm();
    if (this.failure !== null) throw this.failure;
  }

  async end(): Promise<void> {
    const failed = await this.wire.closeWrite();
    this.disarm();
    if (this.failure !== null) throw this.failure;
    if (failed !== null) throw new DataStreamError("reset", failed.message);
  }

  destroy(): void {
    this.disarm();
    this.wire.close();
  }
}
