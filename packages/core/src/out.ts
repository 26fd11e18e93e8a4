// Collects one step's actions. Consecutive replies are merged into one write so a pipelined burst
// costs the adapter one syscall, not one per command.
import { encodeReply } from "./reply.js";
import type { Action, MultilineStyle } from "./types.js";

const constantReplies = new Map<number, Map<string, Uint8Array>>();
let cached = 0;
/** Only the fixed texts in this package are cached, so this bound is never reached in practice. */
const CONSTANT_CACHE_LIMIT = 512;

/** Encoded bytes of a reply; texts without variable parts are encoded once and reused (never mutated). */
function encoded(code: number, text: string | readonly string[], constant: boolean, style: MultilineStyle): Uint8Array {
  if (!constant || typeof text !== "string") return encodeReply(code, text, style);
  let byText = constantReplies.get(code);
  if (byText === undefined) {
    byText = new Map();
    constantReplies.set(code, byText);
  }
  let bytes = byText.get(text);
  if (bytes === undefined) {
    bytes = encodeReply(code, text);
    if (cached < CONSTANT_CACHE_LIMIT) {
      byText.set(text, bytes);
      cached++;
    }
  }
  return bytes;
}

export class Out {
  constructor(private readonly style: MultilineStyle = "plain") {}

  readonly actions: Action[] = [];
  private pending: Uint8Array[] = [];
  private pendingLength = 0;
  /** Replies written so far this step, and the last one's code and first line: which reply ended a
   * command is how refusals are noticed (see `settleCommand`), without keeping every reply. */
  replies = 0;
  lastCode = 0;
  lastText = "";

  /** A reply whose text is fixed (cached encoding). */
  reply(code: number, text: string): void {
    this.noteReply(code, text);
    this.write(encoded(code, text, true, this.style));
  }

  /** A reply whose text varies (paths, numbers) or spans several lines. */
  replyText(code: number, text: string | readonly string[]): void {
    this.noteReply(code, typeof text === "string" ? text : (text[0] ?? ""));
    this.write(encoded(code, text, false, this.style));
  }

  private noteReply(code: number, text: string): void {
    this.replies++;
    this.lastCode = code;
    this.lastText = text;
  }

  push(action: Action): void {
    this.flushWrites();
    this.actions.push(action);
  }

  finish(): Action[] {
    this.flushWrites();
    return this.actions;
  }

  private write(bytes: Uint8Array): void {
    this.pending.push(bytes);
    this.pendingLength += bytes.length;
  }

  private flushWrites(): void {
    if (this.pending.length === 0) return;
    // Always a fresh buffer: cached reply encodings are shared and must never reach an adapter that might keep or change them.
    const bytes = new Uint8Array(this.pendingLength);
    let at = 0;
    for (const part of this.pending) {
      bytes.set(part, at);
      at += part.length;
    }
    this.pending = [];
    this.pendingLength = 0;
    this.actions.push({ type: "control.write", bytes });
  }
}
