#!/usr/bin/env bash
# The README's run command (`make run`): start featd on config/featd.json
# (or $FEATD_CONFIG) with its private (embedded) Redis; its materializer
# loads the example Parquet snapshots in examples/data (written by DuckDB:
# examples/generate.mjs) into the online tier. Keeps serving until Ctrl-C /
# SIGTERM, which it forwards to featd (its log says which); exits with
# featd's status (0 after a clean drain), so make prints no error.
#
# It says "serving" only once the featd it started is alive and the
# listening sockets of the serving and admin addresses in force (the file
# and the FEATD_* environment, as `featd --check-config` reports them)
# belong to that process (/proc/PID/fd against /proc/net/tcp*). A port that
# another process holds is a clear failure naming the holder.
# Tested by tests/scripts/test-run-example.sh.
set -uo pipefail
build=${1:-build}
cd "$(dirname "$0")/.."
cfg=${FEATD_CONFIG:-config/featd.json}
wait_s=${RUN_EXAMPLE_START_TIMEOUT:-20}

fail() { echo "make run: $*" >&2; exit 1; }

check=$("$build/featd" --check-config "$cfg") || fail "$cfg is invalid (see above)"
printf '%s\n' "$check" | grep '^featd: warning' >&2
addrs=$(printf '%s\n' "$check" | sed -n 's/^featd: serving port \(.*\), admin port \(.*\)$/\1 \2/p')
read -r listen admin <<<"$addrs"
[ -n "${listen:-}" ] || fail "cannot tell featd's serving address from featd --check-config"

port_of() { echo "${1##*:}"; }
host_of() {    # a connectable host for a listen address (wildcards: loopback)
  local h=${1%:*}; h=${h#[}; h=${h%]}
  case $h in ""|0.0.0.0|"*") echo 127.0.0.1 ;; ::) echo ::1 ;; *) echo "$h" ;; esac
}
# The inodes of the TCP sockets listening on port $1 (any address).
listen_inodes() {
  local hex; hex=$(printf '%04X' "$1")
  awk -v p="$hex" 'FNR > 1 && $4 == "0A" { n = split($2, a, ":"); if (a[n] == p) print $10 }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
# True when a socket listening on port $2 is one of process $1's descriptors.
owns_port() {
  local ino links; links=$(ls -l "/proc/$1/fd" 2>/dev/null) || return 1
  for ino in $(listen_inodes "$2"); do
    case $links in *"socket:[$ino]"*) return 0 ;; esac
  done
  return 1
}
# Who listens on port $1 (ss when installed, else the socket inodes).
holder() {
  local who=""
  command -v ss >/dev/null 2>&1 && who=$(ss -Hltnp "sport = :$1" 2>/dev/null | sed 's/^/    /')
  echo "${who:-    socket inode(s) $(listen_inodes "$1" | tr '\n' ' ')(process not visible)}"
}
# what (the key and its variable), address
check_free() {
  [ -z "$(listen_inodes "$(port_of "$2")")" ] && return 0
  fail "$2 ($1) is already in use by another process:
$(holder "$(port_of "$2")")
Stop that process, or run on other ports, e.g. FEATD_LISTEN=127.0.0.1:7566 FEATD_ADMIN_LISTEN=127.0.0.1:7567 make run"
}
check_free "server.listen, FEATD_LISTEN" "$listen"
[ "$admin" = off ] || check_free "server.admin_listen, FEATD_ADMIN_LISTEN" "$admin"

# featd in its own session: a terminal Ctrl-C reaches only make and this
# script, which forwards that one signal (featd treats a second one as
# "exit now") and exits with featd's status.
setsid "$build/featd" --config "$cfg" &
pid=$!
stop() {
  trap '' INT TERM
  echo "make run: $1: stopping featd (pid $pid)" >&2
  kill "-$1" "$pid" 2>/dev/null
  wait "$pid"
  exit $?
}
trap 'stop INT' INT
trap 'stop TERM' TERM
# died: featd is gone; report its status and what its log said
died() {
  wait "$pid"; local rc=$?
  fail "featd (pid $pid) exited with status $rc before serving; see its log above
(serving address $listen, admin address $admin; is another process using them?)"
}
deadline=$((SECONDS + wait_s))
while :; do
  kill -0 "$pid" 2>/dev/null || died
  if owns_port "$pid" "$(port_of "$listen")" &&
     { [ "$admin" = off ] || owns_port "$pid" "$(port_of "$admin")"; }; then
    break
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    bad=$listen; owns_port "$pid" "$(port_of "$listen")" && bad=$admin
    kill -TERM "$pid" 2>/dev/null; wait "$pid"
    fail "featd (pid $pid) does not listen on $bad after ${wait_s} s; that port is held by:
$(holder "$(port_of "$bad")")"
  fi
  sleep 0.1
done
host=$(host_of "$listen"); port=$(port_of "$listen")
cli=("$build/featd-cli" --host "$host" --port "$port")
"${cli[@]}" ping >/dev/null || { kill -0 "$pid" 2>/dev/null || died; fail "featd (pid $pid) listens on $listen but does not answer ping"; }
# The materializer publishes each view's first generation within seconds.
for _ in $(seq 1 300); do
  kill -0 "$pid" 2>/dev/null || died
  if ! "${cli[@]}" views 2>/dev/null | grep -q "generation:   0"; then break; fi
  sleep 0.1
done
"$build/featd-cli" --config "$cfg" materialize status || true
kill -0 "$pid" 2>/dev/null || died

ahost=$(host_of "$admin"); aport=$(port_of "$admin")
cat <<EOT

featd (pid $pid) is serving on $listen (admin on $admin). Try:
  $build/featd-cli --host $host --port $port views
  $build/featd-cli --host $host --port $port get --features customer_stats:* --entity customer_id=1,2,13,999
  $build/featd-cli --host $host --port $port get --features merchant_profile:* --entity merchant_id=m001,m002 --entity country=FR,US --json
  curl -s http://$ahost:$aport/metrics | grep featd_materializer
Ctrl-C stops it.
EOT
wait "$pid"
