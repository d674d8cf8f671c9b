"""Tests of the shmcache Python binding and Django backend (unittest).

Run with `make test-python` (PYTHONPATH=build/python /usr/bin/python3 -m
unittest discover -s python/tests -t python -v).

unittest puts the top-level directory (python/) first on sys.path, where
python/shmcache is the source package without its compiled extension; the
built package (build/python, from PYTHONPATH or found beside the sources)
must win, so it is moved to the front before anything imports shmcache.
"""
import itertools
import os
import sys


def _prefer_built_package():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    cands = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    cands.append(os.path.join(root, "build", "python"))
    for p in reversed(cands):
        p = os.path.abspath(p)
        if os.path.isdir(os.path.join(p, "shmcache")):
            if p in sys.path:
                sys.path.remove(p)
            sys.path.insert(0, p)


_prefer_built_package()

_seq = itertools.count()


def segment_name(tag):
    """A segment name unique to this process and call."""
    return "pyt_%s_%d_%d" % (tag, os.getpid(), next(_seq))
