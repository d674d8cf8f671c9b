/*
 * shmcache.h - a cache shared by the processes of one machine, in one POSIX
 * shared-memory segment, with no server in between.
 *
 * OVERVIEW
 *
 *   A segment holds a fixed-size open-addressing hash index and the memory
 *   for keys and values. Any process that can open the segment attaches to it
 *   (shmc_open) and gets, sets and invalidates the same entries as every
 *   other attached process. Reads take no lock: each index slot carries a
 *   sequence counter and a reader copies the entry out, then checks that the
 *   counter did not move. Writers take one of a few robust, process-shared
 *   mutexes ("stripes"); a bucket of the index and its part of item memory
 *   belong to exactly one stripe.
 *
 * GUARANTEES
 *
 *   1. A process may die at any instruction (SIGKILL included). The next
 *      process that needs the same stripe recovers it within milliseconds;
 *      recovery drops at most the entries of that stripe, never the cache.
 *   2. A get takes no lock and writes nothing that other processes read on
 *      the common path (it sets an entry's reference bit once per eviction
 *      cycle, which is how CLOCK eviction learns what is hot).
 *   3. A get returns a value that some set stored whole for that exact key,
 *      and never one that a completed delete, clear or invalidation removed
 *      (per-key linearizability).
 *   4. Entries never move between index slots while live.
 *   5. A segment is untrusted input at attach: magic, layout version, a
 *      fingerprint of the shared layout, geometry, size, owner and mode are
 *      checked before anything inside it is used, and every offset read from
 *      it is bounds-checked before use.
 *   6. Memory is fixed at creation; a set of a value within max_value_len
 *      makes room by evicting, it never fails for want of memory.
 *
 * ERRORS
 *
 *   Every function that can fail returns 0 (or a count >= 0) on success and
 *   a negative errno value on failure; shmc_strerror() gives the text. A call
 *   that fails changes nothing, unless its description says otherwise.
 *
 *   -ENOENT   miss: absent, expired, cleared or invalidated
 *   -EEXIST   add: a live entry exists; open: SHMC_EXCL and the name exists
 *   -ESTALE   cas: the entry changed since it was read
 *   -E2BIG    key longer than max_key_len or value longer than max_value_len
 *   -ENOBUFS  get: the caller's buffer is too small (*vlen says how much)
 *   -EINVAL   bad argument (NULL, empty key, bad name, bad geometry, ...)
 *   -ENOSPC   no room even after eviction; at creation, /dev/shm is full
 *   -EBADMSG  open: not a shmcache segment, truncated, or its header is
 *             corrupt; any other call: the part of the segment it needed is
 *             corrupt (an entry whose fields are out of bounds, or a stripe
 *             lock of a corrupt kind); shmcache-tool check names it
 *   -EPROTO   a shmcache segment of another layout version or build
 *   -EACCES   permission: another user's segment, or a wider mode than allowed
 *   -EROFS    a write through a handle opened with SHMC_RDONLY
 *   -EDEADLK  the key's stripe lock could not be taken: the first time after
 *             waiting SHMC_LOCK_TIMEOUT_MS, afterwards at once (see "Stuck and
 *             corrupt locks" below). A live process is stuck holding it, or
 *             the lock word is corrupt; shmcache-tool check --repair fixes it
 *   -EBUSY    four meanings, each call says which it can return:
 *             (1) a read-only handle kept meeting a writer in progress on
 *                 the entry (get, peek, get_stale, get_view): retry;
 *             (2) another caller holds the key's lease (get_or_lease,
 *                 get_or_wait): wait, retry or serve shmc_get_stale;
 *             (3) the near cache could not copy a value that kept changing
 *                 (get_view): retry;
 *             (4) repair: other processes are attached (shmc_repair)
 *
 *   Errnos the library passes through from the system (-ENOMEM, -EMFILE,
 *   -ENFILE, -ENOTSUP from the near cache, ...) keep their usual meaning;
 *   shmc_strerror gives the system's text for them. shmc_open also leaves
 *   a one-line detail of its failure in shmc_open_error().
 *
 *   "Locks:" in each description says which stripe locks a call takes.
 *   A call that takes a stripe lock may return -EDEADLK and -EBADMSG.
 *
 * CAVEATS
 *
 *   - fork(): a handle opened before fork() may be used in the child; the
 *     child registers itself as a new process on its first call. Do not call
 *     shmc_close() on the same handle in both parent and child concurrently
 *     with other threads of the child using it.
 *   - Every process that can write the segment is trusted: it can change any
 *     entry. The checks at attach protect a process from a corrupt or foreign
 *     segment, not from a hostile writer (docs/SECURITY.md).
 *   - Never shrink the shared-memory object (ftruncate) while it is attached:
 *     every process that touches the missing pages gets SIGBUS.
 *   - The mapping is kept for the handle's life; a process that is killed
 *     while holding a stripe lock is recovered because its mapping was still
 *     present when it died.
 *   - Time is CLOCK_MONOTONIC: entries expire by elapsed time, whatever the
 *     wall clock does, and a segment does not survive a reboot anyway.
 *   - Stuck and corrupt locks. A stripe lock that is never released costs a
 *     handle one bounded wait, not one per call: the first wait that runs
 *     out (SHMC_LOCK_TIMEOUT_MS) marks the stripe suspect in this handle
 *     and then watches every other stripe's lock for SHMC_LOCK_CENSUS_MS,
 *     marking those that stay taken by the same owner suspect too. A call
 *     on a suspect stripe only tries the lock and returns -EDEADLK at once,
 *     until the lock is found free (or moved by a live process) again.
 *     Suspicion is kept in the process, not in the segment: a flag in a
 *     corrupt segment could not be trusted either way. A lock whose word
 *     names an owner that provably does not exist (no such thread in this
 *     pid namespace, and every attached process in it) is taken over as
 *     the kernel does for a dead owner, and its stripe's entries dropped,
 *     within about 10 ms; one whose owner looks alive is left alone for
 *     shmcache-tool check --repair (shmc_repair) to rebuild.
 */
#ifndef SHMCACHE_H
#define SHMCACHE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The release version: written here only. The Makefile reads these three
 * lines (soname, shmcache.pc), and the string is built from them. */
#define SHMC_VERSION_MAJOR 0
#define SHMC_VERSION_MINOR 1
#define SHMC_VERSION_PATCH 0
#define SHMC_VERSION_STR_(x) #x
#define SHMC_VERSION_STR(x) SHMC_VERSION_STR_(x)
#define SHMC_VERSION_STRING SHMC_VERSION_STR(SHMC_VERSION_MAJOR) "." \
    SHMC_VERSION_STR(SHMC_VERSION_MINOR) "." SHMC_VERSION_STR(SHMC_VERSION_PATCH)

/* Flags of shmc_open(). */
#define SHMC_CREATE    0x01u  /* create the segment when it does not exist */
#define SHMC_EXCL      0x02u  /* with SHMC_CREATE: -EEXIST when it exists */
#define SHMC_RDONLY    0x04u  /* map read-only: get, iterate, stats, check */
#define SHMC_ANY_OWNER 0x08u  /* accept a segment owned by another user */
#define SHMC_LAZY      0x10u  /* do not prefault the mapping at open (short-lived
                                 tools); by default every page is mapped at
                                 open, so no get pays a page fault later */

/* Hard limits of the format. */
#define SHMC_KEY_MAX        65535u       /* max_key_len may not exceed this */
#define SHMC_VALUE_MAX      (1u << 30)   /* max_value_len may not exceed this */
#define SHMC_CAPACITY_MAX   (1ull << 30) /* entries (was 2^31 before layout 2: the
                                               index's headroom must stay under 2^32 slots) */
#define SHMC_STRIPES_MAX    1024u
#define SHMC_NAME_MAX       200u         /* bytes of a name, without the '/' */
#ifndef SHMC_LOCK_TIMEOUT_MS            /* fuzz builds compile with a shorter bound */
#define SHMC_LOCK_TIMEOUT_MS 2000u       /* longest wait for a stripe lock */
#endif
#ifndef SHMC_LOCK_CENSUS_MS
#define SHMC_LOCK_CENSUS_MS 100u         /* after a lock wait timed out: how long the
                                            other stripes' locks are watched (see
                                            "Stuck and corrupt locks" in CAVEATS) */
#endif

typedef struct shmc shmc_t; /* process-local handle; thread-safe */

typedef struct shmc_config {
    uint64_t capacity;      /* distinct keys the segment holds without evicting
                               any while item memory remains; default 65536.
                               The index gets headroom: at least 1.8 slots per
                               key (shmc_info_t.index_slots) */
    uint64_t memory;        /* bytes for items (keys + values + headers);
                               default capacity * 256 */
    uint32_t max_key_len;   /* default 250 */
    uint32_t max_value_len; /* default 1 MiB */
    uint32_t stripes;       /* lock stripes; 0 = choose; a power of two */
    uint32_t mode;          /* create: permission bits, default 0600;
                               attach: the widest mode accepted (default 0600,
                               or the mode given here) */
    /* Invalidation journal (see "Invalidation journal" below); read only
     * when creating. 0 = no journal (the default). Otherwise the bytes of
     * the ring, rounded up to 4 KiB, at least SHMC_JOURNAL_MIN and enough
     * for four records of max_key_len bytes, at most SHMC_JOURNAL_MAX. */
    uint64_t journal_bytes;
    uint32_t journal_flags; /* SHMC_JOURNAL_* flags; 0 = deletes only */
} shmc_config_t;

typedef struct shmc_item_info {
    uint64_t cas;     /* changes on every write of the entry */
    uint32_t flags;   /* opaque user flags stored with the value */
    int64_t  ttl_ms;  /* ms left before expiry; -1 = never expires */
    uint8_t  stale;   /* 1 when returned by shmc_get_stale for an
                         expired/invalidated entry */
} shmc_item_info_t;

/* One live entry as shmc_iterate() hands it out. key is a process-local
 * copy, valid only during the callback. */
typedef struct shmc_entry {
    const void *key;
    size_t   klen;
    size_t   vlen;
    uint32_t flags;
    int64_t  ttl_ms;  /* -1 = never expires */
    uint64_t cas;
    uint32_t state;   /* SHMC_ENTRY_* bits */
    uint32_t ntags;   /* tags it was stored with */
} shmc_entry_t;

#define SHMC_ENTRY_FETCHED 0x1u /* read at least once since it was written */
#define SHMC_ENTRY_STALE   0x2u /* invalidated or expired: only shmc_get_stale reads it */
#define SHMC_ENTRY_LEASED  0x4u /* a lease is outstanding on the key */
#define SHMC_ENTRY_TAGGED  0x8u /* stored with tags (shmc_set_tagged) */
#define SHMC_ENTRY_NOVALUE 0x10u /* no value: a placeholder carrying a lease */
#define SHMC_ENTRY_SKIPPED 0x20u /* a slot the walk could not read (SHMC_ITER_SKIPPED):
                                    key NULL, every other field 0 */

/* Statistics, memcached's names where memcached has them. Counters are sums
 * over stripes (writes) and processes (reads) taken without a global lock:
 * each is exact, but two counters may be a few operations apart. */
typedef struct shmc_stats {
    /* geometry and memory */
    uint64_t capacity;          /* distinct keys the segment holds without evicting while
                                   item memory remains (shmc_config_t.capacity) */
    uint64_t limit_maxbytes;    /* bytes of item memory */
    uint64_t bytes;             /* bytes used by current items */
    uint64_t curr_items;        /* entries present (expired ones until reclaimed) */
    uint64_t total_items;       /* entries stored since creation */
    uint32_t stripes;
    uint32_t max_key_len;
    uint32_t max_value_len;
    uint32_t attached_processes;/* handles attached now (live processes) */
    uint64_t uptime_ms;         /* since creation */
    uint64_t generation;        /* number of shmc_clear() calls */
    /* reads (per-process counters, summed) */
    uint64_t cmd_get;
    uint64_t get_hits;
    uint64_t get_misses;        /* all misses, including the two below */
    uint64_t get_expired;       /* misses on an entry that had expired */
    uint64_t get_flushed;       /* misses on an entry removed by clear */
    uint64_t get_locked;        /* gets that fell back to the stripe lock */
    /* writes (per-stripe counters, summed) */
    uint64_t cmd_set;           /* set, add, replace, cas, incr stores */
    uint64_t cmd_touch;
    uint64_t touch_hits;
    uint64_t touch_misses;
    uint64_t delete_hits;
    uint64_t delete_misses;
    uint64_t incr_hits;
    uint64_t incr_misses;
    uint64_t cas_hits;
    uint64_t cas_misses;
    uint64_t cas_badval;
    uint64_t evictions;         /* live entries removed to make room */
    uint64_t reclaimed;         /* expired/cleared entries whose room was reused */
    uint64_t expired_unfetched; /* reclaimed expired entries never read */
    uint64_t evicted_unfetched; /* evicted entries never read */
    uint64_t lock_recoveries;   /* stripe locks taken over from a dead process */
    uint64_t recovered_lost;    /* entries dropped by those recoveries */
    /* invalidation strategies (see shmc_get_or_lease and friends) */
    uint64_t lease_grants;
    uint64_t lease_rejects;     /* leased sets refused as stale */
    uint64_t lease_waits;       /* callers told another process holds the lease */
    uint64_t stale_hits;        /* shmc_get_stale answered with a stale value */
    uint64_t tag_invalidations;
    uint64_t index_slots;       /* slots of the index (more than capacity: headroom) */
} shmc_stats_t;

/* Fill *cfg with the defaults. Never fails; NULL is a no-op. */
void shmc_config_init(shmc_config_t *cfg);

/*
 * Open the segment called name ("/name" or "name": 1..SHMC_NAME_MAX bytes of
 * printable ASCII, no other '/', not "." or "..").
 *
 * With SHMC_CREATE a missing segment is created from cfg (NULL: defaults):
 * it is built and checked under a private name and linked in under its real
 * name only when complete, so no process ever attaches to a half-built
 * segment, and processes racing to create the same name end up sharing one.
 * Its memory is reserved with posix_fallocate: a full /dev/shm fails here
 * with -ENOSPC rather than with SIGBUS later. An existing segment is
 * attached and its geometry taken from it; cfg then only gives the widest
 * mode accepted.
 *
 * Errors: -EINVAL (bad name, flags or geometry: a value larger than a
 * stripe's memory, stripes not a power of two, ...), -ENOENT (absent, no
 * SHMC_CREATE), -EEXIST (SHMC_EXCL and the name exists), -EBADMSG (not a
 * segment, truncated, corrupt header), -EPROTO (another layout version or
 * build), -EACCES (another user's segment without SHMC_ANY_OWNER, or a mode
 * wider than cfg->mode accepts), -ENOSPC (creating: /dev/shm has no room),
 * -ENOMEM, -EMFILE/-ENFILE, or the errno of another failing system call.
 * shmc_open_error() then holds the detail: the constraint, the numbers and
 * what to change. On failure *out is NULL and nothing was created.
 * Racing creators: any number of processes may call this with SHMC_CREATE
 * for the same new name at once; each gets a handle on the one segment
 * (built unnamed with O_TMPFILE and linked in when complete; where
 * O_TMPFILE is missing, under a private name no other creator removes
 * while it is recent).
 * Locks: none. Thread-safe. Does not wait for other processes.
 */
int shmc_open(const char *name, unsigned flags, const shmc_config_t *cfg,
              shmc_t **out);

/*
 * Why the calling thread's last shmc_open failed, in one line that names
 * the constraint, the numbers and what to change, e.g. "max value 1.00 MiB
 * does not fit a stripe of 1.00 MiB (...): raise memory or lower
 * max_value_len" (fields are named as in shmc_config_t). "" after a
 * successful shmc_open, or before any. The string is thread-local: valid
 * until the thread's next shmc_open. Never NULL, never fails.
 */
const char *shmc_open_error(void);

/* Detach and free the handle. Entries stay in the segment. NULL is a no-op.
 * No other thread may use the handle during or after the call. Never fails.
 * Locks: none. */
void shmc_close(shmc_t *c);

/* Remove the name; processes attached keep their mapping until they close.
 * Errors: -EINVAL (bad name), -ENOENT (no such segment), -EACCES (no
 * permission on /dev/shm or the object). Locks: none. Thread-safe. */
int shmc_unlink(const char *name);

/*
 * Copy the value of key into buf (cap bytes) and its length into *vlen.
 * Lock-free: a bounded number of optimistic attempts, then the stripe lock.
 * Returns 0 on a hit; -ENOENT on a miss (absent, expired, cleared,
 * invalidated); -ENOBUFS when cap < length (*vlen is set, buf may hold
 * garbage); -EINVAL (NULL c/key/vlen, buf NULL with cap > 0, empty key);
 * -E2BIG (key longer than max_key_len); -EBADMSG (the entry's slot is
 * corrupt: its lengths or offset are out of bounds; or the stripe lock is
 * of a corrupt kind); -EDEADLK (writable handle: the entry kept changing
 * and its stripe lock could not be taken); -EBUSY (meaning 1: read-only
 * handle, the entry kept changing). info may be NULL.
 * Locks: none on the common path; the key's stripe lock only after
 * a bounded number of optimistic attempts met a writer (writable handles).
 * Thread-safe; never blocks longer than the lock timeout.
 */
int shmc_get(shmc_t *c, const void *key, size_t klen, void *buf, size_t cap,
             size_t *vlen, shmc_item_info_t *info);

/*
 * Whether key has a live entry, and its metadata (cas, flags, ttl; *vlen
 * may be NULL), without copying the value: one validated read of the
 * entry's slot. 0 live, -ENOENT miss; other errors as shmc_get. Use it to
 * check that a copy made earlier (remembered by its CAS) is still current:
 * the CAS changes on every write, and a delete, clear, invalidation or tag
 * invalidation makes this miss. Counts as a get in the statistics.
 * Locks and errors as shmc_get, without -ENOBUFS.
 */
int shmc_peek(shmc_t *c, const void *key, size_t klen, size_t *vlen, shmc_item_info_t *info);

/*
 * Store val under key. ttl_ms: 0 = never expires. flags are kept opaque.
 * Makes room by evicting the coldest entries of the key's probe set and of
 * its stripe's item memory. On return every process sees the new value.
 * Errors: -EINVAL (NULL c or key, empty key, val NULL with vlen > 0),
 * -E2BIG (key over max_key_len or value over max_value_len), -EROFS,
 * -EDEADLK, -EBADMSG (corrupt stripe lock), -ENOSPC (cannot happen with a
 * consistent segment). On error nothing is stored.
 * Locks: the key's stripe lock. Thread-safe.
 */
int shmc_set(shmc_t *c, const void *key, size_t klen, const void *val,
             size_t vlen, uint64_t ttl_ms, uint32_t flags);

/* As shmc_set, only when no live entry exists; else -EEXIST. Other errors
 * and locks as shmc_set. */
int shmc_add(shmc_t *c, const void *key, size_t klen, const void *val,
             size_t vlen, uint64_t ttl_ms, uint32_t flags);

/* As shmc_set, only when a live entry exists; else -ENOENT. Other errors
 * and locks as shmc_set. */
int shmc_replace(shmc_t *c, const void *key, size_t klen, const void *val,
                 size_t vlen, uint64_t ttl_ms, uint32_t flags);

/* As shmc_set, only when the live entry's CAS is cas: -ENOENT when it is
 * gone, -ESTALE when it changed since it was read. Other errors and locks
 * as shmc_set. */
int shmc_cas(shmc_t *c, const void *key, size_t klen, const void *val,
             size_t vlen, uint64_t ttl_ms, uint32_t flags, uint64_t cas);

/*
 * Add delta to the unsigned 64-bit decimal number stored under key
 * (memcached semantics: wraps on increment, floors at 0 on decrement; the
 * entry keeps its flags and expiry). When the key is missing: -ENOENT if
 * initial is NULL, else the entry is created holding *initial (delta not
 * applied) with ttl_ms and flags 0. *result (may be NULL) gets the value now
 * stored.
 * Errors: -ENOENT (missing, initial NULL); -EINVAL (NULL c or key, empty
 * key, or the stored value is not a number of at most 20 digits or does
 * not fit in 64 bits: the entry is left as it was); -E2BIG (key over
 * max_key_len, or max_value_len is under the 20 bytes a result may need);
 * -EBADMSG (the stored entry is corrupt, or a corrupt stripe lock); -EROFS;
 * -EDEADLK. Locks: the key's stripe lock. Thread-safe.
 */
int shmc_incr(shmc_t *c, const void *key, size_t klen, int64_t delta,
              const uint64_t *initial, uint64_t ttl_ms, uint64_t *result);

/* Give a live entry a new ttl (0 = never expires). Errors: -ENOENT when
 * missing; -EINVAL (NULL c or key, empty key); -E2BIG (key over
 * max_key_len); -EROFS; -EDEADLK; -EBADMSG (corrupt stripe lock).
 * Locks: the key's stripe lock. Thread-safe. */
int shmc_touch(shmc_t *c, const void *key, size_t klen, uint64_t ttl_ms);

/* Remove key. 0 when an entry was removed, -ENOENT when there was none
 * (harmless). After it returns no process gets the old value. Errors also:
 * -EINVAL (NULL c or key, empty key); -E2BIG (key over max_key_len);
 * -EROFS; -EDEADLK; -EBADMSG (corrupt stripe lock). Locks: the key's
 * stripe lock. Thread-safe. */
int shmc_delete(shmc_t *c, const void *key, size_t klen);

/* Invalidate every entry at once, in O(1), for all processes: one atomic
 * increment of the segment's generation. Memory is reclaimed lazily.
 * Errors: -EINVAL (NULL c), -EROFS. No -EDEADLK: it takes no lock, so a
 * stuck or corrupt stripe cannot stop it. Locks: none. Thread-safe. */
int shmc_clear(shmc_t *c);

/* Reclaim the slots and memory of expired and cleared entries, one stripe at
 * a time. Returns how many entries were reclaimed, or a negative error:
 * -EINVAL (NULL c), -EROFS, -EDEADLK or -EBADMSG (a stripe's lock: the
 * stripes before it were reclaimed). Locks: each stripe's lock in turn,
 * never two at once. Thread-safe. */
int64_t shmc_flush_expired(shmc_t *c);

/* Fill *st. Thread-safe, takes no stripe lock, works on read-only handles.
 * On a writable handle it also folds the statistics rows of processes that
 * died into the totals (a few fcntl calls the first time it meets them).
 * Errors: -EINVAL (NULL c or st). Locks: none. */
int shmc_stats(shmc_t *c, shmc_stats_t *st);

/*
 * Call fn for every live entry, as a consistent copy of its metadata (one
 * stripe's slots at a time; entries written during the walk may or may not
 * be seen). fn returning non-zero stops the walk and that value is returned.
 * fn may call other shmc_* functions on the same handle.
 * Slots that cannot be read are left out silently here: a corrupt slot,
 * or (read-only handle) one a writer kept busy; use shmc_iterate_ex with
 * SHMC_ITER_SKIPPED to count them.
 * Errors: -EINVAL (NULL c or fn), -ENOMEM, and on a writable handle
 * -EDEADLK or -EBADMSG when a slot kept busy needed its stripe lock and the
 * lock could not be taken (the walk stops there).
 * Locks: none normally; a stripe's lock only to read a slot that a writer
 * kept busy (writable handles). Thread-safe.
 */
int shmc_iterate(shmc_t *c, int (*fn)(const shmc_entry_t *e, void *arg),
                 void *arg);

/* Flags of shmc_iterate_ex(). */
#define SHMC_ITER_STALE   0x1u /* also visit stale entries and lease placeholders */
#define SHMC_ITER_SKIPPED 0x2u /* also call fn once per slot that could not be read
                                  (state SHMC_ENTRY_SKIPPED), and go on past a
                                  stripe whose lock cannot be taken */

/* As shmc_iterate; with SHMC_ITER_STALE also entries that only
 * shmc_get_stale can read (state SHMC_ENTRY_STALE) and placeholders that
 * carry a lease (SHMC_ENTRY_NOVALUE). With SHMC_ITER_SKIPPED fn is also
 * called once for each slot that could not be read (state
 * SHMC_ENTRY_SKIPPED, key NULL), and a stripe lock that cannot be taken
 * skips that slot instead of ending the walk (so no -EDEADLK/-EBADMSG).
 * For tools and monitoring. Errors: -EINVAL (also unknown flags), else as
 * shmc_iterate. Locks as shmc_iterate. */
int shmc_iterate_ex(shmc_t *c, unsigned flags, int (*fn)(const shmc_entry_t *e, void *arg),
                    void *arg);

/* ---- Invalidation strategies beyond delete --------------------------------
 *
 * Plain cache-aside (get, miss, read the database, set; update the database,
 * delete) has two races: a slow worker can set a value it read before an
 * update whose delete already ran (a stale set that lives until its TTL),
 * and many workers can recompute one hot key at once (a stampede). Leases
 * close both; invalidate keeps the old value for stale-while-revalidate;
 * tags invalidate groups of entries at once. See docs/INVALIDATION.md.
 */

#define SHMC_LEASE_DEFAULT_MS 10000u /* lease_ms 0 means this */
#define SHMC_TAG_MAX_LEN      250u   /* bytes of a tag name */

/*
 * As shmc_get; on a miss, hand out a lease on the key. Returns 0 on a hit
 * (*lease = 0). On a miss: -ENOENT with *lease != 0 when this caller alone
 * should recompute the value and store it with shmc_set_leased; -EBUSY when
 * another caller holds an unexpired lease (wait and retry, see
 * shmc_get_or_wait, or serve shmc_get_stale). A lease lasts lease_ms (0:
 * SHMC_LEASE_DEFAULT_MS; more than 2^32 ms is -EINVAL), so a holder that
 * dies blocks the key for at most that long. -EBUSY here is meaning 2
 * (another caller's lease); meaning 1 only on a read-only handle, which
 * gets -EROFS on a miss (handing out a lease is a write).
 * Other errors as shmc_get, plus -EINVAL
 * (NULL lease, lease_ms over 2^32). Locks: the key's stripe lock on a miss
 * (and as shmc_get). Thread-safe.
 */
int shmc_get_or_lease(shmc_t *c, const void *key, size_t klen, void *buf, size_t cap,
                      size_t *vlen, shmc_item_info_t *info, uint64_t lease_ms, uint64_t *lease);

/*
 * shmc_get_or_lease, polling with backoff (50 us doubling up to 5 ms) while
 * another caller holds the lease, for at most wait_ms. Returns 0 (hit),
 * -ENOENT with *lease (recompute), or -EBUSY (meaning 2) when wait_ms ran
 * out; other errors and locks as shmc_get_or_lease.
 * Blocks the calling thread for up to wait_ms (plus one lock bound).
 */
int shmc_get_or_wait(shmc_t *c, const void *key, size_t klen, void *buf, size_t cap,
                     size_t *vlen, shmc_item_info_t *info, uint64_t lease_ms, uint64_t wait_ms,
                     uint64_t *lease);

/*
 * Store a value computed under lease. Refused with -ESTALE (and nothing
 * stored) when, since the lease was handed out, the key was deleted,
 * invalidated, set by someone else, cleared, tag-invalidated (a tag of its
 * previous value), or the lease was taken over after it expired: the value
 * was computed from data that may be stale. A lease is bound to its key and
 * spent by the set it allows, or by the refusal (the next miss is handed a
 * fresh lease). -EINVAL when lease is 0. Other errors and locks as
 * shmc_set.
 */
int shmc_set_leased(shmc_t *c, const void *key, size_t klen, const void *val, size_t vlen,
                    uint64_t ttl_ms, uint32_t flags, uint64_t lease);

/* As shmc_set_leased, storing the value under tags (as shmc_set_tagged);
 * also -ESTALE when one of these tags was invalidated after the lease was
 * handed out. Errors and locks as shmc_set_leased and shmc_set_tagged. */
int shmc_set_leased_tagged(shmc_t *c, const void *key, size_t klen, const void *val,
                           size_t vlen, uint64_t ttl_ms, uint32_t flags,
                           const char *const *tags, size_t ntags, uint64_t lease);

/*
 * Like shmc_delete for shmc_get (it misses from now on, in every process)
 * and for leases (they die: a pending shmc_set_leased gets -ESTALE), but the
 * old value stays readable through shmc_get_stale until it is rewritten or
 * evicted: stale-while-revalidate. 0 when a live entry was invalidated,
 * -ENOENT when there was none (its lease, if any, still dies). Errors also
 * as shmc_delete. Locks: the key's stripe lock. Thread-safe.
 */
int shmc_invalidate(shmc_t *c, const void *key, size_t klen);

/*
 * As shmc_get, but also returns a value that is invalid only because it
 * was invalidated (shmc_invalidate, shmc_invalidate_tag) or expired, with
 * info->stale = 1 (info may be NULL). A cleared (shmc_clear) or deleted
 * entry is gone. Counted as stale_hits when stale; a stale answer has
 * info->ttl_ms = 0 (the value is invalid now). Errors and locks as
 * shmc_get.
 */
int shmc_get_stale(shmc_t *c, const void *key, size_t klen, void *buf, size_t cap,
                   size_t *vlen, shmc_item_info_t *info);

/*
 * As shmc_set, storing the entry under up to SHMC_TAGS_MAX (4) tags
 * (non-empty strings of at most SHMC_TAG_MAX_LEN bytes, e.g. "product:123").
 * -EINVAL for NULL/empty/long tags or ntags over 4. Other errors and locks
 * as shmc_set.
 */
int shmc_set_tagged(shmc_t *c, const void *key, size_t klen, const void *val, size_t vlen,
                    uint64_t ttl_ms, uint32_t flags, const char *const *tags, size_t ntags);

/*
 * As shmc_add (store only if no live entry has the key: -EEXIST otherwise,
 * and nothing changes), storing the entry under tags as shmc_set_tagged.
 * An entry whose tag was invalidated is not live, so add replaces it.
 * Errors, locks and thread-safety as shmc_set_tagged.
 */
int shmc_add_tagged(shmc_t *c, const void *key, size_t klen, const void *val, size_t vlen,
                    uint64_t ttl_ms, uint32_t flags, const char *const *tags, size_t ntags);

/*
 * Every entry stored under tag by a set that returned before this call
 * began misses once it returns, in every process, in O(1): no scan, no
 * lock. (A set concurrent with the call may land before or after it.) Such entries stay
 * readable through shmc_get_stale. Tags are kept in a table of 16384 words
 * by hash, so two tags may share a word: invalidating one then also
 * invalidates the other's entries (never the reverse: no entry is ever
 * served after its tag was invalidated). Errors: -EINVAL (NULL c, bad
 * tag), -EROFS. No -EDEADLK. Locks: none. Thread-safe.
 */
int shmc_invalidate_tag(shmc_t *c, const char *tag);

#define SHMC_TAGS_MAX 4u

/* Text for a value returned by any shmc_* function (negative or positive
 * errno): the library's own wording for its codes, the system's text
 * (strerror) for errnos it passes through, "unknown error" otherwise.
 * Never NULL; the string is static. Thread-safe. */
const char *shmc_strerror(int err);

/* ---- Inspection (for shmcache-tool and monitoring) --------------------- */

typedef struct shmc_info {
    uint32_t layout_version;
    uint32_t slots_per_bucket;
    uint64_t buckets;
    uint64_t capacity;
    uint64_t memory;            /* item memory */
    uint64_t segment_size;      /* bytes of the whole object */
    uint32_t stripes;
    uint32_t max_key_len;
    uint32_t max_value_len;
    uint32_t mode;
    uint32_t owner_uid;
    uint32_t proc_slots;        /* rows of the process table */
    uint64_t created_unix_ms;   /* wall clock at creation */
    uint64_t used_slots;        /* occupied index slots (live or not yet reclaimed) */
    uint64_t index_slots;       /* buckets * slots_per_bucket: capacity plus headroom */
    uint32_t hugepages;         /* 1 when this process's mapping is backed by huge pages
                                   (see README: /dev/shm mounted huge=within_size or advise) */
    uint32_t pad0;
} shmc_info_t;

/* Geometry and fill of the segment (used_slots counts occupied slots
 * without reading them, so a corrupt slot still counts). Errors: -EINVAL
 * (NULL c or info). Locks: none. Thread-safe. */
int shmc_info(shmc_t *c, shmc_info_t *info);

typedef struct shmc_proc_info {
    uint32_t pid;
    uint8_t  alive;          /* the kernel still holds the process's lock */
    uint8_t  self;           /* this process */
    uint32_t rows;           /* rows (threads) it used */
    uint64_t cmd_get;
    uint64_t get_hits;
    uint64_t get_misses;
} shmc_proc_info_t;

/* Call fn for each process that has a row in the process table (alive, or
 * dead and not yet folded into the totals). Liveness comes from an
 * open-file-description lock the kernel drops when the process dies, not
 * from the pid. fn returning non-zero stops the walk and that value is
 * returned. On a writable handle, rows of dead processes met are folded
 * into the totals afterwards. Errors: -EINVAL (NULL c or fn), -ENOMEM.
 * Locks: no stripe lock (the handle's own mutex). Thread-safe. */
int shmc_procs(shmc_t *c, int (*fn)(const shmc_proc_info_t *p, void *arg),
               void *arg);

/* Verify the whole structure (header, every slot, every item reference,
 * every stripe's item log, counters) without changing anything; each stripe
 * is checked under its lock on a writable handle. fn (may be NULL) is called
 * with one line of text per problem. Returns the number of problems found
 * (a stripe whose lock cannot be taken is one problem: "lock not
 * obtained"), or -EINVAL (NULL c), -ENOMEM.
 * Locks: each stripe's lock in turn on a writable handle (a suspect stripe
 * fails at once, see CAVEATS), none on a read-only one. Thread-safe. */
int64_t shmc_check(shmc_t *c, void (*fn)(const char *problem, void *arg),
                   void *arg);

/* Flags of shmc_repair(). */
#define SHMC_REPAIR_FORCE 0x1u /* repair even while other processes are attached */

/*
 * Rebuild the lock of every stripe whose lock cannot be taken - of a
 * corrupt kind, failing at once, or held through a whole
 * SHMC_LOCK_CENSUS_MS window by an owner that cannot be shown dead - and
 * drop that stripe's entries (through their seqlocks: readers never see a
 * half-dropped entry). Other stripes are not touched. fn (may be NULL) gets
 * one line per stripe repaired. Returns the number of stripes repaired.
 * Re-initialising a lock that another process holds or waits on is
 * undefined, so without SHMC_REPAIR_FORCE this refuses with -EBUSY while
 * any other process is attached (a live row of the process table); with
 * it, the caller asserts that those processes are stuck or gone.
 * Takes each stripe's lock with trylock only; waits at most
 * SHMC_LOCK_CENSUS_MS in all. Errors: -EINVAL (NULL c, unknown flags),
 * -EROFS (read-only handle), -EBUSY (others attached, no FORCE), -ENOMEM.
 * Thread-safe, but meant for an operator's tool (shmcache-tool check
 * --repair), not for workers.
 */
int64_t shmc_repair(shmc_t *c, unsigned flags, void (*fn)(const char *line, void *arg),
                    void *arg);

/* Whether the object at path (e.g. "/dev/shm/x") begins with a shmcache
 * header; fills *info from the header alone when it does. 1 yes, 0 no,
 * negative errno when it cannot be read (-EINVAL for NULL path, else the
 * open's errno: -ENOENT, -EACCES, ...). Does not attach. Used by
 * `shmcache-tool list`. Locks: none. */
int shmc_probe(const char *path, shmc_info_t *info);

/* ---- Near cache (per-process, liburcu) ---------------------------------
 *
 * Copying a value out of the segment is the whole cost of a get for large
 * values. The near cache lets the threads of one process share one local
 * copy of a hot value instead, handed out as a zero-copy view. A view is
 * never trusted blindly: every shmc_get_view starts with one validated
 * read of the key's slot, a shmc_get into a SHMC_NEAR_COPY_MAX-byte
 * buffer. A value that fits is copied by that read and is the view. For a
 * larger one the read copies nothing (-ENOBUFS) but reports the live
 * entry's CAS: the local copy is used only when its CAS is the same (same
 * write, same bytes), and is refreshed from the segment when the entry
 * changed, dropped when it is gone. So:
 *
 *   - a view shows exactly the bytes of one value that some set stored
 *     whole for that key (never a mix, never another key's);
 *   - once a delete, set, invalidate, clear or tag invalidation of the key
 *     has returned in any process, no view obtained afterwards shows the
 *     old value (a view obtained before keeps showing the bytes it was
 *     validated against: it is a snapshot, like a buffer filled by
 *     shmc_get);
 *   - expiry is re-checked on every call as well.
 *
 * Local copies live in a liburcu lock-free hash table (cds_lfht, memb
 * flavor) in the process's own memory; nothing of it is in the segment.
 * Replaced and evicted copies are freed after an RCU grace period and after
 * their last view is released.
 *
 * Threads: every function below is thread-safe. A thread that calls
 * shmc_get_view is registered with liburcu (urcu_memb_register_thread) on
 * its first call and unregistered automatically when it exits (pthread key
 * destructor). Do not register such a thread with liburcu-memb yourself as
 * well. A view may be released by any thread.
 *
 * fork(): handled by pthread_atfork handlers installed by the first
 * shmc_near_enable: fork() waits until no thread is inside a near-cache
 * call (which is short: a view is not a read-side critical section),
 * pauses liburcu's call_rcu worker across it, and the child gets a working
 * one. The child may go on using the handle, its near
 * cache and views it inherited (their bytes are its own copy). fork() from
 * a signal handler that interrupted a near-cache call is not supported.
 *
 * Cost: a view of a value larger than SHMC_NEAR_COPY_MAX costs a get
 * without the value copy (the validating read) plus a local hash lookup and
 * two atomic reference-count updates, whatever the value's size: many times
 * faster than shmc_get for large values. A smaller value is copied as by
 * shmc_get (see examples/near_bench.c for both). The segment's statistics
 * count each validating read as one get.
 */

/* Values of at most this many bytes are not shared: each view of one gets
 * a private copy made by the validating read itself (cheaper than a shared
 * copy's bookkeeping at that size; no RCU involved). Larger values are
 * shared through the cache. */
#define SHMC_NEAR_COPY_MAX 512u

/* A zero-copy view of a value. Fields are read-only; ref_ is private. */
typedef struct shmc_view {
    const void *data;  /* len bytes, aligned to 16; valid until released */
    size_t   len;
    uint32_t flags;    /* the flags stored with the value */
    uint64_t cas;      /* the CAS of the write the bytes belong to */
    void    *ref_;     /* the local copy this view holds (private) */
} shmc_view_t;

/* Statistics of one handle's near cache (process-local). */
typedef struct shmc_near_stats {
    uint64_t near_hits;   /* views served from a local copy that was still valid */
    uint64_t refreshes;   /* views that (re)copied the value from the segment */
    uint64_t misses;      /* shmc_get_view calls that returned -ENOENT */
    uint64_t copies;      /* views given a private copy: values of at most
                             SHMC_NEAR_COPY_MAX bytes, and larger ones not kept
                             (over max_bytes/4, or older than the copy kept) */
    uint64_t evictions;   /* local copies dropped to stay within max_bytes */
    uint64_t bytes;       /* bytes of the local copies kept now (with headers) */
    uint64_t entries;     /* local copies kept now */
    uint64_t max_bytes;   /* the bound set by shmc_near_enable */
} shmc_near_stats_t;

/*
 * Turn on the near cache of handle c, keeping at most max_bytes of local
 * copies (keys, values and ~100 bytes of header each; a value larger than
 * max_bytes/4 is never kept: its views get a private copy). Cold copies are
 * evicted (CLOCK) to stay within the bound. Copies held by views that were
 * evicted or replaced are not counted: they belong to their views.
 * The first call must happen before other threads use c's near cache (for
 * example right after shmc_open); later calls change the bound at any time,
 * evicting at once when it shrinks. Also installs the fork handlers (see
 * above) once per process.
 * Errors: -EINVAL (NULL c, max_bytes 0), -ENOMEM.
 */
int shmc_near_enable(shmc_t *c, size_t max_bytes);

/*
 * Look key up and give a view of its current value in *view: view->data
 * points to len bytes that stay valid and unchanged until
 * shmc_view_release(view), whatever any process does to the entry
 * meanwhile (and even after shmc_near_disable or shmc_close). The value is
 * current as of this call (see the guarantees above). A value larger than
 * SHMC_NEAR_COPY_MAX is shared: a valid local copy is handed out without
 * copying, else the value is copied from the segment once into a new local
 * copy that later calls in every thread of the process share. A smaller
 * one is copied into a private block (recycled per thread).
 * Returns 0 with *view filled; -ENOENT on a miss (absent, expired, cleared,
 * invalidated; a local copy of the key is dropped); -ENOTSUP when the near
 * cache is not enabled on c; -EINVAL (NULL c, key or view, empty key);
 * -E2BIG (key longer than max_key_len); -ENOMEM; -EBUSY (meaning 1 as
 * shmc_get, or meaning 3: the value kept changing while it was copied);
 * -EDEADLK, -EBADMSG as shmc_get. On error *view is zeroed (releasing it is
 * a harmless no-op). Locks: as shmc_get.
 * Thread-safe and lock-free on a hit; never blocks longer than shmc_get
 * (or a concurrent fork() in another thread). The caller owns one
 * reference: release every successful view exactly once.
 */
int shmc_get_view(shmc_t *c, const void *key, size_t klen, shmc_view_t *view);

/* Give back a view from shmc_get_view; its data may be freed from then on.
 * Any thread may release any view. Zeroes *view; NULL or a zeroed view is a
 * no-op. Never fails, never blocks. */
void shmc_view_release(shmc_view_t *view);

/*
 * Drop c's near cache and free its memory (waits for an RCU grace period
 * and for pending frees). Views still held stay valid and are freed by
 * their release. shmc_close does this too. No other thread may use c's near
 * cache during the call. shmc_get_view returns -ENOTSUP afterwards until
 * shmc_near_enable. 0, also when it was not enabled; -EINVAL (NULL c).
 */
int shmc_near_disable(shmc_t *c);

/* Fill *st with c's near-cache statistics. Thread-safe, lock-free; counters
 * are exact but may be a few operations apart. -EINVAL, -ENOTSUP (not
 * enabled). */
int shmc_near_stats(shmc_t *c, shmc_near_stats_t *st);

/* ---- Invalidation journal (across hosts, docs/RELAY.md) ----------------
 *
 * A segment created with cfg.journal_bytes > 0 keeps a bounded ring of the
 * invalidations made in it: every shmc_delete, shmc_invalidate,
 * shmc_invalidate_tag and shmc_clear appends one record (and, with
 * SHMC_JOURNAL_WRITES, every store: set, add, replace, cas, incr, leased
 * and tagged sets), whether or not the key was present. The record is
 * appended before the change is made, so a call that returned is always in
 * the journal. Gets never touch the journal. shmcache-relay reads it and
 * carries the records to other hosts through a Redis Stream; it applies
 * the other hosts' records with shmc_journal_apply, which does not journal
 * them again. When the ring is full the oldest records are overwritten; a
 * reader that falls behind learns it from the sequence numbers
 * (-EOVERFLOW) and must assume it missed anything (the relay then makes the
 * other hosts clear). Sequence numbers start at 1 and grow by one per
 * record for the segment's life.
 */
#define SHMC_JOURNAL_MIN     (64u * 1024u)
#define SHMC_JOURNAL_MAX     (1ull << 32)
#define SHMC_JOURNAL_WRITES  0x1u /* flag: journal stores too (write-invalidate) */

/* Kinds of records. */
#define SHMC_JOURNAL_DELETE     1u /* data = key */
#define SHMC_JOURNAL_INVALIDATE 2u /* data = key */
#define SHMC_JOURNAL_TAG        3u /* data = tag name */
#define SHMC_JOURNAL_CLEAR      4u /* no data */
#define SHMC_JOURNAL_SET        5u /* data = key; a store (SHMC_JOURNAL_WRITES):
                                      other hosts drop their copy */

typedef struct shmc_journal_rec {
    uint64_t    seq;      /* this record's number */
    uint64_t    unix_ms;  /* wall clock when it was appended */
    uint32_t    kind;     /* SHMC_JOURNAL_* kind */
    uint32_t    origin;   /* 0: made by a local process */
    const void *data;     /* key or tag bytes; valid during the callback only */
    size_t      len;
} shmc_journal_rec_t;

typedef struct shmc_journal_info {
    uint64_t bytes;       /* size of the ring */
    uint32_t flags;       /* SHMC_JOURNAL_* flags given at creation */
    uint32_t relay_running; /* 1 while a process holds shmc_relay_claim */
    uint64_t head_seq;    /* number the next record will get */
    uint64_t tail_seq;    /* oldest record still in the ring (== head_seq: empty) */
    uint64_t used_bytes;  /* bytes the retained records occupy */
    uint64_t recoveries;  /* appenders that died mid-append (records dropped) */
    uint64_t dropped;     /* records not appended (journal lock unavailable);
                             any increase means a reader must assume loss */
} shmc_journal_info_t;

/*
 * Call fn for the records numbered from_seq on, in order, at most max of
 * them (0 = no limit), until fn returns non-zero (that record counts as
 * delivered) or the records appended so far run out. Lock-free: it never
 * blocks or slows an appender; each record is copied out and validated
 * before fn sees it, so fn only ever sees whole records.
 * Returns the number of records delivered (0: none after from_seq yet).
 * -EOVERFLOW: record from_seq was already overwritten (or dropped by a
 * recovery): the reader fell behind and must assume it missed anything;
 * records before the failure were delivered (the next call reports it).
 * -EINVAL: NULL c or fn, from_seq 0 or beyond the next number.
 * -ENOTSUP: the segment has no journal. -EBADMSG: corrupt ring.
 * -ENOMEM. Thread-safe; fn may not call shmc_journal_read on c.
 */
int64_t shmc_journal_read(shmc_t *c, uint64_t from_seq, size_t max,
                          int (*fn)(const shmc_journal_rec_t *rec, void *arg), void *arg);

/*
 * Sleep until record `seq` exists (the journal's head passed it) or
 * timeout_ms elapsed, whichever is first; appenders wake the sleeper (a
 * futex in the segment), so a reader needs no polling. 0 when the record
 * exists (at once if it already did); -ETIMEDOUT; -EINVAL; -ENOTSUP.
 * Thread-safe; a signal may end the wait early (then it returns what the
 * head says at that moment).
 */
int shmc_journal_wait(shmc_t *c, uint64_t seq, uint64_t timeout_ms);

/* Fill *info. Lock-free. 0; -EINVAL (NULL); -ENOTSUP (no journal). */
int shmc_journal_info(shmc_t *c, shmc_journal_info_t *info);

/*
 * Apply a record that came from another host, without journalling it
 * again: SHMC_JOURNAL_DELETE and SHMC_JOURNAL_SET delete the key,
 * SHMC_JOURNAL_INVALIDATE invalidates it, SHMC_JOURNAL_TAG invalidates the
 * tag, SHMC_JOURNAL_CLEAR clears the segment (data ignored). Idempotent:
 * a key that is absent is not an error. Works on any writable handle,
 * journal or not. Returns 0; -EINVAL (bad kind, NULL c, bad key or tag),
 * -E2BIG, -EROFS, -EDEADLK as the call it performs. Thread-safe.
 */
int shmc_journal_apply(shmc_t *c, uint32_t kind, const void *data, size_t len);

/* What shmcache-relay records in the segment about itself, for
 * shmcache-tool relay-status. Times are wall-clock ms, 0 = never. */
typedef struct shmc_relay_status {
    uint64_t published_seq;     /* journal records up to this one are in the stream */
    uint64_t published_unix_ms; /* when the last one was confirmed by Redis */
    uint64_t applied_id_ms;     /* stream ID <ms>-<seq> of the last remote */
    uint64_t applied_id_seq;    /*   record applied; 0-0 = none yet */
    uint64_t applied_unix_ms;   /* when it was applied */
    uint64_t applied_lag_ms;    /* its stream time to its application here */
    uint64_t applied_total;     /* remote records applied since creation */
    uint64_t published_total;   /* local records published since creation */
    uint64_t clear_unix_ms;     /* last clear the relay made or asked for */
    uint64_t clears;            /* how many */
    uint64_t heartbeat_unix_ms; /* the relay's last sign of life */
    uint32_t pid;               /* the relay's pid (0: none ever ran) */
    uint32_t connected;         /* 1 while it has a Redis connection */
    uint64_t unreachable_ms;    /* how long Redis has been unreachable (0: reachable) */
    uint64_t dropped_seen;      /* shmc_journal_info's `dropped` already handled */
    char     origin[64];        /* the relay's origin id (NUL-terminated) */
    char     clear_reason[128]; /* why it cleared last (NUL-terminated) */
} shmc_relay_status_t;

/* Read the relay status block (a consistent copy). Lock-free.
 * 0; -EINVAL; -ENOTSUP (no journal); -EBUSY (kept changing). */
int shmc_relay_status_get(shmc_t *c, shmc_relay_status_t *st);

/* Write the relay status block. Only the relay writes it: c must hold
 * shmc_relay_claim. Readers retry around the write. 0; -EINVAL; -ENOTSUP;
 * -EROFS; -EPERM (c does not hold the claim). */
int shmc_relay_status_set(shmc_t *c, const shmc_relay_status_t *st);

/*
 * Become the one relay of this segment: takes an open-file-description
 * lock that the kernel drops when c is closed or the process dies, so a
 * crashed relay never blocks its successor. 0; -EBUSY: another handle
 * (in any process) holds it; -ENOTSUP (no journal); -EROFS; -EINVAL.
 */
int shmc_relay_claim(shmc_t *c);

#ifdef __cplusplus
}
#endif
#endif /* SHMCACHE_H */
