/*
 * shmcache_array.c - arrays of scalars without the serializer.
 *
 * An array whose leaves are all null, bool, int, float or string (nested
 * arrays included, up to SHMCACHE_ARRAY_DEPTH levels) is written as a flat
 * tagged byte stream and read back straight into a zend_array of the right
 * size: no serializer state, no per-element parsing of decimal text, lists
 * filled in place. Anything else (objects, shared references, deeper
 * nesting) is refused by the encoder and goes through the serializer, so
 * this is a fast path, never a second meaning for a value. (A reference
 * nothing else shares is a plain value, to serialize() too, and is written
 * as one.)
 *
 * Format (item type SHMCACHE_T_ARRAY; integers in host byte order, like the
 * double of SHMCACHE_T_DOUBLE: a segment lives on one machine):
 *
 *   value  := VERSION(1) array
 *   array  := 'p' u32:count elem{count}          a list: keys 0..count-1
 *           | 'h' u32:count (key elem){count}    any other array, in order
 *   key    := an int elem (I8, I32, I64) or a string elem (S8, S32)
 *           | 'k' u8:index                       the index-th string key
 *                                                written out in this value
 *   elem   := NUL | FAL | TRU | I8 i8 | I32 i32 | I64 i64 | DBL f64
 *           | S8 u8:len bytes | S32 u32:len bytes | array
 *
 * Key references: the first SHMCACHE_ARRAY_KEYREFS string keys written out
 * (S8/S32, in the order they appear, nested arrays included) are numbered;
 * a later key that is the same zend_string (the same literal, or the same
 * column name of every row of a query result) is written as 'k' and its
 * number. Rows of a result set then carry each column name once, and the
 * decoder hands the same zend_string to every row instead of looking each
 * key up again. The encoder compares pointers only (a key equal in content
 * but another string is written out again, which is just as valid).
 *
 * The bytes come from shared memory, which any process of the segment's
 * owner may write, so the decoder trusts nothing: every read is bounds
 * checked, a count larger than the bytes left could hold is refused before
 * anything is allocated (and so is a total over all arrays larger than the
 * value could hold), nesting is bounded, a duplicate key is refused
 * (zend_hash_add, not add_new), and the value must end exactly where its
 * last element does. A bad value is a clean FAILURE with everything it had
 * built freed, never a partly filled array.
 */
#include "php_shmcache.h"

enum {
    A_VERSION = 1,
    A_NUL = 'n', A_FAL = 'f', A_TRU = 't',
    A_I8 = 'b', A_I32 = 'i', A_I64 = 'l', A_DBL = 'd',
    A_S8 = 's', A_S32 = 'S',
    A_LIST = 'p', A_HASH = 'h',
    A_KREF = 'k',
};

/* The number of referable keys is part of the format (a decoder refuses
 * references past its own table): changing it needs a new A_VERSION. */
_Static_assert(SHMCACHE_ARRAY_KEYREFS <= 256, "key references are one byte");

typedef struct wr {
    smart_str *s;
    zend_string *keys[SHMCACHE_ARRAY_KEYREFS]; /* not referenced: the array
                                                  being encoded holds them */
    uint32_t nkeys;
} wr_t;

/* ---- encoder ---- */

static inline void put_u8(smart_str *s, unsigned char v)
{
    smart_str_appendc(s, (char)v);
}

static inline void put_bytes(smart_str *s, unsigned char tag, const void *p, size_t n)
{
    char *w = smart_str_extend(s, 1 + n);
    w[0] = (char)tag;
    memcpy(w + 1, p, n);
}

static void put_long(smart_str *s, zend_long v)
{
    if (v >= INT8_MIN && v <= INT8_MAX) {
        int8_t b = (int8_t)v;
        put_bytes(s, A_I8, &b, 1);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        int32_t w = (int32_t)v;
        put_bytes(s, A_I32, &w, 4);
    } else {
        int64_t q = (int64_t)v;
        put_bytes(s, A_I64, &q, 8);
    }
}

/* false when the string is too long for a u32 length (the value would be
 * far over any max_value anyway). */
static bool put_string(smart_str *s, const char *p, size_t n)
{
    if (n <= UINT8_MAX) {
        char *w = smart_str_extend(s, 2 + n);
        w[0] = (char)A_S8;
        w[1] = (char)(unsigned char)n;
        memcpy(w + 2, p, n);
        return true;
    }
    if (n > UINT32_MAX) {
        return false;
    }
    uint32_t len = (uint32_t)n;
    char *w = smart_str_extend(s, 5 + n);
    w[0] = (char)A_S32;
    memcpy(w + 1, &len, 4);
    memcpy(w + 5, p, n);
    return true;
}

static bool put_array(wr_t *w, HashTable *ht, int depth);

/* A string key: a reference to the same string written earlier, or the
 * string (numbered while there is room). */
static bool put_key(wr_t *w, zend_string *k)
{
    for (uint32_t i = 0; i < w->nkeys; i++) {
        if (w->keys[i] == k) {
            char *b = smart_str_extend(w->s, 2);
            b[0] = (char)A_KREF;
            b[1] = (char)(unsigned char)i;
            return true;
        }
    }
    if (w->nkeys < SHMCACHE_ARRAY_KEYREFS) {
        w->keys[w->nkeys++] = k;
    }
    return put_string(w->s, ZSTR_VAL(k), ZSTR_LEN(k));
}

static bool put_elem(wr_t *w, zval *v, int depth)
{
    smart_str *s = w->s;
    switch (Z_TYPE_P(v)) {
    case IS_NULL:
        put_u8(s, A_NUL);
        return true;
    case IS_FALSE:
        put_u8(s, A_FAL);
        return true;
    case IS_TRUE:
        put_u8(s, A_TRU);
        return true;
    case IS_LONG:
        put_long(s, Z_LVAL_P(v));
        return true;
    case IS_DOUBLE: {
        double d = Z_DVAL_P(v);
        put_bytes(s, A_DBL, &d, 8);
        return true;
    }
    case IS_STRING:
        return put_string(s, Z_STRVAL_P(v), Z_STRLEN_P(v));
    case IS_ARRAY:
        return put_array(w, Z_ARRVAL_P(v), depth + 1);
    case IS_REFERENCE:
        /* A reference nothing else shares (foreach by reference, then
         * unset) is a plain value to serialize() as well; a shared one is
         * kept by serialize(), so it goes there. */
        if (Z_REFCOUNT_P(v) == 1) {
            return put_elem(w, Z_REFVAL_P(v), depth);
        }
        return false;
    default: /* objects, resources, INDIRECT */
        return false;
    }
}

static bool put_array(wr_t *w, HashTable *ht, int depth)
{
    if (depth > SHMCACHE_ARRAY_DEPTH) {
        return false;
    }
    uint32_t count = zend_hash_num_elements(ht);
    bool list = zend_array_is_list(ht);
    char *b = smart_str_extend(w->s, 5);
    b[0] = (char)(list ? A_LIST : A_HASH);
    memcpy(b + 1, &count, 4);
    zval *v;
    if (list) {
        ZEND_HASH_FOREACH_VAL(ht, v) {
            if (!put_elem(w, v, depth)) {
                return false;
            }
        } ZEND_HASH_FOREACH_END();
        return true;
    }
    zend_string *skey;
    zend_ulong ikey;
    ZEND_HASH_FOREACH_KEY_VAL(ht, ikey, skey, v) {
        if (skey) {
            if (!put_key(w, skey)) {
                return false;
            }
        } else {
            put_long(w->s, (zend_long)ikey);
        }
        if (!put_elem(w, v, depth)) {
            return false;
        }
    } ZEND_HASH_FOREACH_END();
    return true;
}

bool shmcache_array_encode(HashTable *ht, smart_str *out)
{
    size_t start = out->s ? ZSTR_LEN(out->s) : 0;
    /* A guess that saves the first few reallocations of small arrays,
     * capped so a huge array grows as it is written (and fails at the
     * segment's max_value) rather than asking memory_limit for it at once. */
    size_t guess = 16 + (size_t)zend_hash_num_elements(ht) * 12;
    smart_str_alloc(out, guess < 65536 ? guess : 65536, false);
    put_u8(out, A_VERSION);
    wr_t w; /* no initializer: zeroing keys[] would cost more than small arrays do */
    w.s = out;
    w.nkeys = 0;
    if (put_array(&w, ht, 1)) {
        return true;
    }
    ZSTR_LEN(out->s) = start;
    return false;
}

/* ---- decoder ---- */

typedef struct rd {
    const unsigned char *p, *end;
    size_t budget; /* elements the value's bytes can still hold, all arrays together */
    zend_string *keys[SHMCACHE_ARRAY_KEYREFS]; /* one reference each, ours */
    uint32_t nkeys;
} rd_t;

static inline bool take(rd_t *r, void *dst, size_t n)
{
    if ((size_t)(r->end - r->p) < n) {
        return false;
    }
    memcpy(dst, r->p, n);
    r->p += n;
    return true;
}

/* A string of n bytes at the cursor; NULL when fewer are left. */
static inline const char *take_str(rd_t *r, size_t n)
{
    if ((size_t)(r->end - r->p) < n) {
        return NULL;
    }
    const char *s = (const char *)r->p;
    r->p += n;
    return s;
}

/* The length that follows an S8/S32 tag. */
static bool str_len(rd_t *r, unsigned char tag, size_t *n)
{
    if (tag == A_S8) {
        uint8_t b;
        if (!take(r, &b, 1)) {
            return false;
        }
        *n = b;
        return true;
    }
    uint32_t w;
    if (!take(r, &w, 4)) {
        return false;
    }
    *n = w;
    return true;
}

static bool long_of(rd_t *r, unsigned char tag, zend_long *v)
{
    switch (tag) {
    case A_I8: {
        int8_t b;
        if (!take(r, &b, 1)) {
            return false;
        }
        *v = b;
        return true;
    }
    case A_I32: {
        int32_t w;
        if (!take(r, &w, 4)) {
            return false;
        }
        *v = w;
        return true;
    }
    case A_I64: {
        int64_t q;
        if (!take(r, &q, 8)) {
            return false;
        }
        *v = (zend_long)q;
        return true;
    }
    default:
        return false;
    }
}

static bool get_array(rd_t *r, unsigned char tag, zval *out, int depth);

/* One element into *out; on failure *out holds nothing to free. */
static bool get_elem(rd_t *r, zval *out, int depth)
{
    unsigned char tag;
    if (!take(r, &tag, 1)) {
        return false;
    }
    switch (tag) {
    case A_NUL:
        ZVAL_NULL(out);
        return true;
    case A_FAL:
        ZVAL_FALSE(out);
        return true;
    case A_TRU:
        ZVAL_TRUE(out);
        return true;
    case A_I8:
    case A_I32:
    case A_I64: {
        zend_long v;
        if (!long_of(r, tag, &v)) {
            return false;
        }
        ZVAL_LONG(out, v);
        return true;
    }
    case A_DBL: {
        double d;
        if (!take(r, &d, 8)) {
            return false;
        }
        ZVAL_DOUBLE(out, d);
        return true;
    }
    case A_S8:
    case A_S32: {
        size_t n;
        const char *s;
        if (!str_len(r, tag, &n) || !(s = take_str(r, n))) {
            return false;
        }
        ZVAL_STRINGL_FAST(out, s, n);
        return true;
    }
    case A_LIST:
    case A_HASH:
        return get_array(r, tag, out, depth + 1);
    default:
        return false;
    }
}

static bool get_list(rd_t *r, HashTable *ht, uint32_t count, int depth)
{
    bool ok = true;
    zend_hash_real_init_packed(ht);
    ZEND_HASH_FILL_PACKED(ht) {
        for (uint32_t i = 0; i < count; i++) {
            /* Only elements decoded whole are counted (FILL_END), so a
             * failure leaves a consistent array for the caller to free. */
            if (!get_elem(r, __fill_val, depth)) {
                ok = false;
                break;
            }
            ZEND_HASH_FILL_NEXT();
        }
    } ZEND_HASH_FILL_END();
    return ok;
}

/* A string key (S8/S32 after its tag, or a 'k' reference): a zend_string
 * with one reference for the caller; NULL when malformed. */
static zend_string *get_str_key(rd_t *r, unsigned char tag)
{
    if (tag == A_KREF) {
        uint8_t idx;
        if (!take(r, &idx, 1) || idx >= r->nkeys) {
            return NULL;
        }
        return zend_string_copy(r->keys[idx]);
    }
    size_t n;
    const char *s;
    if (!str_len(r, tag, &n) || !(s = take_str(r, n))) {
        return NULL;
    }
    /* Keys are mostly names the script also spells as literals: reuse the
     * interned string (hash already computed) if there is one. Numbered
     * before the value is read, as the encoder numbers it before writing
     * the value. */
    zend_string *k = zend_string_init_existing_interned(s, n, false);
    if (r->nkeys < SHMCACHE_ARRAY_KEYREFS) {
        r->keys[r->nkeys++] = zend_string_copy(k);
    }
    return k;
}

static bool get_hash(rd_t *r, HashTable *ht, uint32_t count, int depth)
{
    zend_hash_real_init_mixed(ht);
    for (uint32_t i = 0; i < count; i++) {
        unsigned char tag;
        if (!take(r, &tag, 1)) {
            return false;
        }
        zval v;
        if (tag == A_S8 || tag == A_S32 || tag == A_KREF) {
            zend_string *k = get_str_key(r, tag);
            if (!k) {
                return false;
            }
            bool added = false;
            if (get_elem(r, &v, depth)) {
                added = zend_hash_add(ht, k, &v) != NULL;
                if (!added) {
                    zval_ptr_dtor(&v);
                }
            }
            zend_string_release(k);
            if (!added) {
                return false;
            }
        } else {
            zend_long ik;
            if (!long_of(r, tag, &ik) || !get_elem(r, &v, depth)) {
                return false;
            }
            if (!zend_hash_index_add(ht, (zend_ulong)ik, &v)) {
                zval_ptr_dtor(&v);
                return false;
            }
        }
    }
    return true;
}

static bool get_array(rd_t *r, unsigned char tag, zval *out, int depth)
{
    uint32_t count;
    if (depth > SHMCACHE_ARRAY_DEPTH || !take(r, &count, 4)) {
        return false;
    }
    /* Each element takes at least one byte (two in a hash): a count the
     * remaining bytes cannot hold is corrupt, refused before allocating.
     * Nested arrays are allocated before their parent is filled, so the
     * counts of all arrays together are held to the value's size too:
     * otherwise 32 nested lists each claiming the whole value would
     * allocate 32 times what a real value of that size can need. */
    size_t left = (size_t)(r->end - r->p);
    if ((tag == A_LIST ? (size_t)count : (size_t)count * 2) > left || count > HT_MAX_SIZE ||
        count > r->budget) {
        return false;
    }
    r->budget -= count;
    if (count == 0) {
        ZVAL_EMPTY_ARRAY(out);
        return true;
    }
    array_init_size(out, count);
    bool ok = tag == A_LIST ? get_list(r, Z_ARRVAL_P(out), count, depth)
                            : get_hash(r, Z_ARRVAL_P(out), count, depth);
    if (!ok) {
        zval_ptr_dtor(out);
        ZVAL_UNDEF(out);
    }
    return ok;
}

zend_result shmcache_array_decode(const char *p, size_t n, zval *out)
{
    rd_t r; /* no initializer: zeroing keys[] would cost more than small arrays do */
    r.p = (const unsigned char *)p;
    r.end = r.p + n;
    r.budget = n;
    r.nkeys = 0;
    unsigned char version, tag;
    bool ok = take(&r, &version, 1) && version == A_VERSION && take(&r, &tag, 1) &&
              (tag == A_LIST || tag == A_HASH) && get_array(&r, tag, out, 1);
    if (ok && r.p != r.end) { /* trailing bytes: not a value this encoder wrote */
        zval_ptr_dtor(out);
        ZVAL_UNDEF(out);
        ok = false;
    }
    for (uint32_t i = 0; i < r.nkeys; i++) {
        zend_string_release(r.keys[i]);
    }
    return ok ? SUCCESS : FAILURE;
}
