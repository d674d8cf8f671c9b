/*
 * fuzz_api.c - libFuzzer target: random sequences of API calls against a
 * model, aborting on any answer a cache may not give.
 *
 * The model is a plain map from key to (value, flags, expiry window, stale
 * mark, tags, lease) with shmcache's documented semantics. What it allows
 * the cache that a plain map would not:
 *   - eviction: the cache may have lost an entry (miss, add succeeds,
 *     replace/touch/cas/incr see nothing) only if the segment's eviction
 *     counter moved since the entry was last written; the model then drops
 *     the entry and goes on;
 *   - expiry: the model knows an entry's expiry only within the window of
 *     the set call ([start, end] + ttl, ms of CLOCK_MONOTONIC like the
 *     library); inside that window either answer is accepted and the model
 *     follows the cache (expiry is monotonic: once dead, always dead);
 *   - get_stale may answer a miss where the model still holds a stale
 *     value (it may have been reclaimed), never a value the model lacks;
 *   - a CAS value the model has not seen is not predicted.
 * Never accepted: a value, length or flags that differ from the model's; a
 * hit on a deleted, cleared, invalidated, tag-invalidated or surely expired
 * entry; a lease refused or granted against the rules; a wrong error code.
 *
 * Input: a flags byte (bit 0: tight geometry where evictions happen), then
 * one record per call: op, key, and as many argument bytes as the op reads.
 * Each input starts from the same freshly created segment image.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NKEYS 10
#define NTAGS 6
#define MAXV 64          /* max_value_len of the segment */
#define MAXK 24          /* max_key_len of the segment */

/* ---- segment images, one per geometry ---------------------------------- */

struct image {
    char name[64];
    uint8_t *map, *pristine;
    size_t size;
    uint32_t tagword[NTAGS];
};
static struct image g_img[2];

static void cleanup(void)
{
    for (int i = 0; i < 2; i++)
        if (g_img[i].name[0])
            shmc_unlink(g_img[i].name);
}

static const char *const g_tags[NTAGS] = {"t0", "t1", "t2", "t3", "t4", "t5"};

static void make_image(int tight)
{
    struct image *im = &g_img[tight];
    snprintf(im->name, sizeof(im->name), "/shmc-fuzz-api-%d-%d", (int)getpid(), tight);
    shmc_unlink(im->name);
    shmc_config_t cfg;
    shmc_config_init(&cfg);
    cfg.capacity = tight ? 16 : 1024;
    cfg.memory = tight ? 1024 : 65536;
    cfg.max_key_len = MAXK;
    cfg.max_value_len = MAXV;
    shmc_t *c;
    int r = shmc_open(im->name, SHMC_CREATE | SHMC_EXCL, &cfg, &c);
    if (r) {
        fprintf(stderr, "fuzz_api: create: %s\n", shmc_strerror(r));
        abort();
    }
    static int registered;
    if (!registered++)
        atexit(cleanup);
    shmc_info_t info;
    shmc_info(c, &info);
    im->size = info.segment_size;
    /* Which words of the tag table the tags use (two tags may share one). */
    for (int t = 0; t < NTAGS; t++)
        if (shm_tag_indexes(c, &g_tags[t], 1, &im->tagword[t]))
            abort();
    shmc_close(c);
    char path[128];
    snprintf(path, sizeof(path), "/dev/shm%s", im->name);
    int fd = open(path, O_RDWR);
    if (fd < 0)
        abort();
    im->map = mmap(NULL, im->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (im->map == MAP_FAILED)
        abort();
    im->pristine = malloc(im->size);
    memcpy(im->pristine, im->map, im->size);
}

/* ---- the model ----------------------------------------------------------- */

struct ment {
    int present;            /* holds a value (live, stale or expired) */
    int stale;              /* invalidated (get misses, get_stale may hit) */
    int expired;            /* observed dead by expiry */
    uint8_t val[MAXV];
    size_t vlen;
    uint32_t flags;
    uint64_t exp_lo, exp_hi;/* expiry window, ms; 0 = never */
    int ntags;
    int tags[SHMC_TAGS_MAX];
    uint64_t tseq;          /* model tag sequence when stored */
    uint64_t cas;           /* 0 = unknown */
    int wild;               /* value known, flags/expiry/tags not (an incr that
                               may have updated or recreated it) */
    uint64_t evmark;        /* evictions counter when last written */
    uint64_t lossmark;      /* evictions + reclaims when the lease was granted */
    uint64_t lease;         /* outstanding lease token (0 none) */
    uint64_t lease_lo, lease_hi; /* its deadline window */
    uint64_t lease_tseq;    /* model tag sequence at grant */
    int lease_ntags;        /* tags of the value the lease replaced */
    int lease_tags[SHMC_TAGS_MAX];
    uint64_t old_lease;     /* a spent token, to try again */
};

static struct ment g_m[NKEYS];
static uint64_t g_tagword_last[NTAGS]; /* per tag: last invalidation, by word */
static uint64_t g_tseq;
static struct image *g_cur;
static shmc_t *g_c;
static char g_trace[4096];
static size_t g_trace_len;

static void trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void trace(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (g_trace_len < sizeof(g_trace) - 1) {
        int n = vsnprintf(g_trace + g_trace_len, sizeof(g_trace) - g_trace_len, fmt, ap);
        if (n > 0)
            g_trace_len += (size_t)n;
        if (g_trace_len > sizeof(g_trace) - 1)
            g_trace_len = sizeof(g_trace) - 1;
    }
    va_end(ap);
}

__attribute__((noreturn, format(printf, 1, 2)))
static void disagree(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz_api: cache and model disagree: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\ncalls so far:\n%s\n", g_trace);
    abort();
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t evictions(void)
{
    shmc_stats_t st;
    if (shmc_stats(g_c, &st))
        abort();
    return st.evictions + st.recovered_lost;
}

/* Leases live in slots that hold no live value (a placeholder, or a dead
 * value): the item log may reclaim them, which drops the lease too. */
static uint64_t losses(void)
{
    shmc_stats_t st;
    if (shmc_stats(g_c, &st))
        abort();
    return st.evictions + st.recovered_lost + st.reclaimed;
}

/* The tag words are shared by tags that hash alike: an invalidation of one
 * raises the word of all tags on it. */
static void invalidate_tag_model(int t)
{
    g_tseq++;
    for (int i = 0; i < NTAGS; i++)
        if (g_cur->tagword[i] == g_cur->tagword[t])
            g_tagword_last[i] = g_tseq;
}

static int tags_changed_since(const int *tags, int n, uint64_t since)
{
    for (int i = 0; i < n; i++)
        if (g_tagword_last[tags[i]] > since)
            return 1;
    return 0;
}

enum liveness { DEAD, LIVE, MAYBE };

/* Whether key k's entry answers a get as live, for a call made in [t0, t1]. */
static enum liveness live(int k, uint64_t t0, uint64_t t1)
{
    struct ment *m = &g_m[k];
    if (!m->present || m->stale || m->expired)
        return DEAD;
    if (m->ntags && tags_changed_since(m->tags, m->ntags, m->tseq))
        return DEAD;
    if (m->wild)
        return MAYBE;
    if (!m->exp_lo)
        return LIVE;
    if (t0 >= m->exp_hi)
        return DEAD;
    if (t1 < m->exp_lo)
        return LIVE;
    return MAYBE;
}

/* The cache says k is not live although the model says it may be: accept
 * expiry (MAYBE) or eviction (the counter moved since the last write). */
static void accept_dead(int k, enum liveness l, const char *what)
{
    struct ment *m = &g_m[k];
    if (l == DEAD)
        return;
    if (l == MAYBE) {
        m->expired = 1;
        return;
    }
    if (evictions() != m->evmark) {
        memset(m, 0, sizeof(*m)); /* evicted: value and lease are gone */
        return;
    }
    disagree("%s: k%d is live in the model (no eviction since its last write) but the cache "
             "says it is not",
             what, k);
}

static void stored(int k, const void *val, size_t vlen, uint32_t flags, uint64_t ttl, uint64_t t0,
                   uint64_t t1, const int *tags, int ntags)
{
    struct ment *m = &g_m[k];
    uint64_t old_lease = m->lease ? m->lease : m->old_lease;
    memset(m, 0, sizeof(*m));
    m->present = 1;
    memcpy(m->val, val, vlen);
    m->vlen = vlen;
    m->flags = flags;
    if (ttl) {
        m->exp_lo = t0 + ttl;
        m->exp_hi = t1 + ttl;
    }
    m->ntags = ntags;
    for (int i = 0; i < ntags; i++)
        m->tags[i] = tags[i];
    m->tseq = g_tseq;
    m->evmark = evictions();
    m->old_lease = old_lease;
}

static void check_value(int k, const char *what, const uint8_t *buf, size_t vlen,
                        const shmc_item_info_t *info)
{
    struct ment *m = &g_m[k];
    if (!m->present)
        disagree("%s: k%d returned a value the model does not hold", what, k);
    if (vlen != m->vlen || (buf && memcmp(buf, m->val, vlen) != 0))
        disagree("%s: k%d returned %zu bytes, the model holds %zu other bytes", what, k, vlen, m->vlen);
    if (info && !m->wild && info->flags != m->flags)
        disagree("%s: k%d flags %u, model %u", what, k, info->flags, m->flags);
    /* A stale value's ttl is not checked: once a lease sits on it, the
     * slot's expiry is the lease's deadline (docs/RELIABILITY.md). */
    if (info && !m->wild && !info->stale && (info->ttl_ms == -1) != (m->exp_lo == 0))
        disagree("%s: k%d ttl_ms %" PRId64 " but the model's expiry is %s", what, k, info->ttl_ms,
                 m->exp_lo ? "set" : "none");
    if (info)
        m->cas = info->cas;
}

/* ---- input reading ------------------------------------------------------- */

struct rd {
    const uint8_t *p;
    size_t n;
};

static unsigned take(struct rd *r)
{
    if (!r->n)
        return 0;
    r->n--;
    return *r->p++;
}

static const uint64_t g_ttls[8] = {0, 0, 0, 1, 3, 10, 100000, 0};

static void key_of(int k, char *key, size_t *klen)
{
    *klen = (size_t)snprintf(key, 32, "k%d", k);
}

/* A value: text, or a decimal number for incr. */
static size_t make_value(struct rd *r, uint8_t *v)
{
    unsigned kind = take(r);
    static const char *const nums[] = {"0", "41", "18446744073709551615", "18446744073709551616",
                                       "007", "12a", "99999999999999999999", ""};
    if (kind < 64) {
        const char *s = nums[kind % 8];
        size_t n = strlen(s);
        memcpy(v, s, n);
        return n;
    }
    size_t n = take(r) % (MAXV + 2); /* MAXV + 1: one byte too long */
    for (size_t i = 0; i < n; i++)
        v[i] = (uint8_t)(kind + i * 31);
    return n;
}

/* ---- the calls ------------------------------------------------------------ */

static void do_get(int k, const char *key, size_t klen, struct rd *r, int stale_ok)
{
    uint8_t buf[MAXV + 8];
    size_t cap = (take(r) & 7) == 0 ? take(r) % 8 : sizeof(buf);
    size_t vlen = 12345;
    shmc_item_info_t info;
    memset(&info, 0, sizeof(info));
    uint64_t t0 = now_ms();
    int rc = (stale_ok ? shmc_get_stale : shmc_get)(g_c, key, klen, buf, cap, &vlen, &info);
    uint64_t t1 = now_ms();
    const char *what = stale_ok ? "get_stale" : "get";
    trace("%s k%d cap %zu -> %d\n", what, k, cap, rc);
    enum liveness l = live(k, t0, t1);
    struct ment *m = &g_m[k];
    if (rc == 0 || rc == -ENOBUFS) {
        if (!stale_ok && l == DEAD)
            disagree("get: k%d hit although the model says it is dead", k);
        if (stale_ok && !m->present)
            disagree("get_stale: k%d hit although it was deleted or cleared", k);
        if (stale_ok && l == LIVE && info.stale)
            disagree("get_stale: k%d is live but was returned as stale", k);
        if (stale_ok && l == DEAD && !info.stale)
            disagree("get_stale: k%d is dead but was returned as fresh", k);
        if (rc == -ENOBUFS) {
            if (vlen <= cap || vlen != m->vlen)
                disagree("%s: k%d -ENOBUFS with vlen %zu, cap %zu, model %zu", what, k, vlen, cap, m->vlen);
            return;
        }
        if (vlen > cap)
            disagree("%s: k%d returned 0 with vlen %zu > cap %zu", what, k, vlen, cap);
        check_value(k, what, buf, vlen, &info);
        if (stale_ok && info.stale && l == MAYBE)
            m->expired = 1;
        return;
    }
    if (rc != -ENOENT)
        disagree("%s: k%d returned %s", what, k, shmc_strerror(rc));
    if (l != DEAD)
        accept_dead(k, l, what);
    else if (stale_ok)
        m->present = 0; /* a dead value may have been reclaimed: forget it */
}

static void do_store(int op, int k, const char *key, size_t klen, struct rd *r)
{
    uint8_t val[MAXV + 2];
    size_t vlen = make_value(r, val);
    uint64_t ttl = g_ttls[take(r) % 8];
    uint32_t flags = take(r);
    int tags[SHMC_TAGS_MAX], ntags = 0;
    const char *tagnames[SHMC_TAGS_MAX];
    uint64_t cas = 0;
    if (op == 3) {
        unsigned how = take(r);
        cas = g_m[k].cas ? (how & 1 ? g_m[k].cas : g_m[k].cas + 1024) : how;
    }
    if (op == 4) {
        ntags = (int)(take(r) % (SHMC_TAGS_MAX + 1));
        for (int i = 0; i < ntags; i++) {
            tags[i] = (int)(take(r) % NTAGS);
            tagnames[i] = g_tags[tags[i]];
        }
    }
    static const char *const names[] = {"set", "add", "replace", "cas", "set_tagged"};
    uint64_t t0 = now_ms();
    int rc;
    switch (op) {
    case 0: rc = shmc_set(g_c, key, klen, val, vlen, ttl, flags); break;
    case 1: rc = shmc_add(g_c, key, klen, val, vlen, ttl, flags); break;
    case 2: rc = shmc_replace(g_c, key, klen, val, vlen, ttl, flags); break;
    case 3: rc = shmc_cas(g_c, key, klen, val, vlen, ttl, flags, cas); break;
    default: rc = shmc_set_tagged(g_c, key, klen, val, vlen, ttl, flags, tagnames, (size_t)ntags); break;
    }
    uint64_t t1 = now_ms();
    trace("%s k%d vlen %zu ttl %" PRIu64 " ntags %d -> %d\n", names[op], k, vlen, ttl, ntags, rc);
    if (vlen > MAXV) {
        if (rc != -E2BIG)
            disagree("%s: k%d value of %zu bytes: %s, expected -E2BIG", names[op], k, vlen, shmc_strerror(rc));
        return;
    }
    enum liveness l = live(k, t0, t1);
    int need_live = op == 2 || op == 3, need_dead = op == 1;
    if (rc == 0) {
        if (need_dead && l == LIVE)
            accept_dead(k, l, names[op]);
        if (need_dead && l == MAYBE)
            g_m[k].expired = 1;
        if (need_live && l == DEAD)
            disagree("%s: k%d stored although the model says it is dead", names[op], k);
        if (op == 3 && g_m[k].cas && cas != g_m[k].cas)
            disagree("cas: k%d stored with a CAS that is not the entry's", k);
        stored(k, val, vlen, flags, ttl, t0, t1, tags, ntags);
        return;
    }
    if (rc == -EEXIST && op == 1) {
        if (l == DEAD)
            disagree("add: k%d -EEXIST although the model says it is dead", k);
        return;
    }
    if (rc == -ENOENT && need_live) {
        accept_dead(k, l, names[op]);
        return;
    }
    if (rc == -ESTALE && op == 3) {
        if (l == DEAD)
            disagree("cas: k%d -ESTALE although the model says it is dead", k);
        if (g_m[k].cas && cas == g_m[k].cas)
            disagree("cas: k%d -ESTALE with the entry's own CAS", k);
        return;
    }
    disagree("%s: k%d returned %s", names[op], k, shmc_strerror(rc));
}

static int parse_num(const uint8_t *v, size_t n, uint64_t *out)
{
    if (n == 0 || n > 20)
        return 0;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return 0;
        uint64_t d = (uint64_t)(v[i] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return 0;
        x = x * 10 + d;
    }
    *out = x;
    return 1;
}

static void do_incr(int k, const char *key, size_t klen, struct rd *r)
{
    static const int64_t deltas[8] = {1, 5, -1, -7, INT64_MAX, INT64_MIN, 0, 1000};
    int64_t delta = deltas[take(r) % 8];
    unsigned how = take(r);
    uint64_t init = how & 2 ? UINT64_MAX : 3, res = 0;
    uint64_t ttl = g_ttls[take(r) % 8];
    uint64_t t0 = now_ms();
    int rc = shmc_incr(g_c, key, klen, delta, (how & 1) ? &init : NULL, ttl, &res);
    uint64_t t1 = now_ms();
    trace("incr k%d %" PRId64 " %s -> %d (%" PRIu64 ")\n", k, delta, (how & 1) ? "with initial" : "", rc, res);
    enum liveness l = live(k, t0, t1);
    struct ment *m = &g_m[k];
    uint64_t v = 0, nv = 0;
    int numeric = m->present && parse_num(m->val, m->vlen, &v);
    if (numeric) {
        nv = v;
        if (delta >= 0) {
            nv += (uint64_t)delta; /* wraps */
        } else {
            uint64_t dec = (uint64_t)(-(delta + 1)) + 1;
            nv = dec > nv ? 0 : nv - dec; /* floors at 0 */
        }
    }
    /* What a live entry gives, and what a missing one gives. */
    int live_ok = l != DEAD;
    int dead_ok = l != LIVE || evictions() != m->evmark;
    int as_live = live_ok && (numeric ? rc == 0 && res == nv : rc == -EINVAL);
    int as_dead = dead_ok && ((how & 1) ? rc == 0 && res == init : rc == -ENOENT);
    if (!as_live && !as_dead)
        disagree("incr: k%d returned %s (%" PRIu64 "); live the model expects %s %" PRIu64
                 ", missing %s %" PRIu64,
                 k, shmc_strerror(rc), res, numeric ? "0" : "-EINVAL", nv, (how & 1) ? "0" : "-ENOENT",
                 init);
    if (rc != 0)
        return;
    char num[24];
    int n = snprintf(num, sizeof(num), "%" PRIu64, res);
    if (as_live && as_dead) {
        /* updated or recreated: same digits, other metadata */
        memcpy(m->val, num, (size_t)n);
        m->vlen = (size_t)n;
        m->wild = 1;
        m->cas = 0;
        m->evmark = evictions();
    } else if (as_live) {
        /* the counter keeps its flags, expiry and tags */
        memcpy(m->val, num, (size_t)n);
        m->vlen = (size_t)n;
        m->cas = 0;
        m->evmark = evictions();
    } else {
        if (l != DEAD)
            accept_dead(k, l, "incr");
        stored(k, num, (size_t)n, 0, ttl, t0, t1, NULL, 0);
    }
}

static void do_touch(int k, const char *key, size_t klen, struct rd *r)
{
    uint64_t ttl = g_ttls[take(r) % 8];
    uint64_t t0 = now_ms();
    int rc = shmc_touch(g_c, key, klen, ttl);
    uint64_t t1 = now_ms();
    trace("touch k%d %" PRIu64 " -> %d\n", k, ttl, rc);
    enum liveness l = live(k, t0, t1);
    if (rc == 0) {
        if (l == DEAD)
            disagree("touch: k%d succeeded although the model says it is dead", k);
        struct ment *m = &g_m[k];
        m->exp_lo = ttl ? t0 + ttl : 0;
        m->exp_hi = ttl ? t1 + ttl : 0;
        return;
    }
    if (rc != -ENOENT)
        disagree("touch: k%d returned %s", k, shmc_strerror(rc));
    accept_dead(k, l, "touch");
}

static void do_delete(int k, const char *key, size_t klen, int invalidate)
{
    uint64_t t0 = now_ms();
    int rc = invalidate ? shmc_invalidate(g_c, key, klen) : shmc_delete(g_c, key, klen);
    uint64_t t1 = now_ms();
    const char *what = invalidate ? "invalidate" : "delete";
    trace("%s k%d -> %d\n", what, k, rc);
    enum liveness l = live(k, t0, t1);
    struct ment *m = &g_m[k];
    if (rc == 0) {
        if (l == DEAD)
            disagree("%s: k%d returned 0 although the model says it is dead", what, k);
    } else if (rc == -ENOENT) {
        accept_dead(k, l, what);
    } else {
        disagree("%s: k%d returned %s", what, k, shmc_strerror(rc));
    }
    /* Either way its lease dies; delete drops the value, invalidate keeps
     * it for get_stale. */
    uint64_t old = m->lease ? m->lease : m->old_lease;
    if (invalidate) {
        if (m->present)
            m->stale = 1;
        m->lease = 0;
        m->old_lease = old;
    } else {
        memset(m, 0, sizeof(*m));
        m->old_lease = old;
    }
}

static void do_lease(int k, const char *key, size_t klen, struct rd *r)
{
    static const uint64_t lease_ms[4] = {0, 1, 5, 100000};
    uint64_t lms = lease_ms[take(r) % 4];
    uint8_t buf[MAXV + 8];
    size_t vlen = 0;
    shmc_item_info_t info;
    uint64_t lease = 99;
    uint64_t t0 = now_ms();
    int rc = shmc_get_or_lease(g_c, key, klen, buf, sizeof(buf), &vlen, &info, lms, &lease);
    uint64_t t1 = now_ms();
    trace("get_or_lease k%d %" PRIu64 " -> %d (%" PRIu64 ")\n", k, lms, rc, lease);
    enum liveness l = live(k, t0, t1);
    struct ment *m = &g_m[k];
    if (rc == 0) {
        if (l == DEAD)
            disagree("get_or_lease: k%d hit although the model says it is dead", k);
        if (lease)
            disagree("get_or_lease: k%d hit with a lease", k);
        check_value(k, "get_or_lease", buf, vlen, &info);
        return;
    }
    if (rc == -EBUSY) {
        if (lease)
            disagree("get_or_lease: -EBUSY with a lease");
        if (!m->lease)
            disagree("get_or_lease: k%d -EBUSY but the model holds no lease on it", k);
        if (t0 >= m->lease_hi && m->lease_hi)
            disagree("get_or_lease: k%d -EBUSY but its lease surely expired", k);
        accept_dead(k, l, "get_or_lease");
        return;
    }
    if (rc != -ENOENT)
        disagree("get_or_lease: k%d returned %s", k, shmc_strerror(rc));
    if (!lease)
        disagree("get_or_lease: k%d -ENOENT without a lease", k);
    accept_dead(k, l, "get_or_lease");
    if (m->lease && t1 < m->lease_lo && losses() == m->lossmark)
        disagree("get_or_lease: k%d granted a second lease while the first is unexpired", k);
    if (lease == m->lease || lease == m->old_lease)
        disagree("get_or_lease: k%d granted a token already used", k);
    if (!m->present || m->ntags == 0) {
        m->lease_ntags = 0;
    } else if (!m->lease) {
        /* a lease on a tagged stale value: its tags guard the lease too */
        m->lease_ntags = m->ntags;
        memcpy(m->lease_tags, m->tags, sizeof(m->tags));
    }
    if (m->lease)
        m->old_lease = m->lease;
    m->lease = lease;
    uint64_t d = lms ? lms : SHMC_LEASE_DEFAULT_MS;
    m->lease_lo = t0 + d;
    m->lease_hi = t1 + d;
    m->lease_tseq = g_tseq;
    m->lossmark = losses();
    if (m->present)
        m->stale = 1; /* the value the lease replaces is stale for good */
}

static void do_set_leased(int k, const char *key, size_t klen, struct rd *r)
{
    struct ment *m = &g_m[k];
    unsigned how = take(r);
    uint64_t token = (how & 3) == 0 ? m->old_lease : (how & 3) == 1 ? how + 1 : m->lease;
    uint8_t val[MAXV + 2];
    size_t vlen = make_value(r, val);
    int tags[SHMC_TAGS_MAX], ntags = (int)(take(r) % 3);
    const char *tagnames[SHMC_TAGS_MAX];
    for (int i = 0; i < ntags; i++) {
        tags[i] = (int)(take(r) % NTAGS);
        tagnames[i] = g_tags[tags[i]];
    }
    uint64_t t0 = now_ms();
    int rc = shmc_set_leased_tagged(g_c, key, klen, val, vlen, 0, 7, tagnames, (size_t)ntags, token);
    uint64_t t1 = now_ms();
    trace("set_leased k%d token %" PRIu64 " ntags %d -> %d\n", k, token, ntags, rc);
    /* Both errors may apply; which one wins is not part of the contract. */
    if (token == 0 || vlen > MAXV) {
        if (!(token == 0 && rc == -EINVAL) && !(vlen > MAXV && rc == -E2BIG))
            disagree("set_leased: token %" PRIu64 ", value of %zu bytes gave %s", token, vlen,
                     shmc_strerror(rc));
        return;
    }
    /* The tags of the dead value the lease sits on count only while that
     * value is still there, which the model cannot know (the log may have
     * reclaimed it, and the lease with it). */
    int tok_ok = m->lease && token == m->lease;
    int new_ok = !tags_changed_since(tags, ntags, m->lease_tseq);
    int old_changed = tags_changed_since(m->lease_tags, m->lease_ntags, m->lease_tseq);
    if (rc == 0) {
        if (!tok_ok || !new_ok)
            disagree("set_leased: k%d stored under a lease that is not (or no longer) valid", k);
        stored(k, val, vlen, 7, 0, t0, t1, tags, ntags);
        return;
    }
    if (rc != -ESTALE)
        disagree("set_leased: k%d returned %s", k, shmc_strerror(rc));
    if (tok_ok && new_ok && !old_changed && losses() == m->lossmark)
        disagree("set_leased: k%d refused a valid lease", k);
    if (token == m->lease) {
        m->old_lease = m->lease;
        m->lease = 0;
    }
}

static void do_clear(void)
{
    int rc = shmc_clear(g_c);
    trace("clear -> %d\n", rc);
    if (rc)
        disagree("clear returned %s", shmc_strerror(rc));
    for (int k = 0; k < NKEYS; k++) {
        uint64_t old = g_m[k].lease ? g_m[k].lease : g_m[k].old_lease;
        memset(&g_m[k], 0, sizeof(g_m[k]));
        g_m[k].old_lease = old;
    }
}

struct iter_state {
    uint64_t t0;
    int seen[NKEYS];
};

static int iter_fn(const shmc_entry_t *e, void *arg)
{
    struct iter_state *s = arg;
    char key[32];
    if (e->klen >= sizeof(key) || e->klen < 2)
        disagree("iterate: a key of %zu bytes the model never stored", e->klen);
    memcpy(key, e->key, e->klen);
    key[e->klen] = 0;
    int k = atoi(key + 1);
    if (key[0] != 'k' || k < 0 || k >= NKEYS)
        disagree("iterate: key '%s' the model never stored", key);
    s->seen[k] = 1;
    enum liveness l = live(k, s->t0, now_ms());
    if (l == DEAD)
        disagree("iterate: k%d visited although the model says it is dead", k);
    if (e->vlen != g_m[k].vlen || (!g_m[k].wild && e->flags != g_m[k].flags))
        disagree("iterate: k%d vlen %zu flags %u, model %zu %u", k, e->vlen, e->flags, g_m[k].vlen,
                 g_m[k].flags);
    return 0;
}

static void do_iterate(void)
{
    struct iter_state s;
    memset(&s, 0, sizeof(s));
    s.t0 = now_ms();
    int rc = shmc_iterate(g_c, iter_fn, &s);
    uint64_t t1 = now_ms();
    trace("iterate -> %d\n", rc);
    if (rc)
        disagree("iterate returned %s", shmc_strerror(rc));
    for (int k = 0; k < NKEYS; k++)
        if (!s.seen[k])
            accept_dead(k, live(k, s.t0, t1), "iterate");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int tight = data[0] & 1;
    if (!g_img[tight].pristine)
        make_image(tight);
    g_cur = &g_img[tight];
    memcpy(g_cur->map, g_cur->pristine, g_cur->size);
    if (shmc_open(g_cur->name, 0, NULL, &g_c))
        abort();
    memset(g_m, 0, sizeof(g_m));
    memset(g_tagword_last, 0, sizeof(g_tagword_last));
    g_tseq = 0;
    g_trace_len = 0;
    g_trace[0] = 0;
    struct rd r = {data + 1, size - 1};
    for (unsigned steps = 0; r.n && steps < 200; steps++) {
        unsigned op = take(&r) % 20;
        unsigned kb = take(&r);
        int k = (int)(kb % NKEYS);
        char key[64];
        size_t klen;
        key_of(k, key, &klen);
        if (kb == 255 && op < 15) {
            /* one key over max_key_len: every keyed call says -E2BIG */
            memset(key, 'x', MAXK + 1);
            size_t vl;
            char b[8];
            int rc = op & 1 ? shmc_set(g_c, key, MAXK + 1, "v", 1, 0, 0)
                            : shmc_get(g_c, key, MAXK + 1, b, sizeof(b), &vl, NULL);
            trace("long key -> %d\n", rc);
            if (rc != -E2BIG)
                disagree("a key over max_key_len gave %s", shmc_strerror(rc));
            continue;
        }
        switch (op) {
        case 0: case 1: case 2: do_get(k, key, klen, &r, 0); break;
        case 3: do_get(k, key, klen, &r, 1); break;
        case 4: case 5: do_store(0, k, key, klen, &r); break;
        case 6: do_store(1, k, key, klen, &r); break;
        case 7: do_store(2, k, key, klen, &r); break;
        case 8: do_store(3, k, key, klen, &r); break;
        case 9: do_store(4, k, key, klen, &r); break;
        case 10: do_incr(k, key, klen, &r); break;
        case 11: do_touch(k, key, klen, &r); break;
        case 12: do_delete(k, key, klen, 0); break;
        case 13: do_delete(k, key, klen, 1); break;
        case 14: do_lease(k, key, klen, &r); break;
        case 15: do_set_leased(k, key, klen, &r); break;
        case 16: {
            int t = (int)(take(&r) % NTAGS);
            int rc = shmc_invalidate_tag(g_c, g_tags[t]);
            trace("invalidate_tag %s -> %d\n", g_tags[t], rc);
            if (rc)
                disagree("invalidate_tag returned %s", shmc_strerror(rc));
            invalidate_tag_model(t);
            break;
        }
        case 17:
            if (kb < 16)
                do_clear();
            else
                do_iterate();
            break;
        case 18: {
            int64_t n = shmc_flush_expired(g_c);
            trace("flush_expired -> %" PRId64 "\n", n);
            if (n < 0)
                disagree("flush_expired returned %s", shmc_strerror((int)n));
            break;
        }
        default:
            if (kb < 8) {
                struct timespec ts = {0, (long)(kb % 4 + 1) * 1000000L};
                nanosleep(&ts, NULL); /* let short TTLs and leases run out */
                trace("sleep %u ms\n", kb % 4 + 1);
            } else {
                do_get(k, key, klen, &r, 0);
            }
            break;
        }
    }
    int64_t problems = shmc_check(g_c, NULL, NULL);
    if (problems != 0)
        disagree("shmc_check found %" PRId64 " problems after the calls", problems);
    shmc_close(g_c);
    g_c = NULL;
    return 0;
}
