// SessionIo on node:net and node:tls. It performs what the session asks and reports what happened;
// every FTP decision (which connection to use, what to reply) is the core's.
import net, { type Server, type Socket } from "node:net";
import tls, { type SecureContext, type TLSSocket } from "node:tls";
import { DataStreamError, type ControlIo, type DataIo, type DataStream, type PortRange, type Session, type SessionIo } from "@pasv/driver";
import type { Endpoint, Family, Millis } from "@pasv/core";
import { SocketStream } from "./data-stream.js";

/** Random ports tried for one passive listener before answering listen-failed. */
export const MAX_PASSIVE_PORT_ATTEMPTS = 64;
/** After close(): how long a peer that never reads may hold the control socket before it is destroyed. */
export const CONTROL_CLOSE_GRACE_MS = 10_000;

interface Channel {
  server: Server | null;
  pending: Map<number, Socket>;
  socket: Socket | null;
  inUse: boolean;
}

export interface NodeIoOptions {
  readonly socket: Socket;
  readonly secureContext: SecureContext | null;
  /** Called once when the control socket is gone, after the session released everything. */
  readonly onClosed: () => void;
}

export class NodeSessionIo implements SessionIo {
  session: Session | null = null;
  readonly control: ControlIo;
  readonly data: DataIo;
  private socket: Socket;
  private timer: NodeJS.Timeout | null = null;
  private readonly channels = new Map<number, Channel>();
  private nextSocketTag = 1;
  private readonly secureContext: SecureContext | null;
  private readonly local: Endpoint;
  private readonly remote: Endpoint;

  constructor(private readonly options: NodeIoOptions) {
    this.socket = options.socket;
    this.secureContext = options.secureContext;
    this.local = { address: options.socket.localAddress ?? "127.0.0.1", port: options.socket.localPort ?? 0 };
    this.remote = { address: options.socket.remoteAddress ?? "0.0.0.0", port: options.socket.remotePort ?? 0 };
    this.control = this.makeControl();
    this.data = this.makeData();
  }

  get localEndpoint(): Endpoint {
    return this.local;
  }

  get remoteEndpoint(): Endpoint {
    return this.remote;
  }

  now(): Millis {
    return Date.now();
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

  /** Wires the control socket to the session; call after `session` is set. */
  attach(): void {
    this.wireControl(this.socket);
  }

  private post(make: (now: Millis) => Parameters<Session["post"]>[0]): void {
    const session = this.session;
    if (session === null || session.closed) return;
    session.post(make(Date.now()));
  }

  private wireControl(socket: Socket): void {
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    socket.on("data", (chunk: Buffer) => {
      if (socket !== this.socket) return; // plaintext read after AUTH, before the TLS socket took over
      this.post((now) => ({ type: "control.data", now, bytes: chunk }));
    });
    socket.on("drain", () => this.session?.controlDrained());
    socket.on("end", () => {
      if (socket === this.socket) this.post((now) => ({ type: "control.eof", now }));
    });
    socket.on("error", (error) => {
      if (socket === this.socket) this.post((now) => ({ type: "control.error", now, message: error.message }));
    });
    socket.on("close", () => {
      if (socket === this.socket) this.released();
    });
  }

  private releasedOnce = false;

  private released(): void {
    if (this.releasedOnce) return;
    this.releasedOnce = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.session?.controlClosed();
    for (const id of [...this.channels.keys()]) this.closeChannel(id);
    this.options.onClosed();
  }

  private makeControl(): ControlIo {
    return {
      local: this.local,
      remote: this.remote,
      write: (bytes) => {
        if (this.socket.destroyed || this.socket.writableEnded) return true;
        return this.socket.write(bytes);
      },
      close: () => {
        const socket = this.socket;
        if (socket.destroyed) return;
        socket.end();
        // A peer that never reads must not pin the socket forever.
        setTimeout(() => socket.destroy(), CONTROL_CLOSE_GRACE_MS).unref();
      },
      pauseReading: () => this.socket.pause(),
      resumeReading: () => this.socket.resume(),
      startTls: () => this.upgrade(),
    };
  }

  private upgrade(): void {
    const context = this.secureContext;
    const raw = this.socket;
    if (context === null) {
      this.post((now) => ({ type: "tls.failed", now, message: "no TLS context" }));
      return;
    }
    raw.removeAllListeners("data");
    raw.pause();
    const secure: TLSSocket = new tls.TLSSocket(raw, { isServer: true, secureContext: context });
    this.socket = secure;
    secure.once("secure", () => this.post((now) => ({ type: "tls.ready", now })));
    this.wireControl(secure);
    raw.on("error", () => undefined);
    secure.once("error", (error: Error) => this.post((now) => ({ type: "tls.failed", now, message: error.message })));
  }

  private makeData(): DataIo {
    return {
      listen: (channel, family, ports) => this.listen(channel, family, ports),
      adopt: (channel, tag) => {
        const ch = this.channels.get(channel);
        const socket = ch?.pending.get(tag);
        if (ch === undefined || socket === undefined) return;
        ch.pending.delete(tag);
        ch.socket = socket;
        ch.server?.close();
        ch.server = null;
        socket.once("close", () => {
          if (!ch.inUse && this.channels.get(channel) === ch) this.post((now) => ({ type: "data.closed", now, channel }));
        });
      },
      reject: (channel, tag) => {
        const ch = this.channels.get(channel);
        const socket = ch?.pending.get(tag);
        ch?.pending.delete(tag);
        socket?.destroy();
      },
      connect: (channel, address, port, family) => this.connect(channel, address, port, family),
      close: (channel) => this.closeChannel(channel),
      open: (channel, secure, stallTimeout) => this.open(channel, secure, stallTimeout),
    };
  }

  private listen(channel: number, family: Family, ports: PortRange): void {
    const ch: Channel = { server: null, pending: new Map(), socket: null, inUse: false };
    this.channels.set(channel, ch);
    const host = this.local.address;
    let attempts = 0;
    const tryPort = (): void => {
      if (this.channels.get(channel) !== ch) return;
      attempts++;
      const port = ports.min + Math.floor(Math.random() * (ports.max - ports.min + 1));
      const server = net.createServer({ pauseOnConnect: true });
      server.on("error", (error: NodeJS.ErrnoException) => {
        server.close();
        if (this.channels.get(channel) !== ch) return;
        if ((error.code === "EADDRINUSE" || error.code === "EACCES") && attempts < MAX_PASSIVE_PORT_ATTEMPTS) {
          tryPort();
          return;
        }
        this.channels.delete(channel);
        this.post((now) => ({ type: "data.listen-failed", now, channel, message: error.message }));
      });
      server.on("connection", (socket: Socket) => {
        socket.on("error", () => undefined);
        if (this.channels.get(channel) !== ch || ch.server !== server) {
          socket.destroy();
          return;
        }
        const tag = this.nextSocketTag++;
        ch.pending.set(tag, socket);
        const remote = { address: socket.remoteAddress ?? "", port: socket.remotePort ?? 0 };
        this.post((now) => ({ type: "data.accepted", now, channel, socket: tag, remote }));
      });
      server.listen({ port, host, backlog: 16, ipv6Only: family === 6 }, () => {
        if (this.channels.get(channel) !== ch) {
          server.close();
          return;
        }
        ch.server = server;
        this.post((now) => ({ type: "data.listening", now, channel, port }));
      });
    };
    tryPort();
  }

  private connect(channel: number, address: string, port: number, family: Family): void {
    const ch: Channel = { server: null, pending: new Map(), socket: null, inUse: false };
    this.channels.set(channel, ch);
    const socket = net.connect({ host: address, port, family, localAddress: this.local.address });
    ch.socket = socket;
    socket.pause();
    let connected = false;
    socket.once("connect", () => {
      connected = true;
      if (this.channels.get(channel) === ch) this.post((now) => ({ type: "data.connected", now, channel }));
    });
    socket.once("error", (error) => {
      if (!connected && this.channels.get(channel) === ch) this.post((now) => ({ type: "data.connect-failed", now, channel, message: error.message }));
    });
    socket.on("error", () => undefined);
  }

  private closeChannel(channel: number): void {
    const ch = this.channels.get(channel);
    if (ch === undefined) return;
    this.channels.delete(channel);
    ch.server?.close();
    for (const socket of ch.pending.values()) socket.destroy();
    ch.socket?.destroy();
  }

  private async open(channel: number, secure: boolean, stallTimeout: number): Promise<DataStream> {
    const ch = this.channels.get(channel);
    const socket = ch?.socket ?? null;
    if (ch === undefined || socket === null || socket.destroyed) throw new DataStreamError("reset", "no data connection");
    ch.inUse = true;
    socket.setNoDelay(false);
    // Stays paused: the stream's reader resumes it, so no upload byte flows before someone listens.
    if (!secure) return new SocketStream(socket, stallTimeout);
    const context = this.secureContext;
    if (context === null) throw new DataStreamError("tls", "no TLS context");
    const wrapped = new tls.TLSSocket(socket, { isServer: true, secureContext: context });
    socket.resume();
    await new Promise<void>((resolve, reject) => {
      wrapped.once("secure", resolve);
      wrapped.once("error", (error: Error) => reject(new DataStreamError("tls", error.message)));
    });
    ch.socket = wrapped;
    return new SocketStream(wrapped, stallTimeout);
  }
}
