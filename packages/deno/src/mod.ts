export { createServer, DenoFtpServer, type ServerEvents, type ServerOptions, type UserSpec } from "./server.ts";
export { DenoLocalFs } from "./local-fs.ts";
export { DenoSessionIo } from "./deno-io.ts";
