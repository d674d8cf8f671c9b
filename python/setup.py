"""Build of the extension shmcache._shmcache (the rest is in pyproject.toml).

The library's C sources (../shm/*.c, ../include/shmcache.h) are compiled
into the extension itself, so the installed package needs no libshmcache.so:
a venv or a wheel works on a machine where only liburcu (the near cache's
dependency, Debian's liburcu8) is installed.  Why not link an installed
libshmcache: the segment layout is checked at attach (ABI version and layout
fingerprint), so a binding built into the same wheel as the library can never
disagree with it about the header it was compiled against.

Outside a repository checkout (no ../shm), the extension is linked against
an installed libshmcache found with pkg-config instead (`make install` writes
shmcache.pc).
"""
import glob
import os
import re
import shlex
import subprocess

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
SHM = os.path.join(TOP, "shm")
INCLUDE = os.path.join(TOP, "include")

# C11 with the GNU extensions the library uses (as the Makefile builds it).
CFLAGS = ["-std=c11", "-D_GNU_SOURCE", "-pthread", "-fvisibility=hidden"]
URCU_LIBS = ["urcu-memb", "urcu-cds"]


def rel(path):
    # setuptools wants source paths relative to setup.py's directory
    return os.path.relpath(path, HERE)


def version_from_header(header):
    # The header writes the version once, as three numbers.
    with open(header, encoding="utf-8") as f:
        text = f.read()
    parts = [re.search(r"#define\s+SHMC_VERSION_%s\s+(\d+)" % p, text)
             for p in ("MAJOR", "MINOR", "PATCH")]
    if not all(parts):
        raise RuntimeError("SHMC_VERSION_MAJOR/MINOR/PATCH not found in %s" % header)
    return ".".join(m.group(1) for m in parts)


def pkg_config(*args):
    try:
        out = subprocess.run(["pkg-config", *args, "shmcache"], check=True,
                             capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise RuntimeError("no ../shm sources and no installed libshmcache "
                           "(pkg-config shmcache): %s" % e) from e
    return shlex.split(out)


def extension():
    binding = "shmcache/_shmcache.c"
    if os.path.isdir(SHM) and os.path.isfile(os.path.join(INCLUDE, "shmcache.h")):
        sources = [binding] + sorted(rel(p) for p in glob.glob(os.path.join(SHM, "*.c")))
        ext = Extension("shmcache._shmcache", sources=sources,
                        include_dirs=[rel(INCLUDE), rel(SHM)],
                        depends=[rel(p) for p in glob.glob(os.path.join(SHM, "*.h"))]
                        + [rel(os.path.join(INCLUDE, "shmcache.h"))],
                        extra_compile_args=CFLAGS, extra_link_args=["-pthread"],
                        libraries=URCU_LIBS)
        return ext, version_from_header(os.path.join(INCLUDE, "shmcache.h"))
    cflags = pkg_config("--cflags")
    libs = pkg_config("--libs", "--static")
    # found at run time where pkg-config found it (PREFIX may be anywhere)
    libs.append("-Wl,-rpath," + pkg_config("--variable=libdir")[0])
    version = pkg_config("--modversion")[0]
    ext = Extension("shmcache._shmcache", sources=[binding],
                    extra_compile_args=CFLAGS + cflags, extra_link_args=libs)
    return ext, version


ext, version = extension()
setup(version=version, ext_modules=[ext])
