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

export interface LineReader {
  readonly telnet: Telnet;
  /** The line so far (Telnet already removed), at most maxLineBytes long. */
  readonly partial: Uint8Array;
  /** The last byte was a CR (which ended its line): a following LF or NUL belongs to it. */
  readonly pendingCr: boolean;
  /** Dropping the rest of an overlong line, through its LF. */
  readonly discarding: boolean;
}

export const initialLineReader: LineReader = { telnet: "data", partial: new Uint8Array(0), pendingCr: false, discarding: false };

export type FramedItem = { readonly kind: "line"; readonly bytes: Uint8Array } | { readonly kind: "overlong" };

export function bufferedBytes(reader: LineReader): number {
  return reader.partial.length;
}

/**
 * The common case, taken without per-byte state: a clean reader and plain lines. Lines are zero-copy
 * views of the chunk. At the first line with a Telnet byte or over the limit it returns where the
 * byte-by-byte path takes over (with a clean reader: only whole lines were framed before it).
 */
function framePlain(chunk: Uint8Array, maxLineBytes: number, items: FramedItem[]): { stop: number; partialFrom: number; pendingCr: boolean } {
  let start = 0;
  let skip = false;
  for (let i = 0; i < chunk.length; i++) {
    const b = chunk[i];
    if (skip) {
      skip = false;
      if (b === LF || b === NUL) {
        start = i + 1;
        continue;
      }
    }
    if (b === IAC) return { stop: start, partialFrom: -1, pendingCr: false };
    if (b === LF || b === CR) {
      if (i - start > maxLineBytes) return { stop: start, partialFrom: -1, pendingCr: false };
      if (i > start) items.push({ kind: "line", bytes: chunk.subarray(start, i) });
      start = i + 1;
      skip = b === CR;
    }
  }
  if (chunk.length - start > maxLineBytes) return { stop: start, partialFrom: -1, pendingCr: false };
  return { stop: -1, partialFrom: start, pendingCr: skip };
}

export function feedControl(reader: LineReader, chunk: Uint8Array, maxLineBytes: number): { readonly reader: LineReader; readonly items: readonly FramedItem[] } {
  const items: FramedItem[] = [];
  if (reader.telnet === "data" && reader.partial.length === 0 && !reader.pendingCr && !reader.discarding) {
    const plain = framePlain(chunk, maxLineBytes, items);
    if (plain.stop < 0) {
      const partial = plain.partialFrom < chunk.length ? chunk.slice(plain.partialFrom) : initialLineReader.partial;
      return { reader: partial.length === 0 && !plain.pendingCr ? initialLineReader : { telnet: "data", partial, pendingCr: plain.pendingCr, discarding: false }, items };
    }
    return feedBytes(initialLineReader, chunk.subarray(plain.stop), maxLineBytes, items);
  }
  return feedBytes(reader, chunk, maxLineBytes, items);
}

function feedBytes(reader: LineReader, chunk: Uint8Array, maxLineBytes: number, items: FramedItem[]): { readonly reader: LineReader; readonly items: readonly FramedItem[] } {
  let telnet = reader.telnet;
  let discarding = reader.discarding;
  let pendingCr = reader.pendingCr;
  // Working line buffer, never longer than maxLineBytes.
  let line = new Uint8Array(Math.min(maxLineBytes, reader.partial.length + chunk.length));
  line.set(reader.partial.subarray(0, line.length));
  let len = Math.min(reader.partial.length, line.length);

  const emit = (end: number): void => {
    if (end > 0) items.push({ kind: "line", bytes: line.slice(0, end) });
    len = 0;
  };
  const push = (b: number): void => {
    if (discarding) return;
    if (len >= maxLineBytes) {
      items.push({ kind: "overlong" });
      discarding = true;
      len = 0;
      return;
    }
    if (len === line.length) {
      const grown = new Uint8Array(Math.min(maxLineBytes, Math.max(16, line.length * 2)));
      grown.set(line);
      line = grown;
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
        telnet = b >= WILL && b <= DONT ? "option" : b === SB ? "sub" : "data";
        // IAC + a non-command byte (the urgent DM was eaten): only the IAC goes.
        if (b < SE) {
          telnet = "data";
          break;
        }
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
    if (pendingCr) {
      pendingCr = false;
      // CR LF and CR NUL are one line end; the CR already ended the line.
      if (b === LF || b === NUL) continue;
    }
    if (b === LF || b === CR) {
      // A CR ends the line at once: an urgent ABOR/STAT/QUIT arrives as "ABOR\r" with its LF
      // eaten, and NVT allows no bare CR inside a command anyway.
      if (discarding) discarding = false;
      else emit(len);
      pendingCr = b === CR;
      continue;
    }
    push(b);
  }
  return { reader: { telnet, partial: line.slice(0, len), pendingCr, discarding }, items };
}
