/*
 * stale_ttl_is_lease.c - reproducer (contract question found by fuzz_api):
 * once a lease is handed out on an invalidated value, shmc_get_stale
 * reports the lease's remaining time as the value's ttl_ms, although the
 * value was stored without expiry (ttl_ms should be -1). The slot's expiry
 * carries the lease deadline (shm/lease.c), and read.c turns it into ttl_ms.
 *
 *   cc -std=c11 -D_GNU_SOURCE -pthread -Iinclude -o /tmp/stale_ttl \
 *      tests/fuzz/repro/stale_ttl_is_lease.c build/libshmcache.a -lurcu-memb -lurcu-cds
 *   /tmp/stale_ttl     # prints "stale 1 ttl_ms 5000" (expected -1)
 */
#include <stdio.h>
#include "shmcache.h"

int main(void)
{
    shmc_t *c;
    shmc_unlink("/stale-ttl-repro");
    if (shmc_open("/stale-ttl-repro", SHMC_CREATE, NULL, &c))
        return 1;
    shmc_set(c, "k", 1, "value", 5, 0 /* never expires */, 0);
    shmc_invalidate(c, "k", 1);
    char buf[16];
    size_t vlen;
    uint64_t lease;
    shmc_get_or_lease(c, "k", 1, buf, sizeof(buf), &vlen, NULL, 5000, &lease);
    shmc_item_info_t info;
    int r = shmc_get_stale(c, "k", 1, buf, sizeof(buf), &vlen, &info);
    printf("get_stale %d: stale %u ttl_ms %lld\n", r, info.stale, (long long)info.ttl_ms);
    shmc_close(c);
    shmc_unlink("/stale-ttl-repro");
    return 0;
}
