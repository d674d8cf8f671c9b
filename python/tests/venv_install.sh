#!/bin/sh
# make test: the package installs the way Python users install things, with
# no network.  In a fresh venv of Debian's python3 (--system-site-packages:
# Debian's setuptools and wheel build the package; its Django serves the
# backend check): `pip install ./python`, `pip wheel ./python`,
# `python -m shmcache --version`, then a get/set and a Django cache call from
# the installed copy.  --no-index: pip contacts no index; --no-build-isolation:
# pip would otherwise fetch setuptools into an isolated build environment.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
PY=${PY:-/usr/bin/python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
"$PY" -m venv --system-site-packages "$tmp/venv"
vpy="$tmp/venv/bin/python"
pipq="$vpy -m pip --disable-pip-version-check --no-input --quiet"
$pipq install --no-build-isolation --no-index --no-deps "$top/python"
$pipq wheel --no-build-isolation --no-index --no-deps -w "$tmp/wheels" "$top/python"
cd "$tmp"   # nothing of the source tree on sys.path
out=$("$vpy" -m shmcache --version)
echo "$out"
case "$out" in
  "shmcache "*" at $tmp/venv/"*) ;;
  *) echo "venv_install: shmcache is not the venv's copy" >&2; exit 1 ;;
esac
"$vpy" - "$tmp/wheels" <<'PYEOF'
import asyncio, glob, os, sys, zipfile
wheels = glob.glob(os.path.join(sys.argv[1], "shmcache-*.whl"))
assert len(wheels) == 1, wheels
names = zipfile.ZipFile(wheels[0]).namelist()
assert any(n.startswith("shmcache/_shmcache") and n.endswith(".so") for n in names), names
assert "shmcache/django.py" in names and not any(n.endswith(".c") for n in names), names

import shmcache
seg = "venv_install_%d" % os.getpid()
try:
    c = shmcache.Cache(seg, capacity=1024, memory=4 << 20)
    c.set("k", b"v")
    assert c.get("k") == b"v"
    from django.conf import settings
    settings.configure(CACHES={"default": {"BACKEND": "shmcache.django.ShmCache",
                                           "LOCATION": seg}})
    import django
    django.setup()
    from django.core.cache import cache
    cache.set("dj", {"a": 1})
    assert asyncio.run(cache.aget("dj")) == {"a": 1}
finally:
    shmcache.unlink(seg)
print("venv_install: pip install, pip wheel and the installed package work")
PYEOF
