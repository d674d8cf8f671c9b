/*
 * clock.c - time for expiry.
 *
 * Expiry is an absolute CLOCK_MONOTONIC time in ms, the same clock in every
 * process of the machine. Setting an expiry reads the exact clock (~37 ns
 * here); checking one first reads the coarse clock (~6 ns, up to a tick
 * behind) and only near the boundary the exact one, so an entry is never
 * returned after it expired and the common check stays cheap.
 */
#include <time.h>

#include "internal.h"

static inline uint64_t ts_ms(const struct timespec *ts)
{
    return (uint64_t)ts->tv_sec * 1000u + (uint64_t)ts->tv_nsec / 1000000u;
}

uint64_t shm_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts_ms(&ts);
}

uint64_t shm_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts_ms(&ts);
}

/* The coarse clock lags the exact one by at most one tick (4 ms at
 * CONFIG_HZ=250); 20 ms of margin covers any HZ Linux ships. */
#define COARSE_MARGIN_MS 20u

bool shm_expired(uint64_t expiry)
{
    if (expiry == 0)
        return false;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    uint64_t coarse = ts_ms(&ts);
    if (coarse >= expiry)
        return true;
    if (coarse + COARSE_MARGIN_MS < expiry)
        return false;
    return shm_now_ms() >= expiry;
}

uint64_t shm_expiry_from_ttl(uint64_t ttl_ms)
{
    if (ttl_ms == 0)
        return 0;
    uint64_t now = shm_now_ms();
    if (ttl_ms > UINT64_MAX - now)
        return UINT64_MAX; /* saturate: effectively never */
    return now + ttl_ms;
}

int64_t shm_ttl_left(uint64_t expiry)
{
    if (expiry == 0)
        return -1;
    uint64_t now = shm_now_ms();
    if (now >= expiry)
        return 0;
    uint64_t left = expiry - now;
    return left > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)left;
}
