/*
 * test_lease.c - leases, stale-while-revalidate (invalidate/get_stale).
 *
 * The races are reproduced with real processes whose steps a pipe orders:
 * first with plain get/set/delete, showing the stale value they leave, then
 * with the lease API, showing it does not.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "shmcache.h"
#include "testutil.h"

#define H(state) (((tu_fixture_t *)*(state))->c)
#define TMO 10000

static int get_str(shmc_t *c, const char *k, char *buf, size_t cap)
{
    size_t vlen = 0;
    int r = shmc_get(c, k, strlen(k), buf, cap - 1, &vlen, NULL);
    buf[r == 0 ? vlen : 0] = 0;
    return r;
}

static void a_miss_hands_out_one_lease_and_the_leased_set_stores(void **state)
{
    shmc_t *c = H(state);
    char buf[64];
    size_t vlen;
    uint64_t l1 = 0, l2 = 7;
    assert_int_equal(shmc_get_or_lease(c, "k", 1, buf, sizeof buf, &vlen, NULL, 5000, &l1), -ENOENT);
    assert_true(l1 != 0);
    /* a second caller is told someone else is computing */
    assert_int_equal(shmc_get_or_lease(c, "k", 1, buf, sizeof buf, &vlen, NULL, 5000, &l2), -EBUSY);
    assert_int_equal(l2, 0);
    /* the placeholder is not a value */
    assert_int_equal(shmc_get(c, "k", 1, buf, sizeof buf, &vlen, NULL), -ENOENT);
    assert_int_equal(shmc_get_stale(c, "k", 1, buf, sizeof buf, &vlen, NULL), -ENOENT);
    assert_int_equal(shmc_set_leased(c, "k", 1, "v1", 2, 0, 3, l1), 0);
    shmc_item_info_t info;
    assert_int_equal(shmc_get_or_lease(c, "k", 1, buf, sizeof buf, &vlen, &info, 5000, &l2), 0);
    assert_int_equal(l2, 0);
    assert_int_equal(vlen, 2);
    assert_memory_equal(buf, "v1", 2);
    assert_int_equal(info.flags, 3);
    /* a lease is spent by the set it allowed */
    assert_int_equal(shmc_set_leased(c, "k", 1, "v2", 2, 0, 0, l1), -ESTALE);
    assert_int_equal(get_str(c, "k", buf, sizeof buf), 0);
    assert_string_equal(buf, "v1");
    shmc_stats_t st;
    assert_int_equal(shmc_stats(c, &st), 0);
    assert_int_equal(st.lease_grants, 1);
    assert_int_equal(st.lease_rejects, 1);
    assert_int_equal(st.lease_waits, 1);
}

static void a_lease_is_bound_to_its_key(void **state)
{
    shmc_t *c = H(state);
    char buf[16];
    size_t vlen;
    uint64_t la = 0, lb = 0;
    assert_int_equal(shmc_get_or_lease(c, "a", 1, buf, sizeof buf, &vlen, NULL, 5000, &la), -ENOENT);
    assert_int_equal(shmc_get_or_lease(c, "b", 1, buf, sizeof buf, &vlen, NULL, 5000, &lb), -ENOENT);
    assert_int_equal(shmc_set_leased(c, "b", 1, "x", 1, 0, 0, la), -ESTALE);
    assert_int_equal(shmc_set_leased(c, "c", 1, "x", 1, 0, 0, la), -ESTALE);
    assert_int_equal(shmc_set_leased(c, "a", 1, "x", 1, 0, 0, la), 0);
    assert_int_equal(shmc_set_leased(c, "b", 1, "y", 1, 0, 0, lb), 0);
}

static void bad_lease_arguments_are_rejected(void **state)
{
    shmc_t *c = H(state);
    char buf[16];
    size_t vlen;
    uint64_t l;
    assert_int_equal(shmc_get_or_lease(c, "a", 1, buf, sizeof buf, &vlen, NULL, 100, NULL), -EINVAL);
    assert_int_equal(shmc_get_or_lease(c, NULL, 1, buf, sizeof buf, &vlen, NULL, 100, &l), -EINVAL);
    assert_int_equal(shmc_get_or_lease(c, "a", 0, buf, sizeof buf, &vlen, NULL, 100, &l), -EINVAL);
    assert_int_equal(shmc_set_leased(c, "a", 1, "x", 1, 0, 0, 0), -EINVAL);
    assert_int_equal(shmc_set_leased(NULL, "a", 1, "x", 1, 0, 0, 5), -EINVAL);
    assert_int_equal(shmc_invalidate(c, "", 0), -EINVAL);
    assert_int_equal(shmc_invalidate(NULL, "a", 1), -EINVAL);
}

static void every_kind_of_removal_after_the_lease_refuses_the_leased_set(void **state)
{
    shmc_t *c = H(state);
    char buf[16];
    size_t vlen;
    for (int how = 0; how < 4; how++) {
        uint64_t l = 0;
        assert_int_equal(shmc_set(c, "p", 1, "old", 3, 0, 0), 0);
        assert_int_equal(shmc_delete(c, "p", 1), 0);
        assert_int_equal(shmc_get_or_lease(c, "p", 1, buf, sizeof buf, &vlen, NULL, 5000, &l), -ENOENT);
        switch (how) {
        case 0: assert_int_equal(shmc_delete(c, "p", 1), -ENOENT); break; /* drops the placeholder */
        case 1: assert_int_equal(shmc_invalidate(c, "p", 1), -ENOENT); break;
        case 2: assert_int_equal(shmc_clear(c), 0); break;
        case 3: assert_int_equal(shmc_set(c, "p", 1, "fresh", 5, 0, 0), 0); break;
        }
        assert_int_equal(shmc_set_leased(c, "p", 1, "stale", 5, 0, 0, l), -ESTALE);
        int r = get_str(c, "p", buf, sizeof buf);
        if (how == 3) {
            assert_int_equal(r, 0);
            assert_string_equal(buf, "fresh");
        } else {
            assert_int_equal(r, -ENOENT);
        }
        assert_int_equal(shmc_delete(c, "p", 1), how == 3 ? 0 : -ENOENT);
    }
}

static void an_expired_lease_can_be_taken_over_and_the_old_one_is_refused(void **state)
{
    shmc_t *c = H(state);
    char buf[16];
    size_t vlen;
    uint64_t l1 = 0, l2 = 0;
    assert_int_equal(shmc_get_or_lease(c, "e", 1, buf, sizeof buf, &vlen, NULL, 30, &l1), -ENOENT);
    assert_int_equal(shmc_get_or_lease(c, "e", 1, buf, sizeof buf, &vlen, NULL, 30, &l2), -EBUSY);
    tu_sleep_ms(150);
    assert_int_equal(shmc_get_or_lease(c, "e", 1, buf, sizeof buf, &vlen, NULL, 5000, &l2), -ENOENT);
    assert_true(l2 != 0 && l2 != l1);
    assert_int_equal(shmc_set_leased(c, "e", 1, "late", 4, 0, 0, l1), -ESTALE);
    assert_int_equal(shmc_set_leased(c, "e", 1, "new", 3, 0, 0, l2), 0);
    assert_int_equal(get_str(c, "e", buf, sizeof buf), 0);
    assert_string_equal(buf, "new");
}

static void an_expired_lease_nobody_took_over_still_stores(void **state)
{
    shmc_t *c = H(state);
    char buf[16];
    size_t vlen;
    uint64_t l = 0;
    assert_int_equal(shmc_get_or_lease(c, "s", 1, buf, sizeof buf, &vlen, NULL, 20, &l), -ENOENT);
    tu_sleep_ms(100);
    /* nothing happened to the key: the value is not stale */
    assert_int_equal(shmc_set_leased(c, "s", 1, "slow", 4, 0, 0, l), 0);
}

/* ---- stale set: A misses and reads the database; B updates it and
 * deletes; A then sets what it read. ------------------------------------- */

struct stale_set {
    const char *name;
    tu_pipe_t to_a, to_parent;
    int leased;
};

static int worker_a(void *arg)
{
    struct stale_set *s = arg;
    shmc_t *c = NULL;
    if (shmc_open(s->name, 0, NULL, &c) != 0)
        return 2;
    char buf[16];
    size_t vlen;
    uint64_t lease = 0;
    int r = s->leased ? shmc_get_or_lease(c, "price", 5, buf, sizeof buf, &vlen, NULL, 10000, &lease)
                      : shmc_get(c, "price", 5, buf, sizeof buf, &vlen, NULL);
    if (r != -ENOENT)
        return 3;
    const char *from_db = "100"; /* what the database said before the update */
    if (tu_pipe_put(&s->to_parent, 1, 'r') != 0) /* "I have read the database" */
        return 4;
    if (tu_pipe_take(&s->to_a, 1, TMO) != 0)     /* B has updated and deleted */
        return 5;
    r = s->leased ? shmc_set_leased(c, "price", 5, from_db, 3, 60000, 0, lease)
                  : shmc_set(c, "price", 5, from_db, 3, 60000, 0);
    shmc_close(c);
    if (s->leased)
        return r == -ESTALE ? 0 : 6;
    return r == 0 ? 0 : 7;
}

static void run_stale_set(void **state, int leased)
{
    tu_fixture_t *f = *state;
    struct stale_set s = {f->name, {-1, -1}, {-1, -1}, leased};
    assert_int_equal(tu_pipe_open(&s.to_a), 0);
    assert_int_equal(tu_pipe_open(&s.to_parent), 0);
    pid_t a = tu_fork(worker_a, &s);
    assert_true(a > 0);
    assert_int_equal(tu_pipe_take(&s.to_parent, 1, TMO), 0);
    /* B (here, the parent): the price changes to 120, the key is deleted */
    (void)shmc_delete(f->c, "price", 5);
    assert_int_equal(tu_pipe_put(&s.to_a, 1, 'u'), 0);
    assert_int_equal(tu_wait(a), 0);
    char buf[16];
    int r = get_str(f->c, "price", buf, sizeof buf);
    if (!leased) {
        /* the race, shown: the old price is back, for the whole TTL */
        assert_int_equal(r, 0);
        assert_string_equal(buf, "100");
    } else {
        /* refused: the next reader goes to the database and sees 120 */
        assert_int_equal(r, -ENOENT);
    }
    tu_pipe_close(&s.to_a);
    tu_pipe_close(&s.to_parent);
}

static void plain_set_after_a_concurrent_delete_puts_the_old_price_back(void **state)
{
    run_stale_set(state, 0);
}

static void leased_set_after_a_concurrent_delete_is_refused(void **state)
{
    run_stale_set(state, 1);
}

/* ---- stampede: N processes miss the same hot key at once --------------- */

struct herd {
    const char *name;
    tu_barrier_t *bar;
    tu_pipe_t *out;
    int use_leases;
};

static int herd_worker(void *arg)
{
    struct herd *h = arg;
    shmc_t *c = NULL;
    if (shmc_open(h->name, 0, NULL, &c) != 0)
        return 2;
    if (tu_barrier_child(h->bar, TMO) != 0)
        return 3;
    char buf[32];
    size_t vlen;
    uint64_t lease = 0;
    unsigned char computed = '0';
    if (h->use_leases) {
        int r = shmc_get_or_wait(c, "hot", 3, buf, sizeof buf, &vlen, NULL, 10000, 10000, &lease);
        if (r == -ENOENT) {
            computed = '1';
            tu_sleep_ms(100); /* the expensive recomputation */
            if (shmc_set_leased(c, "hot", 3, "page", 4, 0, 0, lease) != 0)
                return 4;
        } else if (r != 0 || vlen != 4 || memcmp(buf, "page", 4)) {
            return 5;
        }
    } else {
        if (shmc_get(c, "hot", 3, buf, sizeof buf, &vlen, NULL) == -ENOENT) {
            computed = '1';
            tu_sleep_ms(100);
            if (shmc_set(c, "hot", 3, "page", 4, 0, 0) != 0)
                return 6;
        }
    }
    shmc_close(c);
    return tu_pipe_put(h->out, 1, computed) == 0 ? 0 : 7;
}

static int run_herd(void **state, int use_leases)
{
    tu_fixture_t *f = *state;
    enum { N = 8 };
    tu_barrier_t bar;
    tu_pipe_t out;
    assert_int_equal(tu_barrier_open(&bar), 0);
    assert_int_equal(tu_pipe_open(&out), 0);
    struct herd h = {f->name, &bar, &out, use_leases};
    pid_t pids[N];
    for (int i = 0; i < N; i++) {
        pids[i] = tu_fork(herd_worker, &h);
        assert_true(pids[i] > 0);
    }
    assert_int_equal(tu_barrier_parent(&bar, N, TMO), 0);
    unsigned char res[N];
    assert_int_equal(tu_pipe_read(&out, res, N, TMO), 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(tu_wait(pids[i]), 0);
    int computed = 0;
    for (int i = 0; i < N; i++)
        computed += res[i] == '1';
    tu_barrier_close(&bar);
    tu_pipe_close(&out);
    return computed;
}

static void without_leases_a_herd_recomputes_a_missing_key_many_times(void **state)
{
    int computed = run_herd(state, 0);
    print_message("plain: %d of 8 workers recomputed\n", computed);
    assert_true(computed > 1);
}

static void with_leases_a_herd_recomputes_a_missing_key_once(void **state)
{
    int computed = run_herd(state, 1);
    print_message("leased: %d of 8 workers recomputed\n", computed);
    assert_int_equal(computed, 1);
    shmc_stats_t st;
    assert_int_equal(shmc_stats(H(state), &st), 0);
    assert_int_equal(st.lease_grants, 1);
    assert_true(st.lease_waits >= 1);
}

/* ---- a process killed holding a lease blocks the key only lease_ms ----- */

static int lease_and_die(void *arg)
{
    const char *name = arg;
    shmc_t *c = NULL;
    if (shmc_open(name, 0, NULL, &c) != 0)
        return 2;
    char buf[8];
    size_t vlen;
    uint64_t l = 0;
    if (shmc_get_or_lease(c, "d", 1, buf, sizeof buf, &vlen, NULL, 200, &l) != -ENOENT)
        return 3;
    raise(SIGKILL);
    return 4;
}

static void a_lease_whose_holder_was_killed_expires(void **state)
{
    tu_fixture_t *f = *state;
    pid_t p = tu_fork(lease_and_die, f->name);
    assert_int_equal(tu_wait(p), 1000 + SIGKILL);
    char buf[8];
    size_t vlen;
    uint64_t l = 0;
    assert_int_equal(shmc_get_or_lease(f->c, "d", 1, buf, sizeof buf, &vlen, NULL, 1000, &l), -EBUSY);
    /* waiting is bounded by the dead holder's lease_ms, not forever */
    assert_int_equal(shmc_get_or_wait(f->c, "d", 1, buf, sizeof buf, &vlen, NULL, 1000, 5000, &l), -ENOENT);
    assert_true(l != 0);
    assert_int_equal(shmc_set_leased(f->c, "d", 1, "ok", 2, 0, 0, l), 0);
    assert_int_equal(shmc_check(f->c, NULL, NULL), 0);
}

/* ---- stale-while-revalidate -------------------------------------------- */

static void an_invalidated_value_misses_but_stays_readable_as_stale(void **state)
{
    shmc_t *c = H(state);
    char buf[16];
    size_t vlen;
    shmc_item_info_t info;
    assert_int_equal(shmc_set(c, "page", 4, "v1", 2, 0, 9), 0);
    assert_int_equal(shmc_get_stale(c, "page", 4, buf, sizeof buf, &vlen, &info), 0);
    assert_int_equal(info.stale, 0);
    assert_int_equal(shmc_invalidate(c, "page", 4), 0);
    assert_int_equal(shmc_get(c, "page", 4, buf, sizeof buf, &vlen, NULL), -ENOENT);
    memset(&info, 0, sizeof info);
    assert_int_equal(shmc_get_stale(c, "page", 4, buf, sizeof buf, &vlen, &info), 0);
    assert_int_equal(info.stale, 1);
    assert_int_equal(info.flags, 9);
    assert_int_equal(vlen, 2);
    assert_memory_equal(buf, "v1", 2);
    /* add treats it as absent, replace as missing */
    assert_int_equal(shmc_replace(c, "page", 4, "x", 1, 0, 0), -ENOENT);
    /* one worker revalidates under a lease while others serve stale */
    uint64_t l = 0, l2 = 0;
    assert_int_equal(shmc_get_or_lease(c, "page", 4, buf, sizeof buf, &vlen, NULL, 5000, &l), -ENOENT);
    assert_int_equal(shmc_get_or_lease(c, "page", 4, buf, sizeof buf, &vlen, NULL, 5000, &l2), -EBUSY);
    assert_int_equal(shmc_get_stale(c, "page", 4, buf, sizeof buf, &vlen, &info), 0);
    assert_int_equal(info.stale, 1);
    assert_int_equal(shmc_set_leased(c, "page", 4, "v2", 2, 0, 0, l), 0);
    assert_int_equal(shmc_get_stale(c, "page", 4, buf, sizeof buf, &vlen, &info), 0);
    assert_int_equal(info.stale, 0);
    assert_memory_equal(buf, "v2", 2);
    assert_int_equal(shmc_invalidate(c, "nothing", 7), -ENOENT);
    shmc_stats_t st;
    assert_int_equal(shmc_stats(c, &st), 0);
    assert_true(st.stale_hits >= 2);
    assert_int_equal(st.cmd_get, st.get_hits + st.get_misses + st.stale_hits);
}

static void invalidate_kills_an_outstanding_lease(void **state)
{
    shmc_t *c = H(state);
    char buf[16];
    size_t vlen;
    uint64_t l = 0;
    assert_int_equal(shmc_set(c, "k", 1, "v1", 2, 0, 0), 0);
    assert_int_equal(shmc_invalidate(c, "k", 1), 0);
    assert_int_equal(shmc_get_or_lease(c, "k", 1, buf, sizeof buf, &vlen, NULL, 5000, &l), -ENOENT);
    assert_int_equal(shmc_invalidate(c, "k", 1), -ENOENT);
    assert_int_equal(shmc_set_leased(c, "k", 1, "v2", 2, 0, 0, l), -ESTALE);
    /* the stale value is still there for get_stale */
    assert_int_equal(shmc_get_stale(c, "k", 1, buf, sizeof buf, &vlen, NULL), 0);
    assert_memory_equal(buf, "v1", 2);
}

static void an_expired_value_is_readable_as_stale_and_a_cleared_one_is_not(void **state)
{
    shmc_t *c = H(state);
    char buf[16];
    size_t vlen;
    shmc_item_info_t info;
    assert_int_equal(shmc_set(c, "t", 1, "v", 1, 30, 0), 0);
    tu_sleep_ms(200);
    assert_int_equal(shmc_get(c, "t", 1, buf, sizeof buf, &vlen, NULL), -ENOENT);
    assert_int_equal(shmc_get_stale(c, "t", 1, buf, sizeof buf, &vlen, &info), 0);
    assert_int_equal(info.stale, 1);
    assert_int_equal(shmc_clear(c), 0);
    assert_int_equal(shmc_get_stale(c, "t", 1, buf, sizeof buf, &vlen, &info), -ENOENT);
}

static void an_invalidate_in_one_process_is_seen_by_another_at_once(void **state)
{
    tu_fixture_t *f = *state;
    assert_int_equal(shmc_set(f->c, "x", 1, "v", 1, 0, 0), 0);
    pid_t p = fork();
    if (p == 0) {
        tu_child_init(30);
        _exit(shmc_invalidate(f->c, "x", 1) == 0 ? 0 : 1);
    }
    assert_int_equal(tu_wait(p), 0);
    char buf[8];
    size_t vlen;
    assert_int_equal(shmc_get(f->c, "x", 1, buf, sizeof buf, &vlen, NULL), -ENOENT);
    assert_int_equal(shmc_get_stale(f->c, "x", 1, buf, sizeof buf, &vlen, NULL), 0);
}

static void read_only_handles_cannot_lease_or_invalidate(void **state)
{
    tu_fixture_t *f = *state;
    shmc_t *ro = NULL;
    assert_int_equal(shmc_open(f->name, SHMC_RDONLY, NULL, &ro), 0);
    char buf[8];
    size_t vlen;
    uint64_t l = 0;
    assert_int_equal(shmc_get_or_lease(ro, "z", 1, buf, sizeof buf, &vlen, NULL, 100, &l), -EROFS);
    assert_int_equal(shmc_invalidate(ro, "z", 1), -EROFS);
    assert_int_equal(shmc_set_leased(ro, "z", 1, "v", 1, 0, 0, 5), -EROFS);
    assert_int_equal(shmc_get_stale(ro, "z", 1, buf, sizeof buf, &vlen, NULL), -ENOENT);
    shmc_close(ro);
}

static void iterate_ex_shows_stale_entries_and_lease_placeholders(void **state);

struct seen {
    int live, stale, placeholder, leased;
};

static int count_states(const shmc_entry_t *e, void *arg)
{
    struct seen *s = arg;
    if (e->state & SHMC_ENTRY_NOVALUE)
        s->placeholder++;
    else if (e->state & SHMC_ENTRY_STALE)
        s->stale++;
    else
        s->live++;
    if (e->state & SHMC_ENTRY_LEASED)
        s->leased++;
    return 0;
}

static void iterate_ex_shows_stale_entries_and_lease_placeholders(void **state)
{
    shmc_t *c = H(state);
    char buf[8];
    size_t vlen;
    uint64_t l = 0;
    assert_int_equal(shmc_set(c, "live", 4, "v", 1, 0, 0), 0);
    assert_int_equal(shmc_set(c, "old", 3, "v", 1, 0, 0), 0);
    assert_int_equal(shmc_invalidate(c, "old", 3), 0);
    assert_int_equal(shmc_get_or_lease(c, "new", 3, buf, sizeof buf, &vlen, NULL, 5000, &l), -ENOENT);
    struct seen s = {0};
    assert_int_equal(shmc_iterate(c, count_states, &s), 0);
    assert_int_equal(s.live, 1);
    assert_int_equal(s.stale + s.placeholder, 0);
    memset(&s, 0, sizeof s);
    assert_int_equal(shmc_iterate_ex(c, SHMC_ITER_STALE, count_states, &s), 0);
    assert_int_equal(s.live, 1);
    assert_int_equal(s.stale, 1);
    assert_int_equal(s.placeholder, 1);
    assert_int_equal(s.leased, 1);
    assert_int_equal(shmc_iterate_ex(c, 0x80, count_states, &s), -EINVAL);
    assert_int_equal(shmc_check(c, NULL, NULL), 0);
    /* an expired lease is no longer reported as outstanding */
    uint64_t l2 = 0;
    assert_int_equal(shmc_get_or_lease(c, "brief", 5, buf, sizeof buf, &vlen, NULL, 30, &l2), -ENOENT);
    tu_sleep_ms(150);
    memset(&s, 0, sizeof s);
    assert_int_equal(shmc_iterate_ex(c, SHMC_ITER_STALE, count_states, &s), 0);
    assert_int_equal(s.leased, 1); /* "new" only */
}

#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup, tu_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(a_miss_hands_out_one_lease_and_the_leased_set_stores),
        T(a_lease_is_bound_to_its_key),
        T(bad_lease_arguments_are_rejected),
        T(every_kind_of_removal_after_the_lease_refuses_the_leased_set),
        T(an_expired_lease_can_be_taken_over_and_the_old_one_is_refused),
        T(an_expired_lease_nobody_took_over_still_stores),
        T(plain_set_after_a_concurrent_delete_puts_the_old_price_back),
        T(leased_set_after_a_concurrent_delete_is_refused),
        T(without_leases_a_herd_recomputes_a_missing_key_many_times),
        T(with_leases_a_herd_recomputes_a_missing_key_once),
        T(a_lease_whose_holder_was_killed_expires),
        T(an_invalidated_value_misses_but_stays_readable_as_stale),
        T(invalidate_kills_an_outstanding_lease),
        T(an_expired_value_is_readable_as_stale_and_a_cleared_one_is_not),
        T(an_invalidate_in_one_process_is_seen_by_another_at_once),
        T(read_only_handles_cannot_lease_or_invalidate),
        T(iterate_ex_shows_stale_entries_and_lease_placeholders),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
