// Explicit FTPS as users meet it: the `pasv` command with --tls-cert/--tls-key/--tls-required and
// real clients (curl, lftp, Python's ftplib) that protect control and data, byte for byte.
// Under PASV_E2E_SERVER=deno this runs the Deno adapter, whose TLS is Deno.listenTls behind a
// loopback relay (packages/deno/README.md); PASV_E2E_DENO_FTPS=node-cli runs the Node command on
// Deno instead (Deno's node:tls), the route documented before the adapter had TLS.
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FtpControl } from "./ftp-control.js";
import { haveTool, ROOT, startServer, tempDir, type RunningServer } from "./server.js";

const has = (cmd: string): boolean => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
const onDeno = process.env.PASV_E2E_SERVER === "deno";
const viaNodeTls = onDeno && process.env.PASV_E2E_DENO_FTPS === "node-cli";
/**
 * A runtime gap, not ours: Deno 2.9.6's node:tls sometimes never reports the client's close_notify
 * and FIN as the end of a protected upload (9-11 of 30 curl uploads of 2 MB waited for 226 until
 * curl gave up; 30 of 30 downloads passed). Upstream work on that path: denoland/deno#33524. On that
 * route protected uploads are checked only with PASV_TRY_DENO_TLS=1.
 */
const protectedUploads = !viaNodeTls || process.env.PASV_TRY_DENO_TLS === "1";
/** curl never reads the server's TLS 1.3 session tickets on an upload; on Deno that used to reset
 * the connection under the last bytes now and then (packages/deno/README.md), so TLS 1.3 uploads
 * are made several times. */
const TLS13_UPLOADS = 10;
const fixtures = path.join(ROOT, "packages/node/test-fixtures");

let server: RunningServer;
const root = tempDir();
const work = tempDir("pasv-ftps-client-");
const payload = randomBytes(2 * 1024 * 1024 + 5);

beforeAll(async () => {
  writeFileSync(path.join(root.dir, "payload.bin"), payload);
  writeFileSync(path.join(root.dir, "public.txt"), "for everyone\n");
  server = await startServer(
    root.dir,
    ["-u", "alice:s3cret", "-w", "--tls-cert", path.join(fixtures, "cert.pem"), "--tls-key", path.join(fixtures, "key.pem"), "--tls-required"],
    viaNodeTls || !onDeno ? { entry: "node-cli" } : {},
  );
});

afterAll(async () => {
  await server.stop();
  root.remove();
  work.remove();
});

const url = (p: string, user = "alice:s3cret@"): string => `ftp://${user}127.0.0.1:${server.port}/${p}`;

function curl(...args: string[]): { status: number | null; stdout: Buffer; stderr: string } {
  const r = spawnSync("curl", ["-sS", "--max-time", "30", ...args], { maxBuffer: 16 * 1024 * 1024 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

describe.runIf(haveTool("curl", () => has("curl")))("FTPS with curl", () => {
  it("downloads, uploads and lists over protected control and data connections", () => {
    const got = curl("--ssl-reqd", "-k", url("payload.bin"));
    expect(got.stderr).toBe("");
    expect(Buffer.compare(got.stdout, payload)).toBe(0);
    if (protectedUploads) {
      const up = path.join(work.dir, "up.bin");
      writeFileSync(up, payload.subarray(0, 100_000));
      // Over TLS 1.2 curl resumes the control session by session ID only (no tickets).
      expect(curl("--tls-max", "1.2", "--ssl-reqd", "-k", "-T", up, url("up.bin")).status).toBe(0);
      expect(Buffer.compare(readFileSync(path.join(root.dir, "up.bin")), payload.subarray(0, 100_000))).toBe(0);
      const down12 = curl("--tls-max", "1.2", "--ssl-reqd", "-k", url("payload.bin"));
      expect(down12.stderr).toBe("");
      expect(Buffer.compare(down12.stdout, payload)).toBe(0);
      const big = path.join(work.dir, "big.bin");
      writeFileSync(big, payload);
      for (let i = 0; i < TLS13_UPLOADS; i++) {
        const put = curl("--tlsv1.3", "--ssl-reqd", "-k", "-T", big, url(`big${i}.bin`));
        expect(put.stderr, `TLS 1.3 upload ${i}`).toBe("");
        expect(Buffer.compare(readFileSync(path.join(root.dir, `big${i}.bin`)), payload), `TLS 1.3 upload ${i}`).toBe(0);
      }
    }
    expect(curl("--ssl-reqd", "-k", url("")).stdout.toString()).toContain("payload.bin");
  });

  it("--ftp-ssl-control (AUTH SSL, then PROT C refused with 534) gets 522 before the mark, not a 150 and a wait", () => {
    // curl protects only the control connection and carries on after the 534: it would open a clear
    // data connection while the session expects a handshake (issue 14: no reply for 10 minutes).
    const since = Date.now();
    const r = spawnSync("curl", ["-v", "--max-time", "20", "--ftp-ssl-control", "-k", url("payload.bin")], { maxBuffer: 16 * 1024 * 1024 });
    const trace = r.stderr.toString();
    expect(trace).toContain("> PROT C");
    expect(trace).toContain("< 534 ");
    expect(trace).toContain("< 522 Data connections must be encrypted");
    expect(trace).not.toContain("< 150 ");
    expect(r.status).not.toBe(0);
    expect(r.status).not.toBe(28); // not curl's own timeout
    expect(Date.now() - since).toBeLessThan(10_000);
  });

  it("refuses a named user's plaintext login with 530, and still serves anonymous in plaintext", () => {
    const plain = curl(url("payload.bin"));
    expect(plain.status).not.toBe(0);
    expect(plain.stderr).toContain("530");
    expect(curl(url("public.txt", "")).stdout.toString()).toBe("for everyone\n");
  });
});

describe.runIf(haveTool("lftp", () => has("lftp")))("FTPS with lftp", () => {
  it("gets a file with ftp:ssl-force and protected data", () => {
    const out = path.join(work.dir, "lftp.bin");
    execFileSync("lftp", ["-c", `set ftp:ssl-force true; set ftp:ssl-protect-data true; set ssl:verify-certificate no; set net:max-retries 1; open -u alice,s3cret -p ${server.port} 127.0.0.1; get payload.bin -o ${out}`], { timeout: 60_000 });
    expect(Buffer.compare(readFileSync(out), payload)).toBe(0);
  });
});

describe("FTPS with Python's ftplib", () => {
  it("AUTH TLS, PBSZ 0, PROT P, then RETR and STOR with session reuse; a transfer before PROT P gets 522", () => {
    const script = `
import ftplib, ssl, io, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
class Reusing(ftplib.FTP_TLS):
    """ftplib does not resume the control connection's TLS session on data connections (CPython
    issue #63699); the server requires it by default, so this one does."""
    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=self.sock.session)
        return conn, size
f = Reusing(context=ctx, timeout=20)
f.connect("127.0.0.1", ${server.port})
f.auth()
f.login("alice", "s3cret")
try:
    f.retrbinary("RETR payload.bin", lambda b: None)
    sys.exit("a clear data connection was accepted")
except ftplib.error_perm as e:
    assert str(e).startswith("522"), e
f.prot_p()
buf = io.BytesIO()
f.retrbinary("RETR payload.bin", buf.write)
sys.stdout.buffer.write(buf.getvalue()[:16])
if ${protectedUploads ? "True" : "False"}:
    f.storbinary("STOR py.bin", io.BytesIO(b"stored over tls"))
f.quit()
`;
    const out = execFileSync("python3", ["-c", script], { timeout: 60_000 });
    expect(Buffer.compare(out, payload.subarray(0, 16))).toBe(0);
    if (protectedUploads) expect(readFileSync(path.join(root.dir, "py.bin"), "utf8")).toBe("stored over tls");
  });
});

describe("FTPS control-channel rules", () => {
  it("offers AUTH TLS in FEAT and refuses a named USER before AUTH with 530", async () => {
    const c = await FtpControl.connect(server.port);
    expect((await c.greeting()).code).toBe(220);
    expect((await c.cmd("FEAT")).lines).toContain(" AUTH TLS");
    expect((await c.cmd("USER alice")).code).toBe(530);
    expect((await c.cmd("USER anonymous")).code).toBe(331);
    c.socket.destroy();
  });
});

describe.runIf(haveTool("openssl", () => has("openssl")))("FTPS renegotiation", () => {
  it("refuses a client-initiated TLS 1.2 renegotiation on the control connection", () => {
    // s_client renegotiates on a line "R"; a NOOP after it would be answered only if the session survived one.
    const r = spawnSync("sh", ["-c", `(printf 'R\\n'; sleep 2; printf 'NOOP\\r\\n'; sleep 1) | timeout 10 openssl s_client -starttls ftp -connect 127.0.0.1:${server.port} -tls1_2 2>&1`], { maxBuffer: 1024 * 1024 });
    const out = r.stdout.toString();
    expect(out).toContain("220 ");
    expect(out).toContain("RENEGOTIATING");
    expect(out).toMatch(/no renegotiation/i);
    expect(out).not.toContain("200 NOOP");
  });
});
