// The confinement rule against a simulated host: a fake realpath over a small tree with symlinks
// that lead out of the root (absolute, relative, to a sibling whose name starts like the root's,
// dangling, looping) and inside it, plus random extra links. Whatever path the core could hand
// over, the place the operating system would then touch is inside the root, or the rule refused.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { confine, Confinement, CREATE_ATTEMPTS, hostPath, isWithin, pinRoot, type Access, type ConfinePlatform, type DescriptorOps, type Reach } from "./confine.js";
import { VfsError } from "./vfs.js";

const FILE = "packages/driver/src/confine.prop.test.ts";

type Entry = { readonly type: "dir" } | { readonly type: "file" } | { readonly type: "link"; readonly target: string };

function errno(code: string, p: string): Error {
  return Object.assign(new Error(`${code}: ${p}`), { code });
}

function parts(p: string): string[] {
  return p.split("/").filter((s) => s !== "");
}

function join(dir: string, name: string): string {
  return dir === "/" ? `/${name}` : `${dir}/${name}`;
}

function up(p: string): string {
  const i = p.lastIndexOf("/");
  return i <= 0 ? "/" : p.slice(0, i);
}

/** A host file system with symlinks, resolved the way the kernel does. */
class FakeHost {
  readonly entries = new Map<string, Entry>([["/", { type: "dir" }]]);
  /** Open descriptors: the location each was opened at (the kernel keeps the object, not the name). */
  readonly fds = new Map<number, string>();
  private nextFd = 3;
  /** Runs before every platform call: a racing local process gets its turn. */
  adversary: () => void = () => undefined;

  constructor(spec: Record<string, string>) {
    for (const [p, what] of Object.entries(spec)) this.entries.set(p, what === "dir" ? { type: "dir" } : what === "file" ? { type: "file" } : { type: "link", target: what.slice(3) });
  }

  /**
   * The real location `p` names: symlinks in the middle are always followed, a final one when
   * `followLast`; `missingLast` lets the last component be absent (its would-be location is returned).
   */
  resolve(p: string, followLast: boolean, missingLast: boolean): string {
    let current = "/";
    let rest = parts(p);
    // /proc/self/fd/N starts at the object descriptor N holds, wherever it has been moved since.
    if (rest[0] === "proc" && rest[1] === "self" && rest[2] === "fd" && rest[3] !== undefined) {
      const at = this.fds.get(Number(rest[3]));
      if (at === undefined) throw errno("EBADF", p);
      current = at;
      rest = rest.slice(4);
    }
    let hops = 0;
    while (rest.length > 0) {
      const [name, ...tail] = rest as [string, ...string[]];
      rest = tail;
      if (name === ".") continue;
      if (name === "..") {
        current = up(current);
        continue;
      }
      const candidate = join(current, name);
      const entry = this.entries.get(candidate);
      const last = rest.length === 0;
      if (entry === undefined) {
        if (last && missingLast) return candidate;
        throw errno("ENOENT", candidate);
      }
      if (entry.type === "link" && (!last || followLast)) {
        if (++hops > 40) throw errno("ELOOP", candidate);
        rest = [...parts(entry.target), ...rest];
        if (entry.target.startsWith("/")) current = "/";
        continue;
      }
      if (entry.type === "file" && !last) throw errno("ENOTDIR", candidate);
      current = candidate;
    }
    return current;
  }

  /** Swaps two entries with everything below them, as renameat2(RENAME_EXCHANGE) does. */
  exchange(a: string, b: string): void {
    const moved = new Map<string, Entry>();
    for (const [p, e] of this.entries) {
      for (const [from, to] of [[a, b], [b, a]] as const) {
        if (p === from || p.startsWith(`${from}/`)) {
          moved.set(to + p.slice(from.length), e);
          this.entries.delete(p);
        }
      }
    }
    for (const [p, e] of moved) this.entries.set(p, e);
  }

  private call<T>(work: () => T): Promise<T> {
    return Promise.resolve().then(() => {
      this.adversary();
      return work();
    });
  }

  private fd(at: string): number {
    const fd = this.nextFd++;
    this.fds.set(fd, at);
    return fd;
  }

  readonly platform: ConfinePlatform = {
    realPath: (p) => this.call(() => this.resolve(p, true, false)),
    isSymlink: (p) =>
      this.call(() => {
        if (parts(p).length === 0) return false;
        const where = join(this.resolve(up(p), true, false), parts(p).pop() ?? "");
        return this.entries.get(where)?.type === "link";
      }),
  };

  readonly descriptors: DescriptorOps = {
    openPath: (p, directory) =>
      this.call(() => {
        const at = this.resolve(p, true, false);
        if (directory && this.entries.get(at)?.type !== "dir") throw errno("ENOTDIR", p);
        return this.fd(at);
      }),
    createNew: (p) =>
      this.call(() => {
        const at = this.resolve(p, false, true);
        if (this.entries.has(at)) throw errno("EEXIST", p);
        this.entries.set(at, { type: "file" });
        return this.fd(at);
      }),
    readLink: (p) =>
      this.call(() => {
        const fd = /^\/proc\/self\/fd\/(\d+)$/.exec(p)?.[1];
        const at = fd === undefined ? undefined : this.fds.get(Number(fd));
        if (at === undefined) throw errno("EINVAL", p);
        return at;
      }),
    stat: (fd) => {
      const at = this.fds.get(fd);
      if (at === undefined) throw errno("EBADF", String(fd));
      const kind = this.entries.get(at)?.type ?? "file";
      return { kind: kind === "link" ? "symlink" : kind, size: 0, mtimeMs: 0, mode: 0o644, dev: 1, ino: at.length };
    },
    close: (fd) =>
      this.call(() => {
        this.fds.delete(fd);
      }),
  };

  /** The platform with descriptors: the race-free rule. */
  get withDescriptors(): ConfinePlatform {
    return { ...this.platform, descriptors: this.descriptors };
  }

  /** Files that exist now outside the root and were not in the tree at the start. */
  createdOutside(root: string): string[] {
    return [...this.entries.keys()].filter((p) => this.entries.get(p)?.type === "file" && !BASE_PATHS.has(p) && !isWithin(root, p));
  }

  /** Where an operation with this reach would act on `host`, or null when the operation itself fails first. */
  touches(host: string, reach: Reach): string | null {
    try {
      if (reach === "follow") return this.resolve(host, true, false);
      if (reach === "create") return this.resolve(host, true, true);
      if (parts(host).length === 0) return this.resolve(host, true, false);
      return join(this.resolve(up(host), true, false), parts(host).pop() ?? "");
    } catch {
      return null;
    }
  }
}

const BASE: Record<string, string> = {
  "/srv": "dir",
  "/srv/ftp": "dir",
  "/srv/ftp2": "dir",
  "/srv/ftp2/important": "file",
  "/srv/secret": "file",
  "/srv/important": "file",
  "/srv/rootlink": "-> /srv/ftp",
  "/srv/ftp/important": "file",
  "/srv/ftp/..important": "file",
  "/srv/ftp/...": "dir",
  "/srv/ftp/dir": "dir",
  "/srv/ftp/dir/f": "file",
  "/srv/ftp/out-abs": "-> /srv/secret",
  "/srv/ftp/out-dir": "-> /srv",
  "/srv/ftp/out-rel": "-> ../ftp2",
  "/srv/ftp/out-sib": "-> /srv/ftp2/important",
  "/srv/ftp/out-root": "-> /",
  "/srv/ftp/in-abs": "-> /srv/ftp/dir",
  "/srv/ftp/in-rel": "-> dir/f",
  "/srv/ftp/dir/up": "-> ..",
  "/srv/ftp/dir/upup": "-> ../..",
  "/srv/ftp/dangling-out": "-> /srv/nothing",
  "/srv/ftp/dangling-in": "-> /srv/ftp/nothing",
  "/srv/ftp/loop": "-> /srv/ftp/loop",
};

const BASE_PATHS = new Set(Object.keys(BASE));

const names = ["important", "..important", "...", "....", "..x", "ftp", "ftp2", "srv", "dir", "f", "nothing", "out-abs", "out-dir", "out-rel", "out-sib", "out-root", "in-abs", "in-rel", "up", "upup", "dangling-out", "dangling-in", "loop", "l1", "l2", "l3"];
const segment = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...names) },
  { weight: 2, arbitrary: fc.constantFrom(".", "..", "", "...", "..x", "x..", ". .") },
  { weight: 1, arbitrary: fc.integer({ min: 200, max: 300 }).map((n) => "a".repeat(n)) },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom(".", "a", "\\", " "), maxLength: 5 }) },
);
const virtualArb = fc.tuple(fc.array(segment, { maxLength: 8 }), fc.boolean()).map(([s, lead]) => `${lead ? "/" : ""}${s.join("/")}`);
const linkArb = fc.record({
  at: fc.constantFrom("/srv/ftp", "/srv/ftp/dir", "/srv/ftp/..."),
  name: fc.constantFrom("l1", "l2", "l3"),
  target: fc.constantFrom("/", "/srv", "/srv/ftp", "/srv/ftp2", "/srv/ftp2/important", "..", "../..", "../ftp2/important", "../important", "dir", "l1", "l2", "/srv/ftp/dir/l3", "nothing", "/srv/secret", "...", "../rootlink", "/srv/rootlink/dir"),
});

async function outcome(p: Promise<string>): Promise<string | VfsError> {
  try {
    return await p;
  } catch (error) {
    if (error instanceof VfsError) return error;
    throw error;
  }
}

describe("confine (properties)", () => {
  it("maps every path below the root, keeps each name literally, and lets nothing touch outside it", async () => {
    const property = fc.asyncProperty(virtualArb, fc.constantFrom<Reach>("follow", "entry", "create"), fc.array(linkArb, { maxLength: 4 }), async (virtual, reach, links) => {
      const spec = { ...BASE };
      for (const l of links) spec[`${l.at}/${l.name}`] = `-> ${l.target}`;
      const host = new FakeHost(spec);
      const root = await pinRoot("/srv/rootlink", host.platform.realPath);
      expect(root).toBe("/srv/ftp");
      const segs = virtual.split("/").filter((s) => s !== "" && s !== ".");
      const result = await outcome(confine(root, virtual, reach, host.platform));
      if (segs.includes("..")) {
        expect(result).toBeInstanceOf(VfsError);
        return;
      }
      // The mapping itself: the root, then the virtual names unchanged ("..important" stays "..important").
      expect(hostPath(root, virtual)).toBe(["", "srv", "ftp", ...segs].join("/"));
      if (result instanceof VfsError) return;
      expect(result).toBe(hostPath(root, virtual));
      const touched = host.touches(result, reach);
      if (touched !== null) expect(touched === root || touched.startsWith(`${root}/`), `${reach} ${virtual} -> ${result} touches ${touched}`).toBe(true);
    });
    const details = await fc.check(property, { numRuns: 2000, ...replayParams() });
    if (details.failed) {
      const line = `replay: FC_SEED=${details.seed} FC_PATH=${details.counterexamplePath ?? ""} pnpm exec vitest run ${FILE}`;
      console.error(line);
      throw new Error(`${line}\ncounterexample: ${fc.stringify(details.counterexample)}\n${String(details.errorInstance)}`);
    }
    console.info(`confine property: ${details.numRuns} runs, replay with FC_SEED=${details.seed}`);
  }, 60_000);
});

/** Paths a racing local process swaps: inside names against symlinks that lead out, and back. */
const SWAPS: readonly (readonly [string, string])[] = [
  ["/srv/ftp/dir", "/srv/ftp/out-dir"],
  ["/srv/ftp/important", "/srv/ftp/out-abs"],
  ["/srv/ftp/dir/f", "/srv/ftp/out-sib"],
  ["/srv/ftp/in-abs", "/srv/ftp/out-root"],
];
const raceVirtual = fc.constantFrom("/dir/f", "/dir/new", "/dir", "/important", "/in-abs/f", "/in-abs/new", "/dir/f/x", "/new");

/**
 * Runs one operation while the adversary swaps entries before each platform call (a random
 * schedule), and returns where the operation's own call would act, or null when it was refused.
 */
async function raced(platform: (host: FakeHost) => ConfinePlatform, virtual: string, access: Access, schedule: readonly number[]): Promise<{ touched: string | null; outside: string[] }> {
  const host = new FakeHost(BASE);
  const fs = new Confinement("/srv/ftp", platform(host));
  await fs.root;
  await fs.guarantee;
  let turn = 0;
  host.adversary = () => {
    const pick = schedule[turn++ % Math.max(1, schedule.length)] ?? 0;
    const swap = SWAPS[pick % (SWAPS.length + 1)];
    if (swap !== undefined) host.exchange(swap[0], swap[1]);
  };
  let touched: string | null = null;
  try {
    await fs.with(virtual, access, (at) => {
      host.adversary();
      touched = host.touches(at.path, at.created || access === "create-new" ? "follow" : access === "follow" ? "follow" : access);
      return Promise.resolve();
    });
  } catch (error) {
    if (!(error instanceof VfsError)) throw error;
  }
  return { touched, outside: host.createdOutside("/srv/ftp") };
}

describe("confinement under a racing local process (properties)", () => {
  const raceProperty = (platform: (host: FakeHost) => ConfinePlatform) =>
    fc.asyncProperty(raceVirtual, fc.constantFrom<Access>("follow", "entry", "create", "create-new"), fc.array(fc.nat({ max: 8 }), { minLength: 1, maxLength: 12 }), async (virtual, access, schedule) => {
      const { touched, outside } = await raced(platform, virtual, access, schedule);
      expect(outside, `${access} ${virtual} created a file outside`).toEqual([]);
      if (touched !== null) expect(isWithin("/srv/ftp", touched), `${access} ${virtual} touches ${touched}`).toBe(true);
    });

  it("with descriptors, nothing a swap does between the calls leads an operation outside the root", async () => {
    const details = await fc.check(raceProperty((h) => h.withDescriptors), { numRuns: 3000, ...replayParams() });
    if (details.failed) {
      const line = `replay: FC_SEED=${details.seed} FC_PATH=${details.counterexamplePath ?? ""} pnpm exec vitest run ${FILE}`;
      console.error(line);
      throw new Error(`${line}\ncounterexample: ${fc.stringify(details.counterexample)}\n${String(details.errorInstance)}`);
    }
    console.info(`confine race property: ${details.numRuns} runs, replay with FC_SEED=${details.seed}`);
  }, 60_000);

  it("checked by name, the same adversary wins (the property can fail)", async () => {
    const details = await fc.check(raceProperty((h) => h.platform), { numRuns: 3000, ...replayParams() });
    expect(details.failed).toBe(true);
  }, 60_000);
});

describe("Confinement with descriptors", () => {
  const run = async (virtual: string, access: Access, edit?: (h: FakeHost) => void): Promise<{ kind: string; created: boolean | null; path: string | null; host: FakeHost }> => {
    const host = new FakeHost(BASE);
    edit?.(host);
    const fs = new Confinement("/srv/rootlink", host.withDescriptors);
    expect(await fs.guarantee).toBe("descriptor");
    let created: boolean | null = null;
    let path: string | null = null;
    try {
      await fs.with(virtual, access, (at) => {
        created = at.created;
        path = host.resolve(at.path, access !== "entry", access === "entry");
        return Promise.resolve();
      });
      return { kind: "ok", created, path, host };
    } catch (error) {
      if (!(error instanceof VfsError)) throw error;
      return { kind: error.kind, created, path, host };
    }
  };

  it("hands over what was checked, and closes every descriptor it took", async () => {
    const r = await run("/in-abs/f", "follow");
    expect(r).toMatchObject({ kind: "ok", created: false, path: "/srv/ftp/dir/f" });
    expect(r.host.fds.size).toBe(0);
    expect(await run("/out-abs", "follow")).toMatchObject({ kind: "permission", path: null });
    expect(await run("/out-dir/new", "create")).toMatchObject({ kind: "permission", path: null });
    expect(await run("/out-abs", "entry")).toMatchObject({ kind: "ok", path: "/srv/ftp/out-abs" });
    expect(await run("/", "entry")).toMatchObject({ kind: "permission" });
    expect(await run("/", "create")).toMatchObject({ kind: "is-a-directory" });
  });

  it("creates a missing file itself, in the checked directory, and never through a symlink", async () => {
    const made = await run("/dir/new", "create");
    expect(made).toMatchObject({ kind: "ok", created: true, path: "/srv/ftp/dir/new" });
    expect(made.host.entries.get("/srv/ftp/dir/new")).toEqual({ type: "file" });
    expect(await run("/dir/f", "create")).toMatchObject({ kind: "ok", created: false });
    expect(await run("/dir/f", "create-new")).toMatchObject({ kind: "exists" });
    const dangling = await run("/dangling-out", "create");
    expect(dangling.kind).toBe("permission");
    expect(dangling.host.entries.has("/srv/nothing")).toBe(false);
    expect(await run("/dangling-in", "create")).toMatchObject({ kind: "permission" });
    expect(CREATE_ATTEMPTS).toBeGreaterThan(1);
  });

  it("falls back to the check by name where /proc does not report the root", async () => {
    const host = new FakeHost(BASE);
    const blind: DescriptorOps = { ...host.descriptors, readLink: () => Promise.reject(errno("ENOENT", "/proc/self/fd")) };
    const fs = new Confinement("/srv/ftp", { ...host.platform, descriptors: blind });
    expect(await fs.guarantee).toBe("name");
    expect(await new Confinement("/srv/ftp", host.platform).guarantee).toBe("name");
    let path = "";
    await fs.with("/dir/f", "follow", (at) => {
      path = at.path;
      return Promise.resolve();
    });
    expect(path).toBe("/srv/ftp/dir/f");
  });
});

function replayParams(): { seed?: number; path?: string } {
  const seed = process.env.FC_SEED;
  const path = process.env.FC_PATH;
  return { ...(seed === undefined ? {} : { seed: Number(seed) }), ...(path === undefined ? {} : { path }) };
}

/** The path an operation would be handed (no descriptors here: the check by name). */
function pathOf(fs: Confinement, virtual: string, access: Access): Promise<string> {
  return fs.with(virtual, access, (at) => Promise.resolve(at.path));
}

describe("confine", () => {
  const host = new FakeHost(BASE);
  const at = (virtual: string, reach: Reach): Promise<string | VfsError> => outcome(confine("/srv/ftp", virtual, reach, host.platform));
  const kindOf = async (virtual: string, reach: Reach): Promise<string> => {
    const r = await at(virtual, reach);
    return r instanceof VfsError ? r.kind : "ok";
  };

  it("keeps names that start with dots as names", async () => {
    expect(await at("/..important", "create")).toBe("/srv/ftp/..important");
    expect(await at("/..../ftp/important", "follow")).toBe("/srv/ftp/..../ftp/important");
    expect(await at("/.../x", "create")).toBe("/srv/ftp/.../x");
    expect(hostPath("/srv/ftp", "/a/./b//c")).toBe("/srv/ftp/a/b/c");
    expect(hostPath("/", "/a")).toBe("/a");
    expect(() => hostPath("/srv/ftp", "/../secret")).toThrow(VfsError);
    expect(() => hostPath("/srv/ftp", "/a\0b")).toThrow(VfsError);
  });

  it("compares by segments, not by string prefix", () => {
    expect(isWithin("/srv/ftp", "/srv/ftp")).toBe(true);
    expect(isWithin("/srv/ftp", "/srv/ftp/a")).toBe(true);
    expect(isWithin("/srv/ftp/", "/srv/ftp/a/")).toBe(true);
    expect(isWithin("/srv/ftp", "/srv/ftp2")).toBe(false);
    expect(isWithin("/srv/ftp", "/srv/ftp2/a")).toBe(false);
    expect(isWithin("/srv/ftp", "/srv")).toBe(false);
    expect(isWithin("/", "/anything")).toBe(true);
    expect(isWithin("/srv/ftp", "srv/ftp/a")).toBe(false);
  });

  it("refuses what leads outside and allows what stays in", async () => {
    expect(await kindOf("/out-abs", "follow")).toBe("permission");
    expect(await kindOf("/out-sib", "follow")).toBe("permission");
    expect(await kindOf("/out-sib", "create")).toBe("permission");
    expect(await kindOf("/out-rel/important", "follow")).toBe("permission");
    expect(await kindOf("/out-dir/new", "create")).toBe("permission");
    expect(await kindOf("/out-dir/new", "entry")).toBe("permission");
    expect(await kindOf("/dir/upup/secret", "follow")).toBe("permission");
    expect(await kindOf("/dangling-out", "create")).toBe("permission");
    expect(await kindOf("/dangling-in", "create")).toBe("permission");
    expect(await kindOf("/loop", "follow")).toBe("permission");
    // The link itself may be removed or renamed: that touches only the entry inside the root.
    expect(await kindOf("/out-abs", "entry")).toBe("ok");
    expect(await kindOf("/dangling-out", "follow")).toBe("ok");
    expect(await kindOf("/in-abs/f", "follow")).toBe("ok");
    expect(await kindOf("/in-rel", "create")).toBe("ok");
    expect(await kindOf("/dir/up/important", "follow")).toBe("ok");
    expect(await kindOf("/nothing/deeper/still", "create")).toBe("ok");
    expect(await kindOf("/important/x", "follow")).toBe("ok");
    expect(await kindOf("/", "follow")).toBe("ok");
    // An entry operation on the root itself would change the root's parent.
    expect(await kindOf("/", "entry")).toBe("permission");
  });

  it("pins the root once: a later change of the root's symlink does not move it", async () => {
    const moving = new FakeHost(BASE);
    const fs = new Confinement("/srv/rootlink", moving.platform);
    expect(await pathOf(fs, "/important", "follow")).toBe("/srv/ftp/important");
    moving.entries.set("/srv/rootlink", { type: "link", target: "/srv/ftp2" });
    expect(await pathOf(fs, "/important", "follow")).toBe("/srv/ftp/important");
    expect(await fs.root).toBe("/srv/ftp");
  });

  it("reports a root that is missing or vanished as not-found", async () => {
    const gone = new Confinement("/srv/none", host.platform);
    await expect(pathOf(gone, "/a", "follow")).rejects.toMatchObject({ kind: "not-found" });
    const vanishing = new FakeHost(BASE);
    const fs = new Confinement("/srv/ftp", vanishing.platform);
    await fs.root;
    vanishing.entries.delete("/srv/ftp");
    await expect(pathOf(fs, "/a/b", "create")).rejects.toMatchObject({ kind: "not-found" });
    await expect(pathOf(fs, "/", "follow")).rejects.toMatchObject({ kind: "not-found" });
  });

  it("refuses a root whose real path is not an absolute POSIX path", async () => {
    await expect(pinRoot("C:\\ftp", () => Promise.resolve("C:\\ftp"))).rejects.toMatchObject({ kind: "permission" });
  });
});
