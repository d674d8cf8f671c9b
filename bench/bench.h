/*
 * bench.h - shared declarations of shmcache-bench.
 *
 * shmcache-bench forks worker processes (optionally several threads each)
 * that drive one backend with the same pre-generated operation stream, then
 * merges what each worker recorded in a MAP_SHARED region. The backends are
 * the library itself and the things a user would pick instead:
 *
 *   shmcache    the library, one segment shared by every worker
 *   private     the limit: a process-private table with key and value
 *               inline in the slot, linear probing, a fast strong hash
 *               (what a get costs when nothing is shared or validated)
 *   private-shape  a process-private table of shmcache's own shape (what
 *               sharing and validating cost with the same layout)
 *   globallock  the private-shape table in shared memory behind one robust
 *               mutex
 *   memcached   a real memcached on 127.0.0.1, one connection per worker
 *   redis       a real redis-server on 127.0.0.1, one connection per worker
 *   null        formats the key and does nothing: the harness's own cost
 *
 * Files: main.c (modes, the run matrix), options.c (the command line),
 * harness.c (forking workers, their threads and op streams, merging),
 * near_matrix.c (--near), report.c (table, CSV,
 * JSON), keys.c (keys and values), hist.c (latency histograms, clock),
 * zipf.c (key distributions, random numbers, hash), itable.c (the limit's
 * inline table), table.c (the private-shape/globallock table), backend_*.c
 * (one per backend), server.c (starting and stopping the peer servers),
 * trace.c (eviction quality and memory efficiency), fill.c (filling a
 * segment to its capacity).
 */
#ifndef SHMCACHE_BENCH_H
#define SHMCACHE_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- operation kinds -------------------------------------------------- */

enum op_kind { OP_GET = 0, OP_SET, OP_DEL, OP_INCR, OP_KINDS };
extern const char *const op_names[OP_KINDS];

/* ---- options ---------------------------------------------------------- */

enum mix_kind {
    MIX_READ,      /* 100 % get */
    MIX_95_5,      /* 95 % get, 5 % set */
    MIX_50_50,     /* 50 % get, 50 % set */
    MIX_WRITE,     /* 100 % set */
    MIX_WRITER,    /* worker 0 sets, the others get (alone: 50/50) */
    MIX_DELETE,    /* worker 0 deletes and re-sets, the others get
                      (alone: 80 % get, 10 % delete, 10 % set) */
    MIX_INCR,      /* 100 % incr of counters */
    MIX_PRICES,    /* read-through: get, set on miss; 2 % delete (a price
                      changed) by every worker */
};

typedef struct bench_opts {
    uint64_t keys;          /* key count (--keys) */
    uint32_t vmin, vmax;    /* value sizes (--value-size a or a-b) */
    int      mix;           /* enum mix_kind */
    int      zipf;          /* 0 uniform, 1 zipf */
    double   theta;         /* zipf exponent */
    double   duration;      /* seconds (when ops == 0) */
    uint64_t ops;           /* total ops over all workers, 0: use duration */
    int      threads;       /* threads per process */
    uint32_t sample_every;  /* time one op in this many (power of two) */
    uint64_t capacity;      /* shmcache/table capacity, 0: derived */
    uint64_t memory;        /* shmcache/table item memory, 0: derived */
    uint32_t stripes;       /* shmcache stripes, 0: library default */
    int      verify;        /* check that a get returned this key's value */
    int      limit_huge;    /* the limit's table asks for huge pages */
    uint64_t seed;
    int      sample_every_set; /* --sample-every given (else peers time every op) */
    int      progress;      /* progress line: 1 on, 0 off, -1 on a tty for long runs */
} bench_opts_t;

/* The whole command line (options.c): bench_opts_t plus what picks the
 * mode and the output. */
typedef struct bench_cli {
    bench_opts_t o;
    char backends[256];     /* --backend LIST */
    char procs[64];         /* --procs LIST */
    const char *mix_name;   /* as given to --mix */
    char dist_name[32];     /* "uniform" or "zipf:THETA" */
    int csv, json, cdf;
    int clock_gettime;      /* time samples with clock_gettime, not rdtsc */
    int selftest, memeff, near_matrix;
    char trace[16];         /* --trace KIND, "" = off */
    unsigned fill_seeds;    /* --fill-capacity: seeds per size, 0 = off */
} bench_cli_t;

/* Parse argv into *cli (defaults first). 0, or -1 after saying why on
 * stderr; --help prints the usage and exits 0. */
int bench_parse_opts(int argc, char **argv, bench_cli_t *cli);
void bench_usage(FILE *f);

/* Key i is "key:" followed by 12 decimal digits (16 bytes) (keys.c);
 * keys_init() once before key_format(). */
#define KEY_LEN 16
void keys_init(void);
void key_format(char out[KEY_LEN], uint64_t i);

/* Value of key i for size n: its first 8 bytes hold i (when n >= 8), the
 * rest a pattern; used by --verify. */
void value_fill(char *buf, size_t n, uint64_t i);
int  value_check(const char *buf, size_t n, uint64_t i);

/* ---- backends --------------------------------------------------------- */

/*
 * One backend. global_* run in the parent around the whole run; proc_* in
 * each worker process after fork; worker_* in each worker thread. Any of
 * them may be NULL. get returns 0 hit, 1 miss, negative errno on error;
 * set/del/incr 0 done, 1 absent (del, incr), negative errno on error.
 * Shared backends are preloaded once by preload() in the parent (g, no
 * worker); private ones by each worker in worker_init.
 */
typedef struct backend {
    const char *name;
    int shared;        /* one store seen by every worker */
    int warm;          /* each worker gets every key once before the timed
                          run (faults the shared mapping into its page tables) */
    int (*global_init)(const bench_opts_t *o, void **g);
    int (*preload)(void *g, const bench_opts_t *o);
    void (*global_fini)(void *g);
    int (*proc_init)(void *g, void **p);
    void (*proc_fini)(void *p);
    int (*worker_init)(void *g, void *p, const bench_opts_t *o, void **w);
    void (*worker_fini)(void *w);
    int (*get)(void *w, const char *k, size_t kl, char *buf, size_t cap, size_t *vlen);
    int (*set)(void *w, const char *k, size_t kl, const char *v, size_t vl);
    int (*del)(void *w, const char *k, size_t kl);
    int (*incr)(void *w, const char *k, size_t kl, uint64_t delta, uint64_t *res);
    /* evictions so far (NULL or negative: unknown); parent, after the run */
    int64_t (*evictions)(void *g);
    /* the backend's own counters as JSON members ("a": 1, "b": 2); parent,
     * after each run; counters are cumulative over the backend's runs */
    void (*describe)(void *g, char *buf, size_t n);
} backend_t;

extern const backend_t backend_shmcache, backend_shmcache_tagged, backend_shmcache_lease,
    backend_shmcache_near,
    backend_private, backend_private_shape, backend_globallock, backend_memcached,
    backend_redis, backend_null;

/* The size of the value stored for key i (fixed, or a per-key size drawn
 * from [vmin, vmax] by a hash of i so every worker agrees). */
uint32_t value_size_for(const bench_opts_t *o, uint64_t i);

/* Preload helper for backends: set every key 0..keys-1 (counters "0" for
 * the incr mix) through set(). */
int preload_keys(const bench_opts_t *o, void *w,
                 int (*set)(void *w, const char *k, size_t kl, const char *v, size_t vl));

/* Geometry of the private-shape/globallock table for these options
 * (backend_private_shape.c). */
uint64_t table_slots_for(const bench_opts_t *o);
uint64_t table_memory_for(const bench_opts_t *o);

/* ---- random numbers and key distributions (zipf.c) -------------------- */

typedef struct rng { uint64_t s; } rng_t;
uint64_t rng_next(rng_t *r);                 /* 64 random bits */
double   rng_unit(rng_t *r);                 /* [0, 1) */
uint64_t rng_below(rng_t *r, uint64_t n);    /* [0, n) */

typedef struct zipf {
    uint64_t n;
    double theta, hx0, hxm, s;  /* rejection-inversion constants */
} zipf_t;
int      zipf_init(zipf_t *z, uint64_t n, double theta);  /* -EINVAL */
uint64_t zipf_next(const zipf_t *z, rng_t *r);            /* rank in [0, n) */

/* A bijection of [0, n) used to spread popular ranks over the key space. */
uint64_t scatter(uint64_t rank, uint64_t n);

/* Strong 64-bit hash of a byte string (multiply / xor-shift rounds). */
uint64_t bench_hash(const void *key, size_t len, uint64_t seed);

/* ---- latency histograms (hist.c) ------------------------------------- */

#define HIST_SUB_BITS 4                          /* 16 sub-buckets per octave */
#define HIST_BUCKETS (64 << HIST_SUB_BITS)       /* covers all of uint64 ns */

typedef struct hist {
    uint64_t count, sum_ns, max_ns, min_ns;
    uint64_t b[HIST_BUCKETS];
} hist_t;

void     hist_reset(hist_t *h);
void     hist_add(hist_t *h, uint64_t ns);
void     hist_merge(hist_t *dst, const hist_t *src);
uint64_t hist_quantile(const hist_t *h, double q);    /* ns, upper bound of bucket */
uint64_t hist_bucket_upper(unsigned idx);              /* ns */

/* Time source for latency samples: rdtsc calibrated against
 * CLOCK_MONOTONIC when the CPU has an invariant TSC, else clock_gettime. */
void        clock_setup(int force_clock_gettime);
const char *clock_source(void);
uint64_t    tick_now(void);
uint64_t    ticks_to_ns(uint64_t ticks);
uint64_t    now_ns(void);                              /* CLOCK_MONOTONIC */

/* ---- results and reports (report.c) --------------------------------- */

typedef struct run {
    const backend_t *be;
    int procs, threads;
    int processes;                  /* distinct worker pids seen (== procs) */
    uint32_t sample_every;
    double elapsed;                 /* s, first start to last end */
    double cpu;                     /* CPU time the workers got / their wall time */
    double cpu_rate;                /* sum over workers of ops / own CPU seconds */
    uint64_t ops[OP_KINDS], total, hits, misses, errors, verify_failed, fills;
    int64_t evictions;
    char lib[512];                  /* backend's own counters, JSON members */
    hist_t hist[OP_KINDS], all;
} run_t;

typedef struct report_cfg {
    const bench_opts_t *o;
    const char *mix, *dist;
    int cdf;                        /* JSON: add latency CDFs */
} report_cfg_t;

/* cpu over what the machine could give: min(1, online CPUs / workers). */
double cpu_share(const run_t *r);

void report_table(const report_cfg_t *cfg, const run_t *runs, int nruns);
void report_csv(const report_cfg_t *cfg, const run_t *runs, int nruns);
void report_json(const report_cfg_t *cfg, const run_t *runs, int nruns);

/* ---- the harness (harness.c) ------------------------------------------ */

/* Run be (global state g, prepared and preloaded) with nprocs forked
 * worker processes of o->threads threads each; fill *res. 0 or -errno. */
int run_workers(const backend_t *be, void *g, const bench_opts_t *o, int nprocs, run_t *res);

/* SIGINT, SIGTERM, SIGHUP kill the workers and the peer servers and remove
 * the segment before dying of the signal; SIGPIPE is ignored. */
void harness_signals(void);

/* --near (near_matrix.c): shmc_get against near-cache views, one process,
 * over value sizes and thread counts (changes *o as it goes). */
int run_near_matrix(bench_opts_t *o);

/* ---- peer servers (server.c) ----------------------------------------- */

typedef struct server {
    int pid;
    int port;
} server_t;
/* Start memcached or redis-server on 127.0.0.1 at a random free high port
 * and wait until it answers. mem_mb: memcached -m (ignored by redis). */
int  server_start(server_t *s, const char *kind, uint64_t mem_mb);
void server_stop(server_t *s);
void server_stop_all(void);  /* async-signal-safe: kill every started server */

/* ---- trace replay and memory efficiency (trace.c) --------------------- */

int run_trace(const bench_opts_t *o, const char *trace, int json, int csv);
int run_memeff(const bench_opts_t *o, int json, int csv);

/* --selftest (selftest.c): 0 when the bench's own hashes, tables and
 * sampler check out. */
int run_selftest(const bench_opts_t *o);

/* --fill-capacity (fill.c): evictions and lost keys after storing
 * `capacity` distinct keys with ample memory, `seeds` seeds per size. */
int run_fill_capacity(const bench_opts_t *o, unsigned seeds, int json, int csv);

/* shmcache segment name of this run ("/shmcache-bench-<pid>"), removed at
 * exit and on signals by main.c. */
extern char bench_shm_name[64];

#endif
