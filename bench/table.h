/*
 * table.h - the bench's own hash table, "the same shape" as shmcache's
 * index: 2^k buckets of 8 slots on one cache line, 16-bit hash tags
 * compared before keys, two candidate buckets per key, CLOCK eviction in the
 * home bucket, keys and values outside the slots, copied out on a get.
 *
 * It lives in one caller-provided region and refers to everything by
 * offset, so the same code serves the private backend (a MAP_PRIVATE region
 * per worker, no lock) and the globallock backend (a MAP_SHARED region
 * behind one process-shared robust mutex). It is not thread-safe: callers
 * serialise.
 */
#ifndef SHMCACHE_BENCH_TABLE_H
#define SHMCACHE_BENCH_TABLE_H

#include <stddef.h>
#include <stdint.h>

typedef struct table table_t;

/* Bytes one item of klen/vlen occupies (its size class). */
uint64_t table_item_bytes(size_t klen, size_t vlen);

/* Region size for `slots` slots (rounded up to 8 per bucket, power of two
 * buckets) and `memory` bytes of items. */
size_t table_region_size(uint64_t slots, uint64_t memory);

/* Lay out a table in region (zeroed memory of table_region_size bytes). */
table_t *table_init(void *region, uint64_t slots, uint64_t memory);

/* 0 hit (value copied, *vlen set), 1 miss, -ENOBUFS (cap too small). */
int table_get(table_t *t, const void *k, size_t kl, void *buf, size_t cap,
              size_t *vlen);
/* 0 stored, -ENOSPC when item memory is exhausted (sizing error). */
int table_set(table_t *t, const void *k, size_t kl, const void *v, size_t vl);
/* 0 removed, 1 absent. */
int table_del(table_t *t, const void *k, size_t kl);
/* 0 done (*res = new value), 1 absent, -EINVAL not a number. */
int table_incr(table_t *t, const void *k, size_t kl, uint64_t delta,
               uint64_t *res);
uint64_t table_evictions(const table_t *t);
uint64_t table_items(const table_t *t);

#endif
