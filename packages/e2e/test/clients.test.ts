// Real clients against the real server process, each checked byte for byte.
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Client } from "basic-ftp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { haveTool, startServer, tempDir, type RunningServer } from "./server.js";

const has = (cmd: string): boolean => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;

let server: RunningServer;
const root = tempDir();
const work = tempDir("pasv-client-");
const big = randomBytes(3 * 1024 * 1024 + 17);

beforeAll(async () => {
  writeFileSync(path.join(root.dir, "hello.txt"), "hello world\n");
  writeFileSync(path.join(root.dir, "big.bin"), big);
  writeFileSync(path.join(root.dir, "huge.bin"), Buffer.alloc(32 * 1024 * 1024, 0x61));
  mkdirSync(path.join(root.dir, "pub"));
  writeFileSync(path.join(root.dir, "pub", "name with spaces.txt"), "spaces\n");
  writeFileSync(path.join(root.dir, "pub", "grüße.txt"), "utf8\n");
  server = await startServer(root.dir, ["-u", "alice:s3cret", "-w"]);
});

afterAll(async () => {
  await server.stop();
  root.remove();
  work.remove();
});

const url = (p: string, user = ""): string => `ftp://${user}127.0.0.1:${server.port}/${p}`;

function curl(...args: string[]): Buffer {
  return execFileSync("curl", ["-sS", "--max-time", "30", ...args], { maxBuffer: 64 * 1024 * 1024 });
}

describe.runIf(haveTool("curl", () => has("curl")))("curl", () => {
  it("lists, gets and puts", () => {
    const listing = curl(url("")).toString();
    expect(listing).toMatch(/^-rw.* big\.bin\r?$/m);
    expect(listing).toMatch(/^d.* pub\r?$/m);
    expect(curl(url("hello.txt")).toString()).toBe("hello world\n");
    expect(curl(url("big.bin")).equals(big)).toBe(true);
    const up = path.join(work.dir, "up.bin");
    writeFileSync(up, big.subarray(0, 100_000));
    curl("-T", up, url("uploaded.bin", "alice:s3cret@"));
    expect(readFileSync(path.join(root.dir, "uploaded.bin")).equals(big.subarray(0, 100_000))).toBe(true);
  });

  it("resumes a download with -C -", () => {
    const out = path.join(work.dir, "resume.bin");
    writeFileSync(out, big.subarray(0, 1_000_000));
    curl("-C", "-", "-o", out, url("big.bin"));
    expect(readFileSync(out).equals(big)).toBe(true);
  });

  it("works in active mode (EPRT/PORT) and with EPSV disabled (PASV)", () => {
    expect(curl("--ftp-port", "127.0.0.1", url("hello.txt")).toString()).toBe("hello world\n");
    expect(curl("--ftp-port", "127.0.0.1", "--disable-eprt", url("big.bin")).equals(big)).toBe(true);
    expect(curl("--disable-epsv", url("hello.txt")).toString()).toBe("hello world\n");
  });

  it("refuses anonymous uploads", () => {
    const up = path.join(work.dir, "anon.txt");
    writeFileSync(up, "x");
    const run = spawnSync("curl", ["-sS", "-T", up, url("anon.txt")]);
    expect(run.status).not.toBe(0);
  });
});

describe.runIf(haveTool("lftp", () => has("lftp")))("lftp", () => {
  it("mirrors a tree of 200+ files both ways, byte for byte", () => {
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
    execFileSync("lftp", ["-c", `${settings}; open -u alice,s3cret ftp://127.0.0.1:${server.port}; mirror -R ${JSON.stringify(src)} up-tree`], { timeout: 120_000 });
    const back = path.join(work.dir, "back");
    execFileSync("lftp", ["-c", `${settings}; open -u alice,s3cret ftp://127.0.0.1:${server.port}; mirror up-tree ${JSON.stringify(back)}`], { timeout: 120_000 });
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
    expect(compare(src, path.join(root.dir, "up-tree"))).toBe(count);
    expect(compare(src, back)).toBe(count);
  });
});

describe.runIf(haveTool("python3", () => has("python3")))("Python ftplib", () => {
  it("runs a scripted session: PWD, CWD, MLSD, SIZE, MDTM, REST, STOR, ABOR, QUIT", () => {
    const script = `
import ftplib, io, sys
port = int(sys.argv[1]); size = int(sys.argv[2])
f = ftplib.FTP()
f.connect("127.0.0.1", port, timeout=20)
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
# (32 MiB cannot fit in loopback buffers, so the transfer is still running when ABOR arrives.)
assert resp[:3] == "426", resp
assert f.voidresp()[:3] == "226"
conn.close()
assert f.voidcmd("NOOP").startswith("200")
f.quit()
`;
    const out = execFileSync("python3", ["-c", script, String(server.port), String(big.length)], { timeout: 60_000 });
    expect(out.equals(big.subarray(big.length - 1000))).toBe(true);
    expect(readFileSync(path.join(root.dir, "from-python.bin")).toString()).toBe("py".repeat(5000));
  });
});

describe.runIf(haveTool("netkit ftp", () => has("ftp")))("netkit ftp", () => {
  it("gets and puts from a script", () => {
    const local = path.join(work.dir, "netkit");
    mkdirSync(local);
    writeFileSync(path.join(local, "put.bin"), big.subarray(0, 50_000));
    const script = `open 127.0.0.1 ${server.port}\nuser alice s3cret\nbinary\npassive\nget big.bin got.bin\nput put.bin netkit.bin\nbye\n`;
    execFileSync("ftp", ["-n", "-v"], { input: script, cwd: local, timeout: 60_000 });
    expect(readFileSync(path.join(local, "got.bin")).equals(big)).toBe(true);
    expect(readFileSync(path.join(root.dir, "netkit.bin")).equals(big.subarray(0, 50_000))).toBe(true);
  });
});

describe.runIf(haveTool("ncftp", () => has("ncftpget")))("ncftp", () => {
  it("gets and puts", () => {
    const local = path.join(work.dir, "ncftp");
    mkdirSync(local);
    execFileSync("ncftpget", ["-P", String(server.port), "-u", "alice", "-p", "s3cret", "127.0.0.1", local, "/big.bin"], { timeout: 60_000 });
    expect(readFileSync(path.join(local, "big.bin")).equals(big)).toBe(true);
    writeFileSync(path.join(local, "nc-up.bin"), big.subarray(0, 70_000));
    execFileSync("ncftpput", ["-P", String(server.port), "-u", "alice", "-p", "s3cret", "127.0.0.1", "/", path.join(local, "nc-up.bin")], { timeout: 60_000 });
    expect(readFileSync(path.join(root.dir, "nc-up.bin")).equals(big.subarray(0, 70_000))).toBe(true);
  });
});

describe("basic-ftp", () => {
  it("lists, uploads, downloads, ensures dirs, renames and removes", async () => {
    const client = new Client(20_000);
    try {
      await client.access({ host: "127.0.0.1", port: server.port, user: "alice", password: "s3cret" });
      const list = await client.list("/pub");
      expect(list.map((e) => e.name).sort()).toEqual(["grüße.txt", "name with spaces.txt"]);
      const src = path.join(work.dir, "basic.bin");
      writeFileSync(src, big.subarray(0, 200_000));
      await client.ensureDir("/made/by/basic");
      await client.uploadFrom(src, "file.bin");
      expect(readFileSync(path.join(root.dir, "made/by/basic/file.bin")).equals(big.subarray(0, 200_000))).toBe(true);
      const dst = path.join(work.dir, "basic-down.bin");
      await client.downloadTo(dst, "/big.bin");
      expect(readFileSync(dst).equals(big)).toBe(true);
      await client.rename("file.bin", "renamed.bin");
      expect(readdirSync(path.join(root.dir, "made/by/basic"))).toEqual(["renamed.bin"]);
      await client.remove("renamed.bin");
      await client.removeDir("/made");
      expect(readdirSync(root.dir)).not.toContain("made");
    } finally {
      client.close();
    }
  });
});
