/*
 * main.c - shmcache-bench: picks the mode the options ask for, or runs each
 * backend with each process count (harness.c) and prints the runs
 * (report.c). Options: options.c; --near: near_matrix.c; --trace and
 * --memeff: trace.c; --fill-capacity: fill.c; --selftest: selftest.c.
 */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

int main(int argc, char **argv)
{
    static bench_cli_t cli;
    int nruns = 0, rc = 0, procs[16], nprocs = 0;
    const backend_t *bes[16];
    int nbe = 0;
    run_t *runs;
    char tmp[256], *save, *tok;

    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    keys_init();
    if (bench_parse_opts(argc, argv, &cli) < 0)
        return 2;
    bench_opts_t *o = &cli.o;
    clock_setup(cli.clock_gettime);
    snprintf(bench_shm_name, sizeof bench_shm_name, "/shmcache-bench-%d", (int)getpid());
    harness_signals();

    if (cli.selftest)
        return run_selftest(o);
    if (cli.trace[0])
        return run_trace(o, cli.trace, cli.json, cli.csv) < 0 ? 1 : 0;
    if (cli.memeff)
        return run_memeff(o, cli.json, cli.csv) < 0 ? 1 : 0;
    if (cli.fill_seeds)
        return run_fill_capacity(o, cli.fill_seeds, cli.json, cli.csv) < 0 ? 1 : 0;
    if (cli.near_matrix)
        return run_near_matrix(o) < 0 ? 1 : 0;

    snprintf(tmp, sizeof tmp, "%s", cli.backends);
    for (tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        const backend_t *b = backend_by_name(tok);
        if (!b || nbe == 16) {
            fprintf(stderr, "shmcache-bench: unknown backend %s\n", tok);
            return 2;
        }
        bes[nbe++] = b;
    }
    snprintf(tmp, sizeof tmp, "%s", cli.procs);
    for (tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        long p = strtol(tok, NULL, 10);
        if (p < 1 || p > 512 || nprocs == 16 || p * o->threads > 1024) {
            fprintf(stderr, "shmcache-bench: bad --procs %s\n", tok);
            return 2;
        }
        procs[nprocs++] = (int)p;
    }
    if (!nbe || !nprocs) {
        bench_usage(stderr);
        return 2;
    }
    runs = calloc((size_t)(nbe * nprocs), sizeof *runs);
    if (!runs)
        return 1;
    for (int b = 0; b < nbe && rc == 0; b++) {
        const backend_t *be = bes[b];
        void *g = NULL;

        if (be->global_init && (rc = be->global_init(o, &g)) < 0) {
            fprintf(stderr, "shmcache-bench: %s: cannot start: %s\n", be->name, strerror(-rc));
            break;
        }
        for (int p = 0; p < nprocs && rc == 0; p++) {
            /* reload before each run unless the last one only read */
            if (be->preload && (p == 0 || o->mix != MIX_READ) &&
                (rc = be->preload(g, o)) < 0) {
                fprintf(stderr, "shmcache-bench: %s: preload failed: %s\n", be->name,
                        strerror(-rc));
                break;
            }
            rc = run_workers(be, g, o, procs[p], &runs[nruns]);
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
        report_cfg_t cfg = { o, cli.mix_name, cli.dist_name, cli.cdf };
        if (cli.json)
            report_json(&cfg, runs, nruns);
        else if (cli.csv)
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
