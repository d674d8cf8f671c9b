/*
 * publish.c - journal -> stream: the records this host's processes
 * appended go to the Redis Stream, in order, pipelined.
 *
 * Invariant: published_seq only moves once Redis has acknowledged every
 * record up to it (each XADD's reply), so a relay killed or disconnected
 * at any point publishes the unacknowledged records again after restart:
 * duplicates (harmless, every record is idempotent), never a gap.
 * When the journal lost records before they were published (overflow,
 * an appender recovered, an append dropped), the relay cannot say which
 * keys the other hosts now hold stale, so it publishes a clear: every
 * other host clears its segment.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "relay.h"

#define BATCH 1024 /* records per pipeline */

struct batch {
    struct relay *r;
    redisContext *rc;
    char maxlen[24];
    size_t n;
};

static void append_xadd(struct batch *b, const char *kind, const void *data, size_t len,
                        uint64_t ms, uint64_t seq)
{
    char msbuf[24], seqbuf[24];
    snprintf(msbuf, sizeof(msbuf), "%llu", (unsigned long long)ms);
    snprintf(seqbuf, sizeof(seqbuf), "%llu", (unsigned long long)seq);
    const char *argv[] = {"XADD", b->r->stream, "MAXLEN", "~", b->maxlen, "*",
                          "origin", b->r->origin, "kind", kind, "data", data ? data : "",
                          "ms", msbuf, "seq", seqbuf};
    size_t lens[16];
    for (int i = 0; i < 16; i++)
        lens[i] = strlen(argv[i]);
    lens[11] = data ? len : 0;
    redisAppendCommandArgv(b->rc, 16, argv, lens);
    b->n++;
}

static int on_record(const shmc_journal_rec_t *rec, void *arg)
{
    struct batch *b = arg;
    const char *k = kind_name(rec->kind);
    if (!k) /* unknown to this relay: the others must not keep anything */
        append_xadd(b, "clear", "unknown journal record kind", 27, rec->unix_ms, rec->seq);
    else
        append_xadd(b, k, rec->data, rec->len, rec->unix_ms, rec->seq);
    return 0;
}

/* Collect b->n replies. True when all were acknowledged. */
static bool collect(struct batch *b)
{
    bool ok = true;
    for (size_t i = 0; i < b->n; i++) {
        void *rep = NULL;
        if (redisGetReply(b->rc, &rep) != REDIS_OK) {
            relay_log("publish: connection lost: %s", b->rc->errstr);
            return false;
        }
        redisReply *x = rep;
        if (x->type == REDIS_REPLY_ERROR) {
            relay_log("publish: XADD refused: %s", x->str);
            ok = false;
        }
        freeReplyObject(x);
    }
    return ok;
}

/* Publish a clear because records were lost here; resume after `resume`. */
static bool publish_loss(struct batch *b, const char *why, uint64_t resume, uint64_t dropped)
{
    struct relay *r = b->r;
    b->n = 0;
    append_xadd(b, "clear", why, strlen(why), relay_wall_ms(), 0);
    if (!collect(b))
        return false;
    relay_log("asked every other host to clear: %s", why);
    pthread_mutex_lock(&r->mu);
    r->st.published_seq = resume;
    r->st.dropped_seen = dropped;
    char note[128];
    snprintf(note, sizeof(note), "sent a clear to other hosts: %s", why);
    status_note_clear_mu(r, note);
    pthread_mutex_unlock(&r->mu);
    return true;
}

/* One round: publish what the journal holds past published_seq. Returns
 * records published, 0 when idle, -1 when the connection must go. */
static int64_t round_once(struct batch *b)
{
    struct relay *r = b->r;
    shmc_journal_info_t in;
    if (shmc_journal_info(r->c, &in) != 0)
        return -1;
    pthread_mutex_lock(&r->mu);
    uint64_t from = r->st.published_seq + 1, seen = r->st.dropped_seen;
    pthread_mutex_unlock(&r->mu);
    if (in.dropped != seen) {
        if (!publish_loss(b, "journal appends were dropped (lock unavailable)", from - 1, in.dropped))
            return -1;
    }
    if (from > in.head_seq) /* a position from another life of the segment */
        from = in.head_seq;
    b->n = 0;
    int64_t n = shmc_journal_read(r->c, from, BATCH, on_record, b);
    if (n == -EOVERFLOW) {
        char why[96];
        snprintf(why, sizeof(why), "journal overflow: records %llu..%llu lost before publishing",
                 (unsigned long long)from, (unsigned long long)in.tail_seq - 1);
        if (!collect(b) || !publish_loss(b, why, in.tail_seq - 1, in.dropped))
            return -1;
        return 1;
    }
    if (n < 0) {
        relay_log("publish: cannot read the journal: %s", shmc_strerror((int)n));
        return -1;
    }
    if (n == 0)
        return 0;
    if (!collect(b))
        return -1;
    pthread_mutex_lock(&r->mu);
    r->st.published_seq = from + (uint64_t)n - 1;
    r->st.published_total += (uint64_t)n;
    r->st.published_unix_ms = relay_wall_ms();
    status_save_mu(r);
    pthread_mutex_unlock(&r->mu);
    return n;
}

void *publish_main(void *arg)
{
    struct batch b = {.r = arg};
    snprintf(b.maxlen, sizeof(b.maxlen), "%llu", (unsigned long long)b.r->maxlen);
    uint64_t backoff = 100;
    while (!relay_stop) {
        if (!b.rc) {
            b.rc = redis_connect(b.r, "publish");
            if (!b.rc) {
                redis_backoff(&backoff);
                continue;
            }
            backoff = 100;
        }
        int64_t n = round_once(&b);
        if (n < 0) {
            redisFree(b.rc);
            b.rc = NULL;
            redis_backoff(&backoff);
        } else if (n == 0) {
            struct timespec ts = {0, (long)b.r->poll_us * 1000L};
            nanosleep(&ts, NULL);
        }
    }
    if (b.rc)
        redisFree(b.rc);
    return NULL;
}
