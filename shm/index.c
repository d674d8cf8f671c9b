/*
 * index.c - the slots of the index, as writers see them.
 *
 * Invariants:
 *  - A key occupies at most one slot of its probe set (its two buckets, in
 *    one stripe). A writer reuses the slot a key already has, live or dead,
 *    so entries never move while live and readers never need tombstones.
 *  - Every change to a slot happens under the stripe lock, inside the slot's
 *    seqlock: seq odd, release fence, fields, seq even with release. The
 *    bucket's tag is changed inside the same window.
 *  - curr_items/bytes of a stripe count the occupied slots written in
 *    generation count_gen; a clear makes them all dead at once, so the
 *    first writer after a clear restarts the count.
 */
#include "internal.h"
#include "testhook.h"

uint64_t shm_slot_item_size(struct shm_slot *s)
{
    return shm_item_size(LD(&s->klen), LD(&s->vlen), LD(&s->ntags));
}

bool shm_slot_live_locked(const shmc_t *c, struct shm_slot *s, uint32_t gen)
{
    (void)c;
    if (LD(&s->item) == 0 || LD(&s->gen) != gen)
        return false;
    if (LD(&s->state) & SLOT_STALE)
        return false;
    return !shm_expired(LD(&s->expiry));
}

void shm_sync_gen_locked(shmc_t *c, uint32_t stripe, uint32_t gen)
{
    struct shm_stripe *st = &c->stripes[stripe];
    if (LD(&st->count_gen) != gen) {
        ST(&st->count_gen, gen);
        ST(&st->st.curr_items, 0);
        ST(&st->st.bytes, 0);
    }
}

int64_t shm_find_locked(shmc_t *c, const struct keyloc *kl, const void *key, size_t klen)
{
    for (int k = 0; k < kl->nb; k++) {
        struct shm_bucket *bk = &c->buckets[kl->b[k]];
        for (unsigned i = 0; i < SHMC_SLOTS_PER_BUCKET; i++) {
            if (LD(&bk->tag[i]) != kl->tag)
                continue;
            struct shm_slot *s = &bk->slot[i];
            uint64_t item = LD(&s->item);
            if (!item || LD(&s->hash) != kl->h || LD(&s->klen) != klen)
                continue;
            uint64_t off = item + shm_item_key_off(LD(&s->ntags));
            if (off + klen > c->size)
                continue;
            if (shm_equal(c->base + off, key, klen))
                return (int64_t)(kl->b[k] * SHMC_SLOTS_PER_BUCKET + i);
        }
    }
    return -1;
}

/* Empty slot idx, accounting for why. */
void shm_drop_slot_locked(shmc_t *c, uint64_t idx, enum shm_drop why)
{
    struct shm_bucket *bk = &c->buckets[idx / SHMC_SLOTS_PER_BUCKET];
    unsigned i = (unsigned)(idx % SHMC_SLOTS_PER_BUCKET);
    struct shm_slot *s = &bk->slot[i];
    struct shm_stripe *st = &c->stripes[shm_stripe_of_bucket(c, idx / SHMC_SLOTS_PER_BUCKET)];
    if (LD(&s->item) == 0)
        return;
    bool fetched = LD(&bk->hot[i]) & HOT_FETCHED;
    if (LD(&s->gen) == LD(&st->count_gen)) {
        ST(&st->st.curr_items, LD(&st->st.curr_items) - 1);
        ST(&st->st.bytes, LD(&st->st.bytes) - shm_slot_item_size(s));
    }
    switch (why) {
    case DROP_EVICT:
        BUMP(&st->st.evictions, 1);
        if (!fetched)
            BUMP(&st->st.evicted_unfetched, 1);
        break;
    case DROP_RECLAIM:
        BUMP(&st->st.reclaimed, 1);
        if (!fetched && shm_expired(LD(&s->expiry)))
            BUMP(&st->st.expired_unfetched, 1);
        break;
    case DROP_LOST:
        BUMP(&st->st.recovered_lost, 1);
        break;
    case DROP_DELETE:
        break;
    }
    uint32_t seq = LD(&s->seq);
    ST(&s->seq, seq + 1);
    /* Orders the odd seq before the changes below; pairs with the reader's
     * acquire fence before its second seq load. */
    atomic_thread_fence(memory_order_release);
    SHMC_HOOK(SHMC_HOOK_CLEAR_SLOT, shm_stripe_of_bucket(c, idx / SHMC_SLOTS_PER_BUCKET));
    ST(&s->item, 0);
    ST(&s->hash, 0);
    ST(&s->klen, 0);
    ST(&s->vlen, 0);
    ST(&s->state, 0);
    ST(&s->ntags, 0);
    ST(&s->lease, 0);
    ST(&bk->tag[i], 0);
    ST(&bk->hot[i], 0);
    /* Release: publishes the empty slot with the even seq. */
    atomic_store_explicit(&s->seq, seq + 2, memory_order_release);
}

/* A slot for a key that has none: an empty one, else a dead one (expired,
 * cleared, invalidated), else the coldest by CLOCK over the probe set. */
int64_t shm_choose_slot_locked(shmc_t *c, const struct keyloc *kl, uint32_t gen)
{
    uint64_t cand[2 * SHMC_SLOTS_PER_BUCKET];
    unsigned n = 0;
    for (int k = 0; k < kl->nb; k++)
        for (unsigned i = 0; i < SHMC_SLOTS_PER_BUCKET; i++)
            cand[n++] = kl->b[k] * SHMC_SLOTS_PER_BUCKET + i;
    for (unsigned k = 0; k < n; k++)
        if (LD(&shm_slot_at(c, cand[k])->item) == 0)
            return (int64_t)cand[k];
    for (unsigned k = 0; k < n; k++) {
        struct shm_slot *s = shm_slot_at(c, cand[k]);
        if (!shm_slot_live_locked(c, s, gen)) {
            shm_drop_slot_locked(c, cand[k], DROP_RECLAIM);
            return (int64_t)cand[k];
        }
    }
    /* CLOCK: pass over referenced slots, clearing their bit; the first one
     * not referenced since the hand last passed is the victim. */
    struct shm_stripe *st = &c->stripes[kl->stripe];
    uint32_t hand = LD(&st->hand);
    for (unsigned step = 0; step < 2 * n; step++) {
        uint64_t idx = cand[(hand + step) % n];
        a8 *hot = &c->buckets[idx / SHMC_SLOTS_PER_BUCKET].hot[idx % SHMC_SLOTS_PER_BUCKET];
        uint8_t hv = LD(hot);
        if (hv & HOT_REF) {
            ST(hot, (uint8_t)(hv & ~HOT_REF));
            continue;
        }
        ST(&st->hand, hand + step + 1);
        shm_drop_slot_locked(c, idx, DROP_EVICT);
        return (int64_t)idx;
    }
    /* unreachable: the second lap finds every bit cleared */
    shm_drop_slot_locked(c, cand[hand % n], DROP_EVICT);
    return (int64_t)cand[hand % n];
}
