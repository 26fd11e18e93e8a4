#!/usr/bin/env bash
# Runs the pinned pnpm, whether or not it is installed (corepack is not usable on our machines).
set -euo pipefail
want=10.34.8
if command -v pnpm >/dev/null 2>&1 && [ "$(pnpm --version 2>/dev/null)" = "$want" ]; then
  exec pnpm "$@"
fi
exec npx -y "pnpm@$want" "$@"
