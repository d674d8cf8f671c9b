/*
 * stats_fields.c - every field of shmc_stats_t by name, in the header's
 * order, so `stats`, `info --json` and `watch` print them from one table
 * (memcached's habit: one list, one emitter). A field added to the header
 * must be added here; the _Static_assert below catches a size change.
 */
#include "tool.h"

#include <stddef.h>
#include <string.h>

#define F64(n) { #n, offsetof(shmc_stats_t, n), 0 }
#define F32(n) { #n, offsetof(shmc_stats_t, n), 1 }

const stat_field_t tool_stat_fields[] = {
    F64(capacity), F64(limit_maxbytes), F64(bytes), F64(curr_items),
    F64(total_items), F32(stripes), F32(max_key_len), F32(max_value_len),
    F32(attached_processes), F64(uptime_ms), F64(generation),
    F64(cmd_get), F64(get_hits), F64(get_misses), F64(get_expired),
    F64(get_flushed), F64(get_locked),
    F64(cmd_set), F64(cmd_touch), F64(touch_hits), F64(touch_misses),
    F64(delete_hits), F64(delete_misses), F64(incr_hits), F64(incr_misses),
    F64(cas_hits), F64(cas_misses), F64(cas_badval), F64(evictions),
    F64(reclaimed), F64(expired_unfetched), F64(evicted_unfetched),
    F64(lock_recoveries), F64(recovered_lost),
    F64(lease_grants), F64(lease_rejects), F64(lease_waits), F64(stale_hits),
    F64(tag_invalidations), F64(index_slots),
};

const size_t tool_stat_nfields = sizeof tool_stat_fields / sizeof tool_stat_fields[0];

/* 36 uint64_t and 4 uint32_t fields: if this fails, shmc_stats_t changed
 * and the table above must follow. */
_Static_assert(sizeof(shmc_stats_t) == 36 * 8 + 4 * 4,
               "shmc_stats_t changed: update tool_stat_fields");

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
