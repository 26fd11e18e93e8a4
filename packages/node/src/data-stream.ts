// A data socket as the driver's DataStream: writes honour backpressure, end() resolves once every
// byte and our FIN are handed to the kernel (Bernstein: 226 means the file reached the server's TCP
// buffers; waiting for the client's own close would deadlock clients that wait for 226), errors are typed.
import type { Socket } from "node:net";
import { DataStreamError, type DataStream } from "@pasv/driver";

/** Bytes a download may queue in the socket before write() waits: enough that the next file read
 * overlaps with the kernel draining this one (measured: a 16 KiB high-water mark halves throughput). */
export const SEND_QUEUE_BYTES = 4 * 1024 * 1024;

export class SocketStream implements DataStream {
  private failure: DataStreamError | null = null;
  private closed = false;
  private finished = false;
  private readonly waiters = new Set<() => void>();

  constructor(private readonly socket: Socket, stallTimeout: number) {
    socket.setTimeout(stallTimeout);
    socket.on("timeout", () => {
      this.fail(new DataStreamError("stall", "no data moved before the stall timeout"));
      socket.destroy();
    });
    socket.on("error", (error) => {
      this.fail(new DataStreamError("reset", error.message));
    });
    socket.on("close", () => {
      this.closed = true;
      this.wake();
    });
    socket.on("finish", () => {
      this.finished = true;
      this.wake();
    });
    socket.on("drain", () => {
      this.wake();
    });
  }

  private fail(error: DataStreamError): void {
    this.failure ??= error;
    this.wake();
  }

  private wake(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const w of waiters) w();
  }

  private wait(): Promise<void> {
    return new Promise((resolve) => this.waiters.add(resolve));
  }

  async *chunks(): AsyncIterable<Uint8Array> {
    try {
      for await (const chunk of this.socket) {
        yield chunk as Uint8Array;
      }
    } catch (error) {
      throw this.failure ?? new DataStreamError("reset", String(error));
    }
    if (this.failure !== null) throw this.failure;
  }

  /** Throws if the connection failed (or, when writing, is gone). A method, so no flag is narrowed across awaits. */
  private check(writing: boolean): void {
    if (this.failure !== null) throw this.failure;
    if (writing && this.closed) throw new DataStreamError("reset", "connection closed");
  }

  private settled(): boolean {
    return this.failure !== null || this.closed;
  }

  async write(chunk: Uint8Array, flushed?: () => void): Promise<void> {
    this.check(true);
    // Node's callback runs once libuv has handed every byte to the kernel: the memory is free then.
    this.socket.write(chunk, flushed === undefined ? undefined : (error) => {
      if (error === null || error === undefined) flushed();
    });
    while (this.socket.writableLength > SEND_QUEUE_BYTES && !this.settled()) await this.wait();
    this.check(true);
  }

  async end(): Promise<void> {
    this.check(false);
    this.socket.end();
    while (!this.finished && !this.settled()) await this.wait();
    this.check(false);
  }

  destroy(): void {
    this.socket.destroy();
  }
}
