// A raw FTP client for the tests that need to misbehave or watch every reply: lines out, replies
// in (parsed strictly by the core's reply reader), data sockets opened by hand.
import net, { type Socket } from "node:net";
import { feedReplies, initialReplyReader, parse227, parse229, type ParsedReply, type ReplyReader } from "@pasv/core";

export class FtpControl {
  private reader: ReplyReader = initialReplyReader;
  private readonly replies: ParsedReply[] = [];
  private waiters: (() => void)[] = [];
  private ended = false;
  error: string | null = null;

  private constructor(readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      const fed = feedReplies(this.reader, chunk);
      this.reader = fed.reader;
      if (fed.error !== null) this.error ??= fed.error;
      this.replies.push(...fed.replies);
      this.wake();
    });
    socket.on("close", () => {
      this.ended = true;
      this.wake();
    });
    socket.on("error", () => undefined);
  }

  static connect(port: number, host = "127.0.0.1", localAddress?: string): Promise<FtpControl> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host, ...(localAddress === undefined ? {} : { localAddress }) }, () => resolve(new FtpControl(socket)));
      socket.once("error", reject);
    });
  }

  /** Over a socket already connected (a TLS socket to an implicit FTPS port). */
  static over(socket: Socket): FtpControl {
    return new FtpControl(socket);
  }

  get closed(): boolean {
    return this.ended;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** The next reply (mark or final); rejects after `ms` or when the connection closes first. */
  async reply(ms = 10_000): Promise<ParsedReply> {
    const until = Date.now() + ms;
    while (this.replies.length === 0) {
      if (this.ended) throw new Error("control connection closed");
      const left = until - Date.now();
      if (left <= 0) throw new Error("timed out waiting for a reply");
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.replies.shift()!;
  }

  /** Resolves true once the server closed the connection. */
  async waitClosed(ms = 10_000): Promise<boolean> {
    const until = Date.now() + ms;
    while (!this.ended && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    return this.ended;
  }

  send(line: string): void {
    this.socket.write(`${line}\r\n`);
  }

  async cmd(line: string): Promise<ParsedReply> {
    this.send(line);
    return this.reply();
  }

  async greeting(): Promise<ParsedReply> {
    return this.reply();
  }

  async login(user = "anonymous", password = "guest@"): Promise<void> {
    const hello = await this.greeting();
    if (hello.code !== 220) throw new Error(`greeting was ${hello.code} ${hello.lines.join(" ")}`);
    const u = await this.cmd(`USER ${user}`);
    if (u.code !== 331) throw new Error(`USER got ${u.code}`);
    const p = await this.cmd(`PASS ${password}`);
    if (p.code !== 230) throw new Error(`PASS got ${p.code}`);
  }

  async pasv(): Promise<number> {
    const r = await this.cmd("PASV");
    const target = parse227(r.lines[0] ?? "");
    if (r.code !== 227 || target === null) throw new Error(`PASV got ${r.code} ${r.lines.join("|")}`);
    return target.port;
  }

  async epsv(): Promise<number> {
    const r = await this.cmd("EPSV");
    const port = parse229(r.lines[0] ?? "");
    if (r.code !== 229 || port === null) throw new Error(`EPSV got ${r.code}`);
    return port;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Connects a data socket and collects everything until the server closes it. */
export function readAll(port: number, localAddress?: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect({ port, host: "127.0.0.1", ...(localAddress === undefined ? {} : { localAddress }) });
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("end", () => resolve(Buffer.concat(chunks)));
    socket.on("error", reject);
  });
}

/** A data connection that is only opened (and held) until the test is done with it. */
export function openData(port: number, localAddress?: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: "127.0.0.1", ...(localAddress === undefined ? {} : { localAddress }) }, () => resolve(socket));
    socket.on("error", reject);
  });
}

/** Whether a port still takes connections `graceMs` after it should have stopped (0: right now). */
export async function stillListening(port: number, graceMs = 0): Promise<boolean> {
  const until = Date.now() + graceMs;
  for (;;) {
    if (!(await canConnect(port))) return false;
    if (Date.now() >= until) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: "127.0.0.1" }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });
}

/** A passive download the client reads at about `bytesPerSecond` (so it is still running when a
 * stop, a reload or a kill comes): what it got so far, and all of it once the server closes. */
export function slowDownload(port: number, bytesPerSecond: number): { received: Promise<Buffer>; bytes: () => number; socket: Socket } {
  const socket = net.connect({ port, host: "127.0.0.1" });
  const chunks: Buffer[] = [];
  let total = 0;
  const started = Date.now();
  socket.on("data", (b: Buffer) => {
    chunks.push(b);
    total += b.length;
    const ahead = total / bytesPerSecond - (Date.now() - started) / 1000;
    if (ahead > 0.02) {
      socket.pause();
      setTimeout(() => socket.resume(), ahead * 1000);
    }
  });
  const received = new Promise<Buffer>((resolve) => {
    socket.on("end", () => resolve(Buffer.concat(chunks)));
    socket.on("error", () => resolve(Buffer.concat(chunks)));
  });
  return { received, bytes: () => total, socket };
}
