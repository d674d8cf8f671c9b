/*
 * zipf.c - random numbers, key distributions and the hash of the bench's
 * own tables.
 *
 * The Zipf sampler is rejection-inversion (W. Hormann, G. Derflinger,
 * "Rejection-inversion to generate variates from monotone discrete
 * distributions", 1996): O(1) set-up and O(1) expected time per sample for
 * any n, so 10M keys cost nothing at start. Ranks are 0-based: rank 0 is the
 * most popular; scatter() spreads them over the key space.
 */
#include "bench.h"

#include <errno.h>
#include <math.h>
#include <string.h>

/* Final avalanche: every input bit reaches every output bit. */
static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ull;
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ull;
    x ^= x >> 32;
    return x;
}

uint64_t rng_next(rng_t *r)
{
    r->s += 0x9e3779b97f4a7c15ull;  /* Weyl sequence, period 2^64 */
    return mix64(r->s);
}

double rng_unit(rng_t *r)
{
    return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

uint64_t rng_below(rng_t *r, uint64_t n)
{
    /* multiply-high: bias below 2^-64 * n, irrelevant here */
    return (uint64_t)(((unsigned __int128)rng_next(r) * n) >> 64);
}

/*
 * One 8-byte word at a time: xor it in, multiply (spreads low bits up),
 * xor-shift (spreads high bits down); the length and the tail's size enter
 * too, and mix64 finishes. Keys that differ only in their last digit land
 * in unrelated buckets (checked by --selftest).
 */
uint64_t bench_hash(const void *key, size_t len, uint64_t seed)
{
    const unsigned char *p = key;
    uint64_t h = seed ^ ((uint64_t)len * 0x9e3779b97f4a7c15ull);
    uint64_t w;

    while (len >= 8) {
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 29;
        p += 8;
        len -= 8;
    }
    if (len) {
        w = 0;
        memcpy(&w, p, len);
        h = (h ^ w ^ ((uint64_t)len << 59)) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 29;
    }
    return mix64(h);
}

/* ---- Zipf by rejection-inversion ------------------------------------- *
 * Ranks k = 1..n with weight h(k) = k^-theta. H is an antiderivative of h
 * written so that theta = 1 needs no special case:
 *   H(x) = ((x^(1-theta)) - 1) / (1 - theta) = log(x) * e1((1-theta) log x)
 * with e1(y) = (exp(y) - 1) / y, and its inverse
 *   Hinv(u) = exp(u * l1((1-theta) u)) with l1(y) = log(1 + y) / y. */

static double e1(double y)
{
    return fabs(y) > 1e-8 ? expm1(y) / y : 1.0 + y * 0.5 * (1.0 + y / 3.0);
}

static double l1(double y)
{
    return fabs(y) > 1e-8 ? log1p(y) / y : 1.0 - y * (0.5 - y / 3.0);
}

static double zH(const zipf_t *z, double x)
{
    double lx = log(x);
    return e1((1.0 - z->theta) * lx) * lx;
}

static double zHinv(const zipf_t *z, double u)
{
    double t = u * (1.0 - z->theta);
    if (t < -1.0)
        t = -1.0;  /* rounding at the far end */
    return exp(l1(t) * u);
}

static double zh(const zipf_t *z, double x)
{
    return exp(-z->theta * log(x));
}

int zipf_init(zipf_t *z, uint64_t n, double theta)
{
    if (n == 0 || !(theta > 0.0) || theta > 10.0)
        return -EINVAL;
    z->n = n;
    z->theta = theta;
    z->hx0 = zH(z, 1.5) - 1.0;
    z->hxm = zH(z, (double)n + 0.5);
    z->s = 2.0 - zHinv(z, zH(z, 2.5) - zh(z, 2.0));
    return 0;
}

uint64_t zipf_next(const zipf_t *z, rng_t *r)
{
    for (;;) {
        double u = z->hxm + rng_unit(r) * (z->hx0 - z->hxm);
        double x = zHinv(z, u);
        double kd = floor(x + 0.5);
        uint64_t k;

        if (kd < 1.0)
            kd = 1.0;
        else if (kd > (double)z->n)
            kd = (double)z->n;
        k = (uint64_t)kd;
        if (kd - x <= z->s || u >= zH(z, kd + 0.5) - zh(z, kd))
            return k - 1;
    }
}

/* A bijection of [0, n): an invertible mix on the smallest power of two
 * >= n, repeated while the result falls outside (cycle walking). */
uint64_t scatter(uint64_t rank, uint64_t n)
{
    unsigned bits = 1;
    uint64_t mask, x = rank;

    if (n <= 2)
        return rank;
    while (bits < 64 && (1ull << bits) < n)
        bits++;
    mask = bits == 64 ? ~0ull : (1ull << bits) - 1;
    do {
        x = (x * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull) & mask;
        x ^= x >> (bits / 2 + 1);
        x = (x * 0xd6e8feb86659fd93ull) & mask;
        x ^= x >> (bits / 2 + 1);
    } while (x >= n);
    return x;
}
