# revops-stream: plain Makefile. `make` builds ./revops-stream, `make test`
# runs the unit and command tests, then all of them again under ASan+UBSan.

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
CLI_SRC  := src/cli.c src/outfile.c $(wildcard src/net_*.c) $(wildcard src/cmd_*.c)
LIB_SRC  := $(filter-out src/main.c $(CLI_SRC),$(wildcard src/*.c))
LIB_OBJ  := $(LIB_SRC:src/%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:src/%.c=$(BUILD)/%.o)
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

.PHONY: all deps test check check-units check-scripts check-asan bench install uninstall clean

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

bench: deps all
	scripts/bench.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/revops-stream
	install -m 644 man/revops-stream.1 $(DESTDIR)$(PREFIX)/share/man/man1/revops-stream.1

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/revops-stream $(DESTDIR)$(PREFIX)/share/man/man1/revops-stream.1

clean:
	rm -rf $(BUILD) $(BIN)
