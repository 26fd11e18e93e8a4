import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import net from "node:net";
import tls from "node:tls";
import { X509Certificate } from "node:crypto";
import path from "node:path";
import { Writable } from "node:stream";
import { Client } from "basic-ftp";
import { feedReplies, initialReplyReader, parse229, PRESETS, type ParsedReply } from "@pasv/core";
import { afterEach, describe, expect, it } from "vitest";
import { MemoryFs } from "./memory-fs.js";
import { createServer, type AuthProvider, type FtpServer, type ServerEvents, type Vfs } from "./index.js";

const servers: FtpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(options: Parameters<typeof createServer>[0], host = "127.0.0.1"): Promise<{ server: FtpServer; port: number }> {
  const server = createServer(options);
  servers.push(server);
  const { port } = await server.listen(0, host);
  return { server, port };
}

/** Minimal raw control client (the e2e package has the full one). */
async function control(port: number, host = "127.0.0.1"): Promise<{ send(line: string): Promise<ParsedReply>; next(): Promise<ParsedReply>; close(): void }> {
  const socket = net.connect({ port, host });
  let reader = initialReplyReader;
  const replies: ParsedReply[] = [];
  let wake: (() => void) | null = null;
  socket.on("data", (chunk: Buffer) => {
    const fed = feedReplies(reader, chunk);
    reader = fed.reader;
    replies.push(...fed.replies);
    wake?.();
  });
  const next = async (): Promise<ParsedReply> => {
    while (replies.length === 0) await new Promise<void>((r) => (wake = r));
    return replies.shift()!;
  };
  await new Promise((r) => socket.once("connect", r));
  return {
    send: (line) => {
      socket.write(`${line}\r\n`);
      return next();
    },
    next,
    close: () => socket.destroy(),
  };
}

describe("createServer", () => {
  it("takes an AuthProvider typed from @pasv/node alone (no reach into @pasv/driver)", async () => {
    const vfs: Vfs = new MemoryFs({ "a.txt": "A" });
    const auth: AuthProvider = {
      authenticate: ({ user, password }) => Promise.resolve(user === "k" && password === "v" ? { account: { user, anonymous: false, rights: PRESETS["read-only"], hideDotFiles: false }, vfs } : null),
    };
    const { port } = await start({ auth });
    const c = await control(port);
    expect((await c.next()).code).toBe(220);
    await c.send("USER k");
    expect((await c.send("PASS v")).code).toBe(230);
    expect((await c.send("TYPE I")).code).toBe(200);
    expect((await c.send("SIZE /a.txt")).code).toBe(213);
    c.close();
  });

  it("serves a MemoryFs and emits typed events for sessions, logins and transfers", async () => {
    const vfs = new MemoryFs({ "hello.txt": "hello", pub: {} });
    const { server, port } = await start({ vfs, users: [{ user: "alice", password: "pw", write: true }] });
    const events: string[] = [];
    const transfers: ServerEvents["transfer"][] = [];
    server.on("session-open", () => events.push("open"));
    server.on("session-close", () => events.push("close"));
    server.on("login", (e) => events.push(`login ${e.user}`));
    server.on("login-failed", (e) => events.push(`failed ${e.user}`));
    server.on("transfer", (e) => transfers.push(e));
    const client = new Client(10_000);
    await client.access({ host: "127.0.0.1", port, user: "alice", password: "pw" });
    expect(server.sessionCount).toBe(1);
    const chunks: Buffer[] = [];
    const sink = new Writable({
      write: (c: Buffer, _e, cb) => {
        chunks.push(c);
        cb();
      },
    });
    await client.downloadTo(sink, "/hello.txt");
    expect(Buffer.concat(chunks).toString()).toBe("hello");
    const { Readable } = await import("node:stream");
    await client.uploadFrom(Readable.from([Buffer.from("uploaded")]), "/pub/up.txt");
    expect(new TextDecoder().decode(vfs.readFile("/pub/up.txt"))).toBe("uploaded");
    client.close();
    const bad = new Client(10_000);
    await expect(bad.access({ host: "127.0.0.1", port, user: "alice", password: "wrong" })).rejects.toThrow();
    bad.close();
    await new Promise((r) => setTimeout(r, 100));
    // The first client's close may land after the second connects: compare as a multiset.
    expect([...events].sort()).toEqual(["close", "close", "failed alice", "login alice", "open", "open"]);
    expect(events.indexOf("login alice")).toBeGreaterThan(events.indexOf("open"));
    const done = transfers.filter((t) => t.command !== "MLSD" && t.command !== "LIST");
    expect(done.map((t) => [t.command, t.outcome, t.path, t.bytes, t.user])).toEqual([
      ["RETR", "completed", "/hello.txt", 5, "alice"],
      ["STOR", "completed", "/pub/up.txt", 8, "alice"],
    ]);
    expect(done.every((t) => t.durationMs >= 0 && t.code === 226)).toBe(true);
  });

  it("caps sessions per address with a 421 greeting", async () => {
    const { port } = await start({ vfs: new MemoryFs(), maxSessionsPerIp: 1 });
    const first = await control(port);
    expect((await first.next()).code).toBe(220);
    const second = await control(port);
    expect((await second.next()).code).toBe(421);
    first.close();
    second.close();
  });

  it("speaks EPSV and EPRT over IPv6", async () => {
    let v6 = true;
    let port = 0;
    try {
      port = (await start({ vfs: new MemoryFs({ "f.txt": "six" }) }, "::1")).port;
    } catch {
      v6 = false;
    }
    if (!v6) {
      console.warn("SKIPPING IPv6 test: ::1 is not available here");
      return;
    }
    const c = await control(port, "::1");
    expect((await c.next()).code).toBe(220);
    await c.send("USER anonymous");
    expect((await c.send("PASS x")).code).toBe(230);
    expect((await c.send("PASV")).code).toBe(425);
    const epsv = await c.send("EPSV");
    const dataPort = parse229(epsv.lines[0] ?? "");
    expect(dataPort).not.toBeNull();
    const data = net.connect({ port: dataPort!, host: "::1" });
    const got: Buffer[] = [];
    data.on("data", (b: Buffer) => got.push(b));
    const ended = new Promise((r) => data.on("end", r));
    expect((await c.send("RETR f.txt")).code).toBe(150);
    expect((await c.next()).code).toBe(226);
    await ended;
    expect(Buffer.concat(got).toString()).toBe("six");
    const listener = net.createServer();
    await new Promise<void>((r) => listener.listen(0, "::1", r));
    const lport = (listener.address() as net.AddressInfo).port;
    const received = new Promise<string>((resolve) => listener.on("connection", (s) => {
      const parts: Buffer[] = [];
      s.on("data", (b: Buffer) => parts.push(b));
      s.on("end", () => resolve(Buffer.concat(parts).toString()));
    }));
    expect((await c.send(`EPRT |2|::1|${lport}|`)).code).toBe(200);
    expect((await c.send("RETR f.txt")).code).toBe(150);
    expect((await c.next()).code).toBe(226);
    expect(await received).toBe("six");
    listener.close();
    c.close();
  });

  it("speaks explicit FTPS (AUTH, PBSZ, PROT P) with curl, control and data protected", async () => {
    const fixtures = path.join(import.meta.dirname, "../test-fixtures");
    const vfs = new MemoryFs({ "secret.txt": "over tls" });
    const { port } = await start({ vfs, users: [{ user: "u", password: "p", write: true }], tls: { key: readFileSync(path.join(fixtures, "key.pem")), cert: readFileSync(path.join(fixtures, "cert.pem")) } });
    const curl = (args: string[]): Promise<string> =>
      new Promise((resolve, reject) => {
        execFile("curl", ["-sS", "--max-time", "20", "--ssl-reqd", "-k", ...args], (error, stdout) => {
          if (error === null) resolve(stdout);
          else reject(new Error(`curl failed: ${error.message}`, { cause: error }));
        });
      });
    try {
      expect(await curl([`ftp://u:p@127.0.0.1:${port}/secret.txt`])).toBe("over tls");
    } catch (error) {
      if (process.env.CI !== "true" && String(error).includes("ENOENT")) {
        console.warn("SKIPPING FTPS test: curl is not installed");
        return;
      }
      throw error;
    }
    // Plaintext clients are still served; AUTH is offered in FEAT.
    const c = await control(port);
    expect((await c.next()).code).toBe(220);
    const feat = await c.send("FEAT");
    expect(feat.lines).toContain(" AUTH TLS");
    c.close();
  });

  it("reload() with a new key and certificate: new handshakes present it, a TLS session opened before keeps its own and works; bad PEM changes nothing", async () => {
    const fixtures = path.join(import.meta.dirname, "../test-fixtures");
    const read = (name: string): Buffer => readFileSync(path.join(fixtures, name));
    const fingerprint = (cert: Buffer): string => new X509Certificate(cert).fingerprint256;
    const options = { vfs: new MemoryFs({ "a.txt": "A" }), tls: { key: read("key.pem"), cert: read("cert.pem") } };
    const { server, port } = await start(options);
    /** AUTH TLS on a fresh control connection: the protected socket and the certificate it was shown. */
    const protectedControl = async (): Promise<{ socket: tls.TLSSocket; seen: string; send(line: string): Promise<string> }> => {
      const raw = net.connect({ port, host: "127.0.0.1" });
      const line = (from: net.Socket): Promise<string> => new Promise((resolve) => from.once("data", (b: Buffer) => resolve(b.toString())));
      expect(await line(raw)).toMatch(/^220 /);
      raw.write("AUTH TLS\r\n");
      expect(await line(raw)).toMatch(/^234 /);
      const socket = tls.connect({ socket: raw, rejectUnauthorized: false });
      await new Promise((r) => socket.once("secureConnect", r));
      return {
        socket,
        seen: socket.getPeerX509Certificate()?.fingerprint256 ?? "",
        send: (cmd) => {
          socket.write(`${cmd}\r\n`);
          return line(socket);
        },
      };
    };
    const before = await protectedControl();
    expect(before.seen).toBe(fingerprint(read("cert.pem")));
    await expect(server.reload({ ...options, tls: { key: read("key2.pem"), cert: Buffer.from("not a certificate") } })).rejects.toThrow(/^the TLS certificate is not usable PEM/);
    await expect(server.reload({ ...options, tls: { key: read("key2.pem"), cert: read("cert.pem") } })).rejects.toThrow("the TLS key does not belong to the certificate");
    expect(() => createServer({ tls: { key: read("key.pem"), cert: read("cert2.pem") } })).toThrow("the TLS key does not belong to the certificate");
    expect((await protectedControl()).seen).toBe(fingerprint(read("cert.pem")));
    expect(await server.reload({ ...options, tls: { key: read("key2.pem"), cert: read("cert2.pem") } })).toEqual({ changed: ["tls"], needRestart: [] });
    const after = await protectedControl();
    expect(after.seen).toBe(fingerprint(read("cert2.pem")));
    expect(after.seen).not.toBe(before.seen);
    // The session from before the reload still talks over its own TLS connection.
    expect(await before.send("NOOP")).toMatch(/^200 /);
    before.socket.destroy();
    after.socket.destroy();
  });

  it("close() ends live sessions with 421 and resolves", async () => {
    const { server, port } = await start({ vfs: new MemoryFs() });
    const c = await control(port);
    expect((await c.next()).code).toBe(220);
    const closing = server.close();
    expect((await c.next()).code).toBe(421);
    await closing;
    expect(server.sessionCount).toBe(0);
    servers.splice(servers.indexOf(server), 1);
  });
});
