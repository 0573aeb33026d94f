# Pat's build.
#
#   make                 build build/pat
#   make test            install dependencies, build, run every unit and integration test
#   make test SANITIZE=1 the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   make run             install dependencies, build and start `pat serve`
#   make bench           run the benchmarks (docs/BENCHMARKS.md)
#   make test-faults     three regions in network namespaces under faults (root; docs/DEVELOPMENT.md)
#   make install         install pat, its systemd units and example configs (PREFIX, DESTDIR)
#   make clean           remove build/
#
# Every .c file under the module folders is compiled into one static library, build/libpat.a;
# cli/main.c links it into build/pat, and each tests/{unit,integration}/test_*.c becomes one
# cmocka test program linked against it. Adding a source or a test needs no edit here.
# Compiler flags for system libraries come from pkg-config (PKGS); header dependencies are
# tracked with -MMD so that incremental builds are right.

.DEFAULT_GOAL := all
.SUFFIXES:
.DELETE_ON_ERROR:
.SECONDARY:

VERSION  := 0.1.0
SANITIZE ?= 0
ifeq ($(SANITIZE),1)
BUILD    ?= build/sanitize
else
BUILD    ?= build
endif

CC       ?= cc
# System libraries linked into pat (pkg-config names). TEST_PKGS are added for test programs.
PKGS      = inih dqlite jansson sqlite3 msgpack libzstd libcrypto libssl libuv gmime-3.0 libh2o libcurl
TEST_PKGS = cmocka
# Libraries without a pkg-config file: wslay (libwslay-dev), which h2o's WebSocket API exposes.
NOPC_LIBS = -lwslay

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter -Wno-format-zero-length
CFLAGS   ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) -I. $(PKG_CFLAGS) -MMD -MP
ALL_LDFLAGS = $(LDFLAGS)
ifeq ($(SANITIZE),1)
ALL_CFLAGS  += -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
ALL_LDFLAGS += -fsanitize=address,undefined
endif

MODULES   := lib consensus node compliance ml gateway cli
LIB_SRCS  := $(filter-out cli/main.c,$(wildcard $(addsuffix /*.c,$(MODULES))))
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
# The web UI's files (gateway/webui/) are embedded in the library as C arrays: deploy/embed.sh
# writes build/gen/webui_assets.c whenever a file or the script changes (never checked in).
WEBUI_FILES := $(sort $(wildcard gateway/webui/*.html gateway/webui/*.js gateway/webui/*.css))
WEBUI_GEN := $(BUILD)/gen/webui_assets.c
WEBUI_OBJ := $(BUILD)/obj/gen/webui_assets.o
LIB_OBJS  += $(WEBUI_OBJ)
TLIB_SRCS := $(wildcard tests/lib/*.c)
TLIB_OBJS := $(TLIB_SRCS:%.c=$(BUILD)/obj/%.o)
UNIT_BINS := $(patsubst %.c,$(BUILD)/%,$(wildcard tests/unit/test_*.c))
INTEG_BINS:= $(patsubst %.c,$(BUILD)/%,$(wildcard tests/integration/test_*.c))
TEST_BINS := $(UNIT_BINS) $(INTEG_BINS)

# Compiler and linker flags of the system libraries, computed once per build directory after
# the dependency installer has run (so that a fresh machine gets its packages first).
FLAGS_MK := $(BUILD)/flags.mk
ifeq ($(filter clean distclean help,$(MAKECMDGOALS)),)
-include $(FLAGS_MK)
endif
$(FLAGS_MK): Makefile deploy/install-deps.sh
	@deploy/install-deps.sh
	@mkdir -p $(@D)
	@{ echo "PKG_CFLAGS := $$(pkg-config --cflags $(PKGS) $(TEST_PKGS))"; \
	   echo "PKG_LIBS := $$(pkg-config --libs $(PKGS))"; \
	   echo "TEST_LIBS := $$(pkg-config --libs $(TEST_PKGS))"; } > $@.tmp && mv $@.tmp $@

.PHONY: all deps test test-faults faults-need-root run bench install clean check-layers help FORCE

# The commit pat was built from, for `pat version`: the stamp changes only when HEAD does,
# so that only version.o is rebuilt.
REV_STAMP := $(BUILD)/gen/git-rev
$(REV_STAMP): FORCE
	@mkdir -p $(@D)
	@rev=$$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown); \
	 [ -f $@ ] && [ "$$(cat $@)" = "$$rev" ] || echo "$$rev" > $@
$(BUILD)/obj/cli/version.o: $(REV_STAMP)
$(BUILD)/obj/cli/version.o: ALL_CFLAGS += -DPAT_VERSION='"$(VERSION)"' -DPAT_GIT_REV='"$(shell cat $(REV_STAMP) 2>/dev/null)"'

all: $(BUILD)/pat

deps:
	@deploy/install-deps.sh

$(BUILD)/obj/%.o: %.c $(FLAGS_MK)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(WEBUI_GEN): deploy/embed.sh $(WEBUI_FILES)
	@mkdir -p $(@D)
	deploy/embed.sh $@ $(WEBUI_FILES)

$(WEBUI_OBJ): $(WEBUI_GEN) $(FLAGS_MK)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/libpat.a: $(LIB_OBJS)
	@mkdir -p $(@D)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/pat: $(BUILD)/obj/cli/main.o $(BUILD)/libpat.a
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(BUILD)/libpat.a $(PKG_LIBS) $(NOPC_LIBS) -lpthread -lm

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(TLIB_OBJS) $(BUILD)/libpat.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(TLIB_OBJS) $(BUILD)/libpat.a $(PKG_LIBS) $(NOPC_LIBS) $(TEST_LIBS) -lpthread -lm

check-layers:
	@tests/check-layers.sh

# The npm packages of the end-to-end tests (tests/e2e/package-lock.json), installed once with
# npm ci into the build directory; the tests link them.
E2E_DIR   := $(BUILD)/e2e
E2E_STAMP := $(E2E_DIR)/node_modules/.installed

$(E2E_STAMP): tests/e2e/package.json tests/e2e/package-lock.json | deps
	@mkdir -p $(E2E_DIR)
	@cp tests/e2e/package.json tests/e2e/package-lock.json $(E2E_DIR)/
	@cd $(E2E_DIR) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

test: deps $(BUILD)/pat $(TEST_BINS) check-layers $(E2E_STAMP)
	@PAT_BIN=$(CURDIR)/$(BUILD)/pat PAT_SOURCE_DIR=$(CURDIR) SANITIZE=$(SANITIZE) PAT_E2E_DIR=$(CURDIR)/$(E2E_DIR) \
		tests/run-tests.sh $(TEST_BINS)

# The fault suite: tests/faults/*.c, each a cmocka program run as make test runs its programs.
# The root check comes first, before anything is built.
# It makes network namespaces and iptables rules, so it needs root (it says so and fails
# without). PAT_FAULTS_* variables tune it (tests/faults/faults.c).
FAULT_BINS := $(patsubst %.c,$(BUILD)/%,$(wildcard tests/faults/*.c))

faults-need-root:
	@if [ "$$(id -u)" -ne 0 ]; then \
		echo "make test-faults: needs root (network namespaces, veth links, iptables): run it as root, e.g. sudo make test-faults" >&2; \
		exit 1; fi

test-faults: faults-need-root deps $(BUILD)/pat $(FAULT_BINS)
	@PAT_BIN=$(CURDIR)/$(BUILD)/pat PAT_SOURCE_DIR=$(CURDIR) SANITIZE=$(SANITIZE) tests/run-tests.sh $(FAULT_BINS)

# Benchmarks: every tests/bench/bench_*.c is a program run in turn (see docs/BENCHMARKS.md).
BENCH_BINS := $(patsubst %.c,$(BUILD)/%,$(wildcard tests/bench/bench_*.c))

bench: $(BUILD)/pat $(BENCH_BINS)
	@deploy/install-deps.sh --with bench
	@for b in $(BENCH_BINS); do echo "== $$b"; PAT_BIN=$(CURDIR)/$(BUILD)/pat PAT_BUILD_DIR=$(BUILD) PAT_SOURCE_DIR=$(CURDIR) $$b || exit 1; done

run: deps $(BUILD)/pat
	$(BUILD)/pat serve $(ARGS)

# Installation (docs/DEVELOPMENT.md). DESTDIR stages the tree for a package. The units go
# where systemd looks for units of software installed under PREFIX (/usr/local/lib/systemd/
# system for the default; /usr/lib/systemd/system with PREFIX=/usr); their ExecStart= is
# rewritten to the installed binary.
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
UNITDIR ?= $(PREFIX)/lib/systemd/system
DOCDIR  ?= $(PREFIX)/share/doc/pat
UNITS    := $(wildcard deploy/systemd/*.service)
EXAMPLES := $(wildcard deploy/examples/*.conf)

install: $(BUILD)/pat
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR)/examples
	install -m 0755 $(BUILD)/pat $(DESTDIR)$(BINDIR)/pat
	@for u in $(UNITS); do \
		echo "install $$u -> $(DESTDIR)$(UNITDIR)/$${u##*/}"; \
		sed 's|/usr/local/bin/pat|$(BINDIR)/pat|g' $$u > $(DESTDIR)$(UNITDIR)/$${u##*/}.tmp && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$${u##*/}.tmp && \
		mv $(DESTDIR)$(UNITDIR)/$${u##*/}.tmp $(DESTDIR)$(UNITDIR)/$${u##*/} || exit 1; \
	done
	install -m 0644 $(EXAMPLES) $(DESTDIR)$(DOCDIR)/examples/

clean:
	rm -rf build

help:
	@sed -n '3,12p' Makefile | sed 's/^# \{0,1\}//'

-include $(LIB_OBJS:.o=.d) $(TLIB_OBJS:.o=.d) $(BUILD)/obj/cli/main.d $(TEST_BINS:$(BUILD)/%=$(BUILD)/obj/%.d) $(BENCH_BINS:$(BUILD)/%=$(BUILD)/obj/%.d) $(FAULT_BINS:$(BUILD)/%=$(BUILD)/obj/%.d)
