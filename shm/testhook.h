/*
 * testhook.h - a point where tests can stop a process inside a critical
 * section, so that crash tests can SIGKILL it exactly there.
 *
 * The library only refers to the hook; it never defines it. The reference
 * is weak and hidden: in the shared library it resolves to nothing at link
 * time (nm -D lists no such symbol, so no process can reach these points
 * through libshmcache.so), and in a program linked with the static library
 * it is non-NULL only when the program defines it, as the test binaries do
 * (tests/testhook.c, linked into tests only). The cost is two loads and a
 * never-taken branch on write paths only (never on a get). The stripe
 * argument is 0 where no stripe is involved. Tests set the hook in a forked
 * child before the operation they want to interrupt.
 */
#ifndef SHMC_TESTHOOK_H
#define SHMC_TESTHOOK_H

enum shmc_hook_point {
    SHMC_HOOK_LOCKED = 1,    /* stripe lock held, nothing changed yet */
    SHMC_HOOK_SLOT_ODD = 2,  /* set: slot version odd, item half written */
    SHMC_HOOK_CLEAR_SLOT = 3, /* delete: slot version odd */
    SHMC_HOOK_TAG_GAP = 4,    /* invalidate_tag: numbered, word not yet raised */
    SHMC_HOOK_JOURNAL = 5     /* journal lock held, record half written */
};

/* Called with the point and the stripe index. Test builds only. */
extern void (*shmc__test_hook)(int point, unsigned stripe)
    __attribute__((weak, visibility("hidden")));

#define SHMC_HOOK(point, stripe) \
    do { \
        if (__builtin_expect(&shmc__test_hook != 0 && shmc__test_hook != 0, 0)) \
            shmc__test_hook((point), (stripe)); \
    } while (0)

#endif
