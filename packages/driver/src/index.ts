export { Session, coreReducer, MAX_QUEUED_EVENTS, type Reducer, type SessionHooks, type SessionOptions } from "./session.js";
export { SessionCounter, type Admission, type SessionLimits } from "./policy.js";
export { DataStreamError, type ControlIo, type DataIo, type DataStream, type PortRange, type SessionIo } from "./io.js";
export { VfsError, type Vfs, type VfsReader, type VfsWriter } from "./vfs.js";
export { Confinement, confine, hostPath, isWithin, pinRoot, type ConfinePlatform, type IsSymlink, type Reach, type RealPath } from "./confine.js";
export { ERRNO_KINDS, ERROR_NAME_KINDS, fsErrorKind, toVfsError, vfsGuard } from "./errno.js";
export { MEMORY_FS_MAX_FILE_BYTES, MEMORY_FS_READ_CHUNK, MemoryFs, type MemoryTree } from "./memory-fs.js";
export { RecycledBuffers } from "./recycled-buffers.js";
export type { AuthGrant, AuthProvider, AuthRequest } from "./auth.js";
