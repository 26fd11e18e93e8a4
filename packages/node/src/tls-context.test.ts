import { readFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import tls, { type SecureContext } from "node:tls";
import { afterEach, describe, expect, it } from "vitest";
import { MODERN_CIPHERS, secureContext } from "./tls-context.js";

const fixtures = path.join(import.meta.dirname, "../test-fixtures");
const material = { key: readFileSync(path.join(fixtures, "key.pem")), cert: readFileSync(path.join(fixtures, "cert.pem")) };
const servers: net.Server[] = [];

afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** A TLS server on a real socket whose context the test picks per connection; records resumption. */
async function serve(context: () => SecureContext): Promise<{ port: number; reused: boolean[] }> {
  const reused: boolean[] = [];
  const server = net.createServer((raw) => {
    const secure = new tls.TLSSocket(raw, { isServer: true, secureContext: context() });
    secure.on("secure", () => {
      reused.push(secure.isSessionReused());
      secure.end("ok");
    });
    secure.on("error", () => undefined);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { port: (server.address() as net.AddressInfo).port, reused };
}

/** Connects, reads to the end; resolves with the protocol, cipher and last session, or the error code. */
function hello(port: number, options: tls.ConnectionOptions = {}): Promise<{ protocol: string | null; cipher: string; session: Buffer | undefined } | { error: string }> {
  return new Promise((resolve) => {
    let session: Buffer | undefined;
    let agreed: { protocol: string | null; cipher: string } | null = null;
    let error: string | null = null;
    const c = tls.connect({ port, host: "127.0.0.1", rejectUnauthorized: false, ...options });
    c.on("secureConnect", () => (agreed = { protocol: c.getProtocol(), cipher: c.getCipher().name }));
    c.on("session", (s: Buffer) => (session = s));
    c.on("data", () => undefined);
    c.on("error", (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
    c.on("close", () => {
      resolve(agreed === null ? { error: error ?? "closed" } : { ...agreed, session });
    });
  });
}

describe("secureContext", () => {
  it("accepts TLS 1.2 and 1.3 by default, refuses 1.1 (a protocol_version alert from the server)", async () => {
    const { port } = await serve(() => secureContext(material));
    expect(await hello(port, { maxVersion: "TLSv1.2" })).toMatchObject({ protocol: "TLSv1.2" });
    expect(await hello(port)).toMatchObject({ protocol: "TLSv1.3" });
    expect(await hello(port, { minVersion: "TLSv1", maxVersion: "TLSv1.1", ciphers: "DEFAULT@SECLEVEL=0" })).toEqual({ error: "ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION" });
  });

  it("minVersion TLSv1.3 refuses a TLS 1.2 client; a TLS 1.2 client offering only non-modern ciphers is refused", async () => {
    const { port } = await serve(() => secureContext({ ...material, minVersion: "TLSv1.3" }));
    expect(await hello(port, { maxVersion: "TLSv1.2" })).toEqual({ error: "ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION" });
    const modern = await serve(() => secureContext(material));
    expect(await hello(modern.port, { maxVersion: "TLSv1.2", ciphers: "AES128-SHA256" })).toEqual({ error: "ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE" });
    const agreed = await hello(modern.port, { maxVersion: "TLSv1.2" });
    expect("cipher" in agreed ? agreed.cipher : agreed.error).toMatch(/^ECDHE-RSA-(AES\d+-GCM-SHA\d+|CHACHA20-POLY1305)$/);
    expect(MODERN_CIPHERS.split(":")).not.toContain("AES128-SHA256");
  });

  it("a context with its own tickets resumes only its own sessions", async () => {
    const mine = secureContext(material, true);
    const other = secureContext(material, true);
    let next = mine;
    const { port, reused } = await serve(() => next);
    for (const maxVersion of ["TLSv1.2", "TLSv1.3"] as const) {
      const first = await hello(port, { maxVersion });
      const session = "session" in first ? first.session : undefined;
      expect(session).toBeInstanceOf(Buffer);
      await hello(port, { maxVersion, session });
      next = other;
      await hello(port, { maxVersion, session });
      next = mine;
    }
    expect(reused).toEqual([false, true, false, false, true, false]);
  });
});
