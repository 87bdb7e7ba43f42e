#!/bin/sh
# Install the Debian packages featd needs to build, test and run. Idempotent:
# does nothing when everything is present; uses sudo when not root.
set -e
PKGS="build-essential pkg-config libevent-dev libhiredis-dev libprotobuf-c-dev
protobuf-c-compiler libjansson-dev check libsubunit-dev redis-server redis-tools
libsnappy-dev zlib1g-dev libzstd-dev liblz4-dev libbrotli-dev libssl-dev openssl curl ca-certificates
prometheus python3 python3-protobuf python3-pytest protobuf-compiler"
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
