import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { check } from "../test/replay.js";
import { parseCommand, type ParsedCommand } from "./command.js";

const FILE = "packages/core/src/command.prop.test.ts";
// ignoreBOM: an argument that begins with U+FEFF keeps it (utf8.ts); the default would drop it.
const fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const lossy = new TextDecoder("utf-8", { ignoreBOM: true });

/** SPEC §1.4 written plainly with the runtime's decoder (no fast path, no byte tricks). */
function reference(line: Uint8Array): ParsedCommand {
  const space = line.indexOf(0x20);
  const word = line.subarray(0, space < 0 ? line.length : space);
  const shown = [...word.subarray(0, 64)].map((b) => (b < 0x80 ? String.fromCharCode(b).toUpperCase() : "\ufffd")).join("");
  let verb = shown;
  if (word.length > 64 || /[^A-Z]/.test(shown)) {
    for (const urgent of ["ABOR", "STAT", "QUIT"]) if (shown.endsWith(urgent)) verb = urgent;
  }
  if (space < 0) return { verb, arg: null, argInvalid: false };
  const raw = line.subarray(space + 1).map((b) => (b === 0 ? 0x0a : b));
  try {
    return { verb, arg: fatal.decode(raw), argInvalid: false };
  } catch {
    return { verb, arg: lossy.decode(raw), argInvalid: true };
  }
}

const piece = fc.oneof(
  fc.constantFrom("RETR", "retr", "ABOR", "stat", "QUIT", "X", " ", "  ", "\0", "\xff", "é", "😀", "\x01", "\t", "/a b/"),
  fc.string({ unit: "grapheme-ascii", maxLength: 10 }),
);
const line = fc.oneof(
  fc.array(piece, { minLength: 1, maxLength: 8 }).map((p) => Buffer.from(p.join(""), "utf8")),
  fc.array(fc.oneof(fc.constantFrom(0x00, 0x20, 0x41, 0x61, 0x80, 0xc3, 0xa9, 0xf2, 0xff), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 40 }).map((a) => new Uint8Array(a)),
  fc.tuple(fc.integer({ min: 1, max: 80 }), fc.constantFrom("ABOR", "QUIT", "NOOP"), fc.constantFrom("", " x")).map(([n, v, a]) => Buffer.from(`${"-".repeat(n)}${v}${a}`)),
  fc.tuple(fc.integer({ min: 1, max: 600 }), fc.string({ maxLength: 5 })).map(([n, a]) => Buffer.from(`${"a".repeat(n)} ${a}`)),
);

describe("parseCommand properties", () => {
  it("matches the plain reading of SPEC §1.4 for any line", () => {
    check(
      fc.property(line, (bytes) => {
        expect(parseCommand(bytes)).toEqual(reference(bytes));
      }),
      FILE,
      { numRuns: 3000 },
    );
  });

  it("keeps the argument verbatim: verb + space + argument re-encodes to the line", () => {
    check(
      fc.property(fc.stringMatching(/^[A-Za-z]{1,6}$/), fc.string({ unit: "binary", maxLength: 30 }), (verb, arg) => {
        const parsed = parseCommand(Buffer.from(`${verb} ${arg}`, "utf8"));
        expect(parsed).toEqual({ verb: verb.toUpperCase(), arg: arg.replace(/\0/g, "\n"), argInvalid: false });
      }),
      FILE,
      { numRuns: 2000 },
    );
  });
});
