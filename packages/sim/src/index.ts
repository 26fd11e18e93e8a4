export { Prng, fnv1a } from "./prng.js";
export { World, MAX_EVENTS_PER_RUN } from "./world.js";
export { Network, Endpoint, Counters, CALM_NET, SOCKET_BUFFER_BYTES, type NetFaults, type Address } from "./net.js";
export { SimFs, CALM_FS, type FsFaults } from "./memfs.js";
export { SimServer, simPlatform, type SimServerConfig, type SimServerOptions, type SimSession } from "./platform.js";
export { Control, goodClient, hostileClient, type ClientContext } from "./clients.js";
export { runSeed, drawScenario, replayLine, formatFailures, type RunOptions, type RunResult, type Scenario, type Failure } from "./run.js";
export { scenarioArbitrary } from "./arbitraries.js";
