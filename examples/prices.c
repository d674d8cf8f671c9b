/*
 * prices.c - the product-price scenario, the demo that `make demo` runs.
 *
 * A shop keeps product prices in a slow "database" and caches them in one
 * shmcache segment that several worker processes share:
 *
 *   workers  (--workers, default 4) loop: pick a random product, get its
 *            price from the cache; on a miss, query the database and put
 *            the answer in the cache with a TTL (cache-aside).
 *   updater  (one process) loop, --updates times a second: write a new
 *            price with version+1 to the database, delete the cached
 *            entry, then publish "version V of product P is complete".
 *   parent   creates the database, the segment and a small shared region
 *            for bookkeeping, starts the others, prints progress and the
 *            report, and removes the segment and the database at the end,
 *            also after an error or Ctrl-C.
 *
 * Every cached price carries the version it was read at. Before each read
 * a worker notes the version whose update had *completed* (database written
 * and delete returned); a read that then returns an older version is a
 * stale read. Nothing is staged: the count is whatever the run produces.
 *
 * Why plain set/delete serves stale prices (the cache-aside race):
 *
 *   worker A: get -> miss; query the database: price v1 ...
 *   updater:                  write v2 to the database; delete the key
 *   worker A: ... the answer arrives; set v1          <- stale again
 *   everyone: get -> v1, until the next update or the TTL
 *
 * The database query below reads its row at the start and answers
 * --db-latency microseconds later; that is the window in which an update
 * can overtake a worker. --mode selects how workers talk to the cache (a
 * mode is one fetch function and one entry of modes[]):
 *
 *   plain    fetch_plain(): get; on a miss query the database and set.
 *   leased   fetch_leased(): shmc_get_or_lease; only the lease holder
 *            queries the database and stores with shmc_set_leased, which
 *            the updater's delete makes fail with -ESTALE if it came after
 *            the lease was handed out. The others wait for its value.
 *
 * Without --mode (what `make demo` runs) the scenario runs twice under the
 * same load, plain then leased, each for half of --seconds, each with its
 * own segment and database, and ends with a comparison of the two. The
 * leased run must show 0 stale reads; if it does not, the program says so
 * and exits with status 1 rather than hide it.
 *
 * Processes attach to the segment by name; bookkeeping lives in an
 * anonymous MAP_SHARED region created before fork. Linux (prctl).
 */
#include <shmcache.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS  64
#define MAX_PRODUCTS 1000000u
#define KEY_MAX      32

/* ---- options ------------------------------------------------------------ */

struct options {
    unsigned workers;      /* reader processes */
    unsigned seconds;      /* length of one run (of each, when both run) */
    uint32_t products;     /* rows of the database */
    unsigned updates;      /* price changes per second */
    unsigned db_latency;   /* microseconds a database query takes */
    unsigned ttl_ms;       /* TTL of cached prices */
    unsigned mode;         /* index into modes[] */
    int quiet;             /* no progress lines */
};

/* ---- the shared bookkeeping region (not the cache) ---------------------- */

/* One worker's counters. The worker counts in a private copy and
 * publishes it word by word (every few thousand reads and at exit) to its
 * row of the shared region, which the parent sums. */
struct counts {
    uint64_t reads;         /* prices served */
    uint64_t hits;          /* served from the cache */
    uint64_t db_reads;      /* database queries (after a miss) */
    uint64_t stale_reads;   /* older than an update completed before the read */
    uint64_t stale_sets;    /* sets of a price older than a completed update */
    uint64_t max_stale_us;  /* the longest a stale read lagged behind (a max) */
    uint64_t bad_values;    /* wrong key or bad checksum: must stay 0 */
    uint64_t gets;          /* calls of shmc_get */
    uint64_t timed_gets;    /* those timed (not interrupted by the scheduler) */
    uint64_t get_ns;        /* their time, clock_gettime included */
    uint64_t clock_pairs;   /* empty intervals timed for comparison */
    uint64_t clock_ns;      /* their time: what clock_gettime adds */
    uint64_t lease_waits;   /* leased: waited for another worker's lease */
    uint64_t lease_rejects; /* leased: sets refused with -ESTALE */
};
#define NCOUNTS (sizeof(struct counts) / sizeof(uint64_t))

/* What one run hands back for the comparison at the end. */
struct result {
    int done;              /* the run completed: t and updates are valid */
    double wall_s;
    uint64_t updates;
    struct counts t;       /* the workers' counters added up */
};

struct published {
    alignas(64) _Atomic uint64_t word[NCOUNTS];
};

struct shared {
    _Atomic int go;                 /* parent -> children: start */
    _Atomic int stop;               /* parent -> children: stop now */
    uint64_t t0_ns;                 /* start time, written before go */
    uint64_t deadline_ns;           /* children stop by themselves here */
    alignas(64) _Atomic uint64_t updates;  /* written by the updater only */
    struct published w[MAX_WORKERS];
    /* Per product: the latest version whose update completed, in the high
     * 32 bits, and when it completed (microseconds since t0) in the low 32:
     * one word, so the pair is always read consistently. */
    alignas(64) _Atomic uint64_t completed[];
};

/* ---- values ------------------------------------------------------------- */

/* A database row and a cached value: the same 24 bytes. */
struct price {
    uint32_t id;
    uint32_t version;
    int64_t  cents;
    uint64_t check;     /* checksum of the three fields above */
};

static uint64_t price_check(const struct price *p)
{
    uint64_t h = ((uint64_t)p->id << 32 | p->version) ^ (uint64_t)p->cents;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

/* ---- small helpers ------------------------------------------------------ */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t rng_next(uint64_t *s)        /* xorshift64* */
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dull;
}

static uint32_t rng_below(uint64_t *s, uint32_t n)
{
    return (uint32_t)((rng_next(s) >> 32) * n >> 32);
}

static int key_of(uint32_t id, char *key)
{
    return snprintf(key, KEY_MAX, "price:%" PRIu32, id);
}

/* 1234567 -> "1,234,567"; eight rotating buffers, so one printf can use
 * eight of them. */
static const char *num(uint64_t v)
{
    static char bufs[8][32];
    static unsigned next;
    char digits[24], *out = bufs[next++ % 8];
    int n = snprintf(digits, sizeof digits, "%" PRIu64, v), o = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
    return out;
}

static double pct(uint64_t part, uint64_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* A child reports its own failure on stderr and exits with status 1. */
static void child_fail(const char *who, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "prices: %s: ", who);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    _exit(1);
}

/* ---- the "database": one file of fixed-size rows ------------------------ */

/* Lock row id of the file (fcntl record lock: F_RDLCK or F_WRLCK), or
 * unlock it (F_UNLCK). */
static int db_lock(int fd, uint32_t id, short type)
{
    struct flock fl = {
        .l_type = type,
        .l_whence = SEEK_SET,
        .l_start = (off_t)id * (off_t)sizeof(struct price),
        .l_len = (off_t)sizeof(struct price),
    };
    while (fcntl(fd, F_SETLKW, &fl) < 0)
        if (errno != EINTR)
            return -errno;
    return 0;
}

static int db_pread(int fd, uint32_t id, struct price *p)
{
    ssize_t n = pread(fd, p, sizeof *p, (off_t)id * (off_t)sizeof *p);
    if (n != (ssize_t)sizeof *p)
        return n < 0 ? -errno : -EIO;
    return p->id == id && p->check == price_check(p) ? 0 : -EBADMSG;
}

static int db_pwrite(int fd, const struct price *p)
{
    ssize_t n = pwrite(fd, p, sizeof *p, (off_t)p->id * (off_t)sizeof *p);
    if (n != (ssize_t)sizeof *p)
        return n < 0 ? -errno : -EIO;
    return 0;
}

/* A query: the row is read when the query starts, the answer arrives
 * latency_us later (a busy database server, the network, decoding). */
static int db_query(int fd, uint32_t id, unsigned latency_us, struct price *p)
{
    int rc = db_lock(fd, id, F_RDLCK);
    if (rc < 0)
        return rc;
    rc = db_pread(fd, id, p);
    db_lock(fd, id, F_UNLCK);
    if (rc == 0 && latency_us > 0)
        usleep(latency_us);
    return rc;
}

/* Change the price of row id: version + 1, price moves by up to +-5 %. */
static int db_update(int fd, uint32_t id, uint64_t *rng, struct price *p)
{
    int rc = db_lock(fd, id, F_WRLCK);
    if (rc < 0)
        return rc;
    rc = db_pread(fd, id, p);
    if (rc == 0) {
        int64_t step = p->cents / 20 + 1;
        p->cents += (int64_t)rng_below(rng, (uint32_t)(2 * step + 1)) - step;
        if (p->cents < 1)
            p->cents = 1;
        p->version++;
        p->check = price_check(p);
        rc = db_pwrite(fd, p);
    }
    db_lock(fd, id, F_UNLCK);
    return rc;
}

static int db_create(const char *path, uint32_t products, uint64_t *rng)
{
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return -errno;
    for (uint32_t id = 0; id < products; id++) {
        struct price p = { .id = id, .version = 1,
                           .cents = 100 + rng_below(rng, 9900) };
        p.check = price_check(&p);
        int rc = db_pwrite(fd, &p);
        if (rc < 0) {
            close(fd);
            return rc;
        }
    }
    close(fd);
    return 0;
}

/* ---- workers ------------------------------------------------------------ */

struct worker {
    const struct options *o;
    struct shared *sh;
    shmc_t *cache;
    int db;
    uint64_t rng;
    struct published *pub;      /* where n is published */
    struct counts n;
};

/* A timed interval longer than this had the process taken off the CPU
 * (4 workers share 2 CPUs): it measures the scheduler, not the get. */
#define PREEMPTED_NS 20000u

/* The version of product id whose update had completed by now. */
static uint64_t completed_word(const struct shared *sh, uint32_t id)
{
    /* acquire: pairs with the updater's release store, which it makes
     * after shmc_delete returned */
    return atomic_load_explicit(&sh->completed[id], memory_order_acquire);
}

/* Count one call of the cache's get, timed from t1 to t2. */
static void count_get(struct worker *w, uint64_t t1, uint64_t t2)
{
    w->n.gets++;
    if (t2 - t1 < PREEMPTED_NS) {
        w->n.timed_gets++;
        w->n.get_ns += t2 - t1;
    }
}

/* Whether a value handed out is well-formed: the right product, intact. */
static int valid(const struct price *p, size_t vlen, uint32_t id)
{
    return vlen == sizeof *p && p->id == id && p->check == price_check(p);
}

enum fetch { FETCH_HIT, FETCH_MISS };

/* Plain cache-aside: get; on a miss, query the database and set. Returns
 * FETCH_HIT or FETCH_MISS with *p filled, or a negative errno. */
static int fetch_plain(struct worker *w, uint32_t id, struct price *p)
{
    char key[KEY_MAX];
    size_t klen = (size_t)key_of(id, key), vlen = 0;

    uint64_t t1 = now_ns();
    int rc = shmc_get(w->cache, key, klen, p, sizeof *p, &vlen, NULL);
    count_get(w, t1, now_ns());

    if (rc == 0) {
        if (!valid(p, vlen, id))
            w->n.bad_values++;
        return FETCH_HIT;
    }
    if (rc != -ENOENT)
        return rc;

    rc = db_query(w->db, id, w->o->db_latency, p);
    if (rc < 0)
        return rc;
    w->n.db_reads++;
    /* Not used to decide anything, only counted: is the price we are about
     * to store already older than an update that completed? */
    if ((uint32_t)(completed_word(w->sh, id) >> 32) > p->version)
        w->n.stale_sets++;
    rc = shmc_set(w->cache, key, klen, p, sizeof *p, w->o->ttl_ms, 0);
    return rc < 0 ? rc : FETCH_MISS;
}

/* Leased cache-aside: a miss hands out a lease and only its holder queries
 * the database; its set is refused (-ESTALE) when an update deleted the key
 * after the lease was handed out. The others wait for the holder's value
 * (shmc_get_or_wait); if the wait runs out they answer from the database
 * and store nothing. */
#define LEASE_MS 1000u
#define WAIT_MS  50u

static int fetch_leased(struct worker *w, uint32_t id, struct price *p)
{
    char key[KEY_MAX];
    size_t klen = (size_t)key_of(id, key), vlen = 0;
    uint64_t lease = 0;

    uint64_t t1 = now_ns();
    int rc = shmc_get_or_lease(w->cache, key, klen, p, sizeof *p, &vlen, NULL,
                               LEASE_MS, &lease);
    count_get(w, t1, now_ns());
    if (rc == -EBUSY) {
        w->n.lease_waits++;
        rc = shmc_get_or_wait(w->cache, key, klen, p, sizeof *p, &vlen, NULL,
                              LEASE_MS, WAIT_MS, &lease);
    }
    if (rc == 0) {
        if (!valid(p, vlen, id))
            w->n.bad_values++;
        return FETCH_HIT;
    }
    if (rc != -ENOENT && rc != -EBUSY)
        return rc;

    rc = db_query(w->db, id, w->o->db_latency, p);
    if (rc < 0)
        return rc;
    w->n.db_reads++;
    if (lease == 0)
        return FETCH_MISS;
    if ((uint32_t)(completed_word(w->sh, id) >> 32) > p->version)
        w->n.stale_sets++;
    rc = shmc_set_leased(w->cache, key, klen, p, sizeof *p, w->o->ttl_ms, 0, lease);
    if (rc == -ESTALE) {
        w->n.lease_rejects++;
        rc = 0;
    }
    return rc < 0 ? rc : FETCH_MISS;
}

/* A way of reading through the cache: one per --mode. */
struct mode {
    const char *name;
    const char *title;
    const char *note;   /* printed under the results */
    int (*fetch)(struct worker *w, uint32_t id, struct price *p);
};

static const struct mode modes[] = {
    { "plain", "plain get / set / delete",
      "Plain mode: nothing stops a worker from storing a price it queried just\n"
      "before an update finished (a stale set); every read of that product then\n"
      "gets the old price until the next update or the TTL (the stale reads).",
      fetch_plain },
    { "leased", "leases (shmc_get_or_lease / shmc_set_leased)",
      "Leased mode: a worker stores a price only under a lease, and an update's\n"
      "delete kills the lease: a price queried before the update is refused\n"
      "(-ESTALE) instead of stored.",
      fetch_leased },
};
#define NMODES (sizeof modes / sizeof modes[0])

static void publish(const struct counts *n, struct published *pub)
{
    uint64_t word[NCOUNTS];
    memcpy(word, n, sizeof word);
    for (size_t i = 0; i < NCOUNTS; i++)
        atomic_store_explicit(&pub->word[i], word[i], memory_order_relaxed);
}

static void collect(const struct published *pub, struct counts *n)
{
    uint64_t word[NCOUNTS];
    for (size_t i = 0; i < NCOUNTS; i++)
        word[i] = atomic_load_explicit(&pub->word[i], memory_order_relaxed);
    memcpy(n, word, sizeof word);
}

static void worker_run(struct worker *w)
{
    const struct mode *m = &modes[w->o->mode];
    const struct shared *sh = w->sh;

    for (uint64_t i = 1;; i++) {
        uint32_t id = rng_below(&w->rng, w->o->products);
        /* What a reader may expect: the version completed before it asks. */
        uint64_t done = completed_word(sh, id);
        struct price p;
        int rc = m->fetch(w, id, &p);
        if (rc < 0)
            child_fail("worker", "product %" PRIu32 ": %s", id, shmc_strerror(rc));
        w->n.reads++;
        w->n.hits += rc == FETCH_HIT;
        if (p.version < (uint32_t)(done >> 32)) {
            uint64_t lag = (now_ns() - sh->t0_ns) / 1000 - (done & 0xffffffffu);
            w->n.stale_reads++;
            if (lag > w->n.max_stale_us)
                w->n.max_stale_us = lag;
        }
        if (i % 64 == 0) {
            /* What two clock_gettime calls add to a timed get: time an
             * empty interval now and then, under the same conditions. */
            uint64_t a = now_ns(), b = now_ns();
            if (b - a < PREEMPTED_NS) {
                w->n.clock_pairs++;
                w->n.clock_ns += b - a;
            }
        }
        if (i % 4096 == 0 || rc == FETCH_MISS) {
            publish(&w->n, w->pub);
            if (atomic_load_explicit(&sh->stop, memory_order_relaxed) ||
                now_ns() >= sh->deadline_ns)
                break;
        }
    }
    publish(&w->n, w->pub);
}

/* ---- the updater -------------------------------------------------------- */

static void updater_run(const struct options *o, struct shared *sh,
                        shmc_t *cache, int db, uint64_t *rng)
{
    uint64_t interval = 1000000000u / o->updates, next = now_ns(), n = 0;

    while (!atomic_load_explicit(&sh->stop, memory_order_relaxed)) {
        uint64_t t = now_ns();
        if (t >= sh->deadline_ns)
            break;
        if (t < next) {   /* sleep in steps of at most 50 ms, to see stop */
            uint64_t until = next - t > 50000000u ? t + 50000000u : next;
            struct timespec ts = { (time_t)(until / 1000000000u),
                                   (long)(until % 1000000000u) };
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
            continue;
        }
        /* behind by more than 0.1 s (CPU starved): do not catch up in a burst */
        next = (t - next > 100000000u ? t : next) + interval;

        uint32_t id = rng_below(rng, o->products);
        struct price p;
        char key[KEY_MAX];
        int rc = db_update(db, id, rng, &p);
        if (rc < 0)
            child_fail("updater", "database: %s", strerror(-rc));
        rc = shmc_delete(cache, key, (size_t)key_of(id, key));
        if (rc < 0 && rc != -ENOENT)
            child_fail("updater", "shmc_delete: %s", shmc_strerror(rc));
        /* The update is complete. release: a reader that sees this version
         * also sees that the delete happened before. */
        uint64_t us = (now_ns() - sh->t0_ns) / 1000;
        atomic_store_explicit(&sh->completed[id],
                              (uint64_t)p.version << 32 | (us & 0xffffffffu),
                              memory_order_release);
        atomic_store_explicit(&sh->updates, ++n, memory_order_relaxed);
    }
}

/* ---- children ----------------------------------------------------------- */

/* Body of a forked child: index -1 is the updater, 0.. are workers. */
static void child_main(const struct options *o, struct shared *sh,
                       const char *segname, const char *dbpath,
                       pid_t parent, int index)
{
    const char *who = index < 0 ? "updater" : "worker";

    /* Ctrl-C reaches the whole process group: let the parent stop us
     * through sh->stop instead, and die with the parent if it dies. */
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_DFL);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(1);

    int db = open(dbpath, O_RDWR);
    if (db < 0)
        child_fail(who, "%s: %s", dbpath, strerror(errno));
    shmc_t *cache;
    int rc = shmc_open(segname, 0, NULL, &cache);   /* attach by name */
    if (rc < 0)
        child_fail(who, "shmc_open %s: %s", segname, shmc_strerror(rc));
    uint64_t rng = now_ns() ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ull;

    while (!atomic_load_explicit(&sh->go, memory_order_acquire)) {
        if (atomic_load_explicit(&sh->stop, memory_order_relaxed))
            _exit(0);
        usleep(1000);
    }

    if (index < 0) {
        updater_run(o, sh, cache, db, &rng);
    } else {
        struct worker w = { .o = o, .sh = sh, .cache = cache, .db = db,
                            .rng = rng, .pub = &sh->w[index] };
        worker_run(&w);
    }
    shmc_close(cache);
    close(db);
    _exit(0);
}

/* ---- the parent --------------------------------------------------------- */

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* The workers' counters added up (max_stale_us: the largest). */
static void sum(const struct shared *sh, unsigned workers, struct counts *t)
{
    uint64_t total[NCOUNTS] = { 0 }, max_stale_us = 0;
    for (unsigned i = 0; i < workers; i++) {
        struct counts n;
        uint64_t word[NCOUNTS];
        collect(&sh->w[i], &n);
        memcpy(word, &n, sizeof word);
        for (size_t k = 0; k < NCOUNTS; k++)
            total[k] += word[k];
        if (n.max_stale_us > max_stale_us)
            max_stale_us = n.max_stale_us;
    }
    memcpy(t, total, sizeof total);
    t->max_stale_us = max_stale_us;
}

/* Wait for the children until deadline_ns; then kill the rest. Returns
 * how many did not exit with status 0. */
static int reap(pid_t *pids, unsigned n, uint64_t deadline_ns)
{
    int failed = 0;
    for (unsigned left = n; left > 0;) {
        for (unsigned i = 0; i < n; i++) {
            int status;
            if (pids[i] <= 0 || waitpid(pids[i], &status, WNOHANG) != pids[i])
                continue;
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                failed++;
                if (WIFSIGNALED(status))
                    fprintf(stderr, "prices: child %d killed by signal %d\n",
                            (int)pids[i], WTERMSIG(status));
            }
            pids[i] = 0;
            left--;
        }
        if (left > 0 && now_ns() >= deadline_ns) {
            for (unsigned i = 0; i < n; i++)
                if (pids[i] > 0) {
                    fprintf(stderr, "prices: child %d did not stop; killing it\n",
                            (int)pids[i]);
                    kill(pids[i], SIGKILL);
                    waitpid(pids[i], NULL, 0);
                    pids[i] = 0;
                    failed++;
                }
            break;
        }
        if (left > 0)
            usleep(2000);
    }
    return failed;
}

/* Did a child exit already? (It should run until told to stop.) */
static int any_exited(const pid_t *pids, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        siginfo_t si = { 0 };
        if (pids[i] > 0 &&
            waitid(P_PID, (id_t)pids[i], &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
            si.si_pid != 0)
            return 1;
    }
    return 0;
}

static void print_report(const struct options *o, const struct mode *m,
                         const struct counts *t, uint64_t updates, double wall_s,
                         shmc_t *cache)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    double timer = t->clock_pairs ? (double)t->clock_ns / (double)t->clock_pairs : 0;
    double per_get = t->timed_gets ? (double)t->get_ns / (double)t->timed_gets - timer : 0;
    if (per_get < 1)
        per_get = 1;

    printf("\nResults (%s, %.1f s)\n", m->title, wall_s);
    printf("  reads                 %13s   prices the workers served\n", num(t->reads));
    printf("  served from the cache %13s   %.2f %% hit ratio\n",
           num(t->hits), pct(t->hits, t->reads));
    printf("  misses -> DB queries  %13s\n", num(t->db_reads));
    printf("  price updates         %13s   database written, then the key deleted\n",
           num(updates));
    printf("  stale reads           %13s   %.4f %% of reads: a price older than an update\n"
           "                                        that had completed before the read began\n",
           num(t->stale_reads), pct(t->stale_reads, t->reads));
    if (t->stale_reads > 0)
        printf("                                        (at worst %.1f ms after that update completed)\n",
               (double)t->max_stale_us / 1000.0);
    printf("  stale sets            %13s   sets of a price older than an update that had\n"
           "                                        already completed (the race above)\n",
           num(t->stale_sets));
    if (t->lease_waits || t->lease_rejects)
        printf("  lease waits           %13s   lease rejects %s (stale sets refused)\n",
               num(t->lease_waits), num(t->lease_rejects));
    printf("  wrong or torn values  %13s   every value's key and checksum are checked\n",
           num(t->bad_values));
    printf("\n%s\n", m->note);

    printf("\nGet throughput (shmc_get, %u worker processes on %ld CPUs)\n",
           o->workers, cpus);
    printf("  calls                 %13s\n", num(t->gets));
    printf("  inside shmc_get       %10.0f ns   per call = %.1f M gets/s for one process\n"
           "                                        (each call timed with clock_gettime; the %.0f ns\n"
           "                                        the timer adds is subtracted; %s calls the\n"
           "                                        scheduler interrupted, over %u us, left out)\n",
           per_get, 1000.0 / per_get, timer, num(t->gets - t->timed_gets),
           PREEMPTED_NS / 1000);
    printf("  wall clock            %10.2f M   gets/s, all workers together over %.1f s\n"
           "                                        (sharing the CPUs; they also wait for the\n"
           "                                        database, time every get, check every value)\n",
           (double)t->gets / wall_s / 1e6, wall_s);

    shmc_stats_t st;
    int rc = shmc_stats(cache, &st);
    if (rc < 0) {
        printf("\nshmc_stats: %s\n", shmc_strerror(rc));
        return;
    }
    printf("\nSegment statistics (shmc_stats, memcached's names)\n");
    printf("  cmd_get %s   get_hits %s   get_misses %s   get_expired %s\n",
           num(st.cmd_get), num(st.get_hits), num(st.get_misses), num(st.get_expired));
    printf("  get_locked %s (gets that fell back to the stripe lock)\n",
           num(st.get_locked));
    printf("  cmd_set %s   delete_hits %s   delete_misses %s\n",
           num(st.cmd_set), num(st.delete_hits), num(st.delete_misses));
    printf("  curr_items %s   total_items %s   evictions %s   reclaimed %s\n",
           num(st.curr_items), num(st.total_items), num(st.evictions), num(st.reclaimed));
    printf("  bytes %s of limit_maxbytes %s   capacity %s   stripes %" PRIu32 "\n",
           num(st.bytes), num(st.limit_maxbytes), num(st.capacity), st.stripes);
    printf("  attached_processes %" PRIu32 "   lock_recoveries %s\n",
           st.attached_processes, num(st.lock_recoveries));
    if (st.lease_grants || st.lease_rejects || st.lease_waits)
        printf("  lease_grants %s   lease_rejects %s   lease_waits %s\n",
               num(st.lease_grants), num(st.lease_rejects), num(st.lease_waits));
    if (st.cmd_get != t->gets)
        printf("  note: cmd_get differs from the %s gets the workers counted%s\n",
               num(t->gets), t->lease_waits ? "\n        (the polls of shmc_get_or_wait are gets too)" : "");
}

/* One run of the scenario in mode o->mode; label ("" or "run 1 of 2, ")
 * heads its title. Fills *res when it completes. Returns 0, 1 on error,
 * 130 when interrupted. Everything it creates is removed before it
 * returns. */
static int run(const struct options *o, const char *label, struct result *res)
{
    const struct mode *m = &modes[o->mode];
    char segname[64], dir[] = "/tmp/shmcache-prices-XXXXXX", dbpath[sizeof dir + 16];
    struct shared *sh = MAP_FAILED;
    shmc_t *cache = NULL;
    pid_t pids[MAX_WORKERS + 1] = { 0 };
    unsigned nchildren = 0;
    int status = 1, have_segment = 0, have_db = 0;
    size_t shsize = sizeof(struct shared) + o->products * sizeof(_Atomic uint64_t);
    uint64_t rng = now_ns() ^ (uint64_t)getpid();

    /* the mode in the name: two runs never meet, even if one's unlink failed */
    snprintf(segname, sizeof segname, "/shmcache-prices-%d-%s", (int)getpid(), m->name);
    if (!mkdtemp(dir)) {
        fprintf(stderr, "prices: mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    snprintf(dbpath, sizeof dbpath, "%s/products.db", dir);

    int rc = db_create(dbpath, o->products, &rng);
    if (rc < 0) {
        fprintf(stderr, "prices: %s: %s\n", dbpath, strerror(-rc));
        goto out;
    }
    have_db = 1;

    sh = mmap(NULL, shsize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) {
        fprintf(stderr, "prices: mmap: %s\n", strerror(errno));
        goto out;
    }
    for (uint32_t id = 0; id < o->products; id++)   /* version 1, at t0 */
        atomic_init(&sh->completed[id], (uint64_t)1 << 32);

    shmc_config_t cfg;
    shmc_config_init(&cfg);
    cfg.capacity = 1024;
    while (cfg.capacity < 2ull * o->products)
        cfg.capacity *= 2;
    cfg.memory = cfg.capacity * 256;
    cfg.max_key_len = KEY_MAX;
    cfg.max_value_len = 1024;
    rc = shmc_open(segname, SHMC_CREATE | SHMC_EXCL, &cfg, &cache);
    if (rc < 0) {
        fprintf(stderr, "prices: shmc_open %s: %s\n", segname, shmc_strerror(rc));
        goto out;
    }
    have_segment = 1;

    printf("shmcache demo: product prices, %s%s\n\n", label, m->title);
    printf("  segment   %s, room for %s entries\n", segname, num(cfg.capacity));
    printf("  database  %s: %s products; a query answers after %u us\n",
           dbpath, num(o->products), o->db_latency);
    printf("  workers   %u processes: get a random product's price; on a miss query the\n"
           "            database and set the price in the cache with a %u ms TTL\n",
           o->workers, o->ttl_ms);
    printf("  updater   1 process, %u price changes/s: write the database (version+1),\n"
           "            then delete the cached price\n", o->updates);
    printf("  running for %u s%s\n", o->seconds, o->quiet ? "" : " (one line per second)");
    if (!o->quiet)
        printf("\n  %4s %14s %8s %10s %9s %12s\n",
               "time", "reads", "hit %", "DB reads", "updates", "stale reads");
    fflush(stdout);

    pid_t parent = getpid();
    for (int i = -1; i < (int)o->workers; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            fprintf(stderr, "prices: fork: %s\n", strerror(errno));
            goto stop;
        }
        if (pid == 0)
            child_main(o, sh, segname, dbpath, parent, i);
        pids[nchildren++] = pid;
    }

    sh->t0_ns = now_ns();
    sh->deadline_ns = sh->t0_ns + (uint64_t)o->seconds * 1000000000u;
    atomic_store_explicit(&sh->go, 1, memory_order_release);

    for (unsigned tick = 1; !interrupted; tick++) {
        uint64_t wake = sh->t0_ns + (uint64_t)tick * 1000000000u;
        if (wake > sh->deadline_ns)
            wake = sh->deadline_ns;
        while (!interrupted && now_ns() < wake && !any_exited(pids, nchildren))
            usleep(20000);
        if (interrupted || any_exited(pids, nchildren) || now_ns() >= sh->deadline_ns)
            break;
        if (!o->quiet) {
            struct counts t;
            sum(sh, o->workers, &t);
            printf("  %3us %14s %7.2f%% %10s %9s %12s\n", tick, num(t.reads),
                   pct(t.hits, t.reads), num(t.db_reads),
                   num(atomic_load_explicit(&sh->updates, memory_order_relaxed)),
                   num(t.stale_reads));
            fflush(stdout);
        }
    }

stop:
    atomic_store_explicit(&sh->stop, 1, memory_order_relaxed);
    double wall_s = sh->t0_ns ? (double)(now_ns() - sh->t0_ns) / 1e9 : 0;
    /* a child can be stuck at most SHMC_LOCK_TIMEOUT_MS in the library */
    int failed = reap(pids, nchildren, now_ns() + 2000000000ull +
                                       SHMC_LOCK_TIMEOUT_MS * 1000000ull);
    if (interrupted)
        printf("\n  interrupted\n");
    if (nchildren == o->workers + 1 && sh->t0_ns) {
        struct counts t;
        sum(sh, o->workers, &t);
        uint64_t updates = atomic_load_explicit(&sh->updates, memory_order_relaxed);
        print_report(o, m, &t, updates, wall_s, cache);
        status = failed || t.bad_values ? 1 : 0;
        if (!interrupted && !failed) {
            res->done = 1;
            res->wall_s = wall_s;
            res->updates = updates;
            res->t = t;
        }
    }
    if (failed)
        fprintf(stderr, "prices: %d process(es) failed\n", failed);
    if (interrupted)
        status = 130;

out:
    shmc_close(cache);
    if (have_segment) {
        rc = shmc_unlink(segname);
        if (rc < 0)
            fprintf(stderr, "prices: shmc_unlink %s: %s\n", segname, shmc_strerror(rc));
        else
            printf("\nRemoved the segment %s and %s.\n", segname, dir);
    }
    if (sh != MAP_FAILED)
        munmap(sh, shsize);
    if (have_db)
        unlink(dbpath);
    rmdir(dir);
    return status;
}

/* ---- both modes, compared ----------------------------------------------- */

/* The comparison that ends the default run. Its numbers are the runs'
 * own counters, unchanged. Returns 1 when the leased run served a stale
 * price: leases exist to make that impossible, so it is a bug (in this
 * program or in the library) and must not pass quietly. */
_Static_assert(NMODES == 2, "the comparison is plain (modes[0]) against leased (modes[1])");

static int print_comparison(const struct result *r)
{
    const struct counts *p = &r[0].t, *l = &r[1].t;
    char ps[48], ls[48];

    printf("\n================================================================\n");
    printf("Comparison: the same load, %.1f s plain then %.1f s with leases\n\n",
           r[0].wall_s, r[1].wall_s);
    printf("  %-24s %18s %18s\n", "", modes[0].name, modes[1].name);
    printf("  %-24s %18s %18s\n", "reads", num(p->reads), num(l->reads));
    snprintf(ps, sizeof ps, "%s (%.4f %%)", num(p->stale_reads), pct(p->stale_reads, p->reads));
    snprintf(ls, sizeof ls, "%s (%.4f %%)", num(l->stale_reads), pct(l->stale_reads, l->reads));
    printf("  %-24s %18s %18s\n", "stale reads (% of reads)", ps, ls);
    printf("  %-24s %18s %18s\n", "stale sets attempted", num(p->stale_sets), num(l->stale_sets));
    printf("  %-24s %18s %18s\n", "lease rejects", "-", num(l->lease_rejects));
    printf("  %-24s %18s %18s\n", "DB queries", num(p->db_reads), num(l->db_reads));
    snprintf(ps, sizeof ps, "%.2f %%", pct(p->hits, p->reads));
    snprintf(ls, sizeof ls, "%.2f %%", pct(l->hits, l->reads));
    printf("  %-24s %18s %18s\n", "hit ratio", ps, ls);
    printf("  %-24s %18s %18s\n", "price updates", num(r[0].updates), num(r[1].updates));
    printf("\n");

    if (p->stale_reads > 0)
        printf("  plain:  %s stale reads: %s stale sets stored old prices, served for up\n"
               "          to %.1f ms after the update that replaced them had completed\n",
               num(p->stale_reads), num(p->stale_sets), (double)p->max_stale_us / 1000.0);
    else
        printf("  plain:  0 stale reads this time (%s stale sets; the race needs an update\n"
               "          to overtake a query: try a longer --db-latency or more --updates)\n",
               num(p->stale_sets));
    if (l->stale_reads == 0) {
        printf("  leases: 0 stale reads (%s stale sets attempted; %s leased sets\n"
               "          refused with -ESTALE)\n",
               num(l->stale_sets), num(l->lease_rejects));
        return 0;
    }
    printf("  leases: %s STALE READS (up to %.1f ms late). Leases should make this 0:\n"
           "          this is a bug, in this program or in the library; please report it\n"
           "          with the command line above.\n",
           num(l->stale_reads), (double)l->max_stale_us / 1000.0);
    return 1;
}

/* ---- options ------------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(f,
        "usage: prices [options]\n"
        "  Worker processes read product prices through a shmcache segment,\n"
        "  an updater changes them; counts the reads that returned a stale price.\n"
        "  Without --mode: runs plain, then leased, S/2 seconds each, and compares\n"
        "  them (exit status 1 if the leased run served any stale price).\n\n"
        "  --mode M         run one mode only: plain (get, set, delete) or\n"
        "                   leased (shmc_get_or_lease, shmc_set_leased)\n"
        "  --workers N      reader processes (default 4, at most %d)\n"
        "  --seconds S      length of the demo (default 10; one mode: of its run;\n"
        "                   both: half each, rounded up)\n"
        "  --products N     products in the database (default 200)\n"
        "  --updates N      price changes per second (default 1000)\n"
        "  --db-latency US  microseconds a database query takes (default 300)\n"
        "  --ttl MS         TTL of cached prices in ms (default 5000)\n"
        "  --quiet          no progress lines\n"
        "  --help\n", MAX_WORKERS);
}

static int parse_uint(const char *opt, const char *s, unsigned long lo,
                      unsigned long hi, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < lo || v > hi) {
        fprintf(stderr, "prices: --%s wants a number from %lu to %lu, not '%s'\n",
                opt, lo, hi, s);
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

int main(int argc, char **argv)
{
    struct options o = { .workers = 4, .seconds = 10, .products = 200,
                         .updates = 1000, .db_latency = 300, .ttl_ms = 5000 };
    static const struct option longopts[] = {
        { "mode", required_argument, NULL, 'm' },
        { "workers", required_argument, NULL, 'w' },
        { "seconds", required_argument, NULL, 's' },
        { "products", required_argument, NULL, 'p' },
        { "updates", required_argument, NULL, 'u' },
        { "db-latency", required_argument, NULL, 'l' },
        { "ttl", required_argument, NULL, 't' },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c, bad = 0, one_mode = 0;
    unsigned products = o.products;

    while ((c = getopt_long(argc, argv, "m:w:s:p:u:l:t:qh", longopts, NULL)) != -1) {
        const char *name = NULL;
        for (const struct option *lo = longopts; lo->name; lo++)
            if (lo->val == c)
                name = lo->name;
        switch (c) {
        case 'm': {
            unsigned i = 0;
            while (i < NMODES && strcmp(optarg, modes[i].name) != 0)
                i++;
            if (i == NMODES) {
                fprintf(stderr, "prices: unknown --mode '%s' (modes:", optarg);
                for (unsigned k = 0; k < NMODES; k++)
                    fprintf(stderr, " %s", modes[k].name);
                fprintf(stderr, ")\n");
                bad = 1;
            }
            o.mode = i;
            one_mode = 1;
            break;
        }
        case 'w': bad |= parse_uint(name, optarg, 1, MAX_WORKERS, &o.workers) < 0; break;
        case 's': bad |= parse_uint(name, optarg, 1, 3600, &o.seconds) < 0; break;
        case 'p': bad |= parse_uint(name, optarg, 1, MAX_PRODUCTS, &products) < 0; break;
        case 'u': bad |= parse_uint(name, optarg, 1, 1000000, &o.updates) < 0; break;
        case 'l': bad |= parse_uint(name, optarg, 0, 1000000, &o.db_latency) < 0; break;
        case 't': bad |= parse_uint(name, optarg, 0, 86400000, &o.ttl_ms) < 0; break;
        case 'q': o.quiet = 1; break;
        case 'h': usage(stdout); return 0;
        default: bad = 1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "prices: unexpected argument '%s'\n", argv[optind]);
        bad = 1;
    }
    if (bad) {
        fprintf(stderr, "prices: try --help\n");
        return 2;
    }
    o.products = products;

    struct sigaction sa = { .sa_handler = on_signal };   /* no SA_RESTART */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if (one_mode) {
        struct result r = { 0 };
        int status = run(&o, "", &r);
        if (status == 0 && modes[o.mode].fetch == fetch_leased && r.t.stale_reads > 0) {
            fprintf(stderr, "prices: the leased run served %s stale prices; leases should "
                    "make that 0: a bug\n", num(r.t.stale_reads));
            status = 1;
        }
        return status;
    }

    /* Both modes under the same load, half the time each. */
    struct result r[NMODES] = { { 0 } };
    int status = 0;
    o.seconds = (o.seconds + 1) / 2;
    for (unsigned i = 0; i < NMODES && status == 0; i++) {
        char label[32];
        snprintf(label, sizeof label, "run %u of %u, ", i + 1, (unsigned)NMODES);
        if (i > 0)
            printf("\n================================================================\n\n");
        o.mode = i;
        status = run(&o, label, &r[i]);
        if (status == 0 && !r[i].done)
            status = 1;
    }
    if (status != 0)
        return status;
    return print_comparison(r);
}
