/*
 * fill.c - --fill-capacity: does the library hold the capacity it was
 * created for (DESIGN.md invariant 7)?
 *
 * For each size (--capacity, or 4096, 65536 and 1M) and each of --fill-seeds
 * seeds, create a segment of that capacity with ample item memory (twice
 * what the keys need), store exactly `capacity` distinct keys, then count
 * the evictions the library reports and the keys that a get no longer finds.
 * Each seed gets its own segment (hence its own hash seed) and its own key
 * set. This is a measurement: the pass/fail test of invariant 7 lives in
 * the test suite; the exit status is non-zero only when a run fails.
 */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef BENCH_NO_SHMCACHE
#include <shmcache.h>
#endif

typedef struct fill_res {
    uint64_t capacity, seed, stored, evictions, lost, curr_items, index_slots;
    uint64_t memory;
} fill_res_t;

#ifndef BENCH_NO_SHMCACHE
/* Key j of seed s: the seed picks a disjoint range of key numbers. */
static uint64_t fill_key(uint64_t seed, uint64_t j)
{
    return (seed % 1000) * 1000000000ull + j;
}

static int fill_one(const bench_opts_t *o, uint64_t cap, uint64_t seed, fill_res_t *res)
{
    shmc_config_t cfg;
    shmc_stats_t st;
    shmc_t *c;
    char k[KEY_LEN], *val = malloc(o->vmax + 8), *buf = malloc(o->vmax + 8);
    uint64_t need = 0;
    size_t vl;
    int rc;

    for (uint64_t j = 0; j < cap; j++)
        need += KEY_LEN + value_size_for(o, j) + 64;  /* 64: generous header */
    shmc_config_init(&cfg);
    cfg.capacity = cap;
    cfg.memory = o->memory ? o->memory : 2 * need + (4u << 20);
    cfg.max_value_len = o->vmax > 64 ? o->vmax : 64;
    if (o->stripes)
        cfg.stripes = o->stripes;
    shmc_unlink(bench_shm_name);
    rc = val && buf ? shmc_open(bench_shm_name, SHMC_CREATE | SHMC_EXCL, &cfg, &c) : -ENOMEM;
    if (rc < 0) {
        fprintf(stderr, "shmcache-bench: fill-capacity: shmc_open(capacity %llu): %s\n",
                (unsigned long long)cap, shmc_strerror(rc));
        free(val);
        free(buf);
        return rc;
    }
    *res = (fill_res_t){ .capacity = cap, .seed = seed, .memory = cfg.memory };
    for (uint64_t j = 0; j < cap && rc == 0; j++) {
        uint32_t n = value_size_for(o, j);
        key_format(k, fill_key(seed, j));
        value_fill(val, n, j);
        rc = shmc_set(c, k, KEY_LEN, val, n, 0, 0);
        if (rc < 0)
            fprintf(stderr, "shmcache-bench: fill-capacity: set #%llu: %s\n",
                    (unsigned long long)j, shmc_strerror(rc));
        else
            res->stored++;
    }
    for (uint64_t j = 0; j < res->stored; j++) {
        key_format(k, fill_key(seed, j));
        if (shmc_get(c, k, KEY_LEN, buf, o->vmax + 8, &vl, NULL) == -ENOENT)
            res->lost++;
    }
    shmc_stats(c, &st);
    res->evictions = st.evictions;
    res->curr_items = st.curr_items;
    res->index_slots = st.index_slots;
    shmc_close(c);
    shmc_unlink(bench_shm_name);
    free(val);
    free(buf);
    return rc < 0 ? rc : 0;
}
#endif

int run_fill_capacity(const bench_opts_t *o, unsigned seeds, int json, int csv)
{
#ifdef BENCH_NO_SHMCACHE
    (void)o; (void)seeds; (void)json; (void)csv;
    fprintf(stderr, "shmcache-bench: --fill-capacity needs the library\n");
    return -ENOSYS;
#else
    static const uint64_t sizes[] = { 4096, 65536, 1u << 20 };
    uint64_t caps[3];
    size_t ncap = 0, nres = 0;
    fill_res_t *r;
    uint64_t worst = 0;
    int rc = 0;

    if (o->capacity)
        caps[ncap++] = o->capacity;
    else
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
            caps[ncap++] = sizes[i];
    r = calloc(ncap * seeds, sizeof *r);
    if (!r)
        return -ENOMEM;
    for (size_t i = 0; i < ncap && rc == 0; i++)
        for (unsigned s = 0; s < seeds && rc == 0; s++)
            if ((rc = fill_one(o, caps[i], o->seed + s, &r[nres])) == 0) {
                if (r[nres].evictions > worst)
                    worst = r[nres].evictions;
                nres++;
            }
    if (json) {
        printf("{\"tool\": \"shmcache-bench\", \"mode\": \"fill_capacity\", \"vmin\": %u, "
               "\"vmax\": %u, \"max_evictions\": %llu, \"runs\": [",
               o->vmin, o->vmax, (unsigned long long)worst);
        for (size_t i = 0; i < nres; i++)
            printf("%s\n  {\"capacity\": %llu, \"seed\": %llu, \"memory\": %llu, "
                   "\"index_slots\": %llu, \"stored\": %llu, \"evictions\": %llu, "
                   "\"lost\": %llu, \"curr_items\": %llu}",
                   i ? "," : "", (unsigned long long)r[i].capacity,
                   (unsigned long long)r[i].seed, (unsigned long long)r[i].memory,
                   (unsigned long long)r[i].index_slots, (unsigned long long)r[i].stored,
                   (unsigned long long)r[i].evictions, (unsigned long long)r[i].lost,
                   (unsigned long long)r[i].curr_items);
        printf("\n ]}\n");
    } else if (csv) {
        printf("capacity,seed,memory,index_slots,stored,evictions,lost,curr_items\n");
        for (size_t i = 0; i < nres; i++)
            printf("%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu\n",
                   (unsigned long long)r[i].capacity, (unsigned long long)r[i].seed,
                   (unsigned long long)r[i].memory, (unsigned long long)r[i].index_slots,
                   (unsigned long long)r[i].stored, (unsigned long long)r[i].evictions,
                   (unsigned long long)r[i].lost, (unsigned long long)r[i].curr_items);
    } else {
        printf("# fill-capacity: store `capacity` distinct keys (%u-%u B values) with ample "
               "item memory; DESIGN.md invariant 7 wants 0 evictions\n\n"
               "| capacity | seed | index slots | item memory | stored | evictions | lost | lost %% |\n"
               "|---:|---:|---:|---:|---:|---:|---:|---:|\n", o->vmin, o->vmax);
        for (size_t i = 0; i < nres; i++)
            printf("| %llu | %llu | %llu | %llu | %llu | %llu | %llu | %.2f |\n",
                   (unsigned long long)r[i].capacity, (unsigned long long)r[i].seed,
                   (unsigned long long)r[i].index_slots, (unsigned long long)r[i].memory,
                   (unsigned long long)r[i].stored, (unsigned long long)r[i].evictions,
                   (unsigned long long)r[i].lost,
                   r[i].stored ? 100.0 * (double)r[i].lost / (double)r[i].stored : 0.0);
        printf("\nworst: %llu evictions\n", (unsigned long long)worst);
    }
    free(r);
    return rc;
#endif
}
