// The second half of every command that asked the file system something.
import { assertNever } from "./assert.js";
import { encodeUtf8 } from "./utf8.js";
import { beginTransfer } from "./data.js";
import { fsErrorReply } from "./errors.js";
import { formatList, formatListLine, formatListLines, formatMlsdLines, formatMlstLine, formatNlstLines, matchesGlob } from "./listing.js";
import type { Out } from "./out.js";
import { baseName, parentPath, shownTarget } from "./paths.js";
import { quotePath } from "./reply.js";
import { COMMAND_RIGHTS, refusedFor, rightsKey, type Right } from "./rights.js";
import type { Draft, FsContinuation, ListingRequest } from "./state.js";
import { formatMdtm } from "./time.js";
import type { FileCommand, FileStat, FsErrorKind, FsOp, FsResult, Millis } from "./types.js";

export function onFsResult(s: Draft, then: FsContinuation, result: FsResult, started: Millis, now: Millis, out: Out): void {
  answer(s, then, result, started, now, out);
  const file = fileCommandOf(then);
  if (file === null) return;
  // This command's record: its refusal (a file-system error) is not noticed a second time.
  s.answering = null;
  out.push({ type: "notice", notice: { kind: "file", command: file.command, path: file.path, from: then.k === "rnto" ? then.from : null, ok: result.ok, code: out.lastCode } });
}

function fileCommandOf(then: FsContinuation): { readonly command: FileCommand; readonly path: string } | null {
  switch (then.k) {
    case "mkd":
      return { command: "MKD", path: then.path };
    case "rmd":
      return { command: "RMD", path: then.path };
    case "dele":
      return { command: "DELE", path: then.path };
    case "rnfr":
      return { command: "RNFR", path: then.path };
    case "rnto":
      return { command: "RNTO", path: then.path };
    case "mfmt-set":
      return { command: "MFMT", path: then.path };
    case "cwd":
    case "size":
    case "mdtm":
    case "mlst":
    case "stat-path":
    case "stat-list":
    case "retr":
    case "store":
    case "stou":
    case "parent":
    case "listing-stat":
      return null;
    default:
      return assertNever(then);
  }
}

function answer(s: Draft, then: FsContinuation, result: FsResult, started: Millis, now: Millis, out: Out): void {
  if (!result.ok) {
    onFsError(s, then, result.error, result.limit ?? null, started, now, out);
    return;
  }
  const value = result.value;
  const stat = value.op === "stat" ? value.stat : null;
  const entries = value.op === "list" ? value.entries : null;
  switch (then.k) {
    case "cwd":
      if (stat?.type === "dir") {
        s.cwd = then.path;
        out.reply(250, "Directory successfully changed.");
      } else {
        out.reply(550, "Failed to change directory.");
      }
      return;
    case "size":
      if (stat?.type === "file") out.replyText(213, String(stat.size));
      else out.reply(550, "Could not get file size.");
      return;
    case "mdtm":
      if (stat?.type === "file") out.replyText(213, formatMdtm(stat.mtime));
      else out.reply(550, "Could not get file modification time.");
      return;
    case "mfmt-set":
      out.replyText(213, `Modify=${formatMdtm(then.mtime)}; ${then.shown}`);
      return;
    case "mlst":
      if (stat === null) break;
      out.replyText(250, [`Listing ${then.shown}`, formatMlstLine(stat, s.mlstFacts, rights(s), then.path), "End"]);
      return;
    case "stat-path":
      if (stat === null) break;
      if (stat.type === "dir") {
        ask(s, { op: "list", path: then.path }, { k: "stat-list", path: then.path }, started, out);
      } else {
        out.replyText(213, ["Status follows:", ` ${formatListLine({ ...stat, name: baseName(then.path) }, now)}`, "End of status."]);
      }
      return;
    case "stat-list": {
      if (entries === null) break;
      const lines = listLines(s, insideTargets(entries, then.path), now);
      if (lines === null) out.reply(550, "Directory listing too large.");
      else out.replyText(213, ["Status follows:", ...lines, "End of status."]);
      return;
    }
    case "mkd":
      out.replyText(257, `${quotePath(then.path)} created.`);
      return;
    case "rmd":
      out.reply(250, "Remove directory operation successful.");
      return;
    case "dele":
      out.reply(250, "Delete operation successful.");
      return;
    case "rnfr":
      s.renameFrom = then.path;
      out.reply(350, "Ready for RNTO.");
      return;
    case "rnto":
      out.reply(250, "Rename successful.");
      return;
    case "retr":
      if (stat === null) break;
      if (stat.type !== "file") {
        out.reply(550, "Not a regular file.");
        return;
      }
      if (s.type === "I" && then.offset > stat.size) {
        out.reply(554, "Invalid REST parameter.");
        return;
      }
      beginTransfer(
        s,
        {
          command: "RETR",
          path: then.path,
          spec: { kind: "send-file", path: then.path, offset: then.offset, ascii: s.type === "A" },
          mark: `Opening ${s.type === "A" ? "ASCII" : "BINARY"} mode data connection for ${then.shown} (${stat.size} bytes).`,
        },
        started,
        now,
        out,
      );
      return;
    case "store":
      if (stat === null) break;
      if (stat.type !== "file") {
        out.reply(550, "Not a regular file.");
        return;
      }
      if (uploadRefused(s, then.command, then.offset, true, out)) return;
      store(s, then.command, then.path, then.offset, stat.size, started, now, out);
      return;
    case "stou": {
      // The name is taken: try the next candidate.
      const attempt = then.attempt + 1;
      if (attempt >= s.config.limits.maxStouAttempts) {
        out.reply(553, "Could not create a unique file name.");
        return;
      }
      const candidate = `${then.base}.${attempt}`;
      ask(s, { op: "stat", path: candidate }, { k: "stou", base: then.base, attempt }, started, out);
      return;
    }
    case "parent":
      if (stat?.type === "dir") newFile(s, then.command, then.path, then.offset, started, now, out);
      else out.reply(553, "Could not create file.");
      return;
    case "listing-stat":
      if (stat === null) break;
      listingAfterStat(s, then.listing, stat, started, now, out);
      return;
    default:
      assertNever(then);
  }
  // A result of the wrong shape for the request: the adapter broke the contract.
  out.reply(451, "Local error in processing.");
}

function onFsError(s: Draft, then: FsContinuation, error: FsErrorKind, limit: number | null, started: Millis, now: Millis, out: Out): void {
  if (then.k === "stou" && error === "not-found") {
    const path = then.attempt === 0 ? then.base : `${then.base}.${then.attempt}`;
    newFileIn(s, "STOU", path, 0, started, now, out);
    return;
  }
  if (then.k === "store" && error === "not-found") {
    if (uploadRefused(s, then.command, then.offset, false, out)) return;
    newFileIn(s, then.command, then.path, then.offset, started, now, out);
    return;
  }
  if (then.k === "parent" && (error === "not-found" || error === "not-a-directory")) {
    out.reply(553, "Could not create file.");
    return;
  }
  if (then.k === "cwd") {
    out.reply(550, "Failed to change directory.");
    return;
  }
  if (then.k === "rnto" && error === "too-large") {
    // An object store copies a directory key by key, so it renames only small ones: say so, and how small.
    out.reply(550, limit === null ? "Directory too large to rename." : `Directory too large to rename (over ${limit} objects).`);
    return;
  }
  const reply = fsErrorReply(error);
  out.replyText(reply.code, reply.text);
}

/** A file that does not exist yet: created only in a directory that does (the root always does). */
function newFileIn(s: Draft, command: "STOR" | "APPE" | "STOU", path: string, offset: number, started: Millis, now: Millis, out: Out): void {
  const parent = parentPath(path);
  if (parent === "/") newFile(s, command, path, offset, started, now, out);
  else ask(s, { op: "stat", path: parent }, { k: "parent", command, path, offset }, started, out);
}

function newFile(s: Draft, command: "STOR" | "APPE" | "STOU", path: string, offset: number, started: Millis, now: Millis, out: Out): void {
  if (command !== "STOU") {
    // The stat found no file. If one appears before the write (another session's upload), only
    // an account that may replace (or append to) it may have it replaced: for any other the write
    // is exclusive, and fails rather than overwrite.
    store(s, command, path, offset, 0, started, now, out, offset === 0 && !mayWriteExisting(s, command, offset));
    return;
  }
  beginTransfer(
    s,
    { command: "STOU", path, spec: { kind: "receive-file", path, mode: "create-new", offset: 0, ascii: s.type === "A" }, mark: `FILE: ${baseName(path)}` },
    started,
    now,
    out,
  );
}

function store(s: Draft, command: "STOR" | "APPE", path: string, offset: number, size: number, started: Millis, now: Millis, out: Out, exclusive = false): void {
  if (offset > size) {
    out.reply(554, "Invalid REST parameter.");
    return;
  }
  const mode = exclusive ? "create-new" : offset > 0 ? "at-offset" : command === "APPE" ? "append" : "truncate";
  beginTransfer(
    s,
    { command, path, spec: { kind: "receive-file", path, mode, offset, ascii: s.type === "A" }, mark: "Ok to send data." },
    started,
    now,
    out,
  );
}

function listingAfterStat(s: Draft, listing: ListingRequest, stat: FileStat, started: Millis, now: Millis, out: Out): void {
  if (stat.type === "dir") {
    streamListing(s, listing, started, now, out);
    return;
  }
  if (listing.command === "MLSD") {
    out.reply(501, "Not a directory.");
    return;
  }
  if (listing.glob !== null) {
    out.reply(550, "No such file or directory.");
    return;
  }
  const single: FileStat = { ...stat, name: baseName(listing.path) };
  const text = listing.command === "LIST" ? formatList([single], now, true) : `${listing.given ?? single.name}\r\n`;
  beginTransfer(s, { command: listing.command, path: listing.path, spec: { kind: "send-bytes", bytes: encodeUtf8(text) }, mark: LISTING_MARK }, started, now, out);
}

const LISTING_MARK = "Here comes the directory listing.";

/** A directory's listing, streamed: the driver reads it batch by batch once the data connection is up (onListingBatch). */
function streamListing(s: Draft, listing: ListingRequest, started: Millis, now: Millis, out: Out): void {
  beginTransfer(s, { command: listing.command, path: listing.path, spec: { kind: "send-listing", path: listing.path }, mark: LISTING_MARK, listing }, started, now, out);
}

/**
 * One batch of a streamed listing: its lines, in the order the batch came, go back to the driver
 * to write. Every batch of the running transfer gets exactly one listing.write (an empty one when
 * nothing of it is shown), so the driver can read the next batch only once this one is written;
 * a batch for a transfer that is no longer running (aborted meanwhile) gets none.
 */
export function onListingBatch(s: Draft, transfer: number, entries: readonly FileStat[], now: Millis, out: Out): void {
  const op = s.op;
  if (op.kind !== "transfer" || op.phase !== "running" || op.transfer !== transfer) return;
  const listing = op.plan.listing;
  if (listing === undefined) return;
  const glob = listing.glob;
  const matching = glob === null ? entries : entries.filter((e) => matchesGlob(glob, e.name));
  const shown = insideTargets(matching, listing.path);
  // Hidden dot files stay hidden whatever the glob; otherwise a ".*" glob asks for them.
  const show = !hidesDotFiles(s) && (s.config.showDotFiles || glob?.startsWith(".") === true);
  let text: string;
  switch (listing.command) {
    case "LIST":
      text = formatListLines(shown, now, show);
      break;
    case "NLST":
      text = formatNlstLines(shown, listing.given, show);
      break;
    case "MLSD":
      text = formatMlsdLines(shown, s.mlstFacts, rights(s), show);
      break;
    default:
      assertNever(listing.command);
  }
  out.push({ type: "listing.write", transfer, bytes: encodeUtf8(text) });
}

/**
 * STAT's ls lines, each indented by one space like every other middle line the core builds (FEAT,
 * HELP, MLST, the 211 status) and as ProFTPD sends them: no row can then look like a final reply
 * line whatever its text. lftp (ftp:use-stat-for-list) reads the rows with or without the space;
 * vsftpd sends them unindented, which SPEC §5 also allows.
 */
function listLines(s: Draft, entries: readonly FileStat[], now: Millis): string[] | null {
  const text = formatList(entries, now, s.config.showDotFiles && !hidesDotFiles(s));
  // Built whole and sent on the control connection: bounded (a data-connection listing is streamed).
  if (encodeUtf8(text).length > s.config.limits.maxListingBytes) return null;
  const lines = text.split("\r\n");
  lines.pop();
  return lines.map((line) => ` ${line}`);
}

function ask(s: Draft, fs: FsOp, then: FsContinuation, started: Millis, out: Out): void {
  const request = s.nextId++;
  s.op = { kind: "fs", request, then, started };
  out.push({ type: "fs", request, fs });
}

/** Symlinks keep their target only where it stays inside the user's root (see shownTarget). */
function insideTargets(entries: readonly FileStat[], dir: string): readonly FileStat[] {
  return entries.map((e) => {
    if (e.type !== "symlink" || e.target === undefined) return e;
    const target = shownTarget(dir, e.target);
    if (target !== undefined) return e;
    const { target: _hidden, ...rest } = e;
    return rest;
  });
}

function rights(s: Draft): readonly Right[] {
  return s.login.kind === "in" ? s.login.account.rights : [];
}

function hidesDotFiles(s: Draft): boolean {
  return s.login.kind === "in" && s.login.account.hideDotFiles;
}

/**
 * The second half of the rights gate (commands.ts): once the stat has said whether the target exists,
 * STOR over a file needs `overwrite`, APPE onto one `append`, a new file `create` (COMMAND_RIGHTS).
 * Refused here, only the stat has been asked: no write is started.
 */
/** Whether the account's rights would let this upload write into a file that already exists. */
function mayWriteExisting(s: Draft, command: "STOR" | "APPE", offset: number): boolean {
  const key = rightsKey(command, null, offset);
  const rule = key === null ? undefined : COMMAND_RIGHTS.get(key);
  return rule === undefined || !refusedFor(rights(s), rule, true);
}

function uploadRefused(s: Draft, command: "STOR" | "APPE", offset: number, exists: boolean, out: Out): boolean {
  const key = rightsKey(command, null, offset);
  const rule = key === null ? undefined : COMMAND_RIGHTS.get(key);
  if (rule === undefined || !refusedFor(rights(s), rule, exists)) return false;
  out.reply(550, "Permission denied.");
  return true;
}
