import type { CoreConfig, CoreLimits, CoreTimeouts } from "./types.js";

export const defaultLimits: CoreLimits = {
  maxLineBytes: 8192,
  maxOverlongLines: 3,
  maxBufferedInput: 64 * 1024,
  maxFailedLogins: 3,
  maxBadCommands: 50,
  maxListingBytes: 64 * 1024 * 1024,
  maxStouAttempts: 100,
};

export const defaultTimeouts: CoreTimeouts = {
  idle: 300_000,
  login: 60_000,
  dataAccept: 60_000,
  dataConnect: 30_000,
  dataStall: 300_000,
  failedLoginDelay: 2_000,
};

export const defaultConfig: CoreConfig = {
  greeting: ["pasv FTP server ready."],
  multilineStyle: "plain",
  limits: defaultLimits,
  timeouts: defaultTimeouts,
  anonymous: true,
  tls: false,
  requireTlsForLogin: false,
  requireTlsForData: false,
  requireTlsReuse: true,
  allowForeignDataAddress: false,
  allowPrivilegedDataPort: false,
  showDotFiles: true,
};

/** A full config from partial overrides (limits and timeouts merge field by field). */
export function makeConfig(
  overrides: Partial<Omit<CoreConfig, "limits" | "timeouts">> & {
    readonly limits?: Partial<CoreLimits>;
    readonly timeouts?: Partial<CoreTimeouts>;
  } = {},
): CoreConfig {
  return {
    ...defaultConfig,
    ...overrides,
    limits: { ...defaultLimits, ...overrides.limits },
    timeouts: { ...defaultTimeouts, ...overrides.timeouts },
  };
}
