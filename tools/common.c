/*
 * common.c - helpers every command shares: error lines, opening a segment
 * with the tool's attach policy, confirmation of destructive commands,
 * binary-safe key arguments and whole-buffer I/O.
 */
#include "tool.h"
#include "json.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void tool_err(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fputs(TOOL_NAME ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int tool_usage_err(const tool_args_t *a, const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fputs(TOOL_NAME ": ", stderr);
    if (a != NULL && a->cmd != NULL)
        fprintf(stderr, "%s: ", a->cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (try '" TOOL_NAME " %s%s--help')\n",
            a != NULL && a->cmd != NULL ? a->cmd : "",
            a != NULL && a->cmd != NULL ? " " : "");
    return EXIT_USAGE;
}

/*
 * The tool's attach policy: it is an operator's tool, so it accepts a
 * segment of any permission bits the caller can open (the library's
 * default accepts at most 0600), and another user's segment only with
 * --any-owner. The header is still validated by the library.
 */
int tool_try_open(const tool_args_t *a, const char *name, unsigned flags,
                  shmc_t **out)
{
    shmc_config_t cfg;
    shmc_config_init(&cfg);
    cfg.mode = 0777;
    if (a->any_owner)
        flags |= SHMC_ANY_OWNER;
    /* One command touches a few pages: do not prefault the whole segment
     * (that is for long-lived workers). */
    flags |= SHMC_LAZY;
    return shmc_open(name, flags, &cfg, out);
}

int tool_open(const tool_args_t *a, const char *name, unsigned flags,
              shmc_t **out)
{
    int rc = tool_try_open(a, name, flags, out);
    if (rc < 0)
        return tool_open_err(name, rc);
    return EXIT_OK;
}

int tool_open_err(const char *name, int err)
{
    char *shown = text_escape_str(name, strlen(name));
    if (err == -EINVAL) {
        tool_err("bad segment name '%s' (1..%u printable characters, no '/' "
                 "but a leading one)", shown ? shown : name, SHMC_NAME_MAX);
        free(shown);
        return EXIT_USAGE;
    }
    /* The library's text for -ENOENT speaks of cache misses. */
    tool_err("cannot open %s: %s", shown ? shown : name,
             err == -ENOENT ? "no such segment" : shmc_strerror(err));
    free(shown);
    return EXIT_NOOPEN;
}

int tool_open_ro(const tool_args_t *a, const char *name, shmc_t **out)
{
    return tool_open(a, name, SHMC_RDONLY, out);
}

int tool_confirm(const tool_args_t *a, const char *action, const char *name)
{
    char line[64];
    if (a->yes)
        return EXIT_OK;
    if (!isatty(STDIN_FILENO)) {
        tool_err("%s %s: refusing without confirmation: standard input is "
                 "not a terminal (use --yes)", action, name);
        return EXIT_USAGE;
    }
    fprintf(stderr, "Type yes to %s %s: ", action, name);
    fflush(stderr);
    if (fgets(line, sizeof line, stdin) == NULL ||
        strcmp(line, "yes\n") != 0) {
        tool_err("%s %s: not confirmed, nothing done", action, name);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

int tool_key_arg(const tool_args_t *a, const char *arg, unsigned char **key,
                 size_t *klen)
{
    if (a->escaped) {
        if (text_unescape(arg, key, klen) != 0)
            return tool_usage_err(a, "malformed escape in '%s' (use \\xNN "
                                  "or \\\\)", arg);
    } else {
        *klen = strlen(arg);
        *key = (unsigned char *)strdup(arg);
        if (*key == NULL) {
            tool_err("out of memory");
            return EXIT_FAIL;
        }
    }
    if (*klen == 0) {
        free(*key);
        *key = NULL;
        return tool_usage_err(a, "empty key");
    }
    return EXIT_OK;
}

/*
 * A tag from the command line (taken byte for byte, or decoded with -e as
 * keys are) into a new NUL-terminated string. The library takes tags as C
 * strings of 1..SHMC_TAG_MAX_LEN bytes; anything else is a usage error here,
 * before the segment is opened.
 */
int tool_tag_arg(const tool_args_t *a, const char *arg, char **tag)
{
    unsigned char *t;
    size_t n;
    *tag = NULL;
    if (a->escaped) {
        if (text_unescape(arg, &t, &n) != 0)
            return tool_usage_err(a, "malformed escape in tag '%s' (use \\xNN "
                                  "or \\\\)", arg);
    } else {
        n = strlen(arg);
        t = (unsigned char *)strdup(arg);
        if (t == NULL) {
            tool_err("out of memory");
            return EXIT_FAIL;
        }
    }
    if (n == 0 || n > SHMC_TAG_MAX_LEN || memchr(t, '\0', n) != NULL) {
        char *shown = text_escape_str(t, n > 40 ? 40 : n);
        int rc;
        if (n == 0)
            rc = tool_usage_err(a, "bad tag: empty (a tag is 1..%u bytes)",
                                SHMC_TAG_MAX_LEN);
        else if (n > SHMC_TAG_MAX_LEN)
            rc = tool_usage_err(a, "bad tag '%s...': %zu bytes, at most %u",
                                shown ? shown : "", n, SHMC_TAG_MAX_LEN);
        else
            rc = tool_usage_err(a, "bad tag '%s': a tag cannot hold a NUL byte",
                                shown ? shown : "");
        free(shown);
        free(t);
        return rc;
    }
    t[n] = '\0';              /* both buffers have room for it */
    *tag = (char *)t;
    return EXIT_OK;
}

int tool_read_all(int fd, unsigned char **buf, size_t *len, size_t max)
{
    size_t cap = 4096, n = 0;
    unsigned char *b = malloc(cap);
    if (b == NULL)
        return -ENOMEM;
    for (;;) {
        if (n == cap) {
            if (cap > max) {
                free(b);
                return -E2BIG;
            }
            unsigned char *nb = realloc(b, cap * 2);
            if (nb == NULL) {
                free(b);
                return -ENOMEM;
            }
            b = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, b + n, cap - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            free(b);
            return -e;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (n > max) {
        free(b);
        return -E2BIG;
    }
    *buf = b;
    *len = n;
    return 0;
}

int tool_write_all(int fd, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int tool_op_err(const char *what, const void *key, size_t klen, int err)
{
    const char *why;
    switch (err) {
    case -EINVAL:
        why = strcmp(what, "incr") == 0
            ? "the value is not an unsigned decimal number"
            : shmc_strerror(err);
        break;
    case -ENOENT: why = "no such key"; break;
    case -EEXIST: why = "key exists"; break;
    case -ESTALE: why = "entry changed"; break;
    default: why = shmc_strerror(err); break;
    }
    fflush(stdout);
    fprintf(stderr, TOOL_NAME ": %s", what);
    if (key != NULL) {
        fputs(" ", stderr);
        text_escape(stderr, key, klen);
    }
    fprintf(stderr, ": %s\n", why);
    return EXIT_FAIL;
}

/* /dev/shm/<name> for a segment name given as "name" or "/name". */
int tool_shm_path(const tool_args_t *a, const char *name, char *buf, size_t cap)
{
    const char *n = name[0] == '/' ? name + 1 : name;
    if (*n == '\0' || strchr(n, '/') != NULL || strcmp(n, ".") == 0 ||
        strcmp(n, "..") == 0 || strlen(n) > SHMC_NAME_MAX)
        return tool_usage_err(a, "bad segment name '%s'", name);
    snprintf(buf, cap, "/dev/shm/%s", n);
    return EXIT_OK;
}

double tool_ratio(uint64_t num, uint64_t den)
{
    return den == 0 ? 0.0 : (double)num / (double)den;
}

/*
 * Copy the library's shmc_open_error() text into buf with shmc_config_t's
 * field names replaced by this tool's options, so that an error says what
 * to type ("raise --memory"), not what to set in C. The library words its
 * details "problem: fix"; only the fix (after the last ": ") names fields
 * as things to change, so only that part is rewritten.
 */
void tool_config_to_options(const char *in, char *buf, size_t cap)
{
    const char *fix = strrchr(in, ':');
    size_t head = fix && fix[1] == ' ' ? (size_t)(fix - in) : 0;
    if (cap == 0)
        return;
    if (head >= cap)
        head = cap - 1;
    memcpy(buf, in, head);
    buf[head] = '\0';
    size_t o = head;
    in += head;
    static const struct { const char *field, *opt; } map[] = {
        { "max_value_len", "--max-value" }, { "max_key_len", "--max-key" },
        { "capacity", "--capacity" }, { "memory", "--memory" },
        { "stripes", "--stripes" }, { "mode", "--mode" },
    };
    while (*in && o + 1 < cap) {
        int done = 0;
        /* Only whole words: "memory" in "item memory" is left alone when it
         * is not a field name on its own (preceded by a letter or '_'). */
        int word_start = o == 0 || !(isalnum((unsigned char)buf[o - 1]) || buf[o - 1] == '_');
        for (size_t k = 0; word_start && k < sizeof map / sizeof map[0]; k++) {
            size_t n = strlen(map[k].field);
            if (strncmp(in, map[k].field, n) == 0 &&
                !(isalnum((unsigned char)in[n]) || in[n] == '_')) {
                size_t m = strlen(map[k].opt);
                if (o + m + 1 > cap)
                    break;
                memcpy(buf + o, map[k].opt, m);
                o += m;
                in += n;
                done = 1;
                break;
            }
        }
        if (!done)
            buf[o++] = *in++;
    }
    buf[o] = '\0';
}
