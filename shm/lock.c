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
 * Waits are bounded: a lock that a live but stuck process (or a corrupt
 * segment) never releases yields -EDEADLK instead of a hang.
 */
#include <errno.h>
#include <time.h>

#include "internal.h"
#include "testhook.h"

void (*shmc__test_hook)(int point, unsigned stripe);

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
    if (r == ETIMEDOUT)
        return -EDEADLK;
    if (r == ENOTRECOVERABLE)
        return -EDEADLK;
    return r == EINVAL ? -EBADMSG : -r;
}

int shm_lock(shmc_t *c, uint32_t stripe)
{
    return lock_result(c, stripe, shm_mutex_lock_bounded(&c->stripes[stripe].lock));
}

/* Lock m, waiting at most SHMC_LOCK_TIMEOUT_MS; pthread's result (0,
 * EOWNERDEAD, ETIMEDOUT, ...). Shared with the journal's lock (journal.c). */
int shm_mutex_lock_bounded(pthread_mutex_t *m)
{
    int r = pthread_mutex_trylock(m);
    if (r == EBUSY) {
#if defined(__SANITIZE_THREAD__)
        /* ThreadSanitizer does not intercept pthread_mutex_clocklock (it
         * would report every unlock as unpaired); its builds wait on the
         * wall clock instead, which only changes how a jump of the wall
         * clock stretches the bound. */
        const clockid_t clk = CLOCK_REALTIME;
#else
        const clockid_t clk = CLOCK_MONOTONIC;
#endif
        struct timespec ts;
        clock_gettime(clk, &ts);
        ts.tv_sec += SHMC_LOCK_TIMEOUT_MS / 1000;
        ts.tv_nsec += (long)(SHMC_LOCK_TIMEOUT_MS % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
#if defined(__SANITIZE_THREAD__)
        r = pthread_mutex_timedlock(m, &ts);
#else
        r = pthread_mutex_clocklock(m, clk, &ts);
#endif
    }
    return r;
}

void shm_unlock(shmc_t *c, uint32_t stripe)
{
    pthread_mutex_unlock(&c->stripes[stripe].lock);
}
