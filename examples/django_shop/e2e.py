#!/usr/bin/python3
"""make e2e: the shop under Debian's gunicorn (4 pre-fork sync workers),
loaded by Debian's wrk, with four cache backends in turn: LocMemCache,
shmcache's ShmCache, Django's PyMemcacheCache (memcached) and django-redis
(Redis).  For each backend: requests/s and p99 latency of the page views
(wrk), and stale reads counted by a checking client that runs alongside.

    /usr/bin/python3 examples/django_shop/e2e.py [--seconds 10] [--backends ...]

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
import atexit
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
PY = "/usr/bin/python3"
BACKENDS = ("locmem", "shmcache", "pymemcache", "redis")
LABEL = {"locmem": "LocMemCache", "shmcache": "ShmCache",
         "pymemcache": "PyMemcacheCache", "redis": "django-redis"}
PRODUCTS = 200
CHECK_READS = 4

_procs = []


def _stop(p, timeout=10):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _stop_all():
    while _procs:
        _stop(_procs.pop())


atexit.register(_stop_all)


def _on_signal(signum, frame):
    _stop_all()
    sys.exit(128 + signum)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def start(argv, port, env=None, cwd=None, log=None):
    p = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                         stdout=log or subprocess.DEVNULL, stderr=log or subprocess.DEVNULL)
    _procs.append(p)
    if not wait_port(port, p):
        _stop(p)
        raise RuntimeError("%s did not start on 127.0.0.1:%d" % (argv[0], port))
    return p


def start_memcached():
    port = free_port()
    argv = ["memcached", "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", "64", "-t", "2"]
    if os.geteuid() == 0:
        argv += ["-u", "nobody"]
    return start(argv, port), "127.0.0.1:%d" % port


def start_redis():
    port = free_port()
    argv = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
            "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes"]
    return start(argv, port), "redis://127.0.0.1:%d/0" % port


def request(port, method, path, timeout=30):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path)
        r = c.getresponse()
        body = r.read()
        return r.status, body
    finally:
        c.close()


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
    errors = (int(bad.group(1)) if bad else 0) + (sum(map(int, sock.groups())) if sock else 0)
    return rps, p99, errors, out


def migrate(env):
    subprocess.run([PY, "manage.py", "migrate", "-v", "0"], cwd=HERE, env=env, check=True)


def run_backend(kind, location, args, base_env, log):
    env = dict(base_env, SHOP_CACHE=kind, SHOP_CACHE_LOCATION=location)
    port = free_port()
    argv = [args.gunicorn, "--workers", str(args.workers), "--worker-class", "sync",
            "--bind", "127.0.0.1:%d" % port, "--chdir", HERE, "--log-level", "warning",
            "shop.wsgi:application"]
    gunicorn = start(argv, port, env=env, cwd=HERE, log=log)
    try:
        # warm-up: every worker imports Django and fills its cache
        run_wrk(port, 1, args.connections, 1)
        stop = threading.Event()
        products = list(range(1, PRODUCTS + 1, 7))
        checkers = [Checker(port, products[j::args.checkers], stop)
                    for j in range(args.checkers)]
        for c in checkers:
            c.start()
        try:
            rps, p99, errors, out = run_wrk(port, args.seconds, args.connections, 1)
        finally:
            stop.set()
            for c in checkers:
                c.join(30)
        res = {
            "rps": rps, "p99": p99, "wrk_errors": errors,
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
        _procs.remove(gunicorn)
        _stop(gunicorn)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=10, help="wrk run per backend (default 10)")
    ap.add_argument("--backends", default=",".join(BACKENDS),
                    help="comma-separated, of %s" % ", ".join(BACKENDS))
    ap.add_argument("--workers", type=int, default=4, help="gunicorn sync workers (4)")
    ap.add_argument("--connections", type=int, default=8, help="wrk connections (8)")
    ap.add_argument("--checkers", type=int, default=2, help="checking client threads (2)")
    ap.add_argument("--pythonpath", default=os.path.join(TOP, "build", "python"),
                    help="where the shmcache package is (default build/python)")
    ap.add_argument("--gunicorn", default=shutil.which("gunicorn") or "gunicorn")
    ap.add_argument("--verbose", action="store_true", help="print wrk's output")
    args = ap.parse_args()
    kinds = [k for k in args.backends.split(",") if k]
    for k in kinds:
        if k not in BACKENDS:
            ap.error("unknown backend %r" % k)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)

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
            locations["pymemcache"] = start_memcached()[1]
        if "redis" in kinds:
            locations["redis"] = start_redis()[1]
        for k in kinds:
            print("== %s: gunicorn %d workers, wrk %d s" % (LABEL[k], args.workers, args.seconds),
                  file=sys.stderr, flush=True)
            results[k] = run_backend(k, locations[k], args, base_env, log)
    except Exception:
        log.seek(0)
        sys.stderr.write(log.read()[-4000:])
        raise
    finally:
        _stop_all()
        log.close()
        sys.path.insert(0, args.pythonpath)
        try:
            import shmcache
            shmcache.unlink(segment)
        except Exception:
            pass
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    import django
    print("gunicorn %d sync workers, wrk 1 thread %d connections %d s, Django %s, %d CPUs"
          % (args.workers, args.connections, args.seconds, django.get_version(),
             os.cpu_count()))
    print("page view: 20 products through the cache; checker: update then %d reads"
          % CHECK_READS)
    print()
    print("%-16s %10s %10s %8s %8s %12s %10s" % ("backend", "req/s", "p99 ms", "updates",
                                                 "reads", "stale reads", "errors"))
    for k, r in results.items():
        print("%-16s %10.1f %10.2f %8d %8d %12d %10d"
              % (LABEL[k], r["rps"], r["p99"], r["updates"], r["reads"], r["stale"],
                 r["wrk_errors"] + r["check_errors"]))
    for k, r in results.items():
        if r["last_error"]:
            print("note: %s checker error: %s" % (LABEL[k], r["last_error"]))
    shm = results.get("shmcache")
    if shm:
        print()
        for k, r in results.items():
            if k != "shmcache":
                print("ShmCache req/s vs %-16s %6.2fx" % (LABEL[k], shm["rps"] / r["rps"]))
    failed = any(r["wrk_errors"] or r["check_errors"] for r in results.values())
    return 1 if failed or (shm and shm["stale"]) else 0


if __name__ == "__main__":
    sys.exit(main())
