import type { SessionNotice } from "@pasv/core";
import { describe, expect, it } from "vitest";
import { sessionLine, transferLine } from "./log-line.js";

type TransferNotice = Extract<SessionNotice, { kind: "transfer" }>;

const base: TransferNotice = { kind: "transfer", outcome: "completed", command: "RETR", direction: "download", path: "/pub/a file.txt", bytes: 2 * 1048576, durationMs: 500, user: "alice", anonymous: false, ascii: false, code: 226 };

describe("log lines", () => {
  it("formats a transfer: outcome, user, ip, command, quoted path, bytes, duration, rate, code", () => {
    expect(transferLine(base, { address: "192.0.2.7", port: 5000 })).toBe('transfer completed user=alice ip=192.0.2.7 RETR "/pub/a file.txt" bytes=2097152 duration=500ms rate=4.00 MiB/s code=226');
  });

  it("an empty user is '-', a zero duration has no rate, and the path is JSON-quoted", () => {
    const line = transferLine({ ...base, outcome: "failed", command: "STOR", direction: "upload", user: "", durationMs: 0, bytes: 10, path: 'we"ird\n', code: 426 }, { address: "::1", port: 1 });
    expect(line).toBe('transfer failed user=- ip=::1 STOR "we\\"ird\\n" bytes=10 duration=0ms rate=- code=426');
  });

  it("formats a session line", () => {
    expect(sessionLine(12, { address: "10.0.0.1", port: 9 }, "failed login for \"bob\"")).toBe('session 12 10.0.0.1: failed login for "bob"');
  });
});
