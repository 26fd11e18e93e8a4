// `--metrics HOST:PORT`: Prometheus text at /metrics and a load balancer's health check at
// /healthz (200 while accepting, 503 once a stop has begun), over node:http, which Node and Deno
// both provide. The counters follow the server's events, so they move exactly once per login,
// transfer or ban; prom-client formats them and adds the runtime's process metrics.
import http from "node:http";
import type { AddressInfo } from "node:net";
import client from "prom-client";

/** What the endpoint reads of the FTP server. */
export interface MetricsSource {
  readonly sessionCount: number;
  readonly passiveListeners: number;
  readonly draining: boolean;
  /** Protected data connections refused for not resuming their control connection's TLS session. */
  readonly tlsReuseRefused: number;
  on(event: "session-open" | "session-close" | "ban" | "login-failed", listener: () => void): unknown;
  on(event: "login", listener: (e: { readonly anonymous: boolean }) => void): unknown;
  on(event: "transfer", listener: (e: { readonly direction: "download" | "upload" | "listing"; readonly outcome: "completed" | "aborted" | "failed"; readonly bytes: number; readonly code: number }) => void): unknown;
}

export interface MetricsEndpoint {
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

/** The registry with pasv's metrics, fed by `source`'s events. */
export function pasvRegistry(source: MetricsSource): client.Registry {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const registers = [registry];
  new client.Gauge({ name: "pasv_sessions", help: "Control connections open now", registers, collect() { this.set(source.sessionCount); } });
  new client.Gauge({ name: "pasv_passive_listeners", help: "Passive data listeners open now (ports of the range in use)", registers, collect() { this.set(source.passiveListeners); } });
  new client.Gauge({ name: "pasv_draining", help: "1 once a stop has begun (no new connections)", registers, collect() { this.set(source.draining ? 1 : 0); } });
  new client.Counter({
    name: "pasv_tls_reuse_refused_total",
    help: "Protected data connections refused (522) for not resuming their control connection's TLS session",
    registers,
    collect() {
      this.reset();
      this.inc(source.tlsReuseRefused);
    },
  });
  const sessions = new client.Counter({ name: "pasv_sessions_total", help: "Control connections accepted", registers });
  const logins = new client.Counter({ name: "pasv_logins_total", help: "Logins, by result", labelNames: ["result", "anonymous"] as const, registers });
  const bans = new client.Counter({ name: "pasv_bans_total", help: "Client addresses banned for failed logins", registers });
  const transfers = new client.Counter({ name: "pasv_transfers_total", help: "Transfers, by direction and outcome", labelNames: ["direction", "outcome"] as const, registers });
  const sent = new client.Counter({ name: "pasv_sent_bytes_total", help: "Bytes sent on data connections (downloads and listings)", registers });
  const received = new client.Counter({ name: "pasv_received_bytes_total", help: "Bytes received on data connections (uploads)", registers });
  const dataFailures = new client.Counter({ name: "pasv_data_connection_failures_total", help: "Transfers that could not open their data connection (425)", registers });
  source.on("session-open", () => sessions.inc());
  source.on("login", (e) => logins.inc({ result: "ok", anonymous: e.anonymous ? "true" : "false" }));
  source.on("login-failed", () => logins.inc({ result: "failed", anonymous: "false" }));
  source.on("ban", () => bans.inc());
  source.on("transfer", (e) => {
    transfers.inc({ direction: e.direction, outcome: e.outcome });
    if (e.direction === "upload") received.inc(e.bytes);
    else sent.inc(e.bytes);
    if (e.code === 425) dataFailures.inc();
  });
  return registry;
}

/** Serves /metrics and /healthz on `host:port` (0 picks a free port). */
export async function startMetrics(source: MetricsSource, host: string, port: number): Promise<MetricsEndpoint> {
  const registry = pasvRegistry(source);
  const server = http.createServer((req, res) => {
    const url = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    if (url === "/healthz") {
      res.writeHead(source.draining ? 503 : 200, { "content-type": "text/plain" }).end(source.draining ? "draining\n" : "ok\n");
      return;
    }
    if (url !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
      () => res.writeHead(500).end(),
    );
  });
  // A scraper that never finishes its request must not hold a socket for ever.
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  return {
    address: bound.address,
    port: bound.port,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
