// Reply encoding (SPEC §1.5) and a strict reply reader for clients, tests and the simulator.
import type { MultilineStyle } from "./types.js";
import { decodeUtf8Lossy, encodeUtf8 } from "./utf8.js";

/** No text can split a reply or forge another: CR and LF become spaces. */
function clean(text: string): string {
  return text.includes("\r") || text.includes("\n") ? text.replace(/[\r\n]/g, " ") : text;
}

/**
 * `ddd text` for one line; `ddd-first` … `ddd last` for several, with the middle lines in `style`
 * ("plain": any that begins with three digits indented so it cannot pass for the end). Replies are
 * UTF-8, which never contains the byte 0xFF, so no Telnet IAC doubling is ever needed.
 */
export function encodeReply(code: number, text: string | readonly string[], style: MultilineStyle = "plain"): Uint8Array {
  if (typeof text === "string") {
    const fast = encodeAsciiLine(code, text);
    if (fast !== null) return fast;
  }
  if (typeof text === "string" || text.length <= 1) {
    const line = typeof text === "string" ? text : (text[0] ?? "");
    return encodeUtf8(`${code} ${clean(line)}\r\n`);
  }
  let out = `${code}-${clean(text[0] ?? "")}\r\n`;
  for (let i = 1; i < text.length - 1; i++) {
    const line = clean(text[i] ?? "");
    out += style === "dashed" ? `${code}-${line}\r\n` : style === "indented" || /^\d{3}/.test(line) ? ` ${line}\r\n` : `${line}\r\n`;
  }
  out += `${code} ${clean(text[text.length - 1] ?? "")}\r\n`;
  return encodeUtf8(out);
}

/** One pass for the common single-line ASCII reply (CR/LF cleaned on the way); null otherwise. */
function encodeAsciiLine(code: number, text: string): Uint8Array | null {
  if (code < 100 || code > 999) return null;
  const n = text.length;
  const out = new Uint8Array(n + 6);
  out[0] = 0x30 + Math.floor(code / 100);
  out[1] = 0x30 + (Math.floor(code / 10) % 10);
  out[2] = 0x30 + (code % 10);
  out[3] = 0x20;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) return null;
    out[i + 4] = c === 0x0d || c === 0x0a ? 0x20 : c;
  }
  out[n + 4] = 0x0d;
  out[n + 5] = 0x0a;
  return out;
}

/** A path for a 257 reply: quoted, inner quotes doubled, LF encoded as NUL (RFC 959 App. II). */
export function quotePath(path: string): string {
  return `"${path.replace(/"/g, '""').replace(/\n/g, "\0")}"`;
}

export interface ReplyReader {
  /** Bytes of an unfinished line (kept as bytes: a UTF-8 character may straddle chunks). */
  readonly partial: Uint8Array;
  /** Lines of a multi-line reply so far, and its code. */
  readonly open: { readonly code: number; readonly lines: readonly string[] } | null;
}

export const initialReplyReader: ReplyReader = { partial: new Uint8Array(0), open: null };

export interface ParsedReply {
  readonly code: number;
  readonly lines: readonly string[];
  /** A completion or rejection (2yz–5yz), not a mark (1yz). */
  readonly final: boolean;
}

const MAX_REPLY_LINE = 64 * 1024;

/** Client side: replies as a strict client sees them; `error` names the first syntax violation. */
export function feedReplies(r: ReplyReader, chunk: Uint8Array): { reader: ReplyReader; replies: readonly ParsedReply[]; error: string | null } {
  const replies: ParsedReply[] = [];
  const bytes = new Uint8Array(r.partial.length + chunk.length);
  bytes.set(r.partial);
  bytes.set(chunk, r.partial.length);
  let open = r.open;
  let start = 0;
  for (;;) {
    const lf = bytes.indexOf(0x0a, start);
    if (lf < 0) break;
    const next = lf + 1;
    if (lf === start || bytes[lf - 1] !== 0x0d) return { reader: { partial: bytes.slice(next), open }, replies, error: "line not ended by CRLF" };
    const line = decodeUtf8Lossy(bytes.subarray(start, lf - 1));
    start = next;
    const m = /^(\d{3})([ -])/.exec(line);
    if (open === null) {
      if (m === null) return { reader: { partial: bytes.slice(start), open }, replies, error: `malformed reply line: ${JSON.stringify(line)}` };
      const code = Number(m[1]);
      if (code < 100) return { reader: { partial: bytes.slice(start), open }, replies, error: `reply code out of range: ${code}` };
      if (m[2] === "-") open = { code, lines: [line.slice(4)] };
      else replies.push({ code, lines: [line.slice(4)], final: code >= 200 });
    } else if (m !== null && m[2] === " " && Number(m[1]) === open.code) {
      replies.push({ code: open.code, lines: [...open.lines, line.slice(4)], final: open.code >= 200 });
      open = null;
    } else if (/^\d{3}/.test(line) && !(m?.[2] === "-" && Number(m[1]) === open.code)) {
      // RFC 959 §4.2: a middle line starting with three digits must be padded; ours always are, so
      // an unpadded one is a wrong end code or a reply cut into another.
      return { reader: { partial: bytes.slice(start), open }, replies, error: `multi-line ${open.code} reply: unpadded line ${JSON.stringify(line)}` };
    } else {
      open = { code: open.code, lines: [...open.lines, line] };
    }
  }
  const partial = bytes.slice(start);
  if (partial.length > MAX_REPLY_LINE) return { reader: { partial: new Uint8Array(0), open }, replies, error: "reply line too long" };
  return { reader: { partial, open }, replies, error: null };
}
