/*
 * cmd_relay.c - relay-status: what the segment's invalidation journal and
 * its shmcache-relay are doing (docs/RELAY.md). Read-only: it attaches
 * with SHMC_RDONLY and reads what the relay records in the segment.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "tool.h"
#include "units.h"

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* "12.3s ago", or "never". */
static const char *ago(uint64_t when, uint64_t now, char *buf, size_t cap)
{
    char d[32];
    if (!when)
        snprintf(buf, cap, "never");
    else
        snprintf(buf, cap, "%s ago", units_fmt_duration(now > when ? (int64_t)(now - when) : 0, d, sizeof d));
    return buf;
}

static int first_time(const shmc_journal_rec_t *rec, void *arg)
{
    *(uint64_t *)arg = rec->unix_ms;
    return 1;
}

int cmd_relay_status(tool_args_t *a)
{
    const char *name = a->pos[0];
    shmc_t *c = NULL;
    int rc = tool_open_ro(a, name, &c);
    if (rc != EXIT_OK)
        return rc;
    shmc_journal_info_t in;
    shmc_relay_status_t st;
    int r = shmc_journal_info(c, &in);
    if (r == 0)
        r = shmc_relay_status_get(c, &st);
    if (r) {
        tool_err("%s: %s%s", name, shmc_strerror(r),
                 r == -ENOTSUP ? " (the segment was created without --journal)" : "");
        shmc_close(c);
        return EXIT_FAIL;
    }
    uint64_t now = wall_ms();
    uint64_t last = in.head_seq - 1;
    uint64_t lag = last > st.published_seq ? last - st.published_seq : 0;
    /* Age of the oldest record not yet published: how late the other hosts are. */
    uint64_t oldest = 0, lag_ms = 0;
    if (lag && shmc_journal_read(c, st.published_seq + 1, 1, first_time, &oldest) == 1 && oldest)
        lag_ms = now > oldest ? now - oldest : 0;
    shmc_close(c);

    if (a->json) {
        json_t j;
        json_init(&j, stdout, 1);
        json_obj_begin(&j);
        json_kv_str(&j, "name", name[0] == '/' ? name + 1 : name);
        json_kv_u64(&j, "journal_bytes", in.bytes);
        json_kv_bool(&j, "write_invalidate", (in.flags & SHMC_JOURNAL_WRITES) != 0);
        json_kv_u64(&j, "journal_head", last);
        json_kv_u64(&j, "journal_oldest", in.tail_seq);
        json_kv_u64(&j, "journal_used_bytes", in.used_bytes);
        json_kv_u64(&j, "journal_recoveries", in.recoveries);
        json_kv_u64(&j, "journal_dropped", in.dropped);
        json_kv_bool(&j, "relay_running", (int)in.relay_running);
        json_kv_u64(&j, "relay_pid", st.pid);
        json_kv_str(&j, "origin", st.origin);
        json_kv_bool(&j, "connected", in.relay_running && st.connected);
        json_kv_u64(&j, "unreachable_ms", st.unreachable_ms);
        json_kv_u64(&j, "published", st.published_seq);
        json_kv_u64(&j, "published_unix_ms", st.published_unix_ms);
        json_kv_u64(&j, "published_total", st.published_total);
        json_kv_u64(&j, "lag_records", lag);
        json_kv_u64(&j, "lag_ms", lag_ms);
        char id[48];
        snprintf(id, sizeof id, "%llu-%llu", (unsigned long long)st.applied_id_ms,
                 (unsigned long long)st.applied_id_seq);
        json_kv_str(&j, "applied_id", id);
        json_kv_u64(&j, "applied_unix_ms", st.applied_unix_ms);
        json_kv_u64(&j, "applied_lag_ms", st.applied_lag_ms);
        json_kv_u64(&j, "applied_total", st.applied_total);
        json_kv_u64(&j, "clears", st.clears);
        json_kv_u64(&j, "clear_unix_ms", st.clear_unix_ms);
        json_kv_str(&j, "clear_reason", st.clear_reason);
        json_kv_u64(&j, "heartbeat_unix_ms", st.heartbeat_unix_ms);
        json_obj_end(&j);
        json_finish(&j);
        return EXIT_OK;
    }
    char b1[32], b2[32], t1[48], t2[48], t3[48], t4[48];
    printf("segment          %s\n", name[0] == '/' ? name + 1 : name);
    printf("journal          %s ring, %s used, head %llu, oldest retained %llu%s\n",
           units_fmt_size(in.bytes, b1, sizeof b1), units_fmt_size(in.used_bytes, b2, sizeof b2),
           (unsigned long long)last, (unsigned long long)in.tail_seq,
           (in.flags & SHMC_JOURNAL_WRITES) ? ", write-invalidate" : "");
    if (in.recoveries || in.dropped)
        printf("journal losses   %llu appenders recovered, %llu appends dropped\n",
               (unsigned long long)in.recoveries, (unsigned long long)in.dropped);
    if (!in.relay_running)
        printf("relay            not running%s%s\n", st.pid ? ", last seen " : "",
               st.pid ? ago(st.heartbeat_unix_ms, now, t1, sizeof t1) : "");
    else
        printf("relay            running, pid %u, origin %s, %s\n", st.pid, st.origin,
               st.connected ? "connected to Redis" : "Redis unreachable");
    printf("published        up to record %llu (%s), %llu in all; lag %llu records, %llu ms\n",
           (unsigned long long)st.published_seq, ago(st.published_unix_ms, now, t2, sizeof t2),
           (unsigned long long)st.published_total, (unsigned long long)lag,
           (unsigned long long)lag_ms);
    printf("applied          stream id %llu-%llu (%s), %llu in all; lag %llu ms\n",
           (unsigned long long)st.applied_id_ms, (unsigned long long)st.applied_id_seq,
           ago(st.applied_unix_ms, now, t3, sizeof t3), (unsigned long long)st.applied_total,
           (unsigned long long)st.applied_lag_ms);
    printf("last clear       %s%s%s\n", ago(st.clear_unix_ms, now, t4, sizeof t4),
           st.clear_unix_ms ? ": " : "", st.clear_unix_ms ? st.clear_reason : "");
    return EXIT_OK;
}
