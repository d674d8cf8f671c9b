/*
 * lock.c - stripe locks and their recovery.
 *
 * Invariant: a process that dies holding a stripe lock costs the others at
 * most that stripe's entries and a few milliseconds. The locks are robust,
 * process-shared mutexes: the kernel hands the next locker EOWNERDEAD. The
 * holder sets the stripe's `dirty` word while it changes anything; if the
 * dead holder left it set, its half-done change cannot be trusted and the
 * stripe is wiped (every bucket emptied through its seqlock, the item log
 * reset); otherwise the stripe is intact and only marked consistent again.
 *
 * Invariant: a lock that is never released (a live but stuck holder, or a
 * corrupt lock word that names no one) costs a worker one bounded wait,
 * never one per operation:
 *
 *   - The first wait that times out marks the stripe *suspect* in this
 *     handle, and at once samples every other stripe's lock for
 *     SHMC_LOCK_CENSUS_MS: a lock that stays taken, with the same owner
 *     word, through the whole window is marked suspect too. So however many
 *     stripes are bad, a worker waits SHMC_LOCK_TIMEOUT_MS plus the window,
 *     once.
 *   - An operation on a suspect stripe only tries the lock (no wait): it
 *     fails at once with -EDEADLK unless the lock is free (the stripe is
 *     healthy again) or its owner word changed since it was marked (some
 *     live process moved it: back to a normal bounded wait).
 *   - Suspicion is process-local state in the handle, not a flag in the
 *     segment: a flag in a segment whose lock words are garbage is itself
 *     untrusted (a stray write could set it and stop every process, or clear
 *     it and make every process pay the bound again), and each process must
 *     find out for itself that a lock is free again anyway.
 *
 * Taking over a lock whose owner does not exist. The kernel releases a
 * robust mutex of a dying thread by rewriting its futex word to
 * OWNER_DIED (keeping the waiters bit); the next locker then gets
 * EOWNERDEAD. It cannot do that for a word that names a thread which never
 * held the lock (a corrupt word), or whose owner unmapped the segment
 * before dying. For those, lock.c does what the kernel would have done,
 * but only when it can show that the owner named by the word does not
 * exist:
 *
 *   - the word's owner field is 0 (nobody; only garbage bits set), or is
 *     the calling thread (which holds no stripe lock while it asks for one:
 *     stripe locks never nest), or
 *   - no thread with that id exists in the caller's pid namespace
 *     (sched_getscheduler answers ESRCH; it works on thread ids, needs no
 *     permission and no /proc), and every live row of the process table -
 *     liveness from the kernel-held OFD lock, never from a pid - records the
 *     caller's pid namespace, so the id cannot belong to a process in
 *     another namespace.
 *
 *   Pid reuse can only make the check more conservative: a reused id looks
 *   alive and the lock is left alone. The forced take-over always wipes the
 *   stripe (its lock word was wrong, so nothing else of it is trusted).
 *
 *   The futex word is read through glibc's pthread_mutex_t (__data.__lock,
 *   __data.__kind). That layout is glibc's, but the word's meaning (owner
 *   tid | FUTEX_WAITERS | FUTEX_OWNER_DIED) is the kernel's robust-futex
 *   ABI. Each process verifies the layout once at run time on a private
 *   mutex (locking stores our tid there, the take-over yields EOWNERDEAD);
 *   if anything differs, take-over and owner-word comparisons are switched
 *   off and only the bounded waits and suspicion remain.
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* Per stripe, per handle: what this process learnt about the stripe's lock. */
struct shm_lockstate {
    _Atomic uint32_t suspect;   /* 1: the last wait timed out */
    _Atomic uint32_t word;      /* owner word when it was marked */
    _Atomic uint64_t probe_ms;  /* last owner check of a suspect lock */
};

#define SHMC_LOCK_PROBE_MS 1000u  /* owner checks of a suspect lock, at most */
#define SHMC_LOCK_OWNER_CHECK_MS (SHMC_LOCK_TIMEOUT_MS >= 100u ? 10u : 1u)
#define WORD_OWNER (FUTEX_TID_MASK | FUTEX_OWNER_DIED)

static pthread_once_t g_layout_once = PTHREAD_ONCE_INIT;
static bool g_layout_ok;   /* glibc's mutex layout is the one we checked */
static int g_kind;         /* __data.__kind of our robust, shared mutexes */

int shm_lock_init(pthread_mutex_t *m)
{
    pthread_mutexattr_t a;
    int r = pthread_mutexattr_init(&a);
    if (r)
        return -r;
    r = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    if (!r)
        r = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    if (!r)
        r = pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
    return -r;
}

static int *futex_word(pthread_mutex_t *m) { return &m->__data.__lock; }

static uint32_t load_word(pthread_mutex_t *m)
{
    return (uint32_t)__atomic_load_n(futex_word(m), __ATOMIC_ACQUIRE);
}

/* What the kernel does for a robust futex whose owner died: owner field
 * cleared, OWNER_DIED set, waiters bit kept, one waiter woken. Only if the
 * word is still `seen`. */
static bool mark_owner_died(pthread_mutex_t *m, uint32_t seen)
{
    int expect = (int)seen;
    int want = (int)((seen & FUTEX_WAITERS) | FUTEX_OWNER_DIED);
    if (!__atomic_compare_exchange_n(futex_word(m), &expect, want, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE))
        return false;
    syscall(SYS_futex, futex_word(m), FUTEX_WAKE, 1, NULL, NULL, 0);
    return true;
}

/* Check on a private mutex that the fields we read mean what we think. */
static void layout_selftest(void)
{
    pthread_mutex_t m;
    if (shm_lock_init(&m) != 0)
        return;
    uint32_t tid = (uint32_t)syscall(SYS_gettid);
    bool ok = load_word(&m) == 0 && pthread_mutex_lock(&m) == 0;
    if (ok) {
        ok = (load_word(&m) & FUTEX_TID_MASK) == tid;
        ok = pthread_mutex_unlock(&m) == 0 && ok && load_word(&m) == 0;
    }
    /* A word naming a thread id above any pid_max (2^22) cannot have an
     * owner: the take-over must make the next trylock see EOWNERDEAD. */
    if (ok) {
        __atomic_store_n(futex_word(&m), 0x3fffffff, __ATOMIC_RELEASE);
        ok = mark_owner_died(&m, 0x3fffffff) && pthread_mutex_trylock(&m) == EOWNERDEAD &&
             pthread_mutex_consistent(&m) == 0 && pthread_mutex_unlock(&m) == 0 &&
             load_word(&m) == 0;
    }
    g_kind = m.__data.__kind;
    pthread_mutex_destroy(&m);
    g_layout_ok = ok;
}

static bool layout_ok(void)
{
    pthread_once(&g_layout_once, layout_selftest);
    return g_layout_ok;
}

uint32_t shm_pidns(void)
{
    struct stat sb;
    if (stat("/proc/self/ns/pid", &sb) != 0 || sb.st_ino == 0 || sb.st_ino > UINT32_MAX)
        return 0;
    return (uint32_t)sb.st_ino;
}

/* Whether the owner named by the lock word of stripe s provably does not
 * exist (see the top of the file). `w` is the word as read. */
static bool owner_gone(shmc_t *c, uint32_t s, uint32_t w)
{
    if (!layout_ok() || c->stripes[s].lock.__data.__kind != g_kind)
        return false;
    uint32_t tid = w & FUTEX_TID_MASK;
    if (w & FUTEX_OWNER_DIED)
        return false; /* the next trylock gets EOWNERDEAD by itself */
    if (tid == 0 || tid == (uint32_t)syscall(SYS_gettid))
        return true;
    /* The cheap test first: a thread that exists ends the question. */
    errno = 0;
    if (sched_getscheduler((pid_t)tid) != -1 || errno != ESRCH)
        return false;
    uint32_t ns = shm_pidns();
    return ns != 0 && shm_procs_all_in_pidns(c, ns);
}

/* Take over stripe s's lock if its owner provably does not exist. */
static bool take_over(shmc_t *c, uint32_t s)
{
    pthread_mutex_t *m = &c->stripes[s].lock;
    uint32_t w = layout_ok() ? load_word(m) : 0;
    if (w == 0 || !owner_gone(c, s, w))
        return false;
    /* Nobody holds the lock, so nobody else writes dirty: make the next
     * EOWNERDEAD wipe the stripe. */
    ST(&c->stripes[s].dirty, 1);
    return mark_owner_died(m, w);
}

int shm_locks_init(shmc_t *c)
{
    (void)layout_ok(); /* before any lock: shm_lock reads its result directly */
    c->lockst = calloc(c->nstripes, sizeof(*c->lockst));
    return c->lockst ? 0 : -ENOMEM;
}

void shm_locks_free(shmc_t *c)
{
    free(c->lockst);
    c->lockst = NULL;
}

bool shm_stripe_suspect(const shmc_t *c, uint32_t s)
{
    return atomic_load_explicit(&c->lockst[s].suspect, memory_order_relaxed) != 0;
}

static void set_suspect(shmc_t *c, uint32_t s, uint32_t w, bool on)
{
    struct shm_lockstate *ls = &c->lockst[s];
    atomic_store_explicit(&ls->word, w, memory_order_relaxed);
    atomic_store_explicit(&ls->probe_ms, shm_now_ms(), memory_order_relaxed);
    atomic_store_explicit(&ls->suspect, on, memory_order_relaxed);
}

void shm_wipe_stripe_locked(shmc_t *c, uint32_t stripe)
{
    struct shm_stripe *st = &c->stripes[stripe];
    uint64_t lost = 0;
    for (uint64_t b = stripe; b < c->nbuckets; b += c->nstripes) {
        struct shm_bucket *bk = &c->buckets[b];
        unsigned used = 0;
        for (unsigned i = 0; i < SHMC_SLOTS_PER_BUCKET; i++)
            used += (LD(&bk->off[i]) | LD(&bk->tag[i])) != 0;
        if (!used && !(LD(&bk->seq) & 1) && !(LD(&bk->ovf) & OVF_COUNT) && !LD(&bk->hot))
            continue;
        /* Odd (possibly already odd from the dead writer), change, even:
         * any reader that started before sees the sequence move. Every key
         * homed here lived in this stripe, so ovf restarts at 0. */
        uint32_t odd = shm_bucket_begin(bk);
        for (unsigned i = 0; i < SHMC_SLOTS_PER_BUCKET; i++)
            shm_slot_clear_fields(bk, i);
        ST(&bk->ovf, 0);
        ST(&bk->hot, 0);
        shm_bucket_end(bk, odd);
        lost += used;
    }
    shm_arena_reset_locked(c, stripe);
    shm_count_reset_locked(st, 0, 0);
    BUMP(&st->st.recovered_lost, lost);
}

static int lock_result(shmc_t *c, uint32_t stripe, int r)
{
    struct shm_stripe *st = &c->stripes[stripe];
    if (r == 0)
        return 0;
    if (r == EOWNERDEAD) {
        if (LD(&st->dirty))
            shm_wipe_stripe_locked(c, stripe);
        ST(&st->dirty, 0);
        BUMP(&st->st.lock_recoveries, 1);
        pthread_mutex_consistent(&st->lock);
        return 0;
    }
    if (r == ETIMEDOUT || r == ENOTRECOVERABLE || r == EBUSY)
        return -EDEADLK;
    return r == EINVAL ? -EBADMSG : -r;
}

static int timed_lock(pthread_mutex_t *m, uint64_t ms)
{
#if defined(__SANITIZE_THREAD__)
    /* ThreadSanitizer does not intercept pthread_mutex_clocklock (it would
     * report every unlock as unpaired); its builds wait on the wall clock
     * instead, which only changes how a jump of the wall clock stretches
     * the bound. */
    const clockid_t clk = CLOCK_REALTIME;
#else
    const clockid_t clk = CLOCK_MONOTONIC;
#endif
    struct timespec ts;
    clock_gettime(clk, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
#if defined(__SANITIZE_THREAD__)
    return pthread_mutex_timedlock(m, &ts);
#else
    return pthread_mutex_clocklock(m, clk, &ts);
#endif
}

static uint32_t owner_word(pthread_mutex_t *m)
{
    return layout_ok() ? load_word(m) & WORD_OWNER : 0;
}

/*
 * After a timeout: find every other stripe whose lock stays taken, by the
 * same owner word, through SHMC_LOCK_CENSUS_MS of sampling, and mark it
 * suspect, so that the next operation on it does not wait the bound again.
 * A lock seen free (or taken by someone else) even once is left alone.
 * Only one thread of a handle runs it at a time; the others skip it.
 */
static void census(shmc_t *c, uint32_t except)
{
    uint32_t n = c->nstripes;
    if (n == 0)
        return;
    uint32_t *word = calloc(n, sizeof(*word));
    uint8_t *busy = calloc(n, 1);
    if (!word || !busy)
        goto out;
    if (atomic_exchange(&c->census_running, 1u))
        goto out;
    uint64_t start = shm_now_ms();
    for (unsigned pass = 0;; pass++) {
        uint32_t left = 0;
        for (uint32_t s = 0; s < n; s++) {
            if (s == except || (pass && !busy[s]) || shm_stripe_suspect(c, s))
                continue;
            pthread_mutex_t *m = &c->stripes[s].lock;
            int r = pthread_mutex_trylock(m);
            if (r == 0 || r == EOWNERDEAD) {
                if (lock_result(c, s, r) == 0)
                    pthread_mutex_unlock(m);
                busy[s] = 0;
                continue;
            }
            uint32_t w = owner_word(m);
            if (r != EBUSY || (pass && w != word[s])) {
                busy[s] = 0; /* moving, or failing at once anyway */
                continue;
            }
            busy[s] = 1;
            word[s] = w;
            left++;
        }
        if (!left || shm_now_ms() - start >= SHMC_LOCK_CENSUS_MS)
            break;
        struct timespec ts = {0, 1000000L};
        nanosleep(&ts, NULL);
    }
    for (uint32_t s = 0; s < n; s++)
        if (busy[s] && !take_over(c, s))
            set_suspect(c, s, word[s], true);
    atomic_store(&c->census_running, 0u);
out:
    free(word);
    free(busy);
}

/* A suspect stripe: try, never wait, unless the lock has moved. */
static int lock_suspect(shmc_t *c, uint32_t s)
{
    struct shm_lockstate *ls = &c->lockst[s];
    pthread_mutex_t *m = &c->stripes[s].lock;
    int r = pthread_mutex_trylock(m);
    if (r == EBUSY) {
        uint64_t now = shm_now_ms();
        if (now - atomic_load_explicit(&ls->probe_ms, memory_order_relaxed) >= SHMC_LOCK_PROBE_MS) {
            atomic_store_explicit(&ls->probe_ms, now, memory_order_relaxed);
            if (take_over(c, s))
                r = pthread_mutex_trylock(m);
        }
    }
    if (r == EBUSY && layout_ok() &&
        owner_word(m) != atomic_load_explicit(&ls->word, memory_order_relaxed)) {
        /* Someone alive moved it since: worth a normal bounded wait. */
        r = timed_lock(m, SHMC_LOCK_TIMEOUT_MS);
        if (r == ETIMEDOUT) {
            atomic_fetch_add(&c->lock_timeouts, 1u);
            set_suspect(c, s, owner_word(m), true);
        }
    }
    if (r == 0 || r == EOWNERDEAD)
        set_suspect(c, s, 0, false);
    return lock_result(c, s, r);
}

int shm_lock(shmc_t *c, uint32_t stripe)
{
    pthread_mutex_t *m = &c->stripes[stripe].lock;
    /* A lock whose kind was overwritten may still "work" - as a mutex that
     * is no longer robust or process-shared, which would break recovery
     * silently. It is corrupt: refuse it (repair rebuilds it). */
    if (unlikely(g_layout_ok && m->__data.__kind != g_kind))
        return -EBADMSG;
    if (unlikely(atomic_load_explicit(&c->lockst[stripe].suspect, memory_order_relaxed)))
        return lock_suspect(c, stripe);
    int r = pthread_mutex_trylock(m);
    if (r == EBUSY) {
        /* Normal contention ends within the first few milliseconds; a lock
         * still taken then is worth one owner check, so that a lock whose
         * owner does not exist is recovered in milliseconds, not after the
         * whole bound. */
        r = timed_lock(m, SHMC_LOCK_OWNER_CHECK_MS);
        if (r == ETIMEDOUT && take_over(c, stripe))
            r = pthread_mutex_trylock(m);
        if (r == ETIMEDOUT || r == EBUSY)
            r = timed_lock(m, SHMC_LOCK_TIMEOUT_MS - SHMC_LOCK_OWNER_CHECK_MS);
        if (r == ETIMEDOUT) {
            atomic_fetch_add(&c->lock_timeouts, 1u);
            if (take_over(c, stripe))
                r = pthread_mutex_trylock(m);
            if (r != 0 && r != EOWNERDEAD) {
                set_suspect(c, stripe, owner_word(m), true);
                census(c, stripe);
            }
        }
    }
    return lock_result(c, stripe, r);
}

/* Lock m, waiting at most SHMC_LOCK_TIMEOUT_MS; pthread's result (0,
 * EOWNERDEAD, ETIMEDOUT, ...). Shared with the journal's lock (journal.c). */
int shm_mutex_lock_bounded(pthread_mutex_t *m)
{
    int r = pthread_mutex_trylock(m);
    return r == EBUSY ? timed_lock(m, SHMC_LOCK_TIMEOUT_MS) : r;
}

void shm_unlock(shmc_t *c, uint32_t stripe)
{
    pthread_mutex_unlock(&c->stripes[stripe].lock);
}

/*
 * For repair: find the stripes whose lock cannot be taken now - suspect
 * already, or taken through a whole census window, or of a corrupt kind -
 * without waiting the full bound. Sets bad[s] = 1 for each. Returns how
 * many.
 */
uint32_t shm_locks_find_bad(shmc_t *c, uint8_t *bad)
{
    uint32_t n = 0;
    for (uint32_t s = 0; s < c->nstripes; s++) {
        pthread_mutex_t *m = &c->stripes[s].lock;
        bad[s] = 0;
        if (layout_ok() && m->__data.__kind != g_kind) {
            bad[s] = 1;
            continue;
        }
        int r = pthread_mutex_trylock(m);
        if (r == 0 || r == EOWNERDEAD) {
            if (lock_result(c, s, r) == 0)
                pthread_mutex_unlock(m);
            set_suspect(c, s, 0, false);
        } else if (r != EBUSY) {
            bad[s] = 1;
        }
    }
    census(c, UINT32_MAX);
    for (uint32_t s = 0; s < c->nstripes; s++) {
        bad[s] = (uint8_t)(bad[s] | shm_stripe_suspect(c, s));
        n += bad[s];
    }
    return n;
}

/* Rebuild stripe s's lock from nothing and drop its entries. Only when no
 * other process can be using the lock (repair checks that, or was forced). */
int shm_lock_reinit(shmc_t *c, uint32_t s)
{
    pthread_mutex_t *m = &c->stripes[s].lock;
    memset(m, 0, sizeof(*m));
    int r = shm_lock_init(m);
    if (r)
        return r;
    r = pthread_mutex_lock(m);
    if (r)
        return -r;
    shm_wipe_stripe_locked(c, s);
    ST(&c->stripes[s].dirty, 0);
    pthread_mutex_unlock(m);
    set_suspect(c, s, 0, false);
    return 0;
}
