/*
 * table.c - the private/globallock backends' hash table (see table.h).
 *
 * Invariant: a key is in at most one slot, in one of its two buckets; a
 * slot is free exactly when its tag is 0. Item memory is a bump region with
 * one free list per size class (classes 16 bytes apart up to 128, then
 * about 12 % apart), so a key rewritten with a value of the same class
 * reuses its own bytes.
 */
#include "table.h"
#include "bench.h"

#include <errno.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define SLOTS 8
#define UNIT 16u        /* item offsets are in 16-byte units */
#define NCLASS 96
#define COUNTER_ROOM 24 /* values smaller than this get room to grow (incr) */

typedef struct bucket {
    uint16_t tag[SLOTS];   /* 0: free slot */
    uint32_t item[SLOTS];  /* offset of the item, in UNITs from the arena */
    uint8_t  ref;          /* CLOCK reference bits, one per slot */
    uint8_t  hand;         /* next slot the CLOCK hand looks at */
    uint8_t  pad[14];
} __attribute__((aligned(64))) bucket_t;
_Static_assert(sizeof(bucket_t) == 64, "a bucket is one cache line");

typedef struct item {
    uint16_t klen;
    uint8_t  cls;
    uint8_t  pad;
    uint32_t vlen;
    /* key, then value */
} item_t;

struct table {
    uint64_t mask;          /* buckets - 1 */
    uint64_t buckets_off;   /* from the table */
    uint64_t arena_off;     /* from the table */
    uint64_t arena_size;
    uint64_t bump;          /* next free byte of the arena (offset) */
    uint64_t evictions;
    uint64_t items;
    uint32_t free_head[NCLASS];
} __attribute__((aligned(64)));

static uint32_t class_size[NCLASS];
static unsigned nclass;

static void classes_init(void)
{
    uint64_t s = UNIT;

    if (nclass)
        return;
    while (nclass < NCLASS && s <= (1ull << 31)) {
        class_size[nclass++] = (uint32_t)s;
        if (s < 128)
            s += UNIT;
        else
            s = (s + s / 8 + UNIT - 1) / UNIT * UNIT;
    }
}

static unsigned class_of(uint64_t bytes)
{
    unsigned lo = 0, hi = nclass - 1;

    while (lo < hi) {  /* first class >= bytes */
        unsigned mid = (lo + hi) / 2;
        if (class_size[mid] >= bytes)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static uint64_t need_bytes(size_t klen, size_t vlen)
{
    return sizeof(item_t) + klen + (vlen < COUNTER_ROOM ? COUNTER_ROOM : vlen);
}

uint64_t table_item_bytes(size_t klen, size_t vlen)
{
    classes_init();
    return class_size[class_of(need_bytes(klen, vlen))];
}

static uint64_t bucket_count(uint64_t slots)
{
    uint64_t b = 2;
    while (b * SLOTS < slots)
        b <<= 1;
    return b;
}

size_t table_region_size(uint64_t slots, uint64_t memory)
{
    return sizeof(table_t) + bucket_count(slots) * sizeof(bucket_t) +
           ((memory + UNIT - 1) / UNIT + 1) * UNIT;
}

table_t *table_init(void *region, uint64_t slots, uint64_t memory)
{
    table_t *t = region;
    uint64_t nb = bucket_count(slots);

    classes_init();
    t->mask = nb - 1;
    t->buckets_off = sizeof(table_t);
    t->arena_off = t->buckets_off + nb * sizeof(bucket_t);
    t->arena_size = ((memory + UNIT - 1) / UNIT + 1) * UNIT;
    t->bump = UNIT;  /* offset 0 means "none" */
    return t;
}

static inline bucket_t *buckets(table_t *t)
{
    return (bucket_t *)((char *)t + t->buckets_off);
}

static inline item_t *item_at(table_t *t, uint32_t off)
{
    return (item_t *)((char *)t + t->arena_off + (uint64_t)off * UNIT);
}

static uint32_t item_alloc(table_t *t, unsigned cls)
{
    uint32_t off = t->free_head[cls];

    if (off) {  /* a free item keeps the next free one in its vlen */
        t->free_head[cls] = item_at(t, off)->vlen;
        return off;
    }
    if (t->bump + class_size[cls] > t->arena_size) {
        /* borrow a free item of a larger class */
        for (unsigned c = cls + 1; c < nclass; c++)
            if (t->free_head[c]) {
                off = t->free_head[c];
                t->free_head[c] = item_at(t, off)->vlen;
                item_at(t, off)->cls = (uint8_t)c;
                return off;
            }
        return 0;
    }
    off = (uint32_t)(t->bump / UNIT);
    t->bump += class_size[cls];
    item_at(t, off)->cls = (uint8_t)cls;
    return off;
}

static void item_free(table_t *t, uint32_t off)
{
    item_t *it = item_at(t, off);
    unsigned cls = it->cls;

    it->vlen = t->free_head[cls];  /* the free list's link */
    t->free_head[cls] = off;
}

/* Slots of b whose tag equals tag, as a bit mask. */
static inline unsigned tag_match(const bucket_t *b, uint16_t tag)
{
#if defined(__SSE2__)
    __m128i v = _mm_load_si128((const __m128i *)b->tag);
    __m128i m = _mm_cmpeq_epi16(v, _mm_set1_epi16((short)tag));
    /* 16-bit lanes of all ones or zeros -> bytes -> one bit per slot */
    return (unsigned)_mm_movemask_epi8(_mm_packs_epi16(m, _mm_setzero_si128()));
#else
    unsigned m = 0;
    for (unsigned s = 0; s < SLOTS; s++)
        m |= (unsigned)(b->tag[s] == tag) << s;
    return m;
#endif
}

typedef struct where {
    bucket_t *b;
    unsigned s;
} where_t;

static inline void home(table_t *t, const void *k, size_t kl, uint16_t *tag,
                        bucket_t **b1, bucket_t **b2)
{
    uint64_t h = bench_hash(k, kl, 0x5eedull);
    uint64_t i1 = h & t->mask;
    uint64_t i2 = (i1 ^ ((h >> 32) | 1)) & t->mask;

    *tag = (uint16_t)((h >> 48) | 1);
    *b1 = &buckets(t)[i1];
    *b2 = &buckets(t)[i2];
}

static int find(table_t *t, const void *k, size_t kl, where_t *w,
                bucket_t **b1, bucket_t **b2, uint16_t *tagp)
{
    uint16_t tag;
    bucket_t *bs[2];

    home(t, k, kl, &tag, &bs[0], &bs[1]);
    *tagp = tag;
    *b1 = bs[0];
    *b2 = bs[1];
    for (int i = 0; i < 2; i++) {
        unsigned m = tag_match(bs[i], tag);
        while (m) {
            unsigned s = (unsigned)__builtin_ctz(m);
            const item_t *it = item_at(t, bs[i]->item[s]);
            m &= m - 1;
            if (it->klen == kl && memcmp(it + 1, k, kl) == 0) {
                w->b = bs[i];
                w->s = s;
                return 1;
            }
        }
    }
    return 0;
}

int table_get(table_t *t, const void *k, size_t kl, void *buf, size_t cap,
              size_t *vlen)
{
    where_t w;
    bucket_t *b1, *b2;
    uint16_t tag;
    const item_t *it;

    if (!find(t, k, kl, &w, &b1, &b2, &tag))
        return 1;
    it = item_at(t, w.b->item[w.s]);
    *vlen = it->vlen;
    if (it->vlen > cap)
        return -ENOBUFS;
    memcpy(buf, (const char *)(it + 1) + it->klen, it->vlen);
    if (!(w.b->ref & (1u << w.s)))  /* write only when it changes */
        w.b->ref = (uint8_t)(w.b->ref | (1u << w.s));
    return 0;
}

static void slot_clear(table_t *t, bucket_t *b, unsigned s)
{
    item_free(t, b->item[s]);
    b->tag[s] = 0;
    b->item[s] = 0;
    b->ref = (uint8_t)(b->ref & ~(1u << s));
    t->items--;
}

/* A free slot of b1 or b2, else the CLOCK victim of b1 (evicted). */
static where_t slot_for_insert(table_t *t, bucket_t *b1, bucket_t *b2)
{
    where_t w;
    unsigned m1 = tag_match(b1, 0), m2 = tag_match(b2, 0);

    /* the emptier bucket (two choices keep the fullest bucket short) */
    if (m1 && __builtin_popcount(m1) >= __builtin_popcount(m2)) {
        w.b = b1;
        w.s = (unsigned)__builtin_ctz(m1);
        return w;
    }
    if (m2) {
        w.b = b2;
        w.s = (unsigned)__builtin_ctz(m2);
        return w;
    }
    /* CLOCK over the home bucket: clears at most 8 bits, then finds one */
    for (;;) {
        unsigned s = b1->hand & (SLOTS - 1);
        b1->hand = (uint8_t)((s + 1) & (SLOTS - 1));
        if (b1->ref & (1u << s)) {
            b1->ref = (uint8_t)(b1->ref & ~(1u << s));
            continue;
        }
        slot_clear(t, b1, s);
        t->evictions++;
        w.b = b1;
        w.s = s;
        return w;
    }
}

int table_set(table_t *t, const void *k, size_t kl, const void *v, size_t vl)
{
    where_t w;
    bucket_t *b1, *b2;
    uint16_t tag;
    unsigned cls = class_of(need_bytes(kl, vl));
    uint32_t off;
    item_t *it;

    if (find(t, k, kl, &w, &b1, &b2, &tag)) {
        it = item_at(t, w.b->item[w.s]);
        if (class_size[it->cls] >= need_bytes(kl, vl)) {  /* in place */
            it->vlen = (uint32_t)vl;
            memcpy((char *)(it + 1) + kl, v, vl);
            return 0;
        }
        slot_clear(t, w.b, w.s);
    } else {
        w = slot_for_insert(t, b1, b2);
    }
    off = item_alloc(t, cls);
    if (!off)
        return -ENOSPC;
    it = item_at(t, off);
    it->klen = (uint16_t)kl;
    it->vlen = (uint32_t)vl;
    memcpy(it + 1, k, kl);
    memcpy((char *)(it + 1) + kl, v, vl);
    w.b->item[w.s] = off;
    w.b->tag[w.s] = tag;
    t->items++;
    return 0;
}

int table_del(table_t *t, const void *k, size_t kl)
{
    where_t w;
    bucket_t *b1, *b2;
    uint16_t tag;

    if (!find(t, k, kl, &w, &b1, &b2, &tag))
        return 1;
    slot_clear(t, w.b, w.s);
    return 0;
}

int table_incr(table_t *t, const void *k, size_t kl, uint64_t delta,
               uint64_t *res)
{
    where_t w;
    bucket_t *b1, *b2;
    uint16_t tag;
    item_t *it;
    char *p, tmp[24];
    uint64_t n = 0;
    size_t len = 0;

    if (!find(t, k, kl, &w, &b1, &b2, &tag))
        return 1;
    it = item_at(t, w.b->item[w.s]);
    p = (char *)(it + 1) + it->klen;
    if (it->vlen == 0 || it->vlen > 20)
        return -EINVAL;
    for (uint32_t i = 0; i < it->vlen; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -EINVAL;
        n = n * 10 + (uint64_t)(p[i] - '0');
    }
    n += delta;
    do {
        tmp[len++] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    if (class_size[it->cls] < need_bytes(kl, len))
        return -EINVAL;  /* cannot happen: COUNTER_ROOM holds 20 digits */
    for (size_t i = 0; i < len; i++)
        p[i] = tmp[len - 1 - i];
    it->vlen = (uint32_t)len;
    if (res) {
        uint64_t r = 0;
        for (size_t i = 0; i < len; i++)
            r = r * 10 + (uint64_t)(p[i] - '0');
        *res = r;
    }
    return 0;
}

uint64_t table_evictions(const table_t *t)
{
    return t->evictions;
}

uint64_t table_items(const table_t *t)
{
    return t->items;
}
