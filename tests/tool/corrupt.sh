#!/bin/sh
# corrupt.sh - the brief corrupted-segment run of `make test`: 30 rounds of
# 4096 flipped bits plus 1-3 overwritten lock words, a fresh process doing
# 3,000 operations on each; none may crash, hang, return an undocumented
# code or wait out the lock bound twice (tests/chaos/corrupt.c). Times are
# printed, not asserted; `make chaos` runs more rounds and holds each worker
# to the bound + 1 s.
# Usage: BUILD=build sh tests/tool/corrupt.sh
BUILD=${BUILD:-build}
PROG=$BUILD/chaos/corrupt
if [ ! -x "$PROG" ]; then
    echo "FAIL $PROG not built"; echo "0 passed, 1 failed"; exit 1
fi
if "$PROG" --rounds "${CORRUPT_ROUNDS:-30}" --parallel 10 --ops 3000 --flips 4096; then
    echo "ok   corrupted segments: no crash, no hang, one bounded wait at most"
    echo "1 passed, 0 failed"
else
    echo "FAIL corrupted segments"; echo "0 passed, 1 failed"; exit 1
fi
