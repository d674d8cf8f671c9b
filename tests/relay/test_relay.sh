#!/bin/sh
# tests/relay/test_relay.sh - shmcache-relay against a real redis-server.
#
# Two "hosts" are two segments on this machine, each with its own relay,
# sharing one Redis that this script starts on 127.0.0.1 on a free port
# (no persistence) and stops by PID. Nothing but loopback is contacted.
# Waits are bounded polls (never assertions on timing).
# Needs $TOOL and $RELAY (make test sets them).
set -u
: "${TOOL:?}" "${RELAY:?}"
PY=${PY:-python3}
TMP=$(mktemp -d)
. "$(dirname "$0")/../tool/checks.inc"

command -v redis-server >/dev/null || { echo "SKIP: redis-server not installed (scripts/deps.sh test)"; exit 0; }

A=relay-test-a-$$
B=relay-test-b-$$
S=relay-test-stream-$$
MAXSTALE=1s
redis_pid=
relay_a=
relay_b=
relay_c=
C=relay-test-c-$$

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
URL=redis://127.0.0.1:$PORT

cleanup() {
    for p in $relay_a $relay_b $relay_c $redis_pid; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    "$TOOL" destroy "$A" --yes >/dev/null 2>&1
    "$TOOL" destroy "$B" --yes >/dev/null 2>&1
    "$TOOL" destroy "$C" --yes >/dev/null 2>&1
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

redis_start() {
    redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no \
        --logfile "$TMP/redis.log" --dir "$TMP" &
    redis_pid=$!
    i=0; while [ $i -lt 100 ]; do
        redis-cli -p "$PORT" ping >/dev/null 2>&1 && return 0
        sleep 0.05; i=$((i + 1))
    done
    bad "redis-server did not start"
}
redis_stop() { kill "$redis_pid"; wait "$redis_pid" 2>/dev/null; redis_pid=; }

# start_relay A|B: start the relay of that host, wait until it is connected
start_relay() {
    seg=$A; [ "$1" = B ] && seg=$B
    "$RELAY" --redis "$URL" --stream "$S" --origin "host-$1" --max-stale "$MAXSTALE" "$seg" \
        2>>"$TMP/relay-$1.log" &
    eval "relay_$(echo "$1" | tr AB ab)=$!"
    wait_for "relay of $1 connected" "$TOOL" relay-status "$seg" --json -- \
        "d['connected'] and d['relay_pid'] == $!"
}

# wait_for WHAT CMD... [-- PYEXPR]: poll (up to 10 s) until CMD succeeds,
# or with PYEXPR, until CMD's JSON output satisfies it
wait_for() {
    what=$1; shift
    cmd=""; expr=""
    while [ $# -gt 0 ] && [ "$1" != -- ]; do cmd="$cmd '$1'"; shift; done
    [ $# -gt 0 ] && { shift; expr=$1; }
    i=0
    while [ $i -lt 200 ]; do
        if eval "$cmd" >"$TMP/out" 2>"$TMP/err" </dev/null; then
            if [ -z "$expr" ] || "$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)' "$TMP/out" "$expr" 2>/dev/null; then ok; return 0; fi
        fi
        sleep 0.05; i=$((i + 1))
    done
    bad "timed out waiting for: $what"
    return 1
}
# gone SEG KEY: wait until KEY misses in SEG
gone() { wait_for "$2 gone from $1" sh -c "! '$TOOL' get '$1' '$2' >/dev/null 2>&1"; }
present() { expect 0 get "$1" "$2"; }

redis_start
"$TOOL" create "$A" --journal=64K --capacity 4096 --memory 4M --max-value 64K >/dev/null || bad "create A"
"$TOOL" create "$B" --journal --capacity 4096 --memory 4M --max-value 64K >/dev/null || bad "create B"

# ---- bad command lines, bad URLs, bad segments: clear error, exit code
for u in http://x redis:// redis://:6379 redis://h:0 redis://h:99999 redis://h:12x \
         redis://h:1/x redis://user@h rediss://127.0.0.1:1; do
    "$RELAY" --redis "$u" "$A" >"$TMP/out" 2>"$TMP/err"; rc=$?
    if [ $rc = 2 ] && grep -q "bad --redis URL" "$TMP/err"; then ok; else bad "URL $u: exit $rc: $(cat "$TMP/err")"; fi
done
grep -q "TLS" "$TMP/err" && ok || bad "rediss:// does not mention TLS"
"$RELAY" --max-stale 5x "$A" 2>"$TMP/err"; [ $? = 2 ] && ok || bad "bad --max-stale accepted"
"$RELAY" 2>"$TMP/err"; [ $? = 2 ] && ok || bad "missing NAME accepted"
"$RELAY" --redis "$URL" no-such-segment-$$ 2>"$TMP/err"; rc=$?
[ $rc = 3 ] && grep -q "cannot open segment" "$TMP/err" && ok || bad "missing segment: exit $rc $(cat "$TMP/err")"
N=relay-test-nojournal-$$
"$TOOL" create "$N" --capacity 64 --memory 1M --max-value 4K >/dev/null
"$RELAY" --redis "$URL" "$N" 2>"$TMP/err"; rc=$?
[ $rc = 3 ] && grep -q "no journal" "$TMP/err" && ok || bad "segment without journal: exit $rc $(cat "$TMP/err")"
"$TOOL" destroy "$N" --yes >/dev/null
"$RELAY" --help | grep -q "max-stale" && ok || bad "--help lacks --max-stale"

# ---- both relays up; a second relay for the same segment refuses
start_relay A
start_relay B
"$RELAY" --redis "$URL" --stream "$S" "$A" 2>"$TMP/err"; rc=$?
[ $rc = 4 ] && grep -q "another relay" "$TMP/err" && ok || bad "second relay: exit $rc $(cat "$TMP/err")"

# ---- delete, invalidate, tag invalidation and clear on A are seen on B, and the reverse
for h in A B; do
    if [ $h = A ]; then from=$A; to=$B; else from=$B; to=$A; fi
    for k in d i t c1 c2; do "$TOOL" set "$to" "$k" v --tag "tag$h" >/dev/null; done
    "$TOOL" set "$to" keep v >/dev/null
    "$TOOL" delete "$from" d >/dev/null 2>&1
    gone "$to" d
    "$TOOL" invalidate "$from" i >/dev/null 2>&1
    gone "$to" i
    expect 0 get "$to" i --stale     # invalidate keeps the stale value readable
    present "$to" keep
    "$TOOL" invalidate-tag "$from" "tag$h" >/dev/null
    gone "$to" t
    present "$to" keep
    "$TOOL" clear "$from" --yes >/dev/null
    gone "$to" keep
done
expect 0 relay-status "$B" --json
json "d['applied_total'] >= 4 and d['published'] == 4 and d['lag_records'] == 0 and d['relay_running']"
expect 0 relay-status "$B"
out_has "^published +up to record 4"

# ---- kill -9 of a relay mid-stream, restart: it replays, nothing is missed
i=1; while [ $i -le 150 ]; do "$TOOL" set "$B" "k$i" v >/dev/null; i=$((i + 1)); done
(i=1; while [ $i -le 150 ]; do "$TOOL" delete "$A" "k$i" >/dev/null 2>&1; i=$((i + 1)); done) &
burst=$!
sleep 0.2
kill -9 "$relay_a"; wait "$relay_a" 2>/dev/null
wait $burst
start_relay A
gone "$B" k150
missed=0; i=1; while [ $i -le 150 ]; do "$TOOL" get "$B" "k$i" >/dev/null 2>&1 && missed=$((missed + 1)); i=$((i + 1)); done
[ $missed = 0 ] && ok || bad "$missed of 150 deletes missed after kill -9 of relay A"
# the applying side too: B's relay killed, deletes made meanwhile are applied after restart
"$TOOL" set "$B" while-down v >/dev/null
kill -9 "$relay_b"; wait "$relay_b" 2>/dev/null
"$TOOL" delete "$A" while-down >/dev/null 2>&1
present "$B" while-down
start_relay B
gone "$B" while-down

# ---- Redis stopped: past --max-stale B clears; restarted: relays reconnect
"$TOOL" set "$B" cached-before-outage v >/dev/null
redis_stop
wait_for "B sees Redis unreachable" "$TOOL" relay-status "$B" --json -- "not d['connected']"
gone "$B" cached-before-outage
expect 0 relay-status "$B" --json
json "'unreachable' in d['clear_reason']"
"$TOOL" set "$B" during-outage v >/dev/null
"$TOOL" delete "$A" during-outage >/dev/null 2>&1   # waits in A's journal
redis_start
wait_for "A reconnected" "$TOOL" relay-status "$A" --json -- "d['connected']"
wait_for "B reconnected" "$TOOL" relay-status "$B" --json -- "d['connected']"
gone "$B" during-outage
"$TOOL" set "$B" after-outage v >/dev/null
"$TOOL" delete "$A" after-outage >/dev/null 2>&1
gone "$B" after-outage

# ---- journal overflow: A's relay down while A's journal wraps; it asks B to clear
kill "$relay_a"; wait "$relay_a" 2>/dev/null
"$TOOL" set "$B" unrelated v >/dev/null
# 280 records of 280 bytes do not fit A's 64 KiB ring
j=0; while [ $j -lt 280 ]; do
    "$TOOL" delete "$A" "$(printf 'overflow-%0239d' $j)" >/dev/null 2>&1; j=$((j + 1))
done
expect 0 relay-status "$A" --json
json "d['journal_oldest'] > d['published'] + 1"
start_relay A
gone "$B" unrelated
wait_for "A records the clear it asked for" "$TOOL" relay-status "$A" --json -- "'overflow' in d['clear_reason']"
wait_for "B records why it cleared" "$TOOL" relay-status "$B" --json -- "'host-A' in d['clear_reason']"

# ---- write-invalidate mode: a store on a third host C drops the key on B
expect 2 create "$C" --journal-writes              # needs --journal
expect 2 create "$C" --journal=12K                 # below the minimum
expect 0 create "$C" --journal --journal-writes --capacity 4096 --memory 4M --max-value 64K
"$RELAY" --redis "$URL" --stream "$S" --origin host-C --max-stale "$MAXSTALE" "$C" 2>>"$TMP/relay-C.log" &
relay_c=$!
wait_for "relay of C connected" "$TOOL" relay-status "$C" --json -- "d['connected'] and d['write_invalidate']"
"$TOOL" set "$B" wi v >/dev/null
"$TOOL" set "$C" wi newer >/dev/null
gone "$B" wi
present "$C" wi                                    # the writer keeps its own value
kill "$relay_c"; wait "$relay_c" 2>/dev/null; relay_c=
"$TOOL" destroy "$C" --yes >/dev/null

# ---- SIGTERM stops a relay cleanly (exit 0, claim released)
kill -TERM "$relay_b"; wait "$relay_b"; rc=$?
[ $rc = 0 ] && ok || bad "relay B exit $rc on SIGTERM"
relay_b=
expect 0 relay-status "$B" --json
json "not d['relay_running']"

[ $fail = 0 ] || { echo "--- relay logs"; cat "$TMP"/relay-*.log; } >&2
echo "relay tests: $pass passed, $fail failed"
[ $fail = 0 ]
