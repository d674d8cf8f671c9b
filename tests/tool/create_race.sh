#!/bin/sh
# create_race.sh - the brief create race of `make test`: 8 processes
# create-or-attach the same new name at the same instant, 200 rounds, 0
# failures allowed. The long run (1,000 rounds) is `make chaos`.
# Usage: BUILD=build sh tests/tool/create_race.sh
BUILD=${BUILD:-build}
RACE=$BUILD/chaos/createrace
ROUNDS=${CREATE_RACE_ROUNDS:-200}
if [ ! -x "$RACE" ]; then
    echo "FAIL $RACE not built"; echo "0 passed, 1 failed"; exit 1
fi
if "$RACE" --rounds "$ROUNDS" --procs 8; then
    echo "ok   $ROUNDS rounds of 8 racing creators share one segment"; echo "1 passed, 0 failed"
else
    echo "FAIL create race"; echo "0 passed, 1 failed"; exit 1
fi
