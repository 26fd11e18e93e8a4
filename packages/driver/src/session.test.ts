import { makeConfig, RIGHTS, type FileStat, type Millis } from "@pasv/core";
import { describe, expect, it } from "vitest";
import type { AuthProvider } from "./auth.js";
import { DataStreamError, type DataStream, type SessionIo } from "./io.js";
import { Session } from "./session.js";
import { VfsError, type Vfs } from "./vfs.js";

const te = new TextEncoder();
const td = new TextDecoder();

/** A scripted SessionIo: records calls; data connections are in-memory streams. */
class FakeIo implements SessionIo {
  clock = 1_000;
  timer: Millis | null = null;
  written = "";
  calls: string[] = [];
  accept = true;
  writeOk = true;
  session!: Session;
  nextUpload: Uint8Array[] = [];
  sent = new Map<number, Uint8Array[]>();
  failData: DataStreamError | null = null;
  hold: (() => void) | null = null;
  now = (): Millis => this.clock;
  setTimer = (at: Millis | null): void => {
    this.timer = at;
  };
  control = {
    local: { address: "127.0.0.1", port: 21 },
    remote: { address: "127.0.0.1", port: 5000 },
    write: (bytes: Uint8Array): boolean => {
      this.written += td.decode(bytes);
      return this.writeOk;
    },
    close: (): void => void this.calls.push("close"),
    pauseReading: (): void => void this.calls.push("pause"),
    resumeReading: (): void => void this.calls.push("resume"),
    startTls: (): void => void this.calls.push("tls"),
  };
  data = {
    listen: (channel: number): void => {
      this.calls.push(`listen ${channel}`);
      this.session.post({ type: "data.listening", now: this.clock, channel, port: 50000 });
      if (this.accept) this.session.post({ type: "data.accepted", now: this.clock, channel, socket: 1, remote: { address: "127.0.0.1", port: 6000 } });
    },
    adopt: (channel: number): void => void this.calls.push(`adopt ${channel}`),
    reject: (channel: number): void => void this.calls.push(`reject ${channel}`),
    connect: (channel: number): void => void this.calls.push(`connect ${channel}`),
    close: (channel: number): void => void this.calls.push(`close ${channel}`),
    open: (channel: number): Promise<DataStream> => {
      const sent: Uint8Array[] = [];
      this.sent.set(channel, sent);
      const upload = this.nextUpload;
      this.nextUpload = [];
      const failure = (): DataStreamError | null => this.failData;
      const calls = this.calls;
      const holding = (): boolean => this.hold !== null;
      const park = (resolve: () => void): void => {
        this.hold = resolve;
      };
      return Promise.resolve({
        async *chunks() {
          for (const c of upload) yield await Promise.resolve(c);
          const f = failure();
          if (f !== null) throw f;
        },
        write: (chunk: Uint8Array) => {
          const f = failure();
          if (f !== null) return Promise.reject(f);
          sent.push(chunk);
          return new Promise<void>((resolve) => {
            if (holding()) park(resolve);
            else resolve();
          });
        },
        end: () => Promise.resolve(),
        destroy: () => void calls.push(`destroy ${channel}`),
      });
    },
  };
}

const stat = (name: string, size: number): FileStat => ({ name, type: "file", size, mtime: 0, mode: 0o644, unique: "" });

class FakeVfs implements Vfs {
  files = new Map<string, Uint8Array>([["/a.txt", te.encode("one\ntwo\n")]]);
  written = new Map<string, Uint8Array>();
  failRead = false;
  stat(path: string): Promise<FileStat> {
    if (path === "/") return Promise.resolve({ ...stat("/", 0), type: "dir" });
    const f = this.files.get(path);
    return f === undefined ? Promise.reject(new VfsError("not-found")) : Promise.resolve(stat(path.slice(1), f.length));
  }
  list(): Promise<FileStat[]> {
    return Promise.reject(new Error("not a VfsError"));
  }
  mkdir = (): Promise<void> => Promise.resolve();
  rmdir = (): Promise<void> => Promise.resolve();
  delete = (): Promise<void> => Promise.resolve();
  rename = (): Promise<void> => Promise.resolve();
  setMtime = (): Promise<void> => Promise.resolve();
  read(path: string, offset: number): Promise<{ chunks(): AsyncIterable<Uint8Array>; close(): Promise<void> }> {
    const f = this.files.get(path) ?? new Uint8Array();
    const fail = this.failRead;
    return Promise.resolve({
      async *chunks() {
        yield await Promise.resolve(f.subarray(offset, offset + 3));
        if (fail) throw new Error("EIO");
        yield f.subarray(offset + 3);
      },
      close: () => Promise.resolve(),
    });
  }
  write(path: string): Promise<{ write(c: Uint8Array): Promise<void>; close(): Promise<void>; abort(): Promise<void> }> {
    const parts: Uint8Array[] = [];
    return Promise.resolve({
      write: (c: Uint8Array) => {
        parts.push(c);
        return Promise.resolve();
      },
      close: () => {
        this.written.set(path, te.encode(parts.map((p) => td.decode(p)).join("")));
        return Promise.resolve();
      },
      abort: () => Promise.resolve(),
    });
  }
}

function setup(authFails = false): { io: FakeIo; vfs: FakeVfs; session: Session } {
  const io = new FakeIo();
  const vfs = new FakeVfs();
  const auth: AuthProvider = {
    authenticate: ({ user }) => (authFails ? Promise.reject(new Error("db down")) : Promise.resolve(user === "alice" ? { account: { user, anonymous: false, rights: RIGHTS, hideDotFiles: false }, vfs } : null)),
  };
  const session = new Session({ config: makeConfig(), open: { local: io.control.local, remote: io.control.remote, implicitTls: false, passiveAddress: null, refuse: null }, io, auth });
  io.session = session;
  session.start();
  return { io, vfs, session };
}

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 10));
const send = (s: Session, io: FakeIo, line: string): void => s.post({ type: "control.data", now: io.clock, bytes: te.encode(`${line}\r\n`) });

describe("Session", () => {
  it("greets, answers pipelined commands in order and arms one timer", () => {
    const { io, session } = setup();
    expect(io.written).toBe("220 pasv FTP server ready.\r\n");
    expect(io.timer).toBe(1_000 + 60_000);
    session.post({ type: "control.data", now: io.clock, bytes: te.encode("NOOP\r\nSYST\r\n") });
    expect(io.written).toContain("200 NOOP ok.\r\n215 UNIX Type: L8\r\n");
  });

  it("logs in through the auth provider and serves files through the granted Vfs, TYPE A converted", async () => {
    const { io, vfs, session } = setup();
    send(session, io, "USER alice");
    send(session, io, "PASS x");
    await settle();
    expect(io.written).toContain("230 Login successful.");
    send(session, io, "PASV");
    send(session, io, "RETR a.txt");
    await settle();
    expect(io.written).toMatch(/150 .*\r\n226 Transfer complete\.\r\n$/);
    const sent = [...io.sent.values()][0] ?? [];
    expect(td.decode(te.encode(sent.map((c) => td.decode(c)).join("")))).toBe("one\r\ntwo\r\n");
    io.nextUpload = [te.encode("up"), te.encode("load\r\n")];
    send(session, io, "PASV");
    send(session, io, "STOR new.txt");
    await settle();
    expect(td.decode(vfs.written.get("/new.txt"))).toBe("upload\n");
    expect(io.written).toMatch(/226 Transfer complete\.\r\n$/);
  });

  it("classifies failures: file side (VfsError or any other error) and data side", async () => {
    const { io, vfs, session } = setup();
    send(session, io, "USER alice");
    send(session, io, "PASS x");
    await settle();
    send(session, io, "TYPE I");
    vfs.failRead = true;
    send(session, io, "PASV");
    send(session, io, "RETR a.txt");
    await settle();
    expect(io.written).toMatch(/451 Local error in processing\.\r\n$/);
    vfs.failRead = false;
    io.failData = new DataStreamError("stall");
    send(session, io, "PASV");
    send(session, io, "RETR a.txt");
    await settle();
    expect(io.written).toMatch(/426 Data connection timed out; transfer aborted\.\r\n$/);
    send(session, io, "LIST");
    send(session, io, "PASV");
    send(session, io, "LIST");
    await settle();
    expect(io.written).toMatch(/451 Local error in processing\.\r\n$/);
  });

  it("pauses reading while the control writer is backed up and resumes on drain", () => {
    const { io, session } = setup();
    io.writeOk = false;
    send(session, io, "NOOP");
    expect(io.calls).toContain("pause");
    io.writeOk = true;
    session.controlDrained();
    expect(io.calls.at(-1)).toBe("resume");
  });

  it("answers a failed login after the delay; a broken auth provider counts as a refusal", async () => {
    const { io, session } = setup(true);
    send(session, io, "USER alice");
    send(session, io, "PASS x");
    await settle();
    expect(io.timer).toBe(1_000 + 2_000);
    io.clock = 3_000;
    session.post({ type: "timer", now: io.clock });
    expect(io.written).toMatch(/530 Login incorrect\.\r\n$/);
  });

  it("re-arms the timer after an early tick (the lost-timer hang found by the simulator)", async () => {
    const { io, session } = setup(true);
    send(session, io, "USER alice");
    send(session, io, "PASS x");
    await settle();
    expect(io.timer).toBe(1_000 + 2_000);
    // The platform's one-shot timer fires a millisecond before the deadline, as Node's can.
    io.timer = null;
    io.clock = 2_999;
    session.post({ type: "timer", now: io.clock });
    expect(io.written).not.toMatch(/530/);
    expect(io.timer).toBe(3_000);
    io.timer = null;
    io.clock = 3_000;
    session.post({ type: "timer", now: io.clock });
    expect(io.written).toMatch(/530 Login incorrect\.\r\n$/);
  });

  it("releases everything when the control connection goes, and ignores late results", async () => {
    const { io, session } = setup();
    send(session, io, "USER alice");
    send(session, io, "PASS x");
    await settle();
    io.hold = () => undefined;
    send(session, io, "TYPE I");
    send(session, io, "PASV");
    send(session, io, "RETR a.txt");
    await settle();
    let closed = false;
    const hooks = session as unknown as { hooks: { closed?: () => void } };
    hooks.hooks.closed = () => {
      closed = true;
    };
    session.controlClosed();
    expect(session.closed).toBe(true);
    expect(closed).toBe(true);
    expect(io.calls.some((c) => c.startsWith("destroy"))).toBe(true);
    expect(io.timer).toBeNull();
    const before = io.written;
    session.post({ type: "control.data", now: io.clock, bytes: te.encode("NOOP\r\n") });
    await settle();
    expect(io.written).toBe(before);
  });

  it("QUIT says goodbye and closes the control connection", () => {
    const { io, session } = setup();
    send(session, io, "QUIT");
    expect(io.written).toContain("221 Goodbye.");
    expect(io.calls).toContain("close");
  });
});
