/*
 * copy.h - moving bytes between process memory and the segment.
 *
 * Every access to item memory is an atomic access (relaxed 8-byte words):
 * readers copy while a writer may be reusing the same bytes, and only the
 * slot's sequence check afterwards says whether the copy is good. Plain
 * memcpy there would be a data race in C11 terms (and ThreadSanitizer would
 * say so); relaxed word loads compile to the same moves on x86-64.
 * Items are 8-byte aligned and padded to 8 bytes, so whole words are always
 * inside the item. Inline: these are on the get path.
 */
#ifndef SHMC_COPY_H
#define SHMC_COPY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

typedef _Atomic uint64_t aword;

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "shmcache's word copies assume a little-endian machine"
#endif

/* The last n (1..7) bytes of a buffer of len >= 8 bytes ending at end, as
 * the low bytes of a word: one overlapping unaligned load, no byte loop. */
static inline uint64_t tail_word(const uint8_t *end, size_t n)
{
    uint64_t v;
    memcpy(&v, end - 8, 8);
    return v >> (8 * (8 - n));
}

/* Bytes 0..n-1 (n < 8) of a short buffer as the low bytes of a word. */
static inline uint64_t short_word(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Copy n bytes out of the segment into dst, which has room for cap >= n. */
static inline void shm_copy_out(void *dst, const uint8_t *src, size_t n, size_t cap)
{
    const aword *s = (const aword *)(const void *)src;
    uint8_t *d = dst;
    size_t words = n / 8, rest = n % 8, i = 0;
    /* Four words a turn: atomics keep the compiler from unrolling. */
    for (; i + 4 <= words; i += 4) {
        uint64_t w0 = atomic_load_explicit(&s[i], memory_order_relaxed);
        uint64_t w1 = atomic_load_explicit(&s[i + 1], memory_order_relaxed);
        uint64_t w2 = atomic_load_explicit(&s[i + 2], memory_order_relaxed);
        uint64_t w3 = atomic_load_explicit(&s[i + 3], memory_order_relaxed);
        memcpy(d + 8 * i, &w0, 8);
        memcpy(d + 8 * i + 8, &w1, 8);
        memcpy(d + 8 * i + 16, &w2, 8);
        memcpy(d + 8 * i + 24, &w3, 8);
    }
    for (; i < words; i++) {
        uint64_t w = atomic_load_explicit(&s[i], memory_order_relaxed);
        memcpy(d + 8 * i, &w, 8);
    }
    if (rest) {
        uint64_t w = atomic_load_explicit(&s[words], memory_order_relaxed);
        uint8_t *t = d + 8 * words;
        if (cap >= 8 * words + 8) {
            memcpy(t, &w, 8); /* the caller's buffer has room: one store */
        } else {
            for (size_t b = 0; b < rest; b++)
                t[b] = (uint8_t)(w >> (8 * b));
        }
    }
}

/* Copy n bytes into the segment; the last word is zero-padded (items are
 * padded to 8 bytes, and keys rely on the zero padding: shm_equal). */
static inline void shm_copy_in(uint8_t *dst, const void *src, size_t n)
{
    aword *d = (aword *)(void *)dst;
    const uint8_t *s = src;
    size_t words = n / 8, rest = n % 8;
    for (size_t i = 0; i < words; i++) {
        uint64_t w;
        memcpy(&w, s + 8 * i, 8);
        atomic_store_explicit(&d[i], w, memory_order_relaxed);
    }
    if (rest) {
        uint64_t w = n >= 8 ? tail_word(s + n, rest) : short_word(s, rest);
        atomic_store_explicit(&d[words], w, memory_order_relaxed);
    }
}

static inline void shm_copy_within(uint8_t *dst, const uint8_t *src, size_t n)
{
    aword *d = (aword *)(void *)dst;
    const aword *s = (const aword *)(const void *)src;
    for (size_t i = 0; i < (n + 7) / 8; i++)
        atomic_store_explicit(&d[i], atomic_load_explicit(&s[i], memory_order_relaxed),
                              memory_order_relaxed);
}

/* Whether the n key bytes at shared (zero-padded to 8) equal mem. */
static inline bool shm_equal(const uint8_t *shared, const void *mem, size_t n)
{
    const aword *s = (const aword *)(const void *)shared;
    const uint8_t *m = mem;
    size_t words = n / 8, rest = n % 8;
    for (size_t i = 0; i < words; i++) {
        uint64_t v;
        memcpy(&v, m + 8 * i, 8);
        if (atomic_load_explicit(&s[i], memory_order_relaxed) != v)
            return false;
    }
    if (rest) {
        uint64_t v = n >= 8 ? tail_word(m + n, rest) : short_word(m, rest);
        if (atomic_load_explicit(&s[words], memory_order_relaxed) != v)
            return false;
    }
    return true;
}

#endif
