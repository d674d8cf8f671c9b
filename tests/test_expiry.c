/*
 * test_expiry.c - ttl_ms with real clocks.
 *
 * Never asserts on speed, only "present at once, and gone well after": a
 * 50 ms ttl must be visible right after the set and gone 400 ms later.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#define KS(s) (s), strlen(s)
#define SHORT_TTL 50u   /* ms */
#define WELL_AFTER 400u /* ms: SHORT_TTL has surely passed */

static shmc_t *H(void **state) { return ((tu_fixture_t *)*state)->c; }

static int get_rc(shmc_t *c, const char *k, shmc_item_info_t *info)
{
    char buf[2048];
    size_t vlen = 0;
    return shmc_get(c, k, strlen(k), buf, sizeof buf, &vlen, info);
}

static shmc_stats_t stats_of(shmc_t *c)
{
    shmc_stats_t st;
    assert_int_equal(shmc_stats(c, &st), 0);
    return st;
}

/* What a call right after a store with a short TTL must return (expected),
 * unless the TTL really passed since t0: a loaded machine, or valgrind, can
 * stall a process that long, and then the expired answer (miss) is right. */
#define ASSERT_UNLESS_EXPIRED(call, expected, miss, t0, ttl)                     \
    do {                                                                         \
        int rc_ = (call);                                                        \
        if (tu_now_ms() - (t0) < (ttl))                                          \
            assert_int_equal(rc_, (expected));                                   \
        else                                                                     \
            assert_true(rc_ == (expected) || rc_ == (miss));                     \
    } while (0)

static void an_entry_is_present_before_its_ttl_and_gone_well_after(void **state)
{
    shmc_t *c = H(state);
    uint64_t t0 = tu_now_ms();
    assert_int_equal(shmc_set(c, KS("short"), "v", 1, SHORT_TTL, 0), 0);
    shmc_item_info_t info = {.ttl_ms = 0};
    ASSERT_UNLESS_EXPIRED(get_rc(c, "short", &info), 0, -ENOENT, t0, SHORT_TTL);
    assert_true(info.ttl_ms >= 0);
    assert_true(info.ttl_ms <= SHORT_TTL);
    tu_sleep_ms(WELL_AFTER);
    assert_int_equal(get_rc(c, "short", NULL), -ENOENT);
    assert_int_equal(get_rc(c, "short", NULL), -ENOENT);
}

static void get_expired_counts_misses_on_expired_entries(void **state)
{
    shmc_t *c = H(state);
    assert_int_equal(shmc_set(c, KS("e1"), "v", 1, SHORT_TTL, 0), 0);
    assert_int_equal(shmc_set(c, KS("e2"), "v", 1, SHORT_TTL, 0), 0);
    tu_sleep_ms(WELL_AFTER);
    shmc_stats_t a = stats_of(c);
    assert_int_equal(get_rc(c, "e1", NULL), -ENOENT);
    assert_int_equal(get_rc(c, "e2", NULL), -ENOENT);
    assert_int_equal(get_rc(c, "never", NULL), -ENOENT);
    shmc_stats_t b = stats_of(c);
    assert_int_equal(b.cmd_get - a.cmd_get, 3);
    assert_int_equal(b.get_misses - a.get_misses, 3);
    assert_true(b.get_expired - a.get_expired >= 2);
    assert_true(b.get_expired - a.get_expired <= 3);
    assert_int_equal(b.get_hits, a.get_hits);
}

static void ttl_zero_never_expires(void **state)
{
    shmc_t *c = H(state);
    assert_int_equal(shmc_set(c, KS("forever"), "v", 1, 0, 0), 0);
    tu_sleep_ms(WELL_AFTER);
    shmc_item_info_t info;
    assert_int_equal(get_rc(c, "forever", &info), 0);
    assert_int_equal(info.ttl_ms, -1);
}

static void the_remaining_ttl_counts_down(void **state)
{
    shmc_t *c = H(state);
    assert_int_equal(shmc_set(c, KS("k"), "v", 1, 10000, 0), 0);
    shmc_item_info_t a, b;
    assert_int_equal(get_rc(c, "k", &a), 0);
    assert_true(a.ttl_ms > 9000 && a.ttl_ms <= 10000);
    tu_sleep_ms(300);
    assert_int_equal(get_rc(c, "k", &b), 0);
    assert_true(b.ttl_ms < a.ttl_ms);
    assert_true(b.ttl_ms > 5000);
}

static void a_huge_ttl_does_not_expire_at_once(void **state)
{
    shmc_t *c = H(state);
    const uint64_t ttls[] = {UINT64_MAX, UINT64_MAX / 2, (uint64_t)INT64_MAX,
                             365ull * 24 * 3600 * 1000};
    for (unsigned i = 0; i < sizeof ttls / sizeof ttls[0]; i++) {
        int rc = shmc_set(c, KS("huge"), "v", 1, ttls[i], 0);
        /* the contract does not cap ttl_ms; if it is refused, then cleanly */
        if (rc == -EINVAL)
            continue;
        assert_int_equal(rc, 0);
        shmc_item_info_t info;
        assert_int_equal(get_rc(c, "huge", &info), 0);
        assert_true(info.ttl_ms == -1 || info.ttl_ms > 1000000);
    }
}

static void touch_extends_the_expiry(void **state)
{
    shmc_t *c = H(state);
    assert_int_equal(shmc_set(c, KS("t"), "v", 1, 100, 0), 0);
    assert_int_equal(shmc_touch(c, KS("t"), 60000), 0);
    tu_sleep_ms(WELL_AFTER);
    shmc_item_info_t info;
    assert_int_equal(get_rc(c, "t", &info), 0);
    assert_true(info.ttl_ms > 1000 && info.ttl_ms <= 60000);
}

static void touch_with_zero_removes_the_expiry(void **state)
{
    shmc_t *c = H(state);
    assert_int_equal(shmc_set(c, KS("t"), "v", 1, 100, 0), 0);
    assert_int_equal(shmc_touch(c, KS("t"), 0), 0);
    tu_sleep_ms(WELL_AFTER);
    shmc_item_info_t info;
    assert_int_equal(get_rc(c, "t", &info), 0);
    assert_int_equal(info.ttl_ms, -1);
}

static void touch_can_shorten_the_expiry(void **state)
{
    shmc_t *c = H(state);
    assert_int_equal(shmc_set(c, KS("t"), "v", 1, 0, 0), 0);
    assert_int_equal(shmc_touch(c, KS("t"), SHORT_TTL), 0);
    assert_int_equal(get_rc(c, "t", NULL), 0);
    tu_sleep_ms(WELL_AFTER);
    assert_int_equal(get_rc(c, "t", NULL), -ENOENT);
}

static void touch_of_an_expired_entry_misses(void **state)
{
    shmc_t *c = H(state);
    assert_int_equal(shmc_set(c, KS("t"), "v", 1, SHORT_TTL, 0), 0);
    tu_sleep_ms(WELL_AFTER);
    assert_int_equal(shmc_touch(c, KS("t"), 60000), -ENOENT);
    assert_int_equal(get_rc(c, "t", NULL), -ENOENT);
}

static void add_succeeds_on_an_expired_entry(void **state)
{
    shmc_t *c = H(state);
    uint64_t t0 = tu_now_ms();
    assert_int_equal(shmc_add(c, KS("a"), "old", 3, SHORT_TTL, 0), 0);
    ASSERT_UNLESS_EXPIRED(shmc_add(c, KS("a"), "new", 3, SHORT_TTL, 0), -EEXIST, 0, t0, SHORT_TTL);
    tu_sleep_ms(WELL_AFTER);
    assert_int_equal(shmc_add(c, KS("a"), "new", 3, 0, 0), 0);
    char buf[8];
    size_t vlen;
    shmc_item_info_t info;
    assert_int_equal(shmc_get(c, KS("a"), buf, sizeof buf, &vlen, &info), 0);
    assert_int_equal(vlen, 3);
    assert_memory_equal(buf, "new", 3);
    assert_int_equal(info.ttl_ms, -1);
}

static void replace_and_cas_of_an_expired_entry_miss(void **state)
{
    shmc_t *c = H(state);
    uint64_t t0 = tu_now_ms();
    assert_int_equal(shmc_set(c, KS("r"), "old", 3, SHORT_TTL, 0), 0);
    shmc_item_info_t info = {.cas = 1};
    ASSERT_UNLESS_EXPIRED(get_rc(c, "r", &info), 0, -ENOENT, t0, SHORT_TTL);
    tu_sleep_ms(WELL_AFTER);
    assert_int_equal(shmc_replace(c, KS("r"), "new", 3, 0, 0), -ENOENT);
    assert_int_equal(shmc_cas(c, KS("r"), "new", 3, 0, 0, info.cas), -ENOENT);
    assert_int_equal(shmc_delete(c, KS("r")), -ENOENT);
    assert_int_equal(get_rc(c, "r", NULL), -ENOENT);
}

static void incr_of_an_expired_entry_starts_over(void **state)
{
    shmc_t *c = H(state);
    assert_int_equal(shmc_set(c, KS("n"), "100", 3, SHORT_TTL, 0), 0);
    tu_sleep_ms(WELL_AFTER);
    uint64_t r = 0, init = 7;
    assert_int_equal(shmc_incr(c, KS("n"), 1, NULL, 0, &r), -ENOENT);
    assert_int_equal(shmc_incr(c, KS("n"), 1, &init, 0, &r), 0);
    assert_int_equal(r, 7);
}

static void incr_keeps_the_expiry_of_the_entry(void **state)
{
    shmc_t *c = H(state);
    uint64_t r = 2, t0 = tu_now_ms();
    assert_int_equal(shmc_set(c, KS("n"), "1", 1, 150, 0), 0);
    ASSERT_UNLESS_EXPIRED(shmc_incr(c, KS("n"), 1, NULL, 0, &r), 0, -ENOENT, t0, 150);
    assert_int_equal(r, 2);
    tu_sleep_ms(WELL_AFTER + 150);
    assert_int_equal(get_rc(c, "n", NULL), -ENOENT);
}

static void incr_creates_an_entry_with_the_given_ttl(void **state)
{
    shmc_t *c = H(state);
    uint64_t r = 0, init = 3, t0 = tu_now_ms();
    assert_int_equal(shmc_incr(c, KS("n"), 1, &init, SHORT_TTL, &r), 0);
    ASSERT_UNLESS_EXPIRED(get_rc(c, "n", NULL), 0, -ENOENT, t0, SHORT_TTL);
    tu_sleep_ms(WELL_AFTER);
    assert_int_equal(get_rc(c, "n", NULL), -ENOENT);
}

static void a_set_without_ttl_removes_an_earlier_ttl(void **state)
{
    shmc_t *c = H(state);
    assert_int_equal(shmc_set(c, KS("k"), "a", 1, SHORT_TTL, 0), 0);
    assert_int_equal(shmc_set(c, KS("k"), "b", 1, 0, 0), 0);
    tu_sleep_ms(WELL_AFTER);
    assert_int_equal(get_rc(c, "k", NULL), 0);
}

static void flush_expired_returns_the_count_reclaimed(void **state)
{
    shmc_t *c = H(state);
    char k[32];
    for (int i = 0; i < 10; i++) {
        snprintf(k, sizeof k, "short-%d", i);
        assert_int_equal(shmc_set(c, k, strlen(k), "v", 1, SHORT_TTL, 0), 0);
    }
    for (int i = 0; i < 5; i++) {
        snprintf(k, sizeof k, "long-%d", i);
        assert_int_equal(shmc_set(c, k, strlen(k), "v", 1, 0, 0), 0);
    }
    assert_int_equal(stats_of(c).curr_items, 15);
    /* nothing has expired yet */
    assert_int_equal(shmc_flush_expired(c), 0);
    tu_sleep_ms(WELL_AFTER);
    shmc_stats_t a = stats_of(c);
    assert_int_equal(shmc_flush_expired(c), 10);
    assert_int_equal(shmc_flush_expired(c), 0);
    shmc_stats_t b = stats_of(c);
    assert_int_equal(b.curr_items, 5);
    assert_true(b.bytes < a.bytes);
    assert_int_equal(b.evictions, 0);
    for (int i = 0; i < 5; i++) {
        snprintf(k, sizeof k, "long-%d", i);
        assert_int_equal(get_rc(c, k, NULL), 0);
    }
    assert_int_equal(shmc_check(c, NULL, NULL), 0);
}

static int count_fn(const shmc_entry_t *e, void *arg)
{
    int *n = arg;
    if (e->klen >= 5 && memcmp(e->key, "short", 5) == 0)
        n[0]++;
    else
        n[1]++;
    return 0;
}

static void iterate_skips_expired_entries(void **state)
{
    shmc_t *c = H(state);
    char k[32];
    for (int i = 0; i < 10; i++) {
        snprintf(k, sizeof k, "short-%d", i);
        assert_int_equal(shmc_set(c, k, strlen(k), "v", 1, SHORT_TTL, 0), 0);
        snprintf(k, sizeof k, "long-%d", i);
        assert_int_equal(shmc_set(c, k, strlen(k), "v", 1, 60000, 0), 0);
    }
    int n[2] = {0, 0};
    assert_int_equal(shmc_iterate(c, count_fn, n), 0);
    assert_int_equal(n[0], 10);
    assert_int_equal(n[1], 10);
    tu_sleep_ms(WELL_AFTER);
    n[0] = n[1] = 0;
    assert_int_equal(shmc_iterate(c, count_fn, n), 0);
    assert_int_equal(n[0], 0);
    assert_int_equal(n[1], 10);
}

static void expired_entries_make_room_for_new_ones(void **state)
{
    shmc_t *c = H(state);
    char k[32];
    unsigned char v[1024];
    memset(v, 'x', sizeof v);
    /* 1500 + 1500 entries of 1 KiB do not fit in 2 MiB together */
    for (int i = 0; i < 1500; i++) {
        snprintf(k, sizeof k, "old-%d", i);
        assert_int_equal(shmc_set(c, k, strlen(k), v, sizeof v, SHORT_TTL, 0), 0);
    }
    tu_sleep_ms(WELL_AFTER);
    shmc_stats_t a = stats_of(c);
    for (int i = 0; i < 1500; i++) {
        snprintf(k, sizeof k, "new-%d", i);
        assert_int_equal(shmc_set(c, k, strlen(k), v, sizeof v, 0, 0), 0);
    }
    shmc_stats_t b = stats_of(c);
    assert_true(b.reclaimed > a.reclaimed);
    assert_true(b.expired_unfetched > a.expired_unfetched);
    assert_true(b.curr_items <= b.capacity);
    /* the newest entries are readable */
    for (int i = 1400; i < 1500; i++) {
        snprintf(k, sizeof k, "new-%d", i);
        assert_int_equal(get_rc(c, k, NULL), 0);
    }
}

static void clear_also_hides_entries_with_a_ttl(void **state)
{
    shmc_t *c = H(state);
    assert_int_equal(shmc_set(c, KS("t"), "v", 1, 60000, 0), 0);
    assert_int_equal(shmc_clear(c), 0);
    assert_int_equal(get_rc(c, "t", NULL), -ENOENT);
    assert_int_equal(shmc_touch(c, KS("t"), 0), -ENOENT);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup, tu_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(an_entry_is_present_before_its_ttl_and_gone_well_after),
        T(get_expired_counts_misses_on_expired_entries),
        T(ttl_zero_never_expires),
        T(the_remaining_ttl_counts_down),
        T(a_huge_ttl_does_not_expire_at_once),
        T(touch_extends_the_expiry),
        T(touch_with_zero_removes_the_expiry),
        T(touch_can_shorten_the_expiry),
        T(touch_of_an_expired_entry_misses),
        T(add_succeeds_on_an_expired_entry),
        T(replace_and_cas_of_an_expired_entry_miss),
        T(incr_of_an_expired_entry_starts_over),
        T(incr_keeps_the_expiry_of_the_entry),
        T(incr_creates_an_entry_with_the_given_ttl),
        T(a_set_without_ttl_removes_an_earlier_ttl),
        T(flush_expired_returns_the_count_reclaimed),
        T(iterate_skips_expired_entries),
        T(expired_entries_make_room_for_new_ones),
        T(clear_also_hides_entries_with_a_ttl),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
