/*
 * json.h - a small streaming JSON writer for --json output, and the rules
 * for showing arbitrary bytes (keys, values) in text and in JSON.
 *
 * Bytes in JSON: a field NAME holds a JSON string when the bytes are valid
 * UTF-8 with no control character (U+0000-U+001F, U+007F-U+009F); otherwise
 * the field is called NAME_b64 and holds standard base64 (RFC 4648, with
 * padding). Exactly one of the two is present.
 *
 * Bytes in text: printable UTF-8 as is, a backslash as "\\", every other
 * byte as "\xNN" (two lower-case hex digits). The same form is accepted on
 * the command line with -e/--escaped (text_unescape).
 */
#ifndef SHMC_TOOL_JSON_H
#define SHMC_TOOL_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 16

typedef struct json {
    FILE *f;
    int pretty;
    int depth;
    int first[JSON_MAX_DEPTH];
    int after_key;
} json_t;

void json_init(json_t *j, FILE *f, int pretty);
void json_obj_begin(json_t *j);
void json_obj_end(json_t *j);
void json_arr_begin(json_t *j);
void json_arr_end(json_t *j);
void json_key(json_t *j, const char *name);
void json_str(json_t *j, const char *s);
void json_strn(json_t *j, const char *s, size_t n);
void json_u64(json_t *j, uint64_t v);
void json_i64(json_t *j, int64_t v);
void json_double(json_t *j, double v);
void json_bool(json_t *j, int v);
void json_null(json_t *j);
/* Ends the document with a newline. */
void json_finish(json_t *j);

/* Shortcuts: key then value. */
void json_kv_str(json_t *j, const char *k, const char *v);
void json_kv_u64(json_t *j, const char *k, uint64_t v);
void json_kv_i64(json_t *j, const char *k, int64_t v);
void json_kv_double(json_t *j, const char *k, double v);
void json_kv_bool(json_t *j, const char *k, int v);
/* "name": "..." or "name_b64": "..." by the rule above. */
void json_kv_bytes(json_t *j, const char *name, const void *p, size_t n);

/* Whether the bytes are valid UTF-8 without control characters. */
int bytes_is_text(const void *p, size_t n);

/* Write bytes in the text form described above. */
void text_escape(FILE *f, const void *p, size_t n);

/* The text form in a new NUL-terminated string (malloc), or NULL. */
char *text_escape_str(const void *p, size_t n);

/* Decode the text form ("\xNN", "\\"; other bytes as they are) into a new
 * buffer (malloc). 0, or -1 on a malformed escape or no memory. */
int text_unescape(const char *s, unsigned char **out, size_t *len);

#endif
