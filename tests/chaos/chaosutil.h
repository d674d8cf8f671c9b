/*
 * chaosutil.h - helpers shared by the chaos and linearizability harnesses:
 * a monotonic clock in ns, a small PRNG, and self-checking values.
 *
 * A value carries the key it was stored under, a version, its own length and
 * a checksum over all of it, so a reader can tell a torn, misplaced or
 * foreign value from a good one without knowing what was stored last:
 *
 *   | magic u32 | key u32 | version u64 | len u32 | check u32 | payload ... |
 *
 * The payload is a pseudo-random stream seeded by (key, version).
 */
#ifndef SHMC_CHAOSUTIL_H
#define SHMC_CHAOSUTIL_H

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#define CV_MAGIC 0x4348414fu /* "CHAO" */
#define CV_HDR 24u

static inline uint64_t cu_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void cu_sleep_us(uint64_t us)
{
    struct timespec ts;
    ts.tv_sec = (time_t)(us / 1000000u);
    ts.tv_nsec = (long)((us % 1000000u) * 1000u);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* xorshift64* */
static inline uint64_t cu_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static inline uint32_t cu_below(uint64_t *s, uint32_t n)
{
    return n ? (uint32_t)((cu_rand(s) >> 32) % n) : 0;
}

static inline uint64_t cu_mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static inline void cu_put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void cu_put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static inline uint32_t cu_get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t cu_get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static inline uint32_t cv_check(const uint8_t *v, uint32_t len)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ len;
    for (uint32_t i = 0; i < len; i++) {
        if (i >= 20 && i < 24)
            continue; /* the check field itself */
        h = (h ^ v[i]) * 0x100000001b3ull;
    }
    return (uint32_t)(cu_mix(h) >> 16);
}

/* Fill v (len >= CV_HDR bytes) with the value of (key, version). */
static inline void cv_make(uint8_t *v, uint32_t len, uint32_t key, uint64_t version)
{
    cu_put32(v, CV_MAGIC);
    cu_put32(v + 4, key);
    cu_put64(v + 8, version);
    cu_put32(v + 16, len);
    cu_put32(v + 20, 0);
    uint64_t s = cu_mix(((uint64_t)key << 40) ^ version) | 1;
    for (uint32_t i = CV_HDR; i < len; i++)
        v[i] = (uint8_t)(cu_rand(&s) >> 56);
    cu_put32(v + 20, cv_check(v, len));
}

/* 0 when v is a whole value of key; its version in *version. Else a short
 * reason. */
static inline const char *cv_verify(const uint8_t *v, size_t len, uint32_t key, uint64_t *version)
{
    if (len < CV_HDR)
        return "value shorter than its header";
    if (cu_get32(v) != CV_MAGIC)
        return "bad magic";
    if (cu_get32(v + 16) != len)
        return "length field differs from the returned length";
    if (cu_get32(v + 4) != key)
        return "value of another key";
    if (cv_check(v, (uint32_t)len) != cu_get32(v + 20))
        return "checksum mismatch (torn or corrupt value)";
    *version = cu_get64(v + 8);
    return 0;
}

#endif
