/*
 * item_offset_wraps.c - reproducer (library bug found by fuzz_segment):
 * a slot whose item offset is within one item of 2^64 passes the bounds
 * checks of shmc_iterate (maint.c, snap_entry: `item + size <= arena_off +
 * memory`) and shmc_check (check.c, check_slots: `item + size > base +
 * stripe_bytes`) because item + size wraps around; both then read before
 * the mapping. The lock-free get (read.c) is not affected: it compares
 * item - arena_off against memory - size.
 *
 *   cc -std=c11 -D_GNU_SOURCE -pthread -Iinclude -Ishm  *      -o /tmp/item_offset_wraps tests/fuzz/repro/item_offset_wraps.c  *      build/libshmcache.a -lurcu-memb -lurcu-cds
 *   /tmp/item_offset_wraps iterate 48   # SIGSEGV (offset 2^64 - 48, item 56 bytes)
 *   /tmp/item_offset_wraps check 48     # SIGSEGV
 *   /tmp/item_offset_wraps check 4096   # "2 problems": no wrap, caught
 *
 * Uses library internals (shm_locate, shm_find_locked) to find the slot, so
 * it links the static library.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"
static int fn(const shmc_entry_t *e, void *a) { (void)e; (void)a; return 0; }
int main(int argc, char **argv)
{
    shmc_t *c;
    shmc_unlink("/wrap-repro");
    shmc_config_t cfg; shmc_config_init(&cfg);
    cfg.capacity = 64; cfg.memory = 16384; cfg.max_value_len = 256;
    if (shmc_open("/wrap-repro", SHMC_CREATE, &cfg, &c)) return 1;
    char v[40]; memset(v, 'v', sizeof v);
    shmc_set(c, "a", 1, v, sizeof v, 0, 0);
    struct keyloc kl; shm_locate(c, "a", 1, &kl);
    int64_t idx = shm_find_locked(c, &kl, "a", 1);
    struct shm_slot *s = shm_slot_at(c, (uint64_t)idx);
    uint64_t off = strtoull(argc > 2 ? argv[2] : "4096", NULL, 0);
    ST(&s->item, (uint64_t)0 - off);     /* a corrupt offset; seq stays even */
    if (argc > 1 && !strcmp(argv[1], "check"))
        printf("check: %lld problems\n", (long long)shmc_check(c, NULL, NULL));
    else
        printf("iterate: %d\n", shmc_iterate(c, fn, NULL));
    shmc_close(c); shmc_unlink("/wrap-repro");
    return 0;
}
