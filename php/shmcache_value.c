/*
 * shmcache_value.c - PHP values to bytes and back.
 *
 * Scalars skip the serializer: a string is stored as its bytes, an int as
 * decimal ASCII (so C, Python and shmcache-tool read it as a number), a
 * float as its 8 bytes, true/false/null as no bytes; the type is the low
 * byte of the item flags, under a magic that marks "stored by PHP". Anything
 * else goes through PHP's serializer, or igbinary's when
 * shmcache.serializer=igbinary and the igbinary extension is loaded (found
 * at run time, so the extension neither links against nor requires it).
 * Arrays whose leaves are all scalars skip it too (shmcache_array.c, type
 * SHMCACHE_T_ARRAY) unless igbinary was asked for; an array holding
 * anything else falls back to the serializer (docs/PHP.md has the
 * measurement).
 */
#include "php_shmcache.h"
#include "ext/standard/php_var.h"

#include <dlfcn.h>
#include <errno.h>

typedef int (*igb_ser_fn)(uint8_t **ret, size_t *ret_len, zval *z);
typedef int (*igb_unser_fn)(const uint8_t *buf, size_t buf_len, zval *z);

static igb_ser_fn g_igb_ser;
static igb_unser_fn g_igb_unser;
static bool g_igb_looked;

/* igbinary's C entry points, when its extension is loaded in the process. */
static bool igbinary_available(void)
{
    if (!g_igb_looked) {
        g_igb_looked = true;
        if (zend_hash_str_exists(&module_registry, "igbinary", sizeof("igbinary") - 1)) {
            g_igb_ser = (igb_ser_fn)(uintptr_t)dlsym(RTLD_DEFAULT, "igbinary_serialize");
            g_igb_unser = (igb_unser_fn)(uintptr_t)dlsym(RTLD_DEFAULT, "igbinary_unserialize");
        }
    }
    return g_igb_ser && g_igb_unser;
}

static bool want_igbinary(void)
{
    const char *s = SHMCG(serializer);
    if (!s || strcmp(s, "igbinary") != 0) {
        return false;
    }
    if (igbinary_available()) {
        return true;
    }
    if (!SHMCG(warned_igbinary)) {
        php_error_docref(NULL, E_WARNING, "shmcache.serializer=igbinary but the igbinary extension "
                                          "is not loaded: using PHP's serializer");
        SHMCG(warned_igbinary) = true;
    }
    return false;
}

zend_result shmcache_encode(zval *v, shmcache_enc_t *e)
{
    memset(&e->ser, 0, sizeof e->ser);
    e->igb = NULL;
    ZVAL_DEREF(v);
    switch (Z_TYPE_P(v)) {
    case IS_STRING:
        e->p = Z_STRVAL_P(v);
        e->n = Z_STRLEN_P(v);
        e->flags = SHMCACHE_FLAG_MAGIC | SHMCACHE_T_STRING;
        return SUCCESS;
    case IS_LONG: {
        int n = snprintf(e->small, sizeof e->small, ZEND_LONG_FMT, Z_LVAL_P(v));
        e->p = e->small;
        e->n = (size_t)n;
        e->flags = SHMCACHE_FLAG_MAGIC | SHMCACHE_T_LONG;
        return SUCCESS;
    }
    case IS_DOUBLE: {
        double d = Z_DVAL_P(v);
        memcpy(e->small, &d, sizeof d);
        e->p = e->small;
        e->n = sizeof d;
        e->flags = SHMCACHE_FLAG_MAGIC | SHMCACHE_T_DOUBLE;
        return SUCCESS;
    }
    case IS_TRUE:
    case IS_FALSE:
    case IS_NULL:
        e->p = e->small;
        e->n = 0;
        e->flags = SHMCACHE_FLAG_MAGIC | (Z_TYPE_P(v) == IS_TRUE    ? SHMCACHE_T_TRUE
                                          : Z_TYPE_P(v) == IS_FALSE ? SHMCACHE_T_FALSE
                                                                    : SHMCACHE_T_NULL);
        return SUCCESS;
    default:
        break;
    }
    bool igb = want_igbinary();
    if (Z_TYPE_P(v) == IS_ARRAY && !igb && shmcache_array_encode(Z_ARRVAL_P(v), &e->ser)) {
        e->p = ZSTR_VAL(e->ser.s);
        e->n = ZSTR_LEN(e->ser.s);
        e->flags = SHMCACHE_FLAG_MAGIC | SHMCACHE_T_ARRAY;
        return SUCCESS;
    }
    if (igb) {
        size_t len = 0;
        if (g_igb_ser(&e->igb, &len, v) != 0 || EG(exception)) {
            if (e->igb) {
                efree(e->igb);
                e->igb = NULL;
            }
            return FAILURE;
        }
        e->p = (const char *)e->igb;
        e->n = len;
        e->flags = SHMCACHE_FLAG_MAGIC | SHMCACHE_T_SERIAL_IGB;
        return SUCCESS;
    }
    php_serialize_data_t vh;
    PHP_VAR_SERIALIZE_INIT(vh);
    php_var_serialize(&e->ser, v, &vh);
    PHP_VAR_SERIALIZE_DESTROY(vh);
    if (EG(exception)) {
        return FAILURE;
    }
    e->p = e->ser.s ? ZSTR_VAL(e->ser.s) : "";
    e->n = e->ser.s ? ZSTR_LEN(e->ser.s) : 0;
    e->flags = SHMCACHE_FLAG_MAGIC | SHMCACHE_T_SERIAL_PHP;
    return SUCCESS;
}

void shmcache_enc_free(shmcache_enc_t *e)
{
    smart_str_free(&e->ser);
    if (e->igb) {
        efree(e->igb);
        e->igb = NULL;
    }
}

static zend_result parse_long(const char *p, size_t n, zend_long *out)
{
    zend_long v;
    double d;
    if (n == 0 || is_numeric_string(p, n, &v, &d, false) != IS_LONG) {
        return FAILURE;
    }
    *out = v;
    return SUCCESS;
}

zend_result shmcache_decode(const char *p, size_t n, uint32_t flags, zval *out)
{
    switch (shmcache_type_of(flags)) {
    case SHMCACHE_T_LONG: {
        zend_long v;
        if (parse_long(p, n, &v) == SUCCESS) {
            ZVAL_LONG(out, v);
            return SUCCESS;
        }
        break;
    }
    case SHMCACHE_T_DOUBLE:
        if (n == sizeof(double)) {
            double d;
            memcpy(&d, p, sizeof d);
            ZVAL_DOUBLE(out, d);
            return SUCCESS;
        }
        break;
    case SHMCACHE_T_TRUE:
        ZVAL_TRUE(out);
        return SUCCESS;
    case SHMCACHE_T_FALSE:
        ZVAL_FALSE(out);
        return SUCCESS;
    case SHMCACHE_T_NULL:
        ZVAL_NULL(out);
        return SUCCESS;
    case SHMCACHE_T_SERIAL_PHP: {
        const unsigned char *q = (const unsigned char *)p;
        php_unserialize_data_t vh;
        PHP_VAR_UNSERIALIZE_INIT(vh);
        int ok = php_var_unserialize(out, &q, q + n, &vh);
        PHP_VAR_UNSERIALIZE_DESTROY(vh);
        if (ok) {
            return SUCCESS;
        }
        zval_ptr_dtor(out);
        break;
    }
    case SHMCACHE_T_ARRAY:
        if (shmcache_array_decode(p, n, out) == SUCCESS) {
            return SUCCESS;
        }
        break;
    case SHMCACHE_T_SERIAL_IGB:
        if (igbinary_available() && g_igb_unser((const uint8_t *)p, n, out) == 0) {
            return SUCCESS;
        }
        break;
    default: /* our string, or bytes another client stored */
        ZVAL_STRINGL_FAST(out, p, n);
        return SUCCESS;
    }
    php_error_docref(NULL, E_WARNING, "shmcache: a stored value of type %u could not be decoded",
                     shmcache_type_of(flags));
    ZVAL_FALSE(out);
    return FAILURE;
}

/* Unserializing can run PHP code (Serializable::unserialize, nested
 * fetches inside it) while the decoder still reads the buffer, so a fetch
 * made during a decode gets a buffer of its own. */
static int g_decode_depth;

char *shmcache_buf_acquire(size_t *cap)
{
    char *buf = shmcache_scratch(cap);
    return g_decode_depth == 0 ? buf : emalloc(*cap);
}

void shmcache_buf_release(char *buf)
{
    size_t cap;
    if (buf != shmcache_scratch(&cap)) {
        efree(buf);
    }
}

zend_result shmcache_decode_guarded(const char *p, size_t n, uint32_t flags, zval *out)
{
    g_decode_depth++;
    zend_result r = shmcache_decode(p, n, flags, out);
    g_decode_depth--;
    return r;
}

int shmcache_fetch_zval(shmc_t *c, zend_string *key, zval *out)
{
    size_t cap, vlen = 0;
    char *buf = shmcache_buf_acquire(&cap);
    shmc_item_info_t info;
    int r = shmc_get(c, ZSTR_VAL(key), ZSTR_LEN(key), buf, cap, &vlen, &info);
    if (r == 0 && shmcache_decode_guarded(buf, vlen, info.flags, out) != SUCCESS) {
        r = -EBADMSG;
    }
    shmcache_buf_release(buf);
    return r;
}
