/*
 * Internal interface of the message decoder (csrc/decode.c), its output
 * writer (csrc/dec_out.c) and its exact-mode layer (csrc/serialize.c): the decoder's state, error reporting into the
 * result, and writing the XML output (growing buffer, escaping).
 */
#ifndef XMPPBIN_XB_DEC_H
#define XMPPBIN_XB_DEC_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "xb_dict.h"
#include "xmppbin.h"

#if defined(__GNUC__)
#define XB_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define XB_LIKELY(x) __builtin_expect(!!(x), 1)
#define XB_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define XB_NOINLINE __attribute__((noinline))
#define XB_COLD __attribute__((cold, noinline))
#else
#define XB_PRINTF(a, b)
#define XB_LIKELY(x) (x)
#define XB_UNLIKELY(x) (x)
#define XB_NOINLINE
#define XB_COLD
#endif

/* ---- state ------------------------------------------------------------------ */
typedef struct {
    char *p;
    size_t n, cap;
} xb_buf;

enum { EV_S = 'S', EV_E = 'E', EV_T = 'T', EV_C = 'C', EV_P = 'P' };

typedef struct {
    uint8_t type;
    uint8_t clean;   /* T: escaping text changes nothing */
    uint32_t nitems; /* S: attribute items items[first .. first + nitems) */
    size_t first;
    xb_str s; /* S, E: element qname; T, C, P: text */
} xb_event;

typedef struct {
    xb_str qname;
    xb_str value;
    int clean; /* value has no XB_ESCAPABLE byte */
} xb_item;

typedef struct {
    xb_str s;
    int clean; /* no XB_ESCAPABLE byte */
} xb_hent;

typedef struct {
    xb_str prefix;
    xb_str uri;
} xb_bind;

typedef struct {
    xb_str name;
    int16_t text_ctx;
    uint16_t node_cls; /* spec 8.3, 0: none */
    size_t bind_base; /* bindings of outer scopes: binds[0 .. bind_base) */
} xb_elem;

typedef struct {
    uint64_t slot;
    int kind;
    xb_str payload; /* EMPTY for QUOTE and EMPTY slots */
} xb_dev;

typedef struct xb_chunk {
    struct xb_chunk *next;
    size_t cap, used;
} xb_chunk;
#define CHUNK_HDR ((sizeof(xb_chunk) + 15u) & ~(size_t)15u)
#define CHUNK_MIN 4096u
#define CHUNK_MAX (1u << 20)

typedef struct {
    int dquote, empty, text_gt, text_quot, attr_gt, attr_oq;
} xb_style;

typedef struct {
    /* ---- per message: zero at the start of every message (dec_reset) ---- */
    /* input and bit reader (xmppbin/bits.py:BitReader) */
    const uint8_t *data; /* the message, followed by XB_PAD zero bytes */
    size_t len, plen;    /* plen = len + XB_PAD */
    uint64_t pos, end;   /* in bits */
    const xb_decode_options *opt;
    xb_result *res;
    const xb_dictionary *dict;
    int exact, kind;
    uint64_t produced;
    int vclean; /* the last string from value_ has no XB_ESCAPABLE byte */
    size_t nhist, nev, nitems, nbinds, nelems, nws, nkitems, ndevs, ncache;
    unsigned chead; /* shape cache: the ring position of entry 0 */
    uint64_t out_over; /* output bytes past max_size that were counted, not stored */
    int open_tag;      /* not exact: a start tag waits for its '>' (emit_open) */
    /* exact mode */
    xb_style st;
    xb_str prolog;
    struct xb_stream *stream; /* stream mode: the stream's state (csrc/sstate.c), else NULL */
    /* ---- allocations, kept from message to message (from `chunk` on) ---- */
    /* arena */
    xb_chunk *chunk;
    size_t chunk_size;
    /* growing arrays */
    xb_hent *hist;
    size_t cap_hist;
    xb_event *ev;
    size_t cap_ev;
    xb_item *items;
    size_t cap_items;
    xb_bind *binds;
    size_t cap_binds;
    xb_elem *elems;
    size_t cap_elems;
    uint8_t *ctx; /* node context per depth: ctx[0 .. nelems] */
    size_t cap_ctx;
    xb_str *ws; /* indentation memory per depth */
    size_t cap_ws;
    xb_kitem *kitems; /* generic start tag being read */
    size_t cap_kitems;
    xb_str *pa, *pb; /* duplicate detection: pairs */
    size_t cap_pa, cap_pb;
    size_t *hset;
    size_t cap_hset;
    xb_dev *devs;
    size_t cap_devs;
    uint8_t *oc; /* serialize: per open element, was it self-closed? */
    size_t cap_oc;
    /* shape cache, a ring: entry i (0 = most recent, i < ncache) is at
     * (chead + i) % XB_SHAPE_CACHE; keys with their shape_info */
    const xb_key *cache[XB_SHAPE_CACHE];
    uint16_t cache_info[XB_SHAPE_CACHE];
    /* the n of these three is per message too (dec_reset) */
    xb_buf tmp;  /* literal bytes */
    xb_buf win;  /* the message's literal bytes so far: the copy window (spec 8.11) */
    xb_buf utmp; /* unescape output */
    xb_buf out;
    xb_buf in; /* the padded copy of the message */
    int registered; /* per-thread cache: its pthread key is set */
    int out_lent;   /* out.p is the result of the last xb_decode, until xb_free */
} xb_dec;
/* zero bytes after the message in the decoder's copy: the bit reader's 8-byte
 * loads stay inside it (the position is at most a few bytes past the end) */
#define XB_PAD 16

/* ---- csrc/dec_out.c: errors (the offset of FAIL and LIMIT is the bit position's byte) ---- */
XB_PRINTF(5, 6) XB_COLD int xb_dec_seterr(xb_dec *d, int code, size_t offset, int limit, const char *fmt, ...);
XB_COLD int xb_dec_nomem(xb_dec *d);
#define OFFSET(d) ((size_t)((d)->pos >> 3))
#define FAIL(d, ...) xb_dec_seterr((d), XB_ERR_INVALID, OFFSET(d), XB_LIMIT_NONE, __VA_ARGS__)
#define LIMIT(d, which, ...) xb_dec_seterr((d), XB_ERR_LIMIT, OFFSET(d), (which), __VA_ARGS__)

/* ---- csrc/dec_out.c: growing buffers and arrays ---- */
/* b->p grown so that extra more bytes fit (doubling from 256); -1 when out of
 * memory or the size overflows */
int xb_buf_grow(xb_buf *b, size_t extra);
static inline int buf_reserve(xb_buf *b, size_t extra)
{
    if (XB_LIKELY(b->cap - b->n >= extra))
        return 0;
    return xb_buf_grow(b, extra);
}

/* arr (with capacity cap) grown to need elements; returns the out-of-memory
 * error from the calling function (which has an xb_dec *d) */
#define RESERVE(arr, cap, need)                                                                            \
    do {                                                                                                   \
        if ((need) > (cap)) {                                                                              \
            void *np_ = xb_grow((arr), &(cap), (need), sizeof(*(arr)));                                    \
            if (!np_)                                                                                      \
                return xb_dec_nomem(d);                                                                    \
            (arr) = np_;                                                                                   \
        }                                                                                                  \
    } while (0)

/* is_xml_char: Char of XML 1.0 */
static inline int is_xml_char(uint32_t c)
{
    if (c < 0x20)
        return c == 0x9 || c == 0xA || c == 0xD;
    return c <= 0xD7FF || (c >= 0xE000 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0x10FFFF);
}

/* ---- csrc/dec_out.c: the output ---- */
XB_NOINLINE int xb_dec_put_slow(xb_dec *d, const char *p, size_t n);
/* p[0 .. n) to the output (out.p is not NULL: serialize reserves first) */
static inline int xb_dec_put(xb_dec *d, const char *p, size_t n)
{
    if (XB_LIKELY(n <= d->out.cap - d->out.n)) {
        memcpy(d->out.p + d->out.n, p, n);
        d->out.n += n;
        return 0;
    }
    return xb_dec_put_slow(d, p, n);
}

/* a string literal */
#define PUTL(d, z) xb_dec_put((d), "" z, sizeof(z) - 1)

static inline int xb_dec_put_str(xb_dec *d, xb_str s)
{
    return xb_dec_put(d, s.p, s.n);
}

/* the bytes escape_text / escape_attr replace in a context (xb_dec_put_escaped) */
unsigned xb_dec_text_mask(const xb_style *st);
unsigned xb_dec_attr_mask(const xb_style *st, char quote);
/* v escaped with the bytes of mask; gt_after_brackets: '>' only after "]]" */
int xb_dec_put_escaped(xb_dec *d, xb_str v, unsigned mask, int gt_after_brackets);

/* " qname='value'", the value escaped with mask unless clean (the checked
 * writers of decode.c and serialize.c) */
static inline int xb_dec_put_attr(xb_dec *d, const xb_item *it, unsigned mask)
{
    TRY(PUTL(d, " "));
    TRY(xb_dec_put_str(d, it->qname));
    TRY(PUTL(d, "='"));
    TRY(it->clean ? xb_dec_put_str(d, it->value) : xb_dec_put_escaped(d, it->value, mask, 0));
    return PUTL(d, "'");
}

/* ---- unchecked writing into a buffer known to be large enough ---- */
/* n bytes; the source has XB_STR_PAD readable bytes after its end (see
 * ZEROS) and the destination room for them (out_room), so a short string is
 * one fixed-size move */
static inline char *xb_dec_w_copy(char *o, const char *p, size_t n)
{
    if (XB_LIKELY(n <= XB_STR_PAD))
        memcpy(o, p, XB_STR_PAD);
    else
        memcpy(o, p, n);
    return o + n;
}

#define W_LIT(o, z) (memcpy((o), "" z, sizeof(z) - 1), (o) += sizeof(z) - 1)

/* xb_dec_put_escaped into at most 6 * v.n bytes at o; the end */
char *xb_dec_w_escaped(char *o, xb_str v, unsigned mask, int gt_after_brackets);


/* ---- csrc/serialize.c: exact mode (lexical section checks, serialization) ---- */
static inline int xb_starts_with(const char *p, size_t n, size_t i, const char *z)
{
    size_t m = strlen(z);
    return n - i >= m && memcmp(p + i, z, m) == 0;
}

/* Lexical slots (lexical.py:slots) are visited with a cursor instead of a list. */
typedef struct {
    size_t k;      /* event */
    size_t depth;  /* open elements before event k */
    uint64_t base; /* number of the first slot of event k */
} xb_slot_cursor;

static inline uint64_t xb_event_slots(const xb_dec *d, size_t k, size_t depth)
{
    const xb_event *e = &d->ev[k];
    switch (e->type) {
    case EV_S:
        return 4 * (uint64_t)e->nitems + 1 + (k + 1 < d->nev && d->ev[k + 1].type == EV_E);
    case EV_E:
        return 1;
    case EV_T:
        return depth > 0;
    default:
        return 0;
    }
}

/* (kind, event, item) of slot idx >= the cursor's base */
void xb_cursor_seek(const xb_dec *d, xb_slot_cursor *c, uint64_t idx, int *kind, size_t *k, size_t *item);
/* the deviation of slot (deviations are in slot order, *dc the first not yet
 * passed), or NULL */
const xb_dev *xb_dev_at(const xb_dec *d, size_t *dc, uint64_t slot);
/* _XMLDECL_RE.match(s, i): the end of the match or -1, and the encoding name */
long xb_match_xmldecl(xb_str s, size_t i, xb_str *enc);
/* s equals the lower-case z, ASCII letters compared without case */
int xb_ascii_ieq(xb_str s, const char *z);
/* unescape(raw, attr) == target; -1 out of memory */
int xb_unescape_eq(xb_dec *d, xb_str raw, int attr, xb_str target);
/* the output of an exact message from its events, items and deviations */
int xb_serialize(xb_dec *d);

#endif
