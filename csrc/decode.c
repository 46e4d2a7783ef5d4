/*
 * xmppbin decoder: a C port of the reference decoder xmppbin/decoder.py.
 *
 * Every check of the reference is made in the same order against the same
 * bit position, so the error code and byte offset are identical for every
 * input; the comments name the Python function each part mirrors.
 *
 * Memory: strings produced while decoding live in a chunked arena (freed as a
 * whole); events, attribute items, the string history, namespace bindings and
 * the output are growing arrays. Nothing is allocated per node.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xb_dict.h"
#include "xmppbin.h"

#if defined(__GNUC__)
#define XB_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define XB_PRINTF(a, b)
#endif

#define TRY(x)                                                                                             \
    do {                                                                                                   \
        int rc_ = (x);                                                                                     \
        if (rc_)                                                                                           \
            return rc_;                                                                                    \
    } while (0)

static const char XML_NS[] = "http://www.w3.org/XML/1998/namespace";
static const char XMLNS_NS[] = "http://www.w3.org/2000/xmlns/";
static const xb_str EMPTY = {"", 0};
static const xb_str NONE = {NULL, 0}; /* "no string" (Python None), only in the indentation memory */

/* ---- state ------------------------------------------------------------------ */
typedef struct {
    char *p;
    size_t n, cap;
} xb_buf;

enum { EV_S = 'S', EV_E = 'E', EV_T = 'T', EV_C = 'C', EV_P = 'P' };

typedef struct {
    int type;
    uint32_t nitems; /* S: attribute items items[first .. first + nitems) */
    size_t first;
    xb_str s; /* S, E: element qname; T, C, P: text */
} xb_event;

typedef struct {
    xb_str qname;
    xb_str value;
} xb_item;

typedef struct {
    xb_str prefix;
    xb_str uri;
} xb_bind;

typedef struct {
    xb_str name;
    int16_t text_ctx;
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
    /* input and bit reader (xmppbin/bits.py:BitReader) */
    const uint8_t *data;
    size_t len;
    uint64_t pos, end; /* in bits */
    const xb_decode_options *opt;
    xb_result *res;
    const xb_dictionary *dict;
    int exact, kind;
    uint64_t produced;
    /* arena */
    xb_chunk *chunk;
    size_t chunk_size;
    /* growing arrays */
    xb_str *hist;
    size_t nhist, cap_hist;
    xb_event *ev;
    size_t nev, cap_ev;
    xb_item *items;
    size_t nitems, cap_items;
    xb_bind *binds;
    size_t nbinds, cap_binds;
    xb_elem *elems;
    size_t nelems, cap_elems;
    uint8_t *ctx; /* node context per depth: ctx[0 .. nelems] */
    size_t cap_ctx;
    xb_str *ws; /* indentation memory per depth */
    size_t nws, cap_ws;
    xb_kitem *kitems; /* generic start tag being read */
    size_t nkitems, cap_kitems;
    xb_str *pa, *pb; /* duplicate detection: pairs */
    size_t cap_pa, cap_pb;
    size_t *hset;
    size_t cap_hset;
    xb_dev *devs;
    size_t ndevs, cap_devs;
    uint8_t *oc; /* serialize: per open element, was it self-closed? */
    size_t cap_oc;
    const xb_key *cache[XB_SHAPE_CACHE];
    size_t ncache;
    xb_buf tmp; /* literal bytes */
    xb_buf utmp; /* unescape output */
    xb_buf out;
    uint64_t out_total;
    /* exact mode */
    xb_style st;
    xb_str prolog;
} xb_dec;

/* ---- errors ----------------------------------------------------------------- */
XB_PRINTF(5, 6)
static int seterr(xb_dec *d, int code, size_t offset, int limit, const char *fmt, ...)
{
    va_list ap;
    d->res->error = code;
    d->res->offset = offset;
    d->res->limit = limit;
    va_start(ap, fmt);
    vsnprintf(d->res->message, sizeof(d->res->message), fmt, ap);
    va_end(ap);
    return code;
}

#define OFFSET(d) ((size_t)((d)->pos >> 3))
#define FAIL(d, ...) seterr((d), XB_ERR_INVALID, OFFSET(d), XB_LIMIT_NONE, __VA_ARGS__)
#define LIMIT(d, which, ...) seterr((d), XB_ERR_LIMIT, OFFSET(d), (which), __VA_ARGS__)

static int truncated(xb_dec *d)
{
    return seterr(d, XB_ERR_TRUNCATED, d->len, XB_LIMIT_NONE, "message is truncated");
}

static int nomem(xb_dec *d)
{
    return seterr(d, XB_ERR_NOMEM, OFFSET(d), XB_LIMIT_NONE, "out of memory");
}

/* A printable excerpt of s for messages. */
static int excerpt_len(xb_str s)
{
    return (int)(s.n > 60 ? 60 : s.n);
}

/* ---- memory ----------------------------------------------------------------- */
/* Grow an array to hold at least need elements (capacity doubles). */
static void *grow_array(void *p, size_t *cap, size_t need, size_t elsize)
{
    size_t c = *cap ? *cap : 16;
    void *q;
    while (c < need) {
        if (c > SIZE_MAX / 2)
            return NULL;
        c *= 2;
    }
    if (c > SIZE_MAX / elsize)
        return NULL;
    q = realloc(p, c * elsize);
    if (q)
        *cap = c;
    return q;
}

#define RESERVE(arr, cap, need)                                                                            \
    do {                                                                                                   \
        if ((need) > (cap)) {                                                                              \
            void *np_ = grow_array((arr), &(cap), (need), sizeof(*(arr)));                                 \
            if (!np_)                                                                                      \
                return nomem(d);                                                                           \
            (arr) = np_;                                                                                   \
        }                                                                                                  \
    } while (0)

static int buf_reserve(xb_buf *b, size_t extra)
{
    size_t need, c;
    char *p;
    if (b->cap - b->n >= extra)
        return 0;
    if (extra > SIZE_MAX - b->n)
        return -1;
    need = b->n + extra;
    c = b->cap ? b->cap : 256;
    while (c < need) {
        if (c > SIZE_MAX / 2) {
            c = need;
            break;
        }
        c *= 2;
    }
    p = realloc(b->p, c);
    if (!p)
        return -1;
    b->p = p;
    b->cap = c;
    return 0;
}

/* n bytes from the arena; align is 1 or 16. NULL when out of memory. */
static void *arena_alloc(xb_dec *d, size_t n, size_t align)
{
    xb_chunk *c = d->chunk, *nc;
    size_t cap;
    if (n == 0)
        n = 1;
    if (c && align > 1)
        c->used = (c->used + 15u) & ~(size_t)15u;
    if (c && c->used <= c->cap && c->cap - c->used >= n) {
        void *p = (char *)c + CHUNK_HDR + c->used;
        c->used += n;
        return p;
    }
    if (n > SIZE_MAX - CHUNK_HDR - 16)
        return NULL;
    if (c && n > d->chunk_size / 4) {
        /* a dedicated chunk, kept behind the current one */
        nc = malloc(CHUNK_HDR + n);
        if (!nc)
            return NULL;
        nc->cap = nc->used = n;
        nc->next = c->next;
        c->next = nc;
        return (char *)nc + CHUNK_HDR;
    }
    cap = d->chunk_size;
    if (cap < n)
        cap = n;
    if (d->chunk_size < CHUNK_MAX)
        d->chunk_size *= 2;
    nc = malloc(CHUNK_HDR + cap);
    if (!nc)
        return NULL;
    nc->cap = cap;
    nc->used = n;
    nc->next = c;
    d->chunk = nc;
    return (char *)nc + CHUNK_HDR;
}

/* A new string of the concatenation of up to three parts. */
static int concat3(xb_dec *d, xb_str a, xb_str b, xb_str c, xb_str *out)
{
    char *p;
    size_t n;
    if (a.n > SIZE_MAX - b.n || a.n + b.n > SIZE_MAX - c.n)
        return nomem(d);
    n = a.n + b.n + c.n;
    p = arena_alloc(d, n, 1);
    if (!p)
        return nomem(d);
    if (a.n)
        memcpy(p, a.p, a.n);
    if (b.n)
        memcpy(p + a.n, b.p, b.n);
    if (c.n)
        memcpy(p + a.n + b.n, c.p, c.n);
    out->p = p;
    out->n = n;
    return 0;
}

static int str_eq(xb_str a, xb_str b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static int str_eqz(xb_str a, const char *z)
{
    size_t n = strlen(z);
    return a.n == n && memcmp(a.p, z, n) == 0;
}

static int str_contains(xb_str s, const char *z)
{
    size_t n = strlen(z), i;
    if (n > s.n)
        return 0;
    for (i = 0; i + n <= s.n; i++)
        if (s.p[i] == z[0] && memcmp(s.p + i, z, n) == 0)
            return 1;
    return 0;
}

/* ---- bit reader (xmppbin/bits.py:BitReader) -------------------------------- */
/* The next 32 bits, zeros past the end of the data. */
static inline uint32_t peek32(const xb_dec *d)
{
    size_t byte = (size_t)(d->pos >> 3);
    unsigned sh = (unsigned)(d->pos & 7);
    uint64_t v = 0;
    size_t i;
    if (byte + 8 <= d->len) {
        const uint8_t *p = d->data + byte;
        v = ((uint64_t)p[0] << 56) | ((uint64_t)p[1] << 48) | ((uint64_t)p[2] << 40) | ((uint64_t)p[3] << 32) |
            ((uint64_t)p[4] << 24) | ((uint64_t)p[5] << 16) | ((uint64_t)p[6] << 8) | (uint64_t)p[7];
    } else {
        for (i = 0; i < 8; i++)
            v = (v << 8) | (byte + i < d->len ? d->data[byte + i] : 0u);
    }
    return (uint32_t)((v << sh) >> 32);
}

/* read(n), n <= 32 */
static int read_bits(xb_dec *d, unsigned n, uint32_t *out)
{
    if (d->pos + n > d->end)
        return truncated(d);
    *out = n ? peek32(d) >> (32 - n) : 0;
    d->pos += n;
    return 0;
}

/* read(n), n <= 64 */
static int read_bits64(xb_dec *d, unsigned n, uint64_t *out)
{
    uint32_t hi = 0, lo = 0;
    if (d->pos + n > d->end)
        return truncated(d);
    if (n <= 32) {
        TRY(read_bits(d, n, &lo));
        *out = lo;
        return 0;
    }
    TRY(read_bits(d, n - 32, &hi));
    TRY(read_bits(d, 32, &lo));
    *out = ((uint64_t)hi << 32) | lo;
    return 0;
}

/* sym(code): the reference reads bit by bit, so a code running past the end
 * is TruncatedError, and a bit string matching no code (only possible for an
 * incomplete code) is InvalidDataError after maxlen bits. */
static inline int read_sym(xb_dec *d, const xb_hcode *c, uint32_t *sym)
{
    uint32_t bits = peek32(d);
    uint16_t e = c->lut[bits >> (32 - XB_LUT_BITS)];
    unsigned ln;
    if (e) {
        ln = e & 15u;
        if (d->pos + ln > d->end)
            return truncated(d);
        d->pos += ln;
        *sym = (uint32_t)e >> 4;
        return 0;
    }
    for (ln = XB_LUT_BITS + 1; ln <= c->maxlen; ln++) {
        uint32_t code = bits >> (32 - ln);
        if (code >= c->first[ln] && code - c->first[ln] < c->count[ln]) {
            if (d->pos + ln > d->end)
                return truncated(d);
            d->pos += ln;
            *sym = c->sorted[c->offset[ln] + (code - c->first[ln])];
            return 0;
        }
    }
    if (d->pos + c->maxlen > d->end)
        return truncated(d);
    d->pos += c->maxlen;
    return FAIL(d, "invalid Huffman code");
}

static unsigned clz32(uint32_t x)
{
#if defined(__GNUC__)
    return (unsigned)__builtin_clz(x);
#else
    unsigned n = 0;
    while (!(x & 0x80000000u)) {
        x <<= 1;
        n++;
    }
    return n;
#endif
}

/* gamma(): Elias gamma code of a value in 1 .. 2**32-1 */
static int read_gamma(xb_dec *d, uint32_t *out)
{
    uint32_t bits = peek32(d), v = 0;
    unsigned z;
    if (bits == 0) {
        /* 32 zero bits: too large if they are all in the data */
        if (d->pos + XB_MAX_GAMMA_BITS > d->end)
            return truncated(d);
        d->pos += XB_MAX_GAMMA_BITS;
        return FAIL(d, "Elias-gamma value too large");
    }
    z = clz32(bits); /* the 1 bit is real data: padding is zero */
    d->pos += z + 1;
    TRY(read_bits(d, z, &v));
    *out = (z ? (uint32_t)1 << z : 1u) | v;
    return 0;
}

/* ---- characters (xmppbin/xmlscan.py) --------------------------------------- */
static int char_class(int b)
{
    if (b < 0)
        return 0;
    if (b >= 0x61 && b <= 0x7A)
        return 1;
    if (b >= 0x41 && b <= 0x5A)
        return 2;
    if (b >= 0x30 && b <= 0x39)
        return 3;
    if (b == 0x20)
        return 4;
    if (b == 0x2E)
        return 5;
    if (b == 0x2F)
        return 6;
    if (b == 0x3A)
        return 7;
    if (b == 0x2D || b == 0x5F)
        return 8;
    if (b == 0x40)
        return 9;
    if (b >= 0x80)
        return 11;
    return 10;
}

/* Next code point of a UTF-8 string at *i (strict, as Python's decoder);
 * -1 if the bytes there are not valid UTF-8. */
static int32_t utf8_next(const unsigned char *s, size_t n, size_t *i)
{
    size_t k = *i;
    unsigned c = s[k];
    uint32_t cp;
    size_t len, j;
    unsigned lo = 0x80, hi = 0xBF;
    if (c < 0x80) {
        *i = k + 1;
        return (int32_t)c;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return -1;
    }
    if (n - k < len)
        return -1;
    for (j = 1; j < len; j++) {
        unsigned b = s[k + j];
        if (b < (j == 1 ? lo : 0x80) || b > (j == 1 ? hi : 0xBF))
            return -1;
        cp = (cp << 6) | (b & 0x3F);
    }
    *i = k + len;
    return (int32_t)cp;
}

/* is_xml_char: Char of XML 1.0 */
static int is_xml_char(uint32_t c)
{
    if (c < 0x20)
        return c == 0x9 || c == 0xA || c == 0xD;
    return c <= 0xD7FF || (c >= 0xE000 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0x10FFFF);
}

/* 0 ok, 1 invalid UTF-8, 2 character not allowed in XML (check_chars) */
static int check_utf8_xml(const char *p, size_t n)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t i = 0;
    int bad_char = 0;
    while (i < n) {
        int32_t c;
        if (s[i] >= 0x20 && s[i] < 0x80) {
            i++;
            continue;
        }
        c = utf8_next(s, n, &i);
        if (c < 0)
            return 1; /* decoding fails before characters are checked */
        if (!is_xml_char((uint32_t)c))
            bad_char = 1;
    }
    return bad_char ? 2 : 0;
}

static int is_name_start(uint32_t c)
{
    if (c < 0x80)
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
    return (c >= 0xC0 && c <= 0xD6) || (c >= 0xD8 && c <= 0xF6) || (c >= 0xF8 && c <= 0x2FF) ||
           (c >= 0x370 && c <= 0x37D) || (c >= 0x37F && c <= 0x1FFF) || (c >= 0x200C && c <= 0x200D) ||
           (c >= 0x2070 && c <= 0x218F) || (c >= 0x2C00 && c <= 0x2FEF) || (c >= 0x3001 && c <= 0xD7FF) ||
           (c >= 0xF900 && c <= 0xFDCF) || (c >= 0xFDF0 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0xEFFFF);
}

static int is_name_char(uint32_t c)
{
    return is_name_start(c) || c == '-' || c == '.' || (c >= '0' && c <= '9') || c == 0xB7 ||
           (c >= 0x300 && c <= 0x36F) || (c >= 0x203F && c <= 0x2040);
}

/* is_ncname (colon = 0) and is_name (colon = 1) */
static int is_name(xb_str s, int colon)
{
    const unsigned char *p = (const unsigned char *)s.p;
    size_t i = 0;
    int first = 1;
    if (s.n == 0)
        return 0;
    while (i < s.n) {
        int32_t c = utf8_next(p, s.n, &i);
        if (c < 0)
            return 0;
        if (!(colon && c == ':') && !(first ? is_name_start((uint32_t)c) : is_name_char((uint32_t)c)))
            return 0;
        first = 0;
    }
    return 1;
}

/* ---- values (_Decoder._value / value / count) ----------------------------- */
static int count(xb_dec *d, size_t n)
{
    d->produced += n;
    if (d->produced > d->opt->max_size)
        return LIMIT(d, XB_LIMIT_MAX_SIZE, "output exceeds max_size=%lu", (unsigned long)d->opt->max_size);
    return 0;
}

static int too_long(xb_dec *d)
{
    return LIMIT(d, XB_LIMIT_MAX_STRING, "string longer than max_string=%lu", (unsigned long)d->opt->max_string);
}

static const char HEX_L[] = "0123456789abcdef";
static const char HEX_U[] = "0123456789ABCDEF";
static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int value_(xb_dec *d, unsigned vctx, xb_str *out);

static int read_literal(xb_dec *d, xb_str *out)
{
    const xb_hcode *cc = d->dict->codes[XB_T_CHAR];
    uint32_t max_string = d->opt->max_string;
    int prev = -1, chk;
    char *p;
    d->tmp.n = 0;
    for (;;) {
        uint32_t b = 0;
        TRY(read_sym(d, &cc[char_class(prev)], &b));
        if (b == 0)
            break;
        if (d->tmp.n + 1 > max_string)
            return too_long(d);
        if (buf_reserve(&d->tmp, 1))
            return nomem(d);
        d->tmp.p[d->tmp.n++] = (char)b;
        prev = (int)b;
    }
    chk = check_utf8_xml(d->tmp.p ? d->tmp.p : "", d->tmp.n);
    if (chk == 1)
        return FAIL(d, "string is not valid UTF-8");
    if (chk == 2)
        return FAIL(d, "string contains a character not allowed in XML");
    p = arena_alloc(d, d->tmp.n, 1);
    if (!p)
        return nomem(d);
    if (d->tmp.n)
        memcpy(p, d->tmp.p, d->tmp.n);
    out->p = p;
    out->n = d->tmp.n;
    return 0;
}

static int read_int(xb_dec *d, xb_str *out)
{
    uint32_t g = 0;
    uint64_t bl, v = 0;
    char tmp[24], *p;
    size_t n = 0, i;
    TRY(read_gamma(d, &g));
    bl = (uint64_t)g - 1;
    if (bl > XB_INT_MAX_BITS)
        return FAIL(d, "integer longer than 64 bits");
    if (bl > 0) {
        uint64_t lo = 0;
        TRY(read_bits64(d, (unsigned)(bl - 1), &lo));
        v = ((uint64_t)1 << (bl - 1)) | lo;
    }
    do {
        tmp[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    p = arena_alloc(d, n, 1);
    if (!p)
        return nomem(d);
    for (i = 0; i < n; i++)
        p[i] = tmp[n - 1 - i];
    out->p = p;
    out->n = n;
    return 0;
}

/* n hex digits from 4n bits (the caller has checked that they are there) */
static void read_hex_digits(xb_dec *d, char *p, uint64_t n, const char *digits)
{
    uint64_t i;
    for (i = 0; i < n; i++) {
        p[i] = digits[peek32(d) >> 28];
        d->pos += 4;
    }
}

static int read_uuid(xb_dec *d, int upper, xb_str *out)
{
    char hex[32], *p;
    int i, k = 0;
    if (d->pos + 128 > d->end)
        return truncated(d);
    read_hex_digits(d, hex, 32, upper ? HEX_U : HEX_L);
    p = arena_alloc(d, 36, 1);
    if (!p)
        return nomem(d);
    for (i = 0; i < 32; i++) {
        if (i == 8 || i == 12 || i == 16 || i == 20)
            p[k++] = '-';
        p[k++] = hex[i];
    }
    out->p = p;
    out->n = 36;
    return 0;
}

static int read_hex(xb_dec *d, int upper, xb_str *out)
{
    uint32_t g = 0;
    uint64_t n;
    char *p;
    TRY(read_gamma(d, &g));
    n = (uint64_t)g + XB_HEX_MIN - 1;
    if (n > d->opt->max_string)
        return too_long(d);
    if (d->pos + 4 * n > d->end)
        return truncated(d);
    p = arena_alloc(d, (size_t)n, 1);
    if (!p)
        return nomem(d);
    read_hex_digits(d, p, n, upper ? HEX_U : HEX_L);
    out->p = p;
    out->n = (size_t)n;
    return 0;
}

static int read_b64(xb_dec *d, xb_str *out)
{
    uint32_t g = 0;
    uint64_t n, olen, i;
    char *p;
    size_t k = 0;
    TRY(read_gamma(d, &g));
    n = g;
    olen = (n + 2) / 3 * 4;
    if (olen > d->opt->max_string)
        return too_long(d);
    if (d->pos + 8 * n > d->end)
        return truncated(d);
    p = arena_alloc(d, (size_t)olen, 1);
    if (!p)
        return nomem(d);
    for (i = 0; i < n; i += 3) {
        uint32_t b0 = peek32(d) >> 24, b1 = 0, b2 = 0;
        d->pos += 8;
        if (i + 1 < n) {
            b1 = peek32(d) >> 24;
            d->pos += 8;
        }
        if (i + 2 < n) {
            b2 = peek32(d) >> 24;
            d->pos += 8;
        }
        p[k++] = B64[b0 >> 2];
        p[k++] = B64[((b0 & 3) << 4) | (b1 >> 4)];
        p[k++] = i + 1 < n ? B64[((b1 & 15) << 2) | (b2 >> 6)] : '=';
        p[k++] = i + 2 < n ? B64[b2 & 63] : '=';
    }
    out->p = p;
    out->n = (size_t)olen;
    return 0;
}

/* any of model.JID_WS in s (NONE: no) */
static int has_jid_ws(xb_str s)
{
    size_t i;
    for (i = 0; i < s.n; i++)
        if (s.p[i] == ' ' || s.p[i] == '\t' || s.p[i] == '\r' || s.p[i] == '\n')
            return 1;
    return 0;
}

static int read_jid(xb_dec *d, uint32_t s, unsigned vctx, xb_str *out)
{
    xb_str local = NONE, domain = EMPTY, res = NONE;
    xb_str at = {"@", 1}, slash = {"/", 1};
    if (vctx == XB_VC_JID_LOCAL || vctx == XB_VC_JID_DOMAIN || vctx == XB_VC_JID_RESOURCE)
        return FAIL(d, "JID inside a JID part");
    if (s != XB_V_JID_DR)
        TRY(value_(d, XB_VC_JID_LOCAL, &local));
    TRY(value_(d, XB_VC_JID_DOMAIN, &domain));
    if (s != XB_V_JID_LD)
        TRY(value_(d, XB_VC_JID_RESOURCE, &res));
    if ((local.p && (!local.n || memchr(local.p, '@', local.n) || memchr(local.p, '/', local.n))) || !domain.n ||
        memchr(domain.p, '/', domain.n) || (res.p && !res.n) || has_jid_ws(local) || has_jid_ws(domain) ||
        has_jid_ws(res))
        return FAIL(d, "JID parts that do not split back the same way");
    if (s == XB_V_JID_LD)
        return concat3(d, local, at, domain, out);
    if (s == XB_V_JID_DR)
        return concat3(d, domain, slash, res, out);
    {
        xb_str a = EMPTY;
        TRY(concat3(d, local, at, domain, &a));
        return concat3(d, a, slash, res, out);
    }
}

/* _value(vctx): one string, without counting it towards max_size */
static int value_(xb_dec *d, unsigned vctx, xb_str *out)
{
    uint32_t s = 0;
    xb_str r = EMPTY;
    TRY(read_sym(d, &d->dict->codes[XB_T_VALUE][vctx], &s));
    if (s == XB_V_EMPTY) {
        *out = EMPTY;
        return 0;
    }
    if (s >= XB_V_REF && s <= XB_V_REF_FAR) {
        uint64_t i;
        if (s < XB_V_REF_FAR) {
            i = s - XB_V_REF;
        } else {
            uint32_t g = 0;
            TRY(read_gamma(d, &g));
            i = (uint64_t)g + XB_REF_NEAR - 1;
        }
        if (i >= d->nhist)
            return FAIL(d, "reference to string %llu of %llu", (unsigned long long)i,
                        (unsigned long long)d->nhist);
        *out = d->hist[d->nhist - 1 - i];
        return 0;
    }
    if (s >= XB_V_TOKEN) {
        *out = d->dict->values[s - XB_V_TOKEN];
        return 0;
    }
    switch (s) {
    case XB_V_LIT:
        TRY(read_literal(d, &r));
        break;
    case XB_V_INT:
        TRY(read_int(d, &r));
        break;
    case XB_V_UUID_L:
    case XB_V_UUID_U:
        TRY(read_uuid(d, s == XB_V_UUID_U, &r));
        break;
    case XB_V_HEX_L:
    case XB_V_HEX_U:
        TRY(read_hex(d, s == XB_V_HEX_U, &r));
        break;
    case XB_V_B64:
        TRY(read_b64(d, &r));
        break;
    default: /* JID */
        TRY(read_jid(d, s, vctx, &r));
        break;
    }
    /* len(out) > max_string // 4 and len(out.encode()) > max_string */
    if (r.n > d->opt->max_string)
        return too_long(d);
    RESERVE(d->hist, d->cap_hist, d->nhist + 1);
    d->hist[d->nhist++] = r;
    *out = r;
    return 0;
}

/* check_len: max_string applies to every string of the infoset */
static int check_len(xb_dec *d, xb_str s)
{
    if (s.n > d->opt->max_string)
        return too_long(d);
    return 0;
}

static int value(xb_dec *d, unsigned vctx, xb_str *out)
{
    TRY(value_(d, vctx, out));
    TRY(check_len(d, *out));
    return count(d, out->n);
}

/* A string of a generic start tag: checked like any value, but counted toward
 * max_size with the start tag (as for names from shapes), not here. */
static int tag_string(xb_dec *d, unsigned vctx, xb_str *out)
{
    TRY(value_(d, vctx, out));
    return check_len(d, *out);
}

static int ncname(xb_dec *d, unsigned vctx, const char *what, xb_str *out)
{
    TRY(tag_string(d, vctx, out));
    if (!is_name(*out, 0))
        return FAIL(d, "invalid %s '%.*s'", what, excerpt_len(*out), out->p);
    return 0;
}

/* ---- names ------------------------------------------------------------------ */
static int read_prefix(xb_dec *d, xb_str *out)
{
    uint32_t s = 0;
    TRY(read_sym(d, &d->dict->codes[XB_T_PREFIX][0], &s));
    if (s == XB_P_LITERAL)
        return ncname(d, XB_VC_NAME, "prefix", out);
    *out = d->dict->prefixes[s - 1];
    return 0;
}

static int read_name(xb_dec *d, unsigned ctx, xb_str *out)
{
    uint32_t s = 0;
    TRY(read_sym(d, &d->dict->codes[XB_T_NAME][ctx], &s));
    if (s == XB_NM_LITERAL)
        return ncname(d, XB_VC_NAME, "name", out);
    *out = d->dict->names[s - 1];
    return 0;
}

static int read_ns(xb_dec *d, xb_str *out)
{
    uint32_t s = 0;
    TRY(read_sym(d, &d->dict->codes[XB_T_NS][0], &s));
    if (s == XB_NS_LITERAL)
        return tag_string(d, XB_VC_NSURI, out);
    *out = d->dict->namespaces[s - 1];
    return 0;
}

static int16_t attr_ctx_of(const xb_dictionary *dict, xb_str q)
{
    return (int16_t)xb_lookup(dict->attr_contexts, dict->attr_contexts_sorted, dict->nattr_contexts, q.p, q.n);
}

static int push_kitem(xb_dec *d, int is_ns, xb_str qname, xb_str uri)
{
    xb_kitem *it;
    RESERVE(d->kitems, d->cap_kitems, d->nkitems + 1);
    it = &d->kitems[d->nkitems++];
    it->is_ns = (uint8_t)is_ns;
    it->attr_ctx = is_ns ? -1 : attr_ctx_of(d->dict, qname);
    it->qname = qname;
    it->uri = uri;
    return 0;
}

/* generic_start(): a start tag spelled out */
static int generic_start(xb_dec *d, const xb_key **out)
{
    const xb_hcode *acode = &d->dict->codes[XB_T_AITEM][0];
    uint32_t max_attr = d->opt->max_attributes;
    xb_str pfx = EMPTY, local = EMPTY, name = EMPTY, colon = {":", 1}, xmlns_colon = {"xmlns:", 6};
    xb_key *key;
    xb_kitem *items;
    TRY(read_prefix(d, &pfx));
    TRY(read_name(d, XB_NMC_ELEMENT, &local));
    if (pfx.n)
        TRY(concat3(d, pfx, colon, local, &name));
    else
        name = local;
    d->nkitems = 0;
    for (;;) {
        uint32_t s = 0;
        xb_str p = EMPTY, v = EMPTY, q = EMPTY;
        TRY(read_sym(d, acode, &s));
        if (s == XB_A_END)
            break;
        if ((uint64_t)d->nkitems + 1 > max_attr)
            return LIMIT(d, XB_LIMIT_MAX_ATTRIBUTES, "more than max_attributes=%lu attributes",
                         (unsigned long)max_attr);
        switch (s) {
        case XB_A_XMLNS:
            TRY(read_ns(d, &v));
            TRY(push_kitem(d, 1, (xb_str){"xmlns", 5}, v));
            break;
        case XB_A_XMLNS_PREFIX:
            TRY(read_prefix(d, &p));
            if (!p.n)
                return FAIL(d, "empty prefix in a prefixed namespace declaration");
            TRY(read_ns(d, &v));
            TRY(concat3(d, xmlns_colon, p, EMPTY, &q));
            TRY(push_kitem(d, 1, q, v));
            break;
        case XB_A_PREFIXED:
            TRY(read_prefix(d, &p));
            if (!p.n || str_eqz(p, "xmlns"))
                return FAIL(d, "invalid attribute prefix");
            TRY(read_name(d, XB_NMC_ATTR, &local));
            TRY(concat3(d, p, colon, local, &q));
            TRY(push_kitem(d, 0, q, EMPTY));
            break;
        default:
            if (s == XB_A_LITERAL)
                TRY(ncname(d, XB_VC_NAME, "attribute name", &q));
            else
                q = d->dict->names[s - XB_A_NAME];
            if (str_eqz(q, "xmlns"))
                return FAIL(d, "namespace declaration coded as an attribute");
            TRY(push_kitem(d, 0, q, EMPTY));
            break;
        }
    }
    key = arena_alloc(d, sizeof(xb_key), 16);
    items = arena_alloc(d, sizeof(xb_kitem) * (d->nkitems ? d->nkitems : 1), 16);
    if (!key || !items)
        return nomem(d);
    if (d->nkitems)
        memcpy(items, d->kitems, sizeof(xb_kitem) * d->nkitems);
    key->name = name;
    key->text_ctx =
        (int16_t)xb_lookup(d->dict->text_contexts, d->dict->text_contexts_sorted, d->dict->ntext_contexts, name.p, name.n);
    key->nitems = (uint32_t)d->nkitems;
    key->items = items;
    *out = key;
    return 0;
}

/* ---- namespaces (xmlscan.py:resolve_start) -------------------------------- */
static uint64_t hash_pair(xb_str a, xb_str b)
{
    uint64_t h = 1469598103934665603ull;
    size_t i;
    for (i = 0; i < a.n; i++)
        h = (h ^ (unsigned char)a.p[i]) * 1099511628211ull;
    h = (h ^ 0x100u) * 1099511628211ull;
    for (i = 0; i < b.n; i++)
        h = (h ^ (unsigned char)b.p[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

/* Index of the first pair (pa[k], pb[k]), k < n, equal to an earlier one, or n. */
static int first_dup(xb_dec *d, size_t n, size_t *res)
{
    size_t k, j, mask, size;
    if (n <= 16) {
        for (k = 1; k < n; k++)
            for (j = 0; j < k; j++)
                if (str_eq(d->pa[k], d->pa[j]) && str_eq(d->pb[k], d->pb[j])) {
                    *res = k;
                    return 0;
                }
        *res = n;
        return 0;
    }
    size = 64;
    while (size < 2 * n) {
        if (size > SIZE_MAX / 4)
            return nomem(d);
        size *= 2;
    }
    RESERVE(d->hset, d->cap_hset, size);
    memset(d->hset, 0, size * sizeof(size_t));
    mask = size - 1;
    for (k = 0; k < n; k++) {
        size_t h = (size_t)hash_pair(d->pa[k], d->pb[k]) & mask;
        for (;;) {
            size_t e = d->hset[h];
            if (e == 0) {
                d->hset[h] = k + 1;
                break;
            }
            if (str_eq(d->pa[k], d->pa[e - 1]) && str_eq(d->pb[k], d->pb[e - 1])) {
                *res = k;
                return 0;
            }
            h = (h + 1) & mask;
        }
    }
    *res = n;
    return 0;
}

/* The URI bound to a prefix in the current scope, or NONE. */
static xb_str lookup_prefix(const xb_dec *d, xb_str pfx)
{
    size_t i = d->nbinds;
    while (i > 0) {
        i--;
        if (str_eq(d->binds[i].prefix, pfx))
            return d->binds[i].uri;
    }
    return NONE;
}

static int is_xmlns_attr(xb_str a)
{
    return (a.n == 5 && memcmp(a.p, "xmlns", 5) == 0) || (a.n >= 6 && memcmp(a.p, "xmlns:", 6) == 0);
}

/* rpartition(":") */
static void split_qname(xb_str a, xb_str *pfx, xb_str *local)
{
    size_t i = a.n;
    while (i > 0 && a.p[i - 1] != ':')
        i--;
    if (i == 0) {
        *pfx = EMPTY;
        *local = a;
    } else {
        pfx->p = a.p;
        pfx->n = i - 1;
        local->p = a.p + i;
        local->n = a.n - i;
    }
}

/* Check a start tag and push its namespace declarations onto the bindings.
 * Every error is reported at the current offset (the reference's self.fail). */
static int resolve_start(xb_dec *d, xb_str name, const xb_item *items, size_t n)
{
    size_t k, dup, m, unbound;
    xb_str pfx, local;
    RESERVE(d->pa, d->cap_pa, n + 1);
    RESERVE(d->pb, d->cap_pb, n + 1);
    for (k = 0; k < n; k++) {
        d->pa[k] = items[k].qname;
        d->pb[k] = EMPTY;
    }
    TRY(first_dup(d, n, &dup));
    for (k = 0; k < n; k++) {
        xb_str a = items[k].qname, v = items[k].value;
        if (k == dup)
            return FAIL(d, "duplicate attribute %.*s", excerpt_len(a), a.p);
        if (is_xmlns_attr(a)) {
            pfx.p = a.p + (a.n > 5 ? 6 : 5);
            pfx.n = a.n > 5 ? a.n - 6 : 0;
            if (str_eqz(pfx, "xmlns"))
                return FAIL(d, "the prefix 'xmlns' cannot be declared");
            if (str_eqz(pfx, "xml") && !str_eqz(v, XML_NS))
                return FAIL(d, "the prefix 'xml' cannot be rebound");
            if (!str_eqz(pfx, "xml") && str_eqz(v, XML_NS))
                return FAIL(d, "the XML namespace cannot be bound to another prefix");
            if (str_eqz(v, XMLNS_NS))
                return FAIL(d, "the xmlns namespace cannot be declared");
            if (pfx.n && !v.n)
                return FAIL(d, "prefix %.*s cannot be undeclared in XML 1.0", excerpt_len(pfx), pfx.p);
            RESERVE(d->binds, d->cap_binds, d->nbinds + 1);
            d->binds[d->nbinds].prefix = pfx;
            d->binds[d->nbinds].uri = v;
            d->nbinds++;
        }
    }
    /* expanded names of the attributes, up to the first unbound prefix */
    m = 0;
    unbound = n;
    for (k = 0; k < n; k++) {
        xb_str a = items[k].qname;
        if (is_xmlns_attr(a))
            continue;
        split_qname(a, &pfx, &local);
        if (pfx.n) {
            xb_str uri = str_eqz(pfx, "xmlns") ? NONE : lookup_prefix(d, pfx);
            if (!uri.p) {
                unbound = k;
                break;
            }
            d->pa[m] = uri;
        } else {
            d->pa[m] = EMPTY;
        }
        d->pb[m] = local;
        m++;
    }
    TRY(first_dup(d, m, &dup));
    if (dup < m)
        return FAIL(d, "duplicate attribute %.*s (same namespace and name)", excerpt_len(d->pb[dup]), d->pb[dup].p);
    if (unbound < n) {
        split_qname(items[unbound].qname, &pfx, &local);
        return FAIL(d, "unbound prefix %.*s in attribute %.*s", excerpt_len(pfx), pfx.p,
                    excerpt_len(items[unbound].qname), items[unbound].qname.p);
    }
    split_qname(name, &pfx, &local);
    if (str_eqz(pfx, "xmlns"))
        return FAIL(d, "element prefix 'xmlns' is reserved");
    if (pfx.n && !lookup_prefix(d, pfx).p)
        return FAIL(d, "unbound prefix %.*s in element %.*s", excerpt_len(pfx), pfx.p, excerpt_len(name), name.p);
    return 0;
}

/* ---- structure (_Decoder.run) ---------------------------------------------- */
static int push_event(xb_dec *d, int type, xb_str s, size_t first, uint32_t nitems)
{
    xb_event *e;
    RESERVE(d->ev, d->cap_ev, d->nev + 1);
    e = &d->ev[d->nev++];
    e->type = type;
    e->s = s;
    e->first = first;
    e->nitems = nitems;
    return 0;
}

/* SP, TAB, CR, LF */
static int is_xml_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* s consists of SP/TAB/CR/LF only ([ \t\r\n]*) */
static int all_ws(xb_str s)
{
    size_t i;
    for (i = 0; i < s.n; i++)
        if (!is_xml_ws(s.p[i]))
            return 0;
    return 1;
}

/* model.is_ws_only: non-empty, SP/TAB/LF only */
static int is_ws_only(xb_str s)
{
    size_t i;
    for (i = 0; i < s.n; i++)
        if (s.p[i] != ' ' && s.p[i] != '\t' && s.p[i] != '\n')
            return 0;
    return s.n > 0;
}

static int text_node(xb_dec *d, uint32_t s, size_t depth, int *prev_text)
{
    xb_str v = NONE;
    int is_ws;
    if (*prev_text)
        return FAIL(d, "two adjacent text nodes");
    if (d->nws <= depth) {
        RESERVE(d->ws, d->cap_ws, depth + 1);
        while (d->nws <= depth)
            d->ws[d->nws++] = NONE;
    }
    if (s == XB_N_TEXT) {
        unsigned vctx = XB_VC_OTHER_TEXT;
        if (depth && d->elems[depth - 1].text_ctx >= 0)
            vctx = XB_VC_FIXED + (unsigned)d->dict->nattr_contexts + (unsigned)d->elems[depth - 1].text_ctx;
        TRY(value(d, vctx, &v));
        if (!v.n)
            return FAIL(d, "empty text node");
    } else {
        if (s == XB_N_WS_SAME) {
            v = d->ws[depth];
        } else if (depth == 0) {
            v = NONE;
        } else if (s == XB_N_WS_PARENT) {
            v = d->ws[depth - 1];
        } else {
            xb_str base = d->ws[depth - 1];
            v = NONE;
            if (base.p) {
                size_t k = s - XB_N_WS_DEEPER + 1;
                char *p = arena_alloc(d, base.n + k, 1);
                if (!p)
                    return nomem(d);
                if (base.n)
                    memcpy(p, base.p, base.n);
                memset(p + base.n, ' ', k);
                v.p = p;
                v.n = base.n + k;
            }
        }
        if (!v.p)
            return FAIL(d, "whitespace symbol without a predecessor");
        TRY(check_len(d, v));
        TRY(count(d, v.n));
    }
    is_ws = is_ws_only(v);
    if (is_ws)
        d->ws[depth] = v;
    if (depth == 0) {
        if (!d->exact || !all_ws(v))
            return FAIL(d, "text outside the root element");
    } else {
        d->ctx[depth] = is_ws ? XB_NC_AFTER_WS : XB_NC_AFTER_OTHER;
    }
    TRY(push_event(d, EV_T, v, 0, 0));
    *prev_text = 1;
    return 0;
}

static int misc_node(xb_dec *d, uint32_t s, size_t depth)
{
    xb_str v = EMPTY;
    if (!d->opt->allow_comments)
        return seterr(d, XB_ERR_RESTRICTED, OFFSET(d), XB_LIMIT_NONE, "%s not allowed (RFC 6120 11.1)",
                      s == XB_N_COMMENT ? "comment" : "processing instruction");
    TRY(value(d, XB_VC_MISC, &v));
    TRY(count(d, 1));
    if (s == XB_N_COMMENT) {
        if (str_contains(v, "--") || (v.n && v.p[v.n - 1] == '-'))
            return FAIL(d, "invalid comment text");
    } else {
        xb_str target = v;
        size_t i = 0;
        while (i < v.n && !is_xml_ws(v.p[i]))
            i++;
        target.n = i;
        if (!is_name(target, 1) || memchr(target.p, ':', target.n) ||
            (target.n == 3 && (target.p[0] | 0x20) == 'x' && (target.p[1] | 0x20) == 'm' &&
             (target.p[2] | 0x20) == 'l') ||
            str_contains(v, "?>") || (i < v.n && !is_xml_ws(v.p[i])))
            return FAIL(d, "invalid processing instruction");
    }
    TRY(push_event(d, s == XB_N_COMMENT ? EV_C : EV_P, v, 0, 0));
    if (depth)
        d->ctx[depth] = XB_NC_AFTER_OTHER;
    return 0;
}

/* returns 1 in *stop when a stream header's root start tag has been read */
static int element(xb_dec *d, uint32_t s, size_t depth, uint64_t *nelements, int *root_seen, int *stop)
{
    const xb_decode_options *o = d->opt;
    const xb_key *key = NULL;
    size_t first, k, bind_base;
    if (depth == 0 && *root_seen)
        return FAIL(d, "second root element");
    *nelements += 1;
    if (*nelements > o->max_elements)
        return LIMIT(d, XB_LIMIT_MAX_ELEMENTS, "more than max_elements=%lu elements", (unsigned long)o->max_elements);
    if ((uint64_t)depth + 1 > o->max_depth)
        return LIMIT(d, XB_LIMIT_MAX_DEPTH, "nesting deeper than max_depth=%lu", (unsigned long)o->max_depth);
    if (s == XB_N_GENERIC) {
        TRY(generic_start(d, &key));
        if (d->ncache == XB_SHAPE_CACHE)
            d->ncache--;
    } else if (s >= XB_N_SHAPE) {
        key = &d->dict->shapes[s - XB_N_SHAPE];
        if (key->nitems > o->max_attributes)
            return LIMIT(d, XB_LIMIT_MAX_ATTRIBUTES, "more than max_attributes=%lu attributes",
                         (unsigned long)o->max_attributes);
        if (d->ncache == XB_SHAPE_CACHE)
            d->ncache--;
    } else {
        size_t i = s - XB_N_LOCAL;
        if (i >= d->ncache)
            return FAIL(d, "shape cache entry %lu of %lu", (unsigned long)i, (unsigned long)d->ncache);
        key = d->cache[i];
        memmove(&d->cache[i], &d->cache[i + 1], (d->ncache - i - 1) * sizeof(d->cache[0]));
        d->ncache--;
    }
    memmove(&d->cache[1], &d->cache[0], d->ncache * sizeof(d->cache[0]));
    d->cache[0] = key;
    d->ncache++;
    /* names and dictionary strings count toward max_size like values */
    TRY(check_len(d, key->name));
    TRY(count(d, key->name.n + 1)); /* "<" name */
    first = d->nitems;
    RESERVE(d->items, d->cap_items, d->nitems + key->nitems);
    for (k = 0; k < key->nitems; k++) {
        const xb_kitem *it = &key->items[k];
        xb_item *out = &d->items[first + k];
        out->qname = it->qname;
        TRY(check_len(d, it->qname));
        if (it->is_ns) {
            TRY(check_len(d, it->uri));
            TRY(count(d, it->qname.n));
            TRY(count(d, it->uri.n));
            out->value = it->uri;
        } else {
            TRY(count(d, it->qname.n));
            unsigned vctx = it->attr_ctx >= 0 ? XB_VC_FIXED + (unsigned)it->attr_ctx : XB_VC_OTHER_ATTR;
            TRY(value(d, vctx, &out->value));
        }
    }
    d->nitems = first + key->nitems;
    bind_base = d->nbinds;
    TRY(resolve_start(d, key->name, &d->items[first], key->nitems));
    TRY(push_event(d, EV_S, key->name, first, key->nitems));
    *root_seen = 1;
    if (depth == 0 && d->kind == XB_KIND_STREAM_OPEN) {
        *stop = 1;
        return 0;
    }
    RESERVE(d->elems, d->cap_elems, d->nelems + 1);
    RESERVE(d->ctx, d->cap_ctx, d->nelems + 2);
    d->elems[d->nelems].name = key->name;
    d->elems[d->nelems].text_ctx = key->text_ctx;
    d->elems[d->nelems].bind_base = bind_base;
    d->nelems++;
    d->ctx[d->nelems] = XB_NC_START;
    return 0;
}

static int run(xb_dec *d)
{
    const xb_hcode *ncodes = d->dict->codes[XB_T_NODE];
    const xb_decode_options *o = d->opt;
    size_t i, off = 0;
    int root_seen = 0, prev_text = 0, stop = 0;
    uint64_t nelements = 0;

    /* scope0 = dict(context); scope0["xml"] = XML_NS */
    RESERVE(d->binds, d->cap_binds, o->context_count + 1);
    for (i = 0; i < o->context_count; i++) {
        size_t pl = o->context_lens[2 * i], ul = o->context_lens[2 * i + 1];
        d->binds[i].prefix.p = pl ? o->context_data + off : "";
        d->binds[i].prefix.n = pl;
        off += pl;
        d->binds[i].uri.p = ul ? o->context_data + off : "";
        d->binds[i].uri.n = ul;
        off += ul;
    }
    d->binds[i].prefix = (xb_str){"xml", 3};
    d->binds[i].uri = (xb_str){XML_NS, sizeof(XML_NS) - 1};
    d->nbinds = o->context_count + 1;

    RESERVE(d->ctx, d->cap_ctx, 1);
    d->ctx[0] = XB_NC_DOC;
    RESERVE(d->ws, d->cap_ws, 1);
    d->ws[0] = (xb_str){"\n", 1};
    d->nws = 1;

    for (;;) {
        size_t depth = d->nelems;
        uint32_t s = 0;
        TRY(read_sym(d, &ncodes[d->ctx[depth]], &s));
        if (s == XB_N_END) {
            if (depth == 0) {
                if (!root_seen)
                    return FAIL(d, "message has no root element");
                break;
            }
            TRY(push_event(d, EV_E, d->elems[depth - 1].name, 0, 0));
            d->nbinds = d->elems[depth - 1].bind_base;
            d->nelems--;
            if (depth > 1)
                d->ctx[depth - 1] = XB_NC_AFTER_ELEM;
            prev_text = 0;
        } else if (s <= XB_N_WS_DEEPER + XB_WS_DEEPER_MAX - 1) {
            TRY(text_node(d, s, depth, &prev_text));
        } else if (s == XB_N_COMMENT || s == XB_N_PI) {
            TRY(misc_node(d, s, depth));
            prev_text = 0;
        } else {
            TRY(element(d, s, depth, &nelements, &root_seen, &stop));
            prev_text = 0;
            if (stop)
                break;
        }
    }
    return 0;
}

/* ---- unescape (xmlscan.py:unescape) ---------------------------------------- */
static int put_utf8(xb_buf *b, uint32_t c)
{
    char t[4];
    size_t n;
    if (c < 0x80) {
        t[0] = (char)c;
        n = 1;
    } else if (c < 0x800) {
        t[0] = (char)(0xC0 | (c >> 6));
        t[1] = (char)(0x80 | (c & 0x3F));
        n = 2;
    } else if (c < 0x10000) {
        t[0] = (char)(0xE0 | (c >> 12));
        t[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        t[2] = (char)(0x80 | (c & 0x3F));
        n = 3;
    } else {
        t[0] = (char)(0xF0 | (c >> 18));
        t[1] = (char)(0x80 | ((c >> 12) & 0x3F));
        t[2] = (char)(0x80 | ((c >> 6) & 0x3F));
        t[3] = (char)(0x80 | (c & 0x3F));
        n = 4;
    }
    if (buf_reserve(b, n))
        return -1;
    memcpy(b->p + b->n, t, n);
    b->n += n;
    return 0;
}

/* Line-end normalization of raw[i:j] (and in attributes whitespace to spaces). */
static int put_normalized(xb_buf *b, const char *p, size_t i, size_t j, int attr)
{
    if (buf_reserve(b, j - i))
        return -1;
    for (; i < j; i++) {
        char c = p[i];
        if (c == '\r') {
            if (i + 1 < j && p[i + 1] == '\n')
                continue;
            c = '\n';
        }
        if (attr && (c == '\t' || c == '\n'))
            c = ' ';
        b->p[b->n++] = c;
    }
    return 0;
}

static int starts_with(const char *p, size_t n, size_t i, const char *z)
{
    size_t m = strlen(z);
    return n - i >= m && memcmp(p + i, z, m) == 0;
}

/* Index of z in p[i:n], or n. */
static size_t find(const char *p, size_t n, size_t i, const char *z)
{
    size_t m = strlen(z);
    for (; i + m <= n; i++)
        if (p[i] == z[0] && memcmp(p + i, z, m) == 0)
            return i;
    return n;
}

/* unescape(raw, attr) into d->utmp: 1 if valid, 0 if None, -1 out of memory */
static int unescape(xb_dec *d, xb_str raw, int attr)
{
    const char *p = raw.p;
    size_t n = raw.n, i = 0;
    xb_buf *b = &d->utmp;
    b->n = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && p[j] != '<' && p[j] != '&')
            j++;
        if (j > i) {
            if (!attr && find(p, j, i, "]]>") < j)
                return 0;
            if (put_normalized(b, p, i, j, attr))
                return -1;
        }
        if (j == n)
            break;
        if (p[j] == '<') {
            size_t end;
            if (attr || !starts_with(p, n, j, "<![CDATA["))
                return 0;
            end = find(p, n, j + 9, "]]>");
            if (end == n)
                return 0;
            if (put_normalized(b, p, j + 9, end, 0))
                return -1;
            i = end + 3;
            continue;
        }
        /* &(?:#([0-9]+)|#x([0-9a-fA-F]+)|([^;&<\s]*)); */
        if (j + 1 < n && p[j + 1] == '#') {
            uint32_t cp = 0;
            size_t k = j + 2, start;
            if (k < n && p[k] >= '0' && p[k] <= '9') {
                start = k;
                while (k < n && p[k] >= '0' && p[k] <= '9') {
                    if (cp <= 0x10FFFF)
                        cp = cp * 10 + (uint32_t)(p[k] - '0');
                    k++;
                }
            } else if (k < n && p[k] == 'x') {
                k++;
                start = k;
                while (k < n && ((p[k] >= '0' && p[k] <= '9') || (p[k] >= 'a' && p[k] <= 'f') ||
                                 (p[k] >= 'A' && p[k] <= 'F'))) {
                    if (cp <= 0x10FFFF)
                        cp = cp * 16 + (uint32_t)(p[k] <= '9' ? p[k] - '0' : (p[k] | 0x20) - 'a' + 10);
                    k++;
                }
            } else {
                return 0; /* only the name alternative can match: '#...' is no entity */
            }
            if (k == start || k >= n || p[k] != ';')
                return 0; /* ditto */
            if (cp > 0x10FFFF || !is_xml_char(cp))
                return 0;
            if (put_utf8(b, cp))
                return -1;
            i = k + 1;
        } else {
            static const char *const names[5] = {"lt;", "gt;", "amp;", "apos;", "quot;"};
            static const char chars[5] = {'<', '>', '&', '\'', '"'};
            int e;
            for (e = 0; e < 5; e++)
                if (starts_with(p, n, j + 1, names[e]))
                    break;
            if (e == 5)
                return 0;
            if (buf_reserve(b, 1))
                return -1;
            b->p[b->n++] = chars[e];
            i = j + 1 + strlen(names[e]);
        }
    }
    return 1;
}

/* unescape(raw, attr) == target; -1 out of memory */
static int unescape_eq(xb_dec *d, xb_str raw, int attr, xb_str target)
{
    int r = unescape(d, raw, attr);
    if (r <= 0)
        return r;
    return d->utmp.n == target.n && (target.n == 0 || memcmp(d->utmp.p, target.p, target.n) == 0);
}

/* ---- exact mode (_Decoder.lexical) ----------------------------------------- */
/* _XMLDECL_RE.match(s, i): the end of the match or -1, and the encoding name */
static long match_xmldecl(xb_str s, size_t i, xb_str *enc)
{
    const char *p = s.p;
    size_t n = s.n, k, save;
    char q;
#define WS(c) ((c) == ' ' || (c) == '\t' || (c) == '\r' || (c) == '\n')
#define SKIP_WS()                                                                                          \
    while (i < n && WS(p[i]))                                                                              \
    i++
    *enc = NONE;
    if (!starts_with(p, n, i, "<?xml"))
        return -1;
    i += 5;
    k = i;
    SKIP_WS();
    if (i == k || !starts_with(p, n, i, "version"))
        return -1;
    i += 7;
    SKIP_WS();
    if (i >= n || p[i] != '=')
        return -1;
    i++;
    SKIP_WS();
    if (i >= n || (p[i] != '\'' && p[i] != '"'))
        return -1;
    q = p[i++];
    if (!starts_with(p, n, i, "1."))
        return -1;
    i += 2;
    k = i;
    while (i < n && p[i] >= '0' && p[i] <= '9')
        i++;
    if (i == k || i >= n || p[i] != q)
        return -1;
    i++;
    /* (?:[ws]+encoding[ws]*=[ws]*(['"])([A-Za-z][A-Za-z0-9._-]*)\2)? */
    save = i;
    for (;;) {
        size_t e0;
        k = i;
        SKIP_WS();
        if (i == k || !starts_with(p, n, i, "encoding"))
            break;
        i += 8;
        SKIP_WS();
        if (i >= n || p[i] != '=')
            break;
        i++;
        SKIP_WS();
        if (i >= n || (p[i] != '\'' && p[i] != '"'))
            break;
        q = p[i++];
        e0 = i;
        if (i >= n || !((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= 'a' && p[i] <= 'z')))
            break;
        i++;
        while (i < n && ((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= 'a' && p[i] <= 'z') ||
                         (p[i] >= '0' && p[i] <= '9') || p[i] == '.' || p[i] == '_' || p[i] == '-'))
            i++;
        if (i >= n || p[i] != q)
            break;
        enc->p = p + e0;
        enc->n = i - e0;
        save = i + 1;
        break;
    }
    i = save;
    /* (?:[ws]+standalone[ws]*=[ws]*(['"])(?:yes|no)\4)? */
    for (;;) {
        k = i;
        SKIP_WS();
        if (i == k || !starts_with(p, n, i, "standalone"))
            break;
        i += 10;
        SKIP_WS();
        if (i >= n || p[i] != '=')
            break;
        i++;
        SKIP_WS();
        if (i >= n || (p[i] != '\'' && p[i] != '"'))
            break;
        q = p[i++];
        if (starts_with(p, n, i, "yes"))
            i += 3;
        else if (starts_with(p, n, i, "no"))
            i += 2;
        else
            break;
        if (i >= n || p[i] != q)
            break;
        save = i + 1;
        break;
    }
    i = save;
    SKIP_WS();
    if (!starts_with(p, n, i, "?>"))
        return -1;
    return (long)(i + 2);
#undef SKIP_WS
#undef WS
}

static int ascii_ieq(xb_str s, const char *z)
{
    size_t n = strlen(z), i;
    if (s.n != n)
        return 0;
    for (i = 0; i < n; i++) {
        char c = s.p[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        if (c != z[i])
            return 0;
    }
    return 1;
}

/* Lexical slots (lexical.py:slots) are visited with a cursor instead of a list. */
typedef struct {
    size_t k;      /* event */
    size_t depth;  /* open elements before event k */
    uint64_t base; /* number of the first slot of event k */
} slot_cursor;

static uint64_t event_slots(const xb_dec *d, size_t k, size_t depth)
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

static void cursor_step(const xb_dec *d, slot_cursor *c)
{
    c->base += event_slots(d, c->k, c->depth);
    if (d->ev[c->k].type == EV_S)
        c->depth++;
    else if (d->ev[c->k].type == EV_E)
        c->depth--;
    c->k++;
}

/* (kind, event, item) of slot idx >= the cursor's base */
static void cursor_seek(const xb_dec *d, slot_cursor *c, uint64_t idx, int *kind, size_t *k, size_t *item)
{
    uint64_t sub;
    while (c->base + event_slots(d, c->k, c->depth) <= idx)
        cursor_step(d, c);
    sub = idx - c->base;
    *k = c->k;
    *item = 0;
    switch (d->ev[c->k].type) {
    case EV_S:
        if (sub < 4 * (uint64_t)d->ev[c->k].nitems) {
            *kind = (int)(sub % 4);
            *item = (size_t)(sub / 4);
        } else {
            *kind = sub == 4 * (uint64_t)d->ev[c->k].nitems ? XB_SL_TAGEND : XB_SL_EMPTY;
        }
        break;
    case EV_E:
        *kind = XB_SL_ENDWS;
        break;
    default:
        *kind = XB_SL_TVAL;
        break;
    }
}

static int lexical(xb_dec *d)
{
    uint32_t v = 0, g = 0, has_prolog = 0;
    uint64_t lex_total = 0, ndev, nslots = 0, idx, j;
    size_t k, depth = 0;
    slot_cursor cur = {0, 0, 0};

    TRY(read_bits(d, 1, &v));
    d->st.dquote = (int)v;
    TRY(read_bits(d, 2, &v));
    d->st.empty = (int)v;
    TRY(read_bits(d, 1, &v));
    d->st.text_gt = (int)v;
    TRY(read_bits(d, 1, &v));
    d->st.text_quot = (int)v;
    TRY(read_bits(d, 1, &v));
    d->st.attr_gt = (int)v;
    TRY(read_bits(d, 1, &v));
    d->st.attr_oq = (int)v;
    if (d->st.empty == 3)
        return FAIL(d, "reserved empty-element style");
    d->prolog = EMPTY;
    TRY(read_bits(d, 1, &has_prolog));
    if (has_prolog) {
        xb_str pr = EMPTY, enc = EMPTY;
        long end;
        int bom;
        TRY(value_(d, XB_VC_MISC, &pr));
        TRY(check_len(d, pr));
        bom = starts_with(pr.p, pr.n, 0, "\xef\xbb\xbf");
        end = match_xmldecl(pr, bom ? 3 : 0, &enc);
        if (!((bom && pr.n == 3) || (end >= 0 && (size_t)end == pr.n)))
            return FAIL(d, "invalid prolog");
        if (end >= 0 && enc.p && !ascii_ieq(enc, "utf-8") && !ascii_ieq(enc, "utf8"))
            return FAIL(d, "prolog declares an encoding other than UTF-8");
        lex_total += pr.n;
        d->prolog = pr;
    }
    TRY(read_gamma(d, &g));
    ndev = (uint64_t)g - 1;
    for (k = 0; k < d->nev; k++) {
        nslots += event_slots(d, k, depth);
        if (d->ev[k].type == EV_S)
            depth++;
        else if (d->ev[k].type == EV_E)
            depth--;
    }
    if (ndev > nslots)
        return FAIL(d, "%llu deviations for %llu lexical slots", (unsigned long long)ndev,
                    (unsigned long long)nslots);
    idx = (uint64_t)-1;
    for (j = 0; j < ndev; j++) {
        int kind, ok = 1;
        size_t ek, item; /* item: the attribute of a VAL slot, checked in serialize */
        xb_str payload = EMPTY;
        TRY(read_gamma(d, &g));
        idx += g; /* idx + 1 <= nslots before, so no overflow */
        if (idx >= nslots)
            return FAIL(d, "deviation beyond the last lexical slot");
        cursor_seek(d, &cur, idx, &kind, &ek, &item);
        if (kind != XB_SL_QUOTE && kind != XB_SL_EMPTY) {
            TRY(value_(d, XB_VC_MISC, &payload));
            TRY(check_len(d, payload));
            lex_total += payload.n;
            if (lex_total > d->opt->max_size)
                return LIMIT(d, XB_LIMIT_MAX_SIZE, "output exceeds max_size=%lu", (unsigned long)d->opt->max_size);
            if (kind == XB_SL_WSB) {
                ok = payload.n > 0 && all_ws(payload);
            } else if (kind == XB_SL_EQ) {
                size_t a = 0, b = payload.n;
                while (a < b && is_xml_ws(payload.p[a]))
                    a++;
                ok = a < b && payload.p[a] == '=';
                if (ok) {
                    xb_str rest = {payload.p + a + 1, payload.n - a - 1};
                    ok = all_ws(rest);
                }
            } else if (kind == XB_SL_TAGEND || kind == XB_SL_ENDWS) {
                ok = all_ws(payload);
            } else if (kind == XB_SL_TVAL) {
                int r = unescape_eq(d, payload, 0, d->ev[ek].s);
                if (r < 0)
                    return nomem(d);
                ok = r;
            }
            if (!ok)
                return FAIL(d, "invalid lexical deviation");
        }
        RESERVE(d->devs, d->cap_devs, d->ndevs + 1);
        d->devs[d->ndevs].slot = idx;
        d->devs[d->ndevs].kind = kind;
        d->devs[d->ndevs].payload = payload;
        d->ndevs++;
    }
    return 0;
}

/* ---- serialization (decoder.serialize) ------------------------------------- */
/* Past max_size only the length is kept: the result is then an error anyway,
 * but the serialization's own checks still come first, as in the reference. */
static inline int put(xb_dec *d, const char *p, size_t n)
{
    d->out_total += n;
    if (d->out_total > d->opt->max_size || n == 0)
        return 0;
    if (d->out.cap - d->out.n < n && buf_reserve(&d->out, n))
        return nomem(d);
    memcpy(d->out.p + d->out.n, p, n);
    d->out.n += n;
    return 0;
}

static int puts_(xb_dec *d, const char *z)
{
    return put(d, z, strlen(z));
}

static int put_str(xb_dec *d, xb_str s)
{
    return put(d, s.p, s.n);
}

/* escape_text / escape_attr: one pass (no replacement creates a later target) */
/* bytes that escape_text / escape_attr may replace */
static int maybe_escaped(unsigned char c)
{
    return c == '&' || c == '<' || c == '>' || c == '\r' || c == '\'' || c == '"' || c == '\t' || c == '\n';
}

static int put_escaped(xb_dec *d, xb_str v, int attr, char quote)
{
    const xb_style *st = &d->st;
    size_t i, run = 0;
    for (i = 0; i < v.n; i++) {
        const char *rep = NULL;
        if (!maybe_escaped((unsigned char)v.p[i]))
            continue;
        switch (v.p[i]) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            if (attr ? st->attr_gt : (st->text_gt || (i >= 2 && v.p[i - 1] == ']' && v.p[i - 2] == ']')))
                rep = "&gt;";
            break;
        case '\r':
            rep = "&#13;";
            break;
        case '\'':
            if (attr ? (quote == '\'' || st->attr_oq) : st->text_quot)
                rep = "&apos;";
            break;
        case '"':
            if (attr ? (quote == '"' || st->attr_oq) : st->text_quot)
                rep = "&quot;";
            break;
        case '\t':
            if (attr)
                rep = "&#9;";
            break;
        case '\n':
            if (attr)
                rep = "&#10;";
            break;
        default:
            break;
        }
        if (rep) {
            TRY(put(d, v.p + run, i - run));
            TRY(puts_(d, rep));
            run = i + 1;
        }
    }
    return put(d, v.p + run, v.n - run);
}

static const xb_dev *dev_at(const xb_dec *d, size_t *dc, uint64_t slot)
{
    while (*dc < d->ndevs && d->devs[*dc].slot < slot)
        (*dc)++;
    return (*dc < d->ndevs && d->devs[*dc].slot == slot) ? &d->devs[*dc] : NULL;
}

static int serialize(xb_dec *d)
{
    const xb_style *st = &d->st;
    size_t k, dc = 0, depth = 0, noc = 0, i;
    uint64_t slot = 0;
    char sq = st->dquote ? '"' : '\'';
    char oq = st->dquote ? '\'' : '"';

#define FAIL_END(...) seterr(d, XB_ERR_INVALID, d->len, XB_LIMIT_NONE, __VA_ARGS__)
    TRY(put_str(d, d->prolog));
    for (k = 0; k < d->nev; k++) {
        const xb_event *e = &d->ev[k];
        const xb_dev *dv;
        if (e->type == EV_S) {
            int empty, selfclose = 0;
            const xb_dev *tdv;
            TRY(puts_(d, "<"));
            TRY(put_str(d, e->s));
            for (i = 0; i < e->nitems; i++) {
                const xb_item *it = &d->items[e->first + i];
                char q;
                dv = dev_at(d, &dc, slot);
                if (dv)
                    TRY(put_str(d, dv->payload));
                else
                    TRY(puts_(d, " "));
                TRY(put_str(d, it->qname));
                dv = dev_at(d, &dc, slot + 1);
                if (dv)
                    TRY(put_str(d, dv->payload));
                else
                    TRY(puts_(d, "="));
                q = dev_at(d, &dc, slot + 2) ? oq : sq;
                TRY(put(d, &q, 1));
                dv = dev_at(d, &dc, slot + 3);
                if (dv) {
                    xb_str raw = dv->payload;
                    int r = 0;
                    if (!memchr(raw.p, q, raw.n) && !memchr(raw.p, '<', raw.n)) {
                        r = unescape_eq(d, raw, 1, it->value);
                        if (r < 0)
                            return nomem(d);
                    }
                    if (!r)
                        return FAIL_END("invalid attribute spelling");
                    TRY(put_str(d, raw));
                } else {
                    TRY(put_escaped(d, it->value, 1, q));
                }
                TRY(put(d, &q, 1));
                slot += 4;
            }
            empty = k + 1 < d->nev && d->ev[k + 1].type == EV_E;
            tdv = dev_at(d, &dc, slot); /* the TAGEND slot */
            slot++;
            if (empty) {
                selfclose = (st->empty != 2) != (dev_at(d, &dc, slot) != NULL);
                slot++;
            }
            if (tdv)
                TRY(put_str(d, tdv->payload));
            else if (selfclose && st->empty == 1)
                TRY(puts_(d, " "));
            TRY(puts_(d, selfclose ? "/>" : ">"));
            RESERVE(d->oc, d->cap_oc, noc + 1);
            d->oc[noc++] = (uint8_t)selfclose;
            depth++;
        } else if (e->type == EV_E) {
            depth--;
            dv = dev_at(d, &dc, slot);
            if (d->oc[--noc]) {
                if (dv)
                    return FAIL_END("end-tag whitespace on a self-closed element");
            } else {
                TRY(puts_(d, "</"));
                TRY(put_str(d, e->s));
                if (dv)
                    TRY(put_str(d, dv->payload));
                TRY(puts_(d, ">"));
            }
            slot++;
        } else if (e->type == EV_T) {
            if (depth > 0) {
                dv = dev_at(d, &dc, slot);
                if (dv)
                    TRY(put_str(d, dv->payload));
                else
                    TRY(put_escaped(d, e->s, 0, 0));
                slot++;
            } else {
                TRY(put_str(d, e->s));
            }
        } else if (e->type == EV_C) {
            TRY(puts_(d, "<!--"));
            TRY(put_str(d, e->s));
            TRY(puts_(d, "-->"));
        } else {
            TRY(puts_(d, "<?"));
            TRY(put_str(d, e->s));
            TRY(puts_(d, "?>"));
        }
    }
#undef FAIL_END
    if (d->out_total > d->opt->max_size)
        return seterr(d, XB_ERR_LIMIT, d->len, XB_LIMIT_MAX_SIZE, "output exceeds max_size=%lu",
                      (unsigned long)d->opt->max_size);
    return 0;
}

/* ---- entry points ------------------------------------------------------------- */
static int decode(xb_dec *d)
{
    const uint8_t *data = d->data;
    size_t len = d->len;
    uint64_t end_byte;
    unsigned b0;
    if (len > d->opt->max_size)
        return seterr(d, XB_ERR_LIMIT, d->opt->max_size, XB_LIMIT_MAX_SIZE,
                      "message of %llu bytes exceeds max_size=%lu", (unsigned long long)len,
                      (unsigned long)d->opt->max_size);
    if (len < 2)
        return truncated(d);
    b0 = data[0];
    if (b0 >> 5 != XB_FORMAT_VERSION)
        return seterr(d, XB_ERR_UNKNOWN_DICTIONARY, 0, XB_LIMIT_NONE, "unsupported format version %u", b0 >> 5);
    d->kind = (int)((b0 >> 3) & 3);
    if (d->kind > XB_KIND_STREAM_OPEN)
        return seterr(d, XB_ERR_INVALID, 0, XB_LIMIT_NONE, "reserved message kind %d", d->kind);
    if (b0 & 3)
        return seterr(d, XB_ERR_INVALID, 0, XB_LIMIT_NONE, "reserved header bits are set");
    d->exact = (b0 & 4) != 0;
    d->dict = xb_get_dictionary(data[1]);
    if (!d->dict)
        return seterr(d, XB_ERR_UNKNOWN_DICTIONARY, 1, XB_LIMIT_NONE, "unknown dictionary id %u", (unsigned)data[1]);
    d->pos = 16;
    d->end = (uint64_t)len * 8;
    d->prolog = EMPTY;
    d->st.text_gt = 1; /* STYLE_DEFAULT */
    TRY(run(d));
    if (d->exact)
        TRY(lexical(d));
    end_byte = (d->pos + 7) >> 3;
    if (end_byte < len)
        return seterr(d, XB_ERR_TRAILING, (size_t)end_byte, XB_LIMIT_NONE, "%llu bytes after the end of the message",
                      (unsigned long long)(len - end_byte));
    if ((d->pos & 7) && (data[len - 1] & ((1u << (8 - (d->pos & 7))) - 1)))
        return seterr(d, XB_ERR_TRAILING, len - 1, XB_LIMIT_NONE, "padding bits are not zero");
    return serialize(d);
}

int xb_init(void)
{
    return xb_dict_init();
}

/* Release everything d owns. */
static void dec_release(xb_dec *d)
{
    while (d->chunk) {
        xb_chunk *next = d->chunk->next;
        free(d->chunk);
        d->chunk = next;
    }
    free(d->hist);
    free(d->ev);
    free(d->items);
    free(d->binds);
    free(d->elems);
    free(d->ctx);
    free(d->ws);
    free(d->kitems);
    free(d->pa);
    free(d->pb);
    free(d->hset);
    free(d->devs);
    free(d->oc);
    free(d->tmp.p);
    free(d->utmp.p);
    free(d->out.p);
}

/* Forget the previous message but keep the allocations (batches): the state is
 * what memset(0) gives a fresh decoder, with the same buffers behind it. */
static void dec_reuse(xb_dec *d)
{
    xb_dec k = *d;
    xb_chunk *c = k.chunk;
    if (c) { /* keep the newest arena chunk, emptied */
        while (c->next) {
            xb_chunk *next = c->next->next;
            free(c->next);
            c->next = next;
        }
        c->used = 0;
    }
    memset(d, 0, sizeof(*d));
#define KEEP(arr, cap) (d->arr = k.arr, d->cap = k.cap)
    KEEP(hist, cap_hist);
    KEEP(ev, cap_ev);
    KEEP(items, cap_items);
    KEEP(binds, cap_binds);
    KEEP(elems, cap_elems);
    KEEP(ctx, cap_ctx);
    KEEP(ws, cap_ws);
    KEEP(kitems, cap_kitems);
    KEEP(pa, cap_pa);
    KEEP(pb, cap_pb);
    KEEP(hset, cap_hset);
    KEEP(devs, cap_devs);
    KEEP(oc, cap_oc);
    KEEP(tmp.p, tmp.cap);
    KEEP(utmp.p, utmp.cap);
    KEEP(out.p, out.cap);
#undef KEEP
    d->chunk = c;
    d->chunk_size = k.chunk_size;
}

static int init_failed(xb_result *res)
{
    res->error = XB_ERR_INIT;
    snprintf(res->message, sizeof(res->message), "the dictionary tables could not be built");
    return res->error;
}

int xb_decode(const char *data, size_t size, const xb_decode_options *opt, xb_result *res)
{
    xb_dec d;
    int rc;
    memset(res, 0, sizeof(*res));
    if (xb_init() != 0)
        return init_failed(res);
    memset(&d, 0, sizeof(d));
    d.data = (const uint8_t *)(data ? data : "");
    d.len = data ? size : 0;
    d.opt = opt;
    d.res = res;
    d.chunk_size = CHUNK_MIN;
    rc = decode(&d);
    if (rc == XB_OK) {
        if (!d.out.p && buf_reserve(&d.out, 1)) {
            rc = nomem(&d);
        } else {
            res->data = (unsigned char *)d.out.p;
            res->size = d.out.n;
            d.out.p = NULL;
        }
    }
    dec_release(&d);
    return rc;
}

int xb_decode_many(size_t n, const char *const *datas, const size_t *sizes, const xb_decode_options *opt,
                   xb_batch *res)
{
    xb_dec d;
    xb_buf all = {NULL, 0, 0};
    size_t i;
    int rc = XB_OK;
    memset(res, 0, sizeof(*res));
    if (xb_init() != 0)
        return init_failed(&res->error);
    if (n > SIZE_MAX / sizeof(size_t) - 1 || !(res->offsets = malloc((n + 1) * sizeof(size_t)))) {
        res->error.error = XB_ERR_NOMEM;
        snprintf(res->error.message, sizeof(res->error.message), "out of memory");
        return XB_ERR_NOMEM;
    }
    res->offsets[0] = 0;
    memset(&d, 0, sizeof(d));
    d.chunk_size = CHUNK_MIN;
    for (i = 0; i < n; i++) {
        if (i)
            dec_reuse(&d);
        d.data = (const uint8_t *)(datas[i] ? datas[i] : "");
        d.len = datas[i] ? sizes[i] : 0;
        d.opt = opt;
        d.res = &res->error;
        rc = decode(&d);
        if (rc == XB_OK && buf_reserve(&all, d.out.n ? d.out.n : 1))
            rc = nomem(&d);
        if (rc != XB_OK) {
            res->index = i;
            break;
        }
        if (d.out.n)
            memcpy(all.p + all.n, d.out.p, d.out.n);
        all.n += d.out.n;
        res->offsets[i + 1] = all.n;
    }
    dec_release(&d);
    if (rc != XB_OK) {
        free(all.p);
        free(res->offsets);
        res->offsets = NULL;
        return rc;
    }
    if (!all.p && buf_reserve(&all, 1)) {
        free(res->offsets);
        res->offsets = NULL;
        res->error.error = XB_ERR_NOMEM;
        snprintf(res->error.message, sizeof(res->error.message), "out of memory");
        return XB_ERR_NOMEM;
    }
    res->data = (unsigned char *)all.p;
    res->size = all.n;
    return XB_OK;
}

void xb_free(void *p)
{
    free(p);
}
