/*
 * backend_globallock.c - "globallock": the private backend's table placed
 * in one MAP_SHARED region (created before the workers fork) behind one
 * process-shared robust mutex taken for every get and every write: the
 * design most shared-memory caches use. A worker that dies holding the
 * mutex is recovered (EOWNERDEAD -> pthread_mutex_consistent); the bench
 * kills nobody, so the table is never left half-written.
 */
#include "bench.h"
#include "table.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

typedef struct glk {
    pthread_mutex_t mu;
    char pad[64 - sizeof(pthread_mutex_t) % 64];
    /* the table follows, cache-line aligned */
} glk_t;

typedef struct glk_global {
    glk_t  *g;
    table_t *t;
    size_t  size;
} glk_global_t;

static glk_global_t G;  /* inherited by the forked workers */

static void lock(glk_t *g)
{
    int rc = pthread_mutex_lock(&g->mu);
    if (rc == EOWNERDEAD)
        pthread_mutex_consistent(&g->mu);
}

static void unlock(glk_t *g)
{
    pthread_mutex_unlock(&g->mu);
}

static int glk_global_init(const bench_opts_t *o, void **out)
{
    uint64_t slots = table_slots_for(o), mem = table_memory_for(o);
    pthread_mutexattr_t a;
    void *r;

    G.size = sizeof(glk_t) + table_region_size(slots, mem);
    r = mmap(NULL, G.size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
             -1, 0);
    if (r == MAP_FAILED)
        return -ENOMEM;
    G.g = r;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&G.g->mu, &a);
    pthread_mutexattr_destroy(&a);
    G.t = table_init((char *)r + sizeof(glk_t), slots, mem);
    *out = &G;
    return 0;
}

static int glk_set(void *w, const char *k, size_t kl, const char *v, size_t vl)
{
    glk_global_t *x = w;
    int rc;

    lock(x->g);
    rc = table_set(x->t, k, kl, v, vl);
    unlock(x->g);
    return rc;
}

static int glk_preload(void *g, const bench_opts_t *o)
{
    return preload_keys(o, g, glk_set);
}

static void glk_global_fini(void *g)
{
    glk_global_t *x = g;
    munmap(x->g, x->size);
    memset(x, 0, sizeof *x);
}

static int glk_worker_init(void *g, void *p, const bench_opts_t *o, void **w)
{
    (void)p;
    (void)o;
    *w = g;
    return 0;
}

static int glk_get(void *w, const char *k, size_t kl, char *buf, size_t cap,
                   size_t *vlen)
{
    glk_global_t *x = w;
    int rc;

    lock(x->g);
    rc = table_get(x->t, k, kl, buf, cap, vlen);
    unlock(x->g);
    return rc;
}

static int glk_del(void *w, const char *k, size_t kl)
{
    glk_global_t *x = w;
    int rc;

    lock(x->g);
    rc = table_del(x->t, k, kl);
    unlock(x->g);
    return rc;
}

static int glk_incr(void *w, const char *k, size_t kl, uint64_t d, uint64_t *r)
{
    glk_global_t *x = w;
    int rc;

    lock(x->g);
    rc = table_incr(x->t, k, kl, d, r);
    unlock(x->g);
    return rc;
}

static int64_t glk_evictions(void *g)
{
    glk_global_t *x = g;
    return (int64_t)table_evictions(x->t);
}

const backend_t backend_globallock = {
    .name = "globallock",
    .shared = 1,
    .warm = 1,
    .global_init = glk_global_init,
    .preload = glk_preload,
    .global_fini = glk_global_fini,
    .worker_init = glk_worker_init,
    .get = glk_get,
    .set = glk_set,
    .del = glk_del,
    .incr = glk_incr,
    .evictions = glk_evictions,
};
