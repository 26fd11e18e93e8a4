import { makeConfig, RIGHTS, type FileStat, type Millis } from "@pasv/core";
import { describe, expect, it } from "vitest";
import type { AuthProvider } from "./auth.js";
import { DataStreamError, type DataStream, type SessionIo } from "./io.js";
import type { RateLimits } from "./pacer.js";
import type { Timer } from "./platform.js";
import { LISTING_PAGE_ENTRIES, LISTING_SORTED_ENTRIES } from "./listing-pages.js";
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
  /** Timers from after(), in the order armed. */
  timers: { at: Millis; fn: () => void; cancelled: boolean; fired: boolean }[] = [];
  /** Every data write: when (fake clock) and how many bytes. */
  writes: { at: Millis; bytes: number }[] = [];
  now = (): Millis => this.clock;
  after = (delay: Millis, fn: () => void): Timer => {
    const t = { at: this.clock + delay, fn, cancelled: false, fired: false };
    this.timers.push(t);
    return { cancel: () => void (t.cancelled = true) };
  };
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
      const record = (bytes: number): void => void this.writes.push({ at: this.clock, bytes });
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
          record(chunk.length);
          return new Promise<void>((resolve) => {
            if (holding()) park(resolve);
            else resolve();
          });
        },
        end: () => Promise.resolve(),
        hold: (on: boolean) => void calls.push(`hold ${String(on)}`),
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

function setup(authFails = false, rates?: RateLimits, own?: Partial<RateLimits>): { io: FakeIo; vfs: FakeVfs; session: Session } {
  const io = new FakeIo();
  const vfs = new FakeVfs();
  const auth: AuthProvider = {
    authenticate: ({ user }) =>
      authFails ? Promise.reject(new Error("db down")) : Promise.resolve(user === "alice" ? { account: { user, anonymous: false, rights: RIGHTS, hideDotFiles: false }, vfs, ...(own === undefined ? {} : { rates: own }) } : null),
  };
  const session = new Session({ config: makeConfig(), open: { local: io.control.local, remote: io.control.remote, implicitTls: false, passiveAddress: null, refuse: null }, io, auth, ...(rates === undefined ? {} : { rates }) });
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

/** Lets every promise chain run, then fires the earliest live timer (moving the fake clock to it), until none is left. */
async function runTimers(io: FakeIo, limit = 10_000): Promise<void> {
  for (let i = 0; i < limit; i++) {
    await new Promise((r) => setImmediate(r));
    const live = io.timers.filter((t) => !t.cancelled && !t.fired).sort((a, b) => a.at - b.at);
    const next = live[0];
    if (next === undefined) return;
    io.clock = Math.max(io.clock, next.at);
    next.fired = true;
    next.fn();
  }
  throw new Error("timers never ran out");
}

async function loggedIn(rates?: RateLimits, own?: Partial<RateLimits>): Promise<{ io: FakeIo; vfs: FakeVfs; session: Session }> {
  const world = setup(false, rates, own);
  send(world.session, world.io, "USER alice");
  send(world.session, world.io, "PASS x");
  await settle();
  send(world.session, world.io, "TYPE I");
  return world;
}

const RATE = 160; // bytes/s: slices of 10 bytes
const big = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => i % 251);

describe("Session bandwidth limits", () => {
  it("an unlimited transfer arms no timer and holds nothing", async () => {
    const { io, vfs, session } = await loggedIn();
    vfs.files.set("/big", big(100));
    send(session, io, "PASV");
    send(session, io, "RETR big");
    await runTimers(io);
    expect(io.written).toMatch(/226 Transfer complete\.\r\n$/);
    expect(io.timers).toHaveLength(0);
    expect(io.calls.some((c) => c.startsWith("hold"))).toBe(false);
  });

  it("a download limit sends slices no larger than the bucket, on platform timers, at the rate", async () => {
    const { io, vfs, session } = await loggedIn({ down: RATE, up: null });
    vfs.files.set("/big", big(100));
    const start = io.clock;
    send(session, io, "PASV");
    send(session, io, "RETR big");
    await runTimers(io);
    expect(io.written).toMatch(/226 Transfer complete\.\r\n$/);
    const sent = [...io.sent.values()].at(-1) ?? [];
    expect(Buffer.concat(sent)).toEqual(Buffer.from(big(100)));
    expect(Math.max(...io.writes.map((w) => w.bytes))).toBeLessThanOrEqual(10);
    // Everything past the first slice is paid for by the clock.
    expect(io.clock - start).toBeGreaterThanOrEqual(((100 - 10) * 1000) / RATE);
    expect(io.clock - start).toBeLessThan(((100 - 10) * 1000) / RATE + 100);
    // Over any span, no more than one slice beyond the rate.
    for (const a of io.writes) {
      const within = io.writes.filter((b) => b.at >= a.at && b.at <= a.at + 100).reduce((n, b) => n + b.bytes, 0);
      expect(within).toBeLessThanOrEqual(10 + (RATE * 100) / 1000);
    }
    expect(io.calls).toContain("hold true");
    expect(io.calls).toContain("hold false");
  });

  it("an upload limit holds the stream while it waits and stores every byte", async () => {
    const { io, vfs, session } = await loggedIn({ down: null, up: RATE });
    io.nextUpload = [big(40), big(40)];
    const start = io.clock;
    send(session, io, "PASV");
    send(session, io, "STOR up.bin");
    await runTimers(io);
    expect(io.written).toMatch(/226 Transfer complete\.\r\n$/);
    expect(vfs.written.get("/up.bin")?.length).toBe(80);
    expect(io.clock - start).toBeGreaterThanOrEqual(((80 - 10) * 1000) / RATE);
    const holds = io.calls.filter((c) => c.startsWith("hold"));
    expect(holds.length).toBeGreaterThan(0);
    expect(holds.length % 2).toBe(0);
    expect(holds.every((c, i) => c === (i % 2 === 0 ? "hold true" : "hold false"))).toBe(true);
  });

  it("a limit in the login's grant overrides the server's, direction by direction", async () => {
    const lifted = await loggedIn({ down: RATE, up: RATE }, { down: null });
    lifted.vfs.files.set("/big", big(100));
    send(lifted.session, lifted.io, "PASV");
    send(lifted.session, lifted.io, "RETR big");
    await runTimers(lifted.io);
    expect(lifted.io.written).toMatch(/226 Transfer complete\.\r\n$/);
    expect(lifted.io.timers).toHaveLength(0);
    // The upload limit it did not name stays the server's.
    lifted.io.nextUpload = [big(40)];
    send(lifted.session, lifted.io, "PASV");
    send(lifted.session, lifted.io, "STOR up.bin");
    await runTimers(lifted.io);
    expect(lifted.io.timers.length).toBeGreaterThan(0);

    const own = await loggedIn(undefined, { down: RATE });
    own.vfs.files.set("/big", big(100));
    send(own.session, own.io, "PASV");
    send(own.session, own.io, "RETR big");
    await runTimers(own.io);
    expect(own.io.written).toMatch(/226 Transfer complete\.\r\n$/);
    expect(own.io.timers.length).toBeGreaterThan(0);
  });

  it("STAT during a paced download reports the bytes sent so far", async () => {
    const { io, vfs, session } = await loggedIn({ down: RATE, up: null });
    vfs.files.set("/big", big(100));
    send(session, io, "PASV");
    send(session, io, "RETR big");
    // Run a few waits, then ask.
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setImmediate(r));
      const next = io.timers.find((t) => !t.cancelled && !t.fired);
      if (next === undefined) break;
      io.clock = next.at;
      next.fired = true;
      next.fn();
    }
    await new Promise((r) => setImmediate(r));
    const sofar = io.writes.reduce((n, w) => n + w.bytes, 0);
    expect(sofar).toBeGreaterThan(0);
    expect(sofar).toBeLessThan(100);
    send(session, io, "STAT");
    expect(io.written).toContain(` Transfer in progress: RETR /big, ${String(sofar)} bytes sent\r\n211 End of status\r\n`);
    await runTimers(io);
    expect(io.written).toMatch(/226 Transfer complete\.\r\n$/);
  });

  it("ABOR during a rate wait ends the wait at once and cancels its timer", async () => {
    const { io, vfs, session } = await loggedIn({ down: RATE, up: null });
    vfs.files.set("/big", big(100));
    send(session, io, "PASV");
    send(session, io, "RETR big");
    await new Promise((r) => setImmediate(r));
    const waiting = io.timers.filter((t) => !t.cancelled && !t.fired);
    expect(waiting).toHaveLength(1);
    const writes = io.writes.length;
    send(session, io, "ABOR");
    expect(io.written).toMatch(/426 Connection closed; transfer aborted\.\r\n226 ABOR successful\.\r\n$/);
    expect(waiting[0]?.cancelled).toBe(true);
    await runTimers(io);
    expect(io.writes.length).toBe(writes);
  });
});

/** A directory of `pages` pages of LISTING_PAGE_ENTRIES names, read lazily: counts what was read and whether it was let go. */
function pagedDirectory(vfs: FakeVfs, pages: number, failAfter: number | null = null): { read: number; released: boolean } {
  const seen = { read: 0, released: false };
  const named = (n: number): FileStat => stat(`f${String(n).padStart(6, "0")}`, 1);
  Object.assign(vfs, {
    listPages: (): AsyncIterable<readonly FileStat[]> => ({
      [Symbol.asyncIterator]: () => ({
        next: async (): Promise<IteratorResult<readonly FileStat[]>> => {
          await Promise.resolve();
          if (failAfter !== null && seen.read === failAfter) throw new VfsError("io", "the store failed part-way");
          if (seen.read === pages) return { value: undefined, done: true };
          const from = seen.read++ * LISTING_PAGE_ENTRIES;
          return { value: Array.from({ length: LISTING_PAGE_ENTRIES }, (_, i) => named(from + i)), done: false };
        },
        return: (): Promise<IteratorResult<readonly FileStat[]>> => {
          seen.released = true;
          return Promise.resolve({ value: undefined, done: true });
        },
      }),
    }),
  });
  return seen;
}

const flush = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

describe("Session: streamed listings", () => {
  it("reads the next page only once the lines of the one before are written", async () => {
    const { io, vfs, session } = await loggedIn();
    const pages = 15;
    const dir = pagedDirectory(vfs, pages);
    // Every write waits until the test lets it through.
    io.hold = () => undefined;
    send(session, io, "PASV");
    send(session, io, "NLST");
    await flush();
    // A directory larger than LISTING_SORTED_ENTRIES: the first pages past it are held, then one page per write.
    const ahead = Math.floor(LISTING_SORTED_ENTRIES / LISTING_PAGE_ENTRIES) + 1;
    expect(dir.read).toBe(ahead);
    let written = 0;
    while (io.written.match(/226 /) === null) {
      written++;
      const release = io.hold;
      io.hold = () => undefined;
      release();
      await flush();
      expect(dir.read).toBeLessThanOrEqual(Math.max(ahead, written + 1));
      if (written > pages + 2) break;
    }
    expect(io.written).toMatch(/150 Here comes the directory listing\.\r\n226 Directory send OK\.\r\n$/);
    const text = ([...io.sent.values()].at(-1) ?? []).map((c) => td.decode(c)).join("");
    expect(text.split("\r\n").filter((l) => l !== "")).toHaveLength(pages * LISTING_PAGE_ENTRIES);
    expect(text.startsWith("f000000\r\nf000001\r\n")).toBe(true);
    expect(dir.released).toBe(true);
  });

  it("a failure part-way is 451 after the lines already sent; ABOR stops reading and lets the directory go", async () => {
    const { io, vfs, session } = await loggedIn();
    const failing = pagedDirectory(vfs, 20, 12);
    send(session, io, "PASV");
    send(session, io, "NLST");
    await flush();
    expect(io.written).toMatch(/150 .*\r\n451 Local error in processing\.\r\n$/);
    expect(failing.released).toBe(true);
    const sent = [...io.sent.values()].at(-1) ?? [];
    expect(sent.length).toBeGreaterThan(0);
    const dir = pagedDirectory(vfs, 20);
    io.hold = () => undefined;
    send(session, io, "PASV");
    send(session, io, "LIST");
    await flush();
    const read = dir.read;
    send(session, io, "ABOR");
    expect(io.written).toMatch(/426 Connection closed; transfer aborted\.\r\n226 ABOR successful\.\r\n$/);
    io.hold();
    await flush();
    expect(dir.read).toBe(read);
    expect(dir.released).toBe(true);
  });
});
