#!/bin/sh
# Run the extension's tests: the .phpt files through PHP's run-tests.php
# (Debian's php8.2-cli, no php.ini, only this extension loaded), then the
# PHP-FPM test. The .phpt files are copied under build/php/tests, where
# run-tests.php leaves its .out/.diff files, so the source tree stays clean.
# Usage: php/tests/run.sh /abs/path/to/shmcache.so [NAME...]
#   NAME...: only those .phpt files (e.g. 018_array_fast_path), no FPM test.
#   PHPT_VALGRIND=1: run-tests' -m (valgrind memcheck, USE_ZEND_ALLOC=0);
#   a test with a memcheck error or a definite leak counts as failed
#   (run-tests runs valgrind -q, which reports no leaks unless told to:
#   VALGRIND_OPTS does).
set -u
ext=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
php=${PHP_CLI:-/usr/bin/php8.2}
runtests=$($php -n -r 'echo PHP_EXTENSION_DIR;' 2>/dev/null)/build/run-tests.php
[ -f "$runtests" ] || runtests=/usr/lib/php/$($php -n -r 'echo PHP_EXTENSION_DIR;' | sed 's|.*/||')/build/run-tests.php
work=$(dirname "$ext")/tests
rm -rf "$work" && mkdir -p "$work"
if [ $# -gt 0 ]; then
  for t in "$@"; do cp "$here/$t.phpt" "$work"/ || exit 1; done
else
  cp "$here"/*.phpt "$work"/
fi
mflag=""
if [ "${PHPT_VALGRIND:-0}" = 1 ]; then
  mflag=-m
  VALGRIND_OPTS=${VALGRIND_OPTS:---leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite}
  export VALGRIND_OPTS
fi
fail=0
echo "== php/tests/*.phpt (run-tests.php${mflag:+, valgrind})"
# shmcache-tool writes raw values (019_array_corrupt); the Makefile builds it
tool=${SHMCACHE_TOOL:-$(cd "$(dirname "$ext")/.." && pwd)/shmcache-tool}
SHMCACHE_EXT=$ext SHMCACHE_TOOL=$tool TEST_PHP_EXECUTABLE=$php NO_INTERACTION=1 \
  $php -n "$runtests" -q --no-color --show-diff $mflag -n -d "extension=$ext" "$work" >"$work/run.log" 2>&1 || fail=1
grep -E '^(PASS|FAIL|SKIP|BORK|LEAK|Tests passed|Tests failed|Tests leaked)' "$work/run.log"
# Fail unless the summary says none failed (or leaked) and some passed.
if ! grep -qE '^Tests failed +: +0 ' "$work/run.log" || grep -qE '^Tests passed +: +0 ' "$work/run.log" ||
   grep -qE '^Tests leaked +: +[1-9]' "$work/run.log"; then
  fail=1
  cat "$work/run.log"
fi
[ $# -gt 0 ] && exit $fail
echo "== php/tests/fpm_test.sh"
sh "$here/fpm_test.sh" "$ext" || fail=1
exit $fail
