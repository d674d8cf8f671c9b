#!/bin/sh
# bench_smoke.sh - shmcache-bench still builds, runs and prints what it
# promises. About 1 s per backend (shmcache, private (the limit),
# private-shape, globallock; no servers), exit status 0 and parseable
# --json/--csv; no timing assertions.
# Usage: BUILD=build sh tests/tool/bench_smoke.sh
BUILD=${BUILD:-build}
BENCH=$BUILD/shmcache-bench
pass=0
fail=0

ok()  { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }

if [ ! -x "$BENCH" ]; then
    echo "skip: $BENCH not built (make $BENCH)"
    echo "0 passed, 0 failed"
    exit 0
fi
tmp=$(mktemp -d /tmp/bench_smoke.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

# check_json FILE WHAT PYTHON-EXPR: the file is JSON and the expression holds
check_json() {
    python3 - "$1" "$3" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2], {"d": d}) else 1)
PY
}

if "$BENCH" --selftest >"$tmp/self" 2>&1; then ok "selftest"; else bad "selftest"; cat "$tmp/self"; fi

for be in shmcache private private-shape globallock; do
    for mix in read 50/50 delete incr prices; do
        name="$be $mix"
        if "$BENCH" --backend "$be" --procs 2 --mix "$mix" --keys 2000 --duration 0.2 \
               --verify --json --no-progress >"$tmp/out" 2>"$tmp/err"; then
            if check_json "$tmp/out" "$name" \
                "len(d['runs']) == 1 and d['runs'][0]['ops'] > 0 and d['runs'][0]['errors'] == 0 \
                 and d['runs'][0]['verify_failed'] == 0 and d['runs'][0]['procs'] == 2 \
                 and d['runs'][0]['processes'] == 2"; then
                ok "$name"
            else
                bad "$name: bad JSON"; cat "$tmp/out"
            fi
        else
            bad "$name: exit $?"; cat "$tmp/err"
        fi
    done
done

# all four in one run, 1 s each, ratios present
if "$BENCH" --backend shmcache,private,private-shape,globallock --procs 1 --duration 1 --mix 95/5 \
       --dist zipf --json --cdf --no-progress >"$tmp/out" 2>"$tmp/err" &&
   check_json "$tmp/out" all "len(d['runs']) == 4 and len(d['ratios']) == 3 and \
       all(r['kinds']['get']['latency']['p50_ns'] > 0 and r['kinds']['get']['latency']['cdf'] for r in d['runs'])"; then
    ok "four backends, ratios, latency"
else
    bad "four backends"; cat "$tmp/out" "$tmp/err"
fi

# the limit with values larger than its slots (out-of-slot blocks) and a
# capacity below the key count (it evicts instead of failing)
if "$BENCH" --backend private --procs 1 --mix 50/50 --keys 3000 --value-size 16-4096 \
       --limit-huge --duration 0.2 --verify --json --no-progress >"$tmp/out" 2>"$tmp/err" &&
   check_json "$tmp/out" "private mixed sizes" "d['runs'][0]['errors'] == 0 and d['runs'][0]['verify_failed'] == 0" &&
   "$BENCH" --backend private --procs 1 --mix prices --keys 5000 --capacity 1024 \
       --duration 0.2 --verify --json --no-progress >"$tmp/out" 2>"$tmp/err" &&
   check_json "$tmp/out" "private small capacity" "d['runs'][0]['errors'] == 0 and d['runs'][0]['verify_failed'] == 0 \
       and d['runs'][0]['fills'] > 0"; then
    ok "private: large values, capacity below the keys"
else
    bad "private: large values, capacity below the keys"; cat "$tmp/out" "$tmp/err"
fi

# threads, --ops and --csv
if "$BENCH" --backend shmcache --procs 1,2 --threads 2 --ops 200000 --csv --no-progress \
       >"$tmp/csv" 2>"$tmp/err" &&
   python3 -c "
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
alls = [r for r in rows if r['op'] == 'all']
sys.exit(0 if len(alls) == 2 and all(int(r['ops']) >= 200000 for r in alls) else 1)" "$tmp/csv"; then
    ok "threads, --ops, --csv"
else
    bad "threads, --ops, --csv"; cat "$tmp/csv" "$tmp/err"
fi

# eviction quality and memory efficiency run and report
if "$BENCH" --trace zipf --keys 20000 --ops 100000 --json >"$tmp/out" 2>"$tmp/err" &&
   check_json "$tmp/out" trace "0 < d['shmcache']['miss_ratio'] < 1 and 0 < d['lru_payload']['miss_ratio'] < 1"; then
    ok "trace zipf"
else
    bad "trace zipf"; cat "$tmp/out" "$tmp/err"
fi
if "$BENCH" --memeff --capacity 4096 --value-size 16-4096 --json >"$tmp/out" 2>"$tmp/err" &&
   check_json "$tmp/out" memeff "0 < d['live_ratio'] <= 1 and d['check_problems'] == 0"; then
    ok "memeff"
else
    bad "memeff"; cat "$tmp/out" "$tmp/err"
fi

# filling to capacity reports every seed and its evictions (a measurement:
# the pass/fail test of invariant 7 is elsewhere)
if "$BENCH" --fill-capacity=2 --capacity 4096 --json >"$tmp/out" 2>"$tmp/err" &&
   check_json "$tmp/out" fill "len(d['runs']) == 2 and all(r['stored'] == 4096 and r['lost'] <= r['evictions'] \
       for r in d['runs']) and d['max_evictions'] == max(r['evictions'] for r in d['runs'])"; then
    ok "fill-capacity"
else
    bad "fill-capacity"; cat "$tmp/out" "$tmp/err"
fi

# a bad option is refused
if "$BENCH" --mix nonsense >/dev/null 2>&1; then bad "bad option refused"; else ok "bad option refused"; fi
if "$BENCH" --fill-capacity=0 >/dev/null 2>&1; then bad "bad seed count refused"; else ok "bad seed count refused"; fi

# nothing left behind in /dev/shm (by a bench that has exited)
left=""
for f in $(ls /dev/shm 2>/dev/null | grep '^shmcache-bench-[0-9]*$'); do
    kill -0 "${f#shmcache-bench-}" 2>/dev/null || left="$left $f"
done
if [ -n "$left" ]; then bad "segments left in /dev/shm:$left"; else ok "no segment left behind"; fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
