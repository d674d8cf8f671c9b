/*
 * backend_null.c - "null": formats the key, calls through the backend
 * table and does nothing else. Its ops/s is the harness's own ceiling, and
 * its latency the cost of timing one op (the sampled clock reads).
 */
#include "bench.h"

static int null_worker_init(void *g, void *p, const bench_opts_t *o, void **w)
{
    (void)g; (void)p; (void)o;
    *w = NULL;
    return 0;
}
static int null_get(void *w, const char *k, size_t kl, char *buf, size_t cap, size_t *vlen)
{
    (void)w; (void)cap;
    __asm__ volatile("" : : "r"(k), "r"(kl), "r"(buf) : "memory");
    *vlen = 0;
    return 0;
}
static int null_set(void *w, const char *k, size_t kl, const char *v, size_t vl)
{
    (void)w;
    __asm__ volatile("" : : "r"(k), "r"(kl), "r"(v), "r"(vl) : "memory");
    return 0;
}
static int null_del(void *w, const char *k, size_t kl)
{
    (void)w;
    __asm__ volatile("" : : "r"(k), "r"(kl) : "memory");
    return 0;
}
static int null_incr(void *w, const char *k, size_t kl, uint64_t d, uint64_t *r)
{
    (void)w; (void)d;
    __asm__ volatile("" : : "r"(k), "r"(kl) : "memory");
    if (r)
        *r = 0;
    return 0;
}
const backend_t backend_null = {
    .name = "null", .shared = 0, .worker_init = null_worker_init,
    .get = null_get, .set = null_set, .del = null_del, .incr = null_incr,
};
