// A control line split into verb and argument (SPEC §1.4).
import { decodeUtf8, decodeUtf8Lossy } from "./utf8.js";

export interface ParsedCommand {
  /** Upper-cased ASCII verb ("" when the line starts with a space). */
  readonly verb: string;
  /** Everything after the first space, verbatim and untrimmed; null without a space. */
  readonly arg: string | null;
  /** The argument was not valid UTF-8 (arg is then the lossy decoding). */
  readonly argInvalid: boolean;
}

const SPACE = 0x20;
const URGENT_VERBS = ["ABOR", "STAT", "QUIT"];
/** No verb is longer; the rest of an absurd first word is not even looked at (it gets a 500 anyway). */
const MAX_VERB_BYTES = 64;

/** Longest verb the fast path takes (SITE sub-verbs and OPTS targets are arguments, not verbs). */
const MAX_PLAIN_VERB = 8;
/** Arguments up to this length are built character by character; longer ones in one call. */
const SHORT_ARG = 32;

function isLetter(b: number): boolean {
  return (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
}

function asciiText(line: Uint8Array, from: number): string {
  if (line.length - from > SHORT_ARG) return String.fromCharCode.apply(null, line.subarray(from) as unknown as number[]);
  let text = "";
  for (let i = from; i < line.length; i++) text += String.fromCharCode(line[i] ?? 0);
  return text;
}

/** The upper-cased verb as one flat string (one call, so the verb table's lookup need not flatten it). */
function upperVerb(line: Uint8Array, length: number): string {
  const codes: number[] = [];
  for (let i = 0; i < length; i++) {
    const b = line[i] ?? 0;
    codes.push(b >= 0x61 ? b - 0x20 : b);
  }
  return String.fromCharCode(...codes);
}

/** Most lines are short printable ASCII with a letters-only verb: one pass, no regular expression. */
function parseAscii(line: Uint8Array): ParsedCommand | null {
  const n = line.length;
  if (n > 512) return null;
  let space = -1;
  for (let i = 0; i < n; i++) {
    const b = line[i] ?? 0;
    if (b < 0x20 || b > 0x7e) return null;
    if (space >= 0) continue;
    if (b === SPACE) space = i;
    else if (i >= MAX_PLAIN_VERB || !isLetter(b)) return null;
  }
  const verbLength = space < 0 ? n : space;
  if (verbLength === 0) return null;
  return { verb: upperVerb(line, verbLength), arg: space < 0 ? null : asciiText(line, space + 1), argInvalid: false };
}

export function parseCommand(line: Uint8Array): ParsedCommand {
  const plain = parseAscii(line);
  if (plain !== null) return plain;
  let space = line.indexOf(SPACE);
  if (space < 0) space = line.length;
  let letters = true;
  const codes: number[] = [];
  for (let i = 0; i < space && i < MAX_VERB_BYTES; i++) {
    const b = line[i] ?? 0;
    const upper = b >= 0x61 && b <= 0x7a ? b - 0x20 : b;
    if (upper < 0x41 || upper > 0x5a) letters = false;
    codes.push(upper < 0x80 ? upper : 0xfffd);
  }
  if (space > MAX_VERB_BYTES) letters = false;
  let verb = String.fromCharCode.apply(null, codes);
  if (!letters) {
    // Telnet IP/Synch leftovers in front of an urgent verb (pyftpdlib's suffix rule).
    const suffix = URGENT_VERBS.find((v) => verb.endsWith(v));
    if (suffix !== undefined) verb = suffix;
  }
  if (space >= line.length) return { verb, arg: null, argInvalid: false };
  const raw = line.subarray(space + 1);
  // NUL on the wire stands for an LF inside a path name (Bernstein); the reducer then refuses it.
  const bytes = raw.includes(0) ? raw.map((b) => (b === 0 ? 0x0a : b)) : raw;
  const strict = decodeUtf8(bytes);
  return strict === null ? { verb, arg: decodeUtf8Lossy(bytes), argInvalid: true } : { verb, arg: strict, argInvalid: false };
}
