/* two_procs.c - two processes share one cache entry: the parent sets it, a
 * child attaches by name, reads it and deletes it, the parent sees it gone. */
#include <shmcache.h>

#include <errno.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    char name[64], buf[64];
    size_t len;
    shmc_t *c;
    int rc, status;

    snprintf(name, sizeof name, "/two-procs-%d", (int)getpid());
    if ((rc = shmc_open(name, SHMC_CREATE | SHMC_EXCL, NULL, &c)) < 0) {
        fprintf(stderr, "shmc_open: %s\n", shmc_strerror(rc));
        return 1;
    }
    shmc_set(c, "greeting", 8, "hello", 5, 0 /* no TTL */, 0);
    printf("parent: set greeting = hello\n");
    fflush(stdout);

    pid_t pid = fork();
    if (pid == 0) {                         /* child: a separate process */
        shmc_t *cc;
        if (shmc_open(name, 0, NULL, &cc) < 0 ||
            shmc_get(cc, "greeting", 8, buf, sizeof buf, &len, NULL) < 0)
            _exit(1);
        printf("child:  got greeting = %.*s; deleting it\n", (int)len, buf);
        fflush(stdout);
        _exit(shmc_delete(cc, "greeting", 8) == 0 ? 0 : 1);
    }
    waitpid(pid, &status, 0);

    rc = shmc_get(c, "greeting", 8, buf, sizeof buf, &len, NULL);
    printf("parent: get greeting -> %s\n",
           rc == -ENOENT ? "miss: the child's delete is seen here" : "still there?");
    shmc_close(c);
    shmc_unlink(name);
    return pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 && rc == -ENOENT ? 0 : 1;
}
