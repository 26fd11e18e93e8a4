// The embedding API on Deno: the driver's server on Deno's sockets, TLS and files.
import { FtpServer, hookedPlatform, type InlineFs, type ServerHooks, type ServerOptions as DriverOptions } from "@pasv/driver";
import { denoPlatform } from "./deno-platform.ts";
import { pemText } from "./deno-tls.ts";

export interface ServerOptions extends Omit<DriverOptions, "tls"> {
  /** How the local disk makes its blocking calls (DenoLocalFs's `inline`; default "auto"). */
  readonly inlineFs?: InlineFs;
  /**
   * Enables FTPS (Deno.listenTls: rustls, TLS 1.2 and 1.3 with its own modern cipher list):
   * `listen(port, host, { implicitTls: true })` for implicit FTPS, AUTH TLS on every listener. Deno
   * has no TLS version or cipher option, so `minVersion` may only be TLS 1.2 and `ciphers` not set.
   */
  readonly tls?: {
    readonly key: string | Uint8Array;
    readonly cert: string | Uint8Array;
    readonly required?: boolean;
    readonly minVersion?: "TLSv1.2" | "TLSv1.3";
    readonly ciphers?: string | null;
    /** Accepted for the same options as on Node; Deno cannot tell a resumed TLS session, so data
     * connections are never required to resume there. */
    readonly reuseCheck?: boolean;
  };
}

/** `hooks` wrap the platform and the sessions (the fault layer of @pasv/testing); none by default. */
export function createServer(options: ServerOptions = {}, hooks: ServerHooks = {}): FtpServer {
  const { tls, inlineFs, ...rest } = options;
  if (tls === undefined) return new FtpServer(hookedPlatform(denoPlatform(null, inlineFs), hooks), rest, hooks.instrument);
  if (tls.minVersion === "TLSv1.3") throw new Error("--tls-min-version 1.3 is not available on Deno (Deno.listenTls has no version option; it offers TLS 1.2 and 1.3)");
  if (tls.ciphers !== undefined && tls.ciphers !== null) throw new Error("--tls-ciphers is not available on Deno (Deno.listenTls has no cipher option; rustls offers only AEAD suites with ECDHE)");
  // The key and certificate go to the driver too: a reload compares them to tell a new certificate.
  return new FtpServer(hookedPlatform(denoPlatform({ cert: pemText(tls.cert), key: pemText(tls.key) }, inlineFs), hooks), { ...rest, tls: { required: tls.required === true, key: tls.key, cert: tls.cert } }, hooks.instrument);
}
