// `scripts/deno.sh run -A packages/deno/src/main.ts [DIR] [flags]`: the pasv command on Deno, with
// the same flags and the same mapping as on Node (@pasv/cli).
import { runCommand } from "@pasv/cli";
import { createServer } from "./server.ts";

/** Log lines waiting for stdout; past this many a slow reader costs lines, never the server's progress. */
const MAX_QUEUED_LOG_LINES = 10_000;
const queue: string[] = [];
let dropped = 0;
let pumping: Promise<void> | null = null;

/** How long a log line may wait for others to share its write: one write per burst, not per line
 * (an async write per record cost 8% of the CPU of a 4 KiB download, measured with `pnpm bench
 * small --logging`). */
const LOG_BATCH_MS = 20;
let batching: ReturnType<typeof setTimeout> | null = null;

/** console.log is synchronous in Deno: a stdout pipe nobody reads would stall every session. */
function out(line: string): void {
  if (queue.length >= MAX_QUEUED_LOG_LINES) {
    dropped++;
    return;
  }
  queue.push(line);
  if (pumping === null && batching === null) batching = setTimeout(startPump, LOG_BATCH_MS);
}

function startPump(): Promise<void> {
  if (batching !== null) clearTimeout(batching);
  batching = null;
  pumping ??= pump().finally(() => {
    pumping = null;
    // Lines that came while the last write was under way wait for the next batch.
    if (queue.length > 0 && batching === null) batching = setTimeout(startPump, LOG_BATCH_MS);
  });
  return pumping;
}

async function pump(): Promise<void> {
  const encoder = new TextEncoder();
  while (queue.length > 0) {
    const lines = queue.splice(0);
    if (dropped > 0) {
      lines.push(`pasv: ${dropped} log line(s) dropped (stdout too slow)`);
      dropped = 0;
    }
    const bytes = encoder.encode(`${lines.join("\n")}\n`);
    try {
      let at = 0;
      while (at < bytes.length) at += await Deno.stdout.write(bytes.subarray(at));
    } catch {
      return;
    }
  }
}

await runCommand({
  runtime: "deno",
  noTls: null,
  args: Deno.args,
  interactive: Deno.stdout.isTerminal(),
  out,
  err: (line) => console.error(line),
  exit: (code) => Deno.exit(code),
  directory: (dir) => {
    const real = Deno.realPathSync(dir);
    if (!Deno.statSync(real).isDirectory) throw new Error("not a directory");
    return real;
  },
  readText: (file) => Deno.readTextFileSync(file),
  readBytes: (file) => Deno.readFileSync(file),
  stdin: {
    isTerminal: Deno.stdin.isTerminal(),
    setRaw: (on) => Deno.stdin.setRaw(on),
    read: async () => {
      const buffer = new Uint8Array(1024);
      const n = await Deno.stdin.read(buffer);
      return n === null ? null : buffer.subarray(0, n);
    },
  },
  createServer,
  onSignal: (signal, run) => Deno.addSignalListener(signal, run),
  appendText: (file, text) => Deno.writeTextFile(file, text, { append: true }),
  // Everything queued goes out now, the batch's wait included.
  flush: async () => {
    while (queue.length > 0 || pumping !== null) await startPump();
  },
});
