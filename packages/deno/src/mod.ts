export { createServer, type ServerOptions } from "./server.ts";
export { denoPlatform } from "./deno-platform.ts";
export { DenoLocalFs } from "./local-fs.ts";
export {
  FtpServer,
  VfsError,
  type AuthGrant,
  type AuthProvider,
  type AuthRequest,
  type PortRange,
  type ServerEvents,
  type UserSpec,
  type Vfs,
  type VfsReader,
  type VfsWriter,
} from "@pasv/driver";
