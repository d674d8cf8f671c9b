/*
 * main.c - shmcache-relay: one per host and segment. Carries the
 * segment's invalidation journal to a Redis Stream and applies the other
 * hosts' records from it (docs/RELAY.md). Runs in the foreground until
 * SIGTERM or SIGINT; logs to standard error.
 *
 * Startup checks, in order, each with its own exit code: the command line
 * and URL (2), the segment and its journal (3), no other relay on it (4).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "relay.h"
#include "../units.h"

volatile sig_atomic_t relay_stop;

static void on_signal(int sig)
{
    (void)sig;
    relay_stop = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: " RELAY_NAME " [options] NAME\n"
        "\n"
        "Carry the invalidations of shmcache segment NAME (created with a journal:\n"
        "shmcache-tool create NAME --journal) to a Redis Stream, and apply the\n"
        "other hosts' invalidations from it. Runs in the foreground.\n"
        "\n"
        "Options:\n"
        "  --redis URL          redis://[[user]:password@]host[:port][/db]\n"
        "                       (default redis://127.0.0.1:6379)\n"
        "  --stream KEY         stream key (default shmcache:NAME)\n"
        "  --max-stale DURATION clear the segment when Redis stays unreachable this\n"
        "                       long (default 10s; e.g. 500ms, 30s, 5m)\n"
        "  --origin ID          this host's id in the stream (default: host name)\n"
        "  --maxlen N           approximate stream length kept (default 100000)\n"
        "  -h, --help           this help\n"
        "      --version        print the version\n"
        "\n"
        "Exit status: 0 stopped by SIGTERM/SIGINT, 1 failure, 2 usage error or bad\n"
        "URL, 3 segment missing or without journal, 4 another relay serves NAME.\n"
        "See shmcache-relay(1).\n");
}

static int usage_err(const char *fmt, const char *arg)
{
    fprintf(stderr, RELAY_NAME ": ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry '" RELAY_NAME " --help'.\n");
    return RELAY_EXIT_USAGE;
}

static int parse(int argc, char **argv, struct relay *r)
{
    static const struct option opts[] = {
        {"redis", required_argument, NULL, 'r'},   {"stream", required_argument, NULL, 's'},
        {"max-stale", required_argument, NULL, 'm'}, {"origin", required_argument, NULL, 'o'},
        {"maxlen", required_argument, NULL, 'l'},  {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},       {NULL, 0, NULL, 0},
    };
    const char *url = "redis://127.0.0.1:6379", *stream = NULL, *origin = NULL;
    char err[128];
    int ch;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'r': url = optarg; break;
        case 's': stream = optarg; break;
        case 'o': origin = optarg; break;
        case 'm':
            if (units_parse_duration(optarg, &r->max_stale_ms) != 0 || r->max_stale_ms < 100)
                return usage_err("bad --max-stale '%s' (a duration of at least 100ms)", optarg);
            break;
        case 'l':
            if (units_parse_u64(optarg, &r->maxlen) != 0 || r->maxlen < 1000)
                return usage_err("bad --maxlen '%s' (at least 1000)", optarg);
            break;
        case 'h': usage(stdout); exit(0);
        case 'V': printf(RELAY_NAME " %s\n", SHMC_VERSION_STRING); exit(0);
        default:
            return usage_err("unknown option or missing value: '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return usage_err("%s", optind >= argc ? "missing segment NAME" : "exactly one segment NAME");
    r->segment = argv[optind];
    if (redis_parse_url(url, &r->url, err, sizeof(err)) != 0) {
        fprintf(stderr, RELAY_NAME ": bad --redis URL '%s': %s\n", url, err);
        return RELAY_EXIT_USAGE;
    }
    const char *bare = r->segment[0] == '/' ? r->segment + 1 : r->segment;
    if (stream && (!*stream || strlen(stream) >= sizeof(r->stream)))
        return usage_err("bad --stream '%s'", stream);
    snprintf(r->stream, sizeof(r->stream), "%s%s", stream ? "" : "shmcache:", stream ? stream : bare);
    if (origin) {
        if (!*origin || strlen(origin) >= sizeof(r->origin))
            return usage_err("bad --origin '%s' (1..63 bytes)", origin);
        snprintf(r->origin, sizeof(r->origin), "%s", origin);
    } else if (gethostname(r->origin, sizeof(r->origin)) != 0 || !r->origin[0]) {
        return usage_err("%s", "cannot read the host name: give --origin");
    }
    r->origin[sizeof(r->origin) - 1] = 0;
    return RELAY_EXIT_OK;
}

static int open_segment(struct relay *r)
{
    int rc = shmc_open(r->segment, 0, NULL, &r->c);
    if (rc) {
        fprintf(stderr, RELAY_NAME ": cannot open segment %s: %s\n", r->segment, shmc_strerror(rc));
        return RELAY_EXIT_NOSEG;
    }
    shmc_journal_info_t in;
    rc = shmc_journal_info(r->c, &in);
    if (rc) {
        fprintf(stderr, RELAY_NAME ": segment %s has no journal (create it with "
                "'shmcache-tool create %s --journal'): %s\n", r->segment, r->segment, shmc_strerror(rc));
        return RELAY_EXIT_NOSEG;
    }
    rc = shmc_relay_claim(r->c);
    if (rc == -EBUSY) {
        fprintf(stderr, RELAY_NAME ": another relay already serves %s\n", r->segment);
        return RELAY_EXIT_BUSY;
    }
    if (rc) {
        fprintf(stderr, RELAY_NAME ": cannot claim %s: %s\n", r->segment, shmc_strerror(rc));
        return RELAY_EXIT_NOSEG;
    }
    /* Positions and totals carry over from the previous relay. */
    if (shmc_relay_status_get(r->c, &r->st) != 0)
        memset(&r->st, 0, sizeof(r->st));
    r->first_start = r->st.pid == 0;
    r->st.pid = (uint32_t)getpid();
    r->st.connected = 0;
    snprintf(r->st.origin, sizeof(r->st.origin), "%s", r->origin);
    return RELAY_EXIT_OK;
}

int main(int argc, char **argv)
{
    static struct relay r;
    r.max_stale_ms = 10000;
    r.maxlen = 100000;
    int rc = parse(argc, argv, &r);
    if (rc)
        return rc;
    rc = open_segment(&r);
    if (rc) {
        shmc_close(r.c);
        return rc;
    }
    pthread_mutex_init(&r.mu, NULL);
    pthread_mutex_lock(&r.mu);
    status_save_mu(&r);
    pthread_mutex_unlock(&r.mu);

    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    relay_log("serving %s: origin %s, stream %s on %s:%d, max-stale %llu ms", r.segment, r.origin,
              r.stream, r.url.host, r.url.port, (unsigned long long)r.max_stale_ms);

    pthread_t pub, app;
    if (pthread_create(&pub, NULL, publish_main, &r) != 0 ||
        pthread_create(&app, NULL, apply_main, &r) != 0) {
        relay_log("cannot start threads");
        return RELAY_EXIT_FAIL;
    }
    pthread_join(pub, NULL);
    pthread_join(app, NULL);
    pthread_mutex_lock(&r.mu);
    r.st.connected = 0;
    status_save_mu(&r);
    pthread_mutex_unlock(&r.mu);
    relay_log("stopped: published up to journal record %llu",
              (unsigned long long)r.st.published_seq);
    shmc_close(r.c);
    return RELAY_EXIT_OK;
}
