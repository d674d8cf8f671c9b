/*
 * state.h - the one place that decides what state an entry is in.
 *
 * Every path that needs to know whether an entry is live asks
 * shm_entry_state: the lock-free get (on fields it copied inside a bucket's
 * seqlock window and validates afterwards), the locked writers, iterate
 * and flush_expired. The table of states and transitions is in
 * docs/FORMAT.md ("Entry states").
 *
 *   EMPTY        no item in the slot
 *   FLUSHED      written in an older generation: a clear removed it
 *   PLACEHOLDER  a key with no value, holding a lease (SLOT_NOVALUE)
 *   STALE        invalidated (SLOT_STALE, or one of its tags invalidated
 *                since it was stored): get misses, get_stale serves it
 *   EXPIRED      its expiry has passed: get misses, get_stale serves it
 *   LIVE         everything else: get serves it
 *
 * The order of the tests is the precedence: a cleared entry is gone even if
 * it was also invalidated; a leased entry's expiry holds the lease's
 * deadline, not the value's, so STALE is decided before EXPIRED.
 */
#ifndef SHMC_STATE_H
#define SHMC_STATE_H

#include "internal.h"

enum shm_estate { ES_EMPTY, ES_FLUSHED, ES_PLACEHOLDER, ES_STALE, ES_EXPIRED, ES_LIVE };

/* The fields the decision reads, as copied from an item header. */
struct shm_emeta {
    uint64_t expiry;
    uint32_t gen;
    uint8_t  state;
    uint8_t  ntags;
};

static inline enum shm_estate shm_entry_state(const shmc_t *c, uint64_t item, const struct shm_emeta *m,
                                              uint32_t gen)
{
    if (!item)
        return ES_EMPTY;
    if (m->gen != gen)
        return ES_FLUSHED;
    if (m->state & SLOT_NOVALUE)
        return ES_PLACEHOLDER;
    if (m->state & SLOT_STALE)
        return ES_STALE;
    if (m->ntags && !shm_tags_valid(c, item, m->ntags))
        return ES_STALE;
    if (m->expiry && shm_expired(m->expiry))
        return ES_EXPIRED;
    return ES_LIVE;
}

/* Whether flush_expired reclaims an entry in state es: cleared ones, and
 * any whose expiry (a value's TTL, or a lease's deadline) has passed. An
 * invalidated entry without an expiry stays readable as stale until it is
 * overwritten or evicted. */
static inline bool shm_entry_reclaimable(enum shm_estate es, uint64_t expiry)
{
    return es == ES_FLUSHED || es == ES_EXPIRED ||
           (es != ES_EMPTY && expiry && shm_expired(expiry));
}

/* The header fields of a locked item, for shm_entry_state. */
static inline struct shm_emeta shm_emeta_of(struct shm_item *it)
{
    struct shm_emeta m = {LD(&it->expiry), LD(&it->gen), LD(&it->state), LD(&it->ntags)};
    return m;
}

#endif
