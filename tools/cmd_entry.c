/*
 * cmd_entry.c - commands on single entries (get, set, add, replace, incr,
 * touch, delete, invalidate), on a tag (invalidate-tag) and the key listing
 * (keys).
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
    /* --stale: shmc_get_stale also answers for an invalidated or expired
     * entry (ii.stale says whether it did). Bounded: the value may grow
     * between the two calls, and a read-only handle may keep meeting a
     * writer (-EBUSY); a few attempts each. */
    for (int attempt = 0; attempt < 8; attempt++) {
        unsigned char *nb = realloc(buf, cap ? cap : 1);
        if (nb == NULL) {
            rc = -ENOMEM;
            break;
        }
        buf = nb;
        memset(&ii, 0, sizeof ii);
        rc = a->stale ? shmc_get_stale(c, key, klen, buf, cap, &vlen, &ii)
                      : shmc_get(c, key, klen, buf, cap, &vlen, &ii);
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
        json_kv_bool(&j, "stale", ii.stale != 0);
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

static void free_tags(char **tags, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(tags[i]);
}

/* fn stores without tags; with --tag (set only) shmc_set_tagged does. */
static int store(tool_args_t *a, store_fn fn, const char *what)
{
    const char *name = a->pos[0];
    unsigned char *key, *val = NULL;
    char *tags[SHMC_TAGS_MAX];
    size_t klen, vlen, ntags = 0;
    shmc_t *c;
    int rc = tool_key_arg(a, a->pos[1], &key, &klen);
    if (rc != EXIT_OK)
        return rc;
    for (; ntags < a->ntags; ntags++) {
        rc = tool_tag_arg(a, a->tags[ntags], &tags[ntags]);
        if (rc != EXIT_OK) {
            free_tags(tags, ntags);
            free(key);
            return rc;
        }
    }
    if (strcmp(a->pos[2], "-") == 0) {
        rc = tool_read_all(STDIN_FILENO, &val, &vlen, SHMC_VALUE_MAX);
        if (rc < 0) {
            tool_err("%s: cannot read the value from standard input: %s", what,
                     rc == -E2BIG ? "longer than the largest value" : strerror(-rc));
            free_tags(tags, ntags);
            free(key);
            return EXIT_FAIL;
        }
    } else if (a->escaped) {
        if (text_unescape(a->pos[2], &val, &vlen) != 0) {
            free_tags(tags, ntags);
            free(key);
            return tool_usage_err(a, "malformed escape in the value");
        }
    } else {
        vlen = strlen(a->pos[2]);
        val = (unsigned char *)strdup(a->pos[2]);
        if (val == NULL) {
            free_tags(tags, ntags);
            free(key);
            tool_err("out of memory");
            return EXIT_FAIL;
        }
    }
    rc = tool_open(a, name, 0, &c);
    if (rc == EXIT_OK) {
        int err = ntags > 0
            ? shmc_set_tagged(c, key, klen, val, vlen, a->ttl_ms, a->flags,
                              (const char *const *)tags, ntags)
            : fn(c, key, klen, val, vlen, a->ttl_ms, a->flags);
        shmc_close(c);
        rc = err < 0 ? tool_op_err(what, key, klen, err) : EXIT_OK;
    }
    free_tags(tags, ntags);
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

/* { "key": ..., "<done>": true } for --json of delete and invalidate. */
static void json_key_done(const void *key, size_t klen, const char *done)
{
    json_t j;
    json_init(&j, stdout, 1);
    json_obj_begin(&j);
    json_kv_bytes(&j, "key", key, klen);
    json_kv_bool(&j, done, 1);
    json_obj_end(&j);
    json_finish(&j);
}

/* delete and invalidate: fn removes or invalidates one key; -ENOENT is
 * exit 1 ("no such key"), like any miss. */
static int drop_key(tool_args_t *a, int (*fn)(shmc_t *, const void *, size_t),
                    const char *what, const char *done)
{
    unsigned char *key;
    size_t klen;
    shmc_t *c;
    int rc = tool_key_arg(a, a->pos[1], &key, &klen);
    if (rc != EXIT_OK)
        return rc;
    rc = tool_open(a, a->pos[0], 0, &c);
    if (rc == EXIT_OK) {
        int err = fn(c, key, klen);
        shmc_close(c);
        rc = err < 0 ? tool_op_err(what, key, klen, err) : EXIT_OK;
        if (rc == EXIT_OK && a->json)
            json_key_done(key, klen, done);
    }
    free(key);
    return rc;
}

int cmd_delete(tool_args_t *a)
{
    return drop_key(a, shmc_delete, "delete", "deleted");
}

int cmd_invalidate(tool_args_t *a)
{
    return drop_key(a, shmc_invalidate, "invalidate", "invalidated");
}

/* ---- invalidate-tag ---------------------------------------------------- */

int cmd_invalidate_tag(tool_args_t *a)
{
    char *tag;
    shmc_t *c;
    int rc = tool_tag_arg(a, a->pos[1], &tag);
    if (rc != EXIT_OK)
        return rc;
    rc = tool_open(a, a->pos[0], 0, &c);
    if (rc != EXIT_OK) {
        free(tag);
        return rc;
    }
    int err = shmc_invalidate_tag(c, tag);
    shmc_close(c);
    if (err < 0) {
        fflush(stdout);
        fputs(TOOL_NAME ": invalidate-tag ", stderr);
        text_escape(stderr, tag, strlen(tag));
        fprintf(stderr, ": %s\n", shmc_strerror(err));
        free(tag);
        return err == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
    }
    if (a->json) {
        json_t j;
        json_init(&j, stdout, 1);
        json_obj_begin(&j);
        json_kv_bytes(&j, "tag", tag, strlen(tag));
        json_kv_bool(&j, "invalidated", 1);
        json_obj_end(&j);
        json_finish(&j);
    }
    free(tag);
    return EXIT_OK;
}

/* ---- keys -------------------------------------------------------------- */

/* The invalidation state bits keys shows, in display order ("fetched" has
 * its own JSON field and no place in the text column). */
static const struct {
    uint32_t bit;
    const char *name;
} state_names[] = {
    { SHMC_ENTRY_STALE, "stale" },
    { SHMC_ENTRY_LEASED, "leased" },
    { SHMC_ENTRY_TAGGED, "tagged" },
    { SHMC_ENTRY_NOVALUE, "novalue" },
};
#define NSTATE_NAMES (sizeof state_names / sizeof state_names[0])

/* "-", or e.g. "stale,leased,tagged(2)": the text form of the state. */
static const char *fmt_state(const shmc_entry_t *e, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < NSTATE_NAMES && n < cap; i++) {
        if (!(e->state & state_names[i].bit))
            continue;
        int w = state_names[i].bit == SHMC_ENTRY_TAGGED
            ? snprintf(buf + n, cap - n, "%stagged(%u)", n ? "," : "", e->ntags)
            : snprintf(buf + n, cap - n, "%s%s", n ? "," : "", state_names[i].name);
        if (w < 0)
            break;
        n += (size_t)w;
    }
    if (buf[0] == '\0')
        snprintf(buf, cap, "-");
    return buf;
}

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
        json_key(w->j, "state");
        json_arr_begin(w->j);
        for (size_t i = 0; i < NSTATE_NAMES; i++)
            if (e->state & state_names[i].bit)
                json_str(w->j, state_names[i].name);
        json_arr_end(w->j);
        json_kv_u64(w->j, "ntags", e->ntags);
        json_obj_end(w->j);
    } else {
        char ttl[32], state[64];
        printf("%10zu %8s %10u %-14s %s\n", e->vlen,
               units_fmt_duration(e->ttl_ms, ttl, sizeof ttl), e->flags,
               fmt_state(e, state, sizeof state), text);
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
    rc = shmc_iterate_ex(c, a->all ? SHMC_ITER_STALE : 0, keys_one, &w);
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
