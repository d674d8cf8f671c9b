#!/bin/sh
# tests/tool/test_invalidate.sh - the invalidation commands of shmcache-tool
# against real segments: invalidate then get misses and get --stale serves
# the old value; set --tag and invalidate-tag (the tag's entries miss, the
# others stay); keys and keys --all showing stale, tagged, leased and
# placeholder states; info's invalidation section (text and JSON, checked by
# a parser); every field of stats; bad tags and other usage errors.
#
# Leases have no command of their own: a short python3 ctypes helper takes
# them through $BUILD/libshmcache.so (the library the tool is built from),
# and those checks are skipped, saying so, when that library cannot be used.
#
# Run by `make test` as: TOOL=build/shmcache-tool BUILD=build sh tests/tool/test_invalidate.sh
# Segments are named shmc-invtest-<pid>-* and removed on exit.
set -u

TOOL=${TOOL:-build/shmcache-tool}
BUILD=${BUILD:-build}
case $TOOL in /*) ;; *) TOOL=$(pwd)/$TOOL ;; esac
case $BUILD in /*) ;; *) BUILD=$(pwd)/$BUILD ;; esac
[ -x "$TOOL" ] || { echo "no tool at $TOOL" >&2; exit 1; }
# The interpreter itself, not a version-manager shim: each JSON check starts one.
PY=$(python3 -c 'import sys; print(sys.executable)') || { echo "python3 is needed" >&2; exit 1; }

P=shmc-invtest-$$
S=$P-main          # the segment most tests use
L=$P-lease         # leases, placeholders, lease_rejects
TMP=$(mktemp -d "${TMPDIR:-/tmp}/shmc-invtest.XXXXXX")

cleanup() {
    for n in "$S" "$L"; do rm -f "/dev/shm/$n"; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

. "$(dirname "$0")/checks.inc"

# keyrow KEY: the line of `keys` text output for KEY ("" when absent)
keyrow() { awk -v k="$1" '$NF == k' "$TMP/out"; }
# state_is KEY STATE: the state column of KEY's line is STATE
state_is() {
    got=$(keyrow "$1" | awk '{print $4}')
    if [ "$got" = "$2" ]; then ok; else bad "state of $1 is '$got', want '$2': $(cat "$TMP/out")"; fi
}

# ---- help and usage errors ----------------------------------------------

expect 0 --help;                   out_has '^  invalidate NAME KEY'; out_has '^  invalidate-tag NAME TAG'
expect 0 invalidate --help;        out_has '^usage: shmcache-tool invalidate NAME KEY'; out_has 'get --stale'; out_has -- '--escaped'
expect 0 invalidate-tag -h;        out_has '^usage: shmcache-tool invalidate-tag NAME TAG'; out_has -- '--escaped'
expect 0 help set;                 out_has -- '--tag'
expect 0 get -h;                   out_has -- '--stale'
expect 0 keys --help;              out_has -- '--all'; out_has 'tagged\(N\)'
expect 2 invalidate "$S";          err_has 'missing argument'; err_lines 1
expect 2 invalidate-tag "$S" a b;  err_has 'too many arguments'
expect 2 invalidate "$S" '';       err_has 'empty key'
expect 2 invalidate -e "$S" 'bad\q';   err_has 'malformed escape'
expect 2 invalidate-tag "$S" '';   err_has '^shmcache-tool: invalidate-tag: bad tag: empty'; err_lines 1
long=$("$PY" -c 'print("t" * 251)')
expect 2 invalidate-tag "$S" "$long";  err_has 'bad tag .*251 bytes, at most 250'; err_lines 1
expect 2 invalidate-tag -e "$S" 'a\x00b';  err_has 'cannot hold a NUL'
expect 2 set "$S" k v --tag '';    err_has 'bad tag: empty'
expect 2 set "$S" k v --tag "$long";   err_has 'at most 250'
expect 2 set "$S" k v --tag a --tag b --tag c --tag d --tag e;  err_has 'too many --tag options \(at most 4\)'
expect 2 set "$S" k v --tag;       err_has 'needs a value'
expect 2 add "$S" k v --tag a;     err_has 'does not apply'
expect 2 keys "$S" --stale;        err_has 'does not apply'
expect 2 get "$S" k --all;         err_has 'does not apply'
[ ! -e "/dev/shm/$S" ] && ok || bad "a usage error created $S"
expect 3 invalidate "$P-missing" k;        err_has "cannot open $P-missing: "; err_lines 1
expect 3 invalidate-tag "$P-missing" t;    err_has "cannot open $P-missing: "
# A tag of exactly 250 bytes is fine (the segment check comes after it).
expect 3 invalidate-tag "$P-missing" "$("$PY" -c 'print("t" * 250)')"

# ---- invalidate, get --stale --------------------------------------------

expect 0 create "$S" --capacity 1024 --memory 1M --max-value 64K
expect 0 set "$S" price 10 --flags 7 --ttl 1h
expect 0 set "$S" other keep
expect 0 invalidate "$S" price;    out_empty
expect 1 get "$S" price;           err_has 'price: no such key'; out_empty
expect 0 get "$S" price --stale;   out_is 10
expect 0 --json get --stale "$S" price
json 'd["key"] == "price" and d["value"] == "10" and d["stale"] is True and d["flags"] == 7 and d["size"] == 2'
expect 0 --json get --stale "$S" other
json 'd["value"] == "keep" and d["stale"] is False'
expect 0 --json get "$S" other;    json 'd["stale"] is False'
# Invalidating again, or a key that never was: nothing live, exit 1.
expect 1 invalidate "$S" price;    err_has '^shmcache-tool: invalidate price: no such key$'; err_lines 1
expect 1 invalidate "$S" nosuchkey;  err_has 'nosuchkey: no such key'; out_empty
expect 1 --json invalidate "$S" nosuchkey;  out_empty
expect 1 get --stale "$S" nosuchkey
# A new value makes the key live again; delete, unlike invalidate, leaves
# nothing for get --stale.
expect 0 set "$S" price 12
expect 0 get "$S" price;           out_is 12
expect 0 --json invalidate "$S" price
json 'd == {"key": "price", "invalidated": True}'
expect 0 get --stale "$S" price;   out_is 12
expect 0 set "$S" gone x
expect 0 --json delete "$S" gone;  json 'd == {"key": "gone", "deleted": True}'
expect 1 get --stale "$S" gone
expect 1 --json delete "$S" gone;  out_empty
# Binary keys with -e, JSON with key_b64.
expect 0 set -e "$S" 'bin\x00\xff' 'v\x01'
expect 0 --json invalidate -e "$S" 'bin\x00\xff'
json 'base64.b64decode(d["key_b64"]) == b"bin\x00\xff" and d["invalidated"] is True and "key" not in d'
expect 1 get -e "$S" 'bin\x00\xff'
expect 0 get -e --stale "$S" 'bin\x00\xff'
printf 'v\001' | cmp -s - "$TMP/out" && ok || bad "stale binary value differs"
# An expired entry is stale too, until reclaimed.
expect 0 set "$S" brief x --ttl 100ms
sleep 0.3
expect 1 get "$S" brief
expect 0 --json get --stale "$S" brief;  json 'd["value"] == "x" and d["stale"] is True'

# ---- set --tag, invalidate-tag ------------------------------------------

expect 0 set "$S" p:1 one --tag product:1 --tag category:7
expect 0 set "$S" p:2 two --tag product:2 --tag category:7
expect 0 set "$S" p:3 three --tag product:3 --tag category:8 --ttl 1h
expect 0 set "$S" p:4 four --tag a --tag b --tag c --tag d
expect 0 set -e "$S" 'tagged\x01' bin --tag 'bin\x02tag'
expect 0 get "$S" p:1;             out_is one
expect 0 keys "$S" 'p:*'
state_is p:1 'tagged(2)'; state_is p:3 'tagged(2)'; state_is p:4 'tagged(4)'
expect 0 keys "$S" other;          state_is other '-'
expect 0 --json keys "$S" 'p:*'
json 'all(k["state"] == ["tagged"] for k in d["keys"]) and sorted(k["ntags"] for k in d["keys"]) == [2, 2, 2, 4]'
expect 0 --json keys "$S" other;   json 'd["keys"][0]["state"] == [] and d["keys"][0]["ntags"] == 0'

expect 0 invalidate-tag "$S" category:7;  out_empty
expect 1 get "$S" p:1
expect 1 get "$S" p:2
expect 0 get "$S" p:3;             out_is three
expect 0 get "$S" p:4;             out_is four
expect 0 get "$S" other;           out_is keep
expect 0 get --stale "$S" p:1;     out_is one
expect 0 --json get --stale "$S" p:2;  json 'd["value"] == "two" and d["stale"] is True'
# A tag nothing was stored under: exit 0, nothing changes.
expect 0 --json invalidate-tag "$S" nobody:uses-this
json 'd == {"tag": "nobody:uses-this", "invalidated": True}'
expect 0 get "$S" p:3;             out_is three
# An escaped tag reaches the entries stored under the same bytes.
expect 0 get -e "$S" 'tagged\x01'; out_is bin
expect 0 --json invalidate-tag -e "$S" 'bin\x02tag'
json 'base64.b64decode(d["tag_b64"]) == b"bin\x02tag" and "tag" not in d'
expect 1 get -e "$S" 'tagged\x01'
# Storing again makes an entry live whatever happened to its tags before.
expect 0 set "$S" p:2 two-again --tag category:7
expect 0 get "$S" p:2;             out_is two-again
expect 0 invalidate-tag "$S" category:7
expect 1 get "$S" p:2

# ---- keys --all ---------------------------------------------------------

expect 0 keys "$S"
[ -z "$(keyrow p:1)" ] && ok || bad "plain keys lists the tag-invalidated p:1"
[ -z "$(keyrow price)" ] && ok || bad "plain keys lists the invalidated price"
state_is p:3 'tagged(2)'; state_is other '-'
expect 0 keys "$S" --all
state_is p:1 'stale,tagged(2)'; state_is p:2 'stale,tagged(1)'; state_is price 'stale'
state_is brief 'stale'; state_is p:3 'tagged(2)'; state_is other '-'
[ -z "$(keyrow gone)" ] && ok || bad "keys --all lists the deleted key"
out_has '^ +2 +- +0 stale +price$'
expect 0 keys -a "$S" 'p:*' --limit 2
[ "$(wc -l <"$TMP/out")" -eq 2 ] && ok || bad "keys --all --limit 2 gave $(wc -l <"$TMP/out") lines"
expect 0 --json keys --all "$S"
json 'next(k for k in d["keys"] if k.get("key") == "p:1")["state"] == ["stale", "tagged"]'
json 'next(k for k in d["keys"] if k.get("key") == "price")["state"] == ["stale"] and next(k for k in d["keys"] if k.get("key") == "price")["ntags"] == 0'
json 'next(k for k in d["keys"] if k.get("key") == "p:3")["state"] == ["tagged"]'
json 'd["truncated"] is False and d["count"] == len(d["keys"]) and all(set(k) >= {"size", "ttl_ms", "flags", "cas", "fetched", "state", "ntags"} for k in d["keys"])'
json 'any(k.get("key_b64") and base64.b64decode(k["key_b64"]) == b"bin\x00\xff" and k["state"] == ["stale"] for k in d["keys"])'

# ---- info, stats ---------------------------------------------------------

expect 0 info "$S"
out_has '^invalidation +leases [0-9]+ granted, [0-9]+ rejected as stale, [0-9]+ waits; [0-9]+ stale hits; [0-9]+ tag invalidations$'
out_has '^ +[0-9]+ stale entries, 0 lease placeholders, 0 leased, [0-9]+ tagged$'
out_has ' 4 tag invalidations$'
expect 0 --json info "$S"
json 'set(d["invalidation"]) == {"lease_grants", "lease_rejects", "lease_waits", "stale_hits", "tag_invalidations", "stale_entries", "lease_placeholders", "leased_entries", "tagged_entries", "skipped_slots"}'
json 'all(isinstance(v, int) and v >= 0 for v in d["invalidation"].values())'
# stale: price, brief, bin, p:1, p:2, tagged\x01; tagged: p:1..4, tagged\x01
json 'd["invalidation"]["tag_invalidations"] == 4 and d["invalidation"]["stale_entries"] == 6 and d["invalidation"]["tagged_entries"] == 5'
json 'd["invalidation"]["lease_placeholders"] == 0 and d["invalidation"]["leased_entries"] == 0'
json 'all(d["invalidation"][k] == d["stats"][k] for k in ("lease_grants", "lease_rejects", "lease_waits", "stale_hits", "tag_invalidations"))'
"$TOOL" --json info "$S" | "$PY" -m json.tool >/dev/null && ok || bad "info --json is not JSON"
expect 0 stats "$S"
for f in lease_grants lease_rejects lease_waits stale_hits tag_invalidations; do
    out_has "^$f [0-9]+$"
done
out_has '^tag_invalidations 4$'
# Every field of shmc_stats_t, as the header declares them.
"$PY" - "$TMP/out" "$(dirname "$0")/../../include/shmcache.h" <<'EOF' && ok || bad "stats does not print every field of shmc_stats_t"
import re, sys
names = [l.split()[0] for l in open(sys.argv[1])]
h = open(sys.argv[2]).read()
body = re.search(r'typedef struct shmc_stats \{(.*?)\} shmc_stats_t;', h, re.S).group(1)
body = re.sub(r'/\*.*?\*/', '', body, flags=re.S)
fields = re.findall(r'uint(?:32|64)_t\s+(\w+)\s*;', body)
assert fields and names == fields, (set(fields) ^ set(names))
EOF
expect 0 check "$S";               out_is "$S: ok"

# ---- leases (through the library), placeholders, lease_rejects ----------

# open SEG -: only attach and detach (can the library be used at all?)
# lease SEG KEY MS: take a lease on KEY for MS ms as another process would;
# prints the token (the lease outlives this process until it expires).
# setleased SEG KEY VALUE TOKEN: store under the lease; prints the result.
SO=$BUILD/libshmcache.so
lib() {
    pre=
    # A sanitizer build's library needs its runtime loaded first.
    asan=$(ldd "$SO" 2>/dev/null | awk '/libasan/ {print $3}')
    [ -n "$asan" ] && pre=$asan
    LD_PRELOAD=$pre ASAN_OPTIONS=detect_leaks=0 "$PY" - "$SO" "$@" <<'EOF'
import ctypes, sys
so, op, seg, key = sys.argv[1:5]
L = ctypes.CDLL(so)
h = ctypes.c_void_p()
r = L.shmc_open(seg.encode(), 0, None, ctypes.byref(h))
if r != 0:
    sys.exit("shmc_open: %d" % r)
k = key.encode()
if op == "lease":
    buf = ctypes.create_string_buffer(64)
    vlen = ctypes.c_size_t()
    tok = ctypes.c_uint64()
    r = L.shmc_get_or_lease(h, k, ctypes.c_size_t(len(k)), buf, ctypes.c_size_t(64), ctypes.byref(vlen),
                            None, ctypes.c_uint64(int(sys.argv[5])), ctypes.byref(tok))
    print(r, tok.value)
elif op == "setleased":
    v = sys.argv[5].encode()
    r = L.shmc_set_leased(h, k, ctypes.c_size_t(len(k)), v, ctypes.c_size_t(len(v)), ctypes.c_uint64(0),
                          ctypes.c_uint32(0), ctypes.c_uint64(int(sys.argv[6])))
    print(r)
L.shmc_close(h)
EOF
}

expect 0 create "$L" --capacity 1024 --memory 1M --max-value 64K
if [ ! -f "$SO" ]; then
    echo "no $SO: lease tests skipped" >&2
elif [ -n "$(find "$BUILD/obj" -name '*.o' -newer "$SO" 2>/dev/null)" ]; then
    echo "$SO is older than the library's objects (make lib): lease tests skipped" >&2
elif ! lib open "$L" - >"$TMP/lib" 2>"$TMP/liberr"; then
    echo "cannot use $SO from python3 ($(tail -n 1 "$TMP/liberr")): lease tests skipped" >&2
else
    # ENOENT is -2: a miss that hands out a lease. EBUSY: another holds it.
    enoent=$("$PY" -c 'import errno; print(-errno.ENOENT)')
    ebusy=$("$PY" -c 'import errno; print(-errno.EBUSY)')
    estale=$("$PY" -c 'import errno; print(-errno.ESTALE)')
    lib lease "$L" ph 60000 >"$TMP/lib"
    [ "$(cut -d' ' -f1 "$TMP/lib")" = "$enoent" ] && [ "$(cut -d' ' -f2 "$TMP/lib")" != 0 ] && ok ||
        bad "no lease on a missing key: $(cat "$TMP/lib")"
    lib lease "$L" ph 60000 >"$TMP/lib"
    [ "$(cut -d' ' -f1 "$TMP/lib")" = "$ebusy" ] && ok || bad "a second lease was granted: $(cat "$TMP/lib")"
    # A lease on an invalidated (stale) entry, then the tool kills it.
    expect 0 set "$L" hot old --tag shelf:1
    expect 0 invalidate "$L" hot
    lib lease "$L" hot 60000 >"$TMP/lib"
    tok=$(cut -d' ' -f2 "$TMP/lib")
    [ "$(cut -d' ' -f1 "$TMP/lib")" = "$enoent" ] && [ "$tok" != 0 ] && ok || bad "no lease on a stale key: $(cat "$TMP/lib")"

    expect 0 keys "$L"
    [ -z "$(keyrow ph)" ] && ok || bad "plain keys lists a placeholder"
    expect 0 keys --all "$L"
    state_is ph 'leased,novalue'; state_is hot 'stale,leased,tagged(1)'
    out_has '^ +0 +[0-9.]+s +0 leased,novalue +ph$'
    expect 0 --json keys --all "$L"
    json 'next(k for k in d["keys"] if k["key"] == "ph")["state"] == ["leased", "novalue"] and next(k for k in d["keys"] if k["key"] == "ph")["size"] == 0'
    json 'next(k for k in d["keys"] if k["key"] == "hot")["state"] == ["stale", "leased", "tagged"]'
    json '0 < next(k for k in d["keys"] if k["key"] == "ph")["ttl_ms"] <= 60000'
    expect 1 get "$L" ph
    expect 1 get --stale "$L" ph
    expect 0 get --stale "$L" hot;  out_is old
    expect 0 info "$L"
    out_has '^invalidation +leases 2 granted, 0 rejected as stale, 1 waits;'
    out_has '^ +1 stale entries, 1 lease placeholders, 2 leased, 1 tagged$'
    expect 0 --json info "$L"
    json 'd["invalidation"]["lease_grants"] == 2 and d["invalidation"]["lease_waits"] == 1 and d["invalidation"]["lease_placeholders"] == 1 and d["invalidation"]["leased_entries"] == 2 and d["invalidation"]["stale_entries"] == 1'

    # invalidate kills the lease: the worker's set is refused as stale.
    expect 1 invalidate "$L" hot;   err_has 'no such key'
    lib setleased "$L" hot computed-from-old-data "$tok" >"$TMP/lib"
    [ "$(cat "$TMP/lib")" = "$estale" ] && ok || bad "a killed lease still stored: $(cat "$TMP/lib")"
    expect 1 get "$L" hot
    expect 0 get --stale "$L" hot;  out_is old
    expect 0 keys --all "$L";       state_is hot 'stale,tagged(1)'
    # invalidate on a placeholder: nothing live (exit 1), the placeholder goes.
    expect 1 invalidate "$L" ph
    expect 0 keys --all "$L"
    [ -z "$(keyrow ph)" ] && ok || bad "invalidate left the placeholder: $(cat "$TMP/out")"
    # A tag invalidation between lease and set also refuses the set.
    lib lease "$L" hot 60000 >"$TMP/lib"
    tok=$(cut -d' ' -f2 "$TMP/lib")
    expect 0 invalidate-tag "$L" shelf:1
    lib setleased "$L" hot stale-again "$tok" >"$TMP/lib"
    [ "$(cat "$TMP/lib")" = "$estale" ] && ok || bad "set after invalidate-tag stored: $(cat "$TMP/lib")"
    expect 0 --json info "$L"
    json 'd["invalidation"]["lease_rejects"] == 2 and d["stats"]["lease_rejects"] == 2 and d["invalidation"]["tag_invalidations"] == 1'
    # An unspoilt lease stores, and the key is live again.
    lib lease "$L" fresh 60000 >"$TMP/lib"
    tok=$(cut -d' ' -f2 "$TMP/lib")
    lib setleased "$L" fresh new "$tok" >"$TMP/lib"
    [ "$(cat "$TMP/lib")" = 0 ] && ok || bad "a clean leased set failed: $(cat "$TMP/lib")"
    expect 0 get "$L" fresh;        out_is new
    expect 0 keys "$L" fresh;       state_is fresh '-'
    expect 0 check "$L";            out_is "$L: ok"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
