/*
 * xmppbin decoder: a C port of the reference decoder xmppbin/decoder.py.
 *
 * Every check of the reference is made in the same order against the same
 * bit position, so the error code and byte offset are identical for every
 * input; the comments name the Python function each part mirrors.
 *
 * Memory: strings produced while decoding live in a chunked arena (freed as a
 * whole); events, attribute items, the string history, namespace bindings and
 * the output are growing arrays. Nothing is allocated per node. Each thread
 * keeps its decoder state (arrays, arena, output buffer) from call to call
 * (dec_get / dec_put), up to XB_CACHE_MAX_BYTES; xb_decode lends the caller
 * the output buffer itself, which xb_free gives back.
 *
 * Speed: a message that is not exact is serialized while it is decoded (the
 * emit_* functions; exact messages go through events and xb_serialize() in
 * csrc/serialize.c). Values
 * carry a "clean" flag (no byte that escaping may replace) so that most are
 * copied without a scan; strings that reach the output have XB_STR_PAD
 * readable bytes after them (the dictionary's padded copies, the arena, the
 * static strings below), so short ones are copied with one fixed-size move.
 * Shapes whose namespace checks pass on their own (XB_SHAPE_PLAIN) skip most
 * of resolve_start.
 *
 * Stream mode (spec 14.3, xb_stream_decode): the same decoder with d->stream
 * set to the stream's state (csrc/sstate.c): value1() reads references from
 * its dynamic table and RECENT / EXTEND from its recent values, the node
 * symbols are predicted, start tags use the stream's shape cache. The
 * functions that only stream mode needs are at the end of this file; with
 * d->stream NULL (a stateless message) none of them is called.
 */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xb_dec.h"
#include "xb_dict.h"
#include "xb_stream.h"
#include "xmppbin.h"

/* A cached decoder state per thread (POSIX threads): the growing arrays and
 * the arena survive between calls instead of being allocated every time. */
#if !defined(_WIN32) && !defined(XB_NO_STATE_CACHE)
#define XB_STATE_CACHE 1
#include <pthread.h>
#else
#define XB_STATE_CACHE 0
#endif

static const char XML_NS[] = "http://www.w3.org/XML/1998/namespace";
static const char XMLNS_NS[] = "http://www.w3.org/2000/xmlns/";
/* Strings that reach the output are followed by XB_STR_PAD readable bytes
 * (w_copy reads that many at once): those of the dictionary's padded copies,
 * of the arena (chunks have the padding) and the static ones here. */
static const char ZEROS[XB_STR_PAD + 1];
static const char XMLNS_PAD[5 + XB_STR_PAD] = "xmlns";
static const char XMLNS_COLON_PAD[6 + XB_STR_PAD] = "xmlns:";
static const char COLON_PAD[1 + XB_STR_PAD] = ":";
static const char AT_PAD[1 + XB_STR_PAD] = "@";
static const char SLASH_PAD[1 + XB_STR_PAD] = "/";
static const xb_str EMPTY = {ZEROS, 0};
static const xb_str NONE = {NULL, 0}; /* "no string" (Python None), only in the indentation memory */

#define DEC_MESSAGE_STATE offsetof(xb_dec, chunk)

/* ---- stream mode (spec 14.3): the parts of the decoder that read or update the
 * stream's state (d->stream); defined at the end of this file ---- */
static int stream_content_value(xb_dec *d, unsigned vctx, xb_str *out);
static void stream_ws_ordinal(xb_dec *d, size_t depth);
static int stream_node_sym(xb_dec *d, unsigned ctx, uint32_t *sy);
static void stream_learn_end(xb_dec *d, uint32_t sy);
static void stream_learn_other(xb_dec *d, uint32_t sy);
static int stream_cache(xb_dec *d, uint32_t sy, const xb_key **key, unsigned *info);
static int stream_style(xb_dec *d, int *kept);
static void stream_style_load(xb_dec *d);
static void stream_style_save(xb_dec *d);
static int stream_secrets(xb_dec *d);

XB_COLD static int truncated(xb_dec *d)
{
    return xb_dec_seterr(d, XB_ERR_TRUNCATED, d->len, XB_LIMIT_NONE, "message is truncated");
}

/* A printable excerpt of s for messages. */
static int excerpt_len(xb_str s)
{
    return (int)(s.n > 60 ? 60 : s.n);
}

/* ---- memory ----------------------------------------------------------------- */


/* arena_alloc when the current chunk has no room (or there is none): a new
 * chunk, or a dedicated one for a large n. NULL when out of memory. */
static XB_NOINLINE void *arena_alloc_new(xb_dec *d, size_t n)
{
    xb_chunk *c = d->chunk, *nc;
    size_t cap;
    if (n > SIZE_MAX - CHUNK_HDR - 16 - XB_STR_PAD)
        return NULL;
    if (c && n > d->chunk_size / 4) {
        /* a dedicated chunk, kept behind the current one */
        nc = malloc(CHUNK_HDR + n + XB_STR_PAD);
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
    nc = malloc(CHUNK_HDR + cap + XB_STR_PAD);
    if (!nc)
        return NULL;
    nc->cap = cap;
    nc->used = n;
    nc->next = c;
    d->chunk = nc;
    return (char *)nc + CHUNK_HDR;
}

/* n bytes from the arena; align is 1 or 16. NULL when out of memory. The
 * common case (room in the current chunk) is inline, a new chunk is not. */
static inline void *arena_alloc(xb_dec *d, size_t n, size_t align)
{
    xb_chunk *c = d->chunk;
    if (n == 0)
        n = 1;
    if (c && align > 1)
        c->used = (c->used + 15u) & ~(size_t)15u;
    if (XB_LIKELY(c && c->used <= c->cap && c->cap - c->used >= n)) {
        void *p = (char *)c + CHUNK_HDR + c->used;
        c->used += n;
        return p;
    }
    return arena_alloc_new(d, n);
}

/* n bytes from src, which has XB_STR_PAD readable bytes after it, to the end
 * of the newest arena allocation (the chunk has XB_STR_PAD more bytes) */
static inline void arena_copy(char *dst, const char *src, size_t n)
{
    if (XB_LIKELY(n <= XB_STR_PAD)) {
        /* the padding of a source just before dst is dst: read, then write */
        char t[XB_STR_PAD];
        memcpy(t, src, XB_STR_PAD);
        memcpy(dst, t, XB_STR_PAD);
    } else {
        memmove(dst, src, n);
    }
}

/* A new string of the concatenation of up to three parts (padded strings). */
static int concat3(xb_dec *d, xb_str a, xb_str b, xb_str c, xb_str *out)
{
    char *p;
    size_t n;
    if (a.n > SIZE_MAX - b.n || a.n + b.n > SIZE_MAX - c.n)
        return xb_dec_nomem(d);
    n = a.n + b.n + c.n;
    p = arena_alloc(d, n, 1);
    if (!p)
        return xb_dec_nomem(d);
    arena_copy(p, a.p, a.n);
    arena_copy(p + a.n, b.p, b.n);
    arena_copy(p + a.n + b.n, c.p, c.n);
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
/* The 32 bits at bit position pos, zeros past the end of the data. */
static inline uint32_t peek32_at(const uint8_t *data, size_t len, uint64_t pos)
{
    size_t byte = (size_t)(pos >> 3);
    unsigned sh = (unsigned)(pos & 7);
    uint64_t v = 0;
    size_t i;
    if (XB_LIKELY(byte + 8 <= len)) {
        const uint8_t *p = data + byte; /* compilers make this one big-endian load */
        v = ((uint64_t)p[0] << 56) | ((uint64_t)p[1] << 48) | ((uint64_t)p[2] << 40) | ((uint64_t)p[3] << 32) |
            ((uint64_t)p[4] << 24) | ((uint64_t)p[5] << 16) | ((uint64_t)p[6] << 8) | (uint64_t)p[7];
    } else {
        for (i = 0; i < 8; i++)
            v = (v << 8) | (byte + i < len ? data[byte + i] : 0u);
    }
    return (uint32_t)((v << sh) >> 32);
}

/* The next 32 bits, zeros past the end of the data. Every reader checks
 * pos + n <= end before it moves on (read_gamma's 1 bit is data: the padding
 * is zero), so pos / 8 <= len and the 8 bytes from there lie in the padded
 * copy (len + XB_PAD bytes): one load, no bounds test. */
static inline uint32_t peek32(const xb_dec *d)
{
    const uint8_t *p = d->data + (size_t)(d->pos >> 3);
    uint64_t v = ((uint64_t)p[0] << 56) | ((uint64_t)p[1] << 48) | ((uint64_t)p[2] << 40) | ((uint64_t)p[3] << 32) |
                 ((uint64_t)p[4] << 24) | ((uint64_t)p[5] << 16) | ((uint64_t)p[6] << 8) | (uint64_t)p[7];
    return (uint32_t)((v << (d->pos & 7)) >> 32);
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
static XB_NOINLINE int read_sym_long(xb_dec *d, const xb_hcode *c, uint32_t bits, uint32_t *sym)
{
    unsigned ln;
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

static inline int read_sym(xb_dec *d, const xb_hcode *c, uint32_t *sym)
{
    uint32_t bits = peek32(d);
    unsigned e = c->lut[bits >> (32 - XB_LUT_BITS)];
    if (XB_LIKELY(e)) {
        unsigned ln = e & 15u;
        if (XB_UNLIKELY(d->pos + ln > d->end))
            return truncated(d);
        d->pos += ln;
        *sym = e >> 4;
        return 0;
    }
    return read_sym_long(d, c, bits, sym);
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

/* bytes of literal strings: XB_ESCAPABLE, an ASCII character not allowed in
 * XML, the start of a multi-byte sequence (or not UTF-8) */
enum { LB_ESC = 1, LB_BAD = 2, LB_MULTI = 4 };
#define E LB_ESC
#define B LB_BAD
#define M LB_MULTI
static const uint8_t LIT_BYTE[256] = {
    B, B, B, B, B, B, B, B, B, E, E, B, B, E, B, B,
    B, B, B, B, B, B, B, B, B, B, B, B, B, B, B, B,
    0, 0, E, 0, 0, 0, E, E, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, E, 0, E, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
};
#undef E
#undef B
#undef M

/* check_chars of a literal: 0 ok, 1 invalid UTF-8, 2 character not allowed
 * in XML; *clean: no XB_ESCAPABLE byte */
static int check_literal(const char *p, size_t n, int *clean)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t i = 0;
    unsigned acc = 0;
    while (i < n) {
        int32_t c;
        const unsigned b = s[i], f = LIT_BYTE[b];
        if (!(f & LB_MULTI)) {
            acc |= f;
            i++;
            continue;
        }
        /* the common sequences inline: 2 bytes from C2-DF (U+0080-U+07FF) and
           3 from E1-EC or EE (U+1000-U+CFFF, U+E000-U+EFFF), all of them XML
           characters; the rest (overlong, surrogate, U+FFFE/F, 4 bytes,
           errors) as utf8_next reads them */
        if (b >= 0xC2 && b <= 0xDF && n - i >= 2 && (s[i + 1] & 0xC0) == 0x80) {
            i += 2;
            continue;
        }
        if (b >= 0xE1 && b <= 0xEE && b != 0xED && n - i >= 3 && (s[i + 1] & 0xC0) == 0x80 &&
            (s[i + 2] & 0xC0) == 0x80) {
            i += 3;
            continue;
        }
        c = utf8_next(s, n, &i);
        if (c < 0)
            return 1; /* decoding fails before characters are checked */
        if (!is_xml_char((uint32_t)c))
            acc |= LB_BAD;
    }
    *clean = !(acc & LB_ESC);
    return acc & LB_BAD ? 2 : 0;
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

XB_COLD static int too_long(xb_dec *d)
{
    return LIMIT(d, XB_LIMIT_MAX_STRING, "string longer than max_string=%lu", (unsigned long)d->opt->max_string);
}

static const char HEX_L[] = "0123456789abcdef";
static const char HEX_U[] = "0123456789ABCDEF";
static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* the four base64 characters of the 24 bits w, at q */
static inline void b64_chars(char *q, uint32_t w)
{
    q[0] = B64[w >> 18];
    q[1] = B64[(w >> 12) & 63];
    q[2] = B64[(w >> 6) & 63];
    q[3] = B64[w & 63];
}

static int value_(xb_dec *d, unsigned vctx, xb_str *out);

static inline uint64_t load64_be(const uint8_t *p)
{
    /* compilers make this one load (and a byte swap on little-endian machines) */
    return ((uint64_t)p[0] << 56) | ((uint64_t)p[1] << 48) | ((uint64_t)p[2] << 40) | ((uint64_t)p[3] << 32) |
           ((uint64_t)p[4] << 24) | ((uint64_t)p[5] << 16) | ((uint64_t)p[6] << 8) | (uint64_t)p[7];
}

static unsigned bitlen64(uint64_t x)
{
    unsigned n = 0;
    while (x) {
        n++;
        x >>= 1;
    }
    return n;
}

/* nonzero if s[0 .. n) has a byte check_literal must see (LIT_BYTE: escapable,
 * not allowed, not ASCII); s has 15 readable bytes after n */
static inline unsigned lit_odd(const unsigned char *s, size_t n)
{
#ifdef XB_SSE2
    /* below 0x20 or from 0x80 (signed: below 0x20), or " & ' < > */
    const __m128i sp = _mm_set1_epi8(0x20), q = _mm_set1_epi8('"'), amp = _mm_set1_epi8('&'),
                  apos = _mm_set1_epi8('\''), lt = _mm_set1_epi8('<'), gt = _mm_set1_epi8('>');
    size_t i;
    for (i = 0; i < n; i += 16) {
        const __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        const __m128i m = _mm_or_si128(
            _mm_or_si128(_mm_cmplt_epi8(x, sp), _mm_or_si128(_mm_cmpeq_epi8(x, q), _mm_cmpeq_epi8(x, amp))),
            _mm_or_si128(_mm_cmpeq_epi8(x, apos), _mm_or_si128(_mm_cmpeq_epi8(x, lt), _mm_cmpeq_epi8(x, gt))));
        unsigned bits = (unsigned)_mm_movemask_epi8(m);
        if (n - i < 16)
            bits &= (1u << (n - i)) - 1u;
        if (bits)
            return 1;
    }
    return 0;
#else
    unsigned a = 0;
    size_t k;
    for (k = 0; k < n; k++)
        a |= LIT_BYTE[s[k]];
    return a;
#endif
}

/* A copy (spec 8.11) in a literal whose bytes so far are d->tmp.p[0 .. *n),
 * the symbol XB_COPY just read: its length and distance, then the bytes
 * appended to d->tmp (which may move), *cls and *acc updated over them. The
 * window is the dictionary's prior text, in stream mode the session window
 * (the last budget bytes of the stream's literals before this message),
 * d->win (the message's literals before this one), then the literal's bytes
 * so far. */
static XB_NOINLINE int read_copy(xb_dec *d, unsigned kind, int secret, size_t *n, unsigned *cls, unsigned *acc)
{
    uint32_t g = 0;
    uint64_t x = 0, len, w, dist, src, k;
    const size_t np = d->dict->nprior;
    const xb_stream *ss = d->stream;
    const size_t ns = ss ? (ss->sess_n < ss->budget ? ss->sess_n : ss->budget) : 0;
    size_t wn = d->win.n, at = *n;
    const char *win = d->win.p;
    char *t;
    unsigned c = *cls, a = 0;
    if (secret)
        return FAIL(d, "never-indexed value coded with a copy");
    TRY(read_gamma(d, &g));
    len = (uint64_t)g + XB_COPY_MIN - 1;
    w = (uint64_t)np + ns + wn + at; /* the prior, the session's, the literals before this one, this one's so far */
    if (kind == XB_COPY) { /* from the window after the prior: distance - 1 in bl(that part - 1) bits */
        const uint64_t wm = w - np;
        if (wm == 0)
            return FAIL(d, "copy before any literal byte");
        TRY(read_bits64(d, bitlen64(wm - 1), &x));
        dist = x + 1;
        if (dist > wm)
            return FAIL(d, "copy from %llu bytes back in a window of %llu", (unsigned long long)dist,
                        (unsigned long long)wm);
    } else { /* from the prior: a string's start or another inner anchor, by its index */
        const uint32_t *list = kind == XB_COPY_STR ? d->dict->prior_starts : d->dict->prior_inner_list;
        const size_t nl = kind == XB_COPY_STR ? d->dict->nprior_starts : d->dict->nprior_inner;
        TRY(read_bits64(d, bitlen64(nl - 1), &x));
        if (x >= nl)
            return FAIL(d, "copy from prior %s %llu of %llu", kind == XB_COPY_STR ? "string" : "anchor",
                        (unsigned long long)x, (unsigned long long)nl);
        dist = w - list[x];
    }
    if (at + len > d->opt->max_string)
        return too_long(d);
    d->tmp.n = at;
    if (buf_reserve(&d->tmp, (size_t)len + 16)) /* (+16: lit_odd reads whole blocks) */
        return xb_dec_nomem(d);
    t = d->tmp.p;
    src = w - dist;
    k = 0;
    if (src < np) { /* from the prior text */
        size_t m = (size_t)(np - src < len ? np - src : len);
        memcpy(t + at, d->dict->prior + src, m);
        k = m;
        src = np;
    }
    src -= np;
    if (src < ns) { /* from the session window */
        size_t m = (size_t)(ns - src < len - k ? ns - src : len - k);
        if (m)
            memcpy(t + at + k, ss->sess + (ss->sess_n - ns) + src, m);
        k += m;
        src = ns;
    }
    src -= ns;
    if (src < wn) { /* from the literals before this one */
        size_t m = (size_t)(wn - src < len - k ? wn - src : len - k);
        memcpy(t + at + k, win + src, m);
        k += m;
        src = wn;
    }
    src -= wn; /* then from this literal, the copy may overlap its own bytes */
    if (k < len) {
        if (at + k - src >= len - k) {
            memcpy(t + at + k, t + src, (size_t)(len - k));
        } else {
            for (; k < len; k++)
                t[at + k] = t[src++];
        }
    }
    {
        const unsigned char *s = (const unsigned char *)t + at;
        a = lit_odd(s, (size_t)len);
        c = xb_char_ctx_from(s, (size_t)len, c); /* the char context after the copied bytes */
    }
    if (a)
        *acc |= XB_CP_ODD;
    *cls = c;
    *n = at + (size_t)len;
    return 0;
}

/* Append a literal's bytes to the copy window (spec 8.11). */
static int window_add(xb_dec *d, const char *p, size_t n)
{
    if (buf_reserve(&d->win, n ? n : 1))
        return xb_dec_nomem(d);
    memcpy(d->win.p + d->win.n, p, n);
    d->win.n += n;
    return 0;
}

/* LIT: bytes in the char table up to the terminator 0, each coded in the
 * context the bytes before it lead to (xb_char_next); mostly two at a time with
 * dict->char_pairs, else (a long code, near the end of the message or of
 * max_string) one at a time, with the checks in the reference's order. */
static int read_literal(xb_dec *d, int secret, xb_str *out)
{
    const uint32_t(*cpair)[1u << XB_CP_BITS] = d->dict->char_pairs;
    const xb_hcode *cc = d->dict->codes[XB_T_CHAR];
    const uint8_t *data = d->data, *in;
    size_t n = 0, cap, lim;
    uint64_t pos = d->pos, end = d->end;
    int64_t left; /* end - pos: bits left in the message */
    uint32_t max_string = d->opt->max_string;
    unsigned cls = 0, acc = 0, cnt, e;
    /* Bit buffer with branchless refills: bits holds the cnt (56 .. 63 after a
     * refill) bits from pos on, left-aligned; in is the next byte to load (the
     * bits after those cnt are in[0]'s, so or-ing them again changes nothing).
     * The loads stay below pos / 8 + 15 <= len + XB_PAD. A step takes at most
     * XB_CP_BITS bits: four of them between refills. */
    uint64_t bits;
    char *t, *p;
    if (d->tmp.cap < 64 && buf_reserve(&d->tmp, 64))
        return xb_dec_nomem(d);
    t = d->tmp.p;
    cap = d->tmp.cap;
    lim = cap < max_string ? cap : max_string; /* a step may store 2 bytes */
    left = (int64_t)(end - pos);
#define LIT_LOAD()                                                                                         \
    do {                                                                                                   \
        pos = end - (uint64_t)left;                                                                        \
        in = data + (pos >> 3);                                                                            \
        bits = load64_be(in) << (pos & 7);                                                                 \
        cnt = 56 - (unsigned)(pos & 7);                                                                    \
        in += 7;                                                                                           \
    } while (0)
#define LIT_STEP()                                                                                         \
    do {                                                                                                   \
        unsigned ln_;                                                                                      \
        e = cpair[cls][bits >> (64 - XB_CP_BITS)];                                                        \
        ln_ = XB_CP_LEN(e);                                                                                \
        if (XB_UNLIKELY(!e || left < (int64_t)ln_ || n + 2 > lim))                                         \
            goto one;                                                                                      \
        left -= (int64_t)ln_;                                                                              \
        bits <<= ln_;                                                                                      \
        cnt -= ln_;                                                                                        \
        t[n] = (char)(e & 0xFFu);                                                                          \
        t[n + 1] = (char)((e >> 8) & 0xFFu);                                                               \
        n += XB_CP_NSTORE(e);                                                                              \
        acc |= e;                                                                                          \
        cls = XB_CP_CLS(e);                                                                                \
        if (e & XB_CP_STOP)                                                                                \
            goto done;                                                                                     \
    } while (0)
    LIT_LOAD();
    for (;;) {
        LIT_STEP();
        LIT_STEP();
        LIT_STEP();
        LIT_STEP();
        bits |= load64_be(in) >> cnt;
        in += (63 - cnt) >> 3;
        cnt |= 56;
        continue;
    one: {
        /* one byte, as sym() reads it, then the checks of the reference */
        unsigned e1 = cc[cls].lut[bits >> (64 - XB_LUT_BITS)], b;
        if (e1) {
            if (left < (int64_t)(e1 & 15u))
                return truncated(d);
            left -= (int64_t)(e1 & 15u);
            b = e1 >> 4;
        } else {
            uint32_t sym = 0;
            d->pos = end - (uint64_t)left;
            TRY(read_sym_long(d, &cc[cls], peek32_at(data, d->plen, d->pos), &sym));
            left = (int64_t)(end - d->pos);
            b = sym;
        }
        if (b == 0)
            goto done;
        if (xb_is_copy(b)) {
            d->pos = end - (uint64_t)left;
            TRY(read_copy(d, (unsigned)b, secret, &n, &cls, &acc));
            left = (int64_t)(end - d->pos);
            t = d->tmp.p;
            cap = d->tmp.cap;
            lim = cap < max_string ? cap : max_string;
            LIT_LOAD();
            continue;
        }
        acc |= xb_byte_odd(b) ? XB_CP_ODD : 0;
        cls = xb_char_next[cls][b];
        if (n >= max_string) {
            d->pos = end - (uint64_t)left;
            return too_long(d);
        }
        if (n + 2 > cap) {
            d->tmp.n = n;
            if (buf_reserve(&d->tmp, 2)) {
                d->pos = end - (uint64_t)left;
                return xb_dec_nomem(d);
            }
            t = d->tmp.p;
            cap = d->tmp.cap;
            lim = cap < max_string ? cap : max_string;
        }
        t[n++] = (char)b;
        LIT_LOAD();
    }
    }
done:
    pos = end - (uint64_t)left;
#undef LIT_STEP
#undef LIT_LOAD
    d->pos = pos;
    if (acc & XB_CP_ODD) {
        int chk = check_literal(t, n, &d->vclean);
        if (chk == 1)
            return FAIL(d, "string is not valid UTF-8");
        if (chk == 2)
            return FAIL(d, "string contains a character not allowed in XML");
    } else {
        d->vclean = 1; /* [a-zA-Z0-9 ./:_@-] only */
    }
    if (!secret)
        TRY(window_add(d, t, n));
    p = arena_alloc(d, n, 1);
    if (!p)
        return xb_dec_nomem(d);
    if (n + XB_STR_PAD <= cap) /* t is read that far */
        arena_copy(p, t, n);
    else
        memcpy(p, t, n);
    out->p = p;
    out->n = n;
    return 0;
}

/* INT; base: the integer it may be relative to (spec 14.3: then a bit says
 * whether it is), NULL for none */
static int read_int(xb_dec *d, const uint64_t *base, xb_str *out)
{
    uint32_t g = 0, rel = 0;
    uint64_t bl, v = 0;
    char tmp[24], *p;
    size_t n = 0, i;
    if (base)
        TRY(read_bits(d, 1, &rel));
    if (rel) {
        TRY(read_gamma(d, &g));
        if (*base > UINT64_MAX - g)
            return FAIL(d, "integer longer than 64 bits");
        v = *base + g;
    } else {
        TRY(read_gamma(d, &g));
        bl = (uint64_t)g - 1;
        if (bl > XB_INT_MAX_BITS)
            return FAIL(d, "integer longer than 64 bits");
        if (bl > 0) {
            uint64_t lo = 0;
            TRY(read_bits64(d, (unsigned)(bl - 1), &lo));
            v = ((uint64_t)1 << (bl - 1)) | lo;
        }
    }
    do {
        tmp[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    p = arena_alloc(d, n, 1);
    if (!p)
        return xb_dec_nomem(d);
    for (i = 0; i < n; i++)
        p[i] = tmp[n - 1 - i];
    out->p = p;
    out->n = n;
    return 0;
}

/* n hex digits from 4n bits (the caller has checked that they are there) */
static void read_hex_digits(xb_dec *d, char *p, uint64_t n, const char *digits)
{
    uint64_t i = 0;
    for (; i + 8 <= n; i += 8) { /* eight at a time from one 32-bit read */
        const uint32_t w = peek32(d);
        unsigned j;
        d->pos += 32;
        for (j = 0; j < 8; j++)
            p[i + j] = digits[(w >> (28 - 4 * j)) & 15u];
    }
    for (; i < n; i++) {
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
        return xb_dec_nomem(d);
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
        return xb_dec_nomem(d);
    read_hex_digits(d, p, n, upper ? HEX_U : HEX_L);
    out->p = p;
    out->n = (size_t)n;
    return 0;
}

static int str_clean(xb_str s);

/* WS() of a B64 layout (spec 8.6): GAMMA(len + 1), then each character by
 * the code 0 SP, 10 LF, 110 TAB, 111 CR; in the arena */
static int read_ws(xb_dec *d, xb_str *out)
{
    static const char WSC[4] = {' ', '\n', '\t', '\r'};
    uint32_t g = 0, b = 0;
    size_t i, n;
    char *p;
    TRY(read_gamma(d, &g));
    n = (size_t)g - 1;
    if (n > d->opt->max_string)
        return too_long(d);
    p = arena_alloc(d, n, 1);
    if (!p)
        return xb_dec_nomem(d);
    for (i = 0; i < n; i++) {
        unsigned k = 0;
        do
            TRY(read_bits(d, 1, &b));
        while (b && ++k < 3);
        p[i] = WSC[k];
    }
    out->p = p;
    out->n = n;
    return 0;
}

static int read_b64(xb_dec *d, xb_str *out)
{
    uint32_t g = 0, wrapped = 0, same = 0;
    uint64_t n, blen, olen, i, width = 0;
    xb_str lead = {"", 0}, sep = {"", 0}, trail = {"", 0};
    char *p;
    size_t k = 0, col = 0;
    TRY(read_gamma(d, &g));
    n = g;
    blen = (n + 2) / 3 * 4;
    if (n >= XB_B64_LAYOUT_MIN)
        TRY(read_bits(d, 1, &wrapped));
    if (wrapped) { /* the layout (spec 8.6) */
        TRY(read_ws(d, &lead));
        TRY(read_gamma(d, &g));
        width = (uint64_t)g - 1;
        if (width) {
            TRY(read_bits(d, 1, &same));
            if (same)
                sep = lead;
            else
                TRY(read_ws(d, &sep));
        }
        TRY(read_ws(d, &trail));
    }
    /* lead, sep and trail are at most max_string (< 2**32) and blen < 2**33:
       the sum cannot overflow, the separators' product is checked */
    olen = lead.n + blen + trail.n;
    if (width && blen) {
        const uint64_t nsep = (blen - 1) / width;
        if (nsep && sep.n > d->opt->max_string / nsep)
            return too_long(d);
        olen += nsep * sep.n;
    }
    if (olen > d->opt->max_string)
        return too_long(d);
    if (d->pos + 8 * n > d->end)
        return truncated(d);
    p = arena_alloc(d, (size_t)olen, 1);
    if (!p)
        return xb_dec_nomem(d);
    memcpy(p, lead.p, lead.n);
    k = lead.n;
    i = 0;
    if (!width) /* whole groups of 6 bytes: 48 bits (one load: the 8 bytes from
                   pos / 8 hold them, pos % 8 <= 7), 8 characters, no branch */
        for (; i + 6 <= n; i += 6) {
            const uint64_t w = (load64_be(d->data + (size_t)(d->pos >> 3)) << (d->pos & 7)) >> 16;
            d->pos += 48;
            b64_chars(p + k, (uint32_t)(w >> 24));
            b64_chars(p + k + 4, (uint32_t)w & 0xFFFFFFu);
            k += 8;
        }
    for (; i < n; i += 3) {
        char q[4];
        if (i + 3 <= n) { /* a whole group: 24 bits */
            const uint32_t w = peek32(d) >> 8;
            d->pos += 24;
            b64_chars(q, w);
        } else {
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
            q[0] = B64[b0 >> 2];
            q[1] = B64[((b0 & 3) << 4) | (b1 >> 4)];
            q[2] = i + 1 < n ? B64[((b1 & 15) << 2) | (b2 >> 6)] : '=';
            q[3] = i + 2 < n ? B64[b2 & 63] : '=';
        }
        if (!width || col + 4 <= width) { /* no line ends among the four */
            memcpy(p + k, q, 4);
            k += 4;
            col += 4;
            continue;
        }
        for (unsigned j = 0; j < 4; j++) {
            if (col == width) { /* a new line */
                memcpy(p + k, sep.p, sep.n);
                k += sep.n;
                col = 0;
            }
            p[k++] = q[j];
            col++;
        }
    }
    memcpy(p + k, trail.p, trail.n);
    out->p = p;
    out->n = (size_t)olen;
    if (wrapped) /* TAB, LF or CR need references in attribute values */
        d->vclean = str_clean(*out);
    return 0;
}

/* any of model.JID_WS in s (NONE: no) */
static int has_jid_ws(xb_str s)
{
    size_t i = 0;
    for (; i + 8 <= s.n; i += 8) { /* words without a byte below 0x21 hold none (most parts) */
        uint64_t w;
        memcpy(&w, s.p + i, 8);
        if (((w - 0x2121212121212121ull) & ~w & 0x8080808080808080ull) != 0)
            break;
    }
    for (; i < s.n; i++)
        if (s.p[i] == ' ' || s.p[i] == '\t' || s.p[i] == '\r' || s.p[i] == '\n')
            return 1;
    return 0;
}

static inline int value1(xb_dec *d, unsigned vctx, int secret, int recall, xb_str *out);

/* a JID's parts (secret: never-indexed, stream mode) */
static int read_jid(xb_dec *d, uint32_t s, unsigned vctx, int secret, xb_str *out)
{
    xb_str local = NONE, domain = EMPTY, res = NONE;
    xb_str at = {AT_PAD, 1}, slash = {SLASH_PAD, 1};
    int clean = 1;
    if (vctx == XB_VC_JID_LOCAL || vctx == XB_VC_JID_DOMAIN || vctx == XB_VC_JID_RESOURCE)
        return FAIL(d, "JID inside a JID part");
    if (s != XB_V_JID_DR) {
        TRY(value1(d, XB_VC_JID_LOCAL, secret, 0, &local));
        clean &= d->vclean;
    }
    TRY(value1(d, XB_VC_JID_DOMAIN, secret, 0, &domain));
    clean &= d->vclean;
    if (s != XB_V_JID_LD) {
        TRY(value1(d, XB_VC_JID_RESOURCE, secret, 0, &res));
        clean &= d->vclean;
    }
    d->vclean = clean;
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

/* a string of the stream state, copied into the arena (the state's strings may
 * be evicted before the message is written) */
static int stream_copy(xb_dec *d, const char *p, size_t n, xb_str *out)
{
    char *c = arena_alloc(d, n, 1);
    if (!c)
        return xb_dec_nomem(d);
    if (n)
        memcpy(c, p, n);
    out->p = c;
    out->n = n;
    d->vclean = str_clean(*out);
    return 0;
}

static int read_extend(xb_dec *d, unsigned vctx, xb_str *out);

/* _value(vctx, secret, recall): one string, without counting it towards
 * max_size. d->stream is the stream's state in stream mode (then references
 * are to its dynamic table, RECENT and EXTEND exist), NULL for a stateless
 * message (references are to the message's history); secret and recall are
 * 0 outside stream mode. */
static XB_NOINLINE int value1_sym(xb_dec *d, uint32_t s, unsigned vctx, int secret, int recall, xb_str *out)
{
    xb_stream *st = d->stream;
    xb_str r = EMPTY;
    if (s >= XB_V_REF && s <= XB_V_REF_FAR) {
        uint64_t i, n = st ? st->ntab : d->nhist;
        if (secret)
            return FAIL(d, "never-indexed value coded as a reference");
        if (s < XB_V_REF_FAR) {
            i = s - XB_V_REF;
        } else {
            uint32_t g = 0;
            TRY(read_gamma(d, &g));
            if (!st) {
                i = (uint64_t)g + XB_REF_NEAR - 1;
            } else { /* relative to the last REF_FAR (spec 14.3): the zigzag of i - last_far, plus 1 */
                uint64_t z = (uint64_t)g - 1;
                if (!(z & 1)) {
                    i = (uint64_t)st->last_far + (z >> 1);
                } else if ((z + 1) >> 1 <= st->last_far) {
                    i = (uint64_t)st->last_far - ((z + 1) >> 1);
                } else {
                    return FAIL(d, "far reference to string %lld, below %d",
                                (long long)st->last_far - (long long)((z + 1) >> 1), XB_REF_NEAR);
                }
                if (i < XB_REF_NEAR)
                    return FAIL(d, "far reference to string %llu, below %d", (unsigned long long)i, XB_REF_NEAR);
            }
        }
        if (i >= n)
            return FAIL(d, "reference to string %llu of %llu", (unsigned long long)i, (unsigned long long)n);
        if (st) {
            const xb_tent *t = &st->tab[st->ntab - 1 - i];
            if (s == XB_V_REF_FAR)
                st->last_far = (size_t)i;
            TRY(stream_copy(d, xb_stab_bytes(st, t), t->n, out));
            st->vh = t->h;
            st->vh_p = out->p;
            st->vh_n = out->n;
            return xb_stab_use(st, (size_t)i) ? xb_dec_nomem(d) : 0;
        }
        *out = d->hist[d->nhist - 1 - i].s;
        d->vclean = d->hist[d->nhist - 1 - i].clean;
        return 0;
    }
    if (s >= XB_V_RECENT && s < XB_V_EXTEND) {
        unsigned k = s - XB_V_RECENT;
        const xb_recent *rl;
        if (st && secret)
            return FAIL(d, "never-indexed value coded as RECENT");
        if (!st || !recall) /* stateless messages remember no values */
            return FAIL(d, "RECENT outside the values a stream context remembers");
        rl = &st->recent[vctx];
        if (k >= rl->n) /* (every listed value is recallable: spec 14.3) */
            return FAIL(d, "RECENT %u is no recallable recent value of its context", k);
        TRY(stream_copy(d, rl->v[k].p, rl->v[k].n, out));
        st->vh = rl->v[k].h;
        st->vh_p = out->p;
        st->vh_n = out->n;
        return 0;
    }
    /* INT, UUID, HEX and B64 strings without a layout are clean; LIT, EXTEND,
       JID and a B64 layout set vclean */
    switch (s) {
    case XB_V_LIT:
        TRY(read_literal(d, secret, &r));
        break;
    case XB_V_EXTEND:
        if (st && secret)
            return FAIL(d, "never-indexed value coded as EXTEND");
        if (!st || !recall)
            return FAIL(d, "EXTEND outside the values a stream context remembers");
        TRY(read_extend(d, vctx, &r));
        break;
    case XB_V_INT: {
        uint64_t ib;
        TRY(read_int(d, st && recall && !secret && xb_sint_base(st, vctx, &ib) ? &ib : NULL, &r));
        break;
    }
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
        TRY(read_jid(d, s, vctx, secret, &r));
        break;
    }
    /* len(out) > max_string // 4 and len(out.encode()) > max_string */
    if (r.n > d->opt->max_string)
        return too_long(d);
    if (st) {
        if (!secret) {
            st->vh = xb_shash(r.p, r.n);
            st->vh_p = r.p;
            st->vh_n = r.n;
            if (xb_stab_add(st, r.p, r.n, st->vh))
                return xb_dec_nomem(d);
        }
    } else {
        RESERVE(d->hist, d->cap_hist, d->nhist + 1);
        d->hist[d->nhist].s = r;
        d->hist[d->nhist].clean = d->vclean;
        d->nhist++;
    }
    *out = r;
    return 0;
}

/* value1 with its common cases inline (a token of the dictionary, the empty
 * string); value1_sym reads every other form of the symbol s. */
static inline int value1(xb_dec *d, unsigned vctx, int secret, int recall, xb_str *out)
{
    uint32_t s = 0;
    TRY(read_sym(d, &d->dict->codes[XB_T_VALUE][vctx], &s));
    d->vclean = 1;
    if (s >= XB_V_TOKEN) {
        *out = d->dict->pad_values[s - XB_V_TOKEN];
        d->vclean = out->p[-1]; /* see xb_dictionary.pad_values */
        return 0;
    }
    if (s == XB_V_EMPTY) {
        *out = EMPTY;
        return 0;
    }
    return value1_sym(d, s, vctx, secret, recall, out);
}

static int value_(xb_dec *d, unsigned vctx, xb_str *out)
{
    return value1(d, vctx, 0, 0, out);
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
    *out = d->dict->pad_prefixes[s - 1];
    return 0;
}

/* a name; *tok: its index in the dictionary's names, -1 for a literal */
static int read_name(xb_dec *d, unsigned ctx, xb_str *out, long *tok)
{
    uint32_t s = 0;
    TRY(read_sym(d, &d->dict->codes[XB_T_NAME][ctx], &s));
    *tok = (long)s - 1;
    if (s == XB_NM_LITERAL)
        return ncname(d, XB_VC_NAME, "name", out);
    *out = d->dict->pad_names[s - 1];
    return 0;
}

static int read_ns(xb_dec *d, xb_str *out)
{
    uint32_t s = 0;
    TRY(read_sym(d, &d->dict->codes[XB_T_NS][0], &s));
    if (s == XB_NS_LITERAL)
        return tag_string(d, XB_VC_NSURI, out);
    *out = d->dict->pad_namespaces[s - 1];
    return 0;
}

/* an item of a generic start tag; actx: its attribute context (-1 for a
 * namespace declaration), XB_CTX_LOOKUP to look qname up */
#define XB_CTX_LOOKUP (-2)
static int push_kitem(xb_dec *d, int is_ns, xb_str qname, xb_str uri, int actx)
{
    xb_kitem *it;
    RESERVE(d->kitems, d->cap_kitems, d->nkitems + 1);
    it = &d->kitems[d->nkitems++];
    it->is_ns = (uint8_t)is_ns;
    it->attr_ctx = (int16_t)(actx != XB_CTX_LOOKUP ? actx : xb_context_index(d->dict, 0, qname.p, qname.n));
    it->qname = qname;
    it->uri = uri;
    return 0;
}

/* no XB_ESCAPABLE byte in s */
/* 1 for the bytes XB_ESCAPABLE names */
static const uint8_t ESCAPABLE[256] = {['\t'] = 1, ['\n'] = 1, ['\r'] = 1, ['"'] = 1,
                                       ['&'] = 1,  ['\''] = 1, ['<'] = 1,  ['>'] = 1};

/* s has no byte escaping may replace (a table look-up per byte, four at a
 * time, instead of eight comparisons) */
static int str_clean(xb_str s)
{
    const uint8_t *p = (const uint8_t *)s.p;
    size_t i = 0;
    unsigned m = 0;
    for (; i + 4 <= s.n; i += 4)
        if (ESCAPABLE[p[i]] | ESCAPABLE[p[i + 1]] | ESCAPABLE[p[i + 2]] | ESCAPABLE[p[i + 3]])
            return 0;
    for (; i < s.n; i++)
        m |= ESCAPABLE[p[i]];
    return !m;
}

static int has_colon(const char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (p[i] == ':')
            return 1;
    return 0;
}

/* shape_plain's rule (dict.c) for the qname of an attribute: no ':' or xml:x */
static int plain_attr_qname(xb_str q)
{
    if (!has_colon(q.p, q.n))
        return 1;
    return q.n >= 4 && memcmp(q.p, "xml:", 4) == 0 && !has_colon(q.p + 4, q.n - 4);
}

/* generic_start(): a start tag spelled out; *info: its xb_shape_info, worked
 * out item by item from how each is coded */
static int generic_start(xb_dec *d, const xb_key **out, unsigned *info)
{
    unsigned plain = 1, nsclean = 1;
    size_t pl, k;
    long tok = -1, etok;
    const xb_hcode *acode = &d->dict->codes[XB_T_AITEM][0];
    uint32_t max_attr = d->opt->max_attributes;
    xb_str pfx = EMPTY, local = EMPTY, name = EMPTY, colon = {COLON_PAD, 1}, xmlns_colon = {XMLNS_COLON_PAD, 6};
    xb_key *key;
    xb_kitem *items;
    const xb_pelem *pe;
    TRY(read_prefix(d, &pfx));
    TRY(read_name(d, XB_NMC_ELEMENT, &local, &tok));
    etok = tok;
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
        /* the checks of xb_shape_info: shape_plain (dict.c) for an xmlns
         * item, a prefixed attribute (xml:x only) and a named one (no ':') */
        switch (s) {
        case XB_A_XMLNS:
            TRY(read_ns(d, &v));
            q = (xb_str){XMLNS_PAD, 5};
            plain &= !str_eqz(v, XML_NS) && !str_eqz(v, XMLNS_NS);
            nsclean &= (unsigned)str_clean(v);
            TRY(push_kitem(d, 1, q, v, -1));
            break;
        case XB_A_XMLNS_PREFIX:
            TRY(read_prefix(d, &p));
            if (!p.n)
                return FAIL(d, "empty prefix in a prefixed namespace declaration");
            TRY(read_ns(d, &v));
            TRY(concat3(d, xmlns_colon, p, EMPTY, &q));
            plain &= !str_eqz(p, "xmlns") && str_eqz(p, "xml") == str_eqz(v, XML_NS) && !str_eqz(v, XMLNS_NS) &&
                     v.n != 0;
            nsclean &= (unsigned)str_clean(v);
            TRY(push_kitem(d, 1, q, v, -1));
            break;
        case XB_A_PREFIXED:
            TRY(read_prefix(d, &p));
            if (!p.n || str_eqz(p, "xmlns"))
                return FAIL(d, "invalid attribute prefix");
            TRY(read_name(d, XB_NMC_ATTR, &local, &tok));
            TRY(concat3(d, p, colon, local, &q));
            plain &= (unsigned)plain_attr_qname(q);
            TRY(push_kitem(d, 0, q, EMPTY, XB_CTX_LOOKUP));
            break;
        default: {
            int actx = XB_CTX_LOOKUP;
            unsigned nf; /* XB_NAME_* of q */
            if (s == XB_A_LITERAL) {
                TRY(ncname(d, XB_VC_NAME, "attribute name", &q));
                nf = (has_colon(q.p, q.n) ? XB_NAME_COLON : 0u) | (str_eqz(q, "xmlns") ? XB_NAME_XMLNS : 0u);
            } else {
                q = d->dict->pad_names[s - XB_A_NAME];
                actx = d->dict->name_attr_ctx[s - XB_A_NAME];
                nf = d->dict->name_flags[s - XB_A_NAME];
            }
            if (nf & XB_NAME_XMLNS)
                return FAIL(d, "namespace declaration coded as an attribute");
            if (nf & XB_NAME_COLON) /* (xmlns:x too is not plain) */
                plain &= (unsigned)plain_attr_qname(q);
            TRY(push_kitem(d, 0, q, EMPTY, actx));
            break;
        }
        }
        /* qnames pairwise distinct */
        for (k = 0; plain && k + 1 < d->nkitems; k++)
            plain = !str_eq(d->kitems[k].qname, q);
    }
    key = arena_alloc(d, sizeof(xb_key), 16);
    items = arena_alloc(d, sizeof(xb_kitem) * (d->nkitems ? d->nkitems : 1), 16);
    if (!key || !items)
        return xb_dec_nomem(d);
    if (d->nkitems)
        memcpy(items, d->kitems, sizeof(xb_kitem) * d->nkitems);
    key->name = name;
    key->text_ctx = (int16_t)(!pfx.n && etok >= 0 ? d->dict->name_text_ctx[etok]
                                                   : xb_context_index(d->dict, 1, name.p, name.n));
    key->node_cls = (uint16_t)(!pfx.n && etok >= 0 ? d->dict->name_node_cls[etok]
                                                   : xb_node_class(d->dict, name.p, name.n));
    key->nitems = (uint32_t)d->nkitems;
    key->items = items;
    /* an "element attribute" context replaces the attribute's (spec 8.5) */
    pe = !pfx.n && etok >= 0 ? d->dict->name_pairs[etok] : xb_pair_elem(d->dict, name.p, name.n);
    if (pe)
        for (k = 0; k < d->nkitems; k++)
            if (!items[k].is_ns) {
                const int c = xb_pair_find(pe, items[k].qname.p, items[k].qname.n);
                if (c >= 0)
                    items[k].attr_ctx = (int16_t)c;
            }
    *out = key;
    /* the element prefix: rpartition(":")[0], not "xmlns"; with a local
       name from the dictionary that has no ':', the prefix read */
    if (etok >= 0 && !(d->dict->name_flags[etok] & XB_NAME_COLON)) {
        pl = pfx.n;
    } else {
        pl = name.n;
        while (pl > 0 && name.p[pl - 1] != ':')
            pl--;
        pl = pl ? pl - 1 : 0;
    }
    if ((pl == 5 && memcmp(name.p, "xmlns", 5) == 0) || pl >= (1u << (16 - XB_SHAPE_PFX_SHIFT)))
        plain = 0;
    *info = (plain ? XB_SHAPE_PLAIN | (unsigned)(pl << XB_SHAPE_PFX_SHIFT) : 0u) | (nsclean ? XB_SHAPE_NS_CLEAN : 0u);
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
            return xb_dec_nomem(d);
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

/* ---- output while decoding (messages that are not exact) ------------------
 * serialize() in the default style without deviations, node by node: empty
 * elements self-close as <x/>, attribute values in single quotes. The '>' of a
 * start tag waits for the next node (open_tag): "/>" if that is its end. */

/* out_room when out is too small (need includes the padding): grown, or -1
 * if the output would pass max_size, or an error code. */
static XB_NOINLINE int out_grow(xb_dec *d, uint64_t need)
{
    size_t max = d->opt->max_size, c;
    char *q;
    if (d->out_over || need > max || d->out.n > max - need)
        return -1;
    c = d->out.cap < 128 ? 256 : 2 * d->out.cap;
    if (c < d->out.n + need)
        c = d->out.n + (size_t)need;
    q = realloc(d->out.p, c);
    if (!q)
        return xb_dec_nomem(d);
    d->out.p = q;
    d->out.cap = c;
    return 0;
}

/* Room for need more bytes in out: 0 if there is (write unchecked), -1 if the
 * output would pass max_size (write with put, which counts what is past it),
 * else an error code. The common case (room) is inline. */
static inline int out_room(xb_dec *d, uint64_t need)
{
    need += XB_STR_PAD; /* for w_copy */
    if (XB_LIKELY(need <= d->out.cap - d->out.n))
        return 0;
    return out_grow(d, need);
}

#define OUT_ROOM(d, need, checked)                                                                         \
    do {                                                                                                   \
        int r_ = out_room((d), (need));                                                                    \
        if (r_ > 0)                                                                                        \
            return r_;                                                                                     \
        if (r_ < 0)                                                                                        \
            return (checked);                                                                              \
    } while (0)

static int emit_open_checked(xb_dec *d, xb_str name)
{
    TRY(PUTL(d, "<"));
    return xb_dec_put_str(d, name);
}

/* "<name": then emit_attr for each item, and the '>' waits (open_tag) */
static int emit_open(xb_dec *d, xb_str name)
{
    char *o;
    d->open_tag = 1;
    OUT_ROOM(d, 1 + (uint64_t)name.n, emit_open_checked(d, name));
    o = d->out.p + d->out.n;
    *o++ = '<';
    o = xb_dec_w_copy(o, name.p, name.n);
    d->out.n = (size_t)(o - d->out.p);
    return 0;
}

static int emit_attr_checked(xb_dec *d, const xb_item *it)
{
    return xb_dec_put_attr(d, it, xb_dec_attr_mask(&d->st, '\''));
}

/* " qname='value'" */
static int emit_attr(xb_dec *d, const xb_item *it)
{
    char *o;
    OUT_ROOM(d, 4 + (uint64_t)it->qname.n + (it->clean ? 1 : 6) * (uint64_t)it->value.n, emit_attr_checked(d, it));
    o = d->out.p + d->out.n;
    *o++ = ' ';
    o = xb_dec_w_copy(o, it->qname.p, it->qname.n);
    W_LIT(o, "='");
    if (it->clean)
        o = xb_dec_w_copy(o, it->value.p, it->value.n);
    else
        o = xb_dec_w_escaped(o, it->value, xb_dec_attr_mask(&d->st, '\''), 0);
    *o++ = '\'';
    d->out.n = (size_t)(o - d->out.p);
    return 0;
}

/* the end of the open start tag: "/>" if the element is empty, else ">" */
static int emit_tag_end(xb_dec *d, int empty)
{
    d->open_tag = 0;
    return empty ? PUTL(d, "/>") : PUTL(d, ">");
}

static int emit_end_checked(xb_dec *d, xb_str name)
{
    TRY(PUTL(d, "</"));
    TRY(xb_dec_put_str(d, name));
    return PUTL(d, ">");
}

/* "</name>" */
static int emit_end(xb_dec *d, xb_str name)
{
    char *o;
    OUT_ROOM(d, 3 + (uint64_t)name.n, emit_end_checked(d, name));
    o = d->out.p + d->out.n;
    W_LIT(o, "</");
    o = xb_dec_w_copy(o, name.p, name.n);
    *o++ = '>';
    d->out.n = (size_t)(o - d->out.p);
    return 0;
}

static int emit_text_checked(xb_dec *d, xb_str v, int clean)
{
    if (clean)
        return xb_dec_put_str(d, v);
    return xb_dec_put_escaped(d, v, xb_dec_text_mask(&d->st), !d->st.text_gt);
}

/* text inside the root element (escaped unless clean) */
static int emit_text(xb_dec *d, xb_str v, int clean)
{
    char *o;
    OUT_ROOM(d, (clean ? 1 : 6) * (uint64_t)v.n, emit_text_checked(d, v, clean));
    o = d->out.p + d->out.n;
    if (clean)
        o = xb_dec_w_copy(o, v.p, v.n);
    else
        o = xb_dec_w_escaped(o, v, xb_dec_text_mask(&d->st), !d->st.text_gt);
    d->out.n = (size_t)(o - d->out.p);
    return 0;
}

/* a comment or processing instruction */
static int emit_misc(xb_dec *d, int comment, xb_str v)
{
    TRY(comment ? PUTL(d, "<!--") : PUTL(d, "<?"));
    TRY(xb_dec_put_str(d, v));
    return comment ? PUTL(d, "-->") : PUTL(d, "?>");
}

/* ---- structure (_Decoder.run) ---------------------------------------------- */
static int push_event(xb_dec *d, int type, xb_str s, size_t first, uint32_t nitems)
{
    xb_event *e;
    RESERVE(d->ev, d->cap_ev, d->nev + 1);
    e = &d->ev[d->nev++];
    e->type = (uint8_t)type;
    e->clean = 0;
    e->s = s;
    e->first = first;
    e->nitems = nitems;
    return 0;
}


/* s consists of SP/TAB/CR/LF only ([ \t\r\n]*) */
static int all_ws(xb_str s)
{
    size_t i;
    for (i = 0; i < s.n; i++)
        if (!xb_xml_ws(s.p[i]))
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

/* "\n" and spaces: the usual indentation strings are prefixes of it */
#define INDENT_LEN 128
static const char INDENT[INDENT_LEN + XB_STR_PAD] =
    "\n                                                               "
    "                                                                ";

static int text_node(xb_dec *d, uint32_t s, size_t depth, int *prev_text)
{
    xb_str v = NONE;
    int is_ws, clean;
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
        if (d->stream && depth) /* stream mode */
            TRY(stream_content_value(d, vctx, &v));
        else
            TRY(value(d, vctx, &v));
        if (!v.n && (!d->exact || depth == 0))
            return FAIL(d, "empty text node"); /* exact mode: checked in lexical() */
        clean = d->vclean;
        is_ws = is_ws_only(v);
    } else {
        if (d->stream) /* stream mode */
            stream_ws_ordinal(d, depth);
        if (s == XB_N_WS_SAME) {
            v = d->ws[depth];
        } else if (depth == 0) {
            v = NONE;
        } else if (s == XB_N_WS_PARENT) {
            v = d->ws[depth - 1];
        } else {
            xb_str base = d->ws[depth - 1];
            v = NONE;
            if (base.p == INDENT && base.n + (s - XB_N_WS_DEEPER + 1) <= INDENT_LEN) {
                v.p = INDENT;
                v.n = base.n + (s - XB_N_WS_DEEPER + 1);
            } else if (base.p) {
                size_t k = s - XB_N_WS_DEEPER + 1;
                char *p = arena_alloc(d, base.n + k, 1);
                if (!p)
                    return xb_dec_nomem(d);
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
        /* whitespace memory holds is_ws_only strings (or "\n"), and so does
         * the string of a whitespace symbol: never changed by escape_text */
        is_ws = 1;
        clean = 1;
    }
    if (is_ws)
        d->ws[depth] = v;
    if (depth == 0) {
        if (!d->exact || !all_ws(v))
            return FAIL(d, "text outside the root element");
    } else {
        d->ctx[depth] = is_ws ? XB_NC_AFTER_WS : XB_NC_AFTER_OTHER;
    }
    if (d->exact) {
        TRY(push_event(d, EV_T, v, 0, 0));
        d->ev[d->nev - 1].clean = (uint8_t)clean;
    } else {
        TRY(emit_text(d, v, clean)); /* depth > 0: text outside the root failed */
    }
    *prev_text = 1;
    return 0;
}

static int misc_node(xb_dec *d, uint32_t s, size_t depth)
{
    xb_str v = EMPTY;
    if (!d->opt->allow_comments)
        return xb_dec_seterr(d, XB_ERR_RESTRICTED, OFFSET(d), XB_LIMIT_NONE, "%s not allowed (RFC 6120 11.1)",
                      s == XB_N_COMMENT ? "comment" : "processing instruction");
    TRY(value(d, XB_VC_MISC, &v));
    TRY(count(d, 1));
    if (s == XB_N_COMMENT) {
        if (str_contains(v, "--") || (v.n && v.p[v.n - 1] == '-'))
            return FAIL(d, "invalid comment text");
    } else {
        xb_str target = v;
        size_t i = 0;
        while (i < v.n && !xb_xml_ws(v.p[i]))
            i++;
        target.n = i;
        if (!is_name(target, 1) || memchr(target.p, ':', target.n) ||
            (target.n == 3 && (target.p[0] | 0x20) == 'x' && (target.p[1] | 0x20) == 'm' &&
             (target.p[2] | 0x20) == 'l') ||
            str_contains(v, "?>") || (i < v.n && !xb_xml_ws(v.p[i])))
            return FAIL(d, "invalid processing instruction");
    }
    if (d->exact)
        TRY(push_event(d, s == XB_N_COMMENT ? EV_C : EV_P, v, 0, 0));
    else
        TRY(emit_misc(d, s == XB_N_COMMENT, v));
    if (depth)
        d->ctx[depth] = XB_NC_AFTER_OTHER;
    return 0;
}

/* After PERMUTED (spec 8.5): the static shape, a node symbol in context c, and
 * the rank of the order its items are written in; the key, in the message's
 * arena, lists them in that order */
static int permuted(xb_dec *d, unsigned c, const xb_key **out, unsigned *info)
{
    uint32_t s = 0, r1 = 0;
    unsigned k, i, order[XB_PERM_MAX];
    uint64_t r;
    const xb_key *shape;
    xb_key *key;
    xb_kitem *items;
    TRY(read_sym(d, &d->dict->codes[XB_T_NODE][c], &s));
    if (s < XB_N_SHAPE)
        return FAIL(d, "PERMUTED not followed by a static shape");
    shape = &d->dict->pad_shapes[s - XB_N_SHAPE];
    k = shape->nitems;
    if (k < XB_PERM_MIN || k > XB_PERM_MAX)
        return FAIL(d, "PERMUTED of a shape of %u items (2-12)", k);
    TRY(read_bits(d, xb_perm_bits(k), &r1)); /* (at most 29 bits) */
    r = (uint64_t)r1 + 1;
    if (r >= xb_factorial(k))
        return FAIL(d, "permutation rank %llu of %u items", (unsigned long long)r, k);
    key = arena_alloc(d, sizeof(xb_key), 16);
    items = arena_alloc(d, sizeof(xb_kitem) * k, 16);
    if (!key || !items)
        return xb_dec_nomem(d);
    xb_perm_order(r, k, order);
    for (i = 0; i < k; i++)
        items[i] = shape->items[order[i]];
    *key = *shape;
    key->items = items;
    *out = key;
    *info = d->dict->shape_info[s - XB_N_SHAPE]; /* (no fact of the order) */
    return 0;
}

/* returns 1 in *stop when a stream header's root start tag has been read */
static int element(xb_dec *d, uint32_t s, size_t depth, uint64_t *nelements, int *root_seen, int *stop)
{
    const xb_decode_options *o = d->opt;
    const xb_key *key = NULL;
    size_t first, k, j, bind_base;
    unsigned info = 0;
    int emit, plain;
    if (depth == 0 && *root_seen)
        return FAIL(d, "second root element");
    *nelements += 1;
    if (*nelements > o->max_elements)
        return LIMIT(d, XB_LIMIT_MAX_ELEMENTS, "more than max_elements=%lu elements", (unsigned long)o->max_elements);
    if ((uint64_t)depth + 1 > o->max_depth)
        return LIMIT(d, XB_LIMIT_MAX_DEPTH, "nesting deeper than max_depth=%lu", (unsigned long)o->max_depth);
    if (d->stream) { /* stream mode: the stream's shape cache */
        TRY(stream_cache(d, s, &key, &info));
        goto cached;
    }
    /* the shape cache: the entry used (or the new one) moves to the front */
#define CACHE_AT(i) ((d->chead + (unsigned)(i)) % XB_SHAPE_CACHE)
    if (s >= XB_N_SHAPE || s == XB_N_GENERIC || s == XB_N_PERMUTED) {
        if (s == XB_N_GENERIC) {
            TRY(generic_start(d, &key, &info)); /* info is kept in the cache with the key */
#ifdef XB_CHECK_SHAPE_INFO
            if (info != xb_shape_info(key))
                abort();
#endif
        } else {
            if (s == XB_N_PERMUTED) {
                TRY(permuted(d, d->ctx[depth], &key, &info));
            } else {
                key = &d->dict->pad_shapes[s - XB_N_SHAPE];
                info = d->dict->shape_info[s - XB_N_SHAPE];
            }
            if (key->nitems > o->max_attributes)
                return LIMIT(d, XB_LIMIT_MAX_ATTRIBUTES, "more than max_attributes=%lu attributes",
                             (unsigned long)o->max_attributes);
        }
        /* a new entry 0; when the ring is full that slot held the oldest */
        d->chead = CACHE_AT(XB_SHAPE_CACHE - 1);
        if (d->ncache < XB_SHAPE_CACHE)
            d->ncache++;
    } else {
        j = s - XB_N_LOCAL;
        if (j >= d->ncache)
            return FAIL(d, "shape cache entry %lu of %lu", (unsigned long)j, (unsigned long)d->ncache);
        key = d->cache[CACHE_AT(j)];
        info = d->cache_info[CACHE_AT(j)];
        for (; j > 0; j--) {
            d->cache[CACHE_AT(j)] = d->cache[CACHE_AT(j - 1)];
            d->cache_info[CACHE_AT(j)] = d->cache_info[CACHE_AT(j - 1)];
        }
    }
    d->cache[d->chead] = key;
    d->cache_info[d->chead] = (uint16_t)info;
#undef CACHE_AT
cached:
    /* names and dictionary strings count toward max_size like values */
    TRY(check_len(d, key->name));
    TRY(count(d, key->name.n + 1)); /* "<" name */
    /* Not exact: the start tag is written as its items are read (the output
     * is dropped if an error follows). For a plain shape resolve_start only
     * pushes its namespace declarations (static URIs, in item order) and then
     * looks the element prefix up. */
    emit = !d->exact;
    plain = (info & XB_SHAPE_PLAIN) != 0;
    if (emit)
        TRY(emit_open(d, key->name));
    first = d->nitems;
    bind_base = d->nbinds;
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
            out->clean = (info & XB_SHAPE_NS_CLEAN) != 0; /* else found out when written */
            if (plain) {
                RESERVE(d->binds, d->cap_binds, d->nbinds + 1);
                d->binds[d->nbinds].prefix.p = it->qname.p + (it->qname.n > 5 ? 6 : 5);
                d->binds[d->nbinds].prefix.n = it->qname.n > 5 ? it->qname.n - 6 : 0;
                d->binds[d->nbinds].uri = it->uri;
                d->nbinds++;
            }
        } else {
            TRY(count(d, it->qname.n));
            unsigned vctx = it->attr_ctx >= 0 ? XB_VC_FIXED + (unsigned)it->attr_ctx : XB_VC_OTHER_ATTR;
            if (d->stream) /* stream mode */
                TRY(stream_content_value(d, vctx, &out->value));
            else
                TRY(value(d, vctx, &out->value));
            out->clean = d->vclean;
        }
        if (emit)
            TRY(emit_attr(d, out));
    }
    d->nitems = first + key->nitems;
    if (plain) {
        size_t pl = info >> XB_SHAPE_PFX_SHIFT;
        if (pl) {
            xb_str pfx = {key->name.p, pl};
            if (!lookup_prefix(d, pfx).p)
                return FAIL(d, "unbound prefix %.*s in element %.*s", excerpt_len(pfx), pfx.p,
                            excerpt_len(key->name), key->name.p);
        }
    } else {
        /* (no items: no pointer into an items array that may not exist yet) */
        TRY(resolve_start(d, key->name, key->nitems ? &d->items[first] : NULL, key->nitems));
    }
    if (!emit)
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
    d->elems[d->nelems].node_cls = key->node_cls;
    d->elems[d->nelems].bind_base = bind_base;
    d->nelems++;
    d->ctx[d->nelems] = XB_NC_START;
    return 0;
}

/* a stateless node symbol in context ctx inside an element of node class k
 * (spec 8.3): the class's table, and after XB_N_ESCAPE the node table, which
 * may not then give a symbol the class lists */
static inline int read_node_cls(xb_dec *d, unsigned k, unsigned ctx, uint32_t *s)
{
    const xb_dictionary *dict = d->dict;
    const unsigned e = dict->nodecls_lut[(k - 1) * XB_NODECLS_CONTEXTS + ctx - 1][peek32(d) >> 24];
    const unsigned local = e >> 3;
    if (XB_UNLIKELY(d->pos + (e & 7u) + 1 > d->end))
        return truncated(d);
    d->pos += (e & 7u) + 1;
    if (local != XB_N_ESCAPE) {
        *s = dict->node_class_syms[k - 1][local - 1];
        return 0;
    }
    TRY(read_sym(d, &dict->codes[XB_T_NODE][ctx], s));
    if (dict->node_local[(size_t)(k - 1) * dict->nsym[XB_T_NODE] + *s])
        return FAIL(d, "node symbol listed in its class coded after N_ESCAPE");
    return 0;
}

/* noinline: element() is inlined here (one call site); with run() inlined into
 * decode_body instead, gcc keeps element() out of line, 2 % more instructions */
static XB_NOINLINE int run(xb_dec *d)
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
    d->ws[0] = (xb_str){INDENT, 1};
    d->nws = 1;

    for (;;) {
        size_t depth = d->nelems;
        uint32_t s = 0;
        int empty = 0;
        if (d->stream) /* stream mode: node prediction */
            TRY(stream_node_sym(d, d->ctx[depth], &s));
        else if (depth && d->elems[depth - 1].node_cls)
            TRY(read_node_cls(d, d->elems[depth - 1].node_cls, d->ctx[depth], &s));
        else
            TRY(read_sym(d, &ncodes[d->ctx[depth]], &s));
        if (d->open_tag) { /* then depth > 0: an END here is the element's own */
            empty = s == XB_N_END;
            TRY(emit_tag_end(d, empty));
        }
        if (s == XB_N_END) {
            if (depth == 0) {
                if (!root_seen)
                    return FAIL(d, "message has no root element");
                if (d->stream) /* stream mode */
                    stream_learn_end(d, s);
                break;
            }
            if (d->exact)
                TRY(push_event(d, EV_E, d->elems[depth - 1].name, 0, 0));
            else if (!empty)
                TRY(emit_end(d, d->elems[depth - 1].name));
            d->nbinds = d->elems[depth - 1].bind_base;
            d->nelems--;
            if (depth > 1)
                d->ctx[depth - 1] = XB_NC_AFTER_ELEM;
            prev_text = 0;
            if (d->stream) /* stream mode */
                stream_learn_end(d, s);
        } else if (s <= XB_N_WS_DEEPER + XB_WS_DEEPER_MAX - 1) {
            TRY(text_node(d, s, depth, &prev_text));
            if (d->stream) /* stream mode */
                stream_learn_other(d, s);
        } else if (s == XB_N_COMMENT || s == XB_N_PI) {
            TRY(misc_node(d, s, depth));
            prev_text = 0;
            if (d->stream) /* stream mode */
                stream_learn_other(d, s);
        } else {
            TRY(element(d, s, depth, &nelements, &root_seen, &stop));
            prev_text = 0;
            if (stop)
                break;
        }
    }
    if (d->open_tag) /* a stream header's root */
        TRY(emit_tag_end(d, 0));
    return 0;
}

/* ---- exact mode (_Decoder.lexical): the lexical section; its checks and the
 * serialization are in csrc/serialize.c ------------------------------------ */
static int lexical(xb_dec *d)
{
    uint32_t v = 0, g = 1, has_prolog = 0, plain = 0;
    uint64_t lex_total = 0, ndev, nslots = 0, idx, j;
    size_t k, depth = 0;
    xb_slot_cursor cur = {0, 0, 0};
    int kept = 0;

    if (d->stream) { /* stream mode (14.3): 1 = plain (the stream's style, no
                        prolog, no deviation), else 1 = the stream's style */
        TRY(read_bits(d, 1, &plain));
        if (plain) {
            stream_style_load(d);
            goto style_done;
        }
        TRY(stream_style(d, &kept));
        if (kept)
            goto style_done;
    }
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
    if (d->stream) /* stream mode */
        stream_style_save(d);
style_done:
    d->prolog = EMPTY;
    if (!plain)
        TRY(read_bits(d, 1, &has_prolog));
    if (has_prolog) {
        xb_str pr = EMPTY, enc = EMPTY;
        long end;
        int bom;
        TRY(value_(d, XB_VC_MISC, &pr));
        TRY(check_len(d, pr));
        bom = xb_starts_with(pr.p, pr.n, 0, "\xef\xbb\xbf");
        end = xb_match_xmldecl(pr, bom ? 3 : 0, &enc);
        if (!((bom && pr.n == 3) || (end >= 0 && (size_t)end == pr.n)))
            return FAIL(d, "invalid prolog");
        if (end >= 0 && enc.p && !xb_ascii_ieq(enc, "utf-8") && !xb_ascii_ieq(enc, "utf8"))
            return FAIL(d, "prolog declares an encoding other than UTF-8");
        lex_total += pr.n;
        d->prolog = pr;
    }
    if (!plain)
        TRY(read_gamma(d, &g));
    ndev = (uint64_t)g - 1;
    for (k = 0; k < d->nev; k++) {
        nslots += xb_event_slots(d, k, depth);
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
        xb_cursor_seek(d, &cur, idx, &kind, &ek, &item);
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
                while (a < b && xb_xml_ws(payload.p[a]))
                    a++;
                ok = a < b && payload.p[a] == '=';
                if (ok) {
                    xb_str rest = {payload.p + a + 1, payload.n - a - 1};
                    ok = all_ws(rest);
                }
            } else if (kind == XB_SL_TAGEND || kind == XB_SL_ENDWS) {
                ok = all_ws(payload);
            } else if (kind == XB_SL_TVAL) {
                int r = xb_unescape_eq(d, payload, 0, d->ev[ek].s);
                if (r < 0)
                    return xb_dec_nomem(d);
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
    /* an empty text node (exact mode only) is an empty CDATA section: its
       spelling must be given by a deviation (decoder.py: lexical) */
    {
        uint64_t slot = 0;
        size_t k, dc = 0, dep = 0;
        for (k = 0; k < d->nev; k++) {
            if (d->ev[k].type == EV_T && dep > 0 && d->ev[k].s.n == 0) {
                const xb_dev *dv = xb_dev_at(d, &dc, slot);
                if (!dv || dv->payload.n == 0)
                    return FAIL(d, "empty text node");
            }
            slot += xb_event_slots(d, k, dep);
            if (d->ev[k].type == EV_S)
                dep++;
            else if (d->ev[k].type == EV_E)
                dep--;
        }
    }
    return 0;
}

/* A message body from d->pos (after the stateless header, or a stream body,
 * which starts with its never-indexed list): main stream, lexical section,
 * end-of-message checks and serialization, as decoder.finish; shared by
 * stateless messages and stream frames. */
static int decode_body(xb_dec *d, const uint8_t *data, size_t len)
{
    uint64_t end_byte;
    d->prolog = EMPTY;
    d->st.text_gt = 1; /* STYLE_DEFAULT */
    if (!d->out.p && buf_reserve(&d->out, 256))
        return xb_dec_nomem(d);
    if (d->stream)
        TRY(stream_secrets(d));
    TRY(run(d));
    if (d->exact)
        TRY(lexical(d));
    end_byte = (d->pos + 7) >> 3;
    if (end_byte < len)
        return xb_dec_seterr(d, XB_ERR_TRAILING, (size_t)end_byte, XB_LIMIT_NONE, "%llu bytes after the end of the message",
                      (unsigned long long)(len - end_byte));
    if ((d->pos & 7) && (data[len - 1] & ((1u << (8 - (d->pos & 7))) - 1)))
        return xb_dec_seterr(d, XB_ERR_TRAILING, len - 1, XB_LIMIT_NONE, "padding bits are not zero");
    if (d->exact)
        return xb_serialize(d);
    if (d->out_over || d->out.n > d->opt->max_size) /* written while decoding */
        return xb_dec_seterr(d, XB_ERR_LIMIT, d->len, XB_LIMIT_MAX_SIZE, "output exceeds max_size=%lu",
                      (unsigned long)d->opt->max_size);
    return 0;
}

/* ---- entry points ------------------------------------------------------------- */
static int decode(xb_dec *d)
{
    const uint8_t *data = d->data;
    size_t len = d->len, hn = 0;
    unsigned kind = 0, id = 0;
    int exact = 0;
    if (len > d->opt->max_size)
        return xb_dec_seterr(d, XB_ERR_LIMIT, d->opt->max_size, XB_LIMIT_MAX_SIZE,
                      "message of %llu bytes exceeds max_size=%lu", (unsigned long long)len,
                      (unsigned long)d->opt->max_size);
    if (len < 2)
        return truncated(d);
    if (d->in.cap < len + XB_PAD && buf_reserve(&d->in, len + XB_PAD))
        return xb_dec_nomem(d);
    memcpy(d->in.p, data, len);
    memset(d->in.p + len, 0, XB_PAD);
    d->data = data = (const uint8_t *)d->in.p;
    d->plen = len + XB_PAD;
    switch (xb_read_header(data, len, &kind, &exact, &id, &hn)) {
    case XB_HDR_OK:
        break;
    case XB_HDR_VERSION:
        return xb_dec_seterr(d, XB_ERR_UNKNOWN_DICTIONARY, 0, XB_LIMIT_NONE, "unsupported format version %u",
                             (unsigned)data[0] >> 5);
    case XB_HDR_LONG_SHORT_ID:
        return xb_dec_seterr(d, XB_ERR_INVALID, 1, XB_LIMIT_NONE, "dictionary id %u in a two-byte header", id);
    default:
        return truncated(d);
    }
    d->kind = (int)kind;
    if (d->kind > XB_KIND_STREAM_OPEN)
        return xb_dec_seterr(d, XB_ERR_INVALID, 0, XB_LIMIT_NONE, "reserved message kind %d", d->kind);
    d->exact = exact;
    d->dict = xb_get_dictionary((int)id);
    if (!d->dict)
        return xb_dec_seterr(d, XB_ERR_UNKNOWN_DICTIONARY, hn - 1, XB_LIMIT_NONE, "unknown dictionary id %u", id);
    d->pos = 8 * (uint64_t)hn;
    d->end = (uint64_t)len * 8;
    return decode_body(d, data, len);
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
    free(d->win.p);
    if (!d->out_lent) /* else it is the caller's (xb_free frees it) */
        free(d->out.p);
    free(d->in.p);
}

/* A fresh decoder: no allocations. */
static void dec_init(xb_dec *d)
{
    memset(d, 0, sizeof(*d));
    d->chunk_size = CHUNK_MIN;
}

/* Forget the previous message but keep the allocations: the state is what
 * dec_init gives, with the same buffers behind it. */
static void dec_reset(xb_dec *d)
{
    xb_chunk *c = d->chunk;
    if (c) { /* keep the newest arena chunk, emptied */
        while (c->next) {
            xb_chunk *next = c->next->next;
            free(c->next);
            c->next = next;
        }
        c->used = 0;
    }
    memset(d, 0, DEC_MESSAGE_STATE);
    d->tmp.n = d->utmp.n = d->out.n = d->win.n = 0;
}

/* Bytes held by d's allocations (roughly). */
static size_t dec_footprint(const xb_dec *d)
{
    size_t n = d->cap_hist * sizeof(*d->hist) + d->cap_ev * sizeof(*d->ev) + d->cap_items * sizeof(*d->items) +
               d->cap_binds * sizeof(*d->binds) + d->cap_elems * sizeof(*d->elems) + d->cap_ctx +
               d->cap_ws * sizeof(*d->ws) + d->cap_kitems * sizeof(*d->kitems) +
               (d->cap_pa + d->cap_pb) * sizeof(xb_str) + d->cap_hset * sizeof(*d->hset) +
               d->cap_devs * sizeof(*d->devs) + d->cap_oc + d->tmp.cap + d->utmp.cap + d->out.cap + d->in.cap +
               d->win.cap;
    const xb_chunk *c;
    for (c = d->chunk; c; c = c->next)
        n += CHUNK_HDR + c->cap;
    return n;
}

/* ---- per-thread decoder cache -------------------------------------------------- */
/* A decoder whose allocations together exceed this is not kept. */
#define XB_CACHE_MAX_BYTES ((size_t)1 << 20)

#if XB_STATE_CACHE
/* The calling thread's decoder (NULL while a call uses it). The pthread key only
 * serves to free it when the thread ends: a decoder sets it (to itself) when it
 * is first cached, and cache_destroy runs in that thread. */
static _Thread_local xb_dec *tls_dec;
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static int cache_ok;

static void cache_destroy(void *p)
{
    xb_dec *d = tls_dec;
    (void)p;
    tls_dec = NULL;
    if (d) {
        dec_release(d);
        free(d);
    }
}

static void cache_init(void)
{
    cache_ok = pthread_key_create(&cache_key, cache_destroy) == 0;
}

/* The calling thread's decoder, taken out of the cache slot (a new one if
 * there is none); NULL when out of memory. Give it back with dec_put. */
static xb_dec *dec_get(xb_dec **slot)
{
    xb_dec *d = *slot;
    if (d) {
        *slot = NULL;
        if (d->out_lent) { /* not given back yet: it stays the caller's */
            d->out.p = NULL;
            d->out.cap = 0;
            d->out_lent = 0;
        }
        dec_reset(d);
        return d;
    }
    d = malloc(sizeof(*d));
    if (d)
        dec_init(d);
    return d;
}

/* Back into the cache, or freed if it holds too much (or cannot be cached).
 * The footprint is added up only after a message of more than SMALL_IN
 * bytes or with an output buffer over SMALL_OUT: a smaller one (at most 8
 * symbols a byte) grows the arrays by little, and most messages are small. */
#define SMALL_IN ((size_t)512)
#define SMALL_OUT ((size_t)64 * 1024)
static void dec_put(xb_dec **slot, xb_dec *d)
{
    if (!*slot && ((d->registered && d->len <= SMALL_IN && d->out.cap <= SMALL_OUT) ||
                   dec_footprint(d) <= XB_CACHE_MAX_BYTES)) {
        if (!d->registered && pthread_once(&cache_once, cache_init) == 0 && cache_ok &&
            pthread_setspecific(cache_key, d) == 0)
            d->registered = 1;
        if (d->registered) {
            *slot = d;
            return;
        }
    }
    dec_release(d);
    free(d);
}

#define DEC_SLOT (&tls_dec)

#if defined(__GNUC__)
/* At exit (or unload) the calling thread's decoder is freed; the other threads'
 * are freed when they end. */
__attribute__((destructor)) static void cache_fini(void)
{
    xb_dec *d = tls_dec;
    tls_dec = NULL;
    if (d) {
        dec_release(d);
        free(d);
    }
}
#endif
#else
static xb_dec *dec_get(xb_dec **slot)
{
    xb_dec *d = malloc(sizeof(*d));
    (void)slot;
    if (d)
        dec_init(d);
    return d;
}

static void dec_put(xb_dec **slot, xb_dec *d)
{
    (void)slot;
    dec_release(d);
    free(d);
}

#define DEC_SLOT NULL
#endif
static int init_failed(xb_result *res)
{
    res->error = XB_ERR_INIT;
    snprintf(res->message, sizeof(res->message), "the dictionary tables could not be built");
    return res->error;
}

static int out_of_memory(xb_result *res)
{
    res->error = XB_ERR_NOMEM;
    snprintf(res->message, sizeof(res->message), "out of memory");
    return XB_ERR_NOMEM;
}

/* a result before the call: no output, no error */
static void result_clear(xb_result *res)
{
    res->data = NULL;
    res->size = 0;
    res->error = XB_OK;
    res->limit = XB_LIMIT_NONE;
    res->offset = 0;
    res->message[0] = 0;
}

/* the output as a new allocation of the caller's (xb_free) */
static int result_copy(xb_dec *d, xb_result *res)
{
    unsigned char *p = malloc(d->out.n ? d->out.n : 1);
    if (!p)
        return xb_dec_nomem(d);
    if (d->out.n)
        memcpy(p, d->out.p, d->out.n);
    res->data = p;
    res->size = d->out.n;
    return XB_OK;
}

int xb_decode(const char *data, size_t size, const xb_decode_options *opt, xb_result *res)
{
    xb_dec *d, **slot;
    int rc;
    result_clear(res);
    if (XB_UNLIKELY(xb_init() != 0))
        return init_failed(res);
    slot = DEC_SLOT;
    d = dec_get(slot);
    if (!d)
        return out_of_memory(res);
    d->data = (const uint8_t *)(data ? data : "");
    d->len = data ? size : 0;
    d->opt = opt;
    d->res = res;
    rc = decode(d);
    if (rc == XB_OK) {
        if (XB_STATE_CACHE && d->out.cap <= 4 * d->out.n + 4096) {
            /* lend the output buffer: xb_free gives it back to this thread's
             * decoder (any other pointer it frees) */
            res->data = (unsigned char *)d->out.p;
            res->size = d->out.n;
            d->out_lent = 1;
        } else {
            /* a small output in a large buffer (or no cache): a copy; the
             * large buffer is dropped, the next messages start small again */
            rc = result_copy(d, res);
            if (rc == XB_OK) {
                free(d->out.p);
                d->out.p = NULL;
                d->out.cap = 0;
                d->out.n = 0;
            }
        }
    }
    dec_put(slot, d);
    return rc;
}

int xb_decode_many(size_t n, const char *const *datas, const size_t *sizes, const xb_decode_options *opt,
                   xb_batch *res)
{
    xb_dec *d, **slot;
    xb_buf all = {NULL, 0, 0};
    size_t i;
    int rc = XB_OK;
    memset(res, 0, sizeof(*res));
    if (xb_init() != 0)
        return init_failed(&res->error);
    if (n > SIZE_MAX / sizeof(size_t) - 1 || !(res->offsets = malloc((n + 1) * sizeof(size_t))))
        return out_of_memory(&res->error);
    res->offsets[0] = 0;
    slot = DEC_SLOT;
    d = dec_get(slot);
    if (!d) {
        free(res->offsets);
        res->offsets = NULL;
        return out_of_memory(&res->error);
    }
    for (i = 0; i < n; i++) {
        if (i)
            dec_reset(d);
        d->data = (const uint8_t *)(datas[i] ? datas[i] : "");
        d->len = datas[i] ? sizes[i] : 0;
        d->opt = opt;
        d->res = &res->error;
        rc = decode(d);
        if (rc == XB_OK && buf_reserve(&all, d->out.n ? d->out.n : 1))
            rc = xb_dec_nomem(d);
        if (rc != XB_OK) {
            res->index = i;
            break;
        }
        if (d->out.n)
            memcpy(all.p + all.n, d->out.p, d->out.n);
        all.n += d->out.n;
        res->offsets[i + 1] = all.n;
    }
    dec_put(slot, d);
    if (rc != XB_OK) {
        free(all.p);
        free(res->offsets);
        res->offsets = NULL;
        return rc;
    }
    if (!all.p && buf_reserve(&all, 1)) {
        free(res->offsets);
        res->offsets = NULL;
        return out_of_memory(&res->error);
    }
    res->data = (unsigned char *)all.p;
    res->size = all.n;
    return XB_OK;
}

void xb_free(void *p)
{
#if XB_STATE_CACHE
    /* the output of this thread's last xb_decode goes back to its decoder */
    xb_dec *d = tls_dec;
    if (d && d->out_lent && d->out.p == p && p) {
        d->out_lent = 0;
        return;
    }
#endif
    free(p);
}

/* ---- stream mode (spec 14.3) ------------------------------------------------- */
/* a stream state keeps its decoder's buffers only while they total at most
 * this (one state per connection: less than the per-thread decoder) */
#define XB_STREAM_DEC_KEEP ((size_t)1 << 18)

/* a decoder with the stream code set: its dictionary view */
typedef struct {
    xb_dec d;
    xb_dictionary dict;
} xb_sdec;

/* _value(vctx, secret, recall) */
static int stream_value(xb_dec *d, unsigned vctx, int secret, int recall, xb_str *out)
{
    xb_stream *s = d->stream;
    uint64_t h;
    if (!recall || secret)
        return value1(d, vctx, secret, 0, out);
    TRY(value1(d, vctx, secret, 1, out));
    /* (a value token or the empty string leaves vh as it was: another pointer) */
    h = out->n && out->p == s->vh_p && out->n == s->vh_n ? s->vh : xb_shash(out->p, out->n);
    s->vh_p = NULL;
    if (xb_sremember(s, vctx, out->p, out->n, h, out->n ? -1 : 1, -2))
        return xb_dec_nomem(d);
    return 0;
}

/* EXTEND: k, L, the first L bytes of recent value k, literal bytes */
static int read_extend(xb_dec *d, unsigned vctx, xb_str *out)
{
    xb_stream *s = d->stream;
    const xb_hcode *cc = d->dict->codes[XB_T_CHAR];
    uint32_t k = 0, n = 0, b = 0;
    uint32_t max_string = d->opt->max_string;
    const xb_sstr *src;
    size_t len;
    int clean = 1, chk;
    unsigned ctx;
    TRY(read_bits(d, 3, &k));
    TRY(read_gamma(d, &n));
    if (k >= s->recent[vctx].n || !s->recent[vctx].v[k].n)
        return FAIL(d, "EXTEND of recent value %u, which is no recallable recent value of its context", (unsigned)k);
    src = &s->recent[vctx].v[k];
    if (n > src->n)
        return FAIL(d, "EXTEND of %u bytes of a %u-byte value", (unsigned)n, (unsigned)src->n);
    d->tmp.n = 0;
    if (buf_reserve(&d->tmp, (size_t)n + 16))
        return xb_dec_nomem(d);
    memcpy(d->tmp.p, src->p, n);
    len = n;
    ctx = xb_char_ctx_after((const uint8_t *)d->tmp.p, len);
    for (;;) {
        TRY(read_sym(d, &cc[ctx], &b));
        if (b == 0)
            break;
        if (xb_is_copy(b)) {
            unsigned acc = 0;
            TRY(read_copy(d, (unsigned)b, 0, &len, &ctx, &acc));
            continue;
        }
        if (len + 1 > d->tmp.cap) {
            d->tmp.n = len;
            if (buf_reserve(&d->tmp, 16))
                return xb_dec_nomem(d);
        }
        d->tmp.p[len++] = (char)b;
        if (len > max_string)
            return too_long(d);
        ctx = xb_char_next[ctx][b];
    }
    chk = check_literal(d->tmp.p, len, &clean);
    if (chk == 1)
        return FAIL(d, "string is not valid UTF-8");
    if (chk == 2)
        return FAIL(d, "string contains a character not allowed in XML");
    TRY(window_add(d, d->tmp.p, len));
    return stream_copy(d, d->tmp.p, len, out);
}

/* content_value: an attribute value or a text node inside the root */
static int stream_content_value(xb_dec *d, unsigned vctx, xb_str *out)
{
    xb_stream *s = d->stream;
    int secret = 0;
    while (s->sec_pos < s->ndsec && s->dsec[s->sec_pos] < s->ordinal)
        s->sec_pos++;
    if (s->sec_pos < s->ndsec && s->dsec[s->sec_pos] == s->ordinal)
        secret = 1;
    s->ordinal++;
    TRY(stream_value(d, vctx, secret, 1, out));
    TRY(check_len(d, *out));
    return count(d, out->n);
}

/* a text node inside the root coded by a whitespace symbol has an ordinal too */
static void stream_ws_ordinal(xb_dec *d, size_t depth)
{
    if (depth)
        d->stream->ordinal++;
}

/* the next node symbol: in the predicted context if there is a prediction
 * (PRED stands for it), else in ctx (PRED invalid) */
static int stream_node_sym(xb_dec *d, unsigned ctx, uint32_t *sy)
{
    xb_stream *s = d->stream;
    const uint32_t n_pred = d->dict->nsym[XB_T_NODE] - 1;
    xb_pev p = xb_sprediction(s);
    if (!p.kind) {
        TRY(read_sym(d, &d->dict->codes[XB_T_NODE][ctx], sy));
        if (*sy == n_pred)
            return FAIL(d, "PRED without a prediction");
        return 0;
    }
    TRY(read_sym(d, &d->dict->codes[XB_T_NODE][ctx + XB_NODE_CONTEXTS], sy));
    if (*sy == n_pred)
        *sy = p.kind == 'N' ? p.v : (uint32_t)(XB_N_LOCAL + xb_scache_index(s, p.v));
    return 0;
}

/* after an end tag (the message's last included): the slot that predicted it
 * learns it; the next is the ended element's "after" (none after the root) */
static void stream_learn_end(xb_dec *d, uint32_t sy)
{
    xb_stream *s = d->stream;
    if (s->nopen) {
        uint32_t ser = s->open[--s->nopen];
        xb_slearn(s, 'N', sy, ser, XB_PS_AFTER);
    } else { /* the message's last END */
        xb_slearn(s, 'N', sy, XB_SERIAL_NONE, 0);
        s->root_prev = s->root_cur;
    }
}

/* after a text node, comment or PI: the next is the "text" slot of the
 * innermost open element (of the document at depth 0) */
static void stream_learn_other(xb_dec *d, uint32_t sy)
{
    xb_stream *s = d->stream;
    xb_slearn(s, 'N', sy, s->nopen ? s->open[s->nopen - 1] : XB_SERIAL_DOC, XB_PS_TEXT);
}

/* a copy of a generic start tag's key that lives with the stream state, its
 * strings followed by XB_STR_PAD zero bytes (as the decoder's strings) */
static xb_key *stream_key_copy(const xb_key *k, void **mem, size_t *size)
{
    size_t n = sizeof(xb_key) + k->nitems * sizeof(xb_kitem) + k->name.n + XB_STR_PAD, i;
    char *m, *o;
    xb_key *nk;
    xb_kitem *items;
    for (i = 0; i < k->nitems; i++)
        n += k->items[i].qname.n + k->items[i].uri.n + 2 * XB_STR_PAD;
    m = calloc(1, n);
    if (!m)
        return NULL;
    *size = n;
    nk = (xb_key *)(void *)m;
    items = (xb_kitem *)(void *)(m + sizeof(xb_key));
    o = m + sizeof(xb_key) + k->nitems * sizeof(xb_kitem);
    *nk = *k;
    nk->items = items;
#define STREAM_STR(dst, src)                                                                                 \
    do {                                                                                                   \
        if ((src).n)                                                                                       \
            memcpy(o, (src).p, (src).n);                                                                   \
        (dst).p = o;                                                                                       \
        (dst).n = (src).n;                                                                                 \
        o += (src).n + XB_STR_PAD;                                                                         \
    } while (0)
    STREAM_STR(nk->name, k->name);
    for (i = 0; i < k->nitems; i++) {
        items[i] = k->items[i];
        STREAM_STR(items[i].qname, k->items[i].qname);
        STREAM_STR(items[i].uri, k->items[i].uri);
    }
#undef STREAM_STR
    *mem = m;
    return nk;
}

/* the stream's shape cache for start tag symbol sy (GENERIC, SHAPE or LOCAL);
 * the entry moves (or enters) to the front, and the prediction slot learns it */
static int stream_cache(xb_dec *d, uint32_t sy, const xb_key **key, unsigned *info)
{
    xb_stream *s = d->stream;
    size_t n = s->ncache;
    uint32_t serial;
    xb_scache *slot;
    if (sy == XB_N_PERMUTED)
        return FAIL(d, "PERMUTED in stream mode");
    if (sy == XB_N_GENERIC || sy >= XB_N_SHAPE) {
        const xb_key *k;
        unsigned inf = 0;
        void *mem = NULL;
        size_t msize = 0;
        size_t c;
        /* room to bury the keys evicted by count or by bytes */
        RESERVE(s->dead, s->cap_dead, s->ndead + XB_SHAPE_CACHE + 1);
        if (sy == XB_N_GENERIC) {
            const xb_key *ak = NULL;
            TRY(generic_start(d, &ak, &inf));
            k = stream_key_copy(ak, &mem, &msize);
            if (!k)
                return xb_dec_nomem(d);
        } else {
            k = &d->dict->pad_shapes[sy - XB_N_SHAPE];
            inf = d->dict->shape_info[sy - XB_N_SHAPE];
            if (k->nitems > d->opt->max_attributes)
                return LIMIT(d, XB_LIMIT_MAX_ATTRIBUTES, "more than max_attributes=%lu attributes",
                             (unsigned long)d->opt->max_attributes);
        }
        if (n == XB_SHAPE_CACHE) {
            /* the evicted key's strings may be those of earlier start tags of
               this message (their items, bindings, names): freed after it */
            if (s->cache[n - 1]->dmem)
                s->dead[s->ndead++] = s->cache[n - 1]->dmem;
            free(s->cache[n - 1]->key);
            s->shape_bytes -= s->cache[n - 1]->cost;
            n--;
        }
        slot = s->cache[n]; /* the evicted entry, or a free pool slot */
        xb_scache_front(s, n, slot);
        memset(slot, 0, sizeof(*slot));
        slot->dkey = k;
        slot->dmem = mem;
        slot->dsize = msize;
        slot->dinfo = (uint16_t)inf;
        slot->ent.serial = serial = s->next_serial++;
        slot->cost = (uint64_t)k->name.n + 32;
        for (c = 0; c < k->nitems; c++)
            slot->cost += k->items[c].qname.n + (k->items[c].is_ns ? k->items[c].uri.n : 0);
        s->shape_bytes += slot->cost;
        s->ncache = n + 1;
        *key = k;
        *info = inf;
        if (xb_sbound_shapes(s))
            return xb_dec_nomem(d);
    } else {
        size_t j = sy - XB_N_LOCAL;
        if (j >= n)
            return FAIL(d, "shape cache entry %lu of %lu", (unsigned long)j, (unsigned long)n);
        slot = s->cache[j];
        xb_scache_front(s, j, slot);
        serial = slot->ent.serial;
        *key = slot->dkey;
        *info = slot->dinfo;
    }
    xb_slearn(s, 'S', serial, serial, XB_PS_FIRST);
    if (!s->nopen)
        s->root_cur = serial;
    RESERVE(s->open, s->cap_open, s->nopen + 1);
    s->open[s->nopen++] = serial;
    return 0;
}

/* exact mode: the stream's style for this message (a plain message, or the
   style bit 1) */
static void stream_style_load(xb_dec *d)
{
    const int *st = d->stream->style;
    d->st.dquote = st[0];
    d->st.empty = st[1];
    d->st.text_gt = st[2];
    d->st.text_quot = st[3];
    d->st.attr_gt = st[4];
    d->st.attr_oq = st[5];
}

/* exact mode, not plain: the style bit; 1 = the stream's style */
static int stream_style(xb_dec *d, int *kept)
{
    uint32_t v = 0;
    TRY(read_bits(d, 1, &v));
    *kept = (int)v;
    if (v)
        stream_style_load(d);
    return 0;
}

static void stream_style_save(xb_dec *d)
{
    int *st = d->stream->style;
    st[0] = d->st.dquote;
    st[1] = d->st.empty;
    st[2] = d->st.text_gt;
    st[3] = d->st.text_quot;
    st[4] = d->st.attr_gt;
    st[5] = d->st.attr_oq;
}

/* read_secrets: the ordinals of the never-indexed values of the message */
static int stream_secrets(xb_dec *d)
{
    xb_stream *s = d->stream;
    uint32_t n = 0, g = 0, i;
    uint64_t o = (uint64_t)-1;
    s->ndsec = 0;
    TRY(read_gamma(d, &n));
    for (i = 0; i + 1 < n; i++) {
        TRY(read_gamma(d, &g));
        o += g;
        RESERVE(s->dsec, s->cap_dsec, s->ndsec + 1);
        s->dsec[s->ndsec++] = o;
    }
    return 0;
}

/* decode() for a stream message body: no message header, the stream's state */
static int stream_decode(xb_dec *d)
{
    const uint8_t *data;
    size_t len = d->len;
    if (d->in.cap < len + XB_PAD && buf_reserve(&d->in, len + XB_PAD))
        return xb_dec_nomem(d);
    if (len)
        memcpy(d->in.p, d->data, len);
    memset(d->in.p + len, 0, XB_PAD);
    d->data = data = (const uint8_t *)d->in.p;
    d->plen = len + XB_PAD;
    d->pos = 0;
    d->end = (uint64_t)len * 8;
    return decode_body(d, data, len);
}

/* a stream message's literals (the window after the prior and the session
 * window) join the session (spec 8.11, 14.3); its window is the last budget
 * bytes, older ones are dropped when 2 * budget bytes are kept */
static int sess_join(xb_dec *d, xb_stream *s, const char *p, size_t n)
{
    const size_t b = s->budget;
    if (!b || !n)
        return 0;
    if (n >= b) { /* only its last budget bytes can be copied from */
        p += n - b;
        n = b;
        s->sess_n = 0;
    }
    if (s->sess_n + n > 2 * b) { /* keep the window's bytes that stay in it */
        size_t keep = b - n;
        memmove(s->sess, s->sess + s->sess_n - keep, keep);
        s->sess_n = keep;
    }
    if (s->sess_cap < 2 * b) { /* (a new budget comes with an OPEN, which empties the session) */
        char *q = realloc(s->sess, 2 * b);
        if (!q)
            return xb_dec_nomem(d);
        s->sess = q;
        s->sess_cap = 2 * b;
    }
    memcpy(s->sess + s->sess_n, p, n);
    s->sess_n += n;
    return 0;
}

/* lend (not NULL): when *lend is set to 1, res->data is the decoder's output
 * buffer, valid until the next call with s; else (and when lend is NULL) a
 * malloc'd copy the caller frees (a message whose buffers are not kept) */
static int stream_decode_msg(xb_stream *s, const char *body, size_t size, int open, const xb_decode_options *opt,
                             xb_result *res, int *lend)
{
    xb_sdec *w;
    xb_dec *d;
    const xb_dictionary *d1;
    int rc, t, keep;
    result_clear(res);
    if (lend)
        *lend = 0;
    if (xb_init() != 0 || !(d1 = xb_get_dictionary(1)))
        return init_failed(res);
    w = s->dec;
    if (!w) {
        w = malloc(sizeof(*w));
        if (!w)
            return out_of_memory(res);
        dec_init(&w->d);
        s->dec = w;
    }
    w->dict = *d1;
    for (t = 0; t < XB_NTABLES; t++) {
        w->dict.codes[t] = d1->stream_codes[t];
        w->dict.nctx[t] = d1->stream_nctx[t];
        w->dict.nsym[t] = d1->stream_nsym[t];
    }
    w->dict.char_pairs = d1->stream_char_pairs;
    d = &w->d;
    dec_reset(d);
    d->stream = s;
    d->data = (const uint8_t *)(body ? body : "");
    d->len = body ? size : 0;
    d->opt = opt;
    d->res = res;
    d->dict = &w->dict;
    d->kind = open ? XB_KIND_STREAM_OPEN : XB_KIND_ELEMENT;
    d->exact = s->exact;
    s->ordinal = 0;
    s->sec_pos = 0;
    s->nopen = 0;
    s->vh_p = NULL;
    xb_sstart_slot(s);
    rc = stream_decode(d);
    if (rc == XB_OK)
        rc = sess_join(d, s, d->win.p, d->win.n);
    keep = dec_footprint(d) <= XB_STREAM_DEC_KEEP;
    if (rc == XB_OK) {
        if (lend && keep) {
            res->data = (unsigned char *)d->out.p;
            res->size = d->out.n;
            *lend = 1;
        } else {
            rc = result_copy(d, res);
        }
    }
    d->stream = NULL;
    xb_sstate_bury(s);
    if (!keep) { /* a large message's buffers are not kept */
        dec_release(d);
        dec_init(d);
    }
    return rc;
}

int xb_stream_decode(xb_stream *s, const char *body, size_t size, int open, const xb_decode_options *opt,
                     xb_result *res)
{
    return stream_decode_msg(s, body, size, open, opt, res, NULL);
}

int xb_stream_decode_lend(xb_stream *s, const char *body, size_t size, const xb_decode_options *opt, xb_result *res,
                          int *lent)
{
    return stream_decode_msg(s, body, size, 0, opt, res, lent);
}

size_t xb_stream_dec_footprint(const xb_stream *s)
{
    const xb_sdec *w = s->dec;
    return w ? sizeof(*w) + dec_footprint(&w->d) : 0;
}

void xb_stream_dec_release(xb_stream *s)
{
    xb_sdec *w = s->dec;
    if (w) {
        dec_release(&w->d);
        free(w);
        s->dec = NULL;
    }
}
