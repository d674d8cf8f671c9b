#!/bin/sh
# Run the extension's tests: the .phpt files through PHP's run-tests.php
# (Debian's php8.2-cli, no php.ini, only this extension loaded), then the
# PHP-FPM test. The .phpt files are copied under build/php/tests, where
# run-tests.php leaves its .out/.diff files, so the source tree stays clean.
# Usage: php/tests/run.sh /abs/path/to/shmcache.so
set -u
ext=$1
here=$(cd "$(dirname "$0")" && pwd)
php=${PHP_CLI:-/usr/bin/php8.2}
runtests=$($php -n -r 'echo PHP_EXTENSION_DIR;' 2>/dev/null)/build/run-tests.php
[ -f "$runtests" ] || runtests=/usr/lib/php/$($php -n -r 'echo PHP_EXTENSION_DIR;' | sed 's|.*/||')/build/run-tests.php
work=$(dirname "$ext")/tests
rm -rf "$work" && mkdir -p "$work"
cp "$here"/*.phpt "$work"/
fail=0
echo "== php/tests/*.phpt (run-tests.php)"
# shmcache-tool writes raw values (019_array_corrupt); the Makefile builds it
tool=${SHMCACHE_TOOL:-$(cd "$(dirname "$ext")/.." && pwd)/shmcache-tool}
SHMCACHE_EXT=$ext SHMCACHE_TOOL=$tool TEST_PHP_EXECUTABLE=$php NO_INTERACTION=1 \
  $php -n "$runtests" -q --no-color --show-diff -n -d "extension=$ext" "$work" >"$work/run.log" 2>&1 || fail=1
grep -E '^(PASS|FAIL|SKIP|BORK|Tests passed|Tests failed)' "$work/run.log"
# Fail unless the summary says none failed and some passed.
if ! grep -qE '^Tests failed +: +0 ' "$work/run.log" || grep -qE '^Tests passed +: +0 ' "$work/run.log"; then
  fail=1
  cat "$work/run.log"
fi
echo "== php/tests/fpm_test.sh"
sh "$here/fpm_test.sh" "$ext" || fail=1
exit $fail
