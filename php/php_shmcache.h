/*
 * php_shmcache.h - what the files of the extension share.
 *
 * One process-wide handle on one segment (shmcache.c) serves every call; the
 * library's handle is thread-safe, so the handle is a plain static even in a
 * ZTS build. Values cross the segment as bytes plus a type tag in the item
 * flags (shmcache_value.c; arrays of scalars in shmcache_array.c's format). The PHP functions (shmcache_api.c,
 * shmcache_entry.c, shmcache_info.c) and the iterator class
 * (shmcache_iterator.c) use only include/shmcache.h.
 */
#ifndef PHP_SHMCACHE_H
#define PHP_SHMCACHE_H

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "php.h"
#include "zend_smart_str.h"

#include <shmcache.h>

#define PHP_SHMCACHE_VERSION "0.1.0"

extern zend_module_entry shmcache_module_entry;
#define phpext_shmcache_ptr &shmcache_module_entry

ZEND_BEGIN_MODULE_GLOBALS(shmcache)
    char *segment;          /* shmcache.segment: "" = derived (see shmcache.c) */
    zend_long capacity;     /* shmcache.capacity: entries, when creating */
    zend_long memory;       /* shmcache.memory: item bytes, when creating */
    zend_long max_value;    /* shmcache.max_value: bytes, when creating */
    zend_long entry_lease_ms; /* shmcache.entry_lease_ms: lease of shmcache_entry */
    char *serializer;       /* shmcache.serializer: "php" or "igbinary" */
    bool apcu_compat;       /* shmcache.apcu_compat: register apcu_* names */
    bool enable_cli;        /* shmcache.enable_cli */
    bool warned;            /* this request already warned that the segment is unusable */
    bool warned_igbinary;   /* ... that igbinary was asked for but is not loaded */
ZEND_END_MODULE_GLOBALS(shmcache)

ZEND_EXTERN_MODULE_GLOBALS(shmcache)
#define SHMCG(v) ZEND_MODULE_GLOBALS_ACCESSOR(shmcache, v)

/* ---- shmcache.c: the handle ---- */

/* The handle on this process's segment, opened on first use (after fork in
 * an FPM worker); NULL when the cache is disabled here (CLI without
 * shmcache.enable_cli) or cannot be opened (one warning per request). */
shmc_t *shmcache_handle(void);

/* A buffer of at least the segment's max_value_len bytes, owned by the
 * process, for copying values out. */
char *shmcache_scratch(size_t *cap);

/* Warn with the library's text for err, prefixed by what failed. */
void shmcache_warn(const char *what, zend_string *key, int err);

/* ttl in seconds (PHP) to ms (library); a negative ttl throws ValueError
 * naming argument argn and returns false. */
bool shmcache_ttl_ms(zend_long ttl, uint32_t argn, uint64_t *ms);

/* Up to SHMC_TAGS_MAX tag strings of a PHP array (NULL: none), pointing
 * into it. false, with a TypeError/ValueError thrown for argument argn, when
 * the array is not that. */
bool shmcache_parse_tags(HashTable *ht, uint32_t argn, const char **tags, size_t *ntags);

/* ---- shmcache_value.c: PHP values <-> bytes + type tag ---- */

/* Item flags: a magic in the high half marks values this extension stored;
 * the low byte is the type. Values with other flags (stored by C, Python or
 * shmcache-tool) are returned as strings. */
#define SHMCACHE_FLAG_MAGIC 0x50480000u /* "PH" */
#define SHMCACHE_FLAG_MASK  0xffff0000u
enum shmcache_type {
    SHMCACHE_T_STRING = 1,   /* the bytes */
    SHMCACHE_T_LONG,         /* signed decimal ASCII (readable by other clients) */
    SHMCACHE_T_DOUBLE,       /* 8 bytes, host order */
    SHMCACHE_T_TRUE,         /* no bytes */
    SHMCACHE_T_FALSE,
    SHMCACHE_T_NULL,
    SHMCACHE_T_SERIAL_PHP,   /* php_var_serialize */
    SHMCACHE_T_SERIAL_IGB,   /* igbinary_serialize */
    SHMCACHE_T_ARRAY,        /* an array of scalars, shmcache_array.c's format */
};

typedef struct shmcache_enc {
    const char *p;           /* bytes to store */
    size_t n;
    uint32_t flags;
    char small[32];          /* longs, doubles */
    smart_str ser;           /* php serializer output */
    uint8_t *igb;            /* igbinary output (emalloc'd) */
} shmcache_enc_t;

/* Encode v; FAILURE when the serializer threw (an exception is pending).
 * Always call shmcache_enc_free afterwards. */
zend_result shmcache_encode(zval *v, shmcache_enc_t *e);
void shmcache_enc_free(shmcache_enc_t *e);

/* Decode n bytes stored with flags into out; FAILURE (out is false, a
 * warning given) when the bytes do not unserialize. */
zend_result shmcache_decode(const char *p, size_t n, uint32_t flags, zval *out);

/* The stored type of flags, 0 when not stored by this extension. */
static inline unsigned shmcache_type_of(uint32_t flags)
{
    return (flags & SHMCACHE_FLAG_MASK) == SHMCACHE_FLAG_MAGIC ? (flags & 0xffu) : 0u;
}

/* A value buffer of at least max_value_len bytes (*cap): the process's
 * scratch buffer, or a fresh one while a decode is in progress (unserialize
 * can run PHP code that fetches). Give it back with shmcache_buf_release. */
char *shmcache_buf_acquire(size_t *cap);
void shmcache_buf_release(char *buf);

/* shmcache_decode, marking the buffer busy while PHP code may run. */
zend_result shmcache_decode_guarded(const char *p, size_t n, uint32_t flags, zval *out);

/* Fetch key into a zval; 0, -ENOENT or another negative errno. */
int shmcache_fetch_zval(shmc_t *c, zend_string *key, zval *out);

/* ---- shmcache_array.c: arrays of scalars without the serializer ---- */

/* Nesting the array format accepts (the top array is level 1). */
#define SHMCACHE_ARRAY_DEPTH 32
/* String keys of one value that later keys may refer back to (a u8). */
#define SHMCACHE_ARRAY_KEYREFS 32

/* Append ht to out in the array format; false (out as it was) when ht holds
 * anything but null/bool/int/float/string and such arrays, or nests deeper
 * than SHMCACHE_ARRAY_DEPTH: the caller serializes it instead. Runs no PHP
 * code. */
bool shmcache_array_encode(HashTable *ht, smart_str *out);

/* Decode n bytes of the array format into out (an array); FAILURE, with
 * nothing allocated and out undefined, when the bytes are not a whole,
 * well-formed value. */
zend_result shmcache_array_decode(const char *p, size_t n, zval *out);

/* ---- shmcache_info.c / shmcache_iterator.c ---- */

void shmcache_iterator_minit(int module_number);
extern zend_class_entry *shmcache_iterator_ce;

/* Delete every key the iterator object matches; the count deleted. */
zend_long shmcache_iterator_delete_all(zend_object *it);

/* ---- shmcache_compat.c: apcu_* names ---- */

void shmcache_compat_minit(int module_number);
void shmcache_compat_mshutdown(void);

/* The module's function table, which compat mode registers again under
 * apcu_* names. */
const zend_function_entry *shmcache_function_table(void);

/* The functions. */
PHP_FUNCTION(shmcache_fetch);
PHP_FUNCTION(shmcache_store);
PHP_FUNCTION(shmcache_add);
PHP_FUNCTION(shmcache_delete);
PHP_FUNCTION(shmcache_exists);
PHP_FUNCTION(shmcache_inc);
PHP_FUNCTION(shmcache_dec);
PHP_FUNCTION(shmcache_cas);
PHP_FUNCTION(shmcache_entry);
PHP_FUNCTION(shmcache_clear_cache);
PHP_FUNCTION(shmcache_cache_info);
PHP_FUNCTION(shmcache_sma_info);
PHP_FUNCTION(shmcache_key_info);
PHP_FUNCTION(shmcache_enabled);
PHP_FUNCTION(shmcache_invalidate_tag);
PHP_FUNCTION(shmcache_stats);

#endif /* PHP_SHMCACHE_H */
