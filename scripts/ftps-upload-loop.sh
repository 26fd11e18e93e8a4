#!/usr/bin/env bash
# Protected uploads as curl makes them, counted: N `curl --ssl-reqd -T` uploads of SIZE bytes to a
# fresh pasv (the Node command or the Deno adapter) with TLS at most TLSMAX; prints how many were
# answered 226 and how many files are byte-exact, then curl's errors and the session-close reasons.
#   bash scripts/ftps-upload-loop.sh deno|node 1.2|1.3 [N=30] [SIZE=2097152]
set -u
cd "$(dirname "$0")/.."
runtime=$1; tlsmax=$2; n=${3:-30}; size=${4:-2097152}
dir=$(mktemp -d); mkdir "$dir/root"
trap 'rm -rf "$dir"' EXIT
head -c "$size" /dev/urandom > "$dir/up.bin"
F=packages/node/test-fixtures
port=$((20000 + RANDOM % 30000))
args=("$dir/root" -p "$port" -u alice:s3cret -w --tls-cert "$F/cert.pem" --tls-key "$F/key.pem")
if [ "$runtime" = deno ]; then bash scripts/deno.sh run -A --quiet packages/deno/src/main.ts "${args[@]}" > "$dir/server.log" 2>&1 &
else node packages/cli/dist/main.js "${args[@]}" > "$dir/server.log" 2>&1 & fi
pid=$!
for _ in $(seq 50); do curl -s --max-time 1 "ftp://127.0.0.1:$port/" -o /dev/null && break; sleep 0.2; done
ok=0; exact=0
for i in $(seq "$n"); do
  if curl -sS --max-time 30 --tls-max "$tlsmax" --ssl-reqd -k -T "$dir/up.bin" "ftp://alice:s3cret@127.0.0.1:$port/u$i.bin" 2>>"$dir/curl.err"; then ok=$((ok + 1)); fi
  cmp -s "$dir/up.bin" "$dir/root/u$i.bin" && exact=$((exact + 1))
done
kill "$pid"; wait "$pid" 2>/dev/null
echo "$runtime TLS<=$tlsmax: $ok of $n uploads answered 226 (curl exit 0), $exact of $n files byte-exact"
sort "$dir/curl.err" | uniq -c | head -5
grep -o '"reason":"[a-z-]*"' "$dir/server.log" | sort | uniq -c
