/*
 * corrupt.c - segments with random bytes flipped in them, lock words
 * included: a process that attaches must never crash, never hang, and
 * never pay the stripe-lock bound more than once, whatever it meets.
 *
 * Each round builds a segment and fills it, closes it, then flips --flips
 * random bits across the whole object (the way a stray write or a bad
 * image would) and, so that every round meets bad locks, overwrites the
 * lock word of 1 to 3 random stripes: with a thread id that cannot exist,
 * with the pid of a live process (an owner that looks alive, so the lock
 * cannot be taken over), or with random bits. A fresh process then
 * attaches and runs --ops gets, sets and deletes on random keys.
 *
 * A round fails when the worker is killed by a signal, runs past the
 * watchdog (--watchdog-ms, a hang), gets a return code the header does not
 * document for that call, or waits out the lock bound more than once
 * (counted by the handle: no timing is asserted). With --max-ms the time
 * the worker took for all its operations is also held to that limit (make
 * chaos uses SHMC_LOCK_TIMEOUT_MS + 1000). The figures are printed either
 * way. Rounds run --parallel at a time (the waits are sleeps, not work).
 *
 * Usage: corrupt [--rounds N] [--parallel K] [--ops N] [--flips N]
 *                [--max-ms MS] [--watchdog-ms MS] [--seed S]
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "chaosutil.h"

#define NKEYS 2000

struct result {
    int done;            /* 1 when the worker reported */
    int attach_rc;       /* shmc_open's result */
    uint64_t elapsed_ms; /* all operations */
    uint32_t timeouts;   /* full lock waits that timed out */
    uint32_t undocumented;
    uint32_t ok, miss, deadlk, badmsg, busy, other;
    int status;          /* worker's wait status, or -1 watchdog */
    int bad_locks;       /* lock words overwritten */
};

static struct opts {
    unsigned rounds, parallel, ops, flips;
    uint64_t max_ms, watchdog_ms, seed;
} o = {30, 10, 3000, 4096, 0, 30000, 0};

static int documented(int op, int r)
{
    switch (r) {
    case 0: case -EDEADLK: case -EBADMSG: case -EBUSY: case -ENOENT:
        return 1;
    case -ENOBUFS:
        return op == 0;                   /* get */
    case -E2BIG: case -ENOSPC:
        return op == 1;                   /* set */
    default:
        return 0;
    }
}

static void key_of(unsigned i, char *k, size_t cap) { snprintf(k, cap, "corrupt-key-%u", i); }

static int build(const char *name)
{
    shmc_config_t cfg;
    shmc_config_init(&cfg);
    cfg.capacity = 4096;
    cfg.memory = 1u << 20;
    cfg.max_value_len = 4096;
    shmc_t *c = NULL;
    int r = shmc_open(name, SHMC_CREATE | SHMC_EXCL | SHMC_LAZY, &cfg, &c);
    if (r)
        return r;
    char k[32], v[200];
    memset(v, 'v', sizeof v);
    for (unsigned i = 0; i < NKEYS; i++) {
        key_of(i, k, sizeof k);
        shmc_set(c, k, strlen(k), v, 1 + i % sizeof v, 0, 0);
    }
    shmc_close(c);
    return 0;
}

/* Flip bits across the object, then overwrite some lock words. The lock
 * words are found from the header's stripes_off and the stripe size, the
 * only layout this harness relies on. */
static int damage(const char *path, uint64_t *rng, pid_t live, int *nbad)
{
    int fd = open(path, O_RDWR);
    if (fd < 0)
        return -errno;
    struct stat sb;
    if (fstat(fd, &sb) != 0 || sb.st_size < (off_t)sizeof(struct shm_header)) {
        close(fd);
        return -EBADMSG;
    }
    uint8_t *p = mmap(NULL, (size_t)sb.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return -errno;
    const struct shm_header *h = (const struct shm_header *)(void *)p;
    uint64_t soff = h->stripes_off;
    uint32_t nstripes = h->stripes;
    *nbad = 0;
    if (nstripes && soff + (uint64_t)nstripes * sizeof(struct shm_stripe) <= (uint64_t)sb.st_size) {
        int n = 1 + (int)cu_below(rng, 3);
        for (int k = 0; k < n; k++) {
            struct shm_stripe *st =
                (struct shm_stripe *)(void *)(p + soff + cu_below(rng, nstripes) * sizeof(*st));
            uint32_t w;
            switch (cu_below(rng, 3)) {
            case 0: w = 0x3ffffff0u; break;      /* no such thread */
            case 1: w = (uint32_t)live; break;   /* looks alive */
            default: w = (uint32_t)cu_rand(rng); break;
            }
            __atomic_store_n(&st->lock.__data.__lock, (int)w, __ATOMIC_RELAXED);
            (*nbad)++;
        }
    }
    for (unsigned i = 0; i < o.flips; i++) {
        uint64_t off = cu_rand(rng) % (uint64_t)sb.st_size;
        p[off] ^= (uint8_t)(1u << cu_below(rng, 8));
    }
    munmap(p, (size_t)sb.st_size);
    return 0;
}

static void work(const char *name, uint64_t seed, struct result *res)
{
    shmc_t *c = NULL;
    res->attach_rc = shmc_open(name, SHMC_LAZY, NULL, &c);
    if (res->attach_rc) {
        res->done = 1;
        return;
    }
    uint64_t rng = seed | 1;
    char k[32], buf[4200];
    memset(buf, 'w', sizeof buf);
    uint64_t t0 = cu_now_ns();
    for (unsigned i = 0; i < o.ops; i++) {
        key_of(cu_below(&rng, NKEYS), k, sizeof k);
        unsigned what = cu_below(&rng, 10);
        int op = what < 5 ? 0 : what < 8 ? 1 : 2;
        int r;
        size_t vlen;
        if (op == 0)
            r = shmc_get(c, k, strlen(k), buf, sizeof buf, &vlen, NULL);
        else if (op == 1)
            r = shmc_set(c, k, strlen(k), buf, 1 + cu_below(&rng, 300), 0, 0);
        else
            r = shmc_delete(c, k, strlen(k));
        if (!documented(op, r))
            res->undocumented++;
        if (r == 0) res->ok++;
        else if (r == -ENOENT) res->miss++;
        else if (r == -EDEADLK) res->deadlk++;
        else if (r == -EBADMSG) res->badmsg++;
        else if (r == -EBUSY) res->busy++;
        else res->other++;
    }
    res->elapsed_ms = (cu_now_ns() - t0) / 1000000u;
    res->timeouts = c->lock_timeouts;
    shmc_close(c);
    res->done = 1;
}

/* One round, in its own process: build, damage, run a worker under a
 * watchdog. */
static void round_run(unsigned round, struct result *res)
{
    char name[64], path[96];
    snprintf(name, sizeof name, "/shmc-corrupt-%ld-%u", (long)getpid(), round);
    snprintf(path, sizeof path, "/dev/shm%s", name);
    uint64_t rng = cu_mix(o.seed + round * 0x9e3779b97f4a7c15ull) | 1;
    shmc_unlink(name);
    if (build(name) != 0) {
        res->attach_rc = -1000;
        return;
    }
    /* A live process whose pid a lock word may name. */
    pid_t live = fork();
    if (live == 0) {
        for (;;)
            pause();
    }
    damage(path, &rng, live, &res->bad_locks);
    pid_t w = fork();
    if (w == 0) {
        signal(SIGALRM, SIG_DFL);
        work(name, cu_rand(&rng), res);
        _exit(0);
    }
    uint64_t t0 = cu_now_ns();
    int st = 0;
    for (;;) {
        pid_t r = waitpid(w, &st, WNOHANG);
        if (r == w)
            break;
        if ((cu_now_ns() - t0) / 1000000u > o.watchdog_ms) {
            kill(w, SIGKILL);
            waitpid(w, &st, 0);
            st = -1;
            break;
        }
        cu_sleep_us(5000);
    }
    res->status = st;
    kill(live, SIGKILL);
    waitpid(live, NULL, 0);
    shmc_unlink(name);
}

static int round_failed(const struct result *r)
{
    if (r->attach_rc == -1000)
        return 1; /* could not even build */
    if (r->status == -1 || WIFSIGNALED(r->status) || !r->done)
        return 1;
    if (r->attach_rc)
        return 0; /* refused at attach: a clean answer */
    return r->undocumented || r->timeouts > 1 || (o.max_ms && r->elapsed_ms > o.max_ms);
}

int main(int argc, char **argv)
{
    o.seed = (uint64_t)getpid() * 2654435761u ^ cu_now_ns();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "corrupt: %s needs a value\n", a);
            return 2;
        }
        uint64_t n = strtoull(v, NULL, 0);
        if (!strcmp(a, "--rounds")) o.rounds = (unsigned)n;
        else if (!strcmp(a, "--parallel")) o.parallel = (unsigned)n;
        else if (!strcmp(a, "--ops")) o.ops = (unsigned)n;
        else if (!strcmp(a, "--flips")) o.flips = (unsigned)n;
        else if (!strcmp(a, "--max-ms")) o.max_ms = n;
        else if (!strcmp(a, "--watchdog-ms")) o.watchdog_ms = n;
        else if (!strcmp(a, "--seed")) o.seed = n;
        else {
            fprintf(stderr, "usage: corrupt [--rounds N] [--parallel K] [--ops N] [--flips N] "
                            "[--max-ms MS] [--watchdog-ms MS] [--seed S]\n");
            return 2;
        }
        i++;
    }
    if (!o.parallel)
        o.parallel = 1;
    struct result *res = mmap(NULL, o.rounds * sizeof(*res), PROT_READ | PROT_WRITE,
                              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (res == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    memset(res, 0, o.rounds * sizeof(*res));
    uint64_t t0 = cu_now_ns();
    unsigned running = 0;
    for (unsigned r = 0; r < o.rounds; r++) {
        if (running == o.parallel) {
            while (wait(NULL) < 0 && errno == EINTR) {
            }
            running--;
        }
        fflush(stdout);
        pid_t p = fork();
        if (p == 0) {
            round_run(r, &res[r]);
            _exit(0);
        }
        running++;
    }
    while (wait(NULL) > 0 || errno == EINTR) {
    }
    unsigned failed = 0, refused = 0, crashed = 0, hung = 0, twice = 0, undoc = 0, slow = 0;
    uint64_t max_ms = 0, sum_ms = 0, deadlk = 0, badmsg = 0, ops_ok = 0;
    unsigned ran = 0, waited = 0;
    for (unsigned r = 0; r < o.rounds; r++) {
        const struct result *x = &res[r];
        if (round_failed(x)) {
            failed++;
            printf("round %u FAILED: attach %d, status %d, undocumented %u, timeouts %u, %llu ms\n", r,
                   x->attach_rc, x->status, x->undocumented, x->timeouts,
                   (unsigned long long)x->elapsed_ms);
        }
        if (x->status == -1) hung++;
        else if (WIFSIGNALED(x->status)) crashed++;
        if (x->attach_rc) {
            refused++;
            continue;
        }
        ran++;
        twice += x->timeouts > 1;
        waited += x->timeouts == 1;
        undoc += x->undocumented;
        slow += o.max_ms && x->elapsed_ms > o.max_ms;
        max_ms = x->elapsed_ms > max_ms ? x->elapsed_ms : max_ms;
        sum_ms += x->elapsed_ms;
        deadlk += x->deadlk;
        badmsg += x->badmsg;
        ops_ok += x->ok + x->miss;
    }
    printf("corrupt: %u rounds (%u flips + 1-3 lock words each), %u ops per worker, %.1f s\n",
           o.rounds, o.flips, o.ops, (double)(cu_now_ns() - t0) / 1e9);
    printf("  attach refused %u, workers ran %u: crashed %u, hung %u, undocumented codes %llu\n",
           refused, ran, crashed, hung, (unsigned long long)undoc);
    printf("  lock bound paid: once by %u workers, twice or more by %u; -EDEADLK %llu, -EBADMSG "
           "%llu, answered %llu\n", waited, twice, (unsigned long long)deadlk,
           (unsigned long long)badmsg, (unsigned long long)ops_ok);
    printf("  time for all %u ops per worker: max %llu ms, mean %llu ms (bound %u ms)%s\n", o.ops,
           (unsigned long long)max_ms, (unsigned long long)(ran ? sum_ms / ran : 0),
           SHMC_LOCK_TIMEOUT_MS, o.max_ms ? "" : " (not held to a limit: see --max-ms)");
    if (o.max_ms)
        printf("  over the %llu ms limit: %u\n", (unsigned long long)o.max_ms, slow);
    printf("corrupt: %s\n", failed ? "FAILED" : "ok");
    return failed ? 1 : 0;
}
