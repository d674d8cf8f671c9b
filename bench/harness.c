/*
 * harness.c - shmcache-bench's fork/thread harness: one run of one
 * backend with N worker processes of T threads, and merging what they
 * measured.
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

static uint32_t cur_sample_every;  /* of the current run */

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
    const bench_opts_t *o;
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
    const bench_opts_t *o = x->o;
    wstat_t *ws = &x->sh->w[x->id];
    const backend_t *be = x->be;
    void *w = NULL;
    size_t slen = 0, cap = o->vmax + 64, vlen;
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
    stream = make_stream(o, x->id, x->id == 0, x->nworkers == 1, &slen);
    vbuf = malloc(cap);
    gbuf = malloc(cap);
    if (!stream || !vbuf || !gbuf || !h)
        rc = -ENOMEM;
    else if (be->worker_init)
        rc = be->worker_init(x->g, x->p, o, &w);
    if (rc == 0)
        value_fill(vbuf, o->vmax, 0);
    if (rc == 0 && be->warm) {  /* untimed: touch every live entry once */
        for (uint64_t i = 0; i < o->keys; i++) {
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
                if (o->verify && (vlen != value_size_for(o, ki) ||
                                 !value_check(gbuf, vlen, ki)))
                    vfail++;
            } else if (r == 1) {
                misses++;
                if (o->mix == MIX_PRICES) {  /* read-through: recompute, store */
                    uint32_t vs = value_size_for(o, ki);
                    memcpy(vbuf, &ki, 8);
                    if (be->set(w, key, KEY_LEN, vbuf, vs) < 0)
                        errors++;
                    fills++;
                }
            }
            break;
        case OP_SET: {
            uint32_t vs = value_size_for(o, ki);
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
static int worker_process(const backend_t *be, void *g, const bench_opts_t *o, unsigned proc,
                          unsigned nprocs, uint64_t ops_limit, shared_t *sh,
                          int ready_fd, int go_fd)
{
    void *p = NULL;
    int rc = 0, nt = o->threads;
    pthread_t *tid = calloc((size_t)nt, sizeof *tid);
    wctx_t *ctx = calloc((size_t)nt, sizeof *ctx);

    if (!tid || !ctx)
        return 1;
    if (be->proc_init)
        rc = be->proc_init(g, &p);
    for (int t = 0; t < nt; t++) {
        ctx[t] = (wctx_t){ be, o, g, p, proc * (unsigned)nt + (unsigned)t,
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

void harness_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static void sleep_ms(unsigned ms)
{
    struct timespec d = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
    nanosleep(&d, NULL);
}

static int show_progress(const bench_opts_t *o, double expected_s)
{
    if (o->progress >= 0)
        return o->progress;
    return isatty(2) && (o->ops || expected_s > 2.0);
}

int run_workers(const backend_t *be, void *g, const bench_opts_t *o, int nprocs, run_t *res)
{
    unsigned nw = (unsigned)nprocs * (unsigned)o->threads;
    size_t shsize = sizeof(shared_t) + nw * sizeof(wstat_t);
    shared_t *sh = mmap(NULL, shsize, PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int ready[2], go[2], rc = 0, progress;
    uint64_t ops_limit = o->ops ? (o->ops + nw - 1) / nw : 0;
    unsigned got = 0;

    if (sh == MAP_FAILED)
        return -ENOMEM;
    /* a round trip takes ~30 us: timing every op costs nothing there */
    cur_sample_every = !o->sample_every_set && (be == &backend_memcached || be == &backend_redis)
                       ? 1 : o->sample_every;
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
            _exit(worker_process(be, g, o, (unsigned)i, (unsigned)nprocs, ops_limit,
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

    progress = rc == 0 && show_progress(o, o->duration);
    if (rc == 0 && !o->ops) {
        uint64_t t0 = now_ns(), end = t0 + (uint64_t)(o->duration * 1e9);
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
                        be->name, nprocs, (double)(tn - t0) / 1e9, o->duration,
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
                sleep_ms(o->ops ? 100 : 2);
                if (o->ops && progress && now_ns() - t0 > 2000000000ull) {
                    uint64_t s = 0;
                    for (unsigned i = 0; i < nw; i++)
                        s += atomic_load_explicit(&sh->w[i].progress, memory_order_relaxed);
                    fprintf(stderr, "\r%-10s procs=%-2d %5.1f s  %llu/%llu ops   ",
                            be->name, nprocs, (double)(now_ns() - t0) / 1e9,
                            (unsigned long long)s, (unsigned long long)o->ops);
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
    res->threads = o->threads;
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
