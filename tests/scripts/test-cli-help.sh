#!/usr/bin/env bash
# test-cli-help.sh — every featd-cli command and subcommand behaves the same
# way on the command line: --help / -h print the usage on stdout (nothing on
# stderr) and exit 0; an unknown option prints a message on stderr and exits
# 2; `featd-cli --version`, `featd --version` and `featd --help` exit 0 with
# their text on stdout; `featd --bogus` exits 2. No server is needed.
# Usage: test-cli-help.sh BUILD_DIR
set -u
build=${1:-build}
cd "$(dirname "$0")/../.."
cli=$build/featd-cli
T=$(mktemp -d "${TMPDIR:-/tmp}/featd-help-test.XXXXXX")
trap 'rm -rf "$T"' EXIT
fails=0
bad() { echo "  FAIL: $*"; fails=$((fails+1)); }
# expect RC OUT_NONEMPTY(stdout|stderr|-) CMD...
expect() {
  local want=$1 where=$2; shift 2
  "$@" > "$T/out" 2> "$T/err" < /dev/null
  local rc=$?
  [ "$rc" -eq "$want" ] || { bad "$* exited $rc, expected $want"; sed 's/^/    | /' "$T/err" | head -5; return; }
  case $where in
    stdout) [ -s "$T/out" ] || bad "$*: nothing on stdout"
            [ -s "$T/err" ] && bad "$*: wrote to stderr: $(head -1 "$T/err")" ;;
    stderr) [ -s "$T/err" ] || bad "$*: no message on stderr"
            [ -s "$T/out" ] && bad "$*: wrote to stdout: $(head -1 "$T/out")" ;;
  esac
}
commands=(
  "get" "views" "ping" "info" "load" "push" "profile" "quality"
  "parquet" "parquet schema" "parquet dump" "parquet bench"
  "materialize" "materialize status" "materialize promote" "materialize rollback"
  "materialize purge-old-layout"
)
n=0
for c in "${commands[@]}"; do
  read -r -a words <<<"$c"
  expect 0 stdout "$cli" "${words[@]}" --help
  expect 0 stdout "$cli" "${words[@]}" -h
  expect 2 stderr "$cli" "${words[@]}" --no-such-option
  n=$((n+1))
done
for c in get views ping info load push parquet materialize profile quality; do
  expect 0 stdout "$cli" help "$c"
done
expect 0 stdout "$cli" --help
expect 0 stdout "$cli" help
expect 2 stderr "$cli"
expect 2 stderr "$cli" no-such-command
expect 2 stderr "$cli" --no-such-option
expect 0 stdout "$cli" --version
grep -q '^featd-cli [0-9]' "$T/out" || bad "featd-cli --version printed: $(cat "$T/out")"
expect 0 stdout "$cli" -V
expect 0 stdout "$build/featd" --version
grep -q '^featd [0-9]' "$T/out" || bad "featd --version printed: $(cat "$T/out")"
expect 0 stdout "$build/featd" --help
expect 0 stdout "$build/featd" materialize --help
expect 2 stderr "$build/featd" --no-such-option
expect 2 stderr "$build/featd"
[ "$fails" -eq 0 ] && echo "cli-help: passed ($n commands)" || echo "cli-help: $fails FAILED"
[ "$fails" -eq 0 ]
