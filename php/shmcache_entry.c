/*
 * shmcache_entry.c - shmcache_entry(): fetch, or compute once across every
 * worker and store.
 *
 * APCu runs the callback under its global write lock: every other worker's
 * cache call waits for it, and a worker killed inside the callback leaves
 * the lock held. Here the key's lease decides who computes
 * (shmc_get_or_wait): one caller gets the lease and runs the callback,
 * callers of the same key poll with backoff until the value lands, and
 * callers of other keys never notice. A holder that dies or throws loses the
 * lease: on an exception we delete the key (which kills the lease at once);
 * on death it expires after shmcache.entry_lease_ms and the next caller is
 * handed a fresh one. The value is stored with shmc_set_leased, so a value
 * computed before a concurrent delete/invalidation of the key is not stored
 * (the caller still gets it, as it would have without a cache).
 */
#include "php_shmcache.h"

#include <errno.h>

PHP_FUNCTION(shmcache_entry)
{
    zend_string *key;
    zend_fcall_info fci;
    zend_fcall_info_cache fcc;
    zend_long ttl = 0;
    HashTable *tag_ht = NULL;
    ZEND_PARSE_PARAMETERS_START(2, 4)
        Z_PARAM_STR(key)
        Z_PARAM_FUNC(fci, fcc)
        Z_PARAM_OPTIONAL
        Z_PARAM_LONG(ttl)
        Z_PARAM_ARRAY_HT(tag_ht)
    ZEND_PARSE_PARAMETERS_END();

    uint64_t ttl_ms;
    if (!shmcache_ttl_ms(ttl, 3, &ttl_ms)) {
        RETURN_THROWS();
    }
    const char *tags[SHMC_TAGS_MAX];
    size_t ntags;
    if (!shmcache_parse_tags(tag_ht, 4, tags, &ntags)) {
        RETURN_THROWS();
    }

    shmc_t *c = shmcache_handle();
    zend_long lease_ms = SHMCG(entry_lease_ms) > 0 ? SHMCG(entry_lease_ms) : 10000;
    uint64_t lease = 0;
    int r = -ENOENT;
    if (c) {
        size_t cap, vlen = 0;
        char *buf = shmcache_buf_acquire(&cap);
        shmc_item_info_t info;
        /* Wait a little longer than a lease lives: a dead holder's lease
         * expires within that time and we are handed the next one. */
        r = shmc_get_or_wait(c, ZSTR_VAL(key), ZSTR_LEN(key), buf, cap, &vlen, &info,
                             (uint64_t)lease_ms, (uint64_t)lease_ms + 100u, &lease);
        if (r == 0 && shmcache_decode_guarded(buf, vlen, info.flags, return_value) == SUCCESS) {
            shmcache_buf_release(buf);
            return;
        }
        shmcache_buf_release(buf);
        if (r == 0) {
            zval_ptr_dtor(return_value);
            ZVAL_UNDEF(return_value);
            lease = 0; /* undecodable value: recompute, store plainly */
        } else if (r != -ENOENT && r != -EBUSY) {
            shmcache_warn("shmcache: cannot read key", key, r);
        }
    }

    /* Compute: we hold the lease, or no cache, or the wait ran out. */
    zval arg, retval;
    ZVAL_STR(&arg, key);
    fci.retval = &retval;
    fci.params = &arg;
    fci.param_count = 1;
    if (zend_call_function(&fci, &fcc) != SUCCESS || EG(exception) || Z_ISUNDEF(retval)) {
        if (c && lease) {
            shmc_delete(c, ZSTR_VAL(key), ZSTR_LEN(key)); /* frees the waiters */
        }
        if (!Z_ISUNDEF(retval)) {
            zval_ptr_dtor(&retval);
        }
        RETURN_THROWS();
    }
    if (c && (lease || r == 0)) {
        shmcache_enc_t e;
        if (shmcache_encode(&retval, &e) == SUCCESS) {
            int w;
            if (lease) {
                w = ntags ? shmc_set_leased_tagged(c, ZSTR_VAL(key), ZSTR_LEN(key), e.p, e.n,
                                                   ttl_ms, e.flags, tags, ntags, lease)
                          : shmc_set_leased(c, ZSTR_VAL(key), ZSTR_LEN(key), e.p, e.n, ttl_ms,
                                            e.flags, lease);
            } else {
                w = ntags ? shmc_set_tagged(c, ZSTR_VAL(key), ZSTR_LEN(key), e.p, e.n, ttl_ms,
                                            e.flags, tags, ntags)
                          : shmc_set(c, ZSTR_VAL(key), ZSTR_LEN(key), e.p, e.n, ttl_ms, e.flags);
            }
            if (w < 0 && w != -ESTALE) {
                shmcache_warn("shmcache: cannot store key", key, w);
            }
        } else if (lease) {
            shmc_delete(c, ZSTR_VAL(key), ZSTR_LEN(key));
        }
        shmcache_enc_free(&e);
    }
    RETURN_COPY_VALUE(&retval);
}
