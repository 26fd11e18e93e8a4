// The S3 back end end to end: `pasv --s3-bucket` against s3rver (a real S3 HTTP API, started on a
// free loopback port), driven by real clients and checked through the S3 API itself. Credentials
// reach the server the standard way (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in its environment).
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { GetObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { s3Client, SDK_NODE_WARNING_ENV } from "@pasv/s3";
import { Client } from "basic-ftp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startS3rver, useS3rverCredentials, type S3rverInstance } from "../../s3/src/s3rver.test-helper.js";
import { FtpControl, openData, readAll } from "./ftp-control.js";
import { statusBytes } from "./proc-memory.js";
import { haveTool, logRecords, startServer, tempDir, type RunningServer } from "./server.js";

const has = (cmd: string): boolean => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
const BUCKET = "pasv-e2e";
/** The served tree is this prefix of the bucket. */
const PREFIX = "served/";
const MiB = 1024 * 1024;
/** The upload the memory test sends, and the growth of the server it allows (issue 15). */
const UPLOAD_BYTES = 100 * MiB;
const GROWTH_LIMIT_BYTES = 64 * MiB;
const MANY = 12_000;

let s3: S3rverInstance;
let client: S3Client;
let server: RunningServer;
const work = tempDir("pasv-s3-client-");
const big = randomBytes(3 * MiB + 17);

async function object(key: string): Promise<Buffer | null> {
  try {
    const out = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: PREFIX + key }));
    return Buffer.from(await out.Body!.transformToByteArray());
  } catch {
    return null;
  }
}

async function put(key: string, body: string | Uint8Array): Promise<void> {
  await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: PREFIX + key, Body: body }));
}

async function pendingUploads(): Promise<string[]> {
  const out = await client.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }));
  return (out.Uploads ?? []).map((u) => u.Key ?? "");
}

/** What s3rver keeps on its disk of multipart uploads not completed nor aborted. */
function uploadLeftovers(): string[] {
  const bucketDir = path.join(s3.directory, BUCKET);
  return readdirSync(bucketDir).filter((n) => n.includes("_S3rver_uploads")).flatMap((n) => readdirSync(path.join(bucketDir, n)));
}

beforeAll(async () => {
  useS3rverCredentials();
  s3 = await startS3rver([BUCKET]);
  client = s3Client({ bucket: BUCKET, endpoint: s3.endpoint, pathStyle: true });
  await put("hello.txt", "hello world\n");
  await put("big.bin", big);
  await put("pub/", "");
  await put("pub/name with spaces.txt", "spaces\n");
  await put("pub/grüße.txt", "utf8\n");
  await put("homes/bob/mine.txt", "bob's\n");
  await put("huge.bin", Buffer.alloc(32 * MiB, 0x61));
  // The test's own client switched the SDK's Node version notice off in this process: the server must do it itself.
  Reflect.deleteProperty(process.env, SDK_NODE_WARNING_ENV);
  server = await startServer("", ["--s3-bucket", BUCKET, "--s3-prefix", PREFIX, "--s3-endpoint", s3.endpoint, "--s3-path-style", "-u", "alice:s3cret", "-u", "bob:pw", "--user-home", "bob=homes/bob", "-w"], { noDir: true });
}, 120_000);

afterAll(async () => {
  await server.stop();
  client.destroy();
  await s3.stop();
  work.remove();
});

const url = (p: string, user = ""): string => `ftp://${user}127.0.0.1:${server.port}/${p}`;

function curl(...args: string[]): Buffer {
  return execFileSync("curl", ["-sS", "--max-time", "60", ...args], { maxBuffer: 64 * MiB });
}

describe("pasv --s3-bucket", () => {
  it("says what it serves, and nothing of the SDK's Node version notice", () => {
    expect(logRecords(server).find((r) => r.event === "server.start")).toMatchObject({ address: "127.0.0.1", port: server.port, url: `ftp://127.0.0.1:${String(server.port)}`, root: `s3://${BUCKET}/${PREFIX}` });
    expect(server.output()).not.toMatch(/NodeVersionSupportWarning|AWS SDK for JavaScript/);
  });

  describe.runIf(haveTool("curl", () => has("curl")))("curl", () => {
    it("lists, gets and puts byte for byte, a multipart upload too", async () => {
      const listing = curl(url("")).toString();
      expect(listing).toMatch(/^-rw.* big\.bin\r?$/m);
      expect(listing).toMatch(/^d.* pub\r?$/m);
      expect(curl(url("hello.txt")).toString()).toBe("hello world\n");
      expect(curl(url("big.bin")).equals(big)).toBe(true);
      expect(curl(url("pub/grüße.txt")).toString()).toBe("utf8\n");
      const up = path.join(work.dir, "up.bin");
      const upload = Buffer.concat([big, big, big, big.subarray(0, 12345)]);
      writeFileSync(up, upload);
      curl("-T", up, url("uploaded.bin", "alice:s3cret@"));
      expect((await object("uploaded.bin"))?.equals(upload)).toBe(true);
      expect(curl(url("uploaded.bin")).equals(upload)).toBe(true);
      expect(await pendingUploads()).toEqual([]);
    });

    it("resumes a download with -C - (REST becomes a ranged GET)", () => {
      const out = path.join(work.dir, "resume.bin");
      writeFileSync(out, big.subarray(0, 1_000_000));
      curl("-C", "-", "-o", out, url("big.bin"));
      expect(readFileSync(out).equals(big)).toBe(true);
    });

    it("gives a user with a home a prefix of the bucket as their /", async () => {
      expect(curl("--list-only", url("", "bob:pw@")).toString().split(/\r?\n/).filter((l) => l !== "")).toEqual(["mine.txt"]);
      expect(curl(url("mine.txt", "bob:pw@")).toString()).toBe("bob's\n");
      expect(spawnSync("curl", ["-sS", url("../hello.txt", "bob:pw@")]).stdout.toString()).not.toBe("hello world\n");
      const up = path.join(work.dir, "bob.txt");
      writeFileSync(up, "from bob\n");
      curl("-T", up, url("up.txt", "bob:pw@"));
      expect((await object("homes/bob/up.txt"))?.toString()).toBe("from bob\n");
    });

    it("refuses APPE to an object (S3 cannot append) and leaves it as it was", async () => {
      const more = path.join(work.dir, "more.txt");
      writeFileSync(more, "more\n");
      const run = spawnSync("curl", ["-sS", "--append", "-T", more, url("hello.txt", "alice:s3cret@")]);
      expect(run.status).not.toBe(0);
      expect(run.stderr.toString()).toMatch(/550/);
      expect((await object("hello.txt"))?.toString()).toBe("hello world\n");
    });
  });

  describe.runIf(haveTool("lftp", () => has("lftp")))("lftp", () => {
    it("mirrors a tree of 200+ files both ways, byte for byte", async () => {
      const src = path.join(work.dir, "tree");
      let count = 0;
      for (let d = 0; d < 10; d++) {
        const dir = path.join(src, `dir ${d}`, d % 2 === 0 ? "deeper" : "plain");
        mkdirSync(dir, { recursive: true });
        for (let f = 0; f < 21; f++) {
          writeFileSync(path.join(dir, f === 0 ? `ünï ${f}.dat` : `file-${f}.dat`), randomBytes((d * 997 + f * 131) % 5000));
          count++;
        }
      }
      expect(count).toBeGreaterThanOrEqual(200);
      const settings = "set ftp:ssl-allow no; set net:max-retries 1; set net:timeout 20; set cmd:fail-exit yes";
      execFileSync("lftp", ["-c", `${settings}; open -u alice,s3cret ftp://127.0.0.1:${server.port}; mirror -R ${JSON.stringify(src)} up-tree`], { timeout: 180_000 });
      const back = path.join(work.dir, "back");
      execFileSync("lftp", ["-c", `${settings}; open -u alice,s3cret ftp://127.0.0.1:${server.port}; mirror up-tree ${JSON.stringify(back)}`], { timeout: 180_000 });
      const compareObjects = async (a: string, prefix: string): Promise<number> => {
        let n = 0;
        for (const name of readdirSync(a)) {
          const pa = path.join(a, name);
          if (statSync(pa).isDirectory()) n += await compareObjects(pa, `${prefix}${name}/`);
          else {
            expect((await object(`${prefix}${name}`))?.equals(readFileSync(pa)), `${prefix}${name}`).toBe(true);
            n++;
          }
        }
        return n;
      };
      const compare = (a: string, b: string): number => {
        let n = 0;
        for (const name of readdirSync(a)) {
          const pa = path.join(a, name);
          const pb = path.join(b, name);
          if (statSync(pa).isDirectory()) n += compare(pa, pb);
          else {
            expect(readFileSync(pb).equals(readFileSync(pa)), pb).toBe(true);
            n++;
          }
        }
        return n;
      };
      expect(await compareObjects(src, "up-tree/")).toBe(count);
      expect(compare(src, back)).toBe(count);
    }, 400_000);
  });

  describe.runIf(haveTool("python3", () => has("python3")))("Python ftplib", () => {
    it("runs a scripted session: PWD, CWD, MLSD, SIZE, MDTM, REST, STOR, ABOR, MKD, RNFR/RNTO, DELE, RMD, APPE refused", async () => {
      const script = `
import ftplib, io, sys
port = int(sys.argv[1]); size = int(sys.argv[2])
f = ftplib.FTP()
f.connect("127.0.0.1", port, timeout=30)
f.login("alice", "s3cret")
assert f.pwd() == "/", f.pwd()
f.cwd("pub"); assert f.pwd() == "/pub"
facts = dict(f.mlsd())
assert facts["name with spaces.txt"]["type"] == "file", facts
assert facts["grüße.txt"]["size"] == "5", facts
f.cwd("/")
f.voidcmd("TYPE I")
assert f.size("big.bin") == size
assert len(f.voidcmd("MDTM big.bin").split()[1]) == 14
tail = io.BytesIO(); f.retrbinary("RETR big.bin", tail.write, rest=size - 1000)
sys.stdout.buffer.write(tail.getvalue())
f.storbinary("STOR from-python.bin", io.BytesIO(b"py" * 5000))
conn = f.transfercmd("RETR huge.bin")
conn.recv(1024)
resp = f.abort()
# RFC 959: the aborted transfer gets 426, then ABOR itself gets 226 (ftplib reads only the first).
assert resp[:3] == "426", resp
assert f.voidresp()[:3] == "226"
conn.close()
f.mkd("made")
assert [n for n, _ in f.mlsd("made")] == [], "a new directory is empty"
f.rename("from-python.bin", "made/renamed.bin")
f.voidcmd("TYPE I")
assert f.size("made/renamed.bin") == 10000
try:
    f.storbinary("APPE made/renamed.bin", io.BytesIO(b"more"))
    raise SystemExit("APPE to an object was accepted")
except ftplib.error_perm as e:
    assert str(e).startswith("550"), e
try:
    f.rmd("made")
    raise SystemExit("RMD of a non-empty directory was accepted")
except ftplib.error_perm as e:
    assert str(e).startswith("550"), e
f.delete("made/renamed.bin")
assert [n for n, _ in f.mlsd("made")] == [], "deleting the last file keeps the directory"
f.rmd("made")
try:
    f.cwd("made")
    raise SystemExit("a removed directory is still there")
except ftplib.error_perm as e:
    assert str(e).startswith("550"), e
assert f.voidcmd("NOOP").startswith("200")
f.quit()
`;
      const out = execFileSync("python3", ["-c", script, String(server.port), String(big.length)], { timeout: 120_000 });
      expect(out.equals(big.subarray(big.length - 1000))).toBe(true);
      expect(await object("made/renamed.bin")).toBeNull();
      expect(await object("made/")).toBeNull();
    });
  });

  describe.runIf(haveTool("netkit ftp", () => has("ftp")))("netkit ftp", () => {
    it("gets and puts from a script", async () => {
      const local = path.join(work.dir, "netkit");
      mkdirSync(local);
      writeFileSync(path.join(local, "put.bin"), big.subarray(0, 50_000));
      const script = `open 127.0.0.1 ${server.port}\nuser alice s3cret\nbinary\npassive\nget big.bin got.bin\nput put.bin netkit.bin\nbye\n`;
      execFileSync("ftp", ["-n", "-v"], { input: script, cwd: local, timeout: 60_000 });
      expect(readFileSync(path.join(local, "got.bin")).equals(big)).toBe(true);
      expect((await object("netkit.bin"))?.equals(big.subarray(0, 50_000))).toBe(true);
    });
  });

  describe.runIf(haveTool("ncftp", () => has("ncftpget")))("ncftp", () => {
    it("gets and puts", async () => {
      const local = path.join(work.dir, "ncftp");
      mkdirSync(local);
      execFileSync("ncftpget", ["-P", String(server.port), "-u", "alice", "-p", "s3cret", "127.0.0.1", local, "/big.bin"], { timeout: 60_000 });
      expect(readFileSync(path.join(local, "big.bin")).equals(big)).toBe(true);
      writeFileSync(path.join(local, "nc-up.bin"), big.subarray(0, 70_000));
      execFileSync("ncftpput", ["-P", String(server.port), "-u", "alice", "-p", "s3cret", "127.0.0.1", "/", path.join(local, "nc-up.bin")], { timeout: 60_000 });
      expect((await object("nc-up.bin"))?.equals(big.subarray(0, 70_000))).toBe(true);
    });
  });

  describe("basic-ftp", () => {
    it("lists, uploads, downloads, ensures dirs, renames and removes", async () => {
      const ftp = new Client(20_000);
      try {
        await ftp.access({ host: "127.0.0.1", port: server.port, user: "alice", password: "s3cret" });
        const list = await ftp.list("/pub");
        expect(list.map((e) => e.name).sort()).toEqual(["grüße.txt", "name with spaces.txt"]);
        const src = path.join(work.dir, "basic.bin");
        writeFileSync(src, big.subarray(0, 200_000));
        await ftp.ensureDir("/made/by/basic");
        await ftp.uploadFrom(src, "file.bin");
        expect((await object("made/by/basic/file.bin"))?.equals(big.subarray(0, 200_000))).toBe(true);
        const dst = path.join(work.dir, "basic-down.bin");
        await ftp.downloadTo(dst, "/big.bin");
        expect(readFileSync(dst).equals(big)).toBe(true);
        await ftp.rename("file.bin", "renamed.bin");
        expect((await ftp.list()).map((e) => e.name)).toEqual(["renamed.bin"]);
        await ftp.remove("renamed.bin");
        await ftp.removeDir("/made");
        const keys = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${PREFIX}made` }));
        expect(keys.KeyCount ?? 0).toBe(0);
      } finally {
        ftp.close();
      }
    });
  });

  describe.runIf(haveTool("curl", () => has("curl")))("memory and failure", () => {
    it(`a ${UPLOAD_BYTES / MiB} MB upload grows the server by less than ${GROWTH_LIMIT_BYTES / MiB} MB (parts stream to the store)`, async () => {
      const file = path.join(work.dir, "hundred.bin");
      const chunk = randomBytes(MiB);
      writeFileSync(file, Buffer.concat(Array.from({ length: UPLOAD_BYTES / MiB }, () => chunk)));
      // A multipart upload first (16 MiB: four parts), so the baseline holds what any upload warms up
      // once (the SDK, its sockets, the runtime's heap), as the stalled-downloads test does.
      const warm = path.join(work.dir, "warm.bin");
      writeFileSync(warm, Buffer.concat(Array.from({ length: 16 }, () => chunk)));
      curl("-T", warm, url("warm.bin", "alice:s3cret@"));
      const before = statusBytes(server.pid, "VmRSS");
      let peak = before;
      const child = spawn("curl", ["-sS", "--max-time", "300", "-T", file, url("hundred.bin", "alice:s3cret@")], { stdio: "ignore" });
      const code = await new Promise<number | null>((resolve) => {
        const sampler = setInterval(() => {
          peak = Math.max(peak, statusBytes(server.pid, "VmRSS"));
        }, 20);
        child.on("exit", (c) => {
          clearInterval(sampler);
          resolve(c);
        });
      });
      expect(code).toBe(0);
      const growth = peak - before;
      console.log(`s3 ${process.env.PASV_E2E_SERVER ?? "node"}: RSS ${(before / MiB).toFixed(0)} MiB before a ${UPLOAD_BYTES / MiB} MB upload, peak ${(peak / MiB).toFixed(0)} MiB (+${(growth / MiB).toFixed(1)} MiB)`);
      expect(growth).toBeLessThan(GROWTH_LIMIT_BYTES);
      const head = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}hundred.bin` }));
      expect(head.ContentLength).toBe(UPLOAD_BYTES);
      expect(await pendingUploads()).toEqual([]);
    }, 400_000);

    it("an upload cut mid-stream leaves no object and no pending multipart upload", async () => {
      const c = await FtpControl.connect(server.port);
      try {
        await c.login("alice", "s3cret");
        expect((await c.cmd("TYPE I")).code).toBe(200);
        const data = await openData(await c.pasv());
        expect((await c.cmd("STOR cut.bin")).code).toBe(150);
        const chunk = Buffer.alloc(256 * 1024, 0x42);
        // 24 MiB: several parts are sent (or in flight) when the connection is reset.
        for (let i = 0; i < 96; i++) {
          if (!data.write(chunk)) await new Promise((r) => data.once("drain", r));
        }
        data.resetAndDestroy();
        const reply = await c.reply(60_000);
        expect([426, 451]).toContain(reply.code);
      } finally {
        c.close();
      }
      expect(await object("cut.bin")).toBeNull();
      expect(await pendingUploads()).toEqual([]);
      expect(uploadLeftovers()).toEqual([]);
    }, 120_000);
  });

  describe.runIf(haveTool("curl", () => has("curl")))("a large directory", () => {
    it(`lists a prefix of ${MANY} objects in full (LIST, NLST and MLSD stream ListObjectsV2's pages); refuses to rename it, naming the limit`, async () => {
      const names = Array.from({ length: MANY }, (_, i) => `obj-${String(i).padStart(5, "0")}.txt`);
      let next = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < names.length) await put(`many/${names[next++]!}`, "x");
        }),
      );
      const listed = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${PREFIX}many/`, MaxKeys: 5 }));
      expect(listed.IsTruncated).toBe(true);
      const nlst = curl("--list-only", url("many/")).toString().split(/\r?\n/).filter((l) => l !== "");
      expect(nlst.length).toBe(MANY);
      expect([...nlst].sort()).toEqual(names);
      const list = curl(url("many/")).toString().split(/\r?\n/).filter((l) => l !== "");
      expect(list.length).toBe(MANY);
      expect(list.every((l) => /^-rw.* obj-\d{5}\.txt$/.test(l))).toBe(true);
      // Streamed page by page in S3's key order, which for these names is name order.
      expect(list.map((l) => l.slice(l.lastIndexOf(" ") + 1))).toEqual(names);
      const c = await FtpControl.connect(server.port);
      try {
        await c.login("alice", "s3cret");
        const received = readAll(await c.pasv());
        expect((await c.cmd("MLSD many")).code).toBe(150);
        const mlsd = (await received).toString().split("\r\n").filter((l) => l !== "");
        expect((await c.reply(60_000)).code).toBe(226);
        expect(mlsd.length).toBe(MANY);
        expect(mlsd.every((l) => /^type=file;size=1;modify=\d{14};.* obj-\d{5}\.txt$/.test(l))).toBe(true);
        expect(mlsd.map((l) => l.slice(l.indexOf(" ") + 1))).toEqual(names);
        // More objects than a directory rename copies: refused, naming the limit, and nothing moved.
        expect((await c.cmd("RNFR many")).code).toBe(350);
        const refused = await c.cmd("RNTO many-moved");
        expect(refused.code).toBe(550);
        expect(refused.lines.join(" ")).toMatch(/^(550 )?Directory too large to rename \(over 1000 objects\)\.$/);
      } finally {
        c.close();
      }
      expect((await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${PREFIX}many-moved`, MaxKeys: 1 }))).KeyCount ?? 0).toBe(0);
    }, 400_000);
  });
});
