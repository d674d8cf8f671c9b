/*
 * urcu_thread.h - liburcu (memb flavor) for the threads of a process that
 * may fork (urcu_thread.c): each thread registers on first use and is
 * unregistered at exit, and a read-side section is never cut in half by
 * fork(). The near cache (near.c) is its user.
 */
#ifndef SHM_URCU_THREAD_H
#define SHM_URCU_THREAD_H

#include <urcu/urcu-memb.h>

/* initial-exec: no __tls_get_addr call on the get path of the shared
 * library (procs.c does the same). */
#define SHM_TLS __thread __attribute__((tls_model("initial-exec")))

/* Internal to the library, like internal.h's declarations. */
#pragma GCC visibility push(hidden)

/* Once per process: the thread-exit key and the fork handlers. 0 or a
 * negative errno (then nothing here may be used). */
int shm_urcu_init(void);

/* Register the calling thread (once; undone at thread exit). 0 or -errno.
 * Any thread that calls into liburcu outside a read section (call_rcu,
 * synchronize_rcu, the hash table's resize) must be registered. */
int shm_urcu_register(void);

/* Enter a read-side section (registering the thread if needed), waiting
 * out a fork in progress first. 0 or -errno (registration failed). */
int shm_urcu_enter(void);

/* Leave the section shm_urcu_enter (or urcu_memb_read_lock) opened. */
void shm_urcu_exit(void);

/* Hold off fork() (and registration): around grace periods and barriers
 * that must not be copied half-done into a child, whose liburcu locks
 * would then stay held there. */
void shm_urcu_fork_lock(void);
void shm_urcu_fork_unlock(void);

/* ThreadSanitizer cannot see liburcu's ordering (the library is not
 * instrumented): call after a grace period, before touching memory that
 * readers of an earlier section used. A no-op without TSan. */
void shm_urcu_after_gp(void);

#pragma GCC visibility pop

#endif
