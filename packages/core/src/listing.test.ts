import { describe, expect, it } from "vitest";
import { PRESETS, RIGHTS } from "./rights.js";
import { DEFAULT_MLST_FACTS, featMlstLine, formatFacts, formatList, formatListLine, formatMlsd, formatMlstLine, formatNlst, hasGlob, matchesGlob, mlstOptsReply, parseMlstOpts, permFacts } from "./listing.js";
import type { FileStat } from "./types.js";

const now = Date.UTC(2024, 5, 15, 12, 0);
const file: FileStat = { name: "report.txt", type: "file", size: 1234, mtime: Date.UTC(2024, 0, 5, 12, 34), mode: 0o644, unique: "801U1a2b" };
const dir: FileStat = { name: "archive", type: "dir", size: 4096, mtime: Date.UTC(2021, 2, 17), mode: 0o755, unique: "" };
const link: FileStat = { name: "latest", type: "symlink", size: 11, mtime: Date.UTC(2024, 5, 1, 8, 0), mode: 0o777, unique: "x", target: "report.txt" };
const other: FileStat = { name: "fifo", type: "other", size: 0, mtime: now, mode: 0, unique: "" };

const RO = PRESETS["read-only"];

describe("LIST", () => {
  it("uses vsftpd's ls -l layout", () => {
    expect(formatListLine(file, now)).toBe("-rw-r--r--    1 ftp      ftp          1234 Jan 05 12:34 report.txt");
    expect(formatListLine(dir, now)).toBe("drwxr-xr-x    2 ftp      ftp          4096 Mar 17  2021 archive");
    expect(formatListLine(link, now)).toBe("lrwxrwxrwx    1 ftp      ftp            11 Jun 01 08:00 latest -> report.txt");
    // A link target with CR/LF (from the disk, never checked as a name) cannot forge a row or a reply.
    const forged = { ...link, target: "x\r\n-rw-r--r-- 1 ftp ftp 1 Jan 01 00:00 FAKE\r\n226 done" };
    expect(formatListLine(forged, now)).toBe("lrwxrwxrwx    1 ftp      ftp            11 Jun 01 08:00 latest -> x??-rw-r--r-- 1 ftp ftp 1 Jan 01 00:00 FAKE??226 done");
    expect(formatList([forged], now, false).split("\r\n")).toHaveLength(2);
    expect(formatListLine(other, now)).toMatch(/^-rw-r--r-- /);
    expect(formatListLine({ ...dir, mode: 0 }, now)).toMatch(/^drwxr-xr-x /);
    expect(formatListLine({ ...file, size: 123_456_789_012 }, now)).toContain(" 123456789012 ");
  });

  it("sorts, ends lines with CRLF, has no total line, hides unlistable names", () => {
    const text = formatList([file, dir, { ...file, name: "bad\nname" }, { ...file, name: ".hidden" }, { ...file, name: "." }], now, false);
    expect(text.split("\r\n")).toEqual([formatListLine(dir, now), formatListLine(file, now), ""]);
    expect(formatList([{ ...file, name: ".hidden" }], now, true)).toContain(".hidden");
  });
});

describe("NLST", () => {
  it("lists bare names, or names prefixed with the directory argument", () => {
    expect(formatNlst([file, dir], null, true)).toBe("archive\r\nreport.txt\r\n");
    expect(formatNlst([file], "sub", true)).toBe("sub/report.txt\r\n");
    expect(formatNlst([file], "sub/", true)).toBe("sub/report.txt\r\n");
  });
});

describe("MLST/MLSD", () => {
  it("writes facts without spaces, type for directories, size only for files", () => {
    expect(formatFacts(file, DEFAULT_MLST_FACTS, RIGHTS)).toBe("type=file;size=1234;modify=20240105123400;perm=rwadf;unique=801U1a2b;UNIX.mode=0644;");
    expect(formatFacts(dir, DEFAULT_MLST_FACTS, RO)).toBe("type=dir;modify=20210317000000;perm=el;UNIX.mode=0755;");
    expect(formatFacts({ ...dir, mode: 0 }, ["UNIX.mode"], RO)).toBe("UNIX.mode=0755;");
    expect(formatFacts({ ...file, mode: 0 }, ["UNIX.mode"], RO)).toBe("UNIX.mode=0644;");
    expect(formatFacts(link, ["type"], RO)).toBe("type=OS.unix=slink:report.txt;");
    expect(formatFacts({ ...link, target: undefined }, ["type"], RO)).toBe("type=OS.unix=slink:;");
    expect(formatFacts(other, ["type"], RO)).toBe("type=file;");
    expect(formatFacts({ ...file, unique: "a;b c" }, ["unique"], RO)).toBe("unique=a_b_c;");
    expect(permFacts(dir, RIGHTS)).toBe("elcmpdf");
    expect(permFacts(file, RO)).toBe("r");
  });

  it("formats MLSD lines and the MLST fact line", () => {
    expect(formatMlsd([file, dir], ["type"], RO, true)).toBe("type=dir; archive\r\ntype=file; report.txt\r\n");
    expect(formatMlstLine(file, ["size"], RO, "/report.txt")).toBe(" size=1234; /report.txt");
    expect(formatMlsd([file], [], RO, true)).toBe(" report.txt\r\n");
  });

  it("selects facts with OPTS MLST and advertises them in FEAT", () => {
    expect(parseMlstOpts("size;TYPE;bogus;")).toEqual(["type", "size"]);
    expect(parseMlstOpts("unix.mode")).toEqual(["UNIX.mode"]);
    expect(parseMlstOpts("")).toEqual([]);
    expect(parseMlstOpts(null)).toEqual([]);
    expect(parseMlstOpts("type; size;")).toBeNull();
    expect(parseMlstOpts("type;;size;")).toBeNull();
    expect(mlstOptsReply(["type", "size"])).toBe("MLST OPTS type;size;");
    expect(featMlstLine(["type"])).toBe("MLST type*;size;modify;perm;unique;UNIX.mode;");
  });
});

describe("globs", () => {
  it("matches * and ?", () => {
    expect(hasGlob("*.txt")).toBe(true);
    expect(hasGlob("a?")).toBe(true);
    expect(hasGlob("plain")).toBe(false);
    expect(matchesGlob("*.txt", "a.txt")).toBe(true);
    expect(matchesGlob("*.txt", "a.txt.bak")).toBe(false);
    expect(matchesGlob("a?c", "abc")).toBe(true);
    expect(matchesGlob("a*b*c", "aXXbYYc")).toBe(true);
    expect(matchesGlob("a*b*c", "aXXbYY")).toBe(false);
    expect(matchesGlob("**", "")).toBe(true);
    expect(matchesGlob("x", "y")).toBe(false);
  });
});
