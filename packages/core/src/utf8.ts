// UTF-8 without TextEncoder/TextDecoder (runtime globals are off limits in the core).
//
// A leading EF BB BF is decoded as U+FEFF and kept, unlike TextDecoder's default (ignoreBOM: false),
// which drops it. The decoders read command arguments (pathnames: `STOR \ufeffnotes.txt` names a
// different file from `STOR notes.txt`, and dropping the character would store or delete the wrong
// one) and reply lines, each a fragment of a stream rather than the start of a document. FTP has no
// byte-order mark (RFC 2640 UTF-8 is just bytes), and vsftpd and ProFTPD pass such names through
// untouched. Oracles in the tests must therefore use `new TextDecoder("utf-8", { ignoreBOM: true })`.

export function encodeUtf8(s: string): Uint8Array {
  // Replies and listings are mostly ASCII: one pass, exact size.
  let ascii = true;
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) {
    const bytes = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
    return bytes;
  }
  const out = new Uint8Array(s.length * 3);
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      out[n++] = c;
      continue;
    }
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
        out[n++] = 0xf0 | (cp >> 18);
        out[n++] = 0x80 | ((cp >> 12) & 0x3f);
        out[n++] = 0x80 | ((cp >> 6) & 0x3f);
        out[n++] = 0x80 | (cp & 0x3f);
        continue;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd; // a lone surrogate has no UTF-8 form
    if (c < 0x800) {
      out[n++] = 0xc0 | (c >> 6);
      out[n++] = 0x80 | (c & 0x3f);
    } else {
      out[n++] = 0xe0 | (c >> 12);
      out[n++] = 0x80 | ((c >> 6) & 0x3f);
      out[n++] = 0x80 | (c & 0x3f);
    }
  }
  return out.subarray(0, n);
}

/**
 * Decodes one sequence at `i`: [code point, length], or [-1, bytes to skip] when invalid. The first
 * continuation byte's range rules out overlongs, surrogates and code points past U+10FFFF (Unicode
 * Table 3-7), so an invalid sequence is cut at its maximal valid prefix: one U+FFFD per prefix, as
 * TextDecoder and the WHATWG Encoding standard do.
 */
function decodeAt(b: Uint8Array, i: number): [number, number] {
  const b0 = b[i] ?? 0;
  if (b0 < 0x80) return [b0, 1];
  let need: number;
  let cp: number;
  let lo = 0x80;
  let hi = 0xbf;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    need = 1;
    cp = b0 & 0x1f;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    need = 2;
    cp = b0 & 0x0f;
    if (b0 === 0xe0) lo = 0xa0;
    else if (b0 === 0xed) hi = 0x9f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    need = 3;
    cp = b0 & 0x07;
    if (b0 === 0xf0) lo = 0x90;
    else if (b0 === 0xf4) hi = 0x8f;
  } else {
    return [-1, 1];
  }
  for (let k = 1; k <= need; k++) {
    const bk = b[i + k];
    if (bk === undefined || bk < lo || bk > hi) return [-1, k];
    lo = 0x80;
    hi = 0xbf;
    cp = (cp << 6) | (bk & 0x3f);
  }
  return [cp, need + 1];
}

function decode(bytes: Uint8Array, strict: boolean): string | null {
  let out = "";
  let ascii = 0;
  for (let i = 0; i < bytes.length; ) {
    const b0 = bytes[i] ?? 0;
    if (b0 < 0x80) {
      i++;
      ascii++;
      continue;
    }
    if (ascii > 0) {
      out += asciiRange(bytes, i - ascii, i);
      ascii = 0;
    }
    const [cp, len] = decodeAt(bytes, i);
    if (cp < 0) {
      if (strict) return null;
      out += "\ufffd";
    } else {
      out += String.fromCodePoint(cp);
    }
    i += len;
  }
  if (ascii > 0) out += asciiRange(bytes, bytes.length - ascii, bytes.length);
  return out;
}

const CHUNK = 4096;

/** Bytes below 0x80 as a string, in bounded slices (spreading a huge array would overflow the stack). */
function asciiRange(bytes: Uint8Array, from: number, to: number): string {
  let out = "";
  // apply() takes the typed array as an array-like without iterating it (much faster than spread).
  for (let i = from; i < to; i += CHUNK) out += String.fromCharCode.apply(null, bytes.subarray(i, Math.min(to, i + CHUNK)) as unknown as number[]);
  return out;
}

/** Strict: null for invalid UTF-8, overlong forms, surrogates or code points past U+10FFFF. */
export function decodeUtf8(bytes: Uint8Array): string | null {
  return decode(bytes, true);
}

/** Invalid sequences become U+FFFD. */
export function decodeUtf8Lossy(bytes: Uint8Array): string {
  return decode(bytes, false) ?? "";
}
