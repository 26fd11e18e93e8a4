// Resident memory of a server process, read from /proc (Linux), for the memory test and benchmark.
import { readdirSync, readFileSync } from "node:fs";

/** One /proc/PID/status field in bytes (VmRSS: resident now; VmHWM: the peak so far); 0 once gone. */
export function statusBytes(pid: number, field: "VmRSS" | "VmHWM"): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m === null ? 0 : Number(m[1]) * 1024;
  } catch {
    return 0;
  }
}

/** `pid` and every live descendant (a forking server's sessions). */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
    } catch {
      // gone between readdir and read
    }
  }
  const out: number[] = [];
  const todo = [pid];
  while (todo.length > 0) {
    const p = todo.pop()!;
    out.push(p);
    todo.push(...(children.get(p) ?? []));
  }
  return out;
}

/** Resident bytes of `pid` and its descendants, summed (shared pages counted once per process). */
export function treeRss(pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + statusBytes(p, "VmRSS"), 0);
}

/** Polls `sample` until it stays within `slack` bytes for `quietMs`, or `deadlineMs` passes; the last value. */
export async function settledValue(sample: () => number, options: { quietMs: number; slack: number; deadlineMs: number; everyMs?: number }): Promise<number> {
  const every = options.everyMs ?? 100;
  const until = Date.now() + options.deadlineMs;
  const window: { at: number; value: number }[] = [];
  for (;;) {
    const now = Date.now();
    window.push({ at: now, value: sample() });
    while (window.length > 0 && window[0]!.at < now - options.quietMs) window.shift();
    const values = window.map((w) => w.value);
    const span = window.length > 1 ? now - window[0]!.at : 0;
    if ((span >= options.quietMs * 0.9 && Math.max(...values) - Math.min(...values) <= options.slack) || now >= until) return values[values.length - 1]!;
    await new Promise((r) => setTimeout(r, every));
  }
}
