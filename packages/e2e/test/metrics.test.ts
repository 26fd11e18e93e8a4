// --metrics through the real server (Node by default, Deno with PASV_E2E_SERVER=deno; the same
// expectations for both): Prometheus text at /metrics whose counters move by exactly one login and
// one transfer for a session that did one of each, and /healthz answering 200, then 503 while a stop drains.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FtpControl, readAll } from "./ftp-control.js";
import { startServer, tempDir, waitForRecord, type RunningServer } from "./server.js";

const root = tempDir("pasv-metrics-");
let server: RunningServer;
let metricsPort = 0;

beforeAll(async () => {
  writeFileSync(path.join(root.dir, "f.txt"), "0123456789");
  server = await startServer(root.dir, ["-u", "alice:pw", "--metrics", "127.0.0.1:0", "--drain-timeout", "30"]);
  const started = await waitForRecord(server, { event: "metrics.start", address: "127.0.0.1" });
  metricsPort = Number(started?.port);
});

afterAll(async () => {
  await server.stop();
  root.remove();
});

async function scrape(): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
  expect(res.status).toBe(200);
  const out = new Map<string, number>();
  for (const line of (await res.text()).split("\n")) {
    if (line.startsWith("#") || line === "") continue;
    const at = line.lastIndexOf(" ");
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

const delta = (before: Map<string, number>, after: Map<string, number>, key: string): number => (after.get(key) ?? 0) - (before.get(key) ?? 0);

describe("--metrics", () => {
  it("counts exactly one login and one transfer for a session that did one of each, with process metrics", async () => {
    const before = await scrape();
    const c = await FtpControl.connect(server.port);
    await c.login("alice", "pw");
    const data = readAll(await c.pasv());
    expect((await c.cmd("RETR f.txt")).code).toBe(150);
    expect((await c.reply()).code).toBe(226);
    await data;
    const during = await scrape();
    expect(during.get("pasv_sessions")).toBe(1);
    await c.cmd("QUIT");
    c.close();
    await new Promise((r) => setTimeout(r, 200));
    const after = await scrape();
    expect(delta(before, after, 'pasv_logins_total{result="ok",anonymous="false"}')).toBe(1);
    expect(delta(before, after, 'pasv_transfers_total{direction="download",outcome="completed"}')).toBe(1);
    expect(delta(before, after, "pasv_sent_bytes_total")).toBe(10);
    expect(delta(before, after, "pasv_sessions_total")).toBe(1);
    expect(after.get("pasv_sessions")).toBe(0);
    expect(after.get("pasv_draining")).toBe(0);
    expect(after.has("process_cpu_seconds_total")).toBe(true);
  });

  it("answers /healthz 200 while accepting and 503 while a stop drains", async () => {
    expect((await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${metricsPort}/nothing`)).status).toBe(404);
    // A session with a transfer running keeps the drain (and the health check) alive.
    const c = await FtpControl.connect(server.port);
    await c.login("alice", "pw");
    await c.cmd("PASV");
    expect((await c.cmd("RETR f.txt")).code).toBe(150);
    process.kill(server.pid, "SIGTERM");
    await new Promise((r) => setTimeout(r, 300));
    expect((await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).status).toBe(503);
    expect((await scrape()).get("pasv_draining")).toBe(1);
    c.close();
  });
});
