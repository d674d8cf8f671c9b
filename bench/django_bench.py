#!/usr/bin/python3
"""Django cache backends, get/set per second through Django's cache API.

    PYTHONPATH=build/python /usr/bin/python3 bench/django_bench.py [--quick]

Backends: shmcache.django.ShmCache, Django's LocMemCache and PyMemcacheCache
(pymemcache against a memcached started here), django-redis's RedisCache
(against a redis-server started here). Servers listen on 127.0.0.1 only, on
a random free port, and are always stopped (try/finally, atexit, SIGTERM).

One process, one thread, N keys with a small dict value (pickled by every
backend; ~120 bytes), gets that hit, sets that overwrite. Each measurement
takes rounds of 0.1 s in turn over the backends (so all of them meet the same
disturbances on a shared machine) for --seconds per backend (default 2.5;
--quick 0.3) and reports each one's best round: ~30 s in all (~5 s with
--quick). Prints ops/s and ratios.
"""
import argparse
import atexit
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BUILT = os.path.join(HERE, "..", "build", "python")
if os.path.isdir(os.path.join(BUILT, "shmcache")):
    sys.path.insert(0, os.path.abspath(BUILT))

_servers = []


def _stop_servers():
    while _servers:
        p = _servers.pop()
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


atexit.register(_stop_servers)


def _on_signal(signum, frame):
    _stop_servers()
    sys.exit(128 + signum)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.02)
    return False


def start_server(argv, port):
    if not shutil.which(argv[0]):
        return None, "%s not installed" % argv[0]
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _servers.append(p)
    if not wait_port(port, p):
        return None, "%s did not start" % argv[0]
    return p, None


def start_memcached():
    port = free_port()
    argv = ["memcached", "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", "64", "-t", "1"]
    if os.geteuid() == 0:
        argv += ["-u", "nobody"]
    p, err = start_server(argv, port)
    return port, err


def start_redis():
    port = free_port()
    argv = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
            "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes"]
    p, err = start_server(argv, port)
    return port, err


def one_round(fn, keys, length=0.1):
    """Calls of fn(key) per second over one round of at least `length` s
    (whole passes over the keys)."""
    n = 0
    t0 = time.perf_counter()
    while True:
        for k in keys:
            fn(k)
        n += len(keys)
        t = time.perf_counter()
        if t - t0 >= length:
            return n / (t - t0)


def measure_all(fns, keys, seconds):
    """{name: best calls/s} for fns {name: fn}: rounds of 0.1 s taken in
    turn (round-robin over the backends, so that every backend meets the
    same disturbances from other processes of a shared machine) for
    `seconds` per backend; the best round of each is kept."""
    best = dict.fromkeys(fns, 0.0)
    for fn in fns.values():  # warm-up
        one_round(fn, keys, 0.02)
    end = time.perf_counter() + seconds * len(fns)
    while time.perf_counter() < end:
        for name, fn in fns.items():
            best[name] = max(best[name], one_round(fn, keys))
    return best


def run_benchmarks(caches, names, keys, value, seconds, notes):
    ok = []
    for name in names:
        c = caches[name]
        try:
            for k in keys:  # every get below hits
                c.set(k, value)
            miss = sum(1 for k in keys if c.get(k) is None)
            if miss:
                raise RuntimeError("%d of %d gets missed" % (miss, len(keys)))
            ok.append(name)
        except Exception as e:  # a broken peer must not hide the others
            notes.append("%s failed: %r" % (name, e))
    gets = measure_all({n: caches[n].get for n in ok}, keys, seconds)
    print("  gets done", file=sys.stderr, flush=True)

    def setter(c):
        s = c.set
        return lambda k: s(k, value)

    sets = measure_all({n: setter(caches[n]) for n in ok}, keys, seconds)
    print("  sets done", file=sys.stderr, flush=True)
    return {n: (gets[n], sets[n]) for n in ok}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="~5 s in all")
    ap.add_argument("--seconds", type=float, default=None, help="per measurement (default 2.5)")
    ap.add_argument("--keys", type=int, default=1000)
    ap.add_argument("--only", default="", help="comma-separated backend names to run")
    args = ap.parse_args()
    seconds = args.seconds or (0.3 if args.quick else 2.5)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)

    import django
    from django.conf import settings

    seg = "django_bench_%d" % os.getpid()
    caches_cfg = {
        "ShmCache": {
            "BACKEND": "shmcache.django.ShmCache",
            "LOCATION": seg,
            "OPTIONS": {"CAPACITY": 16384, "MEMORY": 16 << 20, "MAX_VALUE_LEN": 64 << 10},
        },
        "LocMemCache": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "bench",
            "OPTIONS": {"MAX_ENTRIES": args.keys * 4},
        },
    }
    notes = []
    only = set(filter(None, args.only.split(",")))
    try:
        if not only or "PyMemcacheCache" in only:
            port, err = start_memcached()
            if err:
                notes.append("PyMemcacheCache skipped: " + err)
            else:
                caches_cfg["PyMemcacheCache"] = {
                    "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
                    "LOCATION": "127.0.0.1:%d" % port,
                }
        if not only or "RedisCache" in only:
            port, err = start_redis()
            if err:
                notes.append("RedisCache skipped: " + err)
            else:
                caches_cfg["RedisCache"] = {
                    "BACKEND": "django_redis.cache.RedisCache",
                    "LOCATION": "redis://127.0.0.1:%d/0" % port,
                    "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"},
                }
        settings.configure(CACHES=dict(caches_cfg, default=caches_cfg["LocMemCache"]),
                           INSTALLED_APPS=[], USE_TZ=True)
        django.setup()
        from django.core.cache import caches

        keys = ["bench:key:%06d" % i for i in range(args.keys)]
        value = {"id": 12345, "name": "product name", "price": "19.99",
                 "tags": ["a", "b", "c"], "stock": 7, "descr": "x" * 20}
        names = [n for n in caches_cfg if not only or n in only]
        results = run_benchmarks(caches, names, keys, value, seconds, notes)
    finally:
        _stop_servers()
        try:
            import shmcache
            shmcache.unlink(seg)
        except Exception:
            pass

    print()
    print("Django %s, Python %s, %s, %d CPUs; %d keys, %.1f s per measurement"
          % (django.get_version(), platform.python_version(), platform.platform(),
             os.cpu_count(), args.keys, seconds))
    print()
    print("%-16s %12s %12s %10s %10s" % ("backend", "get/s", "set/s", "get/LocMem", "set/LocMem"))
    base = results.get("LocMemCache")
    for name, (g, s) in results.items():
        rg = "%9.2fx" % (g / base[0]) if base else "-"
        rs = "%9.2fx" % (s / base[1]) if base else "-"
        print("%-16s %12s %12s %10s %10s" % (name, "{:,.0f}".format(g), "{:,.0f}".format(s), rg, rs))
    shm = results.get("ShmCache")
    if shm:
        print()
        print("%-26s %10s %10s" % ("ShmCache vs", "get", "set"))
        for name, (g, s) in results.items():
            if name != "ShmCache":
                print("%-26s %9.2fx %9.2fx" % (name, shm[0] / g, shm[1] / s))
    for n in notes:
        print("note:", n)
    return 0 if shm else 1


if __name__ == "__main__":
    sys.exit(main())
