#!/usr/bin/env bash
# Installs the workspace's dependencies and builds every package. Idempotent and quick when done.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules/.pnpm ] || [ pnpm-lock.yaml -nt node_modules/.modules.yaml ]; then
  bash scripts/pnpm.sh install --frozen-lockfile --reporter=append-only
fi
bash scripts/pnpm.sh run --silent build
# start.sh skips the build while nothing is newer than this.
mkdir -p .cache && touch .cache/built
