#!/bin/sh
# check-deploy.sh — the on-call files under deploy/ are valid and use real
# metrics: `promtool check rules` and `promtool test rules` over the
# Prometheus alert rules, then tests/deploy/check_metrics.py (the Grafana
# dashboard parses; every metric in it and in the rules is exported by
# this build's featd or listed in DESIGN §12). Run by `make test`
# (target test-deploy). Usage: check-deploy.sh BUILD_DIR
# promtool comes with the Debian package prometheus (scripts/deps.sh);
# without it the promtool steps are skipped with a message, not failed.
set -u
build=${1:-build}
cd "$(dirname "$0")/../.."
fail=0
PYTHON=python3
[ -x /usr/bin/python3 ] && PYTHON=/usr/bin/python3
if command -v promtool >/dev/null 2>&1; then
  promtool check rules deploy/prometheus/featd-alerts.yml || fail=1
  (cd deploy/prometheus && promtool test rules featd-alerts.test.yml) || fail=1
else
  echo "check-deploy: SKIPPED promtool checks: promtool not found (Debian package prometheus;" \
       "make deps installs it)"
fi
"$PYTHON" tests/deploy/check_metrics.py "$build" || fail=1
if [ "$fail" -eq 0 ]; then echo "deploy: passed"; else echo "deploy: FAILED"; fi
exit "$fail"
