#!/bin/sh
# chaos.sh - the brief chaos run of `make test`: 4 workers under a mixed
# workload, a random worker SIGKILLed every few ms and restarted, ~6 s.
# Fails on a wrong value, an unexpected error, a call blocked over 1 s, a
# crashed or hung worker, or an unsound segment (shmc_check and
# `shmcache-tool check`). The long run is `make chaos`.
# Usage: TOOL=build/shmcache-tool BUILD=build sh tests/tool/chaos.sh
BUILD=${BUILD:-build}
TOOL=${TOOL:-$BUILD/shmcache-tool}
CHAOS=$BUILD/chaos/chaos
SECONDS_RUN=${CHAOS_SECONDS:-6}
pass=0
fail=0
if [ ! -x "$CHAOS" ]; then
    echo "FAIL $CHAOS not built (make $CHAOS)"
    echo "0 passed, 1 failed"
    exit 1
fi
out=$(mktemp /tmp/chaos.XXXXXX) || exit 1
trap 'rm -f "$out"' EXIT INT TERM
if "$CHAOS" --seconds "$SECONDS_RUN" --workers 4 --kill-interval-ms 4 --tool "$TOOL" >"$out" 2>&1; then
    pass=$((pass + 1)); echo "ok   chaos: kill -9 under load"
else
    fail=$((fail + 1)); echo "FAIL chaos: kill -9 under load"
fi
sed 's/^/     /' "$out"
# The harness must catch what it claims to catch: flipped bytes in values.
if "$CHAOS" --seconds 1 --workers 2 --kill-interval-ms 20 --inject-wrong 500 >"$out" 2>&1; then
    fail=$((fail + 1)); echo "FAIL chaos self-test: injected wrong values went unnoticed"
    sed 's/^/     /' "$out"
elif grep -q '^wrong values: *[1-9]' "$out"; then
    pass=$((pass + 1)); echo "ok   chaos self-test: injected wrong values are caught"
else
    fail=$((fail + 1)); echo "FAIL chaos self-test: failed for another reason"
    sed 's/^/     /' "$out"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
