/*
 * backend_shmcache.c - "shmcache": the library. The parent creates the
 * segment (bench_shm_name) and preloads it; every worker process attaches
 * with its own shmc_open() after fork, as pre-fork web workers would, and
 * its threads share that handle (handles are thread-safe).
 */
#include "bench.h"

#include <errno.h>
#include <shmcache.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sc_global {
    shmc_t *c;    /* the parent's handle: preload and stats */
} sc_global_t;

static sc_global_t SG;

static int sc_global_init(const bench_opts_t *o, void **g)
{
    shmc_config_t cfg;
    uint64_t bytes = 0;
    int rc;

    for (uint64_t i = 0; i < o->keys; i++) {
        uint32_t v = value_size_for(o, i);
        bytes += KEY_LEN + (v < 24 ? 24 : v) + 64;
    }
    shmc_config_init(&cfg);
    /* The segment promises to hold `capacity` keys (layout 2 sizes its
     * index from that, with headroom), so the key count is the capacity. */
    cfg.capacity = o->capacity ? o->capacity : o->keys;
    cfg.memory = o->memory ? o->memory : bytes + bytes / 2 + (4u << 20);
    cfg.max_value_len = o->vmax > 64 ? o->vmax : 64;
    if (o->stripes)
        cfg.stripes = o->stripes;
    shmc_unlink(bench_shm_name);
    rc = shmc_open(bench_shm_name, SHMC_CREATE | SHMC_EXCL, &cfg, &SG.c);
    if (rc < 0) {
        fprintf(stderr, "shmcache-bench: shmc_open(%s): %s\n", bench_shm_name,
                shmc_strerror(rc));
        return rc;
    }
    *g = &SG;
    return 0;
}

static int sc_set(void *w, const char *k, size_t kl, const char *v, size_t vl)
{
    return shmc_set(w, k, kl, v, vl, 0, 0);
}

static int sc_preload(void *g, const bench_opts_t *o)
{
    return preload_keys(o, ((sc_global_t *)g)->c, sc_set);
}

static void sc_global_fini(void *g)
{
    sc_global_t *x = g;
    shmc_close(x->c);
    x->c = NULL;
    shmc_unlink(bench_shm_name);
}

static int sc_proc_init(void *g, void **p)
{
    shmc_t *c;
    int rc;

    (void)g;
    rc = shmc_open(bench_shm_name, 0, NULL, &c);
    if (rc < 0) {
        fprintf(stderr, "shmcache-bench: worker shmc_open: %s\n", shmc_strerror(rc));
        return rc;
    }
    *p = c;
    return 0;
}

static void sc_proc_fini(void *p)
{
    shmc_close(p);
}

static int sc_worker_init(void *g, void *p, const bench_opts_t *o, void **w)
{
    (void)g;
    (void)o;
    *w = p;
    return 0;
}

static int sc_get(void *w, const char *k, size_t kl, char *buf, size_t cap,
                  size_t *vlen)
{
    int rc = shmc_get(w, k, kl, buf, cap, vlen, NULL);
    return rc == -ENOENT ? 1 : rc;
}

static int sc_del(void *w, const char *k, size_t kl)
{
    int rc = shmc_delete(w, k, kl);
    return rc == -ENOENT ? 1 : rc;
}

static int sc_incr(void *w, const char *k, size_t kl, uint64_t d, uint64_t *res)
{
    int rc = shmc_incr(w, k, kl, (int64_t)d, NULL, 0, res);
    return rc == -ENOENT ? 1 : rc;
}

static int64_t sc_evictions(void *g)
{
    shmc_stats_t st;
    sc_global_t *x = g;

    if (shmc_stats(x->c, &st) < 0)
        return -1;
    return (int64_t)st.evictions;
}

static void sc_describe(void *g, char *buf, size_t n)
{
    shmc_stats_t st;
    sc_global_t *x = g;

    if (shmc_stats(x->c, &st) < 0) {
        buf[0] = 0;
        return;
    }
    snprintf(buf, n,
             "\"capacity\": %llu, \"limit_maxbytes\": %llu, \"bytes\": %llu, "
             "\"curr_items\": %llu, \"stripes\": %u, \"cmd_get\": %llu, \"get_hits\": %llu, "
             "\"get_misses\": %llu, \"get_locked\": %llu, \"cmd_set\": %llu, "
             "\"evictions\": %llu, \"reclaimed\": %llu, \"lock_recoveries\": %llu",
             (unsigned long long)st.capacity, (unsigned long long)st.limit_maxbytes,
             (unsigned long long)st.bytes, (unsigned long long)st.curr_items, st.stripes,
             (unsigned long long)st.cmd_get, (unsigned long long)st.get_hits,
             (unsigned long long)st.get_misses, (unsigned long long)st.get_locked,
             (unsigned long long)st.cmd_set, (unsigned long long)st.evictions,
             (unsigned long long)st.reclaimed, (unsigned long long)st.lock_recoveries);
}

const backend_t backend_shmcache = {
    .name = "shmcache",
    .shared = 1,
    .warm = 1,
    .global_init = sc_global_init,
    .preload = sc_preload,
    .global_fini = sc_global_fini,
    .proc_init = sc_proc_init,
    .proc_fini = sc_proc_fini,
    .worker_init = sc_worker_init,
    .get = sc_get,
    .set = sc_set,
    .del = sc_del,
    .incr = sc_incr,
    .evictions = sc_evictions,
    .describe = sc_describe,
};

/*
 * "shmcache-tagged": the same segment, every entry stored under two tags
 * (one shared by a hundredth of the keys, one by all), so every get also
 * checks two tag words: what tags cost a reader.
 */
static int sct_set(void *w, const char *k, size_t kl, const char *v, size_t vl)
{
    char group[16];
    unsigned h = 0;
    for (size_t i = 0; i < kl; i++)
        h = h * 31u + (unsigned char)k[i];
    snprintf(group, sizeof group, "g:%u", h % 100u);
    const char *tags[2] = {group, "all"};
    return shmc_set_tagged(w, k, kl, v, vl, 0, 0, tags, 2);
}

static int sct_preload(void *g, const bench_opts_t *o)
{
    return preload_keys(o, ((sc_global_t *)g)->c, sct_set);
}

const backend_t backend_shmcache_tagged = {
    .name = "shmcache-tagged",
    .shared = 1,
    .warm = 1,
    .global_init = sc_global_init,
    .preload = sct_preload,
    .global_fini = sc_global_fini,
    .proc_init = sc_proc_init,
    .proc_fini = sc_proc_fini,
    .worker_init = sc_worker_init,
    .get = sc_get,
    .set = sct_set,
    .del = sc_del,
    .incr = sc_incr,
    .evictions = sc_evictions,
    .describe = sc_describe,
};

/*
 * "shmcache-lease": cache-aside through leases. A get is
 * shmc_get_or_lease; the set that follows a miss (the prices mix) stores
 * with shmc_set_leased under the lease that miss was handed, a miss told
 * -EBUSY stores nothing (another worker is recomputing). What leases cost.
 */
typedef struct scl_worker {
    shmc_t *c;
    uint64_t lease;
} scl_worker_t;

static int scl_worker_init(void *g, void *p, const bench_opts_t *o, void **w)
{
    (void)g;
    (void)o;
    scl_worker_t *x = calloc(1, sizeof *x);
    if (!x)
        return -ENOMEM;
    x->c = p;
    *w = x;
    return 0;
}

static void scl_worker_fini(void *w) { free(w); }

static int scl_get(void *w, const char *k, size_t kl, char *buf, size_t cap, size_t *vlen)
{
    scl_worker_t *x = w;
    x->lease = 0;
    int rc = shmc_get_or_lease(x->c, k, kl, buf, cap, vlen, NULL, 1000, &x->lease);
    return rc == -ENOENT || rc == -EBUSY ? 1 : rc;
}

static int scl_set(void *w, const char *k, size_t kl, const char *v, size_t vl)
{
    scl_worker_t *x = w;
    uint64_t lease = x->lease;
    x->lease = 0;
    if (!lease)
        return shmc_set(x->c, k, kl, v, vl, 0, 0);
    int rc = shmc_set_leased(x->c, k, kl, v, vl, 0, 0, lease);
    return rc == -ESTALE ? 0 : rc; /* refused as stale: correct, not an error */
}

static int scl_del(void *w, const char *k, size_t kl)
{
    return sc_del(((scl_worker_t *)w)->c, k, kl);
}

static int scl_incr(void *w, const char *k, size_t kl, uint64_t d, uint64_t *res)
{
    return sc_incr(((scl_worker_t *)w)->c, k, kl, d, res);
}

const backend_t backend_shmcache_lease = {
    .name = "shmcache-lease",
    .shared = 1,
    .warm = 1,
    .global_init = sc_global_init,
    .preload = sc_preload,
    .global_fini = sc_global_fini,
    .proc_init = sc_proc_init,
    .proc_fini = sc_proc_fini,
    .worker_init = scl_worker_init,
    .worker_fini = scl_worker_fini,
    .get = scl_get,
    .set = scl_set,
    .del = scl_del,
    .incr = scl_incr,
    .evictions = sc_evictions,
    .describe = sc_describe,
};

/*
 * "shmcache-near": gets through the per-process near cache: a zero-copy
 * view, re-validated against the segment on every call, then released.
 * Each worker process enables it on its own handle (bounded to twice the
 * data). The bytes are touched once (a checksum of the first and last
 * word), as a caller would use them, instead of being copied.
 */
static int scn_proc_init(void *g, void **p)
{
    int rc = sc_proc_init(g, p);
    if (rc < 0)
        return rc;
    shmc_stats_t st;
    size_t bound = 64u << 20;
    if (shmc_stats(*p, &st) == 0 && st.limit_maxbytes * 2 > bound)
        bound = (size_t)(st.limit_maxbytes * 2);
    rc = shmc_near_enable(*p, bound);
    if (rc < 0) {
        fprintf(stderr, "shmcache-bench: shmc_near_enable: %s\n", shmc_strerror(rc));
        shmc_close(*p);
    }
    return rc;
}

static int scn_get(void *w, const char *k, size_t kl, char *buf, size_t cap, size_t *vlen)
{
    shmc_view_t v;
    int rc = shmc_get_view(w, k, kl, &v);
    if (rc == -ENOENT)
        return 1;
    if (rc < 0)
        return rc;
    *vlen = v.len;
    /* hand the caller what --verify looks at, without a full copy */
    size_t n = v.len < cap ? v.len : cap;
    if (n > 16)
        n = 16;
    memcpy(buf, v.data, n);
    shmc_view_release(&v);
    return 0;
}

const backend_t backend_shmcache_near = {
    .name = "shmcache-near",
    .shared = 1,
    .warm = 1,
    .global_init = sc_global_init,
    .preload = sc_preload,
    .global_fini = sc_global_fini,
    .proc_init = scn_proc_init,
    .proc_fini = sc_proc_fini,
    .worker_init = sc_worker_init,
    .get = scn_get,
    .set = sc_set,
    .del = sc_del,
    .incr = sc_incr,
    .evictions = sc_evictions,
    .describe = sc_describe,
};
