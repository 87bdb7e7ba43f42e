# fuzz.mk — libFuzzer harnesses of every decoder of outside input (clang,
# ASan+UBSan; included by Makefile):
#
#   make fuzz                 build both harnesses and run each for
#                             FUZZ_SECONDS (default 60); findings (crash-*,
#                             leak-*, timeout-*) land in build/fuzz/<name>/
#   make fuzz-build           only build them
#
#   fuzz_parquet   the Parquet reader's whole decode path (tests/fuzz/fuzz_parquet.c),
#                  seeded with tests/fixtures/parquet and, when present, the
#                  parquet-testing corpus
#   fuzz_request   request frames (header, protobuf decode, lookup
#                  validation) and packed rows from Redis
#                  (tests/fuzz/fuzz_request.c), seeded with frames written
#                  by tests/fuzz/seed_request.py
#   fuzz_http      the serving port's HTTP input: pipelined request heads
#                  (http_parse_head), bodies by Content-Length, the JSON
#                  lookup builder and the push / write-to-online-store
#                  builder with write_check on its result
#                  (tests/fuzz/fuzz_http.c), seeded with tests/fuzz/seeds_http/
#
# Coverage and executions are printed at the end of each run
# (-print_final_stats=1).

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_DIR     := build/fuzz
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
                -Iserver -Iclient -I$(FUZZ_DIR)/gen $(PKG_CFLAGS)
FUZZ_PARQUET_SRCS := tests/fuzz/fuzz_parquet.c $(wildcard server/parquet/*.c) \
                client/cli/cli_parquet_dump.c server/core/util.c $(wildcard server/common/*.c)
FUZZ_REQUEST_SRCS := tests/fuzz/fuzz_request.c $(filter-out server/main.c,$(SERVER_SRCS)) \
                $(COMMON_SRCS) $(FUZZ_DIR)/gen/featd.pb-c.c
FUZZ_HTTP_SRCS := tests/fuzz/fuzz_http.c $(filter-out server/main.c,$(SERVER_SRCS)) \
                $(COMMON_SRCS) $(FUZZ_DIR)/gen/featd.pb-c.c
PARQUET_TESTING_DIR ?= ../shared/parquet-testing

.PHONY: fuzz fuzz-build
fuzz-build: $(FUZZ_DIR)/fuzz_parquet $(FUZZ_DIR)/fuzz_request $(FUZZ_DIR)/fuzz_http

$(FUZZ_DIR)/gen/featd.pb-c.c: proto/featd.proto
	@mkdir -p $(FUZZ_DIR)/gen
	protoc-c --c_out=$(FUZZ_DIR)/gen -Iproto proto/featd.proto

$(FUZZ_DIR)/fuzz_parquet: $(FUZZ_PARQUET_SRCS) $(wildcard server/parquet/*.h)
	@mkdir -p $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_PARQUET_SRCS) $(PKG_LIBS)

$(FUZZ_DIR)/fuzz_request: $(FUZZ_REQUEST_SRCS) $(wildcard server/*/*.h)
	@mkdir -p $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_REQUEST_SRCS) $(PKG_LIBS)

$(FUZZ_DIR)/fuzz_http: $(FUZZ_HTTP_SRCS) $(wildcard server/*/*.h)
	@mkdir -p $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_HTTP_SRCS) $(PKG_LIBS)

fuzz: fuzz-build
	@mkdir -p $(FUZZ_DIR)/parquet/corpus $(FUZZ_DIR)/parquet/seeds \
	          $(FUZZ_DIR)/request/corpus $(FUZZ_DIR)/request/seeds $(FUZZ_DIR)/http/corpus
	@cp -f tests/fixtures/parquet/*.parquet $(FUZZ_DIR)/parquet/seeds/ 2>/dev/null || true
	@if [ -d "$(PARQUET_TESTING_DIR)/data" ]; then \
	  find "$(PARQUET_TESTING_DIR)/data" "$(PARQUET_TESTING_DIR)/bad_data" -type f -name '*.parquet*' \
	    -size -100k -exec cp -f {} $(FUZZ_DIR)/parquet/seeds/ \; ; fi
	python3 tests/fuzz/seed_request.py $(FUZZ_DIR)/request/seeds
	cd $(FUZZ_DIR)/parquet && ../fuzz_parquet -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 \
	  -max_len=131072 -timeout=20 -print_final_stats=1 corpus seeds
	cd $(FUZZ_DIR)/request && ../fuzz_request -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 \
	  -max_len=65536 -timeout=20 -print_final_stats=1 corpus seeds
	cd $(FUZZ_DIR)/http && ../fuzz_http -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 \
	  -max_len=32768 -timeout=20 -print_final_stats=1 corpus $(CURDIR)/tests/fuzz/seeds_http
