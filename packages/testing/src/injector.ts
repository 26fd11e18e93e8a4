// The fault layer: one seed, one plan, and the wrappers that apply it to a server's sockets and
// files. The core still decides every reply; the faults only change what the sockets and the file
// system do, so they are the only thing that changes. Without a plan nothing here is installed.
import type { MultilineStyle } from "@pasv/core";
import { Prng, type ByteSocket, type Clock, type Instrumentation, type Platform, type Session, type TlsUpgrader, type Vfs } from "@pasv/driver";
import { FaultySocket, type Piece, type Received, type Shaper } from "./faulty-socket.js";
import { faultyVfs } from "./faulty-vfs.js";
import { formatPlan, MAX_RANDOM_CUT, type FaultName, type FaultPlan, type Trigger } from "./plan.js";

/** One injected fault. `session` is null for a file-system fault (the file system serves every session). */
export interface FaultRecord {
  readonly seq: number;
  readonly fault: FaultName;
  readonly session: number | null;
  readonly detail: string;
}

/** Records kept in `log`; later ones are counted (and still reported to onFault) but not kept. */
export const MAX_FAULT_RECORDS = 10_000;
/** A split reply goes out in at most this many pieces. */
export const MAX_SPLIT_PIECES = 8;
/** How far apart the pieces of a split reply are written, so that they reach the client apart. */
export const SPLIT_GAP_MS = { min: 2, max: 15 } as const;
/** A trickling download goes out in pieces of this many bytes. */
export const TRICKLE_BYTES = 1024;
/** Sessions remembered for close-421 before the closed ones are forgotten. */
const MAX_TRACKED_SESSIONS = 1024;
/** Longest command line the observer keeps while waiting for its end (a peer without CRLF). */
const MAX_LINE = 4096;

export interface InjectorOptions {
  readonly plan: FaultPlan;
  readonly seed: number;
  readonly clock: Clock;
  /** Each fault as it is injected. */
  readonly onFault?: (record: FaultRecord) => void;
}

/** What a fault's trigger looks at: the command at hand. */
interface Context {
  verb: string | null;
  index: number;
}

export class FaultInjector {
  readonly plan: FaultPlan;
  readonly seed: number;
  /** The faults injected so far, in order (at most MAX_FAULT_RECORDS). */
  readonly log: FaultRecord[] = [];
  private count = 0;
  private readonly root: Prng;
  /** Random streams of the file system as a whole (slow, vanish). */
  readonly vfsStreams: Streams;
  private readonly sessions = new Map<number, Session>();
  /** The last command any session sent: what file-system faults' verb and nth triggers look at. */
  private readonly lastCommand: Context = { verb: null, index: 0 };

  constructor(private readonly options: InjectorOptions) {
    this.plan = options.plan;
    this.seed = options.seed;
    this.root = new Prng(options.seed);
    this.vfsStreams = new Streams(this.root, "vfs");
  }

  /** Faults injected so far (also those past MAX_FAULT_RECORDS). */
  get injected(): number {
    return this.count;
  }

  /** The multi-line reply form the core is to use, or null when the plan leaves it alone; "seed"
   * draws one of the three from the seed (the same one in every run with that seed). */
  get multilineStyle(): MultilineStyle | null {
    return multilineStyleFor(this.plan, this.seed);
  }

  /** The plan as a short string (`data-reset=0.1,...`) that parses back to it. */
  get planText(): string {
    return formatPlan(this.plan);
  }

  /** The hooks a server takes (FtpServer's Instrumentation) to apply the plan to each session. */
  instrumentation(): Instrumentation {
    return {
      wrapSession: (id, control, platform) => this.wrapSession(id, control, platform),
      opened: (id, handle) => this.opened(id, handle.session),
    };
  }

  /** A session was made (close-421 posts its shutdown to it). */
  opened(id: number, session: Session): void {
    if (this.sessions.size >= MAX_TRACKED_SESSIONS) for (const [other, s] of this.sessions) if (s.closed) this.sessions.delete(other);
    this.sessions.set(id, session);
  }

  /** The platform with its local file systems under the file faults (the listener is left alone:
   * each session's sockets are wrapped by `instrumentation`). */
  wrapPlatform(platform: Platform): Platform {
    return {
      clock: platform.clock,
      random: () => platform.random(),
      listen: (request, accept) => platform.listen(request, accept),
      connect: (request) => platform.connect(request),
      tls: platform.tls,
      localFs: (root) => {
        const local = platform.localFs(root);
        const vfs = this.wrapVfs(local);
        if (vfs === local || local.guarantee === undefined) return local;
        return Object.assign(vfs, { guarantee: local.guarantee });
      },
      cwd: () => platform.cwd(),
    };
  }

  /** `vfs` under the file faults. */
  wrapVfs(vfs: Vfs): Vfs {
    return this.fileFaults() ? faultyVfs(vfs, this) : vfs;
  }

  record(fault: FaultName, session: number | null, detail: string): void {
    const record: FaultRecord = { seq: ++this.count, fault, session, detail };
    if (this.log.length < MAX_FAULT_RECORDS) this.log.push(record);
    this.options.onFault?.(record);
  }

  /** The random streams of one consumer (a session, a data connection, an opened file), held by
   * it and dropped with it. */
  streams(label: string): Streams {
    return new Streams(this.root, label);
  }

  /** Whether `fault` strikes now for a command context (never for a byte trigger: see cutAt). */
  strikes(fault: FaultName, context: Context, streams: Streams): boolean {
    const trigger = this.plan.faults[fault];
    if (trigger === undefined) return false;
    return this.matches(trigger, context, () => streams.get(fault));
  }

  /** Where a byte fault cuts (bytes from the start), or null when it does not strike now. */
  cutAt(fault: FaultName, context: Context, streams: Streams): number | null {
    const trigger = this.plan.faults[fault];
    if (trigger === undefined) return null;
    if (trigger.kind === "after") return trigger.bytes;
    const prng = streams.get(fault);
    if (!this.matches(trigger, context, () => prng)) return null;
    // Log-uniform: cuts in the first bytes are as likely as cuts deep into a large file.
    return Math.floor(2 ** (prng.float() * Math.log2(MAX_RANDOM_CUT))) - 1;
  }

  /** Resolves after `ms` on the server's clock. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.options.clock.after(ms, resolve));
  }

  /** The context file-system faults see. */
  get fileContext(): Context {
    return this.lastCommand;
  }

  private matches(trigger: Trigger, context: Context, prng: () => Prng): boolean {
    switch (trigger.kind) {
      case "chance":
        return prng().chance(trigger.p);
      case "verb":
        return context.verb === trigger.verb;
      case "nth":
        return context.index === trigger.n;
      case "after":
        return true;
    }
  }

  private fileFaults(): boolean {
    const f = this.plan.faults;
    return f.enospc !== undefined || f.eio !== undefined || f.vanish !== undefined || f.slow !== undefined;
  }

  /** Session `id`'s control socket and the platform its data connections use, under the plan. */
  wrapSession(id: number, control: ByteSocket, platform: Platform): { control: ByteSocket; platform: Platform } {
    const context: Context = { verb: null, index: 0 };
    const label = this.streams(`session-${id}`);
    let line = "";
    const clock = platform.clock;
    const shaper: Shaper = {
      shape: (bytes) => this.shapeReply(id, context, label, bytes),
      receive: (bytes): Received => {
        // Commands are counted from the client's bytes, so triggers follow what the client sent.
        let shutdown = false;
        for (const byte of bytes) {
          if (byte !== 0x0a) {
            if (line.length < MAX_LINE) line += String.fromCharCode(byte);
            continue;
          }
          const verb = /^\s*([A-Za-z]+)/.exec(line)?.[1]?.toUpperCase() ?? null;
          line = "";
          context.verb = verb;
          context.index++;
          this.lastCommand.verb = verb;
          this.lastCommand.index++;
          if (!shutdown && this.strikes("close-421", context, label)) {
            shutdown = true;
            this.record("close-421", id, `shut the session down at command #${context.index} (${verb ?? "?"})`);
          }
        }
        if (!shutdown) return { bytes, reset: false };
        return { bytes, reset: false, then: () => this.sessions.get(id)?.post({ type: "shutdown", now: clock.now() }) };
      },
    };
    return { control: new FaultySocket(control, clock, shaper), platform: this.sessionPlatform(id, context, label, platform) };
  }

  private shapeReply(id: number, context: Context, label: Streams, bytes: Uint8Array): readonly Piece[] {
    const what = replyName(bytes);
    let delayMs = 0;
    if (this.strikes("reply-stall", context, label)) {
      delayMs = this.plan.stallMs;
      this.record("reply-stall", id, `held ${what} for ${delayMs} ms`);
    } else if (this.strikes("reply-delay", context, label)) {
      delayMs = this.plan.delayMs;
      this.record("reply-delay", id, `held ${what} for ${delayMs} ms`);
    }
    if (bytes.length < 2 || !this.strikes("reply-split", context, label)) return [{ bytes, delayMs }];
    const prng = label.get("reply-split/cuts");
    const pieces = prng.int(2, Math.min(MAX_SPLIT_PIECES, bytes.length));
    const cuts = new Set<number>();
    while (cuts.size < pieces - 1) cuts.add(prng.int(1, bytes.length - 1));
    const at = [0, ...[...cuts].sort((a, b) => a - b), bytes.length];
    this.record("reply-split", id, `wrote ${what} in ${pieces} pieces, cut at bytes ${at.slice(1, -1).join(" ")}`);
    const out: Piece[] = [];
    for (let i = 0; i + 1 < at.length; i++) out.push({ bytes: bytes.subarray(at[i], at[i + 1]), delayMs: i === 0 ? delayMs : prng.int(SPLIT_GAP_MS.min, SPLIT_GAP_MS.max) });
    return out;
  }

  private sessionPlatform(id: number, context: Context, label: Streams, platform: Platform): Platform {
    let connections = 0;
    const data = (socket: ByteSocket): ByteSocket => new FaultySocket(socket, platform.clock, this.dataShaper(id, context, this.streams(`${label.label}/data-${++connections}`)));
    const tls = platform.tls === null ? null : this.wrapTls(platform.tls);
    return {
      clock: platform.clock,
      random: () => platform.random(),
      listen: (request, accept) =>
        platform.listen(request, (socket) => {
          if (this.strikes("pasv-refuse", context, label)) {
            this.record("pasv-refuse", id, `cut the passive data connection from ${socket.remote.address}:${socket.remote.port} as it was accepted`);
            socket.destroy();
            return;
          }
          if (this.strikes("pasv-delay", context, label)) {
            this.record("pasv-delay", id, `held the accepted passive data connection for ${this.plan.delayMs} ms`);
            platform.clock.after(this.plan.delayMs, () => accept(data(socket)));
            return;
          }
          accept(data(socket));
        }),
      connect: async (request) => {
        if (this.strikes("connect-refuse", context, label)) {
          this.record("connect-refuse", id, `refused the active data connection to ${request.host}:${request.port}`);
          throw new Error("connection refused (injected by the fault plan)");
        }
        return data(await platform.connect(request));
      },
      tls,
      localFs: (root) => platform.localFs(root),
      cwd: () => platform.cwd(),
    };
  }

  /** Decisions for one data connection, taken at its first byte with the command at hand then. */
  private dataShaper(id: number, context: Context, label: Streams): Shaper {
    let decided = false;
    let reset: number | null = null;
    let fin: number | null = null;
    let trickle = false;
    let sent = 0;
    let received = 0;
    const decide = (): void => {
      if (decided) return;
      decided = true;
      reset = this.cutAt("data-reset", context, label);
      fin = reset === null ? this.cutAt("data-fin", context, label) : null;
      trickle = this.strikes("data-trickle", context, label);
      if (trickle) this.record("data-trickle", id, `${context.verb ?? "data"}: ${TRICKLE_BYTES}-byte pieces ${this.trickleGap()} ms apart`);
    };
    return {
      shape: (bytes) => {
        decide();
        const start = sent;
        sent += bytes.length;
        const out: Piece[] = [];
        const cutAt = reset ?? fin;
        let end = bytes.length;
        if (cutAt !== null && cutAt < sent) end = Math.max(0, cutAt - start);
        for (let at = 0; at < end; at += trickle ? TRICKLE_BYTES : end) out.push({ bytes: bytes.subarray(at, Math.min(end, at + (trickle ? TRICKLE_BYTES : end))), delayMs: trickle ? this.trickleGap() : 0 });
        if (end < bytes.length && cutAt !== null) {
          const how = reset === null ? "fin" : "reset";
          this.record(how === "reset" ? "data-reset" : "data-fin", id, `${context.verb ?? "data"}: ${how === "reset" ? "reset" : "FIN"} after ${cutAt} bytes sent`);
          reset = null;
          fin = null;
          out.push({ cut: how });
        }
        return out;
      },
      receive: (bytes) => {
        decide();
        const start = received;
        received += bytes.length;
        if (reset === null || reset >= received) return { bytes, reset: false };
        const at = Math.max(0, reset - start);
        this.record("data-reset", id, `${context.verb ?? "data"}: reset after ${reset} bytes received`);
        reset = null;
        return { bytes: bytes.subarray(0, at), reset: true };
      },
    };
  }

  private trickleGap(): number {
    return Math.max(1, Math.round(this.plan.delayMs / 10));
  }

  /** TLS runs over the real socket; the faults go on over the protected one. */
  private wrapTls(tls: TlsUpgrader): TlsUpgrader {
    return {
      withCredentials: (credentials) => this.wrapTls(tls.withCredentials(credentials)),
      upgrade: async (socket, prefix) => {
        if (!(socket instanceof FaultySocket)) return tls.upgrade(socket, prefix);
        await socket.flushed();
        const secure = await tls.upgrade(socket.inner, prefix);
        return new FaultySocket(secure, this.options.clock, socket.shaper);
      },
    };
  }
}

/** The multi-line reply form `plan` asks for with `seed`, or null when it leaves the core's default. */
export function multilineStyleFor(plan: FaultPlan, seed: number): MultilineStyle | null {
  const choice = plan.multiline ?? null;
  if (choice !== "seed") return choice;
  return new Streams(new Prng(seed), "server").get("multiline").pick(["plain", "dashed", "indented"] as const);
}

/** Labelled forks of the seed for one consumer: `session-3/reply-split` draws the same numbers
 * in every run with that seed, whatever other consumers draw. */
export class Streams {
  private readonly forks = new Map<string, Prng>();

  constructor(
    private readonly root: Prng,
    readonly label: string,
  ) {}

  get(name: string): Prng {
    let prng = this.forks.get(name);
    if (prng === undefined) {
      prng = this.root.fork(`${this.label}/${name}`);
      this.forks.set(name, prng);
    }
    return prng;
  }
}

/** "the 150 reply" for a log line. */
function replyName(bytes: Uint8Array): string {
  const code = String.fromCharCode(...bytes.subarray(0, 3));
  return /^\d{3}$/.test(code) ? `the ${code} reply` : `a ${bytes.length}-byte reply`;
}
