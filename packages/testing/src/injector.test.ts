import { describe, expect, it } from "vitest";
import { FtpServer, MemoryFs, type Vfs } from "@pasv/driver";
import { FakePlatform, settle, type FakeSocket } from "../../driver/src/fake-platform.test-helper.js";
import { FaultInjector, type FaultRecord } from "./injector.js";
import { parsePlan } from "./plan.js";

async function start(plan: string, seed = 1): Promise<{ platform: FakePlatform; injector: FaultInjector; connect: () => FakeSocket; server: FtpServer }> {
  const platform = new FakePlatform({ tree: { "a.txt": "hello world" } });
  const injector = new FaultInjector({ plan: parsePlan(plan), seed, clock: platform.clock });
  const server = new FtpServer(injector.wrapPlatform(platform), { anonymous: true }, injector.instrumentation());
  await server.listen(2121, "127.0.0.1");
  return { platform, injector, server, connect: () => platform.last.connect({ address: "127.0.0.1", port: 40000 }) };
}

async function send(socket: FakeSocket, line: string): Promise<void> {
  socket.data(`${line}\r\n`);
  await settle(40);
}

describe("FaultInjector on the driver's fake platform", () => {
  it("without file faults installs no file-system wrapper at all", () => {
    const platform = new FakePlatform();
    const injector = new FaultInjector({ plan: parsePlan("reply-split=1"), seed: 1, clock: platform.clock });
    const vfs: Vfs = new MemoryFs();
    expect(injector.wrapVfs(vfs)).toBe(vfs);
    expect(injector.wrapPlatform(platform).localFs("/x")).toBe(platform.fs);
  });

  it("reply-split writes each reply in pieces that add up to the reply, apart in time", async () => {
    const { platform, injector, connect } = await start("reply-split=1", 3);
    const c = connect();
    await settle();
    const pieces = c.writes.length;
    platform.clock.advance(1_000);
    expect(c.writes.length).toBeGreaterThan(pieces);
    expect(c.written()).toBe("220 pasv FTP server ready.\r\n");
    const record = injector.log[0];
    expect(record?.fault).toBe("reply-split");
    expect(record?.session).toBe(1);
    expect(c.writes.length).toBe(Number(/in (\d+) pieces/.exec(record?.detail ?? "")?.[1]));
  });

  it("reply-delay holds a reply back delay-ms", async () => {
    const { platform, connect } = await start("reply-delay=NOOP,delay-ms=500");
    const c = connect();
    await settle();
    await send(c, "NOOP");
    expect(c.written()).not.toContain("200");
    platform.clock.advance(499);
    expect(c.written()).not.toContain("200");
    platform.clock.advance(1);
    expect(c.written()).toMatch(/200 /);
  });

  it("close-421 on the nth command shuts the session down through the core (421 and a close)", async () => {
    const { injector, connect } = await start("close-421=#2");
    const c = connect();
    await settle();
    await send(c, "NOOP");
    expect(c.endCalls).toBe(0);
    await send(c, "NOOP");
    expect(c.written()).toMatch(/421 /);
    expect(c.endCalls).toBe(1);
    expect(injector.log.map((r) => [r.fault, r.detail])).toEqual([["close-421", "shut the session down at command #2 (NOOP)"]]);
  });

  it("the same seed and the same commands give the same faults; another seed others", async () => {
    const run = async (seed: number): Promise<FaultRecord[]> => {
      const { platform, injector, connect } = await start("reply-split=0.5,reply-delay=0.3,close-421=0.05", seed);
      const c = connect();
      await settle();
      for (let i = 0; i < 30; i++) {
        await send(c, "NOOP");
        platform.clock.advance(1_000);
      }
      return injector.log;
    };
    const a = await run(11);
    expect(a.length).toBeGreaterThan(5);
    expect(await run(11)).toEqual(a);
    expect(await run(12)).not.toEqual(a);
  });
});
