import { describe, expect, it } from "vitest";
import { SessionCounter } from "./policy.js";

describe("SessionCounter", () => {
  it("caps sessions globally and per address, and frees slots on release (once)", () => {
    const c = new SessionCounter({ maxSessions: 3, maxSessionsPerIp: 2 });
    const a1 = c.admit("10.0.0.1");
    const a2 = c.admit("::ffff:10.0.0.1");
    expect(c.admit("10.0.0.1")).toEqual({ admitted: false, reason: "max-sessions-per-ip" });
    const b = c.admit("10.0.0.2");
    expect(c.admit("10.0.0.3")).toEqual({ admitted: false, reason: "max-sessions" });
    expect(c.sessions).toBe(3);
    if (!a1.admitted || !a2.admitted || !b.admitted) throw new Error("expected admissions");
    a1.release();
    a1.release();
    expect(c.sessions).toBe(2);
    expect(c.admit("10.0.0.1").admitted).toBe(true);
    a2.release();
    b.release();
    expect(c.sessions).toBe(1);
  });

  it("new limits (a reload) apply to admissions from then on; admitted sessions keep their slots", () => {
    const c = new SessionCounter({ maxSessions: 3, maxSessionsPerIp: 3 });
    const a = c.admit("10.0.0.1");
    c.admit("10.0.0.1");
    c.setLimits({ maxSessions: 2, maxSessionsPerIp: 1 });
    expect(c.sessions).toBe(2);
    expect(c.admit("10.0.0.2")).toEqual({ admitted: false, reason: "max-sessions" });
    if (a.admitted) a.release();
    expect(c.admit("10.0.0.1")).toEqual({ admitted: false, reason: "max-sessions-per-ip" });
    expect(c.admit("10.0.0.2").admitted).toBe(true);
  });
});
