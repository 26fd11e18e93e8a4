// Passive range exhaustion against the real server: sessions that PASV and never connect must not
// pin a small --pasv-ports range, neither many sessions of one address nor one session asking again.
import { readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { FtpControl, readAll } from "./ftp-control.js";
import { startServer, tempDir, waitForRecord, type RunningServer } from "./server.js";

/** The tiny range every test serves: small enough that one address could take all of it. */
const RANGE_SIZE = 4;
/** A second loopback host (Linux routes all of 127/8 to lo): a different client address. */
const OTHER_CLIENT = "127.0.0.2";

const files = tempDir("pasv-passive-");
writeFileSync(path.join(files.dir, "hello.txt"), "hello from the passive range");
const servers: RunningServer[] = [];
const clients: FtpControl[] = [];

afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

afterAll(async () => {
  for (const s of servers) await s.stop();
  files.remove();
});

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once("error", () => resolve(false));
    probe.listen({ port, host: "127.0.0.1" }, () => probe.close(() => resolve(true)));
  });
}

/** A range below the ephemeral ports with nothing listening on it yet (other suites run in parallel). */
async function freeRange(): Promise<{ min: number; max: number }> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const min = 20_000 + Math.floor(Math.random() * 12_000);
    const ports = Array.from({ length: RANGE_SIZE }, (_, i) => min + i);
    if ((await Promise.all(ports.map(canListen))).every(Boolean)) return { min, max: min + RANGE_SIZE - 1 };
  }
  throw new Error("no free passive range found");
}

/** Ports of the range in LISTEN state right now, from the kernel's own tables (no connect: a
 * connection from the client's address would be taken as its data connection). */
function listening(range: { min: number; max: number }): number[] {
  const ports = new Set<number>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[3] !== "0A") continue;
      const port = Number.parseInt(fields[1]?.split(":")[1] ?? "", 16);
      if (port >= range.min && port <= range.max) ports.add(port);
    }
  }
  return [...ports].sort();
}

/** The listening ports once they settle below `most` (a closed listener leaves the table at once;
 * the short grace only absorbs scheduling), or what is still listening after it. */
async function listeningAtMost(range: { min: number; max: number }, most: number): Promise<number[]> {
  const until = Date.now() + 500;
  for (;;) {
    const now = listening(range);
    if (now.length <= most || Date.now() >= until) return now;
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function serve(flags: readonly string[] = []): Promise<{ server: RunningServer; range: { min: number; max: number } }> {
  const range = await freeRange();
  const server = await startServer(files.dir, ["--pasv-ports", `${range.min}-${range.max}`, ...flags]);
  servers.push(server);
  return { server, range };
}

async function session(server: RunningServer, from?: string): Promise<FtpControl> {
  const c = await FtpControl.connect(server.port, "127.0.0.1", from);
  clients.push(c);
  await c.login();
  return c;
}

describe("passive ports on a tiny range", () => {
  it("one address with many sessions PASVing and never connecting cannot starve another address", async () => {
    const { server, range } = await serve();
    // Unset, the cap is a quarter of the range: one port of the four for 127.0.0.1.
    const hoarders = await Promise.all(Array.from({ length: RANGE_SIZE + 1 }, () => session(server)));
    const answers: number[] = [];
    for (let round = 0; round < 3; round++) {
      for (const c of hoarders) answers.push((await c.cmd(round % 2 === 0 ? "PASV" : "EPSV")).code);
    }
    expect(answers.filter((code) => code === 227 || code === 229).length).toBeGreaterThan(0);
    expect(answers.every((code) => code === 227 || code === 229 || code === 425)).toBe(true);
    expect(await listeningAtMost(range, 1)).toHaveLength(1);
    // Refused sessions are answered, not hung or closed.
    for (const c of hoarders) expect((await c.cmd("NOOP")).code).toBe(200);
    expect(await waitForRecord(server, { event: "message", level: "warn", message: /^passive listen failed: per-address cap reached/ })).not.toBeNull();
    // The 425 is logged as a refusal of the command too, with the client's address.
    expect(await waitForRecord(server, { event: "refused", code: 425, client: "127.0.0.1" })).not.toBeNull();

    const other = await session(server, OTHER_CLIENT);
    expect((await other.cmd("TYPE I")).code).toBe(200);
    const port = await other.pasv();
    expect(port).toBeGreaterThanOrEqual(range.min);
    expect(port).toBeLessThanOrEqual(range.max);
    const data = readAll(port, OTHER_CLIENT);
    expect((await other.cmd("RETR hello.txt")).code).toBe(150);
    expect((await data).toString()).toBe("hello from the passive range");
    expect((await other.reply()).code).toBe(226);
  });

  it("PASV 20 times in one session holds one port; a refused PORT or EPRT frees it at once", async () => {
    const { server, range } = await serve(["--max-passive-per-ip", "2"]);
    const a = await session(server);
    for (let i = 0; i < 20; i++) {
      if (i % 2 === 0) await a.pasv();
      else await a.epsv();
      expect(await listeningAtMost(range, 1), `after set-up ${i + 1}`).toHaveLength(1);
    }
    // The next session of the same address still gets a port at once.
    const b = await session(server);
    await b.pasv();
    expect(await listeningAtMost(range, 2)).toHaveLength(2);
    // A refused set-up request gives the old listener up too (a privileged port, a foreign address).
    expect((await a.cmd("PORT 127,0,0,1,0,80")).code).toBe(504);
    expect(await listeningAtMost(range, 1)).toHaveLength(1);
    await a.pasv();
    expect((await a.cmd("EPRT |1|192.0.2.1|5000|")).code).toBe(504);
    expect(await listeningAtMost(range, 1)).toHaveLength(1);
    // --max-passive-per-ip 2: a third listener of 127.0.0.1 is refused though the range has room.
    const c = await session(server);
    await c.pasv();
    const d = await session(server);
    expect((await d.cmd("PASV")).code).toBe(425);
    expect((await d.cmd("EPSV")).code).toBe(425);
    expect(await listeningAtMost(range, 2)).toHaveLength(2);
    const other = await session(server, OTHER_CLIENT);
    await other.pasv();
    // B's session ends: its port and its slot are free again.
    b.close();
    expect(await listeningAtMost(range, 2)).toHaveLength(2);
    await d.pasv();
  });
});
