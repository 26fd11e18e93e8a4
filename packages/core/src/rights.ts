// Account rights: the one table that says which rights each command needs. Every refusal for a
// missing right comes from here (the gate in commands.ts and the existence check in fs-results.ts),
// so a test can derive the expected answer for any rights set from the same data.

/**
 * One thing a user may do. `overwrite` and `append` are separate rights (the issue words them as one,
 * "overwrite/append"): a log shipper may append to its own files without being allowed to replace
 * them, and a drop box allows neither.
 */
export type Right = "list" | "read" | "create" | "overwrite" | "append" | "delete" | "rename" | "mkdir" | "rmdir" | "set-mtime";

export const RIGHTS: readonly Right[] = ["list", "read", "create", "overwrite", "append", "delete", "rename", "mkdir", "rmdir", "set-mtime"];

export type Preset = "read-only" | "read-write" | "upload-only";

export const PRESETS: Readonly<Record<Preset, readonly Right[]>> = {
  "read-only": ["list", "read"],
  "read-write": RIGHTS,
  // The drop box (scanners, cameras): may see where to put a file and put new ones there, never
  // take one back, replace, extend, delete or rename what is already there.
  "upload-only": ["list", "mkdir", "create"],
};

/**
 * What a command needs: `always` before anything is asked of the file system; for uploads, also
 * `ifNew` or `ifExisting` once a stat has told whether the target exists. A command whose every
 * outcome would be refused is refused before the stat (see staticallyRefused).
 */
export interface RightsRule {
  readonly always: readonly Right[];
  readonly ifNew: readonly Right[];
  readonly ifExisting: readonly Right[];
}

const needs = (...always: Right[]): RightsRule => ({ always, ifNew: [], ifExisting: [] });
const upload = (ifNew: Right[], ifExisting: Right[]): RightsRule => ({ always: [], ifNew, ifExisting });

/**
 * The table, by rights key (see rightsKey). Commands not named here need no right (navigation,
 * transfer parameters, data set-up, STAT without an argument, SITE: CHMOD and friends are not
 * supported at all). REST+STOR keeps the first N bytes and replaces the rest, so it needs both
 * `append` and `overwrite`; with no file there it would be a 554 anyway, but the new file needs
 * `create` like any other.
 */
export const COMMAND_RIGHTS: ReadonlyMap<string, RightsRule> = new Map<string, RightsRule>([
  ["RETR", needs("read")],
  ["STOR", upload(["create"], ["overwrite"])],
  ["APPE", upload(["create"], ["append"])],
  ["REST+STOR", upload(["create"], ["append", "overwrite"])],
  ["STOU", needs("create")],
  ["DELE", needs("delete")],
  ["RNFR", needs("rename")],
  ["RNTO", needs("rename")],
  ["MKD", needs("mkdir")],
  ["XMKD", needs("mkdir")],
  ["RMD", needs("rmdir")],
  ["XRMD", needs("rmdir")],
  ["MFMT", needs("set-mtime")],
  ["LIST", needs("list")],
  ["NLST", needs("list")],
  ["MLSD", needs("list")],
  ["MLST", needs("list")],
  ["STAT", needs("list")],
  ["SIZE", needs("list")],
  ["MDTM", needs("list")],
]);

/** The table's key for a command: uploads with a REST offset are their own row; STAT only with a path. */
export function rightsKey(verb: string, arg: string | null, rest: number): string | null {
  if ((verb === "STOR" || verb === "APPE") && rest > 0) return "REST+STOR";
  if (verb === "STAT" && (arg === null || arg.trim() === "")) return null;
  return COMMAND_RIGHTS.has(verb) ? verb : null;
}

export function missing(rights: readonly Right[], needed: readonly Right[]): boolean {
  return needed.some((r) => !rights.includes(r));
}

/** Refused before any file-system request: `always` is missing, or neither a new nor an existing target could be written. */
export function staticallyRefused(rights: readonly Right[], rule: RightsRule): boolean {
  if (missing(rights, rule.always)) return true;
  if (rule.ifNew.length === 0 && rule.ifExisting.length === 0) return false;
  return missing(rights, rule.ifNew) && missing(rights, rule.ifExisting);
}

/** Once the target's existence is known. */
export function refusedFor(rights: readonly Right[], rule: RightsRule, exists: boolean): boolean {
  return missing(rights, rule.always) || missing(rights, exists ? rule.ifExisting : rule.ifNew);
}

/** A preset name or a comma-separated list of rights; null when any word is neither. */
export function parseRights(text: string): readonly Right[] | null {
  const words = text.split(",").map((w) => w.trim());
  if (words.length === 1 && isPreset(words[0] ?? "")) return PRESETS[words[0] as Preset];
  const out: Right[] = [];
  for (const w of words) {
    if (!isRight(w)) return null;
    if (!out.includes(w)) out.push(w);
  }
  return out;
}

export function isRight(word: string): word is Right {
  return (RIGHTS as readonly string[]).includes(word);
}

export function isPreset(word: string): word is Preset {
  return Object.hasOwn(PRESETS, word);
}
