// Scenarios as fast-check arbitraries, so a failing simulation shrinks to a small one: fewer
// clients, fewer steps, faults switched off one by one.
import fc from "fast-check";
import { RIGHTS } from "@pasv/core";
import type { Scenario } from "./run.js";

export const scenarioArbitrary: fc.Arbitrary<{ seed: number; scenario: Scenario }> = fc
  .record({
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    maxChunk: fc.constantFrom(65536, 1500, 64, 7, 2, 1),
    maxLatency: fc.constantFrom(1, 5, 50),
    refuseConnect: fc.constantFrom(0, 0.05),
    resetPerChunk: fc.constantFrom(0, 0.0005),
    timerEarly: fc.constantFrom(0, 1),
    timerLate: fc.constantFrom(0, 50),
    failOp: fc.constantFrom(0, 0.03),
    noSpaceMidWrite: fc.constantFrom(0, 0.2),
    ioMidRead: fc.constantFrom(0, 0.2),
    maxReadChunk: fc.constantFrom(65536, 4096, 100, 1),
    maxLineBytes: fc.constantFrom(8192, 512, 64),
    idle: fc.constantFrom(300_000, 30_000, 2_000),
    maxSessions: fc.constantFrom(512, 3, 1),
    shutdownAt: fc.constantFrom(null, 60_000, 1_000),
    drainMs: fc.constantFrom(0, 5_000),
    reloadAt: fc.constantFrom(null, 1_000),
    sharedAddress: fc.boolean(),
    goodClients: fc.integer({ min: 1, max: 4 }),
    hostile: fc.array(fc.constantFrom("garbage", "overlong", "iac", "burst", "deaf", "thief"), { maxLength: 3 }),
    steps: fc.integer({ min: 1, max: 25 }),
    // Shrinks towards every right (the usual account), then towards fewer refusals.
    rights: fc.oneof(fc.constant(RIGHTS), fc.subarray([...RIGHTS])),
    // Shrinks towards no guessers and no bans.
    guessers: fc.integer({ min: 0, max: 2 }),
    banAfter: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 6 })),
    // Shrink towards plaintext and the in-memory file system.
    tls: fc.constantFrom(null, { required: false, reuseCheck: true }, { required: true, reuseCheck: true }),
    tlsStallers: fc.array(fc.constantFrom("silent" as const, "half" as const, "garbage" as const), { maxLength: 2 }),
    disk: fc.constantFrom(null, { confine: "descriptor" as const, race: true, probers: 1 }),
    hoarders: fc.integer({ min: 0, max: 1 }),
  })
  .map((k) => ({
    seed: k.seed,
    scenario: {
      net: { maxChunk: k.maxChunk, minLatency: 0, maxLatency: k.maxLatency, refuseConnect: k.refuseConnect, resetPerChunk: k.resetPerChunk, timerEarly: k.timerEarly, timerLate: k.timerLate },
      fs: { failOp: k.failOp, noSpaceMidWrite: k.noSpaceMidWrite, ioMidRead: k.ioMidRead, maxReadChunk: k.maxReadChunk, maxDelay: 1 },
      server: {
        passivePorts: { min: 49152, max: 65534 },
        limits: { maxLineBytes: k.maxLineBytes },
        timeouts: { idle: k.idle },
        maxSessions: k.maxSessions,
        bans: k.banAfter === 0 ? (false as const) : { after: k.banAfter, windowMs: 100_000_000, durationMs: 100_000_000 },
        ...(k.tls === null ? {} : { tls: k.tls, tlsHandshakeMs: 500 }),
      },
      shutdownAt: k.shutdownAt,
      drainMs: k.drainMs,
      reloadAt: k.reloadAt,
      reloadTo: { timeouts: { idle: 2_000 }, maxRateDown: 2_000 },
      sharedAddress: k.sharedAddress,
      goodClients: k.goodClients,
      hostile: k.hostile,
      steps: k.steps,
      rights: k.rights,
      guessers: k.guessers,
      tlsStallers: k.tls === null ? [] : k.tlsStallers,
      disk: k.disk,
      hoarders: k.hoarders,
    },
  }));
