/*
 * backend_redis.c - "redis": a real redis-server started by the bench on
 * 127.0.0.1 (server.c), driven through hiredis with one connection per
 * worker and one command per round trip (GET, SET, DEL, INCRBY): the way a
 * web worker's cache client talks to it. Only the untimed preload
 * pipelines.
 */
#include "bench.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <string.h>

typedef struct rd_global {
    server_t srv;
} rd_global_t;

static rd_global_t RG;

static redisContext *connect_rd(int port)
{
    redisContext *c = redisConnect("127.0.0.1", port);

    if (c && c->err) {
        redisFree(c);
        return NULL;
    }
    return c;
}

static int rd_global_init(const bench_opts_t *o, void **g)
{
    int rc;

    (void)o;
    rc = server_start(&RG.srv, "redis", 0);
    if (rc < 0)
        return rc;
    *g = &RG;
    return 0;
}

typedef struct rd_bulk {
    redisContext *c;
    uint64_t pending;
} rd_bulk_t;

static int rd_drain(rd_bulk_t *b)
{
    for (; b->pending; b->pending--) {
        void *reply;
        if (redisGetReply(b->c, &reply) != REDIS_OK)
            return -EIO;
        freeReplyObject(reply);
    }
    return 0;
}

/* Pipelined, 1000 commands per round trip (the preload is not timed). */
static int rd_append_set(void *w, const char *k, size_t kl, const char *v, size_t vl)
{
    rd_bulk_t *b = w;

    if (redisAppendCommand(b->c, "SET %b %b", k, kl, v, vl) != REDIS_OK)
        return -EIO;
    return ++b->pending == 1000 ? rd_drain(b) : 0;
}

static int rd_preload(void *g, const bench_opts_t *o)
{
    rd_global_t *x = g;
    rd_bulk_t b = { connect_rd(x->srv.port), 0 };
    int rc;

    if (!b.c)
        return -ECONNREFUSED;
    rc = preload_keys(o, &b, rd_append_set);
    if (rc == 0)
        rc = rd_drain(&b);
    redisFree(b.c);
    return rc;
}

static void rd_global_fini(void *g)
{
    server_stop(&((rd_global_t *)g)->srv);
}

static int rd_worker_init(void *g, void *p, const bench_opts_t *o, void **w)
{
    (void)p;
    (void)o;
    *w = connect_rd(((rd_global_t *)g)->srv.port);
    return *w ? 0 : -ECONNREFUSED;
}

static void rd_worker_fini(void *w)
{
    redisFree(w);
}

static int rd_get(void *w, const char *k, size_t kl, char *buf, size_t cap,
                  size_t *vlen)
{
    redisReply *r = redisCommand(w, "GET %b", k, kl);
    int rc;

    if (!r)
        return -EIO;
    if (r->type == REDIS_REPLY_NIL) {
        rc = 1;
        *vlen = 0;
    } else if (r->type != REDIS_REPLY_STRING) {
        rc = -EIO;
    } else {
        *vlen = r->len;
        if (r->len > cap) {
            rc = -ENOBUFS;
        } else {
            memcpy(buf, r->str, r->len);
            rc = 0;
        }
    }
    freeReplyObject(r);
    return rc;
}

static int rd_set(void *w, const char *k, size_t kl, const char *v, size_t vl)
{
    redisReply *r = redisCommand(w, "SET %b %b", k, kl, v, vl);
    int rc = r && r->type == REDIS_REPLY_STATUS ? 0 : -EIO;
    if (r)
        freeReplyObject(r);
    return rc;
}

static int rd_del(void *w, const char *k, size_t kl)
{
    redisReply *r = redisCommand(w, "DEL %b", k, kl);
    int rc = !r || r->type != REDIS_REPLY_INTEGER ? -EIO : r->integer ? 0 : 1;
    if (r)
        freeReplyObject(r);
    return rc;
}

static int rd_incr(void *w, const char *k, size_t kl, uint64_t d, uint64_t *res)
{
    redisReply *r = redisCommand(w, "INCRBY %b %llu", k, kl, (unsigned long long)d);
    int rc = !r || r->type != REDIS_REPLY_INTEGER ? -EIO : 0;
    if (rc == 0 && res)
        *res = (uint64_t)r->integer;
    if (r)
        freeReplyObject(r);
    return rc;
}

const backend_t backend_redis = {
    .name = "redis",
    .shared = 1,
    .global_init = rd_global_init,
    .preload = rd_preload,
    .global_fini = rd_global_fini,
    .worker_init = rd_worker_init,
    .worker_fini = rd_worker_fini,
    .get = rd_get,
    .set = rd_set,
    .del = rd_del,
    .incr = rd_incr,
};
