// The embedding API on Node: the driver's server on node:net, node:tls and the local disk.
import { FtpServer, hookedPlatform, type InlineFs, type ServerHooks, type ServerOptions as DriverOptions, type TlsCredentials } from "@pasv/driver";
import { nodePlatform, type NodeTls } from "./node-platform.js";
import { secureContext, type TlsMaterial } from "./tls-context.js";

export interface ServerOptions extends Omit<DriverOptions, "tls"> {
  /** How the local disk makes its blocking calls (LocalFs's `inline`; default "auto"). */
  readonly inlineFs?: InlineFs;
  /**
   * Enables FTPS: AUTH TLS (explicit) on every listener, and `listen(port, host, { implicitTls:
   * true })` for implicit FTPS. With `required`, named users must protect the control connection
   * before USER and their data with PROT P (vsftpd's force_local_logins_ssl and
   * force_local_data_ssl); anonymous sessions may stay in plaintext. `server.reload(options)` with
   * a new key and cert makes new handshakes use them; running sessions keep the old ones.
   */
  readonly tls?: TlsMaterial & {
    readonly required?: boolean;
    /** Data connections must resume their control connection's TLS session (default true). */
    readonly reuseCheck?: boolean;
  };
}

/** `hooks` wrap the platform and the sessions (the fault layer of @pasv/testing); none by default. */
export function createServer(options: ServerOptions = {}, hooks: ServerHooks = {}): FtpServer {
  const { tls: material, inlineFs, ...rest } = options;
  if (material === undefined) return new FtpServer(hookedPlatform(nodePlatform(null, inlineFs), hooks), rest, hooks.instrument);
  // The policy (versions, ciphers) is the start-up's; a reload brings a new key and certificate.
  const contextsFor = (credentials: TlsCredentials): NodeTls => {
    const m: TlsMaterial = { ...material, key: credentials.key, cert: credentials.cert };
    return { context: secureContext(m), scoped: () => secureContext(m, true) };
  };
  return new FtpServer(hookedPlatform(nodePlatform({ contexts: contextsFor(material), contextsFor }, inlineFs), hooks), {
    ...rest,
    tls: { key: material.key, cert: material.cert, required: material.required === true, ...(material.reuseCheck === undefined ? {} : { reuseCheck: material.reuseCheck }) },
  }, hooks.instrument);
}
