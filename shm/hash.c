/*
 * hash.c - the key hash and where a key lives in the index.
 *
 * Invariant: the same key always maps to the same two buckets of one stripe
 * in every process (the seed comes from the segment header), and keys that
 * differ only in their last bytes (key:0001, key:0002, ...) spread over all
 * buckets: every input word goes through a 64x64->128 multiply whose halves
 * are folded, and the result through a final avalanche.
 */
#include "internal.h"

#define K0 0x9e3779b97f4a7c15ull
#define K1 0xc2b2ae3d27d4eb4full
#define K2 0x165667b19e3779f9ull

static inline uint64_t fold_mul(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint64_t avalanche(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

uint64_t shm_hash(const void *key, size_t len, uint64_t seed)
{
    const uint8_t *p = key;
    uint64_t h = seed ^ K0 ^ ((uint64_t)len * K1);
    size_t n = len;
    while (n > 16) {
        h = fold_mul(rd64(p) ^ K1 ^ h, rd64(p + 8) ^ K2 ^ seed);
        p += 16;
        n -= 16;
    }
    /* The last 1..16 bytes as two words, with overlapping loads instead of
     * a byte loop (the length is mixed in, so overlaps cannot collide). */
    uint64_t a = 0, b = 0;
    if (n > 8) {
        a = rd64(p);
        b = rd64(p + n - 8);
    } else if (n >= 4) {
        uint32_t x, y;
        memcpy(&x, p, 4);
        memcpy(&y, p + n - 4, 4);
        a = ((uint64_t)x << 32) | y;
    } else if (n > 0) {
        a = ((uint64_t)p[0] << 16) | ((uint64_t)p[n / 2] << 8) | p[n - 1];
    }
    h = fold_mul(a ^ K1 ^ h, b ^ K2 ^ (uint64_t)len);
    return avalanche(h ^ seed);
}

void shm_locate(const shmc_t *c, const void *key, size_t klen, struct keyloc *kl)
{
    uint64_t h = shm_hash(key, klen, c->seed);
    kl->h = h;
    kl->tag = (uint16_t)((h >> 48) | 1u);
    kl->b[0] = h & c->bucket_mask;
    kl->stripe = shm_stripe_of_bucket(c, kl->b[0]);
    if (c->nbuckets > c->nstripes) {
        /* The second bucket is in the same stripe, so one lock covers the
         * whole probe set. Its bits (21 and up) are independent of the first
         * bucket's (the low bits) because the hash is fully avalanched. */
        uint64_t b = (h >> 21) & c->bucket_mask;
        b = (b & ~(uint64_t)c->stripe_mask) | kl->stripe;
        if (b == kl->b[0])
            b ^= (uint64_t)c->stripe_mask + 1;
        kl->b[1] = b;
        kl->nb = 2;
    } else {
        kl->b[1] = kl->b[0];
        kl->nb = 1;
    }
}
