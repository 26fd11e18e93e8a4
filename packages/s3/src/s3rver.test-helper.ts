// A real S3 HTTP API (s3rver, patched to answer AbortMultipartUpload and ListMultipartUploads) on a
// free loopback port with a temporary directory, for tests: started and stopped by them.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import S3rver from "s3rver";

export interface S3rverInstance {
  readonly endpoint: string;
  readonly directory: string;
  stop(): Promise<void>;
}

/** s3rver's one account; the tests hand it to the SDK through the standard environment variables. */
export const S3RVER_KEY = "S3RVER";

export function useS3rverCredentials(): void {
  process.env.AWS_ACCESS_KEY_ID = S3RVER_KEY;
  process.env.AWS_SECRET_ACCESS_KEY = S3RVER_KEY;
  process.env.AWS_REGION = "us-east-1";
}

export async function startS3rver(buckets: readonly string[]): Promise<S3rverInstance> {
  const directory = mkdtempSync(path.join(tmpdir(), "pasv-s3rver-"));
  const server = new S3rver({ address: "127.0.0.1", port: 0, directory, silent: process.env.PASV_S3RVER_LOG === undefined, configureBuckets: buckets.map((name) => ({ name, configs: [] })) });
  const address = await server.run();
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    directory,
    stop: async () => {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
