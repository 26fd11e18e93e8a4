// A scripted world around the pure core for tests: an in-memory file system, accounts, and a data
// network that answers the core's actions at once. Everything goes through the public API.
import {
  checkInvariants,
  initialSession,
  isAnonymousName,
  makeConfig,
  nextDeadline,
  PRESETS,
  RIGHTS,
  type Right,
  step,
  type Account,
  type Action,
  type CoreConfig,
  type FileStat,
  type FsOp,
  type FsResult,
  type SessionEvent,
  type SessionState,
} from "../src/index.js";

export interface FakeNode {
  type: "file" | "dir";
  data: Uint8Array;
  mtime: number;
}

export interface WorldOptions {
  config?: Partial<Parameters<typeof makeConfig>[0]>;
  files?: Record<string, string | null>; // null = directory
  clientAddress?: string;
  serverAddress?: string;
  /** Accept the client's data connection as soon as a 227/229 goes out. */
  autoConnect?: boolean;
  /** Active connects fail. */
  refuseConnect?: boolean;
  /** Active connects never answer (neither connected nor failed). */
  holdConnect?: boolean;
  /** Transfers stay running until the test finishes them. */
  holdTransfers?: boolean;
  /** Entries per batch of a streamed listing (default 2). */
  listingBatch?: number;
  /** STAT's progress queries wait in `pendingProgress` until the test answers them. */
  holdProgress?: boolean;
  now?: number;
  refuse?: "max-sessions" | "max-sessions-per-ip" | "shutting-down";
  /** File-system requests wait in `pendingFs` until the test answers them. */
  manualFs?: boolean;
  implicitTls?: boolean;
  passiveAddress?: string;
  /** Control TLS handshakes fail. */
  failTls?: boolean;
  /** Control TLS handshakes wait until the test posts tls.ready. */
  holdTls?: boolean;
  /** Passive listeners fail to open. */
  failListen?: boolean;
  /** Do not post the `open` event (the greeting) yet. */
  noOpen?: boolean;
  /** More named users (alice: every right, reader: read-only, are always there). */
  accounts?: Record<string, { password: string; rights: readonly Right[]; hideDotFiles?: boolean }>;
  /** The anonymous account hides dot files (the driver's default); false here so older tests see them. */
  anonymousHidesDotFiles?: boolean;
}

const te = new TextEncoder();
const td = new TextDecoder();

export class World {
  state: SessionState;
  now: number;
  readonly config: CoreConfig;
  readonly fs = new Map<string, FakeNode>();
  readonly replies: string[] = [];
  readonly actions: Action[] = [];
  /** What the client received on data connections, one entry per finished transfer. */
  readonly received: string[] = [];
  /** Bytes the client will send on the next upload. */
  upload = "";
  closed = false;
  paused = false;
  running: { transfer: number; channel: number } | null = null;
  /** The lines the core answered for each listing.batch, in order (the current transfer's are joined in `listed`). */
  readonly listingWrites: string[] = [];
  /** A streamed listing the world is feeding: the batches still to post, and the text so far. */
  private listing: { transfer: number; batches: FileStat[][]; text: string } | null = null;
  /** Bytes the running transfer has moved, as the driver would report them to STAT. */
  progress = 0;
  readonly pendingProgress: Extract<Action, { type: "transfer.progress" }>[] = [];
  readonly pendingFs: Extract<Action, { type: "fs" }>[] = [];
  readonly notices: unknown[] = [];
  listening = new Map<number, number>(); // channel -> port
  adopted = new Set<number>();
  rejected: number[] = [];
  private nextSocket = 1;
  private readonly options: WorldOptions;
  private readonly accounts: Map<string, { password: string; rights: readonly Right[]; hideDotFiles?: boolean }>;

  constructor(options: WorldOptions = {}) {
    this.options = options;
    this.accounts = new Map([
      ["alice", { password: "secret", rights: RIGHTS }],
      ["reader", { password: "pw", rights: PRESETS["read-only"] }],
      ...Object.entries(options.accounts ?? {}),
    ]);
    this.now = options.now ?? 1_700_000_000_000;
    this.config = makeConfig(options.config ?? {});
    this.fs.set("/", { type: "dir", data: new Uint8Array(), mtime: this.now });
    for (const [path, content] of Object.entries(options.files ?? {})) {
      this.fs.set(path, content === null ? { type: "dir", data: new Uint8Array(), mtime: this.now } : { type: "file", data: te.encode(content), mtime: this.now - 86_400_000 });
    }
    this.state = initialSession(this.config, {
      now: this.now,
      local: { address: options.serverAddress ?? "127.0.0.1", port: 21 },
      remote: { address: options.clientAddress ?? "127.0.0.1", port: 40000 },
      implicitTls: options.implicitTls ?? false,
      passiveAddress: options.passiveAddress ?? null,
      refuse: options.refuse === undefined ? null : { reason: options.refuse },
    });
    if (options.noOpen !== true) this.post({ type: "open", now: this.now });
  }

  post(event: SessionEvent): void {
    const queue: SessionEvent[] = [event];
    while (queue.length > 0) {
      const next = queue.shift()!;
      const result = step(this.state, next);
      this.state = result.state;
      checkInvariants(this.state);
      for (const action of result.actions) {
        this.actions.push(action);
        this.perform(action, queue);
      }
    }
  }

  /** Sends raw text on the control connection; returns the replies it produced. */
  send(text: string): string[] {
    const before = this.replies.length;
    this.post({ type: "control.data", now: this.now, bytes: te.encode(text) });
    return this.replies.slice(before);
  }

  /** Sends one command line (CRLF added) and returns the replies it produced. */
  cmd(line: string): string[] {
    return this.send(`${line}\r\n`);
  }

  login(user = "alice", password = "secret"): void {
    this.cmd(`USER ${user}`);
    this.cmd(`PASS ${password}`);
  }

  advance(ms: number): string[] {
    const before = this.replies.length;
    this.now += ms;
    this.post({ type: "timer", now: this.now });
    return this.replies.slice(before);
  }

  /** Runs the clock to the core's next deadline. */
  expire(): string[] {
    const at = nextDeadline(this.state);
    if (at === null) return [];
    return this.advance(Math.max(0, at - this.now));
  }

  connectData(from = this.options.clientAddress ?? "127.0.0.1", channel = this.currentPassive()): number {
    const socket = this.nextSocket++;
    this.post({ type: "data.accepted", now: this.now, channel, socket, remote: { address: from, port: 50000 + socket } });
    return socket;
  }

  finishTransfer(failure?: Extract<SessionEvent, { type: "transfer.failed" }>["failure"]): string[] {
    const before = this.replies.length;
    const running = this.running;
    if (running === null) throw new Error("no transfer running");
    this.running = null;
    if (failure === undefined) this.post({ type: "transfer.done", now: this.now, transfer: running.transfer, bytes: this.progress });
    else this.post({ type: "transfer.failed", now: this.now, transfer: running.transfer, bytes: this.progress, failure });
    return this.replies.slice(before);
  }

  /** Posts one batch of the running (held) listing; returns the text the core answered with, or null for none. */
  feedListing(entries: readonly FileStat[]): string | null {
    const running = this.running;
    if (running === null) throw new Error("no transfer running");
    const before = this.listingWrites.length;
    this.post({ type: "listing.batch", now: this.now, transfer: running.transfer, entries });
    return this.listingWrites.length > before ? (this.listingWrites.at(-1) ?? null) : null;
  }

  /** The entries of a directory of the world, as a VFS would list them. */
  entriesOf(dir: string): FileStat[] {
    const entries: FileStat[] = [];
    for (const path of this.fs.keys()) if (path !== "/" && parent(path) === dir) entries.push(this.statOf(path)!);
    return entries;
  }

  /** Answers the oldest pending fs request with `result` and returns the replies it produced. */
  answerFs(result: FsResult): string[] {
    const before = this.replies.length;
    const next = this.pendingFs.shift();
    if (next === undefined) throw new Error("no fs request pending");
    this.post({ type: "fs.result", now: this.now, request: next.request, result });
    return this.replies.slice(before);
  }

  currentPassive(): number {
    const ch = this.state.channel;
    if (ch.kind !== "passive") throw new Error("no passive channel");
    return ch.id;
  }

  file(path: string): string | undefined {
    const node = this.fs.get(path);
    return node?.type === "file" ? td.decode(node.data) : undefined;
  }

  private perform(action: Action, queue: SessionEvent[]): void {
    const now = this.now;
    switch (action.type) {
      case "control.write":
        for (const line of td.decode(action.bytes).split("\r\n")) if (line !== "") this.replies.push(line);
        return;
      case "control.close":
        this.closed = true;
        return;
      case "control.pause":
        this.paused = true;
        return;
      case "control.resume":
        this.paused = false;
        return;
      case "control.tls":
        if (this.options.holdTls === true) return;
        queue.push(this.options.failTls === true ? { type: "tls.failed", now, message: "handshake failed", started: true, timedOut: false } : { type: "tls.ready", now });
        return;
      case "data.listen": {
        if (this.options.failListen === true) {
          queue.push({ type: "data.listen-failed", now, channel: action.channel, message: "EADDRINUSE" });
          return;
        }
        const port = 50000 + action.channel;
        this.listening.set(action.channel, port);
        queue.push({ type: "data.listening", now, channel: action.channel, port });
        if (this.options.autoConnect === true) {
          const socket = this.nextSocket++;
          // Delivered after the listening event, as a real client connects after reading 227.
          queue.push({ type: "data.accepted", now, channel: action.channel, socket, remote: { address: this.options.clientAddress ?? "127.0.0.1", port: 60000 + socket } });
        }
        return;
      }
      case "data.adopt":
        this.adopted.add(action.socket);
        this.listening.delete(action.channel);
        return;
      case "data.reject":
        this.rejected.push(action.socket);
        return;
      case "data.connect":
        if (this.options.holdConnect === true) return;
        queue.push(this.options.refuseConnect === true ? { type: "data.connect-failed", now, channel: action.channel, message: "ECONNREFUSED" } : { type: "data.connected", now, channel: action.channel });
        return;
      case "data.close":
        this.listening.delete(action.channel);
        return;
      case "transfer.start":
        this.running = { transfer: action.transfer, channel: action.channel };
        if (this.options.holdTransfers === true) return;
        this.running = null;
        queue.push(this.runTransfer(action));
        return;
      case "transfer.abort":
        this.running = null;
        this.listing = null;
        return;
      case "listing.write": {
        const text = td.decode(action.bytes);
        this.listingWrites.push(text);
        const listing = this.listing;
        if (listing === null || listing.transfer !== action.transfer) return;
        listing.text += text;
        queue.push(this.nextBatch(listing));
        return;
      }
      case "transfer.progress":
        if (this.options.holdProgress === true) this.pendingProgress.push(action);
        else queue.push({ type: "transfer.progress", now, transfer: action.transfer, bytes: this.progress });
        return;
      case "fs":
        if (this.options.manualFs === true) this.pendingFs.push(action);
        else queue.push({ type: "fs.result", now, request: action.request, result: this.runFs(action.fs) });
        return;
      case "auth":
        queue.push({ type: "auth.result", now, request: action.request, account: this.authenticate(action.user, action.password) });
        return;
      case "notice":
        this.notices.push(action.notice);
        return;
      case "log":
        return;
      default: {
        const never: never = action;
        throw new Error(`unknown action ${JSON.stringify(never)}`);
      }
    }
  }

  private authenticate(user: string, password: string): Account | null {
    if (isAnonymousName(user)) return { user: "anonymous", anonymous: true, rights: PRESETS["read-only"], hideDotFiles: this.options.anonymousHidesDotFiles ?? false };
    const account = this.accounts.get(user);
    return account?.password === password ? { user, anonymous: false, rights: account.rights, hideDotFiles: account.hideDotFiles ?? false } : null;
  }

  /** The next batch of a listing the world feeds by itself, or its end once every batch was written. */
  private nextBatch(listing: { transfer: number; batches: FileStat[][]; text: string }): SessionEvent {
    const batch = listing.batches.shift();
    if (batch !== undefined) return { type: "listing.batch", now: this.now, transfer: listing.transfer, entries: batch };
    this.listing = null;
    this.received.push(listing.text);
    return { type: "transfer.done", now: this.now, transfer: listing.transfer, bytes: te.encode(listing.text).length };
  }

  private runTransfer(action: Extract<Action, { type: "transfer.start" }>): SessionEvent {
    const now = this.now;
    const spec = action.spec;
    switch (spec.kind) {
      case "send-listing": {
        const node = this.fs.get(spec.path);
        if (node?.type !== "dir") return { type: "transfer.failed", now, transfer: action.transfer, bytes: 0, failure: { side: "file", error: "not-found" } };
        // Sorted by name like the driver sorts a small directory; batches of listingBatch entries.
        const entries = this.entriesOf(spec.path).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        const size = this.options.listingBatch ?? 2;
        const batches: FileStat[][] = [];
        for (let at = 0; at < entries.length; at += size) batches.push(entries.slice(at, at + size));
        const listing = { transfer: action.transfer, batches, text: "" };
        this.listing = listing;
        return this.nextBatch(listing);
      }
      case "send-bytes":
        this.received.push(td.decode(spec.bytes));
        return { type: "transfer.done", now, transfer: action.transfer, bytes: spec.bytes.length };
      case "send-file": {
        const node = this.fs.get(spec.path);
        if (node?.type !== "file") return { type: "transfer.failed", now, transfer: action.transfer, bytes: 0, failure: { side: "file", error: "not-found" } };
        let text = td.decode(node.data);
        if (spec.ascii) text = text.replace(/\r?\n/g, "\r\n");
        text = text.slice(spec.offset);
        this.received.push(text);
        return { type: "transfer.done", now, transfer: action.transfer, bytes: text.length };
      }
      case "receive-file": {
        const existing = this.fs.get(spec.path);
        if (spec.mode === "create-new" && existing !== undefined) return { type: "transfer.failed", now, transfer: action.transfer, bytes: 0, failure: { side: "file", error: "exists" } };
        if (!this.fs.has(parent(spec.path)) || existing?.type === "dir") return { type: "transfer.failed", now, transfer: action.transfer, bytes: 0, failure: { side: "file", error: "not-found" } };
        const old = existing?.type === "file" ? td.decode(existing.data) : "";
        const body = spec.ascii ? this.upload.replace(/\r\n/g, "\n") : this.upload;
        const content = spec.mode === "append" ? old + body : spec.mode === "at-offset" ? old.slice(0, spec.offset) + body : body;
        this.fs.set(spec.path, { type: "file", data: te.encode(content), mtime: now });
        return { type: "transfer.done", now, transfer: action.transfer, bytes: this.upload.length };
      }
      default: {
        const never: never = spec;
        throw new Error(`unknown spec ${JSON.stringify(never)}`);
      }
    }
  }

  private statOf(path: string): FileStat | null {
    const node = this.fs.get(path);
    if (node === undefined) return null;
    return { name: path === "/" ? "/" : path.slice(path.lastIndexOf("/") + 1), type: node.type, size: node.data.length, mtime: node.mtime, mode: node.type === "dir" ? 0o755 : 0o644, unique: `u${path.length}` };
  }

  private runFs(op: FsOp): FsResult {
    switch (op.op) {
      case "stat": {
        const stat = this.statOf(op.path);
        return stat === null ? { ok: false, error: "not-found" } : { ok: true, value: { op: "stat", stat } };
      }
      case "list": {
        const node = this.fs.get(op.path);
        if (node === undefined) return { ok: false, error: "not-found" };
        if (node.type !== "dir") return { ok: false, error: "not-a-directory" };
        return { ok: true, value: { op: "list", entries: this.entriesOf(op.path) } };
      }
      case "mkdir":
        if (this.fs.has(op.path)) return { ok: false, error: "exists" };
        if (!this.fs.has(parent(op.path))) return { ok: false, error: "not-found" };
        this.fs.set(op.path, { type: "dir", data: new Uint8Array(), mtime: this.now });
        return { ok: true, value: { op: "mkdir" } };
      case "rmdir": {
        const node = this.fs.get(op.path);
        if (node === undefined) return { ok: false, error: "not-found" };
        if (node.type !== "dir") return { ok: false, error: "not-a-directory" };
        for (const path of this.fs.keys()) if (parent(path) === op.path && path !== op.path) return { ok: false, error: "not-empty" };
        this.fs.delete(op.path);
        return { ok: true, value: { op: "rmdir" } };
      }
      case "delete": {
        const node = this.fs.get(op.path);
        if (node === undefined) return { ok: false, error: "not-found" };
        if (node.type === "dir") return { ok: false, error: "is-a-directory" };
        this.fs.delete(op.path);
        return { ok: true, value: { op: "delete" } };
      }
      case "rename": {
        const node = this.fs.get(op.from);
        if (node === undefined) return { ok: false, error: "not-found" };
        this.fs.delete(op.from);
        this.fs.set(op.to, node);
        return { ok: true, value: { op: "rename" } };
      }
      case "setMtime": {
        const node = this.fs.get(op.path);
        if (node === undefined) return { ok: false, error: "not-found" };
        node.mtime = op.mtime;
        return { ok: true, value: { op: "setMtime" } };
      }
      default: {
        const never: never = op;
        throw new Error(`unknown fs op ${JSON.stringify(never)}`);
      }
    }
  }
}

function parent(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

export function codes(replies: readonly string[]): number[] {
  return replies.filter((r) => /^\d{3} /.test(r)).map((r) => Number(r.slice(0, 3)));
}
