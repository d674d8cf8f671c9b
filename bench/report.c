/*
 * report.c - what a set of runs printed as: a markdown table (terminal),
 * CSV (one row per run and op kind, plus an "all" row) or JSON (per run:
 * totals, latency percentiles overall and per op kind, optional CDFs, the
 * backend's own counters; then ratios of shmcache to every other backend
 * at the same process count).
 */
#include "bench.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

double cpu_share(const run_t *r)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    double workers = (double)r->procs * (double)r->threads, avail = 1.0;

    if (ncpu > 0 && workers > (double)ncpu)
        avail = (double)ncpu / workers;
    return r->cpu / avail;
}

static double rate(const run_t *r, uint64_t n)
{
    return r->elapsed > 0 ? (double)n / r->elapsed : 0;
}

static double hit_ratio(const run_t *r)
{
    uint64_t t = r->hits + r->misses;
    return t ? (double)r->hits / (double)t : 0;
}

static void fmt_rate(char *b, size_t n, double v)
{
    if (v >= 1e6)
        snprintf(b, n, "%.2fM", v / 1e6);
    else if (v >= 1e3)
        snprintf(b, n, "%.1fk", v / 1e3);
    else
        snprintf(b, n, "%.0f", v);
}

static void fmt_ns(char *b, size_t n, uint64_t ns)
{
    if (ns >= 10000000)
        snprintf(b, n, "%.1fms", (double)ns / 1e6);
    else if (ns >= 10000)
        snprintf(b, n, "%.1fus", (double)ns / 1e3);
    else
        snprintf(b, n, "%lluns", (unsigned long long)ns);
}

static void print_header(const report_cfg_t *cfg, FILE *f)
{
    char vs[32];
    if (cfg->o->vmin == cfg->o->vmax)
        snprintf(vs, sizeof vs, "%u", cfg->o->vmin);
    else
        snprintf(vs, sizeof vs, "%u-%u", cfg->o->vmin, cfg->o->vmax);
    fprintf(f, "# shmcache-bench: mix=%s dist=%s keys=%llu value=%sB threads/proc=%d %s",
            cfg->mix, cfg->dist, (unsigned long long)cfg->o->keys, vs, cfg->o->threads,
            cfg->o->ops ? "" : "");
    if (cfg->o->ops)
        fprintf(f, "ops=%llu\n", (unsigned long long)cfg->o->ops);
    else
        fprintf(f, "duration=%.1fs\n", cfg->o->duration);
    fprintf(f, "# latency: 1 op in %u timed with %s (every op for memcached/redis); "
            "ratios are against the same run\n", cfg->o->sample_every, clock_source());
}

static const backend_t *ratio_ref(const run_t *runs, int nruns)
{
    for (int i = 0; i < nruns; i++)
        if (strcmp(runs[i].be->name, "shmcache") == 0)
            return runs[i].be;
    return runs[0].be;
}

void report_table(const report_cfg_t *cfg, const run_t *runs, int nruns)
{
    char a[32], b[32], c[32], d[32], e[32];

    print_header(cfg, stdout);
    printf("\n| backend | procs | ops/s | get/s | set/s | del/s | incr/s | hit %% | evictions | errors | cpu %% | ops/cpu-s |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < nruns; i++) {
        const run_t *r = &runs[i];
        fmt_rate(a, sizeof a, rate(r, r->total));
        fmt_rate(b, sizeof b, rate(r, r->ops[OP_GET]));
        fmt_rate(c, sizeof c, rate(r, r->ops[OP_SET]));
        fmt_rate(d, sizeof d, rate(r, r->ops[OP_DEL]));
        fmt_rate(e, sizeof e, rate(r, r->ops[OP_INCR]));
        char ev[32] = "-";
        if (r->evictions >= 0)
            snprintf(ev, sizeof ev, "%lld", (long long)r->evictions);
        char cr[32];
        fmt_rate(cr, sizeof cr, r->cpu_rate);
        printf("| %s | %d | %s | %s | %s | %s | %s | %.1f | %s | %llu%s | %.0f | %s |\n",
               r->be->name, r->procs, a, b, c, d, e, 100.0 * hit_ratio(r), ev,
               (unsigned long long)r->errors,
               r->verify_failed ? " VERIFY FAILED" : "", 100.0 * r->cpu, cr);
    }
    printf("\n| backend | procs | op | samples | p50 | p90 | p99 | p99.9 | max |\n");
    printf("|---|---:|---|---:|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < nruns; i++) {
        for (unsigned k = 0; k < OP_KINDS; k++) {
            const hist_t *h = &runs[i].hist[k];
            char p[5][16];
            if (!h->count)
                continue;
            fmt_ns(p[0], 16, hist_quantile(h, 0.50));
            fmt_ns(p[1], 16, hist_quantile(h, 0.90));
            fmt_ns(p[2], 16, hist_quantile(h, 0.99));
            fmt_ns(p[3], 16, hist_quantile(h, 0.999));
            fmt_ns(p[4], 16, h->max_ns);
            printf("| %s | %d | %s | %llu | %s | %s | %s | %s | %s |\n",
                   runs[i].be->name, runs[i].procs, op_names[k],
                   (unsigned long long)h->count, p[0], p[1], p[2], p[3], p[4]);
        }
    }
    /* ratios: shmcache (or the first backend) against each other backend */
    {
        const backend_t *ref = ratio_ref(runs, nruns);
        int header = 0;
        for (int i = 0; i < nruns; i++)
            for (int j = 0; j < nruns; j++) {
                if (runs[i].be != ref || runs[j].be == ref || runs[j].procs != runs[i].procs ||
                    runs[j].be == &backend_null)
                    continue;
                if (!header) {
                    printf("\n| ratio | procs | ops/s ratio |\n|---|---:|---:|\n");
                    header = 1;
                }
                double den = rate(&runs[j], runs[j].total);
                printf("| %s / %s | %d | %.3f |\n", ref->name, runs[j].be->name,
                       runs[i].procs, den > 0 ? rate(&runs[i], runs[i].total) / den : 0);
            }
        /* scaling: ops(p) / ops(first p) per backend */
        header = 0;
        for (int i = 0; i < nruns; i++)
            for (int j = 0; j < i; j++) {
                if (runs[j].be != runs[i].be || runs[j].procs >= runs[i].procs)
                    continue;
                int first = 1;
                for (int m = 0; m < j; m++)
                    if (runs[m].be == runs[i].be)
                        first = 0;
                if (!first)
                    continue;
                if (!header) {
                    printf("\n| scaling | from | to | ratio |\n|---|---:|---:|---:|\n");
                    header = 1;
                }
                double den = rate(&runs[j], runs[j].total);
                printf("| %s | %d | %d | %.3f |\n", runs[i].be->name, runs[j].procs,
                       runs[i].procs, den > 0 ? rate(&runs[i], runs[i].total) / den : 0);
            }
    }
}

void report_csv(const report_cfg_t *cfg, const run_t *runs, int nruns)
{
    printf("backend,procs,threads,mix,dist,keys,vmin,vmax,elapsed_s,op,ops,ops_per_s,"
           "hits,misses,hit_ratio,errors,evictions,samples,p50_ns,p90_ns,p99_ns,p999_ns,max_ns,clock,cpu,"
           "ops_per_cpu_s\n");
    for (int i = 0; i < nruns; i++) {
        const run_t *r = &runs[i];
        for (int k = -1; k < OP_KINDS; k++) {
            const hist_t *h = k < 0 ? &r->all : &r->hist[k];
            uint64_t n = k < 0 ? r->total : r->ops[k];
            if (k >= 0 && n == 0)
                continue;
            printf("%s,%d,%d,%s,%s,%llu,%u,%u,%.4f,%s,%llu,%.1f,%llu,%llu,%.5f,%llu,%lld,"
                   "%llu,%llu,%llu,%llu,%llu,%llu,%s,%.3f,%.1f\n",
                   r->be->name, r->procs, r->threads, cfg->mix, cfg->dist,
                   (unsigned long long)cfg->o->keys, cfg->o->vmin, cfg->o->vmax, r->elapsed,
                   k < 0 ? "all" : op_names[k], (unsigned long long)n, rate(r, n),
                   (unsigned long long)r->hits, (unsigned long long)r->misses,
                   hit_ratio(r), (unsigned long long)r->errors, (long long)r->evictions,
                   (unsigned long long)h->count,
                   (unsigned long long)hist_quantile(h, 0.5),
                   (unsigned long long)hist_quantile(h, 0.9),
                   (unsigned long long)hist_quantile(h, 0.99),
                   (unsigned long long)hist_quantile(h, 0.999),
                   (unsigned long long)h->max_ns, clock_source(), r->cpu,
                   k < 0 ? r->cpu_rate : 0.0);
        }
    }
}

static void json_hist(const report_cfg_t *cfg, const hist_t *h)
{
    printf("{\"samples\": %llu, \"mean_ns\": %.1f, \"p50_ns\": %llu, \"p90_ns\": %llu, "
           "\"p99_ns\": %llu, \"p999_ns\": %llu, \"max_ns\": %llu",
           (unsigned long long)h->count,
           h->count ? (double)h->sum_ns / (double)h->count : 0.0,
           (unsigned long long)hist_quantile(h, 0.5),
           (unsigned long long)hist_quantile(h, 0.9),
           (unsigned long long)hist_quantile(h, 0.99),
           (unsigned long long)hist_quantile(h, 0.999),
           (unsigned long long)h->max_ns);
    if (cfg->cdf && h->count) {
        uint64_t seen = 0;
        int first = 1;
        printf(", \"cdf\": [");
        for (unsigned i = 0; i < HIST_BUCKETS; i++) {
            if (!h->b[i])
                continue;
            seen += h->b[i];
            printf("%s[%llu, %.6f]", first ? "" : ", ",
                   (unsigned long long)hist_bucket_upper(i),
                   (double)seen / (double)h->count);
            first = 0;
        }
        printf("]");
    }
    printf("}");
}

void report_json(const report_cfg_t *cfg, const run_t *runs, int nruns)
{
    printf("{\"tool\": \"shmcache-bench\", \"clock\": \"%s\", \"sample_every\": %u,\n",
           clock_source(), cfg->o->sample_every);
    printf(" \"config\": {\"mix\": \"%s\", \"dist\": \"%s\", \"theta\": %.3f, \"keys\": %llu, "
           "\"vmin\": %u, \"vmax\": %u, \"threads\": %d, \"duration_s\": %.3f, \"ops\": %llu},\n",
           cfg->mix, cfg->dist, cfg->o->theta, (unsigned long long)cfg->o->keys, cfg->o->vmin, cfg->o->vmax,
           cfg->o->threads, cfg->o->ops ? 0.0 : cfg->o->duration, (unsigned long long)cfg->o->ops);
    printf(" \"runs\": [");
    for (int i = 0; i < nruns; i++) {
        const run_t *r = &runs[i];
        printf("%s\n  {\"backend\": \"%s\", \"procs\": %d, \"processes\": %d, \"threads\": %d, "
               "\"elapsed_s\": %.4f, "
               "\"ops\": %llu, \"ops_per_s\": %.1f, \"hits\": %llu, \"misses\": %llu, "
               "\"hit_ratio\": %.5f, \"fills\": %llu, \"errors\": %llu, \"verify_failed\": %llu, "
               "\"evictions\": %lld, \"cpu\": %.3f, \"cpu_share\": %.3f, \"ops_per_cpu_s\": %.1f, "
               "\"sample_every\": %u,\n   \"latency\": ",
               i ? "," : "", r->be->name, r->procs, r->processes, r->threads, r->elapsed,
               (unsigned long long)r->total, rate(r, r->total),
               (unsigned long long)r->hits, (unsigned long long)r->misses, hit_ratio(r),
               (unsigned long long)r->fills, (unsigned long long)r->errors,
               (unsigned long long)r->verify_failed, (long long)r->evictions, r->cpu,
               cpu_share(r), r->cpu_rate, r->sample_every);
        json_hist(cfg, &r->all);
        if (r->lib[0])
            printf(",\n   \"lib\": {%s}", r->lib);
        printf(",\n   \"kinds\": {");
        int first = 1;
        for (unsigned k = 0; k < OP_KINDS; k++) {
            if (!r->ops[k])
                continue;
            printf("%s\"%s\": {\"ops\": %llu, \"ops_per_s\": %.1f, \"latency\": ",
                   first ? "" : ", ", op_names[k], (unsigned long long)r->ops[k],
                   rate(r, r->ops[k]));
            json_hist(cfg, &r->hist[k]);
            printf("}");
            first = 0;
        }
        printf("}}");
    }
    printf("\n ],\n \"ratios\": [");
    {
        const backend_t *ref = ratio_ref(runs, nruns);
        int first = 1;
        for (int i = 0; i < nruns; i++)
            for (int j = 0; j < nruns; j++) {
                if (runs[i].be != ref || runs[j].be == ref || runs[j].procs != runs[i].procs ||
                    runs[j].be == &backend_null)
                    continue;
                double den = rate(&runs[j], runs[j].total);
                printf("%s\n  {\"num\": \"%s\", \"den\": \"%s\", \"procs\": %d, \"ratio\": %.4f}",
                       first ? "" : ",", ref->name, runs[j].be->name, runs[i].procs,
                       den > 0 ? rate(&runs[i], runs[i].total) / den : 0.0);
                first = 0;
            }
    }
    printf("\n ]}\n");
}
