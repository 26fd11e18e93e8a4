import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { accountsAuth, constantTimeEqual } from "./accounts.js";
import { PRESETS, RIGHTS } from "@pasv/core";
import { MemoryFs } from "./memory-fs.js";
import type { Vfs } from "./vfs.js";

const FILE = "packages/driver/src/accounts.test.ts";
const remote = { address: "127.0.0.1", port: 5000 };

function replayParams(): { seed?: number; path?: string } {
  const seed = process.env.FC_SEED;
  const path = process.env.FC_PATH;
  return { ...(seed === undefined ? {} : { seed: Number(seed) }), ...(path === undefined ? {} : { path }) };
}

/** fc.check with the one-line replay command printed on failure (as the core's properties do). */
function check<Ts>(property: fc.IProperty<Ts>, params: fc.Parameters<Ts> = {}): void {
  const details = fc.check(property, { ...params, ...(replayParams() as fc.Parameters<Ts>) });
  if (!details.failed) return;
  const line = `replay: FC_SEED=${details.seed} FC_PATH=${details.counterexamplePath ?? ""} pnpm exec vitest run ${FILE}`;
  console.error(line);
  throw new Error(`${line}\ncounterexample: ${fc.stringify(details.counterexample)}\n${String(details.errorInstance)}`);
}

describe("constantTimeEqual", () => {
  it("is true exactly when the strings are equal (property)", () => {
    const str = fc.string({ unit: fc.constantFrom("a", "b", "\0", "é", "\ud800", "\u{1f600}"), maxLength: 8 });
    // Half the pairs are equal by construction, so both answers are exercised.
    const pair = fc.oneof(fc.tuple(str, str), str.map((s) => [s, s] as [string, string]));
    check(
      fc.property(pair, ([a, b]) => constantTimeEqual(a, b) === (a === b) && constantTimeEqual(b, a) === (a === b)),
      { numRuns: 500 },
    );
  });

  it("tells apart strings that differ by one character, a prefix, or a NUL tail", () => {
    check(
      fc.property(fc.string({ maxLength: 10 }), fc.nat(), fc.integer({ min: 1, max: 0xffff }), (s, at, delta) => {
        const base = `${s}x`;
        const i = at % base.length;
        const changed = base.slice(0, i) + String.fromCharCode((base.charCodeAt(i) + delta) % 0x10000) + base.slice(i + 1);
        return (
          constantTimeEqual(base, changed) === (base === changed) &&
          !constantTimeEqual(base, base.slice(0, i)) &&
          !constantTimeEqual(base, `${base}\0`) &&
          !constantTimeEqual(`${base}\0`, base)
        );
      }),
      { numRuns: 500 },
    );
    expect(constantTimeEqual("", "")).toBe(true);
    expect(constantTimeEqual("", "\0")).toBe(false);
  });
});

describe("accountsAuth", () => {
  const server = new MemoryFs({});
  const alice = new MemoryFs({});
  const roots: (string | undefined)[] = [];
  const vfsFor = (root: string | undefined): Vfs => {
    roots.push(root);
    return root === "/home/alice" ? alice : server;
  };
  const users = [
    { user: "alice", password: "s3cret", home: "/home/alice" },
    { user: "bob", password: "pw", write: true },
    { user: "cam", password: "c", permissions: "upload-only" },
    { user: "log", password: "l", permissions: ["list", "append"], write: true },
  ] as const;

  it("anonymous names log in read-only on the server's file system when enabled", async () => {
    const auth = accountsAuth({ users, anonymous: true, write: true, hideDotfiles: "anonymous" }, vfsFor);
    for (const user of ["anonymous", "ftp"]) {
      const grant = await auth.authenticate({ user, password: "me@example.com", remote, tls: false });
      expect(grant?.account).toEqual({ user: "anonymous", anonymous: true, rights: PRESETS["read-only"], hideDotFiles: true });
      expect(grant?.vfs).toBe(server);
    }
  });

  it("refuses anonymous names when anonymous is disabled", async () => {
    const auth = accountsAuth({ users, anonymous: false, write: false, hideDotfiles: "anonymous" }, vfsFor);
    expect(await auth.authenticate({ user: "anonymous", password: "", remote, tls: false })).toBeNull();
    expect(await auth.authenticate({ user: "ftp", password: "x", remote, tls: true })).toBeNull();
  });

  it("named users need their exact password; write defaults to the server's", async () => {
    roots.length = 0;
    const auth = accountsAuth({ users, anonymous: false, write: false, hideDotfiles: "anonymous" }, vfsFor);
    const a = await auth.authenticate({ user: "alice", password: "s3cret", remote, tls: false });
    expect(a?.account).toEqual({ user: "alice", anonymous: false, rights: PRESETS["read-only"], hideDotFiles: false });
    expect(a?.vfs).toBe(alice);
    const b = await auth.authenticate({ user: "bob", password: "pw", remote, tls: false });
    expect(b?.account).toEqual({ user: "bob", anonymous: false, rights: RIGHTS, hideDotFiles: false });
    expect(b?.vfs).toBe(server);
    expect(roots).toEqual(["/home/alice", undefined]);
    expect(await auth.authenticate({ user: "alice", password: "s3cre", remote, tls: false })).toBeNull();
    expect(await auth.authenticate({ user: "alice", password: "s3cret ", remote, tls: false })).toBeNull();
    expect(await auth.authenticate({ user: "Alice", password: "s3cret", remote, tls: false })).toBeNull();
    expect(await auth.authenticate({ user: "carol", password: "", remote, tls: false })).toBeNull();
    const writers = accountsAuth({ users, anonymous: false, write: true, hideDotfiles: true }, vfsFor);
    expect((await writers.authenticate({ user: "alice", password: "s3cret", remote, tls: false }))?.account).toMatchObject({ rights: RIGHTS, hideDotFiles: true });
  });

  it("permissions (a preset or a list) win over write", async () => {
    const auth = accountsAuth({ users, anonymous: true, write: true, hideDotfiles: false }, vfsFor);
    expect((await auth.authenticate({ user: "cam", password: "c", remote, tls: false }))?.account.rights).toEqual(["list", "mkdir", "create"]);
    expect((await auth.authenticate({ user: "log", password: "l", remote, tls: false }))?.account.rights).toEqual(["list", "append"]);
    expect((await auth.authenticate({ user: "ftp", password: "x", remote, tls: false }))?.account).toMatchObject({ rights: ["list", "read"], hideDotFiles: false });
  });
});

describe("accountsAuth bandwidth limits", () => {
  const fs: Vfs = new MemoryFs({});
  const auth = accountsAuth(
    {
      users: [
        { user: "slow", password: "pw", maxRateDown: 2048, maxRateUp: 0 },
        { user: "plain", password: "pw" },
      ],
      anonymous: true,
      write: false,
      hideDotfiles: false,
      anonymousRates: { down: 512 },
    },
    () => fs,
  );

  it("a user's own limits come with the grant (0 lifts the server's); a user without any keeps the server's", async () => {
    expect((await auth.authenticate({ user: "slow", password: "pw", remote, tls: false }))?.rates).toEqual({ down: 2048, up: null });
    expect((await auth.authenticate({ user: "plain", password: "pw", remote, tls: false }))?.rates).toEqual({});
    expect((await auth.authenticate({ user: "anonymous", password: "x", remote, tls: false }))?.rates).toEqual({ down: 512 });
  });

  it("a bad limit is refused at start-up, naming the user", () => {
    expect(() => accountsAuth({ users: [{ user: "bob", password: "pw", maxRateUp: -5 }], anonymous: false, write: false, hideDotfiles: false }, () => fs)).toThrow(/user "bob": maxRateUp/);
  });
});
