"""Django's async cache API on ShmCache (aget, aset, ... aclose): each one is
a coroutine of its own (not BaseCache's sync_to_async wrapper), behaves as
its sync twin, and never blocks the event loop, not even in aget_or_set
behind another caller's lease.  Also the batch calls of the binding
(get_many_items, set_many, delete_many) that get_many/set_many/delete_many
make in one call each."""
import asyncio
import inspect
import threading
import unittest

from tests.test_django import LOCATION  # configures Django's settings
from django.core.cache import caches

import shmcache
from shmcache.django import ShmCache
from tests import segment_name



def tearDownModule():
    # test_django's teardown ran before this module re-created the segment
    shmcache.unlink(LOCATION)


ASYNC_METHODS = ("aget", "aset", "aadd", "adelete", "aget_many", "aset_many",
                 "adelete_many", "ahas_key", "aincr", "adecr", "atouch",
                 "aget_or_set", "aclear", "aclose", "aincr_version", "adecr_version")


class AsyncApiTests(unittest.IsolatedAsyncioTestCase):
    def setUp(self):
        self.cache = caches["default"]
        self.cache.clear()

    def test_every_method_is_a_native_coroutine_function(self):
        for name in ASYNC_METHODS:
            with self.subTest(name=name):
                fn = getattr(ShmCache, name)
                self.assertIn(name, ShmCache.__dict__)  # not inherited
                self.assertTrue(inspect.iscoroutinefunction(fn))

    async def test_no_thread_hop(self):
        # sync_to_async would run the call in another thread
        seen = []
        orig = self.cache.get

        def spy(*a, **kw):
            seen.append(threading.get_ident())
            return orig(*a, **kw)

        self.cache.get = spy
        try:
            await self.cache.aget("k")
        finally:
            del self.cache.get
        self.assertEqual(seen, [threading.get_ident()])

    async def test_get_set_add_delete_has_key(self):
        c = self.cache
        self.assertIsNone(await c.aget("k"))
        self.assertEqual(await c.aget("k", "dflt"), "dflt")
        await c.aset("k", {"v": 1})
        self.assertEqual(await c.aget("k"), {"v": 1})
        self.assertTrue(await c.ahas_key("k"))
        self.assertFalse(await c.aadd("k", "other"))
        self.assertTrue(await c.aadd("k2", "new"))
        self.assertEqual(c.get("k2"), "new")
        self.assertTrue(await c.adelete("k"))
        self.assertFalse(await c.adelete("k"))
        self.assertFalse(await c.ahas_key("k"))
        await c.aset("v", 1, version=2)
        self.assertIsNone(await c.aget("v"))
        self.assertEqual(await c.aget("v", version=2), 1)

    async def test_timeouts_and_touch(self):
        c = self.cache
        await c.aset("gone", 1, timeout=0)
        self.assertIsNone(await c.aget("gone"))
        await c.aset("t", 1, timeout=0.05)
        self.assertTrue(await c.atouch("t", None))
        await asyncio.sleep(0.1)
        self.assertEqual(await c.aget("t"), 1)
        self.assertFalse(await c.atouch("missing"))

    async def test_many(self):
        c = self.cache
        self.assertEqual(await c.aset_many({"a": 1, "b": "two", "c": [3]}), [])
        self.assertEqual(await c.aget_many(["a", "b", "c", "d"]),
                         {"a": 1, "b": "two", "c": [3]})
        self.assertEqual(await c.aget_many(iter(["c", "x"])), {"c": [3]})
        await c.adelete_many(["a", "c", "nope"])
        self.assertEqual(await c.aget_many(["a", "b", "c"]), {"b": "two"})
        self.assertEqual(await c.aget_many([]), {})
        await c.adelete_many([])

    async def test_set_many_too_big_values_fail_and_lose_old_value(self):
        c = self.cache
        c.set("big", "old")
        failed = await c.aset_many({"ok": 1, "big": b"x" * (600 * 1024)})
        self.assertEqual(failed, ["big"])
        self.assertIsNone(c.get("big"))
        self.assertEqual(c.get("ok"), 1)

    async def test_set_many_zero_timeout_deletes(self):
        c = self.cache
        c.set("a", 1)
        self.assertEqual(await c.aset_many({"a": 2, "b": 3}, timeout=0), [])
        self.assertEqual(c.get_many(["a", "b"]), {})

    async def test_incr_decr_and_versions(self):
        c = self.cache
        await c.aset("n", 10)
        self.assertEqual(await c.aincr("n"), 11)
        self.assertEqual(await c.aincr("n", 5), 16)
        self.assertEqual(await c.adecr("n", 20), -4)
        with self.assertRaises(ValueError):
            await c.aincr("missing")
        await c.aset("ver", "x")
        self.assertEqual(await c.aincr_version("ver"), 2)
        self.assertEqual(c.get("ver", version=2), "x")
        self.assertEqual(await c.adecr_version("ver", version=2), 1)
        self.assertEqual(c.get("ver"), "x")

    async def test_clear_and_close(self):
        c = self.cache
        await c.aset("a", 1)
        await c.aclear()
        self.assertIsNone(await c.aget("a"))
        await c.aclose()
        await c.aset("a", 2)  # the handle survives close(), as with the sync API
        self.assertEqual(await c.aget("a"), 2)

    async def test_get_or_set(self):
        c = self.cache
        self.assertEqual(await c.aget_or_set("gs", lambda: [1, 2]), [1, 2])
        self.assertEqual(await c.aget_or_set("gs", "not used"), [1, 2])
        self.assertIsNone(await c.aget_or_set("none", None))

    async def test_get_or_set_waits_without_blocking_the_loop(self):
        # Another caller (here: the raw handle) holds the lease; while
        # aget_or_set waits for its value, the loop runs the task that
        # stores it: a blocking wait would deadlock until WAIT_TIMEOUT.
        c = self.cache
        k = c.make_key("leased")
        raw = c._cache
        value, lease = raw.get_or_lease(k, 10)
        self.assertIsNone(value)
        self.assertTrue(lease)

        async def producer():
            await asyncio.sleep(0.05)
            data, flags = c._encode("computed elsewhere")
            self.assertTrue(raw.set_leased(k, data, lease, 60, flags))

        task = asyncio.create_task(producer())
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        got = await c.aget_or_set("leased", lambda: "computed here")
        await task
        self.assertEqual(got, "computed elsewhere")
        self.assertLess(loop.time() - t0, 5)  # far below WAIT_TIMEOUT (30 s)

    async def test_get_or_set_gives_up_after_wait_timeout(self):
        c = caches["short_lease"]  # WAIT_TIMEOUT 0.3 s
        k = c.make_key("stuck")
        value, lease = c._cache.get_or_lease(k, 10)
        self.assertTrue(lease)
        # nobody stores a value: after WAIT_TIMEOUT the default is computed
        self.assertEqual(await c.aget_or_set("stuck", lambda: "fallback"), "fallback")
        c._cache.delete(k)

    async def test_get_or_set_raising_callable_releases_the_lease(self):
        c = self.cache

        def boom():
            raise RuntimeError("boom")

        with self.assertRaises(RuntimeError):
            await c.aget_or_set("boom", boom)
        # the lease is gone: the next caller computes at once
        self.assertEqual(await c.aget_or_set("boom", lambda: 7), 7)


class BatchBindingTests(unittest.TestCase):
    def setUp(self):
        self.name = segment_name("batch")
        self.c = shmcache.Cache(self.name, capacity=1024, max_value_len=1024)

    def tearDown(self):
        self.c.close()
        shmcache.unlink(self.name)

    def test_get_many_items_is_aligned_with_the_keys(self):
        c = self.c
        c.set("a", b"1", flags=7)
        c.set(b"b", b"2")
        self.assertEqual(c.get_many_items(["a", "x", b"b", "a"]),
                         [(b"1", 7), None, (b"2", 0), (b"1", 7)])
        self.assertEqual(c.get_many_items(iter([])), [])
        self.assertEqual(c.get_many(("a", "x", b"b")), {"a": b"1", b"b": b"2"})

    def test_get_many_values_over_the_stack_buffer(self):
        c = self.c
        big = shmcache.Cache(segment_name("batchbig"), capacity=64, memory=4 << 20,
                             max_value_len=1 << 20)
        try:
            big.set("v", b"y" * 100000)
            self.assertEqual(big.get_many_items(["v"]), [(b"y" * 100000, 0)])
        finally:
            big.close()
            shmcache.unlink(big.name)
        self.assertEqual(c.get_many_items(["v"]), [None])

    def test_set_many_stores_with_ttl_and_flags(self):
        c = self.c
        self.assertEqual(c.set_many([("a", b"1"), ("b", bytearray(b"2"), 3)], ttl=60), [])
        self.assertEqual(c.get_item("b")[:2], (b"2", 3))
        self.assertLessEqual(c.get_item("a")[3], 60)
        self.assertEqual(c.set_many([]), [])

    def test_set_many_reports_too_big_and_keeps_their_old_values(self):
        c = self.c
        c.set("big", b"old")
        self.assertEqual(c.set_many([("big", b"x" * 2000), ("ok", b"1"), ("k" * 300, b"v")]),
                         ["big", "k" * 300])
        self.assertEqual(c.get("big"), b"old")
        self.assertEqual(c.get("ok"), b"1")

    def test_set_many_bad_input_changes_nothing(self):
        c = self.c
        bad = ([("a", b"1"), ("b", 2)], [("a", b"1"), ("b",)], [("a", b"1"), ["b", b"2"]],
               [("a", b"1"), (3, b"2")], [("a", b"1"), ("b", b"2", -1)])
        for items in bad:
            with self.subTest(items=items):
                with self.assertRaises((TypeError, ValueError)):
                    c.set_many(items)
                self.assertIsNone(c.get("a"))
        with self.assertRaises(ValueError):
            c.set_many([("a", b"1")], ttl=-1)
        with self.assertRaises(TypeError):
            c.set_many(5)
        with self.assertRaises(shmcache.InvalidArgument):
            c.set_many([("", b"1")])

    def test_delete_many_counts_what_it_deleted(self):
        c = self.c
        c.set_many([("a", b"1"), ("b", b"2")])
        self.assertEqual(c.delete_many(["a", "b", "c", "a"]), 2)
        self.assertEqual(c.get_many(["a", "b"]), {})
        self.assertEqual(c.delete_many([]), 0)
        with self.assertRaises(TypeError):
            c.delete_many(["a", 1])

    def test_batches_on_a_closed_handle(self):
        c = self.c
        c.close()
        for call in (lambda: c.get_many(["a"]), lambda: c.get_many_items(["a"]),
                     lambda: c.set_many([("a", b"1")]), lambda: c.delete_many(["a"])):
            with self.assertRaises(shmcache.Closed):
                call()


if __name__ == "__main__":
    unittest.main()
