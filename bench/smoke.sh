#!/usr/bin/env bash
# Smoke benchmark (issue 2): single-entity lookups of 10 features at 50
# connections against featd, next to redis-benchmark GET at 50 connections on
# the same Redis in the same run. Prints both and the ratio.
#   bench/smoke.sh [BUILD_DIR] [SECONDS]
# FEATD_BENCH_WORKERS (featd workers, 2) and FEATD_BENCH_THREADS (featd-bench
# threads, 2) pick the thread layout.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
secs=${2:-10}
entities=100000
tmp=$(mktemp -d)
trap 'kill $fpid $rpid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null \
  || shuf -i 20000-60000 -n 1; }
rport=$(free_port); fport=$(free_port); aport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --daemonize no >"$tmp/redis.log" 2>&1 &
rpid=$!
for _ in $(seq 50); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done

feats=""; flist=""
for i in $(seq 0 9); do
  feats="$feats{\"name\":\"f$i\",\"type\":\"double\"}"; [ "$i" -lt 9 ] && feats="$feats,"
  flist="${flist}bench:f$i"; [ "$i" -lt 9 ] && flist="$flist,"
done
cat >"$tmp/featd.json" <<EOT
{ "server": { "listen": "127.0.0.1:$fport", "admin_listen": "127.0.0.1:$aport", "workers": ${FEATD_BENCH_WORKERS:-2},
              "data_dir": "$tmp/data", "log_level": "warn" },
  "redis": { "url": "redis://127.0.0.1:$rport/0", "key_prefix": "bench" },
  "entities": [ { "name": "customer", "join_keys": [ { "name": "customer_id", "type": "int64" } ] } ],
  "feature_views": [ { "name": "bench", "entities": ["customer"], "features": [ $feats ] } ] }
EOT
awk -v n=$entities 'BEGIN { srand(1); for (i = 1; i <= n; i++) {
  printf "{\"customer_id\":%d,\"event_timestamp\":1763719200000000", i;
  for (f = 0; f < 10; f++) printf ",\"f%d\":%.6f", f, rand() * 1000;
  print "}" } }' >"$tmp/rows.jsonl"
"$build/featd-cli" load --config "$tmp/featd.json" --view bench --file "$tmp/rows.jsonl" --mode snapshot >/dev/null
redis-cli -p "$rport" set key:000000000042 "$(head -c 100 /dev/zero | tr '\0' x)" >/dev/null

"$build/featd" --config "$tmp/featd.json" >"$tmp/featd.log" 2>&1 &
fpid=$!
for _ in $(seq 50); do "$build/featd-cli" --port "$fport" ping >/dev/null 2>&1 && break; sleep 0.1; done

echo "== redis-benchmark -t get -c 50 (same Redis)"
rb=$(redis-benchmark -p "$rport" -t get -c 50 -n $((secs * 80000)) -r 100000 -d 100 --csv | tail -1)
echo "$rb"
rb_rps=$(echo "$rb" | awk -F'","' '{print $2}' | tr -d '"')
rb_p50=$(echo "$rb" | awk -F'","' '{print $5}' | tr -d '"')
rb_p99=$(echo "$rb" | awk -F'","' '{print $7}' | tr -d '"')

echo "== featd-bench: 1 entity x 10 features, 50 connections, closed loop, ${secs}s"
fb=$("$build/featd-bench" --port "$fport" -c 50 -t ${FEATD_BENCH_THREADS:-2} -d "$secs" -w 1 -n $entities -k customer_id -f "$flist" --json)
echo "$fb"
fb_rps=$(echo "$fb" | sed -n 's/.*"requests_per_s":\([0-9.]*\).*/\1/p')
fb_p50=$(echo "$fb" | sed -n 's/.*"p50":\([0-9]*\).*/\1/p')
fb_p99=$(echo "$fb" | sed -n 's/.*"p99":\([0-9]*\).*/\1/p')

echo
printf "%-34s %12s %10s %10s\n" "" "req/s" "p50 ms" "p99 ms"
printf "%-34s %12.0f %10s %10s\n" "redis-benchmark GET -c 50" "$rb_rps" "$rb_p50" "$rb_p99"
printf "%-34s %12.0f %10.3f %10.3f\n" "featd 1 entity x 10 features -c 50" "$fb_rps" \
  "$(echo "$fb_p50 / 1000" | bc -l)" "$(echo "$fb_p99 / 1000" | bc -l)"
printf "throughput ratio featd / redis GET = %.2f\n" "$(echo "$fb_rps / $rb_rps" | bc -l)"
