// Every path form, one property over all three file systems: the local disk under Node, the local
// disk under Deno and the in-memory tree (the simulator's and embedders'), each behind a real
// server, must answer every generated command with the same reply. Names that start or end with
// dots, "....", empty and "." segments, "..", backslashes, spaces and over-long names; absolute and
// relative, after a CWD of the same kinds.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { createServer, MemoryFs, type FtpServer, type MemoryTree } from "@pasv/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FtpControl } from "./ftp-control.js";
import { startServer, tempDir, type RunningServer } from "./server.js";

const FILE = "packages/e2e/test/path-forms.test.ts";
const TREE: MemoryTree = {
  "..important": "dots",
  "...": { "f": "in three dots" },
  "x..": "trailing",
  "a b": { "c d": "spaced" },
  dir: { sub: { f: "deep" }, "..f": "dotted" },
  important: "inside",
};

function materialise(dir: string, tree: MemoryTree): void {
  for (const [name, value] of Object.entries(tree)) {
    const at = path.join(dir, name);
    if (typeof value === "string" || value instanceof Uint8Array) writeFileSync(at, value);
    else {
      mkdirSync(at);
      materialise(at, value);
    }
  }
}

const outer = tempDir("pasv-forms-");
let node: RunningServer;
let deno: RunningServer;
let memory: FtpServer;
let memoryPort = 0;
const clients: FtpControl[] = [];

beforeAll(async () => {
  for (const runtime of ["node", "deno"] as const) {
    mkdirSync(path.join(outer.dir, runtime));
    materialise(path.join(outer.dir, runtime), TREE);
  }
  const start = (runtime: "node" | "deno"): Promise<RunningServer> => startServer(path.join(outer.dir, runtime), ["-u", "alice:pw", "-w", "--no-anonymous"], { runtime });
  [node, deno] = await Promise.all([start("node"), start("deno")]);
  memory = createServer({ vfs: new MemoryFs(TREE), users: [{ user: "alice", password: "pw", write: true }], anonymous: false });
  memoryPort = (await memory.listen(0, "127.0.0.1")).port;
  for (const port of [node.port, deno.port, memoryPort]) {
    const c = await FtpControl.connect(port);
    await c.login("alice", "pw");
    clients.push(c);
  }
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all([node.stop(), deno.stop(), memory.close()]);
  outer.remove();
});

const names = ["..important", "...", "....", "x..", "..x", "a b", "c d", "dir", "sub", "f", "..f", "important", "missing", "..", ".", "", "a\\b", " ", "é"];
const segment = fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...names) }, { weight: 1, arbitrary: fc.constantFrom("a".repeat(255), "b".repeat(256)) });
const form = fc.tuple(fc.boolean(), fc.array(segment, { maxLength: 5 }), fc.boolean()).map(([lead, s, trail]) => `${lead ? "/" : ""}${s.join("/")}${trail && s.length > 0 ? "/" : ""}`);
const command = fc.oneof(
  form.map((p) => `SIZE ${p}`),
  form.map((p) => `CWD ${p}`),
  form.map((p) => `MKD ${p}`),
  form.map((p) => `RMD ${p}`),
  form.map((p) => `MLST ${p}`),
  fc.constant("PWD"),
  fc.constant("CDUP"),
);

/** A reply reduced to what must agree: the code and, for SIZE and PWD, the text (MLST facts carry dates and ids). */
async function answer(c: FtpControl, line: string): Promise<string> {
  const r = await c.cmd(line);
  const verb = line.split(" ")[0];
  if (verb === "SIZE" || verb === "PWD" || verb === "MKD") return `${r.code} ${r.lines.join("|")}`;
  if (verb === "MLST" && r.code === 250) return `250 ${(r.lines[1] ?? "").split(";").find((f) => f.toLowerCase().startsWith("type=")) ?? ""}`;
  return String(r.code);
}

describe("path forms on the three file systems", () => {
  it("get the same replies from Node's disk, Deno's disk and the memory tree", async () => {
    const property = fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 6 }), async (lines) => {
      for (const c of clients) await c.cmd("CWD /");
      for (const line of lines) {
        const got = await Promise.all(clients.map((c) => answer(c, line)));
        expect(`${line} -> node ${got[0] ?? ""}, deno ${got[1] ?? ""}`).toBe(`${line} -> node ${got[2] ?? ""}, deno ${got[2] ?? ""}`);
      }
    });
    const seed = process.env.FC_SEED === undefined ? {} : { seed: Number(process.env.FC_SEED) };
    const details = await fc.check(property, { numRuns: 300, ...seed });
    if (details.failed) {
      const line = `replay: FC_SEED=${details.seed} pnpm exec vitest run ${FILE}`;
      console.error(line);
      throw new Error(`${line}\ncounterexample: ${fc.stringify(details.counterexample)}\n${String(details.errorInstance)}`);
    }
    console.info(`path forms: ${details.numRuns} runs on three file systems, replay with FC_SEED=${details.seed}`);
  }, 300_000);
});
