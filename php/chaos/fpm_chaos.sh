#!/bin/sh
# kill -9 chaos under PHP-FPM: a pool of 4 workers serves requests of 3000
# cache operations each (php/chaos/chaos_app.php) to 4 client loops while a
# killer SIGKILLs a random worker every 50 ms; the master replaces them.
# Each request has a 5 s bound: one that does not answer in time is a hang
# (a worker blocked forever on a lock a dead worker held). Runs shmcache,
# then APCu (php-apcu) under the same loop, and prints one line each.
# The exit status is shmcache's: 0 when it never hung.
# Usage: php/chaos/fpm_chaos.sh /abs/path/to/shmcache.so [seconds per backend]
#        (PHP_CHAOS_BACKENDS="shmcache apcu" by default)
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tests/fpm_lib.sh"
ext=$1
secs=${2:-60}
clients=4
trap 'fpm_stop' EXIT INT TERM

run_backend() { # name -> prints its line; status 1 when it hung
  b=$1
  pool=chaos$$
  if [ "$b" = apcu ]; then
    fpm_start "" "$pool" 4 extension=apcu apc.enabled=1 apc.shm_size=32M || return 2
  else
    fpm_start "$ext" "$pool" 4 shmcache.memory=32M || return 2
  fi
  cp "$here/chaos_app.php" "$FPM_DIR/app.php"
  end=$(( $(date +%s) + secs ))
  cpids=""
  for c in $(seq 1 $clients); do
    (
      ok=0 err=0 hang=0 slowest=0
      while [ "$(date +%s)" -lt "$end" ]; do
        t0=$(date +%s%N)
        fpm_get "b=$b" 5 >"$FPM_DIR/c$c.out"; rc=$?
        ms=$(( ($(date +%s%N) - t0) / 1000000 ))
        if [ $rc = 124 ] || [ $rc = 137 ]; then hang=$((hang + 1))
        elif grep -q ' ok ' "$FPM_DIR/c$c.out"; then
          ok=$((ok + 1)); [ $ms -gt $slowest ] && slowest=$ms
        else err=$((err + 1)); fi    # its worker was killed under it
      done
      echo "$ok $err $hang $slowest" >"$FPM_DIR/c$c.sum"
    ) &
    cpids="$cpids $!"
  done
  kills=0
  while [ "$(date +%s)" -lt "$end" ]; do
    w=$(fpm_workers | tr ' ' '\n' | grep . | shuf -n 1)
    [ -n "$w" ] && kill -KILL "$w" 2>/dev/null && kills=$((kills + 1))
    sleep 0.05
  done
  # shellcheck disable=SC2086
  wait $cpids   # not a bare wait: the FPM master is a child of this shell too
  # Once the killing stops, does the pool still answer at all?
  after=0
  for i in 1 2 3 4; do fpm_get "b=$b" 5 | grep -q ' ok ' && after=$((after + 1)); done
  set -- $(cat "$FPM_DIR"/c*.sum | awk '{o+=$1; e+=$2; h+=$3; if ($4>m) m=$4} END {print o, e, h, m}')
  rec=""
  if [ "$b" = shmcache ]; then
    rec=$(php -n -d "extension=$ext" -d shmcache.enable_cli=1 -d "shmcache.segment=php-$pool" \
      -r '$s = shmcache_stats(); echo " lock recoveries ", $s["lock_recoveries"], ", entries dropped by them ", $s["recovered_lost"];')
  fi
  printf '%-9s %3s s  kills %-4s requests answered %-5s (slowest %s ms)  cut by a kill %-4s hung %-3s answered after the loop %s/4%s\n' \
    "$b" "$secs" "$kills" "$1" "$4" "$2" "$3" "$after" "$rec"
  fpm_stop
  rm -f "/dev/shm/php-$pool"
  [ "$3" = 0 ] && [ "$after" = 4 ]
}

status=0
for b in ${PHP_CHAOS_BACKENDS:-shmcache apcu}; do
  if [ "$b" = shmcache ]; then
    run_backend shmcache || status=1
  elif [ -f "$(php -n -r 'echo PHP_EXTENSION_DIR;')/apcu.so" ]; then
    run_backend apcu || echo "apcu: hung under the kill loop (expected: its lock is not robust)"
  else
    echo "apcu: php-apcu not installed, skipped"
  fi
done
exit $status
