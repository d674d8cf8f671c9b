/*
 * cmd_dump.c - dump and restore: every live entry to a binary-safe stream
 * and back, for a warm restart after re-creating a segment with a new
 * geometry.
 *
 * The SHMCDUMP format, version 1 (also in shmcache-tool.1):
 *
 *   "SHMCDUMP 1\n"                         11 bytes, the magic and version
 *   per entry, a 20-byte record header, all little-endian:
 *     u32 klen    key length, 1..65535
 *     u32 vlen    value length, 0..2^30
 *     u32 flags   the entry's user flags
 *     i64 ttl_ms  ms left when dumped; -1 = never expires
 *   then klen key bytes and vlen value bytes;
 *   an end record: klen = 0, vlen = 0, flags = 0, ttl_ms = number of
 *   entries written. A stream without it is truncated and restore says so.
 *
 * dump walks the keys first (shmc_iterate), then reads each value with
 * shmc_get: an entry deleted or expired in between is skipped, a value
 * replaced in between is dumped as it is at the shmc_get.
 */
#include "tool.h"
#include "json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DUMP_MAGIC "SHMCDUMP 1\n"
#define DUMP_MAGIC_LEN 11
#define REC_LEN 20

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* ---- dump -------------------------------------------------------------- */

typedef struct keylist {
    unsigned char **key;
    size_t *klen;
    size_t n, cap;
    int oom;
} keylist_t;

static int collect_key(const shmc_entry_t *e, void *arg)
{
    keylist_t *kl = arg;
    if (kl->n == kl->cap) {
        size_t nc = kl->cap ? kl->cap * 2 : 256;
        unsigned char **nk = realloc(kl->key, nc * sizeof *nk);
        if (nk == NULL) {
            kl->oom = 1;
            return 1;
        }
        kl->key = nk;
        size_t *nl = realloc(kl->klen, nc * sizeof *nl);
        if (nl == NULL) {
            kl->oom = 1;
            return 1;
        }
        kl->klen = nl;
        kl->cap = nc;
    }
    unsigned char *k = malloc(e->klen);
    if (k == NULL) {
        kl->oom = 1;
        return 1;
    }
    memcpy(k, e->key, e->klen);
    kl->key[kl->n] = k;
    kl->klen[kl->n] = e->klen;
    kl->n++;
    return 0;
}

/* shmc_get into *buf (grown as needed). 0, or a negative error. Bounded
 * retries: the value may grow between calls, a read-only handle may meet a
 * writer (-EBUSY). */
static int get_value(shmc_t *c, const unsigned char *key, size_t klen,
                     unsigned char **buf, size_t *cap, size_t *vlen,
                     shmc_item_info_t *ii)
{
    int rc = -EBUSY;
    for (int attempt = 0; attempt < 8; attempt++) {
        rc = shmc_get(c, key, klen, *buf, *cap, vlen, ii);
        if (rc == -ENOBUFS) {
            unsigned char *nb = realloc(*buf, *vlen);
            if (nb == NULL)
                return -ENOMEM;
            *buf = nb;
            *cap = *vlen;
            continue;
        }
        if (rc == -EBUSY) {
            struct timespec ts = { 0, 1000000L };
            nanosleep(&ts, NULL);
            continue;
        }
        break;
    }
    return rc;
}

int cmd_dump(tool_args_t *a)
{
    const char *name = a->pos[0];
    shmc_t *c;
    keylist_t kl = { NULL, NULL, 0, 0, 0 };
    size_t cap = 64 * 1024, vlen;
    unsigned char *buf = NULL, rec[REC_LEN];
    uint64_t written = 0;
    int rc, code = EXIT_OK;

    if (isatty(STDOUT_FILENO)) {
        tool_err("dump: refusing to write binary data to a terminal "
                 "(redirect standard output to a file)");
        return EXIT_USAGE;
    }
    rc = tool_open_ro(a, name, &c);
    if (rc != EXIT_OK)
        return rc;
    rc = shmc_iterate(c, collect_key, &kl);
    if (kl.oom) {
        tool_err("dump: out of memory");
        code = EXIT_FAIL;
        goto out;
    }
    if (rc < 0) {
        tool_err("dump: cannot walk %s: %s", name, shmc_strerror(rc));
        code = EXIT_FAIL;
        goto out;
    }
    buf = malloc(cap);
    if (buf == NULL || fwrite(DUMP_MAGIC, 1, DUMP_MAGIC_LEN, stdout) != DUMP_MAGIC_LEN) {
        code = EXIT_FAIL;
        goto out;
    }
    for (size_t i = 0; i < kl.n; i++) {
        shmc_item_info_t ii;
        rc = get_value(c, kl.key[i], kl.klen[i], &buf, &cap, &vlen, &ii);
        if (rc == -ENOENT)
            continue;           /* deleted or expired since the walk */
        if (rc < 0) {
            tool_op_err("dump: get", kl.key[i], kl.klen[i], rc);
            code = EXIT_FAIL;
            goto out;
        }
        put32(rec, (uint32_t)kl.klen[i]);
        put32(rec + 4, (uint32_t)vlen);
        put32(rec + 8, ii.flags);
        put64(rec + 12, (uint64_t)(ii.ttl_ms < 0 ? -1 : ii.ttl_ms));
        if (fwrite(rec, 1, REC_LEN, stdout) != REC_LEN ||
            fwrite(kl.key[i], 1, kl.klen[i], stdout) != kl.klen[i] ||
            fwrite(buf, 1, vlen, stdout) != vlen) {
            code = EXIT_FAIL;
            goto out;
        }
        written++;
    }
    memset(rec, 0, sizeof rec);
    put64(rec + 12, written);
    if (fwrite(rec, 1, REC_LEN, stdout) != REC_LEN)
        code = EXIT_FAIL;
out:
    if (fflush(stdout) != 0 || ferror(stdout)) {
        tool_err("dump: write error on standard output: %s", strerror(errno));
        code = EXIT_FAIL;
    }
    shmc_close(c);
    for (size_t i = 0; i < kl.n; i++)
        free(kl.key[i]);
    free(kl.key);
    free(kl.klen);
    free(buf);
    return code;
}

/* ---- restore ----------------------------------------------------------- */

typedef struct restore_counts {
    uint64_t restored, expired, kept, failed;
} restore_counts_t;

/* Read exactly n bytes. 1 done, 0 clean EOF before any byte, -1 short. */
static int read_exact(FILE *f, void *p, size_t n)
{
    size_t got = fread(p, 1, n, f);
    if (got == n)
        return 1;
    return got == 0 && feof(f) ? 0 : -1;
}

int cmd_restore(tool_args_t *a)
{
    const char *name = a->pos[0];
    restore_counts_t n = { 0, 0, 0, 0 };
    unsigned char magic[DUMP_MAGIC_LEN], rec[REC_LEN];
    unsigned char *key = NULL, *val = NULL;
    size_t vcap = 0;
    shmc_t *c;
    int code = EXIT_OK, ended = 0;

    if (isatty(STDIN_FILENO)) {
        tool_err("restore: standard input is a terminal (redirect a dump "
                 "file to it)");
        return EXIT_USAGE;
    }
    if (read_exact(stdin, magic, sizeof magic) != 1 ||
        memcmp(magic, DUMP_MAGIC, DUMP_MAGIC_LEN) != 0) {
        tool_err("restore: standard input is not a shmcache dump (no "
                 "'SHMCDUMP 1' header)");
        return EXIT_FAIL;
    }
    int rc = tool_open(a, name, 0, &c);
    if (rc != EXIT_OK)
        return rc;
    key = malloc(SHMC_KEY_MAX);
    if (key == NULL) {
        code = EXIT_FAIL;
        goto out;
    }
    /* Bounded by the input: every pass consumes one record. */
    for (;;) {
        int r = read_exact(stdin, rec, REC_LEN);
        if (r != 1)
            break;
        uint32_t klen = get32(rec), vlen = get32(rec + 4), flags = get32(rec + 8);
        int64_t ttl = (int64_t)get64(rec + 12);
        if (klen == 0) {
            if (vlen != 0 || flags != 0 || (uint64_t)ttl != n.restored + n.expired +
                n.kept + n.failed) {
                tool_err("restore: corrupt end record");
                code = EXIT_FAIL;
                goto out;
            }
            ended = 1;
            break;
        }
        if (klen > SHMC_KEY_MAX || vlen > SHMC_VALUE_MAX || ttl < -1) {
            tool_err("restore: corrupt record after %llu entries",
                     (unsigned long long)(n.restored + n.expired + n.kept + n.failed));
            code = EXIT_FAIL;
            goto out;
        }
        if (vlen > vcap) {
            unsigned char *nv = realloc(val, vlen);
            if (nv == NULL) {
                tool_err("restore: out of memory");
                code = EXIT_FAIL;
                goto out;
            }
            val = nv;
            vcap = vlen;
        }
        if (read_exact(stdin, key, klen) != 1 ||
            (vlen > 0 && read_exact(stdin, val, vlen) != 1))
            break;              /* truncated: reported below */
        if (ttl == 0) {
            n.expired++;        /* had no time left when dumped */
            continue;
        }
        uint64_t ttl_ms = ttl < 0 ? 0 : (uint64_t)ttl;
        int err = a->no_overwrite
            ? shmc_add(c, key, klen, val, vlen, ttl_ms, flags)
            : shmc_set(c, key, klen, val, vlen, ttl_ms, flags);
        if (err == 0) {
            n.restored++;
        } else if (err == -EEXIST && a->no_overwrite) {
            n.kept++;
        } else {
            tool_op_err("restore", key, klen, err);
            n.failed++;
        }
    }
    if (!ended) {
        tool_err("restore: truncated dump (no end record after %llu entries)",
                 (unsigned long long)(n.restored + n.expired + n.kept + n.failed));
        code = EXIT_FAIL;
    } else if (fgetc(stdin) != EOF) {
        tool_err("restore: data after the end record");
        code = EXIT_FAIL;
    }
out:
    shmc_close(c);
    free(key);
    free(val);
    if (n.failed > 0)
        code = EXIT_FAIL;
    if (a->json) {
        json_t j;
        json_init(&j, stdout, 1);
        json_obj_begin(&j);
        json_kv_u64(&j, "restored", n.restored);
        json_kv_u64(&j, "expired", n.expired);
        json_kv_u64(&j, "kept", n.kept);
        json_kv_u64(&j, "failed", n.failed);
        json_kv_bool(&j, "complete", code == EXIT_OK);
        json_obj_end(&j);
        json_finish(&j);
    } else {
        printf("restored %llu entries (%llu expired, %llu kept, %llu failed)\n",
               (unsigned long long)n.restored, (unsigned long long)n.expired,
               (unsigned long long)n.kept, (unsigned long long)n.failed);
    }
    return code;
}
