/*
 * internal.h - the process-local handle and the functions the library's
 * files share. Nothing here is part of the public API.
 *
 * Naming: a function whose name ends in _locked expects the caller to hold
 * the stripe lock of the stripe it works on, and only that; one ending in
 * _mu expects a process-local mutex named in its comment (procs.c: the
 * handle's row mutex; near.c: the near cache's n->mu).
 */
#ifndef SHMC_INTERNAL_H
#define SHMC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "shmcache.h"
#include "layout.h"

/* Everything declared from here on is internal to the library (hidden in
 * the shared object, so calls between its files bind directly). */
#pragma GCC visibility push(hidden)

#define SHMC_READ_RETRIES   64    /* optimistic attempts before the lock */
#define SHMC_REINSERT_MAX   64    /* second-chance copies per allocation */

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#else
#define cpu_relax() atomic_signal_fence(memory_order_seq_cst)
#endif
#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

struct shmc {
    uint64_t id;                  /* unique in the process, never reused */
    unsigned flags;
    int      fd;
    char     name[SHMC_NAME_MAX + 2];

    /* The mapping and what the validated header said, copied once so that
     * a later scribble on the header cannot move our bounds. */
    uint8_t            *base;
    uint64_t            size;
    struct shm_header  *hdr;
    struct shm_stripe  *stripes;
    struct shm_proc    *procs;
    a64                *tags;
    struct shm_bucket  *buckets;
    struct shm_wline   *wlines;       /* one per bucket, after them */
    uint64_t nbuckets, bucket_mask, nslots, capacity;
    uint32_t nstripes, stripe_mask;
    uint64_t arena_off, stripe_bytes, memory;
    uint64_t probation_bytes;     /* each stripe's probation log (arena.c) */
    uint32_t max_key, max_val, proc_slots;
    uint64_t seed;

    /* Process table bookkeeping (procs.c), under mu. */
    void    *mu;                  /* pthread_mutex_t *, process-local */
    uint64_t fork_gen;            /* g_fork_gen when rows were claimed */
    int32_t  primary_row;         /* -1: none */
    uint8_t *owned;               /* bitmap: rows this handle holds */
    int32_t *parked;              /* rows of exited threads, reusable */
    uint32_t nparked;
    struct shm_proc local;        /* counters when no row can be owned */
    void    *near;                /* per-process near cache (near.c), or NULL */
    /* Invalidation journal (journal.c): NULL when the segment has none. */
    struct shm_journal *journal;
    uint64_t journal_bytes;
    uint32_t journal_flags;
    _Atomic bool relay_claimed;   /* this handle holds shmc_relay_claim */

    /* What this process learnt about each stripe's lock (lock.c). */
    struct shm_lockstate *lockst;
    _Atomic uint32_t census_running;
    _Atomic uint32_t lock_timeouts;   /* full bounded waits that timed out */
};

/* ---- hash.c */
uint64_t shm_hash(const void *key, size_t len, uint64_t seed);

/* Where a key lives: its home bucket b[0] and second bucket b[1] (same
 * stripe; nb == 1 when the stripe has one bucket), stripe and tag. */
struct keyloc {
    uint64_t h;
    uint64_t b[2];
    int      nb;
    uint16_t tag;
    uint32_t stripe;
};
void shm_locate(const shmc_t *c, const void *key, size_t klen, struct keyloc *kl);
/* The key's fingerprint in its bucket's writer line (layout.h): bits of a
 * bijective remix of the hash, independent of the bucket and tag bits. */
static inline uint32_t shm_key_fp(uint64_t h)
{
    h *= 0x9e3779b97f4a7c15ull;
    h ^= h >> 29;
    return (uint32_t)(h >> 32) | 1u;
}

/* ---- clock.c */
uint64_t shm_now_ms(void);          /* CLOCK_MONOTONIC, exact */
uint64_t shm_wall_ms(void);
bool     shm_expired(uint64_t expiry); /* exact at the boundary, cheap elsewhere */
uint64_t shm_expiry_from_ttl(uint64_t ttl_ms);
int64_t  shm_ttl_left(uint64_t expiry);

#include "copy.h"

/* ---- segment.c */
int  shm_validate_name(const char *name, char *path, size_t pathsz, char *canon, size_t canonsz);
uint64_t shm_fingerprint(void);
uint32_t shm_mapping_hugepages(const shmc_t *c); /* 1: mapped with huge pages */

/* ---- lock.c */
int  shm_lock(shmc_t *c, uint32_t stripe);
int  shm_mutex_lock_bounded(pthread_mutex_t *m);
void shm_unlock(shmc_t *c, uint32_t stripe);
void shm_wipe_stripe_locked(shmc_t *c, uint32_t stripe);
int  shm_lock_init(pthread_mutex_t *m);
int  shm_locks_init(shmc_t *c);
void shm_locks_free(shmc_t *c);
bool shm_stripe_suspect(const shmc_t *c, uint32_t s);
uint32_t shm_locks_find_bad(shmc_t *c, uint8_t *bad);
int  shm_lock_reinit(shmc_t *c, uint32_t s);
uint32_t shm_pidns(void);

/* ---- error.c: the detail behind shmc_open_error() */
void shm_open_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void shm_open_error_clear(void);
const char *shm_fmt_size(uint64_t v, char *buf, size_t cap);
/* A change to a stripe's state, bracketed: the dirty word is set for its
 * duration, so that a holder killed inside it gets the stripe wiped by the
 * next locker (lock.c), and one killed outside any change costs nothing.
 * Pairs nest: end restores what begin found. Every change of slots, items,
 * the log or the counts of a stripe happens inside one. */
static inline uint32_t shm_change_begin_locked(struct shm_stripe *st)
{
    uint32_t was = LD(&st->dirty);
    if (!was)
        ST(&st->dirty, 1);
    return was;
}
static inline void shm_change_end_locked(struct shm_stripe *st, uint32_t was)
{
    if (!was)
        ST(&st->dirty, 0);
}

/* ---- procs.c */
int  shm_procs_attach(shmc_t *c);
void shm_procs_detach(shmc_t *c);
/* The calling thread's last (handle, row), so that the get path finds its
 * counters with two compares; refreshed by shm_row_slow. */
struct tl_ent {
    uint64_t hid;
    uint64_t fgen;
    struct shm_proc *row;
    int32_t idx;
};
extern __thread struct tl_ent shm_tl_last __attribute__((tls_model("initial-exec")));
extern _Atomic uint64_t shm_fork_gen; /* bumped in every fork child */
struct shm_proc *shm_row_slow(shmc_t *c, bool *shared);

/* The counters the calling thread updates; *shared says whether other
 * threads update the same counters (then they need atomic adds). */
static inline struct shm_proc *shm_row(shmc_t *c, bool *shared)
{
    if (likely(shm_tl_last.hid == c->id &&
               shm_tl_last.fgen == atomic_load_explicit(&shm_fork_gen, memory_order_relaxed))) {
        *shared = false;
        return shm_tl_last.row;
    }
    return shm_row_slow(c, shared);
}
uint32_t shm_procs_sum(shmc_t *c, struct shm_proc *sum);
/* Whether every live row records pid namespace ns (lock.c's owner check). */
bool shm_procs_all_in_pidns(shmc_t *c, uint32_t ns);
/* Bump a counter of the calling thread's row (atomic when shared). */
static inline void shm_row_bump(struct shm_proc *r, bool shared, a64 *f)
{
    (void)r;
    if (shared)
        atomic_fetch_add_explicit(f, 1, memory_order_relaxed);
    else
        BUMP(f, 1);
}

/* ---- index.c: slots. A slot is named by its global index
 * idx = bucket * SHMC_SLOTS_PER_BUCKET + i. */
static inline struct shm_bucket *shm_bucket_of(const shmc_t *c, uint64_t idx)
{
    return &c->buckets[idx / SHMC_SLOTS_PER_BUCKET];
}
static inline unsigned shm_slot_in(uint64_t idx) { return (unsigned)(idx % SHMC_SLOTS_PER_BUCKET); }
static inline uint32_t shm_stripe_of_bucket(const shmc_t *c, uint64_t b)
{
    return (uint32_t)(b & c->stripe_mask);
}
static inline uint64_t shm_arena_base(const shmc_t *c, uint32_t stripe)
{
    return c->arena_off + (uint64_t)stripe * c->stripe_bytes;
}
/* A slot's off word <-> the segment offset of its item (0 = empty). The
 * word counts 8-byte units from the stripe's item memory, so it reaches
 * 32 GiB per stripe (checked at creation). */
static inline uint32_t shm_off_encode(const shmc_t *c, uint32_t stripe, uint64_t item)
{
    return (uint32_t)((item - shm_arena_base(c, stripe)) / SHMC_ITEM_ALIGN + 1);
}
static inline uint64_t shm_off_decode(const shmc_t *c, uint64_t bucket, uint32_t off)
{
    return off ? shm_arena_base(c, shm_stripe_of_bucket(c, bucket)) + (uint64_t)(off - 1) * SHMC_ITEM_ALIGN
               : 0;
}
static inline struct shm_item *shm_item_at(const shmc_t *c, uint64_t item)
{
    return (struct shm_item *)(void *)(c->base + item);
}
/* The segment offset of slot idx's item, 0 when empty (not bounds-checked). */
static inline uint64_t shm_slot_off(const shmc_t *c, uint64_t idx)
{
    return shm_off_decode(c, idx / SHMC_SLOTS_PER_BUCKET, LD(&shm_bucket_of(c, idx)->off[shm_slot_in(idx)]));
}
/* Writer side of a bucket's seqlock (stripe lock held): make seq odd (it
 * may already be odd if a writer died inside), with a release fence that
 * pairs with the reader's acquire fence before its second seq load; then
 * change the slots or the item headers they point to; then
 * shm_bucket_end publishes them with an even seq (release, pairing with the
 * reader's acquire load of seq). */
static inline uint32_t shm_bucket_begin(struct shm_bucket *bk)
{
    uint32_t odd = LD(&bk->seq) | 1u;
    ST(&bk->seq, odd);
    atomic_thread_fence(memory_order_release);
    return odd;
}
static inline void shm_bucket_end(struct shm_bucket *bk, uint32_t odd)
{
    atomic_store_explicit(&bk->seq, odd + 1, memory_order_release);
}
/* Empty slot i of bucket bk (inside shm_bucket_begin/end). */
void shm_slot_clear_fields(struct shm_bucket *bk, unsigned i);
/* Slot idx's item when the slot is occupied and the item is whole and
 * inside the slot's stripe (lengths in range, size matching), else NULL:
 * the locked paths treat a corrupt slot as empty and never follow it. */
struct shm_item *shm_slot_item_locked(shmc_t *c, uint64_t idx);
uint64_t shm_item_bytes(struct shm_item *it);
/* Whether a locked slot's item (NULL: empty or corrupt) is live (state.h). */
bool shm_item_live_locked(const shmc_t *c, struct shm_item *it, uint32_t gen);
int64_t shm_find_locked(shmc_t *c, const struct keyloc *kl, const void *key, size_t klen);
/* shm_find_locked, and the slot's item (NULL when the key has no slot). */
struct shm_item *shm_find_item_locked(shmc_t *c, const struct keyloc *kl, const void *key, size_t klen,
                                      int64_t *idx);
/* The slot a store of this key reuses: by tag and fingerprint, without
 * reading the old item (stores only; see struct shm_wline). */
int64_t shm_find_fp_locked(const shmc_t *c, const struct keyloc *kl, uint32_t fp);

int64_t shm_choose_slot_locked(shmc_t *c, const struct keyloc *kl, uint32_t gen);
enum shm_drop { DROP_DELETE, DROP_EVICT, DROP_RECLAIM, DROP_LOST };
void shm_drop_slot_locked(shmc_t *c, uint64_t idx, enum shm_drop why);
void shm_sync_gen_locked(shmc_t *c, uint32_t stripe, uint32_t gen);
/* Note that a key homed in bucket `home` now lives in its second bucket
 * (before it is published there) or no longer does (after it is gone). */
void shm_ovf_add_locked(shmc_t *c, uint64_t home, int delta);

/* ---- a stripe's item logs (layout.h, arena.c): pointers in 8-byte units,
 * relative to the log's first byte (stripe lock held to write) */
struct shm_log {
    a32 *head8, *tail8;
    a64 *wrap_end;
    uint64_t base;  /* absolute offset of the log's first byte */
    uint64_t cap;   /* its bytes */
};
enum { LOG_PROBATION, LOG_MAIN };
/* The probation log's size: an eighth of the stripe (a new item is judged
 * after an eighth of the memory turned over, not all of it: arena.c), in
 * whole lines, leaving the main log room for the largest item. */
static inline uint64_t shm_probation_bytes(uint64_t stripe_bytes, uint64_t max_item)
{
    uint64_t p = stripe_bytes / 8 & ~(uint64_t)(SHMC_CACHELINE - 1);
    if (stripe_bytes < max_item)
        return 0;
    return p <= stripe_bytes - max_item ? p : (stripe_bytes - max_item) & ~(uint64_t)(SHMC_CACHELINE - 1);
}
static inline struct shm_log shm_log_of(const shmc_t *c, uint32_t stripe, int which)
{
    struct shm_stripe *st = &c->stripes[stripe];
    uint64_t base = shm_arena_base(c, stripe);
    if (which == LOG_PROBATION)
        return (struct shm_log){&st->head8, &st->tail8, &st->wrap_end, base, c->probation_bytes};
    return (struct shm_log){&st->main_head8, &st->main_tail8, &st->main_wrap_end,
                            base + c->probation_bytes, c->stripe_bytes - c->probation_bytes};
}
static inline uint64_t shm_log_head(const struct shm_log *l) { return (uint64_t)LD(l->head8) * SHMC_ITEM_ALIGN; }
static inline uint64_t shm_log_tail(const struct shm_log *l) { return (uint64_t)LD(l->tail8) * SHMC_ITEM_ALIGN; }
static inline void shm_set_log_head(const struct shm_log *l, uint64_t off)
{
    ST(l->head8, (uint32_t)(off / SHMC_ITEM_ALIGN));
}
static inline void shm_set_log_tail(const struct shm_log *l, uint64_t off)
{
    ST(l->tail8, (uint32_t)(off / SHMC_ITEM_ALIGN));
}

/* ---- the stripe's first line: item and byte counts of generation
 * count_gen (stripe lock held to write) */
static inline uint64_t shm_stripe_items(const struct shm_stripe *st) { return LD(&st->items); }
static inline uint64_t shm_stripe_bytes(const struct shm_stripe *st) { return (uint64_t)LD(&st->bytes8) * SHMC_ITEM_ALIGN; }
/* Add an entry of `size` bytes to the counts (sign -1 removes one). */
static inline void shm_count_locked(struct shm_stripe *st, int sign, uint64_t size)
{
    uint32_t units = (uint32_t)(size / SHMC_ITEM_ALIGN);
    ST(&st->items, sign > 0 ? LD(&st->items) + 1 : LD(&st->items) - 1);
    ST(&st->bytes8, sign > 0 ? LD(&st->bytes8) + units : LD(&st->bytes8) - units);
}
static inline void shm_count_reset_locked(struct shm_stripe *st, uint64_t items, uint64_t bytes)
{
    ST(&st->items, (uint32_t)items);
    ST(&st->bytes8, (uint32_t)(bytes / SHMC_ITEM_ALIGN));
}

/* ---- arena.c */
int64_t shm_arena_alloc_locked(shmc_t *c, uint32_t stripe, uint64_t size, uint32_t gen);
void shm_arena_reset_locked(shmc_t *c, uint32_t stripe);

static inline uint32_t shm_gen(const shmc_t *c)
{
    /* Acquire: a clear that returned before this load is seen (pairs with
     * the seq_cst increment in shmc_clear). */
    return (uint32_t)atomic_load_explicit(&c->hdr->generation, memory_order_acquire);
}

static inline bool shm_writable(const shmc_t *c) { return !(c->flags & SHMC_RDONLY); }

/* Whether size bytes at segment offset item lie inside item memory and are
 * aligned. Every offset read from the segment goes through this before it
 * is followed. Written so that nothing wraps: size is checked first, then
 * item - arena_off (huge when item < arena_off) against what is left. */
static inline bool shm_item_ok(const shmc_t *c, uint64_t item, uint64_t size)
{
    return size <= c->memory && item - c->arena_off <= c->memory - size &&
           !(item & (SHMC_ITEM_ALIGN - 1));
}

int shm_check_key(const shmc_t *c, const void *key, size_t klen);

/* ---- near.c: shmc_close must call this before detaching (frees the
 * handle's near cache; a no-op when it was never enabled). */
void shm_near_close(shmc_t *c);

/* ---- read.c */
int shm_get_common(shmc_t *c, const void *key, size_t klen, void *buf, size_t cap, size_t *vlen,
                   shmc_item_info_t *info, bool want_stale);

/* ---- tags.c */
int  shm_tag_indexes(const shmc_t *c, const char *const *tags, size_t ntags, uint32_t *idx);
uint64_t shm_tag_seq(const shmc_t *c);
bool shm_tags_valid(const shmc_t *c, uint64_t item, unsigned ntags);
bool shm_tags_changed_since(const shmc_t *c, const uint32_t *idx, size_t n, uint32_t since);
unsigned shm_item_tag_indexes(const shmc_t *c, uint64_t item, unsigned ntags, uint32_t *idx);
uint64_t shm_item_tag_seq(const shmc_t *c, uint64_t item);

/* ---- write.c: what a store writes besides key and value */
struct store_extra {
    const uint32_t *tags;   /* tag-table indexes */
    unsigned ntags;
    uint64_t tag_seq;       /* tag_seq read under the lock */
    uint8_t  state;         /* SLOT_NOVALUE for a lease placeholder */
    uint64_t lease;         /* lease token for a placeholder */
    uint32_t lease_gseq;
};
int  shm_lock_key(shmc_t *c, const struct keyloc *kl, uint32_t *gen);
uint64_t shm_next_token_locked(shmc_t *c, uint32_t stripe);
void shm_prefetch_key(const shmc_t *c, const struct keyloc *kl);
/* An operation on one key that exists or not: validated (writable
 * handle), located, its stripe locked (counters in the current
 * generation), its slot and item found. shm_unlock(c, op.kl.stripe) ends it. */
struct keyop {
    struct keyloc kl;
    uint32_t gen;
    struct shm_stripe *st;
    int64_t idx;            /* the key's slot, -1 when it has none */
    struct shm_item *it;    /* the slot's item, NULL when none */
};
int  shm_keyop_begin(shmc_t *c, const void *key, size_t klen, struct keyop *op);
/* shm_keyop_begin for a key already validated (and a writable handle). */
int  shm_keyop_lock(shmc_t *c, const void *key, size_t klen, struct keyop *op);
int  shm_check_write(shmc_t *c, const void *key, size_t klen, const void *val, size_t vlen);
void shm_store_locked(shmc_t *c, const struct keyloc *kl, const void *key, size_t klen,
                      const void *val, size_t vlen, uint64_t expiry, uint32_t flags, uint32_t gen,
                      const struct store_extra *x);

#pragma GCC visibility pop

#endif
