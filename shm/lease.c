/*
 * lease.c - leases (against stale sets and stampedes) and invalidate
 * (stale-while-revalidate).
 *
 * Invariant: a value computed under a lease is stored only if nothing that
 * could make it stale happened to the key since the lease was handed out.
 * The lease lives in the key's slot (token + the tag_seq at grant time),
 * under the stripe lock like every other slot change:
 *
 *  - a miss with no unexpired lease on the key grants one: the slot keeps
 *    its stale value if it has one, else a placeholder slot (key, no value,
 *    SLOT_NOVALUE) is made for it; misses meanwhile get -EBUSY;
 *  - delete drops the slot (and its lease); invalidate and every store clear
 *    the lease; clear changes the generation the slot was written in; a tag
 *    invalidation raises a tag word above the lease's tag_seq;
 *  - shmc_set_leased checks all of that under the lock and stores only if
 *    the token is still the slot's, the generation current and no relevant
 *    tag newer; storing clears the token, so a lease is spent once, and
 *    so does a refusal (the next miss gets a fresh lease at once).
 *
 * A token is unique in the segment's life (a per-stripe counter times 1024
 * plus the stripe, like CAS values), so a lease cannot serve another key.
 * The lease's deadline is the leased slot's expiry: a slot that carries a
 * lease holds no live value (a placeholder, or a value marked stale when
 * the lease is granted), so its expiry is free to say when the lease ends;
 * a holder that dies blocks its key for at most lease_ms.
 */
#include <errno.h>
#include <time.h>

#include "internal.h"
#include "journal.h" /* journal */

/* Put a lease on a slot holding a dead value (invalidated, expired or
 * tag-invalidated): the value is marked stale for good, so that the
 * expiry can carry the lease's deadline. */
static void lease_slot_locked(struct shm_bucket *bk, struct shm_item *s, uint64_t token, uint32_t gseq,
                              uint64_t deadline)
{
    uint32_t odd = shm_bucket_begin(bk);
    ST(&s->lease, token);
    ST(&s->lease_gseq, gseq);
    ST(&s->expiry, deadline);
    ST(&s->state, (uint8_t)(LD(&s->state) | SLOT_LEASED | SLOT_STALE));
    shm_bucket_end(bk, odd);
}

int shmc_get_or_lease(shmc_t *c, const void *key, size_t klen, void *buf, size_t cap,
                      size_t *vlen, shmc_item_info_t *info, uint64_t lease_ms, uint64_t *lease)
{
    if (!lease)
        return -EINVAL;
    *lease = 0;
    if (lease_ms == 0)
        lease_ms = SHMC_LEASE_DEFAULT_MS;
    if (lease_ms > (1ull << 32))
        return -EINVAL;
    /* A value that appears between our miss and the lock is returned by
     * looking again; bounded, since each retry needed a concurrent set. */
    for (int attempt = 0; attempt < 4; attempt++) {
        int r = shm_get_common(c, key, klen, buf, cap, vlen, info, false);
        if (r != -ENOENT)
            return r;
        if (!shm_writable(c))
            return -EROFS;
        struct keyop op;
        r = shm_keyop_lock(c, key, klen, &op);
        if (r)
            return r;
        struct keyloc kl = op.kl;
        uint32_t gen = op.gen;
        struct shm_stripe *st = op.st;
        int64_t idx = op.idx;
        struct shm_item *s = op.it;
        if (shm_item_live_locked(c, s, gen)) {
            shm_unlock(c, kl.stripe);
            continue;
        }
        if (s && LD(&s->gen) != gen) {
            /* left over from before a clear: nothing in it counts */
            uint32_t was = shm_change_begin_locked(st);
            shm_drop_slot_locked(c, (uint64_t)idx, DROP_RECLAIM);
            shm_change_end_locked(st, was);
            s = NULL;
        }
        uint64_t held = s ? LD(&s->lease) : 0;
        if (held && !shm_expired(LD(&s->expiry))) {
            shm_unlock(c, kl.stripe);
            bool shared;
            struct shm_proc *row = shm_row(c, &shared);
            shm_row_bump(row, shared, &row->lease_waits);
            return -EBUSY;
        }
        uint64_t token = shm_next_token_locked(c, kl.stripe);
        uint32_t gseq = (uint32_t)shm_tag_seq(c);
        uint64_t deadline = shm_expiry_from_ttl(lease_ms);
        uint32_t was = shm_change_begin_locked(st);
        if (s) {
            lease_slot_locked(shm_bucket_of(c, (uint64_t)idx), s, token, gseq, deadline);
        } else {
            struct store_extra x = {NULL, 0, 0, SLOT_NOVALUE, token, gseq};
            shm_store_locked(c, &kl, key, klen, "", 0, deadline, 0, gen, &x);
        }
        shm_change_end_locked(st, was);
        BUMP(&st->st.lease_grants, 1);
        shm_unlock(c, kl.stripe);
        *lease = token;
        return -ENOENT;
    }
    return -EBUSY;
}

int shmc_get_or_wait(shmc_t *c, const void *key, size_t klen, void *buf, size_t cap,
                     size_t *vlen, shmc_item_info_t *info, uint64_t lease_ms, uint64_t wait_ms,
                     uint64_t *lease)
{
    uint64_t start = shm_now_ms();
    uint64_t deadline = wait_ms > UINT64_MAX - start ? UINT64_MAX : start + wait_ms;
    long pause_us = 50;
    for (;;) {
        int r = shmc_get_or_lease(c, key, klen, buf, cap, vlen, info, lease_ms, lease);
        if (r != -EBUSY)
            return r;
        uint64_t now = shm_now_ms();
        if (now >= deadline)
            return -EBUSY;
        uint64_t left_ms = deadline - now;
        long us = left_ms >= (uint64_t)pause_us / 1000 + 1 ? pause_us : (long)left_ms * 1000;
        struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
        nanosleep(&ts, NULL);
        if (pause_us < 5000)
            pause_us *= 2;
    }
}

static int set_leased(shmc_t *c, const void *key, size_t klen, const void *val, size_t vlen,
                      uint64_t ttl_ms, uint32_t flags, const char *const *tags, size_t ntags,
                      uint64_t lease)
{
    int r = shm_check_write(c, key, klen, val, vlen);
    if (r)
        return r;
    if (lease == 0)
        return -EINVAL;
    uint32_t tagidx[SHMC_TAGS_MAX];
    r = shm_tag_indexes(c, tags, ntags, tagidx);
    if (r)
        return r;
    uint64_t expiry = shm_expiry_from_ttl(ttl_ms);
    struct keyop op;
    r = shm_keyop_lock(c, key, klen, &op);
    if (r)
        return r;
    struct keyloc kl = op.kl;
    uint32_t gen = op.gen;
    struct shm_stripe *st = op.st;
    int64_t idx = op.idx;
    struct shm_item *s = op.it;
    bool ok = s && LD(&s->lease) == lease && LD(&s->gen) == gen;
    if (ok) {
        uint32_t since = LD(&s->lease_gseq);
        if (shm_tags_changed_since(c, tagidx, ntags, since))
            ok = false;
        /* The tags of the value the lease replaces cover the key too. */
        if (ok && (LD(&s->state) & SLOT_TAGGED)) {
            uint32_t old[SHMC_TAGS_MAX];
            unsigned n = shm_item_tag_indexes(c, (uint64_t)((uint8_t *)s - c->base), LD(&s->ntags), old);
            if (shm_tags_changed_since(c, old, n, since))
                ok = false;
        }
    }
    if (!ok) {
        BUMP(&st->st.lease_rejects, 1);
        r = -ESTALE;
        /* A refused lease is over too: the next miss must be able to hand
         * out a fresh one at once, not wait for this one to expire. */
        if (s && LD(&s->lease) == lease) {
            uint32_t was = shm_change_begin_locked(st);
            struct shm_bucket *bk = shm_bucket_of(c, (uint64_t)idx);
            uint32_t odd = shm_bucket_begin(bk);
            ST(&s->lease, 0);
            ST(&s->state, (uint8_t)(LD(&s->state) & ~SLOT_LEASED));
            shm_bucket_end(bk, odd);
            shm_change_end_locked(st, was);
        }
    } else {
        /* Stamp the value with the tag_seq of the lease's grant, not the
         * current one: an invalidation numbered after the grant but still
         * raising its tag's word (tags.c) would pass the check above, and
         * must then still kill this value. The 32 bits kept in the slot are
         * widened against the current tag_seq (less than 2^32 apart). */
        uint64_t cur = shm_tag_seq(c);
        uint64_t granted = cur - (uint32_t)((uint32_t)cur - LD(&s->lease_gseq));
        struct store_extra x = {tagidx, (unsigned)ntags, granted, 0, 0, 0};
        shm_store_locked(c, &kl, key, klen, val, vlen, expiry, flags, gen, &x);
    }
    shm_unlock(c, kl.stripe);
    return r;
}

int shmc_set_leased(shmc_t *c, const void *key, size_t klen, const void *val, size_t vlen,
                    uint64_t ttl_ms, uint32_t flags, uint64_t lease)
{
    return set_leased(c, key, klen, val, vlen, ttl_ms, flags, NULL, 0, lease);
}

int shmc_set_leased_tagged(shmc_t *c, const void *key, size_t klen, const void *val,
                           size_t vlen, uint64_t ttl_ms, uint32_t flags,
                           const char *const *tags, size_t ntags, uint64_t lease)
{
    return set_leased(c, key, klen, val, vlen, ttl_ms, flags, tags, ntags, lease);
}

int shmc_invalidate(shmc_t *c, const void *key, size_t klen)
{
    struct keyop op;
    int r = shm_keyop_begin(c, key, klen, &op);
    if (r)
        return r;
    shm_journal_append(c, SHMC_JOURNAL_INVALIDATE, key, klen); /* journal: before the change */
    struct shm_stripe *st = op.st;
    int64_t idx = op.idx;
    uint32_t gen = op.gen;
    r = -ENOENT;
    if (idx >= 0) {
        struct shm_item *s = op.it;
        bool live = shm_item_live_locked(c, s, gen);
        uint32_t was = shm_change_begin_locked(st);
        if (LD(&s->gen) != gen) {
            shm_drop_slot_locked(c, (uint64_t)idx, DROP_RECLAIM);
        } else if (LD(&s->state) & SLOT_NOVALUE) {
            /* a placeholder only carries a lease: killing it is dropping it */
            shm_drop_slot_locked(c, (uint64_t)idx, DROP_DELETE);
        } else {
            struct shm_bucket *bk = shm_bucket_of(c, (uint64_t)idx);
            uint32_t odd = shm_bucket_begin(bk);
            ST(&s->state, (uint8_t)((LD(&s->state) | SLOT_STALE) & ~SLOT_LEASED));
            ST(&s->lease, 0);
            shm_bucket_end(bk, odd);
        }
        shm_change_end_locked(st, was);
        if (live)
            r = 0;
    }
    shm_unlock(c, op.kl.stripe);
    return r;
}
