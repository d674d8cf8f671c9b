#!/usr/bin/python3
"""make e2e: the shop under Debian's gunicorn (4 pre-fork sync workers; or
uwsgi, --servers uwsgi),
loaded by Debian's wrk, with four cache backends in turn: LocMemCache,
shmcache's ShmCache, Django's PyMemcacheCache (memcached) and django-redis
(Redis).  For each backend: requests/s and p99 latency of the page views
(wrk), and stale reads counted by a checking client that runs alongside.

    /usr/bin/python3 examples/django_shop/e2e.py [--seconds 10] [--backends ...]
        [--servers gunicorn,uwsgi] [--rounds N]

The checking client (threads of this process) loops over products: GET the
product (so the worker that serves it has it cached), POST an update, wait
for its response ("v<new version>"), then GET the product CHECK_READS times;
every one of those GETs that answers an older version is a stale read.  A
new TCP connection per request, as gunicorn's sync workers close each one,
so the GETs land on whichever worker accepts them.

memcached, redis-server and gunicorn listen on 127.0.0.1 on free ports and
are stopped by PID (try/finally, atexit, SIGTERM/SIGHUP); the SQLite file
and the shmcache segment are removed at the end.
"""
import argparse
import http.client
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "bench"))
import loopback  # noqa: E402  (bench/loopback.py: servers on 127.0.0.1, stopped by PID)
PY = "/usr/bin/python3"
BACKENDS = ("locmem", "shmcache", "pymemcache", "redis")
LABEL = {"locmem": "LocMemCache", "shmcache": "ShmCache",
         "pymemcache": "PyMemcacheCache", "redis": "django-redis"}
PRODUCTS = 200
CHECK_READS = 4

def request(port, method, path, timeout=30, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path)
        r = c.getresponse()
        body = r.read()
        if headers is not None:
            headers.update(r.getheaders())
        return r.status, body
    finally:
        c.close()


def wait_workers(port, workers, timeout=120.0):
    """Until every worker has answered (each one imports Django when it
    boots, seconds on a loaded machine, and would otherwise boot inside the
    measurement): rounds of 2*workers concurrent GETs, each worker says its
    pid in X-Worker."""
    seen = set()
    deadline = time.monotonic() + timeout

    def one():
        h = {}
        try:
            request(port, "GET", "/product/1/", headers=h)
        except OSError:
            return
        if "X-Worker" in h:
            seen.add(h["X-Worker"])

    while len(seen) < workers:
        if time.monotonic() > deadline:
            raise RuntimeError("only %d of %d workers answered" % (len(seen), workers))
        ts = [threading.Thread(target=one) for _ in range(2 * workers)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()


_VERSION = re.compile(rb" v(\d+)\n\Z")


def version_of(status, body):
    m = _VERSION.search(body) if status == 200 else None
    if not m:
        raise RuntimeError("unexpected answer %d %r" % (status, body[:200]))
    return int(m.group(1))


class Checker(threading.Thread):
    """Update, then read back: counts reads older than the update's answer."""

    def __init__(self, port, products, stop):
        super().__init__(daemon=True)
        self.port, self.products, self.stop = port, products, stop
        self.updates = self.reads = self.stale = self.errors = 0
        self.error = None

    def run(self):
        i = 0
        while not self.stop.is_set():
            pid = self.products[i % len(self.products)]
            i += 1
            try:
                version_of(*request(self.port, "GET", "/product/%d/" % pid))
                new = version_of(*request(self.port, "POST", "/product/%d/update/" % pid))
                self.updates += 1
                for _ in range(CHECK_READS):
                    got = version_of(*request(self.port, "GET", "/product/%d/" % pid))
                    self.reads += 1
                    if got < new:
                        self.stale += 1
            except Exception as e:  # counted and shown; the run goes on
                self.errors += 1
                self.error = repr(e)
                time.sleep(0.05)


def run_wrk(port, seconds, connections, threads):
    argv = ["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % seconds, "--latency",
            "-s", os.path.join(HERE, "page.lua"), "http://127.0.0.1:%d/" % port]
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    p99 = float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = int(bad.group(1)) if bad else 0
    sockerr = sum(map(int, sock.groups())) if sock else 0
    return rps, p99, non2xx, sockerr, out


def migrate(env):
    subprocess.run([PY, "manage.py", "migrate", "-v", "0"], cwd=HERE, env=env, check=True)


def server_argv(server, port, args):
    if server == "gunicorn":
        return [args.gunicorn, "--workers", str(args.workers), "--worker-class", "sync",
                "--bind", "127.0.0.1:%d" % port, "--chdir", HERE, "--log-level", "warning",
                "shop.wsgi:application"]
    # Debian's uwsgi-core + uwsgi-plugin-python3: pre-fork workers speaking
    # HTTP themselves; the app loaded in each worker (as gunicorn does);
    # SIGTERM stops it (uwsgi's default is to reload).  Its http-socket
    # closes every connection without saying so: "Connection: close" tells
    # wrk, which would count each close as a read error.
    return ["uwsgi", "--plugin", "python3", "--http-socket", "127.0.0.1:%d" % port,
            "--master", "--processes", str(args.workers), "--lazy-apps", "--need-app",
            "--die-on-term", "--disable-logging", "--add-header", "Connection: close",
            "--chdir", HERE,
            "--module", "shop.wsgi:application"]


def run_backend(server, kind, location, args, base_env, log):
    env = dict(base_env, SHOP_CACHE=kind, SHOP_CACHE_LOCATION=location)
    port = loopback.free_port()
    srv = loopback.start(server_argv(server, port, args), port, env=env, cwd=HERE, log=log)
    try:
        # warm-up: every worker has booted, then fills its cache
        wait_workers(port, args.workers)
        run_wrk(port, args.warmup, args.connections, 1)
        stop = threading.Event()
        products = list(range(1, PRODUCTS + 1, 7))
        checkers = [Checker(port, products[j::args.checkers], stop)
                    for j in range(args.checkers)]
        for c in checkers:
            c.start()
        try:
            rps, p99, non2xx, sockerr, out = run_wrk(port, args.seconds, args.connections, 1)
        finally:
            stop.set()
            for c in checkers:
                c.join(30)
        res = {
            "rps": rps, "p99": p99, "non2xx": non2xx, "sockerr": sockerr,
            "updates": sum(c.updates for c in checkers),
            "reads": sum(c.reads for c in checkers),
            "stale": sum(c.stale for c in checkers),
            "check_errors": sum(c.errors for c in checkers),
            "last_error": next((c.error for c in checkers if c.error), None),
        }
        if args.verbose:
            print(out, file=sys.stderr)
        return res
    finally:
        loopback.stop(srv)


def merge(old, new):
    """Rounds of one backend: the best round's req/s and p99, the sums of
    what the checker counted."""
    if old is None:
        return new
    best = new if new["rps"] > old["rps"] else old
    out = dict(best)
    for f in ("non2xx", "sockerr", "updates", "reads", "stale", "check_errors"):
        out[f] = old[f] + new[f]
    out["last_error"] = new["last_error"] or old["last_error"]
    return out


def report(results, args):
    import django
    print()
    print("%s, %d workers; wrk 1 thread %d connections %d s%s; Django %s, %d CPUs"
          % ("/".join(sorted({v for v, _ in results})), args.workers, args.connections,
             args.seconds, ", best of %d rounds" % args.rounds if args.rounds > 1 else "",
             django.get_version(), os.cpu_count()))
    print("page view: 20 products through the cache; checker: update then %d reads"
          % CHECK_READS)
    print()
    print("%-10s %-16s %9s %9s %8s %7s %12s %7s" % ("server", "backend", "req/s", "p99 ms",
                                                    "updates", "reads", "stale reads",
                                                    "errors"))
    for (v, k), r in results.items():
        print("%-10s %-16s %9.1f %9.2f %8d %7d %12d %7d"
              % (v, LABEL[k], r["rps"], r["p99"], r["updates"], r["reads"], r["stale"],
                 r["non2xx"] + r["check_errors"]))
    print("(errors: non-2xx answers to wrk, failed checker requests)")
    for (v, k), r in results.items():
        if r["sockerr"]:
            print("note: %s/%s: %d wrk socket errors (timeouts of a loaded machine?)"
                  % (v, LABEL[k], r["sockerr"]))
    for (v, k), r in results.items():
        if r["last_error"]:
            print("note: %s/%s checker error: %s" % (v, LABEL[k], r["last_error"]))
    for (v, k), r in results.items():
        if k == "locmem" and not r["stale"]:
            print("note: %s/LocMemCache showed no stale read: the check saw no staleness "
                  "this run (too few updates?)" % v)
    for (v, k), shm in results.items():
        if k != "shmcache":
            continue
        print()
        for (v2, k2), r in results.items():
            if v2 == v and k2 != k:
                print("%s: ShmCache req/s vs %-16s %6.2fx"
                      % (v, LABEL[k2], shm["rps"] / r["rps"] if r["rps"] else float("inf")))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=10, help="wrk run per backend (default 10)")
    ap.add_argument("--backends", default=",".join(BACKENDS),
                    help="comma-separated, of %s" % ", ".join(BACKENDS))
    ap.add_argument("--workers", type=int, default=4, help="gunicorn sync workers (4)")
    ap.add_argument("--connections", type=int, default=8, help="wrk connections (8)")
    ap.add_argument("--warmup", type=int, default=2, help="wrk s before measuring (2)")
    ap.add_argument("--checkers", type=int, default=2, help="checking client threads (2)")
    ap.add_argument("--pythonpath", default=os.path.join(TOP, "build", "python"),
                    help="where the shmcache package is (default build/python)")
    ap.add_argument("--gunicorn", default=shutil.which("gunicorn") or "gunicorn")
    ap.add_argument("--servers", default="gunicorn",
                    help="comma-separated, of gunicorn, uwsgi (default gunicorn)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="runs of every backend, taken in turn; the best req/s is "
                         "reported, stale reads and errors are summed (default 1)")
    ap.add_argument("--verbose", action="store_true", help="print wrk's output")
    args = ap.parse_args()
    kinds = [k for k in args.backends.split(",") if k]
    for k in kinds:
        if k not in BACKENDS:
            ap.error("unknown backend %r" % k)
    servers = [v for v in args.servers.split(",") if v]
    for v in servers:
        if v not in ("gunicorn", "uwsgi"):
            ap.error("unknown server %r" % v)
    loopback.stop_on_signals()

    tmp = tempfile.mkdtemp(prefix="django_shop_")
    segment = "django_shop_e2e_%d" % os.getpid()
    base_env = dict(os.environ, SHOP_DB=os.path.join(tmp, "shop.sqlite3"),
                    PYTHONPATH=os.pathsep.join(
                        p for p in (args.pythonpath, HERE, os.environ.get("PYTHONPATH")) if p),
                    PYTHONDONTWRITEBYTECODE="1")
    results = {}
    log = open(os.path.join(tmp, "servers.log"), "w+")
    try:
        migrate(dict(base_env, SHOP_CACHE="locmem"))
        locations = {"locmem": "shop", "shmcache": segment}
        if "pymemcache" in kinds:
            locations["pymemcache"] = "127.0.0.1:%d" % loopback.start_memcached(threads=2)[1]
        if "redis" in kinds:
            locations["redis"] = "redis://127.0.0.1:%d/0" % loopback.start_redis()[1]
        for rnd in range(args.rounds):
            for v in servers:
                for k in kinds:
                    print("== round %d: %s under %s, %d workers, wrk %d s"
                          % (rnd + 1, LABEL[k], v, args.workers, args.seconds),
                          file=sys.stderr, flush=True)
                    r = run_backend(v, k, locations[k], args, base_env, log)
                    results[(v, k)] = merge(results.get((v, k)), r)
    except Exception:
        log.seek(0)
        sys.stderr.write(log.read()[-4000:])
        raise
    finally:
        loopback.stop_all()
        log.close()
        sys.path.insert(0, args.pythonpath)
        try:
            import shmcache
            shmcache.unlink(segment)
        except Exception:
            pass
        shutil.rmtree(tmp, ignore_errors=True)

    report(results, args)
    shm_stale = sum(r["stale"] for (v, k), r in results.items() if k == "shmcache")
    # Fails on wrong answers and on a stale ShmCache read, never on speed.
    failed = any(r["non2xx"] or r["check_errors"] for r in results.values())
    return 1 if failed or shm_stale else 0


if __name__ == "__main__":
    sys.exit(main())
