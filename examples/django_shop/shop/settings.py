"""Settings of the shop, chosen through the environment so that e2e.py can run
the same site with each cache backend:

    SHOP_CACHE     locmem | shmcache | pymemcache | redis   (default shmcache)
    SHOP_CACHE_LOCATION   segment name, host:port or redis:// URL
    SHOP_DB        the SQLite file (default shop.sqlite3 beside manage.py)

Nothing but the two views is installed: no sessions, auth, admin or
middleware, so that a request costs what Django itself costs plus the cache
and the database.
"""
import os

BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SECRET_KEY = "django-shop-example-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["shop"]
MIDDLEWARE = []
ROOT_URLCONF = "shop.urls"
WSGI_APPLICATION = "shop.wsgi.application"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("SHOP_DB", os.path.join(BASE_DIR, "shop.sqlite3")),
        # 4 workers write now and then: wait for the write lock, don't fail
        "OPTIONS": {"timeout": 20},
        # keep each worker's connection (and its WAL pragmas) across requests
        "CONN_MAX_AGE": None,
    }
}

_BACKENDS = {
    "locmem": ("django.core.cache.backends.locmem.LocMemCache", "shop"),
    "shmcache": ("shmcache.django.ShmCache", "django_shop"),
    "pymemcache": ("django.core.cache.backends.memcached.PyMemcacheCache", "127.0.0.1:11211"),
    "redis": ("django_redis.cache.RedisCache", "redis://127.0.0.1:6379/0"),
}
_kind = os.environ.get("SHOP_CACHE", "shmcache")
if _kind not in _BACKENDS:
    raise RuntimeError("SHOP_CACHE must be one of %s, not %r" % (", ".join(_BACKENDS), _kind))
_backend, _location = _BACKENDS[_kind]
CACHES = {
    "default": {
        "BACKEND": _backend,
        "LOCATION": os.environ.get("SHOP_CACHE_LOCATION", _location),
        "TIMEOUT": 300,
    }
}
if _kind == "locmem":
    CACHES["default"]["OPTIONS"] = {"MAX_ENTRIES": 10000}

LOGGING = {"version": 1, "disable_existing_loggers": False}
