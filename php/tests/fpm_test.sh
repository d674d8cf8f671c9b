#!/bin/sh
# PHP-FPM test: a pool of 4 workers (php8.2-fpm, driven by cgi-fcgi from
# libfcgi-bin) on one segment, named after the pool as by default.
#  1. a value stored by one worker is read by all four; after a delete in
#     one worker, all four miss;
#  2. shmcache_entry asked by 4 workers at once runs the callback once;
#  3. a worker killed with SIGKILL in the middle of a store loop does not
#     hang the pool: every following request is answered (each has a 10 s
#     bound; a hang fails the test instead of blocking make test).
#  4. with a segment named in php.ini (-d shmcache.segment), the master
#     creates it in MINIT, before forking: before any request the segment
#     exists, the master maps it and so does each of the 4 workers (which
#     have run no PHP code yet, so they inherited the mapping); a store in
#     one worker is then read by all 4. The master runs unprivileged (as
#     nobody when we are root): a root master does not create (docs/PHP.md).
# Usage: php/tests/fpm_test.sh /abs/path/to/shmcache.so
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/fpm_lib.sh"
ext=$1
pool=shmt$$
mseg=php-master-$$
trap 'fpm_stop; rm -f /dev/shm/php-$pool /dev/shm/$mseg' EXIT INT TERM
fpm_start "$ext" "$pool" 4 || exit 1
cp "$here/fpm_app.php" "$FPM_DIR/app.php"
fails=0
check() { # name condition-status
  if [ "$2" = 0 ]; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi
}

# Does process $1 map the file whose inode is $2?
maps_inode() {
  awk -v ino="$2" '$5 == ino { found = 1 } END { exit !found }' "/proc/$1/maps" 2>/dev/null
}

[ ! -e "/dev/shm/php-$pool" ]
check "no segment before the first request when its name comes from the pool (the master cannot know it)" $?

# Four requests at once, each holding its worker 300 ms: one per worker.
all_workers() { # query -> "pid answer" lines, sorted
  for i in 1 2 3 4; do fpm_get "$1&sleep_ms=300" >"$FPM_DIR/r$i" & done
  wait
  cat "$FPM_DIR"/r1 "$FPM_DIR"/r2 "$FPM_DIR"/r3 "$FPM_DIR"/r4 | sort
}

fpm_get "op=store&k=price&v=42" | grep -q stored
check "a worker stores price=42" $?
out=$(all_workers "op=fetch&k=price")
[ "$(echo "$out" | cut -d' ' -f1 | sort -u | wc -l)" = 4 ] && [ "$(echo "$out" | grep -c 'hit 42')" = 4 ]
check "4 distinct workers all read 42" $?
deleter=$(fpm_get "op=delete&k=price")
echo "$deleter" | grep -q deleted
check "a worker deletes price ($deleter)" $?
out=$(all_workers "op=fetch&k=price")
[ "$(echo "$out" | cut -d' ' -f1 | sort -u | wc -l)" = 4 ] && [ "$(echo "$out" | grep -c miss)" = 4 ]
check "4 distinct workers all miss after the delete" $?
[ -f "/dev/shm/php-$pool" ]
check "the segment is named after the pool (php-$pool)" $?

# shmcache_entry from 4 workers at once: the callback runs once (a lease),
# and all 4 get the value it computed.
out=$(for i in 1 2 3 4; do fpm_get "op=entry&k=report" >"$FPM_DIR/e$i" & done; wait; cat "$FPM_DIR"/e[1-4])
calls=$(fpm_get "op=fetch&k=entry_calls" | cut -d' ' -f3)
nw=$(echo "$out" | cut -d' ' -f1 | sort -u | wc -l)
[ "$calls" = 1 ] && [ "$(echo "$out" | cut -d' ' -f2- | sort -u | wc -l)" = 1 ] && \
  [ "$(echo "$out" | grep -c 'computed by')" = 4 ] && [ "$nw" -ge 2 ]
check "shmcache_entry from $nw workers at once: callback ran $calls time(s), one value" $?

# SIGKILL a worker while it stores 200 KB values in a loop.
pidfile=$FPM_DIR/loop.pid
fpm_get "op=storeloop&ms=3000&pidfile=$pidfile" 15 >/dev/null &
getter=$!
i=0; while [ ! -s "$pidfile" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
victim=$(cat "$pidfile" 2>/dev/null)
sleep 0.2
[ -n "$victim" ] && kill -KILL "$victim"
check "killed worker $victim with SIGKILL mid-store" $?
wait $getter
answered=0
for i in 1 2 3 4 5 6 7 8; do
  fpm_get "op=store&k=after$i&v=$i" 10 | grep -q stored && \
    fpm_get "op=fetch&k=after$i" 10 | grep -q "hit $i" && answered=$((answered + 1))
done
[ "$answered" = 8 ]
check "after the kill, 8 of 8 store+fetch pairs answered ($answered)" $?
echo "     lock recoveries so far: $(fpm_get op=segment | cut -d' ' -f2)"
[ "$(fpm_workers | wc -w)" = 4 ]
check "the master replaced the killed worker (4 workers)" $?

# 4. The master creates a segment named in php.ini before it forks.
fpm_stop
rm -f "/dev/shm/$mseg"
fpm_user=""; [ "$(id -u)" = 0 ] && fpm_user=nobody
FPM_USER=$fpm_user fpm_start "$ext" "$pool" 4 "shmcache.segment=$mseg" || exit 1
cp "$here/fpm_app.php" "$FPM_DIR/app.php"
[ -n "$fpm_user" ] && chown "$fpm_user" "$FPM_DIR/app.php"
workers=$(fpm_workers)
ino=$(stat -c %i "/dev/shm/$mseg" 2>/dev/null)
[ -n "$ino" ] && [ "$(stat -c %u "/dev/shm/$mseg")" = "$(stat -c %u "/proc/$FPM_PID")" ]
check "before any request, $mseg exists, owned by the master's user" $?
maps_inode "$FPM_PID" "$ino"
check "the master ($FPM_PID) maps it" $?
inherited=0
for w in $workers; do maps_inode "$w" "$ino" && inherited=$((inherited + 1)); done
[ "$inherited" = 4 ]
check "the 4 workers map it before serving anything: inherited across the fork ($inherited of 4)" $?
fpm_get "op=store&k=shared&v=7" | grep -q stored
out=$(all_workers "op=fetch&k=shared")
[ "$(echo "$out" | cut -d' ' -f1 | sort -u | wc -l)" = 4 ] && [ "$(echo "$out" | grep -c 'hit 7')" = 4 ]
check "a store in one worker is read by 4 distinct workers" $?
same=0
for w in $(echo "$out" | cut -d' ' -f1); do maps_inode "$w" "$ino" && same=$((same + 1)); done
[ "$same" = 4 ] && [ "$(stat -c %i "/dev/shm/$mseg")" = "$ino" ]
check "after the requests, the workers still use the master's segment (same inode)" $?
exit $fails
