#!/bin/sh
# Instructions per PHP fetch and store of an array (bench/php_instr.php),
# with each given build of the extension and with APCu (php-apcu, when
# installed), counted by valgrind's cachegrind: unlike a rate, the count
# does not move with the load of a shared machine, so builds and backends
# can be compared on a busy VM (instructions are not time: cache misses and
# contention between processes are not in them). APCu runs twice: with its
# shipped default apc.serializer=php, which serializes arrays, and with
# apc.serializer=default, which copies them into shared memory as they are. Each figure is (run with N ops - run with 0) / N,
# so start-up is not counted; the fetch includes freeing the array it
# replaces, as in a loop of a real script.
# Usage: bench/php_instr.sh /abs/path/to/shmcache.so [more .so ...]
set -u
here=$(cd "$(dirname "$0")" && pwd)
php=${PHP_CLI:-/usr/bin/php8.2}
n=${PHP_INSTR_OPS:-5000}
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
instr() { # so|apcu|apcu-default kind op n
  case $1 in
    apcu) set -- apcu "$2" "$3" "$4" -d extension=apcu -d apc.enable_cli=1 ;;
    apcu-default) set -- apcu "$2" "$3" "$4" -d extension=apcu -d apc.enable_cli=1 -d apc.serializer=default ;;
    *) set -- shmcache "$2" "$3" "$4" -d "extension=$1" -d shmcache.enable_cli=1 ;;
  esac
  b=$1 k=$2 o=$3 c=$4; shift 4
  valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
    "$php" -n "$@" "$here/php_instr.php" "$b" "$k" "$o" "$c" 2>&1 |
    sed -n 's/.*I *refs: *//p' | tr -d ','
}
echo "# bench/php_instr.sh $(date -u +%Y-%m-%dT%H:%MZ) $(git -C "$here" rev-parse --short HEAD 2>/dev/null), $n ops"
apcu=""
[ -f "$($php -n -r 'echo PHP_EXTENSION_DIR;')/apcu.so" ] && apcu="apcu apcu-default"
for so in "$@" $apcu; do
  echo "# $so"
  for kind in array rows; do
    for op in fetch store; do
      base=$(instr "$so" $kind $op 0)
      full=$(instr "$so" $kind $op "$n")
      printf '%-6s %-6s instructions/op %8d\n' "$kind" "$op" $(((full - base) / n))
    done
  done
done
