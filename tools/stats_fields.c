/*
 * stats_fields.c - every field of shmc_stats_t by name, in the header's
 * order, so `stats`, `info --json` and `watch` print them from one table
 * (memcached's habit: one list, one emitter). A field added to the header
 * must be added here; the _Static_assert below catches a size change.
 */
#include "tool.h"

#include <stddef.h>
#include <string.h>

/* The list, in the header's order: W64 for a uint64_t field, W32 for a
 * uint32_t one. It builds the table and, below, checks it against
 * shmc_stats_t: a misspelt name does not compile, a wrong width or a field
 * the header has and the list lacks fails the size check. */
#define STAT_FIELDS(W64, W32)                                                   \
    W64(capacity) W64(limit_maxbytes) W64(bytes) W64(curr_items)                 \
    W64(total_items) W32(stripes) W32(max_key_len) W32(max_value_len)            \
    W32(attached_processes) W64(uptime_ms) W64(generation)                       \
    W64(cmd_get) W64(get_hits) W64(get_misses) W64(get_expired)                  \
    W64(get_flushed) W64(get_locked)                                             \
    W64(cmd_set) W64(cmd_touch) W64(touch_hits) W64(touch_misses)                \
    W64(delete_hits) W64(delete_misses) W64(incr_hits) W64(incr_misses)          \
    W64(cas_hits) W64(cas_misses) W64(cas_badval) W64(evictions)                 \
    W64(reclaimed) W64(expired_unfetched) W64(evicted_unfetched)                 \
    W64(lock_recoveries) W64(recovered_lost)                                     \
    W64(lease_grants) W64(lease_rejects) W64(lease_waits) W64(stale_hits)        \
    W64(tag_invalidations) W64(index_slots)

#define F64(n) { #n, offsetof(shmc_stats_t, n), 0 },
#define F32(n) { #n, offsetof(shmc_stats_t, n), 1 },
const stat_field_t tool_stat_fields[] = { STAT_FIELDS(F64, F32) };
#undef F64
#undef F32

const size_t tool_stat_nfields = sizeof tool_stat_fields / sizeof tool_stat_fields[0];

/* A struct with one char array per entry, as long as the field when the
 * width in the list is the field's and 1 MiB when not: its size equals
 * sizeof(shmc_stats_t) only when the list has every field, each at its
 * width (char arrays: no padding). */
#define MEMBER_SIZE(n) sizeof(((shmc_stats_t *)0)->n)
#define SZ64(n) char n[MEMBER_SIZE(n) == 8 ? 8 : 1 << 20];
#define SZ32(n) char n[MEMBER_SIZE(n) == 4 ? 4 : 1 << 20];
struct stat_fields_size { STAT_FIELDS(SZ64, SZ32) };
_Static_assert(sizeof(struct stat_fields_size) == sizeof(shmc_stats_t),
               "shmc_stats_t and STAT_FIELDS differ: update the list");
#undef SZ64
#undef SZ32

uint64_t tool_stat_get(const shmc_stats_t *st, const stat_field_t *f)
{
    const unsigned char *p = (const unsigned char *)st + f->offset;
    if (f->is32) {
        uint32_t v;
        memcpy(&v, p, sizeof v);
        return v;
    }
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}
