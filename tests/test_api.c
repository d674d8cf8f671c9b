/*
 * test_api.c - the data API of shmcache within one process: get, set, add,
 * replace, cas, incr, touch, delete, clear, flush_expired, stats, iterate,
 * strerror, info, procs, check, with their success paths and error codes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <limits.h>

#include "testutil.h"

#define KS(s) (s), strlen(s) /* key argument pair from a C string */

static shmc_t *H(void **state) { return ((tu_fixture_t *)*state)->c; }

static void set_str(shmc_t *c, const char *k, const char *v)
{
    assert_int_equal(shmc_set(c, k, strlen(k), v, strlen(v), 0, 0), 0);
}

static void assert_value(shmc_t *c, const char *k, const char *expect)
{
    char buf[512];
    size_t vlen = 0;
    int rc = shmc_get(c, k, strlen(k), buf, sizeof buf, &vlen, NULL);
    assert_int_equal(rc, 0);
    assert_int_equal(vlen, strlen(expect));
    assert_memory_equal(buf, expect, vlen);
}

static void assert_miss(shmc_t *c, const void *k, size_t klen)
{
    char buf[64];
    size_t vlen = 12345;
    assert_int_equal(shmc_get(c, k, klen, buf, sizeof buf, &vlen, NULL),
                     -ENOENT);
}

static shmc_item_info_t info_of(shmc_t *c, const char *k)
{
    char buf[512];
    size_t vlen = 0;
    shmc_item_info_t info;
    memset(&info, 0xa5, sizeof info);
    assert_int_equal(shmc_get(c, k, strlen(k), buf, sizeof buf, &vlen, &info),
                     0);
    return info;
}

static shmc_stats_t stats_of(shmc_t *c)
{
    shmc_stats_t st;
    memset(&st, 0, sizeof st);
    assert_int_equal(shmc_stats(c, &st), 0);
    return st;
}

/* Parse a stored counter; memcached may pad a shrunk number with spaces. */
static uint64_t counter_of(shmc_t *c, const char *k)
{
    char buf[64];
    size_t vlen = 0;
    assert_int_equal(shmc_get(c, k, strlen(k), buf, sizeof buf - 1, &vlen, NULL),
                     0);
    buf[vlen] = '\0';
    assert_true(vlen > 0);
    for (size_t i = 0; i < vlen; i++) {
        if (buf[i] == ' ')
            break;
        assert_true(buf[i] >= '0' && buf[i] <= '9');
    }
    return strtoull(buf, NULL, 10);
}

/* ---- defaults and basic get/set ---------------------------------------- */

static void config_init_fills_the_documented_defaults(void **state)
{
    (void)state;
    shmc_config_t cfg;
    memset(&cfg, 0xff, sizeof cfg);
    shmc_config_init(&cfg);
    assert_int_equal(cfg.capacity, 65536);
    assert_int_equal(cfg.memory, 65536ull * 256u);
    assert_int_equal(cfg.max_key_len, 250);
    assert_int_equal(cfg.max_value_len, 1u << 20);
    assert_int_equal(cfg.stripes, 0);
    assert_int_equal(cfg.mode, 0600);
}

static void set_then_get_returns_the_value(void **state)
{
    shmc_t *c = H(state);
    set_str(c, "alpha", "one");
    assert_value(c, "alpha", "one");
}

static void get_of_a_missing_key_misses(void **state)
{
    shmc_t *c = H(state);
    assert_miss(c, KS("never-set"));
    set_str(c, "present", "x");
    assert_miss(c, KS("presen"));
    assert_miss(c, KS("presentt"));
}

static void set_overwrites_the_previous_value(void **state)
{
    shmc_t *c = H(state);
    set_str(c, "k", "first value");
    set_str(c, "k", "2nd");
    assert_value(c, "k", "2nd");
    set_str(c, "k", "a much longer third value than the ones before");
    assert_value(c, "k", "a much longer third value than the ones before");
}

static void zero_length_values_are_stored_and_returned(void **state)
{
    shmc_t *c = H(state);
    char buf[8] = "zzzzzzz";
    assert_int_equal(shmc_set(c, KS("empty"), buf, 0, 0, 7), 0);
    size_t vlen = 99;
    shmc_item_info_t info;
    assert_int_equal(shmc_get(c, KS("empty"), buf, sizeof buf, &vlen, &info), 0);
    assert_int_equal(vlen, 0);
    assert_int_equal(info.flags, 7);
    /* a zero-length value also fits a zero-sized buffer */
    vlen = 99;
    assert_int_equal(shmc_get(c, KS("empty"), NULL, 0, &vlen, NULL), 0);
    assert_int_equal(vlen, 0);
}

static void binary_keys_and_values_with_nul_bytes_round_trip(void **state)
{
    shmc_t *c = H(state);
    const unsigned char k1[] = {'a', 0, 'b'};
    const unsigned char k2[] = {'a', 0, 'c'};
    const unsigned char k3[] = {'a'};
    const unsigned char k4[] = {0};
    unsigned char v1[256], v2[3] = {0, 0, 0};
    for (unsigned i = 0; i < sizeof v1; i++)
        v1[i] = (unsigned char)i;
    assert_int_equal(shmc_set(c, k1, sizeof k1, v1, sizeof v1, 0, 0), 0);
    assert_int_equal(shmc_set(c, k2, sizeof k2, v2, sizeof v2, 0, 0), 0);
    assert_int_equal(shmc_set(c, k4, sizeof k4, "nul", 3, 0, 0), 0);
    unsigned char buf[512];
    size_t vlen = 0;
    assert_int_equal(shmc_get(c, k1, sizeof k1, buf, sizeof buf, &vlen, NULL), 0);
    assert_int_equal(vlen, sizeof v1);
    assert_memory_equal(buf, v1, sizeof v1);
    assert_int_equal(shmc_get(c, k2, sizeof k2, buf, sizeof buf, &vlen, NULL), 0);
    assert_int_equal(vlen, 3);
    assert_memory_equal(buf, v2, 3);
    assert_int_equal(shmc_get(c, k4, sizeof k4, buf, sizeof buf, &vlen, NULL), 0);
    assert_int_equal(vlen, 3);
    assert_memory_equal(buf, "nul", 3);
    assert_miss(c, k3, sizeof k3); /* a prefix is another key */
    assert_miss(c, k1, 2);
}

static void get_with_a_small_buffer_reports_the_needed_size(void **state)
{
    shmc_t *c = H(state);
    char val[100];
    memset(val, 'v', sizeof val);
    assert_int_equal(shmc_set(c, KS("big"), val, sizeof val, 0, 0), 0);
    char buf[100];
    size_t vlen = 0;
    assert_int_equal(shmc_get(c, KS("big"), buf, 10, &vlen, NULL), -ENOBUFS);
    assert_int_equal(vlen, 100);
    vlen = 0;
    assert_int_equal(shmc_get(c, KS("big"), NULL, 0, &vlen, NULL), -ENOBUFS);
    assert_int_equal(vlen, 100);
    vlen = 0;
    assert_int_equal(shmc_get(c, KS("big"), buf, 99, &vlen, NULL), -ENOBUFS);
    assert_int_equal(vlen, 100);
    vlen = 0;
    assert_int_equal(shmc_get(c, KS("big"), buf, 100, &vlen, NULL), 0);
    assert_int_equal(vlen, 100);
    assert_memory_equal(buf, val, 100);
}

static void null_arguments_are_rejected_with_einval(void **state)
{
    shmc_t *c = H(state);
    char buf[16];
    size_t vlen;
    uint64_t r, init = 1;
    shmc_stats_t st;
    shmc_info_t inf;
    set_str(c, "k", "5");

    assert_int_equal(shmc_get(NULL, KS("k"), buf, sizeof buf, &vlen, NULL), -EINVAL);
    assert_int_equal(shmc_get(c, NULL, 1, buf, sizeof buf, &vlen, NULL), -EINVAL);
    assert_int_equal(shmc_get(c, KS("k"), buf, sizeof buf, NULL, NULL), -EINVAL);
    assert_int_equal(shmc_get(c, KS("k"), NULL, 8, &vlen, NULL), -EINVAL);

    assert_int_equal(shmc_set(NULL, KS("k"), "v", 1, 0, 0), -EINVAL);
    assert_int_equal(shmc_set(c, NULL, 1, "v", 1, 0, 0), -EINVAL);
    assert_int_equal(shmc_set(c, KS("k"), NULL, 1, 0, 0), -EINVAL);
    assert_int_equal(shmc_add(NULL, KS("n"), "v", 1, 0, 0), -EINVAL);
    assert_int_equal(shmc_add(c, NULL, 1, "v", 1, 0, 0), -EINVAL);
    assert_int_equal(shmc_add(c, KS("n"), NULL, 1, 0, 0), -EINVAL);
    assert_int_equal(shmc_replace(NULL, KS("k"), "v", 1, 0, 0), -EINVAL);
    assert_int_equal(shmc_replace(c, NULL, 1, "v", 1, 0, 0), -EINVAL);
    assert_int_equal(shmc_replace(c, KS("k"), NULL, 1, 0, 0), -EINVAL);
    assert_int_equal(shmc_cas(NULL, KS("k"), "v", 1, 0, 0, 1), -EINVAL);
    assert_int_equal(shmc_cas(c, NULL, 1, "v", 1, 0, 0, 1), -EINVAL);
    assert_int_equal(shmc_cas(c, KS("k"), NULL, 1, 0, 0, 1), -EINVAL);
    assert_int_equal(shmc_incr(NULL, KS("k"), 1, &init, 0, &r), -EINVAL);
    assert_int_equal(shmc_incr(c, NULL, 1, 1, &init, 0, &r), -EINVAL);
    assert_int_equal(shmc_touch(NULL, KS("k"), 0), -EINVAL);
    assert_int_equal(shmc_touch(c, NULL, 1, 0), -EINVAL);
    assert_int_equal(shmc_delete(NULL, KS("k")), -EINVAL);
    assert_int_equal(shmc_delete(c, NULL, 1), -EINVAL);
    assert_int_equal(shmc_clear(NULL), -EINVAL);
    assert_int_equal(shmc_flush_expired(NULL), -EINVAL);
    assert_int_equal(shmc_stats(NULL, &st), -EINVAL);
    assert_int_equal(shmc_stats(c, NULL), -EINVAL);
    assert_int_equal(shmc_iterate(c, NULL, NULL), -EINVAL);
    assert_int_equal(shmc_info(NULL, &inf), -EINVAL);
    assert_int_equal(shmc_info(c, NULL), -EINVAL);
    assert_int_equal(shmc_procs(c, NULL, NULL), -EINVAL);
    assert_true(shmc_check(NULL, NULL, NULL) < 0);

    /* nothing changed */
    assert_value(c, "k", "5");
    assert_miss(c, KS("n"));
}

static void empty_keys_are_rejected_with_einval(void **state)
{
    shmc_t *c = H(state);
    char buf[16];
    size_t vlen;
    uint64_t r, init = 1;
    assert_int_equal(shmc_get(c, "k", 0, buf, sizeof buf, &vlen, NULL), -EINVAL);
    assert_int_equal(shmc_set(c, "k", 0, "v", 1, 0, 0), -EINVAL);
    assert_int_equal(shmc_add(c, "k", 0, "v", 1, 0, 0), -EINVAL);
    assert_int_equal(shmc_replace(c, "k", 0, "v", 1, 0, 0), -EINVAL);
    assert_int_equal(shmc_cas(c, "k", 0, "v", 1, 0, 0, 1), -EINVAL);
    assert_int_equal(shmc_incr(c, "k", 0, 1, &init, 0, &r), -EINVAL);
    assert_int_equal(shmc_touch(c, "k", 0, 0), -EINVAL);
    assert_int_equal(shmc_delete(c, "k", 0), -EINVAL);
    assert_int_equal(stats_of(c).curr_items, 0);
}

static void keys_longer_than_max_key_len_are_rejected_with_e2big(void **state)
{
    tu_fixture_t *f = *state;
    shmc_t *c = f->c;
    size_t max = f->cfg.max_key_len;
    char *key = malloc(max + 2);
    assert_non_null(key);
    memset(key, 'k', max + 1);
    char buf[16];
    size_t vlen;
    uint64_t r, init = 1;
    /* exactly max_key_len is fine */
    assert_int_equal(shmc_set(c, key, max, "v", 1, 0, 0), 0);
    assert_int_equal(shmc_get(c, key, max, buf, sizeof buf, &vlen, NULL), 0);
    assert_int_equal(vlen, 1);
    /* one more is not */
    assert_int_equal(shmc_set(c, key, max + 1, "v", 1, 0, 0), -E2BIG);
    assert_int_equal(shmc_add(c, key, max + 1, "v", 1, 0, 0), -E2BIG);
    assert_int_equal(shmc_replace(c, key, max + 1, "v", 1, 0, 0), -E2BIG);
    assert_int_equal(shmc_cas(c, key, max + 1, "v", 1, 0, 0, 1), -E2BIG);
    assert_int_equal(shmc_get(c, key, max + 1, buf, sizeof buf, &vlen, NULL), -E2BIG);
    assert_int_equal(shmc_incr(c, key, max + 1, 1, &init, 0, &r), -E2BIG);
    assert_int_equal(shmc_touch(c, key, max + 1, 0), -E2BIG);
    assert_int_equal(shmc_delete(c, key, max + 1), -E2BIG);
    free(key);
}

static void values_longer_than_max_value_len_are_rejected_with_e2big(void **state)
{
    tu_fixture_t *f = *state;
    shmc_t *c = f->c;
    size_t max = f->cfg.max_value_len;
    unsigned char *val = malloc(max + 1);
    unsigned char *buf = malloc(max + 1);
    assert_non_null(val);
    assert_non_null(buf);
    for (size_t i = 0; i <= max; i++)
        val[i] = (unsigned char)(i * 7u);
    set_str(c, "v", "old");
    assert_int_equal(shmc_set(c, KS("v"), val, max + 1, 0, 0), -E2BIG);
    assert_int_equal(shmc_replace(c, KS("v"), val, max + 1, 0, 0), -E2BIG);
    assert_int_equal(shmc_add(c, KS("new"), val, max + 1, 0, 0), -E2BIG);
    shmc_item_info_t info = info_of(c, "v");
    assert_int_equal(shmc_cas(c, KS("v"), val, max + 1, 0, 0, info.cas), -E2BIG);
    /* the failed writes changed nothing */
    assert_value(c, "v", "old");
    assert_miss(c, KS("new"));
    /* exactly max_value_len is stored whole */
    assert_int_equal(shmc_set(c, KS("v"), val, max, 0, 0), 0);
    size_t vlen = 0;
    assert_int_equal(shmc_get(c, KS("v"), buf, max + 1, &vlen, NULL), 0);
    assert_int_equal(vlen, max);
    assert_memory_equal(buf, val, max);
    free(val);
    free(buf);
}

/* ---- item info ---------------------------------------------------------- */

static void flags_round_trip_through_info(void **state)
{
    shmc_t *c = H(state);
    const uint32_t flags[] = {0, 1, 0x80000000u, 0xdeadbeefu, UINT32_MAX};
    for (unsigned i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        assert_int_equal(shmc_set(c, KS("f"), "v", 1, 0, flags[i]), 0);
        assert_int_equal(info_of(c, "f").flags, flags[i]);
    }
    assert_int_equal(shmc_add(c, KS("g"), "v", 1, 0, 42), 0);
    assert_int_equal(info_of(c, "g").flags, 42);
    assert_int_equal(shmc_replace(c, KS("g"), "v", 1, 0, 43), 0);
    assert_int_equal(info_of(c, "g").flags, 43);
}

static void info_cas_changes_on_every_write(void **state)
{
    shmc_t *c = H(state);
    uint64_t seen[8];
    unsigned n = 0;
    set_str(c, "c", "1");
    seen[n++] = info_of(c, "c").cas;
    set_str(c, "c", "1"); /* the same value again is still a write */
    seen[n++] = info_of(c, "c").cas;
    assert_int_equal(shmc_replace(c, KS("c"), "2", 1, 0, 0), 0);
    seen[n++] = info_of(c, "c").cas;
    assert_int_equal(shmc_cas(c, KS("c"), "3", 1, 0, 0, seen[n - 1]), 0);
    seen[n++] = info_of(c, "c").cas;
    assert_int_equal(shmc_incr(c, KS("c"), 1, NULL, 0, NULL), 0);
    seen[n++] = info_of(c, "c").cas;
    assert_int_equal(shmc_delete(c, KS("c")), 0);
    assert_int_equal(shmc_add(c, KS("c"), "1", 1, 0, 0), 0);
    seen[n++] = info_of(c, "c").cas;
    for (unsigned i = 0; i < n; i++)
        for (unsigned j = i + 1; j < n; j++)
            assert_int_not_equal(seen[i], seen[j]);
    /* a read does not change it */
    assert_int_equal(info_of(c, "c").cas, seen[n - 1]);
    /* another key's cas differs too */
    set_str(c, "d", "1");
    assert_int_not_equal(info_of(c, "d").cas, seen[n - 1]);
}

static void info_ttl_is_minus_one_without_expiry(void **state)
{
    shmc_t *c = H(state);
    set_str(c, "forever", "v");
    shmc_item_info_t info = info_of(c, "forever");
    assert_int_equal(info.ttl_ms, -1);
    assert_int_equal(info.stale, 0);
    assert_int_equal(shmc_set(c, KS("limited"), "v", 1, 60000, 0), 0);
    info = info_of(c, "limited");
    assert_true(info.ttl_ms > 0);
    assert_true(info.ttl_ms <= 60000);
    assert_int_equal(info.stale, 0);
}

/* ---- add / replace / cas ------------------------------------------------ */

static void add_fails_with_eexist_on_a_live_entry_and_keeps_it(void **state)
{
    shmc_t *c = H(state);
    assert_int_equal(shmc_add(c, KS("a"), "first", 5, 0, 1), 0);
    uint64_t cas = info_of(c, "a").cas;
    assert_int_equal(shmc_add(c, KS("a"), "second", 6, 0, 2), -EEXIST);
    assert_value(c, "a", "first");
    shmc_item_info_t info = info_of(c, "a");
    assert_int_equal(info.flags, 1);
    assert_int_equal(info.cas, cas);
}

static void add_succeeds_on_a_missing_or_deleted_key(void **state)
{
    shmc_t *c = H(state);
    assert_int_equal(shmc_add(c, KS("a"), "1", 1, 0, 0), 0);
    assert_value(c, "a", "1");
    assert_int_equal(shmc_delete(c, KS("a")), 0);
    assert_int_equal(shmc_add(c, KS("a"), "2", 1, 0, 0), 0);
    assert_value(c, "a", "2");
}

static void replace_fails_with_enoent_on_a_missing_key(void **state)
{
    shmc_t *c = H(state);
    assert_int_equal(shmc_replace(c, KS("r"), "v", 1, 0, 0), -ENOENT);
    assert_miss(c, KS("r"));
    set_str(c, "r", "v");
    assert_int_equal(shmc_delete(c, KS("r")), 0);
    assert_int_equal(shmc_replace(c, KS("r"), "w", 1, 0, 0), -ENOENT);
    assert_miss(c, KS("r"));
}

static void replace_overwrites_a_live_entry(void **state)
{
    shmc_t *c = H(state);
    set_str(c, "r", "old");
    assert_int_equal(shmc_replace(c, KS("r"), "newer", 5, 0, 9), 0);
    assert_value(c, "r", "newer");
    assert_int_equal(info_of(c, "r").flags, 9);
}

static void cas_succeeds_with_the_current_cas(void **state)
{
    shmc_t *c = H(state);
    set_str(c, "x", "old");
    uint64_t cas = info_of(c, "x").cas;
    assert_int_equal(shmc_cas(c, KS("x"), "new", 3, 0, 5, cas), 0);
    assert_value(c, "x", "new");
    shmc_item_info_t info = info_of(c, "x");
    assert_int_equal(info.flags, 5);
    assert_int_not_equal(info.cas, cas);
    /* the old cas is now stale */
    assert_int_equal(shmc_cas(c, KS("x"), "again", 5, 0, 0, cas), -ESTALE);
    assert_value(c, "x", "new");
}

static void cas_fails_with_estale_after_another_write(void **state)
{
    shmc_t *c = H(state);
    set_str(c, "x", "v1");
    uint64_t cas = info_of(c, "x").cas;
    set_str(c, "x", "v2");
    assert_int_equal(shmc_cas(c, KS("x"), "v3", 2, 0, 0, cas), -ESTALE);
    assert_value(c, "x", "v2");
}

static void cas_fails_with_enoent_when_the_entry_is_gone(void **state)
{
    shmc_t *c = H(state);
    set_str(c, "x", "v1");
    uint64_t cas = info_of(c, "x").cas;
    assert_int_equal(shmc_delete(c, KS("x")), 0);
    assert_int_equal(shmc_cas(c, KS("x"), "v3", 2, 0, 0, cas), -ENOENT);
    assert_miss(c, KS("x"));
    assert_int_equal(shmc_cas(c, KS("never"), "v", 1, 0, 0, cas), -ENOENT);
    assert_miss(c, KS("never"));
}

/* ---- incr ----------------------------------------------------------------- */

static void incr_adds_and_stores_decimal(void **state)
{
    shmc_t *c = H(state);
    set_str(c, "n", "10");
    uint64_t r = 0;
    assert_int_equal(shmc_incr(c, KS("n"), 5, NULL, 0, &r), 0);
    assert_int_equal(r, 15);
    assert_value(c, "n", "15");
    set_str(c, "n", "9");
    assert_int_equal(shmc_incr(c, KS("n"), 1, NULL, 0, &r), 0);
    assert_int_equal(r, 10);
    assert_value(c, "n", "10");
    assert_int_equal(shmc_incr(c, KS("n"), 0, NULL, 0, &r), 0);
    assert_int_equal(r, 10);
    assert_int_equal(shmc_incr(c, KS("n"), 1000000, NULL, 0, NULL), 0);
    assert_value(c, "n", "1000010");
    assert_int_equal(shmc_incr(c, KS("n"), -3, NULL, 0, &r), 0);
    assert_int_equal(r, 1000007);
    assert_int_equal(counter_of(c, "n"), 1000007);
}

static void incr_wraps_past_uint64_max(void **state)
{
    shmc_t *c = H(state);
    uint64_t r = 7;
    set_str(c, "n", "18446744073709551615");
    assert_int_equal(shmc_incr(c, KS("n"), 1, NULL, 0, &r), 0);
    assert_int_equal(r, 0);
    assert_int_equal(counter_of(c, "n"), 0);
    set_str(c, "n", "18446744073709551614");
    assert_int_equal(shmc_incr(c, KS("n"), 3, NULL, 0, &r), 0);
    assert_int_equal(r, 1);
    assert_int_equal(counter_of(c, "n"), 1);
    set_str(c, "n", "18446744073709551600");
    assert_int_equal(shmc_incr(c, KS("n"), INT64_MAX, NULL, 0, &r), 0);
    assert_true(r == (uint64_t)18446744073709551600ull + (uint64_t)INT64_MAX);
}

static void decr_floors_at_zero(void **state)
{
    shmc_t *c = H(state);
    uint64_t r = 7;
    set_str(c, "n", "5");
    assert_int_equal(shmc_incr(c, KS("n"), -20, NULL, 0, &r), 0);
    assert_int_equal(r, 0);
    assert_int_equal(counter_of(c, "n"), 0);
    assert_int_equal(shmc_incr(c, KS("n"), -1, NULL, 0, &r), 0);
    assert_int_equal(r, 0);
    set_str(c, "n", "18446744073709551615");
    assert_int_equal(shmc_incr(c, KS("n"), INT64_MIN, NULL, 0, &r), 0);
    assert_true(r == 18446744073709551615ull - (uint64_t)INT64_MAX - 1u);
    set_str(c, "n", "100");
    assert_int_equal(shmc_incr(c, KS("n"), INT64_MIN, NULL, 0, &r), 0);
    assert_int_equal(r, 0);
    set_str(c, "n", "100");
    assert_int_equal(shmc_incr(c, KS("n"), -1, NULL, 0, &r), 0);
    assert_int_equal(r, 99);
    assert_int_equal(counter_of(c, "n"), 99);
}

static void incr_of_a_non_number_fails_with_einval_and_keeps_it(void **state)
{
    shmc_t *c = H(state);
    const char *bad[] = {"abc", "12abc", "18446744073709551616",
                         "99999999999999999999", "123456789012345678901"};
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t r = 77, init = 5;
        set_str(c, "n", bad[i]);
        uint64_t cas = info_of(c, "n").cas;
        assert_int_equal(shmc_incr(c, KS("n"), 1, NULL, 0, &r), -EINVAL);
        assert_int_equal(shmc_incr(c, KS("n"), -1, &init, 0, &r), -EINVAL);
        assert_value(c, "n", bad[i]);
        assert_int_equal(info_of(c, "n").cas, cas);
    }
}

static void incr_of_a_missing_key_without_initial_misses(void **state)
{
    shmc_t *c = H(state);
    uint64_t r = 77;
    assert_int_equal(shmc_incr(c, KS("missing"), 1, NULL, 0, &r), -ENOENT);
    assert_miss(c, KS("missing"));
    set_str(c, "gone", "3");
    assert_int_equal(shmc_delete(c, KS("gone")), 0);
    assert_int_equal(shmc_incr(c, KS("gone"), 1, NULL, 0, &r), -ENOENT);
    assert_miss(c, KS("gone"));
}

static void incr_of_a_missing_key_with_initial_creates_it_without_delta(void **state)
{
    shmc_t *c = H(state);
    uint64_t r = 0, init = 42;
    assert_int_equal(shmc_incr(c, KS("ctr"), 7, &init, 0, &r), 0);
    assert_int_equal(r, 42);
    assert_value(c, "ctr", "42");
    shmc_item_info_t info = info_of(c, "ctr");
    assert_int_equal(info.flags, 0);
    assert_int_equal(info.ttl_ms, -1);
    /* now it exists: the delta applies and initial is ignored */
    assert_int_equal(shmc_incr(c, KS("ctr"), 7, &init, 0, &r), 0);
    assert_int_equal(r, 49);
    assert_value(c, "ctr", "49");
    /* created with a ttl */
    init = 0;
    assert_int_equal(shmc_incr(c, KS("ttl-ctr"), 1, &init, 60000, &r), 0);
    assert_int_equal(r, 0);
    info = info_of(c, "ttl-ctr");
    assert_true(info.ttl_ms > 0 && info.ttl_ms <= 60000);
    /* initial UINT64_MAX, no result pointer */
    init = UINT64_MAX;
    assert_int_equal(shmc_incr(c, KS("max"), 1, &init, 0, NULL), 0);
    assert_value(c, "max", "18446744073709551615");
}

static void incr_keeps_flags_and_expiry_and_changes_cas(void **state)
{
    shmc_t *c = H(state);
    assert_int_equal(shmc_set(c, KS("n"), "1", 1, 60000, 0xabcd), 0);
    uint64_t cas = info_of(c, "n").cas;
    uint64_t r = 0;
    assert_int_equal(shmc_incr(c, KS("n"), 1, NULL, 0, &r), 0);
    assert_int_equal(r, 2);
    shmc_item_info_t info = info_of(c, "n");
    assert_int_equal(info.flags, 0xabcd);
    assert_true(info.ttl_ms > 0 && info.ttl_ms <= 60000);
    assert_int_not_equal(info.cas, cas);
    /* without expiry it stays without expiry */
    assert_int_equal(shmc_set(c, KS("m"), "1", 1, 0, 3), 0);
    assert_int_equal(shmc_incr(c, KS("m"), 1, NULL, 60000, &r), 0);
    info = info_of(c, "m");
    assert_int_equal(info.ttl_ms, -1);
    assert_int_equal(info.flags, 3);
}

/* ---- touch / delete / clear / flush --------------------------------------- */

static void touch_of_a_missing_key_misses(void **state)
{
    shmc_t *c = H(state);
    assert_int_equal(shmc_touch(c, KS("missing"), 1000), -ENOENT);
    assert_miss(c, KS("missing"));
}

static void touch_sets_and_removes_expiry(void **state)
{
    shmc_t *c = H(state);
    set_str(c, "t", "v");
    assert_int_equal(info_of(c, "t").ttl_ms, -1);
    assert_int_equal(shmc_touch(c, KS("t"), 60000), 0);
    shmc_item_info_t info = info_of(c, "t");
    assert_true(info.ttl_ms > 0 && info.ttl_ms <= 60000);
    assert_int_equal(shmc_touch(c, KS("t"), 0), 0);
    assert_int_equal(info_of(c, "t").ttl_ms, -1);
    assert_value(c, "t", "v");
}

static void delete_returns_zero_then_enoent(void **state)
{
    shmc_t *c = H(state);
    set_str(c, "d", "v");
    assert_int_equal(shmc_delete(c, KS("d")), 0);
    assert_int_equal(shmc_delete(c, KS("d")), -ENOENT);
    assert_int_equal(shmc_delete(c, KS("never")), -ENOENT);
}

static void get_after_delete_misses(void **state)
{
    shmc_t *c = H(state);
    set_str(c, "d", "v");
    set_str(c, "e", "w");
    assert_int_equal(shmc_delete(c, KS("d")), 0);
    assert_miss(c, KS("d"));
    assert_value(c, "e", "w");
    set_str(c, "d", "back");
    assert_value(c, "d", "back");
}

static void clear_makes_every_entry_miss_and_counts_get_flushed(void **state)
{
    shmc_t *c = H(state);
    char k[32];
    for (int i = 0; i < 50; i++) {
        snprintf(k, sizeof k, "clear-%d", i);
        set_str(c, k, "v");
    }
    shmc_stats_t before = stats_of(c);
    assert_int_equal(shmc_clear(c), 0);
    for (int i = 0; i < 50; i++) {
        snprintf(k, sizeof k, "clear-%d", i);
        assert_miss(c, k, strlen(k));
    }
    shmc_stats_t after = stats_of(c);
    assert_int_equal(after.generation, before.generation + 1);
    assert_int_equal(after.get_flushed - before.get_flushed, 50);
    assert_int_equal(after.get_misses - before.get_misses, 50);
    assert_int_equal(after.get_hits, before.get_hits);
    /* cleared entries are gone for every operation */
    assert_int_equal(shmc_delete(c, KS("clear-1")), -ENOENT);
    assert_int_equal(shmc_replace(c, KS("clear-2"), "x", 1, 0, 0), -ENOENT);
    assert_int_equal(shmc_touch(c, KS("clear-3"), 0), -ENOENT);
    assert_int_equal(shmc_incr(c, KS("clear-4"), 1, NULL, 0, NULL), -ENOENT);
    assert_int_equal(shmc_add(c, KS("clear-5"), "new", 3, 0, 0), 0);
    assert_value(c, "clear-5", "new");
}

static void entries_set_after_clear_are_visible(void **state)
{
    shmc_t *c = H(state);
    set_str(c, "a", "before");
    assert_int_equal(shmc_clear(c), 0);
    set_str(c, "a", "after");
    set_str(c, "b", "after");
    assert_value(c, "a", "after");
    assert_value(c, "b", "after");
    assert_int_equal(shmc_clear(c), 0);
    assert_int_equal(shmc_clear(c), 0);
    assert_miss(c, KS("a"));
    set_str(c, "a", "again");
    assert_value(c, "a", "again");
}

static void flush_expired_on_a_fresh_cache_returns_zero(void **state)
{
    shmc_t *c = H(state);
    assert_int_equal(shmc_flush_expired(c), 0);
    set_str(c, "live", "v");
    assert_int_equal(shmc_flush_expired(c), 0);
    assert_value(c, "live", "v");
}

static void flush_expired_reclaims_cleared_entries(void **state)
{
    shmc_t *c = H(state);
    char k[32];
    for (int i = 0; i < 20; i++) {
        snprintf(k, sizeof k, "fl-%d", i);
        set_str(c, k, "v");
    }
    assert_int_equal(stats_of(c).curr_items, 20);
    assert_int_equal(shmc_clear(c), 0);
    assert_int_equal(shmc_flush_expired(c), 20);
    assert_int_equal(shmc_flush_expired(c), 0);
    shmc_stats_t st = stats_of(c);
    assert_int_equal(st.curr_items, 0);
    shmc_info_t inf;
    assert_int_equal(shmc_info(c, &inf), 0);
    assert_int_equal(inf.used_slots, 0);
    assert_int_equal(shmc_check(c, NULL, NULL), 0);
}

/* ---- stats -------------------------------------------------------------- */

static void stats_count_gets_hits_and_misses(void **state)
{
    shmc_t *c = H(state);
    set_str(c, "s", "v");
    shmc_stats_t a = stats_of(c);
    char buf[8];
    size_t vlen;
    for (int i = 0; i < 7; i++)
        assert_int_equal(shmc_get(c, KS("s"), buf, sizeof buf, &vlen, NULL), 0);
    for (int i = 0; i < 3; i++)
        assert_miss(c, KS("nope"));
    shmc_stats_t b = stats_of(c);
    assert_int_equal(b.cmd_get - a.cmd_get, 10);
    assert_int_equal(b.get_hits - a.get_hits, 7);
    assert_int_equal(b.get_misses - a.get_misses, 3);
    assert_int_equal(b.get_expired, a.get_expired);
    assert_int_equal(b.get_flushed, a.get_flushed);
    assert_int_equal(b.get_hits + b.get_misses, b.cmd_get);
}

static void stats_count_sets_deletes_and_items(void **state)
{
    shmc_t *c = H(state);
    shmc_stats_t a = stats_of(c);
    assert_int_equal(a.curr_items, 0);
    set_str(c, "a", "1");
    set_str(c, "b", "22");
    set_str(c, "c", "333");
    set_str(c, "a", "4444"); /* overwrite */
    assert_int_equal(shmc_add(c, KS("d"), "x", 1, 0, 0), 0);
    assert_int_equal(shmc_add(c, KS("d"), "x", 1, 0, 0), -EEXIST);
    assert_int_equal(shmc_replace(c, KS("d"), "y", 1, 0, 0), 0);
    shmc_stats_t b = stats_of(c);
    assert_int_equal(b.curr_items, 4);
    assert_int_equal(b.cmd_set - a.cmd_set, 6);
    assert_true(b.total_items - a.total_items >= 4);
    assert_true(b.bytes > a.bytes);
    assert_true(b.bytes <= b.limit_maxbytes);
    assert_int_equal(shmc_delete(c, KS("b")), 0);
    assert_int_equal(shmc_delete(c, KS("b")), -ENOENT);
    assert_int_equal(shmc_delete(c, KS("zz")), -ENOENT);
    shmc_stats_t d = stats_of(c);
    assert_int_equal(d.delete_hits - b.delete_hits, 1);
    assert_int_equal(d.delete_misses - b.delete_misses, 2);
    assert_int_equal(d.curr_items, 3);
    assert_true(d.bytes < b.bytes);
    assert_int_equal(d.evictions, 0);
}

static void stats_count_incr_cas_and_touch(void **state)
{
    shmc_t *c = H(state);
    set_str(c, "n", "1");
    shmc_stats_t a = stats_of(c);
    assert_int_equal(shmc_incr(c, KS("n"), 1, NULL, 0, NULL), 0);
    assert_int_equal(shmc_incr(c, KS("n"), 1, NULL, 0, NULL), 0);
    assert_int_equal(shmc_incr(c, KS("nx"), 1, NULL, 0, NULL), -ENOENT);
    uint64_t cas = info_of(c, "n").cas;
    assert_int_equal(shmc_cas(c, KS("n"), "9", 1, 0, 0, cas), 0);
    assert_int_equal(shmc_cas(c, KS("n"), "8", 1, 0, 0, cas), -ESTALE);
    assert_int_equal(shmc_cas(c, KS("nx"), "8", 1, 0, 0, cas), -ENOENT);
    assert_int_equal(shmc_touch(c, KS("n"), 0), 0);
    assert_int_equal(shmc_touch(c, KS("nx"), 0), -ENOENT);
    shmc_stats_t b = stats_of(c);
    assert_int_equal(b.incr_hits - a.incr_hits, 2);
    assert_int_equal(b.incr_misses - a.incr_misses, 1);
    assert_int_equal(b.cas_hits - a.cas_hits, 1);
    assert_int_equal(b.cas_badval - a.cas_badval, 1);
    assert_int_equal(b.cas_misses - a.cas_misses, 1);
    assert_int_equal(b.cmd_touch - a.cmd_touch, 2);
    assert_int_equal(b.touch_hits - a.touch_hits, 1);
    assert_int_equal(b.touch_misses - a.touch_misses, 1);
}

static void stats_report_the_geometry(void **state)
{
    tu_fixture_t *f = *state;
    shmc_stats_t st = stats_of(f->c);
    assert_int_equal(st.capacity, f->cfg.capacity);
    assert_int_equal(st.max_key_len, f->cfg.max_key_len);
    assert_int_equal(st.max_value_len, f->cfg.max_value_len);
    assert_int_equal(st.stripes, f->cfg.stripes);
    assert_true(st.limit_maxbytes >= f->cfg.memory / 2);
    assert_true(st.attached_processes >= 1);
    assert_int_equal(st.generation, 0);
    assert_int_equal(st.lock_recoveries, 0);
}

/* ---- iterate ------------------------------------------------------------ */

#define NIT 300

struct walk {
    shmc_t *c;
    int seen[NIT];
    int calls;
    int stop_after;
    int bad;
    int delete_each;
};

static int key_index(const shmc_entry_t *e)
{
    char k[32];
    if (e->klen < 4 || e->klen >= sizeof k)
        return -1;
    memcpy(k, e->key, e->klen);
    k[e->klen] = '\0';
    if (strncmp(k, "it-", 3) != 0)
        return -1;
    int i = atoi(k + 3);
    return i >= 0 && i < NIT ? i : -1;
}

static int walk_fn(const shmc_entry_t *e, void *arg)
{
    struct walk *w = arg;
    w->calls++;
    int i = key_index(e);
    if (i < 0) {
        w->bad++;
        return 0;
    }
    w->seen[i]++;
    /* fn may call other functions on the same handle */
    char buf[64];
    size_t vlen = 0;
    shmc_item_info_t info;
    if (shmc_get(w->c, e->key, e->klen, buf, sizeof buf, &vlen, &info) != 0 ||
        vlen != e->vlen || info.cas != e->cas || info.flags != e->flags)
        w->bad++;
    if (w->delete_each && shmc_delete(w->c, e->key, e->klen) != 0)
        w->bad++;
    if (w->stop_after && w->calls == w->stop_after)
        return 7;
    return 0;
}

static void fill_iter_keys(shmc_t *c, int *present)
{
    char k[32], v[32];
    for (int i = 0; i < NIT; i++) {
        snprintf(k, sizeof k, "it-%d", i);
        snprintf(v, sizeof v, "value-%d", i);
        assert_int_equal(shmc_set(c, k, strlen(k), v, strlen(v), 0,
                                  (uint32_t)i),
                         0);
    }
    for (int i = 0; i < NIT; i++) {
        char buf[64];
        size_t vlen;
        snprintf(k, sizeof k, "it-%d", i);
        present[i] = shmc_get(c, k, strlen(k), buf, sizeof buf, &vlen, NULL) == 0;
    }
}

static void iterate_visits_every_live_entry_exactly_once(void **state)
{
    shmc_t *c = H(state);
    int present[NIT];
    fill_iter_keys(c, present);
    int npresent = 0;
    for (int i = 0; i < NIT; i++)
        npresent += present[i];
    /* 300 keys in 4096 slots: nearly all of them must be there */
    assert_true(npresent >= NIT - 5);
    char k[32];
    for (int i = 0; i < NIT; i += 10) { /* some deleted ones are not visited */
        snprintf(k, sizeof k, "it-%d", i);
        if (present[i]) {
            assert_int_equal(shmc_delete(c, k, strlen(k)), 0);
            present[i] = 0;
        }
    }
    struct walk *w = calloc(1, sizeof *w);
    assert_non_null(w);
    w->c = c;
    assert_int_equal(shmc_iterate(c, walk_fn, w), 0);
    assert_int_equal(w->bad, 0);
    for (int i = 0; i < NIT; i++)
        assert_int_equal(w->seen[i], present[i]);
    free(w);
}

static void iterate_stops_when_fn_returns_nonzero_and_returns_that_value(void **state)
{
    shmc_t *c = H(state);
    int present[NIT];
    fill_iter_keys(c, present);
    struct walk *w = calloc(1, sizeof *w);
    assert_non_null(w);
    w->c = c;
    w->stop_after = 3;
    assert_int_equal(shmc_iterate(c, walk_fn, w), 7);
    assert_int_equal(w->calls, 3);
    assert_int_equal(w->bad, 0);
    free(w);
}

static void iterate_callback_may_delete_the_entries_it_visits(void **state)
{
    shmc_t *c = H(state);
    int present[NIT];
    fill_iter_keys(c, present);
    struct walk *w = calloc(1, sizeof *w);
    assert_non_null(w);
    w->c = c;
    w->delete_each = 1;
    assert_int_equal(shmc_iterate(c, walk_fn, w), 0);
    assert_int_equal(w->bad, 0);
    for (int i = 0; i < NIT; i++)
        assert_int_equal(w->seen[i], present[i]);
    assert_int_equal(stats_of(c).curr_items, 0);
    free(w);
}

static int count_fn(const shmc_entry_t *e, void *arg)
{
    (void)e;
    (*(int *)arg)++;
    return 0;
}

static void iterate_on_an_empty_cache_calls_nothing(void **state)
{
    shmc_t *c = H(state);
    int n = 0;
    assert_int_equal(shmc_iterate(c, count_fn, &n), 0);
    assert_int_equal(n, 0);
    set_str(c, "x", "y");
    assert_int_equal(shmc_clear(c), 0);
    assert_int_equal(shmc_iterate(c, count_fn, &n), 0);
    assert_int_equal(n, 0);
}

struct meta {
    int n;
    shmc_entry_t e[4];
    char keys[4][16];
};

static int meta_fn(const shmc_entry_t *e, void *arg)
{
    struct meta *m = arg;
    if (m->n < 4) {
        m->e[m->n] = *e;
        size_t k = e->klen < 15 ? e->klen : 15;
        memcpy(m->keys[m->n], e->key, k);
        m->keys[m->n][k] = '\0';
        m->e[m->n].key = NULL;
    }
    m->n++;
    return 0;
}

static void iterate_reports_the_same_metadata_as_get(void **state)
{
    shmc_t *c = H(state);
    assert_int_equal(shmc_set(c, KS("read"), "12345", 5, 0, 11), 0);
    assert_int_equal(shmc_set(c, KS("unread"), "123", 3, 60000, 22), 0);
    char buf[8];
    size_t vlen;
    shmc_item_info_t ri;
    assert_int_equal(shmc_get(c, KS("read"), buf, sizeof buf, &vlen, &ri), 0);
    struct meta m;
    memset(&m, 0, sizeof m);
    assert_int_equal(shmc_iterate(c, meta_fn, &m), 0);
    assert_int_equal(m.n, 2);
    for (int i = 0; i < 2; i++) {
        if (strcmp(m.keys[i], "read") == 0) {
            assert_int_equal(m.e[i].klen, 4);
            assert_int_equal(m.e[i].vlen, 5);
            assert_int_equal(m.e[i].flags, 11);
            assert_int_equal(m.e[i].ttl_ms, -1);
            assert_int_equal(m.e[i].cas, ri.cas);
            assert_true(m.e[i].state & SHMC_ENTRY_FETCHED);
        } else {
            assert_string_equal(m.keys[i], "unread");
            assert_int_equal(m.e[i].vlen, 3);
            assert_int_equal(m.e[i].flags, 22);
            assert_true(m.e[i].ttl_ms > 0 && m.e[i].ttl_ms <= 60000);
            assert_false(m.e[i].state & SHMC_ENTRY_FETCHED);
        }
    }
}

/* ---- strerror / info / procs / check ----------------------------------- */

static void strerror_gives_distinct_text_for_each_error(void **state)
{
    (void)state;
    const int codes[] = {ENOENT, EEXIST, ESTALE, E2BIG, ENOBUFS, EINVAL,
                         ENOSPC, EBADMSG, EPROTO, EACCES, EROFS, EDEADLK,
                         EBUSY};
    const unsigned n = sizeof codes / sizeof codes[0];
    const char *txt[sizeof codes / sizeof codes[0]];
    for (unsigned i = 0; i < n; i++) {
        txt[i] = shmc_strerror(-codes[i]);
        assert_non_null(txt[i]);
        assert_true(strlen(txt[i]) > 0);
        /* positive errno gives the same text */
        const char *pos = shmc_strerror(codes[i]);
        assert_non_null(pos);
        assert_string_equal(pos, txt[i]);
    }
    for (unsigned i = 0; i < n; i++)
        for (unsigned j = i + 1; j < n; j++)
            assert_string_not_equal(txt[i], txt[j]);
    const char *unknown = shmc_strerror(-99999);
    assert_non_null(unknown);
    assert_true(strlen(unknown) > 0);
    for (unsigned i = 0; i < n; i++)
        assert_string_not_equal(unknown, txt[i]);
    assert_non_null(shmc_strerror(0));
    assert_non_null(shmc_strerror(INT_MAX));
}

/* Last in the list: under UBSan (which aborts) a failure here cannot hide
 * the other tests' results. */
static void strerror_of_int_min_is_safe(void **state)
{
    (void)state;
    const char *s = shmc_strerror(INT_MIN);
    assert_non_null(s);
    assert_true(strlen(s) > 0);
}

static void info_reports_the_geometry_and_fill(void **state)
{
    tu_fixture_t *f = *state;
    shmc_info_t inf;
    memset(&inf, 0, sizeof inf);
    assert_int_equal(shmc_info(f->c, &inf), 0);
    assert_int_not_equal(inf.layout_version, 0);
    assert_int_equal(inf.capacity, f->cfg.capacity);
    assert_true(inf.slots_per_bucket >= 1);
    assert_true(inf.buckets * inf.slots_per_bucket == inf.index_slots);
    assert_true(inf.index_slots >= inf.capacity);
    assert_int_equal(inf.stripes, f->cfg.stripes);
    assert_int_equal(inf.max_key_len, f->cfg.max_key_len);
    assert_int_equal(inf.max_value_len, f->cfg.max_value_len);
    assert_int_equal(inf.mode & 0777, 0600);
    assert_int_equal(inf.owner_uid, getuid());
    assert_true(inf.proc_slots >= 1);
    assert_true(inf.memory >= f->cfg.memory / 2);
    struct stat sb;
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(inf.segment_size, (uint64_t)sb.st_size);
    assert_true(inf.segment_size >= inf.memory);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    assert_true(inf.created_unix_ms <= now + 1000);
    assert_true(inf.created_unix_ms + 600000 >= now);
    assert_int_equal(inf.used_slots, 0);
    set_str(f->c, "a", "1");
    set_str(f->c, "b", "2");
    set_str(f->c, "a", "3");
    assert_int_equal(shmc_info(f->c, &inf), 0);
    assert_int_equal(inf.used_slots, 2);
    assert_int_equal(shmc_delete(f->c, KS("a")), 0);
    assert_int_equal(shmc_info(f->c, &inf), 0);
    assert_int_equal(inf.used_slots, 1);
}

struct procs_seen {
    int self_rows, other_rows, self_alive;
    uint64_t gets;
};

static int procs_fn(const shmc_proc_info_t *p, void *arg)
{
    struct procs_seen *s = arg;
    if (p->self) {
        s->self_rows++;
        s->self_alive = p->alive;
        s->gets = p->cmd_get;
        if (p->pid != (uint32_t)getpid())
            s->self_rows += 100;
    } else {
        s->other_rows++;
    }
    return 0;
}

static int procs_stop_fn(const shmc_proc_info_t *p, void *arg)
{
    (void)p;
    (*(int *)arg)++;
    return 5;
}

static void procs_lists_this_process_as_alive_and_self(void **state)
{
    shmc_t *c = H(state);
    set_str(c, "k", "v");
    assert_value(c, "k", "v");
    assert_value(c, "k", "v");
    assert_miss(c, KS("x"));
    struct procs_seen s;
    memset(&s, 0, sizeof s);
    assert_int_equal(shmc_procs(c, procs_fn, &s), 0);
    assert_int_equal(s.self_rows, 1);
    assert_int_equal(s.self_alive, 1);
    assert_int_equal(s.other_rows, 0);
    assert_int_equal(s.gets, 3);
    int calls = 0;
    assert_int_equal(shmc_procs(c, procs_stop_fn, &calls), 5);
    assert_int_equal(calls, 1);
}

static void count_problem(const char *problem, void *arg)
{
    assert_non_null(problem);
    fprintf(stderr, "check: %s\n", problem);
    (*(int *)arg)++;
}

static void check_returns_zero_on_a_healthy_segment(void **state)
{
    shmc_t *c = H(state);
    int problems = 0;
    assert_int_equal(shmc_check(c, count_problem, &problems), 0);
    char k[32];
    unsigned char v[2048];
    uint64_t s = 12345;
    for (int i = 0; i < 3000; i++) {
        snprintf(k, sizeof k, "chk-%d", (int)(tu_rand(&s) % 800));
        size_t len = tu_make_value(v, (size_t)(tu_rand(&s) % sizeof v), k,
                                   strlen(k), (uint64_t)i);
        assert_int_equal(shmc_set(c, k, strlen(k), v, len,
                                  (i % 3) ? 0 : 60000, 0), 0);
        if (i % 7 == 0)
            (void)shmc_delete(c, KS("chk-1"));
        if (i == 1500)
            assert_int_equal(shmc_clear(c), 0);
    }
    assert_int_equal(shmc_check(c, count_problem, &problems), 0);
    assert_int_equal(shmc_check(c, NULL, NULL), 0);
    assert_int_equal(problems, 0);
}

static void close_of_null_is_a_noop(void **state)
{
    (void)state;
    shmc_close(NULL);
}

static void two_handles_in_one_process_see_the_same_entries(void **state)
{
    tu_fixture_t *f = *state;
    shmc_t *c2 = NULL;
    assert_int_equal(shmc_open(f->name, 0, NULL, &c2), 0);
    assert_non_null(c2);
    set_str(f->c, "shared", "one");
    assert_value(c2, "shared", "one");
    set_str(c2, "shared", "two");
    assert_value(f->c, "shared", "two");
    assert_int_equal(shmc_delete(c2, KS("shared")), 0);
    assert_miss(f->c, KS("shared"));
    shmc_close(c2);
    set_str(f->c, "after", "close");
    assert_value(f->c, "after", "close");
}

static void many_overwrites_of_one_key_keep_the_latest_value(void **state)
{
    shmc_t *c = H(state);
    unsigned char v[8192], buf[8192];
    uint64_t s = 99;
    for (uint64_t i = 0; i < 20000; i++) {
        size_t len = tu_make_value(v, (size_t)(tu_rand(&s) % sizeof v),
                                   "hot", 3, i);
        assert_int_equal(shmc_set(c, "hot", 3, v, len, 0, 0), 0);
        size_t vlen = 0;
        assert_int_equal(shmc_get(c, "hot", 3, buf, sizeof buf, &vlen, NULL), 0);
        assert_int_equal(vlen, len);
        uint64_t seq = 0;
        assert_int_equal(tu_check_value(buf, vlen, "hot", 3, &seq), 0);
        assert_int_equal(seq, i);
    }
    shmc_stats_t st = stats_of(c);
    assert_int_equal(st.curr_items, 1);
    assert_true(st.bytes < 2 * 8192 + 1024);
    assert_int_equal(shmc_check(c, NULL, NULL), 0);
}

static void peek_reports_a_live_entry_without_copying_it(void **state)
{
    shmc_t *c = ((tu_fixture_t *)*state)->c;
    size_t vlen = 99;
    shmc_item_info_t info, ginfo;
    char buf[16];
    assert_int_equal(shmc_peek(c, "p", 1, &vlen, &info), -ENOENT);
    assert_int_equal(shmc_set(c, "p", 1, "hello", 5, 0, 4), 0);
    assert_int_equal(shmc_peek(c, "p", 1, &vlen, &info), 0);
    assert_int_equal(vlen, 5);
    assert_int_equal(info.flags, 4);
    assert_int_equal(info.ttl_ms, -1);
    assert_int_equal(shmc_get(c, "p", 1, buf, sizeof buf, &vlen, &ginfo), 0);
    assert_int_equal(ginfo.cas, info.cas);
    assert_int_equal(shmc_peek(c, "p", 1, NULL, NULL), 0);
    /* a rewrite changes the CAS; delete, invalidate and clear make it miss */
    assert_int_equal(shmc_set(c, "p", 1, "hello", 5, 0, 4), 0);
    assert_int_equal(shmc_peek(c, "p", 1, &vlen, &ginfo), 0);
    assert_true(ginfo.cas != info.cas);
    assert_int_equal(shmc_invalidate(c, "p", 1), 0);
    assert_int_equal(shmc_peek(c, "p", 1, &vlen, NULL), -ENOENT);
    assert_int_equal(shmc_set(c, "p", 1, "", 0, 0, 0), 0);
    assert_int_equal(shmc_peek(c, "p", 1, &vlen, NULL), 0);
    assert_int_equal(vlen, 0);
    assert_int_equal(shmc_clear(c), 0);
    assert_int_equal(shmc_peek(c, "p", 1, &vlen, NULL), -ENOENT);
    assert_int_equal(shmc_peek(NULL, "p", 1, &vlen, NULL), -EINVAL);
    assert_int_equal(shmc_peek(c, NULL, 1, &vlen, NULL), -EINVAL);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup, tu_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(config_init_fills_the_documented_defaults),
        T(set_then_get_returns_the_value),
        T(get_of_a_missing_key_misses),
        T(set_overwrites_the_previous_value),
        T(zero_length_values_are_stored_and_returned),
        T(binary_keys_and_values_with_nul_bytes_round_trip),
        T(get_with_a_small_buffer_reports_the_needed_size),
        T(null_arguments_are_rejected_with_einval),
        T(empty_keys_are_rejected_with_einval),
        T(keys_longer_than_max_key_len_are_rejected_with_e2big),
        T(values_longer_than_max_value_len_are_rejected_with_e2big),
        T(flags_round_trip_through_info),
        T(info_cas_changes_on_every_write),
        T(info_ttl_is_minus_one_without_expiry),
        T(add_fails_with_eexist_on_a_live_entry_and_keeps_it),
        T(add_succeeds_on_a_missing_or_deleted_key),
        T(replace_fails_with_enoent_on_a_missing_key),
        T(replace_overwrites_a_live_entry),
        T(cas_succeeds_with_the_current_cas),
        T(cas_fails_with_estale_after_another_write),
        T(cas_fails_with_enoent_when_the_entry_is_gone),
        T(incr_adds_and_stores_decimal),
        T(incr_wraps_past_uint64_max),
        T(decr_floors_at_zero),
        T(incr_of_a_non_number_fails_with_einval_and_keeps_it),
        T(incr_of_a_missing_key_without_initial_misses),
        T(incr_of_a_missing_key_with_initial_creates_it_without_delta),
        T(incr_keeps_flags_and_expiry_and_changes_cas),
        T(touch_of_a_missing_key_misses),
        T(touch_sets_and_removes_expiry),
        T(delete_returns_zero_then_enoent),
        T(get_after_delete_misses),
        T(clear_makes_every_entry_miss_and_counts_get_flushed),
        T(entries_set_after_clear_are_visible),
        T(flush_expired_on_a_fresh_cache_returns_zero),
        T(flush_expired_reclaims_cleared_entries),
        T(stats_count_gets_hits_and_misses),
        T(stats_count_sets_deletes_and_items),
        T(stats_count_incr_cas_and_touch),
        T(stats_report_the_geometry),
        T(iterate_visits_every_live_entry_exactly_once),
        T(iterate_stops_when_fn_returns_nonzero_and_returns_that_value),
        T(iterate_callback_may_delete_the_entries_it_visits),
        T(iterate_on_an_empty_cache_calls_nothing),
        T(iterate_reports_the_same_metadata_as_get),
        T(strerror_gives_distinct_text_for_each_error),
        T(info_reports_the_geometry_and_fill),
        T(procs_lists_this_process_as_alive_and_self),
        T(check_returns_zero_on_a_healthy_segment),
        T(peek_reports_a_live_entry_without_copying_it),
        cmocka_unit_test(close_of_null_is_a_noop),
        T(two_handles_in_one_process_see_the_same_entries),
        T(many_overwrites_of_one_key_keep_the_latest_value),
        cmocka_unit_test(strerror_of_int_min_is_safe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
