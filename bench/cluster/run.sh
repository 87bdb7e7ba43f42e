#!/usr/bin/env bash
# bench/cluster/run.sh — featd on one Redis against featd on a local 3-master
# Redis Cluster, in one run on this machine (issue 13; report section
# "Redis Cluster (issue 13)" of BENCHMARKS.md).
#
#   1. waits (up to CL_WAIT s) for the 1-minute load to drop to CL_LOAD_MAX
#   2. starts a private redis-server (A) and a 3-master cluster (B:
#      redis-server --cluster-enabled yes on free loopback ports whose bus
#      port +10000 is free too, redis-cli --cluster create
#      --cluster-replicas $CL_REPLICAS), all with the same settings
#   3. generates the same rows (CL_ENTITIES entities x 5 views fv00..fv04 x
#      10 doubles, bench/lib.sh gen_rows) and loads them into A and into B
#      with `featd-cli load --mode snapshot` (rows/s of each)
#   4. starts one featd (CL_WORKERS workers) on A and one on B, both idle
#      while the other is measured, and runs featd-bench against each in
#      turn, interleaved, CL_REPS times: 1 entity x 10 features and batch
#      100 x 50 features, closed loop; then (CL_OPEN=1) open loop at 50 % of
#      A's median closed-loop maximum, CL_REPS times too. Per run: req/s, p50/p99, errors,
#      featd CPU per request (/proc/<pid>/stat utime+stime delta / the
#      delta of featd_requests_total), Redis CPU per request (INFO
#      used_cpu_user+sys summed over the deployment's nodes), Redis
#      commands per request (featd_redis_commands_total), other work's cores
#   5. `featd materialize` (one-shot, pacing off) of one Parquet snapshot
#      (CL_MAT_ROWS rows, bench/materialize/gen.mjs via DuckDB; cached as
#      /tmp/featd-matbench-N.parquet like bench/materialize/run.sh) into A and
#      B, interleaved, CL_MAT_REPS times: rows/s, featd and Redis CPU
#   6. writes a markdown report ($CL_OUT, default build/bench/cluster.md)
#      with medians, cluster / single ratios and the "on paper" sizing model,
#      and every run as JSON lines next to it (cluster.jsonl)
#
# Usage: bench/cluster/run.sh   (from anywhere; builds with make unless
#        CL_NO_BUILD=1). Env: CL_ENTITIES (200000), CL_REPS (3), CL_SECONDS
#        (5), CL_WARMUP (1), CL_CONNS (50), CL_GEN_THREADS (1), CL_WORKERS
#        (2), CL_OPEN (1), CL_OPEN_SECONDS (10), CL_REPLICAS (0),
#        CL_MAT_ROWS (2000000), CL_MAT_REPS (3), CL_REDIS_ARGS, CL_LOAD_MAX
#        (1.5), CL_WAIT (600), CL_OUT, CL_KEEP=1 keeps the scratch dir.
# Every process it starts is stopped by pid on exit (trap); it never touches
# another process.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
BUILD=${BUILD:-$ROOT/build}
ENTITIES=${CL_ENTITIES:-200000}
REPS=${CL_REPS:-3}
SECS=${CL_SECONDS:-5}
WARM=${CL_WARMUP:-1}
CONNS=${CL_CONNS:-50}
GEN_T=${CL_GEN_THREADS:-1}
WORKERS=${CL_WORKERS:-2}
OPEN=${CL_OPEN:-1}
OPEN_SECS=${CL_OPEN_SECONDS:-10}
REPLICAS=${CL_REPLICAS:-0}
MAT_ROWS=${CL_MAT_ROWS:-2000000}
MAT_REPS=${CL_MAT_REPS:-3}
LOAD_MAX=${CL_LOAD_MAX:-1.5}
WAIT_MAX=${CL_WAIT:-600}
OUTMD=${CL_OUT:-$BUILD/bench/cluster.md}
OUTJ=${OUTMD%.md}.jsonl
NVIEWS=5
NFEAT=10
MASTERS=3
WORK=$(mktemp -d "${TMPDIR:-/tmp}/featd-clbench-XXXXXX")
OUT=$WORK   # lib.sh writes nothing here that we read, but expects it

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

# ---- processes: every pid we start, stopped on exit ----

PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    if [ "${CL_KEEP:-0}" = 1 ]; then log "scratch kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# bus_free_port: a port P in 20000..50000 with P and P+10000 (the cluster
# bus) both free right now.
bus_free_port() {
    local p
    for _ in $(seq 100); do
        p=$(shuf -i 20000-50000 -n 1)
        port_busy "$p" || port_busy $((p + 10000)) || { echo "$p"; return 0; }
    done
    die "no free port pair found"
}

# redis_up NAME PORT [ARGS...]: a private redis-server (no persistence),
# checked to be ours by its process_id; prints nothing, appends its pid to
# PIDS and sets UP_PID.
redis_up() {
    local name=$1 port=$2 i pid
    shift 2
    mkdir -p "$WORK/$name"
    # shellcheck disable=SC2086  # CL_REDIS_ARGS is a list of options
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
        --dir "$WORK/$name" --maxclients 1000 "$@" ${CL_REDIS_ARGS:-} >"$WORK/$name.log" 2>&1 &
    UP_PID=$!
    PIDS+=("$UP_PID")
    for i in $(seq 100); do
        redis-cli -p "$port" ping >/dev/null 2>&1 && break
        kill -0 "$UP_PID" 2>/dev/null || die "redis-server $name exited: $(tail -2 "$WORK/$name.log")"
        sleep 0.1
    done
    pid=$(redis-cli -p "$port" info server | tr -d '\r' | sed -n 's/^process_id://p')
    [ "$pid" = "$UP_PID" ] || die "port $port answered by another redis-server (pid $pid, ours $UP_PID)"
}

# redis_cpu PORT...: used_cpu_sys + used_cpu_user (seconds) summed over the nodes.
redis_cpu() {
    local p
    for p in "$@"; do redis-cli -p "$p" info cpu; done | tr -d '\r' |
        awk -F: '/^used_cpu_(sys|user):/ { s += $2 } END { printf "%.6f", s }'
}

# metric APORT NAME: the sum of a featd metric's samples (all labels).
metric() {
    curl -s "http://127.0.0.1:$1/metrics" |
        awk -v m="$2" '$1 == m || index($1, m "{") == 1 { s += $2 } END { printf "%.0f", s }'
}

# req_total APORT: featd_requests_total of lookups (every code).
req_total() {
    curl -s "http://127.0.0.1:$1/metrics" |
        awk 'index($1, "featd_requests_total{") == 1 && $1 ~ /get_online_features/ { s += $2 } END { printf "%.0f", s }'
}

machine_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }

load1() { cut -d' ' -f1 /proc/loadavg; }

# ---- 0: a quiet moment, the build ----

UPTIME_BEFORE=$(uptime)
WAITED=0
while awk -v l="$(load1)" -v m="$LOAD_MAX" 'BEGIN { exit !(l > m) }'; do
    [ "$WAITED" -lt "$WAIT_MAX" ] || { log "load still $(load1) after ${WAITED} s: running anyway"; break; }
    [ "$WAITED" = 0 ] && log "1-minute load $(load1) > $LOAD_MAX: waiting up to $WAIT_MAX s"
    sleep 15
    WAITED=$((WAITED + 15))
done
UPTIME_START=$(uptime)
START_DATE=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
log "start: $UPTIME_START"

if [ "${CL_NO_BUILD:-0}" != 1 ]; then
    make -s -j2 all >&2 || die "make failed"
fi
for b in featd featd-cli featd-bench; do [ -x "$BUILD/$b" ] || die "$BUILD/$b missing"; done
command -v curl >/dev/null || die "curl not found"
mkdir -p "$(dirname "$OUTMD")"
: >"$OUTJ"

# ---- 1: the deployments ----

SPORT=$(bus_free_port)
redis_up single "$SPORT"

SINGLE_PORTS=("$SPORT")

NNODES=$((MASTERS * (1 + REPLICAS)))
CPORTS=()
CRPIDS=()
for ((i = 0; i < NNODES; i++)); do
    p=$(bus_free_port)
    while [[ " ${CPORTS[*]} $SPORT " == *" $p "* ]]; do p=$(bus_free_port); done
    redis_up "node$i" "$p" --cluster-enabled yes --cluster-config-file "$WORK/node$i/nodes.conf" \
        --cluster-node-timeout 2000
    CPORTS+=("$p")
    CRPIDS+=("$UP_PID")
done
addrs=()
for p in "${CPORTS[@]}"; do addrs+=("127.0.0.1:$p"); done
redis-cli --cluster create "${addrs[@]}" --cluster-replicas "$REPLICAS" --cluster-yes \
    >"$WORK/cluster-create.log" 2>&1 || die "redis-cli --cluster create failed: $(tail -3 "$WORK/cluster-create.log")"
for i in $(seq 200); do
    ok=0
    for p in "${CPORTS[@]}"; do
        redis-cli -p "$p" cluster info | tr -d '\r' | grep -q '^cluster_state:ok' &&
            redis-cli -p "$p" cluster info | tr -d '\r' | grep -q '^cluster_slots_ok:16384' && ok=$((ok + 1))
    done
    [ "$ok" = "$NNODES" ] && break
    [ "$i" -lt 200 ] || die "cluster did not settle"
    sleep 0.1
done
# the masters (data and CPU of a replica count too: it replays every write)
CMASTERS=()
for p in "${CPORTS[@]}"; do
    redis-cli -p "$p" role | head -1 | grep -q master && CMASTERS+=("$p")
done
log "single node :$SPORT; cluster ${#CMASTERS[@]} masters + $((NNODES - ${#CMASTERS[@]})) replicas: ${CPORTS[*]}"

# write_cfg NAME REDIS_JSON FPORT APORT: $WORK/NAME.json, the 5 bench views.
write_cfg() {
    local feats="" views="" f v
    for ((f = 0; f < NFEAT; f++)); do
        feats="$feats${feats:+, }{ \"name\": \"f$f\", \"type\": \"double\" }"
    done
    for ((v = 0; v < NVIEWS; v++)); do
        views="$views${views:+,
}    { \"name\": \"$(printf 'fv%02d' "$v")\", \"entities\": [\"customer\"], \"ttl_seconds\": 0, \"features\": [ $feats ] }"
    done
    cat >"$WORK/$1.json" <<EOT
{
  "server": {
    "listen": "127.0.0.1:$3", "admin_listen": "127.0.0.1:$4", "workers": $WORKERS,
    "max_connections": 20000, "max_entities_per_request": 1000,
    "request_timeout_ms": 30000, "data_dir": "$WORK/data-$1", "log_level": "warn"
  },
  "redis": { $2, "key_prefix": "cb" },
  "entities": [ { "name": "customer", "join_keys": [ { "name": "customer_id", "type": "int64" } ] } ],
  "feature_views": [
$views
  ]
}
EOT
}

CLUSTER_JSON="\"cluster_nodes\": [\"127.0.0.1:${CPORTS[0]}\", \"127.0.0.1:${CPORTS[1]}\"]"
declare -A FPORT APORT FPIDX RPORTS_OF
for d in single cluster; do
    FPORT[$d]=$(free_port)
    APORT[$d]=$(free_port)
done
write_cfg single "\"url\": \"redis://127.0.0.1:$SPORT/0\"" "${FPORT[single]}" "${APORT[single]}"
write_cfg cluster "$CLUSTER_JSON" "${FPORT[cluster]}" "${APORT[cluster]}"
RPORTS_OF[single]="${SINGLE_PORTS[*]}"
RPORTS_OF[cluster]="${CPORTS[*]}"

# ---- 2: the same rows into both ----

# load_dep DEP: the 5 views into deployment DEP, 2 views at a time; sets LOAD_RPS[DEP].
declare -A LOAD_RPS LOAD_S
load_dep() {
    local d=$1 v t0 t1 pids=() failed=0
    t0=$(now)
    for ((v = 0; v < NVIEWS; v++)); do
        (gen_rows $((v + 1)) "$ENTITIES" "$NFEAT" |
            "$BUILD/featd-cli" load --config "$WORK/$d.json" --view "$(printf 'fv%02d' "$v")" --file - \
                --mode snapshot >"$WORK/load-$d-$v.log" 2>&1) &
        pids+=("$!")
        if [ "${#pids[@]}" -ge 2 ]; then
            wait "${pids[0]}" || failed=1
            pids=("${pids[@]:1}")
        fi
    done
    for v in "${pids[@]}"; do wait "$v" || failed=1; done
    t1=$(now)
    [ "$failed" = 0 ] || die "featd-cli load into $d failed: $(cat "$WORK"/load-"$d"-*.log | tail -5)"
    LOAD_S[$d]=$(calc "$t1 - $t0" 1)
    LOAD_RPS[$d]=$(calc "$ENTITIES * $NVIEWS / ($t1 - $t0)")
    log "loaded $d: $((ENTITIES * NVIEWS)) rows in ${LOAD_S[$d]} s = ${LOAD_RPS[$d]} rows/s"
}
load_dep single
load_dep cluster
KEYS_SINGLE=$(redis-cli -p "$SPORT" dbsize)
KEYS_CLUSTER=""
for p in "${CMASTERS[@]}"; do KEYS_CLUSTER="$KEYS_CLUSTER${KEYS_CLUSTER:+ / }$(redis-cli -p "$p" dbsize)"; done
MEM_SINGLE=$(redis-cli -p "$SPORT" info memory | tr -d '\r' | sed -n 's/^used_memory://p')
MEM_CLUSTER=0
for p in "${CMASTERS[@]}"; do
    MEM_CLUSTER=$((MEM_CLUSTER + $(redis-cli -p "$p" info memory | tr -d '\r' | sed -n 's/^used_memory://p')))
done
log "keys: single $KEYS_SINGLE, cluster masters $KEYS_CLUSTER"

# ---- 3: featd in front of each ----

for d in single cluster; do
    "$BUILD/featd" --config "$WORK/$d.json" >"$WORK/featd-$d.log" 2>&1 &
    FPIDX[$d]=$!
    PIDS+=("${FPIDX[$d]}")
    for i in $(seq 100); do
        kill -0 "${FPIDX[$d]}" 2>/dev/null || die "featd ($d) exited: $(tail -3 "$WORK/featd-$d.log")"
        "$BUILD/featd-cli" --port "${FPORT[$d]}" ping >/dev/null 2>&1 && break
        [ "$i" -lt 100 ] || die "featd ($d) did not answer ping"
        sleep 0.1
    done
done

F10=$(for ((f = 0; f < 10; f++)); do printf 'fv00:f%d,' "$f"; done | sed 's/,$//')
F50=$(for ((v = 0; v < 5; v++)); do for ((f = 0; f < 10; f++)); do printf 'fv%02d:f%d,' "$v" "$f"; done; done |
    sed 's/,$//')

# run DEP LABEL ARGS...: featd-bench --json against DEP's featd; appends a
# JSON line to $OUTJ and sets R_RPS R_P50 R_P99 R_OK R_FUS (featd CPU µs per
# request) R_RUS (Redis µs per request, all nodes) R_CMDS (Redis commands
# per request) R_OTHER (cores of other work) R_ERR (error summary).
run() {
    local d=$1 label=$2 fb f0 f1 r0 r1 q0 q1 c0 c1 m0 m1 t0 t1 tm reqs present total
    shift 2
    # shellcheck disable=SC2086  # RPORTS_OF is a port list
    r0=$(redis_cpu ${RPORTS_OF[$d]})
    q0=$(req_total "${APORT[$d]}")
    c0=$(metric "${APORT[$d]}" featd_redis_commands_total)
    f0=$(proc_ticks "${FPIDX[$d]}")
    m0=$(machine_busy)
    t0=$(now)
    fb=$( { TIMEFORMAT='%U %S'; time "$BUILD/featd-bench" --port "${FPORT[$d]}" --json -c "$CONNS" -t "$GEN_T" \
        -n "$ENTITIES" -w "$WARM" "$@" 2>>"$WORK/featd-bench.err"; } 2>"$WORK/fb.time" || true)
    t1=$(now)
    m1=$(machine_busy)
    f1=$(proc_ticks "${FPIDX[$d]}")
    # shellcheck disable=SC2086
    r1=$(redis_cpu ${RPORTS_OF[$d]})
    q1=$(req_total "${APORT[$d]}")
    c1=$(metric "${APORT[$d]}" featd_redis_commands_total)
    tm=$(tail -n 1 "$WORK/fb.time")
    [ -n "$fb" ] || fb='{"requests_per_s":0,"errors":1,"io_errors":1,"latency_us":{"p50":0,"p99":0}}'
    reqs=$((q1 - q0))
    [ "$reqs" -gt 0 ] || reqs=1
    R_RPS=$(jnum "$fb" requests_per_s)
    R_P50=$(jnum "$fb" p50)
    R_P99=$(jnum "$fb" p99)
    R_FUS=$(calc "($f1 - $f0) / $CLK_TCK * 1000000 / $reqs" 1)
    R_RUS=$(calc "($r1 - $r0) * 1000000 / $reqs" 1)
    R_CMDS=$(calc "($c1 - $c0) / $reqs" 2)
    R_OTHER=$(awk -v b="$((m1 - m0))" -v hz="$CLK_TCK" -v f="$((f1 - f0))" -v r="$(calc "$r1 - $r0" 3)" \
        -v g="$tm" -v w="$(calc "$t1 - $t0" 3)" 'BEGIN { split(g, a, " ");
        o = b / hz - f / hz - r - a[1] - a[2]; if (o < 0) o = 0; printf "%.2f", o / w }')
    present=$(jnum "$fb" PRESENT)
    total=$(echo "$fb" | sed -n 's/.*"statuses":{\([^}]*\)}.*/\1/p' | tr ',' '\n' | sed 's/.*://' |
        awk '{ s += $1 } END { print s + 0 }')
    R_OK=0
    R_ERR="errors $(jnum "$fb" errors), io_errors $(jnum "$fb" io_errors)"
    if [ "$(jnum "$fb" errors)" = 0 ] && [ "$(jnum "$fb" io_errors)" = 0 ] && [ "${present:-0}" -gt 0 ] &&
        [ "$present" = "$total" ]; then
        R_OK=1
    else
        R_ERR="$R_ERR; $(echo "$fb" | sed -n 's/.*\("error_codes":{[^}]*}\).*/\1/p'); statuses $(echo "$fb" |
            sed -n 's/.*"statuses":{\([^}]*\)}.*/\1/p')"
        log "  $d $label: NOT OK ($R_ERR)"
    fi
    printf '{"deployment":"%s","label":"%s","args":"%s","featd_us_per_req":%s,"redis_us_per_req":%s,"redis_cmds_per_req":%s,"other_cores":%s,"requests_counted":%s,"ok":%s,"result":%s}\n' \
        "$d" "$label" "$*" "$R_FUS" "$R_RUS" "$R_CMDS" "$R_OTHER" "$reqs" "$R_OK" "$fb" >>"$OUTJ"
    log "  $d $label: $R_RPS req/s p50 $R_P50 p99 $R_P99 us, featd $R_FUS us/req, redis $R_RUS us/req, $R_CMDS cmds/req, other $R_OTHER"
}

# per-run figures, keyed "DEP:SHAPE" -> space-separated list over reps
declare -A L_RPS L_P50 L_P99 L_FUS L_RUS L_CMDS L_OTHER L_OK
add() { L_RPS[$1]+="$R_RPS "; L_P50[$1]+="$R_P50 "; L_P99[$1]+="$R_P99 "; L_FUS[$1]+="$R_FUS ";
    L_RUS[$1]+="$R_RUS "; L_CMDS[$1]+="$R_CMDS "; L_OTHER[$1]+="$R_OTHER "; L_OK[$1]=$(( ${L_OK[$1]:-1} & R_OK )); }
med() { # shellcheck disable=SC2086
    median $1; }

declare -A SHAPE_ARGS=([s1]="-b 1 -f $F10" [b100]="-b 100 -f $F50")
for d in single cluster; do   # one unmeasured pass to warm both (links, caches)
    # shellcheck disable=SC2086
    "$BUILD/featd-bench" --port "${FPORT[$d]}" -c "$CONNS" -t "$GEN_T" -n "$ENTITIES" -w 0 -d 1 -b 100 -f "$F50" \
        >/dev/null 2>&1 || true
done
for ((rep = 1; rep <= REPS; rep++)); do
    log "closed loop, repetition $rep/$REPS"
    for s in s1 b100; do
        for d in single cluster; do
            # shellcheck disable=SC2086
            run "$d" "$s closed rep $rep" -d "$SECS" ${SHAPE_ARGS[$s]}
            add "$d:$s"
        done
    done
done

declare -A RATE
if [ "$OPEN" = 1 ]; then
    for s in s1 b100; do RATE[$s]=$(calc "$(med "${L_RPS[single:$s]}") / 2"); done
    for ((rep = 1; rep <= REPS; rep++)); do
        log "open loop at 50 % of single's closed-loop max, repetition $rep/$REPS"
        for s in s1 b100; do
            for d in single cluster; do
                # shellcheck disable=SC2086
                run "$d" "$s open ${RATE[$s]} rep $rep" -d "$OPEN_SECS" -w 2 --rate "${RATE[$s]}" ${SHAPE_ARGS[$s]}
                add "$d:$s:open"
            done
        done
    done
fi

declare -A FM
for d in single cluster; do
    for m in featd_redis_nodes featd_redis_redirects_total featd_redis_topology_refreshes_total \
        featd_redis_errors_total featd_redis_reconnects_total featd_redis_cluster_retries_total \
        featd_generation_retries_total featd_read_window_retries_total; do
        FM[$d:$m]=$(metric "${APORT[$d]}" "$m")
    done
    kill "${FPIDX[$d]}" 2>/dev/null || true
    wait "${FPIDX[$d]}" 2>/dev/null || true
done

# ---- 4: materializer, one-shot ----

DATA=${CL_MAT_DATA:-${TMPDIR:-/tmp}/featd-matbench-$MAT_ROWS.parquet}
if [ ! -s "$DATA" ]; then
    need_node_deps || die "node + DuckDB (bench/package.json) are needed to write the Parquet snapshot"
    (cd "$ROOT/bench/materialize" && node gen.mjs "$DATA.tmp" "$MAT_ROWS" >&2)
    mv "$DATA.tmp" "$DATA"
fi
write_mat_cfg() {
    mkdir -p "$WORK/src-$1"
    cat >"$WORK/mat-$1.json" <<EOF
{ "server": { "data_dir": "$WORK/data-$1", "log_level": "warn" },
  "redis": { $2, "key_prefix": "cm", "timeout_ms": 5000 },
  "entities": [ { "name": "e", "join_keys": [ { "name": "entity_id", "type": "int64" } ] } ],
  "feature_views": [ { "name": "bench", "entities": ["e"], "features": [
      {"name":"d0","type":"double"},{"name":"d1","type":"double"},{"name":"d2","type":"double"},
      {"name":"d3","type":"double"},{"name":"i0","type":"int64"},{"name":"i1","type":"int64"},
      {"name":"f0","type":"float"},{"name":"b0","type":"bool"},{"name":"s0","type":"string"},
      {"name":"t0","type":"timestamp"},{"name":"emb","type":"float_list"} ],
    "source": { "path": "$WORK/src-$1", "event_timestamp_column": "event_ts" },
    "materialization": { "mode": "snapshot", "interval_seconds": 1 } } ] }
EOF
}
write_mat_cfg single "\"url\": \"redis://127.0.0.1:$SPORT/0\""
write_mat_cfg cluster "$CLUSTER_JSON"
declare -A M_RPS M_FCPU M_RCPU
for ((rep = 1; rep <= MAT_REPS; rep++)); do
    for d in single cluster; do
        ln "$DATA" "$WORK/src-$d/snap-$rep.parquet" 2>/dev/null || cp "$DATA" "$WORK/src-$d/snap-$rep.parquet"
        # shellcheck disable=SC2086
        r0=$(redis_cpu ${RPORTS_OF[$d]})
        t0=$(now)
        { TIMEFORMAT='%U %S'; time FEATD_MATERIALIZE_PACING=off "$BUILD/featd" materialize --config "$WORK/mat-$d.json" \
            >"$WORK/mat-$d-$rep.out" 2>&1; } 2>"$WORK/mat.time" ||
            die "featd materialize ($d) failed: $(tail -5 "$WORK/mat-$d-$rep.out")"
        t1=$(now)
        # shellcheck disable=SC2086
        r1=$(redis_cpu ${RPORTS_OF[$d]})
        grep -q 'applied snapshot' "$WORK/mat-$d-$rep.out" || die "featd materialize ($d): $(cat "$WORK/mat-$d-$rep.out")"
        rps=$(calc "$MAT_ROWS / ($t1 - $t0)")
        fcpu=$(awk '{ printf "%.2f", $1 + $2 }' "$WORK/mat.time")
        rcpu=$(calc "$r1 - $r0" 2)
        k=$d:replace
        [ "$rep" = 1 ] && k=$d:first
        M_RPS[$k]+="$rps "
        M_FCPU[$k]+="$fcpu "
        M_RCPU[$k]+="$rcpu "
        printf '{"deployment":"%s","label":"materialize rep %d","rows":%d,"seconds":%s,"rows_per_s":%s,"featd_cpu_s":%s,"redis_cpu_s":%s,"line":"%s"}\n' \
            "$d" "$rep" "$MAT_ROWS" "$(calc "$t1 - $t0" 3)" "$rps" "$fcpu" "$rcpu" \
            "$(tr -d '"\n' <"$WORK/mat-$d-$rep.out")" >>"$OUTJ"
        log "materialize $d rep $rep: $rps rows/s, featd ${fcpu} s CPU, redis ${rcpu} s CPU"
        rm -f "$WORK/src-$d/snap-$rep.parquet"
    done
done
UPTIME_AFTER=$(uptime)
END_DATE=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
log "end: $UPTIME_AFTER"

# ---- 5: report ----

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
okc() { if [ "${1:-0}" = 1 ]; then echo ok; else echo "**ERRORS**"; fi; }
row() { # row DEP KEY: a table row of the medians
    local k="$1:$2"
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$(thousands "$(med "${L_RPS[$k]}")")" \
        "$(ms "$(med "${L_P50[$k]}")")" "$(ms "$(med "${L_P99[$k]}")")" "$(med "${L_FUS[$k]}")" \
        "$(med "${L_RUS[$k]}")" "$(med "${L_CMDS[$k]}")" "$(okc "${L_OK[$k]}")" "${L_OTHER[$k]% }"
}
cmpline() { # cmpline KEY: cluster / single ratios
    local s="single:$1" c="cluster:$1"
    printf 'cluster / single: req/s **%s**, p99 **%s**, featd CPU/request %s, Redis CPU/request %s.\n' \
        "$(ratio "$(med "${L_RPS[$c]}")" "$(med "${L_RPS[$s]}")")" \
        "$(ratio "$(med "${L_P99[$c]}")" "$(med "${L_P99[$s]}")")" \
        "$(ratio "$(med "${L_FUS[$c]}")" "$(med "${L_FUS[$s]}")")" \
        "$(ratio "$(med "${L_RUS[$c]}")" "$(med "${L_RUS[$s]}")")"
}

# "on paper": per request, Redis CPU = w + o * nodes touched (w: the key
# work, o: one more node's command + round trip); featd likewise. Solved from
# the single node (1 node) and the cluster (nodes touched = min(masters,
# batch); 1 for a single entity).
NM=${#CMASTERS[@]}
R1=$(med "${L_RUS[single:b100]}")
RN=$(med "${L_RUS[cluster:b100]}")
F1=$(med "${L_FUS[single:b100]}")
FN=$(med "${L_FUS[cluster:b100]}")
O_R=$(awk -v a="$R1" -v b="$RN" -v n="$NM" 'BEGIN { o = (b - a) / (n - 1); if (o < 0) o = 0; printf "%.1f", o }')
W_R=$(awk -v a="$R1" -v o="$O_R" 'BEGIN { w = a - o; if (w < 0) w = 0; printf "%.1f", w }')
O_F=$(awk -v a="$F1" -v b="$FN" -v n="$NM" 'BEGIN { o = (b - a) / (n - 1); if (o < 0) o = 0; printf "%.1f", o }')
W_F=$(awk -v a="$F1" -v o="$O_F" 'BEGIN { w = a - o; if (w < 0) w = 0; printf "%.1f", w }')
S_R1=$(med "${L_RUS[single:s1]}"); S_RN=$(med "${L_RUS[cluster:s1]}")
S_F1=$(med "${L_FUS[single:s1]}"); S_FN=$(med "${L_FUS[cluster:s1]}")
UTIL=0.7
# paper N: req/s of N masters (batch 100 x 50) at UTIL per Redis core, and featd cores for it
paper_row() {
    local n=$1 line
    line=$(awk -v n="$n" -v w="$W_R" -v o="$O_R" -v wf="$W_F" -v of="$O_F" -v u="$UTIL" 'BEGIN {
        t = (n < 100 ? n : 100); r = w + o * t; f = wf + of * t;
        x = (r > 0 ? n * u * 1e6 / r : 0); fc = x * f / 1e6;
        printf "%d %.0f %.1f %.0f %.1f %d", n, r, r / n, x, f, int(fc / u + 0.999) }')
    # shellcheck disable=SC2086  # five numbers
    set -- $line
    printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$2" "$3" "$(thousands "$4")" "$5" "$6"
}
single_row() {
    local n=$1 line
    line=$(awk -v n="$n" -v r="$S_RN" -v f="$S_FN" -v u="$UTIL" 'BEGIN { x = (r > 0 ? n * u * 1e6 / r : 0);
        printf "%.0f %d", x, int(x * f / 1e6 / u + 0.999) }')
    # shellcheck disable=SC2086  # five numbers
    set -- $line
    printf '| %s | %s | %s |\n' "$n" "$(thousands "$1")" "$2"
}
cmd="bench/cluster/run.sh"
envs=""
for v in CL_ENTITIES CL_REPS CL_SECONDS CL_WARMUP CL_CONNS CL_GEN_THREADS CL_WORKERS CL_OPEN CL_REPLICAS \
    CL_MAT_ROWS CL_MAT_REPS CL_REDIS_ARGS; do
    [ -z "${!v:-}" ] || envs="$envs$v=${!v} "
done
{
cat <<EOF
Run: \`$envs$cmd\` (commit $(git -C "$ROOT" rev-parse --short HEAD)), $START_DATE to $END_DATE, $(nproc) cores shared with other engineers' builds and tests.
Machine load: before \`$UPTIME_BEFORE\`$( [ "$WAITED" -gt 0 ] && echo "; waited $WAITED s for the 1-minute load to drop to $LOAD_MAX (at start: \`$UPTIME_START\`)"); after \`$UPTIME_AFTER\`.

Deployments, started by the script on free loopback ports, same settings (no persistence):
**single** = one \`redis-server\`; **cluster** = $NM masters$( [ "$REPLICAS" -gt 0 ] && echo " + $((NNODES - NM)) replicas") (\`redis-server --cluster-enabled yes\`,
\`redis-cli --cluster create --cluster-replicas $REPLICAS\`); Redis $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p').
Data: $(thousands "$ENTITIES") entities x $NVIEWS views fv00..fv04 x $NFEAT doubles, the same rows (bench/lib.sh \`gen_rows\`) loaded into each with
\`featd-cli load --mode snapshot\` (2 views at a time): single $(thousands "${LOAD_RPS[single]}") rows/s, cluster $(thousands "${LOAD_RPS[cluster]}") rows/s
(featd-cli's JSON parsing is most of that cost). Keys: single $KEYS_SINGLE; cluster masters $KEYS_CLUSTER; used_memory single $(thousands "$MEM_SINGLE") B, cluster masters together $(thousands "$MEM_CLUSTER") B.

featd with $WORKERS workers in front of each (both daemons up, the one not measured idle), driven by
\`featd-bench --port P -c $CONNS -t $GEN_T -n $ENTITIES -w $WARM -d $SECS -b B -f LIST\`, single and cluster interleaved,
$REPS repetitions, medians (\`-b 1 -f fv00:f0..f9\` = 1 x 10, \`-b 100 -f fv00..fv04:f0..f9\` = 100 x 50).
CPU per request: featd = /proc/<pid>/stat utime+stime delta ÷ the delta of \`featd_requests_total\` (warm-up included in both);
Redis = \`INFO\` used_cpu_user+sys delta summed over the deployment's nodes ÷ the same requests; commands/request from
\`featd_redis_commands_total\`. "other" = cores other work on the machine used during each run.

| deployment | req/s | p50 ms | p99 ms | featd µs CPU/req | Redis µs CPU/req (all nodes) | Redis cmds/req | verified | other cores per rep |
|---|---:|---:|---:|---:|---:|---:|---|---|
EOF
echo "| **1 entity x 10 features, closed loop** | | | | | | | | |"
row single s1
row cluster s1
echo "| **batch 100 x 50 features, closed loop** | | | | | | | | |"
row single b100
row cluster b100
if [ "$OPEN" = 1 ]; then
    echo "| **1 x 10, open loop at $(thousands "${RATE[s1]}") req/s (50 % of single's max)** | | | | | | | | |"
    row single s1:open
    row cluster s1:open
    echo "| **100 x 50, open loop at $(thousands "${RATE[b100]}") req/s (50 % of single's max)** | | | | | | | | |"
    row single b100:open
    row cluster b100:open
fi
echo
echo "1 x 10: $(cmpline s1)"
echo "100 x 50: $(cmpline b100)"
if [ "$OPEN" = 1 ]; then
    echo "Open loop ($REPS runs each, $OPEN_SECS s after 2 s warm-up, medians): 1 x 10 p99 cluster / single $(ratio "$(med "${L_P99[cluster:s1:open]}")" "$(med "${L_P99[single:s1:open]}")"), 100 x 50 p99 cluster / single $(ratio "$(med "${L_P99[cluster:b100:open]}")" "$(med "${L_P99[single:b100:open]}")")."
fi
cat <<EOF

featd's metrics after the serving runs (single / cluster): \`featd_redis_nodes\` ${FM[single:featd_redis_nodes]} / ${FM[cluster:featd_redis_nodes]},
redirects ${FM[single:featd_redis_redirects_total]} / ${FM[cluster:featd_redis_redirects_total]}, topology refreshes ${FM[single:featd_redis_topology_refreshes_total]} / ${FM[cluster:featd_redis_topology_refreshes_total]},
Redis errors ${FM[single:featd_redis_errors_total]} / ${FM[cluster:featd_redis_errors_total]}, reconnects ${FM[single:featd_redis_reconnects_total]} / ${FM[cluster:featd_redis_reconnects_total]},
cluster retries ${FM[single:featd_redis_cluster_retries_total]} / ${FM[cluster:featd_redis_cluster_retries_total]}, generation retries ${FM[single:featd_generation_retries_total]} / ${FM[cluster:featd_generation_retries_total]},
read-window retries ${FM[single:featd_read_window_retries_total]} / ${FM[cluster:featd_read_window_retries_total]}.

**Materializer.** \`FEATD_MATERIALIZE_PACING=off featd materialize --config mat.json\` (one-shot, unpaced) of one Parquet
snapshot, $(thousands "$MAT_ROWS") rows x 10 scalars + a 16-float embedding (bench/materialize/gen.mjs, DuckDB), applied as a new
snapshot $MAT_REPS times into each deployment, interleaved; wall-clock rows/s.

The first apply writes into an empty Redis; every later one writes a new generation and retires the previous
one (its $(thousands "$MAT_ROWS") rows deleted), which is most of the extra Redis CPU.

| deployment | apply | rows/s (median) | per rep | featd CPU s | Redis CPU s, all nodes |
|---|---|---:|---|---:|---:|
$(for d in single cluster; do for a in first replace; do
    [ -n "${M_RPS[$d:$a]:-}" ] || continue
    printf '| %s | %s | %s | %s | %s | %s |\n' "$d" "$a" "$(thousands "$(med "${M_RPS[$d:$a]}")")" "${M_RPS[$d:$a]% }" \
        "$(med "${M_FCPU[$d:$a]}")" "$(med "${M_RCPU[$d:$a]}")"
done; done)

cluster / single rows/s: first apply **$(ratio "$(med "${M_RPS[cluster:first]}")" "$(med "${M_RPS[single:first]}")")**$( [ -n "${M_RPS[single:replace]:-}" ] &&
    echo ", replacing **$(ratio "$(med "${M_RPS[cluster:replace]}")" "$(med "${M_RPS[single:replace]}")")**").

**On paper.** A batch of 100 entities touches all $NM masters (one hash tag per entity), so per request
Redis CPU ≈ w + o × nodes, featd CPU ≈ w' + o' × nodes. From the medians above (1 node: $R1 µs Redis, $F1 µs featd;
$NM nodes: $RN µs, $FN µs): Redis w = $W_R µs, o = $O_R µs per extra node; featd w' = $W_F µs, o' = $O_F µs.
At $UTIL of each Redis core (one core per master, uniform keys), 100 x 50 lookups:

| masters N | Redis µs/req (all nodes) | per node | req/s | featd µs/req | featd cores at $UTIL |
|---:|---:|---:|---:|---:|---:|
$(for n in 1 3 6 12 24; do paper_row "$n"; done)

1 x 10 lookups touch one node whatever N is: Redis $S_RN µs and featd $S_FN µs per request on the cluster
(single node: $S_R1 / $S_F1 µs), so N masters serve N x $UTIL x 10^6 / $S_RN req/s:

| masters N | req/s | featd cores at $UTIL |
|---:|---:|---:|
$(for n in 1 3 6 12; do single_row "$n"; done)

Every run's figures: \`$(basename "$OUTJ")\` next to this report (JSON lines).
EOF
} >"$OUTMD"
log "report: $OUTMD"
cat "$OUTMD" >&2
