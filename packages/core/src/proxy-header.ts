// The PROXY protocol header a load balancer puts before a connection's own bytes (HAProxy's
// proxy-protocol.txt, versions 1 and 2; SPEC §10.2). Pure: the driver feeds what it read, this says
// "more", "invalid" or "here is the header and this many bytes of it"; bytes after the header are the
// connection's own and are never looked at.
import { normalizeIp, parseIpv4, parseIpv6 } from "./address.js";
import type { Endpoint } from "./types.js";

/** A v1 line, "PROXY" to CRLF included, is at most this long (the spec's worst case: TCP6 with two
 * full addresses and ports). */
export const PROXY_V1_MAX_BYTES = 107;
/** Signature, version/command, family/transport and the 2-byte length. */
export const PROXY_V2_FIXED_BYTES = 16;
/** The most bytes a v2 header may carry after its fixed part (addresses and TLVs). HAProxy's own
 * TLVs (ALPN, authority, unique id, SSL) and the clouds' (AWS VPC endpoint, Azure link id) fit in a
 * few hundred; a longer one is refused rather than buffered. */
export const PROXY_V2_MAX_PAYLOAD = 2048;
/** The most bytes a connection may send before its header is complete. */
export const PROXY_HEADER_MAX_BYTES = PROXY_V2_FIXED_BYTES + PROXY_V2_MAX_PAYLOAD;

const V1_PREFIX = [0x50, 0x52, 0x4f, 0x58, 0x59, 0x20]; // "PROXY "
const V2_SIGNATURE = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];

export type ProxyHeader =
  /** The client's connection as the balancer saw it. */
  | { readonly command: "proxy"; readonly version: 1 | 2; readonly source: Endpoint; readonly destination: Endpoint }
  /** No client address: v2 LOCAL (a health check), v1 UNKNOWN, or v2 PROXY with the UNSPEC family.
   * The connection's own addresses apply. */
  | { readonly command: "local"; readonly version: 1 | 2 };

export type ProxyParse =
  | { readonly kind: "incomplete" }
  /** `length`: how many of the bytes are the header; the rest belong to the connection. */
  | { readonly kind: "header"; readonly header: ProxyHeader; readonly length: number }
  | { readonly kind: "invalid"; readonly reason: string };

const INCOMPLETE: ProxyParse = { kind: "incomplete" };

function invalid(reason: string): ProxyParse {
  return { kind: "invalid", reason };
}

/** The first `n` bytes equal the first `n` of `expected` (n = min of both lengths). */
function prefixMatches(bytes: Uint8Array, expected: readonly number[]): boolean {
  const n = Math.min(bytes.length, expected.length);
  for (let i = 0; i < n; i++) if (bytes[i] !== expected[i]) return false;
  return true;
}

/**
 * Reads a header from the start of `bytes` (everything received so far). "incomplete" only while
 * some continuation could still be a valid header, so a connection that cannot be one is refused at
 * its first wrong byte; once "invalid" or "header", more bytes never change the answer.
 */
export function parseProxyHeader(bytes: Uint8Array): ProxyParse {
  if (bytes.length === 0) return INCOMPLETE;
  if (bytes[0] === V1_PREFIX[0]) return parseV1(bytes);
  if (bytes[0] === V2_SIGNATURE[0]) return parseV2(bytes);
  return invalid("not a PROXY protocol header");
}

function parseV1(bytes: Uint8Array): ProxyParse {
  if (!prefixMatches(bytes, V1_PREFIX)) return invalid("not a PROXY protocol header");
  const limit = Math.min(bytes.length, PROXY_V1_MAX_BYTES);
  let line = "";
  for (let i = 0; i < limit; i++) {
    const b = bytes[i] ?? 0;
    if (b === 0x0d) {
      // The LF must fit too.
      if (i + 2 > PROXY_V1_MAX_BYTES) break;
      if (i + 1 >= bytes.length) return INCOMPLETE;
      if (bytes[i + 1] !== 0x0a) return invalid("v1 header: CR without LF");
      return v1Line(line, i + 2);
    }
    if (b < 0x20 || b > 0x7e) return invalid("v1 header: a byte that is not printable ASCII");
    line += String.fromCharCode(b);
  }
  return bytes.length >= PROXY_V1_MAX_BYTES ? invalid(`v1 header longer than ${PROXY_V1_MAX_BYTES} bytes`) : INCOMPLETE;
}

const PORT = /^(?:0|[1-9]\d{0,4})$/;

function v1Line(line: string, length: number): ProxyParse {
  const parts = line.split(" ");
  // "PROXY UNKNOWN" may carry anything (or nothing) after it; the receiver ignores it.
  if (parts[1] === "UNKNOWN") return { kind: "header", header: { command: "local", version: 1 }, length };
  if (parts.length !== 6) return invalid("v1 header: expected PROXY TCP4|TCP6|UNKNOWN SRC DST SPORT DPORT");
  const [, proto, src, dst, sport, dport] = parts as [string, string, string, string, string, string];
  if (proto !== "TCP4" && proto !== "TCP6") return invalid(`v1 header: unknown protocol ${JSON.stringify(proto)}`);
  const address = (text: string): string | null => {
    const parsed = proto === "TCP4" ? parseIpv4(text, true) : text.includes(":") ? parseIpv6(text) : null;
    return parsed === null ? null : (normalizeIp(text)?.address ?? null);
  };
  const source = address(src);
  const destination = address(dst);
  if (source === null || destination === null) return invalid(`v1 header: an address that is not ${proto === "TCP4" ? "IPv4" : "IPv6"}`);
  if (!PORT.test(sport) || !PORT.test(dport) || Number(sport) > 65535 || Number(dport) > 65535) return invalid("v1 header: a port that is not 0-65535");
  return { kind: "header", header: { command: "proxy", version: 1, source: { address: source, port: Number(sport) }, destination: { address: destination, port: Number(dport) } }, length };
}

function parseV2(bytes: Uint8Array): ProxyParse {
  if (!prefixMatches(bytes, V2_SIGNATURE)) return invalid("not a PROXY protocol header");
  if (bytes.length <= 12) return INCOMPLETE;
  const versionCommand = bytes[12] ?? 0;
  if (versionCommand >> 4 !== 2) return invalid(`v2 header: version ${versionCommand >> 4}`);
  const command = versionCommand & 0x0f;
  if (command !== 0 && command !== 1) return invalid(`v2 header: command ${command}`);
  if (bytes.length <= 13) return INCOMPLETE;
  const family = bytes[13] ?? 0;
  // LOCAL ignores the address block whatever its family; PROXY must be TCP over IPv4/IPv6 or UNSPEC
  // (UDP and UNIX sockets are not FTP clients).
  const need = command === 0 ? 0 : family === 0x11 ? 12 : family === 0x21 ? 36 : family === 0x00 ? 0 : -1;
  if (need < 0) return invalid(`v2 header: family/transport 0x${family.toString(16).padStart(2, "0")} is not TCP over IPv4 or IPv6`);
  if (bytes.length < PROXY_V2_FIXED_BYTES) return INCOMPLETE;
  const payload = ((bytes[14] ?? 0) << 8) | (bytes[15] ?? 0);
  if (payload > PROXY_V2_MAX_PAYLOAD) return invalid(`v2 header: ${payload} bytes after the fixed part (at most ${PROXY_V2_MAX_PAYLOAD})`);
  if (payload < need) return invalid(`v2 header: ${payload} bytes cannot hold the addresses (${need})`);
  const length = PROXY_V2_FIXED_BYTES + payload;
  if (bytes.length < length) return INCOMPLETE;
  if (command === 0 || family === 0x00) return { kind: "header", header: { command: "local", version: 2 }, length };
  const at = PROXY_V2_FIXED_BYTES;
  const word = (i: number): number => ((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0);
  if (family === 0x11) {
    const v4 = (i: number): string => [bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]].join(".");
    return { kind: "header", header: { command: "proxy", version: 2, source: { address: v4(at), port: word(at + 8) }, destination: { address: v4(at + 4), port: word(at + 10) } }, length };
  }
  const v6 = (i: number): string => {
    const groups: string[] = [];
    for (let g = 0; g < 8; g++) groups.push(word(i + 2 * g).toString(16));
    // Canonical text (and an IPv4-mapped address as plain IPv4), as every other address is compared.
    return normalizeIp(groups.join(":"))?.address ?? groups.join(":");
  };
  return { kind: "header", header: { command: "proxy", version: 2, source: { address: v6(at), port: word(at + 32) }, destination: { address: v6(at + 16), port: word(at + 34) } }, length };
}

/** What a connection sent before its header was complete (at most PROXY_HEADER_MAX_BYTES). */
export interface ProxyReader {
  readonly bytes: Uint8Array;
}

export const initialProxyReader: ProxyReader = { bytes: new Uint8Array(0) };

export type ProxyFeed =
  | { readonly kind: "incomplete"; readonly reader: ProxyReader }
  /** `rest`: the bytes of the last chunk after the header (the connection's own). */
  | { readonly kind: "header"; readonly header: ProxyHeader; readonly rest: Uint8Array }
  | { readonly kind: "invalid"; readonly reason: string };

/** One more chunk of a connection's first bytes. */
export function feedProxyHeader(reader: ProxyReader, chunk: Uint8Array): ProxyFeed {
  const before = reader.bytes.length;
  // Never more than a header can be: the rest of a chunk stays in the chunk.
  const take = Math.min(chunk.length, PROXY_HEADER_MAX_BYTES - before);
  const bytes = new Uint8Array(before + take);
  bytes.set(reader.bytes);
  bytes.set(chunk.subarray(0, take), before);
  const parsed = parseProxyHeader(bytes);
  switch (parsed.kind) {
    case "incomplete":
      // The parser's own limits end every header within the limit, so this cannot happen; it keeps
      // the reader's bound from depending on them.
      return bytes.length >= PROXY_HEADER_MAX_BYTES ? { kind: "invalid", reason: "no PROXY header within its size limit" } : { kind: "incomplete", reader: { bytes } };
    case "invalid":
      return parsed;
    case "header":
      return { kind: "header", header: parsed.header, rest: chunk.subarray(parsed.length - before) };
  }
}
