// Every FTP verb: argument checks, session rules, and what to ask of the file system or network.
import { normalizeIp, parseEprtArg, parsePortArg } from "./address.js";
import type { ParsedCommand } from "./command.js";
import { initialLineReader } from "./framing.js";
import { dropChannel, openPassive, replyStatus, setActive } from "./data.js";
import { featMlstLine, hasGlob, mlstOptsReply, parseMlstOpts } from "./listing.js";
import type { Out } from "./out.js";
import { baseName, hasForbiddenByte, parentPath, resolvePath } from "./paths.js";
import { quotePath } from "./reply.js";
import { closeSession, resetSession } from "./session-control.js";
import { COMMAND_RIGHTS, rightsKey, staticallyRefused } from "./rights.js";
import type { Draft, FsContinuation, ListingRequest } from "./state.js";
import { parseMdtmTime } from "./time.js";
import type { Family, FsOp, Millis } from "./types.js";

interface Context {
  readonly cmd: ParsedCommand;
  readonly now: Millis;
  readonly out: Out;
  /** The path named by an RNFR that immediately preceded this command. */
  readonly renameFrom: string | null;
}

interface Verb {
  /** Needs a logged-in user (else 530); false for the pre-login set of SPEC §2.3. */
  readonly login: boolean;
  readonly syntax: string;
  readonly run: (s: Draft, c: Context) => void;
}

/**
 * ABOR, STAT (no argument) and NOOP are answered while a transfer command runs, when they reach the
 * head of the queue; everything else waits. NOOP departs from SPEC §4.10 as ProFTPD does: clients
 * send it as a keep-alive during long transfers (see the README).
 */
export function isTransferRunningCommand(cmd: ParsedCommand): boolean {
  return cmd.verb === "ABOR" || cmd.verb === "NOOP" || (cmd.verb === "STAT" && (cmd.arg === null || cmd.arg.trim() === ""));
}

export function executeCommand(s: Draft, cmd: ParsedCommand, now: Millis, out: Out): void {
  const renameFrom = s.renameFrom;
  s.renameFrom = null;
  const verb = VERBS.get(cmd.verb);
  if (verb === undefined) {
    s.badCommands++;
    if (s.badCommands > s.config.limits.maxBadCommands) {
      out.reply(421, "Too many unknown commands.");
      closeSession(s, "bad-commands", now, out);
      return;
    }
    out.reply(500, "Unknown command.");
    return;
  }
  s.badCommands = 0;
  if (verb.login && s.login.kind !== "in") {
    out.reply(530, "Please log in with USER and PASS.");
    return;
  }
  if (refusedByRights(s, cmd, out)) return;
  verb.run(s, { cmd, now, out, renameFrom });
}

/** Commands that consume a pending REST offset whatever their outcome. */
const TAKES_REST: ReadonlySet<string> = new Set(["RETR", "STOR", "APPE", "STOU", "LIST", "NLST", "MLSD"]);

/**
 * The one place a command is refused for a missing right before it runs (fs-results.ts adds the
 * upload's new-or-existing check after its stat). Refused here, nothing is asked of the file system.
 */
function refusedByRights(s: Draft, cmd: ParsedCommand, out: Out): boolean {
  if (s.login.kind !== "in") return false;
  const key = rightsKey(cmd.verb, cmd.arg, s.rest);
  const rule = key === null ? undefined : COMMAND_RIGHTS.get(key);
  if (rule === undefined || !staticallyRefused(s.login.account.rights, rule)) return false;
  if (TAKES_REST.has(cmd.verb)) s.rest = 0;
  out.reply(550, "Permission denied.");
  return true;
}

// ---------------------------------------------------------------- helpers

function requestFs(s: Draft, fs: FsOp, then: FsContinuation, c: Context): void {
  const request = s.nextId++;
  s.op = { kind: "fs", request, then, started: c.now };
  c.out.push({ type: "fs", request, fs });
}

/** The command's path argument resolved against the cwd, or null after replying. */
function pathArg(s: Draft, c: Context): string | null {
  const arg = c.cmd.arg;
  if (arg === null || arg === "") {
    c.out.reply(501, "Syntax error: a path name is required.");
    return null;
  }
  if (c.cmd.argInvalid || hasForbiddenByte(arg)) {
    c.out.reply(553, "File name not allowed.");
    return null;
  }
  const path = resolvePath(s.cwd, arg);
  return hiddenRefused(s, path, c) ? null : path;
}

/** With hidden dot files, a name with a dot segment is as absent (550); creating one is a bad name (553). */
function hiddenRefused(s: Draft, path: string, c: Context): boolean {
  if (s.login.kind !== "in" || !s.login.account.hideDotFiles || !path.split("/").some((seg) => seg.startsWith("."))) return false;
  if (CREATES.has(c.cmd.verb)) c.out.reply(553, "File name not allowed.");
  else c.out.reply(550, "No such file or directory.");
  return true;
}

const CREATES: ReadonlySet<string> = new Set(["MKD", "XMKD", "STOR", "APPE", "STOU", "RNTO"]);

/** Keyword arguments (TYPE, MODE, …) are case-insensitive and harmlessly trimmed. */
function keyword(c: Context): string {
  return (c.cmd.arg ?? "").trim().toUpperCase();
}

/** Pre-checks every transfer command shares: a data channel set up and, by policy, protected. */
function needsChannel(s: Draft, c: Context): boolean {
  if (s.channel.kind === "none") {
    c.out.reply(425, "Use PORT or PASV first.");
    return false;
  }
  // As vsftpd's force_local_data_ssl: a named user's data must be protected (anonymous sessions are exempt).
  if (s.config.requireTlsForData && s.prot !== "P" && s.login.kind === "in" && !s.login.account.anonymous) {
    c.out.reply(522, "Data connections must be encrypted.");
    return false;
  }
  // A client whose PROT C was refused connects in the clear and waits for data while we wait for its
  // TLS handshake (curl --ftp-ssl-control after AUTH SSL): say so before the mark instead.
  if (s.clearRefused && s.prot === "P") {
    c.out.reply(522, "Data connections must be encrypted; send PROT P.");
    return false;
  }
  return true;
}

function channelRefusedAfterEpsvAll(s: Draft, c: Context): boolean {
  if (!s.epsvAll) return false;
  c.out.replyText(503, `${c.cmd.verb} not allowed after EPSV ALL.`);
  return true;
}

function takeRest(s: Draft): number {
  const rest = s.rest;
  s.rest = 0;
  return rest;
}

// ---------------------------------------------------------------- login

function USER(s: Draft, c: Context): void {
  const name = c.cmd.arg ?? "";
  if (name === "") {
    c.out.reply(501, "Syntax error: USER needs a name.");
    return;
  }
  const anonymous = isAnonymousName(name);
  if (anonymous && !s.config.anonymous) {
    c.out.reply(530, "This FTP server does not allow anonymous logins.");
    return;
  }
  if (!anonymous && s.config.requireTlsForLogin && s.tls !== "active") {
    c.out.reply(530, "Non-anonymous sessions must use encryption.");
    return;
  }
  // A new USER logs any current user out; transfer parameters stay (RFC 959 §4.1.1).
  s.cwd = "/";
  s.rest = 0;
  s.login = { kind: "need-pass", user: name };
  c.out.reply(331, anonymous ? "Anonymous login ok, send your e-mail address as password." : "Please specify the password.");
}

/** The anonymous-login rule (SPEC §2.4): "anonymous" or "ftp", in any case. Exported for the adapters' auth. */
export function isAnonymousName(user: string): boolean {
  const lower = user.toLowerCase();
  return lower === "anonymous" || lower === "ftp";
}

function PASS(s: Draft, c: Context): void {
  if (s.login.kind === "in") {
    c.out.reply(202, "Already logged in.");
    return;
  }
  if (s.login.kind !== "need-pass") {
    c.out.reply(503, "Login with USER first.");
    return;
  }
  const request = s.nextId++;
  const user = s.login.user;
  s.op = { kind: "auth", request, user };
  c.out.push({ type: "auth", request, user, password: c.cmd.arg ?? "" });
}

function ACCT(s: Draft, c: Context): void {
  if (s.login.kind === "in") c.out.reply(202, "ACCT not needed.");
  else c.out.reply(503, "Login with USER and PASS first.");
}

function REIN(s: Draft, c: Context): void {
  if (s.tls !== "none") {
    c.out.reply(502, "REIN not supported over TLS.");
    return;
  }
  resetSession(s, c.now, c.out);
  c.out.reply(220, "Service ready for new user.");
}

function QUIT(s: Draft, c: Context): void {
  c.out.reply(221, "Goodbye.");
  closeSession(s, "quit", c.now, c.out);
}

// ---------------------------------------------------------------- navigation and files

function CWD(s: Draft, c: Context): void {
  const path = pathArg(s, c);
  if (path !== null) requestFs(s, { op: "stat", path }, { k: "cwd", path }, c);
}

function CDUP(s: Draft, c: Context): void {
  s.cwd = parentPath(s.cwd);
  c.out.reply(250, "Directory successfully changed.");
}

function PWD(s: Draft, c: Context): void {
  c.out.replyText(257, `${quotePath(s.cwd)} is the current directory.`);
}

function MKD(s: Draft, c: Context): void {
  const path = pathArg(s, c);
  if (path !== null) requestFs(s, { op: "mkdir", path }, { k: "mkd", path }, c);
}

function RMD(s: Draft, c: Context): void {
  const path = pathArg(s, c);
  if (path === null) return;
  if (path === "/") {
    c.out.reply(550, "Permission denied.");
    return;
  }
  requestFs(s, { op: "rmdir", path }, { k: "rmd", path }, c);
}

function DELE(s: Draft, c: Context): void {
  const path = pathArg(s, c);
  if (path !== null) requestFs(s, { op: "delete", path }, { k: "dele", path }, c);
}

function RNFR(s: Draft, c: Context): void {
  const path = pathArg(s, c);
  if (path === null) return;
  if (path === "/") {
    c.out.reply(550, "Permission denied.");
    return;
  }
  requestFs(s, { op: "stat", path }, { k: "rnfr", path }, c);
}

function RNTO(s: Draft, c: Context): void {
  const from = c.renameFrom;
  if (from === null) {
    c.out.reply(503, "RNFR required first.");
    return;
  }
  const path = pathArg(s, c);
  if (path === null) return;
  if (path === "/") {
    c.out.reply(553, "File name not allowed.");
    return;
  }
  requestFs(s, { op: "rename", from, to: path }, { k: "rnto", from, path }, c);
}

function SIZE(s: Draft, c: Context): void {
  const path = pathArg(s, c);
  if (path === null) return;
  if (s.type === "A") {
    // The exact octet count in ASCII mode is the converted size, unknowable without reading it.
    c.out.reply(550, "SIZE not allowed in ASCII mode.");
    return;
  }
  requestFs(s, { op: "stat", path }, { k: "size", path }, c);
}

function MDTM(s: Draft, c: Context): void {
  const path = pathArg(s, c);
  if (path !== null) requestFs(s, { op: "stat", path }, { k: "mdtm", path }, c);
}

function MFMT(s: Draft, c: Context): void {
  const arg = c.cmd.arg ?? "";
  const space = arg.indexOf(" ");
  if (space <= 0 || space === arg.length - 1) {
    c.out.reply(501, "Syntax error: MFMT YYYYMMDDHHMMSS path.");
    return;
  }
  const mtime = parseMdtmTime(arg.slice(0, space));
  if (mtime === null) {
    c.out.reply(501, "Invalid time.");
    return;
  }
  const shown = arg.slice(space + 1);
  const path = pathArg(s, { ...c, cmd: { ...c.cmd, arg: shown } });
  if (path !== null) requestFs(s, { op: "setMtime", path, mtime }, { k: "mfmt-set", path, mtime, shown }, c);
}

function MLST(s: Draft, c: Context): void {
  const arg = c.cmd.arg;
  const path = arg === null || arg === "" ? s.cwd : pathArg(s, c);
  if (path === null) return;
  requestFs(s, { op: "stat", path }, { k: "mlst", path, shown: arg === null || arg === "" ? s.cwd : arg }, c);
}

function STAT(s: Draft, c: Context): void {
  const arg = c.cmd.arg;
  if (arg === null || arg.trim() === "") {
    replyStatus(s, c.out);
    return;
  }
  if (s.login.kind !== "in") {
    c.out.reply(530, "Please log in with USER and PASS.");
    return;
  }
  const listing = listingArg(s, { ...c, cmd: { ...c.cmd, arg } }, "LIST");
  if (listing === null) return;
  requestFs(s, { op: "stat", path: listing.path }, { k: "stat-path", path: listing.path }, c);
}

// ---------------------------------------------------------------- transfer parameters

function TYPE(s: Draft, c: Context): void {
  const words = keyword(c).split(/ +/);
  const [code, param] = words;
  if (words.length > 2 || code === undefined || code === "") {
    c.out.reply(501, "Syntax error in TYPE.");
    return;
  }
  if (code === "I" && param === undefined) {
    s.type = "I";
    c.out.reply(200, "Switching to Binary mode.");
  } else if (code === "L" && param === "8") {
    s.type = "I";
    c.out.reply(200, "Switching to Binary mode.");
  } else if (code === "A" && (param === undefined || param === "N")) {
    s.type = "A";
    c.out.reply(200, "Switching to ASCII mode.");
  } else if (code === "A" || code === "E" || code === "L" || code === "I") {
    c.out.reply(504, "TYPE not implemented for that parameter.");
  } else {
    c.out.reply(501, "Unrecognised TYPE.");
  }
}

function MODE(_s: Draft, c: Context): void {
  const mode = keyword(c);
  if (mode === "S") c.out.reply(200, "Mode set to S.");
  else if (/^[A-Z]$/.test(mode)) c.out.reply(504, "Only stream mode is supported.");
  else c.out.reply(501, "Syntax error in MODE.");
}

function STRU(_s: Draft, c: Context): void {
  const stru = keyword(c);
  if (stru === "F") c.out.reply(200, "Structure set to F.");
  else if (/^[A-Z]$/.test(stru)) c.out.reply(504, "Only file structure is supported.");
  else c.out.reply(501, "Syntax error in STRU.");
}

function REST(s: Draft, c: Context): void {
  const arg = (c.cmd.arg ?? "").trim();
  if (!/^\d+$/.test(arg)) {
    c.out.reply(501, "REST needs a non-negative decimal offset.");
    return;
  }
  // Any digits are a valid REST (RFC 3659 §5.3); an offset past the end is the transfer's 554.
  // Beyond 2^53 every offset is past every file, so clamping keeps that answer exact.
  s.rest = Math.min(Number(arg), Number.MAX_SAFE_INTEGER);
  c.out.replyText(350, `Restarting at ${s.rest}. Send STOR or RETR.`);
}

// ---------------------------------------------------------------- data connection set-up

// Every PASV, EPSV (but EPSV ALL), PORT and EPRT gives up the current set-up first, whatever its
// answer: a client asking for a new one will never use the old, and a refused request must not leave
// a passive port held until its deadline (with a small range, other clients would get 425).

function PASV(s: Draft, c: Context): void {
  dropChannel(s, c.out);
  if (channelRefusedAfterEpsvAll(s, c)) return;
  if (s.family !== 4 || s.passiveAddress === null || normalizeIp(s.passiveAddress)?.family !== 4) {
    // 227 can only carry an IPv4 address; IPv6 clients use EPSV.
    c.out.reply(425, "PASV needs IPv4; use EPSV.");
    return;
  }
  openPassive(s, false, 4, c.out);
}

function EPSV(s: Draft, c: Context): void {
  const arg = keyword(c);
  if (arg === "ALL") {
    s.epsvAll = true;
    c.out.reply(200, "EPSV ALL ok.");
    return;
  }
  dropChannel(s, c.out);
  if (arg !== "" && !/^\d+$/.test(arg)) {
    c.out.reply(501, "Syntax error in EPSV.");
    return;
  }
  // Any protocol number but the control connection's own (1 = IPv4, 2 = IPv6) is RFC 2428's 522
  // with the one we serve: a family we do not offer here and an unknown number alike.
  const ours = s.family === 4 ? "1" : "2";
  if (arg !== "" && arg !== ours) {
    c.out.replyText(522, `Network protocol not supported, use (${ours}).`);
    return;
  }
  openPassive(s, true, s.family, c.out);
}

function PORT(s: Draft, c: Context): void {
  dropChannel(s, c.out);
  if (channelRefusedAfterEpsvAll(s, c)) return;
  const target = parsePortArg(c.cmd.arg ?? "");
  if (target === null) {
    c.out.reply(501, "Syntax error in PORT.");
    return;
  }
  activeTarget(s, c, 4, target.address, target.port);
}

function EPRT(s: Draft, c: Context): void {
  dropChannel(s, c.out);
  if (channelRefusedAfterEpsvAll(s, c)) return;
  const parsed = parseEprtArg(c.cmd.arg ?? "");
  if (!parsed.ok) {
    if (parsed.error === "family") c.out.reply(522, "Network protocol not supported, use (1,2).");
    else c.out.reply(501, "Syntax error in EPRT.");
    return;
  }
  activeTarget(s, c, parsed.family, parsed.address, parsed.port);
}

/** The bounce defence (RFC 2577): only the client's own address, only unprivileged ports. */
function activeTarget(s: Draft, c: Context, family: Family, address: string, port: number): void {
  const sameHost = normalizeIp(address)?.address === s.remote.address;
  if ((!sameHost && !s.config.allowForeignDataAddress) || (port < 1024 && !s.config.allowPrivilegedDataPort)) {
    c.out.replyText(504, `${c.cmd.verb} refused: address/port not allowed.`);
    return;
  }
  setActive(s, family, address, port, c.out);
  c.out.replyText(200, `${c.cmd.verb} command successful. Consider using PASV.`);
}

function ABOR(s: Draft, c: Context): void {
  // Nothing is running (a running transfer's ABOR is taken before the queue waits for it).
  dropChannel(s, c.out);
  c.out.reply(225, "No transfer to ABOR.");
}

// ---------------------------------------------------------------- transfers

function RETR(s: Draft, c: Context): void {
  const offset = takeRest(s);
  if (!needsChannel(s, c)) return;
  const path = pathArg(s, c);
  if (path !== null) requestFs(s, { op: "stat", path }, { k: "retr", path, shown: c.cmd.arg ?? path, offset }, c);
}

function storeCommand(command: "STOR" | "APPE"): (s: Draft, c: Context) => void {
  return (s, c) => {
    const offset = takeRest(s);
    if (!needsChannel(s, c)) return;
    const path = pathArg(s, c);
    if (path === null) return;
    if (offset > 0 && s.type === "A") {
      c.out.reply(555, "Restart not supported for ASCII uploads; use TYPE I.");
      return;
    }
    requestFs(s, { op: "stat", path }, { k: "store", command, path, offset }, c);
  };
}

function STOU(s: Draft, c: Context): void {
  const offset = takeRest(s);
  if (offset > 0) {
    c.out.reply(450, "Can't STOU while REST request is pending.");
    return;
  }
  if (!needsChannel(s, c)) return;
  const arg = c.cmd.arg;
  let base: string;
  if (arg === null || arg === "") {
    base = resolvePath(s.cwd, "ftp.upload");
  } else {
    const path = pathArg(s, c);
    if (path === null) return;
    base = path;
  }
  requestFs(s, { op: "stat", path: base }, { k: "stou", base, attempt: 0 }, c);
}

function listingCommand(command: "LIST" | "NLST" | "MLSD"): (s: Draft, c: Context) => void {
  return (s, c) => {
    takeRest(s);
    if (!needsChannel(s, c)) return;
    const listing = listingArg(s, c, command);
    if (listing !== null) requestFs(s, { op: "stat", path: listing.path }, { k: "listing-stat", listing }, c);
  };
}

/** LIST/NLST/STAT arguments: leading `-la`-style option words are ignored (SPEC §5.1, trap 8). */
function listingArg(s: Draft, c: Context, command: "LIST" | "NLST" | "MLSD"): ListingRequest | null {
  let arg = c.cmd.arg ?? "";
  if (command !== "MLSD") {
    while (arg.startsWith("-")) {
      const space = arg.indexOf(" ");
      arg = space < 0 ? "" : arg.slice(space + 1).replace(/^ +/, "");
    }
  }
  if (arg === "") return { command, path: s.cwd, given: null, glob: null };
  if (c.cmd.argInvalid || hasForbiddenByte(arg)) {
    c.out.reply(553, "File name not allowed.");
    return null;
  }
  const path = resolvePath(s.cwd, arg);
  if (hiddenRefused(s, path, c)) return null;
  const last = baseName(path);
  if (command !== "MLSD" && hasGlob(last)) {
    const slash = arg.lastIndexOf("/");
    return { command, path: parentPath(path), given: slash < 0 ? null : arg.slice(0, slash) || "/", glob: last };
  }
  return { command, path, given: arg, glob: null };
}

// ---------------------------------------------------------------- information

function SYST(_s: Draft, c: Context): void {
  c.out.reply(215, "UNIX Type: L8");
}

function NOOP(_s: Draft, c: Context): void {
  c.out.reply(200, "NOOP ok.");
}

function ALLO(_s: Draft, c: Context): void {
  c.out.reply(202, "ALLO command ignored.");
}

function CLNT(_s: Draft, c: Context): void {
  c.out.reply(200, "Noted.");
}

function FEAT(s: Draft, c: Context): void {
  const lines = ["Features:"];
  if (s.config.tls) lines.push(" AUTH TLS", " PBSZ", " PROT");
  lines.push(" EPRT", " EPSV", " HOST", " LANG EN*", " MDTM", " MFMT", ` ${featMlstLine(s.mlstFacts)}`, " PASV", " REST STREAM", " SIZE", " TVFS", " UTF8", "End");
  c.out.replyText(211, lines);
}

/** HELP's list of every verb, made at its first use (the verbs never change). */
let helpRows: readonly string[] | null = null;

function HELP(_s: Draft, c: Context): void {
  const arg = keyword(c);
  if (arg === "") {
    if (helpRows === null) {
      const names = [...VERBS.keys()].sort();
      const rows: string[] = ["The following commands are recognized."];
      for (let i = 0; i < names.length; i += 8) rows.push(` ${names.slice(i, i + 8).join(" ")}`);
      rows.push("Help OK.");
      helpRows = rows;
    }
    c.out.replyText(214, helpRows);
    return;
  }
  const verb = VERBS.get(arg);
  if (verb === undefined) c.out.reply(502, "Unknown command.");
  else c.out.replyText(214, `Syntax: ${verb.syntax}`);
}

function OPTS(s: Draft, c: Context): void {
  const arg = (c.cmd.arg ?? "").trim();
  const space = arg.indexOf(" ");
  const target = (space < 0 ? arg : arg.slice(0, space)).toUpperCase();
  const rest = space < 0 ? "" : arg.slice(space + 1).trim();
  if (target === "UTF8" || target === "UTF-8") {
    const value = rest.toUpperCase();
    if (value === "" || value === "ON" || value === "OFF") c.out.reply(200, "Always in UTF8 mode.");
    else c.out.reply(501, "OPTS UTF8 takes ON or OFF.");
    return;
  }
  if (target === "MLST") {
    if (s.login.kind !== "in") {
      c.out.reply(530, "Please log in with USER and PASS.");
      return;
    }
    const facts = parseMlstOpts(rest);
    if (facts === null) {
      c.out.reply(501, "Invalid MLST options.");
      return;
    }
    s.mlstFacts = facts;
    c.out.replyText(200, mlstOptsReply(facts));
    return;
  }
  c.out.reply(501, "Option not understood.");
}

function SITE(s: Draft, c: Context): void {
  const arg = (c.cmd.arg ?? "").trim();
  const space = arg.indexOf(" ");
  const sub = (space < 0 ? arg : arg.slice(0, space)).toUpperCase();
  const rest = space < 0 ? "" : arg.slice(space + 1).trim();
  switch (sub) {
    case "":
      c.out.reply(501, "SITE needs a sub-command.");
      return;
    case "HELP":
      c.out.replyText(214, ["SITE commands recognized:", " HELP", " IDLE [seconds]", "Help OK."]);
      return;
    case "IDLE": {
      if (rest === "") {
        c.out.replyText(200, `Current idle time limit is ${Math.round(s.idleTimeout / 1000)} seconds.`);
        return;
      }
      const seconds = /^\d{1,5}$/.test(rest) ? Number(rest) : -1;
      // A client may shorten its idle limit, never stretch it past the operator's (nor past 2 h).
      const max = Math.min(SITE_IDLE_MAX_SECONDS, Math.floor(s.config.timeouts.idle / 1000));
      const min = Math.min(SITE_IDLE_MIN_SECONDS, max);
      if (seconds < min || seconds > max) {
        c.out.replyText(501, `Idle time must be ${min} to ${max} seconds.`);
        return;
      }
      s.idleTimeout = seconds * 1000;
      c.out.replyText(200, `Idle time limit set to ${seconds} seconds.`);
      return;
    }
    case "CHMOD":
    case "UMASK":
    case "UTIME":
    case "SYMLINK":
      c.out.replyText(502, `SITE ${sub} not supported.`);
      return;
    default:
      c.out.reply(500, "Unknown SITE command.");
  }
}

const SITE_IDLE_MIN_SECONDS = 30;
const SITE_IDLE_MAX_SECONDS = 7200;

function HOST(s: Draft, c: Context): void {
  if (s.login.kind !== "none") {
    c.out.reply(503, "HOST must come before USER.");
    return;
  }
  const arg = (c.cmd.arg ?? "").trim();
  if (arg === "" || arg.includes(" ")) {
    c.out.reply(501, "Syntax error in HOST.");
    return;
  }
  c.out.reply(220, "Host accepted.");
}

function LANG(_s: Draft, c: Context): void {
  const tag = keyword(c);
  if (tag === "" || tag === "EN" || tag.startsWith("EN-")) c.out.reply(200, "Language set to EN.");
  else c.out.reply(504, "Unsupported language.");
}

// ---------------------------------------------------------------- TLS

function AUTH(s: Draft, c: Context): void {
  if (!s.config.tls) {
    c.out.reply(502, "TLS not configured.");
    return;
  }
  if (s.tls !== "none") {
    c.out.reply(503, "Already using TLS.");
    return;
  }
  const mechanism = keyword(c);
  if (mechanism !== "TLS" && mechanism !== "TLS-C" && mechanism !== "SSL" && mechanism !== "TLS-P") {
    c.out.reply(504, "Unknown AUTH mechanism.");
    return;
  }
  c.out.reply(234, "Proceed with negotiation.");
  // Plaintext pipelined behind AUTH must never run inside the TLS session (STARTTLS injection).
  s.queue = [];
  s.queueBytes = 0;
  s.reader = initialLineReader;
  s.tls = "handshaking";
  s.op = { kind: "tls", protectData: mechanism === "SSL" || mechanism === "TLS-P" };
  c.out.push({ type: "control.tls" });
}

function PBSZ(s: Draft, c: Context): void {
  if (s.tls !== "active") {
    c.out.reply(503, "PBSZ needs a TLS-protected control connection.");
    return;
  }
  if (!/^\d{1,10}$/.test((c.cmd.arg ?? "").trim())) {
    c.out.reply(501, "PBSZ needs a decimal size.");
    return;
  }
  s.pbsz = true;
  c.out.reply(200, "PBSZ=0");
}

function PROT(s: Draft, c: Context): void {
  if (s.tls !== "active" || !s.pbsz) {
    c.out.reply(503, "PROT needs AUTH and PBSZ first.");
    return;
  }
  const level = keyword(c);
  if (level === "C") {
    if (s.config.requireTlsForData) {
      s.clearRefused = true;
      c.out.reply(534, "Data connections must be encrypted.");
      return;
    }
    s.prot = "C";
    c.out.reply(200, "PROT now Clear.");
  } else if (level === "P") {
    s.prot = "P";
    s.clearRefused = false;
    c.out.reply(200, "PROT now Private.");
  } else if (level === "S" || level === "E") {
    c.out.reply(536, "PROT level not supported by TLS.");
  } else {
    c.out.reply(504, "Unknown PROT level.");
  }
}

function CCC(s: Draft, c: Context): void {
  if (s.tls !== "active") c.out.reply(533, "Control connection is not protected.");
  else c.out.reply(534, "CCC not allowed.");
}

function notImplemented(_s: Draft, c: Context): void {
  c.out.replyText(502, `${c.cmd.verb} not implemented.`);
}

// ---------------------------------------------------------------- the table

const entries: [string, boolean, string, (s: Draft, c: Context) => void][] = [
  ["USER", false, "USER <name>", USER],
  ["PASS", false, "PASS [<password>]", PASS],
  ["ACCT", false, "ACCT <account>", ACCT],
  ["REIN", false, "REIN", REIN],
  ["QUIT", false, "QUIT", QUIT],
  ["CWD", true, "CWD <path>", CWD],
  ["XCWD", true, "XCWD <path>", CWD],
  ["CDUP", true, "CDUP", CDUP],
  ["XCUP", true, "XCUP", CDUP],
  ["PWD", true, "PWD", PWD],
  ["XPWD", true, "XPWD", PWD],
  ["MKD", true, "MKD <path>", MKD],
  ["XMKD", true, "XMKD <path>", MKD],
  ["RMD", true, "RMD <path>", RMD],
  ["XRMD", true, "XRMD <path>", RMD],
  ["DELE", true, "DELE <path>", DELE],
  ["RNFR", true, "RNFR <path>", RNFR],
  ["RNTO", true, "RNTO <path>", RNTO],
  ["SIZE", true, "SIZE <path>", SIZE],
  ["MDTM", true, "MDTM <path>", MDTM],
  ["MFMT", true, "MFMT <YYYYMMDDHHMMSS> <path>", MFMT],
  ["MLST", true, "MLST [<path>]", MLST],
  ["MLSD", true, "MLSD [<dir>]", listingCommand("MLSD")],
  ["LIST", true, "LIST [<options>] [<path>]", listingCommand("LIST")],
  ["NLST", true, "NLST [<options>] [<path>]", listingCommand("NLST")],
  ["STAT", false, "STAT [<path>]", STAT],
  ["TYPE", true, "TYPE A [N] | I | L 8", TYPE],
  ["MODE", true, "MODE S", MODE],
  ["STRU", true, "STRU F", STRU],
  ["REST", true, "REST <offset>", REST],
  ["ALLO", true, "ALLO <size>", ALLO],
  ["PASV", true, "PASV", PASV],
  ["EPSV", true, "EPSV [1 | 2 | ALL]", EPSV],
  ["PORT", true, "PORT h1,h2,h3,h4,p1,p2", PORT],
  ["EPRT", true, "EPRT |af|address|port|", EPRT],
  ["RETR", true, "RETR <path>", RETR],
  ["STOR", true, "STOR <path>", storeCommand("STOR")],
  ["APPE", true, "APPE <path>", storeCommand("APPE")],
  ["STOU", true, "STOU [<name>]", STOU],
  ["ABOR", true, "ABOR", ABOR],
  ["SYST", false, "SYST", SYST],
  ["NOOP", false, "NOOP", NOOP],
  ["FEAT", false, "FEAT", FEAT],
  ["HELP", false, "HELP [<command>]", HELP],
  ["OPTS", false, "OPTS UTF8 ON | OPTS MLST <facts>", OPTS],
  ["SITE", true, "SITE HELP | SITE IDLE [<seconds>]", SITE],
  ["HOST", false, "HOST <domain>", HOST],
  ["LANG", false, "LANG [<tag>]", LANG],
  ["CLNT", false, "CLNT <client name>", CLNT],
  ["AUTH", false, "AUTH TLS", AUTH],
  ["PBSZ", false, "PBSZ 0", PBSZ],
  ["PROT", false, "PROT C | P", PROT],
  ["CCC", false, "CCC", CCC],
  ["SMNT", true, "SMNT", notImplemented],
  ["LPRT", true, "LPRT", notImplemented],
  ["LPSV", true, "LPSV", notImplemented],
];

const VERBS: ReadonlyMap<string, Verb> = new Map(entries.map(([name, login, syntax, run]) => [name, { login, syntax, run }]));
