# shmcache - build, test, install.
#   make            libshmcache.so/.a, shmcache-tool, examples (in build/)
#   make test       install missing build deps (as root), build, run every test
#   make demo       the product-price scenario (examples/prices.c)
#   make SAN=asan test   the suite under AddressSanitizer + UBSan (build-asan/)
#   make SAN=tsan test-threads   the threaded tests under ThreadSanitizer
#   make check      the same as make test (the name packagers expect)
#   make install PREFIX=/usr/local DESTDIR=   library, header, shmcache.pc,
#                   tool, man page (builds only those; never bench or chaos)
#   make deb        the Debian packages (debian/), into build/deb/
#   make deb-test   build them, list them, unpack into a temporary root and
#                   compile a program there with pkg-config (slow: CI only)
# Build deps: make test, demo, bench install the Debian packages they need
# with apt-get when run as root (scripts/deps.sh); as another user they print
# the apt-get command instead. SHMC_NO_APT=1 turns the installs off: the
# script then only checks and says what is missing.
# CPPFLAGS, CFLAGS and LDFLAGS from the environment or the command line are
# honoured (dpkg-buildflags sets all three).

PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
INCDIR  ?= $(PREFIX)/include
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
PKGDIR  ?= $(LIBDIR)/pkgconfig

CC      ?= cc
# The version is written once, in include/shmcache.h.
VERSION := $(shell sed -n 's/^\#define SHMC_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$$/\2/p' include/shmcache.h | paste -sd.)
SOMAJOR := $(firstword $(subst ., ,$(VERSION)))

WARN    := -Wall -Wextra -Wshadow -Wconversion -Wstrict-prototypes -Wmissing-prototypes
CFLAGS  ?= -O2 -g
override CFLAGS += -std=c11 -pthread -fPIC $(WARN)
# The project's include paths come first, before any the caller passes.
override CPPFLAGS := -Iinclude -Ishm -D_GNU_SOURCE $(CPPFLAGS)
# liburcu serves the per-process near cache (shm/near.c)
LDLIBS  := -lurcu-memb -lurcu-cds -pthread

SAN ?=
ifeq ($(SAN),asan)
  BUILD ?= build-asan
  override CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDFLAGS += -fsanitize=address,undefined
else ifeq ($(SAN),tsan)
  BUILD ?= build-tsan
  override CFLAGS += -fsanitize=thread
  LDFLAGS += -fsanitize=thread
else
  BUILD ?= build
endif

LIB_SRC  := $(wildcard shm/*.c)
LIB_OBJ  := $(LIB_SRC:shm/%.c=$(BUILD)/obj/%.o)
LIB_A    := $(BUILD)/libshmcache.a
LIB_SO   := $(BUILD)/libshmcache.so.$(VERSION)

TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
# tests whose threads TSan checks (make SAN=tsan test-threads)
TEST_THREADS := $(BUILD)/tests/test_threads $(BUILD)/tests/test_near

EX_SRC   := $(wildcard examples/*.c)
EX_BIN   := $(EX_SRC:examples/%.c=$(BUILD)/examples/%)

TOOL     := $(BUILD)/shmcache-tool
# The tool and the Python extension link the static library, so they run
# from build/ as they are. SHARED_PROGS=1 links them against
# libshmcache.so.0 instead, as a distribution wants (debian/rules does).
PROG_DEP := $(if $(SHARED_PROGS),$(LIB_SO),$(LIB_A))
PROG_LIB := $(if $(SHARED_PROGS),-L$(BUILD) -lshmcache,$(LIB_A))
BENCH    := $(BUILD)/shmcache-bench

PY      ?= /usr/bin/python3
PYEXT_SUFFIX := $(shell $(PY)-config --extension-suffix 2>/dev/null || echo .so)
PYDIR   := $(BUILD)/python
PYEXT   := $(PYDIR)/shmcache/_shmcache$(PYEXT_SUFFIX)
PYLIBDIR ?= /usr/lib/python3/dist-packages

.PHONY: all lib tests test check test-threads test-tool test-python python demo bench bench-full install uninstall clean deps deps-test deps-bench deps-python

# The bench is built when its client libraries are there (make test installs
# them), so its smoke test in make test always has a binary to run.
HAVE_BENCH_DEPS := $(and $(wildcard /usr/include/libmemcached/memcached.h),$(wildcard /usr/include/hiredis/hiredis.h))

all: lib $(if $(wildcard tools/shmcache-tool.c),$(TOOL)) $(EX_BIN) $(if $(HAVE_BENCH_DEPS),$(BENCH))

lib: $(LIB_A) $(LIB_SO)

deps:
	@scripts/deps.sh build
deps-test:
	@scripts/deps.sh test
deps-bench:
	@scripts/deps.sh bench
deps-python:
	@scripts/deps.sh python

$(BUILD)/obj/%.o: shm/%.c $(wildcard shm/*.h) include/shmcache.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(LIB_A): $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(LIB_SO): $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libshmcache.so.$(SOMAJOR) $(LDFLAGS) -o $@ $^ $(LDLIBS)
	ln -sf libshmcache.so.$(VERSION) $(BUILD)/libshmcache.so.$(SOMAJOR)
	ln -sf libshmcache.so.$(SOMAJOR) $(BUILD)/libshmcache.so

$(BUILD)/tests/%: tests/%.c $(wildcard tests/*.h) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_A) -lcmocka $(LDLIBS)

$(BUILD)/examples/%: examples/%.c $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_A) $(LDLIBS)

$(TOOL): $(wildcard tools/*.c tools/*.h) $(PROG_DEP)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c,$^) $(PROG_LIB) $(LDLIBS)

$(BENCH): $(wildcard bench/*.c bench/*.h) $(LIB_A)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c,$^) $(LIB_A) -lmemcached -lhiredis -lm $(LDLIBS)

# The CPython extension (python/), built against Debian's /usr/bin/python3;
# the pure-Python package files are copied beside it.
python: $(PYEXT)

$(PYEXT): $(wildcard python/shmcache/*.c python/shmcache/*.h python/shmcache/*.py) $(PROG_DEP)
	@mkdir -p $(PYDIR)/shmcache
	cp python/shmcache/*.py $(PYDIR)/shmcache/
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -shared $$($(PY)-config --includes) -o $@ $(filter %.c,$^) $(PROG_LIB) $(LDLIBS)

test-python: deps-python python
	PYTHONPATH=$(abspath $(PYDIR)) $(PY) -m unittest discover -s python/tests -t python -v

tests: $(TEST_BIN)

# Each cmocka binary runs on its own so one crash cannot hide the others.
test: deps-test
	@$(MAKE) --no-print-directory all tests
	@fail=0; for t in $(TEST_BIN); do \
	  echo "== $$t"; $$t || fail=1; \
	done; \
	if [ -d tests/tool ] && [ -x $(TOOL) ]; then \
	  for s in tests/tool/*.sh; do echo "== $$s"; TOOL=$(TOOL) BUILD=$(BUILD) sh $$s || fail=1; done; \
	fi; \
	if [ -d python/tests ] && [ -z "$(SAN)" ]; then \
	  echo "== python/tests"; $(MAKE) --no-print-directory test-python || fail=1; \
	fi; \
	exit $$fail

check: test

test-threads: deps-test
	@$(MAKE) --no-print-directory $(TEST_THREADS)
	@fail=0; for t in $(TEST_THREADS); do echo "== $$t"; $$t || fail=1; done; exit $$fail

bench: deps-bench
	@$(MAKE) --no-print-directory $(BENCH)
	bench/compare --quick

bench-full: deps-bench
	@$(MAKE) --no-print-directory $(BENCH)
	bench/compare --full

demo: deps
	@$(MAKE) --no-print-directory $(BUILD)/examples/prices
	$(BUILD)/examples/prices

# Generated per build directory, so it follows PREFIX/LIBDIR; the rule
# depends on a stamp of those values, which changes when they do.
PC       := $(BUILD)/shmcache.pc
PC_VARS  := $(PREFIX)|$(LIBDIR)|$(INCDIR)|$(VERSION)
PC_STAMP := $(BUILD)/pc-vars

$(PC_STAMP): FORCE
	@mkdir -p $(dir $@)
	@echo '$(PC_VARS)' | cmp -s - $@ || echo '$(PC_VARS)' > $@

$(PC): shmcache.pc.in $(PC_STAMP)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCDIR@|$(INCDIR)|' \
	  -e 's|@VERSION@|$(VERSION)|' $< > $@

.PHONY: FORCE
FORCE:

# Only what is installed is built: not the examples, the bench or chaos.
install: lib $(PC) $(if $(wildcard tools/shmcache-tool.c),$(TOOL))
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR) $(DESTDIR)$(PKGDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 644 include/shmcache.h $(DESTDIR)$(INCDIR)/
	install -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf libshmcache.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libshmcache.so.$(SOMAJOR)
	ln -sf libshmcache.so.$(SOMAJOR) $(DESTDIR)$(LIBDIR)/libshmcache.so
	install -m 644 $(PC) $(DESTDIR)$(PKGDIR)/
	if [ -x $(TOOL) ]; then install -m 755 $(TOOL) $(DESTDIR)$(BINDIR)/; fi
	if [ -f tools/shmcache-tool.1 ]; then install -m 644 tools/shmcache-tool.1 $(DESTDIR)$(MANDIR)/man1/; fi
	if [ -f $(PYEXT) ]; then install -d $(DESTDIR)$(PYLIBDIR)/shmcache && install -m 644 $(PYDIR)/shmcache/*.py $(PYEXT) $(DESTDIR)$(PYLIBDIR)/shmcache/; fi

uninstall:
	rm -f $(DESTDIR)$(INCDIR)/shmcache.h $(DESTDIR)$(LIBDIR)/libshmcache.* $(DESTDIR)$(PKGDIR)/shmcache.pc \
	  $(DESTDIR)$(BINDIR)/shmcache-tool $(DESTDIR)$(MANDIR)/man1/shmcache-tool.1
	rm -rf $(DESTDIR)$(PYLIBDIR)/shmcache

clean:
	rm -rf build build-asan build-tsan build-fuzz

# ---- reliability: chaos, fuzz, valgrind, static analysis
#   make chaos      long kill -9 chaos run + linearizability check (CHAOS_SECONDS, LINEARIZE_SECONDS)
#   make fuzz       each libFuzzer target for FUZZ_SECONDS (clang, build-fuzz/)
#   make valgrind   memcheck over the single-process cmocka tests
#   make lint       cppcheck and clang-tidy (.clang-tidy) on shm/ and tools/
# The brief chaos and linearize runs are part of `make test`
# (tests/tool/chaos.sh, tests/tool/linearize.sh); `all` builds their programs.

CHAOS_BIN := $(BUILD)/chaos/chaos $(BUILD)/chaos/linearize
CHAOS_SECONDS ?= 120
CHAOS_WORKERS ?= 4
CHAOS_KILL_MS ?= 2
LINEARIZE_SECONDS ?= 60

.PHONY: chaos fuzz fuzz-build valgrind lint

all: $(CHAOS_BIN)

$(BUILD)/chaos/%: tests/chaos/%.c tests/chaos/chaosutil.h $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_A) $(LDLIBS)

chaos: deps-test
	@$(MAKE) --no-print-directory all
	$(BUILD)/chaos/chaos --seconds $(CHAOS_SECONDS) --workers $(CHAOS_WORKERS) \
	  --kill-interval-ms $(CHAOS_KILL_MS) --tool $(TOOL)
	$(BUILD)/chaos/linearize --seconds $(LINEARIZE_SECONDS) --writers 2 --readers 2 --keys 256

# libFuzzer needs clang and libclang-rt-*-dev. The library is rebuilt with
# the fuzzer's instrumentation and a 20 ms stripe-lock bound (a corrupt
# segment may present a lock that is held forever: each wait must end in
# -EDEADLK fast enough to keep fuzzing).
FUZZ_CC      ?= clang
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := fuzz_segment fuzz_api
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -pthread -g -O1 -fno-omit-frame-pointer -Iinclude -Ishm \
                -DSHMC_LOCK_TIMEOUT_MS=20u -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_OBJ     := $(LIB_SRC:shm/%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_BIN     := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/%)

$(FUZZ_BUILD)/obj/%.o: shm/%.c $(wildcard shm/*.h) include/shmcache.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

# fuzz_segment wraps mmap/munmap to put guard pages around the segment.
$(FUZZ_BUILD)/fuzz_segment: tests/fuzz/fuzz_segment.c $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -Wl,--wrap=mmap -Wl,--wrap=munmap -o $@ $^ $(LDLIBS)

$(FUZZ_BUILD)/fuzz_api: tests/fuzz/fuzz_api.c $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

fuzz-build: $(FUZZ_BIN)

# Seeds come from tests/fuzz/corpus/<target>/ (read only); what the fuzzer
# finds goes to $(FUZZ_BUILD)/corpus/<target>/, crashes to $(FUZZ_BUILD)/.
# Every target runs even when one fails; the target fails if any did.
# SHMC_FUZZ_SKIP=log,wrap steers fuzz_segment around known open bugs
# (docs/RELIABILITY.md).
fuzz: fuzz-build
	@fail=0; for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$t; \
	  echo "== $$t for $(FUZZ_SECONDS) s"; \
	  $(FUZZ_BUILD)/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/$$t- \
	    $(FUZZ_BUILD)/corpus/$$t tests/fuzz/corpus/$$t || { echo "FAIL $$t"; fail=1; }; \
	done; exit $$fail

# Memcheck over the single-process tests (cmocka forks nothing there).
VALGRIND_TESTS := test_api test_expiry test_eviction test_tags
VALGRIND       ?= valgrind --quiet --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect

valgrind: deps-test
	@$(MAKE) --no-print-directory $(VALGRIND_TESTS:%=$(BUILD)/tests/%)
	@fail=0; for t in $(VALGRIND_TESTS); do \
	  echo "== valgrind $$t"; $(VALGRIND) $(BUILD)/tests/$$t || fail=1; \
	done; exit $$fail

LINT_SRC := $(wildcard shm/*.c tools/*.c)
CLANG_TIDY ?= clang-tidy

lint:
	cppcheck --enable=warning,performance,portability --error-exitcode=1 --inline-suppr --quiet \
	  --suppressions-list=tests/lint/cppcheck.supp \
	  --std=c11 -D_GNU_SOURCE -D__x86_64__ -Iinclude -Ishm shm tools
	CLANG_TIDY=$(CLANG_TIDY) sh tests/lint/tidy.sh $(LINT_SRC) -- -std=c11 -D_GNU_SOURCE -pthread -Iinclude -Ishm

# ---- Debian packages (debian/)
#   make deb        dpkg-buildpackage -us -uc -b on a copy of the tree in
#                   build/deb/src, so the .debs, .buildinfo and .changes land
#                   in build/deb/ (not in the source tree's parent)
#   make deb-test   make deb, then tests/deb/test.sh: dpkg -c, dpkg -x into a
#                   temporary root, a program built there with pkg-config;
#                   then lintian. About 1 min; CI runs it, make test does not.
DEB_DIR := build/deb

.PHONY: deb deb-test deps-deb
deps-deb:
	@scripts/deps.sh deb

deb: deps-deb
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/src
	tar -cf - --exclude=./.git --exclude='./build' --exclude='./build-*' --exclude=__pycache__ . \
	  | tar -C $(DEB_DIR)/src -xf -
	cd $(DEB_DIR)/src && dpkg-buildpackage -us -uc -b
	@ls -l $(DEB_DIR)/*.deb

# lintian fails the target on any error or warning (pedantic and info tags
# are printed only); it warns as root, which CI is.
deb-test: deb
	sh tests/deb/test.sh $(DEB_DIR) $(VERSION)
	lintian --info --pedantic --fail-on error,warning $(DEB_DIR)/shmcache_$(VERSION)_*.changes
