#!/bin/sh
# Install the Debian packages featd needs. Idempotent: does nothing when
# everything is present; uses sudo when not root.
#   scripts/deps.sh        build, run and test (make deps, make test)
#   scripts/deps.sh run    build and run only (make run): no test tools
# The test-only packages: prometheus (for promtool, which checks
# deploy/prometheus; Debian ships promtool only inside the server package,
# whose systemd unit then runs a Prometheus on :9090), check/libsubunit
# (unit tests), python3-pytest/python3-protobuf (the Python client's tests).
# redis-server (build and run) brings redis-server.service, a system Redis
# on 127.0.0.1:6379 that featd never uses (README, "System services").
set -e
RUN_PKGS="build-essential pkg-config libevent-dev libhiredis-dev libprotobuf-c-dev
protobuf-c-compiler libjansson-dev redis-server redis-tools
libsnappy-dev zlib1g-dev libzstd-dev liblz4-dev libbrotli-dev libssl-dev openssl curl ca-certificates"
TEST_PKGS="check libsubunit-dev prometheus python3 python3-protobuf python3-pytest protobuf-compiler"
case "${1:-all}" in
  run) PKGS="$RUN_PKGS" ;;
  all|test) PKGS="$RUN_PKGS $TEST_PKGS" ;;
  *) echo "usage: scripts/deps.sh [run|all]" >&2; exit 2 ;;
esac
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing
