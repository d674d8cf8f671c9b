/*
 * fuzz_segment.c - libFuzzer target: a corrupt segment must be refused at
 * attach, or every call on it must stay inside the mapping and return.
 *
 * Once per process a small segment is created and filled (plain, tagged,
 * expiring, invalidated and leased entries, counters, a clear), and its
 * image kept. Each input restores that image into the object and then
 * patches it: the input is a flags byte and a list of patches
 *
 *   | flags u8 | region u8 | offset u16 | len u8 | bytes[len] | region ...
 *
 * where region picks the header, stripes, process table, tag table, index,
 * item memory or the invalidation journal and the offset is taken modulo that region's size. With
 * flag 0x01 the header checksum is recomputed after patching, so the
 * geometry checks behind it are reached too. The patched segment is then
 * attached, and stats, info, procs, iterate, check, gets, get_stale, peek
 * and every kind of write run on it. Attach may refuse; nothing may crash,
 * read or write outside the mapping, or hang (stripe waits are bounded:
 * fuzz builds compile the library with -DSHMC_LOCK_TIMEOUT_MS=20).
 *
 * Out-of-bounds accesses past the mapping would otherwise land silently in
 * whatever memory follows it, so mmap/munmap are wrapped (-Wl,--wrap) to put
 * 1 MiB of PROT_NONE on each side of every segment mapping.
 *
 * The bytes of each stripe's pthread_mutex_t other than its lock word are
 * never patched: they are glibc's (mutex kind, robust-list links), and a
 * writer who corrupts them can make the lock misbehave in ways no check by
 * the library can detect (docs/SECURITY.md). The lock word is fuzzed: a
 * held lock must end in -EDEADLK, an owner-died one in recovery.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- guard pages around every MAP_SHARED mapping ------------------------ */

#define GUARD (1u << 20)
void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int __real_munmap(void *addr, size_t len);
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int __wrap_munmap(void *addr, size_t len);

static struct { uint8_t *p; size_t len; } g_guarded[16];

void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    if (addr || !(flags & MAP_SHARED) || fd < 0)
        return __real_mmap(addr, len, prot, flags, fd, off);
    size_t rlen = (len + 4095) & ~(size_t)4095;
    uint8_t *r = __real_mmap(NULL, rlen + 2 * GUARD, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (r == MAP_FAILED)
        return r;
    void *p = __real_mmap(r + GUARD, len, prot, flags | MAP_FIXED, fd, off);
    if (p == MAP_FAILED) {
        __real_munmap(r, rlen + 2 * GUARD);
        return p;
    }
    for (unsigned i = 0; i < 16; i++)
        if (!g_guarded[i].p) {
            g_guarded[i].p = p;
            g_guarded[i].len = rlen;
            break;
        }
    return p;
}

int __wrap_munmap(void *addr, size_t len)
{
    for (unsigned i = 0; i < 16; i++)
        if (g_guarded[i].p == addr) {
            g_guarded[i].p = NULL;
            return __real_munmap((uint8_t *)addr - GUARD, g_guarded[i].len + 2 * GUARD);
        }
    return __real_munmap(addr, len);
}

/* ---- the pristine image ------------------------------------------------- */

static char g_name[64];
static uint8_t *g_pristine, *g_map;
static size_t g_size;
#define NREGIONS 7 /* header, stripes, procs, tags, index, arena, journal */
static struct { uint64_t off, len; } g_region[NREGIONS];
static uint64_t g_stripes_off, g_nstripes, g_index_off, g_nslots, g_journal_off;

#define NKEYS 24

static void keyname(char *k, size_t cap, unsigned i) { snprintf(k, cap, "key:%02u", i); }

static void cleanup(void)
{
    shmc_unlink(g_name);
}

static void build_image(void)
{
    snprintf(g_name, sizeof(g_name), "/shmc-fuzz-seg-%d", (int)getpid());
    shmc_unlink(g_name);
    shmc_config_t cfg;
    shmc_config_init(&cfg);
    cfg.capacity = 64;
    cfg.memory = 16384;
    cfg.max_key_len = 32;
    cfg.max_value_len = 256;
    cfg.journal_bytes = SHMC_JOURNAL_MIN; /* the journal is fuzzed too */
    shmc_t *c;
    if (shmc_open(g_name, SHMC_CREATE | SHMC_EXCL, &cfg, &c)) {
        fprintf(stderr, "fuzz_segment: cannot create %s\n", g_name);
        abort();
    }
    atexit(cleanup);
    char key[32], val[200];
    const char *tags[2] = {"tag:a", "tag:b"};
    for (unsigned i = 0; i < NKEYS; i++) {
        keyname(key, sizeof(key), i);
        size_t vlen = (size_t)snprintf(val, sizeof(val), "value-%u-%0*u", i, (int)(i * 7 % 150), i);
        if (i % 5 == 0)
            shmc_set_tagged(c, key, strlen(key), val, vlen, 0, i, tags, 1 + i % 2);
        else if (i % 7 == 0)
            shmc_set(c, key, strlen(key), val, vlen, 3600 * 1000, i);
        else
            shmc_set(c, key, strlen(key), val, vlen, 0, i);
    }
    uint64_t init = 41, res, lease;
    shmc_incr(c, "ctr", 3, 1, &init, 0, &res);
    shmc_incr(c, "ctr", 3, 1, NULL, 0, &res);
    keyname(key, sizeof(key), 3);
    shmc_invalidate(c, key, strlen(key));
    size_t vl;
    shmc_get_or_lease(c, "leased", 6, val, sizeof(val), &vl, NULL, 3600 * 1000, &lease);
    keyname(key, sizeof(key), 4);
    shmc_delete(c, key, strlen(key));
    shmc_invalidate_tag(c, "tag:b");
    shmc_info_t info;
    shmc_info(c, &info);
    g_size = info.segment_size;
    g_nstripes = info.stripes;
    shmc_close(c);

    char path[128];
    snprintf(path, sizeof(path), "/dev/shm%s", g_name);
    int fd = open(path, O_RDWR);
    if (fd < 0)
        abort();
    g_map = __real_mmap(NULL, g_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (g_map == MAP_FAILED)
        abort();
    g_pristine = malloc(g_size);
    memcpy(g_pristine, g_map, g_size);
    const struct shm_header *h = (const struct shm_header *)(const void *)g_pristine;
    g_stripes_off = h->stripes_off;
    g_index_off = h->index_off;
    g_nslots = h->buckets * SHMC_SLOTS_PER_BUCKET;
    g_journal_off = h->journal_off;
    uint64_t offs[8] = {0, h->stripes_off, h->procs_off, h->tags_off, h->index_off, h->arena_off,
                        h->journal_off, g_size};
    for (int i = 0; i < NREGIONS; i++) {
        g_region[i].off = offs[i];
        g_region[i].len = offs[i + 1] - offs[i];
    }
    g_region[0].len = sizeof(struct shm_header); /* the rest of the page is unused */
}

/* SHMC_FUZZ_SKIP keeps known bugs from hiding new ones while they are
 * being fixed (docs/RELIABILITY.md): "log" leaves the stripes' item-log
 * words (head, tail, wrap_end of both logs) intact; "wrap" capped layout 1's 64-bit
 * slot offsets and is a no-op since layout 2. */
static int g_skip_log = -1, g_skip_wrap;

/* Whether byte off lies in a stripe mutex outside its lock word (or, with
 * SHMC_FUZZ_SKIP=log, in the item-log words). */
static int protected_byte(uint64_t off)
{
    /* the journal's mutex, as the stripes' (its lock word is fuzzed) */
    if (off >= g_journal_off + sizeof(int) && off < g_journal_off + sizeof(pthread_mutex_t))
        return 1;
    if (off < g_stripes_off || off >= g_stripes_off + g_nstripes * sizeof(struct shm_stripe))
        return 0;
    uint64_t in = (off - g_stripes_off) % sizeof(struct shm_stripe);
    if (g_skip_log && ((in >= offsetof(struct shm_stripe, head8) &&
                        in < offsetof(struct shm_stripe, tail8) + sizeof(uint32_t)) ||
                       (in >= offsetof(struct shm_stripe, wrap_end) &&
                        in < offsetof(struct shm_stripe, main_wrap_end) + sizeof(uint64_t))))
        return 1;
    return in >= sizeof(int) && in < sizeof(pthread_mutex_t);
}

static uint64_t header_check(const uint8_t *h)
{
    uint8_t copy[SHMC_HEADER_CHECKED];
    memcpy(copy, h, sizeof(copy));
    memset(copy + offsetof(struct shm_header, ready), 0, sizeof(uint32_t));
    return shm_hash(copy, sizeof(copy), 0x48445243484b3031ull);
}

/* ---- the calls ---------------------------------------------------------- */

static uint64_t g_sink;

static int iter_fn(const shmc_entry_t *e, void *arg)
{
    (void)arg;
    const uint8_t *k = e->key;
    for (size_t i = 0; i < e->klen; i++)
        g_sink += k[i];
    g_sink += e->vlen + e->flags + e->cas;
    return 0;
}

static int proc_fn(const shmc_proc_info_t *p, void *arg)
{
    (void)arg;
    g_sink += p->pid + p->cmd_get;
    return 0;
}

static void problem_fn(const char *problem, void *arg)
{
    (void)arg;
    g_sink += strlen(problem);
}

static int journal_fn(const shmc_journal_rec_t *r, void *arg)
{
    (void)arg;
    const uint8_t *d = r->data;
    for (size_t i = 0; i < r->len; i++)
        g_sink += d[i];
    return 0;
}

static void exercise(shmc_t *c, uint8_t flags)
{
    shmc_stats_t st;
    shmc_info_t info;
    shmc_stats(c, &st);
    shmc_info(c, &info);
    shmc_procs(c, proc_fn, NULL);
    shmc_iterate_ex(c, SHMC_ITER_STALE, iter_fn, NULL);
    shmc_check(c, problem_fn, NULL);
    char key[32], buf[300];
    size_t vlen;
    shmc_item_info_t ii;
    for (unsigned i = 0; i < NKEYS; i++) {
        keyname(key, sizeof(key), i);
        shmc_get(c, key, strlen(key), buf, sizeof(buf), &vlen, &ii);
        shmc_get_stale(c, key, strlen(key), buf, sizeof(buf), &vlen, &ii);
    }
    shmc_peek(c, "ctr", 3, &vlen, &ii);
    shmc_journal_info_t ji;
    shmc_relay_status_t rs;
    shmc_relay_status_get(c, &rs);
    if (shmc_journal_info(c, &ji) == 0) {
        shmc_journal_read(c, 1, 0, journal_fn, NULL);
        shmc_journal_read(c, ji.tail_seq, 0, journal_fn, NULL);
        shmc_journal_read(c, ji.tail_seq + 1, 3, journal_fn, NULL);
    }
    if (flags & 0x02)
        return; /* read-only pass */
    const char *tags[2] = {"tag:a", "tag:c"};
    uint64_t res, lease = 0, init = 7;
    keyname(key, sizeof(key), 1);
    shmc_set(c, key, strlen(key), "new value", 9, 0, 1);
    keyname(key, sizeof(key), 2);
    shmc_delete(c, key, strlen(key));
    keyname(key, sizeof(key), 6);
    shmc_set_tagged(c, key, strlen(key), "tagged", 6, 1000, 0, tags, 2);
    shmc_add(c, "fresh", 5, "v", 1, 0, 0);
    shmc_replace(c, "fresh", 5, "w", 1, 0, 0);
    shmc_cas(c, "fresh", 5, "x", 1, 0, 0, ii.cas);
    shmc_incr(c, "ctr", 3, 5, &init, 0, &res);
    shmc_touch(c, "ctr", 3, 5000);
    keyname(key, sizeof(key), 8);
    shmc_invalidate(c, key, strlen(key));
    if (shmc_get_or_lease(c, "leased", 6, buf, sizeof(buf), &vlen, &ii, 1000, &lease) == -ENOENT &&
        lease)
        shmc_set_leased(c, "leased", 6, "computed", 8, 0, 0, lease);
    shmc_invalidate_tag(c, "tag:a");
    for (unsigned i = 0; i < 8; i++) {
        /* enough to make room by eviction in some stripe */
        char big[250];
        memset(big, 'a' + (int)i, sizeof(big));
        snprintf(key, sizeof(key), "big:%u", i);
        shmc_set(c, key, strlen(key), big, sizeof(big), 0, 0);
    }
    shmc_flush_expired(c);
    if (flags & 0x04)
        shmc_clear(c);
    shmc_iterate(c, iter_fn, NULL);
    shmc_check(c, problem_fn, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_pristine) {
        const char *skip = getenv("SHMC_FUZZ_SKIP");
        g_skip_log = skip && strstr(skip, "log") != NULL;
        g_skip_wrap = skip && strstr(skip, "wrap") != NULL;
        build_image();
    }
    memcpy(g_map, g_pristine, g_size);
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    size_t i = 1;
    while (i + 4 <= size) {
        unsigned region = data[i] % NREGIONS;
        uint64_t off = ((uint64_t)data[i + 1] | (uint64_t)data[i + 2] << 8);
        size_t len = data[i + 3];
        i += 4;
        if (len > size - i)
            len = size - i;
        /* spread 16-bit offsets over large regions in 8-byte steps */
        if (g_region[region].len > 65536)
            off *= 8;
        off = g_region[region].off + off % g_region[region].len;
        for (size_t k = 0; k < len && off + k < g_size; k++)
            if (!protected_byte(off + k))
                g_map[off + k] = data[i + k];
        i += len;
    }
    /* SHMC_FUZZ_SKIP=wrap kept layout 1's 64-bit item offsets below 2^62;
     * layout 2's are 32-bit and stripe-relative, so nothing can wrap. */
    (void)g_skip_wrap;
    if (flags & 0x01) {
        uint64_t chk = header_check(g_map);
        memcpy(g_map + offsetof(struct shm_header, header_check), &chk, 8);
    }
    shmc_t *c;
    unsigned oflags = (flags & 0x08) ? SHMC_RDONLY : 0;
    if (shmc_open(g_name, oflags, NULL, &c) != 0)
        return 0;
    exercise(c, (uint8_t)(flags | ((oflags & SHMC_RDONLY) ? 0x02 : 0)));
    shmc_close(c);
    return 0;
}
