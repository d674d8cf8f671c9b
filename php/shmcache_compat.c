/*
 * shmcache_compat.c - shmcache.apcu_compat=1: the apcu_* functions,
 * APCUIterator and the APC_ITER_* / APC_LIST_* constants, bound to the
 * shmcache implementations, so an application written for APCu switches
 * without a code change.
 *
 * Refused (with a warning, nothing registered) when the APCu extension is
 * loaded too: two owners of one name is a bug waiting to happen, and which
 * one PHP picks would depend on load order. Every extension is registered
 * before any MINIT runs, so APCu is seen here whatever the ini file order.
 */
#include "php_shmcache.h"

/* apcu_<suffix> for each shmcache_<suffix> that APCu has. */
static const char *const compat_names[] = {
    "fetch", "store", "add", "delete", "exists", "inc", "dec", "cas", "entry",
    "clear_cache", "cache_info", "sma_info", "key_info", "enabled",
};
#define NCOMPAT (sizeof compat_names / sizeof compat_names[0])

static zend_function_entry g_entries[NCOMPAT + 1];
static char g_fnames[NCOMPAT][32];
static bool g_registered;

static const zend_function_entry *find_entry(const char *suffix)
{
    char want[64];
    snprintf(want, sizeof want, "shmcache_%s", suffix);
    for (const zend_function_entry *fe = shmcache_function_table(); fe->fname; fe++) {
        if (strcmp(fe->fname, want) == 0) {
            return fe;
        }
    }
    return NULL;
}

void shmcache_compat_minit(int module_number)
{
    if (!SHMCG(apcu_compat)) {
        return;
    }
    if (zend_hash_str_exists(&module_registry, "apcu", sizeof("apcu") - 1)) {
        php_error_docref(NULL, E_WARNING,
                         "shmcache.apcu_compat=1 is ignored because the APCu extension is loaded: "
                         "the apcu_* names stay APCu's. Disable APCu (phpdismod apcu) to let "
                         "shmcache serve them");
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < NCOMPAT; i++) {
        const zend_function_entry *fe = find_entry(compat_names[i]);
        if (!fe) {
            continue;
        }
        g_entries[n] = *fe;
        snprintf(g_fnames[n], sizeof g_fnames[n], "apcu_%s", compat_names[i]);
        g_entries[n].fname = g_fnames[n];
        n++;
    }
    memset(&g_entries[n], 0, sizeof g_entries[n]);
    if (zend_register_functions(NULL, g_entries, NULL, MODULE_PERSISTENT) != SUCCESS) {
        php_error_docref(NULL, E_WARNING, "shmcache: could not register the apcu_* functions");
        return;
    }
    g_registered = true;
    zend_register_class_alias("APCUIterator", shmcache_iterator_ce);

    static const struct { const char *name; const char *ours; } consts[] = {
        {"APC_ITER_TYPE", "SHMCACHE_ITER_TYPE"}, {"APC_ITER_KEY", "SHMCACHE_ITER_KEY"},
        {"APC_ITER_VALUE", "SHMCACHE_ITER_VALUE"}, {"APC_ITER_MEM_SIZE", "SHMCACHE_ITER_MEM_SIZE"},
        {"APC_ITER_TTL", "SHMCACHE_ITER_TTL"}, {"APC_ITER_NONE", "SHMCACHE_ITER_NONE"},
        {"APC_ITER_ALL", "SHMCACHE_ITER_ALL"}, {"APC_LIST_ACTIVE", "SHMCACHE_LIST_ACTIVE"},
        {"APC_LIST_DELETED", "SHMCACHE_LIST_DELETED"},
    };
    for (size_t i = 0; i < sizeof consts / sizeof consts[0]; i++) {
        zval *v = zend_get_constant_str(consts[i].ours, strlen(consts[i].ours));
        if (v) {
            zend_register_long_constant(consts[i].name, strlen(consts[i].name), Z_LVAL_P(v),
                                        CONST_PERSISTENT, module_number);
        }
    }
    /* APCu's bits with no data here (hits, times, refcount) are accepted
     * and ignored, so code that names them keeps compiling. */
    static const struct { const char *name; zend_long v; } unused[] = {
        {"APC_ITER_NUM_HITS", 8}, {"APC_ITER_MTIME", 16}, {"APC_ITER_CTIME", 32},
        {"APC_ITER_DTIME", 64}, {"APC_ITER_ATIME", 128}, {"APC_ITER_REFCOUNT", 256},
    };
    for (size_t i = 0; i < sizeof unused / sizeof unused[0]; i++) {
        zend_register_long_constant(unused[i].name, strlen(unused[i].name), unused[i].v,
                                    CONST_PERSISTENT, module_number);
    }
}

void shmcache_compat_mshutdown(void)
{
    if (g_registered) {
        zend_unregister_functions(g_entries, -1, NULL);
        g_registered = false;
    }
}
