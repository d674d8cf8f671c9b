"""Django cache backend on shmcache: one cache shared by every worker process
of the machine, so a ``cache.delete()`` in one gunicorn/uwsgi worker is seen
by all the others at once.

    CACHES = {
        "default": {
            "BACKEND": "shmcache.django.ShmCache",
            "LOCATION": "myapp",            # the segment name (/dev/shm/myapp)
            "TIMEOUT": 300,
            "OPTIONS": {
                "CAPACITY": 65536,          # entries
                "MEMORY": 64 << 20,         # bytes of item memory
                "MAX_VALUE_LEN": 1 << 20,   # largest value (after pickling)
            },
        }
    }

Values are pickled, except that exact ``int`` values in 0..2**64-1 are stored
as ASCII decimal (so ``incr``/``decr`` are one atomic library call and other
languages can read counters), and ``str``/``bytes`` values are stored as
UTF-8/raw bytes. The type is kept in the entry's 32-bit flags.

Other OPTIONS: MAX_KEY_LEN, STRIPES, MODE (geometry, used only by the process
that creates the segment), LEASE_TIMEOUT (seconds a get_or_set computation
may take before another worker takes over, default 30), WAIT_TIMEOUT
(seconds get_or_set waits for another worker's computation, default
LEASE_TIMEOUT), PICKLE_PROTOCOL (default pickle.HIGHEST_PROTOCOL), JOURNAL
(True or a size in bytes: the creating process gives the segment an
invalidation journal, so that shmcache-relay carries every cache.delete()
to the other hosts; docs/RELAY.md).
MAX_ENTRIES and CULL_FREQUENCY are ignored: the segment's size is fixed and
it evicts the coldest entries itself.
"""

import asyncio
import hashlib
import os
import pickle
import re
import threading
import time
import warnings

from django.core.cache.backends.base import (
    DEFAULT_TIMEOUT,
    BaseCache,
    CacheKeyWarning,
    memcache_key_warnings,
)

import shmcache

# Type tags kept in the entry's flags.
FLAG_PICKLE = 0
FLAG_INT = 1
FLAG_BYTES = 2
FLAG_STR = 3

_U64_MAX = (1 << 64) - 1
_MEMCACHE_MAX_KEY_LENGTH = 250
_BAD_KEY_CHAR = re.compile(r"[\x00-\x20\x7f]")

# One handle per segment name and process, shared by every backend instance
# (Django makes one per thread) and inherited across fork().
_handles = {}
_handles_lock = threading.Lock()


def _reinit_lock():
    # a fork() while another thread held the lock must not deadlock the child
    global _handles_lock
    _handles_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reinit_lock)

_GEOMETRY = ("capacity", "memory", "max_key_len", "max_value_len", "stripes", "mode")


def _option(options, name, default=None):
    for k in (name.upper(), name.lower()):
        if k in options:
            return options[k]
    return default


def _open(name, options):
    with _handles_lock:
        c = _handles.get(name)
        if c is None or c.closed:
            geometry = {g: _option(options, g) for g in _GEOMETRY}
            geometry = {k: int(v) for k, v in geometry.items() if v is not None}
            journal = _option(options, "journal")  # True, or the journal's bytes
            if journal:
                geometry["journal"] = journal
            c = shmcache.Cache(name, create=True, **geometry)
            _handles[name] = c
        return c


class ShmCache(BaseCache):
    """A django.core.cache backend storing entries in a shmcache segment."""

    def __init__(self, location, params):
        super().__init__(params)
        options = params.get("OPTIONS") or {}
        self._name = location or "django_cache"
        self._options = options
        self._lease_ttl = float(_option(options, "lease_timeout", 30))
        self._wait = float(_option(options, "wait_timeout", self._lease_ttl))
        self._protocol = int(_option(options, "pickle_protocol", pickle.HIGHEST_PROTOCOL))
        self._c = None
        self._max_key = 0

    # ---- plumbing -------------------------------------------------------

    @property
    def _cache(self):
        """The process-wide handle on the segment (opened on first use)."""
        c = self._c
        if c is None or c.closed:
            c = self._c = _open(self._name, self._options)
            self._max_key = c.max_key_len
        return c

    def _key(self, key, version):
        """(handle, segment key) for a Django key: make_key, validate_key,
        and keys the segment cannot hold (empty, or longer than max_key_len
        bytes) are replaced by a digest."""
        key = self.make_key(key, version)
        self.validate_key(key)
        c = self._c
        if c is None or c.closed:
            c = self._cache
        if type(key) is str and key.isascii() and 0 < len(key) <= self._max_key:
            return c, key
        return c, self._long_key(key)

    def _long_key(self, key):
        b = key.encode("utf-8") if isinstance(key, str) else bytes(key)
        if 0 < len(b) <= self._max_key:
            return b
        d = b"\x00sha256:" + hashlib.sha256(b).hexdigest().encode()
        return d if len(d) <= self._max_key else d[:self._max_key]

    def validate_key(self, key):
        # Same warnings as BaseCache (memcached's rules), with a fast path.
        if type(key) is str and len(key) <= _MEMCACHE_MAX_KEY_LENGTH and (
            key.isprintable() and " " not in key
        ):
            return  # fast path: no control characters, no space, short
        if isinstance(key, str) and (
            len(key) > _MEMCACHE_MAX_KEY_LENGTH or _BAD_KEY_CHAR.search(key)
        ):
            for warning in memcache_key_warnings(key):
                warnings.warn(warning, CacheKeyWarning)

    def _ttl(self, timeout):
        """Seconds for the library (0 = never), or None: do not store."""
        if timeout is DEFAULT_TIMEOUT:
            timeout = self.default_timeout
        if timeout is None:
            return 0
        if timeout <= 0:
            return None
        return timeout

    def _encode(self, value):
        t = type(value)
        if t is int:
            if 0 <= value <= _U64_MAX:
                return b"%d" % value, FLAG_INT
        elif t is str:
            b = value.encode("utf-8")
            if not b.isdigit():  # digit-only text must not be incr'able
                return b, FLAG_STR
        elif t is bytes:
            if not value.isdigit():
                return value, FLAG_BYTES
        return pickle.dumps(value, self._protocol), FLAG_PICKLE

    @staticmethod
    def _decode(data, flags):
        if flags == FLAG_PICKLE:
            return pickle.loads(data)
        if flags == FLAG_INT:
            return int(data)
        if flags == FLAG_STR:
            return data.decode("utf-8")
        return data

    # ---- Django's cache API -----------------------------------------------

    def get(self, key, default=None, version=None):
        c, k = self._key(key, version)
        item = c.get_item(k)
        if item is None:
            return default
        return self._decode(item[0], item[1])

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        c, k = self._key(key, version)
        data, flags = self._encode(value)
        ttl = self._ttl(timeout)
        if ttl is None:
            c.delete(k)
            return
        try:
            c.set(k, data, ttl, flags)
        except shmcache.TooBig:
            # As Django's memcached backends: the key must not keep its old
            # value when the new one cannot be stored.
            c.delete(k)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        c, k = self._key(key, version)
        data, flags = self._encode(value)
        ttl = self._ttl(timeout)
        if ttl is None:
            return not c.contains(k)
        try:
            return c.add(k, data, ttl, flags)
        except shmcache.TooBig:
            return False

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        c, k = self._key(key, version)
        ttl = self._ttl(timeout)
        if ttl is None:
            return c.delete(k)
        return c.touch(k, ttl)

    def delete(self, key, version=None):
        c, k = self._key(key, version)
        return c.delete(k)

    def has_key(self, key, version=None):
        c, k = self._key(key, version)
        return c.contains(k)

    def _keys(self, keys, version):
        """(handle, [segment key]) for Django keys, as _key for each."""
        make_key, validate, c = self.make_key, self.validate_key, self._cache
        maxk = self._max_key
        out = []
        for key in keys:
            k = make_key(key, version)
            validate(k)
            if not (type(k) is str and k.isascii() and 0 < len(k) <= maxk):
                k = self._long_key(k)
            out.append(k)
        return c, out

    def get_many(self, keys, version=None):
        keys = list(keys)
        c, segkeys = self._keys(keys, version)
        decode = self._decode
        return {key: decode(item[0], item[1])
                for key, item in zip(keys, c.get_many_items(segkeys)) if item is not None}

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        if not data:
            return []
        ttl = self._ttl(timeout)
        keys = list(data)
        c, segkeys = self._keys(keys, version)
        if ttl is None:
            c.delete_many(segkeys)
            return []
        encode = self._encode
        too_big = c.set_many([(k,) + encode(data[key]) for k, key in zip(segkeys, keys)], ttl)
        if not too_big:
            return []
        # As set(): a key whose new value cannot be stored loses its old one.
        c.delete_many(too_big)
        bykey = dict(zip(segkeys, keys))
        return [bykey[k] for k in too_big]

    def delete_many(self, keys, version=None):
        c, segkeys = self._keys(keys, version)
        if segkeys:
            c.delete_many(segkeys)

    def clear(self):
        """Invalidate every entry of the segment (all prefixes and versions),
        for every process, in O(1)."""
        self._cache.clear()

    def incr(self, key, delta=1, version=None):
        c, k = self._key(key, version)
        if type(delta) is int and 0 <= delta <= 0x7FFFFFFFFFFFFFFF:
            try:
                r = c.incr(k, delta)
            except shmcache.InvalidArgument:
                pass  # not a natively stored int: read-modify-cas below
            else:
                if r is None:
                    raise ValueError("Key '%s' not found" % key)
                if r >= delta:
                    return r
                # Wrapped past 2**64: store the exact (pickled) value.
                self._incr_cas(c, k, key, 1 << 64)
                return r + (1 << 64)
        return self._incr_cas(c, k, key, delta)

    def _incr_cas(self, c, k, key, delta):
        """Atomic read-modify-write with CAS: for negative deltas (Django
        allows results below 0, the library floors at 0) and pickled values."""
        while True:
            item = c.get_item(k)
            if item is None:
                raise ValueError("Key '%s' not found" % key)
            data, flags, cas, ttl = item
            new = self._decode(data, flags) + delta
            v, nflags = self._encode(new)
            if ttl is None:
                ttl = 0
            elif ttl <= 0:
                ttl = 0.001
            r = c.cas(k, v, cas, ttl, nflags)
            if r:
                return new
            if r is None:
                raise ValueError("Key '%s' not found" % key)

    def decr(self, key, delta=1, version=None):
        return self.incr(key, -delta, version=version)

    def get_or_set(self, key, default, timeout=DEFAULT_TIMEOUT, version=None):
        """As Django's, but a missing value is computed once across all
        processes: the first caller gets a lease and computes, the others
        wait for its result (up to WAIT_TIMEOUT, then compute it themselves)."""
        c, k = self._key(key, version)
        value, flags, lease = c.get_or_lease(k, self._lease_ttl, True)
        if value is None and not lease:
            value, flags, lease = c.get_or_wait(k, self._wait, self._lease_ttl, True)
        return self._got_or_compute(c, k, value, flags, lease, key, default, timeout, version)

    def _got_or_compute(self, c, k, value, flags, lease, key, default, timeout, version):
        """The end of get_or_set once the lease call answered: the value,
        or compute it (with the lease: store it unless it went stale)."""
        if value is not None:
            return self._decode(value, flags)
        if not lease:  # the other worker is still at it: Django's fallback
            if callable(default):
                default = default()
            self.add(key, default, timeout=timeout, version=version)
            return self.get(key, default, version=version)
        try:
            if callable(default):
                default = default()
            data, flags = self._encode(default)
        except BaseException:
            c.delete(k)  # release the lease: a waiter takes over at once
            raise
        ttl = self._ttl(timeout)
        if ttl is None:
            c.delete(k)
            return default
        try:
            stored = c.set_leased(k, data, lease, ttl, flags)
        except shmcache.TooBig:
            c.delete(k)
            return default
        if not stored:
            # Deleted, invalidated or set by someone else since the lease:
            # serve what is there now, as Django's base implementation does.
            return self.get(key, default, version=version)
        return default

    def close(self, **kwargs):
        # Django calls this at the end of every request: the handle is kept
        # for the life of the process (it is cheap and shared).
        pass

    # ---- Django's async cache API (Django >= 4.0 calls these) ----------------
    #
    # BaseCache implements them with sync_to_async: a hop to a worker thread
    # and back, tens of microseconds, for calls that take well under one
    # here.  Nothing below waits (a get is lock-free; a write holds a stripe
    # lock for a few hundred nanoseconds), so each one runs the library call
    # in the event loop's thread.  The one call that may wait, get_or_set
    # behind another process's lease, polls with asyncio.sleep instead.
    # Signatures are Django's; on Django 3.2 nothing calls them.

    async def aget(self, key, default=None, version=None):
        return self.get(key, default, version)

    async def aset(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self.set(key, value, timeout, version)

    async def aadd(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self.add(key, value, timeout, version)

    async def atouch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self.touch(key, timeout, version)

    async def adelete(self, key, version=None):
        return self.delete(key, version)

    async def ahas_key(self, key, version=None):
        return self.has_key(key, version)

    async def aget_many(self, keys, version=None):
        return self.get_many(keys, version)

    async def aset_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self.set_many(data, timeout, version)

    async def adelete_many(self, keys, version=None):
        return self.delete_many(keys, version)

    async def aincr(self, key, delta=1, version=None):
        return self.incr(key, delta, version)

    async def adecr(self, key, delta=1, version=None):
        return self.decr(key, delta, version)

    async def aincr_version(self, key, delta=1, version=None):
        return self.incr_version(key, delta, version)

    async def adecr_version(self, key, delta=1, version=None):
        return self.decr_version(key, delta, version)

    async def aclear(self):
        return self.clear()

    async def aclose(self, **kwargs):
        return self.close(**kwargs)

    async def aget_or_set(self, key, default, timeout=DEFAULT_TIMEOUT, version=None):
        """get_or_set for coroutines: while another caller holds the lease
        the event loop keeps running (polls every 1..50 ms, up to
        WAIT_TIMEOUT)."""
        c, k = self._key(key, version)
        value, flags, lease = c.get_or_lease(k, self._lease_ttl, True)
        if value is None and not lease:
            deadline = time.monotonic() + self._wait
            pause = 0.001
            while value is None and not lease and time.monotonic() < deadline:
                await asyncio.sleep(pause)
                pause = min(pause * 2, 0.05)
                value, flags, lease = c.get_or_lease(k, self._lease_ttl, True)
        return self._got_or_compute(c, k, value, flags, lease, key, default, timeout, version)
