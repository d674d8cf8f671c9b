/*
 * testhook.h - a point where tests can stop a process inside a critical
 * section, so that crash tests can SIGKILL it exactly there.
 *
 * The hook is a plain function pointer that stays NULL in production: the
 * cost is one load and a never-taken branch on write paths only (never on a
 * get). The stripe argument is 0 where no stripe is involved. Tests set it in a forked child before the operation they want to
 * interrupt.
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

/* Called with the point and the stripe index. Not for production use. */
extern void (*shmc__test_hook)(int point, unsigned stripe);

#define SHMC_HOOK(point, stripe) \
    do { if (__builtin_expect(shmc__test_hook != 0, 0)) shmc__test_hook((point), (stripe)); } while (0)

#endif
