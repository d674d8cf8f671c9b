/*
 * options.c - shmcache-bench's command line: the options, their defaults
 * and the checks on their values (bench_parse_opts), and --help.
 */
#include "bench.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct { const char *name; int mix; } mixes[] = {
    { "read", MIX_READ }, { "95/5", MIX_95_5 }, { "50/50", MIX_50_50 },
    { "write", MIX_WRITE }, { "writer", MIX_WRITER }, { "delete", MIX_DELETE },
    { "incr", MIX_INCR }, { "prices", MIX_PRICES },
};

void bench_usage(FILE *f)
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

int bench_parse_opts(int argc, char **argv, bench_cli_t *cli)
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
    bench_opts_t *o = &cli->o;
    uint64_t u;
    int c;

    memset(cli, 0, sizeof *cli);
    snprintf(cli->backends, sizeof cli->backends, "shmcache");
    snprintf(cli->procs, sizeof cli->procs, "1");
    cli->mix_name = "read";
    snprintf(cli->dist_name, sizeof cli->dist_name, "uniform");
    o->progress = -1;
    o->keys = 10000;
    o->vmin = o->vmax = 100;
    o->mix = MIX_READ;
    o->theta = 0.99;
    o->duration = 2.0;
    o->threads = 1;
    o->sample_every = 16;
    o->seed = 42;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case O_BACKEND: snprintf(cli->backends, sizeof cli->backends, "%s", optarg); break;
        case O_PROCS: snprintf(cli->procs, sizeof cli->procs, "%s", optarg); break;
        case O_THREADS:
            if (parse_u64(optarg, &u) || u < 1 || u > 256) goto bad;
            o->threads = (int)u;
            break;
        case O_DURATION:
            o->duration = strtod(optarg, NULL);
            if (!(o->duration > 0)) goto bad;
            break;
        case O_OPS: if (parse_u64(optarg, &o->ops) || !o->ops) goto bad; break;
        case O_MIX: {
            size_t i;
            for (i = 0; i < sizeof mixes / sizeof mixes[0]; i++)
                if (strcmp(optarg, mixes[i].name) == 0)
                    break;
            if (i == sizeof mixes / sizeof mixes[0]) goto bad;
            o->mix = mixes[i].mix;
            cli->mix_name = mixes[i].name;
            break;
        }
        case O_KEYS:
            if (parse_u64(optarg, &o->keys) || o->keys < 1 || o->keys >= (1u << 29)) goto bad;
            break;
        case O_DIST:
            if (strcmp(optarg, "uniform") == 0) {
                o->zipf = 0;
            } else if (strncmp(optarg, "zipf", 4) == 0) {
                o->zipf = 1;
                if (optarg[4] == ':') {
                    o->theta = strtod(optarg + 5, NULL);
                    if (!(o->theta > 0) || o->theta > 10) goto bad;
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
            o->vmin = (uint32_t)a;
            o->vmax = (uint32_t)b;
            break;
        }
        case O_CSV: cli->csv = 1; break;
        case O_JSON: cli->json = 1; break;
        case O_TRACE:
            if (strcmp(optarg, "zipf") != 0) goto bad;
            snprintf(cli->trace, sizeof cli->trace, "%s", optarg);
            break;
        case O_MEMEFF: cli->memeff = 1; break;
        case O_FILL:
            cli->fill_seeds = 3;
            if (optarg) {
                if (parse_u64(optarg, &u) || u < 1 || u > 100) goto bad;
                cli->fill_seeds = (unsigned)u;
            }
            break;
        case O_NEAR: cli->near_matrix = 1; break;
        case O_CAP: if (parse_u64(optarg, &o->capacity)) goto bad; break;
        case O_MEM: if (parse_u64(optarg, &o->memory)) goto bad; break;
        case O_STRIPES:
            if (parse_u64(optarg, &u) || u > 1024) goto bad;
            o->stripes = (uint32_t)u;
            break;
        case O_SAMPLE:
            if (parse_u64(optarg, &u) || u < 1 || (u & (u - 1)) || u > (1u << 30)) goto bad;
            o->sample_every = (uint32_t)u;
            o->sample_every_set = 1;
            break;
        case O_CGT: cli->clock_gettime = 1; break;
        case O_VERIFY: o->verify = 1; break;
        case O_LHUGE: o->limit_huge = 1; break;
        case O_SEED: if (parse_u64(optarg, &o->seed)) goto bad; break;
        case O_CDF: cli->cdf = 1; break;
        case O_PROG: o->progress = 1; break;
        case O_NOPROG: o->progress = 0; break;
        case O_SELFTEST: cli->selftest = 1; break;
        case O_HELP: case 'h': bench_usage(stdout); exit(0);
        default: bench_usage(stderr); return -1;
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
    if (o->zipf)
        snprintf(cli->dist_name, sizeof cli->dist_name, "zipf:%.2f", o->theta);
    if (cli->csv && cli->json) {
        fprintf(stderr, "shmcache-bench: --csv and --json exclude each other\n");
        return -1;
    }
    return 0;
}
