/*
 * server.c - start and stop the peer servers (memcached, redis-server from
 * Debian's packages) for one run.
 *
 * A server listens on 127.0.0.1 only, at a free high port the kernel picks
 * (bind to port 0, read it back, release it, start the server on it; if the
 * server loses that race it exits and we try another port). It counts as
 * started once it answers a request on a fresh connection. Every started
 * server is recorded so server_stop_all() can kill them from a signal
 * handler, and each gets PR_SET_PDEATHSIG so it dies with the bench even
 * when the bench is SIGKILLed.
 */
#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_SERVERS 8
static volatile sig_atomic_t started_pid[MAX_SERVERS];

static int free_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    if (fd < 0)
        return -errno;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port > 1024 ? port : -EADDRNOTAVAIL;
}

/* Connect, send req, wait up to 200 ms for a reply starting with want. */
static int answers(int port, const char *req, const char *want)
{
    struct sockaddr_in a;
    struct pollfd p;
    char buf[64];
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok = 0;
    ssize_t n;

    if (fd < 0)
        return 0;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        write(fd, req, strlen(req)) == (ssize_t)strlen(req)) {
        p.fd = fd;
        p.events = POLLIN;
        if (poll(&p, 1, 200) == 1 && (n = read(fd, buf, sizeof buf - 1)) > 0) {
            buf[n] = 0;
            ok = strncmp(buf, want, strlen(want)) == 0;
        }
    }
    close(fd);
    return ok;
}

static void remember(int pid)
{
    for (int i = 0; i < MAX_SERVERS; i++)
        if (started_pid[i] == 0) {
            started_pid[i] = pid;
            return;
        }
}

static void forget(int pid)
{
    for (int i = 0; i < MAX_SERVERS; i++)
        if (started_pid[i] == pid)
            started_pid[i] = 0;
}

static int spawn(const char *kind, int port, uint64_t mem_mb)
{
    char sport[16], smem[24];
    pid_t parent = getpid(), pid;

    snprintf(sport, sizeof sport, "%d", port);
    snprintf(smem, sizeof smem, "%llu", (unsigned long long)mem_mb);
    pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(1);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
            dup2(null, 2);
        }
        setpgid(0, 0);  /* a ^C at the terminal goes to the bench only */
        if (strcmp(kind, "memcached") == 0) {
            struct passwd *pw = getpwuid(geteuid());
            const char *user = pw ? pw->pw_name : "root";
            if (geteuid() == 0)  /* memcached refuses root without -u */
                execlp("memcached", "memcached", "-l", "127.0.0.1", "-p", sport,
                       "-U", "0", "-m", smem, "-u", user, (char *)NULL);
            else
                execlp("memcached", "memcached", "-l", "127.0.0.1", "-p", sport,
                       "-U", "0", "-m", smem, (char *)NULL);
        } else {
            execlp("redis-server", "redis-server", "--bind", "127.0.0.1",
                   "--port", sport, "--save", "", "--appendonly", "no",
                   "--daemonize", "no", "--protected-mode", "yes",
                   (char *)NULL);
        }
        _exit(127);
    }
    return pid;
}

int server_start(server_t *s, const char *kind, uint64_t mem_mb)
{
    int redis = strcmp(kind, "redis") == 0;
    const char *req = redis ? "PING\r\n" : "version\r\n";
    const char *want = redis ? "+PONG" : "VERSION";

    for (int attempt = 0; attempt < 5; attempt++) {
        int port = free_port(), pid, status;
        uint64_t t0 = now_ns();

        if (port < 0)
            return port;
        pid = spawn(kind, port, mem_mb);
        if (pid < 0)
            return pid;
        remember(pid);
        while (now_ns() - t0 < 5000000000ull) {
            if (waitpid(pid, &status, WNOHANG) == pid) {
                forget(pid);
                if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
                    fprintf(stderr, "shmcache-bench: cannot run %s (not installed?)\n",
                            redis ? "redis-server" : "memcached");
                    return -ENOENT;
                }
                pid = 0;  /* lost the port; try another */
                break;
            }
            if (answers(port, req, want)) {
                s->pid = pid;
                s->port = port;
                return 0;
            }
            struct timespec d = { 0, 10 * 1000 * 1000 };
            nanosleep(&d, NULL);
        }
        if (pid) {  /* never answered */
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            forget(pid);
        }
    }
    fprintf(stderr, "shmcache-bench: %s did not start\n", kind);
    return -ETIMEDOUT;
}

void server_stop(server_t *s)
{
    int status;
    uint64_t t0 = now_ns();

    if (s->pid <= 0)
        return;
    kill(s->pid, SIGTERM);
    while (waitpid(s->pid, &status, WNOHANG) == 0) {
        struct timespec d = { 0, 5 * 1000 * 1000 };
        if (now_ns() - t0 > 3000000000ull) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, &status, 0);
            break;
        }
        nanosleep(&d, NULL);
    }
    forget(s->pid);
    s->pid = 0;
}

void server_stop_all(void)
{
    for (int i = 0; i < MAX_SERVERS; i++)
        if (started_pid[i] > 0)
            kill((pid_t)started_pid[i], SIGKILL);
}
