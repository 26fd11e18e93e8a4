// Address blocks (RFC 4632 / RFC 4291 prefixes): who may send a PROXY header. An address is compared
// after normalizeIp, so an IPv4-mapped IPv6 peer matches its IPv4 block.
import { normalizeIp, parseIpv4, parseIpv6 } from "./address.js";
import type { Family } from "./types.js";

export interface Cidr {
  readonly family: Family;
  /** The network's bits, 4 or 16 bytes, host bits cleared. */
  readonly bytes: readonly number[];
  readonly prefix: number;
  /** As given, normalised: `10.0.0.0/8`, `2001:db8::/32`. */
  readonly text: string;
}

function addressBytes(text: string): { family: Family; bytes: number[] } | null {
  const v4 = parseIpv4(text, true);
  if (v4 !== null) return { family: 4, bytes: v4 };
  const normal = normalizeIp(text);
  // A zone index has no place in a block; a v4-mapped address is its IPv4 one.
  if (normal === null || text.includes("%")) return null;
  if (normal.family === 4) return { family: 4, bytes: normal.address.split(".").map(Number) };
  const groups = parseIpv6(normal.address);
  if (groups === null) return null;
  return { family: 6, bytes: groups.flatMap((g) => [g >> 8, g & 255]) };
}

/** `ADDR/LEN` or a bare address (one host); host bits set under the prefix are cleared. Null when malformed. */
export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf("/");
  const addr = slash < 0 ? text : text.slice(0, slash);
  const parsed = addressBytes(addr);
  if (parsed === null) return null;
  const max = parsed.family === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const len = text.slice(slash + 1);
    if (!/^(?:0|[1-9]\d{0,2})$/.test(len) || Number(len) > max) return null;
    prefix = Number(len);
  }
  const bytes = parsed.bytes.map((b, i) => b & maskByte(prefix, i));
  const shown = parsed.family === 4 ? bytes.join(".") : (normalizeIp(groupsText(bytes))?.address ?? groupsText(bytes));
  return { family: parsed.family, bytes, prefix, text: `${shown}/${prefix}` };
}

function groupsText(bytes: readonly number[]): string {
  const groups: string[] = [];
  for (let i = 0; i < bytes.length; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  return groups.join(":");
}

/** The mask's byte `i` for a prefix of `prefix` bits. */
function maskByte(prefix: number, i: number): number {
  const bits = Math.max(0, Math.min(8, prefix - 8 * i));
  return (0xff << (8 - bits)) & 0xff;
}

/** Whether `address` (any textual form) lies in `cidr`. */
export function cidrContains(cidr: Cidr, address: string): boolean {
  const parsed = addressBytes(address.includes("%") ? address.slice(0, address.indexOf("%")) : address);
  if (parsed?.family !== cidr.family) return false;
  return parsed.bytes.every((b, i) => (b & maskByte(cidr.prefix, i)) === cidr.bytes[i]);
}

/** Whether any block of the list holds `address`. */
export function inCidrs(cidrs: readonly Cidr[], address: string): boolean {
  return cidrs.some((c) => cidrContains(c, address));
}
