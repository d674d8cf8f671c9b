/*
 * near_matrix.c - --near: get throughput of one process with and without
 * the near cache, over value sizes and thread counts.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>

/* One read-only run of be with O as it stands; ops/s, or < 0 on error. */
static double near_run(const backend_t *be, bench_opts_t *o, run_t *r)
{
    void *g = NULL;
    int rc = be->global_init(o, &g);
    if (rc == 0)
        rc = be->preload(g, o);
    if (rc == 0)
        rc = run_workers(be, g, o, 1, r);
    if (g)
        be->global_fini(g);
    return rc < 0 || r->elapsed <= 0 ? -1.0 : (double)r->total / r->elapsed;
}

/* --near: the near cache's matrix (issue 7's proof). One process; for each
 * value size and thread count, plain shmc_get and views through the near
 * cache, one after the other, as ratios. */
int run_near_matrix(bench_opts_t *o)
{
    static const uint32_t sizes[] = {100, 4096, 65536};
    static const int threads[] = {1, 2};
    if (o->keys == 10000) /* the default: keep 64 KB x keys in reason */
        o->keys = 1000;
    o->mix = MIX_READ;
    printf("# near cache: %llu keys, uniform reads, 1 process, %.1f s per run\n",
           (unsigned long long)o->keys, o->duration);
    printf("| value | threads | shmc_get ops/s | near view ops/s | near / get | cpu %% (get, near) |\n");
    printf("|---:|---:|---:|---:|---:|---|\n");
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        for (size_t t = 0; t < sizeof threads / sizeof threads[0]; t++) {
            o->vmin = o->vmax = sizes[s];
            o->threads = threads[t];
            run_t *r = calloc(2, sizeof *r);
            if (!r)
                return -1;
            double a = near_run(&backend_shmcache, o, &r[0]);
            double b = near_run(&backend_shmcache_near, o, &r[1]);
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
