// The one table from file-system error kinds to replies (libunftp's error-kind table idea).
import { assertNever } from "./assert.js";
import type { FsErrorKind } from "./types.js";

export interface Reply {
  readonly code: number;
  readonly text: string;
}

export function fsErrorReply(kind: FsErrorKind): Reply {
  switch (kind) {
    case "not-found":
      return { code: 550, text: "No such file or directory." };
    case "permission":
      return { code: 550, text: "Permission denied." };
    case "exists":
      return { code: 550, text: "File exists." };
    case "not-empty":
      return { code: 550, text: "Directory not empty." };
    case "not-a-directory":
      return { code: 550, text: "Not a directory." };
    case "is-a-directory":
      return { code: 550, text: "Is a directory." };
    case "no-space":
      return { code: 452, text: "Insufficient storage space." };
    case "quota":
      return { code: 552, text: "Exceeded storage allocation." };
    case "busy":
      return { code: 450, text: "File busy, try again later." };
    case "invalid-name":
      return { code: 553, text: "File name not allowed." };
    case "too-large":
      return { code: 550, text: "Too large for this operation." };
    case "io":
      return { code: 451, text: "Local error in processing." };
    default:
      return assertNever(kind);
  }
}
