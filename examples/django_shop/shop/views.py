"""The shop's views: the cache-aside pattern of the tutorial this project
started from.  Reads: get from the cache with a default; on a miss read the
database and set the entry with a timeout.  Updates: write the database,
then delete the entry, so that the next read of any worker fetches the new
row.  With a per-process cache (LocMemCache) that delete reaches only the
worker that served the update: the others keep serving the old version."""
import os
from decimal import Decimal

from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.http import Http404, HttpResponse, HttpResponseNotAllowed

from .models import Product

PAGE = 20
TIMEOUT = 300
_MISS = object()
_PID = str(os.getpid())  # imported in each worker (gunicorn without --preload)


def _text(body):
    # Content-Length lets a client (wrk) see the end of an answer on servers
    # that neither chunk nor announce a close (uwsgi's http-socket).
    data = body.encode()
    r = HttpResponse(data, content_type="text/plain")
    r["Content-Length"] = str(len(data))
    r["X-Worker"] = _PID  # lets e2e.py wait until every worker has booted
    return r


def _key(pid):
    return "product:%d" % pid


def product_data(pid):
    """(name, price, version) of product pid, through the cache."""
    data = cache.get(_key(pid), _MISS)
    if data is _MISS:
        row = Product.objects.filter(pk=pid).values_list("name", "price", "version").first()
        if row is None:
            raise Http404("no product %d" % pid)
        data = (row[0], str(row[1]), row[2])
        cache.set(_key(pid), data, TIMEOUT)
    return data


def page(request, n):
    """Page n: products n*20+1 .. n*20+20, one line each."""
    first = n * PAGE + 1
    lines = ["%d %s %s v%d" % ((pid,) + product_data(pid)) for pid in range(first, first + PAGE)]
    return _text("\n".join(lines) + "\n")


def product(request, pid):
    """One product: "<id> <price> v<version>"."""
    name, price, version = product_data(pid)
    return _text("%d %s v%d\n" % (pid, price, version))


def update(request, pid):
    """POST: a new price and version in the database, then the cache entry
    deleted.  Answers "<id> <price> v<version>" as now stored."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    with transaction.atomic():
        n = Product.objects.filter(pk=pid).update(price=F("price") + Decimal("0.01"),
                                                  version=F("version") + 1)
        if not n:
            raise Http404("no product %d" % pid)
        # same transaction: this worker holds SQLite's write lock until commit
        price, version = Product.objects.filter(pk=pid).values_list("price", "version").get()
    cache.delete(_key(pid))
    return _text("%d %s v%d\n" % (pid, price, version))
