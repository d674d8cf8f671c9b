/*
 * near_bench.c - get throughput with and without the near cache.
 *
 *   build/examples/near_bench [seconds-per-run] [repeats]
 *
 * For 100 B, 4 KB and 64 KB values, 1 and 2 threads of one process read
 * random keys of a working set that fits both the segment and the near
 * cache: once with shmc_get (a copy into the thread's buffer), once with
 * shmc_get_view/shmc_view_release (zero-copy, validated). Both "use" the
 * value the same minimal way (one byte at each end), so the difference is
 * the cost of getting at the bytes. Each cell is the median of the repeats;
 * the ratio is view/get.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shmcache.h"

struct run {
    shmc_t *c;
    int view;            /* 1: shmc_get_view, 0: shmc_get */
    unsigned nkeys;
    size_t vlen;
    double seconds;
    unsigned id;
    pthread_barrier_t *start;
    uint64_t ops;        /* result */
    int error;
    unsigned char sink;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void key_of(char *k, size_t cap, unsigned i) { snprintf(k, cap, "bench:%08u", i); }

static void *worker(void *arg)
{
    struct run *r = arg;
    unsigned char *buf = malloc(r->vlen);
    char keys[64][24];
    uint64_t s = 0x9e3779b97f4a7c15ull * (r->id + 1);
    if (!buf) {
        r->error = -ENOMEM;
        return NULL;
    }
    pthread_barrier_wait(r->start);
    double end = now_s() + r->seconds;
    uint64_t ops = 0;
    unsigned char sink = 0;
    while (!r->error) {
        /* 64 random keys per clock check */
        for (unsigned i = 0; i < 64; i++) {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            key_of(keys[i], sizeof keys[i], (unsigned)((s * 0x2545f4914f6cdd1dull) >> 33) % r->nkeys);
        }
        for (unsigned i = 0; i < 64; i++) {
            size_t klen = strlen(keys[i]);
            if (r->view) {
                shmc_view_t v;
                int rc = shmc_get_view(r->c, keys[i], klen, &v);
                if (rc) {
                    r->error = rc;
                    break;
                }
                const unsigned char *d = v.data;
                sink ^= d[0] ^ d[v.len - 1];
                shmc_view_release(&v);
            } else {
                size_t vlen;
                int rc = shmc_get(r->c, keys[i], klen, buf, r->vlen, &vlen, NULL);
                if (rc) {
                    r->error = rc;
                    break;
                }
                sink ^= buf[0] ^ buf[vlen - 1];
            }
        }
        ops += 64;
        if (now_s() >= end)
            break;
    }
    r->ops = ops;
    r->sink = sink;
    free(buf);
    return NULL;
}

/* Million gets per second of nthreads threads. */
static double measure(shmc_t *c, int view, unsigned nkeys, size_t vlen, unsigned nthreads,
                      double seconds)
{
    pthread_t th[8];
    struct run r[8];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, nthreads + 1);
    for (unsigned i = 0; i < nthreads; i++) {
        r[i] = (struct run){c, view, nkeys, vlen, seconds, i, &start, 0, 0, 0};
        pthread_create(&th[i], NULL, worker, &r[i]);
    }
    pthread_barrier_wait(&start);
    double t0 = now_s();
    uint64_t ops = 0;
    for (unsigned i = 0; i < nthreads; i++) {
        pthread_join(th[i], NULL);
        if (r[i].error) {
            fprintf(stderr, "worker: %s\n", shmc_strerror(r[i].error));
            exit(1);
        }
        ops += r[i].ops;
    }
    double t = now_s() - t0;
    pthread_barrier_destroy(&start);
    return (double)ops / t / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 0.5;
    int repeats = argc > 2 ? atoi(argv[2]) : 3;
    if (seconds <= 0 || repeats < 1 || repeats > 15) {
        fprintf(stderr, "usage: %s [seconds-per-run] [repeats (1..15)]\n", argv[0]);
        return 2;
    }
    char name[64];
    snprintf(name, sizeof name, "/near-bench-%ld", (long)getpid());
    shmc_config_t cfg;
    shmc_config_init(&cfg);
    cfg.capacity = 32768;
    cfg.memory = 256u << 20;
    cfg.max_value_len = 1u << 20;
    shmc_t *c;
    int rc = shmc_open(name, SHMC_CREATE | SHMC_EXCL, &cfg, &c);
    if (rc) {
        fprintf(stderr, "shmc_open: %s\n", shmc_strerror(rc));
        return 1;
    }
    rc = shmc_near_enable(c, 64u << 20);
    if (rc) {
        fprintf(stderr, "shmc_near_enable: %s\n", shmc_strerror(rc));
        shmc_close(c);
        shmc_unlink(name);
        return 1;
    }
    static const struct {
        size_t vlen;
        unsigned nkeys;
        const char *label;
    } sizes[] = {{100, 10000, "100 B"}, {4096, 2000, "4 KB"}, {65536, 200, "64 KB"}};
    printf("near_bench: %.2f s per run, median of %d; M gets/s (working set fits both caches)\n",
           seconds, repeats);
    printf("%-6s %-7s %12s %12s %8s\n", "value", "threads", "shmc_get", "get_view", "ratio");
    unsigned char *val = malloc(65536);
    if (!val)
        return 1;
    for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
        shmc_clear(c);
        for (unsigned i = 0; i < sizes[z].nkeys; i++) {
            char k[24];
            key_of(k, sizeof k, i);
            memset(val, (int)(i & 0xff), sizes[z].vlen);
            rc = shmc_set(c, k, strlen(k), val, sizes[z].vlen, 0, 0);
            if (rc) {
                fprintf(stderr, "shmc_set: %s\n", shmc_strerror(rc));
                return 1;
            }
        }
        for (unsigned nt = 1; nt <= 2; nt++) {
            double g[15], v[15];
            /* warm both paths once (fills the near cache) */
            measure(c, 1, sizes[z].nkeys, sizes[z].vlen, nt, seconds / 4);
            for (int k = 0; k < repeats; k++) {
                g[k] = measure(c, 0, sizes[z].nkeys, sizes[z].vlen, nt, seconds);
                v[k] = measure(c, 1, sizes[z].nkeys, sizes[z].vlen, nt, seconds);
            }
            qsort(g, (size_t)repeats, sizeof g[0], cmp_double);
            qsort(v, (size_t)repeats, sizeof v[0], cmp_double);
            double gm = g[repeats / 2], vm = v[repeats / 2];
            printf("%-6s %-7u %12.2f %12.2f %7.2fx\n", sizes[z].label, nt, gm, vm, vm / gm);
            fflush(stdout);
        }
    }
    shmc_near_stats_t st;
    if (shmc_near_stats(c, &st) == 0)
        printf("near cache: %llu hits, %llu refreshes, %llu evictions, %llu entries, %llu bytes\n",
               (unsigned long long)st.near_hits, (unsigned long long)st.refreshes,
               (unsigned long long)st.evictions, (unsigned long long)st.entries,
               (unsigned long long)st.bytes);
    free(val);
    shmc_near_disable(c);
    shmc_close(c);
    shmc_unlink(name);
    return 0;
}
