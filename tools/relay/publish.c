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
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "relay.h"

#define BATCH     1024 /* records read from the journal per round */
#define PER_ENTRY 256  /* records per stream entry */
#define GATHER_NS 1000000L /* after publishing, let records gather this long */
#define LINGER_MS 10       /* keep looking every GATHER_NS this long after a record */

/* One round's records, copied out of the journal (its data pointers are
 * valid only during the callback). */
struct rec {
    const char *kind;
    size_t off, len;
};

struct batch {
    struct relay *r;
    redisContext *rc;
    char maxlen[24];
    size_t entries;             /* XADDs in flight */
    size_t n;                   /* records collected */
    uint64_t first_ms;
    struct rec rec[BATCH];
    char *data;                 /* the records' bytes */
    size_t used, cap;
};

static int on_record(const shmc_journal_rec_t *jr, void *arg)
{
    struct batch *b = arg;
    const char *k = kind_name(jr->kind);
    const void *data = jr->data;
    size_t len = jr->len;
    if (!k) { /* unknown to this relay: the others must not keep anything */
        k = "clear";
        data = "unknown journal record kind";
        len = 27;
    }
    if (b->used + len > b->cap) {
        size_t cap = (b->used + len) * 2;
        char *d = realloc(b->data, cap);
        if (!d)
            return 1; /* stop here; the rest comes next round */
        b->data = d;
        b->cap = cap;
    }
    if (len)
        memcpy(b->data + b->used, data, len);
    if (b->n == 0)
        b->first_ms = jr->unix_ms;
    b->rec[b->n++] = (struct rec){k, b->used, len};
    b->used += len;
    return 0;
}

/* Queue one XADD carrying records [from, to) of the batch:
 *   XADD key MAXLEN ~ N * origin O ms T <kind> <data> <kind> <data> ... */
static void append_entry(struct batch *b, size_t from, size_t to, uint64_t ms)
{
    enum { HEAD = 10 };
    const char *argv[HEAD + 2 * PER_ENTRY];
    size_t lens[HEAD + 2 * PER_ENTRY];
    char msbuf[24];
    snprintf(msbuf, sizeof(msbuf), "%llu", (unsigned long long)ms);
    const char *head[HEAD] = {"XADD", b->r->stream, "MAXLEN", "~", b->maxlen, "*",
                              "origin", b->r->origin, "ms", msbuf};
    for (int i = 0; i < HEAD; i++) {
        argv[i] = head[i];
        lens[i] = strlen(head[i]);
    }
    int argc = HEAD;
    for (size_t i = from; i < to; i++) {
        argv[argc] = b->rec[i].kind;
        lens[argc++] = strlen(b->rec[i].kind);
        argv[argc] = b->data + b->rec[i].off;
        lens[argc++] = b->rec[i].len;
    }
    redisAppendCommandArgv(b->rc, argc, argv, lens);
    b->entries++;
}

/* Collect the replies of every queued XADD. True when all were acknowledged. */
static bool collect(struct batch *b)
{
    bool ok = true;
    for (; b->entries; b->entries--) {
        void *rep = NULL;
        if (redisGetReply(b->rc, &rep) != REDIS_OK) {
            relay_log("publish: connection lost: %s", b->rc->errstr);
            b->entries = 0;
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
    char msbuf[24];
    snprintf(msbuf, sizeof(msbuf), "%llu", (unsigned long long)relay_wall_ms());
    const char *argv[] = {"XADD", r->stream, "MAXLEN", "~", b->maxlen, "*",
                          "origin", r->origin, "ms", msbuf, "clear", why};
    redisAppendCommandArgv(b->rc, 12, argv, NULL);
    b->entries++;
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
    b->used = 0;
    int64_t n = shmc_journal_read(r->c, from, BATCH, on_record, b);
    if (n == -EOVERFLOW) {
        char why[96];
        snprintf(why, sizeof(why), "journal overflow: records %llu..%llu lost before publishing",
                 (unsigned long long)from, (unsigned long long)in.tail_seq - 1);
        if (!publish_loss(b, why, in.tail_seq - 1, in.dropped))
            return -1;
        return 1;
    }
    if (n < 0) {
        relay_log("publish: cannot read the journal: %s", shmc_strerror((int)n));
        return -1;
    }
    n = (int64_t)b->n; /* a callback that ran out of memory stopped early */
    if (n == 0)
        return 0;
    for (size_t i = 0; i < b->n; i += PER_ENTRY)
        append_entry(b, i, i + PER_ENTRY < b->n ? i + PER_ENTRY : b->n, b->first_ms);
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

/* WAKING. Caught up and quiet, the thread sleeps on the journal's futex
 * (shmc_journal_wait): an append pays a wake only when it finds the
 * thread asleep there, so between invalidations the relay costs nothing.
 * After a round that published something it sleeps GATHER_NS instead, and
 * keeps looking every GATHER_NS for LINGER_MS after the last record before
 * going back to the futex: appends meanwhile find no waiter and pay
 * nothing, and each round carries what gathered in one XADD. So:
 *   - while invalidations flow, the thread runs at most ~1/GATHER_NS
 *     rounds a second whatever their rate, and no delete pays a wake;
 *   - only a delete that comes LINGER_MS or more after the previous one
 *     pays a wake (a futex syscall: delete p50 +3-15 us on the loaded
 *     2-core VM), and
 *     an isolated record costs the relay at most LINGER_MS/GATHER_NS
 *     empty looks;
 *   - a record waits at most GATHER_NS before its round starts.
 * (Before: a wake per delete, then polling every 250 us for 2 s after
 * each record: 4000 wakes/s that took CPU from the gets. docs/RELAY.md
 * has the numbers.) A full round (BATCH records) means a backlog: the
 * next round runs at once. */
void *publish_main(void *arg)
{
    static struct batch b;
    b.r = arg;
    snprintf(b.maxlen, sizeof(b.maxlen), "%llu", (unsigned long long)b.r->maxlen);
    uint64_t backoff = 100, linger_until = 0;
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
        } else if (n >= BATCH) {
            continue;
        } else if (n > 0 || relay_mono_ms() < linger_until) {
            if (n > 0)
                linger_until = relay_mono_ms() + LINGER_MS;
            struct timespec ts = {0, GATHER_NS};
            nanosleep(&ts, NULL);
        } else {
            /* 100 ms at most, to notice a stop and keep the status fresh */
            pthread_mutex_lock(&b.r->mu);
            uint64_t next = b.r->st.published_seq + 1;
            pthread_mutex_unlock(&b.r->mu);
            shmc_journal_wait(b.r->c, next, 100);
        }
    }
    if (b.rc)
        redisFree(b.rc);
    free(b.data);
    return NULL;
}
