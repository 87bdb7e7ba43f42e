#!/bin/sh
# run.sh — Parquet decode benchmark: featd's reader vs DuckDB (one thread) on
# a 5-million-row feature table (int64 key, timestamp, 8 numeric features, a
# string, a list<float> of 16) in SNAPPY and ZSTD. The tables are generated
# once with DuckDB into build/bench/parquet (gitignored) and reused.
# Not part of the test suite.
#
#   bench/parquet/run.sh                    full run (5M rows, best of 3)
#   BENCH_ROWS=200000 bench/parquet/run.sh  quick run
#   BENCH_REPEAT=5 BENCH_CODECS=zstd BENCH_PARQUET_VERSION=v2 ...
#
# featd is timed through `build/featd-cli parquet bench FILE` (FEATD_CLI to
# override), which must decode every column of every row group and may print
# "rows=N"; while that command does not exist the featd line says MISSING.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
export BENCH_DIR="${BENCH_DIR:-$root/build/bench/parquet}"
export FEATD_CLI="${FEATD_CLI:-$root/build/featd-cli}"
export FEATD_PROBE_FILE="$root/tests/fixtures/parquet/features_arrow_zstd_v2.parquet"
cd "$root/bench/parquet"
bash -c '. "$0/bench/lib.sh" && need_node_deps' "$root"
exec node bench.mjs
