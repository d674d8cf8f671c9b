"""python -m shmcache --version: the package's and the library's versions,
and where the package was imported from (to check which install a venv
uses)."""
import argparse
import os
import sys

import shmcache


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m shmcache",
                                 description="shmcache Python package")
    ap.add_argument("--version", action="store_true",
                    help="print the versions and the package's location")
    args = ap.parse_args(argv)
    if not args.version:
        ap.print_help()
        return 0
    print("shmcache %s (library %s) at %s" % (
        shmcache.__version__, shmcache.LIBRARY_VERSION,
        os.path.dirname(os.path.abspath(shmcache.__file__))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
