/*
 * Strict scanner for the RFC 6120 restricted-XML subset: a C port of
 * xmppbin/xmlscan.py (scan, unescape, _text_error, resolve_start).
 *
 * The port works on the UTF-8 bytes instead of decoded characters; every
 * offset of the reference (a character index converted to bytes) is the byte
 * offset of the same character here. The checks are made in the order of the
 * reference, which decides the error class and offset reported for inputs
 * with several faults; the comments name the Python code each part mirrors.
 *
 * One pass validates UTF-8 and XML Char legality (decode_input, check_chars);
 * a second one tokenizes, using memchr for '<' and table lookups for the
 * characters that need unescaping. Values that unescaping changes are written
 * to an arena sized by the input; everything else points into the input.
 */
#include <string.h>

#include "xb_enc.h"

/* "xmlns" as the low 5 bytes of a little-endian word (xb_le64) */
#define XMLNS_LE40                                                                                         \
    ((uint64_t)'x' | (uint64_t)'m' << 8 | (uint64_t)'l' << 16 | (uint64_t)'n' << 24 | (uint64_t)'s' << 32)
static const char XML_NS[] = "http://www.w3.org/XML/1998/namespace";
static const char XMLNS_NS[] = "http://www.w3.org/2000/xmlns/";
static const char STREAM_NS[] = "http://etherx.jabber.org/streams";

#define MALFORMED(off, ...) xb_enc_error(e, XB_ERR_MALFORMED, (off), XB_LIMIT_NONE, __VA_ARGS__)
#define RESTRICTED(off, ...) xb_enc_error(e, XB_ERR_RESTRICTED, (off), XB_LIMIT_NONE, __VA_ARGS__)
#define CHECK_STRING(len, off)                                                                             \
    do {                                                                                                   \
        if ((len) > e->opt->max_string)                                                                    \
            return xb_enc_error(e, XB_ERR_LIMIT, (off), XB_LIMIT_MAX_STRING,                              \
                                "string longer than max_string=%lu", (unsigned long)e->opt->max_string);   \
    } while (0)
/* at most this many bytes of a name in messages */
#define SHOW(s) (int)((s).n > 60 ? 60 : (s).n), (s).p

/* ---- characters ------------------------------------------------------------- */

static const uint8_t WS_TAB[256] = {[' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\r'] = 1};

/*
 * The scanner works on a copy of the input followed by PAD zero bytes
 * (xb_scan). The input has no NUL (validate() rejects it), so the NUL at s[n]
 * ends every run of names, whitespace or attribute text: loops over such runs
 * need no bounds check, and 16-byte loads at any i <= n stay in the buffer.
 * Functions marked "sentinel" rely on this.
 */
#define PAD 32

/* The first byte at or after i that is not SP, TAB, CR, LF (sentinel). Runs
 * of whitespace (indentation) are searched 16 bytes at a time. */
static size_t ws_run_end(const uint8_t *s, size_t i)
{
#ifdef XB_SSE2
    for (;;) {
        const __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        unsigned m = (unsigned)_mm_movemask_epi8(
            _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8(' ')), _mm_cmpeq_epi8(x, _mm_set1_epi8('\n'))),
                         _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('\t')), _mm_cmpeq_epi8(x, _mm_set1_epi8('\r')))));
        if (m != 0xFFFFu)
            return i + (size_t)__builtin_ctz(~m);
        i += 16;
    }
#else
    while (WS_TAB[s[i]])
        i++;
    return i;
#endif
}

/* sentinel */
static inline size_t skip_ws(const uint8_t *s, size_t i)
{
    /* mostly none or one space */
    if (WS_TAB[s[i]]) {
        i++;
        if (WS_TAB[s[i]])
            i = ws_run_end(s, i + 1);
    }
    return i;
}

static inline int starts(const uint8_t *s, size_t n, size_t i, const char *z, size_t zn)
{
    return i <= n && n - i >= zn && memcmp(s + i, z, zn) == 0;
}
#define STARTS(s, n, i, lit) starts((s), (n), (i), (lit), sizeof(lit) - 1)

/* index of the first occurrence of z in s[i..n), or n */
static size_t find(const uint8_t *s, size_t n, size_t i, const char *z, size_t zn)
{
    while (i < n && n - i >= zn) {
        const uint8_t *p = memchr(s + i, z[0], n - i - zn + 1);
        if (!p)
            return n;
        i = (size_t)(p - s);
        if (memcmp(p + 1, z + 1, zn - 1) == 0)
            return i;
        i++;
    }
    return n;
}
#define FIND(s, n, i, lit) find((s), (n), (i), (lit), sizeof(lit) - 1)

/* One character of validated UTF-8 (the input has passed validate()). */
static inline uint32_t dec_utf8(const uint8_t *s, size_t *len)
{
    uint32_t c = s[0];
    if (c < 0x80) {
        *len = 1;
        return c;
    }
    if (c < 0xE0) {
        *len = 2;
        return ((c & 0x1Fu) << 6) | (s[1] & 0x3Fu);
    }
    if (c < 0xF0) {
        *len = 3;
        return ((c & 0x0Fu) << 12) | ((uint32_t)(s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu);
    }
    *len = 4;
    return ((c & 0x07u) << 18) | ((uint32_t)(s[1] & 0x3Fu) << 12) | ((uint32_t)(s[2] & 0x3Fu) << 6) |
           (s[3] & 0x3Fu);
}

/* xmlscan._START, non-ASCII part */
static int uni_start(uint32_t c)
{
    return (c >= 0xC0 && c <= 0xD6) || (c >= 0xD8 && c <= 0xF6) || (c >= 0xF8 && c <= 0x2FF) ||
           (c >= 0x370 && c <= 0x37D) || (c >= 0x37F && c <= 0x1FFF) || (c >= 0x200C && c <= 0x200D) ||
           (c >= 0x2070 && c <= 0x218F) || (c >= 0x2C00 && c <= 0x2FEF) || (c >= 0x3001 && c <= 0xD7FF) ||
           (c >= 0xF900 && c <= 0xFDCF) || (c >= 0xFDF0 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0xEFFFF);
}

/* xmlscan._CHAR, non-ASCII part */
static int uni_char(uint32_t c)
{
    return uni_start(c) || c == 0xB7 || (c >= 0x300 && c <= 0x36F) || (c >= 0x203F && c <= 0x2040);
}

/* name characters by byte: 1 NCName start ([A-Z_a-z]), 2 other NCName
 * character ([-.0-9]), 4 ':'; 0 for the rest, bytes >= 0x80 included */
static const uint8_t ASCII_NAME[256] = {
    ['-'] = 2, ['.'] = 2, ['0'] = 2, ['1'] = 2, ['2'] = 2, ['3'] = 2, ['4'] = 2, ['5'] = 2, ['6'] = 2,
    ['7'] = 2, ['8'] = 2, ['9'] = 2, [':'] = 4, ['_'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1,
    ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1,
    ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1,
    ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1,
    ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1,
    ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1,
    ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

/* End of the run of ASCII name characters ([-.0-9A-Z_a-z], and ':' if
 * char_mask has 4) at s[i..] (sentinel). Names are short: 16 bytes at a time
 * finds the end without a branch per byte. */
static inline size_t ascii_name_run(const uint8_t *s, size_t i, unsigned char_mask)
{
#ifdef XB_SSE2
    const __m128i x20 = _mm_set1_epi8(0x20), ltr_off = _mm_set1_epi8((char)(0x80 - 'a')),
                  ltr_lim = _mm_set1_epi8((char)(-128 + 26)), dig_off = _mm_set1_epi8((char)(0x80 - '-')),
                  dig_lim = _mm_set1_epi8((char)(-128 + ((char_mask & 4u) ? 14 : 13))),
                  slash = _mm_set1_epi8('/'), under = _mm_set1_epi8('_');
    for (;;) {
        const __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        /* letters: (x | 0x20) in a..z; then '-' .. '9' (or ':') except '/'; '_' */
        __m128i ltr = _mm_cmplt_epi8(_mm_add_epi8(_mm_or_si128(x, x20), ltr_off), ltr_lim);
        __m128i dig = _mm_andnot_si128(_mm_cmpeq_epi8(x, slash), _mm_cmplt_epi8(_mm_add_epi8(x, dig_off), dig_lim));
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(ltr, dig), _mm_cmpeq_epi8(x, under)));
        if (m != 0xFFFFu)
            return i + (size_t)__builtin_ctz(~m);
        i += 16;
    }
#else
    while (ASCII_NAME[s[i]] & char_mask)
        i++;
    return i;
#endif
}

/* End of the longest NCName (colon = 0) or Name (colon = 1) at s[p..], or p
 * (sentinel: a non-name byte follows). */
static inline size_t name_end(const uint8_t *s, size_t p, int colon)
{
    size_t i = p, len;
    const unsigned start_mask = colon ? 5u : 1u, char_mask = colon ? 7u : 3u;
    if (ASCII_NAME[s[i]] & start_mask)
        i++;
    else if (s[i] >= 0x80 && uni_start(dec_utf8(s + i, &len)))
        i += len;
    else
        return p;
    for (;;) {
        i = ascii_name_run(s, i, char_mask);
        if (s[i] >= 0x80 && uni_char(dec_utf8(s + i, &len)))
            i += len;
        else
            return i;
    }
}

/* s[0 .. n) is a Name; s[n] is not a name character (the ';' of a reference) */
static int is_name(const uint8_t *s, size_t n)
{
    return n > 0 && name_end(s, 0, 1) == n;
}

/* name_end() on the scanner input e->in */
static inline size_t in_name_end(const xb_encoder *e, size_t p, int colon)
{
    return name_end(e->in, p, colon);
}

/* _QNAME_RE.match at p in the scanner input: end of the match (p if none);
 * *colon = index of ':' or -1 */
static inline size_t in_qname_end(const xb_encoder *e, size_t p, int32_t *colon)
{
    size_t e1 = in_name_end(e, p, 0), e2;
    *colon = -1;
    if (e1 == p)
        return p;
    if (e->in[e1] == ':') {
        e2 = in_name_end(e, e1 + 1, 0);
        if (e2 > e1 + 1) {
            *colon = (int32_t)(e1 - p);
            return e2;
        }
    }
    return e1;
}

/* skip_ws() and ws_run_end() on the scanner input */
static inline size_t in_ws_run_end(const xb_encoder *e, size_t i)
{
    return ws_run_end(e->in, i);
}

static inline size_t in_skip_ws(const xb_encoder *e, size_t i)
{
    return skip_ws(e->in, i);
}

/* xmlscan.is_xml_char */
static inline int is_xml_char(uint32_t c)
{
    return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) || (c >= 0xE000 && c <= 0xFFFD) ||
           (c >= 0x10000 && c <= 0x10FFFF);
}

/* ---- input validation (decode_input, check_chars) ------------------------------ */
/* Bytes that need a closer look in the ASCII fast path: controls and non-ASCII. */
#define ONES 0x0101010101010101ull
#define HIGH 0x8080808080808080ull
#define LOW7 0x7F7F7F7F7F7F7F7Full
/* per byte of an ASCII word (no high bits): high bit set iff the byte is not 0 */
#define NONZERO(y) ((((y)&LOW7) + LOW7) | (y))

/* An ASCII word (no byte >= 0x80) has only XML Chars: every byte >= 0x20 or TAB, LF, CR. */
static inline int ascii_word_legal(uint64_t x)
{
    uint64_t ge20 = (x + 0x60 * ONES) & HIGH, tnr;
    if (ge20 == HIGH)
        return 1;
    /* high bit set for bytes equal to 9, 10 or 13 */
    tnr = ~(NONZERO(x ^ (0x09 * ONES)) & NONZERO(x ^ (0x0A * ONES)) & NONZERO(x ^ (0x0D * ONES))) & HIGH;
    return ((~ge20 & HIGH) & ~tnr) == 0;
}

static inline int ascii_illegal(uint8_t c)
{
    return c < 0x20 && c != 0x9 && c != 0xA && c != 0xD;
}

/* Python's strict UTF-8 decoder on s[i..n) (s[0..i) is ASCII with XML Chars
 * only; s has PAD bytes after n): offset of the first invalid sequence, or
 * SIZE_MAX. *bad is set to the offset of the first character outside XML
 * Char (SIZE_MAX if none). */
static size_t validate(const uint8_t *s, size_t n, size_t i, size_t *bad)
{
    *bad = SIZE_MAX;
    while (i < n) {
        uint8_t c;
#ifdef XB_SSE2
        {
            /* 16 bytes (the padding covers a last, partial block) */
            const __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
            const unsigned live = n - i >= 16 ? 0xFFFFu : (1u << (n - i)) - 1u;
            if (!(_mm_movemask_epi8(x) & live)) { /* ASCII */
                if (*bad == SIZE_MAX) {
                    /* bytes <= 0x1F other than TAB, LF, CR */
                    __m128i ctl = _mm_cmpeq_epi8(_mm_max_epu8(x, _mm_set1_epi8(0x1F)), _mm_set1_epi8(0x1F));
                    __m128i ok = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8(0x09)),
                                                           _mm_cmpeq_epi8(x, _mm_set1_epi8(0x0A))),
                                              _mm_cmpeq_epi8(x, _mm_set1_epi8(0x0D)));
                    unsigned m = (unsigned)_mm_movemask_epi8(_mm_andnot_si128(ok, ctl)) & live;
                    if (m)
                        *bad = i + (size_t)__builtin_ctz(m);
                }
                i = n - i >= 16 ? i + 16 : n;
                continue;
            }
        }
#endif
        if (i + 8 <= n) {
            uint64_t x;
            memcpy(&x, s + i, 8);
            if (!(x & HIGH)) {
                if (*bad == SIZE_MAX && !ascii_word_legal(x)) {
                    size_t k;
                    for (k = 0; k < 8; k++)
                        if (ascii_illegal(s[i + k])) {
                            *bad = i + k;
                            break;
                        }
                }
                i += 8;
                continue;
            }
        }
        c = s[i];
        if (c < 0x80) {
            if (ascii_illegal(c) && *bad == SIZE_MAX)
                *bad = i;
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            if (i + 1 >= n || (s[i + 1] & 0xC0) != 0x80)
                return i;
            i += 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            uint8_t lo = 0x80, hi = 0xBF;
            if (c == 0xE0)
                lo = 0xA0;
            else if (c == 0xED)
                hi = 0x9F;
            if (i + 1 >= n || s[i + 1] < lo || s[i + 1] > hi)
                return i;
            if (i + 2 >= n || (s[i + 2] & 0xC0) != 0x80)
                return i;
            /* U+FFFE, U+FFFF */
            if (c == 0xEF && s[i + 1] == 0xBF && s[i + 2] >= 0xBE && *bad == SIZE_MAX)
                *bad = i;
            i += 3;
        } else if (c >= 0xF0 && c <= 0xF4) {
            uint8_t lo = 0x80, hi = 0xBF;
            if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F;
            if (i + 1 >= n || s[i + 1] < lo || s[i + 1] > hi)
                return i;
            if (i + 2 >= n || (s[i + 2] & 0xC0) != 0x80)
                return i;
            if (i + 3 >= n || (s[i + 3] & 0xC0) != 0x80)
                return i;
            i += 4;
        } else {
            return i;
        }
    }
    return SIZE_MAX;
}

/* Copy src[0 .. n) to dst while it is ASCII with XML Chars only (no byte
 * >= 0x80, none below 0x20 but TAB, LF, CR), 64 bytes at a time; returns
 * how much was copied (a multiple of 64; the rest is for validate()). */
static size_t copy_ascii(uint8_t *dst, const uint8_t *src, size_t n)
{
    size_t i = 0;
#ifdef XB_SSE2
    const __m128i sp = _mm_set1_epi8(0x20), tab = _mm_set1_epi8('\t'), lf = _mm_set1_epi8('\n'),
                  cr = _mm_set1_epi8('\r');
#define XB_SUSPECT(x)                                                                                      \
    _mm_andnot_si128(_mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8((x), tab), _mm_cmpeq_epi8((x), lf)),        \
                                  _mm_cmpeq_epi8((x), cr)),                                               \
                     _mm_cmplt_epi8((x), sp)) /* signed: bytes >= 0x80 too */
    for (; i + 64 <= n; i += 64) {
        const __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(src + i)),
                      b = _mm_loadu_si128((const __m128i *)(const void *)(src + i + 16)),
                      c = _mm_loadu_si128((const __m128i *)(const void *)(src + i + 32)),
                      d = _mm_loadu_si128((const __m128i *)(const void *)(src + i + 48));
        if (_mm_movemask_epi8(
                _mm_or_si128(_mm_or_si128(XB_SUSPECT(a), XB_SUSPECT(b)), _mm_or_si128(XB_SUSPECT(c), XB_SUSPECT(d)))))
            break;
        _mm_storeu_si128((__m128i *)(void *)(dst + i), a);
        _mm_storeu_si128((__m128i *)(void *)(dst + i + 16), b);
        _mm_storeu_si128((__m128i *)(void *)(dst + i + 32), c);
        _mm_storeu_si128((__m128i *)(void *)(dst + i + 48), d);
    }
#undef XB_SUSPECT
#else
    (void)dst;
    (void)src;
    (void)n;
#endif
    return i;
}

/* ---- references (_REF_RE) ---------------------------------------------------- */
/* Length of an XML whitespace character at s[i] (ends an entity name), or 0. */
static size_t re_space(const uint8_t *s, size_t n, size_t i)
{
    (void)n;
    return (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n') ? 1 : 0;
}

enum { REF_DEC = 1, REF_HEX, REF_NAME };

/* _REF_RE.match(raw, j) with raw[j] == '&': 0 if no match, else the kind, with
 * the group in raw[*a .. *b) and the match ending at *end. */
static int match_ref(const uint8_t *s, size_t n, size_t j, size_t *a, size_t *b, size_t *end)
{
    size_t k = j + 1, d;
    if (k < n && s[k] == '#') {
        d = k + 1;
        while (d < n && s[d] >= '0' && s[d] <= '9')
            d++;
        if (d > k + 1 && d < n && s[d] == ';') {
            *a = k + 1;
            *b = d;
            *end = d + 1;
            return REF_DEC;
        }
        if (k + 1 < n && s[k + 1] == 'x') {
            d = k + 2;
            while (d < n && ((s[d] >= '0' && s[d] <= '9') || ((s[d] | 0x20) >= 'a' && (s[d] | 0x20) <= 'f')))
                d++;
            if (d > k + 2 && d < n && s[d] == ';') {
                *a = k + 2;
                *b = d;
                *end = d + 1;
                return REF_HEX;
            }
        }
    }
    d = k;
    while (d < n && s[d] != ';' && s[d] != '&' && s[d] != '<' && !re_space(s, n, d)) {
        size_t len = 1;
        if (s[d] >= 0x80)
            dec_utf8(s + d, &len);
        d += len;
    }
    if (d < n && s[d] == ';') {
        *a = k;
        *b = d;
        *end = d + 1;
        return REF_NAME;
    }
    return 0;
}

/* The character of a matched reference, or -1 if unescape() would return None. */
static int32_t ref_char(const uint8_t *s, int kind, size_t a, size_t b)
{
    uint32_t cp = 0;
    size_t i;
    if (kind == REF_NAME) {
        size_t len = b - a;
        const char *p = (const char *)s + a;
        if (len == 2 && p[1] == 't' && (p[0] == 'l' || p[0] == 'g'))
            return p[0] == 'l' ? '<' : '>';
        if (len == 3 && memcmp(p, "amp", 3) == 0)
            return '&';
        if (len == 4 && memcmp(p, "apos", 4) == 0)
            return '\'';
        if (len == 4 && memcmp(p, "quot", 4) == 0)
            return '"';
        return -1;
    }
    for (i = a; i < b; i++) {
        uint32_t d = s[i] <= '9' ? (uint32_t)(s[i] - '0') : (uint32_t)((s[i] | 0x20) - 'a' + 10);
        cp = cp * (kind == REF_DEC ? 10u : 16u) + d;
        if (cp > 0x10FFFF)
            return -1;
    }
    return is_xml_char(cp) ? (int32_t)cp : -1;
}

static size_t put_utf8(char *o, uint32_t c)
{
    if (c < 0x80) {
        o[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (char)(0xC0 | (c >> 6));
        o[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (char)(0xE0 | (c >> 12));
        o[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        o[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (c >> 18));
    o[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    o[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* Copy s[i..j) with line ends normalized (CR LF -> LF, CR -> LF); in attribute
 * values TAB, LF, CR become spaces. Text: returns 1 if the chunk has "]]>". */
static int put_chunk(char **op, const uint8_t *s, size_t i, size_t j, int attr, int check_cdata_end)
{
    char *o = *op;
    size_t k;
    for (k = i; k < j; k++) {
        uint8_t c = s[k];
        if (c == '\r') {
            c = '\n';
            if (k + 1 < j && s[k + 1] == '\n')
                k++;
        }
        if (attr) {
            if (c == '\t' || c == '\n')
                c = ' ';
        } else if (check_cdata_end && c == '>' && k >= i + 2 && s[k - 1] == ']' && s[k - 2] == ']') {
            return 1;
        }
        *o++ = (char)c;
    }
    *op = o;
    return 0;
}

/* xmlscan.unescape: 0 and the value (written to the arena), or 1 if invalid. */
static int unescape(xb_encoder *e, const uint8_t *s, size_t n, int attr, xb_str *out)
{
    char *start = e->arena + e->arena_used, *o = start;
    size_t i = 0;
    while (i < n) {
        size_t j = i, a, b, end;
        int kind;
        int32_t c;
        while (j < n && s[j] != '<' && s[j] != '&')
            j++;
        if (j > i && put_chunk(&o, s, i, j, attr, !attr))
            return 1;
        if (j == n)
            break;
        if (s[j] == '<') {
            if (attr || !STARTS(s, n, j, "<![CDATA["))
                return 1;
            end = FIND(s, n, j + 9, "]]>");
            if (end >= n)
                return 1;
            put_chunk(&o, s, j + 9, end, 0, 0);
            i = end + 3;
            continue;
        }
        kind = match_ref(s, n, j, &a, &b, &end);
        if (!kind)
            return 1;
        c = ref_char(s, kind, a, b);
        if (c < 0)
            return 1;
        o += put_utf8(o, (uint32_t)c);
        i = end;
    }
    out->p = start;
    out->n = (size_t)(o - start);
    e->arena_used += out->n;
    return 0;
}

/* xmlscan._text_error: the error for a text or attribute spelling that
 * unescape() rejected; base is the offset of raw in the input. */
static int text_error(xb_encoder *e, const uint8_t *s, size_t n, size_t base, int attr)
{
    size_t i = 0;
    /* the next occurrences at or after i (memoized: each is searched again
       only when i has passed it, so the whole loop is linear) */
    size_t c = 0, j = 0, k = 0;
    int have_c = 0, have_j = 0, have_k = 0;
    for (;;) {
        size_t a, b, end;
        int kind;
        if (!have_c || (c < n && c < i)) {
            c = attr ? n : FIND(s, n, i, "<![CDATA["); /* text only */
            have_c = 1;
        }
        if (!have_j || (j < n && j < i)) {
            const uint8_t *p = i < n ? memchr(s + i, '&', n - i) : NULL;
            j = p ? (size_t)(p - s) : n;
            have_j = 1;
        }
        if (!have_k || (k < n && k < i)) {
            k = attr ? n : FIND(s, n, i, "]]>"); /* ']]>' is legal in attributes */
            have_k = 1;
        }
        if (c < n && c < j && c < k) {
            size_t ce = FIND(s, n, c + 9, "]]>");
            /* the scanner found its end; -1 + 3 as in Python otherwise */
            i = ce < n ? ce + 3 : 2;
            have_c = have_j = have_k = 0;
            continue;
        }
        if (j >= n && k >= n)
            return MALFORMED(base, "invalid character data");
        if (k < n && (j >= n || k < j))
            return MALFORMED(base + k, "']]>' is not allowed in character data");
        kind = match_ref(s, n, j, &a, &b, &end);
        if (!kind)
            return MALFORMED(base + j, "'&' must start a reference ending in ';'");
        if (kind == REF_NAME && ref_char(s, kind, a, b) < 0) {
            if (!is_name(s + a, b - a))
                return MALFORMED(base + j, "invalid reference '%.*s'", (int)(end - j > 60 ? 60 : end - j),
                                 (const char *)s + j);
            return RESTRICTED(base + j, "entity '%.*s' is not predefined", (int)(end - j > 60 ? 60 : end - j),
                              (const char *)s + j);
        }
        if (ref_char(s, kind, a, b) < 0)
            return MALFORMED(base + j, "invalid character reference '%.*s'", (int)(end - j > 60 ? 60 : end - j),
                             (const char *)s + j);
        i = end;
    }
}

/* ---- events --------------------------------------------------------------------- */
static int push_event(xb_encoder *e, int type, xb_str name, xb_str value, xb_str raw)
{
    xb_event *ev;
    XB_ENC_RESERVE(e, e->ev, e->cap_ev, e->nev + 1);
    ev = &e->ev[e->nev++];
    ev->type = (uint8_t)type;
    ev->selfclose = 0;
    ev->wsonly = 0;
    ev->colon = -1;
    ev->nitems = 0;
    ev->first = 0;
    ev->name = name;
    ev->value = value;
    ev->raw = raw;
    return 0;
}

static inline xb_str slice(const uint8_t *s, size_t a, size_t b)
{
    xb_str r;
    r.p = (const char *)s + a;
    r.n = b - a;
    return r;
}

static const xb_str EMPTY_STR = {xb_zeros16, 0};

#ifndef XB_SSE2
/* characters that make a text value differ from its spelling (or an error) */
static const uint8_t TEXT_SPECIAL[256] = {['&'] = 1, ['\r'] = 1, ['<'] = 1, [']'] = 1};
/* where the scan of an attribute value stops: quotes, '<' and what unescaping changes */
static const uint8_t ATTR_STOP[256] = {['\''] = 1, ['"'] = 1, ['<'] = 1, ['&'] = 1, ['\r'] = 1, ['\n'] = 1, ['\t'] = 1};
#endif

/* First index >= i of a byte in ATTR_STOP or a NUL (so n at the latest:
 * sentinel; the input is validated: its only bytes below 0x20 are TAB, LF
 * and CR). */
static inline size_t attr_stop(const uint8_t *s, size_t i)
{
#ifdef XB_SSE2
    const __m128i q1 = _mm_set1_epi8('\''), q2 = _mm_set1_epi8('"'), lt = _mm_set1_epi8('<'),
                  amp = _mm_set1_epi8('&'), c1f = _mm_set1_epi8(0x1F);
    for (;;) {
        const __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, q1), _mm_cmpeq_epi8(x, q2)),
                                 _mm_or_si128(_mm_cmpeq_epi8(x, lt), _mm_cmpeq_epi8(x, amp)));
        unsigned bits;
        m = _mm_or_si128(m, _mm_cmpeq_epi8(_mm_max_epu8(x, c1f), c1f));
        bits = (unsigned)_mm_movemask_epi8(m);
        if (bits)
            return i + (size_t)__builtin_ctz(bits);
        i += 16;
    }
#else
    while (s[i] && !ATTR_STOP[s[i]])
        i++;
    return i;
#endif
}

/* The first '<' at or after i (n if none: the NUL at n stops it too,
 * sentinel); *special is set if a byte before it makes text differ from its
 * spelling or is an error: '&', CR, ']'. */
static inline size_t find_lt(const uint8_t *s, size_t n, size_t i, int *special)
{
#ifdef XB_SSE2
    const __m128i lt = _mm_set1_epi8('<'), amp = _mm_set1_epi8('&'), cr = _mm_set1_epi8('\r'),
                  rb = _mm_set1_epi8(']');
    (void)n;
    for (;;) {
        const __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        unsigned mlt = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(x, lt), _mm_cmpeq_epi8(x, _mm_setzero_si128())));
        unsigned msp = (unsigned)_mm_movemask_epi8(
            _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, amp), _mm_cmpeq_epi8(x, cr)), _mm_cmpeq_epi8(x, rb)));
        if (mlt) {
            unsigned first = (unsigned)__builtin_ctz(mlt);
            if (msp & ((1u << first) - 1u))
                *special = 1;
            return i + first;
        }
        if (msp)
            *special = 1;
        i += 16;
    }
#else
    for (; i < n; i++) {
        uint8_t c = s[i];
        if (c == '<')
            return i;
        if (TEXT_SPECIAL[c])
            *special = 1;
    }
    return n;
#endif
}

/* flush_text: the text s[start .. end) (references and CDATA included) */
static int flush_text(xb_encoder *e, size_t start, size_t end, int special)
{
    const uint8_t *raw = e->in + start;
    size_t n = end - start, i;
    xb_str rs = slice(e->in, start, end), value;
    int wsonly;
    if (e->nopen == 0) {
        if (in_ws_run_end(e, start) < end)
            return MALFORMED(start, "text outside the root element");
        if (e->exact)
            CHECK_STRING(n, start);
        TRY(push_event(e, XE_T, EMPTY_STR, rs, rs)); /* kept as written (exact mode only) */
        e->ev[e->nev - 1].wsonly = memchr(raw, '\r', n) == NULL;
        return 0;
    }
    if (!special) {
        value = rs;
        /* no CR (it is special): whitespace-only is SP, TAB, LF only */
        wsonly = in_ws_run_end(e, start) >= end;
    } else if (unescape(e, raw, n, 0, &value)) {
        return text_error(e, raw, n, start, 0);
    } else {
        wsonly = value.n > 0;
        for (i = 0; i < value.n; i++)
            if (value.p[i] != ' ' && value.p[i] != '\t' && value.p[i] != '\n') {
                wsonly = 0;
                break;
            }
    }
    CHECK_STRING(e->exact ? n : value.n, start);
    if (value.n == 0 && !e->exact)
        return 0; /* only empty CDATA sections: no text node in the infoset */
    TRY(push_event(e, XE_T, EMPTY_STR, value, rs));
    e->ev[e->nev - 1].wsonly = (uint8_t)wsonly;
    e->vbytes += value.n;
    return 0;
}

/* ---- namespaces (resolve_start) -------------------------------------------------- */
static inline int str_eq(xb_str a, xb_str b)
{
    return a.n == b.n && xb_bytes_eq(a.p, b.p, a.n);
}

static inline int str_eqz(xb_str a, const char *z, size_t zn)
{
    return a.n == zn && memcmp(a.p, z, zn) == 0;
}
#define EQZ(a, lit) str_eqz((a), (lit), sizeof(lit) - 1)

/* scope lookup: the URI bound to pfx, or NULL */
static const xb_str *lookup(const xb_encoder *e, xb_str pfx)
{
    size_t i = e->nbinds;
    while (i-- > 0)
        if (str_eq(e->binds[i].prefix, pfx))
            return &e->binds[i].uri;
    return NULL;
}

static int push_bind(xb_encoder *e, xb_str pfx, xb_str uri)
{
    XB_ENC_RESERVE(e, e->binds, e->cap_binds, e->nbinds + 1);
    e->binds[e->nbinds].prefix = pfx;
    e->binds[e->nbinds].uri = uri;
    e->nbinds++;
    return 0;
}

static uint64_t hash_bytes(const char *p, size_t n, uint64_t h)
{
    size_t i;
    for (i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 0x100000001b3ull;
    return h;
}

/* Duplicate detection over a tag's items for resolve_start. For a few items
 * the earlier ones are compared directly; for many, a hash set is used. */
typedef struct {
    size_t n; /* items so far */
    int hashed;
    size_t mask;
} dupset;

static inline int dup_init(xb_encoder *e, dupset *d, size_t nitems)
{
    d->n = 0;
    d->hashed = nitems > 16;
    d->mask = 0;
    if (d->hashed) {
        size_t cap = 64, i;
        while (cap < 2 * nitems)
            cap *= 2;
        if (cap > e->cap_dset) {
            size_t c0 = e->cap_dset;
            XB_ENC_RESERVE(e, e->dset, e->cap_dset, cap);
            for (i = c0; i < e->cap_dset; i++)
                e->dset[i].gen = 0;
        }
        d->mask = cap - 1;
        if (++e->dgen == 0) {
            for (i = 0; i < e->cap_dset; i++)
                e->dset[i].gen = 0;
            e->dgen = 1;
        }
    }
    return 0;
}

/* resolve_start for the tag whose items are items[first .. first + nitems);
 * on success the element's declarations are pushed onto the bindings. */
static int resolve_start(xb_encoder *e, xb_str name, int32_t colon, size_t first, size_t nitems, size_t lt)
{
    xb_eitem *it = e->items + first;
    size_t k, j;
    dupset d;
    if (nitems == 0 && colon < 0)
        return 0;
    TRY(dup_init(e, &d, nitems));
    /* 1: duplicates (by qname) and declarations */
    for (k = 0; k < nitems; k++) {
        xb_str a = it[k].qname;
        if (!d.hashed) {
            uint64_t h = it[k].qh;
            for (j = 0; j < k; j++)
                if (it[j].qh == h && str_eq(it[j].qname, a))
                    return MALFORMED(it[k].off, "duplicate attribute %.*s", SHOW(a));
        } else {
            size_t h = (size_t)hash_bytes(a.p, a.n, 0xcbf29ce484222325ull) & d.mask;
            while (e->dset[h].gen == e->dgen) {
                if (str_eq(it[e->dset[h].idx].qname, a))
                    return MALFORMED(it[k].off, "duplicate attribute %.*s", SHOW(a));
                h = (h + 1) & d.mask;
            }
            e->dset[h].gen = e->dgen;
            e->dset[h].idx = (uint32_t)k;
        }
        if (it[k].is_ns) {
            xb_str pfx = it[k].colon >= 0 ? slice((const uint8_t *)a.p, 6, a.n) : EMPTY_STR;
            xb_str v = it[k].value;
            int is_xml = EQZ(pfx, "xml");
            if (EQZ(pfx, "xmlns"))
                return MALFORMED(it[k].off, "the prefix 'xmlns' cannot be declared");
            if (is_xml && !EQZ(v, XML_NS))
                return MALFORMED(it[k].off, "the prefix 'xml' cannot be rebound");
            if (!is_xml && EQZ(v, XML_NS))
                return MALFORMED(it[k].off, "the XML namespace cannot be bound to another prefix");
            if (EQZ(v, XMLNS_NS))
                return MALFORMED(it[k].off, "the xmlns namespace cannot be declared");
            if (pfx.n && !v.n)
                return MALFORMED(it[k].off, "prefix %.*s cannot be undeclared in XML 1.0", SHOW(pfx));
            TRY(push_bind(e, pfx, v));
        }
    }
    /* 2: attribute prefixes and expanded-name duplicates; with no prefixed
       attribute there are none to find (the names are unique after 1) */
    for (k = 0; k < nitems; k++)
        if (!it[k].is_ns && it[k].colon >= 0)
            break;
    if (k < nitems) {
        TRY(dup_init(e, &d, nitems));
        for (k = 0; k < nitems; k++) {
            xb_str a = it[k].qname, uri = EMPTY_STR, local = a;
            if (it[k].is_ns)
                continue;
            if (it[k].colon >= 0) {
                xb_str pfx = slice((const uint8_t *)a.p, 0, (size_t)it[k].colon);
                const xb_str *u = EQZ(pfx, "xmlns") ? NULL : lookup(e, pfx);
                if (!u)
                    return MALFORMED(it[k].off, "unbound prefix %.*s in attribute %.*s", SHOW(pfx), SHOW(a));
                uri = *u;
                local = slice((const uint8_t *)a.p, (size_t)it[k].colon + 1, a.n);
            }
            if (!d.hashed) {
                for (j = 0; j < k; j++) {
                    xb_str a2 = it[j].qname, uri2 = EMPTY_STR, local2 = a2;
                    if (it[j].is_ns)
                        continue;
                    if (it[j].colon >= 0) {
                        xb_str p2 = slice((const uint8_t *)a2.p, 0, (size_t)it[j].colon);
                        uri2 = *lookup(e, p2); /* bound: checked when item j was seen */
                        local2 = slice((const uint8_t *)a2.p, (size_t)it[j].colon + 1, a2.n);
                    }
                    if (str_eq(uri, uri2) && str_eq(local, local2))
                        return MALFORMED(it[k].off, "duplicate attribute %.*s (same namespace and name)", SHOW(a));
                }
            } else {
                uint64_t hv = hash_bytes(local.p, local.n, hash_bytes(uri.p, uri.n, 0xcbf29ce484222325ull) ^ 0xff);
                size_t h = (size_t)hv & d.mask;
                while (e->dset[h].gen == e->dgen) {
                    size_t jj = e->dset[h].idx;
                    xb_str a2 = it[jj].qname, uri2 = EMPTY_STR, local2 = a2;
                    if (it[jj].colon >= 0) {
                        uri2 = *lookup(e, slice((const uint8_t *)a2.p, 0, (size_t)it[jj].colon));
                        local2 = slice((const uint8_t *)a2.p, (size_t)it[jj].colon + 1, a2.n);
                    }
                    if (str_eq(uri, uri2) && str_eq(local, local2))
                        return MALFORMED(it[k].off, "duplicate attribute %.*s (same namespace and name)", SHOW(a));
                    h = (h + 1) & d.mask;
                }
                e->dset[h].gen = e->dgen;
                e->dset[h].idx = (uint32_t)k;
            }
        }
    }
    /* 3: the element prefix */
    if (colon >= 0) {
        xb_str pfx = slice((const uint8_t *)name.p, 0, (size_t)colon);
        if (EQZ(pfx, "xmlns"))
            return MALFORMED(lt, "element prefix 'xmlns' is reserved");
        if (!lookup(e, pfx))
            return MALFORMED(lt, "unbound prefix %.*s in element %.*s", SHOW(pfx), SHOW(name));
    }
    return 0;
}

/* ---- XML declaration (_XMLDECL_RE) ------------------------------------------------ */
static int is_quote(uint8_t c)
{
    return c == '\'' || c == '"';
}

/* Match at i (text starts with "<?xml" there); 0 if no match, else the end.
 * The encoding name, if any, is s[*ea .. *eb). The regex has no ambiguity
 * that backtracking could resolve differently, so one left-to-right pass
 * decides it. */
static size_t match_xmldecl(const uint8_t *s, size_t n, size_t i, size_t *ea, size_t *eb)
{
    size_t p = i + 5, q, r;
    uint8_t quote;
    *ea = *eb = 0;
    q = skip_ws(s, p);
    if (q == p || !STARTS(s, n, q, "version"))
        return 0;
    p = skip_ws(s, q + 7);
    if (p >= n || s[p] != '=')
        return 0;
    p = skip_ws(s, p + 1);
    if (p >= n || !is_quote(s[p]))
        return 0;
    quote = s[p++];
    if (!STARTS(s, n, p, "1."))
        return 0;
    p += 2;
    q = p;
    while (q < n && s[q] >= '0' && s[q] <= '9')
        q++;
    if (q == p || q >= n || s[q] != quote)
        return 0;
    p = q + 1;
    q = skip_ws(s, p);
    if (q > p && STARTS(s, n, q, "encoding")) {
        size_t a;
        r = skip_ws(s, q + 8);
        if (r >= n || s[r] != '=')
            return 0;
        r = skip_ws(s, r + 1);
        if (r >= n || !is_quote(s[r]))
            return 0;
        quote = s[r++];
        if (r >= n || !((s[r] | 0x20) >= 'a' && (s[r] | 0x20) <= 'z'))
            return 0;
        a = r++;
        while (r < n && (((s[r] | 0x20) >= 'a' && (s[r] | 0x20) <= 'z') || (s[r] >= '0' && s[r] <= '9') ||
                         s[r] == '.' || s[r] == '_' || s[r] == '-'))
            r++;
        if (r >= n || s[r] != quote)
            return 0;
        *ea = a;
        *eb = r;
        p = r + 1;
        q = skip_ws(s, p);
    }
    if (q > p && STARTS(s, n, q, "standalone")) {
        r = skip_ws(s, q + 10);
        if (r >= n || s[r] != '=')
            return 0;
        r = skip_ws(s, r + 1);
        if (r >= n || !is_quote(s[r]))
            return 0;
        quote = s[r++];
        if (STARTS(s, n, r, "yes"))
            r += 3;
        else if (STARTS(s, n, r, "no"))
            r += 2;
        else
            return 0;
        if (r >= n || s[r] != quote)
            return 0;
        p = r + 1;
        q = skip_ws(s, p);
    }
    if (!STARTS(s, n, q, "?>"))
        return 0;
    return q + 2;
}

static int ascii_ieq(const uint8_t *s, size_t n, const char *z)
{
    size_t i;
    if (strlen(z) != n)
        return 0;
    for (i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (uint8_t)(c + 32);
        if (c != (uint8_t)z[i])
            return 0;
    }
    return 1;
}

/* ---- the scanner ----------------------------------------------------------------- */
static int start_tag(xb_encoder *e, size_t lt, size_t *pos, uint64_t *nelements, int *root_done)
{
    const uint8_t *s = e->in;
    size_t n = e->n, p, first = e->nitems, w0 = 0, nm_end;
    int32_t colon;
    xb_str name, ws = EMPTY_STR;
    int selfclose;
    const xb_encode_options *opt = e->opt;

    if (*root_done && e->nopen == 0)
        return MALFORMED(lt, "content after the root element");
    nm_end = in_qname_end(e, lt + 1, &colon);
    if (nm_end == lt + 1)
        return MALFORMED(lt, "malformed start tag");
    name = slice(s, lt + 1, nm_end);
    CHECK_STRING(name.n, lt);
    if (++*nelements > opt->max_elements)
        return xb_enc_error(e, XB_ERR_LIMIT, lt, XB_LIMIT_MAX_ELEMENTS, "more than max_elements=%lu elements",
                            (unsigned long)opt->max_elements);
    if (e->nopen + 1 > opt->max_depth)
        return xb_enc_error(e, XB_ERR_LIMIT, lt, XB_LIMIT_MAX_DEPTH, "nesting deeper than max_depth=%lu",
                            (unsigned long)opt->max_depth);
    p = nm_end;
    for (;;) {
        size_t a_end, e1, e2, qe;
        int32_t acolon;
        uint8_t q, ch;
        xb_eitem *it;
        w0 = p;
        p = in_skip_ws(e, p);
        ch = s[p];
        if (ch == '>' || (ch == '/' && s[p + 1] == '>') || p >= n)
            break;
        if (p == w0)
            return MALFORMED(p, "whitespace required before attribute");
        a_end = in_qname_end(e, p, &acolon);
        if (a_end == p)
            return MALFORMED(p, "malformed attribute name");
        CHECK_STRING(a_end - p, p);
        /* mostly name='value': no whitespace around '=' (s[n] is NUL) */
        e1 = s[a_end] == '=' ? a_end : in_skip_ws(e, a_end);
        if (s[e1] != '=')
            return MALFORMED(p, "attribute %.*s has no '='", SHOW(slice(s, p, a_end)));
        e2 = is_quote(s[e1 + 1]) ? e1 + 1 : in_skip_ws(e, e1 + 1);
        if (!is_quote(s[e2]))
            return MALFORMED(p, "attribute %.*s value is not quoted", SHOW(slice(s, p, a_end)));
        q = s[e2];
        /* the item is filled in place (no xb_str temporaries: copying those
           as 16-byte vectors right after storing their halves stalls) */
        XB_ENC_RESERVE(e, e->items, e->cap_items, e->nitems + 1);
        it = &e->items[e->nitems];
        it->qname.p = (const char *)s + p;
        it->qname.n = a_end - p;
        {
            /* one pass: the closing quote (xmlscan: text.find(q)), then the first
               '<' before it (raw.find("<")), noting characters unescaping changes */
            size_t k = e2 + 1, lt2 = SIZE_MAX;
            int special = 0;
            for (;;) {
                k = attr_stop(s, k);
                if (k >= n)
                    return MALFORMED(e2, "unterminated value of attribute %.*s", SHOW(it->qname));
                if (s[k] == q)
                    break;
                if (s[k] == '<') {
                    if (lt2 == SIZE_MAX)
                        lt2 = k;
                } else if (s[k] != '\'' && s[k] != '"') {
                    special = 1;
                }
                k++;
            }
            qe = k;
            if (lt2 != SIZE_MAX)
                return MALFORMED(lt2, "'<' is not allowed in an attribute value");
            it->raw.p = (const char *)s + e2 + 1;
            it->raw.n = qe - e2 - 1;
            if (!special) {
                it->value.p = it->raw.p;
                it->value.n = it->raw.n;
            } else if (unescape(e, s + e2 + 1, qe - e2 - 1, 1, &it->value)) {
                return text_error(e, s + e2 + 1, qe - e2 - 1, e2 + 1, 1);
            }
        }
        CHECK_STRING(e->exact ? it->raw.n : it->value.n, e2 + 1);
        e->vbytes += it->value.n;
        if (e->exact) {
            CHECK_STRING(p - w0, p);
            CHECK_STRING(e2 - a_end, p);
        }
        e->nitems++;
        it->qh = xb_str_hash_padded(it->qname.p, it->qname.n);
        it->ws.p = (const char *)s + w0;
        it->ws.n = p - w0;
        it->eq.p = (const char *)s + a_end;
        it->eq.n = e2 - a_end;
        it->off = p;
        it->colon = acolon;
        it->quote = q;
        /* xmlns or xmlns:x, without branches (which names come is irregular);
           the 8-byte load stays in the padded copy */
        it->is_ns = (uint8_t)((xb_le64((const char *)s + p) & 0xFFFFFFFFFFull) == XMLNS_LE40 &&
                              (((acolon < 0) & (a_end - p == 5)) | (acolon == 5)));
        if (e->nitems - first > opt->max_attributes)
            return xb_enc_error(e, XB_ERR_LIMIT, p, XB_LIMIT_MAX_ATTRIBUTES,
                                "more than max_attributes=%lu attributes", (unsigned long)opt->max_attributes);
        p = qe + 1;
    }
    ws = slice(s, w0, p);
    if (p >= n)
        return MALFORMED(lt, "unterminated start tag");
    selfclose = s[p] == '/';
    if (e->exact)
        CHECK_STRING(ws.n, lt);
    *pos = p + (selfclose ? 2 : 1);
    {
        size_t base = e->nbinds;
        xb_event *ev;
        TRY(resolve_start(e, name, colon, first, e->nitems - first, lt));
        TRY(push_event(e, XE_S, name, EMPTY_STR, ws));
        ev = &e->ev[e->nev - 1];
        ev->nh = xb_str_hash_padded(name.p, name.n);
        ev->selfclose = (uint8_t)selfclose;
        ev->colon = colon;
        ev->first = first;
        ev->nitems = (uint32_t)(e->nitems - first);
        if (selfclose) {
            e->nbinds = base;
            TRY(push_event(e, XE_E, name, EMPTY_STR, EMPTY_STR));
            e->ev[e->nev - 1].selfclose = 1;
            if (e->nopen == 0)
                *root_done = 1;
        } else {
            xb_eopen *o;
            XB_ENC_RESERVE(e, e->open, e->cap_open, e->nopen + 1);
            o = &e->open[e->nopen++];
            o->name = name;
            o->off = lt;
            o->bind_base = base;
        }
    }
    return 0;
}

int xb_scan(xb_encoder *e)
{
    const uint8_t *s;
    const size_t n = e->n;
    const xb_encode_options *opt = e->opt;
    size_t pos = 0, bad, i, tstart = 0, root_ev = SIZE_MAX;
    uint64_t nelements = 0;
    int root_done = 0, pending = 0, tspecial = 0;

    e->nev = e->nitems = e->nbinds = e->nopen = e->vbytes = 0;
    e->arena_used = 0;
    e->open_root = 0;

    /* the input with PAD zero bytes after it (see PAD); strings of the events
       point into this copy */
    if (n > SIZE_MAX - PAD)
        return xb_enc_nomem(e);
    XB_ENC_RESERVE(e, e->inbuf, e->cap_inbuf, n + PAD);
    i = copy_ascii(e->inbuf, e->in, n);
    if (i < n)
        memcpy(e->inbuf + i, e->in + i, n - i);
    memset(e->inbuf + n, 0, PAD);
    e->in = s = e->inbuf;

    /* decode_input, check_chars (the copy has checked s[0 .. i)) */
    i = validate(s, n, i, &bad);
    if (i != SIZE_MAX)
        return MALFORMED(i, "invalid UTF-8");
    if (bad != SIZE_MAX) {
        size_t len;
        return MALFORMED(bad, "character U+%04lX is not allowed in XML", (unsigned long)dec_utf8(s + bad, &len));
    }
    /* the arena: unescaped values, at most n bytes, and PAD readable bytes
       after them (encode.c reads values 16 bytes at a time); all of it
       written once, so never uninitialized */
    if (n + PAD > e->cap_arena) {
        size_t old = e->cap_arena;
        XB_ENC_RESERVE(e, e->arena, e->cap_arena, n + PAD);
        memset(e->arena + old, 0, e->cap_arena - old);
    }

    /* BOM and XML declaration */
    if (STARTS(s, n, 0, "\xEF\xBB\xBF"))
        pos = 3;
    if (STARTS(s, n, pos, "<?xml") && pos + 5 < n && xb_xml_ws(s[pos + 5])) {
        size_t ea, eb, end = match_xmldecl(s, n, pos, &ea, &eb);
        if (!end)
            return MALFORMED(pos, "malformed XML declaration");
        if (eb > ea && !ascii_ieq(s + ea, eb - ea, "utf-8") && !ascii_ieq(s + ea, eb - ea, "utf8"))
            return MALFORMED(ea, "encoding '%.*s' is not UTF-8", (int)(eb - ea > 60 ? 60 : eb - ea),
                             (const char *)s + ea);
        pos = end;
    }
    e->prolog = slice(s, 0, pos);
    if (e->exact)
        CHECK_STRING(pos, 0);

    /* the root's parent scope: the context, then xml */
    {
        const char *cd = opt->context_data;
        size_t k;
        for (k = 0; k < opt->context_count; k++) {
            xb_str p, u;
            p.p = cd;
            p.n = opt->context_lens[2 * k];
            cd += p.n;
            u.p = cd;
            u.n = opt->context_lens[2 * k + 1];
            cd += u.n;
            TRY(push_bind(e, p, u));
        }
        {
            xb_str p = {"xml", 3}, u = {XML_NS, sizeof(XML_NS) - 1};
            TRY(push_bind(e, p, u));
        }
    }

    for (;;) {
        int special = 0;
        size_t lt = find_lt(s, n, pos, &special);
        uint8_t c;
        if (lt > pos) {
            if (!pending) {
                pending = 1;
                tstart = pos;
                tspecial = 0;
            }
            tspecial |= special;
        }
        if (lt == n)
            break;
        c = s[lt + 1]; /* lt < n, and s[n] is NUL */
        if (c == '!' && STARTS(s, n, lt, "<![CDATA[")) {
            size_t end;
            if (e->nopen == 0)
                return MALFORMED(lt, "CDATA section outside the root element");
            end = FIND(s, n, lt + 9, "]]>");
            if (end >= n)
                return MALFORMED(lt, "unterminated CDATA section");
            if (!pending) {
                pending = 1;
                tstart = lt;
            }
            tspecial = 1;
            pos = end + 3;
            continue;
        }
        if (pending) {
            pending = 0;
            TRY(flush_text(e, tstart, lt, tspecial));
        }
        if (c == '/') {
            int32_t colon;
            size_t nm_end = in_qname_end(e, lt + 2, &colon), w;
            xb_str name;
            if (nm_end == lt + 2)
                return MALFORMED(lt, "malformed end tag");
            name = slice(s, lt + 2, nm_end);
            w = in_skip_ws(e, nm_end);
            if (w >= n || s[w] != '>')
                return MALFORMED(lt, "malformed end tag");
            if (e->nopen == 0)
                return MALFORMED(lt, "end tag </%.*s> without start tag", SHOW(name));
            if (!str_eq(e->open[e->nopen - 1].name, name))
                return MALFORMED(lt, "end tag </%.*s> does not match <%.*s>", SHOW(name),
                                 SHOW(e->open[e->nopen - 1].name));
            if (e->exact)
                CHECK_STRING(w - nm_end, lt);
            e->nopen--;
            e->nbinds = e->open[e->nopen].bind_base;
            TRY(push_event(e, XE_E, name, EMPTY_STR, slice(s, nm_end, w)));
            pos = w + 1;
            if (e->nopen == 0)
                root_done = 1;
            continue;
        }
        if (c == '!') {
            if (STARTS(s, n, lt, "<!--")) {
                size_t end = FIND(s, n, lt + 4, "--");
                if (end >= n)
                    return MALFORMED(lt, "unterminated comment");
                if (!STARTS(s, n, end, "-->"))
                    return MALFORMED(end, "'--' is not allowed inside a comment");
                if (!opt->allow_comments)
                    return RESTRICTED(lt, "comments are not allowed in XMPP (RFC 6120 11.1)");
                CHECK_STRING(end - lt - 4, lt);
                TRY(push_event(e, XE_C, EMPTY_STR, slice(s, lt + 4, end), EMPTY_STR));
                pos = end + 3;
                continue;
            }
            if (STARTS(s, n, lt, "<!DOCTYPE"))
                return RESTRICTED(lt, "DTDs are not allowed in XMPP (RFC 6120 11.1)");
            return MALFORMED(lt, "malformed markup declaration");
        }
        if (c == '?') {
            size_t nm_end = name_end(s, lt + 2, 1), end;
            if (nm_end == lt + 2)
                return MALFORMED(lt, "malformed processing instruction");
            end = FIND(s, n, nm_end, "?>");
            if (end >= n)
                return MALFORMED(lt, "unterminated processing instruction");
            if (ascii_ieq(s + lt + 2, nm_end - lt - 2, "xml"))
                return MALFORMED(lt, "XML declaration not at the start of the input");
            if (memchr(s + lt + 2, ':', nm_end - lt - 2))
                return MALFORMED(lt, "processing instruction target contains ':'");
            if (end > nm_end && !xb_xml_ws(s[nm_end]))
                return MALFORMED(lt, "malformed processing instruction");
            if (!opt->allow_comments)
                return RESTRICTED(lt, "processing instructions are not allowed in XMPP (RFC 6120 11.1)");
            CHECK_STRING(end - lt - 2, lt);
            TRY(push_event(e, XE_P, EMPTY_STR, slice(s, lt + 2, end), EMPTY_STR));
            pos = end + 2;
            continue;
        }
        if (e->nopen == 0 && !root_done)
            root_ev = e->nev;
        TRY(start_tag(e, lt, &pos, &nelements, &root_done));
    }
    if (pending)
        TRY(flush_text(e, tstart, n, tspecial));
    if (e->nopen) {
        if (e->nopen == 1 && !root_done && e->nev > 0 && e->nev - 1 == root_ev && pos == n &&
            opt->open_root != 0) {
            int ok = opt->open_root == 1;
            if (!ok) {
                /* _is_stream_open(root name, root scope) */
                xb_str name = e->open[0].name, pfx = EMPTY_STR, local = name;
                const uint8_t *colon = memchr(name.p, ':', name.n);
                const xb_str *u;
                if (colon) {
                    pfx = slice((const uint8_t *)name.p, 0, (size_t)(colon - (const uint8_t *)name.p));
                    local = slice((const uint8_t *)name.p, pfx.n + 1, name.n);
                }
                u = lookup(e, pfx);
                ok = EQZ(local, "stream") && u && EQZ(*u, STREAM_NS);
            }
            if (ok) {
                e->open_root = 1;
                return 0;
            }
        }
        return MALFORMED(e->open[e->nopen - 1].off, "unclosed element <%.*s>", SHOW(e->open[e->nopen - 1].name));
    }
    if (!root_done)
        return MALFORMED(n, "no root element");
    if (opt->open_root == 1)
        return MALFORMED(n, "expected a stream header (a start tag left open)");
    return 0;
}
