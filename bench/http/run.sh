#!/usr/bin/env bash
# bench/http/run.sh — HTTP JSON on the serving port against protobuf
# (issue 16): one redis-server with 100,000 entities x 10 doubles
# (featd-cli load), one featd (2 workers); in the same run, REPS times per
# shape (batch 1 and batch 100, all 10 features, 50 connections, 2 client
# threads, closed loop):
#   featd-bench (protobuf)             on the serving port
#   wrk + lookup.lua (HTTP JSON)       POST /get-online-features, same port
#   wrk against the FastAPI + redis-py HMGET peer (fastapi_peer.py, uvicorn
#     with 2 workers) when Debian's python3-fastapi, python3-uvicorn and
#     python3-redis are installed (PEER=0 skips it)
# Prints req/s per run and a table of medians with HTTP / protobuf ratios.
#   bench/http/run.sh [BUILD_DIR]      (REPS=3 SECONDS_PER_RUN=5 by default)
# Needs wrk (Debian package wrk).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
reps=${REPS:-3}
secs=${SECONDS_PER_RUN:-5}
peer=${PEER:-1}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
pyd=/usr/bin/python3
if [ "$peer" = 1 ] && ! "$pyd" -c 'import fastapi, uvicorn, redis' 2>/dev/null; then
  echo "no FastAPI peer: install python3-fastapi python3-uvicorn python3-redis" >&2; peer=0
fi
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no >"$tmp/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done

feats=""; f10=""
for i in $(seq 0 9); do
  feats="$feats{\"name\":\"f$i\",\"type\":\"double\"}"; [ "$i" -lt 9 ] && feats="$feats,"
  f10="${f10}bench:f$i"; [ "$i" -lt 9 ] && f10="$f10,"
done
port=$(free_port)
cat > "$tmp/featd.json" <<EOT
{ "server": { "listen": "127.0.0.1:$port", "admin_listen": "127.0.0.1:$(free_port)", "workers": 2,
              "data_dir": "$tmp/data", "log_level": "warn" },
  "redis": { "url": "redis://127.0.0.1:$rport/0", "key_prefix": "bench" },
  "entities": [ { "name": "customer", "join_keys": [ { "name": "customer_id", "type": "int64" } ] } ],
  "feature_views": [ { "name": "bench", "entities": ["customer"], "features": [ $feats ] } ] }
EOT
awk 'BEGIN { srand(1); for (i = 1; i <= 100000; i++) {
  printf "{\"customer_id\":%d,\"event_timestamp\":1763719200000000", i;
  for (f = 0; f < 10; f++) printf ",\"f%d\":%.6f", f, rand() * 1000;
  print "}" } }' > "$tmp/rows.jsonl"
"$build/featd-cli" load --config "$tmp/featd.json" --view bench --file "$tmp/rows.jsonl" --mode snapshot >/dev/null
"$build/featd" --config "$tmp/featd.json" >"$tmp/featd.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do "$build/featd-cli" --port "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done

if [ "$peer" = 1 ]; then
  # the peer's own layout: one hash per entity, the same values
  awk 'BEGIN { srand(1); for (i = 1; i <= 100000; i++) {
    printf "HSET peer:%d", i; for (f = 0; f < 10; f++) printf " f%d %.6f", f, rand() * 1000; print "" } }' |
    redis-cli -p "$rport" --pipe >/dev/null
  pport=$(free_port)
  PEER_REDIS_PORT=$rport "$pyd" -m uvicorn --app-dir bench/http fastapi_peer:app --host 127.0.0.1 \
    --port "$pport" --workers 2 --log-level warning >"$tmp/peer.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$pport/docs" && break; sleep 0.1; done
fi

pb() {  # pb BATCH -> "req/s errors"
  "$build/featd-bench" --port "$port" -c 50 -t 2 -d "$secs" -w 1 -n 100000 -k customer_id -b "$1" -f "$f10" \
    --json | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["requests_per_s"], j["errors"])'
}
http() {  # http PORT BATCH [SECONDS] -> "req/s non2xx"
  BATCH=$2 FEATURES=$f10 ENTITIES=100000 wrk -t 2 -c 50 -d "${3:-$secs}s" -s bench/http/lookup.lua \
    "http://127.0.0.1:$1" > "$tmp/wrk.out"
  awk '/Requests\/sec:/ { r = $2 } /Non-2xx/ { e = $NF } END { printf "%s %d\n", r, e }' "$tmp/wrk.out"
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
echo "# HTTP JSON vs protobuf, $(date -u '+%Y-%m-%d %H:%M UTC'), load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| batch | protobuf req/s | HTTP JSON req/s | HTTP / protobuf | FastAPI+redis-py req/s | featd HTTP / FastAPI |"
echo "|---:|---:|---:|---:|---:|---:|"
for batch in 1 100; do
  declare -a p=() h=() f=()
  http "$port" "$batch" 1 >/dev/null     # warm-up
  for r in $(seq "$reps"); do
    read -r a e <<<"$(pb "$batch")"; p+=("$a"); [ "$e" = 0 ] || echo "protobuf run $r: $e errors" >&2
    read -r a e <<<"$(http "$port" "$batch")"; h+=("$a"); [ "$e" = 0 ] || echo "HTTP run $r: $e non-2xx" >&2
    line="  batch $batch rep $r: protobuf ${p[-1]} req/s; HTTP ${h[-1]} req/s"
    if [ "$peer" = 1 ]; then
      read -r a e <<<"$(http "$pport" "$batch")"; f+=("$a"); [ "$e" = 0 ] || echo "peer run $r: $e non-2xx" >&2
      line="$line; FastAPI ${f[-1]} req/s"
    fi
    echo "$line" >&2
  done
  mp=$(median "${p[@]}"); mh=$(median "${h[@]}")
  if [ "$peer" = 1 ]; then
    mf=$(median "${f[@]}"); fcol=$(printf '%.0f | %.1f' "$mf" "$(echo "$mh / $mf" | bc -l)")
  else
    fcol="- | -"
  fi
  printf '| %s | %.0f | %.0f | %.2f | %s |\n' "$batch" "$mp" "$mh" "$(echo "$mh / $mp" | bc -l)" "$fcol"
  unset p h f
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
