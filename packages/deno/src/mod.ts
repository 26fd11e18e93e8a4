export { createServer, type ServerOptions } from "./server.ts";
export { denoPlatform } from "./deno-platform.ts";
export { DenoLocalFs } from "./local-fs.ts";
// The types this API takes and returns, so an embedder needs no other package.
export { FtpServer, MemoryFs, VfsError, type AuthGrant, type AuthProvider, type AuthRequest, type MemoryTree, type PortRange, type Reloaded, type ServerEvents, type UserSpec, type Vfs, type VfsReader, type VfsWriter } from "@pasv/driver";
