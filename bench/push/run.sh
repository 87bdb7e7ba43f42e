#!/usr/bin/env bash
# bench/push/run.sh — push writes (issue 14; results in BENCHMARKS.md, "Writes
# and streams (issue 14)"). One private redis-server, one featd (2 workers)
# with view `bench` (10 doubles, ttl 0) holding a snapshot of ENTITIES rows,
# then, REPS times with the side that runs first alternating:
#   1. push throughput over ONE connection: featd-bench --write with
#      1,000-row WriteFeatures requests, one request in flight (-P 1) and four
#      (-P 4), next to redis-benchmark -c 1 -P 64 sending the same write
#      command straight to Redis: EVALSHA of featd's own script
#      (online_upsert_lua, SHA computed from server/online/online_writer.c and
#      checked with SCRIPT EXISTS after featd's first push) on random entity
#      keys of featd's format, field p<fingerprint>, a row of the same size
#      whose header is a random number (so last-write-wins meets newer and
#      older rows as featd-bench's random event times do). Figures: rows/s,
#      featd ÷ Redis-alone, and Redis CPU µs per row of each (INFO used_cpu).
#   2. serving p99 during a push flood ÷ idle p99: featd-bench lookups (1
#      entity x 10 features, open loop at LOOKUP_RATE req/s, 8 connections)
#      once idle, once while featd-bench --write -c 1 -P 4 floods the same
#      view over the same entities (pushed rows then take part in the merge).
# Prints a markdown report on stdout (progress on stderr).
#   bench/push/run.sh                 BENCH_QUICK=1 bench/push/run.sh (< 1 min)
# Env: BUILD (build), REPS (3; quick 1), SECS (5; quick 1) measured seconds per
# run, ENTITIES (100000; quick 20000), LOOKUP_RATE (2000 req/s), KEEP=1 keeps
# the scratch dir. Needs redis-server, redis-benchmark, redis-cli, python3,
# bc; run `make` first.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
BUILD=${BUILD:-build}
QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then d_reps=1 d_secs=1 d_ent=20000; else d_reps=3 d_secs=5 d_ent=100000; fi
REPS=${REPS:-$d_reps}
SECS=${SECS:-$d_secs}
ENTITIES=${ENTITIES:-$d_ent}
LOOKUP_RATE=${LOOKUP_RATE:-2000}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/featd-pushbench-XXXXXX")
RPID="" FPID="" FLOODPID=""
cleanup() {
    for p in $FLOODPID $FPID $RPID; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT
say() { printf '[push] %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }
for b in "$BUILD/featd" "$BUILD/featd-cli" "$BUILD/featd-bench"; do [ -x "$b" ] || die "$b missing: run make"; done
for t in redis-server redis-benchmark redis-cli python3 bc; do command -v "$t" >/dev/null || die "$t not found"; done
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
jget() {  # jget JSON PYEXPR: a field of featd-bench's --json result
    python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"
}
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- servers and data ----
RPORT=$(free_port)
redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize no >"$WORK/redis.log" 2>&1 &
RPID=$!
for _ in $(seq 100); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
[ "$(redis-cli -p "$RPORT" info server | tr -d '\r' | sed -n 's/^process_id://p')" = "$RPID" ] ||
    die "port $RPORT is not our redis-server"
rcli() { redis-cli -p "$RPORT" "$@"; }
# evalsha_us: Redis's own µs per EVALSHA since the last CONFIG RESETSTAT
evalsha_us() { rcli info commandstats | tr -d '\r' | sed -n 's/^cmdstat_evalsha:.*usec_per_call=\([0-9.]*\).*/\1/p'; }
# featd_cpu: featd's CPU seconds (utime + stime) so far
featd_cpu() { awk -v t="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / t }' "/proc/$FPID/stat"; }

FPORT=$(free_port); APORT=$(free_port)
feats="" flist=""
for i in $(seq 0 9); do
    feats="$feats${feats:+,}{\"name\":\"f$i\",\"type\":\"double\"}"
    flist="$flist${flist:+,}bench:f$i"
done
cat >"$WORK/featd.json" <<EOT
{ "server": { "listen": "127.0.0.1:$FPORT", "admin_listen": "127.0.0.1:$APORT", "workers": 2,
              "data_dir": "$WORK/data", "log_level": "warn" },
  "redis": { "url": "redis://127.0.0.1:$RPORT/0", "key_prefix": "bench" },
  "entities": [ { "name": "customer", "join_keys": [ { "name": "customer_id", "type": "int64" } ] } ],
  "feature_views": [ { "name": "bench", "entities": ["customer"], "ttl_seconds": 0, "features": [ $feats ] } ] }
EOT
say "loading $ENTITIES snapshot rows"
awk -v n="$ENTITIES" 'BEGIN { srand(1); for (i = 1; i <= n; i++) {
  printf "{\"customer_id\":%d,\"event_timestamp\":1763719200000000", i;
  for (f = 0; f < 10; f++) printf ",\"f%d\":%.6f", f, rand() * 1000;
  print "}" } }' | "$BUILD/featd-cli" load --config "$WORK/featd.json" --view bench --file - --mode snapshot >/dev/null
"$BUILD/featd" --config "$WORK/featd.json" >"$WORK/featd.log" 2>&1 &
FPID=$!
for _ in $(seq 100); do "$BUILD/featd-cli" --port "$FPORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
kill -0 "$FPID" 2>/dev/null || die "featd exited: $(tail -3 "$WORK/featd.log")"

WRITE_ARGS=(--port "$FPORT" --write --view bench --rows-per-request 1000 -n "$ENTITIES" -c 1 -t 1)
# one push so that featd has loaded its script; then the Redis-alone command
"$BUILD/featd-bench" "${WRITE_ARGS[@]}" -P 1 -d 0.2 -w 0 --json >/dev/null
SHA=$(python3 - "$ROOT/server/online/online_writer.c" <<'EOF'
import ast, hashlib, re, sys
src = open(sys.argv[1]).read()
m = re.search(r'const char online_upsert_lua\[\] =(.*?);\n', src, re.S)
lua = "".join(ast.literal_eval(s) for s in re.findall(r'"(?:[^"\\]|\\.)*"', m.group(1)))
print(hashlib.sha1(lua.encode()).hexdigest())
EOF
)
[ "$(rcli script exists "$SHA")" = 1 ] || die "EVALSHA $SHA is not featd's script (SCRIPT EXISTS 0)"
FIELD=""
for KEY in $(rcli --scan --pattern 'bench:v2:{i*}' 2>/dev/null | head -50 || true); do
    FIELD=$(rcli hkeys "$KEY" | grep '^p' | head -1 || true)
    [ -n "$FIELD" ] && break
done
[ -n "$FIELD" ] || die "no pushed row found after the first push"
ROWLEN=$(rcli hstrlen "$KEY" "$FIELD")
PXAT=$(rcli pexpiretime "$KEY")
# the row: a random 12-digit header (event time stand-in), padded to ROWLEN
ROW="__rand_int__$(head -c $((ROWLEN - 12)) /dev/zero | tr '\0' x)"
RB_CMD=(EVALSHA "$SHA" 1 'bench:v2:{i__rand_int__}' "$FIELD" "$ROW" "$PXAT")
say "row $ROWLEN bytes, field $FIELD, script $SHA"

# ---- 1: push throughput ----
featd_push() {  # featd_push PIPELINE -> "rows/s stale_share redis_us_per_evalsha errors featd_us_per_row"
    local c0 c1 j
    rcli config resetstat >/dev/null
    c0=$(featd_cpu)
    j=$("$BUILD/featd-bench" "${WRITE_ARGS[@]}" -P "$1" -d "$SECS" -w 0 --json)
    c1=$(featd_cpu)
    echo "$j" >>"$WORK/raw.jsonl"
    python3 -c 'import json,sys; j=json.loads(sys.argv[1]); w=j["write"]; n=w["rows_written"]+w["rows_stale"]
print("%.0f %.3f %s %d %.2f" % (w["rows_per_s"], w["rows_stale"]/max(n,1), sys.argv[2], j["errors"]+j["io_errors"], (float(sys.argv[4])-float(sys.argv[3]))*1e6/max(n,1)))' \
        "$j" "$(evalsha_us)" "$c0" "$c1"
}
redis_push() {  # -> "rows/s redis_us_per_evalsha"
    local n out rps
    n=$(( SECS * 150000 ))
    rcli config resetstat >/dev/null
    out=$(redis-benchmark -p "$RPORT" -c 1 -P 64 -r "$ENTITIES" -n "$n" --csv "${RB_CMD[@]}" 2>/dev/null | tail -1)
    echo "redis-benchmark: $out" >>"$WORK/raw.jsonl"
    rps=$(echo "$out" | awk -F'","' '{print $2}' | tr -d '"')
    printf '%.0f %s\n' "$rps" "$(evalsha_us)"
}
declare -a F1 F4 RB F1C F4C RBC F1S F1U F4U LOADS RAW1
for r in $(seq "$REPS"); do
    order="featd redis"; [ $((r % 2)) = 0 ] && order="redis featd"
    for side in $order; do
        if [ "$side" = featd ]; then
            read -r a s c e u <<<"$(featd_push 1)"; F1+=("$a"); F1C+=("$c"); F1S+=("$s"); F1U+=("$u")
            [ "$e" = 0 ] || die "featd-bench --write -P 1: $e errors"
            read -r b _ c4 e u4 <<<"$(featd_push 4)"; F4+=("$b"); F4C+=("$c4"); F4U+=("$u4")
            [ "$e" = 0 ] || die "featd-bench --write -P 4: $e errors"
        else
            read -r a c <<<"$(redis_push)"; RB+=("$a"); RBC+=("$c")
        fi
    done
    LOADS+=("$(cut -d' ' -f1 /proc/loadavg)")
    RAW1+=("| $r ($order first) | ${F1[-1]} | ${F4[-1]} | ${RB[-1]} | ${F1C[-1]} / ${F4C[-1]} / ${RBC[-1]} | ${F1U[-1]} / ${F4U[-1]} | ${LOADS[-1]} |")
    say "rep $r: featd -P1 ${F1[-1]} rows/s, -P4 ${F4[-1]} rows/s, redis-benchmark ${RB[-1]} rows/s"
done
mF1=$(median "${F1[@]}"); mF4=$(median "${F4[@]}"); mRB=$(median "${RB[@]}")
mF1C=$(median "${F1C[@]}"); mF4C=$(median "${F4C[@]}"); mRBC=$(median "${RBC[@]}")

# ---- 2: serving p99 idle vs during a push flood ----
LOOKUP_ARGS=(--port "$FPORT" -c 8 -t 1 --rate "$LOOKUP_RATE" -b 1 -n "$ENTITIES" -k customer_id -f "$flist" -d "$SECS" -w 1 --json)
lookup() {  # -> "p50 p99 errors"
    local j
    j=$("$BUILD/featd-bench" "${LOOKUP_ARGS[@]}")
    echo "$j" >>"$WORK/raw.jsonl"
    jget "$j" '"%d %d %d %d" % (j["latency_us"]["p50"], j["latency_us"]["p99"], j["errors"] + j["io_errors"], j["send_lag_us"]["p99"])'
}
declare -a IP99 DP99 IP50 DP50 FLOODR RAW3
for r in $(seq "$REPS"); do
    order="idle flood"; [ $((r % 2)) = 0 ] && order="flood idle"
    for side in $order; do
        if [ "$side" = idle ]; then
            read -r p50 p99 e _ <<<"$(lookup)"; IP50+=("$p50"); IP99+=("$p99")
            [ "$e" = 0 ] || die "idle lookups: $e errors"
        else
            "$BUILD/featd-bench" "${WRITE_ARGS[@]}" -P 4 -d $((SECS + 2)) -w 0 --json >"$WORK/flood.json" &
            FLOODPID=$!
            sleep 0.5
            read -r p50 p99 e _ <<<"$(lookup)"; DP50+=("$p50"); DP99+=("$p99")
            [ "$e" = 0 ] || die "lookups during the flood: $e errors"
            wait "$FLOODPID"; FLOODPID=""
            FLOODR+=("$(jget "$(cat "$WORK/flood.json")" '"%.0f" % j["write"]["rows_per_s"]')")
        fi
    done
    RAW3+=("| $r ($order first) | ${IP50[-1]} / ${IP99[-1]} | ${DP50[-1]} / ${DP99[-1]} | ${FLOODR[-1]} | $(cut -d' ' -f1 /proc/loadavg) |")
    say "rep $r: lookup p99 idle ${IP99[-1]} us, during flood ${DP99[-1]} us (flood ${FLOODR[-1]} rows/s)"
done
mIP99=$(median "${IP99[@]}"); mDP99=$(median "${DP99[@]}")
mIP50=$(median "${IP50[@]}"); mDP50=$(median "${DP50[@]}")

ratio() { printf '%.2f' "$(echo "$1 / $2" | bc -l)"; }
cat <<EOF
### Push writes ($(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD), $(nproc) cores, load average before $LOAD0, after $(cut -d' ' -f1-3 /proc/loadavg))

$ENTITIES entities, view of 10 doubles (pushed row $ROWLEN bytes), featd 2 workers, $REPS repetitions of ${SECS} s, medians; sides alternate which runs first.

| measurement | featd -P 1 | featd -P 4 | Redis alone (redis-benchmark -c 1 -P 64) |
|---|---:|---:|---:|
| push rows/s, one connection, 1,000-row requests | $mF1 | $mF4 | $mRB |
| featd ÷ Redis alone | **$(ratio "$mF1" "$mRB")** | **$(ratio "$mF4" "$mRB")** | 1 |
| Redis µs per EVALSHA (INFO commandstats) | $mF1C | $mF4C | $mRBC |
| featd CPU µs per row (/proc utime+stime) | $(median "${F1U[@]}") | $(median "${F4U[@]}") | |

Stale share of featd's rows (rows whose stored row was newer; random event times within the last hour): $(median "${F1S[@]}").

| rep | featd -P 1 rows/s | featd -P 4 rows/s | Redis alone rows/s | Redis µs/EVALSHA (P1 / P4 / alone) | featd µs/row (P1 / P4) | load |
|---|---:|---:|---:|---|---|---:|
$(printf '%s\n' "${RAW1[@]}")

| serving 1 entity x 10 features at $LOOKUP_RATE req/s (open loop, 8 connections) | p50 µs | p99 µs |
|---|---:|---:|
| idle | $mIP50 | $mIP99 |
| during a push flood (featd-bench --write -c 1 -P 4) | $mDP50 | $mDP99 |
| during ÷ idle | $(ratio "$mDP50" "$mIP50") | **$(ratio "$mDP99" "$mIP99")** |

| rep | idle p50 / p99 µs | flood p50 / p99 µs | flood rows/s | load |
|---|---|---|---:|---:|
$(printf '%s\n' "${RAW3[@]}")

Commands:
\`\`\`sh
$BUILD/featd-bench ${WRITE_ARGS[*]} -P 1|4 -d $SECS -w 0 --json
redis-benchmark -p \$RPORT -c 1 -P 64 -r $ENTITIES -n $((SECS * 150000)) --csv EVALSHA $SHA 1 'bench:v2:{i__rand_int__}' $FIELD '__rand_int__x...x ($ROWLEN bytes)' $PXAT
$BUILD/featd-bench ${LOOKUP_ARGS[*]}
\`\`\`
EOF
