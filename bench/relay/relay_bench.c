/*
 * relay_bench.c - what shmcache-relay costs and delivers, measured on two
 * segments ("hosts") whose relays share one Redis (bench/relay/run.sh
 * starts redis-server and the relays, then runs this).
 *
 *   latency     delete returns on A -> the key misses on B: p50/p99/max,
 *               with the relays idle between samples, then again while a
 *               background process deletes on A at --flow per second
 *   throughput  invalidations/s published by A's relay (pipelined XADDs),
 *               and end to end until the last one misses on B
 *   gets        get throughput on A (journal on, both relays running)
 *               against a segment without journal, same geometry, with the
 *               relays stopped (SIGSTOP) meanwhile: a host without relay.
 *               Once with no invalidations, then with a background process
 *               deleting at each --rates on the segment being read (on A
 *               the relays carry them to B). Series rotate round by round;
 *               the plain segment measured twice gives the noise floor
 *               (see gets_at)
 *   staleness   a writer updates a "database" and deletes on A while a
 *               reader on B reads through leases; after every invalidation
 *               was applied, B must hold 0 stale entries; reads that saw an
 *               older version while an invalidation was in flight are
 *               counted too
 *
 * Usage: relay_bench A B PLAIN [--samples N] [--burst N] [--seconds S] [--only PART]
 *                    [--flow R] [--rates R,R..] [--pids RELAY_A,RELAY_B,REDIS]
 */
#include <errno.h>
#include <signal.h>
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
static void latency(shmc_t *a, shmc_t *b, int samples, const char *label)
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
        printf("propagation delay (delete called on A -> miss on B)%s, %d samples: "
               "p50 %.3f ms, p99 %.3f ms, max %.3f ms%s; %d of them already missing on B when "
               "A's delete returned; the delete call itself: p50 %.1f us, p99 %.1f us\n", label, n,
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

struct rate {
    double cpu, wall; /* gets per second of this thread's CPU time / of wall time */
};

/* Gets for `seconds` of this thread's CPU time, keys prepared beforehand
 * so the loop is the get. */
static struct rate get_rate(shmc_t *c, double seconds)
{
    char buf[256];
    size_t vlen;
    uint64_t n = 0, t0 = cpu_ns(), w0 = now_ns(), limit = (uint64_t)(seconds * 1e9);
    unsigned x = 1;
    while (cpu_ns() - t0 < limit) {
        for (int i = 0; i < 4096; i++) {
            x = x * 1103515245u + 12345u;
            shmc_get(c, g_keys[(x >> 8) % GKEYS], GKLEN, buf, sizeof buf, &vlen, NULL);
        }
        n += 4096;
    }
    return (struct rate){(double)n / ((double)(cpu_ns() - t0) / 1e9),
                         (double)n / ((double)(now_ns() - w0) / 1e9)};
}

/* The processes whose cost the gets measurement attributes to the journal:
 * both relays (SIGSTOPped while the "no relay" series run) and Redis
 * (CPU counted only). run.sh passes their PIDs. */
static pid_t g_relays[2];
static pid_t g_redis;

static void relays_signal(int sig)
{
    for (int i = 0; i < 2; i++)
        if (g_relays[i] > 0)
            kill(g_relays[i], sig);
}

/* utime + stime of a process, in clock ticks (0 when unknown). */
static uint64_t proc_ticks(pid_t pid)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = 0;
    char *p = strrchr(line, ')'); /* the name may hold spaces */
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return 0;
    return ut + st;
}

/* CPU ticks of relay A, relay B and Redis, added to t[] */
static void helpers_ticks(uint64_t t[3], int sign)
{
    pid_t p[3] = {g_relays[0], g_relays[1], g_redis};
    for (int i = 0; i < 3; i++)
        if (p[i] > 0)
            t[i] += (uint64_t)sign * proc_ticks(p[i]);
}

/* A background process that deletes at a steady rate on the segment the
 * current series reads (target 1: A, 2: the plain one; 0: pause), so the
 * write load is the same in every series and only on A does it become
 * journal records that the relays carry. */
struct deleter {
    _Atomic int target, stop;
    _Atomic uint64_t done[3];
    double p50_us[3], p99_us[3]; /* the delete calls' own time, per target */
};

#define DSAMPLES 400000

static void deleter_main(const char *aname, const char *pname, double rate, struct deleter *d)
{
    shmc_t *seg[3] = {NULL, open_or_die(aname), open_or_die(pname)};
    uint64_t *lat[3] = {NULL, calloc(DSAMPLES, 8), calloc(DSAMPLES, 8)};
    size_t nlat[3] = {0};
    char k[32];
    uint64_t i = 0, due = 0, t0 = now_ns();
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    while (!atomic_load(&d->stop)) {
        int t = atomic_load(&d->target);
        /* Catch up to the rate, bounded: a descheduled deleter does not
         * burst more than 50 ms' worth. */
        uint64_t want = (uint64_t)((double)(now_ns() - t0) / 1e9 * rate);
        if (want > due + (uint64_t)(rate / 20))
            due = want - (uint64_t)(rate / 20);
        for (; due < want; due++) {
            if (t) {
                int n = snprintf(k, sizeof k, "inv:%llu", (unsigned long long)(i++ % 100000));
                uint64_t c0 = now_ns();
                shmc_delete(seg[t], k, (size_t)n);
                if (nlat[t] < DSAMPLES)
                    lat[t][nlat[t]++] = now_ns() - c0;
                atomic_fetch_add_explicit(&d->done[t], 1, memory_order_relaxed);
            }
        }
        next.tv_nsec += 1000000;
        if (next.tv_nsec >= 1000000000) {
            next.tv_sec++;
            next.tv_nsec -= 1000000000;
        }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
    for (int t = 1; t < 3; t++) {
        qsort(lat[t], nlat[t], 8, cmp_u64);
        d->p50_us[t] = nlat[t] ? (double)lat[t][nlat[t] / 2] / 1e3 : 0;
        d->p99_us[t] = nlat[t] ? (double)lat[t][(size_t)((double)nlat[t] * 0.99)] / 1e3 : 0;
        free(lat[t]);
        shmc_close(seg[t]);
    }
}

/* The same as latency, while a background process deletes on A at `rate`
 * (the relay is then gathering, not asleep: records wait up to 1 ms). */
static void latency_flow(shmc_t *a, shmc_t *b, const char *aname, const char *pname, int samples,
                         double rate)
{
    struct deleter *d = mmap(NULL, sizeof *d, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    memset(d, 0, sizeof *d);
    atomic_store(&d->target, 1);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        deleter_main(aname, pname, rate, d);
        _exit(0);
    }
    char label[64];
    snprintf(label, sizeof label, " while %.0f deletes/s flow on A", rate);
    latency(a, b, samples, label);
    atomic_store(&d->stop, 1);
    waitpid(pid, NULL, 0);
    munmap(d, sizeof *d);
}

/* Series, rotated each round so none always runs first:
 *   on      gets on A, both relays running, deletes (if any) on A
 *   off     gets on the plain segment, relays stopped, deletes on it
 *   off2    the same again: this run's noise floor (off2 / off)
 *   quiet   gets on A, relays stopped, deletes on the plain segment: A's
 *           own placement against the plain segment's, without any relay
 *           (on / quiet is then the relays' cost on the same segment) */
enum { S_ON, S_OFF, S_OFF2, S_QUIET, NSERIES };
#define ROUNDS 31

/* Median over the rounds of series x / series y. */
static double ratio(double v[][ROUNDS], int x, int y)
{
    double q[ROUNDS];
    for (int r = 0; r < ROUNDS; r++)
        q[r] = v[x][r] / v[y][r];
    return median(q, ROUNDS);
}

static void gets_at(shmc_t *a, shmc_t *plain, const char *aname, const char *pname, double rate,
                    double seconds)
{
    struct deleter *d = mmap(NULL, sizeof *d, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    memset(d, 0, sizeof *d);
    pid_t pid = -1;
    if (rate > 0) {
        fflush(stdout);
        pid = fork();
        if (pid == 0) {
            deleter_main(aname, pname, rate, d);
            _exit(0);
        }
    }
    double cpu[NSERIES][ROUNDS], wall[NSERIES][ROUNDS];
    uint64_t on_ticks[3] = {0}, on_wall = 0, sent[3] = {0};
    double slice = seconds / (NSERIES * ROUNDS);
    for (int r = 0; r < ROUNDS; r++) {
        for (int k2 = 0; k2 < NSERIES; k2++) {
            int s = (r + k2) % NSERIES;
            int target = s == S_ON ? 1 : 2;
            if (s != S_ON)
                relays_signal(SIGSTOP);
            atomic_store(&d->target, target);
            /* let the relays catch up with what the previous series left */
            struct timespec settle = {0, 20000000};
            nanosleep(&settle, NULL);
            uint64_t d0 = atomic_load(&d->done[target]);
            uint64_t w0 = now_ns();
            if (s == S_ON)
                helpers_ticks(on_ticks, -1);
            struct rate g = get_rate(s == S_ON || s == S_QUIET ? a : plain, slice);
            if (s == S_ON) {
                helpers_ticks(on_ticks, 1);
                on_wall += now_ns() - w0;
            }
            sent[s == S_ON ? 1 : 2] += atomic_load(&d->done[target]) - d0;
            atomic_store(&d->target, 0);
            relays_signal(SIGCONT);
            cpu[s][r] = g.cpu;
            wall[s][r] = g.wall;
        }
    }
    atomic_store(&d->stop, 1);
    if (pid > 0)
        waitpid(pid, NULL, 0);
    /* Ratios are taken round by round (the series of one round ran within
     * a second of each other), then their median: the machine's load
     * drifts between rounds, much less within one. */
    double rc_on = ratio(cpu, S_ON, S_OFF), rc_floor = ratio(cpu, S_OFF2, S_OFF);
    double rw_on = ratio(wall, S_ON, S_OFF), rw_floor = ratio(wall, S_OFF2, S_OFF);
    double rc_quiet = ratio(cpu, S_ON, S_QUIET), rw_quiet = ratio(wall, S_ON, S_QUIET);
    double mc[NSERIES], mw[NSERIES];
    for (int s = 0; s < NSERIES; s++) {
        mc[s] = median(cpu[s], ROUNDS);
        mw[s] = median(wall[s], ROUNDS);
    }
    double hz = (double)sysconf(_SC_CLK_TCK), secs = (double)on_wall / 1e9;
    double pct[3];
    for (int i = 0; i < 3; i++)
        pct[i] = secs > 0 && hz > 0 ? 100.0 * (double)on_ticks[i] / hz / secs : 0.0;
    char what[64] = "no invalidations";
    if (rate > 0)
        snprintf(what, sizeof what, "%.0f deletes/s", rate);
    printf("gets, %s: journal on + relays running vs no journal, no relay: per CPU second "
           "%.2f vs %.2f M/s (medians), ratio %.3f (noise floor %.3f); per wall second %.2f vs %.2f M/s, "
           "ratio %.3f (noise floor %.3f); on A with the relays stopped instead: ratio %.3f "
           "per CPU s, %.3f per wall s; CPU while journal on: relay A %.1f %%, relay B %.1f %%, "
           "Redis %.1f %% of a core\n",
           what, mc[S_ON] / 1e6, mc[S_OFF] / 1e6, rc_on, rc_floor, mw[S_ON] / 1e6,
           mw[S_OFF] / 1e6, rw_on, rw_floor, rc_quiet, rw_quiet, pct[0], pct[1], pct[2]);
    if (rate > 0)
        printf("  deletes done: %llu on A in the journal-on rounds (%.0f/s), %llu on the plain "
               "segment in the others; the delete call: on A p50 %.1f us, p99 %.1f us; on the "
               "plain segment p50 %.1f us, p99 %.1f us\n",
               (unsigned long long)sent[1], secs > 0 ? (double)sent[1] / secs : 0.0,
               (unsigned long long)sent[2], d->p50_us[1], d->p99_us[1], d->p50_us[2], d->p99_us[2]);
    munmap(d, sizeof *d);
}

static void gets(shmc_t *a, shmc_t *plain, const char *aname, const char *pname,
                 const char *rates, double seconds)
{
    char v[100];
    memset(v, 'x', sizeof v);
    for (int i = 0; i < GKEYS; i++) {
        snprintf(g_keys[i], sizeof g_keys[i], "get:%08d", i);
        shmc_set(a, g_keys[i], GKLEN, v, sizeof v, 0, 0);
        shmc_set(plain, g_keys[i], GKLEN, v, sizeof v, 0, 0);
    }
    printf("gets: 10k keys x 100 B, 1 process, %.1f s of get CPU per line in %d rounds that "
           "each run every series once (rotating order); ratios are medians of the per-round "
           "ratios\n", seconds, ROUNDS);
    for (const char *p = rates; *p;) {
        char *end;
        double rate = strtod(p, &end);
        if (end == p)
            break;
        gets_at(a, plain, aname, pname, rate, seconds);
        p = *end == ',' ? end + 1 : end;
    }
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
        fprintf(stderr, "usage: relay_bench A B PLAIN [--samples N] [--burst N] [--seconds S] "
                        "[--only PART] [--flow R] [--rates R,R..] [--pids RELAY_A,RELAY_B,REDIS]\n");
        return 2;
    }
    int samples = 1000, burst = 100000;
    double seconds = 2;
    const char *only = "", *rates = "0,1000,10000";
    double flow = 1000;
    for (int i = 4; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--samples"))
            samples = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--burst"))
            burst = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seconds"))
            seconds = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--only"))
            only = argv[i + 1]; /* latency, throughput, gets or staleness */
        else if (!strcmp(argv[i], "--flow"))
            flow = atof(argv[i + 1]); /* deletes/s during the second latency run */
        else if (!strcmp(argv[i], "--rates"))
            rates = argv[i + 1]; /* deletes/s during the gets; 0: none */
        else if (!strcmp(argv[i], "--pids")) {
            int ra = 0, rb = 0, rd = 0;
            sscanf(argv[i + 1], "%d,%d,%d", &ra, &rb, &rd);
            g_relays[0] = ra;
            g_relays[1] = rb;
            g_redis = rd;
        }
    }
    shmc_t *a = open_or_die(argv[1]), *b = open_or_die(argv[2]), *plain = open_or_die(argv[3]);
    if (!*only || !strcmp(only, "latency"))
        latency(a, b, samples, "");
    if (!*only || !strcmp(only, "latency"))
        latency_flow(a, b, argv[1], argv[3], samples, flow);
    if (!*only || !strcmp(only, "throughput"))
        throughput(a, b, burst);
    if (!*only || !strcmp(only, "gets"))
        gets(a, plain, argv[1], argv[3], rates, seconds * 5);
    shmc_close(plain);
    if (!*only || !strcmp(only, "staleness"))
        staleness(argv[1], argv[2], seconds);
    shmc_close(a);
    shmc_close(b);
    return 0;
}
