/*
 * relay_bench.c - what shmcache-relay costs and delivers, measured on two
 * segments ("hosts") whose relays share one Redis (bench/relay/run.sh
 * starts redis-server and the relays, then runs this).
 *
 *   latency     delete returns on A -> the key misses on B: p50/p99/max
 *   throughput  invalidations/s published by A's relay (pipelined XADDs),
 *               and end to end until the last one misses on B
 *   gets        get throughput on A (journal on, relay running) against a
 *               segment without journal, same geometry, alternating rounds
 *   staleness   a writer updates a "database" and deletes on A while a
 *               reader on B reads through leases; after every invalidation
 *               was applied, B must hold 0 stale entries; reads that saw an
 *               older version while an invalidation was in flight are
 *               counted too
 *
 * Usage: relay_bench A B PLAIN [--samples N] [--burst N] [--seconds S] [--only PART]
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shmcache.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static shmc_t *open_or_die(const char *name)
{
    shmc_t *c = NULL;
    int r = shmc_open(name, 0, NULL, &c);
    if (r) {
        fprintf(stderr, "relay_bench: open %s: %s\n", name, shmc_strerror(r));
        exit(1);
    }
    return c;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static bool present(shmc_t *c, const char *k)
{
    char buf[256];
    size_t vlen;
    return shmc_get(c, k, strlen(k), buf, sizeof buf, &vlen, NULL) == 0;
}

/* Wait (bounded) until key k misses on b; the time it took in ns, or 0.
 * It looks every 20 us and sleeps in between: a loop spinning on one of
 * two cores would leave the relays and Redis one core for three hops and
 * measure the scheduler, not the relay (it put p99 at 7.3 ms here). */
static uint64_t wait_gone(shmc_t *b, const char *k, uint64_t t0, uint64_t limit_ns)
{
    for (;;) {
        if (!present(b, k))
            return now_ns() - t0;
        if (now_ns() - t0 > limit_ns)
            return 0;
        struct timespec nap = {0, 20000};
        nanosleep(&nap, NULL);
    }
}

/* The delete appends its record before it changes A, and the relay wakes
 * at once: B often has the key dropped before A's delete returns. So the
 * delay is measured from the call (an upper bound of the delay from the
 * return), and the call's own time is reported beside it. */
static void latency(shmc_t *a, shmc_t *b, int samples)
{
    uint64_t *d = calloc((size_t)samples, sizeof(uint64_t));
    uint64_t *call = calloc((size_t)samples, sizeof(uint64_t));
    int already = 0;
    int n = 0, lost = 0;
    char k[64];
    for (int i = 0; i < samples; i++) {
        snprintf(k, sizeof k, "lat:%d", i);
        shmc_set(b, k, strlen(k), "v", 1, 0, 0);
        /* let the relays idle, as between real invalidations */
        struct timespec gap = {0, 2000000};
        nanosleep(&gap, NULL);
        uint64_t t0 = now_ns();
        shmc_delete(a, k, strlen(k));
        call[i] = now_ns() - t0;
        already += !present(b, k);
        uint64_t t = wait_gone(b, k, t0, 2000000000ull);
        if (t)
            d[n++] = t;
        else
            lost++;
    }
    qsort(d, (size_t)n, sizeof(uint64_t), cmp_u64);
    qsort(call, (size_t)samples, sizeof(uint64_t), cmp_u64);
    size_t mid = (size_t)n / 2, p99 = (size_t)((double)n * 0.99);
    size_t cmid = (size_t)samples / 2, cp99 = (size_t)((double)samples * 0.99);
    if (n)
        printf("propagation delay (delete called on A -> miss on B), %d samples: "
               "p50 %.3f ms, p99 %.3f ms, max %.3f ms%s; %d of them already missing on B when "
               "A's delete returned; the delete call itself: p50 %.1f us, p99 %.1f us\n", n,
               (double)d[mid] / 1e6, (double)d[p99] / 1e6, (double)d[n - 1] / 1e6,
               lost ? " (some never arrived!)" : "", already, (double)call[cmid] / 1e3,
               (double)call[cp99] / 1e3);
    free(call);
    if (lost)
        printf("  %d deletes not seen on B within 2 s\n", lost);
    free(d);
}

static void throughput(shmc_t *a, shmc_t *b, int burst)
{
    char k[64];
    shmc_relay_status_t st0, st;
    shmc_relay_status_get(a, &st0);
    shmc_journal_info_t in0;
    shmc_journal_info(a, &in0);
    shmc_set(b, "burst:last", 10, "v", 1, 0, 0);
    uint64_t t0 = now_ns();
    for (int i = 0; i < burst - 1; i++) {
        int n = snprintf(k, sizeof k, "burst:%d", i);
        shmc_delete(a, k, (size_t)n);
    }
    shmc_delete(a, "burst:last", 10);
    uint64_t t_app = now_ns() - t0;
    uint64_t target = in0.head_seq - 1 + (uint64_t)burst, t_pub = 0;
    for (;;) {
        shmc_relay_status_get(a, &st);
        if (st.published_seq >= target) {
            t_pub = now_ns() - t0;
            break;
        }
        if (now_ns() - t0 > 60000000000ull)
            break;
    }
    uint64_t t_end = wait_gone(b, "burst:last", t0, 60000000000ull);
    printf("throughput, %d deletes on A: appended at %.0f/s; A's relay published "
           "%.0f/s; last one missing on B after %.1f ms (%.0f/s end to end)%s\n",
           burst, burst / ((double)t_app / 1e9), t_pub ? burst / ((double)t_pub / 1e9) : 0.0,
           (double)t_end / 1e6, t_end ? burst / ((double)t_end / 1e9) : 0.0,
           st.clears != st0.clears ? " [journal overflowed: enlarge it]" : "");
}

static double median(double *v, int n)
{
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (v[j] < v[i]) {
                double t = v[i];
                v[i] = v[j];
                v[j] = t;
            }
    return v[n / 2];
}

/* CPU time of this thread: on a busy machine, wall time mostly measures
 * how long the scheduler kept us off the CPU. */
static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#define GKEYS 10000
#define GKLEN 12 /* "get:%08d" */
static char g_keys[GKEYS][GKLEN + 1];

/* Gets per second of this thread's CPU time, keys prepared beforehand so
 * the loop is the get. */
static double get_rate(shmc_t *c, double seconds)
{
    char buf[256];
    size_t vlen;
    uint64_t n = 0, t0 = cpu_ns(), limit = (uint64_t)(seconds * 1e9);
    unsigned x = 1;
    while (cpu_ns() - t0 < limit) {
        for (int i = 0; i < 4096; i++) {
            x = x * 1103515245u + 12345u;
            shmc_get(c, g_keys[(x >> 8) % GKEYS], GKLEN, buf, sizeof buf, &vlen, NULL);
        }
        n += 4096;
    }
    return (double)n / ((double)(cpu_ns() - t0) / 1e9);
}

static void gets(shmc_t *a, shmc_t *plain, double seconds)
{
    char v[100];
    memset(v, 'x', sizeof v);
    for (int i = 0; i < GKEYS; i++) {
        snprintf(g_keys[i], sizeof g_keys[i], "get:%08d", i);
        shmc_set(a, g_keys[i], GKLEN, v, sizeof v, 0, 0);
        shmc_set(plain, g_keys[i], GKLEN, v, sizeof v, 0, 0);
    }
    /* Rounds alternate on, off, off again: the off/off ratio is this run's
     * noise floor (the same segment measured twice). */
    enum { ROUNDS = 15 };
    double on[ROUNDS], off[ROUNDS], off2[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        /* the order rotates, so no series always runs first */
        for (int k2 = 0; k2 < 3; k2++) {
            int which = (r + k2) % 3;
            double rate = get_rate(which == 0 ? a : plain, seconds / (3 * ROUNDS));
            (which == 0 ? on : which == 1 ? off : off2)[r] = rate;
        }
    }
    double m_on = median(on, ROUNDS), m_off = median(off, ROUNDS), m_off2 = median(off2, ROUNDS);
    printf("gets, 10k keys x 100 B, 1 process, per CPU second, median of %d rotating rounds: "
           "journal on + relays running %.2f M/s, no journal %.2f M/s: ratio %.3f (noise floor: "
           "no journal measured twice, ratio %.3f)\n", ROUNDS, m_on / 1e6, m_off / 1e6,
           m_on / m_off, m_off2 / m_off);
}

/* ---- staleness under load */

#define SKEYS 64
struct db {
    _Atomic uint64_t version[SKEYS];
    _Atomic uint64_t updated_ns[SKEYS];
    _Atomic int done;
    _Atomic uint64_t reads, older, older_5ms;
};

static void reader(const char *bname, struct db *db)
{
    shmc_t *b = open_or_die(bname);
    char k[32], buf[32];
    size_t vlen;
    unsigned x = 7;
    uint64_t reads = 0, older = 0, older5 = 0;
    while (!atomic_load(&db->done)) {
        x = x * 1103515245u + 12345u;
        int i = (int)((x >> 8) % SKEYS);
        int kl = snprintf(k, sizeof k, "price:%d", i);
        uint64_t lease = 0, v;
        int r = shmc_get_or_lease(b, k, (size_t)kl, buf, sizeof buf - 1, &vlen, NULL, 1000, &lease);
        uint64_t now = now_ns();
        if (r == 0) {
            buf[vlen] = 0;
            v = strtoull(buf, NULL, 10);
            reads++;
            /* the version the database held before this read began */
            uint64_t cur = atomic_load(&db->version[i]);
            if (v < cur) {
                older++;
                if (now - atomic_load(&db->updated_ns[i]) > 5000000)
                    older5++;
            }
        } else if (r == -ENOENT && lease) {
            v = atomic_load(&db->version[i]); /* "query the database" */
            int n = snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
            shmc_set_leased(b, k, (size_t)kl, buf, (size_t)n, 0, 0, lease); /* -ESTALE: raced */
        }
    }
    atomic_fetch_add(&db->reads, reads);
    atomic_fetch_add(&db->older, older);
    atomic_fetch_add(&db->older_5ms, older5);
    shmc_close(b);
}

static void staleness(const char *aname, const char *bname, double seconds)
{
    struct db *db = mmap(NULL, sizeof *db, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    memset(db, 0, sizeof *db);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        reader(bname, db);
        _exit(0);
    }
    shmc_t *a = open_or_die(aname);
    shmc_t *b = open_or_die(bname);
    char k[32];
    uint64_t updates = 0, t0 = now_ns();
    while (now_ns() - t0 < (uint64_t)(seconds * 1e9)) {
        int i = (int)(updates % SKEYS);
        int kl = snprintf(k, sizeof k, "price:%d", i);
        atomic_store(&db->updated_ns[i], now_ns());
        atomic_fetch_add(&db->version[i], 1); /* the database changes... */
        shmc_delete(a, k, (size_t)kl);        /* ...then the cache is invalidated */
        updates++;
        struct timespec gap = {0, 100000};
        nanosleep(&gap, NULL);
    }
    /* Wait until every invalidation was applied on B: a last marker. */
    shmc_set(b, "marker", 6, "v", 1, 0, 0);
    shmc_delete(a, "marker", 6);
    wait_gone(b, "marker", now_ns(), 10000000000ull);
    atomic_store(&db->done, 1);
    waitpid(pid, NULL, 0);
    int stale = 0;
    char buf[32];
    size_t vlen;
    for (int i = 0; i < SKEYS; i++) {
        int kl = snprintf(k, sizeof k, "price:%d", i);
        if (shmc_get(b, k, (size_t)kl, buf, sizeof buf - 1, &vlen, NULL) == 0) {
            buf[vlen] = 0;
            if (strtoull(buf, NULL, 10) != atomic_load(&db->version[i]))
                stale++;
        }
    }
    printf("staleness, %.0f s: %llu updates+deletes on A, %llu reads on B (through leases); "
           "reads older than the database while its invalidation was in flight: %llu, of "
           "which >5 ms after the update: %llu; stale entries on B once every invalidation "
           "was applied: %d\n", seconds, (unsigned long long)updates,
           (unsigned long long)atomic_load(&db->reads), (unsigned long long)atomic_load(&db->older),
           (unsigned long long)atomic_load(&db->older_5ms), stale);
    shmc_close(a);
    shmc_close(b);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: relay_bench A B PLAIN [--samples N] [--burst N] [--seconds S]\n");
        return 2;
    }
    int samples = 1000, burst = 100000;
    double seconds = 2;
    const char *only = "";
    for (int i = 4; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--samples"))
            samples = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--burst"))
            burst = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seconds"))
            seconds = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--only"))
            only = argv[i + 1]; /* latency, throughput, gets or staleness */
    }
    shmc_t *a = open_or_die(argv[1]), *b = open_or_die(argv[2]), *plain = open_or_die(argv[3]);
    if (!*only || !strcmp(only, "latency"))
        latency(a, b, samples);
    if (!*only || !strcmp(only, "throughput"))
        throughput(a, b, burst);
    if (!*only || !strcmp(only, "gets"))
        gets(a, plain, seconds * 5);
    shmc_close(plain);
    if (!*only || !strcmp(only, "staleness"))
        staleness(argv[1], argv[2], seconds);
    shmc_close(a);
    shmc_close(b);
    return 0;
}
