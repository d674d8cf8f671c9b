/*
 * itable.c - the limit table (see itable.h).
 *
 * Invariant (linear probing without tombstones): every key sits in its home
 * slot or after it, with no empty slot between its home and where it sits.
 * Removal keeps it by backward shifting (the next entries of the run move
 * back when that does not carry them before their own home), so a lookup
 * stops at the first empty slot. At least 1/8 of the slots stay empty,
 * which bounds every probe run.
 *
 * A slot: tag (32 bits of the hash, never 0; 0 = empty), key length, value
 * length (VLEN_OUT: the value is in a malloc'd block whose address follows
 * the key), then the key and the value.
 */
#include "itable.h"
#include "bench.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define HDR 8u
#define LINE 64u
#define VLEN_OUT 0xffffu
#define COUNTER_ROOM 24u  /* incr rewrites up to 20 digits in place */
#define MAX_KLEN 256u

typedef struct shdr {
    uint32_t tag;
    uint16_t klen;
    uint16_t vlen;  /* VLEN_OUT: out of the slot */
} shdr_t;
_Static_assert(sizeof(shdr_t) == HDR, "slot header is 8 bytes");

typedef struct oblk {  /* a value too large for its slot */
    uint32_t vlen, cap;
    char data[];
} oblk_t;

struct itable {
    char    *slots;
    size_t   map_bytes;
    uint64_t nslots, max_items, items, evictions;
    size_t   slot;      /* bytes per slot, a multiple of LINE */
};

/* ---- hash ------------------------------------------------------------ */

#define H0 0xa0761d6478bd642full
#define H1 0xe7037ed1a0b428dbull
#define H2 0x8ebc6af09c88c6e3ull
#define H3 0x589965cc75374cc3ull

static inline uint64_t mum(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t rd64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Each 16-byte block goes through one 64x64->128 multiply whose halves are
 * folded (every input bit reaches the middle bits of the product), chained
 * through h; the length enters at the start; an 8-byte word and the last
 * bytes (gathered little-endian) get one multiply each; a last multiply by
 * a constant spreads the result over all 64 bits (the table takes its home
 * from the high bits and its tag from the low ones). A 16-byte key costs
 * two dependent multiplies. */
static inline uint64_t hash_of(const void *key, size_t len)
{
    const unsigned char *p = key;
    uint64_t h = H0 ^ ((uint64_t)len * H1);
    size_t n = len;

    for (; n >= 16; p += 16, n -= 16)
        h = mum(rd64(p) ^ H1, rd64(p + 8) ^ h);
    if (n >= 8) {
        h = mum(rd64(p) ^ H2, h ^ H3);
        p += 8;
        n -= 8;
    }
    if (n) {
        uint64_t w = 0;
        for (size_t i = 0; i < n; i++)
            w |= (uint64_t)p[i] << (8 * i);
        h = mum(w ^ H3, h ^ H2);
    }
    return mum(h ^ H2, H3);
}

uint64_t itable_hash(const void *key, size_t len)
{
    return hash_of(key, len);
}

/* ---- geometry -------------------------------------------------------- */

size_t itable_slot_bytes(size_t max_klen, size_t max_vlen)
{
    size_t v = max_vlen < COUNTER_ROOM ? COUNTER_ROOM : max_vlen;
    size_t need = HDR + max_klen + v;

    if (need > ITABLE_MAX_SLOT)
        return ITABLE_MAX_SLOT;
    return (need + LINE - 1) / LINE * LINE;
}

itable_t *itable_create(uint64_t slots, size_t max_klen, size_t max_vlen, int huge)
{
    itable_t *t;

    if (max_klen > MAX_KLEN)
        return NULL;
    t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->nslots = slots < 16 ? 16 : slots;
    t->max_items = t->nslots - t->nslots / 8;
    t->slot = itable_slot_bytes(max_klen, max_vlen);
    t->map_bytes = (size_t)t->nslots * t->slot;
    /* Page-aligned, so every slot starts on a line and a 128-byte slot is
     * one aligned pair of lines. By default the system's default pages (no
     * madvise), as a shmcache segment gets on a tmpfs without huge pages;
     * with huge, what a segment gets where /dev/shm offers them. */
    t->slots = mmap(NULL, t->map_bytes, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (t->slots == MAP_FAILED) {
        free(t);
        return NULL;
    }
    if (huge)
        madvise(t->slots, t->map_bytes, MADV_HUGEPAGE);  /* a hint: may be refused */
    return t;
}

static inline shdr_t *slot_at(const itable_t *t, uint64_t i)
{
    return (shdr_t *)(t->slots + i * t->slot);
}

static inline char *key_of(shdr_t *s)
{
    return (char *)s + HDR;
}

/* The address of an out-of-slot value, kept unaligned after the key. */
static inline oblk_t *oblk_of(shdr_t *s)
{
    uintptr_t a;
    memcpy(&a, key_of(s) + s->klen, sizeof a);
    return (oblk_t *)a;
}

void itable_destroy(itable_t *t)
{
    if (!t)
        return;
    for (uint64_t i = 0; i < t->nslots; i++) {
        shdr_t *s = slot_at(t, i);
        if (s->tag && s->vlen == VLEN_OUT)
            free(oblk_of(s));
    }
    munmap(t->slots, t->map_bytes);
    free(t);
}

/* Home slot from the hash's high bits (multiply-shift onto [0, nslots):
 * no power-of-two rounding, so the table is exactly as large as asked). */
static inline uint64_t home_of(const itable_t *t, uint64_t h)
{
    return (uint64_t)(((__uint128_t)h * t->nslots) >> 64);
}

static inline uint32_t tag_of(uint64_t h)
{
    return (uint32_t)h | 1u;
}

static inline uint64_t next_slot(const itable_t *t, uint64_t i)
{
    return i + 1 == t->nslots ? 0 : i + 1;
}

static inline int key_eq(const shdr_t *s, uint32_t tag, const void *k, size_t kl)
{
    if (s->tag != tag || s->klen != kl)
        return 0;
    if (kl == 16) {  /* the bench's keys: two word compares, no call */
        const unsigned char *a = (const unsigned char *)s + HDR, *b = k;
        return ((rd64(a) ^ rd64(b)) | (rd64(a + 8) ^ rd64(b + 8))) == 0;
    }
    return memcmp((const char *)s + HDR, k, kl) == 0;
}

/* The slot holding k, or the empty slot ending its run (*found = 0). */
static inline shdr_t *lookup(const itable_t *t, const void *k, size_t kl,
                             uint64_t h, uint64_t *idx, int *found)
{
    uint32_t tag = tag_of(h);
    uint64_t i = home_of(t, h);

    for (;;) {
        shdr_t *s = slot_at(t, i);
        if (s->tag == 0 || key_eq(s, tag, k, kl)) {
            *found = s->tag != 0;
            *idx = i;
            return s;
        }
        i = next_slot(t, i);
    }
}

/* ---- operations ------------------------------------------------------ */

int itable_get(itable_t *t, const void *k, size_t kl, void *buf, size_t cap,
               size_t *vlen)
{
    uint64_t h = hash_of(k, kl), i = home_of(t, h);
    uint32_t tag = tag_of(h);
    shdr_t *s = slot_at(t, i);

    /* the home slot's other lines: in flight while its first line loads */
    if (t->slot > LINE)
        __builtin_prefetch((char *)s + LINE);
    if (t->slot > 2 * LINE)
        __builtin_prefetch((char *)s + 2 * LINE);
    for (;;) {
        if (s->tag == 0)
            return 1;
        if (key_eq(s, tag, k, kl))
            break;
        i = next_slot(t, i);
        s = slot_at(t, i);
    }
    if (s->vlen == VLEN_OUT) {
        const oblk_t *o = oblk_of(s);
        *vlen = o->vlen;
        if (o->vlen > cap)
            return -ENOBUFS;
        memcpy(buf, o->data, o->vlen);
        return 0;
    }
    *vlen = s->vlen;
    if (s->vlen > cap)
        return -ENOBUFS;
    memcpy(buf, key_of(s) + kl, s->vlen);
    return 0;
}

/* Backward-shift removal of slot i (see the invariant at the top). */
static void slot_remove(itable_t *t, uint64_t i)
{
    uint64_t j = i;

    if (slot_at(t, i)->vlen == VLEN_OUT)
        free(oblk_of(slot_at(t, i)));
    for (;;) {
        shdr_t *s;
        uint64_t home;

        j = next_slot(t, j);
        s = slot_at(t, j);
        if (s->tag == 0)
            break;
        home = home_of(t, hash_of(key_of(s), s->klen));
        /* stays when its home lies cyclically in (i, j] */
        if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
            continue;
        memcpy(slot_at(t, i), s, t->slot);
        i = j;
    }
    slot_at(t, i)->tag = 0;
    t->items--;
}

/* Store v in slot s (whose key is kl bytes), in the slot when it fits. */
static int value_store(itable_t *t, shdr_t *s, size_t kl, const void *v, size_t vl)
{
    size_t room = t->slot - HDR - kl;
    oblk_t *o = s->tag && s->vlen == VLEN_OUT ? oblk_of(s) : NULL;

    if (vl <= room) {
        free(o);
        memcpy(key_of(s) + kl, v, vl);
        s->vlen = (uint16_t)vl;
        return 0;
    }
    if (!o || o->cap < vl) {
        oblk_t *n = malloc(sizeof *n + vl);
        if (!n)
            return -ENOMEM;
        free(o);
        o = n;
        o->cap = (uint32_t)vl;
    }
    o->vlen = (uint32_t)vl;
    memcpy(o->data, v, vl);
    {
        uintptr_t a = (uintptr_t)o;
        memcpy(key_of(s) + kl, &a, sizeof a);
    }
    s->vlen = VLEN_OUT;
    return 0;
}

int itable_set(itable_t *t, const void *k, size_t kl, const void *v, size_t vl)
{
    uint64_t h = hash_of(k, kl), i;
    shdr_t *s;
    int found, rc;

    /* the key and an out-of-slot value's address must fit */
    if (HDR + kl + sizeof(uintptr_t) > t->slot || kl > MAX_KLEN)
        return -E2BIG;
    s = lookup(t, k, kl, h, &i, &found);
    if (found)
        return value_store(t, s, kl, v, vl);  /* in place */
    if (t->items >= t->max_items) {
        /* full: evict the entry at the key's home, or the next one */
        uint64_t j = home_of(t, h);
        while (slot_at(t, j)->tag == 0)
            j = next_slot(t, j);
        slot_remove(t, j);
        t->evictions++;
        s = lookup(t, k, kl, h, &i, &found);
    }
    s->klen = (uint16_t)kl;
    s->vlen = 0;
    memcpy(key_of(s), k, kl);
    rc = value_store(t, s, kl, v, vl);  /* tag still 0: nothing to free */
    if (rc < 0)
        return rc;
    s->tag = tag_of(h);
    t->items++;
    return 0;
}

int itable_del(itable_t *t, const void *k, size_t kl)
{
    uint64_t i;
    int found;

    lookup(t, k, kl, hash_of(k, kl), &i, &found);
    if (!found)
        return 1;
    slot_remove(t, i);
    return 0;
}

int itable_incr(itable_t *t, const void *k, size_t kl, uint64_t delta,
                uint64_t *res)
{
    uint64_t i, n = 0;
    int found;
    shdr_t *s = lookup(t, k, kl, hash_of(k, kl), &i, &found);
    char *p, tmp[24];
    size_t len = 0;

    if (!found)
        return 1;
    if (s->vlen == VLEN_OUT || s->vlen == 0 || s->vlen > 20)
        return -EINVAL;
    p = key_of(s) + kl;
    for (uint32_t j = 0; j < s->vlen; j++) {
        if (p[j] < '0' || p[j] > '9')
            return -EINVAL;
        n = n * 10 + (uint64_t)(p[j] - '0');
    }
    n += delta;
    if (res)
        *res = n;
    do {
        tmp[len++] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    for (size_t j = 0; j < len; j++)  /* fits: the slot has COUNTER_ROOM */
        p[j] = tmp[len - 1 - j];
    s->vlen = (uint16_t)len;
    return 0;
}

uint64_t itable_items(const itable_t *t)
{
    return t->items;
}

uint64_t itable_evictions(const itable_t *t)
{
    return t->evictions;
}

size_t itable_slot_size(const itable_t *t)
{
    return t->slot;
}
