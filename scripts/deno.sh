#!/usr/bin/env bash
# Runs the workspace's Deno (the `deno` dev dependency) as this very process: `exec` of the real
# binary inside @deno/<platform>, not the npm launcher (a Node process that spawnSyncs Deno), so the
# PID is Deno's and SIGTERM/SIGINT reach it. Arguments and the working directory pass unchanged.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# The same lookup as denoBinary() in packages/e2e/test/server.ts.
bin="$(node -e '
const path = require("node:path");
const { createRequire } = require("node:module");
const root = process.argv[1];
const denoDir = path.dirname(createRequire(path.join(root, "package.json")).resolve("deno/package.json"));
const pkg = `@deno/${process.platform}-${process.arch}${process.platform === "linux" ? "-glibc" : ""}`;
try {
  console.log(path.join(path.dirname(createRequire(path.join(denoDir, "package.json")).resolve(`${pkg}/package.json`)), "deno"));
} catch {
  console.log("");
}' "$root")"
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
  echo "scripts/deno.sh: the Deno binary of the deno dev dependency is missing; run bash scripts/setup.sh" >&2
  exit 127
fi
exec "$bin" "$@"
