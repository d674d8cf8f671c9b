/*
 * shmcache.c - the module: ini settings, which segment a process uses, and
 * when it is opened.
 *
 * Which segment (shmcache.segment empty, the default):
 *   - PHP-FPM worker: "php-<pool>", so every pool of a master has its own
 *     cache (APCu shares one between pools). Pools share when they are given
 *     the same shmcache.segment (php_admin_value in the pool, or php.ini).
 *   - CLI (with shmcache.enable_cli=1): a private segment "php-cli-<pid>",
 *     removed when the process ends: APCu's CLI cache is per process too. A
 *     CLI script given shmcache.segment shares that segment with whoever else
 *     uses it (a cron job warming the FPM pool's cache, for instance).
 *   - any other SAPI: "php-<sapi>-<uid>".
 *
 * When: the FPM master opens (creating if needed) a segment named in php.ini
 * in MINIT, before it forks, when it runs as the same user as its workers
 * would (not root): the workers inherit the mapping. A pool-derived name
 * cannot be opened there: FPM runs MINIT before it reads its pool
 * configuration. Otherwise the first
 * call in each process opens it, the first process creating it; the library
 * makes racing creators share one segment.
 */
#include "php_shmcache.h"
#include "php_ini.h"
#include "ext/standard/info.h"
#include "SAPI.h"
#include "shmcache_arginfo.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

ZEND_DECLARE_MODULE_GLOBALS(shmcache)

static shmc_t *g_cache;       /* the process's handle */
static pid_t g_cache_pid;     /* process that opened it (the FPM master, or us) */
static char g_name[SHMC_NAME_MAX + 1];
static bool g_unlink_at_end;  /* CLI private segment */
static char *g_scratch;
static size_t g_scratch_cap;
static bool g_enabled;        /* decided in MINIT: SAPI and enable_cli are fixed by then */
/* Set in a fork child, so the next call checks the inherited handle once;
 * every other call is two loads (getpid() would be a system call per get). */
static volatile bool g_forked;

static void on_fork_child(void)
{
    g_forked = true;
}

static PHP_INI_MH(on_update_memory)
{
    zend_string *err = NULL;
    zend_ulong v = zend_ini_parse_uquantity(new_value, &err);
    if (err || v == 0 || v > (zend_ulong)ZEND_LONG_MAX) {
        php_error_docref(NULL, E_WARNING, "Invalid %s \"%s\": must be a positive size (e.g. 64M)",
                         ZSTR_VAL(entry->name), ZSTR_VAL(new_value));
        if (err) {
            zend_string_release(err);
        }
        return FAILURE;
    }
    *(zend_long *)ZEND_INI_GET_ADDR() = (zend_long)v;
    return SUCCESS;
}

/* Counts (capacity, entry_lease_ms) must be positive. */
static PHP_INI_MH(on_update_positive)
{
    zend_long v = ZEND_ATOL(ZSTR_VAL(new_value));
    if (v <= 0) {
        php_error_docref(NULL, E_WARNING, "Invalid %s \"%s\": must be a positive number",
                         ZSTR_VAL(entry->name), ZSTR_VAL(new_value));
        return FAILURE;
    }
    *(zend_long *)ZEND_INI_GET_ADDR() = v;
    return SUCCESS;
}

static PHP_INI_MH(on_update_serializer)
{
    if (!zend_string_equals_literal(new_value, "php") &&
        !zend_string_equals_literal(new_value, "igbinary")) {
        php_error_docref(NULL, E_WARNING, "Invalid shmcache.serializer \"%s\": use php or igbinary",
                         ZSTR_VAL(new_value));
        return FAILURE;
    }
    return OnUpdateString(entry, new_value, mh_arg1, mh_arg2, mh_arg3, stage);
}

PHP_INI_BEGIN()
    STD_PHP_INI_ENTRY("shmcache.segment", "", PHP_INI_SYSTEM, OnUpdateString, segment,
                      zend_shmcache_globals, shmcache_globals)
    STD_PHP_INI_ENTRY("shmcache.capacity", "65536", PHP_INI_SYSTEM, on_update_positive, capacity,
                      zend_shmcache_globals, shmcache_globals)
    STD_PHP_INI_ENTRY("shmcache.memory", "64M", PHP_INI_SYSTEM, on_update_memory, memory,
                      zend_shmcache_globals, shmcache_globals)
    STD_PHP_INI_ENTRY("shmcache.max_value", "1M", PHP_INI_SYSTEM, on_update_memory, max_value,
                      zend_shmcache_globals, shmcache_globals)
    STD_PHP_INI_ENTRY("shmcache.entry_lease_ms", "10000", PHP_INI_ALL, on_update_positive,
                      entry_lease_ms, zend_shmcache_globals, shmcache_globals)
    STD_PHP_INI_ENTRY("shmcache.serializer", "php", PHP_INI_ALL, on_update_serializer, serializer,
                      zend_shmcache_globals, shmcache_globals)
    STD_PHP_INI_BOOLEAN("shmcache.apcu_compat", "0", PHP_INI_SYSTEM, OnUpdateBool, apcu_compat,
                        zend_shmcache_globals, shmcache_globals)
    STD_PHP_INI_BOOLEAN("shmcache.enable_cli", "0", PHP_INI_SYSTEM, OnUpdateBool, enable_cli,
                        zend_shmcache_globals, shmcache_globals)
PHP_INI_END()

static bool sapi_is(const char *name)
{
    return sapi_module.name && strcmp(sapi_module.name, name) == 0;
}

/* Keep [A-Za-z0-9._-] of s, at most cap-1 bytes; the rest becomes '_'. */
static void append_clean(char *dst, size_t cap, const char *s)
{
    size_t n = strlen(dst);
    for (; *s && n + 1 < cap; s++, n++) {
        char ch = *s;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
        dst[n] = ok ? ch : '_';
    }
    dst[n] = '\0';
}

/* The pool of an FPM worker, from the title FPM gives it ("php-fpm: pool
 * NAME"); fpm_get_status() would tell too, but only inside a request and at
 * the price of a scoreboard copy. 0 when not found (the master). */
static int fpm_pool_name(char *out, size_t cap)
{
    FILE *f = fopen("/proc/self/cmdline", "r");
    if (!f) {
        return -1;
    }
    char buf[256];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strstr(buf, "pool ");
    if (!p) {
        return -1;
    }
    p += 5;
    size_t len = strcspn(p, " ");
    if (len == 0 || len >= cap) {
        return -1;
    }
    memcpy(out, p, len);
    out[len] = '\0';
    return 0;
}

/* The segment this process should use; false when it cannot tell (the FPM
 * master without a php.ini name). */
static bool segment_name(char *out, size_t cap, bool *private_seg)
{
    *private_seg = false;
    out[0] = '\0';
    if (SHMCG(segment) && SHMCG(segment)[0]) {
        const char *s = SHMCG(segment);
        if (strlen(s) >= cap) {
            return false;
        }
        strcpy(out, s);
        return true;
    }
    if (sapi_is("fpm-fcgi")) {
        char pool[128];
        if (fpm_pool_name(pool, sizeof pool) < 0) {
            return false;
        }
        append_clean(out, cap, "php-");
        append_clean(out, cap, pool);
        return true;
    }
    if (sapi_is("cli") || sapi_is("phpdbg")) {
        snprintf(out, cap, "php-cli-%ld", (long)getpid());
        *private_seg = true;
        return true;
    }
    snprintf(out, cap, "php-%s-%ld", sapi_module.name ? sapi_module.name : "sapi", (long)getuid());
    out[cap - 1] = '\0';
    return true;
}

static bool cache_enabled_here(void)
{
    return !(sapi_is("cli") || sapi_is("phpdbg")) || SHMCG(enable_cli);
}

/* private_seg: a CLI process's own segment, which lives as long as the
 * process; it skips prefaulting (SHMC_LAZY), which would cost a short script
 * more than it saves. */
static int open_segment(const char *name, bool private_seg)
{
    shmc_config_t cfg;
    shmc_config_init(&cfg);
    cfg.capacity = (uint64_t)SHMCG(capacity);
    cfg.memory = (uint64_t)SHMCG(memory);
    cfg.max_value_len = (uint32_t)SHMCG(max_value);
    shmc_t *c = NULL;
    int r = shmc_open(name, SHMC_CREATE | (private_seg ? SHMC_LAZY : 0u), &cfg, &c);
    if (r < 0) {
        return r;
    }
    shmc_info_t info;
    r = shmc_info(c, &info);
    if (r < 0) {
        shmc_close(c);
        return r;
    }
    char *scratch = malloc((size_t)info.max_value_len + 1);
    if (!scratch) {
        shmc_close(c);
        return -ENOMEM;
    }
    free(g_scratch);
    g_scratch = scratch;
    g_scratch_cap = (size_t)info.max_value_len + 1;
    g_cache = c;
    g_cache_pid = getpid();
    snprintf(g_name, sizeof g_name, "%s", name);
    return 0;
}

static shmc_t *handle_slow(void)
{
    if (!g_enabled) {
        return NULL;
    }
    char name[SHMC_NAME_MAX + 1];
    bool private_seg;
    if (g_forked) {
        g_forked = false;
        /* Inherited (from the FPM master, or pcntl_fork): keep it unless this
         * pool names another segment (php_admin_value applies after the
         * fork). The library registers this process on its first call. */
        if (g_cache && !g_unlink_at_end && /* a CLI parent's private segment stays the child's */
            !(segment_name(name, sizeof name, &private_seg) && strcmp(name, g_name) == 0)) {
            shmc_close(g_cache);
            g_cache = NULL;
        }
        if (g_cache) {
            /* Make the library register this process now, through a read
             * (the only call that does so after fork): until then its
             * shmc_stats would probe the parent's process-table locks
             * through the file description it shares with the parent, take
             * them for dead and fold them. Costs one counted miss per
             * worker. (Reported; remove once shmc_stats reforks itself.) */
            shmc_peek(g_cache, "\0php-fork", 9, NULL, NULL);
            return g_cache;
        }
    }
    if (!segment_name(name, sizeof name, &private_seg)) {
        if (!SHMCG(warned)) {
            php_error_docref(NULL, E_WARNING, "shmcache: cannot tell which segment to use; set shmcache.segment");
            SHMCG(warned) = true;
        }
        return NULL;
    }
    int r = open_segment(name, private_seg);
    if (r < 0) {
        if (!SHMCG(warned)) {
            php_error_docref(NULL, E_WARNING, "shmcache: cannot open segment \"%s\": %s", name,
                             shmc_strerror(r));
            SHMCG(warned) = true;
        }
        return NULL;
    }
    g_unlink_at_end = private_seg;
    return g_cache;
}

shmc_t *shmcache_handle(void)
{
    if (EXPECTED(g_cache != NULL && !g_forked)) {
        return g_cache;
    }
    return handle_slow();
}

char *shmcache_scratch(size_t *cap)
{
    *cap = g_scratch_cap;
    return g_scratch;
}

void shmcache_warn(const char *what, zend_string *key, int err)
{
    if (key) {
        php_error_docref(NULL, E_WARNING, "%s \"%s\": %s", what, ZSTR_VAL(key), shmc_strerror(err));
    } else {
        php_error_docref(NULL, E_WARNING, "%s: %s", what, shmc_strerror(err));
    }
}

bool shmcache_ttl_ms(zend_long ttl, uint32_t argn, uint64_t *ms)
{
    if (ttl < 0) {
        zend_argument_value_error(argn, "must be greater than or equal to 0");
        return false;
    }
    if ((zend_ulong)ttl > UINT64_MAX / 1000) {
        zend_argument_value_error(argn, "is too large");
        return false;
    }
    *ms = (uint64_t)ttl * 1000u;
    return true;
}

/* PHP's macro names the parameter after the global it initialises. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
static PHP_GINIT_FUNCTION(shmcache)
{
#if defined(COMPILE_DL_SHMCACHE) && defined(ZTS)
    ZEND_TSRMLS_CACHE_UPDATE();
#endif
    memset(shmcache_globals, 0, sizeof *shmcache_globals);
}
#pragma GCC diagnostic pop

static PHP_MINIT_FUNCTION(shmcache)
{
    REGISTER_INI_ENTRIES();
    shmcache_iterator_minit(module_number);
    shmcache_compat_minit(module_number);
    g_enabled = cache_enabled_here();
    pthread_atfork(NULL, NULL, on_fork_child);
    /* The FPM master creates a segment named in php.ini before forking, so
     * the workers inherit one mapping. Not as root: its 0600 segment would
     * shut out workers running as the pool's user. */
    if (sapi_is("fpm-fcgi") && SHMCG(segment) && SHMCG(segment)[0] && geteuid() != 0) {
        int r = open_segment(SHMCG(segment), false);
        if (r < 0) {
            php_error_docref(NULL, E_WARNING, "shmcache: cannot create segment \"%s\": %s",
                             SHMCG(segment), shmc_strerror(r));
        }
    }
    return SUCCESS;
}

static PHP_MSHUTDOWN_FUNCTION(shmcache)
{
    shmcache_compat_mshutdown();
    if (g_cache && g_cache_pid == getpid()) {
        shmc_close(g_cache);
        if (g_unlink_at_end) {
            shmc_unlink(g_name);
        }
    }
    g_cache = NULL;
    free(g_scratch);
    g_scratch = NULL;
    UNREGISTER_INI_ENTRIES();
    return SUCCESS;
}

static PHP_RINIT_FUNCTION(shmcache)
{
#if defined(COMPILE_DL_SHMCACHE) && defined(ZTS)
    ZEND_TSRMLS_CACHE_UPDATE();
#endif
    SHMCG(warned) = false;
    SHMCG(warned_igbinary) = false;
    return SUCCESS;
}

static PHP_MINFO_FUNCTION(shmcache)
{
    php_info_print_table_start();
    php_info_print_table_header(2, "shmcache support", "enabled");
    php_info_print_table_row(2, "Version", PHP_SHMCACHE_VERSION);
    php_info_print_table_row(2, "Library", SHMC_VERSION_STRING);
    php_info_print_table_row(2, "Segment", g_cache ? g_name : "(not open)");
    php_info_print_table_end();
    DISPLAY_INI_ENTRIES();
}

PHP_FUNCTION(shmcache_enabled)
{
    ZEND_PARSE_PARAMETERS_NONE();
    RETURN_BOOL(shmcache_handle() != NULL);
}

static const zend_function_entry shmcache_functions[] = {
    PHP_FE(shmcache_fetch, arginfo_shmcache_fetch)
    PHP_FE(shmcache_store, arginfo_shmcache_store)
    PHP_FE(shmcache_add, arginfo_shmcache_add)
    PHP_FE(shmcache_delete, arginfo_shmcache_delete)
    PHP_FE(shmcache_exists, arginfo_shmcache_exists)
    PHP_FE(shmcache_inc, arginfo_shmcache_inc)
    PHP_FE(shmcache_dec, arginfo_shmcache_dec)
    PHP_FE(shmcache_cas, arginfo_shmcache_cas)
    PHP_FE(shmcache_entry, arginfo_shmcache_entry)
    PHP_FE(shmcache_clear_cache, arginfo_shmcache_clear_cache)
    PHP_FE(shmcache_cache_info, arginfo_shmcache_cache_info)
    PHP_FE(shmcache_sma_info, arginfo_shmcache_sma_info)
    PHP_FE(shmcache_key_info, arginfo_shmcache_key_info)
    PHP_FE(shmcache_enabled, arginfo_shmcache_enabled)
    PHP_FE(shmcache_invalidate_tag, arginfo_shmcache_invalidate_tag)
    PHP_FE(shmcache_stats, arginfo_shmcache_stats)
    PHP_FE_END
};

const zend_function_entry *shmcache_function_table(void)
{
    return shmcache_functions;
}

zend_module_entry shmcache_module_entry = {
    STANDARD_MODULE_HEADER,
    "shmcache",
    shmcache_functions,
    PHP_MINIT(shmcache),
    PHP_MSHUTDOWN(shmcache),
    PHP_RINIT(shmcache),
    NULL,
    PHP_MINFO(shmcache),
    PHP_SHMCACHE_VERSION,
    PHP_MODULE_GLOBALS(shmcache),
    PHP_GINIT(shmcache),
    NULL,
    NULL,
    STANDARD_MODULE_PROPERTIES_EX
};

#ifdef COMPILE_DL_SHMCACHE
#ifdef ZTS
ZEND_TSRMLS_CACHE_DEFINE()
#endif
ZEND_GET_MODULE(shmcache)
#endif
