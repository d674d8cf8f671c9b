/*
 * segment.c - creating, attaching, validating and detaching a segment.
 *
 * Invariants:
 *  - A name only ever refers to a fully built segment. A creator builds the
 *    segment as an unnamed O_TMPFILE object (or, where that is missing,
 *    under a private flock-held name), reserves all its memory
 *    (posix_fallocate: a full /dev/shm fails here, not as SIGBUS later),
 *    writes READY last, and only then links it under the real name; link
 *    fails when the name exists, so racing creators end up sharing one
 *    segment. No creator can remove another's object: an unnamed one cannot
 *    be found, a named one is swept only when unlocked and old
 *    (sweep_orphans). A creator killed half-way leaves nothing (O_TMPFILE)
 *    or a private name that a later creator sweeps.
 *  - Attach treats the segment as untrusted input: owner, mode and size from
 *    fstat, then magic, layout version, layout fingerprint, header checksum,
 *    size and geometry are all checked before any other part is used, and
 *    the geometry is copied into the handle so later scribbles on the header
 *    cannot move the bounds every offset is checked against.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "journal.h" /* journal */

#define SHM_DIR "/dev/shm/"
#define TMP_PREFIX ".shmc-init-"
#define PATH_BYTES (sizeof(SHM_DIR) + SHMC_NAME_MAX + 1)

static _Atomic uint64_t g_handle_ids = 1;

void shmc_config_init(shmc_config_t *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof(*cfg));
    cfg->capacity = 65536;
    cfg->memory = 65536ull * 256;
    cfg->max_key_len = 250;
    cfg->max_value_len = 1u << 20;
    cfg->stripes = 0;
    cfg->mode = 0600;
}

int shm_validate_name(const char *name, char *path, size_t pathsz, char *canon, size_t canonsz)
{
    if (!name)
        return -EINVAL;
    if (name[0] == '/')
        name++;
    size_t n = strlen(name);
    if (n == 0 || n > SHMC_NAME_MAX)
        return -EINVAL;
    if (!strcmp(name, ".") || !strcmp(name, ".."))
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (ch <= 0x20 || ch >= 0x7f || ch == '/')
            return -EINVAL;
    }
    /* Our temporary names are not names users may open. */
    if (!strncmp(name, TMP_PREFIX, sizeof(TMP_PREFIX) - 1))
        return -EINVAL;
    if (path)
        snprintf(path, pathsz, SHM_DIR "%s", name);
    if (canon)
        snprintf(canon, canonsz, "/%s", name);
    return 0;
}

/* A fingerprint of everything that must agree between two builds sharing a
 * segment: layout version, lock size, cache line, struct sizes, byte order. */
uint64_t shm_fingerprint(void)
{
    const uint64_t parts[] = {
        SHMC_LAYOUT_VERSION, sizeof(pthread_mutex_t), _Alignof(pthread_mutex_t),
        SHMC_CACHELINE, sizeof(struct shm_header), sizeof(struct shm_stripe),
        sizeof(struct shm_proc), sizeof(struct shm_bucket), sizeof(struct shm_wline),
        sizeof(struct shm_item), SHMC_SLOTS_PER_BUCKET, SHMC_HASH_VERSION, SHMC_ARENA_VERSION, 0x0102030405060708ull,
        sizeof(struct shm_journal), sizeof(struct shm_jrec), /* journal */
    };
    return shm_hash(parts, sizeof(parts), 0x5348434d46505231ull);
}

/* Checksum of the fields written once at creation; `ready` is written
 * after the checksum, so it counts as zero. */
static uint64_t header_check(const struct shm_header *h)
{
    uint8_t copy[SHMC_HEADER_CHECKED];
    memcpy(copy, h, sizeof(copy));
    memset(copy + offsetof(struct shm_header, ready), 0, sizeof(uint32_t));
    return shm_hash(copy, sizeof(copy), 0x48445243484b3031ull);
}

struct geometry {
    uint64_t capacity, buckets, memory, stripe_bytes;
    uint32_t stripes, max_key, max_val, mode;
    uint64_t stripes_off, procs_off, tags_off, index_off, arena_off, size;
    uint64_t journal_bytes, journal_off; /* journal: 0 = none */
    uint32_t journal_flags;
};

static uint64_t next_pow2(uint64_t v)
{
    uint64_t p = 1;
    while (p < v)
        p <<= 1;
    return p;
}

static bool is_pow2(uint64_t v) { return v && !(v & (v - 1)); }

/* Buckets each stripe gets at creation, at least. A key's two buckets are
 * in its stripe, so a stripe is a table of its own: with two buckets per
 * stripe (the bound until 2026-11-27) a stripe that drew more keys than
 * its share filled both, and filling a 64-key segment evicted a key in 1
 * round of 400-600. With eight, the keys a stripe draws spread over eight
 * buckets as in a large table. Segments created with fewer (at least two)
 * still open. */
#define SHMC_BUCKETS_PER_STRIPE 8u

/* Buckets for a promised capacity: at least 1.8 slots per key (9-slot
 * buckets, at least capacity / 5 of them), a power of two, at least 2.
 * docs/FORMAT.md ("Placement") shows why that is enough. */
static uint64_t index_buckets(uint64_t capacity)
{
    uint64_t b = next_pow2((capacity + 4) / 5);
    return b < 2 ? 2 : b;
}

static void place(struct geometry *g)
{
    g->stripes_off = SHMC_HEADER_SIZE;
    g->procs_off = shm_align_up(g->stripes_off + (uint64_t)g->stripes * sizeof(struct shm_stripe), 4096);
    g->tags_off = shm_align_up(g->procs_off + (uint64_t)SHMC_PROC_SLOTS * sizeof(struct shm_proc), 4096);
    g->index_off = shm_align_up(g->tags_off + (uint64_t)SHMC_TAG_SLOTS * sizeof(a64), 4096);
    g->arena_off = shm_align_up(g->index_off + g->buckets * (sizeof(struct shm_bucket) + sizeof(struct shm_wline)),
                                4096);
    g->size = shm_align_up(g->arena_off + g->memory, 4096);
    /* journal: after every other region, so the others do not move */
    g->journal_off = g->journal_bytes ? g->size : 0;
    g->size += shm_align_up(shm_journal_region(g->journal_bytes), 4096);
}

/* A configuration that cannot be built: -EINVAL, with the constraint, the
 * numbers and the fix in shmc_open_error(). Fields are named as in
 * shmc_config_t (shmcache-tool maps them to its options). */
static int geometry_from_config(const shmc_config_t *cfg, struct geometry *g)
{
    shmc_config_t d;
    shmc_config_init(&d);
    if (!cfg)
        cfg = &d;
    char a[32], b[32];
    uint64_t cap = cfg->capacity ? cfg->capacity : d.capacity;
    if (cap > SHMC_CAPACITY_MAX) {
        shm_open_error("capacity %llu is over the limit of %llu entries: lower capacity",
                       (unsigned long long)cap, (unsigned long long)SHMC_CAPACITY_MAX);
        return -EINVAL;
    }
    g->capacity = cap;
    if (cfg->max_key_len == 0 || cfg->max_key_len > SHMC_KEY_MAX) {
        shm_open_error("max_key_len %u is outside 1..%u: set max_key_len within it",
                       cfg->max_key_len, SHMC_KEY_MAX);
        return -EINVAL;
    }
    if (cfg->max_value_len == 0 || cfg->max_value_len > SHMC_VALUE_MAX) {
        shm_open_error("max_value_len %u is outside 1..%u (1.00 GiB): set max_value_len within it",
                       cfg->max_value_len, SHMC_VALUE_MAX);
        return -EINVAL;
    }
    if (cfg->mode & ~0777u) {
        shm_open_error("mode 0%o has bits beyond the permission bits 0777: use e.g. 0600 or 0660",
                       cfg->mode);
        return -EINVAL;
    }
    g->max_key = cfg->max_key_len;
    g->max_val = cfg->max_value_len;
    g->mode = cfg->mode ? cfg->mode : 0600;
    g->buckets = index_buckets(cap);
    uint64_t memory = cfg->memory ? cfg->memory : cap * 256;
    if (memory > (1ull << 44)) {
        shm_open_error("memory %s is over the limit of 16.00 TiB: lower memory",
                       shm_fmt_size(memory, a, sizeof(a)));
        return -EINVAL;
    }
    uint64_t max_item = shm_item_size(g->max_key, g->max_val, SHMC_TAGS_MAX);
    uint32_t s;
    if (cfg->stripes) {
        s = cfg->stripes;
        if (!is_pow2(s) || s > SHMC_STRIPES_MAX) {
            shm_open_error("stripes %u must be a power of two of at most %u: choose such a "
                           "stripes, or 0 to let it choose", s, SHMC_STRIPES_MAX);
            return -EINVAL;
        }
        if (memory / s > SHMC_STRIPE_BYTES_MAX) {
            shm_open_error("memory %s over %u stripes gives stripes over 32 GiB (a slot "
                           "addresses 32 GiB of its stripe): raise stripes, or 0 to let it choose",
                           shm_fmt_size(memory, a, sizeof(a)), s);
            return -EINVAL;
        }
        if (g->buckets < SHMC_BUCKETS_PER_STRIPE * (uint64_t)s)
            g->buckets = SHMC_BUCKETS_PER_STRIPE * (uint64_t)s;
    } else {
        /* As many stripes as useful (up to 64) while each stripe's item
         * memory still holds two of the largest items. */
        s = 64;
        while (s > 1 && s > g->buckets / SHMC_BUCKETS_PER_STRIPE)
            s >>= 1;
        while (s > 1 && memory / s < 2 * max_item)
            s >>= 1;
        /* Past 32 GiB a stripe's slots cannot address it: more stripes. */
        while (memory / s > SHMC_STRIPE_BYTES_MAX && s < SHMC_STRIPES_MAX)
            s <<= 1;
        if (memory / s > SHMC_STRIPE_BYTES_MAX) {
            shm_open_error("memory %s needs stripes of over 32 GiB: lower memory",
                           shm_fmt_size(memory, a, sizeof(a)));
            return -EINVAL;
        }
        if (g->buckets < SHMC_BUCKETS_PER_STRIPE * (uint64_t)s)
            g->buckets = SHMC_BUCKETS_PER_STRIPE * (uint64_t)s;
    }
    g->stripes = s;
    g->stripe_bytes = (memory / s) & ~(uint64_t)(SHMC_CACHELINE - 1);
    if (g->stripe_bytes < max_item) {
        /* A stripe's memory must hold the largest item (key, value, tags
         * and header), or a set of a legal value could never succeed. */
        shm_open_error("max value %s does not fit a stripe of %s (%llu bytes of item memory "
                       "over %u stripe%s; the largest item takes %llu bytes): raise memory or "
                       "lower max_value_len%s",
                       shm_fmt_size(g->max_val, a, sizeof(a)),
                       shm_fmt_size(g->stripe_bytes, b, sizeof(b)), (unsigned long long)memory, s,
                       s == 1 ? "" : "s", (unsigned long long)max_item,
                       cfg->stripes > 1 ? " or stripes" : "");
        return -EINVAL;
    }
    g->memory = g->stripe_bytes * s;
    /* journal */
    if (cfg->journal_flags & ~SHMC_JOURNAL_WRITES || (cfg->journal_flags && !cfg->journal_bytes))
        return -EINVAL;
    g->journal_bytes = cfg->journal_bytes ? shm_journal_size(cfg->journal_bytes, g->max_key) : 0;
    if (cfg->journal_bytes && !g->journal_bytes)
        return -EINVAL;
    g->journal_flags = cfg->journal_flags;
    place(g);
    return 0;
}

static int geometry_from_header(const struct shm_header *h, uint64_t st_size, struct geometry *g)
{
    if (h->slots_per_bucket != SHMC_SLOTS_PER_BUCKET || h->proc_slots != SHMC_PROC_SLOTS ||
        h->tag_slots != SHMC_TAG_SLOTS)
        return -EBADMSG;
    if (!is_pow2(h->stripes) || h->stripes > SHMC_STRIPES_MAX)
        return -EBADMSG;
    if (h->capacity == 0 || h->capacity > SHMC_CAPACITY_MAX)
        return -EBADMSG;
    if (!is_pow2(h->buckets) || h->buckets < 2 * (uint64_t)h->stripes ||
        h->buckets < index_buckets(h->capacity) || h->buckets > index_buckets(SHMC_CAPACITY_MAX))
        return -EBADMSG;
    if (h->max_key_len == 0 || h->max_key_len > SHMC_KEY_MAX || h->max_value_len == 0 ||
        h->max_value_len > SHMC_VALUE_MAX)
        return -EBADMSG;
    if (h->stripe_bytes % SHMC_CACHELINE || h->stripe_bytes > SHMC_STRIPE_BYTES_MAX ||
        h->memory != h->stripe_bytes * h->stripes)
        return -EBADMSG;
    if (h->stripe_bytes < shm_item_size(h->max_key_len, h->max_value_len, SHMC_TAGS_MAX))
        return -EBADMSG;
    g->capacity = h->capacity;
    g->buckets = h->buckets;
    g->stripes = h->stripes;
    g->memory = h->memory;
    g->stripe_bytes = h->stripe_bytes;
    g->max_key = h->max_key_len;
    g->max_val = h->max_value_len;
    g->mode = h->mode;
    /* journal: its size must be one creation could have chosen */
    if ((h->journal_flags & ~SHMC_JOURNAL_WRITES) ||
        (h->journal_bytes && shm_journal_size(h->journal_bytes, h->max_key_len) != h->journal_bytes))
        return -EBADMSG;
    g->journal_bytes = h->journal_bytes;
    g->journal_flags = h->journal_flags;
    place(g);
    /* Offsets are recomputed, never taken on trust. */
    if (g->stripes_off != h->stripes_off || g->procs_off != h->procs_off || g->tags_off != h->tags_off ||
        g->index_off != h->index_off || g->arena_off != h->arena_off ||
        g->journal_off != h->journal_off ||
        g->size != h->segment_size || g->size != st_size)
        return -EBADMSG;
    return 0;
}

static int validate_header(const struct shm_header *h, uint64_t st_size, struct geometry *g)
{
    if (st_size < SHMC_HEADER_SIZE)
        return -EBADMSG;
    if (memcmp(h->magic, SHMC_MAGIC, 8) != 0)
        return -EBADMSG;
    if (h->layout_version != SHMC_LAYOUT_VERSION || h->header_size != SHMC_HEADER_SIZE)
        return -EPROTO;
    if (h->fingerprint != shm_fingerprint())
        return -EPROTO;
    if (header_check(h) != h->header_check)
        return -EBADMSG;
    /* Acquire: everything the creator wrote before READY is visible. */
    if (atomic_load_explicit(&((struct shm_header *)h)->ready, memory_order_acquire) != SHMC_READY)
        return -EBADMSG;
    return geometry_from_header(h, st_size, g);
}

static void handle_from_geometry(shmc_t *c, const struct geometry *g)
{
    c->hdr = (struct shm_header *)(void *)c->base;
    c->stripes = (struct shm_stripe *)(void *)(c->base + g->stripes_off);
    c->procs = (struct shm_proc *)(void *)(c->base + g->procs_off);
    c->tags = (a64 *)(void *)(c->base + g->tags_off);
    c->buckets = (struct shm_bucket *)(void *)(c->base + g->index_off);
    c->wlines = (struct shm_wline *)(void *)(c->base + g->index_off + g->buckets * sizeof(struct shm_bucket));
    c->nbuckets = g->buckets;
    c->bucket_mask = g->buckets - 1;
    c->nslots = g->buckets * SHMC_SLOTS_PER_BUCKET;
    c->capacity = g->capacity;
    c->nstripes = g->stripes;
    c->stripe_mask = g->stripes - 1;
    c->arena_off = g->arena_off;
    c->stripe_bytes = g->stripe_bytes;
    c->probation_bytes = shm_probation_bytes(g->stripe_bytes, shm_item_size(g->max_key, g->max_val, SHMC_TAGS_MAX));
    c->memory = g->memory;
    c->max_key = g->max_key;
    c->max_val = g->max_val;
    c->proc_slots = SHMC_PROC_SLOTS;
    c->size = g->size;
    /* journal */
    c->journal = g->journal_off ? (struct shm_journal *)(void *)(c->base + g->journal_off) : NULL;
    c->journal_bytes = g->journal_bytes;
    c->journal_flags = g->journal_flags;
}

static uint64_t random_seed(void)
{
    uint64_t v = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
            v = 0;
        close(fd);
    }
    return v ^ shm_now_ms() ^ ((uint64_t)getpid() << 32);
}

/* Segments at least this big ask for huge pages: the index and item memory
 * of a big cache are touched at random, and 4 KiB pages then cost a TLB
 * miss on most gets. */
#define HUGE_MIN_BYTES (8ull << 20)

/* Map the whole object. Large mappings are advised MADV_HUGEPAGE before any
 * page is touched. Where /dev/shm is mounted huge=within_size (or
 * huge=always) tmpfs already gave the object huge pages at fallocate, and
 * the mapping uses them; the advice also asks for them where a kernel
 * decides at fault time. It is harmless elsewhere (huge=advise alone does
 * not help: posix_fallocate has allocated small pages by then). Then every page is faulted in now, so that a worker's first
 * touch of an index or item page does not cost a page fault inside a get:
 * MAP_POPULATE when no advice is needed, else MADV_POPULATE_(READ|WRITE)
 * after it (Linux >= 5.14; on older kernels pages fault in lazily). */
static uint8_t *map_segment(int fd, uint64_t size, bool ro, bool populate)
{
    int prot = ro ? PROT_READ : PROT_READ | PROT_WRITE;
    bool huge = size >= HUGE_MIN_BYTES;
    uint8_t *base = mmap(NULL, size, prot, MAP_SHARED | (populate && !huge ? MAP_POPULATE : 0), fd, 0);
    if (base == MAP_FAILED || !huge)
        return base;
    (void)madvise(base, size, MADV_HUGEPAGE);
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif
    if (populate)
        (void)madvise(base, size, ro ? MADV_POPULATE_READ : MADV_POPULATE_WRITE);
    return base;
}

uint32_t shm_mapping_hugepages(const shmc_t *c)
{
    FILE *f = fopen("/proc/self/smaps", "re");
    if (!f)
        return 0;
    char line[256];
    bool inside = false;
    unsigned long long kb = 0;
    uintptr_t lo = (uintptr_t)c->base;
    while (fgets(line, sizeof(line), f)) {
        unsigned long long a, b;
        if (sscanf(line, "%llx-%llx ", &a, &b) == 2) {
            inside = a >= lo && a < lo + c->size;
            continue;
        }
        unsigned long long v;
        if (inside && (sscanf(line, "ShmemPmdMapped: %llu kB", &v) == 1 ||
                       sscanf(line, "FilePmdMapped: %llu kB", &v) == 1))
            kb += v;
    }
    fclose(f);
    return kb > 0;
}

/* Build a segment in the fd (already sized and mapped at base). */
static int build(uint8_t *base, const struct geometry *g)
{
    struct shm_header *h = (struct shm_header *)(void *)base;
    memcpy(h->magic, SHMC_MAGIC, 8);
    h->layout_version = SHMC_LAYOUT_VERSION;
    h->header_size = SHMC_HEADER_SIZE;
    h->fingerprint = shm_fingerprint();
    h->segment_size = g->size;
    h->mode = g->mode;
    h->owner_uid = (uint32_t)geteuid();
    h->stripes = g->stripes;
    h->buckets = g->buckets;
    h->capacity = g->capacity;
    h->memory = g->memory;
    h->stripe_bytes = g->stripe_bytes;
    h->max_key_len = g->max_key;
    h->max_value_len = g->max_val;
    h->proc_slots = SHMC_PROC_SLOTS;
    h->slots_per_bucket = SHMC_SLOTS_PER_BUCKET;
    h->stripes_off = g->stripes_off;
    h->procs_off = g->procs_off;
    h->tags_off = g->tags_off;
    h->tag_slots = SHMC_TAG_SLOTS;
    h->index_off = g->index_off;
    h->arena_off = g->arena_off;
    h->journal_off = g->journal_off; /* journal */
    h->journal_bytes = g->journal_bytes;
    h->journal_flags = g->journal_flags;
    h->hash_seed = random_seed();
    h->created_unix_ms = shm_wall_ms();
    h->created_mono_ms = shm_now_ms();
    h->header_check = header_check(h);
    /* fallocate gave zeroed pages: every slot empty, every row free, every
     * log empty. Only the locks need initialising. */
    struct shm_stripe *st = (struct shm_stripe *)(void *)(base + g->stripes_off);
    for (uint32_t i = 0; i < g->stripes; i++) {
        int r = shm_lock_init(&st[i].lock);
        if (r)
            return r;
        ST(&st[i].cas_next, 1);
    }
    /* Counters start at 1: 0 is "no lease" and never a CAS value. */
    struct shm_proc *rows = (struct shm_proc *)(void *)(base + g->procs_off);
    for (uint32_t i = 0; i < SHMC_PROC_SLOTS; i++)
        ST(&rows[i].cas_next, 1);
    if (g->journal_off) { /* journal */
        struct shm_journal *j = (struct shm_journal *)(void *)(base + g->journal_off);
        int r = shm_lock_init(&j->lock);
        if (r || (r = shm_journal_build(j)))
            return r;
    }
    /* Release: publishes everything above to any process that sees READY. */
    atomic_store_explicit(&h->ready, SHMC_READY, memory_order_release);
    return 0;
}

/* Remove temporary objects of creators that died while building (only the
 * named fallback below leaves any). An object qualifies only when nobody
 * holds its flock AND it was last changed more than SHMC_ORPHAN_AGE_S
 * ago: a live creator takes its flock right after creating the file, so
 * the only window in which a live creator's file is unlocked is the few
 * instructions between open and flock - far shorter than the age bound.
 * (Sweeping on the flock alone removed files in exactly that window: the
 * creator's link() then failed with ENOENT.) */
#define SHMC_ORPHAN_AGE_S 60
static void sweep_orphans(void)
{
    DIR *d = opendir(SHM_DIR);
    if (!d)
        return;
    struct dirent *e;
    char path[PATH_BYTES + 64];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, TMP_PREFIX, sizeof(TMP_PREFIX) - 1))
            continue;
        snprintf(path, sizeof(path), SHM_DIR "%s", e->d_name);
        int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            continue;
        struct stat sb;
        if (fstat(fd, &sb) == 0 && sb.st_uid == geteuid() &&
            now.tv_sec - sb.st_mtim.tv_sec > SHMC_ORPHAN_AGE_S &&
            now.tv_sec - sb.st_ctim.tv_sec > SHMC_ORPHAN_AGE_S &&
            flock(fd, LOCK_EX | LOCK_NB) == 0)
            unlink(path);
        close(fd);
    }
    closedir(d);
}

/* Give the built object its name. 0, -EEXIST when the name appeared
 * meanwhile, or another -errno. */
static int publish(int fd, const char *tmp, const char *path)
{
    if (tmp[0]) {
        if (link(tmp, path) != 0)
            return -errno;
        unlink(tmp);
        return 0;
    }
    /* An O_TMPFILE object: /proc/self/fd needs no privilege; AT_EMPTY_PATH
     * (CAP_DAC_READ_SEARCH) serves where /proc is not mounted. */
    char self[64];
    snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
    if (linkat(AT_FDCWD, self, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0)
        return 0;
    int err = errno;
    if (err == EEXIST)
        return -EEXIST;
    if (linkat(fd, "", AT_FDCWD, path, AT_EMPTY_PATH) == 0)
        return 0;
    return errno == EEXIST ? -EEXIST : -err;
}

/*
 * Create the segment under no name or a private one; on success *fdp and
 * *basep hold the new, linked segment. -EEXIST when the name appeared
 * meanwhile (the caller attaches that one instead).
 *
 * The object is made with O_TMPFILE: it has no name until link, so no
 * other process can open, sweep or attach it half-built, and a creator
 * that dies leaves nothing behind. Where O_TMPFILE is not supported the
 * fallback is a private name whose flock the creator holds while building,
 * swept by others only once it is both unlocked and old (sweep_orphans).
 */
static int create_segment(const char *path, const struct geometry *g, bool populate, int *fdp,
                          uint8_t **basep)
{
    char tmp[PATH_BYTES + 64] = "";
    sweep_orphans();
    int fd = open(SHM_DIR, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL || errno == ENOENT)) {
        static _Atomic uint32_t counter;
        snprintf(tmp, sizeof(tmp), SHM_DIR TMP_PREFIX "%d-%u-%llx", (int)getpid(),
                 atomic_fetch_add(&counter, 1), (unsigned long long)(random_seed() & 0xffffffu));
        fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    }
    if (fd < 0)
        return -errno;
    int r = 0;
    uint8_t *base = MAP_FAILED;
    if ((tmp[0] && flock(fd, LOCK_EX) != 0) || fchmod(fd, g->mode) != 0) {
        r = -errno;
        goto fail;
    }
    /* posix_fallocate returns the error instead of setting errno. */
    r = posix_fallocate(fd, 0, (off_t)g->size);
    if (r) {
        if (r == EFBIG || r == ENOSPC) {
            char a[32];
            shm_open_error("no room in " SHM_DIR " for a segment of %s: free space there, or "
                           "lower capacity or memory",
                           shm_fmt_size(g->size, a, sizeof(a)));
            r = -ENOSPC;
        } else {
            r = -r;
        }
        goto fail;
    }
    /* Prefaulted like an attach (see attach_segment): the creator is often
     * the process that serves, or forks the workers that inherit this map. */
    base = map_segment(fd, g->size, false, populate);
    if (base == MAP_FAILED) {
        r = errno == ENOMEM ? -ENOMEM : -errno;
        goto fail;
    }
    r = build(base, g);
    if (r)
        goto fail;
    r = publish(fd, tmp, path);
    if (r)
        goto fail;
    if (tmp[0])
        flock(fd, LOCK_UN);
    *fdp = fd;
    *basep = base;
    return 0;
fail:
    if (base != MAP_FAILED)
        munmap(base, g->size);
    if (tmp[0])
        unlink(tmp);
    close(fd);
    return r;
}

/* Attach to an existing segment. -ENOENT when the name does not exist. */
static int attach_segment(shmc_t *c, const char *path, const shmc_config_t *cfg, struct geometry *g)
{
    bool ro = c->flags & SHMC_RDONLY;
    int fd = open(path, (ro ? O_RDONLY : O_RDWR) | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ELOOP ? -EBADMSG : -errno;
    struct stat sb;
    int r;
    if (fstat(fd, &sb) != 0) {
        r = -errno;
        goto fail;
    }
    if (!S_ISREG(sb.st_mode)) {
        r = -EBADMSG;
        goto fail;
    }
    if (sb.st_uid != geteuid() && !(c->flags & SHMC_ANY_OWNER)) {
        shm_open_error("%s is owned by uid %u, not by this process's uid %u: pass "
                       "SHMC_ANY_OWNER (shmcache-tool --any-owner) if you trust its owner",
                       path, (unsigned)sb.st_uid, (unsigned)geteuid());
        r = -EACCES;
        goto fail;
    }
    uint32_t allowed = (cfg && cfg->mode) ? (cfg->mode & 0777u) : 0600u;
    if ((uint32_t)(sb.st_mode & 0777) & ~allowed) {
        shm_open_error("%s has mode 0%03o, wider than the 0%03o accepted: set cfg.mode to the "
                       "widest mode you accept", path, (unsigned)(sb.st_mode & 0777), allowed);
        r = -EACCES;
        goto fail;
    }
    if (sb.st_size < (off_t)SHMC_HEADER_SIZE) {
        r = -EBADMSG;
        goto fail;
    }
    /* Validate a private copy of the header first: the mapping is only made
     * once the size it claims is known to match the object. */
    struct shm_header hcopy;
    if (pread(fd, &hcopy, sizeof(hcopy), 0) != (ssize_t)sizeof(hcopy)) {
        r = -EBADMSG;
        goto fail;
    }
    r = validate_header(&hcopy, (uint64_t)sb.st_size, g);
    if (r)
        goto fail;
    /* MAP_POPULATE maps every page now (the memory is already allocated in
     * tmpfs): a worker's first touch of each index and item page would
     * otherwise cost a page fault inside a get. */
    uint8_t *base = map_segment(fd, g->size, ro, !(c->flags & SHMC_LAZY));
    if (base == MAP_FAILED) {
        r = -errno;
        goto fail;
    }
    /* The mapped header must still be the header we validated. */
    if (memcmp(base, &hcopy, SHMC_HEADER_CHECKED + 8) != 0) {
        munmap(base, g->size);
        r = -EBADMSG;
        goto fail;
    }
    c->fd = fd;
    c->base = base;
    c->seed = hcopy.hash_seed;
    return 0;
fail:
    close(fd);
    return r;
}

int shmc_open(const char *name, unsigned flags, const shmc_config_t *cfg, shmc_t **out)
{
    shm_open_error_clear();
    if (!out) {
        shm_open_error("out is NULL: pass the address of a shmc_t *");
        return -EINVAL;
    }
    *out = NULL;
    if (flags & ~(SHMC_CREATE | SHMC_EXCL | SHMC_RDONLY | SHMC_ANY_OWNER | SHMC_LAZY)) {
        shm_open_error("unknown flags 0x%x: use SHMC_CREATE, SHMC_EXCL, SHMC_RDONLY, "
                       "SHMC_ANY_OWNER, SHMC_LAZY",
                       flags & ~(SHMC_CREATE | SHMC_EXCL | SHMC_RDONLY | SHMC_ANY_OWNER | SHMC_LAZY));
        return -EINVAL;
    }
    if ((flags & SHMC_EXCL) && !(flags & SHMC_CREATE)) {
        shm_open_error("SHMC_EXCL without SHMC_CREATE: add SHMC_CREATE or drop SHMC_EXCL");
        return -EINVAL;
    }
    if ((flags & SHMC_CREATE) && (flags & SHMC_RDONLY)) {
        shm_open_error("SHMC_CREATE with SHMC_RDONLY: a read-only handle cannot create; drop one");
        return -EINVAL;
    }
    char path[PATH_BYTES];
    shmc_t *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    int r = shm_validate_name(name, path, sizeof(path), c->name, sizeof(c->name));
    if (r) {
        shm_open_error("bad name: 1..%u bytes of printable ASCII after an optional leading '/', "
                       "no other '/', not \".\" or \"..\"", SHMC_NAME_MAX);
        goto fail;
    }
    c->flags = flags;
    c->fd = -1;
    c->primary_row = -1;
    struct geometry g;
    if (flags & SHMC_CREATE) {
        struct geometry want;
        r = geometry_from_config(cfg, &want);
        if (r)
            goto fail;
        for (int attempt = 0; attempt < 8; attempt++) {
            r = attach_segment(c, path, cfg ? cfg : NULL, &g);
            if (r == 0 && (flags & SHMC_EXCL)) {
                munmap(c->base, g.size);
                close(c->fd);
                c->fd = -1;
                r = -EEXIST;
                goto fail;
            }
            if (r != -ENOENT)
                break;
            /* A creating attacher accepts the mode it creates with. */
            int fd = -1;
            uint8_t *base = NULL;
            r = create_segment(path, &want, !(flags & SHMC_LAZY), &fd, &base);
            if (r == 0) {
                c->fd = fd;
                c->base = base;
                c->seed = ((struct shm_header *)(void *)base)->hash_seed;
                g = want;
                break;
            }
            if (r != -EEXIST && r != -ENOENT)
                break;
            if (r == -EEXIST && (flags & SHMC_EXCL))
                goto fail;
            /* Someone else linked it first: attach theirs. (-ENOENT: our
             * private name was swept after a stall of SHMC_ORPHAN_AGE_S:
             * build again.) */
        }
        if (r)
            goto fail;
    } else {
        r = attach_segment(c, path, cfg, &g);
        if (r)
            goto fail;
    }
    handle_from_geometry(c, &g);
    c->id = atomic_fetch_add(&g_handle_ids, 1);
    r = shm_locks_init(c);
    if (!r)
        r = shm_procs_attach(c);
    if (r) {
        shm_locks_free(c);
        munmap(c->base, c->size);
        close(c->fd);
        goto fail;
    }
    *out = c;
    return 0;
fail:
    free(c);
    if (!shmc_open_error()[0]) {
        const char *n = name ? name : "(null)";
        switch (r) {
        case -ENOENT:
            shm_open_error("no segment named %s: create it (SHMC_CREATE, or shmcache-tool create)", n);
            break;
        case -EBADMSG:
            shm_open_error("%s is not a shmcache segment, or is truncated or corrupt: remove it "
                           "(shmc_unlink) and create it again", n);
            break;
        case -EPROTO:
            shm_open_error("%s was made by a shmcache of another layout version or build "
                           "(this one writes layout %u): remove it, or open it with that build",
                           n, SHMC_LAYOUT_VERSION);
            break;
        case -EEXIST:
            shm_open_error("%s exists and SHMC_EXCL was given", n);
            break;
        case -EACCES:
            shm_open_error("no permission to open %s (its mode or owner)", n);
            break;
        default:
            shm_open_error("%s: %s", n, shmc_strerror(r));
            break;
        }
    }
    return r;
}

void shmc_close(shmc_t *c)
{
    if (!c)
        return;
    shm_near_close(c);
    shm_procs_detach(c);
    shm_locks_free(c);
    munmap(c->base, c->size);
    if (c->fd >= 0)
        close(c->fd);
    free(c);
}

int shmc_unlink(const char *name)
{
    char path[PATH_BYTES];
    int r = shm_validate_name(name, path, sizeof(path), NULL, 0);
    if (r)
        return r;
    if (unlink(path) != 0)
        return errno == EPERM ? -EACCES : -errno;
    return 0;
}

int shmc_probe(const char *path, shmc_info_t *info)
{
    if (!path)
        return -EINVAL;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    struct stat sb;
    struct shm_header h;
    int r = 0;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size >= (off_t)sizeof(h) &&
        pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) && memcmp(h.magic, SHMC_MAGIC, 8) == 0) {
        r = 1;
        if (info) {
            memset(info, 0, sizeof(*info));
            info->layout_version = h.layout_version;
            info->slots_per_bucket = h.slots_per_bucket;
            info->buckets = h.buckets;
            info->capacity = h.capacity;
            info->index_slots = h.buckets * h.slots_per_bucket;
            info->memory = h.memory;
            info->segment_size = (uint64_t)sb.st_size;
            info->stripes = h.stripes;
            info->max_key_len = h.max_key_len;
            info->max_value_len = h.max_value_len;
            info->mode = (uint32_t)(sb.st_mode & 0777);
            info->owner_uid = (uint32_t)sb.st_uid;
            info->proc_slots = h.proc_slots;
            info->created_unix_ms = h.created_unix_ms;
        }
    }
    close(fd);
    return r;
}

int shmc_info(shmc_t *c, shmc_info_t *info)
{
    if (!c || !info)
        return -EINVAL;
    memset(info, 0, sizeof(*info));
    info->layout_version = SHMC_LAYOUT_VERSION;
    info->slots_per_bucket = SHMC_SLOTS_PER_BUCKET;
    info->buckets = c->nbuckets;
    info->capacity = c->capacity;
    info->index_slots = c->nslots;
    info->hugepages = shm_mapping_hugepages(c);
    info->memory = c->memory;
    info->segment_size = c->size;
    info->stripes = c->nstripes;
    info->max_key_len = c->max_key;
    info->max_value_len = c->max_val;
    struct stat sb;
    if (fstat(c->fd, &sb) == 0) {
        info->mode = (uint32_t)(sb.st_mode & 0777);
        info->owner_uid = (uint32_t)sb.st_uid;
    }
    info->proc_slots = c->proc_slots;
    info->created_unix_ms = c->hdr->created_unix_ms;
    uint64_t used = 0;
    for (uint64_t b = 0; b < c->nbuckets; b++)
        for (unsigned i = 0; i < SHMC_SLOTS_PER_BUCKET; i++)
            used += LD(&c->buckets[b].off[i]) != 0;
    info->used_slots = used;
    return 0;
}
