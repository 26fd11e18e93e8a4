// Commands per second through the pure core on one core: a realistic session mix, pipelined and
// one command per event. Run: pnpm bench core (measures the built JavaScript in dist/, as shipped).
import { initialSession, makeConfig, RIGHTS, step, type Action, type SessionEvent, type SessionState } from "@pasv/core";

const te = new TextEncoder();
const config = makeConfig();
const now = 1_700_000_000_000;

const dirStat = { name: "d", type: "dir" as const, size: 4096, mtime: now, mode: 0o755, unique: "1" };
const fileStat = { name: "f", type: "file" as const, size: 123456, mtime: now, mode: 0o644, unique: "2" };
const entries = Array.from({ length: 20 }, (_, i) => ({ ...fileStat, name: `file-${i}.dat`, unique: String(i) }));

/** Answers the core's requests the way a fast adapter would, at once. */
function answer(action: Action, queue: SessionEvent[]): void {
  switch (action.type) {
    case "fs":
      if (action.fs.op === "list") queue.push({ type: "fs.result", now, request: action.request, result: { ok: true, value: { op: "list", entries } } });
      else if (action.fs.op === "stat") queue.push({ type: "fs.result", now, request: action.request, result: { ok: true, value: { op: "stat", stat: action.fs.path.endsWith(".dat") ? fileStat : dirStat } } });
      else queue.push({ type: "fs.result", now, request: action.request, result: { ok: true, value: { op: action.fs.op } } });
      return;
    case "auth":
      queue.push({ type: "auth.result", now, request: action.request, account: { user: action.user, anonymous: false, rights: RIGHTS, hideDotFiles: false } });
      return;
    case "data.listen":
      queue.push({ type: "data.listening", now, channel: action.channel, port: 50000 });
      queue.push({ type: "data.accepted", now, channel: action.channel, socket: 1, remote: { address: "127.0.0.1", port: 1 } });
      return;
    case "transfer.start":
      // A listing is formatted from one batch of the directory, as a small directory comes.
      if (action.spec.kind === "send-listing") queue.push({ type: "listing.batch", now, transfer: action.transfer, entries });
      else queue.push({ type: "transfer.done", now, transfer: action.transfer, bytes: 100 });
      return;
    case "listing.write":
      queue.push({ type: "transfer.done", now, transfer: action.transfer, bytes: action.bytes.length });
      return;
    case "transfer.progress":
      queue.push({ type: "transfer.progress", now, transfer: action.transfer, bytes: 50 });
      return;
    case "control.write":
    case "control.close":
    case "control.pause":
    case "control.resume":
    case "control.tls":
    case "data.adopt":
    case "data.reject":
    case "data.connect":
    case "data.close":
    case "transfer.abort":
    case "notice":
    case "log":
      return;
  }
}

function drive(state: SessionState, event: SessionEvent): SessionState {
  const queue = [event];
  let s = state;
  for (let e = queue.shift(); e !== undefined; e = queue.shift()) {
    const r = step(s, e);
    s = r.state;
    for (const a of r.actions) answer(a, queue);
  }
  return s;
}

function fresh(): SessionState {
  let s = initialSession(config, { now, local: { address: "127.0.0.1", port: 21 }, remote: { address: "127.0.0.1", port: 4000 }, implicitTls: false, passiveAddress: null, refuse: null });
  s = drive(s, { type: "open", now });
  s = drive(s, { type: "control.data", now, bytes: te.encode("USER bench\r\nPASS pw\r\nTYPE I\r\n") });
  return s;
}

/** Commands per CPU-second of one timed run. */
function run(chunks: readonly Uint8Array[], perRound: number, seconds: number): number {
  let s = fresh();
  let commands = 0;
  // CPU time of this process, not wall time: on a shared VM, time the host steals is not ours.
  const cpu0 = process.cpuUsage();
  const until = performance.now() + seconds * 1000;
  while (performance.now() < until) {
    for (let i = 0; i < 100; i++) {
      for (const bytes of chunks) s = drive(s, { type: "control.data", now, bytes });
      commands += perRound;
    }
  }
  const cpu = process.cpuUsage(cpu0);
  return commands / ((cpu.user + cpu.system) / 1e6);
}

/** A warm-up run (JIT tiers, heap sizing) is thrown away; the median of five runs is reported. */
function measure(name: string, lines: string[], pipelined: boolean, seconds: number): number {
  const chunks = pipelined ? [te.encode(lines.map((l) => `${l}\r\n`).join(""))] : lines.map((l) => te.encode(`${l}\r\n`));
  run(chunks, lines.length, seconds / 5);
  const runs = Array.from({ length: 5 }, () => run(chunks, lines.length, seconds / 5)).sort((a, b) => a - b);
  const median = runs[2]!;
  const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");
  console.log(`${name.padEnd(52)} ${fmt(median).padStart(12)} commands per CPU-second (median of 5; ${fmt(runs[0]!)} to ${fmt(runs[4]!)})`);
  return median;
}

const simple = ["NOOP", "PWD", "TYPE I", "MODE S", "SYST", "REST 100", "TYPE I", "NOOP"];
const mix = ["NOOP", "PWD", "CWD d", "CDUP", "SIZE a.dat", "MDTM a.dat", "TYPE I", "PASV", "RETR a.dat", "PASV", "LIST", "FEAT", "NOOP", "REST 0"];
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
// BENCH_ONLY=<word> runs only the cases whose name holds it (e.g. to profile one of them).
const only = process.env.BENCH_ONLY ?? "";
const cases: [string, string[], boolean][] = [
  ["simple commands, pipelined 8 per read", simple, true],
  ["simple commands, pipelined 32 per read", [...simple, ...simple, ...simple, ...simple], true],
  ["simple commands, one per read", simple, false],
  ["realistic mix (fs, PASV, RETR, LIST), one per read", mix, false],
];
for (const [name, lines, pipelined] of cases) if (name.includes(only)) measure(name, lines, pipelined, seconds);
