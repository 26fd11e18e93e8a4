#!/usr/bin/env bash
# Why curl's protected uploads over TLS 1.3 may arrive cut (packages/deno/README.md), without pasv:
# N `curl --tlsv1.3 --ssl-reqd -T` uploads of 2 MiB to a minimal Python FTPS server that sends
# TICKETS TLS 1.3 session tickets per handshake and starts reading each upload READ_DELAY_MS late.
#   bash scripts/repro/ftps-tls13-tickets.sh TICKETS READ_DELAY_MS [N=30]
# Seen with curl 7.88.1 / OpenSSL 3.0, two runs each: tickets 2, delay 50 ms: 14 and 17 of 30
# answered 226 (16 and 13 cut short, no close_notify); tickets 0, delay 50 ms: 30 and 30 of 30.
set -u
here=$(cd "$(dirname "$0")" && pwd); F="$here/../../packages/node/test-fixtures"
tickets=$1; delay=$2; n=${3:-30}; port=$((20000 + RANDOM % 30000))
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
head -c 2097152 /dev/urandom > "$dir/up.bin"
python3 "$here/ftps-tls13-tickets.py" "$port" "$F/cert.pem" "$F/key.pem" "$tickets" "$delay" > "$dir/server.out" 2>&1 &
pid=$!; sleep 0.5
ok=0
for _ in $(seq "$n"); do curl -sS --max-time 30 --tlsv1.3 --ssl-reqd -k -T "$dir/up.bin" "ftp://u:p@127.0.0.1:$port/u.bin" 2>/dev/null && ok=$((ok + 1)); done
kill "$pid"
echo "tickets=$tickets delay=${delay}ms: $ok of $n uploads answered 226"
awk -F'bytes=' '/^tickets/ {split($2, a, " "); if (a[1] != 2097152) c++} END {print "uploads cut short: " c + 0}' "$dir/server.out"
