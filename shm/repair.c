/*
 * repair.c - rebuild the locks of stripes that cannot be locked.
 *
 * Invariant: repair only ever costs the entries of the stripes it repairs,
 * and never pulls a lock from under a live holder unless told to. A stripe
 * is repaired when its lock is of a corrupt kind, fails at once, or stays
 * taken through a whole census window (lock.c) by an owner that cannot be
 * shown dead: its lock is initialised again from nothing and every entry of
 * the stripe is dropped (through the slots' seqlocks, so readers never see
 * a half-dropped entry).
 *
 * Re-initialising a mutex that another process is waiting on, or holds, is
 * undefined: so without SHMC_REPAIR_FORCE repair refuses (-EBUSY) while any
 * other process is attached (a live row in the process table, which the
 * kernel vouches for through its OFD lock). With the flag, the operator
 * asserts that the other processes are stuck or gone.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

int64_t shmc_repair(shmc_t *c, unsigned flags, void (*fn)(const char *line, void *arg), void *arg)
{
    if (!c || (flags & ~SHMC_REPAIR_FORCE))
        return -EINVAL;
    if (!shm_writable(c))
        return -EROFS;
    if (!(flags & SHMC_REPAIR_FORCE)) {
        struct shm_proc sum;
        uint32_t attached = shm_procs_sum(c, &sum);
        uint32_t self = c->primary_row >= 0 ? 1 : 0;
        if (attached > self)
            return -EBUSY;
    }
    uint8_t *bad = calloc(c->nstripes, 1);
    if (!bad)
        return -ENOMEM;
    shm_locks_find_bad(c, bad);
    int64_t n = 0;
    for (uint32_t s = 0; s < c->nstripes; s++) {
        if (!bad[s])
            continue;
        int r = shm_lock_reinit(c, s);
        if (fn) {
            char line[160];
            if (r)
                snprintf(line, sizeof(line), "stripe %u: lock could not be rebuilt: %s", s,
                         shmc_strerror(r));
            else
                snprintf(line, sizeof(line), "stripe %u: lock rebuilt, its entries dropped", s);
            fn(line, arg);
        }
        if (r) {
            free(bad);
            return r;
        }
        n++;
    }
    free(bad);
    return n;
}
