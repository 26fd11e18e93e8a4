import { PRESETS } from "@pasv/core";
import { describe, expect, it } from "vitest";
import { accountsAuth, typicalHash } from "./accounts.js";
import { MemoryFs } from "./memory-fs.js";
import { HashLimiter, parsePasswordHash, verifyPassword, type PasswordHash } from "./passwords.js";

const remote = { address: "127.0.0.1", port: 5000 };
const fs = new MemoryFs({});
// Made with htpasswd -nbB -C 4 / mkpasswd -m bcrypt / mkpasswd -m sha-512, password "pässword 1".
const BCRYPT4 = "$2y$04$c0fxWKDhAxl80Ae4vKzp8udyVlJKK9lkFbRV/Ymz7TMBp/pdaOJvC";
const BCRYPT5 = "$2b$05$I2O0O0OdC7HwLmhlWsfpy.O0ifmt.JIb93SCQTFQiIj9v1iHNX50G";
const SHA512 = "$6$oI2NoZCViwMcuS8B$k0XWDkEuw8Kz2UE8RoZvp/1zbnd5trkilsjMgktwNS8e.AcF6c3MHcQMEgmzqzHDCMHvfmuVstSRtB4EzaKXO1";

function parsed(text: string): PasswordHash {
  const hash = parsePasswordHash(text);
  if (hash === null) throw new Error(`not a hash: ${text}`);
  return hash;
}

/** accountsAuth whose hash checks are recorded (and answered by the real verifier). */
function recorded(users: Parameters<typeof accountsAuth>[0]["users"]) {
  const checked: string[] = [];
  const auth = accountsAuth(
    {
      users,
      anonymous: true,
      write: false,
      hideDotfiles: "anonymous",
      verify: (hash, password) => {
        checked.push(hash.text);
        return verifyPassword(hash, password);
      },
    },
    () => fs,
  );
  return { auth, checked };
}

describe("accountsAuth with password hashes", () => {
  it("logs a hashed user in with the right password only", async () => {
    const { auth } = recorded([{ user: "alice", passwordHash: BCRYPT4 }, { user: "bob", passwordHash: SHA512, write: true }]);
    expect((await auth.authenticate({ user: "alice", password: "pässword 1", remote, tls: false }))?.account).toEqual({ user: "alice", anonymous: false, rights: PRESETS["read-only"], hideDotFiles: false });
    expect((await auth.authenticate({ user: "bob", password: "pässword 1", remote, tls: false }))?.account).toEqual({ user: "bob", anonymous: false, rights: PRESETS["read-write"], hideDotFiles: false });
    expect(await auth.authenticate({ user: "alice", password: "pässword", remote, tls: false })).toBeNull();
    // The hash text itself is not a password.
    expect(await auth.authenticate({ user: "alice", password: BCRYPT4, remote, tls: false })).toBeNull();
  }, 20_000);

  it("an unknown name costs one check of the typical entry's hash, and never logs in", async () => {
    const { auth, checked } = recorded([
      { user: "alice", passwordHash: BCRYPT5 },
      { user: "bob", passwordHash: SHA512 },
      { user: "carol", passwordHash: BCRYPT5.replace("I2O0", "I2O1") },
    ]);
    // The password of the entry used as the dummy must not open an unknown name.
    expect(await auth.authenticate({ user: "mallory", password: "pässword 1", remote, tls: false })).toBeNull();
    expect(checked).toEqual([BCRYPT5]);
    checked.length = 0;
    expect(await auth.authenticate({ user: "alice", password: "wrong", remote, tls: false })).toBeNull();
    expect(checked).toEqual([BCRYPT5]);
  }, 20_000);

  it("a plaintext user costs the same dummy check when hashed users exist, none otherwise", async () => {
    const mixed = recorded([{ user: "alice", passwordHash: SHA512 }, { user: "local", password: "pw" }]);
    expect((await mixed.auth.authenticate({ user: "local", password: "pw", remote, tls: false }))?.account.user).toBe("local");
    expect(await mixed.auth.authenticate({ user: "local", password: "pX", remote, tls: false })).toBeNull();
    expect(mixed.checked).toEqual([SHA512, SHA512]);
    const plain = recorded([{ user: "local", password: "pw" }]);
    expect(await plain.auth.authenticate({ user: "nobody", password: "pw", remote, tls: false })).toBeNull();
    expect((await plain.auth.authenticate({ user: "local", password: "pw", remote, tls: false }))?.account.user).toBe("local");
    expect(plain.checked).toEqual([]);
    // Anonymous logins cost no hash work.
    expect((await mixed.auth.authenticate({ user: "ftp", password: "x", remote, tls: false }))?.account.anonymous).toBe(true);
    expect(mixed.checked).toHaveLength(2);
  }, 20_000);

  it("refuses a spec with no password, both kinds, or an unrecognised hash", () => {
    expect(() => accountsAuth({ users: [{ user: "a" }], anonymous: false, write: false, hideDotfiles: "anonymous" }, () => fs)).toThrow('user "a": give exactly one of password and passwordHash');
    expect(() => accountsAuth({ users: [{ user: "a", password: "x", passwordHash: BCRYPT4 }], anonymous: false, write: false, hideDotfiles: "anonymous" }, () => fs)).toThrow("exactly one");
    expect(() => accountsAuth({ users: [{ user: "a", passwordHash: "secret" }], anonymous: false, write: false, hideDotfiles: "anonymous" }, () => fs)).toThrow('user "a": passwordHash is not a recognised hash');
  });
});

describe("typicalHash", () => {
  it("picks an entry of the most common shape, the first shape seen on a tie, null with no hashes", () => {
    expect(typicalHash([])).toBeNull();
    expect(typicalHash([null, null])).toBeNull();
    expect(typicalHash([parsed(SHA512), parsed(BCRYPT5), parsed(BCRYPT5.replace("I2O0", "I2O1"))])?.shape).toBe("bcrypt:5");
    expect(typicalHash([parsed(SHA512), null, parsed(BCRYPT5)])?.shape).toBe("sha-crypt:6:5000");
    expect(typicalHash([parsed(BCRYPT4), parsed(BCRYPT5), parsed(BCRYPT5)])?.text).toBe(BCRYPT5);
  });
});

describe("accountsAuth's hash limiter", () => {
  it("providers given one limiter (a server's generations of accounts) verify within its one bound", async () => {
    let running = 0;
    const releases: (() => void)[] = [];
    const verify = async (): Promise<boolean> => {
      running++;
      await new Promise<void>((resolve) => releases.push(resolve));
      running--;
      return false;
    };
    const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 5));
    const pair = async (limiter?: HashLimiter): Promise<number> => {
      const make = (): ReturnType<typeof accountsAuth> => accountsAuth({ users: [{ user: "a", passwordHash: SHA512 }], anonymous: false, write: false, hideDotfiles: "anonymous", verify, ...(limiter === undefined ? {} : { limiter }) }, () => fs);
      const attempts = [make(), make()].map((auth) => auth.authenticate({ user: "a", password: "x", remote, tls: false }));
      await tick();
      const together = running;
      while (releases.length > 0) {
        releases.shift()?.();
        await tick();
      }
      await Promise.all(attempts);
      return together;
    };
    expect(await pair(new HashLimiter(1))).toBe(1);
    // Each with a limiter of its own, the two run side by side.
    expect(await pair()).toBe(2);
  });
});
