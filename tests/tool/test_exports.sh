#!/bin/sh
# test_exports.sh - libshmcache.so exports exactly the functions that
# include/shmcache.h declares: no internal symbol, no test hook.
# Usage: BUILD=build sh tests/tool/test_exports.sh
BUILD=${BUILD:-build}
SO=$BUILD/libshmcache.so
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
tmp=$(mktemp -d /tmp/exports.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
if [ ! -f "$SO" ]; then
    bad "$SO not built"
    echo "$pass passed, $fail failed"; exit 1
fi
# Declarations start a line: "<type> [*]shmc_name(".
grep -E '^[A-Za-z_][A-Za-z0-9_ ]*[ *]shmc_[a-z0-9_]+\(' include/shmcache.h |
    sed -E 's/^.*[ *](shmc_[a-z0-9_]+)\(.*$/\1/' | sort -u >"$tmp/header"
nm -D --defined-only "$SO" | awk '$2 != "A" { print $3 }' | sed 's/@.*//' | sort -u >"$tmp/so"
if [ -s "$tmp/header" ] && cmp -s "$tmp/header" "$tmp/so"; then
    ok "nm -D lists exactly the $(wc -l <"$tmp/header") functions of the header"
else
    bad "exports differ from the header (< header only, > library only):"
    diff "$tmp/header" "$tmp/so" | grep '^[<>]' | sed 's/^/     /'
fi
if nm -D "$SO" | grep -q shmc__test_hook; then
    bad "the test hook is visible in $SO"
else
    ok "no test hook in $SO (defined or undefined)"
fi
if nm -D "$SO" | grep -E ' [TDBR] ' | grep -q '@@SHMCACHE_0'; then
    ok "symbols carry the SHMCACHE_0 version"
else
    bad "symbols lack the SHMCACHE_0 version"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
