/*
 * shmcache_iterator.c - class ShmcacheIterator: the entries whose keys
 * match a regex, a list of keys, or a prefix (APCUIterator's interface).
 *
 * rewind() walks the segment once (shmc_iterate: no lock held across the
 * walk, each entry a consistent copy) and keeps the matching keys with their
 * sizes and ttls; values are read when current() asks for them, so a key
 * deleted since the walk is skipped rather than shown with a value it no
 * longer has. The snapshot is of keys, not values: entries written during
 * the walk may or may not appear, as with APCu's chunked walk.
 */
#include "php_shmcache.h"
#include "ext/pcre/php_pcre.h"
#include "ext/spl/spl_iterators.h"
#include "zend_interfaces.h"
#include "shmcache_arginfo.h"

#include <errno.h>

/* APCu's format bits; the ones this cache has data for are honoured. */
#define ITER_TYPE     1L
#define ITER_KEY      2L
#define ITER_VALUE    4L
#define ITER_MEM_SIZE 512L
#define ITER_TTL      1024L
#define ITER_ALL      0xffffffffffL
#define LIST_ACTIVE   1L
#define LIST_DELETED  2L

zend_class_entry *shmcache_iterator_ce;
static zend_object_handlers iter_handlers;

typedef struct {
    zend_string *regex;   /* search as a PCRE, or NULL */
    HashTable *keys;      /* search as a list of keys (as a set), or NULL */
    zend_string *prefix;  /* or NULL */
    zend_long format;
    zend_long list;
    zval entries;         /* list of [key, mem_size, ttl] from the last walk */
    uint32_t pos;
    zval current;         /* current(), built for pos; UNDEF until needed */
    bool walked;
    zend_long total_size;
    zend_object std;
} iter_t;

static inline iter_t *iter_of(zend_object *o)
{
    return (iter_t *)((char *)o - XtOffsetOf(iter_t, std));
}

static zend_object *iter_new(zend_class_entry *ce)
{
    iter_t *it = zend_object_alloc(sizeof(iter_t), ce);
    zend_object_std_init(&it->std, ce);
    object_properties_init(&it->std, ce);
    it->std.handlers = &iter_handlers;
    ZVAL_UNDEF(&it->entries);
    ZVAL_UNDEF(&it->current);
    it->format = ITER_ALL;
    it->list = LIST_ACTIVE;
    return &it->std;
}

static void iter_free(zend_object *o)
{
    iter_t *it = iter_of(o);
    if (it->regex) {
        zend_string_release(it->regex);
    }
    if (it->keys) {
        zend_array_destroy(it->keys);
    }
    if (it->prefix) {
        zend_string_release(it->prefix);
    }
    zval_ptr_dtor(&it->entries);
    zval_ptr_dtor(&it->current);
    zend_object_std_dtor(o);
}

typedef struct {
    iter_t *it;
    pcre2_code *re;
    pcre2_match_data *md;
} walk_t;

static bool matches(walk_t *w, const shmc_entry_t *e)
{
    iter_t *it = w->it;
    if (it->prefix && (e->klen < ZSTR_LEN(it->prefix) ||
                       memcmp(e->key, ZSTR_VAL(it->prefix), ZSTR_LEN(it->prefix)) != 0)) {
        return false;
    }
    if (it->keys && !zend_hash_str_exists(it->keys, (const char *)e->key, e->klen)) {
        return false;
    }
    if (w->re && pcre2_match(w->re, (PCRE2_SPTR)e->key, e->klen, 0, 0, w->md, php_pcre_mctx()) < 0) {
        return false;
    }
    return true;
}

static int walk_entry(const shmc_entry_t *e, void *arg)
{
    walk_t *w = arg;
    if (matches(w, e)) {
        zval row;
        array_init_size(&row, 3);
        add_next_index_stringl(&row, (const char *)e->key, e->klen);
        add_next_index_long(&row, (zend_long)(e->klen + e->vlen));
        add_next_index_long(&row, e->ttl_ms < 0 ? 0 : (zend_long)((e->ttl_ms + 999) / 1000));
        add_next_index_zval(&w->it->entries, &row);
        w->it->total_size += (zend_long)(e->klen + e->vlen);
    }
    return 0;
}

/* Walk the segment again; false when the cache is unavailable. */
static bool iter_walk(iter_t *it)
{
    zval_ptr_dtor(&it->entries);
    zval_ptr_dtor(&it->current);
    ZVAL_UNDEF(&it->current);
    array_init(&it->entries);
    it->pos = 0;
    it->total_size = 0;
    it->walked = true;
    shmc_t *c = shmcache_handle();
    if (!c || it->list != LIST_ACTIVE) {
        return c != NULL;
    }
    walk_t w = {it, NULL, NULL};
    if (it->regex) {
        w.re = pcre_get_compiled_regex(it->regex, NULL);
        if (!w.re) {
            return false; /* PCRE already warned */
        }
        w.md = php_pcre_create_match_data(0, w.re);
    }
    shmc_iterate(c, walk_entry, &w);
    if (w.md) {
        php_pcre_free_match_data(w.md);
    }
    return true;
}

static zval *row_at(iter_t *it, uint32_t i)
{
    return zend_hash_index_find(Z_ARRVAL(it->entries), i);
}

/* Build current() for pos, skipping keys gone since the walk when the
 * value is wanted. */
static void iter_settle(iter_t *it)
{
    if (!it->walked) {
        iter_walk(it);
    }
    if (!Z_ISUNDEF(it->current)) {
        return;
    }
    shmc_t *c = shmcache_handle();
    zval *row;
    while ((row = row_at(it, it->pos)) != NULL) {
        zend_string *key = Z_STR_P(zend_hash_index_find(Z_ARRVAL_P(row), 0));
        zval value;
        ZVAL_UNDEF(&value);
        if (it->format & ITER_VALUE) {
            if (!c || shmcache_fetch_zval(c, key, &value) != 0) {
                it->pos++;
                continue;
            }
        }
        array_init(&it->current);
        if (it->format & ITER_TYPE) {
            add_assoc_string(&it->current, "type", "user");
        }
        if (it->format & ITER_KEY) {
            add_assoc_str(&it->current, "key", zend_string_copy(key));
        }
        if (it->format & ITER_VALUE) {
            add_assoc_zval(&it->current, "value", &value);
        }
        if (it->format & ITER_MEM_SIZE) {
            add_assoc_long(&it->current, "mem_size", Z_LVAL_P(zend_hash_index_find(Z_ARRVAL_P(row), 1)));
        }
        if (it->format & ITER_TTL) {
            add_assoc_long(&it->current, "ttl", Z_LVAL_P(zend_hash_index_find(Z_ARRVAL_P(row), 2)));
        }
        return;
    }
}

PHP_METHOD(ShmcacheIterator, __construct)
{
    zend_string *regex = NULL, *prefix = NULL;
    HashTable *keys = NULL;
    zend_long format = ITER_ALL, chunk = 0, list = LIST_ACTIVE;
    ZEND_PARSE_PARAMETERS_START(0, 5)
        Z_PARAM_OPTIONAL
        Z_PARAM_ARRAY_HT_OR_STR_OR_NULL(keys, regex)
        Z_PARAM_LONG(format)
        Z_PARAM_LONG(chunk)
        Z_PARAM_LONG(list)
        Z_PARAM_STR_OR_NULL(prefix)
    ZEND_PARSE_PARAMETERS_END();

    if (chunk < 0) {
        zend_argument_value_error(3, "must be greater than or equal to 0");
        RETURN_THROWS();
    }
    if (list != LIST_ACTIVE && list != LIST_DELETED) {
        zend_argument_value_error(4, "must be SHMCACHE_LIST_ACTIVE or SHMCACHE_LIST_DELETED");
        RETURN_THROWS();
    }
    iter_t *it = iter_of(Z_OBJ_P(ZEND_THIS));
    it->format = format;
    it->list = list;
    if (regex) {
        if (!pcre_get_compiled_regex(regex, NULL)) {
            zend_argument_value_error(1, "is not a valid regular expression");
            RETURN_THROWS();
        }
        it->regex = zend_string_copy(regex);
    }
    if (keys) {
        it->keys = zend_new_array(zend_hash_num_elements(keys));
        zval *k;
        ZEND_HASH_FOREACH_VAL(keys, k) {
            ZVAL_DEREF(k);
            zend_string *tmp;
            zend_string *s = zval_get_tmp_string(k, &tmp);
            zend_hash_add_empty_element(it->keys, s);
            zend_tmp_string_release(tmp);
        } ZEND_HASH_FOREACH_END();
    }
    if (prefix) {
        it->prefix = zend_string_copy(prefix);
    }
}

PHP_METHOD(ShmcacheIterator, rewind)
{
    ZEND_PARSE_PARAMETERS_NONE();
    iter_walk(iter_of(Z_OBJ_P(ZEND_THIS)));
}

PHP_METHOD(ShmcacheIterator, valid)
{
    ZEND_PARSE_PARAMETERS_NONE();
    iter_t *it = iter_of(Z_OBJ_P(ZEND_THIS));
    iter_settle(it);
    RETURN_BOOL(!Z_ISUNDEF(it->current));
}

PHP_METHOD(ShmcacheIterator, current)
{
    ZEND_PARSE_PARAMETERS_NONE();
    iter_t *it = iter_of(Z_OBJ_P(ZEND_THIS));
    iter_settle(it);
    if (Z_ISUNDEF(it->current)) {
        RETURN_FALSE;
    }
    RETURN_COPY(&it->current);
}

PHP_METHOD(ShmcacheIterator, key)
{
    ZEND_PARSE_PARAMETERS_NONE();
    iter_t *it = iter_of(Z_OBJ_P(ZEND_THIS));
    iter_settle(it);
    zval *row = row_at(it, it->pos);
    if (Z_ISUNDEF(it->current) || !row) {
        RETURN_FALSE;
    }
    RETURN_COPY(zend_hash_index_find(Z_ARRVAL_P(row), 0));
}

PHP_METHOD(ShmcacheIterator, next)
{
    ZEND_PARSE_PARAMETERS_NONE();
    iter_t *it = iter_of(Z_OBJ_P(ZEND_THIS));
    iter_settle(it);
    if (row_at(it, it->pos)) {
        it->pos++;
    }
    zval_ptr_dtor(&it->current);
    ZVAL_UNDEF(&it->current);
}

PHP_METHOD(ShmcacheIterator, getTotalHits)
{
    ZEND_PARSE_PARAMETERS_NONE();
    RETURN_LONG(0); /* the segment counts hits per process, not per entry */
}

PHP_METHOD(ShmcacheIterator, getTotalSize)
{
    ZEND_PARSE_PARAMETERS_NONE();
    iter_t *it = iter_of(Z_OBJ_P(ZEND_THIS));
    if (!it->walked) {
        iter_walk(it);
    }
    RETURN_LONG(it->total_size);
}

PHP_METHOD(ShmcacheIterator, getTotalCount)
{
    ZEND_PARSE_PARAMETERS_NONE();
    iter_t *it = iter_of(Z_OBJ_P(ZEND_THIS));
    if (!it->walked) {
        iter_walk(it);
    }
    RETURN_LONG((zend_long)zend_hash_num_elements(Z_ARRVAL(it->entries)));
}

zend_long shmcache_iterator_delete_all(zend_object *o)
{
    iter_t *it = iter_of(o);
    shmc_t *c = shmcache_handle();
    zend_long n = 0;
    if (!c || !iter_walk(it)) {
        return 0;
    }
    zval *row;
    ZEND_HASH_FOREACH_VAL(Z_ARRVAL(it->entries), row) {
        zend_string *key = Z_STR_P(zend_hash_index_find(Z_ARRVAL_P(row), 0));
        if (shmc_delete(c, ZSTR_VAL(key), ZSTR_LEN(key)) == 0) {
            n++;
        }
    } ZEND_HASH_FOREACH_END();
    return n;
}

static const zend_function_entry iter_methods[] = {
    PHP_ME(ShmcacheIterator, __construct, arginfo_class_ShmcacheIterator___construct, ZEND_ACC_PUBLIC)
    PHP_ME(ShmcacheIterator, rewind, arginfo_class_ShmcacheIterator_rewind, ZEND_ACC_PUBLIC)
    PHP_ME(ShmcacheIterator, next, arginfo_class_ShmcacheIterator_next, ZEND_ACC_PUBLIC)
    PHP_ME(ShmcacheIterator, valid, arginfo_class_ShmcacheIterator_valid, ZEND_ACC_PUBLIC)
    PHP_ME(ShmcacheIterator, key, arginfo_class_ShmcacheIterator_key, ZEND_ACC_PUBLIC)
    PHP_ME(ShmcacheIterator, current, arginfo_class_ShmcacheIterator_current, ZEND_ACC_PUBLIC)
    PHP_ME(ShmcacheIterator, getTotalHits, arginfo_class_ShmcacheIterator_getTotalHits, ZEND_ACC_PUBLIC)
    PHP_ME(ShmcacheIterator, getTotalSize, arginfo_class_ShmcacheIterator_getTotalSize, ZEND_ACC_PUBLIC)
    PHP_ME(ShmcacheIterator, getTotalCount, arginfo_class_ShmcacheIterator_getTotalCount, ZEND_ACC_PUBLIC)
    PHP_FE_END
};

void shmcache_iterator_minit(int module_number)
{
    zend_class_entry ce;
    INIT_CLASS_ENTRY(ce, "ShmcacheIterator", iter_methods);
    shmcache_iterator_ce = zend_register_internal_class(&ce);
    shmcache_iterator_ce->create_object = iter_new;
    zend_class_implements(shmcache_iterator_ce, 1, zend_ce_iterator);
    memcpy(&iter_handlers, zend_get_std_object_handlers(), sizeof iter_handlers);
    iter_handlers.offset = XtOffsetOf(iter_t, std);
    iter_handlers.free_obj = iter_free;
    iter_handlers.clone_obj = NULL;

    REGISTER_LONG_CONSTANT("SHMCACHE_ITER_TYPE", ITER_TYPE, CONST_PERSISTENT);
    REGISTER_LONG_CONSTANT("SHMCACHE_ITER_KEY", ITER_KEY, CONST_PERSISTENT);
    REGISTER_LONG_CONSTANT("SHMCACHE_ITER_VALUE", ITER_VALUE, CONST_PERSISTENT);
    REGISTER_LONG_CONSTANT("SHMCACHE_ITER_MEM_SIZE", ITER_MEM_SIZE, CONST_PERSISTENT);
    REGISTER_LONG_CONSTANT("SHMCACHE_ITER_TTL", ITER_TTL, CONST_PERSISTENT);
    REGISTER_LONG_CONSTANT("SHMCACHE_ITER_NONE", 0, CONST_PERSISTENT);
    REGISTER_LONG_CONSTANT("SHMCACHE_ITER_ALL", ITER_ALL, CONST_PERSISTENT);
    REGISTER_LONG_CONSTANT("SHMCACHE_LIST_ACTIVE", LIST_ACTIVE, CONST_PERSISTENT);
    REGISTER_LONG_CONSTANT("SHMCACHE_LIST_DELETED", LIST_DELETED, CONST_PERSISTENT);
}
