// The one table from S3 error codes to the VFS error kinds (the driver's errno table, for S3). The
// SDK has already retried what can be retried (throttling, 5xx, timeouts) with backoff when an
// error reaches this table, so whatever is left is final.
import type { FsErrorKind } from "@pasv/core";
import { VfsError } from "@pasv/driver";

/** S3 error codes (the SDK error's `name`) and the kind each one is. */
export const S3_ERROR_KINDS: Readonly<Record<string, FsErrorKind>> = {
  NoSuchKey: "not-found",
  NotFound: "not-found",
  NoSuchBucket: "not-found",
  NoSuchUpload: "not-found",
  AccessDenied: "permission",
  Forbidden: "permission",
  AllAccessDisabled: "permission",
  AccountProblem: "permission",
  InvalidAccessKeyId: "permission",
  SignatureDoesNotMatch: "permission",
  ExpiredToken: "permission",
  InvalidObjectState: "permission",
  PreconditionFailed: "exists",
  KeyTooLongError: "invalid-name",
  EntityTooLarge: "quota",
  // What the SDK's retries could not get past: transient on the store's side, final for this command.
  SlowDown: "io",
  Throttling: "io",
  ThrottlingException: "io",
  RequestLimitExceeded: "io",
  ServiceUnavailable: "io",
  InternalError: "io",
};

function field(error: unknown, key: string): unknown {
  return typeof error === "object" && error !== null ? (error as Record<string, unknown>)[key] : undefined;
}

/** The kind of anything an S3 call threw: its code from the table, else its HTTP status, else io. */
export function s3ErrorKind(error: unknown): FsErrorKind {
  if (error instanceof VfsError) return error.kind;
  const name = field(error, "name");
  if (typeof name === "string" && Object.hasOwn(S3_ERROR_KINDS, name)) return S3_ERROR_KINDS[name] ?? "io";
  const status = field(field(error, "$metadata"), "httpStatusCode");
  if (status === 404) return "not-found";
  if (status === 403) return "permission";
  if (status === 412) return "exists";
  return "io";
}

/** `error` as a VfsError (itself if it already is one), naming the S3 code in the message. */
export function s3VfsError(error: unknown): VfsError {
  if (error instanceof VfsError) return error;
  const name = field(error, "name");
  const message = field(error, "message");
  return new VfsError(s3ErrorKind(error), `S3: ${typeof name === "string" ? name : "error"}${typeof message === "string" && message !== "" ? `: ${message}` : ""}`);
}

/** Whether `error` says the object or bucket is not there (so the caller may look for a directory). */
export function isNotFound(error: unknown): boolean {
  return s3ErrorKind(error) === "not-found";
}
