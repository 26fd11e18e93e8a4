// Simulated TCP on the world's clock: in order, but re-chunked (down to single bytes), delayed,
// with half-close, resets, refused connects and bounded buffers (backpressure).
import type { Prng } from "./prng.js";
import { QUIET, type World } from "./world.js";

export interface NetFaults {
  /** Largest piece a write is cut into (1 = byte by byte). */
  readonly maxChunk: number;
  readonly minLatency: number;
  readonly maxLatency: number;
  /** Probability that a connect is refused although someone listens. */
  readonly refuseConnect: number;
  /** Probability, per delivered piece, that the connection is reset instead. */
  readonly resetPerChunk: number;
  /** How early a platform timer may fire: Node's setTimeout can run when Date.now() is still a
   * millisecond short of the deadline, so a driver must survive an early tick. */
  readonly timerEarly: number;
  /** How late a platform timer may fire (a busy event loop). */
  readonly timerLate: number;
}

export const CALM_NET: NetFaults = { maxChunk: 65536, minLatency: 1, maxLatency: 1, refuseConnect: 0, resetPerChunk: 0, timerEarly: 0, timerLate: 0 };

/** Bytes a sender may have in flight before write() says "wait for drain". */
export const SOCKET_BUFFER_BYTES = 256 * 1024;

export interface Address {
  readonly address: string;
  readonly port: number;
}

export interface EndpointHandlers {
  data?(bytes: Uint8Array): void;
  end?(): void;
  reset?(): void;
  drain?(): void;
}

export class Endpoint {
  peer!: Endpoint;
  handlers: EndpointHandlers = {};
  private inFlight = 0;
  private lastDelivery = 0;
  private paused = false;
  /** Arrived while paused, in order: bytes, or null for the FIN. */
  private held: (Uint8Array | null)[] = [];
  /** Pieces not yet delivered, in order; only the first is an event in the world's heap. */
  private readonly pending: Piece[] = [];
  private pendingHead = 0;
  private sentFin = false;
  /** Closed by us after FIN: incoming bytes are dropped, outgoing ones still flow. */
  private localClosed = false;
  private gotFin = false;
  closed = false;

  constructor(readonly net: Network, readonly local: Address, readonly remote: Address) {}

  get finished(): boolean {
    return this.closed || this.localClosed || (this.sentFin && this.gotFin);
  }

  /** Bytes written and not yet consumed by the peer. */
  get unacknowledged(): number {
    return this.inFlight;
  }

  /** Bytes arrived that nobody has read yet (held while paused). */
  get hasUnread(): boolean {
    return this.held.length > 0;
  }

  get sentFinished(): boolean {
    return this.sentFin;
  }

  write(bytes: Uint8Array): boolean {
    if (this.closed || this.sentFin) return false;
    const copy = bytes.slice();
    const maxChunk = this.net.faults.maxChunk;
    let at = 0;
    while (at < copy.length) {
      const size = Math.min(copy.length - at, this.net.rng.int(1, maxChunk));
      const piece = copy.subarray(at, at + size);
      at += size;
      this.inFlight += piece.length;
      this.deliver(piece);
    }
    return this.inFlight <= SOCKET_BUFFER_BYTES;
  }

  /** Half-close: FIN after everything written so far. */
  end(): void {
    if (this.closed || this.sentFin) return;
    this.sentFin = true;
    this.deliver(null);
  }

  /** Graceful close after our FIN: what is in flight still arrives (what the kernel does on close()). */
  close(): void {
    if (this.closed) return;
    this.end();
    this.localClosed = true;
  }

  reset(): void {
    if (this.closed) return;
    this.closed = true;
    this.held = [];
    const peer = this.peer;
    this.net.world.after(this.latency(), () => {
      if (peer.closed) return;
      peer.closed = true;
      peer.held = [];
      peer.handlers.reset?.();
    });
  }

  /** The network broke the connection: both ends learn it (as ECONNRESET/EPIPE would tell them). */
  fault(): void {
    if (this.closed) return;
    this.reset();
    this.net.world.after(0, () => this.handlers.reset?.());
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    const held = this.held;
    this.held = [];
    for (const piece of held) this.take(piece);
  }

  private latency(): number {
    return this.net.rng.int(this.net.faults.minLatency, this.net.faults.maxLatency);
  }

  /** Keeps order: a piece (null: the FIN) is never delivered before an earlier one. Its time and
   * its place among events at that time are drawn now; it enters the world's heap only when its
   * predecessor has run, which keeps that order (times never decrease along a connection), keeps
   * the heap small (a 20,000-byte write cut into single bytes was 20,000 entries), and needs no
   * closure per piece. */
  private deliver(bytes: Uint8Array | null): void {
    const world = this.net.world;
    const at = Math.max(this.lastDelivery, world.now + this.latency(), world.now);
    this.lastDelivery = at;
    const piece = new Piece(bytes, at, world.reserveSeq());
    if (this.pending.length === this.pendingHead) world.enqueueAt(at, piece.seq, this.pump);
    this.pending.push(piece);
  }

  /** The event of the first pending piece. */
  private readonly pump = (): typeof QUIET | undefined => {
    const piece = this.pending[this.pendingHead++]!;
    const following = this.pending[this.pendingHead];
    if (following !== undefined) this.net.world.enqueueAt(following.at, following.seq, this.pump);
    else {
      this.pending.length = 0;
      this.pendingHead = 0;
    }
    if (this.closed) return QUIET;
    if (piece.bytes === null) this.peer.receive(null);
    else if (this.net.rng.chance(this.net.faults.resetPerChunk)) {
      this.net.counters.bump("fault: connection reset");
      this.fault();
    } else this.peer.receive(piece.bytes);
    return undefined;
  }

  /** The peer's bytes were read (or dropped): they leave its send buffer, which may drain. */
  private acknowledge(length: number): void {
    const before = this.inFlight;
    this.inFlight -= length;
    if (before > SOCKET_BUFFER_BYTES && this.inFlight <= SOCKET_BUFFER_BYTES) this.handlers.drain?.();
  }

  private receive(piece: Uint8Array | null): void {
    if (piece !== null) {
      if (this.closed) return;
      if (this.localClosed) {
        // Data for a closed socket: the kernel answers with a reset.
        this.peer.acknowledge(piece.length);
        this.reset();
        return;
      }
    }
    if (this.paused || this.held.length > 0) this.held.push(piece);
    else this.take(piece);
  }

  /** Hands an arrived piece to the reader: bytes, or the FIN (null). */
  private take(piece: Uint8Array | null): void {
    if (this.closed) return;
    if (piece === null) {
      this.gotFin = true;
      this.handlers.end?.();
    } else {
      this.peer.acknowledge(piece.length);
      this.handlers.data?.(piece);
    }
  }
}

/** One piece on its way: bytes (null for the FIN), when it arrives, its place among events then. */
class Piece {
  constructor(
    readonly bytes: Uint8Array | null,
    readonly at: number,
    readonly seq: number,
  ) {}
}

export class Counters {
  readonly counts = new Map<string, number>();
  bump(name: string, by = 1): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + by);
  }
}

export class Network {
  /** Listeners by address, then port (no key string to build per connect: thieves connect a lot). */
  private readonly listeners = new Map<string, Map<number, (endpoint: Endpoint) => void>>();
  private nextEphemeral = 30000;

  constructor(readonly world: World, readonly rng: Prng, public faults: NetFaults, readonly counters: Counters) {}

  listen(address: string, port: number, accept: (endpoint: Endpoint) => void): boolean {
    let ports = this.listeners.get(address);
    if (ports === undefined) {
      ports = new Map<number, (endpoint: Endpoint) => void>();
      this.listeners.set(address, ports);
    }
    if (ports.has(port)) return false;
    ports.set(port, accept);
    return true;
  }

  unlisten(address: string, port: number): void {
    this.listeners.get(address)?.delete(port);
  }

  listeningOn(address: string): number {
    return this.listeners.get(address)?.size ?? 0;
  }

  /** Connects after a round trip; `done` gets the endpoint or null (refused). `refusedIsQuiet`
   * promises that `done(null)` settles nothing (see QUIET): true only for callers that ignore it. */
  connect(from: string, to: Address, done: (endpoint: Endpoint | null) => void, refusedIsQuiet = false): void {
    const local = { address: from, port: this.nextEphemeral++ };
    this.world.after(this.rng.int(this.faults.minLatency, this.faults.maxLatency) * 2, () => {
      const accept = this.listeners.get(to.address)?.get(to.port);
      if (accept === undefined || this.rng.chance(this.faults.refuseConnect)) {
        if (accept !== undefined) this.counters.bump("fault: connect refused");
        done(null);
        return refusedIsQuiet ? QUIET : undefined;
      }
      const client = new Endpoint(this, local, to);
      const server = new Endpoint(this, to, local);
      client.peer = server;
      server.peer = client;
      accept(server);
      done(client);
      return undefined;
    });
  }
}
