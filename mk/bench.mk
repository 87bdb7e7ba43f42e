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

# featd-bench's Redis-alone target (bench/bench_redis.c) builds its keys with
# the daemon's own online-tier key functions, so featd-bench also links
# bench_redis.o and the server library (these prerequisites are added to the
# Makefile's featd-bench rule; its recipe links $^).
$(BUILD)/featd-bench: $(BUILD)/bench/bench_redis.o $(BUILD)/libfeatd-server.a
$(BUILD)/bench/bench_redis.o: | $(GEN_H)
