/*
 * redis.c - the Redis side that both relay threads share: parsing
 * redis://[[user]:password@]host[:port][/db], connecting (with AUTH and
 * SELECT) and the backoff between attempts, stream IDs.
 *
 * Debian's hiredis (0.14) has no TLS, so rediss:// is refused with a clear
 * message instead of silently connecting in clear text.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "relay.h"

static int fail(char *err, size_t cap, const char *msg)
{
    snprintf(err, cap, "%s", msg);
    return -1;
}

int redis_parse_url(const char *s, struct redis_url *u, char *err, size_t errcap)
{
    memset(u, 0, sizeof(*u));
    u->port = 6379;
    if (!strncmp(s, "rediss://", 9))
        return fail(err, errcap, "rediss:// (TLS) is not supported: this build's hiredis has no TLS");
    if (strncmp(s, "redis://", 8))
        return fail(err, errcap, "the URL must start with redis://");
    s += 8;
    const char *at = strrchr(s, '@');
    if (at) {
        const char *colon = memchr(s, ':', (size_t)(at - s));
        if (!colon)
            return fail(err, errcap, "credentials must be [user]:password@");
        size_t ul = (size_t)(colon - s), pl = (size_t)(at - colon - 1);
        if (ul >= sizeof(u->user) || pl >= sizeof(u->password) || pl == 0)
            return fail(err, errcap, "user or password too long or empty password");
        memcpy(u->user, s, ul);
        memcpy(u->password, colon + 1, pl);
        s = at + 1;
    }
    const char *end = s + strcspn(s, "/");
    const char *hs = s, *he;
    const char *rest;
    if (*s == '[') { /* [IPv6]:port */
        he = memchr(s, ']', (size_t)(end - s));
        if (!he)
            return fail(err, errcap, "unterminated [IPv6 address]");
        hs = s + 1;
        rest = he + 1;
    } else {
        he = memchr(s, ':', (size_t)(end - s));
        if (!he)
            he = end;
        rest = he;
    }
    if (he == hs || (size_t)(he - hs) >= sizeof(u->host))
        return fail(err, errcap, "missing or too long host");
    memcpy(u->host, hs, (size_t)(he - hs));
    if (*rest == ':') {
        char *e;
        errno = 0;
        long p = strtol(rest + 1, &e, 10);
        if (e == rest + 1 || e != end || errno || p < 1 || p > 65535)
            return fail(err, errcap, "bad port (1..65535)");
        u->port = (int)p;
    } else if (rest != end) {
        return fail(err, errcap, "unexpected characters after the host");
    }
    if (*end == '/' && end[1]) {
        char *e;
        errno = 0;
        long db = strtol(end + 1, &e, 10);
        if (e == end + 1 || *e || errno || db < 0 || db > 1000000)
            return fail(err, errcap, "bad database number after '/'");
        u->db = (int)db;
    }
    return 0;
}

/* One command whose reply must not be an error. */
static bool ok_cmd(redisContext *rc, const char *who, int argc, const char **argv)
{
    redisReply *rep = redisCommandArgv(rc, argc, argv, NULL);
    bool ok = rep && rep->type != REDIS_REPLY_ERROR;
    if (!ok)
        relay_log("%s: %s failed: %s", who, argv[0], rep ? rep->str : rc->errstr);
    if (rep)
        freeReplyObject(rep);
    return ok;
}

redisContext *redis_connect(const struct relay *r, const char *who)
{
    struct timeval tv = {2, 0};
    redisContext *rc = redisConnectWithTimeout(r->url.host, r->url.port, tv);
    if (!rc || rc->err) {
        relay_log("%s: cannot connect to %s:%d: %s", who, r->url.host, r->url.port,
                  rc ? rc->errstr : "out of memory");
        if (rc)
            redisFree(rc);
        return NULL;
    }
    /* Replies come within XREAD's BLOCK time; longer means a dead peer. */
    struct timeval rt = {5, 0};
    redisSetTimeout(rc, rt);
    redisEnableKeepAlive(rc);
    if (r->url.password[0]) {
        const char *a[] = {"AUTH", r->url.user, r->url.password};
        bool ok = r->url.user[0] ? ok_cmd(rc, who, 3, a)
                                 : ok_cmd(rc, who, 2, (const char *[]){"AUTH", r->url.password});
        if (!ok)
            goto fail;
    }
    if (r->url.db) {
        char db[16];
        snprintf(db, sizeof(db), "%d", r->url.db);
        if (!ok_cmd(rc, who, 2, (const char *[]){"SELECT", db}))
            goto fail;
    }
    return rc;
fail:
    redisFree(rc);
    return NULL;
}

void redis_backoff(uint64_t *delay_ms)
{
    uint64_t left = *delay_ms;
    while (left && !relay_stop) {
        uint64_t step = left < 50 ? left : 50;
        struct timespec ts = {0, (long)step * 1000000L};
        nanosleep(&ts, NULL);
        left -= step;
    }
    *delay_ms = *delay_ms * 2 > 5000 ? 5000 : *delay_ms * 2;
}

int sid_parse(const char *s, size_t n, struct sid *id)
{
    char buf[48];
    if (n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    unsigned long long a, b;
    char tail;
    if (sscanf(buf, "%llu-%llu%c", &a, &b, &tail) != 2)
        return -1;
    id->ms = a;
    id->seq = b;
    return 0;
}

int sid_cmp(struct sid a, struct sid b)
{
    if (a.ms != b.ms)
        return a.ms < b.ms ? -1 : 1;
    if (a.seq != b.seq)
        return a.seq < b.seq ? -1 : 1;
    return 0;
}

void sid_fmt(struct sid id, char *buf, size_t cap)
{
    snprintf(buf, cap, "%llu-%llu", (unsigned long long)id.ms, (unsigned long long)id.seq);
}

static const char *const kinds[] = {
    [SHMC_JOURNAL_DELETE] = "delete", [SHMC_JOURNAL_INVALIDATE] = "invalidate",
    [SHMC_JOURNAL_TAG] = "tag", [SHMC_JOURNAL_CLEAR] = "clear", [SHMC_JOURNAL_SET] = "set",
};

const char *kind_name(uint32_t kind)
{
    return kind < sizeof(kinds) / sizeof(kinds[0]) ? kinds[kind] : NULL;
}

uint32_t kind_parse(const char *s, size_t n)
{
    for (uint32_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
        if (kinds[k] && strlen(kinds[k]) == n && !memcmp(kinds[k], s, n))
            return k;
    return 0;
}
