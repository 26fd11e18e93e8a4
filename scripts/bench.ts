// pnpm bench [core|server|small|memory|login|ftps|s3] — benchmarks; figures are printed, never asserted.
import { spawnSync } from "node:child_process";

const which = process.argv[2] ?? "core";
const targets: Record<string, string> = {
  core: "packages/core/bench/core-bench.ts",
  server: "packages/e2e/bench/server-bench.ts",
  small: "packages/e2e/bench/small-retr-bench.ts",
  memory: "packages/e2e/bench/memory-bench.ts",
  login: "packages/e2e/bench/login-bench.ts",
  ftps: "packages/e2e/bench/ftps-bench.ts",
  s3: "packages/e2e/bench/s3-bench.ts",
};
const file = targets[which];
if (file === undefined) {
  console.error(`usage: pnpm bench [${Object.keys(targets).join("|")}]`);
  process.exit(2);
}
const run = spawnSync(process.execPath, ["--import", "tsx", file, ...process.argv.slice(3)], { stdio: "inherit" });
process.exit(run.status ?? 1);
