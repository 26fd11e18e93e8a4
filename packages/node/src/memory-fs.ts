// The in-memory file system is the driver's (one copy for Node, Deno and the simulator); re-exported
// so `@pasv/node` keeps offering it next to LocalFs.
export { MEMORY_FS_MAX_FILE_BYTES, MemoryFs, type MemoryTree } from "@pasv/driver";
