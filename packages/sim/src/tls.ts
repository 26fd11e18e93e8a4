// Simulated TLS: a deterministic stand-in for a handshake over the simulated byte stream, so seeds run
// AUTH TLS, PROT P data connections, the session-reuse check and the handshake deadline through the
// driver's real code. The client speaks first (as in TLS): HELLO with the ticket it offers, the server
// answers DONE with the session it made; after that every byte is "protected" (XOR with a fixed key),
// so bytes read or written without the handshake are garbage to the other side, as they would be.
import { SocketRelay, type ByteSocket, type SocketEvents, type TlsCredentials, type TlsScope, type TlsSocket, type TlsUpgrader } from "@pasv/driver";
import type { Counters } from "./net.js";

/** The first byte of every handshake message (TLS's handshake content type). */
export const TLS_RECORD = 0x16;
/** A handshake message longer than this without its line end is malformed (a real ClientHello has a bounded size too). */
export const MAX_HELLO_BYTES = 128;
/** What a protected byte is XORed with. */
export const TLS_KEY = 0x5a;
/** The ticket of a client that resumes nothing. */
export const NO_TICKET = "-";

const TE = new TextEncoder();
const TD = new TextDecoder();

/** The client's first message: the session it offers to resume (NO_TICKET: none). */
export function clientHello(ticket: string): Uint8Array {
  return TE.encode(`\x16HELLO ${ticket}\n`);
}

/** The server's answer: the session of this connection, and whether it resumed the offered one. */
export function serverDone(session: string, resumed: boolean): Uint8Array {
  return TE.encode(`\x16DONE ${session} ${resumed ? 1 : 0}\n`);
}

/** Parses a complete handshake line (without its "\n"); null when it is not `kind`. */
export function parseHandshake(line: Uint8Array, kind: "HELLO" | "DONE"): string[] | null {
  if (line[0] !== TLS_RECORD) return null;
  const words = TD.decode(line.subarray(1)).split(" ");
  return words[0] === kind && words.length === (kind === "HELLO" ? 2 : 3) ? words.slice(1) : null;
}

/** Protects or unprotects bytes (the same operation), into a new array. */
export function xorKey(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = bytes[i]! ^ TLS_KEY;
  return out;
}

/** One control connection's sessions: a data connection resumes only one of these. */
class SimScope {
  readonly sessions = new Set<string>();
}

/** What the upgraders of one server (and its reloads) share: the session numbers. */
interface Shared {
  next: number;
  readonly counters: Counters;
}

/** Certificate text a reload refuses, as a real platform refuses a broken PEM. */
export const BAD_CERT = "bad";

export class SimTlsUpgrader implements TlsUpgrader {
  private readonly shared: Shared;

  constructor(counters: Counters, readonly credentials: TlsCredentials | null = null, shared?: Shared) {
    this.shared = shared ?? { next: 1, counters };
  }

  scope(): TlsScope {
    return new SimScope();
  }

  withCredentials(credentials: TlsCredentials): TlsUpgrader {
    if (credentials.cert === BAD_CERT) throw new Error("bad certificate");
    return new SimTlsUpgrader(this.shared.counters, credentials, this.shared);
  }

  upgrade(socket: ByteSocket, prefix: readonly Uint8Array[], scope?: TlsScope): Promise<TlsSocket> {
    const sessions = scope instanceof SimScope ? scope.sessions : null;
    return new Promise((resolve, reject) => {
      let got: Uint8Array = new Uint8Array(0);
      const state = { settled: false };
      const fail = (why: string): void => {
        if (state.settled) return;
        state.settled = true;
        reject(new Error(why));
      };
      const take = (bytes: Uint8Array): void => {
        if (state.settled) return;
        const joined = new Uint8Array(got.length + bytes.length);
        joined.set(got);
        joined.set(bytes, got.length);
        got = joined;
        if (got[0] !== TLS_RECORD) {
          fail("not a TLS ClientHello");
          return;
        }
        const end = got.indexOf(0x0a);
        if (end < 0) {
          if (got.length > MAX_HELLO_BYTES) fail("an overlong ClientHello");
          return;
        }
        const words = parseHandshake(got.subarray(0, end), "HELLO");
        if (words === null) {
          fail("a malformed ClientHello");
          return;
        }
        state.settled = true;
        const offered = words[0]!;
        const resumed = sessions !== null && sessions.has(offered);
        const session = resumed ? offered : `s${this.shared.next++}`;
        sessions?.add(session);
        this.shared.counters.bump(resumed ? "TLS handshake (resumed)" : "TLS handshake (new session)");
        socket.write(serverDone(session, resumed));
        socket.pause();
        resolve(new SimTlsSocket(socket, sessions === null ? undefined : resumed, session, got.subarray(end + 1)));
      };
      socket.attach({
        data: take,
        end: () => fail("the peer closed the connection during the TLS handshake"),
        error: (message) => fail(message),
        drain: () => undefined,
        finished: () => undefined,
        close: () => fail("the connection closed during the TLS handshake"),
      });
      for (const bytes of prefix) take(bytes);
      if (!state.settled) socket.resume();
    });
  }
}

/** A socket after the simulated handshake: the raw one underneath, every byte protected. */
class SimTlsSocket implements TlsSocket {
  private readonly relay = new SocketRelay();

  constructor(private readonly raw: ByteSocket, readonly resumed: boolean | undefined, readonly session: string, leftover: Uint8Array) {
    // Protected bytes that came with the end of the handshake are the first the owner reads.
    if (leftover.length > 0) this.relay.data(xorKey(leftover));
    raw.attach({
      data: (bytes) => this.relay.data(xorKey(bytes)),
      end: () => this.relay.end(),
      error: (message) => this.relay.error(message),
      drain: () => this.relay.drain(),
      finished: () => this.relay.finished(),
      close: () => this.relay.close(),
    });
  }

  get local(): ByteSocket["local"] {
    return this.raw.local;
  }

  get remote(): ByteSocket["remote"] {
    return this.raw.remote;
  }

  get buffered(): number {
    return this.raw.buffered;
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

  write(bytes: Uint8Array, flushed?: () => void): void {
    this.raw.write(xorKey(bytes), flushed);
  }

  end(): void {
    this.raw.end();
  }

  destroy(): void {
    this.raw.destroy();
  }
}
