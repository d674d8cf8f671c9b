/*
 * cmd_segment.c - commands that act on a whole segment: create, destroy,
 * list, info, stats, check, clear, flush-expired.
 *
 * Inspection commands (info, stats, list) attach read-only so they cannot
 * change what they look at, and never register in the process table.
 * check attaches read-write when it can, so the library checks each stripe
 * under its lock (a read-only check may report a writer caught mid-update).
 */
#include "tool.h"
#include "json.h"
#include "units.h"

#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char *user_name(uint32_t uid, char *buf, size_t cap)
{
    struct passwd *pw = getpwuid((uid_t)uid);
    if (pw != NULL && pw->pw_name != NULL)
        snprintf(buf, cap, "%s", pw->pw_name);
    else
        snprintf(buf, cap, "%u", uid);
    return buf;
}

static const char *fmt_time(uint64_t unix_ms, char *buf, size_t cap)
{
    time_t t = (time_t)(unix_ms / 1000);
    struct tm tm;
    if (unix_ms == 0 || gmtime_r(&t, &tm) == NULL)
        snprintf(buf, cap, "-");
    else
        strftime(buf, cap, "%Y-%m-%d %H:%M:%S UTC", &tm);
    return buf;
}

/* The fields of shmc_info_t, for --json of create, info and list. */
static void json_info_fields(json_t *j, const shmc_info_t *in)
{
    char mode[8];
    snprintf(mode, sizeof mode, "0%03o", in->mode & 0777u);
    json_kv_u64(j, "layout_version", in->layout_version);
    json_kv_u64(j, "capacity", in->capacity);
    json_kv_u64(j, "buckets", in->buckets);
    json_kv_u64(j, "slots_per_bucket", in->slots_per_bucket);
    json_kv_u64(j, "memory", in->memory);
    json_kv_u64(j, "segment_size", in->segment_size);
    json_kv_u64(j, "stripes", in->stripes);
    json_kv_u64(j, "max_key_len", in->max_key_len);
    json_kv_u64(j, "max_value_len", in->max_value_len);
    json_kv_str(j, "mode", mode);
    json_kv_u64(j, "owner_uid", in->owner_uid);
    json_kv_u64(j, "proc_slots", in->proc_slots);
    json_kv_u64(j, "created_unix_ms", in->created_unix_ms);
    json_kv_u64(j, "used_slots", in->used_slots);
    json_kv_u64(j, "index_slots", in->index_slots);
    json_kv_u64(j, "hugepages", in->hugepages);
}

static void json_stats_fields(json_t *j, const shmc_stats_t *st)
{
    for (size_t i = 0; i < tool_stat_nfields; i++)
        json_kv_u64(j, tool_stat_fields[i].name,
                    tool_stat_get(st, &tool_stat_fields[i]));
}

static const char *bare(const char *name)
{
    return name[0] == '/' ? name + 1 : name;
}

/* ---- create ------------------------------------------------------------ */

int cmd_create(tool_args_t *a)
{
    const char *name = a->pos[0];
    shmc_config_t cfg = a->cfg;
    shmc_t *c = NULL;
    /* The documented default memory is capacity * 256: keep it so when only
     * the capacity was given. */
    if ((a->seen & OPT_CAPACITY) && !(a->seen & OPT_MEMORY)) {
        if (cfg.capacity > UINT64_MAX / 256)
            return tool_usage_err(a, "--capacity too large");
        cfg.memory = cfg.capacity * 256;
    }
    if ((a->seen & OPT_JWRITES) && !(a->seen & OPT_JOURNAL))
        return tool_usage_err(a, "--journal-writes needs --journal");
    int rc = shmc_open(name, SHMC_CREATE | SHMC_EXCL, &cfg, &c);
    if (rc == -EINVAL) {
        /* The library says which constraint failed, in shmc_config_t's
         * names; say it in this tool's options. */
        char why[512];
        tool_config_to_options(shmc_open_error(), why, sizeof why);
        tool_err("cannot create %s: %s", name, why[0] ? why : shmc_strerror(rc));
        return EXIT_USAGE;
    }
    if (rc < 0 && shmc_open_error()[0]) {
        char why[512];
        tool_config_to_options(shmc_open_error(), why, sizeof why);
        tool_err("cannot create %s: %s (%s)", name, shmc_strerror(rc), why);
        return EXIT_NOOPEN;
    }
    if (rc < 0) {
        tool_err("cannot create %s: %s", name, shmc_strerror(rc));
        return EXIT_NOOPEN;
    }
    shmc_info_t in;
    rc = shmc_info(c, &in);
    shmc_close(c);
    if (rc < 0) {
        tool_err("%s: created, but cannot read its geometry: %s", name,
                 shmc_strerror(rc));
        return EXIT_FAIL;
    }
    if (a->json) {
        json_t j;
        json_init(&j, stdout, 1);
        json_obj_begin(&j);
        json_kv_bytes(&j, "name", bare(name), strlen(bare(name)));
        json_info_fields(&j, &in);
        json_obj_end(&j);
        json_finish(&j);
    } else {
        char m[32], s[32];
        printf("created %s: %llu entries, %s item memory, %s segment, "
               "%u stripes, mode 0%03o\n", bare(name),
               (unsigned long long)in.capacity,
               units_fmt_size(in.memory, m, sizeof m),
               units_fmt_size(in.segment_size, s, sizeof s), in.stripes,
               in.mode & 0777u);
    }
    return EXIT_OK;
}

/* ---- destroy ----------------------------------------------------------- */

/* Probe NAME; EXIT_OK when it is a shmcache segment, else message + 3. */
static int must_be_segment(const tool_args_t *a, const char *name)
{
    char path[512];
    shmc_info_t in;
    int rc = tool_shm_path(a, name, path, sizeof path);
    if (rc != EXIT_OK)
        return rc;
    rc = shmc_probe(path, &in);
    if (rc < 0)
        return tool_open_err(name, rc);
    if (rc == 0)
        return tool_open_err(name, -EBADMSG);
    return EXIT_OK;
}

int cmd_destroy(tool_args_t *a)
{
    const char *name = a->pos[0];
    int rc = must_be_segment(a, name);
    if (rc != EXIT_OK)
        return rc;
    rc = tool_confirm(a, "destroy", name);
    if (rc != EXIT_OK)
        return rc;
    rc = shmc_unlink(name);
    if (rc < 0) {
        tool_err("cannot destroy %s: %s", name, shmc_strerror(rc));
        return rc == -ENOENT ? EXIT_NOOPEN : EXIT_FAIL;
    }
    return EXIT_OK;
}

/* ---- list -------------------------------------------------------------- */

typedef struct seg_row {
    char *name;
    shmc_info_t info;
    struct stat st;
} seg_row_t;

static int cmp_rows(const void *x, const void *y)
{
    return strcmp(((const seg_row_t *)x)->name, ((const seg_row_t *)y)->name);
}

int cmd_list(tool_args_t *a)
{
    const char *dir = "/dev/shm";
    DIR *d = opendir(dir);
    if (d == NULL) {
        tool_err("cannot read %s: %s", dir, strerror(errno));
        return EXIT_FAIL;
    }
    seg_row_t *rows = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    /* Bounded by the directory: one probe (open, read the header) each. */
    while ((e = readdir(d)) != NULL) {
        char path[600];
        seg_row_t r;
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (lstat(path, &r.st) != 0 || !S_ISREG(r.st.st_mode))
            continue;
        if (shmc_probe(path, &r.info) != 1)
            continue;           /* not ours, unreadable, or vanished */
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            seg_row_t *nr = realloc(rows, cap * sizeof *rows);
            if (nr == NULL)
                break;
            rows = nr;
        }
        r.name = strdup(e->d_name);
        if (r.name == NULL)
            break;
        rows[n++] = r;
    }
    closedir(d);
    if (n > 0)
        qsort(rows, n, sizeof *rows, cmp_rows);

    if (a->json) {
        json_t j;
        json_init(&j, stdout, 1);
        json_obj_begin(&j);
        json_key(&j, "segments");
        json_arr_begin(&j);
        for (size_t i = 0; i < n; i++) {
            char owner[64];
            json_obj_begin(&j);
            json_kv_bytes(&j, "name", rows[i].name, strlen(rows[i].name));
            json_kv_u64(&j, "size", (uint64_t)rows[i].st.st_size);
            json_kv_str(&j, "owner", user_name(rows[i].st.st_uid, owner, sizeof owner));
            json_info_fields(&j, &rows[i].info);
            json_obj_end(&j);
        }
        json_arr_end(&j);
        json_obj_end(&j);
        json_finish(&j);
    } else {
        if (n > 0)
            printf("%-24s %10s %-10s %5s %10s %10s\n", "NAME", "SIZE", "OWNER",
                   "MODE", "CAPACITY", "MEMORY");
        for (size_t i = 0; i < n; i++) {
            char sz[32], mem[32], owner[64];
            char *nm = text_escape_str(rows[i].name, strlen(rows[i].name));
            printf("%-24s %10s %-10s  0%03o %10llu %10s\n",
                   nm ? nm : "?", units_fmt_size((uint64_t)rows[i].st.st_size, sz, sizeof sz),
                   user_name(rows[i].st.st_uid, owner, sizeof owner),
                   (unsigned)(rows[i].st.st_mode & 0777),
                   (unsigned long long)rows[i].info.capacity,
                   units_fmt_size(rows[i].info.memory, mem, sizeof mem));
            free(nm);
        }
    }
    for (size_t i = 0; i < n; i++)
        free(rows[i].name);
    free(rows);
    return EXIT_OK;
}

/* ---- info -------------------------------------------------------------- */

typedef struct procs_acc {
    shmc_proc_info_t *p;
    size_t n, cap;
} procs_acc_t;

static int collect_proc(const shmc_proc_info_t *p, void *arg)
{
    procs_acc_t *acc = arg;
    if (acc->n == acc->cap) {
        size_t nc = acc->cap ? acc->cap * 2 : 16;
        shmc_proc_info_t *np = realloc(acc->p, nc * sizeof *np);
        if (np == NULL)
            return -ENOMEM;
        acc->p = np;
        acc->cap = nc;
    }
    acc->p[acc->n++] = *p;
    return 0;
}

/* What one shmc_iterate_ex(SHMC_ITER_STALE) walk finds, for info. */
typedef struct inval_counts {
    uint64_t entries;       /* everything visited */
    uint64_t stale;         /* SHMC_ENTRY_STALE: only get --stale reads them */
    uint64_t placeholders;  /* SHMC_ENTRY_NOVALUE: a lease and no value */
    uint64_t leased;        /* SHMC_ENTRY_LEASED: a lease outstanding */
    uint64_t tagged;        /* SHMC_ENTRY_TAGGED */
    uint64_t skipped;       /* SHMC_ENTRY_SKIPPED: slots that could not be read */
} inval_counts_t;

static int count_entry(const shmc_entry_t *e, void *arg)
{
    inval_counts_t *n = arg;
    if (e->state & SHMC_ENTRY_SKIPPED) {
        n->skipped++;
        return 0;
    }
    n->entries++;
    n->stale += (e->state & SHMC_ENTRY_STALE) != 0;
    n->placeholders += (e->state & SHMC_ENTRY_NOVALUE) != 0;
    n->leased += (e->state & SHMC_ENTRY_LEASED) != 0;
    n->tagged += (e->state & SHMC_ENTRY_TAGGED) != 0;
    return 0;
}

/* info's exit status once everything else is printed. */
static int walk_result(const char *name, int walk)
{
    if (walk >= 0)
        return EXIT_OK;
    tool_err("%s: cannot count the stale, leased and tagged entries: %s", name,
             shmc_strerror(walk));
    return EXIT_FAIL;
}

int cmd_info(tool_args_t *a)
{
    const char *name = a->pos[0];
    shmc_t *c;
    int rc = tool_open_ro(a, name, &c);
    if (rc != EXIT_OK)
        return rc;
    shmc_info_t in;
    shmc_stats_t st;
    procs_acc_t procs = { NULL, 0, 0 };
    if ((rc = shmc_info(c, &in)) < 0 || (rc = shmc_stats(c, &st)) < 0) {
        tool_err("%s: cannot read: %s", name, shmc_strerror(rc));
        shmc_close(c);
        return EXIT_FAIL;
    }
    rc = shmc_procs(c, collect_proc, &procs);
    if (rc < 0) {
        tool_err("%s: cannot read the process table: %s", name, shmc_strerror(rc));
        shmc_close(c);
        free(procs.p);
        return EXIT_FAIL;
    }
    /* One walk over every slot, stale entries and placeholders included.
     * A walk that fails (a corrupt slot, a writer that never lets go of
     * one) leaves the counts out: the rest is printed, then exit 1. */
    inval_counts_t ic = { 0, 0, 0, 0, 0, 0 };
    int walk = shmc_iterate_ex(c, SHMC_ITER_STALE | SHMC_ITER_SKIPPED, count_entry, &ic);
    shmc_close(c);
    double hit = tool_ratio(st.get_hits, st.cmd_get);
    double mem = tool_ratio(st.bytes, st.limit_maxbytes);
    double fill = tool_ratio(in.used_slots, in.index_slots);

    if (a->json) {
        json_t j;
        json_init(&j, stdout, 1);
        json_obj_begin(&j);
        json_kv_bytes(&j, "name", bare(name), strlen(bare(name)));
        json_info_fields(&j, &in);
        json_kv_double(&j, "hit_ratio", hit);
        json_kv_double(&j, "memory_used_ratio", mem);
        json_kv_double(&j, "index_fill_ratio", fill);
        json_key(&j, "stats");
        json_obj_begin(&j);
        json_stats_fields(&j, &st);
        json_obj_end(&j);
        json_key(&j, "invalidation");
        json_obj_begin(&j);
        json_kv_u64(&j, "lease_grants", st.lease_grants);
        json_kv_u64(&j, "lease_rejects", st.lease_rejects);
        json_kv_u64(&j, "lease_waits", st.lease_waits);
        json_kv_u64(&j, "stale_hits", st.stale_hits);
        json_kv_u64(&j, "tag_invalidations", st.tag_invalidations);
        if (walk >= 0) {
            json_kv_u64(&j, "stale_entries", ic.stale);
            json_kv_u64(&j, "lease_placeholders", ic.placeholders);
            json_kv_u64(&j, "leased_entries", ic.leased);
            json_kv_u64(&j, "tagged_entries", ic.tagged);
            json_kv_u64(&j, "skipped_slots", ic.skipped);
        } else {
            json_key(&j, "stale_entries");
            json_null(&j);
            json_key(&j, "lease_placeholders");
            json_null(&j);
            json_key(&j, "leased_entries");
            json_null(&j);
            json_key(&j, "tagged_entries");
            json_null(&j);
            json_key(&j, "skipped_slots");
            json_null(&j);
        }
        json_obj_end(&j);
        json_key(&j, "processes");
        json_arr_begin(&j);
        for (size_t i = 0; i < procs.n; i++) {
            const shmc_proc_info_t *p = &procs.p[i];
            json_obj_begin(&j);
            json_kv_u64(&j, "pid", p->pid);
            json_kv_bool(&j, "alive", p->alive);
            json_kv_bool(&j, "self", p->self);
            json_kv_u64(&j, "rows", p->rows);
            json_kv_u64(&j, "cmd_get", p->cmd_get);
            json_kv_u64(&j, "get_hits", p->get_hits);
            json_kv_u64(&j, "get_misses", p->get_misses);
            json_obj_end(&j);
        }
        json_arr_end(&j);
        json_obj_end(&j);
        json_finish(&j);
        free(procs.p);
        return walk_result(name, walk);
    }

    char b1[32], b2[32], b3[32], b4[32], owner[64], when[64], up[32];
    printf("segment          %s\n", bare(name));
    printf("layout           version %u, %llu buckets x %u slots, %u stripes\n",
           in.layout_version, (unsigned long long)in.buckets,
           in.slots_per_bucket, in.stripes);
    printf("index            %llu of %llu slots used (%.1f%%); capacity %llu keys promised\n",
           (unsigned long long)in.used_slots, (unsigned long long)in.index_slots,
           fill * 100.0, (unsigned long long)in.capacity);
    printf("pages            %s\n", in.hugepages ? "huge pages (2 MiB)"
                                                  : "4 KiB (see README: huge pages)");
    printf("memory           %s of %s item memory used (%.1f%%), segment %s\n",
           units_fmt_size(st.bytes, b1, sizeof b1),
           units_fmt_size(in.memory, b2, sizeof b2), mem * 100.0,
           units_fmt_size(in.segment_size, b3, sizeof b3));
    printf("limits           key %u B, value %s\n", in.max_key_len,
           units_fmt_size(in.max_value_len, b4, sizeof b4));
    printf("owner            %s (uid %u), mode 0%03o\n",
           user_name(in.owner_uid, owner, sizeof owner), in.owner_uid,
           in.mode & 0777u);
    printf("created          %s, up %s\n",
           fmt_time(in.created_unix_ms, when, sizeof when),
           units_fmt_duration((int64_t)st.uptime_ms, up, sizeof up));
    printf("items            %llu now, %llu stored since creation, %llu clears\n",
           (unsigned long long)st.curr_items, (unsigned long long)st.total_items,
           (unsigned long long)st.generation);
    printf("gets             %llu: %llu hits, %llu misses (%llu expired, "
           "%llu cleared), hit ratio %.1f%%\n",
           (unsigned long long)st.cmd_get, (unsigned long long)st.get_hits,
           (unsigned long long)st.get_misses, (unsigned long long)st.get_expired,
           (unsigned long long)st.get_flushed, hit * 100.0);
    printf("writes           %llu sets, %llu deletes, %llu incrs, %llu touches\n",
           (unsigned long long)st.cmd_set,
           (unsigned long long)(st.delete_hits + st.delete_misses),
           (unsigned long long)(st.incr_hits + st.incr_misses),
           (unsigned long long)st.cmd_touch);
    printf("evictions        %llu (%llu never read), %llu reclaimed\n",
           (unsigned long long)st.evictions,
           (unsigned long long)st.evicted_unfetched,
           (unsigned long long)st.reclaimed);
    printf("lock recoveries  %llu (%llu entries lost)\n",
           (unsigned long long)st.lock_recoveries,
           (unsigned long long)st.recovered_lost);
    printf("invalidation     leases %llu granted, %llu rejected as stale, %llu waits; "
           "%llu stale hits; %llu tag invalidations\n",
           (unsigned long long)st.lease_grants, (unsigned long long)st.lease_rejects,
           (unsigned long long)st.lease_waits, (unsigned long long)st.stale_hits,
           (unsigned long long)st.tag_invalidations);
    if (walk >= 0)
        printf("                 %llu stale entries, %llu lease placeholders, "
               "%llu leased, %llu tagged\n",
               (unsigned long long)ic.stale, (unsigned long long)ic.placeholders,
               (unsigned long long)ic.leased, (unsigned long long)ic.tagged);
    if (walk >= 0 && ic.skipped)
        printf("skipped          %llu slots could not be read (corrupt, or a writer kept "
               "them busy on this read-only handle): the counts above leave them out; "
               "run `check`\n", (unsigned long long)ic.skipped);
    else if (walk >= 0)
        printf("skipped          0 slots\n");
    if (walk < 0)
        printf("                 entry counts unavailable (see below)\n");
    printf("processes        %u attached, %zu in the table\n",
           st.attached_processes, procs.n);
    if (procs.n > 0) {
        printf("  %-8s %-5s %4s %12s %12s %12s\n", "PID", "STATE", "ROWS",
               "GETS", "HITS", "MISSES");
        for (size_t i = 0; i < procs.n; i++) {
            const shmc_proc_info_t *p = &procs.p[i];
            printf("  %-8u %-5s %4u %12llu %12llu %12llu\n", p->pid,
                   p->alive ? "alive" : "dead", p->rows,
                   (unsigned long long)p->cmd_get,
                   (unsigned long long)p->get_hits,
                   (unsigned long long)p->get_misses);
        }
    }
    free(procs.p);
    return walk_result(name, walk);
}

/* ---- stats ------------------------------------------------------------- */

int cmd_stats(tool_args_t *a)
{
    const char *name = a->pos[0];
    shmc_t *c;
    shmc_stats_t st;
    int rc = tool_open_ro(a, name, &c);
    if (rc != EXIT_OK)
        return rc;
    rc = shmc_stats(c, &st);
    shmc_close(c);
    if (rc < 0) {
        tool_err("%s: cannot read statistics: %s", name, shmc_strerror(rc));
        return EXIT_FAIL;
    }
    if (a->json) {
        json_t j;
        json_init(&j, stdout, 1);
        json_obj_begin(&j);
        json_stats_fields(&j, &st);
        json_obj_end(&j);
        json_finish(&j);
    } else {
        for (size_t i = 0; i < tool_stat_nfields; i++)
            printf("%s %llu\n", tool_stat_fields[i].name,
                   (unsigned long long)tool_stat_get(&st, &tool_stat_fields[i]));
    }
    return EXIT_OK;
}

/* ---- check ------------------------------------------------------------- */

typedef struct problems {
    char **line;
    size_t n, cap;
    int oom;
} problems_t;

static void collect_problem(const char *problem, void *arg)
{
    problems_t *pr = arg;
    if (pr->n == pr->cap) {
        size_t nc = pr->cap ? pr->cap * 2 : 16;
        char **nl = realloc(pr->line, nc * sizeof *nl);
        if (nl == NULL) {
            pr->oom = 1;
            return;
        }
        pr->line = nl;
        pr->cap = nc;
    }
    char *s = strdup(problem);
    if (s == NULL) {
        pr->oom = 1;
        return;
    }
    pr->line[pr->n++] = s;
}

static void print_repair(const char *line, void *arg)
{
    (void)arg;
    printf("%s\n", line);
}

int cmd_check(tool_args_t *a)
{
    const char *name = a->pos[0];
    shmc_t *c;
    int repair = (a->seen & OPT_REPAIR) != 0;
    if ((a->seen & OPT_FORCE) && !repair)
        return tool_usage_err(a, "--force only goes with --repair");
    /* Read-write when permitted: stripes are then checked under their lock. */
    int rc = tool_try_open(a, name, 0, &c);
    if (!repair && (rc == -EACCES || rc == -EROFS))
        rc = tool_try_open(a, name, SHMC_RDONLY, &c);
    if (rc < 0)
        return tool_open_err(name, rc);
    int64_t repaired = 0;
    if (repair) {
        repaired = shmc_repair(c, (a->seen & OPT_FORCE) ? SHMC_REPAIR_FORCE : 0,
                               a->json ? NULL : print_repair, NULL);
        if (repaired == -EBUSY) {
            tool_err("%s: not repaired: other processes are attached (see `info`); stop "
                     "them, or add --force if they are stuck or gone", name);
            shmc_close(c);
            return EXIT_FAIL;
        }
        if (repaired < 0) {
            tool_err("%s: repair failed: %s", name, shmc_strerror((int)repaired));
            shmc_close(c);
            return EXIT_FAIL;
        }
        if (!a->json)
            printf("%s: %lld stripe%s repaired\n", bare(name), (long long)repaired,
                   repaired == 1 ? "" : "s");
    }
    problems_t pr = { NULL, 0, 0, 0 };
    int64_t found = shmc_check(c, collect_problem, &pr);
    shmc_close(c);
    if (found < 0) {
        tool_err("%s: check could not run: %s", name, shmc_strerror((int)found));
        for (size_t i = 0; i < pr.n; i++)
            free(pr.line[i]);
        free(pr.line);
        return EXIT_FAIL;
    }
    if (a->json) {
        json_t j;
        json_init(&j, stdout, 1);
        json_obj_begin(&j);
        json_kv_bytes(&j, "name", bare(name), strlen(bare(name)));
        json_kv_bool(&j, "ok", found == 0);
        json_kv_i64(&j, "problem_count", found);
        if (repair)
            json_kv_i64(&j, "stripes_repaired", repaired);
        json_key(&j, "problems");
        json_arr_begin(&j);
        for (size_t i = 0; i < pr.n; i++)
            json_str(&j, pr.line[i]);
        json_arr_end(&j);
        json_obj_end(&j);
        json_finish(&j);
    } else {
        for (size_t i = 0; i < pr.n; i++)
            printf("%s\n", pr.line[i]);
        if (found == 0)
            printf("%s: ok\n", bare(name));
        else
            printf("%s: %lld problem%s\n", bare(name), (long long)found,
                   found == 1 ? "" : "s");
    }
    for (size_t i = 0; i < pr.n; i++)
        free(pr.line[i]);
    free(pr.line);
    return found == 0 ? EXIT_OK : EXIT_FAIL;
}

/* ---- clear, flush-expired ---------------------------------------------- */

int cmd_clear(tool_args_t *a)
{
    const char *name = a->pos[0];
    shmc_t *c;
    int rc = tool_open(a, name, 0, &c);
    if (rc != EXIT_OK)
        return rc;
    rc = tool_confirm(a, "clear every entry of", name);
    if (rc != EXIT_OK) {
        shmc_close(c);
        return rc;
    }
    rc = shmc_clear(c);
    shmc_close(c);
    if (rc < 0) {
        tool_err("cannot clear %s: %s", name, shmc_strerror(rc));
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

int cmd_flush_expired(tool_args_t *a)
{
    const char *name = a->pos[0];
    shmc_t *c;
    int rc = tool_open(a, name, 0, &c);
    if (rc != EXIT_OK)
        return rc;
    int64_t n = shmc_flush_expired(c);
    shmc_close(c);
    if (n < 0) {
        tool_err("cannot flush %s: %s", name, shmc_strerror((int)n));
        return EXIT_FAIL;
    }
    if (a->json) {
        json_t j;
        json_init(&j, stdout, 1);
        json_obj_begin(&j);
        json_kv_i64(&j, "reclaimed", n);
        json_obj_end(&j);
        json_finish(&j);
    } else {
        printf("%lld reclaimed\n", (long long)n);
    }
    return EXIT_OK;
}
