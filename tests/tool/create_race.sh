#!/bin/sh
# create_race.sh - the brief create race of `make test`: 8 processes
# create-or-attach the same new name at the same instant, 200 rounds, 0
# failures allowed; then the same through the named fallback used where
# O_TMPFILE is missing (createrace-named). The long run (1,000 rounds each)
# is `make chaos`.
# Usage: BUILD=build sh tests/tool/create_race.sh
BUILD=${BUILD:-build}
RACE=$BUILD/chaos/createrace
ROUNDS=${CREATE_RACE_ROUNDS:-200}
pass=0
fail=0
for prog in "$RACE" "$RACE-named"; do
    if [ ! -x "$prog" ]; then
        fail=$((fail + 1)); echo "FAIL $prog not built"; continue
    fi
    if "$prog" --rounds "$ROUNDS" --procs 8; then
        pass=$((pass + 1)); echo "ok   $ROUNDS rounds of 8 racing creators share one segment ($prog)"
    else
        fail=$((fail + 1)); echo "FAIL create race ($prog)"
    fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
