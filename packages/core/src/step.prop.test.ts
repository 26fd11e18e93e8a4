import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { nextDeadline, step, type SessionEvent } from "./index.js";
import { DEADLINE_NAMES } from "./deadline.js";
import { check } from "../test/replay.js";
import { World } from "../test/harness.js";

const FILE = "packages/core/src/step.prop.test.ts";
const files = { "/a.txt": "alpha\n", "/d": null, "/d/b.bin": "0123456789" };

const verbs = [
  "USER alice", "USER anonymous", "PASS secret", "PASS wrong", "PASS", "ACCT x", "REIN", "CWD /d", "CWD ..", "CDUP", "PWD",
  "MKD n", "RMD n", "DELE a.txt", "RNFR a.txt", "RNTO z.txt", "SIZE a.txt", "MDTM a.txt", "MFMT 20200101000000 a.txt",
  "MLST", "MLST a.txt", "MLSD", "LIST", "LIST -la", "NLST", "NLST *.txt", "STAT", "STAT /d", "TYPE I", "TYPE A", "TYPE L 8",
  "MODE S", "STRU F", "REST 3", "REST 99", "ALLO 5", "PASV", "EPSV", "EPSV ALL", "EPSV 2", "PORT 127,0,0,1,200,1",
  "PORT 10,0,0,1,0,21", "EPRT |1|127.0.0.1|6000|", "RETR a.txt", "RETR d/b.bin", "RETR nope", "STOR up.txt", "APPE up.txt",
  "STOU", "ABOR", "SYST", "NOOP", "FEAT", "HELP", "HELP RETR", "OPTS UTF8 ON", "OPTS MLST type;", "SITE IDLE 60", "SITE HELP",
  "HOST h", "LANG EN", "CLNT x", "AUTH TLS", "PBSZ 0", "PROT P", "CCC", "SMNT x", "QUIT", "XYZZY", "",
];

const te = new TextEncoder();

/** Peer-originated input: command lines, raw bytes, data connections, time passing, vanishing. */
const peerEvent = fc.oneof(
  { weight: 60, arbitrary: fc.constantFrom(...verbs).map((line) => ({ kind: "line" as const, line })) },
  { weight: 10, arbitrary: fc.uint8Array({ maxLength: 40 }).map((bytes) => ({ kind: "bytes" as const, bytes })) },
  { weight: 10, arbitrary: fc.constantFrom("127.0.0.1", "127.0.0.2").map((from) => ({ kind: "connect" as const, from })) },
  { weight: 10, arbitrary: fc.integer({ min: 0, max: 400_000 }).map((ms) => ({ kind: "time" as const, ms })) },
  { weight: 10, arbitrary: fc.constantFrom("done", "reset", "file").map((how) => ({ kind: "finish" as const, how })) },
  { weight: 10, arbitrary: fc.integer({ min: 0, max: 30 }).map((id) => ({ kind: "stray" as const, id })) },
  { weight: 1, arbitrary: fc.constant({ kind: "eof" as const }) },
);
type PeerEvent = typeof peerEvent extends fc.Arbitrary<infer T> ? T : never;

function apply(w: World, e: PeerEvent): void {
  switch (e.kind) {
    case "line":
      w.cmd(e.line);
      return;
    case "bytes":
      w.post({ type: "control.data", now: w.now, bytes: e.bytes });
      return;
    case "connect":
      if (w.state.channel.kind === "passive") w.connectData(e.from);
      return;
    case "time":
      w.advance(e.ms);
      return;
    case "finish":
      if (w.running === null) return;
      w.finishTransfer(e.how === "done" ? undefined : e.how === "reset" ? { side: "data", reason: "reset" } : { side: "file", error: "io" });
      return;
    case "stray":
      // Events for ids the session never issued or already forgot: must be ignored safely.
      w.post({ type: "transfer.done", now: w.now, transfer: e.id, bytes: 1 });
      w.post({ type: "transfer.progress", now: w.now, transfer: e.id, bytes: 1 });
      w.post({ type: "fs.result", now: w.now, request: e.id, result: { ok: false, error: "io" } });
      w.post({ type: "data.closed", now: w.now, channel: e.id });
      w.post({ type: "data.accepted", now: w.now, channel: e.id, socket: 900 + e.id, remote: { address: "127.0.0.1", port: 1 } });
      return;
    case "eof":
      w.post({ type: "control.eof", now: w.now });
      return;
  }
}

describe("step over any peer behaviour", () => {
  it("never throws, keeps its invariants and answers each command exactly once", () => {
    check(
      fc.property(fc.array(peerEvent, { maxLength: 60 }), fc.boolean(), (events, hold) => {
        const w = new World({ files, holdTransfers: hold, config: { tls: true, limits: { maxLineBytes: 64 } } });
        for (const e of events) apply(w, e);
        // Every final reply is well formed.
        for (const r of w.replies) expect(r).toMatch(/^(\d{3}[ -]| )/);
      }),
      FILE,
      { numRuns: 300 },
    );
  });

  it("gives identical replies for any split of the same input", () => {
    const script = "USER alice\r\nPASS secret\nTYPE I\r\nCWD /d\r\nPWD\r\nSIZE b.bin\r\nNOOP\r\n\xff\xf4\xff\xf2ABOR\r\nSYST\r\nMDTM b.bin\r\nQUIT\r\n";
    const bytes = te.encode(script);
    const whole = new World({ files });
    whole.post({ type: "control.data", now: whole.now, bytes });
    whole.expire();
    check(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 12 }), (cuts) => {
        const w = new World({ files });
        let from = 0;
        for (const cut of [...cuts].sort((a, b) => a - b).concat(bytes.length)) {
          w.post({ type: "control.data", now: w.now, bytes: bytes.subarray(from, cut) });
          from = cut;
        }
        w.expire();
        expect(w.replies).toEqual(whole.replies);
      }),
      FILE,
    );
  });

  it("a timer expires exactly the deadlines due, in table order; an early or repeated one does nothing", () => {
    const ms = fc.integer({ min: 1, max: 600_000 });
    const timeouts = fc.record({ idle: ms, login: ms, dataAccept: ms, dataConnect: ms, failedLoginDelay: ms });
    // Lines sent last, so that each kind of deadline is often the one pending.
    const tail = fc.constantFrom([], ["PASV"], ["PASV", "RETR a.txt"], ["PORT 127,0,0,1,200,1", "RETR a.txt"], ["USER alice", "PASS wrong"]);
    check(
      fc.property(fc.array(peerEvent, { maxLength: 30 }), timeouts, fc.boolean(), fc.boolean(), tail, fc.integer({ min: 1, max: 400_000 }), (events, timeouts, hold, login, last, short) => {
        const w = new World({ files, holdTransfers: hold, holdConnect: hold, config: { tls: true, limits: { maxLineBytes: 64 }, timeouts } });
        if (login) w.login();
        for (const e of events) apply(w, e);
        for (const line of last) w.cmd(line);
        const at = nextDeadline(w.state);
        if (at === null) {
          expect(step(w.state, { type: "timer", now: w.now + short }).actions).toEqual([]);
          return;
        }
        const early = step(w.state, { type: "timer", now: at - short });
        expect(early.actions).toEqual([]);
        expect(early.state).toEqual(w.state);
        const due = DEADLINE_NAMES.filter((name) => {
          const when = w.state.deadlines[name];
          return when !== null && when <= at;
        });
        const fired = step(w.state, { type: "timer", now: at });
        const logged = fired.actions.flatMap((a) => (a.type === "log" && a.message.startsWith("deadline ") ? [a.message.split(" ")[1]] : []));
        expect(logged.length).toBeGreaterThan(0);
        // Due entries in order; only a close may cut the round short.
        expect(due.slice(0, logged.length)).toEqual(logged);
        if (fired.state.phase !== "closed") expect(logged).toEqual(due);
        const next = nextDeadline(fired.state);
        if (next === null || next > at) {
          const again = step(fired.state, { type: "timer", now: at });
          expect(again.actions).toEqual([]);
          expect(again.state).toEqual(fired.state);
        }
      }),
      FILE,
      { numRuns: 300 },
    );
  });

  it("does not mutate the state it is given", () => {
    const w = new World({ files });
    w.login();
    const before = JSON.stringify(w.state);
    const event: SessionEvent = { type: "control.data", now: w.now, bytes: te.encode("CWD /d\r\nPASV\r\n") };
    step(w.state, event);
    expect(JSON.stringify(w.state)).toBe(before);
  });
});

// ---------------------------------------------------------------- model-based test

interface Model {
  loggedIn: boolean;
  cwd: string;
  type: "A" | "I";
  channel: "none" | "passive" | "active";
  files: Map<string, string>;
}

type Real = World;

class Login implements fc.Command<Model, Real> {
  check = (): boolean => true;
  run(m: Model, w: Real): void {
    // A new USER logs the current user out first (RFC 959 §4.1.1), so PASS is always a fresh login.
    w.cmd("USER alice");
    expect(w.cmd("PASS secret")).toEqual(["230 Login successful."]);
    m.cwd = "/";
    m.loggedIn = true;
  }
  toString = (): string => "Login";
}

class Cwd implements fc.Command<Model, Real> {
  constructor(readonly dir: "/" | "/d" | "/missing" | "..") {}
  check = (m: Readonly<Model>): boolean => m.loggedIn;
  run(m: Model, w: Real): void {
    const target = this.dir === ".." ? "/" : this.dir;
    const ok = target !== "/missing";
    expect(w.cmd(`CWD ${this.dir}`)).toEqual([ok ? "250 Directory successfully changed." : "550 Failed to change directory."]);
    if (ok) m.cwd = target;
    expect(w.cmd("PWD")).toEqual([`257 "${m.cwd}" is the current directory.`]);
  }
  toString = (): string => `Cwd(${this.dir})`;
}

class SetType implements fc.Command<Model, Real> {
  constructor(readonly type: "A" | "I") {}
  check = (m: Readonly<Model>): boolean => m.loggedIn;
  run(m: Model, w: Real): void {
    expect(w.cmd(`TYPE ${this.type}`)).toHaveLength(1);
    m.type = this.type;
  }
  toString = (): string => `Type(${this.type})`;
}

class Channel implements fc.Command<Model, Real> {
  constructor(readonly how: "PASV" | "EPSV" | "PORT" | "EPRT") {}
  check = (m: Readonly<Model>): boolean => m.loggedIn;
  run(m: Model, w: Real): void {
    const line = { PASV: "PASV", EPSV: "EPSV", PORT: "PORT 127,0,0,1,100,1", EPRT: "EPRT |1|127.0.0.1|25601|" }[this.how];
    const [reply] = w.cmd(line);
    expect(reply?.slice(0, 3)).toBe({ PASV: "227", EPSV: "229", PORT: "200", EPRT: "200" }[this.how]);
    m.channel = this.how === "PASV" || this.how === "EPSV" ? "passive" : "active";
    if (m.channel === "passive") w.connectData();
  }
  toString = (): string => this.how;
}

class Retr implements fc.Command<Model, Real> {
  constructor(readonly name: string) {}
  check = (m: Readonly<Model>): boolean => m.loggedIn;
  run(m: Model, w: Real): void {
    const path = this.name.startsWith("/") ? this.name : `${m.cwd === "/" ? "" : m.cwd}/${this.name}`;
    const content = m.files.get(path);
    const replies = w.cmd(`RETR ${this.name}`);
    if (m.channel === "none") {
      expect(replies).toEqual(["425 Use PORT or PASV first."]);
      return;
    }
    if (content === undefined) {
      expect(replies.map((r) => r.slice(0, 3))).toEqual(["550"]);
      return;
    }
    expect(replies.map((r) => r.slice(0, 3))).toEqual(["150", "226"]);
    expect(w.received.at(-1)).toBe(m.type === "A" ? content.replace(/\n/g, "\r\n") : content);
    m.channel = "none";
  }
  toString = (): string => `Retr(${this.name})`;
}

class Stor implements fc.Command<Model, Real> {
  constructor(readonly name: string, readonly content: string) {}
  check = (m: Readonly<Model>): boolean => m.loggedIn;
  run(m: Model, w: Real): void {
    const path = `${m.cwd === "/" ? "" : m.cwd}/${this.name}`;
    w.upload = this.content;
    const replies = w.cmd(`STOR ${this.name}`);
    if (m.channel === "none") {
      expect(replies).toEqual(["425 Use PORT or PASV first."]);
      return;
    }
    expect(replies.map((r) => r.slice(0, 3))).toEqual(["150", "226"]);
    m.files.set(path, m.type === "A" ? this.content.replace(/\r\n/g, "\n") : this.content);
    expect(w.file(path)).toBe(m.files.get(path));
    m.channel = "none";
  }
  toString = (): string => `Stor(${this.name}, ${JSON.stringify(this.content)})`;
}

describe("model: login, cwd, type, data channel and transfers", () => {
  it("agrees with a simple model", () => {
    const commands = [
      fc.constant(new Login()),
      fc.constantFrom("/", "/d", "/missing", "..").map((d) => new Cwd(d)),
      fc.constantFrom("A", "I").map((t) => new SetType(t)),
      fc.constantFrom("PASV", "EPSV", "PORT", "EPRT").map((h) => new Channel(h)),
      fc.constantFrom("a.txt", "/d/b.bin", "b.bin", "new.txt", "nope").map((n) => new Retr(n)),
      fc.tuple(fc.constantFrom("new.txt", "x y.txt"), fc.string({ maxLength: 12 })).map(([n, c]) => new Stor(n, c)),
    ];
    check(
      fc.property(fc.commands(commands, { maxCommands: 40 }), (cmds) => {
        const model: Model = { loggedIn: false, cwd: "/", type: "A", channel: "none", files: new Map([["/a.txt", "alpha\n"], ["/d/b.bin", "0123456789"]]) };
        fc.modelRun(() => ({ model, real: new World({ files }) }), cmds);
      }),
      FILE,
      { numRuns: 200 },
    );
  });
});
