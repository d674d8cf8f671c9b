/*
 * test_segment.c - creating, attaching, validating and removing segments:
 * shmc_open flags and errors, names, geometry, foreign/truncated/corrupt
 * objects, ownership and mode, read-only handles, shmc_unlink, shmc_info,
 * shmc_probe and shmc_check on a corrupted segment.
 *
 * Every failed open must leave the object's bytes unchanged: the tests hash
 * the file before and after.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <grp.h>
#include <limits.h>

#include "testutil.h"

#define KS(s) (s), strlen(s)

static tu_fixture_t *F(void **state) { return *state; }

static void assert_absent(const char *path)
{
    struct stat sb;
    assert_int_equal(stat(path, &sb), -1);
    assert_int_equal(errno, ENOENT);
}

/* Create the fixture's segment with f->cfg, put one entry in, close it. */
static void create_closed(tu_fixture_t *f)
{
    shmc_t *c = NULL;
    assert_int_equal(shmc_open(f->name, SHMC_CREATE | SHMC_EXCL, &f->cfg, &c), 0);
    assert_int_equal(shmc_set(c, KS("k"), "v", 1, 0, 0), 0);
    shmc_close(c);
}

/* The segment opens and still holds what create_closed put in. */
static void assert_opens_intact(tu_fixture_t *f)
{
    shmc_t *c = NULL;
    assert_int_equal(shmc_open(f->name, 0, NULL, &c), 0);
    char buf[8];
    size_t vlen = 0;
    assert_int_equal(shmc_get(c, KS("k"), buf, sizeof buf, &vlen, NULL), 0);
    assert_int_equal(vlen, 1);
    assert_int_equal(shmc_check(c, NULL, NULL), 0);
    shmc_close(c);
}

static int rc_in(int rc, int a, int b) { return rc == a || rc == b; }

/* Opening must fail with one of the two errors, leave the object's bytes
 * unchanged and hand out no handle; with and without SHMC_CREATE. */
static void assert_open_fails_unchanged(tu_fixture_t *f, int err1, int err2)
{
    uint64_t h0 = 0, h1 = 0;
    off_t s0 = 0, s1 = 0;
    assert_int_equal(tu_file_hash(f->path, &h0, &s0), 0);
    const unsigned flags[] = {0, SHMC_CREATE, SHMC_RDONLY};
    for (unsigned i = 0; i < 3; i++) {
        shmc_t *c = (shmc_t *)(uintptr_t)1;
        int rc = shmc_open(f->name, flags[i], NULL, &c);
        if (!rc_in(rc, err1, err2))
            fail_msg("open flags %u: got %d (%s), expected %d or %d", flags[i],
                     rc, shmc_strerror(rc), err1, err2);
        if (rc == 0)
            shmc_close(c);
    }
    assert_int_equal(tu_file_hash(f->path, &h1, &s1), 0);
    assert_int_equal(s0, s1);
    assert_true(h0 == h1);
}

static void write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0600);
    assert_true(fd >= 0);
    if (len > 0)
        assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

/* ---- open flags ---------------------------------------------------------- */

static void open_with_create_makes_a_missing_segment(void **state)
{
    tu_fixture_t *f = F(state);
    assert_absent(f->path);
    assert_int_equal(shmc_open(f->name, SHMC_CREATE, &f->cfg, &f->c), 0);
    assert_non_null(f->c);
    struct stat sb;
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);
    assert_int_equal(sb.st_uid, getuid());
    assert_int_equal(shmc_set(f->c, KS("a"), "b", 1, 0, 0), 0);
}

static void open_with_create_and_null_cfg_uses_the_defaults(void **state)
{
    tu_fixture_t *f = F(state);
    assert_int_equal(shmc_open(f->name, SHMC_CREATE, NULL, &f->c), 0);
    shmc_info_t inf;
    assert_int_equal(shmc_info(f->c, &inf), 0);
    assert_int_equal(inf.capacity, 65536);
    assert_int_equal(inf.max_key_len, 250);
    assert_int_equal(inf.max_value_len, 1u << 20);
    assert_true(inf.memory >= 65536ull * 256u / 2);
    assert_int_equal(inf.mode & 0777, 0600);
}

static void open_without_create_fails_with_enoent_when_missing(void **state)
{
    tu_fixture_t *f = F(state);
    shmc_t *c = NULL;
    assert_int_equal(shmc_open(f->name, 0, NULL, &c), -ENOENT);
    assert_null(c);
    assert_int_equal(shmc_open(f->name, SHMC_RDONLY, NULL, &c), -ENOENT);
    assert_absent(f->path);
}

static void open_with_excl_fails_with_eexist_when_present(void **state)
{
    tu_fixture_t *f = F(state);
    assert_int_equal(shmc_open(f->name, SHMC_CREATE | SHMC_EXCL, &f->cfg, &f->c), 0);
    assert_int_equal(shmc_set(f->c, KS("k"), "v", 1, 0, 0), 0);
    shmc_t *c2 = NULL;
    assert_int_equal(shmc_open(f->name, SHMC_CREATE | SHMC_EXCL, &f->cfg, &c2), -EEXIST);
    assert_null(c2);
    /* without EXCL it attaches, and the entry is still there */
    assert_int_equal(shmc_open(f->name, SHMC_CREATE, &f->cfg, &c2), 0);
    char buf[4];
    size_t vlen;
    assert_int_equal(shmc_get(c2, KS("k"), buf, sizeof buf, &vlen, NULL), 0);
    shmc_close(c2);
}

static void unknown_flags_and_null_out_are_rejected_with_einval(void **state)
{
    tu_fixture_t *f = F(state);
    shmc_t *c = NULL;
    assert_int_equal(shmc_open(f->name, SHMC_CREATE | 0x100u, &f->cfg, &c), -EINVAL);
    assert_int_equal(shmc_open(f->name, SHMC_CREATE | 0x80000000u, &f->cfg, &c), -EINVAL);
    assert_int_equal(shmc_open(f->name, SHMC_CREATE, &f->cfg, NULL), -EINVAL);
    assert_absent(f->path);
}

static void names_with_and_without_a_slash_are_the_same_segment(void **state)
{
    tu_fixture_t *f = F(state);
    assert_int_equal(shmc_open(f->name + 1, SHMC_CREATE, &f->cfg, &f->c), 0);
    assert_int_equal(shmc_set(f->c, KS("k"), "v", 1, 0, 0), 0);
    shmc_t *c2 = NULL;
    assert_int_equal(shmc_open(f->name, 0, NULL, &c2), 0);
    char buf[4];
    size_t vlen;
    assert_int_equal(shmc_get(c2, KS("k"), buf, sizeof buf, &vlen, NULL), 0);
    shmc_close(c2);
    struct stat sb;
    assert_int_equal(stat(f->path, &sb), 0);
}

static void invalid_names_are_rejected_with_einval(void **state)
{
    (void)state;
    char longname[SHMC_NAME_MAX + 3];
    memset(longname, 'n', sizeof longname);
    longname[0] = '/';
    longname[SHMC_NAME_MAX + 2] = '\0'; /* '/' + 201 bytes */
    char longname2[SHMC_NAME_MAX + 2];
    memset(longname2, 'n', sizeof longname2);
    longname2[SHMC_NAME_MAX + 1] = '\0'; /* 201 bytes, no slash */
    const char *bad[] = {"",       "/",      "a/b",      "/a/b",   "a/",
                         "//a",    ".",      "..",       "/.",     "/..",
                         "a\x01b", "a\x7f",  "caf\xc3\xa9", "a\nb", "\t",
                         longname, longname2};
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        shmc_t *c = NULL;
        shmc_config_t cfg;
        tu_small_cfg(&cfg);
        int rc = shmc_open(bad[i], SHMC_CREATE, &cfg, &c);
        if (rc != -EINVAL)
            fail_msg("name #%u: shmc_open gave %d, expected -EINVAL", i, rc);
        assert_null(c);
        rc = shmc_unlink(bad[i]);
        if (rc != -EINVAL)
            fail_msg("name #%u: shmc_unlink gave %d, expected -EINVAL", i, rc);
    }
    shmc_t *c = NULL;
    assert_int_equal(shmc_open(NULL, SHMC_CREATE, NULL, &c), -EINVAL);
    assert_int_equal(shmc_unlink(NULL), -EINVAL);
}

static void a_name_of_exactly_name_max_bytes_is_accepted(void **state)
{
    tu_fixture_t *f = F(state);
    /* Replace the fixture's name by one of exactly SHMC_NAME_MAX bytes. */
    char name[SHMC_NAME_MAX + 2];
    int n = snprintf(name, sizeof name, "%s-", f->name);
    assert_true(n > 0 && (size_t)n < sizeof name);
    memset(name + n, 'x', sizeof name - (size_t)n);
    name[SHMC_NAME_MAX + 1] = '\0';
    assert_int_equal(strlen(name), SHMC_NAME_MAX + 1);
    shmc_t *c = NULL;
    assert_int_equal(shmc_open(name, SHMC_CREATE | SHMC_EXCL, &f->cfg, &c), 0);
    assert_int_equal(shmc_set(c, KS("k"), "v", 1, 0, 0), 0);
    shmc_close(c);
    assert_int_equal(shmc_unlink(name + 1), 0);
    assert_int_equal(shmc_unlink(name), -ENOENT);
}

/* ---- geometry ------------------------------------------------------------ */

static void bad_geometry_is_rejected_with_einval(void **state)
{
    tu_fixture_t *f = F(state);
    struct {
        const char *what;
        shmc_config_t cfg;
    } cases[10];
    unsigned n = 0;
    for (unsigned i = 0; i < 10; i++)
        tu_small_cfg(&cases[i].cfg);
    cases[n].what = "max_key_len 0";
    cases[n++].cfg.max_key_len = 0;
    cases[n].what = "max_key_len > SHMC_KEY_MAX";
    cases[n++].cfg.max_key_len = SHMC_KEY_MAX + 1;
    cases[n].what = "max_value_len > SHMC_VALUE_MAX";
    cases[n].cfg.memory = 1ull << 32;
    cases[n++].cfg.max_value_len = SHMC_VALUE_MAX + 1;
    cases[n].what = "stripes 3";
    cases[n++].cfg.stripes = 3;
    cases[n].what = "stripes 12";
    cases[n++].cfg.stripes = 12;
    cases[n].what = "stripes > SHMC_STRIPES_MAX";
    cases[n++].cfg.stripes = SHMC_STRIPES_MAX * 2;
    cases[n].what = "memory too small for max_value_len";
    cases[n].cfg.memory = 64 * 1024;
    cases[n++].cfg.max_value_len = 1u << 20;
    cases[n].what = "capacity > SHMC_CAPACITY_MAX";
    cases[n++].cfg.capacity = SHMC_CAPACITY_MAX * 2;
    for (unsigned i = 0; i < n; i++) {
        shmc_t *c = NULL;
        int rc = shmc_open(f->name, SHMC_CREATE, &cases[i].cfg, &c);
        if (rc != -EINVAL)
            fail_msg("%s: shmc_open gave %d (%s), expected -EINVAL",
                     cases[i].what, rc, shmc_strerror(rc));
        assert_null(c);
        assert_absent(f->path);
    }
}

static void the_largest_key_length_is_accepted(void **state)
{
    tu_fixture_t *f = F(state);
    shmc_config_init(&f->cfg);
    f->cfg.capacity = 64;
    f->cfg.memory = 4u << 20;
    f->cfg.max_key_len = SHMC_KEY_MAX;
    f->cfg.max_value_len = 1024;
    assert_int_equal(shmc_open(f->name, SHMC_CREATE, &f->cfg, &f->c), 0);
    char *key = malloc(SHMC_KEY_MAX + 1);
    assert_non_null(key);
    memset(key, 'K', SHMC_KEY_MAX + 1);
    assert_int_equal(shmc_set(f->c, key, SHMC_KEY_MAX, "v", 1, 0, 0), 0);
    char buf[4];
    size_t vlen = 0;
    assert_int_equal(shmc_get(f->c, key, SHMC_KEY_MAX, buf, sizeof buf, &vlen, NULL), 0);
    assert_int_equal(vlen, 1);
    assert_int_equal(shmc_set(f->c, key, SHMC_KEY_MAX + 1, "v", 1, 0, 0), -E2BIG);
    free(key);
}

static void capacity_is_kept_as_asked_and_the_index_gets_headroom(void **state)
{
    tu_fixture_t *f = F(state);
    f->cfg.capacity = 1000;
    assert_int_equal(shmc_open(f->name, SHMC_CREATE, &f->cfg, &f->c), 0);
    shmc_info_t inf;
    assert_int_equal(shmc_info(f->c, &inf), 0);
    assert_int_equal(inf.capacity, 1000);
    assert_int_equal(inf.index_slots, inf.buckets * inf.slots_per_bucket);
    assert_true(inf.index_slots * 10 >= inf.capacity * 18);
    assert_true((inf.buckets & (inf.buckets - 1)) == 0);
    shmc_close(f->c);
    f->c = NULL;
    assert_int_equal(shmc_unlink(f->name), 0);
    f->cfg.capacity = 1;
    f->cfg.stripes = 0;
    assert_int_equal(shmc_open(f->name, SHMC_CREATE, &f->cfg, &f->c), 0);
    assert_int_equal(shmc_info(f->c, &inf), 0);
    assert_int_equal(inf.capacity, 1);
    assert_true(inf.buckets >= 2);
    assert_true((inf.buckets & (inf.buckets - 1)) == 0);
}

static void attaching_with_another_geometry_keeps_the_segments_own(void **state)
{
    tu_fixture_t *f = F(state);
    shmc_config_init(&f->cfg);
    f->cfg.capacity = 1024;
    f->cfg.memory = 256 * 1024;
    f->cfg.max_key_len = 100;
    f->cfg.max_value_len = 4096;
    f->cfg.stripes = 4;
    assert_int_equal(shmc_open(f->name, SHMC_CREATE, &f->cfg, &f->c), 0);
    shmc_config_t other;
    shmc_config_init(&other);
    other.capacity = 8192;
    other.max_key_len = 200;
    other.max_value_len = 8192;
    other.stripes = 32;
    shmc_t *c2 = NULL;
    assert_int_equal(shmc_open(f->name, SHMC_CREATE, &other, &c2), 0);
    shmc_info_t a, b;
    assert_int_equal(shmc_info(f->c, &a), 0);
    assert_int_equal(shmc_info(c2, &b), 0);
    assert_int_equal(b.capacity, 1024);
    assert_int_equal(b.max_key_len, 100);
    assert_int_equal(b.max_value_len, 4096);
    assert_int_equal(b.stripes, 4);
    assert_int_equal(b.memory, a.memory);
    assert_int_equal(b.segment_size, a.segment_size);
    shmc_stats_t st;
    assert_int_equal(shmc_stats(c2, &st), 0);
    assert_int_equal(st.capacity, 1024);
    assert_int_equal(st.max_key_len, 100);
    /* the segment's limits apply, not the ones passed at attach */
    char key[150];
    memset(key, 'k', sizeof key);
    assert_int_equal(shmc_set(c2, key, sizeof key, "v", 1, 0, 0), -E2BIG);
    shmc_close(c2);
}

/* ---- foreign, truncated and corrupt objects ---------------------------- */

static void a_junk_object_is_rejected_with_ebadmsg_and_left_unchanged(void **state)
{
    tu_fixture_t *f = F(state);
    unsigned char junk[8192];
    uint64_t s = 7;
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)(tu_rand(&s) >> 56);
    write_file(f->path, junk, sizeof junk);
    assert_open_fails_unchanged(f, -EBADMSG, -EBADMSG);
}

static void text_in_the_object_is_rejected_with_ebadmsg(void **state)
{
    tu_fixture_t *f = F(state);
    const char *text = "this is not a shmcache segment\n";
    write_file(f->path, text, strlen(text));
    assert_open_fails_unchanged(f, -EBADMSG, -EBADMSG);
}

static void files_of_zeros_are_rejected_with_ebadmsg_and_left_unchanged(void **state)
{
    tu_fixture_t *f = F(state);
    const size_t sizes[] = {1, 100, 4096, 65536, 3u << 20};
    for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        int fd = open(f->path, O_CREAT | O_EXCL | O_WRONLY, 0600);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, (off_t)sizes[i]), 0);
        close(fd);
        assert_open_fails_unchanged(f, -EBADMSG, -EBADMSG);
        assert_int_equal(unlink(f->path), 0);
    }
}

static void an_empty_object_is_rejected_with_ebadmsg(void **state)
{
    tu_fixture_t *f = F(state);
    write_file(f->path, NULL, 0);
    assert_open_fails_unchanged(f, -EBADMSG, -EBADMSG);
}

static void a_truncated_segment_is_rejected_with_ebadmsg(void **state)
{
    tu_fixture_t *f = F(state);
    create_closed(f);
    struct stat sb;
    assert_int_equal(stat(f->path, &sb), 0);
    off_t full = sb.st_size;
    assert_int_equal(truncate(f->path, full / 2), 0);
    assert_open_fails_unchanged(f, -EBADMSG, -EBADMSG);
    assert_int_equal(truncate(f->path, 4096), 0);
    assert_open_fails_unchanged(f, -EBADMSG, -EBADMSG);
    assert_int_equal(truncate(f->path, 20), 0);
    assert_open_fails_unchanged(f, -EBADMSG, -EBADMSG);
}

static void a_grown_segment_is_rejected_with_ebadmsg(void **state)
{
    tu_fixture_t *f = F(state);
    create_closed(f);
    struct stat sb;
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(truncate(f->path, sb.st_size + 65536), 0);
    assert_open_fails_unchanged(f, -EBADMSG, -EBADMSG);
    assert_int_equal(truncate(f->path, sb.st_size), 0);
    assert_opens_intact(f);
}

/* Change len bytes at off, expect the open to fail, restore, expect the
 * segment to open again with its entry. */
static void corrupt_header_and_expect(tu_fixture_t *f, off_t off,
                                      const void *bytes, size_t len, int err1,
                                      int err2)
{
    unsigned char orig[64];
    assert_true(len <= sizeof orig);
    assert_int_equal(tu_file_pread(f->path, off, orig, len), 0);
    assert_int_equal(tu_file_pwrite(f->path, off, bytes, len), 0);
    assert_open_fails_unchanged(f, err1, err2);
    shmc_info_t inf;
    int pr = shmc_probe(f->path, &inf);
    assert_true(pr == 0 || pr == 1 || pr < 0);
    assert_int_equal(tu_file_pwrite(f->path, off, orig, len), 0);
    assert_opens_intact(f);
}

static void a_corrupt_magic_is_rejected_with_ebadmsg(void **state)
{
    tu_fixture_t *f = F(state);
    create_closed(f);
    unsigned char b[8];
    assert_int_equal(tu_file_pread(f->path, 0, b, 8), 0);
    b[0] ^= 0x20;
    corrupt_header_and_expect(f, 0, b, 1, -EBADMSG, -EBADMSG);
    b[0] ^= 0x20;
    b[7] ^= 0x01;
    corrupt_header_and_expect(f, 0, b, 8, -EBADMSG, -EBADMSG);
    memset(b, 0, sizeof b);
    corrupt_header_and_expect(f, 0, b, 8, -EBADMSG, -EBADMSG);
    shmc_info_t inf;
    assert_int_equal(shmc_probe(f->path, &inf), 1);
}

static void another_layout_version_is_rejected_with_eproto(void **state)
{
    tu_fixture_t *f = F(state);
    create_closed(f);
    uint32_t v;
    assert_int_equal(tu_file_pread(f->path, 8, &v, 4), 0);
    uint32_t nv = v + 1;
    corrupt_header_and_expect(f, 8, &nv, 4, -EPROTO, -EPROTO);
    nv = v + 1000;
    corrupt_header_and_expect(f, 8, &nv, 4, -EPROTO, -EPROTO);
    nv = 0;
    corrupt_header_and_expect(f, 8, &nv, 4, -EPROTO, -EPROTO);
}

static void another_layout_fingerprint_is_rejected_with_eproto(void **state)
{
    tu_fixture_t *f = F(state);
    create_closed(f);
    uint64_t fp;
    assert_int_equal(tu_file_pread(f->path, 16, &fp, 8), 0);
    uint64_t nfp = fp ^ 1u;
    corrupt_header_and_expect(f, 16, &nfp, 8, -EPROTO, -EPROTO);
    nfp = fp ^ 0x8000000000000000ull;
    corrupt_header_and_expect(f, 16, &nfp, 8, -EPROTO, -EPROTO);
}

static void a_wrong_size_field_is_rejected_with_ebadmsg(void **state)
{
    tu_fixture_t *f = F(state);
    create_closed(f);
    uint64_t sz;
    assert_int_equal(tu_file_pread(f->path, 24, &sz, 8), 0);
    struct stat sb;
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sz, (uint64_t)sb.st_size);
    const uint64_t bad[] = {sz + 4096, sz - 4096, sz / 2, 0, UINT64_MAX,
                            sz + 1};
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++)
        corrupt_header_and_expect(f, 24, &bad[i], 8, -EBADMSG, -EBADMSG);
}

static void a_wrong_header_size_is_rejected(void **state)
{
    tu_fixture_t *f = F(state);
    create_closed(f);
    uint32_t hs;
    assert_int_equal(tu_file_pread(f->path, 12, &hs, 4), 0);
    const uint32_t bad[] = {0, hs / 2, hs * 2, UINT32_MAX};
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++)
        corrupt_header_and_expect(f, 12, &bad[i], 4, -EBADMSG, -EPROTO);
}

static void geometry_fields_of_the_header_are_checked(void **state)
{
    tu_fixture_t *f = F(state);
    create_closed(f);
    /* Scribble on each 8-byte word of the header's fixed part after the
     * first 32 bytes: open either still works (a word that does not matter)
     * or fails with -EBADMSG/-EPROTO; never a crash. */
    for (off_t off = 32; off < 160; off += 8) {
        unsigned char orig[8], bad[8];
        assert_int_equal(tu_file_pread(f->path, off, orig, 8), 0);
        memcpy(bad, orig, 8);
        for (int j = 0; j < 8; j++)
            bad[j] = (unsigned char)(bad[j] ^ 0x5a);
        assert_int_equal(tu_file_pwrite(f->path, off, bad, 8), 0);
        shmc_t *c = NULL;
        int rc = shmc_open(f->name, 0, NULL, &c);
        if (rc == 0)
            shmc_close(c);
        else if (rc != -EBADMSG && rc != -EPROTO && rc != -EACCES)
            fail_msg("header word at %ld: open gave %d (%s)", (long)off, rc,
                     shmc_strerror(rc));
        assert_int_equal(tu_file_pwrite(f->path, off, orig, 8), 0);
    }
    assert_opens_intact(f);
}

/* ---- ownership and mode ------------------------------------------------ */

static void a_segment_owned_by_another_user_is_rejected_with_eacces(void **state)
{
    tu_fixture_t *f = F(state);
    if (geteuid() != 0)
        skip(); /* needs root to chown or to become another user */
    create_closed(f);
    assert_int_equal(chown(f->path, 65534, 65534), 0);
    assert_open_fails_unchanged(f, -EACCES, -EACCES);
    shmc_t *c = NULL;
    assert_int_equal(shmc_open(f->name, SHMC_ANY_OWNER, NULL, &c), 0);
    char buf[4];
    size_t vlen;
    assert_int_equal(shmc_get(c, KS("k"), buf, sizeof buf, &vlen, NULL), 0);
    assert_int_equal(shmc_set(c, KS("k2"), "v", 1, 0, 0), 0);
    shmc_close(c);
    assert_int_equal(shmc_open(f->name, SHMC_ANY_OWNER | SHMC_RDONLY, NULL, &c), 0);
    shmc_close(c);
    assert_int_equal(chown(f->path, getuid(), getgid()), 0);
    assert_opens_intact(f);
}

static void a_segment_with_a_wider_mode_is_rejected_with_eacces(void **state)
{
    tu_fixture_t *f = F(state);
    create_closed(f);
    assert_int_equal(chmod(f->path, 0666), 0);
    assert_open_fails_unchanged(f, -EACCES, -EACCES);
    shmc_config_t cfg;
    shmc_config_init(&cfg);
    cfg.mode = 0644;
    shmc_t *c = NULL;
    assert_int_equal(shmc_open(f->name, 0, &cfg, &c), -EACCES);
    cfg.mode = 0666;
    assert_int_equal(shmc_open(f->name, 0, &cfg, &c), 0);
    char buf[4];
    size_t vlen;
    assert_int_equal(shmc_get(c, KS("k"), buf, sizeof buf, &vlen, NULL), 0);
    shmc_close(c);
    /* a narrower mode than the widest accepted is fine */
    assert_int_equal(chmod(f->path, 0600), 0);
    assert_int_equal(shmc_open(f->name, 0, &cfg, &c), 0);
    shmc_close(c);
    assert_opens_intact(f);
}

static void a_segment_is_created_with_the_mode_asked_for(void **state)
{
    tu_fixture_t *f = F(state);
    f->cfg.mode = 0640;
    assert_int_equal(shmc_open(f->name, SHMC_CREATE, &f->cfg, &f->c), 0);
    struct stat sb;
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0640);
    shmc_info_t inf;
    assert_int_equal(shmc_info(f->c, &inf), 0);
    assert_int_equal(inf.mode & 07777, 0640);
    /* attaching with the default widest mode 0600 refuses 0640 */
    shmc_t *c = NULL;
    assert_int_equal(shmc_open(f->name, 0, NULL, &c), -EACCES);
    shmc_config_t cfg;
    shmc_config_init(&cfg);
    cfg.mode = 0640;
    assert_int_equal(shmc_open(f->name, 0, &cfg, &c), 0);
    shmc_close(c);
}

struct as_nobody {
    const char *name;
    int create;
};

static int drop_to_nobody(void)
{
    if (setgroups(0, NULL) != 0 && errno != EPERM)
        return -1;
    if (setgid(65534) != 0 || setuid(65534) != 0)
        return -1;
    return getuid() == 65534 ? 0 : -1;
}

/* Child: as uid 65534, try the root-owned segment. Exit codes:
 * 0 all as expected, 10+ which step failed. */
static int nobody_probes_root_segment(void *arg)
{
    struct as_nobody *a = arg;
    if (drop_to_nobody() != 0)
        return 9;
    shmc_t *c = NULL;
    if (shmc_open(a->name, 0, NULL, &c) != -EACCES)
        return 10;
    if (shmc_open(a->name, SHMC_RDONLY | SHMC_ANY_OWNER, NULL, &c) != -EACCES)
        return 11;
    if (shmc_open(a->name, SHMC_CREATE, NULL, &c) != -EACCES)
        return 12;
    if (shmc_unlink(a->name) != -EACCES)
        return 13;
    return 0;
}

static void a_non_root_process_cannot_open_or_unlink_a_root_segment(void **state)
{
    tu_fixture_t *f = F(state);
    if (geteuid() != 0)
        skip(); /* needs root to chown or to become another user */
    create_closed(f);
    struct as_nobody a = {f->name, 0};
    pid_t pid = tu_fork(nobody_probes_root_segment, &a);
    assert_true(pid > 0);
    assert_int_equal(tu_wait(pid), 0);
    assert_opens_intact(f);
}

static int nobody_creates(void *arg)
{
    struct as_nobody *a = arg;
    if (drop_to_nobody() != 0)
        return 9;
    shmc_config_t cfg;
    tu_small_cfg(&cfg);
    shmc_t *c = NULL;
    if (shmc_open(a->name, SHMC_CREATE | SHMC_EXCL, &cfg, &c) != 0)
        return 10;
    if (shmc_set(c, "k", 1, "v", 1, 0, 0) != 0)
        return 11;
    shmc_close(c);
    return 0;
}

static void a_segment_created_by_another_user_needs_any_owner(void **state)
{
    tu_fixture_t *f = F(state);
    if (geteuid() != 0)
        skip(); /* needs root to chown or to become another user */
    struct as_nobody a = {f->name, 1};
    pid_t pid = tu_fork(nobody_creates, &a);
    assert_true(pid > 0);
    assert_int_equal(tu_wait(pid), 0);
    struct stat sb;
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_uid, 65534);
    assert_open_fails_unchanged(f, -EACCES, -EACCES);
    shmc_t *c = NULL;
    assert_int_equal(shmc_open(f->name, SHMC_ANY_OWNER, NULL, &c), 0);
    char buf[4];
    size_t vlen;
    assert_int_equal(shmc_get(c, KS("k"), buf, sizeof buf, &vlen, NULL), 0);
    shmc_info_t inf;
    assert_int_equal(shmc_info(c, &inf), 0);
    assert_int_equal(inf.owner_uid, 65534);
    shmc_close(c);
}

/* ---- read-only handles --------------------------------------------------- */

static int count_entries(const shmc_entry_t *e, void *arg)
{
    (void)e;
    (*(int *)arg)++;
    return 0;
}

static int count_procs(const shmc_proc_info_t *p, void *arg)
{
    (void)p;
    (*(int *)arg)++;
    return 0;
}

static void a_read_only_handle_rejects_writes_with_erofs(void **state)
{
    tu_fixture_t *f = F(state);
    create_closed(f);
    shmc_t *c = NULL;
    assert_int_equal(shmc_open(f->name, SHMC_RDONLY, NULL, &c), 0);
    uint64_t init = 1, r = 0;
    char buf[8];
    size_t vlen = 0;
    shmc_item_info_t info;
    assert_int_equal(shmc_get(c, KS("k"), buf, sizeof buf, &vlen, &info), 0);
    assert_int_equal(shmc_set(c, KS("k"), "w", 1, 0, 0), -EROFS);
    assert_int_equal(shmc_set(c, KS("new"), "w", 1, 0, 0), -EROFS);
    assert_int_equal(shmc_add(c, KS("new"), "w", 1, 0, 0), -EROFS);
    assert_int_equal(shmc_replace(c, KS("k"), "w", 1, 0, 0), -EROFS);
    assert_int_equal(shmc_cas(c, KS("k"), "w", 1, 0, 0, info.cas), -EROFS);
    assert_int_equal(shmc_incr(c, KS("k"), 1, &init, 0, &r), -EROFS);
    assert_int_equal(shmc_touch(c, KS("k"), 100), -EROFS);
    assert_int_equal(shmc_delete(c, KS("k")), -EROFS);
    assert_int_equal(shmc_clear(c), -EROFS);
    assert_int_equal(shmc_flush_expired(c), -EROFS);
    /* nothing changed */
    vlen = 0;
    assert_int_equal(shmc_get(c, KS("k"), buf, sizeof buf, &vlen, NULL), 0);
    assert_int_equal(vlen, 1);
    assert_memory_equal(buf, "v", 1);
    assert_int_equal(shmc_get(c, KS("new"), buf, sizeof buf, &vlen, NULL), -ENOENT);
    shmc_close(c);
    assert_opens_intact(f);
}

static void a_read_only_handle_can_get_stats_iterate_info_and_check(void **state)
{
    tu_fixture_t *f = F(state);
    assert_int_equal(shmc_open(f->name, SHMC_CREATE, &f->cfg, &f->c), 0);
    for (int i = 0; i < 20; i++) {
        char k[16];
        snprintf(k, sizeof k, "ro-%d", i);
        assert_int_equal(shmc_set(f->c, k, strlen(k), k, strlen(k), 0, 0), 0);
    }
    shmc_t *c = NULL;
    assert_int_equal(shmc_open(f->name, SHMC_RDONLY, NULL, &c), 0);
    for (int i = 0; i < 20; i++) {
        char k[16], buf[16];
        size_t vlen = 0;
        snprintf(k, sizeof k, "ro-%d", i);
        assert_int_equal(shmc_get(c, k, strlen(k), buf, sizeof buf, &vlen, NULL), 0);
        assert_int_equal(vlen, strlen(k));
        assert_memory_equal(buf, k, vlen);
    }
    char buf[4];
    size_t vlen;
    assert_int_equal(shmc_get(c, KS("nope"), buf, sizeof buf, &vlen, NULL), -ENOENT);
    /* a write through the other handle is seen by the read-only one */
    assert_int_equal(shmc_set(f->c, KS("later"), "L", 1, 0, 0), 0);
    assert_int_equal(shmc_get(c, KS("later"), buf, sizeof buf, &vlen, NULL), 0);
    assert_int_equal(shmc_delete(f->c, KS("later")), 0);
    assert_int_equal(shmc_get(c, KS("later"), buf, sizeof buf, &vlen, NULL), -ENOENT);
    shmc_stats_t st;
    assert_int_equal(shmc_stats(c, &st), 0);
    assert_int_equal(st.curr_items, 20);
    assert_true(st.cmd_get >= 23);
    int n = 0;
    assert_int_equal(shmc_iterate(c, count_entries, &n), 0);
    assert_int_equal(n, 20);
    shmc_info_t inf;
    assert_int_equal(shmc_info(c, &inf), 0);
    assert_int_equal(inf.capacity, f->cfg.capacity);
    assert_int_equal(shmc_check(c, NULL, NULL), 0);
    int np = 0;
    assert_int_equal(shmc_procs(c, count_procs, &np), 0);
    assert_true(np >= 1);
    shmc_close(c);
}

/* ---- unlink ------------------------------------------------------------ */

static void unlink_of_a_missing_segment_fails_with_enoent(void **state)
{
    tu_fixture_t *f = F(state);
    assert_int_equal(shmc_unlink(f->name), -ENOENT);
    assert_int_equal(shmc_unlink(f->name + 1), -ENOENT);
}

static void unlink_removes_the_name_but_attached_handles_keep_working(void **state)
{
    tu_fixture_t *f = F(state);
    assert_int_equal(shmc_open(f->name, SHMC_CREATE, &f->cfg, &f->c), 0);
    assert_int_equal(shmc_set(f->c, KS("k"), "v", 1, 0, 0), 0);
    assert_int_equal(shmc_unlink(f->name), 0);
    assert_absent(f->path);
    assert_int_equal(shmc_unlink(f->name), -ENOENT);
    shmc_t *c = NULL;
    assert_int_equal(shmc_open(f->name, 0, NULL, &c), -ENOENT);
    /* the old handle still works */
    char buf[4];
    size_t vlen;
    assert_int_equal(shmc_get(f->c, KS("k"), buf, sizeof buf, &vlen, NULL), 0);
    assert_int_equal(shmc_set(f->c, KS("k2"), "w", 1, 0, 0), 0);
    /* a new segment of the same name is a different, empty one */
    assert_int_equal(shmc_open(f->name, SHMC_CREATE, &f->cfg, &c), 0);
    assert_int_equal(shmc_get(c, KS("k"), buf, sizeof buf, &vlen, NULL), -ENOENT);
    assert_int_equal(shmc_set(c, KS("k3"), "x", 1, 0, 0), 0);
    assert_int_equal(shmc_get(f->c, KS("k3"), buf, sizeof buf, &vlen, NULL), -ENOENT);
    shmc_close(c);
}

/* ---- probe and check ----------------------------------------------------- */

static void probe_recognises_a_segment_and_rejects_junk(void **state)
{
    tu_fixture_t *f = F(state);
    shmc_info_t inf;
    memset(&inf, 0, sizeof inf);
    assert_int_equal(shmc_probe(f->path, &inf), -ENOENT);
    create_closed(f);
    assert_int_equal(shmc_probe(f->path, &inf), 1);
    assert_int_equal(inf.capacity, f->cfg.capacity);
    assert_int_equal(inf.max_key_len, f->cfg.max_key_len);
    assert_int_equal(inf.max_value_len, f->cfg.max_value_len);
    assert_int_equal(inf.stripes, f->cfg.stripes);
    struct stat sb;
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(inf.segment_size, (uint64_t)sb.st_size);
    assert_int_equal(unlink(f->path), 0);
    write_file(f->path, "junk junk junk", 14);
    assert_int_equal(shmc_probe(f->path, &inf), 0);
    assert_int_equal(unlink(f->path), 0);
    write_file(f->path, NULL, 0);
    assert_int_equal(shmc_probe(f->path, &inf), 0);
}

/* Fill a small cache well past its memory so every stripe's item memory is
 * in use, then close it. */
static void fill_and_close(tu_fixture_t *f, int nkeys)
{
    shmc_t *c = NULL;
    assert_int_equal(shmc_open(f->name, SHMC_CREATE, &f->cfg, &c), 0);
    unsigned char v[2048];
    uint64_t s = 5;
    for (int i = 0; i < nkeys; i++) {
        char k[32];
        snprintf(k, sizeof k, "fill-%d", i);
        size_t len = tu_make_value(v, 64 + (size_t)(tu_rand(&s) % 1900), k,
                                   strlen(k), (uint64_t)i);
        assert_int_equal(shmc_set(c, k, strlen(k), v, len, 0, 0), 0);
    }
    assert_int_equal(shmc_check(c, NULL, NULL), 0);
    shmc_close(c);
}

struct corrupt_arg {
    const char *name;
    int nkeys;
};

/* Child: open the corrupted segment, check it, read and write it. Exit 0
 * when check found problems, 1 when it found none, 2 when check failed,
 * 3 when the open failed; a crash shows as a signal. */
static int check_corrupted(void *arg)
{
    struct corrupt_arg *a = arg;
    shmc_t *c = NULL;
    int rc = shmc_open(a->name, 0, NULL, &c);
    if (rc != 0)
        return 3;
    int64_t problems = shmc_check(c, NULL, NULL);
    /* gets and sets must not crash either; whatever they return */
    unsigned char buf[4096];
    for (int i = 0; i < a->nkeys; i++) {
        char k[32];
        size_t vlen;
        snprintf(k, sizeof k, "fill-%d", i);
        (void)shmc_get(c, k, strlen(k), buf, sizeof buf, &vlen, NULL);
    }
    for (int i = 0; i < 200; i++) {
        char k[32];
        snprintf(k, sizeof k, "after-%d", i);
        (void)shmc_set(c, k, strlen(k), buf, 1000, 0, 0);
    }
    (void)shmc_flush_expired(c);
    shmc_close(c);
    if (problems < 0)
        return 2;
    return problems > 0 ? 0 : 1;
}

static void check_finds_a_corrupted_middle_without_crashing(void **state)
{
    tu_fixture_t *f = F(state);
    shmc_config_init(&f->cfg);
    f->cfg.capacity = 1024;
    f->cfg.memory = 256 * 1024;
    f->cfg.max_value_len = 4096;
    f->cfg.stripes = 4;
    fill_and_close(f, 2000);
    struct stat sb;
    assert_int_equal(stat(f->path, &sb), 0);
    size_t len = 16384;
    unsigned char *ff = malloc(len);
    assert_non_null(ff);
    memset(ff, 0xff, len);
    assert_int_equal(tu_file_pwrite(f->path, sb.st_size / 2 - (off_t)len / 2, ff, len), 0);
    free(ff);
    struct corrupt_arg a = {f->name, 2000};
    pid_t pid = tu_fork(check_corrupted, &a);
    assert_true(pid > 0);
    assert_int_equal(tu_wait(pid), 0);
}

static void check_finds_a_corrupted_index_without_crashing(void **state)
{
    tu_fixture_t *f = F(state);
    shmc_config_init(&f->cfg);
    f->cfg.capacity = 1024;
    f->cfg.memory = 256 * 1024;
    f->cfg.max_value_len = 4096;
    f->cfg.stripes = 4;
    fill_and_close(f, 2000);
    struct stat sb;
    assert_int_equal(stat(f->path, &sb), 0);
    /* Index and item memory come after the header and the tables at the
     * front: scribble 8 random bytes every 512 bytes between 1/3 and 3/4 of
     * the file, which hits slots and items but leaves most intact. */
    uint64_t s = 11;
    int fd = open(f->path, O_WRONLY);
    assert_true(fd >= 0);
    for (off_t off = sb.st_size / 3; off < sb.st_size * 3 / 4; off += 4096) {
        uint64_t junk = tu_rand(&s);
        for (off_t o = off + 64; o < off + 4096 - 8; o += 512)
            assert_int_equal(pwrite(fd, &junk, 8, o), 8);
    }
    close(fd);
    struct corrupt_arg a = {f->name, 2000};
    pid_t pid = tu_fork(check_corrupted, &a);
    assert_true(pid > 0);
    assert_int_equal(tu_wait(pid), 0);
}

/* ---- racing creators --------------------------------------------------- */

struct race_arg {
    const char *name;
    int id;
    tu_barrier_t *start, *done;
};

static int racing_creator(void *arg)
{
    struct race_arg *a = arg;
    if (tu_barrier_child(a->start, 10000) != 0)
        return 9;
    shmc_config_t cfg;
    tu_small_cfg(&cfg);
    shmc_t *c = NULL;
    int rc = shmc_open(a->name, SHMC_CREATE, &cfg, &c);
    if (rc != 0)
        return 10;
    char k[16];
    snprintf(k, sizeof k, "racer-%d", a->id);
    if (shmc_set(c, k, strlen(k), k, strlen(k), 0, 0) != 0)
        return 11;
    if (tu_barrier_child(a->done, 10000) != 0)
        return 12;
    /* everyone's key is in the one segment */
    for (int i = 0; i < 4; i++) {
        char buf[16];
        size_t vlen;
        snprintf(k, sizeof k, "racer-%d", i);
        if (shmc_get(c, k, strlen(k), buf, sizeof buf, &vlen, NULL) != 0)
            return 20 + i;
    }
    shmc_close(c);
    return 0;
}

static void processes_racing_to_create_one_name_share_one_segment(void **state)
{
    tu_fixture_t *f = F(state);
    for (int round = 0; round < 5; round++) {
        tu_barrier_t start, done;
        assert_int_equal(tu_barrier_open(&start), 0);
        assert_int_equal(tu_barrier_open(&done), 0);
        struct race_arg args[4];
        pid_t pids[4];
        for (int i = 0; i < 4; i++) {
            args[i] = (struct race_arg){f->name, i, &start, &done};
            pids[i] = tu_fork(racing_creator, &args[i]);
            assert_true(pids[i] > 0);
        }
        int bs = tu_barrier_parent(&start, 4, 10000);
        int bd = bs == 0 ? tu_barrier_parent(&done, 4, 10000) : -1;
        for (int i = 0; i < 4; i++) {
            int code = tu_wait(pids[i]);
            if (code != 0)
                fail_msg("round %d child %d exit %d", round, i, code);
        }
        assert_int_equal(bs, 0);
        assert_int_equal(bd, 0);
        tu_barrier_close(&start);
        tu_barrier_close(&done);
        {
            shmc_t *c = NULL;
            assert_int_equal(shmc_open(f->name, 0, NULL, &c), 0);
            assert_int_equal(shmc_check(c, NULL, NULL), 0);
            shmc_close(c);
        }
        assert_int_equal(shmc_unlink(f->name), 0);
    }
}

#define T(f) cmocka_unit_test_setup_teardown(f, tu_fixture_name_only, tu_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(open_with_create_makes_a_missing_segment),
        T(open_with_create_and_null_cfg_uses_the_defaults),
        T(open_without_create_fails_with_enoent_when_missing),
        T(open_with_excl_fails_with_eexist_when_present),
        T(unknown_flags_and_null_out_are_rejected_with_einval),
        T(names_with_and_without_a_slash_are_the_same_segment),
        T(invalid_names_are_rejected_with_einval),
        T(a_name_of_exactly_name_max_bytes_is_accepted),
        T(bad_geometry_is_rejected_with_einval),
        T(the_largest_key_length_is_accepted),
        T(capacity_is_kept_as_asked_and_the_index_gets_headroom),
        T(attaching_with_another_geometry_keeps_the_segments_own),
        T(a_junk_object_is_rejected_with_ebadmsg_and_left_unchanged),
        T(text_in_the_object_is_rejected_with_ebadmsg),
        T(files_of_zeros_are_rejected_with_ebadmsg_and_left_unchanged),
        T(an_empty_object_is_rejected_with_ebadmsg),
        T(a_truncated_segment_is_rejected_with_ebadmsg),
        T(a_grown_segment_is_rejected_with_ebadmsg),
        T(a_corrupt_magic_is_rejected_with_ebadmsg),
        T(another_layout_version_is_rejected_with_eproto),
        T(another_layout_fingerprint_is_rejected_with_eproto),
        T(a_wrong_size_field_is_rejected_with_ebadmsg),
        T(a_wrong_header_size_is_rejected),
        T(geometry_fields_of_the_header_are_checked),
        T(a_segment_owned_by_another_user_is_rejected_with_eacces),
        T(a_segment_with_a_wider_mode_is_rejected_with_eacces),
        T(a_segment_is_created_with_the_mode_asked_for),
        T(a_non_root_process_cannot_open_or_unlink_a_root_segment),
        T(a_segment_created_by_another_user_needs_any_owner),
        T(a_read_only_handle_rejects_writes_with_erofs),
        T(a_read_only_handle_can_get_stats_iterate_info_and_check),
        T(unlink_of_a_missing_segment_fails_with_enoent),
        T(unlink_removes_the_name_but_attached_handles_keep_working),
        T(probe_recognises_a_segment_and_rejects_junk),
        T(check_finds_a_corrupted_middle_without_crashing),
        T(check_finds_a_corrupted_index_without_crashing),
        T(processes_racing_to_create_one_name_share_one_segment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
