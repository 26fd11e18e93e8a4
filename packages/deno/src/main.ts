// `deno run -A packages/deno/src/main.ts [DIR] [flags]`: the pasv command on Deno (same flags).
import { parseCli, parseUsersFile, USAGE } from "@pasv/cli";
import { createServer } from "./server.ts";

/** Log lines waiting for stdout; past this many a slow reader costs lines, never the server's progress. */
const MAX_QUEUED_LOG_LINES = 10_000;
const logQueue: string[] = [];
let dropped = 0;
let pumping = false;

/** console.log is synchronous in Deno: a stdout pipe nobody reads would stall every session. */
function log(line: string): void {
  if (logQueue.length >= MAX_QUEUED_LOG_LINES) {
    dropped++;
    return;
  }
  logQueue.push(line);
  if (!pumping) void pump();
}

async function pump(): Promise<void> {
  pumping = true;
  const encoder = new TextEncoder();
  while (logQueue.length > 0) {
    const lines = logQueue.splice(0);
    if (dropped > 0) {
      lines.push(`pasv: ${dropped} log line(s) dropped (stdout too slow)`);
      dropped = 0;
    }
    const bytes = encoder.encode(`${lines.join("\n")}\n`);
    try {
      let at = 0;
      while (at < bytes.length) at += await Deno.stdout.write(bytes.subarray(at));
    } catch {
      break;
    }
  }
  pumping = false;
}

function fail(message: string): never {
  console.error(`pasv: ${message}\nTry 'pasv --help' for more information.`);
  Deno.exit(2);
}

const parsed = parseCli(Deno.args);
if (parsed.kind === "help") {
  console.log(USAGE);
  Deno.exit(0);
}
if (parsed.kind === "version") {
  console.log("pasv 0.1.0 (deno)");
  Deno.exit(0);
}
if (parsed.kind === "error") fail(parsed.message);
const o = parsed.options;
let dir: string;
try {
  dir = await Deno.realPath(o.dir);
  if (!(await Deno.stat(dir)).isDirectory) fail(`${dir} is not a directory`);
} catch {
  fail(`cannot serve ${o.dir}: no such directory`);
}
let users = [...o.users];
if (o.usersFile !== null) {
  const more = parseUsersFile(await Deno.readTextFile(o.usersFile));
  if (typeof more === "string") fail(more);
  users = users.concat(more);
}
const server = createServer({
  root: dir,
  users: users.map((u) => ({ ...u, write: o.write })),
  anonymous: o.anonymous,
  write: o.write,
  ...(o.passivePorts === null ? {} : { passivePorts: o.passivePorts }),
  ...(o.publicAddress === null ? {} : { publicAddress: o.publicAddress }),
  ...(o.idleTimeoutSeconds === null ? {} : { idleTimeoutMs: o.idleTimeoutSeconds * 1000 }),
  ...(o.maxSessions === null ? {} : { maxSessions: o.maxSessions }),
  ...(o.maxSessionsPerIp === null ? {} : { maxSessionsPerIp: o.maxSessionsPerIp }),
  log: (line) => log(`${new Date().toISOString()} ${line}`),
});
let address: { address: string; port: number };
try {
  address = await server.listen(o.port, o.host);
} catch (error) {
  fail(`cannot listen on ${o.host}:${o.port}: ${String(error)}`);
}
const who = [o.anonymous ? "anonymous read-only" : null, users.length > 0 ? `${users.length} user${users.length === 1 ? "" : "s"} ${o.write ? "read-write" : "read-only"}` : null].filter((x) => x !== null).join(", ");
log(`pasv: serving ${dir} on ftp://${address.address}:${address.port} (${who}) [deno]`);
let stopping = false;
const stop = (signal: string): void => {
  if (stopping) return;
  stopping = true;
  log(`pasv: ${signal}, stopping`);
  void server
    .close()
    .then(() => pump())
    .then(() => Deno.exit(0));
};
Deno.addSignalListener("SIGINT", () => stop("SIGINT"));
Deno.addSignalListener("SIGTERM", () => stop("SIGTERM"));
