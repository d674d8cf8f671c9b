/*
 * units.c - parsing and printing of sizes and durations for the command
 * line. Each parser consumes the whole string or rejects it, so "10x",
 * "1.5G", "-3" and "" are usage errors rather than silently truncated.
 */
#include "units.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Decimal digits at *p into *out; advances *p. 0, or -1 on none/overflow. */
static int take_digits(const char **p, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    if (*s < '0' || *s > '9')
        return -1;
    while (*s >= '0' && *s <= '9') {
        uint64_t d = (uint64_t)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
        s++;
    }
    *p = s;
    *out = v;
    return 0;
}

int units_parse_u64(const char *s, uint64_t *out)
{
    if (s == NULL || *s == '\0')
        return -1;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        uint64_t v = 0;
        const char *p = s + 2;
        if (*p == '\0')
            return -1;
        for (; *p; p++) {
            unsigned d;
            if (*p >= '0' && *p <= '9')
                d = (unsigned)(*p - '0');
            else if (*p >= 'a' && *p <= 'f')
                d = (unsigned)(*p - 'a' + 10);
            else if (*p >= 'A' && *p <= 'F')
                d = (unsigned)(*p - 'A' + 10);
            else
                return -1;
            if (v > (UINT64_MAX >> 4))
                return -1;
            v = (v << 4) | d;
        }
        *out = v;
        return 0;
    }
    const char *p = s;
    uint64_t v;
    if (take_digits(&p, &v) != 0 || *p != '\0')
        return -1;
    *out = v;
    return 0;
}

int units_parse_i64(const char *s, int64_t *out)
{
    int neg = 0;
    uint64_t v;
    if (s == NULL)
        return -1;
    if (*s == '-' || *s == '+') {
        neg = *s == '-';
        s++;
    }
    const char *p = s;
    if (take_digits(&p, &v) != 0 || *p != '\0')
        return -1;
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return -1;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX)
            return -1;
        *out = (int64_t)v;
    }
    return 0;
}

int units_parse_mode(const char *s, uint32_t *out)
{
    uint32_t v = 0;
    if (s == NULL || *s == '\0' || strlen(s) > 4)
        return -1;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '7')
            return -1;
        v = v * 8 + (uint32_t)(*p - '0');
    }
    if (v > 0777)
        return -1;
    *out = v;
    return 0;
}

int units_parse_size(const char *s, uint64_t *out)
{
    const char *p = s;
    uint64_t v, mul = 1;
    if (s == NULL || take_digits(&p, &v) != 0)
        return -1;
    switch (*p) {
    case 'k': case 'K': mul = 1ull << 10; p++; break;
    case 'm': case 'M': mul = 1ull << 20; p++; break;
    case 'g': case 'G': mul = 1ull << 30; p++; break;
    case 't': case 'T': mul = 1ull << 40; p++; break;
    default: break;
    }
    if (mul > 1 && (strcasecmp(p, "ib") == 0 || strcasecmp(p, "b") == 0))
        p += strlen(p);
    else if (mul == 1 && strcasecmp(p, "b") == 0)
        p++;
    if (*p != '\0')
        return -1;
    if (v > UINT64_MAX / mul)
        return -1;
    *out = v * mul;
    return 0;
}

int units_parse_duration(const char *s, uint64_t *out_ms)
{
    const char *p = s;
    uint64_t total = 0;
    if (s == NULL || *s == '\0')
        return -1;
    if (strcmp(s, "never") == 0) {
        *out_ms = 0;
        return 0;
    }
    /* A bare number is seconds. */
    {
        uint64_t v;
        if (take_digits(&p, &v) != 0)
            return -1;
        if (*p == '\0') {
            if (v > UINT64_MAX / 1000)
                return -1;
            *out_ms = v * 1000;
            return 0;
        }
        p = s;
    }
    /* Bounded by the string: each pass consumes at least two characters. */
    while (*p) {
        uint64_t v, mul;
        if (take_digits(&p, &v) != 0)
            return -1;
        if (p[0] == 'm' && p[1] == 's') {
            mul = 1;
            p += 2;
        } else if (*p == 's') {
            mul = 1000;
            p++;
        } else if (*p == 'm') {
            mul = 60ull * 1000;
            p++;
        } else if (*p == 'h') {
            mul = 3600ull * 1000;
            p++;
        } else if (*p == 'd') {
            mul = 86400ull * 1000;
            p++;
        } else {
            return -1;
        }
        if (v > UINT64_MAX / mul || total > UINT64_MAX - v * mul)
            return -1;
        total += v * mul;
    }
    *out_ms = total;
    return 0;
}

char *units_fmt_size(uint64_t bytes, char *buf, size_t cap)
{
    static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
    if (bytes < 1024) {
        snprintf(buf, cap, "%llu B", (unsigned long long)bytes);
        return buf;
    }
    double v = (double)bytes;
    unsigned u = 0;
    while (v >= 1024.0 && u + 1 < sizeof unit / sizeof unit[0]) {
        v /= 1024.0;
        u++;
    }
    snprintf(buf, cap, v < 10.0 ? "%.2f %s" : v < 100.0 ? "%.1f %s" : "%.0f %s",
             v, unit[u]);
    return buf;
}

char *units_fmt_duration(int64_t ms, char *buf, size_t cap)
{
    if (ms < 0) {
        snprintf(buf, cap, "-");
    } else if (ms < 1000) {
        snprintf(buf, cap, "%lldms", (long long)ms);
    } else if (ms < 60 * 1000) {
        snprintf(buf, cap, "%lld.%llds", (long long)(ms / 1000),
                 (long long)(ms % 1000 / 100));
    } else if (ms < 3600 * 1000) {
        long long s = ms / 1000;
        snprintf(buf, cap, "%lldm%02llds", s / 60, s % 60);
    } else if (ms < 86400LL * 1000) {
        long long m = ms / 60000;
        snprintf(buf, cap, "%lldh%02lldm", m / 60, m % 60);
    } else {
        long long h = ms / 3600000;
        snprintf(buf, cap, "%lldd%02lldh", h / 24, h % 24);
    }
    return buf;
}
