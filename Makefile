# featd — plain Makefile (pkg-config), in the manner of redis' src/Makefile.
#
#   make               build featd, featd-cli, libfeatd (into build/)
#   make deps          install the Debian packages we need (idempotent)
#   make run           run deps + build + run the daemon on the example data
#   make test          deps + build + unit and end-to-end suites
#   make test SANITIZE=1   the same under ASan+UBSan (objects in build/san/)
#   make WERROR=1      warnings are errors (CI)
#   make clean

CC      ?= cc
PKGS    := libevent libevent_pthreads libevent_openssl hiredis libprotobuf-c jansson libzstd liblz4 libbrotlidec zlib libssl libcrypto
BUILD   ?= build
ifeq ($(SANITIZE),1)
BUILD   := build/san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif
OPT     ?= -O2 -g
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wformat=2 -Wundef -Wno-unused-parameter -Wvla
ifeq ($(WERROR),1)
WARN    += -Werror
endif
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lsnappy -lpthread -lm
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)
CFLAGS  += -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) $(SANFLAGS) $(PKG_CFLAGS) \
           -I$(BUILD)/gen -Iserver -Iclient -MMD -MP
LDFLAGS += $(SANFLAGS)

GEN_C   := $(BUILD)/gen/featd.pb-c.c
GEN_H   := $(BUILD)/gen/featd.pb-c.h
# The tree: server/<subsystem>/*.c is the daemon (main.c apart, so the CLI and
# the tests link the rest as a library); server/common/ is libc-only code
# shared with libfeatd; client/ is libfeatd; client/cli/ is featd-cli;
# bench/featd-bench.c the load generator. Includes are folder-qualified
# ("net/conn.h", "cli/cli.h") against -Iserver -Iclient.
COMMON_SRCS := $(wildcard server/common/*.c)
SERVER_SRCS := $(filter-out $(COMMON_SRCS),$(wildcard server/*/*.c))
SERVER_OBJS := $(SERVER_SRCS:%.c=$(BUILD)/%.o) $(COMMON_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/gen/featd.pb-c.o
CLIENT_SRCS := $(wildcard client/*.c)
CLIENT_OBJS := $(CLIENT_SRCS:%.c=$(BUILD)/%.o) $(COMMON_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/gen/featd.pb-c.o
CLI_SRCS    := $(filter-out client/cli/cli.c,$(wildcard client/cli/*.c))
CLI_OBJS    := $(CLI_SRCS:%.c=$(BUILD)/%.o)
UNIT_SRCS   := $(wildcard tests/unit/check_*.c)
UNIT_BINS   := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
E2E_SRCS    := $(wildcard tests/e2e/e2e_*.c)
E2E_BINS    := $(E2E_SRCS:tests/e2e/%.c=$(BUILD)/tests/%)
E2E_HARNESS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/e2e/harness*.c))

BINS := $(BUILD)/featd $(BUILD)/featd-cli $(BUILD)/featd-bench $(BUILD)/libfeatd.a
EXTRA_BINS :=

.PHONY: all deps run test unit e2e clean proto test-python test-deploy test-scripts
all: $(BINS)

proto: $(GEN_C)
$(GEN_C) $(GEN_H): proto/featd.proto
	@mkdir -p $(BUILD)/gen
	protoc-c --proto_path=proto --c_out=$(BUILD)/gen proto/featd.proto

# Everything compiled depends on the generated header existing.
$(SERVER_OBJS) $(CLIENT_OBJS) $(CLI_OBJS) $(BUILD)/server/main.o $(BUILD)/client/cli/cli.o \
  $(BUILD)/bench/featd-bench.o $(BUILD)/bench/bench_redis.o: | $(GEN_H)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC $<"; $(CC) $(CFLAGS) -c -o $@ $<
$(BUILD)/gen/featd.pb-c.o: $(GEN_C)
	$(CC) $(filter-out -W%,$(CFLAGS)) -w -c -o $@ $<

$(BUILD)/libfeatd-server.a: $(SERVER_OBJS)
	@rm -f $@; ar rcs $@ $^
$(BUILD)/libfeatd.a: $(CLIENT_OBJS)
	@rm -f $@; ar rcs $@ $^
$(BUILD)/libfeatd-cli.a: $(CLI_OBJS)
	@rm -f $@; ar rcs $@ $^

$(BUILD)/featd: $(BUILD)/server/main.o $(BUILD)/libfeatd-server.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)
# featd-bench's Redis-alone target (bench/bench_redis.c) builds its keys with
# the daemon's own online-tier key functions, hence the server library.
$(BUILD)/featd-bench: $(BUILD)/bench/featd-bench.o $(BUILD)/bench/bench_redis.o $(BUILD)/libfeatd.a \
                     $(BUILD)/libfeatd-server.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)
$(BUILD)/featd-cli: $(BUILD)/client/cli/cli.o $(BUILD)/libfeatd-cli.a $(BUILD)/libfeatd.a $(BUILD)/libfeatd-server.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/tests/check_%: $(BUILD)/tests/unit/check_%.o $(BUILD)/libfeatd-cli.a $(BUILD)/libfeatd.a $(BUILD)/libfeatd-server.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(PKG_LIBS)
$(BUILD)/tests/e2e_%: $(BUILD)/tests/e2e/e2e_%.o $(E2E_HARNESS) $(BUILD)/libfeatd.a $(BUILD)/libfeatd-server.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(PKG_LIBS)
$(UNIT_SRCS:%.c=$(BUILD)/%.o) $(E2E_SRCS:%.c=$(BUILD)/%.o) $(E2E_HARNESS): | $(GEN_H)

deps:
	@scripts/deps.sh

unit: $(UNIT_BINS)
	@scripts/run-tests.sh unit $(BUILD) $(UNIT_BINS)
e2e: $(BINS) $(E2E_BINS)
	@scripts/run-tests.sh e2e $(BUILD) $(E2E_BINS)
test: deps
	@$(MAKE) --no-print-directory all $(UNIT_BINS) $(E2E_BINS) $(EXTRA_BINS)
	@scripts/run-tests.sh all $(BUILD) $(UNIT_BINS) $(E2E_BINS)
	@$(MAKE) --no-print-directory test-python
	@$(MAKE) --no-print-directory test-deploy
	@$(MAKE) --no-print-directory test-scripts

# The Python client's tests (client/python/tests, pytest) against this
# BUILD's featd and featd-cli. Debian's interpreter: python3-protobuf and
# python3-pytest live in its dist-packages (a pyenv python3 would not see them).
PYTHON ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)
test-python: all
	FEATD_BUILD_DIR=$(BUILD) $(PYTHON) -m pytest -q -p no:cacheprovider client/python/tests

# deploy/: Prometheus rules (promtool check + unit tests), the Grafana
# dashboard, and every metric they name against this BUILD's featd.
test-deploy: all
	@tests/deploy/check-deploy.sh $(BUILD)

# run installs only what building and running need (scripts/deps.sh run:
# not the test tools, e.g. prometheus for promtool).
run:
	@scripts/deps.sh run
	@$(MAKE) --no-print-directory all
	@scripts/run-example.sh $(BUILD)

# tests/scripts/test-*.sh: the scripts' own tests (make run's liveness and
# port-ownership checks, Ctrl-C; featd-cli's help exit codes).
test-scripts: all
	@tests/scripts/run.sh $(BUILD)

clean:
	rm -rf build

# Feature areas add their own targets (fuzz, bench, container-test) here.
-include mk/*.mk
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
