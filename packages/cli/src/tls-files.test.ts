import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkTlsFiles } from "./tls-files.js";

// Real certificates from openssl: a CA, a leaf it signed, and an unrelated self-signed pair.
const dir = mkdtempSync(path.join(tmpdir(), "pasv-tls-files-"));
const file = (name: string): string => path.join(dir, name);
const openssl = (...args: string[]): void => void execFileSync("openssl", args, { stdio: "ignore" });
openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", file("ca.key"), "-out", file("ca.pem"), "-days", "30", "-subj", "/CN=pasv test CA");
openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", file("leaf.key"), "-out", file("leaf.csr"), "-subj", "/CN=localhost");
openssl("x509", "-req", "-in", file("leaf.csr"), "-CA", file("ca.pem"), "-CAkey", file("ca.key"), "-CAcreateserial", "-out", file("leaf.pem"), "-days", "30");
openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", file("other.key"), "-out", file("other.pem"), "-days", "30", "-subj", "/CN=other");
openssl("pkey", "-in", file("leaf.key"), "-aes256", "-passout", "pass:secret", "-out", file("encrypted.key"));
const bytes = (name: string): Uint8Array => readFileSync(file(name));
const chain = Buffer.concat([readFileSync(file("leaf.pem")), readFileSync(file("ca.pem"))]);
const now = new Date();

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("checkTlsFiles", () => {
  it("accepts a leaf with its chain and counts every certificate", () => {
    expect(checkTlsFiles("chain.pem", chain, "leaf.key", bytes("leaf.key"), now)).toEqual({ chain: 2, warnings: [] });
    expect(checkTlsFiles("leaf.pem", bytes("leaf.pem"), "leaf.key", bytes("leaf.key"), now)).toEqual({ chain: 1, warnings: [] });
  });

  it("names the file that is not PEM, the key that does not match, an encrypted key", () => {
    expect(checkTlsFiles("c.pem", new TextEncoder().encode("garbage\n"), "leaf.key", bytes("leaf.key"), now)).toBe('c.pem: not a PEM certificate (no "-----BEGIN CERTIFICATE-----" block)');
    // A key given as the certificate, and the certificate given as the key.
    expect(checkTlsFiles("leaf.key", bytes("leaf.key"), "leaf.key", bytes("leaf.key"), now)).toMatch(/^leaf\.key: not a PEM certificate/);
    expect(checkTlsFiles("leaf.pem", bytes("leaf.pem"), "leaf.pem", bytes("leaf.pem"), now)).toMatch(/^leaf\.pem: not a PEM private key/);
    expect(checkTlsFiles("leaf.pem", bytes("leaf.pem"), "other.key", bytes("other.key"), now)).toBe("other.key: the private key does not match the certificate in leaf.pem (CN=localhost)");
    expect(checkTlsFiles("leaf.pem", bytes("leaf.pem"), "encrypted.key", bytes("encrypted.key"), now)).toMatch(/^encrypted\.key: the private key is encrypted/);
    const broken = new TextEncoder().encode("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    expect(checkTlsFiles("b.pem", broken, "leaf.key", bytes("leaf.key"), now)).toMatch(/^b\.pem: certificate 1 of 1 cannot be read: /);
  });

  it("warns about a certificate that has expired or is not valid yet, and still accepts it", () => {
    const later = new Date(now.getTime() + 60 * 86_400_000);
    const expired = checkTlsFiles("chain.pem", chain, "leaf.key", bytes("leaf.key"), later);
    expect(typeof expired).toBe("object");
    const warnings = typeof expired === "string" ? [] : expired.warnings;
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/^warning: chain\.pem: the certificate expired on \d{4}-/);
    expect(warnings[1]).toMatch(/^warning: chain\.pem: chain certificate 2 expired on /);
    const earlier = checkTlsFiles("leaf.pem", bytes("leaf.pem"), "leaf.key", bytes("leaf.key"), new Date(now.getTime() - 86_400_000));
    expect(typeof earlier === "string" ? earlier : earlier.warnings).toEqual([expect.stringMatching(/^warning: leaf\.pem: the certificate is not valid before /)]);
  });
});
