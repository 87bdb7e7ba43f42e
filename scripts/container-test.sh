#!/usr/bin/env bash
# container-test.sh — `make container-test`: build the featd image and prove
# that a container of it serves lookups and answers /readyz against a Redis on
# loopback, then stops cleanly on SIGTERM.
#
# Works with Docker when an engine answers, else with Podman (installed with
# apt-get when missing, as root): the base image debian:bookworm-slim is made
# locally by scripts/make-base-image.sh (debootstrap + podman import), the
# build uses --isolation chroot, the container runs with runc on the host
# network with a nofile ulimit within this machine's hard limit.
#
# Steps: build the image (its build stage runs the unit tests) -> start
# redis-server on a free loopback port -> run the container with
# FEATD_REDIS_URL/FEATD_LISTEN/FEATD_ADMIN_LISTEN -> /healthz, /readyz 200 ->
# load the example rows with the image's featd-cli -> JSON lookup on the
# admin port and protobuf lookup with featd-cli -> /metrics, healthcheck,
# non-root -> stop (SIGTERM) -> exit code 0. Prints PASS or FAIL and the time
# of each step.
#
# Environment: IMAGE (default featd:test), ENGINE (docker|podman, default:
# docker when `docker info` works, else podman), KEEP=1 keeps the container,
# CONTEXT=head builds the last commit instead of the work tree's tracked files.
set -uo pipefail

cd "$(dirname "$0")/.."
image=${IMAGE:-featd:test}
name="featd-ct-$$"
t_start=$(date +%s)
times=""
step_t=$t_start
redis_pid=""
ctx=""
mkdir -p build
blog=build/container-build.log

say() { printf 'container-test: %s\n' "$*"; }
lap() {     # record how long the step took
    local now; now=$(date +%s)
    times="$times$(printf '  %-34s %4d s' "$1" $((now - step_t)))"$'\n'
    step_t=$now
}
cleanup() {
    if [ -n "${engine:-}" ] && [ "${KEEP:-0}" != 1 ]; then
        $engine rm -f "$name" >/dev/null 2>&1
    fi
    [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
    [ -n "$ctx" ] && rm -rf "$ctx"
}
fail() {
    say "FAIL: $*"
    if [ -n "${engine:-}" ] && $engine inspect "$name" >/dev/null 2>&1; then
        echo "---- container log ----"
        $engine logs "$name" 2>&1 | tail -40
        echo "---- end of container log ----"
    fi
    cleanup
    echo "container-test: FAIL"
    exit 1
}
trap 'cleanup' EXIT
trap 'fail "interrupted"' INT TERM

# ---- tools ---------------------------------------------------------------------
need_pkgs=""
command -v redis-server >/dev/null || need_pkgs="$need_pkgs redis-server"
command -v redis-cli >/dev/null || need_pkgs="$need_pkgs redis-tools"
command -v curl >/dev/null || need_pkgs="$need_pkgs curl ca-certificates"
engine=${ENGINE:-}
if [ -z "$engine" ]; then
    if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
        engine=docker
    else
        engine=podman
    fi
fi
if [ "$engine" = podman ]; then
    command -v podman >/dev/null || need_pkgs="$need_pkgs podman"
    command -v runc >/dev/null || need_pkgs="$need_pkgs runc"
    command -v debootstrap >/dev/null || need_pkgs="$need_pkgs debootstrap"
fi
if [ -n "$need_pkgs" ]; then
    [ "$(id -u)" = 0 ] || fail "missing:$need_pkgs (run as root, or apt-get install them)"
    say "installing:$need_pkgs"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends $need_pkgs; } >/dev/null 2>&1 ||
        fail "apt-get install$need_pkgs failed"
fi
if [ "$engine" = podman ]; then
    [ "$(id -u)" = 0 ] || fail "podman mode runs as root (debootstrap, runc)"
    # No systemd here: plain cgroupfs and a file for events.
    opts=""
    [ -d /run/systemd/system ] || opts="--cgroup-manager=cgroupfs --events-backend=file"
    engine="podman $opts"
fi
say "engine: $engine ($($engine --version 2>/dev/null | head -1))"
lap "tools"

# ---- image ---------------------------------------------------------------------
if [[ $engine == podman* ]]; then
    scripts/make-base-image.sh || fail "cannot make the base image debian:bookworm-slim"
    lap "base image (debootstrap, cached)"
fi
# Build context: the files under version control, as they are in the work
# tree (what a fresh clone builds; no build outputs or local data).
ctx=$(mktemp -d "${TMPDIR:-/tmp}/featd-ctx.XXXXXX")
if [ "${CONTEXT:-worktree}" = head ]; then
    git archive HEAD | tar -C "$ctx" -x || fail "cannot stage the build context (git archive HEAD)"
elif git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
        tar --null -T - -c | tar -C "$ctx" -x || fail "cannot stage the build context"
else
    tar --exclude=./build --exclude=./.git -c . | tar -C "$ctx" -x || fail "cannot stage the build context"
fi
say "building $image (build stage compiles and runs the unit tests)"
if [[ $engine == podman* ]]; then
    $engine build --isolation chroot --format docker --pull=never -t "$image" -f Dockerfile "$ctx" \
        > "$blog" 2>&1
else
    $engine build -t "$image" -f Dockerfile "$ctx" > "$blog" 2>&1
fi
rc=$?
if [ $rc -ne 0 ]; then
    tail -60 "$blog"
    fail "image build failed (full log: $blog)"
fi
grep -E "^(unit: |== )" "$blog" | tail -12 | sed 's/^/  /'
size=$($engine image inspect --format '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}')
say "built $image ($size)"
lap "image build + unit tests"

# ---- Redis on loopback ---------------------------------------------------------------
# Ports below the kernel's ephemeral range (outgoing connections never take
# them) that nothing listens on; a clash with a listener that appears
# meanwhile is retried below.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
eph_lo=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
[ "$eph_lo" -gt 12000 ] 2>/dev/null || eph_lo=32768
used_ports=""
free_port() {       # free_port VAR: sets VAR to a port not handed out before
    local p
    for _ in $(seq 1 200); do
        p=$((10000 + RANDOM % (eph_lo - 10000)))
        if port_free "$p" && [[ " $used_ports " != *" $p "* ]]; then
            used_ports="$used_ports $p"
            printf -v "$1" '%s' "$p"
            return 0
        fi
    done
    return 1
}
for attempt in 1 2 3; do
    free_port rport || fail "no free port"
    redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --protected-mode no \
        > /dev/null 2>&1 &
    redis_pid=$!
    for _ in $(seq 1 100); do
        redis-cli -p "$rport" ping 2>/dev/null | grep -q PONG && break
        kill -0 "$redis_pid" 2>/dev/null || break
        sleep 0.1
    done
    redis-cli -p "$rport" ping 2>/dev/null | grep -q PONG && break
    kill "$redis_pid" 2>/dev/null; wait "$redis_pid" 2>/dev/null; redis_pid=""
    [ $attempt -lt 3 ] || fail "redis-server did not start"
done
say "redis-server on 127.0.0.1:$rport"

# ---- run ---------------------------------------------------------------------------------
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] && hard=1048576
nofile=$(( hard < 65536 ? hard : 65536 ))
run_opts=(--network host --ulimit "nofile=$nofile:$nofile")
if [[ $engine == podman* ]]; then
    # Podman raises nproc to its own default, which a sandboxed root may not
    # be allowed to, and not every value below the shell's hard limit works
    # (seen: a hard limit of 96365 refused above 32768), so ask for 4096
    # processes (featd runs a handful of threads) or less. Healthcheck timers need
    # systemd: disabled (the check is run by hand below).
    hu=$(ulimit -Hu)
    [ "$hu" = unlimited ] && hu=4096
    nproc=$(( hu < 4096 ? hu : 4096 ))
    run_opts+=(--runtime runc --ulimit "nproc=$nproc:$nproc" --health-interval disable)
fi
up=0
for attempt in 1 2 3; do
    free_port sport && free_port aport || fail "no free ports"
    say "featd serves 127.0.0.1:$sport, admin 127.0.0.1:$aport"
    $engine run -d --name "$name" "${run_opts[@]}" \
        -e FEATD_REDIS_URL="redis://127.0.0.1:$rport/0" \
        -e FEATD_LISTEN="127.0.0.1:$sport" \
        -e FEATD_ADMIN_LISTEN="127.0.0.1:$aport" \
        "$image" > /dev/null 2>"$ctx/run.err" || fail "the container did not start: $(cat "$ctx/run.err")"
    admin="http://127.0.0.1:$aport"
    for _ in $(seq 1 100); do
        if curl -sf "$admin/healthz" >/dev/null 2>&1; then up=1; break; fi
        [ "$($engine inspect -f '{{.State.Running}}' "$name" 2>/dev/null)" = true ] || break
        sleep 0.2
    done
    [ $up = 1 ] && break
    clog=$($engine logs "$name" 2>&1)
    if [ "$($engine inspect -f '{{.State.Running}}' "$name" 2>/dev/null)" != true ] &&
       [[ $clog == *'Address already in use'* ]] && [ $attempt -lt 3 ]; then
        say "a port was taken meanwhile; again with other ports"
        $engine rm -f "$name" >/dev/null 2>&1
        continue
    fi
    [ "$($engine inspect -f '{{.State.Running}}' "$name" 2>/dev/null)" = true ] || fail "the container exited"
    break
done
[ $up = 1 ] || fail "/healthz did not answer within 20 s"
ready=""
for _ in $(seq 1 50); do
    ready=$(curl -s -o /dev/null -w '%{http_code}' "$admin/readyz")
    [ "$ready" = 200 ] && break
    sleep 0.2
done
[ "$ready" = 200 ] || fail "/readyz answered $ready: $(curl -s "$admin/readyz")"
say "/healthz 200, /readyz 200"
lap "container start + ready"

# ---- rows, lookups -----------------------------------------------------------------
for v in customer_stats merchant_profile customer_merchant; do
    $engine exec "$name" featd-cli load --config /etc/featd/featd.json --view "$v" \
        --file "/usr/share/featd/examples/rows/$v.jsonl" --mode snapshot >"$ctx/load.out" 2>&1 ||
        fail "featd-cli load $v: $(cat "$ctx/load.out")"
done
json=$(curl -s -w '\n%{http_code}' "$admin/get-online-features" \
    -d '{"features": ["customer_stats:revenue_30d", "customer_stats:order_count_30d"], "entities": {"customer_id": [1, 2, 999]}}')
code=${json##*$'\n'}
json=${json%$'\n'*}
[ "$code" = 200 ] || fail "JSON lookup answered $code: $json"
want='"values":[1619.16,1203.32,null],"statuses":["PRESENT","PRESENT","NOT_FOUND"]'
[[ $json == *"$want"* ]] || fail "JSON lookup: expected $want in $json"
say "JSON lookup (POST /get-online-features): customer 1 revenue_30d 1619.16, PRESENT/NOT_FOUND as expected"
out=$($engine exec "$name" featd-cli --port "$sport" get -f customer_stats:order_count_30d -e customer_id=1,2 --json 2>&1) ||
    fail "featd-cli get failed: $out"
[[ $out == *'"values":'*9*35* ]] || [[ $out == *'"values": ['*9*35* ]] || fail "protobuf lookup: unexpected $out"
say "protobuf lookup (featd-cli get): order_count_30d 9, 35"
metrics=$(curl -s "$admin/metrics")
grep -q '^featd_up 1$' <<<"$metrics" || fail "/metrics has no featd_up 1"
grep -q '^featd_requests_total{type="http_get_online_features",code="OK"} 1$' <<<"$metrics" ||
    fail "/metrics did not count the JSON lookup"
grep -q '^featd_requests_total{type="get_online_features",code="OK"} 1$' <<<"$metrics" ||
    fail "/metrics did not count the protobuf lookup"
uid=$($engine exec "$name" id -u)
[ "$uid" != 0 ] || fail "featd runs as root in the container"
if [[ $engine == podman* ]]; then
    $engine healthcheck run "$name" >/dev/null 2>&1 || fail "the image's HEALTHCHECK failed"
    hc="healthcheck healthy, "
else
    hc=""
fi
say "/metrics counted both lookups; ${hc}runs as uid $uid"
lap "load rows + lookups + metrics"

# ---- stop ----------------------------------------------------------------------------------
$engine stop -t 20 "$name" >/dev/null 2>"$ctx/stop.err" || fail "stop failed: $(cat "$ctx/stop.err")"
status=$($engine inspect -f '{{.State.ExitCode}}' "$name")
[ "$status" = 0 ] || fail "featd exited with status $status after SIGTERM"
clog=$($engine logs "$name" 2>&1)
grep -q 'SIGTERM: draining' <<<"$clog" || fail "no drain in the container log"
say "stop (SIGTERM): drained, exit status 0"
lap "stop"

echo "timings:"
printf '%s' "$times"
printf '  %-34s %4d s\n' "total" $(( $(date +%s) - t_start ))
echo "container-test: PASS"
