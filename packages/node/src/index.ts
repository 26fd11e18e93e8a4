export { createServer, defaultAuth, LISTEN_BACKLOG, type FtpServer, type ServerEvents, type ServerOptions, type UserSpec } from "./server.js";
export { LocalFs, READ_CHUNK_BYTES } from "./local-fs.js";
export { MemoryFs, type MemoryTree } from "./memory-fs.js";
export { NodeSessionIo } from "./node-io.js";
