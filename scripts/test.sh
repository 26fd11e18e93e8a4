#!/usr/bin/env bash
# The quick start's second command, and what CI runs: install, build, lint, typecheck, every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-peers.sh
bash scripts/setup.sh
bash scripts/pnpm.sh run --silent lint
bash scripts/pnpm.sh run --silent typecheck
# The Deno package is outside tsc and ESLint (Node's types): Deno type-checks and lints it. The
# workspace packages resolve to their built dist through node_modules; --sloppy-imports lets their
# declaration files' "./x.js" specifiers find "./x.d.ts" (the member deno.json cannot set "unstable").
bash scripts/deno.sh check --sloppy-imports packages/deno/src/mod.ts packages/deno/src/main.ts
bash scripts/deno.sh lint packages/deno
# Its few pure parts have Deno unit tests beside them (the rest is judged by the e2e suite).
bash scripts/deno.sh test packages/deno/src/
mkdir -p .cache
status=0
bash scripts/pnpm.sh exec vitest run --coverage --reporter=default --reporter=json --outputFile.json=.cache/vitest.json || status=$?
# The same end-to-end suite against the Deno adapter (Deno comes from npm with the dev dependencies).
PASV_E2E_SERVER=deno bash scripts/pnpm.sh exec vitest run packages/e2e --reporter=default --reporter=json --outputFile.json=.cache/vitest-deno.json || status=$?
# One plain closing line that any CI reader understands.
node -e '
const runs = ["./.cache/vitest.json", "./.cache/vitest-deno.json"].map((f) => { try { return require(f); } catch { return { numPassedTests: 0, numFailedTests: 1, numPendingTests: 0, numTodoTests: 0 }; } });
const sum = (k) => runs.reduce((n, r) => n + r[k], 0);
console.log(`tests: ${sum("numPassedTests")} passed, ${sum("numFailedTests")} failed, ${sum("numPendingTests") + sum("numTodoTests")} skipped`);' || true
exit "$status"
