/*
 * test_tags.c - group invalidation: shmc_set_tagged, shmc_invalidate_tag,
 * and how tags meet leases.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "shmcache.h"
#include "testutil.h"
#include "testhook.h"

#define H(state) (((tu_fixture_t *)*(state))->c)

static int hit(shmc_t *c, const char *k)
{
    char buf[64];
    size_t vlen;
    return shmc_get(c, k, strlen(k), buf, sizeof buf, &vlen, NULL) == 0;
}

static void invalidating_a_tag_makes_every_entry_under_it_miss(void **state)
{
    shmc_t *c = H(state);
    const char *p1[] = {"product:1", "category:7"};
    const char *p2[] = {"product:2", "category:7"};
    const char *p3[] = {"product:3", "category:8"};
    assert_int_equal(shmc_set_tagged(c, "page:1", 6, "a", 1, 0, 0, p1, 2), 0);
    assert_int_equal(shmc_set_tagged(c, "page:2", 6, "b", 1, 0, 0, p2, 2), 0);
    assert_int_equal(shmc_set_tagged(c, "page:3", 6, "c", 1, 0, 0, p3, 2), 0);
    assert_int_equal(shmc_set(c, "plain", 5, "d", 1, 0, 0), 0);
    assert_true(hit(c, "page:1") && hit(c, "page:2") && hit(c, "page:3"));

    assert_int_equal(shmc_invalidate_tag(c, "product:2"), 0);
    assert_true(hit(c, "page:1"));
    assert_false(hit(c, "page:2"));
    assert_true(hit(c, "page:3"));

    assert_int_equal(shmc_invalidate_tag(c, "category:7"), 0);
    assert_false(hit(c, "page:1"));
    assert_true(hit(c, "page:3"));
    assert_true(hit(c, "plain"));

    /* invalidated entries stay readable as stale */
    char buf[8];
    size_t vlen;
    shmc_item_info_t info;
    assert_int_equal(shmc_get_stale(c, "page:1", 6, buf, sizeof buf, &vlen, &info), 0);
    assert_int_equal(info.stale, 1);
    /* an entry stored under the tag after the invalidation is live */
    assert_int_equal(shmc_set_tagged(c, "page:1", 6, "a2", 2, 0, 0, p1, 2), 0);
    assert_true(hit(c, "page:1"));
    /* an invalidation of a tag nobody uses is harmless */
    assert_int_equal(shmc_invalidate_tag(c, "nobody"), 0);
    shmc_stats_t st;
    assert_int_equal(shmc_stats(c, &st), 0);
    assert_int_equal(st.tag_invalidations, 3);
    assert_int_equal(shmc_check(c, NULL, NULL), 0);
}

static void add_and_replace_treat_a_tag_invalidated_entry_as_absent(void **state)
{
    shmc_t *c = H(state);
    const char *t[] = {"t"};
    assert_int_equal(shmc_set_tagged(c, "k", 1, "v", 1, 0, 0, t, 1), 0);
    assert_int_equal(shmc_add(c, "k", 1, "x", 1, 0, 0), -EEXIST);
    assert_int_equal(shmc_invalidate_tag(c, "t"), 0);
    assert_int_equal(shmc_replace(c, "k", 1, "x", 1, 0, 0), -ENOENT);
    assert_int_equal(shmc_touch(c, "k", 1, 1000), -ENOENT);
    assert_int_equal(shmc_add(c, "k", 1, "x", 1, 0, 0), 0);
    assert_true(hit(c, "k"));
}

static void add_tagged_stores_under_tags_only_when_absent(void **state)
{
    shmc_t *c = H(state);
    const char *t[] = {"cart:9"}, *u[] = {"other"};
    char buf[8];
    size_t vlen;
    assert_int_equal(shmc_add_tagged(c, "k", 1, "v1", 2, 0, 0, t, 1), 0);
    /* a live entry: refused, value and tags unchanged */
    assert_int_equal(shmc_add_tagged(c, "k", 1, "v2", 2, 0, 0, u, 1), -EEXIST);
    assert_int_equal(shmc_invalidate_tag(c, "other"), 0);
    assert_int_equal(shmc_get(c, "k", 1, buf, sizeof buf, &vlen, NULL), 0);
    assert_memory_equal(buf, "v1", 2);
    /* once its tag is invalidated the entry is absent for add */
    assert_int_equal(shmc_invalidate_tag(c, "cart:9"), 0);
    assert_int_equal(shmc_add_tagged(c, "k", 1, "v3", 2, 0, 0, t, 1), 0);
    assert_int_equal(shmc_get(c, "k", 1, buf, sizeof buf, &vlen, NULL), 0);
    assert_memory_equal(buf, "v3", 2);
    assert_int_equal(shmc_invalidate_tag(c, "cart:9"), 0);
    assert_false(hit(c, "k"));
    /* bad tags change nothing */
    const char *five[] = {"a", "b", "c", "d", "e"};
    assert_int_equal(shmc_add_tagged(c, "n", 1, "v", 1, 0, 0, five, 5), -EINVAL);
    assert_false(hit(c, "n"));
}

static void incr_keeps_the_tags_of_a_counter(void **state)
{
    shmc_t *c = H(state);
    const char *t[] = {"counters"};
    uint64_t v = 0;
    assert_int_equal(shmc_set_tagged(c, "n", 1, "5", 1, 0, 0, t, 1), 0);
    assert_int_equal(shmc_incr(c, "n", 1, 2, NULL, 0, &v), 0);
    assert_int_equal(v, 7);
    assert_int_equal(shmc_invalidate_tag(c, "counters"), 0);
    assert_int_equal(shmc_incr(c, "n", 1, 1, NULL, 0, &v), -ENOENT);
}

static void bad_tags_are_rejected_and_change_nothing(void **state)
{
    shmc_t *c = H(state);
    char longtag[SHMC_TAG_MAX_LEN + 2];
    memset(longtag, 'x', sizeof longtag - 1);
    longtag[sizeof longtag - 1] = 0;
    const char *empty[] = {""};
    const char *null[] = {NULL};
    const char *lng[] = {longtag};
    const char *five[] = {"a", "b", "c", "d", "e"};
    assert_int_equal(shmc_set_tagged(c, "k", 1, "v", 1, 0, 0, empty, 1), -EINVAL);
    assert_int_equal(shmc_set_tagged(c, "k", 1, "v", 1, 0, 0, null, 1), -EINVAL);
    assert_int_equal(shmc_set_tagged(c, "k", 1, "v", 1, 0, 0, lng, 1), -EINVAL);
    assert_int_equal(shmc_set_tagged(c, "k", 1, "v", 1, 0, 0, five, 5), -EINVAL);
    assert_int_equal(shmc_set_tagged(c, "k", 1, "v", 1, 0, 0, NULL, 1), -EINVAL);
    assert_false(hit(c, "k"));
    assert_int_equal(shmc_set_tagged(c, "k", 1, "v", 1, 0, 0, NULL, 0), 0);
    assert_true(hit(c, "k"));
    assert_int_equal(shmc_invalidate_tag(c, NULL), -EINVAL);
    assert_int_equal(shmc_invalidate_tag(c, ""), -EINVAL);
    assert_int_equal(shmc_invalidate_tag(c, longtag), -EINVAL);
    assert_int_equal(shmc_invalidate_tag(NULL, "t"), -EINVAL);
    shmc_stats_t st;
    assert_int_equal(shmc_stats(c, &st), 0);
    assert_int_equal(st.tag_invalidations, 0);
}

static void a_tag_invalidated_in_another_process_misses_here_at_once(void **state)
{
    tu_fixture_t *f = *state;
    const char *t[] = {"group"};
    for (int i = 0; i < 200; i++) {
        char k[16];
        snprintf(k, sizeof k, "g%d", i);
        assert_int_equal(shmc_set_tagged(f->c, k, strlen(k), "v", 1, 0, 0, t, 1), 0);
    }
    pid_t p = fork();
    if (p == 0) {
        tu_child_init(30);
        shmc_t *cc = NULL;
        if (shmc_open(f->name, 0, NULL, &cc) != 0)
            _exit(2);
        int r = shmc_invalidate_tag(cc, "group");
        shmc_close(cc);
        _exit(r == 0 ? 0 : 3);
    }
    assert_int_equal(tu_wait(p), 0);
    for (int i = 0; i < 200; i++) {
        char k[16];
        snprintf(k, sizeof k, "g%d", i);
        assert_false(hit(f->c, k));
    }
}

static void a_tag_invalidation_after_a_lease_refuses_the_leased_set(void **state)
{
    shmc_t *c = H(state);
    const char *t[] = {"product:9"};
    char buf[8];
    size_t vlen;
    uint64_t l = 0;
    /* the new value's own tags */
    assert_int_equal(shmc_get_or_lease(c, "p9", 2, buf, sizeof buf, &vlen, NULL, 5000, &l), -ENOENT);
    assert_int_equal(shmc_invalidate_tag(c, "product:9"), 0);
    assert_int_equal(shmc_set_leased_tagged(c, "p9", 2, "old", 3, 0, 0, t, 1, l), -ESTALE);
    /* an invalidation before the lease does not count against it */
    assert_int_equal(shmc_get_or_lease(c, "p9", 2, buf, sizeof buf, &vlen, NULL, 5000, &l), -ENOENT);
    assert_int_equal(shmc_set_leased_tagged(c, "p9", 2, "new", 3, 0, 0, t, 1, l), 0);
    assert_true(hit(c, "p9"));
    /* the tags of the stale value the lease replaces */
    assert_int_equal(shmc_invalidate_tag(c, "product:9"), 0);
    assert_false(hit(c, "p9"));
    assert_int_equal(shmc_get_or_lease(c, "p9", 2, buf, sizeof buf, &vlen, NULL, 5000, &l), -ENOENT);
    assert_int_equal(shmc_invalidate_tag(c, "product:9"), 0);
    assert_int_equal(shmc_set_leased(c, "p9", 2, "older", 5, 0, 0, l), -ESTALE);
    shmc_stats_t st;
    assert_int_equal(shmc_stats(c, &st), 0);
    assert_int_equal(st.lease_rejects, 2);
}

/* A leased set that lands while an invalidation of its tag is half done
 * (numbered, tag word not yet raised) must not survive that invalidation.
 * The invalidating child stops at the hook between the two steps. */
static tu_pipe_t gap_stopped, gap_go;

static void stop_in_gap(int point, unsigned stripe)
{
    (void)stripe;
    if (point != SHMC_HOOK_TAG_GAP)
        return;
    (void)tu_pipe_put(&gap_stopped, 1, 's');
    (void)tu_pipe_take(&gap_go, 1, 20000);
}

static void a_leased_set_during_a_half_done_tag_invalidation_does_not_survive_it(void **state)
{
    tu_fixture_t *f = *state;
    const char *t[] = {"product:5"};
    char buf[16];
    size_t vlen;
    uint64_t l = 0;
    assert_int_equal(shmc_get_or_lease(f->c, "p5", 2, buf, sizeof buf, &vlen, NULL, 10000, &l), -ENOENT);
    assert_int_equal(tu_pipe_open(&gap_stopped), 0);
    assert_int_equal(tu_pipe_open(&gap_go), 0);
    pid_t p = fork();
    if (p == 0) {
        tu_child_init(30);
        shmc__test_hook = stop_in_gap;
        _exit(shmc_invalidate_tag(f->c, "product:5") == 0 ? 0 : 1);
    }
    assert_int_equal(tu_pipe_take(&gap_stopped, 1, 10000), 0);
    /* the value was computed before the update that the invalidation is for */
    int r = shmc_set_leased_tagged(f->c, "p5", 2, "old", 3, 0, 0, t, 1, l);
    assert_true(r == 0 || r == -ESTALE);
    assert_int_equal(tu_pipe_put(&gap_go, 1, 'g'), 0);
    assert_int_equal(tu_wait(p), 0);
    assert_int_equal(shmc_get(f->c, "p5", 2, buf, sizeof buf, &vlen, NULL), -ENOENT);
    tu_pipe_close(&gap_stopped);
    tu_pipe_close(&gap_go);
}

/* A process killed between the two steps leaves an invalidation that never
 * returned: the cache keeps working, later invalidations of the tag work. */
static void a_process_killed_mid_tag_invalidation_leaves_the_cache_working(void **state)
{
    tu_fixture_t *f = *state;
    const char *t[] = {"group"};
    assert_int_equal(shmc_set_tagged(f->c, "g", 1, "v", 1, 0, 0, t, 1), 0);
    assert_int_equal(tu_pipe_open(&gap_stopped), 0);
    assert_int_equal(tu_pipe_open(&gap_go), 0);
    pid_t p = fork();
    if (p == 0) {
        tu_child_init(30);
        shmc__test_hook = stop_in_gap;
        (void)shmc_invalidate_tag(f->c, "group");
        _exit(0);
    }
    assert_int_equal(tu_pipe_take(&gap_stopped, 1, 10000), 0);
    kill(p, SIGKILL);
    assert_int_equal(tu_wait(p), 1000 + SIGKILL);
    assert_int_equal(shmc_set_tagged(f->c, "h", 1, "v", 1, 0, 0, t, 1), 0);
    assert_true(hit(f->c, "h"));
    assert_int_equal(shmc_invalidate_tag(f->c, "group"), 0);
    assert_false(hit(f->c, "g"));
    assert_false(hit(f->c, "h"));
    assert_int_equal(shmc_check(f->c, NULL, NULL), 0);
    tu_pipe_close(&gap_stopped);
    tu_pipe_close(&gap_go);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup, tu_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(invalidating_a_tag_makes_every_entry_under_it_miss),
        T(add_and_replace_treat_a_tag_invalidated_entry_as_absent),
        T(add_tagged_stores_under_tags_only_when_absent),
        T(incr_keeps_the_tags_of_a_counter),
        T(bad_tags_are_rejected_and_change_nothing),
        T(a_tag_invalidated_in_another_process_misses_here_at_once),
        T(a_tag_invalidation_after_a_lease_refuses_the_leased_set),
        T(a_leased_set_during_a_half_done_tag_invalidation_does_not_survive_it),
        T(a_process_killed_mid_tag_invalidation_leaves_the_cache_working),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
