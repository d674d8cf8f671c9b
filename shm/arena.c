/*
 * arena.c - item memory: one circular log per stripe.
 *
 * Invariant (DESIGN invariant 6): a set of an item that fits a stripe's
 * memory always finds room, and dead bytes never block it. Items are
 * appended at `head`; when the log is full the item at `tail` is looked at:
 * dead (its slot no longer points back: deleted, replaced, evicted) it is
 * simply passed over; expired or cleared, its slot is reclaimed; live and
 * referenced since it was last passed (CLOCK bit), or cold while live data
 * fills under 3/4 of the stripe, it slides to the head (second chance,
 * bounded per allocation); otherwise, live and cold, it is evicted. So the log compacts
 * itself as it turns, and eviction order approximates LRU.
 *
 *   not wrapped (wrap_end == 0):  |free| tail ... items ... head |  free  |
 *   wrapped:                      | items  head | free | tail ... wrap_end |
 *
 * An item is live exactly when slot[item.slot].item points at it. Moving an
 * item (second chance) rewrites that slot inside its seqlock, so a reader
 * copying from the old place sees the sequence move and retries; the old
 * bytes are overwritten only by a later allocation, after that.
 */
#include "internal.h"

void shm_arena_reset_locked(shmc_t *c, uint32_t stripe)
{
    struct shm_stripe *st = &c->stripes[stripe];
    shm_set_log_head(st, 0);
    shm_set_log_tail(st, 0);
    ST(&st->wrap_end, 0);
}

/* The slot index that owns the item at absolute offset off, or -1 when the
 * item is dead. Bounds-checked: a corrupt item is reported as -2. */
static int64_t item_owner(shmc_t *c, uint32_t stripe, uint64_t off, uint64_t size)
{
    struct shm_item *it = shm_item_at(c, off);
    uint32_t slot = LD(&it->slot);
    if (slot == ITEM_PAD_SLOT)
        return -1;
    if (slot >= c->nslots)
        return -2;
    if (shm_stripe_of_bucket(c, slot / SHMC_SLOTS_PER_BUCKET) != stripe)
        return -2;
    if (shm_slot_off(c, slot) != off)
        return -1;
    if (shm_slot_item_locked(c, slot) != it || size != LD(&it->size))
        return -2;
    return slot;
}

/* Deal with the item at the tail: pass over, reclaim, move or evict it.
 * Returns false when the log is inconsistent (then it has been wiped). */
static bool advance_tail_locked(shmc_t *c, uint32_t stripe, uint32_t gen, unsigned *reinserts)
{
    struct shm_stripe *st = &c->stripes[stripe];
    uint64_t base = shm_arena_base(c, stripe);
    uint64_t tail = shm_log_tail(st), head = shm_log_head(st), wrap_end = LD(&st->wrap_end);
    uint64_t limit = wrap_end ? wrap_end : head;
    if (tail >= limit) {
        if (!wrap_end)
            return false;
        shm_set_log_tail(st, 0);
        ST(&st->wrap_end, 0);
        return true;
    }
    uint32_t size = LD(&shm_item_at(c, base + tail)->size);
    if (size < sizeof(struct shm_item) || size % SHMC_ITEM_ALIGN || tail + size > limit) {
        shm_wipe_stripe_locked(c, stripe);
        return false;
    }
    int64_t owner = item_owner(c, stripe, base + tail, size);
    if (owner == -2) {
        shm_wipe_stripe_locked(c, stripe);
        return false;
    }
    if (owner >= 0) {
        uint64_t idx = (uint64_t)owner;
        struct shm_bucket *bk = shm_bucket_of(c, idx);
        unsigned i = shm_slot_in(idx);
        bool logref = LD(&bk->hot) & HOT_LOGREF(i);
        /* While most of the stripe's memory is dead bytes, a live item is
         * kept even if cold: evicting it would free nothing an exact LRU
         * would have to free. */
        bool roomy = shm_stripe_bytes(st) <= c->stripe_bytes / 4 * 3;
        if (!shm_item_live_locked(c, shm_item_at(c, base + tail), gen)) {
            shm_drop_slot_locked(c, idx, DROP_RECLAIM);
        } else if ((logref || roomy) && wrap_end && (head == tail || *reinserts > 0)) {
            /* Second chance: the item becomes the newest in the log. The
             * free gap [head, tail) is just below it, so it slides down by
             * the gap (possibly overlapping itself: the copy runs upwards,
             * which is safe with dest < src) and head and tail both move
             * past it. Done inside the bucket's seqlock because the copy may
             * overwrite the item's own old bytes. */
            if (head != tail) {
                (*reinserts)--; /* only copies are rationed; in place is free */
                uint32_t odd = shm_bucket_begin(bk);
                shm_copy_within(c->base + base + head, c->base + base + tail, size);
                ST(&bk->off[i], shm_off_encode(c, stripe, base + head));
                shm_bucket_end(bk, odd);
            }
            if (logref)
                atomic_fetch_and_explicit(&bk->hot, ~HOT_LOGREF(i), memory_order_relaxed);
            shm_set_log_head(st, head + size);
        } else {
            shm_drop_slot_locked(c, idx, DROP_EVICT);
        }
    }
    tail += size;
    if (wrap_end && tail >= wrap_end) {
        shm_set_log_tail(st, 0);
        ST(&st->wrap_end, 0);
    } else {
        shm_set_log_tail(st, tail);
    }
    return true;
}

/* Start loading the item the next allocation in this stripe will look at
 * (the tail), and its owner slot when the header is already at hand: a set
 * in a full log otherwise pays two cold misses there. Prefetches only. */
static void prefetch_tail_locked(shmc_t *c, uint32_t stripe)
{
    struct shm_stripe *st = &c->stripes[stripe];
    uint64_t tail = shm_log_tail(st), wrap_end = LD(&st->wrap_end);
    if (!wrap_end || tail >= wrap_end)
        return;
    const uint8_t *it = c->base + shm_arena_base(c, stripe) + tail;
    __builtin_prefetch(it, 0);
}

int64_t shm_arena_alloc_locked(shmc_t *c, uint32_t stripe, uint64_t size, uint32_t gen)
{
    struct shm_stripe *st = &c->stripes[stripe];
    uint64_t cap = c->stripe_bytes;
    uint64_t base = shm_arena_base(c, stripe);
    unsigned reinserts = SHMC_REINSERT_MAX;
    if (size > cap)
        return -1;
    /* The log's pointers come from shared memory: a corrupt value must not
     * make us write outside the stripe. An inconsistent log is wiped. */
    {
        uint64_t head = shm_log_head(st), tail = shm_log_tail(st), wrap_end = LD(&st->wrap_end);
        if (head > cap || tail > cap || wrap_end > cap ||
            ((head | tail | wrap_end) & (SHMC_ITEM_ALIGN - 1)) || (wrap_end ? head > tail || tail > wrap_end : tail > head))
            shm_wipe_stripe_locked(c, stripe);
    }
    /* Each turn allocates, wraps once, or advances the tail by at least one
     * item: bounded by the number of items in the stripe. */
    for (uint64_t turn = 0; turn < 4 * cap / sizeof(struct shm_item) + 4; turn++) {
        uint64_t head = shm_log_head(st), tail = shm_log_tail(st), wrap_end = LD(&st->wrap_end);
        if (!wrap_end) {
            if (head == tail && head != 0) { /* empty: start over */
                shm_set_log_head(st, 0);
                shm_set_log_tail(st, 0);
                continue;
            }
            if (cap - head >= size) {
                shm_set_log_head(st, head + size);
                prefetch_tail_locked(c, stripe);
                return (int64_t)(base + head);
            }
            /* Not enough at the end: wrap. [head, cap) stays unused until
             * the tail gets there. */
            if (tail == head) { /* empty and at 0 cannot happen: size <= cap */
                shm_set_log_head(st, 0);
                shm_set_log_tail(st, 0);
                continue;
            }
            ST(&st->wrap_end, head);
            shm_set_log_head(st, 0);
            continue;
        }
        if (tail - head >= size) {
            shm_set_log_head(st, head + size);
            prefetch_tail_locked(c, stripe);
            return (int64_t)(base + head);
        }
        if (!advance_tail_locked(c, stripe, gen, &reinserts))
            continue; /* wiped or unwrapped: look again */
    }
    shm_wipe_stripe_locked(c, stripe);
    shm_set_log_head(st, size);
    return (int64_t)base;
}
