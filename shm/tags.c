/*
 * tags.c - group invalidation in O(1).
 *
 * Invariant: no entry stored before an invalidation of one of its tags
 * began is served after that invalidation returned. (A set concurrent
 * with the invalidation may be ordered after it; a leased set is stamped
 * with its lease's grant, so it is ordered before any invalidation
 * numbered after the grant, see lease.c.) The segment keeps a global counter, tag_seq, and a table of
 * SHMC_TAG_SLOTS words indexed by a hash of the tag name. Invalidating a
 * tag takes the next number n of tag_seq and raises the tag's word to n.
 * An entry stores the tag_seq it saw when it was written (S) and its tags'
 * table indexes; it is dead once any of its tags' words exceeds S. No lock,
 * no scan, nothing to undo if the invalidating process dies half-way (then
 * the call did not return and promised nothing).
 *
 * Two tags that share a word invalidate each other's entries: false
 * invalidations, never a stale hit.
 */
#include <errno.h>

#include "internal.h"
#include "journal.h" /* journal */
#include "testhook.h"

int shm_tag_indexes(const shmc_t *c, const char *const *tags, size_t ntags, uint32_t *idx)
{
    if (ntags > SHMC_TAGS_MAX || (ntags && !tags))
        return -EINVAL;
    for (size_t i = 0; i < ntags; i++) {
        if (!tags[i])
            return -EINVAL;
        size_t n = strlen(tags[i]);
        if (n == 0 || n > SHMC_TAG_MAX_LEN)
            return -EINVAL;
        idx[i] = (uint32_t)(shm_hash(tags[i], n, c->seed ^ 0x7461677375ull) & (SHMC_TAG_SLOTS - 1));
    }
    return 0;
}

uint64_t shm_tag_seq(const shmc_t *c)
{
    /* Acquire: pairs with the seq_cst increment in shmc_invalidate_tag, so a
     * writer that reads n also sees the table words of invalidations <= n
     * that completed before. */
    return atomic_load_explicit(&c->hdr->tag_seq, memory_order_acquire);
}

/* Whether an item's tag references are all still valid. The caller has
 * bounds-checked the item; indexes are masked, so a torn or corrupt item
 * cannot send us outside the table (the caller's seqlock check decides
 * whether the answer counts). */
bool shm_tags_valid(const shmc_t *c, uint64_t item, unsigned ntags)
{
    uint8_t area[8 + 4 * SHMC_TAGS_MAX];
    if (ntags > SHMC_TAGS_MAX || !shm_item_ok(c, item, sizeof(struct shm_item) + shm_tags_size(ntags)))
        return false;
    shm_copy_out(area, c->base + item + sizeof(struct shm_item), 8 + 4 * ntags, sizeof(area));
    uint64_t stored;
    memcpy(&stored, area, 8);
    /* No invalidation numbered after the entry's stamp has even begun: its
     * tags cannot be newer. One load of a line that is written only by
     * invalidations, instead of a table word per tag. */
    if (shm_tag_seq(c) <= stored)
        return true;
    for (unsigned i = 0; i < ntags; i++) {
        uint32_t idx;
        memcpy(&idx, area + 8 + 4 * i, 4);
        uint64_t last = atomic_load_explicit(&c->tags[idx & (SHMC_TAG_SLOTS - 1)], memory_order_acquire);
        if (last > stored)
            return false;
    }
    return true;
}

/* Whether any of the tags (table indexes) was invalidated after tag_seq was
 * at `since` (low 32 bits, compared with wrap-around). */
bool shm_tags_changed_since(const shmc_t *c, const uint32_t *idx, size_t n, uint32_t since)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t last = (uint32_t)atomic_load_explicit(&c->tags[idx[i] & (SHMC_TAG_SLOTS - 1)],
                                                       memory_order_acquire);
        if ((int32_t)(last - since) > 0)
            return true;
    }
    return false;
}

/* Table indexes stored in an item (for leases on a tagged stale entry). */
unsigned shm_item_tag_indexes(const shmc_t *c, uint64_t item, unsigned ntags, uint32_t *idx)
{
    uint8_t area[8 + 4 * SHMC_TAGS_MAX];
    if (ntags > SHMC_TAGS_MAX)
        ntags = SHMC_TAGS_MAX;
    if (!shm_item_ok(c, item, sizeof(struct shm_item) + shm_tags_size(ntags)))
        return 0;
    shm_copy_out(area, c->base + item + sizeof(struct shm_item), 8 + 4 * ntags, sizeof(area));
    for (unsigned i = 0; i < ntags; i++)
        memcpy(&idx[i], area + 8 + 4 * i, 4);
    return ntags;
}

/* The tag_seq an item was stored under. */
uint64_t shm_item_tag_seq(const shmc_t *c, uint64_t item)
{
    uint64_t v = 0;
    if (shm_item_ok(c, item, sizeof(struct shm_item) + 8))
        shm_copy_out(&v, c->base + item + sizeof(struct shm_item), 8, 8);
    return v;
}

int shmc_invalidate_tag(shmc_t *c, const char *tag)
{
    if (!c)
        return -EINVAL;
    uint32_t idx;
    int r = shm_tag_indexes(c, &tag, 1, &idx);
    if (r)
        return r;
    if (!shm_writable(c))
        return -EROFS;
    shm_journal_append(c, SHMC_JOURNAL_TAG, tag, strlen(tag)); /* journal: before the change */
    uint64_t n = atomic_fetch_add(&c->hdr->tag_seq, 1) + 1;
    SHMC_HOOK(SHMC_HOOK_TAG_GAP, 0);
    /* Raise the word to n (never lower it: a slower concurrent
     * invalidation of a tag sharing the word may hold a smaller number). */
    a64 *w = &c->tags[idx];
    uint64_t cur = atomic_load(w);
    while (cur < n && !atomic_compare_exchange_weak(w, &cur, n))
        ;
    atomic_fetch_add_explicit(&c->hdr->tag_invalidations, 1, memory_order_relaxed);
    return 0;
}
