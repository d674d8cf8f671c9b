#!/bin/sh
# PHP cache throughput, one run: fetch/s and store/s from PHP (Debian's
# php8.2-cli) with shmcache, APCu (php-apcu; for arrays twice: with its
# shipped apc.serializer=php and with apc.serializer=default), Redis
# (php-redis) and memcached (php-memcached), same workload
# (bench/php_bench.php: 1000 keys, 100-byte strings, a ~100-byte array, 20
# rows of 5 columns), one and two processes. The servers are started on
# free 127.0.0.1 ports and stopped by PID.
# Usage: bench/php_bench.sh /abs/path/to/shmcache.so [ops]
set -u
ext=$1
ops=${2:-200000}
netops=$((ops / 10))
here=$(cd "$(dirname "$0")" && pwd)
php=${PHP_CLI:-/usr/bin/php8.2}
seg=php-bench-$$
pids=""
trap 'for p in $pids; do kill "$p" 2>/dev/null; done; rm -f /dev/shm/$seg' EXIT INT TERM

free_port() {
  $php -n -r '$s = stream_socket_server("tcp://127.0.0.1:0"); echo explode(":", stream_socket_get_name($s, false))[1];'
}
wait_port() {
  i=0
  while ! $php -n -r "exit(@fsockopen('127.0.0.1', $1) ? 0 : 1);" && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
}

echo "# bench/php_bench.sh $(date -u +%Y-%m-%dT%H:%MZ) $(git -C "$here" rev-parse --short HEAD 2>/dev/null)"
echo "# $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $($php -n -r 'echo "PHP ", PHP_VERSION;'), $ops ops per process (network clients: $netops)"
echo "# extension $ext"

rport="" mport=""
if command -v redis-server >/dev/null; then
  rport=$(free_port)
  redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --daemonize no >/dev/null &
  pids="$pids $!"
  wait_port "$rport"
fi
if command -v memcached >/dev/null; then
  mport=$(free_port)
  # memcached refuses to run as root unless told which user to be
  memcached -l 127.0.0.1 -p "$mport" -U 0 -m 256 -u "$(id -un)" >/dev/null 2>&1 &
  pids="$pids $!"
  wait_port "$mport"
fi

run() { # backend value procs
  case $1 in
    shmcache) set -- "$@" -d "extension=$ext" -d shmcache.enable_cli=1 -d "shmcache.segment=$seg"; n=$ops ;;
    apcu) set -- "$@" -d extension=apcu -d apc.enable_cli=1 -d apc.shm_size=64M; n=$ops ;;
    apcu-default) set -- "$@" -d extension=apcu -d apc.enable_cli=1 -d apc.shm_size=64M -d apc.serializer=default; n=$ops ;;
    redis) set -- "$@" -d extension=igbinary -d extension=msgpack -d extension=redis; n=$netops ;;
    memcached) set -- "$@" -d extension=igbinary -d extension=msgpack -d extension=memcached; n=$netops ;;
  esac
  b=$1 v=$2 p=$3; shift 3
  port=0
  [ "$b" = redis ] && port=$rport
  [ "$b" = memcached ] && port=$mport
  $php -n "$@" "$here/php_bench.php" "$b" --value "$v" --procs "$p" --ops "$n" --port "$port"
}

for v in str array rows; do
  for p in 1 2; do
    for b in shmcache apcu apcu-default redis memcached; do
      # apc.serializer matters for arrays only: APCu's shipped default (php)
      # serializes them, "default" copies them into shared memory as they are
      if [ "$b" = apcu-default ] && [ "$v" = str ]; then continue; fi
      if [ "$b" = redis ] && [ -z "$rport" ]; then continue; fi
      if [ "$b" = memcached ] && [ -z "$mport" ]; then continue; fi
      if [ "${b%-default}" = apcu ] && [ ! -f "$($php -n -r 'echo PHP_EXTENSION_DIR;')/apcu.so" ]; then continue; fi
      run "$b" "$v" "$p"
    done
  done
done
