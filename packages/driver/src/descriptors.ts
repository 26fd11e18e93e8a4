// Linux's descriptor primitives for the confinement rule, over node:fs, which Node and Deno both
// provide with the host's own descriptors: handed the module, so the driver imports no runtime.
import type { DescriptorOps } from "./confine.js";
import { fromNodeStats, type NodeStatsLike } from "./host-stat.js";
import type { InlineGate } from "./inline-gate.js";

/** The part of node:fs the primitives use. */
export interface NodeFsLike {
  open(path: string, flags: number, mode: number, callback: (error: Error | null, fd: number) => void): void;
  openSync(path: string, flags: number, mode: number): number;
  closeSync(fd: number): void;
  readlinkSync(path: string): string;
  fstatSync(fd: number): NodeStatsLike;
  readonly constants: { readonly O_CREAT: number; readonly O_DIRECTORY: number; readonly O_EXCL: number; readonly O_NOFOLLOW: number; readonly O_WRONLY: number };
}

/** Linux's O_PATH (the same value on every architecture Node and Deno run on there); node:fs does not export it. */
export const O_PATH = 0o10000000;

/** With an open `gate`, O_PATH opens run inline: resolving a name the kernel has cached does no I/O. */
export function nodeFsDescriptors(fs: NodeFsLike, gate?: InlineGate): DescriptorOps {
  const { O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_WRONLY } = fs.constants;
  const open = (host: string, flags: number): Promise<number> =>
    new Promise((resolve, reject) => {
      fs.open(host, flags, 0o644, (error, fd) => {
        if (error === null) resolve(fd);
        else reject(error);
      });
    });
  return {
    openPath: (host, directory) => {
      const flags = O_PATH | (directory ? O_DIRECTORY : 0);
      return gate?.open === true ? gate.settle(() => fs.openSync(host, flags, 0o644)) : open(host, flags);
    },
    createNew: (host) => open(host, O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY),
    // /proc/self/fd links are read from memory and closing a descriptor does no I/O: done inline,
    // they cost less than a round trip through the thread pool.
    readLink: (host) => Promise.resolve().then(() => fs.readlinkSync(host)),
    stat: (fd) => fromNodeStats(fs.fstatSync(fd)),
    close: (fd) => {
      try {
        fs.closeSync(fd);
      } catch {
        // already closed
      }
      return Promise.resolve();
    },
  };
}
