/*
 * selftest.c - --selftest: the bench checks its own parts before anyone
 * trusts a ratio it prints: the hashes spread sequential keys, both private
 * tables give back what was stored (after deletes, evictions and values
 * too large for a slot), and the Zipf sampler draws the right frequencies.
 */
#include "bench.h"
#include "itable.h"
#include "table.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BINS (1u << 16)

/* The most keys one of BINS bins gets when 4 x BINS sequential keys
 * ("key:000000000001", ...) are hashed and bin() maps each hash to a bin.
 * Mean 4; a good hash keeps the fullest under 20, a poor one (a multiply
 * without a final mix, FNV) sends whole ranges to one bin. */
static unsigned fullest_bin(uint64_t (*hash)(const char *k),
                            uint64_t (*bin)(uint64_t h, uint64_t bins))
{
    static uint32_t load[BINS];
    unsigned max = 0;
    char k[KEY_LEN];

    memset(load, 0, sizeof load);
    for (uint64_t i = 0; i < 4u * BINS; i++) {
        key_format(k, i);
        uint32_t *l = &load[bin(hash(k), BINS)];
        if (++*l > max)
            max = *l;
    }
    return max;
}

static uint64_t shape_hash(const char *k)
{
    return bench_hash(k, KEY_LEN, 0x5eedull);  /* table.c's seed */
}

static uint64_t limit_hash(const char *k)
{
    return itable_hash(k, KEY_LEN);
}

static uint64_t low_bits(uint64_t h, uint64_t bins)  /* table.c's buckets, the tag */
{
    return h % bins;
}

static uint64_t high_bits(uint64_t h, uint64_t bins)  /* itable.c's home slot */
{
    return (uint64_t)(((__uint128_t)h * bins) >> 64);
}

/* The shape table: hash spread, set/get/delete/incr. */
static int selftest_shape(const bench_opts_t *base)
{
    int fails = 0;
    unsigned worst = fullest_bin(shape_hash, low_bits);
    bench_opts_t o = *base;
    void *region;
    table_t *t;
    char k[KEY_LEN], buf[256];
    size_t vl;

    /* 4 keys per bucket on average: a good hash keeps the fullest < 20 */
    printf("shape hash: sequential keys, fullest of 65536 buckets holds %u (mean 4)\n", worst);
    fails += worst >= 20;
    o.keys = 100000;
    o.vmin = o.vmax = 100;
    region = calloc(1, table_region_size(table_slots_for(&o), table_memory_for(&o)));
    if (!region)
        return 1;
    t = table_init(region, table_slots_for(&o), table_memory_for(&o));
    fails += preload_keys(&o, t, (int (*)(void *, const char *, size_t, const char *, size_t))table_set) != 0;
    for (uint64_t i = 0; i < o.keys; i++) {
        key_format(k, i);
        if (table_get(t, k, KEY_LEN, buf, sizeof buf, &vl) != 0 || vl != 100 ||
            !value_check(buf, vl, i)) {
            fails++;
            break;
        }
    }
    key_format(k, 7);
    fails += table_del(t, k, KEY_LEN) != 0 || table_get(t, k, KEY_LEN, buf, sizeof buf, &vl) != 1;
    fails += table_set(t, k, KEY_LEN, "41", 2) != 0;
    {
        uint64_t res = 0;
        fails += table_incr(t, k, KEY_LEN, 1, &res) != 0 || res != 42;
    }
    printf("shape table: %llu items, %llu evictions\n", (unsigned long long)table_items(t),
           (unsigned long long)table_evictions(t));
    fails += table_evictions(t) > o.keys / 1000;
    free(region);
    return fails;
}

/* Every key of [0, n) but the deleted ones (i % del_mod == 0 when del_mod)
 * is found with its value; the deleted ones miss. */
static int itable_holds(itable_t *t, const bench_opts_t *o, uint64_t n, uint64_t del_mod)
{
    char k[KEY_LEN], *buf = malloc(o->vmax + 8);
    size_t vl;
    int bad = 0;

    if (!buf)
        return 1;
    for (uint64_t i = 0; i < n && !bad; i++) {
        int gone = del_mod && i % del_mod == 0, rc;
        key_format(k, i);
        rc = itable_get(t, k, KEY_LEN, buf, o->vmax + 8, &vl);
        if (gone)
            bad = rc != 1;
        else
            bad = rc != 0 || vl != value_size_for(o, i) || !value_check(buf, vl, i);
    }
    free(buf);
    return bad;
}

static int itable_set_cb(void *w, const char *k, size_t kl, const char *v, size_t vl)
{
    return itable_set(w, k, kl, v, vl);
}

/* The limit's table: hash spread; 100 B and 16-4096 B values (slots and
 * out-of-slot blocks); backward-shift deletes keep every other key
 * reachable; a full table evicts instead of failing; incr; a too-long key. */
static int selftest_itable(const bench_opts_t *base)
{
    int fails = 0;
    unsigned home = fullest_bin(limit_hash, high_bits), tag = fullest_bin(limit_hash, low_bits);
    bench_opts_t o = *base;
    static const uint32_t vmax[] = { 100, 4096 };
    char k[KEY_LEN], buf[64], longkey[300] = { 0 };
    size_t vl;

    printf("limit hash: sequential keys, fullest of 65536 bins holds %u by the high bits "
           "(home), %u by the low bits (tag) (mean 4)\n", home, tag);
    fails += home >= 20 || tag >= 20;
    o.keys = 100000;
    for (size_t v = 0; v < sizeof vmax / sizeof vmax[0]; v++) {
        itable_t *t;
        int f = 0;

        o.vmin = v ? 16 : 100;
        o.vmax = vmax[v];
        t = itable_create(2 * o.keys, KEY_LEN, o.vmax, 0);
        if (!t)
            return fails + 1;
        f += preload_keys(&o, t, itable_set_cb) != 0;
        f += itable_holds(t, &o, o.keys, 0);
        f += preload_keys(&o, t, itable_set_cb) != 0;  /* overwrite in place */
        f += itable_items(t) != o.keys;
        for (uint64_t i = 0; i < o.keys; i += 3) {
            key_format(k, i);
            f += itable_del(t, k, KEY_LEN) != 0;
        }
        f += itable_holds(t, &o, o.keys, 3);
        key_format(k, 0);
        f += itable_del(t, k, KEY_LEN) != 1;
        printf("limit table, %u-%u B values, %zu B slots: %llu items after deletes, %s\n",
               o.vmin, o.vmax, itable_slot_size(t), (unsigned long long)itable_items(t),
               f ? "FAILED" : "ok");
        fails += f;
        itable_destroy(t);
    }
    {
        /* 10k keys into 4096 slots: evicts, never fails, stays under 7/8 */
        itable_t *t = itable_create(4096, KEY_LEN, 100, 1);
        uint64_t res = 0;
        int f = 0;

        if (!t)
            return fails + 1;
        o.keys = 10000;
        o.vmin = o.vmax = 100;
        f += preload_keys(&o, t, itable_set_cb) != 0;
        f += itable_items(t) > 4096 - 4096 / 8 || itable_evictions(t) == 0;
        key_format(k, 7);
        f += itable_set(t, k, KEY_LEN, "41", 2) != 0;
        f += itable_incr(t, k, KEY_LEN, 1, &res) != 0 || res != 42;
        f += itable_get(t, k, KEY_LEN, buf, sizeof buf, &vl) != 0 || vl != 2;
        f += itable_set(t, longkey, sizeof longkey, "x", 1) != -E2BIG;
        printf("limit table, 10000 keys into 4096 slots: %llu items, %llu evictions, %s\n",
               (unsigned long long)itable_items(t), (unsigned long long)itable_evictions(t),
               f ? "FAILED" : "ok");
        fails += f;
        itable_destroy(t);
    }
    return fails;
}

/* Zipf(0.99) over 1000 keys: rank 0 has 1 / sum(k^-0.99) = 12.94 %. */
static int selftest_zipf(void)
{
    zipf_t z;
    rng_t r = { 1 };
    uint64_t top = 0, n = 200000;

    zipf_init(&z, 1000, 0.99);
    for (uint64_t i = 0; i < n; i++)
        top += zipf_next(&z, &r) == 0;
    printf("zipf: rank 0 drawn %.2f %% (expect 12.94)\n", 100.0 * (double)top / (double)n);
    return fabs(100.0 * (double)top / (double)n - 12.94) > 0.5;
}

int run_selftest(const bench_opts_t *o)
{
    int fails = selftest_shape(o) + selftest_itable(o) + selftest_zipf();

    printf("selftest: %s\n", fails ? "FAILED" : "ok");
    return fails ? 1 : 0;
}
