// Bernstein's PASV/PORT rules (SPEC §4), checked against the real server over loopback.
import { writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { formatPortArg } from "@pasv/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FtpControl, openData, readAll, stillListening } from "./ftp-control.js";
import { startServer, tempDir, type RunningServer } from "./server.js";

let server: RunningServer;
const root = tempDir();
const content = Buffer.from("0123456789".repeat(1000));

beforeAll(async () => {
  writeFileSync(path.join(root.dir, "file.bin"), content);
  server = await startServer(root.dir, ["-u", "writer:pw", "-w"]);
});

afterAll(async () => {
  // SIGTERM: the server closes its sessions and exits 0.
  expect(await server.stop()).toBe(0);
  root.remove();
});

async function session(): Promise<FtpControl> {
  const c = await FtpControl.connect(server.port);
  await c.login();
  await c.cmd("TYPE I");
  return c;
}

describe("the seed's data-connection rules", () => {
  it("PASV answers one 227 line; REST, TYPE, NOOP and CWD are answered while the listener waits", async () => {
    const c = await session();
    const port = await c.pasv();
    const data = readAll(port);
    expect((await c.cmd("REST 10")).code).toBe(350);
    expect((await c.cmd("TYPE I")).code).toBe(200);
    expect((await c.cmd("NOOP")).code).toBe(200);
    expect((await c.cmd("CWD /")).code).toBe(250);
    expect((await c.cmd("RETR file.bin")).code).toBe(150);
    expect((await c.reply()).code).toBe(226);
    expect((await data).equals(content.subarray(10))).toBe(true);
    c.close();
  });

  it("a second PASV stops the old listener and drops connections already made on it", async () => {
    const c = await session();
    const first = await c.pasv();
    const early = await openData(first);
    const closed = new Promise<void>((resolve) => early.on("close", () => resolve()));
    const second = await c.pasv();
    expect(second).not.toBe(first);
    await closed;
    expect(await stillListening(first)).toBe(false);
    const data = readAll(second);
    expect((await c.cmd("RETR file.bin")).code).toBe(150);
    expect((await c.reply()).code).toBe(226);
    expect((await data).equals(content)).toBe(true);
    c.close();
  });

  it("PORT answers 200 and stops a passive listener; the server connects only after RETR and its mark", async () => {
    const c = await session();
    const passive = await c.pasv();
    const listener = net.createServer();
    await new Promise<void>((r) => listener.listen(0, "127.0.0.1", r));
    const port = (listener.address() as net.AddressInfo).port;
    let connectedAt = -1;
    const events: string[] = [];
    const received = new Promise<Buffer>((resolve) => {
      listener.on("connection", (s) => {
        connectedAt = events.length;
        events.push("connect");
        const chunks: Buffer[] = [];
        s.on("data", (b: Buffer) => chunks.push(b));
        s.on("end", () => resolve(Buffer.concat(chunks)));
      });
    });
    expect((await c.cmd(`PORT ${formatPortArg("127.0.0.1", port)}`)).code).toBe(200);
    // The listener is closed before the 200 is written, but the socket's close is not synchronous
    // on every runtime: once in a loaded CI run on Deno, a connect made right after the 200 still
    // got through. What the rule needs is that the port stops listening then: within 500 ms.
    expect(await stillListening(passive, 500)).toBe(false);
    await new Promise((r) => setTimeout(r, 100));
    expect(connectedAt).toBe(-1);
    c.send("RETR file.bin");
    const mark = await c.reply();
    events.push("mark");
    expect(mark.code).toBe(150);
    expect((await c.reply()).code).toBe(226);
    expect((await received).equals(content)).toBe(true);
    listener.close();
    c.close();
  });

  it("answers 425 after the 150 when the PORT target refuses", async () => {
    const c = await session();
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const dead = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    expect((await c.cmd(`PORT ${formatPortArg("127.0.0.1", dead)}`)).code).toBe(200);
    expect((await c.cmd("RETR file.bin")).code).toBe(150);
    expect((await c.reply()).code).toBe(425);
    c.close();
  });

  it("refuses before the mark and leaves the set-up for the next command (STOR into a missing directory, REST past the end)", async () => {
    const c = await FtpControl.connect(server.port);
    await c.login("writer", "pw");
    await c.cmd("TYPE I");
    const data = readAll(await c.pasv());
    expect((await c.cmd("STOR nodir/x.bin")).code).toBe(553);
    expect((await c.cmd("REST 99999999999999999999")).code).toBe(350);
    expect((await c.cmd("RETR file.bin")).code).toBe(554);
    expect((await c.cmd("RETR file.bin")).code).toBe(150);
    expect((await c.reply()).code).toBe(226);
    expect((await data).equals(content)).toBe(true);
    c.close();
  });

  it("refuses RETR with neither PASV nor PORT, without a mark", async () => {
    const c = await session();
    const r = await c.cmd("RETR file.bin");
    expect(r.code).toBe(425);
    expect((await c.cmd("NOOP")).code).toBe(200);
    c.close();
  });

  it("does not serve a passive connection from another address (127.0.0.2)", async () => {
    const c = await session();
    const port = await c.pasv();
    const thief = await openData(port, "127.0.0.2");
    const stolen: Buffer[] = [];
    thief.on("data", (b: Buffer) => stolen.push(b));
    const thiefClosed = new Promise<void>((r) => thief.on("close", () => r()));
    await thiefClosed;
    const data = readAll(port);
    expect((await c.cmd("RETR file.bin")).code).toBe(150);
    expect((await c.reply()).code).toBe(226);
    expect((await data).equals(content)).toBe(true);
    expect(Buffer.concat(stolen).length).toBe(0);
    c.close();
  });

  it("refuses PORT and EPRT to another address or to a port below 1024", async () => {
    const c = await session();
    expect((await c.cmd("PORT 127,0,0,2,200,10")).code).toBe(504);
    expect((await c.cmd("PORT 127,0,0,1,0,25")).code).toBe(504);
    expect((await c.cmd("PORT 203,0,113,9,195,80")).code).toBe(504);
    expect((await c.cmd("EPRT |1|127.0.0.2|50000|")).code).toBe(504);
    expect((await c.cmd("EPRT |1|127.0.0.1|21|")).code).toBe(504);
    c.close();
  });

  it("EPSV ALL refuses PASV, PORT and EPRT afterwards", async () => {
    const c = await session();
    expect((await c.cmd("EPSV ALL")).code).toBe(200);
    expect((await c.cmd("PASV")).code).toBe(503);
    expect((await c.cmd("PORT 127,0,0,1,200,10")).code).toBe(503);
    const port = await c.epsv();
    const data = readAll(port);
    expect((await c.cmd("RETR file.bin")).code).toBe(150);
    expect((await c.reply()).code).toBe(226);
    expect((await data).equals(content)).toBe(true);
    c.close();
  });

  it("ABOR: 225 with nothing to abort; 426 then 226 for a transfer waiting for its connection", async () => {
    const c = await session();
    expect((await c.cmd("ABOR")).code).toBe(225);
    await c.pasv();
    expect((await c.cmd("RETR file.bin")).code).toBe(150);
    expect((await c.cmd("ABOR")).code).toBe(426);
    expect((await c.reply()).code).toBe(226);
    expect((await c.cmd("NOOP")).code).toBe(200);
    c.close();
  });

  it("answers pipelined commands in order, one reply each", async () => {
    const c = await FtpControl.connect(server.port);
    await c.greeting();
    c.socket.write("USER anonymous\r\nPASS x@\r\nSYST\r\nPWD\r\nTYPE I\r\nSIZE file.bin\r\nQUIT\r\n");
    const codes: number[] = [];
    for (let i = 0; i < 7; i++) codes.push((await c.reply()).code);
    expect(codes).toEqual([331, 230, 215, 257, 200, 213, 221]);
    expect(await c.waitClosed()).toBe(true);
    expect(c.error).toBeNull();
  });
});
