// A benchmarked server as a whole process tree: started from a shell that raises its descriptor
// limit and (where cgroups can be made) puts it in a cgroup of its own, so its CPU counts every
// process it ever forked, exited ones included; memory summed over the live processes; a watchdog
// that ends the tree if the bench dies first; and a stop that ends every process of the tree.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmdirSync } from "node:fs";
import path from "node:path";
import { processTree } from "../test/proc-memory.js";

/** Descriptors each server may open (10,000 idle sessions need more than the usual 1,024), or the
 * hard limit where that is lower. pure-ftpd takes at most a sixteenth of it in sessions. */
export const FD_LIMIT = 20_000;
/** How long a stopping tree gets after SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 5_000;
const TICKS_PER_SECOND = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());

export interface Tree {
  readonly proc: ChildProcess;
  /** How CPU is counted: "cgroup v1 cpuacct", "cgroup v2 cpu.stat" or "/proc". */
  readonly cpuHow: string;
  /** CPU seconds (user+system) of the whole tree since it started, exited processes included. */
  cpuSeconds(): number;
  /** Live processes of the tree. */
  pids(): number[];
  /** Ends every process of the tree (SIGTERM, then SIGKILL after a grace) and waits for them. */
  stop(): Promise<void>;
}

interface Cgroup {
  readonly dir: string;
  readonly how: string;
  usage(): number;
}

let made = 0;

/** A fresh cgroup that counts CPU, or null where none can be made (no cgroupfs, not root). */
function makeCgroup(name: string): Cgroup | null {
  const leaf = `pasv-bench-${process.pid}-${made++}-${name.replace(/[^a-z0-9]+/gi, "-")}`;
  const v1 = "/sys/fs/cgroup/cpuacct";
  const v2 = existsSync("/sys/fs/cgroup/cgroup.controllers") ? "/sys/fs/cgroup" : existsSync("/sys/fs/cgroup/unified/cgroup.controllers") ? "/sys/fs/cgroup/unified" : null;
  const candidates: { root: string; how: string; usage: (dir: string) => number }[] = [];
  if (existsSync(path.join(v1, "cpuacct.usage"))) candidates.push({ root: v1, how: "cgroup v1 cpuacct", usage: (dir) => Number(readFileSync(path.join(dir, "cpuacct.usage"), "utf8")) / 1e9 });
  if (v2 !== null)
    candidates.push({ root: v2, how: "cgroup v2 cpu.stat", usage: (dir) => Number(/^usage_usec (\d+)$/m.exec(readFileSync(path.join(dir, "cpu.stat"), "utf8"))?.[1] ?? NaN) / 1e6 });
  for (const c of candidates) {
    const dir = path.join(c.root, leaf);
    try {
      mkdirSync(dir);
      c.usage(dir);
      return { dir, how: c.how, usage: () => c.usage(dir) };
    } catch {
      try {
        rmdirSync(dir);
      } catch {
        // never made
      }
    }
  }
  return null;
}

function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(") ") + 2).split(" ");
  } catch {
    return null;
  }
}

/** `pid` and every live descendant (the e2e tests' walk of /proc). */
export const descendants = processTree;

/** Without a cgroup: utime+stime+cutime+cstime of every live process of the tree. A child's time
 * moves into its parent's cutime/cstime when reaped, so the sum stays whole unless a process is
 * reparented away or exits unreaped (not counted then). */
function procTreeSeconds(pid: number): number {
  let ticks = 0;
  for (const p of descendants(pid)) {
    const f = statFields(p);
    if (f !== null) ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  }
  return ticks / TICKS_PER_SECOND;
}

/**
 * Starts `file args` through a shell that raises the descriptor limit, joins the cgroup and execs
 * the server (so `proc.pid` is the server's), plus a watchdog shell that kills the tree once the
 * bench process is gone.
 */
export function startTree(name: string, file: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Tree {
  const cgroup = makeCgroup(name);
  const join = cgroup === null ? "" : `echo $$ > ${cgroup.dir}/cgroup.procs || exit 97; `;
  const script = `ulimit -n ${FD_LIMIT} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; ${join}exec "$@"`;
  const proc = spawn("/bin/sh", ["-c", script, "sh", file, ...args], { stdio: "ignore", env });
  const pid = proc.pid!;
  const pids = (): number[] => {
    if (cgroup !== null) {
      try {
        return readFileSync(path.join(cgroup.dir, "cgroup.procs"), "utf8").split("\n").filter((l) => l !== "").map(Number);
      } catch {
        return [];
      }
    }
    return proc.exitCode === null && proc.signalCode === null ? descendants(pid) : [];
  };
  // Kills the tree once the bench is gone; ends by itself once the server has.
  const procs = cgroup === null ? "" : `${cgroup.dir}/cgroup.procs`;
  const watch = `while kill -0 ${process.pid} 2>/dev/null && kill -0 ${pid} 2>/dev/null; do sleep 2; done; ` +
    (procs === "" ? `kill -KILL ${pid} 2>/dev/null` : `for p in $(cat ${procs} 2>/dev/null); do kill -KILL $p 2>/dev/null; done; rmdir ${cgroup!.dir} 2>/dev/null`);
  spawn("/bin/sh", ["-c", watch], { stdio: "ignore", detached: true }).unref();
  let stopped: Promise<void> | null = null;
  return {
    proc,
    cpuHow: cgroup?.how ?? "/proc utime+stime+cutime+cstime over the live tree",
    cpuSeconds: () => (cgroup === null ? procTreeSeconds(pid) : cgroup.usage()),
    pids,
    stop: () => (stopped ??= stopTree(proc, pids, cgroup)),
  };
}

async function stopTree(proc: ChildProcess, pids: () => number[], cgroup: Cgroup | null): Promise<void> {
  const signal = (sig: NodeJS.Signals, list: number[]): void => {
    for (const p of list) {
      try {
        process.kill(p, sig);
      } catch {
        // already gone
      }
    }
  };
  const live = pids();
  signal("SIGTERM", live.length > 0 ? live : [proc.pid!]);
  const until = Date.now() + STOP_GRACE_MS;
  while (Date.now() < until && (pids().length > 0 || (proc.exitCode === null && proc.signalCode === null))) await new Promise((r) => setTimeout(r, 50));
  signal("SIGKILL", [...pids(), ...(proc.exitCode === null && proc.signalCode === null ? [proc.pid!] : [])]);
  for (let i = 0; i < 100 && (pids().length > 0 || (proc.exitCode === null && proc.signalCode === null)); i++) await new Promise((r) => setTimeout(r, 50));
  if (cgroup !== null) {
    try {
      rmdirSync(cgroup.dir);
    } catch {
      // still a zombie in it; the watchdog removes it
    }
  }
}

function kib(text: string, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(text);
  return m === null ? 0 : Number(m[1]) * 1024;
}

/** Resident (VmRSS) and proportional (Pss, shared pages split between their sharers) bytes of
 * `pids`, summed; processes that vanish while read count 0. */
export function memoryOf(pids: readonly number[]): { rss: number; pss: number; processes: number } {
  let rss = 0;
  let pss = 0;
  let processes = 0;
  for (const p of pids) {
    try {
      rss += kib(readFileSync(`/proc/${p}/status`, "utf8"), "VmRSS");
      pss += kib(readFileSync(`/proc/${p}/smaps_rollup`, "utf8"), "Pss");
      processes++;
    } catch {
      // gone
    }
  }
  return { rss, pss, processes };
}
