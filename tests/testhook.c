/*
 * testhook.c - the definition of the library's test hook (shm/testhook.h),
 * linked into the test programs only. The library itself holds just a weak
 * reference, so the shared library neither defines nor exports it.
 */
#include "testhook.h"

void (*shmc__test_hook)(int point, unsigned stripe);
