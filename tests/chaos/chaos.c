/*
 * chaos.c - kill -9 under load.
 *
 * N worker processes run a mixed workload on one segment (set, add, get,
 * get_stale, delete, incr, touch, clear, flush_expired, leases, invalidate,
 * tags, iterate, stats) while the parent SIGKILLs a random worker at a random
 * moment every few milliseconds and starts a new one in its place. Values
 * carry their key, a version and a checksum (chaosutil.h).
 *
 * Each worker times every call and reports through a MAP_SHARED area (never
 * an assert): operations done, the longest call, wrong values, unexpected
 * errors. The run fails when
 *   - any completed call took longer than --stall-limit-ms (1000),
 *   - any get returned a value whose key, length or checksum is wrong,
 *   - any call returned an error it may not return (-EDEADLK, -EBADMSG, ...),
 *   - a worker died of anything but our SIGKILL, or did not stop when asked,
 *   - shmc_check (and `shmcache-tool check` with --tool) finds the segment
 *     unsound at the end.
 *
 * Usage: chaos [--seconds S] [--workers N] [--kill-interval-ms M]
 *              [--keys K] [--tool PATH] [--seed X] [--stall-limit-ms L]
 *              [--inject-wrong N]
 * --inject-wrong N is the harness's self-test: every N-th hit has a byte
 * flipped before it is verified, which must make the run fail.
 * Exit 0: every check held. Exit 1: a check failed (the report says which).
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shmcache.h"
#include "chaosutil.h"

#define MAX_WORKERS 64
#define VAL_MAX 2048u
#define NTAGS 16u

enum op {
    OP_GET, OP_SET, OP_ADD, OP_DELETE, OP_INCR, OP_TOUCH, OP_STALE, OP_LEASE, OP_INVALIDATE,
    OP_TAGSET, OP_TAGINV, OP_CLEAR, OP_FLUSH, OP_ITERATE, OP_STATS, OP_OPEN, OP_COUNT
};
static const char *const op_names[OP_COUNT] = {
    "get", "set", "add", "delete", "incr", "touch", "get_stale", "lease", "invalidate",
    "set_tagged", "invalidate_tag", "clear", "flush_expired", "iterate", "stats", "open",
};

/* One row per worker position; a restarted worker adds to its position's
 * row. Written by the worker, read by the parent at the end. */
struct wrow {
    _Atomic uint64_t ops;
    _Atomic uint64_t max_ns;
    _Atomic uint32_t max_op;
    _Atomic uint64_t wrong;        /* values that failed verification */
    _Atomic uint64_t errors;       /* error codes a call may not return */
    _Atomic uint64_t hits, misses;
    _Atomic int32_t first_err;     /* first unexpected error code */
    _Atomic uint32_t first_err_op;
    char wrong_msg[160];           /* first wrong value, for the report */
    _Atomic uint32_t wrong_set;
    uint8_t pad[64];
};

struct shared {
    _Atomic int stop;
    struct wrow row[MAX_WORKERS];
};

static struct shared *g_sh;
static char g_name[64];
static uint32_t g_keys = 2000;
static uint64_t g_inject; /* self-test: flip a byte of every N-th hit */

static void note_err(struct wrow *w, enum op op, int r)
{
    atomic_fetch_add(&w->errors, 1);
    int32_t zero = 0;
    if (atomic_compare_exchange_strong(&w->first_err, &zero, r))
        atomic_store(&w->first_err_op, (uint32_t)op);
}

static void note_wrong(struct wrow *w, const char *what, const char *key, size_t vlen)
{
    atomic_fetch_add(&w->wrong, 1);
    uint32_t zero = 0;
    if (atomic_compare_exchange_strong(&w->wrong_set, &zero, 1))
        snprintf(w->wrong_msg, sizeof(w->wrong_msg), "%s: key %s, %zu bytes", what, key, vlen);
}

static void key_of(char *k, size_t cap, char kind, uint32_t i)
{
    snprintf(k, cap, "%c:%06u", kind, i);
}

static int iter_fn(const shmc_entry_t *e, void *arg)
{
    (void)e;
    (*(uint64_t *)arg)++;
    return 0;
}

/* Verify a value read for key index ki; counters hold decimal digits. */
static void verify(struct wrow *w, bool counter, uint32_t ki, const char *key, const uint8_t *v,
                   size_t vlen, uint32_t flags)
{
    if (counter) {
        bool ok = vlen >= 1 && vlen <= 20;
        for (size_t i = 0; ok && i < vlen; i++)
            ok = v[i] >= '0' && v[i] <= '9';
        if (!ok)
            note_wrong(w, "counter is not a decimal number", key, vlen);
        return;
    }
    uint64_t ver;
    const char *why = cv_verify(v, vlen, ki, &ver);
    if (why)
        note_wrong(w, why, key, vlen);
    else if (flags != (ki ^ 0x5a5au))
        note_wrong(w, "flags differ from the ones stored with the value", key, vlen);
}

static int worker(int pos, uint64_t seed)
{
    struct wrow *w = &g_sh->row[pos];
    uint64_t rs = cu_mix(seed ^ ((uint64_t)getpid() << 20) ^ cu_now_ns()) | 1;
    uint64_t t0 = cu_now_ns();
    shmc_t *c = NULL;
    int r = shmc_open(g_name, 0, NULL, &c);
    uint64_t dt = cu_now_ns() - t0;
    if (dt > atomic_load(&w->max_ns)) {
        atomic_store(&w->max_ns, dt);
        atomic_store(&w->max_op, OP_OPEN);
    }
    if (r) {
        note_err(w, OP_OPEN, r);
        return 2;
    }
    static uint8_t val[VAL_MAX], buf[VAL_MAX];
    uint64_t version = (uint64_t)getpid() << 32;
    uint64_t local_ops = 0;
    while (!atomic_load_explicit(&g_sh->stop, memory_order_relaxed)) {
        uint32_t p = cu_below(&rs, 10000);
        enum op op;
        if (p < 4000) op = OP_GET;
        else if (p < 6200) op = OP_SET;
        else if (p < 6500) op = OP_ADD;
        else if (p < 7300) op = OP_DELETE;
        else if (p < 7900) op = OP_INCR;
        else if (p < 8100) op = OP_TOUCH;
        else if (p < 8500) op = OP_STALE;
        else if (p < 9000) op = OP_LEASE;
        else if (p < 9300) op = OP_INVALIDATE;
        else if (p < 9800) op = OP_TAGSET;
        else if (p < 9850) op = OP_TAGINV;
        else if (p < 9851) op = OP_CLEAR;
        else if (p < 9860) op = OP_FLUSH;
        else if (p < 9861) op = OP_ITERATE;
        else if (p < 9880) op = OP_STATS;
        else op = OP_GET;
        uint32_t ki = cu_below(&rs, g_keys);
        bool counter = op == OP_INCR || (op == OP_GET && (ki & 7) == 0 && cu_below(&rs, 4) == 0);
        char key[32];
        key_of(key, sizeof(key), counter ? 'n' : 'k', counter ? ki % 64 : ki);
        size_t klen = strlen(key);
        uint32_t len = CV_HDR + cu_below(&rs, cu_below(&rs, 8) ? 200 : VAL_MAX - CV_HDR);
        uint64_t ttl = cu_below(&rs, 4) ? 0 : 20 + cu_below(&rs, 2000);
        uint32_t flags = ki ^ 0x5a5au;
        char tagbuf[2][16];
        const char *tags[2] = {tagbuf[0], tagbuf[1]};
        size_t vlen = 0;
        shmc_item_info_t info;
        uint64_t res = 0, lease = 0, n = 0;
        shmc_stats_t st;
        if (op == OP_SET || op == OP_ADD || op == OP_TAGSET || op == OP_LEASE)
            cv_make(val, len, ki, ++version);
        t0 = cu_now_ns();
        switch (op) {
        case OP_GET:
        case OP_STALE:
            r = (op == OP_GET ? shmc_get : shmc_get_stale)(c, key, klen, buf, sizeof(buf), &vlen, &info);
            if (r == 0) {
                uint64_t h = atomic_fetch_add_explicit(&w->hits, 1, memory_order_relaxed);
                if (g_inject && h % g_inject == g_inject - 1 && vlen)
                    buf[vlen - 1] ^= 0x40;
                verify(w, counter, ki, key, buf, vlen, info.flags);
            } else if (r == -ENOENT) {
                atomic_fetch_add_explicit(&w->misses, 1, memory_order_relaxed);
            } else {
                note_err(w, op, r);
            }
            break;
        case OP_SET:
            r = shmc_set(c, key, klen, val, len, ttl, flags);
            if (r)
                note_err(w, op, r);
            break;
        case OP_ADD:
            r = shmc_add(c, key, klen, val, len, ttl, flags);
            if (r && r != -EEXIST)
                note_err(w, op, r);
            break;
        case OP_DELETE:
            r = shmc_delete(c, key, klen);
            if (r && r != -ENOENT)
                note_err(w, op, r);
            break;
        case OP_INCR: {
            uint64_t init = 1;
            int64_t delta = cu_below(&rs, 8) ? 1 : -3;
            r = shmc_incr(c, key, klen, delta, &init, ttl, &res);
            if (r)
                note_err(w, op, r);
            break;
        }
        case OP_TOUCH:
            r = shmc_touch(c, key, klen, ttl);
            if (r && r != -ENOENT)
                note_err(w, op, r);
            break;
        case OP_LEASE:
            r = shmc_get_or_lease(c, key, klen, buf, sizeof(buf), &vlen, &info, 200, &lease);
            if (r == 0) {
                atomic_fetch_add_explicit(&w->hits, 1, memory_order_relaxed);
                verify(w, false, ki, key, buf, vlen, info.flags);
            } else if (r == -ENOENT && lease) {
                r = shmc_set_leased(c, key, klen, val, len, ttl, flags, lease);
                if (r && r != -ESTALE)
                    note_err(w, op, r);
            } else if (r != -EBUSY) {
                note_err(w, op, r);
            }
            break;
        case OP_INVALIDATE:
            r = shmc_invalidate(c, key, klen);
            if (r && r != -ENOENT)
                note_err(w, op, r);
            break;
        case OP_TAGSET:
            snprintf(tagbuf[0], sizeof(tagbuf[0]), "t%u", ki % NTAGS);
            snprintf(tagbuf[1], sizeof(tagbuf[1]), "u%u", (ki / NTAGS) % NTAGS);
            r = shmc_set_tagged(c, key, klen, val, len, ttl, flags, tags, 1 + (ki & 1));
            if (r)
                note_err(w, op, r);
            break;
        case OP_TAGINV:
            snprintf(tagbuf[0], sizeof(tagbuf[0]), "%c%u", cu_below(&rs, 2) ? 't' : 'u',
                     cu_below(&rs, NTAGS));
            r = shmc_invalidate_tag(c, tagbuf[0]);
            if (r)
                note_err(w, op, r);
            break;
        case OP_CLEAR:
            r = shmc_clear(c);
            if (r)
                note_err(w, op, r);
            break;
        case OP_FLUSH: {
            int64_t f = shmc_flush_expired(c);
            if (f < 0)
                note_err(w, op, (int)f);
            break;
        }
        case OP_ITERATE:
            r = shmc_iterate(c, iter_fn, &n);
            if (r)
                note_err(w, op, r);
            break;
        case OP_STATS:
            r = shmc_stats(c, &st);
            if (r)
                note_err(w, op, r);
            break;
        default:
            break;
        }
        dt = cu_now_ns() - t0;
        if (dt > atomic_load_explicit(&w->max_ns, memory_order_relaxed)) {
            atomic_store(&w->max_ns, dt);
            atomic_store(&w->max_op, (uint32_t)op);
        }
        /* publish in batches: the killer may cut us anywhere, losing at
         * most a few counts, never inventing any */
        if (++local_ops == 64) {
            atomic_fetch_add_explicit(&w->ops, local_ops, memory_order_relaxed);
            local_ops = 0;
        }
    }
    atomic_fetch_add(&w->ops, local_ops);
    shmc_close(c);
    return 0;
}

static pid_t spawn(int pos, uint64_t seed)
{
    fflush(NULL);
    pid_t p = fork();
    if (p == 0)
        _exit(worker(pos, seed));
    return p;
}

static void print_problem(const char *problem, void *arg)
{
    (void)arg;
    printf("  check: %s\n", problem);
}

static void usage(void)
{
    fprintf(stderr, "usage: chaos [--seconds S] [--workers N] [--kill-interval-ms M] [--keys K]\n"
                    "             [--tool PATH] [--seed X] [--stall-limit-ms L] [--inject-wrong N]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    double seconds = 6;
    int nworkers = 4;
    unsigned kill_ms = 5, stall_limit_ms = 1000;
    const char *tool = NULL;
    uint64_t seed = cu_now_ns();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        if (!strcmp(a, "--seconds")) seconds = atof(v);
        else if (!strcmp(a, "--workers")) nworkers = atoi(v);
        else if (!strcmp(a, "--kill-interval-ms")) kill_ms = (unsigned)atoi(v);
        else if (!strcmp(a, "--keys")) g_keys = (uint32_t)atoi(v);
        else if (!strcmp(a, "--tool")) tool = v;
        else if (!strcmp(a, "--seed")) seed = strtoull(v, NULL, 0);
        else if (!strcmp(a, "--stall-limit-ms")) stall_limit_ms = (unsigned)atoi(v);
        else if (!strcmp(a, "--inject-wrong")) g_inject = strtoull(v, NULL, 0);
        else usage();
    }
    if (nworkers < 1 || nworkers > MAX_WORKERS || seconds <= 0 || g_keys < 64)
        usage();
    snprintf(g_name, sizeof(g_name), "/shmc-chaos-%d", (int)getpid());
    g_sh = mmap(NULL, sizeof(*g_sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (g_sh == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    /* Small on purpose: evictions, log wrap-around and slot reuse all
     * happen many times a second. */
    shmc_config_t cfg;
    shmc_config_init(&cfg);
    cfg.capacity = 4096;
    cfg.memory = 1u << 20;
    cfg.max_value_len = 4096;
    cfg.max_key_len = 64;
    shmc_t *c;
    int r = shmc_open(g_name, SHMC_CREATE | SHMC_EXCL, &cfg, &c);
    if (r) {
        fprintf(stderr, "chaos: create %s: %s\n", g_name, shmc_strerror(r));
        return 1;
    }
    printf("chaos: %s, %d workers, %.1f s, a kill every ~%u ms, %u keys, seed %" PRIu64 "\n", g_name,
           nworkers, seconds, kill_ms, g_keys, seed);
    pid_t pids[MAX_WORKERS];
    for (int i = 0; i < nworkers; i++)
        pids[i] = spawn(i, seed + (uint64_t)i);
    uint64_t rs = cu_mix(seed) | 1, kills = 0, crashes = 0, restarts = 0;
    uint64_t end = cu_now_ns() + (uint64_t)(seconds * 1e9);
    char crash_msg[160] = "";
    while (cu_now_ns() < end) {
        /* a random moment: uniform over [0, 2 * interval) in microseconds */
        cu_sleep_us(cu_below(&rs, 2000u * kill_ms + 1));
        int i = (int)cu_below(&rs, (uint32_t)nworkers);
        kill(pids[i], SIGKILL);
        int status;
        if (waitpid(pids[i], &status, 0) == pids[i]) {
            if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
                kills++;
            } else {
                crashes++;
                snprintf(crash_msg, sizeof(crash_msg), "worker %d died on its own: %s %d", i,
                         WIFSIGNALED(status) ? "signal" : "exit status",
                         WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
            }
        }
        pids[i] = spawn(i, seed + kills * 977u + (uint64_t)i);
        restarts++;
    }
    /* Stop the survivors; they must finish their call and exit promptly. */
    atomic_store(&g_sh->stop, 1);
    uint64_t stop_deadline = cu_now_ns() + 5000000000ull;
    uint64_t hung = 0;
    for (int i = 0; i < nworkers; i++) {
        int status;
        pid_t got;
        while ((got = waitpid(pids[i], &status, WNOHANG)) == 0 && cu_now_ns() < stop_deadline)
            cu_sleep_us(1000);
        if (got == 0) {
            hung++;
            kill(pids[i], SIGKILL);
            waitpid(pids[i], &status, 0);
        } else if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
            crashes++;
            snprintf(crash_msg, sizeof(crash_msg), "worker %d at stop: %s %d", i,
                     WIFSIGNALED(status) ? "signal" : "exit status",
                     WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        }
    }
    uint64_t ops = 0, wrong = 0, errors = 0, max_ns = 0, hits = 0, misses = 0;
    uint32_t max_op = 0;
    int first_err = 0;
    uint32_t first_err_op = 0;
    const char *wrong_msg = NULL;
    for (int i = 0; i < nworkers; i++) {
        struct wrow *w = &g_sh->row[i];
        ops += w->ops;
        wrong += w->wrong;
        errors += w->errors;
        hits += w->hits;
        misses += w->misses;
        if (w->max_ns > max_ns) {
            max_ns = w->max_ns;
            max_op = w->max_op;
        }
        if (w->first_err && !first_err) {
            first_err = w->first_err;
            first_err_op = w->first_err_op;
        }
        if (w->wrong_set && !wrong_msg)
            wrong_msg = w->wrong_msg;
    }
    /* The segment must be sound: first with every stripe lock taken (which
     * also recovers a lock whose holder we killed last), then with the tool. */
    int64_t problems = shmc_check(c, print_problem, NULL);
    shmc_stats_t st;
    shmc_stats(c, &st);
    int tool_rc = -1;
    if (tool) {
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "%s check %s", tool, g_name);
        tool_rc = system(cmd);
        if (tool_rc != -1 && WIFEXITED(tool_rc))
            tool_rc = WEXITSTATUS(tool_rc);
    }
    shmc_close(c);
    shmc_unlink(g_name);

    printf("kills survived:     %" PRIu64 " (restarts %" PRIu64 ")\n", kills, restarts);
    printf("operations done:    %" PRIu64 " (gets: %" PRIu64 " hits, %" PRIu64 " misses)\n", ops, hits,
           misses);
    printf("wrong values:       %" PRIu64 "%s%s\n", wrong, wrong_msg ? " - first: " : "",
           wrong_msg ? wrong_msg : "");
    printf("unexpected errors:  %" PRIu64, errors);
    if (first_err)
        printf(" - first: %s from %s", shmc_strerror(first_err), op_names[first_err_op % OP_COUNT]);
    printf("\n");
    printf("lock recoveries:    %" PRIu64 "\n", st.lock_recoveries);
    printf("entries lost to recovery: %" PRIu64 "\n", st.recovered_lost);
    printf("evictions:          %" PRIu64 ", clears: %" PRIu64 "\n", st.evictions, st.generation);
    printf("longest stall:      %.3f ms (%s)\n", (double)max_ns / 1e6, op_names[max_op % OP_COUNT]);
    printf("crashed workers:    %" PRIu64 "%s%s\n", crashes, crashes ? " - " : "", crash_msg);
    printf("hung at stop:       %" PRIu64 "\n", hung);
    printf("shmc_check:         %" PRId64 " problems\n", problems);
    if (tool)
        printf("shmcache-tool check: exit %d\n", tool_rc);

    bool fail = false;
#define FAILIF(cond, msg) do { if (cond) { printf("FAIL: %s\n", msg); fail = true; } } while (0)
    FAILIF(wrong != 0, "a get returned a wrong value");
    FAILIF(errors != 0, "a call returned an error it may not return");
    FAILIF(max_ns > (uint64_t)stall_limit_ms * 1000000u, "a call blocked longer than the stall limit");
    FAILIF(crashes != 0, "a worker crashed");
    FAILIF(hung != 0, "a worker did not stop");
    FAILIF(problems != 0, "shmc_check found the segment unsound");
    FAILIF(tool && tool_rc != 0, "shmcache-tool check found the segment unsound");
    FAILIF(kills == 0, "no worker was killed (run too short?)");
    printf("%s\n", fail ? "chaos: FAILED" : "chaos: ok");
    return fail ? 1 : 0;
}
