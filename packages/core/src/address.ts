// Addresses in PORT/EPRT arguments and 227/229 replies (SPEC §4.2–4.5, RFC 2428).
import type { Family } from "./types.js";

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/**
 * A dotted quad, each number read as decimal. Plain IPv4 tolerates leading zeros (010 is ten, never
 * octal eight); `strict` refuses them, as inet_pton does for the IPv4 tail of an IPv6 address
 * (RFC 3986 dec-octet; glibc, node:net and vsftpd's inet_pton(AF_INET6) all reject "::01.2.3.4").
 */
export function parseIpv4(s: string, strict = false): number[] | null {
  const m = IPV4.exec(s);
  if (m === null) return null;
  const text = m.slice(1);
  if (strict && text.some((p) => p.length > 1 && p.startsWith("0"))) return null;
  const parts = text.map(Number);
  return parts.every((p) => p <= 255) ? parts : null;
}

/** Eight 16-bit groups, or null. Accepts :: compression and an embedded IPv4 tail. */
export function parseIpv6(s: string): number[] | null {
  if (s.length > 45 || !/^[0-9a-fA-F:.]+$/.test(s)) return null;
  const halves = s.split("::");
  if (halves.length > 2) return null;
  // An embedded IPv4 tail may only end the whole address (RFC 4291 §2.2), never stand before "::".
  const groups = (part: string, last: boolean): number[] | null => {
    if (part === "") return [];
    const out: number[] = [];
    const pieces = part.split(":");
    for (let i = 0; i < pieces.length; i++) {
      const p = pieces[i] ?? "";
      if (last && i === pieces.length - 1 && p.includes(".")) {
        const v4 = parseIpv4(p, true);
        if (v4 === null) return null;
        out.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return null;
      out.push(parseInt(p, 16));
    }
    return out;
  };
  const head = groups(halves[0] ?? "", halves.length === 1);
  const tail = halves.length === 2 ? groups(halves[1] ?? "", true) : [];
  if (head === null || tail === null) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  const fill = 8 - head.length - tail.length;
  if (fill < 1) return null;
  return [...head, ...new Array<number>(fill).fill(0), ...tail];
}

/** RFC 5952 text: lower case, leading zeros dropped, the longest run (≥ 2) of zero groups as ::. */
function formatIpv6(g: readonly number[]): string {
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}

/** Validates an address; IPv4-mapped IPv6 becomes plain IPv4 and IPv6 is canonical, so equal addresses are equal strings. */
export function normalizeIp(ip: string): { readonly family: Family; readonly address: string } | null {
  const v4 = parseIpv4(ip);
  if (v4 !== null) return { family: 4, address: v4.join(".") };
  const zone = ip.indexOf("%");
  const v6 = parseIpv6(zone < 0 ? ip : ip.slice(0, zone));
  if (v6 === null) return null;
  if (v6.slice(0, 5).every((x) => x === 0) && v6[5] === 0xffff) {
    return { family: 4, address: v6.slice(6).flatMap((word) => [word >> 8, word & 255]).join(".") };
  }
  return { family: 6, address: formatIpv6(v6) };
}

export function sameIp(a: string, b: string): boolean {
  const x = normalizeIp(a);
  const y = normalizeIp(b);
  return x !== null && y !== null && x.address === y.address;
}

const BYTE = /^\d{1,3}$/;

/** p1·256 + p2 from the last two of six numbers. */
function portFrom(six: readonly number[]): number {
  return six.slice(4).reduce((port, byte) => port * 256 + byte, 0);
}

/** PORT h1,h2,h3,h4,p1,p2: six decimal numbers 0–255; port p1·256+p2, never 0. */
export function parsePortArg(arg: string): { readonly address: string; readonly port: number } | null {
  const parts = arg.trim().split(",");
  if (parts.length !== 6) return null;
  const n: number[] = [];
  for (const p of parts) {
    const t = p.trim();
    if (!BYTE.test(t)) return null;
    const v = Number(t);
    if (v > 255) return null;
    n.push(v);
  }
  const port = portFrom(n);
  if (port === 0) return null;
  return { address: n.slice(0, 4).join("."), port };
}

function portBytes(port: number): string {
  return `${port >> 8},${port & 255}`;
}

export function formatPortArg(address: string, port: number): string {
  return `${address.split(".").join(",")},${portBytes(port)}`;
}

/** The RFC 959 form with parentheses: the `(` is the non-digit Bernstein asks for before h1. */
export function formatPasvReply(address: string, port: number): string {
  return `Entering Passive Mode (${formatPortArg(address, port)}).`;
}

/**
 * The first six comma-separated numbers, as curl and ftplib find them. Like curl, a number over 255
 * there is an error, not a reason to look further. The lookarounds keep a match from starting or
 * ending inside a longer number while the bounded repeats keep the scan linear.
 */
export function parse227(text: string): { readonly address: string; readonly port: number } | null {
  const m = /(?<!\d)(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3})(?!\d)/.exec(text);
  if (m === null) return null;
  const n = m.slice(1).map(Number);
  if (n.some((v) => v > 255)) return null;
  return { address: n.slice(0, 4).join("."), port: portFrom(n) };
}

export type EprtParse =
  | { readonly ok: true; readonly family: Family; readonly address: string; readonly port: number }
  | { readonly ok: false; readonly error: "syntax" | "family" };

/** EPRT <d><af><d><addr><d><port><d>, the delimiter any printable ASCII (RFC 2428 §2). */
export function parseEprtArg(arg: string): EprtParse {
  const t = arg.trim();
  const d = t.charCodeAt(0);
  if (t.length < 7 || d < 33 || d > 126) return { ok: false, error: "syntax" };
  const fields = t.split(t.charAt(0));
  if (fields.length !== 5 || fields[0] !== "" || fields[4] !== "") return { ok: false, error: "syntax" };
  const [, af, addr, portText] = fields;
  if (af !== "1" && af !== "2") return /^\d+$/.test(af ?? "") ? { ok: false, error: "family" } : { ok: false, error: "syntax" };
  if (!/^\d{1,5}$/.test(portText ?? "")) return { ok: false, error: "syntax" };
  const port = Number(portText);
  if (port < 1 || port > 65535) return { ok: false, error: "syntax" };
  const text = addr ?? "";
  // The address must be in the form its af names; a zone index (%eth0) is not part of that form.
  const parsed = af === "1" ? parseIpv4(text) : parseIpv6(text);
  const normal = parsed === null ? null : normalizeIp(text);
  if (normal === null) return { ok: false, error: "syntax" };
  // af 2 with a v4-mapped address is an IPv4 peer on a dual-stack socket: report it as family 4 so
  // the family always describes the address string the adapter will connect to.
  return { ok: true, family: normal.family, address: normal.address, port };
}

export function formatEprtArg(family: Family, address: string, port: number): string {
  return `|${family === 4 ? 1 : 2}|${address}|${port}|`;
}

export function formatEpsvReply(port: number): string {
  return `Entering Extended Passive Mode (|||${port}|)`;
}

/** As curl reads 229: "(" then four identical delimiters around the port. */
export function parse229(text: string): number | null {
  const m = /\(([\x21-\x7e])\1\1(\d{1,5})\1\)/.exec(text);
  if (m === null) return null;
  const port = Number(m[2]);
  return port >= 1 && port <= 65535 ? port : null;
}
