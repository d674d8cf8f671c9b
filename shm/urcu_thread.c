/*
 * urcu_thread.c - liburcu (memb flavor) registration for the threads of a
 * process that may fork. Kept apart from the near cache because it reaches
 * into liburcu's private state (urcu/static/urcu-memb.h: the registry of
 * reader records), which is what a liburcu upgrade will break first.
 *
 * Threads: a thread registers with urcu on its first call that needs it and
 * is unregistered by a pthread key destructor when it exits.
 *
 * fork(): liburcu (memb flavor) needs that no registered thread be inside a
 * read-side section or hold one of its locks when fork() copies the process,
 * and that call_rcu's worker be paused across it. Our pthread_atfork prepare
 * handler takes g_fork_mu (which also serialises registration and the
 * callers' teardown paths, shm_urcu_fork_lock), raises g_forking, and waits
 * two grace periods: readers check g_forking before entering and again
 * inside their read-side section (so a reader either sees it and leaves, or
 * is waited for: the usual store/membarrier vs. store/load pairing of RCU),
 * and the second grace period waits for readers that saw the flag on their
 * way out. Then call_rcu_before_fork pauses the call_rcu worker. The child
 * prunes the parent's other threads from urcu's registry
 * (prune_dead_readers) and resumes call_rcu (a new worker thread).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include <urcu/urcu-memb.h>
#include <urcu/static/urcu-memb.h> /* struct urcu_reader: fork_child prunes */
#include <urcu/list.h>
#include <urcu/compiler.h>

#include "urcu_thread.h"

/* Two annotations tell TSan what RCU guarantees: a reader's accesses
 * happen before a grace period that ends after it left its read-side
 * section, and so before a callback queued earlier runs. */
#if defined(__SANITIZE_THREAD__)
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
static char g_tsan_gp;
#define TSAN_READER_DONE() __tsan_release(&g_tsan_gp)
#define TSAN_AFTER_GP()    __tsan_acquire(&g_tsan_gp)
#else
#define TSAN_READER_DONE() ((void)0)
#define TSAN_AFTER_GP()    ((void)0)
#endif

static pthread_mutex_t g_fork_mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int g_forking;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_key;
static int g_init_err;

static SHM_TLS int tl_registered;
static SHM_TLS int tl_keyed, tl_exiting; /* g_key set; destructor ran */

/* The threads we registered, with the address of their urcu reader record
 * (which lives in the thread's TLS). Under g_fork_mu. */
struct urcu_thread {
    struct cds_list_head link;
    struct urcu_reader *rdr;
};
static CDS_LIST_HEAD(g_threads);
static SHM_TLS struct urcu_thread tl_rec;

static void thread_gone(void *p)
{
    (void)p;
    tl_exiting = 1;
    if (!tl_registered)
        return;
    pthread_mutex_lock(&g_fork_mu);
    cds_list_del(&tl_rec.link);
    urcu_memb_unregister_thread();
    pthread_mutex_unlock(&g_fork_mu);
    tl_registered = 0;
}

static void fork_prepare(void)
{
    pthread_mutex_lock(&g_fork_mu);
    atomic_store(&g_forking, 1);
    /* First: every read section that did not see g_forking has ended.
     * Second: so have those that saw it (they leave at once); new readers
     * see it before entering (it was stored before the first grace period). */
    urcu_memb_synchronize_rcu();
    urcu_memb_synchronize_rcu();
    urcu_memb_call_rcu_before_fork();
}

static void fork_parent(void)
{
    urcu_memb_call_rcu_after_fork_parent();
    atomic_store(&g_forking, 0);
    pthread_mutex_unlock(&g_fork_mu);
}

/* In the child only the forking thread exists, but liburcu-memb's registry
 * still lists the reader records of the parent's other registered threads.
 * Those records live in the dead threads' TLS, whose memory glibc reuses
 * for the child's next threads (the new call_rcu worker first): left in the
 * list they are overwritten, and the child's synchronize_rcu then walks a
 * corrupt list (it crashed or hung in tests). So unlink them first, as
 * urcu-bp's after_fork_child does for its own registry. No registry lock is
 * held here: registration, unregistration and grace periods of our threads
 * run under g_fork_mu, the call_rcu worker unregisters itself when paused,
 * and the parent was not inside synchronize_rcu (fork_prepare). */
static void prune_dead_readers(void)
{
    struct cds_list_head *pos, *next;
    cds_list_for_each_safe(pos, next, &g_threads) {
        struct urcu_thread *t = caa_container_of(pos, struct urcu_thread, link);
        if (t != &tl_rec)
            cds_list_del(&t->rdr->node);
    }
    CDS_INIT_LIST_HEAD(&g_threads);
    if (tl_registered)
        cds_list_add(&tl_rec.link, &g_threads);
}

static void fork_child(void)
{
    prune_dead_readers();
    urcu_memb_call_rcu_after_fork_child();
    atomic_store(&g_forking, 0);
    pthread_mutex_unlock(&g_fork_mu);
}

static void global_init(void)
{
    g_init_err = pthread_key_create(&g_key, thread_gone);
    if (!g_init_err)
        g_init_err = pthread_atfork(fork_prepare, fork_parent, fork_child);
}

int shm_urcu_init(void)
{
    pthread_once(&g_once, global_init);
    return -g_init_err;
}

int shm_urcu_register(void)
{
    if (caa_likely(tl_registered))
        return 0;
    pthread_mutex_lock(&g_fork_mu);
    /* Set again when the destructor already ran (a later destructor of the
     * exiting thread using the cache): glibc then runs it once more. */
    int r = tl_keyed && !tl_exiting ? 0 : pthread_setspecific(g_key, (void *)1);
    if (!r) {
        tl_keyed = 1;
        urcu_memb_register_thread();
        tl_rec.rdr = &URCU_TLS(urcu_memb_reader);
        cds_list_add(&tl_rec.link, &g_threads);
        tl_registered = 1;
    }
    pthread_mutex_unlock(&g_fork_mu);
    return -r;
}

/* Wait out a fork in progress (fork_prepare holds g_fork_mu). */
static void fork_wait(void)
{
    pthread_mutex_lock(&g_fork_mu);
    pthread_mutex_unlock(&g_fork_mu);
}

int shm_urcu_enter(void)
{
    for (;;) {
        if (caa_unlikely(atomic_load_explicit(&g_forking, memory_order_relaxed)))
            fork_wait();
        int r = shm_urcu_register();
        if (r)
            return r;
        urcu_memb_read_lock();
        /* Pairs with fork_prepare's store + synchronize_rcu: either this
         * load sees the flag or the grace period waits for this section. */
        if (caa_likely(!atomic_load_explicit(&g_forking, memory_order_relaxed)))
            return 0;
        urcu_memb_read_unlock();
        fork_wait();
    }
}

void shm_urcu_exit(void)
{
    TSAN_READER_DONE();
    urcu_memb_read_unlock();
}

void shm_urcu_fork_lock(void)
{
    pthread_mutex_lock(&g_fork_mu);
}

void shm_urcu_fork_unlock(void)
{
    pthread_mutex_unlock(&g_fork_mu);
}

void shm_urcu_after_gp(void)
{
    TSAN_AFTER_GP();
}
