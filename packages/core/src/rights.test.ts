import { describe, expect, it } from "vitest";
import { PRESETS, RIGHTS, parseRights } from "./index.js";
import { permFacts } from "./listing.js";
import { shownTarget } from "./paths.js";
import { World } from "../test/harness.js";

const files = { "/a.txt": "alpha\n", "/.secret": "s", "/.hid": null, "/.hid/x": "x", "/d": null };
const codes = (replies: readonly string[]): number[] => replies.filter((r) => /^\d{3} /.test(r)).map((r) => Number(r.slice(0, 3)));

describe("rights presets and parsing", () => {
  it("parses a preset or a list of rights, and nothing else", () => {
    expect(parseRights("upload-only")).toEqual(["list", "mkdir", "create"]);
    expect(parseRights("read-write")).toEqual(RIGHTS);
    expect(parseRights("read, list,read")).toEqual(["read", "list"]);
    expect(parseRights("read,write")).toBeNull();
    expect(parseRights("read-only,delete")).toBeNull();
    expect(parseRights("")).toBeNull();
  });

  it("MLSD perm facts follow the rights", () => {
    const file = { name: "f", type: "file", size: 1, mtime: 0, mode: 0, unique: "" } as const;
    expect(permFacts(file, PRESETS["upload-only"])).toBe("");
    expect(permFacts({ ...file, type: "dir" }, PRESETS["upload-only"])).toBe("elcm");
    expect(permFacts(file, ["read", "append"])).toBe("ra");
  });
});

describe("upload-only (the drop box)", () => {
  const world = (): World => {
    const w = new World({ files, autoConnect: true, accounts: { cam: { password: "c", rights: PRESETS["upload-only"] } } });
    w.upload = "image";
    w.login("cam", "c");
    w.cmd("TYPE I");
    return w;
  };

  it("stores a new file, makes directories and lists", () => {
    const w = world();
    w.cmd("PASV");
    expect(codes(w.cmd("STOR new.jpg"))).toEqual([150, 226]);
    expect(w.file("/new.jpg")).toBe("image");
    expect(codes(w.cmd("MKD day1"))).toEqual([257]);
    w.cmd("PASV");
    expect(codes(w.cmd("LIST"))).toEqual([150, 226]);
  });

  it("may not download, overwrite, append, resume, delete or rename; the file stays as it was", () => {
    const w = world();
    for (const line of ["RETR a.txt", "STOR a.txt", "APPE a.txt", "DELE a.txt", "RNFR a.txt", "RMD d", "MFMT 20200101000000 a.txt"]) {
      w.cmd("PASV");
      expect(w.cmd(line), line).toEqual(["550 Permission denied."]);
    }
    w.cmd("REST 2");
    expect(w.cmd("STOR a.txt")).toEqual(["550 Permission denied."]);
    expect(w.state.rest).toBe(0);
    expect(w.file("/a.txt")).toBe("alpha\n");
  });
});

describe("hidden dot files", () => {
  const world = (): World => {
    const w = new World({ files, autoConnect: true, anonymousHidesDotFiles: true });
    w.login("anonymous", "a@b");
    w.cmd("TYPE I");
    return w;
  };

  it("are neither listed nor served, as if absent", () => {
    const w = world();
    w.cmd("PASV");
    w.cmd("LIST");
    w.cmd("PASV");
    w.cmd("NLST .*");
    expect(w.received.join("")).not.toContain(".secret");
    expect(w.received.join("")).not.toContain(".hid");
    w.cmd("PASV");
    expect(w.cmd("RETR .secret")).toEqual(["550 No such file or directory."]);
    expect(w.cmd("SIZE /.secret")).toEqual(["550 No such file or directory."]);
    expect(w.cmd("CWD .hid")).toEqual(["550 No such file or directory."]);
    expect(w.cmd("MDTM .hid/x")).toEqual(["550 No such file or directory."]);
    expect(w.cmd("STAT /.hid")).toEqual(["550 No such file or directory."]);
  });

  it("are still shown to a user who does not hide them", () => {
    const w = new World({ files, autoConnect: true });
    w.login("anonymous", "a@b");
    w.cmd("PASV");
    w.cmd("LIST");
    expect(w.received.join("")).toContain(".secret");
  });
});

describe("SITE IDLE", () => {
  it("is capped at the operator's idle timeout", () => {
    const w = new World({ config: { timeouts: { idle: 120_000 } } });
    w.login();
    expect(w.cmd("SITE IDLE 7200")).toEqual(["501 Idle time must be 30 to 120 seconds."]);
    expect(w.cmd("SITE IDLE 121")).toEqual(["501 Idle time must be 30 to 120 seconds."]);
    expect(w.cmd("SITE IDLE 60")).toEqual(["200 Idle time limit set to 60 seconds."]);
    expect(w.cmd("SITE IDLE 120")).toEqual(["200 Idle time limit set to 120 seconds."]);
  });

  it("with an operator limit under 30 s, only that limit", () => {
    const w = new World({ config: { timeouts: { idle: 10_000 } } });
    w.login();
    expect(w.cmd("SITE IDLE 30")).toEqual(["501 Idle time must be 10 to 10 seconds."]);
    expect(w.cmd("SITE IDLE 10")).toEqual(["200 Idle time limit set to 10 seconds."]);
  });
});

describe("symlink targets in listings", () => {
  it("show only a relative target that stays inside the root; never a host path", () => {
    expect(shownTarget("/", "/etc")).toBeUndefined();
    expect(shownTarget("/d", "../../x")).toBeUndefined();
    expect(shownTarget("/", "..")).toBeUndefined();
    expect(shownTarget("/d", "../a.txt")).toBe("../a.txt");
    expect(shownTarget("/d/e", "./../../a")).toBe("./../../a");
    expect(shownTarget("/", "sub/../../x")).toBeUndefined();
  });

  it("LIST, STAT and MLSD drop an outside target and keep an inside one", () => {
    const w = new World({ autoConnect: true, manualFs: true, holdTransfers: true });
    w.login();
    const link = (name: string, target: string) => ({ name, type: "symlink", size: 4, mtime: 0, mode: 0o777, unique: "", target }) as const;
    const entries = [link("etc-link", "/etc"), link("up", "../.."), link("near", "a.txt")];
    for (const line of ["LIST", "MLSD", "STAT /"]) {
      if (line !== "STAT /") w.cmd("PASV");
      w.cmd(line);
      w.answerFs({ ok: true, value: { op: "stat", stat: { name: "/", type: "dir", size: 0, mtime: 0, mode: 0o755, unique: "" } } });
      // LIST and MLSD stream the directory: the entries come as a batch once the transfer runs.
      const text = line === "STAT /" ? w.answerFs({ ok: true, value: { op: "list", entries } }).join("\n") : (w.feedListing(entries) ?? "");
      if (line !== "STAT /") w.finishTransfer();
      expect(text, line).not.toContain("/etc");
      expect(text, line).not.toContain("../..");
      expect(text, line).toContain(line === "MLSD" ? "slink:a.txt" : "near -> a.txt");
      expect(text, line).toContain("etc-link");
    }
  });
});
