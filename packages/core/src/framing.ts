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

export function feedControl(reader: LineReader, chunk: Uint8Array, maxLineBytes: number): { readonly reader: LineReader; readonly items: readonly FramedItem[] } {
  const items: FramedItem[] = [];
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
