/*
 * tool.h - what the parts of shmcache-tool share: exit codes, the parsed
 * command line, and the helpers every command uses (open a segment, report
 * an error, ask for confirmation).
 *
 * The tool uses only the public API of include/shmcache.h.
 */
#ifndef SHMC_TOOL_H
#define SHMC_TOOL_H

#include <stddef.h>
#include <stdint.h>

#include "shmcache.h"

#define TOOL_NAME "shmcache-tool"

/* Exit codes (documented in shmcache-tool.1). */
enum {
    EXIT_OK = 0,       /* success */
    EXIT_FAIL = 1,     /* not found, miss, exists, check failed, op refused */
    EXIT_USAGE = 2,    /* bad command line or refused confirmation */
    EXIT_NOOPEN = 3    /* the segment cannot be opened or attached */
};

/* Options a command may accept: one bit each (cmd_t.opts). */
enum {
    OPT_JSON      = 1u << 0,
    OPT_YES       = 1u << 1,
    OPT_TTL       = 1u << 2,
    OPT_FLAGS     = 1u << 3,
    OPT_INITIAL   = 1u << 4,
    OPT_CAPACITY  = 1u << 5,
    OPT_MEMORY    = 1u << 6,
    OPT_MAXKEY    = 1u << 7,
    OPT_MAXVALUE  = 1u << 8,
    OPT_STRIPES   = 1u << 9,
    OPT_MODE      = 1u << 10,
    OPT_LIMIT     = 1u << 11,
    OPT_INTERVAL  = 1u << 12,
    OPT_COUNT     = 1u << 13,
    OPT_ESCAPED   = 1u << 14,
    OPT_ANYOWNER  = 1u << 15,
    OPT_NOOVERWRITE = 1u << 16,
    OPT_ALL       = 1u << 17,
    OPT_STALE     = 1u << 18,
    OPT_TAG       = 1u << 19,
    OPT_JOURNAL   = 1u << 20, /* create --journal[=SIZE] (issue 12) */
    OPT_JWRITES   = 1u << 21, /* create --journal-writes */
    OPT_REPAIR    = 1u << 22,
    OPT_FORCE     = 1u << 23
};

/* The parsed command line of one command. */
typedef struct tool_args {
    const char *cmd;        /* command name */
    char **pos;             /* positional arguments (after the command) */
    int npos;
    unsigned seen;          /* OPT_* bits given */
    int json;
    int yes;
    int escaped;
    int any_owner;
    int no_overwrite;
    int all;                /* keys --all: stale entries and placeholders too */
    int stale;              /* get --stale */
    const char *tags[SHMC_TAGS_MAX]; /* set --tag, as given (see tool_tag_arg) */
    size_t ntags;
    uint64_t ttl_ms;
    uint32_t flags;
    uint64_t initial;
    shmc_config_t cfg;      /* create */
    uint64_t limit;
    uint64_t interval_ms;
    uint64_t count;
} tool_args_t;

/* A command: name, handler, accepted options, usage and help text. */
typedef struct tool_cmd {
    const char *name;
    int (*run)(tool_args_t *a);
    unsigned opts;
    int min_pos, max_pos;
    const char *usage;
    const char *help;
} tool_cmd_t;

/* common.c */
void tool_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int  tool_usage_err(const tool_args_t *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int  tool_try_open(const tool_args_t *a, const char *name, unsigned flags,
                   shmc_t **out);
int  tool_open(const tool_args_t *a, const char *name, unsigned flags,
               shmc_t **out);
/* shmc_open_error() text with shmc_config_t names turned into options. */
void tool_config_to_options(const char *in, char *buf, size_t cap);
int  tool_open_err(const char *name, int err);
int  tool_open_ro(const tool_args_t *a, const char *name, shmc_t **out);
int  tool_confirm(const tool_args_t *a, const char *action, const char *name);
int  tool_key_arg(const tool_args_t *a, const char *arg, unsigned char **key,
                  size_t *klen);
int  tool_read_all(int fd, unsigned char **buf, size_t *len, size_t max);
int  tool_write_all(int fd, const void *buf, size_t len);
int  tool_op_err(const char *what, const void *key, size_t klen, int err);
int  tool_tag_arg(const tool_args_t *a, const char *arg, char **tag);
int  tool_shm_path(const tool_args_t *a, const char *name, char *buf, size_t cap);
double tool_ratio(uint64_t num, uint64_t den);

/* cmd_segment.c */
int cmd_create(tool_args_t *a);
int cmd_destroy(tool_args_t *a);
int cmd_list(tool_args_t *a);
int cmd_info(tool_args_t *a);
int cmd_stats(tool_args_t *a);
int cmd_check(tool_args_t *a);
int cmd_clear(tool_args_t *a);
int cmd_flush_expired(tool_args_t *a);

/* cmd_entry.c */
int cmd_get(tool_args_t *a);
int cmd_set(tool_args_t *a);
int cmd_add(tool_args_t *a);
int cmd_replace(tool_args_t *a);
int cmd_incr(tool_args_t *a);
int cmd_touch(tool_args_t *a);
int cmd_delete(tool_args_t *a);
int cmd_keys(tool_args_t *a);
int cmd_invalidate(tool_args_t *a);
int cmd_invalidate_tag(tool_args_t *a);

/* cmd_dump.c */
int cmd_dump(tool_args_t *a);
int cmd_restore(tool_args_t *a);

/* cmd_watch.c */
int cmd_watch(tool_args_t *a);

/* cmd_relay.c */
int cmd_relay_status(tool_args_t *a);

/* stats_fields.c: every field of shmc_stats_t by name, in header order. */
typedef struct stat_field {
    const char *name;
    size_t offset;
    int is32;               /* uint32_t rather than uint64_t */
} stat_field_t;
extern const stat_field_t tool_stat_fields[];
extern const size_t tool_stat_nfields;
uint64_t tool_stat_get(const shmc_stats_t *st, const stat_field_t *f);

#endif
