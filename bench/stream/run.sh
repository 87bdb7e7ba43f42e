#!/usr/bin/env bash
# bench/stream/run.sh — event->servable latency of a view's Redis Stream
# source (issue 14; results in BENCHMARKS.md, "Writes and streams (issue
# 14)"). One private redis-server, one featd (2 workers) whose view `bench`
# (10 doubles) reads the stream `ev:bench` (group featd); bench/stream/gen.py
# XADDs entries at a steady RATE (default 10,000/s), 1% of them probes whose
# value is their send time, and a forked prober looks the probes up on the
# serving port (HTTP JSON) until the value shows. The baseline, in the same
# run and alternating with it: a trickle of probes only (TRICKLE entries/s,
# every entry a probe), i.e. the same path without the load. REPS times
# each; medians; featd's featd_stream_lag_entries is sampled every 0.25 s.
# Prints a markdown report on stdout (progress on stderr).
#   bench/stream/run.sh               BENCH_QUICK=1 bench/stream/run.sh (< 1 min)
# Env: BUILD (build), REPS (3; quick 1), SECS (10; quick 3), RATE (10000),
# TRICKLE (100), ENTITIES (100000), KEEP=1 keeps the scratch dir.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
BUILD=${BUILD:-build}
QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then d_reps=1 d_secs=3; else d_reps=3 d_secs=10; fi
REPS=${REPS:-$d_reps}
SECS=${SECS:-$d_secs}
RATE=${RATE:-10000}
TRICKLE=${TRICKLE:-100}
ENTITIES=${ENTITIES:-100000}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/featd-streambench-XXXXXX")
RPID="" FPID=""
cleanup() {
    for p in $FPID $RPID; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT
say() { printf '[stream] %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }
for b in "$BUILD/featd" "$BUILD/featd-cli"; do [ -x "$b" ] || die "$b missing: run make"; done
for t in redis-server redis-cli python3 bc; do command -v "$t" >/dev/null || die "$t not found"; done
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

RPORT=$(free_port)
redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize no >"$WORK/redis.log" 2>&1 &
RPID=$!
for _ in $(seq 100); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
[ "$(redis-cli -p "$RPORT" info server | tr -d '\r' | sed -n 's/^process_id://p')" = "$RPID" ] ||
    die "port $RPORT is not our redis-server"
FPORT=$(free_port); APORT=$(free_port)
feats=""
for i in $(seq 0 9); do feats="$feats${feats:+,}{\"name\":\"f$i\",\"type\":\"double\"}"; done
cat >"$WORK/featd.json" <<EOT
{ "server": { "listen": "127.0.0.1:$FPORT", "admin_listen": "127.0.0.1:$APORT", "workers": 2,
              "data_dir": "$WORK/data", "log_level": "warn" },
  "redis": { "url": "redis://127.0.0.1:$RPORT/0", "key_prefix": "bench" },
  "entities": [ { "name": "customer", "join_keys": [ { "name": "customer_id", "type": "int64" } ] } ],
  "feature_views": [ { "name": "bench", "entities": ["customer"], "ttl_seconds": 0, "features": [ $feats ],
                       "source": { "stream": { "key": "ev:bench", "group": "featd" } } } ] }
EOT
"$BUILD/featd" --config "$WORK/featd.json" >"$WORK/featd.log" 2>&1 &
FPID=$!
for _ in $(seq 100); do "$BUILD/featd-cli" --port "$FPORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
kill -0 "$FPID" 2>/dev/null || die "featd exited: $(tail -3 "$WORK/featd.log")"

GEN=(python3 bench/stream/gen.py --redis-port "$RPORT" --key ev:bench --http-port "$FPORT"
     --admin-port "$APORT" --view bench --entities "$ENTITIES" --seconds "$SECS")
run() {  # run RATE PROBE_EVERY -> the JSON line
    local j
    j=$("${GEN[@]}" --rate "$1" --probe-every "$2")
    echo "$j" >>"$WORK/raw.jsonl"
    echo "$j"
}
field() { python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"; }
# a first trickle so that the group exists and the consumer is warm
run "$TRICKLE" 1 >/dev/null
declare -a LP50 LP99 TP50 TP99 RAW
for r in $(seq "$REPS"); do
    order="load trickle"; [ $((r % 2)) = 0 ] && order="trickle load"
    for side in $order; do
        if [ "$side" = load ]; then
            L=$(run "$RATE" 100)
            LP50+=("$(field "$L" 'j["latency_us"]["p50"]')"); LP99+=("$(field "$L" 'j["latency_us"]["p99"]')")
        else
            T=$(run "$TRICKLE" 1)
            TP50+=("$(field "$T" 'j["latency_us"]["p50"]')"); TP99+=("$(field "$T" 'j["latency_us"]["p99"]')")
        fi
    done
    for j in "$L" "$T"; do
        [ "$(field "$j" 'j["xadd_errors"]')" = 0 ] || die "XADD errors: $j"
    done
    RAW+=("| $r ($order first) | $(field "$L" '"%s / %s" % (j["rate_achieved"], j["written_per_s"])') | ${LP50[-1]} / ${LP99[-1]} | $(field "$L" '"%s / %s" % (j["probes_seen"], j["probes_lost"])') | $(field "$L" '"%s / %s" % (j["lag_entries"]["mean"], j["lag_entries"]["max"])') | $(field "$L" '"%s / %s" % (j["probe_rtt_us"]["p50"], j["probe_rtt_us"]["p99"])') | ${TP50[-1]} / ${TP99[-1]} | $(field "$T" '"%s / %s" % (j["probes_seen"], j["probes_lost"])') | $(cut -d' ' -f1 /proc/loadavg) |")
    say "rep $r: $RATE/s p50/p99 ${LP50[-1]}/${LP99[-1]} us; trickle ${TP50[-1]}/${TP99[-1]} us"
done
ms() { printf '%.2f' "$(echo "$1 / 1000" | bc -l)"; }
ratio() { printf '%.2f' "$(echo "$1 / $2" | bc -l)"; }
mLP50=$(median "${LP50[@]}"); mLP99=$(median "${LP99[@]}"); mTP50=$(median "${TP50[@]}"); mTP99=$(median "${TP99[@]}")
DEAD=$(redis-cli -p "$RPORT" xlen ev:bench:dead)
cat <<EOF
### Stream event → servable ($(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD), $(nproc) cores, load average before $LOAD0, after $(cut -d' ' -f1-3 /proc/loadavg))

View of 10 doubles read from a Redis Stream (featd 2 workers); entries XADDed by bench/stream/gen.py over one connection in 5 ms ticks, $ENTITIES bulk entities, 1% probes (the trickle: every entry a probe); latency = first lookup (HTTP JSON on the serving port) showing the probe's value − its XADD send time. $REPS repetitions of $SECS s, medians; the two sides alternate which runs first. Dead letters after the run: $DEAD.

| load | p50 ms | p99 ms |
|---|---:|---:|
| $RATE entries/s | $(ms "$mLP50") | $(ms "$mLP99") |
| trickle, $TRICKLE entries/s (baseline) | $(ms "$mTP50") | $(ms "$mTP99") |
| $RATE/s ÷ trickle | $(ratio "$mLP50" "$mTP50") | **$(ratio "$mLP99" "$mTP99")** |

| rep | sent/s / written/s | p50 / p99 µs | probes seen / lost | lag entries mean / max | probe lookup RTT p50 / p99 µs | trickle p50 / p99 µs | trickle seen / lost | load |
|---|---|---|---|---|---|---|---|---:|
$(printf '%s\n' "${RAW[@]}")

Command: \`${GEN[*]} --rate $RATE --probe-every 100\` (trickle: \`--rate $TRICKLE --probe-every 1\`).
EOF
