"""Servers on 127.0.0.1 for the Python benchmarks (bench/django_bench.py,
examples/django_shop/e2e.py): each one on a free port, stopped by its PID
(stop(), stop_all(), at exit, and on SIGTERM/SIGHUP once
stop_on_signals() was called).  Nothing but loopback is ever contacted."""
import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

_procs = []


def stop(p, timeout=10):
    """Stop one server (SIGTERM, then SIGKILL after timeout s) and forget it."""
    if p in _procs:
        _procs.remove(p)
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def stop_all():
    while _procs:
        stop(_procs[-1])


atexit.register(stop_all)


def _on_signal(signum, frame):
    stop_all()
    sys.exit(128 + signum)


def stop_on_signals():
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout):
    """True once 127.0.0.1:port accepts, False if proc exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.02)
    return False


def start(argv, port, env=None, cwd=None, log=None, timeout=30.0):
    """Run argv (a server told to listen on 127.0.0.1:port) and wait until it
    accepts. Raises RuntimeError when it is not installed or does not start."""
    if not shutil.which(argv[0]):
        raise RuntimeError("%s not installed" % argv[0])
    out = log or subprocess.DEVNULL
    p = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                         stderr=out)
    _procs.append(p)
    if not wait_port(port, p, timeout):
        stop(p)
        raise RuntimeError("%s did not start on 127.0.0.1:%d" % (argv[0], port))
    return p


def start_memcached(threads=1):
    """(process, port) of a memcached with 64 MB, TCP only."""
    port = free_port()
    argv = ["memcached", "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", "64",
            "-t", str(threads)]
    if os.geteuid() == 0:
        argv += ["-u", "nobody"]
    return start(argv, port), port


def start_redis():
    """(process, port) of a redis-server that persists nothing."""
    port = free_port()
    argv = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
            "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes"]
    return start(argv, port), port
