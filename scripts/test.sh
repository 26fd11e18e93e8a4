#!/usr/bin/env bash
# The quick start's second command, and what CI runs: install, build, lint, typecheck, every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-peers.sh
bash scripts/setup.sh
bash scripts/pnpm.sh run --silent lint
bash scripts/pnpm.sh run --silent typecheck
mkdir -p .cache
status=0
bash scripts/pnpm.sh exec vitest run --coverage --reporter=default --reporter=json --outputFile.json=.cache/vitest.json || status=$?
# One plain closing line that any CI reader understands.
node -e 'const r = require("./.cache/vitest.json"); console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`)' || true
exit "$status"
