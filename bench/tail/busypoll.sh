#!/usr/bin/env bash
# bench/tail/busypoll.sh — does server.busy_poll_us cut featd's open-loop
# tail against Redis alone (issue 18)? One redis-server with 100,000
# entities x 10 doubles, two featd processes on it (1 worker each, busy
# polling off and at BUSY µs), and one featd-bench open-loop generator at
# RATE req/s, batch 1 x 10, driving in turn, REPS times, alternating order:
#   featd (busy_poll_us 0), featd (busy_poll_us BUSY), Redis alone (the same
#   generator sending featd's own commands: --redis featd)
# Prints p50/p99/p99.9 per side, the featd / Redis-alone p99 ratios, and
# the CPU each featd used per request (busy polling spends CPU).
#   bench/tail/busypoll.sh [BUILD_DIR]   (RATE=7000 BUSY=200 REPS=3 SECONDS_PER_RUN=5)
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
rate=${RATE:-7000}
busy=${BUSY:-200}
reps=${REPS:-3}
secs=${SECONDS_PER_RUN:-5}
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
config() {  # config PORT BUSY_US
  cat <<EOT
{ "server": { "listen": "127.0.0.1:$1", "admin_listen": "", "workers": 1, "busy_poll_us": $2,
              "data_dir": "$tmp/data", "log_level": "warn" },
  "redis": { "url": "redis://127.0.0.1:$rport/0", "key_prefix": "bench" },
  "entities": [ { "name": "customer", "join_keys": [ { "name": "customer_id", "type": "int64" } ] } ],
  "feature_views": [ { "name": "bench", "entities": ["customer"], "features": [ $feats ] } ] }
EOT
}
p0=$(free_port); p1=$(free_port)
config "$p0" 0 > "$tmp/off.json"
config "$p1" "$busy" > "$tmp/on.json"
awk 'BEGIN { srand(1); for (i = 1; i <= 100000; i++) {
  printf "{\"customer_id\":%d,\"event_timestamp\":1763719200000000", i;
  for (f = 0; f < 10; f++) printf ",\"f%d\":%.6f", f, rand() * 1000;
  print "}" } }' > "$tmp/rows.jsonl"
"$build/featd-cli" load --config "$tmp/off.json" --view bench --file "$tmp/rows.jsonl" --mode snapshot >/dev/null
"$build/featd" --config "$tmp/off.json" >"$tmp/off.log" 2>&1 &
off_pid=$!; pids+=($off_pid)
"$build/featd" --config "$tmp/on.json" >"$tmp/on.log" 2>&1 &
on_pid=$!; pids+=($on_pid)
for p in "$p0" "$p1"; do
  for _ in $(seq 50); do "$build/featd-cli" --port "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
done
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
run() {  # run SIDE -> "p50 p99 p999 errors cpu_us_per_req"
  local args=(--port "$p0") pid=$off_pid
  case "$1" in
    on) args=(--port "$p1"); pid=$on_pid ;;
    redis) args=(--redis featd --config "$tmp/off.json"); pid= ;;
  esac
  local t0=0; [ -n "$pid" ] && t0=$(ticks "$pid")
  "$build/featd-bench" "${args[@]}" -c 10 -t 1 -d "$secs" -w 1 -n 100000 -k customer_id \
    -b 1 -f "$f10" -r "$rate" --json > "$tmp/run.json"
  local t1=0; [ -n "$pid" ] && t1=$(ticks "$pid")
  python3 - "$tmp/run.json" "$((t1 - t0))" "$(getconf CLK_TCK)" <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); l = j["latency_us"]
n = max(1, j.get("requests", 1)); cpu = int(sys.argv[2]) * 1e6 / int(sys.argv[3]) / n
print(l["p50"], l["p99"], l.get("p99.9", l.get("p999", 0)), j["errors"], round(cpu, 1))
PY
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
echo "# busy polling vs Redis alone, open loop $rate req/s, 1 x 10, $(date -u '+%Y-%m-%d %H:%M UTC'), load: $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A p50 p99 p999 cpu
for side in off on redis; do p50[$side]=""; p99[$side]=""; p999[$side]=""; cpu[$side]=""; done
"$build/featd-bench" --port "$p0" -c 10 -t 1 -d 2 -w 0 -n 100000 -k customer_id -b 1 -f "$f10" -r "$rate" >/dev/null
for r in $(seq "$reps"); do
  order="off on redis"; [ $((r % 2)) = 0 ] && order="redis on off"
  for side in $order; do
    read -r a b c e u <<<"$(run "$side")"
    [ "$e" = 0 ] || echo "$side run $r: $e errors" >&2
    p50[$side]="${p50[$side]} $a"; p99[$side]="${p99[$side]} $b"; p999[$side]="${p999[$side]} $c"; cpu[$side]="${cpu[$side]} $u"
    echo "  rep $r $side: p50 $a us, p99 $b us, p99.9 $c us, featd CPU $u us/request"
  done
done
rp99=$(median ${p99[redis]})
echo "| side | p50 µs | p99 µs | p99.9 µs | p99 ÷ Redis alone | featd CPU µs/request |"
echo "|---|---:|---:|---:|---:|---:|"
for side in off on redis; do
  m99=$(median ${p99[$side]})
  printf '| %s | %s | %s | %s | %.2f | %s |\n' "$side" "$(median ${p50[$side]})" "$m99" \
    "$(median ${p999[$side]})" "$(echo "$m99 / $rp99" | bc -l)" "$(median ${cpu[$side]})"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
