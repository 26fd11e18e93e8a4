// TYPE A transforms (SPEC §4.12). They run in the adapter's pipe, never in the reducer, so they
// keep their one byte of state (the last byte was CR) in a small object.

const CR = 0x0d;
const LF = 0x0a;

/** Download: every LF not already preceded by CR becomes CRLF; `skip` drops the first bytes of the result (REST). */
export class AsciiEncoder {
  private lastWasCr = false;
  private skip: number;

  constructor(skip = 0) {
    this.skip = skip;
  }

  push(chunk: Uint8Array): Uint8Array {
    let extra = 0;
    let prevCr = this.lastWasCr;
    for (const b of chunk) {
      if (b === LF && !prevCr) extra++;
      prevCr = b === CR;
    }
    let out: Uint8Array;
    if (extra === 0) {
      out = chunk;
    } else {
      out = new Uint8Array(chunk.length + extra);
      let n = 0;
      prevCr = this.lastWasCr;
      for (const b of chunk) {
        if (b === LF && !prevCr) out[n++] = CR;
        out[n++] = b;
        prevCr = b === CR;
      }
    }
    if (chunk.length > 0) this.lastWasCr = chunk[chunk.length - 1] === CR;
    if (this.skip > 0) {
      const drop = Math.min(this.skip, out.length);
      this.skip -= drop;
      out = out.subarray(drop);
    }
    return out;
  }
}

/** Upload: CRLF becomes LF; a lone CR stays; a CR at the end of a chunk waits for the next one. */
export class AsciiDecoder {
  private heldCr = false;

  push(chunk: Uint8Array): Uint8Array {
    const out = new Uint8Array(chunk.length + 1);
    let n = 0;
    let held = this.heldCr;
    for (const b of chunk) {
      if (held) {
        if (b !== LF) out[n++] = CR;
        held = false;
      }
      if (b === CR) held = true;
      else out[n++] = b;
    }
    this.heldCr = held;
    return out.subarray(0, n);
  }

  end(): Uint8Array {
    const held = this.heldCr;
    this.heldCr = false;
    return held ? new Uint8Array([CR]) : new Uint8Array(0);
  }
}

export function asciiEncodedLength(bytes: Uint8Array): number {
  let n = bytes.length;
  let prevCr = false;
  for (const b of bytes) {
    if (b === LF && !prevCr) n++;
    prevCr = b === CR;
  }
  return n;
}
