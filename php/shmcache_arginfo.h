/*
 * shmcache_arginfo.h - argument information of the extension's functions
 * (written by hand: gen_stub.php needs a PHP parser that Debian does not
 * ship). The stub it describes, for readers and IDEs, is shmcache.stub.php.
 */
#ifndef SHMCACHE_ARGINFO_H
#define SHMCACHE_ARGINFO_H

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_shmcache_fetch, 0, 1, IS_MIXED, 0)
    ZEND_ARG_TYPE_MASK(0, key, MAY_BE_ARRAY|MAY_BE_STRING, NULL)
    ZEND_ARG_INFO_WITH_DEFAULT_VALUE(1, success, "null")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_MASK_EX(arginfo_shmcache_store, 0, 1, MAY_BE_BOOL|MAY_BE_ARRAY)
    ZEND_ARG_TYPE_MASK(0, key, MAY_BE_ARRAY|MAY_BE_STRING, NULL)
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, var, IS_MIXED, 0, "null")
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, ttl, IS_LONG, 0, "0")
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, tags, IS_ARRAY, 0, "[]")
ZEND_END_ARG_INFO()

#define arginfo_shmcache_add arginfo_shmcache_store

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_MASK_EX(arginfo_shmcache_delete, 0, 1, MAY_BE_BOOL|MAY_BE_ARRAY)
    ZEND_ARG_TYPE_INFO(0, key, IS_MIXED, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_MASK_EX(arginfo_shmcache_exists, 0, 1, MAY_BE_BOOL|MAY_BE_ARRAY)
    ZEND_ARG_TYPE_MASK(0, key, MAY_BE_ARRAY|MAY_BE_STRING, NULL)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_MASK_EX(arginfo_shmcache_inc, 0, 1, MAY_BE_LONG|MAY_BE_FALSE)
    ZEND_ARG_TYPE_INFO(0, key, IS_STRING, 0)
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, step, IS_LONG, 0, "1")
    ZEND_ARG_INFO_WITH_DEFAULT_VALUE(1, success, "null")
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, ttl, IS_LONG, 0, "0")
ZEND_END_ARG_INFO()

#define arginfo_shmcache_dec arginfo_shmcache_inc

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_shmcache_cas, 0, 3, _IS_BOOL, 0)
    ZEND_ARG_TYPE_INFO(0, key, IS_STRING, 0)
    ZEND_ARG_TYPE_INFO(0, old, IS_LONG, 0)
    ZEND_ARG_TYPE_INFO(0, new, IS_LONG, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_shmcache_entry, 0, 2, IS_MIXED, 0)
    ZEND_ARG_TYPE_INFO(0, key, IS_STRING, 0)
    ZEND_ARG_TYPE_INFO(0, callback, IS_CALLABLE, 0)
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, ttl, IS_LONG, 0, "0")
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, tags, IS_ARRAY, 0, "[]")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_shmcache_clear_cache, 0, 0, _IS_BOOL, 0)
ZEND_END_ARG_INFO()

#define arginfo_shmcache_enabled arginfo_shmcache_clear_cache

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_MASK_EX(arginfo_shmcache_cache_info, 0, 0, MAY_BE_ARRAY|MAY_BE_FALSE)
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, limited, _IS_BOOL, 0, "false")
ZEND_END_ARG_INFO()

#define arginfo_shmcache_sma_info arginfo_shmcache_cache_info

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_MASK_EX(arginfo_shmcache_key_info, 0, 1, MAY_BE_ARRAY|MAY_BE_NULL)
    ZEND_ARG_TYPE_INFO(0, key, IS_STRING, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_shmcache_invalidate_tag, 0, 1, _IS_BOOL, 0)
    ZEND_ARG_TYPE_INFO(0, tag, IS_STRING, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_MASK_EX(arginfo_shmcache_stats, 0, 0, MAY_BE_ARRAY|MAY_BE_FALSE)
ZEND_END_ARG_INFO()

/* ShmcacheIterator */
ZEND_BEGIN_ARG_INFO_EX(arginfo_class_ShmcacheIterator___construct, 0, 0, 0)
    ZEND_ARG_TYPE_MASK(0, search, MAY_BE_ARRAY|MAY_BE_STRING|MAY_BE_NULL, "null")
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, format, IS_LONG, 0, "SHMCACHE_ITER_ALL")
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, chunk_size, IS_LONG, 0, "0")
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, list, IS_LONG, 0, "SHMCACHE_LIST_ACTIVE")
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, prefix, IS_STRING, 1, "null")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_class_ShmcacheIterator_rewind, 0, 0, IS_VOID, 0)
ZEND_END_ARG_INFO()
#define arginfo_class_ShmcacheIterator_next arginfo_class_ShmcacheIterator_rewind

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_class_ShmcacheIterator_valid, 0, 0, _IS_BOOL, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_class_ShmcacheIterator_key, 0, 0, IS_MIXED, 0)
ZEND_END_ARG_INFO()
#define arginfo_class_ShmcacheIterator_current arginfo_class_ShmcacheIterator_key

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_class_ShmcacheIterator_getTotalHits, 0, 0, IS_LONG, 0)
ZEND_END_ARG_INFO()
#define arginfo_class_ShmcacheIterator_getTotalSize arginfo_class_ShmcacheIterator_getTotalHits
#define arginfo_class_ShmcacheIterator_getTotalCount arginfo_class_ShmcacheIterator_getTotalHits

#endif /* SHMCACHE_ARGINFO_H */
