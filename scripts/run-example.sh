#!/usr/bin/env bash
# The README's run command (`make run`): start featd on config/featd.json with
# its private (embedded) Redis; its materializer loads the example Parquet
# snapshots in examples/data (written by DuckDB: examples/generate.mjs) into
# the online tier. Waits until every view is served, prints a few commands to
# try, and keeps serving until Ctrl-C / SIGTERM.
set -euo pipefail
build=${1:-build}
cfg=${FEATD_CONFIG:-config/featd.json}
cd "$(dirname "$0")/.."

# own session: a terminal Ctrl-C reaches only this script, which forwards one
# SIGTERM (featd treats a second signal as "exit now")
setsid "$build/featd" --config "$cfg" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid' INT TERM
port=$(sed -n 's/.*"listen": *"[^"]*:\([0-9]*\)".*/\1/p' "$cfg" | head -1)
for _ in $(seq 1 100); do
  if "$build/featd-cli" --port "$port" ping >/dev/null 2>&1; then break; fi
  kill -0 $pid 2>/dev/null || { echo "featd exited; see the log above" >&2; exit 1; }
  sleep 0.1
done
# The materializer publishes each view's first generation within seconds.
for _ in $(seq 1 300); do
  if ! "$build/featd-cli" --port "$port" views 2>/dev/null | grep -q "generation:   0"; then break; fi
  sleep 0.1
done
"$build/featd-cli" --config "$cfg" materialize status || true

cat <<EOT

featd is serving on 127.0.0.1:$port (admin on the admin_listen port). Try:
  $build/featd-cli --port $port views
  $build/featd-cli --port $port get --features customer_stats:* --entity customer_id=1,2,13,999
  $build/featd-cli --port $port get --features merchant_profile:* --entity merchant_id=m001,m002 --entity country=FR,US --json
  curl -s localhost:6567/metrics | grep featd_materializer
Ctrl-C stops it.
EOT
wait $pid
