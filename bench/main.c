/*
 * main.c - shmcache-bench: options, the worker processes, merging and
 * printing what they measured.
 *
 * One run = one backend x one process count. The parent prepares the
 * backend (creates the segment / starts the server, preloads the keys) and
 * forks the workers. Each worker builds its operation stream (key indices
 * and op kinds drawn in advance, so the timed loop only formats a key and
 * calls the backend), loads its private table if it has one (or, for an
 * in-memory shared backend, gets every key once so the pages of the shared
 * mapping are in its page tables, as in a long-running worker), reports ready
 * on a pipe and blocks reading a second pipe; the parent closes that pipe's
 * write end once every worker is ready, which wakes all of them at once.
 * Workers record ops by kind, hits, misses and a latency histogram of one
 * op in every --sample-every, in their own page of a MAP_SHARED region; the
 * parent merges them after waitpid.
 */
#include "bench.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef BENCH_NO_SHMCACHE
#include <shmcache.h>
#endif

const char *const op_names[OP_KINDS] = { "get", "set", "delete", "incr" };
char bench_shm_name[64];


static const backend_t *const backends[] = {
#ifndef BENCH_NO_SHMCACHE
    &backend_shmcache, &backend_shmcache_tagged, &backend_shmcache_lease, &backend_shmcache_near,
#endif
    &backend_private, &backend_private_shape, &backend_globallock, &backend_memcached,
    &backend_redis, &backend_null,
};

static const backend_t *backend_by_name(const char *n)
{
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
        if (strcmp(backends[i]->name, n) == 0)
            return backends[i];
    return NULL;
}

/* ---- what workers record --------------------------------------------- */

typedef struct wstat {
    _Atomic uint64_t progress;      /* ops so far, stored every 1024 ops */
    char pad[56];
    uint64_t ops[OP_KINDS];
    uint64_t hits, misses, errors, verify_failed, fills;
    uint64_t t_start, t_end;        /* CLOCK_MONOTONIC ns */
    uint64_t cpu_ns;                /* CPU time of the timed loop */
    int      rc;                    /* init error */
    int      pid;                   /* the worker's process */
    hist_t   hist[OP_KINDS];
} __attribute__((aligned(4096))) wstat_t;

typedef struct shared {
    _Atomic int stop;
    char pad[4092];
    wstat_t w[];
} shared_t;


/* ---- options --------------------------------------------------------- */

static bench_opts_t O;
static char be_list[256] = "shmcache";
static char procs_list[64] = "1";
static int out_csv, out_json, want_cdf, force_cgt, progress_mode = -1, sample_set;
static uint32_t cur_sample_every;  /* of the current run */
static char trace_kind[16];
static int memeff;
static unsigned fill_seeds;  /* --fill-capacity: seeds per size, 0 = off */
static int near_matrix;
static const char *mix_name = "read";
static char dist_name[32] = "uniform";

static const struct { const char *name; int mix; } mixes[] = {
    { "read", MIX_READ }, { "95/5", MIX_95_5 }, { "50/50", MIX_50_50 },
    { "write", MIX_WRITE }, { "writer", MIX_WRITER }, { "delete", MIX_DELETE },
    { "incr", MIX_INCR }, { "prices", MIX_PRICES },
};

static void usage(FILE *f)
{
    fprintf(f,
"usage: shmcache-bench [options]\n"
"  --backend LIST     shmcache,shmcache-tagged,shmcache-lease,private,private-shape,\n"
"                     globallock,memcached,redis,null (default shmcache); -tagged\n"
"                     stores every entry under 2 tags, -lease reads through\n"
"                     leases; private is the limit (key and value inline in a\n"
"                     process-private table, one per worker: N processes = N\n"
"                     tables), private-shape a private table of shmcache's shape\n"
"  --procs LIST       worker processes, e.g. 1,2,4 (default 1)\n"
"  --threads T        threads per process (default 1)\n"
"  --duration S       seconds per run (default 2)\n"
"  --ops N            total ops per run instead of a duration\n"
"  --mix M            read | 95/5 | 50/50 | write | writer | delete | incr | prices\n"
"                     writer: worker 0 sets, the others get; delete: worker 0\n"
"                     deletes and re-sets, the others get; prices: get, set on\n"
"                     miss, 2%% deletes (price changes) in every worker\n"
"  --keys N           distinct keys (default 10000)\n"
"  --dist D           uniform | zipf[:theta] (default uniform; theta 0.99)\n"
"  --value-size V     bytes, or a range A-B (a size per key)  (default 100)\n"
"  --capacity N       shmcache: keys promised (default: keys); tables: slots\n"
"                     (default 2 x keys)\n"
"  --memory BYTES     item memory of shmcache/table (default: all keys fit)\n"
"  --stripes N        shmcache lock stripes (default: the library's)\n"
"  --limit-huge       the limit (private) asks for transparent huge pages, as a\n"
"                     segment gets where /dev/shm offers them (default: the\n"
"                     system's default pages for private memory)\n"
"  --sample-every N   time one op in N (power of two, default 16)\n"
"  --clock-gettime    time samples with clock_gettime instead of rdtsc\n"
"  --verify           check each hit holds its own key's value\n"
"  --seed N           random seed\n"
"  --csv | --json     machine-readable output (--cdf adds latency CDFs to JSON)\n"
"  --progress | --no-progress  progress line on stderr (default: on a tty, runs > 2 s)\n"
"  --trace zipf       replay a Zipf trace (--dist theta, --keys, --ops) against a\n"
"                     segment of --memory bytes; miss ratio vs exact LRU\n"
"  --near             get throughput with and without the near cache: 100 B,\n"
"                     4 KB and 64 KB values, 1 and 2 threads (--keys default\n"
"                     1000 here, --duration per run)\n"
"  --memeff           live bytes / item memory after 10x capacity overwrites\n"
"                     of mixed sizes (--capacity, --memory, --value-size)\n"
"  --fill-capacity[=S]  store `capacity` distinct keys in a segment with ample\n"
"                     memory and report evictions and lost keys, S seeds (default\n"
"                     3) per size: --capacity, else 4096, 65536 and 1M\n"
"  --selftest         check the bench's own hash and table, then exit\n");
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    double d;

    errno = 0;
    d = strtod(s, &end);
    if (errno || end == s || d < 0)
        return -1;
    if (*end == 'k' || *end == 'K') { d *= 1e3; end++; }
    else if (*end == 'M') { d *= 1e6; end++; }
    else if (*end == 'G') { d *= 1e9; end++; }
    else if (*end == 'm') { d *= 1048576.0; end++; }  /* MiB, for --memory */
    if (*end)
        return -1;
    *out = (uint64_t)d;
    return 0;
}

static int parse_opts(int argc, char **argv, int *selftest)
{
    enum { O_BACKEND = 256, O_PROCS, O_THREADS, O_DURATION, O_OPS, O_MIX, O_KEYS,
           O_DIST, O_VSIZE, O_CSV, O_JSON, O_TRACE, O_MEMEFF, O_CAP, O_MEM,
           O_STRIPES, O_SAMPLE, O_CGT, O_VERIFY, O_SEED, O_CDF, O_PROG, O_NOPROG,
           O_SELFTEST, O_HELP, O_NEAR, O_FILL, O_LHUGE };
    static const struct option lo[] = {
        { "backend", 1, 0, O_BACKEND }, { "procs", 1, 0, O_PROCS },
        { "threads", 1, 0, O_THREADS }, { "duration", 1, 0, O_DURATION },
        { "ops", 1, 0, O_OPS }, { "mix", 1, 0, O_MIX }, { "keys", 1, 0, O_KEYS },
        { "dist", 1, 0, O_DIST }, { "value-size", 1, 0, O_VSIZE },
        { "csv", 0, 0, O_CSV }, { "json", 0, 0, O_JSON }, { "trace", 1, 0, O_TRACE },
        { "memeff", 0, 0, O_MEMEFF }, { "near", 0, 0, O_NEAR }, { "capacity", 1, 0, O_CAP },
        { "fill-capacity", 2, 0, O_FILL }, { "limit-huge", 0, 0, O_LHUGE },
        { "memory", 1, 0, O_MEM }, { "stripes", 1, 0, O_STRIPES },
        { "sample-every", 1, 0, O_SAMPLE }, { "clock-gettime", 0, 0, O_CGT },
        { "verify", 0, 0, O_VERIFY }, { "seed", 1, 0, O_SEED }, { "cdf", 0, 0, O_CDF },
        { "progress", 0, 0, O_PROG }, { "no-progress", 0, 0, O_NOPROG },
        { "selftest", 0, 0, O_SELFTEST }, { "help", 0, 0, O_HELP }, { 0, 0, 0, 0 },
    };
    uint64_t u;
    int c;

    O.keys = 10000;
    O.vmin = O.vmax = 100;
    O.mix = MIX_READ;
    O.theta = 0.99;
    O.duration = 2.0;
    O.threads = 1;
    O.sample_every = 16;
    O.seed = 42;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case O_BACKEND: snprintf(be_list, sizeof be_list, "%s", optarg); break;
        case O_PROCS: snprintf(procs_list, sizeof procs_list, "%s", optarg); break;
        case O_THREADS:
            if (parse_u64(optarg, &u) || u < 1 || u > 256) goto bad;
            O.threads = (int)u;
            break;
        case O_DURATION:
            O.duration = strtod(optarg, NULL);
            if (!(O.duration > 0)) goto bad;
            break;
        case O_OPS: if (parse_u64(optarg, &O.ops) || !O.ops) goto bad; break;
        case O_MIX: {
            size_t i;
            for (i = 0; i < sizeof mixes / sizeof mixes[0]; i++)
                if (strcmp(optarg, mixes[i].name) == 0)
                    break;
            if (i == sizeof mixes / sizeof mixes[0]) goto bad;
            O.mix = mixes[i].mix;
            mix_name = mixes[i].name;
            break;
        }
        case O_KEYS:
            if (parse_u64(optarg, &O.keys) || O.keys < 1 || O.keys >= (1u << 29)) goto bad;
            break;
        case O_DIST:
            if (strcmp(optarg, "uniform") == 0) {
                O.zipf = 0;
            } else if (strncmp(optarg, "zipf", 4) == 0) {
                O.zipf = 1;
                if (optarg[4] == ':') {
                    O.theta = strtod(optarg + 5, NULL);
                    if (!(O.theta > 0) || O.theta > 10) goto bad;
                } else if (optarg[4]) {
                    goto bad;
                }
            } else {
                goto bad;
            }
            break;
        case O_VSIZE: {
            unsigned long a, b;
            char dash;
            int n = sscanf(optarg, "%lu%c%lu", &a, &dash, &b);
            if (n == 1) b = a;
            else if (n != 3 || dash != '-') goto bad;
            if (a < 1 || b < a || b > (64u << 20)) goto bad;
            O.vmin = (uint32_t)a;
            O.vmax = (uint32_t)b;
            break;
        }
        case O_CSV: out_csv = 1; break;
        case O_JSON: out_json = 1; break;
        case O_TRACE:
            if (strcmp(optarg, "zipf") != 0) goto bad;
            snprintf(trace_kind, sizeof trace_kind, "%s", optarg);
            break;
        case O_MEMEFF: memeff = 1; break;
        case O_FILL:
            fill_seeds = 3;
            if (optarg) {
                if (parse_u64(optarg, &u) || u < 1 || u > 100) goto bad;
                fill_seeds = (unsigned)u;
            }
            break;
        case O_NEAR: near_matrix = 1; break;
        case O_CAP: if (parse_u64(optarg, &O.capacity)) goto bad; break;
        case O_MEM: if (parse_u64(optarg, &O.memory)) goto bad; break;
        case O_STRIPES:
            if (parse_u64(optarg, &u) || u > 1024) goto bad;
            O.stripes = (uint32_t)u;
            break;
        case O_SAMPLE:
            if (parse_u64(optarg, &u) || u < 1 || (u & (u - 1)) || u > (1u << 30)) goto bad;
            O.sample_every = (uint32_t)u;
            sample_set = 1;
            break;
        case O_CGT: force_cgt = 1; break;
        case O_VERIFY: O.verify = 1; break;
        case O_LHUGE: O.limit_huge = 1; break;
        case O_SEED: if (parse_u64(optarg, &O.seed)) goto bad; break;
        case O_CDF: want_cdf = 1; break;
        case O_PROG: progress_mode = 1; break;
        case O_NOPROG: progress_mode = 0; break;
        case O_SELFTEST: *selftest = 1; break;
        case O_HELP: case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
        continue;
    bad:
        fprintf(stderr, "shmcache-bench: bad value for an option: %s\n", optarg);
        return -1;
    }
    if (optind < argc) {
        fprintf(stderr, "shmcache-bench: unexpected argument %s\n", argv[optind]);
        return -1;
    }
    if (O.zipf)
        snprintf(dist_name, sizeof dist_name, "zipf:%.2f", O.theta);
    if (out_csv && out_json) {
        fprintf(stderr, "shmcache-bench: --csv and --json exclude each other\n");
        return -1;
    }
    return 0;
}

/* ---- the operation stream -------------------------------------------- */

#define KIND_SHIFT 29
#define KEY_MASK ((1u << KIND_SHIFT) - 1)

/* Percentages of get/set/delete/incr for a worker with this role. */
static void mix_for(int mix, int role0, int alone, unsigned pct[OP_KINDS])
{
    memset(pct, 0, OP_KINDS * sizeof pct[0]);
    switch (mix) {
    case MIX_READ: pct[OP_GET] = 100; break;
    case MIX_95_5: pct[OP_GET] = 95; pct[OP_SET] = 5; break;
    case MIX_50_50: pct[OP_GET] = 50; pct[OP_SET] = 50; break;
    case MIX_WRITE: pct[OP_SET] = 100; break;
    case MIX_WRITER:
        if (alone) { pct[OP_GET] = 50; pct[OP_SET] = 50; }
        else if (role0) pct[OP_SET] = 100;
        else pct[OP_GET] = 100;
        break;
    case MIX_DELETE:
        if (alone) { pct[OP_GET] = 80; pct[OP_DEL] = 10; pct[OP_SET] = 10; }
        else if (role0) { pct[OP_DEL] = 50; pct[OP_SET] = 50; }
        else pct[OP_GET] = 100;
        break;
    case MIX_INCR: pct[OP_INCR] = 100; break;
    case MIX_PRICES: pct[OP_GET] = 98; pct[OP_DEL] = 2; break;
    }
}

static uint32_t *make_stream(const bench_opts_t *o, unsigned worker, int role0,
                             int alone, size_t *len_out)
{
    size_t len = 1u << 16;
    uint32_t *s;
    unsigned pct[OP_KINDS];
    rng_t r = { o->seed * 0x100000001b3ull + worker * 0x9e3779b97f4a7c15ull + 1 };
    zipf_t z;

    while (len < 2 * o->keys && len < (1u << 22))
        len <<= 1;
    s = malloc(len * sizeof *s);
    if (!s)
        return NULL;
    mix_for(o->mix, role0, alone, pct);
    if (o->zipf)
        zipf_init(&z, o->keys, o->theta);
    for (size_t i = 0; i < len; i++) {
        uint64_t key = o->zipf ? scatter(zipf_next(&z, &r), o->keys)
                               : rng_below(&r, o->keys);
        unsigned d = (unsigned)rng_below(&r, 100), kind = 0, acc = 0;
        for (kind = 0; kind < OP_KINDS; kind++) {
            acc += pct[kind];
            if (d < acc)
                break;
        }
        if (kind == OP_KINDS)
            kind = OP_GET;
        s[i] = (uint32_t)(kind << KIND_SHIFT) | (uint32_t)key;
    }
    *len_out = len;
    return s;
}

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- one worker ------------------------------------------------------ */

typedef struct wctx {
    const backend_t *be;
    void *g, *p;
    unsigned id;           /* global worker index */
    unsigned nworkers;
    uint64_t ops_limit;    /* 0: until stop */
    shared_t *sh;
    int ready_fd, go_fd;
} wctx_t;

static void *worker_main(void *arg)
{
    wctx_t *x = arg;
    wstat_t *ws = &x->sh->w[x->id];
    const backend_t *be = x->be;
    void *w = NULL;
    size_t slen = 0, cap = O.vmax + 64, vlen;
    uint32_t *stream;
    char key[KEY_LEN], *vbuf, *gbuf;
    uint64_t n, ops[OP_KINDS] = { 0 }, hits = 0, misses = 0, errors = 0,
             vfail = 0, fills = 0, smask = cur_sample_every - 1;
    hist_t *h = calloc(OP_KINDS, sizeof *h);
    char byte = 0, dummy;
    uint64_t cpu0;
    int rc = 0;

    for (unsigned k = 0; h && k < OP_KINDS; k++)
        hist_reset(&h[k]);
    stream = make_stream(&O, x->id, x->id == 0, x->nworkers == 1, &slen);
    vbuf = malloc(cap);
    gbuf = malloc(cap);
    if (!stream || !vbuf || !gbuf || !h)
        rc = -ENOMEM;
    else if (be->worker_init)
        rc = be->worker_init(x->g, x->p, &O, &w);
    if (rc == 0)
        value_fill(vbuf, O.vmax, 0);
    if (rc == 0 && be->warm) {  /* untimed: touch every live entry once */
        for (uint64_t i = 0; i < O.keys; i++) {
            key_format(key, i);
            if (be->get(w, key, KEY_LEN, gbuf, cap, &vlen) < 0)
                break;
        }
    }
    ws->rc = rc;
    if (rc)
        byte = 1;
    if (write(x->ready_fd, &byte, 1) != 1 || read(x->go_fd, &dummy, 1) != 0 || rc)
        goto out;

    ws->t_start = now_ns();
    cpu0 = thread_cpu_ns();
    for (n = 0;; n++) {
        uint32_t e, kind;
        uint64_t ki, t0 = 0;
        int r = 0;

        if ((n & 63) == 0) {
            if (atomic_load_explicit(&x->sh->stop, memory_order_relaxed))
                break;
            if ((n & 1023) == 0)
                atomic_store_explicit(&ws->progress, n, memory_order_relaxed);
        }
        if (x->ops_limit && n >= x->ops_limit)
            break;
        e = stream[n & (slen - 1)];
        kind = e >> KIND_SHIFT;
        ki = e & KEY_MASK;
        key_format(key, ki);
        if ((n & smask) == 0)
            t0 = tick_now();
        switch (kind) {
        case OP_GET:
            r = be->get(w, key, KEY_LEN, gbuf, cap, &vlen);
            if (r == 0) {
                hits++;
                if (O.verify && (vlen != value_size_for(&O, ki) ||
                                 !value_check(gbuf, vlen, ki)))
                    vfail++;
            } else if (r == 1) {
                misses++;
                if (O.mix == MIX_PRICES) {  /* read-through: recompute, store */
                    uint32_t vs = value_size_for(&O, ki);
                    memcpy(vbuf, &ki, 8);
                    if (be->set(w, key, KEY_LEN, vbuf, vs) < 0)
                        errors++;
                    fills++;
                }
            }
            break;
        case OP_SET: {
            uint32_t vs = value_size_for(&O, ki);
            memcpy(vbuf, &ki, 8);
            r = be->set(w, key, KEY_LEN, vbuf, vs);
            break;
        }
        case OP_DEL:
            r = be->del(w, key, KEY_LEN);
            break;
        case OP_INCR: {
            uint64_t res;
            r = be->incr(w, key, KEY_LEN, 1, &res);
            if (r == 0)
                hits++;
            else if (r == 1)
                misses++;
            break;
        }
        }
        if ((n & smask) == 0)
            hist_add(&h[kind], ticks_to_ns(tick_now() - t0));
        if (r < 0)
            errors++;
        ops[kind]++;
    }
    ws->t_end = now_ns();
    ws->cpu_ns = thread_cpu_ns() - cpu0;
    ws->pid = (int)getpid();
    atomic_store_explicit(&ws->progress, n, memory_order_relaxed);
    memcpy(ws->ops, ops, sizeof ops);
    ws->hits = hits;
    ws->misses = misses;
    ws->errors = errors;
    ws->verify_failed = vfail;
    ws->fills = fills;
    for (unsigned k = 0; k < OP_KINDS; k++)
        ws->hist[k] = h[k];
out:
    if (w && be->worker_fini)
        be->worker_fini(w);
    free(stream);
    free(vbuf);
    free(gbuf);
    free(h);
    return NULL;
}

/* A worker process: attach, run its threads, exit. */
static int worker_process(const backend_t *be, void *g, unsigned proc,
                          unsigned nprocs, uint64_t ops_limit, shared_t *sh,
                          int ready_fd, int go_fd)
{
    void *p = NULL;
    int rc = 0, nt = O.threads;
    pthread_t *tid = calloc((size_t)nt, sizeof *tid);
    wctx_t *ctx = calloc((size_t)nt, sizeof *ctx);

    if (!tid || !ctx)
        return 1;
    if (be->proc_init)
        rc = be->proc_init(g, &p);
    for (int t = 0; t < nt; t++) {
        ctx[t] = (wctx_t){ be, g, p, proc * (unsigned)nt + (unsigned)t,
                           nprocs * (unsigned)nt, ops_limit, sh, ready_fd, go_fd };
        if (rc) {  /* report the failure for each of our workers */
            char byte = 1;
            sh->w[ctx[t].id].rc = rc;
            if (write(ready_fd, &byte, 1) != 1)
                return 1;
        }
    }
    if (rc)
        return 1;
    for (int t = 1; t < nt; t++)
        if (pthread_create(&tid[t], NULL, worker_main, &ctx[t]) != 0)
            return 1;
    worker_main(&ctx[0]);
    for (int t = 1; t < nt; t++)
        pthread_join(tid[t], NULL);
    if (p && be->proc_fini)
        be->proc_fini(p);
    return 0;
}

/* ---- the parent ------------------------------------------------------ */

static volatile sig_atomic_t child_pid[1024];
static volatile sig_atomic_t nchild;

static void on_signal(int sig)
{
    for (int i = 0; i < nchild; i++)
        if (child_pid[i] > 0)
            kill((pid_t)child_pid[i], SIGKILL);
    server_stop_all();
#ifndef BENCH_NO_SHMCACHE
    shmc_unlink(bench_shm_name);
#endif
    signal(sig, SIG_DFL);
    raise(sig);
}

static void sleep_ms(unsigned ms)
{
    struct timespec d = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
    nanosleep(&d, NULL);
}

static int show_progress(double expected_s)
{
    if (progress_mode >= 0)
        return progress_mode;
    return isatty(2) && (O.ops || expected_s > 2.0);
}

/* Run one backend with nprocs processes; fill *res. */
static int run_one(const backend_t *be, void *g, int nprocs, run_t *res)
{
    unsigned nw = (unsigned)nprocs * (unsigned)O.threads;
    size_t shsize = sizeof(shared_t) + nw * sizeof(wstat_t);
    shared_t *sh = mmap(NULL, shsize, PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int ready[2], go[2], rc = 0, progress;
    uint64_t ops_limit = O.ops ? (O.ops + nw - 1) / nw : 0;
    unsigned got = 0;

    if (sh == MAP_FAILED)
        return -ENOMEM;
    /* a round trip takes ~30 us: timing every op costs nothing there */
    cur_sample_every = !sample_set && (be == &backend_memcached || be == &backend_redis)
                       ? 1 : O.sample_every;
    if (pipe(ready) || pipe(go)) {
        munmap(sh, shsize);
        return -errno;
    }
    fflush(NULL);
    nchild = 0;
    for (int i = 0; i < nprocs; i++) {
        pid_t parent = getpid(), pid = fork();
        if (pid < 0) {
            rc = -errno;
            break;
        }
        if (pid == 0) {
            signal(SIGINT, SIG_DFL);
            signal(SIGTERM, SIG_DFL);
            signal(SIGHUP, SIG_DFL);
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent)
                _exit(1);
            close(ready[0]);
            close(go[1]);
            _exit(worker_process(be, g, (unsigned)i, (unsigned)nprocs, ops_limit,
                                 sh, ready[1], go[0]));
        }
        child_pid[nchild] = pid;
        nchild = nchild + 1;
    }
    close(ready[1]);
    close(go[0]);
    /* wait until every worker is ready (or one died) */
    while (rc == 0 && got < nw) {
        struct pollfd p = { ready[0], POLLIN, 0 };
        char buf[64];
        int status;

        if (poll(&p, 1, 200) == 1) {
            ssize_t r = read(ready[0], buf, sizeof buf);
            if (r <= 0) {
                rc = -ECHILD;
                break;
            }
            for (ssize_t j = 0; j < r; j++)
                if (buf[j])
                    rc = -EIO;
            got += (unsigned)r;
        }
        for (int i = 0; i < nchild; i++)
            if (child_pid[i] > 0 && waitpid((pid_t)child_pid[i], &status, WNOHANG) > 0) {
                child_pid[i] = 0;
                if (got < nw)
                    rc = -ECHILD;
            }
    }
    if (rc)
        atomic_store(&sh->stop, 1);
    close(go[1]);  /* go: every worker's read() returns 0 */
    close(ready[0]);

    progress = rc == 0 && show_progress(O.duration);
    if (rc == 0 && !O.ops) {
        uint64_t t0 = now_ns(), end = t0 + (uint64_t)(O.duration * 1e9);
        uint64_t last_ops = 0, last_t = t0;
        for (;;) {
            uint64_t t = now_ns();
            if (t >= end)
                break;
            sleep_ms((unsigned)((end - t) / 1000000u < 500 ? (end - t) / 1000000u + 1 : 500));
            if (progress) {
                uint64_t s = 0, tn = now_ns();
                for (unsigned i = 0; i < nw; i++)
                    s += atomic_load_explicit(&sh->w[i].progress, memory_order_relaxed);
                fprintf(stderr, "\r%-10s procs=%-2d %5.1f/%.1f s  %9.3f M ops/s   ",
                        be->name, nprocs, (double)(tn - t0) / 1e9, O.duration,
                        (double)(s - last_ops) / ((double)(tn - last_t) / 1e9) / 1e6);
                last_ops = s;
                last_t = tn;
            }
        }
        atomic_store(&sh->stop, 1);
    }
    /* reap; in --ops mode print progress while they run */
    {
        uint64_t t0 = now_ns();
        int left = 1;
        while (left) {
            int status;
            left = 0;
            for (int i = 0; i < nchild; i++) {
                if (child_pid[i] <= 0)
                    continue;
                pid_t r = waitpid((pid_t)child_pid[i], &status, WNOHANG);
                if (r == 0) {
                    left = 1;
                    continue;
                }
                child_pid[i] = 0;
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                    if (rc == 0)
                        rc = -ECHILD;
                    if (WIFSIGNALED(status))
                        fprintf(stderr, "shmcache-bench: %s worker killed by signal %d\n",
                                be->name, WTERMSIG(status));
                }
            }
            if (left) {
                sleep_ms(O.ops ? 100 : 2);
                if (O.ops && progress && now_ns() - t0 > 2000000000ull) {
                    uint64_t s = 0;
                    for (unsigned i = 0; i < nw; i++)
                        s += atomic_load_explicit(&sh->w[i].progress, memory_order_relaxed);
                    fprintf(stderr, "\r%-10s procs=%-2d %5.1f s  %llu/%llu ops   ",
                            be->name, nprocs, (double)(now_ns() - t0) / 1e9,
                            (unsigned long long)s, (unsigned long long)O.ops);
                }
            }
        }
    }
    if (progress)
        fprintf(stderr, "\r%*s\r", 60, "");
    nchild = 0;

    /* merge */
    memset(res, 0, sizeof *res);
    res->be = be;
    res->procs = nprocs;
    res->threads = O.threads;
    res->sample_every = cur_sample_every;
    res->evictions = -1;
    for (unsigned k = 0; k < OP_KINDS; k++)
        hist_reset(&res->hist[k]);
    hist_reset(&res->all);
    {
        uint64_t first = UINT64_MAX, last = 0, cpu = 0, wall = 0;
        for (unsigned i = 0; i < nw; i++) {
            wstat_t *ws = &sh->w[i];
            cpu += ws->cpu_ns;
            wall += ws->t_end > ws->t_start ? ws->t_end - ws->t_start : 0;
            if (ws->cpu_ns) {
                uint64_t mine = 0;
                for (unsigned k = 0; k < OP_KINDS; k++)
                    mine += ws->ops[k];
                res->cpu_rate += (double)mine / ((double)ws->cpu_ns / 1e9);
            }
            if (ws->rc && rc == 0)
                rc = ws->rc;
            for (unsigned k = 0; k < OP_KINDS; k++) {
                res->ops[k] += ws->ops[k];
                res->total += ws->ops[k];
                hist_merge(&res->hist[k], &ws->hist[k]);
                hist_merge(&res->all, &ws->hist[k]);
            }
            res->hits += ws->hits;
            res->misses += ws->misses;
            res->errors += ws->errors;
            res->verify_failed += ws->verify_failed;
            res->fills += ws->fills;
            if (ws->t_start && ws->t_start < first)
                first = ws->t_start;
            if (ws->t_end > last)
                last = ws->t_end;
        }
        /* processes that ran the timed loop (proof that --procs N forked N) */
        for (unsigned i = 0; i < nw; i++) {
            unsigned j = 0;
            while (j < i && sh->w[j].pid != sh->w[i].pid)
                j++;
            res->processes += sh->w[i].pid && j == i;
        }
        res->elapsed = last > first ? (double)(last - first) / 1e9 : 0;
        res->cpu = wall ? (double)cpu / (double)wall : 0;
    }
    munmap(sh, shsize);
    return rc;
}


/* ---- main ------------------------------------------------------------ */

/* One read-only run of be with O as it stands; ops/s, or < 0 on error. */
static double near_run(const backend_t *be, run_t *r)
{
    void *g = NULL;
    int rc = be->global_init(&O, &g);
    if (rc == 0)
        rc = be->preload(g, &O);
    if (rc == 0)
        rc = run_one(be, g, 1, r);
    if (g)
        be->global_fini(g);
    return rc < 0 || r->elapsed <= 0 ? -1.0 : (double)r->total / r->elapsed;
}

/* --near: the near cache's matrix (issue 7's proof). One process; for each
 * value size and thread count, plain shmc_get and views through the near
 * cache, one after the other, as ratios. */
static int run_near(void)
{
    static const uint32_t sizes[] = {100, 4096, 65536};
    static const int threads[] = {1, 2};
    if (O.keys == 10000) /* the default: keep 64 KB x keys in reason */
        O.keys = 1000;
    O.mix = MIX_READ;
    printf("# near cache: %llu keys, uniform reads, 1 process, %.1f s per run\n",
           (unsigned long long)O.keys, O.duration);
    printf("| value | threads | shmc_get ops/s | near view ops/s | near / get | cpu %% (get, near) |\n");
    printf("|---:|---:|---:|---:|---:|---|\n");
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        for (size_t t = 0; t < sizeof threads / sizeof threads[0]; t++) {
            O.vmin = O.vmax = sizes[s];
            O.threads = threads[t];
            run_t *r = calloc(2, sizeof *r);
            if (!r)
                return -1;
            double a = near_run(&backend_shmcache, &r[0]);
            double b = near_run(&backend_shmcache_near, &r[1]);
            if (a < 0 || b < 0) {
                free(r);
                fprintf(stderr, "shmcache-bench: --near run failed\n");
                return -1;
            }
            printf("| %u B | %d | %.2fM | %.2fM | %.2fx | %.0f, %.0f |\n", sizes[s], threads[t],
                   a / 1e6, b / 1e6, b / a, 100.0 * cpu_share(&r[0]), 100.0 * cpu_share(&r[1]));
            fflush(stdout);
            free(r);
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    int self = 0, nruns = 0, rc = 0, procs[16], nprocs = 0;
    const backend_t *bes[16];
    int nbe = 0;
    run_t *runs;
    char tmp[256], *save, *tok;
    struct sigaction sa;

    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    keys_init();
    if (parse_opts(argc, argv, &self) < 0)
        return 2;
    clock_setup(force_cgt);
    snprintf(bench_shm_name, sizeof bench_shm_name, "/shmcache-bench-%d", (int)getpid());
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (self)
        return run_selftest(&O);
    if (trace_kind[0])
        return run_trace(&O, trace_kind, out_json, out_csv) < 0 ? 1 : 0;
    if (memeff)
        return run_memeff(&O, out_json, out_csv) < 0 ? 1 : 0;
    if (fill_seeds)
        return run_fill_capacity(&O, fill_seeds, out_json, out_csv) < 0 ? 1 : 0;
    if (near_matrix)
        return run_near() < 0 ? 1 : 0;

    snprintf(tmp, sizeof tmp, "%s", be_list);
    for (tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        const backend_t *b = backend_by_name(tok);
        if (!b || nbe == 16) {
            fprintf(stderr, "shmcache-bench: unknown backend %s\n", tok);
            return 2;
        }
        bes[nbe++] = b;
    }
    snprintf(tmp, sizeof tmp, "%s", procs_list);
    for (tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        long p = strtol(tok, NULL, 10);
        if (p < 1 || p > 512 || nprocs == 16 || p * O.threads > 1024) {
            fprintf(stderr, "shmcache-bench: bad --procs %s\n", tok);
            return 2;
        }
        procs[nprocs++] = (int)p;
    }
    if (!nbe || !nprocs) {
        usage(stderr);
        return 2;
    }
    runs = calloc((size_t)(nbe * nprocs), sizeof *runs);
    if (!runs)
        return 1;
    for (int b = 0; b < nbe && rc == 0; b++) {
        const backend_t *be = bes[b];
        void *g = NULL;

        if (be->global_init && (rc = be->global_init(&O, &g)) < 0) {
            fprintf(stderr, "shmcache-bench: %s: cannot start: %s\n", be->name, strerror(-rc));
            break;
        }
        for (int p = 0; p < nprocs && rc == 0; p++) {
            /* reload before each run unless the last one only read */
            if (be->preload && (p == 0 || O.mix != MIX_READ) &&
                (rc = be->preload(g, &O)) < 0) {
                fprintf(stderr, "shmcache-bench: %s: preload failed: %s\n", be->name,
                        strerror(-rc));
                break;
            }
            rc = run_one(be, g, procs[p], &runs[nruns]);
            if (rc < 0) {
                fprintf(stderr, "shmcache-bench: %s procs=%d failed: %s\n", be->name,
                        procs[p], strerror(-rc));
                break;
            }
            if (be->evictions)
                runs[nruns].evictions = be->evictions(g);
            if (be->describe)
                be->describe(g, runs[nruns].lib, sizeof runs[nruns].lib);
            nruns++;
        }
        if (be->global_fini)
            be->global_fini(g);
    }
    if (nruns) {
        report_cfg_t cfg = { &O, mix_name, dist_name, want_cdf };
        if (out_json)
            report_json(&cfg, runs, nruns);
        else if (out_csv)
            report_csv(&cfg, runs, nruns);
        else
            report_table(&cfg, runs, nruns);
        for (int i = 0; i < nruns; i++)
            if (runs[i].cpu > 0 && cpu_share(&runs[i]) < 0.9 &&
                runs[i].be != &backend_memcached && runs[i].be != &backend_redis) {
                fprintf(stderr, "shmcache-bench: warning: %s procs=%d workers got %.0f %% of "
                        "the CPU time they could have (other load on the machine?); numbers "
                        "are unreliable\n", runs[i].be->name, runs[i].procs,
                        100.0 * cpu_share(&runs[i]));
            }
    }
    for (int i = 0; i < nruns; i++)
        if (runs[i].verify_failed)
            rc = rc ? rc : -EBADMSG;
    free(runs);
    return rc < 0 ? 1 : 0;
}
