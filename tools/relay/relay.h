/*
 * relay.h - what the parts of shmcache-relay share (docs/RELAY.md).
 *
 *   main.c     options, startup checks, signals, the two threads
 *   redis.c    the Redis URL, connecting with backoff, small reply helpers
 *   publish.c  journal -> stream (XADD, pipelined)
 *   apply.c    stream -> segment (XREAD BLOCK), staleness bounds
 *   status.c   the status block in the segment, log lines
 */
#ifndef SHMC_RELAY_H
#define SHMC_RELAY_H

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "shmcache.h"

#define RELAY_NAME "shmcache-relay"

/* Exit codes (shmcache-relay.1). */
enum {
    RELAY_EXIT_OK = 0,      /* stopped by SIGTERM/SIGINT */
    RELAY_EXIT_FAIL = 1,    /* unexpected runtime failure */
    RELAY_EXIT_USAGE = 2,   /* bad command line or URL */
    RELAY_EXIT_NOSEG = 3,   /* segment missing, unreadable or without journal */
    RELAY_EXIT_BUSY = 4     /* another relay serves this segment */
};

struct redis_url {
    char host[256];
    int  port;
    int  db;
    char user[128];
    char password[256];
};

/* A stream entry ID <ms>-<seq>. */
struct sid {
    uint64_t ms, seq;
};

struct relay {
    /* configuration */
    const char *segment;
    struct redis_url url;
    char stream[512];
    char origin[64];
    uint64_t max_stale_ms;
    uint64_t maxlen;
    bool first_start;           /* no relay ever ran on this segment */
    shmc_t *c;
    /* shared by the threads, under mu */
    pthread_mutex_t mu;
    shmc_relay_status_t st;
};

extern volatile sig_atomic_t relay_stop;

/* redis.c */
int  redis_parse_url(const char *s, struct redis_url *u, char *err, size_t errcap);
/* Connect, authenticate, select; NULL with a logged reason on failure. */
redisContext *redis_connect(const struct relay *r, const char *who);
/* Sleep for the current backoff (doubling, 100 ms .. 5 s), interruptible
 * by relay_stop. */
void redis_backoff(uint64_t *delay_ms);
int  sid_parse(const char *s, size_t n, struct sid *id);
int  sid_cmp(struct sid a, struct sid b);
void sid_fmt(struct sid id, char *buf, size_t cap);
/* Kinds as the stream carries them ("delete", ...); 0 when unknown. */
const char *kind_name(uint32_t kind);
uint32_t kind_parse(const char *s, size_t n);

/* publish.c / apply.c: thread bodies, arg = struct relay * */
void *publish_main(void *arg);
void *apply_main(void *arg);

/* status.c */
void relay_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
uint64_t relay_wall_ms(void);
uint64_t relay_mono_ms(void);
/* Write r->st to the segment (caller holds r->mu). */
void status_save_mu(struct relay *r);
/* Clear the local segment without journalling it, and record why. */
void relay_clear_local(struct relay *r, const char *why);
/* Record a clear that another host was asked to make or made. */
void status_note_clear_mu(struct relay *r, const char *why);

#endif
