// The public API: the reducer and its contract, plus the few helpers the adapters, the simulator and
// the end-to-end tests use. Everything else in src/ is internal and may change without notice.

// The reducer.
export { step } from "./step.js";
export { initialSession, type SessionState } from "./state.js";
export { nextDeadline, type DeadlineName, type Deadlines } from "./deadline.js";
export { checkInvariants } from "./invariants.js";
export { makeConfig } from "./config.js";
export { isAnonymousName } from "./commands.js";
export { assertNever } from "./assert.js";
export { COMMAND_RIGHTS, PRESETS, RIGHTS, isPreset, isRight, parseRights, rightsKey, type Preset, type Right, type RightsRule } from "./rights.js";

// The contract: events in, actions out, and the data they carry.
export {
  InvariantError,
  type Account,
  type Action,
  type CoreConfig,
  type MultilineStyle,
  type CoreLimits,
  type CoreTimeouts,
  type Endpoint,
  type EntryType,
  type Family,
  type FileStat,
  type FsErrorKind,
  type FsOp,
  type FsResult,
  type FsValue,
  type LogLevel,
  type Millis,
  type SessionEvent,
  type SessionNotice,
  type CloseReason,
  type TransferEndReason,
  type FileCommand,
  type RefusalReason,
  type SessionOpen,
  type StepResult,
  type TransferFailure,
  type TransferSpec,
} from "./types.js";

// Codecs the adapters and test clients share with the core.
export { AsciiDecoder, AsciiEncoder } from "./ascii.js";
export { encodeUtf8 } from "./utf8.js";
export { sortByName } from "./listing.js";
export { feedReplies, initialReplyReader, type ParsedReply, type ReplyReader } from "./reply.js";
export { formatEprtArg, formatPortArg, normalizeIp, parse227, parse229 } from "./address.js";
export { cidrContains, inCidrs, parseCidr, type Cidr } from "./cidr.js";
export {
  feedProxyHeader,
  initialProxyReader,
  parseProxyHeader,
  PROXY_HEADER_MAX_BYTES,
  PROXY_V1_MAX_BYTES,
  PROXY_V2_FIXED_BYTES,
  PROXY_V2_MAX_PAYLOAD,
  type ProxyFeed,
  type ProxyHeader,
  type ProxyParse,
  type ProxyReader,
} from "./proxy-header.js";
