// HAProxy in front of pasv nodes, for the scale-out tests: the configuration (one template, quoted by
// docs/scale-out.md) and the process, started with it and stopped by PID.
import { spawn, type ChildProcess } from "node:child_process";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

export interface ScaleOutNode {
  readonly name: string;
  /** Where the node listens (its control port and its passive ports). */
  readonly address: string;
  readonly controlPort: number;
  readonly pasvPorts: { readonly min: number; readonly max: number };
}

export interface ScaleOut {
  /** The balancer's address: what clients connect to and every node's --public-address. */
  readonly address: string;
  readonly controlPort: number;
  readonly nodes: readonly ScaleOutNode[];
}

/**
 * The HAProxy configuration for pasv nodes behind one address: the control port balanced over the
 * nodes, and each node's passive range forwarded to that node alone, port for port (a `server`
 * without a port keeps the port the client connected to). Every connection carries a PROXY v2
 * header, health checks included (they send LOCAL, which pasv answers like any client).
 */
export function haproxyConfig(s: ScaleOut): string {
  const lines = [
    "global",
    "    maxconn 4096",
    "",
    "defaults",
    "    mode tcp",
    "    timeout connect 5s",
    "    timeout client 10m",
    "    timeout server 10m",
    // A node that stopped between two health checks: the next try goes to another one.
    "    retries 2",
    "    option redispatch",
    "",
    "frontend ftp_control",
    `    bind ${s.address}:${s.controlPort}`,
    "    default_backend ftp_nodes",
    "",
    "backend ftp_nodes",
    "    balance roundrobin",
    ...s.nodes.map((n) => `    server ${n.name} ${n.address}:${n.controlPort} send-proxy-v2 check inter 500ms fall 1 rise 1`),
  ];
  for (const n of s.nodes) {
    lines.push(
      "",
      `frontend ftp_passive_${n.name}`,
      `    bind ${s.address}:${n.pasvPorts.min}-${n.pasvPorts.max}`,
      `    default_backend ftp_passive_${n.name}`,
      "",
      `backend ftp_passive_${n.name}`,
      `    server ${n.name} ${n.address} send-proxy-v2`,
    );
  }
  return `${lines.join("\n")}\n`;
}

export function haveHaproxy(): boolean {
  try {
    execFileSync("haproxy", ["-v"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

export interface RunningHaproxy {
  readonly pid: number;
  readonly config: string;
  stop(): Promise<void>;
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });
}

/** Starts `haproxy -db -f CONFIG` (foreground) and resolves once its control port takes connections. */
export async function startHaproxy(s: ScaleOut): Promise<RunningHaproxy> {
  const dir = mkdtempSync(path.join(tmpdir(), "pasv-haproxy-"));
  const config = haproxyConfig(s);
  const file = path.join(dir, "haproxy.cfg");
  writeFileSync(file, config);
  let out = "";
  const child: ChildProcess = spawn("haproxy", ["-db", "-f", file], { stdio: ["ignore", "pipe", "pipe"] });
  child.stdout?.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr?.on("data", (c: Buffer) => (out += c.toString()));
  const until = Date.now() + 10_000;
  while (!(await canConnect(s.address, s.controlPort))) {
    if (child.exitCode !== null || Date.now() > until) {
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`haproxy did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const pid = child.pid ?? 0;
  return {
    pid,
    config,
    stop: () =>
      new Promise((done) => {
        const finish = (): void => {
          rmSync(dir, { recursive: true, force: true });
          done();
        };
        if (child.exitCode !== null || child.signalCode !== null) {
          finish();
          return;
        }
        child.once("exit", finish);
        process.kill(pid, "SIGTERM");
      }),
  };
}
