// The embedding API on Deno: the driver's server on Deno's sockets and files (no `tls` option: see
// deno-platform.ts).
import { FtpServer, type ServerOptions as DriverOptions } from "@pasv/driver";
import { denoPlatform } from "./deno-platform.ts";

export type ServerOptions = Omit<DriverOptions, "tls">;

export function createServer(options: ServerOptions = {}): FtpServer {
  return new FtpServer(denoPlatform(), options);
}
