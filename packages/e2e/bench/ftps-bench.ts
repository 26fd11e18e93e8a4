// Explicit FTPS (AUTH TLS, PROT P) on pasv (Node) beside vsftpd configured for FTPS, in one run,
// with the same client (curl --ssl-reqd) and the same certificate: RETR and STOR of a large file,
// server CPU seconds per GiB (vsftpd counted over its session processes), and 4 KiB RETRs per
// second in one session (a raw client with TCP_NODELAY: EPSV, RETR and a protected data connection
// resuming the control connection's TLS session each; curl's own loop mostly measures its Nagle
// stalls). Deno serves explicit FTPS through the Node command only
// (packages/deno/README.md), so it is not a line of its own here. Figures are printed as ratios to
// vsftpd; nothing is asserted.
// Run: npm run bench -- ftps [--size-mib N] [--rounds N] [--small N]
import { execFileSync } from "node:child_process";
import net from "node:net";
import tls, { type TLSSocket } from "node:tls";
import { feedReplies, initialReplyReader, parse229, type ParsedReply } from "@pasv/core";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ensurePeers, makeFile, measureCurl, ROOT, servedTree, startPasv, startVsftpd, waitForPort, type Server } from "./servers.js";

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
};
const sizeMiB = arg("--size-mib", 1024);
const rounds = arg("--rounds", 3);
const smallCount = arg("--small", 300);

/** A protected FTP session: AUTH TLS, then every data connection resumes the control session. */
class TlsSession {
  private reader = initialReplyReader;
  private readonly replies: ParsedReply[] = [];
  private wake: (() => void) | null = null;
  private session: Buffer | undefined;
  private constructor(private socket: net.Socket | TLSSocket) {
    this.attach(socket);
  }

  private attach(socket: net.Socket | TLSSocket): void {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => {
      const fed = feedReplies(this.reader, chunk);
      this.reader = fed.reader;
      this.replies.push(...fed.replies);
      this.wake?.();
    });
  }

  static async open(port: number, user: string, password: string): Promise<TlsSession> {
    const plain = net.connect({ port, host: "127.0.0.1" });
    const s = new TlsSession(plain);
    await s.reply();
    if ((await s.cmd("AUTH TLS")).code !== 234) throw new Error("AUTH TLS refused");
    plain.removeAllListeners("data");
    const secure = tls.connect({ socket: plain, rejectUnauthorized: false });
    secure.on("session", (session: Buffer) => (s.session = session));
    await new Promise<void>((resolve, reject) => secure.once("secureConnect", resolve).once("error", reject));
    s.attach(secure);
    for (const line of [`USER ${user}`, `PASS ${password}`, "PBSZ 0", "PROT P", "TYPE I"]) {
      const r = await s.cmd(line);
      if (r.code >= 400) throw new Error(`${line.split(" ")[0] ?? ""} got ${String(r.code)}`);
    }
    return s;
  }

  async reply(): Promise<ParsedReply> {
    while (this.replies.length === 0) await new Promise<void>((r) => (this.wake = r));
    return this.replies.shift()!;
  }

  cmd(line: string): Promise<ParsedReply> {
    this.socket.write(`${line}\r\n`);
    return this.reply();
  }

  /** EPSV, RETR over a protected data connection that resumes this session; the bytes received. */
  async retr(path: string): Promise<number> {
    const port = parse229((await this.cmd("EPSV")).lines[0] ?? "");
    if (port === null) throw new Error("EPSV failed");
    const data = tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false, ...(this.session === undefined ? {} : { session: this.session }) });
    let bytes = 0;
    const done = new Promise<void>((resolve, reject) => {
      data.on("data", (b: Buffer) => (bytes += b.length));
      data.on("end", () => resolve());
      data.on("error", reject);
    });
    this.socket.write(`RETR ${path}\r\n`);
    const mark = await this.reply();
    if (mark.code !== 150) throw new Error(`RETR got ${String(mark.code)}`);
    await done;
    data.destroy();
    const final = await this.reply();
    if (final.code !== 226) throw new Error(`RETR ended with ${String(final.code)}`);
    return bytes;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** 4 KiB RETRs in one protected session for `count` rounds: RETRs per second and server CPU ms per RETR. */
async function smallRetrs(server: Server): Promise<{ rate: number; cpuMs: number }> {
  const session = await TlsSession.open(server.port, server.login.user, server.login.password);
  const cpu0 = server.tree.cpuSeconds();
  const start = process.hrtime.bigint();
  for (let i = 0; i < smallCount; i++) if ((await session.retr("small.bin")) !== 4096) throw new Error(`${server.name}: short 4 KiB RETR`);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  session.close();
  return { rate: smallCount / seconds, cpuMs: ((server.tree.cpuSeconds() - cpu0) * 1000) / smallCount };
}

const work = mkdtempSync(path.join(tmpdir(), "pasv-ftps-bench-"));
const cacheDir = path.join(ROOT, ".cache", "bench");
mkdirSync(cacheDir, { recursive: true });
const source = path.join(cacheDir, `data-${sizeMiB}MiB.bin`);
makeFile(source, sizeMiB * 1024 * 1024);
// One RSA certificate for both servers, so the handshakes cost the same.
const cert = path.join(work, "cert.pem");
const key = path.join(work, "key.pem");
execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost"], { stdio: "ignore" });

const served = servedTree(work, source);

const UPLOAD = "incoming/up.bin";
const servers: Server[] = [];
try {
  ensurePeers();
  const base = 24000 + Math.floor(Math.random() * 900);
  servers.push(
    // vsftpd's FTPS as its manual shows it for anonymous users; require_ssl_reuse stays on (its default).
    startVsftpd(work, served, base, ["ssl_enable=YES", "allow_anon_ssl=YES", "force_anon_logins_ssl=YES", "force_anon_data_ssl=YES", `rsa_cert_file=${cert}`, `rsa_private_key_file=${key}`, "ssl_ciphers=HIGH"]),
    startPasv("node", served, base + 1, { flags: ["--tls-cert", cert, "--tls-key", key, "--tls-required", "--log-level", "warn"] }),
  );
  for (const s of servers) waitForPort(s.port);
  const results = new Map<string, { retr: number[]; stor: number[]; cpuRetr: number[]; cpuStor: number[]; small: number[]; cpuSmall: number[] }>();
  for (const s of servers) results.set(s.name, { retr: [], stor: [], cpuRetr: [], cpuStor: [], small: [], cpuSmall: [] });
  const gib = sizeMiB / 1024;
  for (let r = 0; r < rounds; r++) {
    for (const s of servers) {
      const res = results.get(s.name)!;
      const retr = await measureCurl(["--ssl-reqd", "-k", "-o", "/dev/null", `ftp://${s.user}127.0.0.1:${s.port}/data.bin`], s);
      res.retr.push(retr.seconds);
      res.cpuRetr.push(retr.cpu / gib);
      const stor = await measureCurl(["--ssl-reqd", "-k", "-T", source, `ftp://${s.user}127.0.0.1:${s.port}/${UPLOAD}`], s);
      res.stor.push(stor.seconds);
      res.cpuStor.push(stor.cpu / gib);
      rmSync(path.join(served, UPLOAD), { force: true });
      const small = await smallRetrs(s);
      res.small.push(small.rate);
      res.cpuSmall.push(small.cpuMs);
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const ref = results.get("vsftpd")!;
  const ratio = (a: number, b: number): string => `${(a / Math.max(1e-9, b)).toFixed(2)}x`;
  console.log(`\nexplicit FTPS (PROT P), ${sizeMiB} MiB and ${smallCount} x 4 KiB over loopback, median of ${rounds} rounds (curl --ssl-reqd for the large file, a raw TLS client for 4 KiB)\n`);
  console.log("server        RETR MiB/s  STOR MiB/s  CPU s/GiB RETR  CPU s/GiB STOR  4KiB RETR/s  CPU ms/RETR   (ratios to vsftpd: RETR, STOR, CPU RETR, CPU STOR, 4KiB/s, CPU/4KiB)");
  for (const [name, res] of results) {
    const retr = sizeMiB / median(res.retr);
    const stor = sizeMiB / median(res.stor);
    console.log(
      `${name.padEnd(12)} ${retr.toFixed(0).padStart(10)} ${stor.toFixed(0).padStart(11)} ${median(res.cpuRetr).toFixed(2).padStart(15)} ${median(res.cpuStor).toFixed(2).padStart(15)} ${median(res.small).toFixed(0).padStart(12)} ${median(res.cpuSmall).toFixed(2).padStart(12)}` +
        `   ${ratio(retr, sizeMiB / median(ref.retr))} ${ratio(stor, sizeMiB / median(ref.stor))} ${ratio(median(res.cpuRetr), median(ref.cpuRetr))} ${ratio(median(res.cpuStor), median(ref.cpuStor))} ${ratio(median(res.small), median(ref.small))} ${ratio(median(res.cpuSmall), median(ref.cpuSmall))}`,
    );
  }
} finally {
  await Promise.all(servers.map((s) => s.tree.stop()));
  rmSync(work, { recursive: true, force: true });
}
