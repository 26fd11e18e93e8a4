// The embedding API on Node: the driver's server on node:net, node:tls and the local disk.
import { FtpServer, type ServerOptions as DriverOptions } from "@pasv/driver";
import { nodePlatform } from "./node-platform.js";
import { secureContext, type TlsMaterial } from "./tls-context.js";

export interface ServerOptions extends Omit<DriverOptions, "tls"> {
  /**
   * Enables FTPS: AUTH TLS (explicit) on every listener, and `listen(port, host, { implicitTls:
   * true })` for implicit FTPS. With `required`, named users must protect the control connection
   * before USER and their data with PROT P (vsftpd's force_local_logins_ssl and
   * force_local_data_ssl); anonymous sessions may stay in plaintext.
   */
  readonly tls?: TlsMaterial & {
    readonly required?: boolean;
    /** Data connections must resume their control connection's TLS session (default true). */
    readonly reuseCheck?: boolean;
  };
}

export function createServer(options: ServerOptions = {}): FtpServer {
  const { tls: material, ...rest } = options;
  if (material === undefined) return new FtpServer(nodePlatform(null), rest);
  const tls = { context: secureContext(material), scoped: () => secureContext(material, true) };
  return new FtpServer(nodePlatform(tls), { ...rest, tls: { required: material.required === true, ...(material.reuseCheck === undefined ? {} : { reuseCheck: material.reuseCheck }) } });
}
