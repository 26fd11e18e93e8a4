// A VFS on an S3 bucket (or a prefix of one): files are objects, directories are key prefixes. MKD
// writes a zero-byte "dir/" marker so an empty directory exists, and deleting the last entry of a
// directory writes one too, so a directory only goes away by RMD, as on a disk. Uploads are
// multipart uploads, invisible until completed: a STOR is atomic by itself (atomicWrites), so the
// server does not wrap it in its hidden-name-and-rename scheme, which on S3 would copy every object
// a second time. Objects cannot be appended to or written at an offset; APPE to a missing object is
// a plain upload, anything else that would change an object in place is refused.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  type HeadObjectCommandOutput,
  type ListObjectsV2CommandOutput,
  type S3Client,
} from "@aws-sdk/client-s3";
import { encodeUtf8, type FileStat, type Millis } from "@pasv/core";
import { allEntries, VfsError, type Vfs, type VfsReader, type VfsWriter, type WriteMode } from "@pasv/driver";
import { isNotFound, s3ErrorKind, s3VfsError } from "./s3-errors.js";

/** Size of each part of a multipart upload (S3's minimum is 5 MiB; 10,000 parts make 50 GiB). */
export const S3_UPLOAD_PART_BYTES = 5 * 1024 * 1024;
/** Parts of one upload sent at once: an upload holds at most this many part buffers, plus the one being filled. */
export const S3_UPLOAD_PARTS_IN_FLIGHT = 2;
/** S3's limit of parts per multipart upload: with S3_UPLOAD_PART_BYTES, uploads of up to 50 GiB. */
export const S3_MAX_PARTS = 10_000;
/** Entries a whole-directory answer (STAT of a directory) may hold; LIST/NLST/MLSD are streamed page by page and have no such bound. */
export const S3_MAX_LIST_ENTRIES = 200_000;
/** Objects a directory rename may copy; a larger directory is refused with 550 (S3 has no rename). */
export const S3_MAX_RENAME_KEYS = 1_000;
/** Copies or deletes one directory rename runs at once. */
export const S3_RENAME_CONCURRENCY = 8;
/** The longest name one path segment may have, in UTF-8 bytes: NAME_MAX, as on the disk and in memory. */
export const S3_NAME_MAX_BYTES = 255;

export interface S3FsOptions {
  readonly client: S3Client;
  readonly bucket: string;
  /** Key prefix the served tree lives under ("" for the whole bucket); slashes at its ends do not matter. */
  readonly prefix?: string;
  readonly partBytes?: number;
  readonly partsInFlight?: number;
  readonly maxListEntries?: number;
  readonly maxRenameKeys?: number;
}

type Node = { readonly type: "file"; readonly head: HeadObjectCommandOutput } | { readonly type: "dir"; readonly mtime: Millis };

function segments(p: string): string[] {
  const parts = p.split("/").filter((s) => s !== "" && s !== ".");
  if (parts.includes("..")) throw new VfsError("permission", "a '..' segment in a virtual path");
  for (const name of parts) {
    if (name.length * 3 > S3_NAME_MAX_BYTES && encodeUtf8(name).length > S3_NAME_MAX_BYTES) throw new VfsError("invalid-name", "a name longer than NAME_MAX");
  }
  return parts;
}

/** The key prefix as stored: "" or "a/b/". */
export function normalizePrefix(prefix: string): string {
  const parts = prefix.split("/").filter((s) => s !== "");
  return parts.length === 0 ? "" : `${parts.join("/")}/`;
}

function fileEntry(name: string, size: number | undefined, mtime: Date | undefined): FileStat {
  return { name, type: "file", size: size ?? 0, mtime: mtime?.getTime() ?? 0, mode: 0o644, unique: "" };
}

function dirEntry(name: string, mtime: Millis): FileStat {
  return { name, type: "dir", size: 4096, mtime, mode: 0o755, unique: "" };
}

/** Keys other tools wrote may hold segments no FTP path can name ("a//b", "a/./b", "a/../b"): not listed. */
const nameable = (name: string): boolean => name !== "" && name !== "." && name !== "..";

const byName = (a: FileStat, b: FileStat): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** Runs `work` over `items`, at most `limit` at once. */
async function pool<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export class S3Fs implements Vfs {
  /** A STOR is a multipart upload, complete or absent: the server need not upload to a hidden name. */
  readonly atomicWrites = true as const;
  readonly bucket: string;
  readonly prefix: string;
  private readonly client: S3Client;
  private readonly partBytes: number;
  private readonly partsInFlight: number;
  private readonly maxListEntries: number;
  private readonly maxRenameKeys: number;

  constructor(options: S3FsOptions) {
    this.client = options.client;
    this.bucket = options.bucket;
    this.prefix = normalizePrefix(options.prefix ?? "");
    this.partBytes = options.partBytes ?? S3_UPLOAD_PART_BYTES;
    this.partsInFlight = options.partsInFlight ?? S3_UPLOAD_PARTS_IN_FLIGHT;
    this.maxListEntries = options.maxListEntries ?? S3_MAX_LIST_ENTRIES;
    this.maxRenameKeys = options.maxRenameKeys ?? S3_MAX_RENAME_KEYS;
  }

  /** Resolves once the bucket answers (exists, and these credentials may use it); for start-up checks. */
  async check(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (error) {
      // A HEAD answer has no body, so the SDK's message is only "UnknownError": say what the status means.
      const kind = s3ErrorKind(error);
      if (kind === "not-found") throw new VfsError(kind, `S3: no bucket ${this.bucket} there`);
      if (kind === "permission") throw new VfsError(kind, `S3: these credentials may not use the bucket ${this.bucket}`);
      throw s3VfsError(error);
    }
  }

  /** The object key of a file at `p`. */
  private key(p: string): string {
    return this.prefix + segments(p).join("/");
  }

  /** The key prefix of a directory at `p` ("" or ending in "/"). */
  private dirKey(p: string): string {
    const parts = segments(p);
    return parts.length === 0 ? this.prefix : `${this.prefix}${parts.join("/")}/`;
  }

  private parentOf(p: string): string {
    const parts = segments(p);
    parts.pop();
    return `/${parts.join("/")}`;
  }

  private async guard<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw s3VfsError(error);
    }
  }

  private async head(key: string): Promise<HeadObjectCommandOutput | null> {
    try {
      return await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  /** The first keys under a directory prefix (the marker sorts first): whether it exists, and whether it holds anything. */
  private async peek(dirKey: string): Promise<{ exists: boolean; empty: boolean; mtime: Millis }> {
    const out = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: dirKey, Delimiter: "/", MaxKeys: 2 }));
    const keys = (out.Contents ?? []).filter((c) => c.Key !== undefined);
    const prefixes = out.CommonPrefixes ?? [];
    const marker = keys.find((c) => c.Key === dirKey);
    const others = keys.length - (marker === undefined ? 0 : 1) + prefixes.length;
    return { exists: keys.length + prefixes.length > 0, empty: others === 0, mtime: marker?.LastModified?.getTime() ?? 0 };
  }

  /** What is at `p`: a file wins over a directory of the same name (S3 can hold both). */
  private async node(p: string): Promise<Node | null> {
    const parts = segments(p);
    if (parts.length === 0) return { type: "dir", mtime: 0 };
    const head = await this.head(this.key(p));
    if (head !== null) return { type: "file", head };
    const dir = await this.peek(this.dirKey(p));
    return dir.exists ? { type: "dir", mtime: dir.mtime } : null;
  }

  /** The error for a path where nothing is: not-a-directory when its parent is a file, as on a disk. */
  private async missing(p: string): Promise<VfsError> {
    const parent = this.parentOf(p);
    if (parent !== "/" && (await this.head(this.key(parent))) !== null) return new VfsError("not-a-directory");
    return new VfsError("not-found");
  }

  /** The directory `p` would be created in must exist. */
  private async needParent(p: string): Promise<void> {
    const parent = this.parentOf(p);
    if (parent === "/") return;
    const n = await this.node(parent);
    if (n === null) throw await this.missing(parent);
    if (n.type !== "dir") throw new VfsError("not-a-directory");
  }

  /** After the last entry of `p`'s directory went away, that directory still exists (a marker). */
  private async keepParent(p: string): Promise<void> {
    const parent = this.parentOf(p);
    if (parent === "/") return;
    const dirKey = this.dirKey(parent);
    if ((await this.peek(dirKey)).exists) return;
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: dirKey, Body: new Uint8Array(0), ContentLength: 0 }));
  }

  stat(p: string): Promise<FileStat> {
    return this.guard(async () => {
      const name = segments(p).pop() ?? "/";
      const n = await this.node(p);
      if (n === null) throw await this.missing(p);
      return n.type === "file" ? fileEntry(name, n.head.ContentLength, n.head.LastModified) : dirEntry(name, n.mtime);
    });
  }

  /** The whole directory (STAT of a directory): bounded, unlike the streamed listPages. */
  list(p: string): Promise<FileStat[]> {
    return allEntries(this.listPages(p), this.maxListEntries);
  }

  /**
   * One page per ListObjectsV2 answer (up to 1,000 keys and common prefixes, in key order), each
   * asked for only when the one before was taken: a directory of any size is listed in full in the
   * memory of one page. A marker and keys no FTP path can name are left out.
   */
  async *listPages(p: string): AsyncGenerator<readonly FileStat[]> {
    try {
      const dirKey = this.dirKey(p);
      let seen = false;
      // S3 gives each common prefix once; the last one is remembered in case a store repeats it across pages.
      let lastDir: string | null = null;
      let token: string | undefined;
      do {
        const out: ListObjectsV2CommandOutput = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: dirKey, Delimiter: "/", ContinuationToken: token }));
        const page: FileStat[] = [];
        for (const c of out.Contents ?? []) {
          if (c.Key === undefined) continue;
          seen = true;
          const name = c.Key.slice(dirKey.length);
          if (nameable(name)) page.push(fileEntry(name, c.Size, c.LastModified));
        }
        for (const cp of out.CommonPrefixes ?? []) {
          if (cp.Prefix === undefined) continue;
          seen = true;
          const name = cp.Prefix.slice(dirKey.length, -1);
          if (nameable(name) && name !== lastDir) {
            lastDir = name;
            page.push(dirEntry(name, 0));
          }
        }
        if (!seen && segments(p).length > 0) {
          if ((await this.head(this.key(p))) !== null) throw new VfsError("not-a-directory");
          throw await this.missing(p);
        }
        token = out.IsTruncated === true ? out.NextContinuationToken : undefined;
        if (page.length > 0) yield page.sort(byName);
      } while (token !== undefined);
    } catch (error) {
      throw s3VfsError(error);
    }
  }

  mkdir(p: string): Promise<void> {
    return this.guard(async () => {
      if (segments(p).length === 0) throw new VfsError("permission", "the root itself");
      if ((await this.node(p)) !== null) throw new VfsError("exists");
      await this.needParent(p);
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.dirKey(p), Body: new Uint8Array(0), ContentLength: 0 }));
    });
  }

  rmdir(p: string): Promise<void> {
    return this.guard(async () => {
      if (segments(p).length === 0) throw new VfsError("permission", "the root itself");
      if ((await this.head(this.key(p))) !== null) throw new VfsError("not-a-directory");
      const dirKey = this.dirKey(p);
      const dir = await this.peek(dirKey);
      if (!dir.exists) throw await this.missing(p);
      if (!dir.empty) throw new VfsError("not-empty");
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: dirKey }));
      await this.keepParent(p);
    });
  }

  delete(p: string): Promise<void> {
    return this.guard(async () => {
      if (segments(p).length === 0) throw new VfsError("permission", "the root itself");
      const n = await this.node(p);
      if (n === null) throw await this.missing(p);
      if (n.type === "dir") throw new VfsError("is-a-directory");
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(p) }));
      await this.keepParent(p);
    });
  }

  /** A file is copied and then deleted; a directory of at most maxRenameKeys objects likewise, key by key. */
  rename(from: string, to: string): Promise<void> {
    return this.guard(async () => {
      const a = segments(from);
      const b = segments(to);
      if (a.length === 0 || b.length === 0) throw new VfsError("permission", "the root itself");
      const source = await this.node(from);
      if (source === null) throw await this.missing(from);
      if (a.length === b.length && a.every((s, i) => s === b[i])) return;
      await this.needParent(to);
      const target = await this.node(to);
      if (source.type === "file") {
        if (target?.type === "dir") throw new VfsError("is-a-directory");
        await this.copy(this.key(from), this.key(to));
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(from) }));
        await this.keepParent(from);
        return;
      }
      if (b.length > a.length && a.every((s, i) => s === b[i])) throw new VfsError("invalid-name", "a directory cannot move into itself");
      if (target?.type === "file") throw new VfsError("not-a-directory");
      const toKey = this.dirKey(to);
      if (target?.type === "dir" && !(await this.peek(toKey)).empty) throw new VfsError("not-empty");
      const fromKey = this.dirKey(from);
      const keys = await this.allKeys(fromKey, this.maxRenameKeys);
      if (keys === null) throw new VfsError("too-large", `S3 renames a directory only up to ${this.maxRenameKeys} objects`, this.maxRenameKeys);
      if (!keys.includes(fromKey)) keys.push(fromKey);
      await pool(keys, S3_RENAME_CONCURRENCY, async (key) => {
        const target = toKey + key.slice(fromKey.length);
        // Markers are written anew: they hold nothing, and some stores refuse to copy a key ending in "/".
        if (key.endsWith("/")) await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: target, Body: new Uint8Array(0), ContentLength: 0 }));
        else await this.copy(key, target);
      });
      await pool(keys, S3_RENAME_CONCURRENCY, async (key) => {
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
      });
      await this.keepParent(from);
    });
  }

  /** Every key under `dirKey`, or null when there are more than `limit`. */
  private async allKeys(dirKey: string, limit: number): Promise<string[] | null> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const out: ListObjectsV2CommandOutput = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: dirKey, ContinuationToken: token, MaxKeys: Math.min(1000, limit + 1) }));
      for (const c of out.Contents ?? []) if (c.Key !== undefined) keys.push(c.Key);
      if (keys.length > limit) return null;
      token = out.IsTruncated === true ? out.NextContinuationToken : undefined;
    } while (token !== undefined);
    return keys;
  }

  private async copy(from: string, to: string): Promise<void> {
    const source = `${this.bucket}/${from.split("/").map(encodeURIComponent).join("/")}`;
    await this.client.send(new CopyObjectCommand({ Bucket: this.bucket, Key: to, CopySource: source }));
  }

  setMtime(): Promise<void> {
    // S3 sets LastModified itself; a time kept in metadata instead would disagree with every listing.
    return Promise.reject(new VfsError("permission", "S3 objects cannot have their modification time set"));
  }

  read(p: string, offset: number): Promise<VfsReader> {
    return this.guard(async () => {
      if (segments(p).length === 0) throw new VfsError("is-a-directory");
      const abort = new AbortController();
      let body: unknown;
      try {
        const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(p), ...(offset > 0 ? { Range: `bytes=${offset}-` } : {}) }), { abortSignal: abort.signal });
        body = out.Body;
      } catch (error) {
        if (isNotFound(error)) {
          const n = await this.node(p);
          if (n?.type === "dir") throw new VfsError("is-a-directory");
          if (n === null) throw await this.missing(p);
        }
        // A REST offset at or past the end: there is nothing left to send, as on a disk.
        if (offset > 0 && isInvalidRange(error)) return emptyReader();
        throw error;
      }
      return new S3Reader(body, abort);
    });
  }

  write(p: string, mode: WriteMode, offset: number): Promise<VfsWriter> {
    return this.guard(async () => {
      if (segments(p).length === 0) throw new VfsError("permission", "the root itself");
      const key = this.key(p);
      const n = await this.node(p);
      if (n?.type === "dir") throw new VfsError("is-a-directory");
      if (n !== null) {
        if (mode === "create-new") throw new VfsError("exists");
        // An object is replaced whole or not at all; changing it in place (APPE, REST+STOR) cannot be done safely.
        if (mode === "append" || mode === "at-offset") throw new VfsError("permission", "S3 objects cannot be appended to or written at an offset");
      } else if (mode === "at-offset" && offset > 0) {
        throw new VfsError("permission", "S3 objects cannot be written at an offset");
      }
      await this.needParent(p);
      return new S3Upload(this.client, this.bucket, key, mode === "create-new", this.partBytes, this.partsInFlight);
    });
  }
}

function isInvalidRange(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  const status = (error as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata?.httpStatusCode;
  return name === "InvalidRange" || status === 416;
}

function emptyReader(): VfsReader {
  return {
    chunks: async function* () {
      /* nothing past the end */
    },
    close: () => Promise.resolve(),
  };
}

interface Destroyable {
  destroy?: () => void;
}

/** A GetObject body: the runtime's async-iterable stream (Node, Deno's node:http), else a web stream. */
class S3Reader implements VfsReader {
  private closed = false;

  constructor(
    private readonly body: unknown,
    private readonly abort: AbortController,
  ) {}

  async *chunks(): AsyncIterable<Uint8Array> {
    const body = this.body;
    try {
      if (body !== null && typeof body === "object" && Symbol.asyncIterator in body) {
        for await (const chunk of body as AsyncIterable<Uint8Array>) {
          if (this.closed) return;
          yield chunk;
        }
        return;
      }
      const web = (body as { transformToWebStream?: () => ReadableStream<Uint8Array> } | undefined)?.transformToWebStream?.();
      if (web === undefined) throw new VfsError("io", "S3: a GetObject answer without a body");
      const reader = web.getReader();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done || this.closed) return;
          yield value;
        }
      } finally {
        await reader.cancel().catch(() => undefined);
      }
    } catch (error) {
      if (this.closed) return;
      throw s3VfsError(error);
    }
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    (this.body as Destroyable | null)?.destroy?.();
    this.abort.abort();
    return Promise.resolve();
  }
}

/**
 * One STOR as a multipart upload, or a single PutObject when it fits one part. Bytes are copied
 * into part buffers taken from a small pool (parts in flight, plus the one being filled) and a part
 * buffer goes back to the pool once its UploadPart answered, so an upload of any size holds a fixed
 * amount of memory and makes no garbage per byte (lib-storage's Upload concatenates every part
 * anew, which on Deno grew a 100 MB upload by more than 100 MB before the collector caught up). A
 * write waits while all parts are in flight. Nothing is visible until CompleteMultipartUpload; a
 * failure or an abort cancels what is in flight and aborts the multipart upload, and abort()
 * resolves only after that, so nothing of the upload is left behind.
 */
class S3Upload implements VfsWriter {
  private readonly pool: Uint8Array[] = [];
  private current: Uint8Array | null = null;
  private filled = 0;
  private partNumber = 0;
  private uploadId: Promise<string> | null = null;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly parts: { PartNumber: number; ETag: string }[] = [];
  private failure: unknown = null;
  private state: "open" | "closing" | "closed" | "aborted" = "open";
  private readonly cancel = new AbortController();

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly key: string,
    private readonly mustBeNew: boolean,
    private readonly partBytes: number,
    private readonly partsInFlight: number,
  ) {}

  async write(chunk: Uint8Array): Promise<void> {
    if (this.state !== "open") throw new VfsError("io", "written after close");
    this.throwIfFailed();
    let at = 0;
    while (at < chunk.length) {
      this.current ??= this.take();
      const n = Math.min(chunk.length - at, this.partBytes - this.filled);
      this.current.set(chunk.subarray(at, at + n), this.filled);
      this.filled += n;
      at += n;
      if (this.filled === this.partBytes) await this.sendPart();
    }
  }

  private take(): Uint8Array {
    const reused = this.pool.pop();
    return reused ?? new Uint8Array(this.partBytes);
  }

  /** Sends the full current part once a slot is free (waiting while every part is in flight). */
  private async sendPart(): Promise<void> {
    while (this.inFlight.size >= this.partsInFlight) await Promise.race(this.inFlight);
    this.throwIfFailed();
    const buffer = this.current;
    if (buffer === null) return;
    const size = this.filled;
    this.current = null;
    this.filled = 0;
    const partNumber = ++this.partNumber;
    if (partNumber > S3_MAX_PARTS) throw new VfsError("quota", `an upload of more than ${S3_MAX_PARTS} parts of ${this.partBytes} bytes`);
    const sent = this.uploadPart(buffer, size, partNumber).then(
      () => {
        this.inFlight.delete(sent);
        this.pool.push(buffer);
      },
      (error: unknown) => {
        this.inFlight.delete(sent);
        this.failure ??= error;
      },
    );
    this.inFlight.add(sent);
  }

  private async uploadPart(buffer: Uint8Array, size: number, partNumber: number): Promise<void> {
    this.uploadId ??= this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: this.key }), { abortSignal: this.cancel.signal }).then((out) => {
      if (out.UploadId === undefined) throw new VfsError("io", "S3: CreateMultipartUpload answered without an UploadId");
      return out.UploadId;
    });
    const uploadId = await this.uploadId;
    const out = await this.client.send(new UploadPartCommand({ Bucket: this.bucket, Key: this.key, UploadId: uploadId, PartNumber: partNumber, Body: buffer.subarray(0, size), ContentLength: size }), { abortSignal: this.cancel.signal });
    if (out.ETag === undefined) throw new VfsError("io", `S3: UploadPart ${partNumber} answered without an ETag`);
    this.parts.push({ PartNumber: partNumber, ETag: out.ETag });
  }

  private throwIfFailed(): void {
    if (this.failure !== null) throw s3VfsError(this.failure);
  }

  private async settle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
  }

  async close(): Promise<void> {
    if (this.state !== "open") return;
    this.state = "closing";
    try {
      const condition = this.mustBeNew ? { IfNoneMatch: "*" } : {};
      if (this.partNumber === 0) {
        // It fits one part: one PutObject, visible whole when it answers.
        const body = this.current === null ? new Uint8Array(0) : this.current.subarray(0, this.filled);
        await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.key, Body: body, ContentLength: body.length, ...condition }));
      } else {
        if (this.filled > 0) await this.sendPart();
        await this.settle();
        this.throwIfFailed();
        const uploadId = await (this.uploadId ?? Promise.reject(new VfsError("io", "no multipart upload")));
        const parts = [...this.parts].sort((a, b) => a.PartNumber - b.PartNumber);
        await this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: this.key, UploadId: uploadId, MultipartUpload: { Parts: parts }, ...condition }));
      }
      this.state = "closed";
    } catch (error) {
      await this.discard();
      this.state = "closed";
      throw s3VfsError(error);
    } finally {
      this.release();
    }
  }

  async abort(): Promise<void> {
    if (this.state !== "open") return;
    this.state = "aborted";
    await this.discard();
    this.release();
  }

  /** Cancels the parts in flight and aborts the multipart upload, if one was created. */
  private async discard(): Promise<void> {
    this.cancel.abort();
    await this.settle();
    const uploadId = await this.uploadId?.catch(() => null);
    if (uploadId === null || uploadId === undefined) return;
    await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: this.key, UploadId: uploadId })).catch(() => undefined);
  }

  private release(): void {
    this.pool.length = 0;
    this.current = null;
  }
}
