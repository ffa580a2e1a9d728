# revops-stream: plain Makefile. `make` builds ./revops-stream, `make test`
# runs the unit and command tests, then all of them again under ASan+UBSan,
# a valgrind leak check, then a short pass of each libFuzzer target (`make
# fuzz` for a long one).

PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
BUILD   ?= build
BIN     ?= revops-stream

PKGS    := yajl libzstd libuv
OPT     ?= -O2 -g
# Plain -O2 turns fixed-size copies into slow `rep movs` on this hardware;
# unrolled loops keep the formatter fast (SPEC 7).
TUNE    ?= -mstringop-strategy=unrolled_loop
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter -Wno-format-truncation
CFLAGS  ?= $(OPT) $(TUNE)
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) -Iinclude -Isrc \
              $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(CFLAGS)
LIBS    := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
TEST_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

# The library core knows nothing of argv, files or terminals; the front end
# (main, subcommands, output files, error lines) sits on top of it.
CLI_SRC  := src/cli.c src/cli_check.c src/outfile.c src/lineframe.c $(wildcard src/net_*.c) $(wildcard src/cmd_*.c)
LIB_SRC  := $(filter-out src/main.c $(CLI_SRC),$(wildcard src/*.c))
LIB_OBJ  := $(LIB_SRC:src/%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:src/%.c=$(BUILD)/%.o)
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

.PHONY: all deps test check check-units check-scripts check-asan check-valgrind check-fuzz fuzz fuzz-build bench install uninstall clean FORCE

all: $(BIN)

# Installs missing Debian packages for building and testing (no-op when all
# are there); `make test` runs it so a fresh machine's CI needs nothing else.
deps:
	@scripts/install-deps.sh

$(BIN): $(BUILD)/main.o $(CLI_OBJ) $(BUILD)/librevops.a
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LIBS) $(LDFLAGS)

$(BUILD)/librevops.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libcli.a: $(CLI_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/%.o: src/%.c $(wildcard src/*.h include/revops/*.h) | $(BUILD)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/%.c $(BUILD)/libcli.a $(BUILD)/librevops.a | $(BUILD)
	@mkdir -p $(BUILD)/tests
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libcli.a $(BUILD)/librevops.a $(TEST_LIBS) $(LIBS) $(LDFLAGS)

$(BUILD):
	mkdir -p $(BUILD)

check-units: $(TEST_BIN)
	@set -e; for t in $(TEST_BIN); do echo "== $$t"; $$t; done

check-scripts: $(BIN)
	@RS_BIN=$(abspath $(BIN)) RS_QUICK=$(QUICK) tests/run.sh

check: check-units check-scripts

SAN := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
check-asan: deps
	$(MAKE) --no-print-directory BUILD=build/asan BIN=build/asan/revops-stream \
	    CFLAGS="$(SAN)" LDFLAGS="$(SAN)" QUICK=1 check

test: deps
	$(MAKE) --no-print-directory all
	$(MAKE) --no-print-directory check
	$(MAKE) --no-print-directory check-asan
	$(MAKE) --no-print-directory check-valgrind
	$(MAKE) --no-print-directory check-fuzz

# valgrind's leak check of one run of generate (with -j 2), merge and
# validate, and of a merge that fails: any leak, or memory error, fails it.
VALGRIND := valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99
check-valgrind: $(BIN)
	@set -e; d=$$(mktemp -d); trap 'rm -rf "$$d"' EXIT; \
	echo "== valgrind: generate, merge, validate"; \
	$(VALGRIND) ./$(BIN) -j 2 --seed 3 --reps 300 --accounts 700 --opportunities 1000 -o $$d/s.ndjson; \
	$(VALGRIND) ./$(BIN) merge -o $$d/d.json $$d/s.ndjson; \
	$(VALGRIND) ./$(BIN) validate $$d/d.json >/dev/null; \
	st=0; $(VALGRIND) ./$(BIN) merge --set QUOTA_MIN=1 $$d/s.ndjson >/dev/null 2>$$d/err || st=$$?; \
	if [ $$st != 1 ]; then cat $$d/err; echo "valgrind: a failing merge: status $$st, want 1"; exit 1; fi; \
	echo "valgrind: no leaks, no memory errors (a failing merge included)"

# The ceiling program of the bench: a bare formatter of one fixed line.
$(BUILD)/bench/ceiling: scripts/bench/ceiling.c src/fmt.h | $(BUILD)
	@mkdir -p $(BUILD)/bench
	$(CC) $(ALL_CFLAGS) -o $@ $<

bench: deps all $(BUILD)/bench/ceiling
	RS_CEILING=$(BUILD)/bench/ceiling scripts/bench.sh

# libFuzzer targets (clang, ASan+UBSan) for the parsers and every
# subcommand's command line: tests/fuzz/fuzz_*.c.
# `make fuzz` runs each for FUZZ_SECONDS from its seed corpus
# (tests/fuzz/corpus/NAME) into build/fuzz/corpus/NAME; crashes land in
# build/fuzz/. `make check-fuzz` is the short pass `make test` runs.
FUZZ_SECONDS ?= 300
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SAN   := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -Wno-unknown-warning-option
FUZZ_BIN   := $(FUZZ_NAMES:%=build/fuzz/fuzz_%)

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_common.h FORCE
	@$(MAKE) --no-print-directory BUILD=build/fuzz CC=clang CFLAGS="$(FUZZ_SAN)" build/fuzz/librevops.a build/fuzz/libcli.a
	clang -std=c11 -D_GNU_SOURCE $(WARN) -Iinclude -Isrc $(shell pkg-config --cflags $(PKGS) 2>/dev/null) \
	    $(subst fuzzer-no-link,fuzzer,$(FUZZ_SAN)) -o $@ $< build/fuzz/libcli.a build/fuzz/librevops.a $(LIBS)

fuzz-build: deps $(FUZZ_BIN)

fuzz: fuzz-build
	@set -e; for n in $(FUZZ_NAMES); do \
	    mkdir -p build/fuzz/corpus/$$n; \
	    echo "== fuzz_$$n for $(FUZZ_SECONDS) s"; \
	    if ! build/fuzz/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
	        -artifact_prefix=build/fuzz/fuzz_$$n- -print_final_stats=1 \
	        build/fuzz/corpus/$$n tests/fuzz/corpus/$$n </dev/null >build/fuzz/fuzz_$$n.log 2>&1; then \
	        tail -40 build/fuzz/fuzz_$$n.log; exit 1; fi; \
	    grep -E '^#[0-9]+ +DONE|^stat::(number_of_executed_units|peak_rss_mb)' build/fuzz/fuzz_$$n.log; \
	done

check-fuzz:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(or $(CHECK_FUZZ_SECONDS),10)

FORCE:

# Installs the program, its man page and bash completion, and the library
# (static archive, public header, pkg-config file made here for PREFIX).
VERSION := $(shell sed -n 's/^\#define RS_VERSION "\(.*\)"/\1/p' include/revops/revops.h)
LIBDIR  ?= $(PREFIX)/lib
MANDIR  ?= $(PREFIX)/share/man
COMPDIR ?= $(PREFIX)/share/bash-completion/completions
INSTALLED := $(PREFIX)/bin/revops-stream $(MANDIR)/man1/revops-stream.1 $(COMPDIR)/revops-stream \
             $(PREFIX)/include/revops/revops.h $(LIBDIR)/librevops.a $(LIBDIR)/pkgconfig/revops.pc

$(BUILD)/revops.pc: scripts/revops.pc.in FORCE | $(BUILD)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(patsubst $(PREFIX)/%,$${exec_prefix}/%,$(LIBDIR))|' \
	    -e 's|@VERSION@|$(VERSION)|' $< >$@

install: all $(BUILD)/revops.pc
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(COMPDIR) \
	    $(DESTDIR)$(PREFIX)/include/revops $(DESTDIR)$(LIBDIR)/pkgconfig
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/revops-stream
	install -m 644 man/revops-stream.1 $(DESTDIR)$(MANDIR)/man1/revops-stream.1
	install -m 644 scripts/completion/revops-stream.bash $(DESTDIR)$(COMPDIR)/revops-stream
	install -m 644 include/revops/revops.h $(DESTDIR)$(PREFIX)/include/revops/revops.h
	install -m 644 $(BUILD)/librevops.a $(DESTDIR)$(LIBDIR)/librevops.a
	install -m 644 $(BUILD)/revops.pc $(DESTDIR)$(LIBDIR)/pkgconfig/revops.pc

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	-rmdir $(DESTDIR)$(PREFIX)/include/revops 2>/dev/null

clean:
	rm -rf $(BUILD) $(BIN)
