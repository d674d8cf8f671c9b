/*
 * json.c - the JSON writer of --json and the lossless display of bytes.
 *
 * The writer keeps one "first element" flag per nesting level so callers
 * only say what to write, never where the commas go. Numbers are written
 * in the C locale (the tool never calls setlocale), doubles with a fixed
 * precision and never as NaN or Infinity, which JSON does not have.
 */
#include "json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void json_init(json_t *j, FILE *f, int pretty)
{
    memset(j, 0, sizeof *j);
    j->f = f;
    j->pretty = pretty;
    j->first[0] = 1;
}

static void indent(json_t *j)
{
    if (!j->pretty)
        return;
    fputc('\n', j->f);
    for (int i = 0; i < j->depth; i++)
        fputs("  ", j->f);
}

/* Before any value: a comma and indentation unless it follows a key. */
static void before_value(json_t *j)
{
    if (j->after_key) {
        j->after_key = 0;
        return;
    }
    if (j->depth > 0) {
        if (!j->first[j->depth])
            fputc(',', j->f);
        indent(j);
    }
    j->first[j->depth] = 0;
}

static void open_level(json_t *j, int c)
{
    before_value(j);
    fputc(c, j->f);
    if (j->depth + 1 < JSON_MAX_DEPTH)
        j->depth++;
    j->first[j->depth] = 1;
}

static void close_level(json_t *j, int c)
{
    int empty = j->first[j->depth];
    if (j->depth > 0)
        j->depth--;
    if (!empty)
        indent(j);
    fputc(c, j->f);
}

void json_obj_begin(json_t *j) { open_level(j, '{'); }
void json_obj_end(json_t *j) { close_level(j, '}'); }
void json_arr_begin(json_t *j) { open_level(j, '['); }
void json_arr_end(json_t *j) { close_level(j, ']'); }

static void put_string(FILE *f, const char *s, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (c < 0x20 || c == 0x7f)
                fprintf(f, "\\u%04x", c);
            else
                fputc(c, f);
        }
    }
    fputc('"', f);
}

void json_key(json_t *j, const char *name)
{
    before_value(j);
    put_string(j->f, name, strlen(name));
    fputs(j->pretty ? ": " : ":", j->f);
    j->after_key = 1;
}

void json_strn(json_t *j, const char *s, size_t n)
{
    before_value(j);
    put_string(j->f, s, n);
}

void json_str(json_t *j, const char *s) { json_strn(j, s, strlen(s)); }

void json_u64(json_t *j, uint64_t v)
{
    before_value(j);
    fprintf(j->f, "%llu", (unsigned long long)v);
}

void json_i64(json_t *j, int64_t v)
{
    before_value(j);
    fprintf(j->f, "%lld", (long long)v);
}

void json_double(json_t *j, double v)
{
    before_value(j);
    if (!isfinite(v))
        v = 0.0;
    fprintf(j->f, "%.6g", v);
}

void json_bool(json_t *j, int v)
{
    before_value(j);
    fputs(v ? "true" : "false", j->f);
}

void json_null(json_t *j)
{
    before_value(j);
    fputs("null", j->f);
}

void json_finish(json_t *j)
{
    fputc('\n', j->f);
    fflush(j->f);
}

void json_kv_str(json_t *j, const char *k, const char *v) { json_key(j, k); json_str(j, v); }
void json_kv_u64(json_t *j, const char *k, uint64_t v) { json_key(j, k); json_u64(j, v); }
void json_kv_i64(json_t *j, const char *k, int64_t v) { json_key(j, k); json_i64(j, v); }
void json_kv_double(json_t *j, const char *k, double v) { json_key(j, k); json_double(j, v); }
void json_kv_bool(json_t *j, const char *k, int v) { json_key(j, k); json_bool(j, v); }

static void put_base64(FILE *f, const unsigned char *p, size_t n)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    fputc('"', f);
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        fputc(tab[v >> 18 & 63], f);
        fputc(tab[v >> 12 & 63], f);
        fputc(tab[v >> 6 & 63], f);
        fputc(tab[v & 63], f);
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        fputc(tab[v >> 18 & 63], f);
        fputc(tab[v >> 12 & 63], f);
        fputs("==", f);
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        fputc(tab[v >> 18 & 63], f);
        fputc(tab[v >> 12 & 63], f);
        fputc(tab[v >> 6 & 63], f);
        fputc('=', f);
    }
    fputc('"', f);
}

void json_kv_bytes(json_t *j, const char *name, const void *p, size_t n)
{
    if (bytes_is_text(p, n)) {
        json_key(j, name);
        json_strn(j, (const char *)p, n);
    } else {
        char k[64];
        snprintf(k, sizeof k, "%s_b64", name);
        json_key(j, k);
        before_value(j);
        put_base64(j->f, (const unsigned char *)p, n);
    }
}

/* Length of the valid UTF-8 sequence of a printable code point at p (at
 * most n bytes), or 0 when the byte at p does not start one. */
static size_t printable_seq(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    uint32_t cp;
    size_t len;
    if (c < 0x80)
        return (c >= 0x20 && c != 0x7f) ? 1 : 0;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1fu;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0fu;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07u;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3fu);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;               /* overlong, out of range, surrogate */
    if (cp >= 0x80 && cp <= 0x9f)
        return 0;               /* C1 controls */
    return len;
}

int bytes_is_text(const void *p, size_t n)
{
    const unsigned char *b = p;
    size_t i = 0;
    while (i < n) {
        size_t l = printable_seq(b + i, n - i);
        if (l == 0)
            return 0;
        i += l;
    }
    return 1;
}

void text_escape(FILE *f, const void *p, size_t n)
{
    const unsigned char *b = p;
    size_t i = 0;
    while (i < n) {
        size_t l = printable_seq(b + i, n - i);
        if (l == 0) {
            fprintf(f, "\\x%02x", b[i]);
            i++;
        } else if (b[i] == '\\') {
            fputs("\\\\", f);
            i++;
        } else {
            fwrite(b + i, 1, l, f);
            i += l;
        }
    }
}

char *text_escape_str(const void *p, size_t n)
{
    char *s = NULL;
    size_t sz = 0;
    FILE *f = open_memstream(&s, &sz);
    if (f == NULL)
        return NULL;
    text_escape(f, p, n);
    if (fclose(f) != 0) {
        free(s);
        return NULL;
    }
    return s;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int text_unescape(const char *s, unsigned char **out, size_t *len)
{
    size_t n = strlen(s), o = 0;
    unsigned char *b = malloc(n + 1);
    if (b == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\') {
            b[o++] = (unsigned char)s[i];
        } else if (s[i + 1] == '\\') {
            b[o++] = '\\';
            i++;
        } else if (s[i + 1] == 'x' && hexval(s[i + 2]) >= 0 &&
                   hexval(s[i + 3]) >= 0) {
            b[o++] = (unsigned char)(hexval(s[i + 2]) << 4 | hexval(s[i + 3]));
            i += 3;
        } else {
            free(b);
            return -1;
        }
    }
    *out = b;
    *len = o;
    return 0;
}
