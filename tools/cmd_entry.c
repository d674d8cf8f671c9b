/*
 * cmd_entry.c - commands on single entries (get, set, add, replace, incr,
 * touch, delete) and the key listing (keys).
 *
 * Keys are taken from the command line as they are, or with -e/--escaped in
 * the text form that output uses (\xNN and \\), so any key shown by `keys`
 * can be pasted back. get writes the value's bytes unchanged.
 */
#include "tool.h"
#include "json.h"
#include "units.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void nap_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* ---- get --------------------------------------------------------------- */

int cmd_get(tool_args_t *a)
{
    const char *name = a->pos[0];
    unsigned char *key, *buf = NULL;
    size_t klen, vlen = 0, cap = 64 * 1024;
    shmc_item_info_t ii;
    shmc_t *c;
    int rc = tool_key_arg(a, a->pos[1], &key, &klen);
    if (rc != EXIT_OK)
        return rc;
    rc = tool_open_ro(a, name, &c);
    if (rc != EXIT_OK) {
        free(key);
        return rc;
    }
    /* Bounded: the value may grow between the two calls, and a read-only
     * handle may keep meeting a writer (-EBUSY); a few attempts each. */
    for (int attempt = 0; attempt < 8; attempt++) {
        unsigned char *nb = realloc(buf, cap ? cap : 1);
        if (nb == NULL) {
            rc = -ENOMEM;
            break;
        }
        buf = nb;
        rc = shmc_get(c, key, klen, buf, cap, &vlen, &ii);
        if (rc == -ENOBUFS) {
            cap = vlen;
            continue;
        }
        if (rc == -EBUSY) {
            nap_ms(1);
            continue;
        }
        break;
    }
    shmc_close(c);
    if (rc < 0) {
        int code = tool_op_err("get", key, klen, rc);
        free(key);
        free(buf);
        return code;
    }
    if (a->json) {
        json_t j;
        json_init(&j, stdout, 1);
        json_obj_begin(&j);
        json_kv_bytes(&j, "key", key, klen);
        json_kv_bytes(&j, "value", buf, vlen);
        json_kv_u64(&j, "size", vlen);
        json_kv_u64(&j, "flags", ii.flags);
        json_kv_i64(&j, "ttl_ms", ii.ttl_ms);
        json_kv_u64(&j, "cas", ii.cas);
        json_obj_end(&j);
        json_finish(&j);
    } else {
        fflush(stdout);
        rc = tool_write_all(STDOUT_FILENO, buf, vlen);
        if (rc < 0) {
            tool_err("get: write error: %s", strerror(-rc));
            free(key);
            free(buf);
            return EXIT_FAIL;
        }
    }
    free(key);
    free(buf);
    return EXIT_OK;
}

/* ---- set, add, replace ------------------------------------------------- */

typedef int (*store_fn)(shmc_t *, const void *, size_t, const void *, size_t,
                        uint64_t, uint32_t);

static int store(tool_args_t *a, store_fn fn, const char *what)
{
    const char *name = a->pos[0];
    unsigned char *key, *val = NULL;
    size_t klen, vlen;
    shmc_t *c;
    int rc = tool_key_arg(a, a->pos[1], &key, &klen);
    if (rc != EXIT_OK)
        return rc;
    if (strcmp(a->pos[2], "-") == 0) {
        rc = tool_read_all(STDIN_FILENO, &val, &vlen, SHMC_VALUE_MAX);
        if (rc < 0) {
            tool_err("%s: cannot read the value from standard input: %s", what,
                     rc == -E2BIG ? "longer than the largest value" : strerror(-rc));
            free(key);
            return EXIT_FAIL;
        }
    } else if (a->escaped) {
        if (text_unescape(a->pos[2], &val, &vlen) != 0) {
            free(key);
            return tool_usage_err(a, "malformed escape in the value");
        }
    } else {
        vlen = strlen(a->pos[2]);
        val = (unsigned char *)strdup(a->pos[2]);
        if (val == NULL) {
            free(key);
            tool_err("out of memory");
            return EXIT_FAIL;
        }
    }
    rc = tool_open(a, name, 0, &c);
    if (rc == EXIT_OK) {
        int err = fn(c, key, klen, val, vlen, a->ttl_ms, a->flags);
        shmc_close(c);
        rc = err < 0 ? tool_op_err(what, key, klen, err) : EXIT_OK;
    }
    free(key);
    free(val);
    return rc;
}

int cmd_set(tool_args_t *a) { return store(a, shmc_set, "set"); }
int cmd_add(tool_args_t *a) { return store(a, shmc_add, "add"); }
int cmd_replace(tool_args_t *a) { return store(a, shmc_replace, "replace"); }

/* ---- incr, touch, delete ----------------------------------------------- */

int cmd_incr(tool_args_t *a)
{
    const char *name = a->pos[0];
    int64_t delta = 1;
    uint64_t result = 0;
    unsigned char *key;
    size_t klen;
    shmc_t *c;
    if (a->npos > 2 && units_parse_i64(a->pos[2], &delta) != 0)
        return tool_usage_err(a, "bad DELTA '%s' (a signed 64-bit number)", a->pos[2]);
    int rc = tool_key_arg(a, a->pos[1], &key, &klen);
    if (rc != EXIT_OK)
        return rc;
    rc = tool_open(a, name, 0, &c);
    if (rc != EXIT_OK) {
        free(key);
        return rc;
    }
    int err = shmc_incr(c, key, klen, delta,
                        (a->seen & OPT_INITIAL) ? &a->initial : NULL,
                        a->ttl_ms, &result);
    shmc_close(c);
    if (err < 0) {
        tool_op_err("incr", key, klen, err);
        free(key);
        return EXIT_FAIL;
    }
    if (a->json) {
        json_t j;
        json_init(&j, stdout, 1);
        json_obj_begin(&j);
        json_kv_bytes(&j, "key", key, klen);
        json_kv_u64(&j, "value", result);
        json_obj_end(&j);
        json_finish(&j);
    } else {
        printf("%llu\n", (unsigned long long)result);
    }
    free(key);
    return EXIT_OK;
}

int cmd_touch(tool_args_t *a)
{
    unsigned char *key;
    size_t klen;
    shmc_t *c;
    if (!(a->seen & OPT_TTL))
        return tool_usage_err(a, "--ttl is required (0 = never expires)");
    int rc = tool_key_arg(a, a->pos[1], &key, &klen);
    if (rc != EXIT_OK)
        return rc;
    rc = tool_open(a, a->pos[0], 0, &c);
    if (rc == EXIT_OK) {
        int err = shmc_touch(c, key, klen, a->ttl_ms);
        shmc_close(c);
        rc = err < 0 ? tool_op_err("touch", key, klen, err) : EXIT_OK;
    }
    free(key);
    return rc;
}

int cmd_delete(tool_args_t *a)
{
    unsigned char *key;
    size_t klen;
    shmc_t *c;
    int rc = tool_key_arg(a, a->pos[1], &key, &klen);
    if (rc != EXIT_OK)
        return rc;
    rc = tool_open(a, a->pos[0], 0, &c);
    if (rc == EXIT_OK) {
        int err = shmc_delete(c, key, klen);
        shmc_close(c);
        rc = err < 0 ? tool_op_err("delete", key, klen, err) : EXIT_OK;
    }
    free(key);
    return rc;
}

/* ---- keys -------------------------------------------------------------- */

typedef struct keys_walk {
    const tool_args_t *a;
    const char *pattern;
    json_t *j;
    uint64_t shown;
    int truncated;
    int oom;
} keys_walk_t;

static int keys_one(const shmc_entry_t *e, void *arg)
{
    keys_walk_t *w = arg;
    char *text = text_escape_str(e->key, e->klen);
    if (text == NULL) {
        w->oom = 1;
        return 1;
    }
    if (w->pattern != NULL && fnmatch(w->pattern, text, 0) != 0) {
        free(text);
        return 0;
    }
    if ((w->a->seen & OPT_LIMIT) && w->shown >= w->a->limit) {
        w->truncated = 1;
        free(text);
        return 1;               /* one match past the limit: stop */
    }
    w->shown++;
    if (w->j != NULL) {
        json_obj_begin(w->j);
        json_kv_bytes(w->j, "key", e->key, e->klen);
        json_kv_u64(w->j, "size", e->vlen);
        json_kv_i64(w->j, "ttl_ms", e->ttl_ms);
        json_kv_u64(w->j, "flags", e->flags);
        json_kv_u64(w->j, "cas", e->cas);
        json_kv_bool(w->j, "fetched", (e->state & SHMC_ENTRY_FETCHED) != 0);
        json_obj_end(w->j);
    } else {
        char ttl[32];
        printf("%10zu %8s %10u  %s\n", e->vlen,
               units_fmt_duration(e->ttl_ms, ttl, sizeof ttl), e->flags, text);
    }
    free(text);
    return 0;
}

int cmd_keys(tool_args_t *a)
{
    shmc_t *c;
    json_t j;
    keys_walk_t w = { a, a->npos > 1 ? a->pos[1] : NULL, NULL, 0, 0, 0 };
    int rc = tool_open_ro(a, a->pos[0], &c);
    if (rc != EXIT_OK)
        return rc;
    if (a->json) {
        json_init(&j, stdout, 1);
        json_obj_begin(&j);
        json_key(&j, "keys");
        json_arr_begin(&j);
        w.j = &j;
    }
    rc = shmc_iterate(c, keys_one, &w);
    shmc_close(c);
    if (a->json) {
        json_arr_end(&j);
        json_kv_u64(&j, "count", w.shown);
        json_kv_bool(&j, "truncated", w.truncated);
        json_obj_end(&j);
        json_finish(&j);
    }
    if (w.oom) {
        tool_err("keys: out of memory");
        return EXIT_FAIL;
    }
    if (rc < 0) {
        tool_err("keys: cannot walk %s: %s", a->pos[0], shmc_strerror(rc));
        return EXIT_FAIL;
    }
    return EXIT_OK;
}
