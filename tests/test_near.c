/*
 * test_near.c - the per-process near cache (shm/near.c): zero-copy views
 * validated against the segment on every call.
 *
 * Children never call cmocka asserts: they _exit() with a code and the
 * parent asserts on it. Threads report through their structs after
 * pthread_join. Also run under ThreadSanitizer
 * (make SAN=tsan build-tsan/tests/test_near && build-tsan/tests/test_near).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include "testutil.h"

#define KS(s) (s), strlen(s)

#if defined(__SANITIZE_THREAD__)
/* The fork tests start threads in children of a threaded process (liburcu's
 * call_rcu worker among them); TSan would kill such children by default. */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void) { return "die_after_fork=0"; }
/* liburcu is not instrumented: TSan sees its malloc/free (rcu_barrier's
 * completion records, call_rcu queues) but not the synchronisation between
 * them. near.c annotates its own use of RCU (see TSAN_* there). */
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void)
{
    return "called_from_lib:liburcu-memb.so\ncalled_from_lib:liburcu-cds.so\n";
}
#endif

static void key_of(char *k, size_t cap, unsigned i) { snprintf(k, cap, "near-%04u", i); }

/* A hash of a view's bytes, to prove they did not change while held. */
static uint64_t view_sum(const shmc_view_t *v) { return tu_hash(v->data, v->len); }

static int set_value(shmc_t *c, const char *k, size_t len, uint64_t seq)
{
    unsigned char *v = malloc(len + TU_VAL_MIN(strlen(k)));
    if (!v)
        return -ENOMEM;
    size_t n = tu_make_value(v, len, k, strlen(k), seq);
    int r = shmc_set(c, k, strlen(k), v, n, 0, tu_value_flags(v, n));
    free(v);
    return r;
}

/* 0 when the view is a whole value of key k (with the flags stored with
 * it); *seq gets its sequence number. */
static int check_view(const shmc_view_t *v, const char *k, uint64_t *seq)
{
    int r = tu_check_value(v->data, v->len, k, strlen(k), seq);
    if (r)
        return r;
    if (v->flags != tu_value_flags(v->data, v->len))
        return 10;
    if (((uintptr_t)v->data & 15u) != 0)
        return 11;
    return 0;
}

/* ---- single thread ------------------------------------------------------- */

static void view_is_not_available_until_enabled(void **state)
{
    tu_fixture_t *f = *state;
    shmc_view_t v;
    shmc_near_stats_t st;
    assert_int_equal(shmc_set(f->c, KS("k"), "v", 1, 0, 0), 0);
    assert_int_equal(shmc_get_view(f->c, KS("k"), &v), -ENOTSUP);
    assert_null(v.ref_);
    shmc_view_release(&v); /* zeroed: no-op */
    assert_int_equal(shmc_near_stats(f->c, &st), -ENOTSUP);
    assert_int_equal(shmc_near_enable(f->c, 0), -EINVAL);
    assert_int_equal(shmc_near_enable(NULL, 1024), -EINVAL);
    assert_int_equal(shmc_near_disable(f->c), 0); /* not enabled: fine */
    assert_int_equal(shmc_near_enable(f->c, 1 << 20), 0);
    assert_int_equal(shmc_get_view(f->c, NULL, 1, &v), -EINVAL);
    assert_int_equal(shmc_get_view(f->c, "k", 0, &v), -EINVAL);
    assert_int_equal(shmc_get_view(NULL, KS("k"), &v), -EINVAL);
    assert_int_equal(shmc_get_view(f->c, KS("k"), NULL), -EINVAL);
    char big[300];
    memset(big, 'x', sizeof big);
    assert_int_equal(shmc_get_view(f->c, big, sizeof big, &v), -E2BIG);
    assert_int_equal(shmc_get_view(f->c, KS("k"), &v), 0);
    assert_int_equal(v.len, 1);
    assert_memory_equal(v.data, "v", 1);
    shmc_view_release(&v);
    assert_null(v.ref_);
    shmc_view_release(&v); /* twice: no-op */
    shmc_view_release(NULL);
    assert_int_equal(shmc_near_disable(f->c), 0);
    assert_int_equal(shmc_get_view(f->c, KS("k"), &v), -ENOTSUP);
}

/* A value: word, then filler up to len bytes (len 0: just the word). */
static size_t mkval(unsigned char *buf, const char *word, size_t len)
{
    size_t w = strlen(word);
    if (len < w)
        len = w;
    memcpy(buf, word, w);
    for (size_t i = w; i < len; i++)
        buf[i] = (unsigned char)('a' + i % 26);
    return len;
}

static int put(shmc_t *c, const char *k, const char *word, size_t pad, uint64_t ttl,
               uint32_t flags)
{
    unsigned char buf[4096];
    size_t n = mkval(buf, word, pad);
    return shmc_set(c, k, strlen(k), buf, n, ttl, flags);
}

/* The view holds word padded to pad bytes. */
static int holds(const shmc_view_t *v, const char *word, size_t pad)
{
    unsigned char buf[4096];
    size_t n = mkval(buf, word, pad);
    return v->len == n && memcmp(v->data, buf, n) == 0;
}

/* pad 0: small values (private copies); pad 2000: shared local copies. */
static void follow_writes(shmc_t *c, size_t pad)
{
    shmc_view_t v1, v2, v3;
    assert_int_equal(shmc_get_view(c, KS("a"), &v1), -ENOENT);
    assert_int_equal(put(c, "a", "one", pad, 0, 7), 0);
    assert_int_equal(shmc_get_view(c, KS("a"), &v1), 0);
    assert_true(holds(&v1, "one", pad));
    assert_int_equal(v1.flags, 7);
    assert_int_equal(shmc_get_view(c, KS("a"), &v2), 0);
    if (pad > SHMC_NEAR_COPY_MAX)
        assert_ptr_equal(v1.data, v2.data); /* one shared local copy */
    else
        assert_ptr_not_equal(v1.data, v2.data);
    assert_int_equal(v1.cas, v2.cas);

    /* set: the next view has the new value; held views keep their bytes */
    assert_int_equal(put(c, "a", "second", pad, 0, 8), 0);
    assert_int_equal(shmc_get_view(c, KS("a"), &v3), 0);
    assert_true(holds(&v3, "second", pad));
    assert_int_equal(v3.flags, 8);
    assert_int_not_equal(v3.cas, v1.cas);
    assert_true(holds(&v1, "one", pad));
    assert_true(holds(&v2, "one", pad));
    shmc_view_release(&v1);
    shmc_view_release(&v2);
    shmc_view_release(&v3);

    /* delete */
    assert_int_equal(shmc_get_view(c, KS("a"), &v1), 0);
    assert_int_equal(shmc_delete(c, KS("a")), 0);
    assert_int_equal(shmc_get_view(c, KS("a"), &v2), -ENOENT);
    assert_true(holds(&v1, "second", pad));
    shmc_view_release(&v1);

    /* invalidate */
    assert_int_equal(put(c, "b", "bee", pad, 0, 0), 0);
    assert_int_equal(shmc_get_view(c, KS("b"), &v1), 0);
    shmc_view_release(&v1);
    assert_int_equal(shmc_invalidate(c, KS("b")), 0);
    assert_int_equal(shmc_get_view(c, KS("b"), &v1), -ENOENT);

    /* tag invalidation */
    const char *tags[] = {"group:1"};
    unsigned char buf[4096];
    size_t n = mkval(buf, "tee", pad);
    assert_int_equal(shmc_set_tagged(c, KS("t"), buf, n, 0, 0, tags, 1), 0);
    assert_int_equal(shmc_get_view(c, KS("t"), &v1), 0);
    shmc_view_release(&v1);
    assert_int_equal(shmc_get_view(c, KS("t"), &v1), 0); /* near hit when shared */
    shmc_view_release(&v1);
    assert_int_equal(shmc_invalidate_tag(c, "group:1"), 0);
    assert_int_equal(shmc_get_view(c, KS("t"), &v1), -ENOENT);

    /* clear */
    assert_int_equal(put(c, "c", "sea", pad, 0, 0), 0);
    assert_int_equal(shmc_get_view(c, KS("c"), &v1), 0);
    shmc_view_release(&v1);
    assert_int_equal(shmc_clear(c), 0);
    assert_int_equal(shmc_get_view(c, KS("c"), &v1), -ENOENT);

    /* expiry */
    assert_int_equal(put(c, "e", "eee", pad, 30, 0), 0);
    assert_int_equal(shmc_get_view(c, KS("e"), &v1), 0);
    shmc_view_release(&v1);
    tu_sleep_ms(60);
    assert_int_equal(shmc_get_view(c, KS("e"), &v1), -ENOENT);

    /* touch keeps the value (and the CAS): still valid */
    assert_int_equal(put(c, "h", "aitch", pad, 0, 0), 0);
    assert_int_equal(shmc_get_view(c, KS("h"), &v1), 0);
    assert_int_equal(shmc_touch(c, KS("h"), 100000), 0);
    assert_int_equal(shmc_get_view(c, KS("h"), &v2), 0);
    assert_true(holds(&v2, "aitch", pad));
    shmc_view_release(&v1);
    shmc_view_release(&v2);
}

static void views_follow_every_kind_of_write_and_invalidation(void **state)
{
    tu_fixture_t *f = *state;
    shmc_t *c = f->c;
    shmc_view_t v1, v2;
    shmc_near_stats_t st;
    assert_int_equal(shmc_near_enable(c, 1 << 20), 0);
    follow_writes(c, 0);
    assert_int_equal(shmc_near_stats(c, &st), 0);
    assert_int_equal(st.near_hits, 0);
    assert_int_equal(st.misses, 6);
    follow_writes(c, 2000);
    assert_int_equal(shmc_near_stats(c, &st), 0);
    assert_true(st.near_hits >= 3);
    assert_int_equal(st.misses, 12);
    assert_int_equal(st.entries, 1); /* "h"; the others were dropped */

    /* incr rewrites the value: a new CAS */
    uint64_t res, init = 41;
    assert_int_equal(shmc_incr(c, KS("n"), 1, &init, 0, &res), 0);
    assert_int_equal(shmc_get_view(c, KS("n"), &v1), 0);
    assert_memory_equal(v1.data, "41", 2);
    assert_int_equal(shmc_incr(c, KS("n"), 1, NULL, 0, &res), 0);
    assert_int_equal(shmc_get_view(c, KS("n"), &v2), 0);
    assert_int_equal(v2.len, 2);
    assert_memory_equal(v2.data, "42", 2);
    assert_memory_equal(v1.data, "41", 2);
    shmc_view_release(&v1);
    shmc_view_release(&v2);

    /* empty value */
    assert_int_equal(shmc_set(c, KS("z"), "", 0, 0, 3), 0);
    assert_int_equal(shmc_get_view(c, KS("z"), &v1), 0);
    assert_int_equal(v1.len, 0);
    assert_int_equal(v1.flags, 3);
    shmc_view_release(&v1);
    assert_int_equal(shmc_near_disable(c), 0);
}

static void stats_count_hits_refreshes_misses_and_bytes(void **state)
{
    tu_fixture_t *f = *state;
    shmc_t *c = f->c;
    shmc_view_t v;
    shmc_near_stats_t st;
    assert_int_equal(shmc_near_enable(c, 1 << 20), 0);
    for (unsigned i = 0; i < 10; i++) {
        char k[32];
        key_of(k, sizeof k, i);
        assert_int_equal(set_value(c, k, 1000, i), 0);
    }
    for (unsigned round = 0; round < 3; round++)
        for (unsigned i = 0; i < 10; i++) {
            char k[32];
            key_of(k, sizeof k, i);
            assert_int_equal(shmc_get_view(c, k, strlen(k), &v), 0);
            assert_int_equal(check_view(&v, k, NULL), 0);
            shmc_view_release(&v);
        }
    assert_int_equal(shmc_get_view(c, KS("absent"), &v), -ENOENT);
    /* values over SHMC_NEAR_COPY_MAX are shared: one local copy */
    shmc_view_t w;
    assert_int_equal(shmc_get_view(c, KS("near-0002"), &v), 0);
    assert_int_equal(shmc_get_view(c, KS("near-0002"), &w), 0);
    assert_ptr_equal(v.data, w.data);
    shmc_view_release(&v);
    shmc_view_release(&w);
    /* and small ones are copied for each view, never kept */
    assert_int_equal(set_value(c, "small", SHMC_NEAR_COPY_MAX, 5), 0);
    assert_int_equal(shmc_get_view(c, KS("small"), &v), 0);
    assert_int_equal(shmc_get_view(c, KS("small"), &w), 0);
    assert_ptr_not_equal(v.data, w.data);
    assert_int_equal(check_view(&v, "small", NULL), 0);
    assert_int_equal(check_view(&w, "small", NULL), 0);
    shmc_view_release(&v);
    shmc_view_release(&w);
    assert_int_equal(shmc_near_stats(c, &st), 0);
    assert_int_equal(st.near_hits, 22);
    assert_int_equal(st.copies, 2);
    assert_int_equal(st.refreshes, 10);
    assert_int_equal(st.misses, 1);
    assert_int_equal(st.entries, 10);
    assert_int_equal(st.evictions, 0);
    assert_int_equal(st.max_bytes, 1 << 20);
    assert_true(st.bytes >= 10 * 1000 && st.bytes <= 10 * 1300);
    /* a rewrite is one refresh */
    assert_int_equal(set_value(c, "near-0003", 1000, 99), 0);
    assert_int_equal(shmc_get_view(c, KS("near-0003"), &v), 0);
    uint64_t seq;
    assert_int_equal(check_view(&v, "near-0003", &seq), 0);
    assert_int_equal(seq, 99);
    shmc_view_release(&v);
    assert_int_equal(shmc_near_stats(c, &st), 0);
    assert_int_equal(st.refreshes, 11);
    assert_int_equal(st.entries, 10);
    /* a delete drops the local copy */
    assert_int_equal(shmc_delete(c, KS("near-0003")), 0);
    assert_int_equal(shmc_get_view(c, KS("near-0003"), &v), -ENOENT);
    assert_int_equal(shmc_near_stats(c, &st), 0);
    assert_int_equal(st.entries, 9);
    assert_int_equal(st.misses, 2);
    assert_int_equal(shmc_near_disable(c), 0);
}

static void memory_bound_is_respected_and_hot_copies_survive(void **state)
{
    tu_fixture_t *f = *state;
    shmc_t *c = f->c;
    shmc_view_t v;
    shmc_near_stats_t st;
    const size_t max = 64 * 1024;
    assert_int_equal(shmc_near_enable(c, max), 0);
    for (unsigned i = 0; i < 300; i++) {
        char k[32];
        key_of(k, sizeof k, i);
        assert_int_equal(set_value(c, k, 1000 + (i % 7) * 300, i), 0);
    }
    /* "near-0000" is hot: read between every cold read */
    uint64_t refreshed_before = 0;
    for (unsigned pass = 0; pass < 3; pass++)
        for (unsigned i = 1; i < 300; i++) {
            char k[32];
            key_of(k, sizeof k, i);
            assert_int_equal(shmc_get_view(c, k, strlen(k), &v), 0);
            assert_int_equal(check_view(&v, k, NULL), 0);
            shmc_view_release(&v);
            assert_int_equal(shmc_get_view(c, KS("near-0000"), &v), 0);
            assert_int_equal(check_view(&v, "near-0000", NULL), 0);
            shmc_view_release(&v);
            assert_int_equal(shmc_near_stats(c, &st), 0);
            assert_true(st.bytes <= max);
            if (pass == 0 && i == 1)
                refreshed_before = st.refreshes;
        }
    assert_int_equal(shmc_near_stats(c, &st), 0);
    assert_true(st.evictions > 0);
    assert_true(st.entries < 300);
    /* the hot key was refreshed at most a few times: its bit kept it */
    assert_true(st.near_hits >= 3 * 299 - 10);
    (void)refreshed_before;

    /* a value over max/4 is served but never kept */
    assert_int_equal(set_value(c, "huge", 20000, 1), 0);
    uint64_t bytes = st.bytes;
    assert_int_equal(shmc_get_view(c, KS("huge"), &v), 0);
    assert_int_equal(check_view(&v, "huge", NULL), 0);
    assert_int_equal(shmc_near_stats(c, &st), 0);
    assert_true(st.copies >= 1);
    assert_true(st.bytes <= bytes);
    shmc_view_release(&v);

    /* shrinking the bound evicts at once; held views stay intact */
    assert_int_equal(shmc_get_view(c, KS("near-0000"), &v), 0);
    uint64_t sum = view_sum(&v);
    assert_int_equal(shmc_near_enable(c, 8 * 1024), 0);
    assert_int_equal(shmc_near_stats(c, &st), 0);
    assert_true(st.bytes <= 8 * 1024);
    assert_int_equal(view_sum(&v), sum);
    /* and survive disable (the copy belongs to the view now) */
    assert_int_equal(shmc_near_disable(c), 0);
    assert_int_equal(view_sum(&v), sum);
    assert_int_equal(check_view(&v, "near-0000", NULL), 0);
    shmc_view_release(&v);
}

/* shmc_close frees the near cache itself (ASan's leak check watches). */
static void close_frees_the_near_cache(void **state)
{
    tu_fixture_t *f = *state;
    shmc_t *c = f->c;
    shmc_view_t v, held;
    assert_int_equal(shmc_near_enable(c, 1 << 20), 0);
    for (unsigned i = 0; i < 50; i++) {
        char k[32];
        key_of(k, sizeof k, i);
        assert_int_equal(set_value(c, k, 1500, i), 0);
        assert_int_equal(shmc_get_view(c, k, strlen(k), &v), 0);
        shmc_view_release(&v);
        assert_int_equal(set_value(c, k, 1600, i + 1000), 0); /* retire one */
        assert_int_equal(shmc_get_view(c, k, strlen(k), &v), 0);
        shmc_view_release(&v);
    }
    assert_int_equal(shmc_get_view(c, KS("near-0007"), &held), 0);
    shmc_close(c);
    f->c = NULL;
    assert_int_equal(check_view(&held, "near-0007", NULL), 0);
    shmc_view_release(&held);
}

/* ---- remote invalidation ---------------------------------------------------
 *
 * A writer process rewrites (growing sequence numbers) and deletes NKEYS
 * keys; after each write returns it publishes, in shared memory, what every
 * later reader must see: word = seq << 1 | deleted. Reader threads in the
 * parent load the word, then take a view: the view must be a whole value of
 * that key, never older than the word (a set of seq has returned: seq' >=
 * seq; a delete after seq has returned: a miss, or seq' > seq). Readers hold
 * several views at a time and check, at release, that their bytes did not
 * change.
 */
#define R_KEYS    24
#define R_THREADS 3
#define R_HOLD    6
#define R_MS      2500

struct rshared {
    _Atomic uint64_t word[R_KEYS];
    _Atomic int stop;
};

struct rworker {
    shmc_t *c;
    struct rshared *sh;
    int id;
    int error;
    int detail;
    uint64_t views, misses, held_checks;
};

static void *reader_main(void *arg)
{
    struct rworker *w = arg;
    shmc_view_t held[R_HOLD];
    uint64_t sums[R_HOLD];
    char hkeys[R_HOLD][32];
    memset(held, 0, sizeof held);
    uint64_t s = tu_seed((uint64_t)w->id + 77);
    unsigned n = 0;
    while (!atomic_load(&w->sh->stop) && !w->error) {
        uint64_t r = tu_rand(&s);
        unsigned ki = (unsigned)(r % R_KEYS);
        char k[32];
        key_of(k, sizeof k, ki);
        uint64_t word = atomic_load_explicit(&w->sh->word[ki], memory_order_acquire);
        shmc_view_t v;
        int rc = shmc_get_view(w->c, k, strlen(k), &v);
        w->views++;
        if (rc == -ENOENT) {
            w->misses++;
            continue;
        }
        if (rc != 0) {
            w->error = 1;
            w->detail = rc;
            break;
        }
        uint64_t seq = 0;
        int bad = check_view(&v, k, &seq);
        if (bad) {
            w->error = 2;
            w->detail = bad;
        } else if (seq < (word >> 1) || ((word & 1) && seq == (word >> 1))) {
            w->error = 3; /* an old value after its overwrite/delete returned */
            w->detail = (int)ki;
        }
        /* hold it for a while, replacing the oldest */
        unsigned slot = n++ % R_HOLD;
        if (held[slot].ref_) {
            if (view_sum(&held[slot]) != sums[slot] || check_view(&held[slot], hkeys[slot], NULL))
                w->error = 4; /* bytes changed under a held view */
            w->held_checks++;
            shmc_view_release(&held[slot]);
        }
        held[slot] = v;
        sums[slot] = view_sum(&v);
        memcpy(hkeys[slot], k, sizeof k);
    }
    for (unsigned i = 0; i < R_HOLD; i++) {
        if (held[i].ref_ && (view_sum(&held[i]) != sums[i] || check_view(&held[i], hkeys[i], NULL)))
            w->error = 4;
        shmc_view_release(&held[i]);
    }
    return NULL;
}

struct wargs {
    const char *name;
    struct rshared *sh;
};

static int writer_main(void *arg)
{
    struct wargs *a = arg;
    shmc_t *c = NULL;
    if (shmc_open(a->name, 0, NULL, &c) != 0)
        return 20;
    uint64_t s = tu_seed(999), seq[R_KEYS];
    for (unsigned i = 0; i < R_KEYS; i++)
        seq[i] = (atomic_load(&a->sh->word[i]) >> 1);
    int rc = 0;
    while (!atomic_load(&a->sh->stop)) {
        uint64_t r = tu_rand(&s);
        unsigned ki = (unsigned)(r % R_KEYS);
        char k[32];
        key_of(k, sizeof k, ki);
        if ((r >> 40) % 8 == 0) {
            int d = shmc_delete(c, k, strlen(k));
            if (d != 0 && d != -ENOENT) {
                rc = 21;
                break;
            }
            atomic_store_explicit(&a->sh->word[ki], seq[ki] << 1 | 1u, memory_order_release);
        } else {
            seq[ki]++;
            if (set_value(c, k, (size_t)((r >> 20) % 6000), seq[ki]) != 0) {
                rc = 22;
                break;
            }
            atomic_store_explicit(&a->sh->word[ki], seq[ki] << 1, memory_order_release);
        }
        if ((r >> 50) % 4 == 0)
            sched_yield();
    }
    shmc_close(c);
    return rc;
}

static void no_view_shows_a_foreign_torn_or_removed_value_under_remote_writes(void **state)
{
    tu_fixture_t *f = *state;
    shmc_t *c = f->c;
    struct rshared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
                              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(sh != MAP_FAILED);
    memset(sh, 0, sizeof(*sh));
    for (unsigned i = 0; i < R_KEYS; i++) {
        char k[32];
        key_of(k, sizeof k, i);
        assert_int_equal(set_value(c, k, 100, 1), 0);
        atomic_store(&sh->word[i], 1u << 1);
    }
    /* small enough that evictions happen too */
    assert_int_equal(shmc_near_enable(c, 48 * 1024), 0);
    struct wargs wa = {f->name, sh};
    pid_t pid = tu_fork(writer_main, &wa);
    assert_true(pid > 0);
    pthread_t th[R_THREADS];
    struct rworker w[R_THREADS];
    for (int i = 0; i < R_THREADS; i++) {
        w[i] = (struct rworker){.c = c, .sh = sh, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, reader_main, &w[i]), 0);
    }
    tu_sleep_ms(R_MS);
    atomic_store(&sh->stop, 1);
    uint64_t views = 0, misses = 0, checks = 0;
    for (int i = 0; i < R_THREADS; i++) {
        pthread_join(th[i], NULL);
        if (w[i].error)
            fprintf(stderr, "reader %d: error %d detail %d\n", i, w[i].error, w[i].detail);
        views += w[i].views;
        misses += w[i].misses;
        checks += w[i].held_checks;
    }
    int wrc = tu_wait(pid);
    shmc_near_stats_t st;
    assert_int_equal(shmc_near_stats(c, &st), 0);
    fprintf(stderr, "views %llu misses %llu held-checks %llu near_hits %llu refreshes %llu "
            "evictions %llu\n", (unsigned long long)views, (unsigned long long)misses,
            (unsigned long long)checks, (unsigned long long)st.near_hits,
            (unsigned long long)st.refreshes, (unsigned long long)st.evictions);
    assert_int_equal(wrc, 0);
    for (int i = 0; i < R_THREADS; i++)
        assert_int_equal(w[i].error, 0);
    assert_true(views > 1000);
    assert_true(misses > 0);
    assert_true(st.near_hits > 0 && st.refreshes > 0);
    assert_true(st.bytes <= 48 * 1024);
    munmap(sh, sizeof(*sh));
    assert_int_equal(shmc_near_disable(c), 0);
}

/* ---- thread churn ------------------------------------------------------------ */

#define CH_ROUNDS  40
#define CH_THREADS 4
#define CH_KEYS    16

struct chworker {
    shmc_t *c;
    int id;
    int error;
    shmc_view_t leftover; /* handed to the main thread, which releases it */
    char lkey[32];
};

static void *churn_main(void *arg)
{
    struct chworker *w = arg;
    uint64_t s = tu_seed((uint64_t)w->id + 5);
    for (int i = 0; i < 300 && !w->error; i++) {
        char k[32];
        key_of(k, sizeof k, (unsigned)(tu_rand(&s) % CH_KEYS));
        shmc_view_t v;
        int rc = shmc_get_view(w->c, k, strlen(k), &v);
        if (rc == -ENOENT)
            continue;
        if (rc || check_view(&v, k, NULL))
            w->error = rc ? rc : 1;
        if (i == 150 && !w->leftover.ref_) {
            w->leftover = v;
            memcpy(w->lkey, k, sizeof k);
        } else {
            shmc_view_release(&v);
        }
    }
    return NULL;
}

static void threads_come_and_go_while_using_views(void **state)
{
    tu_fixture_t *f = *state;
    shmc_t *c = f->c;
    assert_int_equal(shmc_near_enable(c, 32 * 1024), 0);
    uint64_t seq = 1;
    for (int round = 0; round < CH_ROUNDS; round++) {
        pthread_t th[CH_THREADS];
        struct chworker w[CH_THREADS];
        for (int i = 0; i < CH_THREADS; i++) {
            w[i] = (struct chworker){.c = c, .id = round * CH_THREADS + i};
            assert_int_equal(pthread_create(&th[i], NULL, churn_main, &w[i]), 0);
        }
        for (unsigned i = 0; i < CH_KEYS; i++) {
            char k[32];
            key_of(k, sizeof k, i);
            if ((round + (int)i) % 5 == 0)
                (void)shmc_delete(c, k, strlen(k));
            else
                assert_int_equal(set_value(c, k, 200 + i * 100, seq++), 0);
        }
        for (int i = 0; i < CH_THREADS; i++) {
            pthread_join(th[i], NULL);
            assert_int_equal(w[i].error, 0);
            if (w[i].leftover.ref_) {
                assert_int_equal(check_view(&w[i].leftover, w[i].lkey, NULL), 0);
                shmc_view_release(&w[i].leftover);
            }
        }
    }
    shmc_near_stats_t st;
    assert_int_equal(shmc_near_stats(c, &st), 0);
    assert_true(st.near_hits + st.refreshes > 0);
    assert_true(st.bytes <= 32 * 1024);
    assert_int_equal(shmc_near_disable(c), 0);
}

/* ---- fork ------------------------------------------------------------------ */

struct fork_ctx {
    shmc_t *c;
    shmc_view_t inherited; /* taken by the parent before fork() */
    uint64_t inherited_sum;
    _Atomic int stop;
};

static void *fork_child_thread(void *arg)
{
    struct fork_ctx *x = arg;
    for (int i = 0; i < 200; i++) {
        char k[32];
        key_of(k, sizeof k, (unsigned)(i % 8));
        shmc_view_t v;
        int rc = shmc_get_view(x->c, k, strlen(k), &v);
        if (rc || check_view(&v, k, NULL))
            return (void *)1;
        shmc_view_release(&v);
    }
    return NULL;
}

static int fork_child_main(void *arg)
{
    struct fork_ctx *x = arg;
    /* the view inherited from the parent is intact and releasable */
    if (view_sum(&x->inherited) != x->inherited_sum || check_view(&x->inherited, "near-0000", NULL))
        return 30;
    shmc_view_release(&x->inherited);
    for (unsigned i = 0; i < 8; i++) {
        char k[32];
        key_of(k, sizeof k, i);
        shmc_view_t v;
        if (shmc_get_view(x->c, k, strlen(k), &v) != 0 || check_view(&v, k, NULL))
            return 31;
        shmc_view_release(&v);
    }
    /* a write in the child is seen by the child's next view */
    if (set_value(x->c, "near-0001", 2000, 1000 + (uint64_t)getpid()) != 0)
        return 32;
    shmc_view_t v;
    uint64_t seq = 0;
    if (shmc_get_view(x->c, KS("near-0001"), &v) != 0 || check_view(&v, "near-0001", &seq) ||
        seq != 1000 + (uint64_t)getpid())
        return 33;
    shmc_view_release(&v);
    /* threads in the child (registration, call_rcu worker of the child) */
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        if (pthread_create(&th[i], NULL, fork_child_thread, x) != 0)
            return 34;
    int bad = 0;
    for (int i = 0; i < 2; i++) {
        void *ret;
        pthread_join(th[i], &ret);
        bad |= ret != NULL;
    }
    if (bad)
        return 35;
    /* replacements queue call_rcu work; disable waits for it (rcu_barrier):
     * hangs (and the alarm kills us) if the child's call_rcu worker is dead */
    for (unsigned i = 0; i < 8; i++) {
        char k[32];
        key_of(k, sizeof k, i);
        if (set_value(x->c, k, 2500, 5000 + i) != 0 || shmc_get_view(x->c, k, strlen(k), &v) != 0)
            return 36;
        shmc_view_release(&v);
    }
    if (shmc_near_disable(x->c) != 0)
        return 37;
    return 0;
}

static void *fork_parent_reader(void *arg)
{
    struct fork_ctx *x = arg;
    uint64_t n = 0;
    while (!atomic_load(&x->stop)) {
        char k[32];
        key_of(k, sizeof k, (unsigned)(n++ % 8));
        shmc_view_t v;
        int rc = shmc_get_view(x->c, k, strlen(k), &v);
        if (rc || check_view(&v, k, NULL))
            return (void *)1;
        shmc_view_release(&v);
    }
    return NULL;
}

static void fork_child_uses_the_inherited_handle_and_views(void **state)
{
#if defined(__SANITIZE_THREAD__)
    /* TSan cannot follow threads started in the child of a multi-threaded
     * fork (liburcu's new call_rcu worker reuses a dead thread's stack:
     * "dup thread with used id", exit 66). Covered by the plain and ASan
     * runs. */
    skip();
#endif
    tu_fixture_t *f = *state;
    shmc_t *c = f->c;
    assert_int_equal(shmc_near_enable(c, 1 << 20), 0);
    for (unsigned i = 0; i < 8; i++) {
        char k[32];
        key_of(k, sizeof k, i);
        assert_int_equal(set_value(c, k, 2000, i), 0);
    }
    static struct fork_ctx x;
    memset(&x, 0, sizeof x);
    x.c = c;
    assert_int_equal(shmc_get_view(c, KS("near-0000"), &x.inherited), 0);
    x.inherited_sum = view_sum(&x.inherited);
    /* readers keep going in the parent while it forks */
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, fork_parent_reader, &x), 0);
    for (int round = 0; round < 4; round++) {
        pid_t pid = tu_fork(fork_child_main, &x);
        assert_true(pid > 0);
        assert_int_equal(tu_wait(pid), 0);
        /* the child's last write is seen by the parent's next view */
        shmc_view_t v;
        uint64_t seq = 0;
        assert_int_equal(shmc_get_view(c, KS("near-0001"), &v), 0);
        assert_int_equal(check_view(&v, "near-0001", &seq), 0);
        assert_int_equal(seq, 5001);
        assert_int_equal(set_value(c, "near-0001", 2000, 1), 0);
        shmc_view_release(&v);
    }
    atomic_store(&x.stop, 1);
    for (int i = 0; i < 2; i++) {
        void *ret;
        pthread_join(th[i], &ret);
        assert_null(ret);
    }
    assert_int_equal(view_sum(&x.inherited), x.inherited_sum);
    shmc_view_release(&x.inherited);
    /* the parent's call_rcu worker still works after the forks */
    assert_int_equal(shmc_near_disable(c), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup, tu_teardown)

int main(void)
{
    alarm(120); /* a hang (e.g. a grace period that never ends) fails the run */
    const struct CMUnitTest tests[] = {
        T(view_is_not_available_until_enabled),
        T(views_follow_every_kind_of_write_and_invalidation),
        T(stats_count_hits_refreshes_misses_and_bytes),
        T(memory_bound_is_respected_and_hot_copies_survive),
        T(close_frees_the_near_cache),
        T(no_view_shows_a_foreign_torn_or_removed_value_under_remote_writes),
        T(threads_come_and_go_while_using_views),
        T(fork_child_uses_the_inherited_handle_and_views),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
