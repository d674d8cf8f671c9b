/*
 * maint.c - whole-cache operations: clear, flush_expired, iterate, stats.
 *
 * Invariant: clear is O(1) and immediate for every process: one atomic
 * increment of the segment's generation; entries of older generations are
 * dead to every reader from that instant and their room is reused lazily.
 * Walks (flush_expired, iterate) take one stripe at a time, so they never
 * hold more than one lock and never stall the whole cache.
 */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"
#include "state.h"
#include "journal.h" /* journal */

int shmc_clear(shmc_t *c)
{
    if (!c)
        return -EINVAL;
    if (!shm_writable(c))
        return -EROFS;
    shm_journal_append(c, SHMC_JOURNAL_CLEAR, NULL, 0); /* journal: before the change */
    /* seq_cst: readers that start after this returns load the new value
     * (their acquire load in shm_gen); pairs with it. */
    atomic_fetch_add(&c->hdr->generation, 1);
    return 0;
}

int64_t shmc_flush_expired(shmc_t *c)
{
    if (!c)
        return -EINVAL;
    if (!shm_writable(c))
        return -EROFS;
    int64_t n = 0;
    for (uint32_t s = 0; s < c->nstripes; s++) {
        int r = shm_lock(c, s);
        if (r)
            return r;
        uint32_t gen = shm_gen(c);
        shm_sync_gen_locked(c, s, gen);
        struct shm_stripe *st = &c->stripes[s];
        uint32_t was = shm_change_begin_locked(st);
        for (uint64_t b = s; b < c->nbuckets; b += c->nstripes) {
            for (unsigned i = 0; i < SHMC_SLOTS_PER_BUCKET; i++) {
                uint64_t idx = b * SHMC_SLOTS_PER_BUCKET + i;
                struct shm_item *it = shm_slot_item_locked(c, idx);
                if (!it)
                    continue;
                struct shm_emeta m = shm_emeta_of(it);
                enum shm_estate es = shm_entry_state(c, (uint64_t)((uint8_t *)it - c->base), &m, gen);
                if (shm_entry_reclaimable(es, m.expiry)) {
                    shm_drop_slot_locked(c, idx, DROP_RECLAIM);
                    n++;
                }
            }
        }
        shm_change_end_locked(st, was);
        shm_unlock(c, s);
    }
    return n;
}

/* Copy slot idx's metadata and key consistently. 1 to report, 0 not,
 * <0 error. With all, stale entries and lease placeholders are reported. */
static int snap_entry(shmc_t *c, uint64_t idx, uint32_t gen, bool all, uint8_t *kbuf, shmc_entry_t *e)
{
    struct shm_bucket *bk = shm_bucket_of(c, idx);
    unsigned i = shm_slot_in(idx);
    for (unsigned attempt = 0; attempt < SHMC_READ_RETRIES * 16; attempt++) {
        uint32_t s1 = atomic_load_explicit(&bk->seq, memory_order_acquire);
        if (s1 & 1) {
            cpu_relax();
            continue;
        }
        uint64_t item = shm_off_decode(c, idx / SHMC_SLOTS_PER_BUCKET, LD(&bk->off[i]));
        bool sane = !item || shm_item_ok(c, item, sizeof(struct shm_item));
        enum shm_estate es = ES_EMPTY;
        if (item && sane) {
            struct shm_item *it = shm_item_at(c, item);
            uint32_t klen = LD(&it->klen), vlen = LD(&it->vlen);
            struct shm_emeta m = shm_emeta_of(it);
            sane = klen && klen <= c->max_key && m.ntags <= SHMC_TAGS_MAX &&
                   shm_item_ok(c, item, shm_item_size(klen, vlen, m.ntags));
            if (sane) {
                es = shm_entry_state(c, item, &m, gen);
                shm_copy_out(kbuf, c->base + item + shm_item_key_off(m.ntags), klen, c->max_key + 8);
                e->klen = klen;
                e->vlen = vlen;
                e->flags = LD(&it->flags);
                e->cas = LD(&it->cas);
                e->ntags = m.ntags;
                e->ttl_ms = m.expiry ? shm_ttl_left(m.expiry) : -1;
                uint32_t hot = LD(&bk->hot);
                e->state = ((hot & HOT_FETCHED(i)) ? SHMC_ENTRY_FETCHED : 0) |
                           (es == ES_STALE || es == ES_EXPIRED ? SHMC_ENTRY_STALE : 0) |
                           /* a lease's deadline is the entry's expiry */
                           ((m.state & SLOT_LEASED) && LD(&it->lease) && !shm_expired(m.expiry)
                                ? SHMC_ENTRY_LEASED : 0) |
                           (m.ntags ? SHMC_ENTRY_TAGGED : 0) |
                           (es == ES_PLACEHOLDER ? SHMC_ENTRY_NOVALUE : 0);
            }
        }
        atomic_thread_fence(memory_order_acquire);
        if (LD(&bk->seq) != s1)
            continue;
        if (!sane)
            return -EBADMSG;
        if (es == ES_EMPTY || es == ES_FLUSHED)
            return 0;
        if (es != ES_LIVE)
            return all ? 1 : 0;
        return 1;
    }
    return -EBUSY;
}

int shmc_iterate_ex(shmc_t *c, unsigned flags, int (*fn)(const shmc_entry_t *e, void *arg), void *arg)
{
    if (!c || !fn || (flags & ~(SHMC_ITER_STALE | SHMC_ITER_SKIPPED)))
        return -EINVAL;
    bool all = flags & SHMC_ITER_STALE;
    bool report_skipped = flags & SHMC_ITER_SKIPPED;
    uint8_t *kbuf = malloc(c->max_key + 8);
    if (!kbuf)
        return -ENOMEM;
    int ret = 0;
    uint32_t gen = shm_gen(c);
    for (uint32_t s = 0; s < c->nstripes && !ret; s++) {
        for (uint64_t b = s; b < c->nbuckets && !ret; b += c->nstripes) {
            for (unsigned i = 0; i < SHMC_SLOTS_PER_BUCKET && !ret; i++) {
                shmc_entry_t e;
                memset(&e, 0, sizeof(e));
                uint64_t idx = b * SHMC_SLOTS_PER_BUCKET + i;
                int r = snap_entry(c, idx, gen, all, kbuf, &e);
                if (r == -EBUSY && shm_writable(c)) {
                    /* A writer kept the slot busy: read it under the lock. */
                    int lr = shm_lock(c, s);
                    if (lr && !report_skipped) {
                        ret = lr;
                        break;
                    }
                    if (!lr) {
                        r = snap_entry(c, idx, gen, all, kbuf, &e);
                        shm_unlock(c, s);
                    }
                }
                if (r == 1) {
                    e.key = kbuf;
                    ret = fn(&e, arg);
                } else if (r < 0 && report_skipped) {
                    /* A slot that could not be read (corrupt, or busy). */
                    memset(&e, 0, sizeof(e));
                    e.state = SHMC_ENTRY_SKIPPED;
                    ret = fn(&e, arg);
                }
            }
        }
    }
    free(kbuf);
    return ret;
}

int shmc_iterate(shmc_t *c, int (*fn)(const shmc_entry_t *e, void *arg), void *arg)
{
    return shmc_iterate_ex(c, 0, fn, arg);
}

int shmc_stats(shmc_t *c, shmc_stats_t *o)
{
    if (!c || !o)
        return -EINVAL;
    memset(o, 0, sizeof(*o));
    uint64_t gen = atomic_load_explicit(&c->hdr->generation, memory_order_acquire);
    for (uint32_t s = 0; s < c->nstripes; s++) {
        struct shm_wstats *w = &c->stripes[s].st;
        /* Counts of a stripe not written since the last clear are dead. */
        if (LD(&c->stripes[s].count_gen) == (uint32_t)gen) {
            o->curr_items += shm_stripe_items(&c->stripes[s]);
            o->bytes += shm_stripe_bytes(&c->stripes[s]);
        }
#define ADD(n) o->n += LD(&w->n);
        SHMC_STRIPE_COUNTERS(ADD)
#undef ADD
    }
    struct shm_proc sum;
    o->attached_processes = shm_procs_sum(c, &sum);
#define COPY(n) o->n = LD(&sum.n);
    SHMC_ROW_COUNTERS(COPY)
#undef COPY
    /* No get bumps the rows' cmd_get (it stays 0); every get bumps exactly
     * one of these three (read.c). */
    o->cmd_get = o->get_hits + o->get_misses + o->stale_hits;
    o->tag_invalidations = LD(&c->hdr->tag_invalidations);
    o->capacity = c->capacity;
    o->index_slots = c->nslots;
    o->limit_maxbytes = c->memory;
    o->stripes = c->nstripes;
    o->max_key_len = c->max_key;
    o->max_value_len = c->max_val;
    o->generation = gen;
    uint64_t now = shm_now_ms();
    o->uptime_ms = now > c->hdr->created_mono_ms ? now - c->hdr->created_mono_ms : 0;
    return 0;
}
