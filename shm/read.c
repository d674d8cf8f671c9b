/*
 * read.c - the lock-free get.
 *
 * Invariant: a get returns a value that some set stored whole for that
 * exact key, never one a completed delete/clear/invalidation removed, and on
 * its common path takes no lock and writes nothing another process writes.
 *
 * Reader protocol for one slot (the writer's is in index.c / write.c):
 *
 *   s1 = load_acquire(slot.seq)        pairs with the writer's release store
 *   if s1 odd: a writer is inside: retry   of the even seq that ends a write
 *   copy slot fields, key and value      relaxed atomic loads; nothing read
 *                                        here is trusted or followed beyond
 *                                        bounds checked against the mapping
 *   acquire fence                        orders the copies before the re-check;
 *                                        pairs with the writer's release fence
 *                                        after making seq odd
 *   s2 = load_relaxed(slot.seq)
 *   s1 == s2: the copy is one whole state of the slot; else retry.
 *
 * Item bytes can be reused by a later allocation; such a writer issues a
 * release fence before writing them (arena.c, write.c), after the slot that
 * pointed there had its seq moved, so a reader that copied reused bytes sees
 * a moved seq. After SHMC_READ_RETRIES failed attempts the reader takes the
 * stripe lock, which also repairs a slot left odd by a writer that died.
 */
#include <errno.h>
#include <sched.h>

#include "internal.h"

enum rd { RD_HIT, RD_NOTHERE, RD_RETRY, RD_EXPIRED, RD_FLUSHED, RD_STALE, RD_NOVALUE, RD_CORRUPT };

struct rdout {
    uint64_t cas, expiry;
    uint32_t flags, vlen;
    uint64_t slot;
    uint8_t  state;
};

static inline bool validate(struct shm_slot *s, uint32_t s1)
{
    atomic_thread_fence(memory_order_acquire);
    return LD(&s->seq) == s1;
}

/* Read slot idx for key. Copies the value into buf when it is live and
 * fits; with want_stale, a stale (invalidated/expired) value is copied too. */
static enum rd read_slot(shmc_t *c, uint64_t idx, const struct keyloc *kl, const void *key,
                         size_t klen, void *buf, size_t cap, uint32_t gen, bool want_stale,
                         struct rdout *o)
{
    struct shm_slot *s = shm_slot_at(c, idx);
    uint32_t s1 = atomic_load_explicit(&s->seq, memory_order_acquire);
    if (s1 & 1)
        return RD_RETRY;
    uint64_t item = LD(&s->item);
    if (!item || LD(&s->hash) != kl->h || LD(&s->klen) != klen)
        return validate(s, s1) ? RD_NOTHERE : RD_RETRY;
    uint32_t vlen = LD(&s->vlen);
    uint8_t ntags = LD(&s->ntags);
    uint64_t size = shm_item_size(klen, vlen, ntags);
    /* Bounds before following the offset: a torn read or a corrupt segment
     * must not make us read outside the arena. */
    if (!shm_item_ok(c, item, size))
        return validate(s, s1) ? RD_CORRUPT : RD_RETRY;
    if (!shm_equal(c->base + item + shm_item_key_off(ntags), key, klen))
        return validate(s, s1) ? RD_NOTHERE : RD_RETRY;
    uint32_t sgen = LD(&s->gen);
    uint8_t state = LD(&s->state);
    uint64_t expiry = LD(&s->expiry);
    enum rd res = RD_HIT;
    if (sgen != gen)
        res = RD_FLUSHED;
    else if (state & SLOT_NOVALUE)
        res = RD_NOVALUE;
    else if (state & SLOT_STALE)
        res = RD_STALE;
    else if (ntags && !shm_tags_valid(c, item, ntags))
        res = RD_STALE;
    else if (expiry && shm_expired(expiry))
        res = RD_EXPIRED;
    o->cas = LD(&s->cas);
    o->flags = LD(&s->flags);
    o->vlen = vlen;
    o->expiry = expiry;
    o->slot = idx;
    o->state = state;
    if ((res == RD_HIT || (want_stale && (res == RD_STALE || res == RD_EXPIRED))) && vlen <= cap && vlen)
        shm_copy_out(buf, c->base + item + shm_item_val_off(klen, ntags), vlen, cap);
    return validate(s, s1) ? res : RD_RETRY;
}

static enum rd lookup(shmc_t *c, const struct keyloc *kl, const void *key, size_t klen, void *buf,
                      size_t cap, bool want_stale, struct rdout *o)
{
    uint32_t gen = shm_gen(c);
    for (int k = 0; k < kl->nb; k++) {
        struct shm_bucket *bk = &c->buckets[kl->b[k]];
        for (unsigned i = 0; i < SHMC_SLOTS_PER_BUCKET; i++) {
            if (LD(&bk->tag[i]) != kl->tag)
                continue;
            /* Start the item's line (its key, then the value) loading now,
             * in parallel with the slot's: the hint may be stale, in which
             * case this was a wasted prefetch, nothing more. */
            uint32_t hint = LD(&bk->hint[i]);
            if (hint) /* integer arithmetic: a wild hint is no pointer */
                __builtin_prefetch((const void *)((uintptr_t)c->base + (uintptr_t)hint * 8), 0);
            enum rd r = read_slot(c, kl->b[k] * SHMC_SLOTS_PER_BUCKET + i, kl, key, klen, buf, cap,
                                  gen, want_stale, o);
            if (r != RD_NOTHERE)
                return r;
        }
    }
    return RD_NOTHERE;
}

int shm_check_key(const shmc_t *c, const void *key, size_t klen)
{
    if (!key || klen == 0)
        return -EINVAL;
    if (klen > c->max_key)
        return -E2BIG;
    return 0;
}

static inline void count(struct shm_proc *r, bool shared, a64 *f)
{
    (void)r;
    if (shared)
        atomic_fetch_add_explicit(f, 1, memory_order_relaxed);
    else
        BUMP(f, 1);
}

/* The shared body of shmc_get and shmc_get_stale. */
int shm_get_common(shmc_t *c, const void *key, size_t klen, void *buf, size_t cap, size_t *vlen,
                   shmc_item_info_t *info, bool want_stale)
{
    if (!c || !vlen || (!buf && cap))
        return -EINVAL;
    int r = shm_check_key(c, key, klen);
    if (r)
        return r;
    struct keyloc kl;
    shm_locate(c, key, klen, &kl);
    struct rdout o;
    enum rd res = RD_RETRY;
    bool locked = false;
    for (unsigned attempt = 0; attempt < SHMC_READ_RETRIES; attempt++) {
        res = lookup(c, &kl, key, klen, buf, cap, want_stale, &o);
        if (likely(res != RD_RETRY))
            break;
        cpu_relax();
    }
    if (unlikely(res == RD_RETRY)) {
        if (shm_writable(c)) {
            r = shm_lock(c, kl.stripe);
            if (r)
                return r;
            res = lookup(c, &kl, key, klen, buf, cap, want_stale, &o);
            shm_unlock(c, kl.stripe);
            locked = true;
        } else {
            /* A read-only mapping cannot take the lock: keep trying a while,
             * yielding, and report -EBUSY rather than wait unboundedly. */
            for (unsigned attempt = 0; attempt < 100000 && res == RD_RETRY; attempt++) {
                if (attempt % 64 == 63)
                    sched_yield();
                res = lookup(c, &kl, key, klen, buf, cap, want_stale, &o);
            }
            if (res == RD_RETRY)
                return -EBUSY;
        }
    }
    bool shared;
    struct shm_proc *row = shm_row(c, &shared);
    /* cmd_get is not counted here: it is get_hits + get_misses, and every
     * get bumps exactly one of those (one counter write per get). */
    if (locked)
        count(row, shared, &row->get_locked);
    bool stale = false;
    switch (res) {
    case RD_HIT:
        break;
    case RD_EXPIRED:
    case RD_STALE:
        if (want_stale) {
            stale = true;
            break;
        }
        count(row, shared, &row->get_misses);
        if (res == RD_EXPIRED)
            count(row, shared, &row->get_expired);
        return -ENOENT;
    case RD_FLUSHED:
        count(row, shared, &row->get_misses);
        count(row, shared, &row->get_flushed);
        return -ENOENT;
    case RD_CORRUPT:
        count(row, shared, &row->get_misses);
        return -EBADMSG;
    default:
        count(row, shared, &row->get_misses);
        return -ENOENT;
    }
    *vlen = o.vlen;
    if (stale)
        count(row, shared, &row->stale_hits);
    else
        count(row, shared, &row->get_hits);
    /* CLOCK reference and "fetched" bits: written only when not yet set, so
     * a hot entry costs one shared write per eviction cycle, not per get. */
    if (shm_writable(c)) {
        a8 *hot = &c->buckets[o.slot / SHMC_SLOTS_PER_BUCKET].hot[o.slot % SHMC_SLOTS_PER_BUCKET];
        if (LD(hot) != HOT_ALL)
            ST(hot, HOT_ALL);
    }
    if (info) {
        info->cas = o.cas;
        info->flags = o.flags;
        /* A stale value is invalid now: its ttl is 0 (while a lease is out
         * on the key its slot's expiry holds the lease's deadline). */
        info->ttl_ms = stale ? 0 : o.expiry ? shm_ttl_left(o.expiry) : -1;
        info->stale = stale;
    }
    return o.vlen > cap ? -ENOBUFS : 0;
}

int shmc_get(shmc_t *c, const void *key, size_t klen, void *buf, size_t cap, size_t *vlen,
             shmc_item_info_t *info)
{
    return shm_get_common(c, key, klen, buf, cap, vlen, info, false);
}

int shmc_peek(shmc_t *c, const void *key, size_t klen, size_t *vlen, shmc_item_info_t *info)
{
    size_t len;
    /* cap 0 copies nothing; -ENOBUFS then just means "live, has bytes" */
    int r = shm_get_common(c, key, klen, NULL, 0, &len, info, false);
    if (r == -ENOBUFS)
        r = 0;
    if (!r && vlen)
        *vlen = len;
    return r;
}

int shmc_get_stale(shmc_t *c, const void *key, size_t klen, void *buf, size_t cap, size_t *vlen,
                   shmc_item_info_t *info)
{
    return shm_get_common(c, key, klen, buf, cap, vlen, info, true);
}
