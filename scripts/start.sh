#!/usr/bin/env bash
# The quick start's first command: serve a directory (default: the current one) on 127.0.0.1:2121.
set -euo pipefail
here=$(pwd)
top=$(cd "$(dirname "$0")/.." && pwd)
bash "$top/scripts/setup.sh" >&2
cd "$here"
exec node "$top/packages/cli/dist/main.js" "$@"
