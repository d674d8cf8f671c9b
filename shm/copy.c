/*
 * copy.c - moving bytes between process memory and the segment.
 *
 * Every access to item memory is an atomic access (relaxed 8-byte words):
 * readers copy while a writer may be reusing the same bytes, and only the
 * slot's sequence check afterwards says whether the copy is good. Plain
 * memcpy there would be a data race in C11 terms (and ThreadSanitizer would
 * say so); relaxed word loads compile to the same moves on x86-64.
 * Items are 8-byte aligned and padded to 8 bytes, so whole words are always
 * inside the item.
 */
#include "internal.h"

typedef _Atomic uint64_t aword;

void shm_copy_out(void *dst, const uint8_t *src, size_t n)
{
    const aword *s = (const aword *)(const void *)src;
    uint8_t *d = dst;
    while (n >= 8) {
        uint64_t w = atomic_load_explicit(s++, memory_order_relaxed);
        memcpy(d, &w, 8);
        d += 8;
        n -= 8;
    }
    if (n) {
        uint64_t w = atomic_load_explicit(s, memory_order_relaxed);
        memcpy(d, &w, n);
    }
}

void shm_copy_in(uint8_t *dst, const void *src, size_t n)
{
    aword *d = (aword *)(void *)dst;
    const uint8_t *s = src;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        atomic_store_explicit(d++, w, memory_order_relaxed);
        s += 8;
        n -= 8;
    }
    if (n) {
        uint64_t w = 0;
        memcpy(&w, s, n);
        atomic_store_explicit(d, w, memory_order_relaxed);
    }
}

void shm_copy_within(uint8_t *dst, const uint8_t *src, size_t n)
{
    aword *d = (aword *)(void *)dst;
    const aword *s = (const aword *)(const void *)src;
    for (size_t i = 0; i < (n + 7) / 8; i++)
        atomic_store_explicit(&d[i], atomic_load_explicit(&s[i], memory_order_relaxed),
                              memory_order_relaxed);
}

bool shm_equal(const uint8_t *shared, const void *mem, size_t n)
{
    const aword *s = (const aword *)(const void *)shared;
    const uint8_t *m = mem;
    while (n >= 8) {
        uint64_t w = atomic_load_explicit(s++, memory_order_relaxed), v;
        memcpy(&v, m, 8);
        if (w != v)
            return false;
        m += 8;
        n -= 8;
    }
    if (n) {
        uint64_t w = atomic_load_explicit(s, memory_order_relaxed);
        uint8_t tail[8];
        memcpy(tail, &w, 8);
        if (memcmp(tail, m, n) != 0)
            return false;
    }
    return true;
}
