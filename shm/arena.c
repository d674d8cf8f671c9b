/*
 * arena.c - item memory: two circular logs per stripe, probation and main.
 *
 * Invariant (DESIGN invariant 6): a set of an item that fits a stripe's
 * memory always finds room, and dead bytes never block it.
 *
 * While live data fills less than 15/16 of the main log's size, a new item
 * is appended to the main log, as to a single log. Beyond that it goes to
 * the probation log (an eighth of the stripe; items too big for it still
 * go straight to main). When that log is full, the item at its tail is
 * judged: dead (its slot no longer points back: deleted, replaced,
 * evicted) it is passed over; expired or cleared, its slot is reclaimed;
 * live and read since it was written (the slot's LOGREF bit), or live while
 * live data fills under 15/16 of the stripe or the main log can take it
 * without evicting anything live, it moves to the main log; otherwise it
 * is evicted. So an item nobody reads leaves after an eighth of the memory
 * turned over, not all of it, and the main log keeps what was read: under skewed traffic (Zipf) this misses less
 * than an exact LRU that gets every byte of the item headers for payload
 * (docs/ARCHITECTURE.md, "Eviction"; the idea is S3-FIFO's small queue).
 *
 * The main log turns the same way, with a second chance instead of the
 * move: live and referenced since the tail last passed (or cold while the
 * stripe is roomy), the item slides to the head (bounded per allocation);
 * otherwise it is evicted. Eviction there approximates LRU.
 *
 *   not wrapped (wrap_end == 0):  |free| tail ... items ... head |  free  |
 *   wrapped:                      | items  head | free | tail ... wrap_end |
 *
 * An item is live exactly when slot[item.slot] points at it. Moving an
 * item rewrites that slot inside its seqlock, so a reader copying from the
 * old place sees the sequence move and retries; the old bytes are
 * overwritten only by a later allocation, after that.
 */
#include "internal.h"

void shm_arena_reset_locked(shmc_t *c, uint32_t stripe)
{
    for (int w = LOG_PROBATION; w <= LOG_MAIN; w++) {
        struct shm_log l = shm_log_of(c, stripe, w);
        shm_set_log_head(&l, 0);
        shm_set_log_tail(&l, 0);
        ST(l.wrap_end, 0);
    }
}

/* Whether a log's pointers could be its own: a corrupt value must not make
 * us write outside the log. */
static inline bool log_sane(const struct shm_log *l)
{
    uint64_t head = shm_log_head(l), tail = shm_log_tail(l), wrap_end = LD(l->wrap_end);
    uint64_t end = wrap_end ? wrap_end : head;
    /* head and tail are multiples of 8 by construction (8-byte units) */
    return !(wrap_end & (SHMC_ITEM_ALIGN - 1)) && end <= l->cap && tail <= end &&
           (!wrap_end || head <= tail);
}

/* Whether live data fills the stripe to less than 15/16. Then an unread
 * probation item moves to the main log instead of being evicted (that
 * makes the main log turn, which reclaims the dead bytes overwrites leave
 * there: with 3/4 instead, 74 % live bytes after churn, against 91 %). */
static bool stripe_spare(const shmc_t *c, const struct shm_stripe *st)
{
    return shm_stripe_bytes(st) <= c->stripe_bytes / 16 * 15;
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

/* The size of the item at a log's tail, or 0 when it cannot be a whole
 * item ending by limit (the segment is untrusted). */
static uint32_t tail_item_size(const shmc_t *c, const struct shm_log *l, uint64_t tail,
                               uint64_t limit)
{
    uint32_t size = LD(&shm_item_at(c, l->base + tail)->size);
    return size < sizeof(struct shm_item) || size % SHMC_ITEM_ALIGN || tail + size > limit ? 0 : size;
}

/* Pass the tail over an item of `size`, unwrapping at wrap_end. */
static void pass_tail(const struct shm_log *l, uint64_t tail, uint64_t size)
{
    uint64_t wrap_end = LD(l->wrap_end);
    tail += size;
    if (wrap_end && tail >= wrap_end) {
        shm_set_log_tail(l, 0);
        ST(l->wrap_end, 0);
    } else {
        shm_set_log_tail(l, tail);
    }
}

static int64_t log_alloc_locked(shmc_t *c, uint32_t stripe, int which, uint64_t size, uint32_t gen);

/* Move live slot idx's item (at absolute src, `size` bytes) to the main
 * log. False when the stripe was wiped meanwhile (making room in main
 * found it corrupt): the item is gone with everything else. */
static bool promote_locked(shmc_t *c, uint32_t stripe, uint64_t idx, uint64_t src, uint64_t size,
                           uint32_t gen)
{
    struct shm_log p = shm_log_of(c, stripe, LOG_PROBATION);
    uint64_t tail = shm_log_tail(&p);
    int64_t dst = log_alloc_locked(c, stripe, LOG_MAIN, size, gen);
    if (shm_log_tail(&p) != tail || shm_slot_off(c, idx) != src) {
        /* Wiped: leave a filler where the copy would have gone, so the
         * main log stays walkable. */
        struct shm_item *pad = shm_item_at(c, (uint64_t)dst);
        ST(&pad->size, (uint32_t)size);
        ST(&pad->slot, ITEM_PAD_SLOT);
        return false;
    }
    /* Nobody references the new place yet, but a reader of its previous
     * owner may still be copying it: order the copy after the seq change
     * that retired that owner (as a new item, write.c). */
    atomic_thread_fence(memory_order_release);
    shm_copy_within(c->base + dst, c->base + src, size);
    struct shm_bucket *bk = shm_bucket_of(c, idx);
    uint32_t odd = shm_bucket_begin(bk);
    ST(&bk->off[shm_slot_in(idx)], shm_off_encode(c, stripe, (uint64_t)dst));
    shm_bucket_end(bk, odd);
    /* In main it must be read again to earn its next pass. */
    atomic_fetch_and_explicit(&bk->hot, ~HOT_LOGREF(shm_slot_in(idx)), memory_order_relaxed);
    return true;
}

/* Whether the main log can take size bytes without evicting a live item:
 * it has the room, or the item its tail would reclaim next is dead,
 * expired or cleared. The live-bytes count includes entries that expired
 * but were not reclaimed yet, so without this an unread probation item
 * would be evicted while the main log holds nothing but expired entries. */
static bool main_has_room(shmc_t *c, uint32_t stripe, uint64_t size, uint32_t gen)
{
    struct shm_log m = shm_log_of(c, stripe, LOG_MAIN);
    if (!log_sane(&m))
        return false;
    uint64_t head = shm_log_head(&m), tail = shm_log_tail(&m), wrap_end = LD(m.wrap_end);
    uint64_t limit = wrap_end ? wrap_end : head;
    if (wrap_end ? tail - head >= size : m.cap - head >= size || tail >= size)
        return true; /* free room, now or once it wraps */
    if (tail >= limit)
        return true; /* empty, or about to unwrap */
    uint64_t at = m.base + tail;
    uint32_t isize = tail_item_size(c, &m, tail, limit);
    if (!isize)
        return false; /* corrupt: the main log's own allocation deals with it */
    int64_t owner = item_owner(c, stripe, at, isize);
    return owner == -1 || (owner >= 0 && !shm_item_live_locked(c, shm_item_at(c, at), gen));
}

/* Deal with the item at a log's tail: pass over, reclaim, move or evict
 * it. Returns early when the log is inconsistent (then the stripe has been
 * wiped) or was wiped while moving an item: the caller looks again. */
static void advance_tail_locked(shmc_t *c, uint32_t stripe, int which, uint32_t gen,
                                unsigned *reinserts)
{
    struct shm_stripe *st = &c->stripes[stripe];
    struct shm_log l = shm_log_of(c, stripe, which);
    uint64_t tail = shm_log_tail(&l), head = shm_log_head(&l), wrap_end = LD(l.wrap_end);
    uint64_t limit = wrap_end ? wrap_end : head;
    if (tail >= limit) {
        if (wrap_end) {
            shm_set_log_tail(&l, 0);
            ST(l.wrap_end, 0);
        }
        return;
    }
    uint64_t at = l.base + tail;
    uint32_t size = tail_item_size(c, &l, tail, limit);
    if (!size) {
        shm_wipe_stripe_locked(c, stripe);
        return;
    }
    int64_t owner = item_owner(c, stripe, at, size);
    if (owner == -2) {
        shm_wipe_stripe_locked(c, stripe);
        return;
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
        if (!shm_item_live_locked(c, shm_item_at(c, at), gen)) {
            shm_drop_slot_locked(c, idx, DROP_RECLAIM);
        } else if (which == LOG_PROBATION &&
                   (logref || stripe_spare(c, st) || main_has_room(c, stripe, size, gen))) {
            if (!promote_locked(c, stripe, idx, at, size, gen))
                return;
        } else if (which == LOG_MAIN && (logref || roomy) && wrap_end &&
                   (head == tail || *reinserts > 0)) {
            /* Second chance: the item becomes the newest in the log. The
             * free gap [head, tail) is just below it, so it slides down by
             * the gap (possibly overlapping itself: the copy runs upwards,
             * which is safe with dest < src) and head and tail both move
             * past it. Done inside the bucket's seqlock because the copy may
             * overwrite the item's own old bytes. */
            if (head != tail) {
                (*reinserts)--; /* only copies are rationed; in place is free */
                uint32_t odd = shm_bucket_begin(bk);
                shm_copy_within(c->base + l.base + head, c->base + at, size);
                ST(&bk->off[i], shm_off_encode(c, stripe, l.base + head));
                shm_bucket_end(bk, odd);
            }
            if (logref)
                atomic_fetch_and_explicit(&bk->hot, ~HOT_LOGREF(i), memory_order_relaxed);
            shm_set_log_head(&l, head + size);
        } else {
            shm_drop_slot_locked(c, idx, DROP_EVICT);
        }
    }
    pass_tail(&l, tail, size);
}

/* Start loading the item the next allocation in this log will look at
 * (the tail): a set in a full log otherwise pays a cold miss there. */
static void prefetch_tail_locked(shmc_t *c, const struct shm_log *l)
{
    uint64_t tail = shm_log_tail(l), wrap_end = LD(l->wrap_end);
    if (!wrap_end || tail >= wrap_end)
        return;
    __builtin_prefetch(c->base + l->base + tail, 0);
}

static int64_t log_alloc_locked(shmc_t *c, uint32_t stripe, int which, uint64_t size, uint32_t gen)
{
    struct shm_log l = shm_log_of(c, stripe, which);
    unsigned reinserts = SHMC_REINSERT_MAX;
    /* The log's pointers come from shared memory: a corrupt value must not
     * make us write outside the log. An inconsistent log is wiped (with
     * its stripe); from there on this loop keeps the pointers consistent. */
    if (!log_sane(&l))
        shm_wipe_stripe_locked(c, stripe);
    /* Each turn allocates, wraps once, or advances the tail by at least one
     * item: bounded by the number of items in the log. */
    for (uint64_t turn = 0; turn < 4 * l.cap / sizeof(struct shm_item) + 4; turn++) {
        uint64_t head = shm_log_head(&l), tail = shm_log_tail(&l), wrap_end = LD(l.wrap_end);
        if (!wrap_end) {
            if (head == tail && head != 0) { /* empty: start over */
                shm_set_log_head(&l, 0);
                shm_set_log_tail(&l, 0);
                continue;
            }
            if (l.cap - head >= size) {
                shm_set_log_head(&l, head + size);
                prefetch_tail_locked(c, &l);
                return (int64_t)(l.base + head);
            }
            /* Not enough at the end: wrap. [head, cap) stays unused until
             * the tail gets there. */
            if (tail == head) { /* empty and at 0 cannot happen: size <= cap */
                shm_set_log_head(&l, 0);
                shm_set_log_tail(&l, 0);
                continue;
            }
            ST(l.wrap_end, head);
            shm_set_log_head(&l, 0);
            continue;
        }
        if (tail - head >= size) {
            shm_set_log_head(&l, head + size);
            prefetch_tail_locked(c, &l);
            return (int64_t)(l.base + head);
        }
        advance_tail_locked(c, stripe, which, gen, &reinserts);
    }
    shm_wipe_stripe_locked(c, stripe);
    shm_set_log_head(&l, size);
    return (int64_t)l.base;
}

int64_t shm_arena_alloc_locked(shmc_t *c, uint32_t stripe, uint64_t size, uint32_t gen)
{
    if (size > c->stripe_bytes - c->probation_bytes)
        return -1;
    /* Probation only under pressure: while live data fills less than 15/16
     * of the main log's size, new items go straight to the main log, as
     * into one log, and nothing is copied from one log to the other (a
     * write-heavy load paid a copy per set for the move). */
    bool probation = size <= c->probation_bytes &&
                     shm_stripe_bytes(&c->stripes[stripe]) > (c->stripe_bytes - c->probation_bytes) / 16 * 15;
    return log_alloc_locked(c, stripe, probation ? LOG_PROBATION : LOG_MAIN, size, gen);
}
