/*
 * journal.c - the invalidation journal: a bounded ring of records in the
 * segment that shmcache-relay carries to other hosts (docs/RELAY.md).
 *
 * Invariant: a delete, invalidate, tag invalidation or clear (and a store
 * in write-invalidate mode) that returned is in the journal, or a reader
 * of the journal learns that something was lost. Never a silent gap.
 *
 * APPENDER PROTOCOL (journal lock held; the caller may hold one stripe lock:
 * the order is stripe, then journal, and nothing is taken under the journal
 * lock, so there is no cycle)
 *
 *   lock (robust; EOWNERDEAD with dirty set: see RECOVERY)
 *   dirty = 1
 *   room: while the new record's end - tail_pos > bytes, step tail_pos
 *         over the oldest record; tail_seq = its seq + 1
 *   store tail_pos, tail_seq
 *   release fence          orders the tail stores before the record bytes
 *                          that overwrite the old records; pairs with the
 *                          reader's acquire fence before it re-loads tail_pos
 *   write the record (and a pad record if it skips the ring's end)
 *   store_release(head_pos) then store_release(head_seq)
 *                          publish the record; pair with the reader's
 *                          acquire loads of head_seq/head_pos
 *   dirty = 0, unlock
 *
 * The record is appended before the caller changes the cache: a caller
 * that dies after the append but before its change made a record for a
 * change that never happened, which only costs other hosts a needless
 * miss; a caller that dies before the append had not returned, so it had
 * promised nothing.
 *
 * READER PROTOCOL (no lock, writes nothing shared)
 *
 *   head = acquire(head_pos) (after acquire(head_seq))
 *   for each record between the reader's position p and head:
 *       copy the record out (relaxed word loads)
 *       acquire fence       pairs with the appender's release fence
 *       if tail_pos > p: the copy may be torn by an overwrite: -EOVERFLOW
 *       else the copy is whole: check its seq and size, deliver it
 *
 * A reader that asks for a seq older than tail_seq gets -EOVERFLOW at once.
 * Sequence numbers are consecutive, so "fell behind" is always visible.
 * The position of a seq is found from a per-thread cursor (the relay reads
 * sequentially) or by walking from tail_pos (validated the same way).
 *
 * WAITING. A reader with nothing to read sleeps in shmc_journal_wait on the
 * futex word `wake` instead of polling: it bumps `waiters` (seq_cst), then
 * re-checks head_seq, then sleeps unless `wake` moved. An appender, after
 * publishing head_seq and a seq_cst fence, reads `waiters` and, only when
 * it is non-zero, bumps `wake` and wakes the sleepers (outside its lock).
 * The two fences order "publish head, read waiters" against "announce a
 * waiter, read head": one side always sees the other, so no wakeup is lost;
 * with no waiter an append costs one fence and one load more.
 *
 * RECOVERY. An appender killed inside (dirty = 1) may have moved tail_pos
 * without tail_seq; the record it was writing was never published (head
 * moves last). The next locker empties the ring (tail = head) and counts a
 * recovery: every reader behind head then gets -EOVERFLOW, so the lost
 * window is treated as loss, conservatively. When the lock cannot be taken
 * at all (a live holder stuck past SHMC_LOCK_TIMEOUT_MS), the record is
 * counted in `dropped`; the relay treats any increase as loss as well.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "journal.h"
#include "testhook.h"

#define JREC_HDR ((uint64_t)sizeof(struct shm_jrec))

/* Set while this thread applies a remote record: its changes are not
 * journalled again (they came from the journal of another host). */
static __thread bool tl_applying;

/* Per-thread cursor: where the record after the last one read starts. */
static __thread struct { uint64_t hid, seq, pos; } tl_cursor;

static uint64_t rec_bytes(uint64_t len) { return JREC_HDR + shm_align_up(len, 8); }

static uint64_t max_payload(uint32_t max_key)
{
    return max_key > SHMC_TAG_MAX_LEN ? max_key : SHMC_TAG_MAX_LEN;
}

uint64_t shm_journal_size(uint64_t want, uint32_t max_key)
{
    if (want == 0 || want > SHMC_JOURNAL_MAX)
        return 0;
    uint64_t b = shm_align_up(want, 4096);
    if (b < SHMC_JOURNAL_MIN || b < 4 * rec_bytes(max_payload(max_key)) || b > SHMC_JOURNAL_MAX)
        return 0;
    return b;
}

int shm_journal_build(struct shm_journal *j)
{
    ST(&j->head_seq, 1);
    ST(&j->tail_seq, 1);
    return 0;
}

static uint8_t *ring(const shmc_t *c) { return (uint8_t *)(c->journal + 1); }

/* Bytes from ring position pos to the end of the ring. */
static uint64_t to_end(const shmc_t *c, uint64_t pos) { return c->journal_bytes - pos % c->journal_bytes; }

/* Position of the record after the one at pos whose size is size, skipping
 * an end of ring too short for a record header. */
static uint64_t skip_short(const shmc_t *c, uint64_t pos)
{
    uint64_t rem = to_end(c, pos);
    return rem < JREC_HDR ? pos + rem : pos;
}

/* Whether head and tail positions can be: aligned, in order, at most a
 * ring apart. The segment is untrusted: a scribbled journal header must
 * cost its records, not an access outside the ring. */
static bool positions_sane(const shmc_t *c, uint64_t head, uint64_t tail)
{
    return !(head % 8) && !(tail % 8) && tail <= head && head - tail <= c->journal_bytes;
}

/* ---- appending */

static int journal_lock(shmc_t *c)
{
    struct shm_journal *j = c->journal;
    int r = shm_mutex_lock_bounded(&j->lock);
    if (r == EOWNERDEAD) {
        if (LD(&j->dirty)) {
            /* See RECOVERY above: treat everything unread as lost. */
            uint64_t head = LD(&j->head_pos), seq = LD(&j->head_seq);
            ST(&j->tail_pos, head);
            ST(&j->tail_seq, seq);
            BUMP(&j->recoveries, 1);
            ST(&j->dirty, 0);
        }
        pthread_mutex_consistent(&j->lock);
        return 0;
    }
    return r ? -EDEADLK : 0;
}

/* Header of the record at ring position pos, under the lock. */
static uint64_t rec_size_at(const shmc_t *c, uint64_t pos, uint64_t *seq, uint8_t *kind)
{
    const struct shm_jrec *h = (const struct shm_jrec *)(const void *)(ring(c) + pos % c->journal_bytes);
    *seq = LD(&h->seq);
    *kind = LD(&h->kind);
    return LD(&h->size);
}

static void write_rec(shmc_t *c, uint64_t pos, uint64_t seq, uint32_t kind, const void *data,
                      size_t len, uint64_t size)
{
    struct shm_jrec *h = (struct shm_jrec *)(void *)(ring(c) + pos % c->journal_bytes);
    ST(&h->seq, seq);
    ST(&h->unix_ms, kind == JREC_PAD ? 0 : shm_wall_ms());
    ST(&h->size, (uint32_t)size);
    ST(&h->origin, 0);
    ST(&h->len, (uint32_t)len);
    ST(&h->kind, (uint8_t)kind);
    if (len)
        shm_copy_in((uint8_t *)(h + 1), data, len);
}

void shm_journal_append(shmc_t *c, uint32_t kind, const void *data, size_t len)
{
    struct shm_journal *j = c->journal;
    if (!j || tl_applying)
        return;
    if (journal_lock(c) != 0) {
        atomic_fetch_add_explicit(&j->dropped, 1, memory_order_release);
        return;
    }
    ST(&j->dirty, 1);
    uint64_t bytes = c->journal_bytes, size = rec_bytes(len);
    uint64_t head = LD(&j->head_pos), seq = LD(&j->head_seq);
    if (!positions_sane(c, head, LD(&j->tail_pos))) {
        /* corrupt: start an empty ring here; readers behind see a loss */
        head &= ~(uint64_t)7;
        ST(&j->tail_pos, head);
        ST(&j->tail_seq, seq);
        BUMP(&j->recoveries, 1);
    }
    uint64_t start = skip_short(c, head), pad = 0;
    if (to_end(c, start) < size) {
        pad = to_end(c, start);
        start += pad;
    }
    uint64_t end = start + size;
    uint64_t tail = LD(&j->tail_pos), tail_seq = LD(&j->tail_seq);
    /* Bounded: each step moves tail forward by at least 8 bytes, and a
     * size that makes no sense empties the ring instead of looping. */
    while (end - tail > bytes) {
        tail = skip_short(c, tail);
        if (end - tail <= bytes)
            break;
        uint64_t rseq;
        uint8_t rkind;
        uint64_t rsize = rec_size_at(c, tail, &rseq, &rkind);
        if (rsize < JREC_HDR || rsize % 8 || rsize > to_end(c, tail) || tail >= head) {
            tail = start; /* corrupt: drop everything retained */
            tail_seq = seq;
            break;
        }
        if (rkind != JREC_PAD)
            tail_seq = rseq + 1;
        tail += rsize;
    }
    if (tail >= head)
        tail_seq = seq; /* nothing older retained */
    ST(&j->tail_pos, tail);
    ST(&j->tail_seq, tail_seq);
    /* Release: the tail stores above become visible before the stores below
     * overwrite the records they retire (pairs with read_from's acquire). */
    atomic_thread_fence(memory_order_release);
    if (pad && to_end(c, start - pad) >= JREC_HDR)
        write_rec(c, start - pad, 0, JREC_PAD, NULL, 0, pad);
    SHMC_HOOK(SHMC_HOOK_JOURNAL, 0);
    write_rec(c, start, seq, kind, data, len, size);
    atomic_store_explicit(&j->head_pos, end, memory_order_release);
    atomic_store_explicit(&j->head_seq, seq + 1, memory_order_release);
    ST(&j->dirty, 0);
    pthread_mutex_unlock(&j->lock);
    /* See WAITING: pairs with the seq_cst increment of waiters. */
    atomic_thread_fence(memory_order_seq_cst);
    if (unlikely(LD(&j->waiters))) {
        atomic_fetch_add_explicit(&j->wake, 1, memory_order_relaxed);
        syscall(SYS_futex, &j->wake, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
    }
}

int shmc_journal_wait(shmc_t *c, uint64_t seq, uint64_t timeout_ms)
{
    if (!c)
        return -EINVAL;
    struct shm_journal *j = c->journal;
    if (!j)
        return -ENOTSUP;
    if (atomic_load_explicit(&j->head_seq, memory_order_acquire) > seq)
        return 0;
    uint32_t w = atomic_load_explicit(&j->wake, memory_order_relaxed);
    atomic_fetch_add(&j->waiters, 1); /* seq_cst: see WAITING */
    if (atomic_load(&j->head_seq) <= seq) {
        struct timespec ts = {(time_t)(timeout_ms / 1000), (long)(timeout_ms % 1000) * 1000000L};
        syscall(SYS_futex, &j->wake, FUTEX_WAIT, w, &ts, NULL, 0);
    }
    atomic_fetch_sub(&j->waiters, 1);
    return atomic_load_explicit(&j->head_seq, memory_order_acquire) > seq ? 0 : -ETIMEDOUT;
}

void shm_journal_store_locked(shmc_t *c, const void *key, size_t klen, bool novalue)
{
    if (c->journal && (c->journal_flags & SHMC_JOURNAL_WRITES) && !novalue)
        shm_journal_append(c, SHMC_JOURNAL_SET, key, klen);
}

/* ---- reading */

struct cursor {
    uint64_t seq, pos;
};

/* Copy the record at pos into buf (cap bytes) and validate it against
 * tail_pos afterwards. 0 with *size set; -EOVERFLOW (overwritten meanwhile);
 * -EBADMSG (a size that cannot be). */
static int copy_rec(shmc_t *c, uint64_t pos, uint8_t *buf, uint64_t cap, uint64_t *size)
{
    struct shm_journal *j = c->journal;
    const uint8_t *p = ring(c) + pos % c->journal_bytes;
    shm_copy_out(buf, p, JREC_HDR, cap);
    uint32_t sz, len;
    memcpy(&sz, buf + offsetof(struct shm_jrec, size), 4);
    memcpy(&len, buf + offsetof(struct shm_jrec, len), 4);
    bool sane = sz >= JREC_HDR && sz % 8 == 0 && sz <= to_end(c, pos) && sz <= cap &&
                len <= sz - JREC_HDR;
    if (sane && sz > JREC_HDR)
        shm_copy_out(buf + JREC_HDR, p + JREC_HDR, sz - JREC_HDR, cap - JREC_HDR);
    /* Acquire: if an appender overwrote these bytes, its tail store (made
     * before its release fence) is visible now. */
    atomic_thread_fence(memory_order_acquire);
    if (LD(&j->tail_pos) > pos)
        return -EOVERFLOW;
    if (!sane)
        return -EBADMSG;
    *size = sz;
    return 0;
}

/* Find the position of record seq by walking from the tail. */
static int seek(shmc_t *c, uint64_t seq, uint64_t head, uint8_t *buf, uint64_t cap, struct cursor *cur)
{
    struct shm_journal *j = c->journal;
    uint64_t pos = atomic_load_explicit(&j->tail_pos, memory_order_acquire);
    if (pos % 8)
        return -EBADMSG;
    /* Bounded: every step moves forward by a validated size, up to head. */
    while (pos < head) {
        pos = skip_short(c, pos);
        if (pos >= head)
            break;
        uint64_t size;
        int r = copy_rec(c, pos, buf, cap, &size);
        if (r)
            return r;
        uint64_t rseq;
        memcpy(&rseq, buf, 8);
        if (buf[offsetof(struct shm_jrec, kind)] != JREC_PAD) {
            if (rseq == seq) {
                cur->seq = seq;
                cur->pos = pos;
                return 0;
            }
            if (rseq > seq)
                return -EOVERFLOW;
        }
        pos += size;
    }
    return -EOVERFLOW;
}

int64_t shmc_journal_read(shmc_t *c, uint64_t from_seq, size_t max,
                          int (*fn)(const shmc_journal_rec_t *rec, void *arg), void *arg)
{
    if (!c || !fn || from_seq == 0)
        return -EINVAL;
    struct shm_journal *j = c->journal;
    if (!j)
        return -ENOTSUP;
    /* Acquire, head_seq first: the records below it and the head_pos that
     * ends them are visible (pairs with the appender's release stores). */
    uint64_t head_seq = atomic_load_explicit(&j->head_seq, memory_order_acquire);
    uint64_t head = atomic_load_explicit(&j->head_pos, memory_order_acquire);
    if (from_seq > head_seq)
        return -EINVAL;
    if (from_seq == head_seq)
        return 0;
    if (head % 8)
        return -EBADMSG;
    if (from_seq < atomic_load_explicit(&j->tail_seq, memory_order_acquire))
        return -EOVERFLOW;
    uint64_t cap = rec_bytes(max_payload(c->max_key)) + 8;
    uint8_t *buf = malloc(cap);
    if (!buf)
        return -ENOMEM;
    struct cursor cur = {from_seq, 0};
    int r = 0;
    if (tl_cursor.hid == c->id && tl_cursor.seq == from_seq && tl_cursor.pos <= head) {
        cur.seq = tl_cursor.seq;
        cur.pos = tl_cursor.pos;
    } else {
        r = seek(c, from_seq, head, buf, cap, &cur);
    }
    int64_t n = 0;
    /* Bounded by head, read once: appends that land meanwhile wait for the
     * next call. */
    while (!r && cur.pos < head && cur.seq < head_seq && (max == 0 || (size_t)n < max)) {
        uint64_t pos = skip_short(c, cur.pos), size;
        if (pos >= head)
            break;
        r = copy_rec(c, pos, buf, cap, &size);
        if (r)
            break;
        struct shm_jrec h;
        memcpy(&h, buf, sizeof(h));
        cur.pos = pos + size;
        if (LD(&h.kind) == JREC_PAD)
            continue;
        if (LD(&h.seq) != cur.seq) {
            r = -EBADMSG;
            break;
        }
        shmc_journal_rec_t rec = {
            .seq = cur.seq, .unix_ms = LD(&h.unix_ms), .kind = LD(&h.kind),
            .origin = LD(&h.origin), .data = buf + JREC_HDR, .len = LD(&h.len),
        };
        cur.seq++;
        n++;
        if (fn(&rec, arg))
            break;
    }
    free(buf);
    if (!r || n) {
        tl_cursor.hid = c->id;
        tl_cursor.seq = cur.seq;
        tl_cursor.pos = cur.pos;
    }
    if (r && n == 0)
        return r;
    return n;
}

int shmc_journal_info(shmc_t *c, shmc_journal_info_t *info)
{
    if (!c || !info)
        return -EINVAL;
    struct shm_journal *j = c->journal;
    if (!j)
        return -ENOTSUP;
    memset(info, 0, sizeof(*info));
    info->bytes = c->journal_bytes;
    info->flags = c->journal_flags;
    info->head_seq = atomic_load_explicit(&j->head_seq, memory_order_acquire);
    uint64_t head = atomic_load_explicit(&j->head_pos, memory_order_acquire);
    info->tail_seq = LD(&j->tail_seq);
    uint64_t tail = LD(&j->tail_pos);
    info->used_bytes = head > tail ? head - tail : 0;
    info->recoveries = LD(&j->recoveries);
    info->dropped = atomic_load_explicit(&j->dropped, memory_order_acquire);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET,
                       .l_start = (off_t)((uint8_t *)j - c->base), .l_len = 1};
    if (fcntl(c->fd, F_OFD_GETLK, &fl) == 0)
        info->relay_running = fl.l_type != F_UNLCK;
    return 0;
}

/* ---- applying remote records */

int shmc_journal_apply(shmc_t *c, uint32_t kind, const void *data, size_t len)
{
    if (!c)
        return -EINVAL;
    int r;
    tl_applying = true;
    switch (kind) {
    case SHMC_JOURNAL_DELETE:
    case SHMC_JOURNAL_SET:
        r = shmc_delete(c, data, len);
        break;
    case SHMC_JOURNAL_INVALIDATE:
        r = shmc_invalidate(c, data, len);
        break;
    case SHMC_JOURNAL_TAG: {
        char tag[SHMC_TAG_MAX_LEN + 1];
        if (!data || len == 0 || len > SHMC_TAG_MAX_LEN || memchr(data, 0, len)) {
            r = -EINVAL;
            break;
        }
        memcpy(tag, data, len);
        tag[len] = 0;
        r = shmc_invalidate_tag(c, tag);
        break;
    }
    case SHMC_JOURNAL_CLEAR:
        r = shmc_clear(c);
        break;
    default:
        r = -EINVAL;
    }
    tl_applying = false;
    return r == -ENOENT ? 0 : r;
}

/* ---- the relay's claim and status block */

static off_t claim_byte(const shmc_t *c) { return (off_t)((uint8_t *)c->journal - c->base); }

int shmc_relay_claim(shmc_t *c)
{
    if (!c)
        return -EINVAL;
    if (!c->journal)
        return -ENOTSUP;
    if (!shm_writable(c))
        return -EROFS;
    if (atomic_load(&c->relay_claimed))
        return 0;
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = claim_byte(c), .l_len = 1};
    if (fcntl(c->fd, F_OFD_SETLK, &fl) != 0)
        return (errno == EAGAIN || errno == EACCES) ? -EBUSY : -errno;
    /* A waiter that died left its count behind; only the relay waits, so
     * the new relay starts the count afresh (a stale count would only cost
     * appenders a needless wake call). */
    ST(&c->journal->waiters, 0);
    atomic_store(&c->relay_claimed, true);
    return 0;
}

_Static_assert(sizeof(shmc_relay_status_t) <= SHMC_RELAY_BLOCK, "relay status outgrew its block");

int shmc_relay_status_set(shmc_t *c, const shmc_relay_status_t *st)
{
    if (!c || !st)
        return -EINVAL;
    struct shm_journal *j = c->journal;
    if (!j)
        return -ENOTSUP;
    if (!shm_writable(c))
        return -EROFS;
    /* Only the relay writes this block. */
    if (!atomic_load(&c->relay_claimed))
        return -EPERM;
    /* One writer (the claim holder): odd, release fence, bytes, even with
     * release; pairs with the acquire fence / load in the getter. */
    uint32_t odd = LD(&j->relay_seq) | 1u;
    ST(&j->relay_seq, odd);
    atomic_thread_fence(memory_order_release);
    shm_copy_in(j->relay, st, sizeof(*st));
    atomic_store_explicit(&j->relay_seq, odd + 1, memory_order_release);
    return 0;
}

int shmc_relay_status_get(shmc_t *c, shmc_relay_status_t *st)
{
    if (!c || !st)
        return -EINVAL;
    struct shm_journal *j = c->journal;
    if (!j)
        return -ENOTSUP;
    for (int attempt = 0; attempt < 1000; attempt++) {
        uint32_t s1 = atomic_load_explicit(&j->relay_seq, memory_order_acquire);
        if (s1 & 1) {
            cpu_relax();
            continue;
        }
        shm_copy_out(st, j->relay, sizeof(*st), sizeof(*st));
        atomic_thread_fence(memory_order_acquire);
        if (LD(&j->relay_seq) == s1) {
            st->origin[sizeof(st->origin) - 1] = 0;
            st->clear_reason[sizeof(st->clear_reason) - 1] = 0;
            return 0;
        }
    }
    return -EBUSY;
}
