"""shmcache: a cache shared by the processes of one machine.

A thin layer over the C extension ``shmcache._shmcache`` (which wraps
libshmcache).  ``Cache`` is the extension's type with a context manager,
a ``repr`` and two helpers written in Python; everything else (and the
exception classes) comes straight from the extension.

    >>> import shmcache
    >>> with shmcache.Cache("myapp", capacity=4096, max_value_len=65536) as c:
    ...     c.set("k", b"v", ttl=60)
    ...     c.get("k")
    b'v'

Keys are str (encoded as UTF-8) or bytes; values are bytes (any buffer is
accepted on input).  Times are seconds (int or float), 0 or None meaning
"never expires".  See docs/PYTHON.md.
"""

from . import _shmcache
from ._shmcache import (  # noqa: F401  (re-exported)
    KEY_MAX,
    LEASE_DEFAULT_MS,
    LIBRARY_VERSION,
    TAG_MAX_LEN,
    TAGS_MAX,
    VALUE_MAX,
    BadSegment,
    Busy,
    Closed,
    Deadlock,
    Error,
    Exists,
    InvalidArgument,
    NoSpace,
    NotFound,
    PermissionDenied,
    ReadOnly,
    Stale,
    TooBig,
    strerror,
    unlink,
)

__all__ = [
    "Cache", "unlink", "strerror", "Error", "InvalidArgument", "TooBig",
    "NotFound", "Exists", "Stale", "Busy", "NoSpace", "Deadlock",
    "BadSegment", "PermissionDenied", "ReadOnly", "Closed", "KEY_MAX",
    "VALUE_MAX", "TAGS_MAX", "TAG_MAX_LEN", "LEASE_DEFAULT_MS", "LIBRARY_VERSION",
]

__version__ = LIBRARY_VERSION


class Cache(_shmcache.Cache):
    """A handle on the shmcache segment *name* (created when missing unless
    ``create=False``).

    ``Cache(name, create=True, capacity=None, memory=None, max_key_len=None,
    max_value_len=None, stripes=None, mode=None, exclusive=False,
    readonly=False, any_owner=False, journal=None)``.  The geometry
    arguments are used only when this call creates the segment; ``None``
    means the library's default (65536 entries, capacity*256 bytes, 250-byte
    keys, 1 MiB values, mode 0600).  ``journal=True`` (or a size in bytes)
    gives the new segment an invalidation journal for shmcache-relay.  The handle is thread-safe and may be used in a child after
    ``os.fork()``.
    """

    __slots__ = ()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __repr__(self):
        state = "closed" if self.closed else "open"
        return "<shmcache.Cache %r %s>" % (self.name, state)

    def __reduce__(self):
        # Pickled (e.g. sent to a multiprocessing pool) as "attach by name".
        return (_attach, (self.__class__, self.name, self.readonly))

    def get_or_compute(self, key, compute, ttl=0, lease_ttl=10.0, wait=10.0):
        """The value of *key*; on a miss only one caller (across threads and
        processes) runs ``compute()`` (which must return bytes) and stores
        the result, the others wait for it (up to *wait* seconds, after which
        they compute it themselves without storing it).  A result computed
        from data invalidated meanwhile is returned but not stored."""
        value, lease = self.get_or_lease(key, lease_ttl)
        if value is not None:
            return value
        if not lease:
            value, lease = self.get_or_wait(key, wait, lease_ttl)
            if value is not None:
                return value
        try:
            value = compute()
        except BaseException:
            if lease:
                self.delete(key)  # lets a waiter take the lease at once
            raise
        if lease:
            self.set_leased(key, value, lease, ttl)
        return value



def _attach(cls, name, readonly):
    return cls(name, create=False, readonly=readonly)
