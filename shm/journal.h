/*
 * journal.h - the invalidation journal's shared structs and the calls the
 * library's write paths make into it (protocol: journal.c).
 *
 *   journal_off       struct shm_journal   lock, head/tail, relay block
 *   + sizeof          ring of journal_bytes bytes of records
 *
 * Any change to the structs below must bump SHMC_LAYOUT_VERSION (layout.h);
 * their sizes are folded into the layout fingerprint (segment.c).
 */
#ifndef SHMC_JOURNAL_H
#define SHMC_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "layout.h"

struct shmc; /* internal.h */

/* The relay's status block as bytes: written by the one relay (it holds
 * the claim lock), read by anyone under the block's own seqlock. */
#define SHMC_RELAY_BLOCK 512u

struct shm_journal {
    pthread_mutex_t lock;       /* robust, process-shared; appenders only */
    a32  dirty;                 /* 1 while an appender moves tail or head */
    a32  waiters;               /* processes in shmc_journal_wait */
    a32  wake;                  /* futex word: bumped by appends that see waiters */
    /* Positions are byte counts since creation (never wrap); a record at
     * position p lives at ring offset p % journal_bytes. */
    alignas(SHMC_CACHELINE) a64 head_pos; /* end of the last published record */
    a64  head_seq;              /* number of the next record */
    a64  tail_pos;              /* start of the oldest retained record */
    a64  tail_seq;              /* its number (head_seq when empty) */
    a64  recoveries;            /* appenders found dead mid-append */
    a64  dropped;               /* appends given up (lock unavailable) */
    alignas(SHMC_CACHELINE) a32 relay_seq; /* seqlock of the block below */
    a32  pad2;
    alignas(8) uint8_t relay[SHMC_RELAY_BLOCK];
};

/* A record in the ring: this header, then len bytes of key or tag padded
 * to 8. A record never wraps: when it does not fit before the end of the
 * ring, the rest of the ring is skipped (a pad record when the header
 * fits, else implicitly). */
#define JREC_PAD 0xffu
struct shm_jrec {
    a64 seq;
    a64 unix_ms;
    a32 size;                   /* whole record, multiple of 8 */
    a32 origin;
    a32 len;
    a8  kind;                   /* SHMC_JOURNAL_* or JREC_PAD */
    a8  pad[3];
};

_Static_assert(sizeof(struct shm_jrec) == 32, "journal record changed: bump SHMC_LAYOUT_VERSION");
_Static_assert(sizeof(struct shm_jrec) % 8 == 0, "journal record not word-sized");
_Static_assert(sizeof(struct shm_journal) % SHMC_CACHELINE == 0, "journal header not line-sized");

/* Bytes of the journal region for a ring of `bytes` (0: no journal). */
static inline uint64_t shm_journal_region(uint64_t bytes)
{
    return bytes ? sizeof(struct shm_journal) + bytes : 0;
}

/* Ring bytes for a requested size; 0 when it is not acceptable. */
uint64_t shm_journal_size(uint64_t want, uint32_t max_key);

/* Initialise the region at creation (zeroed memory). */
int  shm_journal_build(struct shm_journal *j);

/* Append a record (journal.c): a no-op when c has no journal or the calling
 * thread is applying a remote record. Takes the journal's own lock; callers
 * may hold one stripe lock (lock order: stripe, then journal; nothing is
 * locked while the journal lock is held). Never fails: a record that cannot
 * be appended is counted in `dropped`, which readers treat as loss. */
void shm_journal_append(struct shmc *c, uint32_t kind, const void *data, size_t len);

/* A store under the stripe lock (write.c): journalled as SHMC_JOURNAL_SET
 * in write-invalidate mode; placeholders (novalue) are not. */
void shm_journal_store_locked(struct shmc *c, const void *key, size_t klen, bool novalue);

#endif
