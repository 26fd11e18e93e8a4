export { BYTE_FAULTS, DEFAULT_DELAY_MS, DEFAULT_STALL_MS, FAULTS, MAX_RANDOM_CUT, MAX_WAIT_MS, MULTILINE_CHOICES, PlanError, formatPlan, parsePlan, planFromTable, type FaultName, type FaultPlan, type FaultSide, type MultilineChoice, type Trigger } from "./plan.js";
export { FaultInjector, Streams, multilineStyleFor, MAX_FAULT_RECORDS, MAX_SPLIT_PIECES, SPLIT_GAP_MS, TRICKLE_BYTES, type FaultRecord, type InjectorOptions } from "./injector.js";
export { FaultySocket, RESET_MESSAGE, type Piece, type Received, type Shaper } from "./faulty-socket.js";
export { faultyVfs, MAX_VANISHING } from "./faulty-vfs.js";
export { createTestServer, type TestServer, type TestServerOptions } from "./test-server.js";
