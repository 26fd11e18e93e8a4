// The `pasv` command, once for every runtime: flags (and the users file) become server options here
// and nowhere else; a runtime supplies files, a server, signals and its output.
import { formatRecord, logs, type InlineFs, type LogEvent, type LogLevel, type LogRecord, type ServerHooks, type ServerOptions, type Vfs } from "@pasv/driver";
import { S3Fs, s3Client } from "@pasv/s3";
import { FaultInjector, formatPlan, multilineStyleFor, parsePlan, planFromTable, type FaultPlan, type FaultRecord } from "@pasv/testing";
import { parse as parseToml } from "smol-toml";
import { readConfig, splitConfigFlag, type ConfigUser } from "./config.js";
import { hashPasswordCommand, type PasswordInput } from "./hash-password.js";
import { LineAppender } from "./line-appender.js";
import { startMetrics, type MetricsEndpoint, type MetricsSource } from "./metrics.js";
import { checkTlsFiles } from "./tls-files.js";
import { duplicateUser, isPlanFile, parseCli, parseUsersFile, USAGE, type CliOptions, type CliUser, type LoginLimits, type ParsedCli } from "./args.js";

export const VERSION = "0.1.0";
export type { PasswordInput } from "./hash-password.js";
/** How long an exit waits for the xferlog's last lines (a disk that hangs must not hold the exit). */
export const XFERLOG_FLUSH_MS = 5_000;

/** The driver's options as the command builds them, with the TLS material read from disk. */
export interface CommandOptions extends Omit<ServerOptions, "tls"> {
  /** How the runtime's local disk makes its calls (the adapters' LocalFs option; default auto). */
  readonly inlineFs?: InlineFs;
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
  /** New settings for new sessions (FtpServer.reload); rejects, changing nothing, when they are unusable. */
  reload(options: CommandOptions): Promise<{ readonly changed: readonly string[]; readonly needRestart: readonly string[] }>;
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
  /** Standard output is a terminal (log records default to text there, JSON lines elsewhere). */
  readonly interactive: boolean;
  /** One log record (or the help text) on standard output. */
  out(line: string): void;
  err(line: string): void;
  exit(code: number): never;
  /** The absolute real path of a directory; throws (any error) when it is not one. */
  directory(path: string): string;
  readText(path: string): string;
  readBytes(path: string): Uint8Array;
  /** Standard input, for `pasv hash-password`. */
  readonly stdin: PasswordInput;
  /** `hooks` wrap the platform and the sessions (only with --faults). */
  createServer(options: CommandOptions, hooks?: ServerHooks): CommandServer;
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

/** What the command serves, as read from its flags and files: once at start-up, again at each SIGHUP. */
export interface Settings {
  readonly cli: CliOptions;
  /** The served directory's real path. */
  readonly dir: string;
  readonly users: readonly CliUser[];
  readonly tls: CommandOptions["tls"];
  /** --faults: the plan and how it was given (for the replay line), or null. */
  readonly faults: { readonly plan: FaultPlan; readonly given: string } | null;
  /** What the TLS files' check warns of (an expired certificate): said at start-up and at a reload. */
  readonly warnings: readonly string[];
}

/** The command line's verdict, with the files it names read and checked; an error is one line. */
export type Loaded = { readonly kind: "run"; readonly settings: Settings } | Exclude<ParsedCli, { readonly kind: "run" }>;

/**
 * Reads the config file, the users file and the TLS files the command line names and checks them
 * together: the one reading behind the start-up (whose error stops it) and every reload (whose
 * error keeps the previous settings). Reads files, changes nothing.
 */
export function loadSettings(host: CommandHost): Loaded {
  const error = (message: string): Loaded => ({ kind: "error", message });
  const split = splitConfigFlag(host.args);
  if (typeof split === "string") return error(split);
  let argv = split.rest;
  let configUsers: readonly ConfigUser[] = [];
  if (split.file !== null) {
    let text: string;
    try {
      text = host.readText(split.file);
    } catch (e) {
      return error(`cannot read config file ${split.file}: ${reason(e)}`);
    }
    const config = readConfig(text, split.file, directoryOf(split.file));
    if (typeof config === "string") return error(config);
    // The file's settings come first: a flag on the command line overrides them.
    argv = [...config.args, ...split.rest];
    configUsers = config.users;
  }
  const parsed = parseCli(argv);
  if (parsed.kind !== "run") return parsed;
  const o = parsed.options;
  if (o.tls !== null && host.noTls !== null) return error(`--tls-cert/--tls-key: ${host.noTls}`);
  let dir: string;
  if (o.s3 !== null) {
    // A bucket, not a directory: the start-up checks it (S3Fs.check) when it makes the file system.
    dir = `s3://${o.s3.bucket}/${o.s3.prefix}`;
  } else {
    try {
      dir = host.directory(o.dir);
    } catch {
      return error(`cannot serve ${o.dir}: not a directory`);
    }
  }
  let users: CliUser[] = [...o.users];
  if (o.usersFile !== null) {
    let text: string;
    try {
      text = host.readText(o.usersFile);
    } catch (e) {
      return error(`cannot read users file ${o.usersFile}: ${reason(e)}`);
    }
    const more = parseUsersFile(text);
    if (typeof more === "string") return error(`${o.usersFile} ${more}`);
    users = users.concat(more);
  }
  const configFile = split.file;
  if (configFile !== null) users = users.concat(configUsers.map((u) => ({ user: u.name, passwordHash: u.passwordHash, line: u.line, file: configFile })));
  const duplicate = duplicateUser(users, o.usersFile);
  if (duplicate !== null) return error(duplicate);
  if (!o.anonymous && users.length === 0) return error("--no-anonymous needs at least one --user or --users file");
  const names = new Set(users.map((u) => u.user));
  const ratesFor = (direction: "down" | "up"): ReadonlyMap<string, unknown> => new Map([...o.userRates].filter(([, r]) => r[direction] !== undefined));
  for (const [flag, map] of [["--user-home", o.userHomes], ["--user-permissions", o.userPermissions], ["--user-max-rate-down", ratesFor("down")], ["--user-max-rate-up", ratesFor("up")]] as const) {
    for (const name of map.keys()) if (!names.has(name)) return error(`${flag}: no user named ${JSON.stringify(name)} (add it with --user or --users)`);
  }
  // Homes in a bucket are checked by the server at start-up (each must be a directory there).
  for (const [name, home] of o.s3 === null ? o.userHomes : []) {
    try {
      host.directory(home.startsWith("/") ? home : `${dir}/${home}`);
    } catch {
      return error(`--user-home ${name}=${home}: not a directory`);
    }
  }
  let tls: CommandOptions["tls"];
  let warnings: readonly string[] = [];
  if (o.tls !== null) {
    let cert: Uint8Array;
    let key: Uint8Array;
    try {
      cert = host.readBytes(o.tls.cert);
    } catch (e) {
      return error(`cannot read the TLS certificate ${o.tls.cert}: ${reason(e)}`);
    }
    try {
      key = host.readBytes(o.tls.key);
    } catch (e) {
      return error(`cannot read the TLS key ${o.tls.key}: ${reason(e)}`);
    }
    const checked = checkTlsFiles(o.tls.cert, cert, o.tls.key, key, new Date());
    if (typeof checked === "string") return error(checked);
    warnings = checked.warnings;
    tls = { cert, key, required: o.tls.required, minVersion: o.tls.minVersion === "1.3" ? "TLSv1.3" : "TLSv1.2", ciphers: o.tls.ciphers, reuseCheck: o.tls.reuseCheck };
  }
  let faults: Settings["faults"] = null;
  if (o.faults !== null) {
    let text: string | null = null;
    if (isPlanFile(o.faults)) {
      try {
        text = host.readText(o.faults);
      } catch (e) {
        return error(`--faults: cannot read the fault plan ${o.faults}: ${reason(e)}`);
      }
    }
    try {
      faults = { plan: text === null ? parsePlan(o.faults) : planFile(o.faults, text), given: o.faults };
    } catch (e) {
      return error(`--faults: ${reason(e)}`);
    }
  }
  return { kind: "run", settings: { cli: o, dir, users, tls, warnings, faults } };
}

/** A .json or .toml plan file's plan; throws one line naming the file. */
function planFile(file: string, text: string): FaultPlan {
  let table: unknown;
  try {
    table = file.toLowerCase().endsWith(".json") ? JSON.parse(text) : parseToml(text);
  } catch (e) {
    throw new Error(`${file}: ${reason(e).split("\n")[0] ?? ""}`, { cause: e });
  }
  return planFromTable(table, file);
}

export async function runCommand(host: CommandHost): Promise<void> {
  const fail = (message: string): never => {
    host.err(`pasv: ${message}\nTry 'pasv --help' for more information.`);
    return host.exit(2);
  };
  const loaded = loadSettings(host);
  switch (loaded.kind) {
    case "help":
      host.out(USAGE.trimEnd());
      await host.flush();
      return host.exit(0);
    case "version":
      host.out(`pasv ${VERSION} (${host.runtime})`);
      await host.flush();
      return host.exit(0);
    case "error":
      return fail(loaded.message);
    case "hash-password":
      return hashPasswordCommand(host, fail);
    case "run":
      break;
  }
  const first = loaded.settings;
  const { cli: o, dir, users } = first;
  let xferlog: LineAppender | null = null;
  if (o.xferlog !== null) {
    try {
      await host.appendText(o.xferlog, "");
    } catch (error) {
      return fail(`cannot write the xferlog ${o.xferlog}: ${reason(error)}`);
    }
    xferlog = new LineAppender(o.xferlog, (file, text) => host.appendText(file, text), (problem) => host.err(`pasv: ${problem}`));
  }
  // The bucket's file system is made once: a reload serves the same one (another bucket needs a restart).
  let vfs: S3Fs | undefined;
  if (o.s3 !== null) {
    // The bucket is served through the SDK's own credential chain; nothing about it is on the command line.
    vfs = new S3Fs({ client: s3Client({ bucket: o.s3.bucket, ...(o.s3.endpoint === null ? {} : { endpoint: o.s3.endpoint }), ...(o.s3.region === null ? {} : { region: o.s3.region }), pathStyle: o.s3.pathStyle }), bucket: o.s3.bucket, prefix: o.s3.prefix });
    try {
      await vfs.check();
    } catch (error) {
      return fail(`cannot serve s3://${o.s3.bucket}/${vfs.prefix}: ${reason(error)}`);
    }
  }
  const format = o.logFormat ?? (host.interactive ? "text" : "json");
  const level = o.logLevel ?? "info";
  const sink = (record: LogRecord): void => host.out(formatRecord(format, record));
  const log = (severity: LogLevel, event: LogEvent): void => {
    // The server's start, stop and exit are written at every level: an operator always sees them.
    const lifecycle = event.event === "server.start" || event.event === "server.stop" || event.event === "server.exit";
    if (lifecycle || logs(level, severity)) sink({ time: Date.now(), level: severity, ...event });
  };
  const toXferlog = xferlog === null ? null : (line: string): void => xferlog.push(line);
  // The same sinks for every generation of settings, so a reload sees them unchanged.
  // multiline=… in a fault plan is a core setting: the form is the core's decision, made once.
  const seed = o.seed ?? Math.floor(Math.random() * 0x100000000);
  const multiline = first.faults === null ? null : multilineStyleFor(first.faults.plan, seed);
  const optionsFor = (settings: Settings): CommandOptions => {
    const options = serverOptions(settings.cli, settings.dir, settings.users, settings.tls, sink, level, vfs);
    const styled = multiline === null ? options : { ...options, multilineStyle: multiline };
    return toXferlog === null ? styled : { ...styled, xferlog: toXferlog };
  };
  const faults = first.faults === null ? null : faultLayer(first.faults, seed, dir, (record) => log("warn", record));
  let server: CommandServer;
  try {
    server = host.createServer(optionsFor(first), ...(faults === null ? [] : [faults.hooks]));
  } catch (error) {
    return fail(reason(error));
  }
  for (const warning of first.warnings) host.err(`pasv: ${warning}`);
  const bound: { address: string; port: number | null; implicit: number | null; urls: string[] } = { address: o.host, port: null, implicit: null, urls: [] };
  for (const [port, implicitTls] of [[o.port, false], [o.tls?.implicitPort ?? null, true]] as const) {
    if (port === null) continue;
    try {
      const got = await server.listen(port, o.host, implicitTls ? { implicitTls } : {});
      bound.address = got.address;
      if (implicitTls) bound.implicit = got.port;
      else bound.port = got.port;
      bound.urls.push(url(got, implicitTls));
    } catch (error) {
      if (bound.urls.length > 0) await server.close();
      return fail(`cannot listen on ${o.host}:${String(port)}${implicitTls ? " (--implicit-tls-port)" : ""}: ${reason(error)}`);
    }
  }
  log("info", { event: "server.start", address: bound.address, port: bound.port, implicitTlsPort: bound.implicit, url: bound.urls.join(" and "), version: VERSION, runtime: host.runtime, root: vfs === undefined ? dir : `s3://${vfs.bucket}/${vfs.prefix}`, access: who(o, users) });
  let metrics: MetricsEndpoint | null = null;
  if (o.metrics !== null) {
    try {
      metrics = await startMetrics(server, o.metrics.host, o.metrics.port);
    } catch (error) {
      await server.close();
      return fail(`cannot serve metrics on ${o.metrics.host}:${o.metrics.port}: ${reason(error)}`);
    }
    const m = metrics.address.includes(":") ? `[${metrics.address}]` : metrics.address;
    log("info", { event: "metrics.start", address: metrics.address, port: metrics.port, url: `http://${m}:${String(metrics.port)}/metrics` });
  }
  let stopping = false;
  let current = first;
  const stop = (signal: string): void => {
    const drainSeconds = current.cli.drainTimeoutSeconds ?? DEFAULT_DRAIN_SECONDS;
    if (stopping) {
      // A second signal: the operator does not want to wait.
      log("warn", { event: "server.stop", signal, drainMs: 0, immediate: true });
      log("info", { event: "server.exit", code: 1 });
      void host.flush().then(() => host.exit(1));
      return;
    }
    stopping = true;
    log("info", { event: "server.stop", signal, drainMs: drainSeconds * 1000, immediate: false });
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
        if (faults !== null) log("info", { event: "message", message: faults.summary() });
        log("info", { event: "server.exit", code });
        await host.flush();
        host.exit(code);
      });
  };
  host.onSignal("SIGINT", () => stop("SIGINT"));
  host.onSignal("SIGTERM", () => stop("SIGTERM"));
  // SIGHUP reloads (and logrotate's postrotate sends one, whose default action would end the
  // server): the files are read again and new sessions get what they say; the xferlog needs
  // nothing, every write opens it anew.
  const reloadOnce = async (): Promise<void> => {
    const next = reloadable(first, loadSettings(host));
    const outcome =
      typeof next === "string"
        ? next
        : await server.reload(optionsFor(next)).then(
            (result) => ({ settings: next, changed: result.changed }),
            (error: unknown) => reason(error),
          );
    if (typeof outcome === "string") {
      log("error", { event: "reload", ok: false, message: `${outcome}; keeping the previous settings`, access: null, changed: [], needRestart: [] });
      return;
    }
    current = outcome.settings;
    for (const warning of outcome.settings.warnings) log("warn", { event: "message", message: warning });
    log("info", { event: "reload", ok: true, message: null, access: who(outcome.settings.cli, outcome.settings.users), changed: outcome.changed, needRestart: restartOnly(first, outcome.settings) });
  };
  let reloading: Promise<void> | null = null;
  let again = false;
  const reload = (): void => {
    if (stopping) return;
    // One reload at a time; signals during one make one more, with the files as they are then.
    if (reloading !== null) {
      again = true;
      return;
    }
    reloading = reloadOnce().finally(() => {
      reloading = null;
      if (again) {
        again = false;
        reload();
      }
    });
  };
  host.onSignal("SIGHUP", reload);
}

/** The settings a reload may swap in, or why not (the one-line error the start-up would give). */
function reloadable(first: Settings, next: Loaded): Settings | string {
  switch (next.kind) {
    case "run":
      // The platform was made without TLS; it has no upgrader to give new certificates to.
      return first.tls === undefined && next.settings.tls !== undefined ? "--tls-cert/--tls-key: turning TLS on needs a restart" : next.settings;
    case "error":
      return next.message;
    case "help":
    case "version":
    case "hash-password":
      // The command line is the start-up's, which ran a server; only files change.
      return `the command line now asks for ${next.kind}`;
  }
}

/** The settings that changed but only a restart applies (the server goes on as it started). */
/** --faults: the hooks that install the fault layer, each fault as a log record, and the summary
 * written at exit; both name the command line that replays the run. */
function faultLayer(faults: NonNullable<Settings["faults"]>, seed: number, dir: string, log: (event: LogEvent) => void): { hooks: ServerHooks; summary(): string } {
  const given = faults.given.includes(",") || faults.given.includes(" ") ? formatPlan(faults.plan) : faults.given;
  const replay = `pasv --faults ${given === "" ? formatPlan(faults.plan) : given} --seed ${seed} ${dir}`;
  let injector: FaultInjector | null = null;
  const onFault = (record: FaultRecord): void => log({ event: "fault", ...record, replay });
  const active = (): FaultInjector => {
    if (injector === null) throw new Error("the fault layer is not installed");
    return injector;
  };
  return {
    hooks: {
      // The injector runs on the platform's clock, so it is made with the platform.
      platform: (platform) => {
        injector = new FaultInjector({ plan: faults.plan, seed, clock: platform.clock, onFault });
        return injector.wrapPlatform(platform);
      },
      instrument: {
        wrapSession: (id, control, platform) => active().wrapSession(id, control, platform),
        opened: (id, handle) => active().opened(id, handle.session),
      },
    },
    summary: () => {
      const counts = new Map<string, number>();
      for (const r of injector?.log ?? []) counts.set(r.fault, (counts.get(r.fault) ?? 0) + 1);
      const list = [...counts].map(([name, n]) => `${name} ${n}`).join(", ");
      return `faults: ${injector?.injected ?? 0} injected${list === "" ? "" : ` (${list})`}; replay: ${replay}`;
    },
  };
}

function restartOnly(start: Settings, next: Settings): string[] {
  const a = start.cli;
  const b = next.cli;
  const same = (x: unknown, y: unknown): boolean => JSON.stringify(x) === JSON.stringify(y);
  return [
    a.host !== b.host || a.port !== b.port ? "listen address" : null,
    start.dir !== next.dir ? "served directory" : null,
    same(a.metrics, b.metrics) ? null : "--metrics",
    a.xferlog === b.xferlog ? null : "--xferlog",
    a.tls?.implicitPort === b.tls?.implicitPort ? null : "--implicit-tls-port",
    a.tls?.minVersion === b.tls?.minVersion ? null : "--tls-min-version",
    a.tls?.ciphers === b.tls?.ciphers ? null : "--tls-ciphers",
    same(a.s3, b.s3) ? null : "--s3-*",
    a.logFormat === b.logFormat ? null : "--log-format",
    a.inlineFs === b.inlineFs ? null : "--inline-fs",
    a.logLevel === b.logLevel ? null : "--log-level",
    a.faults === b.faults && a.seed === b.seed ? null : "--faults/--seed",
  ].filter((x) => x !== null);
}

/** The one mapping from flags to server options. */
export function serverOptions(o: CliOptions, dir: string, users: readonly CliUser[], tls: CommandOptions["tls"], log: (record: LogRecord) => void, logLevel: LogLevel, vfs?: Vfs): CommandOptions {
  return {
    ...(vfs === undefined ? { root: dir } : { vfs }),
    users: users.map((u) => {
      const home = o.userHomes.get(u.user);
      const permissions = o.userPermissions.get(u.user);
      const secret = u.passwordHash === undefined ? { password: u.password ?? "" } : { passwordHash: u.passwordHash };
      const rates = o.userRates.get(u.user);
      return {
        user: u.user,
        ...secret,
        write: o.write,
        ...(home === undefined ? {} : { home }),
        ...(permissions === undefined ? {} : { permissions }),
        ...(rates?.down === undefined ? {} : { maxRateDown: rates.down }),
        ...(rates?.up === undefined ? {} : { maxRateUp: rates.up }),
      };
    }),
    anonymous: o.anonymous,
    write: o.write,
    ...(o.hideDotfiles ? { hideDotfiles: true } : {}),
    ...(o.keepPartialUploads ? { keepPartialUploads: true } : {}),
    ...(o.inlineFs === null ? {} : { inlineFs: o.inlineFs }),
    ...(o.passivePorts === null ? {} : { passivePorts: o.passivePorts }),
    ...(o.publicAddress === null ? {} : { publicAddress: o.publicAddress }),
    ...(o.proxyFrom === null ? {} : { proxyProtocol: { from: o.proxyFrom } }),
    ...(o.idleTimeoutSeconds === null ? {} : { idleTimeoutMs: o.idleTimeoutSeconds * 1000 }),
    ...(o.maxSessions === null ? {} : { maxSessions: o.maxSessions }),
    ...(o.maxSessionsPerIp === null ? {} : { maxSessionsPerIp: o.maxSessionsPerIp }),
    ...(o.maxPassivePerIp === null ? {} : { maxPassivePerIp: o.maxPassivePerIp }),
    ...(o.rates.down === null ? {} : { maxRateDown: o.rates.down }),
    ...(o.rates.up === null ? {} : { maxRateUp: o.rates.up }),
    ...(o.rates.anonymousDown === null ? {} : { anonymousMaxRateDown: o.rates.anonymousDown }),
    ...(o.rates.anonymousUp === null ? {} : { anonymousMaxRateUp: o.rates.anonymousUp }),
    ...loginOptions(o.logins),
    ...(tls === undefined ? {} : { tls }),
    ...(o.tls?.handshakeTimeoutSeconds == null ? {} : { tlsHandshakeTimeoutMs: o.tls.handshakeTimeoutSeconds * 1000 }),
    log,
    logLevel,
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

/** The server-wide bandwidth limits, as the start-up line says them ("at most 2M/s down per session"). */
function limits(o: CliOptions): string | null {
  const rate = (n: number): string => (n % 1048576 === 0 ? `${String(n / 1048576)}M` : n % 1024 === 0 ? `${String(n / 1024)}k` : String(n));
  const parts = [o.rates.down === null || o.rates.down === 0 ? null : `${rate(o.rates.down)}/s down`, o.rates.up === null || o.rates.up === 0 ? null : `${rate(o.rates.up)}/s up`].filter((x) => x !== null);
  return parts.length === 0 ? null : `at most ${parts.join(" and ")} per session`;
}

function who(o: CliOptions, users: readonly CliUser[]): string {
  return [
    o.anonymous ? "anonymous read-only" : null,
    users.length > 0 ? `${users.length} user${users.length === 1 ? "" : "s"} ${o.userPermissions.size > 0 ? "with rights per user" : o.write ? "read-write" : "read-only"}` : null,
    o.tls === null ? null : o.tls.required ? "TLS required for users" : "TLS offered",
    limits(o),
  ]
    .filter((x) => x !== null)
    .join(", ");
}
