/*
 * shmcache_info.c - statistics: shmcache_stats (every counter of the
 * segment, memcached's names), and APCu's shapes built from them:
 * shmcache_cache_info, shmcache_sma_info, shmcache_key_info.
 *
 * The segment keeps no per-entry hit counts or access times, so the APCu
 * fields built from those are left out rather than filled with made-up
 * numbers (docs/PHP.md lists what maps to what).
 */
#include "php_shmcache.h"

#include <errno.h>
#include <time.h>

/* Every field of shmc_stats_t, once; the arrays below are built from it. */
#define SHMCACHE_STATS(X)                                                                  \
    X(capacity) X(limit_maxbytes) X(bytes) X(curr_items) X(total_items) X(stripes)         \
    X(max_key_len) X(max_value_len) X(attached_processes) X(uptime_ms) X(generation)       \
    X(cmd_get) X(get_hits) X(get_misses) X(get_expired) X(get_flushed) X(get_locked)       \
    X(cmd_set) X(cmd_touch) X(touch_hits) X(touch_misses) X(delete_hits)                   \
    X(delete_misses) X(incr_hits) X(incr_misses) X(cas_hits) X(cas_misses) X(cas_badval)   \
    X(evictions) X(reclaimed) X(expired_unfetched) X(evicted_unfetched)                    \
    X(lock_recoveries) X(recovered_lost) X(lease_grants) X(lease_rejects) X(lease_waits)   \
    X(stale_hits) X(tag_invalidations)

static void stats_array(const shmc_stats_t *st, zval *out)
{
    array_init(out);
#define ADD(f) add_assoc_long_ex(out, #f, sizeof(#f) - 1, (zend_long)st->f);
    SHMCACHE_STATS(ADD)
#undef ADD
}

static bool read_stats(shmc_t *c, shmc_stats_t *st)
{
    int r = shmc_stats(c, st);
    if (r < 0) {
        shmcache_warn("shmcache: cannot read statistics", NULL, r);
        return false;
    }
    return true;
}

PHP_FUNCTION(shmcache_stats)
{
    ZEND_PARSE_PARAMETERS_NONE();
    shmc_t *c = shmcache_handle();
    shmc_stats_t st;
    if (!c || !read_stats(c, &st)) {
        RETURN_FALSE;
    }
    stats_array(&st, return_value);
}

static zend_long ttl_seconds(int64_t ttl_ms)
{
    return ttl_ms < 0 ? 0 : (zend_long)((ttl_ms + 999) / 1000);
}

static int list_entry(const shmc_entry_t *e, void *arg)
{
    zval row;
    array_init(&row);
    add_assoc_stringl_ex(&row, "info", 4, (const char *)e->key, e->klen);
    add_assoc_long_ex(&row, "ttl", 3, ttl_seconds(e->ttl_ms));
    add_assoc_long_ex(&row, "mem_size", 8, (zend_long)(e->klen + e->vlen));
    add_assoc_long_ex(&row, "cas", 3, (zend_long)e->cas);
    add_assoc_long_ex(&row, "tags", 4, (zend_long)e->ntags);
    add_next_index_zval((zval *)arg, &row);
    return 0;
}

static void cache_info(shmc_t *c, const shmc_stats_t *st, bool limited, zval *rv)
{
    array_init(rv);
    add_assoc_long(rv, "num_slots", (zend_long)st->capacity);
    add_assoc_long(rv, "ttl", 0);
    add_assoc_long(rv, "num_hits", (zend_long)st->get_hits);
    add_assoc_long(rv, "num_misses", (zend_long)st->get_misses);
    add_assoc_long(rv, "num_inserts", (zend_long)st->cmd_set);
    add_assoc_long(rv, "num_entries", (zend_long)st->curr_items);
    add_assoc_long(rv, "expunges", (zend_long)st->evictions);
    add_assoc_long(rv, "start_time", (zend_long)time(NULL) - (zend_long)(st->uptime_ms / 1000));
    add_assoc_long(rv, "mem_size", (zend_long)st->bytes);
    add_assoc_string(rv, "memory_type", "shmcache");
    if (!limited) {
        zval list, deleted;
        array_init(&list);
        shmc_iterate(c, list_entry, &list);
        add_assoc_zval(rv, "cache_list", &list);
        array_init(&deleted);
        add_assoc_zval(rv, "deleted_list", &deleted);
    }
    zval all;
    stats_array(st, &all);
    add_assoc_zval(rv, "shmcache", &all);
}

static void sma_info(shmc_t *c, const shmc_stats_t *st, bool limited, zval *rv)
{
    array_init(rv);
    add_assoc_long(rv, "num_seg", 1);
    add_assoc_long(rv, "seg_size", (zend_long)st->limit_maxbytes);
    add_assoc_long(rv, "avail_mem",
                   (zend_long)(st->limit_maxbytes > st->bytes ? st->limit_maxbytes - st->bytes : 0));
    if (!limited) {
        /* Item memory is per-stripe logs, not a free list: no blocks to show. */
        zval lists, seg;
        array_init(&lists);
        array_init(&seg);
        add_next_index_zval(&lists, &seg);
        add_assoc_zval(rv, "block_lists", &lists);
    }
}

/* f(bool $limited = false): the statistics shaped by fill, false when the
 * cache is off or unreadable. */
static void info_function(INTERNAL_FUNCTION_PARAMETERS,
                          void (*fill)(shmc_t *, const shmc_stats_t *, bool, zval *))
{
    bool limited = false;
    ZEND_PARSE_PARAMETERS_START(0, 1)
        Z_PARAM_OPTIONAL
        Z_PARAM_BOOL(limited)
    ZEND_PARSE_PARAMETERS_END();

    shmc_t *c = shmcache_handle();
    shmc_stats_t st;
    if (!c || !read_stats(c, &st)) {
        RETURN_FALSE;
    }
    fill(c, &st, limited, return_value);
}

PHP_FUNCTION(shmcache_cache_info)
{
    info_function(INTERNAL_FUNCTION_PARAM_PASSTHRU, cache_info);
}

PHP_FUNCTION(shmcache_sma_info)
{
    info_function(INTERNAL_FUNCTION_PARAM_PASSTHRU, sma_info);
}

PHP_FUNCTION(shmcache_key_info)
{
    zend_string *key;
    ZEND_PARSE_PARAMETERS_START(1, 1)
        Z_PARAM_STR(key)
    ZEND_PARSE_PARAMETERS_END();

    shmc_t *c = shmcache_handle();
    if (!c) {
        RETURN_NULL();
    }
    size_t vlen = 0;
    shmc_item_info_t info;
    if (shmc_peek(c, ZSTR_VAL(key), ZSTR_LEN(key), &vlen, &info) < 0) {
        RETURN_NULL();
    }
    array_init(return_value);
    add_assoc_long(return_value, "ttl", ttl_seconds(info.ttl_ms));
    add_assoc_long(return_value, "mem_size", (zend_long)(ZSTR_LEN(key) + vlen));
    add_assoc_long(return_value, "cas", (zend_long)info.cas);
}
