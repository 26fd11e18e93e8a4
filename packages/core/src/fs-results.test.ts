// Streamed listings (onListingBatch) and the answers of file-system results that carry a limit.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { codes, World } from "../test/harness.js";
import type { Action, FileStat } from "./types.js";

const file = (name: string, size = 1): FileStat => ({ name, type: "file", size, mtime: 1_700_000_000_000, mode: 0o644, unique: `u${name}` });
const dir = (name: string): FileStat => ({ name, type: "dir", size: 0, mtime: 1_700_000_000_000, mode: 0o755, unique: `d${name}` });

const NAMES = ["a.txt", ".hidden", "b c", "sub", "z\r\nforged", "zz"];
const ENTRIES: readonly FileStat[] = NAMES.map((n) => (n === "sub" ? dir(n) : file(n)));

/** Runs `line` with the directory's entries posted in the given batches; returns the replies and the text sent. */
function listIn(line: string, batches: readonly (readonly FileStat[])[], config: { showDotFiles?: boolean } = {}): { replies: string[]; text: string; writes: number } {
  const w = new World({ files: { "/pub": null }, autoConnect: true, holdTransfers: true, config });
  w.login();
  w.cmd("PASV");
  const replies = w.cmd(line);
  let text = "";
  let writes = 0;
  for (const batch of batches) {
    const answer = w.feedListing(batch);
    // Every batch is answered, even one with nothing to show: the driver waits for it before reading on.
    expect(answer, `batch ${JSON.stringify(batch.map((e) => e.name))}`).not.toBeNull();
    text += answer ?? "";
    writes++;
  }
  replies.push(...w.finishTransfer());
  return { replies, text, writes };
}

function lastTransfer(w: World): number {
  return (w.actions.findLast((a) => a.type === "transfer.start") as Extract<Action, { type: "transfer.start" }>).transfer;
}

/** Every way to cut `entries` into consecutive batches, empty batches included at the ends. */
function splits(entries: readonly FileStat[]): (readonly FileStat[])[][] {
  const out: (readonly FileStat[])[][] = [];
  const n = entries.length;
  for (let mask = 0; mask < 1 << (n - 1); mask++) {
    const batches: FileStat[][] = [[]];
    entries.forEach((e, i) => {
      (batches.at(-1) as FileStat[]).push(e);
      if (i < n - 1 && (mask & (1 << i)) !== 0) batches.push([]);
    });
    out.push(batches, [[], ...batches, []]);
  }
  return out;
}

describe("streamed listings", () => {
  for (const line of ["LIST", "NLST /pub", "MLSD", "LIST -la", "NLST z*"]) {
    it(`${line}: the same text whatever the batches, split at every boundary`, () => {
      const whole = listIn(line, [ENTRIES]);
      expect(codes(whole.replies)).toEqual([150, 226]);
      expect(whole.text).not.toContain("forged");
      for (const batches of splits(ENTRIES)) {
        const cut = listIn(line, batches);
        expect(cut.writes).toBe(batches.length);
        expect(cut.text, JSON.stringify(batches.map((b) => b.map((e) => e.name)))).toBe(whole.text);
        expect(cut.replies).toEqual(whole.replies);
      }
    });
  }

  it("formats each batch in the order it came, the names of a directory argument prefixed", () => {
    expect(listIn("NLST /pub", [[file("b"), file("a")], [file("c")]]).text).toBe("/pub/b\r\n/pub/a\r\n/pub/c\r\n");
    expect(listIn("NLST", [[file("b")], [dir("a")]]).text).toBe("b\r\na\r\n");
    const mlsd = listIn("MLSD", [[dir("d")], [file("f", 7)]]).text.split("\r\n");
    expect(mlsd[0]).toMatch(/^type=dir;.* d$/);
    expect(mlsd[1]).toMatch(/^type=file;size=7;.* f$/);
  });

  it("hides dot files batch by batch, unless the server shows them", () => {
    expect(listIn("NLST", [[file(".a")], [file("b"), file(".c")]], { showDotFiles: false }).text).toBe("b\r\n");
    expect(listIn("NLST", [[file(".a")], [file("b")]], { showDotFiles: true }).text).toBe(".a\r\nb\r\n");
  });

  it("an empty directory: no batch at all, or empty batches, is an empty listing and 226", () => {
    for (const batches of [[], [[]], [[], []]]) {
      const { replies, text } = listIn("LIST", batches);
      expect(codes(replies)).toEqual([150, 226]);
      expect(replies.at(-1)).toBe("226 Directory send OK.");
      expect(text).toBe("");
    }
  });

  it("a directory the world lists by itself arrives whole, batch after batch", () => {
    const files = Object.fromEntries(Array.from({ length: 7 }, (_, i) => [`/d/f${i}`, "x"]));
    const w = new World({ files: { "/d": null, ...files }, autoConnect: true, listingBatch: 3 });
    w.login();
    w.cmd("PASV");
    expect(codes(w.cmd("NLST"))).toEqual([150, 226]);
    expect(w.received.at(-1)).toBe("d\r\n");
    w.cmd("PASV");
    const before = w.actions.length;
    expect(codes(w.cmd("NLST /d"))).toEqual([150, 226]);
    expect(w.received.at(-1)).toBe(Array.from({ length: 7 }, (_, i) => `/d/f${i}\r\n`).join(""));
    // Three batches of 3, 3 and 1 entries, each answered once.
    expect(w.actions.slice(before).filter((a) => a.type === "listing.write")).toHaveLength(3);
  });

  it("a failure part-way: the file side is 451, the data side 426, after the lines already sent", () => {
    for (const [failure, code] of [
      [{ side: "file", error: "io" }, 451],
      [{ side: "data", reason: "reset" }, 426],
      [{ side: "data", reason: "stall" }, 426],
    ] as const) {
      const w = new World({ files: { "/pub": null }, autoConnect: true, holdTransfers: true });
      w.login();
      w.cmd("PASV");
      expect(codes(w.cmd("LIST"))).toEqual([150]);
      expect(w.feedListing([file("a")])).toContain(" a\r\n");
      expect(codes(w.finishTransfer(failure))).toEqual([code]);
      // A batch that comes after the end is not answered: the driver stopped reading.
      const before = w.actions.length;
      w.post({ type: "listing.batch", now: w.now, transfer: lastTransfer(w), entries: [file("b")] });
      expect(w.actions.slice(before)).toEqual([]);
      w.cmd("PASV");
      expect(codes(w.cmd("NOOP"))).toEqual([200]);
    }
  });

  it("ABOR during a listing: 426 then 226, the driver is told to stop, and a late batch is not answered", () => {
    const w = new World({ files: { "/pub": null }, autoConnect: true, holdTransfers: true });
    w.login();
    w.cmd("PASV");
    w.cmd("MLSD");
    const transfer = lastTransfer(w);
    expect(w.feedListing([file("a")])).not.toBeNull();
    expect(w.cmd("ABOR")).toEqual(["426 Connection closed; transfer aborted.", "226 ABOR successful."]);
    expect(w.actions.some((a) => a.type === "transfer.abort" && a.transfer === transfer)).toBe(true);
    const before = w.actions.length;
    w.post({ type: "listing.batch", now: w.now, transfer, entries: [file("b")] });
    expect(w.actions.slice(before)).toEqual([]);
  });

  it("a batch for another transfer, or while none runs, is ignored", () => {
    const w = new World({ files: { "/pub": null, "/f": "x" }, autoConnect: true, holdTransfers: true });
    w.login();
    const before = w.actions.length;
    w.post({ type: "listing.batch", now: w.now, transfer: 99, entries: [file("a")] });
    w.cmd("PASV");
    w.cmd("RETR f");
    const retr = lastTransfer(w);
    // A RETR is no listing: a batch for it gets no lines.
    w.post({ type: "listing.batch", now: w.now, transfer: retr, entries: [file("a")] });
    expect(w.actions.slice(before).filter((a) => a.type === "listing.write")).toEqual([]);
  });

  it("property: any batching of any names sends the lines of the whole", () => {
    const entry = fc.record({ name: fc.string({ minLength: 1, maxLength: 6 }), isDir: fc.boolean() }).map(({ name, isDir }) => (isDir ? dir(name) : file(name)));
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 12 }), fc.array(fc.nat(12), { maxLength: 6 }), fc.constantFrom("LIST", "NLST", "MLSD", "NLST /pub"), (entries, cuts, line) => {
        const at = [...new Set(cuts.map((c) => Math.min(c, entries.length)))].sort((a, b) => a - b);
        const batches: FileStat[][] = [];
        let from = 0;
        for (const c of [...at, entries.length]) {
          batches.push(entries.slice(from, c));
          from = c;
        }
        expect(listIn(line, batches).text).toBe(listIn(line, [entries]).text);
      }),
    );
  });
});

describe("a directory too large to rename", () => {
  it("names the cause and the limit the file system gave", () => {
    const w = new World({ files: { "/big": null }, manualFs: true });
    w.login();
    w.cmd("RNFR big");
    w.answerFs({ ok: true, value: { op: "stat", stat: dir("big") } });
    w.cmd("RNTO small");
    expect(w.answerFs({ ok: false, error: "too-large", limit: 1000 })).toEqual(["550 Directory too large to rename (over 1000 objects)."]);
    w.cmd("RNFR big");
    w.answerFs({ ok: true, value: { op: "stat", stat: dir("big") } });
    w.cmd("RNTO small");
    expect(w.answerFs({ ok: false, error: "too-large" })).toEqual(["550 Directory too large to rename."]);
    // Elsewhere the kind has its table reply.
    w.cmd("DELE big");
    expect(w.answerFs({ ok: false, error: "too-large", limit: 5 })).toEqual(["550 Too large for this operation."]);
  });
});
