"""Tests of shmcache.Cache (the C extension and its thin Python layer)."""
import multiprocessing
import os
import re
import threading
import time
import unittest

import shmcache
from tests import segment_name

HEADER = os.path.join(os.path.dirname(__file__), "..", "..", "include", "shmcache.h")


def wait_child(pid):
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


class CacheTestCase(unittest.TestCase):
    geometry = dict(capacity=4096, max_value_len=256 * 1024, memory=8 << 20)

    def setUp(self):
        self.name = segment_name("b")
        self.c = shmcache.Cache(self.name, **self.geometry)

    def tearDown(self):
        self.c.close()
        shmcache.unlink(self.name)


class BasicTests(CacheTestCase):
    def test_get_set_miss(self):
        c = self.c
        self.assertIsNone(c.get("nope"))
        self.assertEqual(c.get("nope", 42), 42)
        self.assertEqual(c.get("nope", default=b"d"), b"d")
        c.set("k", b"v")
        self.assertEqual(c.get("k"), b"v")
        c.set("k", b"")
        self.assertEqual(c.get("k", 1), b"")
        self.assertEqual(c.get_many(["k", "nope"]), {"k": b""})

    def test_str_and_bytes_keys_are_the_same(self):
        self.c.set("clé", b"1")
        self.assertEqual(self.c.get("clé".encode()), b"1")
        self.c.set(b"\x00\xffbin", b"2")
        self.assertEqual(self.c.get(b"\x00\xffbin"), b"2")
        self.assertEqual(self.c.get(bytearray(b"\x00\xffbin")), b"2")

    def test_buffer_values(self):
        self.c.set("a", bytearray(b"abc"))
        self.c.set("m", memoryview(b"xyz123")[3:])
        self.assertEqual(self.c.get("a"), b"abc")
        self.assertEqual(self.c.get("m"), b"123")
        self.assertIsInstance(self.c.get("a"), bytes)

    def test_large_values(self):
        for n in (4095, 4096, 4097, 100_000, self.c.max_value_len):
            v = os.urandom(n)
            self.c.set("big", v)
            self.assertEqual(self.c.get("big"), v)
            self.assertEqual(self.c.gets("big")[0], v)

    def test_value_changing_size_while_read(self):
        small, big = b"s" * 100, b"B" * 50_000
        stop = threading.Event()

        def writer():
            while not stop.is_set():
                self.c.set("flip", small)
                self.c.set("flip", big)

        t = threading.Thread(target=writer)
        t.start()
        try:
            for _ in range(3000):
                v = self.c.get("flip")
                self.assertIn(v, (small, big, None))
        finally:
            stop.set()
            t.join()

    def test_add_replace(self):
        c = self.c
        self.assertFalse(c.replace("k", b"1"))
        self.assertIsNone(c.get("k"))
        self.assertTrue(c.add("k", b"1"))
        self.assertFalse(c.add("k", b"2"))
        self.assertEqual(c.get("k"), b"1")
        self.assertTrue(c.replace("k", b"3"))
        self.assertEqual(c.get("k"), b"3")

    def test_cas(self):
        c = self.c
        self.assertIsNone(c.gets("k"))
        c.set("k", b"1")
        v, cas = c.gets("k")
        self.assertEqual(v, b"1")
        self.assertTrue(c.cas("k", b"2", cas))
        self.assertFalse(c.cas("k", b"3", cas))  # changed since read
        self.assertEqual(c.get("k"), b"2")
        c.delete("k")
        self.assertIsNone(c.cas("k", b"4", cas))  # gone
        self.assertIsNone(c.get("k"))

    def test_flags_and_item(self):
        self.c.set("k", b"v", flags=0xFFFFFFFF)
        v, flags, cas, ttl = self.c.get_item("k")
        self.assertEqual((v, flags, ttl), (b"v", 0xFFFFFFFF, None))
        self.assertGreater(cas, 0)
        self.c.set("t", b"v", ttl=100)
        ttl = self.c.get_item("t")[3]
        self.assertTrue(0 < ttl <= 100)
        with self.assertRaises(ValueError):
            self.c.set("k", b"v", flags=1 << 32)
        with self.assertRaises(ValueError):
            self.c.set("k", b"v", flags=-1)

    def test_incr_decr(self):
        c = self.c
        self.assertIsNone(c.incr("n"))
        self.assertIsNone(c.decr("n"))
        self.assertEqual(c.incr("n", 5, initial=10), 10)  # created: delta not applied
        self.assertEqual(c.incr("n"), 11)
        self.assertEqual(c.incr("n", 9), 20)
        self.assertEqual(c.decr("n", 5), 15)
        self.assertEqual(c.decr("n", 100), 0)  # floors at 0
        self.assertEqual(c.get("n"), b"0")
        c.set("n", b"18446744073709551615")
        self.assertEqual(c.incr("n"), 0)  # wraps, as memcached
        c.set("x", b"abc")
        with self.assertRaises(shmcache.InvalidArgument) as cm:
            c.incr("x")
        self.assertIsInstance(cm.exception, ValueError)
        with self.assertRaises(OverflowError):
            c.incr("n", 1 << 64)

    def test_touch_and_expiry(self):
        c = self.c
        self.assertFalse(c.touch("k", 10))
        c.set("k", b"v", ttl=0.3)
        c.set("keep", b"v", ttl=0.3)
        self.assertTrue(c.touch("keep", 0))  # never expires now
        c.set("f", b"v", ttl=0.001)  # rounds up to 1 ms, not 0 (= never)
        time.sleep(1.2)
        self.assertIsNone(c.get("k"))
        self.assertIsNone(c.get("f"))
        self.assertEqual(c.get("keep"), b"v")
        self.assertFalse(c.touch("k", 10))
        self.assertGreaterEqual(c.flush_expired(), 0)
        with self.assertRaises(ValueError):
            c.set("k", b"v", ttl=-1)
        c.set("none", b"v", ttl=None)
        self.assertIsNone(c.get_item("none")[3])

    def test_delete_clear(self):
        c = self.c
        c.set("a", b"1")
        c.set("b", b"2")
        self.assertTrue(c.delete("a"))
        self.assertFalse(c.delete("a"))
        self.assertIsNone(c.get("a"))
        c.clear()
        self.assertIsNone(c.get("b"))
        self.assertEqual(c.keys(), [])

    def test_contains_keys(self):
        c = self.c
        for i in range(50):
            c.set("key%d" % i, b"v")
        c.set(b"\xffraw", b"v")
        self.assertIn("key7", c)
        self.assertTrue(c.contains("key7"))
        self.assertNotIn("nope", c)
        keys = c.keys()
        self.assertEqual(len(keys), 51)
        self.assertIn(b"key49", keys)
        self.assertIn(b"\xffraw", keys)

    def test_stats_has_every_field(self):
        self.c.set("a", b"1")
        self.c.get("a")
        self.c.get("zz")
        st = self.c.stats()
        self.assertGreaterEqual(st["cmd_get"], 2)
        self.assertGreaterEqual(st["get_hits"], 1)
        self.assertGreaterEqual(st["get_misses"], 1)
        self.assertEqual(st["capacity"], 4096)
        self.assertGreaterEqual(st["attached_processes"], 1)
        if os.path.exists(HEADER):
            with open(HEADER) as f:
                text = f.read()
            body = re.search(r"typedef struct shmc_stats \{(.*?)\} shmc_stats_t;", text, re.S)
            fields = set(re.findall(r"uint\d+_t\s+(\w+);", body.group(1)))
            self.assertTrue(fields)
            self.assertEqual(fields, set(st))
        info = self.c.info()
        self.assertEqual(info["max_value_len"], 256 * 1024)

    def test_context_manager_and_close(self):
        name = segment_name("cm")
        with shmcache.Cache(name, capacity=64, max_value_len=1024) as c:
            c.set("k", b"v")
            self.assertFalse(c.closed)
            self.assertIn(name, repr(c))
        self.assertTrue(c.closed)
        with self.assertRaises(shmcache.Closed) as cm:
            c.get("k")
        self.assertIsInstance(cm.exception, ValueError)
        c.close()  # idempotent
        # entries outlive handles
        with shmcache.Cache(name, create=False) as c2:
            self.assertEqual(c2.get("k"), b"v")
            self.assertEqual(c2.max_value_len, 1024)
        self.assertTrue(shmcache.unlink(name))
        self.assertFalse(shmcache.unlink(name))

    def test_journal_option_adds_an_invalidation_journal(self):
        sizes = {}
        for journal in (None, True, 4 << 20):
            name = segment_name("j")
            with shmcache.Cache(name, capacity=64, max_value_len=1024, journal=journal) as c:
                c.set("k", b"v")
                c.delete("k")
                sizes[journal] = os.stat("/dev/shm/" + name).st_size
            shmcache.unlink(name)
        self.assertGreaterEqual(sizes[True] - sizes[None], 1 << 20)
        self.assertGreaterEqual(sizes[4 << 20] - sizes[None], 4 << 20)
        with self.assertRaises(shmcache.InvalidArgument):
            shmcache.Cache(segment_name("j"), journal=1000)  # below the minimum
        with self.assertRaises(TypeError):
            shmcache.Cache(segment_name("j"), journal="big")


class ErrorTests(CacheTestCase):
    def test_error_carries_code_and_text(self):
        with self.assertRaises(shmcache.TooBig) as cm:
            self.c.set("k" * 251, b"v")
        e = cm.exception
        self.assertEqual(e.errno, 7)  # E2BIG
        self.assertEqual(e.strerror, shmcache.strerror(-7))
        self.assertIsInstance(e, shmcache.Error)
        self.assertIsInstance(e, OSError)
        self.assertIsInstance(e, ValueError)

    def test_too_big(self):
        with self.assertRaises(shmcache.TooBig):
            self.c.set("k", b"x" * (self.c.max_value_len + 1))
        with self.assertRaises(shmcache.TooBig):
            self.c.get("k" * 300)
        self.c.set("k" * 250, b"ok")  # the limit itself is fine
        self.assertEqual(self.c.get("k" * 250), b"ok")

    def test_invalid(self):
        with self.assertRaises(shmcache.InvalidArgument):
            self.c.set("", b"v")
        with self.assertRaises(shmcache.InvalidArgument):
            self.c.get(b"")
        with self.assertRaises(shmcache.InvalidArgument):
            shmcache.Cache("bad/name")
        with self.assertRaises(shmcache.InvalidArgument):
            shmcache.Cache(segment_name("g"), capacity=64, memory=4096)  # 1 MiB values can't fit

    def test_type_errors(self):
        with self.assertRaises(TypeError):
            self.c.set(1, b"v")
        with self.assertRaises(TypeError):
            self.c.set("k", "str value")
        with self.assertRaises(TypeError):
            self.c.get()
        with self.assertRaises(TypeError):
            self.c.get("k", 1, 2)
        with self.assertRaises(TypeError):
            self.c.set("k", b"v", bogus=1)
        with self.assertRaises(TypeError):
            self.c.set("k", b"v", 1, ttl=2)

    def test_open_errors(self):
        with self.assertRaises(shmcache.NotFound) as cm:
            shmcache.Cache(segment_name("missing"), create=False)
        self.assertEqual(cm.exception.errno, 2)
        with self.assertRaises(shmcache.Exists):
            shmcache.Cache(self.name, exclusive=True)
        # the library's detail says which constraint and how to fix it
        with self.assertRaises(shmcache.Error) as cm:
            shmcache.Cache(segment_name("tight"), memory=1 << 20)
        self.assertIn("does not fit a stripe", str(cm.exception))
        self.assertIn("raise memory or lower max_value_len", str(cm.exception))

    def test_readonly(self):
        self.c.set("k", b"v")
        with shmcache.Cache(self.name, create=False, readonly=True) as ro:
            self.assertTrue(ro.readonly)
            self.assertEqual(ro.get("k"), b"v")
            with self.assertRaises(shmcache.ReadOnly) as cm:
                ro.set("k", b"w")
            self.assertEqual(cm.exception.errno, 30)  # EROFS

    def test_not_a_segment(self):
        name = segment_name("junk")
        fd = os.open("/dev/shm/" + name, os.O_CREAT | os.O_WRONLY, 0o600)
        os.write(fd, b"\x00" * 65536)
        os.close(fd)
        try:
            with self.assertRaises(shmcache.BadSegment):
                shmcache.Cache(name, create=False)
        finally:
            os.unlink("/dev/shm/" + name)


class LeaseTagStaleTests(CacheTestCase):
    def test_lease_flow(self):
        c = self.c
        v, lease = c.get_or_lease("k")
        self.assertIsNone(v)
        self.assertGreater(lease, 0)
        self.assertEqual(c.get_or_lease("k"), (None, 0))  # someone else computes
        self.assertEqual(c.get_or_lease("k", with_flags=True), (None, 0, 0))
        self.assertTrue(c.set_leased("k", b"computed", lease, flags=5))
        self.assertEqual(c.get_or_lease("k"), (b"computed", 0))
        self.assertEqual(c.get_or_lease("k", with_flags=True), (b"computed", 5, 0))
        self.assertEqual(c.get("k"), b"computed")

    def test_lease_stale_after_delete(self):
        c = self.c
        _, lease = c.get_or_lease("k")
        c.delete("k")  # the data changed while we computed
        self.assertFalse(c.set_leased("k", b"old", lease))
        self.assertIsNone(c.get("k"))
        with self.assertRaises(shmcache.InvalidArgument):
            c.set_leased("k", b"v", 0)

    def test_lease_expires(self):
        _, lease = self.c.get_or_lease("k", lease_ttl=0.2)
        time.sleep(0.5)
        v, lease2 = self.c.get_or_lease("k")
        self.assertIsNone(v)
        self.assertGreater(lease2, 0)
        self.assertFalse(self.c.set_leased("k", b"late", lease))
        self.assertTrue(self.c.set_leased("k", b"new", lease2))

    def test_get_or_wait(self):
        c = self.c
        _, lease = c.get_or_lease("k")

        def compute():
            time.sleep(0.3)
            c.set_leased("k", b"done", lease)

        t = threading.Thread(target=compute)
        t.start()
        v, l2 = c.get_or_wait("k", 10)
        t.join()
        self.assertEqual((v, l2), (b"done", 0))
        for timeout in (None, 1e300):  # no limit: must wait, not overflow
            _, lease = c.get_or_lease("k%s" % timeout)
            t = threading.Timer(0.2, c.set_leased, ("k%s" % timeout, b"w", lease))
            t.start()
            self.assertEqual(c.get_or_wait("k%s" % timeout, timeout), (b"w", 0))
            t.join()
        _, lease = c.get_or_lease("other")
        t0 = time.monotonic()
        self.assertEqual(c.get_or_wait("other", 0.2), (None, 0))  # timed out
        self.assertGreaterEqual(time.monotonic() - t0, 0.15)

    def test_get_or_compute(self):
        calls = []
        f = lambda: calls.append(1) or b"v"  # noqa: E731
        self.assertEqual(self.c.get_or_compute("k", f), b"v")
        self.assertEqual(self.c.get_or_compute("k", f), b"v")
        self.assertEqual(len(calls), 1)

        def boom():
            raise RuntimeError("x")

        with self.assertRaises(RuntimeError):
            self.c.get_or_compute("e", boom)
        # the lease was released: the next caller computes at once
        v, lease = self.c.get_or_lease("e")
        self.assertIsNone(v)
        self.assertGreater(lease, 0)

    def test_invalidate_and_stale(self):
        c = self.c
        c.set("k", b"v1")
        self.assertEqual(c.get_stale("k"), (b"v1", False))
        self.assertTrue(c.invalidate("k"))
        self.assertIsNone(c.get("k"))
        self.assertEqual(c.get_stale("k"), (b"v1", True))
        self.assertFalse(c.invalidate("k"))
        c.set("k", b"v2")
        self.assertEqual(c.get_stale("k"), (b"v2", False))
        self.assertIsNone(c.get_stale("never"))
        self.assertEqual(c.get_stale("never", 1), 1)
        c.set("e", b"x", ttl=0.05)
        time.sleep(0.3)
        self.assertEqual(c.get_stale("e"), (b"x", True))

    def test_invalidate_kills_lease(self):
        _, lease = self.c.get_or_lease("k")
        self.c.invalidate("k")
        self.assertFalse(self.c.set_leased("k", b"v", lease))

    def test_tags(self):
        c = self.c
        c.set_tagged("p1", b"a", ["product:1", "list"])
        c.set_tagged("p2", b"b", ("product:2", "list"))
        c.set_tagged("p3", b"c", "product:3")
        c.set("plain", b"d")
        c.invalidate_tag("product:1")
        self.assertIsNone(c.get("p1"))
        self.assertEqual(c.get_stale("p1"), (b"a", True))
        self.assertEqual(c.get("p2"), b"b")
        c.invalidate_tag(b"list")
        self.assertIsNone(c.get("p2"))
        self.assertEqual(c.get("p3"), b"c")
        self.assertEqual(c.get("plain"), b"d")
        with self.assertRaises(shmcache.InvalidArgument):
            c.set_tagged("k", b"v", ["a", "b", "c", "d", "e"])
        with self.assertRaises(shmcache.InvalidArgument):
            c.set_tagged("k", b"v", ["a\x00b"])
        with self.assertRaises(shmcache.InvalidArgument):
            c.invalidate_tag("")
        with self.assertRaises(TypeError):
            c.set_tagged("k", b"v", [1])

    def test_set_leased_tagged(self):
        c = self.c
        _, lease = c.get_or_lease("k")
        self.assertTrue(c.set_leased("k", b"v", lease, tags=["t"]))
        c.invalidate_tag("t")
        self.assertIsNone(c.get("k"))
        # a tag invalidated after the lease was handed out makes it stale
        _, lease = c.get_or_lease("k2")
        c.invalidate_tag("t2")
        self.assertFalse(c.set_leased("k2", b"v", lease, tags=["t2"]))


class EvictionTests(unittest.TestCase):
    def test_small_segment_overfilled(self):
        name = segment_name("ev")
        with shmcache.Cache(name, capacity=64, memory=64 * 1024, max_value_len=1024) as c:
            try:
                for i in range(5000):
                    c.set("key:%06d" % i, b"%d" % i * 50)
                self.assertEqual(c.get("key:004999"), b"4999" * 50)
                st = c.stats()
                self.assertLessEqual(st["curr_items"], st["index_slots"])
                self.assertGreater(st["evictions"] + st["reclaimed"], 0)
                live = sum(1 for i in range(5000) if c.get("key:%06d" % i) is not None)
                # the index holds at least the capacity promised, at most its slots
                self.assertTrue(64 <= live <= st["index_slots"], live)
            finally:
                shmcache.unlink(name)


def _mp_worker(c, i, n):
    # runs in a multiprocessing child (fork): the handle was inherited
    for j in range(n):
        c.incr("counter")
        c.set("w%d:%d" % (i, j), b"%d" % j)
    c.set("done%d" % i, b"1")


def _mp_compute_once(c, calls_key):
    def compute():
        c.incr(calls_key, initial=0)
        c.incr(calls_key)
        time.sleep(0.3)
        return b"expensive"

    return c.get_or_compute("hot", compute)


def _spawn_get(c, key):
    return c.get(key)


class ForkThreadTests(CacheTestCase):
    def test_fork_child_uses_inherited_handle(self):
        c = self.c
        c.set("from_parent", b"p")
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                if c.get("from_parent") == b"p":
                    c.set("from_child", b"c")
                    c.delete("from_parent")
                    code = 0
            finally:
                os._exit(code)
        self.assertEqual(wait_child(pid), 0)
        self.assertEqual(c.get("from_child"), b"c")
        self.assertIsNone(c.get("from_parent"))

    def test_multiprocessing_workers(self):
        ctx = multiprocessing.get_context("fork")
        self.c.set("counter", b"0")
        procs = [ctx.Process(target=_mp_worker, args=(self.c, i, 200)) for i in range(4)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
            self.assertEqual(p.exitcode, 0)
        self.assertEqual(self.c.get("counter"), b"800")
        for i in range(4):
            self.assertEqual(self.c.get("done%d" % i), b"1")
            self.assertEqual(self.c.get("w%d:199" % i), b"199")

    def test_processes_compute_once(self):
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(4) as pool:
            results = pool.starmap(_mp_compute_once, [(self.c, "calls")] * 8)
        self.assertEqual(results, [b"expensive"] * 8)
        self.assertEqual(self.c.get("calls"), b"1")

    def test_threads_share_one_handle(self):
        c = self.c
        c.set("tc", b"0")
        errors = []

        def work(t):
            try:
                for i in range(500):
                    c.incr("tc")
                    c.set("t%d" % t, b"%d" % i)
                    if c.get("t%d" % t) != b"%d" % i:
                        errors.append((t, i))
            except Exception as e:  # pragma: no cover
                errors.append(e)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(c.get("tc"), b"2000")

    def test_pickled_handle_attaches_by_name(self):
        import pickle

        self.c.set("k", b"v")
        with pickle.loads(pickle.dumps(self.c)) as c2:
            self.assertEqual(c2.name, self.name)
            self.assertEqual(c2.get("k"), b"v")
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(2) as pool:
            self.assertEqual(pool.starmap(_spawn_get, [(self.c, "k")] * 2), [b"v", b"v"])

    def test_close_while_another_thread_waits(self):
        c = self.c
        c.get_or_lease("k")  # held by "someone else"
        result = []
        t = threading.Thread(target=lambda: result.append(c.get_or_wait("k", 0.5)))
        t.start()
        time.sleep(0.1)
        c.close()  # deferred until the waiting call returns
        self.assertTrue(c.closed)
        t.join()
        self.assertEqual(result, [(None, 0)])
        with self.assertRaises(shmcache.Closed):
            c.get("k")


if __name__ == "__main__":
    unittest.main()
