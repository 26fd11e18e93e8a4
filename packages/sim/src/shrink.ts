// A failing seed made small: its scenario is simplified one step at a time (fewer clients, fewer
// steps, each fault switched off, each limit back to its default), keeping every step after which
// the same oracle still bites, until no step does; then the smallest run is replayed with its
// transcript. The run stays a function of the seed (the network, file system and clients draw from
// the seed's forks), so what remains is the seed's own failure with less around it.
import { RIGHTS } from "@pasv/core";
import { CALM_FS } from "./memfs.js";
import { CALM_NET } from "./net.js";
import { Prng } from "./prng.js";
import { drawScenario, runSeed, type RunOptions, type RunResult, type Scenario } from "./run.js";

/** Most runs a shrink may spend (each is one simulated run). */
export const MAX_SHRINK_RUNS = 300;
/** Transcript lines printed, from the end (where the failure is). */
export const TRANSCRIPT_LINES = 120;

export interface Shrunk {
  readonly seed: number;
  readonly oracle: string;
  /** The drawn scenario's run, and the smallest one that still fails the same way. */
  readonly before: RunResult;
  readonly after: RunResult;
  readonly scenario: Scenario;
  /** The simplifications kept, in order. */
  readonly steps: readonly string[];
  readonly runs: number;
}

type Simplification = readonly [name: string, apply: (s: Scenario) => Scenario | null];

/** Every way to make a scenario a little simpler; null when it is already as simple there. */
function simplifications(s: Scenario): Simplification[] {
  const list: Simplification[] = [];
  const when = (name: string, applies: boolean, apply: (s: Scenario) => Scenario): void => {
    if (applies) list.push([name, apply]);
  };
  when("one good client fewer", s.goodClients > 0, (x) => ({ ...x, goodClients: x.goodClients - 1 }));
  when("half the steps", s.steps > 1, (x) => ({ ...x, steps: Math.floor(x.steps / 2) }));
  when("one step fewer", s.steps > 1, (x) => ({ ...x, steps: x.steps - 1 }));
  s.hostile.forEach((kind, i) => when(`no hostile ${kind} client`, true, (x) => ({ ...x, hostile: x.hostile.filter((_, j) => j !== i) })));
  s.tlsStallers.forEach((kind, i) => when(`no ${kind} TLS staller`, true, (x) => ({ ...x, tlsStallers: x.tlsStallers.filter((_, j) => j !== i) })));
  when("no TLS", s.server.tls !== undefined, (x) => ({ ...x, tlsStallers: [], server: { ...x.server, tls: undefined, tlsHandshakeMs: undefined } }));
  when("no racing attacker", s.disk?.race === true, (x) => ({ ...x, disk: x.disk === null ? null : { ...x.disk, race: false } }));
  when("one prober fewer", (s.disk?.probers ?? 0) > 0, (x) => ({ ...x, disk: x.disk === null ? null : { ...x.disk, probers: x.disk.probers - 1 } }));
  when("the in-memory file system", s.disk !== null, (x) => ({ ...x, disk: null }));
  when("one hoarder fewer", s.hoarders > 0, (x) => ({ ...x, hoarders: x.hoarders - 1 }));
  when("one guesser fewer", s.guessers > 0, (x) => ({ ...x, guessers: x.guessers - 1 }));
  when("no stop", s.shutdownAt !== null, (x) => ({ ...x, shutdownAt: null }));
  when("no drain", s.drainMs > 0, (x) => ({ ...x, drainMs: 0 }));
  when("no reload", s.reloadAt !== null, (x) => ({ ...x, reloadAt: null }));
  when("clients from their own addresses", s.sharedAddress, (x) => ({ ...x, sharedAddress: false }));
  when("every right", s.rights.length !== RIGHTS.length, (x) => ({ ...x, rights: RIGHTS }));
  for (const key of Object.keys(CALM_NET) as (keyof typeof CALM_NET)[]) {
    when(`network: ${key} calm`, s.net[key] !== CALM_NET[key], (x) => ({ ...x, net: { ...x.net, [key]: CALM_NET[key] } }));
  }
  for (const key of Object.keys(CALM_FS) as (keyof typeof CALM_FS)[]) {
    when(`file system: ${key} calm`, s.fs[key] !== CALM_FS[key], (x) => ({ ...x, fs: { ...x.fs, [key]: CALM_FS[key] } }));
  }
  const server = s.server;
  when("default limits", server.limits !== undefined, (x) => ({ ...x, server: { ...x.server, limits: undefined } }));
  when("default timeouts", server.timeouts !== undefined, (x) => ({ ...x, server: { ...x.server, timeouts: undefined } }));
  when("no session cap", server.maxSessions !== undefined, (x) => ({ ...x, server: { ...x.server, maxSessions: undefined } }));
  when("no per-address cap", server.maxSessionsPerIp !== undefined, (x) => ({ ...x, server: { ...x.server, maxSessionsPerIp: undefined } }));
  when("no bans", server.bans !== false && server.bans !== undefined, (x) => ({ ...x, server: { ...x.server, bans: false } }));
  when("no bandwidth limits", server.maxRateDown !== undefined || server.maxRateUp !== undefined, (x) => ({ ...x, server: { ...x.server, maxRateDown: undefined, maxRateUp: undefined } }));
  return list;
}

/** The seed's failure with as little around it as still fails the same oracle; null when it passes. */
export async function shrinkSeed(seed: number, options: Pick<RunOptions, "reducer"> = {}): Promise<Shrunk | null> {
  const drawn = drawScenario(new Prng(seed));
  const run = (scenario: Scenario, transcript = false): Promise<RunResult> => runSeed(seed, { ...options, scenario: () => scenario, transcript });
  const before = await run(drawn);
  const oracle = before.failures[0]?.oracle;
  if (oracle === undefined) return null;
  let current = drawn;
  let runs = 1;
  const steps: string[] = [];
  for (let progress = true; progress && runs < MAX_SHRINK_RUNS; ) {
    progress = false;
    for (const [name, apply] of simplifications(current)) {
      if (runs >= MAX_SHRINK_RUNS) break;
      const next = apply(current);
      if (next === null) continue;
      runs++;
      const result = await run(next);
      if (result.failures.some((f) => f.oracle === oracle)) {
        current = next;
        steps.push(name);
        progress = true;
        // The list depends on the scenario: start again from the simpler one.
        break;
      }
    }
  }
  const after = await run(current, true);
  return { seed, oracle, before, after, scenario: current, steps, runs: runs + 1 };
}

/** What `npm run sim -- --seed N --shrink` prints. */
export function formatShrunk(shrunk: Shrunk): string[] {
  const { before, after } = shrunk;
  const transcript = after.transcript ?? [];
  const failure = after.failures.find((f) => f.oracle === shrunk.oracle);
  return [
    `shrunk seed ${shrunk.seed} [${shrunk.oracle}] in ${shrunk.runs} runs: ${before.events} events (${before.simulatedMs} ms simulated) -> ${after.events} events (${after.simulatedMs} ms)`,
    `  kept: ${shrunk.steps.length === 0 ? "(nothing could be simplified)" : shrunk.steps.join("; ")}`,
    `  left: ${describe(shrunk.scenario)}`,
    `  failure: ${failure?.detail.split("\n")[0] ?? "(gone in the transcript run)"}`,
    `transcript (${transcript.length <= TRANSCRIPT_LINES ? "all" : `the last ${TRANSCRIPT_LINES} of ${transcript.length}`} control lines; TIME session C> client, S> server):`,
    ...transcript.slice(-TRANSCRIPT_LINES).map((line) => `  ${line}`),
  ];
}

function describe(s: Scenario): string {
  const faults = [...Object.entries(s.net).filter(([k, v]) => v !== CALM_NET[k as keyof typeof CALM_NET]).map(([k, v]) => `net.${k}=${String(v)}`), ...Object.entries(s.fs).filter(([k, v]) => v !== CALM_FS[k as keyof typeof CALM_FS]).map(([k, v]) => `fs.${k}=${String(v)}`)];
  return [
    `${s.goodClients} good client(s) x ${s.steps} steps`,
    s.hostile.length > 0 ? `hostile: ${s.hostile.join(", ")}` : null,
    s.guessers > 0 ? `${s.guessers} guesser(s)` : null,
    s.shutdownAt === null ? null : `stop at ${s.shutdownAt} ms${s.drainMs > 0 ? ` draining ${s.drainMs} ms` : ""}`,
    s.reloadAt === null ? null : `reload at ${s.reloadAt} ms`,
    faults.length > 0 ? faults.join(" ") : "no faults",
  ]
    .filter((x) => x !== null)
    .join("; ");
}
