// createTestServer: a hostile FTP server for a Node test suite, on a free loopback port.
import { createServer, MemoryFs, nodePlatform, type ServerOptions } from "@pasv/node";
import { FaultInjector, type FaultRecord } from "./injector.js";
import { formatPlan, parsePlan, type FaultPlan } from "./plan.js";

export interface TestServerOptions extends ServerOptions {
  /** The fault plan: a short string (`data-reset=0.1,reply-split=1`) or a parsed plan. Without
   * one the server is the ordinary one, with nothing wrapped. */
  readonly faults?: string | FaultPlan;
  /** The seed every fault decision comes from (default: a random one, reported in `replay`). */
  readonly seed?: number;
}

export interface TestServer {
  /** `ftp://127.0.0.1:PORT/` */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly seed: number;
  /** The faults injected so far, in order. */
  readonly faults: readonly FaultRecord[];
  /** How to get the same faults again: the plan and the seed. */
  readonly replay: string;
  close(): Promise<void>;
}

/**
 * An FTP server on 127.0.0.1 and a free port that serves `vfs` (default: an empty MemoryFs) or
 * `root`, with anonymous logins, injecting `faults` as the seed decides. Anonymous sessions are
 * read-only unless `write` (with users) or an `auth` says otherwise; everything else is the
 * server's ServerOptions.
 */
function multiline(injector: FaultInjector): Pick<ServerOptions, "multilineStyle"> {
  const style = injector.multilineStyle;
  return style === null ? {} : { multilineStyle: style };
}

export async function createTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const { faults, seed: given, ...rest } = options;
  const seed = given ?? Math.floor(Math.random() * 2 ** 31);
  const plan = faults === undefined ? null : typeof faults === "string" ? parsePlan(faults) : faults;
  const vfs = rest.vfs ?? (rest.root === undefined ? new MemoryFs() : undefined);
  const withVfs: ServerOptions = vfs === undefined ? rest : { ...rest, vfs };
  const replay = plan === null ? "createTestServer({})" : `createTestServer({ faults: ${JSON.stringify(formatPlan(plan))}, seed: ${seed} })`;
  const injector = plan === null ? null : new FaultInjector({ plan, seed, clock: nodePlatform(null).clock, onFault: (record) => rest.log?.({ time: Date.now(), level: "warn", event: "fault", ...record, replay }) });
  const server =
    injector === null
      ? createServer(withVfs)
      : createServer({ ...(withVfs.vfs === undefined ? withVfs : { ...withVfs, vfs: injector.wrapVfs(withVfs.vfs) }), ...multiline(injector) }, { platform: (platform) => injector.wrapPlatform(platform), instrument: injector.instrumentation() });
  const { address, port } = await server.listen(0, "127.0.0.1");
  return {
    url: `ftp://${address}:${port}/`,
    host: address,
    port,
    seed,
    get faults() {
      return injector?.log ?? [];
    },
    replay,
    close: () => server.close(),
  };
}
