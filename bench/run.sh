#!/usr/bin/env bash
# bench/run.sh — featd's reproducible benchmark suite (issue 6).
#
# Starts a private redis-server and featd (1 worker; 2 in the layout comparison), loads a dataset through
# featd's own write path (featd-cli load --mode snapshot): 1,000,000 customers
# in 25 views x 10 doubles (fv00..fv24, as in Feast's published benchmark) and
# an embedding view (emb: one float_list of 32). Then measures, next to
# redis-benchmark on the same Redis in the same run:
#   - closed loop, 50 connections: batch 1/10/100/500 x features 10/50/250
#   - one connection, one request at a time vs redis-benchmark -c 1 -t get
#   - single-entity 10 features at 50 connections vs redis-benchmark -c 50 -t get
#   - open-loop rate sweeps (10%..100% of the closed-loop maximum) for
#     batch 1 x 10 features and batch 100 x 50 features, each point next to
#     the same generator sending featd's MGET to Redis alone (featd-bench
#     --redis featd), with an attribution table per point (bench/attrib.py)
#   - embedding lookups
#   - featd's RSS with 10,000 idle connections
# and writes $OUT/latest.md, $OUT/latest.jsonl (every raw result with its
# command), $OUT/latency-vs-throughput.dat and .png, $OUT/attribution.md.
# See bench/README.md.
#
# Environment:
#   BENCH_ENTITIES   entities per view (1000000)
#   BENCH_QUICK=1    100,000 entities, 2 s runs, results in build/bench/results
#   BENCH_SECONDS    measured seconds per featd-bench run (5; quick 2)
#   BENCH_WARMUP     warm-up seconds per run (1; quick 0.5)
#   BENCH_OUT        results directory (bench/results; quick build/bench/results)
#   BENCH_LOAD_JOBS  views loaded in parallel (2)
#   BENCH_IDLE       idle connections to open (10000)
#   BENCH_OPEN_WARMUP  seconds of unmeasured open-loop load before each sweep (10; quick 2)
#   BENCH_STALL_MS   open-loop requests slower than this are listed as stalls (5)
#   BENCH_NO_BUILD=1 do not run make first
#   BENCH_OTHER_MAX  a run during which other work used more cores than this
#                    is repeated (0.25); BENCH_RETRIES per run (2),
#                    BENCH_RETRY_BUDGET in the whole run (20)
set -euo pipefail
cd "$(dirname "$0")/.."
OTHER_MAX=${BENCH_OTHER_MAX:-0.25}
RETRIES=${BENCH_RETRIES:-2}
RETRY_BUDGET=${BENCH_RETRY_BUDGET:-20}
. bench/lib.sh

QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
    ENTITIES=${BENCH_ENTITIES:-100000}
    SECS=${BENCH_SECONDS:-2}
    WARM=${BENCH_WARMUP:-0.5}
    OUT=${BENCH_OUT:-build/bench/results}
else
    ENTITIES=${BENCH_ENTITIES:-1000000}
    SECS=${BENCH_SECONDS:-5}
    WARM=${BENCH_WARMUP:-1}
    OUT=${BENCH_OUT:-bench/results}
fi
LOAD_JOBS=${BENCH_LOAD_JOBS:-2}
IDLE_N=${BENCH_IDLE:-10000}
# The open-loop sweeps use one generator thread (it sleeps until each send is
# due, epoll_pwait2), not niced: latency is measured from the intended send
# time, so a late generator shows up in the percentiles (and in its send-lag
# column). At nice 19 it was starved on the 2 shared cores from 40% load on
# (send-lag p99 30-180 ms = the whole p99; BENCHMARKS.md, issue 18), which
# measured the generator, not featd. BENCH_OPEN_NICE=19 brings that back.
OPEN_T=${BENCH_OPEN_THREADS:-1}
OPEN_NICE=${BENCH_OPEN_NICE-}
# Before each sweep: unmeasured open-loop load at 50% of the maximum, so the
# first points do not pay for cold pages, caches and connection set-up.
if [ "$QUICK" = 1 ]; then OPEN_WARM=${BENCH_OPEN_WARMUP:-2}; else OPEN_WARM=${BENCH_OPEN_WARMUP:-10}; fi
STALL_MS=${BENCH_STALL_MS:-5}
REPS=${BENCH_REPS:-3}
BUILD=build
# Thread layout on 2 cores shared with Redis (one thread) and the generator:
# 1 featd worker and 1 featd-bench thread (redis-benchmark's and Redis's own
# layout) leave Redis a core; the layout comparison runs 2 + 2 as well.
WORKERS=${BENCH_WORKERS:-1}
GEN_T=${BENCH_GEN_THREADS:-1}
WORKERS_ALT=${BENCH_WORKERS_ALT:-2}
GEN_T_ALT=${BENCH_GEN_THREADS_ALT:-2}
NVIEWS=25
NFEAT=10
EMB_DIM=32
CONNS=50
PCTS="10 20 30 40 50 60 70 80 90 100"
WORK=build/bench/work

need_deps
RETRY_BUDGET_START=$RETRY_BUDGET
mkdir -p "$OUT"
rm -rf "$WORK"
mkdir -p "$WORK"
: >"$OUT/latest.jsonl"
trap stop_all EXIT
trap 'exit 130' INT TERM

# featd and the idle-connection holder need ~10k descriptors each
ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)

# ---- feature lists ----
flist() {   # flist NVIEWS: view:feature refs of the first NVIEWS views, NFEAT each
    local v f s=""
    for ((v = 0; v < $1; v++)); do
        for ((f = 0; f < NFEAT; f++)); do
            s="$s${s:+,}$(printf 'fv%02d' "$v"):f$f"
        done
    done
    echo "$s"
}
F10=$(flist 1)
F50=$(flist 5)
F250=$(flist 25)
declare -A FL=([10]=$F10 [50]=$F50 [250]=$F250)
COMMON="-n $ENTITIES -k customer_id -d $SECS -w $WARM"

# ---- servers and dataset ----
RUN_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
GIT_REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
GIT_DIRTY=$(git status --porcelain -- server client 2>/dev/null | grep -q . && echo " (+ uncommitted server/client changes)" || true)
CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
NCPU=$(nproc)
MEM_GB=$(awk '/MemTotal/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo)
REDIS_VER=$(redis-server --version | sed -n 's/.*v=\([0-9.]*\).*/\1/p')
LOAD_AVG=$(cut -d' ' -f1-3 /proc/loadavg)

log "featd benchmark suite: $ENTITIES entities, ${SECS}s runs (+${WARM}s warm-up), results in $OUT"
start_redis
pick_featd_ports
write_config "$NVIEWS" "$NFEAT"
log "redis-server pid $RPID on port $RPORT; config $WORK/featd.json"

VIEWS=()
for ((v = 0; v < NVIEWS; v++)); do VIEWS+=("$(printf 'fv%02d' "$v")"); done
VIEWS+=(emb)
log "loading ${#VIEWS[@]} views x $ENTITIES rows with featd-cli load --mode snapshot ($LOAD_JOBS at a time)"
t=$(now)
load_all "$LOAD_JOBS" "${VIEWS[@]}" || { tail -n 3 "$WORK"/load-*.log >&2; die "load failed"; }
LOAD_S=$(calc "$(now) - $t" 1)
LOAD_ROWS=$((ENTITIES * ${#VIEWS[@]}))
LOAD_RPS=$(calc "$LOAD_ROWS / $LOAD_S")
written=$(cat "$WORK"/load-*.log | sed -n 's/.* \([0-9]*\) written.*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
[ "$written" = "$LOAD_ROWS" ] || die "loaded $written rows, expected $LOAD_ROWS"
REDIS_MEM=$(redis-cli -p "$RPORT" info memory | tr -d '\r' | sed -n 's/^used_memory_human://p')
log "loaded $(thousands "$LOAD_ROWS") rows in ${LOAD_S}s = $(thousands "$LOAD_RPS") rows/s (Redis used_memory $REDIS_MEM)"

log "filling $(thousands "$ENTITIES") 100-byte keys for redis-benchmark GET"
fill_redis_get "$ENTITIES"

start_featd
log "featd pid $FPID on port $FPORT (admin $APORT), $WORKERS workers"
quiet_wait 60 || log "other work keeps using more than $OTHER_MAX cores; measuring anyway"

# ---- closed-loop matrix ----
declare -A M_RPS M_EPS M_P50 M_P99 M_P999 M_OK M_US M_CPU
for b in 1 10 100 500; do
    for f in 10 50 250; do
        fb "matrix b$b f$f" "-c $CONNS -t $GEN_T -b $b -f \$F$f $COMMON" -- \
            -c "$CONNS" -t "$GEN_T" -b "$b" -f "${FL[$f]}" $COMMON
        M_RPS[$b,$f]=$FB_RPS M_EPS[$b,$f]=$FB_EPS M_P50[$b,$f]=$FB_P50 M_P99[$b,$f]=$FB_P99
        M_P999[$b,$f]=$FB_P999 M_OK[$b,$f]=$FB_OK M_US[$b,$f]=$FB_FEATD_US
        M_CPU[$b,$f]="$FB_FEATD_CORES / $FB_REDIS_CORES / $FB_GEN_CORES / $FB_OTHER_CORES"
        log "closed b=$b f=$f: $(thousands "$FB_RPS") req/s, $(thousands "$FB_EPS") entities/s," \
            "p50 $FB_P50 p99 $FB_P99 p99.9 $FB_P999 us, featd $FB_FEATD_US us/req, other $FB_OTHER_CORES cores$([ "$FB_OK" = 1 ] || echo ' (ERRORS)')"
    done
done

# ---- next to redis-benchmark ----
# REPS interleaved pairs (redis-benchmark, then featd-bench); the headline
# figures are the medians, every pair is in the report.
RB_N50=$((SECS * 80000))
RB_N1=$((SECS * 20000))
CMP_ROWS50="" CMP_ROWS1=""
declare -a RB50_R RB50_99 S50_R S50_99 S50_50 RB1_50 S1_50
for ((i = 1; i <= REPS; i++)); do
    rb "redis get c50 #$i" -t get -c 50 -n "$RB_N50" -r "$ENTITIES" -d 100
    RB50_R[i]=$RB_RPS RB50_99[i]=$RB_P99
    CMP_ROWS50="$CMP_ROWS50| $i | \`redis-benchmark -t get -c 50 -n $RB_N50 -r $ENTITIES -d 100\` | $(thousands "$RB_RPS") | $RB_P50 | $RB_P99 | | | $RB_OTHER_CORES |
"
    fb "single b1 f10 c50 #$i" "-c 50 -t $GEN_T -b 1 -f \$F10 $COMMON" -- -c 50 -t "$GEN_T" -b 1 -f "$F10" $COMMON
    S50_R[i]=$FB_RPS S50_99[i]=$FB_P99 S50_50[i]=$FB_P50
    [ "$FB_OK" = 1 ] || S50_BAD=1
    CMP_ROWS50="$CMP_ROWS50| $i | \`featd-bench -c 50 -t $GEN_T -b 1 -f \$F10 $COMMON\` | $(thousands "$FB_RPS") | $(ms "$FB_P50") | $(ms "$FB_P99") | $(ms "$FB_P999") | $(okcol "$FB_OK") | $FB_OTHER_CORES |
"
    log "50 conns #$i: redis GET $(thousands "${RB50_R[i]}") req/s p99 ${RB_P99} ms; featd 1x10 $(thousands "$FB_RPS") req/s p99 $(ms "$FB_P99") ms"
done
for ((i = 1; i <= REPS; i++)); do
    rb "redis get c1 #$i" -t get -c 1 -n "$RB_N1" -r "$ENTITIES" -d 100
    RB1_50[i]=$RB_P50
    CMP_ROWS1="$CMP_ROWS1| $i | \`redis-benchmark -t get -c 1 -n $RB_N1 -r $ENTITIES -d 100\` | $(thousands "$RB_RPS") | $RB_P50 | $RB_P99 | | | $RB_OTHER_CORES |
"
    fb "single b1 f10 c1 #$i" "-c 1 -t 1 -P 1 -b 1 -f \$F10 $COMMON" -- -c 1 -t 1 -P 1 -b 1 -f "$F10" $COMMON
    S1_50[i]=$FB_P50
    [ "$FB_OK" = 1 ] || S1_BAD=1
    CMP_ROWS1="$CMP_ROWS1| $i | \`featd-bench -c 1 -t 1 -P 1 -b 1 -f \$F10 $COMMON\` | $(thousands "$FB_RPS") | $(ms "$FB_P50") | $(ms "$FB_P99") | $(ms "$FB_P999") | $(okcol "$FB_OK") | $FB_OTHER_CORES |
"
    log "1 conn #$i: redis GET p50 ${RB_P50} ms; featd 1x10 p50 $(ms "$FB_P50") ms"
done
RB50_RPS=$(median "${RB50_R[@]}") RB50_P99=$(median "${RB50_99[@]}")
S50_RPS=$(median "${S50_R[@]}") S50_P99=$(median "${S50_99[@]}") S50_P50=$(median "${S50_50[@]}")
RB1_P50=$(median "${RB1_50[@]}") S1_P50=$(median "${S1_50[@]}")
RATIO50=$(calc "$S50_RPS / $RB50_RPS" 2)
RATIO1=$(calc "$S1_P50 / 1000 / $RB1_P50" 2)
log "medians: 50 conns ratio $RATIO50 (featd p99 $(ms "$S50_P99") ms); 1 conn p50 ratio $RATIO1"

# ---- thread layout: the other corner ----
# 2 workers + 2 generator threads buy throughput with a longer tail (5 busy
# threads take turns on 2 cores). The same REPS interleaved pairs, featd
# restarted with $WORKERS_ALT workers on the same data; everything else uses
# $WORKERS worker(s) and $GEN_T generator thread(s).
stop_featd
WORKERS_MAIN=$WORKERS
WORKERS=$WORKERS_ALT write_config "$NVIEWS" "$NFEAT"
start_featd
log "featd restarted with $WORKERS_ALT workers for the layout comparison"
CMP_ROWS_ALT=""
declare -a RBA_R RBA_99 SA_R SA_99 SA_50
for ((i = 1; i <= REPS; i++)); do
    rb "redis get c50 (layout) #$i" -t get -c 50 -n "$RB_N50" -r "$ENTITIES" -d 100
    RBA_R[i]=$RB_RPS RBA_99[i]=$RB_P99
    CMP_ROWS_ALT="$CMP_ROWS_ALT| $i | \`redis-benchmark -t get -c 50 -n $RB_N50 -r $ENTITIES -d 100\` | $(thousands "$RB_RPS") | $RB_P50 | $RB_P99 | | | $RB_OTHER_CORES |
"
    fb "single b1 f10 c50 w$WORKERS_ALT t$GEN_T_ALT #$i" "-c 50 -t $GEN_T_ALT -b 1 -f \$F10 $COMMON" -- \
        -c 50 -t "$GEN_T_ALT" -b 1 -f "$F10" $COMMON
    SA_R[i]=$FB_RPS SA_99[i]=$FB_P99 SA_50[i]=$FB_P50
    [ "$FB_OK" = 1 ] || SA_BAD=1
    CMP_ROWS_ALT="$CMP_ROWS_ALT| $i | \`featd-bench -c 50 -t $GEN_T_ALT -b 1 -f \$F10 $COMMON\` (featd workers=$WORKERS_ALT) | $(thousands "$FB_RPS") | $(ms "$FB_P50") | $(ms "$FB_P99") | $(ms "$FB_P999") | $(okcol "$FB_OK") | $FB_OTHER_CORES |
"
    log "layout w$WORKERS_ALT #$i: redis GET $(thousands "${RBA_R[i]}") req/s; featd $(thousands "$FB_RPS") req/s p99 $(ms "$FB_P99") ms"
done
RBA_RPS=$(median "${RBA_R[@]}") RBA_P99=$(median "${RBA_99[@]}")
SA_RPS=$(median "${SA_R[@]}") SA_P99=$(median "${SA_99[@]}") SA_P50=$(median "${SA_50[@]}")
RATIO_ALT=$(calc "$SA_RPS / $RBA_RPS" 2)
stop_featd
WORKERS=$WORKERS_MAIN
write_config "$NVIEWS" "$NFEAT"
start_featd
log "layout medians: $WORKERS_ALT workers ratio $RATIO_ALT (p99 $(ms "$SA_P99") ms); featd back on $WORKERS workers"

# ---- embedding view ----
declare -A E_RPS E_EPS E_P50 E_P99 E_P999 E_OK
for b in 1 100; do
    fb "emb b$b" "-c $CONNS -t $GEN_T -b $b -f emb:embedding $COMMON" -- -c "$CONNS" -t "$GEN_T" -b "$b" -f emb:embedding $COMMON
    E_RPS[$b]=$FB_RPS E_EPS[$b]=$FB_EPS E_P50[$b]=$FB_P50 E_P99[$b]=$FB_P99 E_P999[$b]=$FB_P999 E_OK[$b]=$FB_OK
    log "emb b=$b: $(thousands "$FB_RPS") req/s p50 $FB_P50 p99 $FB_P99 us"
done

# ---- open-loop sweeps ----
# Each point: first the Redis-alone baseline (the same generator, rate and
# keys sending featd's MGET straight to Redis), then featd with
# bench/attrib.py sampling the host, Redis and featd; its attribution table
# goes to $OUT/attribution.md.
DAT="$OUT/latency-vs-throughput.dat"
ATTRIB_MD="$OUT/attribution.md"
: >"$DAT"
{
    echo "# Where the open-loop tail went ($RUN_DATE, featd $GIT_REV, $ENTITIES entities)"
    echo
    echo "One table per open-loop point, from \`bench/attrib.py report\` (see bench/README.md)."
    echo
} >"$ATTRIB_MD"
SWEEPS=("1 10" "100 50")
declare -A SW_MAX SW_ROWS
si=0
for sw in "${SWEEPS[@]}"; do
    read -r b f <<<"$sw"
    fb "sweep b$b f$f max" "-c $CONNS -t $GEN_T -b $b -f \$F$f $COMMON" -- -c "$CONNS" -t "$GEN_T" -b "$b" -f "${FL[$f]}" $COMMON
    max=$FB_RPS
    SW_MAX[$si]=$max
    [ "$si" -gt 0 ] && printf '\n\n' >>"$DAT"
    printf '# sweep %d: batch %d x %d features, %d connections; closed-loop max %.0f req/s\n' \
        "$si" "$b" "$f" "$CONNS" "$max" >>"$DAT"
    echo "# pct target_rps achieved_rps p50_us p99_us p999_us ok featd_cores redis_cores gen_cores other_cores redis_alone_p50_us redis_alone_p99_us p99_ratio send_lag_p99_us" >>"$DAT"
    rows=""
    warm_rate=$(calc "$max / 2")
    [ "$warm_rate" -ge 1 ] || warm_rate=1
    log "open b=$b f=$f: ${OPEN_WARM}s unmeasured warm-up at $(thousands "$warm_rate") req/s"
    "$BUILD/featd-bench" --port "$FPORT" -c "$CONNS" -t "$OPEN_T" -b "$b" -f "${FL[$f]}" --rate "$warm_rate" \
        -n "$ENTITIES" -k customer_id -d "$OPEN_WARM" -w 0 >/dev/null 2>>"$WORK/featd-bench.err" || true
    OPEN_ARGS="--stall-ms $STALL_MS"
    for pct in $PCTS; do
        rate=$(calc "$max * $pct / 100")
        [ "$rate" -ge 1 ] || rate=1
        FB_NICE=$OPEN_NICE FB_REDIS=featd fb "sweep b$b f$f $pct% redis-alone" \
            "-c $CONNS -t $OPEN_T -b $b -f \$F$f --rate $rate $OPEN_ARGS $COMMON" -- \
            -c "$CONNS" -t "$OPEN_T" -b "$b" -f "${FL[$f]}" --rate "$rate" $OPEN_ARGS $COMMON
        BL_P50=$FB_P50 BL_P99=$FB_P99 BL_OK=$FB_OK
        echo "$FB" >"$WORK/baseline.json"
        FB_NICE=$OPEN_NICE FB_ATTRIB=1 fb "sweep b$b f$f $pct%" "-c $CONNS -t $OPEN_T -b $b -f \$F$f --rate $rate $OPEN_ARGS $COMMON" -- \
            -c "$CONNS" -t "$OPEN_T" -b "$b" -f "${FL[$f]}" --rate "$rate" $OPEN_ARGS $COMMON
        echo "$FB" >"$WORK/point.json"
        ratio=$(awk -v a="$FB_P99" -v b="$BL_P99" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
        lag99=$(echo "$FB" | sed -n 's/.*"send_lag_us":{[^}]*"p99":\([0-9]*\).*/\1/p')
        echo "$pct $rate $FB_RPS $FB_P50 $FB_P99 $FB_P999 $FB_OK $FB_FEATD_CORES $FB_REDIS_CORES $FB_GEN_CORES $FB_OTHER_CORES $BL_P50 $BL_P99 $ratio ${lag99:-0}" >>"$DAT"
        rows="$rows| $pct% | $(thousands "$rate") | $(thousands "$FB_RPS") | $(ms "$FB_P50") | $(ms "$FB_P99") | $(ms "$FB_P999") | $(ms "$BL_P99")$([ "$BL_OK" = 1 ] || echo ' (ERRORS)') | **$ratio** | $(ms "${lag99:-0}") | $(okcol "$FB_OK") | $FB_FEATD_CORES / $FB_REDIS_CORES / $FB_GEN_CORES / $FB_OTHER_CORES |
"
        if [ -n "$FB_ATTRIB_FILE" ] && [ -s "$FB_ATTRIB_FILE" ]; then
            python3 bench/attrib.py report "$FB_ATTRIB_FILE" --bench "$WORK/point.json" \
                --baseline "$WORK/baseline.json" --resetstat-known \
                --title "batch $b x $f features at $pct% ($(thousands "$rate") req/s offered)" \
                >>"$ATTRIB_MD" 2>>"$WORK/attrib.err" || log "  (attrib.py report failed: see $WORK/attrib.err)"
            echo >>"$ATTRIB_MD"
        fi
        log "open b=$b f=$f $pct% ($rate req/s): achieved $(thousands "$FB_RPS"), p50 $FB_P50 p99 $FB_P99 p99.9 $FB_P999 us;" \
            "Redis alone p99 $BL_P99 us (featd/Redis $ratio); send lag p99 ${lag99:-?} us" \
            "(cores featd $FB_FEATD_CORES redis $FB_REDIS_CORES gen $FB_GEN_CORES other $FB_OTHER_CORES)"
        if [ "$b" = 100 ] && [ "$pct" = 50 ]; then
            H_RATE=$rate H_99=("$FB_P99") H_50=("$FB_P50") H_999=("$FB_P999") H_OK=$FB_OK H_OTHER=("$FB_OTHER_CORES")
        fi
    done
    SW_ROWS[$si]=$rows
    si=$((si + 1))
done
# the target figure: batch 100 x 50 at 50% again, REPS runs in all, median
for ((i = 2; i <= REPS; i++)); do
    FB_NICE=$OPEN_NICE fb "sweep b100 f50 50% #$i" "-c $CONNS -t $OPEN_T -b 100 -f \$F50 --rate $H_RATE $COMMON" -- \
        -c "$CONNS" -t "$OPEN_T" -b 100 -f "$F50" --rate "$H_RATE" $COMMON
    H_99+=("$FB_P99") H_50+=("$FB_P50") H_999+=("$FB_P999") H_OTHER+=("$FB_OTHER_CORES")
    [ "$FB_OK" = 1 ] || H_OK=0
done
H_P99=$(median "${H_99[@]}") H_P50=$(median "${H_50[@]}") H_P999=$(median "${H_999[@]}")
H_ALL=$(for i in "${!H_99[@]}"; do printf '%s (other %s cores), ' "$(ms "${H_99[i]}")" "${H_OTHER[i]}"; done | sed 's/, $//')
log "batch 100 x 50 at 50% ($H_RATE req/s): p99 of $REPS runs: $H_ALL ms; median $(ms "$H_P99") ms"

# ---- idle connections ----
# on a freshly started featd, so that memory kept from the runs above does
# not hide the cost of the connections
RSS_PEAK=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$FPID/status")
RSS_USED=$(rss_kb "$FPID")
kill -0 "$FPID" 2>/dev/null || die "featd died during the run: $(tail -3 "$WORK/featd.log")"
kill "$FPID"
wait "$FPID" 2>/dev/null || true
mv "$WORK/featd.log" "$WORK/featd-1.log"
start_featd
sleep 1
RSS_BEFORE=$(rss_kb "$FPID")
FD_BEFORE=$(fd_count "$FPID")
want=$IDLE_N
if [ $((want + 64)) -gt "$NOFILE" ]; then
    want=$((NOFILE - 64))
    log "ulimit -n is $NOFILE: opening $want idle connections instead of $IDLE_N"
fi
idle_open "$want" "$FPORT"
for _ in $(seq 300); do   # until featd has accepted them all
    [ $(($(fd_count "$FPID") - FD_BEFORE)) -ge "$IDLE_OPENED" ] && break
    sleep 0.1
done
sleep 1
IDLE_ACCEPTED=$(($(fd_count "$FPID") - FD_BEFORE))
RSS_IDLE=$(rss_kb "$FPID")
# featd still serves with them open
fb "idle b1 f10 c50" "-c 50 -t $GEN_T -b 1 -f \$F10 $COMMON (with the idle connections open)" -- \
    -c 50 -t "$GEN_T" -b 1 -f "$F10" $COMMON
I_RPS=$FB_RPS I_P99=$FB_P99 I_OK=$FB_OK
idle_close
sleep 1
RSS_AFTER=$(rss_kb "$FPID")
log "idle: opened $IDLE_OPENED, featd accepted $IDLE_ACCEPTED; VmRSS $RSS_BEFORE -> $RSS_IDLE kB (after close $RSS_AFTER kB)"

kill -0 "$FPID" 2>/dev/null || die "featd died during the run: $(tail -3 "$WORK/featd.log")"
stop_all
TOTAL_S=$(calc "$(now) - $bench_t0" 0)
RETRIES_USED=$((RETRY_BUDGET_START - RETRY_BUDGET))
LOAD_AVG_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- plot ----
gnuplot -e "datafile='$DAT'; outfile='$OUT/latency-vs-throughput.png';
    t0='batch 1 x 10 features (closed-loop max $(thousands "${SW_MAX[0]}") req/s)';
    t1='batch 100 x 50 features (closed-loop max $(thousands "${SW_MAX[1]}") req/s)';
    subtitle='featd $GIT_REV, $RUN_DATE, $ENTITIES entities, $CONNS connections, open loop; 2 shared cores'" \
    bench/plot.gp || log "gnuplot failed"

# ---- report ----
yes_no() { if [ "$(echo "$1" | bc -l)" = 1 ]; then echo "met"; else echo "MISSED"; fi; }
T1=$(yes_no "$S50_RPS >= $RB50_RPS")
T1B=$(yes_no "$S50_P99 <= 1000")
# the layout comparison: both parts of the target in one layout
T1ALT=$(yes_no "$SA_RPS >= $RBA_RPS && $SA_P99 <= 1000")
[ -z "${SA_BAD:-}" ] || T1ALT="MISSED (errors)"
T2=$(yes_no "$S1_P50 / 1000 <= 3 * $RB1_P50")
T3=$(yes_no "${H_P99:-999999} <= 2000")
# a figure from a run with errors or wrong statuses does not count
[ -z "${S50_BAD:-}" ] || { T1="MISSED (errors)"; T1B="MISSED (errors)"; }
[ -z "${S1_BAD:-}" ] || T2="MISSED (errors)"
[ "${H_OK:-0}" = 1 ] || T3="MISSED (errors)"
T4=$(yes_no "$RSS_IDLE < 102400 && $IDLE_ACCEPTED >= 10000")
FB_CMD="build/featd-bench --port \$FEATD_PORT --json"

{
cat <<EOF
# featd benchmark results

Produced by \`bench/run.sh\` on $RUN_DATE (featd $GIT_REV$GIT_DIRTY); the whole run took ${TOTAL_S} s.
**Machine: $NCPU cores ($CPU), $MEM_GB GB RAM, shared by Redis $REDIS_VER, featd ($WORKERS workers) and
the load generators (featd-bench: $GEN_T thread(s), $OPEN_T in the open-loop sweeps; redis-benchmark: 1 thread)**;
load average $LOAD_AVG at the start, $LOAD_AVG_END at the end (1/5/15 min; the run itself keeps ~3-4 runnable, other work on the machine adds to it). Absolute numbers drift on shared machines; ratios against redis-benchmark come from the
same Redis in the same run. Latencies in ms; featd-bench counts them from the (intended) send time,
every response is decoded and every value's status checked ("ok" = 0 errors, all values PRESENT).

## Targets (issue 6)

| target | figure | result |
|---|---|---|
| 1 entity x 10 features, 50 conns: throughput >= \`redis-benchmark -t get -c 50\` | featd $(thousands "$S50_RPS") req/s vs Redis GET $(thousands "$RB50_RPS") req/s = **${RATIO50}x** (medians of $REPS pairs) | $T1 |
| ... and p99 <= 1 ms | p99 **$(ms "$S50_P99") ms** (p50 $(ms "$S50_P50")) | $T1B |
| both, in the other thread layout (featd workers=$WORKERS_ALT, featd-bench -t $GEN_T_ALT) | featd $(thousands "$SA_RPS") req/s vs Redis GET $(thousands "$RBA_RPS") req/s = **${RATIO_ALT}x**, p99 **$(ms "$SA_P99") ms** (p50 $(ms "$SA_P50"); medians of $REPS pairs) | $T1ALT |
| 1 connection, 1 request at a time: p50 <= 3x \`redis-benchmark -c 1 -t get\` p50 | featd p50 $(ms "$S1_P50") ms vs Redis GET p50 $RB1_P50 ms = **${RATIO1}x** (medians of $REPS pairs) | $T2 |
| batch 100 x 50 features: p99 <= 2 ms at 50% of max throughput | at $(thousands "${H_RATE:-0}") req/s offered (50% of $(thousands "${SW_MAX[1]}")): p99 **$(ms "${H_P99:-0}") ms** (median of $REPS runs: $H_ALL; p50 $(ms "${H_P50:-0}"), p99.9 $(ms "${H_P999:-0}")) | $T3 |
| 10,000 idle connections: featd RSS < 100 MB | VmRSS $(calc "$RSS_BEFORE / 1024" 1) MB before, **$(calc "$RSS_IDLE / 1024" 1) MB** with $(thousands "$IDLE_ACCEPTED") idle connections | $T4 |

## Dataset

1 entity \`customer\` (customer_id int64), $NVIEWS views fv00..fv$(printf '%02d' $((NVIEWS - 1))) x $NFEAT doubles
(f0..f9) and view \`emb\` with one float_list of $EMB_DIM floats; $(thousands "$ENTITIES") entities in every view
($(thousands "$LOAD_ROWS") rows). Written through featd's own online-tier write path,
$LOAD_JOBS views at a time, each generated by awk and piped into
\`featd-cli load --config featd.json --view V --file - --mode snapshot\`:
**$(thousands "$LOAD_ROWS") rows in $LOAD_S s = $(thousands "$LOAD_RPS") rows/s** (generation, JSON parsing and
Redis on the same 2 cores). Redis used_memory afterwards: $REDIS_MEM. Generated config: see
\`bench/lib.sh\` write_config ($WORKERS worker(s), max_connections 20000, request_timeout_ms 30000, no TTL).

Feature lists: \`\$F10\` = fv00:f0..fv00:f9 (one view), \`\$F50\` = fv00..fv04 x f0..f9,
\`\$F250\` = fv00..fv24 x f0..f9. Every featd-bench command below is
\`$FB_CMD ARGS\`; keys are uniform over 1..$ENTITIES.

## Next to redis-benchmark (same Redis, same run)

redis-benchmark GETs $(thousands "$ENTITIES") keys of 100 bytes (the size of a packed 10-double featd row).
$REPS interleaved pairs each; the targets table uses the medians.

| # | command | req/s | p50 | p99 | p99.9 | verified | other cores |
|---:|---|---:|---:|---:|---:|---|---:|
$CMP_ROWS50$CMP_ROWS1
Medians at 50 connections: Redis GET $(thousands "$RB50_RPS") req/s (p99 $RB50_P99 ms), featd $(thousands "$S50_RPS") req/s
(p99 $(ms "$S50_P99") ms): throughput ratio featd / Redis GET **$RATIO50**. At 1 connection: Redis GET p50
$RB1_P50 ms, featd p50 $(ms "$S1_P50") ms: ratio **$RATIO1**.

Thread layout: the same 50-connection pairs with featd restarted on $WORKERS_ALT workers and featd-bench on
$GEN_T_ALT threads:

| # | command | req/s | p50 | p99 | p99.9 | verified | other cores |
|---:|---|---:|---:|---:|---:|---|---:|
$CMP_ROWS_ALT
Medians: Redis GET $(thousands "$RBA_RPS") req/s (p99 $RBA_P99 ms), featd on $WORKERS_ALT workers $(thousands "$SA_RPS") req/s
(p99 $(ms "$SA_P99") ms): ratio **$RATIO_ALT**. Two workers and two generator threads make five busy
threads on two cores: more throughput, but Redis waits for a core more often and the tail grows; one
of each (the layout of everything else here) leaves Redis a core of its own.

## Closed loop: batch size x features ($CONNS connections, pipeline 1)

Command: \`featd-bench -c $CONNS -t $GEN_T -b B -f \$F<features> $COMMON\`.

| batch | features | req/s | entities/s | values/s | p50 | p99 | p99.9 | verified | featd CPU µs/req | cores featd / Redis / gen / other |
|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|
EOF
for b in 1 10 100 500; do
    for f in 10 50 250; do
        echo "| $b | $f | $(thousands "${M_RPS[$b,$f]}") | $(thousands "${M_EPS[$b,$f]}") | $(thousands "$(calc "${M_EPS[$b,$f]} * $f")") | $(ms "${M_P50[$b,$f]}") | $(ms "${M_P99[$b,$f]}") | $(ms "${M_P999[$b,$f]}") | $(okcol "${M_OK[$b,$f]}") | ${M_US[$b,$f]} | ${M_CPU[$b,$f]} |"
    done
done
cat <<EOF

CPU columns: featd's CPU time per request (warm-up included, approximate), and the cores used
during the run by featd, Redis, featd-bench and everything else on the machine ("other" is other
people's work; see "Disturbed runs" below).

With $CONNS requests always in flight the latency of the big cells is mostly queueing
($CONNS x the service time); the open-loop sweeps below show latency at a given load.

## Open loop: latency vs throughput

Command: \`featd-bench -c $CONNS -t $OPEN_T -b B -f \$F<features> --rate R $COMMON\`, R = 10%..100% of the
closed-loop maximum measured just before (\`-c $CONNS -t $GEN_T -b B -f \$F<features> $COMMON\`, no --rate).
Latency counts from each request's intended send time (no coordinated omission).
Before each sweep, ${OPEN_WARM} s of unmeasured load at 50% of the maximum. Next to every point, the
same generator at the same rate sends featd's MGET for the same entities and views straight to
Redis (\`featd-bench --redis featd --config featd.json ...\`): "Redis alone p99" and the ratio
featd p99 / Redis-alone p99. "Send lag p99" is how late featd-bench sent (its own wake-ups, or
no free connection). Where each point's p99 went (featd, Redis, host, generator, with evidence):
[attribution.md](attribution.md).
Plot: [latency-vs-throughput.png](latency-vs-throughput.png), data: [latency-vs-throughput.dat](latency-vs-throughput.dat).

![latency vs throughput](latency-vs-throughput.png)

EOF
si=0
for sw in "${SWEEPS[@]}"; do
    read -r b f <<<"$sw"
    cat <<EOF
### batch $b x $f features (closed-loop max $(thousands "${SW_MAX[$si]}") req/s)

| load | offered req/s | achieved req/s | p50 | p99 | p99.9 | Redis alone p99 | featd / Redis p99 | send lag p99 | verified | cores featd / Redis / gen / other |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|
${SW_ROWS[$si]}
EOF
    si=$((si + 1))
done
cat <<EOF
## Embedding view (one float_list of $EMB_DIM floats)

| command | req/s | entities/s | p50 | p99 | p99.9 | verified |
|---|---:|---:|---:|---:|---:|---|
| \`featd-bench -c $CONNS -t $GEN_T -b 1 -f emb:embedding $COMMON\` | $(thousands "${E_RPS[1]}") | $(thousands "${E_EPS[1]}") | $(ms "${E_P50[1]}") | $(ms "${E_P99[1]}") | $(ms "${E_P999[1]}") | $(okcol "${E_OK[1]}") |
| \`featd-bench -c $CONNS -t $GEN_T -b 100 -f emb:embedding $COMMON\` | $(thousands "${E_RPS[100]}") | $(thousands "${E_EPS[100]}") | $(ms "${E_P50[100]}") | $(ms "${E_P99[100]}") | $(ms "${E_P999[100]}") | $(okcol "${E_OK[100]}") |

## 10,000 idle connections

A bash helper (\`idle_open\` in bench/lib.sh) opened $(thousands "$IDLE_OPENED") TCP connections to featd
(\`ulimit -n\` $NOFILE; featd max_connections 20000) that send nothing; featd accepted
$(thousands "$IDLE_ACCEPTED") (its open descriptors grew by that much).

| featd VmRSS (/proc/PID/status) | MB |
|---|---:|
| featd that served every run above: VmRSS at the end / VmHWM (peak) | $(calc "$RSS_USED / 1024" 1) / $(calc "$RSS_PEAK / 1024" 1) |
| freshly restarted featd (same config), before | $(calc "$RSS_BEFORE / 1024" 1) |
| with the idle connections open | $(calc "$RSS_IDLE / 1024" 1) |
| after they closed | $(calc "$RSS_AFTER / 1024" 1) |

While they were open: \`featd-bench -c 50 -t $GEN_T -b 1 -f \$F10 $COMMON\` ran at $(thousands "$I_RPS") req/s,
p99 $(ms "$I_P99") ms ($(okcol "$I_OK")).

## Disturbed runs

Each run's CPU is accounted from /proc: featd's and Redis's own time, the generator's (bash
\`time\`), and the rest of the machine's busy time ("other"). A run during which other work
used more than $OTHER_MAX cores was repeated (up to $RETRIES more times, $RETRY_BUDGET_START in the
whole run; each after waiting up to 10 s for the machine to get quiet) and the least disturbed
attempt kept; $RETRIES_USED repeats were needed in this run.
The "other" column shows what remained: treat rows with other > $OTHER_MAX as disturbed.

## Limits of this measurement

- Redis, featd and the generators share 2 cores; the generator's CPU is taken from featd.
- The open-loop generator sleeps until each send is due (epoll_pwait2, microsecond timeouts);
  the sweeps run it with $OPEN_T thread(s) at nice ${OPEN_NICE:-0}; latencies include the
  generator's own wake-up delays (the send-lag column), so they are pessimistic.
- Both generators start the clock when they write a request, but featd-bench writes the next
  request right after reading an answer, while redis-benchmark waits for its next loop turn
  outside the clock; featd-bench's closed-loop latencies thus follow Little's law (mean = 50 /
  throughput at 50 connections) and redis-benchmark's sit below it.
- Other work on the machine (see the load averages above) shows up as latency spikes; the
  target figures are medians of $REPS runs for that reason.
- Closed-loop figures at 50 connections include queueing: for the big batches p50 is about
  50 x the service time.

## Reproduce

\`make bench\` (or \`bench/run.sh\`; \`BENCH_QUICK=1 bench/run.sh\` for a 100k-entity trial). Every
raw featd-bench / redis-benchmark result with its command line is in [latest.jsonl](latest.jsonl);
the per-point attribution tables are in [attribution.md](attribution.md).
EOF
} >"$OUT/latest.md"

# ---- summary ----
cat <<EOF

==== featd benchmark ($RUN_DATE, featd $GIT_REV, $ENTITIES entities, ${TOTAL_S}s) ====
load: $(thousands "$LOAD_ROWS") rows in ${LOAD_S}s = $(thousands "$LOAD_RPS") rows/s
1x10 features @50 conns : featd $(thousands "$S50_RPS") req/s p99 $(ms "$S50_P99") ms | redis GET $(thousands "$RB50_RPS") req/s p99 $RB50_P99 ms | ratio $RATIO50 [$T1, p99 $T1B]
1x10 features @1 conn   : featd p50 $(ms "$S1_P50") ms | redis GET p50 $RB1_P50 ms | ratio $RATIO1 (target <= 3) [$T2]
100x50 features @50% max: $(thousands "${H_RATE:-0}") req/s offered, p99 $(ms "${H_P99:-0}") ms (target <= 2 ms) [$T3]
10k idle connections    : featd RSS $(calc "$RSS_BEFORE / 1024" 1) -> $(calc "$RSS_IDLE / 1024" 1) MB ($IDLE_ACCEPTED accepted) [$T4]
closed-loop matrix (req/s | p99 ms), $CONNS connections:
EOF
printf '  %-8s %22s %22s %22s\n' batch "10 features" "50 features" "250 features"
for b in 1 10 100 500; do
    printf '  %-8s' "$b"
    for f in 10 50 250; do
        printf ' %12s | %7s' "$(thousands "${M_RPS[$b,$f]}")" "$(ms "${M_P99[$b,$f]}")"
    done
    echo
done
echo "results: $OUT/latest.md, $OUT/latency-vs-throughput.png, $OUT/attribution.md"
