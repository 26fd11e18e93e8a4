// Scale-out behind HAProxy (issue 15): two stateless pasv nodes over one S3 bucket (s3rver), each with its
// own passive range, HAProxy in TCP mode with send-proxy-v2 in front of the control port and both
// ranges. The client is bound to 127.0.0.5 so its own address can be told from the balancer's.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse227 } from "@pasv/core";
import { FtpControl } from "./ftp-control.js";
import { haproxyConfig, haveHaproxy, startHaproxy, type RunningHaproxy, type ScaleOut } from "./haproxy.js";
import { eventually, haveTool, logRecords, ROOT, startServer, tempDir, waitForRecord, type RunningServer, type StartOptions } from "./server.js";
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { s3Client } from "@pasv/s3";
import { startS3rver, useS3rverCredentials, type S3rverInstance } from "../../s3/src/s3rver.test-helper.js";

const BALANCER = "127.0.0.1";
const CLIENT = "127.0.0.5";
const INTRUDER = "127.0.0.7";
const NODE_ADDRESSES = ["127.0.0.2", "127.0.0.3"] as const;
const RANGE = 8;

/** The store every node serves: one bucket on s3rver (a real S3 HTTP API, in its own process). */
const BUCKET = "scale-out";
let s3: S3rverInstance;
let bucket: S3Client;
const scratch = tempDir("pasv-scale-out-");

/** How node `i` is started: the shared bucket, its own listen address and passive range, and PROXY
 * protocol from the balancer only. The first node names the balancer in PASV replies with
 * `--public-address`; the second leaves it out and names the address the header says the client
 * reached, which is the balancer's too. */
function nodeFlags(i: number, pasv: { min: number; max: number }): { dir: string; flags: string[]; options: StartOptions } {
  return {
    dir: "",
    flags: ["--s3-bucket", BUCKET, "--s3-endpoint", s3.endpoint, "--s3-path-style", "-H", NODE_ADDRESSES[i] ?? "", "-w", "-u", "alice:s3cret", "--pasv-ports", `${pasv.min}-${pasv.max}`, ...(i === 0 ? ["--public-address", BALANCER] : []), "--proxy-protocol", "--proxy-from", BALANCER],
    options: { noDir: true },
  };
}

async function object(key: string): Promise<Buffer> {
  const out = await bucket.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return Buffer.from(await out.Body?.transformToByteArray() ?? new Uint8Array());
}

function canListen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once("error", () => resolve(false));
    probe.listen({ port, host }, () => probe.close(() => resolve(true)));
  });
}

/** A block of ports below the ephemeral range free on the balancer's and both nodes' addresses. */
async function freeBlock(size: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 12_000);
    const checks = [BALANCER, ...NODE_ADDRESSES].flatMap((host) => Array.from({ length: size }, (_, k) => canListen(host, base + k)));
    if ((await Promise.all(checks)).every(Boolean)) return base;
  }
  throw new Error("no free port block");
}

function curl(...args: string[]): Buffer {
  return execFileSync("curl", ["-sS", "--max-time", "30", "--interface", CLIENT, ...args], { maxBuffer: 64 * 1024 * 1024 });
}

const nodes: RunningServer[] = [];
let balancer: RunningHaproxy | null = null;
let layout: ScaleOut;

const ready = haveTool("haproxy", haveHaproxy) && haveTool("curl", () => {
  try {
    execFileSync("curl", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
});

describe.runIf(ready)("two pasv nodes behind HAProxy (PROXY protocol v2)", () => {
  beforeAll(async () => {
    useS3rverCredentials();
    s3 = await startS3rver([BUCKET]);
    bucket = s3Client({ bucket: BUCKET, endpoint: s3.endpoint, pathStyle: true });
    const base = await freeBlock(1 + 2 * RANGE);
    const ranges = [0, 1].map((i) => ({ min: base + 1 + i * RANGE, max: base + (i + 1) * RANGE }));
    for (const [i, range] of ranges.entries()) {
      const n = nodeFlags(i, range);
      nodes.push(await startServer(n.dir, n.flags, n.options));
    }
    layout = { address: BALANCER, controlPort: base, nodes: nodes.map((s, i) => ({ name: `node${i + 1}`, address: NODE_ADDRESSES[i] ?? "", controlPort: s.port, pasvPorts: ranges[i] ?? { min: 0, max: 0 } })) };
    balancer = await startHaproxy(layout);
  }, 60_000);

  afterAll(async () => {
    await balancer?.stop();
    for (const s of nodes) await s.stop();
    bucket.destroy();
    await s3.stop();
    scratch.remove();
  });

  const url = (p: string): string => `ftp://alice:s3cret@${BALANCER}:${layout.controlPort}/${p}`;
  const on = (i: number, fields: Record<string, unknown>): boolean => logRecords(nodes[i]!).some((r) => Object.entries(fields).every(([k, v]) => r[k] === v));

  it("a file uploaded through the balancer is downloaded byte-exact through it from the other node; the logs show the client's own address", async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    const up = path.join(scratch.dir, "up.bin");
    writeFileSync(up, bytes);
    curl("-T", up, url("shared.bin"));
    // Round robin: the next session goes to the other node (EPSV, then PASV, both through the balancer).
    const down = curl(url("shared.bin"));
    const down2 = curl("--disable-epsv", url("shared.bin"));
    expect(down.equals(bytes)).toBe(true);
    expect(down2.equals(bytes)).toBe(true);
    const uploadedOn = await eventually(() => [0, 1].filter((i) => on(i, { event: "transfer", direction: "upload", path: "/shared.bin", outcome: "completed", client: CLIENT })), (found) => found.length > 0);
    const downloadedOn = await eventually(() => [0, 1].filter((i) => on(i, { event: "transfer", direction: "download", path: "/shared.bin", outcome: "completed", client: CLIENT })), (found) => found.includes(1 - (uploadedOn[0] ?? 0)));
    expect(uploadedOn).toHaveLength(1);
    expect(downloadedOn).toContain(1 - (uploadedOn[0] ?? 0));
    // Every session record at info names 127.0.0.5, but for the one readiness probe startHaproxy
    // makes from 127.0.0.1 through the balancer. The balancer's own health checks (LOCAL headers,
    // every 500 ms per node here) are logged at debug, below the server's level.
    for (const s of nodes) expect(logRecords(s).some((r) => r.event === "session.open" && r.client === CLIENT)).toBe(true);
    // Let a few health checks happen first (HAProxy checks each node every 500 ms).
    await new Promise((r) => setTimeout(r, 1_200));
    const others = nodes.flatMap((s) => logRecords(s).filter((r) => r.event === "session.open" && r.client !== CLIENT));
    expect(others.length, JSON.stringify(others)).toBeLessThanOrEqual(1);
    expect(others.every((r) => r.client === BALANCER && r.level === "info")).toBe(true);
    // The object in the bucket is the file, whole.
    expect((await object("shared.bin")).equals(bytes)).toBe(true);
  }, 60_000);

  it("a passive connection through the balancer from another address is refused; the client's own is served", async () => {
    await bucket.send(new PutObjectCommand({ Bucket: BUCKET, Key: "hello.txt", Body: "hello through the balancer" }));
    const c = await FtpControl.connect(layout.controlPort, BALANCER, CLIENT);
    try {
      await c.login("alice", "s3cret");
      const port = await c.pasv();
      const foreign = await new Promise<{ bytes: number; closed: boolean }>((resolve) => {
        const s = net.connect({ host: BALANCER, port, localAddress: INTRUDER });
        let n = 0;
        s.on("data", (b: Buffer) => (n += b.length));
        s.on("close", () => resolve({ bytes: n, closed: true }));
        s.on("error", () => undefined);
      });
      expect(foreign).toEqual({ bytes: 0, closed: true });
      const own = new Promise<string>((resolve, reject) => {
        const chunks: Buffer[] = [];
        const s = net.connect({ host: BALANCER, port, localAddress: CLIENT });
        s.on("data", (b: Buffer) => chunks.push(b));
        s.on("end", () => resolve(Buffer.concat(chunks).toString()));
        s.on("error", reject);
      });
      await new Promise((r) => setTimeout(r, 200));
      const mark = await c.cmd("RETR hello.txt");
      expect(mark.code).toBe(150);
      expect(await own).toBe("hello through the balancer");
      expect((await c.reply()).code).toBe(226);
      // The node judged the intruder by the address in its header, not by the balancer's.
      const judged = await Promise.all(nodes.map((n) => waitForRecord(n, { event: "message", client: CLIENT, message: /foreign address 127\.0\.0\.7/ }, 1_000)));
      expect(judged.filter((r) => r !== null)).toHaveLength(1);
    } finally {
      c.close();
    }
  }, 30_000);

  it("227 names the balancer on both nodes, with --public-address and without it", async () => {
    const named = new Set<string>();
    const ports: number[] = [];
    // Round robin: four sessions in a row meet both nodes.
    for (let k = 0; k < 4; k++) {
      const c = await FtpControl.connect(layout.controlPort, BALANCER, CLIENT);
      try {
        await c.login("alice", "s3cret");
        const r = await c.cmd("PASV");
        const target = parse227(r.lines[0] ?? "");
        expect(target, r.lines.join("|")).not.toBeNull();
        named.add(target?.address ?? "");
        ports.push(target?.port ?? 0);
      } finally {
        c.close();
      }
    }
    expect([...named]).toEqual([BALANCER]);
    // The ports show both nodes answered (each has its own range).
    for (const node of layout.nodes) expect(ports.some((p) => p >= node.pasvPorts.min && p <= node.pasvPorts.max)).toBe(true);
  }, 60_000);

  it("a connection straight to a node, not through the balancer, is closed without a byte", async () => {
    const result = await new Promise<{ bytes: number }>((resolve) => {
      const s = net.connect({ host: NODE_ADDRESSES[0], port: nodes[0]!.port, localAddress: CLIENT });
      let n = 0;
      s.on("data", (b: Buffer) => (n += b.length));
      s.on("close", () => resolve({ bytes: n }));
      s.on("error", () => undefined);
    });
    expect(result.bytes).toBe(0);
    expect(await waitForRecord(nodes[0]!, { event: "proxy.refused", listener: "control", peer: CLIENT, reason: "not-from-proxy" })).not.toBeNull();
  });

  it("PROXY v1 from the balancer's address: the header's client is the session's, and a pipelined command is read", async () => {
    const s = net.connect({ host: NODE_ADDRESSES[1], port: nodes[1]!.port, localAddress: BALANCER });
    await new Promise((r) => s.once("connect", r));
    let text = "";
    s.on("data", (b: Buffer) => (text += b.toString()));
    s.write("PROXY TCP4 203.0.113.9 127.0.0.1 5555 21\r\nUSER anonymous\r\n");
    const until = Date.now() + 5_000;
    while (!/331 /.test(text) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    s.destroy();
    expect(text).toMatch(/^220 [^]*\r\n331 /);
    expect(await waitForRecord(nodes[1]!, { event: "session.open", client: "203.0.113.9", clientPort: 5555 })).not.toBeNull();
  });

  it("with one node stopped, new sessions are served by the other", async () => {
    const stopped = await nodes[0]!.stop();
    expect(stopped).toBe(0);
    const before = logRecords(nodes[1]!).filter((r) => r.event === "transfer" && r.client === CLIENT).length;
    for (let k = 0; k < 4; k++) expect(curl(url("hello.txt")).toString()).toBe("hello through the balancer");
    const after = await eventually(() => logRecords(nodes[1]!).filter((r) => r.event === "transfer" && r.client === CLIENT).length, (n) => n - before >= 4);
    expect(after - before).toBe(4);
  }, 60_000);

  it("docs/scale-out.md quotes the configuration this test generates", () => {
    const doc = readFileSync(path.join(ROOT, "docs/scale-out.md"), "utf8");
    const example: ScaleOut = {
      address: "203.0.113.10",
      controlPort: 21,
      nodes: [
        { name: "node1", address: "10.0.0.11", controlPort: 2121, pasvPorts: { min: 50000, max: 50099 } },
        { name: "node2", address: "10.0.0.12", controlPort: 2121, pasvPorts: { min: 50100, max: 50199 } },
      ],
    };
    expect(doc).toContain(haproxyConfig(example));
  });
});
