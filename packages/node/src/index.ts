export { createServer, type ServerOptions } from "./server.js";
export { MODERN_CIPHERS, secureContext, type TlsMaterial } from "./tls-context.js";
export { nodePlatform, type NodeTls } from "./node-platform.js";
export { LocalFs, READ_CHUNK_BYTES } from "./local-fs.js";
export { MemoryFs, type MemoryTree } from "./memory-fs.js";
// The types this API takes and returns, so an embedder needs no other package.
export { FtpServer, VfsError, type AuthGrant, type AuthProvider, type AuthRequest, type Instrumentation, type PortRange, type Reloaded, type ServerEvents, type ServerHooks, type UserSpec, type Vfs, type VfsReader, type VfsWriter } from "@pasv/driver";
