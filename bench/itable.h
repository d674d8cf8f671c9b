/*
 * itable.h - the bench's "limit" table: what a get costs when nothing is
 * shared and nothing is validated (DESIGN.md, "Numbers").
 *
 * One flat array of fixed-size slots in process-private memory, linear
 * probing from a fast strong 64-bit hash, and the key and value inline in
 * the slot: a hit reads one slot and copies the value out. The slot size is
 * chosen at creation from the largest key and value the workload stores
 * (8-byte header + key + value, rounded up to a cache line, at most
 * ITABLE_MAX_SLOT bytes); a value too large for its slot goes to a
 * malloc'd block the slot points to, so mixed-size workloads still run.
 *
 * For 16-byte keys and 100-byte values a slot is 128 bytes, aligned to 128:
 * the two lines of one aligned pair, whose addresses are known together, so
 * a get waits for one memory access (the second line is prefetched with the
 * first) - the one miss DESIGN.md's limit takes.
 *
 * Not thread-safe: one table per thread (the private backend gives each
 * worker thread its own).
 */
#ifndef SHMCACHE_BENCH_ITABLE_H
#define SHMCACHE_BENCH_ITABLE_H

#include <stddef.h>
#include <stdint.h>

#define ITABLE_MAX_SLOT 512u

typedef struct itable itable_t;

/* Bytes per slot for keys up to max_klen and values up to max_vlen. */
size_t itable_slot_bytes(size_t max_klen, size_t max_vlen);

/* A table of `slots` slots (at least 16) sized for keys up to max_klen
 * (at most 256) and values up to max_vlen. Holds at most 7/8 of its slots;
 * beyond that a set of a new key evicts one (counted). huge: ask for
 * transparent huge pages (madvise; the system may refuse), else the
 * system's default for private memory. NULL when memory is short or
 * max_klen is out of range. */
itable_t *itable_create(uint64_t slots, size_t max_klen, size_t max_vlen, int huge);
void itable_destroy(itable_t *t);

/* 0 hit (value copied into buf, *vlen set), 1 miss, -ENOBUFS (cap too
 * small; *vlen = the value's length). */
int itable_get(itable_t *t, const void *k, size_t kl, void *buf, size_t cap,
               size_t *vlen);
/* 0 stored (in place when the key is present), -E2BIG key longer than the
 * table was sized for, -ENOMEM no memory for an out-of-slot value. */
int itable_set(itable_t *t, const void *k, size_t kl, const void *v, size_t vl);
/* 0 removed, 1 absent. */
int itable_del(itable_t *t, const void *k, size_t kl);
/* 0 done (*res = new value), 1 absent, -EINVAL not a decimal number. */
int itable_incr(itable_t *t, const void *k, size_t kl, uint64_t delta,
                uint64_t *res);

uint64_t itable_items(const itable_t *t);
uint64_t itable_evictions(const itable_t *t);
size_t   itable_slot_size(const itable_t *t);

/* The table's hash (folded 64x64->128 multiplies): the home slot comes
 * from its high bits, the 32-bit tag from its low bits. */
uint64_t itable_hash(const void *key, size_t len);

#endif
