/*
 * keys.c - the keys and values every backend is driven with.
 *
 * Key i is "key:" and i in 12 decimal digits (16 bytes), formatted from a
 * table of 4-digit groups so the timed loop spends a few ns on it. A value
 * is a per-key size (fixed, or drawn from the --value-size range by a hash
 * of i, so every worker and every backend agree) whose first 8 bytes hold
 * i, which is what --verify checks on a hit.
 */
#include "bench.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static char digits4[10000][4];

void keys_init(void)
{
    for (int i = 0; i < 10000; i++) {
        digits4[i][0] = (char)('0' + i / 1000);
        digits4[i][1] = (char)('0' + i / 100 % 10);
        digits4[i][2] = (char)('0' + i / 10 % 10);
        digits4[i][3] = (char)('0' + i % 10);
    }
}

void key_format(char out[KEY_LEN], uint64_t i)
{
    uint64_t hi = i / 100000000u, mid = i / 10000u % 10000u, lo = i % 10000u;

    memcpy(out, "key:", 4);
    memcpy(out + 4, digits4[hi % 10000u], 4);
    memcpy(out + 8, digits4[mid], 4);
    memcpy(out + 12, digits4[lo], 4);
}

uint32_t value_size_for(const bench_opts_t *o, uint64_t i)
{
    if (o->mix == MIX_INCR)
        return 1;  /* the counter "0" */
    if (o->vmin == o->vmax)
        return o->vmin;
    return o->vmin + (uint32_t)(bench_hash(&i, sizeof i, 0x517eull) %
                                (uint64_t)(o->vmax - o->vmin + 1));
}

void value_fill(char *buf, size_t n, uint64_t i)
{
    for (size_t j = 0; j < n; j++)
        buf[j] = (char)('a' + (j + i) % 26);
    if (n >= 8)
        memcpy(buf, &i, 8);
}

int value_check(const char *buf, size_t n, uint64_t i)
{
    uint64_t x;

    if (n < 8)
        return 1;
    memcpy(&x, buf, 8);
    return x == i;
}

int preload_keys(const bench_opts_t *o, void *w,
                 int (*set)(void *w, const char *k, size_t kl, const char *v, size_t vl))
{
    char k[KEY_LEN];
    char *v = malloc(o->vmax + 8);
    int rc = 0;

    if (!v)
        return -ENOMEM;
    for (uint64_t i = 0; i < o->keys && rc == 0; i++) {
        uint32_t n = value_size_for(o, i);
        key_format(k, i);
        if (o->mix == MIX_INCR)
            v[0] = '0';
        else
            value_fill(v, n, i);
        rc = set(w, k, KEY_LEN, v, n);
    }
    free(v);
    return rc < 0 ? rc : 0;
}
