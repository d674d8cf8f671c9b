/*
 * write.c - set, add, replace, cas, incr, touch and delete.
 *
 * Invariant: every change happens under the key's stripe lock, with the
 * stripe marked dirty for its duration (so a holder that dies half-way gets
 * its stripe wiped by the next locker, lock.c), and reaches readers only
 * through its bucket's seqlock:
 *
 *   item (header, key, value) written into free log space (release fence
 *   first, see read.c: those bytes may still be read by a reader of their
 *   old owner)
 *   seq = odd; release fence        pairs with the reader's acquire fence
 *   slot's off and tag (or, for touch/invalidate/lease, the live item's
 *   header fields in place)
 *   store_release(seq, even)        pairs with the reader's acquire load
 *
 * A set never empties a key's slot on the way: a concurrent get sees the
 * old value or the new one, never a miss.
 */
#include <errno.h>
#include <stdio.h>

#include "internal.h"
#include "journal.h" /* journal */
#include "testhook.h"

enum store_op { OP_SET, OP_ADD, OP_REPLACE, OP_CAS };

int shm_check_write(shmc_t *c, const void *key, size_t klen, const void *val, size_t vlen)
{
    if (!c)
        return -EINVAL;
    int r = shm_check_key(c, key, klen);
    if (r)
        return r;
    if (!val && vlen)
        return -EINVAL;
    if (vlen > c->max_val)
        return -E2BIG;
    if (!shm_writable(c))
        return -EROFS;
    return 0;
}

/* The item slot idx holds leaves the counts: its size and generation come
 * from the writer line (layout.h), so the old item is not read. Then the
 * writer line describes the item of `size` about to take its place. */
static void account_replaced_locked(shmc_t *c, struct shm_stripe *st, uint64_t idx, uint64_t size,
                                    uint32_t gen)
{
    struct shm_bucket *bk = shm_bucket_of(c, idx);
    struct shm_wline *wl = &c->wlines[idx / SHMC_SLOTS_PER_BUCKET];
    unsigned i = shm_slot_in(idx);
    if (LD(&bk->off[i])) {
        uint32_t size8 = LD(&wl->size8[i]);
        if (size8 != WL_SIZE_BIG) {
            if (LD(&wl->gen8[i]) == (uint8_t)gen)
                shm_count_locked(st, -1, (uint64_t)size8 * SHMC_ITEM_ALIGN);
        } else {
            struct shm_item *old = shm_slot_item_locked(c, idx);
            if (!old)
                shm_drop_slot_locked(c, idx, DROP_LOST); /* corrupt: its counts are redone */
            else if (LD(&old->gen) == gen)
                shm_count_locked(st, -1, LD(&old->size));
        }
    }
    ST(&wl->size8[i], (uint16_t)(size / SHMC_ITEM_ALIGN < WL_SIZE_BIG ? size / SHMC_ITEM_ALIGN : WL_SIZE_BIG));
    ST(&wl->gen8[i], (uint8_t)gen);
}

/* Header, tag references, key and value of slot idx's item at off. */
static void write_item(shmc_t *c, const struct keyloc *kl, uint64_t idx, uint64_t off,
                       uint64_t size, uint32_t gen, const void *key, size_t klen, const void *val,
                       size_t vlen, uint64_t expiry, uint32_t flags, const struct store_extra *x)
{
    unsigned ntags = x ? x->ntags : 0;
    struct shm_item *it = shm_item_at(c, off);
    ST(&it->size, (uint32_t)size);
    ST(&it->slot, (uint32_t)idx);
    ST(&it->expiry, expiry);
    ST(&it->cas, shm_next_token_locked(c, kl->stripe));
    ST(&it->vlen, (uint32_t)vlen);
    ST(&it->flags, flags);
    ST(&it->klen, (uint16_t)klen);
    ST(&it->state, (uint8_t)((x ? x->state : 0) | (ntags ? SLOT_TAGGED : 0) |
                             (x && x->lease ? SLOT_LEASED : 0)));
    ST(&it->ntags, (uint8_t)ntags);
    ST(&it->gen, gen);
    ST(&it->lease, x ? x->lease : 0);
    ST(&it->lease_gseq, x ? x->lease_gseq : 0);
    ST(&it->hash, (uint32_t)kl->h);
    if (ntags) {
        uint8_t area[8 + 4 * SHMC_TAGS_MAX];
        memcpy(area, &x->tag_seq, 8);
        memcpy(area + 8, x->tags, 4 * ntags);
        shm_copy_in(c->base + off + sizeof(struct shm_item), area, 8 + 4 * ntags);
    }
    shm_copy_in(c->base + off + shm_item_key_off(ntags), key, klen);
    if (vlen)
        shm_copy_in(c->base + off + shm_item_val_off(klen, ntags), val, vlen);
}

/* A stored entry is new to readers: no reference bits (a new value has not
 * been read). */
static void stored_locked(struct shm_bucket *bk, unsigned i)
{
    if (LD(&bk->hot) & HOT_ALL(i))
        atomic_fetch_and_explicit(&bk->hot, ~HOT_ALL(i), memory_order_relaxed);
}

/* The writer's row counts every store. */
static void count_store(shmc_t *c)
{
    bool shared;
    struct shm_proc *row = shm_row(c, &shared);
    shm_row_bump(row, shared, &row->total_items);
    shm_row_bump(row, shared, &row->cmd_set);
}

/* Write a new item at off and point slot idx at it. */
static void publish_locked(shmc_t *c, const struct keyloc *kl, uint64_t idx, uint64_t off,
                           const void *key, size_t klen, const void *val, size_t vlen,
                           uint64_t expiry, uint32_t flags, const struct store_extra *x)
{
    struct shm_stripe *st = &c->stripes[kl->stripe];
    struct shm_bucket *bk = shm_bucket_of(c, idx);
    unsigned i = shm_slot_in(idx);
    uint64_t size = shm_item_size(klen, vlen, x ? x->ntags : 0);
    uint32_t gen = LD(&st->count_gen);

    /* The old item's bytes stay as they are: once the slot points away
     * they are dead, and the log reclaims them. */
    account_replaced_locked(c, st, idx, size, gen);

    /* The item, whole, before the slot points at it. Nobody references
     * these bytes yet, but a reader of their previous owner may still be
     * copying them; this fence orders our stores after the seq change that
     * retired that owner. */
    atomic_thread_fence(memory_order_release);
    write_item(c, kl, idx, off, size, gen, key, klen, val, vlen, expiry, flags, x);

    uint32_t odd = shm_bucket_begin(bk);
    SHMC_HOOK(SHMC_HOOK_SLOT_ODD, kl->stripe);
    ST(&bk->off[i], shm_off_encode(c, kl->stripe, off));
    if (LD(&bk->tag[i]) != kl->tag)
        ST(&bk->tag[i], kl->tag);
    stored_locked(bk, i);
    shm_bucket_end(bk, odd);
    shm_count_locked(st, +1, size);
    count_store(c);
}

/*
 * A store whose item has the size of the one the key's slot holds rewrites
 * that item where it is, inside the bucket's seqlock: a reader copying it
 * meanwhile sees seq move and retries, as when a slot changes. The item
 * keeps its place in the log (and its age there). No log space is taken,
 * so nothing is reclaimed or evicted: the log's tail and the owner of the
 * item there, two cold lines of every other set, are not touched. Returns
 * false (nothing changed) when the sizes differ or the slot's item is not
 * whole; the caller then stores the usual way.
 */
static bool overwrite_locked(shmc_t *c, const struct keyloc *kl, uint64_t idx, const void *key,
                             size_t klen, const void *val, size_t vlen, uint64_t expiry,
                             uint32_t flags, const struct store_extra *x)
{
    uint64_t size = shm_item_size(klen, vlen, x ? x->ntags : 0);
    struct shm_wline *wl = &c->wlines[idx / SHMC_SLOTS_PER_BUCKET];
    unsigned i = shm_slot_in(idx);
    if (size / SHMC_ITEM_ALIGN >= WL_SIZE_BIG || LD(&wl->size8[i]) != size / SHMC_ITEM_ALIGN)
        return false;
    /* The bounds, then the size and the owner on the item itself (its
     * first line, which the write needs anyway): a scribbled writer line
     * or slot can never make this write land outside the stripe or over
     * another item. */
    struct shm_bucket *bk = shm_bucket_of(c, idx);
    uint32_t off = LD(&bk->off[i]);
    uint64_t rel = (uint64_t)(off - 1) * SHMC_ITEM_ALIGN;
    if (!off || rel > c->stripe_bytes - size)
        return false;
    uint64_t at = shm_arena_base(c, kl->stripe) + rel;
    struct shm_item *it = shm_item_at(c, at);
    if (LD(&it->size) != size || LD(&it->slot) != (uint32_t)idx)
        return false;
    struct shm_stripe *st = &c->stripes[kl->stripe];
    uint32_t gen = LD(&st->count_gen);
    /* The counts: the old item leaves them if this generation counted it
     * (as in account_replaced_locked), the new one of the same size joins. */
    bool counted = LD(&wl->gen8[i]) == (uint8_t)gen;
    if (!counted)
        ST(&wl->gen8[i], (uint8_t)gen);
    uint32_t odd = shm_bucket_begin(bk);
    SHMC_HOOK(SHMC_HOOK_SLOT_ODD, kl->stripe);
    write_item(c, kl, idx, at, size, gen, key, klen, val, vlen, expiry, flags, x);
    stored_locked(bk, i);
    shm_bucket_end(bk, odd);
    if (!counted)
        shm_count_locked(st, +1, size);
    count_store(c);
    return true;
}

/* Store under the lock: the key's slot found by fingerprint (no read of
 * the old item), rewritten in place when the sizes match; else room in the
 * log, then the slot the key has (it may have been evicted while making
 * room), else a free or evicted one. */
void shm_store_locked(shmc_t *c, const struct keyloc *kl, const void *key, size_t klen,
                      const void *val, size_t vlen, uint64_t expiry, uint32_t flags, uint32_t gen,
                      const struct store_extra *x)
{
    struct shm_stripe *st = &c->stripes[kl->stripe];
    shm_journal_store_locked(c, key, klen, x && (x->state & SLOT_NOVALUE)); /* journal */
    uint32_t was = shm_change_begin_locked(st);
    uint32_t fp = shm_key_fp(kl->h);
    int64_t idx = shm_find_fp_locked(c, kl, fp);
    if (idx < 0 || !overwrite_locked(c, kl, (uint64_t)idx, key, klen, val, vlen, expiry, flags, x)) {
        uint64_t size = shm_item_size(klen, vlen, x ? x->ntags : 0);
        int64_t off = shm_arena_alloc_locked(c, kl->stripe, size, gen);
        /* Making room may have evicted the key's entry (or wiped the
         * stripe): the slot found above holds it only if still occupied. */
        if (idx >= 0 && !LD(&shm_bucket_of(c, (uint64_t)idx)->off[shm_slot_in((uint64_t)idx)]))
            idx = -1;
        if (idx < 0)
            idx = shm_choose_slot_locked(c, kl, gen);
        ST(&c->wlines[(uint64_t)idx / SHMC_SLOTS_PER_BUCKET].fp[shm_slot_in((uint64_t)idx)], fp);
        publish_locked(c, kl, (uint64_t)idx, (uint64_t)off, key, klen, val, vlen, expiry, flags, x);
    }
    shm_change_end_locked(st, was);
}

/* A value unique in the segment's life (CAS values and lease tokens): a
 * counter times 2048 plus where the counter lives. The calling thread's
 * row (0..1023) when it owns one: the row's line is its own, so drawing a
 * value moves no line between cores. Else the stripe's counter (1024 +
 * stripe), under the stripe lock. Neither counter is ever reset. */
uint64_t shm_next_token_locked(shmc_t *c, uint32_t stripe)
{
    bool shared;
    struct shm_proc *row = shm_row(c, &shared);
    if (row >= c->procs && row < c->procs + c->proc_slots) {
        uint64_t ctr = shared ? atomic_fetch_add_explicit(&row->cas_next, 1, memory_order_relaxed)
                              : LD(&row->cas_next);
        if (!shared)
            ST(&row->cas_next, ctr + 1);
        return (ctr << 11) | (uint64_t)(row - c->procs);
    }
    struct shm_stripe *st = &c->stripes[stripe];
    uint64_t ctr = LD(&st->cas_next);
    ST(&st->cas_next, ctr + 1);
    return (ctr << 11) | (SHMC_PROC_SLOTS + stripe);
}

int shm_keyop_begin(shmc_t *c, const void *key, size_t klen, struct keyop *op)
{
    int r = shm_check_write(c, key, klen, "", 0);
    return r ? r : shm_keyop_lock(c, key, klen, op);
}

int shm_keyop_lock(shmc_t *c, const void *key, size_t klen, struct keyop *op)
{
    shm_locate(c, key, klen, &op->kl);
    shm_prefetch_key(c, &op->kl);
    int r = shm_lock_key(c, &op->kl, &op->gen);
    if (r)
        return r;
    op->st = &c->stripes[op->kl.stripe];
    op->it = shm_find_item_locked(c, &op->kl, key, klen, &op->idx);
    return 0;
}

/* Start loading what a write to this key will touch (its bucket lines,
 * the home bucket's writers' line and the probation log's tail) before the
 * lock is taken, so the cache misses overlap the lock's own latency. Reads here are unlocked and only
 * used as prefetch addresses: a prefetch never faults and changes nothing. */
void shm_prefetch_key(const shmc_t *c, const struct keyloc *kl)
{
    for (int k = 0; k < kl->nb; k++)
        __builtin_prefetch(&c->buckets[kl->b[k]], 1);
    __builtin_prefetch(&c->wlines[kl->b[0]], 1);
    struct shm_log l = shm_log_of(c, kl->stripe, LOG_PROBATION);
    uint64_t tail = shm_log_tail(&l);
    if (tail < l.cap)
        __builtin_prefetch(c->base + l.base + tail, 0);
    /* The key's item, when the home bucket has one under its tag: a store
     * of the same size rewrites it, other writes compare its key. Waiting
     * here for the bucket line costs nothing (the locked path would wait
     * for it anyway) and lets the item's miss overlap the lock. */
    const struct shm_bucket *bk = &c->buckets[kl->b[0]];
    for (unsigned i = 0; i < SHMC_SLOTS_PER_BUCKET; i++) {
        if (LD(&bk->tag[i]) == kl->tag) {
            uint32_t off = LD(&bk->off[i]);
            if (off)
                __builtin_prefetch(c->base + shm_arena_base(c, kl->stripe) +
                                   (uint64_t)(off - 1) * SHMC_ITEM_ALIGN, 1);
            break;
        }
    }
}

/* Lock the key's stripe and bring its counters to the current generation. */
int shm_lock_key(shmc_t *c, const struct keyloc *kl, uint32_t *gen)
{
    int r = shm_lock(c, kl->stripe);
    if (r)
        return r;
    *gen = shm_gen(c);
    shm_sync_gen_locked(c, kl->stripe, *gen);
    SHMC_HOOK(SHMC_HOOK_LOCKED, kl->stripe);
    return 0;
}

static int store(shmc_t *c, enum store_op op, const void *key, size_t klen, const void *val,
                 size_t vlen, uint64_t ttl_ms, uint32_t flags, uint64_t cas,
                 const char *const *tags, size_t ntags)
{
    int r = shm_check_write(c, key, klen, val, vlen);
    if (r)
        return r;
    uint32_t tagidx[SHMC_TAGS_MAX];
    if (ntags && (r = shm_tag_indexes(c, tags, ntags, tagidx)) != 0)
        return r;
    struct keyloc kl;
    shm_locate(c, key, klen, &kl);
    shm_prefetch_key(c, &kl);
    uint64_t expiry = shm_expiry_from_ttl(ttl_ms);
    uint32_t gen;
    r = shm_lock_key(c, &kl, &gen);
    if (r)
        return r;
    struct shm_stripe *st = &c->stripes[kl.stripe];
    if (op != OP_SET) {
        int64_t idx = shm_find_locked(c, &kl, key, klen);
        struct shm_item *it = idx >= 0 ? shm_slot_item_locked(c, (uint64_t)idx) : NULL;
        bool live = shm_item_live_locked(c, it, gen);
        if (op == OP_ADD && live)
            r = -EEXIST;
        else if (op == OP_REPLACE && !live)
            r = -ENOENT;
        else if (op == OP_CAS && !live) {
            BUMP(&st->st.cas_misses, 1);
            r = -ENOENT;
        } else if (op == OP_CAS && LD(&it->cas) != cas) {
            BUMP(&st->st.cas_badval, 1);
            r = -ESTALE;
        } else if (op == OP_CAS) {
            BUMP(&st->st.cas_hits, 1);
        }
    }
    if (!r) {
        struct store_extra x = {tagidx, (unsigned)ntags, ntags ? shm_tag_seq(c) : 0, 0, 0, 0};
        shm_store_locked(c, &kl, key, klen, val, vlen, expiry, flags, gen, ntags ? &x : NULL);
    }
    shm_unlock(c, kl.stripe);
    return r;
}

int shmc_set_tagged(shmc_t *c, const void *key, size_t klen, const void *val, size_t vlen,
                    uint64_t ttl_ms, uint32_t flags, const char *const *tags, size_t ntags)
{
    return store(c, OP_SET, key, klen, val, vlen, ttl_ms, flags, 0, tags, ntags);
}

int shmc_add_tagged(shmc_t *c, const void *key, size_t klen, const void *val, size_t vlen,
                    uint64_t ttl_ms, uint32_t flags, const char *const *tags, size_t ntags)
{
    return store(c, OP_ADD, key, klen, val, vlen, ttl_ms, flags, 0, tags, ntags);
}

int shmc_set(shmc_t *c, const void *key, size_t klen, const void *val, size_t vlen,
             uint64_t ttl_ms, uint32_t flags)
{
    return store(c, OP_SET, key, klen, val, vlen, ttl_ms, flags, 0, NULL, 0);
}

int shmc_add(shmc_t *c, const void *key, size_t klen, const void *val, size_t vlen,
             uint64_t ttl_ms, uint32_t flags)
{
    return store(c, OP_ADD, key, klen, val, vlen, ttl_ms, flags, 0, NULL, 0);
}

int shmc_replace(shmc_t *c, const void *key, size_t klen, const void *val, size_t vlen,
                 uint64_t ttl_ms, uint32_t flags)
{
    return store(c, OP_REPLACE, key, klen, val, vlen, ttl_ms, flags, 0, NULL, 0);
}

int shmc_cas(shmc_t *c, const void *key, size_t klen, const void *val, size_t vlen,
             uint64_t ttl_ms, uint32_t flags, uint64_t cas)
{
    return store(c, OP_CAS, key, klen, val, vlen, ttl_ms, flags, cas, NULL, 0);
}

/* Parse an unsigned decimal of 1..20 digits that fits in 64 bits. */
static bool parse_u64(const char *s, size_t n, uint64_t *out)
{
    if (n == 0 || n > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

int shmc_incr(shmc_t *c, const void *key, size_t klen, int64_t delta, const uint64_t *initial,
              uint64_t ttl_ms, uint64_t *result)
{
    uint64_t create_expiry = initial ? shm_expiry_from_ttl(ttl_ms) : 0;
    struct keyop op;
    int r = shm_keyop_begin(c, key, klen, &op);
    if (r)
        return r;
    struct keyloc kl = op.kl;
    uint32_t gen = op.gen;
    struct shm_stripe *st = op.st;
    struct shm_item *s = op.it;
    char num[24];
    uint64_t v;
    if (!shm_item_live_locked(c, s, gen)) {
        BUMP(&st->st.incr_misses, 1);
        if (!initial) {
            r = -ENOENT;
        } else {
            v = *initial;
            int n = snprintf(num, sizeof(num), "%llu", (unsigned long long)v);
            if ((size_t)n > c->max_val)
                r = -E2BIG;
            else
                shm_store_locked(c, &kl, key, klen, num, (size_t)n, create_expiry, 0, gen, NULL);
        }
    } else {
        uint32_t vlen = LD(&s->vlen);
        if (vlen == 0 || vlen > 20) {
            r = -EINVAL;
        } else {
            shm_copy_out(num, (uint8_t *)s + shm_item_val_off(klen, LD(&s->ntags)), vlen, sizeof(num));
            if (!parse_u64(num, vlen, &v)) {
                r = -EINVAL;
            } else {
                if (delta >= 0)
                    v += (uint64_t)delta; /* wraps, as memcached */
                else
                    v = (uint64_t)(-(delta + 1)) + 1 > v ? 0 : v - ((uint64_t)(-(delta + 1)) + 1);
                int n = snprintf(num, sizeof(num), "%llu", (unsigned long long)v);
                if ((size_t)n > c->max_val) {
                    r = -E2BIG;
                } else {
                    /* The counter keeps its flags, expiry and tags (with the
                     * tag_seq it was stored under: it is live, so none of its
                     * tags was invalidated since). */
                    uint32_t tagidx[SHMC_TAGS_MAX];
                    struct store_extra x = {tagidx, 0, 0, 0, 0, 0};
                    if (LD(&s->state) & SLOT_TAGGED) {
                        uint64_t item = (uint64_t)((uint8_t *)s - c->base);
                        x.ntags = shm_item_tag_indexes(c, item, LD(&s->ntags), tagidx);
                        x.tag_seq = shm_item_tag_seq(c, item);
                    }
                    BUMP(&st->st.incr_hits, 1);
                    shm_store_locked(c, &kl, key, klen, num, (size_t)n, LD(&s->expiry), LD(&s->flags), gen,
                                     x.ntags ? &x : NULL);
                }
            }
        }
    }
    shm_unlock(c, kl.stripe);
    if (!r && result)
        *result = v;
    return r;
}

int shmc_touch(shmc_t *c, const void *key, size_t klen, uint64_t ttl_ms)
{
    uint64_t expiry = shm_expiry_from_ttl(ttl_ms);
    struct keyop op;
    int r = shm_keyop_begin(c, key, klen, &op);
    if (r)
        return r;
    struct shm_stripe *st = op.st;
    BUMP(&st->st.cmd_touch, 1);
    if (shm_item_live_locked(c, op.it, op.gen)) {
        uint32_t was = shm_change_begin_locked(st);
        struct shm_bucket *bk = shm_bucket_of(c, (uint64_t)op.idx);
        uint32_t odd = shm_bucket_begin(bk);
        ST(&op.it->expiry, expiry);
        shm_bucket_end(bk, odd);
        shm_change_end_locked(st, was);
        BUMP(&st->st.touch_hits, 1);
    } else {
        BUMP(&st->st.touch_misses, 1);
        r = -ENOENT;
    }
    shm_unlock(c, op.kl.stripe);
    return r;
}

int shmc_delete(shmc_t *c, const void *key, size_t klen)
{
    struct keyop op;
    int r = shm_keyop_begin(c, key, klen, &op);
    if (r)
        return r;
    shm_journal_append(c, SHMC_JOURNAL_DELETE, key, klen); /* journal: before the change */
    struct shm_stripe *st = op.st;
    if (op.idx >= 0) {
        bool live = shm_item_live_locked(c, op.it, op.gen);
        uint32_t was = shm_change_begin_locked(st);
        shm_drop_slot_locked(c, (uint64_t)op.idx, live ? DROP_DELETE : DROP_RECLAIM);
        shm_change_end_locked(st, was);
        r = live ? 0 : -ENOENT;
    } else {
        r = -ENOENT;
    }
    BUMP(r ? &st->st.delete_misses : &st->st.delete_hits, 1);
    shm_unlock(c, op.kl.stripe);
    return r;
}
