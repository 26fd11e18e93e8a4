// pasv (Node and Deno) beside vsftpd, pure-ftpd, proftpd and pyftpdlib (all from Debian's archive) in
// one run, each workload a table with pasv's ratio to the best peer on each line: RETR and STOR of
// a large file (curl), 4 KiB RETRs in one session (EPSV each), NOOPs in one session, pyftpdlib's
// ftpbench, many clients logging in at once, memory at rest after those, and many idle sessions.
// Server CPU is counted over each server's whole process tree (forked sessions included, exited
// ones too: see process-tree.ts). Figures are printed, never asserted (the machine is noisy).
// Run: pnpm bench server [--only retr,stor,small,noop,ftpbench,clients,rest,idle] [--servers
//   vsftpd,pure-ftpd,proftpd,pyftpdlib,node,deno] [--size-mib N] [--rounds N] [--seconds N]
//   [--clients N] [--idle N] [--idle-deadline S] [--ftpbench PATH] [--ftpbench-clients N]
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import path from "node:path";
import { denoBinary } from "../test/server.js";
import { clientsAtOnce, ftpbench, idleSessions, memoryNow, noops, smallRetrs, type FtpbenchResult } from "./peer-workloads.js";
import { FD_LIMIT } from "./process-tree.js";
import { ratioTable, type Measure } from "./ratio-table.js";
import {
  CACHE, ensurePeers, ensureUnpackedPeers, listenBacklog, makeFile, measureCurl, PASV_OPEN_CAPS, peerVersions, ROOT, servedTree,
  startProftpd, startPasv, startPureFtpd, startPyftpdlib, startVsftpd, waitForPort, type Server,
} from "./servers.js";

const WORKLOADS = ["retr", "stor", "small", "noop", "ftpbench", "clients", "rest", "idle"] as const;
type Workload = (typeof WORKLOADS)[number];
const SERVERS = ["vsftpd", "pure-ftpd", "proftpd", "pyftpdlib", "node", "deno"] as const;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : process.argv[i + 1];
}
function number(name: string, fallback: number): number {
  const raw = arg(name);
  const n = raw === undefined ? fallback : Number(raw);
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`${name}: a positive number, not ${String(raw)}`);
    process.exit(2);
  }
  return n;
}
function list<T extends string>(name: string, all: readonly T[]): T[] {
  const raw = arg(name);
  if (raw === undefined) return [...all];
  const picked = raw.split(",").map((s) => s.trim()).filter((s) => s !== "");
  const bad = picked.filter((p) => !(all as readonly string[]).includes(p));
  if (bad.length > 0 || picked.length === 0) {
    console.error(`${name}: one or more of ${all.join(",")} (not ${bad.join(",") || raw})`);
    process.exit(2);
  }
  return all.filter((w) => picked.includes(w));
}

const only = new Set<Workload>(list("--only", WORKLOADS));
const picked = list("--servers", SERVERS);
const sizeMiB = number("--size-mib", 1024);
const rounds = number("--rounds", 3);
const seconds = number("--seconds", 5);
const clientCount = number("--clients", 1000);
const idleCount = number("--idle", 10_000);
const idleDeadlineS = number("--idle-deadline", 180);
const ftpbenchClients = number("--ftpbench-clients", 300);
const FTPBENCH_DEADLINE_MS = 600_000;
/** Each client of the at-once workload gives up after this long. */
const CLIENT_MS = 60_000;
/** Idle sessions opened at a time: under vsftpd's listen backlog (32), whose overflow loses connections. */
const IDLE_IN_FLIGHT = 16;

/** ftpbench is not packaged: `--ftpbench PATH`, else the copy under .cache/, else taken (git show)
 * from a mirror of pyftpdlib's repository beside the checkout. */
function ftpbenchScript(): string | null {
  const given = arg("--ftpbench");
  if (given !== undefined) return path.resolve(given);
  const cached = path.join(CACHE, "ftpbench");
  if (existsSync(cached)) return cached;
  for (const mirror of [path.join(ROOT, "../.mirror/giampaolo+pyftpdlib/repo"), path.join(ROOT, ".cache/pyftpdlib.git")]) {
    const shown = spawnSync("git", ["--git-dir", mirror, "show", "HEAD:scripts/ftpbench"], { encoding: "utf8" });
    if (shown.status === 0) {
      writeFileSync(cached, shown.stdout);
      return cached;
    }
  }
  return null;
}

const median = (xs: readonly number[]): number => (xs.length === 0 ? NaN : [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!);
const MiB = 1024 * 1024;

/** A value per server for each of a workload's measures, NaN where a server failed. */
class Results {
  private readonly samples = new Map<string, Map<string, number[]>>();
  add(measure: string, server: string, value: number): void {
    const m = this.samples.get(measure) ?? new Map<string, number[]>();
    this.samples.set(measure, m);
    m.set(server, [...(m.get(server) ?? []), value]);
  }
  medians(measure: string): Map<string, number> {
    return new Map([...(this.samples.get(measure) ?? new Map<string, number[]>())].map(([s, xs]) => [s, median(xs)]));
  }
}

function print(lines: readonly string[]): void {
  console.log(`\n${lines.join("\n")}`);
}

/** Runs `fn` for every server `rounds` times, servers alternating within a round; a failure is
 * reported and leaves that sample out. */
async function eachRound(servers: readonly Server[], n: number, what: string, fn: (s: Server) => Promise<void>): Promise<void> {
  for (let r = 0; r < n; r++) {
    for (const s of servers) {
      try {
        await fn(s);
      } catch (e) {
        console.error(`${s.name}: ${what} failed: ${(e as Error).message}`);
      }
    }
  }
}

const work = mkdtempSync(path.join(tmpdir(), "pasv-bench-"));
// proftpd and pure-ftpd reach the served tree as "ftp".
chmodSync(work, 0o755);
mkdirSync(CACHE, { recursive: true });
const bulk = only.has("retr") || only.has("stor");
const source = path.join(CACHE, `data-${bulk ? sizeMiB : 1}MiB.bin`);
makeFile(source, (bulk ? sizeMiB : 1) * MiB);
const served = servedTree(work, source);
const UPLOAD = "incoming/up.bin";

const servers: Server[] = [];
const stopAll = async (): Promise<void> => {
  await Promise.all(servers.map((s) => s.tree.stop()));
};
process.once("SIGINT", () => void stopAll().then(() => process.exit(130)));
process.once("SIGTERM", () => void stopAll().then(() => process.exit(143)));
try {
  ensurePeers();
  if (picked.includes("pure-ftpd") || picked.includes("proftpd")) ensureUnpackedPeers();
  const base = 20_000 + Math.floor(Math.random() * 1_900) * 5;
  const starts: Record<(typeof SERVERS)[number], (port: number) => Server> = {
    vsftpd: (port) => startVsftpd(work, served, port),
    "pure-ftpd": (port) => startPureFtpd(work, served, port),
    proftpd: (port) => startProftpd(work, served, port),
    pyftpdlib: (port) => startPyftpdlib(served, port),
    node: (port) => startPasv("node", served, port, { flags: PASV_OPEN_CAPS }),
    deno: (port) => startPasv("deno", served, port, { flags: PASV_OPEN_CAPS }),
  };
  picked.forEach((name, i) => servers.push(starts[name](base + i)));
  for (const s of servers) waitForPort(s.port);
  await new Promise((r) => setTimeout(r, 1_000));
  const fresh = new Map(servers.map((s) => [s.name, memoryNow(s)]));
  const names = servers.map((s) => s.name);

  const versions = peerVersions();
  const deno = spawnSync(denoBinary(), ["--version"], { encoding: "utf8" }).stdout.split("\n")[0] ?? "?";
  console.log(`pasv beside Debian's FTP servers on one machine (${cpus().length} CPUs, ${cpus()[0]?.model ?? "?"}; shared with other work, so figures are noisy)`);
  console.log(`versions: vsftpd ${versions.vsftpd}, pure-ftpd ${versions["pure-ftpd"]}, proftpd ${versions.proftpd}, pyftpdlib ${versions.pyftpdlib}, Node ${process.version}, ${deno}`);
  console.log(`server CPU: ${servers[0]?.tree.cpuHow ?? "?"} (each server's whole process tree, forked and exited sessions included); fd limit ${FD_LIMIT} per server`);
  console.log(`listen backlog (ss Send-Q): ${servers.map((s) => `${s.name} ${String(listenBacklog(s.port) ?? "?")}`).join(", ")}`);
  console.log("logins: vsftpd anonymous (no password check); pure-ftpd, proftpd: a virtual user with an MD5-crypt password; pyftpdlib, pasv: a plain-text user");

  if (only.has("retr") || only.has("stor")) {
    const res = new Results();
    const gib = sizeMiB / 1024;
    await eachRound(servers, rounds, "transfer", async (s) => {
      if (only.has("retr")) {
        const retr = await measureCurl(["-o", "/dev/null", `ftp://${s.user}127.0.0.1:${s.port}/data.bin`], s);
        res.add("retr", s.name, sizeMiB / retr.seconds);
        res.add("cpuRetr", s.name, retr.cpu / gib);
      }
      if (only.has("stor")) {
        try {
          const stor = await measureCurl(["-T", source, `ftp://${s.user}127.0.0.1:${s.port}/${UPLOAD}`], s);
          res.add("stor", s.name, sizeMiB / stor.seconds);
          res.add("cpuStor", s.name, stor.cpu / gib);
        } finally {
          rmSync(path.join(served, UPLOAD), { force: true });
        }
      }
    });
    const measures: Measure[] = [];
    if (only.has("retr")) measures.push({ label: "RETR MiB/s", better: "higher", values: res.medians("retr"), digits: 0 }, { label: "RETR CPU s/GiB", better: "lower", values: res.medians("cpuRetr"), digits: 2 });
    if (only.has("stor")) measures.push({ label: "STOR MiB/s", better: "higher", values: res.medians("stor"), digits: 0 }, { label: "STOR CPU s/GiB", better: "lower", values: res.medians("cpuStor"), digits: 2 });
    print(ratioTable(`== RETR/STOR of ${sizeMiB} MiB over loopback (curl, one transfer at a time), median of ${rounds} rounds`, names, measures));
  }

  if (only.has("small")) {
    const res = new Results();
    await eachRound(servers, rounds, "small RETRs", async (s) => {
      const got = await smallRetrs(s, seconds);
      res.add("rate", s.name, got.rate);
      res.add("cpu", s.name, got.cpuMs);
    });
    print(ratioTable(`== 4 KiB RETRs in one session, EPSV before each, ${seconds} s, median of ${rounds} rounds`, names, [
      { label: "RETR/s", better: "higher", values: res.medians("rate"), digits: 0 },
      { label: "CPU ms/RETR", better: "lower", values: res.medians("cpu"), digits: 3 },
    ]));
  }

  if (only.has("noop")) {
    const res = new Results();
    await eachRound(servers, rounds, "NOOPs", async (s) => {
      const got = await noops(s, seconds);
      res.add("rate", s.name, got.rate);
      res.add("cpu", s.name, got.cpuUs);
    });
    print(ratioTable(`== NOOPs in one session, one at a time, ${seconds} s, median of ${rounds} rounds`, names, [
      { label: "NOOP/s", better: "higher", values: res.medians("rate"), digits: 0 },
      { label: "CPU us/NOOP", better: "lower", values: res.medians("cpu"), digits: 1 },
    ]));
  }

  if (only.has("ftpbench")) {
    const script = ftpbenchScript();
    if (script === null) {
      console.log("\n== ftpbench: not found (give --ftpbench PATH to pyftpdlib's scripts/ftpbench); skipped");
    } else {
      const got = new Map<string, FtpbenchResult>();
      for (const s of servers) {
        try {
          got.set(s.name, await ftpbench(s, script, ftpbenchClients, FTPBENCH_DEADLINE_MS));
        } catch (e) {
          console.error(`${s.name}: ftpbench failed: ${(e as Error).message}`);
        }
      }
      const labels = [...new Set([...got.values()].flatMap((r) => r.values.map((v) => `${v.label}|${v.unit}`)))];
      const measures: Measure[] = labels.map((key) => {
        const [label, unit] = key.split("|") as [string, string];
        const values = new Map([...got].map(([name, r]) => [name, r.values.find((v) => v.label === label)?.value ?? NaN]));
        return { label: `${label} ${unit}`, better: unit === "secs" ? "lower" : "higher", values, digits: 2 };
      });
      measures.push({ label: "server CPU s over the run", better: "lower", values: new Map([...got].map(([name, r]) => [name, r.cpu])), digits: 2 });
      print(ratioTable(`== pyftpdlib's ftpbench -b all -n ${ftpbenchClients} (one run per server; each login then CWD incoming)`, names, measures));
      for (const [name, r] of got) print([`-- ftpbench output, ${name}:`, ...r.lines]);
    }
  }

  if (only.has("clients")) {
    const res = new Results();
    await eachRound(servers, rounds, "clients at once", async (s) => {
      const got = await clientsAtOnce(s, clientCount, CLIENT_MS);
      res.add("wall", s.name, got.wall);
      res.add("failures", s.name, got.failures);
      res.add("cpu", s.name, got.cpuMs);
      if (got.why.size > 0) console.error(`${s.name}: ${got.failures} of ${clientCount} clients failed: ${[...got.why].map(([w, n]) => `${n}x ${w}`).join("; ")}`);
    });
    print(ratioTable(`== ${clientCount} clients at once, each connecting, logging in and quitting, median of ${rounds} rounds`, names, [
      { label: "wall s", better: "lower", values: res.medians("wall"), digits: 2 },
      { label: "failed clients", better: "lower", values: res.medians("failures"), digits: 0 },
      { label: "CPU ms/session served", better: "lower", values: res.medians("cpu"), digits: 3 },
    ]));
  }

  if (only.has("rest")) {
    await new Promise((r) => setTimeout(r, 3_000));
    const now = new Map(servers.map((s) => [s.name, memoryNow(s)]));
    const ran = [...only].filter((w) => w !== "rest" && w !== "idle").join(",") || "nothing";
    print(ratioTable(`== server memory at rest: just started, and 3 s after the workloads above (${ran}); summed over the server's processes`, names, [
      { label: "RSS MiB just started", better: "lower", values: new Map([...fresh].map(([n, m]) => [n, m.rss / MiB])), digits: 1 },
      { label: "RSS MiB after", better: "lower", values: new Map([...now].map(([n, m]) => [n, m.rss / MiB])), digits: 1 },
      { label: "PSS MiB after", better: "lower", values: new Map([...now].map(([n, m]) => [n, m.pss / MiB])), digits: 1 },
      { label: "processes after", better: "lower", values: new Map([...now].map(([n, m]) => [n, m.processes])), digits: 0 },
    ]));
  }

  if (only.has("idle")) {
    const res = new Results();
    await eachRound(servers, 1, "idle sessions", async (s) => {
      const got = await idleSessions(s, idleCount, IDLE_IN_FLIGHT, idleDeadlineS * 1000);
      res.add("held", s.name, got.held);
      res.add("seconds", s.name, got.seconds);
      res.add("pss", s.name, got.pssPerSession / 1024);
      res.add("rss", s.name, got.rssPerSession / 1024);
      res.add("processes", s.name, got.processes);
      if (got.why.size > 0) console.error(`${s.name}: ${[...got.why.values()].reduce((a, b) => a + b, 0)} idle sessions failed: ${[...got.why].map(([w, n]) => `${n}x ${w}`).join("; ")}`);
    });
    print(ratioTable(`== ${idleCount} idle logged-in sessions (opened ${IDLE_IN_FLIGHT} at a time, at most ${idleDeadlineS} s), growth over the server's processes per session held`, names, [
      { label: "sessions held", better: "higher", values: res.medians("held"), digits: 0 },
      { label: "s to open them", better: "lower", values: res.medians("seconds"), digits: 1 },
      { label: "PSS KiB/session", better: "lower", values: res.medians("pss"), digits: 1 },
      { label: "RSS KiB/session", better: "lower", values: res.medians("rss"), digits: 1 },
      { label: "server processes", better: "lower", values: res.medians("processes"), digits: 0 },
    ]));
  }
} finally {
  await stopAll();
  rmSync(work, { recursive: true, force: true });
}
