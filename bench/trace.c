/*
 * trace.c - eviction quality and memory efficiency of the library.
 *
 * --trace zipf: replay a Zipf(theta) request trace as a read-through cache
 * would (get; on a miss, set the key's value) against a segment of a fixed
 * item memory, and run the same trace through an exact LRU simulation
 * holding the same bytes. Two LRU budgets are reported: items costing
 * klen + vlen only (LRU gets every byte for payload: the strict bound), and
 * items costing klen + vlen + the per-item overhead the segment itself shows
 * (bytes / curr_items - payload; same number of items: eviction policy
 * alone). Miss ratios are counted after a warm-up of one request per key.
 *
 * --memeff: overwrite 10 x capacity keys (drawn from 2 x capacity) with
 * values of random sizes in --value-size, then report live bytes (sum of
 * klen + vlen over shmc_iterate) over limit_maxbytes.
 */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef BENCH_NO_SHMCACHE
#include <shmcache.h>
#endif

/* ---- exact LRU over key indices, by bytes ---------------------------- */

typedef struct lru {
    uint32_t *prev, *next;  /* index n is the list head */
    uint8_t  *in;
    uint64_t  n, used, budget, overhead;
    const bench_opts_t *o;
} lru_t;

static int lru_init(lru_t *l, const bench_opts_t *o, uint64_t budget, uint64_t overhead)
{
    l->n = o->keys;
    l->prev = malloc((l->n + 1) * sizeof *l->prev);
    l->next = malloc((l->n + 1) * sizeof *l->next);
    l->in = calloc(l->n, 1);
    if (!l->prev || !l->next || !l->in)
        return -ENOMEM;
    l->prev[l->n] = l->next[l->n] = (uint32_t)l->n;
    l->used = 0;
    l->budget = budget;
    l->overhead = overhead;
    l->o = o;
    return 0;
}

static void lru_free(lru_t *l)
{
    free(l->prev);
    free(l->next);
    free(l->in);
}

static void lru_unlink(lru_t *l, uint32_t i)
{
    l->next[l->prev[i]] = l->next[i];
    l->prev[l->next[i]] = l->prev[i];
}

static void lru_front(lru_t *l, uint32_t i)
{
    uint32_t h = (uint32_t)l->n;
    l->next[i] = l->next[h];
    l->prev[i] = h;
    l->prev[l->next[h]] = i;
    l->next[h] = i;
}

static uint64_t lru_cost(const lru_t *l, uint64_t i)
{
    return KEY_LEN + value_size_for(l->o, i) + l->overhead;
}

/* 1 hit, 0 miss (and the key is inserted). */
static int lru_access(lru_t *l, uint32_t i)
{
    if (l->in[i]) {
        lru_unlink(l, i);
        lru_front(l, i);
        return 1;
    }
    if (lru_cost(l, i) > l->budget)
        return 0;
    l->in[i] = 1;
    l->used += lru_cost(l, i);
    lru_front(l, i);
    while (l->used > l->budget) {
        uint32_t t = l->prev[l->n];
        lru_unlink(l, t);
        l->in[t] = 0;
        l->used -= lru_cost(l, t);
    }
    return 0;
}

/* ---- --trace --------------------------------------------------------- */

typedef struct tres {
    uint64_t reqs, warm, misses, misses_warm;
} tres_t;

static void trace_gen_init(const bench_opts_t *o, zipf_t *z, rng_t *r)
{
    zipf_init(z, o->keys, o->theta);
    r->s = o->seed * 0x2545f4914f6cdd1dull + 7;
}

static uint64_t trace_requests(const bench_opts_t *o)
{
    return o->ops ? o->ops : o->keys * 10;
}

static uint64_t trace_memory(const bench_opts_t *o)
{
    uint64_t total = 0;

    if (o->memory)
        return o->memory;
    for (uint64_t i = 0; i < o->keys; i++)
        total += KEY_LEN + value_size_for(o, i);
    return total / 10;  /* a tenth of the key space's payload */
}

static void lru_run(const bench_opts_t *o, lru_t *l, tres_t *t)
{
    zipf_t z;
    rng_t r;
    uint64_t n = trace_requests(o);

    trace_gen_init(o, &z, &r);
    memset(t, 0, sizeof *t);
    t->reqs = n;
    t->warm = o->keys < n ? o->keys : n / 10;
    for (uint64_t q = 0; q < n; q++) {
        uint32_t k = (uint32_t)scatter(zipf_next(&z, &r), o->keys);
        if (!lru_access(l, k)) {
            t->misses++;
            if (q >= t->warm)
                t->misses_warm++;
        }
    }
}

static double ratio_warm(const tres_t *t)
{
    return t->reqs > t->warm ? (double)t->misses_warm / (double)(t->reqs - t->warm) : 0;
}

int run_trace(const bench_opts_t *o, const char *trace, int json, int csv)
{
    uint64_t mem = trace_memory(o), overhead = 0;
    tres_t sc = { 0 }, l0, lh;
    lru_t l;
    int have_sc = 0;
    uint64_t curr_items = 0, evictions = 0, t_ns = 0;

    (void)trace;
#ifndef BENCH_NO_SHMCACHE
    {
        shmc_config_t cfg;
        shmc_stats_t st;
        shmc_t *c;
        zipf_t z;
        rng_t r;
        char k[KEY_LEN], *buf = malloc(o->vmax + 8), *val = malloc(o->vmax + 8);
        uint64_t n = trace_requests(o), payload = 0, t0;
        int rc;

        shmc_config_init(&cfg);
        cfg.capacity = o->capacity ? o->capacity : o->keys;
        cfg.memory = mem;
        cfg.max_value_len = o->vmax > 64 ? o->vmax : 64;
        if (o->stripes)
            cfg.stripes = o->stripes;
        shmc_unlink(bench_shm_name);
        rc = shmc_open(bench_shm_name, SHMC_CREATE | SHMC_EXCL, &cfg, &c);
        if (rc < 0 || !buf || !val) {
            fprintf(stderr, "shmcache-bench: trace: shmc_open: %s\n", shmc_strerror(rc));
            free(buf);
            free(val);
            return rc < 0 ? rc : -ENOMEM;
        }
        value_fill(val, o->vmax, 0);
        trace_gen_init(o, &z, &r);
        sc.reqs = n;
        sc.warm = o->keys < n ? o->keys : n / 10;
        t0 = now_ns();
        for (uint64_t q = 0; q < n; q++) {
            uint64_t i = scatter(zipf_next(&z, &r), o->keys);
            size_t vl;
            key_format(k, i);
            rc = shmc_get(c, k, KEY_LEN, buf, o->vmax + 8, &vl, NULL);
            if (rc == -ENOENT) {
                sc.misses++;
                if (q >= sc.warm)
                    sc.misses_warm++;
                memcpy(val, &i, 8);
                rc = shmc_set(c, k, KEY_LEN, val, value_size_for(o, i), 0, 0);
            }
            if (rc < 0) {
                fprintf(stderr, "shmcache-bench: trace: %s\n", shmc_strerror(rc));
                break;
            }
        }
        t_ns = now_ns() - t0;
        if (shmc_stats(c, &st) == 0) {
            curr_items = st.curr_items;
            evictions = st.evictions;
            mem = st.limit_maxbytes;
            /* per-item overhead: bytes the segment charges beyond payload */
            if (st.curr_items) {
                for (uint64_t i = 0; i < o->keys; i++)
                    payload += KEY_LEN + value_size_for(o, i);
                payload /= o->keys;  /* mean payload per key */
                if (st.bytes / st.curr_items > payload)
                    overhead = st.bytes / st.curr_items - payload;
            }
        }
        shmc_close(c);
        shmc_unlink(bench_shm_name);
        free(buf);
        free(val);
        have_sc = 1;
    }
#endif
    if (lru_init(&l, o, mem, 0) < 0)
        return -ENOMEM;
    lru_run(o, &l, &l0);
    lru_free(&l);
    if (lru_init(&l, o, mem, overhead) < 0)
        return -ENOMEM;
    lru_run(o, &l, &lh);
    lru_free(&l);

    if (json) {
        printf("{\"tool\": \"shmcache-bench\", \"mode\": \"trace\", \"trace\": \"zipf\", "
               "\"theta\": %.3f, \"keys\": %llu, \"requests\": %llu, \"warmup\": %llu, "
               "\"vmin\": %u, \"vmax\": %u, \"memory\": %llu,\n",
               o->theta, (unsigned long long)o->keys, (unsigned long long)l0.reqs,
               (unsigned long long)l0.warm, o->vmin, o->vmax, (unsigned long long)mem);
        if (have_sc)
            printf(" \"shmcache\": {\"miss_ratio\": %.5f, \"miss_ratio_all\": %.5f, "
                   "\"curr_items\": %llu, \"evictions\": %llu, \"item_overhead\": %llu, "
                   "\"requests_per_s\": %.0f},\n",
                   ratio_warm(&sc), (double)sc.misses / (double)sc.reqs,
                   (unsigned long long)curr_items, (unsigned long long)evictions,
                   (unsigned long long)overhead, (double)sc.reqs / ((double)t_ns / 1e9));
        printf(" \"lru_payload\": {\"miss_ratio\": %.5f, \"miss_ratio_all\": %.5f},\n",
               ratio_warm(&l0), (double)l0.misses / (double)l0.reqs);
        printf(" \"lru_same_overhead\": {\"miss_ratio\": %.5f, \"miss_ratio_all\": %.5f, "
               "\"item_overhead\": %llu}",
               ratio_warm(&lh), (double)lh.misses / (double)lh.reqs,
               (unsigned long long)overhead);
        if (have_sc)
            printf(",\n \"ratio_vs_lru_payload\": %.4f, \"ratio_vs_lru_same_overhead\": %.4f",
                   ratio_warm(&l0) > 0 ? ratio_warm(&sc) / ratio_warm(&l0) : 0,
                   ratio_warm(&lh) > 0 ? ratio_warm(&sc) / ratio_warm(&lh) : 0);
        printf("}\n");
    } else if (csv) {
        printf("policy,miss_ratio,miss_ratio_all,memory,keys,requests,item_overhead\n");
        if (have_sc)
            printf("shmcache,%.5f,%.5f,%llu,%llu,%llu,%llu\n", ratio_warm(&sc),
                   (double)sc.misses / (double)sc.reqs, (unsigned long long)mem,
                   (unsigned long long)o->keys, (unsigned long long)sc.reqs,
                   (unsigned long long)overhead);
        printf("lru_payload,%.5f,%.5f,%llu,%llu,%llu,0\n", ratio_warm(&l0),
               (double)l0.misses / (double)l0.reqs, (unsigned long long)mem,
               (unsigned long long)o->keys, (unsigned long long)l0.reqs);
        printf("lru_same_overhead,%.5f,%.5f,%llu,%llu,%llu,%llu\n", ratio_warm(&lh),
               (double)lh.misses / (double)lh.reqs, (unsigned long long)mem,
               (unsigned long long)o->keys, (unsigned long long)lh.reqs,
               (unsigned long long)overhead);
    } else {
        printf("# trace zipf:%.2f keys=%llu requests=%llu (warm-up %llu) values=%u-%uB "
               "memory=%llu bytes\n",
               o->theta, (unsigned long long)o->keys, (unsigned long long)l0.reqs,
               (unsigned long long)l0.warm, o->vmin, o->vmax, (unsigned long long)mem);
        printf("\n| policy | miss ratio (after warm-up) | miss ratio (all) | note |\n"
               "|---|---:|---:|---|\n");
        if (have_sc)
            printf("| shmcache | %.4f | %.4f | %llu items held, %llu evictions, %llu B/item overhead |\n",
                   ratio_warm(&sc), (double)sc.misses / (double)sc.reqs,
                   (unsigned long long)curr_items, (unsigned long long)evictions,
                   (unsigned long long)overhead);
        printf("| exact LRU, payload bytes only | %.4f | %.4f | strict bound |\n",
               ratio_warm(&l0), (double)l0.misses / (double)l0.reqs);
        printf("| exact LRU, same per-item overhead | %.4f | %.4f | policy alone |\n",
               ratio_warm(&lh), (double)lh.misses / (double)lh.reqs);
        if (have_sc)
            printf("\nshmcache / LRU: %.3f (payload-only LRU), %.3f (same overhead); "
                   "target <= 1.05\n",
                   ratio_warm(&l0) > 0 ? ratio_warm(&sc) / ratio_warm(&l0) : 0,
                   ratio_warm(&lh) > 0 ? ratio_warm(&sc) / ratio_warm(&lh) : 0);
    }
    return 0;
}

/* ---- --memeff -------------------------------------------------------- */

#ifndef BENCH_NO_SHMCACHE
typedef struct live {
    uint64_t bytes, items;
} live_t;

static int count_live(const shmc_entry_t *e, void *arg)
{
    live_t *l = arg;
    l->bytes += e->klen + e->vlen;
    l->items++;
    return 0;
}

static void count_problem(const char *p, void *arg)
{
    uint64_t *n = arg;
    if (*n < 5)
        fprintf(stderr, "shmcache-bench: memeff: check: %s\n", p);
    (*n)++;
}
#endif

int run_memeff(const bench_opts_t *o, int json, int csv)
{
#ifdef BENCH_NO_SHMCACHE
    (void)o; (void)json; (void)csv;
    fprintf(stderr, "shmcache-bench: --memeff needs the library\n");
    return -ENOSYS;
#else
    shmc_config_t cfg;
    shmc_stats_t st;
    shmc_t *c;
    live_t live = { 0, 0 };
    rng_t r = { o->seed + 99 };
    char k[KEY_LEN], *val = malloc(o->vmax + 8);
    uint64_t cap, sets, universe, problems = 0;
    int rc;

    shmc_config_init(&cfg);
    if (o->capacity)
        cfg.capacity = o->capacity;
    if (o->memory)
        cfg.memory = o->memory;
    cfg.max_value_len = o->vmax > 64 ? o->vmax : 64;
    if (o->stripes)
        cfg.stripes = o->stripes;
    shmc_unlink(bench_shm_name);
    rc = shmc_open(bench_shm_name, SHMC_CREATE | SHMC_EXCL, &cfg, &c);
    if (rc < 0 || !val) {
        fprintf(stderr, "shmcache-bench: memeff: shmc_open: %s\n", shmc_strerror(rc));
        free(val);
        return rc < 0 ? rc : -ENOMEM;
    }
    shmc_stats(c, &st);
    cap = st.capacity;
    universe = 2 * cap;
    sets = 10 * cap;
    value_fill(val, o->vmax, 0);
    for (uint64_t i = 0; i < sets; i++) {
        uint64_t key = rng_below(&r, universe);
        uint32_t vs = o->vmin + (uint32_t)rng_below(&r, (uint64_t)(o->vmax - o->vmin) + 1);
        key_format(k, key);
        rc = shmc_set(c, k, KEY_LEN, val, vs, 0, 0);
        if (rc < 0) {
            fprintf(stderr, "shmcache-bench: memeff: set #%llu (%u bytes): %s\n",
                    (unsigned long long)i, vs, shmc_strerror(rc));
            break;
        }
    }
    shmc_iterate(c, count_live, &live);
    shmc_stats(c, &st);
    shmc_check(c, count_problem, &problems);
    shmc_close(c);
    shmc_unlink(bench_shm_name);
    free(val);
    {
        double ratio = st.limit_maxbytes ? (double)live.bytes / (double)st.limit_maxbytes : 0;
        if (json)
            printf("{\"tool\": \"shmcache-bench\", \"mode\": \"memeff\", \"capacity\": %llu, "
                   "\"limit_maxbytes\": %llu, \"vmin\": %u, \"vmax\": %u, \"sets\": %llu, "
                   "\"universe\": %llu, \"live_items\": %llu, \"live_bytes\": %llu, "
                   "\"live_ratio\": %.4f, \"stats_bytes\": %llu, \"curr_items\": %llu, "
                   "\"evictions\": %llu, \"check_problems\": %llu, \"set_error\": %d}\n",
                   (unsigned long long)cap, (unsigned long long)st.limit_maxbytes, o->vmin,
                   o->vmax, (unsigned long long)sets, (unsigned long long)universe,
                   (unsigned long long)live.items, (unsigned long long)live.bytes, ratio,
                   (unsigned long long)st.bytes, (unsigned long long)st.curr_items,
                   (unsigned long long)st.evictions, (unsigned long long)problems,
                   rc < 0 ? rc : 0);
        else if (csv)
            printf("capacity,limit_maxbytes,vmin,vmax,sets,live_items,live_bytes,live_ratio,"
                   "stats_bytes,curr_items,evictions,check_problems\n"
                   "%llu,%llu,%u,%u,%llu,%llu,%llu,%.4f,%llu,%llu,%llu,%llu\n",
                   (unsigned long long)cap, (unsigned long long)st.limit_maxbytes, o->vmin,
                   o->vmax, (unsigned long long)sets, (unsigned long long)live.items,
                   (unsigned long long)live.bytes, ratio, (unsigned long long)st.bytes,
                   (unsigned long long)st.curr_items, (unsigned long long)st.evictions,
                   (unsigned long long)problems);
        else
            printf("# memeff: capacity=%llu item memory=%llu values=%u-%uB, %llu sets over "
                   "%llu keys\nlive items %llu, live bytes (klen+vlen) %llu = %.1f %% of item "
                   "memory (target >= 70 %%); stats bytes %llu, evictions %llu, check problems %llu\n",
                   (unsigned long long)cap, (unsigned long long)st.limit_maxbytes, o->vmin,
                   o->vmax, (unsigned long long)sets, (unsigned long long)universe,
                   (unsigned long long)live.items, (unsigned long long)live.bytes,
                   100.0 * ratio, (unsigned long long)st.bytes,
                   (unsigned long long)st.evictions, (unsigned long long)problems);
    }
    return rc < 0 || problems ? -EIO : 0;
#endif
}
