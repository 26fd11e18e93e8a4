import { readdirSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { ListMultipartUploadsCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { VfsError } from "@pasv/driver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { vfsContract } from "../../driver/src/vfs-contract.test-helper.js";
import { s3Client, S3_MAX_ATTEMPTS } from "./client.js";
import { S3Fs, normalizePrefix, S3_UPLOAD_PART_BYTES } from "./s3-fs.js";
import { s3ErrorKind } from "./s3-errors.js";
import { startS3rver, useS3rverCredentials, type S3rverInstance } from "./s3rver.test-helper.js";

const BUCKET = "pasv-test";
let s3: S3rverInstance;
let client: S3Client;
let nextPrefix = 0;

useS3rverCredentials();

beforeAll(async () => {
  s3 = await startS3rver([BUCKET]);
  client = s3Client({ bucket: BUCKET, endpoint: s3.endpoint, pathStyle: true });
});
afterAll(async () => {
  client.destroy();
  await s3.stop();
});

/** A fresh tree per case: its own prefix in the one bucket. */
const fresh = (extra: Partial<ConstructorParameters<typeof S3Fs>[0]> = {}): S3Fs => new S3Fs({ client, bucket: BUCKET, prefix: `case-${++nextPrefix}/`, ...extra });

async function kind(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (error) {
    return error instanceof VfsError ? error.kind : `not a VfsError: ${String(error)}`;
  }
}

async function keys(prefix: string): Promise<string[]> {
  const out = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  return (out.Contents ?? []).map((c) => c.Key ?? "");
}

async function pendingUploads(): Promise<string[]> {
  const out = await client.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }));
  return (out.Uploads ?? []).map((u) => u.Key ?? "");
}

/** What s3rver keeps of unfinished multipart uploads on its disk. */
function uploadLeftovers(): string[] {
  const bucketDir = path.join(s3.directory, BUCKET);
  return readdirSync(bucketDir).filter((n) => n.includes("_S3rver_uploads")).flatMap((n) => readdirSync(path.join(bucketDir, n)));
}

vfsContract(
  "S3Fs on s3rver",
  () => Promise.resolve({ vfs: fresh(), cleanup: () => Promise.resolve() }),
  { inPlaceWrites: false, setMtime: false, abortKeepsFile: true },
);

describe("S3Fs", () => {
  it("keeps the tree under its prefix, directories as markers", async () => {
    const fs = new S3Fs({ client, bucket: BUCKET, prefix: "/tenant/a/" });
    expect(fs.prefix).toBe("tenant/a/");
    expect(normalizePrefix("")).toBe("");
    expect(normalizePrefix("//x//y/")).toBe("x/y/");
    await fs.mkdir("/docs");
    const w = await fs.write("/docs/r.txt", "truncate", 0);
    await w.write(new TextEncoder().encode("report"));
    await w.close();
    expect(await keys("tenant/")).toEqual(["tenant/a/docs/", "tenant/a/docs/r.txt"]);
    expect(await fs.stat("/docs")).toMatchObject({ type: "dir" });
  });

  it("shows prefixes written by other tools as directories, and keeps them when emptied", async () => {
    const fs = fresh();
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${fs.prefix}x/y/z.txt`, Body: "z" }));
    expect((await fs.list("/")).map((e) => `${e.name}:${e.type}`)).toEqual(["x:dir"]);
    expect((await fs.list("/x")).map((e) => `${e.name}:${e.type}`)).toEqual(["y:dir"]);
    expect(await fs.stat("/x/y")).toMatchObject({ type: "dir" });
    await fs.delete("/x/y/z.txt");
    expect(await fs.list("/x/y")).toEqual([]);
    await fs.rmdir("/x/y");
    expect((await fs.stat("/x")).type).toBe("dir");
    await fs.rmdir("/x");
    expect(await keys(fs.prefix)).toEqual([]);
  });

  it("streams a multipart upload and leaves no pending upload when it completes", async () => {
    const fs = fresh();
    const size = 2 * S3_UPLOAD_PART_BYTES + 4321;
    const w = await fs.write("/big.bin", "truncate", 0);
    const chunk = new Uint8Array(64 * 1024).fill(7);
    for (let sent = 0; sent < size; sent += chunk.length) await w.write(chunk.subarray(0, Math.min(chunk.length, size - sent)));
    // Invisible until completed.
    expect(await kind(fs.stat("/big.bin"))).toBe("not-found");
    await w.close();
    expect((await fs.stat("/big.bin")).size).toBe(size);
    expect(await pendingUploads()).toEqual([]);
  });

  it("an aborted upload leaves no object, no pending multipart upload and no parts on the store's disk", async () => {
    const fs = fresh();
    const w = await fs.write("/cut.bin", "truncate", 0);
    const chunk = new Uint8Array(64 * 1024).fill(1);
    // Three parts' worth: at least two parts have been sent (or are in flight) when the upload is cut.
    for (let sent = 0; sent < 3 * S3_UPLOAD_PART_BYTES; sent += chunk.length) await w.write(chunk);
    await w.abort();
    expect(await kind(fs.stat("/cut.bin"))).toBe("not-found");
    expect(await keys(fs.prefix)).toEqual([]);
    expect(await pendingUploads()).toEqual([]);
    expect(uploadLeftovers()).toEqual([]);
    expect(await kind(w.write(chunk))).toBe("io");
  });

  it("a download closed early gives its connection back: 80 of them, then the store still answers", async () => {
    const fs = fresh();
    const w = await fs.write("/big.bin", "truncate", 0);
    const chunk = new Uint8Array(1024 * 1024).fill(9);
    for (let i = 0; i < 8; i++) await w.write(chunk);
    await w.close();
    // More than the SDK's socket pool (50): a reader that kept its socket would starve the next ones.
    // Most are closed before their first chunk is asked for (a data connection that failed to open).
    for (let i = 0; i < 80; i++) {
      const r = await fs.read("/big.bin", i * 1000);
      if (i % 4 === 0) {
        for await (const c of r.chunks()) {
          expect(c.length).toBeGreaterThan(0);
          break;
        }
      }
      await r.close();
      await r.close();
    }
    expect((await fs.stat("/big.bin")).size).toBe(8 * 1024 * 1024);
  }, 60_000);

  it("refuses to rename a directory of more objects than its limit as too large, naming the limit", async () => {
    const fs = fresh({ maxRenameKeys: 3 });
    await fs.mkdir("/d");
    for (const n of ["a", "b", "c"]) await (await fs.write(`/d/${n}`, "truncate", 0)).close();
    const refused = await fs.rename("/d", "/e").catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(VfsError);
    expect(refused).toMatchObject({ kind: "too-large", limit: 3, message: "S3 renames a directory only up to 3 objects" });
    expect((await fs.list("/d")).length).toBe(3);
    expect(await kind(fs.stat("/e"))).toBe("not-found");
  });

  it("fails a whole-directory list larger than its limit, and streams the same directory in full", async () => {
    const fs = fresh({ maxListEntries: 2 });
    for (const n of ["a", "b", "c"]) await (await fs.write(`/${n}`, "truncate", 0)).close();
    expect(await kind(fs.list("/"))).toBe("io");
    const names: string[] = [];
    for await (const page of fs.listPages("/")) names.push(...page.map((e) => e.name));
    expect(names).toEqual(["a", "b", "c"]);
  });

  it("asks S3 for the next page only when the one before was taken", async () => {
    const fs = fresh();
    await fs.mkdir("/d");
    const count = 2_345;
    for (let at = 0; at < count; at += 50) {
      await Promise.all(Array.from({ length: Math.min(50, count - at) }, async (_, i) => client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${fs.prefix}d/k${String(at + i).padStart(5, "0")}`, Body: "" }))));
    }
    let lists = 0;
    const counting = { send: (command: unknown, ...rest: unknown[]) => (command instanceof ListObjectsV2Command && lists++, (client.send as (...a: unknown[]) => unknown)(command, ...rest)) } as unknown as S3Client;
    const paged = new S3Fs({ client: counting, bucket: BUCKET, prefix: fs.prefix });
    const it = paged.listPages("/d")[Symbol.asyncIterator]();
    const first = await it.next();
    if (first.done === true) throw new Error("no first page");
    expect(lists).toBe(1);
    let seen = first.value.length;
    for (let next = await it.next(); next.done !== true; next = await it.next()) {
      seen += next.value.length;
      expect(lists).toBeLessThanOrEqual(Math.ceil(seen / 1000) + 1);
    }
    // The marker "d/" is not an entry; every key is.
    expect(seen).toBe(count);
    expect(lists).toBe(3);
  }, 120_000);

  it("sets no modification times (S3 keeps LastModified itself)", async () => {
    const fs = fresh();
    await (await fs.write("/f", "truncate", 0)).close();
    expect(await kind(fs.setMtime())).toBe("permission");
  });

  it("maps a missing bucket to not-found and wrong credentials to permission", async () => {
    const missing = new S3Fs({ client, bucket: "no-such-bucket" });
    expect(await kind(missing.check())).toBe("not-found");
    expect(await kind(missing.stat("/f"))).toBe("not-found");
    await new S3Fs({ client, bucket: BUCKET }).check();
    // s3rver checks the key id (not the signature).
    const key = process.env.AWS_ACCESS_KEY_ID;
    process.env.AWS_ACCESS_KEY_ID = "WRONG";
    const wrong = s3Client({ bucket: BUCKET, endpoint: s3.endpoint, pathStyle: true });
    try {
      expect(await kind(new S3Fs({ client: wrong, bucket: BUCKET }).list("/"))).toBe("permission");
    } finally {
      process.env.AWS_ACCESS_KEY_ID = key;
      wrong.destroy();
    }
  });

  it("maps S3 error codes and statuses to kinds", () => {
    expect(s3ErrorKind({ name: "NoSuchKey" })).toBe("not-found");
    expect(s3ErrorKind({ name: "AccessDenied" })).toBe("permission");
    expect(s3ErrorKind({ name: "SlowDown" })).toBe("io");
    expect(s3ErrorKind({ name: "PreconditionFailed" })).toBe("exists");
    expect(s3ErrorKind({ name: "Unknown", $metadata: { httpStatusCode: 404 } })).toBe("not-found");
    expect(s3ErrorKind({ name: "Unknown", $metadata: { httpStatusCode: 403 } })).toBe("permission");
    expect(s3ErrorKind(new Error("socket hang up"))).toBe("io");
    expect(s3ErrorKind(new VfsError("busy"))).toBe("busy");
  });
});

describe("S3Fs under throttling", () => {
  // No store throttles on demand, so a loopback HTTP server answers as S3 does when it throttles.
  async function throttling(slowDowns: number): Promise<{ endpoint: string; requests: () => number; close: () => Promise<void> }> {
    let requests = 0;
    const server = createServer((req, res) => {
      requests++;
      req.resume();
      if (requests <= slowDowns) {
        res.writeHead(503, { "content-type": "application/xml" });
        res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
      } else {
        res.writeHead(404, { "content-type": "application/xml" });
        res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    return { endpoint: `http://127.0.0.1:${port}`, requests: () => requests, close: () => new Promise((resolve) => server.close(() => resolve())) };
  }

  it("retries SlowDown with backoff, then answers with what the store says", async () => {
    const store = await throttling(2);
    const slow = s3Client({ bucket: BUCKET, endpoint: store.endpoint, pathStyle: true });
    try {
      const started = Date.now();
      expect(await kind(new S3Fs({ client: slow, bucket: BUCKET }).list("/"))).toBe("not-found");
      expect(store.requests()).toBe(3);
      // Backoff: the retries waited (the SDK's delays are random, from tens of milliseconds up).
      expect(Date.now() - started).toBeGreaterThan(10);
    } finally {
      slow.destroy();
      await store.close();
    }
  });

  it(`gives up after ${S3_MAX_ATTEMPTS} attempts with an io error`, async () => {
    const store = await throttling(Number.POSITIVE_INFINITY);
    const slow = s3Client({ bucket: BUCKET, endpoint: store.endpoint, pathStyle: true });
    try {
      const refused = await new S3Fs({ client: slow, bucket: BUCKET }).list("/").catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(VfsError);
      expect(refused).toMatchObject({ kind: "io", message: "S3: SlowDown: Please reduce your request rate." });
      expect(store.requests()).toBe(S3_MAX_ATTEMPTS);
    } finally {
      slow.destroy();
      await store.close();
    }
  }, 60_000);
});

describe("S3Fs when a part is refused", () => {
  it("fails the upload with the store's reason and aborts its multipart upload", async () => {
    // A store that starts multipart uploads but refuses every part (as a bucket policy might).
    const seen: string[] = [];
    const store = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://x");
      const what = `${req.method ?? ""} ${url.searchParams.has("uploads") ? "create" : url.searchParams.has("partNumber") ? "part" : url.searchParams.has("uploadId") ? "upload" : "object"}`;
      seen.push(what);
      req.resume();
      req.on("end", () => {
        if (what === "HEAD object") {
          res.writeHead(404).end();
        } else if (what === "GET object") {
          // The parent-directory peek (ListObjectsV2): an empty bucket.
          res.writeHead(200, { "content-type": "application/xml" }).end(`<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>${BUCKET}</Name><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>`);
        } else if (what === "POST create") {
          res.writeHead(200, { "content-type": "application/xml" }).end(`<?xml version="1.0" encoding="UTF-8"?><InitiateMultipartUploadResult><Bucket>${BUCKET}</Bucket><Key>f</Key><UploadId>up-1</UploadId></InitiateMultipartUploadResult>`);
        } else if (what === "PUT part") {
          res.writeHead(403, { "content-type": "application/xml" }).end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>');
        } else if (what === "DELETE upload") {
          res.writeHead(204).end();
        } else {
          res.writeHead(400).end();
        }
      });
    });
    await new Promise<void>((resolve) => store.listen(0, "127.0.0.1", resolve));
    const denied = s3Client({ bucket: BUCKET, endpoint: `http://127.0.0.1:${(store.address() as AddressInfo).port}`, pathStyle: true });
    try {
      const fs = new S3Fs({ client: denied, bucket: BUCKET });
      const w = await fs.write("/f", "truncate", 0);
      const chunk = new Uint8Array(256 * 1024);
      let failure: unknown = null;
      for (let i = 0; i < 200 && failure === null; i++) failure = await w.write(chunk).then(() => null, (e: unknown) => e);
      expect(failure).toBeInstanceOf(VfsError);
      expect(failure).toMatchObject({ kind: "permission", message: "S3: AccessDenied: Access Denied" });
      await w.abort();
      expect(seen.filter((s) => s === "DELETE upload")).toEqual(["DELETE upload"]);
      expect(seen.filter((s) => s === "POST upload")).toEqual([]);
    } finally {
      denied.destroy();
      await new Promise((resolve) => store.close(resolve));
    }
  });
});

describe("S3Fs listing keys no FTP path can name", () => {
  it("leaves out empty, \".\" and \"..\" segments that other tools may have written", async () => {
    // s3rver keeps keys as files, so it cannot hold "a/../b"; a loopback server answers as S3 would.
    const store = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { "content-type": "application/xml" });
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>${BUCKET}</Name><Prefix></Prefix><KeyCount>5</KeyCount><Delimiter>/</Delimiter><IsTruncated>false</IsTruncated>` +
          "<Contents><Key>..</Key><Size>1</Size></Contents><Contents><Key>ok.txt</Key><Size>2</Size></Contents>" +
          "<CommonPrefixes><Prefix>/</Prefix></CommonPrefixes><CommonPrefixes><Prefix>./</Prefix></CommonPrefixes><CommonPrefixes><Prefix>../</Prefix></CommonPrefixes><CommonPrefixes><Prefix>dir/</Prefix></CommonPrefixes></ListBucketResult>",
      );
    });
    await new Promise<void>((resolve) => store.listen(0, "127.0.0.1", resolve));
    const odd = s3Client({ bucket: BUCKET, endpoint: `http://127.0.0.1:${(store.address() as AddressInfo).port}`, pathStyle: true });
    try {
      expect((await new S3Fs({ client: odd, bucket: BUCKET }).list("/")).map((e) => `${e.name}:${e.type}`)).toEqual(["dir:dir", "ok.txt:file"]);
    } finally {
      odd.destroy();
      await new Promise((resolve) => store.close(resolve));
    }
  });
});
