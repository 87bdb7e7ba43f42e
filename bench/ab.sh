#!/usr/bin/env bash
# A/B of the request path: bench/smoke.sh run alternately on featd built from
# REV (checked out beside this tree in build/ab/REV) and on this tree's build,
# both driven by this tree's featd-bench, so only featd differs.
#   bench/ab.sh REV [PAIRS] [SECONDS]      e.g. bench/ab.sh HEAD~1 3 10
# Prints each run's smoke.sh table and a summary (median req/s and p99 of each
# side, after/before ratio). Needs a quiet machine: numbers on the 2 shared
# cores drift by a few percent from pair to pair.
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:?usage: bench/ab.sh REV [PAIRS] [SECONDS]}
pairs=${2:-3}
secs=${3:-10}
sha=$(git rev-parse --short "$rev")
wt=build/ab/$sha
make -s all >/dev/null
if [ ! -x "$wt/build/featd" ]; then
  rm -rf "$wt"; mkdir -p build/ab
  git worktree add -f --detach "$wt" "$sha" >/dev/null 2>&1
  make -s -C "$wt" build/featd build/featd-cli >/dev/null
fi
for side in before after; do mkdir -p "build/ab/$side"; done
cp "$wt/build/featd" "$wt/build/featd-cli" build/ab/before/
cp build/featd build/featd-cli build/ab/after/
cp build/featd-bench build/ab/before/; cp build/featd-bench build/ab/after/
declare -a rps_before rps_after p99_before p99_after
for i in $(seq "$pairs"); do
  for side in before after; do
    out=$(bash bench/smoke.sh "build/ab/$side" "$secs" 2>&1 | tail -4)
    echo "== pair $i $side ($([ $side = before ] && echo "$sha" || echo working tree))"; echo "$out"
    line=$(echo "$out" | grep '^featd 1 entity')
    rps=$(echo "$line" | awk '{print $(NF-2)}'); p99=$(echo "$line" | awk '{print $NF}')
    if [ "$side" = before ]; then rps_before+=("$rps"); p99_before+=("$p99")
    else rps_after+=("$rps"); p99_after+=("$p99"); fi
  done
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
mb=$(median "${rps_before[@]}"); ma=$(median "${rps_after[@]}")
echo
printf 'median featd req/s: before %s, after %s, after/before %.3f\n' "$mb" "$ma" "$(echo "$ma / $mb" | bc -l)"
printf 'median featd p99 ms: before %s, after %s\n' "$(median "${p99_before[@]}")" "$(median "${p99_after[@]}")"
