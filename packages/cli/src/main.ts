#!/usr/bin/env node
// The `pasv` command on Node. The command, not the library, owns signals and exit codes.
import { readFileSync, realpathSync, statSync } from "node:fs";
import { appendFile } from "node:fs/promises";
import path from "node:path";
import { createServer } from "@pasv/node";
import { runCommand, type PasswordInput } from "./run.js";

/** Standard input for `pasv hash-password`, read only when that subcommand asks. */
function stdin(): PasswordInput {
  let chunks: AsyncIterator<Buffer> | null = null;
  return {
    isTerminal: process.stdin.isTTY,
    setRaw: (on) => {
      process.stdin.setRawMode(on);
      // Leaving raw mode is the last read: let the process end without waiting for more input.
      if (!on) process.stdin.pause();
    },
    read: async () => {
      chunks ??= (process.stdin as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
      const next = await chunks.next();
      return next.done === true ? null : next.value;
    },
  };
}

runCommand({
  runtime: "node",
  noTls: null,
  args: process.argv.slice(2),
  interactive: process.stdout.isTTY,
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
  stdin: stdin(),
  createServer,
  onSignal: (signal, run) => process.on(signal, run),
  appendText: (file, text) => appendFile(file, text),
  flush: () => new Promise((resolve) => process.stdout.write("", () => resolve())),
}).catch((error: unknown) => {
  process.stderr.write(`pasv: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
