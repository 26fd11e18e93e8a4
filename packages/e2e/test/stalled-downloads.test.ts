// Memory a download pins while its client never reads the data connection: 50 such RETRs of a large
// file must not grow the server by megabytes each (they used to pin about 8 MiB each on Node, 6 MiB
// on Deno, until the stall timeout). The same bound holds for every runtime (PASV_E2E_SERVER).
import { writeFileSync } from "node:fs";
import type { Socket } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FtpControl, openData, readAll } from "./ftp-control.js";
import { settledValue, statusBytes } from "./proc-memory.js";
import { startServer, tempDir, type RunningServer } from "./server.js";

/** Stalled downloads at once: well under the default per-address session cap (64). */
const STALLED = 50;
/** Far more than the loopback socket buffers take, so every download stays running. */
const FILE_BYTES = 64 * 1024 * 1024;
/** Growth allowed for all of them together: a chunk (1 MiB) each, plus the runtime's own slack;
 * the old per-download pin (8 MiB) is about 400 MB here. */
const GROWTH_LIMIT_BYTES = 120 * 1024 * 1024;
const MiB = 1024 * 1024;

let server: RunningServer;
const root = tempDir("pasv-stall-");
const controls: FtpControl[] = [];
const sockets: Socket[] = [];

beforeAll(async () => {
  writeFileSync(path.join(root.dir, "big.bin"), Buffer.alloc(FILE_BYTES, 0x5a));
  writeFileSync(path.join(root.dir, "warm.bin"), Buffer.alloc(4 * MiB, 0x5a));
  server = await startServer(root.dir, ["-u", "alice:pw"]);
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  for (const c of controls) c.socket.destroy();
  await server.stop();
  root.remove();
});

async function session(): Promise<FtpControl> {
  const c = await FtpControl.connect(server.port);
  controls.push(c);
  await c.login("alice", "pw");
  expect((await c.cmd("TYPE I")).code).toBe(200);
  return c;
}

describe("downloads whose client never reads", () => {
  it(`${STALLED} stalled RETRs of a ${FILE_BYTES / MiB} MiB file grow the server by less than ${GROWTH_LIMIT_BYTES / MiB} MiB`, async () => {
    // One complete download first, so the baseline includes what any download warms up once.
    const warm = await session();
    const port = await warm.pasv();
    const got = readAll(port);
    expect((await warm.cmd("RETR warm.bin")).code).toBe(150);
    expect((await got).length).toBe(4 * MiB);
    expect((await warm.reply()).code).toBe(226);
    const before = await settledValue(() => statusBytes(server.pid, "VmRSS"), { quietMs: 500, slack: 1 * MiB, deadlineMs: 5_000 });

    for (let i = 0; i < STALLED; i++) {
      const c = await session();
      const data = await openData(await c.pasv());
      // Never read: the kernel's buffers fill, then the server's send side has to wait.
      data.pause();
      sockets.push(data);
      expect((await c.cmd("RETR big.bin")).code).toBe(150);
    }
    // The server has sent what the kernel takes once its memory stops moving.
    const stalled = await settledValue(() => statusBytes(server.pid, "VmRSS"), { quietMs: 1_500, slack: 2 * MiB, deadlineMs: 30_000 });
    const peak = statusBytes(server.pid, "VmHWM");
    const growth = stalled - before;
    console.log(`${process.env.PASV_E2E_SERVER ?? "node"}: RSS ${(before / MiB).toFixed(0)} MiB before, ${(stalled / MiB).toFixed(0)} MiB with ${STALLED} stalled downloads (+${(growth / MiB).toFixed(0)} MiB, peak ${(peak / MiB).toFixed(0)} MiB)`);
    // Still running: none of them was cut, so what they hold is what was measured.
    expect(controls.every((c) => !c.closed)).toBe(true);
    expect(growth).toBeLessThan(GROWTH_LIMIT_BYTES);

    for (const s of sockets.splice(0)) s.destroy();
    for (const c of controls.slice(1)) expect([426, 451]).toContain((await c.reply()).code);
  }, 90_000);
});
