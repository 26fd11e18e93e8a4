// The driver's Platform on node:net, node:tls and node:fs. It moves bytes; it decides nothing.
import net from "node:net";
import tls, { type SecureContext } from "node:tls";
import { ListenError, SocketRelay, type InlineFs, type ByteSocket, type Clock, type ConnectRequest, type Listener, type ListenRequest, type Platform, type SocketEvents, type TlsCredentials, type TlsSocket, type TlsUpgrader } from "@pasv/driver";
import { LocalFs } from "./local-fs.js";

const EMPTY = new Uint8Array(0);

class NodeSocket implements ByteSocket {
  readonly local;
  readonly remote;
  private readonly relay = new SocketRelay();

  constructor(readonly raw: net.Socket) {
    this.local = { address: raw.localAddress ?? "0.0.0.0", port: raw.localPort ?? 0 };
    this.remote = { address: raw.remoteAddress ?? "0.0.0.0", port: raw.remotePort ?? 0 };
    // A TLS socket is wrapped before its handshake and left flowing: the relay holds what arrives
    // before the driver attaches, so nothing depends on how a runtime's node:tls treats a pause then.
    if (!(raw instanceof tls.TLSSocket)) raw.pause();
    raw.on("data", (chunk: Buffer) => this.relay.data(chunk));
    raw.on("end", () => this.peerEnded());
    raw.on("error", (error) => this.relay.error(error.message));
    raw.on("drain", () => this.relay.drain());
    raw.on("finish", () => this.relay.finished());
    raw.on("close", () => this.relay.close());
  }

  /**
   * libuv reports a reset that lands right after a short read as a clean EOF (its POLLHUP shortcut
   * skips the read that would return ECONNRESET), so a FIN is confirmed with an empty write, which
   * the kernel fails on a reset connection (ECONNRESET or EPIPE) and accepts on a half-closed one.
   */
  private peerEnded(): void {
    const raw = this.raw;
    if (raw.destroyed || raw.writableEnded || raw instanceof tls.TLSSocket) {
      this.relay.end();
      return;
    }
    raw.write(EMPTY, (error) => {
      if (error === null || error === undefined) this.relay.end();
      else this.relay.error(error.message);
    });
  }

  attach(events: SocketEvents): void {
    this.relay.attach(events);
  }

  pause(): void {
    this.raw.pause();
  }

  resume(): void {
    this.raw.resume();
  }

  get buffered(): number {
    return this.raw.writableLength;
  }

  write(bytes: Uint8Array, flushed?: () => void): void {
    if (this.raw.destroyed || this.raw.writableEnded) return;
    this.raw.write(bytes, (error) => {
      if (error === null || error === undefined) flushed?.();
    });
  }

  end(): void {
    if (!this.raw.destroyed) this.raw.end();
  }

  destroy(): void {
    this.raw.destroy();
  }
}

class NodeTlsSocket extends NodeSocket implements TlsSocket {
  constructor(private readonly secure: tls.TLSSocket) {
    super(secure);
  }

  get resumed(): boolean {
    return this.secure.isSessionReused();
  }
}

function adopt(socket: net.Socket): NodeSocket {
  socket.setNoDelay(true);
  // Long silent transfers behind NAT: keep the control connection's mapping alive.
  socket.setKeepAlive(true, 60_000);
  return new NodeSocket(socket);
}

function listenCode(error: NodeJS.ErrnoException): "in-use" | "denied" | "other" {
  if (error.code === "EADDRINUSE") return "in-use";
  if (error.code === "EACCES") return "denied";
  return "other";
}

function listen(request: ListenRequest, accept: (socket: ByteSocket) => void): Promise<Listener> {
  const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (socket) => {
    socket.on("error", () => undefined);
    if (socket.remoteAddress === undefined) socket.destroy();
    else accept(adopt(socket));
  });
  return new Promise((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => reject(new ListenError(listenCode(error), error.message)));
    server.listen({ port: request.port, host: request.host, backlog: request.backlog, ipv6Only: request.family === 6 }, () => {
      server.removeAllListeners("error");
      server.on("error", () => undefined);
      const address = server.address();
      const bound = address !== null && typeof address !== "string" ? address : { address: request.host, port: request.port };
      let closed = false;
      resolve({
        address: bound.address,
        port: bound.port,
        close: () => {
          // Resolves once accepting stopped; connections already accepted belong to their sessions.
          if (!closed) server.close();
          closed = true;
          return Promise.resolve();
        },
      });
    });
  });
}

function connect(request: ConnectRequest): Promise<ByteSocket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: request.host, port: request.port, family: request.family, localAddress: request.localAddress, allowHalfOpen: true });
    socket.pause();
    socket.once("connect", () => {
      socket.removeListener("error", reject);
      socket.on("error", () => undefined);
      resolve(adopt(socket));
    });
    socket.once("error", reject);
  });
}

/** Node's secure contexts: the server's, and one per control connection (its own ticket keys). */
export interface NodeTls {
  readonly context: SecureContext;
  /** A new context whose sessions resume only in itself. Without it no session is scoped, and the
   * server does not require data connections to resume. */
  readonly scoped?: () => SecureContext;
}

/** Makes the contexts for a key and certificate (a reload); throws on unusable material. */
export type NodeTlsFor = (credentials: TlsCredentials) => NodeTls;

interface NodeScope {
  readonly context: SecureContext;
  /** TLS 1.2 sessions by ID, for this control connection's data connections (see sessionCache). */
  readonly sessions: net.Server;
}

/** TLS 1.2 sessions one control connection remembers for resumption by session ID: its own, then its data connections'. */
export const TLS_SESSIONS_PER_SCOPE = 16;

/**
 * A scope's server-side session cache. curl turns TLS 1.2 session tickets off and resumes by
 * session ID, which OpenSSL looks up in the server's cache; node:tls keeps none for a socket made
 * outside a tls.Server and asks its `server` option (newSession/resumeSession) instead. One cache per
 * control connection, so an ID from any other session is unknown here and its data connection does
 * not resume (the driver's reuse check then refuses it, as it refuses a foreign ticket).
 */
function sessionCache(): net.Server {
  const sessions = new Map<string, Buffer>();
  // Never listens: node:tls's `server` option wants a net.Server, and only its events are used.
  const cache = new net.Server();
  cache.on("newSession", (id: Buffer, data: Buffer, done: () => void) => {
    const key = id.toString("hex");
    sessions.delete(key);
    sessions.set(key, data);
    for (const oldest of sessions.keys()) {
      if (sessions.size <= TLS_SESSIONS_PER_SCOPE) break;
      sessions.delete(oldest);
    }
    done();
  });
  cache.on("resumeSession", (id: Buffer, done: (error: Error | null, data: Buffer | null) => void) => {
    done(null, sessions.get(id.toString("hex")) ?? null);
  });
  return cache;
}

function upgrader(contexts: NodeTls, contextsFor: NodeTlsFor): TlsUpgrader {
  const scoped = contexts.scoped;
  return {
    // New contexts for new handshakes; sessions holding this upgrader keep these.
    withCredentials: (credentials) => upgrader(contextsFor(credentials), contextsFor),
    ...(scoped === undefined ? {} : { scope: (): NodeScope => ({ context: scoped(), sessions: sessionCache() }) }),
    upgrade: (socket, prefix, scope) => {
      const scoped = scope as NodeScope | undefined;
      const context = scoped?.context ?? contexts.context;
      if (!(socket instanceof NodeSocket)) return Promise.reject(new Error("not a Node socket"));
      const raw = socket.raw;
      raw.removeAllListeners("data");
      raw.pause();
      // node:tls reads what the socket already buffered before its own reads (a ClientHello held idle).
      for (const chunk of [...prefix].reverse()) raw.unshift(chunk);
      // node:tls takes the session cache from `server`, which it otherwise only reads for OCSP and SNI (neither set here).
      const secure = new tls.TLSSocket(raw, { isServer: true, secureContext: context, ...(scoped === undefined ? {} : { server: scoped.sessions }) });
      // Wrapped at once, so its listeners exist before the first protected byte (the relay holds
      // what arrives before the driver attaches).
      const wrapped = new NodeTlsSocket(secure);
      return new Promise((resolve, reject) => {
        // A peer that closes before the handshake is done gets no "error" from node:tls, only "end"
        // or "close"; without these the handshake would hang until its deadline.
        const gone = (): void => {
          secure.destroy();
          reject(new Error("the peer closed the connection during the TLS handshake"));
        };
        secure.once("end", gone);
        secure.once("close", gone);
        secure.once("secure", () => {
          secure.removeListener("error", reject);
          secure.removeListener("end", gone);
          secure.removeListener("close", gone);
          resolve(wrapped);
        });
        secure.once("error", reject);
      });
    },
  };
}

const clock: Clock = {
  now: () => Date.now(),
  after: (delay, fn) => {
    const timer = setTimeout(fn, delay);
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
};

/** `tls`: the secure contexts handshakes use and how a reload makes them for a new key and
 * certificate, or null for a server without FTPS. */
export function nodePlatform(tls: { readonly contexts: NodeTls; readonly contextsFor: NodeTlsFor } | null, inlineFs: InlineFs = "auto"): Platform {
  return {
    clock,
    random: Math.random,
    listen,
    connect,
    tls: tls === null ? null : upgrader(tls.contexts, tls.contextsFor),
    localFs: (root) => new LocalFs(root, { inline: inlineFs }),
    cwd: () => process.cwd(),
  };
}
