/*
 * The stream unit splitter (spec 14.1), the C twin of XmlSplitter in
 * xmppbin/stream.py: it finds unit boundaries only (the encoder's scanner
 * validates each unit), with the same boundaries, errors and offsets for any
 * chunking of the input.
 *
 * Linear time: every search that runs out of input remembers how far it got
 * (xb_find, the resume point of an unfinished element, the known whitespace),
 * so a later feed looks at each byte of a unit a bounded number of times.
 *
 * Uses: xb_frame.h (its own structs), xb_dict.h (xb_xml_ws), xmppbin.h (error codes).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xb_dict.h"
#include "xb_frame.h"

#define NONE ((size_t)-1)

/* the first position in [j, n) holding '>', '"' or '\'', or n */
static size_t tag_stop(const unsigned char *u, size_t j, size_t n)
{
#ifdef XB_SSE2
    const __m128i gt = _mm_set1_epi8('>'), dq = _mm_set1_epi8('"'), sq = _mm_set1_epi8('\'');
    while (n - j >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(u + j));
        unsigned m = (unsigned)_mm_movemask_epi8(
            _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, gt), _mm_cmpeq_epi8(v, dq)), _mm_cmpeq_epi8(v, sq)));
        if (m)
            return j + (size_t)__builtin_ctz(m);
        j += 16;
    }
#endif
    while (j < n && u[j] != '>' && u[j] != '"' && u[j] != '\'')
        j++;
    return j;
}

/* the first position in [j, n) holding c, or n: inline, as the gaps it
   crosses (an attribute value, the text between two tags) are mostly short */
static size_t find_byte(const unsigned char *u, size_t j, size_t n, unsigned char c)
{
#ifdef XB_SSE2
    const __m128i vc = _mm_set1_epi8((char)c);
    while (n - j >= 16) {
        unsigned m = (unsigned)_mm_movemask_epi8(
            _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(u + j)), vc));
        if (m)
            return j + (size_t)__builtin_ctz(m);
        j += 16;
    }
#endif
    while (j < n && u[j] != c)
        j++;
    return j;
}

/* ---- shared helpers (also used by frame.c) ---- */
void xb_feed_error(xb_feed_result *r, int error, int limit, uint64_t offset, const char *fmt, ...)
{
    va_list ap;
    r->error = error;
    r->limit = limit;
    r->offset = offset;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
}

unsigned char *xb_bytes_reserve(xb_bytes *b, size_t n)
{
    if (b->cap - b->len < n) {
        if (b->head) { /* move the live bytes to the front first */
            memmove(b->p, b->p + b->head, b->len - b->head);
            b->len -= b->head;
            b->head = 0;
        }
        if (b->cap - b->len < n) {
            if (n > SIZE_MAX / 2 - b->len)
                return NULL;
            size_t cap = b->cap ? b->cap : 256;
            while (cap - b->len < n)
                cap *= 2;
            unsigned char *p = realloc(b->p, cap);
            if (p == NULL)
                return NULL;
            b->p = p;
            b->cap = cap;
        }
    }
    return b->p + b->len;
}

int xb_bytes_push(xb_bytes *b, const void *data, size_t n)
{
    if (n == 0)
        return 0;
    if (b->head == b->len) /* nothing live: start over at the front */
        b->head = b->len = 0;
    unsigned char *q = xb_bytes_reserve(b, n);
    if (q == NULL)
        return -1;
    memcpy(q, data, n);
    b->len += n;
    return 0;
}

void xb_bytes_trim(xb_bytes *b, size_t keep)
{
    size_t live = b->len - b->head;
    if (b->cap <= keep || live > b->cap / 4)
        return;
    if (live == 0) {
        free(b->p);
        memset(b, 0, sizeof *b);
        return;
    }
    memmove(b->p, b->p + b->head, live);
    b->head = 0;
    b->len = live;
    size_t c = live * 2 > keep ? live * 2 : keep;
    unsigned char *p = realloc(b->p, c);
    if (p != NULL) { /* else the larger block stays */
        b->p = p;
        b->cap = c;
    }
}

void xb_bytes_release(xb_bytes *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

int xb_events_push(size_t **ev, size_t *n, size_t *cap, size_t kind, size_t off, size_t len)
{
    if (*cap - *n < 3) {
        size_t c = *cap ? *cap * 2 : 96;
        if (c > SIZE_MAX / sizeof(size_t))
            return -1;
        size_t *p = realloc(*ev, c * sizeof(size_t));
        if (p == NULL)
            return -1;
        *ev = p;
        *cap = c;
    }
    (*ev)[(*n)++] = kind;
    (*ev)[(*n)++] = off;
    (*ev)[(*n)++] = len;
    return 0;
}

/* ---- character classes ---- */

static int is_space(unsigned c) /* \s of a Python bytes regex */
{
    return xb_xml_ws(c) || c == '\f' || c == '\v';
}

static int starts(const unsigned char *u, size_t n, size_t i, const char *s)
{
    size_t k = strlen(s);
    return n - i >= k && memcmp(u + i, s, k) == 0;
}

/* ---- resumable searches ---- */
enum { M_GENERIC, M_COMMENT, M_CDATA, M_PI, M_DECL, M_END };

/* The first t (tl bytes) in u[from .. n), or NONE; f remembers the search. */
static size_t find_term(xb_find *f, int mode, const unsigned char *u, size_t n, size_t from, const char *t,
                        size_t tl)
{
    size_t s = from;
    if (f->valid && f->mode == mode && f->start == from)
        s = f->pos;
    f->valid = 1;
    f->mode = mode;
    f->start = from;
    while (s < n && n - s >= tl) {
        const unsigned char *q = memchr(u + s, (unsigned char)t[0], n - s - tl + 1);
        if (q == NULL)
            break;
        size_t k = (size_t)(q - u);
        if (memcmp(q, t, tl) == 0) {
            f->pos = k;
            return k;
        }
        s = k + 1;
    }
    /* a match can only start where fewer than tl bytes are left */
    if (n >= tl && n - tl + 1 > s)
        s = n - tl + 1;
    f->pos = s;
    return NONE;
}

/* Index after the '>' of the markup starting at u[i] ('<'), or 0 (XmlSplitter._tag_end). */
static size_t tag_end(xb_find *f, const unsigned char *u, size_t n, size_t i)
{
    size_t k;
    if (i + 1 < n && (u[i + 1] == '!' || u[i + 1] == '?')) { /* (each form below starts so) */
        if (starts(u, n, i, "<!--")) {
            k = find_term(f, M_COMMENT, u, n, i + 4, "-->", 3);
            return k == NONE ? 0 : k + 3;
        }
        if (starts(u, n, i, "<![CDATA[")) {
            k = find_term(f, M_CDATA, u, n, i + 9, "]]>", 3);
            return k == NONE ? 0 : k + 3;
        }
        if (starts(u, n, i, "<?")) {
            k = find_term(f, M_PI, u, n, i + 2, "?>", 2);
            return k == NONE ? 0 : k + 2;
        }
    }
    size_t j = i + 1;
    int q = 0;
    if (f->valid && f->mode == M_GENERIC && f->start == i) {
        j = f->pos;
        q = f->quote;
    }
    f->valid = 1;
    f->mode = M_GENERIC;
    f->start = i;
    while (j < n) {
        if (q) {
            j = find_byte(u, j, n, (unsigned char)q);
            if (j == n)
                break;
            q = 0;
        } else {
            j = tag_stop(u, j, n);
            if (j == n)
                break;
            if (u[j] == '>') {
                f->pos = j;
                f->quote = 0;
                return j + 1;
            }
            q = (int)u[j];
        }
        j++;
    }
    f->pos = j;
    f->quote = q;
    return 0;
}

/* The candidate end of the element whose first tag (qname q, ql bytes) ends
 * at u[i]: the index after the first end tag </q> (q, optional whitespace,
 * '>') after it, found by the '<' bytes only. 0 (no candidate: the tags are
 * read) when none is complete in u[.. n), or when a start tag <q comes first
 * (an element nested in one of its own name, as a carbon-copied message: the
 * first end tag is the inner one's). A candidate is only a guess: in a
 * well-formed unit it is the element's end (its last markup is the root's
 * end tag, so the depth the tags give first returns to 0 there), and a unit
 * the caller's scanner rejects goes back (xb_split_undo). */
static size_t candidate_end(const unsigned char *u, size_t n, size_t i, const unsigned char *q, size_t ql)
{
    for (;;) {
        i = find_byte(u, i, n, '<');
        if (n - i < ql + 3) /* not even "<q>" left (i == n included) */
            return 0;
        if (u[i + 1] == '/') {
            if (u[i + 2] == q[0] && memcmp(u + i + 2, q, ql) == 0) {
                size_t j = i + 2 + ql;
                while (j < n && xb_xml_ws(u[j]))
                    j++;
                if (j == n)
                    return 0;
                if (u[j] == '>')
                    return j + 1;
            }
        } else if (u[i + 1] == q[0] && memcmp(u + i + 1, q, ql) == 0) {
            unsigned char c = u[i + 1 + ql];
            if (xb_xml_ws(c) || c == '>' || c == '/')
                return 0;
        }
        i++;
    }
}

void xb_split_undo(xb_split *sp)
{
    sp->buf.head -= sp->cand_n;
    sp->base -= sp->cand_n;
    sp->cand = 0;
    sp->nofast = 1;
    sp->nundo++;
}

/* ---- the splitter ---- */
void xb_split_init(xb_split *sp, uint32_t max_size, int in_stream)
{
    memset(sp, 0, sizeof *sp);
    sp->max_size = max_size;
    sp->depth = in_stream ? 1 : 0;
}

void xb_split_release(xb_split *sp)
{
    xb_bytes_release(&sp->buf);
    free(sp->name);
    free(sp->ev);
    memset(sp, 0, sizeof *sp);
}

xb_split *xb_split_new(uint32_t max_size, int in_stream)
{
    xb_split *sp = malloc(sizeof *sp);
    if (sp != NULL)
        xb_split_init(sp, max_size, in_stream);
    return sp;
}

void xb_split_free(xb_split *sp)
{
    if (sp == NULL)
        return;
    xb_split_release(sp);
    free(sp);
}

static int take(xb_split *sp, size_t n, int k, int *kind, const unsigned char **data, size_t *size,
                uint64_t *offset)
{
    sp->cand = 0;
    sp->nofast = 0;
    *kind = k;
    *data = xb_bytes_live(&sp->buf);
    *size = n;
    *offset = sp->base;
    sp->buf.head += n;
    sp->base += n;
    sp->r_i = 0;
    sp->r_depth = 0;
    sp->ws = 0;
    sp->dws = 0;
    sp->element = 0;
    sp->f[0].valid = sp->f[1].valid = 0;
    return 1;
}

/* the element unit u[0 .. k) at a guessed end: taken, and remembered as a
   guess (xb_split_undo takes it back when the scan rejects it) */
static int take_guess(xb_split *sp, size_t k, int *kind, const unsigned char **data, size_t *size, uint64_t *offset)
{
    take(sp, k, XB_UNIT_ELEMENT, kind, data, size, offset);
    sp->cand = 1;
    sp->cand_n = k;
    sp->ncand++;
    return 1;
}

/* a stream header ending at end: remember its qname (XmlSplitter._open) */
static int open_unit(xb_split *sp, size_t end, int *kind, const unsigned char **data, size_t *size,
                     uint64_t *offset, xb_feed_result *err)
{
    const unsigned char *u = xb_bytes_live(&sp->buf);
    /* re.search(rb"<([^\s/>?!]+)", buf[:end]) */
    size_t a = 0, b = 0;
    for (size_t k = 0; k + 1 < end; k++) {
        if (u[k] != '<')
            continue;
        size_t j = k + 1;
        while (j < end && !is_space(u[j]) && u[j] != '/' && u[j] != '>' && u[j] != '?' && u[j] != '!')
            j++;
        if (j > k + 1) {
            a = k + 1;
            b = j;
            break;
        }
    }
    free(sp->name);
    sp->name = NULL;
    sp->name_len = 0;
    sp->has_name = 0;
    if (b > a) {
        sp->name = malloc(b - a);
        if (sp->name == NULL) {
            xb_feed_error(err, XB_ERR_NOMEM, XB_LIMIT_NONE, sp->base, "out of memory");
            return -1;
        }
        memcpy(sp->name, u + a, b - a);
        sp->name_len = b - a;
        sp->has_name = 1;
    }
    sp->depth = 1;
    return take(sp, end, XB_UNIT_OPEN, kind, data, size, offset);
}

/* the bytes that end a qname in qname_end: is_space's (9 to 13, 32), '/', '>' */
#define QNAME_STOP                                                                                                     \
    ((1ull << 9) | (1ull << 10) | (1ull << 11) | (1ull << 12) | (1ull << 13) | (1ull << 32) | (1ull << '/') |        \
     (1ull << '>'))

/* the end of the qname of the markup at u[0] ('<'): re.match(rb"<([^\s/>]+)", buf) */
static size_t qname_end(const unsigned char *u, size_t n)
{
    size_t j = 1;
    while (j < n && !(u[j] < 64 && ((QNAME_STOP >> u[j]) & 1u)))
        j++;
    return j;
}

/* the qname u[1 .. j) is the open stream header's */
static int is_stream_name(const xb_split *sp, const unsigned char *u, size_t j)
{
    return sp->has_name && j - 1 == sp->name_len && memcmp(u + 1, sp->name, sp->name_len) == 0;
}

int xb_split_step(xb_split *sp, int *kind, const unsigned char **data, size_t *size, uint64_t *offset,
                  xb_feed_result *err)
{
    const unsigned char *u = xb_bytes_live(&sp->buf);
    size_t n = sp->buf.len - sp->buf.head;
    if (n == 0)
        return 0;
    if (sp->element)
        goto element;
    /* whitespace between units */
    size_t w = sp->ws;
    while (w < n && xb_xml_ws(u[w]))
        w++;
    sp->ws = w;
    if (w) {
        if (w == n)
            goto more; /* the run may go on */
        return take(sp, w, XB_UNIT_TEXT, kind, data, size, offset);
    }
    if (u[0] != '<') {
        xb_feed_error(err, XB_ERR_MALFORMED, XB_LIMIT_NONE, sp->base, "text between top-level elements");
        return -1;
    }
    if (n > 5 && memcmp(u, "<?xml", 5) == 0 && (xb_xml_ws(u[5]) || u[5] == '?')) {
        /* declaration: belongs to the stream header that follows */
        size_t e = find_term(&sp->f[0], M_DECL, u, n, 0, "?>", 2);
        if (e == NONE)
            goto more;
        size_t s = sp->dws > e + 2 ? sp->dws : e + 2;
        while (s < n && xb_xml_ws(u[s]))
            s++;
        sp->dws = s;
        if (s == n)
            goto more;
        size_t hdr = tag_end(&sp->f[1], u, n, s);
        if (!hdr)
            goto more;
        return open_unit(sp, hdr, kind, data, size, offset, err);
    }
    if (n >= 2 && u[1] == '/') {
        size_t e = find_term(&sp->f[0], M_END, u, n, 0, ">", 1);
        if (e == NONE)
            goto more;
        if (e + 1 > sp->max_size) { /* as when it arrives in pieces (the end tag is not scanned) */
            xb_feed_error(err, XB_ERR_LIMIT, XB_LIMIT_MAX_SIZE, sp->base + sp->max_size,
                          "a stream unit is longer than max_size=%lu", (unsigned long)sp->max_size);
            return -1;
        }
        if (sp->depth != 1) {
            xb_feed_error(err, XB_ERR_MALFORMED, XB_LIMIT_NONE, sp->base, "end tag outside the stream");
            return -1;
        }
        sp->depth = 0;
        return take(sp, e + 1, XB_UNIT_CLOSE, kind, data, size, offset);
    }
    {
        size_t j = 0;
        int same = 0;
        /* The encoder's loop scans every element unit it is given (sp->fast):
           the first tag's end is guessed as its first '>', found by that byte
           alone, the unit as that tag when it ends "/>", else as the element
           candidate_end finds. A '>' in an attribute value makes a unit the
           scan rejects (xb_split_undo; then the tags are read). Only on the
           first look at a unit (f[0] not yet reading its first tag), so each
           byte is looked at a bounded number of times in any chunking. */
        const int guess = sp->fast && !sp->nofast && !sp->f[0].valid && sp->depth == 1 && n > 1 && u[1] != '!' &&
                          u[1] != '?';
        if (guess) {
            j = qname_end(u, n);
            same = is_stream_name(sp, u, j);
            if (j > 1 && j < n && !same) {
                size_t gt = find_byte(u, j, n, '>');
                size_t k = gt == n ? 0 : u[gt - 1] == '/' ? gt + 1 : candidate_end(u, n, gt + 1, u + 1, j - 1);
                if (k)
                    return take_guess(sp, k, kind, data, size, offset);
            }
        }
        size_t end = tag_end(&sp->f[0], u, n, 0);
        if (!end)
            goto more;
        if (!guess) {
            j = qname_end(u, n);
            same = is_stream_name(sp, u, j);
        }
        if (sp->depth == 0 || same) {
            if (u[end - 2] == '/') /* '/>': a self-closed element, not a header */
                return take(sp, end, XB_UNIT_ELEMENT, kind, data, size, offset);
            return open_unit(sp, end, kind, data, size, offset, err);
        }
        /* the first tag is known: the loop below goes on after it (a comment,
           PI or self-closed element at the top is the whole unit) */
        if (u[1] == '!' || u[1] == '?' || u[end - 2] == '/')
            return take(sp, end, XB_UNIT_ELEMENT, kind, data, size, offset);
        if (sp->fast && !sp->nofast && j > 1 && !guess) {
            size_t k = candidate_end(u, n, end, u + 1, j - 1);
            if (k)
                return take_guess(sp, k, kind, data, size, offset);
        }
        sp->r_i = end;
        sp->r_depth = 1;
        sp->element = 1;
    }
element: {
    /* a whole top-level element from u[0], resumed where the last feed stopped */
    size_t i = sp->r_i;
    int64_t depth = sp->r_depth;
    for (;;) {
        if (i >= n)
            break;
        if (u[i] != '<') {
            i = find_byte(u, i, n, '<');
            continue;
        }
        size_t end = tag_end(&sp->f[1], u, n, i);
        if (!end)
            break;
        if (u[i + 1] == '/')
            depth--;
        else if (u[i + 1] != '!' && u[i + 1] != '?' && u[end - 2] != '/')
            depth++;
        i = end;
        if (depth <= 0)
            return take(sp, i, XB_UNIT_ELEMENT, kind, data, size, offset);
    }
    sp->r_i = i;
    sp->r_depth = depth;
}
more:
    if (n > sp->max_size) {
        xb_feed_error(err, XB_ERR_LIMIT, XB_LIMIT_MAX_SIZE, sp->base + sp->max_size,
                      "a stream unit is longer than max_size=%lu", (unsigned long)sp->max_size);
        return -1;
    }
    return 0;
}

size_t xb_split_held(const xb_split *sp, const unsigned char **data)
{
    *data = xb_bytes_live(&sp->buf);
    return sp->buf.len - sp->buf.head;
}

void xb_split_drop(xb_split *sp)
{
    sp->base += sp->buf.len - sp->buf.head;
    sp->buf.head = sp->buf.len = 0;
    sp->ws = 0;
}


int xb_split_feed(xb_split *sp, const char *data, size_t size, xb_feed_result *res)
{
    xb_feed_reset(res);
    sp->ev_n = 0;
    if (xb_bytes_push(&sp->buf, data, size)) {
        xb_feed_error(res, XB_ERR_NOMEM, XB_LIMIT_NONE, sp->base, "out of memory");
        return XB_FEED_ERROR;
    }
    const unsigned char *first = xb_bytes_live(&sp->buf); /* the units are contiguous from here */
    int rc;
    for (;;) {
        int kind;
        const unsigned char *u;
        size_t n;
        uint64_t off;
        rc = xb_split_step(sp, &kind, &u, &n, &off, res);
        if (rc <= 0)
            break;
        if (xb_events_push(&sp->ev, &sp->ev_n, &sp->ev_cap, (size_t)kind, (size_t)(u - first), n)) {
            xb_feed_error(res, XB_ERR_NOMEM, XB_LIMIT_NONE, off, "out of memory");
            rc = -1;
            break;
        }
    }
    res->data = first;
    res->events = sp->ev;
    res->nevents = sp->ev_n / 3;
    if (res->nevents) {
        size_t last = sp->ev_n - 3;
        res->size = sp->ev[last + 1] + sp->ev[last + 2];
    }
    return rc < 0 ? XB_FEED_ERROR : XB_FEED_DONE;
}

int xb_split_close(xb_split *sp, xb_feed_result *res)
{
    xb_feed_reset(res);
    const unsigned char *u;
    size_t n = xb_split_held(sp, &u);
    for (size_t i = 0; i < n; i++) {
        if (!xb_xml_ws(u[i])) {
            xb_feed_error(res, XB_ERR_MALFORMED, XB_LIMIT_NONE, sp->base + n, "the stream ends inside a unit");
            return XB_FEED_ERROR;
        }
    }
    return XB_FEED_DONE;
}
