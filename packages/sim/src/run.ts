// One simulated run from one seed: a server, several clients (some hostile), faults drawn per seed,
// oracles checked throughout, then a calm phase in which every client must finish.
import { RIGHTS, type Action, type Right, type SessionEvent } from "@pasv/core";
import { CLOSE_GRACE_MS, CONTROL_CLOSE_GRACE_MS, coreReducer, defaultMaxPassivePerIp, TLS_HANDSHAKE_MS, type Reducer, type ServerOptions } from "@pasv/driver";
import { goodClient, guesserClient, hoarderClient, hostileClient, proberClient, tlsStallClient, type ClientContext } from "./clients.js";
import { buildHost, DiskVfs, noteEscapes, PROBE_PATHS, raceSwaps, SECRET, SimDisk, type DiskConfinement } from "./disk.js";
import { CALM_FS, SimFs, type FsFaults } from "./memfs.js";
import { CALM_NET, Counters, Network, type NetFaults } from "./net.js";
import { SimServer, type SimServerConfig } from "./platform.js";
import { fnv1a, Prng } from "./prng.js";
import { World } from "./world.js";

export interface Failure {
  readonly oracle: string;
  readonly detail: string;
}

export interface RunResult {
  readonly seed: number;
  readonly failures: readonly Failure[];
  readonly counters: ReadonlyMap<string, number>;
  /** FNV-1a over the trace: equal for two runs of one seed (the determinism check). */
  readonly traceHash: string;
  readonly trace: readonly string[] | null;
  /** Every control line, client's and server's, with its time and session (with `transcript`). */
  readonly transcript: readonly string[] | null;
  readonly events: number;
  readonly simulatedMs: number;
}

export interface Scenario {
  readonly net: NetFaults;
  readonly fs: FsFaults;
  readonly server: SimServerConfig;
  /** When the server's close() is called (simulated ms), or null for never. */
  readonly shutdownAt: number | null;
  /** close({ drainMs }): running transfers may finish for this long first (0: stop at once). */
  readonly drainMs: number;
  /** When the server reloads (simulated ms), or null for never, and what the reload changes. */
  readonly reloadAt: number | null;
  readonly reloadTo: Pick<SimServerConfig, "timeouts" | "maxRateDown" | "maxRateUp">;
  /** Every good client connects from one address (so the per-address cap bites). */
  readonly sharedAddress: boolean;
  readonly goodClients: number;
  readonly hostile: readonly ("garbage" | "overlong" | "iac" | "burst" | "deaf" | "thief")[];
  readonly steps: number;
  /** The named user's rights. */
  readonly rights: readonly Right[];
  /** Password guessers, each from its own address. */
  readonly guessers: number;
  /** Clients that stall their control TLS handshake after 234 (with `server.tls`). */
  readonly tlsStallers: readonly ("silent" | "half" | "garbage")[];
  /** The served root on a simulated disk with symlinks (null: the driver's MemoryFs): how it is
   * confined, whether an attacker swaps entries for symlinks while probers work, how many probers. */
  readonly disk: { readonly confine: DiskConfinement; readonly race: boolean; readonly probers: number } | null;
  /** Clients that pin passive ports from their own address (hoarderClient). */
  readonly hoarders: number;
}

/** Swarm testing: each seed draws its own faults (some off) and shrinks limits so limit paths run. */
export function drawScenario(rng: Prng): Scenario {
  const r = rng.fork("scenario");
  const on = (p: number, value: number): number => (r.chance(p) ? value : 0);
  const drawn = {
    net: {
      maxChunk: r.pick([1, 2, 7, 64, 1500, 65536]),
      minLatency: r.int(0, 2),
      maxLatency: r.pick([2, 5, 50]),
      refuseConnect: on(0.3, 0.05),
      resetPerChunk: on(0.3, 0.0005),
      timerEarly: on(0.5, r.pick([1, 2])),
      timerLate: on(0.5, r.pick([1, 50])),
    },
    fs: {
      failOp: on(0.4, 0.03),
      noSpaceMidWrite: on(0.3, 0.2),
      ioMidRead: on(0.3, 0.2),
      maxReadChunk: r.pick([1, 100, 4096, 65536]),
      maxDelay: r.pick([0, 1, 20]),
    },
    server: {
      passivePorts: { min: 49152, max: r.pick([49152 + 63, 65534]) },
      limits: {
        maxLineBytes: r.pick([64, 512, 8192]),
        maxBufferedInput: r.pick([256, 4096, 65536]),
        maxBadCommands: r.pick([3, 50]),
      },
      timeouts: {
        idle: r.pick([2_000, 30_000, 300_000]),
        login: r.pick([5_000, 60_000]),
        dataAccept: r.pick([500, 5_000, 60_000]),
        dataConnect: r.pick([500, 30_000]),
        dataStall: r.pick([1_000, 300_000]),
        failedLoginDelay: r.pick([0, 2_000]),
      },
      maxSessions: r.pick([1, 3, 512]),
      maxSessionsPerIp: r.pick([1, 2, 64]),
    },
    shutdownAt: r.chance(0.25) ? r.int(1, 120_000) : null,
    sharedAddress: r.chance(0.3),
    goodClients: r.int(1, 4),
    hostile: Array.from({ length: r.int(0, 3) }, () => r.pick(["garbage", "overlong", "iac", "burst", "deaf", "thief"] as const)),
    steps: r.int(5, 25),
    // Drawn last so the draws above stay what they were for every seed. Often every right (so the
    // transfer oracles have work), else a random subset: the rights oracle watches every refusal.
    rights: r.chance(0.4) ? RIGHTS : RIGHTS.filter(() => r.chance(0.6)),
  };
  const guessing = drawGuessing(r);
  // After every earlier draw, for the same reason: some seeds pace their transfers (down to 2 kB/s,
  // slower than any file a client sends takes to cross the simulated network).
  const rates = r.chance(0.3) ? { maxRateDown: r.pick([0, 2_000, 65_536]), maxRateUp: r.pick([0, 2_000, 65_536]) } : {};
  // Then the server's life: a stop that lets transfers drain, a reload in the middle of the run.
  const drainMs = r.chance(0.5) ? r.pick([100, 5_000, 60_000]) : 0;
  const reloadAt = r.chance(0.3) ? r.int(1, 120_000) : null;
  const reloadTo = { timeouts: { ...drawn.server.timeouts, idle: r.pick([2_000, 300_000]), dataStall: r.pick([1_000, 300_000]) }, maxRateDown: r.pick([0, 2_000]), maxRateUp: r.pick([0, 65_536]) };
  const tls = drawTls(r);
  const disk = drawDisk(r);
  const passive = drawPassive(r);
  return { ...drawn, guessers: guessing.guessers, server: { ...drawn.server, bans: guessing.bans, ...rates, ...tls.server, ...passive.server }, drainMs, reloadAt, reloadTo, tlsStallers: tls.stallers, disk, hoarders: passive.hoarders };
}

/** Passive ports running out (after every earlier draw): now and then a range of one to four ports,
 * sometimes a per-address cap, and clients that pin what they can. */
function drawPassive(r: Prng): { readonly server: Partial<Pick<SimServerConfig, "passivePorts" | "maxPassivePerIp">>; readonly hoarders: number } {
  const narrow = r.chance(0.2);
  const server = { ...(narrow ? { passivePorts: { min: 49152, max: 49152 + r.pick([0, 1, 3]) } } : {}), ...(r.chance(0.2) ? { maxPassivePerIp: r.pick([1, 2]) } : {}) };
  return { server, hoarders: r.chance(narrow ? 0.7 : 0.15) ? r.int(1, 2) : 0 };
}

/** The simulated disk in half the seeds (after every earlier draw). Mostly confined through
 * descriptors, with the attacker racing; some seeds confine by name only, as hosts without
 * /proc do, and there no attacker races: a by-name check promises only that a tree whose symlinks
 * stand still keeps FTP commands inside (confine.ts's Guarantee). */
function drawDisk(r: Prng): Scenario["disk"] {
  if (!r.chance(0.5)) return null;
  const confine: DiskConfinement = r.chance(0.8) ? "descriptor" : "name";
  return { confine, race: confine === "descriptor" && r.chance(0.8), probers: r.int(1, 2) };
}

/** FTPS in about half the seeds (after every earlier draw): sometimes required, now and then without
 * the reuse check, with a handshake deadline short enough that stalled handshakes run out in the run. */
function drawTls(r: Prng): { readonly server: Pick<SimServerConfig, "tls" | "tlsHandshakeMs">; readonly stallers: Scenario["tlsStallers"] } {
  if (!r.chance(0.5)) return { server: {}, stallers: [] };
  const server = { tls: { required: r.chance(0.25), reuseCheck: r.chance(0.85) }, tlsHandshakeMs: r.pick([500, 3_000, 10_000]) };
  const stallers = Array.from({ length: r.pick([0, 0, 1, 2]) }, () => r.pick(["silent", "half", "garbage"] as const));
  return { server, stallers };
}

/** Bans on or off, and guessers to meet them; the bans outlast the run, so a ban once earned holds. */
function drawGuessing(r: Prng): { readonly guessers: number; readonly bans: NonNullable<SimServerConfig["bans"]> } {
  const guessers = r.chance(0.4) ? r.int(1, 2) : 0;
  const bans = r.chance(0.6) ? { after: r.int(1, 6), windowMs: 100_000_000, durationMs: 100_000_000 } : false;
  return { guessers, bans };
}

export interface RunOptions {
  readonly scenario?: (rng: Prng) => Scenario;
  /** A wrapped reducer (tests plant bugs this way to prove an oracle bites). */
  readonly reducer?: Reducer;
  /** Other options for the driver than the scenario's, which the oracles still judge by (a planted
   * deadline or cap the driver does not keep). */
  readonly plant?: (options: ServerOptions) => ServerOptions;
  readonly keepTrace?: boolean;
  /** Keep a readable transcript of every control connection (see RunResult.transcript). */
  readonly transcript?: boolean;
  /** Simulated time with faults on; afterwards the world is calm and everyone must finish. */
  readonly faultyMs?: number;
  readonly calmMs?: number;
  /** Your own clients instead of the drawn ones: each promise is one client, judged for liveness. */
  readonly clients?: (ctx: ClientContext) => readonly Promise<void>[];
}

export async function runSeed(seed: number, options: RunOptions = {}): Promise<RunResult> {
  const rng = new Prng(seed);
  const scenario = (options.scenario ?? drawScenario)(rng);
  const world = new World();
  const counters = new Counters();
  const failures: Failure[] = [];
  const fail = (oracle: string, detail: string): void => {
    if (failures.length < 20) failures.push({ oracle, detail });
  };
  const net = new Network(world, rng.fork("net"), scenario.net, counters);
  const disk = scenario.disk === null ? null : new SimDisk(world, rng.fork("disk"), "/srv/ftp", 2);
  if (disk !== null) buildHost(disk);
  const fs = new SimFs(world, rng.fork("fs"), scenario.fs, counters, disk === null || scenario.disk === null ? undefined : new DiskVfs(disk, scenario.disk.confine, () => counters.bump("race: an entry swapped between a confinement check and its use")));
  fs.addFile("/readme.txt", new TextEncoder().encode("hello\nworld\n"));
  const trace: string[] = [];
  let hash = 0x811c9dc5;
  const keepTrace = options.keepTrace === true;
  const reducer: Reducer = options.reducer ?? coreReducer;
  function observe(event: SessionEvent, actions: readonly Action[]): void {
    // The trace line is "NOW TYPE ACTION,ACTION": hashed piece by piece (the same FNV-1a value as
    // hashing the joined line), and the line itself is built only when the trace is kept.
    hash = fnv1a(event.type, fnv1a(" ", fnv1a(String(world.now), hash)));
    hash = fnv1a(" ", hash);
    for (let i = 0; i < actions.length; i++) {
      if (i > 0) hash = fnv1a(",", hash);
      hash = fnv1a(actions[i]!.type, hash);
    }
    if (keepTrace) trace.push(`${world.now} ${event.type} ${actions.map((a) => a.type).join(",")}`);
    if (event.type === "control.data" && event.bytes[event.bytes.length - 1] === 0x0d) counters.bump("CR and LF split across chunks");
    if (event.type === "data.listen-failed") counters.bump("fault: passive listen failed (range used up or per-address cap)");
    for (const a of actions) {
      if (a.type === "control.pause") counters.bump("input queue limit hit (reading paused)");
      if (a.type === "data.reject") counters.bump("data connection refused (foreign or extra)");
      if (a.type === "transfer.abort") counters.bump("transfer aborted while running");
      if (a.type === "fs") {
        if ("path" in a.fs) checkPath(a.fs.path);
        else {
          checkPath(a.fs.from);
          checkPath(a.fs.to);
        }
      }
      // Every counted reply starts with a 4 at a line start: decode nothing else.
      if (a.type === "control.write" && hasLineStartingWith4(a.bytes)) {
        const text = DECODER.decode(a.bytes);
        if (text.startsWith("421")) counters.bump(event.type === "open" ? "session refused at the door (421)" : "421 and close");
        if (/^425 /m.test(text) && event.type === "timer") counters.bump("data accept/connect timeout (425)");
        if (/^426 /m.test(text)) counters.bump("426 transfer failed on the data side");
        if (/^45[12] /m.test(text)) counters.bump("451/452 file-side failure");
      }
    }
  }
  function checkPath(path: string): void {
    counters.bump("check: no file-system access outside the root");
    if (!path.startsWith("/") || /(^|\/)\.\.?(\/|$)/.test(path) || path.includes("//")) fail("no file-system access outside the root", `fs request for ${JSON.stringify(path)}`);
  }
  // Every transfer that started is logged exactly once, however it ends (a client killed mid-way,
  // a stop, a reset after the last byte), and a completed one only with its 226.
  const startedTransfers = new Set<string>();
  let stopStarted: number | null = null;
  const loggedTransfers = new Set<string>();
  const transcript = options.transcript === true ? new Transcript() : null;
  const onStep = (id: number, event: SessionEvent, actions: readonly Action[]): void => {
    observe(event, actions);
    transcript?.step(world.now, id, event, actions);
    for (const a of actions) if (a.type === "transfer.start") startedTransfers.add(`${id}:${a.transfer}`);
  };
  const server = new SimServer(net, { address: "10.0.0.1", port: 21, server: { ...scenario.server, rights: scenario.rights }, fs, reducer, onViolation: fail, onStep, counters, ...(options.plant === undefined ? {} : { plant: options.plant }) });
  server.server.on("transfer", (e) => {
    const key = `${e.id}:${e.transfer}`;
    counters.bump("check: every transfer logged once");
    if (stopStarted !== null && scenario.drainMs > 0) counters.bump("check: a drain lets running transfers finish");
    counters.bump(`transfer logged: ${e.outcome}${e.reason === null ? "" : ` (${e.reason})`}`);
    if (loggedTransfers.has(key)) fail("every transfer logged once", `session ${e.id} transfer ${e.transfer} logged twice`);
    loggedTransfers.add(key);
    if (e.outcome === "completed" && e.code !== 226) fail("every transfer logged once", `session ${e.id} transfer ${e.transfer} logged completed with ${e.code}`);
    if (e.outcome !== "completed" && e.reason === null) fail("every transfer logged once", `session ${e.id} transfer ${e.transfer} logged ${e.outcome} without a reason`);
    // Nothing lost to a drain: a stop cuts a running transfer only once the drain is over (give or
    // take the simulated timers' early firing).
    if (e.reason === "shutdown" && stopStarted !== null && world.now < stopStarted + scenario.drainMs - scenario.net.timerEarly) fail("a drain lets running transfers finish", `session ${e.id} transfer ${e.transfer} cut by the stop ${world.now - stopStarted} ms into a ${scenario.drainMs} ms drain`);
  });
  await server.listen();
  const shutdown: { state: "no" | "closing" | "closed" } = { state: "no" };
  if (scenario.shutdownAt !== null) {
    world.schedule(scenario.shutdownAt, () => {
      shutdown.state = "closing";
      counters.bump(scenario.drainMs > 0 ? "server shutdown with a drain" : "server shutdown");
      const started = world.now;
      stopStarted = started;
      server.server.close({ drainMs: scenario.drainMs }).then(
        () => {
          shutdown.state = "closed";
          counters.bump("check: shutdown finishes");
          // The drain, then the 421s and at most the close grace; a peer that never reads adds the control grace.
          if (world.now - started > scenario.drainMs + CLOSE_GRACE_MS + CONTROL_CLOSE_GRACE_MS + 1_000) fail("shutdown finishes", `close({ drainMs: ${scenario.drainMs} }) took ${world.now - started} ms`);
          if (net.listeningOn("10.0.0.1") > 0) fail("shutdown finishes", `${net.listeningOn("10.0.0.1")} listener(s) still open after close()`);
          if (server.server.sessionCount > 0) fail("shutdown finishes", `${server.server.sessionCount} session(s) left after close()`);
        },
        (error: unknown) => fail("shutdown finishes", `close() rejected: ${String(error)}`),
      );
    });
  }
  if (scenario.reloadAt !== null) {
    world.schedule(scenario.reloadAt, () => {
      if (shutdown.state !== "no") return;
      counters.bump("server reload mid-run");
      counters.bump("check: a valid reload applies");
      server.reload(scenario.reloadTo).then(
        () => counters.bump("reload applied"),
        (error: unknown) => {
          // A reload racing the stop is refused by design; any other refusal is a bug.
          if (shutdown.state === "no") fail("a valid reload applies", String(error));
        },
      );
    });
  }
  // An exception inside the driver's promise chains would otherwise vanish as an unhandled rejection.
  const onRejection = (reason: unknown): void => fail("invariants and no exceptions", `unhandled rejection: ${String(reason)}`);
  process.on("unhandledRejection", onRejection);
  const doing = new Map<string, string>();
  // Probers at work (the racing attacker works while one is), and whether the faults have stopped.
  let probing = 0;
  let calm = false;
  const ctx: ClientContext = {
    passivePorts: scenario.server.passivePorts,
    maxPassivePerIp: scenario.server.maxPassivePerIp ?? defaultMaxPassivePerIp(scenario.server.passivePorts),
    net,
    rng: rng.fork("clients"),
    fs,
    server: { address: "10.0.0.1", port: 21 },
    fail,
    count: (n) => counters.bump(n),
    note: (client, what) => doing.set(client, `${what} at ${world.now} ms`),
    probing: (active) => {
      probing += active ? 1 : -1;
      if (active && probing === 1 && disk !== null && scenario.disk?.race === true && !calm) disk.race(raceSwaps(disk), () => probing > 0 && !calm, counters);
    },
    ...(scenario.server.tls === undefined ? {} : { tls: { ...scenario.server.tls, handshakeMs: scenario.server.tlsHandshakeMs ?? TLS_HANDSHAKE_MS, timerLate: scenario.net.timerLate } }),
  };
  const clients: Promise<void>[] = [];
  let finished = 0;
  const track = (name: string, p: Promise<void>): void => {
    clients.push(
      p.then(
        () => {
          finished++;
          counters.bump("check: client crashed");
          doing.delete(name);
        },
        (error: unknown) => {
          finished++;
          fail("client crashed", String(error instanceof Error ? (error.stack ?? error.message) : error));
        },
      ),
    );
  };
  if (options.clients !== undefined) {
    options.clients(ctx).forEach((p, i) => track(`custom ${i}`, p));
  } else {
    for (let i = 0; i < scenario.goodClients; i++) track(`client ${i}`, goodClient(ctx, i, scenario.sharedAddress ? "10.0.1.1" : `10.0.1.${i + 1}`, scenario.steps));
    scenario.hostile.forEach((kind, i) => track(`hostile ${i} (${kind})`, hostileClient(ctx, i, `10.0.2.${i + 1}`, kind)));
    const bans = scenario.server.bans;
    const banAfter = bans === false || bans === undefined ? null : (bans.after ?? null);
    for (let i = 0; i < scenario.guessers; i++) track(`guesser ${i}`, guesserClient(ctx, i, `10.0.3.${i + 1}`, banAfter, banAfter === null ? 3 : banAfter + 3));
    for (let i = 0; i < scenario.hoarders; i++) track(`hoarder ${i}`, hoarderClient(ctx, i, `10.0.6.${i + 1}`));
    for (let i = 0; i < (scenario.disk?.probers ?? 0); i++) track(`prober ${i}`, proberClient(ctx, i, `10.0.5.${i + 1}`, scenario.steps, PROBE_PATHS, SECRET));
    if (scenario.server.tls !== undefined) scenario.tlsStallers.forEach((kind, i) => track(`TLS staller ${i} (${kind})`, tlsStallClient(ctx, i, `10.0.4.${i + 1}`, kind)));
  }
  const faultyMs = options.faultyMs ?? 600_000;
  const calmMs = options.calmMs ?? 1_200_000;
  let outcome: string;
  try {
    outcome = await world.run(faultyMs, () => finished === clients.length);
    // Faults stop: every client must now finish (or be cut off cleanly) in bounded simulated time.
    net.faults = CALM_NET;
    fs.faults = CALM_FS;
    calm = true;
    if (finished < clients.length) outcome = await world.run(faultyMs + calmMs, () => finished === clients.length);
  } catch (error) {
    fail("invariants and no exceptions", String(error instanceof Error ? (error.stack ?? error.message) : error));
    outcome = "crashed";
  }
  counters.bump("check: liveness", clients.length);
  if (outcome === "runaway") fail("liveness", "too many events: a loop that never settles");
  if (finished < clients.length && outcome !== "crashed") fail("liveness", `${clients.length - finished} of ${clients.length} clients never finished (${outcome} at ${world.now} ms); last seen: ${[...doing].map(([k, v]) => `${k}: ${v}`).join("; ")}`);
  // Let the server side wind down, then nothing of any ended session may be left.
  await world.run(world.now + 60_000);
  process.off("unhandledRejection", onRejection);
  const allEnded = server.sessions.every((s) => s.io.closed);
  if (disk !== null) {
    noteEscapes(disk, fail, counters);
    if (allEnded && disk.openDescriptors !== 0) fail("no leaked listeners, connections or files", `${disk.openDescriptors} descriptor(s) of the confinement check left open`);
  }
  if (allEnded && fs.openHandles !== 0) fail("no leaked listeners, connections or files", `${fs.openHandles} file handle(s) left open`);
  for (const { id, session, io } of server.sessions) {
    if (!io.closed) {
      if (finished === clients.length) fail("no leaked listeners, connections or files", `session ${id} still open after every client finished`);
      continue;
    }
    if (io.data.held().length > 0) fail("no leaked listeners, connections or files", `session ${id} left ${io.data.held().length} data channel(s)`);
    if (io.timerArmed) fail("no leaked listeners, connections or files", `session ${id} left its timer armed`);
    if (!session.closed) fail("no leaked listeners, connections or files", `session ${id}'s driver did not release`);
  }
  if (allEnded) for (const key of startedTransfers) if (!loggedTransfers.has(key)) fail("every transfer logged once", `transfer ${key} started but was never logged`);
  if (shutdown.state === "closing") fail("shutdown finishes", "close() never resolved");
  const serverListeners = net.listeningOn("10.0.0.1") - (shutdown.state === "closed" ? 0 : 1);
  if (serverListeners > 0 && allEnded) fail("no leaked listeners, connections or files", `${serverListeners} passive listener(s) left open`);
  return { seed, failures, counters: counters.counts, traceHash: hash.toString(16).padStart(8, "0"), trace: options.keepTrace === true ? trace : null, transcript: transcript?.lines ?? null, events: world.executed, simulatedMs: world.now };
}

const DECODER = new TextDecoder();

/** The control connections as a person reads them: "TIME sN C> line" and "TIME sN S> line". */
class Transcript {
  readonly lines: string[] = [];
  /** A client's bytes since its last line end, per session (lines arrive in pieces). */
  private readonly partial = new Map<number, string>();

  step(now: number, session: number, event: SessionEvent, actions: readonly Action[]): void {
    if (event.type === "open") this.lines.push(`${now} s${session} -- connected`);
    if (event.type === "control.data") {
      const text = (this.partial.get(session) ?? "") + printable(event.bytes);
      const parts = text.split("\\r\\n");
      this.partial.set(session, parts.pop() ?? "");
      for (const line of parts) this.lines.push(`${now} s${session} C> ${line}`);
    }
    if (event.type === "control.eof" || event.type === "control.error") this.lines.push(`${now} s${session} -- client ${event.type === "control.eof" ? "closed" : "reset"}`);
    for (const a of actions) {
      if (a.type === "control.write") for (const line of DECODER.decode(a.bytes).split("\r\n")) if (line !== "") this.lines.push(`${now} s${session} S> ${line}`);
      if (a.type === "control.close") this.lines.push(`${now} s${session} -- server closes`);
    }
  }
}

/** Bytes as text with CR and LF (and anything unprintable) escaped, so line ends stay visible. */
function printable(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b === 0x0d ? "\\r" : b === 0x0a ? "\\n" : b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, "0")}`;
  return out;
}

function hasLineStartingWith4(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0x34 && (i === 0 || bytes[i - 1] === 0x0a)) return true;
  return false;
}

export function replayLine(seed: number): string {
  return `PASV_SEED=${seed} npm run sim`;
}

/** What the command prints for a failing run: the replay line first, then each oracle that bit. */
export function formatFailures(result: RunResult): string[] {
  if (result.failures.length === 0) return [];
  return [`FAIL ${replayLine(result.seed)}`, ...result.failures.slice(0, 5).map((f) => `  [${f.oracle}] ${f.detail.split("\n")[0] ?? ""}`), `  shrink it: npm run sim -- --seed ${result.seed} --shrink`];
}
