/*
 * write.c - set, add, replace, cas, incr, touch and delete.
 *
 * Invariant: every change happens under the key's stripe lock, with the
 * stripe marked dirty for its duration (so a holder that dies half-way gets
 * its stripe wiped by the next locker, lock.c), and reaches readers only
 * through a slot's seqlock:
 *
 *   item bytes written into free log space (release fence first, see
 *   read.c: those bytes may still be read by a reader of their old owner)
 *   seq = odd; release fence        pairs with the reader's acquire fence
 *   slot fields, bucket tag
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

/* Write a new item at off and point slot idx at it. */
static void publish_locked(shmc_t *c, const struct keyloc *kl, uint64_t idx, uint64_t off,
                           const void *key, size_t klen, const void *val, size_t vlen,
                           uint64_t expiry, uint32_t flags, const struct store_extra *x)
{
    struct shm_stripe *st = &c->stripes[kl->stripe];
    struct shm_bucket *bk = &c->buckets[idx / SHMC_SLOTS_PER_BUCKET];
    unsigned i = (unsigned)(idx % SHMC_SLOTS_PER_BUCKET);
    struct shm_slot *s = &bk->slot[i];
    unsigned ntags = x ? x->ntags : 0;
    uint64_t size = shm_item_size(klen, vlen, ntags);
    uint32_t gen = LD(&st->count_gen);

    /* The item first: nobody references these bytes yet, but a reader of
     * their previous owner may still be copying them; this fence orders our
     * stores after the seq change that retired that owner. */
    atomic_thread_fence(memory_order_release);
    struct shm_item *it = (struct shm_item *)(void *)(c->base + off);
    ST(&it->size, (uint32_t)size);
    ST(&it->slot, (uint32_t)idx);
    if (ntags) {
        uint8_t area[8 + 4 * SHMC_TAGS_MAX];
        memcpy(area, &x->tag_seq, 8);
        memcpy(area + 8, x->tags, 4 * ntags);
        shm_copy_in(c->base + off + sizeof(struct shm_item), area, 8 + 4 * ntags);
    }
    shm_copy_in(c->base + off + shm_item_key_off(ntags), key, klen);
    if (vlen)
        shm_copy_in(c->base + off + shm_item_val_off(klen, ntags), val, vlen);

    if (LD(&s->item) && LD(&s->gen) == gen) {
        ST(&st->st.curr_items, LD(&st->st.curr_items) - 1);
        ST(&st->st.bytes, LD(&st->st.bytes) - shm_slot_item_size(s));
    }
    uint64_t cas = LD(&st->cas_next);
    ST(&st->cas_next, cas + 1);

    uint32_t odd = shm_slot_begin(s);
    SHMC_HOOK(SHMC_HOOK_SLOT_ODD, kl->stripe);
    ST(&s->item, off);
    ST(&s->hash, kl->h);
    ST(&s->expiry, expiry);
    ST(&s->cas, (cas << 10) | kl->stripe); /* unique across stripes */
    ST(&s->vlen, (uint32_t)vlen);
    ST(&s->flags, flags);
    ST(&s->klen, (uint16_t)klen);
    ST(&s->state, (uint8_t)((x ? x->state : 0) | (ntags ? SLOT_TAGGED : 0) |
                            (x && x->lease ? SLOT_LEASED : 0)));
    ST(&s->ntags, (uint8_t)ntags);
    ST(&s->lease, x ? x->lease : 0);
    ST(&s->lease_gseq, x ? x->lease_gseq : 0);
    ST(&s->gen, gen);
    /* The bucket's first line is read by every lookup: leave it untouched
     * (shared in every cache) when nothing in it changes, as when a key is
     * overwritten and was not read since. */
    if (LD(&bk->tag[i]) != kl->tag)
        ST(&bk->tag[i], kl->tag);
    if (LD(&bk->hint[i]) != shm_item_hint(off))
        ST(&bk->hint[i], shm_item_hint(off));
    if (LD(&bk->hot[i]))
        ST(&bk->hot[i], 0);
    shm_slot_end(s, odd);

    BUMP(&st->st.curr_items, 1);
    BUMP(&st->st.bytes, size);
    BUMP(&st->st.total_items, 1);
    BUMP(&st->st.cmd_set, 1);
}

/* Store under the lock: room in the log, then the slot the key has (it may
 * have been evicted while making room), else a free or evicted one. */
void shm_store_locked(shmc_t *c, const struct keyloc *kl, const void *key, size_t klen,
                      const void *val, size_t vlen, uint64_t expiry, uint32_t flags, uint32_t gen,
                      const struct store_extra *x)
{
    struct shm_stripe *st = &c->stripes[kl->stripe];
    shm_journal_store_locked(c, key, klen, x && (x->state & SLOT_NOVALUE)); /* journal */
    ST(&st->dirty, 1);
    uint64_t size = shm_item_size(klen, vlen, x ? x->ntags : 0);
    int64_t off = shm_arena_alloc_locked(c, kl->stripe, size, gen);
    int64_t idx = shm_find_hash_locked(c, kl, klen);
    if (idx < 0)
        idx = shm_choose_slot_locked(c, kl, gen);
    publish_locked(c, kl, (uint64_t)idx, (uint64_t)off, key, klen, val, vlen, expiry, flags, x);
    ST(&st->dirty, 0);
}

/* Lock the key's stripe and bring its counters to the current generation. */
int shm_lock_key_op(shmc_t *c, const void *key, size_t klen, struct keyloc *kl, uint32_t *gen)
{
    int r = shm_check_write(c, key, klen, "", 0);
    if (r)
        return r;
    shm_locate(c, key, klen, kl);
    shm_prefetch_key(c, kl);
    return shm_lock_key(c, kl, gen);
}

/* Start loading what a write to this key will touch (its buckets' tag
 * lines and the stripe's log tail) before the lock is taken, so the cache
 * misses overlap the lock's own latency. Reads here are unlocked and only
 * used as prefetch addresses: a prefetch never faults and changes nothing. */
void shm_prefetch_key(const shmc_t *c, const struct keyloc *kl)
{
    for (int k = 0; k < kl->nb; k++)
        __builtin_prefetch(&c->buckets[kl->b[k]], 1);
    const struct shm_stripe *st = &c->stripes[kl->stripe];
    uint64_t tail = LD(&st->tail);
    if (tail < c->stripe_bytes)
        __builtin_prefetch(c->base + shm_arena_base(c, kl->stripe) + tail, 0);
}

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
    r = shm_tag_indexes(c, tags, ntags, tagidx);
    if (r)
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
        bool live = idx >= 0 && shm_slot_live_locked(c, shm_slot_at(c, (uint64_t)idx), gen);
        if (op == OP_ADD && live)
            r = -EEXIST;
        else if (op == OP_REPLACE && !live)
            r = -ENOENT;
        else if (op == OP_CAS && !live) {
            BUMP(&st->st.cas_misses, 1);
            r = -ENOENT;
        } else if (op == OP_CAS && LD(&shm_slot_at(c, (uint64_t)idx)->cas) != cas) {
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
    struct keyloc kl;
    uint32_t gen;
    int r = shm_lock_key_op(c, key, klen, &kl, &gen);
    if (r)
        return r;
    struct shm_stripe *st = &c->stripes[kl.stripe];
    int64_t idx = shm_find_locked(c, &kl, key, klen);
    struct shm_slot *s = idx >= 0 ? shm_slot_at(c, (uint64_t)idx) : NULL;
    char num[24];
    uint64_t v;
    if (!s || !shm_slot_live_locked(c, s, gen)) {
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
        } else if (!shm_item_ok(c, LD(&s->item), shm_item_size(klen, vlen, LD(&s->ntags)))) {
            r = -EBADMSG;
        } else {
            shm_copy_out(num, c->base + LD(&s->item) + shm_item_val_off(klen, LD(&s->ntags)), vlen, sizeof(num));
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
                        x.ntags = shm_item_tag_indexes(c, LD(&s->item), LD(&s->ntags), tagidx);
                        x.tag_seq = shm_item_tag_seq(c, LD(&s->item));
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
    struct keyloc kl;
    uint32_t gen;
    int r = shm_lock_key_op(c, key, klen, &kl, &gen);
    if (r)
        return r;
    struct shm_stripe *st = &c->stripes[kl.stripe];
    BUMP(&st->st.cmd_touch, 1);
    int64_t idx = shm_find_locked(c, &kl, key, klen);
    struct shm_slot *s = idx >= 0 ? shm_slot_at(c, (uint64_t)idx) : NULL;
    if (s && shm_slot_live_locked(c, s, gen)) {
        ST(&st->dirty, 1);
        uint32_t odd = shm_slot_begin(s);
        ST(&s->expiry, expiry);
        shm_slot_end(s, odd);
        ST(&st->dirty, 0);
        BUMP(&st->st.touch_hits, 1);
    } else {
        BUMP(&st->st.touch_misses, 1);
        r = -ENOENT;
    }
    shm_unlock(c, kl.stripe);
    return r;
}

int shmc_delete(shmc_t *c, const void *key, size_t klen)
{
    struct keyloc kl;
    uint32_t gen;
    int r = shm_lock_key_op(c, key, klen, &kl, &gen);
    if (r)
        return r;
    shm_journal_append(c, SHMC_JOURNAL_DELETE, key, klen); /* journal: before the change */
    struct shm_stripe *st = &c->stripes[kl.stripe];
    int64_t idx = shm_find_locked(c, &kl, key, klen);
    if (idx >= 0) {
        bool live = shm_slot_live_locked(c, shm_slot_at(c, (uint64_t)idx), gen);
        ST(&st->dirty, 1);
        shm_drop_slot_locked(c, (uint64_t)idx, live ? DROP_DELETE : DROP_RECLAIM);
        ST(&st->dirty, 0);
        r = live ? 0 : -ENOENT;
    } else {
        r = -ENOENT;
    }
    BUMP(r ? &st->st.delete_misses : &st->st.delete_hits, 1);
    shm_unlock(c, kl.stripe);
    return r;
}
