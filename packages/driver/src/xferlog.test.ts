import type { SessionNotice } from "@pasv/core";
import { describe, expect, it } from "vitest";
import { ctime, xferlogLine } from "./xferlog.js";

type TransferNotice = Extract<SessionNotice, { kind: "transfer" }>;

const base: TransferNotice = { kind: "transfer", transfer: 1, outcome: "completed", reason: null, command: "RETR", direction: "download", path: "/pub/a.txt", bytes: 5242880, durationMs: 2400, user: "alice", anonymous: false, ascii: false, code: 226 };
const remote = { address: "192.0.2.7", port: 5000 };
const at = new Date(Date.UTC(2026, 11, 4, 2, 21, 42));

describe("xferlog", () => {
  it("writes ctime(3) dates, space-padded days", () => {
    expect(ctime(at)).toBe("Fri Dec  4 02:21:42 2026");
    expect(ctime(new Date(Date.UTC(2027, 0, 31, 23, 5, 9)))).toBe("Sun Jan 31 23:05:09 2027");
  });

  it("writes the fourteen fields of xferlog(5)", () => {
    expect(xferlogLine(base, remote, at)).toBe("Fri Dec  4 02:21:42 2026 2 192.0.2.7 5242880 /pub/a.txt b _ o r alice ftp 0 * c");
    const up = xferlogLine({ ...base, command: "STOR", direction: "upload", outcome: "failed", anonymous: true, user: "anonymous", ascii: true, durationMs: 10, code: 426 }, remote, at);
    expect(up).toBe("Fri Dec  4 02:21:42 2026 1 192.0.2.7 5242880 /pub/a.txt a _ i a anonymous ftp 0 * i");
  });

  it("never lets a name split or end a line, and leaves listings out", () => {
    const line = xferlogLine({ ...base, path: "/a b\r\nfake\tline" }, remote, at) ?? "";
    expect(line.split(/ +/)).toHaveLength(18); // the date is five of them
    expect(line).toContain(" /a_b__fake_line ");
    expect(xferlogLine({ ...base, command: "LIST", direction: "listing" }, remote, at)).toBeNull();
  });
});
