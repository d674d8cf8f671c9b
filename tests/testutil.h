/*
 * testutil.h - small helpers shared by the shmcache cmocka tests.
 *
 *   - unique segment names ("/shmc-test-<pid>-<n>") and their /dev/shm path
 *   - a fixture (setup/teardown) that creates a segment and always unlinks it
 *   - fork helpers: the child runs a function and reports through _exit();
 *     it never calls a cmocka assert (cmocka 1.1.5 would run the remaining
 *     tests again in the child)
 *   - pipes used as barriers between a parent and its children
 *   - self-checking values: the value embeds its key, a sequence number and a
 *     checksum, so a reader can tell a torn or misplaced value
 *   - file hashing, to prove that a failed open changed nothing
 *
 * Include after <cmocka.h> only if you need cmocka; nothing here uses it.
 */
#ifndef SHMC_TESTUTIL_H
#define SHMC_TESTUTIL_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shmcache.h"

#define TU_NAME_CAP 64
#define TU_PATH_CAP 96

/* ---- time -------------------------------------------------------------- */

static inline uint64_t tu_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static inline void tu_sleep_ms(uint64_t ms)
{
    struct timespec ts;
    ts.tv_sec = (time_t)(ms / 1000u);
    ts.tv_nsec = (long)((ms % 1000u) * 1000000u);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- names ------------------------------------------------------------- */

/* name: "/shmc-test-<pid>-<n>", path: "/dev/shm/shmc-test-<pid>-<n>" */
static inline void tu_new_name(char name[TU_NAME_CAP], char path[TU_PATH_CAP])
{
    static unsigned counter;
    unsigned n = __atomic_add_fetch(&counter, 1u, __ATOMIC_RELAXED);
    snprintf(name, TU_NAME_CAP, "/shmc-test-%ld-%u", (long)getpid(), n);
    if (path)
        snprintf(path, TU_PATH_CAP, "/dev/shm%s", name);
}

/* ---- fixture ----------------------------------------------------------- */

typedef struct tu_fixture {
    char name[TU_NAME_CAP];
    char path[TU_PATH_CAP];
    shmc_config_t cfg;
    shmc_t *c;
} tu_fixture_t;

/* A small segment that every test can afford. */
static inline void tu_small_cfg(shmc_config_t *cfg)
{
    shmc_config_init(cfg);
    cfg->capacity = 4096;
    cfg->memory = 2u << 20;
    cfg->max_key_len = 250;
    cfg->max_value_len = 64u * 1024u;
    cfg->stripes = 16;
}

/* Create a fresh segment from cfg (NULL: tu_small_cfg); 0 or -1. */
static inline int tu_fixture_open(void **state, const shmc_config_t *cfg)
{
    tu_fixture_t *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    tu_new_name(f->name, f->path);
    if (cfg)
        f->cfg = *cfg;
    else
        tu_small_cfg(&f->cfg);
    int rc = shmc_open(f->name, SHMC_CREATE | SHMC_EXCL, &f->cfg, &f->c);
    if (rc != 0) {
        fprintf(stderr, "fixture: shmc_open(%s): %d %s\n", f->name, rc,
                shmc_strerror(rc));
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

/* A fixture with a name but no segment (for tests of shmc_open itself). */
static inline int tu_fixture_name_only(void **state)
{
    tu_fixture_t *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    tu_new_name(f->name, f->path);
    tu_small_cfg(&f->cfg);
    *state = f;
    return 0;
}

static inline int tu_setup(void **state) { return tu_fixture_open(state, NULL); }

static inline int tu_teardown(void **state)
{
    tu_fixture_t *f = *state;
    if (!f)
        return 0;
    shmc_close(f->c);
    f->c = NULL;
    (void)shmc_unlink(f->name);
    (void)unlink(f->path); /* junk objects that shmc_unlink may refuse */
    free(f);
    *state = NULL;
    return 0;
}

/* ---- processes --------------------------------------------------------- */

/* Undo cmocka's signal handlers so that a crash kills the child (and the
 * parent sees WIFSIGNALED) instead of jumping into cmocka's runner. */
static inline void tu_child_init(unsigned alarm_s)
{
    signal(SIGSEGV, SIG_DFL);
    signal(SIGBUS, SIG_DFL);
    signal(SIGILL, SIG_DFL);
    signal(SIGFPE, SIG_DFL);
    signal(SIGABRT, SIG_DFL);
    signal(SIGALRM, SIG_DFL);
    alarm(alarm_s); /* a stuck child never outlives the test binary by much */
}

/* Fork; the child runs fn(arg) and _exit()s with its return value. */
static inline pid_t tu_fork(int (*fn)(void *), void *arg)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        tu_child_init(60);
        int rc = fn(arg);
        _exit(rc & 0xff);
    }
    return pid;
}

/* Exit code of the child, 1000 + signal number if it was killed, -1 on
 * error. */
static inline int tu_wait(pid_t pid)
{
    int st = 0;
    pid_t r;
    do {
        r = waitpid(pid, &st, 0);
    } while (r < 0 && errno == EINTR);
    if (r != pid)
        return -1;
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 1000 + WTERMSIG(st);
    return -1;
}

/* ---- pipes ------------------------------------------------------------- */

typedef struct tu_pipe {
    int rd, wr;
} tu_pipe_t;

static inline int tu_pipe_open(tu_pipe_t *p)
{
    int fd[2] = {-1, -1};
    p->rd = p->wr = -1;
    if (pipe(fd) != 0)
        return -1;
    p->rd = fd[0];
    p->wr = fd[1];
    return 0;
}

static inline void tu_pipe_close(tu_pipe_t *p)
{
    if (p->rd >= 0)
        close(p->rd);
    if (p->wr >= 0)
        close(p->wr);
    p->rd = p->wr = -1;
}

/* Write n bytes (value b). 0 or -1. */
static inline int tu_pipe_put(tu_pipe_t *p, size_t n, unsigned char b)
{
    while (n > 0) {
        ssize_t w = write(p->wr, &b, 1);
        if (w < 0 && errno == EINTR)
            continue;
        if (w != 1)
            return -1;
        n--;
    }
    return 0;
}

/* Write len bytes. 0 or -1. */
static inline int tu_pipe_write(tu_pipe_t *p, const void *buf, size_t len)
{
    const unsigned char *b = buf;
    while (len > 0) {
        ssize_t w = write(p->wr, b, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Read len bytes within timeout_ms (total). 0, or -1 on timeout/EOF/error. */
static inline int tu_pipe_read(tu_pipe_t *p, void *buf, size_t len,
                               int timeout_ms)
{
    unsigned char *b = buf;
    uint64_t deadline = tu_now_ms() + (uint64_t)timeout_ms;
    while (len > 0) {
        uint64_t now = tu_now_ms();
        if (now >= deadline)
            return -1;
        struct pollfd pfd = {.fd = p->rd, .events = POLLIN};
        int pr = poll(&pfd, 1, (int)(deadline - now));
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            return -1;
        ssize_t r = read(p->rd, b, len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        b += r;
        len -= (size_t)r;
    }
    return 0;
}

/* Take n bytes (whatever they are). 0 or -1. */
static inline int tu_pipe_take(tu_pipe_t *p, size_t n, int timeout_ms)
{
    unsigned char buf[64];
    while (n > 0) {
        size_t k = n < sizeof buf ? n : sizeof buf;
        if (tu_pipe_read(p, buf, k, timeout_ms) != 0)
            return -1;
        n -= k;
    }
    return 0;
}

/* 1 when a byte is ready to be read now, else 0. */
static inline int tu_pipe_ready(tu_pipe_t *p)
{
    struct pollfd pfd = {.fd = p->rd, .events = POLLIN};
    return poll(&pfd, 1, 0) == 1;
}

/* 1 when one of the children has exited (it is not reaped), else 0. */
static inline int tu_any_exited(const pid_t *pids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        if (waitid(P_PID, (id_t)pids[i], &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
            si.si_pid == pids[i])
            return 1;
    }
    return 0;
}

/* tu_pipe_read that gives up (-1) as soon as one of the children exits
 * without having written its share, instead of waiting for the timeout. */
static inline int tu_pipe_read_watch(tu_pipe_t *p, void *buf, size_t len,
                                     int timeout_ms, const pid_t *pids,
                                     size_t npids)
{
    unsigned char *b = buf;
    uint64_t deadline = tu_now_ms() + (uint64_t)timeout_ms;
    while (len > 0) {
        if (tu_pipe_read(p, b, 1, 50) == 0) {
            b++;
            len--;
            continue;
        }
        if (tu_any_exited(pids, npids)) {
            /* it may have written before exiting: drain what is there */
            while (len > 0 && tu_pipe_ready(p) && tu_pipe_read(p, b, 1, 10) == 0) {
                b++;
                len--;
            }
            return len == 0 ? 0 : -1;
        }
        if (tu_now_ms() >= deadline)
            return -1;
    }
    return 0;
}

static inline int tu_pipe_take_watch(tu_pipe_t *p, size_t n, int timeout_ms,
                                     const pid_t *pids, size_t npids)
{
    unsigned char scratch[64];
    while (n > 0) {
        size_t k = n < sizeof scratch ? n : sizeof scratch;
        if (tu_pipe_read_watch(p, scratch, k, timeout_ms, pids, npids) != 0)
            return -1;
        n -= k;
    }
    return 0;
}

/* A single-use barrier between a parent and n children: each child says
 * "ready" and waits for "go"; the parent waits for n "ready" and then says
 * "go" n times. Single-use: reused for several rounds, a fast child could
 * take a slower one's "go" (use a pipe per child for that). */
typedef struct tu_barrier {
    tu_pipe_t ready, go;
} tu_barrier_t;

static inline int tu_barrier_open(tu_barrier_t *b)
{
    b->ready.rd = b->ready.wr = b->go.rd = b->go.wr = -1;
    if (tu_pipe_open(&b->ready) != 0)
        return -1;
    if (tu_pipe_open(&b->go) != 0) {
        tu_pipe_close(&b->ready);
        return -1;
    }
    return 0;
}

static inline void tu_barrier_close(tu_barrier_t *b)
{
    tu_pipe_close(&b->ready);
    tu_pipe_close(&b->go);
}

static inline int tu_barrier_child(tu_barrier_t *b, int timeout_ms)
{
    if (tu_pipe_put(&b->ready, 1, 'r') != 0)
        return -1;
    return tu_pipe_take(&b->go, 1, timeout_ms);
}

static inline int tu_barrier_parent(tu_barrier_t *b, size_t n, int timeout_ms)
{
    if (tu_pipe_take(&b->ready, n, timeout_ms) != 0)
        return -1;
    return tu_pipe_put(&b->go, n, 'g');
}

/* As tu_barrier_parent, but gives up as soon as one of the children exits. */
static inline int tu_barrier_parent_watch(tu_barrier_t *b, size_t n,
                                          int timeout_ms, const pid_t *pids,
                                          size_t npids)
{
    if (tu_pipe_take_watch(&b->ready, n, timeout_ms, pids, npids) != 0)
        return -1;
    return tu_pipe_put(&b->go, n, 'g');
}

/* ---- hashing and random numbers ---------------------------------------- */

static inline uint64_t tu_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

static inline uint64_t tu_hash(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return tu_mix64(h ^ (uint64_t)len);
}

/* xorshift64*; *s must not be 0. */
static inline uint64_t tu_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dull;
}

static inline uint64_t tu_seed(uint64_t salt)
{
    uint64_t s = tu_mix64(((uint64_t)getpid() << 32) ^ tu_now_ms() ^
                          (salt * 0x9e3779b97f4a7c15ull));
    return s ? s : 1;
}

/* Hash and size of a whole file; 0 or -errno. */
static inline int tu_file_hash(const char *path, uint64_t *hash, off_t *size)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -errno;
    uint64_t h = 0xcbf29ce484222325ull;
    off_t total = 0;
    unsigned char buf[65536];
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            return -e;
        }
        if (r == 0)
            break;
        for (ssize_t i = 0; i < r; i++) {
            h ^= buf[i];
            h *= 0x100000001b3ull;
        }
        total += r;
    }
    close(fd);
    *hash = h;
    *size = total;
    return 0;
}

/* Overwrite len bytes at off of path with buf; 0 or -errno. */
static inline int tu_file_pwrite(const char *path, off_t off, const void *buf,
                                 size_t len)
{
    int fd = open(path, O_WRONLY);
    if (fd < 0)
        return -errno;
    ssize_t w = pwrite(fd, buf, len, off);
    int e = errno;
    close(fd);
    if (w < 0)
        return -e;
    return (size_t)w == len ? 0 : -EIO;
}

static inline int tu_file_pread(const char *path, off_t off, void *buf,
                                size_t len)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -errno;
    ssize_t r = pread(fd, buf, len, off);
    int e = errno;
    close(fd);
    if (r < 0)
        return -e;
    return (size_t)r == len ? 0 : -EIO;
}

/* ---- self-checking values ---------------------------------------------- */
/*
 * [u32 total length][u16 key length][key][u64 seq][filler][u64 checksum]
 * The checksum covers every byte before it. Total length >= TU_VAL_MIN(klen).
 */
#define TU_VAL_MIN(klen) (4u + 2u + (size_t)(klen) + 8u + 8u)

static inline size_t tu_make_value(unsigned char *buf, size_t len,
                                   const void *key, size_t klen, uint64_t seq)
{
    if (len < TU_VAL_MIN(klen))
        len = TU_VAL_MIN(klen);
    uint32_t l32 = (uint32_t)len;
    uint16_t k16 = (uint16_t)klen;
    size_t o = 0;
    memcpy(buf + o, &l32, 4);
    o += 4;
    memcpy(buf + o, &k16, 2);
    o += 2;
    memcpy(buf + o, key, klen);
    o += klen;
    memcpy(buf + o, &seq, 8);
    o += 8;
    uint64_t s = tu_mix64(seq + 0x1234567ull) | 1u;
    while (o < len - 8) {
        buf[o++] = (unsigned char)(tu_rand(&s) >> 56);
    }
    uint64_t sum = tu_hash(buf, len - 8);
    memcpy(buf + len - 8, &sum, 8);
    return len;
}

/* 0 when buf/vlen is a whole value made by tu_make_value for exactly this
 * key; otherwise a small positive number that says what is wrong. */
static inline int tu_check_value(const unsigned char *buf, size_t vlen,
                                 const void *key, size_t klen, uint64_t *seq)
{
    if (vlen < TU_VAL_MIN(klen))
        return 1;
    uint32_t l32;
    uint16_t k16;
    memcpy(&l32, buf, 4);
    memcpy(&k16, buf + 4, 2);
    if (l32 != vlen)
        return 2;
    if (k16 != klen || memcmp(buf + 6, key, klen) != 0)
        return 3;
    uint64_t sum;
    memcpy(&sum, buf + vlen - 8, 8);
    if (sum != tu_hash(buf, vlen - 8))
        return 4;
    if (seq)
        memcpy(seq, buf + 6 + klen, 8);
    return 0;
}

/* The flags a self-checked value is stored with (ties metadata to data). */
static inline uint32_t tu_value_flags(const unsigned char *buf, size_t vlen)
{
    uint64_t sum;
    memcpy(&sum, buf + vlen - 8, 8);
    return (uint32_t)(sum >> 17);
}

#endif /* SHMC_TESTUTIL_H */
