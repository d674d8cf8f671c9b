/*
 * error.c - text for the library's error codes, worded for this library
 * (what the error means for a cache call, not the generic errno text), and
 * the detail of the calling thread's last failed shmc_open.
 *
 * The detail is thread-local so that two threads opening segments at once
 * never see each other's text, and a caller needs no buffer of its own: the
 * error code stays the contract, the detail says which constraint failed,
 * with the numbers, and what to change.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static __thread char g_open_error[320];

const char *shmc_open_error(void)
{
    return g_open_error;
}

void shm_open_error_clear(void)
{
    g_open_error[0] = '\0';
}

void shm_open_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_open_error, sizeof(g_open_error), fmt, ap);
    va_end(ap);
}

const char *shm_fmt_size(uint64_t v, char *buf, size_t cap)
{
    static const char *const unit[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
    if (v < 1024) {
        snprintf(buf, cap, "%llu bytes", (unsigned long long)v);
        return buf;
    }
    double d = (double)v;
    unsigned u = 0;
    while (d >= 1024.0 && u < 4) {
        d /= 1024.0;
        u++;
    }
    snprintf(buf, cap, "%.2f %s", d, unit[u]);
    return buf;
}

const char *shmc_strerror(int err)
{
    /* INT_MIN has no positive counterpart: it is simply unknown. */
    unsigned e = err < 0 ? 0u - (unsigned)err : (unsigned)err;
    switch (e) {
    case 0:       return "success";
    case ENOENT:  return "not found (no such segment, or a cache miss: absent, expired, cleared or invalidated)";
    case EEXIST:  return "already exists";
    case ESTALE:  return "entry changed since it was read (CAS or lease mismatch)";
    case E2BIG:   return "key or value too large for this segment";
    case ENOBUFS: return "buffer too small for the value";
    case EINVAL:  return "invalid argument";
    case ENOSPC:  return "no space left (shared memory full or no room after eviction)";
    case EBADMSG: return "not a shmcache segment, truncated or corrupt";
    case EPROTO:  return "shmcache segment of an incompatible version or build";
    case EACCES:  return "permission denied (owner or mode of the segment)";
    case EROFS:   return "handle is read-only";
    case EDEADLK: return "stripe lock not obtained (stuck holder or corrupt lock; see shmcache-tool check --repair)";
    case EBUSY:   return "busy: entry kept changing or another process holds the lease";
    default:      break;
    }
    /* Errnos passed through from the system (ENOMEM, EMFILE, ENOTSUP from
     * the near cache, ...): the system's own text. strerrordesc_np returns
     * a static string, so this stays thread-safe and never NULL. */
    const char *s = e <= 4095 ? strerrordesc_np((int)e) : NULL;
    return s ? s : "unknown error";
}
