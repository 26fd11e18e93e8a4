// The embedding API on Deno: the driver's server on Deno's sockets and files (no `tls` option: see
// deno-platform.ts).
import { FtpServer, hookedPlatform, type ServerHooks, type ServerOptions as DriverOptions } from "@pasv/driver";
import { denoPlatform } from "./deno-platform.ts";

export type ServerOptions = Omit<DriverOptions, "tls">;

/** `hooks` wrap the platform and the sessions (the fault layer of @pasv/testing); none by default. */
export function createServer(options: ServerOptions = {}, hooks: ServerHooks = {}): FtpServer {
  return new FtpServer(hookedPlatform(denoPlatform(), hooks), options, hooks.instrument);
}
