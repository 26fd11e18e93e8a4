import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { COMMAND_RIGHTS, RIGHTS, rightsKey, type Action, type Right } from "./index.js";
import { check } from "../test/replay.js";
import { World } from "../test/harness.js";

const FILE = "packages/core/src/rights.prop.test.ts";
const files = { "/a.txt": "alpha\n", "/d": null, "/d/b.bin": "0123456789", "/empty": null };

/**
 * Commands that succeed with every right, each after its set-up; `exists` is whether an upload's
 * target is there (the table's ifExisting/ifNew), `rest` the REST offset the set-up leaves.
 */
interface Case {
  readonly setup: readonly string[];
  readonly line: string;
  readonly exists: boolean;
  readonly rest: number;
}
const data = (line: string, exists = false, rest = 0, more: string[] = []): Case => ({ setup: ["TYPE I", ...more, "PASV"], line, exists, rest });
const plain = (line: string, setup: string[] = []): Case => ({ setup, line, exists: false, rest: 0 });

const cases: readonly Case[] = [
  data("RETR a.txt"),
  data("RETR d/b.bin", false, 3, ["REST 3"]),
  data("STOR a.txt", true),
  data("STOR new.txt", false),
  data("APPE a.txt", true),
  data("APPE new.txt", false),
  data("STOR a.txt", true, 3, ["REST 3"]),
  data("APPE d/b.bin", true, 10, ["REST 10"]),
  data("STOR new.txt", false, 3, ["REST 3"]),
  data("STOU"),
  data("STOU a.txt"),
  data("LIST"),
  data("LIST -la d"),
  data("NLST"),
  data("MLSD d"),
  plain("DELE a.txt"),
  plain("RNFR a.txt"),
  plain("RNTO z.txt", ["RNFR a.txt"]),
  plain("MKD n"),
  plain("XMKD n"),
  plain("RMD empty"),
  plain("XRMD empty"),
  plain("MFMT 20200101000000 a.txt"),
  plain("MLST a.txt"),
  plain("MLST"),
  plain("STAT d"),
  plain("SIZE a.txt", ["TYPE I"]),
  plain("MDTM a.txt"),
  // Rights-free: navigation, parameters, status.
  plain("CWD d"),
  plain("CDUP"),
  plain("PWD"),
  plain("STAT"),
  plain("NOOP"),
  plain("TYPE A"),
  plain("SITE IDLE 60"),
  plain("PASV"),
];

function keyOf(c: Case): string | null {
  const [verb = "", ...rest] = c.line.split(" ");
  return rightsKey(verb, rest.length === 0 ? null : rest.join(" "), c.rest);
}

/** What the one table says the case needs, for a target that exists or not. */
function needed(c: Case): readonly Right[] {
  const rule = COMMAND_RIGHTS.get(keyOf(c) ?? "");
  if (rule === undefined) return [];
  return [...rule.always, ...(c.exists ? rule.ifExisting : rule.ifNew)];
}

/** Actions with the mode of a write into a file that did not exist replaced by one word. */
function newFileModes(actions: readonly Action[], exists: boolean): readonly Action[] {
  if (exists) return actions;
  return actions.map((a) => (a.type === "transfer.start" && a.spec.kind === "receive-file" ? { ...a, spec: { ...a.spec, mode: "create-new" as const } } : a));
}

const MUTATING = new Set(["mkdir", "rmdir", "delete", "rename", "setMtime"]);

/** File-system actions of a run: every fs request, and the transfers that touch a file. */
function fsActions(actions: readonly Action[]): Action[] {
  return actions.filter((a) => a.type === "fs" || (a.type === "transfer.start" && a.spec.kind !== "send-bytes"));
}

function run(rights: readonly Right[], c: Case): { world: World; replies: string[]; actions: Action[]; before: string } {
  const world = new World({ files, autoConnect: true, accounts: { u: { password: "p", rights } } });
  world.upload = "new bytes";
  world.login("u", "p");
  for (const line of c.setup) world.cmd(line);
  const before = snapshot(world);
  const from = world.actions.length;
  const replies = world.cmd(c.line);
  return { world, replies, actions: world.actions.slice(from), before };
}

function snapshot(w: World): string {
  return JSON.stringify([...w.fs.entries()].map(([p, n]) => [p, n.type, Array.from(n.data), n.mtime]).sort());
}

const codes = (replies: readonly string[]): string[] => replies.filter((r) => /^\d{3} /.test(r)).map((r) => r.slice(0, 3));

describe("account rights (the COMMAND_RIGHTS table)", () => {
  it("covers every row of the table", () => {
    const keys = new Set(cases.map(keyOf));
    for (const key of COMMAND_RIGHTS.keys()) expect(keys.has(key), key).toBe(true);
  });

  it("refuses a command exactly when a right it needs is missing, and then touches no file", () => {
    check(
      fc.property(fc.subarray([...RIGHTS]), fc.constantFrom(...cases), (rights, c) => {
        const need = needed(c);
        const refused = need.some((r) => !rights.includes(r));
        const got = run(rights, c);
        const full = run(RIGHTS, c);
        if (refused) {
          expect(got.replies.at(-1), c.line).toBe("550 Permission denied.");
          expect(codes(got.replies), c.line).toEqual(["550"]);
          // No write of any kind; refused before the stat unless only the new-or-existing half failed.
          expect(fsActions(got.actions).filter((a) => a.type === "transfer.start" || (a.type === "fs" && MUTATING.has(a.fs.op))), c.line).toEqual([]);
          const rule = COMMAND_RIGHTS.get(keyOf(c) ?? "");
          const staticOnly = rule === undefined || rule.always.some((r) => !rights.includes(r)) || (rule.ifNew.some((r) => !rights.includes(r)) && rule.ifExisting.some((r) => !rights.includes(r)));
          if (staticOnly) expect(fsActions(got.actions), c.line).toEqual([]);
          expect(snapshot(got.world), c.line).toBe(got.before);
        } else {
          expect(got.replies.at(-1), c.line).not.toBe("550 Permission denied.");
          // Allowed, the command does just what it does with every right.
          expect(codes(got.replies), c.line).toEqual(codes(full.replies));
          // One difference is allowed: a new file is written exclusively ("create-new") when the
          // account could not have replaced it, had another session created it meanwhile.
          expect(newFileModes(fsActions(got.actions), c.exists), c.line).toEqual(newFileModes(fsActions(full.actions), c.exists));
          expect(snapshot(got.world), c.line).toBe(snapshot(full.world));
        }
      }),
      FILE,
      { numRuns: 600 },
    );
  });

  it("writes a new file exclusively for an account that may not replace one (another session's file is never overwritten)", () => {
    const mode = (rights: readonly Right[], line: string): string | undefined => {
      const got = run(rights, data(line));
      const start = got.actions.find((a) => a.type === "transfer.start");
      return start?.type === "transfer.start" && start.spec.kind === "receive-file" ? start.spec.mode : undefined;
    };
    expect(mode(["create"], "STOR new.txt")).toBe("create-new");
    expect(mode(["create", "overwrite"], "STOR new.txt")).toBe("truncate");
    expect(mode(["create"], "APPE new.txt")).toBe("create-new");
    expect(mode(["create", "append"], "APPE new.txt")).toBe("append");
  });

  it("never lets a refused command of a random session touch a file", () => {
    const lines = cases.flatMap((c) => [...c.setup, c.line]);
    check(
      fc.property(fc.subarray([...RIGHTS]), fc.array(fc.constantFrom(...lines), { maxLength: 30 }), (rights, script) => {
        const w = new World({ files, autoConnect: true, accounts: { u: { password: "p", rights } } });
        w.login("u", "p");
        for (const line of script) {
          const before = snapshot(w);
          const from = w.actions.length;
          const replies = w.cmd(line);
          if (replies.at(-1) !== "550 Permission denied.") continue;
          const writes = w.actions.slice(from).filter((a) => a.type === "transfer.start" || (a.type === "fs" && MUTATING.has(a.fs.op)));
          expect(writes, line).toEqual([]);
          expect(snapshot(w), line).toBe(before);
        }
      }),
      FILE,
      { numRuns: 200 },
    );
  });
});
