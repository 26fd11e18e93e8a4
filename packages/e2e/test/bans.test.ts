// Password guessing from outside (Node by default, Deno with PASV_E2E_SERVER=deno; the same
// expectations for both): each failed PASS is answered late, a session ends after its allowed
// failures, and an address that keeps guessing over new sessions is refused at the door for the
// ban's length, while another address logs in as usual.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FtpControl } from "./ftp-control.js";
import { startServer, tempDir, waitForRecord, type RunningServer } from "./server.js";

const root = tempDir("pasv-bans-");
let server: RunningServer;
const BAN_SECONDS = 3;

beforeAll(async () => {
  server = await startServer(root.dir, ["-u", "alice:pw", "--login-fail-delay", "0.2", "--max-login-failures", "2", "--ban-after", "3", "--ban-window", "60", "--ban-seconds", String(BAN_SECONDS)]);
});

afterAll(async () => {
  await server.stop();
  root.remove();
});

/** USER alice / PASS wrong: the reply to PASS and how long it took. */
async function guess(c: FtpControl): Promise<{ code: number; ms: number }> {
  expect((await c.cmd("USER alice")).code).toBe(331);
  const started = Date.now();
  const r = await c.cmd("PASS wrong");
  return { code: r.code, ms: Date.now() - started };
}

async function greeting(localAddress: string): Promise<{ c: FtpControl; code: number }> {
  const c = await FtpControl.connect(server.port, "127.0.0.1", localAddress);
  return { c, code: (await c.greeting()).code };
}

describe("failed logins", () => {
  it("are answered late, end the session at the limit, and ban the address (only it) for --ban-seconds", async () => {
    const first = await greeting("127.0.0.1");
    expect(first.code).toBe(220);
    const one = await guess(first.c);
    expect(one.code).toBe(530);
    expect(one.ms).toBeGreaterThanOrEqual(180);
    expect((await guess(first.c)).code).toBe(421);
    expect(await first.c.waitClosed(2_000)).toBe(true);
    // A new session from the same address: its failure is the address's third.
    const second = await greeting("127.0.0.1");
    expect(second.code).toBe(220);
    expect((await guess(second.c)).code).toBe(530);
    expect(await waitForRecord(server, { event: "ban", level: "warn", client: "127.0.0.1", seconds: 3, failures: 3 })).not.toBeNull();
    second.c.close();
    const refused = await greeting("127.0.0.1");
    expect(refused.code).toBe(421);
    expect(await refused.c.waitClosed(2_000)).toBe(true);
    // Someone else's guessing locks nobody else out.
    const other = await FtpControl.connect(server.port, "127.0.0.1", "127.0.0.2");
    await other.login("alice", "pw");
    other.close();
    await new Promise((r) => setTimeout(r, BAN_SECONDS * 1000 + 300));
    const after = await FtpControl.connect(server.port, "127.0.0.1", "127.0.0.1");
    await after.login("alice", "pw");
    after.close();
  }, 30_000);
});
