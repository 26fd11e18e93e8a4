import { describe, expect, it } from "vitest";
import { makeConfig } from "./config.js";
import { NO_DEADLINES } from "./deadline.js";
import { copyState, initialSession } from "./state.js";
import type { SessionOpen } from "./types.js";

const open = (local: string, remote: string, passiveAddress: string | null = null): SessionOpen => ({
  now: 5,
  local: { address: local, port: 21 },
  remote: { address: remote, port: 40000 },
  implicitTls: false,
  passiveAddress,
  refuse: null,
});

describe("initialSession", () => {
  it("normalises addresses and picks the passive address from the local one on IPv4", () => {
    const s = initialSession(makeConfig(), open("::ffff:10.0.0.1", "::ffff:10.0.0.2"));
    expect(s.local.address).toBe("10.0.0.1");
    expect(s.remote.address).toBe("10.0.0.2");
    expect(s.family).toBe(4);
    expect(s.passiveAddress).toBe("10.0.0.1");
    expect(s.deadlines).toBe(NO_DEADLINES);
  });

  it("has no passive address on IPv6 unless one is configured", () => {
    expect(initialSession(makeConfig(), open("::1", "::1")).passiveAddress).toBeNull();
    expect(initialSession(makeConfig(), open("::1", "::1", "192.0.2.7")).passiveAddress).toBe("192.0.2.7");
  });

  it("keeps an address it cannot parse as the runtime gave it", () => {
    const s = initialSession(makeConfig(), open("not-an-ip", "also-not"));
    expect(s.local.address).toBe("not-an-ip");
    expect(s.remote.address).toBe("also-not");
    expect(s.family).toBe(4);
    expect(s.passiveAddress).toBeNull();
  });

  it("copyState copies every field", () => {
    const s = initialSession(makeConfig(), open("127.0.0.1", "127.0.0.1"));
    expect(copyState(s)).toEqual(s);
    expect(Object.keys(copyState(s)).sort()).toEqual(Object.keys(s).sort());
  });
});
