#!/bin/sh
# Run test binaries (Check suites), each in turn; print each suite's result
# and one closing "N passed, N failed" line over all suites. Exit 1 if any
# suite failed. Usage: run-tests.sh LABEL BUILD_DIR BIN...
label=$1; build=$2; shift 2
pass=0; fail=0; failed=""
export FEATD_BUILD_DIR="$build"
for t in "$@"; do
  [ -x "$t" ] || { echo "missing test binary $t"; fail=$((fail+1)); failed="$failed $t"; continue; }
  echo "== $t"
  if CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-120} "$t"; then
    pass=$((pass+1))
  else
    fail=$((fail+1)); failed="$failed $(basename "$t")"
  fi
done
echo
[ -n "$failed" ] && echo "failed suites:$failed"
echo "$label: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
