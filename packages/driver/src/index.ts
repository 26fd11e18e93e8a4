export { Session, coreReducer, MAX_QUEUED_EVENTS, type Reducer, type SessionHooks, type SessionOptions } from "./session.js";
export { SessionCounter, type Admission, type SessionLimits } from "./policy.js";
export { DataStreamError, type ControlIo, type DataIo, type DataStream, type PortRange, type SessionIo } from "./io.js";
export { VfsError, type Vfs, type VfsCapabilities, type VfsReader, type VfsWriter } from "./vfs.js";
export { RecycledBuffers } from "./recycled-buffers.js";
export type { AuthGrant, AuthProvider, AuthRequest } from "./auth.js";
