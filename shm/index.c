/*
 * index.c - the slots of the index, as writers see them.
 *
 * Invariants:
 *  - A key occupies at most one slot of its probe set (its home bucket and
 *    its second bucket, in one stripe). A writer reuses the slot a key
 *    already has, live or dead, so entries never move while live and
 *    readers never need tombstones.
 *  - Every change to a slot, and to the mutable fields of the item header
 *    it points to, happens under the stripe lock inside the bucket's
 *    seqlock: seq odd, release fence, fields, seq even with release.
 *  - A bucket's ovf is non-zero while any key homed there lives in its
 *    second bucket: it is raised before such a key is published and
 *    lowered after it is gone, so a reader that skips the second bucket
 *    because ovf was 0 can only miss a key whose set had not completed.
 *  - Capacity is a promise (DESIGN invariant 7). segment.c gives the index
 *    at least 1.8 slots per promised key; placement fills a key's home
 *    bucket while it holds fewer than SHMC_HOME_FIRST keys (so most keys
 *    need one bucket line), then takes the less loaded of the two. With
 *    9-slot buckets that fills `capacity` keys without a full probe set
 *    (docs/FORMAT.md, "Placement", has the simulation's figures).
 *  - curr_items/bytes of a stripe count the occupied slots written in
 *    generation count_gen; a clear makes them all dead at once, so the
 *    first writer after a clear restarts the count.
 */
#include "internal.h"
#include "state.h"
#include "testhook.h"

#define SHMC_HOME_FIRST 5u

uint64_t shm_item_bytes(struct shm_item *it)
{
    return shm_item_size(LD(&it->klen), LD(&it->vlen), LD(&it->ntags));
}

struct shm_item *shm_slot_item_locked(shmc_t *c, uint64_t idx)
{
    uint64_t item = shm_slot_off(c, idx);
    if (!item || !shm_item_ok(c, item, sizeof(struct shm_item)))
        return NULL;
    struct shm_item *it = shm_item_at(c, item);
    uint32_t klen = LD(&it->klen);
    uint8_t ntags = LD(&it->ntags);
    if (klen == 0 || klen > c->max_key || ntags > SHMC_TAGS_MAX || LD(&it->vlen) > c->max_val)
        return NULL;
    uint64_t size = shm_item_bytes(it);
    uint32_t stripe = shm_stripe_of_bucket(c, idx / SHMC_SLOTS_PER_BUCKET);
    if (LD(&it->size) != size || item - shm_arena_base(c, stripe) > c->stripe_bytes - size)
        return NULL;
    return it;
}

bool shm_item_live_locked(const shmc_t *c, struct shm_item *it, uint32_t gen)
{
    if (!it)
        return false;
    struct shm_emeta m = shm_emeta_of(it);
    return shm_entry_state(c, (uint64_t)((uint8_t *)it - c->base), &m, gen) == ES_LIVE;
}

void shm_sync_gen_locked(shmc_t *c, uint32_t stripe, uint32_t gen)
{
    struct shm_stripe *st = &c->stripes[stripe];
    if (LD(&st->count_gen) != gen) {
        ST(&st->count_gen, gen);
        shm_count_reset_locked(st, 0, 0);
    }
}

void shm_ovf_add_locked(shmc_t *c, uint64_t home, int delta)
{
    a16 *o = &c->buckets[home].ovf;
    uint32_t w = LD(o), v = w & OVF_COUNT;
    if (v == OVF_STUCK)
        return; /* saturated: readers always look, and it stays so */
    if (delta > 0)
        ST(o, (uint16_t)(w + 1));
    else if (v > 0)
        ST(o, (uint16_t)(w - 1));
}

/* Whether bucket b may hold keys homed in `home` besides its own. */
static inline bool second_in_use(const shmc_t *c, const struct keyloc *kl)
{
    return kl->nb == 2 && (LD(&c->buckets[kl->b[0]].ovf) & OVF_COUNT) != 0;
}

int64_t shm_find_fp_locked(const shmc_t *c, const struct keyloc *kl, uint32_t fp)
{
    int nb = second_in_use(c, kl) ? 2 : 1;
    for (int k = 0; k < nb; k++) {
        const struct shm_bucket *bk = &c->buckets[kl->b[k]];
        const struct shm_wline *wl = &c->wlines[kl->b[k]];
        for (unsigned i = 0; i < SHMC_SLOTS_PER_BUCKET; i++)
            if (LD(&bk->tag[i]) == kl->tag && LD(&wl->fp[i]) == fp && LD(&bk->off[i]))
                return (int64_t)(kl->b[k] * SHMC_SLOTS_PER_BUCKET + i);
    }
    return -1;
}

int64_t shm_find_locked(shmc_t *c, const struct keyloc *kl, const void *key, size_t klen)
{
    int nb = second_in_use(c, kl) ? 2 : 1;
    for (int k = 0; k < nb; k++) {
        struct shm_bucket *bk = &c->buckets[kl->b[k]];
        for (unsigned i = 0; i < SHMC_SLOTS_PER_BUCKET; i++) {
            if (LD(&bk->tag[i]) != kl->tag)
                continue;
            uint64_t idx = kl->b[k] * SHMC_SLOTS_PER_BUCKET + i;
            struct shm_item *it = shm_slot_item_locked(c, idx);
            if (!it || LD(&it->klen) != klen)
                continue; /* corrupt slots are never followed */
            if (shm_equal((uint8_t *)it + shm_item_key_off(LD(&it->ntags)), key, klen))
                return (int64_t)idx;
        }
    }
    return -1;
}

/* Count the stripe's items again from its slots: after a corrupt slot was
 * dropped, the counters cannot know what it held. Rare, so a full walk. */
static void recount_locked(shmc_t *c, uint32_t stripe)
{
    struct shm_stripe *st = &c->stripes[stripe];
    uint32_t gen = LD(&st->count_gen);
    uint64_t items = 0, bytes = 0;
    for (uint64_t b = stripe; b < c->nbuckets; b += c->nstripes) {
        for (unsigned i = 0; i < SHMC_SLOTS_PER_BUCKET; i++) {
            struct shm_item *it = shm_slot_item_locked(c, b * SHMC_SLOTS_PER_BUCKET + i);
            if (it && LD(&it->gen) == gen) {
                items++;
                bytes += LD(&it->size);
            }
        }
    }
    shm_count_reset_locked(st, items, bytes);
}

struct shm_item *shm_find_item_locked(shmc_t *c, const struct keyloc *kl, const void *key, size_t klen,
                                      int64_t *idx)
{
    *idx = shm_find_locked(c, kl, key, klen);
    return *idx >= 0 ? shm_slot_item_locked(c, (uint64_t)*idx) : NULL;
}

/* Empty slot idx, accounting for why. */
void shm_drop_slot_locked(shmc_t *c, uint64_t idx, enum shm_drop why)
{
    uint64_t b = idx / SHMC_SLOTS_PER_BUCKET;
    struct shm_bucket *bk = &c->buckets[b];
    unsigned i = shm_slot_in(idx);
    if (LD(&bk->off[i]) == 0 && LD(&bk->tag[i]) == 0)
        return;
    uint32_t stripe = shm_stripe_of_bucket(c, b);
    struct shm_stripe *st = &c->stripes[stripe];
    struct shm_item *it = shm_slot_item_locked(c, idx);
    if (it) {
        bool fetched = LD(&bk->hot) & HOT_FETCHED(i);
        if (LD(&it->gen) == LD(&st->count_gen)) {
            shm_count_locked(st, -1, LD(&it->size));
        }
        switch (why) {
        case DROP_EVICT:
            BUMP(&st->st.evictions, 1);
            if (!fetched)
                BUMP(&st->st.evicted_unfetched, 1);
            break;
        case DROP_RECLAIM:
            BUMP(&st->st.reclaimed, 1);
            if (!fetched && shm_expired(LD(&it->expiry)))
                BUMP(&st->st.expired_unfetched, 1);
            break;
        case DROP_LOST:
            BUMP(&st->st.recovered_lost, 1);
            break;
        case DROP_DELETE:
            break;
        }
    }
    uint32_t odd = shm_bucket_begin(bk);
    SHMC_HOOK(SHMC_HOOK_CLEAR_SLOT, stripe);
    shm_slot_clear_fields(bk, i);
    shm_bucket_end(bk, odd);
    if (!it)
        recount_locked(c, stripe); /* what the corrupt slot held is unknown */
    /* After the key is gone from its second bucket, its home may stop
     * sending readers there. */
    if (it) {
        uint64_t home = LD(&it->hash) & c->bucket_mask;
        if (home != b)
            shm_ovf_add_locked(c, home, -1);
    }
}

void shm_slot_clear_fields(struct shm_bucket *bk, unsigned i)
{
    ST(&bk->off[i], 0);
    ST(&bk->tag[i], 0);
    atomic_fetch_and_explicit(&bk->hot, ~HOT_ALL(i), memory_order_relaxed);
}

static unsigned occupied(const struct shm_bucket *bk, int *free_slot)
{
    unsigned n = 0;
    *free_slot = -1;
    for (unsigned i = 0; i < SHMC_SLOTS_PER_BUCKET; i++) {
        if (LD(&bk->tag[i]) | LD(&bk->off[i]))
            n++;
        else if (*free_slot < 0)
            *free_slot = (int)i;
    }
    return n;
}

/* Take a slot in bucket k of the probe set: raise the home's ovf first when
 * it is the second bucket (see the invariant above). */
static int64_t take(shmc_t *c, const struct keyloc *kl, int k, unsigned i)
{
    if (k == 1)
        shm_ovf_add_locked(c, kl->b[0], +1);
    return (int64_t)(kl->b[k] * SHMC_SLOTS_PER_BUCKET + i);
}

/* A slot for a key that has none: a free one (placement above), else a
 * dead one (cleared, expired, invalidated), else the coldest by CLOCK. The
 * slot returned is empty. */
int64_t shm_choose_slot_locked(shmc_t *c, const struct keyloc *kl, uint32_t gen)
{
    /* A slot carrying this key's tag whose item is corrupt (never followed
     * by anyone) is freed first: a set of the key repairs it. Only slots
     * with the key's tag are looked at, so this costs nothing otherwise. */
    for (int k = 0; k < kl->nb; k++) {
        struct shm_bucket *bk = &c->buckets[kl->b[k]];
        for (unsigned i = 0; i < SHMC_SLOTS_PER_BUCKET; i++) {
            uint64_t idx = kl->b[k] * SHMC_SLOTS_PER_BUCKET + i;
            if (LD(&bk->tag[i]) == kl->tag && !shm_slot_item_locked(c, idx))
                shm_drop_slot_locked(c, idx, DROP_LOST);
        }
    }
    int f0, f1 = -1;
    unsigned n0 = occupied(&c->buckets[kl->b[0]], &f0);
    unsigned n1 = kl->nb == 2 ? occupied(&c->buckets[kl->b[1]], &f1) : SHMC_SLOTS_PER_BUCKET;
    if (f0 >= 0 && (n0 < SHMC_HOME_FIRST || n0 <= n1))
        return take(c, kl, 0, (unsigned)f0);
    if (f1 >= 0)
        return take(c, kl, 1, (unsigned)f1);
    /* Dead slots, those without an outstanding lease first (a lease
     * placeholder dropped here makes its holder's set fail as stale). */
    for (int pass = 0; pass < 2; pass++) {
        for (int k = 0; k < kl->nb; k++) {
            for (unsigned i = 0; i < SHMC_SLOTS_PER_BUCKET; i++) {
                uint64_t idx = kl->b[k] * SHMC_SLOTS_PER_BUCKET + i;
                struct shm_item *it = shm_slot_item_locked(c, idx);
                if (it && pass == 0 && LD(&it->lease))
                    continue;
                if (!shm_item_live_locked(c, it, gen)) {
                    shm_drop_slot_locked(c, idx, it ? DROP_RECLAIM : DROP_LOST);
                    return take(c, kl, k, i);
                }
            }
        }
    }
    /* CLOCK, one hand per bucket: the hand visits the bucket's slots in
     * order, clearing reference bits, and evicts the first slot not
     * referenced since its last visit, so every slot is visited once per
     * nine evictions from its bucket (a hand shared by the stripe would
     * start at a random place of each probe set, and hot entries would be
     * visited far less often than once per lap). Of the two buckets, take
     * the one whose hand already rests on a cold slot, else alternate by
     * hash. */
    int k = (int)(kl->h >> 63) % kl->nb;
    for (int j = 0; j < kl->nb; j++) {
        struct shm_bucket *bk = &c->buckets[kl->b[j]];
        unsigned hand = (unsigned)(LD(&bk->ovf) >> OVF_HAND_SHIFT) % SHMC_SLOTS_PER_BUCKET;
        if (!(LD(&bk->hot) & HOT_REF(hand))) {
            k = j;
            break;
        }
    }
    struct shm_bucket *bk = &c->buckets[kl->b[k]];
    uint32_t w = LD(&bk->ovf);
    unsigned hand = (unsigned)(w >> OVF_HAND_SHIFT) % SHMC_SLOTS_PER_BUCKET;
    for (unsigned step = 0; step < SHMC_SLOTS_PER_BUCKET; step++) {
        if (!(LD(&bk->hot) & HOT_REF(hand)))
            break;
        atomic_fetch_and_explicit(&bk->hot, ~HOT_REF(hand), memory_order_relaxed);
        hand = (hand + 1) % SHMC_SLOTS_PER_BUCKET;
    }
    /* After a full lap every bit is clear and the hand is back at the
     * start: that slot goes. */
    unsigned i = hand;
    hand = (hand + 1) % SHMC_SLOTS_PER_BUCKET;
    ST(&bk->ovf, (uint16_t)((w & OVF_COUNT) | (hand << OVF_HAND_SHIFT)));
    shm_drop_slot_locked(c, kl->b[k] * SHMC_SLOTS_PER_BUCKET + i, DROP_EVICT);
    return take(c, kl, k, i);
}
