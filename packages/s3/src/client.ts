// The S3 client the command builds: credentials and (unless given) the region come from the SDK's
// standard chain (environment, shared config and credentials files, SSO, container and instance
// roles), never from a flag. Every request has a deadline, and the SDK's standard retry strategy
// retries throttling, 5xx answers and timeouts with backoff before an error reaches the VFS.
import { S3Client } from "@aws-sdk/client-s3";

/** Attempts per request, the first included (the SDK's standard mode, exponential backoff with jitter). */
export const S3_MAX_ATTEMPTS = 5;
/** Deadline for a TCP (and TLS) connection to the store. */
export const S3_CONNECT_TIMEOUT_MS = 10_000;
/** A request whose socket stays silent this long fails (and is retried). */
export const S3_SOCKET_TIMEOUT_MS = 120_000;

export interface S3Location {
  readonly bucket: string;
  /** Key prefix the served tree lives under. */
  readonly prefix?: string;
  /** Another S3 API than AWS's (MinIO, Ceph, R2, s3rver): its base URL. */
  readonly endpoint?: string;
  readonly region?: string;
  /** Address the bucket as a path (`http://host/bucket/key`) rather than a host name. */
  readonly pathStyle?: boolean;
}

/** The SDK's documented switch for its multi-line notice that later versions will need a newer Node
 * (aws/aws-sdk-js-v3#7983), printed at every start under Node 20; an operator's own setting wins. */
export const SDK_NODE_WARNING_ENV = "AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED";

export function s3Client(location: S3Location): S3Client {
  // Read when the client is made: the notice is about the SDK's future, not the server's state.
  process.env[SDK_NODE_WARNING_ENV] ??= "true";
  const custom = location.endpoint !== undefined;
  return new S3Client({
    // An endpoint of its own needs no AWS region, but the signature names one.
    ...(location.region !== undefined ? { region: location.region } : custom && process.env.AWS_REGION === undefined && process.env.AWS_DEFAULT_REGION === undefined ? { region: "us-east-1" } : {}),
    ...(custom
      ? {
          endpoint: location.endpoint,
          // Stores other than AWS's often reject the newer default checksums; send them only where required.
          requestChecksumCalculation: "WHEN_REQUIRED" as const,
          responseChecksumValidation: "WHEN_REQUIRED" as const,
        }
      : {}),
    forcePathStyle: location.pathStyle === true,
    maxAttempts: S3_MAX_ATTEMPTS,
    requestHandler: { connectionTimeout: S3_CONNECT_TIMEOUT_MS, requestTimeout: S3_SOCKET_TIMEOUT_MS },
  });
}
