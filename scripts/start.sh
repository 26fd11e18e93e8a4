#!/usr/bin/env bash
# The quick start's first command: serve a directory (default: the current one) on 127.0.0.1:2121.
# `npm start` runs this from the checkout's root, so DIR (and every relative path in the flags)
# is taken from INIT_CWD, the directory npm was started in.
set -euo pipefail
here=${INIT_CWD:-$(pwd)}
top=$(cd "$(dirname "$0")/.." && pwd)
stamp="$top/.cache/built"
# Rebuild only when a source, manifest or lockfile is newer than the last good build (a find over
# the sources takes milliseconds; `tsc -b` on an up-to-date tree still takes seconds).
if [ ! -f "$stamp" ] || [ ! -f "$top/packages/cli/dist/main.js" ] ||
  [ -n "$(find "$top/packages" -path '*/node_modules' -prune -o -path '*/dist' -prune -o -newer "$stamp" -type f -print -quit)" ] ||
  [ -n "$(find "$top"/tsconfig*.json "$top/pnpm-lock.yaml" -newer "$stamp" -print -quit)" ]; then
  bash "$top/scripts/setup.sh" >&2
fi
cd "$here"
exec node "$top/packages/cli/dist/main.js" "$@"
