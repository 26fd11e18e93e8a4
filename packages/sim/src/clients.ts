// Simulated FTP clients: a well-behaved one running a random valid script, and hostile ones.
// Each checks what it sees against the oracles as it goes and reports violations to the run.
import { AsciiEncoder, feedReplies, formatEprtArg, formatPortArg, initialReplyReader, parse227, parse229, type ParsedReply } from "@pasv/core";
import type { SimFs } from "./memfs.js";
import type { Endpoint, Network } from "./net.js";
import type { Prng } from "./prng.js";
import { QUIET } from "./world.js";
import { clientHello, NO_TICKET, parseHandshake, TLS_RECORD, xorKey } from "./tls.js";

export interface ClientContext {
  readonly net: Network;
  readonly rng: Prng;
  readonly fs: SimFs;
  readonly server: { readonly address: string; readonly port: number };
  /** Where a thief looks for passive listeners. */
  readonly passivePorts: { readonly min: number; readonly max: number };
  /** Passive listeners one address may hold at once (the server's maxPassivePerIp, or its default). */
  readonly maxPassivePerIp?: number;
  fail(oracle: string, detail: string): void;
  count(name: string): void;
  /** What a client is doing now: named in liveness failures. */
  note(client: string, doing: string): void;
  /** The server's TLS promises, when it offers AUTH TLS (absent: it does not). */
  readonly tls?: {
    /** A protected data connection must resume the control connection's session. */
    readonly reuseCheck: boolean;
    /** Named users must protect the control connection before USER, and their data. */
    readonly required: boolean;
    readonly handshakeMs: number;
    /** The latest a platform timer fires after its time (the scenario's lateness). */
    readonly timerLate: number;
  };
  /** A prober starts (true) or ends (false): the racing attacker works while any prober does. */
  probing?(active: boolean): void;
}

/** How long past a TLS deadline a cut may come: timers fire late, the cut crosses the network. */
export const TLS_DEADLINE_SLACK_MS = 1_000;

/** Verbs that may get a 1yz mark before their final reply. */
const TRANSFER_VERBS = new Set(["RETR", "STOR", "APPE", "STOU", "LIST", "NLST", "MLSD"]);

class Closed extends Error {}

/** A control connection with the reply oracles built in. */
export class Control {
  private reader = initialReplyReader;
  private readonly replies: ParsedReply[] = [];
  private wake: (() => void) | null = null;
  /** Commands sent and not yet answered with a final reply, oldest first. */
  readonly outstanding: { verb: string; marked: boolean }[] = [];
  closed = false;
  got421 = false;
  /** Off for clients that send unparseable bytes on purpose: their line count is unknowable. */
  countReplies = true;
  /** The control connection's TLS: none, waiting for the server's DONE, or the session it made. */
  private tls: { state: "none" } | { state: "handshaking"; got: Uint8Array; done: (session: string | null) => void } | { state: "active"; session: string } = { state: "none" };
  /** PROT P is in force: data connections run a handshake. */
  protectData = false;
  /** With `stall`, every byte the server sends after 234 is kept here and parsed as nothing. */
  stalled: Uint8Array[] | null = null;

  constructor(readonly endpoint: Endpoint, private readonly ctx: ClientContext, private readonly name: string) {
    endpoint.handlers = {
      data: (bytes) => this.receive(bytes),
      end: () => this.close(),
      reset: () => {
        this.wasReset = true;
        this.close();
      },
    };
  }

  /** The connection ended with a reset (a network fault, or the server cutting it), not a FIN. */
  wasReset = false;

  /** The server's first reply (220, or a 421 refusal), expected and checked like a command's. */
  greeting(): Promise<ParsedReply> {
    this.outstanding.push({ verb: "(greeting)", marked: false });
    return this.reply();
  }

  static open(ctx: ClientContext, from: string, name: string): Promise<Control | null> {
    return new Promise((resolve) => {
      ctx.net.connect(from, ctx.server, (endpoint) => resolve(endpoint === null ? null : new Control(endpoint, ctx, name)));
    });
  }

  private close(): void {
    this.closed = true;
    if (this.tls.state === "handshaking") this.tls.done(null);
    this.poke();
  }

  /** Resolves once the connection is gone or `ms` have passed (true: gone). */
  gone(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = this.ctx.net.world.after(ms, () => resolve(this.closed));
      const wait = (): void => {
        if (this.closed) {
          timer.cancel();
          resolve(true);
        } else this.wake = wait;
      };
      wait();
    });
  }

  private poke(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** The TLS session of this control connection (what a data connection resumes), or null. */
  get tlsSession(): string | null {
    return this.tls.state === "active" ? this.tls.session : null;
  }

  /** After 234: the client's handshake; resolves with the session, or null when it failed. */
  startTls(): Promise<string | null> {
    return new Promise((resolve) => {
      this.tls = { state: "handshaking", got: new Uint8Array(0), done: resolve };
      this.endpoint.write(clientHello(NO_TICKET));
      if (this.closed) resolve(null);
    });
  }

  private receive(raw: Uint8Array): typeof QUIET | undefined {
    if (this.stalled !== null) {
      this.stalled.push(raw);
      this.poke();
      return undefined;
    }
    let bytes = raw;
    const tls = this.tls;
    if (tls.state === "handshaking") {
      const got = concat([tls.got, raw]);
      const end = got.indexOf(0x0a);
      if (got[0] !== TLS_RECORD || end >= 0 || got.length > 128) this.ctx.count("check: TLS handshakes as promised");
      if (got[0] !== TLS_RECORD || (end < 0 && got.length > 128)) {
        this.ctx.fail("TLS handshakes as promised", `${this.name}: the server answered the control ClientHello with ${JSON.stringify(new TextDecoder().decode(got.subarray(0, 40)))}`);
        this.tls = { state: "none" };
        tls.done(null);
        return undefined;
      }
      if (end < 0) {
        tls.got = got;
        return undefined;
      }
      const words = parseHandshake(got.subarray(0, end), "DONE");
      this.tls = { state: "active", session: words?.[0] ?? "?" };
      tls.done(words?.[0] ?? null);
      bytes = xorKey(got.subarray(end + 1));
      if (bytes.length === 0) return undefined;
    } else if (tls.state === "active") bytes = xorKey(raw);
    const fed = feedReplies(this.reader, bytes);
    this.reader = fed.reader;
    this.ctx.count("check: reply syntax");
    if (fed.error !== null) this.ctx.fail("reply syntax", `${this.name}: ${fed.error}`);
    for (const reply of fed.replies) this.check(reply);
    // A piece that completes no reply wakes nobody (the reader would only wait again), so its
    // event needs no drain: most pieces of a reply cut into single bytes are such.
    if (fed.replies.length === 0) return QUIET;
    this.replies.push(...fed.replies);
    this.poke();
    return undefined;
  }

  /** Exactly one final reply per command, in order; marks only for transfer verbs, once. */
  private check(reply: ParsedReply): void {
    if (!this.countReplies) return;
    this.ctx.count("check: one final reply per command");
    if (reply.code === 421) {
      this.got421 = true;
      this.outstanding.length = 0;
      return;
    }
    const head = this.outstanding[0];
    if (head === undefined) {
      this.ctx.fail("one final reply per command", `${this.name}: unsolicited ${reply.code} ${reply.lines.join(" ")}`);
      return;
    }
    if (!reply.final) {
      this.ctx.count("check: marks only where allowed");
      if (!TRANSFER_VERBS.has(head.verb) || head.marked) this.ctx.fail("marks only where allowed", `${this.name}: ${reply.code} mark for ${head.verb}`);
      head.marked = true;
      return;
    }
    this.outstanding.shift();
  }

  send(line: string): { verb: string; marked: boolean } {
    this.ctx.note(this.name, `sent ${line.slice(0, 40)}`);
    const verb = (line.split(" ")[0] ?? "").toUpperCase();
    const entry = { verb, marked: false };
    if (this.closed) return entry;
    this.outstanding.push(entry);
    const bytes = new TextEncoder().encode(`${line}\r\n`);
    this.endpoint.write(this.tls.state === "active" ? xorKey(bytes) : bytes);
    return entry;
  }

  /** Reads until `entry` has had its final reply (older commands' replies are consumed on the way). */
  async finalFor(entry: { verb: string; marked: boolean }): Promise<ParsedReply> {
    for (;;) {
      const r = await this.reply();
      if (r.code === 421 || (r.final && !this.outstanding.includes(entry))) return r;
    }
  }

  /** The next reply, or throws Closed once the connection is gone. */
  async reply(): Promise<ParsedReply> {
    for (;;) {
      const next = this.replies.shift();
      if (next !== undefined) {
        this.ctx.note(this.name, `got ${next.code}`);
        return next;
      }
      if (this.closed) throw new Closed();
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  /** Sends a command and returns its final reply (skipping marks). */
  async cmd(line: string): Promise<ParsedReply> {
    return this.finalFor(this.send(line));
  }
}

/** A PROT P data connection as the client runs it: the ticket it offers, and what goes wrong. */
export interface DataTls {
  /** The session offered for resumption: the control connection's, or another (a client that cannot resume). */
  readonly ticket: string;
  /** "silent": connects and never sends its ClientHello; "half": sends half of it; "no-resume": offers another ticket. */
  readonly fault: "none" | "silent" | "half" | "no-resume";
}

/** Collects one data connection's bytes until EOF or reset (after its handshake, with PROT P). */
class DataSink {
  readonly chunks: Uint8Array[] = [];
  done = false;
  reset = false;
  /** When the connection came up (simulated ms). */
  readonly since: number;

  /** With PROT P: the server's DONE as far as it came, until it is complete. */
  private handshake: Uint8Array | null = null;
  /** With PROT P: the session the server made, and whether it resumed the offered one. */
  session: { readonly id: string; readonly resumed: boolean } | null = null;
  /** With PROT P: bytes came that were not a handshake (the server skipped it). */
  unprotected = false;
  private wake: (() => void) | null = null;

  constructor(readonly endpoint: Endpoint, readonly tls: DataTls | null = null) {
    this.since = endpoint.net.world.now;

    if (tls !== null) {
      this.handshake = new Uint8Array(0);
      const hello = clientHello(tls.ticket);
      if (tls.fault === "half") endpoint.write(hello.subarray(0, hello.length >> 1));
      else if (tls.fault !== "silent") endpoint.write(hello);
    }
    endpoint.handlers = {
      data: (b) => this.take(b),
      end: () => {
        this.done = true;
        this.poke();
      },
      reset: () => {
        this.done = true;
        this.reset = true;
        this.poke();
      },
    };
  }

  private poke(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** QUIET when the piece wakes nobody (plain bytes are only collected), so its event needs no drain. */
  private take(b: Uint8Array): typeof QUIET | undefined {
    if (this.handshake === null) {
      this.chunks.push(this.session === null ? b : xorKey(b));
      return QUIET;
    }
    const got = concat([this.handshake, b]);
    if (got[0] !== TLS_RECORD) {
      this.unprotected = true;
      this.handshake = null;
      this.chunks.push(got);
      this.poke();
      return undefined;
    }
    const end = got.indexOf(0x0a);
    if (end < 0) {
      this.handshake = got;
      return undefined;
    }
    const words = parseHandshake(got.subarray(0, end), "DONE");
    this.handshake = null;
    this.session = { id: words?.[0] ?? "?", resumed: words?.[1] === "1" };
    if (end + 1 < got.length) this.chunks.push(xorKey(got.subarray(end + 1)));
    this.poke();
    return undefined;
  }

  /** PROT P: waits for the server's side of the handshake; false if it never came. */
  async ready(): Promise<boolean> {
    while (this.tls !== null && this.session === null && !this.done && !this.unprotected) await new Promise<void>((r) => (this.wake = r));
    return this.tls === null || this.session !== null;
  }

  /** Writes upload bytes, protected when the connection is. */
  write(bytes: Uint8Array): void {
    this.endpoint.write(this.session === null ? bytes : xorKey(bytes));
  }

  bytes(): Uint8Array {
    return concat(this.chunks);
  }

  async finished(): Promise<void> {
    while (!this.done) await new Promise<void>((r) => (this.wake = r));
  }
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

type Mode = "PASV" | "EPSV" | "PORT" | "EPRT";

/** The greeting that turns a banned address away (the core's refusal text for "banned"). */
function bannedGreeting(hello: ParsedReply): boolean {
  return hello.code === 421 && (hello.lines[0] ?? "").includes("failed logins");
}

/** Only a guesser fails logins: anyone else turned away as banned was locked out by another address. */
function checkNotBanned(ctx: ClientContext, who: string, address: string, hello: ParsedReply): void {
  ctx.count("check: nobody is banned for another address's failures");
  if (bannedGreeting(hello)) ctx.fail("nobody is banned for another address's failures", `${who} at ${address} was greeted as banned`);
}

const STOLEN = new TextEncoder().encode("stolen upload");

/** A client that follows the protocol, with random choices; returns when done or disconnected. */
export async function goodClient(ctx: ClientContext, id: number, address: string, steps: number): Promise<void> {
  const rng = ctx.rng.fork(`client ${id}`);
  const c = await Control.open(ctx, address, `client ${id}`);
  if (c === null) return;
  const home = `/c${id}`;
  try {
    const hello = await c.greeting();
    checkNotBanned(ctx, `client ${id}`, address, hello);
    if (hello.code !== 220) return;
    // With FTPS offered, most clients protect the control connection first (all must, when it is required).
    const tls = ctx.tls !== undefined && (ctx.tls.required || rng.chance(0.7));
    if (tls) {
      const mechanism = rng.pick(["TLS", "TLS", "TLS-C", "SSL"]);
      if ((await c.cmd(`AUTH ${mechanism}`)).code !== 234) return;
      if ((await c.startTls()) === null) return;
      ctx.count("client protected its control connection (AUTH TLS)");
      // AUTH SSL protects data by default (vsftpd's reading of the old drafts).
      c.protectData = mechanism === "SSL";
    }
    if ((await c.cmd("USER sim")).code !== 331) return;
    if ((await c.cmd("PASS pw")).code !== 230) return;
    if (tls && (ctx.tls.required || rng.chance(0.7))) {
      await c.cmd("PBSZ 0");
      if ((await c.cmd("PROT P")).code === 200) c.protectData = true;
    }
    await c.cmd(`MKD ${home}`);
    await c.cmd(`CWD ${home}`);
    let type: "A" | "I" = "A";
    const files = new Map<string, Uint8Array>();
    for (let i = 0; i < steps && !c.closed; i++) {
      const action = rng.pick(["noop", "type", "store", "store", "retr", "retr", "list", "rename", "delete", "size", "abort", "stat", "cwd", "vanish"] as const);
      switch (action) {
        case "noop":
          await c.cmd(rng.pick(["NOOP", "PWD", "SYST", "FEAT", "HELP"]));
          // Under TLS, now and then the data protection changes (a refused PROT C keeps P).
          if (c.tlsSession !== null && rng.chance(0.3)) {
            const level = rng.pick(["C", "P"] as const);
            if ((await c.cmd(`PROT ${level}`)).code === 200) c.protectData = level === "P";
          }
          break;
        case "type":
          type = rng.pick(["A", "I"]);
          await c.cmd(`TYPE ${type}`);
          break;
        case "cwd":
          await c.cmd(rng.pick([`CWD ${home}`, "CDUP", `CWD ${home}/../c${id}`]));
          await c.cmd(`CWD ${home}`);
          break;
        case "stat":
          await c.cmd(rng.pick(["STAT", `STAT ${home}`, "MLST", `MLST ${home}`]));
          break;
        case "size": {
          const name = rng.pick([...files.keys(), "missing"]);
          await c.cmd(`SIZE ${home}/${name}`);
          break;
        }
        case "delete": {
          const name = rng.pick([...files.keys(), "missing"]);
          const r = await c.cmd(`DELE ${home}/${name}`);
          if (r.code === 250) files.delete(name);
          break;
        }
        case "rename": {
          const name = rng.pick([...files.keys(), "missing"]);
          const to = `r${rng.int(0, 999)}.bin`;
          if ((await c.cmd(`RNFR ${home}/${name}`)).code !== 350) break;
          const r = await c.cmd(`RNTO ${home}/${to}`);
          const data = files.get(name);
          if (r.code === 250 && data !== undefined) {
            files.delete(name);
            files.set(to, data);
          }
          break;
        }
        case "list": {
          // Under TLS, now and then the root (never empty), so a listing's bytes cross the protected connection.
          const where = c.tlsSession !== null && rng.chance(0.5) ? " /" : "";
          await transfer(ctx, c, rng, address, `${rng.pick(["LIST", "NLST", "MLSD", "LIST -la"])}${where}`, null);
          break;
        }
        case "store": {
          const existing = [...files.keys()];
          const name = existing.length > 0 && rng.chance(0.3) ? rng.pick(existing) : `f${rng.int(0, 999)}.bin`;
          const body = rng.bytes(rng.pick([0, 1, 100, 3000, 20000]));
          const old = files.get(name);
          let offset = 0;
          if (type === "I" && old !== undefined && rng.chance(0.4)) {
            offset = rng.int(0, old.length);
            if ((await c.cmd(`REST ${offset}`)).code !== 350) break;
            ctx.count("STOR resume (REST)");
          }
          const verb = offset === 0 && old !== undefined && rng.chance(0.3) ? "APPE" : "STOR";
          // Some uploads end with a reset right after the last byte (a crashing client, a NAT timeout).
          const cut = rng.chance(0.15) ? "reset" : "fin";
          const r = await transfer(ctx, c, rng, address, `${verb} ${home}/${name}`, body, undefined, false, cut);
          // A REST whose transfer never came (its PASV failed) stays pending on the server for the next
          // transfer command (SPEC 4.11): clear it, or this client's next upload would be judged against
          // the wrong offset (seed 596177049: APPE at a stale REST is STOR at that offset).
          if (offset > 0 && r?.code !== 226) await c.cmd("REST 0");
          if (cut === "reset") {
            ctx.count("upload reset after its last byte");
            ctx.count("check: no 226 for an upload the client reset");
            if (r?.code === 226) ctx.fail("no 226 for an upload the client reset", `client ${id} ${verb} ${name}: 226 although the data connection was reset`);
          }
          if (r?.code === 226) {
            // No false success: a 226 means the stored bytes are exactly what was sent.
            const sent = type === "A" ? body.filter((b, k) => !(b === 0x0d && body[k + 1] === 0x0a)) : body;
            const expected = verb === "APPE" ? concat([old ?? new Uint8Array(), sent]) : offset > 0 ? concat([(old ?? new Uint8Array()).subarray(0, offset), sent]) : sent;
            const stored = ctx.fs.file(`${home}/${name}`);
            ctx.count("check: 226 means stored bytes equal sent bytes");
            ctx.count("check: data from a foreign address never used");
            if (stored !== undefined && new TextDecoder().decode(stored).includes("stolen upload")) ctx.fail("data from a foreign address never used", `client ${id} ${verb} ${name}: a thief's bytes were stored`);
            else if (stored === undefined || !equal(stored, expected)) ctx.fail("226 means stored bytes equal sent bytes", `client ${id} ${verb} ${name}: stored ${stored?.length ?? "none"} bytes, expected ${expected.length}`);
            files.set(name, expected);
          } else if (r !== null) {
            const now = ctx.fs.file(`${home}/${name}`);
            if (now === undefined) files.delete(name);
            else files.set(name, now);
          }
          break;
        }
        case "retr": {
          const name = rng.pick([...files.keys(), "missing"]);
          const content = ctx.fs.file(`${home}/${name}`);
          let offset = 0;
          if (content !== undefined && rng.chance(0.4)) {
            offset = rng.int(0, content.length);
            await c.cmd(`REST ${offset}`);
            ctx.count("REST + RETR");
          }
          const sink: { data: Uint8Array | null; mode?: string } = { data: null };
          const r = await transfer(ctx, c, rng, address, `RETR ${home}/${name}`, null, sink);
          if (offset > 0 && r?.code !== 226) await c.cmd("REST 0");
          if (r?.code === 226 && content !== undefined && sink.data !== null) {
            const stream = type === "A" ? new AsciiEncoder().push(content) : content;
            const expected = stream.subarray(Math.min(offset, stream.length));
            ctx.count("check: RETR bytes equal the file from the REST offset");
            if (!equal(sink.data, expected)) ctx.fail("RETR bytes equal the file from the REST offset", `client ${id} RETR ${name} at ${offset} (TYPE ${type}, ${sink.mode ?? "?"}): got ${sink.data.length} bytes, expected ${expected.length}`);
          }
          break;
        }
        case "abort": {
          const name = rng.pick([...files.keys(), "missing"]);
          await transfer(ctx, c, rng, address, `RETR ${home}/${name}`, null, undefined, true);
          break;
        }
        case "vanish": {
          // Killed mid-transfer (a crashed client, a pulled cable): both connections reset, no QUIT.
          // Rare and late in a client's run, since the client is gone after it.
          if (i < steps / 2 || !rng.chance(0.1)) break;
          const upload = rng.chance(0.5);
          const name = upload ? `v${i}` : rng.pick([...files.keys(), "missing"]);
          await transfer(ctx, c, rng, address, `${upload ? "STOR" : "RETR"} ${home}/${name}`, upload ? rng.bytes(rng.int(1, 20_000)) : null, undefined, "vanish");
          return;
        }
      }
    }
    await c.cmd("QUIT");
  } catch (error) {
    if (!(error instanceof Closed)) throw error;
  } finally {
    c.endpoint.end();
  }
}

/** Sets up a data connection, runs one transfer command, and returns its final reply (null if the session went away). */
async function transfer(
  ctx: ClientContext,
  c: Control,
  rng: Prng,
  address: string,
  line: string,
  upload: Uint8Array | null,
  sink?: { data: Uint8Array | null; mode?: string },
  abort: boolean | "vanish" = false,
  cut: "fin" | "reset" = "fin",
): Promise<ParsedReply | null> {
  const mode = rng.pick<Mode>(["PASV", "EPSV", "PORT", "EPRT"]);
  if (sink !== undefined) sink.mode = mode;
  const prot = c.protectData ? dataTls(c, rng) : null;
  let data: Promise<DataSink | null>;
  if (mode === "PASV" || mode === "EPSV") {
    const r = await c.cmd(mode);
    const port = mode === "PASV" ? parse227(r.lines[0] ?? "")?.port : parse229(r.lines[0] ?? "");
    if (port === undefined || port === null) return r;
    // Most clients connect right away, some only after the command.
    const early = rng.chance(0.7);
    // The sink is attached the moment the connection exists, so no early byte is lost.
    const connect = (): Promise<DataSink | null> => new Promise((resolve) => ctx.net.connect(address, { address: ctx.server.address, port }, (e) => resolve(e === null ? null : new DataSink(e, prot))));
    data = early ? connect() : Promise.resolve(null);
    if (!early) {
      const entry = c.send(line);
      data = connect();
      return finishTransfer(ctx, c, entry, data, upload, sink, abort, true, cut);
    }
  } else {
    const port = rng.int(20000, 29999);
    let accepted: (e: DataSink) => void = () => undefined;
    data = new Promise((resolve) => (accepted = resolve));
    if (!ctx.net.listen(address, port, (e) => accepted(new DataSink(e, prot)))) return null;
    const arg = mode === "PORT" ? formatPortArg(address, port) : formatEprtArg(4, address, port);
    const r = await c.cmd(`${mode} ${arg}`);
    if (r.code !== 200) {
      ctx.net.unlisten(address, port);
      return r;
    }
    const cleanup = data.then(() => ctx.net.unlisten(address, port));
    void cleanup;
  }
  const entry = c.send(line);
  return finishTransfer(ctx, c, entry, data, upload, sink, abort, false, cut);
}

/** A PROT P data connection: usually it resumes the control connection's session, now and then it
 * stalls its handshake or cannot resume (a client like Python's ftplib). */
function dataTls(c: Control, rng: Prng): DataTls {
  const fault = rng.pick(["none", "none", "none", "none", "none", "none", "none", "none", "none", "none", "none", "none", "silent", "half", "no-resume", "no-resume"] as const);
  return { ticket: fault === "no-resume" ? rng.pick([NO_TICKET, "s999999"]) : (c.tlsSession ?? NO_TICKET), fault };
}

/** The PROT P oracles, once a transfer's final reply is in. */
function checkProtected(ctx: ClientContext, c: Control, line: string, sink: DataSink, final: ParsedReply, markedAt: number): void {
  const tls = sink.tls;
  if (tls === null) return;
  ctx.count("check: a PROT P transfer never moves bytes unprotected");
  if (sink.unprotected) ctx.fail("a PROT P transfer never moves bytes unprotected", `${line}: the server sent bytes on the data connection without a TLS handshake`);
  const served = final.code === 226 || final.code === 250;

  if (tls.fault === "no-resume" && ctx.tls?.reuseCheck === true && c.tlsSession !== null) {
    ctx.count("check: a data connection that does not resume is never served");
    if (served || sink.chunks.some((b) => b.length > 0)) ctx.fail("a data connection that does not resume is never served", `${line}: ${final.code} and ${sink.bytes().length} byte(s) on a data connection that offered ${tls.ticket}, not the control session ${c.tlsSession}`);
  }
  if (tls.fault === "silent" || tls.fault === "half") {
    ctx.count("check: a stalled data handshake fails by its deadline");
    const since = Math.max(sink.since, markedAt);
    const took = sink.endpoint.net.world.now - since;
    const bound = (ctx.tls?.handshakeMs ?? 0) + (ctx.tls?.timerLate ?? 0) + TLS_DEADLINE_SLACK_MS;
    if (served) ctx.fail("a stalled data handshake fails by its deadline", `${line}: ${final.code} although the data connection never finished its handshake`);
    else if (final.code !== 421 && took > bound) ctx.fail("a stalled data handshake fails by its deadline", `${line}: the ${final.code} came ${took} ms after the stalled handshake began (deadline ${ctx.tls?.handshakeMs ?? "?"} ms)`);
  }
}

async function finishTransfer(
  ctx: ClientContext,
  c: Control,
  entry: { verb: string; marked: boolean },
  data: Promise<DataSink | null>,
  upload: Uint8Array | null,
  sink: { data: Uint8Array | null } | undefined,
  abort: boolean | "vanish",
  late: boolean,
  cut: "fin" | "reset",
): Promise<ParsedReply | null> {
  const first = await c.reply();
  if (first.final) {
    // Refused before the mark: give up the data connection, also one whose connect is still in
    // flight. It may yet reach a later PASV's listener on the same port, where the server cannot
    // tell it from that transfer's own (the right address, even the right TLS session): cut with a
    // reset it fails that transfer instead of being served as it (seeds 594922475, 595810438; a FIN
    // would be taken for an empty upload).
    void data.then((d) => d?.endpoint.reset());
    return entry.marked || c.outstanding.includes(entry) ? c.finalFor(entry) : first;
  }
  const markedAt = ctx.net.world.now;
  if (late) ctx.count("client connects after the mark");
  const collector = await Promise.race([data, new Promise<null>((r) => setTimeoutSim(ctx, 120_000, () => r(null)))]);
  if (collector === null) return c.finalFor(entry);
  const endpoint = collector.endpoint;
  const fault = collector.tls?.fault ?? "none";
  if (fault !== "none") ctx.count(`fault: data TLS ${fault === "no-resume" ? "does not resume the control session" : fault === "silent" ? "handshake stalls (no ClientHello)" : "handshake stalls (half a ClientHello)"}`);
  if (abort === "vanish") {
    if (upload !== null) endpoint.write(upload);
    c.endpoint.reset();
    endpoint.reset();
    ctx.count("client vanished mid-transfer");
    return null;
  }
  if (abort) {
    const abor = c.send("ABOR");
    ctx.count("ABOR during a transfer");
    const r = await c.finalFor(abor);
    endpoint.reset();
    return r;
  }
  const stalls = collector.tls !== null && (collector.tls.fault === "silent" || collector.tls.fault === "half");
  if (upload !== null && !stalls) {
    // A TLS client sends nothing protected before the server's side of the handshake, which must
    // come within the deadline (or the server must cut the connection): a server that takes the
    // ClientHello for the upload's first bytes reads the data connection unprotected.
    const bound = Math.max(0, markedAt + (ctx.tls?.handshakeMs ?? 0) + (ctx.tls?.timerLate ?? 0) + TLS_DEADLINE_SLACK_MS - ctx.net.world.now);
    const ready = collector.tls === null || (await Promise.race([collector.ready(), new Promise<boolean>((r) => setTimeoutSim(ctx, bound, () => r(false)))]));
    if (!ready && !collector.done && !collector.unprotected) ctx.fail("a PROT P transfer never moves bytes unprotected", `${entry.verb}: no TLS handshake from the server on an open data connection ${ctx.net.world.now - markedAt} ms after the mark`);
    if (!ready) endpoint.reset();
    else {
      for (let at = 0; at < upload.length; at += 4096) collector.write(upload.subarray(at, at + 4096));
      if (cut === "reset") endpoint.reset();
      else endpoint.end();
    }
  }
  const final = await c.finalFor(entry);
  checkProtected(ctx, c, entry.verb, collector, final, markedAt);
  await Promise.race([collector.finished(), new Promise<void>((r) => setTimeoutSim(ctx, 5_000, r))]);
  // Bernstein's client model: the file is complete only with an acceptance AND a data stream that
  // ended with FIN. A reset after the server handed everything to TCP loses data the server never
  // learns about; the client sees the reset and knows.
  if (sink !== undefined && collector.done && !collector.reset) sink.data = collector.bytes();
  if (!endpoint.finished) endpoint.end();
  return final;
}

function setTimeoutSim(ctx: ClientContext, ms: number, run: () => void): void {
  ctx.net.world.after(ms, run);
}

/** Hostile clients: garbage, overlong lines, bare LF, Telnet IAC, pipelined bursts, never reading, stealing data connections. */
export async function hostileClient(ctx: ClientContext, id: number, address: string, kind: "garbage" | "overlong" | "iac" | "burst" | "deaf" | "thief"): Promise<void> {
  const rng = ctx.rng.fork(`hostile ${id}`);
  const c = await Control.open(ctx, address, `hostile ${id} (${kind})`);
  if (c === null) return;
  const write = (bytes: Uint8Array | string): void => {
    c.endpoint.write(typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes);
  };
  try {
    checkNotBanned(ctx, `hostile ${id}`, address, await c.greeting());
    switch (kind) {
      case "garbage":
        // Unknown verbs are answered (one final each), raw bytes may be anything: only syntax is checked.
        c.countReplies = false;
        for (let i = 0; i < 5; i++) write(rng.bytes(rng.int(1, 300)));
        write("\r\nQUIT\r\n");
        break;
      case "overlong":
        c.send(`NOOP ${"x".repeat(rng.int(100, 20_000))}`);
        c.send("NOOP");
        break;
      case "iac":
        c.outstanding.push({ verb: "NOOP", marked: false }, { verb: "SYST", marked: false });
        write(new Uint8Array([0xff, 0xfb, 0x01, 0x4e, 0x4f, 0x4f, 0x50, 0x0a, 0xff, 0xf4, 0xff, 0xf2, 0x53, 0x59, 0x53, 0x54, 0x0d, 0x0a]));
        break;
      case "burst":
        for (const line of ["USER anonymous", "PASS x@", "PWD", "TYPE I", "NOOP", "SIZE /missing", "EPSV", "QUIT"]) c.send(line);
        break;
      case "deaf":
        // Stops reading for two minutes: long enough for every server grace period to run out. (A
        // client that never reads again would hang on any server once it has been cut off with a FIN.)
        c.endpoint.pause();
        for (let i = 0; i < 200; i++) c.send("HELP");
        ctx.net.world.after(120_000, () => c.endpoint.resume());
        break;
      case "thief": {
        // Keeps connecting to every passive port it can guess, from its own (foreign) address.
        c.outstanding.push({ verb: "QUIT", marked: false });
        const { min } = ctx.passivePorts;
        const max = Math.min(ctx.passivePorts.max, min + 63);
        // One target and one callback per port, made once: the rounds make 64,000 attempts.
        const guesses = Array.from({ length: max - min + 1 }, (_, i) => {
          const port = min + i;
          const stolen = (e: Endpoint | null): void => {
            if (e === null) return;
            ctx.count("check: data from a foreign address never used");
            e.handlers = {
              data: () => ctx.fail("data from a foreign address never used", `thief at ${address} received data on port ${port}`),
            };
            // Hopes to be served a download, or to have its bytes stored as someone's upload.
            e.write(STOLEN);
            e.end();
          };
          return { to: { address: ctx.server.address, port }, stolen };
        });
        for (let round = 0; round < 1000; round++) {
          for (const { to, stolen } of guesses) ctx.net.connect(address, to, stolen, true);
          await new Promise<void>((r) => ctx.net.world.after(rng.int(1, 3), r));
        }
        c.endpoint.write(new TextEncoder().encode("QUIT\r\n"));
        break;
      }
    }
    if (kind === "garbage") {
      while (!c.closed) await c.reply().catch(() => undefined);
    } else {
      while (c.outstanding.length > 0 && !c.closed) await c.reply();
    }
  } catch (error) {
    if (!(error instanceof Closed)) throw error;
  } finally {
    c.endpoint.end();
  }
}

const TD = new TextDecoder();

/** Whether `bytes` hold `needle` (a secret from outside the served root). */
function holds(bytes: Uint8Array, needle: string): boolean {
  return TD.decode(bytes).includes(needle.trim());
}

/**
 * A client with shell access's FTP half: it logs in and aims every kind of command at symlinks
 * inside and leading out of the root, and at the entries its accomplice swaps (disk.ts), checking
 * that nothing it is sent holds the secret that lives outside. The disk itself checks every call.
 */
export async function proberClient(ctx: ClientContext, id: number, address: string, steps: number, paths: readonly string[], secret: string): Promise<void> {
  const rng = ctx.rng.fork(`prober ${id}`);
  const name = `prober ${id}`;
  const c = await Control.open(ctx, address, name);
  if (c === null) return;
  ctx.probing?.(true);
  const check = (what: string, bytes: Uint8Array): void => {
    ctx.count("check: confinement holds");
    if (holds(bytes, secret)) ctx.fail("confinement holds", `${name}: ${what} carried a file from outside the served root`);
  };
  const cmd = async (line: string): Promise<ParsedReply> => {
    const r = await c.cmd(line);
    check(line, new TextEncoder().encode(r.lines.join("\n")));
    return r;
  };
  try {
    const hello = await c.greeting();
    checkNotBanned(ctx, name, address, hello);
    if (hello.code !== 220) return;
    if (ctx.tls?.required === true && ((await c.cmd("AUTH TLS")).code !== 234 || (await c.startTls()) === null)) return;
    if ((await c.cmd("USER sim")).code !== 331) return;
    if ((await c.cmd("PASS pw")).code !== 230) return;
    for (let i = 0; i < steps && !c.closed; i++) {
      const p = rng.pick(paths);
      const verb = rng.pick(["RETR", "RETR", "LIST", "NLST", "MLSD", "STOR", "APPE", "SIZE", "MDTM", "MLST", "STAT", "CWD", "MKD", "RMD", "DELE", "RNFR", "MFMT"] as const);
      switch (verb) {
        case "RETR":
        case "LIST":
        case "NLST":
        case "MLSD":
        case "STOR":
        case "APPE": {
          const sink: { data: Uint8Array | null; mode?: string } = { data: null };
          const upload = verb === "STOR" || verb === "APPE" ? new TextEncoder().encode(`probe ${i}\n`) : null;
          const r = await transfer(ctx, c, rng, address, `${verb} ${p}`, upload, sink);
          if (r !== null) check(`${verb} ${p}`, new TextEncoder().encode(r.lines.join("\n")));
          if (sink.data !== null) check(`${verb} ${p} (data)`, sink.data);
          break;
        }
        case "CWD":
          await cmd(`CWD ${p}`);
          await cmd("PWD");
          await cmd("CWD /");
          break;
        case "MKD":
          await cmd(rng.chance(0.5) ? `MKD ${p}` : `MKD ${p}/probe-${i}`);
          break;
        case "RNFR":
          if ((await cmd(`RNFR ${p}`)).code === 350) await cmd(`RNTO ${rng.pick(paths)}${rng.chance(0.5) ? "" : `-moved-${i}`}`);
          break;
        case "MFMT":
          await cmd(`MFMT 20200101000000 ${p}`);
          break;
        case "SIZE":
        case "MDTM":
        case "MLST":
        case "STAT":
        case "RMD":
        case "DELE":
          await cmd(`${verb} ${p}`);
          break;
      }
    }
    await c.cmd("QUIT");
  } catch (error) {
    if (!(error instanceof Closed)) throw error;
  } finally {
    ctx.probing?.(false);
    c.endpoint.end();
  }
}

/**
 * A client that pins passive ports: from one address, the per-address cap and two more sessions,
 * each asking for a passive listener at the same moment and never connecting. No more than the cap
 * may be granted; the rest get 425 (and so does anyone once the range is used up).
 */
export async function hoarderClient(ctx: ClientContext, id: number, address: string): Promise<void> {
  const rng = ctx.rng.fork(`hoarder ${id}`);
  const cap = ctx.maxPassivePerIp ?? 16;
  const open = async (k: number): Promise<Control | null> => {
    const c = await Control.open(ctx, address, `hoarder ${id}.${k}`);
    if (c === null) return null;
    try {
      const hello = await c.greeting();
      checkNotBanned(ctx, `hoarder ${id}`, address, hello);
      if (hello.code !== 220 || (await c.cmd("USER anonymous")).code !== 331 || (await c.cmd("PASS hoard@")).code !== 230) {
        c.endpoint.end();
        return null;
      }
      return c;
    } catch (error) {
      if (!(error instanceof Closed)) throw error;
      c.endpoint.end();
      return null;
    }
  };
  const sessions = (await Promise.all(Array.from({ length: cap + 2 }, (_, k) => open(k)))).filter((c): c is Control => c !== null);
  try {
    // All at once: well inside any accept deadline, so every listener granted is still held.
    const replies = await Promise.all(sessions.map((c) => c.cmd(rng.pick(["PASV", "EPSV"]))));
    const granted = replies.filter((r) => r.code === 227 || r.code === 229).length;
    for (const r of replies) if (r.code === 425) ctx.count("passive set-up refused (425: range used up or per-address cap)");
    ctx.count("check: passive listeners per address within the cap");
    if (granted > cap) ctx.fail("passive listeners per address within the cap", `hoarder at ${address}: ${granted} passive listeners granted at once, cap ${cap}`);
    await Promise.all(sessions.map((c) => c.cmd("QUIT")));
  } catch (error) {
    if (!(error instanceof Closed)) throw error;
  } finally {
    for (const c of sessions) c.endpoint.end();
  }
}

/** What a client that stalls its control handshake may read after 234 ("" is nothing), as SPEC §6.1
 * has it: a handshake that never began ("silent") is still plaintext and gets the driver's 421; one
 * under way ("half", "garbage") can carry no readable reply, but a stop that comes during it writes
 * its plaintext 421 all the same (the core does not yet tell the two apart on a stop). A network
 * reset may cut any of these short (see tlsStallClient). */
export const STALLED_HANDSHAKE_MAY_READ: Readonly<Record<"silent" | "half" | "garbage", readonly string[]>> = {
  silent: ["", "421"],
  half: ["", "421"],
  garbage: ["", "421"],
};

/**
 * A client that stalls its control handshake after 234: it sends nothing ("silent"), half a
 * ClientHello ("half"), or bytes that are not TLS ("garbage"), and then only reads. The server must
 * cut it by the handshake deadline and say nothing but what it promises (STALLED_HANDSHAKE_MAY_READ).
 */
export async function tlsStallClient(ctx: ClientContext, id: number, address: string, kind: "silent" | "half" | "garbage"): Promise<void> {
  const name = `TLS staller ${id} (${kind})`;
  const c = await Control.open(ctx, address, name);
  if (c === null) return;
  try {
    checkNotBanned(ctx, name, address, await c.greeting());
    if ((await c.cmd("AUTH TLS")).code !== 234) return;
    const since = ctx.net.world.now;
    c.stalled = [];
    ctx.count(`fault: control TLS handshake stalls (${kind})`);
    const hello = clientHello(NO_TICKET);
    if (kind === "half") c.endpoint.write(hello.subarray(0, hello.length >> 1));
    if (kind === "garbage") c.endpoint.write(new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n"));
    const bound = (ctx.tls?.handshakeMs ?? 0) + (ctx.tls?.timerLate ?? 0) + TLS_DEADLINE_SLACK_MS;
    const gone = await c.gone(bound + 60_000);
    ctx.count("check: a stalled TLS handshake is cut by its deadline");
    const took = ctx.net.world.now - since;
    if (!gone || took > bound) ctx.fail("a stalled TLS handshake is cut by its deadline", `${name}: ${gone ? `cut ${took} ms` : `still open ${took} ms`} after 234 (deadline ${ctx.tls?.handshakeMs ?? "?"} ms)`);
    ctx.count("check: a stalled TLS handshake gets only what the server promises");
    const said = new TextDecoder().decode(concat(c.stalled));
    const code = said === "" ? "" : said.slice(0, 3);
    // A reset (a network fault) may cut the reply anywhere, even before its first byte.
    const plainLines = said === "" || /^(421[ -][^\r\n]*\r\n)+$/.test(said) || (c.wasReset && /^(421[ -][^\r\n]*\r\n)*(4(2(1[ -][^\r\n]*)?)?)?$/.test(said));
    const allowed = c.wasReset ? [...STALLED_HANDSHAKE_MAY_READ[kind], "", "4", "42"] : STALLED_HANDSHAKE_MAY_READ[kind];
    if (!allowed.includes(code) || !plainLines) ctx.fail("a stalled TLS handshake gets only what the server promises", `${name}: read ${JSON.stringify(said.slice(0, 80))} after 234`);
  } catch (error) {
    if (!(error instanceof Closed)) throw error;
  } finally {
    c.endpoint.end();
  }
}

/**
 * A password guesser from its own address: session after session of wrong passwords for the named
 * user. With bans on (`banAfter`), once it has seen that many failures every later greeting must
 * turn it away as banned (the run's bans outlast it); with bans off it must never be.
 */
export async function guesserClient(ctx: ClientContext, id: number, address: string, banAfter: number | null, sessions: number): Promise<void> {
  let failures = 0;
  for (let s = 0; s < sessions; s++) {
    const c = await Control.open(ctx, address, `guesser ${id}`);
    if (c === null) continue;
    try {
      const hello = await c.greeting();
      if (banAfter !== null && failures >= banAfter) ctx.count("check: a guessing address is banned");
      if (bannedGreeting(hello)) {
        ctx.count("guesser banned at the door (421)");
        if (banAfter === null) ctx.fail("a guessing address is banned", `guesser at ${address} was banned with bans off`);
        return;
      }
      if (banAfter !== null && failures >= banAfter && hello.code === 220) ctx.fail("a guessing address is banned", `guesser at ${address} was greeted with 220 after ${failures} failed logins (bans after ${banAfter})`);
      if (hello.code !== 220) continue;
      for (let i = 0; i < 5 && !c.closed; i++) {
        if ((await c.cmd("USER sim")).code !== 331) break;
        const r = await c.cmd(`PASS wrong-${i}`);
        if (r.code === 530 || r.code === 421) {
          failures++;
          ctx.count("failed login (guesser)");
        }
        if (r.code !== 530) break;
      }
    } catch (error) {
      if (!(error instanceof Closed)) throw error;
    } finally {
      c.endpoint.end();
    }
  }
}

