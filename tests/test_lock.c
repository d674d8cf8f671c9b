/*
 * test_lock.c - stripe locks that are never released: a live but stuck
 * holder, a corrupt lock word, a lock of a corrupt kind. A worker pays the
 * bounded wait once (counted by the handle, never timed here), later
 * operations on a suspect stripe fail at once, a lock whose owner provably
 * does not exist is taken over, and shmc_repair rebuilds what cannot be
 * taken. Uses library internals (the stripe's mutex) to aim the corruption;
 * nothing here depends on the slot format.
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
#include "testhook.h"

#define NKEYS 64

static int setup_stripes(void **state, uint32_t stripes)
{
    shmc_config_t cfg;
    shmc_config_init(&cfg);
    cfg.capacity = 1024;
    cfg.memory = 1u << 20;
    cfg.max_value_len = 1024;
    cfg.stripes = stripes;
    return tu_fixture_open(state, &cfg);
}
static int setup_one(void **state) { return setup_stripes(state, 1); }
static int setup_four(void **state) { return setup_stripes(state, 4); }

static void key_of(unsigned i, char *k, size_t cap) { snprintf(k, cap, "key-%u", i); }

static uint32_t stripe_of_key(shmc_t *c, const char *k)
{
    struct keyloc kl;
    shm_locate(c, k, strlen(k), &kl);
    return kl.stripe;
}

static void fill(shmc_t *c)
{
    char k[32];
    for (unsigned i = 0; i < NKEYS; i++) {
        key_of(i, k, sizeof k);
        assert_int_equal(shmc_set(c, k, strlen(k), "v", 1, 0, 0), 0);
    }
}

static void set_word(shmc_t *c, uint32_t s, uint32_t w)
{
    __atomic_store_n(&c->stripes[s].lock.__data.__lock, (int)w, __ATOMIC_RELEASE);
}

/* A child that does nothing but exist, so its pid is a live thread id. */
static int sleeper(void *arg)
{
    (void)arg;
    for (;;)
        pause();
    return 0;
}

static void stop_child(pid_t pid)
{
    kill(pid, SIGKILL);
    tu_wait(pid);
}

static void a_lock_word_naming_no_thread_is_taken_over_and_its_stripe_wiped(void **state)
{
    shmc_t *c = ((tu_fixture_t *)*state)->c;
    fill(c);
    shmc_stats_t before;
    assert_int_equal(shmc_stats(c, &before), 0);
    /* Above any pid_max: no such thread can exist. */
    set_word(c, 0, 0x3ffffff0u);
    assert_int_equal(shmc_set(c, "new", 3, "v", 1, 0, 0), 0);
    assert_int_equal(c->lock_timeouts, 0); /* recovered without the bound */
    assert_false(shm_stripe_suspect(c, 0));
    shmc_stats_t after;
    assert_int_equal(shmc_stats(c, &after), 0);
    assert_int_equal(after.lock_recoveries, before.lock_recoveries + 1);
    assert_int_equal(after.recovered_lost, NKEYS); /* the stripe was wiped */
    char buf[8];
    size_t vlen;
    assert_int_equal(shmc_get(c, "key-1", 5, buf, sizeof buf, &vlen, NULL), -ENOENT);
    assert_int_equal(shmc_get(c, "new", 3, buf, sizeof buf, &vlen, NULL), 0);
    assert_int_equal(shmc_check(c, NULL, NULL), 0);
}

static void a_lock_word_with_only_garbage_bits_is_taken_over(void **state)
{
    shmc_t *c = ((tu_fixture_t *)*state)->c;
    set_word(c, 0, 0x80000000u); /* "waiters", no owner: nobody would wake them */
    assert_int_equal(shmc_set(c, "k", 1, "v", 1, 0, 0), 0);
    assert_int_equal(c->lock_timeouts, 0);
}

static void a_lock_naming_a_live_thread_costs_one_wait_then_fails_at_once(void **state)
{
    tu_fixture_t *f = *state;
    shmc_t *c = f->c;
    pid_t pid = tu_fork(sleeper, NULL);
    assert_true(pid > 0);
    set_word(c, 0, (uint32_t)pid); /* looks owned by a live thread */
    assert_int_equal(shmc_set(c, "k", 1, "v", 1, 0, 0), -EDEADLK);
    assert_int_equal(c->lock_timeouts, 1);
    assert_true(shm_stripe_suspect(c, 0));
    for (int i = 0; i < 200; i++) {
        assert_int_equal(shmc_set(c, "k", 1, "v", 1, 0, 0), -EDEADLK);
        assert_int_equal(shmc_delete(c, "k", 1), -EDEADLK);
    }
    assert_int_equal(c->lock_timeouts, 1); /* never a second wait */
    char line[8];
    assert_true(shmc_check(c, NULL, NULL) > 0);
    assert_int_equal(c->lock_timeouts, 1);
    /* The word is released (as the owner would): the stripe is healthy. */
    set_word(c, 0, 0);
    assert_int_equal(shmc_set(c, "k", 1, "v", 1, 0, 0), 0);
    assert_false(shm_stripe_suspect(c, 0));
    size_t vlen;
    assert_int_equal(shmc_get(c, "k", 1, line, sizeof line, &vlen, NULL), 0);
    stop_child(pid);
}

static void several_stuck_stripes_cost_one_wait_in_all(void **state)
{
    shmc_t *c = ((tu_fixture_t *)*state)->c;
    fill(c);
    pid_t pid = tu_fork(sleeper, NULL);
    assert_true(pid > 0);
    for (uint32_t s = 0; s < 3; s++)
        set_word(c, s, (uint32_t)pid);
    char k[32];
    unsigned ok = 0, deadlk = 0;
    for (unsigned round = 0; round < 4; round++)
        for (unsigned i = 0; i < NKEYS; i++) {
            key_of(i, k, sizeof k);
            int r = shmc_set(c, k, strlen(k), "w", 1, 0, 0);
            if (stripe_of_key(c, k) == 3) {
                assert_int_equal(r, 0);
                ok++;
            } else {
                assert_int_equal(r, -EDEADLK);
                deadlk++;
            }
        }
    assert_true(ok > 0 && deadlk > 0);
    assert_int_equal(c->lock_timeouts, 1);
    for (uint32_t s = 0; s < 3; s++)
        assert_true(shm_stripe_suspect(c, s));
    assert_false(shm_stripe_suspect(c, 3));
    /* Nobody else is attached: repair rebuilds the three locks. */
    assert_int_equal(shmc_repair(c, 0, NULL, NULL), 3);
    for (unsigned i = 0; i < NKEYS; i++) {
        key_of(i, k, sizeof k);
        assert_int_equal(shmc_set(c, k, strlen(k), "x", 1, 0, 0), 0);
    }
    assert_int_equal(c->lock_timeouts, 1);
    assert_int_equal(shmc_check(c, NULL, NULL), 0);
    stop_child(pid);
}

static void a_stuck_holder_that_dies_is_recovered_by_the_next_call(void **state)
{
    tu_fixture_t *f = *state;
    shmc_t *c = f->c;
    pid_t pid = tu_fork(sleeper, NULL);
    assert_true(pid > 0);
    set_word(c, 0, (uint32_t)pid);
    assert_int_equal(shmc_set(c, "k", 1, "v", 1, 0, 0), -EDEADLK);
    assert_true(shm_stripe_suspect(c, 0));
    /* The kernel would mark the word OWNER_DIED for a real holder. */
    set_word(c, 0, 0x40000000u | (uint32_t)pid);
    assert_int_equal(shmc_set(c, "k", 1, "v", 1, 0, 0), 0);
    assert_false(shm_stripe_suspect(c, 0));
    assert_int_equal(c->lock_timeouts, 1);
    stop_child(pid);
}

static void a_row_of_another_pid_namespace_forbids_the_take_over(void **state)
{
    shmc_t *c = ((tu_fixture_t *)*state)->c;
    assert_true(c->primary_row >= 0);
    /* Our own live row claims another namespace: a thread id that does not
     * exist here might exist there, so the lock is not taken over. */
    ST(&c->procs[c->primary_row].pidns, 12345u);
    set_word(c, 0, 0x3ffffff0u);
    assert_int_equal(shmc_set(c, "k", 1, "v", 1, 0, 0), -EDEADLK);
    assert_true(shm_stripe_suspect(c, 0));
    ST(&c->procs[c->primary_row].pidns, shm_pidns());
    /* Repair is still possible (no other process attached). */
    assert_int_equal(shmc_repair(c, 0, NULL, NULL), 1);
    assert_int_equal(shmc_set(c, "k", 1, "v", 1, 0, 0), 0);
}

static void a_lock_of_corrupt_kind_fails_at_once_and_repair_rebuilds_it(void **state)
{
    shmc_t *c = ((tu_fixture_t *)*state)->c;
    fill(c);
    c->stripes[0].lock.__data.__kind = 0x7fff0000;
    int r = shmc_set(c, "k", 1, "v", 1, 0, 0);
    assert_true(r == -EBADMSG || r == -EDEADLK);
    assert_int_equal(c->lock_timeouts, 0);
    assert_true(shmc_check(c, NULL, NULL) > 0);
    assert_int_equal(shmc_repair(c, 0, NULL, NULL), 1);
    assert_int_equal(shmc_set(c, "k", 1, "v", 1, 0, 0), 0);
    assert_int_equal(shmc_check(c, NULL, NULL), 0);
    assert_int_equal(shmc_repair(c, 0, NULL, NULL), 0); /* nothing left to do */
}

/* ---- other processes: attached and waiting, or stuck inside a set ---- */

static int g_stop_fd = -1;

/* Report (one byte on the pipe) and stop; at the set's odd-slot point
 * when installed as the test hook. */
static void report_and_stop(void)
{
    char b = 1;
    if (write(g_stop_fd, &b, 1) != 1)
        _exit(4);
    for (;;)
        pause();
}

static void stop_in_set(int point, unsigned stripe)
{
    (void)stripe;
    if (point == SHMC_HOOK_SLOT_ODD)
        report_and_stop();
}

struct other {
    const char *name;
    tu_pipe_t stopped;  /* one byte once it stands where it should */
    int in_set;         /* stop inside a set (slot odd, lock held) */
};

static int attach_and_stop(void *arg)
{
    struct other *o = arg;
    shmc_t *c = NULL;
    if (shmc_open(o->name, 0, NULL, &c) != 0)
        return 2;
    g_stop_fd = o->stopped.wr;
    if (!o->in_set)
        report_and_stop();
    shmc__test_hook = stop_in_set;
    shmc_set(c, "stuck", 5, "value", 5, 0, 0);
    return 3; /* the hook never stopped it */
}

/* Fork an attached process and wait until it stands where asked. */
static pid_t start_other(struct other *o, const char *name, int in_set)
{
    o->name = name;
    o->in_set = in_set;
    assert_int_equal(tu_pipe_open(&o->stopped), 0);
    pid_t pid = tu_fork(attach_and_stop, o);
    assert_true(pid > 0);
    char b;
    assert_int_equal(read(o->stopped.rd, &b, 1), 1);
    return pid;
}

static void stop_other(struct other *o, pid_t pid)
{
    stop_child(pid);
    close(o->stopped.rd);
    close(o->stopped.wr);
}

static void repair_refuses_while_another_process_is_attached_unless_forced(void **state)
{
    tu_fixture_t *f = *state;
    shmc_t *c = f->c;
    struct other o;
    pid_t pid = start_other(&o, f->name, 0);
    c->stripes[0].lock.__data.__kind = 0x7fff0000;
    assert_int_equal(shmc_repair(c, 0, NULL, NULL), -EBUSY);
    assert_int_equal(c->stripes[0].lock.__data.__kind, 0x7fff0000); /* untouched */
    assert_int_equal(shmc_repair(c, SHMC_REPAIR_FORCE, NULL, NULL), 1);
    assert_int_equal(shmc_set(c, "k", 1, "v", 1, 0, 0), 0);
    stop_other(&o, pid);
}

static void repair_rejects_bad_arguments_and_read_only_handles(void **state)
{
    tu_fixture_t *f = *state;
    assert_int_equal(shmc_repair(NULL, 0, NULL, NULL), -EINVAL);
    assert_int_equal(shmc_repair(f->c, 0x80, NULL, NULL), -EINVAL);
    shmc_t *ro = NULL;
    assert_int_equal(shmc_open(f->name, SHMC_RDONLY, NULL, &ro), 0);
    assert_int_equal(shmc_repair(ro, 0, NULL, NULL), -EROFS);
    shmc_close(ro);
}

/* ---- a writer stuck inside a set: what a walk reports ------------------ */

struct walk_count {
    unsigned entries, skipped;
};

static int count_walk(const shmc_entry_t *e, void *arg)
{
    struct walk_count *n = arg;
    if (e->state & SHMC_ENTRY_SKIPPED) {
        if (e->key != NULL || e->klen != 0)
            return -1;
        n->skipped++;
    } else {
        n->entries++;
    }
    return 0;
}

/* Layout 2 keeps one seqlock word per bucket line, so a writer stuck
 * inside leaves all of its bucket's slots unreadable: they are what the
 * walk counts, and only NKEYS keys that happen to share the bucket are
 * missing from the entries. */
static void a_walk_counts_the_slots_a_stuck_writer_left_mid_write(void **state)
{
    tu_fixture_t *f = *state;
    fill(f->c);
    struct other o;
    pid_t pid = start_other(&o, f->name, 1);
    shmc_t *ro = NULL;
    assert_int_equal(shmc_open(f->name, SHMC_RDONLY, NULL, &ro), 0);
    /* Without the flag the slot is left out silently (as documented). */
    struct walk_count n = {0, 0};
    assert_int_equal(shmc_iterate_ex(ro, SHMC_ITER_STALE, count_walk, &n), 0);
    assert_true(n.entries <= NKEYS && n.entries + SHMC_SLOTS_PER_BUCKET >= NKEYS);
    uint64_t seen = n.entries;
    assert_int_equal(n.skipped, 0);
    /* With it, the walk says so. */
    memset(&n, 0, sizeof n);
    assert_int_equal(shmc_iterate_ex(ro, SHMC_ITER_STALE | SHMC_ITER_SKIPPED, count_walk, &n), 0);
    assert_int_equal(n.entries, seen);
    assert_int_equal(n.skipped, SHMC_SLOTS_PER_BUCKET);
    assert_int_equal(shmc_iterate_ex(ro, 0x80, count_walk, &n), -EINVAL);
    shmc_close(ro);
    /* The writer dies: the next locker recovers the stripe. */
    stop_other(&o, pid);
    assert_int_equal(shmc_set(f->c, "after", 5, "v", 1, 0, 0), 0);
    assert_int_equal(shmc_check(f->c, NULL, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_lock_word_naming_no_thread_is_taken_over_and_its_stripe_wiped,
                                        setup_one, tu_teardown),
        cmocka_unit_test_setup_teardown(a_lock_word_with_only_garbage_bits_is_taken_over, setup_one,
                                        tu_teardown),
        cmocka_unit_test_setup_teardown(a_lock_naming_a_live_thread_costs_one_wait_then_fails_at_once,
                                        setup_one, tu_teardown),
        cmocka_unit_test_setup_teardown(several_stuck_stripes_cost_one_wait_in_all, setup_four,
                                        tu_teardown),
        cmocka_unit_test_setup_teardown(a_stuck_holder_that_dies_is_recovered_by_the_next_call,
                                        setup_one, tu_teardown),
        cmocka_unit_test_setup_teardown(a_row_of_another_pid_namespace_forbids_the_take_over,
                                        setup_one, tu_teardown),
        cmocka_unit_test_setup_teardown(a_lock_of_corrupt_kind_fails_at_once_and_repair_rebuilds_it,
                                        setup_one, tu_teardown),
        cmocka_unit_test_setup_teardown(
            repair_refuses_while_another_process_is_attached_unless_forced, setup_one, tu_teardown),
        cmocka_unit_test_setup_teardown(repair_rejects_bad_arguments_and_read_only_handles,
                                        setup_one, tu_teardown),
        cmocka_unit_test_setup_teardown(a_walk_counts_the_slots_a_stuck_writer_left_mid_write,
                                        setup_one, tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
