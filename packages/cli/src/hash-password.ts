// `pasv hash-password`: a password from stdin (on a terminal twice, without echo), printed as an
// argon2id hash for a users file or a config file's [[user]].
import { hashPassword } from "@pasv/driver";

/** What the subcommand needs of its host (the command's CommandHost has all of it). */
export interface PasswordHost {
  readonly stdin: PasswordInput;
  out(line: string): void;
  err(line: string): void;
  exit(code: number): never;
  flush(): Promise<void>;
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
async function readNewPassword(host: PasswordHost): Promise<string | { readonly problem: string; readonly code: number }> {
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

export async function hashPasswordCommand(host: PasswordHost, fail: (message: string) => never): Promise<void> {
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
