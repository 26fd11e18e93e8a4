// The `pasv` command, once for every runtime: flags (and the users file) become server options here
// and nowhere else; a runtime supplies files, a server, signals and its output.
import { hashPassword, type ServerOptions } from "@pasv/driver";
import { readConfig, splitConfigFlag, type ConfigUser } from "./config.js";
import { startMetrics, type MetricsEndpoint, type MetricsSource } from "./metrics.js";
import { duplicateUser, parseCli, parseUsersFile, USAGE, type CliOptions, type CliUser, type LoginLimits } from "./args.js";

export const VERSION = "0.1.0";

/** The driver's options as the command builds them, with the TLS material read from disk. */
export interface CommandOptions extends Omit<ServerOptions, "tls"> {
  readonly tls?: { readonly key: Uint8Array; readonly cert: Uint8Array; readonly required: boolean };
}

export interface CommandServer extends MetricsSource {
  listen(port: number, host: string): Promise<{ address: string; port: number }>;
  close(options?: { readonly drainMs?: number }): Promise<void>;
}

/** How long a stop lets running transfers finish, unless --drain-timeout says otherwise (systemd's default stop timeout is 90 s). */
export const DEFAULT_DRAIN_SECONDS = 30;
/** xferlog lines waiting for the disk; past this many (a disk that does not keep up) lines are dropped and counted. */
export const MAX_QUEUED_XFERLOG_LINES = 10_000;

/**
 * Appends lines to a file in order, off the sessions' path. Each write opens the file anew, so a
 * log rotated away (logrotate's rename) is followed by the next line without any signal.
 */
export class LineAppender {
  private queue: string[] = [];
  private dropped = 0;
  private pumping: Promise<void> | null = null;

  constructor(private readonly file: string, private readonly append: (file: string, text: string) => Promise<void>, private readonly report: (problem: string) => void) {}

  push(line: string): void {
    if (this.queue.length >= MAX_QUEUED_XFERLOG_LINES) {
      this.dropped++;
      return;
    }
    this.queue.push(line);
    this.pumping ??= this.pump().finally(() => (this.pumping = null));
  }

  /** Resolves once every line pushed so far is written (or given up). */
  idle(): Promise<void> {
    return this.pumping ?? Promise.resolve();
  }

  private async pump(): Promise<void> {
    while (this.queue.length > 0) {
      const lines = this.queue;
      this.queue = [];
      if (this.dropped > 0) {
        this.report(`${String(this.dropped)} xferlog line(s) dropped (the disk did not keep up)`);
        this.dropped = 0;
      }
      try {
        await this.append(this.file, `${lines.join("\n")}\n`);
      } catch (error) {
        this.report(`cannot write the xferlog ${this.file}: ${reason(error)} (${String(lines.length)} line(s) lost)`);
      }
    }
  }
}

export interface CommandHost {
  /** Shown in --version and the start-up line. */
  readonly runtime: string;
  /** Why explicit FTPS cannot run here, or null when it can. */
  readonly noTls: string | null;
  readonly args: readonly string[];
  out(line: string): void;
  err(line: string): void;
  exit(code: number): never;
  /** The absolute real path of a directory; throws (any error) when it is not one. */
  directory(path: string): string;
  readText(path: string): string;
  readBytes(path: string): Uint8Array;
  /** Standard input, for `pasv hash-password`. */
  readonly stdin: PasswordInput;
  createServer(options: CommandOptions): CommandServer;
  onSignal(signal: "SIGINT" | "SIGTERM" | "SIGHUP", run: () => void): void;
  /** Appends `text` to `file` (created if missing), opening it for this write only. */
  appendText(file: string, text: string): Promise<void>;
  /** Resolves once every line written with out() is out (before exit). */
  flush(): Promise<void>;
}

/** The directory part of a POSIX path ("." for a bare name). */
function directoryOf(file: string): string {
  const slash = file.lastIndexOf("/");
  return slash < 0 ? "." : slash === 0 ? "/" : file.slice(0, slash);
}

/** What `hash-password` needs of standard input. */
export interface PasswordInput {
  readonly isTerminal: boolean;
  /** Raw mode on a terminal: keys arrive one by one and are not echoed. */
  setRaw(on: boolean): void;
  /** The next bytes, or null at the end of input. */
  read(): Promise<Uint8Array | null>;
}

/** Ctrl-C in raw mode (the terminal no longer turns it into SIGINT). */
const INTERRUPTED = Symbol("interrupted");

/**
 * One line of input, without its line end. On a terminal the keys are not echoed; Backspace edits,
 * Ctrl-C gives up. From a pipe only the first line counts, so `echo pw | pasv hash-password` works.
 */
async function readLine(input: PasswordInput): Promise<string | null | typeof INTERRUPTED> {
  const decoder = new TextDecoder();
  let line = "";
  for (;;) {
    const chunk = await input.read();
    if (chunk === null) return line === "" ? null : line;
    for (const ch of decoder.decode(chunk, { stream: true })) {
      if (ch === "\n" || ch === "\r") return line;
      if (!input.isTerminal) line += ch;
      else if (ch === "\u0003") return INTERRUPTED;
      else if (ch === "\u0004") return line === "" ? null : line;
      else if (ch === "\u007f" || ch === "\b") line = line.replace(/.$/u, "");
      else if (ch >= " ") line += ch;
    }
  }
}

/** The password `hash-password` reads: asked twice on a terminal (typos are invisible there), one line from a pipe. */
async function readNewPassword(host: CommandHost): Promise<string | { readonly problem: string; readonly code: number }> {
  const input = host.stdin;
  if (!input.isTerminal) {
    const line = await readLine(input);
    return line === INTERRUPTED ? { problem: "interrupted", code: 130 } : (line ?? "");
  }
  input.setRaw(true);
  try {
    host.err("pasv: password (not shown), then Enter:");
    const first = await readLine(input);
    if (first === INTERRUPTED) return { problem: "interrupted", code: 130 };
    if (first === null || first === "") return first ?? "";
    host.err("pasv: the same password again:");
    const again = await readLine(input);
    if (again === INTERRUPTED) return { problem: "interrupted", code: 130 };
    return again === first ? first : { problem: "the passwords differ", code: 2 };
  } finally {
    input.setRaw(false);
  }
}

async function hashPasswordCommand(host: CommandHost, fail: (message: string) => never): Promise<void> {
  const password = await readNewPassword(host);
  if (typeof password !== "string") {
    if (password.code !== 2) return host.exit(password.code);
    return fail(`hash-password: ${password.problem}`);
  }
  if (password === "") return fail("hash-password: no password on stdin");
  host.out(await hashPassword(password));
  await host.flush();
  return host.exit(0);
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export async function runCommand(host: CommandHost): Promise<void> {
  const fail = (message: string): never => {
    host.err(`pasv: ${message}\nTry 'pasv --help' for more information.`);
    return host.exit(2);
  };
  const split = splitConfigFlag(host.args);
  if (typeof split === "string") return fail(split);
  let argv = split.rest;
  let configUsers: readonly ConfigUser[] = [];
  if (split.file !== null) {
    let text: string;
    try {
      text = host.readText(split.file);
    } catch (error) {
      return fail(`cannot read config file ${split.file}: ${reason(error)}`);
    }
    const config = readConfig(text, split.file, directoryOf(split.file));
    if (typeof config === "string") return fail(config);
    // The file's settings come first: a flag on the command line overrides them.
    argv = [...config.args, ...split.rest];
    configUsers = config.users;
  }
  const parsed = parseCli(argv);
  switch (parsed.kind) {
    case "help":
      host.out(USAGE.trimEnd());
      await host.flush();
      return host.exit(0);
    case "version":
      host.out(`pasv ${VERSION} (${host.runtime})`);
      await host.flush();
      return host.exit(0);
    case "error":
      return fail(parsed.message);
    case "hash-password":
      return hashPasswordCommand(host, fail);
    case "run":
      break;
  }
  const o = parsed.options;
  if (o.tls !== null && host.noTls !== null) fail(`--tls-cert/--tls-key: ${host.noTls}`);
  let dir: string;
  try {
    dir = host.directory(o.dir);
  } catch {
    return fail(`cannot serve ${o.dir}: not a directory`);
  }
  let users: CliUser[] = [...o.users];
  if (o.usersFile !== null) {
    let text: string;
    try {
      text = host.readText(o.usersFile);
    } catch (error) {
      return fail(`cannot read users file ${o.usersFile}: ${reason(error)}`);
    }
    const more = parseUsersFile(text);
    if (typeof more === "string") fail(`${o.usersFile} ${more}`);
    else users = users.concat(more);
  }
  if (split.file !== null) users = users.concat(configUsers.map((u) => ({ user: u.name, passwordHash: u.passwordHash, line: u.line, file: split.file ?? "" })));
  const duplicate = duplicateUser(users, o.usersFile);
  if (duplicate !== null) fail(duplicate);
  if (!o.anonymous && users.length === 0) fail("--no-anonymous needs at least one --user or --users file");
  const names = new Set(users.map((u) => u.user));
  for (const [flag, map] of [["--user-home", o.userHomes], ["--user-permissions", o.userPermissions]] as const) {
    for (const name of map.keys()) if (!names.has(name)) fail(`${flag}: no user named ${JSON.stringify(name)} (add it with --user or --users)`);
  }
  for (const [name, home] of o.userHomes) {
    try {
      host.directory(home.startsWith("/") ? home : `${dir}/${home}`);
    } catch {
      fail(`--user-home ${name}=${home}: not a directory`);
    }
  }
  let tls: CommandOptions["tls"];
  if (o.tls !== null) {
    try {
      tls = { cert: host.readBytes(o.tls.cert), key: host.readBytes(o.tls.key), required: o.tls.required };
    } catch (error) {
      fail(`cannot read the TLS certificate or key: ${reason(error)}`);
    }
  }
  let xferlog: LineAppender | null = null;
  if (o.xferlog !== null) {
    try {
      await host.appendText(o.xferlog, "");
    } catch (error) {
      return fail(`cannot write the xferlog ${o.xferlog}: ${reason(error)}`);
    }
    xferlog = new LineAppender(o.xferlog, (file, text) => host.appendText(file, text), (problem) => host.err(`pasv: ${problem}`));
  }
  let server: CommandServer;
  try {
    const options = serverOptions(o, dir, users, tls, (line) => host.out(`${new Date().toISOString()} ${line}`));
    server = host.createServer(xferlog === null ? options : { ...options, xferlog: (line) => xferlog.push(line) });
  } catch (error) {
    return fail(reason(error));
  }
  let address: { address: string; port: number };
  try {
    address = await server.listen(o.port, o.host);
  } catch (error) {
    return fail(`cannot listen on ${o.host}:${o.port}: ${reason(error)}`);
  }
  host.out(`pasv: serving ${dir} on ${url(address)} (${who(o, users)}) [${host.runtime}]`);
  let metrics: MetricsEndpoint | null = null;
  if (o.metrics !== null) {
    try {
      metrics = await startMetrics(server, o.metrics.host, o.metrics.port);
    } catch (error) {
      await server.close();
      return fail(`cannot serve metrics on ${o.metrics.host}:${o.metrics.port}: ${reason(error)}`);
    }
    const m = metrics.address.includes(":") ? `[${metrics.address}]` : metrics.address;
    host.out(`pasv: metrics on http://${m}:${String(metrics.port)}/metrics, health check /healthz`);
  }
  let stopping = false;
  const drainSeconds = o.drainTimeoutSeconds ?? DEFAULT_DRAIN_SECONDS;
  const stop = (signal: string): void => {
    if (stopping) {
      // A second signal: the operator does not want to wait.
      host.out(`pasv: ${signal} again, stopping now`);
      void host.flush().then(() => host.exit(1));
      return;
    }
    stopping = true;
    host.out(`pasv: ${signal}, stopping${drainSeconds > 0 ? ` (running transfers may finish within ${String(drainSeconds)} s; signal again to stop now)` : ""}`);
    void server
      .close({ drainMs: drainSeconds * 1000 })
      .then(
        () => 0,
        () => 1,
      )
      .then(async (code) => {
        // The health check answered 503 during the drain; now nothing is left to report.
        await metrics?.close();
        await xferlog?.idle();
        await host.flush();
        host.exit(code);
      });
  };
  host.onSignal("SIGINT", () => stop("SIGINT"));
  host.onSignal("SIGTERM", () => stop("SIGTERM"));
  // logrotate's postrotate sends SIGHUP, whose default action would end the server. The xferlog
  // needs nothing (every write opens it anew); the config is not reloaded (yet).
  host.onSignal("SIGHUP", () => host.out("pasv: SIGHUP: logs are reopened at every write; settings are not reloaded"));
}

/** The one mapping from flags to server options. */
export function serverOptions(o: CliOptions, dir: string, users: readonly CliUser[], tls: CommandOptions["tls"], log: (line: string) => void): CommandOptions {
  return {
    root: dir,
    users: users.map((u) => {
      const home = o.userHomes.get(u.user);
      const permissions = o.userPermissions.get(u.user);
      const secret = u.passwordHash === undefined ? { password: u.password ?? "" } : { passwordHash: u.passwordHash };
      return { user: u.user, ...secret, write: o.write, ...(home === undefined ? {} : { home }), ...(permissions === undefined ? {} : { permissions }) };
    }),
    anonymous: o.anonymous,
    write: o.write,
    ...(o.hideDotfiles ? { hideDotfiles: true } : {}),
    ...(o.keepPartialUploads ? { keepPartialUploads: true } : {}),
    ...(o.passivePorts === null ? {} : { passivePorts: o.passivePorts }),
    ...(o.publicAddress === null ? {} : { publicAddress: o.publicAddress }),
    ...(o.idleTimeoutSeconds === null ? {} : { idleTimeoutMs: o.idleTimeoutSeconds * 1000 }),
    ...(o.maxSessions === null ? {} : { maxSessions: o.maxSessions }),
    ...(o.maxSessionsPerIp === null ? {} : { maxSessionsPerIp: o.maxSessionsPerIp }),
    ...(o.maxPassivePerIp === null ? {} : { maxPassivePerIp: o.maxPassivePerIp }),
    ...loginOptions(o.logins),
    ...(tls === undefined ? {} : { tls }),
    ...(o.tls?.handshakeTimeoutSeconds == null ? {} : { tlsHandshakeTimeoutMs: o.tls.handshakeTimeoutSeconds * 1000 }),
    log,
  };
}

function loginOptions(l: LoginLimits): Pick<CommandOptions, "loginFailDelayMs" | "maxLoginFailures" | "bans"> {
  const bans = l.banAfter === 0 ? false : { ...(l.banAfter === null ? {} : { after: l.banAfter }), ...(l.banWindowSeconds === null ? {} : { windowMs: l.banWindowSeconds * 1000 }), ...(l.banSeconds === null ? {} : { durationMs: l.banSeconds * 1000 }) };
  return {
    ...(l.failDelaySeconds === null ? {} : { loginFailDelayMs: Math.round(l.failDelaySeconds * 1000) }),
    ...(l.maxFailures === null ? {} : { maxLoginFailures: l.maxFailures }),
    ...(bans === false || Object.keys(bans).length > 0 ? { bans } : {}),
  };
}

function url(address: { address: string; port: number }): string {
  const host = address.address.includes(":") ? `[${address.address}]` : address.address;
  return `ftp://${host}:${address.port}`;
}

function who(o: CliOptions, users: readonly CliUser[]): string {
  return [
    o.anonymous ? "anonymous read-only" : null,
    users.length > 0 ? `${users.length} user${users.length === 1 ? "" : "s"} ${o.userPermissions.size > 0 ? "with rights per user" : o.write ? "read-write" : "read-only"}` : null,
    o.tls === null ? null : o.tls.required ? "TLS required for users" : "TLS offered",
  ]
    .filter((x) => x !== null)
    .join(", ");
}
