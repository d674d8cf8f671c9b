#!/bin/sh
# bench/relay/run.sh - the relay's numbers (make bench-relay): starts a
# redis-server on 127.0.0.1 on a free port, two journal segments ("hosts"
# A and B) with a relay each, and a plain segment without journal, then
# runs relay_bench (see its header for what each line measures).
# Usage: bench/relay/run.sh [relay_bench options]   (BUILD=build by default)
set -eu
BUILD=${BUILD:-build}
TOOL=$BUILD/shmcache-tool
RELAY=${RELAY:-$BUILD/shmcache-relay}
T=$(mktemp -d)
A=relay-bench-a-$$ B=relay-bench-b-$$ P=relay-bench-plain-$$
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pids=
cleanup() {
    for p in $pids; do kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    for s in $A $B $P; do "$TOOL" destroy "$s" --yes >/dev/null 2>&1 || true; done
    rm -rf "$T"
}
trap cleanup EXIT INT TERM
redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --logfile "$T/redis.log" --dir "$T" &
redis_pid=$!
pids="$pids $!"
until redis-cli -p "$PORT" ping >/dev/null 2>&1; do sleep 0.05; done
geo="--capacity 262144 --memory 64M --max-value 64K"
"$TOOL" create "$A" $geo --journal=32M >/dev/null
"$TOOL" create "$B" $geo --journal=32M >/dev/null
"$TOOL" create "$P" $geo >/dev/null
for h in A B; do
    eval seg=\$$h
    "$RELAY" --redis "redis://127.0.0.1:$PORT" --stream bench-$$ --origin "host-$h" "$seg" 2>>"$T/relay-$h.log" &
    eval relay_$h=$!
    pids="$pids $!"
done
for s in $A $B; do
    until "$TOOL" relay-status "$s" --json 2>/dev/null | grep -q '"connected": true'; do sleep 0.05; done
done
echo "machine: $(nproc) cores, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg); $(redis-server --version | cut -d' ' -f3)"
# the gets measurement stops the relays (SIGSTOP) for its no-relay series
# and counts their and Redis's CPU
"$BUILD/relay_bench" "$A" "$B" "$P" --pids "$relay_A,$relay_B,$redis_pid" "$@"
