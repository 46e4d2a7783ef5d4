/*
 * Stream framing (spec 14.2) and the feed loops of StreamEncoder.feed and
 * StreamDecoder.feed (xmppbin/stream.py): one call codes every unit or frame
 * its input completes, calling the stream coder (xb_stream_encode,
 * xb_stream_decode) per message; the rare units that change the stream's
 * context (stream headers, end tags other than that of the stream the caller
 * named) or may hold never-indexed values the loop cannot settle are handed
 * back to the caller (XB_FEED_PENDING), which codes them and feeds on.
 * Errors and offsets are those of the reference (stream.py), offsets from the
 * start of the stream.
 *
 * Uses: split.c (the splitter, via xb_frame.h), encode.c (the stream coder,
 * xb_enc_stream_scan / xb_enc_stream_code, via xb_enc.h: it reads the scanned
 * events for the never-indexed check), xmppbin.h.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "xb_enc.h"
#include "xb_frame.h"
#include "xb_stream.h"

#define MAX_FRAME_HEADER 4



/* ---- frame writer ---- */
/* v as a varint at q (at most 10 bytes); its length */
static size_t put_varint(unsigned char *q, uint64_t v)
{
    size_t k = 0;
    do {
        unsigned char b = v & 0x7F;
        v >>= 7;
        q[k++] = v ? (unsigned char)(b | 0x80) : b;
    } while (v);
    return k;
}

/* the header value of a frame of this kind and payload length (spec 14.2) */
static uint64_t frame_header(int kind, size_t n)
{
    return kind == XB_UNIT_ELEMENT ? (uint64_t)n << 1 : (uint64_t)n << 3 | (uint64_t)kind << 1 | 1;
}

/* append a frame (header varint and payload) to out; -1 out of memory */
static int put_frame(xb_bytes *out, int kind, const void *payload, size_t n)
{
    unsigned char *q = xb_bytes_reserve(out, 10 + n);
    if (q == NULL)
        return -1;
    size_t k = put_varint(q, frame_header(kind, n));
    if (n)
        memcpy(q + k, payload, n);
    out->len += k + n;
    return 0;
}

/* append an ELEMENT message body's frame (spec 14.2, stream.element_frame): a
 * SHORT frame, its header alone, when the body fits one: one byte whose
 * message takes its first 4 bits (then, in exact mode, the plain bit 1; zero
 * padding after), or k = 2, 3 or 4 bytes whose bits after the first 7k - 3 are
 * zero and whose first 7 are not (a k-byte varint); -1 out of memory */
static int put_element(xb_bytes *out, const char *body, size_t n, int exact)
{
    unsigned b = n == 1 ? (unsigned char)body[0] : 0;
    if (n == 1 && (b & 0x0F) == (exact ? 0x08u : 0u)) {
        unsigned char *q = xb_bytes_reserve(out, 1);
        if (q == NULL)
            return -1;
        q[0] = (unsigned char)((b >> 4) << 3 | 1);
        out->len += 1;
        return 0;
    }
    if (n >= 2 && n <= 4) {
        uint32_t c = 0;
        size_t i, pad = n + 3; /* 8n - (7n - 3) */
        for (i = 0; i < n; i++)
            c = c << 8 | (unsigned char)body[i];
        if (!(c & ((1u << pad) - 1)) && (c >> (8 * n - 7))) {
            unsigned char *q = xb_bytes_reserve(out, n);
            if (q == NULL)
                return -1;
            out->len += put_varint(q, (uint64_t)(c >> pad) << 3 | 1); /* n bytes: its top group is not zero */
            return 0;
        }
    }
    return put_frame(out, XB_UNIT_ELEMENT, body, n);
}

/* ---- stream headers ---- */
/* entries of a set: a stream sees a handful of declaration sets (c2s, s2s, ...) */
#define XB_HDRS_MAX 32
/* the longest declaration signature the loops read (longer: the caller's) */
#define XB_SIG_MAX 1024

struct xb_hdrs {
    const void *base;
    struct {
        unsigned char *sig;
        size_t len;
        const void *opt;
    } e[XB_HDRS_MAX];
    atomic_size_t n; /* entries published (release store after filling e[n]) */
};

xb_hdrs *xb_hdrs_new(const void *base_options)
{
    xb_hdrs *h = calloc(1, sizeof *h);
    if (h == NULL)
        return NULL;
    h->base = base_options;
    atomic_init(&h->n, 0);
    return h;
}

int xb_hdrs_add(xb_hdrs *h, const char *sig, size_t n, const void *options)
{
    /* one writer at a time (the caller's lock: the GIL) */
    size_t k = atomic_load_explicit(&h->n, memory_order_relaxed);
    if (k >= XB_HDRS_MAX || n > XB_SIG_MAX)
        return -1;
    unsigned char *c = malloc(n ? n : 1);
    if (c == NULL)
        return -1;
    if (n)
        memcpy(c, sig, n);
    h->e[k].sig = c;
    h->e[k].len = n;
    h->e[k].opt = options;
    atomic_store_explicit(&h->n, k + 1, memory_order_release);
    return (int)k;
}

void xb_hdrs_free(xb_hdrs *h)
{
    if (h == NULL)
        return;
    size_t n = atomic_load_explicit(&h->n, memory_order_relaxed);
    for (size_t k = 0; k < n; k++)
        free(h->e[k].sig);
    free(h);
}

/* the index of the entry with this signature, or -1 */
static int hdrs_find(const xb_hdrs *h, const unsigned char *sig, size_t n)
{
    size_t m = atomic_load_explicit(&((xb_hdrs *)h)->n, memory_order_acquire);
    for (size_t k = 0; k < m; k++)
        if (h->e[k].len == n && (n == 0 || memcmp(h->e[k].sig, sig, n) == 0))
            return (int)k;
    return -1;
}

/* u[0 .. n) is well-formed UTF-8 (as Python's strict decoder takes it) */
static int utf8_ok(const unsigned char *u, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = u[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k;
        unsigned lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF)
            k = 1;
        else if (c >= 0xE0 && c <= 0xEF) {
            k = 2;
            if (c == 0xE0)
                lo = 0xA0;
            else if (c == 0xED)
                hi = 0x9F; /* no surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            k = 3;
            if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F;
        } else
            return 0;
        if (n - i <= k)
            return 0;
        if (u[i + 1] < lo || u[i + 1] > hi)
            return 0;
        for (size_t j = 2; j <= k; j++)
            if (u[i + j] < 0x80 || u[i + j] > 0xBF)
                return 0;
        i += k + 1;
    }
    return 1;
}

/* c may be in a name of header_root's reading: not whitespace (Python's \s of
   bytes) nor one of / > ! ? = " ' < & */
static int hname(unsigned c)
{
    return !(c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == '/' || c == '>' ||
             c == '!' || c == '?' || c == '=' || c == '"' || c == '\'' || c == '<' || c == '&');
}

/* the first occurrence of the k bytes t at or after u[i] (before n), or n */
static size_t find(const unsigned char *u, size_t n, size_t i, const char *t, size_t k)
{
    for (; i + k <= n; i++)
        if (u[i] == (unsigned char)t[0] && memcmp(u + i, t, k) == 0)
            return i;
    return n;
}

/* The root start tag of a stream header u[0 .. n) as xmppbin/_cstream.py's
   header_root reads it (a prolog of whitespace, PIs and comments, then the
   start tag, ending the input, with attribute values without '<', '&', tab or
   line breaks, all of it UTF-8): 1 with the qname at u[*qa .. *qa + *ql) and
   the declaration signature (see xb_hdrs) in sig[0 .. *siglen), else 0 (a
   signature longer than cap included). */
static int header_tag(const unsigned char *u, size_t n, size_t *qa, size_t *ql, unsigned char *sig, size_t cap,
                      size_t *siglen)
{
    size_t i = 0, sl = 0;
    for (;;) { /* (?:[ \t\r\n]+|<\?.*?\?>|<!--.*?-->)* */
        if (i < n && xb_xml_ws(u[i])) {
            while (i < n && xb_xml_ws(u[i]))
                i++;
        } else if (n - i >= 2 && u[i] == '<' && u[i + 1] == '?') {
            size_t e = find(u, n, i + 2, "?>", 2);
            if (e == n)
                break;
            i = e + 2;
        } else if (n - i >= 4 && memcmp(u + i, "<!--", 4) == 0) {
            size_t e = find(u, n, i + 4, "-->", 3);
            if (e == n)
                break;
            i = e + 3;
        } else
            break;
    }
    size_t start = i;
    if (i >= n || u[i] != '<')
        return 0;
    i++;
    *qa = i;
    while (i < n && hname(u[i]))
        i++;
    *ql = i - *qa;
    if (*ql == 0)
        return 0;
    for (;;) {
        size_t w = i;
        while (i < n && xb_xml_ws(u[i]))
            i++;
        if (i < n && u[i] == '>') {
            if (i + 1 != n)
                return 0;
            break;
        }
        if (i == w || i >= n || !hname(u[i]))
            return 0;
        size_t an = i;
        while (i < n && hname(u[i]))
            i++;
        size_t alen = i - an;
        unsigned char q;
        i = xb_eq_quote(u, n, i, &q);
        if (!i)
            return 0;
        size_t v = i;
        while (i < n && u[i] != q) {
            if (u[i] == '<' || u[i] == '&' || u[i] == '\t' || u[i] == '\r' || u[i] == '\n')
                return 0;
            i++;
        }
        if (i >= n)
            return 0;
        size_t vlen = i - v;
        i++;
        if ((alen == 5 && memcmp(u + an, "xmlns", 5) == 0) || (alen > 6 && memcmp(u + an, "xmlns:", 6) == 0)) {
            if (cap - sl < alen + vlen + 2)
                return 0;
            memcpy(sig + sl, u + an, alen);
            sl += alen;
            sig[sl++] = 0;
            memcpy(sig + sl, u + v, vlen);
            sl += vlen;
            sig[sl++] = 0;
        }
    }
    if (!utf8_ok(u + start, n - start))
        return 0;
    *siglen = sl;
    return 1;
}

/* q[0 .. n) is an ASCII QName (NCName, optionally ':' NCName): the end tag
   "</q>" is the plain end tag stream.py's _close takes for it */
static int ascii_qname(const unsigned char *q, size_t n)
{
    int colon = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++, k++) {
        unsigned c = q[i];
        int start = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
        if (c == ':') {
            if (colon || k == 0)
                return 0;
            colon = 1;
            k = (size_t)-1; /* the next character starts a name */
            continue;
        }
        if (k == 0 ? !start : !(start || (c >= '0' && c <= '9') || c == '-' || c == '.'))
            return 0;
    }
    return n > 0 && k > 0;
}

/* ---- encoder feed loop ---- */
struct xb_fenc {
    xb_split sp;
    xb_stream *st;
    uint32_t max_frame;
    xb_bytes out;
    unsigned char *names; /* secret local names, concatenated */
    size_t *name_lens;
    size_t nnames;
    unsigned char *nss; /* their namespaces (xb_fenc_secret_ns), or NULL */
    size_t *ns_lens;
    uint8_t sig[256];   /* 1: a name has this name_sig */
    uint8_t hsig[256];  /* 1: a name's xb_str_hash has this low byte (an unprefixed name's event hash) */
    int every;
    char *stream_name; /* the open stream header's qname (xb_fenc_set_stream), or NULL */
    size_t stream_len;
    int ended; /* an end tag of the stream was framed here since */
    const xb_hdrs *hdrs; /* the header contexts (xb_fenc_set_headers), or NULL */
    uint32_t budget;
    int exact;
    xb_stream *own; /* st, when the loop owns it (xb_fenc_open) */
};

/* a name's signature: its length, first and last two bytes (element names
   that share their length and first byte, as presence and password, differ) */
static unsigned name_sig(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    return n == 0 ? 0 : (unsigned)(n * 37u + u[0] * 11u + u[n - 1] * 3u + u[n > 1 ? n - 2 : 0]) & 255u;
}

xb_fenc *xb_fenc_new(xb_stream *st, uint32_t max_size, uint32_t max_frame, int in_stream, const char *names,
                     const size_t *name_lens, size_t nnames, int every_element)
{
    xb_fenc *e = calloc(1, sizeof *e);
    if (e == NULL)
        return NULL;
    xb_split_init(&e->sp, max_size, in_stream);
    e->st = st;
    e->max_frame = max_frame;
    e->every = every_element;
    size_t total = 0;
    for (size_t i = 0; i < nnames; i++)
        total += name_lens[i];
    e->names = malloc(total ? total : 1);
    e->name_lens = malloc(nnames ? nnames * sizeof(size_t) : 1);
    if (e->names == NULL || e->name_lens == NULL) {
        xb_fenc_free(e);
        return NULL;
    }
    if (total)
        memcpy(e->names, names, total);
    if (nnames)
        memcpy(e->name_lens, name_lens, nnames * sizeof(size_t));
    e->nnames = nnames;
    const unsigned char *s = e->names;
    for (size_t i = 0; i < nnames; s += name_lens[i], i++) {
        e->sig[name_sig((const char *)s, name_lens[i])] = 1;
        e->hsig[xb_str_hash((const char *)s, name_lens[i]) & 255u] = 1;
    }
    return e;
}

void xb_fenc_free(xb_fenc *e)
{
    if (e == NULL)
        return;
    xb_split_release(&e->sp);
    xb_bytes_release(&e->out);
    free(e->names);
    free(e->name_lens);
    free(e->nss);
    free(e->ns_lens);
    free(e->stream_name);
    xb_stream_free(e->own);
    free(e);
}

xb_fenc *xb_fenc_open(uint32_t budget, int exact, uint32_t max_size, uint32_t max_frame, int in_stream,
                      const char *names, const size_t *name_lens, size_t nnames, const char *nss,
                      const size_t *ns_lens, int every_element, xb_hdrs *hdrs)
{
    xb_stream *st = xb_stream_new(budget, exact, 1);
    xb_fenc *e = st ? xb_fenc_new(st, max_size, max_frame, in_stream, names, name_lens, nnames, every_element) : NULL;
    if (e == NULL) {
        xb_stream_free(st);
        return NULL;
    }
    e->own = st;
    if (nnames && xb_fenc_secret_ns(e, nss, ns_lens)) {
        xb_fenc_free(e);
        return NULL;
    }
    if (hdrs != NULL)
        xb_fenc_set_headers(e, hdrs, budget, exact);
    return e;
}

xb_stream *xb_fenc_state(const xb_fenc *e)
{
    return e->st;
}

/* a copy of name[0 .. n) into *p (NULL when name is NULL); -1 out of memory */
static int set_name(char **p, size_t *len, const char *name, size_t n)
{
    char *c = NULL;
    if (name != NULL) {
        c = malloc(n ? n : 1);
        if (c == NULL)
            return -1;
        if (n)
            memcpy(c, name, n);
    }
    free(*p);
    *p = c;
    *len = n;
    return 0;
}

int xb_fenc_set_stream(xb_fenc *e, const char *qname, size_t n)
{
    e->ended = 0;
    return set_name(&e->stream_name, &e->stream_len, qname, n);
}

void xb_fenc_candidates(const xb_fenc *e, uint64_t *taken, uint64_t *undone)
{
    *taken = e->sp.ncand;
    *undone = e->sp.nundo;
}

int xb_fenc_ended(const xb_fenc *e)
{
    return e->ended;
}

void xb_fenc_set_headers(xb_fenc *e, xb_hdrs *h, uint32_t budget, int exact)
{
    e->hdrs = h;
    e->budget = budget;
    e->exact = exact ? 1 : 0;
}

const char *xb_fenc_stream_name(const xb_fenc *e, size_t *n)
{
    *n = e->stream_len;
    return e->stream_name;
}

/* A stream header unit u[0 .. n) at stream offset off, coded here as
   stream.py's StreamEncoder._open_c codes it (opened: an OPEN frame came
   before, so this one is a restart, spec 14.2, coded with the state as it is;
   else the state is reset): 1 (its OPEN frame written, the element options
   of its context in *opt), 0 (not one the loop can take: nothing done, the
   caller's), -1 (error in res). */
static int open_unit(xb_fenc *e, const unsigned char *u, size_t n, uint64_t off, int opened,
                     const xb_encode_options **opt, xb_feed_result *res)
{
    unsigned char sig[XB_SIG_MAX];
    size_t qa, ql, sl;
    if (!header_tag(u, n, &qa, &ql, sig, sizeof sig, &sl) || !ascii_qname(u + qa, ql))
        return 0;
    int k = hdrs_find(e->hdrs, sig, sl);
    if (k < 0 || (!opened && xb_stream_reset(e->st, e->budget, e->exact)))
        return 0;
    xb_encode_result er;
    if (xb_stream_encode(e->st, (const char *)u, n, e->hdrs->base, NULL, 0, &er)) {
        xb_feed_error(res, er.error, er.limit, off + er.offset, "%s", er.message);
        return -1;
    }
    if (set_name(&e->stream_name, &e->stream_len, (const char *)u + qa, ql)) {
        xb_feed_error(res, XB_ERR_NOMEM, XB_LIMIT_NONE, off, "out of memory");
        return -1;
    }
    e->ended = 0;
    /* payload: varint(budget), the message header, the body */
    unsigned char head[12];
    size_t hn = put_varint(head, e->budget);
    hn += xb_put_header(head + hn, opened ? XB_KIND_RESTART : XB_KIND_STREAM_OPEN, e->exact, 1);
    size_t plen = hn + er.size;
    if (plen > e->max_frame) {
        xb_feed_error(res, XB_ERR_LIMIT, XB_LIMIT_MAX_FRAME, off, "frame of %lu bytes exceeds max_frame=%lu",
                      (unsigned long)plen, (unsigned long)e->max_frame);
        return -1;
    }
    unsigned char *q = xb_bytes_reserve(&e->out, 10 + plen);
    if (q == NULL) {
        xb_feed_error(res, XB_ERR_NOMEM, XB_LIMIT_NONE, off, "out of memory");
        return -1;
    }
    size_t w = put_varint(q, frame_header(XB_UNIT_OPEN, plen));
    memcpy(q + w, head, hn);
    if (er.size)
        memcpy(q + w + hn, er.data, er.size);
    e->out.len += w + plen;
    res->headers++;
    res->header_ctx = k;
    res->header_budget = e->budget;
    res->header_exact = e->exact;
    *opt = e->hdrs->e[k].opt;
    return 1;
}

/* The unit u[0 .. n) is "</" name whitespace* ">" (the end tag of the open stream
   header): its CLOSE frame payload length (0 for the plain "</name>", else
   n), or -1 when it is not. */
static long close_payload(const char *name, size_t len, const unsigned char *u, size_t n)
{
    if (name == NULL || n < len + 3 || u[0] != '<' || u[1] != '/' || memcmp(u + 2, name, len) != 0)
        return -1;
    size_t z = 2 + len;
    while (z < n && xb_xml_ws(u[z]))
        z++;
    if (z + 1 != n || u[z] != '>')
        return -1;
    return n == len + 3 ? 0 : (long)n;
}

int xb_fenc_secret_ns(xb_fenc *e, const char *nss, const size_t *ns_lens)
{
    size_t total = 0;
    for (size_t i = 0; i < e->nnames; i++)
        total += ns_lens[i];
    unsigned char *p = malloc(total ? total : 1);
    size_t *l = malloc(e->nnames ? e->nnames * sizeof(size_t) : 1);
    if (p == NULL || l == NULL) {
        free(p);
        free(l);
        return -1;
    }
    if (total)
        memcpy(p, nss, total);
    if (e->nnames)
        memcpy(l, ns_lens, e->nnames * sizeof(size_t));
    free(e->nss);
    free(e->ns_lens);
    e->nss = p;
    e->ns_lens = l;
    return 0;
}

/* The namespace a start tag declares for its own name (the element's item
   "xmlns" when it has no prefix, "xmlns:" + prefix when it has one): 1 (*ns
   set), 0 (none: the namespace is inherited). *attrs: its attributes other
   than namespace declarations. */
static int own_ns(const xb_encoder *enc, const xb_event *ev, xb_str *ns, size_t *attrs)
{
    const xb_eitem *it = enc->items + ev->first;
    size_t plen = ev->colon > 0 ? (size_t)ev->colon : 0;
    int found = 0;
    *attrs = 0;
    for (uint32_t i = 0; i < ev->nitems; i++) {
        if (!it[i].is_ns) {
            (*attrs)++;
            continue;
        }
        const xb_str q = it[i].qname; /* "xmlns" or "xmlns:p" */
        if (plen == 0 ? q.n == 5 : q.n == 6 + plen && memcmp(q.p + 6, ev->name.p, plen) == 0) {
            *ns = it[i].value;
            found = 1;
        }
    }
    return found;
}

/* is (ns, local) one of the secret elements? (a local name may repeat) */
static int secret_pair(const xb_fenc *e, xb_str ns, const char *local, size_t len)
{
    const unsigned char *s = e->names, *nsp = e->nss;
    for (size_t k = 0; k < e->nnames; s += e->name_lens[k], nsp += e->ns_lens[k], k++)
        if (e->name_lens[k] == len && memcmp(s, local, len) == 0 && e->ns_lens[k] == ns.n &&
            (ns.n == 0 || memcmp(nsp, ns.p, ns.n) == 0))
            return 1;
    return 0;
}

/* The never-indexed values of a scanned element unit (xb_secret_check, what
   stream.py's _secret_ordinals gives) when the C loop can tell them: 0 with
   *nsec ordinals in sec[0] (at most one), or 1 when the unit goes to
   stream.py. Without the secret elements' namespaces (xb_fenc_secret_ns),
   any element with one of their local names goes to stream.py. With them, an
   element with such a local name is settled here when it declares its own
   namespace: not a secret element, or the unit's root that holds only
   non-blank character data (a SASL exchange), whose text is the value after
   its attributes. Anything else goes to stream.py (an inherited namespace,
   the xml prefix, a nested secret element, markup or blank text in one). */
static int secret_ordinals(const void *ctx, const xb_encoder *enc, uint32_t *sec, size_t *nsec)
{
    const xb_fenc *e = ctx;
    int root = 1;
    *nsec = 0;
    for (size_t k = 0; k < enc->nev; k++) {
        const xb_event *ev = &enc->ev[k];
        if (ev->type != XE_S)
            continue;
        size_t c = ev->colon >= 0 ? (size_t)ev->colon + 1 : 0, len = ev->name.n - c;
        const char *local = ev->name.p + c;
        int is_root = root;
        root = 0;
        /* most elements: no secret name with the same signature (an unprefixed
           name's: the low byte of its hash, which the scan computed) */
        if (ev->colon < 0 ? !e->hsig[ev->nh & 255u] : !e->sig[name_sig(local, len)])
            continue;
        const unsigned char *s = e->names;
        size_t k2;
        for (k2 = 0; k2 < e->nnames; s += e->name_lens[k2], k2++)
            if (e->name_lens[k2] == len && memcmp(s, local, len) == 0)
                break;
        if (k2 == e->nnames)
            continue;
        xb_str ns;
        size_t attrs;
        if (e->nss == NULL || ev->colon == 0 || (c == 4 && memcmp(ev->name.p, "xml", 3) == 0) ||
            !own_ns(enc, ev, &ns, &attrs))
            return 1;
        if (!secret_pair(e, ns, local, len))
            continue;
        /* the root: non-blank character data without markup, then its end tag */
        if (!is_root || ev->selfclose || k + 3 != enc->nev || enc->ev[k + 1].type != XE_T ||
            enc->ev[k + 2].type != XE_E)
            return 1;
        const xb_str raw = enc->ev[k + 1].raw;
        size_t blank = 1;
        for (size_t i = 0; i < raw.n; i++) {
            if (raw.p[i] == '<')
                return 1;
            if (!xb_xml_ws((unsigned char)raw.p[i]))
                blank = 0;
        }
        if (blank)
            return 1;
        sec[0] = (uint32_t)attrs;
        *nsec = 1;
        return 0;
    }
    return 0;
}

static int text_frame(xb_fenc *e, const unsigned char *u, size_t n, uint64_t off, xb_feed_result *res)
{
    if (n > e->sp.max_size) {
        xb_feed_error(res, XB_ERR_LIMIT, XB_LIMIT_MAX_SIZE, off + e->sp.max_size,
                      "whitespace longer than max_size=%lu", (unsigned long)e->sp.max_size);
        return -1;
    }
    if (n > e->max_frame) {
        xb_feed_error(res, XB_ERR_LIMIT, XB_LIMIT_MAX_FRAME, off, "frame of %lu bytes exceeds max_frame=%lu",
                      (unsigned long)n, (unsigned long)e->max_frame);
        return -1;
    }
    if (put_frame(&e->out, XB_UNIT_TEXT, u, n)) {
        xb_feed_error(res, XB_ERR_NOMEM, XB_LIMIT_NONE, off, "out of memory");
        return -1;
    }
    return 0;
}

/* The end of a feed that read its input in place (xb_fenc_feed's view): the
 * bytes the splitter has not taken, and a pending unit before them (valid
 * until the next feed), are copied into the loop's own buffer (held, empty),
 * which becomes the splitter's again; -1 out of memory (*rc then
 * XB_FEED_ERROR, the splitter left with nothing held) */
static int held_back(xb_fenc *e, xb_bytes *held, xb_feed_result *res, int *rc)
{
    const unsigned char *in = e->sp.buf.p;
    size_t from = e->sp.buf.head, size = e->sp.buf.len;
    if (*rc == XB_FEED_PENDING)
        from = (size_t)(res->unit - in);
    held->head = held->len = 0;
    e->sp.buf = *held;
    if (xb_bytes_push(&e->sp.buf, in + from, size - from)) {
        *rc = XB_FEED_ERROR;
        return -1;
    }
    if (*rc == XB_FEED_PENDING) { /* the unit before the live bytes */
        e->sp.buf.head = res->unit_size;
        res->unit = e->sp.buf.p;
    }
    return 0;
}

int xb_fenc_feed(xb_fenc *e, const char *data, size_t size, int opened, const xb_encode_options *opt,
                 xb_feed_result *res)
{
    xb_feed_reset(res);
    e->out.head = e->out.len = 0;
    xb_bytes_trim(&e->out, XB_FEED_KEEP);
    int rc = XB_FEED_DONE;
    /* With nothing held (the usual read: whole units), the splitter reads the
       input in place (a view, never written) and only what is left of it is
       copied at the end (held_back); else the input joins what is held. */
    xb_bytes held = e->sp.buf;
    const int view = held.head == held.len && size > 0;
    if (view) {
        e->sp.buf.p = (unsigned char *)(uintptr_t)data;
        e->sp.buf.head = 0;
        e->sp.buf.len = e->sp.buf.cap = size;
    } else if (xb_bytes_push(&e->sp.buf, data, size)) {
        xb_feed_error(res, XB_ERR_NOMEM, XB_LIMIT_NONE, e->sp.base, "out of memory");
        rc = XB_FEED_ERROR;
        goto out;
    }
    for (;;) {
        int kind;
        const unsigned char *u;
        size_t n;
        uint64_t off;
        /* the C coder scans every element unit it is given: candidates allowed */
        e->sp.fast = opened && !e->every;
        int r = xb_split_step(&e->sp, &kind, &u, &n, &off, res);
        if (r == 0)
            break;
        if (r < 0) {
            rc = XB_FEED_ERROR;
            break;
        }
        if (kind == XB_UNIT_TEXT) {
            if (text_frame(e, u, n, off, res)) {
                rc = XB_FEED_ERROR;
                break;
            }
            continue;
        }
        if (kind == XB_UNIT_CLOSE) {
            /* the end tag of the open stream header, as stream.py frames it */
            long plen = close_payload(e->stream_name, e->stream_len, u, n);
            if (plen >= 0) {
                if ((size_t)plen > e->max_frame) {
                    xb_feed_error(res, XB_ERR_LIMIT, XB_LIMIT_MAX_FRAME, off,
                                  "frame of %lu bytes exceeds max_frame=%lu", (unsigned long)plen,
                                  (unsigned long)e->max_frame);
                    rc = XB_FEED_ERROR;
                    break;
                }
                if (put_frame(&e->out, XB_UNIT_CLOSE, u, (size_t)plen)) {
                    xb_feed_error(res, XB_ERR_NOMEM, XB_LIMIT_NONE, off, "out of memory");
                    rc = XB_FEED_ERROR;
                    break;
                }
                e->ended = 1;
                continue;
            }
        }
        if (kind == XB_UNIT_OPEN && e->hdrs != NULL && !e->every) {
            int r = open_unit(e, u, n, off, opened, &opt, res);
            if (r < 0) {
                rc = XB_FEED_ERROR;
                break;
            }
            if (r > 0) {
                opened = 1;
                continue;
            }
        }
        xb_encode_result er;
        int cr = XB_ENC_DECLINED;
        if (kind == XB_UNIT_ELEMENT && opened && !e->every) {
            cr = xb_enc_stream_scan(e->st->enc, e->st, (const char *)u, n, opt, &er);
            if (cr && e->sp.cand) { /* a guessed end (split.c: candidate_end) is kept only if the unit scans */
                xb_split_undo(&e->sp);
                continue;
            }
            if (!cr)
                cr = xb_enc_stream_code(e->st->enc, e->st, e->nnames ? secret_ordinals : NULL, e, &er);
        }
        if (cr == XB_ENC_DECLINED) {
            res->kind = kind;
            res->unit = u;
            res->unit_size = n;
            res->unit_offset = off;
            rc = XB_FEED_PENDING;
            break;
        }
        if (cr) {
            xb_feed_error(res, er.error, er.limit, off + er.offset, "%s", er.message);
            rc = XB_FEED_ERROR;
            break;
        }
        if (er.size > e->max_frame) {
            xb_feed_error(res, XB_ERR_LIMIT, XB_LIMIT_MAX_FRAME, off, "frame of %lu bytes exceeds max_frame=%lu",
                          (unsigned long)er.size, (unsigned long)e->max_frame);
            rc = XB_FEED_ERROR;
            break;
        }
        if (put_element(&e->out, er.data, er.size, e->st->exact)) {
            xb_feed_error(res, XB_ERR_NOMEM, XB_LIMIT_NONE, off, "out of memory");
            rc = XB_FEED_ERROR;
            break;
        }
    }
out:
    if (view && held_back(e, &held, res, &rc))
        xb_feed_error(res, XB_ERR_NOMEM, XB_LIMIT_NONE, e->sp.base, "out of memory");
    if (rc != XB_FEED_PENDING) /* a pending unit's bytes stay where they are until the next feed */
        xb_bytes_trim(&e->sp.buf, XB_FEED_KEEP);
    res->data = e->out.p;
    res->size = e->out.len;
    return rc;
}

int xb_fenc_flush(xb_fenc *e, xb_feed_result *res)
{
    xb_feed_reset(res);
    e->out.head = e->out.len = 0;
    const unsigned char *u;
    size_t n = xb_split_held(&e->sp, &u);
    size_t i = 0;
    while (i < n && xb_xml_ws(u[i]))
        i++;
    if (i < n) {
        xb_feed_error(res, XB_ERR_MALFORMED, XB_LIMIT_NONE, e->sp.base + n, "the stream ends inside a unit");
        return XB_FEED_ERROR;
    }
    if (n) {
        if (text_frame(e, u, n, e->sp.base, res))
            return XB_FEED_ERROR;
        xb_split_drop(&e->sp);
    }
    res->data = e->out.p;
    res->size = e->out.len;
    return XB_FEED_DONE;
}

/* ---- decoder feed loop ---- */
struct xb_fdec {
    xb_stream *st;
    uint32_t max_frame;
    xb_bytes in;
    uint64_t base; /* stream offset of in.p[in.head] */
    xb_bytes out;
    size_t *ev;
    size_t ev_n, ev_cap;
    size_t need; /* bytes still needed before the frame held can complete or fail */
    char *stream_name; /* the stream header's qname (xb_fdec_set_stream), or NULL */
    size_t stream_len;
    const xb_hdrs *hdrs; /* the header contexts (xb_fdec_set_headers), or NULL */
    uint32_t max_table;
    xb_stream *own; /* st, when the loop owns it (xb_fdec_open) */
};

xb_fdec *xb_fdec_new(xb_stream *st, uint32_t max_frame)
{
    xb_fdec *d = calloc(1, sizeof *d);
    if (d == NULL)
        return NULL;
    d->st = st;
    d->max_frame = max_frame;
    return d;
}

void xb_fdec_free(xb_fdec *d)
{
    if (d == NULL)
        return;
    xb_bytes_release(&d->in);
    xb_bytes_release(&d->out);
    free(d->ev);
    free(d->stream_name);
    xb_stream_free(d->own);
    free(d);
}

xb_fdec *xb_fdec_open(uint32_t max_frame, xb_hdrs *hdrs, uint32_t max_table_size)
{
    xb_stream *st = xb_stream_new(0, 0, 1);
    xb_fdec *d = st ? xb_fdec_new(st, max_frame) : NULL;
    if (d == NULL) {
        xb_stream_free(st);
        return NULL;
    }
    d->own = st;
    if (hdrs != NULL)
        xb_fdec_set_headers(d, hdrs, max_table_size);
    return d;
}

xb_stream *xb_fdec_state(const xb_fdec *d)
{
    return d->st;
}

int xb_fdec_set_stream(xb_fdec *d, const char *qname, size_t n)
{
    return set_name(&d->stream_name, &d->stream_len, qname, n);
}

void xb_fdec_set_headers(xb_fdec *d, xb_hdrs *h, uint32_t max_table_size)
{
    d->hdrs = h;
    d->max_table = max_table_size;
}

const char *xb_fdec_stream_name(const xb_fdec *d, size_t *n)
{
    *n = d->stream_len;
    return d->stream_name;
}

size_t xb_fdec_held(const xb_fdec *d, uint64_t *end)
{
    size_t n = d->in.len - d->in.head;
    *end = d->base + n;
    return n;
}

static int add_event(xb_fdec *d, int kind, const void *xml, size_t n)
{
    unsigned char *q = xb_bytes_reserve(&d->out, n ? n : 1);
    if (q == NULL || xb_events_push(&d->ev, &d->ev_n, &d->ev_cap, (size_t)kind, d->out.len, n))
        return -1;
    if (n)
        memcpy(q, xml, n);
    d->out.len += n;
    return 0;
}

/* An OPEN frame's payload p[0 .. n) at stream offset base, decoded here as
   stream.py's StreamDecoder._frame decodes it (opened: an OPEN frame came
   before): 1 (done: its event added, the options of its context in *opt), 0
   (the caller's: dictionary other than 1, or a header whose root the loop
   cannot read or whose context the set does not know; the state may have been
   reset and the header decoded, which the caller does again from the start),
   2 (a restart, spec 14.2, decoded with the state kept and its event added,
   whose context the loop does not know: the caller learns it from the XML in
   res->unit, without decoding it again), -1 (error in res). */
static int open_frame(xb_fdec *d, const unsigned char *p, size_t n, uint64_t base, int opened,
                      const xb_decode_options **opt, xb_feed_result *res)
{
    /* the budget: a varint of at most 3 bytes */
    uint32_t budget = 0;
    size_t i = 0;
    for (;; i++) {
        if (i == 3) {
            xb_feed_error(res, XB_ERR_INVALID, XB_LIMIT_NONE, base, "varint longer than 3 bytes");
            return -1;
        }
        if (i >= n) {
            xb_feed_error(res, XB_ERR_TRUNCATED, XB_LIMIT_NONE, base + n, "frame is truncated");
            return -1;
        }
        budget |= (uint32_t)(p[i] & 0x7F) << (7 * i);
        if (!(p[i] & 0x80)) {
            if (i && p[i] == 0) {
                xb_feed_error(res, XB_ERR_INVALID, XB_LIMIT_NONE, base, "non-minimal varint");
                return -1;
            }
            break;
        }
    }
    size_t h = i + 1;
    if (budget > d->max_table) {
        xb_feed_error(res, XB_ERR_LIMIT, XB_LIMIT_MAX_TABLE_SIZE, base,
                      "table budget %lu exceeds max_table_size=%lu", (unsigned long)budget,
                      (unsigned long)d->max_table);
        return -1;
    }
    unsigned kind = 0, id = 0;
    int exact = 0;
    size_t hl = 0; /* the message header's length */
    switch (xb_read_header(p + h, n - h, &kind, &exact, &id, &hl)) {
    case XB_HDR_OK:
        break;
    case XB_HDR_VERSION:
        xb_feed_error(res, XB_ERR_UNKNOWN_DICTIONARY, XB_LIMIT_NONE, base + h, "unsupported format version %u",
                      (unsigned)p[h] >> 5);
        return -1;
    case XB_HDR_LONG_SHORT_ID:
        xb_feed_error(res, XB_ERR_INVALID, XB_LIMIT_NONE, base + h + 1, "dictionary id %u in a two-byte header", id);
        return -1;
    default:
        xb_feed_error(res, XB_ERR_TRUNCATED, XB_LIMIT_NONE, base + n, "frame is truncated");
        return -1;
    }
    if (kind > XB_KIND_RESTART) {
        xb_feed_error(res, XB_ERR_INVALID, XB_LIMIT_NONE, base + h, "invalid message header in an open frame");
        return -1;
    }
    if (kind == XB_KIND_RESTART) { /* the state carries over: the same parameters */
        if (!opened) {
            xb_feed_error(res, XB_ERR_INVALID, XB_LIMIT_NONE, base + h, "a restart before the stream's open frame");
            return -1;
        }
        if (budget != d->st->budget || exact != d->st->exact || id != 1) {
            xb_feed_error(res, XB_ERR_INVALID, XB_LIMIT_NONE, base + h,
                          "a restart changes the table budget, the mode or the dictionary");
            return -1;
        }
    } else if (id != 1 || xb_stream_reset(d->st, budget, exact)) {
        return 0; /* another dictionary: the caller's error */
    }
    const unsigned char *body = p + h + hl;
    size_t blen = n - h - hl;
    int k = -1;
    if (kind == 0) { /* an announcement: no header */
        if (blen) {
            xb_feed_error(res, XB_ERR_INVALID, XB_LIMIT_NONE, base + h + hl, "an announcing open frame has no body");
            return -1;
        }
    } else {
        xb_result r;
        if (xb_stream_decode(d->st, (const char *)body, blen, 1, d->hdrs->base, &r)) {
            /* offsets into the body, which starts after the budget and the message header */
            xb_feed_error(res, r.error, r.limit, base + h + hl + r.offset, "%s", r.message);
            return -1;
        }
        unsigned char sig[XB_SIG_MAX];
        size_t qa, ql, sl;
        const unsigned char *x = (const unsigned char *)r.data;
        if (!header_tag(x, r.size, &qa, &ql, sig, sizeof sig, &sl) || (k = hdrs_find(d->hdrs, sig, sl)) < 0) {
            if (kind == XB_KIND_RESTART) { /* decoded with the kept state: not to be decoded again */
                int bad = add_event(d, XB_UNIT_OPEN, x, r.size);
                xb_free(r.data);
                if (bad) {
                    xb_feed_error(res, XB_ERR_NOMEM, XB_LIMIT_NONE, base, "out of memory");
                    return -1;
                }
                res->unit = d->out.p + d->out.len - r.size;
                res->unit_size = r.size;
                res->unit_offset = base;
                return 2;
            }
            xb_free(r.data);
            return 0;
        }
        int bad = set_name(&d->stream_name, &d->stream_len, (const char *)x + qa, ql) ||
                  add_event(d, XB_UNIT_OPEN, x, r.size);
        xb_free(r.data);
        if (bad) {
            xb_feed_error(res, XB_ERR_NOMEM, XB_LIMIT_NONE, base, "out of memory");
            return -1;
        }
    }
    res->headers++;
    res->header_ctx = k;
    res->header_budget = budget;
    res->header_exact = exact;
    *opt = k < 0 ? d->hdrs->base : d->hdrs->e[k].opt;
    return 1;
}

static const char *const FRAME_NAMES[4] = {"element", "text", "open", "close"};

int xb_fdec_hold(xb_fdec *d, const char *data, size_t size)
{
    if (size >= d->need)
        return 0;
    /* the frame cannot complete: keep the bytes without parsing the frame again
       (a caller feeding one byte at a time stays linear) */
    if (size <= 8 && d->in.cap - d->in.len >= size) { /* the usual small piece: no call */
        for (size_t i = 0; i < size; i++)
            d->in.p[d->in.len + i] = (unsigned char)data[i];
        d->in.len += size;
    } else if (xb_bytes_push(&d->in, data, size)) {
        return -1;
    }
    d->need -= size;
    return 1;
}

int xb_fdec_feed(xb_fdec *d, const char *data, size_t size, int opened, const xb_decode_options *opt,
                 xb_feed_result *res)
{
    xb_feed_reset(res);
    int held = xb_fdec_hold(d, data, size);
    if (held) {
        if (held < 0) {
            xb_feed_error(res, XB_ERR_NOMEM, XB_LIMIT_NONE, d->base, "out of memory");
            return XB_FEED_ERROR;
        }
        res->need = d->need;
        return XB_FEED_DONE;
    }
    d->out.head = d->out.len = 0;
    xb_bytes_trim(&d->out, XB_FEED_KEEP);
    if (d->ev_cap > 3 * 4096) {
        free(d->ev);
        d->ev = NULL;
        d->ev_cap = 0;
    }
    d->ev_n = 0;
    int rc = XB_FEED_DONE;
    /* Frames are parsed from the input itself when nothing is held; only an
       unfinished frame at its end is copied (and the rest after a stop). */
    const unsigned char *src;
    size_t n, pos = 0;
    int direct = d->in.head == d->in.len;
    if (direct) {
        d->in.head = d->in.len = 0;
        src = (const unsigned char *)(data ? data : "");
        n = data ? size : 0;
    } else {
        if (xb_bytes_push(&d->in, data, size)) {
            xb_feed_error(res, XB_ERR_NOMEM, XB_LIMIT_NONE, d->base, "out of memory");
            rc = XB_FEED_ERROR;
            goto out;
        }
        src = xb_bytes_live(&d->in);
        n = d->in.len - d->in.head;
    }
    for (;;) {
        const unsigned char *u = src + pos;
        size_t m = n - pos;
        if (m == 0)
            break;
        /* the header varint: at most 4 bytes, minimal */
        uint32_t v = 0;
        size_t i = 0;
        int done = 0;
        for (; i < MAX_FRAME_HEADER && i < m; i++) {
            v |= (uint32_t)(u[i] & 0x7F) << (7 * i);
            if (!(u[i] & 0x80)) {
                if (i && u[i] == 0) {
                    xb_feed_error(res, XB_ERR_INVALID, XB_LIMIT_NONE, d->base, "non-minimal varint");
                    rc = XB_FEED_ERROR;
                    goto out;
                }
                done = 1;
                break;
            }
        }
        if (!done) {
            if (i < MAX_FRAME_HEADER) {
                res->need = 1; /* the header goes on in the next feed */
                break;
            }
            xb_feed_error(res, XB_ERR_INVALID, XB_LIMIT_NONE, d->base, "varint longer than %d bytes",
                          MAX_FRAME_HEADER);
            rc = XB_FEED_ERROR;
            goto out;
        }
        size_t start = i + 1;
        int kind, short_frame = 0;
        uint32_t len;
        if (!(v & 1)) {
            kind = XB_UNIT_ELEMENT;
            len = v >> 1;
        } else {
            kind = (int)((v >> 1) & 3);
            len = v >> 3;
            if (kind == XB_UNIT_ELEMENT) { /* type 0 with the low bit: a SHORT frame of i + 1 bytes */
                short_frame = 1;
                len = 0;
            }
        }
        size_t size = short_frame ? start : len; /* a SHORT frame's payload: as long as its header */
        if (size > d->max_frame) {
            xb_feed_error(res, XB_ERR_LIMIT, XB_LIMIT_MAX_FRAME, d->base, "frame of %lu bytes exceeds max_frame=%lu",
                          (unsigned long)size, (unsigned long)d->max_frame);
            rc = XB_FEED_ERROR;
            goto out;
        }
        if (!opened && (kind == XB_UNIT_ELEMENT || kind == XB_UNIT_CLOSE)) {
            xb_feed_error(res, XB_ERR_INVALID, XB_LIMIT_NONE, d->base, "%s frame before the stream's open frame",
                          FRAME_NAMES[kind]);
            rc = XB_FEED_ERROR;
            goto out;
        }
        if (m - start < len) {
            res->need = start + len - m; /* the payload goes on in the next feed */
            break;
        }
        const unsigned char *payload = u + start;
        uint64_t pbase = d->base + start;
        unsigned char short_body[4]; /* a SHORT frame's ELEMENT body (stream.short_payload) */
        uint32_t plen = len;
        if (short_frame) {
            if (start == 1) {
                short_body[0] = (unsigned char)((v >> 3) << 4 | (d->st->exact ? 0x08u : 0u));
            } else { /* the 7k - 3 bits of v >> 3, then zero bits: k bytes */
                uint32_t c = (uint32_t)(v >> 3) << (start + 3);
                size_t j;
                for (j = 0; j < start; j++)
                    short_body[j] = (unsigned char)(c >> (8 * (start - 1 - j)));
            }
            payload = short_body;
            plen = (uint32_t)start;
            pbase = d->base; /* its bytes are the header's */
        }
        pos += start + len; /* consumed: the payload stays valid until this call returns */
        d->base += start + len;
        if (kind == XB_UNIT_TEXT) {
            size_t k = 0;
            while (k < len && xb_xml_ws(payload[k]))
                k++;
            if (len == 0 || k < len) {
                xb_feed_error(res, XB_ERR_INVALID, XB_LIMIT_NONE, pbase, "a text frame must hold whitespace only");
                rc = XB_FEED_ERROR;
                goto out;
            }
            if (add_event(d, XB_UNIT_TEXT, payload, len)) {
                xb_feed_error(res, XB_ERR_NOMEM, XB_LIMIT_NONE, pbase, "out of memory");
                rc = XB_FEED_ERROR;
                goto out;
            }
        } else if (kind == XB_UNIT_ELEMENT) {
            xb_result r;
            int lent = 0;
            if (xb_stream_decode_lend(d->st, (const char *)payload, plen, opt, &r, &lent)) {
                xb_feed_error(res, r.error, r.limit, pbase + r.offset, "%s", r.message);
                rc = XB_FEED_ERROR;
                goto out;
            }
            int bad = add_event(d, XB_UNIT_ELEMENT, r.data, r.size);
            if (!lent)
                xb_free(r.data);
            if (bad) {
                xb_feed_error(res, XB_ERR_NOMEM, XB_LIMIT_NONE, pbase, "out of memory");
                rc = XB_FEED_ERROR;
                goto out;
            }
        } else if (kind == XB_UNIT_CLOSE && len == 0 && d->stream_name != NULL) {
            /* the plain end tag of the stream header: "</" qname ">" */
            unsigned char *q = xb_bytes_reserve(&d->out, d->stream_len + 3);
            if (q == NULL || xb_events_push(&d->ev, &d->ev_n, &d->ev_cap, XB_UNIT_CLOSE, d->out.len,
                                            d->stream_len + 3)) {
                xb_feed_error(res, XB_ERR_NOMEM, XB_LIMIT_NONE, pbase, "out of memory");
                rc = XB_FEED_ERROR;
                goto out;
            }
            q[0] = '<';
            q[1] = '/';
            memcpy(q + 2, d->stream_name, d->stream_len);
            q[d->stream_len + 2] = '>';
            d->out.len += d->stream_len + 3;
        } else {
            if (kind == XB_UNIT_OPEN && d->hdrs != NULL) {
                int r = open_frame(d, payload, len, pbase, opened, &opt, res);
                if (r < 0) {
                    rc = XB_FEED_ERROR;
                    goto out;
                }
                if (r == 2) { /* stream.py learns the restart's context (its event is added) */
                    res->kind = XB_UNIT_OPENED;
                    rc = XB_FEED_PENDING;
                    goto out;
                }
                if (r > 0) {
                    opened = 1;
                    continue;
                }
            }
            /* OPEN, CLOSE: the caller's */
            res->kind = kind;
            res->unit = payload;
            res->unit_size = len;
            res->unit_offset = pbase;
            rc = XB_FEED_PENDING;
            goto out;
        }
    }
out:
    if (direct) {
        /* keep what was not consumed (the pending payload is read before the next feed) */
        if (n > pos && xb_bytes_push(&d->in, src + pos, n - pos) && rc != XB_FEED_ERROR) {
            xb_feed_error(res, XB_ERR_NOMEM, XB_LIMIT_NONE, d->base, "out of memory");
            rc = XB_FEED_ERROR;
        }
    } else {
        d->in.head += pos;
    }
    if (rc != XB_FEED_PENDING)
        xb_bytes_trim(&d->in, XB_FEED_KEEP);
    d->need = rc == XB_FEED_DONE ? res->need : 0;
    res->data = d->out.p;
    res->size = d->out.len;
    res->events = d->ev;
    res->nevents = d->ev_n / 3;
    return rc;
}
