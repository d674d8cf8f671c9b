/*
 * index.c - the slots of the index, as writers see them.
 *
 * Invariants:
 *  - A key occupies at most one slot of its probe set (its two buckets, in
 *    one stripe). A writer reuses the slot a key already has, live or dead,
 *    so entries never move while live and readers never need tombstones.
 *    A store finds that slot by the key's full hash (shm_find_hash_locked);
 *    everything else, and every get, compares the key's bytes.
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
    if (LD(&s->item) == 0 || LD(&s->gen) != gen)
        return false;
    uint8_t state = LD(&s->state);
    if (state & (SLOT_STALE | SLOT_NOVALUE))
        return false;
    if (shm_expired(LD(&s->expiry)))
        return false;
    return !(state & SLOT_TAGGED) || shm_tags_valid(c, LD(&s->item), LD(&s->ntags));
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
            uint8_t ntags = LD(&s->ntags);
            if (ntags > SHMC_TAGS_MAX || !shm_item_ok(c, item, shm_item_key_off(ntags) + shm_align_up(klen, 8)))
                continue; /* corrupt: never follow it */
            if (shm_equal(c->base + item + shm_item_key_off(ntags), key, klen))
                return (int64_t)(kl->b[k] * SHMC_SLOTS_PER_BUCKET + i);
        }
    }
    return -1;
}

/* The slot whose key has this full 64-bit hash and length, without
 * reading the key bytes (which would be a cache miss on a cold item). Only
 * for stores: if two keys ever shared a hash, a set of one replaces the
 * other, which is then simply evicted (every get compares the key bytes, so
 * it can never be served the wrong key's value). Operations whose result
 * depends on the key being present use shm_find_locked. */
int64_t shm_find_hash_locked(shmc_t *c, const struct keyloc *kl, size_t klen)
{
    for (int k = 0; k < kl->nb; k++) {
        struct shm_bucket *bk = &c->buckets[kl->b[k]];
        for (unsigned i = 0; i < SHMC_SLOTS_PER_BUCKET; i++) {
            if (LD(&bk->tag[i]) != kl->tag)
                continue;
            struct shm_slot *s = &bk->slot[i];
            if (LD(&s->item) && LD(&s->hash) == kl->h && LD(&s->klen) == klen)
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
    uint32_t odd = shm_slot_begin(s);
    SHMC_HOOK(SHMC_HOOK_CLEAR_SLOT, shm_stripe_of_bucket(c, idx / SHMC_SLOTS_PER_BUCKET));
    shm_slot_clear_fields(bk, i);
    shm_slot_end(s, odd);
}

void shm_slot_clear_fields(struct shm_bucket *bk, unsigned i)
{
    struct shm_slot *s = &bk->slot[i];
    ST(&s->item, 0);
    ST(&s->hash, 0);
    ST(&s->klen, 0);
    ST(&s->vlen, 0);
    ST(&s->state, 0);
    ST(&s->ntags, 0);
    ST(&s->lease, 0);
    ST(&bk->tag[i], 0);
    ST(&bk->hint[i], 0);
    ST(&bk->hot[i], 0);
}

/* A slot for a key that has none: an empty one, else a dead one (expired,
 * cleared, invalidated), else the coldest by CLOCK. */
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
    /* Dead slots, those without an outstanding lease first (a lease
     * placeholder dropped here makes its holder's set fail as stale). */
    for (int pass = 0; pass < 2; pass++) {
        for (unsigned k = 0; k < n; k++) {
            struct shm_slot *s = shm_slot_at(c, cand[k]);
            if (pass == 0 && LD(&s->lease))
                continue;
            if (!shm_slot_live_locked(c, s, gen)) {
                shm_drop_slot_locked(c, cand[k], DROP_RECLAIM);
                return (int64_t)cand[k];
            }
        }
    }
    /* CLOCK, one hand per bucket: the hand visits the bucket's slots in
     * order, clearing reference bits, and evicts the first slot not
     * referenced since its last visit, so every slot is visited once per
     * eight evictions from its bucket. Of the two buckets, take the one
     * whose hand already rests on a cold slot, else alternate by hash. */
    int first = (int)(kl->h >> 63) % kl->nb;
    for (int k = 0; k < kl->nb; k++) {
        struct shm_bucket *bk = &c->buckets[kl->b[k]];
        unsigned hand = LD(&bk->hand) % SHMC_SLOTS_PER_BUCKET;
        if (!(LD(&bk->hot[hand]) & HOT_REF)) {
            first = k;
            break;
        }
    }
    uint64_t b = kl->b[first];
    struct shm_bucket *bk = &c->buckets[b];
    unsigned hand = LD(&bk->hand) % SHMC_SLOTS_PER_BUCKET;
    for (unsigned step = 0; step < SHMC_SLOTS_PER_BUCKET; step++) {
        uint8_t hv = LD(&bk->hot[hand]);
        if (!(hv & HOT_REF))
            break;
        ST(&bk->hot[hand], (uint8_t)(hv & ~HOT_REF));
        hand = (hand + 1) % SHMC_SLOTS_PER_BUCKET;
    }
    /* After a full lap every bit is clear and the hand is back at the
     * start: that slot goes. */
    ST(&bk->hand, (uint8_t)((hand + 1) % SHMC_SLOTS_PER_BUCKET));
    uint64_t idx = b * SHMC_SLOTS_PER_BUCKET + hand;
    shm_drop_slot_locked(c, idx, DROP_EVICT);
    return (int64_t)idx;
}
