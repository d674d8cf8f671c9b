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

Then Django's async API on ShmCache (--async-only: just that part): its
native coroutines (aget, aset, aget_many of 20 keys) against what Django's
BaseCache does by default: `await sync_to_async(self.get)(...)` for aget and
aset, and for aget_many one awaited aget per key (Django >= 4: BaseCache's
own methods on a subclass; on Django 3.2, which has no async cache API, the
same defaults written out here), one coroutine awaiting them in turn in an
asyncio loop.
"""
import argparse
import os
import platform
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BUILT = os.path.join(HERE, "..", "build", "python")
if os.path.isdir(os.path.join(BUILT, "shmcache")):
    sys.path.insert(0, os.path.abspath(BUILT))
sys.path.insert(0, HERE)
import loopback  # noqa: E402  (bench/loopback.py)



def start_memcached():
    try:
        return loopback.start_memcached()[1], None
    except RuntimeError as e:
        return None, str(e)


def start_redis():
    try:
        return loopback.start_redis()[1], None
    except RuntimeError as e:
        return None, str(e)


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


_ASYNC_BENCHED = ("aget", "aset", "aget_many")


def _with_sync_to_async_defaults(cls):
    """A subclass of the backend class *cls* whose aget, aset and aget_many
    are BaseCache's defaults: Django's own where it has them (>= 4.0), else
    written out as Django 4.x/5.x's are (aget/aset: one sync_to_async hop;
    aget_many: one awaited aget per key, as BaseCache has no batch)."""
    from django.core.cache.backends.base import BaseCache
    if hasattr(BaseCache, "aget"):
        return type(cls.__name__ + "Defaults", (cls,),
                    {name: getattr(BaseCache, name) for name in _ASYNC_BENCHED})
    from asgiref.sync import sync_to_async

    missing = object()

    class Defaults(cls):
        async def aget(self, key, default=None, version=None):
            return await sync_to_async(self.get, thread_sensitive=True)(key, default, version)

        async def aset(self, key, value, timeout=None, version=None):
            return await sync_to_async(self.set, thread_sensitive=True)(
                key, value, timeout, version)

        async def aget_many(self, keys, version=None):
            found = {}
            for key in keys:
                value = await self.aget(key, missing, version=version)
                if value is not missing:
                    found[key] = value
            return found

    return Defaults


def run_async_benchmark(cache, params, keys, value, seconds):
    """{op: (native calls/s, sync_to_async calls/s)} for aget, aset and
    aget_many (20 keys a call) on one cache (and a twin instance on the same
    segment with BaseCache's defaults), rounds taken in turn."""
    import asyncio

    twin = _with_sync_to_async_defaults(type(cache))(params["LOCATION"], params)
    default = {op: getattr(twin, op) for op in _ASYNC_BENCHED}
    for k in keys:
        cache.set(k, value)
    groups = [keys[i:i + 20] for i in range(0, len(keys) - 19, 20)]

    def make(fn, op):
        if op == "aget":
            async def loop_():
                for k in keys:
                    await fn(k)
                return len(keys)
        elif op == "aset":
            async def loop_():
                for k in keys:
                    await fn(k, value)
                return len(keys)
        else:
            async def loop_():
                for g in groups:
                    await fn(g)
                return len(groups)
        return loop_

    async def one_round(loop_, length=0.1):
        n = 0
        t0 = time.perf_counter()
        while True:
            n += await loop_()
            t = time.perf_counter()
            if t - t0 >= length:
                return n / (t - t0)

    async def measure():
        fns = {}
        for op in ("aget", "aset", "aget_many"):
            fns[(op, "native")] = make(getattr(cache, op), op)
            fns[(op, "sync_to_async")] = make(default[op], op)
        best = dict.fromkeys(fns, 0.0)
        for f in fns.values():  # warm-up (starts sync_to_async's thread)
            await one_round(f, 0.02)
        end = time.perf_counter() + seconds * len(fns)
        while time.perf_counter() < end:
            for name, f in fns.items():
                best[name] = max(best[name], await one_round(f))
        return best

    best = asyncio.run(measure())
    return {op: (best[(op, "native")], best[(op, "sync_to_async")])
            for op in ("aget", "aset", "aget_many")}


def print_async(results):
    print()
    print("ShmCache, Django's async API: native coroutines vs the sync_to_async defaults")
    print("%-22s %14s %16s %8s" % ("call", "native calls/s", "sync_to_async/s", "ratio"))
    for op, (nat, s2a) in results.items():
        label = op + ("(20 keys)" if op == "aget_many" else "")
        print("%-22s %14s %16s %7.1fx" % (label, "{:,.0f}".format(nat), "{:,.0f}".format(s2a),
                                           nat / s2a))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="~5 s in all")
    ap.add_argument("--seconds", type=float, default=None, help="per measurement (default 2.5)")
    ap.add_argument("--keys", type=int, default=1000)
    ap.add_argument("--only", default="", help="comma-separated backend names to run")
    ap.add_argument("--async-only", action="store_true",
                    help="only ShmCache's async API against the sync_to_async defaults")
    args = ap.parse_args()
    seconds = args.seconds or (0.3 if args.quick else 2.5)
    loopback.stop_on_signals()

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
    if args.async_only:
        only = {"ShmCache"}
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
        results = {}
        if not args.async_only:
            results = run_benchmarks(caches, names, keys, value, seconds, notes)
        async_results = run_async_benchmark(caches["ShmCache"], caches_cfg["ShmCache"], keys,
                                            value, seconds)
        print("  async done", file=sys.stderr, flush=True)
    finally:
        loopback.stop_all()
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
    print_async(async_results)
    for n in notes:
        print("note:", n)
    return 0 if shm or args.async_only else 1


if __name__ == "__main__":
    sys.exit(main())
