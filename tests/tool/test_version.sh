#!/bin/sh
# tests/tool/test_version.sh - the version is written once, in
# include/shmcache.h; everything that must repeat it agrees: the built
# tool's --version, the man page's title line, the Debian changelog's top
# entry and the shared library's file name.
# Run by `make test` as: TOOL=build/shmcache-tool BUILD=build sh tests/tool/test_version.sh
set -u
TOOL=${TOOL:-build/shmcache-tool}
BUILD=${BUILD:-build}
pass=0 fail=0
check() { if [ "$2" = "$3" ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1 says '$2', header says '$3'" >&2; fi; }

v=$(sed -n 's/^#define SHMC_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$/\2/p' include/shmcache.h | paste -sd.)
check "the header's three numbers" "$(echo "$v" | grep -Ec '^[0-9]+\.[0-9]+\.[0-9]+$')" 1
check "$TOOL --version" "$("$TOOL" --version)" "shmcache-tool $v"
check tools/shmcache-tool.1 "$(sed -n 's/^\.TH .*"shmcache \([^"]*\)".*/\1/p' tools/shmcache-tool.1)" "$v"
check debian/changelog "$(sed -n '1s/^shmcache (\([^)-]*\).*/\1/p' debian/changelog)" "$v"
check "$BUILD/libshmcache.so.*" "$(cd "$BUILD" && ls libshmcache.so.*.*.*)" "libshmcache.so.$v"
echo "version: $pass passed, $fail failed"
[ "$fail" = 0 ]
