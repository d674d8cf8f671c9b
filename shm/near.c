/*
 * near.c - the per-process near cache: zero-copy, validated views of hot
 * values, shared by the threads of one process (liburcu).
 *
 * Invariant: no view ever shows bytes of a different value than the shared
 * entry it was validated against, and once a delete, set, invalidate, clear
 * or tag invalidation of the key has returned (in any process), no view made
 * after that returns the old value.
 *
 * How it is kept:
 *
 *   - A local copy is immutable: {key, value bytes, flags, cas}, all filled
 *     from ONE shmc_get (which takes value, flags and CAS from one validated
 *     read of the slot) before the copy is published. The CAS changes on
 *     every write of the entry and is unique in the segment (a per-stripe
 *     counter tagged with the stripe), so "same CAS" means "same write",
 *     which means "same bytes".
 *   - Every shmc_get_view starts with one validated read of the key's slot
 *     (shmc_get with a SHMC_NEAR_COPY_MAX-byte buffer: it misses after
 *     delete, clear, invalidation, tag invalidation and expiry). A value
 *     that fits is copied by that read into a private block and that is the
 *     view (no table, no RCU). For a larger one the read copies nothing and
 *     reports the live entry's CAS, which must equal the local copy's (the
 *     same check as shmc_peek, without a second read). Otherwise the copy
 *     is refreshed from the segment (that read is itself the validation)
 *     or, on a miss, dropped. So a view is never older than the start of
 *     the call that made it.
 *   - Copies live in a cds_lfht (RCU lock-free hash table) keyed by the key.
 *     Lookups run inside urcu_memb_read_lock; all changes of the table (and
 *     of the CLOCK list used for eviction) are made under the cache's mutex,
 *     also inside a read-side section, so a key has at most one copy in the
 *     table and only one thread ever unlinks a given copy.
 *   - A copy's memory has a reference count: 1 for the table, 1 per view.
 *     A reader takes its view reference inside the read-side section in
 *     which it found the copy; the table's reference is dropped by a
 *     call_rcu callback, i.e. after a grace period that began after the copy
 *     was unlinked, so it cannot reach 0 while a reader that found the copy
 *     is still about to take a reference. Whoever drops the last reference
 *     frees the copy: a view stays valid until shmc_view_release, whatever
 *     happens to the table meanwhile (replace, evict, disable, close).
 *
 * Threads: urcu registration, thread exit and fork() survival are
 * urcu_thread.c's; every read-side section here is shm_urcu_enter/exit, and
 * grace periods that a fork must not split run under shm_urcu_fork_lock.
 * A thread's spare small block and counter row are handed back by this
 * file's own thread-exit key; a child of fork() keeps the table (copies are
 * plain memory, and every view is re-validated against the segment anyway)
 * and frees the counter rows of the threads that did not follow it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <urcu/urcu-memb.h>
#include <urcu/rculfhash.h>
#include <urcu/list.h>
#include <urcu/compiler.h>

#include "internal.h"
#include "urcu_thread.h"

#define NEAR_SLOTS      16u   /* counter rows; threads pick one by id */
#define NEAR_REFILL_MAX 16u   /* shmc_get attempts while a value keeps growing */
#define NEAR_HT_MIN     64ul
#define NEAR_HT_MAX     (1ul << 22)
#define NEAR_HT_BYTES   512u  /* max_bytes per bucket of the table */

struct near_copy {
    struct cds_lfht_node node;   /* in the table while in_map */
    struct rcu_head rcu;         /* retire: drops the table's reference */
    struct cds_list_head lru;    /* CLOCK list, under near->mu, while in_map */
    _Atomic uint64_t cas;        /* stored with release when published; the
                                    match function loads it with acquire */
    _Atomic uint32_t refs;       /* table (while linked or retiring) + views */
    _Atomic uint8_t  hot;        /* CLOCK reference bit */
    bool     in_map;             /* under near->mu */
    bool     small;              /* a private block of SHMC_NEAR_COPY_MAX bytes */
    uint32_t flags;
    size_t   klen, vlen, cap;
    size_t   size;               /* bytes counted against max_bytes */
    uint64_t hash;
    alignas(16) unsigned char bytes[]; /* key, pad to 16, value (cap bytes) */
};

struct near_ctr {
    alignas(64) _Atomic uint64_t hits, refreshes, misses, copies;
};

struct near {
    struct cds_lfht *ht;
    pthread_mutex_t mu;          /* changes of ht and lru; inside read sections */
    struct cds_list_head lru;    /* copies in the table, CLOCK order */
    struct cds_list_head *hand;  /* next to look at (or &lru) */
    _Atomic uint64_t max_bytes;
    _Atomic uint64_t bytes, entries, evictions; /* written under mu */
    uint64_t seed;
    unsigned long nbuckets;      /* under shm_urcu_fork_lock */
    struct near_ctr ctr[NEAR_SLOTS];
};

/* ---- per-thread state: counter row and spare block ------------------------ */

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_key;               /* its destructor: thread_gone */
static int g_init_err;
static _Atomic unsigned g_thread_seq;

static SHM_TLS unsigned tl_slot1;            /* 1 + counter row; 0: none yet */
static SHM_TLS int tl_slot_own;              /* the row is this thread's alone */
static _Atomic uint8_t g_slot_taken[NEAR_SLOTS]; /* rows owned by a live thread */
static SHM_TLS struct near_copy *tl_spare;   /* a free small block */
static SHM_TLS int tl_keyed, tl_exiting;     /* g_key set; destructor ran */

static void thread_gone(void *p)
{
    (void)p;
    tl_exiting = 1;
    if (tl_slot_own) { /* the row's counts stay; the next owner adds to them */
        atomic_store_explicit(&g_slot_taken[tl_slot1 - 1], 0, memory_order_release);
        tl_slot_own = 0;
    }
    free(tl_spare);
    tl_spare = NULL;
}

static void fork_child(void)
{
    /* Only the forking thread lives on: every other row is free again. */
    for (unsigned i = 0; i < NEAR_SLOTS; i++)
        if (!tl_slot_own || i != tl_slot1 - 1)
            atomic_store_explicit(&g_slot_taken[i], 0, memory_order_relaxed);
}

static void global_init(void)
{
    g_init_err = -shm_urcu_init();
    if (!g_init_err)
        g_init_err = pthread_key_create(&g_key, thread_gone);
    if (!g_init_err)
        g_init_err = pthread_atfork(NULL, NULL, fork_child);
}

/* Make thread_gone run when the calling thread exits. 0 or an errno. */
static int arm_thread_gone(void)
{
    if (tl_keyed)
        return 0;
    int r = pthread_setspecific(g_key, (void *)1);
    tl_keyed = !r;
    return r;
}
/* ---- copies ---------------------------------------------------------------- */

static inline size_t val_off(size_t klen) { return (klen + 15u) & ~(size_t)15u; }
static inline unsigned char *cp_val(struct near_copy *cp) { return cp->bytes + val_off(cp->klen); }

static struct near_copy *copy_alloc(const void *key, size_t klen, size_t cap)
{
    size_t size = sizeof(struct near_copy) + val_off(klen) + cap;
    struct near_copy *cp = malloc(size);
    if (!cp)
        return NULL;
    memset(cp, 0, sizeof(*cp));
    memcpy(cp->bytes, key, klen);
    cp->klen = klen;
    cp->cap = cap;
    cp->size = size;
    return cp;
}

static void copy_put(struct near_copy *cp)
{
    /* acq_rel: the last holder's accesses happen before the free. */
    if (atomic_fetch_sub_explicit(&cp->refs, 1, memory_order_acq_rel) == 1)
        free(cp);
}

static void copy_retired(struct rcu_head *head)
{
    shm_urcu_after_gp();
    copy_put(caa_container_of(head, struct near_copy, rcu));
}

struct near_key {
    const void *key;
    size_t klen;
};

static int copy_match(struct cds_lfht_node *node, const void *arg)
{
    struct near_copy *cp = caa_container_of(node, struct near_copy, node);
    const struct near_key *k = arg;
    /* Acquire: pairs with the release store that published the copy, so
     * its key and fields are seen whole. */
    (void)atomic_load_explicit(&cp->cas, memory_order_acquire);
    return cp->klen == k->klen && memcmp(cp->bytes, k->key, k->klen) == 0;
}

/* Under the read lock. */
static struct near_copy *find(struct near *n, uint64_t h, const void *key, size_t klen,
                              struct cds_lfht_iter *it)
{
    struct near_key k = {key, klen};
    cds_lfht_lookup(n->ht, (unsigned long)h, copy_match, &k, it);
    struct cds_lfht_node *node = cds_lfht_iter_get_node(it);
    return node ? caa_container_of(node, struct near_copy, node) : NULL;
}

static void account_mu(struct near *n, int64_t dbytes, int64_t dentries)
{
    atomic_store_explicit(&n->bytes, LD(&n->bytes) + (uint64_t)dbytes, memory_order_relaxed);
    atomic_store_explicit(&n->entries, LD(&n->entries) + (uint64_t)dentries, memory_order_relaxed);
}

/* Take cp off the CLOCK list, keeping the hand valid. Under mu. */
static void lru_del_mu(struct near *n, struct near_copy *cp)
{
    if (n->hand == &cp->lru)
        n->hand = cp->lru.next;
    cds_list_del(&cp->lru);
}

/* Remove cp from the table; its memory goes when the grace period has
 * passed and the last view is released. Under mu and the read lock. */
static void unlink_mu(struct near *n, struct near_copy *cp)
{
    if (!cp->in_map)
        return;
    cds_lfht_del(n->ht, &cp->node);
    lru_del_mu(n, cp);
    cp->in_map = false;
    account_mu(n, -(int64_t)cp->size, -1);
    urcu_memb_call_rcu(&cp->rcu, copy_retired);
}

/* CLOCK: evict copies whose reference bit is clear, clearing the bits it
 * passes, until the bytes fit. Bounded: after two turns of the hand every
 * bit it passed was clear, so it evicts whatever it meets. Under mu and the
 * read lock. */
static void evict_mu(struct near *n, const struct near_copy *keep)
{
    uint64_t max = atomic_load_explicit(&n->max_bytes, memory_order_relaxed);
    uint64_t budget = 2 * LD(&n->entries) + 2;
    while (LD(&n->bytes) > max && LD(&n->entries) > (keep ? 1u : 0u)) {
        if (n->hand == &n->lru)
            n->hand = n->lru.next;
        struct near_copy *cp = caa_container_of(n->hand, struct near_copy, lru);
        n->hand = cp->lru.next;
        if (cp == keep)
            continue;
        if (budget) {
            budget--;
            if (atomic_load_explicit(&cp->hot, memory_order_relaxed)) {
                atomic_store_explicit(&cp->hot, 0, memory_order_relaxed);
                continue;
            }
        }
        unlink_mu(n, cp);
        atomic_store_explicit(&n->evictions, LD(&n->evictions) + 1, memory_order_relaxed);
    }
}

/* Read key's value into a fresh copy (not yet shared). cap: first guess of
 * the value length. One shmc_get fills value, flags and CAS from one
 * validated read of the slot. */
static int refill(shmc_t *c, const void *key, size_t klen, size_t cap, struct near_copy **out)
{
    struct near_copy *cp = copy_alloc(key, klen, cap);
    if (!cp)
        return -ENOMEM;
    /* Bounded: each retry means the value grew since the previous read. */
    for (unsigned attempt = 0; attempt < NEAR_REFILL_MAX; attempt++) {
        size_t vlen = 0;
        shmc_item_info_t info;
        int r = shmc_get(c, key, klen, cp->cap ? cp_val(cp) : NULL, cp->cap, &vlen, &info);
        if (r == -ENOBUFS) {
            free(cp);
            cp = copy_alloc(key, klen, vlen);
            if (!cp)
                return -ENOMEM;
            continue;
        }
        if (r) {
            free(cp);
            return r;
        }
        cp->vlen = vlen;
        cp->flags = info.flags;
        atomic_store_explicit(&cp->cas, info.cas, memory_order_relaxed);
        *out = cp;
        return 0;
    }
    free(cp);
    return -EBUSY;
}

/* Keep a fresh copy in the table (or not) and take the view's reference on
 * what the caller is to return. Under the read lock. */
static struct near_copy *install(struct near *n, struct near_copy *cp, uint64_t h, bool *kept)
{
    *kept = true;
    struct cds_lfht_iter it;
    uint64_t cas = LD(&cp->cas);
    pthread_mutex_lock(&n->mu);
    struct near_copy *cur = find(n, h, cp->bytes, cp->klen, &it);
    if (cur && LD(&cur->cas) == cas) {
        /* Another thread installed the same write meanwhile: use it. */
        free(cp);
        atomic_fetch_add_explicit(&cur->refs, 1, memory_order_relaxed);
        pthread_mutex_unlock(&n->mu);
        return cur;
    }
    uint64_t max = atomic_load_explicit(&n->max_bytes, memory_order_relaxed);
    /* Same key, same stripe: a larger CAS is a later write. A copy that is
     * older than the table's, or too large to keep, is the caller's alone. */
    if ((cur && LD(&cur->cas) > cas) || cp->size > max / 4) {
        if (cur && LD(&cur->cas) < cas)
            unlink_mu(n, cur);
        pthread_mutex_unlock(&n->mu);
        atomic_store_explicit(&cp->refs, 1, memory_order_relaxed);
        *kept = false;
        return cp;
    }
    cp->hash = h;
    cp->in_map = true;
    atomic_store_explicit(&cp->refs, 2, memory_order_relaxed); /* table + view */
    /* Release: everything above is seen by whoever finds the copy (pairs
     * with the acquire in copy_match). */
    atomic_store_explicit(&cp->cas, cas, memory_order_release);
    if (cur) {
        cds_lfht_replace(n->ht, &it, (unsigned long)h, copy_match,
                         &(struct near_key){cp->bytes, cp->klen}, &cp->node);
        if (n->hand == &cur->lru)
            n->hand = &cp->lru;
        cds_list_replace(&cur->lru, &cp->lru);
        cur->in_map = false;
        account_mu(n, (int64_t)cp->size - (int64_t)cur->size, 0);
        urcu_memb_call_rcu(&cur->rcu, copy_retired);
    } else {
        cds_lfht_add(n->ht, (unsigned long)h, &cp->node);
        /* Behind the hand: the last place it will look. */
        cds_list_add_tail(&cp->lru, n->hand);
        account_mu(n, (int64_t)cp->size, 1);
    }
    evict_mu(n, cp);
    pthread_mutex_unlock(&n->mu);
    return cp;
}

static void fill_view(shmc_view_t *v, struct near_copy *cp)
{
    v->data = cp_val(cp);
    v->len = cp->vlen;
    v->flags = cp->flags;
    v->cas = LD(&cp->cas);
    v->ref_ = cp;
}

/* ---- public ---------------------------------------------------------------- */

/* Counter row of the calling thread. */
/* Give the thread a counter row of its own if one is free (then its
 * counters are bumped with a plain load and store: no locked instruction
 * on the view path), else share one (atomic adds). The row is handed back
 * by the thread-exit destructor, so the key is set here. */
static void claim_ctr_row(void)
{
    unsigned start = atomic_fetch_add_explicit(&g_thread_seq, 1, memory_order_relaxed) % NEAR_SLOTS;
    if (arm_thread_gone() == 0) {
        for (unsigned k = 0; k < NEAR_SLOTS; k++) {
            unsigned i = (start + k) % NEAR_SLOTS;
            uint8_t free_row = 0;
            if (atomic_compare_exchange_strong(&g_slot_taken[i], &free_row, 1)) {
                tl_slot1 = i + 1;
                tl_slot_own = 1;
                return;
            }
        }
    }
    tl_slot1 = start + 1;
}

/* Count one event in the thread's counter row. */
#define CTR_ADD(f)                                                                    \
    do {                                                                              \
        if (tl_slot_own)                                                              \
            atomic_store_explicit(&(f), atomic_load_explicit(&(f), memory_order_relaxed) + 1, \
                                  memory_order_relaxed);                              \
        else                                                                          \
            atomic_fetch_add_explicit(&(f), 1, memory_order_relaxed);                 \
    } while (0)

static inline struct near_ctr *my_ctr(struct near *n)
{
    if (unlikely(!tl_slot1))
        claim_ctr_row();
    return &n->ctr[tl_slot1 - 1];
}

/* A block for a small value: the thread's spare, or a new one. */
static struct near_copy *small_take(void)
{
    struct near_copy *cp = tl_spare;
    if (cp) {
        tl_spare = NULL;
        return cp;
    }
    cp = copy_alloc("", 0, SHMC_NEAR_COPY_MAX);
    if (cp)
        cp->small = true;
    return cp;
}

/* Keep a small block as the thread's spare (needs the key destructor to
 * free it at thread exit), else free it. */
static void small_give(struct near_copy *cp)
{
    if (!tl_spare && !tl_exiting && arm_thread_gone() == 0) {
        tl_spare = cp;
        return;
    }
    free(cp);
}

/* Drop a local copy of key, after the segment said the key is gone. */
static void drop_copy(struct near *n, const void *key, size_t klen, uint64_t h)
{
    if (!LD(&n->entries) || shm_urcu_enter())
        return;
    struct cds_lfht_iter it;
    struct near_copy *cp = find(n, h, key, klen, &it);
    if (cp) {
        pthread_mutex_lock(&n->mu);
        unlink_mu(n, cp);
        pthread_mutex_unlock(&n->mu);
    }
    shm_urcu_exit();
}

int shmc_get_view(shmc_t *c, const void *key, size_t klen, shmc_view_t *view)
{
    if (!view)
        return -EINVAL;
    memset(view, 0, sizeof(*view));
    if (!c || !key || !klen)
        return -EINVAL;
    struct near *n = c->near;
    if (!n)
        return -ENOTSUP;
    struct near_ctr *ctr = my_ctr(n);
    /* One validated read of the slot: copies a small value into a private
     * block (as cheap as shmc_get, no table, no RCU); for a larger one it
     * copies nothing but tells the live entry's CAS and length, which is
     * the validation of the local copy. */
    struct near_copy *blk = small_take();
    if (!blk)
        return -ENOMEM;
    size_t vlen = 0;
    shmc_item_info_t info;
    int r = shmc_get(c, key, klen, cp_val(blk), blk->cap, &vlen, &info);
    if (r == 0) {
        blk->vlen = vlen;
        blk->flags = info.flags;
        atomic_store_explicit(&blk->cas, info.cas, memory_order_relaxed);
        fill_view(view, blk);
        CTR_ADD(ctr->copies);
        return 0;
    }
    small_give(blk);
    if (r != -ENOBUFS) {
        if (r == -ENOENT) {
            drop_copy(n, key, klen, shm_hash(key, klen, n->seed));
            CTR_ADD(ctr->misses);
        }
        return r;
    }
    uint64_t h = shm_hash(key, klen, n->seed);
    r = shm_urcu_enter();
    if (r)
        return r;
    struct cds_lfht_iter it;
    struct near_copy *cp = find(n, h, key, klen, &it);
    if (likely(cp && info.cas == LD(&cp->cas))) {
        /* The table still holds its reference: we are inside the read
         * section in which we found the copy (see the top). */
        atomic_fetch_add_explicit(&cp->refs, 1, memory_order_relaxed);
        if (!atomic_load_explicit(&cp->hot, memory_order_relaxed))
            atomic_store_explicit(&cp->hot, 1, memory_order_relaxed);
        fill_view(view, cp);
        shm_urcu_exit();
        CTR_ADD(ctr->hits);
        return 0;
    }
    struct near_copy *fresh = NULL;
    r = refill(c, key, klen, vlen, &fresh);
    if (r) {
        if (r == -ENOENT && cp) {
            pthread_mutex_lock(&n->mu);
            unlink_mu(n, cp);
            pthread_mutex_unlock(&n->mu);
        }
        shm_urcu_exit();
        if (r == -ENOENT)
            CTR_ADD(ctr->misses);
        return r;
    }
    bool kept;
    cp = install(n, fresh, h, &kept);
    fill_view(view, cp);
    shm_urcu_exit();
    if (kept)
        CTR_ADD(ctr->refreshes);
    else
        CTR_ADD(ctr->copies);
    return 0;
}

void shmc_view_release(shmc_view_t *view)
{
    if (!view || !view->ref_)
        return;
    struct near_copy *cp = view->ref_;
    if (cp->small)
        small_give(cp); /* private: no count, no grace period */
    else
        copy_put(cp);
    memset(view, 0, sizeof(*view));
}

/* Buckets of the table for a bound: one per NEAR_HT_BYTES, a power of two.
 * The table is not created with CDS_LFHT_AUTO_RESIZE: with liburcu 0.13 its
 * resize worker's fork handlers (run by call_rcu_before_fork and friends)
 * leave a child whose synchronize_rcu crashes. It is sized from max_bytes
 * instead, and resized in the caller when the bound grows. */
static unsigned long buckets_for(size_t max_bytes)
{
    unsigned long want = (unsigned long)(max_bytes / NEAR_HT_BYTES), b = NEAR_HT_MIN;
    while (b < want && b < NEAR_HT_MAX)
        b <<= 1;
    return b;
}

int shmc_near_enable(shmc_t *c, size_t max_bytes)
{
    if (!c || max_bytes == 0)
        return -EINVAL;
    pthread_once(&g_once, global_init);
    if (g_init_err)
        return -g_init_err;
    struct near *n = c->near;
    if (n) {
        /* Change the bound: grow the table, or evict at once. */
        int r = shm_urcu_register();
        if (r)
            return r;
        unsigned long nb = buckets_for(max_bytes);
        shm_urcu_fork_lock(); /* resize waits for grace periods */
        if (nb > n->nbuckets) {
            cds_lfht_resize(n->ht, nb);
            n->nbuckets = nb;
        }
        shm_urcu_fork_unlock();
        atomic_store_explicit(&n->max_bytes, (uint64_t)max_bytes, memory_order_relaxed);
        r = shm_urcu_enter();
        if (r)
            return r;
        pthread_mutex_lock(&n->mu);
        evict_mu(n, NULL);
        pthread_mutex_unlock(&n->mu);
        shm_urcu_exit();
        return 0;
    }
    n = aligned_alloc(64, (sizeof(*n) + 63) & ~(size_t)63);
    if (!n)
        return -ENOMEM;
    memset(n, 0, sizeof(*n));
    int r = pthread_mutex_init(&n->mu, NULL);
    if (r) {
        free(n);
        return -r;
    }
    n->nbuckets = buckets_for(max_bytes);
    n->ht = cds_lfht_new_flavor(n->nbuckets, NEAR_HT_MIN, 0, 0, &urcu_memb_flavor, NULL);
    if (!n->ht) {
        pthread_mutex_destroy(&n->mu);
        free(n);
        return -ENOMEM;
    }
    CDS_INIT_LIST_HEAD(&n->lru);
    n->hand = &n->lru;
    n->seed = c->seed ^ 0x6e6561722d636163ull; /* "near-cac" */
    atomic_store_explicit(&n->max_bytes, (uint64_t)max_bytes, memory_order_relaxed);
    c->near = n;
    return 0;
}

int shmc_near_disable(shmc_t *c)
{
    if (!c)
        return -EINVAL;
    struct near *n = c->near;
    if (!n)
        return 0;
    int r = shm_urcu_register(); /* the table and call_rcu want a registered thread */
    if (r)
        return r;
    c->near = NULL;
    /* Held throughout so that no fork() copies us inside synchronize_rcu or
     * rcu_barrier (liburcu's locks would stay held in the child). */
    shm_urcu_fork_lock();
    struct cds_list_head gone;
    CDS_INIT_LIST_HEAD(&gone);
    urcu_memb_read_lock();
    pthread_mutex_lock(&n->mu);
    struct cds_list_head *pos, *next;
    cds_list_for_each_safe(pos, next, &n->lru) {
        struct near_copy *cp = caa_container_of(pos, struct near_copy, lru);
        cds_lfht_del(n->ht, &cp->node);
        cp->in_map = false;
        cds_list_del(pos);
        cds_list_add(pos, &gone);
    }
    pthread_mutex_unlock(&n->mu);
    shm_urcu_exit();
    urcu_memb_synchronize_rcu();
    cds_list_for_each_safe(pos, next, &gone) {
        copy_put(caa_container_of(pos, struct near_copy, lru));
    }
    shm_urcu_after_gp();
    (void)cds_lfht_destroy(n->ht, NULL);
    /* Copies retired earlier are freed now (or by their last view). */
    urcu_memb_barrier();
    shm_urcu_fork_unlock();
    pthread_mutex_destroy(&n->mu);
    free(n);
    return 0;
}

void shm_near_close(shmc_t *c)
{
    (void)shmc_near_disable(c);
}

int shmc_near_stats(shmc_t *c, shmc_near_stats_t *st)
{
    if (!c || !st)
        return -EINVAL;
    memset(st, 0, sizeof(*st));
    struct near *n = c->near;
    if (!n)
        return -ENOTSUP;
    for (unsigned i = 0; i < NEAR_SLOTS; i++) {
        st->near_hits += atomic_load_explicit(&n->ctr[i].hits, memory_order_relaxed);
        st->refreshes += atomic_load_explicit(&n->ctr[i].refreshes, memory_order_relaxed);
        st->misses += atomic_load_explicit(&n->ctr[i].misses, memory_order_relaxed);
        st->copies += atomic_load_explicit(&n->ctr[i].copies, memory_order_relaxed);
    }
    st->evictions = atomic_load_explicit(&n->evictions, memory_order_relaxed);
    st->bytes = atomic_load_explicit(&n->bytes, memory_order_relaxed);
    st->entries = atomic_load_explicit(&n->entries, memory_order_relaxed);
    st->max_bytes = atomic_load_explicit(&n->max_bytes, memory_order_relaxed);
    return 0;
}
