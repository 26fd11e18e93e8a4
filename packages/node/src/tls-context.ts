// The TLS policy of the server's one secure context: versions, ciphers, the certificate chain.
import { constants, createPrivateKey, randomBytes, X509Certificate } from "node:crypto";
import tls, { type SecureContext } from "node:tls";

/**
 * ECDHE key exchange with AEAD ciphers only (Mozilla's "intermediate" list for TLS 1.2, and the
 * three TLS 1.3 suites): forward secrecy, no CBC, no RSA key exchange, no SHA-1 MACs.
 */
export const MODERN_CIPHERS = [
  "TLS_AES_128_GCM_SHA256",
  "TLS_AES_256_GCM_SHA384",
  "TLS_CHACHA20_POLY1305_SHA256",
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
].join(":");

export interface TlsMaterial {
  readonly key: string | Uint8Array;
  /** The leaf certificate, then the intermediates that signed it: all of them are served. */
  readonly cert: string | Uint8Array;
  /** Oldest version accepted (default TLS 1.2: 1.0 and 1.1 are deprecated, RFC 8996). */
  readonly minVersion?: "TLSv1.2" | "TLSv1.3";
  /** An OpenSSL cipher list (TLS 1.3 suites included by their TLS_ names); default MODERN_CIPHERS. */
  readonly ciphers?: string | null;
}

/**
 * The server's context, or with `ownTickets` one for a single control connection: its ticket keys
 * are its own, so a data connection resumes its TLS session only with a ticket (or, TLS 1.3, a PSK)
 * issued on that control connection, never with another session's.
 */
export function secureContext(material: TlsMaterial, ownTickets = false): SecureContext {
  // Checked here, not left to createSecureContext: Deno's node:tls takes anything and fails every
  // handshake instead, and a reload must refuse such material before it replaces working material.
  const cert = readPem("certificate", () => new X509Certificate(pem(material.cert)));
  const key = readPem("key", () => createPrivateKey(pem(material.key)));
  if (!cert.checkPrivateKey(key)) throw new Error("the TLS key does not belong to the certificate");
  return tls.createSecureContext({
    ...(ownTickets ? { ticketKeys: randomBytes(48) } : {}),
    key: pem(material.key),
    // node:tls serves every certificate of a PEM chain given as `cert`, leaf first.
    cert: pem(material.cert),
    minVersion: material.minVersion ?? "TLSv1.2",
    ciphers: material.ciphers ?? MODERN_CIPHERS,
    honorCipherOrder: true,
    // No client-initiated renegotiation (TLS 1.2): each one costs the server a full handshake, and
    // nothing in FTPS needs it (vsftpd and ProFTPD refuse it too).
    secureOptions: constants.SSL_OP_NO_RENEGOTIATION,
  });
}

function readPem<T>(what: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    throw new Error(`the TLS ${what} is not usable PEM (${error instanceof Error ? error.message : String(error)})`, { cause: error });
  }
}

function pem(material: string | Uint8Array): string | Buffer {
  return typeof material === "string" ? material : Buffer.from(material.buffer, material.byteOffset, material.byteLength);
}
