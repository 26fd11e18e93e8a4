// A Vfs under the file faults: ENOSPC part-way into an upload, EIO part-way into a download, a
// file that vanishes between its stat (SIZE) and its open (RETR), slow operations. Errors are the
// VfsErrors a real disk gives, so the core maps them to its usual replies.
import { VfsError, type Vfs, type VfsReader, type VfsWriter, type WriteMode } from "@pasv/driver";
import type { FileStat } from "@pasv/core";
import type { FaultInjector } from "./injector.js";

/** Paths marked to vanish at their next open, at most this many (the oldest is forgotten first). */
export const MAX_VANISHING = 1024;

export function faultyVfs(inner: Vfs, faults: FaultInjector): Vfs {
  const vanishing = new Set<string>();
  let opened = 0;
  const pages = inner.listPages?.bind(inner);
  const slow = async <T>(op: string, run: () => Promise<T>): Promise<T> => {
    if (faults.strikes("slow", faults.fileContext, faults.vfsStreams)) {
      faults.record("slow", null, `${op} took ${faults.plan.delayMs} ms longer`);
      await faults.sleep(faults.plan.delayMs);
    }
    return run();
  };
  return {
    stat: (path) =>
      slow(`stat ${path}`, async () => {
        const st: FileStat = await inner.stat(path);
        if (st.type === "file" && faults.strikes("vanish", faults.fileContext, faults.vfsStreams)) {
          if (vanishing.size >= MAX_VANISHING) vanishing.delete(vanishing.values().next().value ?? "");
          vanishing.add(path);
          faults.record("vanish", null, `${path} will be gone at its next open`);
        }
        return st;
      }),
    list: (path) => slow(`list ${path}`, () => inner.list(path)),
    ...(pages === undefined ? {} : { listPages: (path: string) => pages(path) }),
    mkdir: (path) => slow(`mkdir ${path}`, () => inner.mkdir(path)),
    rmdir: (path) => slow(`rmdir ${path}`, () => inner.rmdir(path)),
    delete: (path) => slow(`delete ${path}`, () => inner.delete(path)),
    rename: (from, to) => slow(`rename ${from}`, () => inner.rename(from, to)),
    setMtime: (path, mtime) => slow(`setMtime ${path}`, () => inner.setMtime(path, mtime)),
    read: (path, offset) =>
      slow(`read ${path}`, async () => {
        if (vanishing.delete(path)) throw new VfsError("not-found", `${path} vanished (injected by the fault plan)`);
        const reader = await inner.read(path, offset);
        const cut = faults.cutAt("eio", faults.fileContext, faults.streams(`vfs/read-${++opened}`));
        return cut === null ? reader : failingReader(reader, cut, () => faults.record("eio", null, `read of ${path} failed with EIO after ${cut} bytes`));
      }),
    write: (path, mode: WriteMode, offset) =>
      slow(`write ${path}`, async () => {
        const writer = await inner.write(path, mode, offset);
        const cut = faults.cutAt("enospc", faults.fileContext, faults.streams(`vfs/write-${++opened}`));
        return cut === null ? writer : fullWriter(writer, cut, () => faults.record("enospc", null, `write of ${path} failed with ENOSPC after ${cut} bytes`));
      }),
  };
}

/** Yields `limit` bytes of the file, then fails with EIO (a file shorter than that reads whole). */
function failingReader(reader: VfsReader, limit: number, struck: () => void): VfsReader {
  return {
    async *chunks() {
      let done = 0;
      for await (const chunk of reader.chunks()) {
        if (done + chunk.length > limit) {
          const head = chunk.subarray(0, limit - done);
          if (head.length > 0) yield head.slice();
          struck();
          throw new VfsError("io", "input/output error (injected by the fault plan)");
        }
        done += chunk.length;
        yield chunk;
      }
    },
    ...(reader.recycle === undefined ? {} : { recycle: (chunk: Uint8Array) => reader.recycle?.(chunk) }),
    close: () => reader.close(),
  };
}

/** Takes `limit` bytes, then fails every write with ENOSPC (the disk is full). */
function fullWriter(writer: VfsWriter, limit: number, struck: () => void): VfsWriter {
  let done = 0;
  let full = false;
  return {
    async write(chunk) {
      if (full || done + chunk.length > limit) {
        const head = full ? 0 : limit - done;
        if (head > 0) await writer.write(chunk.subarray(0, head));
        done += head;
        if (!full) struck();
        full = true;
        throw new VfsError("no-space", "no space left on device (injected by the fault plan)");
      }
      done += chunk.length;
      await writer.write(chunk);
    },
    close: () => writer.close(),
    abort: () => writer.abort(),
  };
}
