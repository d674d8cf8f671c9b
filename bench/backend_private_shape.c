/*
 * backend_private_shape.c - "private-shape": the bench's table of
 * shmcache's own shape (table.c: tagged buckets, items outside the slots)
 * in memory of the worker's own, no lock, no sharing. Against shmcache it
 * tells what sharing and validating cost with the same layout; it is not
 * the limit (that is "private", backend_private.c). Every worker thread has
 * its own table and loads every key into it before the timed run, so a
 * delete or set in one worker is not seen by any other - exactly what a
 * shared cache exists to provide. Also holds the geometry the globallock
 * backend shares.
 */
#include "bench.h"
#include "table.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

typedef struct priv {
    table_t *t;
    void    *region;
    size_t   size;
} priv_t;

uint64_t table_slots_for(const bench_opts_t *o)
{
    return o->capacity ? o->capacity : o->keys * 2;
}

uint64_t table_memory_for(const bench_opts_t *o)
{
    uint64_t sum = 0;

    if (o->memory)
        return o->memory;
    for (uint64_t i = 0; i < o->keys; i++)
        sum += table_item_bytes(KEY_LEN, value_size_for(o, i));
    return sum + (1u << 20);
}

static int priv_set(void *w, const char *k, size_t kl, const char *v, size_t vl)
{
    return table_set(((priv_t *)w)->t, k, kl, v, vl);
}

static int priv_worker_init(void *g, void *p, const bench_opts_t *o, void **out)
{
    priv_t *w = calloc(1, sizeof *w);
    uint64_t slots = table_slots_for(o), mem = table_memory_for(o);
    int rc;

    (void)g;
    (void)p;
    if (!w)
        return -ENOMEM;
    w->size = table_region_size(slots, mem);
    w->region = mmap(NULL, w->size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (w->region == MAP_FAILED) {
        free(w);
        return -ENOMEM;
    }
    w->t = table_init(w->region, slots, mem);
    rc = preload_keys(o, w, priv_set);
    if (rc < 0) {
        munmap(w->region, w->size);
        free(w);
        return rc;
    }
    *out = w;
    return 0;
}

static void priv_worker_fini(void *x)
{
    priv_t *w = x;
    munmap(w->region, w->size);
    free(w);
}

static int priv_get(void *w, const char *k, size_t kl, char *buf, size_t cap,
                    size_t *vlen)
{
    return table_get(((priv_t *)w)->t, k, kl, buf, cap, vlen);
}

static int priv_del(void *w, const char *k, size_t kl)
{
    return table_del(((priv_t *)w)->t, k, kl);
}

static int priv_incr(void *w, const char *k, size_t kl, uint64_t d, uint64_t *r)
{
    return table_incr(((priv_t *)w)->t, k, kl, d, r);
}

const backend_t backend_private_shape = {
    .name = "private-shape",
    .shared = 0,
    .worker_init = priv_worker_init,
    .worker_fini = priv_worker_fini,
    .get = priv_get,
    .set = priv_set,
    .del = priv_del,
    .incr = priv_incr,
};
