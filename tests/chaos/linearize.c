/*
 * linearize.c - per-key linearizability (staleness) checker.
 *
 * W writer processes each own the keys k with k % W == w and, key by key,
 * publish increasing versions (set), deletes and invalidates; writer 0 also
 * clears the whole cache now and then. Every write is logged with the
 * CLOCK_MONOTONIC time taken just before the call and just after it returned.
 * R reader processes get random keys and log (key, start, end, version seen
 * or miss). Logs live in MAP_SHARED memory; the parent checks them after the
 * run. Values carry key, version and checksum (chaosutil.h).
 *
 * A read r of key k that began at r.t0 and ended at r.t1 is wrong when
 *   1. its value is torn, of another key, or a version never set;
 *   2. it returns version v while a set of a newer version v' > v had
 *      returned before r.t0 (stale read);
 *   3. it returns a version whose set returned before a delete/invalidate of
 *      k, or a clear, that itself returned before r.t0 (resurrected value);
 *   4. it returns a version whose set had not yet begun at r.t1 (a value from
 *      the future);
 *   5. it misses although a set of k returned before r.t0 and no delete,
 *      invalidate or clear could be ordered between that set and the read
 *      (lost write). Checked only when the run had no evictions and no
 *      recovered entries, which the geometry is sized for.
 *
 * Usage: linearize [--seconds S] [--writers W] [--readers R] [--keys K]
 *                  [--seed X] [--inject-stale N]
 * --inject-stale N is the checker's self-test: every N-th hit is reported
 * one version older than it was, which must make the run fail.
 * Exit 0 when every read is explained, 1 otherwise.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shmcache.h"
#include "chaosutil.h"

#define MAX_PROCS 16
#define EV_SET 0u
#define EV_DEL 1u
#define EV_CLEAR 2u
#define MISS UINT32_MAX
#define BAD (UINT32_MAX - 1)
#define VAL_MAX 512u

struct wev {            /* one write, in the writer's program order */
    uint32_t key;
    uint32_t type;      /* EV_* */
    uint64_t version;   /* for EV_SET */
    uint64_t t0, t1;
};

struct rev {            /* one read */
    uint32_t key;
    uint32_t version;   /* MISS, BAD, or the version seen */
    uint64_t t0, t1;
};

struct plog {
    _Atomic uint64_t n;
    uint64_t cap;
    size_t off;         /* byte offset of the records in the arena */
    char bad[160];      /* first bad value, for the report */
};

struct shared {
    _Atomic int stop;
    struct plog w[MAX_PROCS], r[MAX_PROCS];
};

static struct shared *g_sh;
static uint8_t *g_arena;
static char g_name[64];
static uint32_t g_keys = 64, g_writers = 2, g_readers = 2;

static void keyname(char *k, size_t cap, uint32_t i) { snprintf(k, cap, "lin:%05u", i); }

static int writer(uint32_t w, uint64_t seed)
{
    shmc_t *c;
    if (shmc_open(g_name, 0, NULL, &c))
        return 2;
    struct plog *lg = &g_sh->w[w];
    struct wev *ev = (struct wev *)(void *)(g_arena + lg->off);
    uint64_t rs = cu_mix(seed) | 1;
    uint8_t val[VAL_MAX];
    uint64_t *ver = calloc(g_keys, sizeof(*ver));
    uint32_t mine = (g_keys - w + g_writers - 1) / g_writers;
    while (!atomic_load_explicit(&g_sh->stop, memory_order_relaxed)) {
        uint64_t n = atomic_load_explicit(&lg->n, memory_order_relaxed);
        if (n >= lg->cap)
            break;
        uint32_t k = w + g_writers * cu_below(&rs, mine);
        char key[32];
        keyname(key, sizeof(key), k);
        uint32_t p = cu_below(&rs, 1000);
        struct wev e = {k, EV_SET, 0, 0, 0};
        int r;
        if (w == 0 && p < 2) {
            e.type = EV_CLEAR;
            e.t0 = cu_now_ns();
            r = shmc_clear(c);
            e.t1 = cu_now_ns();
        } else if (p < 80) {
            e.type = EV_DEL;
            e.t0 = cu_now_ns();
            r = (p & 1) ? shmc_delete(c, key, strlen(key)) : shmc_invalidate(c, key, strlen(key));
            e.t1 = cu_now_ns();
            if (r == -ENOENT)
                r = 0;
        } else {
            e.version = ++ver[k];
            uint32_t len = CV_HDR + cu_below(&rs, VAL_MAX - CV_HDR);
            cv_make(val, len, k, e.version);
            e.t0 = cu_now_ns();
            r = shmc_set(c, key, strlen(key), val, len, 0, 0);
            e.t1 = cu_now_ns();
        }
        if (r) {
            snprintf(lg->bad, sizeof(lg->bad), "writer %u: %s", w, shmc_strerror(r));
            break;
        }
        ev[n] = e;
        atomic_store_explicit(&lg->n, n + 1, memory_order_release);
        if (cu_below(&rs, 16) == 0)
            cu_sleep_us(cu_below(&rs, 50)); /* vary the interleavings */
    }
    free(ver);
    shmc_close(c);
    return 0;
}

static int reader(uint32_t i, uint64_t seed)
{
    shmc_t *c;
    if (shmc_open(g_name, 0, NULL, &c))
        return 2;
    struct plog *lg = &g_sh->r[i];
    struct rev *ev = (struct rev *)(void *)(g_arena + lg->off);
    uint64_t rs = cu_mix(seed) | 1;
    uint8_t buf[VAL_MAX];
    while (!atomic_load_explicit(&g_sh->stop, memory_order_relaxed)) {
        uint64_t n = atomic_load_explicit(&lg->n, memory_order_relaxed);
        if (n >= lg->cap)
            break;
        uint32_t k = cu_below(&rs, g_keys);
        char key[32];
        keyname(key, sizeof(key), k);
        size_t vlen = 0;
        struct rev e = {k, MISS, 0, 0};
        e.t0 = cu_now_ns();
        int r = shmc_get(c, key, strlen(key), buf, sizeof(buf), &vlen, NULL);
        e.t1 = cu_now_ns();
        if (r == 0) {
            uint64_t v = 0;
            const char *why = cv_verify(buf, vlen, k, &v);
            if (why || v >= BAD) {
                e.version = BAD;
                if (!lg->bad[0])
                    snprintf(lg->bad, sizeof(lg->bad), "reader %u, key %u: %s", i, k, why ? why : "version");
            } else {
                e.version = (uint32_t)v;
            }
        } else if (r != -ENOENT) {
            e.version = BAD;
            if (!lg->bad[0])
                snprintf(lg->bad, sizeof(lg->bad), "reader %u, key %u: get returned %s", i, k,
                         shmc_strerror(r));
        }
        ev[n] = e;
        atomic_store_explicit(&lg->n, n + 1, memory_order_release);
    }
    shmc_close(c);
    return 0;
}

/* Per key: its writes in program order (one writer per key). */
struct kev {
    struct wev *e;
    size_t n, cap;
    uint64_t *set_at;   /* index in e of version v's set, by version */
    size_t nver;
};

/* Index of the last event of list (sorted by t1) with t1 < t, or -1. */
static long last_before(const struct wev *e, size_t n, uint64_t t)
{
    long lo = 0, hi = (long)n - 1, ans = -1;
    while (lo <= hi) {
        long mid = (lo + hi) / 2;
        if (e[mid].t1 < t) {
            ans = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return ans;
}

/* First clear with t0 > t (clears sorted by t0), or n. */
static size_t first_clear_starting_after(const struct wev *cl, size_t n, uint64_t t)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cl[mid].t0 > t)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static void usage(void)
{
    fprintf(stderr, "usage: linearize [--seconds S] [--writers W] [--readers R] [--keys K] [--seed X]\n"
                    "                 [--inject-stale N]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    double seconds = 5;
    uint64_t inject = 0; /* self-test: make every inject-th hit one version older */
    uint64_t seed = cu_now_ns();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        if (!strcmp(a, "--seconds")) seconds = atof(v);
        else if (!strcmp(a, "--writers")) g_writers = (uint32_t)atoi(v);
        else if (!strcmp(a, "--readers")) g_readers = (uint32_t)atoi(v);
        else if (!strcmp(a, "--keys")) g_keys = (uint32_t)atoi(v);
        else if (!strcmp(a, "--seed")) seed = strtoull(v, NULL, 0);
        else if (!strcmp(a, "--inject-stale")) inject = (uint64_t)atoll(v);
        else usage();
    }
    if (g_writers < 1 || g_writers > MAX_PROCS || g_readers < 1 || g_readers > MAX_PROCS ||
        g_keys < g_writers || seconds <= 0)
        usage();
    /* Log room: generous for the rates of this machine, capped so a long
     * run stops logging (and says so) instead of exhausting memory. */
    uint64_t wcap = (uint64_t)(seconds * 400000) + 1000, rcap = (uint64_t)(seconds * 1500000) + 1000;
    if (wcap > 8000000) wcap = 8000000;
    if (rcap > 16000000) rcap = 16000000;
    size_t bytes = (size_t)(g_writers * wcap * sizeof(struct wev) + g_readers * rcap * sizeof(struct rev));
    g_sh = mmap(NULL, sizeof(*g_sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    g_arena = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (g_sh == MAP_FAILED || g_arena == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    size_t off = 0;
    for (uint32_t i = 0; i < g_writers; i++) {
        g_sh->w[i].cap = wcap;
        g_sh->w[i].off = off;
        off += wcap * sizeof(struct wev);
    }
    for (uint32_t i = 0; i < g_readers; i++) {
        g_sh->r[i].cap = rcap;
        g_sh->r[i].off = off;
        off += rcap * sizeof(struct rev);
    }
    snprintf(g_name, sizeof(g_name), "/shmc-lin-%d", (int)getpid());
    /* Ample room: no eviction, so a miss is a checkable claim. */
    shmc_config_t cfg;
    shmc_config_init(&cfg);
    cfg.capacity = g_keys * 16 < 1024 ? 1024 : g_keys * 16;
    cfg.memory = cfg.capacity * 1024;
    cfg.max_value_len = VAL_MAX;
    cfg.max_key_len = 32;
    shmc_t *c;
    int r = shmc_open(g_name, SHMC_CREATE | SHMC_EXCL, &cfg, &c);
    if (r) {
        fprintf(stderr, "linearize: create %s: %s\n", g_name, shmc_strerror(r));
        return 1;
    }
    printf("linearize: %s, %u writers, %u readers, %u keys, %.1f s, seed %" PRIu64 "\n", g_name,
           g_writers, g_readers, g_keys, seconds, seed);
    pid_t pids[2 * MAX_PROCS];
    uint32_t np = 0;
    fflush(NULL);
    for (uint32_t i = 0; i < g_writers; i++) {
        pid_t p = fork();
        if (p == 0)
            _exit(writer(i, seed + i));
        pids[np++] = p;
    }
    for (uint32_t i = 0; i < g_readers; i++) {
        pid_t p = fork();
        if (p == 0)
            _exit(reader(i, seed + 1000 + i));
        pids[np++] = p;
    }
    cu_sleep_us((uint64_t)(seconds * 1e6));
    atomic_store(&g_sh->stop, 1);
    int failed_procs = 0;
    for (uint32_t i = 0; i < np; i++) {
        int st;
        waitpid(pids[i], &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            failed_procs++;
    }
    shmc_stats_t st;
    shmc_stats(c, &st);
    int64_t problems = shmc_check(c, NULL, NULL);
    shmc_close(c);
    shmc_unlink(g_name);

    /* Gather writes per key (program order = time order per key) and the
     * clears (all from writer 0, so in time order). */
    struct kev *ks = calloc(g_keys, sizeof(*ks));
    struct wev *clears = NULL;
    size_t nclears = 0, clcap = 0;
    uint64_t nwrites = 0, full = 0;
    for (uint32_t w = 0; w < g_writers; w++) {
        struct plog *lg = &g_sh->w[w];
        struct wev *ev = (struct wev *)(void *)(g_arena + lg->off);
        uint64_t n = atomic_load(&lg->n);
        nwrites += n;
        full += n >= lg->cap;
        for (uint64_t j = 0; j < n; j++) {
            if (ev[j].type == EV_CLEAR) {
                if (nclears == clcap) {
                    clcap = clcap ? 2 * clcap : 64;
                    clears = realloc(clears, clcap * sizeof(*clears));
                }
                clears[nclears++] = ev[j];
                continue;
            }
            struct kev *k = &ks[ev[j].key];
            if (k->n == k->cap) {
                k->cap = k->cap ? 2 * k->cap : 256;
                k->e = realloc(k->e, k->cap * sizeof(*k->e));
            }
            k->e[k->n++] = ev[j];
        }
    }
    for (uint32_t k = 0; k < g_keys; k++) {
        struct kev *kv = &ks[k];
        uint64_t maxv = 0;
        for (size_t j = 0; j < kv->n; j++)
            if (kv->e[j].type == EV_SET && kv->e[j].version > maxv)
                maxv = kv->e[j].version;
        kv->nver = maxv + 1;
        kv->set_at = malloc(kv->nver * sizeof(uint64_t));
        for (size_t j = 0; j < kv->n; j++)
            if (kv->e[j].type == EV_SET)
                kv->set_at[kv->e[j].version] = j;
    }
    bool check_miss = st.evictions == 0 && st.recovered_lost == 0;
    uint64_t nreads = 0, hits = 0, bad = 0, stale = 0, resurrected = 0, future = 0, lost = 0;
    char first[256] = "";
    for (uint32_t i = 0; i < g_readers; i++) {
        struct plog *lg = &g_sh->r[i];
        struct rev *rv = (struct rev *)(void *)(g_arena + lg->off);
        uint64_t n = atomic_load(&lg->n);
        full += n >= lg->cap;
        nreads += n;
        for (uint64_t j = 0; j < n; j++) {
            if (inject && j % inject == 0 && rv[j].version != MISS && rv[j].version != BAD &&
                rv[j].version > 1)
                rv[j].version--;
            const struct rev *e = &rv[j];
            struct kev *kv = &ks[e->key];
            long last = last_before(kv->e, kv->n, e->t0);           /* last write done before */
            long lastc = last_before(clears, nclears, e->t0);        /* last clear done before */
            const char *why = NULL;
            if (e->version == BAD) {
                bad++;
                why = "bad value";
            } else if (e->version != MISS) {
                hits++;
                uint64_t v = e->version;
                if (v == 0 || v >= kv->nver) {
                    bad++;
                    why = "version never set";
                } else {
                    const struct wev *s = &kv->e[kv->set_at[v]];
                    if (s->t0 > e->t1) {
                        future++;
                        why = "version whose set began after the read ended";
                    } else if (last >= 0 && kv->e[last].type == EV_SET && kv->e[last].version > v) {
                        stale++;
                        why = "stale: a newer set returned before the read began";
                    } else if (last >= 0 && kv->e[last].type == EV_DEL && (long)kv->set_at[v] < last) {
                        resurrected++;
                        why = "resurrected: a delete/invalidate returned before the read began";
                    } else if (lastc >= 0 && s->t1 < clears[lastc].t0) {
                        resurrected++;
                        why = "resurrected: a clear returned before the read began";
                    }
                }
            } else if (check_miss && last >= 0 && kv->e[last].type == EV_SET) {
                /* A miss is explained only by a delete of the key or a
                 * clear that may be ordered after that set and before the
                 * end of the read: a later delete of the key (its events
                 * are in program order) that began before the read ended. */
                const struct wev *s = &kv->e[last];
                bool ok = false;
                for (size_t q = (size_t)last + 1; !ok && q < kv->n && kv->e[q].t0 < e->t1; q++)
                    ok = kv->e[q].type == EV_DEL;
                /* a clear that ended after the set began and began before the read ended */
                size_t ci = first_clear_starting_after(clears, nclears, e->t1);
                if (!ok && ci > 0 && clears[ci - 1].t1 > s->t0)
                    ok = true;
                if (!ok) {
                    lost++;
                    why = "miss although a set returned before the read began";
                }
            }
            if (why && !first[0])
                snprintf(first, sizeof(first), "key %u read [%" PRIu64 ", %" PRIu64 "] saw %s: %s", e->key,
                         e->t0, e->t1, e->version == MISS ? "miss" : "a version", why);
        }
    }
    char badmsg[200] = "";
    for (uint32_t i = 0; i < g_writers && !badmsg[0]; i++)
        if (g_sh->w[i].bad[0])
            snprintf(badmsg, sizeof(badmsg), "%s", g_sh->w[i].bad);
    for (uint32_t i = 0; i < g_readers && !badmsg[0]; i++)
        if (g_sh->r[i].bad[0])
            snprintf(badmsg, sizeof(badmsg), "%s", g_sh->r[i].bad);
    printf("writes:          %" PRIu64 " (clears %zu)\n", nwrites, nclears);
    printf("reads checked:   %" PRIu64 " (hits %" PRIu64 ")%s\n", nreads, hits,
           full ? " - a log filled up; later operations were not logged" : "");
    printf("bad values:      %" PRIu64 "%s%s\n", bad, badmsg[0] ? " - " : "", badmsg);
    printf("stale reads:     %" PRIu64 "\n", stale);
    printf("resurrected:     %" PRIu64 "\n", resurrected);
    printf("from the future: %" PRIu64 "\n", future);
    printf("lost writes:     %" PRIu64 "%s\n", lost,
           check_miss ? "" : " (not checked: the run had evictions or recoveries)");
    printf("evictions %" PRIu64 ", shmc_check problems %" PRId64 "\n", st.evictions, problems);
    if (first[0])
        printf("first violation: %s\n", first);
    bool fail = bad || stale || resurrected || future || lost || problems || failed_procs || badmsg[0] ||
                nreads == 0 || nwrites == 0;
    if (failed_procs)
        printf("FAIL: %d processes exited abnormally\n", failed_procs);
    printf("%s\n", fail ? "linearize: FAILED" : "linearize: ok");
    for (uint32_t k = 0; k < g_keys; k++) {
        free(ks[k].e);
        free(ks[k].set_at);
    }
    free(ks);
    free(clears);
    return fail ? 1 : 0;
}
