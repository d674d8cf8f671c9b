/*
 * check.c - verify a segment's whole structure without changing it.
 *
 * What is sound: the mapped header still says what was validated at
 * attach; every stripe's log walks from tail to head in well-formed items;
 * every occupied slot points at an item of its own stripe that points back,
 * with matching lengths, hash, tag and bucket, and appears in the log walk;
 * no key occupies two slots; the stripe counters match the slots; every
 * process-table row is in a known state. Each stripe is checked under its
 * lock on a writable handle (so a live segment gives exact answers); a
 * read-only handle checks without locks and may report a change in flight.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "internal.h"

struct report {
    void (*fn)(const char *, void *);
    void *arg;
    int64_t n;
};

__attribute__((format(printf, 2, 3)))
static void problem(struct report *rp, const char *fmt, ...)
{
    rp->n++;
    if (!rp->fn)
        return;
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    rp->fn(line, rp->arg);
}

static void check_header(shmc_t *c, struct report *rp)
{
    struct shm_header *h = c->hdr;
    if (memcmp(h->magic, SHMC_MAGIC, 8) != 0)
        problem(rp, "header: bad magic");
    if (h->layout_version != SHMC_LAYOUT_VERSION)
        problem(rp, "header: layout version %u, expected %u", h->layout_version, SHMC_LAYOUT_VERSION);
    if (h->fingerprint != shm_fingerprint())
        problem(rp, "header: layout fingerprint differs from this build");
    if (h->segment_size != c->size || h->buckets != c->nbuckets || h->stripes != c->nstripes ||
        h->memory != c->memory || h->stripe_bytes != c->stripe_bytes || h->arena_off != c->arena_off ||
        h->max_key_len != c->max_key || h->max_value_len != c->max_val)
        problem(rp, "header: geometry changed since attach");
    if (LD(&h->ready) != SHMC_READY)
        problem(rp, "header: not marked ready");
    struct stat sb;
    if (fstat(c->fd, &sb) == 0 && (uint64_t)sb.st_size != c->size)
        problem(rp, "header: object is %lld bytes, header says %llu", (long long)sb.st_size,
                (unsigned long long)c->size);
}

/* Walk one of a stripe's logs; seen[k] set for each slot whose item the
 * walk met. */
static void check_log(shmc_t *c, uint32_t s, int which, uint8_t *seen, struct report *rp)
{
    struct shm_log l = shm_log_of(c, s, which);
    const char *name = which == LOG_PROBATION ? "probation" : "main";
    uint64_t cap = l.cap;
    uint64_t head = shm_log_head(&l), tail = shm_log_tail(&l), wrap_end = LD(l.wrap_end);
    if (head > cap || tail > cap || wrap_end > cap || head % 8 || tail % 8 || wrap_end % 8) {
        problem(rp, "stripe %u: %s log pointers out of range (head %llu tail %llu wrap %llu, size %llu)",
                s, name, (unsigned long long)head, (unsigned long long)tail,
                (unsigned long long)wrap_end, (unsigned long long)cap);
        return;
    }
    if (wrap_end ? head > tail : tail > head) {
        problem(rp, "stripe %u: %s log tail %llu and head %llu inconsistent", s, name,
                (unsigned long long)tail, (unsigned long long)head);
        return;
    }
    uint64_t ranges[2][2] = {{tail, wrap_end ? wrap_end : head}, {0, wrap_end ? head : 0}};
    for (int k = 0; k < 2; k++) {
        for (uint64_t off = ranges[k][0]; off < ranges[k][1];) {
            struct shm_item *it = (struct shm_item *)(void *)(c->base + l.base + off);
            uint32_t size = LD(&it->size), slot = LD(&it->slot);
            if (size < sizeof(*it) || size % 8 || off + size > ranges[k][1]) {
                problem(rp, "stripe %u: item at %s log offset %llu has bad size %u", s, name,
                        (unsigned long long)off, size);
                break;
            }
            if (slot != ITEM_PAD_SLOT) {
                if (slot >= c->nslots) {
                    problem(rp, "stripe %u: item at %s log offset %llu names slot %u of %llu", s,
                            name, (unsigned long long)off, slot, (unsigned long long)c->nslots);
                } else if (shm_slot_off(c, slot) == l.base + off) {
                    seen[slot / 8] = (uint8_t)(seen[slot / 8] | (1u << (slot % 8)));
                }
            }
            off += size;
        }
    }
}

/* Keys homed in bucket b found living in their second bucket, counted as
 * the walk meets them, to check each bucket's ovf word. */
static void check_slots(shmc_t *c, uint32_t s, const uint8_t *seen, uint8_t *kbuf, uint32_t *ovf_seen,
                        struct report *rp)
{
    struct shm_stripe *st = &c->stripes[s];
    uint64_t base = shm_arena_base(c, s);
    uint64_t items = 0, bytes = 0;
    uint32_t count_gen = LD(&st->count_gen);
    for (uint64_t b = s; b < c->nbuckets; b += c->nstripes) {
        struct shm_bucket *bk = &c->buckets[b];
        uint32_t seq = LD(&bk->seq);
        if (seq & 1)
            problem(rp, "bucket %llu: left mid-write (odd sequence %u)", (unsigned long long)b, seq);
        for (unsigned i = 0; i < SHMC_SLOTS_PER_BUCKET; i++) {
            uint64_t idx = b * SHMC_SLOTS_PER_BUCKET + i;
            uint64_t item = shm_slot_off(c, idx);
            if (!item) {
                if (LD(&bk->tag[i]))
                    problem(rp, "slot %llu: empty but tagged", (unsigned long long)idx);
                continue;
            }
            if (!LD(&bk->tag[i]))
                problem(rp, "slot %llu: occupied but not tagged", (unsigned long long)idx);
            if (item - base > c->stripe_bytes - sizeof(struct shm_item)) {
                problem(rp, "slot %llu: item offset %llu outside its stripe's memory",
                        (unsigned long long)idx, (unsigned long long)item);
                continue;
            }
            struct shm_item *it = shm_item_at(c, item);
            uint32_t klen = LD(&it->klen), vlen = LD(&it->vlen);
            uint8_t ntags = LD(&it->ntags);
            uint64_t size = shm_item_size(klen, vlen, ntags);
            if (klen == 0 || klen > c->max_key || vlen > c->max_val || ntags > SHMC_TAGS_MAX) {
                problem(rp, "slot %llu: lengths out of range (key %u, value %u)", (unsigned long long)idx,
                        klen, vlen);
                continue;
            }
            if (size > c->stripe_bytes || item - base > c->stripe_bytes - size) {
                problem(rp, "slot %llu: item at %llu runs past its stripe's memory",
                        (unsigned long long)idx, (unsigned long long)item);
                continue;
            }
            if (LD(&it->slot) != idx || LD(&it->size) != size)
                problem(rp, "slot %llu: its item does not point back", (unsigned long long)idx);
            if (!(seen[idx / 8] & (1u << (idx % 8))))
                problem(rp, "slot %llu: item not in the stripe's log", (unsigned long long)idx);
            shm_copy_out(kbuf, c->base + item + shm_item_key_off(ntags), klen, c->max_key + 8);
            struct keyloc kl;
            shm_locate(c, kbuf, klen, &kl);
            if ((uint32_t)kl.h != LD(&it->hash))
                problem(rp, "slot %llu: stored hash does not match its key", (unsigned long long)idx);
            else if (kl.b[0] != b && kl.b[1] != b)
                problem(rp, "slot %llu: key is in a bucket outside its probe set", (unsigned long long)idx);
            else if (LD(&bk->tag[i]) != kl.tag)
                problem(rp, "slot %llu: tag does not match its key", (unsigned long long)idx);
            else if (LD(&c->wlines[b].fp[i]) != shm_key_fp(kl.h))
                problem(rp, "slot %llu: fingerprint does not match its key", (unsigned long long)idx);
            else if (shm_find_locked(c, &kl, kbuf, klen) != (int64_t)idx)
                problem(rp, "slot %llu: key also stored in another slot, or unreachable", (unsigned long long)idx);
            if (kl.b[0] != b && ovf_seen[kl.b[0]] < UINT32_MAX)
                ovf_seen[kl.b[0]]++;
            if (LD(&it->gen) == count_gen) {
                items++;
                bytes += size;
            }
        }
    }
    uint64_t gen = atomic_load(&c->hdr->generation);
    if (count_gen == (uint32_t)gen &&
        (shm_stripe_items(st) != items || shm_stripe_bytes(st) != bytes))
        problem(rp, "stripe %u: counters say %llu items/%llu bytes, slots hold %llu/%llu", s,
                (unsigned long long)shm_stripe_items(st), (unsigned long long)shm_stripe_bytes(st),
                (unsigned long long)items, (unsigned long long)bytes);
}

/* A bucket's ovf may over-count (a saturated or corrupt-then-repaired
 * word only costs readers a look at the second bucket) but never
 * under-count: then a reader could miss a live key. */
static void check_ovf(shmc_t *c, uint32_t s, const uint32_t *ovf_seen, struct report *rp)
{
    for (uint64_t b = s; b < c->nbuckets; b += c->nstripes) {
        uint32_t v = LD(&c->buckets[b].ovf) & OVF_COUNT;
        if (v != OVF_STUCK && v < ovf_seen[b])
            problem(rp, "bucket %llu: ovf %u but %u of its keys live in their second bucket",
                    (unsigned long long)b, v, ovf_seen[b]);
    }
}

int64_t shmc_check(shmc_t *c, void (*fn)(const char *problem, void *arg), void *arg)
{
    if (!c)
        return -EINVAL;
    struct report rp = {fn, arg, 0};
    check_header(c, &rp);
    uint8_t *seen = calloc((c->nslots + 7) / 8, 1);
    uint8_t *kbuf = malloc(c->max_key + 8);
    uint32_t *ovf_seen = calloc(c->nbuckets, sizeof(uint32_t));
    if (!seen || !kbuf || !ovf_seen) {
        free(seen);
        free(kbuf);
        free(ovf_seen);
        return -ENOMEM;
    }
    for (uint32_t s = 0; s < c->nstripes; s++) {
        bool locked = false;
        if (shm_writable(c)) {
            int r = shm_lock(c, s);
            if (r) {
                problem(&rp, "stripe %u: lock not obtained: %s", s,
                        r == -EBADMSG   ? "the lock is corrupt (no longer a robust, shared mutex): "
                                          "check --repair rebuilds it"
                        : r == -EDEADLK ? "held by a stuck process or a corrupt lock word: "
                                          "check --repair rebuilds it"
                                        : shmc_strerror(r));
                continue;
            }
            locked = true;
        }
        check_log(c, s, LOG_PROBATION, seen, &rp);
        check_log(c, s, LOG_MAIN, seen, &rp);
        check_slots(c, s, seen, kbuf, ovf_seen, &rp);
        check_ovf(c, s, ovf_seen, &rp);
        if (locked)
            shm_unlock(c, s);
    }
    for (uint32_t i = 0; i < c->proc_slots; i++) {
        uint32_t state = LD(&c->procs[i].state);
        if (state != ROW_FREE && state != ROW_LIVE)
            problem(&rp, "process row %u: unknown state %u", i, state);
    }
    free(seen);
    free(kbuf);
    free(ovf_seen);
    return rp.n;
}
