// The `pasv` command, once for every runtime: flags (and the users file) become server options here
// and nowhere else; a runtime supplies files, a server, signals and its output.
import type { ServerOptions } from "@pasv/driver";
import { readConfig, splitConfigFlag, type ConfigUser } from "./config.js";
import { hashPasswordCommand, type PasswordInput } from "./hash-password.js";
import { LineAppender } from "./line-appender.js";
import { startMetrics, type MetricsEndpoint, type MetricsSource } from "./metrics.js";
import { checkTlsFiles } from "./tls-files.js";
import { duplicateUser, parseCli, parseUsersFile, USAGE, type CliOptions, type CliUser, type LoginLimits } from "./args.js";

export const VERSION = "0.1.0";
export type { PasswordInput } from "./hash-password.js";
/** How long an exit waits for the xferlog's last lines (a disk that hangs must not hold the exit). */
export const XFERLOG_FLUSH_MS = 5_000;

/** The driver's options as the command builds them, with the TLS material read from disk. */
export interface CommandOptions extends Omit<ServerOptions, "tls"> {
  readonly tls?: {
    readonly key: Uint8Array;
    readonly cert: Uint8Array;
    readonly required: boolean;
    readonly minVersion: "TLSv1.2" | "TLSv1.3";
    /** null: the platform's modern default. */
    readonly ciphers: string | null;
    readonly reuseCheck: boolean;
  };
}

export interface CommandServer extends MetricsSource {
  /** With `implicitTls`, TLS starts at connect (implicit FTPS) on this listener. */
  listen(port: number, host: string, options?: { readonly implicitTls?: boolean }): Promise<{ address: string; port: number }>;
  close(options?: { readonly drainMs?: number }): Promise<void>;
}

/** How long a stop lets running transfers finish, unless --drain-timeout says otherwise (systemd's default stop timeout is 90 s). */
export const DEFAULT_DRAIN_SECONDS = 30;
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
    const read = (what: string, file: string): Uint8Array => {
      try {
        return host.readBytes(file);
      } catch (error) {
        return fail(`cannot read the TLS ${what} ${file}: ${reason(error)}`);
      }
    };
    const cert = read("certificate", o.tls.cert);
    const key = read("key", o.tls.key);
    const checked = checkTlsFiles(o.tls.cert, cert, o.tls.key, key, new Date());
    if (typeof checked === "string") return fail(checked);
    for (const warning of checked.warnings) host.err(`pasv: ${warning}`);
    tls = { cert, key, required: o.tls.required, minVersion: o.tls.minVersion === "1.3" ? "TLSv1.3" : "TLSv1.2", ciphers: o.tls.ciphers, reuseCheck: o.tls.reuseCheck };
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
  const endpoints: string[] = [];
  for (const [port, implicitTls] of [[o.port, false], [o.tls?.implicitPort ?? null, true]] as const) {
    if (port === null) continue;
    try {
      endpoints.push(url(await server.listen(port, o.host, implicitTls ? { implicitTls } : {}), implicitTls));
    } catch (error) {
      if (endpoints.length > 0) await server.close();
      return fail(`cannot listen on ${o.host}:${String(port)}${implicitTls ? " (--implicit-tls-port)" : ""}: ${reason(error)}`);
    }
  }
  host.out(`pasv: serving ${dir} on ${endpoints.join(" and ")} (${who(o, users)}) [${host.runtime}]`);
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
        if (xferlog !== null) await Promise.race([xferlog.idle(), new Promise((r) => setTimeout(r, XFERLOG_FLUSH_MS))]);
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

function url(address: { address: string; port: number }, implicitTls: boolean): string {
  const host = address.address.includes(":") ? `[${address.address}]` : address.address;
  return `${implicitTls ? "ftps" : "ftp"}://${host}:${String(address.port)}${implicitTls ? " (implicit TLS)" : ""}`;
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
