/*
 * prices_tags.c - product pages cached with leases and tags: the price
 * scenario of prices.c, written the way docs/INVALIDATION.md recommends.
 *
 * A shop renders a page per product from a slow "database" and caches it
 * in a shmcache segment that several worker processes share. A page
 * depends on two rows: its product's base price and its category's
 * discount. So each page is stored under two tags, "product:<id>" and
 * "category:<c>", and the updater never needs to know which pages exist:
 *
 *   product price change   write the row, shmc_invalidate_tag("product:<id>")
 *   category-wide sale     write the discount, shmc_invalidate_tag("category:<c>"):
 *                          every page of the category at once, O(1), no scan
 *
 * Workers read pages with shmc_get_or_lease. On a miss exactly one of them
 * gets the lease, renders from the database and stores with
 * shmc_set_leased_tagged, which is refused (-ESTALE) if one of the page's
 * tags was invalidated after the lease was handed out: a render that read
 * the database before an update can never be cached after it. The others
 * (-EBUSY) do not wait: they serve the previous page from shmc_get_stale
 * (stale-while-revalidate) and only wait, briefly, when there is none.
 *
 * Honest counting, as in prices.c: before each read a worker notes which
 * product and category versions had *completed* (database written and the
 * tag invalidation returned); a page older than either is a stale read,
 * whether served as current (must be 0: else a bug) or by shmc_get_stale
 * with info.stale = 1 (on purpose, for as long as a re-render takes).
 * Nothing is staged. Linux; the "database" and the bookkeeping live in an
 * anonymous MAP_SHARED region created before fork.
 */
#include <shmcache.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS 32
#define LEASE_MS    1000u   /* a worker that dies mid-render blocks a page this long */
#define WAIT_MS     50u     /* longest wait for another worker's first render */

struct options {
    unsigned workers, seconds, products, categories;
    unsigned updates;       /* product price changes per second */
    unsigned sales;         /* category-wide discount changes per second */
    unsigned db_latency;    /* microseconds a render's queries take */
};

/* ---- shared bookkeeping: the "database" and what has completed ------------ */

/* One worker's counters, published to the parent word by word. */
struct counts {
    uint64_t reads;
    uint64_t hits;          /* current page from the cache */
    uint64_t swr;           /* served from shmc_get_stale while another worker re-renders */
    uint64_t renders;       /* database queries */
    uint64_t stored;        /* renders stored with shmc_set_leased_tagged */
    uint64_t rejects;       /* renders refused with -ESTALE (read before an update) */
    uint64_t waits;         /* no page to serve stale: waited for the lease holder */
    uint64_t stale_fresh;   /* stale reads through a "current" answer: must be 0 */
    uint64_t stale_swr;     /* stale reads through shmc_get_stale: expected */
    uint64_t max_swr_us;    /* worst lag of those behind the completed update (a max) */
    uint64_t bad_values;    /* wrong page or bad checksum: must be 0 */
};
#define NCOUNTS (sizeof(struct counts) / sizeof(uint64_t))

struct shared {
    _Atomic int go, stop;
    uint64_t t0_ns, deadline_ns;
    _Atomic uint64_t product_updates, sales;
    struct { alignas(64) _Atomic uint64_t word[NCOUNTS]; } pub[MAX_WORKERS];
    /* Each word below: version << 32 | payload. The updater is their only
     * writer, so one atomic load always gives a consistent pair. */
    _Atomic uint64_t *db_product;   /* payload: base price in cents */
    _Atomic uint64_t *db_category;  /* payload: discount in percent */
    _Atomic uint64_t *done_product; /* payload: completion time, us since t0 */
    _Atomic uint64_t *done_category;
};

/* The cached value: a rendered page and what it was rendered from. */
struct page {
    uint32_t id, category, pversion, cversion;
    int64_t cents;
    uint64_t check;
    char html[80];
};

static uint64_t page_check(const struct page *p)
{
    uint64_t h = 0x9e3779b97f4a7c15ull;
    const uint64_t w[4] = { (uint64_t)p->id << 32 | p->category,
                            (uint64_t)p->pversion << 32 | p->cversion,
                            (uint64_t)p->cents, strnlen(p->html, sizeof p->html) };
    for (int i = 0; i < 4; i++) {
        h = (h ^ w[i]) * 0xff51afd7ed558ccdull;
        h ^= h >> 33;
    }
    return h;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t us_since(const struct shared *sh)
{
    return (now_ns() - sh->t0_ns) / 1000;
}

static uint32_t rng_below(uint64_t *s, uint32_t n)     /* xorshift64* */
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return (uint32_t)(((*s * 0x2545f4914f6cdd1dull) >> 32) * n >> 32);
}

static uint32_t ver(uint64_t word) { return (uint32_t)(word >> 32); }
static uint32_t low(uint64_t word) { return (uint32_t)word; }

static uint64_t load(_Atomic uint64_t *w)
{
    return atomic_load_explicit(w, memory_order_acquire);
}

static _Noreturn void die(const char *who, const char *what, int rc)
{
    fprintf(stderr, "prices_tags: %s: %s: %s\n", who, what, shmc_strerror(rc));
    _exit(1);
}

/* ---- workers ---------------------------------------------------------------- */

struct worker {
    const struct options *o;
    struct shared *sh;
    shmc_t *cache;
    struct counts n;
};

enum via { VIA_CACHE, VIA_STALE, VIA_DB };

/* The slow part: read both rows when the query starts, answer later. */
static void render(const struct worker *w, uint32_t id, struct page *pg)
{
    uint32_t cat = id % w->o->categories;
    uint64_t prod = load(&w->sh->db_product[id]), catw = load(&w->sh->db_category[cat]);

    memset(pg, 0, sizeof *pg);
    pg->id = id;
    pg->category = cat;
    pg->pversion = ver(prod);
    pg->cversion = ver(catw);
    pg->cents = (int64_t)low(prod) * (100 - low(catw)) / 100;
    snprintf(pg->html, sizeof pg->html, "<h1>Product %u</h1><p>%" PRId64 ".%02" PRId64 " EUR (-%u%%)</p>",
             id, pg->cents / 100, pg->cents % 100, low(catw));
    pg->check = page_check(pg);
    if (w->o->db_latency)
        usleep(w->o->db_latency);
}

static void render_and_store(struct worker *w, uint32_t id, const char *key, size_t klen,
                             uint64_t lease, struct page *pg)
{
    char ptag[32], ctag[32];
    snprintf(ptag, sizeof ptag, "product:%u", id);
    snprintf(ctag, sizeof ctag, "category:%u", id % w->o->categories);
    const char *const tags[] = { ptag, ctag };

    render(w, id, pg);
    w->n.renders++;
    int rc = shmc_set_leased_tagged(w->cache, key, klen, pg, sizeof *pg, 0, 0, tags, 2, lease);
    if (rc == 0) {
        w->n.stored++;
    } else if (rc == -ESTALE) {
        /* An update overtook this render. The page is still a right answer
         * for this request (it read the database after the request began)
         * but must not be cached. The refusal also ended the lease, so the
         * next miss re-renders at once. */
        w->n.rejects++;
    } else {
        die("worker", "shmc_set_leased_tagged", rc);
    }
}

static enum via fetch(struct worker *w, uint32_t id, struct page *pg)
{
    char key[32];
    size_t klen = (size_t)snprintf(key, sizeof key, "page:%u", id), vlen = 0;
    uint64_t lease = 0;
    shmc_item_info_t info;

    int rc = shmc_get_or_lease(w->cache, key, klen, pg, sizeof *pg, &vlen, NULL, LEASE_MS, &lease);
    if (rc == -EBUSY) {
        /* Someone is re-rendering: answer now with the page we had. */
        rc = shmc_get_stale(w->cache, key, klen, pg, sizeof *pg, &vlen, &info);
        if (rc == 0)
            return info.stale ? VIA_STALE : VIA_CACHE;
        if (rc != -ENOENT)
            die("worker", "shmc_get_stale", rc);
        /* A page never rendered yet: nothing to serve, so wait a little. */
        w->n.waits++;
        rc = shmc_get_or_wait(w->cache, key, klen, pg, sizeof *pg, &vlen, NULL,
                              LEASE_MS, WAIT_MS, &lease);
    }
    if (rc == 0)
        return VIA_CACHE;
    if (rc == -ENOENT && lease)
        render_and_store(w, id, key, klen, lease, pg);
    else if (rc == -EBUSY) {
        render(w, id, pg);          /* waited long enough: answer, store nothing */
        w->n.renders++;
    } else {
        die("worker", "shmc_get_or_lease", rc);
    }
    return VIA_DB;
}

static void publish(struct shared *sh, unsigned index, const struct counts *n)
{
    uint64_t word[NCOUNTS];
    memcpy(word, n, sizeof word);
    for (size_t i = 0; i < NCOUNTS; i++)
        atomic_store_explicit(&sh->pub[index].word[i], word[i], memory_order_relaxed);
}

static void worker_run(struct worker *w, unsigned index, uint64_t rng)
{
    struct shared *sh = w->sh;
    for (uint64_t i = 1;; i++) {
        uint32_t id = rng_below(&rng, w->o->products), cat = id % w->o->categories;
        /* What a reader may expect: the versions completed before it asks. */
        uint64_t dp = load(&sh->done_product[id]), dc = load(&sh->done_category[cat]);
        struct page pg;
        enum via via = fetch(w, id, &pg);

        w->n.reads++;
        w->n.hits += via == VIA_CACHE;
        w->n.swr += via == VIA_STALE;
        if (pg.id != id || pg.category != cat || pg.check != page_check(&pg))
            w->n.bad_values++;
        int old_p = pg.pversion < ver(dp), old_c = pg.cversion < ver(dc);
        if (old_p || old_c) {
            if (via != VIA_STALE) {
                w->n.stale_fresh++;
            } else {
                uint32_t since = old_p && (!old_c || low(dp) < low(dc)) ? low(dp) : low(dc);
                uint64_t lag = us_since(sh) - since;
                w->n.stale_swr++;
                if (lag > w->n.max_swr_us)
                    w->n.max_swr_us = lag;
            }
        }
        if (i % 1024 == 0 || via == VIA_DB) {
            publish(sh, index, &w->n);
            if (atomic_load_explicit(&sh->stop, memory_order_relaxed) || now_ns() >= sh->deadline_ns)
                break;
        }
    }
    publish(sh, index, &w->n);
}

/* ---- the updater ------------------------------------------------------------- */

/* Change a row, invalidate its tag, then declare the update complete
 * (release: whoever sees the new version also sees the invalidation). */
static void update(shmc_t *cache, const struct shared *sh, _Atomic uint64_t *row,
                   _Atomic uint64_t *done, uint32_t payload, const char *tag)
{
    uint32_t v = ver(load(row)) + 1;
    atomic_store_explicit(row, (uint64_t)v << 32 | payload, memory_order_release);
    int rc = shmc_invalidate_tag(cache, tag);
    if (rc < 0)
        die("updater", "shmc_invalidate_tag", rc);
    atomic_store_explicit(done, (uint64_t)v << 32 | (us_since(sh) & 0xffffffffu),
                          memory_order_release);
}

static void updater_run(const struct options *o, struct shared *sh, shmc_t *cache, uint64_t rng)
{
    uint64_t t = now_ns(), next_p = t, next_s = t;
    uint64_t step_p = 1000000000u / o->updates, step_s = 1000000000u / o->sales;
    char tag[32];

    while (!atomic_load_explicit(&sh->stop, memory_order_relaxed) && (t = now_ns()) < sh->deadline_ns) {
        if (t >= next_p) {
            uint32_t id = rng_below(&rng, o->products);
            snprintf(tag, sizeof tag, "product:%u", id);
            update(cache, sh, &sh->db_product[id], &sh->done_product[id],
                   100 + rng_below(&rng, 9900), tag);
            atomic_fetch_add_explicit(&sh->product_updates, 1, memory_order_relaxed);
            next_p = (t - next_p > 100000000u ? t : next_p) + step_p;   /* no bursts */
        }
        if (t >= next_s) {
            uint32_t c = rng_below(&rng, o->categories);
            snprintf(tag, sizeof tag, "category:%u", c);
            update(cache, sh, &sh->db_category[c], &sh->done_category[c],
                   rng_below(&rng, 31), tag);
            atomic_fetch_add_explicit(&sh->sales, 1, memory_order_relaxed);
            next_s = (t - next_s > 100000000u ? t : next_s) + step_s;
        }
        uint64_t wake = next_p < next_s ? next_p : next_s;
        struct timespec ts = { (time_t)(wake / 1000000000u), (long)(wake % 1000000000u) };
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
    }
}

/* ---- the parent ------------------------------------------------------------- */

static void child(const struct options *o, struct shared *sh, const char *seg, int index)
{
    signal(SIGINT, SIG_IGN);            /* the parent stops us through sh->stop */
    prctl(PR_SET_PDEATHSIG, SIGKILL);   /* ... or we die with it */
    shmc_t *cache;
    int rc = shmc_open(seg, 0, NULL, &cache);
    if (rc < 0)
        die(index < 0 ? "updater" : "worker", "shmc_open", rc);
    uint64_t rng = now_ns() ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ull;
    while (!atomic_load_explicit(&sh->go, memory_order_acquire))
        usleep(1000);
    if (index < 0) {
        updater_run(o, sh, cache, rng);
    } else {
        struct worker w = { .o = o, .sh = sh, .cache = cache };
        worker_run(&w, (unsigned)index, rng);
    }
    shmc_close(cache);
    _exit(0);
}

static volatile sig_atomic_t interrupted;
static void on_signal(int sig) { (void)sig; interrupted = 1; }

/* 1234567 -> "1,234,567"; eight rotating buffers for one printf. */
static const char *num(uint64_t v)
{
    static char bufs[8][32];
    static unsigned next;
    char digits[24], *out = bufs[next++ % 8];
    int n = snprintf(digits, sizeof digits, "%" PRIu64, v), o = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
    return out;
}

/* The workers' counters added up (max_swr_us: the largest). */
static void sum(const struct options *o, const struct shared *sh, struct counts *t)
{
    uint64_t total[NCOUNTS] = { 0 }, max_swr = 0;
    const size_t max_at = offsetof(struct counts, max_swr_us) / sizeof(uint64_t);
    for (unsigned i = 0; i < o->workers; i++)
        for (size_t k = 0; k < NCOUNTS; k++) {
            uint64_t v = atomic_load_explicit(&sh->pub[i].word[k], memory_order_relaxed);
            total[k] += v;
            if (k == max_at && v > max_swr)
                max_swr = v;
        }
    memcpy(t, total, sizeof *t);
    t->max_swr_us = max_swr;
}

#define PCT(part, whole) ((whole) ? 100.0 * (double)(part) / (double)(whole) : 0.0)

/* Print the results; returns 0 when nothing stale or broken was served as
 * current, else 1. */
static int report(const struct counts *n, const struct shared *sh, shmc_t *cache, double wall)
{
    printf("\nResults (%.1f s)\n", wall);
    printf("  page reads             %13s\n", num(n->reads));
    printf("    current, from cache  %13s   %6.2f %%\n", num(n->hits), PCT(n->hits, n->reads));
    printf("    stale, revalidating  %13s   %6.2f %%   shmc_get_stale, info.stale = 1\n",
           num(n->swr), PCT(n->swr, n->reads));
    printf("    rendered (DB query)  %13s   %6.2f %%\n", num(n->renders), PCT(n->renders, n->reads));
    printf("  updates                %13s   price changes + %s category sales\n",
           num(atomic_load(&sh->product_updates)), num(atomic_load(&sh->sales)));
    printf("  renders stored         %13s   refused with -ESTALE: %s; waited for a\n"
           "                                         first render: %s\n",
           num(n->stored), num(n->rejects), num(n->waits));
    printf("  stale reads (a page older than an update completed before the read began)\n"
           "    served as current    %13s   must be 0\n"
           "    served as stale      %13s   on purpose, while one worker re-renders\n"
           "                                         (at worst %.1f ms behind the update)\n",
           num(n->stale_fresh), num(n->stale_swr), (double)n->max_swr_us / 1000.0);
    printf("  wrong or torn pages    %13s\n", num(n->bad_values));

    shmc_stats_t st;
    int rc = shmc_stats(cache, &st);
    if (rc < 0) {
        printf("shmc_stats: %s\n", shmc_strerror(rc));
    } else {
        printf("\nSegment statistics (shmc_stats)\n");
        printf("  cmd_get %s   get_hits %s   get_misses %s   cmd_set %s\n",
               num(st.cmd_get), num(st.get_hits), num(st.get_misses), num(st.cmd_set));
        printf("  lease_grants %s   lease_rejects %s   lease_waits %s\n",
               num(st.lease_grants), num(st.lease_rejects), num(st.lease_waits));
        printf("  stale_hits %s   tag_invalidations %s   curr_items %s\n",
               num(st.stale_hits), num(st.tag_invalidations), num(st.curr_items));
    }

    if (n->stale_fresh || n->bad_values) {
        printf("\nFAILED: %s stale pages served as current, %s wrong pages: a bug, in\n"
               "this program or in the library.\n", num(n->stale_fresh), num(n->bad_values));
        return 1;
    }
    printf("\nOK: no page older than a completed update was served as current.\n");
    return 0;
}

static int run(const struct options *o)
{
    char seg[64];
    snprintf(seg, sizeof seg, "/shmcache-prices-tags-%d", (int)getpid());
    size_t words = 2 * ((size_t)o->products + o->categories);
    size_t size = sizeof(struct shared) + words * sizeof(_Atomic uint64_t);
    struct shared *sh = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) {
        perror("prices_tags: mmap");
        return 1;
    }
    /* mapped before fork: the same address in every process */
    sh->db_product = (_Atomic uint64_t *)(void *)(sh + 1);
    sh->db_category = sh->db_product + o->products;
    sh->done_product = sh->db_category + o->categories;
    sh->done_category = sh->done_product + o->products;
    uint64_t rng = now_ns() | 1;
    for (size_t i = 0; i < words; i++)     /* version 1 of everything, at t0 */
        atomic_init(&sh->db_product[i], (uint64_t)1 << 32);
    for (uint32_t i = 0; i < o->products; i++)
        atomic_init(&sh->db_product[i], (uint64_t)1 << 32 | (100 + rng_below(&rng, 9900)));

    shmc_config_t cfg;
    shmc_config_init(&cfg);
    cfg.capacity = 4ull * o->products;
    cfg.memory = cfg.capacity * 512;
    cfg.max_key_len = 32;
    cfg.max_value_len = sizeof(struct page);
    shmc_t *cache;
    int rc = shmc_open(seg, SHMC_CREATE | SHMC_EXCL, &cfg, &cache);
    if (rc < 0) {
        fprintf(stderr, "prices_tags: shmc_open %s: %s\n", seg, shmc_strerror(rc));
        munmap(sh, size);
        return 1;
    }

    printf("shmcache demo: product pages with leases and tags\n\n"
           "  segment   %s\n"
           "  pages     %u products in %u categories; each page tagged product:<id>, category:<c>\n"
           "  workers   %u processes: shmc_get_or_lease; the lease holder renders (%u us) and\n"
           "            stores with shmc_set_leased_tagged, the others serve shmc_get_stale\n"
           "  updater   %u price changes/s -> shmc_invalidate_tag(\"product:<id>\")\n"
           "            %u category sales/s -> shmc_invalidate_tag(\"category:<c>\")\n"
           "  running for %u s\n",
           seg, o->products, o->categories, o->workers, o->db_latency, o->updates, o->sales,
           o->seconds);
    fflush(stdout);

    pid_t pids[MAX_WORKERS + 1];
    unsigned forked = 0;
    int status = 0;
    for (int i = -1; i < (int)o->workers; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("prices_tags: fork");
            status = 1;
            break;
        }
        if (pid == 0)
            child(o, sh, seg, i);
        pids[forked++] = pid;
    }
    sh->t0_ns = now_ns();
    sh->deadline_ns = sh->t0_ns + (uint64_t)o->seconds * 1000000000u;
    atomic_store_explicit(&sh->go, 1, memory_order_release);
    while (status == 0 && !interrupted && now_ns() < sh->deadline_ns)
        usleep(20000);
    atomic_store_explicit(&sh->stop, 1, memory_order_relaxed);
    double wall = (double)(now_ns() - sh->t0_ns) / 1e9;

    for (unsigned i = 0; i < forked; i++) {
        int ws;
        while (waitpid(pids[i], &ws, 0) < 0 && errno == EINTR)
            ;
        if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
            status = 1;
    }
    if (status == 0 && !interrupted) {
        struct counts n;
        sum(o, sh, &n);
        status = report(&n, sh, cache, wall);
    }
    shmc_close(cache);
    rc = shmc_unlink(seg);
    if (rc < 0)
        fprintf(stderr, "prices_tags: shmc_unlink %s: %s\n", seg, shmc_strerror(rc));
    else
        printf("\nRemoved the segment %s.\n", seg);
    munmap(sh, size);
    return interrupted ? 130 : status;
}

static int parse(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (end == s || *end || s[0] == '-' || v < lo || v > hi)
        return -1;
    *out = (unsigned)v;
    return 0;
}

int main(int argc, char **argv)
{
    struct options o = { .workers = 4, .seconds = 5, .products = 200, .categories = 8,
                         .updates = 200, .sales = 5, .db_latency = 300 };
    static const struct option lo[] = {
        { "workers", required_argument, NULL, 'w' },  { "seconds", required_argument, NULL, 's' },
        { "products", required_argument, NULL, 'p' }, { "categories", required_argument, NULL, 'c' },
        { "updates", required_argument, NULL, 'u' },  { "sales", required_argument, NULL, 'S' },
        { "db-latency", required_argument, NULL, 'l' }, { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c, bad = 0;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'w': bad |= parse(optarg, 1, MAX_WORKERS, &o.workers); break;
        case 's': bad |= parse(optarg, 1, 3600, &o.seconds); break;
        case 'p': bad |= parse(optarg, 1, 100000, &o.products); break;
        case 'c': bad |= parse(optarg, 1, 1000, &o.categories); break;
        case 'u': bad |= parse(optarg, 1, 100000, &o.updates); break;
        case 'S': bad |= parse(optarg, 1, 10000, &o.sales); break;
        case 'l': bad |= parse(optarg, 0, 1000000, &o.db_latency); break;
        case 'h':
            printf("usage: prices_tags [--workers N(4)] [--seconds S(5)] [--products N(200)]\n"
                   "         [--categories N(8)] [--updates PER_S(200)] [--sales PER_S(5)]\n"
                   "         [--db-latency US(300)]\n"
                   "  Product pages cached under the tags product:<id> and category:<c>, read with\n"
                   "  leases and stale-while-revalidate; counts stale pages. Exit 1 if a page older\n"
                   "  than a completed update was served as current.\n");
            return 0;
        default: bad = 1;
        }
    }
    if (bad || optind < argc) {
        fprintf(stderr, "prices_tags: bad arguments; try --help\n");
        return 2;
    }
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    return run(&o);
}
