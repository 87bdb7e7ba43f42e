#!/bin/sh
# Runs every tests/scripts/test-*.sh (the scripts' and featd-cli's own
# tests, by `make test` through the test-scripts target) with the build dir
# as $1; prints each result and one "scripts: N passed, N failed" line.
# Usage: tests/scripts/run.sh BUILD_DIR
build=${1:-build}
cd "$(dirname "$0")/../.."
pass=0; fail=0; failed=""
for t in tests/scripts/test-*.sh; do
  echo "== $t"
  if "$t" "$build"; then
    pass=$((pass+1))
  else
    fail=$((fail+1)); failed="$failed $(basename "$t")"
  fi
done
[ -n "$failed" ] && echo "failed scripts:$failed"
echo "scripts: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
