# shellcheck shell=bash disable=SC2034  # sets variables for bench/run.sh
# bench/lib.sh — helpers for bench/run.sh (sourced, not run): dependency
# install, free ports, a private redis-server and featd, the dataset
# generators, featd-bench / redis-benchmark wrappers that record every run,
# and the idle-connection holder. Everything here writes only under $WORK
# (the run's scratch directory) and $OUT (the results directory), except
# need_node_deps (bench/node_modules; also used by bench/materialize/run.sh
# and bench/parquet/run.sh).

# ---- logging and small utilities ----

bench_t0=$(date +%s.%N)

# log MSG...: a timestamped progress line on stderr (elapsed seconds).
log() {
    printf '[%6.1fs] %s\n' "$(echo "$(date +%s.%N) - $bench_t0" | bc -l)" "$*" >&2
}

die() {
    log "ERROR: $*"
    exit 1
}

# now: seconds since the epoch with nanoseconds.
now() { date +%s.%N; }

# calc EXPR [SCALE]: bc arithmetic, printed with SCALE decimals (default 0).
calc() {
    LC_ALL=C printf "%.${2:-0}f" "$(echo "$1" | bc -l)"
}

# thousands N: 1234567 -> 1,234,567 (integers; rounds non-integers).
thousands() {
    LC_ALL=C printf "%.0f" "$1" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/; ta'
}

# ms US: microseconds -> milliseconds with 3 decimals.
ms() { calc "$1 / 1000" 3; }

# median N...: the median of the numbers (the lower middle one for an even count).
median() {
    printf '%s\n' "$@" | sort -g | sed -n "$((($# + 1) / 2))p"
}

# okcol FLAG: "ok" for 1, a bold ERRORS otherwise (report column).
okcol() { if [ "$1" = 1 ]; then echo ok; else echo "**ERRORS**"; fi; }

# ---- dependencies ----

# need_deps: installs what the suite needs from Debian when missing (root or
# sudo), then builds featd with make unless BENCH_NO_BUILD=1.
need_deps() {
    local pkgs=()
    command -v redis-server >/dev/null || pkgs+=(redis-server)
    command -v redis-benchmark >/dev/null || pkgs+=(redis-tools)
    command -v redis-cli >/dev/null || pkgs+=(redis-tools)
    command -v bc >/dev/null || pkgs+=(bc)
    command -v awk >/dev/null || pkgs+=(mawk)
    command -v gnuplot >/dev/null || pkgs+=(gnuplot-nox)
    if [ ${#pkgs[@]} -gt 0 ]; then
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        echo "bench: installing ${pkgs[*]}" >&2
        $sudo apt-get update -qq >&2 || true
        if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${pkgs[@]}" >&2; then
            # gnuplot-nox is gone from some releases; plain gnuplot has the png terminals too
            pkgs=("${pkgs[@]/gnuplot-nox/gnuplot}")
            DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${pkgs[@]}" >&2 ||
                { echo "bench: cannot install ${pkgs[*]}" >&2; exit 1; }
        fi
    fi
    if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
        make -s >&2 || { echo "bench: make failed" >&2; exit 1; }
    fi
}

# need_node_deps: makes bench/node_modules match bench/package-lock.json, the
# one npm project (DuckDB's @duckdb/node-api, exact versions, every platform's
# optional binding listed) of bench/materialize/gen.mjs and
# bench/parquet/bench.mjs; node finds it by walking up from their folders.
# Runs `npm ci` (clean node_modules, versions and integrity from the lockfile)
# when there is no install yet or it was made from another lockfile (a copy is
# kept as node_modules/.featd-lock), then checks that DuckDB loads. npm's
# output goes to stderr. Returns non-zero when node/npm are missing or the
# install fails. Called from POSIX sh as
#   bash -c '. "$0/bench/lib.sh" && need_node_deps' "$ROOT"
need_node_deps() {
    local dir
    dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        echo "bench: node and npm are needed (DuckDB, $dir/package.json)" >&2
        return 1
    fi
    cmp -s "$dir/package-lock.json" "$dir/node_modules/.featd-lock" && return 0
    echo "bench: npm ci in $dir ($(node --version), npm $(npm --version))" >&2
    (cd "$dir" && npm ci --no-audit --no-fund >&2) || return 1
    (cd "$dir" && node --input-type=module -e "await import('@duckdb/node-api')") ||
        { echo "bench: @duckdb/node-api installed but does not load" >&2; return 1; }
    cp "$dir/package-lock.json" "$dir/node_modules/.featd-lock"
}

# ---- processes and ports ----

# port_busy PORT: true when something accepts connections on 127.0.0.1:PORT.
port_busy() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# free_port: a loopback port that nothing listens on right now (kernel
# ephemeral pick when python3 is there, else random), checked with a connect.
free_port() {
    local p
    for _ in $(seq 50); do
        p=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' \
            2>/dev/null || shuf -i 20000-60000 -n 1)
        if ! port_busy "$p"; then
            echo "$p"
            return 0
        fi
    done
    die "no free port found"
}

# start_redis: a private redis-server on a free loopback port, no
# persistence. Sets RPORT and RPID; checks that the Redis answering on RPORT
# is ours (its process_id), not someone else's that won a port race.
# REDIS_ARGS (optional, word-split) adds settings, e.g.
# "--hash-max-listpack-value 1024" (bench/layout/ab.sh gives both builds the same).
start_redis() {
    RPORT=$(free_port)
    # shellcheck disable=SC2086  # REDIS_ARGS is a list of options
    redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no \
        --daemonize no --maxclients 1000 ${REDIS_ARGS:-} >"$WORK/redis.log" 2>&1 &
    RPID=$!
    local i
    for i in $(seq 100); do
        redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break
        kill -0 "$RPID" 2>/dev/null || die "redis-server exited: $(tail -2 "$WORK/redis.log")"
        sleep 0.1
    done
    local pid
    pid=$(redis-cli -p "$RPORT" info server | tr -d '\r' | sed -n 's/^process_id://p')
    [ "$pid" = "$RPID" ] || die "port $RPORT answered by another redis-server (pid $pid, ours $RPID)"
}

# start_featd: featd on free ports with $WORK/featd.json (written by
# write_config). Sets FPORT/APORT before the config is written, FPID after.
pick_featd_ports() {
    FPORT=$(free_port)
    APORT=$(free_port)
    while [ "$APORT" = "$FPORT" ]; do APORT=$(free_port); done
}

start_featd() {
    "$BUILD/featd" --config "$WORK/featd.json" >"$WORK/featd.log" 2>&1 &
    FPID=$!
    local i
    for i in $(seq 100); do
        kill -0 "$FPID" 2>/dev/null || die "featd exited: $(tail -3 "$WORK/featd.log")"
        "$BUILD/featd-cli" --port "$FPORT" ping >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    die "featd did not answer ping on port $FPORT"
}

# stop_featd: stops featd (SIGTERM, then waits for it to exit).
stop_featd() {
    [ -n "${FPID:-}" ] || return 0
    kill "$FPID" 2>/dev/null || true
    wait "$FPID" 2>/dev/null || true
    FPID=""
}

# stop_all: stops the processes this run started (by pid), idempotent.
stop_all() {
    [ -n "${ATTRIB_PID:-}" ] && { kill "$ATTRIB_PID" 2>/dev/null || true; }
    [ -n "${IDLE_PID:-}" ] && { kill "$IDLE_PID" 2>/dev/null || true; }
    [ -n "${FPID:-}" ] && { kill "$FPID" 2>/dev/null || true; }
    [ -n "${RPID:-}" ] && { kill "$RPID" 2>/dev/null || true; }
    wait 2>/dev/null || true
    ATTRIB_PID="" IDLE_PID="" FPID="" RPID=""
}

# rss_kb PID: VmRSS of PID in kB.
rss_kb() {
    sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status"
}

# ---- configuration and dataset ----

# write_config NVIEWS NFEAT EMBDIM: the registry: entity customer
# (customer_id int64), views fv00.. with NFEAT doubles f0.., and view emb with
# one float_list of EMBDIM floats. No TTL (rows never go stale mid-run).
write_config() {
    local nviews=$1 nfeat=$2 v f feats views=""
    feats=""
    for ((f = 0; f < nfeat; f++)); do
        feats="$feats${feats:+, }{ \"name\": \"f$f\", \"type\": \"double\" }"
    done
    for ((v = 0; v < nviews; v++)); do
        views="$views    { \"name\": \"$(printf 'fv%02d' "$v")\", \"entities\": [\"customer\"], \"ttl_seconds\": 0,
      \"features\": [ $feats ] },
"
    done
    cat >"$WORK/featd.json" <<EOT
{
  "server": {
    "listen": "127.0.0.1:$FPORT", "admin_listen": "127.0.0.1:$APORT", "workers": $WORKERS,
    "max_connections": 20000, "max_entities_per_request": 1000,
    "request_timeout_ms": 30000, "data_dir": "$WORK/data", "log_level": "warn"
  },
  "redis": { "url": "redis://127.0.0.1:$RPORT/0", "key_prefix": "bench" },
  "entities": [ { "name": "customer", "join_keys": [ { "name": "customer_id", "type": "int64" } ] } ],
  "feature_views": [
$views    { "name": "emb", "entities": ["customer"], "ttl_seconds": 0,
      "features": [ { "name": "embedding", "type": "float_list" } ] }
  ]
}
EOT
}

# gen_rows SEED N NFEAT: N JSON lines (customer_id 1..N) of NFEAT doubles,
# streamed. Values come from a pool of 4096 random doubles picked by a hash
# of (entity, seed), so generation stays cheap (the loader is the cost).
gen_rows() {
    awk -v seed="$1" -v n="$2" -v nf="$3" 'BEGIN {
        srand(seed); for (k = 0; k < 4096; k++) pool[k] = sprintf("%.6f", rand() * 1000);
        for (i = 1; i <= n; i++) {
            h = (i * 2654435761 + seed * 97) % 4093;
            line = "{\"customer_id\":" i ",\"event_timestamp\":1763719200000000";
            for (f = 0; f < nf; f++) line = line ",\"f" f "\":" pool[(h + f * 409) % 4096];
            print line "}"
        } }'
}

# gen_emb SEED N DIM: N JSON lines with an "embedding" of DIM floats.
gen_emb() {
    awk -v seed="$1" -v n="$2" -v dim="$3" 'BEGIN {
        srand(seed); for (k = 0; k < 4096; k++) pool[k] = sprintf("%.5f", rand() * 2 - 1);
        for (i = 1; i <= n; i++) {
            h = (i * 2654435761 + seed * 97) % 4093;
            line = "{\"customer_id\":" i ",\"event_timestamp\":1763719200000000,\"embedding\":[";
            for (f = 0; f < dim; f++) line = line (f ? "," : "") pool[(h + f * 131) % 4096];
            print line "]}"
        } }'
}

# load_view VIEW: streams the view's rows into featd-cli load --file -
# --mode snapshot (featd's own online-tier write path). Output in
# $WORK/load-VIEW.log; non-zero exit when the load failed.
load_view() {
    local view=$1 seed
    if [ "$view" = emb ]; then
        gen_emb 1000 "$ENTITIES" "$EMB_DIM" |
            "$BUILD/featd-cli" load --config "$WORK/featd.json" --view emb --file - --mode snapshot \
                >"$WORK/load-$view.log" 2>&1
    else
        seed=$((10#${view#fv} + 1))
        gen_rows "$seed" "$ENTITIES" "$NFEAT" |
            "$BUILD/featd-cli" load --config "$WORK/featd.json" --view "$view" --file - --mode snapshot \
                >"$WORK/load-$view.log" 2>&1
    fi
}

# load_all JOBS VIEW...: loads the views, JOBS at a time; returns when every
# load has ended (non-zero when one failed). It waits for its own loads by
# pid: a bare `wait -n` can also return for a background process of an
# earlier phase (a stopped featd or redis-server whose status bash still
# holds), which ended a later load_all early (seen in bench/layout/ab.sh).
load_all() {
    local jobs=$1 v failed=0
    local -a pids=()
    shift
    for v in "$@"; do
        while [ "${#pids[@]}" -ge "$jobs" ]; do
            load_reap || failed=1
        done
        load_view "$v" &
        pids+=("$!")
    done
    while [ "${#pids[@]}" -gt 0 ]; do
        load_reap || failed=1
    done
    return "$failed"
}

# load_reap: (load_all's) waits until one of the pids in the caller's pids
# array has ended, removes it and returns its exit status.
load_reap() {
    local i p
    while :; do
        for i in "${!pids[@]}"; do
            p=${pids[i]}
            if ! kill -0 "$p" 2>/dev/null; then
                unset 'pids[i]'
                pids=("${pids[@]}")
                wait "$p"
                return
            fi
        done
        sleep 0.05
    done
}

# ---- running the load generators ----

# jnum JSON KEY: the first numeric value of "KEY": in a featd-bench JSON line.
jnum() {
    echo "$1" | sed -n "s/.*\"$2\":\([-0-9.e+]*\).*/\1/p" | head -1
}

# ---- CPU accounting (who used the two cores during a run) ----

CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)

# proc_ticks PID: utime+stime of the whole process (all threads), in ticks.
proc_ticks() {
    local st
    st=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
    # fields after the ")" that ends the command name: state is field 3
    echo "${st##*) }" | awk '{ print $12 + $13 }'
}

# cpu_snap: "machine_busy_ticks featd_ticks redis_ticks" right now.
cpu_snap() {
    echo "$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat)" \
        "$(proc_ticks "${FPID:-0}")" "$(proc_ticks "${RPID:-0}")"
}

# fb LABEL DISPLAY_ARGS -- ARGS...: runs featd-bench --json with ARGS against
# featd (under nice -n $FB_NICE when FB_NICE is set) and leaves the JSON
# result in FB. DISPLAY_ARGS is the command line as shown in the report
# (feature lists by name). FB_OK=1 when the run had no request or I/O error
# and every value was PRESENT. CPU over the whole run (warm-up included), in
# cores: FB_FEATD_CORES, FB_REDIS_CORES, FB_GEN_CORES (featd-bench) and
# FB_OTHER_CORES (everything else on the machine: other people's work);
# FB_FEATD_US = featd CPU microseconds per request (approximate: the warm-up
# is counted at the measured rate).
#
# A run that other work disturbed (FB_OTHER_CORES > $OTHER_MAX) is repeated,
# up to RETRIES more times while the run-wide RETRY_BUDGET lasts, and the
# least disturbed attempt is kept (FB_ATTEMPTS says how many were made);
# before a repeat it waits up to 10 s for the machine to get quiet.
# The kept one is appended to $OUT/latest.jsonl as
# {"label","command","attempts","result","cpu_cores"}.
#
# FB_BIN is the featd-bench binary (default $BUILD/featd-bench; the
# layout A/B drives both builds' featd with one generator).
# FB_REDIS=featd (or get) runs featd-bench's Redis-alone target instead:
# --redis $FB_REDIS --config $WORK/featd.json (the same keys featd reads, on
# featd's Redis). FB_ATTRIB=1 runs bench/attrib.py sample around each attempt
# (FB_ATTRIB_FILE = the kept attempt's samples, for attrib.py report).
FB_VARS=(FB FB_OK FB_RPS FB_EPS FB_P50 FB_P99 FB_P999 FB_MAX FB_VALUES
    FB_FEATD_CORES FB_REDIS_CORES FB_GEN_CORES FB_OTHER_CORES FB_FEATD_US FB_ATTRIB_FILE)
OTHER_MAX=${OTHER_MAX:-0.25}
RETRIES=${RETRIES:-2}
RETRY_BUDGET=${RETRY_BUDGET:-30}
fb() {
    local label=$1 shown=$2 v attempt=0 best=""
    local -A keep=()
    shift 3
    [ -n "${FB_REDIS:-}" ] && shown="--redis $FB_REDIS --config featd.json $shown"
    [ -n "${FB_NICE:-}" ] && shown="(nice -n $FB_NICE) $shown"
    while :; do
        attempt=$((attempt + 1))
        fb_once "$@"
        if [ -z "$best" ] || awk -v a="$FB_OTHER_CORES" -v b="$best" 'BEGIN { exit !(a < b) }'; then
            best=$FB_OTHER_CORES
            for v in "${FB_VARS[@]}"; do keep[$v]=${!v}; done
        fi
        retry_again "$label" "$attempt" "$best" "$FB_OTHER_CORES" || break
    done
    for v in "${FB_VARS[@]}"; do printf -v "$v" '%s' "${keep[$v]}"; done
    FB_ATTEMPTS=$attempt
    printf '{"label":"%s","command":"featd-bench %s","attempts":%d,"result":%s,"cpu_cores":{"featd":%s,"redis":%s,"featd_bench":%s,"other":%s}}\n' \
        "$label" "$shown" "$attempt" "$FB" "$FB_FEATD_CORES" "$FB_REDIS_CORES" "$FB_GEN_CORES" "$FB_OTHER_CORES" \
        >>"$OUT/latest.jsonl"
}

# retry_again LABEL ATTEMPT BEST LAST: true when a disturbed run is to be
# repeated (fb, rb): the least disturbed attempt so far (BEST "other"
# cores) is over OTHER_MAX and RETRIES and the run-wide RETRY_BUDGET allow
# one more. Then it takes one from the budget, logs LAST (this attempt's
# "other" cores) and waits up to 10 s for the machine to get quiet.
retry_again() {
    awk -v a="$3" -v m="$OTHER_MAX" 'BEGIN { exit !(a > m) }' || return 1
    [ "$2" -le "$RETRIES" ] && [ "$RETRY_BUDGET" -gt 0 ] || return 1
    RETRY_BUDGET=$((RETRY_BUDGET - 1))
    log "  ($1: other work used $4 cores; repeating when quiet)"
    quiet_wait 10 || true
}

# fb_once ARGS...: one featd-bench run (see fb), sets the FB_* variables.
fb_once() {
    local pre=() target=(--port "$FPORT") c0 c1 tm spid=""
    [ -n "${FB_NICE:-}" ] && pre=(nice -n "$FB_NICE")
    [ -n "${FB_REDIS:-}" ] && target=(--redis "$FB_REDIS" --config "$WORK/featd.json")
    FB_ATTRIB_FILE=""
    if [ -n "${FB_ATTRIB:-}" ]; then
        ATTRIB_SEQ=$((${ATTRIB_SEQ:-0} + 1))
        FB_ATTRIB_FILE="$WORK/attrib-$ATTRIB_SEQ.json"
        attrib_start "$FB_ATTRIB_FILE"
        spid=$ATTRIB_PID
    fi
    c0=$(cpu_snap)
    FB=$( { TIMEFORMAT='%U %S %R'; time "${pre[@]}" "${FB_BIN:-$BUILD/featd-bench}" "${target[@]}" --json "$@" \
        2>>"$WORK/featd-bench.err"; } 2>"$WORK/fb.time" || true)
    c1=$(cpu_snap)
    [ -z "$spid" ] || attrib_stop "$spid"
    tm=$(tail -n 1 "$WORK/fb.time")
    if [ -z "$FB" ]; then
        FB='{"requests_per_s":0,"entities_per_s":0,"errors":1,"io_errors":1,"latency_us":{"p50":0,"p90":0,"p99":0,"p999":0,"max":0}}'
    fi
    read -r FB_FEATD_CORES FB_REDIS_CORES FB_GEN_CORES FB_OTHER_CORES <<<"$(cpu_split "$c0" "$c1" "$tm")"
    FB_RPS=$(jnum "$FB" requests_per_s)
    FB_FEATD_US=$(awk -v c="$FB_FEATD_CORES" -v r="$FB_RPS" 'BEGIN { printf "%.1f", (r > 0 ? c * 1e6 / r : 0) }')
    local present total
    present=$(jnum "$FB" PRESENT)
    total=$(echo "$FB" | sed -n 's/.*"statuses":{\([^}]*\)}.*/\1/p' | tr ',' '\n' | sed 's/.*://' |
        awk '{ s += $1 } END { print s + 0 }')
    FB_OK=0
    if [ "$(jnum "$FB" errors)" = 0 ] && [ "$(jnum "$FB" io_errors)" = 0 ] && [ "${present:-0}" -gt 0 ] &&
        [ "$present" = "$total" ]; then
        FB_OK=1
    fi
    FB_EPS=$(jnum "$FB" entities_per_s)
    FB_P50=$(jnum "$FB" p50)
    FB_P99=$(jnum "$FB" p99)
    FB_P999=$(jnum "$FB" p999)
    FB_MAX=$(jnum "$FB" max)
    FB_VALUES=$total
}

# attrib_start FILE: bench/attrib.py sample in the background (featd,
# redis-server and the featd-bench this shell starts next; every
# ${ATTRIB_INTERVAL:-0.1} s), writing FILE when stopped; sets ATTRIB_PID.
# It sets Redis's latency-monitor-threshold to ${ATTRIB_LATENCY_MS:-1} ms
# for the run (restored after) and resets Redis's INFO stats (our private
# Redis), so that INFO latencystats cover this run only.
attrib_start() {
    python3 bench/attrib.py sample --out "$1" --redis-port "$RPORT" --admin-port "${APORT:-0}" \
        --pid featd="${FPID:-0}" --pid redis="$RPID" --find featd-bench \
        --interval "${ATTRIB_INTERVAL:-0.1}" --latency-ms "${ATTRIB_LATENCY_MS:-1}" --redis-resetstat \
        2>>"$WORK/attrib.err" &
    ATTRIB_PID=$!
    sleep 0.2   # its start-of-run readings come before featd-bench's warm-up ends
}

# attrib_stop PID: stops the sampler (it writes its file) and waits for it.
attrib_stop() {
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    ATTRIB_PID=""
}

# quiet_wait SECONDS: waits (up to SECONDS) until other work on the machine
# uses less than OTHER_MAX cores over one second (featd and Redis idle
# meanwhile). Returns 1 when it never got quiet.
quiet_wait() {
    local deadline=$(($(date +%s) + $1)) c0 c1 o
    while :; do
        c0=$(cpu_snap)
        sleep 1
        c1=$(cpu_snap)
        o=$(cpu_split "$c0" "$c1" "0 0 1" | awk '{ print $1 + $2 + $4 }')
        awk -v a="$o" -v m="$OTHER_MAX" 'BEGIN { exit !(a <= m) }' && return 0
        [ "$(date +%s)" -lt "$deadline" ] || return 1
    done
}

# cpu_split SNAP0 SNAP1 "USER SYS REAL": "featd redis generator other" cores
# between two cpu_snap readings, the generator's CPU from bash's time.
cpu_split() {
    echo "$1 $2 $3" | awk -v hz="$CLK_TCK" '{ wall = ($9 > 0 ? $9 : 1);
        busy = ($4 - $1) / hz; f = ($5 - $2) / hz; r = ($6 - $3) / hz; g = $7 + $8;
        o = busy - f - r - g; if (o < 0) o = 0;
        printf "%.2f %.2f %.2f %.2f", f / wall, r / wall, g / wall, o / wall }'
}

# fill_redis_get N: N string keys key:%012d (0..N-1) of 100 bytes (the size
# of a packed 10-double featd row), for redis-benchmark GET -r N.
fill_redis_get() {
    awk -v n="$1" 'BEGIN { v = sprintf("%0100d", 0); gsub(/0/, "x", v);
        for (i = 0; i < n; i++) { k = sprintf("key:%012d", i);
            printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$100\r\n%s\r\n", length(k), k, v } }' |
        redis-cli -p "$RPORT" --pipe >/dev/null
}

# rb LABEL ARGS...: redis-benchmark --csv ARGS on our Redis; sets RB_RPS,
# RB_P50 and RB_P99 (ms, from its CSV) and RB_OTHER_CORES (CPU of everything
# but Redis and redis-benchmark), repeats a disturbed run like fb, and
# records the kept one.
rb() {
    local label=$1 attempt=0 best="" line c0 c1 tm k_rps k_p50 k_p99 k_other
    shift
    while :; do
        attempt=$((attempt + 1))
        c0=$(cpu_snap)
        line=$( { TIMEFORMAT='%U %S %R'; time redis-benchmark -p "$RPORT" --csv "$@" 2>/dev/null; } 2>"$WORK/rb.time" |
            tail -n 1)
        c1=$(cpu_snap)
        tm=$(tail -n 1 "$WORK/rb.time")
        # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
        RB_RPS=$(echo "$line" | awk -F'","' '{ print $2 }' | tr -d '"')
        RB_P50=$(echo "$line" | awk -F'","' '{ print $5 }' | tr -d '"')
        RB_P99=$(echo "$line" | awk -F'","' '{ print $7 }' | tr -d '"')
        # featd is idle here: its column counts as other work
        RB_OTHER_CORES=$(cpu_split "$c0" "$c1" "$tm" | awk '{ printf "%.2f", $1 + $4 }')
        if [ -z "$best" ] || awk -v a="$RB_OTHER_CORES" -v b="$best" 'BEGIN { exit !(a < b) }'; then
            best=$RB_OTHER_CORES k_rps=$RB_RPS k_p50=$RB_P50 k_p99=$RB_P99 k_other=$RB_OTHER_CORES
        fi
        retry_again "$label" "$attempt" "$best" "$RB_OTHER_CORES" || break
    done
    RB_RPS=$k_rps RB_P50=$k_p50 RB_P99=$k_p99 RB_OTHER_CORES=$k_other
    printf '{"label":"%s","command":"redis-benchmark %s","attempts":%d,"result":{"requests_per_s":%s,"p50_ms":%s,"p99_ms":%s},"cpu_cores":{"other":%s}}\n' \
        "$label" "$*" "$attempt" "${RB_RPS:-0}" "${RB_P50:-0}" "${RB_P99:-0}" "$RB_OTHER_CORES" >>"$OUT/latest.jsonl"
}

# ---- idle connections ----

# idle_open N PORT: a background bash that opens N TCP connections to PORT
# and holds them until idle_close. Sets IDLE_PID; waits until they are open
# and returns the number opened in IDLE_OPENED.
idle_open() {
    local n=$1 port=$2
    rm -f "$WORK/idle.ready" "$WORK/idle.ctl"
    mkfifo "$WORK/idle.ctl"
    (
        ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true
        opened=0
        for ((i = 0; i < n; i++)); do
            exec {fd}<>"/dev/tcp/127.0.0.1/$port" 2>/dev/null || break
            opened=$((opened + 1))
        done
        echo "$opened" >"$WORK/idle.ready"
        exec {ctl}<"$WORK/idle.ctl"
        read -r -u "$ctl" _ || true
    ) &
    IDLE_PID=$!
    local i
    for i in $(seq 600); do
        [ -s "$WORK/idle.ready" ] && break
        sleep 0.1
    done
    IDLE_OPENED=$(cat "$WORK/idle.ready" 2>/dev/null || echo 0)
}

# idle_close: tells the holder to exit (closing its connections) and waits.
idle_close() {
    [ -n "${IDLE_PID:-}" ] || return 0
    echo stop >"$WORK/idle.ctl" || true
    wait "$IDLE_PID" 2>/dev/null || true
    IDLE_PID=""
}

# fd_count PID: open file descriptors of PID.
fd_count() {
    ls "/proc/$1/fd" 2>/dev/null | wc -l
}
