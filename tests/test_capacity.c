/*
 * test_capacity.c - capacity is a promise (DESIGN invariant 7): a segment
 * created for N entries, with item memory to spare, holds N distinct keys
 * without evicting any, whatever the hash seed (each segment draws its own)
 * and whatever the keys look like (sequential ones too).
 *
 * Sizes go from 4096 to 1M, including capacities at which the index has its
 * least headroom (5 * 2^k: exactly 1.8 slots per key).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

/* Fill a fresh segment of this capacity with that many distinct keys;
 * return the evictions it reported (and check every key reads back). */
static uint64_t fill(uint64_t capacity, unsigned round, int sequential)
{
    char name[TU_NAME_CAP];
    tu_new_name(name, NULL);
    shmc_config_t cfg;
    shmc_config_init(&cfg);
    cfg.capacity = capacity;
    /* memory to spare: only the index is tested */
    cfg.memory = capacity * 512 < (1u << 20) ? 1u << 20 : capacity * 512;
    cfg.max_value_len = 4096;
    shmc_t *c = NULL;
    assert_int_equal(shmc_open(name, SHMC_CREATE | SHMC_EXCL, &cfg, &c), 0);
    char k[48], v[100];
    memset(v, 'v', sizeof v);
    uint64_t s = tu_mix64(round + 1);
    for (uint64_t i = 0; i < capacity; i++) {
        int n = sequential ? snprintf(k, sizeof k, "key:%011llu", (unsigned long long)i)
                           : snprintf(k, sizeof k, "%016llx:%llu", (unsigned long long)tu_rand(&s),
                                      (unsigned long long)i);
        assert_int_equal(shmc_set(c, k, (size_t)n, v, sizeof v, 0, 0), 0);
    }
    shmc_stats_t st;
    assert_int_equal(shmc_stats(c, &st), 0);
    s = tu_mix64(round + 1);
    uint64_t missing = 0;
    for (uint64_t i = 0; i < capacity; i++) {
        int n = sequential ? snprintf(k, sizeof k, "key:%011llu", (unsigned long long)i)
                           : snprintf(k, sizeof k, "%016llx:%llu", (unsigned long long)tu_rand(&s),
                                      (unsigned long long)i);
        char buf[128];
        size_t vlen;
        missing += shmc_get(c, k, (size_t)n, buf, sizeof buf, &vlen, NULL) != 0;
    }
    if (st.evictions || missing)
        print_message("capacity %llu round %u: %llu evictions, %llu keys missing, %llu index slots\n",
                      (unsigned long long)capacity, round, (unsigned long long)st.evictions,
                      (unsigned long long)missing, (unsigned long long)st.index_slots);
    assert_int_equal(st.curr_items, capacity);
    assert_int_equal(missing, 0);
    shmc_close(c);
    assert_int_equal(shmc_unlink(name), 0);
    return st.evictions;
}

static void filling_to_capacity_evicts_nothing_from_4096_to_1m(void **state)
{
    (void)state;
    static const struct { uint64_t cap; unsigned rounds; } runs[] = {
        {4096, 6}, {5 << 12, 4}, {65536, 3}, {5 << 16, 2}, {1u << 20, 1},
    };
    unsigned round = 0;
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++)
        for (unsigned k = 0; k < runs[r].rounds; k++, round++)
            assert_int_equal(fill(runs[r].cap, round, 0), 0);
}

static void sequential_keys_fill_to_capacity_without_evicting(void **state)
{
    (void)state;
    assert_int_equal(fill(5 << 12, 100, 1), 0);
    assert_int_equal(fill(65536, 101, 1), 0);
}

static void small_capacities_are_held_too(void **state)
{
    (void)state;
    for (uint64_t cap = 1; cap <= 64; cap++)
        assert_int_equal(fill(cap, 200 + (unsigned)cap, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(filling_to_capacity_evicts_nothing_from_4096_to_1m),
        cmocka_unit_test(sequential_keys_fill_to_capacity_without_evicting),
        cmocka_unit_test(small_capacities_are_held_too),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
