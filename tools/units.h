/*
 * units.h - numbers, sizes and durations as an operator types them, and
 * back: "64K", "512M", "2G" (base 1024), "250ms", "30s", "5m", "1h30m".
 * Every parser takes the whole string or fails: no trailing garbage, no
 * sign, no overflow.
 */
#ifndef SHMC_TOOL_UNITS_H
#define SHMC_TOOL_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* Unsigned integer: decimal, or hexadecimal with a 0x prefix.
 * Returns 0, or -1 on garbage or overflow. */
int units_parse_u64(const char *s, uint64_t *out);

/* Signed decimal integer (a leading '-' or '+'). 0 or -1. */
int units_parse_i64(const char *s, int64_t *out);

/* Octal permission bits such as 0660 or 660 (at most 0777). 0 or -1. */
int units_parse_mode(const char *s, uint32_t *out);

/* A size: a decimal number of bytes, optionally followed by K, M, G or T
 * (case-insensitive, powers of 1024), itself optionally followed by "B" or
 * "iB". 0 or -1. */
int units_parse_size(const char *s, uint64_t *out);

/* A duration in milliseconds: one or more <number><unit> pairs with unit
 * ms, s, m, h or d ("1h30m"); a bare number is seconds; "never" is 0.
 * 0 or -1. */
int units_parse_duration(const char *s, uint64_t *out_ms);

/* "1.5 MiB", "512 B". Returns buf. */
char *units_fmt_size(uint64_t bytes, char *buf, size_t cap);

/* "250ms", "29.9s", "5m03s", "2h00m", "3d04h"; negative gives "-". */
char *units_fmt_duration(int64_t ms, char *buf, size_t cap);

#endif
