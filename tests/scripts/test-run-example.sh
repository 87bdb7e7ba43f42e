#!/usr/bin/env bash
# test-run-example.sh — `make run` (scripts/run-example.sh) says "serving"
# only for its own live featd on the addresses in force:
#   1. FEATD_LISTEN / FEATD_ADMIN_LISTEN are honoured (featd answers there,
#      the message names them), and Ctrl-C (SIGINT to make's process group,
#      as a terminal sends it) ends `make run` with no "make: *** ... Error"
#      line, featd's log saying SIGINT;
#   2. a serving port held by another process: a clear failure, no "serving";
#   3. the same for the admin port;
#   4. `make run` installs no test-only package (scripts/deps.sh run).
# Usage: test-run-example.sh BUILD_DIR. Uses its own temp data dir and free
# ports; kills only the processes it started.
set -u
build=${1:-build}
cd "$(dirname "$0")/../.."
T=$(mktemp -d "${TMPDIR:-/tmp}/featd-run-test.XXXXXX")
sed -e "s#\./featd-data#$T/data#g" config/featd.json > "$T/featd.json"
export FEATD_CONFIG="$T/featd.json"
fails=0
holders=()
cleanup() {
  for h in "${holders[@]}"; do kill "$h" 2>/dev/null; done
  rm -rf "$T"
}
trap cleanup EXIT
ok()  { echo "  ok: $*"; }
bad() { echo "  FAIL: $*"; fails=$((fails+1)); }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# hold PORT: another process listening on 127.0.0.1:PORT until the test ends
hold() {
  python3 -c 'import socket,sys,time
s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1]))); s.listen(8)
print("listening", flush=True); time.sleep(600)' "$1" > "$T/hold.$1" &
  holders+=($!)
  for _ in $(seq 1 50); do grep -q listening "$T/hold.$1" 2>/dev/null && return; sleep 0.1; done
  bad "could not hold port $1"
}
# make run in the current environment, with this build dir
make_run() {
  local mk=(make --no-print-directory run)
  case $build in */san) mk+=(SANITIZE=1) ;; *) mk+=("BUILD=$build") ;; esac
  # SIGINT back to its default first: a test run started in the background
  # of a non-interactive shell (nohup, CI runners) inherits it ignored, and a
  # shell cannot undo an ignored-at-entry signal (a terminal's make can)
  env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS python3 -c \
    'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])' \
    "${mk[@]}"
}

echo "-- 1: FEATD_LISTEN honoured, Ctrl-C"
P=$(free_port); A=$(free_port)
set -m      # make gets its own process group, SIGINT not ignored (as from a terminal)
FEATD_LISTEN=127.0.0.1:$P FEATD_ADMIN_LISTEN=127.0.0.1:$A make_run > "$T/out1" 2>&1 &
mk=$!
set +m
for _ in $(seq 1 300); do grep -q "is serving" "$T/out1" && break; kill -0 $mk 2>/dev/null || break; sleep 0.1; done
if grep -q "is serving on 127.0.0.1:$P (admin on 127.0.0.1:$A)" "$T/out1"; then
  ok "serving on the FEATD_LISTEN port $P"
else
  bad "no 'is serving on 127.0.0.1:$P' line"; sed 's/^/    | /' "$T/out1" | tail -20
fi
if "$build/featd-cli" --port "$P" ping > /dev/null 2>&1; then ok "featd answers on $P"; else bad "no answer on $P"; fi
curl -sf "http://127.0.0.1:$A/metrics" | grep -q '^featd_materializer_generation{' &&
  ok "admin port $A serves /metrics" || bad "no featd_materializer_generation on the admin port $A"
kill -INT -- -"$mk" 2>/dev/null     # the terminal's Ctrl-C: make's whole process group
for _ in $(seq 1 150); do kill -0 "$mk" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$mk" 2>/dev/null; then bad "make run still running 15 s after SIGINT"; kill -KILL -- -"$mk"; fi
wait "$mk" 2>/dev/null
if grep -q '\*\*\*' "$T/out1"; then bad "make printed an error:"; grep '\*\*\*' "$T/out1" | sed 's/^/    | /'
else ok "no 'make: ***' line after Ctrl-C"; fi
grep -q "SIGINT: draining" "$T/out1" && ok "featd logged SIGINT" || bad "featd's log does not say SIGINT"
grep -q "\[main\] stopped" "$T/out1" && ok "featd stopped cleanly" || bad "featd did not log 'stopped'"
if "$build/featd-cli" --port "$P" --timeout 300 ping > /dev/null 2>&1; then bad "featd still answers on $P"; fi

echo "-- 2: serving port held by another process"
P=$(free_port); A=$(free_port); hold "$P"
FEATD_LISTEN=127.0.0.1:$P FEATD_ADMIN_LISTEN=127.0.0.1:$A scripts/run-example.sh "$build" > "$T/out2" 2>&1
rc=$?
[ "$rc" -ne 0 ] && ok "exit status $rc" || bad "exit status 0"
grep -q "serving on" "$T/out2" && bad "said 'serving'" || ok "did not say 'serving'"
grep -q "127.0.0.1:$P (server.listen, FEATD_LISTEN) is already in use" "$T/out2" &&
  ok "names the held address" || { bad "no clear message"; sed 's/^/    | /' "$T/out2"; }

echo "-- 3: admin port held by another process"
P=$(free_port); A=$(free_port); hold "$A"
FEATD_LISTEN=127.0.0.1:$P FEATD_ADMIN_LISTEN=127.0.0.1:$A scripts/run-example.sh "$build" > "$T/out3" 2>&1
rc=$?
[ "$rc" -ne 0 ] && ok "exit status $rc" || bad "exit status 0"
grep -q "serving on" "$T/out3" && bad "said 'serving'" || ok "did not say 'serving'"
grep -q "127.0.0.1:$A (server.admin_listen, FEATD_ADMIN_LISTEN) is already in use" "$T/out3" &&
  ok "names the held address" || { bad "no clear message"; sed 's/^/    | /' "$T/out3"; }

echo "-- 4: make run installs no test-only package"
run_pkgs=$(sed -n '/^RUN_PKGS="/,/"$/p' scripts/deps.sh)
for p in prometheus check python3-pytest; do
  if printf '%s\n' "$run_pkgs" | grep -qw "$p"; then bad "scripts/deps.sh run installs $p"; fi
done
grep -A2 '^run:' Makefile | grep -q 'scripts/deps.sh run' && ok "make run uses scripts/deps.sh run" ||
  bad "make run does not use 'scripts/deps.sh run'"
grep -q '^run:.*\bdeps\b' Makefile && bad "make run depends on the full deps target"

[ "$fails" -eq 0 ] && echo "run-example: passed" || echo "run-example: $fails FAILED"
[ "$fails" -eq 0 ]
