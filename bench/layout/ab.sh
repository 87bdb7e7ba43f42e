#!/usr/bin/env bash
# shellcheck disable=SC2034,SC2086  # sets variables for bench/lib.sh; $COMMON5/$COMMON26 are option lists
# bench/layout/ab.sh — online layout v2 against the daemon before it, in one
# run (docs/online-layout.md). Builds REV (default 55eea6a, the last commit
# before layout v2) in a git worktree beside this tree (build/layout-ab/<sha>,
# its own build dir, reused when it exists), then runs both builds one after
# the other, each against fresh private redis-servers with the same settings
# (bench/lib.sh start_redis + REDIS_ARGS, hash-max-listpack-value 1024 for
# both) on the same generated dataset (bench/lib.sh gen_rows, loaded by each
# build's own featd-cli load --mode snapshot), and measures:
#   1. Redis bytes per feature value: 5 views x 10 doubles per entity
#   2. batch 100 x 50 features, closed loop, 50 connections: req/s
#   3. single entity x 10 features at 50 connections next to
#      redis-benchmark -t get -c 50 on the same Redis
#   4. batch 100 x 50 p99 at 50% of the closed-loop maximum (open loop,
#      featd-bench --rate) on the suite's 26-view dataset (bench/run.sh), next
#      to the Redis-alone baseline (each build's featd-bench --redis: mget
#      for layout v1, featd for v2)
#   5. the materializer: bench/materialize/run.sh once per build (the old
#      one unpaced, it has no pacing; v2 with PACINGS="adaptive off")
# featd itself is driven by this tree's featd-bench for both builds (only
# featd differs); each Redis-alone baseline uses its own build's featd-bench
# (the commands of its layout). Writes a markdown report with a table per
# measurement (old, new, ratio, goal, met?) and the exact commands.
#
#   bench/layout/ab.sh [REV]
#
# Environment:
#   AB_ENTITIES        entities of the 5-view measurements (200000; quick 20000)
#   AB_SUITE_ENTITIES  entities of the 26-view open-loop part (1000000; quick 20000)
#   AB_MAT_ROWS        rows of the materializer benchmark (2000000; quick 100000)
#   AB_QUICK=1         a small smoke run of everything (1.5-3 minutes)
#   AB_SECONDS, AB_WARMUP  seconds per featd-bench run and its warm-up (5, 1; quick 1, 0.5)
#   AB_REPS            repetitions of each figure, medians reported (3; quick 1)
#   AB_OPEN_WARMUP     unmeasured open-loop seconds at 50% before measuring (10; quick 1)
#   AB_MAT_IDLE        the materializer benchmark's idle seconds (10; quick 2)
#   AB_OUT             the report (build/bench/layout-ab.md); raw results in
#                      its name without .md (latest.jsonl), scratch files in
#                      build/bench/layout-ab-work/
#   AB_NO_BUILD=1      do not run make in this tree
#   AB_OTHER_MAX, AB_RETRIES, AB_RETRY_BUDGET  disturbed-run repeats as in
#                      bench/run.sh (0.25, 2, 20; quick budget 4)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OTHER_MAX=${AB_OTHER_MAX:-0.25}
RETRIES=${AB_RETRIES:-2}
QUICK=${AB_QUICK:-0}
if [ "$QUICK" = 1 ]; then RETRY_BUDGET=${AB_RETRY_BUDGET:-4}; else RETRY_BUDGET=${AB_RETRY_BUDGET:-20}; fi
. bench/lib.sh

REV=${1:-55eea6a}
if [ "$QUICK" = 1 ]; then
    ENT=${AB_ENTITIES:-20000} SUITE_ENT=${AB_SUITE_ENTITIES:-20000} MAT_N=${AB_MAT_ROWS:-100000}
    SECS=${AB_SECONDS:-1} WARM=${AB_WARMUP:-0.5} REPS=${AB_REPS:-1} OPEN_WARM=${AB_OPEN_WARMUP:-1}
    MAT_IDLE=${AB_MAT_IDLE:-2} QUIET_S=5
else
    ENT=${AB_ENTITIES:-200000} SUITE_ENT=${AB_SUITE_ENTITIES:-1000000} MAT_N=${AB_MAT_ROWS:-2000000}
    SECS=${AB_SECONDS:-5} WARM=${AB_WARMUP:-1} REPS=${AB_REPS:-3} OPEN_WARM=${AB_OPEN_WARMUP:-10}
    MAT_IDLE=${AB_MAT_IDLE:-10} QUIET_S=60
fi
REPORT=${AB_OUT:-build/bench/layout-ab.md}
OUT=${REPORT%.md}
WORK_ROOT=build/bench/layout-ab-work
REDIS_ARGS="--hash-max-listpack-value 1024"
WORKERS=1
NFEAT=10
EMB_DIM=32
CONNS=50
LOAD_JOBS=2

# ---- builds ----
BENCH_NO_BUILD=1 need_deps
OLD_SHA=$(git rev-parse --short "$REV^{commit}")
NEW_REV=$(git rev-parse --short HEAD)
NEW_DIRTY=$(git status --porcelain -- server client bench 2>/dev/null | grep -q . && echo " + uncommitted changes" || true)
OLD_WT=build/layout-ab/$OLD_SHA
OLD=$ROOT/$OLD_WT/build
NEW=$ROOT/build
if [ "${AB_NO_BUILD:-0}" != 1 ]; then
    log "make -j2 all (this tree, $NEW_REV)"
    make -s -j2 all >&2 || die "make failed"
fi
if [ ! -x "$OLD/featd" ] || [ ! -x "$OLD/featd-cli" ] || [ ! -x "$OLD/featd-bench" ] || [ ! -e "$OLD/libfeatd.a" ]; then
    log "building $REV ($OLD_SHA) in $OLD_WT"
    if [ ! -e "$OLD_WT/Makefile" ]; then
        rm -rf "$OLD_WT"
        git worktree prune
        mkdir -p build/layout-ab
        git worktree add -f --detach "$OLD_WT" "$OLD_SHA" >&2 || die "git worktree add $OLD_WT failed"
    fi
    make -s -C "$OLD_WT" -j2 all >"$ROOT/build/layout-ab/make-$OLD_SHA.log" 2>&1 ||
        die "make in $OLD_WT failed (build/layout-ab/make-$OLD_SHA.log)"
fi
for b in featd featd-cli featd-bench; do
    [ -x "$OLD/$b" ] || die "$OLD/$b missing"
    [ -x "$NEW/$b" ] || die "$NEW/$b missing"
done
FB_BIN=$NEW/featd-bench     # the generator for featd, both builds

mkdir -p "$OUT"
rm -rf "$WORK_ROOT"
mkdir -p "$WORK_ROOT"
: >"$OUT/latest.jsonl"
trap stop_all EXIT
trap 'exit 130' INT TERM
ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true

flist() {   # flist NVIEWS: view:feature refs of the first NVIEWS views, NFEAT each
    local v f s=""
    for ((v = 0; v < $1; v++)); do
        for ((f = 0; f < NFEAT; f++)); do s="$s${s:+,}$(printf 'fv%02d' "$v"):f$f"; done
    done
    echo "$s"
}
F10=$(flist 1)
F50=$(flist 5)
views() {   # views N: fv00 .. fv(N-1)
    local v
    for ((v = 0; v < $1; v++)); do printf 'fv%02d ' "$v"; done
}
used_memory() { redis-cli -p "$RPORT" info memory | tr -d '\r' | sed -n 's/^used_memory://p'; }
# sample_encoding: Redis's encoding of entity 1's row key (v2: its hash; v1: fv00's row string)
sample_encoding() {
    local k="bench:v2:{i1}"
    if [ "$(redis-cli -p "$RPORT" exists "$k")" != 1 ]; then
        k=$(redis-cli -p "$RPORT" --scan --pattern 'bench:v1:fv00:*:g*:i1' 2>/dev/null | head -1 || true)
    fi
    [ -n "$k" ] && echo "$(redis-cli -p "$RPORT" object encoding "$k") (\`$k\`)" || echo "?"
}
# load_views VIEW...: load_all with the row count checked; sets LOAD_S, LOAD_RPS
load_views() {
    local t written rows=$((ENTITIES * $#))
    t=$(now)
    load_all "$LOAD_JOBS" "$@" || { tail -n 3 "$WORK"/load-*.log >&2; die "load failed ($WORK)"; }
    LOAD_S=$(calc "$(now) - $t" 2)
    LOAD_RPS=$(calc "$rows / $LOAD_S")
    written=$(cat "$WORK"/load-*.log | sed -n 's/.* \([0-9]*\) written.*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
    [ "$written" = "$rows" ] || die "loaded $written rows, expected $rows ($WORK)"
}
fresh_work() { WORK=$WORK_ROOT/$1; rm -rf "$WORK"; mkdir -p "$WORK"; }

COMMON5="-n $ENT -k customer_id -d $SECS -w $WARM"
COMMON26="-n $SUITE_ENT -k customer_id -d $SECS -w $WARM"
RB_N50=$((SECS * 80000))
declare -A BPV MEM0 MEM1 ENC LOADR B100 B100_99 B100_OK S1 S1_99 S1_OK RBG RBG_99 RATIO_S
declare -A MAX26 RATE26 P99 P50 P99_OK RA99 RA_OK RA_MODE O_B100 O_S1 O_OPEN
maxof() { printf '%s\n' "$@" | sort -g | tail -n 1; }

# measure_side SIDE BUILD_DIR REDIS_MODE: parts 1-4 for one build
measure_side() {
    local side=$1 mode=$3 i a=() b=() c=() d=() e=() g=() o1=() o2=() ok1=1 ok2=1 ok3=1 ok4=1
    BUILD=$2
    RA_MODE[$side]=$mode
    # ---- 5 views x 10 doubles ----
    fresh_work "$side-5v"
    ENTITIES=$ENT
    start_redis
    pick_featd_ports
    write_config 5 "$NFEAT"
    MEM0[$side]=$(used_memory)
    log "$side ($BUILD): loading 5 views x $(thousands "$ENT") entities (redis pid $RPID, port $RPORT)"
    # shellcheck disable=SC2046
    load_views $(views 5)
    MEM1[$side]=$(used_memory)
    LOADR[$side]=$LOAD_RPS
    BPV[$side]=$(calc "(${MEM1[$side]} - ${MEM0[$side]}) / ($ENT * 5 * $NFEAT)" 2)
    ENC[$side]=$(sample_encoding)
    log "$side: ${BPV[$side]} B/value (used_memory ${MEM0[$side]} -> ${MEM1[$side]}), ${ENC[$side]}, load $(thousands "$LOAD_RPS") rows/s"
    fill_redis_get "$ENT"
    start_featd
    quiet_wait "$QUIET_S" || log "other work keeps using more than $OTHER_MAX cores; measuring anyway"
    for ((i = 1; i <= REPS; i++)); do
        fb "$side b100 f50 closed #$i" "-c $CONNS -t 1 -b 100 -f \$F50 $COMMON5" -- -c "$CONNS" -t 1 -b 100 -f "$F50" $COMMON5
        a+=("$FB_RPS") b+=("$FB_P99") o1+=("$FB_OTHER_CORES")
        [ "$FB_OK" = 1 ] || ok1=0
        log "$side batch 100 x 50 closed #$i: $(thousands "$FB_RPS") req/s p99 $(ms "$FB_P99") ms, other $FB_OTHER_CORES cores"
        rb "$side redis get c50 #$i" -t get -c 50 -n "$RB_N50" -r "$ENT" -d 100
        c+=("$RB_RPS") d+=("$RB_P99")
        fb "$side b1 f10 c50 #$i" "-c $CONNS -t 1 -b 1 -f \$F10 $COMMON5" -- -c "$CONNS" -t 1 -b 1 -f "$F10" $COMMON5
        e+=("$FB_RPS") g+=("$FB_P99") o2+=("$FB_OTHER_CORES" "$RB_OTHER_CORES")
        [ "$FB_OK" = 1 ] || ok2=0
        log "$side single #$i: redis GET $(thousands "$RB_RPS") req/s; featd 1 x 10 $(thousands "$FB_RPS") req/s p99 $(ms "$FB_P99") ms"
    done
    B100[$side]=$(median "${a[@]}") B100_99[$side]=$(median "${b[@]}") B100_OK[$side]=$ok1
    RBG[$side]=$(median "${c[@]}") RBG_99[$side]=$(median "${d[@]}")
    S1[$side]=$(median "${e[@]}") S1_99[$side]=$(median "${g[@]}") S1_OK[$side]=$ok2
    RATIO_S[$side]=$(calc "${S1[$side]} / ${RBG[$side]}" 2)
    O_B100[$side]=$(maxof "${o1[@]}") O_S1[$side]=$(maxof "${o2[@]}")
    stop_all
    # ---- the suite's 26 views ----
    fresh_work "$side-26v"
    ENTITIES=$SUITE_ENT
    start_redis
    pick_featd_ports
    write_config 25 "$NFEAT"
    log "$side: loading 26 views x $(thousands "$SUITE_ENT") entities (the suite's dataset)"
    # shellcheck disable=SC2046
    load_views $(views 25) emb
    start_featd
    quiet_wait "$QUIET_S" || log "other work keeps using more than $OTHER_MAX cores; measuring anyway"
    fb "$side 26v b100 f50 max" "-c $CONNS -t 1 -b 100 -f \$F50 $COMMON26" -- -c "$CONNS" -t 1 -b 100 -f "$F50" $COMMON26
    MAX26[$side]=$FB_RPS
    RATE26[$side]=$(calc "$FB_RPS / 2")
    [ "${RATE26[$side]}" -ge 1 ] || RATE26[$side]=1
    local rate=${RATE26[$side]}
    log "$side 26 views: closed-loop max $(thousands "$FB_RPS") req/s; ${OPEN_WARM}s warm-up at $rate req/s"
    "$FB_BIN" --port "$FPORT" -c "$CONNS" -t 1 -b 100 -f "$F50" --rate "$rate" -n "$SUITE_ENT" -k customer_id \
        -d "$OPEN_WARM" -w 0 >/dev/null 2>>"$WORK/featd-bench.err" || true
    a=() b=() c=() o1=()
    for ((i = 1; i <= REPS; i++)); do
        FB_BIN=$BUILD/featd-bench FB_REDIS=$mode fb "$side 26v b100 f50 50% redis-alone #$i" \
            "-c $CONNS -t 1 -b 100 -f \$F50 --rate $rate $COMMON26" -- \
            -c "$CONNS" -t 1 -b 100 -f "$F50" --rate "$rate" $COMMON26
        c+=("$FB_P99")
        [ "$FB_OK" = 1 ] || ok4=0
        fb "$side 26v b100 f50 50% #$i" "-c $CONNS -t 1 -b 100 -f \$F50 --rate $rate $COMMON26" -- \
            -c "$CONNS" -t 1 -b 100 -f "$F50" --rate "$rate" $COMMON26
        a+=("$FB_P99") b+=("$FB_P50") o1+=("$FB_OTHER_CORES")
        [ "$FB_OK" = 1 ] || ok3=0
        log "$side open loop 50% #$i: featd p99 $(ms "$FB_P99") ms (other $FB_OTHER_CORES cores); Redis alone p99 $(ms "${c[-1]}") ms"
    done
    P99[$side]=$(median "${a[@]}") P50[$side]=$(median "${b[@]}") P99_OK[$side]=$ok3
    RA99[$side]=$(median "${c[@]}") RA_OK[$side]=$ok4 O_OPEN[$side]=$(maxof "${o1[@]}")
    stop_all
}

RUN_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
LOAD_AVG=$(cut -d' ' -f1-3 /proc/loadavg)
REDIS_VER=$(redis-server --version | sed -n 's/.*v=\([0-9.]*\).*/\1/p')
log "layout A/B: old $OLD_SHA ($OLD), new $NEW_REV ($NEW); $ENT / $SUITE_ENT entities, ${SECS}s runs, $REPS reps; Redis $REDIS_ARGS"
measure_side old "$OLD" mget
measure_side new "$NEW" featd

# ---- 5: the materializer (bench/materialize/run.sh once per build) ----
declare -A MAT_ONESHOT MAT_LINE
mat_run() {   # mat_run SIDE BUILD_DIR PACINGS
    local w=$ROOT/$WORK_ROOT/mat-$1 rp fp ap
    rm -rf "$w"
    mkdir -p "$w"
    rp=$(free_port) fp=$(free_port) ap=$(free_port)
    while [ "$fp" = "$rp" ]; do fp=$(free_port); done
    while [ "$ap" = "$rp" ] || [ "$ap" = "$fp" ]; do ap=$(free_port); done
    log "$1: bench/materialize/run.sh, $(thousands "$MAT_N") rows, PACINGS=\"$3\""
    BUILD=$2 N=$MAT_N IDLE_SECONDS=$MAT_IDLE PACINGS=$3 WORK=$w KEEP=1 REDIS_ARGS=$REDIS_ARGS \
        REDIS_PORT=$rp FEATD_PORT=$fp ADMIN_PORT=$ap sh bench/materialize/run.sh >"$w.md" 2>"$w.log" ||
        die "bench/materialize/run.sh failed for $1: $(tail -3 "$w.log")"
    MAT_ONESHOT[$1]=$(awk -F'\t' '$1 == "oneshot" { print $2 }' "$w/figures.tsv")
    while IFS=$'\t' read -r kind entry rest; do
        [ "$kind" = daemon ] && MAT_LINE[$1:$entry]=$rest
    done <"$w/figures.tsv"
}
mat_run old "$OLD" off
mat_run new "$NEW" "adaptive off"
stop_all
TOTAL_S=$(calc "$(now) - $bench_t0" 0)
LOAD_AVG_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- report ----
met() { if [ "$(echo "$1" | bc -l)" = 1 ]; then echo met; else echo "**MISSED**"; fi; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
okmark() { [ "$1" = 1 ] || echo " (**ERRORS**)"; }
R_BPV=$(ratio "${BPV[new]}" "${BPV[old]}")
G_BPV=$(met "$R_BPV <= 0.6 && ${BPV[new]} <= 13")
R_B100=$(ratio "${B100[new]}" "${B100[old]}")
G_B100=$(met "$R_B100 >= 1.3")
[ "${B100_OK[new]}${B100_OK[old]}" = 11 ] || G_B100="**MISSED** (errors)"
R_P99=$(ratio "${P99[new]}" "${P99[old]}")
G_P99=$(met "${P99[new]} <= 1500")
[ "${P99_OK[new]}" = 1 ] || G_P99="**MISSED** (errors)"
G_S1=$(met "${S1[new]} >= ${RBG[new]}")
[ "${S1_OK[new]}" = 1 ] || G_S1="**MISSED** (errors)"
FB_CMD="featd-bench --port \$FEATD_PORT --json"
mat_field() {   # mat_field SIDE:ENTRY N: field N of the daemon line (1 rows/s, 2 ms, 3 p50 idle, 4 p99 idle, 5 p50 during, 6 p99 during, 7 back-offs)
    echo "${MAT_LINE[$1]:-}" | awk -F'\t' -v n="$2" '{ print $n }'
}
mat_row() {   # mat_row LABEL SIDE:ENTRY
    local r p99i p99d
    r=$(mat_field "$2" 1) p99i=$(mat_field "$2" 4) p99d=$(mat_field "$2" 6)
    echo "| $1 | $(thousands "${r:-0}") | $(ratio "${r:-0}" "$(mat_field old:off 1)") | $(mat_field "$2" 3) / ${p99i} | $(mat_field "$2" 5) / ${p99d} | $(ratio "${p99d:-0}" "${p99i:-0}") | $(mat_field "$2" 7) |"
}
mkdir -p "$(dirname "$REPORT")"
{
cat <<EOF
# Online layout v2 against the pre-v2 daemon

Produced by \`bench/layout/ab.sh $REV\` on $RUN_DATE in ${TOTAL_S} s$([ "$QUICK" = 1 ] && echo ' — **AB_QUICK=1 smoke run: small datasets and 1 s runs, the figures are not meaningful**').
**old** = $OLD_SHA (layout v1, built in \`$OLD_WT\`), **new** = $NEW_REV$NEW_DIRTY (layout v2).
Machine: $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), load average
$LOAD_AVG at the start, $LOAD_AVG_END at the end. Redis $REDIS_VER, a fresh private redis-server per
build and dataset, **the same settings for both builds: \`redis-server --save "" --appendonly no
--maxclients 1000 $REDIS_ARGS\`** (bench/lib.sh start_redis). featd: $WORKERS worker, config from
bench/lib.sh write_config (no TTL). Each build loads the same generated rows (bench/lib.sh gen_rows, the
same seeds) with its own \`featd-cli load --mode snapshot\`. featd of both builds is driven by this tree's
featd-bench (\`$FB_CMD ARGS\`, 1 thread); the Redis-alone baselines by each build's own featd-bench
(\`--redis mget\` for v1, \`--redis featd\` for v2: the commands of its layout). Latencies in ms, medians
of $REPS run(s); a run that other work disturbed (> $OTHER_MAX cores) was repeated as in bench/run.sh.
Raw results with their commands: \`$OUT/latest.jsonl\`.

Feature lists: \`\$F10\` = fv00:f0..fv00:f9, \`\$F50\` = fv00..fv04 x f0..f9.

## Summary

| measurement | old | new | new / old | goal | result |
|---|---:|---:|---:|---|---|
| Redis bytes per feature value (5 views x 10 doubles) | ${BPV[old]} | ${BPV[new]} | $R_BPV | <= 0.6x and <= 13 B | $G_BPV |
| batch 100 x 50, closed loop, 50 conns (req/s) | $(thousands "${B100[old]}") | $(thousands "${B100[new]}") | $R_B100 | >= 1.3x | $G_B100 |
| batch 100 x 50 p99 at 50% of max, 26 views (ms) | $(ms "${P99[old]}") | $(ms "${P99[new]}") | $R_P99 | new <= 1.5 ms | $G_P99 |
| 1 x 10 at 50 conns / redis-benchmark GET -c 50 | ${RATIO_S[old]} | ${RATIO_S[new]} | | new >= 1.0 | $G_S1 |
| materializer daemon, unpaced (rows/s) | $(thousands "$(mat_field old:off 1)") | $(thousands "$(mat_field new:off 1)") | $(ratio "$(mat_field new:off 1)" "$(mat_field old:off 1)") | (reported) | |

## 1. Redis bytes per feature value

5 views fv00..fv04 x 10 doubles, $(thousands "$ENT") entities ($(thousands $((ENT * 50))) values), loaded with
\`featd-cli load --config featd.json --view fvNN --file - --mode snapshot\` ($LOAD_JOBS views at a time);
bytes = growth of Redis \`used_memory\` over the load / values.

| build | used_memory before | after | B/value | row key encoding (entity 1) | load rows/s |
|---|---:|---:|---:|---|---:|
| old | ${MEM0[old]} | ${MEM1[old]} | ${BPV[old]} | ${ENC[old]} | $(thousands "${LOADR[old]}") |
| new | ${MEM0[new]} | ${MEM1[new]} | ${BPV[new]} | ${ENC[new]} | $(thousands "${LOADR[new]}") |

new / old = **$R_BPV** (goal <= 0.6 and <= 13 B/value): $G_BPV.

## 2. Batch 100 x 50 features, closed loop

Same dataset. Command: \`featd-bench -c $CONNS -t 1 -b 100 -f \$F50 $COMMON5\`.

| build | req/s | p99 | verified | other cores (worst run) |
|---|---:|---:|---|---:|
| old | $(thousands "${B100[old]}") | $(ms "${B100_99[old]}") | $(okcol "${B100_OK[old]}") | ${O_B100[old]} |
| new | $(thousands "${B100[new]}") | $(ms "${B100_99[new]}") | $(okcol "${B100_OK[new]}") | ${O_B100[new]} |

new / old = **$R_B100** (goal >= 1.3): $G_B100.

## 3. Single entity x 10 features next to redis-benchmark

Same Redis as 1-2 (plus $(thousands "$ENT") 100-byte keys). Commands: \`redis-benchmark -t get -c 50 -n $RB_N50 -r $ENT -d 100\`,
then \`featd-bench -c $CONNS -t 1 -b 1 -f \$F10 $COMMON5\`.

| build | redis-benchmark GET req/s | p99 | featd req/s | p99 | featd / GET | verified | other cores (worst run) |
|---|---:|---:|---:|---:|---:|---|---:|
| old | $(thousands "${RBG[old]}") | ${RBG_99[old]} | $(thousands "${S1[old]}") | $(ms "${S1_99[old]}") | ${RATIO_S[old]} | $(okcol "${S1_OK[old]}") | ${O_S1[old]} |
| new | $(thousands "${RBG[new]}") | ${RBG_99[new]} | $(thousands "${S1[new]}") | $(ms "${S1_99[new]}") | ${RATIO_S[new]} | $(okcol "${S1_OK[new]}") | ${O_S1[new]} |

Goal: new featd >= redis-benchmark GET on the same Redis: $G_S1 (new featd / old featd = $(ratio "${S1[new]}" "${S1[old]}")).

## 4. Batch 100 x 50 p99 at 50% of the maximum (26 views)

The suite's dataset (bench/run.sh): 25 views fv00..fv24 x 10 doubles and \`emb\` (32 floats), $(thousands "$SUITE_ENT")
entities. Each build's closed-loop maximum (\`featd-bench -c $CONNS -t 1 -b 100 -f \$F50 $COMMON26\`), then
${OPEN_WARM} s unmeasured at 50% of it, then at 50%: the Redis-alone baseline
(\`featd-bench --redis MODE --config featd.json -c $CONNS -t 1 -b 100 -f \$F50 --rate R $COMMON26\`, the build's own
featd-bench) and featd (\`featd-bench -c $CONNS -t 1 -b 100 -f \$F50 --rate R $COMMON26\`).

| build | closed-loop max req/s | R = 50% | featd p50 | featd p99 | Redis alone p99 (mode) | featd / Redis p99 | verified | other cores (worst featd run) |
|---|---:|---:|---:|---:|---:|---:|---|---:|
| old | $(thousands "${MAX26[old]}") | $(thousands "${RATE26[old]}") | $(ms "${P50[old]}") | $(ms "${P99[old]}") | $(ms "${RA99[old]}") (${RA_MODE[old]})$(okmark "${RA_OK[old]}") | $(ratio "${P99[old]}" "${RA99[old]}") | $(okcol "${P99_OK[old]}") | ${O_OPEN[old]} |
| new | $(thousands "${MAX26[new]}") | $(thousands "${RATE26[new]}") | $(ms "${P50[new]}") | $(ms "${P99[new]}") | $(ms "${RA99[new]}") (${RA_MODE[new]})$(okmark "${RA_OK[new]}") | $(ratio "${P99[new]}" "${RA99[new]}") | $(okcol "${P99_OK[new]}") | ${O_OPEN[new]} |

Goal: new p99 <= 1.5 ms: $G_P99 (new / old p99 = $R_P99; new max / old max = $(ratio "${MAX26[new]}" "${MAX26[old]}")).

## 5. Materializer

\`bench/materialize/run.sh\` once per build, $(thousands "$MAT_N") rows (1 view, 10 scalars + a 16-float
embedding, Parquet by DuckDB), its own private redis-server with the same \`$REDIS_ARGS\`:
old: \`BUILD=$OLD_WT/build PACINGS=off N=$MAT_N IDLE_SECONDS=$MAT_IDLE REDIS_ARGS="$REDIS_ARGS" bench/materialize/run.sh\`
(the old build has no pacing), new: \`PACINGS="adaptive off" N=$MAT_N IDLE_SECONDS=$MAT_IDLE REDIS_ARGS="$REDIS_ARGS" bench/materialize/run.sh\`.
The daemon serves 1 entity x 11 features on one connection, idle and then while it materializes a new
snapshot of the same size; latencies in µs. Full outputs: \`$WORK_ROOT/mat-{old,new}.md\`.

| daemon | rows/s while serving | / old | serving p50 / p99 idle | p50 / p99 during | p99 during / idle | pacing back-offs |
|---|---:|---:|---:|---:|---:|---:|
$(mat_row "old (no pacing)" old:off)
$(mat_row "new, materialize.pacing adaptive (default)" new:adaptive)
$(mat_row "new, materialize.pacing off" new:off)

One-shot \`featd materialize\` (unpaced, no serving): old $(thousands "${MAT_ONESHOT[old]:-0}") rows/s, new $(thousands "${MAT_ONESHOT[new]:-0}") rows/s (new / old $(ratio "${MAT_ONESHOT[new]:-0}" "${MAT_ONESHOT[old]:-0}")).

## Limits

Redis, featd and the generator share the machine's cores; the builds run one after the other, not
interleaved, so a change of background load between them shows as a difference: "other cores" is the
CPU that other work on the machine used during a run (worst of the kept runs; every run's figure is in
latest.jsonl); above $OTHER_MAX the run was disturbed. Rerun on a quiet machine before trusting a ratio
near its goal. The materializer figures come from single runs (bench/materialize/run.sh).
EOF
} >"$REPORT"
log "report: $REPORT"
grep -A 8 '^## Summary' "$REPORT" >&2
