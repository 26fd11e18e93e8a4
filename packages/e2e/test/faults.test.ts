// A hostile server on demand (@pasv/testing): each fault class against real clients (basic-ftp
// in-process against createTestServer, curl against `pasv --faults`), asserting that the client
// sees the fault and never reports success with fewer bytes; and that a seed replays its faults.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Writable } from "node:stream";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client } from "basic-ftp";
import { createTestServer, type FaultRecord, type TestServer, type TestServerOptions } from "@pasv/testing";
import { MemoryFs } from "@pasv/node";
import { eventually, haveTool, logRecords, startServer, tempDir, waitForRecord, type RunningServer } from "./server.js";

const run = promisify(execFile);
const FILE = randomBytes(300_000);
const USER = { user: "tester", password: "pw" };

function memory(): MemoryFs {
  return new MemoryFs({ "file.bin": FILE, "small.txt": "hello\n" });
}

async function withServer<T>(options: TestServerOptions, body: (server: TestServer, client: Client) => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const server = await createTestServer({ vfs: memory(), users: [{ ...USER, write: true }], core: { timeouts: { dataAccept: 2_000 } }, ...options });
  const client = new Client(timeoutMs);
  try {
    await client.access({ host: server.host, port: server.port, user: USER.user, password: USER.password });
    return await body(server, client);
  } finally {
    client.close();
    await server.close();
  }
}

/** Downloads into memory: the bytes basic-ftp delivered, and its verdict. */
async function download(client: Client, file: string): Promise<{ bytes: Buffer; error: Error | null }> {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk);
      done();
    },
  });
  try {
    await client.downloadTo(sink, file);
    return { bytes: Buffer.concat(chunks), error: null };
  } catch (error) {
    return { bytes: Buffer.concat(chunks), error: error as Error };
  }
}

const names = (log: readonly FaultRecord[]): string[] => [...new Set(log.map((r) => r.fault))];

describe("basic-ftp against createTestServer", () => {
  it("without a plan: nothing injected, the file whole", async () => {
    await withServer({}, async (server, client) => {
      const got = await download(client, "file.bin");
      expect(got.error).toBeNull();
      expect(got.bytes.equals(FILE)).toBe(true);
      expect(server.faults).toEqual([]);
    });
  });

  it("data-reset: the download fails, never a success with fewer bytes", async () => {
    await withServer({ faults: "data-reset=RETR", seed: 1 }, async (server, client) => {
      const got = await download(client, "file.bin");
      expect(got.error?.message).toMatch(/426|ECONNRESET|closed|reset/i);
      expect(got.bytes.length).toBeLessThan(FILE.length);
      expect(names(server.faults)).toEqual(["data-reset"]);
    });
  });

  it("data-fin: an early FIN mid-file, then 426: the download fails with fewer bytes", async () => {
    await withServer({ faults: "data-fin-after=100K", seed: 1 }, async (server, client) => {
      const got = await download(client, "file.bin");
      expect(names(server.faults)).toEqual(["data-fin"]);
      expect(got.bytes.length).toBe(100 * 1024);
      expect(got.error?.message).toMatch(/426/);
    });
  });

  it("reply-split: basic-ftp loses a reply cut inside its first line (a finding: seed 5 replays it)", async () => {
    // basic-ftp 6.2.6 parses each chunk as whole lines and drops an unfinished single line
    // ("22" of "220 ..."), so a greeting split across packets is never seen: the login times out.
    const server = await createTestServer({ vfs: memory(), faults: "reply-split=1", seed: 5 });
    const client = new Client(1_000);
    try {
      await expect(client.access({ host: server.host, port: server.port })).rejects.toThrow(/timeout/i);
      expect(names(server.faults)).toEqual(["reply-split"]);
      expect(server.faults[0]?.detail).toBe("wrote the 220 reply in 6 pieces, cut at bytes 2 10 11 14 19");
    } finally {
      client.close();
      await server.close();
    }
  });

  it("reply-delay: every reply late, the session works and takes that long", async () => {
    const started = Date.now();
    await withServer({ faults: "reply-delay=1,delay-ms=100", seed: 5 }, async (server, client) => {
      await client.send("NOOP");
      await client.send("NOOP");
      expect(server.faults.filter((r) => r.fault === "reply-delay").length).toBeGreaterThanOrEqual(2);
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(4 * 100);
  });

  it("reply-stall: a stalled reply makes the client time out", async () => {
    await withServer(
      { faults: "reply-stall=PWD,stall-ms=5s", seed: 5 },
      async (server, client) => {
        await expect(client.pwd()).rejects.toThrow(/timeout/i);
        expect(names(server.faults)).toEqual(["reply-stall"]);
      },
      1_000,
    );
  });

  it("close-421: a 421 as RETR arrives, and the download fails", async () => {
    await withServer({ faults: "close-421=RETR", seed: 5 }, async (server, client) => {
      const got = await download(client, "file.bin");
      expect(got.error).not.toBeNull();
      expect(got.bytes.length).toBeLessThan(FILE.length);
      expect(names(server.faults)).toEqual(["close-421"]);
    });
  });

  it("data-trickle: the download comes in small pieces, whole", async () => {
    await withServer({ faults: "data-trickle=1,delay-ms=10", seed: 5 }, async (server, client) => {
      const got = await download(client, "small.txt");
      expect(got.error).toBeNull();
      expect(got.bytes.toString()).toBe("hello\n");
      const list = await client.list();
      expect(list.length).toBe(2);
      expect(names(server.faults)).toEqual(["data-trickle"]);
    });
  });

  it("pasv-refuse: the passive data connection is cut, the download fails", async () => {
    await withServer({ faults: "pasv-refuse=1", seed: 5 }, async (server, client) => {
      const got = await download(client, "file.bin");
      expect(got.error).not.toBeNull();
      expect(got.bytes.length).toBe(0);
      expect(names(server.faults)).toEqual(["pasv-refuse"]);
    });
  });

  it("pasv-delay: a late accept, the download whole", async () => {
    await withServer({ faults: "pasv-delay=1,delay-ms=300", seed: 5 }, async (server, client) => {
      const got = await download(client, "file.bin");
      expect(got.error).toBeNull();
      expect(got.bytes.equals(FILE)).toBe(true);
      expect(names(server.faults)).toEqual(["pasv-delay"]);
    });
  });

  it("enospc: the upload fails with 452/552", async () => {
    const vfs = memory();
    await withServer({ vfs, faults: "enospc-after=64K", seed: 5 }, async (server, client) => {
      const { Readable } = await import("node:stream");
      // The core answers 452 and cuts the data connection; basic-ftp reports whichever it sees first.
      await expect(client.uploadFrom(Readable.from([FILE]), "up.bin")).rejects.toThrow(/45[12]|55[12]|ECONNRESET/);
      expect(names(server.faults)).toEqual(["enospc"]);
      // Atomic uploads: nothing half-written is left under the name.
      await expect(vfs.stat("/up.bin")).rejects.toThrow();
    });
  });

  it("eio: the download fails with 451, never a success with fewer bytes", async () => {
    await withServer({ faults: "eio-after=50K", seed: 5 }, async (server, client) => {
      const got = await download(client, "file.bin");
      expect(got.error?.message).toMatch(/451/);
      expect(got.bytes.length).toBeLessThan(FILE.length);
      expect(names(server.faults)).toEqual(["eio"]);
    });
  });

  it("vanish: the file SIZE just saw is gone at RETR (550)", async () => {
    await withServer({ faults: "vanish=SIZE", seed: 5 }, async (server, client) => {
      expect(await client.size("file.bin")).toBe(FILE.length);
      const got = await download(client, "file.bin");
      expect(got.error?.message).toMatch(/550/);
      expect(names(server.faults)).toEqual(["vanish"]);
    });
  });

  it("slow: every file operation late, everything works", async () => {
    const started = Date.now();
    await withServer({ faults: "slow=1,delay-ms=100", seed: 5 }, async (server, client) => {
      expect(await client.size("small.txt")).toBe(6);
      const got = await download(client, "small.txt");
      expect(got.bytes.toString()).toBe("hello\n");
      expect(server.faults.length).toBeGreaterThanOrEqual(2);
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
  });

  it("multiline=indented: FEAT with every middle line indented, which basic-ftp reads", async () => {
    await withServer({ faults: "multiline=indented" }, async (_server, client) => {
      const features = await client.features();
      expect(features.has("UTF8")).toBe(true);
      expect(features.has("MLST")).toBe(true);
      const stat = await client.send("STAT");
      expect(stat.message.split("\n").slice(1, -1).every((line) => line.startsWith(" "))).toBe(true);
    });
  });

  it("multiline=dashed: every middle line as 211-text; basic-ftp then loses FEAT's features", async () => {
    // RFC 959 allows "ddd-" on every line but the last; RFC 2389 asks FEAT's feature lines to
    // start with a space, so this FEAT is off that RFC on purpose. basic-ftp 6.2.6 keys each line by
    // its first word and keeps one entry ("211-").
    await withServer({ faults: "multiline=dashed" }, async (_server, client) => {
      const feat = await client.send("FEAT");
      const middle = feat.message.split("\n").slice(1, -1);
      expect(middle.length).toBeGreaterThan(5);
      expect(middle.every((line) => line.startsWith("211-"))).toBe(true);
      expect([...(await client.features()).keys()]).toEqual(["211-"]);
    });
  });

  it("the same seed and the same client script give the same fault log twice", async () => {
    const script = async (seed: number): Promise<FaultRecord[]> =>
      withServer({ faults: "reply-delay=0.3,data-reset=0.5,data-trickle=0.3,delay-ms=10,eio=0.3,slow=0.2", seed }, async (server, client) => {
        for (let i = 0; i < 4; i++) {
          await download(client, "file.bin").catch(() => undefined);
          // A failed transfer may leave basic-ftp's connection unusable: start again.
          if (client.closed) await client.access({ host: server.host, port: server.port, user: USER.user, password: USER.password });
          await client.send("NOOP").catch(() => undefined);
        }
        return [...server.faults];
      });
    const first = await script(42);
    const second = await script(42);
    expect(first.length).toBeGreaterThan(3);
    expect(second).toEqual(first);
    const other = await script(43);
    expect(other).not.toEqual(first);
  });
});

const haveCurl = haveTool("curl", () => existsSync("/usr/bin/curl"));

describe.runIf(haveCurl)("curl against pasv --faults", () => {
  const root = tempDir("pasv-faults-");
  const work = tempDir("pasv-faults-work-");
  beforeAll(() => {
    writeFileSync(path.join(root.dir, "file.bin"), FILE);
  });
  afterAll(() => {
    root.remove();
    work.remove();
  });

  async function curl(args: readonly string[]): Promise<{ code: number; stderr: string }> {
    try {
      const { stderr } = await run("curl", ["-sS", "--max-time", "20", ...args], { encoding: "utf8" });
      return { code: 0, stderr };
    } catch (error) {
      const e = error as { code?: number; stderr?: string };
      return { code: typeof e.code === "number" ? e.code : -1, stderr: e.stderr ?? "" };
    }
  }

  async function withCli<T>(plan: string, seed: number, body: (server: RunningServer) => Promise<T>): Promise<T> {
    const server = await startServer(root.dir, ["--faults", plan, "--seed", String(seed), "-w", "-u", `${USER.user}:${USER.password}`, "--log-format", "json"]);
    try {
      return await body(server);
    } finally {
      await server.stop();
    }
  }

  const url = (server: RunningServer, file: string): string => `ftp://${USER.user}:${USER.password}@127.0.0.1:${server.port}/${file}`;

  it("data-reset: curl fails (exit 18 or 56), and the fault record names the replay", async () => {
    await withCli("data-reset=RETR", 9, async (server) => {
      const out = path.join(work.dir, "reset.bin");
      const r = await curl(["-o", out, url(server, "file.bin")]);
      expect([18, 56]).toContain(r.code);
      const record = await waitForRecord(server, { event: "fault", fault: "data-reset" });
      expect(record?.replay).toBe(`pasv --faults data-reset=RETR --seed 9 ${root.dir}`);
      expect(record?.session).toBe(1);
    });
  });

  it("data-fin: curl sees the short file against the 150's size (exit 18)", async () => {
    await withCli("data-fin-after=100K", 9, async (server) => {
      const r = await curl(["-o", path.join(work.dir, "fin.bin"), url(server, "file.bin")]);
      expect(r.code).toBe(18);
      expect(await waitForRecord(server, { event: "fault", fault: "data-fin" })).not.toBeNull();
    });
  });

  it("reply-split: curl downloads the file whole", async () => {
    await withCli("reply-split=1", 9, async (server) => {
      const out = path.join(work.dir, "split.bin");
      const r = await curl(["-o", out, url(server, "file.bin")]);
      expect(r.code).toBe(0);
      expect(readFileSync(out).equals(FILE)).toBe(true);
      expect((await eventually(() => logRecords(server).filter((x) => x.event === "fault"), (f) => f.length > 3)).length).toBeGreaterThan(3);
    });
  });

  it("close-421: curl fails", async () => {
    await withCli("close-421=RETR", 9, async (server) => {
      const r = await curl(["-o", path.join(work.dir, "421.bin"), url(server, "file.bin")]);
      expect(r.code).not.toBe(0);
      expect(await waitForRecord(server, { event: "fault", fault: "close-421" })).not.toBeNull();
    });
  });

  it("connect-refuse: curl's active-mode download fails with 425", async () => {
    await withCli("connect-refuse=1", 9, async (server) => {
      const r = await curl(["-P", "127.0.0.1", "-o", path.join(work.dir, "active.bin"), url(server, "file.bin")]);
      expect(r.code).not.toBe(0);
      expect(await waitForRecord(server, { event: "fault", fault: "connect-refuse" })).not.toBeNull();
    });
  });

  it("enospc: curl's upload fails (exit 25), and the root keeps no file", async () => {
    await withCli("enospc-after=64K", 9, async (server) => {
      const src = path.join(work.dir, "up-src.bin");
      writeFileSync(src, FILE);
      const r = await curl(["-T", src, url(server, "up.bin")]);
      expect(r.code).not.toBe(0);
      expect(existsSync(path.join(root.dir, "up.bin"))).toBe(false);
      expect(await waitForRecord(server, { event: "fault", fault: "enospc" })).not.toBeNull();
    });
  });

  it("multiline=dashed: curl and the server agree on every reply", async () => {
    await withCli("multiline=dashed", 9, async (server) => {
      const out = path.join(work.dir, "ml.bin");
      const r = await curl(["-o", out, url(server, "file.bin")]);
      expect(r.code).toBe(0);
      expect(readFileSync(out).equals(FILE)).toBe(true);
    });
  });

  it("the same seed and the same curl runs give the same fault records twice", async () => {
    const faults = async (): Promise<unknown[]> =>
      withCli("data-reset=0.5,reply-split=0.5,data-trickle=0.3,delay-ms=10", 11, async (server) => {
        for (let i = 0; i < 3; i++) await curl(["-o", path.join(work.dir, "det.bin"), url(server, "file.bin")]);
        await waitForRecord(server, { event: "session.close", session: 3 });
        return logRecords(server)
          .filter((r) => r.event === "fault")
          .map((r) => [r.seq, r.fault, r.session, r.detail]);
      });
    const first = await faults();
    expect(first.length).toBeGreaterThan(3);
    expect(await faults()).toEqual(first);
  });

  it("eio: curl's download fails, and at exit the summary names the replay", async () => {
    const server = await startServer(root.dir, ["--faults", "eio-after=10K", "--seed", "3", "--log-format", "json"]);
    const r = await curl(["-o", path.join(work.dir, "eio.bin"), `ftp://127.0.0.1:${server.port}/file.bin`]);
    expect(r.code).not.toBe(0);
    expect(await waitForRecord(server, { event: "fault", fault: "eio" })).not.toBeNull();
    process.kill(server.pid, "SIGTERM");
    expect(await server.exited(10_000)).toBe(0);
    const summary = logRecords(server).find((x) => x.event === "message" && typeof x.message === "string" && x.message.startsWith("faults:"));
    expect(summary?.message).toBe(`faults: 1 injected (eio 1); replay: pasv --faults eio-after=10K --seed 3 ${root.dir}`);
    await server.stop();
  });
});
