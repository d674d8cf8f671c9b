/*
 * test_journal.c - the invalidation journal (shm/journal.c): what is
 * appended, reading from a position, overflow detection, remote apply,
 * the relay claim and status block, appends from several processes, and an
 * appender SIGKILLed mid-append.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "testutil.h"
#include "testhook.h"

#define JBYTES (64u * 1024u)

static int setup_journal(void **state)
{
    shmc_config_t cfg;
    tu_small_cfg(&cfg);
    cfg.journal_bytes = JBYTES;
    return tu_fixture_open(state, &cfg);
}

static int setup_writes(void **state)
{
    shmc_config_t cfg;
    tu_small_cfg(&cfg);
    cfg.journal_bytes = JBYTES;
    cfg.journal_flags = SHMC_JOURNAL_WRITES;
    return tu_fixture_open(state, &cfg);
}

/* What a read delivered, for the tests to look at. */
#define MAXRECS 4096
struct got {
    size_t n;
    uint64_t seq[MAXRECS];
    uint32_t kind[MAXRECS];
    char data[MAXRECS][32];
    size_t len[MAXRECS];
};

static int collect(const shmc_journal_rec_t *r, void *arg)
{
    struct got *g = arg;
    if (g->n < MAXRECS) {
        g->seq[g->n] = r->seq;
        g->kind[g->n] = r->kind;
        g->len[g->n] = r->len;
        size_t n = r->len < 31 ? r->len : 31;
        memcpy(g->data[g->n], r->data, n);
        g->data[g->n][n] = 0;
    }
    g->n++;
    return 0;
}

static void every_invalidation_is_journalled_in_order(void **state)
{
    tu_fixture_t *f = *state;
    shmc_t *c = f->c;
    assert_int_equal(shmc_set(c, "a", 1, "1", 1, 0, 0), 0);
    assert_int_equal(shmc_delete(c, "a", 1), 0);
    assert_int_equal(shmc_delete(c, "absent", 6), -ENOENT); /* journalled anyway */
    assert_int_equal(shmc_invalidate(c, "b", 1), -ENOENT);
    assert_int_equal(shmc_invalidate_tag(c, "product:1"), 0);
    assert_int_equal(shmc_clear(c), 0);
    static struct got g;
    memset(&g, 0, sizeof g);
    assert_int_equal(shmc_journal_read(c, 1, 0, collect, &g), 5);
    const uint32_t kinds[] = {SHMC_JOURNAL_DELETE, SHMC_JOURNAL_DELETE, SHMC_JOURNAL_INVALIDATE,
                              SHMC_JOURNAL_TAG, SHMC_JOURNAL_CLEAR};
    const char *data[] = {"a", "absent", "b", "product:1", ""};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(g.seq[i], i + 1);
        assert_int_equal(g.kind[i], kinds[i]);
        assert_string_equal(g.data[i], data[i]);
    }
    /* Nothing after the head; from the middle gives the rest. */
    assert_int_equal(shmc_journal_read(c, 6, 0, collect, &g), 0);
    memset(&g, 0, sizeof g);
    assert_int_equal(shmc_journal_read(c, 4, 0, collect, &g), 2);
    assert_int_equal(g.seq[0], 4);
    shmc_journal_info_t in;
    assert_int_equal(shmc_journal_info(c, &in), 0);
    assert_int_equal(in.head_seq, 6);
    assert_int_equal(in.tail_seq, 1);
    assert_int_equal(in.bytes, JBYTES);
}

static void sets_are_journalled_only_in_write_invalidate_mode(void **state)
{
    tu_fixture_t *f = *state;
    shmc_t *c = f->c;
    assert_int_equal(shmc_set(c, "k", 1, "v", 1, 0, 0), 0);
    shmc_journal_info_t in;
    assert_int_equal(shmc_journal_info(c, &in), 0);
    assert_int_equal(in.head_seq, 1); /* plain journal: sets are not recorded */
    shmc_close(c);
    f->c = NULL;
}

static void write_invalidate_mode_journals_every_store(void **state)
{
    tu_fixture_t *f = *state;
    shmc_t *c = f->c;
    uint64_t v, init = 5;
    assert_int_equal(shmc_set(c, "s", 1, "v", 1, 0, 0), 0);
    assert_int_equal(shmc_add(c, "a", 1, "v", 1, 0, 0), 0);
    assert_int_equal(shmc_add(c, "a", 1, "v", 1, 0, 0), -EEXIST); /* nothing stored */
    assert_int_equal(shmc_replace(c, "s", 1, "w", 1, 0, 0), 0);
    assert_int_equal(shmc_incr(c, "n", 1, 1, &init, 0, &v), 0);
    static struct got g;
    memset(&g, 0, sizeof g);
    assert_int_equal(shmc_journal_read(c, 1, 0, collect, &g), 4);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(g.kind[i], SHMC_JOURNAL_SET);
    assert_string_equal(g.data[3], "n");
}

static void a_reader_that_fell_behind_gets_overflow(void **state)
{
    tu_fixture_t *f = *state;
    shmc_t *c = f->c;
    char key[64];
    /* ~70-byte records in a 64 KiB ring: 3000 of them wrap it twice. */
    for (int i = 0; i < 3000; i++) {
        int n = snprintf(key, sizeof key, "key:%08d:padding-padding-pad", i);
        assert_int_equal(shmc_delete(c, key, (size_t)n), -ENOENT);
    }
    shmc_journal_info_t in;
    assert_int_equal(shmc_journal_info(c, &in), 0);
    assert_int_equal(in.head_seq, 3001);
    assert_true(in.tail_seq > 1);
    assert_true(in.used_bytes <= JBYTES);
    static struct got g;
    memset(&g, 0, sizeof g);
    assert_int_equal(shmc_journal_read(c, 1, 0, collect, &g), -EOVERFLOW);
    assert_int_equal(shmc_journal_read(c, in.tail_seq - 1, 0, collect, &g), -EOVERFLOW);
    /* From the tail on, every retained record, consecutive, none torn. */
    int64_t n = shmc_journal_read(c, in.tail_seq, 0, collect, &g);
    assert_int_equal(n, (int64_t)(3001 - in.tail_seq));
    for (size_t i = 0; i < g.n; i++) {
        assert_int_equal(g.seq[i], in.tail_seq + i);
        char want[64];
        snprintf(want, sizeof want, "key:%08d:padding-padding-pad", (int)(in.tail_seq + i - 1));
        want[31] = 0;
        assert_string_equal(g.data[i], want);
    }
    /* max bounds a read; the cursor carries on from there. */
    memset(&g, 0, sizeof g);
    assert_int_equal(shmc_journal_read(c, in.tail_seq, 10, collect, &g), 10);
    assert_int_equal(shmc_journal_read(c, in.tail_seq + 10, 10, collect, &g), 10);
    assert_int_equal(g.seq[19], in.tail_seq + 19);
}

static void bad_arguments_are_refused(void **state)
{
    tu_fixture_t *f = *state;
    shmc_t *c = f->c;
    static struct got g;
    assert_int_equal(shmc_journal_read(c, 0, 0, collect, &g), -EINVAL);
    assert_int_equal(shmc_journal_read(c, 5, 0, collect, &g), -EINVAL); /* beyond head */
    assert_int_equal(shmc_journal_read(c, 1, 0, NULL, &g), -EINVAL);
    assert_int_equal(shmc_journal_read(NULL, 1, 0, collect, &g), -EINVAL);
    assert_int_equal(shmc_journal_apply(c, 99, "k", 1), -EINVAL);
    assert_int_equal(shmc_journal_apply(c, SHMC_JOURNAL_TAG, "", 0), -EINVAL);
    assert_int_equal(shmc_journal_info(c, NULL), -EINVAL);

    shmc_config_t cfg;
    tu_small_cfg(&cfg);
    char name[TU_NAME_CAP], path[TU_PATH_CAP];
    shmc_t *x = NULL;
    tu_new_name(name, path);
    cfg.journal_bytes = 1000; /* below SHMC_JOURNAL_MIN */
    assert_int_equal(shmc_open(name, SHMC_CREATE | SHMC_EXCL, &cfg, &x), -EINVAL);
    cfg.journal_bytes = 0;
    cfg.journal_flags = SHMC_JOURNAL_WRITES; /* flags without a journal */
    assert_int_equal(shmc_open(name, SHMC_CREATE | SHMC_EXCL, &cfg, &x), -EINVAL);
    cfg.journal_bytes = JBYTES;
    cfg.journal_flags = 0x80;
    assert_int_equal(shmc_open(name, SHMC_CREATE | SHMC_EXCL, &cfg, &x), -EINVAL);
    assert_null(x);
    assert_int_equal(access(path, F_OK), -1); /* nothing was created */

    /* A segment without a journal says so. */
    tu_small_cfg(&cfg);
    assert_int_equal(shmc_open(name, SHMC_CREATE | SHMC_EXCL, &cfg, &x), 0);
    shmc_journal_info_t in;
    assert_int_equal(shmc_journal_info(x, &in), -ENOTSUP);
    assert_int_equal(shmc_journal_read(x, 1, 0, collect, &g), -ENOTSUP);
    assert_int_equal(shmc_relay_claim(x), -ENOTSUP);
    assert_int_equal(shmc_delete(x, "k", 1), -ENOENT); /* no journal, no change */
    shmc_close(x);
    shmc_unlink(name);
}

static void applying_a_remote_record_does_not_journal_it(void **state)
{
    tu_fixture_t *f = *state;
    shmc_t *c = f->c;
    char buf[8];
    size_t vlen;
    const char *tags[] = {"t1"};
    assert_int_equal(shmc_set(c, "k", 1, "v", 1, 0, 0), 0);
    assert_int_equal(shmc_set(c, "i", 1, "v", 1, 0, 0), 0);
    assert_int_equal(shmc_set_tagged(c, "t", 1, "v", 1, 0, 0, tags, 1), 0);
    assert_int_equal(shmc_set(c, "c", 1, "v", 1, 0, 0), 0);
    assert_int_equal(shmc_journal_apply(c, SHMC_JOURNAL_DELETE, "k", 1), 0);
    assert_int_equal(shmc_journal_apply(c, SHMC_JOURNAL_DELETE, "k", 1), 0); /* idempotent */
    assert_int_equal(shmc_get(c, "k", 1, buf, sizeof buf, &vlen, NULL), -ENOENT);
    assert_int_equal(shmc_journal_apply(c, SHMC_JOURNAL_INVALIDATE, "i", 1), 0);
    assert_int_equal(shmc_get(c, "i", 1, buf, sizeof buf, &vlen, NULL), -ENOENT);
    assert_int_equal(shmc_get_stale(c, "i", 1, buf, sizeof buf, &vlen, NULL), 0);
    assert_int_equal(shmc_journal_apply(c, SHMC_JOURNAL_TAG, "t1", 2), 0);
    assert_int_equal(shmc_get(c, "t", 1, buf, sizeof buf, &vlen, NULL), -ENOENT);
    assert_int_equal(shmc_journal_apply(c, SHMC_JOURNAL_CLEAR, NULL, 0), 0);
    assert_int_equal(shmc_get(c, "c", 1, buf, sizeof buf, &vlen, NULL), -ENOENT);
    shmc_journal_info_t in;
    assert_int_equal(shmc_journal_info(c, &in), 0);
    assert_int_equal(in.head_seq, 1);
    /* The thread's own calls are journalled again afterwards. */
    assert_int_equal(shmc_delete(c, "k", 1), -ENOENT);
    assert_int_equal(shmc_journal_info(c, &in), 0);
    assert_int_equal(in.head_seq, 2);
}

static void one_relay_claim_per_segment(void **state)
{
    tu_fixture_t *f = *state;
    shmc_t *a = NULL, *b = NULL;
    assert_int_equal(shmc_open(f->name, 0, NULL, &a), 0);
    assert_int_equal(shmc_open(f->name, 0, NULL, &b), 0);
    shmc_journal_info_t in;
    assert_int_equal(shmc_journal_info(f->c, &in), 0);
    assert_int_equal(in.relay_running, 0);
    assert_int_equal(shmc_relay_claim(a), 0);
    assert_int_equal(shmc_relay_claim(a), 0); /* again: still ours */
    assert_int_equal(shmc_relay_claim(b), -EBUSY);
    assert_int_equal(shmc_journal_info(f->c, &in), 0);
    assert_int_equal(in.relay_running, 1);

    shmc_relay_status_t st, back;
    memset(&st, 0, sizeof st);
    st.published_seq = 42;
    st.applied_id_ms = 1700000000000ull;
    st.applied_id_seq = 3;
    snprintf(st.origin, sizeof st.origin, "host-a");
    snprintf(st.clear_reason, sizeof st.clear_reason, "journal overflow");
    assert_int_equal(shmc_relay_status_set(b, &st), -EPERM);
    assert_int_equal(shmc_relay_status_set(a, &st), 0);
    assert_int_equal(shmc_relay_status_get(b, &back), 0);
    assert_int_equal(back.published_seq, 42);
    assert_int_equal(back.applied_id_seq, 3);
    assert_string_equal(back.origin, "host-a");
    assert_string_equal(back.clear_reason, "journal overflow");

    /* Closing the holder frees the claim (as the kernel does on death). */
    shmc_close(a);
    assert_int_equal(shmc_relay_claim(b), 0);
    shmc_close(b);
}

/* ---- several processes append at once */

#define PROCS 4
#define PER_PROC 2000

struct appender {
    const char *name;
    int id;
};

static int appender_child(void *arg)
{
    struct appender *ap = arg;
    shmc_t *c = NULL;
    if (shmc_open(ap->name, 0, NULL, &c) != 0)
        return 2;
    char key[32];
    for (int i = 0; i < PER_PROC; i++) {
        int n = snprintf(key, sizeof key, "p%d:%d", ap->id, i);
        int r = (i % 2) ? shmc_delete(c, key, (size_t)n) : shmc_invalidate(c, key, (size_t)n);
        if (r != -ENOENT)
            return 3;
    }
    shmc_close(c);
    return 0;
}

struct order {
    int next[PROCS];
    int bad;
    size_t n;
};

static int check_order(const shmc_journal_rec_t *r, void *arg)
{
    struct order *o = arg;
    int p, i;
    char tmp[32];
    size_t n = r->len < 31 ? r->len : 31;
    memcpy(tmp, r->data, n);
    tmp[n] = 0;
    if (sscanf(tmp, "p%d:%d", &p, &i) != 2 || p < 0 || p >= PROCS || o->next[p] != i ||
        r->kind != ((i % 2) ? SHMC_JOURNAL_DELETE : SHMC_JOURNAL_INVALIDATE))
        o->bad++;
    else
        o->next[p]++;
    o->n++;
    return 0;
}

static void processes_appending_at_once_lose_nothing(void **state)
{
    shmc_config_t cfg;
    tu_small_cfg(&cfg);
    cfg.journal_bytes = 1u << 20; /* holds all 8000 records */
    tu_fixture_t *f = NULL;
    assert_int_equal(tu_fixture_open((void **)&f, &cfg), 0);
    *state = f;
    struct appender ap[PROCS];
    pid_t pid[PROCS];
    for (int i = 0; i < PROCS; i++) {
        ap[i].name = f->name;
        ap[i].id = i;
        pid[i] = tu_fork(appender_child, &ap[i]);
        assert_true(pid[i] > 0);
    }
    for (int i = 0; i < PROCS; i++)
        assert_int_equal(tu_wait(pid[i]), 0);
    struct order o;
    memset(&o, 0, sizeof o);
    assert_int_equal(shmc_journal_read(f->c, 1, 0, check_order, &o), PROCS * PER_PROC);
    assert_int_equal(o.bad, 0);
    for (int i = 0; i < PROCS; i++)
        assert_int_equal(o.next[i], PER_PROC);
}

/* ---- an appender killed mid-append */

static tu_pipe_t g_report;

static void stop_in_journal(int point, unsigned stripe)
{
    (void)stripe;
    if (point != SHMC_HOOK_JOURNAL)
        return;
    unsigned char b = 1;
    ssize_t w = write(g_report.wr, &b, 1);
    (void)w;
    for (;;)
        pause();
}

static int dying_appender(void *arg)
{
    const char *name = arg;
    shmc_t *c = NULL;
    if (shmc_open(name, 0, NULL, &c) != 0)
        return 2;
    shmc__test_hook = stop_in_journal;
    shmc_delete(c, "victim", 6);
    return 50; /* the hook never stopped it */
}

static void an_appender_killed_mid_append_costs_a_reported_loss_not_a_hang(void **state)
{
    tu_fixture_t *f = *state;
    shmc_t *c = f->c;
    assert_int_equal(shmc_delete(c, "before", 6), -ENOENT); /* seq 1 */
    assert_int_equal(tu_pipe_open(&g_report), 0);
    pid_t pid = tu_fork(dying_appender, f->name);
    assert_true(pid > 0);
    unsigned char b;
    assert_int_equal(tu_pipe_read(&g_report, &b, 1, 10000), 0);
    kill(pid, SIGKILL);
    assert_int_equal(tu_wait(pid), 1000 + SIGKILL);
    tu_pipe_close(&g_report);

    /* The next appender recovers the lock at once and appends. */
    assert_int_equal(shmc_delete(c, "after", 5), -ENOENT);
    shmc_journal_info_t in;
    assert_int_equal(shmc_journal_info(c, &in), 0);
    assert_int_equal(in.recoveries, 1);
    assert_int_equal(in.head_seq, 3);  /* the dead one's record never got a number */
    assert_int_equal(in.tail_seq, 2);
    /* A reader behind the recovery learns it lost something. */
    static struct got g;
    memset(&g, 0, sizeof g);
    assert_int_equal(shmc_journal_read(c, 1, 0, collect, &g), -EOVERFLOW);
    assert_int_equal(shmc_journal_read(c, 2, 0, collect, &g), 1);
    assert_string_equal(g.data[0], "after");
    /* The key the dead process was deleting: its stripe lock was recovered too. */
    char buf[8];
    size_t vlen;
    assert_int_equal(shmc_set(c, "victim", 6, "v", 1, 0, 0), 0);
    assert_int_equal(shmc_get(c, "victim", 6, buf, sizeof buf, &vlen, NULL), 0);
}

static void attach_refuses_a_corrupt_journal_geometry(void **state)
{
    tu_fixture_t *f = *state;
    shmc_close(f->c);
    f->c = NULL;
    /* A journal size no creation could have chosen: refused at attach,
     * because the header checksum no longer matches. */
    int fd = open(f->path, O_RDWR);
    assert_true(fd >= 0);
    uint64_t odd = 12345;
    assert_int_equal(pwrite(fd, &odd, 8, 168), 8);
    close(fd);
    shmc_t *x = NULL;
    assert_int_equal(shmc_open(f->name, 0, NULL, &x), -EBADMSG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(every_invalidation_is_journalled_in_order, setup_journal, tu_teardown),
        cmocka_unit_test_setup_teardown(sets_are_journalled_only_in_write_invalidate_mode, setup_journal, tu_teardown),
        cmocka_unit_test_setup_teardown(write_invalidate_mode_journals_every_store, setup_writes, tu_teardown),
        cmocka_unit_test_setup_teardown(a_reader_that_fell_behind_gets_overflow, setup_journal, tu_teardown),
        cmocka_unit_test_setup_teardown(bad_arguments_are_refused, setup_journal, tu_teardown),
        cmocka_unit_test_setup_teardown(applying_a_remote_record_does_not_journal_it, setup_journal, tu_teardown),
        cmocka_unit_test_setup_teardown(one_relay_claim_per_segment, setup_journal, tu_teardown),
        cmocka_unit_test_teardown(processes_appending_at_once_lose_nothing, tu_teardown),
        cmocka_unit_test_setup_teardown(an_appender_killed_mid_append_costs_a_reported_loss_not_a_hang, setup_journal, tu_teardown),
        cmocka_unit_test_setup_teardown(attach_refuses_a_corrupt_journal_geometry, setup_journal, tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
