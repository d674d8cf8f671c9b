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
 *   index_off         bucket[buckets]     one line: 9 slots (tag, offset), seqlock
 *                     wline[buckets]      writers only: key fingerprints
 *   arena_off         item memory, one contiguous log per stripe
 *   journal_off       invalidation journal, when created with one (journal.h)
 *
 * Every field that changes while other processes may read it is a C11
 * atomic: processes read without locks, so every access to it is an
 * atomic access (relaxed unless a comment says why it needs more). Two
 * kinds of field are plain: the header's fixed part (up to header_check),
 * written once by the creator before it publishes `ready` with release and
 * covered by header_check, and the stripe's pthread_mutex_t, touched only
 * through pthread calls. See docs/FORMAT.md.
 */
#ifndef SHMC_LAYOUT_H
#define SHMC_LAYOUT_H

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>

#include "shmcache.h" /* SHMC_TAGS_MAX */

#define SHMC_MAGIC            "SHMCACHE"
#define SHMC_LAYOUT_VERSION   2u
#define SHMC_CACHELINE        64u
#define SHMC_HEADER_SIZE      4096u
#define SHMC_SLOTS_PER_BUCKET 9u
#define SHMC_PROC_SLOTS       1024u
#define SHMC_ITEM_ALIGN       8u
#define SHMC_TAG_SLOTS        16384u /* words of the tag table */
#define SHMC_STRIPE_BYTES_MAX (((uint64_t)UINT32_MAX - 1) * SHMC_ITEM_ALIGN) /* slot offsets are 32-bit */
#define SHMC_HASH_VERSION     1u     /* bump when shm_hash or shm_locate change */
#define SHMC_ARENA_VERSION    2u     /* bump when the item logs' rules change (arena.c) */

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

/* The counters each thread keeps in its own row of the process table
 * (procs.c): the read counters, and the two counters every store bumps
 * (kept out of the stripe so that a set writes one stripe line). One list:
 * the row, the retired totals, folding and summing all expand it. */
#define SHMC_ROW_COUNTERS(X)                                                       \
    X(cmd_get) X(get_hits) X(get_misses) X(get_expired) X(get_flushed) X(get_locked) \
    X(stale_hits) X(lease_waits) X(cmd_set) X(total_items)
#define SHMC_ROW_NCOUNTERS 10

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
    /* -- journal (issue 12): geometry of the invalidation journal, placed
     *    after the arena; its own structs are in journal.h */
    uint32_t journal_flags;       /* 156 SHMC_JOURNAL_* flags */
    uint64_t journal_off;         /* 160 0 = no journal */
    uint64_t journal_bytes;       /* 168 bytes of the ring */
    /* -- end journal */
    uint64_t capacity;            /* 176 distinct keys promised (index holds more slots) */
    uint64_t header_check;        /* 184 hash of bytes [0, 184), ready as 0 */
    /* 192: the fixed part fills three lines exactly */
    /* Mutable part, one line each so writers do not slow readers. */
    alignas(SHMC_CACHELINE) a64 generation;   /* bumped by shmc_clear */
    alignas(SHMC_CACHELINE) struct {
        /* counters of rows folded in after their process died */
#define X(n) a64 n;
        SHMC_ROW_COUNTERS(X)
#undef X
    } retired;
    /* Tag invalidation: tag_seq counts invalidations; each invalidation
     * stores its number in the tag's table word (tags.c). */
    alignas(SHMC_CACHELINE) a64 tag_seq;
    a64 tag_invalidations;
};

/* The fields the checksum covers: everything written once at creation. */
#define SHMC_HEADER_CHECKED offsetof(struct shm_header, header_check)

/* Per-stripe write statistics, updated only under the stripe lock
 * (curr_items and bytes live in the stripe's first line, cmd_set and
 * total_items in the writer's row). One list, like SHMC_ROW_COUNTERS: the
 * struct and shmc_stats' sum expand it; each name is also a field of
 * shmc_stats_t. The order is the layout's. */
#define SHMC_STRIPE_COUNTERS(X)                                                  \
    X(cmd_touch) X(touch_hits) X(touch_misses)                                   \
    X(delete_hits) X(delete_misses) X(incr_hits) X(incr_misses)                  \
    X(cas_hits) X(cas_misses) X(cas_badval)                                      \
    X(evictions) X(reclaimed) X(expired_unfetched) X(evicted_unfetched)          \
    X(lock_recoveries) X(recovered_lost)                                         \
    X(lease_grants) X(lease_rejects)
struct shm_wstats {
#define X(n) a64 n;
    SHMC_STRIPE_COUNTERS(X)
#undef X
};

/*
 * A stripe. Its first line is everything a store writes in the stripe: the
 * lock, the dirty word, the item log's head and tail, and the item count.
 * Two processes storing random keys pass each stripe's lines back and
 * forth between their cores; one line per set instead of two is what keeps
 * them from collapsing (on x86-64 glibc, where pthread_mutex_t is 40
 * bytes; elsewhere the fields spill into the next line, nothing breaks).
 *
 * Item logs (see arena.c): a stripe's item memory holds two circular logs,
 * probation (the first eighth: new items) and main (the rest: items read
 * while on probation). In each, [tail, head) holds items; when a log has
 * wrapped, data before the wrap ends at its wrap_end. Offsets are relative
 * to the log's first byte; head and tail are kept in 8-byte units (a stripe
 * is smaller than 32 GiB), and so is bytes. The probation log's head and
 * tail share the lock's line: every set that takes log space moves them.
 */
struct shm_stripe {
    pthread_mutex_t lock;                 /* robust, process-shared */
    a32  dirty;                           /* 1 while the holder changes state */
    a32  count_gen;                       /* generation items/bytes8 count */
    a32  head8;                           /* log head / 8 */
    a32  tail8;                           /* log tail / 8 */
    a32  items;                           /* curr_items */
    a32  bytes8;                          /* bytes / 8 */
    /* Written when a log wraps, when an item moves to the main log, or by
     * less frequent operations. */
    alignas(SHMC_CACHELINE) a64 wrap_end;  /* the probation log's */
    a32  main_head8;                      /* the main log: head / 8 */
    a32  main_tail8;                      /* tail / 8 */
    a64  main_wrap_end;
    a64  cas_next;                        /* CAS values for callers without a row */
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
#define X(n) a64 n;
    SHMC_ROW_COUNTERS(X)
#undef X
    /* CAS values and lease tokens drawn by this row's thread: never reset,
     * not even when the row changes owner, so a value is never drawn twice
     * (write.c, shm_next_token_locked). */
    a64 cas_next;
    uint8_t pad1[SHMC_CACHELINE * 2 - 16 - 8 * SHMC_ROW_NCOUNTERS - 8];
};

/*
 * The index: buckets of SHMC_SLOTS_PER_BUCKET slots, one cache line each.
 * The line holds everything a reader needs to find and validate an entry,
 * so a get costs one miss for the bucket and one dependent miss for the
 * item (whose header holds the rest: docs/FORMAT.md):
 *
 *  - tag: 16 bits of the key's hash per slot, never 0 when occupied (0 =
 *    empty), so a lookup compares tags before touching any item;
 *  - off: where the slot's item is, in 8-byte units from the start of the
 *    bucket's stripe's item memory, plus one (0 = empty);
 *  - seq: the bucket's seqlock. A writer (holding the stripe lock) makes it
 *    odd, changes slots of the bucket or the header of an item one of them
 *    points to, and makes it even. Readers copy and trust what they copied
 *    only if seq was even and unchanged around the copy. One word for the
 *    whole line: every change of a slot rewrites the line anyway, so a
 *    per-slot word would only narrow the window of a retry, and it costs
 *    three slots of room;
 *  - hot: bits readers set once per cycle (HOT_REF(i): referenced since the
 *    index's CLOCK last passed; HOT_FETCHED(i): read since written;
 *    HOT_LOGREF(i): referenced since the item log's tail last passed), with
 *    atomic OR; writers clear them with atomic AND, so neither loses the
 *    other's bits;
 *  - ovf: low 12 bits: how many keys whose home is this bucket live in
 *    their second bucket (saturating: OVF_STUCK means "always look"); a
 *    reader looks at the second bucket only when they are non-zero. High 4
 *    bits: this bucket's CLOCK hand (index.c). Writer-only.
 */
#define HOT_REF(i)     (1u << (i))
#define HOT_FETCHED(i) (1u << (9 + (i)))
#define HOT_LOGREF(i)  (1u << (18 + (i)))
#define HOT_ALL(i)     (HOT_REF(i) | HOT_FETCHED(i) | HOT_LOGREF(i))
#define OVF_COUNT      0x0fffu
#define OVF_STUCK      OVF_COUNT
#define OVF_HAND_SHIFT 12
struct shm_bucket {
    a16 tag[SHMC_SLOTS_PER_BUCKET];   /* 0  */
    a16 ovf;                          /* 18 */
    a32 seq;                          /* 20 */
    a32 hot;                          /* 24 */
    a32 off[SHMC_SLOTS_PER_BUCKET];   /* 28 */
};

/*
 * The writers' line of a bucket, in a separate array after the buckets (so
 * readers never load it): per slot, a 32-bit fingerprint of the key, from
 * hash bits independent of its bucket and tag (shm_key_fp), and the size
 * (in 8-byte units; WL_SIZE_BIG when it does not fit) and low 8 bits of
 * the generation of its item. A store finds the key's slot by tag and
 * fingerprint and accounts for the item it replaces without reading that
 * item, which is seldom cached: that read was the one cache miss a set
 * paid beyond layout 1's. (A slot last written 256 clears ago looks
 * current to the counts: a cosmetic drift of curr_items/bytes, no more.) Two keys agreeing on bucket, tag and fingerprint
 * (odds 2^-48 per candidate) would make a set of one replace the other,
 * which is then simply gone, as if evicted; every get, delete, add,
 * replace, cas and incr compares the key bytes, so none is ever answered
 * with another key's entry.
 */
#define WL_SIZE_BIG 0xffffu
struct shm_wline {
    a32 fp[SHMC_SLOTS_PER_BUCKET];      /* 0 */
    a16 size8[SHMC_SLOTS_PER_BUCKET];   /* 36 */
    a8  gen8[SHMC_SLOTS_PER_BUCKET];    /* 54 */
    uint8_t pad[1];                     /* 63 */
};

/*
 * An item in a stripe's log: this header, then the tag references (if
 * any), the key padded to 8, the value padded to 8; `size` covers it all.
 * `slot` is the global index of the slot that owns it: an item is live only
 * while that slot points back. The header's mutable fields (expiry, state,
 * lease) change only inside the owning bucket's seqlock. Filler at the end
 * of the log has slot == ITEM_PAD_SLOT and only `size` set.
 */
#define ITEM_PAD_SLOT 0xffffffffu
enum {
    SLOT_STALE   = 0x01, /* invalidated: misses for get, readable as stale */
    SLOT_LEASED  = 0x02, /* a lease is outstanding on this key */
    SLOT_TAGGED  = 0x04, /* the item carries tag references */
    SLOT_NOVALUE = 0x08, /* placeholder holding only a key and its lease */
};
struct shm_item {
    a32 size;           /* 0  bytes of the whole item */
    a32 slot;           /* 4  owning slot (bucket * SLOTS + i) */
    a64 expiry;         /* 8  absolute CLOCK_MONOTONIC ms; 0 = never */
    a64 cas;            /* 16 */
    a32 vlen;           /* 24 */
    a32 flags;          /* 28 user flags */
    a16 klen;           /* 32 */
    a8  state;          /* 34 SLOT_* bits */
    a8  ntags;          /* 35 tag references after the header */
    a32 gen;            /* 36 generation written in (low 32 bits) */
    a64 lease;          /* 40 outstanding lease token, 0 = none (lease.c) */
    a32 lease_gseq;     /* 48 tag_seq (low 32 bits) at the lease's grant */
    a32 hash;           /* 52 low 32 bits of the key's hash: its home bucket */
};

_Static_assert(sizeof(struct shm_header) == SHMC_CACHELINE * 7, "header layout changed: bump SHMC_LAYOUT_VERSION");
_Static_assert(sizeof(struct shm_header) <= SHMC_HEADER_SIZE, "header too big");
_Static_assert(sizeof(struct shm_bucket) == SHMC_CACHELINE, "bucket layout changed: bump SHMC_LAYOUT_VERSION");
_Static_assert(sizeof(struct shm_wline) == SHMC_CACHELINE, "writer line changed: bump SHMC_LAYOUT_VERSION");
_Static_assert(offsetof(struct shm_bucket, off) == 28, "bucket layout changed: bump SHMC_LAYOUT_VERSION");
_Static_assert(sizeof(struct shm_proc) == 128, "proc row layout changed: bump SHMC_LAYOUT_VERSION");
_Static_assert(sizeof(struct shm_item) == 56, "item header changed: bump SHMC_LAYOUT_VERSION");
_Static_assert(sizeof(struct shm_stripe) % SHMC_CACHELINE == 0, "stripe not line-sized");
_Static_assert(sizeof(pthread_mutex_t) != 40 || offsetof(struct shm_stripe, bytes8) + 4 <= SHMC_CACHELINE,
               "per-set stripe fields span lines");
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
