// The text of the server's log lines: one place, so every runtime writes the same records.
import type { Endpoint, SessionNotice } from "@pasv/core";

type TransferNotice = Extract<SessionNotice, { kind: "transfer" }>;

export function transferLine(notice: TransferNotice, remote: Endpoint): string {
  const seconds = notice.durationMs / 1000;
  const rate = seconds > 0 ? `${(notice.bytes / seconds / 1048576).toFixed(2)} MiB/s` : "-";
  return `transfer ${notice.outcome} user=${notice.user || "-"} ip=${remote.address} ${notice.command} ${JSON.stringify(notice.path)} bytes=${notice.bytes} duration=${notice.durationMs}ms rate=${rate} code=${notice.code}`;
}

export function sessionLine(id: number, remote: Endpoint, message: string): string {
  return `session ${id} ${remote.address}: ${message}`;
}
