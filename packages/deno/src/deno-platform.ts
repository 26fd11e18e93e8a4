// The driver's Platform on Deno's own APIs (Deno.listen, Deno.connect, Deno.Conn). It moves bytes;
// it decides nothing.
//
// Where this differs from Node, and why:
// - Reads are a loop over conn.read() (the core keeps views of the bytes it is given, so a buffer
//   handed on is never reused); the buffer starts small and grows while reads fill it.
// - Writes go through a per-connection promise chain: Deno's write() may write part of a buffer.
// - TLS (deno-tls.ts): Deno.startTls upgrades client connections only (denoland/deno#18451), so
//   implicit FTPS, AUTH TLS and protected data connections all go through a private loopback
//   Deno.listenTls listener.
// - Control connections are read one byte per read. Deno's reactor (tokio) takes a short read as
//   proof the socket is drained and waits for the next readiness edge, but Linux also ends a read
//   at a TCP urgent mark: after a Telnet Synch (IAC DM as urgent data) the ABOR that follows it
//   would sit unread until the client sent something else. A one-byte read is never short.
// - Deno.connect cannot bind a local address, so active-mode connections leave from the default one.
import { ListenError, SocketRelay, type InlineFs, type ByteSocket, type Clock, type Listener, type ListenRequest, type Platform, type SocketEvents } from "@pasv/driver";
import type { Endpoint } from "@pasv/core";
import { DenoLocalFs } from "./local-fs.ts";
import { LoopbackTls, type DenoTlsMaterial } from "./deno-tls.ts";

/** Bytes per read on a busy data connection: an upload then takes a few large file writes. */
export const READ_BYTES = 1024 * 1024;
/** A connection's first read buffer; each read that fills its buffer makes the next one
 * READ_GROWTH times larger, up to READ_BYTES. A download's data connection only ever reads the
 * client's FIN, and a zero-filled 1 MiB buffer for it cost a memset and 256 page faults per RETR. */
export const FIRST_READ_BYTES = 16 * 1024;
const READ_GROWTH = 4;
/** A read that filled less than this share of its buffer is copied out, so a small chunk held in a
 * queue does not pin a whole read buffer. */
const COPY_BELOW_SHARE = 1 / 4;
/** Control bytes posted together at most (a line usually ends a batch first). */
const MAX_CONTROL_BATCH = 64 * 1024;

/** After a failed accept (not a close), how long before the next one. */
const ACCEPT_RETRY_MS = 10;
const NOT_YET_VALUE = -1;
const NOT_YET = Promise.resolve(NOT_YET_VALUE);

export function endpointOf(addr: Deno.Addr): Endpoint {
  return addr.transport === "tcp" ? { address: addr.hostname, port: addr.port } : { address: "0.0.0.0", port: 0 };
}

/** A TLS connection that runs over another socket (deno-tls.ts): its endpoints are that socket's,
 * and closing it closes that socket too. */
export interface Carried {
  readonly local: Endpoint;
  readonly remote: Endpoint;
  /** Resolves once everything written went out on the carrying socket, with its FIN. */
  readonly flushed: () => Promise<void>;
  /** The protected socket is about to write or end (its carrier may have held bytes back until then). */
  readonly sending?: () => void;
  /** `graceful`: both sides ended cleanly, so bytes still on their way out are let go first. */
  readonly onClose: (graceful: boolean) => void;
}

export class DenoSocket implements ByteSocket {
  readonly local: Endpoint;
  readonly remote: Endpoint;
  private readonly relay = new SocketRelay();
  private writes: Promise<void> = Promise.resolve();
  private queued = 0;
  private paused = true;
  private reading = false;
  private wake: (() => void) | null = null;
  private peerEnded = false;
  private writeEnded = false;
  private finSent = false;
  private closed = false;

  constructor(private readonly conn: Deno.Conn, private readonly bytewise = false, private readonly carried: Carried | null = null) {
    this.local = carried?.local ?? endpointOf(conn.localAddr);
    this.remote = carried?.remote ?? endpointOf(conn.remoteAddr);
    // A Deno.TlsConn has no socket options (deno-tls.ts sets them on the TCP side where it can).
    if (conn.remoteAddr.transport === "tcp" && "setNoDelay" in conn) {
      const tcp = conn as Deno.TcpConn;
      tcp.setNoDelay(true);
      tcp.setKeepAlive(true);
    }
  }

  attach(events: SocketEvents): void {
    this.relay.attach(events);
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    const w = this.wake;
    this.wake = null;
    w?.();
    if (!this.reading) {
      this.reading = true;
      void this.readLoop();
    }
  }

  private async readLoop(): Promise<void> {
    if (this.bytewise) return this.readBytewise();
    // A small read is copied out, so its buffer is free again and the next read reuses it: a new
    // buffer (zero-filled, 1 MiB) per read cost a memset for every control line. A large read is
    // handed on as it is and the next read gets a fresh buffer. Either way one buffer per socket,
    // and none while paused (a paused socket pins no buffer, as before).
    let buffer: Uint8Array | null = null;
    let size = FIRST_READ_BYTES;
    try {
      for (;;) {
        if (this.paused) {
          buffer = null;
          await new Promise<void>((resolve) => (this.wake = resolve));
        }
        if (this.closed) return;
        buffer ??= new Uint8Array(size);
        const n = await this.conn.read(buffer);
        if (n === null) {
          this.peerEnded = true;
          this.relay.end();
          this.closeIfDone();
          return;
        }
        const full = n === buffer.length;
        if (n < buffer.length * COPY_BELOW_SHARE) this.relay.data(buffer.slice(0, n));
        else {
          this.relay.data(buffer.subarray(0, n));
          buffer = null;
        }
        if (full && size < READ_BYTES) {
          size = Math.min(READ_BYTES, size * READ_GROWTH);
          buffer = null;
        }
      }
    } catch (error) {
      this.fail(error);
    }
  }

  /** One byte per read; bytes that are already there are posted together, at most a line at a time. */
  private async readBytewise(): Promise<void> {
    let pending: number[] = [];
    const post = (): void => {
      if (pending.length === 0) return;
      this.relay.data(Uint8Array.from(pending));
      pending = [];
    };
    try {
      for (;;) {
        if (this.paused) {
          post();
          await new Promise<void>((resolve) => (this.wake = resolve));
        }
        if (this.closed) return;
        const one = new Uint8Array(1);
        const reading = this.conn.read(one);
        // A read that has not completed at once means nothing more is there yet: post what is.
        let n = await Promise.race([reading, NOT_YET]);
        if (n === NOT_YET_VALUE) {
          post();
          n = await reading;
        }
        if (n === null) {
          post();
          this.peerEnded = true;
          this.relay.end();
          this.closeIfDone();
          return;
        }
        pending.push(one[0] as number);
        if (one[0] === 0x0a || pending.length >= MAX_CONTROL_BATCH) post();
      }
    } catch (error) {
      post();
      this.fail(error);
    }
  }

  get buffered(): number {
    return this.queued;
  }

  write(bytes: Uint8Array, flushed?: () => void): void {
    if (this.closed || this.writeEnded) return;
    this.carried?.sending?.();
    this.queued += bytes.length;
    this.writes = this.writes.then(async () => {
      try {
        let at = 0;
        while (at < bytes.length && !this.closed) at += await this.conn.write(bytes.subarray(at));
        if (!this.closed) flushed?.();
      } catch (error) {
        this.fail(error);
      } finally {
        this.queued -= bytes.length;
        if (this.queued === 0) this.relay.drain();
      }
    });
  }

  end(): void {
    if (this.closed || this.writeEnded) return;
    this.carried?.sending?.();
    this.writeEnded = true;
    this.writes = this.writes.then(async () => {
      if (this.closed) return;
      try {
        await this.conn.closeWrite();
        // "Finished" means handed to the peer: for a carried connection, out on the carrying socket.
        await this.carried?.flushed();
        this.finSent = true;
        this.relay.finished();
        this.closeIfDone();
      } catch (error) {
        this.fail(error);
      }
    });
  }

  destroy(): void {
    this.close(false);
  }

  private close(graceful: boolean): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.conn.close();
    } catch {
      // already closed
    }
    this.wake?.();
    this.carried?.onClose(graceful);
    this.relay.close();
  }

  private fail(error: unknown): void {
    if (this.closed) return;
    this.relay.error(error instanceof Error ? error.message : String(error));
    this.destroy();
  }

  private closeIfDone(): void {
    if (this.peerEnded && this.finSent) this.close(true);
  }
}

function listen(request: ListenRequest, accept: (socket: ByteSocket) => void): Promise<Listener> {
  let listener: Deno.Listener;
  try {
    listener = Deno.listen({ hostname: request.host, port: request.port, transport: "tcp" });
  } catch (error) {
    const code = error instanceof Deno.errors.AddrInUse ? "in-use" : error instanceof Deno.errors.PermissionDenied ? "denied" : "other";
    return Promise.reject(new ListenError(code, error instanceof Error ? error.message : String(error)));
  }
  let closed = false;
  void (async () => {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (closed || error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted) return;
        // A connection reset before it was accepted (ENOTCONN: a load balancer's health check
        // closes at once) fails that accept alone; ending the loop here would leave the port open
        // and nobody accepting, and Deno would exit with nothing left to wait for. A short pause
        // keeps a lasting error (EMFILE) from spinning.
        await new Promise((resolve) => setTimeout(resolve, ACCEPT_RETRY_MS));
        continue;
      }
      let socket: DenoSocket;
      try {
        socket = new DenoSocket(conn, request.urgentData);
      } catch {
        // Gone already (its options cannot be set on a reset socket).
        try {
          conn.close();
        } catch {
          // already closed
        }
        continue;
      }
      accept(socket);
    }
  })();
  const addr = endpointOf(listener.addr);
  return Promise.resolve({
    address: addr.address,
    port: addr.port,
    close: () => {
      if (!closed) {
        closed = true;
        try {
          listener.close();
        } catch {
          // already closed
        }
      }
      return Promise.resolve();
    },
  });
}

const clock: Clock = {
  now: () => Date.now(),
  after: (delay, fn) => {
    const id = setTimeout(fn, delay);
    Deno.unrefTimer(id);
    return { cancel: () => clearTimeout(id) };
  },
};

/** Without `tls`, no TLS at all (the core then offers no AUTH TLS). */
export function denoPlatform(tls: DenoTlsMaterial | null = null, inlineFs: InlineFs = "auto"): Platform {
  return {
    clock,
    random: Math.random,
    listen,
    connect: async (request) => new DenoSocket(await Deno.connect({ hostname: request.host, port: request.port, transport: "tcp" })),
    tls: tls === null ? null : new LoopbackTls(tls),
    localFs: (root) => new DenoLocalFs(root, { inline: inlineFs }),
    cwd: () => Deno.cwd(),
  };
}
