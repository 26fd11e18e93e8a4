import type { ByteSocket, TlsSocket } from "@pasv/driver";
import { describe, expect, it } from "vitest";
import { SimFs, CALM_FS } from "./memfs.js";
import { CALM_NET, Counters, Network, type Endpoint } from "./net.js";
import { simPlatform } from "./platform.js";
import { Prng } from "./prng.js";
import { BAD_CERT, clientHello, NO_TICKET, parseHandshake, SimTlsUpgrader, xorKey } from "./tls.js";
import { World } from "./world.js";

/** A server socket and its client endpoint on a calm simulated network. */
async function pair(): Promise<{ world: World; server: ByteSocket; client: Endpoint; got: Uint8Array[] }> {
  const world = new World();
  const counters = new Counters();
  const net = new Network(world, new Prng(1), CALM_NET, counters);
  const platform = simPlatform(net, "10.0.0.1", new SimFs(world, new Prng(2), CALM_FS, counters));
  const ends: { server: ByteSocket | null; client: Endpoint | null } = { server: null, client: null };
  await platform.listen({ host: "10.0.0.1", port: 990, family: 4, backlog: 8, urgentData: false }, (s) => (ends.server = s));
  const got: Uint8Array[] = [];
  net.connect("10.0.1.1", { address: "10.0.0.1", port: 990 }, (e) => {
    ends.client = e;
    if (e !== null) e.handlers = { data: (b) => got.push(b) };
  });
  await world.run(100);
  const { server, client } = ends;
  if (server === null || client === null) throw new Error("no connection");
  return { world, server, client, got };
}

const text = (parts: readonly Uint8Array[]): string => new TextDecoder().decode(Uint8Array.from(parts.flatMap((p) => [...p])));

describe("the simulated TLS", () => {
  it("resumes a session only within its scope, and protects every byte after the handshake", async () => {
    const upgrader = new SimTlsUpgrader(new Counters());
    const scope = upgrader.scope();
    const first = await pair();
    first.client.write(clientHello(NO_TICKET));
    const control = upgrader.upgrade(first.server, [], scope);
    await first.world.run(200);
    const secure: TlsSocket = await control;
    expect(secure.resumed).toBe(false);
    const done = text(first.got).split("\n")[0] ?? "";
    const session = parseHandshake(new TextEncoder().encode(done), "DONE")?.[0];
    expect(session).toMatch(/^s\d+$/);
    // Protected both ways: what the peer writes is XORed on the wire.
    const seen: Uint8Array[] = [];
    secure.attach({ data: (b) => seen.push(b), end: () => undefined, error: () => undefined, drain: () => undefined, finished: () => undefined, close: () => undefined });
    secure.resume();
    first.client.write(xorKey(new TextEncoder().encode("USER sim\r\n")));
    await first.world.run(300);
    expect(text(seen)).toBe("USER sim\r\n");

    const data = await pair();
    data.client.write(clientHello(session ?? "?"));
    const resumed = upgrader.upgrade(data.server, [], scope);
    await data.world.run(200);
    expect((await resumed).resumed).toBe(true);

    const other = await pair();
    other.client.write(clientHello(session ?? "?"));
    const elsewhere = upgrader.upgrade(other.server, [], upgrader.scope());
    await other.world.run(200);
    expect((await elsewhere).resumed).toBe(false);
  });

  it("fails a handshake that is not TLS, and one whose peer goes away half-way", async () => {
    const upgrader = new SimTlsUpgrader(new Counters());
    const garbage = await pair();
    garbage.client.write(new TextEncoder().encode("GET / HTTP/1.0\r\n"));
    const refused = upgrader.upgrade(garbage.server, [], upgrader.scope());
    refused.catch(() => undefined);
    await garbage.world.run(200);
    await expect(refused).rejects.toThrow(/not a TLS ClientHello/);

    const half = await pair();
    const hello = clientHello(NO_TICKET);
    half.client.write(hello.subarray(0, 4));
    const stalled = upgrader.upgrade(half.server, [], upgrader.scope());
    let settled = false;
    void stalled.then(
      () => (settled = true),
      () => (settled = true),
    );
    await half.world.run(10_000);
    expect(settled).toBe(false);
    half.client.reset();
    await half.world.run(20_000);
    await expect(stalled).rejects.toThrow();
  });

  it("takes a ClientHello that arrived before the upgrade (the prefix)", async () => {
    const upgrader = new SimTlsUpgrader(new Counters());
    const early = await pair();
    const secure = upgrader.upgrade(early.server, [clientHello(NO_TICKET)]);
    await early.world.run(200);
    expect((await secure).resumed).toBeUndefined();
  });

  it("refuses material a reload cannot use", () => {
    const upgrader = new SimTlsUpgrader(new Counters());
    expect(() => upgrader.withCredentials({ key: "k", cert: BAD_CERT })).toThrow(/bad certificate/);
    expect(upgrader.withCredentials({ key: "k", cert: "c" })).toBeInstanceOf(SimTlsUpgrader);
  });
});
