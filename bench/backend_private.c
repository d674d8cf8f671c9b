/*
 * backend_private.c - "private": the limit (DESIGN.md, "Numbers"). The
 * inline table (itable.c) in memory of the worker's own: key and value in
 * the slot, linear probing, a fast strong hash, no lock, nothing shared,
 * nothing validated. A get copies the value out into the caller's buffer as
 * shmc_get does, a set overwrites in place.
 *
 * Every worker thread has its own table and loads every key into it before
 * the timed run. With N processes that is N tables, one per process: the
 * limit's scaling is what N processes doing private work reach, which is
 * what "scales as well as the limit" compares with.
 *
 * Sizing: --capacity slots if given, else 2 x keys (the slot count the other
 * tables get by default; load 1/2); slots fit the workload's largest value
 * (itable_slot_bytes), --memory is not used (values that outgrow their slot
 * are malloc'd). Pages: the system's default for private memory, or
 * transparent huge pages with --limit-huge (to compare with a segment that
 * has them).
 */
#include "bench.h"
#include "itable.h"

#include <errno.h>

static int limit_set(void *w, const char *k, size_t kl, const char *v, size_t vl)
{
    return itable_set(w, k, kl, v, vl);
}

static int limit_worker_init(void *g, void *p, const bench_opts_t *o, void **out)
{
    uint32_t vmax = o->mix == MIX_INCR ? 20 : o->vmax;
    itable_t *t = itable_create(o->capacity ? o->capacity : o->keys * 2, KEY_LEN, vmax,
                                o->limit_huge);
    int rc;

    (void)g;
    (void)p;
    if (!t)
        return -ENOMEM;
    rc = preload_keys(o, t, limit_set);
    if (rc < 0) {
        itable_destroy(t);
        return rc;
    }
    *out = t;
    return 0;
}

static void limit_worker_fini(void *w)
{
    itable_destroy(w);
}

static int limit_get(void *w, const char *k, size_t kl, char *buf, size_t cap,
                     size_t *vlen)
{
    return itable_get(w, k, kl, buf, cap, vlen);
}

static int limit_del(void *w, const char *k, size_t kl)
{
    return itable_del(w, k, kl);
}

static int limit_incr(void *w, const char *k, size_t kl, uint64_t d, uint64_t *r)
{
    return itable_incr(w, k, kl, d, r);
}

const backend_t backend_private = {
    .name = "private",
    .shared = 0,
    .worker_init = limit_worker_init,
    .worker_fini = limit_worker_fini,
    .get = limit_get,
    .set = limit_set,
    .del = limit_del,
    .incr = limit_incr,
};
