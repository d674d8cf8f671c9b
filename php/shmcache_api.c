/*
 * shmcache_api.c - the APCu-shaped functions: fetch, store, add, delete,
 * exists, inc, dec, cas, clear_cache, plus tags.
 *
 * Each does what its apcu_* namesake does (same arguments, same return
 * values, array forms included), with three deliberate differences, all
 * about bad input getting an error instead of silently doing something: an
 * empty or over-long key is a warning and false (APCu stores "" happily),
 * a negative ttl is a ValueError, and a value over shmcache.max_value is a
 * warning naming the limit. inc/dec/cas are lock-free read-modify-write
 * loops on the entry's CAS: a worker killed in the middle leaves the entry
 * either old or new, never locked.
 */
#include "php_shmcache.h"

#include <errno.h>

/* A read-modify-write loop retries only when another process changed the
 * entry in between, so each retry means someone else made progress; the
 * bound stops a loop against a segment that misbehaves. */
#define RMW_TRIES 100000

/* The key of an array element: string keys as they are, int keys as text. */
static zend_string *elem_key(zend_string *skey, zend_ulong ikey)
{
    return skey ? zend_string_copy(skey) : zend_long_to_str((zend_long)ikey);
}

bool shmcache_parse_tags(HashTable *ht, uint32_t argn, const char **tags, size_t *ntags)
{
    *ntags = 0;
    if (!ht) {
        return true;
    }
    if (zend_hash_num_elements(ht) > SHMC_TAGS_MAX) {
        zend_argument_value_error(argn, "must hold at most %u tags", SHMC_TAGS_MAX);
        return false;
    }
    zval *t;
    ZEND_HASH_FOREACH_VAL(ht, t) {
        ZVAL_DEREF(t);
        if (Z_TYPE_P(t) != IS_STRING) {
            zend_argument_type_error(argn, "must be an array of strings");
            return false;
        }
        if (Z_STRLEN_P(t) == 0 || Z_STRLEN_P(t) > SHMC_TAG_MAX_LEN ||
            memchr(Z_STRVAL_P(t), '\0', Z_STRLEN_P(t))) {
            zend_argument_value_error(argn, "must hold non-empty tags of at most %u bytes without NUL",
                                      SHMC_TAG_MAX_LEN);
            return false;
        }
        tags[(*ntags)++] = Z_STRVAL_P(t);
    } ZEND_HASH_FOREACH_END();
    return true;
}

/* Store one value; 0, -EEXIST (add), -ECANCELED (the serializer threw), or
 * an error already warned about. */
static int store_one(shmc_t *c, zend_string *key, zval *val, uint64_t ttl_ms, bool add,
                     const char *const *tags, size_t ntags)
{
    shmcache_enc_t e;
    if (shmcache_encode(val, &e) == FAILURE) {
        shmcache_enc_free(&e);
        return -ECANCELED;
    }
    const char *k = ZSTR_VAL(key);
    size_t kl = ZSTR_LEN(key);
    int r;
    if (ntags) {
        r = add ? shmc_add_tagged(c, k, kl, e.p, e.n, ttl_ms, e.flags, tags, ntags)
                : shmc_set_tagged(c, k, kl, e.p, e.n, ttl_ms, e.flags, tags, ntags);
    } else {
        r = add ? shmc_add(c, k, kl, e.p, e.n, ttl_ms, e.flags)
                : shmc_set(c, k, kl, e.p, e.n, ttl_ms, e.flags);
    }
    shmcache_enc_free(&e);
    if (r < 0 && r != -EEXIST) {
        shmcache_warn(r == -E2BIG ? "shmcache: key or value over the segment's limits (shmcache.max_value), key"
                                  : "shmcache: cannot store key",
                      key, r);
    }
    return r;
}

static void do_store(INTERNAL_FUNCTION_PARAMETERS, bool add)
{
    zend_string *key = NULL;
    HashTable *values = NULL;
    zval *val = NULL;
    zend_long ttl = 0;
    HashTable *tag_ht = NULL;
    ZEND_PARSE_PARAMETERS_START(1, 4)
        Z_PARAM_ARRAY_HT_OR_STR(values, key)
        Z_PARAM_OPTIONAL
        Z_PARAM_ZVAL(val)
        Z_PARAM_LONG(ttl)
        Z_PARAM_ARRAY_HT(tag_ht)
    ZEND_PARSE_PARAMETERS_END();

    uint64_t ttl_ms;
    const char *tags[SHMC_TAGS_MAX];
    size_t ntags;
    if (!shmcache_ttl_ms(ttl, 3, &ttl_ms) || !shmcache_parse_tags(tag_ht, 4, tags, &ntags)) {
        RETURN_THROWS();
    }
    if (key && !val) {
        zend_argument_count_error("%s() expects a value when the key is a string",
                                  get_active_function_name());
        RETURN_THROWS();
    }
    shmc_t *c = shmcache_handle();
    if (!c) {
        RETURN_FALSE;
    }
    if (key) {
        RETURN_BOOL(store_one(c, key, val, ttl_ms, add, tags, ntags) == 0);
    }
    /* Array form: the keys that failed, each => -1, as APCu. */
    array_init(return_value);
    zend_string *skey;
    zend_ulong ikey;
    zval *v;
    ZEND_HASH_FOREACH_KEY_VAL(values, ikey, skey, v) {
        zend_string *k = elem_key(skey, ikey);
        int r = store_one(c, k, v, ttl_ms, add, tags, ntags);
        if (r < 0) {
            add_assoc_long_ex(return_value, ZSTR_VAL(k), ZSTR_LEN(k), -1);
        }
        zend_string_release(k);
        if (r == -ECANCELED) {
            break; /* an exception is pending */
        }
    } ZEND_HASH_FOREACH_END();
}

PHP_FUNCTION(shmcache_store)
{
    do_store(INTERNAL_FUNCTION_PARAM_PASSTHRU, false);
}

PHP_FUNCTION(shmcache_add)
{
    do_store(INTERNAL_FUNCTION_PARAM_PASSTHRU, true);
}

/* Warn about errors other than a miss. */
static void warn_unless_miss(int r, zend_string *key)
{
    if (r < 0 && r != -ENOENT && r != -EBADMSG) {
        shmcache_warn("shmcache: cannot read key", key, r);
    }
}

/* Call fn for each key of a PHP array (values converted to strings as
 * APCu does); fn adds what it wants to result. */
typedef void (*key_fn)(shmc_t *c, zend_string *k, zval *orig, zval *result);

static void for_each_key(shmc_t *c, HashTable *keys, key_fn fn, zval *result)
{
    zval *kz;
    ZEND_HASH_FOREACH_VAL(keys, kz) {
        ZVAL_DEREF(kz);
        zend_string *tmp;
        zend_string *k = zval_get_tmp_string(kz, &tmp);
        fn(c, k, kz, result);
        zend_tmp_string_release(tmp);
    } ZEND_HASH_FOREACH_END();
}

static void fetch_into(shmc_t *c, zend_string *k, zval *orig, zval *result)
{
    zval v;
    int r = shmcache_fetch_zval(c, k, &v);
    warn_unless_miss(r, k);
    if (r == 0) {
        zend_symtable_update(Z_ARRVAL_P(result), k, &v);
    }
}

static void delete_into(shmc_t *c, zend_string *k, zval *orig, zval *result)
{
    if (shmc_delete(c, ZSTR_VAL(k), ZSTR_LEN(k)) != 0) {
        Z_TRY_ADDREF_P(orig);
        add_next_index_zval(result, orig);
    }
}

static void exists_into(shmc_t *c, zend_string *k, zval *orig, zval *result)
{
    if (shmc_peek(c, ZSTR_VAL(k), ZSTR_LEN(k), NULL, NULL) == 0) {
        zval t;
        ZVAL_TRUE(&t);
        zend_symtable_update(Z_ARRVAL_P(result), k, &t);
    }
}

PHP_FUNCTION(shmcache_fetch)
{
    zend_string *key = NULL;
    HashTable *keys = NULL;
    zval *success = NULL;
    ZEND_PARSE_PARAMETERS_START(1, 2)
        Z_PARAM_ARRAY_HT_OR_STR(keys, key)
        Z_PARAM_OPTIONAL
        Z_PARAM_ZVAL(success)
    ZEND_PARSE_PARAMETERS_END();

    shmc_t *c = shmcache_handle();
    if (!c) {
        if (success) {
            ZEND_TRY_ASSIGN_REF_FALSE(success);
        }
        RETURN_FALSE;
    }
    if (key) {
        int r = shmcache_fetch_zval(c, key, return_value);
        warn_unless_miss(r, key);
        if (r < 0) {
            zval_ptr_dtor(return_value);
            ZVAL_FALSE(return_value);
        }
        if (success) {
            ZEND_TRY_ASSIGN_REF_BOOL(success, r == 0);
        }
        return;
    }
    /* Array form: the keys found, with their values; success is true. */
    array_init(return_value);
    for_each_key(c, keys, fetch_into, return_value);
    if (success) {
        ZEND_TRY_ASSIGN_REF_TRUE(success);
    }
}

PHP_FUNCTION(shmcache_delete)
{
    zval *arg;
    ZEND_PARSE_PARAMETERS_START(1, 1)
        Z_PARAM_ZVAL(arg)
    ZEND_PARSE_PARAMETERS_END();

    if (Z_TYPE_P(arg) == IS_OBJECT && instanceof_function(Z_OBJCE_P(arg), shmcache_iterator_ce)) {
        shmc_t *c = shmcache_handle();
        if (!c) {
            RETURN_FALSE;
        }
        shmcache_iterator_delete_all(Z_OBJ_P(arg));
        RETURN_TRUE;
    }
    if (Z_TYPE_P(arg) != IS_STRING && Z_TYPE_P(arg) != IS_ARRAY) {
        zend_argument_type_error(1, "must be of type array|string|ShmcacheIterator, %s given",
                                 zend_zval_type_name(arg));
        RETURN_THROWS();
    }
    shmc_t *c = shmcache_handle();
    if (!c) {
        RETURN_FALSE;
    }
    if (Z_TYPE_P(arg) == IS_STRING) {
        RETURN_BOOL(shmc_delete(c, Z_STRVAL_P(arg), Z_STRLEN_P(arg)) == 0);
    }
    /* Array form: the list of keys that were not deleted, as APCu. */
    array_init(return_value);
    for_each_key(c, Z_ARRVAL_P(arg), delete_into, return_value);
}

PHP_FUNCTION(shmcache_exists)
{
    zend_string *key = NULL;
    HashTable *keys = NULL;
    ZEND_PARSE_PARAMETERS_START(1, 1)
        Z_PARAM_ARRAY_HT_OR_STR(keys, key)
    ZEND_PARSE_PARAMETERS_END();

    shmc_t *c = shmcache_handle();
    if (!c) {
        RETURN_FALSE;
    }
    if (key) {
        RETURN_BOOL(shmc_peek(c, ZSTR_VAL(key), ZSTR_LEN(key), NULL, NULL) == 0);
    }
    array_init(return_value);
    for_each_key(c, keys, exists_into, return_value);
}

/* The int stored under key, with its CAS and the ms it has left (for a
 * rewrite that keeps the expiry: 0 = never). 0, -ENOENT, -EINVAL (not an
 * int), or another error. */
static int read_long(shmc_t *c, zend_string *key, zend_long *v, uint64_t *cas, uint64_t *ttl_left)
{
    char buf[32];
    size_t vlen = 0;
    shmc_item_info_t info;
    int r = shmc_get(c, ZSTR_VAL(key), ZSTR_LEN(key), buf, sizeof buf, &vlen, &info);
    if (r == -ENOBUFS) {
        return -EINVAL;
    }
    if (r < 0) {
        return r;
    }
    zval z;
    if (shmcache_type_of(info.flags) != SHMCACHE_T_LONG ||
        shmcache_decode(buf, vlen, info.flags, &z) != SUCCESS || Z_TYPE(z) != IS_LONG) {
        return -EINVAL;
    }
    *v = Z_LVAL(z);
    *cas = info.cas;
    *ttl_left = info.ttl_ms < 0 ? 0 : info.ttl_ms == 0 ? 1 : (uint64_t)info.ttl_ms;
    return 0;
}

/* Store v under key: with add semantics when cas is 0, else only over that
 * CAS. */
static int write_long(shmc_t *c, zend_string *key, zend_long v, uint64_t ttl_ms, uint64_t cas)
{
    zval z;
    ZVAL_LONG(&z, v);
    shmcache_enc_t e;
    shmcache_encode(&z, &e); /* a long: cannot fail */
    int r = cas ? shmc_cas(c, ZSTR_VAL(key), ZSTR_LEN(key), e.p, e.n, ttl_ms, e.flags, cas)
                : shmc_add(c, ZSTR_VAL(key), ZSTR_LEN(key), e.p, e.n, ttl_ms, e.flags);
    shmcache_enc_free(&e);
    return r;
}

/* Add delta (wrapping like a C unsigned add, as APCu's in-place add does);
 * a missing key is created holding delta with ttl, as APCu. */
static int add_delta(shmc_t *c, zend_string *key, zend_long delta, uint64_t ttl_ms, zend_long *out)
{
    for (int i = 0; i < RMW_TRIES; i++) {
        zend_long v;
        uint64_t cas, left;
        int r = read_long(c, key, &v, &cas, &left);
        if (r == -ENOENT) {
            r = write_long(c, key, delta, ttl_ms, 0);
            if (r == 0) {
                *out = delta;
                return 0;
            }
            if (r == -EEXIST) {
                continue;
            }
            return r;
        }
        if (r < 0) {
            return r;
        }
        zend_long nv = (zend_long)((zend_ulong)v + (zend_ulong)delta);
        r = write_long(c, key, nv, left, cas);
        if (r == 0) {
            *out = nv;
            return 0;
        }
        if (r != -ESTALE && r != -ENOENT) {
            return r;
        }
    }
    return -EAGAIN;
}

static void do_inc(INTERNAL_FUNCTION_PARAMETERS, bool dec)
{
    zend_string *key;
    zend_long step = 1, ttl = 0;
    zval *success = NULL;
    ZEND_PARSE_PARAMETERS_START(1, 4)
        Z_PARAM_STR(key)
        Z_PARAM_OPTIONAL
        Z_PARAM_LONG(step)
        Z_PARAM_ZVAL(success)
        Z_PARAM_LONG(ttl)
    ZEND_PARSE_PARAMETERS_END();

    uint64_t ttl_ms;
    if (!shmcache_ttl_ms(ttl, 4, &ttl_ms)) {
        RETURN_THROWS();
    }
    shmc_t *c = shmcache_handle();
    zend_long out = 0;
    int r = -ENOENT;
    if (c) {
        zend_long delta = dec ? (zend_long)(0 - (zend_ulong)step) : step;
        r = add_delta(c, key, delta, ttl_ms, &out);
        if (r < 0 && r != -EINVAL) {
            shmcache_warn("shmcache: cannot update key", key, r);
        }
    }
    if (success) {
        ZEND_TRY_ASSIGN_REF_BOOL(success, r == 0);
    }
    if (r < 0) {
        RETURN_FALSE;
    }
    RETURN_LONG(out);
}

PHP_FUNCTION(shmcache_inc)
{
    do_inc(INTERNAL_FUNCTION_PARAM_PASSTHRU, false);
}

PHP_FUNCTION(shmcache_dec)
{
    do_inc(INTERNAL_FUNCTION_PARAM_PASSTHRU, true);
}

PHP_FUNCTION(shmcache_cas)
{
    zend_string *key;
    zend_long old, nv;
    ZEND_PARSE_PARAMETERS_START(3, 3)
        Z_PARAM_STR(key)
        Z_PARAM_LONG(old)
        Z_PARAM_LONG(nv)
    ZEND_PARSE_PARAMETERS_END();

    shmc_t *c = shmcache_handle();
    if (!c) {
        RETURN_FALSE;
    }
    for (int i = 0; i < RMW_TRIES; i++) {
        zend_long v;
        uint64_t cas, left;
        if (read_long(c, key, &v, &cas, &left) < 0 || v != old) {
            RETURN_FALSE;
        }
        int r = write_long(c, key, nv, left, cas);
        if (r == 0) {
            RETURN_TRUE;
        }
        if (r != -ESTALE) {
            RETURN_FALSE;
        }
        /* Rewritten since we read it: it may hold old again, so look again. */
    }
    RETURN_FALSE;
}

PHP_FUNCTION(shmcache_clear_cache)
{
    ZEND_PARSE_PARAMETERS_NONE();
    shmc_t *c = shmcache_handle();
    RETURN_BOOL(c && shmc_clear(c) == 0);
}

PHP_FUNCTION(shmcache_invalidate_tag)
{
    zend_string *tag;
    ZEND_PARSE_PARAMETERS_START(1, 1)
        Z_PARAM_STR(tag)
    ZEND_PARSE_PARAMETERS_END();

    if (ZSTR_LEN(tag) == 0 || ZSTR_LEN(tag) > SHMC_TAG_MAX_LEN ||
        memchr(ZSTR_VAL(tag), '\0', ZSTR_LEN(tag))) {
        zend_argument_value_error(1, "must be a non-empty tag of at most %u bytes without NUL",
                                  SHMC_TAG_MAX_LEN);
        RETURN_THROWS();
    }
    shmc_t *c = shmcache_handle();
    if (!c) {
        RETURN_FALSE;
    }
    int r = shmc_invalidate_tag(c, ZSTR_VAL(tag));
    if (r < 0) {
        shmcache_warn("shmcache: cannot invalidate tag", tag, r);
    }
    RETURN_BOOL(r == 0);
}
