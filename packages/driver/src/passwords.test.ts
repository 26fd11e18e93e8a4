import { describe, expect, it } from "vitest";
import { HASH_TIME_SLICE_MS, HashLimiter, SHA_CRYPT_MAX_ROUNDS, constantTimeBytesEqual, hashPassword, parsePasswordHash, passwordHashCostProblem, verifyPassword } from "./passwords.js";

/** The password every vector below was made from (non-ASCII and a space: UTF-8 bytes are hashed). */
const PASSWORD = "pässword 1";

/** Made with the real tools (Debian 13: apache2-utils, whois, argon2), never by this code. */
const VECTORS: readonly { tool: string; kind: string; hash: string }[] = [
  { tool: "htpasswd -nbB -C 4", kind: "bcrypt", hash: "$2y$04$c0fxWKDhAxl80Ae4vKzp8udyVlJKK9lkFbRV/Ymz7TMBp/pdaOJvC" },
  { tool: "mkpasswd -m bcrypt", kind: "bcrypt", hash: "$2b$05$I2O0O0OdC7HwLmhlWsfpy.O0ifmt.JIb93SCQTFQiIj9v1iHNX50G" },
  { tool: "mkpasswd -m bcrypt-a", kind: "bcrypt", hash: "$2a$05$ZvHfHM4PSoHZKgXov5O9Lejq//5Bj8/uCEfWLCZB0y7kP9g.NkQBu" },
  { tool: "mkpasswd -m sha-512", kind: "sha-crypt", hash: "$6$oI2NoZCViwMcuS8B$k0XWDkEuw8Kz2UE8RoZvp/1zbnd5trkilsjMgktwNS8e.AcF6c3MHcQMEgmzqzHDCMHvfmuVstSRtB4EzaKXO1" },
  { tool: "mkpasswd -m sha-512 -R 10000", kind: "sha-crypt", hash: "$6$rounds=10000$6hXT68f0E46o/FX3$che1LyZIUWgnVawVjuIYywS5LpGtc4Z33ZmdWWrZkaSP8XUs72cINdSa9/tNyKkYImD.UVr8yqyErRFtDB/19/" },
  { tool: "mkpasswd -m sha-256", kind: "sha-crypt", hash: "$5$zBGdXL28lEQyWWwW$v5yUn7waKpAJCAEtDVOy8NVVkv.Z3Y3xPvUe5TWv607" },
  { tool: "mkpasswd -m sha-256 -R 1000", kind: "sha-crypt", hash: "$5$rounds=1000$SxNVvYMphsk0/xxu$QQtcXy4Su5WE4wOmgE864IlLZ6dpFOSn8ajeybVVArB" },
  { tool: "mkpasswd -m scrypt", kind: "scrypt", hash: "$7$CU..../....APAIMf./oN81GfPbB68rB1$oHiLXNPU/mD6KIDTOgsYHJ0Sb5f4BAIGDFJCDEaK0C2" },
  { tool: "argon2 saltsaltsalt -id -t 2 -m 12 -p 1 -e", kind: "argon2id", hash: "$argon2id$v=19$m=4096,t=2,p=1$c2FsdHNhbHRzYWx0$mGOprC/1+AK5ooyFrKw5NJw439fkl6nnw52nLnvuDys" },
  { tool: "argon2 saltsaltsalt -id -t 3 -k 4096 -p 2 -l 24 -e", kind: "argon2id", hash: "$argon2id$v=19$m=4096,t=3,p=2$c2FsdHNhbHRzYWx0$1lBlBseREQDBw5auRbnFlEs9bvkr9dmS" },
];

describe("verifyPassword with hashes from the real tools", () => {
  for (const v of VECTORS) {
    it(`${v.tool}: the password verifies, a near miss does not`, async () => {
      const hash = parsePasswordHash(v.hash);
      expect(hash?.kind).toBe(v.kind);
      if (hash === null) return;
      expect(await verifyPassword(hash, PASSWORD)).toBe(true);
      expect(await verifyPassword(hash, "pässword 2")).toBe(false);
      expect(await verifyPassword(hash, "")).toBe(false);
    }, 20_000);
  }
});

describe("parsePasswordHash", () => {
  it("refuses plaintext and formats it cannot verify", () => {
    for (const text of [
      "secret",
      "",
      "$1$Dgl2WsVo$4GKJ4TlkBjo6VqY1K2oGW/", // md5crypt
      "$y$j9T$HVWZYKH9qiFjhkCgTGWGk/$V4.A8fxunsp6T0XMuNLkAME8jO3E6am6Uf5MgaYHcF2", // yescrypt (mkpasswd's default)
      "$argon2i$v=19$m=4096,t=2,p=1$c2FsdHNhbHRzYWx0$mGOprC/1+AK5ooyFrKw5NJw439fkl6nnw52nLnvuDys",
      "$2x$04$c0fxWKDhAxl80Ae4vKzp8udyVlJKK9lkFbRV/Ymz7TMBp/pdaOJvC", // no such bcrypt version
      "$2y$03$c0fxWKDhAxl80Ae4vKzp8udyVlJKK9lkFbRV/Ymz7TMBp/pdaOJvC", // cost below 4
      "$2y$04$c0fxWKDhAxl80Ae4vKzp8udyVlJKK9lkFbRV/Ymz7TMBp/pdaOJv", // one character short
      "$6$oI2NoZCViwMcuS8B$k0XWDkEuw8Kz2UE8RoZvp", // truncated SHA-512 hash
      "$5$rounds=999$SxNVvYMphsk0/xxu$QQtcXy4Su5WE4wOmgE864IlLZ6dpFOSn8ajeybVVArB", // rounds below crypt's 1000
      "$argon2id$v=16$m=4096,t=2,p=1$c2FsdHNhbHRzYWx0$mGOprC/1+AK5ooyFrKw5NJw439fkl6nnw52nLnvuDys", // old version
      "$argon2id$v=19$m=4,t=2,p=1$c2FsdHNhbHRzYWx0$mGOprC/1+AK5ooyFrKw5NJw439fkl6nnw52nLnvuDys", // m < 8p
      "$argon2id$v=19$m=4096,t=2,p=1$c2FsdA$mGOprC/1+AK5ooyFrKw5NJw439fkl6nnw52nLnvuDys", // 4-byte salt
      "$7$.U..../....APAIMf./oN81GfPbB68rB1$oHiLXNPU/mD6KIDTOgsYHJ0Sb5f4BAIGDFJCDEaK0C2", // N = 1
      "$7$CU..../....APAIMf./oN81GfPbB68rB1$oHiLXNPU/mD6KIDTOgsYHJ0Sb5f4BAIGDFJCDEaK0C", // short hash
    ]) {
      expect(parsePasswordHash(text), text).toBeNull();
    }
  });

  it("gives hashes of one cost the same shape and different costs different shapes", () => {
    const shape = (text: string): string | undefined => parsePasswordHash(text)?.shape;
    expect(shape(VECTORS[1]?.hash ?? "")).toBe(shape(VECTORS[2]?.hash ?? ""));
    expect(shape(VECTORS[0]?.hash ?? "")).not.toBe(shape(VECTORS[1]?.hash ?? ""));
    expect(shape(VECTORS[3]?.hash ?? "")).toBe("sha-crypt:6:5000");
    expect(shape(VECTORS[4]?.hash ?? "")).toBe("sha-crypt:6:10000");
    expect(shape(VECTORS[7]?.hash ?? "")).toBe("scrypt:14:32:1");
  });
});

describe("passwordHashCostProblem", () => {
  it("refuses SHA-crypt over SHA_CRYPT_MAX_ROUNDS, which would stall every session at each login, and nothing else", () => {
    const sha = (rounds: number): string => `$6$rounds=${rounds}$6hXT68f0E46o/FX3$${"a".repeat(86)}`;
    const problem = (text: string): string | null => {
      const hash = parsePasswordHash(text);
      if (hash === null) throw new Error(`not a hash: ${text}`);
      return passwordHashCostProblem(hash);
    };
    expect(problem(sha(SHA_CRYPT_MAX_ROUNDS))).toBeNull();
    expect(problem(sha(SHA_CRYPT_MAX_ROUNDS + 1))).toBe(`SHA-crypt with rounds=${SHA_CRYPT_MAX_ROUNDS + 1} would stop every other session while each login is checked (SHA-crypt cannot yield; the most is ${SHA_CRYPT_MAX_ROUNDS} rounds)`);
    expect(problem(sha(999_999_999))).toMatch(/rounds=999999999/);
    for (const v of VECTORS) expect(problem(v.hash), v.tool).toBeNull();
  });
});

describe("hashPassword", () => {
  it("prints an OWASP argon2id PHC string with a fresh salt that verifies", async () => {
    const a = await hashPassword(PASSWORD);
    const b = await hashPassword(PASSWORD);
    expect(a).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(a).not.toBe(b);
    const hash = parsePasswordHash(a);
    expect(hash?.kind).toBe("argon2id");
    if (hash === null) return;
    expect(await verifyPassword(hash, PASSWORD)).toBe(true);
    expect(await verifyPassword(hash, "pässword")).toBe(false);
  }, 30_000);

  it("lets timers run while it hashes (the loop is never blocked for the whole hash)", async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const started = Date.now();
    await hashPassword(PASSWORD);
    const took = Date.now() - started;
    clearInterval(timer);
    // A hash that never yields gives the 1 ms interval no turn at all until it ends.
    expect(took).toBeGreaterThan(4 * HASH_TIME_SLICE_MS);
    expect(ticks).toBeGreaterThan(2);
  }, 30_000);
});

describe("HashLimiter", () => {
  it("runs at most `limit` at once and the rest in arrival order", async () => {
    const limiter = new HashLimiter(2);
    let running = 0;
    let most = 0;
    const order: number[] = [];
    const work = (i: number) => async (): Promise<number> => {
      running++;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, 5));
      running--;
      order.push(i);
      return i;
    };
    const results = await Promise.all([0, 1, 2, 3, 4].map((i) => limiter.run(work(i))));
    expect(results).toEqual([0, 1, 2, 3, 4]);
    expect(most).toBe(2);
    expect(order.slice(2)).toEqual([2, 3, 4]);
  });

  it("frees the slot when the work fails", async () => {
    const limiter = new HashLimiter(1);
    await expect(limiter.run(() => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(await limiter.run(() => Promise.resolve(7))).toBe(7);
  });
});

describe("constantTimeBytesEqual", () => {
  it("is true only for equal bytes of equal length", () => {
    expect(constantTimeBytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2))).toBe(true);
    expect(constantTimeBytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 3))).toBe(false);
    expect(constantTimeBytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2, 0))).toBe(false);
    expect(constantTimeBytesEqual(Uint8Array.of(), Uint8Array.of(0))).toBe(false);
  });
});
