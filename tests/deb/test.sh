#!/bin/sh
# The Debian packages as a user gets them: list each with dpkg -c, check the
# files each must carry, unpack all four into a fresh root (dpkg -x, no
# system change), then build a program there with
# `pkg-config --cflags --libs shmcache` and run it against the unpacked
# shared library; and import the Python module from the unpacked tree.
# Usage: tests/deb/test.sh DEB_DIR VERSION
set -eu
dir=$1 version=$2
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
fail() { echo "FAIL deb: $*" >&2; exit 1; }

deb() { set -- "$dir"/"$1"_"$version"_*.deb; [ -f "$1" ] || fail "no $1"; echo "$1"; }
lib=$(deb libshmcache0) dev=$(deb libshmcache-dev) tools=$(deb shmcache-tools) py=$(deb python3-shmcache)

# what each package must hold
has() { pkg=$1; shift; for f in "$@"; do
          dpkg -c "$pkg" | awk '{print $6}' | grep -qx "./$f" || fail "$(basename "$pkg") lacks $f"; done; }
for p in "$lib" "$dev" "$tools" "$py"; do echo "== dpkg -c $(basename "$p")"; dpkg -c "$p"; done
has "$lib" "usr/lib/$multiarch/libshmcache.so.$version" "usr/lib/$multiarch/libshmcache.so.0"
has "$dev" usr/include/shmcache.h "usr/lib/$multiarch/libshmcache.so" "usr/lib/$multiarch/libshmcache.a" \
    "usr/lib/$multiarch/pkgconfig/shmcache.pc"
has "$tools" usr/bin/shmcache-tool usr/share/man/man1/shmcache-tool.1.gz
dpkg -c "$py" | awk '{print $6}' | grep -q '^./usr/lib/python3/dist-packages/shmcache/_shmcache\..*\.so$' \
    || fail "python3-shmcache lacks the extension"
has "$py" usr/lib/python3/dist-packages/shmcache/__init__.py

root=$(mktemp -d)
shm="/shmc-deb-test-$$"
trap 'rm -rf "$root"; rm -f "/dev/shm$shm"' EXIT
for p in "$lib" "$dev" "$tools" "$py"; do dpkg -x "$p" "$root"; done

# The .pc says prefix=/usr; point pkg-config at the unpacked root.
cat > "$root/prog.c" <<'PROG'
#include <shmcache.h>
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv)
{
    shmc_t *c;
    char buf[16];
    size_t len = 0;
    if (argc < 2 || shmc_open(argv[1], SHMC_CREATE | SHMC_EXCL, NULL, &c) != 0)
        return 2;
    if (shmc_set(c, "k", 1, "installed", 9, 0, 0) != 0 ||
        shmc_get(c, "k", 1, buf, sizeof buf, &len, NULL) != 0 ||
        len != 9 || memcmp(buf, "installed", 9) != 0)
        return 3;
    printf("%s %.*s\n", SHMC_VERSION_STRING, (int)len, buf);
    shmc_close(c);
    return shmc_unlink(argv[1]) == 0 ? 0 : 4;
}
PROG
flags=$(PKG_CONFIG_SYSROOT_DIR="$root" PKG_CONFIG_LIBDIR="$root/usr/lib/$multiarch/pkgconfig:/usr/lib/$multiarch/pkgconfig:/usr/share/pkgconfig" \
        pkg-config --cflags --libs shmcache)
echo "== pkg-config --cflags --libs shmcache: $flags"
# shellcheck disable=SC2086
cc -Wall -Werror -o "$root/prog" "$root/prog.c" $flags
out=$(LD_LIBRARY_PATH="$root/usr/lib/$multiarch" "$root/prog" "$shm") || fail "program exited $?"
[ "$out" = "$version installed" ] || fail "program printed '$out'"
LD_LIBRARY_PATH="$root/usr/lib/$multiarch" ldd "$root/prog" | grep -q "$root/usr/lib/$multiarch/libshmcache.so.0" \
    || fail "program is not linked against the unpacked libshmcache.so.0"
echo "== program built with pkg-config ran: $out"

# The tool and the extension use the unpacked libshmcache.so.0, not a copy.
LD_LIBRARY_PATH="$root/usr/lib/$multiarch" ldd "$root/usr/bin/shmcache-tool" \
    | grep -q "$root/usr/lib/$multiarch/libshmcache.so.0" || fail "shmcache-tool is not linked against libshmcache.so.0"
LD_LIBRARY_PATH="$root/usr/lib/$multiarch" "$root/usr/bin/shmcache-tool" --version \
    | grep -qx "shmcache-tool $version" || fail "shmcache-tool --version"
v=$(LD_LIBRARY_PATH="$root/usr/lib/$multiarch" PYTHONPATH="$root/usr/lib/python3/dist-packages" \
    python3 -c 'import shmcache; print(shmcache.__version__)')
[ "$v" = "$version" ] || fail "python module says $v"
echo "== shmcache-tool and the python module run from the unpacked root"
echo "deb: 1 passed, 0 failed"
