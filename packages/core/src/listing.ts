// Directory listings: LIST in vsftpd's ls -l layout, NLST, and RFC 3659 machine listings (SPEC §5).
import { formatListDate, formatMdtm } from "./time.js";
import type { Right } from "./rights.js";
import type { FileStat, Millis } from "./types.js";

const PERM = "rwxrwxrwx";

function permissions(stat: FileStat): string {
  const mode = stat.mode !== 0 ? stat.mode : stat.type === "dir" ? 0o755 : 0o644;
  let out = "";
  for (let i = 0; i < 9; i++) out += mode & (1 << (8 - i)) ? PERM.charAt(i) : "-";
  return out;
}

function typeChar(stat: FileStat): string {
  return stat.type === "dir" ? "d" : stat.type === "symlink" ? "l" : "-";
}

/** A name a listing can carry: CR or LF would split the line (RFC 3659 §2.2). */
function listable(stat: FileStat, showDotFiles: boolean): boolean {
  return !/[\r\n]/.test(stat.name) && stat.name !== "." && stat.name !== ".." && stat.name !== "" && (showDotFiles || !stat.name.startsWith("."));
}

/** By name (UTF-16 code units, as the listings have always been sorted). */
export function sortByName<T extends { readonly name: string }>(entries: T[]): T[] {
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** One CRLF-terminated line per listable entry, in the order given (a streamed batch is sent as it comes). */
function lines(entries: readonly FileStat[], showDotFiles: boolean, line: (e: FileStat) => string): string {
  let out = "";
  for (const e of entries) if (listable(e, showDotFiles)) out += `${line(e)}\r\n`;
  return out;
}

export function formatListLine(stat: FileStat, now: Millis): string {
  const links = stat.type === "dir" ? 2 : 1;
  const size = String(stat.size).padStart(8);
  // A link target comes from the disk, not from a name we checked: a CR or LF in it would start a
  // forged row (or a forged reply, for STAT), so it is shown with those bytes replaced.
  const target = stat.type === "symlink" && stat.target !== undefined ? ` -> ${stat.target.replace(/[\r\n]/g, "?")}` : "";
  return `${typeChar(stat)}${permissions(stat)} ${String(links).padStart(4)} ftp      ftp      ${size} ${formatListDate(stat.mtime, now)} ${stat.name}${target}`;
}

/** LIST lines in the order given (formatList sorts first). */
export function formatListLines(entries: readonly FileStat[], now: Millis, showDotFiles: boolean): string {
  return lines(entries, showDotFiles, (e) => formatListLine(e, now));
}

export function formatList(entries: readonly FileStat[], now: Millis, showDotFiles: boolean): string {
  return formatListLines(sortByName([...entries]), now, showDotFiles);
}

/** NLST lines in the order given: names only; with a directory argument each name carries it, so
 * the lines work as RETR arguments. */
export function formatNlstLines(entries: readonly FileStat[], prefix: string | null, showDotFiles: boolean): string {
  const head = prefix === null ? "" : prefix.endsWith("/") ? prefix : `${prefix}/`;
  return lines(entries, showDotFiles, (e) => `${head}${e.name}`);
}

export function formatNlst(entries: readonly FileStat[], prefix: string | null, showDotFiles: boolean): string {
  return formatNlstLines(sortByName([...entries]), prefix, showDotFiles);
}

export const MLST_FACTS = ["type", "size", "modify", "perm", "unique", "UNIX.mode"] as const;
export type MlstFact = (typeof MLST_FACTS)[number];
export const DEFAULT_MLST_FACTS: readonly MlstFact[] = MLST_FACTS;

/** OPTS MLST (RFC 3659 §7.9): unknown facts dropped; a space or empty fact is a syntax error (null). */
export function parseMlstOpts(arg: string | null): readonly MlstFact[] | null {
  if (arg === null || arg === "") return [];
  if (/\s/.test(arg)) return null;
  const wanted = new Set<string>();
  const parts = arg.split(";");
  if (parts[parts.length - 1] === "") parts.pop();
  for (const p of parts) {
    if (p === "") return null;
    wanted.add(p.toLowerCase());
  }
  return MLST_FACTS.filter((f) => wanted.has(f.toLowerCase()));
}

export function mlstOptsReply(selected: readonly MlstFact[]): string {
  return `MLST OPTS ${selected.map((f) => `${f};`).join("")}`;
}

export function featMlstLine(selected: readonly MlstFact[]): string {
  return `MLST ${MLST_FACTS.map((f) => `${f}${selected.includes(f) ? "*" : ""};`).join("")}`;
}

/** RFC 3659 §7.5.5 letters for what this user may do with the entry. */
export function permFacts(stat: FileStat, rights: readonly Right[]): string {
  const letters: [string, Right | null][] =
    stat.type === "dir"
      ? [["e", null], ["l", "list"], ["c", "create"], ["m", "mkdir"], ["p", "delete"], ["d", "rmdir"], ["f", "rename"]]
      : [["r", "read"], ["w", "overwrite"], ["a", "append"], ["d", "delete"], ["f", "rename"]];
  return letters.map(([letter, right]) => (right === null || rights.includes(right) ? letter : "")).join("");
}

function typeFact(stat: FileStat): string {
  switch (stat.type) {
    case "dir":
      return "dir";
    case "symlink":
      return `OS.unix=slink:${(stat.target ?? "").replace(/[;\s]/g, "_")}`;
    case "file":
    case "other":
      return "file";
  }
}

export function formatFacts(stat: FileStat, selected: readonly MlstFact[], rights: readonly Right[]): string {
  let out = "";
  for (const fact of selected) {
    switch (fact) {
      case "type":
        out += `type=${typeFact(stat)};`;
        break;
      case "size":
        if (stat.type !== "dir") out += `size=${stat.size};`;
        break;
      case "modify":
        out += `modify=${formatMdtm(stat.mtime)};`;
        break;
      case "perm":
        out += `perm=${permFacts(stat, rights)};`;
        break;
      case "unique":
        if (stat.unique !== "") out += `unique=${stat.unique.replace(/[;\s=]/g, "_")};`;
        break;
      case "UNIX.mode":
        out += `UNIX.mode=0${(stat.mode !== 0 ? stat.mode : stat.type === "dir" ? 0o755 : 0o644).toString(8)};`;
        break;
    }
  }
  return out;
}

/** MLSD lines in the order given (formatMlsd sorts first). */
export function formatMlsdLines(entries: readonly FileStat[], selected: readonly MlstFact[], rights: readonly Right[], showDotFiles: boolean): string {
  return lines(entries, showDotFiles, (e) => `${formatFacts(e, selected, rights)} ${e.name}`);
}

export function formatMlsd(entries: readonly FileStat[], selected: readonly MlstFact[], rights: readonly Right[], showDotFiles: boolean): string {
  return formatMlsdLines(sortByName([...entries]), selected, rights, showDotFiles);
}

/** The fact line of an MLST reply: one leading space, facts, one space, the path. */
export function formatMlstLine(stat: FileStat, selected: readonly MlstFact[], rights: readonly Right[], path: string): string {
  return ` ${formatFacts(stat, selected, rights)} ${path}`;
}

export function hasGlob(s: string): boolean {
  return /[*?]/.test(s);
}

/** `*` and `?` only, matched against the whole name. */
export function matchesGlob(pattern: string, name: string): boolean {
  let p = 0;
  let n = 0;
  let star = -1;
  let mark = 0;
  while (n < name.length) {
    if (p < pattern.length && (pattern[p] === "?" || pattern[p] === name[n])) {
      p++;
      n++;
    } else if (p < pattern.length && pattern[p] === "*") {
      star = p++;
      mark = n;
    } else if (star >= 0) {
      p = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === "*") p++;
  return p === pattern.length;
}
