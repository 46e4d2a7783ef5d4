/*
 * Internal definitions of the C encoder: the scanner's event arrays (the C
 * form of the events of xmppbin/xmlscan.py), the reusable encoder context
 * and the functions shared by csrc/scan.c and csrc/encode.c.
 *
 * Strings (xb_str) point into the input, into the context's arena (values
 * that unescaping changed) or into static data; all stay valid for one call.
 * Arrays are indexed, never pointed into, since they grow by realloc.
 */
#ifndef XMPPBIN_XB_ENC_H
#define XMPPBIN_XB_ENC_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "xb_dict.h"
#include "xmppbin.h"

/* event types, as in xmlscan.py */
enum { XE_S = 'S', XE_E = 'E', XE_T = 'T', XE_C = 'C', XE_P = 'P' };

/* One attribute or namespace declaration of a start tag:
 * (qname, value, raw, quote, ws_before, eq) of xmlscan.py plus its offset. */
typedef struct {
    xb_str qname;
    xb_str value; /* normalized value */
    xb_str raw;   /* spelling between the quotes */
    xb_str ws;    /* whitespace before the name */
    xb_str eq;    /* from the end of the name to the opening quote */
    size_t off;   /* byte offset of the name */
    uint64_t qh;  /* xb_str_hash of qname */
    int32_t colon; /* index of ':' in qname, -1 if none */
    uint8_t quote;
    uint8_t is_ns; /* xmlns or xmlns:p */
    int16_t vctx;  /* the value context of an attribute, set when its start tag is coded */
} xb_eitem;

typedef struct {
    uint8_t type;      /* XE_* */
    uint8_t selfclose; /* S: written <x/>; E: the end of such an element (ws_gt None) */
    uint8_t wsonly;    /* T: the value is SP, TAB, LF only, and not empty (model.is_ws_only) */
    uint8_t ncls;      /* S: the element's node class (spec 8.3), set when the stateless coder codes it */
    int32_t colon;     /* S: index of ':' in name, -1 if none */
    uint32_t nitems;   /* S: items[first .. first + nitems) */
    size_t first;
    xb_str name;  /* S, E: qname */
    xb_str value; /* T: value; C, P: text */
    xb_str raw;   /* T: raw spelling; S: whitespace before '>' or '/>'; E: whitespace before '>' */
    uint64_t nh;  /* S: xb_str_hash of name */
} xb_event;

typedef struct {
    xb_str prefix;
    xb_str uri;
} xb_ebind;

typedef struct {
    xb_str name;
    size_t off;       /* offset of its '<' */
    size_t bind_base; /* bindings of outer scopes: binds[0 .. bind_base) */
} xb_eopen;

/* history hash table slot */
typedef struct {
    uint64_t hash;
    uint32_t gen;
    uint32_t idx;
} xb_hslot;

/* shape cache entry: hash of the shape key and the start tag it came from */
typedef struct {
    uint64_t hash;
    size_t ev;
} xb_centry;

/* an open element while coding: its start event, the value context of its
 * text (-2: not looked up yet) and its node class (spec 8.3, 0: none; the
 * stateless coder only) */
typedef struct {
    size_t ev;
    int32_t tctx;
    uint32_t ncls;
} xb_ename;

/* duplicate-detection slot (resolve_start on tags with many items) */
typedef struct {
    uint32_t gen;
    uint32_t idx;
} xb_dslot;

struct xb_encoder {
    /* ---- the call ---- */
    const uint8_t *in;
    size_t n;
    const xb_encode_options *opt;
    xb_encode_result *res;
    int exact;

    /* ---- scanner output ---- */
    uint8_t *inbuf; /* the input and zero padding (scan.c, PAD) */
    size_t cap_inbuf;
    xb_event *ev;
    size_t nev, cap_ev;
    xb_eitem *items;
    size_t nitems, cap_items;
    /* the message's value bytes: its attribute values (declarations
       included) and text inside the root, normalized (spec 8.11's gate) */
    size_t vbytes;
    xb_str prolog;
    int open_root; /* the result is a stream header */
    /* arena for changed values; its capacity is at least the input size, which
       bounds the total size of all unescaped values, so it never moves */
    char *arena;
    size_t arena_used, cap_arena;

    /* ---- scanner state ---- */
    xb_ebind *binds;
    size_t nbinds, cap_binds;
    xb_eopen *open;
    size_t nopen, cap_open;
    xb_dslot *dset;
    size_t cap_dset;
    uint32_t dgen;

    /* ---- encoder state ---- */
    xb_str *hist;
    size_t nhist, cap_hist, hist_lim;
    uint64_t *hhash; /* hash of every history entry (capacity cap_hist too) */
    xb_hslot *htab;
    size_t cap_htab; /* power of two */
    uint32_t hgen;
    xb_centry cache[XB_SHAPE_CACHE];
    size_t ncache;
    xb_str *ws; /* indentation memory per depth (p == NULL: unset) */
    size_t nws, cap_ws;
    uint8_t *nctx; /* node context stack */
    size_t cap_nctx;
    xb_ename *names; /* open elements */
    size_t cap_names;

    /* ---- the copy window after the prior text: the message's literal bytes
       so far (spec 8.11); in a message searched against the prior alone only
       their number (win_n) is kept, the distances' width ---- */
    uint8_t *win; /* the window */
    size_t win_n, cap_win;
    /* per anchor of the message, by ordinal (the message's anchors in window
       order): its window position, and 1 + the ordinal of the previous anchor
       with the same key (0: none) */
    struct xb_anchor {
        uint32_t pos, prev;
    } *anch;
    size_t nanch, cap_anchors;
    /* per key (open addressing, linear probing): the newest anchor with that key;
       positions are absolute, a slot whose head is < wbase is free */
    struct xb_wslot {
        uint32_t head; /* wbase + ordinal (wbase stays below 2^31: win_reset) */
        uint32_t key;
    } *wtab;
    size_t wmask;  /* slots - 1 (a power of two) */
    size_t wlive, wgrow; /* keys of this message; grow past wgrow (half the slots) */
    uint64_t wbase;  /* the message's first anchor is wbase + 0 (>= 1), older messages' are < wbase */
    struct xb_copy *cps; /* the copies of the last parse (lit_join) */
    uint32_t *anch_m; /* the ordinals of the last literal's anchors whose key was indexed before them */
    size_t nmaybe, cap_anch;
    size_t cap_w; /* room of win (0 until wtab exists) */
    /* stream mode (spec 8.11, 14.3): the window starts with the session
       window, win[wlo .. ) before the message's literals (0 when stateless);
       the stream state and its generation (xb_stream.gen) the window's
       session belongs to (NULL: none) */
    size_t wlo;
    const struct xb_stream *sess_st;
    uint64_t sess_gen;
    size_t cap_cps;
    uint64_t copy_steps; /* chain entries the copy search visited (xb_encoder_copy_steps) */
    struct xb_lcent *lcache; /* flags and plain prices of short strings (encode.c, facts); NULL until a stateless
                                message prices one */

    /* ---- output (bit writer) ---- */
    uint8_t *out;
    size_t out_n, cap_out;
    uint64_t acc;
    unsigned nacc;
    int oom;

    /* ---- the coder: stateless, or stream mode with a state ---- */
    struct xb_stream *st;            /* stream mode: the stream's state, else NULL */
    const uint32_t *const *codes;    /* the code set: codes[table][ctx * nsyms[table] + symbol] */
    const uint32_t *nsyms;

    size_t trim_n; /* the largest input since buffers were last trimmed (encode.c: trim) */
    xb_encode_result own_res; /* xb_encode_into */
    xb_encode_options sopt;   /* a stream message's options (stream_scan): e->opt between its two halves */
    const xb_encode_options *bound_opt; /* xb_encoder_bind */
    char *bound_out;
    size_t bound_cap;
};

/* ---- small inline helpers ---- */
/* ---- hashing (static tables, history, shapes) ---- */
/* random per process, set once with the static tables (xb_encoder_new) */
extern uint64_t xb_hash_seed;

static inline uint64_t xb_mix64(uint64_t h)
{
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ull;
    h ^= h >> 32;
    return h;
}

/* functions of the encoder's hot paths, inlined whatever the size of the
 * function they are in (GCC's unit growth limit had left xb_le64 and
 * xb_padded_eq out of line in encode.c: 2-3 % of an XEP pass); encode.c's
 * shared event walk and match loops too */
#if defined(__GNUC__)
#define XB_HOT_INLINE static inline __attribute__((always_inline))
#else
#define XB_HOT_INLINE static inline
#endif

/* the 8 bytes at p as a little-endian number */
XB_HOT_INLINE uint64_t xb_le64(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (uint64_t)u[0] | ((uint64_t)u[1] << 8) | ((uint64_t)u[2] << 16) | ((uint64_t)u[3] << 24) |
           ((uint64_t)u[4] << 32) | ((uint64_t)u[5] << 40) | ((uint64_t)u[6] << 48) | ((uint64_t)u[7] << 56);
}

/* A 64-bit hash of a byte string. Strings of up to 16 bytes are hashed as
 * two 8-byte words, zero-filled past the end; longer ones 8 bytes at a time
 * (the last word overlapping). xb_str_hash reads only p[0 .. n);
 * xb_str_hash_padded, for strings in the padded input copy or arena
 * (scan.c) or the empty xb_zeros16, always reads 16 bytes: no branch on the
 * length (mispredicted, as lengths vary) for short strings. Both give the
 * same hash. */
static inline uint64_t xb_hash_long(const char *p, size_t n)
{
    uint64_t h = xb_hash_seed ^ ((uint64_t)n * 0x9E3779B97F4A7C15ull);
    const char *end = p + n;
    while (end - p > 8) {
        h = (h ^ xb_load64(p)) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
        p += 8;
    }
    return xb_mix64((h ^ xb_load64(end - 8)) * 0x94d049bb133111ebull);
}

static inline uint64_t xb_hash_words(uint64_t v0, uint64_t v1, size_t n)
{
    uint64_t h = xb_hash_seed ^ ((uint64_t)n * 0x9E3779B97F4A7C15ull);
    h = (h ^ v0) * 0xbf58476d1ce4e5b9ull;
    h ^= h >> 31;
    return xb_mix64((h ^ v1) * 0x94d049bb133111ebull);
}

static inline uint64_t xb_str_hash(const char *p, size_t n)
{
    if (n <= 16) {
        char b[16] = {0};
        if (n)
            memcpy(b, p, n);
        return xb_hash_words(xb_le64(b), xb_le64(b + 8), n);
    }
    return xb_hash_long(p, n);
}

/* xb_mask16[n]: the first n bytes (n = 0 .. 16) of a 16-byte block, as
 * masks of its two little-endian words (encode.c). A table rather than
 * shifts and conditions: string lengths vary, so branches on them are
 * mispredicted (and a shift by 64 would be undefined). */
extern const uint64_t xb_mask16[17][2];

static inline uint64_t xb_str_hash_padded(const char *p, size_t n)
{
    if (n <= 16) /* the bytes of each word past n masked off */
        return xb_hash_words(xb_le64(p) & xb_mask16[n][0], xb_le64(p + 8) & xb_mask16[n][1], n);
    return xb_hash_long(p, n);
}

/* a[0 .. n) == b[0 .. n) for strings with 16 readable bytes each, like
 * xb_str_hash_padded's (no branch on the length below 17) */
XB_HOT_INLINE int xb_padded_eq(const char *a, const char *b, size_t n)
{
    if (n <= 16)
        return (((xb_le64(a) ^ xb_le64(b)) & xb_mask16[n][0]) | ((xb_le64(a + 8) ^ xb_le64(b + 8)) & xb_mask16[n][1])) ==
               0;
    return memcmp(a, b, n) == 0;
}

/* 16 zero bytes: the empty string, readable as a padded one */
extern const char xb_zeros16[16];

/* Set res->error (and offset, limit, message); returns code. */
int xb_enc_error(xb_encoder *e, int code, size_t offset, int limit, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
int xb_enc_nomem(xb_encoder *e);
/* Grow an array to hold at least need elements (capacity doubles); NULL on failure. */

#define XB_ENC_RESERVE(e, arr, cap, need)                                                                  \
    do {                                                                                                   \
        if ((need) > (cap)) {                                                                              \
            void *np_ = xb_grow((arr), &(cap), (need), sizeof(*(arr)));                                \
            if (!np_)                                                                                      \
                return xb_enc_nomem(e);                                                                    \
            (arr) = np_;                                                                                   \
        }                                                                                                  \
    } while (0)

static inline unsigned xb_bitlen(uint64_t x)
{
#if defined(__GNUC__)
    return x ? 64u - (unsigned)__builtin_clzll(x) : 0u;
#else
    unsigned b = 0;
    while (x) {
        b++;
        x >>= 1;
    }
    return b;
#endif
}

/* the length of the Elias gamma code of n >= 1 */
static inline uint64_t xb_gamma_length(uint64_t n)
{
    return 2u * xb_bitlen(n) - 1u;
}

/* a JID split into its parts (model.jid_split) */
typedef struct {
    int sym; /* JID symbol, or -1 */
    int has_local, has_res;
    xb_str local, domain, res;
} xb_jid;

struct xb_stream;
/* csrc/encode.c: the bytes the encoder e holds (its context and buffers) */
size_t xb_encoder_footprint(const xb_encoder *e);
/* csrc/encode.c: xb_stream_encode (xmppbin.h) with the encoder e the state
 * s owns: scan xml, code it as a stream message body (spec 14.3) with the
 * state; the result points into e's output. Out of memory clears the state. */
int xb_enc_stream_message(xb_encoder *e, struct xb_stream *s, const char *xml, size_t size,
                          const xb_encode_options *opt, const uint32_t *secrets, size_t nsecrets,
                          xb_encode_result *res);
/* The never-indexed ordinals of a message, told from its scanned events
 * (e->ev, e->items) by the caller (csrc/frame.c): 0 with *nsec ordinals in
 * sec[0 .. 1), or 1: the caller declines to code the message here. */
typedef int (*xb_secret_check)(const void *ctx, const xb_encoder *e, uint32_t *sec, size_t *nsec);
#define XB_ENC_DECLINED (-1)
/* xb_enc_stream_message in two calls, for the feed loop (csrc/frame.c):
 * xb_enc_stream_scan scans xml (XB_OK or an error code, res filled in; the
 * state untouched either way); after XB_OK only, xb_enc_stream_code codes it
 * with the never-indexed ordinals check(ctx, ...) tells from the scanned
 * events: XB_OK, an error code, or XB_ENC_DECLINED (check declined; the
 * state is untouched). Between them the caller may drop the scanned unit. */
int xb_enc_stream_scan(xb_encoder *e, struct xb_stream *s, const char *xml, size_t size,
                       const xb_encode_options *opt, xb_encode_result *res);
int xb_enc_stream_code(xb_encoder *e, struct xb_stream *s, xb_secret_check check, const void *ctx,
                       xb_encode_result *res);

/* Scan e->in[0 .. e->n) into e->ev / e->items (xmlscan.scan after decode_input's
 * size check). Returns XB_OK or the error code (res filled in). */
int xb_scan(xb_encoder *e);

#endif
