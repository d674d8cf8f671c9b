/*
 * test_crash.c - processes SIGKILLed inside a critical section.
 *
 * A child sets shmc__test_hook (shm/testhook.h) to a function that reports
 * the hook point and stripe through a pipe and then pause()s forever, and
 * calls shmc_set/shmc_delete. When the parent has read the report the child
 * is stopped inside the critical section, stripe lock held; the parent
 * SIGKILLs it and checks that the next operations on that stripe complete,
 * that at most one stripe's entries were lost, that no value is ever wrong,
 * that lock_recoveries counted it and that shmc_check finds nothing.
 *
 * Children never call cmocka asserts; they report through _exit() codes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"
#include "testhook.h"

#define KS(s) (s), strlen(s)
#define TIMEOUT_MS 10000
#define NPRE 2000
#define VBUF 1024
#define CRASH_KEY "crash-key"

enum handle_kind { INHERITED = 0, OWN = 1 };

/* ---- the child side -------------------------------------------------------- */

static int g_hook_point;  /* the point to stop at (child only) */
static int g_hook_fd = -1;

static void stop_here_hook(int point, unsigned stripe)
{
    if (point != g_hook_point)
        return;
    unsigned char msg[5];
    msg[0] = (unsigned char)point;
    memcpy(msg + 1, &stripe, 4);
    ssize_t w = write(g_hook_fd, msg, sizeof msg);
    (void)w;
    for (;;)
        pause();
}

struct crasher {
    tu_fixture_t *f;
    enum handle_kind kind;
    int point;         /* SHMC_HOOK_* */
    tu_pipe_t report;  /* child -> parent: point + stripe */
    uint64_t seq;      /* sequence number of the value the child writes */
};

/* Exit codes: 2 open failed, 3 warm-up get failed, 50 the operation
 * returned (the hook never stopped it), 51 + rc otherwise. */
static int crashing_child(void *arg)
{
    struct crasher *cr = arg;
    shmc_t *c = cr->f->c;
    if (cr->kind == OWN) {
        c = NULL;
        if (shmc_open(cr->f->name, 0, NULL, &c) != 0)
            return 2;
    }
    /* register this process before arming the hook */
    unsigned char v[VBUF];
    size_t vlen;
    int rc = shmc_get(c, KS(CRASH_KEY), v, sizeof v, &vlen, NULL);
    if (rc != 0 && rc != -ENOENT)
        return 3;
    g_hook_fd = cr->report.wr;
    g_hook_point = cr->point;
    shmc__test_hook = stop_here_hook;
    if (cr->point == SHMC_HOOK_CLEAR_SLOT) {
        rc = shmc_delete(c, KS(CRASH_KEY));
    } else {
        size_t len = tu_make_value(v, 700, CRASH_KEY, strlen(CRASH_KEY), cr->seq);
        rc = shmc_set(c, KS(CRASH_KEY), v, len, 0, tu_value_flags(v, len));
    }
    return rc == 0 ? 50 : 51;
}

/* ---- a reader that runs through the crash --------------------------------- */

struct reader {
    tu_fixture_t *f;
    tu_pipe_t stop;
};

static void pre_key(char *k, size_t cap, int i) { snprintf(k, cap, "pre-%05d", i); }

/* Loops on gets of the crash key and some others until told to stop; every
 * hit must be a whole value of its own key. Exit 0, 4 on an unexpected
 * error, 5 on a wrong value, 6 when it never got a hit. */
static int looping_reader(void *arg)
{
    struct reader *rd = arg;
    shmc_t *c = NULL;
    if (shmc_open(rd->f->name, 0, NULL, &c) != 0)
        return 2;
    unsigned char buf[VBUF];
    char k[32];
    uint64_t hits = 0;
    int code = 0;
    for (int n = 0; code == 0; n++) {
        if ((n & 63) == 0 && tu_pipe_ready(&rd->stop))
            break;
        if (n & 1)
            snprintf(k, sizeof k, "%s", CRASH_KEY);
        else
            pre_key(k, sizeof k, (n * 7919) % NPRE);
        size_t vlen = 0;
        shmc_item_info_t info;
        int rc = shmc_get(c, k, strlen(k), buf, sizeof buf, &vlen, &info);
        if (rc == -ENOENT || rc == -EDEADLK)
            continue;
        if (rc != 0) {
            code = 4;
            break;
        }
        hits++;
        if (tu_check_value(buf, vlen, k, strlen(k), NULL) != 0 ||
            info.flags != tu_value_flags(buf, vlen))
            code = 5;
    }
    shmc_close(c);
    if (code)
        return code;
    return hits ? 0 : 6;
}

/* ---- the parent side ----------------------------------------------------- */

static void set_checked(shmc_t *c, const char *k, uint64_t seq, size_t len)
{
    unsigned char v[VBUF];
    len = tu_make_value(v, len, k, strlen(k), seq);
    assert_int_equal(shmc_set(c, k, strlen(k), v, len, 0, tu_value_flags(v, len)), 0);
}

/* 1 hit with a whole value of this key (seq returned), 0 miss. Fails the test
 * on a wrong value or another error. */
static int get_checked(shmc_t *c, const char *k, uint64_t *seq)
{
    unsigned char buf[VBUF];
    size_t vlen = 0;
    shmc_item_info_t info;
    int rc = shmc_get(c, k, strlen(k), buf, sizeof buf, &vlen, &info);
    if (rc == -ENOENT)
        return 0;
    if (rc != 0)
        fail_msg("get %s: %d %s", k, rc, shmc_strerror(rc));
    assert_int_equal(tu_check_value(buf, vlen, k, strlen(k), seq), 0);
    assert_int_equal(info.flags, tu_value_flags(buf, vlen));
    return 1;
}

/* Fill NPRE keys across all stripes; which of them are present. */
static int fill_pre(shmc_t *c, unsigned char *present)
{
    char k[32];
    for (int i = 0; i < NPRE; i++) {
        pre_key(k, sizeof k, i);
        set_checked(c, k, (uint64_t)i, 32 + (size_t)(i % 300));
    }
    int n = 0;
    for (int i = 0; i < NPRE; i++) {
        pre_key(k, sizeof k, i);
        uint64_t seq = 0;
        present[i] = (unsigned char)get_checked(c, k, &seq);
        if (present[i])
            assert_int_equal(seq, (uint64_t)i);
        n += present[i];
    }
    return n;
}

/* How many of the keys present before are gone; every survivor is whole and
 * holds the value set before. */
static int count_lost(shmc_t *c, const unsigned char *present)
{
    char k[32];
    int lost = 0;
    for (int i = 0; i < NPRE; i++) {
        if (!present[i])
            continue;
        pre_key(k, sizeof k, i);
        uint64_t seq = 0;
        if (get_checked(c, k, &seq))
            assert_int_equal(seq, (uint64_t)i);
        else
            lost++;
    }
    return lost;
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "test_crash: timed out (a lock was never recovered?)\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(99);
}

static void guard(unsigned seconds)
{
    signal(SIGALRM, on_alarm);
    alarm(seconds);
}

/* Start the crashing child and wait until it is stopped at the hook. */
static pid_t start_crasher(struct crasher *cr, unsigned *stripe)
{
    assert_int_equal(tu_pipe_open(&cr->report), 0);
    pid_t pid = tu_fork(crashing_child, cr);
    assert_true(pid > 0);
    unsigned char msg[5];
    int rc = tu_pipe_read_watch(&cr->report, msg, sizeof msg, TIMEOUT_MS, &pid, 1);
    if (rc != 0) {
        kill(pid, SIGKILL);
        int code = tu_wait(pid);
        fail_msg("the child never reached hook point %d (exit %d)", cr->point, code);
    }
    assert_int_equal(msg[0], cr->point);
    memcpy(stripe, msg + 1, 4);
    return pid;
}

static void kill_child(pid_t pid)
{
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_int_equal(tu_wait(pid), 1000 + SIGKILL);
}

/*
 * The whole scenario for one hook point and handle kind; with_reader adds a
 * process that loops on gets through the crash.
 */
static void crash_and_recover(void **state, int point, enum handle_kind kind,
                              int with_reader)
{
    tu_fixture_t *f = *state;
    shmc_t *c = f->c;
    guard(60);
    unsigned char present[NPRE];
    int npresent = fill_pre(c, present);
    assert_true(npresent >= NPRE * 9 / 10);
    set_checked(c, CRASH_KEY, 1, 500);

    struct reader rd = {.f = f};
    pid_t rpid = -1;
    if (with_reader) {
        assert_int_equal(tu_pipe_open(&rd.stop), 0);
        rpid = tu_fork(looping_reader, &rd);
        assert_true(rpid > 0);
        tu_sleep_ms(20);
    }

    shmc_stats_t before;
    assert_int_equal(shmc_stats(c, &before), 0);
    struct crasher cr = {.f = f, .kind = kind, .point = point, .seq = 2};
    unsigned stripe = 0;
    pid_t pid = start_crasher(&cr, &stripe);
    assert_true(stripe < before.stripes);
    if (with_reader)
        tu_sleep_ms(100); /* the reader meets the held lock / odd slot */
    kill_child(pid);

    /* the same key, hence the same stripe: get, set, get, delete complete */
    uint64_t seq = 0;
    int hit = get_checked(c, CRASH_KEY, &seq);
    if (point == SHMC_HOOK_LOCKED)
        assert_true(hit && seq == 1); /* nothing had changed yet */
    else if (hit)
        assert_true(seq == 1 || seq == 2);
    set_checked(c, CRASH_KEY, 3, 400);
    assert_int_equal(get_checked(c, CRASH_KEY, &seq), 1);
    assert_int_equal(seq, 3);
    assert_int_equal(shmc_delete(c, KS(CRASH_KEY)), 0);
    assert_int_equal(get_checked(c, CRASH_KEY, &seq), 0);
    set_checked(c, CRASH_KEY, 4, 100);

    shmc_stats_t after;
    assert_int_equal(shmc_stats(c, &after), 0);
    assert_true(after.lock_recoveries >= before.lock_recoveries + 1);

    /* at most one stripe's worth of the other entries is lost */
    int lost = count_lost(c, present);
    int per_stripe = npresent / (int)after.stripes;
    print_message("hook %d, %s handle: stripe %u recovered, %d of %d entries lost "
                  "(recovered_lost %llu)\n",
                  point, kind == OWN ? "own" : "inherited", stripe, lost, npresent,
                  (unsigned long long)after.recovered_lost);
    assert_true(lost <= 2 * per_stripe + 8);

    if (with_reader) {
        tu_pipe_put(&rd.stop, 1, 's');
        assert_int_equal(tu_wait(rpid), 0);
        tu_pipe_close(&rd.stop);
    }

    int64_t problems = shmc_check(c, NULL, NULL);
    assert_int_equal(problems, 0);
    /* every stripe still takes writes */
    char k[32];
    for (int i = 0; i < NPRE; i++) {
        pre_key(k, sizeof k, i);
        set_checked(c, k, (uint64_t)i, 40);
    }
    assert_int_equal(shmc_check(c, NULL, NULL), 0);
    tu_pipe_close(&cr.report);
    alarm(0);
}

static void a_kill_while_holding_the_lock_is_recovered(void **state)
{
    crash_and_recover(state, SHMC_HOOK_LOCKED, INHERITED, 0);
}

static void a_kill_while_holding_the_lock_with_an_own_handle_is_recovered(void **state)
{
    crash_and_recover(state, SHMC_HOOK_LOCKED, OWN, 0);
}

static void a_kill_with_a_slot_half_written_is_recovered(void **state)
{
    crash_and_recover(state, SHMC_HOOK_SLOT_ODD, INHERITED, 0);
}

static void a_kill_with_a_slot_half_written_by_an_own_handle_is_recovered(void **state)
{
    crash_and_recover(state, SHMC_HOOK_SLOT_ODD, OWN, 0);
}

static void a_kill_in_the_middle_of_a_delete_is_recovered(void **state)
{
    crash_and_recover(state, SHMC_HOOK_CLEAR_SLOT, INHERITED, 0);
}

static void a_kill_in_the_middle_of_a_delete_by_an_own_handle_is_recovered(void **state)
{
    crash_and_recover(state, SHMC_HOOK_CLEAR_SLOT, OWN, 0);
}

static void a_reader_looping_through_a_kill_with_the_lock_held_never_gets_a_wrong_value(void **state)
{
    crash_and_recover(state, SHMC_HOOK_LOCKED, OWN, 1);
}

static void a_reader_looping_through_a_kill_mid_write_never_gets_a_wrong_value(void **state)
{
    crash_and_recover(state, SHMC_HOOK_SLOT_ODD, INHERITED, 1);
}

static void a_reader_looping_through_a_kill_mid_delete_never_gets_a_wrong_value(void **state)
{
    crash_and_recover(state, SHMC_HOOK_CLEAR_SLOT, OWN, 1);
}

static void repeated_kills_on_one_stripe_keep_being_recovered(void **state)
{
    tu_fixture_t *f = *state;
    shmc_t *c = f->c;
    guard(60);
    shmc_stats_t before;
    assert_int_equal(shmc_stats(c, &before), 0);
    const int points[] = {SHMC_HOOK_SLOT_ODD, SHMC_HOOK_LOCKED,
                          SHMC_HOOK_CLEAR_SLOT, SHMC_HOOK_SLOT_ODD,
                          SHMC_HOOK_SLOT_ODD};
    for (unsigned i = 0; i < sizeof points / sizeof points[0]; i++) {
        set_checked(c, CRASH_KEY, 100 + i, 300);
        struct crasher cr = {.f = f, .kind = (i % 2) ? OWN : INHERITED,
                             .point = points[i], .seq = 200 + i};
        unsigned stripe = 0;
        pid_t pid = start_crasher(&cr, &stripe);
        kill_child(pid);
        uint64_t seq = 0;
        if (get_checked(c, CRASH_KEY, &seq))
            assert_true(seq == 100 + i || seq == 200 + i);
        tu_pipe_close(&cr.report);
    }
    set_checked(c, CRASH_KEY, 999, 300);
    uint64_t seq = 0;
    assert_int_equal(get_checked(c, CRASH_KEY, &seq), 1);
    assert_int_equal(seq, 999);
    shmc_stats_t after;
    assert_int_equal(shmc_stats(c, &after), 0);
    assert_true(after.lock_recoveries >= before.lock_recoveries + 5);
    assert_int_equal(shmc_check(c, NULL, NULL), 0);
    alarm(0);
}

static void a_live_lock_holder_makes_writers_time_out_but_not_readers(void **state)
{
    tu_fixture_t *f = *state;
    shmc_t *c = f->c;
    guard(60);
    set_checked(c, CRASH_KEY, 1, 300);
    struct crasher cr = {.f = f, .kind = OWN, .point = SHMC_HOOK_LOCKED, .seq = 2};
    unsigned stripe = 0;
    pid_t pid = start_crasher(&cr, &stripe);
    /* the child is alive and holds the stripe lock: a get does not need it */
    uint64_t seq = 0;
    int hit = get_checked(c, CRASH_KEY, &seq);
    /* a write does, and gives up after the lock timeout */
    unsigned char v[64];
    size_t len = tu_make_value(v, 40, CRASH_KEY, strlen(CRASH_KEY), 3);
    int rc = shmc_set(c, KS(CRASH_KEY), v, len, 0, tu_value_flags(v, len));
    kill_child(pid);
    assert_int_equal(hit, 1);
    assert_int_equal(seq, 1);
    assert_int_equal(rc, -EDEADLK);
    /* now the owner is dead: the lock is recovered */
    set_checked(c, CRASH_KEY, 4, 300);
    assert_int_equal(get_checked(c, CRASH_KEY, &seq), 1);
    assert_int_equal(seq, 4);
    assert_int_equal(shmc_check(c, NULL, NULL), 0);
    tu_pipe_close(&cr.report);
    alarm(0);
}

/* ---- killed at a random instruction ------------------------------------ */

struct churner {
    tu_fixture_t *f;
    int id;
};

/* Sets, deletes and incrs as fast as it can until it is killed. */
static int busy_writer(void *arg)
{
    struct churner *ch = arg;
    shmc_t *c = ch->f->c;
    if (ch->id % 2 && shmc_open(ch->f->name, 0, NULL, &c) != 0)
        return 2;
    unsigned char v[VBUF];
    uint64_t s = tu_seed((uint64_t)ch->id), seq = 1000000;
    char k[32];
    for (;;) {
        uint64_t r = tu_rand(&s);
        pre_key(k, sizeof k, (int)(r % 300));
        int rc;
        if ((r >> 40) % 8 == 0) {
            rc = shmc_delete(c, k, strlen(k));
            if (rc == -ENOENT)
                rc = 0;
        } else if ((r >> 40) % 8 == 1) {
            uint64_t zero = 0;
            rc = shmc_incr(c, KS("churn-counter"), 1, &zero, 0, NULL);
        } else {
            size_t len = tu_make_value(v, (size_t)((r >> 8) % VBUF), k, strlen(k), seq++);
            rc = shmc_set(c, k, strlen(k), v, len, 0, tu_value_flags(v, len));
        }
        if (rc != 0)
            return 3;
    }
}

static void random_kills_of_busy_writers_never_corrupt_the_segment(void **state)
{
    tu_fixture_t *f = *state;
    shmc_t *c = f->c;
    guard(60);
    uint64_t s = tu_seed(42);
    for (int round = 0; round < 12; round++) {
        struct churner ch[2] = {{f, 2 * round}, {f, 2 * round + 1}};
        pid_t pids[2];
        for (int i = 0; i < 2; i++) {
            pids[i] = tu_fork(busy_writer, &ch[i]);
            assert_true(pids[i] > 0);
        }
        tu_sleep_ms(5 + tu_rand(&s) % 40);
        /* a writer that stopped by itself failed */
        assert_int_equal(tu_any_exited(pids, 2), 0);
        for (int i = 0; i < 2; i++)
            kill_child(pids[i]);
        /* every key: a miss or a whole value of its own */
        char k[32];
        for (int i = 0; i < 300; i++) {
            pre_key(k, sizeof k, i);
            (void)get_checked(c, k, NULL);
        }
        set_checked(c, "after-kill", (uint64_t)round, 200);
        assert_int_equal(shmc_check(c, NULL, NULL), 0);
    }
    shmc_stats_t st;
    assert_int_equal(shmc_stats(c, &st), 0);
    print_message("%llu lock recoveries, %llu entries dropped by them\n",
                  (unsigned long long)st.lock_recoveries,
                  (unsigned long long)st.recovered_lost);
    alarm(0);
}

/* ---- killed while merely attached ---------------------------------------- */

struct idler {
    tu_fixture_t *f;
    enum handle_kind kind;
    tu_pipe_t ready;
};

static int attached_idler(void *arg)
{
    struct idler *id = arg;
    shmc_t *c = id->f->c;
    if (id->kind == OWN && shmc_open(id->f->name, 0, NULL, &c) != 0)
        return 2;
    unsigned char buf[VBUF];
    char k[32];
    for (int i = 0; i < 100; i++) {
        size_t vlen;
        pre_key(k, sizeof k, i);
        (void)shmc_get(c, k, strlen(k), buf, sizeof buf, &vlen, NULL);
    }
    if (shmc_set(c, KS("idler"), "i", 1, 0, 0) != 0)
        return 3;
    if (tu_pipe_put(&id->ready, 1, 'r') != 0)
        return 4;
    for (;;)
        pause();
}

struct find_pid {
    pid_t pid;
    int found, alive;
};

static int find_pid_fn(const shmc_proc_info_t *p, void *arg)
{
    struct find_pid *fp = arg;
    if (p->pid == (uint32_t)fp->pid) {
        fp->found = 1;
        fp->alive = p->alive;
    }
    return 0;
}

static void a_kill_while_merely_attached_leaves_everything_intact(void **state)
{
    tu_fixture_t *f = *state;
    shmc_t *c = f->c;
    guard(60);
    unsigned char present[NPRE];
    int npresent = fill_pre(c, present);
    for (int kind = INHERITED; kind <= OWN; kind++) {
        shmc_stats_t before;
        assert_int_equal(shmc_stats(c, &before), 0);
        struct idler id = {.f = f, .kind = (enum handle_kind)kind};
        assert_int_equal(tu_pipe_open(&id.ready), 0);
        pid_t pid = tu_fork(attached_idler, &id);
        assert_true(pid > 0);
        int ready = tu_pipe_take_watch(&id.ready, 1, TIMEOUT_MS, &pid, 1);
        struct find_pid fp = {.pid = pid};
        if (ready == 0)
            assert_int_equal(shmc_procs(c, find_pid_fn, &fp), 0);
        kill_child(pid);
        assert_int_equal(ready, 0);
        assert_int_equal(fp.found, 1);
        assert_int_equal(fp.alive, 1);

        /* the kernel dropped its lock: shown dead or folded away */
        uint64_t deadline = tu_now_ms() + 2000;
        do {
            memset(&fp, 0, sizeof fp);
            fp.pid = pid;
            assert_int_equal(shmc_procs(c, find_pid_fn, &fp), 0);
            if (!fp.found || !fp.alive)
                break;
            tu_sleep_ms(10);
        } while (tu_now_ms() < deadline);
        assert_true(!fp.found || !fp.alive);

        shmc_stats_t after;
        assert_int_equal(shmc_stats(c, &after), 0);
        assert_int_equal(after.lock_recoveries, before.lock_recoveries);
        assert_int_equal(after.attached_processes, before.attached_processes);
        assert_int_equal(after.cmd_get - before.cmd_get, 100);
        assert_int_equal(count_lost(c, present), 0);
        char buf[4];
        size_t vlen;
        assert_int_equal(shmc_get(c, KS("idler"), buf, sizeof buf, &vlen, NULL), 0);
        assert_int_equal(shmc_delete(c, KS("idler")), 0);
        assert_int_equal(shmc_check(c, NULL, NULL), 0);
        tu_pipe_close(&id.ready);
    }
    (void)npresent;
    alarm(0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup, tu_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(a_kill_while_holding_the_lock_is_recovered),
        T(a_kill_while_holding_the_lock_with_an_own_handle_is_recovered),
        T(a_kill_with_a_slot_half_written_is_recovered),
        T(a_kill_with_a_slot_half_written_by_an_own_handle_is_recovered),
        T(a_kill_in_the_middle_of_a_delete_is_recovered),
        T(a_kill_in_the_middle_of_a_delete_by_an_own_handle_is_recovered),
        T(a_reader_looping_through_a_kill_with_the_lock_held_never_gets_a_wrong_value),
        T(a_reader_looping_through_a_kill_mid_write_never_gets_a_wrong_value),
        T(a_reader_looping_through_a_kill_mid_delete_never_gets_a_wrong_value),
        T(repeated_kills_on_one_stripe_keep_being_recovered),
        T(a_live_lock_holder_makes_writers_time_out_but_not_readers),
        T(random_kills_of_busy_writers_never_corrupt_the_segment),
        T(a_kill_while_merely_attached_leaves_everything_intact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
