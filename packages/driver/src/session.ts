// The loop that runs one session: events in through a FIFO, `step`, actions out. It is the same
// code under Node, Deno and the simulator; only the SessionIo underneath differs.
import {
  AsciiDecoder,
  AsciiEncoder,
  InvariantError,
  assertNever,
  initialSession,
  nextDeadline,
  step,
  type Action,
  type CoreConfig,
  type FileStat,
  type FsOp,
  type FsResult,
  type Millis,
  type SessionEvent,
  type SessionNotice,
  type SessionOpen,
  type SessionState,
  type TransferFailure,
  type TransferSpec,
} from "@pasv/core";
import type { AuthProvider } from "./auth.js";
import { DataStreamError, type DataStream, type SessionIo } from "./io.js";
import { listingPages, sortedWhenSmall } from "./listing-pages.js";
import { Pacer, UNLIMITED, type RateLimits } from "./pacer.js";
import type { Timer } from "./platform.js";
import { VfsError, type Vfs, type VfsReader, type VfsWriter } from "./vfs.js";

/** The reducer the session runs; tests and the simulator may wrap it (to plant bugs, to trace). */
export interface Reducer {
  readonly initialSession: typeof initialSession;
  readonly step: typeof step;
  readonly nextDeadline: typeof nextDeadline;
}

export const coreReducer: Reducer = { initialSession, step, nextDeadline };

export interface SessionHooks {
  /** Logins and transfers, for embedders' typed events. */
  notice?(notice: SessionNotice): void;
  log?(level: "debug" | "info" | "warn", message: string): void;
  /** Every step, for tracing and simulation oracles. */
  stepped?(event: SessionEvent, state: SessionState, actions: readonly Action[]): void;
  /** The session has released everything it held. */
  closed?(): void;
}

export interface SessionOptions {
  readonly config: CoreConfig;
  readonly open: Omit<SessionOpen, "now">;
  readonly io: SessionIo;
  readonly auth: AuthProvider;
  readonly hooks?: SessionHooks;
  readonly reducer?: Reducer;
  /** Bandwidth limits of the session's transfers until a login's grant says otherwise (default none). */
  readonly rates?: RateLimits;
}

/** Events waiting to be stepped. Draining is synchronous, so only a bug could fill this. */
export const MAX_QUEUED_EVENTS = 10_000;

interface RunningTransfer {
  readonly id: number;
  aborted: boolean;
  /** The core's lines for the listing batch just posted (listing.write), until the transfer takes them. */
  listed: Uint8Array | null;
  /** Moved so far: written to the data connection, or read from it (STAT asks for it, and an
   * aborted transfer's record says it). */
  bytes: number;
  stream: DataStream | null;
  reader: VfsReader | null;
  writer: VfsWriter | null;
  /** Ends a rate-limit wait early (an abort). */
  wake: (() => void) | null;
}

export class Session {
  private state: SessionState;
  private readonly queue: SessionEvent[] = [];
  private draining = false;
  private stepping = false;
  private armed: Millis | null = null;
  private vfs: Vfs | null = null;
  private tls = false;
  private corePaused = false;
  private writeBlocked = false;
  private readingPaused = false;
  private controlClosing = false;
  private finished = false;
  private readonly channels = new Set<number>();
  private readonly transfers = new Map<number, RunningTransfer>();
  /** The transfer last aborted by the core and what it had moved: the core's notice of it follows
   * in the same step, and only the driver knows the count. */
  private aborted: { readonly transfer: number; readonly bytes: number } | null = null;
  private readonly io: SessionIo;
  private readonly auth: AuthProvider;
  private readonly hooks: SessionHooks;
  private readonly reducer: Reducer;
  private readonly serverRates: RateLimits;
  private rates: RateLimits;

  constructor(options: SessionOptions) {
    this.io = options.io;
    this.auth = options.auth;
    this.hooks = options.hooks ?? {};
    this.reducer = options.reducer ?? coreReducer;
    this.tls = options.open.implicitTls;
    this.serverRates = options.rates ?? UNLIMITED;
    this.rates = this.serverRates;
    this.state = this.reducer.initialSession(options.config, { ...options.open, now: this.io.now() });
  }

  /** Sends the greeting (or the 421 refusal). Call once the adapter has wired its callbacks. */
  start(): void {
    this.post({ type: "open", now: this.io.now() });
  }

  get closed(): boolean {
    return this.finished;
  }

  /** Whether the control connection is protected by TLS now. */
  get tlsActive(): boolean {
    return this.tls;
  }

  /** The current core state (read-only; for tests, STAT-like tooling and the simulator's oracles). */
  get current(): SessionState {
    return this.state;
  }

  post(event: SessionEvent): void {
    if (this.finished) return;
    if (this.queue.length >= MAX_QUEUED_EVENTS) throw new InvariantError("session event queue overflow");
    if (event.type === "tls.ready") this.tls = true;
    // The adapter's timer is one-shot: once it has fired nothing is armed, even if the tick came a
    // millisecond early (Node's setTimeout can) and the core's deadline is still the same one.
    if (event.type === "timer") this.armed = null;
    this.queue.push(event);
    if (this.draining) return;
    this.draining = true;
    try {
      for (let next = this.queue.shift(); next !== undefined; next = this.queue.shift()) {
        this.stepping = true;
        const result = this.reducer.step(this.state, next);
        this.stepping = false;
        this.state = result.state;
        this.hooks.stepped?.(next, result.state, result.actions);
        for (const action of result.actions) this.perform(action);
      }
    } finally {
      this.stepping = false;
      this.draining = false;
    }
    if (!this.closed) this.armTimer();
  }

  /** The adapter's control writer has room again. */
  controlDrained(): void {
    this.writeBlocked = false;
    this.updateReading();
  }

  /** The control connection is gone (after our close or the peer's): release everything. */
  controlClosed(): void {
    if (this.finished) return;
    if (!this.controlClosing) this.post({ type: "control.eof", now: this.io.now() });
    this.finished = true;
    for (const [id, t] of this.transfers) {
      this.transfers.delete(id);
      this.abort(t);
    }
    for (const channel of this.channels) this.io.data.close(channel);
    this.channels.clear();
    this.io.setTimer(null);
    this.armed = null;
    this.hooks.closed?.();
  }

  private armTimer(): void {
    const at = this.reducer.nextDeadline(this.state);
    if (at === this.armed) return;
    this.armed = at;
    this.io.setTimer(at);
  }

  private updateReading(): void {
    const pause = this.corePaused || this.writeBlocked;
    if (pause === this.readingPaused) return;
    this.readingPaused = pause;
    if (pause) this.io.control.pauseReading();
    else this.io.control.resumeReading();
  }

  private perform(action: Action): void {
    if (this.stepping) throw new InvariantError("re-entrant step");
    const io = this.io;
    switch (action.type) {
      case "control.write":
        if (!io.control.write(action.bytes)) {
          this.writeBlocked = true;
          this.updateReading();
        }
        return;
      case "control.close":
        this.controlClosing = true;
        io.control.close();
        return;
      case "control.pause":
        this.corePaused = true;
        this.updateReading();
        return;
      case "control.resume":
        this.corePaused = false;
        this.updateReading();
        return;
      case "control.tls":
        io.control.startTls();
        return;
      case "data.listen":
        this.channels.add(action.channel);
        io.data.listen(action.channel, action.family);
        return;
      case "data.adopt":
        io.data.adopt(action.channel, action.socket);
        return;
      case "data.reject":
        io.data.reject(action.channel, action.socket);
        return;
      case "data.connect":
        this.channels.add(action.channel);
        io.data.connect(action.channel, action.address, action.port, action.family);
        return;
      case "data.close":
        this.channels.delete(action.channel);
        io.data.close(action.channel);
        return;
      case "transfer.start":
        this.startTransfer(action.transfer, action.channel, action.spec, action.tls, action.requireResumption, action.stallTimeout);
        return;
      case "transfer.abort": {
        const t = this.transfers.get(action.transfer);
        this.transfers.delete(action.transfer);
        if (t !== undefined) {
          this.aborted = { transfer: action.transfer, bytes: t.bytes };
          this.abort(t);
        }
        return;
      }
      case "listing.write": {
        const t = this.transfers.get(action.transfer);
        if (t !== undefined) t.listed = action.bytes;
        return;
      }
      case "transfer.progress":
        // Queued behind this drain's events, not stepped from here.
        this.post({ type: "transfer.progress", now: io.now(), transfer: action.transfer, bytes: this.transfers.get(action.transfer)?.bytes ?? 0 });
        return;
      case "fs":
        this.runFs(action.request, action.fs);
        return;
      case "auth":
        this.runAuth(action.request, action.user, action.password);
        return;
      case "notice": {
        const notice = action.notice;
        const aborted = this.aborted;
        if (notice.kind === "transfer" && notice.outcome === "aborted" && aborted?.transfer === notice.transfer) {
          this.aborted = null;
          this.hooks.notice?.({ ...notice, bytes: aborted.bytes });
        } else {
          this.hooks.notice?.(notice);
        }
        return;
      }
      case "log":
        this.hooks.log?.(action.level, action.message);
        return;
      default:
        assertNever(action);
    }
  }

  /** Posts from a callback; results that arrive after the session ended are dropped. */
  private later(event: (now: Millis) => SessionEvent): void {
    if (this.finished) return;
    this.post(event(this.io.now()));
  }

  private runAuth(request: number, user: string, password: string): void {
    const remote = this.state.remote;
    this.auth.authenticate({ user, password, remote, tls: this.tls }).then(
      (grant) => {
        if (grant !== null) {
          this.vfs = grant.vfs;
          // The account's own limits override the server's, direction by direction.
          const own = grant.rates;
          this.rates = { down: own?.down === undefined ? this.serverRates.down : own.down, up: own?.up === undefined ? this.serverRates.up : own.up };
        }
        this.later((now) => ({ type: "auth.result", now, request, account: grant?.account ?? null }));
      },
      (error: unknown) => {
        this.hooks.log?.("warn", `auth provider failed: ${String(error)}`);
        this.later((now) => ({ type: "auth.result", now, request, account: null }));
      },
    );
  }

  private runFs(request: number, op: FsOp): void {
    const vfs = this.vfs;
    const done = (result: FsResult): void => {
      this.later((now) => ({ type: "fs.result", now, request, result }));
    };
    if (vfs === null) {
      done({ ok: false, error: "permission" });
      return;
    }
    fsCall(vfs, op).then(done, (error: unknown) => {
      if (!(error instanceof VfsError)) done({ ok: false, error: "io" });
      else done(error.limit === undefined ? { ok: false, error: error.kind } : { ok: false, error: error.kind, limit: error.limit });
    });
  }

  private startTransfer(id: number, channel: number, spec: TransferSpec, tls: boolean, requireResumption: boolean, stallTimeout: Millis): void {
    const t: RunningTransfer = { id, aborted: false, listed: null, bytes: 0, stream: null, reader: null, writer: null, wake: null };
    this.transfers.set(id, t);
    this.moveBytes(t, channel, spec, tls, requireResumption, stallTimeout).then(
      () => {
        if (t.aborted || !this.transfers.delete(id)) return;
        this.later((now) => ({ type: "transfer.done", now, transfer: id, bytes: t.bytes }));
      },
      (error: unknown) => {
        if (t.aborted || !this.transfers.delete(id)) return;
        this.abort(t);
        const failure = classify(error);
        if (failure.side === "file" && failure.error === "io") this.hooks.log?.("warn", `transfer ${id} failed: ${String(error)}`);
        this.later((now) => ({ type: "transfer.failed", now, transfer: id, bytes: t.bytes, failure }));
      },
    );
  }

  private async moveBytes(t: RunningTransfer, channel: number, spec: TransferSpec, tls: boolean, requireResumption: boolean, stallTimeout: Millis): Promise<void> {
    const vfs = this.vfs;
    t.stream = await dataStep(this.io.data.open(channel, tls, stallTimeout, requireResumption));
    if (t.aborted) return;
    const stream = t.stream;
    switch (spec.kind) {
      case "send-bytes":
        // Counted as written to the connection: a transfer cut short reports what the server sent.
        t.bytes += spec.bytes.length;
        await dataStep(stream.write(spec.bytes));
        await dataStep(stream.end());
        return;
      case "send-listing": {
        if (vfs === null) throw new VfsError("permission");
        // Page by page: the next page is read only once the lines of this one are written, so a
        // listing holds one page (or a small directory, sorted) whatever the directory's size.
        const pages = sortedWhenSmall(listingPages(vfs, spec.path))[Symbol.asyncIterator]();
        try {
          for (;;) {
            const next = await vfsStep(pages.next());
            if (stopped(t) || next.done === true) break;
            const lines = this.formatBatch(t, next.value);
            if (stopped(t)) return;
            if (lines.length === 0) continue;
            t.bytes += lines.length;
            await dataStep(stream.write(lines));
            if (stopped(t)) return;
          }
        } finally {
          await pages.return(undefined).catch(() => undefined);
        }
        if (stopped(t)) return;
        await dataStep(stream.end());
        return;
      }
      case "send-file": {
        if (vfs === null) throw new VfsError("permission");
        const reader = await vfs.read(spec.path, spec.ascii ? 0 : spec.offset);
        t.reader = reader;
        try {
          // An ABOR may have come while the file was opening: nothing is sent then.
          if (stopped(t)) return;
          const encoder = spec.ascii ? new AsciiEncoder(spec.offset) : null;
          // Unlimited (the default) costs nothing per chunk: no pacer, no timer.
          const pacer = this.rates.down === null ? null : new Pacer(this.rates.down, this.io.now());
          for await (const chunk of fileChunks(reader)) {
            if (stopped(t)) return;
            const out = encoder === null ? chunk : encoder.push(chunk);
            // The encoder keeps no reference to its input, so `out` flushed means `chunk` is free too.
            const done = reader.recycle === undefined ? undefined : () => reader.recycle?.(chunk);
            if (out.length === 0) {
              done?.();
              continue;
            }
            if (pacer === null) {
              t.bytes += out.length;
              await dataStep(stream.write(out, done));
              continue;
            }
            // Paced: the chunk goes out in slices, each after its wait; the last one frees the chunk.
            for (let at = 0; at < out.length; at += pacer.slice) {
              const end = Math.min(out.length, at + pacer.slice);
              await this.pace(t, stream, pacer.take(end - at, this.io.now()));
              if (stopped(t)) return;
              t.bytes += end - at;
              await dataStep(stream.write(out.subarray(at, end), end === out.length ? done : undefined));
            }
          }
        } finally {
          // Every path closes the file, including an abort that raced the open (found by the simulator).
          t.reader = null;
          await reader.close().catch(() => undefined);
        }
        await dataStep(stream.end());
        return;
      }
      case "receive-file": {
        if (vfs === null) throw new VfsError("permission");
        const writer = await vfs.write(spec.path, spec.mode, spec.offset);
        t.writer = writer;
        let stored = false;
        try {
          if (stopped(t)) return;
          const decoder = spec.ascii ? new AsciiDecoder() : null;
          const pacer = this.rates.up === null ? null : new Pacer(this.rates.up, this.io.now());
          // A writer that gathers pieces itself gets them as they came, not joined (a copy less).
          for await (const chunk of dataChunks(stream, writer.gathers === true ? 0 : undefined)) {
            if (stopped(t)) return;
            if (pacer !== null) {
              // A chunk already read is paid for in slices; while the wait lasts the stream reads
              // nothing more, so the client's sending slows to the rate.
              let wait = 0;
              for (let left = chunk.length; left > 0; left -= pacer.slice) wait = pacer.take(Math.min(left, pacer.slice), this.io.now());
              await this.pace(t, stream, wait);
              if (stopped(t)) return;
            }
            const data = decoder === null ? chunk : decoder.push(chunk);
            if (data.length > 0) await writer.write(data);
            t.bytes += chunk.length;
          }
          const tail = decoder?.end();
          if (tail !== undefined && tail.length > 0) await writer.write(tail);
          // The final reply may claim success only once the bytes are in the file.
          await writer.close();
          stored = true;
        } finally {
          t.writer = null;
          if (!stored) await writer.abort().catch(() => undefined);
        }
        await dataStep(stream.end());
        return;
      }
      default:
        assertNever(spec);
    }
  }

  /**
   * The core formats a listing batch: posted, it is stepped at once (the loop drains synchronously
   * and nothing else is draining when a transfer's await resumes), and its listing.write has left
   * the lines on the transfer by the time post returns. None only when the transfer was stopped.
   */
  private formatBatch(t: RunningTransfer, entries: readonly FileStat[]): Uint8Array {
    t.listed = null;
    this.post({ type: "listing.batch", now: this.io.now(), transfer: t.id, entries });
    const lines = t.listed as Uint8Array | null;
    t.listed = null;
    if (lines !== null) return lines;
    if (stopped(t)) return new Uint8Array(0);
    throw new InvariantError("a listing batch of a running transfer got no listing.write");
  }

  /** Waits `ms` on one platform timer with the stream held; an abort ends the wait at once. */
  private async pace(t: RunningTransfer, stream: DataStream, ms: Millis): Promise<void> {
    if (ms <= 0) return;
    stream.hold(true);
    await new Promise<void>((resolve) => {
      let timer: Timer | null = null;
      const wake = (): void => {
        t.wake = null;
        timer?.cancel();
        resolve();
      };
      t.wake = wake;
      timer = this.io.after(ms, wake);
    });
    if (!stopped(t)) stream.hold(false);
  }

  private abort(t: RunningTransfer): void {
    t.aborted = true;
    t.wake?.();
    t.stream?.destroy();
    t.reader?.close().catch(() => undefined);
    t.writer?.abort().catch(() => undefined);
    t.reader = null;
    t.writer = null;
  }
}

/** Marks errors from the data connection so they are not mistaken for file-system failures. */
class DataSideError extends Error {
  constructor(readonly reason: "reset" | "stall" | "tls" | "tls-timeout" | "tls-reuse", cause: unknown) {
    super(String(cause));
  }
}

async function dataStep<T>(promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch (error) {
    throw new DataSideError(error instanceof DataStreamError ? error.reason : "reset", error);
  }
}

async function* dataChunks(stream: DataStream, mergeBytes: number | undefined): AsyncGenerator<Uint8Array> {
  const iterator = stream.chunks(mergeBytes)[Symbol.asyncIterator]();
  for (;;) {
    const next = await dataStep(iterator.next());
    if (next.done === true) return;
    yield next.value;
  }
}

/** A back end's failure as a VfsError (a file-side failure of the transfer). */
async function vfsStep<T>(promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch (error) {
    throw error instanceof VfsError ? error : new VfsError("io", String(error));
  }
}

async function* fileChunks(reader: VfsReader): AsyncGenerator<Uint8Array> {
  const iterator = reader.chunks()[Symbol.asyncIterator]();
  for (;;) {
    let next: IteratorResult<Uint8Array>;
    try {
      next = await iterator.next();
    } catch (error) {
      throw error instanceof VfsError ? error : new VfsError("io", String(error));
    }
    if (next.done === true) return;
    yield next.value;
  }
}

/** Read through a call so the compiler does not narrow a flag that other callbacks flip mid-await. */
function stopped(t: RunningTransfer): boolean {
  return t.aborted;
}

function classify(error: unknown): TransferFailure {
  if (error instanceof DataSideError) return { side: "data", reason: error.reason };
  if (error instanceof VfsError) return { side: "file", error: error.kind };
  return { side: "file", error: "io" };
}

async function fsCall(vfs: Vfs, op: FsOp): Promise<FsResult> {
  switch (op.op) {
    case "stat":
      return { ok: true, value: { op: "stat", stat: await vfs.stat(op.path) } };
    case "list":
      return { ok: true, value: { op: "list", entries: await vfs.list(op.path) } };
    case "mkdir":
      await vfs.mkdir(op.path);
      return { ok: true, value: { op: "mkdir" } };
    case "rmdir":
      await vfs.rmdir(op.path);
      return { ok: true, value: { op: "rmdir" } };
    case "delete":
      await vfs.delete(op.path);
      return { ok: true, value: { op: "delete" } };
    case "rename":
      await vfs.rename(op.from, op.to);
      return { ok: true, value: { op: "rename" } };
    case "setMtime":
      await vfs.setMtime(op.path, op.mtime);
      return { ok: true, value: { op: "setMtime" } };
    default:
      return assertNever(op);
  }
}
