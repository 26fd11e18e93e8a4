import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { check } from "../test/replay.js";
import { civilFromMillis, formatListDate, formatMdtm, millisFromCivil, parseMdtmTime } from "./time.js";

const FILE = "packages/core/src/time.test.ts";
const DAY = 86_400_000;

describe("UTC calendar without Date", () => {
  it("agrees with Date for any instant from 1900 to 2400", () => {
    check(
      fc.property(fc.integer({ min: Date.UTC(1900, 0, 1), max: Date.UTC(2400, 0, 1) }), (ms) => {
        const d = new Date(ms);
        const c = civilFromMillis(ms);
        expect([c.year, c.month, c.day, c.hour, c.minute, c.second, c.millis]).toEqual([d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds()]);
        expect(millisFromCivil(c)).toBe(ms);
        expect(formatMdtm(ms)).toBe(d.toISOString().replace(/[-:T]/g, "").slice(0, 14));
        expect(parseMdtmTime(formatMdtm(ms))).toBe(ms - (ms % 1000 + 1000) % 1000);
      }),
      FILE,
    );
  });

  it("parses MDTM/MFMT times and refuses impossible ones", () => {
    expect(parseMdtmTime("20240229123456")).toBe(Date.UTC(2024, 1, 29, 12, 34, 56));
    expect(parseMdtmTime("20240229123456.5")).toBe(Date.UTC(2024, 1, 29, 12, 34, 56, 500));
    expect(parseMdtmTime("20000229000000")).toBe(Date.UTC(2000, 1, 29));
    for (const bad of ["20230229000000", "19000229000000", "20240431000000", "20241301000000", "20240001000000", "20240100000000", "20240101240000", "20240101006000", "20240101000060", "2024010100000", "x", "20240101000000.", "20240101000000.1234567890"]) {
      expect(parseMdtmTime(bad), bad).toBeNull();
    }
  });

  it("shows the time for recent files and the year for old or future ones (vsftpd's 182 days)", () => {
    const now = Date.UTC(2024, 5, 15, 12, 0);
    expect(formatListDate(Date.UTC(2024, 0, 5, 9, 7), now)).toBe("Jan 05 09:07");
    expect(formatListDate(now - 183 * DAY, now)).toBe("Dec 15  2023");
    expect(formatListDate(now + DAY, now)).toBe("Jun 16  2024");
    expect(formatListDate(Date.UTC(1999, 11, 31), now)).toBe("Dec 31  1999");
  });
});
