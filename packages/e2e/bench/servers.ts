// What the benchmarks share: the peer servers from Debian's archive (vsftpd, pure-ftpd, proftpd,
// pyftpdlib) and pasv on Node and on Deno, each started on its own ports over one served directory
// as a process tree (process-tree.ts) whose CPU counts every process it forked.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import { randomFillSync } from "node:crypto";
import { tmpdir } from "node:os";
import path from "node:path";
import { denoBinary } from "../test/server.js";
import type { FtpControl } from "../test/ftp-control.js";
import { startTree, type Tree } from "./process-tree.js";

export const ROOT = path.resolve(import.meta.dirname, "../../..");
export const CACHE = path.join(ROOT, ".cache", "bench");

export interface Server {
  readonly name: string;
  readonly port: number;
  readonly tree: Tree;
  readonly proc: Tree["proc"];
  /** Whether it forks a process (or two) per session. */
  readonly forks: boolean;
  /** The login as a URL prefix: "" for vsftpd's anonymous root, else "bench:bench@". */
  readonly user: string;
  /** The same login as USER and PASS. */
  readonly login: { readonly user: string; readonly password: string };
}

/** Every server takes this many sessions in all and from one address (the idle bench holds 10,000). */
export const MAX_SESSIONS = 20_000;
const BENCH_LOGIN = { user: "bench", password: "bench" };

/** The peer servers come from Debian's archive; installed on first use (we are root on CI). */
export function ensurePeers(): void {
  const missing = [existsSync("/usr/sbin/vsftpd") ? null : "vsftpd", pythonHas("pyftpdlib") ? null : "python3-pyftpdlib", pythonHas("psutil") ? null : "python3-psutil"].filter((p) => p !== null);
  if (missing.length === 0) return;
  console.log(`installing ${missing.join(" ")} from apt …`);
  execFileSync("sh", ["-c", `apt-get update -qq >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${missing.join(" ")} >/dev/null 2>&1`]);
}

/** The Debian version of each peer server, for the report's header. */
export function peerVersions(): Record<string, string> {
  const installed = (pkg: string): string => spawnSync("dpkg-query", ["-W", "-f", "${Version}", pkg], { encoding: "utf8" }).stdout || "?";
  let unpacked: Record<string, string> = {};
  try {
    unpacked = JSON.parse(readFileSync(path.join(PEERS_DIR, "versions.json"), "utf8")) as Record<string, string>;
  } catch {
    // not unpacked yet
  }
  return { vsftpd: installed("vsftpd"), "pure-ftpd": unpacked["pure-ftpd"] ?? "?", proftpd: unpacked["proftpd-core"] ?? "?", pyftpdlib: installed("python3-pyftpdlib") };
}

function pythonHas(module: string): boolean {
  return spawnSync("/usr/bin/python3", ["-c", `import ${module}`]).status === 0;
}

/** pure-ftpd and proftpd conflict with vsftpd (all provide ftp-server), so they are not installed:
 * their packages (and proftpd's libraries that are not on the machine) are unpacked under .cache/. */
const UNPACKED = ["pure-ftpd", "pure-ftpd-common", "proftpd-core", "libhiredis0.14", "libmemcached11", "libmemcachedutil2", "libhashkit2", "libpcre2-posix3"];
export const PEERS_DIR = path.join(CACHE, "peers");
const PEER_LIBS = path.join(PEERS_DIR, "usr/lib/x86_64-linux-gnu");

export function ensureUnpackedPeers(): void {
  const stamp = path.join(PEERS_DIR, `.unpacked-${UNPACKED.join(",")}`);
  if (existsSync(stamp)) return;
  console.log(`unpacking ${UNPACKED.join(" ")} (apt-get download, dpkg -x) into ${path.relative(ROOT, PEERS_DIR)} …`);
  const debs = mkdtempSync(path.join(tmpdir(), "pasv-peer-debs-"));
  try {
    const download = (): number | null => spawnSync("apt-get", ["download", "-qq", ...UNPACKED], { cwd: debs, stdio: "ignore" }).status;
    if (download() !== 0) {
      spawnSync("apt-get", ["update", "-qq"], { stdio: "ignore" });
      if (download() !== 0) throw new Error(`apt-get download ${UNPACKED.join(" ")} failed`);
    }
    mkdirSync(PEERS_DIR, { recursive: true });
    const versions: Record<string, string> = {};
    for (const deb of readdirSync(debs)) {
      execFileSync("dpkg", ["-x", path.join(debs, deb), PEERS_DIR]);
      const [name, version] = execFileSync("dpkg-deb", ["-f", path.join(debs, deb), "Package", "Version"], { encoding: "utf8" }).split("\n").map((l) => l.slice(l.indexOf(":") + 1).trim());
      versions[name!] = version!;
    }
    writeFileSync(path.join(PEERS_DIR, "versions.json"), `${JSON.stringify(versions, null, 1)}\n`);
  } finally {
    rmSync(debs, { recursive: true, force: true });
  }
  for (const binary of ["usr/sbin/pure-ftpd", "usr/sbin/proftpd"]) {
    const ldd = spawnSync("ldd", [path.join(PEERS_DIR, binary)], { encoding: "utf8", env: { ...process.env, LD_LIBRARY_PATH: PEER_LIBS } });
    const missing = ldd.stdout.split("\n").filter((l) => l.includes("not found"));
    if (missing.length > 0) throw new Error(`${binary} still misses ${missing.map((l) => l.trim()).join(", ")}`);
  }
  writeFileSync(stamp, "");
}

/** pyftpdlib as its docs show it (one user with full rights, a passive range, the default
 * handler), with its connection caps off and pasv's listen backlog. */
const PYFTPDLIB_SERVER = `
import sys
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer
root, port = sys.argv[1], int(sys.argv[2])
auth = DummyAuthorizer()
auth.add_user("bench", "bench", root, perm="elradfmwMT")
FTPHandler.authorizer = auth
FTPHandler.passive_ports = range(int(sys.argv[3]), int(sys.argv[4]))
server = FTPServer(("127.0.0.1", port), FTPHandler, backlog=1024)
server.max_cons = 0
server.max_cons_per_ip = 0
server.serve_forever()
`;

export function makeFile(file: string, bytes: number): void {
  if (existsSync(file) && statSync(file).size === bytes) return;
  const fd = openSync(file, "w");
  const chunk = Buffer.alloc(8 * 1024 * 1024);
  for (let done = 0; done < bytes; done += chunk.length) {
    randomFillSync(chunk);
    writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - done));
  }
  closeSync(fd);
}

export function waitForPort(port: number): void {
  for (let i = 0; i < 100; i++) {
    // A TCP connect is enough: not every server here lets an anonymous curl log in.
    if (spawnSync("bash", ["-c", `exec 3<>/dev/tcp/127.0.0.1/${port}`]).status === 0) return;
    spawnSync("sleep", ["0.1"]);
  }
  throw new Error(`nothing answers on port ${port}`);
}

/** The listen backlog a server asked for, as `ss` shows it (Send-Q of a listening socket). */
export function listenBacklog(port: number): number | null {
  const out = spawnSync("ss", ["-Hltn", `sport = :${port}`], { encoding: "utf8" }).stdout;
  const fields = out.trim().split(/\s+/);
  return fields.length >= 3 ? Number(fields[2]) : null;
}

/** Each server of a run gets a passive range of its own (2,500 ports), so none competes for ports. */
export const PASSIVE_PORTS = 2_500;
let nextRange = 0;
function passiveRange(): [number, number] {
  const from = 30_000 + (nextRange++ % 12) * PASSIVE_PORTS;
  return [from, from + PASSIVE_PORTS - 1];
}

function server(name: string, port: number, tree: Tree, forks: boolean, anonymous: boolean): Server {
  return { name, port, tree, proc: tree.proc, forks, user: anonymous ? "" : "bench:bench@", login: anonymous ? { user: "anonymous", password: "bench@" } : BENCH_LOGIN };
}

/**
 * vsftpd serving `served` to anonymous users (uploads need a sub-directory owned by "ftp"; it
 * refuses a writable anonymous root), its per-address and total caps off. Extra lines go into its config.
 */
export function startVsftpd(work: string, served: string, port: number, extra: readonly string[] = []): Server {
  mkdirSync("/var/run/vsftpd/empty", { recursive: true });
  const [lo, hi] = passiveRange();
  const conf = path.join(work, `vsftpd-${port}.conf`);
  writeFileSync(conf, [
    "listen=YES", "listen_address=127.0.0.1", `listen_port=${port}`, "background=NO", "anonymous_enable=YES", `anon_root=${served}`,
    "no_anon_password=YES", "write_enable=YES", "anon_upload_enable=YES", "anon_other_write_enable=YES", "local_enable=NO",
    `pasv_min_port=${lo}`, `pasv_max_port=${hi}`, "seccomp_sandbox=NO", "xferlog_enable=NO", "secure_chroot_dir=/var/run/vsftpd/empty",
    // Uploads readable by anonymous (ftpbench downloads what it uploaded) and not locked while
    // written (ftpbench's clients STOR one name at once; with the lock the second waits for the first,
    // which waits for ftpbench to start them all); no network namespace per session (its teardown
    // runs in a kernel worker, outside the server's CPU count).
    "max_clients=0", "max_per_ip=0", "anon_umask=022", "lock_upload_files=NO", "isolate_network=NO", ...extra, "",
  ].join("\n"));
  return server("vsftpd", port, startTree("vsftpd", "/usr/sbin/vsftpd", [conf]), true, true);
}

function ftpIds(): { uid: number; gid: number } {
  return { uid: Number(execFileSync("id", ["-u", "ftp"], { encoding: "utf8" })), gid: Number(execFileSync("id", ["-g", "ftp"], { encoding: "utf8" })) };
}

/** The bench user's password as crypt(3) MD5, which pure-ftpd and proftpd both check cheaply
 * (pure-pw's own default, argon2id, would make the login workloads a hashing contest). */
function md5Crypt(password: string): string {
  return execFileSync("openssl", ["passwd", "-1", password], { encoding: "utf8" }).trim();
}

/** pure-ftpd (privilege-separated: a root and an unprivileged process per session) with the bench
 * user as a PureDB virtual user mapped to "ftp", chrooted to `served`; anonymous off, caps raised. */
export function startPureFtpd(work: string, served: string, port: number): Server {
  const [lo, hi] = passiveRange();
  const { uid, gid } = ftpIds();
  const passwd = path.join(work, `pure-ftpd-${port}.passwd`);
  const pdb = path.join(work, `pure-ftpd-${port}.pdb`);
  writeFileSync(passwd, `bench:${md5Crypt("bench")}:${uid}:${gid}::${served}/./::::::::::::\n`, { mode: 0o600 });
  execFileSync(path.join(PEERS_DIR, "usr/bin/pure-pw"), ["mkdb", pdb, "-f", passwd], { stdio: "ignore" });
  const args = ["-S", `127.0.0.1,${port}`, "-l", `puredb:${pdb}`, "-E", "-A", "-H", "-f", "none", "-p", `${lo}:${hi}`, "-c", String(MAX_SESSIONS), "-C", String(MAX_SESSIONS), "-g", path.join(work, `pure-ftpd-${port}.pid`)];
  return server("pure-ftpd", port, startTree("pure-ftpd", path.join(PEERS_DIR, "usr/sbin/pure-ftpd"), args), true, false);
}

/** proftpd standalone (a process per session), the bench user from its own AuthUserFile mapped to
 * "ftp" and chrooted to `served`; no ident, DNS, delay table or logs; listen backlog at its maximum. */
export function startProftpd(work: string, served: string, port: number): Server {
  const [lo, hi] = passiveRange();
  const { uid, gid } = ftpIds();
  const passwd = path.join(work, `proftpd-${port}.passwd`);
  const group = path.join(work, `proftpd-${port}.group`);
  writeFileSync(passwd, `bench:${md5Crypt("bench")}:${uid}:${gid}::${served}:/bin/sh\n`, { mode: 0o600 });
  writeFileSync(group, `ftp:x:${gid}:\n`, { mode: 0o644 });
  const conf = path.join(work, `proftpd-${port}.conf`);
  writeFileSync(conf, [
    "ServerType standalone", 'ServerName "bench"', `Port ${port}`, "DefaultAddress 127.0.0.1", "SocketBindTight on", "UseIPv6 off",
    "User nobody", "Group nogroup", `PidFile ${work}/proftpd-${port}.pid`, `ScoreboardFile ${work}/proftpd-${port}.scoreboard`,
    "DelayTable none", "WtmpLog off", "TransferLog none", "SystemLog none", "UseReverseDNS off", `PassivePorts ${lo} ${hi}`,
    "MaxInstances none", "MaxClients none", "MaxClientsPerHost none", "TCPBacklog 255", "RequireValidShell off", "AuthOrder mod_auth_file.c",
    `AuthUserFile ${passwd}`, `AuthGroupFile ${group}`, "DefaultRoot ~", "AllowOverwrite on", "Umask 022", "",
  ].join("\n"));
  const env = { ...process.env, LD_LIBRARY_PATH: PEER_LIBS };
  return server("proftpd", port, startTree("proftpd", path.join(PEERS_DIR, "usr/sbin/proftpd"), ["-n", "-q", "-c", conf], env), true, false);
}

/** pasv's command on one runtime, from `checkout` (this tree by default; another one to compare builds). */
export function startPasv(runtime: "node" | "deno", served: string, port: number, options: { readonly checkout?: string; readonly label?: string; readonly flags?: readonly string[] } = {}): Server {
  const checkout = options.checkout ?? ROOT;
  const [lo, hi] = passiveRange();
  const args = [served, "-p", String(port), "-u", "bench:bench", "-w", "--pasv-ports", `${lo}-${hi}`, ...(options.flags ?? [])];
  const tree =
    runtime === "node"
      ? startTree(`pasv-${runtime}`, process.execPath, [path.join(checkout, "packages/cli/dist/main.js"), ...args])
      : startTree(`pasv-${runtime}`, denoBinary(), ["run", "-A", "--quiet", path.join(checkout, "packages/deno/src/main.ts"), ...args]);
  return server(options.label ?? `pasv (${runtime})`, port, tree, false, false);
}

/** pasv's flags for the peer comparison: logging only errors (the peers log nothing either) and caps
 * as open as the peers'. */
export const PASV_OPEN_CAPS = ["--log-level", "error", "--max-sessions", String(MAX_SESSIONS), "--max-sessions-per-ip", String(MAX_SESSIONS), "--max-passive-per-ip", String(PASSIVE_PORTS / 4)];

/** pyftpdlib as its docs show it (Debian's python3, the one apt's pyftpdlib belongs to). */
export function startPyftpdlib(served: string, port: number): Server {
  const [lo, hi] = passiveRange();
  return server("pyftpdlib", port, startTree("pyftpdlib", "/usr/bin/python3", ["-c", PYFTPDLIB_SERVER, served, String(port), String(lo), String(hi + 1)]), false, false);
}

/** Logs `c` in as `server` wants it (vsftpd's anonymous login needs no password) and sets TYPE I;
 * the greeting may take `greetingMs` (a connection left in a full accept queue waits for the
 * server's SYN-ACK retries). */
export async function logIn(c: FtpControl, server: Server, greetingMs = 10_000): Promise<void> {
  const hello = await c.reply(greetingMs);
  if (hello.code !== 220) throw new Error(`${server.name}: greeting ${hello.code} ${hello.lines.join(" ").slice(0, 80)}`);
  const u = await c.cmd(`USER ${server.login.user}`);
  if (u.code === 331) {
    const p = await c.cmd(`PASS ${server.login.password}`);
    if (p.code !== 230) throw new Error(`${server.name}: PASS got ${p.code}`);
  } else if (u.code !== 230) throw new Error(`${server.name}: USER got ${u.code}`);
  if ((await c.cmd("TYPE I")).code !== 200) throw new Error(`${server.name}: TYPE I refused`);
}

/** Runs curl (quiet, 600 s at most, then `args`); returns wall seconds and the server's CPU seconds
 * over its whole process tree. */
export async function measureCurl(args: readonly string[], server: Server): Promise<{ seconds: number; cpu: number }> {
  const cpu0 = server.tree.cpuSeconds();
  const start = process.hrtime.bigint();
  const child = spawn("curl", ["-sS", "--max-time", "600", ...args], { stdio: ["ignore", "ignore", "inherit"] });
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  // A forking server's session process may still be finishing its last writes.
  await new Promise((r) => setTimeout(r, 100));
  if (code !== 0) throw new Error(`${server.name}: curl ${args.join(" ")} failed (${String(code)})`);
  return { seconds, cpu: server.tree.cpuSeconds() - cpu0 };
}

/** The served tree of the transfer benches: `data.bin` (a hard link to `source`), `small.bin`
 * (4 KiB) and `incoming/`, writable by all (vsftpd refuses a writable anonymous root, so uploads go there). */
export function servedTree(work: string, source: string): string {
  const served = path.join(work, "srv");
  mkdirSync(path.join(served, "incoming"), { recursive: true });
  execFileSync("ln", [source, path.join(served, "data.bin")]);
  writeFileSync(path.join(served, "small.bin"), Buffer.alloc(4096, 0x61));
  spawnSync("chown", ["ftp", path.join(served, "incoming")]);
  spawnSync("chmod", ["777", path.join(served, "incoming")]);
  return served;
}
