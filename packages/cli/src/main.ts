#!/usr/bin/env node
// The `pasv` command: serve a directory. The command, not the library, owns signals and exit codes.
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { createServer } from "@pasv/node";
import { parseCli, parseUsersFile, USAGE, type CliUser } from "./args.js";

const VERSION = "0.1.0";

function fail(message: string): never {
  process.stderr.write(`pasv: ${message}\nTry 'pasv --help' for more information.\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  const parsed = parseCli(process.argv.slice(2));
  switch (parsed.kind) {
    case "help":
      process.stdout.write(USAGE);
      return;
    case "version":
      process.stdout.write(`pasv ${VERSION}\n`);
      return;
    case "error":
      fail(parsed.message);
      break;
    case "run":
      break;
  }
  const o = parsed.options;
  const dir = path.resolve(o.dir);
  try {
    if (!statSync(dir).isDirectory()) fail(`${dir} is not a directory`);
  } catch {
    fail(`cannot serve ${dir}: no such directory`);
  }
  let users: CliUser[] = [...o.users];
  if (o.usersFile !== null) {
    let text: string;
    try {
      text = readFileSync(o.usersFile, "utf8");
    } catch (error) {
      fail(`cannot read users file ${o.usersFile}: ${String(error)}`);
    }
    const more = parseUsersFile(text);
    if (typeof more === "string") fail(more);
    users = users.concat(more);
  }
  if (!o.anonymous && users.length === 0) fail("--no-anonymous needs at least one --user or --users file");
  let tls: { key: Buffer; cert: Buffer; required: boolean } | undefined;
  if (o.tls !== null) {
    try {
      tls = { cert: readFileSync(o.tls.cert), key: readFileSync(o.tls.key), required: o.tls.required };
    } catch (error) {
      fail(`cannot read the TLS certificate or key: ${error instanceof Error ? error.message : String(error)}`);
    }
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
    ...(tls === undefined ? {} : { tls }),
    log: (line) => process.stdout.write(`${new Date().toISOString()} ${line}\n`),
  });
  let address;
  try {
    address = await server.listen(o.port, o.host);
  } catch (error) {
    fail(`cannot listen on ${o.host}:${o.port}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const who = [
    o.anonymous ? "anonymous read-only" : null,
    users.length > 0 ? `${users.length} user${users.length === 1 ? "" : "s"} ${o.write ? "read-write" : "read-only"}` : null,
    o.tls === null ? null : o.tls.required ? "TLS required for users" : "TLS offered",
  ].filter((x) => x !== null).join(", ");
  const host = address.address.includes(":") ? `[${address.address}]` : address.address;
  process.stdout.write(`pasv: serving ${dir} on ftp://${host}:${address.port} (${who})\n`);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`pasv: ${signal}, stopping\n`);
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

main().catch((error: unknown) => {
  process.stderr.write(`pasv: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
