/*
 * createrace.c - many processes create-or-attach the same new name at the
 * same instant, round after round; every one of them must get a handle on
 * one and the same segment.
 *
 * Each round forks --procs children that block on a pipe; closing its
 * write end releases them all at once into shmc_open(name, SHMC_CREATE).
 * A child that opens stores its own key; the parent then checks that one
 * segment holds every child's key (all attached the same object, nobody
 * built a private one). Any failed open, missing key or crashed child is a
 * failure. The segment is unlinked before the next round.
 *
 * Usage: createrace [--rounds N] [--procs P]
 * Exit 0 when every round succeeded, 1 otherwise.
 *
 * Built a second time as createrace-named with CREATERACE_NO_TMPFILE and
 * -Wl,--wrap=open: open(O_TMPFILE) then fails with EOPNOTSUPP inside the
 * library, so the same race runs through the named fallback (a private
 * name, flock-held while building, swept only when unlocked and old).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shmcache.h"
#include "chaosutil.h"

#define MAX_PROCS 64

#ifdef CREATERACE_NO_TMPFILE
#include <fcntl.h>
#include <stdarg.h>
int __real_open(const char *path, int flags, ...);
int __wrap_open(const char *path, int flags, ...);
int __wrap_open(const char *path, int flags, ...)
{
    int mode = 0;
    if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, int);
        va_end(ap);
    }
    if ((flags & O_TMPFILE) == O_TMPFILE) {
        errno = EOPNOTSUPP; /* as on a file system without O_TMPFILE */
        return -1;
    }
    return __real_open(path, flags, mode);
}
#endif

static int child(const char *name, int gate, unsigned i)
{
    char b;
    while (read(gate, &b, 1) < 0 && errno == EINTR) {
    }
    shmc_config_t cfg;
    shmc_config_init(&cfg);
    cfg.capacity = 256;
    cfg.memory = 256u << 10;
    cfg.max_value_len = 1024;
    shmc_t *c = NULL;
    int r = shmc_open(name, SHMC_CREATE, &cfg, &c);
    if (r) {
        fprintf(stderr, "createrace: child %u: shmc_open: %s (%s)\n", i, shmc_strerror(r),
                shmc_open_error());
        return 10 + (-r & 0x7f);
    }
    char k[16];
    snprintf(k, sizeof k, "p%u", i);
    r = shmc_set(c, k, strlen(k), "1", 1, 0, 0);
    shmc_close(c);
    return r ? 3 : 0;
}

int main(int argc, char **argv)
{
    unsigned rounds = 100, procs = 8;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--procs") && i + 1 < argc)
            procs = (unsigned)strtoul(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: createrace [--rounds N] [--procs P]\n");
            return 2;
        }
    }
    if (procs == 0 || procs > MAX_PROCS) {
        fprintf(stderr, "createrace: --procs must be 1..%d\n", MAX_PROCS);
        return 2;
    }
    unsigned failed_rounds = 0, failed_opens = 0, missing = 0, crashed = 0;
    uint64_t t0 = cu_now_ns();
    for (unsigned round = 0; round < rounds; round++) {
        char name[64];
        snprintf(name, sizeof name, "/shmc-race-%ld-%u", (long)getpid(), round);
        shmc_unlink(name);
        int gate[2];
        if (pipe(gate) != 0) {
            perror("pipe");
            return 1;
        }
        pid_t pid[MAX_PROCS];
        for (unsigned i = 0; i < procs; i++) {
            pid[i] = fork();
            if (pid[i] == 0) {
                close(gate[1]);
                _exit(child(name, gate[0], i));
            }
        }
        close(gate[0]);
        close(gate[1]); /* releases every child at once */
        unsigned bad = 0;
        for (unsigned i = 0; i < procs; i++) {
            int st = 0;
            while (waitpid(pid[i], &st, 0) < 0 && errno == EINTR) {
            }
            if (WIFSIGNALED(st)) {
                crashed++;
                bad++;
            } else if (WEXITSTATUS(st) != 0) {
                failed_opens++;
                bad++;
            }
        }
        shmc_t *c = NULL;
        if (shmc_open(name, 0, NULL, &c) == 0) {
            for (unsigned i = 0; i < procs; i++) {
                char k[16], v[4];
                size_t vlen;
                snprintf(k, sizeof k, "p%u", i);
                if (shmc_get(c, k, strlen(k), v, sizeof v, &vlen, NULL) != 0) {
                    missing++;
                    bad++;
                }
            }
            shmc_close(c);
        } else {
            missing += procs;
            bad++;
        }
        shmc_unlink(name);
        failed_rounds += bad != 0;
    }
    double secs = (double)(cu_now_ns() - t0) / 1e9;
    printf("create race%s: %u rounds x %u processes in %.1f s: %u failed rounds "
           "(%u failed opens, %u keys missing, %u crashed)\n",
#ifdef CREATERACE_NO_TMPFILE
           " (named fallback, no O_TMPFILE)",
#else
           "",
#endif
           rounds, procs, secs, failed_rounds, failed_opens, missing, crashed);
    return failed_rounds ? 1 : 0;
}
