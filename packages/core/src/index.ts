export * from "./types.js";
export * from "./config.js";
export { initialSession, type SessionState, type Channel, type Op, type Login, type Phase } from "./state.js";
export { step } from "./step.js";
export { nextDeadline } from "./deadline.js";
export { checkInvariants } from "./invariants.js";
export { assertNever } from "./assert.js";
export * from "./codecs.js";
export * from "./formats.js";
