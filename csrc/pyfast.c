/*
 * xmppbin._xmppbin_fast: a CPython C-API entry point to the C core, for the
 * calls where the cffi path's own cost dominates (one stanza of a few hundred
 * bytes takes about 1 us to code; the Python frames, argument conversion and
 * cffi call around it took about 0.5 us more).
 *
 * The same core (csrc/decode.c, dict.c, scan.c, encode.c) is also built
 * through cffi as xmppbin._xmppbin_c, which stays the complete backend (every
 * call, PyPy). This module only adds a shortcut for the common cases, the way
 * python-zstandard ships a C-API backend and a cffi backend of one C library:
 *
 *   Encoder.encode(bytes), Decoder.decode(bytes),
 *   Encoder.encode_many(list/tuple of bytes), Decoder.decode_many(...)
 *
 * install() replaces these methods of the Python classes by method
 * descriptors of the functions below, so that `codec.encode(x)` calls C with
 * no Python frame in between. Each looks up the options the object has
 * prepared (an Options object in its _cenc / _cdec attribute, made by a Python
 * hook on first use and dropped whenever an attribute changes), checks that the
 * context dict still holds what it held then, and codes. Anything else
 * (another input type, keyword arguments, an unprepared or ineligible object,
 * the Python backend selected) and every failure of the C core goes to the
 * original Python method, which is passed to install(): errors are therefore
 * raised by the existing cffi path (xmppbin/_cerrors.py), with the same class,
 * offset, limit and index as before; this module never builds an error.
 *
 * Threads: the GIL is held for small inputs (releasing and taking it again
 * would cost more than the call) and released for large ones (single inputs
 * of XB_RELEASE_* bytes or more; batches in chunks of that much input). The
 * encoders (which keep their buffers between calls) come from a small pool
 * taken from and given back to while holding the GIL, so concurrent calls
 * never share one; the decoder keeps its state per thread in decode.c.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xmppbin.h"

/* inputs from this size on are coded without the GIL (bytes of XML for the
 * encoder; of binary for the decoder, which produces about 5x as much) */
#define XB_RELEASE_ENCODE ((Py_ssize_t)64 * 1024)
#define XB_RELEASE_DECODE ((Py_ssize_t)16 * 1024)
/* encoders kept for reuse */
#define POOL_MAX 8

/* ---- state (protected by the GIL) ------------------------------------------ */
static int enabled;                /* the C backend is selected (set_enabled) */
static xb_encoder *pool[POOL_MAX]; /* idle encoders */
static int npool;
static PyObject *S_cenc, *S_cdec;  /* interned attribute names */

enum { K_ENCODE, K_DECODE, K_ENCODE_MANY, K_DECODE_MANY, K_COUNT };
/* per method: the Python method it replaces (called for everything else) and
 * the hook that prepares an object's options (returns Options or False) */
static PyObject *fallback[K_COUNT], *prepare[K_COUNT];

static xb_encoder *pool_get(void)
{
    if (npool)
        return pool[--npool];
    return xb_encoder_new();
}

static void pool_put(xb_encoder *e)
{
    if (npool < POOL_MAX)
        pool[npool++] = e;
    else
        xb_encoder_free(e);
}

/* ---- Options ------------------------------------------------------------------ */
/* The options of one Encoder or Decoder in the form of the C core, with the
 * context packed as xb_encode_options / xb_decode_options take it, and a
 * snapshot of the context dict (its keys and values, referenced) to notice a
 * change made in place. Immutable once made (but for the version tag). */
typedef struct {
    PyObject_HEAD
    xb_encode_options eo;
    xb_decode_options dopt;
    char *ctx_data;
    size_t *ctx_lens;
    PyObject *ctx; /* the dict */
    Py_ssize_t nctx;
    PyObject **snap; /* key 0, value 0, key 1, ... */
#if PY_VERSION_HEX < 0x030C0000
    uint64_t tag; /* the dict's ma_version_tag when last seen unchanged */
#endif
} Options;

static PyTypeObject OptionsType;

/* The context dict still maps the same keys to the same value objects. */
static int ctx_unchanged(Options *o)
{
    PyObject *d = o->ctx;
    Py_ssize_t i;
#if PY_VERSION_HEX < 0x030C0000
    if (((PyDictObject *)d)->ma_version_tag == o->tag)
        return 1;
#endif
    if (PyDict_GET_SIZE(d) != o->nctx)
        return 0;
    for (i = 0; i < o->nctx; i++) {
        PyObject *v = PyDict_GetItemWithError(d, o->snap[2 * i]);
        if (v != o->snap[2 * i + 1]) {
            PyErr_Clear();
            return 0;
        }
    }
#if PY_VERSION_HEX < 0x030C0000
    o->tag = ((PyDictObject *)d)->ma_version_tag;
#endif
    return 1;
}

static int limit_arg(PyObject *v, uint32_t *out)
{
    long x;
    if (!PyLong_CheckExact(v)) {
        PyErr_SetString(PyExc_TypeError, "limits must be ints");
        return -1;
    }
    x = PyLong_AsLong(v);
    if (x == -1 && PyErr_Occurred())
        return -1;
    if (x < 1 || x > 0x7FFFFFFFL) {
        PyErr_SetString(PyExc_ValueError, "limits must be in 1..2**31-1");
        return -1;
    }
    *out = (uint32_t)x;
    return 0;
}

/* Options(exact, allow_comments, max_size, max_depth, max_attributes,
 *         max_string, max_elements, context): context a dict of str to str
 * (TypeError or ValueError otherwise: the caller then keeps the Python path) */
static PyObject *Options_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    int exact, allow_comments;
    PyObject *lim[5], *ctx;
    uint32_t lv[5];
    Options *o;
    Py_ssize_t pos = 0, n, i, total = 0;
    PyObject *k, *v;
    char *w;
    (void)type;
    if (kw && PyDict_GET_SIZE(kw)) {
        PyErr_SetString(PyExc_TypeError, "Options takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "ppOOOOOO!:Options", &exact, &allow_comments, &lim[0], &lim[1], &lim[2], &lim[3],
                          &lim[4], &PyDict_Type, &ctx))
        return NULL;
    if (!PyDict_CheckExact(ctx)) {
        PyErr_SetString(PyExc_TypeError, "context must be a dict");
        return NULL;
    }
    for (i = 0; i < 5; i++)
        if (limit_arg(lim[i], &lv[i]))
            return NULL;
    /* allocated first: nothing below may run Python code (a collection could),
       so the dict stays as the two passes over it see it */
    o = PyObject_GC_New(Options, &OptionsType);
    if (!o)
        return NULL;
    o->ctx_data = NULL;
    o->ctx_lens = NULL;
    o->snap = NULL;
    o->nctx = 0;
    Py_INCREF(ctx);
    o->ctx = ctx;
    n = PyDict_GET_SIZE(ctx);
    while (PyDict_Next(ctx, &pos, &k, &v)) {
        Py_ssize_t a, b;
        /* strict UTF-8: a lone surrogate (which the Python path encodes with
           surrogatepass) raises here, and the object stays on the Python path */
        if (!PyUnicode_CheckExact(k) || !PyUnicode_CheckExact(v)) {
            PyErr_SetString(PyExc_TypeError, "context must map str to str");
            goto fail;
        }
        if (!PyUnicode_AsUTF8AndSize(k, &a) || !PyUnicode_AsUTF8AndSize(v, &b))
            goto fail;
        total += a + b;
    }
    o->ctx_data = PyMem_Malloc((size_t)total + 1);
    o->ctx_lens = PyMem_Malloc(sizeof(size_t) * (size_t)(2 * n + 1));
    o->snap = PyMem_Malloc(sizeof(PyObject *) * (size_t)(2 * n + 1));
    if (!o->ctx_data || !o->ctx_lens || !o->snap) {
        PyErr_NoMemory();
        goto fail;
    }
    w = o->ctx_data;
    pos = 0;
    i = 0;
    while (i < n && PyDict_Next(ctx, &pos, &k, &v)) {
        Py_ssize_t a, b;
        const char *ka = PyUnicode_AsUTF8AndSize(k, &a), *va = PyUnicode_AsUTF8AndSize(v, &b);
        memcpy(w, ka, (size_t)a);
        w += a;
        memcpy(w, va, (size_t)b);
        w += b;
        o->ctx_lens[2 * i] = (size_t)a;
        o->ctx_lens[2 * i + 1] = (size_t)b;
        Py_INCREF(k);
        Py_INCREF(v);
        o->snap[2 * i] = k;
        o->snap[2 * i + 1] = v;
        o->nctx = ++i;
    }
#if PY_VERSION_HEX < 0x030C0000
    o->tag = ((PyDictObject *)ctx)->ma_version_tag;
#endif
    memset(&o->eo, 0, sizeof(o->eo));
    memset(&o->dopt, 0, sizeof(o->dopt));
    o->eo.max_size = o->dopt.max_size = lv[0];
    o->eo.max_depth = o->dopt.max_depth = lv[1];
    o->eo.max_attributes = o->dopt.max_attributes = lv[2];
    o->eo.max_string = o->dopt.max_string = lv[3];
    o->eo.max_elements = o->dopt.max_elements = lv[4];
    o->eo.exact = exact;
    o->eo.allow_comments = o->dopt.allow_comments = allow_comments;
    o->eo.open_root = -1; /* open_root=None: the fast path is only taken without it */
    o->eo.dictionary = 1;
    o->eo.context_count = o->dopt.context_count = (size_t)o->nctx;
    o->eo.context_data = o->dopt.context_data = o->ctx_data;
    o->eo.context_lens = o->dopt.context_lens = o->ctx_lens;
    PyObject_GC_Track(o);
    return (PyObject *)o;
fail:
    PyObject_GC_Track(o);
    Py_DECREF(o);
    return NULL;
}

static int Options_traverse(Options *o, visitproc visit, void *arg)
{
    Py_ssize_t i;
    Py_VISIT(o->ctx);
    for (i = 0; i < 2 * o->nctx; i++)
        Py_VISIT(o->snap[i]);
    return 0;
}

static int Options_clear(Options *o)
{
    Py_ssize_t i, n = o->nctx;
    o->nctx = 0;
    for (i = 0; i < 2 * n; i++)
        Py_CLEAR(o->snap[i]);
    Py_CLEAR(o->ctx);
    return 0;
}

static void Options_dealloc(Options *o)
{
    PyObject_GC_UnTrack(o);
    Options_clear(o);
    PyMem_Free(o->snap);
    PyMem_Free(o->ctx_lens);
    PyMem_Free(o->ctx_data);
    PyObject_GC_Del(o);
}

static PyTypeObject OptionsType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "xmppbin._xmppbin_fast.Options",
    .tp_basicsize = sizeof(Options),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Options(exact, allow_comments, max_size, max_depth, max_attributes, max_string, max_elements, "
              "context)\n--\n\nThe options of an Encoder or Decoder, prepared for the C core.",
    .tp_new = Options_new,
    .tp_traverse = (traverseproc)Options_traverse,
    .tp_clear = (inquiry)Options_clear,
    .tp_dealloc = (destructor)Options_dealloc,
};

/* ---- dispatch --------------------------------------------------------------------- */
/* The object used last per direction (0: encoding, 1: decoding), as a weak
 * reference (it may be freed, and its address reused), and its Options: the
 * usual caller uses one object many times, which then needs no attribute
 * lookup. forget(obj) (from _Prepared.__setattr__, when the options change)
 * drops the entry of obj. */
static PyObject *last_ref[2];
static Options *last_opts[2];

static void cache_clear(int dir)
{
    Py_CLEAR(last_ref[dir]);
    Py_CLEAR(last_opts[dir]);
}

static void cache_set(int dir, PyObject *self, Options *o)
{
    PyObject *ref = PyWeakref_NewRef(self, NULL);
    cache_clear(dir);
    if (!ref) { /* no weak references to it: not cached */
        PyErr_Clear();
        return;
    }
    last_ref[dir] = ref;
    Py_INCREF(o);
    last_opts[dir] = o;
}

/* the object of a weak reference, borrowed (None if it is gone) */
static PyObject *ref_target(PyObject *ref)
{
#if PY_VERSION_HEX >= 0x030D0000
    PyObject *obj = NULL;
    if (PyWeakref_GetRef(ref, &obj) < 0) {
        PyErr_Clear();
        return Py_None;
    }
    if (!obj)
        return Py_None;
    Py_DECREF(obj); /* still referenced by the caller's self */
    return obj;
#else
    return PyWeakref_GET_OBJECT(ref);
#endif
}

/* The prepared options of self for method kind (a new reference), or NULL
 * with no error set when the Python path must be taken. */
static Options *options_of(PyObject *self, int kind)
{
    const int dir = (kind == K_ENCODE || kind == K_ENCODE_MANY) ? 0 : 1;
    PyObject *o;
    if (last_ref[dir] && ref_target(last_ref[dir]) == self) {
        o = (PyObject *)last_opts[dir];
        if (ctx_unchanged((Options *)o)) {
            Py_INCREF(o);
            return (Options *)o;
        }
        cache_clear(dir);
    }
    o = PyObject_GetAttr(self, dir ? S_cdec : S_cenc);
    if (!o) {
        PyErr_Clear();
        return NULL;
    }
    if (Py_TYPE(o) == &OptionsType) {
        if (ctx_unchanged((Options *)o)) {
            cache_set(dir, self, (Options *)o);
            return (Options *)o;
        }
    } else if (o != Py_None) { /* False: not eligible */
        Py_DECREF(o);
        return NULL;
    }
    Py_DECREF(o);
    /* first use, or the context changed in place: prepare again */
    if (!prepare[kind])
        return NULL;
    o = PyObject_CallOneArg(prepare[kind], self);
    if (!o) {
        PyErr_Clear(); /* the Python path raises whatever is wrong */
        return NULL;
    }
    if (Py_TYPE(o) == &OptionsType) {
        cache_set(dir, self, (Options *)o);
        return (Options *)o;
    }
    Py_DECREF(o);
    return NULL;
}

/* fn(self, *args, **kwargs) for a method called with vectorcall arguments */
static PyObject *call_with_self(PyObject *fn, PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                                PyObject *kwnames)
{
    PyObject *small[8], **arr = small, *r;
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0, total = 1 + nargs + nkw, i;
    if (total > (Py_ssize_t)(sizeof(small) / sizeof(small[0]))) {
        arr = PyMem_Malloc(sizeof(PyObject *) * (size_t)total);
        if (!arr)
            return PyErr_NoMemory();
    }
    arr[0] = self;
    for (i = 0; i < nargs + nkw; i++)
        arr[1 + i] = args[i];
    r = PyObject_Vectorcall(fn, arr, (size_t)(1 + nargs), kwnames);
    if (arr != small)
        PyMem_Free(arr);
    return r;
}

/* the Python method: fallback[kind](self, *args, **kwargs) */
static PyObject *call_python(int kind, PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    if (!fallback[kind]) {
        PyErr_SetString(PyExc_RuntimeError, "xmppbin._xmppbin_fast is not installed");
        return NULL;
    }
    return call_with_self(fallback[kind], self, args, nargs, kwnames);
}

/* ---- single calls ------------------------------------------------------------------- */
/* NULL without an error: the C core failed, the Python path raises the error */
static PyObject *encode_bytes(Options *o, PyObject *xml)
{
    const char *p = PyBytes_AS_STRING(xml);
    Py_ssize_t n = PyBytes_GET_SIZE(xml);
    xb_encode_result res;
    xb_encoder *e = pool_get();
    PyObject *r = NULL;
    int rc;
    if (!e)
        return NULL;
    if (n >= XB_RELEASE_ENCODE) {
        Py_BEGIN_ALLOW_THREADS
        rc = xb_encode(e, p, (size_t)n, &o->eo, &res);
        Py_END_ALLOW_THREADS
    } else {
        rc = xb_encode(e, p, (size_t)n, &o->eo, &res);
    }
    if (rc == XB_OK)
        r = PyBytes_FromStringAndSize(res.data, (Py_ssize_t)res.size);
    pool_put(e);
    return r;
}

static PyObject *decode_bytes(Options *o, PyObject *data)
{
    const char *p = PyBytes_AS_STRING(data);
    Py_ssize_t n = PyBytes_GET_SIZE(data);
    xb_result res;
    PyObject *r;
    int rc;
    if (n >= XB_RELEASE_DECODE) {
        Py_BEGIN_ALLOW_THREADS
        rc = xb_decode(p, (size_t)n, &o->dopt, &res);
        Py_END_ALLOW_THREADS
    } else {
        rc = xb_decode(p, (size_t)n, &o->dopt, &res);
    }
    if (rc != XB_OK)
        return NULL;
    r = PyBytes_FromStringAndSize((const char *)res.data, (Py_ssize_t)res.size);
    xb_free(res.data);
    return r;
}

static PyObject *m_encode(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    if (nargs == 1 && !kwnames && enabled && PyBytes_CheckExact(args[0])) {
        Options *o = options_of(self, K_ENCODE);
        if (o) {
            PyObject *r = encode_bytes(o, args[0]);
            Py_DECREF(o);
            if (r || PyErr_Occurred())
                return r;
        }
    }
    return call_python(K_ENCODE, self, args, nargs, kwnames);
}

static PyObject *m_decode(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    if (nargs == 1 && !kwnames && enabled && PyBytes_CheckExact(args[0])) {
        Options *o = options_of(self, K_DECODE);
        if (o) {
            PyObject *r = decode_bytes(o, args[0]);
            Py_DECREF(o);
            if (r || PyErr_Occurred())
                return r;
        }
    }
    return call_python(K_DECODE, self, args, nargs, kwnames);
}

/* ---- batch calls -------------------------------------------------------------------- */
/* A growing byte buffer and the end offset of each message in it (malloc'd:
 * used without the GIL). */
typedef struct {
    char *p;
    size_t n, cap;
} obuf;

/* a chunk ends once its output has this many bytes: the buffer then stays
 * below glibc's mmap threshold (128 KiB), which a buffer mapped and unmapped
 * on every call pays for in page faults */
#define CHUNK_OUT ((size_t)48 * 1024)

static int obuf_add(obuf *b, const void *p, size_t n)
{
    if (n > b->cap - b->n) {
        size_t cap = b->cap ? b->cap : 2 * CHUNK_OUT;
        char *q;
        while (cap - b->n < n) {
            if (cap > SIZE_MAX / 2)
                return -1;
            cap *= 2;
        }
        q = realloc(b->p, cap);
        if (!q)
            return -1;
        b->p = q;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
    return 0;
}

/* Encode every item of a tuple of bytes: xb_encode_many_ptrs on chunks of
 * about XB_RELEASE_ENCODE input bytes (without the GIL if a chunk has that
 * much), each chunk's messages cut from the encoder's output buffer into
 * bytes objects. Returns the list, NULL with an error, or NULL without one
 * (an input failed: the Python path raises its error). */
static PyObject *encode_many_items(Options *o, PyObject *items)
{
    const Py_ssize_t n = PyTuple_GET_SIZE(items);
    const char **ptrs;
    size_t *sizes, *ends;
    PyObject *out;
    xb_encoder *e;
    Py_ssize_t i;
    int rc = XB_OK;
    out = PyList_New(n);
    if (!out)
        return NULL;
    ptrs = PyMem_Malloc(sizeof(*ptrs) * (size_t)(n ? n : 1));
    sizes = PyMem_Malloc(sizeof(*sizes) * (size_t)(n ? n : 1));
    ends = PyMem_Malloc(sizeof(*ends) * (size_t)(n ? n : 1));
    e = pool_get();
    if (!ptrs || !sizes || !ends || !e)
        rc = XB_ERR_NOMEM;
    for (i = 0; rc == XB_OK && i < n; i++) {
        PyObject *x = PyTuple_GET_ITEM(items, i);
        ptrs[i] = PyBytes_AS_STRING(x);
        sizes[i] = (size_t)PyBytes_GET_SIZE(x);
    }
    i = 0;
    while (rc == XB_OK && i < n) {
        Py_ssize_t j = i, k;
        size_t chunk = 0, start = 0;
        xb_encode_result res;
        while (j < n && chunk < (size_t)XB_RELEASE_ENCODE)
            chunk += sizes[j++];
        if (chunk >= (size_t)XB_RELEASE_ENCODE) {
            Py_BEGIN_ALLOW_THREADS
            rc = xb_encode_many_ptrs(e, (size_t)(j - i), ptrs + i, sizes + i, &o->eo, ends + i, &res);
            Py_END_ALLOW_THREADS
        } else {
            rc = xb_encode_many_ptrs(e, (size_t)(j - i), ptrs + i, sizes + i, &o->eo, ends + i, &res);
        }
        if (rc != XB_OK)
            break;
        for (k = i; k < j; k++) {
            PyObject *r = PyBytes_FromStringAndSize(res.data + start, (Py_ssize_t)(ends[k] - start));
            if (!r) {
                rc = XB_ERR_NOMEM;
                break;
            }
            PyList_SET_ITEM(out, k, r);
            start = ends[k];
        }
        i = j;
    }
    if (e)
        pool_put(e);
    PyMem_Free(ptrs);
    PyMem_Free(sizes);
    PyMem_Free(ends);
    if (rc != XB_OK) {
        Py_DECREF(out); /* unset items are NULL, which list_dealloc skips */
        if (rc == XB_ERR_NOMEM && !PyErr_Occurred())
            PyErr_NoMemory();
        return NULL;
    }
    return out;
}

/* Decode every item of a tuple of bytes. Small batches (less than
 * XB_RELEASE_DECODE bytes in all) with the GIL, each message straight into
 * its bytes object; larger ones in chunks of about that many input bytes (or
 * CHUNK_OUT output bytes) decoded without the GIL into one buffer, then cut
 * into bytes objects. Returns as encode_many_items. */
static PyObject *decode_many_items(Options *o, PyObject *items)
{
    const Py_ssize_t n = PyTuple_GET_SIZE(items);
    Py_ssize_t i, total = 0;
    PyObject *out;
    int rc = XB_OK;
    for (i = 0; i < n; i++)
        total += PyBytes_GET_SIZE(PyTuple_GET_ITEM(items, i));
    out = PyList_New(n);
    if (!out)
        return NULL;
    if (total < XB_RELEASE_DECODE) {
        for (i = 0; i < n; i++) {
            PyObject *x = PyTuple_GET_ITEM(items, i), *r;
            xb_result res;
            rc = xb_decode(PyBytes_AS_STRING(x), (size_t)PyBytes_GET_SIZE(x), &o->dopt, &res);
            if (rc != XB_OK)
                break;
            r = PyBytes_FromStringAndSize((const char *)res.data, (Py_ssize_t)res.size);
            xb_free(res.data);
            if (!r) {
                rc = XB_ERR_NOMEM;
                break;
            }
            PyList_SET_ITEM(out, i, r);
        }
    } else {
        obuf buf = {NULL, 0, 0};
        size_t *ends = PyMem_Malloc(sizeof(size_t) * (size_t)(n ? n : 1));
        if (!ends)
            rc = XB_ERR_NOMEM;
        i = 0;
        while (rc == XB_OK && i < n) {
            Py_ssize_t j = i, chunk = 0, k;
            size_t start = 0;
            buf.n = 0;
            Py_BEGIN_ALLOW_THREADS
            while (j < n && chunk < XB_RELEASE_DECODE && buf.n < CHUNK_OUT) {
                PyObject *x = PyTuple_GET_ITEM(items, j);
                size_t len = (size_t)PyBytes_GET_SIZE(x);
                xb_result res;
                rc = xb_decode(PyBytes_AS_STRING(x), len, &o->dopt, &res);
                if (rc == XB_OK) {
                    if (obuf_add(&buf, res.data, res.size))
                        rc = XB_ERR_NOMEM;
                    xb_free(res.data);
                }
                if (rc != XB_OK)
                    break;
                ends[j] = buf.n;
                chunk += (Py_ssize_t)len;
                j++;
            }
            Py_END_ALLOW_THREADS
            if (rc != XB_OK)
                break;
            for (k = i; k < j; k++) {
                PyObject *r = PyBytes_FromStringAndSize(buf.p ? buf.p + start : "", (Py_ssize_t)(ends[k] - start));
                if (!r) {
                    rc = XB_ERR_NOMEM;
                    break;
                }
                PyList_SET_ITEM(out, k, r);
                start = ends[k];
            }
            i = j;
        }
        free(buf.p);
        PyMem_Free(ends);
    }
    if (rc != XB_OK) {
        Py_DECREF(out);
        if (rc == XB_ERR_NOMEM && !PyErr_Occurred())
            PyErr_NoMemory();
        return NULL;
    }
    return out;
}

/* items as a tuple of exact bytes objects (a new reference), or NULL without
 * an error when the Python path must take them */
static PyObject *bytes_items(PyObject *seq)
{
    PyObject *t;
    Py_ssize_t i, n;
    if (PyList_CheckExact(seq)) {
        t = PyList_AsTuple(seq);
        if (!t) {
            PyErr_Clear();
            return NULL;
        }
    } else if (PyTuple_CheckExact(seq)) {
        Py_INCREF(seq);
        t = seq;
    } else {
        return NULL;
    }
    n = PyTuple_GET_SIZE(t);
    for (i = 0; i < n; i++)
        if (!PyBytes_CheckExact(PyTuple_GET_ITEM(t, i))) {
            Py_DECREF(t);
            return NULL;
        }
    return t;
}

static PyObject *many(int kind, PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    if (nargs == 1 && !kwnames && enabled) {
        PyObject *items = bytes_items(args[0]);
        if (items) {
            Options *o = options_of(self, kind);
            PyObject *r = NULL;
            if (o) {
                r = kind == K_DECODE_MANY ? decode_many_items(o, items) : encode_many_items(o, items);
                Py_DECREF(o);
            }
            Py_DECREF(items);
            if (r || PyErr_Occurred())
                return r;
        }
    }
    return call_python(kind, self, args, nargs, kwnames);
}

static PyObject *m_encode_many(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    return many(K_ENCODE_MANY, self, args, nargs, kwnames);
}

static PyObject *m_decode_many(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    return many(K_DECODE_MANY, self, args, nargs, kwnames);
}

#define FASTCALL(f) (PyCFunction)(void (*)(void))(f)
static PyMethodDef method_defs[K_COUNT] = {
    {"encode", FASTCALL(m_encode), METH_FASTCALL | METH_KEYWORDS,
     "encode($self, xml, /, *, open_root=None)\n--\n\n"
     "Encode one element (or, with open_root, a stream header left open)."},
    {"decode", FASTCALL(m_decode), METH_FASTCALL | METH_KEYWORDS,
     "decode($self, data, /)\n--\n\nThe UTF-8 XML of one message."},
    {"encode_many", FASTCALL(m_encode_many), METH_FASTCALL | METH_KEYWORDS,
     "encode_many($self, xmls, /)\n--\n\n"
     "Encode many elements in one call. The first invalid input raises its error;\n"
     "the message names its index."},
    {"decode_many", FASTCALL(m_decode_many), METH_FASTCALL | METH_KEYWORDS,
     "decode_many($self, datas, /)\n--\n\nDecode many messages in one call; the first invalid one raises."},
};

/* ---- module-level functions ---------------------------------------------------------- */
/* xmppbin.encode, decode, encode_many and decode_many (made by function()):
 * called with one positional argument and no keywords, which the Python
 * function they stand for hands to the method of its default Codec, they call
 * that method's entry point above directly, without a Python frame (so the
 * module-level call costs what codec.encode(x) costs); any other call goes to
 * the Python function unchanged (options, errors, the Python backend). They
 * look like that function: __doc__, and through attribute lookup __name__,
 * __qualname__, __module__, __annotations__..., with __wrapped__ for
 * inspect.signature() and help(); repr() and pickling by name too. */
typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    int kind;
    PyObject *codec; /* the default Codec */
    PyObject *func;  /* the Python function */
} Function;

typedef PyObject *(*fastmethod)(PyObject *, PyObject *const *, Py_ssize_t, PyObject *);
static const fastmethod methods[K_COUNT] = {m_encode, m_decode, m_encode_many, m_decode_many};

static PyObject *Function_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Function *f = (Function *)callable;
    if (PyVectorcall_NARGS(nargsf) == 1 && !kwnames)
        return methods[f->kind](f->codec, args, 1, NULL);
    return PyObject_Vectorcall(f->func, args, nargsf, kwnames);
}

static PyObject *Function_getattro(PyObject *self, PyObject *name)
{
    PyObject *r = PyObject_GenericGetAttr(self, name);
    if (r || !PyErr_ExceptionMatches(PyExc_AttributeError))
        return r;
    PyErr_Clear();
    return PyObject_GetAttr(((Function *)self)->func, name);
}

static PyObject *Function_doc(PyObject *self, void *closure)
{
    (void)closure;
    return PyObject_GetAttrString(((Function *)self)->func, "__doc__");
}

static PyObject *Function_wrapped(PyObject *self, void *closure)
{
    (void)closure;
    Py_INCREF(((Function *)self)->func);
    return ((Function *)self)->func;
}

static PyObject *Function_repr(PyObject *self)
{
    return PyObject_Repr(((Function *)self)->func);
}

/* pickled by name, as functions are */
static PyObject *Function_reduce(PyObject *self, PyObject *unused)
{
    (void)unused;
    return PyObject_GetAttrString(((Function *)self)->func, "__qualname__");
}

/* not bound when stored in a class (like a built-in function); this also makes
 * inspect.isroutine() true, so that help() documents it as a function */
static PyObject *Function_get(PyObject *self, PyObject *obj, PyObject *type)
{
    (void)obj;
    (void)type;
    Py_INCREF(self);
    return self;
}

static int Function_traverse(Function *f, visitproc visit, void *arg)
{
    Py_VISIT(f->codec);
    Py_VISIT(f->func);
    return 0;
}

static int Function_clear(Function *f)
{
    Py_CLEAR(f->codec);
    Py_CLEAR(f->func);
    return 0;
}

static void Function_dealloc(Function *f)
{
    PyObject_GC_UnTrack(f);
    Function_clear(f);
    PyObject_GC_Del(f);
}

static PyGetSetDef Function_getset[] = {
    {"__doc__", Function_doc, NULL, NULL, NULL},
    {"__wrapped__", Function_wrapped, NULL, "the Python function", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef Function_methods[] = {
    {"__reduce__", Function_reduce, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject FunctionType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "xmppbin._xmppbin_fast.Function",
    .tp_basicsize = sizeof(Function),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(Function, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_getattro = Function_getattro,
    .tp_repr = Function_repr,
    .tp_descr_get = Function_get,
    .tp_getset = Function_getset,
    .tp_methods = Function_methods,
    .tp_traverse = (traverseproc)Function_traverse,
    .tp_clear = (inquiry)Function_clear,
    .tp_dealloc = (destructor)Function_dealloc,
};

/* ---- stream feed loops ------------------------------------------------------------------ */
/* StreamEncoder.feed and StreamDecoder.feed (xmppbin/stream.py) with the C
 * stream state: one call into the feed loops of csrc/frame.c, with the input
 * through the buffer protocol and the result (frames as bytes, events as
 * StreamEvent tuples) built here. The loops and the state belong to the cffi
 * objects of xmppbin/_cstream.py (EncodeFeeder, DecodeFeeder), which make a
 * Feed with the addresses of their xb_fenc / xb_fdec and xb_feed_result and
 * give it the address of their option struct whenever they make one. The
 * same feeder is used by both paths, so they can alternate freely.
 *
 * Taken when the object has a Feed (self._cfeed), is not failed, the input is
 * bytes, a bytearray or a byte memoryview, and the options the feeder prepared
 * are those of the object's current context (and limits, allow_comments);
 * anything else calls the Python method. When the loop stops at a unit it
 * leaves to Python (XB_FEED_PENDING) or fails (XB_FEED_ERROR), what it
 * produced so far is built here and self._resume_c(rc, out) goes on in Python:
 * it codes the unit and feeds on, or raises the error of the cffi path (with
 * e.frames / e.events and the failed state), so results and errors are those
 * of the Python method. */
typedef struct {
    PyObject_HEAD
    int dir;               /* 0: xb_fenc (encoder), 1: xb_fdec (decoder) */
    void *loop;            /* the xb_fenc / xb_fdec of keep */
    xb_feed_result *res;   /* its result struct (keep's) */
    const void *opt;       /* xb_encode_options / xb_decode_options, NULL until set */
    PyObject *keep;        /* the Python feeder owning loop and res */
    PyObject *opt_keep;    /* the owner of opt */
    PyObject *ctx, *limits, *ac; /* the objects opt was made from */
    char failed;           /* the object failed (set by its _failed property): Python raises */
    PyObject *error;       /* what failed it here (fail_feed), or NULL: read by the _failed property */
    PyObject *spare;       /* an empty list to return again (spare_list), or NULL */
} Feed;

static int hook_fails(void);

/* A new reference to an empty list for a decoder call that completed no
 * frame: the one returned last time when nobody else holds it any more (and
 * it is still empty), so a caller feeding a byte at a time does not make and
 * free a list per byte; else a new one, kept as the spare. NULL with an error
 * set (also from the test hook, as PyList_New would). */
static PyObject *spare_list(Feed *f)
{
    PyObject *l = f->spare;
    if (hook_fails())
        return NULL;
    if (l && Py_REFCNT(l) == 1 && PyList_GET_SIZE(l) == 0) {
        Py_INCREF(l);
        return l;
    }
    l = PyList_New(0);
    if (!l)
        return NULL;
    Py_INCREF(l);
    Py_XSETREF(f->spare, l);
    return l;
}

static PyTypeObject FeedType;
static PyObject *S_cfeed, *S_opened, *S_s, *S_context, *S_limits, *S_allow_comments, *S_resume, *S_unit;
static PyObject *S_element, *S_text, *S_close, *S_open, *S_header;
static PyObject *feed_fallback[2], *event_type; /* the Python feed methods; StreamEvent */

static PyObject *addr_arg(PyObject *v, void **out)
{
    void *p = PyLong_AsVoidPtr(v);
    if (!p && PyErr_Occurred())
        return NULL;
    if (!p) {
        PyErr_SetString(PyExc_ValueError, "NULL address");
        return NULL;
    }
    *out = p;
    return v;
}

/* The loops and stream states of a Feed are made by the cffi module, with its
 * copy of the core and the tables that copy builds; so the loops are run by
 * that copy too, through the addresses of its functions (core_functions(), set
 * once by xmppbin/_cstream.py), never by this module's copy of the sources. */
typedef int (*fenc_feed_fn)(xb_fenc *, const char *, size_t, int, const xb_encode_options *, xb_feed_result *);
typedef int (*fdec_feed_fn)(xb_fdec *, const char *, size_t, int, const xb_decode_options *, xb_feed_result *);
typedef int (*fdec_hold_fn)(xb_fdec *, const char *, size_t);
static fenc_feed_fn core_fenc_feed;
static fdec_feed_fn core_fdec_feed;
static fdec_hold_fn core_fdec_hold;
_Static_assert(sizeof(void *) == sizeof(fenc_feed_fn), "function pointers travel as data pointers");

/* core_functions(xb_fenc_feed, xb_fdec_feed, xb_fdec_hold): their addresses in the cffi module */
static PyObject *f_core_functions(PyObject *mod, PyObject *args)
{
    PyObject *a, *b, *c;
    void *pa, *pb, *pc;
    (void)mod;
    if (!PyArg_ParseTuple(args, "OOO:core_functions", &a, &b, &c))
        return NULL;
    if (!addr_arg(a, &pa) || !addr_arg(b, &pb) || !addr_arg(c, &pc))
        return NULL;
    /* function pointers travel as integers (C11 has no void * <-> function pointer
     * conversion; POSIX guarantees the round trip, as dlsym does) */
    memcpy(&core_fenc_feed, &pa, sizeof pa);
    memcpy(&core_fdec_feed, &pb, sizeof pb);
    memcpy(&core_fdec_hold, &pc, sizeof pc);
    Py_RETURN_NONE;
}

static int feed_options(Feed *f, PyObject *a, PyObject *owner, PyObject *ctx, PyObject *limits, PyObject *ac);

/* Feed(dir, loop address, result address, owner[, the arguments of set_options]) */
static PyObject *Feed_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    int dir;
    PyObject *a_loop, *a_res, *keep, *a_opt = NULL, *owner = NULL, *ctx = NULL, *limits = NULL, *ac = NULL;
    void *loop, *res;
    Feed *f;
    (void)type;
    if (!core_fenc_feed || !core_fdec_feed || !core_fdec_hold) {
        PyErr_SetString(PyExc_RuntimeError, "xmppbin: core_functions() was not called before Feed()");
        return NULL;
    }
    if (kw && PyDict_GET_SIZE(kw)) {
        PyErr_SetString(PyExc_TypeError, "Feed takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "iOOO|OOOOO:Feed", &dir, &a_loop, &a_res, &keep, &a_opt, &owner, &ctx, &limits, &ac))
        return NULL;
    if (a_opt && !ac) {
        PyErr_SetString(PyExc_TypeError, "Feed takes 4 arguments, or 9 with the options");
        return NULL;
    }
    if (dir != 0 && dir != 1) {
        PyErr_SetString(PyExc_ValueError, "dir must be 0 (encoder) or 1 (decoder)");
        return NULL;
    }
    if (!addr_arg(a_loop, &loop) || !addr_arg(a_res, &res))
        return NULL;
    f = PyObject_GC_New(Feed, &FeedType);
    if (!f)
        return NULL;
    f->dir = dir;
    f->loop = loop;
    f->res = res;
    f->opt = NULL;
    Py_INCREF(keep);
    f->keep = keep;
    f->opt_keep = f->ctx = f->limits = f->ac = NULL;
    f->failed = 0;
    f->error = NULL;
    f->spare = NULL;
    PyObject_GC_Track(f);
    if (a_opt && feed_options(f, a_opt, owner, ctx, limits, ac)) { /* the options at once */
        Py_DECREF(f);
        return NULL;
    }
    return (PyObject *)f;
}

/* the option struct at address a (kept alive by owner) for these objects: 0, or -1 with an error set */
static int feed_options(Feed *f, PyObject *a, PyObject *owner, PyObject *ctx, PyObject *limits, PyObject *ac)
{
    void *opt;
    if (!addr_arg(a, &opt))
        return -1;
    f->opt = opt;
    Py_INCREF(owner);
    Py_XSETREF(f->opt_keep, owner);
    Py_INCREF(ctx);
    Py_XSETREF(f->ctx, ctx);
    Py_INCREF(limits);
    Py_XSETREF(f->limits, limits);
    Py_INCREF(ac);
    Py_XSETREF(f->ac, ac);
    return 0;
}

/* set_options(address, owner, context, limits, allow_comments) */
static PyObject *Feed_set_options(Feed *f, PyObject *args)
{
    PyObject *a, *owner, *ctx, *limits, *ac;
    if (!PyArg_ParseTuple(args, "OOOOO:set_options", &a, &owner, &ctx, &limits, &ac))
        return NULL;
    if (feed_options(f, a, owner, ctx, limits, ac))
        return NULL;
    Py_RETURN_NONE;
}

static int Feed_traverse(Feed *f, visitproc visit, void *arg)
{
    Py_VISIT(f->keep);
    Py_VISIT(f->opt_keep);
    Py_VISIT(f->ctx);
    Py_VISIT(f->limits);
    Py_VISIT(f->ac);
    Py_VISIT(f->error);
    Py_VISIT(f->spare);
    return 0;
}

static int Feed_clear(Feed *f)
{
    f->opt = NULL;
    f->loop = NULL;
    Py_CLEAR(f->keep);
    Py_CLEAR(f->opt_keep);
    Py_CLEAR(f->ctx);
    Py_CLEAR(f->limits);
    Py_CLEAR(f->ac);
    Py_CLEAR(f->error);
    Py_CLEAR(f->spare);
    return 0;
}

static void Feed_dealloc(Feed *f)
{
    PyObject_GC_UnTrack(f);
    Feed_clear(f);
    PyObject_GC_Del(f);
}

static PyMethodDef Feed_methods[] = {
    {"set_options", (PyCFunction)Feed_set_options, METH_VARARGS,
     "set_options(address, owner, context, limits, allow_comments)\n--\n\n"
     "The option struct the feeder made (kept alive by owner) for these objects."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef Feed_members[] = {
    {"failed", T_BOOL, offsetof(Feed, failed), 0, "the object failed: every feed goes to the Python method"},
    {"error", T_OBJECT, offsetof(Feed, error), READONLY,
     "the exception that failed the object inside the C method (its result could not be built), or None"},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject FeedType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "xmppbin._xmppbin_fast.Feed",
    .tp_basicsize = sizeof(Feed),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Feed(dir, loop, result, owner[, address, owner, context, limits, allow_comments])\n--\n\n"
              "The C entry of a stream feed loop (see csrc/pyfast.c); the optional arguments are set_options'.",
    .tp_new = Feed_new,
    .tp_methods = Feed_methods,
    .tp_members = Feed_members,
    .tp_traverse = (traverseproc)Feed_traverse,
    .tp_clear = (inquiry)Feed_clear,
    .tp_dealloc = (destructor)Feed_dealloc,
};

/* obj.name is expected (a new reference), or NULL with no error set */
static PyObject *attr(PyObject *obj, PyObject *name)
{
    PyObject *v = PyObject_GetAttr(obj, name);
    if (!v)
        PyErr_Clear();
    return v;
}

/* the attributes the feed methods read on every call (self_attr) */
enum { SL_CFEED, SL_S, SL_OPENED, SL_AC, SL_LIMITS, SL_N };
static PyObject *self_attr(PyObject *self, int dir, int k);
static PyObject *context_of(PyObject *s);

/* The options of f are still those of self's context (and limits and
   allow_comments): 1, else 0 (no error set). */
static int feed_options_current(Feed *f, PyObject *self)
{
    PyObject *s, *ctx, *ac, *lim = NULL;
    int ok;
    if (!f->opt)
        return 0;
    s = self_attr(self, f->dir, SL_S);
    if (!s)
        return 0;
    ctx = context_of(s);
    Py_DECREF(s);
    if (!ctx)
        return 0;
    ac = self_attr(self, f->dir, SL_AC);
    if (f->dir == 1)
        lim = self_attr(self, f->dir, SL_LIMITS);
    ok = ctx == f->ctx && ac && ac == f->ac && (f->dir == 0 || (lim && lim == f->limits));
    Py_DECREF(ctx);
    Py_XDECREF(ac);
    Py_XDECREF(lim);
    return ok;
}

/* Test hook (_fail_results(n), tests/test_stream_fast.py): the n-th result
 * object the feed methods build from now on (an event, the frames' bytes, the
 * empty list of a decoder call that completed no frame)
 * fails with MemoryError, as it would without memory; 0: off. */
static long fail_countdown;

static int hook_fails(void)
{
    if (fail_countdown > 0 && --fail_countdown == 0) {
        PyErr_NoMemory();
        return 1;
    }
    return 0;
}

static PyObject *f_fail_results(PyObject *mod, PyObject *arg)
{
    long n = PyLong_AsLong(arg);
    (void)mod;
    if (n == -1 && PyErr_Occurred())
        return NULL;
    fail_countdown = n > 0 ? n : 0;
    Py_RETURN_NONE;
}

/* the frames' bytes of an encoder result */
static PyObject *result_bytes(const char *p, size_t n)
{
    if (hook_fails())
        return NULL;
    return PyBytes_FromStringAndSize(p, (Py_ssize_t)n);
}

/* The method is failing (an exception is set) after the loop consumed input:
 * the state went on, the output of the call is lost, so the object fails for
 * good (spec 14.5), unless the Python side already failed it (_unit_c,
 * _resume_c). Nothing is allocated: the exception itself is kept, and the
 * _failed property of the object reads it from here. */
static void fail_feed(Feed *f)
{
    PyObject *t, *v, *tb;
    if (f->failed || !PyErr_Occurred())
        return;
    PyErr_Fetch(&t, &v, &tb);
    PyErr_NormalizeException(&t, &v, &tb);
    if (v && tb)
        PyException_SetTraceback(v, tb);
    f->failed = 1;
    if (v) {
        Py_INCREF(v);
        Py_XSETREF(f->error, v);
    }
    PyErr_Restore(t, v, tb);
}

/* a StreamEvent(kind, xml) */
static PyObject *stream_event(PyObject *kind, const unsigned char *p, size_t n)
{
    PyTypeObject *t = (PyTypeObject *)event_type;
    PyObject *x, *ev;
    if (hook_fails())
        return NULL;
    x = PyBytes_FromStringAndSize((const char *)p, (Py_ssize_t)n);
    if (!x)
        return NULL;
    ev = t->tp_alloc(t, 2);
    if (!ev) {
        Py_DECREF(x);
        return NULL;
    }
    Py_INCREF(kind);
    PyTuple_SET_ITEM(ev, 0, kind);
    PyTuple_SET_ITEM(ev, 1, x);
    /* a str and a bytes object: nothing the cycle collector needs to see (it
       would untrack the tuple itself on its first pass, as it does for tuples
       of atomic objects); a session's thousands of events then cost it nothing */
    if (PyObject_GC_IsTracked(ev))
        PyObject_GC_UnTrack(ev);
    return ev;
}

/* the kind string of an event of the decoder loop */
static PyObject *event_kind(size_t kind)
{
    return kind == XB_UNIT_ELEMENT ? S_element : kind == XB_UNIT_TEXT ? S_text : kind == XB_UNIT_OPEN ? S_open : S_close;
}

/* the events of a decoder feed result, in a new list */
static PyObject *feed_events(const xb_feed_result *res)
{
    size_t i, n = res->nevents;
    PyObject *out = PyList_New((Py_ssize_t)n);
    if (!out)
        return NULL;
    for (i = 0; i < n; i++) {
        const size_t *e = res->events + 3 * i;
        PyObject *ev;
        if (e[0] > XB_UNIT_CLOSE) { /* not produced by the loop */
            Py_DECREF(out);
            PyErr_SetString(PyExc_RuntimeError, "xmppbin: unexpected event kind from the C feed loop");
            return NULL;
        }
        ev = stream_event(event_kind(e[0]), res->data + e[1], e[2]);
        if (!ev) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, (Py_ssize_t)i, ev);
    }
    return out;
}

/* the input as contiguous bytes: 1 (view filled, release it), 0 (not taken) */
static int feed_input(PyObject *data, Py_buffer *view)
{
    if (PyBytes_CheckExact(data) || PyByteArray_CheckExact(data)) {
        if (PyObject_GetBuffer(data, view, PyBUF_SIMPLE) == 0)
            return 1;
        PyErr_Clear();
        return 0;
    }
    if (PyMemoryView_Check(data)) {
        const Py_buffer *b = PyMemoryView_GET_BUFFER(data);
        /* len(data) is the length in bytes only for one dimension of bytes */
        if (b->ndim == 1 && b->itemsize == 1 && PyBuffer_IsContiguous(b, 'C')) {
            if (PyObject_GetBuffer(data, view, PyBUF_SIMPLE) == 0)
                return 1;
            PyErr_Clear();
        }
    }
    return 0;
}

/* The class of each direction (install_feed) and the offset of its _cfeed
 * slot (a member descriptor of the class: xmppbin/stream.py's __slots__), or
 * 0: found by attribute lookup, which costs a one-byte feed() a third of its
 * time. */
static PyTypeObject *cfeed_cls[2];
/* their names and slot offsets (0: not a slot of the class, found by attribute lookup) */
static PyObject **const slot_names[SL_N] = {&S_cfeed, &S_s, &S_opened, &S_allow_comments, &S_limits};
static Py_ssize_t slot_offs[2][SL_N];
/* the class of self._s (xmppbin/stream.py's _StreamContext) and the offset of its context slot */
static PyTypeObject *ctx_cls;
static Py_ssize_t ctx_off;

/* the offset of cls's own slot name (a member descriptor in its dict), or 0 */
static Py_ssize_t member_offset(PyTypeObject *cls, PyObject *name)
{
    PyObject *d = PyDict_GetItemWithError(cls->tp_dict, name); /* borrowed */
    Py_ssize_t off = 0;
    if (d && Py_IS_TYPE(d, &PyMemberDescr_Type) && ((PyMemberDescrObject *)d)->d_member->type == T_OBJECT_EX)
        off = ((PyMemberDescrObject *)d)->d_member->offset;
    PyErr_Clear();
    return off;
}

static void cfeed_slot(PyObject *cls, int dir)
{
    cfeed_cls[dir] = (PyTypeObject *)cls;
    for (int k = 0; k < SL_N; k++)
        slot_offs[dir][k] = member_offset((PyTypeObject *)cls, *slot_names[k]);
}

/* self's attribute k (an object of direction dir's class: read from its slot), new reference or NULL */
static PyObject *self_attr(PyObject *self, int dir, int k)
{
    Py_ssize_t off = slot_offs[dir][k];
    if (off && Py_IS_TYPE(self, cfeed_cls[dir])) {
        PyObject *v = *(PyObject **)((char *)self + off);
        if (v) {
            Py_INCREF(v);
            return v;
        }
    }
    return attr(self, *slot_names[k]);
}

/* s.context of self._s, new reference or NULL */
static PyObject *context_of(PyObject *s)
{
    if (!ctx_cls) {
        Py_ssize_t off = member_offset(Py_TYPE(s), S_context);
        if (off) {
            Py_INCREF(Py_TYPE(s));
            ctx_cls = Py_TYPE(s);
            ctx_off = off;
        }
    }
    if (ctx_cls && Py_IS_TYPE(s, ctx_cls)) {
        PyObject *v = *(PyObject **)((char *)s + ctx_off);
        if (v) {
            Py_INCREF(v);
            return v;
        }
    }
    return attr(s, S_context);
}

/* self's Feed of direction dir, if the fast path may be taken (new reference) */
static Feed *feed_of(PyObject *self, int dir)
{
    PyObject *f;
    if (slot_offs[dir][SL_CFEED] && Py_IS_TYPE(self, cfeed_cls[dir])) {
        f = *(PyObject **)((char *)self + slot_offs[dir][SL_CFEED]);
        if (!f)
            return NULL; /* not set (or deleted) */
        Py_INCREF(f);
    } else {
        f = attr(self, S_cfeed);
    }
    if (!f)
        return NULL;
    /* failed: the Python method raises the stored error */
    if (Py_TYPE(f) != &FeedType || ((Feed *)f)->dir != dir || !((Feed *)f)->loop || ((Feed *)f)->failed) {
        Py_DECREF(f);
        return NULL;
    }
    return (Feed *)f;
}

/* self._opened as 0/1, or -1 (not known: take the Python path) */
static int opened_of(const Feed *f, PyObject *self)
{
    PyObject *v = self_attr(self, f->dir, SL_OPENED);
    int r;
    if (!v)
        return -1;
    r = v == Py_True ? 1 : v == Py_False ? 0 : -1;
    Py_DECREF(v);
    return r;
}

static PyObject *call_feed_python(int dir, PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                                  PyObject *kwnames)
{
    if (!feed_fallback[dir]) {
        PyErr_SetString(PyExc_RuntimeError, "xmppbin._xmppbin_fast: stream feed is not installed");
        return NULL;
    }
    return call_with_self(feed_fallback[dir], self, args, nargs, kwnames);
}

/* self._unit_c(rc, out): the unit left to Python coded, or the error raised */
static int unit(PyObject *self, int rc, PyObject *out)
{
    PyObject *code = PyLong_FromLong(rc), *r;
    if (!code)
        return -1;
    r = PyObject_CallMethodObjArgs(self, S_unit, code, out, NULL);
    Py_DECREF(code);
    if (!r)
        return -1;
    Py_DECREF(r);
    return 0;
}

/* The loop coded stream headers (OPEN units / frames) itself: self._header_c()
   takes the state of the last one (context, stream name, options); 0, or -1
   (error set) */
static int header_synced(PyObject *self, const xb_feed_result *res)
{
    PyObject *r;
    if (!res->headers)
        return 0;
    r = PyObject_CallMethodObjArgs(self, S_header, NULL);
    if (!r)
        return -1;
    Py_DECREF(r);
    return 0;
}

/* append the events of a decoder feed result to out; -1 (error set) */
static int add_events(PyObject *out, const xb_feed_result *res)
{
    size_t i, n = res->nevents;
    for (i = 0; i < n; i++) {
        const size_t *e = res->events + 3 * i;
        PyObject *ev;
        int bad;
        if (e[0] > XB_UNIT_CLOSE) { /* not produced by the loop */
            PyErr_SetString(PyExc_RuntimeError, "xmppbin: unexpected event kind from the C feed loop");
            return -1;
        }
        ev = stream_event(event_kind(e[0]), res->data + e[1], e[2]);
        if (!ev)
            return -1;
        bad = PyList_Append(out, ev);
        Py_DECREF(ev);
        if (bad)
            return -1;
    }
    return 0;
}

/* One feed in C: xb_fdec_feed, and after each OPEN or CLOSE frame (or an
 * error) self._unit_c, then on in C with the options it prepared (or, should
 * they not be current, self._resume_c(out) for the rest). */
static PyObject *m_decoder_feed(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    Feed *f;
    Py_buffer view;
    PyObject *out;
    int rc, opened;
    if (nargs != 1 || kwnames || !(f = feed_of(self, 1)))
        return call_feed_python(1, self, args, nargs, kwnames);
    if (PyBytes_CheckExact(args[0])) { /* bytes: read in place (no buffer to release) */
        rc = core_fdec_hold(f->loop, PyBytes_AS_STRING(args[0]), (size_t)PyBytes_GET_SIZE(args[0]));
        if (rc > 0) { /* kept: the frame being received is not complete */
            out = spare_list(f);
            if (!out)
                fail_feed(f);
            Py_DECREF(f);
            return out;
        }
    }
    if (!feed_input(args[0], &view)) {
        Py_DECREF(f);
        return call_feed_python(1, self, args, nargs, kwnames);
    }
    rc = core_fdec_hold(f->loop, view.buf, (size_t)view.len);
    if (rc > 0) { /* kept: the frame being received is not complete */
        PyBuffer_Release(&view);
        out = spare_list(f);
        if (!out)
            fail_feed(f); /* the bytes are held: feeding them again would repeat them */
        Py_DECREF(f);
        return out;
    }
    if (rc < 0 || !feed_options_current(f, self) || (opened = opened_of(f, self)) < 0) {
        PyBuffer_Release(&view);
        Py_DECREF(f);
        return call_feed_python(1, self, args, nargs, kwnames);
    }
    rc = core_fdec_feed(f->loop, view.buf, (size_t)view.len, opened, f->opt, f->res);
    if (rc == XB_FEED_DONE) { /* the usual case: the list made at its size */
        out = header_synced(self, f->res) ? NULL : feed_events(f->res);
        PyBuffer_Release(&view);
        if (!out)
            fail_feed(f);
        Py_DECREF(f);
        return out;
    }
    out = PyList_New(0);
    while (out) {
        if (add_events(out, f->res) || header_synced(self, f->res) || (rc != XB_FEED_DONE && unit(self, rc, out))) {
            Py_CLEAR(out);
            break;
        }
        if (rc == XB_FEED_DONE)
            break;
        /* the pending payload pointed into the input: read by now */
        if (!feed_options_current(f, self) || (opened = opened_of(f, self)) < 0) {
            PyObject *r = PyObject_CallMethodObjArgs(self, S_resume, out, NULL);
            Py_DECREF(out);
            out = r;
            break;
        }
        rc = core_fdec_feed(f->loop, NULL, 0, opened, f->opt, f->res);
    }
    PyBuffer_Release(&view);
    if (!out)
        fail_feed(f);
    Py_DECREF(f);
    return out;
}

/* the bytes of the frames in list out joined with the frames of res */
static PyObject *join_frames(PyObject *out, const xb_feed_result *res)
{
    Py_ssize_t i, n = PyList_GET_SIZE(out), total = (Py_ssize_t)res->size;
    PyObject *r;
    char *w;
    for (i = 0; i < n; i++)
        total += PyBytes_GET_SIZE(PyList_GET_ITEM(out, i));
    r = hook_fails() ? NULL : PyBytes_FromStringAndSize(NULL, total);
    if (!r)
        return NULL;
    w = PyBytes_AS_STRING(r);
    for (i = 0; i < n; i++) {
        PyObject *b = PyList_GET_ITEM(out, i);
        memcpy(w, PyBytes_AS_STRING(b), (size_t)PyBytes_GET_SIZE(b));
        w += PyBytes_GET_SIZE(b);
    }
    if (res->size)
        memcpy(w, res->data, res->size);
    return r;
}

static PyObject *m_encoder_feed(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    Feed *f;
    Py_buffer view;
    PyObject *out, *r = NULL;
    int rc, opened;
    if (nargs != 1 || kwnames || !(f = feed_of(self, 0)))
        return call_feed_python(0, self, args, nargs, kwnames);
    if (!feed_options_current(f, self) || (opened = opened_of(f, self)) < 0) {
        Py_DECREF(f);
        return call_feed_python(0, self, args, nargs, kwnames);
    }
    if (PyBytes_CheckExact(args[0])) { /* bytes: read in place (no buffer to release; the loop copies what it keeps) */
        rc = core_fenc_feed(f->loop, PyBytes_AS_STRING(args[0]), (size_t)PyBytes_GET_SIZE(args[0]), opened, f->opt,
                            f->res);
    } else if (feed_input(args[0], &view)) {
        rc = core_fenc_feed(f->loop, view.buf, (size_t)view.len, opened, f->opt, f->res);
        PyBuffer_Release(&view);
    } else {
        Py_DECREF(f);
        return call_feed_python(0, self, args, nargs, kwnames);
    }
    if (rc == XB_FEED_DONE) {
        r = header_synced(self, f->res) ? NULL : result_bytes((const char *)f->res->data, f->res->size);
        if (!r)
            fail_feed(f);
        Py_DECREF(f);
        return r;
    }
    /* the frames so far, then the unit left to Python (its frame appended by _unit_c) */
    out = PyList_New(0);
    while (out) {
        PyObject *b = result_bytes((const char *)f->res->data, f->res->size);
        int bad = !b || PyList_Append(out, b);
        Py_XDECREF(b);
        if (bad || header_synced(self, f->res) || unit(self, rc, out))
            break;
        if (!feed_options_current(f, self) || (opened = opened_of(f, self)) < 0) {
            r = PyObject_CallMethodObjArgs(self, S_resume, out, NULL);
            break;
        }
        rc = core_fenc_feed(f->loop, NULL, 0, opened, f->opt, f->res);
        if (rc == XB_FEED_DONE) {
            r = header_synced(self, f->res) ? NULL : join_frames(out, f->res);
            break;
        }
    }
    Py_XDECREF(out);
    if (!r)
        fail_feed(f);
    Py_DECREF(f);
    return r;
}

static PyMethodDef feed_defs[2] = {
    {"feed", FASTCALL(m_encoder_feed), METH_FASTCALL | METH_KEYWORDS,
     "feed($self, data, /)\n--\n\nRaw XML stream bytes in, frames for every unit completed so far out.\n"
     "Error offsets count from the start of everything fed; an error carries the frames\n"
     "completed before it in this call as ``e.frames``."},
    {"feed", FASTCALL(m_decoder_feed), METH_FASTCALL | METH_KEYWORDS,
     "feed($self, data, /)\n--\n\nThe events of every frame completed so far. An error carries the events\n"
     "decoded before it in this call as ``e.events``."},
};

/* install_feed(cls, dir, python_method, event_type) */
static PyObject *f_install_feed(PyObject *mod, PyObject *args)
{
    PyObject *cls, *py, *evt, *descr;
    int dir;
    (void)mod;
    if (!PyArg_ParseTuple(args, "O!iOO!:install_feed", &PyType_Type, &cls, &dir, &py, &PyType_Type, &evt))
        return NULL;
    if (dir != 0 && dir != 1) {
        PyErr_SetString(PyExc_ValueError, "dir must be 0 (encoder) or 1 (decoder)");
        return NULL;
    }
    if (!PyCallable_Check(py) || !PyType_IsSubtype((PyTypeObject *)evt, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "install_feed needs the Python method and a tuple type");
        return NULL;
    }
    descr = PyDescr_NewMethod((PyTypeObject *)cls, &feed_defs[dir]);
    if (!descr)
        return NULL;
    Py_INCREF(cls);
    Py_XDECREF(cfeed_cls[dir]);
    cfeed_slot(cls, dir);
    Py_INCREF(py);
    Py_XSETREF(feed_fallback[dir], py);
    Py_INCREF(evt);
    Py_XSETREF(event_type, evt);
    if (PyObject_SetAttrString(cls, "feed", descr)) {
        Py_DECREF(descr);
        return NULL;
    }
    Py_DECREF(descr);
    Py_RETURN_NONE;
}

/* ---- module functions ---------------------------------------------------------------- */
static PyObject *f_install(PyObject *mod, PyObject *args)
{
    PyObject *cls, *py, *prep, *descr;
    const char *name;
    int kind;
    (void)mod;
    if (!PyArg_ParseTuple(args, "O!sOO:install", &PyType_Type, &cls, &name, &py, &prep))
        return NULL;
    for (kind = 0; kind < K_COUNT; kind++)
        if (strcmp(name, method_defs[kind].ml_name) == 0)
            break;
    if (kind == K_COUNT) {
        PyErr_Format(PyExc_ValueError, "no fast path for %s", name);
        return NULL;
    }
    if (!PyCallable_Check(py) || !PyCallable_Check(prep)) {
        PyErr_SetString(PyExc_TypeError, "install needs the Python method and a prepare hook");
        return NULL;
    }
    descr = PyDescr_NewMethod((PyTypeObject *)cls, &method_defs[kind]);
    if (!descr)
        return NULL;
    Py_INCREF(py);
    Py_XSETREF(fallback[kind], py);
    Py_INCREF(prep);
    Py_XSETREF(prepare[kind], prep);
    if (PyObject_SetAttrString(cls, name, descr)) {
        Py_DECREF(descr);
        return NULL;
    }
    Py_DECREF(descr);
    Py_RETURN_NONE;
}

static PyObject *f_function(PyObject *mod, PyObject *args)
{
    PyObject *func, *codec;
    const char *name;
    Function *f;
    int kind;
    (void)mod;
    if (!PyArg_ParseTuple(args, "sOO:function", &name, &func, &codec))
        return NULL;
    for (kind = 0; kind < K_COUNT; kind++)
        if (strcmp(name, method_defs[kind].ml_name) == 0)
            break;
    if (kind == K_COUNT) {
        PyErr_Format(PyExc_ValueError, "no fast path for %s", name);
        return NULL;
    }
    if (!PyCallable_Check(func)) {
        PyErr_SetString(PyExc_TypeError, "function needs the Python function");
        return NULL;
    }
    f = PyObject_GC_New(Function, &FunctionType);
    if (!f)
        return NULL;
    f->vectorcall = Function_vectorcall;
    f->kind = kind;
    Py_INCREF(codec);
    f->codec = codec;
    Py_INCREF(func);
    f->func = func;
    PyObject_GC_Track(f);
    return (PyObject *)f;
}

static PyObject *f_set_enabled(PyObject *mod, PyObject *arg)
{
    int v = PyObject_IsTrue(arg);
    (void)mod;
    if (v < 0)
        return NULL;
    enabled = v;
    Py_RETURN_NONE;
}

static PyObject *f_forget(PyObject *mod, PyObject *obj)
{
    int dir;
    (void)mod;
    for (dir = 0; dir < 2; dir++)
        if (last_ref[dir] && ref_target(last_ref[dir]) == obj)
            cache_clear(dir);
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"install", f_install, METH_VARARGS,
     "install(cls, name, python_method, prepare)\n--\n\n"
     "Replace cls.name (encode, decode, encode_many, decode_many) by its C entry point;\n"
     "python_method(self, *args, **kwargs) is called for everything the C path does not take,\n"
     "prepare(self) makes the Options of self (stored by it) or returns False."},
    {"function", f_function, METH_VARARGS,
     "function(name, python_function, codec)\n--\n\n"
     "The module-level function name (encode, decode, encode_many, decode_many): with one\n"
     "positional argument the method of codec, else python_function(*args, **kwargs)."},
    {"set_enabled", f_set_enabled, METH_O,
     "set_enabled(flag)\n--\n\nTake the C path (the C backend is selected) or always the Python methods."},
    {"core_functions", f_core_functions, METH_VARARGS,
     "core_functions(fenc_feed, fdec_feed, fdec_hold)\n--\n\n"
     "The addresses of xb_fenc_feed, xb_fdec_feed and xb_fdec_hold in the cffi module, whose\n"
     "loops and states Feed objects run (call once, before the first Feed)."},
    {"_fail_results", f_fail_results, METH_O,
     "_fail_results(n)\n--\n\nTest hook: the n-th result object the stream feed methods build from now on "
     "fails with MemoryError (0: off)."},
    {"install_feed", f_install_feed, METH_VARARGS,
     "install_feed(cls, dir, python_method, event_type)\n--\n\n"
     "Replace cls.feed (dir 0: StreamEncoder, 1: StreamDecoder) by its C entry point, which\n"
     "calls python_method(self, *args, **kwargs) for everything it does not take."},
    {"forget", f_forget, METH_O,
     "forget(obj)\n--\n\nThe options of obj changed: drop what the C path remembers of them."},
    {NULL, NULL, 0, NULL},
};

static void module_free(void *m)
{
    int k;
    (void)m;
    while (npool)
        xb_encoder_free(pool[--npool]);
    cache_clear(0);
    cache_clear(1);
    Py_CLEAR(feed_fallback[0]);
    Py_CLEAR(feed_fallback[1]);
    Py_CLEAR(event_type);
    for (k = 0; k < K_COUNT; k++) {
        Py_CLEAR(fallback[k]);
        Py_CLEAR(prepare[k]);
    }
}

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "xmppbin._xmppbin_fast",
    .m_doc = "CPython entry points of the xmppbin C core for single and batch calls (see csrc/pyfast.c).",
    .m_size = -1,
    .m_methods = module_methods,
    .m_free = module_free,
};

PyMODINIT_FUNC PyInit__xmppbin_fast(void)
{
    PyObject *m;
#ifdef Py_GIL_DISABLED
    /* the pool and the flags rely on the GIL; the cffi path serves this build */
    PyErr_SetString(PyExc_ImportError, "xmppbin._xmppbin_fast needs the GIL");
    return NULL;
#endif
    if (xb_init() != 0) {
        PyErr_SetString(PyExc_ImportError, "xmppbin C core: the dictionary tables could not be built");
        return NULL;
    }
    if (PyType_Ready(&OptionsType) < 0)
        return NULL;
    if (PyType_Ready(&FunctionType) < 0)
        return NULL;
    if (PyType_Ready(&FeedType) < 0)
        return NULL;
    S_cenc = PyUnicode_InternFromString("_cenc");
    S_cdec = PyUnicode_InternFromString("_cdec");
    S_cfeed = PyUnicode_InternFromString("_cfeed");
    S_opened = PyUnicode_InternFromString("_opened");
    S_s = PyUnicode_InternFromString("_s");
    S_context = PyUnicode_InternFromString("context");
    S_limits = PyUnicode_InternFromString("limits");
    S_allow_comments = PyUnicode_InternFromString("allow_comments");
    S_resume = PyUnicode_InternFromString("_resume_c");
    S_unit = PyUnicode_InternFromString("_unit_c");
    S_element = PyUnicode_InternFromString("element");
    S_text = PyUnicode_InternFromString("text");
    S_close = PyUnicode_InternFromString("close");
    S_open = PyUnicode_InternFromString("open");
    S_header = PyUnicode_InternFromString("_header_c");
    if (!S_cenc || !S_cdec || !S_cfeed || !S_opened || !S_s || !S_context || !S_limits ||
        !S_allow_comments || !S_resume || !S_unit || !S_element || !S_text || !S_close || !S_open || !S_header)
        return NULL;
    m = PyModule_Create(&module_def);
    if (!m)
        return NULL;
    Py_INCREF(&OptionsType);
    if (PyModule_AddObject(m, "Options", (PyObject *)&OptionsType) < 0) {
        Py_DECREF(&OptionsType);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&FeedType);
    if (PyModule_AddObject(m, "Feed", (PyObject *)&FeedType) < 0) {
        Py_DECREF(&FeedType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
