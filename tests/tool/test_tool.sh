#!/bin/sh
# tests/tool/test_tool.sh - drive the real shmcache-tool against real
# segments: every command's output and exit code, JSON checked by a parser,
# bad arguments, foreign and corrupted segments, dump | restore of binary
# keys and values, watch with a bounded count, confirmation refusals.
#
# Run by `make test` as: TOOL=build/shmcache-tool BUILD=build sh tests/tool/test_tool.sh
# Segments are named shmc-tooltest-<pid>-* and removed on exit.
set -u

TOOL=${TOOL:-build/shmcache-tool}
case $TOOL in /*) ;; *) TOOL=$(pwd)/$TOOL ;; esac
[ -x "$TOOL" ] || { echo "no tool at $TOOL" >&2; exit 1; }
# The interpreter itself, not a version-manager shim: each JSON check starts one.
PY=$(python3 -c 'import sys; print(sys.executable)') || { echo "python3 is needed" >&2; exit 1; }

P=shmc-tooltest-$$
S=$P-main          # the segment most tests use
R=$P-restored      # restore target
C=$P-corrupt       # check target
J=$P-junk          # a /dev/shm object that is not a segment
G=$P-json          # create --json
TMP=$(mktemp -d "${TMPDIR:-/tmp}/shmc-tooltest.XXXXXX")

cleanup() {
    for n in "$S" "$R" "$C" "$J" "$G"; do rm -f "/dev/shm/$n"; done
    for sock in "$TMP"/tmux*.sock; do
        [ -S "$sock" ] && tmux -S "$sock" kill-server 2>/dev/null
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

. "$(dirname "$0")/checks.inc"

# ---- help, version, usage errors ---------------------------------------

expect 0 --version;                out_has '^shmcache-tool [0-9]+\.[0-9]+\.[0-9]+$'
expect 0 --help;                   out_has 'Commands:'; out_has 'dump NAME'
expect 0 set --help;               out_has '^usage: shmcache-tool set NAME KEY'; out_has -- '--ttl'
expect 0 help keys;                out_has 'PATTERN'
expect 0 keys -h;                  out_has -- '--limit'
expect 2;                          err_has 'missing command'; err_lines 1
expect 2 info 'a/b';               err_has "bad segment name 'a/b'"; err_lines 1
expect 2 get "$(printf 'x\001y')" k;  err_has "bad segment name 'x\\\\x01y'"
expect 2 frobnicate;               err_has "unknown command 'frobnicate'"; err_lines 1
expect 2 info;                     err_has 'missing argument'; err_lines 1
expect 2 info a b;                 err_has 'too many arguments'
expect 2 info "$S" --bogus;        err_has "unknown option '--bogus'"
expect 2 info "$S" --ttl 5s;       err_has 'does not apply'
expect 2 set "$S" k v --ttl;       err_has 'needs a value'
expect 2 create "$S" --memory 12Q;     err_has "bad size '12Q'"; err_lines 1
expect 2 create "$S" --memory -5;      err_has 'bad size'
expect 2 create "$S" --memory 1.5G;    err_has 'bad size'
expect 2 create "$S" --memory 99999999999999999999;  err_has 'bad size'
expect 2 create "$S" --capacity lots;  err_has 'bad --capacity'
expect 2 create "$S" --mode 0999;      err_has 'bad --mode'
expect 2 set "$S" k v --ttl 5x;        err_has "bad duration '5x'"
expect 2 set "$S" k v --ttl -1;        err_has 'bad duration'
expect 2 set "$S" k v --ttl 1.5s;      err_has 'bad duration'
expect 2 set "$S" k v --ttl '';        err_has 'bad duration'
expect 2 set "$S" k v --flags 4294967296;  err_has 'bad --flags'
expect 2 watch "$S" --interval 0;      err_has 'bad duration'
expect 2 get -e "$S" 'bad\q';          err_has 'malformed escape'
expect 2 get "$S" '';                  err_has 'empty key'
[ ! -e "/dev/shm/$S" ] && ok || bad "a usage error created $S"

# ---- missing segment, foreign object ------------------------------------

expect 3 info "$P-missing";    err_has "^shmcache-tool: cannot open $P-missing: "; err_lines 1
expect 3 get "$P-missing" k;   err_has 'cannot open'
expect 3 stats "$P-missing"
expect 3 destroy "$P-missing" --yes
head -c 65536 /dev/urandom >"/dev/shm/$J" && chmod 600 "/dev/shm/$J"
expect 3 info "$J";            err_has "cannot open $J: "; err_lines 1
expect 3 keys "$J"
expect 3 check "$J"
expect 3 set "$J" k v
expect 3 destroy "$J" --yes
[ -e "/dev/shm/$J" ] && ok || bad "destroy removed a foreign object"

# ---- create -------------------------------------------------------------

expect 2 create "$S" --capacity 1024 --memory 64K --max-value 1M;  err_has 'max value 1.00 MiB does not fit a stripe of 64.00 KiB'; err_has 'raise --memory or lower --max-value$'
expect 0 create "$S" --capacity 1024 --memory 1M --max-value 64K --mode 0600
out_has "^created $S: 1024 entries"
expect 3 create "$S";          err_has "cannot create $S"
expect 0 --json create "$G" --capacity 2K --memory 512K --max-value 16K --max-key 100 --stripes 2 --mode 0640
json 'd["capacity"] >= 2048 and d["max_key_len"] == 100 and d["max_value_len"] == 16384 and d["stripes"] == 2 and d["mode"] == "0640"'
json 'd["memory"] <= 512 * 1024 and d["segment_size"] > d["memory"] and d["name"].startswith("shmc-tooltest-")'

# A mode wider than 0600 is accepted; another user's segment only with --any-owner.
expect 0 info "$G"
if [ "$(id -u)" = 0 ]; then
    chown 65534 "/dev/shm/$G"
    expect 3 info "$G";        err_has "cannot open $G: "
    expect 0 --any-owner info "$G"
    expect 0 stats "$G" --any-owner
    chown 0 "/dev/shm/$G"
fi

# ---- list ---------------------------------------------------------------

expect 0 list;                 out_has "^$S +"; out_has "^$G +"
if grep -q "^$J" "$TMP/out"; then bad "list shows a non-segment"; else ok; fi
expect 0 --json list
json "any(s['name'] == '$S' and s['capacity'] >= 1024 and s['mode'] == '0600' and s['owner'] for s in d['segments'])"
json "not any(s.get('name') == '$J' for s in d['segments'])"

# ---- set, get, add, replace, delete --------------------------------------

expect 0 set "$S" greeting hello --ttl 1h --flags 42
expect 0 get "$S" greeting;    out_is hello
expect 0 --json get "$S" greeting
json 'd["key"] == "greeting" and d["value"] == "hello" and d["flags"] == 42 and 3500000 < d["ttl_ms"] <= 3600000 and d["size"] == 5'
expect 1 get "$S" nosuchkey;   err_has 'nosuchkey: no such key'; err_lines 1
[ ! -s "$TMP/out" ] && ok || bad "a miss wrote to stdout"
expect 1 add "$S" greeting other;  err_has 'key exists'
expect 0 add "$S" fresh one
expect 1 replace "$S" absent x;    err_has 'no such key'
expect 0 replace "$S" fresh two
expect 0 get "$S" fresh;       out_is two
expect 0 delete "$S" fresh
expect 1 delete "$S" fresh;    err_has 'no such key'
expect 1 get "$S" fresh

# A binary value from standard input comes back byte for byte.
printf 'a\000b\377c\n\r\001' >"$TMP/bin.val"
head -c 20000 /dev/urandom >"$TMP/big.val"
"$TOOL" set "$S" binval - <"$TMP/bin.val" && ok || bad "set - failed"
"$TOOL" set "$S" bigval - <"$TMP/big.val" && ok || bad "set - of 20000 bytes failed"
"$TOOL" get "$S" binval >"$TMP/got" && cmp -s "$TMP/bin.val" "$TMP/got" && ok || bad "binary value differs"
"$TOOL" get "$S" bigval >"$TMP/got" && cmp -s "$TMP/big.val" "$TMP/got" && ok || bad "20000-byte value differs"
# A binary key through -e; text output escapes it, JSON gives key_b64.
expect 0 set -e "$S" 'bin\x00key\xff\\' 'v\x01' --flags 0x10
expect 0 get -e "$S" 'bin\x00key\xff\\'
printf 'v\001' | cmp -s - "$TMP/out" && ok || bad "escaped value differs"
expect 0 --json get -e "$S" 'bin\x00key\xff\\'
json 'base64.b64decode(d["key_b64"]) == b"bin\x00key\xff\\" and base64.b64decode(d["value_b64"]) == b"v\x01" and d["flags"] == 16 and d["ttl_ms"] == -1 and "key" not in d'
expect 0 set "$S" 'ключ' 'значение'

# ---- incr, touch, expiry -------------------------------------------------

expect 0 set "$S" n 10
expect 0 incr "$S" n 5;        out_is 15
expect 0 incr "$S" n;          out_is 16
expect 0 incr "$S" n -20;      out_is 0
expect 1 incr "$S" nonum;      err_has 'no such key'
expect 0 incr "$S" nonum 3 --initial 7;  out_is 7
expect 1 incr "$S" greeting;   err_has 'not an unsigned decimal number'
expect 2 incr "$S" n abc;      err_has "bad DELTA 'abc'"
expect 0 --json incr "$S" n 2; json 'd == {"key": "n", "value": 2}'
expect 0 touch "$S" n --ttl 2h
expect 0 --json get "$S" n;    json '7000000 < d["ttl_ms"] <= 7200000'
expect 0 touch "$S" n --ttl 0
expect 0 --json get "$S" n;    json 'd["ttl_ms"] == -1'
expect 1 touch "$S" absent --ttl 5s;  err_has 'no such key'
expect 2 touch "$S" n;         err_has -- '--ttl is required'
expect 0 set "$S" shortlived x --ttl 1500ms
expect 0 get "$S" shortlived;  out_is x
sleep 2.5
expect 1 get "$S" shortlived
expect 0 flush-expired "$S";   out_has '^[0-9]+ reclaimed$'
expect 0 --json flush-expired "$S";  json 'd["reclaimed"] >= 0'

# ---- keys ---------------------------------------------------------------

for i in 1 2 3 4 5; do "$TOOL" set "$S" "user:$i" "u$i" --flags "$i" || bad "set user:$i"; done
expect 0 keys "$S" 'user:*'
[ "$(wc -l <"$TMP/out")" -eq 5 ] && ok || bad "keys user:* gave $(wc -l <"$TMP/out") lines"
out_has '^ +2 +- +3 -  +user:3$'
expect 0 keys "$S";            out_has 'bin\\x00key\\xff\\\\$'; out_has 'ключ$'; out_has ' [0-9]+m[0-9]{2}s +42 -  +greeting$'
expect 0 keys "$S" 'user:*' --limit 2
[ "$(wc -l <"$TMP/out")" -eq 2 ] && ok || bad "keys --limit 2 gave $(wc -l <"$TMP/out") lines"
expect 0 --json keys "$S" 'user:*' --limit 2
json 'd["count"] == 2 and d["truncated"] is True and len(d["keys"]) == 2 and all(k["key"].startswith("user:") for k in d["keys"])'
expect 0 --json keys "$S"
json 'any(k.get("key_b64") and base64.b64decode(k["key_b64"]) == b"bin\x00key\xff\\" for k in d["keys"])'
json 'any(k.get("key") == "ключ" and k["size"] == len("значение".encode()) for k in d["keys"])'
json 'd["truncated"] is False and d["count"] == len(d["keys"]) and all(set(k) >= {"size", "ttl_ms", "flags", "cas", "fetched"} for k in d["keys"])'
expect 0 keys "$S" 'nomatch*';  out_is ''

# ---- stats, info --------------------------------------------------------

expect 0 stats "$S"
out_has '^curr_items [0-9]+$'; out_has '^cmd_set [0-9]+$'; out_has '^capacity 1024$'
if grep -Evq '^[a-z_]+ [0-9]+$' "$TMP/out"; then bad "stats line not 'name value'"; else ok; fi
cp "$TMP/out" "$TMP/stats.txt"
expect 0 --json stats "$S"
json 'd["cmd_set"] >= 10 and d["curr_items"] >= 10 and d["capacity"] == 1024'
"$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
t = [l.split()[0] for l in open(sys.argv[2])]
sys.exit(0 if t == list(d) else 1)' "$TMP/out" "$TMP/stats.txt" && ok || bad "stats text and JSON name different fields"
expect 0 info "$S"
out_has "^segment +$S$"; out_has '^index +[0-9]+ of [0-9]+ slots used .*capacity 1024 keys promised'; out_has '^gets '; out_has '^evictions '
out_has '^lock recoveries '; out_has '^processes '
expect 0 --json info "$S"
json 'd["capacity"] == 1024 and d["stats"]["curr_items"] >= 10 and isinstance(d["processes"], list) and 0 <= d["hit_ratio"] <= 1 and 0 <= d["index_fill_ratio"] <= 1'

# ---- check --------------------------------------------------------------

expect 0 check "$S";           out_is "$S: ok"
expect 0 --json check "$S";    json 'd["ok"] is True and d["problems"] == [] and d["problem_count"] == 0'

# ---- dump | restore -----------------------------------------------------

"$TOOL" dump "$S" >"$TMP/dump1" && ok || bad "dump failed"
head -c 11 "$TMP/dump1" | grep -q '^SHMCDUMP 1$' && ok || bad "dump lacks its header"
expect 0 create "$R" --capacity 4096 --memory 4M --max-value 64K
"$TOOL" restore "$R" <"$TMP/dump1" >"$TMP/out" 2>"$TMP/err" && ok || bad "restore failed: $(cat "$TMP/err")"
out_has '^restored [0-9]+ entries \(0 expired, 0 kept, 0 failed\)$'
"$TOOL" get "$R" bigval >"$TMP/got" && cmp -s "$TMP/big.val" "$TMP/got" && ok || bad "restored big value differs"
"$TOOL" get "$R" binval >"$TMP/got" && cmp -s "$TMP/bin.val" "$TMP/got" && ok || bad "restored binary value differs"
"$TOOL" get -e "$R" 'bin\x00key\xff\\' >"$TMP/got" && printf 'v\001' | cmp -s - "$TMP/got" && ok || bad "restored binary key differs"
"$TOOL" dump "$R" >"$TMP/dump2" && ok || bad "second dump failed"
# Same entries, same values and flags; ttls no longer than before.
"$PY" - "$TMP/dump1" "$TMP/dump2" <<'EOF' && ok || bad "dump of the restored segment differs"
import struct, sys
def load(p):
    b = open(p, 'rb').read()
    assert b[:11] == b'SHMCDUMP 1\n'
    i, out, n = 11, {}, 0
    while True:
        kl, vl, fl, ttl = struct.unpack_from('<IIIq', b, i); i += 20
        if kl == 0:
            assert vl == 0 and fl == 0 and ttl == n and i == len(b), "bad end record"
            return out
        k = b[i:i + kl]; i += kl
        v = b[i:i + vl]; i += vl
        out[k] = (v, fl, ttl); n += 1
a, b = load(sys.argv[1]), load(sys.argv[2])
assert set(a) == set(b), (set(a) ^ set(b))
for k in a:
    assert a[k][:2] == b[k][:2], k
    assert (a[k][2] == -1) == (b[k][2] == -1) and b[k][2] <= a[k][2], k
assert b'bin\x00key\xff\\' in a and len(a) >= 12
EOF
"$TOOL" --json restore "$R" --no-overwrite <"$TMP/dump1" >"$TMP/out" 2>"$TMP/err"; rc=$?
[ "$rc" = 0 ] && ok || bad "restore --no-overwrite exited $rc"
json 'd["restored"] == 0 and d["kept"] >= 12 and d["failed"] == 0 and d["complete"] is True'
head -c 100 "$TMP/dump1" >"$TMP/trunc"
"$TOOL" restore "$R" <"$TMP/trunc" >"$TMP/out" 2>"$TMP/err"; rc=$?
[ "$rc" = 1 ] && ok || bad "truncated restore exited $rc"
err_has 'truncated'
printf 'not a dump at all\n' | "$TOOL" restore "$R" >"$TMP/out" 2>"$TMP/err"; rc=$?
[ "$rc" = 1 ] && ok || bad "garbage restore exited $rc"
err_has 'not a shmcache dump'
# Into a segment with a smaller value limit: the big value fails, the rest land.
expect 0 destroy "$R" --yes
expect 0 create "$R" --capacity 1024 --memory 1M --max-value 1K
"$TOOL" restore "$R" <"$TMP/dump1" >"$TMP/out" 2>"$TMP/err"; rc=$?
[ "$rc" = 1 ] && ok || bad "restore with a failing entry exited $rc"
out_has '1 failed'; err_has '^shmcache-tool: restore bigval: '
expect 0 get "$R" greeting;   out_is hello

# ---- watch --------------------------------------------------------------

expect 0 watch "$S" --interval 100ms --count 2
[ "$(grep -c '^ops/s' "$TMP/out")" -eq 2 ] && ok || bad "watch --count 2 did not refresh twice"
out_has '^hit ratio'; out_has '^memory '
if grep -q "$(printf '\033')" "$TMP/out"; then bad "watch wrote ANSI codes to a non-terminal"; else ok; fi
expect 0 --json watch "$S" --interval 100ms --count 2
"$PY" -c '
import json, sys
ls = open(sys.argv[1]).read().splitlines()
assert len(ls) == 2
for l in ls:
    d = json.loads(l)
    assert d["curr_items"] >= 10 and d["interval_ms"] >= 90 and "get_per_s" in d and "hit_ratio" in d
' "$TMP/out" && ok || bad "watch --json lines: $(cat "$TMP/out")"

# ---- on a terminal (tmux): confirmation prompt, watch redraws in place ---

# in_tmux CMD: run CMD on a fresh terminal (its own tmux server: reusing a
# socket right after kill-server races with the dying server);
# pane: that terminal's screen; wait_pane TEXT: up to 5 s for TEXT on it.
tmuxn=0
tmx() { tmux -S "$TMP/tmux$tmuxn.sock" "$@"; }
pane() { tmx capture-pane -p -t shmctest 2>/dev/null; }
wait_pane() {
    n=0
    while [ $n -lt 50 ]; do pane | grep -q -- "$1" && return 0; sleep 0.1; n=$((n + 1)); done
    return 1
}
in_tmux() {
    tmx kill-server 2>/dev/null
    tmuxn=$((tmuxn + 1))
    tmx new-session -d -s shmctest -x 120 -y 30 "$1; echo rc=\$?; sleep 10"
}
if command -v tmux >/dev/null 2>&1; then
    in_tmux "'$TOOL' clear '$R'"
    if wait_pane "Type yes to clear every entry of $R:"; then ok; else bad "no prompt on a terminal: $(pane)"; fi
    tmx send-keys -t shmctest 'no' Enter
    wait_pane 'not confirmed' && ok || bad "declining did not say so: $(pane)"
    wait_pane 'rc=2' && ok || bad "declined clear: $(pane)"
    expect 0 get "$R" greeting; out_is hello
    in_tmux "'$TOOL' clear '$R'"
    wait_pane "Type yes to" && tmx send-keys -t shmctest 'yes' Enter
    wait_pane 'rc=0' && ok || bad "confirmed clear: $(pane)"
    expect 1 get "$R" greeting
    in_tmux "'$TOOL' dump '$R'"
    wait_pane 'rc=2' && ok || bad "dump to a terminal: $(pane)"
    pane | grep -q 'refusing to write binary data to a terminal' && ok || bad "dump to a terminal: $(pane)"
    in_tmux "'$TOOL' restore '$R'"
    wait_pane 'rc=2' && ok || bad "restore from a terminal: $(pane)"
    in_tmux "'$TOOL' watch '$R' --interval 100ms --count 3"
    wait_pane 'rc=0' && ok || bad "watch on a terminal: $(pane)"
    [ "$(pane | grep -c '^ops/s')" -eq 1 ] && ok || bad "watch did not redraw in place: $(pane)"
    tmx kill-server 2>/dev/null
else
    echo "tmux not found: terminal tests skipped" >&2
fi

# ---- concurrent use: inspection while another process writes ------------

(
    i=0
    while [ $i -lt 40 ]; do "$TOOL" set "$S" "busy:$i" "value $i" >/dev/null 2>&1; i=$((i + 1)); done
) &
writer=$!
for i in 1 2 3; do
    expect 0 keys "$S" 'busy:*'
    expect 0 check "$S"
    "$TOOL" dump "$S" >/dev/null && ok || bad "dump during writes failed"
done
wait "$writer"
expect 0 keys "$S" 'busy:*'
[ "$(wc -l <"$TMP/out")" -eq 40 ] && ok || bad "busy:* has $(wc -l <"$TMP/out") keys, want 40"

# ---- clear, destroy: confirmation ---------------------------------------

expect 2 clear "$S";           err_has 'refusing without confirmation.*--yes'; err_lines 1
expect 0 get "$S" greeting;    out_is hello
expect 0 clear "$S" --yes
expect 1 get "$S" greeting
expect 0 --json stats "$S";    json 'd["generation"] >= 1'
expect 2 destroy "$S";         err_has 'refusing without confirmation'
[ -e "/dev/shm/$S" ] && ok || bad "destroy without confirmation removed the segment"
expect 0 destroy "$S" -y
[ ! -e "/dev/shm/$S" ] && ok || bad "destroy --yes left the segment"
expect 3 info "$S"

# ---- check on corrupted segments -----------------------------------------

expect 0 create "$C" --capacity 1024 --memory 256K --max-value 4K
i=0
while [ $i -lt 80 ]; do printf 'value-%s-%0100d' $i 0; i=$((i + 1)); echo; done >"$TMP/vals"
i=0
while read -r v; do "$TOOL" set "$C" "k$i" "$v" >/dev/null || bad "fill k$i"; i=$((i + 1)); done <"$TMP/vals"
expect 0 check "$C"
size=$(wc -c <"/dev/shm/$C")
# 0xff over the middle third: index slots and item memory.
head -c $((size / 3)) /dev/zero | tr '\000' '\377' |
    dd of="/dev/shm/$C" bs=4096 seek=$((size / 3 / 4096)) conv=notrunc 2>/dev/null
expect 1 check "$C"
out_has "^$C: [0-9]+ problems?$"
[ "$(wc -l <"$TMP/out")" -ge 2 ] && ok || bad "check printed no problem line"
expect 1 --json check "$C"
json 'd["ok"] is False and d["problem_count"] >= 1 and len(d["problems"]) == d["problem_count"] and all(isinstance(p, str) and p for p in d["problems"])'
# Reading a corrupted segment fails cleanly or not at all: never a crash.
for cmd in keys stats info dump; do
    run "$cmd" "$C"
    [ "$rc" -le 1 ] && ok || bad "$cmd on a corrupted segment exited $rc: $(cat "$TMP/err")"
done
run get "$C" k5
[ "$rc" -le 1 ] && ok || bad "get on a corrupted segment exited $rc"
# A damaged header: the segment cannot be attached at all.
printf 'XXXXXXXX' | dd of="/dev/shm/$C" bs=1 seek=0 conv=notrunc 2>/dev/null
expect 3 check "$C";           err_has "cannot open $C: "
expect 3 info "$C"
expect 0 list
if grep -q "^$C " "$TMP/out"; then bad "list shows a segment with a broken magic"; else ok; fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
