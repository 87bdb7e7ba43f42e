#!/usr/bin/env bash
# bench/limits/hog.sh — featd's memory and a well-behaved client's latency
# while 8 clients pipeline lookups and never read (issue 12), for the featd
# builds given (default: this tree's build/). Per build, against its own
# private redis-server with 100,000 entities x 10 doubles (loaded with that
# build's featd-cli), featd on default limits:
#   1. featd's RSS after a warm-up (featd-bench, 2 s)
#   2. 8 hog clients (bench/limits/hog.py: 300-entity lookups of every
#      feature, ~50 KB answers, written until featd stops reading them)
#   3. featd's RSS (VmRSS) and peak (VmHWM) with the hogs connected
#   4. featd-bench open loop, 1 entity x 10 features at 2000 req/s for 5 s
#      with the hogs still connected: p50 / p99 / max
#   bench/limits/hog.sh [BUILD_DIR...]     e.g. bench/limits/hog.sh build/ab/before build
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -gt 0 ] || set -- build
bench=build/featd-bench      # the same load generator for every build
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss() { awk -v k="$2:" '$1 == k { print int($2 / 1024) }' "/proc/$1/status"; }
printf '| build | RSS idle MiB | RSS with 8 hogs MiB | peak MiB | hogs closed | p50 us | p99 us | max us |\n|---|---|---|---|---|---|---|---|\n'
for build in "$@"; do
  tmp=$(mktemp -d)
  rport=$(free_port); fport=$(free_port); aport=$(free_port)
  redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no >"$tmp/redis.log" 2>&1 &
  rpid=$!
  for _ in $(seq 50); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done
  feats=""; flist=""
  for i in $(seq 0 9); do
    feats="$feats{\"name\":\"f$i\",\"type\":\"double\"}"; [ "$i" -lt 9 ] && feats="$feats,"
    flist="${flist}bench:f$i"; [ "$i" -lt 9 ] && flist="$flist,"
  done
  cat >"$tmp/featd.json" <<EOT
{ "server": { "listen": "127.0.0.1:$fport", "admin_listen": "127.0.0.1:$aport", "workers": 2,
              "max_entities_per_request": 1000, "data_dir": "$tmp/data", "log_level": "warn" },
  "redis": { "url": "redis://127.0.0.1:$rport/0", "key_prefix": "bench" },
  "entities": [ { "name": "customer", "join_keys": [ { "name": "customer_id", "type": "int64" } ] } ],
  "feature_views": [ { "name": "bench", "entities": ["customer"], "features": [ $feats ] } ] }
EOT
  awk 'BEGIN { srand(1); for (i = 1; i <= 100000; i++) {
    printf "{\"customer_id\":%d,\"event_timestamp\":1763719200000000", i;
    for (f = 0; f < 10; f++) printf ",\"f%d\":%.6f", f, rand() * 1000;
    print "}" } }' >"$tmp/rows.jsonl"
  "$build/featd-cli" load --config "$tmp/featd.json" --view bench --file "$tmp/rows.jsonl" --mode snapshot >/dev/null
  "$build/featd" --config "$tmp/featd.json" >"$tmp/featd.log" 2>&1 &
  fpid=$!
  for _ in $(seq 50); do "$build/featd-cli" --port "$fport" ping >/dev/null 2>&1 && break; sleep 0.1; done
  "$bench" --port "$fport" -c 4 -d 2 -n 100000 -k customer_id -f "$flist" --json >/dev/null
  idle=$(rss $fpid VmRSS)
  python3 bench/limits/hog.py "$fport" 8 bench 300 30 >"$tmp/hog.out" &
  hpid=$!
  for _ in $(seq 600); do [ -s "$tmp/hog.out" ] && break; sleep 0.1; done
  sleep 1
  hogged=$(rss $fpid VmRSS); peak=$(rss $fpid VmHWM)
  closed=$(sed -n 's/.*, \([0-9]*\) closed by featd/\1/p' "$tmp/hog.out")
  fb=$("$bench" --port "$fport" -c 4 -d 5 -r 2000 -n 100000 -k customer_id -f "$flist" --json)
  p50=$(echo "$fb" | sed -n 's/.*"p50":\([0-9]*\).*/\1/p'); p99=$(echo "$fb" | sed -n 's/.*"p99":\([0-9]*\).*/\1/p')
  mx=$(echo "$fb" | sed -n 's/.*"max":\([0-9]*\).*/\1/p')
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$build" "$idle" "$hogged" "$peak" "${closed:-?}" "$p50" "$p99" "$mx"
  kill $hpid $fpid 2>/dev/null || true; wait $fpid 2>/dev/null || true
  kill $rpid 2>/dev/null || true; wait $rpid 2>/dev/null || true
  rm -rf "$tmp"
done
