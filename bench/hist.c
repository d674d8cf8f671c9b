/*
 * hist.c - log-bucket latency histograms and the time source for samples.
 *
 * A value v (ns) falls in bucket v for v < 16; above, in octave
 * e = floor(log2 v) split into 16 equal sub-buckets, so a bucket's width is
 * at most 1/16 of its values (quantiles are exact to ~6 %). The histogram is
 * a flat array of counters with no pointers, so workers keep theirs in a
 * MAP_SHARED region and the parent merges them by adding arrays.
 *
 * Samples are timed with rdtsc (lfence before, rdtscp after) when the CPU
 * says its TSC is invariant (constant_tsc and nonstop_tsc), calibrated once
 * against CLOCK_MONOTONIC; otherwise with clock_gettime(CLOCK_MONOTONIC).
 */
#include "bench.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

static unsigned bucket_of(uint64_t v)
{
    unsigned e;

    if (v < (1u << HIST_SUB_BITS))
        return (unsigned)v;
    e = 63u - (unsigned)__builtin_clzll(v);
    return ((e - HIST_SUB_BITS + 1) << HIST_SUB_BITS) |
           (unsigned)((v >> (e - HIST_SUB_BITS)) & ((1u << HIST_SUB_BITS) - 1));
}

/* Largest value that falls into bucket idx. */
uint64_t hist_bucket_upper(unsigned idx)
{
    unsigned oct = idx >> HIST_SUB_BITS, sub = idx & ((1u << HIST_SUB_BITS) - 1);
    unsigned e;
    uint64_t lo, width;

    if (oct == 0)
        return idx;
    e = oct + HIST_SUB_BITS - 1;
    width = 1ull << (e - HIST_SUB_BITS);
    lo = (1ull << e) + sub * width;
    return lo + width - 1;
}

void hist_reset(hist_t *h)
{
    memset(h, 0, sizeof *h);
    h->min_ns = UINT64_MAX;
}

void hist_add(hist_t *h, uint64_t ns)
{
    h->b[bucket_of(ns)]++;
    h->count++;
    h->sum_ns += ns;
    if (ns > h->max_ns)
        h->max_ns = ns;
    if (ns < h->min_ns)
        h->min_ns = ns;
}

void hist_merge(hist_t *dst, const hist_t *src)
{
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        dst->b[i] += src->b[i];
    dst->count += src->count;
    dst->sum_ns += src->sum_ns;
    if (src->max_ns > dst->max_ns)
        dst->max_ns = src->max_ns;
    if (src->min_ns < dst->min_ns)
        dst->min_ns = src->min_ns;
}

/* The upper bound of the bucket holding the q-th value, capped at max. */
uint64_t hist_quantile(const hist_t *h, double q)
{
    uint64_t want, seen = 0;

    if (h->count == 0)
        return 0;
    want = (uint64_t)(q * (double)h->count + 0.5);
    if (want < 1)
        want = 1;
    if (want > h->count)
        want = h->count;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= want) {
            uint64_t u = hist_bucket_upper(i);
            return u < h->max_ns ? u : h->max_ns;
        }
    }
    return h->max_ns;
}

/* ---- time ------------------------------------------------------------ */

static int use_tsc;
static double ns_per_tick = 1.0;

uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#if defined(__x86_64__)
static int cpu_has_invariant_tsc(void)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[4096];
    int c = 0, n = 0;

    if (!f)
        return 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "flags", 5) != 0)
            continue;
        c = strstr(line, " constant_tsc") != NULL;
        n = strstr(line, " nonstop_tsc") != NULL;
        break;
    }
    fclose(f);
    return c && n;
}
#endif

void clock_setup(int force_clock_gettime)
{
    use_tsc = 0;
    ns_per_tick = 1.0;
#if defined(__x86_64__)
    if (!force_clock_gettime && cpu_has_invariant_tsc()) {
        uint64_t t0 = now_ns(), c0 = __rdtsc(), t1, c1;
        struct timespec d = { 0, 20 * 1000 * 1000 };
        nanosleep(&d, NULL);
        t1 = now_ns();
        c1 = __rdtsc();
        if (c1 > c0 && t1 > t0) {
            ns_per_tick = (double)(t1 - t0) / (double)(c1 - c0);
            use_tsc = 1;
        }
    }
#else
    (void)force_clock_gettime;
#endif
}

const char *clock_source(void)
{
    return use_tsc ? "rdtsc" : "clock_gettime";
}

uint64_t tick_now(void)
{
#if defined(__x86_64__)
    if (use_tsc) {
        unsigned aux;
        _mm_lfence();
        return __rdtscp(&aux);
    }
#endif
    return now_ns();
}

uint64_t ticks_to_ns(uint64_t ticks)
{
    return use_tsc ? (uint64_t)((double)ticks * ns_per_tick + 0.5) : ticks;
}
