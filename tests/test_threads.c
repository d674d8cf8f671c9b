/*
 * test_threads.c - threads of one process sharing one handle.
 *
 * Also run under ThreadSanitizer (make SAN=tsan test-threads): the test's
 * own shared state is C11 atomics or is handed over through pthread_join.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>

#include "testutil.h"

#define KS(s) (s), strlen(s)
#define NTHREADS 4
#define NKEYS 32
#define VMAX 3000

struct worker {
    shmc_t *c;
    int id;
    uint64_t ms;
    pthread_barrier_t *start;
    /* results, read by the main thread after pthread_join */
    int error;        /* 0, or what went wrong */
    int last_rc;
    uint64_t got, want; /* for error 8 */
    uint64_t counter, resets;
    uint64_t gets, hits, misses, sets, deletes, incrs;
};

static void mixed_key(char *k, size_t cap, uint64_t i)
{
    snprintf(k, cap, "mixed-%02llu", (unsigned long long)i);
}

static void *mixed_worker(void *arg)
{
    struct worker *w = arg;
    unsigned char *v = malloc(VMAX), *buf = malloc(VMAX);
    if (!v || !buf) {
        w->error = 1;
        goto out;
    }
    uint64_t s = tu_seed((uint64_t)w->id * 7919u + 1u), seq = 0;
    pthread_barrier_wait(w->start);
    uint64_t end = tu_now_ms() + w->ms;
    char k[32];
    while (!w->error && tu_now_ms() < end) {
        for (int n = 0; n < 128 && !w->error; n++) {
            uint64_t r = tu_rand(&s);
            unsigned op = (unsigned)((r >> 56) % 16);
            int rc;
            if (op < 8) { /* get */
                mixed_key(k, sizeof k, r % NKEYS);
                size_t vlen = 0;
                shmc_item_info_t info;
                rc = shmc_get(w->c, k, strlen(k), buf, VMAX, &vlen, &info);
                w->gets++;
                if (rc == -ENOENT) {
                    w->misses++;
                } else if (rc == 0) {
                    w->hits++;
                    if (tu_check_value(buf, vlen, k, strlen(k), NULL) != 0)
                        w->error = 2; /* torn or foreign value */
                    else if (info.flags != tu_value_flags(buf, vlen))
                        w->error = 3;
                } else {
                    w->error = 4;
                    w->last_rc = rc;
                }
            } else if (op < 13) { /* set */
                mixed_key(k, sizeof k, r % NKEYS);
                size_t len = tu_make_value(v, (size_t)((r >> 20) % VMAX), k,
                                           strlen(k),
                                           ((uint64_t)w->id << 48) | seq++);
                rc = shmc_set(w->c, k, strlen(k), v, len, 0, tu_value_flags(v, len));
                w->sets++;
                if (rc != 0) {
                    w->error = 5;
                    w->last_rc = rc;
                }
            } else if (op < 14) { /* delete */
                mixed_key(k, sizeof k, r % NKEYS);
                rc = shmc_delete(w->c, k, strlen(k));
                w->deletes++;
                if (rc != 0 && rc != -ENOENT) {
                    w->error = 6;
                    w->last_rc = rc;
                }
            } else { /* incr on a per-thread counter: exact */
                snprintf(k, sizeof k, "own-counter-%d", w->id);
                uint64_t zero = 0, res = 0;
                rc = shmc_incr(w->c, k, strlen(k), 1, &zero, 0, &res);
                if (rc != 0) {
                    w->error = 7;
                    w->last_rc = rc;
                } else if (res == 0) {
                    /* created (first call, or after an eviction): holds 0 */
                    if (w->incrs > 0)
                        w->resets++;
                    w->counter = 0;
                } else if (res != w->counter + 1) {
                    w->error = 8; /* only this thread touches the counter */
                    w->got = res;
                    w->want = w->counter + 1;
                } else {
                    w->counter = res;
                }
                w->incrs++;
            }
        }
    }
out:
    free(v);
    free(buf);
    return NULL;
}

static void run_workers(struct worker *w, int n, void *(*fn)(void *))
{
    pthread_t th[NTHREADS];
    pthread_barrier_t start;
    assert_true(n <= NTHREADS);
    assert_int_equal(pthread_barrier_init(&start, NULL, (unsigned)n), 0);
    for (int i = 0; i < n; i++) {
        w[i].start = &start;
        assert_int_equal(pthread_create(&th[i], NULL, fn, &w[i]), 0);
    }
    for (int i = 0; i < n; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    pthread_barrier_destroy(&start);
    for (int i = 0; i < n; i++)
        if (w[i].error)
            fail_msg("thread %d: error %d (last rc %d %s; counter %llu, "
                     "expected %llu)", i, w[i].error, w[i].last_rc,
                     shmc_strerror(w[i].last_rc), (unsigned long long)w[i].got,
                     (unsigned long long)w[i].want);
}

static void mixed_operations_from_four_threads_never_return_a_wrong_value(void **state)
{
    tu_fixture_t *f = *state;
    shmc_stats_t before;
    assert_int_equal(shmc_stats(f->c, &before), 0);
    struct worker w[NTHREADS];
    memset(w, 0, sizeof w);
    for (int i = 0; i < NTHREADS; i++) {
        w[i].c = f->c;
        w[i].id = i;
        w[i].ms = 1500;
    }
    run_workers(w, NTHREADS, mixed_worker);
    uint64_t gets = 0, hits = 0, misses = 0, sets = 0;
    for (int i = 0; i < NTHREADS; i++) {
        gets += w[i].gets;
        hits += w[i].hits;
        misses += w[i].misses;
        sets += w[i].sets;
        assert_true(w[i].gets > 0 && w[i].sets > 0);
    }
    assert_true(hits > 0);
    shmc_stats_t after;
    assert_int_equal(shmc_stats(f->c, &after), 0);
    /* every thread is done: the counters are exact */
    assert_int_equal(after.cmd_get - before.cmd_get, gets);
    assert_int_equal(after.get_hits - before.get_hits, hits);
    assert_int_equal(after.get_misses - before.get_misses, misses);
    assert_int_equal(after.get_hits + after.get_misses, after.cmd_get);
    assert_true(after.cmd_set - before.cmd_set >= sets);
    /* per-thread counters ended where each thread counted */
    uint64_t resets = 0;
    for (int i = 0; i < NTHREADS; i++) {
        char k[32];
        snprintf(k, sizeof k, "own-counter-%d", i);
        uint64_t r = 0;
        resets += w[i].resets;
        if (w[i].incrs > 0) {
            int rc = shmc_incr(f->c, k, strlen(k), 0, NULL, 0, &r);
            if (rc == 0)
                assert_int_equal(r, w[i].counter);
            else
                assert_int_equal(rc, -ENOENT); /* evicted since */
        }
    }
    /* a counter can only have started over because it was evicted */
    if (resets > 0)
        assert_true(after.evictions > before.evictions);
    print_message("%llu gets (%llu hits), %llu sets, %llu evictions, "
                  "%llu counter restarts\n",
                  (unsigned long long)gets, (unsigned long long)hits,
                  (unsigned long long)sets,
                  (unsigned long long)(after.evictions - before.evictions),
                  (unsigned long long)resets);
    assert_int_equal(shmc_check(f->c, NULL, NULL), 0);
}

enum { INCR_EACH = 5000 };

static void *incr_worker(void *arg)
{
    struct worker *w = arg;
    uint64_t init = 0;
    pthread_barrier_wait(w->start);
    for (int i = 0; i < INCR_EACH; i++) {
        uint64_t r = 0;
        int rc = shmc_incr(w->c, KS("shared-counter"), 1, &init, 0, &r);
        if (rc != 0) {
            w->error = 1;
            w->last_rc = rc;
            break;
        }
        w->incrs++;
    }
    return NULL;
}

static void incr_from_n_threads_sums_exactly(void **state)
{
    tu_fixture_t *f = *state;
    /* created beforehand so every incr applies its delta */
    assert_int_equal(shmc_set(f->c, KS("shared-counter"), "0", 1, 0, 0), 0);
    struct worker w[NTHREADS];
    memset(w, 0, sizeof w);
    for (int i = 0; i < NTHREADS; i++) {
        w[i].c = f->c;
        w[i].id = i;
    }
    run_workers(w, NTHREADS, incr_worker);
    uint64_t r = 0;
    assert_int_equal(shmc_incr(f->c, KS("shared-counter"), 0, NULL, 0, &r), 0);
    assert_int_equal(r, (uint64_t)NTHREADS * INCR_EACH);
    char buf[32];
    size_t vlen = 0;
    assert_int_equal(shmc_get(f->c, KS("shared-counter"), buf, sizeof buf - 1, &vlen, NULL), 0);
    buf[vlen] = '\0';
    assert_string_equal(buf, "20000");
}

static void *add_worker(void *arg)
{
    struct worker *w = arg;
    pthread_barrier_wait(w->start);
    for (int i = 0; i < 500; i++) {
        char k[32], v[16];
        snprintf(k, sizeof k, "add-%d", i);
        snprintf(v, sizeof v, "t%d", w->id);
        int rc = shmc_add(w->c, k, strlen(k), v, strlen(v), 0, (uint32_t)w->id);
        if (rc == 0) {
            w->sets++; /* wins */
        } else if (rc != -EEXIST) {
            w->error = 1;
            w->last_rc = rc;
            break;
        }
    }
    return NULL;
}

static void exactly_one_of_many_racing_thread_adds_wins(void **state)
{
    tu_fixture_t *f = *state;
    struct worker w[NTHREADS];
    memset(w, 0, sizeof w);
    for (int i = 0; i < NTHREADS; i++) {
        w[i].c = f->c;
        w[i].id = i;
    }
    run_workers(w, NTHREADS, add_worker);
    uint64_t wins = 0;
    for (int i = 0; i < NTHREADS; i++)
        wins += w[i].sets;
    assert_int_equal(wins, 500);
    for (int i = 0; i < 500; i++) {
        char k[32], buf[16], want[16];
        size_t vlen = 0;
        shmc_item_info_t info;
        snprintf(k, sizeof k, "add-%d", i);
        assert_int_equal(shmc_get(f->c, k, strlen(k), buf, sizeof buf, &vlen, &info), 0);
        snprintf(want, sizeof want, "t%u", info.flags);
        assert_int_equal(vlen, strlen(want));
        assert_memory_equal(buf, want, vlen);
    }
}

static atomic_int g_stop;

static void *clearing_worker(void *arg)
{
    struct worker *w = arg;
    pthread_barrier_wait(w->start);
    while (!atomic_load(&g_stop)) {
        if (shmc_clear(w->c) != 0) {
            w->error = 1;
            break;
        }
        w->deletes++;
        if (shmc_flush_expired(w->c) < 0) {
            w->error = 2;
            break;
        }
        tu_sleep_ms(1);
    }
    return NULL;
}

static void *setget_worker(void *arg)
{
    struct worker *w = arg;
    unsigned char v[512], buf[512];
    uint64_t seq = 0;
    char k[32];
    pthread_barrier_wait(w->start);
    for (int i = 0; i < 20000 && !w->error; i++) {
        snprintf(k, sizeof k, "cl-%d-%d", w->id, i % 16);
        size_t len = tu_make_value(v, 64 + (size_t)(i % 400), k, strlen(k), seq++);
        int rc = shmc_set(w->c, k, strlen(k), v, len, 0, 0);
        if (rc != 0) {
            w->error = 3;
            w->last_rc = rc;
            break;
        }
        size_t vlen = 0;
        rc = shmc_get(w->c, k, strlen(k), buf, sizeof buf, &vlen, NULL);
        w->gets++;
        if (rc == 0) {
            uint64_t got = 0;
            if (tu_check_value(buf, vlen, k, strlen(k), &got) != 0 || got != seq - 1)
                w->error = 4; /* only this thread writes this key */
            w->hits++;
        } else if (rc != -ENOENT) {
            w->error = 5;
            w->last_rc = rc;
        }
    }
    return NULL;
}

static void *dispatch_worker(void *arg)
{
    struct worker *w = arg;
    return w->id == 0 ? clearing_worker(arg) : setget_worker(arg);
}

static void clear_and_flush_from_one_thread_while_others_write(void **state)
{
    tu_fixture_t *f = *state;
    struct worker w[NTHREADS];
    memset(w, 0, sizeof w);
    for (int i = 0; i < NTHREADS; i++) {
        w[i].c = f->c;
        w[i].id = i;
    }
    atomic_store(&g_stop, 0);
    /* the clearing thread stops once the writers are done */
    pthread_t th[NTHREADS];
    pthread_barrier_t start;
    assert_int_equal(pthread_barrier_init(&start, NULL, NTHREADS), 0);
    for (int i = 0; i < NTHREADS; i++) {
        w[i].start = &start;
        assert_int_equal(pthread_create(&th[i], NULL, dispatch_worker, &w[i]), 0);
    }
    for (int i = 1; i < NTHREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    atomic_store(&g_stop, 1);
    assert_int_equal(pthread_join(th[0], NULL), 0);
    pthread_barrier_destroy(&start);
    for (int i = 0; i < NTHREADS; i++)
        if (w[i].error)
            fail_msg("thread %d: error %d (last rc %d %s)", i, w[i].error,
                     w[i].last_rc, shmc_strerror(w[i].last_rc));
    assert_true(w[0].deletes > 0);
    assert_int_equal(shmc_check(f->c, NULL, NULL), 0);
    shmc_stats_t st;
    assert_int_equal(shmc_stats(f->c, &st), 0);
    assert_true(st.generation >= w[0].deletes);
    assert_int_equal(st.get_hits + st.get_misses, st.cmd_get);
}

struct opener {
    const char *name;
    int error;
};

static void *open_close_worker(void *arg)
{
    struct opener *o = arg;
    for (int i = 0; i < 50 && !o->error; i++) {
        shmc_t *c = NULL;
        if (shmc_open(o->name, 0, NULL, &c) != 0) {
            o->error = 1;
            break;
        }
        char buf[8];
        size_t vlen;
        if (shmc_get(c, KS("k"), buf, sizeof buf, &vlen, NULL) != 0)
            o->error = 2;
        shmc_close(c);
    }
    return NULL;
}

static void threads_may_open_and_close_their_own_handles(void **state)
{
    tu_fixture_t *f = *state;
    assert_int_equal(shmc_set(f->c, KS("k"), "v", 1, 0, 0), 0);
    pthread_t th[NTHREADS];
    struct opener o[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        o[i].name = f->name;
        o[i].error = 0;
        assert_int_equal(pthread_create(&th[i], NULL, open_close_worker, &o[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(o[i].error, 0);
    shmc_stats_t st;
    assert_int_equal(shmc_stats(f->c, &st), 0);
    assert_int_equal(st.get_hits + st.get_misses, st.cmd_get);
    assert_true(st.get_hits >= NTHREADS * 50);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup, tu_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(mixed_operations_from_four_threads_never_return_a_wrong_value),
        T(incr_from_n_threads_sums_exactly),
        T(exactly_one_of_many_racing_thread_adds_wins),
        T(clear_and_flush_from_one_thread_while_others_write),
        T(threads_may_open_and_close_their_own_handles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
