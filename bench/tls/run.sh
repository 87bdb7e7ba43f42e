#!/usr/bin/env bash
# bench/tls/run.sh — the cost of TLS on the serving port (issue 17): one
# redis-server with 100,000 entities x 50 doubles (featd-cli load), one
# featd in plaintext and one with a "tls" section (a test CA and server
# certificate made here with the openssl CLI) in front of it, driven in
# turn by the same featd-bench (plaintext, then --tls-ca), REPS times:
#   1 entity x 10 features and a batch of 100 x 50, closed loop, 50
#   connections: req/s and p99; TLS / plaintext ratios of the medians.
#   bench/tls/run.sh [BUILD_DIR]        (REPS=3 SECONDS=5 by default)
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
reps=${REPS:-3}
secs=${SECONDS_PER_RUN:-5}
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$tmp/ca.key" \
  -out "$tmp/ca.crt" -days 2 -subj '/CN=featd bench CA' 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$tmp/server.key" \
  -out "$tmp/server.csr" -subj '/CN=localhost' 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > "$tmp/ext"
openssl x509 -req -in "$tmp/server.csr" -CA "$tmp/ca.crt" -CAkey "$tmp/ca.key" -CAcreateserial \
  -out "$tmp/server.crt" -days 2 -extfile "$tmp/ext" 2>/dev/null

rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no >"$tmp/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done

feats=""; f10=""; f50=""
for i in $(seq 0 49); do
  feats="$feats{\"name\":\"f$i\",\"type\":\"double\"}"; [ "$i" -lt 49 ] && feats="$feats,"
  f50="${f50}bench:f$i"; [ "$i" -lt 49 ] && f50="$f50,"
  if [ "$i" -lt 10 ]; then f10="${f10}bench:f$i"; [ "$i" -lt 9 ] && f10="$f10,"; fi
done
config() {  # config PORT ADMIN TLS_JSON
  cat <<EOT
{ "server": { "listen": "127.0.0.1:$1", "admin_listen": "127.0.0.1:$2", "workers": 2,
              "data_dir": "$tmp/data", "log_level": "warn" }, $3
  "redis": { "url": "redis://127.0.0.1:$rport/0", "key_prefix": "bench" },
  "entities": [ { "name": "customer", "join_keys": [ { "name": "customer_id", "type": "int64" } ] } ],
  "feature_views": [ { "name": "bench", "entities": ["customer"], "features": [ $feats ] } ] }
EOT
}
pport=$(free_port); tport=$(free_port)
config "$pport" "$(free_port)" "" > "$tmp/plain.json"
config "$tport" "$(free_port)" "\"tls\": { \"cert_file\": \"$tmp/server.crt\", \"key_file\": \"$tmp/server.key\" }," > "$tmp/tls.json"
awk 'BEGIN { srand(1); for (i = 1; i <= 100000; i++) {
  printf "{\"customer_id\":%d,\"event_timestamp\":1763719200000000", i;
  for (f = 0; f < 50; f++) printf ",\"f%d\":%.6f", f, rand() * 1000;
  print "}" } }' > "$tmp/rows.jsonl"
"$build/featd-cli" load --config "$tmp/plain.json" --view bench --file "$tmp/rows.jsonl" --mode snapshot >/dev/null
"$build/featd" --config "$tmp/plain.json" >"$tmp/plain.log" 2>&1 &
pids+=($!)
"$build/featd" --config "$tmp/tls.json" >"$tmp/tls.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do "$build/featd-cli" --port "$pport" ping >/dev/null 2>&1 && break; sleep 0.1; done
for _ in $(seq 50); do "$build/featd-cli" --port "$tport" --tls-ca "$tmp/ca.crt" ping >/dev/null 2>&1 && break; sleep 0.1; done

run() {  # run SIDE BATCH FEATURES -> "req/s p99_us"
  local args=(--port "$pport")
  [ "$1" = tls ] && args=(--port "$tport" --tls-ca "$tmp/ca.crt" --tls-server-name localhost)
  "$build/featd-bench" "${args[@]}" -c 50 -t 2 -d "$secs" -w 1 -n 100000 -k customer_id \
    -b "$2" -f "$3" --json |
    python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["requests_per_s"], j["latency_us"]["p99"], j["errors"])'
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
echo "# TLS vs plaintext, $(date -u '+%Y-%m-%d %H:%M UTC'), load: $(cut -d' ' -f1-3 /proc/loadavg)"
for shape in "1 $f10 1x10" "100 $f50 100x50"; do
  set -- $shape
  declare -a prps=() pp99=() trps=() tp99=()
  for r in $(seq "$reps"); do
    read -r a b e <<<"$(run plain "$1" "$2")"; prps+=("$a"); pp99+=("$b")
    [ "$e" = 0 ] || echo "plaintext run $r: $e errors" >&2
    read -r a b e <<<"$(run tls "$1" "$2")"; trps+=("$a"); tp99+=("$b")
    [ "$e" = 0 ] || echo "TLS run $r: $e errors" >&2
    echo "  $3 rep $r: plaintext ${prps[-1]} req/s p99 ${pp99[-1]} us; TLS ${trps[-1]} req/s p99 ${tp99[-1]} us"
  done
  mp=$(median "${prps[@]}"); mt=$(median "${trps[@]}"); pp=$(median "${pp99[@]}"); tp=$(median "${tp99[@]}")
  printf '| %s | %.0f | %.0f | %.2f | %s | %s | %.2f |\n' "$3" "$mp" "$mt" "$(echo "$mt / $mp" | bc -l)" \
    "$pp" "$tp" "$(echo "$tp / $pp" | bc -l)"
  unset prps pp99 trps tp99
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
