/*
 * backend_memcached.c - "memcached": a real memcached started by the bench
 * on 127.0.0.1 (server.c), driven through libmemcached with one connection
 * per worker, ASCII protocol, TCP_NODELAY, no pipelining: the way a web
 * worker's cache client talks to it. Only the untimed preload pipelines.
 */
#include "bench.h"

#include <errno.h>
#include <libmemcached/memcached.h>
#include <stdlib.h>
#include <string.h>

typedef struct mc_global {
    server_t srv;
} mc_global_t;

static mc_global_t MG;

static memcached_st *connect_mc(int port, int bulk)
{
    memcached_st *mc = memcached_create(NULL);

    if (!mc)
        return NULL;
    if (memcached_server_add(mc, "127.0.0.1", (in_port_t)port) != MEMCACHED_SUCCESS) {
        memcached_free(mc);
        return NULL;
    }
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
    if (bulk) {
        memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_NOREPLY, 1);
        memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_BUFFER_REQUESTS, 1);
    }
    return mc;
}

static int mc_global_init(const bench_opts_t *o, void **g)
{
    uint64_t bytes = 0, mb;
    int rc;

    for (uint64_t i = 0; i < o->keys; i++)
        bytes += KEY_LEN + value_size_for(o, i) + 96;
    mb = bytes / (1u << 20) * 2 + 64;
    if (mb < 256)
        mb = 256;
    rc = server_start(&MG.srv, "memcached", mb);
    if (rc < 0)
        return rc;
    *g = &MG;
    return 0;
}

static int mc_set(void *w, const char *k, size_t kl, const char *v, size_t vl)
{
    memcached_return_t r = memcached_set(w, k, kl, v, vl, 0, 0);
    return r == MEMCACHED_SUCCESS || r == MEMCACHED_BUFFERED ? 0 : -EIO;
}

static int mc_preload(void *g, const bench_opts_t *o)
{
    mc_global_t *x = g;
    memcached_st *mc = connect_mc(x->srv.port, 1), *chk;
    char k[KEY_LEN];
    int rc;

    if (!mc)
        return -ENOMEM;
    rc = preload_keys(o, mc, mc_set);
    memcached_flush_buffers(mc);
    memcached_free(mc);  /* quits after sending everything */
    if (rc < 0)
        return rc;
    /* wait until the last key is visible on a fresh connection */
    chk = connect_mc(x->srv.port, 0);
    if (!chk)
        return -ENOMEM;
    key_format(k, o->keys - 1);
    rc = -ETIMEDOUT;
    for (uint64_t t0 = now_ns(); now_ns() - t0 < 30000000000ull;) {
        size_t len;
        uint32_t fl;
        memcached_return_t r;
        char *v = memcached_get(chk, k, KEY_LEN, &len, &fl, &r);
        free(v);
        if (r == MEMCACHED_SUCCESS) {
            rc = 0;
            break;
        }
    }
    memcached_free(chk);
    return rc;
}

static void mc_global_fini(void *g)
{
    server_stop(&((mc_global_t *)g)->srv);
}

static int mc_worker_init(void *g, void *p, const bench_opts_t *o, void **w)
{
    (void)p;
    (void)o;
    *w = connect_mc(((mc_global_t *)g)->srv.port, 0);
    return *w ? 0 : -ENOMEM;
}

static void mc_worker_fini(void *w)
{
    memcached_free(w);
}

static int mc_get(void *w, const char *k, size_t kl, char *buf, size_t cap,
                  size_t *vlen)
{
    size_t len = 0;
    uint32_t fl;
    memcached_return_t r;
    char *v = memcached_get(w, k, kl, &len, &fl, &r);
    int rc;

    if (r == MEMCACHED_NOTFOUND)
        rc = 1;
    else if (r != MEMCACHED_SUCCESS)
        rc = -EIO;
    else if (len > cap)
        rc = -ENOBUFS;
    else {
        memcpy(buf, v, len);
        rc = 0;
    }
    *vlen = len;
    free(v);
    return rc;
}

static int mc_del(void *w, const char *k, size_t kl)
{
    memcached_return_t r = memcached_delete(w, k, kl, 0);
    return r == MEMCACHED_SUCCESS ? 0 : r == MEMCACHED_NOTFOUND ? 1 : -EIO;
}

static int mc_incr(void *w, const char *k, size_t kl, uint64_t d, uint64_t *res)
{
    uint64_t v = 0;
    memcached_return_t r = memcached_increment(w, k, kl, (uint32_t)d, &v);
    if (res)
        *res = v;
    return r == MEMCACHED_SUCCESS ? 0 : r == MEMCACHED_NOTFOUND ? 1 : -EIO;
}

static int64_t mc_evictions(void *g)
{
    mc_global_t *x = g;
    memcached_st *mc = connect_mc(x->srv.port, 0);
    memcached_return_t r;
    memcached_stat_st *st;
    int64_t ev = -1;

    if (!mc)
        return -1;
    st = memcached_stat(mc, NULL, &r);
    if (st && r == MEMCACHED_SUCCESS)
        ev = (int64_t)st[0].evictions;
    memcached_stat_free(mc, st);
    memcached_free(mc);
    return ev;
}

const backend_t backend_memcached = {
    .name = "memcached",
    .shared = 1,
    .global_init = mc_global_init,
    .preload = mc_preload,
    .global_fini = mc_global_fini,
    .worker_init = mc_worker_init,
    .worker_fini = mc_worker_fini,
    .get = mc_get,
    .set = mc_set,
    .del = mc_del,
    .incr = mc_incr,
    .evictions = mc_evictions,
};
