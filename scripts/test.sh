#!/usr/bin/env bash
# The quick start's second command, and what CI runs: install, build, lint, typecheck, every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-peers.sh
bash scripts/setup.sh
bash scripts/pnpm.sh run --silent lint
bash scripts/pnpm.sh run --silent typecheck
bash scripts/pnpm.sh exec vitest run --coverage
