/*
 * read.c - the lock-free get.
 *
 * Invariant: a get returns a value that some set stored whole for that
 * exact key, never one a completed delete/clear/invalidation removed, and on
 * its common path takes no lock and writes nothing another process writes.
 *
 * Reader protocol for one bucket (the writer's is in index.c / write.c):
 *
 *   s1 = load_acquire(bucket.seq)      pairs with the writer's release store
 *   if s1 odd: a writer is inside: retry   of the even seq that ends a write
 *   for each slot whose tag matches:
 *     item = stripe base + 8 * (off - 1)   bounds-checked against item memory
 *     copy the item header, compare the key, copy the value
 *                                        relaxed atomic loads; nothing read
 *                                        here is trusted or followed beyond
 *                                        bounds checked against the mapping
 *   acquire fence                        orders the copies before the re-check;
 *                                        pairs with the writer's release fence
 *                                        after making seq odd
 *   s2 = load_relaxed(bucket.seq)
 *   s1 == s2: the copy is one whole state of the bucket and of the headers
 *   its slots point to (their mutable fields change only inside the
 *   bucket's seqlock); else retry.
 *
 * So a hit costs the bucket's line, then the item's lines (whose address
 * the bucket gives): one dependent miss. The second bucket is read only
 * when the home bucket's ovf says some key homed here lives there.
 *
 * Item bytes can be reused by a later allocation; such a writer issues a
 * release fence before writing them (arena.c, write.c), after the bucket
 * that pointed there had its seq moved, so a reader that copied reused
 * bytes sees a moved seq. After SHMC_READ_RETRIES failed attempts the
 * reader takes the stripe lock, which also repairs a bucket left odd by a
 * writer that died.
 */
#include <errno.h>
#include <sched.h>

#include "internal.h"
#include "state.h"

enum rd { RD_HIT, RD_NOTHERE, RD_RETRY, RD_EXPIRED, RD_FLUSHED, RD_STALE, RD_NOVALUE, RD_CORRUPT };

struct rdout {
    uint64_t cas, expiry;
    uint32_t flags, vlen;
    uint64_t bucket;
    unsigned slot;
};

static inline bool validate(struct shm_bucket *bk, uint32_t s1)
{
    atomic_thread_fence(memory_order_acquire);
    return LD(&bk->seq) == s1;
}

static const enum rd rd_of_state[] = {
    [ES_EMPTY] = RD_NOTHERE,  [ES_FLUSHED] = RD_FLUSHED, [ES_PLACEHOLDER] = RD_NOVALUE,
    [ES_STALE] = RD_STALE,    [ES_EXPIRED] = RD_EXPIRED, [ES_LIVE] = RD_HIT,
};

/* Look for key in bucket b. Copies the value into buf when it is live and
 * fits; with want_stale, a stale (invalidated/expired) value is copied too.
 * *ovf gets the bucket's ovf word (read inside the same window). */
static enum rd probe(shmc_t *c, uint64_t b, const struct keyloc *kl, const void *key, size_t klen,
                     void *buf, size_t cap, uint32_t gen, bool want_stale, struct rdout *o,
                     uint32_t *ovf)
{
    struct shm_bucket *bk = &c->buckets[b];
    uint32_t s1 = atomic_load_explicit(&bk->seq, memory_order_acquire);
    if (s1 & 1)
        return RD_RETRY;
    *ovf = LD(&bk->ovf) & OVF_COUNT;
    if (*ovf && kl->nb == 2 && b == kl->b[0]) /* start the second line now */
        __builtin_prefetch(&c->buckets[kl->b[1]], 0);
    uint64_t sbase = shm_arena_base(c, kl->stripe);
    for (unsigned i = 0; i < SHMC_SLOTS_PER_BUCKET; i++) {
        if (LD(&bk->tag[i]) != kl->tag)
            continue;
        uint32_t off = LD(&bk->off[i]);
        if (!off)
            continue;
        uint64_t item = sbase + (uint64_t)(off - 1) * SHMC_ITEM_ALIGN;
        /* Bounds before following the offset: a torn read or a corrupt
         * segment must not make us read outside item memory. */
        if (!shm_item_ok(c, item, sizeof(struct shm_item)))
            return validate(bk, s1) ? RD_CORRUPT : RD_RETRY;
        /* The header, key and a small value span two or three lines: ask
         * for the next ones now, so their misses overlap the first's
         * instead of following the key compare (prefetches never fault). */
        __builtin_prefetch(c->base + item + SHMC_CACHELINE, 0);
        __builtin_prefetch(c->base + item + 2 * SHMC_CACHELINE, 0);
        struct shm_item *it = shm_item_at(c, item);
        if (LD(&it->klen) != klen)
            continue;
        struct shm_emeta m = {LD(&it->expiry), LD(&it->gen), LD(&it->state), LD(&it->ntags)};
        uint32_t vlen = LD(&it->vlen);
        if (m.ntags > SHMC_TAGS_MAX || !shm_item_ok(c, item, shm_item_size(klen, vlen, m.ntags)))
            return validate(bk, s1) ? RD_CORRUPT : RD_RETRY;
        if (!shm_equal(c->base + item + shm_item_key_off(m.ntags), key, klen))
            continue;
        enum rd res = rd_of_state[shm_entry_state(c, item, &m, gen)];
        o->cas = LD(&it->cas);
        o->flags = LD(&it->flags);
        o->vlen = vlen;
        o->expiry = m.expiry;
        o->bucket = b;
        o->slot = i;
        if ((res == RD_HIT || (want_stale && (res == RD_STALE || res == RD_EXPIRED))) && vlen <= cap && vlen)
            shm_copy_out(buf, c->base + item + shm_item_val_off(klen, m.ntags), vlen, cap);
        return validate(bk, s1) ? res : RD_RETRY;
    }
    return validate(bk, s1) ? RD_NOTHERE : RD_RETRY;
}

static enum rd lookup(shmc_t *c, const struct keyloc *kl, const void *key, size_t klen, void *buf,
                      size_t cap, bool want_stale, struct rdout *o)
{
    uint32_t gen = shm_gen(c);
    uint32_t ovf;
    enum rd r = probe(c, kl->b[0], kl, key, klen, buf, cap, gen, want_stale, o, &ovf);
    if (r != RD_NOTHERE || !ovf || kl->nb < 2)
        return r;
    return probe(c, kl->b[1], kl, key, klen, buf, cap, gen, want_stale, o, &ovf);
}

int shm_check_key(const shmc_t *c, const void *key, size_t klen)
{
    if (!key || klen == 0)
        return -EINVAL;
    if (klen > c->max_key)
        return -E2BIG;
    return 0;
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
    /* cmd_get is never counted (the row's word stays 0): every get that
     * gets this far bumps exactly one of get_hits, get_misses and
     * stale_hits (get_expired, get_flushed and get_locked are sub-counts),
     * and shmc_stats and shmc_procs report cmd_get as their sum. That saves
     * a counter write per get. */
    if (locked)
        shm_row_bump(row, shared, &row->get_locked);
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
        shm_row_bump(row, shared, &row->get_misses);
        if (res == RD_EXPIRED)
            shm_row_bump(row, shared, &row->get_expired);
        return -ENOENT;
    case RD_FLUSHED:
        shm_row_bump(row, shared, &row->get_misses);
        shm_row_bump(row, shared, &row->get_flushed);
        return -ENOENT;
    case RD_CORRUPT:
        shm_row_bump(row, shared, &row->get_misses);
        return -EBADMSG;
    default:
        shm_row_bump(row, shared, &row->get_misses);
        return -ENOENT;
    }
    *vlen = o.vlen;
    if (stale)
        shm_row_bump(row, shared, &row->stale_hits);
    else
        shm_row_bump(row, shared, &row->get_hits);
    /* CLOCK reference and "fetched" bits: written only when not yet set, so
     * a hot entry costs one shared write per eviction cycle, not per get. */
    if (shm_writable(c)) {
        a32 *hot = &c->buckets[o.bucket].hot;
        if ((LD(hot) & HOT_ALL(o.slot)) != HOT_ALL(o.slot))
            atomic_fetch_or_explicit(hot, HOT_ALL(o.slot), memory_order_relaxed);
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
