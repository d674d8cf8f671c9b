/*
 * test_corrupt.c - a segment corrupted in place (after attach) must never
 * make a call read or write outside the mapping: each call returns, and
 * shmc_check names the problem. Uses library internals to aim the
 * corruption at one field.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"
#include "testutil.h"

static int count_entries(const shmc_entry_t *e, void *arg)
{
    (void)e;
    (*(int *)arg)++;
    return 0;
}

static void say_problem(const char *problem, void *arg)
{
    (void)arg;
    print_message("check: %s\n", problem);
}

static int setup_small(void **state)
{
    shmc_config_t cfg;
    shmc_config_init(&cfg);
    cfg.capacity = 64;
    cfg.memory = 16384;
    cfg.max_value_len = 256;
    cfg.stripes = 1;
    return tu_fixture_open(state, &cfg);
}

/* The off word of the slot that holds key (NULL when absent). */
static a32 *slot_off_of(shmc_t *c, const char *key)
{
    struct keyloc kl;
    shm_locate(c, key, strlen(key), &kl);
    int64_t idx = shm_find_locked(c, &kl, key, strlen(key));
    return idx < 0 ? NULL : &shm_bucket_of(c, (uint64_t)idx)->off[shm_slot_in((uint64_t)idx)];
}

/* Enough read entries through every stripe that each log gets items:
 * new ones go to the main log while there is room, then to the probation
 * log, and read ones move from there to the main log (arena.c). Every
 * set must succeed and stay inside; the corrupt log is wiped with its
 * stripe when first used (its entries counted as lost). */
static void sets_through_both_logs_stay_inside(shmc_t *c)
{
    char k[32], v[200], buf[256];
    size_t vlen;
    memset(v, 'v', sizeof v);
    uint64_t n = c->memory / 256 * 3;
    for (uint64_t i = 0; i < n; i++) {
        snprintf(k, sizeof k, "key-%llu", (unsigned long long)i);
        assert_int_equal(shmc_set(c, k, strlen(k), v, sizeof v, 0, 0), 0);
        assert_int_equal(shmc_get(c, k, strlen(k), buf, sizeof buf, &vlen, NULL), 0);
    }
    assert_int_equal(shmc_check(c, NULL, NULL), 0);
    shmc_stats_t st;
    assert_int_equal(shmc_stats(c, &st), 0);
    assert_true(st.recovered_lost > 0);
}

/* Found by fuzz_segment: a log head past the stripe sent the next set
 * outside the mapping. */
static void a_corrupt_log_pointer_is_caught_and_the_next_set_stays_inside(void **state)
{
    shmc_t *c = ((tu_fixture_t *)*state)->c;
    assert_int_equal(shmc_set(c, "a", 1, "b", 1, 0, 0), 0);
    ST(&c->stripes[0].head8, UINT32_MAX); /* far past the stripe */
    assert_true(shmc_check(c, NULL, NULL) > 0);
    assert_int_equal(shmc_set(c, "k", 1, "v", 1, 0, 0), 0);
    char buf[8];
    size_t vlen;
    assert_int_equal(shmc_get(c, "k", 1, buf, sizeof buf, &vlen, NULL), 0);
    sets_through_both_logs_stay_inside(c);
}

/* The same for the main log's pointers. */
static void a_corrupt_main_log_pointer_is_caught_and_sets_stay_inside(void **state)
{
    shmc_t *c = ((tu_fixture_t *)*state)->c;
    assert_int_equal(shmc_set(c, "a", 1, "b", 1, 0, 0), 0);
    ST(&c->stripes[0].main_head8, UINT32_MAX);
    ST(&c->stripes[0].main_wrap_end, UINT64_MAX - 7);
    assert_true(shmc_check(c, NULL, NULL) > 0);
    sets_through_both_logs_stay_inside(c);
}

/* Found by fuzz_segment (layout 1): item offsets near 2^64 wrapped the
 * bounds checks of iterate and check. Layout 2 stores 32-bit offsets into
 * the stripe: the largest, and those at or just past the stripe's end, must
 * be refused the same way. */
static void item_offsets_that_would_wrap_are_refused_by_every_walker(void **state)
{
    shmc_t *c = ((tu_fixture_t *)*state)->c;
    char v[40];
    memset(v, 'v', sizeof v);
    assert_int_equal(shmc_set(c, "a", 1, v, sizeof v, 0, 0), 0);
    a32 *off = slot_off_of(c, "a");
    assert_non_null(off);
    const uint32_t end = (uint32_t)(c->stripe_bytes / SHMC_ITEM_ALIGN);
    const uint32_t bad[] = {UINT32_MAX, UINT32_MAX - 1, end + 1, end, end - 2, 1u << 31};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ST(off, bad[i]);
        int n = 0;
        int r = shmc_iterate(c, count_entries, &n);
        assert_true(r == 0 || r == -EBADMSG);
        assert_true(shmc_check(c, NULL, NULL) > 0);
        char buf[64];
        size_t vlen;
        int g = shmc_get(c, "a", 1, buf, sizeof buf, &vlen, NULL);
        assert_true(g == -EBADMSG || g == -ENOENT);
        uint64_t res;
        int ir = shmc_incr(c, "a", 1, 1, NULL, 0, &res);
        assert_true(ir < 0);
    }
    /* a set of the key replaces the corrupt slot */
    assert_int_equal(shmc_set(c, "a", 1, "fresh", 5, 0, 0), 0);
    assert_int_equal(shmc_check(c, say_problem, NULL), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup_small, tu_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(a_corrupt_log_pointer_is_caught_and_the_next_set_stays_inside),
        T(a_corrupt_main_log_pointer_is_caught_and_sets_stay_inside),
        T(item_offsets_that_would_wrap_are_refused_by_every_walker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
