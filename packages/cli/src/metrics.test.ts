import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { pasvRegistry, startMetrics, type MetricsSource } from "./metrics.js";

class Source extends EventEmitter implements MetricsSource {
  sessionCount = 0;
  passiveListeners = 0;
  draining = false;
  tlsReuseRefused = 0;
}

describe("pasvRegistry", () => {
  it("moves each counter once per event, and reads the gauges when scraped", async () => {
    const s = new Source();
    const registry = pasvRegistry(s);
    s.emit("session-open");
    s.emit("login", { anonymous: true });
    s.emit("login-failed");
    s.emit("ban");
    s.emit("transfer", { direction: "upload", outcome: "completed", bytes: 100, code: 226 });
    s.emit("transfer", { direction: "download", outcome: "failed", bytes: 7, code: 425 });
    s.sessionCount = 3;
    s.passiveListeners = 2;
    s.draining = true;
    s.tlsReuseRefused = 4;
    const text = await registry.metrics();
    for (const line of [
      "pasv_sessions_total 1",
      'pasv_logins_total{result="ok",anonymous="true"} 1',
      'pasv_logins_total{result="failed",anonymous="false"} 1',
      "pasv_bans_total 1",
      'pasv_transfers_total{direction="upload",outcome="completed"} 1',
      'pasv_transfers_total{direction="download",outcome="failed"} 1',
      "pasv_received_bytes_total 100",
      "pasv_sent_bytes_total 7",
      "pasv_data_connection_failures_total 1",
      "pasv_sessions 3",
      "pasv_passive_listeners 2",
      "pasv_draining 1",
      "pasv_tls_reuse_refused_total 4",
    ])
      expect(text.split("\n"), line).toContain(line);
  });

  it("serves /metrics, /healthz (503 while draining) and 404/405 for the rest", async () => {
    const s = new Source();
    const m = await startMetrics(s, "127.0.0.1", 0);
    try {
      const base = `http://127.0.0.1:${String(m.port)}`;
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      s.draining = true;
      expect((await fetch(`${base}/healthz`)).status).toBe(503);
      expect((await fetch(`${base}/metrics`)).headers.get("content-type")).toMatch(/^text\/plain/);
      expect((await fetch(`${base}/x`)).status).toBe(404);
      expect((await fetch(`${base}/metrics`, { method: "POST" })).status).toBe(405);
    } finally {
      await m.close();
    }
  });
});
