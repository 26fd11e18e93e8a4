#!/usr/bin/env node
// The `pasv` command on Node. The command, not the library, owns signals and exit codes.
import { readFileSync, realpathSync, statSync } from "node:fs";
import path from "node:path";
import { createServer } from "@pasv/node";
import { runCommand } from "./run.js";

runCommand({
  runtime: "node",
  noTls: null,
  args: process.argv.slice(2),
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  exit: (code) => process.exit(code),
  directory: (dir) => {
    const real = realpathSync(path.resolve(dir));
    if (!statSync(real).isDirectory()) throw new Error("not a directory");
    return real;
  },
  readText: (file) => readFileSync(file, "utf8"),
  readBytes: (file) => readFileSync(file),
  createServer,
  onSignal: (signal, run) => process.on(signal, run),
  flush: () => new Promise((resolve) => process.stdout.write("", () => resolve())),
}).catch((error: unknown) => {
  process.stderr.write(`pasv: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
