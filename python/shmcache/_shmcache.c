/*
 * _shmcache.c - CPython binding of libshmcache (module shmcache._shmcache).
 *
 * One type, Cache, wraps a shmc_t handle. Keys are str (UTF-8), bytes or any
 * contiguous buffer; values are bytes (or any contiguous buffer on input,
 * always bytes on output). Times are seconds (int or float; 0 or None =
 * never expires) and are converted to whole milliseconds, rounded up.
 *
 * Errors: a negative errno from the library raises a subclass of
 * shmcache.Error (itself an OSError: .errno and .strerror carry the
 * library's code and text). Expected outcomes are return values, not
 * exceptions: a miss returns the caller's default, add/replace/cas/touch/
 * delete/set_leased return False (or None) when they do not apply.
 *
 * GIL: every call that may wait (lock fallback of a write, lease waits,
 * clear, flush_expired, iterate) runs with the GIL released. Gets of values
 * up to 4 KiB keep the GIL: a lock-free get of a small value takes well under
 * 100 ns and releasing and re-taking the GIL costs about as much again
 * (measured: 14.7 M gets/s holding it, 11.9 M/s releasing it, one thread,
 * 100-byte values); larger values are copied with the GIL released.
 * A close() while other threads are inside a GIL-released call is deferred
 * until the last of them returns, so the handle is never freed under them.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shmcache.h"

/* Set to 1 to release the GIL around gets too (measured slower for small
 * values in one thread; see docs/PYTHON.md). */
#ifndef SHMC_PY_GET_RELEASES_GIL
#define SHMC_PY_GET_RELEASES_GIL 0
#endif

#define PYERR_SET INT_MIN /* a Python exception is already set */
#define WAIT_MAX_MS (1ull << 40)

PyMODINIT_FUNC PyInit__shmcache(void);

/* ---- exceptions -------------------------------------------------------- */

static PyObject *Error, *InvalidArgument, *TooBig, *NotFound, *Exists, *Stale,
    *Busy, *NoSpace, *Deadlock, *BadSegment, *PermissionDenied, *ReadOnly, *Closed;

static PyObject *exc_for(int err)
{
    switch (err) {
    case -EINVAL: return InvalidArgument;
    case -E2BIG: return TooBig;
    case -ENOENT: return NotFound;
    case -EEXIST: return Exists;
    case -ESTALE: return Stale;
    case -EBUSY: return Busy;
    case -ENOSPC: return NoSpace;
    case -EDEADLK: return Deadlock;
    case -EBADMSG:
    case -EPROTO: return BadSegment;
    case -EACCES:
    case -EPERM: return PermissionDenied;
    case -EROFS: return ReadOnly;
    default: return Error;
    }
}

/* Raise the exception for a negative errno (or nothing new if one is set). */
static PyObject *raise_err(int err)
{
    if (err == PYERR_SET)
        return NULL;
    PyObject *e = PyObject_CallFunction(exc_for(err), "is", -err, shmc_strerror(err));
    if (e) {
        PyErr_SetObject((PyObject *)Py_TYPE(e), e);
        Py_DECREF(e);
    }
    return NULL;
}

/* As raise_err, for a failed shmc_open: the text carries the library's
 * detail (the constraint, the numbers, the fix) when it has one. */
static PyObject *raise_open_err(int err)
{
    const char *detail = shmc_open_error();
    if (!detail || !*detail)
        return raise_err(err);
    PyObject *e = PyObject_CallFunction(exc_for(err), "is", -err, detail);
    if (e) {
        PyErr_SetObject((PyObject *)Py_TYPE(e), e);
        Py_DECREF(e);
    }
    return NULL;
}

/* ---- argument helpers -------------------------------------------------- */

/* Parse vectorcall arguments against names[0..n-1]; the first nreq are
 * required. out[i] is NULL for an argument not given. */
static int parse_args(const char *fname, PyObject *const *args, Py_ssize_t nargs,
                      PyObject *kwnames, const char *const *names, Py_ssize_t n,
                      Py_ssize_t nreq, PyObject **out)
{
    for (Py_ssize_t i = 0; i < n; i++)
        out[i] = NULL;
    if (nargs > n) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most %zd arguments (%zd given)", fname, n,
                     nargs);
        return -1;
    }
    for (Py_ssize_t i = 0; i < nargs; i++)
        out[i] = args[i];
    if (kwnames) {
        Py_ssize_t nk = PyTuple_GET_SIZE(kwnames);
        for (Py_ssize_t j = 0; j < nk; j++) {
            PyObject *kn = PyTuple_GET_ITEM(kwnames, j);
            Py_ssize_t i = 0;
            while (i < n && PyUnicode_CompareWithASCIIString(kn, names[i]) != 0)
                i++;
            if (i == n) {
                PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'",
                             fname, kn);
                return -1;
            }
            if (out[i]) {
                PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'",
                             fname, names[i]);
                return -1;
            }
            out[i] = args[nargs + j];
        }
    }
    for (Py_ssize_t i = 0; i < nreq; i++) {
        if (!out[i]) {
            PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s'", fname,
                         names[i]);
            return -1;
        }
    }
    return 0;
}

/* A key or value: bytes/str point into the object, other buffers are held. */
typedef struct {
    const char *p;
    size_t n;
    Py_buffer view;
    int held;
} bytesarg;

static int get_bytes(PyObject *o, bytesarg *b, int allow_str, const char *what)
{
    b->held = 0;
    if (allow_str && PyUnicode_Check(o)) {
        Py_ssize_t n;
        b->p = PyUnicode_AsUTF8AndSize(o, &n);
        if (!b->p)
            return -1;
        b->n = (size_t)n;
        return 0;
    }
    if (PyBytes_Check(o)) {
        b->p = PyBytes_AS_STRING(o);
        b->n = (size_t)PyBytes_GET_SIZE(o);
        return 0;
    }
    if (PyObject_CheckBuffer(o)) {
        if (PyObject_GetBuffer(o, &b->view, PyBUF_SIMPLE) < 0)
            return -1;
        b->held = 1;
        b->p = b->view.buf;
        b->n = (size_t)b->view.len;
        return 0;
    }
    PyErr_Format(PyExc_TypeError, "%s must be %s, not %.100s", what,
                 allow_str ? "str or bytes" : "bytes", Py_TYPE(o)->tp_name);
    return -1;
}

static void put_bytes(bytesarg *b)
{
    if (b->held) {
        PyBuffer_Release(&b->view);
        b->held = 0;
    }
}

/* Seconds (int/float, None or 0 = never) to whole ms, rounded up. */
static int get_ttl(PyObject *o, uint64_t *ms, const char *what)
{
    *ms = 0;
    if (!o || o == Py_None)
        return 0;
    if (PyLong_Check(o)) {
        int overflow = 0;
        long long s = PyLong_AsLongLongAndOverflow(o, &overflow);
        if (s == -1 && PyErr_Occurred())
            return -1;
        if (overflow < 0 || (!overflow && s < 0)) {
            PyErr_Format(PyExc_ValueError, "%s must be >= 0 seconds", what);
            return -1;
        }
        if (overflow > 0 || (unsigned long long)s > UINT64_MAX / 1000)
            *ms = UINT64_MAX; /* saturates to "never" in the library */
        else
            *ms = (uint64_t)s * 1000u;
        return 0;
    }
    double d = PyFloat_AsDouble(o);
    if (d == -1.0 && PyErr_Occurred())
        return -1;
    if (!(d >= 0.0)) {
        PyErr_Format(PyExc_ValueError, "%s must be >= 0 seconds", what);
        return -1;
    }
    double m = ceil(d * 1000.0);
    if (m >= 18446744073709551615.0)
        *ms = UINT64_MAX;
    else
        *ms = (uint64_t)m;
    return 0;
}

static int get_u32(PyObject *o, uint32_t *v, const char *what)
{
    *v = 0;
    if (!o || o == Py_None)
        return 0;
    unsigned long x = PyLong_AsUnsignedLong(o);
    if (x == (unsigned long)-1 && PyErr_Occurred()) {
        if (PyErr_ExceptionMatches(PyExc_OverflowError) || PyErr_ExceptionMatches(PyExc_ValueError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_ValueError, "%s must be in 0..%u", what, UINT32_MAX);
        }
        return -1;
    }
    if (x > UINT32_MAX) {
        PyErr_Format(PyExc_ValueError, "%s must be in 0..%u", what, UINT32_MAX);
        return -1;
    }
    *v = (uint32_t)x;
    return 0;
}

static int get_u64(PyObject *o, uint64_t *v, const char *what)
{
    *v = 0;
    if (!o || o == Py_None)
        return 0;
    unsigned long long x = PyLong_AsUnsignedLongLong(o);
    if (x == (unsigned long long)-1 && PyErr_Occurred()) {
        if (PyErr_ExceptionMatches(PyExc_OverflowError) || PyErr_ExceptionMatches(PyExc_ValueError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_ValueError, "%s must be in 0..2**64-1", what);
        }
        return -1;
    }
    *v = (uint64_t)x;
    return 0;
}

/* Tags: a str/bytes or a sequence of up to SHMC_TAGS_MAX of them. */
typedef struct {
    const char *v[SHMC_TAGS_MAX];
    size_t n;
    PyObject *seq;
} tagsarg;

static int get_tags(PyObject *o, tagsarg *t)
{
    t->n = 0;
    t->seq = NULL;
    if (!o || o == Py_None)
        return 0;
    if (PyUnicode_Check(o) || PyBytes_Check(o))
        t->seq = PyTuple_Pack(1, o);
    else
        t->seq = PySequence_Tuple(o);
    if (!t->seq)
        return -1;
    Py_ssize_t n = PyTuple_GET_SIZE(t->seq);
    if ((size_t)n > SHMC_TAGS_MAX) {
        PyErr_Format(InvalidArgument, "at most %u tags", SHMC_TAGS_MAX);
        goto fail;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *x = PyTuple_GET_ITEM(t->seq, i);
        const char *s;
        Py_ssize_t len;
        if (PyUnicode_Check(x)) {
            s = PyUnicode_AsUTF8AndSize(x, &len);
            if (!s)
                goto fail;
        } else if (PyBytes_Check(x)) {
            s = PyBytes_AS_STRING(x);
            len = PyBytes_GET_SIZE(x);
        } else {
            PyErr_Format(PyExc_TypeError, "a tag must be str or bytes, not %.100s",
                         Py_TYPE(x)->tp_name);
            goto fail;
        }
        if (strlen(s) != (size_t)len) {
            PyErr_SetString(InvalidArgument, "a tag may not contain NUL");
            goto fail;
        }
        t->v[t->n++] = s;
    }
    return 0;
fail:
    Py_CLEAR(t->seq);
    return -1;
}

/* ---- the Cache type ---------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    shmc_t *c;
    unsigned inflight; /* calls running without the GIL (changed under it) */
    int closing;
    uint32_t max_key_len;
    uint32_t max_value_len;
    int readonly;
    PyObject *name;
} CacheObject;

static int enter(CacheObject *s)
{
    if (!s->c || s->closing) {
        PyErr_SetString(Closed, "operation on a closed shmcache.Cache");
        return -1;
    }
    s->inflight++;
    return 0;
}

static void leave(CacheObject *s)
{
    if (--s->inflight == 0 && s->closing && s->c) {
        shmc_close(s->c);
        s->c = NULL;
    }
}

static PyObject *Cache_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    (void)args;
    (void)kw;
    CacheObject *s = (CacheObject *)type->tp_alloc(type, 0);
    if (s) {
        s->c = NULL;
        s->name = NULL;
    }
    return (PyObject *)s;
}

static int Cache_init(CacheObject *s, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name",   "create", "capacity",  "memory",   "max_key_len",
                             "max_value_len", "stripes", "mode", "exclusive", "readonly",
                             "any_owner", "journal", NULL};
    PyObject *name, *capacity = NULL, *memory = NULL, *mkl = NULL, *mvl = NULL,
             *stripes = NULL, *mode = NULL, *journal = NULL;
    int create = 1, excl = 0, rdonly = 0, any_owner = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "U|pOOOOOOpppO:Cache", kwlist, &name, &create,
                                     &capacity, &memory, &mkl, &mvl, &stripes, &mode, &excl,
                                     &rdonly, &any_owner, &journal))
        return -1;
    if (s->c) {
        PyErr_SetString(PyExc_RuntimeError, "Cache already initialised");
        return -1;
    }
    shmc_config_t cfg;
    shmc_config_init(&cfg);
    uint64_t u64;
    uint32_t u32;
    if (capacity && capacity != Py_None) {
        if (get_u64(capacity, &u64, "capacity") < 0)
            return -1;
        cfg.capacity = u64;
    }
    if (memory && memory != Py_None) {
        if (get_u64(memory, &u64, "memory") < 0)
            return -1;
        cfg.memory = u64;
    } else if (capacity && capacity != Py_None) {
        cfg.memory = 0; /* the library's default for this capacity */
    }
    if (mkl && mkl != Py_None) {
        if (get_u32(mkl, &u32, "max_key_len") < 0)
            return -1;
        cfg.max_key_len = u32;
    }
    if (mvl && mvl != Py_None) {
        if (get_u32(mvl, &u32, "max_value_len") < 0)
            return -1;
        cfg.max_value_len = u32;
    }
    if (stripes && stripes != Py_None) {
        if (get_u32(stripes, &u32, "stripes") < 0)
            return -1;
        cfg.stripes = u32;
    }
    if (mode && mode != Py_None) {
        if (get_u32(mode, &u32, "mode") < 0)
            return -1;
        cfg.mode = u32;
    }
    /* journal (issue 12): True = a 1 MiB invalidation journal for
     * shmcache-relay, an int = its size in bytes; used only when creating. */
    if (journal && PyBool_Check(journal)) {
        cfg.journal_bytes = journal == Py_True ? 1u << 20 : 0;
    } else if (journal && journal != Py_None) {
        if (get_u64(journal, &u64, "journal") < 0)
            return -1;
        cfg.journal_bytes = u64;
    }
    const char *cname = PyUnicode_AsUTF8(name);
    if (!cname)
        return -1;
    unsigned flags = (create ? SHMC_CREATE : 0u) | (excl ? SHMC_EXCL : 0u) |
                     (rdonly ? SHMC_RDONLY : 0u) | (any_owner ? SHMC_ANY_OWNER : 0u);
    shmc_t *c = NULL;
    int r;
    Py_BEGIN_ALLOW_THREADS
    r = shmc_open(cname, flags, &cfg, &c);
    Py_END_ALLOW_THREADS
    if (r < 0) {
        raise_open_err(r);
        return -1;
    }
    shmc_info_t info;
    r = shmc_info(c, &info);
    if (r < 0) {
        shmc_close(c);
        raise_err(r);
        return -1;
    }
    s->c = c;
    s->closing = 0;
    s->inflight = 0;
    s->max_key_len = info.max_key_len;
    s->max_value_len = info.max_value_len;
    s->readonly = rdonly;
    Py_INCREF(name);
    Py_XSETREF(s->name, name);
    return 0;
}

static void Cache_dealloc(CacheObject *s)
{
    if (s->c)
        shmc_close(s->c); /* no call can be in flight: they hold a reference */
    s->c = NULL;
    Py_CLEAR(s->name);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

/* ---- gets -------------------------------------------------------------- */

enum getop { G_GET, G_STALE, G_LEASE, G_WAIT };

typedef struct {
    enum getop op;
    uint64_t lease_ms;
    uint64_t wait_ms;
    uint64_t lease;
} getctx;

static int call_get(shmc_t *c, getctx *g, const char *k, size_t kn, void *buf, size_t cap,
                    size_t *vlen, shmc_item_info_t *info)
{
    switch (g->op) {
    case G_GET: return shmc_get(c, k, kn, buf, cap, vlen, info);
    case G_STALE: return shmc_get_stale(c, k, kn, buf, cap, vlen, info);
    case G_LEASE:
        return shmc_get_or_lease(c, k, kn, buf, cap, vlen, info, g->lease_ms, &g->lease);
    case G_WAIT:
        return shmc_get_or_wait(c, k, kn, buf, cap, vlen, info, g->lease_ms, g->wait_ms,
                                &g->lease);
    }
    return -EINVAL;
}

/* Read a value of unknown size: a stack buffer first; on -ENOBUFS a bytes
 * object of the size reported, again while the value keeps growing. Returns
 * 0 with *out set, a negative errno, or PYERR_SET. */
static int fetch(CacheObject *s, getctx *g, const bytesarg *k, PyObject **out,
                 shmc_item_info_t *info, int release)
{
    char stack[4096];
    size_t vlen = 0;
    int r;
    *out = NULL;
    if (enter(s) < 0)
        return PYERR_SET;
    if (release) {
        Py_BEGIN_ALLOW_THREADS
        r = call_get(s->c, g, k->p, k->n, stack, sizeof(stack), &vlen, info);
        Py_END_ALLOW_THREADS
    } else {
        r = call_get(s->c, g, k->p, k->n, stack, sizeof(stack), &vlen, info);
    }
    if (r == 0) {
        leave(s);
        *out = PyBytes_FromStringAndSize(stack, (Py_ssize_t)vlen);
        return *out ? 0 : PYERR_SET;
    }
    PyObject *b = NULL;
    while (r == -ENOBUFS) {
        size_t need = vlen;
        if (need > (size_t)PY_SSIZE_T_MAX) {
            r = -E2BIG;
            break;
        }
        if (!b)
            b = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)need);
        else if (_PyBytes_Resize(&b, (Py_ssize_t)need) < 0)
            b = NULL;
        if (!b) {
            r = PYERR_SET;
            break;
        }
        /* A value over the stack buffer: the copy dominates, so the GIL is
         * released whatever `release` says. */
        char *p = PyBytes_AS_STRING(b);
        Py_BEGIN_ALLOW_THREADS
        r = call_get(s->c, g, k->p, k->n, p, need, &vlen, info);
        Py_END_ALLOW_THREADS
        if (r == 0 && vlen != need && _PyBytes_Resize(&b, (Py_ssize_t)vlen) < 0) {
            b = NULL;
            r = PYERR_SET;
        }
    }
    leave(s);
    if (r == 0) {
        *out = b;
        return 0;
    }
    Py_XDECREF(b);
    return r;
}

static PyObject *ttl_obj(int64_t ttl_ms)
{
    if (ttl_ms < 0)
        Py_RETURN_NONE;
    return PyFloat_FromDouble((double)ttl_ms / 1000.0);
}

static PyObject *ret_default(PyObject *dflt)
{
    if (!dflt)
        dflt = Py_None;
    Py_INCREF(dflt);
    return dflt;
}

/* get(key, default=None) -> bytes */
static PyObject *Cache_get(CacheObject *s, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames)
{
    static const char *const names[] = {"key", "default"};
    PyObject *a[2];
    if (parse_args("get", args, nargs, kwnames, names, 2, 1, a) < 0)
        return NULL;
    bytesarg k;
    if (get_bytes(a[0], &k, 1, "key") < 0)
        return NULL;
    getctx g = {G_GET, 0, 0, 0};
    PyObject *v;
    int r = fetch(s, &g, &k, &v, NULL, SHMC_PY_GET_RELEASES_GIL);
    put_bytes(&k);
    if (r == 0)
        return v;
    if (r == -ENOENT)
        return ret_default(a[1]);
    return raise_err(r);
}

/* gets(key, default=None) -> (bytes, cas) */
static PyObject *Cache_gets(CacheObject *s, PyObject *const *args, Py_ssize_t nargs,
                            PyObject *kwnames)
{
    static const char *const names[] = {"key", "default"};
    PyObject *a[2];
    if (parse_args("gets", args, nargs, kwnames, names, 2, 1, a) < 0)
        return NULL;
    bytesarg k;
    if (get_bytes(a[0], &k, 1, "key") < 0)
        return NULL;
    getctx g = {G_GET, 0, 0, 0};
    shmc_item_info_t info;
    PyObject *v;
    int r = fetch(s, &g, &k, &v, &info, SHMC_PY_GET_RELEASES_GIL);
    put_bytes(&k);
    if (r == 0)
        return Py_BuildValue("(NK)", v, (unsigned long long)info.cas);
    if (r == -ENOENT)
        return ret_default(a[1]);
    return raise_err(r);
}

/* get_item(key, default=None) -> (bytes, flags, cas, ttl seconds or None) */
static PyObject *Cache_get_item(CacheObject *s, PyObject *const *args, Py_ssize_t nargs,
                                PyObject *kwnames)
{
    static const char *const names[] = {"key", "default"};
    PyObject *a[2];
    if (parse_args("get_item", args, nargs, kwnames, names, 2, 1, a) < 0)
        return NULL;
    bytesarg k;
    if (get_bytes(a[0], &k, 1, "key") < 0)
        return NULL;
    getctx g = {G_GET, 0, 0, 0};
    shmc_item_info_t info;
    PyObject *v;
    int r = fetch(s, &g, &k, &v, &info, SHMC_PY_GET_RELEASES_GIL);
    put_bytes(&k);
    if (r == 0)
        return Py_BuildValue("(NkKN)", v, (unsigned long)info.flags,
                             (unsigned long long)info.cas, ttl_obj(info.ttl_ms));
    if (r == -ENOENT)
        return ret_default(a[1]);
    return raise_err(r);
}

/* get_stale(key, default=None) -> (bytes, stale) */
static PyObject *Cache_get_stale(CacheObject *s, PyObject *const *args, Py_ssize_t nargs,
                                 PyObject *kwnames)
{
    static const char *const names[] = {"key", "default"};
    PyObject *a[2];
    if (parse_args("get_stale", args, nargs, kwnames, names, 2, 1, a) < 0)
        return NULL;
    bytesarg k;
    if (get_bytes(a[0], &k, 1, "key") < 0)
        return NULL;
    getctx g = {G_STALE, 0, 0, 0};
    shmc_item_info_t info;
    PyObject *v;
    int r = fetch(s, &g, &k, &v, &info, SHMC_PY_GET_RELEASES_GIL);
    put_bytes(&k);
    if (r == 0)
        return Py_BuildValue("(NO)", v, info.stale ? Py_True : Py_False);
    if (r == -ENOENT)
        return ret_default(a[1]);
    return raise_err(r);
}

static PyObject *lease_result(int r, PyObject *v, const shmc_item_info_t *info, uint64_t lease,
                              int with_flags)
{
    if (r == 0) {
        if (with_flags)
            return Py_BuildValue("(NkK)", v, (unsigned long)info->flags, 0ULL);
        return Py_BuildValue("(NK)", v, 0ULL);
    }
    if (r == -ENOENT || r == -EBUSY) {
        unsigned long long l = r == -ENOENT ? (unsigned long long)lease : 0ULL;
        if (with_flags)
            return Py_BuildValue("(OkK)", Py_None, 0UL, l);
        return Py_BuildValue("(OK)", Py_None, l);
    }
    return raise_err(r);
}

/* get_or_lease(key, lease_ttl=0, with_flags=False) -> (value, lease)
 * hit: (bytes, 0); miss, recompute: (None, lease); another holds it: (None, 0) */
static PyObject *Cache_get_or_lease(CacheObject *s, PyObject *const *args, Py_ssize_t nargs,
                                    PyObject *kwnames)
{
    static const char *const names[] = {"key", "lease_ttl", "with_flags"};
    PyObject *a[3];
    if (parse_args("get_or_lease", args, nargs, kwnames, names, 3, 1, a) < 0)
        return NULL;
    getctx g = {G_LEASE, 0, 0, 0};
    if (get_ttl(a[1], &g.lease_ms, "lease_ttl") < 0)
        return NULL;
    int wf = a[2] ? PyObject_IsTrue(a[2]) : 0;
    if (wf < 0)
        return NULL;
    bytesarg k;
    if (get_bytes(a[0], &k, 1, "key") < 0)
        return NULL;
    shmc_item_info_t info;
    PyObject *v;
    int r = fetch(s, &g, &k, &v, &info, 1);
    put_bytes(&k);
    return lease_result(r, v, &info, g.lease, wf);
}

/* get_or_wait(key, timeout, lease_ttl=0, with_flags=False) -> as get_or_lease;
 * (None, 0) when timeout ran out while another caller held the lease. */
static PyObject *Cache_get_or_wait(CacheObject *s, PyObject *const *args, Py_ssize_t nargs,
                                   PyObject *kwnames)
{
    static const char *const names[] = {"key", "timeout", "lease_ttl", "with_flags"};
    PyObject *a[4];
    if (parse_args("get_or_wait", args, nargs, kwnames, names, 4, 2, a) < 0)
        return NULL;
    getctx g = {G_WAIT, 0, 0, 0};
    if (get_ttl(a[1], &g.wait_ms, "timeout") < 0 || get_ttl(a[2], &g.lease_ms, "lease_ttl") < 0)
        return NULL;
    /* None: as long as it takes. The library computes now + wait_ms without
     * saturating (and then (long)(deadline - now) * 1000), so keep it far
     * from overflow: 2^40 ms is ~35 years. */
    if (a[1] == Py_None || g.wait_ms > WAIT_MAX_MS)
        g.wait_ms = WAIT_MAX_MS;
    int wf = a[3] ? PyObject_IsTrue(a[3]) : 0;
    if (wf < 0)
        return NULL;
    bytesarg k;
    if (get_bytes(a[0], &k, 1, "key") < 0)
        return NULL;
    shmc_item_info_t info;
    PyObject *v;
    int r = fetch(s, &g, &k, &v, &info, 1);
    put_bytes(&k);
    return lease_result(r, v, &info, g.lease, wf);
}

/* contains(key) -> bool (shmc_peek: no copy of the value) */
static int Cache_contains_impl(CacheObject *s, PyObject *key)
{
    bytesarg k;
    if (get_bytes(key, &k, 1, "key") < 0)
        return -1;
    if (enter(s) < 0) {
        put_bytes(&k);
        return -1;
    }
    int r = shmc_peek(s->c, k.p, k.n, NULL, NULL);
    leave(s);
    put_bytes(&k);
    if (r == 0)
        return 1;
    if (r == -ENOENT)
        return 0;
    raise_err(r);
    return -1;
}

static PyObject *Cache_contains(CacheObject *s, PyObject *key)
{
    int r = Cache_contains_impl(s, key);
    if (r < 0)
        return NULL;
    return PyBool_FromLong(r);
}

/* ---- stores ------------------------------------------------------------ */

enum setop { S_SET, S_ADD, S_REPLACE, S_CAS, S_TAGGED, S_LEASED };

typedef struct {
    enum setop op;
    bytesarg k, v;
    uint64_t ttl_ms, cas, lease;
    uint32_t flags;
    tagsarg t;
} setctx;

static int do_set(CacheObject *s, setctx *x)
{
    if (x->v.n > s->max_value_len)
        return -E2BIG; /* cheap early answer; the library checks it too */
    if (enter(s) < 0)
        return PYERR_SET;
    int r = -EINVAL;
    shmc_t *c = s->c;
    Py_BEGIN_ALLOW_THREADS
    switch (x->op) {
    case S_SET:
        r = shmc_set(c, x->k.p, x->k.n, x->v.p, x->v.n, x->ttl_ms, x->flags);
        break;
    case S_ADD:
        r = shmc_add(c, x->k.p, x->k.n, x->v.p, x->v.n, x->ttl_ms, x->flags);
        break;
    case S_REPLACE:
        r = shmc_replace(c, x->k.p, x->k.n, x->v.p, x->v.n, x->ttl_ms, x->flags);
        break;
    case S_CAS:
        r = shmc_cas(c, x->k.p, x->k.n, x->v.p, x->v.n, x->ttl_ms, x->flags, x->cas);
        break;
    case S_TAGGED:
        r = shmc_set_tagged(c, x->k.p, x->k.n, x->v.p, x->v.n, x->ttl_ms, x->flags, x->t.v,
                            x->t.n);
        break;
    case S_LEASED:
        if (x->t.n)
            r = shmc_set_leased_tagged(c, x->k.p, x->k.n, x->v.p, x->v.n, x->ttl_ms, x->flags,
                                       x->t.v, x->t.n, x->lease);
        else
            r = shmc_set_leased(c, x->k.p, x->k.n, x->v.p, x->v.n, x->ttl_ms, x->flags,
                                x->lease);
        break;
    }
    Py_END_ALLOW_THREADS
    leave(s);
    return r;
}

/* Parse (key, value, [cas|tags|lease], ttl, flags, [tags]) and store. */
static int store_args(CacheObject *s, enum setop op, const char *fname, PyObject *const *args,
                      Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const n_set[] = {"key", "value", "ttl", "flags"};
    static const char *const n_cas[] = {"key", "value", "cas", "ttl", "flags"};
    static const char *const n_tag[] = {"key", "value", "tags", "ttl", "flags"};
    static const char *const n_lease[] = {"key", "value", "lease", "ttl", "flags", "tags"};
    PyObject *a[6];
    PyObject *ttl, *flags, *extra = NULL, *tags = NULL;
    int pr;
    switch (op) {
    case S_CAS:
        pr = parse_args(fname, args, nargs, kwnames, n_cas, 5, 3, a);
        extra = a[2], ttl = a[3], flags = a[4];
        break;
    case S_TAGGED:
        pr = parse_args(fname, args, nargs, kwnames, n_tag, 5, 3, a);
        tags = a[2], ttl = a[3], flags = a[4];
        break;
    case S_LEASED:
        pr = parse_args(fname, args, nargs, kwnames, n_lease, 6, 3, a);
        extra = a[2], ttl = a[3], flags = a[4], tags = a[5];
        break;
    default:
        pr = parse_args(fname, args, nargs, kwnames, n_set, 4, 2, a);
        ttl = a[2], flags = a[3];
        break;
    }
    if (pr < 0)
        return PYERR_SET;
    setctx x;
    x.op = op;
    x.cas = x.lease = 0;
    x.t.n = 0;
    x.t.seq = NULL;
    if (get_ttl(ttl, &x.ttl_ms, "ttl") < 0 || get_u32(flags, &x.flags, "flags") < 0)
        return PYERR_SET;
    if (op == S_CAS && get_u64(extra, &x.cas, "cas") < 0)
        return PYERR_SET;
    if (op == S_LEASED && get_u64(extra, &x.lease, "lease") < 0)
        return PYERR_SET;
    if (get_tags(tags, &x.t) < 0)
        return PYERR_SET;
    int r = PYERR_SET;
    if (get_bytes(a[0], &x.k, 1, "key") == 0) {
        if (get_bytes(a[1], &x.v, 0, "value") == 0) {
            r = do_set(s, &x);
            put_bytes(&x.v);
        }
        put_bytes(&x.k);
    }
    Py_XDECREF(x.t.seq);
    return r;
}

static PyObject *Cache_set(CacheObject *s, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames)
{
    int r = store_args(s, S_SET, "set", args, nargs, kwnames);
    if (r < 0)
        return raise_err(r);
    Py_RETURN_NONE;
}

static PyObject *Cache_set_tagged(CacheObject *s, PyObject *const *args, Py_ssize_t nargs,
                                  PyObject *kwnames)
{
    int r = store_args(s, S_TAGGED, "set_tagged", args, nargs, kwnames);
    if (r < 0)
        return raise_err(r);
    Py_RETURN_NONE;
}

static PyObject *Cache_add(CacheObject *s, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames)
{
    int r = store_args(s, S_ADD, "add", args, nargs, kwnames);
    if (r == -EEXIST)
        Py_RETURN_FALSE;
    if (r < 0)
        return raise_err(r);
    Py_RETURN_TRUE;
}

static PyObject *Cache_replace(CacheObject *s, PyObject *const *args, Py_ssize_t nargs,
                               PyObject *kwnames)
{
    int r = store_args(s, S_REPLACE, "replace", args, nargs, kwnames);
    if (r == -ENOENT)
        Py_RETURN_FALSE;
    if (r < 0)
        return raise_err(r);
    Py_RETURN_TRUE;
}

/* cas(): True stored, False changed since read, None gone (as pymemcache). */
static PyObject *Cache_cas(CacheObject *s, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames)
{
    int r = store_args(s, S_CAS, "cas", args, nargs, kwnames);
    if (r == -ESTALE)
        Py_RETURN_FALSE;
    if (r == -ENOENT)
        Py_RETURN_NONE;
    if (r < 0)
        return raise_err(r);
    Py_RETURN_TRUE;
}

/* set_leased(): True stored, False refused as stale. */
static PyObject *Cache_set_leased(CacheObject *s, PyObject *const *args, Py_ssize_t nargs,
                                  PyObject *kwnames)
{
    int r = store_args(s, S_LEASED, "set_leased", args, nargs, kwnames);
    if (r == -ESTALE)
        Py_RETURN_FALSE;
    if (r < 0)
        return raise_err(r);
    Py_RETURN_TRUE;
}

/* incr(key, delta=1, initial=None, ttl=0) -> int, or None when missing. */
static PyObject *incr_impl(CacheObject *s, int neg, const char *fname, PyObject *const *args,
                           Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"key", "delta", "initial", "ttl"};
    PyObject *a[4];
    if (parse_args(fname, args, nargs, kwnames, names, 4, 1, a) < 0)
        return NULL;
    int64_t delta = 1;
    if (a[1]) {
        int overflow = 0;
        long long d = PyLong_AsLongLongAndOverflow(a[1], &overflow);
        if (d == -1 && PyErr_Occurred())
            return NULL;
        if (overflow || (neg && d == LLONG_MIN)) {
            PyErr_SetString(PyExc_OverflowError, "delta must fit in a signed 64-bit integer");
            return NULL;
        }
        delta = d;
    }
    if (neg)
        delta = -delta;
    uint64_t initial = 0, ttl_ms = 0, result = 0;
    int has_initial = a[2] && a[2] != Py_None;
    if (has_initial && get_u64(a[2], &initial, "initial") < 0)
        return NULL;
    if (get_ttl(a[3], &ttl_ms, "ttl") < 0)
        return NULL;
    bytesarg k;
    if (get_bytes(a[0], &k, 1, "key") < 0)
        return NULL;
    if (enter(s) < 0) {
        put_bytes(&k);
        return NULL;
    }
    int r;
    shmc_t *c = s->c;
    Py_BEGIN_ALLOW_THREADS
    r = shmc_incr(c, k.p, k.n, delta, has_initial ? &initial : NULL, ttl_ms, &result);
    Py_END_ALLOW_THREADS
    leave(s);
    put_bytes(&k);
    if (r == -ENOENT)
        Py_RETURN_NONE;
    if (r < 0)
        return raise_err(r);
    return PyLong_FromUnsignedLongLong(result);
}

static PyObject *Cache_incr(CacheObject *s, PyObject *const *args, Py_ssize_t nargs,
                            PyObject *kwnames)
{
    return incr_impl(s, 0, "incr", args, nargs, kwnames);
}

static PyObject *Cache_decr(CacheObject *s, PyObject *const *args, Py_ssize_t nargs,
                            PyObject *kwnames)
{
    return incr_impl(s, 1, "decr", args, nargs, kwnames);
}

/* touch(key, ttl=0) -> bool */
static PyObject *Cache_touch(CacheObject *s, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames)
{
    static const char *const names[] = {"key", "ttl"};
    PyObject *a[2];
    if (parse_args("touch", args, nargs, kwnames, names, 2, 1, a) < 0)
        return NULL;
    uint64_t ttl_ms;
    if (get_ttl(a[1], &ttl_ms, "ttl") < 0)
        return NULL;
    bytesarg k;
    if (get_bytes(a[0], &k, 1, "key") < 0)
        return NULL;
    if (enter(s) < 0) {
        put_bytes(&k);
        return NULL;
    }
    int r;
    shmc_t *c = s->c;
    Py_BEGIN_ALLOW_THREADS
    r = shmc_touch(c, k.p, k.n, ttl_ms);
    Py_END_ALLOW_THREADS
    leave(s);
    put_bytes(&k);
    if (r == -ENOENT)
        Py_RETURN_FALSE;
    if (r < 0)
        return raise_err(r);
    Py_RETURN_TRUE;
}

/* delete(key) / invalidate(key) -> bool (False: there was no live entry) */
static PyObject *key_op(CacheObject *s, PyObject *key, int invalidate)
{
    bytesarg k;
    if (get_bytes(key, &k, 1, "key") < 0)
        return NULL;
    if (enter(s) < 0) {
        put_bytes(&k);
        return NULL;
    }
    int r;
    shmc_t *c = s->c;
    Py_BEGIN_ALLOW_THREADS
    r = invalidate ? shmc_invalidate(c, k.p, k.n) : shmc_delete(c, k.p, k.n);
    Py_END_ALLOW_THREADS
    leave(s);
    put_bytes(&k);
    if (r == -ENOENT)
        Py_RETURN_FALSE;
    if (r < 0)
        return raise_err(r);
    Py_RETURN_TRUE;
}

static PyObject *Cache_delete(CacheObject *s, PyObject *key)
{
    return key_op(s, key, 0);
}

static PyObject *Cache_invalidate(CacheObject *s, PyObject *key)
{
    return key_op(s, key, 1);
}

static PyObject *Cache_invalidate_tag(CacheObject *s, PyObject *tag)
{
    tagsarg t;
    if (!PyUnicode_Check(tag) && !PyBytes_Check(tag)) {
        PyErr_Format(PyExc_TypeError, "tag must be str or bytes, not %.100s",
                     Py_TYPE(tag)->tp_name);
        return NULL;
    }
    if (get_tags(tag, &t) < 0)
        return NULL;
    if (enter(s) < 0) {
        Py_XDECREF(t.seq);
        return NULL;
    }
    int r;
    shmc_t *c = s->c;
    Py_BEGIN_ALLOW_THREADS
    r = shmc_invalidate_tag(c, t.v[0]);
    Py_END_ALLOW_THREADS
    leave(s);
    Py_XDECREF(t.seq);
    if (r < 0)
        return raise_err(r);
    Py_RETURN_NONE;
}

static PyObject *Cache_clear(CacheObject *s, PyObject *unused)
{
    (void)unused;
    if (enter(s) < 0)
        return NULL;
    int r;
    shmc_t *c = s->c;
    Py_BEGIN_ALLOW_THREADS
    r = shmc_clear(c);
    Py_END_ALLOW_THREADS
    leave(s);
    if (r < 0)
        return raise_err(r);
    Py_RETURN_NONE;
}

static PyObject *Cache_flush_expired(CacheObject *s, PyObject *unused)
{
    (void)unused;
    if (enter(s) < 0)
        return NULL;
    int64_t r;
    shmc_t *c = s->c;
    Py_BEGIN_ALLOW_THREADS
    r = shmc_flush_expired(c);
    Py_END_ALLOW_THREADS
    leave(s);
    if (r < 0)
        return raise_err((int)r);
    return PyLong_FromLongLong(r);
}

/* ---- batches ----------------------------------------------------------- */

/* get_many, get_many_items, set_many and delete_many do a whole batch in one
 * call from Python: the per-call interpreter overhead (argument parsing, a
 * method lookup, a tuple) is paid once, not once per key, which is what a
 * Django page that reads 20 entries spends most of its cache time on.
 * Every argument is checked (and every key and value held) before the first
 * entry is touched, so bad input raises and changes nothing. */

/* The keys as a tuple (a snapshot: another thread may change a list while
 * the GIL is released) and each one as bytes. n is 0 for an empty batch. */
typedef struct {
    PyObject *keys;  /* tuple, owned */
    bytesarg *k;     /* one per key */
    Py_ssize_t n;
} keybatch;

static void keybatch_free(keybatch *b)
{
    if (b->k) {
        for (Py_ssize_t i = 0; i < b->n; i++)
            put_bytes(&b->k[i]);
        PyMem_Free(b->k);
        b->k = NULL;
    }
    Py_CLEAR(b->keys);
}

static int keybatch_init(keybatch *b, PyObject *keys)
{
    b->k = NULL;
    b->n = 0;
    b->keys = PySequence_Tuple(keys);
    if (!b->keys)
        return -1;
    Py_ssize_t n = PyTuple_GET_SIZE(b->keys);
    b->k = PyMem_New(bytesarg, (size_t)(n ? n : 1));
    if (!b->k) {
        Py_CLEAR(b->keys);
        PyErr_NoMemory();
        return -1;
    }
    for (; b->n < n; b->n++) {
        if (get_bytes(PyTuple_GET_ITEM(b->keys, b->n), &b->k[b->n], 1, "key") < 0) {
            keybatch_free(b);
            return -1;
        }
    }
    return 0;
}

/* One get of a batch: the value and its flags, or r = -ENOENT. */
static int batch_get(CacheObject *s, const bytesarg *k, PyObject **v, uint32_t *flags)
{
    getctx g = {G_GET, 0, 0, 0};
    shmc_item_info_t info = {0};
    int r = fetch(s, &g, k, v, &info, SHMC_PY_GET_RELEASES_GIL);
    *flags = info.flags;
    return r;
}

/* The gets of a batch: as_dict 0 gives get_many_items' list (for each key,
 * in order, (bytes, flags) or None on a miss), 1 get_many's dict ({key:
 * bytes} for the keys that hit). */
static PyObject *get_batch(CacheObject *s, PyObject *keys, int as_dict)
{
    keybatch b;
    if (keybatch_init(&b, keys) < 0)
        return NULL;
    PyObject *out = as_dict ? PyDict_New() : PyList_New(b.n);
    for (Py_ssize_t i = 0; out && i < b.n; i++) {
        PyObject *v = NULL, *item = NULL;
        uint32_t flags = 0;
        int r = batch_get(s, &b.k[i], &v, &flags);
        if (r < 0 && r != -ENOENT) {
            raise_err(r);
        } else if (as_dict) {
            if (!v || PyDict_SetItem(out, PyTuple_GET_ITEM(b.keys, i), v) == 0)
                item = Py_None; /* no error */
            Py_XDECREF(v);
        } else if (!v) {
            Py_INCREF(Py_None);
            PyList_SET_ITEM(out, i, Py_None);
            item = Py_None;
        } else if ((item = Py_BuildValue("(Nk)", v, (unsigned long)flags))) {
            PyList_SET_ITEM(out, i, item);
        }
        if (!item)
            Py_CLEAR(out);
    }
    keybatch_free(&b);
    return out;
}

/* get_many_items(keys) -> [(bytes, flags) or None per key] */
static PyObject *Cache_get_many_items(CacheObject *s, PyObject *keys)
{
    return get_batch(s, keys, 0);
}

/* get_many(keys) -> {key: bytes} for the keys that hit. */
static PyObject *Cache_get_many(CacheObject *s, PyObject *keys)
{
    return get_batch(s, keys, 1);
}

/* delete_many(keys) -> number of live entries deleted. The GIL is released
 * once for the whole batch. */
static PyObject *Cache_delete_many(CacheObject *s, PyObject *keys)
{
    keybatch b;
    if (keybatch_init(&b, keys) < 0)
        return NULL;
    if (enter(s) < 0) {
        keybatch_free(&b);
        return NULL;
    }
    shmc_t *c = s->c;
    long long deleted = 0;
    int r = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < b.n; i++) {
        r = shmc_delete(c, b.k[i].p, b.k[i].n);
        if (r == 0)
            deleted++;
        else if (r != -ENOENT)
            break;
        r = 0;
    }
    Py_END_ALLOW_THREADS
    leave(s);
    keybatch_free(&b);
    if (r < 0)
        return raise_err(r);
    return PyLong_FromLongLong(deleted);
}

/* set_many(items, ttl=0) -> list of the keys not stored because the key or
 * value is over the segment's limits (their old values are left as they
 * were). items: (key, value) or (key, value, flags) tuples. The GIL is
 * released once for the whole batch; another library error stops the batch
 * there (the items before it are stored) and raises. */
static PyObject *Cache_set_many(CacheObject *s, PyObject *const *args, Py_ssize_t nargs,
                                PyObject *kwnames)
{
    static const char *const names[] = {"items", "ttl"};
    PyObject *a[2];
    uint64_t ttl_ms;
    if (parse_args("set_many", args, nargs, kwnames, names, 2, 1, a) < 0 ||
        get_ttl(a[1], &ttl_ms, "ttl") < 0)
        return NULL;
    PyObject *items = PySequence_Tuple(a[0]);
    if (!items)
        return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(items);
    /* per item: key, value and their results; the item tuples are held by
     * `items` and are immutable, so their members stay alive */
    struct one {
        bytesarg k, v;
        uint32_t flags;
        int r;
    } *x = PyMem_New(struct one, (size_t)(n ? n : 1));
    PyObject *failed = NULL;
    Py_ssize_t ready = 0;
    if (!x) {
        PyErr_NoMemory();
        goto out;
    }
    for (; ready < n; ready++) {
        PyObject *it = PyTuple_GET_ITEM(items, ready);
        Py_ssize_t len = PyTuple_Check(it) ? PyTuple_GET_SIZE(it) : -1;
        if (len != 2 && len != 3) {
            PyErr_SetString(PyExc_TypeError,
                            "set_many() items must be (key, value) or (key, value, flags) tuples");
            goto out;
        }
        struct one *o = &x[ready];
        o->r = 0;
        if (get_u32(len == 3 ? PyTuple_GET_ITEM(it, 2) : NULL, &o->flags, "flags") < 0 ||
            get_bytes(PyTuple_GET_ITEM(it, 0), &o->k, 1, "key") < 0)
            goto out;
        if (get_bytes(PyTuple_GET_ITEM(it, 1), &o->v, 0, "value") < 0) {
            put_bytes(&o->k);
            goto out;
        }
    }
    if (enter(s) < 0)
        goto out;
    shmc_t *c = s->c;
    uint32_t maxv = s->max_value_len;
    int err = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n && !err; i++) {
        struct one *o = &x[i];
        o->r = o->v.n > maxv ? -E2BIG
                             : shmc_set(c, o->k.p, o->k.n, o->v.p, o->v.n, ttl_ms, o->flags);
        if (o->r < 0 && o->r != -E2BIG)
            err = o->r;
    }
    Py_END_ALLOW_THREADS
    leave(s);
    if (err) {
        raise_err(err);
        goto out;
    }
    failed = PyList_New(0);
    for (Py_ssize_t i = 0; failed && i < n; i++) {
        if (x[i].r == -E2BIG &&
            PyList_Append(failed, PyTuple_GET_ITEM(PyTuple_GET_ITEM(items, i), 0)) < 0)
            Py_CLEAR(failed);
    }
out:
    for (Py_ssize_t i = 0; i < ready; i++) {
        put_bytes(&x[i].k);
        put_bytes(&x[i].v);
    }
    PyMem_Free(x);
    Py_DECREF(items);
    return failed;
}

/* ---- stats, info, keys ------------------------------------------------- */

#define STAT_FIELDS(X)                                                                     \
    X(capacity) X(limit_maxbytes) X(bytes) X(curr_items) X(total_items) X(stripes)         \
    X(max_key_len) X(max_value_len) X(attached_processes) X(uptime_ms) X(generation)       \
    X(cmd_get) X(get_hits) X(get_misses) X(get_expired) X(get_flushed) X(get_locked)       \
    X(cmd_set) X(cmd_touch) X(touch_hits) X(touch_misses) X(delete_hits) X(delete_misses)  \
    X(incr_hits) X(incr_misses) X(cas_hits) X(cas_misses) X(cas_badval) X(evictions)       \
    X(reclaimed) X(expired_unfetched) X(evicted_unfetched) X(lock_recoveries)              \
    X(recovered_lost) X(lease_grants) X(lease_rejects) X(lease_waits) X(stale_hits)        \
    X(tag_invalidations) X(index_slots)

#define INFO_FIELDS(X)                                                                     \
    X(layout_version) X(slots_per_bucket) X(buckets) X(capacity) X(memory)                 \
    X(segment_size) X(stripes) X(max_key_len) X(max_value_len) X(mode) X(owner_uid)        \
    X(proc_slots) X(created_unix_ms) X(used_slots) X(index_slots) X(hugepages)

static int dict_put_u64(PyObject *d, const char *k, uint64_t v)
{
    PyObject *o = PyLong_FromUnsignedLongLong(v);
    if (!o)
        return -1;
    int r = PyDict_SetItemString(d, k, o);
    Py_DECREF(o);
    return r;
}

static PyObject *Cache_stats(CacheObject *s, PyObject *unused)
{
    (void)unused;
    if (enter(s) < 0)
        return NULL;
    shmc_stats_t st;
    int r = shmc_stats(s->c, &st);
    leave(s);
    if (r < 0)
        return raise_err(r);
    PyObject *d = PyDict_New();
    if (!d)
        return NULL;
#define PUT(f)                                          \
    if (dict_put_u64(d, #f, (uint64_t)st.f) < 0) {      \
        Py_DECREF(d);                                   \
        return NULL;                                    \
    }
    STAT_FIELDS(PUT)
#undef PUT
    return d;
}

static PyObject *Cache_info(CacheObject *s, PyObject *unused)
{
    (void)unused;
    if (enter(s) < 0)
        return NULL;
    shmc_info_t in;
    int r = shmc_info(s->c, &in);
    leave(s);
    if (r < 0)
        return raise_err(r);
    PyObject *d = PyDict_New();
    if (!d)
        return NULL;
#define PUT(f)                                          \
    if (dict_put_u64(d, #f, (uint64_t)in.f) < 0) {      \
        Py_DECREF(d);                                   \
        return NULL;                                    \
    }
    INFO_FIELDS(PUT)
#undef PUT
    return d;
}

typedef struct {
    char *buf;
    size_t len, cap;
    size_t count;
    int oom;
} keyacc;

static int collect_key(const shmc_entry_t *e, void *arg)
{
    keyacc *a = arg;
    size_t need = sizeof(size_t) + e->klen;
    if (a->len + need > a->cap) {
        size_t ncap = a->cap ? a->cap * 2 : 65536;
        while (ncap < a->len + need)
            ncap *= 2;
        char *nb = realloc(a->buf, ncap);
        if (!nb) {
            a->oom = 1;
            return 1;
        }
        a->buf = nb;
        a->cap = ncap;
    }
    memcpy(a->buf + a->len, &e->klen, sizeof(size_t));
    memcpy(a->buf + a->len + sizeof(size_t), e->key, e->klen);
    a->len += need;
    a->count++;
    return 0;
}

/* keys() -> list of bytes: every live entry's key (a snapshot). */
static PyObject *Cache_keys(CacheObject *s, PyObject *unused)
{
    (void)unused;
    if (enter(s) < 0)
        return NULL;
    keyacc a = {NULL, 0, 0, 0, 0};
    int r;
    shmc_t *c = s->c;
    Py_BEGIN_ALLOW_THREADS
    r = shmc_iterate(c, collect_key, &a);
    Py_END_ALLOW_THREADS
    leave(s);
    if (a.oom) {
        free(a.buf);
        return PyErr_NoMemory();
    }
    if (r < 0) {
        free(a.buf);
        return raise_err(r);
    }
    PyObject *list = PyList_New((Py_ssize_t)a.count);
    if (!list) {
        free(a.buf);
        return NULL;
    }
    size_t off = 0;
    for (size_t i = 0; i < a.count; i++) {
        size_t kl;
        memcpy(&kl, a.buf + off, sizeof(size_t));
        PyObject *k = PyBytes_FromStringAndSize(a.buf + off + sizeof(size_t), (Py_ssize_t)kl);
        if (!k) {
            Py_DECREF(list);
            free(a.buf);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, k);
        off += sizeof(size_t) + kl;
    }
    free(a.buf);
    return list;
}

static PyObject *Cache_close(CacheObject *s, PyObject *unused)
{
    (void)unused;
    if (s->c && !s->closing) {
        s->closing = 1;
        if (s->inflight == 0) {
            shmc_close(s->c);
            s->c = NULL;
        }
    }
    Py_RETURN_NONE;
}

static PyObject *Cache_get_closed(CacheObject *s, void *unused)
{
    (void)unused;
    return PyBool_FromLong(!s->c || s->closing);
}

static PyObject *Cache_get_name(CacheObject *s, void *unused)
{
    (void)unused;
    return ret_default(s->name);
}

static PyObject *Cache_get_max_key_len(CacheObject *s, void *unused)
{
    (void)unused;
    return PyLong_FromUnsignedLong(s->max_key_len);
}

static PyObject *Cache_get_max_value_len(CacheObject *s, void *unused)
{
    (void)unused;
    return PyLong_FromUnsignedLong(s->max_value_len);
}

static PyObject *Cache_get_readonly(CacheObject *s, void *unused)
{
    (void)unused;
    return PyBool_FromLong(s->readonly);
}

#define FASTKW (METH_FASTCALL | METH_KEYWORDS)
#define FN(f) (PyCFunction)(void (*)(void))(f)

static PyMethodDef Cache_methods[] = {
    {"get", FN(Cache_get), FASTKW, "get(key, default=None) -> bytes, or default on a miss"},
    {"gets", FN(Cache_gets), FASTKW, "gets(key, default=None) -> (bytes, cas), or default"},
    {"get_item", FN(Cache_get_item), FASTKW,
     "get_item(key, default=None) -> (bytes, flags, cas, ttl seconds or None), or default"},
    {"get_stale", FN(Cache_get_stale), FASTKW,
     "get_stale(key, default=None) -> (bytes, stale), or default"},
    {"get_or_lease", FN(Cache_get_or_lease), FASTKW,
     "get_or_lease(key, lease_ttl=0, with_flags=False) -> (value, lease): hit (bytes, 0); "
     "miss, you recompute (None, lease); another caller holds the lease (None, 0)"},
    {"get_or_wait", FN(Cache_get_or_wait), FASTKW,
     "get_or_wait(key, timeout, lease_ttl=0, with_flags=False) -> as get_or_lease, waiting "
     "up to timeout seconds (None: no limit) while another caller holds the lease"},
    {"contains", (PyCFunction)Cache_contains, METH_O, "contains(key) -> bool"},
    {"set", FN(Cache_set), FASTKW, "set(key, value, ttl=0, flags=0)"},
    {"add", FN(Cache_add), FASTKW, "add(key, value, ttl=0, flags=0) -> bool"},
    {"replace", FN(Cache_replace), FASTKW, "replace(key, value, ttl=0, flags=0) -> bool"},
    {"cas", FN(Cache_cas), FASTKW,
     "cas(key, value, cas, ttl=0, flags=0) -> True stored, False changed, None missing"},
    {"set_tagged", FN(Cache_set_tagged), FASTKW, "set_tagged(key, value, tags, ttl=0, flags=0)"},
    {"set_leased", FN(Cache_set_leased), FASTKW,
     "set_leased(key, value, lease, ttl=0, flags=0, tags=None) -> bool (False: stale)"},
    {"incr", FN(Cache_incr), FASTKW,
     "incr(key, delta=1, initial=None, ttl=0) -> new value, or None when missing"},
    {"decr", FN(Cache_decr), FASTKW,
     "decr(key, delta=1, initial=None, ttl=0) -> new value (floors at 0), or None"},
    {"touch", FN(Cache_touch), FASTKW, "touch(key, ttl=0) -> bool"},
    {"delete", (PyCFunction)Cache_delete, METH_O, "delete(key) -> bool"},
    {"get_many", (PyCFunction)Cache_get_many, METH_O,
     "get_many(keys) -> {key: bytes} for the keys that hit (one call)"},
    {"get_many_items", (PyCFunction)Cache_get_many_items, METH_O,
     "get_many_items(keys) -> [(bytes, flags) or None per key] (one call)"},
    {"set_many", FN(Cache_set_many), FASTKW,
     "set_many(items, ttl=0) -> keys too big to store; items: (key, value[, flags])"},
    {"delete_many", (PyCFunction)Cache_delete_many, METH_O,
     "delete_many(keys) -> number deleted (one call, GIL released once)"},
    {"invalidate", (PyCFunction)Cache_invalidate, METH_O, "invalidate(key) -> bool"},
    {"invalidate_tag", (PyCFunction)Cache_invalidate_tag, METH_O, "invalidate_tag(tag)"},
    {"clear", (PyCFunction)Cache_clear, METH_NOARGS, "clear(): invalidate every entry"},
    {"flush_expired", (PyCFunction)Cache_flush_expired, METH_NOARGS,
     "flush_expired() -> number of entries reclaimed"},
    {"stats", (PyCFunction)Cache_stats, METH_NOARGS, "stats() -> dict (shmc_stats_t)"},
    {"info", (PyCFunction)Cache_info, METH_NOARGS, "info() -> dict (shmc_info_t)"},
    {"keys", (PyCFunction)Cache_keys, METH_NOARGS, "keys() -> list of bytes"},
    {"close", (PyCFunction)Cache_close, METH_NOARGS, "close(): detach (idempotent)"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Cache_getset[] = {
    {"closed", (getter)Cache_get_closed, NULL, "whether close() was called", NULL},
    {"name", (getter)Cache_get_name, NULL, "the segment name", NULL},
    {"max_key_len", (getter)Cache_get_max_key_len, NULL, "longest key in bytes", NULL},
    {"max_value_len", (getter)Cache_get_max_value_len, NULL, "longest value in bytes", NULL},
    {"readonly", (getter)Cache_get_readonly, NULL, "opened read-only", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static int Cache_sq_contains(PyObject *s, PyObject *key)
{
    return Cache_contains_impl((CacheObject *)s, key);
}

static PySequenceMethods Cache_as_sequence = {
    .sq_contains = Cache_sq_contains,
};

static PyTypeObject CacheType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "shmcache._shmcache.Cache",
    .tp_basicsize = sizeof(CacheObject),
    .tp_dealloc = (destructor)Cache_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Cache(name, create=True, capacity=None, memory=None, max_key_len=None, "
              "max_value_len=None, stripes=None, mode=None, exclusive=False, readonly=False, "
              "any_owner=False, journal=None): a handle on a shmcache segment",
    .tp_methods = Cache_methods,
    .tp_getset = Cache_getset,
    .tp_as_sequence = &Cache_as_sequence,
    .tp_init = (initproc)Cache_init,
    .tp_new = Cache_new,
};

/* ---- module ------------------------------------------------------------ */

static PyObject *mod_unlink(PyObject *m, PyObject *name)
{
    (void)m;
    if (!PyUnicode_Check(name)) {
        PyErr_SetString(PyExc_TypeError, "name must be str");
        return NULL;
    }
    const char *n = PyUnicode_AsUTF8(name);
    if (!n)
        return NULL;
    int r = shmc_unlink(n);
    if (r == -ENOENT)
        Py_RETURN_FALSE;
    if (r < 0)
        return raise_err(r);
    Py_RETURN_TRUE;
}

static PyObject *mod_strerror(PyObject *m, PyObject *err)
{
    (void)m;
    int overflow = 0;
    long e = PyLong_AsLongAndOverflow(err, &overflow);
    if (e == -1 && PyErr_Occurred())
        return NULL;
    if (overflow || e < INT_MIN || e > INT_MAX)
        e = INT_MIN;
    return PyUnicode_FromString(shmc_strerror((int)e));
}

static PyMethodDef mod_methods[] = {
    {"unlink", (PyCFunction)mod_unlink, METH_O,
     "unlink(name) -> bool: remove a segment's name (False if absent)"},
    {"strerror", (PyCFunction)mod_strerror, METH_O, "strerror(err) -> the library's text"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moddef = {
    PyModuleDef_HEAD_INIT, "shmcache._shmcache", "CPython binding of libshmcache", -1,
    mod_methods, NULL, NULL, NULL, NULL,
};

static PyObject *new_exc(PyObject *m, const char *name, PyObject *b1, PyObject *b2,
                         const char *doc)
{
    char full[128];
    snprintf(full, sizeof(full), "shmcache.%s", name);
    PyObject *bases = b2 ? PyTuple_Pack(2, b1, b2) : PyTuple_Pack(1, b1);
    if (!bases)
        return NULL;
    PyObject *e = PyErr_NewExceptionWithDoc(full, doc, bases, NULL);
    Py_DECREF(bases);
    if (!e)
        return NULL;
    if (PyModule_AddObject(m, name, e) < 0) {
        Py_DECREF(e);
        return NULL;
    }
    return e; /* borrowed from the module, which lives forever */
}

PyMODINIT_FUNC PyInit__shmcache(void)
{
    if (PyType_Ready(&CacheType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&moddef);
    if (!m)
        return NULL;
    Py_INCREF(&CacheType);
    if (PyModule_AddObject(m, "Cache", (PyObject *)&CacheType) < 0) {
        Py_DECREF(&CacheType);
        goto fail;
    }
    if (!(Error = new_exc(m, "Error", PyExc_OSError, NULL,
                          "A shmcache error: .errno and .strerror are the library's code and "
                          "text.")))
        goto fail;
    Py_INCREF(Error); /* keep our globals alive beyond the module dict */
#define EXC(var, name, b2, doc)                          \
    if (!(var = new_exc(m, name, Error, b2, doc)))       \
        goto fail;                                       \
    Py_INCREF(var);
    EXC(InvalidArgument, "InvalidArgument", PyExc_ValueError, "EINVAL: bad argument")
    EXC(TooBig, "TooBig", PyExc_ValueError, "E2BIG: key or value over the segment's limits")
    EXC(NotFound, "NotFound", PyExc_KeyError, "ENOENT: no such segment or entry")
    EXC(Exists, "Exists", NULL, "EEXIST: the segment exists (exclusive=True)")
    EXC(Stale, "Stale", NULL, "ESTALE: the entry changed, or the lease is stale")
    EXC(Busy, "Busy", NULL, "EBUSY: another caller holds the lease / writer in progress")
    EXC(NoSpace, "NoSpace", NULL, "ENOSPC: no room (e.g. /dev/shm is full)")
    EXC(Deadlock, "Deadlock", NULL, "EDEADLK: a stripe lock could not be taken in time")
    EXC(BadSegment, "BadSegment", NULL, "EBADMSG/EPROTO: not a (compatible) shmcache segment")
    EXC(PermissionDenied, "PermissionDenied", PyExc_PermissionError, "EACCES: permission")
    EXC(ReadOnly, "ReadOnly", NULL, "EROFS: a write through a read-only handle")
    EXC(Closed, "Closed", PyExc_ValueError, "operation on a closed Cache")
#undef EXC
    if (PyModule_AddStringConstant(m, "LIBRARY_VERSION", SHMC_VERSION_STRING) < 0 ||
        PyModule_AddIntConstant(m, "LEASE_DEFAULT_MS", SHMC_LEASE_DEFAULT_MS) < 0 ||
        PyModule_AddIntConstant(m, "TAGS_MAX", SHMC_TAGS_MAX) < 0 ||
        PyModule_AddIntConstant(m, "TAG_MAX_LEN", SHMC_TAG_MAX_LEN) < 0 ||
        PyModule_AddIntConstant(m, "KEY_MAX", SHMC_KEY_MAX) < 0 ||
        PyModule_AddIntConstant(m, "VALUE_MAX", SHMC_VALUE_MAX) < 0 ||
        PyModule_AddIntConstant(m, "GET_RELEASES_GIL", SHMC_PY_GET_RELEASES_GIL) < 0)
        goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
