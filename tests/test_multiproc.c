/*
 * test_multiproc.c - real processes sharing a real segment.
 *
 * Children never call cmocka asserts: they _exit() with a code (0 = fine,
 * anything else names the check that failed) and the parent asserts on it.
 * Children use either the handle inherited across fork() or one they open
 * themselves; both are tested.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <cmocka.h>

#include <sched.h>

#include "testutil.h"

#define KS(s) (s), strlen(s)
#define TIMEOUT_MS 20000

enum handle_kind { INHERITED = 0, OWN = 1 };

struct child {
    tu_fixture_t *f;
    enum handle_kind kind;
    int id;
    tu_pipe_t to_child;   /* parent -> this child */
    tu_pipe_t *to_parent; /* shared: children -> parent */
    uint64_t ms;          /* how long to run, for the stress children */
    int nkeys;            /* keys to read; in the removal test: the op */
    int nchildren;
};

/* The handle a child works with: the inherited one, or its own. */
static shmc_t *child_handle(struct child *ch)
{
    if (ch->kind == INHERITED)
        return ch->f->c;
    shmc_t *c = NULL;
    if (shmc_open(ch->f->name, 0, NULL, &c) != 0)
        return NULL;
    return c;
}

static void child_release(struct child *ch, shmc_t *c)
{
    if (ch->kind == OWN)
        shmc_close(c);
}

static void run_children(struct child *ch, int n, int (*fn)(void *), pid_t *pids)
{
    for (int i = 0; i < n; i++) {
        pids[i] = tu_fork(fn, &ch[i]);
        assert_true(pids[i] > 0);
    }
}

static void wait_children_ok(pid_t *pids, int n)
{
    int bad = 0;
    for (int i = 0; i < n; i++) {
        int code = tu_wait(pids[i]);
        if (code != 0) {
            print_error("child %d (pid %ld) exited with %d\n", i,
                        (long)pids[i], code);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

/* ---- set in one process, get in others ---------------------------------- */

static int child_reads_parent_keys(void *arg)
{
    struct child *ch = arg;
    shmc_t *c = child_handle(ch);
    if (!c)
        return 2;
    for (int i = 0; i < ch->nkeys; i++) {
        char k[32], v[32], buf[32];
        size_t vlen = 0;
        snprintf(k, sizeof k, "p-%d", i);
        snprintf(v, sizeof v, "parent-%d", i);
        if (shmc_get(c, k, strlen(k), buf, sizeof buf, &vlen, NULL) != 0)
            return 3;
        if (vlen != strlen(v) || memcmp(buf, v, vlen) != 0)
            return 4;
    }
    /* and write one key for the parent to see */
    char k[32];
    snprintf(k, sizeof k, "child-%d", ch->id);
    if (shmc_set(c, k, strlen(k), k, strlen(k), 0, (uint32_t)ch->id) != 0)
        return 5;
    child_release(ch, c);
    return 0;
}

static void set_in_one_process_is_seen_by_the_others(void **state)
{
    tu_fixture_t *f = *state;
    enum { NK = 200, NC = 4 };
    for (int i = 0; i < NK; i++) {
        char k[32], v[32];
        snprintf(k, sizeof k, "p-%d", i);
        snprintf(v, sizeof v, "parent-%d", i);
        assert_int_equal(shmc_set(f->c, k, strlen(k), v, strlen(v), 0, 0), 0);
    }
    struct child ch[NC];
    pid_t pids[NC];
    memset(ch, 0, sizeof ch);
    for (int i = 0; i < NC; i++) {
        ch[i].f = f;
        ch[i].kind = (i % 2) ? OWN : INHERITED;
        ch[i].id = i;
        ch[i].nkeys = NK;
    }
    run_children(ch, NC, child_reads_parent_keys, pids);
    wait_children_ok(pids, NC);
    for (int i = 0; i < NC; i++) {
        char k[32], buf[32];
        size_t vlen = 0;
        shmc_item_info_t info;
        snprintf(k, sizeof k, "child-%d", i);
        assert_int_equal(shmc_get(f->c, k, strlen(k), buf, sizeof buf, &vlen, &info), 0);
        assert_int_equal(vlen, strlen(k));
        assert_memory_equal(buf, k, vlen);
        assert_int_equal(info.flags, (uint32_t)i);
    }
}

/* ---- a completed delete/clear is seen by everyone ----------------------- */

enum { ROUNDS = 100 };
enum { OP_DELETE = 'd', OP_CLEAR = 'c', OP_OVERWRITE = 'o' };

/*
 * Protocol, per round r:
 *   parent: set key = "v<r>"; send 'n' to each child; wait for their 'a'.
 *   child:  on 'n', gets must return "v<r>"; ack 'a'; then spin on gets
 *           (each hit must be "v<r>", a miss is fine) until the next byte:
 *   parent: delete (or clear); send 'x' to each child; wait for 'a'.
 *   child:  on 'x', the very next get must miss; ack 'a'.
 * With OP_OVERWRITE the parent sets "v<r>new" instead of removing, and after
 * 'x' the child must get exactly that (during the spin, either value).
 */
static int child_never_sees_a_removed_value(void *arg)
{
    struct child *ch = arg;
    shmc_t *c = child_handle(ch);
    if (!c)
        return 2;
    char buf[64], want[32], want2[40];
    size_t vlen;
    for (int r = 0; r < ROUNDS; r++) {
        unsigned char b = 0;
        if (tu_pipe_read(&ch->to_child, &b, 1, TIMEOUT_MS) != 0 || b != 'n')
            return 3;
        snprintf(want, sizeof want, "v%d", r);
        snprintf(want2, sizeof want2, "v%dnew", r);
        int rc = shmc_get(c, KS("inval"), buf, sizeof buf, &vlen, NULL);
        if (rc != 0)
            return 4; /* the set completed before 'n' */
        if (vlen != strlen(want) || memcmp(buf, want, vlen) != 0)
            return 5;
        if (tu_pipe_put(ch->to_parent, 1, 'a') != 0)
            return 6;
        /* spin while the parent removes it (yielding now and then: on two
         * cores the parent must get to run) */
        for (unsigned spins = 1;; spins++) {
            if ((spins & 15) == 0)
                sched_yield();
            rc = shmc_get(c, KS("inval"), buf, sizeof buf, &vlen, NULL);
            if (rc == 0 && (vlen != strlen(want) || memcmp(buf, want, vlen) != 0) &&
                (ch->nkeys != OP_OVERWRITE || vlen != strlen(want2) ||
                 memcmp(buf, want2, vlen) != 0))
                return 7; /* a value that was never stored this round */
            if (rc != 0 && rc != -ENOENT)
                return 8;
            if (tu_pipe_ready(&ch->to_child))
                break;
        }
        if (tu_pipe_read(&ch->to_child, &b, 1, TIMEOUT_MS) != 0 || b != 'x')
            return 9;
        for (int i = 0; i < 4; i++) {
            rc = shmc_get(c, KS("inval"), buf, sizeof buf, &vlen, NULL);
            if (ch->nkeys == OP_OVERWRITE) {
                if (rc != 0 || vlen != strlen(want2) || memcmp(buf, want2, vlen) != 0)
                    return 13; /* the old value after a completed overwrite */
            } else if (rc != -ENOENT) {
                return i == 0 ? 10 : 11; /* resurrected after delete/clear */
            }
        }
        if (tu_pipe_put(ch->to_parent, 1, 'a') != 0)
            return 12;
    }
    child_release(ch, c);
    return 0;
}

static void removal_is_seen_by_every_other_process(void **state, int op)
{
    tu_fixture_t *f = *state;
    enum { NC = 3 };
    tu_pipe_t back;
    assert_int_equal(tu_pipe_open(&back), 0);
    struct child ch[NC];
    pid_t pids[NC];
    memset(ch, 0, sizeof ch);
    for (int i = 0; i < NC; i++) {
        ch[i].f = f;
        ch[i].kind = (i % 2) ? OWN : INHERITED;
        ch[i].id = i;
        ch[i].to_parent = &back;
        ch[i].nkeys = op; /* tells the child what the parent does */
        assert_int_equal(tu_pipe_open(&ch[i].to_child), 0);
    }
    run_children(ch, NC, child_never_sees_a_removed_value, pids);
    int ok = 1;
    for (int r = 0; r < ROUNDS && ok; r++) {
        char v[32];
        snprintf(v, sizeof v, "v%d", r);
        /* other keys too, so a clear has something else to drop */
        assert_int_equal(shmc_set(f->c, KS("other"), v, strlen(v), 0, 0), 0);
        assert_int_equal(shmc_set(f->c, KS("inval"), v, strlen(v), 0, 0), 0);
        for (int i = 0; i < NC; i++)
            ok &= tu_pipe_put(&ch[i].to_child, 1, 'n') == 0;
        ok &= tu_pipe_take_watch(&back, NC, TIMEOUT_MS, pids, NC) == 0;
        if (!ok)
            break;
        if (op == OP_DELETE) {
            assert_int_equal(shmc_delete(f->c, KS("inval")), 0);
        } else if (op == OP_CLEAR) {
            assert_int_equal(shmc_clear(f->c), 0);
        } else {
            char v2[40];
            snprintf(v2, sizeof v2, "v%dnew", r);
            assert_int_equal(shmc_set(f->c, KS("inval"), v2, strlen(v2), 0, 0), 0);
        }
        for (int i = 0; i < NC; i++)
            ok &= tu_pipe_put(&ch[i].to_child, 1, 'x') == 0;
        ok &= tu_pipe_take_watch(&back, NC, TIMEOUT_MS, pids, NC) == 0;
    }
    if (!ok) /* a child failed; make the others stop */
        for (int i = 0; i < NC; i++)
            kill(pids[i], SIGKILL);
    wait_children_ok(pids, NC);
    assert_true(ok);
    for (int i = 0; i < NC; i++)
        tu_pipe_close(&ch[i].to_child);
    tu_pipe_close(&back);
}

static void a_completed_delete_is_never_followed_by_the_old_value(void **state)
{
    removal_is_seen_by_every_other_process(state, OP_DELETE);
}

static void a_completed_clear_is_never_followed_by_an_old_value(void **state)
{
    removal_is_seen_by_every_other_process(state, OP_CLEAR);
}

static void a_completed_overwrite_is_never_followed_by_the_old_value(void **state)
{
    removal_is_seen_by_every_other_process(state, OP_OVERWRITE);
}

/* ---- no torn values under concurrent writers ------------------------------ */

enum { STRESS_KEYS = 8, STRESS_VMAX = 6000 };

static void stress_key(char *k, size_t cap, uint64_t i)
{
    snprintf(k, cap, "stress-%llu", (unsigned long long)i);
}

static int stress_writer(void *arg)
{
    struct child *ch = arg;
    shmc_t *c = child_handle(ch);
    if (!c)
        return 2;
    unsigned char *v = malloc(STRESS_VMAX);
    if (!v)
        return 3;
    uint64_t s = tu_seed((uint64_t)ch->id + 100), seq = 0;
    uint64_t end = tu_now_ms() + ch->ms;
    char k[32];
    while (tu_now_ms() < end) {
        for (int n = 0; n < 64; n++) {
            uint64_t r = tu_rand(&s);
            stress_key(k, sizeof k, r % STRESS_KEYS);
            /* nkeys 1: one size, so every set rewrites its item in place */
            size_t want = ch->nkeys == 1 ? 200 : (size_t)((r >> 16) % STRESS_VMAX);
            size_t len = tu_make_value(v, want, k,
                                       strlen(k), ((uint64_t)ch->id << 48) | seq++);
            uint32_t flags = tu_value_flags(v, len);
            int rc;
            switch ((r >> 40) % 16) {
            case 0:
                rc = shmc_delete(c, k, strlen(k));
                if (rc == -ENOENT)
                    rc = 0;
                break;
            case 1:
                rc = shmc_add(c, k, strlen(k), v, len, 0, flags);
                if (rc == -EEXIST)
                    rc = 0;
                break;
            case 2:
                rc = shmc_replace(c, k, strlen(k), v, len, 0, flags);
                if (rc == -ENOENT)
                    rc = 0;
                break;
            default:
                rc = shmc_set(c, k, strlen(k), v, len, 0, flags);
                break;
            }
            if (rc != 0) {
                free(v);
                return 4;
            }
        }
    }
    free(v);
    child_release(ch, c);
    return 0;
}

static int stress_reader(void *arg)
{
    struct child *ch = arg;
    shmc_t *c = child_handle(ch);
    if (!c)
        return 2;
    unsigned char *buf = malloc(STRESS_VMAX);
    if (!buf)
        return 3;
    uint64_t s = tu_seed((uint64_t)ch->id + 200), hits = 0;
    uint64_t end = tu_now_ms() + ch->ms;
    char k[32];
    int code = 0;
    while (code == 0 && tu_now_ms() < end) {
        for (int n = 0; n < 256; n++) {
            stress_key(k, sizeof k, tu_rand(&s) % STRESS_KEYS);
            size_t vlen = 0;
            shmc_item_info_t info;
            int rc = shmc_get(c, k, strlen(k), buf, STRESS_VMAX, &vlen, &info);
            if (rc == -ENOENT)
                continue;
            if (rc != 0) {
                code = 4;
                break;
            }
            hits++;
            if (tu_check_value(buf, vlen, k, strlen(k), NULL) != 0) {
                code = 5; /* torn or foreign value */
                break;
            }
            if (info.flags != tu_value_flags(buf, vlen)) {
                code = 6; /* flags of another write than the value */
                break;
            }
        }
    }
    free(buf);
    child_release(ch, c);
    if (code)
        return code;
    return hits > 0 ? 0 : 7;
}

struct iter_state {
    shmc_t *c;
    unsigned char *buf;
    uint64_t seen;
    int code;
};

/* Every entry the walk hands out is a stress key with a plausible length;
 * reading it back gives a whole value of that key. */
static int iter_check_fn(const shmc_entry_t *e, void *arg)
{
    struct iter_state *is = arg;
    is->seen++;
    char k[32];
    if (e->klen < 8 || e->klen >= sizeof k || memcmp(e->key, "stress-", 7) != 0) {
        is->code = 8;
        return 1;
    }
    memcpy(k, e->key, e->klen);
    k[e->klen] = '\0';
    if (e->vlen < TU_VAL_MIN(e->klen) || e->vlen > STRESS_VMAX) {
        is->code = 9;
        return 1;
    }
    size_t vlen = 0;
    int rc = shmc_get(is->c, k, e->klen, is->buf, STRESS_VMAX, &vlen, NULL);
    if (rc == 0 && tu_check_value(is->buf, vlen, k, e->klen, NULL) != 0) {
        is->code = 5;
        return 1;
    }
    if (rc != 0 && rc != -ENOENT) {
        is->code = 4;
        return 1;
    }
    return 0;
}

static int stress_iterator(void *arg)
{
    struct child *ch = arg;
    shmc_t *c = child_handle(ch);
    if (!c)
        return 2;
    struct iter_state is = {.c = c, .buf = malloc(STRESS_VMAX)};
    if (!is.buf)
        return 3;
    uint64_t end = tu_now_ms() + ch->ms;
    while (is.code == 0 && tu_now_ms() < end) {
        int rc = shmc_iterate(c, iter_check_fn, &is);
        if (rc < 0)
            is.code = 10;
    }
    free(is.buf);
    child_release(ch, c);
    if (is.code)
        return is.code;
    return is.seen > 0 ? 0 : 7;
}

static void torn_value_stress(void **state, bool same_size, uint64_t ms)
{
    tu_fixture_t *f = *state;
    enum { NW = 2, NR = 3 };
    struct child ch[NW + NR];
    pid_t pids[NW + NR];
    memset(ch, 0, sizeof ch);
    for (int i = 0; i < NW + NR; i++) {
        ch[i].f = f;
        ch[i].kind = (i % 2) ? OWN : INHERITED;
        ch[i].id = i;
        ch[i].ms = ms;
        ch[i].nkeys = same_size && i < NW ? 1 : 0;
    }
    for (int i = 0; i < NW; i++) {
        pids[i] = tu_fork(stress_writer, &ch[i]);
        assert_true(pids[i] > 0);
    }
    for (int i = NW; i < NW + NR; i++) {
        pids[i] = tu_fork(i == NW + NR - 1 ? stress_iterator : stress_reader, &ch[i]);
        assert_true(pids[i] > 0);
    }
    wait_children_ok(pids, NW + NR);
    assert_int_equal(shmc_check(f->c, NULL, NULL), 0);
    /* what is left is whole too */
    unsigned char *buf = malloc(STRESS_VMAX);
    assert_non_null(buf);
    for (uint64_t i = 0; i < STRESS_KEYS; i++) {
        char k[32];
        size_t vlen;
        stress_key(k, sizeof k, i);
        int rc = shmc_get(f->c, k, strlen(k), buf, STRESS_VMAX, &vlen, NULL);
        if (rc == 0)
            assert_int_equal(tu_check_value(buf, vlen, k, strlen(k), NULL), 0);
        else
            assert_int_equal(rc, -ENOENT);
    }
    free(buf);
}

static void readers_never_see_a_torn_value_while_writers_collide(void **state)
{
    torn_value_stress(state, false, 2500);
}

/* Sets of one size rewrite the item in place (write.c, overwrite_locked):
 * readers copying it meanwhile must retry, never return a mix. */
static void readers_never_see_a_torn_value_while_in_place_overwrites_collide(void **state)
{
    torn_value_stress(state, true, 1500);
}

/* ---- counters and races across processes --------------------------------- */

enum { INCR_PROCS = 4, INCR_EACH = 3000 };

static int incr_child(void *arg)
{
    struct child *ch = arg;
    shmc_t *c = child_handle(ch);
    if (!c)
        return 2;
    uint64_t zero = 0;
    for (int i = 0; i < INCR_EACH; i++) {
        uint64_t r = 0;
        if (shmc_incr(c, KS("counter"), 1, &zero, 0, &r) != 0)
            return 3;
        if (shmc_incr(c, KS("updown"), (i % 2) ? -1 : 1, &zero, 0, &r) != 0)
            return 4;
    }
    child_release(ch, c);
    return 0;
}

static void incr_from_many_processes_sums_exactly(void **state)
{
    tu_fixture_t *f = *state;
    struct child ch[INCR_PROCS];
    pid_t pids[INCR_PROCS];
    memset(ch, 0, sizeof ch);
    for (int i = 0; i < INCR_PROCS; i++) {
        ch[i].f = f;
        ch[i].kind = (i % 2) ? OWN : INHERITED;
        ch[i].id = i;
    }
    run_children(ch, INCR_PROCS, incr_child, pids);
    wait_children_ok(pids, INCR_PROCS);
    uint64_t r = 0;
    assert_int_equal(shmc_incr(f->c, KS("counter"), 0, NULL, 0, &r), 0);
    /* the first incr creates the entry holding 0 without applying delta */
    assert_int_equal(r, INCR_PROCS * INCR_EACH - 1);
    /* +1/-1 pairs: decrements that met 0 were floored, so it is >= 0 and
     * at most the number of increments */
    assert_int_equal(shmc_incr(f->c, KS("updown"), 0, NULL, 0, &r), 0);
    assert_true(r <= INCR_PROCS * INCR_EACH / 2);
}

struct race {
    struct child ch;
    tu_barrier_t *bar;
    int rounds;
};

/* Each round all children add the same fresh key at once; reports through
 * the pipe whether its add won (one byte per round: '1' or '0'). Start of a
 * round: the child says 'r' on the shared ready pipe and waits for 'g' on its
 * own pipe (a shared "go" pipe would let a fast child take a slow one's go). */
static int add_racer(void *arg)
{
    struct race *ra = arg;
    shmc_t *c = child_handle(&ra->ch);
    if (!c)
        return 2;
    for (int r = 0; r < ra->rounds; r++) {
        if (tu_pipe_put(&ra->bar->ready, 1, 'r') != 0 ||
            tu_pipe_take(&ra->ch.to_child, 1, TIMEOUT_MS) != 0)
            return 3;
        char k[32], v[32];
        snprintf(k, sizeof k, "race-%d", r);
        snprintf(v, sizeof v, "winner-%d", ra->ch.id);
        int rc = shmc_add(c, k, strlen(k), v, strlen(v), 0, (uint32_t)ra->ch.id);
        if (rc != 0 && rc != -EEXIST)
            return 4;
        if (tu_pipe_put(ra->ch.to_parent, 1, rc == 0 ? '1' : '0') != 0)
            return 5;
    }
    child_release(&ra->ch, c);
    return 0;
}

static void exactly_one_of_many_racing_adds_wins(void **state)
{
    tu_fixture_t *f = *state;
    enum { NC = 4, RR = 100 };
    tu_barrier_t bar;
    tu_pipe_t back;
    assert_int_equal(tu_barrier_open(&bar), 0);
    assert_int_equal(tu_pipe_open(&back), 0);
    struct race ra[NC];
    pid_t pids[NC];
    memset(ra, 0, sizeof ra);
    for (int i = 0; i < NC; i++) {
        ra[i].ch.f = f;
        ra[i].ch.kind = (i % 2) ? OWN : INHERITED;
        ra[i].ch.id = i;
        ra[i].ch.to_parent = &back;
        ra[i].bar = &bar;
        ra[i].rounds = RR;
        assert_int_equal(tu_pipe_open(&ra[i].ch.to_child), 0);
        pids[i] = tu_fork(add_racer, &ra[i]);
        assert_true(pids[i] > 0);
    }
    int ok = 1, bad_rounds = 0;
    for (int r = 0; r < RR && ok; r++) {
        ok = tu_pipe_take_watch(&bar.ready, NC, TIMEOUT_MS, pids, NC) == 0;
        for (int i = 0; i < NC && ok; i++)
            ok = tu_pipe_put(&ra[i].ch.to_child, 1, 'g') == 0;
        unsigned char res[NC];
        ok = ok && tu_pipe_read_watch(&back, res, NC, TIMEOUT_MS, pids, NC) == 0;
        if (!ok)
            break;
        int wins = 0;
        for (int i = 0; i < NC; i++)
            wins += res[i] == '1';
        if (wins != 1)
            bad_rounds++;
        /* the stored value is the winner's, whole */
        char k[32], buf[32];
        size_t vlen;
        shmc_item_info_t info;
        snprintf(k, sizeof k, "race-%d", r);
        assert_int_equal(shmc_get(f->c, k, strlen(k), buf, sizeof buf, &vlen, &info), 0);
        char want[32];
        snprintf(want, sizeof want, "winner-%u", info.flags);
        assert_int_equal(vlen, strlen(want));
        assert_memory_equal(buf, want, vlen);
    }
    if (!ok)
        for (int i = 0; i < NC; i++)
            kill(pids[i], SIGKILL);
    wait_children_ok(pids, NC);
    assert_true(ok);
    assert_int_equal(bad_rounds, 0);
    for (int i = 0; i < NC; i++)
        tu_pipe_close(&ra[i].ch.to_child);
    tu_barrier_close(&bar);
    tu_pipe_close(&back);
}

/* ---- process table and statistics ------------------------------------- */

struct procs_scan {
    pid_t pid;
    int found, alive, self_found;
    uint64_t cmd_get;
};

static int procs_scan_fn(const shmc_proc_info_t *p, void *arg)
{
    struct procs_scan *s = arg;
    if (p->pid == (uint32_t)s->pid) {
        s->found++;
        s->alive = p->alive;
        s->cmd_get = p->cmd_get;
    }
    if (p->self)
        s->self_found++;
    return 0;
}

struct holder {
    struct child ch;
    tu_pipe_t ready, release;
    int gets;
};

/* Attach, do some gets, say ready, wait for release, then exit. */
static int attached_child(void *arg)
{
    struct holder *h = arg;
    shmc_t *c = child_handle(&h->ch);
    if (!c)
        return 2;
    char buf[8];
    size_t vlen;
    for (int i = 0; i < h->gets; i++)
        (void)shmc_get(c, KS("k"), buf, sizeof buf, &vlen, NULL);
    if (tu_pipe_put(&h->ready, 1, 'r') != 0)
        return 3;
    if (tu_pipe_take(&h->release, 1, TIMEOUT_MS) != 0)
        return 4;
    child_release(&h->ch, c);
    return 0;
}

static void other_processes_show_in_procs_and_their_gets_in_stats(void **state)
{
    tu_fixture_t *f = *state;
    assert_int_equal(shmc_set(f->c, KS("k"), "v", 1, 0, 0), 0);
    for (int kind = INHERITED; kind <= OWN; kind++) {
        shmc_stats_t before;
        assert_int_equal(shmc_stats(f->c, &before), 0);
        struct holder h;
        memset(&h, 0, sizeof h);
        h.ch.f = f;
        h.ch.kind = (enum handle_kind)kind;
        h.gets = 25;
        assert_int_equal(tu_pipe_open(&h.ready), 0);
        assert_int_equal(tu_pipe_open(&h.release), 0);
        pid_t pid = tu_fork(attached_child, &h);
        assert_true(pid > 0);
        int ready = tu_pipe_take_watch(&h.ready, 1, TIMEOUT_MS, &pid, 1);
        struct procs_scan s = {.pid = pid};
        shmc_stats_t during;
        if (ready == 0) {
            assert_int_equal(shmc_procs(f->c, procs_scan_fn, &s), 0);
            assert_int_equal(shmc_stats(f->c, &during), 0);
        }
        tu_pipe_put(&h.release, 1, 'x');
        assert_int_equal(tu_wait(pid), 0);
        assert_int_equal(ready, 0);
        assert_int_equal(s.found, 1);
        assert_int_equal(s.alive, 1);
        assert_int_equal(s.self_found, 1);
        assert_int_equal(s.cmd_get, 25);
        assert_true(during.attached_processes >= 2);
        assert_int_equal(during.cmd_get - before.cmd_get, 25);
        assert_int_equal(during.get_hits - before.get_hits, 25);
        /* after it exited its gets still count, and it is no longer alive */
        shmc_stats_t after;
        assert_int_equal(shmc_stats(f->c, &after), 0);
        assert_int_equal(after.cmd_get - before.cmd_get, 25);
        assert_int_equal(after.get_hits - before.get_hits, 25);
        assert_int_equal(after.attached_processes, before.attached_processes);
        memset(&s, 0, sizeof s);
        s.pid = pid;
        assert_int_equal(shmc_procs(f->c, procs_scan_fn, &s), 0);
        assert_true(s.found == 0 || s.alive == 0);
        tu_pipe_close(&h.ready);
        tu_pipe_close(&h.release);
    }
}

static int closes_inherited_then_exits(void *arg)
{
    struct child *ch = arg;
    char buf[8];
    size_t vlen;
    if (shmc_get(ch->f->c, KS("k"), buf, sizeof buf, &vlen, NULL) != 0)
        return 2;
    if (shmc_set(ch->f->c, KS("from-child"), "c", 1, 0, 0) != 0)
        return 3;
    shmc_close(ch->f->c);
    return 0;
}

static void a_child_closing_its_inherited_handle_leaves_the_parents_working(void **state)
{
    tu_fixture_t *f = *state;
    assert_int_equal(shmc_set(f->c, KS("k"), "v", 1, 0, 0), 0);
    struct child ch = {.f = f, .kind = INHERITED};
    pid_t pid = tu_fork(closes_inherited_then_exits, &ch);
    assert_true(pid > 0);
    assert_int_equal(tu_wait(pid), 0);
    char buf[8];
    size_t vlen;
    assert_int_equal(shmc_get(f->c, KS("from-child"), buf, sizeof buf, &vlen, NULL), 0);
    assert_int_equal(shmc_set(f->c, KS("k2"), "v", 1, 0, 0), 0);
    assert_int_equal(shmc_get(f->c, KS("k2"), buf, sizeof buf, &vlen, NULL), 0);
    assert_int_equal(shmc_check(f->c, NULL, NULL), 0);
}

static int grandchild_fn(void *arg)
{
    struct child *ch = arg;
    char buf[8];
    size_t vlen;
    if (shmc_get(ch->f->c, KS("k"), buf, sizeof buf, &vlen, NULL) != 0)
        return 2;
    return shmc_set(ch->f->c, KS("grandchild"), "g", 1, 0, 0) == 0 ? 0 : 3;
}

static int child_forks_again(void *arg)
{
    struct child *ch = arg;
    /* use the handle in the child first, then fork a grandchild */
    if (shmc_set(ch->f->c, KS("child"), "c", 1, 0, 0) != 0)
        return 2;
    pid_t pid = tu_fork(grandchild_fn, ch);
    if (pid < 0)
        return 3;
    int code = tu_wait(pid);
    return code == 0 ? 0 : 10 + (code > 200 ? 200 : code);
}

static void an_inherited_handle_works_in_a_grandchild(void **state)
{
    tu_fixture_t *f = *state;
    assert_int_equal(shmc_set(f->c, KS("k"), "v", 1, 0, 0), 0);
    struct child ch = {.f = f, .kind = INHERITED};
    pid_t pid = tu_fork(child_forks_again, &ch);
    assert_true(pid > 0);
    assert_int_equal(tu_wait(pid), 0);
    char buf[8];
    size_t vlen;
    assert_int_equal(shmc_get(f->c, KS("child"), buf, sizeof buf, &vlen, NULL), 0);
    assert_int_equal(shmc_get(f->c, KS("grandchild"), buf, sizeof buf, &vlen, NULL), 0);
}

/* The child's first call on its inherited handle is shmc_stats: it must
 * count the parent as attached (found by PHP-FPM workers: through the
 * parent's file description, the parent's row locks looked like the
 * child's own, the parent was taken for dead and its rows were folded). */
static int stats_first_in_child(void *arg)
{
    struct child *ch = arg;
    shmc_stats_t st;
    if (shmc_stats(ch->f->c, &st) != 0)
        return 2;
    if (st.attached_processes < 2)
        return 3;
    if (st.get_hits < 1)
        return 4; /* the parent's hit must still be counted, not lost */
    return 0;
}

static void stats_in_a_fresh_fork_child_count_the_parent_as_alive(void **state)
{
    tu_fixture_t *f = *state;
    assert_int_equal(shmc_set(f->c, KS("k"), "v", 1, 0, 0), 0);
    char buf[8];
    size_t vlen;
    assert_int_equal(shmc_get(f->c, KS("k"), buf, sizeof buf, &vlen, NULL), 0);
    struct child ch = {.f = f, .kind = INHERITED};
    pid_t pid = tu_fork(stats_first_in_child, &ch);
    assert_true(pid > 0);
    assert_int_equal(tu_wait(pid), 0);
    shmc_stats_t st;
    assert_int_equal(shmc_stats(f->c, &st), 0);
    assert_int_equal(st.attached_processes, 1);
    assert_true(st.get_hits >= 1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup, tu_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(set_in_one_process_is_seen_by_the_others),
        T(a_completed_delete_is_never_followed_by_the_old_value),
        T(a_completed_clear_is_never_followed_by_an_old_value),
        T(a_completed_overwrite_is_never_followed_by_the_old_value),
        T(readers_never_see_a_torn_value_while_writers_collide),
        T(readers_never_see_a_torn_value_while_in_place_overwrites_collide),
        T(incr_from_many_processes_sums_exactly),
        T(exactly_one_of_many_racing_adds_wins),
        T(other_processes_show_in_procs_and_their_gets_in_stats),
        T(a_child_closing_its_inherited_handle_leaves_the_parents_working),
        T(an_inherited_handle_works_in_a_grandchild),
        T(stats_in_a_fresh_fork_child_count_the_parent_as_alive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
