export { S3Fs, normalizePrefix, S3_MAX_LIST_ENTRIES, S3_MAX_RENAME_KEYS, S3_NAME_MAX_BYTES, S3_RENAME_CONCURRENCY, S3_UPLOAD_PART_BYTES, S3_UPLOAD_PARTS_IN_FLIGHT, S3_MAX_PARTS, type S3FsOptions } from "./s3-fs.js";
export { S3_ERROR_KINDS, s3ErrorKind, s3VfsError } from "./s3-errors.js";
export { s3Client, SDK_NODE_WARNING_ENV, S3_CONNECT_TIMEOUT_MS, S3_MAX_ATTEMPTS, S3_SOCKET_TIMEOUT_MS, type S3Location } from "./client.js";
