/*
 * layout.h - the shared-memory format: every struct that lives in the
 * segment, and the constants that place them.
 *
 * Invariant kept here: the layout is described once. Any change to a struct
 * below, its size or its order must bump SHMC_LAYOUT_VERSION; the
 * _Static_asserts catch accidental changes and the fingerprint (which also
 * folds in sizeof(pthread_mutex_t) and the cache-line size) makes processes
 * built differently refuse each other's segments with -EPROTO.
 *
 *   offset 0          header (4 KiB)
 *   stripes_off       stripe[stripes]     lock, item-log state, write counters
 *   procs_off         proc[proc_slots]    per-process(thread) read counters
 *   tags_off          a64[tag_slots]      last invalidation of each tag
 *   index_off         bucket[buckets]     tag line + 8 slots each
 *   arena_off         item memory, one contiguous log per stripe
 *
 * All fields of shared structs are C11 atomics: processes read them without
 * locks, so every access is an atomic access (relaxed unless a comment says
 * why it needs more). See docs/FORMAT.md.
 */
#ifndef SHMC_LAYOUT_H
#define SHMC_LAYOUT_H

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>

#include "shmcache.h" /* SHMC_TAGS_MAX */

#define SHMC_MAGIC            "SHMCACHE"
#define SHMC_LAYOUT_VERSION   1u
#define SHMC_CACHELINE        64u
#define SHMC_HEADER_SIZE      4096u
#define SHMC_SLOTS_PER_BUCKET 8u
#define SHMC_PROC_SLOTS       1024u
#define SHMC_ITEM_ALIGN       8u
#define SHMC_TAG_SLOTS        16384u /* words of the tag table */
#define SHMC_HASH_VERSION     1u     /* bump when shm_hash or shm_locate change */

typedef _Atomic uint8_t  a8;
typedef _Atomic uint16_t a16;
typedef _Atomic uint32_t a32;
typedef _Atomic uint64_t a64;

#define LD(p)     atomic_load_explicit((p), memory_order_relaxed)
#define ST(p, v)  atomic_store_explicit((p), (v), memory_order_relaxed)
/* Add to a counter that only one thread writes at a time (the stripe's lock
 * holder, or the row's owning thread): a plain load and store, no locked
 * instruction, still an atomic access for concurrent readers. */
#define BUMP(p, n) ST((p), LD(p) + (n))

/* Header ready word. */
#define SHMC_READY 0x52454459u /* "REDY" */

struct shm_header {
    char     magic[8];            /* 0   SHMC_MAGIC, not NUL-terminated */
    uint32_t layout_version;      /* 8 */
    uint32_t header_size;         /* 12 */
    uint64_t fingerprint;         /* 16 */
    uint64_t segment_size;        /* 24  must equal st_size */
    a32      ready;               /* 32  SHMC_READY once fully built */
    uint32_t mode;                /* 36  permission bits at creation */
    uint32_t owner_uid;           /* 40 */
    uint32_t stripes;             /* 44  power of two */
    uint64_t buckets;             /* 48  power of two */
    uint64_t memory;              /* 56  item memory, all stripes */
    uint64_t stripe_bytes;        /* 64  item memory of one stripe */
    uint32_t max_key_len;         /* 72 */
    uint32_t max_value_len;       /* 76 */
    uint32_t proc_slots;          /* 80 */
    uint32_t slots_per_bucket;    /* 84 */
    uint64_t stripes_off;         /* 88 */
    uint64_t procs_off;           /* 96 */
    uint64_t index_off;           /* 104 */
    uint64_t arena_off;           /* 112 */
    uint64_t hash_seed;           /* 120 per-segment random seed */
    uint64_t created_unix_ms;     /* 128 */
    uint64_t created_mono_ms;     /* 136 */
    uint64_t tags_off;            /* 144 tag table */
    uint32_t tag_slots;           /* 152 power of two */
    uint32_t pad1;                /* 156 */
    uint64_t header_check;        /* 160 hash of bytes [0, 160), ready as 0 */
    uint8_t  pad0[SHMC_CACHELINE * 3 - 168];
    /* Mutable part, one line each so writers do not slow readers. */
    alignas(SHMC_CACHELINE) a64 generation;   /* bumped by shmc_clear */
    alignas(SHMC_CACHELINE) struct {
        /* read counters of rows folded in after their process died */
        a64 cmd_get, get_hits, get_misses, get_expired, get_flushed, get_locked;
        a64 stale_hits, lease_waits;
    } retired;
    /* Tag invalidation: tag_seq counts invalidations; each invalidation
     * stores its number in the tag's table word (tags.c). */
    alignas(SHMC_CACHELINE) a64 tag_seq;
    a64 tag_invalidations;
};

/* The fields the checksum covers: everything written once at creation. */
#define SHMC_HEADER_CHECKED offsetof(struct shm_header, header_check)

/* Per-stripe write statistics, updated only under the stripe lock. */
struct shm_wstats {
    a64 curr_items, bytes, total_items;
    a64 cmd_set, cmd_touch, touch_hits, touch_misses;
    a64 delete_hits, delete_misses, incr_hits, incr_misses;
    a64 cas_hits, cas_misses, cas_badval;
    a64 evictions, reclaimed, expired_unfetched, evicted_unfetched;
    a64 lock_recoveries, recovered_lost;
    a64 lease_grants, lease_rejects;
};

struct shm_stripe {
    pthread_mutex_t lock;                 /* robust, process-shared */
    a32  dirty;                           /* 1 while the holder changes state */
    a32  count_gen;                       /* generation curr_items/bytes count */
    /* Item log (see arena.c): [tail, head) holds items, circular; when the
     * log has wrapped, data before the wrap ends at wrap_end. All offsets
     * are relative to the stripe's arena. This line also holds the first
     * four write counters (st.curr_items .. st.cmd_set): everything a set
     * writes in the stripe besides the lock is in this one line, so two
     * writer processes move as few lines between them as possible. */
    alignas(SHMC_CACHELINE) a64 head;
    a64  tail;
    a64  wrap_end;
    a64  cas_next;                        /* per-stripe CAS counter */
    struct shm_wstats st;
};

/* A row of the process table: read counters of one thread of one attached
 * handle. Written only by its owner; summed by shmc_stats. */
enum { ROW_FREE = 0, ROW_LIVE = 1 };
struct shm_proc {
    a32 state;          /* ROW_FREE or ROW_LIVE */
    a32 pid;
    a32 primary;        /* 1 for the row a handle claims at open */
    a32 pidns;          /* inode of its /proc/self/ns/pid; 0 unknown */
    a64 cmd_get, get_hits, get_misses, get_expired, get_flushed, get_locked;
    a64 stale_hits, lease_waits;
    uint8_t pad1[SHMC_CACHELINE * 2 - 16 - 8 * 8];
};

/*
 * A slot of the index. Protected by its seqlock `seq`: a writer (holding the
 * stripe lock) makes seq odd, writes, makes it even. Readers copy fields and
 * trust them only if seq was even and unchanged around the copy.
 * item == 0 means the slot is empty.
 */
enum {
    SLOT_STALE  = 0x01,  /* invalidated: misses for get, readable as stale */
    SLOT_LEASED = 0x02,  /* a lease is outstanding on this key */
    SLOT_TAGGED = 0x04,  /* the item carries tag references */
    SLOT_NOVALUE = 0x08, /* placeholder holding only a key and its lease */
};
struct shm_slot {
    a32 seq;
    a32 gen;            /* generation it was written in (low 32 bits) */
    a64 item;           /* offset of the item in the segment; 0 = empty */
    a64 hash;           /* full 64-bit hash of the key */
    a64 expiry;         /* absolute CLOCK_MONOTONIC ms; 0 = never */
    a64 cas;
    a32 vlen;
    a32 flags;
    a16 klen;
    a8  state;          /* SLOT_* bits */
    a8  ntags;          /* tag references in the item (SLOT_TAGGED) */
    a32 lease_gseq;     /* tag_seq (low 32 bits) when the lease was granted */
    a64 lease;          /* outstanding lease token, 0 = none (lease.c) */
};

/* The first line of a bucket, read by every lookup:
 *  - tag: 16 bits of the key's hash per slot (never 0 when occupied), so a
 *    lookup compares tags before touching any slot;
 *  - hint: the slot's item offset / 8 (0 when unknown or past 32 GiB), so
 *    a reader can start loading the item while the slot's line is still on
 *    its way: the two cache misses overlap instead of following each other;
 *  - hot: a byte per slot that readers set once: HOT_REF, referenced since
 *    the index's CLOCK hand last passed; HOT_LOGREF, referenced since the
 *    item log's tail last passed (two bits, so one CLOCK clearing its bit
 *    does not make the entry cold for the other); HOT_FETCHED, read at
 *    least once since written;
 *  - hand: this bucket's CLOCK hand.
 * Tags and hints are hints: only a validated slot read is trusted, and a
 * hint is only ever used as a prefetch address. */
enum { HOT_REF = 0x01, HOT_FETCHED = 0x02, HOT_LOGREF = 0x04, HOT_ALL = 0x07 };
struct shm_bucket {
    a16 tag[SHMC_SLOTS_PER_BUCKET];
    a8  hot[SHMC_SLOTS_PER_BUCKET];
    a8  hand;
    uint8_t pad[7];
    a32 hint[SHMC_SLOTS_PER_BUCKET];
    struct shm_slot slot[SHMC_SLOTS_PER_BUCKET];
};


/* An item in a stripe's log. Followed by the tag references (if any), the
 * key padded to 8, the value padded to 8; `size` covers all of it. `slot`
 * is the global index of the slot that owns it (an item is live only while
 * that slot points back). Lengths live in the slot, so the header is only
 * what a walk of the log needs: 8 bytes of overhead per entry. */
#define ITEM_PAD_SLOT 0xffffffffu /* marks filler at the end of the log */
struct shm_item {
    a32 size;
    a32 slot;
};

_Static_assert(sizeof(struct shm_header) == SHMC_CACHELINE * 6, "header layout changed: bump SHMC_LAYOUT_VERSION");
_Static_assert(sizeof(struct shm_header) <= SHMC_HEADER_SIZE, "header too big");
_Static_assert(sizeof(struct shm_slot) == 64, "slot layout changed: bump SHMC_LAYOUT_VERSION");
_Static_assert(sizeof(struct shm_bucket) == 64 * 9, "bucket layout changed: bump SHMC_LAYOUT_VERSION");
_Static_assert(sizeof(struct shm_proc) == 128, "proc row layout changed: bump SHMC_LAYOUT_VERSION");
_Static_assert(sizeof(struct shm_item) == 8, "item header changed: bump SHMC_LAYOUT_VERSION");
_Static_assert(sizeof(struct shm_stripe) % SHMC_CACHELINE == 0, "stripe not line-sized");
_Static_assert(offsetof(struct shm_stripe, st.cmd_set) / SHMC_CACHELINE ==
               offsetof(struct shm_stripe, head) / SHMC_CACHELINE, "per-set stripe fields span lines");
_Static_assert(offsetof(struct shm_header, generation) % SHMC_CACHELINE == 0, "generation shares a line");
_Static_assert(sizeof(a64) == 8 && sizeof(a32) == 4, "atomics are not lock-free sized");

static inline uint64_t shm_align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

/* Tag references of an item: the tag_seq value when it was stored (8
 * bytes), then a 32-bit tag-table index per tag, padded to 8. */
static inline uint64_t shm_tags_size(uint64_t ntags)
{
    return ntags ? shm_align_up(8 + 4 * ntags, SHMC_ITEM_ALIGN) : 0;
}

/* Bytes an item with these lengths occupies in the log. */
static inline uint64_t shm_item_size(uint64_t klen, uint64_t vlen, uint64_t ntags)
{
    return sizeof(struct shm_item) + shm_tags_size(ntags) + shm_align_up(klen, SHMC_ITEM_ALIGN)
         + shm_align_up(vlen, SHMC_ITEM_ALIGN);
}

/* Offset of the key and value inside an item. */
static inline uint64_t shm_item_key_off(uint64_t ntags) { return sizeof(struct shm_item) + shm_tags_size(ntags); }
static inline uint64_t shm_item_val_off(uint64_t klen, uint64_t ntags)
{
    return shm_item_key_off(ntags) + shm_align_up(klen, SHMC_ITEM_ALIGN);
}

#endif
