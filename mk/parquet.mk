# parquet.mk — extra targets for the Parquet reader (included by Makefile).
#
#   make fuzz                 build the libFuzzer harness (clang, ASan+UBSan)
#                             over the whole decode path and run it for
#                             FUZZ_SECONDS (default 60), seeded with
#                             tests/fixtures/parquet and, when present, the
#                             parquet-testing corpus. Findings are written to
#                             build/fuzz/ (crash-*, leak-*, timeout-*).
#   make fuzz-build           only build build/fuzz/fuzz_parquet

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_DIR     := build/fuzz
FUZZ_BIN     := $(FUZZ_DIR)/fuzz_parquet
FUZZ_SRCS    := tests/fuzz/fuzz_parquet.c $(wildcard server/parquet/*.c) client/cli/cli_parquet_dump.c \
                server/core/util.c \
                $(wildcard server/common/*.c)
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
                -Iserver -Iclient $(shell pkg-config --cflags libzstd liblz4 libbrotlidec zlib 2>/dev/null)
FUZZ_LIBS    := $(shell pkg-config --libs libzstd liblz4 libbrotlidec zlib 2>/dev/null) -lsnappy -lm
PARQUET_TESTING_DIR ?= ../shared/parquet-testing

.PHONY: fuzz fuzz-build
fuzz-build: $(FUZZ_BIN)
$(FUZZ_BIN): $(FUZZ_SRCS) $(wildcard server/parquet/*.h)
	@mkdir -p $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_SRCS) $(FUZZ_LIBS)

fuzz: $(FUZZ_BIN)
	@mkdir -p $(FUZZ_DIR)/corpus $(FUZZ_DIR)/seeds
	@cp -f tests/fixtures/parquet/*.parquet $(FUZZ_DIR)/seeds/ 2>/dev/null || true
	@if [ -d "$(PARQUET_TESTING_DIR)/data" ]; then \
	  find "$(PARQUET_TESTING_DIR)/data" "$(PARQUET_TESTING_DIR)/bad_data" -type f -name '*.parquet*' \
	    -size -100k -exec cp -f {} $(FUZZ_DIR)/seeds/ \; ; fi
	cd $(FUZZ_DIR) && ./fuzz_parquet -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 \
	  -max_len=131072 -timeout=20 -print_final_stats=1 corpus seeds
