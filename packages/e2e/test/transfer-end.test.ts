// How a transfer ends when the client breaks it: a reset upload, an urgent ABOR (Telnet Synch with
// real TCP urgent data), a command during a blocked download, a data connection closed before use.
// The same expectations hold for every runtime the suite starts (PASV_E2E_SERVER).
import { execFile, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import type { Socket } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FtpControl, openData } from "./ftp-control.js";
import { haveTool, startServer, tempDir, waitForRecord, type RunningServer } from "./server.js";

const has = (cmd: string): boolean => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;

let server: RunningServer;
const root = tempDir("pasv-end-");
/** Far more than loopback socket buffers hold, so a download the client stops reading stays running. */
const HUGE_BYTES = 50 * 1024 * 1024;

beforeAll(async () => {
  writeFileSync(path.join(root.dir, "huge.bin"), Buffer.alloc(HUGE_BYTES, 0x61));
  writeFileSync(path.join(root.dir, "small.txt"), "small\n");
  server = await startServer(root.dir, ["-u", "alice:pw", "-w"]);
});

afterAll(async () => {
  await server.stop();
  root.remove();
});

async function alice(): Promise<FtpControl> {
  const c = await FtpControl.connect(server.port);
  await c.login("alice", "pw");
  expect((await c.cmd("TYPE I")).code).toBe(200);
  return c;
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves once `bytes` are handed to the kernel (the write callback), bounded. */
function writeAll(socket: Socket, bytes: Buffer): Promise<void> {
  return within(
    new Promise<void>((resolve, reject) => {
      socket.write(bytes, (error) => (error === null || error === undefined ? resolve() : reject(error)));
    }),
    20_000,
    "upload bytes written",
  );
}

/** Reads at least `n` bytes from a data socket, then pauses it (the client stops reading). */
function readThenPause(socket: Socket, n: number): Promise<number> {
  return within(
    new Promise<number>((resolve, reject) => {
      let got = 0;
      const onData = (chunk: Buffer): void => {
        got += chunk.length;
        if (got >= n) {
          socket.pause();
          socket.off("data", onData);
          resolve(got);
        }
      };
      socket.on("data", onData);
      socket.once("close", () => reject(new Error(`data connection closed after ${got} bytes`)));
    }),
    10_000,
    `first ${n} bytes of the download`,
  );
}

describe("a reset upload", () => {
  it("gets 426, and the log does not call it completed (3 times)", async () => {
    const c = await alice();
    try {
      for (let i = 1; i <= 3; i++) {
        const name = `reset-${i}.bin`;
        const port = await c.pasv();
        const data = await openData(port);
        data.on("error", () => undefined);
        const started = await c.cmd(`STOR ${name}`);
        expect(started.code, `STOR ${name}`).toBe(150);
        await writeAll(data, randomBytes(5 * 1024 * 1024));
        data.resetAndDestroy();
        const final = await c.reply(10_000);
        const line = await waitForRecord(server, { event: "transfer", command: "STOR", path: `/${name}` });
        // The reply and the log record agree that the upload did not complete.
        const outcome = line === null ? "no log line" : String(line.outcome);
        expect({ code: final.code, logged: outcome === "completed" ? "completed" : outcome === "no log line" ? outcome : "not completed" }, `round ${i}: ${JSON.stringify(line)}`).toEqual({
          code: 426,
          logged: "not completed",
        });
      }
      expect((await c.cmd("NOOP")).code).toBe(200);
    } finally {
      c.close();
    }
  });

  it("over an existing file leaves that file as it was, and no partial or hidden file beside it", async () => {
    const before = "the previous, complete version\n";
    writeFileSync(path.join(root.dir, "keep.txt"), before);
    const listed = (): string[] => readdirSync(root.dir).filter((n) => n.includes("keep"));
    const c = await alice();
    try {
      const port = await c.pasv();
      const data = await openData(port);
      data.on("error", () => undefined);
      expect((await c.cmd("STOR keep.txt")).code).toBe(150);
      await writeAll(data, randomBytes(5 * 1024 * 1024));
      data.resetAndDestroy();
      expect((await c.reply(10_000)).code).toBe(426);
      expect(readFileSync(path.join(root.dir, "keep.txt"), "utf8")).toBe(before);
      expect(listed()).toEqual(["keep.txt"]);
      // The same upload ending with a clean FIN replaces the file whole.
      const port2 = await c.pasv();
      const data2 = await openData(port2);
      expect((await c.cmd("STOR keep.txt")).code).toBe(150);
      data2.end("the new version\n");
      expect((await c.reply(10_000)).code).toBe(226);
      expect(readFileSync(path.join(root.dir, "keep.txt"), "utf8")).toBe("the new version\n");
      expect(listed()).toEqual(["keep.txt"]);
    } finally {
      c.close();
    }
  });
});

describe("--keep-partial-uploads", () => {
  it("a reset upload leaves what arrived as NAME.partial and the target untouched", async () => {
    const dir = tempDir("pasv-partial-");
    writeFileSync(path.join(dir.dir, "cam.jpg"), "previous frame");
    const own = await startServer(dir.dir, ["-u", "alice:pw", "-w", "--keep-partial-uploads"]);
    try {
      const c = await FtpControl.connect(own.port);
      await c.login("alice", "pw");
      expect((await c.cmd("TYPE I")).code).toBe(200);
      const data = await openData(await c.pasv());
      data.on("error", () => undefined);
      expect((await c.cmd("STOR cam.jpg")).code).toBe(150);
      await writeAll(data, Buffer.alloc(64 * 1024, 0x62));
      // Let the server take the bytes before the reset (a reset discards what it has not read).
      await new Promise((r) => setTimeout(r, 300));
      data.resetAndDestroy();
      expect((await c.reply(10_000)).code).toBe(426);
      expect(readFileSync(path.join(dir.dir, "cam.jpg"), "utf8")).toBe("previous frame");
      const partial = readFileSync(path.join(dir.dir, "cam.jpg.partial"));
      expect(partial.length).toBeGreaterThan(0);
      expect(partial.every((b) => b === 0x62)).toBe(true);
      expect(readdirSync(dir.dir).sort()).toEqual(["cam.jpg", "cam.jpg.partial"]);
      c.close();
    } finally {
      await own.stop();
      dir.remove();
    }
  });
});

// The whole control conversation in Python: Node cannot send TCP urgent data (MSG_OOB). Every
// socket has a timeout; the script prints one JSON line per round and exits nonzero on a timeout.
const URGENT_ABOR = String.raw`
import json, socket, sys, time
port, rounds, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
deadline = time.monotonic() + 100

class Ctl:
    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
    def line(self):
        while b"\r\n" not in self.buf:
            if time.monotonic() > deadline: raise TimeoutError("overall deadline")
            chunk = self.s.recv(4096)
            if not chunk: raise EOFError("control connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")
    def reply(self):
        first = self.line()
        if len(first) > 3 and first[3] == "-":
            last = self.line()
            while not (last[:3] == first[:3] and last[3:4] == " "): last = self.line()
        return int(first[:3]), first
    def cmd(self, text):
        self.s.sendall(text.encode() + b"\r\n")
        return self.reply()

c = Ctl()
assert c.reply()[0] == 220
assert c.cmd("USER alice")[0] == 331
assert c.cmd("PASS pw")[0] == 230
assert c.cmd("TYPE I")[0] == 200
def round_(i):
    code, text = c.cmd("PASV")
    assert code == 227, text
    nums = text[text.index("(") + 1:text.index(")")].split(",")
    d = socket.create_connection(("127.0.0.1", int(nums[4]) * 256 + int(nums[5])), timeout=10)
    got, replies = 0, []
    try:
        code, _ = c.cmd("RETR huge.bin")
        replies.append(code)
        if code == 150:
            while got < 1024 * 1024:
                chunk = d.recv(256 * 1024)
                if not chunk: break
                got += len(chunk)
            # Stop reading; Telnet IP in band, then IAC DM as the urgent byte, then ABOR.
            c.s.sendall(b"\xff\xf4")
            c.s.send(b"\xff\xf2", socket.MSG_OOB)
            c.s.sendall(b"ABOR\r\n")
            replies.append(c.reply()[0])
            replies.append(c.reply()[0])
        replies.append(c.cmd("NOOP")[0])
        return {"round": i + 1, "read": got, "replies": replies}
    except Exception as e:
        return {"round": i + 1, "read": got, "replies": replies, "error": repr(e)}
    finally:
        d.close()

for i in range(rounds):
    r = round_(i)
    print(json.dumps(r), flush=True)
    if "error" in r: sys.exit(1)
c.cmd("QUIT")
`;

function python(script: string, args: string[], ms: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("python3", ["-c", script, ...args], { timeout: ms, killSignal: "SIGKILL", maxBuffer: 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

describe.runIf(haveTool("python3", () => has("python3")))("an urgent ABOR", () => {
  it("answers 426 then 226 and stays in step (NOOP gets its 200), 20 times", async () => {
    const rounds = 20;
    const run = await python(URGENT_ABOR, [String(server.port), String(rounds), String(HUGE_BYTES)], 110_000);
    const results = run.stdout
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => JSON.parse(l) as { round: number; read: number; replies: number[]; error?: string });
    const expected = Array.from({ length: rounds }, (_, i) => ({ round: i + 1, replies: [150, 426, 226, 200] }));
    // Every round's replies, and the first error (a timeout means a reply never came: out of step).
    expect({ results: results.map(({ round, replies, error }) => ({ round, replies, ...(error === undefined ? {} : { error }) })), stderr: run.stderr.trim() }).toEqual({
      results: expected,
      stderr: "",
    });
    expect(run.code).toBe(0);
  }, 120_000);
});

describe("a command during a blocked download", () => {
  it("answers NOOP within 2 s while the client stops reading a RETR, then ABOR ends it", async () => {
    const c = await alice();
    const port = await c.pasv();
    const data = await openData(port);
    data.on("error", () => undefined);
    try {
      expect((await c.cmd("RETR huge.bin")).code).toBe(150);
      await readThenPause(data, 256 * 1024);
      c.send("NOOP");
      const noop = await c.reply(2_000).then(
        (r) => r.code,
        () => "no reply within 2 s",
      );
      expect(noop).toBe(200);
      c.send("ABOR");
      expect((await c.reply()).code).toBe(426);
      expect((await c.reply()).code).toBe(226);
      expect((await c.cmd("NOOP")).code).toBe(200);
    } finally {
      data.destroy();
      c.close();
    }
  });
});

describe("a data connection closed before use", () => {
  it("answers RETR with 425, then NOOP with 200", async () => {
    const c = await alice();
    try {
      const port = await c.pasv();
      const data = await openData(port);
      data.on("error", () => undefined);
      // The client closes the data connection (FIN, then the socket is gone), and gives the server a
      // moment to see it before asking for a file over it.
      await within(new Promise<void>((resolve) => data.end(resolve)), 5_000, "data socket FIN");
      data.destroy();
      await new Promise((r) => setTimeout(r, 200));
      const r = await c.cmd("RETR small.txt");
      const codes = [r.code];
      if (r.code === 150) codes.push((await c.reply()).code);
      expect(codes).toEqual([425]);
      expect((await c.cmd("NOOP")).code).toBe(200);
    } finally {
      c.close();
    }
  });
});
