// A real S3 HTTP API (s3rver, patched to answer AbortMultipartUpload and ListMultipartUploads) on a
// free loopback port with a temporary directory, for tests: started and stopped by them. In its
// own process, so a test that blocks its thread on a client (execFileSync) does not stall the store
// the server under test is talking to.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

export interface S3rverInstance {
  readonly endpoint: string;
  readonly directory: string;
  stop(): Promise<void>;
}

/** s3rver's one account; the tests hand it to the SDK through the standard environment variables. */
export const S3RVER_KEY = "S3RVER";
/** How long s3rver may take to start. */
const START_MS = 30_000;

export function useS3rverCredentials(): void {
  process.env.AWS_ACCESS_KEY_ID = S3RVER_KEY;
  process.env.AWS_SECRET_ACCESS_KEY = S3RVER_KEY;
  process.env.AWS_REGION = "us-east-1";
}

const SCRIPT = `
const S3rver = require("s3rver");
const [directory, buckets, silent] = process.argv.slice(1);
const server = new S3rver({ address: "127.0.0.1", port: 0, directory, silent: silent === "1", configureBuckets: JSON.parse(buckets).map((name) => ({ name, configs: [] })) });
server.run().then((a) => console.log("s3rver port " + a.port), (e) => { console.error(e); process.exit(1); });
process.on("SIGTERM", () => server.close().then(() => process.exit(0)));
`;

export async function startS3rver(buckets: readonly string[]): Promise<S3rverInstance> {
  const directory = mkdtempSync(path.join(tmpdir(), "pasv-s3rver-"));
  const silent = process.env.PASV_S3RVER_LOG === undefined ? "1" : "0";
  // Run from this package, where s3rver is installed.
  const child = spawn(process.execPath, ["-e", SCRIPT, directory, JSON.stringify(buckets), silent], { cwd: path.resolve(import.meta.dirname, ".."), stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`s3rver did not start within ${START_MS} ms`));
    }, START_MS);
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const m = /s3rver port (\d+)/.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
      if (silent === "0") process.stdout.write(chunk);
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited with ${String(code)} before it started`));
    });
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    directory,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        const kill = setTimeout(() => child.kill("SIGKILL"), 5_000);
        child.kill("SIGTERM");
        await exited;
        clearTimeout(kill);
      }
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
