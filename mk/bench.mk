# bench.mk — the benchmark suite (included by Makefile; not part of `make test`).
#
#   make bench         bench/run.sh at full size (1M entities, ~10 min on 2 cores);
#                      results in bench/results/
#   make bench-quick   BENCH_QUICK=1: 100k entities, short runs; results in
#                      build/bench/results/

.PHONY: bench bench-quick
bench: all
	BENCH_NO_BUILD=1 bash bench/run.sh
bench-quick: all
	BENCH_NO_BUILD=1 BENCH_QUICK=1 bash bench/run.sh
