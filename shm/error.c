/*
 * error.c - text for the library's error codes, worded for this library
 * (what the error means for a cache call, not the generic errno text).
 */
#include <errno.h>
#include <string.h>

#include "shmcache.h"

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
    case EDEADLK: return "stripe lock not obtained in time (stuck holder or corrupt segment)";
    case EBUSY:   return "busy: entry kept changing or another process holds the lease";
    case ENOMEM:  return "out of memory";
    case EPERM:   return "operation not permitted";
    default:      return "unknown error";
    }
}
