"""Tests of shmcache.django.ShmCache: the behaviour Django's own cache test
suite checks for its built-in backends, plus multi-process sharing."""
import datetime
import decimal
import multiprocessing
import os
import pickle
import time
import unittest
import warnings
import zlib

import django
from django.conf import settings

from tests import segment_name

# Inherited through the environment so spawned workers use the same segment.
LOCATION = os.environ.setdefault("SHMCACHE_TEST_DJANGO_LOCATION", segment_name("dj"))
SMALL_LOCATION = os.environ.setdefault("SHMCACHE_TEST_DJANGO_SMALL", segment_name("djsmall"))
GEOMETRY = {"CAPACITY": 8192, "MEMORY": 16 << 20, "MAX_VALUE_LEN": 512 * 1024}


def custom_key_func(key, key_prefix, version):
    "A customized cache key function"
    return "CUSTOM-" + "-".join([key_prefix, str(version), key])


def _backend(**kw):
    d = {"BACKEND": "shmcache.django.ShmCache", "LOCATION": LOCATION, "OPTIONS": GEOMETRY}
    d.update(kw)
    return d


if not settings.configured:
    settings.configure(
        CACHES={
            "default": _backend(),
            "prefix": _backend(KEY_PREFIX="cacheprefix"),
            "v2": _backend(VERSION=2),
            "custom_key": _backend(KEY_FUNCTION=custom_key_func),
            "custom_key2": _backend(KEY_FUNCTION="tests.test_django.custom_key_func"),
            "zero": _backend(TIMEOUT=0),
            "forever": _backend(TIMEOUT=None),
            "short_lease": _backend(OPTIONS=dict(GEOMETRY, LEASE_TIMEOUT=0.5, WAIT_TIMEOUT=0.3)),
            "small": _backend(
                LOCATION=SMALL_LOCATION,
                OPTIONS={"CAPACITY": 64, "MEMORY": 128 * 1024, "MAX_VALUE_LEN": 4096},
            ),
        },
        INSTALLED_APPS=[],
        USE_TZ=True,
    )
    django.setup()

from django.core.cache import CacheKeyWarning, cache, caches  # noqa: E402

import shmcache  # noqa: E402
from shmcache.django import ShmCache  # noqa: E402


def tearDownModule():
    for name in (LOCATION, SMALL_LOCATION):
        shmcache.unlink(name)


class Unpicklable:
    def __getstate__(self):
        raise pickle.PickleError()


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __eq__(self, other):
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)


class ShmCacheTests(unittest.TestCase):
    def setUp(self):
        cache.clear()

    def test_backend_class(self):
        self.assertIsInstance(caches["default"], ShmCache)
        self.assertEqual(cache.default_timeout, 300)

    def test_simple(self):
        cache.set("key", "value")
        self.assertEqual(cache.get("key"), "value")

    def test_default_used_when_none_is_set(self):
        cache.set("key_default_none", None)
        self.assertIsNone(cache.get("key_default_none", default="default"))

    def test_add(self):
        self.assertIs(cache.add("addkey1", "value"), True)
        self.assertIs(cache.add("addkey1", "newvalue"), False)
        self.assertEqual(cache.get("addkey1"), "value")

    def test_prefix(self):
        cache.set("somekey", "value")
        self.assertIs(caches["prefix"].has_key("somekey"), False)
        caches["prefix"].set("somekey", "value2")
        self.assertEqual(cache.get("somekey"), "value")
        self.assertEqual(caches["prefix"].get("somekey"), "value2")

    def test_non_existent(self):
        self.assertIsNone(cache.get("does_not_exist"))
        self.assertEqual(cache.get("does_not_exist", "bang!"), "bang!")

    def test_get_many(self):
        cache.set_many({"a": "a", "b": "b", "c": "c", "d": "d"})
        self.assertEqual(cache.get_many(["a", "c", "d"]), {"a": "a", "c": "c", "d": "d"})
        self.assertEqual(cache.get_many(["a", "b", "e"]), {"a": "a", "b": "b"})
        self.assertEqual(cache.get_many(iter(["a", "b", "e"])), {"a": "a", "b": "b"})
        self.assertEqual(cache.get_many([]), {})

    def test_delete(self):
        cache.set_many({"key1": "spam", "key2": "eggs"})
        self.assertIs(cache.delete("key1"), True)
        self.assertIsNone(cache.get("key1"))
        self.assertEqual(cache.get("key2"), "eggs")
        self.assertIs(cache.delete("key1"), False)
        self.assertIs(cache.delete("nonexistent"), False)

    def test_has_key(self):
        cache.set("hello1", "goodbye1")
        self.assertIs(cache.has_key("hello1"), True)
        self.assertIs(cache.has_key("goodbye1"), False)
        cache.set("no_expiry", "here", None)
        self.assertIs(cache.has_key("no_expiry"), True)
        cache.set("null", None)
        self.assertIs(cache.has_key("null"), True)
        self.assertIn("hello1", cache)
        self.assertNotIn("goodbye1", cache)

    def test_incr(self):
        cache.set("answer", 41)
        self.assertEqual(cache.incr("answer"), 42)
        self.assertEqual(cache.get("answer"), 42)
        self.assertEqual(cache.incr("answer", 10), 52)
        self.assertEqual(cache.get("answer"), 52)
        self.assertEqual(cache.incr("answer", -10), 42)
        with self.assertRaises(ValueError):
            cache.incr("does_not_exist")
        with self.assertRaises(ValueError):
            cache.incr("does_not_exist", -1)
        cache.set("null", None)
        with self.assertRaises(TypeError):
            cache.incr("null")

    def test_decr(self):
        cache.set("answer", 43)
        self.assertEqual(cache.decr("answer"), 42)
        self.assertEqual(cache.get("answer"), 42)
        self.assertEqual(cache.decr("answer", 10), 32)
        self.assertEqual(cache.decr("answer", -10), 42)
        with self.assertRaises(ValueError):
            cache.decr("does_not_exist")
        cache.set("null", None)
        with self.assertRaises(TypeError):
            cache.decr("null")

    def test_incr_decr_beyond_native_range(self):
        cache.set("n", 1)
        self.assertEqual(cache.decr("n", 5), -4)  # Django semantics, not memcached's floor
        self.assertEqual(cache.get("n"), -4)
        self.assertEqual(cache.incr("n", 10), 6)
        cache.set("big", 2**64 - 2)
        self.assertEqual(cache.incr("big", 5), 2**64 + 3)
        self.assertEqual(cache.get("big"), 2**64 + 3)
        self.assertEqual(cache.decr("big", 10), 2**64 - 7)
        cache.set("f", 1.5)
        self.assertEqual(cache.incr("f"), 2.5)
        cache.set("s", "10")  # a str stays a str: str + int fails as in LocMemCache
        with self.assertRaises(TypeError):
            cache.incr("s")
        self.assertEqual(cache.get("s"), "10")
        cache.set("b", True)
        self.assertIs(cache.get("b"), True)

    def test_ints_are_stored_natively(self):
        cache.set("i", 12345)
        raw = cache._cache.get_item(cache.make_key("i"))
        self.assertEqual(raw[:2], (b"12345", 1))
        self.assertEqual(type(cache.get("i")), int)

    def test_incr_keeps_timeout(self):
        cache.set("t", 1, 1)
        cache.incr("t")
        cache.decr("t", 3)  # the CAS path keeps the remaining ttl too
        time.sleep(2)
        self.assertIsNone(cache.get("t"))

    def test_data_types(self):
        stuff = {
            "string": "this is a string",
            "int": 42,
            "bool": True,
            "list": [1, 2, 3, 4],
            "tuple": (1, 2, 3, 4),
            "dict": {"A": 1, "B": 2},
            "function": custom_key_func,
            "class": Point,
            "obj": Point(1, 2),
            "datetime": datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
            "decimal": decimal.Decimal("3.14"),
            "set": {1, 2, 3},
            "neg": -7,
            "huge": 10**40,
            "float": 0.1,
            "bytes": b"raw",
            "digits": "12345",
            "bdigits": b"12345",
            "empty": "",
            "none": None,
        }
        cache.set("stuff", stuff)
        self.assertEqual(cache.get("stuff"), stuff)
        for k, v in stuff.items():
            cache.set(k, v)
            got = cache.get(k)
            self.assertEqual(got, v, k)
            self.assertIs(type(got), type(v), k)

    def test_expiration(self):
        cache.set("expire1", "very quickly", 1)
        cache.set("expire2", "very quickly", 1)
        cache.set("expire3", "very quickly", 1)
        time.sleep(2)
        self.assertIsNone(cache.get("expire1"))
        self.assertIs(cache.add("expire2", "newvalue"), True)
        self.assertEqual(cache.get("expire2"), "newvalue")
        self.assertIs(cache.has_key("expire3"), False)

    def test_touch(self):
        cache.set("expire1", "very quickly", timeout=1)
        self.assertIs(cache.touch("expire1", timeout=10), True)
        time.sleep(2)
        self.assertIs(cache.has_key("expire1"), True)
        self.assertIs(cache.touch("expire1", timeout=1), True)
        time.sleep(2)
        self.assertIs(cache.has_key("expire1"), False)
        cache.set("expire2", "very quickly", timeout=1)
        self.assertIs(cache.touch("expire2", timeout=None), True)
        time.sleep(2)
        self.assertEqual(cache.get("expire2"), "very quickly")
        self.assertIs(cache.touch("nonexistent"), False)
        self.assertIs(cache.touch("expire2", timeout=0), True)
        self.assertIsNone(cache.get("expire2"))

    def test_unicode(self):
        stuff = {
            "ascii": "ascii_value",
            "unicode_ascii": "Iñtërnâtiônàlizætiøn1",
            "Iñtërnâtiônàlizætiøn": "Iñtërnâtiônàlizætiøn2",
            "ascii2": {"x": 1},
            "emoji": "🐍" * 20,
        }
        for key, value in stuff.items():
            with self.subTest(key=key):
                cache.set(key, value)
                self.assertEqual(cache.get(key), value)
                self.assertIs(cache.delete(key), True)
                self.assertIs(cache.add(key, value), True)
                self.assertEqual(cache.get(key), value)
        cache.delete_many(stuff)
        cache.set_many(stuff)
        for key, value in stuff.items():
            self.assertEqual(cache.get(key), value)

    def test_binary_string(self):
        value = "value_to_be_compressed" * 100
        compressed = zlib.compress(value.encode())
        cache.set("binary1", compressed)
        self.assertEqual(zlib.decompress(cache.get("binary1")).decode(), value)
        self.assertIs(cache.add("binary1-add", compressed), True)
        self.assertEqual(zlib.decompress(cache.get("binary1-add")).decode(), value)
        cache.set_many({"binary1-set_many": compressed})
        self.assertEqual(zlib.decompress(cache.get("binary1-set_many")).decode(), value)
        blob = bytes(range(256)) * 100
        cache.set("blob", blob)
        self.assertEqual(cache.get("blob"), blob)

    def test_set_many(self):
        self.assertEqual(cache.set_many({"key1": "spam", "key2": "eggs"}), [])
        self.assertEqual(cache.get("key1"), "spam")
        self.assertEqual(cache.get("key2"), "eggs")

    def test_set_many_expiration(self):
        cache.set_many({"key1": "spam", "key2": "eggs"}, 1)
        time.sleep(2)
        self.assertIsNone(cache.get("key1"))
        self.assertIsNone(cache.get("key2"))

    def test_delete_many(self):
        cache.set_many({"key1": "spam", "key2": "eggs", "key3": "ham"})
        cache.delete_many(["key1", "key2"])
        self.assertIsNone(cache.get("key1"))
        self.assertIsNone(cache.get("key2"))
        self.assertEqual(cache.get("key3"), "ham")

    def test_clear(self):
        cache.set_many({"key1": "spam", "key2": "eggs"})
        caches["prefix"].set("key1", "x")
        cache.clear()
        self.assertIsNone(cache.get("key1"))
        self.assertIsNone(cache.get("key2"))
        self.assertIsNone(caches["prefix"].get("key1"))  # clear is segment-wide

    def test_long_timeout(self):
        cache.set("key1", "eggs", 60 * 60 * 24 * 30 + 1)
        self.assertEqual(cache.get("key1"), "eggs")
        self.assertIs(cache.add("key2", "ham", 60 * 60 * 24 * 30 + 1), True)
        self.assertEqual(cache.get("key2"), "ham")
        cache.set_many({"key3": "sausage", "key4": "lobster bisque"}, 60 * 60 * 24 * 30 + 1)
        self.assertEqual(cache.get("key3"), "sausage")
        cache.set("key5", "forever-ish", 10**12)
        self.assertEqual(cache.get("key5"), "forever-ish")

    def test_forever_timeout(self):
        cache.set("key1", "eggs", None)
        self.assertEqual(cache.get("key1"), "eggs")
        self.assertIs(cache.add("key2", "ham", None), True)
        self.assertIs(cache.add("key1", "new eggs", None), False)
        cache.set_many({"key3": "sausage", "key4": "lobster bisque"}, None)
        self.assertEqual(cache.get("key4"), "lobster bisque")
        self.assertIsNone(cache._cache.get_item(cache.make_key("key1"))[3])
        caches["forever"].set("key6", "x")
        self.assertIsNone(cache._cache.get_item(cache.make_key("key6"))[3])
        cache.set("key7", "x", 1)
        self.assertIs(cache.touch("key7", None), True)
        time.sleep(2)
        self.assertEqual(cache.get("key7"), "x")

    def test_zero_timeout(self):
        cache.set("key1", "eggs", 0)
        self.assertIsNone(cache.get("key1"))
        cache.set("key1", "old")
        cache.set("key1", "eggs", 0)  # replaces: the old value is gone too
        self.assertIsNone(cache.get("key1"))
        self.assertIs(cache.add("key2", "ham", 0), True)
        self.assertIsNone(cache.get("key2"))
        cache.set_many({"key3": "sausage", "key4": "lobster bisque"}, 0)
        self.assertIsNone(cache.get("key3"))
        self.assertIsNone(cache.get("key4"))
        self.assertEqual(cache.get_or_set("key5", "belgian fries", timeout=0), "belgian fries")
        self.assertIsNone(cache.get("key5"))
        caches["zero"].set("key6", "x")
        self.assertIsNone(cache.get("key6"))

    def test_negative_timeout(self):
        cache.set("key1", "eggs")
        cache.set("key1", "eggs", -1)
        self.assertIsNone(cache.get("key1"))
        self.assertIs(cache.add("key2", "ham", -5), True)
        self.assertIsNone(cache.get("key2"))
        cache.set("key3", "x")
        self.assertIs(cache.touch("key3", -1), True)
        self.assertIsNone(cache.get("key3"))

    def test_float_timeout(self):
        cache.set("key1", "spam", 100.2)
        self.assertEqual(cache.get("key1"), "spam")
        cache.set("key2", "spam", 0.3)
        time.sleep(1.5)
        self.assertIsNone(cache.get("key2"))

    def test_cull(self):
        small = caches["small"]
        small.clear()
        for i in range(3000):
            small.set("cull%d" % i, "value %d" % i * 10)
        self.assertEqual(small.get("cull2999"), "value 2999" * 10)
        count = sum(1 for i in range(3000) if small.has_key("cull%d" % i))
        st = small._cache.stats()
        self.assertTrue(0 < count <= st["index_slots"], count)
        self.assertGreater(st["evictions"] + st["reclaimed"], 0)
        # still fully functional
        self.assertIs(small.add("fresh", 1), True)
        self.assertEqual(small.incr("fresh"), 2)
        self.assertIs(small.delete("fresh"), True)

    def test_too_large_value(self):
        big = os.urandom(GEOMETRY["MAX_VALUE_LEN"] + 1)
        cache.set("big", "small")
        cache.set("big", big)  # silently not stored, and the old value is gone
        self.assertIsNone(cache.get("big"))
        self.assertIs(cache.add("big2", big), False)
        self.assertEqual(cache.set_many({"ok": 1, "big3": big}), ["big3"])
        self.assertEqual(cache.get("ok"), 1)

    def _perform_invalid_key_test(self, key, expected_warning):
        old_func = cache.key_func
        cache.key_func = lambda key, *args: key
        tests = [
            ("add", [key, 1]),
            ("get", [key]),
            ("set", [key, 1]),
            ("incr", [key]),
            ("decr", [key]),
            ("touch", [key]),
            ("has_key", [key]),
            ("get_or_set", [key, 1]),
            ("delete", [key]),
            ("get_many", [[key, "b"]]),
            ("set_many", [{key: 1, "b": 2}]),
            ("delete_many", [{key: 1, "b": 2}]),
        ]
        try:
            for operation, args in tests:
                with self.subTest(operation=operation):
                    with self.assertWarns(CacheKeyWarning) as cm:
                        getattr(cache, operation)(*args)
                    self.assertEqual(str(cm.warning), expected_warning)
            # the key works although it warned
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", CacheKeyWarning)
                cache.set(key, "works")
                self.assertEqual(cache.get(key), "works")
                self.assertIs(cache.delete(key), True)
        finally:
            cache.key_func = old_func

    def test_invalid_key_characters(self):
        key = "key with spaces and 清"
        self._perform_invalid_key_test(
            key,
            "Cache key contains characters that will cause errors if used with "
            "memcached: %r" % key,
        )

    def test_invalid_key_control_char(self):
        key = "key\x00with\x7fcontrol"
        self._perform_invalid_key_test(
            key,
            "Cache key contains characters that will cause errors if used with "
            "memcached: %r" % key,
        )

    def test_invalid_key_length(self):
        key = ("a" * 250) + "清"  # 251 characters, 253 bytes: over max_key_len
        self._perform_invalid_key_test(
            key,
            "Cache key will cause errors if used with memcached: %r (longer than %s)"
            % (key, 250),
        )

    def test_very_long_key_is_stored(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CacheKeyWarning)
            a, b = "x" * 1000 + "a", "x" * 1000 + "b"
            cache.set(a, 1)
            cache.set(b, 2)
            self.assertEqual((cache.get(a), cache.get(b)), (1, 2))

    def test_valid_key_no_warning(self):
        with warnings.catch_warnings():
            warnings.simplefilter("error", CacheKeyWarning)
            cache.set("a" * 240, 1)
            self.assertEqual(cache.get("a" * 240), 1)

    def test_cache_versioning_get_set(self):
        cache.set("answer1", 42)
        self.assertEqual(cache.get("answer1"), 42)
        self.assertEqual(cache.get("answer1", version=1), 42)
        self.assertIsNone(cache.get("answer1", version=2))
        self.assertIsNone(caches["v2"].get("answer1"))
        self.assertEqual(caches["v2"].get("answer1", version=1), 42)
        cache.set("answer2", 42, version=2)
        self.assertIsNone(cache.get("answer2"))
        self.assertEqual(cache.get("answer2", version=2), 42)
        self.assertEqual(caches["v2"].get("answer2"), 42)
        caches["v2"].set("answer3", 42)
        self.assertIsNone(cache.get("answer3"))
        self.assertEqual(cache.get("answer3", version=2), 42)
        caches["v2"].set("answer4", 42, version=1)
        self.assertEqual(cache.get("answer4"), 42)
        self.assertIsNone(caches["v2"].get("answer4"))

    def test_cache_versioning_ops(self):
        cache.set("answer1", 37, version=1)
        cache.set("answer1", 42, version=2)
        self.assertIs(cache.add("answer1", 1, version=2), False)
        self.assertIs(cache.add("answer1", 1, version=3), True)
        self.assertIs(cache.has_key("answer1", version=2), True)
        self.assertIs(cache.has_key("answer1", version=4), False)
        cache.delete("answer1", version=2)
        self.assertEqual(cache.get("answer1", version=1), 37)
        self.assertIsNone(cache.get("answer1", version=2))
        self.assertEqual(cache.incr("answer1", version=1), 38)
        self.assertEqual(cache.decr("answer1", version=3), 0)
        cache.set_many({"ford": 37, "arthur": 42}, version=2)
        self.assertEqual(cache.get_many(["ford", "arthur"]), {})
        self.assertEqual(cache.get_many(["ford", "arthur"], version=2), {"ford": 37, "arthur": 42})
        cache.delete_many(["ford"], version=2)
        self.assertEqual(cache.get_many(["ford", "arthur"], version=2), {"arthur": 42})
        self.assertIs(cache.touch("arthur", 100, version=2), True)
        self.assertIs(cache.touch("arthur", 100), False)

    def test_incr_version(self):
        cache.set("answer", 42, version=2)
        self.assertEqual(cache.incr_version("answer", version=2), 3)
        self.assertIsNone(cache.get("answer", version=2))
        self.assertEqual(cache.get("answer", version=3), 42)
        self.assertEqual(cache.decr_version("answer", version=3), 2)
        self.assertEqual(cache.get("answer", version=2), 42)
        with self.assertRaises(ValueError):
            cache.incr_version("does_not_exist")
        caches["v2"].set("answer2", 42)
        self.assertEqual(caches["v2"].incr_version("answer2"), 3)
        self.assertEqual(caches["v2"].get("answer2", version=3), 42)

    def test_custom_key_func(self):
        self.assertIsNone(caches["custom_key"].get("answer1"))
        self.assertIsNone(caches["custom_key2"].get("answer1"))
        caches["custom_key"].set("answer1", 42)
        self.assertIsNone(cache.get("answer1"))
        self.assertEqual(caches["custom_key"].get("answer1"), 42)
        self.assertEqual(caches["custom_key2"].get("answer1"), 42)
        self.assertEqual(caches["custom_key"].make_key("k"), "CUSTOM--1-k")

    def test_cache_write_unpicklable_object(self):
        with self.assertRaises(pickle.PickleError):
            cache.set("unpicklable", Unpicklable())
        cache.set("unpicklable", "old")
        with self.assertRaises(pickle.PickleError):
            cache.add("unpicklable", Unpicklable())
        with self.assertRaises(pickle.PickleError):
            cache.set("unpicklable", Unpicklable())
        self.assertEqual(cache.get("unpicklable"), "old")

    def test_get_or_set(self):
        self.assertIsNone(cache.get("projector"))
        self.assertEqual(cache.get_or_set("projector", 42), 42)
        self.assertEqual(cache.get("projector"), 42)
        self.assertEqual(cache.get_or_set("projector", 43), 42)
        self.assertIsNone(cache.get_or_set("null", None))
        self.assertIs(cache.has_key("null"), True)

    def test_get_or_set_callable(self):
        calls = []

        def my_callable():
            calls.append(1)
            return "value"

        self.assertEqual(cache.get_or_set("mykey", my_callable), "value")
        self.assertEqual(cache.get_or_set("mykey", my_callable), "value")
        self.assertEqual(len(calls), 1)
        self.assertIsNone(cache.get_or_set("null", lambda: None))
        self.assertIsNone(cache.get("null", "default"))

    def test_get_or_set_version(self):
        cache.get_or_set("brian", 1979, version=2)
        self.assertIsNone(cache.get("brian", version=1))
        self.assertEqual(cache.get("brian", version=2), 1979)
        self.assertEqual(cache.get_or_set("brian", 42, version=2), 1979)

    def test_get_or_set_callable_raises(self):
        def boom():
            raise RuntimeError("db down")

        with self.assertRaises(RuntimeError):
            cache.get_or_set("k", boom)
        # the lease was given back: the next caller computes without waiting
        t0 = time.monotonic()
        self.assertEqual(cache.get_or_set("k", "v"), "v")
        self.assertLess(time.monotonic() - t0, 5)

    def test_get_or_set_deleted_while_computing(self):
        def compute():
            cache.delete("k")  # an invalidation races with the computation
            return "computed from old data"

        self.assertEqual(cache.get_or_set("k", compute), "computed from old data")
        self.assertIsNone(cache.get("k"))  # not stored: it may be stale

    def test_get_or_set_wait_times_out(self):
        c = caches["short_lease"]
        k = c.make_key("slow")
        c._cache.get_or_lease(k, 0.5)  # another worker is computing
        self.assertEqual(c.get_or_set("slow", "mine"), "mine")

    def test_close_is_harmless(self):
        cache.set("k", 1)
        cache.close()
        self.assertEqual(cache.get("k"), 1)

    def test_handles_are_shared(self):
        self.assertIs(caches["default"]._cache, caches["prefix"]._cache)
        # Django makes one backend instance per thread: one handle still
        import threading

        seen = []
        t = threading.Thread(target=lambda: seen.append((caches["default"], caches["default"]._cache)))
        t.start()
        t.join()
        self.assertIsNot(seen[0][0], caches["default"])
        self.assertIs(seen[0][1], caches["default"]._cache)

    def test_threads(self):
        import threading

        cache.set("tcount", 0)
        errors = []

        def work(i):
            try:
                c = caches["default"]
                for j in range(200):
                    c.incr("tcount")
                    c.set("t%d" % i, {"j": j})
                    if c.get("t%d" % i) != {"j": j}:
                        errors.append((i, j))
                c.get_or_set("shared_computed", lambda: i)
            except Exception as e:  # pragma: no cover
                errors.append(e)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(cache.get("tcount"), 800)
        self.assertIn(cache.get("shared_computed"), range(4))


# ---- multi-process -------------------------------------------------------

def _worker_sees_delete(i, barrier, queue):
    from django.core.cache import caches as wcaches

    c = wcaches["default"]
    c.set("worker%d" % i, os.getpid())
    barrier.wait(30)  # 1: parent has set "shared", every worker has set its key
    queue.put((i, "before", c.get("shared"), len(c.get_many(["worker%d" % j for j in range(4)]))))
    barrier.wait(30)  # 2
    if i == 0:
        c.delete("shared")
    barrier.wait(30)  # 3: worker 0's delete has returned
    queue.put((i, "after", c.get("shared"), None))


def _worker_get_or_set(calls_key, queue):
    from django.core.cache import caches as wcaches

    c = wcaches["default"]

    def compute():
        c.incr(calls_key)
        time.sleep(0.5)
        return {"computed": True}

    queue.put(c.get_or_set("expensive", compute, 60))


def _worker_incr(n):
    from django.core.cache import caches as wcaches

    c = wcaches["default"]
    for _ in range(n):
        c.incr("counter")
    for _ in range(n // 2):
        c.decr("counter", 2)  # goes through the CAS path


def _run(ctx, target, args_list):
    procs = [ctx.Process(target=target, args=args) for args in args_list]
    for p in procs:
        p.start()
    return procs


class MultiProcessTests(unittest.TestCase):
    def setUp(self):
        cache.clear()

    def _delete_seen_by_all(self, ctx):
        cache.set("shared", "v1")
        barrier, queue = ctx.Barrier(5), ctx.Queue()
        procs = _run(ctx, _worker_sees_delete, [(i, barrier, queue) for i in range(4)])
        barrier.wait(60)
        barrier.wait(60)
        barrier.wait(60)
        results = [queue.get(timeout=60) for _ in range(8)]
        for p in procs:
            p.join(60)
            self.assertEqual(p.exitcode, 0)
        before = [r for r in results if r[1] == "before"]
        after = [r for r in results if r[1] == "after"]
        self.assertEqual(sorted(r[2] for r in before), ["v1"] * 4)
        self.assertEqual([r[3] for r in before], [4] * 4)
        self.assertEqual([r[2] for r in after], [None] * 4)
        self.assertIsNone(cache.get("shared"))
        pids = {cache.get("worker%d" % i) for i in range(4)}
        self.assertEqual(len(pids), 4)

    def test_delete_in_one_worker_seen_by_others_fork(self):
        self._delete_seen_by_all(multiprocessing.get_context("fork"))

    def test_delete_in_one_worker_seen_by_others_spawn(self):
        # spawn: fresh interpreters that attach to the segment by name
        self._delete_seen_by_all(multiprocessing.get_context("spawn"))

    def test_get_or_set_computes_once(self):
        ctx = multiprocessing.get_context("fork")
        cache.set("calls", 0)
        queue = ctx.Queue()
        procs = _run(ctx, _worker_get_or_set, [("calls", queue)] * 6)
        results = [queue.get(timeout=60) for _ in range(6)]
        for p in procs:
            p.join(60)
            self.assertEqual(p.exitcode, 0)
        self.assertEqual(results, [{"computed": True}] * 6)
        self.assertEqual(cache.get("calls"), 1)

    def test_concurrent_incr_is_atomic(self):
        ctx = multiprocessing.get_context("fork")
        cache.set("counter", 0)
        procs = _run(ctx, _worker_incr, [(300,)] * 4)
        for p in procs:
            p.join(120)
            self.assertEqual(p.exitcode, 0)
        self.assertEqual(cache.get("counter"), 4 * 300 - 4 * 150 * 2)


if __name__ == "__main__":
    unittest.main()


class JournalOptionTests(unittest.TestCase):
    """OPTIONS JOURNAL (docs/RELAY.md): the creating process gives the
    segment an invalidation journal for shmcache-relay."""

    def _size(self, **options):
        name = segment_name("djj")
        geometry = {"CAPACITY": 64, "MEMORY": 1 << 20, "MAX_VALUE_LEN": 4096}
        try:
            c = ShmCache(name, {"OPTIONS": dict(geometry, **options)})
            c.set("k", 1)
            c.delete("k")
            return os.stat("/dev/shm/" + name).st_size
        finally:
            shmcache.unlink(name)

    def test_journal_option_adds_a_journal(self):
        plain = self._size()
        self.assertGreaterEqual(self._size(JOURNAL=True) - plain, 1 << 20)
        self.assertGreaterEqual(self._size(journal=2 << 20) - plain, 2 << 20)
