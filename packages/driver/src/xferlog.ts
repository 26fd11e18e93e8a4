// One line per transfer in the xferlog format of wu-ftpd, vsftpd and ProFTPD (xferlog(5)), which
// awstats, fail2ban filters and log tools parse: fourteen space-separated fields after a
// ctime(3)-style date, so a field may never hold a space (names are written with "_" for blanks,
// as vsftpd does) or a line end.
import type { Endpoint, SessionNotice } from "@pasv/core";

type TransferNotice = Extract<SessionNotice, { kind: "transfer" }>;

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** ctime(3) without its newline, in UTC: "Thu Dec  4 02:21:42 2026". */
export function ctime(at: Date): string {
  const two = (n: number): string => String(n).padStart(2, "0");
  return `${DAYS[at.getUTCDay()] ?? ""} ${MONTHS[at.getUTCMonth()] ?? ""} ${String(at.getUTCDate()).padStart(2, " ")} ${two(at.getUTCHours())}:${two(at.getUTCMinutes())}:${two(at.getUTCSeconds())} ${String(at.getUTCFullYear())}`;
}

/** Whitespace and control characters end a field or a line in a log reader: each becomes "_". */
function field(text: string): string {
  if (text === "") return "-";
  let out = "";
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    out += code <= 0x20 || code === 0x7f || /\s/u.test(ch) ? "_" : ch;
  }
  return out;
}

/**
 * The xferlog line of a transfer that ended at `at` (listings are not transfers there: null).
 * Fields: date, seconds (at least 1, as wu-ftpd writes), client, bytes, path, a|b, "_" (no special
 * action), o|i (out, in), a|r (anonymous, real user), user, "ftp", 0 (no RFC 931), "*", c|i
 * (complete, incomplete).
 */
export function xferlogLine(notice: TransferNotice, remote: Endpoint, at: Date): string | null {
  if (notice.direction === "listing") return null;
  const seconds = Math.max(1, Math.round(notice.durationMs / 1000));
  return [
    ctime(at),
    String(seconds),
    remote.address,
    String(notice.bytes),
    field(notice.path),
    notice.ascii ? "a" : "b",
    "_",
    notice.direction === "download" ? "o" : "i",
    notice.anonymous ? "a" : "r",
    field(notice.user),
    "ftp",
    "0",
    "*",
    notice.outcome === "completed" ? "c" : "i",
  ].join(" ");
}
