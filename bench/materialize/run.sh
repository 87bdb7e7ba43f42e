#!/bin/sh
# bench/materialize/run.sh — the materializer benchmark (issue 4; results go
# to BENCHMARKS.md, see bench/materialize/RESULTS.md).
#
#   1. writes N rows (default 2,000,000; one row per entity) x 10 features +
#      a 16-float embedding to Parquet with DuckDB (bench/materialize/gen.mjs;
#      needs node + npm the first time, the file is cached)
#   2. starts a private redis-server and runs, in the same run, the
#      references: redis-benchmark -P 64 -t set -d 100 (as the issue asks:
#      one key overwritten) and the same with -r (random keys, i.e. new
#      keys like a materialization writes)
#   3. `featd materialize` (one pass, foreground) under /usr/bin/time -v:
#      rows/s, peak RSS, featd and Redis CPU
#   4. for each materialize.pacing mode in PACINGS: starts the featd daemon
#      on that data and measures the serving latency (one connection, 1
#      entity x all 11 features per request) idle, then while the daemon
#      materializes a new snapshot of the same size; the rate limit and
#      back-offs come from its /metrics
#   5. prints a markdown summary (also saved as $WORK/results.md) and writes
#      the figures as tab-separated lines to $WORK/figures.tsv (for
#      bench/layout/ab.sh): "oneshot ROWS_PER_S", and per PACINGS entry
#      "daemon ENTRY ROWS_PER_S DURATION_MS P50_IDLE P99_IDLE P50_DURING
#      P99_DURING BACKOFFS" (µs)
#
# Usage: bench/materialize/run.sh          (from anywhere; after `make`)
# Env:   N (rows), BUILD (build dir), WORK (scratch dir), IDLE_SECONDS,
#        PACINGS (materialize.pacing modes to run the daemon with, in order,
#        each optionally with its cap as MODE:ROWS_PER_SEC, e.g. "fixed:30000";
#        default "adaptive off"), DAEMON_RATE (the daemon's
#        materialize.max_rows_per_sec where PACINGS gives none, 0 = no cap),
#        REDIS_PORT / FEATD_PORT / ADMIN_PORT (defaults 16480..16482),
#        REDIS_ARGS (extra redis-server options, e.g.
#        "--hash-max-listpack-value 1024"), KEEP=1 keeps the scratch dir.
#        BUILD may be a build of an older commit (layout v1, no pacing: it
#        ignores FEATD_MATERIALIZE_PACING; run it with PACINGS=off); the
#        progress hash is found in either online layout.
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/bench/materialize
BUILD=${BUILD:-$ROOT/build}
N=${N:-2000000}
IDLE_SECONDS=${IDLE_SECONDS:-10}
PACINGS=${PACINGS:-adaptive off}
REDIS_PORT=${REDIS_PORT:-16480}
FEATD_PORT=${FEATD_PORT:-16481}
ADMIN_PORT=${ADMIN_PORT:-16482}
WORK=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/featd-matbench-XXXXXX")}
DATA=${DATA:-${TMPDIR:-/tmp}/featd-matbench-$N.parquet}
RCLI="redis-cli -p $REDIS_PORT"

say() { printf '%s\n' "$*" >&2; }
die() { say "run.sh: $*"; exit 1; }

for b in "$BUILD/featd" "$BUILD/libfeatd.a"; do
    [ -e "$b" ] || die "$b missing: run make first"
done
command -v redis-server >/dev/null || die "redis-server not found"
command -v redis-benchmark >/dev/null || die "redis-benchmark not found"
command -v curl >/dev/null || die "curl not found (the daemon's /metrics)"
[ -x /usr/bin/time ] || die "/usr/bin/time not found (apt-get install time)"

REDIS_PID=""
FEATD_PID=""
cleanup() {
    [ -n "$FEATD_PID" ] && kill "$FEATD_PID" 2>/dev/null && wait "$FEATD_PID" 2>/dev/null
    [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null && wait "$REDIS_PID" 2>/dev/null
    [ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# ---- the load loop (libfeatd) ----
cc -O2 -std=c11 -D_GNU_SOURCE -I"$ROOT/client" -I"$BUILD/gen" \
    $(pkg-config --cflags libprotobuf-c) "$HERE/lookup_load.c" "$BUILD/libfeatd.a" \
    $(pkg-config --libs libprotobuf-c) -o "$WORK/lookup_load"

# ---- data ----
if [ ! -s "$DATA" ]; then
    bash -c '. "$0/bench/lib.sh" && need_node_deps' "$ROOT" ||
        die "node + DuckDB (bench/package.json) are needed to write the benchmark data"
    (cd "$HERE" && node gen.mjs "$DATA.tmp" "$N" >&2)
    mv "$DATA.tmp" "$DATA"
fi
DATA_MB=$(( $(stat -c %s "$DATA") / 1048576 ))

# ---- redis ----
# shellcheck disable=SC2086  # REDIS_ARGS is a list of options
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$WORK" --logfile "$WORK/redis.log" ${REDIS_ARGS:-} &
REDIS_PID=$!
i=0
until $RCLI ping >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -lt 100 ] || die "redis-server did not start"; sleep 0.1
done
redis_cpu() { $RCLI info cpu | awk -F: '/^used_cpu_(sys|user):/ { s += $2 } END { printf "%.2f", s }'; }
rps_of() { tr '\r' '\n' | awk '/requests per second/ { print int($2) }' | tail -1; }

say "redis-benchmark -P 64 -t set -d 100 -n $N"
RB_ONE=$(redis-benchmark -p "$REDIS_PORT" -P 64 -t set -d 100 -n "$N" -q 2>/dev/null | rps_of)
$RCLI flushall >/dev/null
say "redis-benchmark -P 64 -t set -d 100 -n $N -r 1000000000 (new keys)"
RB_RAND=$(redis-benchmark -p "$REDIS_PORT" -P 64 -t set -d 100 -n "$N" -r 1000000000 -q 2>/dev/null | rps_of)
$RCLI flushall >/dev/null

# ---- config ----
mkdir -p "$WORK/src"
cat > "$WORK/config.json" <<EOF
{ "server": { "listen": "127.0.0.1:$FEATD_PORT", "admin_listen": "127.0.0.1:$ADMIN_PORT",
              "workers": 2, "log_level": "info" },
  "redis": { "url": "redis://127.0.0.1:$REDIS_PORT/0", "key_prefix": "mb", "timeout_ms": 2000 },
  "entities": [ { "name": "e", "join_keys": [ { "name": "entity_id", "type": "int64" } ] } ],
  "feature_views": [ { "name": "bench", "entities": ["e"], "features": [
      {"name":"d0","type":"double"},{"name":"d1","type":"double"},{"name":"d2","type":"double"},
      {"name":"d3","type":"double"},{"name":"i0","type":"int64"},{"name":"i1","type":"int64"},
      {"name":"f0","type":"float"},{"name":"b0","type":"bool"},{"name":"s0","type":"string"},
      {"name":"t0","type":"timestamp"},{"name":"emb","type":"float_list"} ],
    "source": { "path": "$WORK/src", "event_timestamp_column": "event_ts" },
    "materialization": { "mode": "snapshot", "interval_seconds": 1 } } ] }
EOF

# ---- 1: one pass in the foreground ----
cp "$DATA" "$WORK/src/.in" && mv "$WORK/src/.in" "$WORK/src/snap-1.parquet"
C0=$(redis_cpu)
FEATD_MATERIALIZE_PACING=off /usr/bin/time -v "$BUILD/featd" materialize --config "$WORK/config.json" --log-level warn \
    > "$WORK/oneshot.out" 2> "$WORK/oneshot.time" || { cat "$WORK/oneshot.out" "$WORK/oneshot.time" >&2; die "featd materialize failed"; }
C1=$(redis_cpu)
cat "$WORK/oneshot.out" >&2
WALL=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, a, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + a[i]; print s }' "$WORK/oneshot.time")
RSS_KB=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$WORK/oneshot.time")
FU=$(awk -F': ' '/User time/ { print $2 }' "$WORK/oneshot.time")
FS=$(awk -F': ' '/System time/ { print $2 }' "$WORK/oneshot.time")
RATE=$(awk -v n="$N" -v w="$WALL" 'BEGIN { printf "%.0f", n / w }')
RCPU=$(awk -v a="$C0" -v b="$C1" 'BEGIN { printf "%.2f", b - a }')
# layout v2: mb:v2:m:{bench}:F:progress; layout v1 (older builds): mb:v1:bench:F:progress
PROG=$($RCLI --scan --pattern 'mb:v[12]:*bench*:progress' | head -1)
[ -n "$PROG" ] || die "no progress hash of view bench after featd materialize"
printf 'oneshot\t%s\n' "$RATE" > "$WORK/figures.tsv"
SELB=$($RCLI hget "$PROG" select_bytes)
USED=$($RCLI info memory | awk -F: '/^used_memory_human:/ { gsub("\r", ""); print $2 }')

# ---- 2: serving latency idle vs during a materialization, per pacing mode ----
kv() { printf '%s\n' "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k { print $2 }'; }
metric() { curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" | awk -v m="$1" 'index($1, m "{") == 1 { print $2 }'; }
SNAP=1
DAEMON_ROWS=""
for ENTRY in $PACINGS; do
    MODE=${ENTRY%%:*}
    CAP=${DAEMON_RATE:-0}
    case $ENTRY in *:*) CAP=${ENTRY#*:} ;; esac
    SNAP=$((SNAP + 1))
    FEATD_MATERIALIZE_PACING=$MODE FEATD_MATERIALIZE_MAX_ROWS_PER_SEC=$CAP \
        "$BUILD/featd" --config "$WORK/config.json" > "$WORK/featd-$SNAP-$MODE.log" 2>&1 &
    FEATD_PID=$!
    i=0
    until "$WORK/lookup_load" "$FEATD_PORT" entity_id 'bench:*' "$N" 1 0.01 >/dev/null 2>&1; do
        i=$((i + 1)); [ $i -lt 100 ] || die "featd did not start (see $WORK/featd-$SNAP-$MODE.log)"; sleep 0.1
    done
    sleep 2     # the daemon's first poll: snapshot already applied, nothing to do
    say "pacing $MODE: idle lookups for $IDLE_SECONDS s"
    IDLE=$("$WORK/lookup_load" "$FEATD_PORT" entity_id 'bench:*' "$N" 1 "$IDLE_SECONDS")
    say "idle: $IDLE"
    B0=$(metric featd_materializer_pacing_backoffs_total)
    rm -f "$WORK/stop"
    "$WORK/lookup_load" "$FEATD_PORT" entity_id 'bench:*' "$N" 1 600 "$WORK/stop" > "$WORK/during.out" &
    LOAD_PID=$!
    sleep 1
    cp "$DATA" "$WORK/src/.in" && mv "$WORK/src/.in" "$WORK/src/snap-$SNAP.parquet"
    i=0
    LIMIT_MAX=0
    while [ "$($RCLI hget "$PROG" snapshot)" != "snap-$SNAP.parquet" ] || [ "$($RCLI hget "$PROG" state)" != idle ]; do
        i=$((i + 1)); [ $i -lt 6000 ] || die "the daemon did not apply snap-$SNAP (see $WORK/featd-$SNAP-$MODE.log)"; sleep 0.1
        if [ $((i % 10)) = 0 ]; then
            L=$(metric featd_materializer_rate_limit_rows_per_second)
            [ "${L:-0}" -gt "$LIMIT_MAX" ] 2>/dev/null && LIMIT_MAX=$L
            printf '%s\n' "${L:-?}" >> "$WORK/limit-$SNAP-$MODE.txt"
        fi
    done
    touch "$WORK/stop"
    wait "$LOAD_PID"
    DURING=$(cat "$WORK/during.out")
    say "during: $DURING"
    B1=$(metric featd_materializer_pacing_backoffs_total)
    LIMIT_END=$(metric featd_materializer_rate_limit_rows_per_second)
    kill "$FEATD_PID" 2>/dev/null && wait "$FEATD_PID" 2>/dev/null || true
    FEATD_PID=""
    DMS=$($RCLI hget "$PROG" duration_ms)
    DRATE=$(awk -v n="$N" -v ms="$DMS" 'BEGIN { printf "%.0f", n / (ms / 1000) }')
    P99_IDLE=$(kv "$IDLE" p99_us); P99_DUR=$(kv "$DURING" p99_us)
    P50_IDLE=$(kv "$IDLE" p50_us); P50_DUR=$(kv "$DURING" p50_us)
    RATIO_P99=$(awk -v a="$P99_DUR" -v b="$P99_IDLE" 'BEGIN { printf "%.2f", a / b }')
    printf 'daemon\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$ENTRY" "$DRATE" "$DMS" "$P50_IDLE" "$P99_IDLE" \
        "$P50_DUR" "$P99_DUR" "$((${B1:-0} - ${B0:-0}))" >> "$WORK/figures.tsv"
    DAEMON_ROWS="$DAEMON_ROWS| daemon, pacing \`$MODE\` (cap $CAP rows/s, 0 = none): materializing while serving | $DRATE rows/s (${DMS} ms); rate limit at the end $LIMIT_END rows/s, highest sampled $LIMIT_MAX; $((${B1:-0} - ${B0:-0})) back-offs |
| ... serving p50 / p99 idle | ${P50_IDLE} / ${P99_IDLE} µs |
| ... serving p50 / p99 during materialization | ${P50_DUR} / ${P99_DUR} µs (**p99 ratio $RATIO_P99**) |
"
    DAEMON_RAW="${DAEMON_RAW:-}
\`$ENTRY\` idle: \`$IDLE\`
\`$ENTRY\` during: \`$DURING\`
"
done
RATIO_SET=$(awk -v a="$RATE" -v b="$RB_ONE" 'BEGIN { printf "%.2f", a / b }')
RATIO_RAND=$(awk -v a="$RATE" -v b="$RB_RAND" 'BEGIN { printf "%.2f", a / b }')
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)

cat > "$WORK/results.md" <<EOF
### Materializer ($(date -u +%Y-%m-%d), $(nproc) cores, load average before the run: $LOAD)

Input: $N rows (one per entity) x 10 scalar features + a 16-float embedding,
one Parquet file written by DuckDB (zstd, row groups of 122880), $DATA_MB MiB.
Redis 7 on loopback, no persistence; everything on this machine.

| measurement | value |
|---|---|
| redis-benchmark -P 64 -t set -d 100 (one key overwritten) | $RB_ONE SET/s |
| redis-benchmark -P 64 -t set -d 100 -r 1e9 (new keys) | $RB_RAND SET/s |
| \`featd materialize\` (both passes, end to end) | $RATE rows/s ($WALL s) |
| ... vs the first reference / vs new keys | $RATIO_SET / $RATIO_RAND |
| featd CPU (user + sys) / Redis CPU during the pass | ${FU} s + ${FS} s / $RCPU s |
| peak RSS of \`featd materialize\` | $((RSS_KB / 1024)) MiB (selection table $((SELB / 1048576)) MiB = $(awk -v b="$SELB" -v n="$N" 'BEGIN { printf "%.1f", b / n }') bytes/entity) |
| Redis memory after (one generation) | $USED |
$DAEMON_ROWS$DAEMON_RAW
EOF
cat "$WORK/results.md"
