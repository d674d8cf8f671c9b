#!/bin/sh
# tests/tool/test_hardening.sh - the tool's side of issue 14: create errors
# that name the constraint, the numbers and the option to change; check
# --repair on a stripe whose lock is corrupt; info's count of skipped slots.
#
# Run by `make test` as: TOOL=build/shmcache-tool BUILD=build sh tests/tool/test_hardening.sh
set -u
TOOL=${TOOL:-build/shmcache-tool}
case $TOOL in /*) ;; *) TOOL=$(pwd)/$TOOL ;; esac
[ -x "$TOOL" ] || { echo "no tool at $TOOL" >&2; exit 1; }
PY=$(python3 -c 'import sys; print(sys.executable)') || { echo "python3 is needed" >&2; exit 1; }
P=shmc-hardtest-$$
TMP=$(mktemp -d "${TMPDIR:-/tmp}/shmc-hardtest.XXXXXX")
cleanup() { rm -f /dev/shm/$P-*; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 1' INT TERM
. "$(dirname "$0")/checks.inc"

# ---- create: the constraint, the numbers, the fix ----------------------
expect 2 create "/$P-x" --memory 1M
err_has 'max value 1\.00 MiB does not fit a stripe of 1\.00 MiB'
err_has 'raise --memory or lower --max-value$'
[ ! -e "/dev/shm/$P-x" ] && ok || bad "a failed create left /dev/shm/$P-x"
expect 2 create "/$P-x" --memory 1M --max-value 300K --stripes 4
err_has 'max value 300\.00 KiB does not fit a stripe of 256\.00 KiB'
err_has 'over 4 stripes'
err_has 'raise --memory or lower --max-value or --stripes$'
expect 0 create "/$P-x" --memory 4M --max-value 4K
expect 3 create "/$P-x" --memory 4M --max-value 4K
err_has 'exists'

# ---- info: slots it could not read are counted --------------------------
expect 0 set "/$P-x" a b
expect 0 info "/$P-x";            out_has '^skipped +0 slots$'
expect 0 info "/$P-x" --json;     json 'd["invalidation"]["skipped_slots"] == 0'

# ---- check --repair ------------------------------------------------------
expect 2 check "/$P-x" --force;   err_has 'only goes with --repair'
expect 0 check "/$P-x" --repair;  out_has '0 stripes repaired'; out_has ': ok$'
# Overwrite the kind of stripe 0's lock (glibc x86-64 pthread_mutex_t: the
# kind is the int at byte 16; stripes_off is the u64 at byte 88 of the
# header, docs/FORMAT.md): the lock is no longer robust, so it is corrupt.
"$PY" - "/dev/shm/$P-x" <<'PYEOF'
import struct, sys
with open(sys.argv[1], "r+b") as f:
    f.seek(88)
    off = struct.unpack("<Q", f.read(8))[0]
    f.seek(off + 16)
    f.write(struct.pack("<I", 0x7fff0000))
PYEOF
expect 1 check "/$P-x";           out_has 'stripe 0: lock not obtained: the lock is corrupt .*check --repair rebuilds it'
expect 0 check "/$P-x" --repair;  out_has 'stripe 0: lock rebuilt, its entries dropped'
                                  out_has '1 stripe repaired'; out_has ': ok$'
expect 0 check "/$P-x" --repair --json
json 'd["ok"] and d["stripes_repaired"] == 0'
expect 0 set "/$P-x" a b
expect 0 get "/$P-x" a;           out_is 'b'

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
