// A fault plan: which faults a hostile server injects and when. Written as a short string
// (`data-reset=0.1,reply-split=1,enospc-after=5M`) or as a JSON/TOML table of the same entries;
// parsing fails with one line naming the bad entry.

/** Every fault, by where it strikes. */
export const FAULTS = {
  /** Each reply written in pieces at random byte boundaries, a little apart. */
  "reply-split": "control",
  /** A reply held back `delayMs` before it is written. */
  "reply-delay": "control",
  /** A reply held back `stallMs` (a server that stops answering). */
  "reply-stall": "control",
  /** The session is shut down as the command arrives: the core answers 421 (426 first for a
   * running transfer) and closes. */
  "close-421": "control",
  /** The data connection is reset after some bytes (the core answers 426). */
  "data-reset": "data",
  /** The data connection gets our FIN after some bytes and the rest is dropped: a short file
   * that the server still reports as sent (226). */
  "data-fin": "data",
  /** Download bytes trickle out in small pieces, `delayMs` apart. */
  "data-trickle": "data",
  /** An accepted passive data connection is cut at once (the core then answers 425 at its deadline). */
  "pasv-refuse": "data",
  /** An accepted passive data connection reaches the session only `delayMs` later. */
  "pasv-delay": "data",
  /** An active (PORT/EPRT) connection fails (the core answers 425). */
  "connect-refuse": "data",
  /** An upload fails with ENOSPC after some bytes (the core answers 452/552). */
  enospc: "file",
  /** A download's file read fails with EIO after some bytes (the core answers 451). */
  eio: "file",
  /** A file someone just stat'ed (SIZE, MDTM, LIST of it) is gone when it is opened. */
  vanish: "file",
  /** Each file-system operation takes `delayMs` longer. */
  slow: "file",
} as const;

export type FaultName = keyof typeof FAULTS;
export type FaultSide = (typeof FAULTS)[FaultName];

/** Faults that strike after a byte count (`NAME-after=SIZE`). */
export const BYTE_FAULTS: readonly FaultName[] = ["data-reset", "data-fin", "enospc", "eio"];

/** When a fault strikes, at each chance it has (a reply, a command, a connection, a file). */
export type Trigger =
  /** With this probability, drawn from the seed. */
  | { readonly kind: "chance"; readonly p: number }
  /** Whenever the command at hand has this verb. */
  | { readonly kind: "verb"; readonly verb: string }
  /** When the command at hand is the session's nth (from 1). */
  | { readonly kind: "nth"; readonly n: number }
  /** Every time, once this many bytes went through (byte faults only). */
  | { readonly kind: "after"; readonly bytes: number };

/** The multi-line reply form a plan asks the core for: a legal one, or one drawn from the seed. */
export type MultilineChoice = "plain" | "dashed" | "indented" | "seed";
export const MULTILINE_CHOICES: readonly MultilineChoice[] = ["plain", "dashed", "indented", "seed"];

export interface FaultPlan {
  readonly faults: Readonly<Partial<Record<FaultName, Trigger>>>;
  /** multiline=…: the form of multi-line replies (a core setting for the whole run), or null. */
  readonly multiline?: MultilineChoice | null;
  /** reply-delay, data-trickle, pasv-delay and slow wait this long (default DEFAULT_DELAY_MS). */
  readonly delayMs: number;
  /** reply-stall holds a reply this long (default DEFAULT_STALL_MS). */
  readonly stallMs: number;
}

export const DEFAULT_DELAY_MS = 200;
export const DEFAULT_STALL_MS = 30_000;
/** Longest wait a plan may ask for: every wait has a deadline. */
export const MAX_WAIT_MS = 600_000;
/** A byte fault with a chance, verb or nth trigger cuts at a log-uniform offset below this. */
export const MAX_RANDOM_CUT = 1 << 20;

export class PlanError extends Error {
  override readonly name = "PlanError";
}

const SIZE_UNITS: Readonly<Record<string, number>> = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

function isFault(name: string): name is FaultName {
  return Object.hasOwn(FAULTS, name);
}

function size(entry: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([bkmg]?)i?b?$/i.exec(text.trim());
  const unit = SIZE_UNITS[(m?.[2] ?? "").toLowerCase()];
  if (m?.[1] === undefined || unit === undefined) throw new PlanError(`fault plan entry "${entry}": "${text}" is not a byte count (like 1000, 64K, 5M)`);
  const bytes = Math.floor(Number(m[1]) * unit);
  if (!Number.isSafeInteger(bytes)) throw new PlanError(`fault plan entry "${entry}": "${text}" is too large`);
  return bytes;
}

function millis(entry: string, text: string): number {
  const m = /^(\d+)\s*(ms|s)?$/.exec(text.trim());
  if (m?.[1] === undefined) throw new PlanError(`fault plan entry "${entry}": "${text}" is not a duration (like 500 or 2s)`);
  const ms = Number(m[1]) * (m[2] === "s" ? 1000 : 1);
  if (ms > MAX_WAIT_MS) throw new PlanError(`fault plan entry "${entry}": at most ${MAX_WAIT_MS / 1000}s`);
  return ms;
}

/** `0.1`, `10%`, `RETR`, `#3`. */
function trigger(entry: string, text: string): Trigger {
  const t = text.trim();
  if (/^#\d+$/.test(t)) {
    const n = Number(t.slice(1));
    if (n < 1) throw new PlanError(`fault plan entry "${entry}": commands count from #1`);
    return { kind: "nth", n };
  }
  if (/^[A-Za-z]{3,4}$/.test(t)) return { kind: "verb", verb: t.toUpperCase() };
  const percent = t.endsWith("%");
  const number = percent ? t.slice(0, -1) : t;
  if (/^\d+(\.\d+)?$|^\.\d+$/.test(number)) {
    const p = Number(number) / (percent ? 100 : 1);
    if (p >= 0 && p <= 1) return { kind: "chance", p };
  }
  throw new PlanError(`fault plan entry "${entry}": "${text}" is not a probability (0 to 1, or a percentage), a verb (RETR) or a command number (#3)`);
}

/** One `name=value` entry into `into`. */
function entry(into: { faults: Partial<Record<FaultName, Trigger>>; delayMs: number; stallMs: number; multiline?: MultilineChoice | null }, name: string, value: string): void {
  const written = `${name}=${value}`;
  if (name === "multiline") {
    const choice = MULTILINE_CHOICES.find((c) => c === value.trim().toLowerCase());
    if (choice === undefined) throw new PlanError(`fault plan entry "${written}": multiline is one of ${MULTILINE_CHOICES.join(", ")}`);
    into.multiline = choice;
    return;
  }
  if (name === "delay-ms" || name === "delay") {
    into.delayMs = millis(written, value);
    return;
  }
  if (name === "stall-ms" || name === "stall") {
    into.stallMs = millis(written, value);
    return;
  }
  const after = name.endsWith("-after") ? name.slice(0, -"-after".length) : null;
  if (after !== null) {
    if (!isFault(after) || !BYTE_FAULTS.includes(after)) throw new PlanError(`fault plan entry "${written}": only ${BYTE_FAULTS.map((f) => `${f}-after`).join(", ")} take a byte count`);
    if (into.faults[after] !== undefined) throw new PlanError(`fault plan entry "${written}": ${after} is given twice`);
    into.faults[after] = { kind: "after", bytes: size(written, value) };
    return;
  }
  if (!isFault(name)) throw new PlanError(`fault plan entry "${written}": unknown fault "${name}" (known: ${Object.keys(FAULTS).join(", ")}, delay-ms, stall-ms, multiline)`);
  if (into.faults[name] !== undefined) throw new PlanError(`fault plan entry "${written}": ${name} is given twice`);
  into.faults[name] = trigger(written, value);
}

/** Parses `name=value,name=value` (a bare name means `=1`). */
export function parsePlan(text: string): FaultPlan {
  const plan = { faults: {}, delayMs: DEFAULT_DELAY_MS, stallMs: DEFAULT_STALL_MS };
  const parts = text.split(",").map((p) => p.trim());
  if (parts.every((p) => p === "")) throw new PlanError("the fault plan is empty (try data-reset=0.1,reply-split=1)");
  for (const part of parts) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const name = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    entry(plan, name, eq < 0 ? "1" : part.slice(eq + 1));
  }
  return plan;
}

/** The same plan from a parsed JSON or TOML table (`{ "data-reset": 0.1, "enospc-after": "5M" }`). */
export function planFromTable(table: unknown, where: string): FaultPlan {
  if (typeof table !== "object" || table === null || Array.isArray(table)) throw new PlanError(`${where}: a fault plan is a table of fault = value`);
  const plan = { faults: {}, delayMs: DEFAULT_DELAY_MS, stallMs: DEFAULT_STALL_MS };
  for (const [name, value] of Object.entries(table)) {
    if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") throw new PlanError(`${where}: fault plan entry "${name}" must be a number, a string or true`);
    try {
      entry(plan, name.toLowerCase(), value === true ? "1" : value === false ? "0" : String(value));
    } catch (error) {
      throw new PlanError(`${where}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return plan;
}

/** The plan as the short string that parses back to it (for replay lines). */
export function formatPlan(plan: FaultPlan): string {
  const parts: string[] = [];
  for (const name of Object.keys(FAULTS) as FaultName[]) {
    const t = plan.faults[name];
    if (t === undefined) continue;
    switch (t.kind) {
      case "chance":
        parts.push(`${name}=${t.p}`);
        break;
      case "verb":
        parts.push(`${name}=${t.verb}`);
        break;
      case "nth":
        parts.push(`${name}=#${t.n}`);
        break;
      case "after":
        parts.push(`${name}-after=${t.bytes}`);
        break;
    }
  }
  if (plan.multiline != null) parts.push(`multiline=${plan.multiline}`);
  if (plan.delayMs !== DEFAULT_DELAY_MS) parts.push(`delay-ms=${plan.delayMs}`);
  if (plan.stallMs !== DEFAULT_STALL_MS) parts.push(`stall-ms=${plan.stallMs}`);
  return parts.join(",");
}
