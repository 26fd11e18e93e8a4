import { describe, expect, it } from "vitest";
import { checkInvariants, InvariantError, nextDeadline, step } from "./index.js";
import { codes, World } from "../test/harness.js";

const files = { "/pub": null, "/pub/report": "x".repeat(280), "/big.iso": "0123456789", "/notes.txt": "a\nb\n", "/sub": null, "/sub/a.txt": "A" };

describe("greeting and login", () => {
  it("greets with one 220 and never a 120", () => {
    const w = new World();
    expect(w.replies).toEqual(["220 pasv FTP server ready."]);
  });

  it("refuses with 421 and closes when policy says so", () => {
    const w = new World({ refuse: "max-sessions-per-ip" });
    expect(w.replies).toEqual(["421 Too many connections from your address."]);
    expect(w.closed).toBe(true);
  });

  it("answers 331 to any user name and 530 after a delay for a bad password", () => {
    const w = new World();
    expect(w.cmd("USER nobody")).toEqual(["331 Please specify the password."]);
    expect(w.cmd("PASS wrong")).toEqual([]);
    // Pipelined commands wait behind the delayed 530.
    expect(w.cmd("NOOP")).toEqual([]);
    expect(w.expire()).toEqual(["530 Login incorrect.", "200 NOOP ok."]);
  });

  it("closes with 421 after too many failed logins", () => {
    const w = new World();
    for (let i = 0; i < 2; i++) {
      w.cmd("USER x");
      w.cmd("PASS y");
      expect(w.expire()).toEqual(["530 Login incorrect."]);
    }
    w.cmd("USER x");
    w.cmd("PASS y");
    expect(w.expire()).toEqual(["421 Too many failed login attempts."]);
    expect(w.closed).toBe(true);
  });

  it("logs in, answers PASS again with 202 and ACCT with 202", () => {
    const w = new World();
    w.cmd("USER alice");
    expect(w.cmd("PASS secret")).toEqual(["230 Login successful."]);
    expect(w.cmd("PASS secret")).toEqual(["202 Already logged in."]);
    expect(w.cmd("ACCT x")).toEqual(["202 ACCT not needed."]);
  });

  it("wants USER before PASS and refuses most commands before login", () => {
    const w = new World();
    expect(codes(w.cmd("PASS x"))).toEqual([503]);
    expect(codes(w.cmd("ACCT x"))).toEqual([503]);
    expect(codes(w.cmd("RETR x"))).toEqual([530]);
    expect(codes(w.cmd("PASV"))).toEqual([530]);
    expect(codes(w.cmd("SYST"))).toEqual([215]);
    expect(codes(w.cmd("NOOP"))).toEqual([200]);
    expect(codes(w.cmd("FEAT"))).toEqual([211]);
    expect(codes(w.cmd("OPTS UTF8 ON"))).toEqual([200]);
    expect(codes(w.cmd("OPTS MLST type;"))).toEqual([530]);
    expect(codes(w.cmd("STAT"))).toEqual([211]);
    expect(codes(w.cmd("STAT /"))).toEqual([530]);
    expect(codes(w.cmd("HOST example.com"))).toEqual([220]);
    expect(codes(w.cmd("XYZZY"))).toEqual([500]);
  });

  it("accepts anonymous with any password, read-only", () => {
    const w = new World({ files });
    w.cmd("USER anonymous");
    expect(codes(w.cmd("PASS guest@"))).toEqual([230]);
    expect(codes(w.cmd("MKD /x"))).toEqual([550]);
    expect(codes(w.cmd("DELE /big.iso"))).toEqual([550]);
  });

  it("refuses anonymous when configured", () => {
    const w = new World({ config: { anonymous: false } });
    expect(codes(w.cmd("USER ftp"))).toEqual([530]);
  });

  it("REIN forgets the user", () => {
    const w = new World();
    w.login();
    expect(codes(w.cmd("REIN"))).toEqual([220]);
    expect(codes(w.cmd("PWD"))).toEqual([530]);
  });

  it("times out idle sessions with 421", () => {
    const w = new World();
    w.login();
    expect(w.expire()).toEqual(["421 Timeout."]);
    expect(w.closed).toBe(true);
  });

  it("times out sessions that never log in", () => {
    const w = new World({ config: { timeouts: { login: 1000 } } });
    expect(w.advance(1000)).toEqual(["421 Login timeout."]);
  });

  it("REIN before any login does not restart the login clock (a client cannot stay unlogged for ever)", () => {
    const w = new World({ config: { timeouts: { login: 1000, idle: 60_000 } } });
    expect(w.advance(900)).toEqual([]);
    expect(codes(w.cmd("REIN"))).toEqual([220]);
    expect(codes(w.cmd("USER alice"))).toEqual([331]);
    expect(codes(w.cmd("REIN"))).toEqual([220]);
    expect(w.state.deadlines.login).toBe(w.now + 100);
    expect(w.advance(100)).toEqual(["421 Login timeout."]);
    expect(w.closed).toBe(true);
  });

  it("a login deadline that falls during the AUTH handshake waits for its end and fires then, never into the handshake", () => {
    const w = new World({ holdTls: true, config: { tls: true, timeouts: { login: 1000, idle: 60_000 } } });
    w.advance(900);
    expect(codes(w.cmd("AUTH TLS"))).toEqual([234]);
    expect(w.state.deadlines.login).toBeNull();
    expect(w.advance(5_000)).toEqual([]);
    w.post({ type: "tls.ready", now: w.now });
    expect(w.state.deadlines.login).toBe(w.now - 4_900);
    expect(w.expire()).toEqual(["421 Login timeout."]);
    expect(w.closed).toBe(true);
  });

  it("an AUTH handshake that never started gets a plaintext 421 and a close; one cut mid-way gets nothing", () => {
    for (const timedOut of [true, false]) {
      const w = new World({ holdTls: true, config: { tls: true } });
      w.login();
      // Pipelined plaintext behind AUTH is never run, before or after the failure.
      expect(codes(w.send("AUTH TLS\r\nNOOP\r\n"))).toEqual([234]);
      w.post({ type: "tls.failed", now: w.now, message: "no handshake", started: false, timedOut });
      expect(w.replies.at(-1)).toBe(timedOut ? "421 TLS handshake timed out." : "421 TLS handshake failed.");
      expect(codes(w.replies)).toEqual([220, 331, 230, 234, 421]);
      expect(w.closed).toBe(true);
      expect(w.actions).toContainEqual({ type: "notice", notice: { kind: "closed", reason: timedOut ? "tls-timeout" : "tls-failed" } });
    }
    for (const timedOut of [true, false]) {
      const m = new World({ holdTls: true, config: { tls: true } });
      expect(codes(m.cmd("AUTH TLS"))).toEqual([234]);
      m.post({ type: "tls.failed", now: m.now, message: "half a ClientHello", started: true, timedOut });
      expect(codes(m.replies)).toEqual([220, 234]);
      expect(m.closed).toBe(true);
    }
    // A late failure after the handshake finished is nobody's business.
    const done = new World({ holdTls: true, config: { tls: true } });
    done.cmd("AUTH TLS");
    done.post({ type: "tls.ready", now: done.now });
    done.post({ type: "tls.failed", now: done.now, message: "late", started: false, timedOut: true });
    expect(done.closed).toBe(false);
    expect(codes(done.replies)).toEqual([220, 234]);
  });

  it("a shutdown during the AUTH handshake closes a session that holds no handshake (simulator seed 223)", () => {
    const w = new World({ holdTls: true, config: { tls: true } });
    expect(codes(w.cmd("AUTH TLS"))).toEqual([234]);
    w.post({ type: "shutdown", now: w.now });
    expect(w.closed).toBe(true);
    expect(w.state.tls).toBe("none");
  });

  it("REIN after a login starts a new login clock", () => {
    const w = new World({ config: { timeouts: { login: 1000, idle: 60_000 } } });
    w.login();
    expect(w.advance(5000)).toEqual([]);
    expect(codes(w.cmd("REIN"))).toEqual([220]);
    expect(w.state.deadlines.login).toBe(w.now + 1000);
  });

  it("AUTH before a login does not restart the login clock; AUTH after one starts a new one", () => {
    const before = new World({ holdTls: true, config: { tls: true, timeouts: { login: 1000, idle: 60_000 } } });
    before.advance(600);
    expect(codes(before.cmd("AUTH TLS"))).toEqual([234]);
    before.post({ type: "tls.ready", now: before.now });
    expect(before.state.deadlines.login).toBe(before.now + 400);
    expect(before.advance(400)).toEqual(["421 Login timeout."]);

    const after = new World({ holdTls: true, config: { tls: true, timeouts: { login: 1000, idle: 60_000 } } });
    after.login();
    after.advance(5000);
    expect(codes(after.cmd("AUTH TLS"))).toEqual([234]);
    after.post({ type: "tls.ready", now: after.now });
    expect(after.state.deadlines.login).toBe(after.now + 1000);
  });
});

describe("framing", () => {
  it("answers pipelined commands in order, bare LF included", () => {
    const w = new World();
    expect(codes(w.send("NOOP\r\nSYST\nNOOP\r\n"))).toEqual([200, 215, 200]);
  });

  it("ignores empty lines", () => {
    const w = new World();
    expect(w.send("\r\n\n\r\n")).toEqual([]);
  });

  it("answers an overlong line once with 500, and 421 after repeated abuse", () => {
    const w = new World({ config: { limits: { maxLineBytes: 16, maxOverlongLines: 2 } } });
    expect(codes(w.send(`${"A".repeat(40)}\r\nNOOP\r\n`))).toEqual([500, 200]);
    expect(codes(w.send(`${"B".repeat(40)}\r\n`))).toEqual([500]);
    expect(codes(w.send(`${"C".repeat(40)}\r\n`))).toEqual([421]);
    expect(w.closed).toBe(true);
  });

  it("takes ABOR that lost its LF to urgent data", () => {
    const w = new World();
    w.login();
    expect(codes(w.send("ABOR\r"))).toEqual([225]);
  });
});

describe("seed: PASV and PORT (SPEC §4)", () => {
  it("PASV answers one 227 line with address and port, and ignores a parameter", () => {
    const w = new World();
    w.login();
    const [reply] = w.cmd("PASV");
    expect(reply).toMatch(/^227 Entering Passive Mode \(127,0,0,1,\d+,\d+\)\.$/);
    const m = /\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)/.exec(reply!)!;
    expect(Number(m[5]) * 256 + Number(m[6])).toBe(w.listening.get(w.currentPassive()));
    expect(codes(w.cmd("PASV junk"))).toEqual([227]);
  });

  it("answers REST, TYPE, NOOP and CWD between PASV and RETR", () => {
    const w = new World({ files });
    w.login();
    w.cmd("PASV");
    w.connectData();
    expect(codes(w.cmd("TYPE I"))).toEqual([200]);
    expect(codes(w.cmd("REST 4"))).toEqual([350]);
    expect(codes(w.cmd("NOOP"))).toEqual([200]);
    expect(codes(w.cmd("CWD /pub"))).toEqual([250]);
    expect(codes(w.cmd("RETR /big.iso"))).toEqual([150, 226]);
    expect(w.received).toEqual(["456789"]);
  });

  it("a second PASV closes the old listener and drops its connection", () => {
    const w = new World({ files });
    w.login();
    w.cmd("PASV");
    const first = w.currentPassive();
    w.connectData();
    w.cmd("PASV");
    expect(w.actions).toContainEqual({ type: "data.close", channel: first });
    expect(w.currentPassive()).not.toBe(first);
    // A late connection to the old listener is rejected.
    const socket = w.connectData("127.0.0.1", first);
    expect(w.rejected).toContain(socket);
  });

  it("PORT answers 200, stops the passive listener, and connects only after the mark", () => {
    const w = new World({ files });
    w.login();
    w.cmd("PASV");
    const passive = w.currentPassive();
    expect(w.cmd("PORT 127,0,0,1,200,10")).toEqual(["200 PORT command successful. Consider using PASV."]);
    expect(w.actions).toContainEqual({ type: "data.close", channel: passive });
    expect(w.actions.some((a) => a.type === "data.connect")).toBe(false);
    w.cmd("TYPE I");
    const start = w.actions.length;
    expect(codes(w.cmd("RETR /big.iso"))).toEqual([150, 226]);
    const after = w.actions.slice(start).map((a) => a.type);
    expect(after.indexOf("control.write")).toBeLessThan(after.indexOf("data.connect"));
    const connect = w.actions.find((a) => a.type === "data.connect");
    expect(connect).toMatchObject({ address: "127.0.0.1", port: 200 * 256 + 10 });
  });

  it("answers 425 after the 150 when the PORT target refuses", () => {
    const w = new World({ files, refuseConnect: true });
    w.login();
    w.cmd("PORT 127,0,0,1,200,10");
    expect(w.cmd("RETR /big.iso").map((r) => r.slice(0, 3))).toEqual(["150", "425"]);
  });

  it("refuses a transfer with neither PORT nor PASV, without a mark", () => {
    const w = new World({ files });
    w.login();
    expect(w.cmd("RETR /big.iso")).toEqual(["425 Use PORT or PASV first."]);
    expect(codes(w.cmd("LIST"))).toEqual([425]);
    expect(codes(w.cmd("MLSD"))).toEqual([425]);
  });

  it("does not use a passive connection from a foreign address", () => {
    const w = new World({ files });
    w.login();
    w.cmd("PASV");
    const foreign = w.connectData("127.0.0.2");
    expect(w.rejected).toContain(foreign);
    w.cmd("TYPE I");
    expect(codes(w.cmd("RETR /big.iso"))).toEqual([150]);
    expect(w.received).toEqual([]);
    w.connectData("127.0.0.1");
    expect(w.received).toEqual(["0123456789"]);
    expect(codes(w.replies.slice(-1))).toEqual([226]);
  });

  it("answers 425 when the client never connects", () => {
    const w = new World({ files });
    w.login();
    w.cmd("PASV");
    expect(codes(w.cmd("RETR /big.iso"))).toEqual([150]);
    expect(codes(w.expire())).toEqual([425]);
  });

  it("refuses PORT and EPRT to another address or a privileged port (bounce defence)", () => {
    const w = new World();
    w.login();
    expect(w.cmd("PORT 203,0,113,9,0,25")).toEqual(["504 PORT refused: address/port not allowed."]);
    expect(codes(w.cmd("PORT 127,0,0,2,200,10"))).toEqual([504]);
    expect(codes(w.cmd("PORT 127,0,0,1,0,80"))).toEqual([504]);
    expect(codes(w.cmd("EPRT |1|127.0.0.2|5000|"))).toEqual([504]);
    expect(codes(w.cmd("EPRT |1|127.0.0.1|80|"))).toEqual([504]);
    expect(codes(w.cmd("EPRT |1|127.0.0.1|5000|"))).toEqual([200]);
    expect(codes(w.cmd("EPRT |3|x|5000|"))).toEqual([522]);
    expect(codes(w.cmd("PORT 1,2,3"))).toEqual([501]);
  });

  it("rejecting before the mark leaves the data set-up untouched", () => {
    const w = new World({ files });
    w.login();
    w.cmd("PASV");
    w.connectData();
    expect(w.cmd("RETR /pub")).toEqual(["550 Not a regular file."]);
    w.cmd("CWD /pub");
    expect(w.cmd("LIST")).toEqual(["150 Here comes the directory listing.", "226 Directory send OK."]);
    expect(w.received[0]).toMatch(/^-rw-r--r-- +1 ftp +ftp +280 .* report\r\n$/);
  });

  it("EPSV ALL refuses later PASV, PORT and EPRT with 503", () => {
    const w = new World();
    w.login();
    expect(w.cmd("EPSV ALL")).toEqual(["200 EPSV ALL ok."]);
    expect(w.cmd("PASV")).toEqual(["503 PASV not allowed after EPSV ALL."]);
    expect(codes(w.cmd("PORT 127,0,0,1,200,10"))).toEqual([503]);
    expect(codes(w.cmd("EPRT |1|127.0.0.1|5000|"))).toEqual([503]);
    expect(w.cmd("EPSV")[0]).toMatch(/^229 Entering Extended Passive Mode \(\|\|\|\d+\|\)$/);
  });

  it("EPSV with the wrong family answers 522", () => {
    const w = new World();
    w.login();
    expect(codes(w.cmd("EPSV 2"))).toEqual([522]);
    expect(codes(w.cmd("EPSV 1"))).toEqual([229]);
    expect(codes(w.cmd("EPSV x"))).toEqual([501]);
    // An unknown protocol number is RFC 2428's 522, like a family we do not serve.
    expect(codes(w.cmd("EPSV 3"))).toEqual([522]);
  });

  it("a refused PASV, EPSV, PORT or EPRT still gives up the old set-up (its listener is closed at once)", () => {
    const refused: [string, number][] = [
      ["PORT 127,0,0,1,0,80", 504],
      ["PORT 1,2,3", 501],
      ["EPRT |1|127.0.0.2|5000|", 504],
      ["EPRT |3|x|5000|", 522],
      ["EPRT nonsense", 501],
      ["EPSV 2", 522],
      ["EPSV x", 501],
    ];
    for (const [line, code] of refused) {
      const w = new World();
      w.login();
      w.cmd("PASV");
      const held = w.currentPassive();
      expect(codes(w.cmd(line)), line).toEqual([code]);
      expect(w.actions, line).toContainEqual({ type: "data.close", channel: held });
      expect(w.state.channel.kind, line).toBe("none");
      // A late connection to the given-up listener is not used.
      const late = w.connectData("127.0.0.1", held);
      expect(w.rejected, line).toContain(late);
      expect(codes(w.cmd("RETR x")), line).toEqual([425]);
    }
    const all = new World();
    all.login();
    all.cmd("EPSV");
    const epsv = all.currentPassive();
    all.cmd("EPSV ALL");
    expect(all.state.channel.kind).toBe("passive");
    expect(codes(all.cmd("PORT 127,0,0,1,200,10"))).toEqual([503]);
    expect(all.actions).toContainEqual({ type: "data.close", channel: epsv });
    const v6 = new World({ clientAddress: "::1", serverAddress: "::1" });
    v6.login();
    v6.cmd("EPSV");
    const v6held = v6.currentPassive();
    expect(codes(v6.cmd("PASV"))).toEqual([425]);
    expect(v6.actions).toContainEqual({ type: "data.close", channel: v6held });
    expect(v6.state.channel.kind).toBe("none");
  });

  it("an active set-up is given up by a refused PORT too, so no later transfer connects to it", () => {
    const w = new World({ files });
    w.login();
    expect(codes(w.cmd("PORT 127,0,0,1,200,10"))).toEqual([200]);
    expect(codes(w.cmd("PORT 127,0,0,1,0,21"))).toEqual([504]);
    expect(w.state.channel.kind).toBe("none");
    expect(w.cmd("RETR big.iso")).toEqual(["425 Use PORT or PASV first."]);
    expect(w.actions.some((a) => a.type === "data.connect")).toBe(false);
  });

  it("reports an absurd but well-formed REST at the transfer: 350, then 554 before any mark", () => {
    const w = new World({ files });
    w.login();
    w.cmd("TYPE I");
    expect(codes(w.cmd("REST 99999999999999999999"))).toEqual([350]);
    w.cmd("PASV");
    w.connectData();
    expect(codes(w.cmd("RETR /big.iso"))).toEqual([554]);
    // The set-up is untouched by the refusal, and the offset is gone.
    expect(codes(w.cmd("RETR /big.iso"))).toEqual([150, 226]);
  });

  it("refuses STOR, APPE and STOU into a missing directory before the mark, keeping the data set-up", () => {
    const w = new World({ files: { ...files, "/pub/file": "x" } });
    w.login();
    w.cmd("PASV");
    w.connectData();
    for (const line of ["STOR nodir/x.txt", "APPE /nodir/deeper/x", "STOU nodir/x", "STOR /pub/file/x"]) {
      expect(codes(w.cmd(line)), line).toEqual([553]);
    }
    expect(codes(w.cmd("LIST"))).toEqual([150, 226]);
    w.cmd("PASV");
    w.connectData();
    w.upload = "new";
    expect(codes(w.cmd("STOR /pub/new.txt"))).toEqual([150, 226]);
    expect(w.file("/pub/new.txt")).toBe("new");
  });

  it("refuses PASV on an IPv6 control connection and offers EPSV", () => {
    const w = new World({ clientAddress: "::1", serverAddress: "::1" });
    w.login();
    expect(codes(w.cmd("PASV"))).toEqual([425]);
    expect(codes(w.cmd("EPSV"))).toEqual([229]);
    expect(codes(w.cmd("EPRT |2|::1|5000|"))).toEqual([200]);
  });
});

describe("transfers", () => {
  it("follows the resume transcript", () => {
    const w = new World({ files, autoConnect: true });
    w.login();
    w.cmd("TYPE I");
    expect(w.cmd("SIZE big.iso")).toEqual(["213 10"]);
    w.cmd("EPSV");
    w.cmd("REST 7");
    expect(w.cmd("RETR big.iso")).toEqual(["150 Opening BINARY mode data connection for big.iso (10 bytes).", "226 Transfer complete."]);
    expect(w.received).toEqual(["789"]);
  });

  it("answers 554 for REST beyond the end and clears REST after any transfer command", () => {
    const w = new World({ files, autoConnect: true });
    w.login();
    w.cmd("TYPE I");
    w.cmd("PASV");
    w.cmd("REST 11");
    expect(codes(w.cmd("RETR big.iso"))).toEqual([554]);
    expect(codes(w.cmd("RETR big.iso"))).toEqual([150, 226]);
    expect(w.received).toEqual(["0123456789"]);
  });

  it("converts to CRLF in TYPE A (the default)", () => {
    const w = new World({ files, autoConnect: true });
    w.login();
    w.cmd("PASV");
    expect(w.cmd("RETR notes.txt")[0]).toContain("ASCII");
    expect(w.received).toEqual(["a\r\nb\r\n"]);
  });

  it("stores, appends and resumes uploads", () => {
    const w = new World({ files, autoConnect: true });
    w.login();
    w.cmd("TYPE I");
    w.upload = "hello";
    w.cmd("PASV");
    expect(codes(w.cmd("STOR new.txt"))).toEqual([150, 226]);
    expect(w.file("/new.txt")).toBe("hello");
    w.upload = " world";
    w.cmd("PASV");
    expect(codes(w.cmd("APPE new.txt"))).toEqual([150, 226]);
    expect(w.file("/new.txt")).toBe("hello world");
    w.upload = "P!";
    w.cmd("PASV");
    w.cmd("REST 4");
    expect(codes(w.cmd("STOR new.txt"))).toEqual([150, 226]);
    expect(w.file("/new.txt")).toBe("hellP!");
    w.cmd("PASV");
    w.cmd("REST 100");
    expect(codes(w.cmd("STOR new.txt"))).toEqual([554]);
  });

  it("refuses REST with an ASCII upload (555) and STOU with REST (450)", () => {
    const w = new World({ files, autoConnect: true });
    w.login();
    w.cmd("PASV");
    w.cmd("REST 1");
    expect(codes(w.cmd("STOR x"))).toEqual([555]);
    w.cmd("REST 1");
    expect(codes(w.cmd("STOU"))).toEqual([450]);
  });

  it("STOU picks a free name and says it in the mark", () => {
    const w = new World({ files: { ...files, "/f": "1", "/f.1": "2" }, autoConnect: true });
    w.login();
    w.cmd("TYPE I");
    w.upload = "data";
    w.cmd("PASV");
    expect(w.cmd("STOU f")).toEqual(["150 FILE: f.2", "226 Transfer complete."]);
    expect(w.file("/f.2")).toBe("data");
  });

  it("reports transfer failures with the right code", () => {
    const w = new World({ files, holdTransfers: true, autoConnect: true });
    w.login();
    w.cmd("TYPE I");
    w.cmd("PASV");
    w.cmd("RETR big.iso");
    expect(codes(w.finishTransfer({ side: "data", reason: "reset" }))).toEqual([426]);
    w.cmd("PASV");
    w.cmd("STOR up");
    expect(codes(w.finishTransfer({ side: "file", error: "no-space" }))).toEqual([452]);
    w.cmd("PASV");
    w.cmd("RETR big.iso");
    expect(codes(w.finishTransfer({ side: "file", error: "io" }))).toEqual([451]);
  });
});

describe("ABOR and the control connection during a transfer", () => {
  it("follows the abort transcript: 426 for the transfer, then 226, then 225", () => {
    const w = new World({ files, holdTransfers: true, autoConnect: true });
    w.login();
    w.cmd("PASV");
    w.cmd("RETR big.iso");
    expect(w.cmd("ABOR")).toEqual(["426 Connection closed; transfer aborted.", "226 ABOR successful."]);
    expect(w.actions.some((a) => a.type === "transfer.abort")).toBe(true);
    expect(w.cmd("ABOR")).toEqual(["225 No transfer to ABOR."]);
  });

  it("aborts a transfer still waiting for its connection", () => {
    const w = new World({ files });
    w.login();
    w.cmd("PASV");
    w.cmd("RETR big.iso");
    expect(codes(w.cmd("ABOR"))).toEqual([426, 226]);
  });

  it("answers STAT and NOOP at once but queues QUIT until the final reply", () => {
    const w = new World({ files, holdTransfers: true, autoConnect: true });
    w.login();
    w.cmd("PASV");
    w.cmd("RETR big.iso");
    const stat = w.cmd("STAT");
    expect(stat[0]).toBe("211-Status of pasv:");
    expect(stat.join("\n")).toContain("Transfer in progress: RETR /big.iso");
    expect(w.cmd("NOOP")).toEqual(["200 NOOP ok."]);
    expect(w.cmd("QUIT")).toEqual([]);
    expect(w.cmd("NOOP")).toEqual([]);
    expect(w.finishTransfer()).toEqual(["226 Transfer complete.", "221 Goodbye."]);
    expect(w.closed).toBe(true);
  });

  it("STAT during a transfer asks the driver for the bytes moved and answers with them", () => {
    const w = new World({ files, holdTransfers: true, autoConnect: true });
    w.login();
    w.cmd("PASV");
    w.cmd("RETR big.iso");
    const running = w.running;
    if (running === null) throw new Error("no transfer running");
    w.progress = 123_456;
    const stat = w.cmd("STAT");
    expect(w.actions).toContainEqual({ type: "transfer.progress", transfer: running.transfer });
    expect(stat[0]).toBe("211-Status of pasv:");
    expect(stat).toContain(" Transfer in progress: RETR /big.iso, 123456 bytes sent");
    expect(stat.at(-1)).toBe("211 End of status");
    w.progress = 200_000;
    expect(w.cmd("STAT")).toContain(" Transfer in progress: RETR /big.iso, 200000 bytes sent");
    expect(w.finishTransfer()).toEqual(["226 Transfer complete."]);
    // After the transfer STAT is answered at once again, without asking.
    const asked = w.actions.filter((a) => a.type === "transfer.progress").length;
    expect(w.cmd("STAT").join("\n")).not.toContain("Transfer in progress");
    expect(w.actions.filter((a) => a.type === "transfer.progress").length).toBe(asked);
  });

  it("STAT during an upload counts the bytes received", () => {
    const w = new World({ files, holdTransfers: true, autoConnect: true });
    w.login();
    w.cmd("TYPE I");
    w.cmd("PASV");
    w.cmd("STOR new.bin");
    w.progress = 42;
    expect(w.cmd("STAT")).toContain(" Transfer in progress: STOR /new.bin, 42 bytes received");
  });

  it("STAT during a transfer, split at every byte and pipelined, is answered once per STAT with the count", () => {
    const input = "STAT\r\nNOOP\r\nstat\r\n";
    for (let cut = 0; cut <= input.length; cut++) {
      const w = new World({ files, holdTransfers: true, autoConnect: true });
      w.login();
      w.cmd("PASV");
      w.cmd("RETR big.iso");
      w.progress = 7;
      const replies = [...w.send(input.slice(0, cut)), ...w.send(input.slice(cut))];
      expect(replies.filter((r) => !r.startsWith(" ")), `cut at ${cut}`).toEqual(["211-Status of pasv:", "211 End of status", "200 NOOP ok.", "211-Status of pasv:", "211 End of status"]);
      expect(replies.filter((r) => r === " Transfer in progress: RETR /big.iso, 7 bytes sent"), `cut at ${cut}`).toHaveLength(2);
    }
    // Byte by byte.
    const w = new World({ files, holdTransfers: true, autoConnect: true });
    w.login();
    w.cmd("PASV");
    w.cmd("RETR big.iso");
    w.progress = 9;
    const replies: string[] = [];
    for (const ch of input) replies.push(...w.send(ch));
    expect(replies.filter((r) => r.includes("9 bytes sent"))).toHaveLength(2);
  });

  it("a STAT whose count has not come back when the transfer ends is answered first, with the final count", () => {
    const w = new World({ files, holdTransfers: true, autoConnect: true, holdProgress: true });
    w.login();
    w.cmd("PASV");
    w.cmd("RETR big.iso");
    const running = w.running;
    if (running === null) throw new Error("no transfer running");
    expect(w.cmd("STAT")).toEqual([]);
    expect(w.pendingProgress).toHaveLength(1);
    w.progress = 10;
    const end = w.finishTransfer();
    expect(end[0]).toBe("211-Status of pasv:");
    expect(end).toContain(" Transfer in progress: RETR /big.iso, 10 bytes sent");
    expect(end.slice(-2)).toEqual(["211 End of status", "226 Transfer complete."]);
    // The late answer finds nothing waiting for it.
    expect(w.send("")).toEqual([]);
    w.post({ type: "transfer.progress", now: w.now, transfer: running.transfer, bytes: 5 });
    expect(w.replies.at(-1)).toBe("226 Transfer complete.");
  });

  it("commands behind a STAT wait for its count, so replies keep their order", () => {
    const w = new World({ files, holdTransfers: true, autoConnect: true, holdProgress: true });
    w.login();
    w.cmd("PASV");
    w.cmd("RETR big.iso");
    const running = w.running;
    if (running === null) throw new Error("no transfer running");
    expect(w.send("STAT\r\nNOOP\r\nABOR\r\n")).toEqual([]);
    const before = w.replies.length;
    w.post({ type: "transfer.progress", now: w.now, transfer: running.transfer, bytes: 3 });
    const replies = w.replies.slice(before);
    expect(replies.filter((r) => !r.startsWith(" "))).toEqual(["211-Status of pasv:", "211 End of status", "200 NOOP ok.", "426 Connection closed; transfer aborted.", "226 ABOR successful."]);
    expect(replies).toContain(" Transfer in progress: RETR /big.iso, 3 bytes sent");
  });

  it("a STAT still waiting when a shutdown aborts the transfer is answered without a count, before the 426", () => {
    const w = new World({ files, holdTransfers: true, autoConnect: true, holdProgress: true });
    w.login();
    w.cmd("PASV");
    w.cmd("RETR big.iso");
    w.cmd("STAT");
    const before = w.replies.length;
    w.post({ type: "shutdown", now: w.now });
    const replies = w.replies.slice(before);
    expect(replies).toContain(" Transfer in progress: RETR /big.iso");
    expect(replies.filter((r) => !r.startsWith(" "))).toEqual(["211-Status of pasv:", "211 End of status", "426 Connection closed; transfer aborted.", "421 Server shutting down."]);
  });

  it("a progress answer nobody asked for, or for another transfer, says nothing", () => {
    const w = new World({ files, holdTransfers: true, autoConnect: true, holdProgress: true });
    w.login();
    w.cmd("PASV");
    w.cmd("RETR big.iso");
    const running = w.running;
    if (running === null) throw new Error("no transfer running");
    const before = w.replies.length;
    w.post({ type: "transfer.progress", now: w.now, transfer: running.transfer, bytes: 5 });
    w.cmd("STAT");
    w.post({ type: "transfer.progress", now: w.now, transfer: running.transfer + 100, bytes: 5 });
    expect(w.replies.length).toBe(before);
    w.post({ type: "transfer.progress", now: w.now, transfer: running.transfer, bytes: 5 });
    expect(w.replies.slice(before)).toContain(" Transfer in progress: RETR /big.iso, 5 bytes sent");
    expect(w.state.op).toMatchObject({ kind: "transfer", statQueries: 0 });
  });

  it("STAT while the transfer waits for its data connection answers at once, without asking", () => {
    const w = new World({ files });
    w.login();
    w.cmd("PASV");
    w.cmd("RETR big.iso");
    expect(w.cmd("STAT")).toContain(" Transfer in progress: RETR /big.iso (waiting for the data connection)");
    expect(w.actions.some((a) => a.type === "transfer.progress")).toBe(false);
  });

  it("NOOP as a keep-alive: answered at once during a transfer, the transfer untouched (a departure from SPEC §4.10)", () => {
    const w = new World({ files, holdTransfers: true, autoConnect: true });
    w.login();
    w.cmd("PASV");
    w.cmd("RETR big.iso");
    w.now += 60_000;
    expect(w.cmd("NOOP")).toEqual(["200 NOOP ok."]);
    expect(w.cmd("noop with an ignored argument")).toEqual(["200 NOOP ok."]);
    expect(w.state.op.kind).toBe("transfer");
    expect(w.state.lastActivity).toBe(w.now);
    expect(w.actions.some((a) => a.type === "transfer.abort")).toBe(false);
    expect(w.finishTransfer()).toEqual(["226 Transfer complete."]);
  });

  it("NOOP behind other pipelined commands keeps FIFO order during a transfer", () => {
    const w = new World({ files, holdTransfers: true, autoConnect: true });
    w.login();
    w.cmd("PASV");
    w.cmd("RETR big.iso");
    // At the head it is answered; behind CWD it waits its turn, and so does everything after it.
    expect(w.send("NOOP\r\nSTAT\r\nCWD /pub\r\nNOOP\r\nSTAT\r\nPWD\r\n").filter((r) => !r.startsWith(" ") && !r.startsWith("211-"))).toEqual(["200 NOOP ok.", "211 End of status"]);
    expect(w.finishTransfer().filter((r) => !r.startsWith(" ") && !r.startsWith("211-"))).toEqual([
      "226 Transfer complete.",
      "250 Directory successfully changed.",
      "200 NOOP ok.",
      "211 End of status",
      '257 "/pub" is the current directory.',
    ]);
  });

  it("NOOP after the mark while the data connection is still awaited, and not during other outstanding commands", () => {
    const w = new World({ files, manualFs: true });
    w.login();
    w.cmd("PASV");
    expect(w.cmd("RETR big.iso")).toEqual([]);
    // The RETR's stat is outstanding (no mark yet): NOOP waits.
    expect(w.cmd("NOOP")).toEqual([]);
    w.answerFs({ ok: true, value: { op: "stat", stat: { name: "big.iso", type: "file", size: 10, mtime: 0, mode: 0o644, unique: "" } } });
    expect(codes(w.replies.slice(-2))).toEqual([150, 200]);
    expect(w.cmd("NOOP")).toEqual(["200 NOOP ok."]);
    expect(w.state.op).toMatchObject({ kind: "transfer", phase: "await-connection" });
  });

  it("closes everything when the client vanishes mid-transfer", () => {
    const w = new World({ files, holdTransfers: true, autoConnect: true });
    w.login();
    w.cmd("PASV");
    w.cmd("RETR big.iso");
    w.post({ type: "control.eof", now: w.now });
    expect(w.closed).toBe(true);
    expect(w.actions.filter((a) => a.type === "transfer.abort")).toHaveLength(1);
  });
});

describe("navigation and files", () => {
  it("PWD quotes, CWD/CDUP move, never above the root", () => {
    const w = new World({ files: { ...files, '/we"ird': null } });
    w.login();
    expect(w.cmd("PWD")).toEqual(['257 "/" is the current directory.']);
    expect(codes(w.cmd("CWD /nope"))).toEqual([550]);
    expect(codes(w.cmd("CWD /big.iso"))).toEqual([550]);
    expect(codes(w.cmd('CWD we"ird'))).toEqual([250]);
    expect(w.cmd("PWD")).toEqual(['257 "/we""ird" is the current directory.']);
    w.cmd("CDUP");
    w.cmd("CDUP");
    expect(w.cmd("XPWD")).toEqual(['257 "/" is the current directory.']);
    expect(codes(w.cmd("CWD ../../.."))).toEqual([250]);
    expect(w.cmd("PWD")).toEqual(['257 "/" is the current directory.']);
  });

  it("MKD, RMD, DELE, RNFR/RNTO with their codes", () => {
    const w = new World({ files });
    w.login();
    expect(w.cmd("MKD d")).toEqual(['257 "/d" created.']);
    expect(codes(w.cmd("MKD d"))).toEqual([550]);
    expect(codes(w.cmd("RMD sub"))).toEqual([550]);
    expect(codes(w.cmd("RMD d"))).toEqual([250]);
    expect(codes(w.cmd("DELE sub"))).toEqual([550]);
    expect(codes(w.cmd("DELE sub/a.txt"))).toEqual([250]);
    expect(codes(w.cmd("RNFR big.iso"))).toEqual([350]);
    expect(codes(w.cmd("RNTO small.iso"))).toEqual([250]);
    expect(w.file("/small.iso")).toBe("0123456789");
    expect(w.cmd("RNTO c.txt")).toEqual(["503 RNFR required first."]);
    w.cmd("RNFR small.iso");
    w.cmd("NOOP");
    expect(codes(w.cmd("RNTO c.txt"))).toEqual([503]);
    expect(codes(w.cmd("RNFR missing"))).toEqual([550]);
  });

  it("rejects path names with CR, LF (NUL on the wire) or invalid UTF-8 with 553", () => {
    const w = new World({ files });
    w.login();
    expect(codes(w.send("MKD a\0b\r\n"))).toEqual([553]);
    // A bare CR ends the line (NVT has no CR inside a command): "MKD a", then "b".
    expect(codes(w.send("MKD a\rb\r\n"))).toEqual([257, 500]);
    w.post({ type: "control.data", now: w.now, bytes: new Uint8Array([0x4d, 0x4b, 0x44, 0x20, 0xc3, 0x28, 0x0d, 0x0a]) });
    expect(codes(w.replies.slice(-1))).toEqual([553]);
  });

  it("SIZE only in binary mode, MDTM in UTC, MFMT sets the time", () => {
    const w = new World({ files });
    w.login();
    expect(codes(w.cmd("SIZE big.iso"))).toEqual([550]);
    w.cmd("TYPE I");
    expect(w.cmd("SIZE big.iso")).toEqual(["213 10"]);
    expect(codes(w.cmd("SIZE pub"))).toEqual([550]);
    expect(w.cmd("MFMT 20240229123456 big.iso")).toEqual(["213 Modify=20240229123456; big.iso"]);
    expect(w.cmd("MDTM big.iso")).toEqual(["213 20240229123456"]);
    expect(codes(w.cmd("MFMT 20230229123456 big.iso"))).toEqual([501]);
    expect(codes(w.cmd("MDTM nope"))).toEqual([550]);
  });

  it("MLST answers on the control connection; MLSD refuses a file with 501", () => {
    const w = new World({ files, autoConnect: true });
    w.login();
    const mlst = w.cmd("MLST big.iso");
    expect(mlst[0]).toBe("250-Listing big.iso");
    expect(mlst[1]).toMatch(/^ type=file;size=10;modify=\d{14};perm=rwadf;unique=\w+;UNIX\.mode=0644; \/big\.iso$/);
    expect(mlst[2]).toBe("250 End");
    w.cmd("PASV");
    expect(codes(w.cmd("MLSD big.iso"))).toEqual([501]);
    expect(codes(w.cmd("MLSD /sub"))).toEqual([150, 226]);
    expect(w.received[0]).toMatch(/^type=file;.* a\.txt\r\n$/);
  });

  it("LIST ignores -la options; NLST prefixes a directory argument", () => {
    const w = new World({ files, autoConnect: true });
    w.login();
    w.cmd("PASV");
    w.cmd("LIST -la /sub");
    expect(w.received[0]).toMatch(/ a\.txt\r\n$/);
    w.cmd("PASV");
    w.cmd("NLST sub");
    expect(w.received[1]).toBe("sub/a.txt\r\n");
    w.cmd("PASV");
    w.cmd("NLST");
    expect(w.received[2]).toBe("big.iso\r\nnotes.txt\r\npub\r\nsub\r\n");
    w.cmd("PASV");
    w.cmd("NLST *.txt");
    expect(w.received[3]).toBe("notes.txt\r\n");
  });

  it("STAT with a path lists over the control connection", () => {
    const w = new World({ files });
    w.login();
    const lines = w.cmd("STAT /sub");
    expect(lines[0]).toBe("213-Status follows:");
    expect(lines[1]).toMatch(/a\.txt$/);
    expect(lines[2]).toBe("213 End of status.");
  });

  it("indents every STAT row by one space, so no row can pass for a reply line", () => {
    // The counterexample of the step property (FC_SEED=-1438569787): USER alice, PASS secret, STAT /d.
    const w = new World({ files: { "/a.txt": "alpha\n", "/d": null, "/d/b.bin": "0123456789", "/d/226 done": "x" } });
    w.cmd("USER alice");
    w.cmd("PASS secret");
    const dir = w.cmd("STAT /d");
    expect(dir[0]).toBe("213-Status follows:");
    expect(dir.slice(1, -1)).toHaveLength(2);
    for (const row of dir.slice(1, -1)) expect(row).toMatch(/^ -rw-r--r-- +1 ftp +ftp +\d+ \w{3} [ \d]\d [ \d]\d:\d\d (226 done|b\.bin)$/);
    expect(dir.at(-1)).toBe("213 End of status.");
    const file = w.cmd("STAT /d/b.bin");
    expect(file).toHaveLength(3);
    expect(file[1]).toMatch(/^ -rw-r--r-- .* b\.bin$/);
    for (const line of [...dir, ...file]) expect(line).toMatch(/^(\d{3}[ -]| )/);
  });
});

describe("parameters and information", () => {
  it("TYPE, MODE, STRU accept the supported forms only", () => {
    const w = new World();
    w.login();
    expect(codes(["A", "a", "A N", "I", "i", "L 8"].flatMap((t) => w.cmd(`TYPE ${t}`)))).toEqual([200, 200, 200, 200, 200, 200]);
    expect(codes(["A T", "A C", "E", "L 7"].flatMap((t) => w.cmd(`TYPE ${t}`)))).toEqual([504, 504, 504, 504]);
    expect(codes(w.cmd("TYPE"))).toEqual([501]);
    expect(codes(w.cmd("TYPE Q"))).toEqual([501]);
    expect(codes([...w.cmd("MODE S"), ...w.cmd("MODE B"), ...w.cmd("STRU F"), ...w.cmd("STRU R")])).toEqual([200, 504, 200, 504]);
  });

  it("FEAT lists every extension with one leading space", () => {
    const w = new World();
    const feat = w.cmd("FEAT");
    expect(feat[0]).toBe("211-Features:");
    expect(feat.at(-1)).toBe("211 End");
    for (const line of feat.slice(1, -1)) expect(line).toMatch(/^ [A-Z]/);
    for (const f of ["EPRT", "EPSV", "MDTM", "MFMT", "PASV", "REST STREAM", "SIZE", "UTF8", "TVFS"]) expect(feat).toContain(` ${f}`);
    expect(feat.some((l) => l.startsWith(" MLST type*;"))).toBe(true);
  });

  it("OPTS MLST selects facts; HELP, SITE, ALLO, LANG, CLNT, SMNT answer", () => {
    const w = new World();
    w.login();
    expect(w.cmd("OPTS MLST type;size;")).toEqual(["200 MLST OPTS type;size;"]);
    expect(codes(w.cmd("OPTS MLST a b"))).toEqual([501]);
    expect(codes(w.cmd("HELP"))).toEqual([214]);
    expect(w.cmd("HELP retr")).toEqual(["214 Syntax: RETR <path>"]);
    expect(codes(w.cmd("HELP nope"))).toEqual([502]);
    expect(codes(w.cmd("SITE HELP"))).toEqual([214]);
    expect(codes(w.cmd("SITE IDLE 60"))).toEqual([200]);
    expect(codes(w.cmd("SITE IDLE 5"))).toEqual([501]);
    expect(codes(w.cmd("SITE CHMOD 644 x"))).toEqual([502]);
    expect(codes(w.cmd("SITE FOO"))).toEqual([500]);
    expect(codes(w.cmd("ALLO 100"))).toEqual([202]);
    expect(codes(w.cmd("LANG EN"))).toEqual([200]);
    expect(codes(w.cmd("LANG FR"))).toEqual([504]);
    expect(codes(w.cmd("CLNT curl"))).toEqual([200]);
    expect(codes(w.cmd("SMNT /"))).toEqual([502]);
    expect(codes(w.cmd("HOST x"))).toEqual([503]);
  });

  it("AUTH, PBSZ and PROT as protocol states", () => {
    const plain = new World();
    expect(codes(plain.cmd("AUTH TLS"))).toEqual([502]);
    const w = new World({ config: { tls: true } });
    expect(codes(w.cmd("PBSZ 0"))).toEqual([503]);
    expect(codes(w.cmd("CCC"))).toEqual([533]);
    expect(codes(w.cmd("AUTH KERBEROS"))).toEqual([504]);
    // Plaintext pipelined behind AUTH is discarded, never executed.
    expect(codes(w.send("AUTH TLS\r\nUSER evil\r\n"))).toEqual([234]);
    expect(codes(w.cmd("PROT P"))).toEqual([503]);
    expect(codes(w.cmd("PBSZ 0"))).toEqual([200]);
    expect(codes(w.cmd("PROT S"))).toEqual([536]);
    expect(codes(w.cmd("PROT X"))).toEqual([504]);
    expect(codes(w.cmd("PROT P"))).toEqual([200]);
    expect(codes(w.cmd("AUTH TLS"))).toEqual([503]);
    expect(codes(w.cmd("CCC"))).toEqual([534]);
    expect(codes(w.cmd("REIN"))).toEqual([502]);
    expect(codes(w.cmd("PASS x"))).toEqual([503]);
  });
});

describe("edge cases of every command", () => {
  const table: [string, number[]][] = [
    ["USER", [501]],
    ["PASS", [202]],
    ["CWD", [501]],
    ["MKD", [501]],
    ["RMD /", [550]],
    ["RNFR /", [550]],
    ["RNFR", [501]],
    ["DELE", [501]],
    ["SIZE", [501]],
    ["MDTM", [501]],
    ["MFMT", [501]],
    ["MFMT 20240101000000", [501]],
    ["MFMT 20240101000000 ", [501]],
    ["MFMT bogus x", [501]],
    ["MFMT 20240101000000 \r", [501]],
    ["MLST /nope", [550]],
    ["MLST", [250]],
    ["MODE", [501]],
    ["MODE SS", [501]],
    ["STRU", [501]],
    ["STRU FF", [501]],
    ["REST", [501]],
    ["REST -1", [501]],
    ["REST 1234567890123456", [350]],
    ["REST 99999999999999999999999999", [350]],
    ["PORT", [501]],
    ["EPRT", [501]],
    ["EPRT |1|x|1|", [501]],
    ["TYPE A N X", [501]],
    ["RETR", [425]],
    ["STOR x", [425]],
    ["APPE x", [425]],
    ["STOU", [425]],
    ["NLST", [425]],
    ["OPTS", [501]],
    ["OPTS UTF8", [200]],
    ["OPTS UTF-8 ON", [200]],
    ["OPTS UTF8 MAYBE", [501]],
    ["OPTS MLST", [200]],
    ["SITE", [501]],
    ["SITE IDLE", [200]],
    ["SITE IDLE x", [501]],
    ["SITE IDLE 99999", [501]],
    ["HOST", [503]],
    ["LANG", [200]],
    ["LANG en-US", [200]],
    ["PBSZ 0", [503]],
    ["PROT P", [503]],
    ["ABOR", [225]],
    ["XRMD /", [550]],
    ["LPSV", [502]],
    ["STAT  ", [211]],
  ];
  for (const [line, expected] of table) {
    it(`${JSON.stringify(line)} -> ${expected.join(",")}`, () => {
      const w = new World({ files });
      w.login();
      expect(codes(w.cmd(line))).toEqual(expected);
    });
  }

  it("write commands need write permission", () => {
    const w = new World({ files, autoConnect: true });
    w.login("reader", "pw");
    w.cmd("PASV");
    for (const line of ["MKD x", "RMD sub", "DELE big.iso", "RNFR big.iso", "RNTO x", "MFMT 20240101000000 big.iso", "STOR x", "APPE x", "STOU"]) {
      // The rights gate comes before RNTO's sequence check: a read-only user gets 550 either way.
      expect(codes(w.cmd(line)), line).toEqual([550]);
    }
    expect(w.cmd("MLST big.iso")[1]).toContain("perm=r;");
  });

  it("path arguments with forbidden bytes are refused everywhere", () => {
    const w = new World({ files, autoConnect: true });
    w.login();
    w.cmd("PASV");
    for (const verb of ["CWD", "RETR", "STOR", "STOU", "LIST", "MLST", "STAT", "RNTO"]) {
      const bytes = new TextEncoder().encode(`${verb} a\0b\r\n`);
      if (verb === "RNTO") w.cmd("RNFR big.iso");
      w.post({ type: "control.data", now: w.now, bytes });
      expect(codes(w.replies.slice(-1)), verb).toEqual([553]);
    }
    expect(codes(w.cmd("RNFR big.iso"))).toEqual([350]);
    expect(codes(w.cmd("RNTO /"))).toEqual([553]);
  });

  it("refuses a USER that needs TLS first, and keeps anonymous open", () => {
    const w = new World({ config: { requireTlsForLogin: true, tls: true } });
    expect(codes(w.cmd("USER alice"))).toEqual([530]);
    expect(codes(w.cmd("USER ftp"))).toEqual([331]);
  });

  it("with data protection required, a named user transfers only after PROT P; anonymous is exempt", () => {
    const files = { "/big.iso": "0123456789" };
    const w = new World({ config: { tls: true, requireTlsForData: true }, files });
    w.cmd("AUTH TLS");
    w.login();
    w.cmd("PASV");
    w.connectData();
    // Refused before any mark, and the data set-up is left for the next try (SPEC §4.7 step 1).
    expect(codes(w.cmd("RETR /big.iso"))).toEqual([522]);
    expect(codes(w.cmd("LIST"))).toEqual([522]);
    expect(codes(w.cmd("STOR /new"))).toEqual([522]);
    w.cmd("PBSZ 0");
    expect(codes(w.cmd("PROT P"))).toEqual([200]);
    expect(codes(w.cmd("RETR /big.iso"))).toEqual([150, 226]);
    const anon = new World({ config: { tls: true, requireTlsForData: true }, files });
    anon.login("anonymous", "me@");
    anon.cmd("PASV");
    anon.connectData();
    expect(codes(anon.cmd("RETR /big.iso"))).toEqual([150, 226]);
  });

  it("after a PROT C refused by policy, transfers get 522 before the mark until PROT P (curl --ftp-ssl-control)", () => {
    const files = { "/f.txt": "hello" };
    // AUTH SSL implies PROT P; the client then asks for clear data and is refused, so it will
    // connect in the clear: refusing the transfer now beats a 150 and a handshake that never comes.
    for (const user of [["alice", "secret"], ["anonymous", "me@"]] as const) {
      const w = new World({ config: { tls: true, requireTlsForData: true }, files });
      w.cmd("AUTH SSL");
      w.login(...user);
      w.cmd("PBSZ 0");
      expect(codes(w.cmd("PROT C"))).toEqual([534]);
      w.cmd("EPSV");
      w.connectData();
      expect(w.cmd("RETR /f.txt")).toEqual(["522 Data connections must be encrypted; send PROT P."]);
      expect(codes(w.cmd("LIST"))).toEqual([522]);
      // The data set-up is untouched: after PROT P the same channel serves the transfer.
      expect(codes(w.cmd("PROT P"))).toEqual([200]);
      expect(codes(w.cmd("RETR /f.txt"))).toEqual([150, 226]);
    }
    // An anonymous session whose protection is C keeps its clear data after a refused PROT C.
    const anon = new World({ config: { tls: true, requireTlsForData: true }, files });
    anon.cmd("AUTH TLS");
    anon.login("anonymous", "me@");
    anon.cmd("PBSZ 0");
    expect(codes(anon.cmd("PROT C"))).toEqual([534]);
    anon.cmd("PASV");
    anon.connectData();
    expect(codes(anon.cmd("RETR /f.txt"))).toEqual([150, 226]);
  });

  it("closes after too many unknown commands", () => {
    const w = new World({ config: { limits: { maxBadCommands: 2 } } });
    expect(codes(w.send("A\r\nB\r\nNOOP\r\nC\r\nD\r\nE\r\n"))).toEqual([500, 500, 200, 500, 500, 421]);
    expect(w.closed).toBe(true);
    expect(w.send("NOOP\r\n")).toEqual([]);
  });

  it("pauses reading when pipelined input piles up, and resumes when it drains", () => {
    const w = new World({ files, manualFs: true, config: { limits: { maxBufferedInput: 32 } } });
    w.login();
    w.cmd("CWD sub");
    w.send("NOOP\r\n".repeat(10));
    expect(w.paused).toBe(true);
    const replies = w.answerFs({ ok: true, value: { op: "stat", stat: { name: "sub", type: "dir", size: 0, mtime: 0, mode: 0, unique: "" } } });
    expect(codes(replies)).toEqual([250, ...Array<number>(10).fill(200)]);
    expect(w.paused).toBe(false);
  });

  it("answers 451 when the file system answers with the wrong shape, and maps every error kind", () => {
    const w = new World({ files, manualFs: true });
    w.login();
    const wrong = { ok: true, value: { op: "mkdir" } } as const;
    for (const line of ["MLST x", "STAT x", "RETR x", "STOR x", "LIST"]) {
      w.cmd("PASV");
      w.cmd(line);
      if (w.pendingFs.length === 0) continue;
      expect(codes(w.answerFs(wrong)), line).toEqual([451]);
    }
    const kinds = { "not-found": 550, permission: 550, exists: 550, "not-empty": 550, "not-a-directory": 550, "is-a-directory": 550, "no-space": 452, quota: 552, busy: 450, "invalid-name": 553, "too-large": 550, io: 451 } as const;
    for (const [kind, code] of Object.entries(kinds)) {
      w.cmd("DELE x");
      expect(codes(w.answerFs({ ok: false, error: kind as keyof typeof kinds })), kind).toEqual([code]);
    }
    w.cmd("STAT /sub");
    expect(codes(w.answerFs({ ok: true, value: { op: "stat", stat: { name: "sub", type: "dir", size: 0, mtime: 0, mode: 0, unique: "" } } }))).toEqual([]);
    expect(codes(w.answerFs(wrong))).toEqual([451]);
  });

  it("listings: a glob with no match on a file, MLSD of a missing path, too large, hidden files", () => {
    const w = new World({ files: { ...files, "/.dot": "d" }, autoConnect: true, config: { showDotFiles: false } });
    w.login();
    w.cmd("PASV");
    expect(codes(w.cmd("NLST big.iso"))).toEqual([150, 226]);
    expect(w.received.at(-1)).toBe("big.iso\r\n");
    w.cmd("PASV");
    expect(codes(w.cmd("LIST big.iso/*"))).toEqual([550]);
    expect(codes(w.cmd("MLSD /nope"))).toEqual([550]);
    expect(codes(w.cmd("NLST .d*"))).toEqual([150, 226]);
    expect(w.received.at(-1)).toBe(".dot\r\n");
    w.cmd("PASV");
    expect(codes(w.cmd("NLST /sub/*.txt"))).toEqual([150, 226]);
    expect(w.received.at(-1)).toBe("/sub/a.txt\r\n");
    w.cmd("PASV");
    expect(codes(w.cmd("LIST -l"))).toEqual([150, 226]);
    // The bound is on what the core builds whole (STAT's reply); a data-connection listing is streamed.
    const small = new World({ files, autoConnect: true, config: { limits: { maxListingBytes: 10 } } });
    small.login();
    expect(codes(small.cmd("STAT /"))).toEqual([550]);
    small.cmd("PASV");
    expect(codes(small.cmd("LIST"))).toEqual([150, 226]);
  });

  it("STOU gives up after its attempts; MDTM and SIZE refuse directories", () => {
    const w = new World({ files: { ...files, "/f": "1", "/f.1": "2" }, autoConnect: true, config: { limits: { maxStouAttempts: 2 } } });
    w.login();
    w.cmd("PASV");
    expect(codes(w.cmd("STOU f"))).toEqual([553]);
    expect(codes(w.cmd("MDTM pub"))).toEqual([550]);
    expect(codes(w.cmd("STOR pub"))).toEqual([550]);
    w.upload = "x";
    expect(codes(w.cmd("STOU"))).toEqual([150, 226]);
    expect(w.file("/ftp.upload")).toBe("x");
  });

  it("transfer failures: stall and TLS on the data side; STOU that lost a race", () => {
    const w = new World({ files, holdTransfers: true, autoConnect: true });
    w.login();
    w.cmd("PASV");
    w.cmd("RETR big.iso");
    expect(codes(w.finishTransfer({ side: "data", reason: "stall" }))).toEqual([426]);
    w.cmd("PASV");
    w.cmd("RETR big.iso");
    expect(codes(w.finishTransfer({ side: "data", reason: "tls" }))).toEqual([522]);
    w.cmd("PASV");
    w.cmd("RETR big.iso");
    expect(codes(w.finishTransfer({ side: "data", reason: "tls-timeout" }))).toEqual([425]);
    w.cmd("PASV");
    w.cmd("RETR big.iso");
    expect(w.finishTransfer({ side: "data", reason: "tls-reuse" })).toEqual(["522 SSL connection failed: session reuse required."]);
    w.cmd("PASV");
    w.cmd("STOU x");
    expect(codes(w.finishTransfer({ side: "file", error: "exists" }))).toEqual([553]);
    expect(w.notices.filter((n) => (n as { kind: string }).kind === "transfer")).toHaveLength(5);
  });

  it("active mode: connect timeout, and a passive listener nobody used expires silently", () => {
    const w = new World({ files, config: { timeouts: { dataConnect: 100, dataAccept: 100 } } });
    w.login();
    w.cmd("PORT 127,0,0,1,200,1");
    w.post({ type: "control.data", now: w.now, bytes: new TextEncoder().encode("RETR big.iso\r\n") });
    // Pretend the connect never answers: drop the auto "connected" by expiring first is not possible
    // with the auto world, so check the accept timeout on a passive channel instead.
    w.cmd("PASV");
    const ch = w.currentPassive();
    expect(w.advance(100)).toEqual([]);
    expect(w.actions).toContainEqual({ type: "data.close", channel: ch });
    expect(codes(w.cmd("RETR big.iso"))).toEqual([425]);
  });

  it("listener failures, stray and late events, and the peer closing an unused connection", () => {
    const w = new World({ files });
    w.login();
    w.post({ type: "data.listen-failed", now: w.now, channel: 99, message: "x" });
    w.cmd("PASV");
    const ch = w.currentPassive();
    w.connectData();
    w.post({ type: "data.closed", now: w.now, channel: ch });
    expect(w.state.channel.kind).toBe("none");
    expect(codes(w.cmd("RETR big.iso"))).toEqual([425]);
    w.post({ type: "data.listening", now: w.now, channel: 77, port: 1 });
    w.post({ type: "data.connected", now: w.now, channel: 77 });
    w.post({ type: "data.connect-failed", now: w.now, channel: 77, message: "x" });
    w.post({ type: "auth.result", now: w.now, request: 77, account: null });
    w.post({ type: "tls.ready", now: w.now });
    w.post({ type: "tls.failed", now: w.now, message: "x", started: false, timedOut: true });
    w.post({ type: "open", now: w.now });
    expect(codes(w.cmd("NOOP"))).toEqual([200]);
  });

  it("a listener that cannot open answers 425 and leaves no channel", () => {
    const w = new World({ failListen: true });
    w.login();
    expect(w.cmd("EPSV")).toEqual(["425 Can't open passive connection."]);
    expect(w.state.channel.kind).toBe("none");
    expect(w.actions).toContainEqual({ type: "log", level: "warn", message: "passive listen failed: EADDRINUSE" });
  });

  it("shutdown and refusals say 421 and close; a failed TLS handshake just closes", () => {
    const w = new World();
    w.post({ type: "shutdown", now: w.now });
    expect(w.replies.at(-1)).toBe("421 Server shutting down.");
    for (const reason of ["max-sessions", "shutting-down"] as const) {
      const r = new World({ refuse: reason });
      expect(codes(r.replies)).toEqual([421]);
    }
    const t = new World({ config: { tls: true }, failTls: true });
    expect(codes(t.cmd("AUTH TLS"))).toEqual([234]);
    expect(t.closed).toBe(true);
    const s = new World({ config: { tls: true } });
    s.cmd("AUTH SSL");
    expect(codes(s.cmd("PROT C"))).toEqual([200]);
    const forced = new World({ config: { tls: true, requireTlsForData: true } });
    forced.cmd("AUTH TLS");
    forced.cmd("PBSZ 0");
    expect(codes(forced.cmd("PROT C"))).toEqual([534]);
    expect(codes(forced.cmd("PBSZ x"))).toEqual([501]);
  });

  it("a protected data connection of a TLS session must resume it, unless the check is off or the data is clear", () => {
    const starts = (w: World): boolean[] => w.actions.flatMap((a) => (a.type === "transfer.start" ? [a.requireResumption] : []));
    const files = { "/f": "x" };
    const implicit = new World({ implicitTls: true, config: { tls: true }, files });
    implicit.login();
    implicit.cmd("PASV");
    implicit.connectData();
    implicit.cmd("RETR /f");
    const off = new World({ implicitTls: true, config: { tls: true, requireTlsReuse: false }, files });
    off.login();
    off.cmd("PASV");
    off.connectData();
    off.cmd("RETR /f");
    const clear = new World({ config: { tls: true }, files });
    clear.cmd("AUTH TLS");
    clear.login();
    clear.cmd("PASV");
    clear.connectData();
    clear.cmd("RETR /f");
    expect([starts(implicit), starts(off), starts(clear)]).toEqual([[true], [false], [false]]);
  });

  it("implicit TLS starts protected; a configured public address goes into 227", () => {
    const w = new World({ implicitTls: true, passiveAddress: "203.0.113.5", config: { tls: true } });
    expect(codes(w.cmd("AUTH TLS"))).toEqual([503]);
    w.login();
    expect(w.cmd("PASV")[0]).toMatch(/\(203,0,113,5,/);
    expect(w.cmd("STAT").join("\n")).toContain("protected by TLS");
    expect(w.cmd("STAT").join("\n")).toContain("data protection: Private");
    expect(codes(w.cmd("CCC"))).toEqual([534]);
    // PROT still follows PBSZ, and with data protection required PROT C is refused.
    const forced = new World({ implicitTls: true, config: { tls: true, requireTlsForData: true } });
    expect(codes(forced.cmd("PROT C"))).toEqual([503]);
    forced.cmd("PBSZ 0");
    expect(codes(forced.cmd("PROT C"))).toEqual([534]);
    forced.login();
    forced.cmd("PASV");
    forced.connectData();
    expect(codes(forced.cmd("LIST"))).toEqual([522]);
    expect(codes(forced.cmd("PROT P"))).toEqual([200]);
    expect(codes(forced.cmd("LIST"))).toEqual([150, 226]);
  });

  it("STAT shows the data connection state and an active target", () => {
    const w = new World();
    w.login();
    w.cmd("PORT 127,0,0,1,200,1");
    expect(w.cmd("STAT").join("\n")).toContain("Active mode to 127.0.0.1 port 51201");
    w.cmd("PASV");
    w.connectData();
    expect(w.cmd("STAT").join("\n")).toMatch(/Passive mode, port \d+, connected/);
    w.cmd("TYPE I");
    expect(w.cmd("STAT").join("\n")).toContain("BINARY");
  });

  it("a greeting may be several lines; an empty one falls back", () => {
    expect(new World({ config: { greeting: ["Welcome", "to pasv"] } }).replies).toEqual(["220-Welcome", "220 to pasv"]);
    expect(new World({ config: { greeting: [] } }).replies).toEqual(["220 Service ready."]);
  });
});

describe("drain (a graceful stop)", () => {
  it("ends a session with nothing running at once, with 421", () => {
    const w = new World({ files });
    w.login();
    w.cmd("PASV");
    w.post({ type: "drain", now: w.now });
    expect(w.replies.at(-1)).toBe("421 Server shutting down.");
    expect(w.closed).toBe(true);
    expect(w.actions.some((a) => a.type === "data.close")).toBe(true);
    const early = new World({ noOpen: true });
    early.post({ type: "drain", now: early.now });
    expect(early.replies).toEqual(["421 Server shutting down."]);
  });

  it("lets a running transfer finish, answers it, and then ends with 421; queued commands never run", () => {
    const w = new World({ files, holdTransfers: true, autoConnect: true });
    w.login();
    w.cmd("PASV");
    w.cmd("RETR big.iso");
    w.post({ type: "drain", now: w.now });
    expect(w.closed).toBe(false);
    // STAT and NOOP are still answered during the transfer; a new command waits and never runs.
    expect(codes(w.send("NOOP\r\nDELE big.iso\r\n"))).toEqual([200]);
    const running = w.running;
    if (running === null) throw new Error("no transfer running");
    w.post({ type: "transfer.done", now: w.now, transfer: running.transfer, bytes: 10 });
    expect(w.replies.slice(-2)).toEqual(["226 Transfer complete.", "421 Server shutting down."]);
    expect(w.closed).toBe(true);
    expect(w.actions.some((a) => a.type === "fs" && a.fs.op === "delete")).toBe(false);
  });

  it("a shutdown after the drain (its deadline) aborts the transfer with 426", () => {
    const w = new World({ files, holdTransfers: true, autoConnect: true });
    w.login();
    w.cmd("PASV");
    w.cmd("RETR big.iso");
    w.post({ type: "drain", now: w.now });
    w.post({ type: "shutdown", now: w.now });
    expect(codes(w.replies.slice(-2))).toEqual([426, 421]);
    expect(w.closed).toBe(true);
  });
});

describe("more edges", () => {
  it("shutdown before the greeting; input before the greeting waits for it", () => {
    const early = new World({ noOpen: true });
    early.send("NOOP\r\n");
    expect(early.replies).toEqual([]);
    early.post({ type: "open", now: early.now });
    expect(codes(early.replies)).toEqual([220, 200]);
    const w = new World({ noOpen: true });
    w.post({ type: "shutdown", now: w.now });
    expect(w.replies).toEqual(["421 Server shutting down."]);
    expect(w.closed).toBe(true);
  });

  it("discards plaintext that arrives during the TLS handshake", () => {
    const w = new World({ config: { tls: true }, holdTls: true });
    w.cmd("AUTH TLS");
    expect(w.send("USER injected\r\n")).toEqual([]);
    w.post({ type: "tls.ready", now: w.now });
    expect(codes(w.cmd("PASS x"))).toEqual([503]);
    expect(w.cmd("STAT").join("\n")).toContain("data protection: Clear");
  });

  it("edge arguments: HOST with a space, PBSZ without a number, EPSV 1 on IPv6, NLST of a root glob, STAT of a file", () => {
    const w = new World({ files, autoConnect: true });
    expect(codes(w.cmd("HOST a b"))).toEqual([501]);
    w.login();
    w.cmd("PASV");
    expect(codes(w.cmd("NLST /*.txt"))).toEqual([150, 226]);
    expect(w.received.at(-1)).toBe("/notes.txt\r\n");
    const lines = w.cmd("STAT big.iso");
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/ big\.iso$/);
    const t = new World({ config: { tls: true } });
    t.cmd("AUTH TLS");
    expect(codes(t.cmd("PBSZ"))).toEqual([501]);
    const v6 = new World({ clientAddress: "::1", serverAddress: "::1" });
    v6.login();
    expect(v6.cmd("EPSV 1")).toEqual(["522 Network protocol not supported, use (2)."]);
  });

  it("STAT with only spaces during a transfer is the status, not a path", () => {
    const w = new World({ files, holdTransfers: true, autoConnect: true });
    w.login();
    w.cmd("PASV");
    w.cmd("RETR big.iso");
    expect(codes(w.cmd("STAT   "))).toEqual([211]);
  });

  it("checkInvariants rejects impossible states", () => {
    const w = new World({ files });
    w.login();
    const good = w.state;
    const bad: (typeof good)[] = [
      { ...good, cwd: "/a/" },
      { ...good, cwd: "/a/../b" },
      { ...good, rest: -1 },
      { ...good, failedLogins: 99 },
      { ...good, queueBytes: 5 },
      { ...good, renameFrom: "/x", login: { kind: "none" } },
      { ...good, tls: "handshaking" },
      { ...good, op: { kind: "tls", protectData: false } },
      { ...good, op: { kind: "auth", request: 999, user: "x" } },
      { ...good, op: { kind: "listen", channel: 1, extended: false } },
      { ...good, phase: "closed", op: { kind: "login-delay", until: 0, user: "x" } },
      { ...good, login: { kind: "in", account: { user: "", anonymous: false, rights: [], hideDotFiles: false } } },
      { ...good, channel: { kind: "passive", id: 1, family: 4, port: null, socket: 3, expires: null } },
      {
        ...good,
        channel: { kind: "active", id: 1, family: 4, address: "127.0.0.1", port: 5000 },
        op: { kind: "transfer", phase: "await-connection", transfer: 2, channel: 1, plan: { command: "RETR", path: "/x", spec: { kind: "send-bytes", bytes: new Uint8Array() }, mark: "" }, started: 0, deadline: 1, statQueries: 0 },
      },
      {
        ...good,
        channel: { kind: "passive", id: 1, family: 4, port: 1, socket: null, expires: null },
        op: { kind: "transfer", phase: "connecting", transfer: 2, channel: 1, plan: { command: "RETR", path: "/x", spec: { kind: "send-bytes", bytes: new Uint8Array() }, mark: "" }, started: 0, deadline: 1, statQueries: 0 },
      },
      {
        ...good,
        channel: { kind: "passive", id: 1, family: 4, port: 1, socket: null, expires: null },
        op: { kind: "transfer", phase: "running", transfer: 2, channel: 1, plan: { command: "RETR", path: "/x", spec: { kind: "send-bytes", bytes: new Uint8Array() }, mark: "" }, started: 0, deadline: 1, statQueries: 0 },
      },
      { ...good, op: { kind: "transfer", phase: "running", transfer: 2, channel: 1, plan: { command: "RETR", path: "/x", spec: { kind: "send-bytes", bytes: new Uint8Array() }, mark: "" }, started: 0, deadline: null, statQueries: 0 } },
      {
        ...good,
        channel: { kind: "passive", id: 1, family: 4, port: 1, socket: null, expires: null },
        op: { kind: "transfer", phase: "await-connection", transfer: 2, channel: 1, plan: { command: "RETR", path: "/x", spec: { kind: "send-bytes", bytes: new Uint8Array() }, mark: "" }, started: 0, deadline: 1, statQueries: 1 },
      },
      { ...good, lastActivity: good.lastActivity + 1 },
      { ...good, deadlines: { ...good.deadlines, listener: 5 } },
    ];
    for (const state of bad) expect(() => checkInvariants(state), JSON.stringify(state.op)).toThrow(InvariantError);
    expect(() => checkInvariants(good)).not.toThrow();
  });

  it("nextDeadline: none once closed; idle, passive expiry and login deadlines otherwise", () => {
    const w = new World({ files, config: { timeouts: { login: 1_000, idle: 5_000, dataAccept: 2_000 } } });
    expect(nextDeadline(w.state)).toBe(w.now + 1_000);
    w.login();
    w.cmd("PASV");
    expect(nextDeadline(w.state)).toBe(w.now + 2_000);
    w.cmd("QUIT");
    expect(nextDeadline(w.state)).toBeNull();
    expect(step(w.state, { type: "timer", now: w.now }).actions).toEqual([]);
  });
});

describe("the deadline table", () => {
  const logs = (w: World): string[] => w.actions.flatMap((a) => (a.type === "log" ? [a.message] : []));

  it("a failed login's delay, then the login timeout, each fire once and say so", () => {
    const w = new World({ config: { timeouts: { failedLoginDelay: 2_000, login: 10_000 } } });
    w.cmd("USER alice");
    expect(w.cmd("PASS wrong")).toEqual([]);
    expect(w.state.deadlines).toMatchObject({ "login-delay": w.now + 2_000, login: null, idle: null });
    expect(w.advance(1_999)).toEqual([]);
    expect(w.advance(1)).toEqual(["530 Login incorrect."]);
    expect(logs(w)).toEqual(["deadline login-delay expired"]);
    expect(w.advance(0)).toEqual([]);
    expect(w.expire()).toEqual(["421 Login timeout."]);
    expect(logs(w)).toEqual(["deadline login-delay expired", "deadline login expired"]);
    expect(w.closed).toBe(true);
  });

  it("the idle deadline follows the last command and SITE IDLE, and pauses while a command is outstanding", () => {
    const w = new World({ files, holdTransfers: true, autoConnect: true });
    w.login();
    expect(w.state.deadlines.idle).toBe(w.now + 300_000);
    w.now += 1_000;
    w.cmd("SITE IDLE 60");
    expect(w.state.deadlines.idle).toBe(w.now + 60_000);
    w.cmd("PASV");
    const retrAt = w.now;
    w.cmd("RETR big.iso");
    expect(w.state.deadlines).toEqual({ "login-delay": null, "data-accept": null, "data-connect": null, listener: null, login: null, idle: null });
    expect(nextDeadline(w.state)).toBeNull();
    expect(w.advance(120_000)).toEqual([]);
    expect(w.finishTransfer()).toEqual(["226 Transfer complete."]);
    // Idle counts again from the transfer's end: a transfer longer than the idle timeout is not cut off after its 226.
    expect(retrAt + 60_000).toBeLessThan(w.now);
    expect(w.state.deadlines.idle).toBe(w.now + 60_000);
    expect(w.advance(59_000)).toEqual([]);
    expect(w.expire()).toEqual(["421 Timeout."]);
    expect(logs(w)).toEqual(["deadline idle expired"]);
  });

  it("data-accept: a transfer command whose client never connects gets 425", () => {
    const w = new World({ files, config: { timeouts: { dataAccept: 500 } } });
    w.login();
    w.cmd("PASV");
    expect(w.state.deadlines.listener).toBe(w.now + 500);
    w.now += 100;
    expect(codes(w.cmd("RETR big.iso"))).toEqual([150]);
    expect(w.state.deadlines).toMatchObject({ "data-accept": w.now + 500, listener: null, idle: null });
    expect(w.advance(499)).toEqual([]);
    expect(w.advance(1)).toEqual(["425 Failed to establish connection."]);
    expect(logs(w)).toEqual(["deadline data-accept expired"]);
    expect(w.state.channel.kind).toBe("none");
  });

  it("data-connect: a PORT target that never answers gets 425", () => {
    const w = new World({ files, holdConnect: true, config: { timeouts: { dataConnect: 700 } } });
    w.login();
    w.cmd("PORT 127,0,0,1,200,1");
    expect(codes(w.cmd("RETR big.iso"))).toEqual([150]);
    const channel = w.state.channel.kind === "active" ? w.state.channel.id : -1;
    expect(w.state.deadlines["data-connect"]).toBe(w.now + 700);
    expect(w.expire()).toEqual(["425 Failed to establish connection."]);
    expect(logs(w)).toEqual(["deadline data-connect expired"]);
    expect(w.actions).toContainEqual({ type: "data.close", channel });
    expect(w.state.op.kind).toBe("none");
  });

  it("several deadlines due at once expire in table order; a closing one ends the round", () => {
    const both = new World({ files, config: { timeouts: { dataAccept: 1_000, idle: 1_000 } } });
    both.login();
    both.cmd("PASV");
    const ch = both.currentPassive();
    expect(both.advance(1_000)).toEqual(["421 Timeout."]);
    expect(logs(both)).toEqual(["deadline listener expired", "deadline idle expired"]);
    expect(both.actions.filter((a) => a.type === "data.close")).toEqual([{ type: "data.close", channel: ch }]);

    const first = new World({ config: { timeouts: { login: 1_000, idle: 1_000 } } });
    expect(first.state.deadlines).toMatchObject({ login: first.now + 1_000, idle: first.now + 1_000 });
    expect(first.advance(5_000)).toEqual(["421 Login timeout."]);
    expect(logs(first)).toEqual(["deadline login expired"]);
  });

  it("an early or repeated timer does nothing", () => {
    const w = new World({ files, config: { timeouts: { dataAccept: 1_000 } } });
    w.login();
    w.cmd("PASV");
    const at = nextDeadline(w.state)!;
    const early = step(w.state, { type: "timer", now: at - 1 });
    expect(early.actions).toEqual([]);
    expect(early.state).toEqual(w.state);
    expect(w.advance(at - w.now)).toEqual([]);
    expect(logs(w)).toEqual(["deadline listener expired"]);
    const again = step(w.state, { type: "timer", now: w.now });
    expect(again.actions).toEqual([]);
    expect(again.state).toEqual(w.state);
  });

  it("REIN drops an open listener; a client vanishing before the data connection aborts nothing", () => {
    const w = new World({ files });
    w.login();
    w.cmd("PASV");
    const ch = w.currentPassive();
    expect(codes(w.cmd("REIN"))).toEqual([220]);
    expect(w.actions).toContainEqual({ type: "data.close", channel: ch });
    expect(w.state.channel.kind).toBe("none");
    expect(w.state.deadlines).toMatchObject({ listener: null, login: w.now + w.config.timeouts.login });
    w.login();
    w.cmd("PASV");
    expect(codes(w.cmd("RETR big.iso"))).toEqual([150]);
    w.post({ type: "control.eof", now: w.now });
    expect(w.closed).toBe(true);
    expect(w.actions.some((a) => a.type === "transfer.abort")).toBe(false);
    expect(w.state.deadlines["data-accept"]).toBeNull();
  });

  it("no deadlines before the greeting or after the close", () => {
    const w = new World({ noOpen: true });
    expect(nextDeadline(w.state)).toBeNull();
    expect(step(w.state, { type: "timer", now: w.now + 10_000_000 }).actions).toEqual([]);
    w.post({ type: "open", now: w.now });
    expect(nextDeadline(w.state)).toBe(w.now + w.config.timeouts.login);
  });
});

describe("notices for the operator's log", () => {
  type Notice = { kind: string } & Record<string, unknown>;
  const of = (w: World, kind: string): Notice[] => (w.notices as Notice[]).filter((n) => n.kind === kind);

  it("a file command's result, ok or not, with its path (RNTO with where it came from)", () => {
    const w = new World({ files });
    w.login();
    w.cmd("MKD /new");
    w.cmd("RNFR /new");
    w.cmd("RNTO /newer");
    w.cmd("DELE /missing");
    w.cmd("RMD /newer");
    expect(of(w, "file")).toEqual([
      { kind: "file", command: "MKD", path: "/new", from: null, ok: true, code: 257 },
      { kind: "file", command: "RNFR", path: "/new", from: null, ok: true, code: 350 },
      { kind: "file", command: "RNTO", path: "/newer", from: "/new", ok: true, code: 250 },
      { kind: "file", command: "DELE", path: "/missing", from: null, ok: false, code: 550 },
      { kind: "file", command: "RMD", path: "/newer", from: null, ok: true, code: 250 },
    ]);
    // The DELE's 550 is its file notice, not a refusal as well.
    expect(of(w, "refused")).toEqual([]);
  });

  it("a 4xx or 5xx answer is a refusal (verb, code, text), never with the argument; a failed PASS is not one", () => {
    const w = new World({ files });
    w.cmd("USER alice");
    w.cmd("PASS hunter2");
    w.expire();
    w.login();
    w.cmd("TYPE I");
    w.cmd("SIZE /nope");
    w.cmd("RETR /notes.txt");
    w.cmd("XYZZY secret-arg");
    expect(of(w, "refused")).toEqual([
      { kind: "refused", command: "SIZE", code: 550, text: "No such file or directory." },
      { kind: "refused", command: "RETR", code: 425, text: "Use PORT or PASV first." },
      { kind: "refused", command: "XYZZY", code: 500, text: "Unknown command." },
    ]);
    expect(JSON.stringify(w.notices)).not.toContain("hunter2");
    expect(JSON.stringify(w.notices)).not.toContain("secret-arg");
  });

  it("why the session ended", () => {
    const cases: [(w: World) => void, string][] = [
      [(w) => w.cmd("QUIT"), "quit"],
      [(w) => w.post({ type: "control.eof", now: w.now }), "client-closed"],
      [(w) => w.post({ type: "shutdown", now: w.now }), "shutdown"],
      [(w) => w.expire(), "login-timeout"],
    ];
    for (const [end, reason] of cases) {
      const w = new World();
      end(w);
      expect(w.closed).toBe(true);
      expect(of(w, "closed")).toEqual([{ kind: "closed", reason }]);
    }
    expect(of(new World({ refuse: "max-sessions" }), "closed")).toEqual([{ kind: "closed", reason: "refused" }]);
  });

  it("a transfer cut by the client's disappearance or a shutdown still gets its notice, with why", () => {
    for (const [end, reason] of [
      [{ type: "control.eof" }, "session-closed"],
      [{ type: "shutdown" }, "shutdown"],
    ] as const) {
      const w = new World({ files, holdTransfers: true });
      w.login();
      w.cmd("PASV");
      w.connectData();
      w.cmd("RETR /notes.txt");
      w.post({ ...end, now: w.now });
      const transfers = of(w, "transfer");
      expect(transfers).toHaveLength(1);
      expect(transfers[0]).toMatchObject({ outcome: "aborted", reason, command: "RETR", path: "/notes.txt" });
      expect(typeof transfers[0]?.transfer).toBe("number");
    }
  });

  it("a transfer's end says why: ABOR, a reset, a file error, no data connection", () => {
    const w = new World({ files, holdTransfers: true });
    w.login();
    w.cmd("PASV");
    w.connectData();
    w.cmd("RETR /notes.txt");
    w.cmd("ABOR");
    w.cmd("PASV");
    w.connectData();
    w.cmd("RETR /notes.txt");
    w.finishTransfer({ side: "data", reason: "reset" });
    w.cmd("PASV");
    w.connectData();
    w.cmd("RETR /notes.txt");
    w.finishTransfer({ side: "file", error: "io" });
    w.cmd("PASV");
    w.cmd("RETR /notes.txt");
    w.expire();
    expect(of(w, "transfer").map((t) => [t.outcome, t.reason, t.code])).toEqual([
      ["aborted", "abor", 426],
      ["failed", "data-reset", 426],
      ["failed", "file-io", 451],
      ["failed", "no-data-connection", 425],
    ]);
    expect(of(w, "refused")).toEqual([]);
  });
});
