/*
 * apply.c - stream -> segment: the other hosts' records, read with XREAD
 * BLOCK from the last applied ID and applied here without journalling
 * them again; and the bounds that keep this host from staying stale.
 *
 * Invariant: whatever this relay cannot prove it applied becomes a local
 * clear. The applied ID moves only after the records up to it were
 * applied (a restart re-applies, idempotently). The stream is checked on
 * every connection and every second:
 *   - max-deleted-entry-id > applied ID: entries we never read were trimmed;
 *   - the applied entry is gone but was not trimmed: the stream was
 *     recreated (Redis restarted without persistence, key deleted);
 *   - the stream is gone while we had a position: same;
 * and while Redis cannot be reached for longer than --max-stale, the
 * segment is cleared (again every --max-stale) because other hosts'
 * invalidations may be waiting there.
 */
#include <stdio.h>
#include <string.h>

#include "relay.h"

#define XREAD_COUNT "1000"
#define XREAD_BLOCK_MS "250"

static bool str_eq(const redisReply *x, const char *s)
{
    return x && (x->type == REDIS_REPLY_STRING || x->type == REDIS_REPLY_STATUS) &&
           x->len == strlen(s) && !memcmp(x->str, s, x->len);
}

/* Check the stream against our position. 1 when something was lost (and
 * *last moved to where reading resumes), 0 when not, -1 on a connection
 * failure. *lastgen receives the stream's last-generated-id. */
static int stream_check(struct relay *r, redisContext *rc, struct sid *last, struct sid *lastgen,
                        char *why, size_t cap)
{
    struct sid zero = {0, 0}, maxdel = zero;
    *lastgen = zero;
    redisReply *x = redisCommand(rc, "XINFO STREAM %s", r->stream);
    if (!x)
        return -1;
    if (x->type == REDIS_REPLY_ERROR) {
        bool missing = strstr(x->str, "no such key") != NULL;
        freeReplyObject(x);
        if (!missing)
            return -1;
        if (sid_cmp(*last, zero) == 0)
            return 0;
        snprintf(why, cap, "the stream %.150s is gone (Redis restarted without persistence?)", r->stream);
        *last = zero;
        return 1;
    }
    if (x->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i + 1 < x->elements; i += 2) {
            const redisReply *v = x->element[i + 1];
            if (str_eq(x->element[i], "max-deleted-entry-id") && v->type == REDIS_REPLY_STRING)
                sid_parse(v->str, v->len, &maxdel);
            if (str_eq(x->element[i], "last-generated-id") && v->type == REDIS_REPLY_STRING)
                sid_parse(v->str, v->len, lastgen);
        }
    }
    freeReplyObject(x);
    if (sid_cmp(maxdel, *last) > 0) {
        char a[48], b[48];
        sid_fmt(*last, a, sizeof(a));
        sid_fmt(maxdel, b, sizeof(b));
        snprintf(why, cap, "the stream was trimmed past this host's position (%s < %s)", a, b);
        *last = maxdel;
        return 1;
    }
    if (sid_cmp(*last, zero) == 0)
        return 0;
    char a[48];
    sid_fmt(*last, a, sizeof(a));
    x = redisCommand(rc, "XRANGE %s %s %s COUNT 1", r->stream, a, a);
    if (!x)
        return -1;
    bool present = x->type == REDIS_REPLY_ARRAY && x->elements == 1;
    bool err = x->type == REDIS_REPLY_ERROR;
    freeReplyObject(x);
    if (err)
        return -1;
    if (present)
        return 0;
    snprintf(why, cap, "the stream no longer holds this host's position %s (stream recreated)", a);
    *last = zero;
    return 1;
}

/* Apply one stream entry: origin O, ms T, then <kind> <data> pairs, one
 * per journal record. False when some record could not be applied. */
static bool apply_entry(struct relay *r, const redisReply *f, uint64_t *ms, bool *own,
                        uint64_t *applied, char *origin, size_t ocap, bool *cleared, char *clear,
                        size_t ccap)
{
    *ms = 0;
    *own = false;
    snprintf(origin, ocap, "?");
    if (!f || f->type != REDIS_REPLY_ARRAY)
        return false;
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        const redisReply *v = f->element[i + 1];
        if (v->type != REDIS_REPLY_STRING)
            continue;
        if (str_eq(f->element[i], "origin"))
            snprintf(origin, ocap, "%.*s", (int)v->len, v->str);
        else if (str_eq(f->element[i], "ms"))
            *ms = strtoull(v->str, NULL, 10);
    }
    *own = strcmp(origin, r->origin) == 0;
    if (*own)
        return true;
    bool ok = true;
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        const redisReply *k = f->element[i], *d = f->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || d->type != REDIS_REPLY_STRING)
            return false;
        if (str_eq(k, "origin") || str_eq(k, "ms"))
            continue;
        uint32_t kind = kind_parse(k->str, k->len);
        if (kind == SHMC_JOURNAL_CLEAR) {
            *cleared = true;
            snprintf(clear, ccap, "%.*s", (int)d->len, d->str);
        }
        if (!kind || shmc_journal_apply(r->c, kind, kind == SHMC_JOURNAL_CLEAR ? NULL : d->str,
                                        kind == SHMC_JOURNAL_CLEAR ? 0 : d->len) != 0)
            ok = false; /* keep applying the rest; the caller clears anyway */
        else
            (*applied)++;
    }
    return ok;
}

/* Apply an XREAD reply. Returns entries seen; *last advances. */
static size_t apply_reply(struct relay *r, const redisReply *x, struct sid *last)
{
    if (x->type != REDIS_REPLY_ARRAY || x->elements < 1)
        return 0;
    const redisReply *s = x->element[0];
    if (s->type != REDIS_REPLY_ARRAY || s->elements < 2 || s->element[1]->type != REDIS_REPLY_ARRAY)
        return 0;
    const redisReply *entries = s->element[1];
    uint64_t applied = 0, lag = 0;
    for (size_t i = 0; i < entries->elements; i++) {
        const redisReply *e = entries->element[i];
        struct sid id;
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 ||
            sid_parse(e->element[0]->str, e->element[0]->len, &id) != 0)
            continue;
        uint64_t ms;
        bool own, cleared = false;
        char origin[64], clear[128] = "";
        bool ok = apply_entry(r, e->element[1], &ms, &own, &applied, origin, sizeof(origin),
                              &cleared, clear, sizeof(clear));
        char why[256];
        if (!ok) {
            snprintf(why, sizeof(why), "a record from %s could not be applied", origin);
            relay_clear_local(r, why);
        } else if (cleared) {
            snprintf(why, sizeof(why), "clear from %s%s%s", origin, clear[0] ? ": " : "", clear);
            pthread_mutex_lock(&r->mu);
            status_note_clear_mu(r, why);
            pthread_mutex_unlock(&r->mu);
        }
        if (!own) {
            uint64_t now = relay_wall_ms();
            lag = now > ms ? now - ms : 0;
        }
        *last = id;
    }
    pthread_mutex_lock(&r->mu);
    r->st.applied_id_ms = last->ms;
    r->st.applied_id_seq = last->seq;
    if (applied) {
        r->st.applied_total += applied;
        r->st.applied_unix_ms = relay_wall_ms();
        r->st.applied_lag_ms = lag;
    }
    status_save_mu(r);
    pthread_mutex_unlock(&r->mu);
    return entries->elements;
}

static void set_connected(struct relay *r, bool up, uint64_t unreachable_ms)
{
    pthread_mutex_lock(&r->mu);
    r->st.connected = up;
    r->st.unreachable_ms = unreachable_ms;
    status_save_mu(r);
    pthread_mutex_unlock(&r->mu);
}

void *apply_main(void *arg)
{
    struct relay *r = arg;
    redisContext *rc = NULL;
    uint64_t backoff = 100, last_contact = relay_mono_ms(), last_stale_clear = 0, last_check = 0;
    pthread_mutex_lock(&r->mu);
    struct sid last = {r->st.applied_id_ms, r->st.applied_id_seq};
    pthread_mutex_unlock(&r->mu);
    char why[256];
    while (!relay_stop) {
        uint64_t now = relay_mono_ms();
        if (!rc) {
            rc = redis_connect(r, "apply");
            if (!rc) {
                uint64_t down = now - last_contact;
                set_connected(r, false, down);
                if (down > r->max_stale_ms && now - last_stale_clear >= r->max_stale_ms) {
                    snprintf(why, sizeof(why), "Redis unreachable for %llu ms (max-stale %llu ms)",
                             (unsigned long long)down, (unsigned long long)r->max_stale_ms);
                    relay_clear_local(r, why);
                    last_stale_clear = now;
                }
                redis_backoff(&backoff);
                continue;
            }
            backoff = 100;
            last_check = 0;
            relay_log("apply: connected to %s:%d, stream %s", r->url.host, r->url.port, r->stream);
        }
        if (now - last_check >= 1000) {
            struct sid lastgen;
            int lost = stream_check(r, rc, &last, &lastgen, why, sizeof(why));
            if (lost < 0)
                goto drop;
            if (r->first_start) {
                /* No position yet: start at the stream's end; whatever was
                 * cached before this first start may predate invalidations
                 * we will never see. */
                r->first_start = false;
                last = lastgen;
                relay_clear_local(r, "first start: no stream position yet");
            } else if (lost) {
                relay_clear_local(r, why);
            }
            last_check = now;
            last_contact = relay_mono_ms();
            set_connected(r, true, 0);
        }
        char id[48];
        sid_fmt(last, id, sizeof(id));
        redisReply *x = redisCommand(rc, "XREAD COUNT " XREAD_COUNT " BLOCK " XREAD_BLOCK_MS
                                     " STREAMS %s %s", r->stream, id);
        if (!x || x->type == REDIS_REPLY_ERROR) {
            relay_log("apply: XREAD failed: %s", x ? x->str : rc->errstr);
            if (x)
                freeReplyObject(x);
            goto drop;
        }
        last_contact = relay_mono_ms();
        if (x->type == REDIS_REPLY_ARRAY)
            apply_reply(r, x, &last);
        freeReplyObject(x);
        continue;
    drop:
        redisFree(rc);
        rc = NULL;
        set_connected(r, false, relay_mono_ms() - last_contact);
        redis_backoff(&backoff);
    }
    if (rc)
        redisFree(rc);
    return NULL;
}
