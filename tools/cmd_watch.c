/*
 * cmd_watch.c - a live view of a segment: every interval, the rates of the
 * operations since the previous refresh, the hit ratio over that interval
 * and overall, items, memory, evictions.
 *
 * On a terminal each refresh redraws the screen in place (ANSI clear and
 * home); otherwise refreshes are appended, and with --json each is one
 * JSON object on one line (JSON Lines), so a monitor can read a stream.
 * --count N bounds the loop; without it watch runs until interrupted.
 */
#include "tool.h"
#include "json.h"
#include "units.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(uint64_t ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Counters can go back when the segment was re-created under the name. */
static uint64_t delta(uint64_t now, uint64_t before)
{
    return now >= before ? now - before : now;
}

static double rate(uint64_t d, uint64_t ms)
{
    return ms == 0 ? 0.0 : (double)d * 1000.0 / (double)ms;
}

int cmd_watch(tool_args_t *a)
{
    const char *name = a->pos[0];
    shmc_t *c;
    shmc_stats_t prev, cur;
    int tty = isatty(STDOUT_FILENO);
    int rc = tool_open_ro(a, name, &c);
    if (rc != EXIT_OK)
        return rc;
    if ((rc = shmc_stats(c, &prev)) < 0) {
        tool_err("watch: cannot read statistics of %s: %s", name, shmc_strerror(rc));
        shmc_close(c);
        return EXIT_FAIL;
    }
    uint64_t t_prev = now_ms(CLOCK_MONOTONIC);
    /* Bounded by --count when given; otherwise runs until interrupted. */
    for (uint64_t i = 0; !(a->seen & OPT_COUNT) || i < a->count; i++) {
        sleep_ms(a->interval_ms);
        if ((rc = shmc_stats(c, &cur)) < 0) {
            tool_err("watch: cannot read statistics of %s: %s", name, shmc_strerror(rc));
            shmc_close(c);
            return EXIT_FAIL;
        }
        uint64_t t = now_ms(CLOCK_MONOTONIC), dt = t - t_prev;
        uint64_t gets = delta(cur.cmd_get, prev.cmd_get);
        uint64_t hits = delta(cur.get_hits, prev.get_hits);
        uint64_t misses = delta(cur.get_misses, prev.get_misses);
        uint64_t sets = delta(cur.cmd_set, prev.cmd_set);
        uint64_t dels = delta(cur.delete_hits + cur.delete_misses,
                              prev.delete_hits + prev.delete_misses);
        uint64_t incrs = delta(cur.incr_hits + cur.incr_misses,
                               prev.incr_hits + prev.incr_misses);
        uint64_t touches = delta(cur.cmd_touch, prev.cmd_touch);
        uint64_t cases = delta(cur.cas_hits + cur.cas_misses + cur.cas_badval,
                               prev.cas_hits + prev.cas_misses + prev.cas_badval);
        uint64_t evs = delta(cur.evictions, prev.evictions);
        uint64_t recl = delta(cur.reclaimed, prev.reclaimed);
        double hr_int = tool_ratio(hits, gets), hr = tool_ratio(cur.get_hits, cur.cmd_get);

        if (a->json) {
            json_t j;
            json_init(&j, stdout, 0);
            json_obj_begin(&j);
            json_kv_u64(&j, "time_unix_ms", now_ms(CLOCK_REALTIME));
            json_kv_u64(&j, "interval_ms", dt);
            json_kv_double(&j, "get_per_s", rate(gets, dt));
            json_kv_double(&j, "hit_per_s", rate(hits, dt));
            json_kv_double(&j, "miss_per_s", rate(misses, dt));
            json_kv_double(&j, "set_per_s", rate(sets, dt));
            json_kv_double(&j, "delete_per_s", rate(dels, dt));
            json_kv_double(&j, "incr_per_s", rate(incrs, dt));
            json_kv_double(&j, "touch_per_s", rate(touches, dt));
            json_kv_double(&j, "cas_per_s", rate(cases, dt));
            json_kv_double(&j, "evictions_per_s", rate(evs, dt));
            json_kv_double(&j, "reclaimed_per_s", rate(recl, dt));
            json_kv_double(&j, "hit_ratio_interval", hr_int);
            json_kv_double(&j, "hit_ratio", hr);
            json_kv_u64(&j, "curr_items", cur.curr_items);
            json_kv_u64(&j, "capacity", cur.capacity);
            json_kv_u64(&j, "bytes", cur.bytes);
            json_kv_u64(&j, "limit_maxbytes", cur.limit_maxbytes);
            json_kv_u64(&j, "evictions", cur.evictions);
            json_kv_u64(&j, "lock_recoveries", cur.lock_recoveries);
            json_kv_u64(&j, "attached_processes", cur.attached_processes);
            json_obj_end(&j);
            json_finish(&j);
        } else {
            char b1[32], b2[32], iv[32];
            if (tty)
                fputs("\033[H\033[2J", stdout);
            else if (i > 0)
                fputc('\n', stdout);
            printf("%s - every %s (Ctrl-C to stop)\n", name[0] == '/' ? name + 1 : name,
                   units_fmt_duration((int64_t)a->interval_ms, iv, sizeof iv));
            printf("ops/s      get %.0f  hit %.0f  miss %.0f  set %.0f  delete %.0f"
                   "  incr %.0f  touch %.0f  cas %.0f\n",
                   rate(gets, dt), rate(hits, dt), rate(misses, dt), rate(sets, dt),
                   rate(dels, dt), rate(incrs, dt), rate(touches, dt), rate(cases, dt));
            printf("hit ratio  %.1f%% this interval, %.1f%% overall\n",
                   hr_int * 100.0, hr * 100.0);
            printf("items      %llu of %llu slots (%.1f%%)\n",
                   (unsigned long long)cur.curr_items, (unsigned long long)cur.capacity,
                   tool_ratio(cur.curr_items, cur.capacity) * 100.0);
            printf("memory     %s of %s (%.1f%%)\n",
                   units_fmt_size(cur.bytes, b1, sizeof b1),
                   units_fmt_size(cur.limit_maxbytes, b2, sizeof b2),
                   tool_ratio(cur.bytes, cur.limit_maxbytes) * 100.0);
            printf("evictions  %.0f/s (%llu total), reclaimed %.0f/s\n", rate(evs, dt),
                   (unsigned long long)cur.evictions, rate(recl, dt));
            printf("processes  %u attached, %llu lock recoveries\n",
                   cur.attached_processes, (unsigned long long)cur.lock_recoveries);
        }
        if (fflush(stdout) != 0) {
            shmc_close(c);
            return EXIT_FAIL;
        }
        prev = cur;
        t_prev = t;
    }
    shmc_close(c);
    return EXIT_OK;
}
