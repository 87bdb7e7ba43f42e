#!/usr/bin/env bash
# bench/materialize/quality_cost.sh — what the feature-quality work of issue 15
# costs (results in BENCHMARKS.md, "Serving metrics and the serving log (issue
# 15)"), each side measured in the same run as its baseline, alternating:
#   1. materializer: `featd materialize` (one pass, unpaced) of the
#      benchmark snapshot (bench/materialize/gen.mjs, N rows, cached as
#      /tmp/featd-matbench-N.parquet like run.sh) with the view's quality gate
#      on (a `quality` section with a baseline written by `featd-cli profile`
#      from the same file, so every row is profiled and binned for PSI, plus
#      `expect` rules on 4 features; on_violation warn, keep_generations 1)
#      and off (the same view without `quality`/`expect`); Redis flushed
#      before each pass; MAT_REPS pairs. Rows/s and featd CPU s per pass.
#   2. serving: 1 entity x 10 features, 50 connections, featd 2 workers,
#      featd-bench -t 2 closed loop, SECS s per run, on three featds serving
#      one Redis: "on" = this build with serving_log at sample_rate 0.01;
#      "metrics" = this build, no serving log; "off" = this tree with the one
#      call of the serving metrics and log (serve_stats_answered in
#      server/serve/lookup.c) removed, built in build/qcost/<sha> (a git
#      worktree at the last commit that changed server/, proto/,
#      Makefile or mk/; rebuilt when that moves). PAIRS rounds, the order rotating
#      each round. req/s, p99 and featd CPU µs per request (/proc, a figure
#      less sensitive to other work on the machine than req/s).
# Prints a markdown report on stdout (progress on stderr).
#   bench/materialize/quality_cost.sh       BENCH_QUICK=1 ... (smoke, < 1 min
#                                           once the off build exists)
# Env: BUILD (build), N (2000000; quick 100000), MAT_REPS (3; quick 1),
# PAIRS (6; quick 1), SECS (10; quick 2), SKIP_MAT=1 / SKIP_SERVE=1, KEEP=1,
# PERF=1 (perf record of one more "on" pass and "on" lookup run: the share
# of featd's CPU samples in the quality / serving-metrics code).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
BUILD=${BUILD:-build}
QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then d_n=100000 d_mr=1 d_pairs=1 d_secs=2; else d_n=2000000 d_mr=3 d_pairs=6 d_secs=10; fi
N=${N:-$d_n}
MAT_REPS=${MAT_REPS:-$d_mr}
PAIRS=${PAIRS:-$d_pairs}
SECS=${SECS:-$d_secs}
DATA=${DATA:-${TMPDIR:-/tmp}/featd-matbench-$N.parquet}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/featd-qcost-XXXXXX")
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT
say() { printf '[qcost] %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }
for b in "$BUILD/featd" "$BUILD/featd-cli" "$BUILD/featd-bench"; do [ -x "$b" ] || die "$b missing: run make"; done
for t in redis-server redis-cli python3 bc git make; do command -v "$t" >/dev/null || die "$t not found"; done
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { printf '%.3f' "$(echo "$1 / $2" | bc -l)"; }
cpu_of() { awk -v t="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / t }' "/proc/$1/stat"; }
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
# perf_share FILE REGEX: "P% (sym a%, sym b%, ...)" — the self-time share of
# featd's samples in the symbols matching REGEX (perf report --no-children)
perf_share() {
    perf report -i "$1" --no-children --sort symbol 2>/dev/null | grep -v '^#' | grep '%' |
        awk -v re="$2" '{ p = $1; sub("%", "", p); if ($3 ~ re) { t += p; l = l sprintf("%s%s %s%%", (l ? ", " : ""), $3, p) } }
            END { printf "%.2f%% (%s)", t, l }'
}
PERF=${PERF:-0}
[ "$PERF" = 1 ] && ! command -v perf >/dev/null && die "PERF=1 needs perf (linux-perf)"

RPORT=$(free_port)
redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize no >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
RPID=$!
for _ in $(seq 100); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
[ "$(redis-cli -p "$RPORT" info server | tr -d '\r' | sed -n 's/^process_id://p')" = "$RPID" ] ||
    die "port $RPORT is not our redis-server"

# ---- 1: materializer, quality gate on vs off ----
MAT_MD=""
if [ "${SKIP_MAT:-0}" != 1 ]; then
    if [ ! -s "$DATA" ]; then
        bash -c '. "$0/bench/lib.sh" && need_node_deps' "$ROOT" || die "node + DuckDB are needed for $DATA"
        (cd bench/materialize && node gen.mjs "$DATA.tmp" "$N" >&2)
        mv "$DATA.tmp" "$DATA"
    fi
    mkdir -p "$WORK/src"
    ln -s "$DATA" "$WORK/src/snap-1.parquet"
    matconf() {  # matconf EXPECT_ON QUALITY_JSON
        local e=""
        [ "$1" = 1 ] && e=', "expect": { "min": -1e300, "max": 1e300 }'
        cat <<EOF
{ "server": { "listen": "127.0.0.1:$(free_port)", "admin_listen": "127.0.0.1:$(free_port)", "workers": 1, "log_level": "warn" },
  "redis": { "url": "redis://127.0.0.1:$RPORT/0", "key_prefix": "mb", "timeout_ms": 2000 },
  "entities": [ { "name": "e", "join_keys": [ { "name": "entity_id", "type": "int64" } ] } ],
  "feature_views": [ { "name": "bench", "entities": ["e"], "features": [
      {"name":"d0","type":"double"$e},{"name":"d1","type":"double"$e},{"name":"d2","type":"double"$e},
      {"name":"d3","type":"double"},{"name":"i0","type":"int64"$e},{"name":"i1","type":"int64"},
      {"name":"f0","type":"float"},{"name":"b0","type":"bool"},{"name":"s0","type":"string"},
      {"name":"t0","type":"timestamp"},{"name":"emb","type":"float_list"} ],
    "source": { "path": "$WORK/src", "event_timestamp_column": "event_ts" },
    "materialization": { "mode": "snapshot", "interval_seconds": 1 }$2 } ] }
EOF
    }
    matconf 0 "" >"$WORK/mat-off.json"
    say "featd-cli profile of $DATA (the baseline)"
    "$BUILD/featd-cli" profile --config "$WORK/mat-off.json" --view bench "$DATA" >"$WORK/baseline.json"
    matconf 1 ", \"quality\": { \"min_rows\": 1, \"max_row_change\": 0.5, \"max_psi\": 0.2, \"baseline\": \"$WORK/baseline.json\", \"on_violation\": \"warn\", \"keep_generations\": 1 }" >"$WORK/mat-on.json"
    mat_pass() {  # mat_pass SIDE -> "rows/s featd_cpu_s"
        redis-cli -p "$RPORT" flushall >/dev/null
        local t0 t1
        t0=$(date +%s.%N)
        FEATD_MATERIALIZE_PACING=off /usr/bin/time -f '%U %S' -o "$WORK/time.txt" \
            "$BUILD/featd" materialize --config "$WORK/mat-$1.json" --log-level warn >"$WORK/mat-$1.out" 2>&1 ||
            die "featd materialize ($1) failed: $(tail -3 "$WORK/mat-$1.out")"
        t1=$(date +%s.%N)
        if [ "$1" = on ]; then    # the gate ran: a stored profile with histograms
            local pk
            pk=$(redis-cli -p "$RPORT" --scan --pattern 'mb:v2:m:*profiles' | head -1 || true)
            # shellcheck disable=SC2015  # die when either fails
            [ -n "$pk" ] && redis-cli -p "$RPORT" hgetall "$pk" | grep -q '"hist"' ||
                die "quality on: no profile with histograms stored (key '$pk')"
        fi
        printf '%.0f %.2f\n' "$(echo "$N / ($t1 - $t0)" | bc -l)" "$(awk '{ print $1 + $2 }' "$WORK/time.txt")"
    }
    [ -x /usr/bin/time ] || die "/usr/bin/time not found (apt-get install time)"
    declare -a MON MOFF MONC MOFFC MRAW
    for r in $(seq "$MAT_REPS"); do
        order="on off"; [ $((r % 2)) = 0 ] && order="off on"
        for side in $order; do
            read -r rps cpu <<<"$(mat_pass "$side")"
            [ -n "$rps" ] || die "the $side pass failed"
            if [ "$side" = on ]; then MON+=("$rps"); MONC+=("$cpu"); else MOFF+=("$rps"); MOFFC+=("$cpu"); fi
        done
        MRAW+=("| $r ($order first) | ${MON[-1]} / ${MONC[-1]} | ${MOFF[-1]} / ${MOFFC[-1]} | $(cut -d' ' -f1 /proc/loadavg) |")
        say "materialize rep $r: quality on ${MON[-1]} rows/s (${MONC[-1]} s CPU), off ${MOFF[-1]} rows/s (${MOFFC[-1]} s CPU)"
    done
    MAT_PERF=""
    if [ "$PERF" = 1 ]; then
        redis-cli -p "$RPORT" flushall >/dev/null
        FEATD_MATERIALIZE_PACING=off perf record -q -F 1999 -o "$WORK/mat.perf" -- \
            "$BUILD/featd" materialize --config "$WORK/mat-on.json" --log-level error >/dev/null 2>&1
        MAT_PERF="Profile of one more \"on\" pass (\`perf record -F 1999 -- featd materialize ...\`): the quality code's share of featd's CPU samples: $(perf_share "$WORK/mat.perf" '^(mat_profile|mat_quality|online_expect|mat_gate)')."
    fi
    mon=$(median "${MON[@]}"); moff=$(median "${MOFF[@]}")
    MAT_MD="#### Materializer: snapshot profiling on vs off

\`featd materialize\` (one pass, FEATD_MATERIALIZE_PACING=off) of $N rows x 11 features ($DATA), Redis flushed before each pass; on = \`quality\` (baseline from \`featd-cli profile\` of the same file: every row profiled and binned for PSI; min_rows, max_row_change, max_psi 0.2, warn, keep_generations 1) + \`expect\` min/max on 4 features; $MAT_REPS pairs, medians.

| | quality on | quality off | on ÷ off |
|---|---:|---:|---:|
| rows/s | $mon | $moff | **$(ratio "$mon" "$moff")** |
| featd CPU s per pass (user + sys) | $(median "${MONC[@]}") | $(median "${MOFFC[@]}") | $(ratio "$(median "${MONC[@]}")" "$(median "${MOFFC[@]}")") |

| pair | on rows/s / CPU s | off rows/s / CPU s | load |
|---|---|---|---:|
$(printf '%s\n' "${MRAW[@]}")

$MAT_PERF
"
fi

# ---- 2: serving metrics and the 1% serving log ----
SERVE_MD=""
if [ "${SKIP_SERVE:-0}" != 1 ]; then
    # the last commit that changed featd's sources: HEAD's featd, rebuilt only when they move
    sha=$(git rev-parse --short "$(git log -1 --format=%H -- server proto Makefile mk)")
    OFFTREE=$ROOT/build/qcost/$sha
    if [ ! -x "$OFFTREE/build/featd" ]; then
        say "building the off side ($sha without serve_stats_answered) in $OFFTREE"
        git worktree remove --force "$OFFTREE" 2>/dev/null || rm -rf "$OFFTREE"
        mkdir -p "$ROOT/build/qcost"
        git worktree add -f --detach "$OFFTREE" "$sha" >/dev/null 2>&1
        grep -q '^    serve_stats_answered(rq, &ga);' "$OFFTREE/server/serve/lookup.c" ||
            die "serve_stats_answered call not found in server/serve/lookup.c"
        sed -i 's|^    serve_stats_answered(rq, &ga);|    /* off: serving metrics and log removed (bench/materialize/quality_cost.sh) */|' \
            "$OFFTREE/server/serve/lookup.c"
        make -s -j2 -C "$OFFTREE" build/featd >&2 || die "build of the off side failed"
    fi
    ENT=100000
    feats="" flist=""
    for i in $(seq 0 9); do
        feats="$feats${feats:+,}{\"name\":\"f$i\",\"type\":\"double\"}"
        flist="$flist${flist:+,}bench:f$i"
    done
    srvconf() {  # srvconf PORT EXTRA
        cat <<EOT
{ "server": { "listen": "127.0.0.1:$1", "admin_listen": "127.0.0.1:$(free_port)", "workers": 2,
              "data_dir": "$WORK/data-$1", "log_level": "warn" }, $2
  "redis": { "url": "redis://127.0.0.1:$RPORT/1", "key_prefix": "bench" },
  "entities": [ { "name": "customer", "join_keys": [ { "name": "customer_id", "type": "int64" } ] } ],
  "feature_views": [ { "name": "bench", "entities": ["customer"], "features": [ $feats ] } ] }
EOT
    }
    declare -A PORT BIN FP
    for side in on metrics off; do PORT[$side]=$(free_port); done
    srvconf "${PORT[on]}" "\"serving_log\": { \"path\": \"$WORK/serving.log\", \"sample_rate\": 0.01 }," >"$WORK/on.json"
    srvconf "${PORT[metrics]}" "" >"$WORK/metrics.json"
    srvconf "${PORT[off]}" "" >"$WORK/off.json"
    BIN[on]=$BUILD/featd; BIN[metrics]=$BUILD/featd; BIN[off]=$OFFTREE/build/featd
    say "loading $ENT rows"
    awk -v n=$ENT 'BEGIN { srand(1); for (i = 1; i <= n; i++) {
      printf "{\"customer_id\":%d,\"event_timestamp\":1763719200000000", i;
      for (f = 0; f < 10; f++) printf ",\"f%d\":%.6f", f, rand() * 1000;
      print "}" } }' | "$BUILD/featd-cli" load --config "$WORK/off.json" --view bench --file - --mode snapshot >/dev/null
    for side in on metrics off; do
        "${BIN[$side]}" --config "$WORK/$side.json" >"$WORK/featd-$side.log" 2>&1 &
        FP[$side]=$!
        PIDS+=($!)
    done
    for side in on metrics off; do
        for _ in $(seq 100); do "$BUILD/featd-cli" --port "${PORT[$side]}" ping >/dev/null 2>&1 && break; sleep 0.1; done
        kill -0 "${FP[$side]}" 2>/dev/null || die "featd ($side) exited: $(tail -3 "$WORK/featd-$side.log")"
    done
    serve() {  # serve SIDE -> "req/s p99_us cpu_us_per_req errors"
        local c0 c1 j
        c0=$(cpu_of "${FP[$1]}")
        j=$("$BUILD/featd-bench" --port "${PORT[$1]}" -c 50 -t 2 -d "$SECS" -w 1 -n $ENT -k customer_id -f "$flist" --json)
        c1=$(cpu_of "${FP[$1]}")
        echo "$j" >>"$WORK/raw.jsonl"
        python3 -c 'import json,sys; j=json.loads(sys.argv[1]); n=j["requests"]*(1+1/float(sys.argv[4]))
print("%.0f %d %.2f %d" % (j["requests_per_s"], j["latency_us"]["p99"], (float(sys.argv[3])-float(sys.argv[2]))*1e6/n, j["errors"]+j["io_errors"]))' \
            "$j" "$c0" "$c1" "$SECS"
    }
    declare -A RPS P99 CPU
    declare -a SRAW
    orders=("on metrics off" "metrics off on" "off on metrics")
    for r in $(seq "$PAIRS"); do
        order=${orders[$(((r - 1) % 3))]}
        row="| $r ($order) |"
        for side in $order; do
            read -r rps p99 cpu e <<<"$(serve "$side")"
            [ "$e" = 0 ] || die "featd-bench ($side): $e errors"
            RPS[$side]="${RPS[$side]:-} $rps"; P99[$side]="${P99[$side]:-} $p99"; CPU[$side]="${CPU[$side]:-} $cpu"
        done
        for side in on metrics off; do
            row="$row $(echo "${RPS[$side]}" | awk '{print $NF}') / $(echo "${CPU[$side]}" | awk '{print $NF}') |"
        done
        SRAW+=("$row $(cut -d' ' -f1 /proc/loadavg) |")
        say "serving round $r: $row"
    done
    # shellcheck disable=SC2086  # the lists are space-separated numbers
    {
        mr_on=$(median ${RPS[on]}); mr_me=$(median ${RPS[metrics]}); mr_off=$(median ${RPS[off]})
        mp_on=$(median ${P99[on]}); mp_me=$(median ${P99[metrics]}); mp_off=$(median ${P99[off]})
        mc_on=$(median ${CPU[on]}); mc_me=$(median ${CPU[metrics]}); mc_off=$(median ${CPU[off]})
    }
    SERVE_PERF=""
    if [ "$PERF" = 1 ]; then
        "$BUILD/featd-bench" --port "${PORT[on]}" -c 50 -t 2 -d "$SECS" -w 1 -n $ENT -k customer_id -f "$flist" >/dev/null &
        BPID=$!
        sleep 2
        perf record -q -F 1999 -p "${FP[on]}" -o "$WORK/serve.perf" -- sleep $((SECS > 4 ? SECS - 3 : 1)) >/dev/null 2>&1
        wait "$BPID"
        SERVE_PERF="Profile of the \"on\" featd during one more run (\`perf record -F 1999 -p PID\`): the serving metrics' and log's share of featd's CPU samples: $(perf_share "$WORK/serve.perf" '^(serve_stats|servlog|metrics_age|jsonw)')."
    fi
    LINES=$(wc -l <"$WORK/serving.log" 2>/dev/null || echo 0)
    SERVE_MD="#### Lookups: serving metrics and the 1% serving log on vs off

1 entity x 10 features, featd-bench -c 50 -t 2, closed loop, ${SECS} s (+1 s warm-up) per run, featd 2 workers, three featds on one Redis (100,000 entities); $PAIRS rounds, order rotating; medians. CPU µs per request: featd's utime+stime over the run ÷ its requests (warm-up included).

| side | req/s | p99 µs | featd CPU µs / request | req/s ÷ off | CPU ÷ off |
|---|---:|---:|---:|---:|---:|
| on: serving metrics + serving log at 0.01 | $mr_on | $mp_on | $mc_on | **$(ratio "$mr_on" "$mr_off")** | **$(ratio "$mc_on" "$mc_off")** |
| metrics: serving metrics, no serving log | $mr_me | $mp_me | $mc_me | $(ratio "$mr_me" "$mr_off") | $(ratio "$mc_me" "$mc_off") |
| off: serve_stats_answered removed | $mr_off | $mp_off | $mc_off | 1 | 1 |

Serving log lines written by the \"on\" featd: $LINES. $SERVE_PERF

| round | on req/s / CPU µs | metrics req/s / CPU µs | off req/s / CPU µs | load |
|---|---|---|---|---:|
$(printf '%s\n' "${SRAW[@]}")

Command (each side): \`$BUILD/featd-bench --port PORT -c 50 -t 2 -d $SECS -w 1 -n $ENT -k customer_id -f bench:f0,...,bench:f9 --json\`
"
fi

cat <<EOF
### Issue 15 cost ($(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD), $(nproc) cores, load average before $LOAD0, after $(cut -d' ' -f1-3 /proc/loadavg))

$MAT_MD
$SERVE_MD
EOF
