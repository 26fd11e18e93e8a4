// Control-line framing: Telnet filtering, then lines split on LF (SPEC §1.1–1.3). Bytes arrive in
// arbitrary chunks, so every piece of state here survives a chunk boundary.

const IAC = 0xff;
const SB = 250;
const SE = 240;
const WILL = 251;
const DONT = 254;
const CR = 0x0d;
const LF = 0x0a;
const NUL = 0x00;
const SPACE = 0x20;

/**
 * Only a short first word can be an urgent verb behind garbage; the bound keeps the check at a CR
 * O(1), so a line of many CR NULs is not re-scanned quadratically. It matches parseCommand, which
 * looks at no more of the verb than this.
 */
const MAX_URGENT_LINE = 64;

type Telnet =
  /** Plain data. */
  | "data"
  /** Just saw IAC. */
  | "iac"
  /** Saw IAC WILL/WONT/DO/DONT: the option byte follows. */
  | "option"
  /** Inside IAC SB … IAC SE. */
  | "sub"
  | "sub-iac";

type Cr =
  | "none"
  /** The line ended with a CR whose meaning the next byte decides: LF ends it, NUL makes it a data CR, anything else ends the line at the CR. The CR is not in `partial`. */
  | "pending"
  /** A CR already ended an urgent ABOR/STAT/QUIT line; a following LF or NUL belongs to it. */
  | "absorb";

export interface LineReader {
  readonly telnet: Telnet;
  /** The line so far (Telnet already removed), at most maxLineBytes long. */
  readonly partial: Uint8Array;
  readonly cr: Cr;
  /** Dropping the rest of an overlong line, through its end. */
  readonly discarding: boolean;
}

export const initialLineReader: LineReader = { telnet: "data", partial: new Uint8Array(0), cr: "none", discarding: false };

export type FramedItem = { readonly kind: "line"; readonly bytes: Uint8Array } | { readonly kind: "overlong" };

export function bufferedBytes(reader: LineReader): number {
  return reader.partial.length;
}

function upper(b: number): number {
  return b >= 0x61 && b <= 0x7a ? b - 0x20 : b;
}

function isLetter(b: number): boolean {
  const u = upper(b);
  return u >= 0x41 && u <= 0x5a;
}

/** "ABOR", "STAT", "QUIT" as upper-case byte values. */
const URGENT: readonly (readonly number[])[] = [
  [0x41, 0x42, 0x4f, 0x52],
  [0x53, 0x54, 0x41, 0x54],
  [0x51, 0x55, 0x49, 0x54],
];

/**
 * The line so far is ABOR, STAT or QUIT, possibly behind non-letter garbage left by urgent data —
 * the same reading parseCommand gives it. Such a line ends at its CR: its LF may have been eaten as
 * urgent data and will never come (SPEC §1.1).
 */
function isUrgent(b: Uint8Array, from: number, to: number): boolean {
  const n = to - from;
  if (n < 4 || n > MAX_URGENT_LINE) return false;
  let garbage = false;
  for (let i = from; i < to - 4; i++) {
    const c = b[i] ?? 0;
    if (c === SPACE) return false;
    if (!isLetter(c)) garbage = true;
  }
  if (n > 4 && !garbage) return false;
  return URGENT.some((word) => word.every((c, k) => upper(b[to - 4 + k] ?? 0) === c));
}

interface Plain {
  /** Where the byte-by-byte path must take over, or -1 when the whole chunk was framed. */
  readonly stop: number;
  readonly partialFrom: number;
  readonly cr: Cr;
}

/**
 * The common case, taken without per-byte state: a clean reader and plain lines. Lines are zero-copy
 * views of the chunk. At the first line with a Telnet byte, a CR whose meaning is not yet known, or
 * over the limit it returns where the byte-by-byte path takes over (with a clean reader: only whole
 * lines were framed before it).
 */
function framePlain(chunk: Uint8Array, maxLineBytes: number, items: FramedItem[]): Plain {
  let start = 0;
  const bail = (): Plain => ({ stop: start, partialFrom: -1, cr: "none" });
  for (let i = 0; i < chunk.length; i++) {
    const b = chunk[i];
    if (b === IAC) return bail();
    if (b !== LF && b !== CR) continue;
    if (i - start > maxLineBytes) return bail();
    if (b === LF) {
      if (i > start) items.push({ kind: "line", bytes: chunk.subarray(start, i) });
      start = i + 1;
      continue;
    }
    const next = chunk[i + 1];
    if (isUrgent(chunk, start, i)) {
      items.push({ kind: "line", bytes: chunk.subarray(start, i) });
      if (next === undefined) return { stop: -1, partialFrom: chunk.length, cr: "absorb" };
      if (next === LF || next === NUL) i++;
      start = i + 1;
      continue;
    }
    // CR NUL (a data CR), a CR at the end of the chunk or before Telnet bytes (which may hide the
    // deciding byte): the byte-by-byte path decides.
    if (next === undefined || next === NUL || next === IAC) return bail();
    if (i > start) items.push({ kind: "line", bytes: chunk.subarray(start, i) });
    if (next === LF) i++;
    start = i + 1;
  }
  if (chunk.length - start > maxLineBytes) return bail();
  return { stop: -1, partialFrom: start, cr: "none" };
}

export function feedControl(reader: LineReader, chunk: Uint8Array, maxLineBytes: number): { readonly reader: LineReader; readonly items: readonly FramedItem[] } {
  const items: FramedItem[] = [];
  if (reader.telnet === "data" && reader.partial.length === 0 && reader.cr === "none" && !reader.discarding) {
    const plain = framePlain(chunk, maxLineBytes, items);
    if (plain.stop < 0) {
      const partial = plain.partialFrom < chunk.length ? chunk.slice(plain.partialFrom) : initialLineReader.partial;
      return { reader: partial.length === 0 && plain.cr === "none" ? initialLineReader : { telnet: "data", partial, cr: plain.cr, discarding: false }, items };
    }
    return feedBytes(initialLineReader, chunk.subarray(plain.stop), maxLineBytes, items);
  }
  return feedBytes(reader, chunk, maxLineBytes, items);
}

function feedBytes(reader: LineReader, chunk: Uint8Array, maxLineBytes: number, items: FramedItem[]): { readonly reader: LineReader; readonly items: readonly FramedItem[] } {
  let telnet = reader.telnet;
  let discarding = reader.discarding;
  let cr = reader.cr;
  // Working line buffer, never longer than maxLineBytes. It never needs to grow: the line gains at
  // most the chunk's bytes plus a held CR. Copying the held partial line costs at most maxLineBytes
  // per chunk, however the peer splits its bytes.
  const line = new Uint8Array(Math.min(maxLineBytes, reader.partial.length + chunk.length + 1));
  line.set(reader.partial.subarray(0, line.length));
  let len = Math.min(reader.partial.length, line.length);

  const emit = (): void => {
    let end = len;
    // Trailing data CRs (from CR NUL) go too: SPEC §1.1 strips all trailing CRs.
    while (end > 0 && line[end - 1] === CR) end--;
    if (end > 0) items.push({ kind: "line", bytes: line.slice(0, end) });
    len = 0;
  };
  const endLine = (): void => {
    if (discarding) discarding = false;
    else emit();
  };
  const push = (b: number): void => {
    if (discarding) return;
    if (len >= maxLineBytes) {
      items.push({ kind: "overlong" });
      discarding = true;
      len = 0;
      return;
    }
    line[len++] = b;
  };

  for (const b of chunk) {
    switch (telnet) {
      case "iac":
        if (b === IAC) {
          telnet = "data";
          break; // IAC IAC is a data 0xFF, handled below
        }
        // IAC + a non-command byte (the urgent DM was eaten): only the IAC goes.
        if (b < SE) {
          telnet = "data";
          break;
        }
        telnet = b >= WILL && b <= DONT ? "option" : b === SB ? "sub" : "data";
        continue;
      case "option":
        telnet = "data";
        continue;
      case "sub":
        if (b === IAC) telnet = "sub-iac";
        continue;
      case "sub-iac":
        telnet = b === SE ? "data" : "sub";
        continue;
      case "data":
        if (b === IAC) {
          telnet = "iac";
          continue;
        }
        break;
    }
    if (cr === "absorb") {
      cr = "none";
      if (b === LF || b === NUL) continue;
    } else if (cr === "pending") {
      cr = "none";
      if (b === NUL) {
        // NVT's CR NUL is a carriage return inside the line (a path may hold one; the reducer refuses it).
        push(CR);
        continue;
      }
      // NVT allows no bare CR, so CR + anything but NUL ends the line at the CR; CR LF is one end.
      endLine();
      if (b === LF) continue;
    }
    if (b === LF) {
      endLine();
      continue;
    }
    if (b === CR) {
      if (!discarding && isUrgent(line, 0, len)) {
        emit();
        cr = "absorb";
      } else {
        cr = "pending";
      }
      continue;
    }
    push(b);
  }
  return { reader: { telnet, partial: line.slice(0, len), cr, discarding }, items };
}
