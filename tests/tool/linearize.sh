#!/bin/sh
# linearize.sh - the brief per-key linearizability check of `make test`:
# 2 writers publish versions, deletes, invalidates and clears; 2 readers log
# what they saw with timestamps; every read must be explainable (no stale,
# resurrected, torn or lost value). Also checks that the checker itself
# catches injected stale reads. The long run is `make chaos`.
# Usage: BUILD=build sh tests/tool/linearize.sh
BUILD=${BUILD:-build}
LIN=$BUILD/chaos/linearize
SECONDS_RUN=${LINEARIZE_SECONDS:-5}
pass=0
fail=0
if [ ! -x "$LIN" ]; then
    echo "FAIL $LIN not built (make $LIN)"
    echo "0 passed, 1 failed"
    exit 1
fi
out=$(mktemp /tmp/linearize.XXXXXX) || exit 1
trap 'rm -f "$out"' EXIT INT TERM
if "$LIN" --seconds "$SECONDS_RUN" --writers 2 --readers 2 --keys 64 >"$out" 2>&1; then
    pass=$((pass + 1)); echo "ok   linearize: every read explained"
else
    fail=$((fail + 1)); echo "FAIL linearize: a read could not be explained"
fi
sed 's/^/     /' "$out"
# The checker must catch what it claims to catch.
if "$LIN" --seconds 1 --writers 2 --readers 1 --keys 16 --inject-stale 100 >"$out" 2>&1; then
    fail=$((fail + 1)); echo "FAIL linearize self-test: injected stale reads went unnoticed"
    sed 's/^/     /' "$out"
elif grep -q '^stale reads: *[1-9]' "$out"; then
    pass=$((pass + 1)); echo "ok   linearize self-test: injected stale reads are caught"
else
    fail=$((fail + 1)); echo "FAIL linearize self-test: failed for another reason"
    sed 's/^/     /' "$out"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
