/*
 * status.c - the relay's record of itself in the segment (what
 * shmcache-tool relay-status shows) and its log lines.
 *
 * Both threads change r->st under r->mu and write it whole to the segment
 * (shmc_relay_status_set): positions survive a restart because they live
 * there, and they are only advanced after the work they describe is done,
 * so a relay killed at any point redoes (idempotent) work, never skips it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "relay.h"

uint64_t relay_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t relay_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void relay_log(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* One write per line, so the two threads' lines never interleave. */
    char line[1100];
    int n = snprintf(line, sizeof(line), RELAY_NAME "[%d]: %s\n", (int)getpid(), msg);
    if (n > 0) {
        ssize_t w = write(2, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
        (void)w;
    }
}

void status_save_mu(struct relay *r)
{
    r->st.heartbeat_unix_ms = relay_wall_ms();
    int rc = shmc_relay_status_set(r->c, &r->st);
    if (rc)
        relay_log("cannot record status in the segment: %s", shmc_strerror(rc));
}

void status_note_clear_mu(struct relay *r, const char *why)
{
    r->st.clear_unix_ms = relay_wall_ms();
    r->st.clears++;
    snprintf(r->st.clear_reason, sizeof(r->st.clear_reason), "%s", why);
    status_save_mu(r);
}

void relay_clear_local(struct relay *r, const char *why)
{
    int rc = shmc_journal_apply(r->c, SHMC_JOURNAL_CLEAR, NULL, 0);
    relay_log("cleared the local segment: %s%s%s", why, rc ? ", but clear failed: " : "",
              rc ? shmc_strerror(rc) : "");
    pthread_mutex_lock(&r->mu);
    status_note_clear_mu(r, why);
    pthread_mutex_unlock(&r->mu);
}
