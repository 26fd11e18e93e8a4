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
  /** May return QUIET when it queued no microtask (see World.run): the piece's event then needs no drain. */
  data?(bytes: Uint8Array): unknown;
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
  /** Pieces not yet delivered, in order; only the first is an event in the world's heap. A piece
   * is its write's private copy (null: the FIN) and four numbers in `pieceAt` (start, end, time,
   * place among events then): no object per piece, so a 20,000-byte write cut into single bytes
   * leaves nothing for the collector to trace but two arrays. */
  private readonly pieceBytes: (Uint8Array | null)[] = [];
  private readonly pieceAt: number[] = [];
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
    const rng = this.net.rng;
    let at = 0;
    while (at < copy.length) {
      const size = Math.min(copy.length - at, rng.int(1, maxChunk));
      this.inFlight += size;
      this.deliver(copy, at, at + size);
      at += size;
    }
    return this.inFlight <= SOCKET_BUFFER_BYTES;
  }

  /** Half-close: FIN after everything written so far. */
  end(): void {
    if (this.closed || this.sentFin) return;
    this.sentFin = true;
    this.deliver(null, 0, 0);
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

  /** Keeps order: a piece (`bytes` from `start` to `end`; null: the FIN) is never delivered before
   * an earlier one. Its time and its place among events at that time are drawn now; it enters the
   * world's heap only when its predecessor has run, which keeps that order (times never decrease
   * along a connection), keeps the heap small (a 20,000-byte write cut into single bytes was 20,000
   * entries), and needs no closure per piece. */
  private deliver(bytes: Uint8Array | null, start: number, end: number): void {
    const world = this.net.world;
    const at = Math.max(this.lastDelivery, world.now + this.latency(), world.now);
    this.lastDelivery = at;
    const seq = world.reserveSeq();
    if (this.pieceBytes.length === this.pendingHead) world.enqueueAt(at, seq, this.pump);
    this.pieceBytes.push(bytes);
    this.pieceAt.push(start, end, at, seq);
  }

  /** The event of the first pending piece. */
  private readonly pump = (): typeof QUIET | undefined => {
    const head = this.pendingHead++;
    const bytes = this.pieceBytes[head] ?? null;
    const nums = this.pieceAt;
    const start = nums[4 * head]!;
    const end = nums[4 * head + 1]!;
    if (this.pendingHead < this.pieceBytes.length) this.net.world.enqueueAt(nums[4 * head + 6]!, nums[4 * head + 7]!, this.pump);
    else {
      this.pieceBytes.length = 0;
      nums.length = 0;
      this.pendingHead = 0;
    }
    if (this.closed) return QUIET;
    if (bytes === null) return this.peer.receive(null);
    if (this.net.rng.chance(this.net.faults.resetPerChunk)) {
      this.net.counters.bump("fault: connection reset");
      // Both ends hear of it in events of their own.
      this.fault();
      return QUIET;
    }
    return this.peer.receive(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end));
  };

  /** The peer's bytes were read (or dropped): they leave its send buffer, which may drain.
   * Returns whether the drain handler ran. */
  private acknowledge(length: number): boolean {
    const before = this.inFlight;
    this.inFlight -= length;
    if (!(before > SOCKET_BUFFER_BYTES && this.inFlight <= SOCKET_BUFFER_BYTES)) return false;
    this.handlers.drain?.();
    return true;
  }

  /** An arrived piece; QUIET when nothing that could queue a microtask ran (a piece held while the
   * reader is paused, as a deaf client's tens of thousands are, or one the reader took quietly). */
  private receive(piece: Uint8Array | null): typeof QUIET | undefined {
    if (piece !== null) {
      if (this.closed) return QUIET;
      if (this.localClosed) {
        // Data for a closed socket: the kernel answers with a reset.
        this.peer.acknowledge(piece.length);
        this.reset();
        return undefined;
      }
    }
    if (this.paused || this.held.length > 0) {
      this.held.push(piece);
      return QUIET;
    }
    return this.take(piece);
  }

  /** Hands an arrived piece to the reader: bytes, or the FIN (null). */
  private take(piece: Uint8Array | null): typeof QUIET | undefined {
    if (this.closed) return QUIET;
    if (piece === null) {
      this.gotFin = true;
      this.handlers.end?.();
      return undefined;
    }
    const drained = this.peer.acknowledge(piece.length);
    const handled = this.handlers.data?.(piece);
    return !drained && handled === QUIET ? QUIET : undefined;
  }
}

/** A quiet connect attempt waiting for a listener (see Network.connect). */
class Probe {
  constructor(
    readonly at: number,
    readonly seq: number,
    readonly from: string,
    readonly port: number,
    readonly to: Address,
    readonly done: (endpoint: Endpoint | null) => void,
  ) {}
}

/** The quiet attempts on their way to one port nobody listens on, and when to sweep them. */
class Dormant {
  readonly probes: Probe[] = [];
  limit = DORMANT_SWEEP;
}

/** Dormant attempts kept per port before the ones whose time has passed are first dropped. */
const DORMANT_SWEEP = 16;

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
  /** Quiet connect attempts on their way to an address and port nobody listens on, in order. */
  private readonly dormant = new Map<string, Map<number, Dormant>>();

  constructor(readonly world: World, readonly rng: Prng, public faults: NetFaults, readonly counters: Counters) {}

  listen(address: string, port: number, accept: (endpoint: Endpoint) => void): boolean {
    let ports = this.listeners.get(address);
    if (ports === undefined) {
      ports = new Map<number, (endpoint: Endpoint) => void>();
      this.listeners.set(address, ports);
    }
    if (ports.has(port)) return false;
    ports.set(port, accept);
    // Attempts that were on their way while nobody listened here now have something to find.
    const waiting = this.dormant.get(address)?.get(port);
    if (waiting !== undefined) {
      this.dormant.get(address)?.delete(port);
      for (const probe of waiting.probes) if (!this.world.isPast(probe.at, probe.seq)) this.world.enqueueAt(probe.at, probe.seq, () => this.arrive(probe.from, probe.port, probe.to, probe.done, true));
    }
    return true;
  }

  unlisten(address: string, port: number): void {
    this.listeners.get(address)?.delete(port);
  }

  listeningOn(address: string): number {
    return this.listeners.get(address)?.size ?? 0;
  }

  /** Connects after a round trip; `done` gets the endpoint or null (refused). `refusedIsQuiet`
   * promises that `done(null)` settles nothing (see QUIET): true only for callers that ignore it,
   * and then an attempt that finds nobody listening may end without calling `done` at all. */
  connect(from: string, to: Address, done: (endpoint: Endpoint | null) => void, refusedIsQuiet = false): void {
    const port = this.nextEphemeral++;
    const delay = this.rng.int(this.faults.minLatency, this.faults.maxLatency) * 2;
    if (refusedIsQuiet && this.listeners.get(to.address)?.has(to.port) !== true) {
      // Nobody listens there now: unless someone starts to before it arrives, the attempt does
      // nothing, so it waits outside the heap (a thief's tens of thousands of guesses were most of
      // the events of its seeds). It keeps its time and its place in the order of events, so a
      // listener that opens in time meets it exactly when it would have arrived.
      this.sleep(to, new Probe(this.world.now + delay, this.world.reserveSeq(), from, port, to, done));
      return;
    }
    this.world.after(delay, () => this.arrive(from, port, to, done, refusedIsQuiet));
  }

  private arrive(from: string, port: number, to: Address, done: (endpoint: Endpoint | null) => void, refusedIsQuiet: boolean): typeof QUIET | undefined {
    const accept = this.listeners.get(to.address)?.get(to.port);
    if (accept === undefined || this.rng.chance(this.faults.refuseConnect)) {
      if (accept !== undefined) this.counters.bump("fault: connect refused");
      done(null);
      return refusedIsQuiet ? QUIET : undefined;
    }
    const local = { address: from, port };
    const client = new Endpoint(this, local, to);
    const server = new Endpoint(this, to, local);
    client.peer = server;
    server.peer = client;
    accept(server);
    done(client);
    return undefined;
  }

  private sleep(to: Address, probe: Probe): void {
    let ports = this.dormant.get(to.address);
    if (ports === undefined) {
      ports = new Map<number, Dormant>();
      this.dormant.set(to.address, ports);
    }
    let waiting = ports.get(to.port);
    if (waiting === undefined) {
      waiting = new Dormant();
      ports.set(to.port, waiting);
    } else if (waiting.probes.length >= waiting.limit) {
      // Those whose time has passed found nobody: forget them (in place, oldest first). The next
      // sweep waits until the list has doubled, so a port with many live attempts costs no more.
      const probes = waiting.probes;
      let kept = 0;
      for (const p of probes) if (!this.world.isPast(p.at, p.seq)) probes[kept++] = p;
      probes.length = kept;
      waiting.limit = Math.max(DORMANT_SWEEP, 2 * kept);
    }
    waiting.probes.push(probe);
  }
}
