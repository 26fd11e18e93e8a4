// The embedding API on Node: the driver's server on node:net, node:tls and the local disk.
import { constants, createPrivateKey, X509Certificate } from "node:crypto";
import tls, { type SecureContext } from "node:tls";
import { FtpServer, hookedPlatform, type ServerHooks, type ServerOptions as DriverOptions, type TlsCredentials } from "@pasv/driver";
import { nodePlatform } from "./node-platform.js";

export interface ServerOptions extends Omit<DriverOptions, "tls"> {
  /**
   * Enables AUTH TLS (explicit FTPS). With `required`, named users must protect the control
   * connection before USER and their data with PROT P (vsftpd's force_local_logins_ssl and
   * force_local_data_ssl); anonymous sessions may stay in plaintext. `server.reload(options)` with
   * a new key and cert makes new handshakes use them; running sessions keep the old ones.
   */
  readonly tls?: { readonly key: string | Uint8Array; readonly cert: string | Uint8Array; readonly required?: boolean };
}

/** `hooks` wrap the platform and the sessions (the fault layer of @pasv/testing); none by default. */
export function createServer(options: ServerOptions = {}, hooks: ServerHooks = {}): FtpServer {
  const { tls: material, ...rest } = options;
  if (material === undefined) return new FtpServer(hookedPlatform(nodePlatform(null), hooks), rest, hooks.instrument);
  return new FtpServer(hookedPlatform(nodePlatform({ context: secureContext(material), contextFor: secureContext }), hooks), { ...rest, tls: { ...material, required: material.required === true } }, hooks.instrument);
}

/** The one way a key and certificate become a context, at creation and at every reload; throws
 * on material that cannot serve a handshake. */
function secureContext(material: TlsCredentials): SecureContext {
  // Checked here, not left to createSecureContext: Deno's node:tls takes anything and fails every
  // handshake instead, and a reload must refuse such material before it replaces working material.
  const cert = readPem("certificate", () => new X509Certificate(pem(material.cert)));
  const key = readPem("key", () => createPrivateKey(pem(material.key)));
  if (!cert.checkPrivateKey(key)) throw new Error("the TLS key does not belong to the certificate");
  // No client-initiated renegotiation (TLS 1.2): each one costs the server a full handshake, and
  // nothing in FTPS needs it (vsftpd and ProFTPD refuse it too).
  return tls.createSecureContext({ key: pem(material.key), cert: pem(material.cert), secureOptions: constants.SSL_OP_NO_RENEGOTIATION });
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
