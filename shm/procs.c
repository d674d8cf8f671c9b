/*
 * procs.c - the process table: where reads are counted without sharing.
 *
 * Invariant: a get hit writes no counter that another thread or process
 * writes. Each thread of each attached handle owns a row of the segment's
 * process table and bumps its counters with plain (relaxed load + store)
 * updates; shmc_stats sums the rows.
 *
 * Ownership of a row is an open-file-description lock (F_OFD_SETLK) on the
 * row's first byte of the segment file, taken through the handle's own file
 * description. The kernel drops it when the process dies, so "is the owner
 * alive?" is answered by the kernel (F_OFD_GETLK), never by guessing from a
 * pid (pid reuse, pid namespaces). Whoever next claims a dead process's row
 * folds its counters into the header's retired totals first.
 *
 * Threads find their row through a thread-local cache; a thread that exits
 * parks its row with the handle for the next thread. After fork() the child
 * shares the parent's file description (and so its locks), so on its first
 * call it opens a new description of the same object through
 * /proc/self/fd and claims rows of its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"

struct tl_set {
    uint32_t n, cap;
    struct tl_ent *e;
};

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static shmc_t **g_handles;
static size_t g_nhandles, g_caphandles;
_Atomic uint64_t shm_fork_gen;
#define g_fork_gen shm_fork_gen
static pthread_key_t g_key;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_key_ok;

__thread struct tl_ent shm_tl_last __attribute__((tls_model("initial-exec")));
#define tl_last shm_tl_last

#define HMU(c) ((pthread_mutex_t *)(c)->mu)

static void fold_row(shmc_t *c, struct shm_proc *r)
{
#define FOLD(f) atomic_fetch_add_explicit(&c->hdr->retired.f, LD(&r->f), memory_order_relaxed), ST(&r->f, 0);
    SHMC_ROW_COUNTERS(FOLD)
#undef FOLD
}

static off_t row_byte(const shmc_t *c, int32_t i)
{
    return (off_t)((uint8_t *)&c->procs[i] - c->base);
}

static int ofd_lock(int fd, off_t off, short type, int cmd)
{
    struct flock fl = {0};
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = off;
    fl.l_len = 1;
    return fcntl(fd, cmd, &fl);
}

/* 1 when some process holds the row's lock, 0 when none, -1 unknown. */
static int row_held(const shmc_t *c, int32_t i)
{
    struct flock fl = {0};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = row_byte(c, i);
    fl.l_len = 1;
    if (fcntl(c->fd, F_OFD_GETLK, &fl) != 0)
        return -1;
    return fl.l_type != F_UNLCK;
}

static bool owned(const shmc_t *c, int32_t i) { return c->owned[i / 8] & (1u << (i % 8)); }

/* Claim a free row, or the row of a dead process. Under HMU(c). */
static int32_t claim_row_mu(shmc_t *c, bool primary)
{
    uint32_t n = c->proc_slots;
    uint32_t start = ((uint32_t)getpid() * 2654435761u) % n;
    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t k = 0; k < n; k++) {
            int32_t i = (int32_t)((start + k) % n);
            struct shm_proc *r = &c->procs[i];
            if (owned(c, i))
                continue;
            /* First pass: free rows only, so live rows are not probed. */
            if (pass == 0 && LD(&r->state) != ROW_FREE)
                continue;
            if (ofd_lock(c->fd, row_byte(c, i), F_WRLCK, F_OFD_SETLK) != 0)
                continue;
            if (LD(&r->state) != ROW_FREE)
                fold_row(c, r); /* leftovers of a dead process */
            ST(&r->pid, (uint32_t)getpid());
            ST(&r->pidns, shm_pidns());
            ST(&r->primary, primary ? 1u : 0u);
            atomic_store_explicit(&r->state, ROW_LIVE, memory_order_release);
            c->owned[i / 8] = (uint8_t)(c->owned[i / 8] | (1u << (i % 8)));
            return i;
        }
    }
    return -1;
}

static void tl_destroy(void *p)
{
    struct tl_set *set = p;
    uint64_t fg = atomic_load_explicit(&g_fork_gen, memory_order_relaxed);
    pthread_mutex_lock(&g_mu);
    for (uint32_t k = 0; k < set->n; k++) {
        struct tl_ent *e = &set->e[k];
        if (e->fgen != fg)
            continue;
        for (size_t h = 0; h < g_nhandles; h++) {
            shmc_t *c = g_handles[h];
            if (c->id != e->hid)
                continue;
            pthread_mutex_lock(HMU(c));
            if (c->fork_gen == fg && c->parked && owned(c, e->idx))
                c->parked[c->nparked++] = e->idx;
            pthread_mutex_unlock(HMU(c));
        }
    }
    pthread_mutex_unlock(&g_mu);
    free(set->e);
    free(set);
}

static void atfork_prepare(void)
{
    pthread_mutex_lock(&g_mu);
    for (size_t h = 0; h < g_nhandles; h++)
        pthread_mutex_lock(HMU(g_handles[h]));
}

static void atfork_parent(void)
{
    for (size_t h = 0; h < g_nhandles; h++)
        pthread_mutex_unlock(HMU(g_handles[h]));
    pthread_mutex_unlock(&g_mu);
}

static void atfork_child(void)
{
    atomic_fetch_add(&g_fork_gen, 1);
    atfork_parent();
}

static void init_once(void)
{
    g_key_ok = pthread_key_create(&g_key, tl_destroy) == 0;
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/* Remember (handle, row) for the calling thread. */
static void tl_remember(shmc_t *c, uint64_t fg, int32_t idx)
{
    struct tl_ent ent = {c->id, fg, &c->procs[idx], idx};
    if (g_key_ok) {
        struct tl_set *set = pthread_getspecific(g_key);
        if (!set) {
            set = calloc(1, sizeof(*set));
            if (set && pthread_setspecific(g_key, set) != 0) {
                free(set);
                set = NULL;
            }
        }
        if (set) {
            /* drop entries inherited from before a fork */
            uint32_t w = 0;
            for (uint32_t k = 0; k < set->n; k++)
                if (set->e[k].fgen == fg)
                    set->e[w++] = set->e[k];
            set->n = w;
            if (set->n == set->cap) {
                uint32_t cap = set->cap ? set->cap * 2 : 4;
                struct tl_ent *e = realloc(set->e, cap * sizeof(*e));
                if (e) {
                    set->e = e;
                    set->cap = cap;
                }
            }
            if (set->n < set->cap)
                set->e[set->n++] = ent;
        }
    }
    tl_last = ent;
}

/* In a fork child: get a file description (and so locks) of our own, and
 * forget the parent's rows. Under HMU(c). */
static void refork_mu(shmc_t *c, uint64_t fg)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", c->fd);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
        close(c->fd);
        c->fd = fd;
        memset(c->owned, 0, (c->proc_slots + 7) / 8);
        c->nparked = 0;
        c->primary_row = claim_row_mu(c, true);
    } else {
        c->primary_row = -1; /* count through c->local */
    }
    c->fork_gen = fg;
}

struct shm_proc *shm_row_slow(shmc_t *c, bool *shared)
{
    uint64_t fg = atomic_load_explicit(&g_fork_gen, memory_order_relaxed);
    *shared = true;
    if (!shm_writable(c) || !c->mu)
        return &c->local;
    int32_t idx = -1;
    pthread_mutex_lock(HMU(c));
    if (c->fork_gen != fg) {
        refork_mu(c, fg);
        idx = c->primary_row;
    } else {
        struct tl_set *set = g_key_ok ? pthread_getspecific(g_key) : NULL;
        for (uint32_t k = 0; set && k < set->n; k++)
            if (set->e[k].hid == c->id && set->e[k].fgen == fg) {
                idx = set->e[k].idx;
                break;
            }
        if (idx < 0)
            idx = c->nparked ? c->parked[--c->nparked] : claim_row_mu(c, false);
    }
    pthread_mutex_unlock(HMU(c));
    if (idx < 0)
        return &c->local;
    tl_remember(c, fg, idx);
    *shared = false;
    return &c->procs[idx];
}

int shm_procs_attach(shmc_t *c)
{
    pthread_once(&g_once, init_once);
    c->fork_gen = atomic_load(&g_fork_gen);
    if (!shm_writable(c))
        return 0;
    pthread_mutex_t *mu = malloc(sizeof(*mu));
    c->owned = calloc((c->proc_slots + 7) / 8, 1);
    c->parked = calloc(c->proc_slots, sizeof(int32_t));
    if (!mu || !c->owned || !c->parked) {
        free(mu);
        free(c->owned);
        free(c->parked);
        return -ENOMEM;
    }
    pthread_mutex_init(mu, NULL);
    c->mu = mu;
    pthread_mutex_lock(&g_mu);
    if (g_nhandles == g_caphandles) {
        size_t cap = g_caphandles ? g_caphandles * 2 : 8;
        shmc_t **h = realloc(g_handles, cap * sizeof(*h));
        if (!h) {
            pthread_mutex_unlock(&g_mu);
            pthread_mutex_destroy(mu);
            free(mu);
            free(c->owned);
            free(c->parked);
            c->mu = NULL;
            return -ENOMEM;
        }
        g_handles = h;
        g_caphandles = cap;
    }
    g_handles[g_nhandles++] = c;
    pthread_mutex_lock(HMU(c));
    c->primary_row = claim_row_mu(c, true);
    pthread_mutex_unlock(HMU(c));
    pthread_mutex_unlock(&g_mu);
    if (c->primary_row >= 0)
        tl_remember(c, c->fork_gen, c->primary_row);
    return 0;
}

void shm_procs_detach(shmc_t *c)
{
    if (!c->mu)
        return;
    pthread_mutex_lock(&g_mu);
    for (size_t h = 0; h < g_nhandles; h++)
        if (g_handles[h] == c) {
            g_handles[h] = g_handles[--g_nhandles];
            break;
        }
    pthread_mutex_unlock(&g_mu);
    /* Rows are ours only if we were not forked since claiming them. Their
     * counters go to the retired totals; closing the fd drops the locks. */
    if (c->fork_gen == atomic_load(&g_fork_gen)) {
        for (int32_t i = 0; i < (int32_t)c->proc_slots; i++) {
            if (!owned(c, i))
                continue;
            fold_row(c, &c->procs[i]);
            atomic_store_explicit(&c->procs[i].state, ROW_FREE, memory_order_release);
        }
    }
    pthread_mutex_destroy(HMU(c));
    free(c->mu);
    free(c->owned);
    free(c->parked);
    c->mu = NULL;
}

static void add_row(struct shm_proc *sum, struct shm_proc *r)
{
#define ADD(f) BUMP(&sum->f, LD(&r->f));
    SHMC_ROW_COUNTERS(ADD)
#undef ADD
}

/* Fold the row of a dead process into the totals and free it: only with
 * the row's lock, so two folders never fold one row twice (and a row whose
 * owner is alive is left alone: its lock is held). */
static void fold_dead_row(shmc_t *c, int32_t i)
{
    off_t off = row_byte(c, i);
    if (ofd_lock(c->fd, off, F_WRLCK, F_OFD_SETLK) != 0)
        return;
    struct shm_proc *r = &c->procs[i];
    if (LD(&r->state) == ROW_LIVE) {
        fold_row(c, r);
        atomic_store_explicit(&r->state, ROW_FREE, memory_order_release);
    }
    ofd_lock(c->fd, off, F_UNLCK, F_OFD_SETLK);
}

static bool row_alive(shmc_t *c, int32_t i)
{
    if (c->owned && c->fork_gen == atomic_load(&g_fork_gen) && owned(c, i))
        return true;
    return row_held(c, i) != 0;
}

/* A fork child that has not touched the segment yet still uses its
 * parent's file description, through which the parent's row locks look
 * like its own: liveness checks would call the parent dead and fold its
 * rows. Get a description of our own first (as the first get would). */
static void own_description(shmc_t *c)
{
    if (shm_writable(c) && c->mu && c->fork_gen != atomic_load(&g_fork_gen)) {
        bool shared;
        (void)shm_row_slow(c, &shared);
    }
}

uint32_t shm_procs_sum(shmc_t *c, struct shm_proc *sum)
{
    own_description(c);
    memset(sum, 0, sizeof(*sum));
    struct shm_proc tmp;
    memset(&tmp, 0, sizeof(tmp));
#define RETIRED(f) ST(&tmp.f, LD(&c->hdr->retired.f));
    SHMC_ROW_COUNTERS(RETIRED)
#undef RETIRED
    add_row(sum, &tmp);
    add_row(sum, &c->local);
    uint32_t attached = 0;
    if (c->mu)
        pthread_mutex_lock(HMU(c));
    for (int32_t i = 0; i < (int32_t)c->proc_slots; i++) {
        struct shm_proc *r = &c->procs[i];
        if (atomic_load_explicit(&r->state, memory_order_acquire) != ROW_LIVE)
            continue;
        add_row(sum, r);
        if (!LD(&r->primary))
            continue;
        if (row_alive(c, i))
            attached++;
        else if (shm_writable(c) && c->fork_gen == atomic_load(&g_fork_gen))
            /* A dead process's row: fold it now (its counts are already in
             * sum), so later calls do not probe it again. */
            fold_dead_row(c, i);
    }
    if (c->mu)
        pthread_mutex_unlock(HMU(c));
    return attached;
}

int shmc_procs(shmc_t *c, int (*fn)(const shmc_proc_info_t *p, void *arg), void *arg)
{
    if (!c || !fn)
        return -EINVAL;
    own_description(c);
    uint32_t n = c->proc_slots;
    shmc_proc_info_t *pi = calloc(n, sizeof(*pi));
    int32_t *dead = calloc(n, sizeof(int32_t));
    if (!pi || !dead) {
        free(pi);
        free(dead);
        return -ENOMEM;
    }
    uint32_t np = 0, nd = 0;
    if (c->mu)
        pthread_mutex_lock(HMU(c));
    for (int32_t i = 0; i < (int32_t)n; i++) {
        struct shm_proc *r = &c->procs[i];
        if (atomic_load_explicit(&r->state, memory_order_acquire) != ROW_LIVE)
            continue;
        uint32_t pid = LD(&r->pid);
        bool alive = row_alive(c, i);
        uint32_t k;
        for (k = 0; k < np; k++)
            if (pi[k].pid == pid && pi[k].alive == alive)
                break;
        if (k == np) {
            np++;
            pi[k].pid = pid;
            pi[k].alive = alive;
        }
        pi[k].self |= (uint8_t)(c->owned && owned(c, i));
        pi[k].rows++;
        pi[k].get_hits += LD(&r->get_hits);
        pi[k].get_misses += LD(&r->get_misses);
        pi[k].cmd_get += LD(&r->get_hits) + LD(&r->get_misses) + LD(&r->stale_hits);
        if (!alive)
            dead[nd++] = i;
    }
    if (c->mu)
        pthread_mutex_unlock(HMU(c));
    int ret = 0;
    for (uint32_t k = 0; k < np && !ret; k++)
        ret = fn(&pi[k], arg);
    if (shm_writable(c))
        for (uint32_t k = 0; k < nd; k++)
            fold_dead_row(c, dead[k]);
    free(pi);
    free(dead);
    return ret;
}

/* Under HMU(c), like every reader of c->owned. Called by lock.c while no
 * stripe lock is held (HMU is never held while taking a stripe lock). */
bool shm_procs_all_in_pidns(shmc_t *c, uint32_t ns)
{
    bool all = true;
    if (c->mu)
        pthread_mutex_lock(HMU(c));
    for (int32_t i = 0; i < (int32_t)c->proc_slots && all; i++) {
        struct shm_proc *r = &c->procs[i];
        if (atomic_load_explicit(&r->state, memory_order_acquire) != ROW_LIVE)
            continue;
        if (LD(&r->pidns) != ns && row_alive(c, i))
            all = false;
    }
    if (c->mu)
        pthread_mutex_unlock(HMU(c));
    return all;
}
