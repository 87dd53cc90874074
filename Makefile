# ember: one Makefile, no recursion. `make V=1` shows the commands.
#
#   make            build/libember.a and build/ember (-O2)
#   make test       sanitizer build (ASan+UBSan) + Check suites + integration + short chaos
#                   + 30 s of fuzzing the job-file loader
#   make fuzz       libFuzzer on the job-file loader (clang; FUZZ_TIME=S, default 600)
#   make demo       runs examples/sensors.job on the generator
#   make deps       installs the Debian packages when pkg-config cannot find them
#   make chaos      the full chaos suite (CRASHES=N SEED=S)
#   make bench      benchmarks (QUICK=1 for the short version)
#   make format / make lint

CC       ?= gcc
PKGS     := rocksdb rdkafka liblz4 libxxhash jansson sqlite3 libpq libmicrohttpd libcurl openssl
DEB_PKGS := librocksdb-dev librdkafka-dev liblz4-dev libxxhash-dev libjansson-dev libsqlite3-dev libpq-dev postgresql libmicrohttpd-dev libcurl4-openssl-dev libssl-dev check pkg-config \
            kcat rocksdb-tools python3 fiu-utils libfiu-dev clang npm chromium
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)

# Goals that install what is missing first (make deps); every other goal that
# compiles stops at once with one line when the libraries are not there.
SELF_INSTALLING := deps test demo bench clean format
ifneq ($(filter-out $(SELF_INSTALLING),$(or $(MAKECMDGOALS),all)),)
ifneq ($(shell pkg-config --exists $(PKGS) 2>/dev/null && echo ok),ok)
$(error the libraries ember builds on ($(PKGS)) are missing: run `make deps` first)
endif
endif

WARN     := -Wall -Wextra -Werror -Wno-unused-parameter -Wno-format-truncation \
            -Wno-missing-field-initializers
BASEFLAGS = -std=c11 -D_GNU_SOURCE -g $(WARN) -Iinclude -fvisibility=hidden -I. $(PKG_CFLAGS) -MMD -MP
CFLAGS   ?= -O2
LDLIBS    = $(PKG_LIBS) -lpthread -lm

SAN_FLAGS := -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# The status page's files (ui/assets/*) compiled in as byte arrays (ui/embed.py).
UI_ASSETS := $(wildcard ui/assets/*)
UI_GEN    := build/gen/ui_assets.c
LIB_SRCS  := $(wildcard core/*/*.c state/*.c checkpoint/*.c recovery/*.c ui/*.c) $(UI_GEN)
HAND_SRCS := $(filter-out $(UI_GEN),$(LIB_SRCS))
TOOL_SRCS := $(wildcard tools/*.c)
TEST_SRCS := $(wildcard tests/unit/test_*.c)
EXAMPLES  := wordcount custom_agg

ifeq ($(V),1)
Q :=
else
Q := @
endif

# $(1) = build dir, $(2) = extra flags
define build_tree
$(1)/obj/%.o: %.c
	@mkdir -p $$(dir $$@)
	@$(if $(Q),echo "  CC   $$<")
	$(Q)$(CC) $(BASEFLAGS) $(2) -c $$< -o $$@

# Every object with every symbol: the CLI and the Check suites use internals.
$(1)/libember-internal.a: $(patsubst %.c,$(1)/obj/%.o,$(LIB_SRCS))
	@$(if $(Q),echo "  AR   $$@")
	$(Q)rm -f $$@ && ar rcs $$@ $$^

# What embedders link: one relocatable object whose hidden symbols (all but
# EMBER_API in ember.h; -fvisibility=hidden) are made local, so internal
# names cannot clash with the program's. tests/exports.sh checks it.
$(1)/libember.a: $(patsubst %.c,$(1)/obj/%.o,$(LIB_SRCS))
	@$(if $(Q),echo "  AR   $$@")
	$(Q)$(LD) -r -o $(1)/obj/libember.o $$^ && objcopy --localize-hidden $(1)/obj/libember.o
	$(Q)rm -f $$@ && ar rcs $$@ $(1)/obj/libember.o

$(1)/ember: $(patsubst %.c,$(1)/obj/%.o,$(TOOL_SRCS)) $(1)/libember-internal.a
	@$(if $(Q),echo "  LD   $$@")
	$(Q)$(CC) $(2) -o $$@ $$^ $(LDLIBS)

$(1)/tests/%: $(1)/obj/tests/unit/%.o $(1)/libember-internal.a
	@mkdir -p $$(dir $$@)
	$(Q)$(CC) $(2) -o $$@ $$^ $(CHECK_LIBS) $(LDLIBS)

# The examples use the public API only, so they link the public archive.
$(addprefix $(1)/,$(EXAMPLES)): $(1)/%: $(1)/obj/examples/%.o $(1)/libember.a
	$(Q)$(CC) $(2) -o $$@ $$^ $(LDLIBS)
endef

$(UI_GEN): ui/embed.py $(UI_ASSETS)
	@mkdir -p $(dir $@)
	$(Q)python3 ui/embed.py $@ $(UI_ASSETS)

.PHONY: all deps test unit integration demo chaos bench fuzz fuzz-run format lint analyze clean docs checks
all: build/libember.a build/ember $(addprefix build/,$(EXAMPLES))

$(eval $(call build_tree,build,$(CFLAGS)))
$(eval $(call build_tree,build/asan,$(SAN_FLAGS)))

# Installs only what pkg-config (or PATH) cannot find; CI has no terminal.
deps:
	@if ! command -v pkg-config >/dev/null || ! pkg-config --exists $(PKGS) check libfiu \
	    || ! command -v kcat >/dev/null || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
	    || ! command -v db_bench >/dev/null || ! command -v python3 >/dev/null \
	    || ! command -v fiu-run >/dev/null || ! command -v $(FUZZ_CC) >/dev/null \
	    || ! command -v npm >/dev/null || ! command -v chromium >/dev/null; then \
	  echo "installing: $(DEB_PKGS)"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(DEB_PKGS); \
	else echo "deps: all present"; fi
	@# kinesalite (a local Kinesis for tests/integration/test_kinesis.py), git-ignored under build/
	@test -f build/npm/node_modules/kinesalite/cli.js \
	  || npm install --prefix build/npm --no-audit --no-fund kinesalite
	@# playwright-core drives Debian's chromium in tests/integration/test_ui.py (no browser download)
	@test -f build/npm/node_modules/playwright-core/package.json \
	  || PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --prefix build/npm --no-audit --no-fund playwright-core

UNIT_BINS := $(patsubst tests/unit/%.c,build/asan/tests/%,$(TEST_SRCS))
ASAN_ENV  := CK_DEFAULT_TIMEOUT=300 ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# Integration and chaos first, the Check suites last: the run ends with their summary.
test: deps
	$(MAKE) --no-print-directory build/asan/ember $(addprefix build/asan/,$(EXAMPLES)) $(UNIT_BINS)
	$(MAKE) --no-print-directory checks EMBER_BIN=build/asan/ember
	tests/exports.sh build/asan/libember.a
	$(ASAN_ENV) EMBER=build/asan/ember WORDCOUNT=build/asan/wordcount tests/integration/run.sh
	$(ASAN_ENV) EMBER=build/asan/ember CRASHES=$(or $(CRASHES),120) SEED=$(SEED) python3 tests/chaos/chaos.py --short
	$(MAKE) --no-print-directory fuzz-run FUZZ_TIME=$(or $(TEST_FUZZ_TIME),30)
	$(ASAN_ENV) tests/run_unit.sh $(UNIT_BINS)

unit: $(UNIT_BINS)
	$(ASAN_ENV) tests/run_unit.sh $(UNIT_BINS)

demo: deps
	$(MAKE) --no-print-directory build/ember
	rm -rf ckpt/sensor-avg
	build/ember run examples/sensors.job --batches 10 --progress

chaos: build/ember
	EMBER=build/ember CRASHES=$(or $(CRASHES),300) SEED=$(SEED) python3 tests/chaos/chaos.py

bench: deps build/ember build/bench/ceiling
	QUICK=$(QUICK) bench/run.sh

# libFuzzer (tests/fuzz/): the library built again with clang and coverage,
# one harness per target. The corpus lives in build/fuzz/corpus/NAME and grows
# across runs; each run first adds the seeds (examples/*.job, tests/fuzz/seeds/).
# A finding stops the run with exit 1 and leaves crash-*/leak-* files in
# build/fuzz/ (replay one: build/fuzz/fuzz_jobfile FILE).
FUZZ_CC    ?= clang
FUZZ_TIME  ?= 600
FUZZ_SAN   := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_FLAGS := -O1 -fsanitize=fuzzer-no-link $(FUZZ_SAN) -Wno-unknown-warning-option

build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC   $< (fuzz)")
	$(Q)$(FUZZ_CC) $(BASEFLAGS) $(FUZZ_FLAGS) -c $< -o $@

build/fuzz/libember.a: $(patsubst %.c,build/fuzz/obj/%.o,$(LIB_SRCS))
	$(Q)rm -f $@ && ar rcs $@ $^

build/fuzz/fuzz_jobfile: build/fuzz/obj/tests/fuzz/fuzz_jobfile.o build/fuzz/libember.a
	$(Q)$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $^ $(LDLIBS)

fuzz: deps
	$(MAKE) --no-print-directory fuzz-run

fuzz-run: build/fuzz/fuzz_jobfile
	@mkdir -p build/fuzz/corpus/jobfile
	@cp examples/*.job tests/fuzz/seeds/*.job build/fuzz/corpus/jobfile/
	@echo "fuzz: fuzz_jobfile for $(FUZZ_TIME) s (log: build/fuzz/jobfile.log)"
	@cd build/fuzz && if UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ./fuzz_jobfile \
	  -max_total_time=$(FUZZ_TIME) -max_len=16384 -timeout=20 -rss_limit_mb=2048 \
	  -print_final_stats=1 -dict=../../tests/fuzz/jobfile.dict corpus/jobfile \
	  > jobfile.log 2>&1; then grep -E '^Done|^stat::(average|new_units)' jobfile.log; \
	else tail -n 60 jobfile.log; echo "fuzz: fuzz_jobfile found a problem; the input is" \
	  "saved in build/fuzz/ (crash-*, leak-*, timeout-*)"; exit 1; fi

# The bare loop the YSB figure is compared with (bench/ceiling.c).
build/bench/ceiling: bench/ceiling.c
	@mkdir -p $(@D)
	$(CC) -std=c11 -O2 -Wall -Wextra -Werror -o $@ $< -lxxhash

format:
	clang-format -i $(HAND_SRCS) $(TOOL_SRCS) $(TEST_SRCS) $(wildcard tests/fuzz/*.c) $(wildcard include/*.h */*.h)

# The layer rule over #include lines, and the README's generated reference.
EMBER_BIN ?= build/ember
checks: $(EMBER_BIN)
	python3 tests/layers.py
	python3 tests/docs.py $(EMBER_BIN) README.md

# Rewrites the README's reference tables from ember's own tables.
docs: build/ember
	python3 tests/docs.py build/ember README.md --write

lint: checks
	$(MAKE) --no-print-directory build/libember.a && tests/exports.sh build/libember.a
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --suppress=missingIncludeSystem --inline-suppr -Iinclude -I. $(HAND_SRCS) $(TOOL_SRCS)
	clang-tidy --quiet $(HAND_SRCS) $(TOOL_SRCS) -- -std=c11 -D_GNU_SOURCE -Iinclude -I. $(PKG_CFLAGS) 2>/dev/null \
	  | grep -E 'warning:|error:' && exit 1 || true

# clang's path-sensitive analyzer: a report to read, not a gate (see .clang-tidy).
analyze:
	clang-tidy --quiet -checks='-*,clang-analyzer-*,-clang-analyzer-valist.Uninitialized,-clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling' \
	  $(HAND_SRCS) $(TOOL_SRCS) -- -std=c11 -D_GNU_SOURCE -Iinclude -I. $(PKG_CFLAGS) 2>/dev/null | grep -E 'warning:|error:' || true

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)

# The stream-stream join operator alone (bench/stream_join_bench.c, bench/README.md).
build/bench/stream_join_bench: build/obj/bench/stream_join_bench.o build/libember-internal.a
	@mkdir -p $(@D)
	$(Q)$(CC) -o $@ $^ $(LDLIBS)
