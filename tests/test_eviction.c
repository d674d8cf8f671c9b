/*
 * test_eviction.c - a full cache keeps accepting sets by evicting: never an
 * error, the latest value always readable right after its set, never more
 * items than slots, never a wrong value for an older key.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#define VMAX (16u * 1024u)

static int evict_setup(void **state)
{
    shmc_config_t cfg;
    shmc_config_init(&cfg);
    cfg.capacity = 1024;
    cfg.memory = 256u * 1024u;
    cfg.max_value_len = VMAX;
    return tu_fixture_open(state, &cfg);
}

static shmc_t *H(void **state) { return ((tu_fixture_t *)*state)->c; }

static shmc_stats_t stats_of(shmc_t *c)
{
    shmc_stats_t st;
    assert_int_equal(shmc_stats(c, &st), 0);
    return st;
}

static void key_of(char *k, size_t cap, uint64_t i)
{
    snprintf(k, cap, "key:%011llu", (unsigned long long)i);
}

static void hundred_thousand_mixed_size_sets_never_fail(void **state)
{
    shmc_t *c = H(state);
    unsigned char *v = malloc(VMAX), *buf = malloc(VMAX);
    assert_non_null(v);
    assert_non_null(buf);
    uint64_t s = 0x5eed;
    char k[32];
    uint64_t old_hits = 0, old_misses = 0;
    for (uint64_t i = 0; i < 100000; i++) {
        key_of(k, sizeof k, i);
        size_t klen = strlen(k);
        /* mixed sizes 1..16384, skewed towards small ones */
        uint64_t r = tu_rand(&s);
        size_t len;
        switch (r % 4) {
        case 0: len = 1 + (size_t)((r >> 8) % 64); break;
        case 1: len = 1 + (size_t)((r >> 8) % 1024); break;
        case 2: len = 1 + (size_t)((r >> 8) % 4096); break;
        default: len = 1 + (size_t)((r >> 8) % VMAX); break;
        }
        if (len < TU_VAL_MIN(klen))
            len = TU_VAL_MIN(klen); /* self-checking needs a few bytes */
        len = tu_make_value(v, len, k, klen, i);
        int rc = shmc_set(c, k, klen, v, len, 0, 0);
        if (rc != 0)
            fail_msg("set #%llu (%zu bytes): %d %s", (unsigned long long)i,
                     len, rc, shmc_strerror(rc));
        size_t vlen = 0;
        rc = shmc_get(c, k, klen, buf, VMAX, &vlen, NULL);
        if (rc != 0)
            fail_msg("get right after set #%llu: %d %s", (unsigned long long)i,
                     rc, shmc_strerror(rc));
        assert_int_equal(vlen, len);
        uint64_t seq = 0;
        assert_int_equal(tu_check_value(buf, vlen, k, klen, &seq), 0);
        assert_int_equal(seq, i);
        /* an older key is either gone or whole and its own */
        if (i > 0 && i % 7 == 0) {
            uint64_t j = tu_rand(&s) % i;
            key_of(k, sizeof k, j);
            rc = shmc_get(c, k, strlen(k), buf, VMAX, &vlen, NULL);
            if (rc == 0) {
                old_hits++;
                assert_int_equal(tu_check_value(buf, vlen, k, strlen(k), &seq), 0);
                assert_int_equal(seq, j);
            } else {
                assert_int_equal(rc, -ENOENT);
                old_misses++;
            }
        }
    }
    shmc_stats_t st = stats_of(c);
    assert_true(st.curr_items <= st.index_slots);
    assert_int_equal(st.capacity, 1024);
    assert_true(st.index_slots >= 1024 * 18 / 10);
    assert_true(st.curr_items > 0);
    assert_true(st.evictions > 0);
    assert_true(st.bytes <= st.limit_maxbytes);
    assert_true(st.total_items >= 100000);
    assert_true(old_misses > 0);
    assert_int_equal(shmc_check(c, NULL, NULL), 0);
    shmc_info_t inf;
    assert_int_equal(shmc_info(c, &inf), 0);
    assert_true(inf.used_slots <= inf.index_slots);
    print_message("evictions %llu, curr_items %llu, bytes %llu of %llu, "
                  "old keys hit %llu / missed %llu\n",
                  (unsigned long long)st.evictions,
                  (unsigned long long)st.curr_items,
                  (unsigned long long)st.bytes,
                  (unsigned long long)st.limit_maxbytes,
                  (unsigned long long)old_hits, (unsigned long long)old_misses);
    free(v);
    free(buf);
}

static void values_of_max_value_len_always_fit(void **state)
{
    shmc_t *c = H(state);
    unsigned char *v = malloc(VMAX), *buf = malloc(VMAX);
    assert_non_null(v);
    assert_non_null(buf);
    char k[32];
    for (uint64_t i = 0; i < 500; i++) {
        key_of(k, sizeof k, i % 97);
        size_t len = tu_make_value(v, VMAX, k, strlen(k), i);
        assert_int_equal(len, VMAX);
        assert_int_equal(shmc_set(c, k, strlen(k), v, len, 0, 0), 0);
        size_t vlen = 0;
        assert_int_equal(shmc_get(c, k, strlen(k), buf, VMAX, &vlen, NULL), 0);
        assert_int_equal(vlen, VMAX);
        assert_int_equal(tu_check_value(buf, vlen, k, strlen(k), NULL), 0);
    }
    shmc_stats_t st = stats_of(c);
    assert_true(st.bytes <= st.limit_maxbytes);
    assert_int_equal(shmc_check(c, NULL, NULL), 0);
    free(v);
    free(buf);
}

static void many_more_keys_than_slots_are_accepted(void **state)
{
    shmc_t *c = H(state);
    char k[32];
    for (uint64_t i = 0; i < 20000; i++) {
        key_of(k, sizeof k, i);
        assert_int_equal(shmc_set(c, k, strlen(k), "x", 1, 0, 0), 0);
        char buf[4];
        size_t vlen;
        assert_int_equal(shmc_get(c, k, strlen(k), buf, sizeof buf, &vlen, NULL), 0);
        if (i % 4 == 0)
            assert_int_equal(shmc_add(c, k, strlen(k), "y", 1, 0, 0), -EEXIST);
    }
    shmc_stats_t st = stats_of(c);
    assert_true(st.curr_items <= st.index_slots);
    /* small values: the index, not memory, is the limit; it holds at least
     * the capacity promised, and most slots hold something */
    assert_true(st.curr_items >= st.capacity);
    assert_true(st.curr_items >= st.index_slots / 2);
    assert_true(st.evictions >= 20000 - st.index_slots);
    assert_int_equal(shmc_check(c, NULL, NULL), 0);
}

static void read_entries_survive_a_stream_of_unread_ones(void **state)
{
    shmc_t *c = H(state);
    enum { HOT = 32 };
    char k[32], buf[128];
    size_t vlen;
    for (int h = 0; h < HOT; h++) {
        snprintf(k, sizeof k, "hot-%d", h);
        assert_int_equal(shmc_set(c, k, strlen(k), "hot value", 9, 0, 0), 0);
    }
    for (uint64_t i = 0; i < 20000; i++) {
        key_of(k, sizeof k, i);
        assert_int_equal(shmc_set(c, k, strlen(k), "cold value.....", 15, 0, 0), 0);
        if (i % 64 == 0) {
            for (int h = 0; h < HOT; h++) {
                snprintf(k, sizeof k, "hot-%d", h);
                (void)shmc_get(c, k, strlen(k), buf, sizeof buf, &vlen, NULL);
            }
        }
    }
    int alive = 0;
    for (int h = 0; h < HOT; h++) {
        snprintf(k, sizeof k, "hot-%d", h);
        if (shmc_get(c, k, strlen(k), buf, sizeof buf, &vlen, NULL) == 0)
            alive++;
    }
    print_message("%d of %d hot entries survived 20000 cold sets\n", alive, HOT);
    assert_true(alive >= HOT * 3 / 4);
    shmc_stats_t st = stats_of(c);
    assert_true(st.evicted_unfetched > 0);
}

static void a_deleted_or_overwritten_entry_frees_its_room(void **state)
{
    shmc_t *c = H(state);
    unsigned char *v = malloc(VMAX);
    assert_non_null(v);
    memset(v, 'z', VMAX);
    /* Cycle 64 big values through 8 keys: 1 MiB through 256 KiB; deleting
     * as we go means nothing live has to be evicted for memory. */
    char k[32];
    for (int i = 0; i < 64; i++) {
        snprintf(k, sizeof k, "big-%d", i % 8);
        assert_int_equal(shmc_set(c, k, strlen(k), v, 8192, 0, 0), 0);
        if (i % 2)
            assert_int_equal(shmc_delete(c, k, strlen(k)), 0);
    }
    shmc_stats_t st = stats_of(c);
    assert_true(st.curr_items <= 8);
    assert_true(st.bytes <= 8 * (8192 + 512));
    assert_int_equal(shmc_check(c, NULL, NULL), 0);
    free(v);
}

/* Store prefix-0 .. prefix-(n-1), whole values of about 1 KiB. */
static void store_named(shmc_t *c, const char *prefix, int n, uint64_t ttl_ms)
{
    char k[32];
    unsigned char v[1200];
    for (int i = 0; i < n; i++) {
        snprintf(k, sizeof k, "%s-%d", prefix, i);
        size_t len = tu_make_value(v, 1000, k, strlen(k), (uint64_t)i);
        assert_int_equal(shmc_set(c, k, strlen(k), v, len, ttl_ms, 0), 0);
    }
}

/* How many of prefix-0 .. prefix-(n-1) are still there; each one found
 * must hold a whole value of its own key. */
static int alive_named(shmc_t *c, const char *prefix, int n)
{
    char k[32], buf[1200];
    size_t vlen;
    int alive = 0;
    for (int i = 0; i < n; i++) {
        snprintf(k, sizeof k, "%s-%d", prefix, i);
        int rc = shmc_get(c, k, strlen(k), buf, sizeof buf, &vlen, NULL);
        if (rc == 0) {
            alive++;
            assert_int_equal(tu_check_value((unsigned char *)buf, vlen, k, strlen(k), NULL), 0);
        } else {
            assert_int_equal(rc, -ENOENT);
        }
    }
    return alive;
}

/* 16 entries written once, then 20000 overwrites of 16 other keys: the
 * live data (about 20 KiB) is under a tenth of the 256 KiB of item memory
 * and 32 entries of 1024 slots, so nothing live needs to go (an exact LRU
 * would evict nothing); reading them (read != 0) must not matter. */
static void entries_that_fit_easily_survive_overwrites_of_others(void **state,
                                                                 int read)
{
    shmc_t *c = H(state);
    char k[32], buf[1200];
    unsigned char v[1200];
    size_t vlen;
    for (int i = 0; i < 16; i++) {
        snprintf(k, sizeof k, "keep-%d", i);
        size_t len = tu_make_value(v, 200, k, strlen(k), (uint64_t)i);
        assert_int_equal(shmc_set(c, k, strlen(k), v, len, 0, 0), 0);
    }
    for (int n = 0; n < 20000; n++) {
        snprintf(k, sizeof k, "churn-%d", n % 16);
        size_t len = tu_make_value(v, 1000, k, strlen(k), (uint64_t)n);
        assert_int_equal(shmc_set(c, k, strlen(k), v, len, 0, 0), 0);
        if (read && n % 100 == 0) {
            for (int i = 0; i < 16; i++) {
                snprintf(k, sizeof k, "keep-%d", i);
                (void)shmc_get(c, k, strlen(k), buf, sizeof buf, &vlen, NULL);
            }
        }
    }
    int alive = alive_named(c, "keep", 16);
    shmc_stats_t st = stats_of(c);
    print_message("%d of 16 entries survived (evictions %llu, curr_items %llu, "
                  "bytes %llu of %llu)\n", alive,
                  (unsigned long long)st.evictions,
                  (unsigned long long)st.curr_items,
                  (unsigned long long)st.bytes,
                  (unsigned long long)st.limit_maxbytes);
    assert_int_equal(alive, 16);
    assert_int_equal(st.evictions, 0);
}

static void unread_entries_that_fit_easily_survive_overwrites_of_others(void **state)
{
    entries_that_fit_easily_survive_overwrites_of_others(state, 0);
}

static void read_entries_that_fit_easily_survive_overwrites_of_others(void **state)
{
    entries_that_fit_easily_survive_overwrites_of_others(state, 1);
}

/* Entries read once survive any stream of entries nobody reads: a new
 * entry is judged after an eighth of the memory turned over (the probation
 * log, arena.c), so the stream is evicted there and never reaches the main
 * log where the read entries are. A single CLOCK log would evict them
 * after two turns of the stream. */
static void entries_read_once_outlive_a_long_stream_of_unread_ones(void **state)
{
    shmc_t *c = H(state);
    enum { KEEP = 100 };
    char k[32], buf[1200];
    unsigned char v[1200];
    size_t vlen;
    store_named(c, "keep", KEEP, 0);
    for (int i = 0; i < KEEP; i++) {
        snprintf(k, sizeof k, "keep-%d", i);
        assert_int_equal(shmc_get(c, k, strlen(k), buf, sizeof buf, &vlen, NULL), 0);
    }
    /* 20000 x about 250 B: twenty times the item memory */
    for (uint64_t n = 0; n < 20000; n++) {
        key_of(k, sizeof k, n);
        size_t len = tu_make_value(v, 200, k, strlen(k), n);
        assert_int_equal(shmc_set(c, k, strlen(k), v, len, 0, 0), 0);
    }
    int alive = alive_named(c, "keep", KEEP);
    shmc_stats_t st = stats_of(c);
    print_message("%d of %d entries read once survived 20000 unread sets (evictions %llu)\n",
                  alive, KEEP, (unsigned long long)st.evictions);
    assert_true(alive >= KEEP * 9 / 10);
    assert_true(st.evicted_unfetched > 0);
    assert_int_equal(shmc_check(c, NULL, NULL), 0);
}

/* Expired entries count as live bytes until reclaimed, so a segment full
 * of them looks full. New entries nobody has read yet must then replace
 * the expired ones, not each other (arena.c, main_has_room). */
static void new_unread_entries_replace_expired_ones_not_each_other(void **state)
{
    shmc_t *c = H(state);
    enum { OLD = 220, NEW = 100 };
    store_named(c, "old", OLD, 50);
    tu_sleep_ms(300);
    /* (filling with OLD may have evicted a few: the keys spread unevenly
     * over the stripes; what counts is what the new ones evict) */
    shmc_stats_t before = stats_of(c);
    store_named(c, "new", NEW, 0);
    int alive = alive_named(c, "new", NEW);
    shmc_stats_t st = stats_of(c);
    print_message("%d of %d new entries readable after filling over %d expired ones "
                  "(evictions %llu, reclaimed %llu)\n", alive, NEW, OLD,
                  (unsigned long long)st.evictions, (unsigned long long)st.reclaimed);
    assert_int_equal(alive, NEW);
    assert_int_equal(st.evictions, before.evictions);
}

#define T(f) cmocka_unit_test_setup_teardown(f, evict_setup, tu_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(hundred_thousand_mixed_size_sets_never_fail),
        T(values_of_max_value_len_always_fit),
        T(many_more_keys_than_slots_are_accepted),
        T(read_entries_survive_a_stream_of_unread_ones),
        T(a_deleted_or_overwritten_entry_frees_its_room),
        T(unread_entries_that_fit_easily_survive_overwrites_of_others),
        T(read_entries_that_fit_easily_survive_overwrites_of_others),
        T(entries_read_once_outlive_a_long_stream_of_unread_ones),
        T(new_unread_entries_replace_expired_ones_not_each_other),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
