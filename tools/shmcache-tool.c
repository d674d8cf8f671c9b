/*
 * shmcache-tool.c - entry point of the command-line utility: the command
 * table, the option parser and the help texts. Each command lives in a
 * cmd_*.c file; this file only decides which one runs and with what.
 *
 * Options may come before or after the command and between its arguments
 * (GNU style); "--" ends the options; "-" and negative numbers ("-5") are
 * arguments, not options.
 */
#include "tool.h"
#include "units.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Options every command accepts. */
#define OPT_GLOBAL (OPT_JSON | OPT_ANYOWNER)

static const tool_cmd_t commands[] = {
    { "create", cmd_create,
      OPT_CAPACITY | OPT_MEMORY | OPT_MAXKEY | OPT_MAXVALUE | OPT_STRIPES | OPT_MODE |
      OPT_JOURNAL | OPT_JWRITES,
      1, 1, "create NAME [--capacity N] [--memory SIZE] [--max-key N] "
            "[--max-value SIZE] [--stripes N] [--mode MODE] [--journal[=SIZE]] "
            "[--journal-writes]",
      "Create a new segment (fails when NAME exists). Defaults: capacity\n"
      "65536 entries, memory capacity*256 bytes, max-key 250, max-value 1M,\n"
      "stripes chosen by the library, mode 0600. With --json, prints the\n"
      "new segment's geometry. --journal keeps an invalidation journal (1M\n"
      "ring unless SIZE is given) for shmcache-relay; --journal-writes also\n"
      "journals every store, so a set on one host drops the key on others.\n" },
    { "relay-status", cmd_relay_status, 0, 1, 1, "relay-status NAME [--json]",
      "The invalidation journal and its shmcache-relay: journal head, last\n"
      "record published, last remote record applied, lag in records and ms,\n"
      "time and reason of the last clear.\n" },
    { "destroy", cmd_destroy, OPT_YES, 1, 1, "destroy NAME [--yes]",
      "Unlink the segment. Attached processes keep their mapping until they\n"
      "detach. Asks for confirmation on a terminal unless --yes; refuses when\n"
      "standard input is not a terminal and --yes is not given.\n" },
    { "list", cmd_list, 0, 0, 0, "list [--json]",
      "List the shmcache segments in /dev/shm, recognised by their header\n"
      "(magic), not by name: name, size, owner, mode, capacity.\n" },
    { "info", cmd_info, 0, 1, 1, "info NAME [--json]",
      "Geometry, memory use, fill of the index, hit ratio, evictions, lock\n"
      "recoveries, invalidation (lease and stale-read counters, tag\n"
      "invalidations; stale entries, lease placeholders and tagged entries\n"
      "present) and the processes attached (pid, alive or dead, counters).\n" },
    { "stats", cmd_stats, 0, 1, 1, "stats NAME [--json]",
      "Every counter of shmc_stats_t, memcached names, one 'name value' per\n"
      "line.\n" },
    { "check", cmd_check, OPT_REPAIR | OPT_FORCE, 1, 1, "check NAME [--repair [--force]] [--json]",
      "Verify the whole structure of the segment without changing it. Exit 0\n"
      "when sound, 1 with one line per problem otherwise. With --repair,\n"
      "first rebuild the lock of every stripe whose lock cannot be taken\n"
      "(corrupt, or held by a stuck process) and drop that stripe's entries;\n"
      "refused while other processes are attached, unless --force.\n" },
    { "clear", cmd_clear, OPT_YES, 1, 1, "clear NAME [--yes]",
      "Invalidate every entry at once (O(1)). Confirmation as for destroy.\n" },
    { "flush-expired", cmd_flush_expired, 0, 1, 1, "flush-expired NAME [--json]",
      "Reclaim the memory of expired and cleared entries; prints how many.\n" },
    { "get", cmd_get, OPT_ESCAPED | OPT_STALE, 2, 2, "get NAME KEY [--stale] [-e] [--json]",
      "Write the value's bytes, unchanged, to standard output. Exit 1 on a\n"
      "miss. --stale also serves a value that was invalidated (invalidate,\n"
      "invalidate-tag) or expired but not yet rewritten or reclaimed (exit 0).\n"
      "With --json, prints key, value (or value_b64), size, flags, ttl_ms,\n"
      "cas and stale instead.\n" },
    { "set", cmd_set, OPT_ESCAPED | OPT_TTL | OPT_FLAGS | OPT_TAG, 3, 3,
      "set NAME KEY VALUE|- [--ttl DURATION] [--flags N] [--tag TAG]... [-e]",
      "Store VALUE under KEY; '-' reads the value from standard input.\n"
      "--ttl 0 (the default) never expires. --tag (up to 4 times) stores the\n"
      "entry under TAG, for invalidate-tag.\n" },
    { "add", cmd_add, OPT_ESCAPED | OPT_TTL | OPT_FLAGS, 3, 3,
      "add NAME KEY VALUE|- [--ttl DURATION] [--flags N] [-e]",
      "As set, only when KEY has no live entry; exit 1 otherwise.\n" },
    { "replace", cmd_replace, OPT_ESCAPED | OPT_TTL | OPT_FLAGS, 3, 3,
      "replace NAME KEY VALUE|- [--ttl DURATION] [--flags N] [-e]",
      "As set, only when KEY has a live entry; exit 1 otherwise.\n" },
    { "incr", cmd_incr, OPT_ESCAPED | OPT_TTL | OPT_INITIAL, 2, 3,
      "incr NAME KEY [DELTA] [--initial N [--ttl DURATION]] [-e]",
      "Add DELTA (default 1, may be negative) to the decimal number stored\n"
      "under KEY and print the result. A missing key is exit 1, or with\n"
      "--initial N is created holding N (DELTA not applied).\n" },
    { "touch", cmd_touch, OPT_ESCAPED | OPT_TTL, 2, 2,
      "touch NAME KEY --ttl DURATION [-e]",
      "Give a live entry a new time to live (0 = never expires).\n" },
    { "delete", cmd_delete, OPT_ESCAPED, 2, 2, "delete NAME KEY [-e] [--json]",
      "Remove KEY. Exit 1 when there was no entry.\n" },
    { "invalidate", cmd_invalidate, OPT_ESCAPED, 2, 2, "invalidate NAME KEY [-e] [--json]",
      "Make KEY miss for every process, as delete does, and kill its lease,\n"
      "but keep the old value readable with 'get --stale' until it is\n"
      "rewritten or evicted (stale-while-revalidate). Exit 1 when there was\n"
      "no live entry.\n" },
    { "invalidate-tag", cmd_invalidate_tag, OPT_ESCAPED, 2, 2,
      "invalidate-tag NAME TAG [-e] [--json]",
      "Make every entry stored under TAG (set --tag) miss, in every process,\n"
      "at once; their values stay readable with 'get --stale'. Tags share a\n"
      "table of words by hash, so other tags' entries may be invalidated too\n"
      "(never the reverse). TAG is 1..250 bytes.\n" },
    { "keys", cmd_keys, OPT_LIMIT | OPT_ALL, 1, 2,
      "keys NAME [PATTERN] [--all] [--limit N] [--json]",
      "List live entries: size, ttl left, flags, state, key. PATTERN is a\n"
      "shell glob matched against the key as text output shows it. --all also\n"
      "lists stale entries (readable only with 'get --stale') and lease\n"
      "placeholders. State: '-', or a comma-separated list of stale, leased,\n"
      "tagged(N) (N tags), novalue (a placeholder carrying a lease).\n" },
    { "dump", cmd_dump, 0, 1, 1, "dump NAME > FILE",
      "Write every live entry (key, value, flags, ttl left) to standard output\n"
      "in the binary SHMCDUMP format (see the man page). Refuses a terminal.\n" },
    { "restore", cmd_restore, OPT_NOOVERWRITE, 1, 1,
      "restore NAME [--no-overwrite] < FILE",
      "Load a dump made by 'dump'. Entries keep their flags and the ttl they\n"
      "had left when dumped. --no-overwrite keeps live entries already there.\n"
      "Exit 1 when some entries could not be stored.\n" },
    { "watch", cmd_watch, OPT_INTERVAL | OPT_COUNT, 1, 1,
      "watch NAME [--interval DURATION] [--count N] [--json]",
      "Live view refreshed every interval (default 1s): ops/s by kind, hit\n"
      "ratio, items, memory, evictions since the last refresh. --count N stops\n"
      "after N refreshes. --json prints one JSON object per line per refresh.\n" },
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

typedef struct optdef {
    const char *lng;
    char shrt;
    unsigned bit;
    int has_arg;
    const char *help;
} optdef_t;

static const optdef_t optdefs[] = {
    { "json", 0, OPT_JSON, 0, "one JSON document on standard output" },
    { "any-owner", 0, OPT_ANYOWNER, 0, "attach to a segment owned by another user" },
    { "yes", 'y', OPT_YES, 0, "do not ask for confirmation" },
    { "escaped", 'e', OPT_ESCAPED, 0, "KEY, VALUE and TAG use \\xNN and \\\\ escapes" },
    { "ttl", 't', OPT_TTL, 1, "time to live: 250ms, 30s, 5m, 1h, 1d; bare number = seconds; 0 = never" },
    { "flags", 0, OPT_FLAGS, 1, "opaque 32-bit flags stored with the value" },
    { "initial", 0, OPT_INITIAL, 1, "incr: create a missing key holding N" },
    { "capacity", 0, OPT_CAPACITY, 1, "entries of the index (64K = 65536)" },
    { "memory", 0, OPT_MEMORY, 1, "bytes of item memory: 64K, 512M, 2G" },
    { "max-key", 0, OPT_MAXKEY, 1, "longest key in bytes" },
    { "max-value", 0, OPT_MAXVALUE, 1, "longest value: 64K, 1M" },
    { "stripes", 0, OPT_STRIPES, 1, "lock stripes, a power of two" },
    { "mode", 0, OPT_MODE, 1, "permission bits in octal, e.g. 0660" },
    { "limit", 'n', OPT_LIMIT, 1, "print at most N keys" },
    { "interval", 0, OPT_INTERVAL, 1, "refresh interval (default 1s)" },
    { "count", 0, OPT_COUNT, 1, "stop after N refreshes" },
    { "no-overwrite", 0, OPT_NOOVERWRITE, 0, "keep live entries that exist" },
    { "all", 'a', OPT_ALL, 0, "also stale entries and lease placeholders" },
    { "stale", 0, OPT_STALE, 0, "also serve an invalidated or expired value" },
    { "repair", 0, OPT_REPAIR, 0, "check: rebuild locks that cannot be taken" },
    { "force", 0, OPT_FORCE, 0, "check --repair: even with other processes attached" },
    { "tag", 0, OPT_TAG, 1, "store under this tag (repeatable, at most 4)" },
    { "journal", 0, OPT_JOURNAL, 2, "keep an invalidation journal (=SIZE: its ring, default 1M)" },
    { "journal-writes", 0, OPT_JWRITES, 0, "journal stores too (write-invalidate)" },
};

#define NOPTDEFS (sizeof optdefs / sizeof optdefs[0])

static void print_global_help(FILE *f)
{
    fprintf(f,
        "usage: " TOOL_NAME " [--json] [--any-owner] COMMAND [ARGS]\n"
        "       " TOOL_NAME " --version | --help | help COMMAND\n"
        "\n"
        "Inspect, edit and clear a shmcache segment from the shell.\n"
        "\n"
        "Commands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %s\n", commands[i].usage);
    fprintf(f,
        "\n"
        "Sizes: bytes, or with K, M, G, T (powers of 1024). Durations: 250ms,\n"
        "30s, 5m, 1h, 1d, combinable (1h30m); a bare number is seconds.\n"
        "Exit status: 0 ok, 1 not found / miss / check failed, 2 usage error,\n"
        "3 cannot open the segment. See shmcache-tool(1).\n");
}

static void print_cmd_help(const tool_cmd_t *c)
{
    printf("usage: " TOOL_NAME " %s\n\n%s", c->usage, c->help);
    unsigned opts = c->opts | OPT_GLOBAL;
    printf("\nOptions:\n");
    for (size_t i = 0; i < NOPTDEFS; i++) {
        const optdef_t *o = &optdefs[i];
        if (!(opts & o->bit))
            continue;
        char left[48];
        if (o->shrt)
            snprintf(left, sizeof left, "-%c, --%s%s", o->shrt, o->lng,
                     o->has_arg == 2 ? "[=ARG]" : o->has_arg ? " ARG" : "");
        else
            snprintf(left, sizeof left, "    --%s%s", o->lng,
                     o->has_arg == 2 ? "[=ARG]" : o->has_arg ? " ARG" : "");
        printf("  %-22s %s\n", left, o->help);
    }
    printf("  %-22s %s\n", "-h, --help", "this help");
}

static const tool_cmd_t *find_cmd(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

/* Parse the value of option o into a. Returns EXIT_OK or EXIT_USAGE. */
static int set_option(tool_args_t *a, const optdef_t *o, const char *v)
{
    uint64_t u;
    a->seen |= o->bit;
    switch (o->bit) {
    case OPT_JSON: a->json = 1; return EXIT_OK;
    case OPT_ANYOWNER: a->any_owner = 1; return EXIT_OK;
    case OPT_YES: a->yes = 1; return EXIT_OK;
    case OPT_ESCAPED: a->escaped = 1; return EXIT_OK;
    case OPT_NOOVERWRITE: a->no_overwrite = 1; return EXIT_OK;
    case OPT_ALL: a->all = 1; return EXIT_OK;
    case OPT_STALE: a->stale = 1; return EXIT_OK;
    case OPT_REPAIR: case OPT_FORCE: return EXIT_OK; /* a->seen */
    case OPT_TAG:
        /* Checked (and decoded with -e) by the command, which knows whether
         * -e was given anywhere on the line. */
        if (a->ntags >= SHMC_TAGS_MAX)
            return tool_usage_err(a, "too many --tag options (at most %u)", SHMC_TAGS_MAX);
        a->tags[a->ntags++] = v;
        return EXIT_OK;
    case OPT_TTL:
        if (units_parse_duration(v, &a->ttl_ms) != 0)
            return tool_usage_err(a, "bad duration '%s' for --ttl (e.g. 250ms, 30s, 5m, 1h)", v);
        return EXIT_OK;
    case OPT_INTERVAL:
        if (units_parse_duration(v, &a->interval_ms) != 0 || a->interval_ms == 0)
            return tool_usage_err(a, "bad duration '%s' for --interval (e.g. 250ms, 1s)", v);
        return EXIT_OK;
    case OPT_FLAGS:
        if (units_parse_u64(v, &u) != 0 || u > UINT32_MAX)
            return tool_usage_err(a, "bad --flags '%s' (a 32-bit unsigned number)", v);
        a->flags = (uint32_t)u;
        return EXIT_OK;
    case OPT_INITIAL:
        if (units_parse_u64(v, &a->initial) != 0)
            return tool_usage_err(a, "bad --initial '%s' (an unsigned 64-bit number)", v);
        return EXIT_OK;
    case OPT_CAPACITY:
        if (units_parse_size(v, &a->cfg.capacity) != 0 || a->cfg.capacity == 0)
            return tool_usage_err(a, "bad --capacity '%s' (entries, e.g. 65536 or 64K)", v);
        return EXIT_OK;
    case OPT_MEMORY:
        if (units_parse_size(v, &a->cfg.memory) != 0 || a->cfg.memory == 0)
            return tool_usage_err(a, "bad size '%s' for --memory (e.g. 64K, 512M, 2G)", v);
        return EXIT_OK;
    case OPT_MAXKEY:
        if (units_parse_size(v, &u) != 0 || u == 0 || u > SHMC_KEY_MAX)
            return tool_usage_err(a, "bad --max-key '%s' (1..%u)", v, SHMC_KEY_MAX);
        a->cfg.max_key_len = (uint32_t)u;
        return EXIT_OK;
    case OPT_MAXVALUE:
        if (units_parse_size(v, &u) != 0 || u == 0 || u > SHMC_VALUE_MAX)
            return tool_usage_err(a, "bad size '%s' for --max-value (at most 1G)", v);
        a->cfg.max_value_len = (uint32_t)u;
        return EXIT_OK;
    case OPT_STRIPES:
        if (units_parse_u64(v, &u) != 0 || u > SHMC_STRIPES_MAX)
            return tool_usage_err(a, "bad --stripes '%s' (0..%u, a power of two)", v,
                                  SHMC_STRIPES_MAX);
        a->cfg.stripes = (uint32_t)u;
        return EXIT_OK;
    case OPT_MODE:
        if (units_parse_mode(v, &a->cfg.mode) != 0)
            return tool_usage_err(a, "bad --mode '%s' (octal, e.g. 0660)", v);
        return EXIT_OK;
    case OPT_LIMIT:
        if (units_parse_u64(v, &a->limit) != 0)
            return tool_usage_err(a, "bad --limit '%s'", v);
        return EXIT_OK;
    case OPT_JOURNAL:
        a->cfg.journal_bytes = 1u << 20;
        if (v && (units_parse_size(v, &a->cfg.journal_bytes) != 0 ||
                  a->cfg.journal_bytes < SHMC_JOURNAL_MIN || a->cfg.journal_bytes > SHMC_JOURNAL_MAX))
            return tool_usage_err(a, "bad size '%s' for --journal (64K .. 4G)", v);
        return EXIT_OK;
    case OPT_JWRITES:
        a->cfg.journal_flags |= SHMC_JOURNAL_WRITES;
        return EXIT_OK;
    case OPT_COUNT:
        if (units_parse_u64(v, &a->count) != 0 || a->count == 0)
            return tool_usage_err(a, "bad --count '%s' (a positive number)", v);
        return EXIT_OK;
    default:
        return tool_usage_err(a, "internal: unhandled option --%s", o->lng);
    }
}

static int is_option(const char *s)
{
    if (s[0] != '-' || s[1] == '\0')
        return 0;                       /* "-" is an argument (stdin) */
    if (s[1] >= '0' && s[1] <= '9')
        return 0;                       /* a negative number */
    return 1;
}

/*
 * Parse argv[0..argc) (the words after the command name) into a. allowed is
 * the command's OPT_* set; cmd may be NULL while the command is not known
 * yet (then parsing stops at the first argument). *help is set by -h.
 * Returns EXIT_OK or EXIT_USAGE (message printed).
 */
static int parse_args(tool_args_t *a, int argc, char **argv, unsigned allowed,
                      int stop_at_arg, int *help, int *version, int *used)
{
    int i, only_args = 0;
    for (i = 0; i < argc; i++) {
        char *s = argv[i];
        if (only_args || !is_option(s)) {
            if (stop_at_arg)
                break;
            a->pos[a->npos++] = s;
            continue;
        }
        if (strcmp(s, "--") == 0) {
            if (stop_at_arg) {
                i++;
                break;
            }
            only_args = 1;
            continue;
        }
        if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
            *help = 1;
            continue;
        }
        if (version != NULL && strcmp(s, "--version") == 0) {
            *version = 1;
            continue;
        }
        const optdef_t *o = NULL;
        const char *val = NULL;
        if (s[1] == '-') {
            const char *name = s + 2;
            const char *eq = strchr(name, '=');
            size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
            for (size_t k = 0; k < NOPTDEFS; k++)
                if (strlen(optdefs[k].lng) == nlen &&
                    strncmp(optdefs[k].lng, name, nlen) == 0)
                    o = &optdefs[k];
            if (o == NULL)
                return tool_usage_err(a, "unknown option '%.*s'", (int)nlen + 2, s);
            if (eq != NULL) {
                if (!o->has_arg)
                    return tool_usage_err(a, "option '--%s' takes no value", o->lng);
                val = eq + 1;
            }
        } else {
            /* One short option, or a cluster of flag options (-ye). */
            for (const char *p = s + 1; *p; p++) {
                o = NULL;
                if (*p == 'h') {
                    *help = 1;
                    continue;
                }
                for (size_t k = 0; k < NOPTDEFS; k++)
                    if (optdefs[k].shrt == *p)
                        o = &optdefs[k];
                if (o == NULL)
                    return tool_usage_err(a, "unknown option '-%c'", *p);
                if (o->has_arg) {
                    if (p[1] != '\0')
                        val = p + 1;
                    break;
                }
                if (!(allowed & o->bit))
                    return tool_usage_err(a, "option '-%c' does not apply here", *p);
                if (set_option(a, o, NULL) != EXIT_OK)
                    return EXIT_USAGE;
                o = NULL;
            }
            if (o == NULL)
                continue;
        }
        if (!(allowed & o->bit))
            return tool_usage_err(a, "option '--%s' does not apply here", o->lng);
        if (o->has_arg == 1 && val == NULL) { /* 2: a value only with '=' */
            if (i + 1 >= argc)
                return tool_usage_err(a, "option '--%s' needs a value", o->lng);
            val = argv[++i];
        }
        if (set_option(a, o, val) != EXIT_OK)
            return EXIT_USAGE;
    }
    if (used != NULL)
        *used = i;
    return EXIT_OK;
}

static int tool_main(tool_args_t *ap, int argc, char **argv)
{
    tool_args_t a = *ap;
    int help = 0, version = 0, used = 0;

    /* Global options up to the command name. */
    if (parse_args(&a, argc - 1, argv + 1, OPT_GLOBAL, 1, &help, &version,
                   &used) != EXIT_OK)
        return EXIT_USAGE;
    if (version) {
        printf(TOOL_NAME " %s\n", SHMC_VERSION_STRING);
        return EXIT_OK;
    }
    int at = 1 + used;
    if (at >= argc) {
        if (help) {
            print_global_help(stdout);
            return EXIT_OK;
        }
        tool_err("missing command (try '" TOOL_NAME " --help')");
        return EXIT_USAGE;
    }
    const char *name = argv[at];
    if (strcmp(name, "help") == 0) {
        if (at + 1 >= argc) {
            print_global_help(stdout);
            return EXIT_OK;
        }
        const tool_cmd_t *c = find_cmd(argv[at + 1]);
        if (c == NULL) {
            tool_err("unknown command '%s' (try '" TOOL_NAME " --help')", argv[at + 1]);
            return EXIT_USAGE;
        }
        print_cmd_help(c);
        return EXIT_OK;
    }
    const tool_cmd_t *c = find_cmd(name);
    if (c == NULL) {
        tool_err("unknown command '%s' (try '" TOOL_NAME " --help')", name);
        return EXIT_USAGE;
    }
    a.cmd = c->name;
    if (help) {
        print_cmd_help(c);
        return EXIT_OK;
    }
    if (parse_args(&a, argc - at - 1, argv + at + 1, c->opts | OPT_GLOBAL, 0,
                   &help, NULL, NULL) != EXIT_OK)
        return EXIT_USAGE;
    if (help) {
        print_cmd_help(c);
        return EXIT_OK;
    }
    if (a.npos < c->min_pos)
        return tool_usage_err(&a, "missing argument; usage: " TOOL_NAME " %s", c->usage);
    if (a.npos > c->max_pos)
        return tool_usage_err(&a, "too many arguments; usage: " TOOL_NAME " %s", c->usage);
    return c->run(&a);
}

int main(int argc, char **argv)
{
    tool_args_t a;
    memset(&a, 0, sizeof a);
    shmc_config_init(&a.cfg);
    a.interval_ms = 1000;
    a.pos = calloc((size_t)argc + 1, sizeof *a.pos);
    if (a.pos == NULL) {
        tool_err("out of memory");
        return EXIT_FAIL;
    }
    int rc = tool_main(&a, argc, argv);
    free(a.pos);
    if (fflush(stdout) != 0 && rc == EXIT_OK) {
        tool_err("write error on standard output");
        rc = EXIT_FAIL;
    }
    return rc;
}
