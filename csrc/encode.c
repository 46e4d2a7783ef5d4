/*
 * xmppbin encoder: a C port of the reference encoder xmppbin/encoder.py.
 *
 * The scanner (csrc/scan.c) turns the input into events; this file codes them
 * exactly as encoder.encode_events / encode_lexical do, so the output is byte
 * for byte that of the reference: the same shape cache, string history,
 * cost-based value packing with the same tie order (encoder._Coder._choose,
 * including the JID estimate made with the history as it is before the JID is
 * coded), the same whitespace symbols, and in exact mode the same greedy style
 * choice (encoder.choose_style) and deviation list. Then the two size checks
 * of encoder.encode (canonical output size, message size).
 *
 * Static data: Huffman (code, length) arrays and hash tables for the token
 * lists and shapes, built once per process from the dictionary of dict.c.
 * Per-call state lives in a reusable xb_encoder: arrays grow geometrically and
 * are kept between calls, so a call normally allocates nothing.
 */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dict_v1.h"
#include "xb_enc.h"
#include "xb_stream.h"

#ifdef _WIN32
#include <windows.h>
#else
#include <pthread.h>
#ifndef __STDC_NO_ATOMICS__
#include <stdatomic.h>
#endif
#endif

/* the event walk that the stateless and the stream coder share, inlined into
 * each with its `stream` flag a constant (see encode_events) */
#define XB_SHARED_INLINE XB_HOT_INLINE

#define hash_seed xb_hash_seed
#define mix64 xb_mix64
#define str_hash xb_str_hash
#define load64 xb_load64
#define load32 xb_load32
#define bytes_eq xb_bytes_eq

/* Equality of strings with 16 readable bytes each: every string this file
 * compares is in the scanner's padded input copy or arena, xb_zeros16, the
 * dictionary's padded copies (xb_dictionary.pad_*) or PAD_* below. */
static inline int str_eq(xb_str a, xb_str b)
{
    return a.n == b.n && xb_padded_eq(a.p, b.p, a.n);
}

/* ---- static tables ------------------------------------------------------------------ */
#define V_NSYM XBD_V1_VALUE_NSYM
#define TOTAL_SYMS                                                                                         \
    (XBD_V1_NODE_NCTX * XBD_V1_NODE_NSYM + XBD_V1_PREFIX_NCTX * XBD_V1_PREFIX_NSYM +                        \
     XBD_V1_NAME_NCTX * XBD_V1_NAME_NSYM + XBD_V1_AITEM_NCTX * XBD_V1_AITEM_NSYM +                          \
     XBD_V1_NS_NCTX * XBD_V1_NS_NSYM + XBD_V1_VALUE_NCTX * XBD_V1_VALUE_NSYM +                              \
     XBD_V1_CHAR_NCTX * XBD_V1_CHAR_NSYM)

/* (code << 5) | length of every symbol, per table and context */
static uint32_t code_store[TOTAL_SYMS];
static const uint32_t *tcodes[XB_NTABLES];
static uint32_t tnsym[XB_NTABLES];
static uint8_t char_len[XB_CHAR_CONTEXTS][256];


/* byte classes for the packed forms: one pass over a value classifies it */
#define VF_DIGIT 1u   /* 0-9 */
#define VF_HEXL 2u    /* 0-9 a-f */
#define VF_HEXU 4u    /* 0-9 A-F */
#define VF_JIDWS 8u   /* SP TAB CR LF */
#define VF_JIDSEP 16u /* @ / */
#define VF_B64 32u    /* A-Z a-z 0-9 + / */
#define VF_B64EQ 64u  /* the same and = */
#define VF_B64WS 128u /* the same and SP TAB CR LF (a B64 layout, spec 8.6) */
static uint8_t vflags[256];

static void init_vflags(void)
{
    int b;
    for (b = 0; b < 256; b++) {
        unsigned f = 0;
        if (b >= '0' && b <= '9')
            f |= VF_DIGIT | VF_HEXL | VF_HEXU;
        if (b >= 'a' && b <= 'f')
            f |= VF_HEXL;
        if (b >= 'A' && b <= 'F')
            f |= VF_HEXU;
        if (b == ' ' || b == '\t' || b == '\r' || b == '\n')
            f |= VF_JIDWS | VF_B64WS;
        if (b == '@' || b == '/')
            f |= VF_JIDSEP;
        if ((b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || b == '+' || b == '/')
            f |= VF_B64 | VF_B64EQ | VF_B64WS;
        if (b == '=')
            f |= VF_B64EQ | VF_B64WS;
        vflags[b] = (uint8_t)f;
    }
}

/* The byte classes of p[0 .. n): *fall the classes every byte has, *fany
 * those some byte has (of these only VF_JIDWS and VF_JIDSEP are used, and
 * set, for long values). */
static inline void value_flags(const uint8_t *p, size_t n, unsigned *fall, unsigned *fany)
{
    unsigned fl = 0xFFu, fa = 0;
    size_t i = 0;
#ifdef XB_SSE2
    if (n >= 16) {
        /* 16 bytes at a time, the last block overlapping the one before */
        __m128i adig = _mm_set1_epi8(-1), ahl = adig, ahu = adig, ab64 = adig, ab64eq = adig, ab64ws = adig;
        __m128i ows = _mm_setzero_si128(), osep = ows;
        unsigned m;
        for (;;) {
            const __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
            /* lo <= x <= hi: x + (0x80 - lo) < -128 + (hi - lo + 1) as signed bytes */
            __m128i dig = _mm_cmplt_epi8(_mm_add_epi8(x, _mm_set1_epi8((char)(0x80 - '0'))),
                                         _mm_set1_epi8((char)(-128 + 10)));
            __m128i lo = _mm_cmplt_epi8(_mm_add_epi8(x, _mm_set1_epi8((char)(0x80 - 'a'))),
                                        _mm_set1_epi8((char)(-128 + 6)));
            __m128i up = _mm_cmplt_epi8(_mm_add_epi8(x, _mm_set1_epi8((char)(0x80 - 'A'))),
                                        _mm_set1_epi8((char)(-128 + 6)));
            __m128i ltr = _mm_cmplt_epi8(_mm_add_epi8(_mm_or_si128(x, _mm_set1_epi8(0x20)),
                                                      _mm_set1_epi8((char)(0x80 - 'a'))),
                                         _mm_set1_epi8((char)(-128 + 26)));
            __m128i slash = _mm_cmpeq_epi8(x, _mm_set1_epi8('/'));
            __m128i b64 = _mm_or_si128(_mm_or_si128(ltr, dig), _mm_or_si128(slash, _mm_cmpeq_epi8(x, _mm_set1_epi8('+'))));
            adig = _mm_and_si128(adig, dig);
            ahl = _mm_and_si128(ahl, _mm_or_si128(dig, lo));
            ahu = _mm_and_si128(ahu, _mm_or_si128(dig, up));
            ab64 = _mm_and_si128(ab64, b64);
            __m128i eq = _mm_or_si128(b64, _mm_cmpeq_epi8(x, _mm_set1_epi8('=')));
            __m128i ws = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8(' ')),
                                                   _mm_cmpeq_epi8(x, _mm_set1_epi8('\t'))),
                                      _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('\r')),
                                                   _mm_cmpeq_epi8(x, _mm_set1_epi8('\n'))));
            ab64eq = _mm_and_si128(ab64eq, eq);
            ab64ws = _mm_and_si128(ab64ws, _mm_or_si128(eq, ws));
            ows = _mm_or_si128(ows, ws);
            osep = _mm_or_si128(osep, _mm_or_si128(slash, _mm_cmpeq_epi8(x, _mm_set1_epi8('@'))));
            if (i + 16 == n)
                break;
            i = i + 32 <= n ? i + 16 : n - 16;
        }
        fl = 0;
        m = 0xFFFFu;
        if ((unsigned)_mm_movemask_epi8(adig) == m)
            fl |= VF_DIGIT;
        if ((unsigned)_mm_movemask_epi8(ahl) == m)
            fl |= VF_HEXL;
        if ((unsigned)_mm_movemask_epi8(ahu) == m)
            fl |= VF_HEXU;
        if ((unsigned)_mm_movemask_epi8(ab64) == m)
            fl |= VF_B64;
        if ((unsigned)_mm_movemask_epi8(ab64eq) == m)
            fl |= VF_B64EQ;
        if ((unsigned)_mm_movemask_epi8(ab64ws) == m)
            fl |= VF_B64WS;
        if (_mm_movemask_epi8(ows))
            fa |= VF_JIDWS;
        if (_mm_movemask_epi8(osep))
            fa |= VF_JIDSEP;
        *fall = fl;
        *fany = fa;
        return;
    }
#endif
    for (; i < n; i++) {
        unsigned f = vflags[p[i]];
        fl &= f;
        fa |= f;
    }
    *fall = fl;
    *fany = fa;
}

/* Hash tables over the static token lists: buckets of 8 lanes, each a tag
 * (16 bits of the hash, never 0; 0 marks an empty lane) and a token index.
 * A lookup compares the 8 tags of the home bucket at once and compares
 * strings (in the dictionary) only for a matching tag, so a miss, the usual
 * case for values, costs one load of one small bucket. Buckets are at most
 * half full on average; a full bucket continues in the next one. */
typedef struct {
    uint16_t tag[8];
    uint16_t idx[8];
} sbucket;
_Static_assert(sizeof(sbucket) == 32, "bucket size");

typedef struct {
    sbucket *b;
    uint32_t mask;
    const xb_str *list;
} stab;

static sbucket prefix_b[8], name_b[512], ns_b[128], value_b[1024], attr_b[32], text_b[8], node_b[16];
/* static shapes: full hash and index + 1 */
typedef struct {
    uint64_t hash;
    uint32_t idx1;
} hslot;
static hslot shape_slots[4096];
static hslot perm_slots[4096]; /* PERMUTED (spec 8.5): static shapes by static_perm_hash */
/* the value context (XB_VC_*) of every item of the static shapes, by the
 * item's index in the dictionary's item array; for declarations unused */
static int16_t shape_vctx[XBD_V1_NSHAPE_ITEMS];
_Static_assert(XBD_V1_NPREFIXES <= 4 * 8 && XBD_V1_NNAMES <= 4 * 512 && XBD_V1_NNAMESPACES <= 4 * 128 &&
                   XBD_V1_NVALUES <= 4 * 1024 && XBD_V1_NATTRCONTEXTS <= 4 * 32 &&
                   XBD_V1_NTEXTCONTEXTS <= 4 * 8 && XBD_V1_NNODECONTEXTS <= 4 * 16 && 2 * XBD_V1_NSHAPES <= 4096,
               "static hash tables are too small");
_Static_assert(XBD_V1_NVALUES < 65535 && XBD_V1_NNAMES < 65535 && XBD_V1_NNAMESPACES < 65535,
               "token indices must fit in 16 bits");
static stab prefix_tab, name_tab, ns_tab, value_tab, attr_tab, text_tab, node_tab;

static const xb_dictionary *dict1;
static int enc_status = -1;

/* padded copies (16 readable bytes from each) of the attribute and text
 * contexts, which the dictionary has no padded copies of */
static char ctx_pool[8192 + 16];
static xb_str pad_attr_ctx[XBD_V1_NATTRCONTEXTS], pad_text_ctx[XBD_V1_NTEXTCONTEXTS],
    pad_node_ctx[XBD_V1_NNODECONTEXTS];
/* (code << 5) | length of the node class tables' symbols (spec 8.3) */
static uint32_t nodecls_codes[XBD_V1_NODECLS_NCTX * XBD_V1_NODECLS_NSYM];

static int pad_copies(const xb_str *in, size_t n, xb_str *out, size_t *used)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (in[i].n > sizeof(ctx_pool) - 16 - *used)
            return -1;
        if (in[i].n)
            memcpy(ctx_pool + *used, in[i].p, in[i].n);
        out[i].p = ctx_pool + *used;
        out[i].n = in[i].n;
        *used += in[i].n;
    }
    return 0;
}

static inline uint16_t stab_tag(uint64_t h)
{
    return (uint16_t)((h >> 48) | 1u);
}

static int stab_build(stab *t, sbucket *b, size_t nb, const xb_str *list, size_t n)
{
    size_t i;
    t->b = b;
    t->mask = (uint32_t)(nb - 1);
    t->list = list;
    for (i = 0; i < n; i++) {
        uint64_t h = str_hash(list[i].p, list[i].n);
        uint32_t k = (uint32_t)h & t->mask, j;
        for (;;) {
            for (j = 0; j < 8 && b[k].tag[j]; j++)
                ;
            if (j < 8)
                break;
            k = (k + 1) & t->mask;
        }
        b[k].tag[j] = stab_tag(h);
        b[k].idx[j] = (uint16_t)i;
    }
    return 0;
}

/* index of the token p[0 .. n) with hash h64, or -1; p and the list's strings
 * have 16 readable bytes (xb_padded_eq). Always inlined: with the copy search
 * in this file GCC's unit growth limit stopped inlining it (value_h, est_part:
 * +1.5M instructions per traffic encode_many pass) */
XB_SHARED_INLINE int stab_find(const stab *t, const char *p, size_t n, uint64_t h64)
{
    uint32_t k = (uint32_t)h64 & t->mask;
    const uint16_t tag = stab_tag(h64);
#ifdef XB_SSE2
    const __m128i vt = _mm_set1_epi16((short)tag);
#endif
    for (;;) {
        const sbucket *b = &t->b[k];
        unsigned m, empty, j;
#ifdef XB_SSE2
        const __m128i x = _mm_loadu_si128((const __m128i *)(const void *)b->tag);
        /* two mask bits per lane */
        m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi16(x, vt));
        empty = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi16(x, _mm_setzero_si128()));
        while (m) {
            const xb_str *s;
            j = (unsigned)__builtin_ctz(m) >> 1;
            s = &t->list[b->idx[j]];
            if (s->n == n && xb_padded_eq(s->p, p, n))
                return b->idx[j];
            m &= ~(3u << (2 * j));
        }
#else
        empty = 0;
        for (j = 0; j < 8; j++) {
            if (b->tag[j] == tag) {
                const xb_str *s = &t->list[b->idx[j]];
                if (s->n == n && xb_padded_eq(s->p, p, n))
                    return b->idx[j];
            }
            if (!b->tag[j])
                empty = 1;
        }
        (void)m;
#endif
        if (empty)
            return -1;
        k = (k + 1) & t->mask;
    }
}

XB_SHARED_INLINE int stab_get(const stab *t, xb_str s)
{
    return stab_find(t, s.p, s.n, xb_str_hash_padded(s.p, s.n));
}

/* hash of a shape key: qname, then per item its kind and qname hash, and
 * for declarations the URI hash (one multiply a step; shape_index() mixes
 * the result before it picks a slot) */
#define SHAPE_ATTR 0x17u
#define SHAPE_NS 0x51u
static inline uint64_t shape_step(uint64_t h, uint64_t x)
{
    return (h ^ x) * 0x9E3779B97F4A7C15ull;
}

static inline size_t shape_index(uint64_t h)
{
    return (size_t)mix64(h) & 4095;
}

static uint64_t static_shape_hash(const xb_key *k)
{
    uint64_t h = str_hash(k->name.p, k->name.n);
    uint32_t i;
    for (i = 0; i < k->nitems; i++) {
        const xb_kitem *it = &k->items[i];
        h = shape_step(h, str_hash(it->qname.p, it->qname.n) + (it->is_ns ? SHAPE_NS : SHAPE_ATTR));
        if (it->is_ns)
            h = shape_step(h, str_hash(it->uri.p, it->uri.n));
    }
    return h;
}

/* hash of a shape key's element qname and items as a set (PERMUTED, spec
 * 8.5): the sum of one hash per item (perm_item: of its kind and qname hash,
 * and for a declaration its URI hash), so any order gives the same */
static inline uint64_t perm_item(uint64_t qh, int is_ns, uint64_t uh)
{
    uint64_t x = shape_step(0, qh + (is_ns ? SHAPE_NS : SHAPE_ATTR));
    return is_ns ? shape_step(x, uh) : x;
}

static uint64_t static_perm_hash(const xb_key *k)
{
    uint64_t sum = 0;
    uint32_t i;
    for (i = 0; i < k->nitems; i++) {
        const xb_kitem *it = &k->items[i];
        sum += perm_item(str_hash(it->qname.p, it->qname.n), it->is_ns,
                         it->is_ns ? str_hash(it->uri.p, it->uri.n) : 0);
    }
    return shape_step(str_hash(k->name.p, k->name.n), sum);
}

static int build_codes(void)
{
    size_t off = 0;
    uint32_t c;
    int t;
    for (t = 0; t < XB_NTABLES; t++) {
        uint32_t nsym = dict1->nsym[t];
        tcodes[t] = code_store + off;
        tnsym[t] = nsym;
        for (c = 0; c < dict1->nctx[t]; c++) {
            const xb_hcode *h = &dict1->codes[t][c];
            uint32_t *dst = code_store + off;
            if (off + nsym > TOTAL_SYMS)
                return -1;
            xb_code_words(h, dst);
            off += nsym;
        }
    }
    for (c = 0; c < XBD_V1_NODECLS_NCTX; c++)
        xb_code_words(&dict1->nodecls[c], nodecls_codes + (size_t)c * XBD_V1_NODECLS_NSYM);
    return off == TOTAL_SYMS ? 0 : -1;
}


static int prior_init(void);

static void enc_init(void)
{
    size_t i, used;
    static int seed_anchor;
    if (xb_dict_init() != 0 || !(dict1 = xb_get_dictionary(1))) {
        enc_status = 1;
        return;
    }
    hash_seed = mix64((uint64_t)(uintptr_t)&seed_anchor * 0x9E3779B97F4A7C15ull) | 1;
    if (build_codes() || prior_init()) {
        enc_status = 1;
        return;
    }
    init_vflags();
    for (i = 0; i < XB_CHAR_CONTEXTS * 256; i++) {
        char_len[i / 256][i % 256] = (uint8_t)(tcodes[XB_T_CHAR][i] & 31);
        if (char_len[i / 256][i % 256] > 24) { /* put_literal relies on it */
            enc_status = 1;
            return;
        }
    }
    used = 0;
    if (dict1->nattr_contexts != XBD_V1_NATTRCONTEXTS || dict1->ntext_contexts != XBD_V1_NTEXTCONTEXTS ||
        pad_copies(dict1->attr_contexts, XBD_V1_NATTRCONTEXTS, pad_attr_ctx, &used) ||
        pad_copies(dict1->text_contexts, XBD_V1_NTEXTCONTEXTS, pad_text_ctx, &used) ||
        stab_build(&prefix_tab, prefix_b, 8, dict1->pad_prefixes, dict1->nprefixes) ||
        stab_build(&name_tab, name_b, 512, dict1->pad_names, dict1->nnames) ||
        stab_build(&ns_tab, ns_b, 128, dict1->pad_namespaces, dict1->nnamespaces) ||
        stab_build(&value_tab, value_b, sizeof value_b / sizeof value_b[0], dict1->pad_values, dict1->nvalues) ||
        stab_build(&attr_tab, attr_b, 32, pad_attr_ctx, XBD_V1_NATTRCONTEXTS) ||
        stab_build(&text_tab, text_b, 8, pad_text_ctx, XBD_V1_NTEXTCONTEXTS) ||
        dict1->nnode_contexts != XBD_V1_NNODECONTEXTS ||
        pad_copies(dict1->node_contexts, XBD_V1_NNODECONTEXTS, pad_node_ctx, &used) ||
        stab_build(&node_tab, node_b, 16, pad_node_ctx, XBD_V1_NNODECONTEXTS)) {
        enc_status = 1;
        return;
    }
    for (i = 0; i < dict1->nshapes; i++) {
        const xb_key *key = &dict1->pad_shapes[i];
        size_t base = (size_t)(key->items - dict1->pad_shapes[0].items), k;
        if (key->nitems > XBD_V1_NSHAPE_ITEMS || base > XBD_V1_NSHAPE_ITEMS - key->nitems) {
            enc_status = 1;
            return;
        }
        for (k = 0; k < key->nitems; k++) { /* (the dictionary's, pair contexts included: spec 8.5) */
            int c = key->items[k].attr_ctx;
            shape_vctx[base + k] = (int16_t)(c < 0 ? XB_VC_OTHER_ATTR : XB_VC_FIXED + c);
        }
    }
    for (i = 0; i < dict1->nshapes; i++) {
        uint64_t h = static_shape_hash(&dict1->shapes[i]);
        size_t k = shape_index(h);
        while (shape_slots[k].idx1)
            k = (k + 1) & 4095;
        shape_slots[k].hash = h;
        shape_slots[k].idx1 = (uint32_t)i + 1;
    }
    /* in index order: of two shapes of one set, the first is found first */
    for (i = 0; i < dict1->nshapes; i++) {
        uint64_t h;
        size_t k;
        if (dict1->shapes[i].nitems < XB_PERM_MIN || dict1->shapes[i].nitems > XB_PERM_MAX)
            continue;
        h = static_perm_hash(&dict1->shapes[i]);
        k = shape_index(h);
        while (perm_slots[k].idx1)
            k = (k + 1) & 4095;
        perm_slots[k].hash = h;
        perm_slots[k].idx1 = (uint32_t)i + 1;
    }
    enc_status = 0;
}

#ifdef _WIN32
static INIT_ONCE enc_once = INIT_ONCE_STATIC_INIT;
static BOOL CALLBACK enc_init_cb(PINIT_ONCE o, PVOID p, PVOID *ctx)
{
    (void)o;
    (void)p;
    (void)ctx;
    enc_init();
    return TRUE;
}
static int enc_tables(void)
{
    InitOnceExecuteOnce(&enc_once, enc_init_cb, NULL, NULL);
    return enc_status;
}
#elif !defined(__STDC_NO_ATOMICS__)
/* enc_ready: the tables are built (set once by enc_init, read by every call
 * without the cost of pthread_once) */
static pthread_once_t enc_once = PTHREAD_ONCE_INIT;
static atomic_int enc_ready;
static void enc_init_once(void)
{
    enc_init();
    if (enc_status == 0)
        atomic_store_explicit(&enc_ready, 1, memory_order_release);
}
static int enc_tables(void)
{
    if (atomic_load_explicit(&enc_ready, memory_order_acquire))
        return 0;
    if (pthread_once(&enc_once, enc_init_once) != 0)
        return -1;
    return enc_status;
}
#else
static pthread_once_t enc_once = PTHREAD_ONCE_INIT;
static int enc_tables(void)
{
    if (pthread_once(&enc_once, enc_init) != 0)
        return -1;
    return enc_status;
}
#endif

/* ---- bit writer (bits.BitWriter) -------------------------------------------------- */
#if defined(__GNUC__)
#define XB_ENC_COLD __attribute__((cold, noinline))
#define XB_ENC_NOINLINE __attribute__((noinline))
#else
#define XB_ENC_COLD
#define XB_ENC_NOINLINE
#endif
static XB_ENC_COLD void out_grow(xb_encoder *e, size_t need)
{
    void *p = xb_grow(e->out, &e->cap_out, need, 1);
    if (!p) {
        /* keep writing into what there is; the call fails at the end */
        e->oom = 1;
        e->out_n = 0;
        return;
    }
    e->out = p;
}

static inline void store_be32(uint8_t *o, uint32_t w)
{
    o[0] = (uint8_t)(w >> 24);
    o[1] = (uint8_t)(w >> 16);
    o[2] = (uint8_t)(w >> 8);
    o[3] = (uint8_t)w;
}

/* v < 2**n, n <= 32. The output always has room for 8 more bytes
 * (encode_one reserves them, put and out_reserve keep it so), so the word
 * is stored without a branch on whether 32 bits are complete (which is
 * irregular): it is kept only if they are. */
static inline void put(xb_encoder *e, uint32_t v, unsigned n)
{
    uint64_t acc = (e->acc << n) | v;
    unsigned nacc = e->nacc + n, f = nacc >= 32;
    size_t on = e->out_n; /* (read once: the byte store below may alias it) */
    nacc -= f << 5;
    store_be32(e->out + on, (uint32_t)(acc >> nacc));
    on += f << 2;
    e->out_n = on;
    e->acc = acc;
    e->nacc = nacc;
    if (on + 8 > e->cap_out)
        out_grow(e, on + 8);
}

static inline void put64(xb_encoder *e, uint64_t v, unsigned n)
{
    if (n > 32) {
        put(e, (uint32_t)(v >> 32), n - 32);
        put(e, (uint32_t)v, 32);
    } else {
        put(e, (uint32_t)v, n);
    }
}

/* Room for nbytes more output bytes (for loops that write without checks);
 * NULL (and the call fails at the end) if out of memory. */
static inline uint8_t *out_reserve(xb_encoder *e, size_t nbytes)
{
    if (e->out_n + nbytes + 8 > e->cap_out) {
        void *p = xb_grow(e->out, &e->cap_out, e->out_n + nbytes + 8, 1);
        if (!p) {
            e->oom = 1;
            return NULL;
        }
        e->out = p;
    }
    return e->out + e->out_n;
}

static inline void store_be64(uint8_t *o, uint64_t w)
{
    store_be32(o, (uint32_t)(w >> 32));
    store_be32(o + 4, (uint32_t)w);
}

/* For loops that write bits straight to the output (put_chars, B64 bodies):
 * the whole bytes of the *nacc (1 .. 64) bits pending in acc, written at o
 * as one 8-byte store (the bytes after them are scratch, overwritten later);
 * *nacc keeps the fewer than 8 left, and the next output byte is returned */
XB_HOT_INLINE uint8_t *out_whole(uint8_t *o, uint64_t acc, unsigned *nacc)
{
    store_be64(o, acc << (64 - *nacc));
    o += *nacc >> 3;
    *nacc &= 7;
    return o;
}

#define bitlen xb_bitlen
#define gamma_length xb_gamma_length

/* Elias gamma of n >= 1 */
static inline void gamma_code(xb_encoder *e, uint64_t n)
{
    unsigned b = bitlen(n);
    put64(e, 0, b - 1);
    put64(e, n, b);
}

static inline void sym(xb_encoder *e, const uint32_t *code, uint32_t s)
{
    uint32_t c = code[s];
    put(e, c >> 5, c & 31u);
}

/* the codes of a stateless node symbol (spec 8.3): the node table's context,
 * and inside an element of a node class that class's table of the context
 * (cls; NULL outside a class) and its local symbols */
typedef struct {
    const uint32_t *node, *cls;
    const uint8_t *local;
} xb_ncode;

XB_HOT_INLINE void nsym(xb_encoder *e, const xb_ncode *nc, uint32_t v)
{
    if (nc->cls) {
        const uint32_t l = nc->local[v];
        sym(e, nc->cls, l);
        if (l != XB_N_ESCAPE)
            return;
    }
    sym(e, nc->node, v);
}

static void finish_bits(xb_encoder *e)
{
    if (e->nacc) {
        unsigned pad = (8u - (e->nacc & 7u)) & 7u, nbytes = (e->nacc + pad) >> 3, i;
        uint64_t v = e->acc << pad;
        if (e->out_n + nbytes > e->cap_out)
            out_grow(e, e->out_n + nbytes);
        for (i = 0; i < nbytes; i++)
            e->out[e->out_n++] = (uint8_t)(v >> (8 * (nbytes - 1 - i)));
    }
    e->acc = 0;
    e->nacc = 0;
}

#define VCODE(vctx) (tcodes[XB_T_VALUE] + (size_t)(vctx)*V_NSYM)

/* ---- string history -------------------------------------------------------------- */
/* Entries hist[0 .. nhist) (oldest first) with their hashes hhash[], and an
 * open-addressing index htab of the newest entry of each distinct string (its
 * slots of this message have gen == hgen). hist_lim entries fit without
 * growing anything (htab at most half full). */
static void hist_reset(xb_encoder *e)
{
    e->nhist = 0;
    if (++e->hgen == 0) {
        size_t i;
        for (i = 0; i < e->cap_htab; i++)
            e->htab[i].gen = 0;
        e->hgen = 1;
    }
}

/* index of the most recent occurrence of s, or -1; *slot: where s would go
 * (the empty slot that ended the search) */
static inline long hist_find_slot(const xb_encoder *e, xb_str s, uint64_t h, size_t *slot)
{
    const size_t mask = e->cap_htab - 1;
    size_t k = (size_t)h & mask;
    while (e->htab[k].gen == e->hgen) {
        if (e->htab[k].hash == h && str_eq(e->hist[e->htab[k].idx], s))
            return (long)e->htab[k].idx;
        k = (k + 1) & mask;
    }
    *slot = k;
    return -1;
}

static inline long hist_find(const xb_encoder *e, xb_str s, uint64_t h)
{
    size_t slot;
    return hist_find_slot(e, s, h, &slot);
}

static void htab_put(xb_encoder *e, uint64_t h, uint32_t idx)
{
    size_t mask = e->cap_htab - 1, k = (size_t)h & mask;
    while (e->htab[k].gen == e->hgen) {
        if (e->htab[k].hash == h && str_eq(e->hist[e->htab[k].idx], e->hist[idx])) {
            e->htab[k].idx = idx;
            return;
        }
        k = (k + 1) & mask;
    }
    e->htab[k].gen = e->hgen;
    e->htab[k].hash = h;
    e->htab[k].idx = idx;
}

/* room for more entries (htab rebuilt twice as large); 0 or -1 */
static int hist_grow(xb_encoder *e)
{
    size_t need = e->nhist + 1, i, cap;
    xb_hslot *t;
    if (need > e->cap_hist) {
        size_t c = e->cap_hist;
        void *p = xb_grow(e->hist, &c, need, sizeof(*e->hist));
        if (!p)
            return -1;
        e->hist = p;
        c = e->cap_hist;
        p = xb_grow(e->hhash, &c, need, sizeof(*e->hhash));
        if (!p)
            return -1;
        e->hhash = p;
        e->cap_hist = c;
    }
    if (2 * need > e->cap_htab) {
        cap = e->cap_htab ? 2 * e->cap_htab : 64;
        while (cap < 2 * need)
            cap *= 2;
        t = calloc(cap, sizeof(*t));
        if (!t)
            return -1;
        free(e->htab);
        e->htab = t;
        e->cap_htab = cap;
        e->hgen = 1;
        for (i = 0; i < e->nhist; i++)
            htab_put(e, e->hhash[i], (uint32_t)i);
    }
    e->hist_lim = e->cap_htab / 2 < e->cap_hist ? e->cap_htab / 2 : e->cap_hist;
    return 0;
}

/* add s (hash h) as the newest entry; slot: where hist_find_slot() found it
 * would go, if nothing was added since, else SIZE_MAX */
static void hist_add(xb_encoder *e, xb_str s, uint64_t h, size_t slot)
{
    uint32_t idx = (uint32_t)e->nhist;
    if (e->nhist >= e->hist_lim) {
        if (hist_grow(e)) {
            e->oom = 1;
            return;
        }
        slot = SIZE_MAX;
    }
    e->hist[idx] = s;
    e->hhash[idx] = h;
    e->nhist++;
    if (slot == SIZE_MAX) {
        htab_put(e, h, idx);
    } else {
        e->htab[slot].gen = e->hgen;
        e->htab[slot].hash = h;
        e->htab[slot].idx = idx;
    }
}

/* ---- values (encoder._Coder.value) ----------------------------------------------- */
/* model.int_value: 1 and *v if s is a canonical decimal below 2**64 */
static inline int int_value(xb_str s, uint64_t *v)
{
    return xb_int_value(s.p, s.n, v);
}

/* model.uuid_kind */
static int uuid_kind(xb_str s)
{
    int lower = 0, upper = 0;
    size_t i;
    if (s.n != 36)
        return -1;
    for (i = 0; i < 36; i++) {
        uint8_t c = (uint8_t)s.p[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return -1;
        } else if (c >= 'a' && c <= 'f') {
            lower = 1;
        } else if (c >= 'A' && c <= 'F') {
            upper = 1;
        } else if (!(c >= '0' && c <= '9')) {
            return -1;
        }
    }
    if (!upper)
        return XB_V_UUID_L;
    if (!lower)
        return XB_V_UUID_U;
    return -1;
}

static const int8_t B64_VAL[256] = {
    ['A'] = 1,  ['B'] = 2,  ['C'] = 3,  ['D'] = 4,  ['E'] = 5,  ['F'] = 6,  ['G'] = 7,  ['H'] = 8,
    ['I'] = 9,  ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16,
    ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
    ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32,
    ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40,
    ['o'] = 41, ['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48,
    ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
    ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['+'] = 63, ['/'] = 64,
};

/* the 24 bits of the four base64 characters q[0 .. 4) */
static inline uint32_t b64_quad(const uint8_t *q)
{
    return ((uint32_t)(B64_VAL[q[0]] - 1) << 18) | ((uint32_t)(B64_VAL[q[1]] - 1) << 12) |
           ((uint32_t)(B64_VAL[q[2]] - 1) << 6) | (uint32_t)(B64_VAL[q[3]] - 1);
} /* value + 1; 0: not in the alphabet */

/* model.b64_bytes: the number of bytes if s is canonical padded base64, else
 * -1; fall: the classes of all its bytes (value_flags) */
static int64_t b64_bytes(xb_str s, unsigned fall)
{
    const uint8_t *p = (const uint8_t *)s.p;
    size_t n = s.n, pads = 0;
    if (n < XB_B64_MIN || n % 4 || !(fall & VF_B64EQ))
        return -1;
    if (!(fall & VF_B64)) {
        /* '=' only as the last one or two bytes */
        pads = p[n - 1] != '=' ? 0 : p[n - 2] == '=' ? 2 : 1;
        if (!pads || memchr(p, '=', n - pads))
            return -1;
    }
    /* the bits below the last whole byte must be zero (re-encoding gives s) */
    if (pads == 2 && ((B64_VAL[p[n - 3]] - 1) & 0xF))
        return -1;
    if (pads == 1 && ((B64_VAL[p[n - 2]] - 1) & 0x3))
        return -1;
    return (int64_t)(n / 4 * 3 - pads);
}

/* A B64 layout (spec 8.6) of a value s: s = lead, lines of width bytes
 * (the last 1 .. width) separated by sep, trail. width 0: no layout (lead,
 * sep and trail empty) or one line (sep empty). */
typedef struct {
    uint32_t lead, trail, width, sep_off, sep_n;
    int same; /* sep == lead (coded as one bit) */
} b64lay;

#define IS_WS(c) (vflags[c] & VF_JIDWS) /* SP TAB CR LF */

/* model.b64_layout: the number of bytes of the base64 body if s (every byte
 * of it base64, '=' or whitespace, and some whitespace: VF_B64WS, VF_JIDWS)
 * has a layout, with it in *L; else -1 */
static int64_t b64_layout(xb_str s, b64lay *L)
{
    const uint8_t *p = (const uint8_t *)s.p;
    size_t n = s.n, a = 0, z = n, i, j, w, blen, pads = 0, q, eqs = 0;
    uint8_t last[3] = {0, 0, 0};
    if (n < XB_B64_MIN || n > UINT32_MAX)
        return -1;
    while (a < n && IS_WS(p[a]))
        a++;
    while (z > a && IS_WS(p[z - 1]))
        z--;
    if (a == z)
        return -1;
    L->lead = (uint32_t)a;
    L->trail = (uint32_t)(n - z);
    L->sep_off = L->sep_n = 0;
    L->same = 0;
    for (i = a; i < z && !IS_WS(p[i]); i++)
        ;
    w = blen = i - a;
    L->width = 0;
    if (i < z) { /* lines: p[z - 1] is not whitespace, so each separator ends before z */
        L->width = (uint32_t)w;
        L->sep_off = (uint32_t)i;
        for (j = i; IS_WS(p[j]); j++)
            ;
        L->sep_n = (uint32_t)(j - i);
        L->same = j - i == a && !memcmp(p + i, p, a);
        for (;;) {
            i = j;
            for (j = i; j < z && !IS_WS(p[j]); j++)
                ;
            blen += j - i;
            if (j == z) {
                if (j - i > w)
                    return -1;
                break;
            }
            if (j - i != w || z - j <= L->sep_n || memcmp(p + j, p + L->sep_off, L->sep_n) ||
                IS_WS(p[j + L->sep_n]))
                return -1;
            j += L->sep_n;
        }
    }
    if (blen < XB_B64_MIN || blen % 4)
        return -1;
    /* the last three body bytes (blen >= 8), then '=' only as the last one or two */
    for (i = z, q = 0; q < 3; q++) {
        while (IS_WS(p[i - 1]))
            i--;
        last[q] = p[--i];
    }
    pads = last[0] != '=' ? 0 : last[1] == '=' ? 2 : 1;
    for (i = a; i < z; i++)
        eqs += p[i] == '=';
    if (eqs != pads)
        return -1;
    /* the bits below the last whole byte must be zero (re-encoding gives s) */
    if (pads == 2 && ((B64_VAL[last[2]] - 1) & 0xF))
        return -1;
    if (pads == 1 && ((B64_VAL[last[1]] - 1) & 0x3))
        return -1;
    return (int64_t)(blen / 4 * 3 - pads);
}

/* bits of WS(p[0 .. n)) (model.ws_cost) */
static uint64_t ws_cost(const uint8_t *p, size_t n)
{
    uint64_t c = gamma_length((uint64_t)n + 1);
    size_t i;
    for (i = 0; i < n; i++)
        c += p[i] == ' ' ? 1 : p[i] == '\n' ? 2 : 3;
    return c;
}

/* bits of a layout after the wrapped bit (model.b64_layout_cost) */
static uint64_t b64_layout_cost(xb_str s, const b64lay *L)
{
    const uint8_t *p = (const uint8_t *)s.p;
    uint64_t c = ws_cost(p, L->lead) + gamma_length((uint64_t)L->width + 1) + ws_cost(p + s.n - L->trail, L->trail);
    if (L->width)
        c += 1 + (L->same ? 0 : ws_cost(p + L->sep_off, L->sep_n));
    return c;
}

typedef xb_jid jid_parts;

/* model.jid_split for a non-empty s without JID whitespace (value_flags) */
static void jid_split(xb_str s, jid_parts *j)
{
    const char *sl = memchr(s.p, '/', s.n), *at;
    size_t slash = sl ? (size_t)(sl - s.p) : s.n;
    j->sym = -1;
    j->has_res = sl != NULL;
    if (j->has_res) {
        j->res.p = s.p + slash + 1;
        j->res.n = s.n - slash - 1;
    }
    at = slash ? memchr(s.p, '@', slash) : NULL;
    j->has_local = at != NULL;
    if (j->has_local) {
        j->local.p = s.p;
        j->local.n = (size_t)(at - s.p);
        j->domain.p = at + 1;
        j->domain.n = slash - j->local.n - 1;
    } else {
        j->domain.p = s.p;
        j->domain.n = slash;
    }
    if (!j->domain.n || (j->has_local && !j->local.n) || (j->has_res && !j->res.n))
        return;
    if (!j->has_local && !j->has_res)
        return;
    j->sym = !j->has_res ? XB_V_JID_LD : !j->has_local ? XB_V_JID_DR : XB_V_JID_LDR;
}

/* a packed form other than JID: symbol, exact cost in bits, payload data */
typedef struct {
    int sym;
    uint64_t cost;
    uint64_t ival;  /* INT */
    uint64_t irel;  /* INT: ival - the context's recent integer (spec 14.3), 0: coded whole */
    int iflag;      /* INT: the relative bit is sent (the context's recent value is an integer) */
    int64_t nbytes; /* B64 */
    b64lay lay;     /* B64 */
} packed;

/* what coding a JID part needs again after its estimate */
typedef struct {
    uint64_t h;
    int tok;  /* token index, -1 if none */
    int have; /* ch is the part's packed form (it was not in the history) */
    packed ch;
} partinfo;

typedef struct {
    packed p; /* p.sym may be a JID symbol */
    jid_parts jid;
    partinfo part[3]; /* local, domain, resource */
} vchoice;

#define LEN(code, sy) ((code)[sy] & 31u)

/* the bits of p[0 .. n) in the char table clen (lengths per context and
 * byte) and the terminator: each byte's code depends on the context the bytes
 * before it lead to (spec 8.1; ctx: the context of p[0]) */
static inline uint64_t chars_cost(const uint8_t (*clen)[256], const uint8_t *p, size_t n, unsigned ctx)
{
    uint64_t c0 = 0, c1 = 0;
    size_t i = 0;
    /* two sums for more parallelism */
    for (; i + 2 <= n; i += 2) {
        uint8_t a = p[i], b = p[i + 1];
        unsigned ca;
        c0 += clen[ctx][a];
        if ((a | b) < 0x80) { /* ASCII: the context after b depends on a and b only */
            ca = xb_char_next[ctx][a];
            ctx = xb_char_after2[a][b];
        } else {
            ca = xb_char_next[ctx][a];
            ctx = xb_char_next[ca][b];
        }
        c1 += clen[ca][b];
    }
    if (i < n) {
        c0 += clen[ctx][p[i]];
        ctx = xb_char_next[ctx][p[i]];
    }
    return c0 + c1 + clen[ctx][0];
}

/* ---- in-message copies of literal bytes (spec 8.11) ---- */
struct xb_copy {
    size_t at, len; /* bytes at .. at + len of the literal */
    uint64_t val;   /* its source (spec 8.11): the index or distance - 1 ... */
    unsigned kind;  /* ... of this char symbol (XB_COPY, XB_COPY_STR, XB_COPY_INNER) */
    unsigned nb;    /* ... in this many bits */
};

/* initial slots of the key table: 4 KiB, grown by the messages that need
 * more (a new encoder per stream direction clears only these) */
#define WTAB_BITS 8

/* the slot of a 4-byte key: the high half of a multiply with the process's
 * random odd seed, so crafted input cannot predict which keys share a probe
 * sequence; masked to the table (at most 2^32 slots are told apart) */
static inline size_t wslot(uint32_t key, uint64_t seed, size_t mask)
{
    return (size_t)(((uint64_t)key * seed) >> 32) & mask;
}

/* spec 8.11: a copy may start only at an anchor of its literal: a position
 * that is a multiple of 16 (0 included), or a byte that is no UTF-8
 * continuation byte after a byte that is no ASCII letter or digit. XB_ANCHOR_AFTER[b]: b is such a byte before.
 * The portable anchor_mask16 only: the vector one tests the rule 16 positions at once. */
#ifndef XB_SSE2
static const uint8_t XB_ANCHOR_AFTER[256] = {
#define R8(x) x, x, x, x, x, x, x, x
    R8(1), R8(1), R8(1), R8(1), R8(1), R8(1), /* 0x00-0x2F */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, /* 0-9 */
    1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* @ A-O */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, /* P-Z */
    1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* ` a-o */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, /* p-z */
    R8(1), R8(1), R8(1), R8(1), R8(1), R8(1), R8(1), R8(1),
    R8(1), R8(1), R8(1), R8(1), R8(1), R8(1), R8(1), R8(1),
#undef R8
};

#endif

/* the anchors (spec 8.11) among positions i .. i + 15 of a literal, i a
 * multiple of 16, as bits 0 .. 15 (p = the literal + i, 16 bytes readable):
 * bit 0 always (a multiple of 16), bit k if p[k] is no UTF-8 continuation
 * byte and p[k - 1] no ASCII letter or digit */
static inline unsigned anchor_mask16(const uint8_t *p)
{
#ifdef XB_SSE2
    const __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i dig = _mm_cmplt_epi8(_mm_add_epi8(x, _mm_set1_epi8((char)(0x80 - '0'))), _mm_set1_epi8((char)(-128 + 10)));
    __m128i ltr = _mm_cmplt_epi8(_mm_add_epi8(_mm_or_si128(x, _mm_set1_epi8(0x20)), _mm_set1_epi8((char)(0x80 - 'a'))),
                                 _mm_set1_epi8((char)(-128 + 26)));
    __m128i cont = _mm_cmpeq_epi8(_mm_and_si128(x, _mm_set1_epi8((char)0xC0)), _mm_set1_epi8((char)0x80));
    unsigned alnum = (unsigned)_mm_movemask_epi8(_mm_or_si128(dig, ltr));
    return (((~alnum << 1) & ~(unsigned)_mm_movemask_epi8(cont)) | 1u) & 0xFFFFu;
#else
    unsigned m = 1, k;
    for (k = 1; k < 16; k++)
        m |= (unsigned)(XB_ANCHOR_AFTER[p[k - 1]] && (p[k] & 0xC0) != 0x80) << k;
    return m;
#endif
}

/* bits 0 .. 15: the ASCII bytes among p[0 .. 16) */
static inline unsigned ascii_mask16(const uint8_t *p)
{
#ifdef XB_SSE2
    return ~(unsigned)_mm_movemask_epi8(_mm_loadu_si128((const __m128i *)(const void *)p)) & 0xFFFFu;
#else
    unsigned m = 0, k;
    for (k = 0; k < 16; k++)
        m |= (unsigned)(p[k] < 0x80) << k;
    return m;
#endif
}

/* ---- the prior text (spec 8.11): its anchors indexed once per process ----
 * Two indexes of the same shape: the starts of its strings under their first
 * XB_COPY_MIN bytes (the candidates at a literal's first byte), and its inner
 * anchors under XB_PRIOR_INNER_KEY bytes (at the literal's later anchors).
 * Per key, a row of its candidates nearest (last in the prior) first, as
 * many as a search examines: a probe reads one slot and one row, not a chain
 * through the prior. */
#define NPRIOR ((size_t)XBD_V1_PRIOR_LEN)
#if XBD_V1_PRIOR_INNER_ANCHORS >= 0xFFFF || XB_PRIOR_INNER_KEY != 6 || XB_COPY_MIN != 4
#error "a key and 1 + the index of its row are packed in 64 bits"
#endif
/* a candidate: its position in the prior, the 8 bytes of the prior after its
   key (a match of up to key + 8 bytes reads no more), the last of its row */
typedef struct {
    uint64_t after;
    uint32_t pos, last;
} xb_pcand;

typedef struct {
    uint64_t *slot; /* the key in the low 8 * klen bits, 1 + the index of its row's first candidate above; 0: free */
    xb_pcand *cand;
    unsigned klen, bits; /* key bytes; log2 of the slots (about half of them used) */
    unsigned row_max;    /* candidates a row keeps */
} xb_pindex;

static uint64_t pstart_slot[(size_t)1 << XBD_V1_PRIOR_TAB_BITS], pinner_slot[(size_t)1 << XBD_V1_PRIOR_INNER_TAB_BITS];
static xb_pcand pstart_cand[XBD_V1_PRIOR_ANCHORS], pinner_cand[XBD_V1_PRIOR_INNER_ANCHORS];
static xb_pindex pstart = {pstart_slot, pstart_cand, XB_COPY_MIN, XBD_V1_PRIOR_TAB_BITS, XB_COPY_CANDIDATES};
static xb_pindex pinner = {pinner_slot, pinner_cand, XB_PRIOR_INNER_KEY, XBD_V1_PRIOR_INNER_TAB_BITS,
                           XB_PRIOR_INNER_CANDIDATES};
/* a bit per (hashed) inner key, tested first: most anchors' keys are not there */
#define PIN_FILTER_BITS 16
static uint64_t pinner_filter[((size_t)1 << PIN_FILTER_BITS) / 64];

/* the key of klen bytes at p (8 readable bytes) */
static inline uint64_t pkey(const uint8_t *p, unsigned klen)
{
    return xb_le64((const char *)p) & ((((uint64_t)1) << (8 * klen)) - 1);
}

/* the slot of key: its own or the free one where it would be; the prior is
 * static, so a fixed multiplier (a crafted key can only miss; the table's
 * clusters are the prior's) */
static inline size_t pslot(const xb_pindex *ix, uint64_t key)
{
    const uint64_t mask = (((uint64_t)1) << (8 * ix->klen)) - 1;
    size_t k = (size_t)((key * 0x9E3779B97F4A7C15ull) >> (64 - ix->bits));
    while (ix->slot[k] && (ix->slot[k] & mask) != key)
        k = (k + 1) & (((size_t)1 << ix->bits) - 1);
    return k;
}

/* 1 + the index of the first candidate of key's row; 0: none */
static inline uint32_t prow(const xb_pindex *ix, uint64_t key)
{
    return (uint32_t)(ix->slot[pslot(ix, key)] >> (8 * ix->klen));
}

/* the filter's bit of an inner key: the top bits of another multiple (every
 * byte of the key moves them) */
static inline size_t pin_bit(uint64_t key)
{
    return (size_t)((key * 0xC2B2AE3D27D4EB4Full) >> (64 - PIN_FILTER_BITS));
}

static inline int pin_maybe(uint64_t key)
{
    const size_t b = pin_bit(key);
    return (int)((pinner_filter[b >> 6] >> (b & 63)) & 1u);
}

/* the prior's anchors of each index (dictionary.prior_text, prior_inner_index):
 * a string start with XB_COPY_MIN bytes; an inner anchor is an ASCII byte
 * that starts a string or follows a byte that is no ASCII letter or digit,
 * with XB_PRIOR_INNER_KEY bytes of its string from j */
static int panchor(const xb_pindex *ix, const uint8_t *p, size_t j)
{
    const int first = !j || !p[j - 1]; /* a string's first byte */
    unsigned b;
    if (!p[j] || memchr(p + j, 0, ix->klen))
        return 0;
    if (ix == &pstart || first)
        return first && (ix == &pstart || p[j] < 0x80);
    b = p[j - 1];
    return p[j] < 0x80 && !(b - '0' < 10u || (b | 0x20u) - 'a' < 26u);
}

/* build ix from the prior; -1 if its counts (na: the candidates kept, nk:
 * the keys) are not the generated ones. Two passes: each key's anchors
 * counted, then written in its row nearest first (the prior walked
 * backwards). len, fill: scratch of one byte per slot. */
static int pindex_build(xb_pindex *ix, size_t na_want, size_t nk_want, uint8_t *len, uint8_t *fill)
{
    const uint8_t *p = XBD_V1_PRIOR;
    const size_t nslots = (size_t)1 << ix->bits;
    const uint64_t mask = (((uint64_t)1) << (8 * ix->klen)) - 1;
    size_t j, k, na = 0, nk = 0, at = 0;
    uint64_t key;
    for (j = 0; j + ix->klen <= NPRIOR; j++) {
        if (!panchor(ix, p, j))
            continue;
        key = pkey(p + j, ix->klen);
        k = pslot(ix, key);
        if (!ix->slot[k]) {
            if (++nk > nk_want || nk == nslots) /* (a free slot stays) */
                return -1;
            ix->slot[k] = key;
        }
        if (len[k] < ix->row_max) {
            len[k]++;
            if (++na > na_want)
                return -1;
        }
    }
    if (na != na_want || nk != nk_want)
        return -1;
    for (k = 0; k < nslots; k++) {
        if (!ix->slot[k])
            continue;
        key = ix->slot[k] & mask;
        ix->slot[k] = key | (uint64_t)(at + 1) << (8 * ix->klen);
        ix->cand[at + len[k] - 1].last = 1;
        at += len[k];
        if (ix == &pinner) {
            const size_t b = pin_bit(key);
            pinner_filter[b >> 6] |= (uint64_t)1 << (b & 63);
        }
    }
    for (j = NPRIOR - ix->klen + 1; j-- > 0;) {
        xb_pcand *c;
        if (!panchor(ix, p, j))
            continue;
        key = pkey(p + j, ix->klen);
        k = pslot(ix, key);
        if (fill[k] == len[k])
            continue; /* not kept: the key's nearest are */
        c = &ix->cand[(ix->slot[k] >> (8 * ix->klen)) - 1 + fill[k]++];
        c->pos = (uint32_t)j;
        c->after = xb_le64((const char *)p + j + ix->klen); /* (the prior has 16 bytes after its end) */
    }
    return 0;
}

/* the copy source of each prior position (spec 8.11): 1 + a string's index,
 * 1 + XBD_V1_PRIOR_NSTARTS + another inner anchor's index, 0 for none */
static uint16_t prior_src[XBD_V1_PRIOR_LEN];
_Static_assert(XBD_V1_PRIOR_NSTARTS + XBD_V1_PRIOR_NINNER < 65535, "prior sources fit 16 bits");

/* index the prior and fill prior_src; -1 if it does not give the generated counts */
static int prior_init(void)
{
    static uint8_t len[(size_t)1 << XBD_V1_PRIOR_INNER_TAB_BITS], fill[(size_t)1 << XBD_V1_PRIOR_INNER_TAB_BITS];
    size_t k;
    for (k = 0; k < XBD_V1_PRIOR_NSTARTS; k++) {
        if (XBD_V1_PRIOR_STARTS[k] >= XBD_V1_PRIOR_LEN || prior_src[XBD_V1_PRIOR_STARTS[k]])
            return -1;
        prior_src[XBD_V1_PRIOR_STARTS[k]] = (uint16_t)(1 + k);
    }
    for (k = 0; k < XBD_V1_PRIOR_NINNER; k++) {
        if (XBD_V1_PRIOR_INNER_LIST[k] >= XBD_V1_PRIOR_LEN || prior_src[XBD_V1_PRIOR_INNER_LIST[k]])
            return -1;
        prior_src[XBD_V1_PRIOR_INNER_LIST[k]] = (uint16_t)(1 + XBD_V1_PRIOR_NSTARTS + k);
    }
    if (XBD_V1_PRIOR_TAB_BITS > XBD_V1_PRIOR_INNER_TAB_BITS ||
        pindex_build(&pstart, XBD_V1_PRIOR_ANCHORS, XBD_V1_PRIOR_KEYS, len, fill))
        return -1;
    memset(len, 0, sizeof(len));
    memset(fill, 0, sizeof(fill));
    return pindex_build(&pinner, XBD_V1_PRIOR_INNER_ANCHORS, XBD_V1_PRIOR_INNER_KEYS, len, fill);
}

/* a new message: an empty window, nothing indexed yet */
static void win_reset(xb_encoder *e)
{
    e->wbase += e->nanch + 1;
    if (e->wbase > ((uint64_t)1 << 31)) { /* heads are 32-bit: all slots freed, counting again from 1 */
        if (e->wtab)
            memset(e->wtab, 0, (e->wmask + 1) * sizeof(*e->wtab));
        e->wbase = 1;
    }
    e->nanch = 0;
    e->win_n = 0;
    e->wlive = 0;
    e->wlo = 0;
    e->sess_st = NULL;
}

static XB_ENC_COLD int win_grow(xb_encoder *e, size_t n)
{
    size_t need = e->win_n + n + 16; /* 16 readable bytes after each position (find_anchors) */
    void *p;
    if (need > INT32_MAX) /* (positions and anchor ordinals are 31-bit; max_size is far below) */
        goto oom;
    if (need > e->cap_win) {
        p = xb_grow(e->win, &e->cap_win, need, 1);
        if (!p)
            goto oom;
        e->win = p;
    }
    if (!e->wtab) {
        e->wtab = calloc((size_t)1 << WTAB_BITS, sizeof(*e->wtab));
        if (!e->wtab)
            goto oom;
        e->wmask = ((size_t)1 << WTAB_BITS) - 1;
        e->wgrow = (size_t)1 << (WTAB_BITS - 1);
    }
    e->cap_w = e->cap_win;
    return 0;
oom:
    e->oom = 1;
    return -1;
}

/* room for a literal of n bytes after the window; -1 (e->oom) if out of memory */
static inline int win_reserve(xb_encoder *e, size_t n)
{
    if (e->win_n + n + 16 <= e->cap_w)
        return 0;
    return win_grow(e, n);
}

/* the key table holds more than half its slots: twice as many slots, the
 * keys of this message moved (those of older messages dropped); -1 (e->oom)
 * if out of memory. Keeps at most half the slots used, so probes stay short. */
static XB_ENC_COLD int wtab_grow(xb_encoder *e)
{
    size_t n = (e->wmask + 1) * 2, k, h;
    struct xb_wslot *t;
    if (n > SIZE_MAX / sizeof(*t) || !(t = calloc(n, sizeof(*t)))) {
        e->oom = 1;
        return -1;
    }
    for (k = 0; k <= e->wmask; k++) {
        if (e->wtab[k].head < e->wbase)
            continue;
        for (h = wslot(e->wtab[k].key, xb_hash_seed, n - 1); t[h].head; h = (h + 1) & (n - 1))
            ;
        t[h] = e->wtab[k];
    }
    free(e->wtab);
    e->wtab = t;
    e->wmask = n - 1;
    e->wgrow = n / 2;
    return 0;
}

/* the char context before bs[i], from kctx, the context before bs[k] (k <= i) */
static inline unsigned ctx_at(const uint8_t *bs, size_t k, unsigned kctx, size_t i)
{
    return xb_char_ctx_from(bs + k, i - k, kctx);
}

/* the length of the match of a and b (their first L bytes equal: the key,
 * or more) up to rest bytes: 8 bytes a step; both have 8 readable bytes
 * after any position compared, so the last step reads past b's rest and masks
 * (inlined in both searches, as the loop was before it was shared) */
XB_HOT_INLINE size_t match_len_from(const uint8_t *a, const uint8_t *b, size_t rest, size_t L)
{
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    for (;;) {
        uint64_t x = xb_load64((const char *)a + L) ^ xb_load64((const char *)b + L);
        if (rest - L < 8)
            x |= ~(uint64_t)0 << ((rest - L) * 8);
        if (x)
            return L + ((size_t)__builtin_ctzll(x) >> 3);
        L += 8;
    }
#else
    while (L < rest && a[L] == b[L])
        L++;
    return L;
#endif
}

XB_HOT_INLINE size_t match_len(const uint8_t *a, const uint8_t *b, size_t rest)
{
    return match_len_from(a, b, rest, XB_COPY_MIN);
}

/* the longest match for s[i .. rest + i) (s[i ..] holds ix's key; 8
 * readable bytes after its end) among the candidates of ix's row from
 * ix->cand[r - 1] (nearest first), after *seen candidates and a best match
 * of *best_len bytes (0: none): *best_len, *best_d (the distance, with the
 * window's end at pos, the position of s[i] after the prior) and *seen
 * updated. A candidate's 8 bytes after the key are in its entry, so the
 * prior is read only for a match longer than that; its strings end with
 * 0x00, which no literal holds, so a match stays inside its string and reads
 * at most 8 bytes past it. */
static XB_ENC_NOINLINE void prior_match(const xb_pindex *ix, const uint8_t *s, size_t i, size_t rest, uint64_t pos,
                                        uint32_t r, unsigned *seen, size_t *best_len, uint64_t *best_d)
{
    const xb_pcand *c = &ix->cand[r - 1];
    const size_t K = ix->klen;
    /* the literal's 8 bytes after the key, those past its end never equal */
    const uint64_t want = xb_le64((const char *)s + i + K),
                   past = rest - K < 8 ? ~(uint64_t)0 << (8 * (rest - K)) : 0;
    size_t best = *best_len;
    unsigned k = *seen;
    for (; k < XB_COPY_CANDIDATES; c++) {
        const uint64_t x = (c->after ^ want) | past;
        const size_t L =
            x ? K + ((size_t)__builtin_ctzll(x) >> 3) : match_len_from(XBD_V1_PRIOR + c->pos, s + i, rest, K + 8);
        k++;
        if (L > best) {
            best = L;
            *best_d = pos - c->pos;
            if (L == rest)
                break;
        }
        if (c->last)
            break;
    }
    *seen = k;
    *best_len = best;
}

/* the longest match (spec 8.11) for the literal's bytes s[i .. n) (s: the
 * literal in the window, at window position pos - i) among the candidates of
 * the key's chain from anchor r - 1 (r = 0: none), then the prior's (prior:
 * i is the literal's first byte, the strings starting with its key; else the
 * inner anchors with its XB_PRIOR_INNER_KEY bytes); its length (0: none) and
 * distance */
static inline size_t lit_match(xb_encoder *e, const uint8_t *s, size_t i, size_t n, size_t pos, uint32_t r,
                               int prior, uint64_t *best_d)
{
    const uint8_t *buf = e->win;
    const size_t rest = n - i; /* no match is longer */
    size_t best_len = 0;
    unsigned seen = 0;
    uint64_t steps = 0;
    /* the chain holds only anchors with this key (the key table is exact) */
    for (; r; r = e->anch[r - 1].prev) {
        size_t pl = e->anch[r - 1].pos, L;
        steps++;
        if (pl + XB_COPY_MIN > pos) /* this literal's anchor whose key is not coded yet */
            continue;
        if (pl < e->wlo) /* before the session window, and so is the rest of the chain */
            break;
        /* (both sides stay inside the window: pl + L < pos + L <= window end) */
        if (best_len && buf[pl + best_len] != s[i + best_len]) {
            /* not longer than the best: examined, not extended (best_len < rest) */
            if (++seen == XB_COPY_CANDIDATES)
                break;
            continue;
        }
        L = match_len(buf + pl, s + i, rest); /* (the window has 16 readable bytes after its end: win_reserve) */
        if (L > best_len) {
            best_len = L;
            *best_d = pos - pl;
            if (L == rest) { /* no farther candidate is longer */
                e->copy_steps += steps;
                return best_len;
            }
        }
        if (++seen == XB_COPY_CANDIDATES)
            break;
    }
    e->copy_steps += steps;
    if (seen < XB_COPY_CANDIDATES) {
        const uint64_t ppos = (uint64_t)(pos - e->wlo) + NPRIOR;
        if (prior) {
            const uint32_t pr = prow(&pstart, pkey(s + i, XB_COPY_MIN));
            if (pr)
                prior_match(&pstart, s, i, rest, ppos, pr, &seen, &best_len, best_d);
        } else if (rest >= XB_PRIOR_INNER_KEY && s[i] < 0x80) {
            const uint64_t key = pkey(s + i, XB_PRIOR_INNER_KEY);
            const uint32_t pr = pin_maybe(key) ? prow(&pinner, key) : 0;
            if (pr)
                prior_match(&pinner, s, i, rest, ppos, pr, &seen, &best_len, best_d);
        }
    }
    return best_len;
}

/* room for need anchors in e->anch; NULL (e->oom) if out of memory */
static XB_ENC_COLD struct xb_anchor *anch_grow(xb_encoder *e, size_t need)
{
    void *q = xb_grow(e->anch, &e->cap_anchors, need, sizeof(struct xb_anchor));
    if (!q) {
        e->oom = 1;
        return NULL;
    }
    return e->anch = q;
}

/* index the anchors (spec 8.11) of p[0 .. n) (n >= XB_COPY_MIN) that have a
 * key (position <= n - XB_COPY_MIN), the bytes of the window at position wn
 * (p has 16 readable bytes after every position). Indexed at once, the chain
 * below an anchor is what the greedy parse would have indexed before it;
 * those whose key was indexed before them, the only ones that can have a
 * copy candidate, are listed (by ordinal) in e->anch_m[0 .. e->nmaybe). Two
 * passes: the anchors' window positions (into e->anch), then each one indexed
 * under its key; a key new to the message claims a free slot (one whose head
 * is older than the message). */
static int find_anchors(xb_encoder *e, const uint8_t *p, size_t n, size_t wn, size_t start)
{
    const size_t lim = n - XB_COPY_MIN, a0 = e->nanch; /* a0: the ordinal of the literal's first anchor */
    size_t i, na = a0, nm = 0, k, cap = e->cap_anchors;
    struct xb_anchor *an = e->anch;
    uint32_t *mb;
    for (i = 0; i <= lim; i += 16) {
        unsigned m = anchor_mask16(p + i);
        if (lim - i < 15)
            m &= (2u << (lim - i)) - 1u;
        if (na + 16 > cap) {
            if (!(an = anch_grow(e, na + 16)))
                return -1;
            cap = e->cap_anchors;
        }
        for (; m; m &= m - 1)
            an[na++].pos = (uint32_t)(wn + i + (size_t)__builtin_ctz(m));
    }
    if (e->cap_anch < na - a0) {
        void *q = xb_grow(e->anch_m, &e->cap_anch, na - a0, sizeof(uint32_t));
        if (!q) {
            e->oom = 1;
            return -1;
        }
        e->anch_m = q;
    }
    mb = e->anch_m;
    /* in runs that fit the table's room (each anchor may bring a new key),
       so the loop checks no growth; the table grows when its room is used up
       by new keys (then it is half full) */
    for (k = a0; k < na;) {
        struct xb_wslot *const wt = e->wtab;
        const size_t mask = e->wmask, room = e->wgrow - e->wlive, end = na - k < room ? na : k + room;
        const uint64_t seed = xb_hash_seed, wbase = e->wbase;
        const uint8_t *const w = e->win;
        const size_t k0 = k;
        size_t nold = 0; /* anchors whose key the message had */
        if (!room) {
            if (wtab_grow(e))
                return -1;
            continue;
        }
        for (; k < end; k++) {
            const uint32_t key = xb_load32((const char *)w + an[k].pos);
            size_t h = wslot(key, seed, mask);
            uint64_t o;
            while ((o = wt[h].head) >= wbase && wt[h].key != key) {
                h = (h + 1) & mask;
                e->copy_steps++;
            }
            wt[h].head = (uint32_t)(wbase + k);
            wt[h].key = key;
            if (o >= wbase) {
                an[k].prev = (uint32_t)(o - wbase) + 1;
                mb[nm++] = (uint32_t)k;
                nold++;
            } else {
                an[k].prev = 0;
                if (an[k].pos == wn + start ? prow(&pstart, pkey(w + an[k].pos, XB_COPY_MIN)) != 0 /* in the prior */
                                            : an[k].pos > wn + start && an[k].pos + XB_PRIOR_INNER_KEY <= wn + n &&
                                                  w[an[k].pos] < 0x80 &&
                                                  pin_maybe(pkey(w + an[k].pos, XB_PRIOR_INNER_KEY)))
                    mb[nm++] = (uint32_t)k;
            }
        }
        e->wlive += (end - k0) - nold; /* the new keys */
    }
    e->nanch = na;
    e->nmaybe = nm;
    return 0;
}

/* a chosen literal bs[0 .. n) (not never-indexed) joins the window and its
 * anchors are indexed; the greedy parse (encoder._Coder._parse) of its bytes
 * bs[start .. n) from char context ctx in the table clen puts its copies in
 * e->cps; their number. Forms are priced with the plain bytes (spec 8.8), so
 * only a literal being coded is parsed. */
/* a literal's bytes b[0 .. n) to the window at w, which has 16 bytes of room
 * after them (win_reserve); b has 16 readable bytes after its end, like every
 * string of this file (str_eq). In 16-byte blocks: the lengths vary, and the
 * size classes of a memcpy call are mispredicted branches (callgrind: 6k per
 * pass of the XEP examples); the bytes past w + n are scratch. */
static inline void win_copy(uint8_t *w, const uint8_t *b, size_t n)
{
#ifdef XB_SSE2
    size_t k = 0;
    do {
        _mm_storeu_si128((__m128i *)(void *)(w + k), _mm_loadu_si128((const __m128i *)(const void *)(b + k)));
        k += 16;
    } while (k < n);
#else
    memcpy(w, b, n);
#endif
}

/* the source of a copy from window position p of a window of W bytes (spec
 * 8.11): a prior string's start or another inner anchor of the prior by its
 * index, else the distance within the window after the prior; 0 if p is in
 * the prior and no anchor (the search never finds one there) */
static int copy_source(uint64_t p, uint64_t W, struct xb_copy *cp)
{
    unsigned k;
    if (p >= NPRIOR) {
        cp->kind = XB_COPY;
        cp->val = W - p - 1;
        cp->nb = bitlen(W - NPRIOR - 1);
        return 1;
    }
    k = prior_src[p];
    if (!k)
        return 0;
    if (k <= XBD_V1_PRIOR_NSTARTS) {
        cp->kind = XB_COPY_STR;
        cp->val = k - 1;
        cp->nb = bitlen(XBD_V1_PRIOR_NSTARTS - 1);
    } else {
        cp->kind = XB_COPY_INNER;
        cp->val = k - 1 - XBD_V1_PRIOR_NSTARTS;
        cp->nb = bitlen(XBD_V1_PRIOR_NINNER - 1);
    }
    return 1;
}

/* a match of len bytes at bs[i] at distance d, the window W bytes long
 * before it (the prior included), from the char context of bs[i] (found from
 * *ctx, the context before bs[*kpos]): if the copy costs fewer bits than the
 * bytes (spec 8.11), it is the next in e->cps (++*nc) with its source
 * (copy_source), *ctx and *kpos move past it, 1; else, or if its prior
 * position is no copy source, 0. e->oom if out of memory. */
static XB_ENC_NOINLINE int lit_take(xb_encoder *e, const uint8_t (*clen)[256], const uint8_t *bs, size_t i, size_t len,
                           uint64_t d, uint64_t W, unsigned *ctx, size_t *kpos, size_t *nc)
{
    const size_t end = i + len;
    unsigned c = ctx_at(bs, *kpos, *ctx, i);
    struct xb_copy src;
    uint64_t lit = 0, cpy;
    if (!copy_source(W - d, W, &src))
        return 0;
    cpy = clen[c][src.kind] + gamma_length(len - XB_COPY_MIN + 1) + src.nb;
    size_t j = i;
    *ctx = c;
    *kpos = i;
    if (len >= 8 && !(xb_load64((const char *)bs + i) & 0x8080808080808080ull)) {
        /* eight ASCII bytes priced at once, each in the context the two
           bytes before it alone give (no loop exit to predict; most copies
           win within them) */
        const uint8_t *b = bs + i;
        uint8_t(*const a2)[128] = xb_char_after2;
        lit = (uint64_t)clen[c][b[0]] + clen[xb_char_next[c][b[0]]][b[1]] + clen[a2[b[0]][b[1]]][b[2]] +
              clen[a2[b[1]][b[2]]][b[3]] + clen[a2[b[2]][b[3]]][b[4]] + clen[a2[b[3]][b[4]]][b[5]] +
              clen[a2[b[4]][b[5]]][b[6]] + clen[a2[b[5]][b[6]]][b[7]];
        c = a2[b[6]][b[7]];
        j = i + 8;
    }
    /* the copy wins once its bytes cost more than it (the sum only grows) */
    for (; j < end && lit <= cpy; j++) {
        lit += clen[c][bs[j]];
        c = xb_char_next[c][bs[j]];
    }
    if (cpy >= lit)
        return 0;
    if (*nc >= e->cap_cps) {
        void *p = xb_grow(e->cps, &e->cap_cps, *nc + 1, sizeof(struct xb_copy));
        if (!p) {
            e->oom = 1;
            return 1;
        }
        e->cps = p;
    }
    src.at = i;
    src.len = len;
    e->cps[*nc] = src;
    ++*nc;
    *ctx = c;
    *kpos = j;
    return 1;
}

static size_t lit_join(xb_encoder *e, const uint8_t (*clen)[256], const uint8_t *bs, size_t n, size_t start,
                       unsigned ctx)
{
    size_t wn = e->win_n, i, q, nm, nc = 0, kpos;
    const uint32_t *mb;
    if (win_reserve(e, n))
        return 0;
    win_copy(e->win + wn, bs, n);
    e->win_n = wn + n;
    if (n < XB_COPY_MIN || find_anchors(e, e->win + wn, n, wn, start) || n - start < XB_COPY_MIN || !e->nmaybe)
        return 0;
    /* the chain below anchor i holds the window's anchors and this literal's
       before i, as if they had been indexed as the parse passed them; only
       the anchors whose chain was not empty (e->anch_m) can have a candidate.
       The char context is found only where a match is priced (ctx_at from
       the last known one: kctx before byte kpos) */
    mb = e->anch_m;
    nm = e->nmaybe;
    i = start;
    kpos = start;
    for (q = 0; q < nm; q++) {
        size_t pos = e->anch[mb[q]].pos - wn, best_len;
        uint64_t d = 0;
        if (pos < i) /* in the EXTEND prefix or a copy */
            continue;
        i = pos; /* plain bytes up to the anchor */
        if ((best_len = lit_match(e, e->win + wn, i, n, wn + i, e->anch[mb[q]].prev, i == start, &d)) != 0 &&
            lit_take(e, clen, bs, i, best_len, d, NPRIOR + (wn - e->wlo) + i, &ctx, &kpos, &nc)) {
            if (e->oom)
                return nc;
            i += best_len;
            continue;
        }
        i++;
    }
    return nc;
}

/* the row of bs[start ..]'s key if start is an anchor (spec 8.11) and the
 * prior has the key, as prow gives it; else 0. Only
 * such a literal can have a copy in a message searched against the prior
 * alone. bs has 16 readable bytes after its end. */
static inline uint32_t prior_probe(const uint8_t *bs, size_t n, size_t start)
{
    if (n - start < XB_COPY_MIN || (start % 16 && !(anchor_mask16(bs + start - 1) & 2u)))
        return 0;
    return prow(&pstart, pkey(bs + start, XB_COPY_MIN));
}

/* What choosing a value's form (spec 8.8) computes from its bytes alone:
 * value_flags, and the plain price of its bytes and terminator from the
 * first char context (chars_cost from context 0, LIT's price). A stateless
 * encoder remembers both for short strings across messages: its from/to
 * JIDs and their parts are priced again in message after message (68 % of
 * the priced bytes of the traffic capture were priced among the last 256
 * strings). A direct-mapped table by the string's hash; an entry keeps the
 * bytes and a hit compares them, so what it gives is exact. Allocated on the
 * first use (stateless only: a stream encoder's memory stays what the stream
 * needs); without it, or for a longer string, both are computed. */
#define LC_SLOTS 512
#define LC_MAXLEN 48             /* three 16-byte words: xb_padded_eq reads at most that */
#define LC_NO_PRICE UINT32_MAX   /* the price is not known yet */
struct xb_lcent {
    uint64_t h;
    uint32_t n;     /* UINT32_MAX: a free slot */
    uint32_t price; /* chars_cost (at most 25 bits a byte of at most 48), or LC_NO_PRICE */
    uint16_t fall, fany;
    char b[LC_MAXLEN];
};

typedef struct {
    unsigned fall, fany;
    uint64_t h;
    struct xb_lcent *c; /* its slot; NULL: not remembered */
} sfacts;

/* whether slot c holds s (hash h) */
static inline int lc_holds(const struct xb_lcent *c, xb_str s, uint64_t h)
{
    return c->h == h && c->n == s.n && xb_padded_eq(c->b, s.p, s.n);
}

/* value_flags of s (hash h), and its slot of the table if it is kept there */
static inline void facts(xb_encoder *e, xb_str s, uint64_t h, sfacts *f)
{
    struct xb_lcent *c;
    f->c = NULL;
    f->h = h;
    if (s.n > LC_MAXLEN || e->st) {
        value_flags((const uint8_t *)s.p, s.n, &f->fall, &f->fany);
        return;
    }
    if (!e->lcache) {
        size_t k;
        e->lcache = calloc(LC_SLOTS, sizeof(*e->lcache)); /* (every field defined) */
        if (!e->lcache) { /* (no table: only slower) */
            value_flags((const uint8_t *)s.p, s.n, &f->fall, &f->fany);
            return;
        }
        for (k = 0; k < LC_SLOTS; k++)
            e->lcache[k].n = UINT32_MAX;
    }
    c = &e->lcache[h & (LC_SLOTS - 1)];
    f->c = c;
    if (lc_holds(c, s, h)) {
        f->fall = c->fall;
        f->fany = c->fany;
        return;
    }
    value_flags((const uint8_t *)s.p, s.n, &f->fall, &f->fany);
    c->h = h;
    c->n = (uint32_t)s.n;
    c->price = LC_NO_PRICE;
    c->fall = (uint16_t)f->fall;
    c->fany = (uint16_t)f->fany;
    memcpy(c->b, s.p, s.n); /* (the bytes after n are never compared: xb_padded_eq masks them) */
}

/* chars_cost of s from context 0, from f's slot once known; the slot is
 * checked again (the JID parts priced since facts() may have taken it) */
static inline uint64_t lit_price(const sfacts *f, xb_str s)
{
    struct xb_lcent *c = f->c;
    uint64_t p;
    if (c && !lc_holds(c, s, f->h))
        c = NULL;
    if (c && c->price != LC_NO_PRICE)
        return c->price;
    p = chars_cost((const uint8_t(*)[256])char_len, (const uint8_t *)s.p, s.n, 0);
    if (c)
        c->price = (uint32_t)p;
    return p;
}

#define NO_FORM (-1)

/* The cheapest of INT, UUID, HEX, B64 for s (ties: the earlier) in *ch, or
 * ch->sym = NO_FORM; fall, fany: value_flags of s; ibase: the integer an INT
 * may be relative to (stream mode, spec 14.3), NULL for none. */
static void packed_forms(xb_str s, const uint32_t *code, unsigned fall, unsigned fany, const uint64_t *ibase,
                         packed *ch)
{
    uint64_t c, n;
    int k;
    int64_t nb;
    b64lay lay;
    ch->sym = NO_FORM;
    ch->cost = UINT64_MAX;
    if ((fall & VF_DIGIT) && int_value(s, &n)) {
        unsigned bl = bitlen(n);
        ch->sym = XB_V_INT;
        ch->iflag = ibase != NULL;
        ch->irel = 0;
        ch->cost = LEN(code, XB_V_INT) + (uint64_t)ch->iflag + gamma_length(bl + 1) + (bl > 1 ? bl - 1 : 0);
        ch->ival = n;
        if (ibase && n > *ibase && n - *ibase <= XB_MAX_GAMMA) {
            c = LEN(code, XB_V_INT) + 1 + gamma_length(n - *ibase);
            if (c < ch->cost) {
                ch->cost = c;
                ch->irel = n - *ibase;
            }
        }
    }
    if (s.n == 36) {
        k = uuid_kind(s);
        if (k >= 0) {
            c = LEN(code, k) + 128;
            if (c < ch->cost) {
                ch->sym = k;
                ch->cost = c;
            }
        }
    }
    if (s.n >= XB_HEX_MIN && (fall & (VF_HEXL | VF_HEXU))) {
        k = (fall & VF_HEXL) ? XB_V_HEX_L : XB_V_HEX_U;
        c = LEN(code, k) + gamma_length(s.n - XB_HEX_MIN + 1) + 4 * (uint64_t)s.n;
        if (c < ch->cost) {
            ch->sym = k;
            ch->cost = c;
        }
    }
    if (!(fany & VF_JIDWS)) {
        if ((nb = b64_bytes(s, fall)) >= 0) {
            c = LEN(code, XB_V_B64) + gamma_length((uint64_t)nb) + (nb >= XB_B64_LAYOUT_MIN) + 8 * (uint64_t)nb;
            if (c < ch->cost) {
                ch->sym = XB_V_B64;
                ch->cost = c;
                ch->nbytes = nb;
                ch->lay.lead = ch->lay.trail = ch->lay.width = 0;
            }
        }
    } else if ((fall & VF_B64WS) && (nb = b64_layout(s, &lay)) >= XB_B64_LAYOUT_MIN) {
        c = LEN(code, XB_V_B64) + gamma_length((uint64_t)nb) + 1 + b64_layout_cost(s, &lay) + 8 * (uint64_t)nb;
        if (c < ch->cost) {
            ch->sym = XB_V_B64;
            ch->cost = c;
            ch->nbytes = nb;
            ch->lay = lay;
        }
    }
}

/* LIT or the packed form in *ch, whichever is cheaper (LIT on ties); with
 * need_cost, ch->cost is the exact cost, else it may be unset for LIT */
static void lit_or(const sfacts *f, xb_str s, const uint32_t *code, packed *ch, int need_cost)
{
    uint64_t lc;
    if (ch->sym == NO_FORM && !need_cost) {
        ch->sym = XB_V_LIT; /* nothing else: no need to price it */
        return;
    }
    lc = LEN(code, XB_V_LIT) + lit_price(f, s);
    if (lc <= ch->cost) {
        ch->sym = XB_V_LIT;
        ch->cost = lc;
    }
}

/* encoder._Coder._est of a JID part, remembering what coding it needs again */
static uint64_t est_part(xb_encoder *e, xb_str s, unsigned vctx, partinfo *pi)
{
    const uint32_t *code = VCODE(vctx);
    long p;
    sfacts f;
    pi->have = 0;
    pi->tok = -1;
    pi->h = xb_str_hash_padded(s.p, s.n);
    if (!s.n)
        return LEN(code, XB_V_EMPTY);
    p = hist_find(e, s, pi->h);
    if (p >= 0) {
        size_t i = e->nhist - 1 - (size_t)p;
        if (i < XB_REF_NEAR)
            return LEN(code, XB_V_REF + i);
        return LEN(code, XB_V_REF_FAR) + gamma_length(i - XB_REF_NEAR + 1);
    }
    pi->tok = stab_find(&value_tab, s.p, s.n, pi->h);
    if (pi->tok >= 0)
        return LEN(code, XB_V_TOKEN + pi->tok);
    facts(e, s, pi->h, &f);
    packed_forms(s, code, f.fall, f.fany, NULL, &pi->ch);
    { /* spec 8.8: est prices LIT without copies (the plain bytes) */
        uint64_t lc = LEN(code, XB_V_LIT) + lit_price(&f, s);
        if (lc <= pi->ch.cost) {
            pi->ch.sym = XB_V_LIT;
            pi->ch.cost = lc;
        }
    }
    pi->have = 1;
    return pi->ch.cost;
}

/* encoder._Coder._choose: the cheapest packed form, ties in the order LIT, INT,
 * UUID, HEX, B64, JID; the JID parts are estimated with the history as it is */
static void choose(xb_encoder *e, xb_str s, unsigned vctx, uint64_t h, vchoice *ch)
{
    const uint32_t *code = VCODE(vctx);
    sfacts f;
    facts(e, s, h, &f);
    packed_forms(s, code, f.fall, f.fany, NULL, &ch->p);
    if ((f.fany & VF_JIDSEP) && !(f.fany & VF_JIDWS) && vctx != XB_VC_JID_LOCAL && vctx != XB_VC_JID_DOMAIN &&
        vctx != XB_VC_JID_RESOURCE) {
        jid_parts *j = &ch->jid;
        jid_split(s, j);
        if (j->sym >= 0) {
            uint64_t c = LEN(code, j->sym) + est_part(e, j->domain, XB_VC_JID_DOMAIN, &ch->part[1]);
            if (j->has_local)
                c += est_part(e, j->local, XB_VC_JID_LOCAL, &ch->part[0]);
            if (j->has_res)
                c += est_part(e, j->res, XB_VC_JID_RESOURCE, &ch->part[2]);
            if (c < ch->p.cost) {
                ch->p.sym = j->sym;
                ch->p.cost = c;
            }
        }
    }
    lit_or(&f, s, code, &ch->p, 0);
}

/* the bytes p[0 .. n) with the char codes cc (at most 24 bits each), one code
 * per byte in the context the bytes before lead to (ctx for the first),
 * then the terminator */
static unsigned put_chars(xb_encoder *e, const uint32_t *cc, const uint8_t *b, size_t n, unsigned ctx, int term)
{
    const xb_str s = {(const char *)b, n};
    /* codes have at most 24 bits (enc_init checks): 3 bytes per input byte and
       the terminator, and 8-byte stores past the last whole byte */
    uint8_t *o = out_reserve(e, 3 * s.n + 24), *o0 = o;
    unsigned nacc = e->nacc; /* < 32 */
    uint64_t acc = e->acc;
    uint32_t c1, c2;
    size_t i = 0;
    if (!o || (!n && !term))
        return ctx;
    /* whole bytes out first: then fewer than 8 bits are pending, so two codes
       fit in acc; each step writes the pending bits as 8 bytes and keeps the
       whole ones */
    if (nacc) {
        o = out_whole(o, acc, &nacc);
    }
    while (i + 2 <= s.n) {
        const uint8_t b1 = b[i], b2 = b[i + 1];
        unsigned c;
        if (i + 4 <= s.n && !(xb_load32((const char *)b + i) & 0x80808080u)) {
            /* four ASCII bytes: from the second on, their contexts come from
               the two bytes before them alone; one store when the four codes
               fit in acc (the common case) */
            const uint8_t b3 = b[i + 2], b4 = b[i + 3];
            uint8_t(*const nx)[256] = xb_char_next;
            const uint32_t d1 = cc[ctx * 256 + b1], d2 = cc[nx[ctx][b1] * 256u + b2],
                           d3 = cc[xb_char_after2[b1][b2] * 256u + b3], d4 = cc[xb_char_after2[b2][b3] * 256u + b4];
            const unsigned l12 = (d1 & 31u) + (d2 & 31u), l34 = (d3 & 31u) + (d4 & 31u);
            ctx = xb_char_after2[b3][b4];
            acc = (acc << (d1 & 31u)) | (d1 >> 5);
            acc = (acc << (d2 & 31u)) | (d2 >> 5);
            nacc += l12;
            if (nacc + l34 > 64) { /* (nacc <= 7 + 48) */
                o = out_whole(o, acc, &nacc);
            }
            acc = (acc << (d3 & 31u)) | (d3 >> 5);
            acc = (acc << (d4 & 31u)) | (d4 >> 5);
            nacc += l34; /* 4 <= nacc <= 64 */
            o = out_whole(o, acc, &nacc);
            i += 4;
            continue;
        }
        c1 = cc[ctx * 256 + b1];
        if ((b1 | b2) < 0x80) { /* ASCII: the context after b2 depends on b1 and b2 only */
            c = xb_char_next[ctx][b1];
            ctx = xb_char_after2[b1][b2];
        } else {
            c = xb_char_next[ctx][b1];
            ctx = xb_char_next[c][b2];
        }
        c2 = cc[c * 256 + b2];
        acc = (acc << (c1 & 31u)) | (c1 >> 5);
        acc = (acc << (c2 & 31u)) | (c2 >> 5);
        nacc += (c1 & 31u) + (c2 & 31u);
        o = out_whole(o, acc, &nacc);
        i += 2;
    }
    if (i < s.n) {
        c1 = cc[ctx * 256 + b[i]];
        ctx = xb_char_next[ctx][b[i]];
        acc = (acc << (c1 & 31u)) | (c1 >> 5);
        nacc += c1 & 31u;
    }
    if (term) {
        c1 = cc[ctx * 256]; /* the terminator */
        acc = (acc << (c1 & 31u)) | (c1 >> 5);
        nacc += c1 & 31u;
    }
    if (nacc) /* (0 only without the terminator, after whole bytes) */
        o = out_whole(o, acc, &nacc);
    e->out_n += (size_t)(o - o0);
    e->acc = acc;
    e->nacc = nacc;
    return ctx;
}

/* bs[start .. n) from context ctx with the copies e->cps[0 .. nc) of its
 * parse (each with its source), and the terminator */
static inline void put_copies(xb_encoder *e, const uint32_t *cc, const uint8_t *bs, size_t n, size_t start,
                              unsigned ctx, size_t nc)
{
    size_t k, i = start;
    for (k = 0; k < nc; k++) {
        const struct xb_copy *c = &e->cps[k];
        ctx = put_chars(e, cc, bs + i, c->at - i, ctx, 0);
        sym(e, cc + (size_t)ctx * 256, c->kind);
        gamma_code(e, c->len - XB_COPY_MIN + 1);
        put64(e, c->val, c->nb);
        i = c->at + c->len;
        ctx = ctx_at(bs, c->at, ctx, i);
    }
    put_chars(e, cc, bs + i, n - i, ctx, 1);
}

/* the bytes bs[start .. n) of a literal and its terminator from context ctx
 * in a message searched against the prior alone (spec 8.11: fewer than
 * XB_COPY_MIN_MESSAGE value bytes, too few for copies of its own
 * literals): the greedy parse with the prior's candidates only, the strings
 * starting with the key of bs[start] (r = prior_probe(bs, n, start), 0:
 * none), then the inner anchors at each later anchor of bs; the window's end
 * before bs at NPRIOR + e->win_n - n (e->win_n counts bs already) */
static XB_ENC_NOINLINE void put_lit_prior(xb_encoder *e, const uint32_t *cc, const uint8_t (*clen)[256],
                                          const uint8_t *bs, size_t n, size_t start, unsigned ctx, uint32_t r)
{
    const uint64_t w = (uint64_t)NPRIOR + (e->win_n - n) + start; /* (put_lit counted bs already) */
    size_t kpos = start, nc = 0, i = start + 1, blk;
    unsigned c = ctx;
    uint64_t d = 0;
    if (r) {
        size_t best_len = 0;
        unsigned seen = 0;
        prior_match(&pstart, bs, start, n - start, w, r, &seen, &best_len, &d);
        if (best_len && lit_take(e, clen, bs, start, best_len, d, w, &c, &kpos, &nc))
            i = start + best_len;
    }
    if (n - start > XB_PRIOR_INNER_KEY) {
        const size_t last = n - XB_PRIOR_INNER_KEY; /* the last position with a key */
        for (blk = i & ~(size_t)15; blk <= last && !e->oom; blk += 16) {
            unsigned m = anchor_mask16(bs + blk) & ascii_mask16(bs + blk);
            if (last - blk < 15)
                m &= (2u << (last - blk)) - 1u;
            for (; m; m &= m - 1) {
                const size_t a = blk + (size_t)__builtin_ctz(m);
                uint64_t key;
                uint32_t pr;
                size_t best_len = 0;
                unsigned seen = 0;
                if (a < i) /* before the literal's second byte or inside a copy */
                    continue;
                key = pkey(bs + a, XB_PRIOR_INNER_KEY);
                if (!pin_maybe(key) || !(pr = prow(&pinner, key)))
                    continue;
                prior_match(&pinner, bs, a, n - a, w + (a - start), pr, &seen, &best_len, &d);
                if (best_len && lit_take(e, clen, bs, a, best_len, d, w + (a - start), &c, &kpos, &nc)) {
                    if (e->oom)
                        break;
                    i = a + best_len;
                }
            }
        }
    }
    if (e->oom)
        nc = 0;
    put_copies(e, cc, bs, n, start, ctx, nc);
}

/* the bytes bs[start .. n) of a literal (or an EXTEND's suffix) from context
 * ctx, with the copies of the greedy parse (spec 8.11), and the terminator;
 * the literal joins the window. Out of line, with lit_join inlined into it
 * (fewer instructions than the other way round, and the event walk keeps its
 * inlined helpers); only a message with enough value bytes comes here */
static XB_ENC_NOINLINE void put_lit_copies(xb_encoder *e, const uint32_t *cc, const uint8_t (*clen)[256],
                                           const uint8_t *bs, size_t n, size_t start, unsigned ctx)
{
    const size_t nc = lit_join(e, clen, bs, n, start, ctx); /* it joins the window, after its copies */
    put_copies(e, cc, bs, n, start, ctx, nc);
}

/* a literal's bytes bs[start .. n) and its terminator (spec 8.11), unless
 * never-indexed: searched for copies of the message's literals and the prior
 * in a stateless message with at least XB_COPY_MIN_MESSAGE value bytes and in
 * every stream message (and the session window), against the prior alone in
 * any other stateless message (a call when the prior has the key of its
 * first byte or it has more than XB_PRIOR_INNER_KEY bytes, so an inner anchor
 * may follow); else, and a never-indexed literal, coded as plain bytes
 * without a call */
static inline void put_lit(xb_encoder *e, const uint32_t *cc, const uint8_t (*clen)[256], const uint8_t *bs,
                           size_t n, size_t start, unsigned ctx, int secret)
{
    if (!secret) {
        uint32_t r;
        if (e->st || e->vbytes >= XB_COPY_MIN_MESSAGE) { /* every stream unit is searched */
            put_lit_copies(e, cc, clen, bs, n, start, ctx);
            return;
        }
        /* searched against the prior alone: only the window's length is
           kept (the distances' width) */
        r = prior_probe(bs, n, start);
        e->win_n += n;
        if (r || n - start > XB_PRIOR_INNER_KEY) {
            put_lit_prior(e, cc, clen, bs, n, start, ctx, r);
            return;
        }
    }
    put_chars(e, cc, bs + start, n - start, ctx, 1); /* (one call site: put_lit is inlined in several) */
}

/* the bytes of s as a literal */
static inline void put_literal(xb_encoder *e, xb_str s)
{
    put_lit(e, tcodes[XB_T_CHAR], (const uint8_t(*)[256])char_len, (const uint8_t *)s.p, s.n, 0, 0, 0);
}

static const uint8_t HEXVAL[256] = {
    ['0'] = 0,  ['1'] = 1,  ['2'] = 2,  ['3'] = 3,  ['4'] = 4,  ['5'] = 5,  ['6'] = 6,  ['7'] = 7,
    ['8'] = 8,  ['9'] = 9,  ['a'] = 10, ['b'] = 11, ['c'] = 12, ['d'] = 13, ['e'] = 14, ['f'] = 15,
    ['A'] = 10, ['B'] = 11, ['C'] = 12, ['D'] = 13, ['E'] = 14, ['F'] = 15,
};

/* the hex digits p[0 .. n) as 4-bit groups, 8 per put */
static void put_hex_run(xb_encoder *e, const uint8_t *p, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint32_t w = 0;
        int k;
        for (k = 0; k < 8; k++)
            w = (w << 4) | HEXVAL[p[i + k]];
        put(e, w, 32);
    }
    if (i < n) {
        uint32_t w = 0;
        unsigned m = (unsigned)(n - i);
        for (; i < n; i++)
            w = (w << 4) | HEXVAL[p[i]];
        put(e, w, 4 * m);
    }
}

static void put_hex_digits(xb_encoder *e, xb_str s)
{
    put_hex_run(e, (const uint8_t *)s.p, s.n);
}

/* a UUID (8-4-4-4-12 hex digits): 128 bits */
static void put_uuid(xb_encoder *e, xb_str s)
{
    const uint8_t *p = (const uint8_t *)s.p;
    put_hex_run(e, p, 8);
    put_hex_run(e, p + 9, 4);
    put_hex_run(e, p + 14, 4);
    put_hex_run(e, p + 19, 4);
    put_hex_run(e, p + 24, 12);
}

static void value_h(xb_encoder *e, xb_str s, unsigned vctx, uint64_t h, const partinfo *pi);
static inline void put_packed(xb_encoder *e, xb_str s, const packed *pk);

/* value_h for s not in the history nor a token: the packed form, then s
 * becomes the newest history entry (slot: see hist_add) */
static void value_new(xb_encoder *e, xb_str s, unsigned vctx, uint64_t h, const partinfo *pi, size_t slot)
{
    const uint32_t *code = VCODE(vctx);
    vchoice ch;
    const packed *pk;
    /* a JID part: est chose its form as choose() would (plain prices, 8.8) */
    if (pi && pi->have) {
        pk = &pi->ch;
    } else {
        choose(e, s, vctx, h, &ch);
        pk = &ch.p;
    }
    sym(e, code, (uint32_t)pk->sym);
    switch (pk->sym) {
    case XB_V_LIT:
        put_literal(e, s);
        break;
    case XB_V_INT:
    case XB_V_UUID_L:
    case XB_V_UUID_U:
    case XB_V_HEX_L:
    case XB_V_HEX_U:
    case XB_V_B64:
        put_packed(e, s, pk);
        break;
    default: /* JID: only from choose(), so ch is set */
        if (ch.jid.has_local)
            value_h(e, ch.jid.local, XB_VC_JID_LOCAL, ch.part[0].h, &ch.part[0]);
        value_h(e, ch.jid.domain, XB_VC_JID_DOMAIN, ch.part[1].h, &ch.part[1]);
        if (ch.jid.has_res)
            value_h(e, ch.jid.res, XB_VC_JID_RESOURCE, ch.part[2].h, &ch.part[2]);
        slot = SIZE_MAX; /* the parts were added */
        break;
    }
    hist_add(e, s, h, slot);
}

/* WS(p[0 .. n)) (spec 8.6) */
static void put_ws(xb_encoder *e, const uint8_t *p, size_t n)
{
    size_t i;
    gamma_code(e, (uint64_t)n + 1);
    for (i = 0; i < n; i++) {
        if (p[i] == ' ')
            put(e, 0, 1);
        else if (p[i] == '\n')
            put(e, 2, 2);
        else
            put(e, p[i] == '\t' ? 6 : 7, 3);
    }
}

/* a B64 value with a layout after its GAMMA(n) and wrapped bit: the layout,
 * then the body's 6-bit groups, whitespace skipped, the last one cut to
 * whole bytes (its cut bits are 0) */
static void put_layout(xb_encoder *e, xb_str s, const b64lay *L)
{
    const uint8_t *p = (const uint8_t *)s.p;
    size_t i, z = s.n - L->trail, last;
    unsigned pads;
    put_ws(e, p, L->lead);
    gamma_code(e, (uint64_t)L->width + 1);
    if (L->width) {
        put(e, (uint32_t)L->same, 1);
        if (!L->same)
            put_ws(e, p + L->sep_off, L->sep_n);
    }
    put_ws(e, p + z, L->trail);
    /* the last data byte, and the padding */
    for (i = z; p[i - 1] == '=' || IS_WS(p[i - 1]); i--)
        ;
    last = i - 1;
    pads = 0;
    for (i = last + 1; i < z; i++)
        pads += p[i] == '=';
    { /* the groups before the last, 4 (24 bits) per put */
        uint32_t w = 0;
        unsigned k = 0;
        for (i = L->lead; i < last; i++) {
            if (IS_WS(p[i]))
                continue;
            w = (w << 6) | (uint32_t)(B64_VAL[p[i]] - 1);
            if (++k == 4) {
                put(e, w, 24);
                w = 0;
                k = 0;
            }
        }
        if (k)
            put(e, w, 6 * k);
    }
    put(e, (uint32_t)(B64_VAL[p[last]] - 1) >> (pads * 2), 6 - pads * 2);
}

/* the payload of a packed form (INT, UUID, HEX, B64) of s */
static inline void put_packed(xb_encoder *e, xb_str s, const packed *pk)
{
    switch (pk->sym) {
    case XB_V_INT: {
        unsigned bl = bitlen(pk->ival);
        if (pk->iflag)
            put(e, pk->irel != 0, 1);
        if (pk->irel) {
            gamma_code(e, pk->irel);
            break;
        }
        gamma_code(e, bl + 1);
        if (bl > 1)
            put64(e, pk->ival & ((1ull << (bl - 1)) - 1), bl - 1);
        break;
    }
    case XB_V_UUID_L:
    case XB_V_UUID_U:
        put_uuid(e, s);
        break;
    case XB_V_HEX_L:
    case XB_V_HEX_U:
        gamma_code(e, s.n - XB_HEX_MIN + 1);
        put_hex_digits(e, s);
        break;
    case XB_V_B64: {
        const uint8_t *b = (const uint8_t *)s.p;
        size_t i, n = s.n;
        const b64lay *L = &pk->lay;
        gamma_code(e, (uint64_t)pk->nbytes);
        if (L->lead || L->trail || L->width) {
            put(e, 1, 1);
            put_layout(e, s, L);
            return;
        }
        if (pk->nbytes >= XB_B64_LAYOUT_MIN)
            put(e, 0, 1);
        if (b[n - 1] == '=')
            n -= b[n - 2] == '=' ? 2 : 1;
        /* the 6-bit groups, the last one cut to whole bytes (its cut bits
           are 0): 8 (48 bits) per step straight to the output while more than
           8 are left (as put_chars: whole bytes out first, then each step
           writes its whole bytes, out_whole), then 4 (24 bits) per put */
        i = 0;
        if (n > 8) {
            uint8_t *o = out_reserve(e, n * 3 / 4 + 16), *o0 = o;
            uint64_t acc = e->acc;
            unsigned nacc = e->nacc; /* < 32 */
            if (!o)
                return;
            if (nacc) {
                o = out_whole(o, acc, &nacc);
            }
            for (; i + 8 < n; i += 8) {
                const uint8_t *q = b + i;
                acc = (acc << 48) | ((uint64_t)b64_quad(q) << 24) | b64_quad(q + 4);
                nacc += 48; /* <= 55 */
                o = out_whole(o, acc, &nacc);
            }
            e->out_n += (size_t)(o - o0);
            e->acc = acc;
            e->nacc = nacc;
        }
        for (; i + 4 < n; i += 4)
            put(e, b64_quad(b + i), 24);
        for (; i + 1 < n; i++)
            put(e, (uint32_t)(B64_VAL[b[i]] - 1), 6);
        if (n == s.n)
            put(e, (uint32_t)(B64_VAL[b[i]] - 1), 6);
        else if (s.n - n == 2)
            put(e, (uint32_t)(B64_VAL[b[i]] - 1) >> 4, 2);
        else
            put(e, (uint32_t)(B64_VAL[b[i]] - 1) >> 2, 4);
        break;
    }
    default:
        break;
    }
}

/* encoder._Coder.value for a non-empty s with hash h; pi: the part's estimate
 * when s is a JID part being coded (NULL otherwise) */
static void value_h(xb_encoder *e, xb_str s, unsigned vctx, uint64_t h, const partinfo *pi)
{
    const uint32_t *code = VCODE(vctx);
    size_t slot;
    long p = hist_find_slot(e, s, h, &slot);
    int t;
    if (p >= 0) {
        size_t i = e->nhist - 1 - (size_t)p;
        if (i < XB_REF_NEAR) {
            sym(e, code, (uint32_t)(XB_V_REF + i));
        } else {
            sym(e, code, XB_V_REF_FAR);
            gamma_code(e, i - XB_REF_NEAR + 1);
        }
        return;
    }
    /* not in the history now, so it was not when pi was made: pi has the rest */
    t = pi ? pi->tok : stab_find(&value_tab, s.p, s.n, h);
    if (t >= 0) {
        sym(e, code, (uint32_t)(XB_V_TOKEN + t));
        return;
    }
    value_new(e, s, vctx, h, pi, slot);
}

static void svalue(xb_encoder *e, xb_str v, unsigned vctx, int secret, int recall);

/* _Coder.value without a state: the message's history */
static void hvalue(xb_encoder *e, xb_str s, unsigned vctx)
{
    if (!s.n)
        sym(e, VCODE(vctx), XB_V_EMPTY);
    else
        value_h(e, s, vctx, xb_str_hash_padded(s.p, s.n), NULL);
}

/* a value that is neither never-indexed nor remembered (names, URIs,
 * comments...), stateless or with a state */
static void value(xb_encoder *e, xb_str s, unsigned vctx)
{
    if (e->st)
        svalue(e, s, vctx, 0, 0);
    else
        hvalue(e, s, vctx);
}

static void generic_start(xb_encoder *e, const xb_event *ev);
static int static_shape(const xb_encoder *e, const xb_event *ev, uint64_t h);

/* ================================================================================== */
/* ---- stream mode (spec 14.3): the value model of a stream state ------------------- */
/* ================================================================================== */
/* With e->st set (xb_enc_stream_body), the same coder codes a stream message
 * body: the stream code set (e->codes), references into the state's dynamic
 * table instead of the message's history, RECENT / EXTEND, never-indexed
 * values, node prediction and the state's shape cache (xmppbin/encoder.py,
 * _Coder with a state). The functions below are that model; everything else
 * (value forms, names, start tags, text, the event walk) is shared. */
#define SVCODE(c) (xb_scode[XB_T_VALUE] + (size_t)(c)*xb_snsym[XB_T_VALUE])

static void svalue(xb_encoder *e, xb_str v, unsigned vctx, int secret, int recall);

/* _quick: (symbol, extra) or sym -1; extra -1: none (REF_FAR: its GAMMA
 * value, relative to the last REF_FAR, and *fi the table index) */
/* *rj (when recall, not secret and v not empty; else left alone): the index
 * of the recent value equal to v in its list, or -1 for none. One table
 * lookup at most, none for a listed value. */
static void squick(const xb_stream *s, xb_str v, uint64_t h, unsigned vctx, int secret, int recall, int *qs,
                   int64_t *extra, long *fi, int *rj)
{
    long i = -1;
    int t;
    *extra = -1;
    if (!v.n) {
        *qs = XB_V_EMPTY;
        return;
    }
    if (!secret) {
        if (recall) {
            /* a listed value is recallable (spec 14.3's removal rule): RECENT */
            const xb_recent *r = &s->recent[vctx];
            size_t j;
            for (j = 0; j < r->n; j++)
                if (r->v[j].h == h && r->v[j].n == v.n && xb_bytes_eq(r->v[j].p, v.p, v.n))
                    break;
            *rj = j < r->n ? (int)j : -1;
            if (j < r->n) {
                *qs = XB_V_RECENT + (int)j;
                return;
            }
        }
        i = xb_stab_find(s, v.p, v.n, h);
    }
    if (i >= 0) {
        if (i < XB_REF_NEAR) {
            *qs = XB_V_REF + (int)i;
        } else {
            *qs = XB_V_REF_FAR;
            *extra = (int64_t)xb_sfar_gamma(s, (size_t)i);
            *fi = i;
        }
        return;
    }
    t = stab_find(&value_tab, v.p, v.n, xb_str_hash_padded(v.p, v.n));
    *qs = t >= 0 ? XB_V_TOKEN + t : -1;
}

/* a value choice in stream mode: a packed form or LIT (forms), JID, EXTEND */
typedef struct {
    packed p;
    jid_parts jid;
    unsigned k, L; /* EXTEND */
} schoice;

static void schoose(xb_encoder *e, xb_str v, unsigned vctx, int secret, int recall, schoice *ch);

/* _est */
static uint64_t sest(xb_encoder *e, xb_str v, unsigned vctx, int secret)
{
    const uint32_t *code = SVCODE(vctx);
    int qs;
    int64_t extra;
    schoice ch;
    long fi;
    squick(e->st, v, xb_shash(v.p, v.n), vctx, secret, 0, &qs, &extra, &fi, NULL);
    if (qs >= 0)
        return LEN(code, qs) + (extra >= 0 ? gamma_length((uint64_t)extra) : 0);
    /* priced as if never-indexed: LIT without copies (spec 8.8's est); a part
       context has no JID form and est no EXTEND, so nothing else changes */
    schoose(e, v, vctx, 1, 0, &ch);
    return ch.p.cost;
}

/* _extend: the cheapest EXTEND (cost without the symbol); 0 if none. litc:
 * chars_cost of all of v from context 0 (LIT without its symbol). The
 * suffix after L bytes is coded from the context the chain from 0 reaches
 * after them (xb_char_ctx_after), so its cost is litc less the cost of the
 * first L bytes on that chain: one walk up to the longest L gives every k's. */
static int sextend(const xb_stream *s, xb_str v, unsigned vctx, uint64_t litc, uint64_t *cost, unsigned *bk,
                   unsigned *bL)
{
    const xb_recent *r = &s->recent[vctx];
    const uint8_t *sb = (const uint8_t *)v.p;
    size_t n = v.n, k, Ls[XB_RECENT], maxL = 0, i, j, m = 0;
    uint64_t pre[XB_RECENT], acc = 0;
    unsigned order[XB_RECENT], ctx = 0;
    int found = 0;
    for (k = 0; k < r->n; k++) {
        const xb_sstr *src = &r->v[k];
        size_t L = xb_match_len(src->p, v.p, src->n < n ? src->n : n);
        while (L > 0 && L < n && (sb[L] & 0xC0) == 0x80)
            L--;
        Ls[k] = L; /* (every listed value is recallable: spec 14.3; L > 0: src is not empty) */
        if (!L)
            continue;
        if (L > maxL)
            maxL = L;
        for (j = m++; j > 0 && Ls[order[j - 1]] > L; j--) /* by L */
            order[j] = order[j - 1];
        order[j] = (unsigned)k;
    }
    if (!m)
        return 0;
    for (i = 0, j = 0; j < m; i++) {
        while (j < m && Ls[order[j]] == i)
            pre[order[j++]] = acc;
        if (i < maxL) {
            acc += xb_sclen[ctx][sb[i]];
            ctx = xb_char_next[ctx][sb[i]];
        }
    }
    for (k = 0; k < r->n; k++) {
        uint64_t c;
        if (!Ls[k])
            continue;
        c = 3 + gamma_length(Ls[k]) + (litc - pre[k]);
        if (!found || c < *cost) {
            *cost = c;
            *bk = (unsigned)k;
            *bL = (unsigned)Ls[k];
            found = 1;
        }
    }
    return found;
}

/* _choose with a state: the order of the stateless choice (LIT, INT, UUID,
 * HEX, B64, JID), then EXTEND; the JID parts are estimated with the state */
static void schoose(xb_encoder *e, xb_str v, unsigned vctx, int secret, int recall, schoice *ch)
{
    const uint32_t *code = SVCODE(vctx);
    unsigned fall, fany;
    uint64_t lc, litc;
    uint64_t ib;
    value_flags((const uint8_t *)v.p, v.n, &fall, &fany);
    packed_forms(v, code, fall, fany, recall && !secret && xb_sint_base(e->st, vctx, &ib) ? &ib : NULL, &ch->p);
    litc = chars_cost(xb_sclen, (const uint8_t *)v.p, v.n, 0);
    lc = LEN(code, XB_V_LIT) + litc;
    if (lc <= ch->p.cost) {
        ch->p.sym = XB_V_LIT;
        ch->p.cost = lc;
    }
    ch->jid.sym = -1;
    if ((fany & VF_JIDSEP) && !(fany & VF_JIDWS) && vctx != XB_VC_JID_LOCAL && vctx != XB_VC_JID_DOMAIN &&
        vctx != XB_VC_JID_RESOURCE) {
        const jid_parts *j = &ch->jid;
        jid_split(v, &ch->jid);
        if (j->sym >= 0) {
            uint64_t c = LEN(code, j->sym) + sest(e, j->domain, XB_VC_JID_DOMAIN, secret);
            if (j->has_local)
                c += sest(e, j->local, XB_VC_JID_LOCAL, secret);
            if (j->has_res)
                c += sest(e, j->res, XB_VC_JID_RESOURCE, secret);
            if (c < ch->p.cost) {
                ch->p.sym = j->sym;
                ch->p.cost = c;
            }
        }
    }
    if (recall && !secret) {
        uint64_t xc = 0;
        unsigned xk = 0, xL = 0;
        if (sextend(e->st, v, vctx, litc, &xc, &xk, &xL) && LEN(code, XB_V_EXTEND) + xc < ch->p.cost) {
            ch->p.sym = XB_V_EXTEND;
            ch->p.cost = LEN(code, XB_V_EXTEND) + xc;
            ch->k = xk;
            ch->L = xL;
        }
    }
}

/* _value with a state; returns what xb_srecallable would give for v after
 * it (when recall, not secret), *rj what squick found in the recent list
 * (-2: not looked, v is empty), without a second table lookup */
static int svalue1(xb_encoder *e, xb_str v, uint64_t h, unsigned vctx, int secret, int recall, int *rj)
{
    xb_stream *s = e->st;
    const uint32_t *code = SVCODE(vctx);
    int qs;
    int64_t extra;
    long fi = -1;
    schoice ch;
    squick(s, v, h, vctx, secret, recall, &qs, &extra, &fi, rj);
    if (qs >= 0) {
        sym(e, code, (uint32_t)qs);
        if (extra >= 0)
            gamma_code(e, (uint64_t)extra);
        if (qs == XB_V_REF_FAR)
            s->last_far = (size_t)fi;
        if (qs >= XB_V_REF && qs <= XB_V_REF_FAR &&
            xb_stab_use(s, qs == XB_V_REF_FAR ? (size_t)fi : (size_t)(qs - XB_V_REF)))
            e->oom = 1;
        if (!recall || secret)
            return 0;
        if (qs == XB_V_EMPTY)
            return 1;
        if (qs >= XB_V_RECENT && qs < XB_V_EXTEND) /* a token, or a live entry */
            return s->recent[vctx].v[qs - XB_V_RECENT].tok ? 2 : 1;
        if (xb_smap_get(&xb_value_map, v.p, v.n, h) >= 0)
            return 2;
        return qs >= XB_V_REF && qs <= XB_V_REF_FAR; /* a token is in no table */
    }
    schoose(e, v, vctx, secret, recall, &ch);
    sym(e, code, (uint32_t)ch.p.sym);
    if (ch.p.sym == XB_V_LIT) {
        put_lit(e, xb_scode[XB_T_CHAR], xb_sclen, (const uint8_t *)v.p, v.n, 0, 0, secret);
    } else if (ch.p.sym == XB_V_EXTEND) {
        put(e, ch.k, 3);
        gamma_code(e, ch.L);
        put_lit(e, xb_scode[XB_T_CHAR], xb_sclen, (const uint8_t *)v.p, v.n, ch.L,
                xb_char_ctx_after((const uint8_t *)v.p, ch.L), 0);
    } else if (ch.p.sym <= XB_V_B64) { /* INT, UUID, HEX, B64 */
        put_packed(e, v, &ch.p);
    } else { /* JID */
        if (ch.jid.has_local)
            svalue(e, ch.jid.local, XB_VC_JID_LOCAL, secret, 0);
        svalue(e, ch.jid.domain, XB_VC_JID_DOMAIN, secret, 0);
        if (ch.jid.has_res)
            svalue(e, ch.jid.res, XB_VC_JID_RESOURCE, secret, 0);
    }
    if (secret)
        return 0;
    if (xb_stab_add(s, v.p, v.n, h))
        e->oom = 1;
    if (!recall)
        return 0;
    if (xb_smap_get(&xb_value_map, v.p, v.n, h) >= 0)
        return 2;
    /* the newest entry, unless it alone exceeds the budget (xb_stab_add) */
    return (uint64_t)v.n + 32 <= s->budget;
}

/* _Coder.value with a state: secret (never-indexed), recall (a context that
 * remembers recent values) */
static void svalue(xb_encoder *e, xb_str v, unsigned vctx, int secret, int recall)
{
    xb_stream *s = e->st;
    uint64_t h = xb_shash(v.p, v.n);
    int rj = -2, rec = svalue1(e, v, h, vctx, secret, recall, &rj); /* rec 2: a token */
    if (recall && !secret && xb_sremember(s, vctx, v.p, v.n, h, rec, rj))
        e->oom = 1;
}

/* the next content value (attribute value or text inside the root): is it
 * never-indexed? */
static int ssecret(xb_stream *s)
{
    int r = 0;
    while (s->sec_pos < s->nsecrets && s->secrets[s->sec_pos] < s->ordinal)
        s->sec_pos++;
    if (s->sec_pos < s->nsecrets && s->secrets[s->sec_pos] == s->ordinal)
        r = 1;
    s->ordinal++;
    return r;
}

/* node symbol v in node context c, predicted; ev_kind / ev_v the event
 * (kind 0: not predictable) */
static void snode(xb_encoder *e, unsigned c, uint32_t v, uint8_t ev_kind, uint32_t ev_v)
{
    xb_pev p = xb_sprediction(e->st);
    const uint32_t *node = xb_scode[XB_T_NODE];
    const size_t nn = xb_snsym[XB_T_NODE];
    if (!p.kind)
        sym(e, node + c * nn, v);
    else
        sym(e, node + (c + XB_NODE_CONTEXTS) * nn, (p.kind == ev_kind && p.v == ev_v) ? xb_sn_pred : v);
}

/* _Coder.other with a state: the symbol, and what the prediction learns (the
 * current slot looked up once: the shape cache does not change in between) */
static void sother(xb_encoder *e, unsigned c, uint32_t v)
{
    xb_stream *s = e->st;
    const uint32_t *node = xb_scode[XB_T_NODE];
    const size_t nn = xb_snsym[XB_T_NODE];
    xb_pentry *cur = s->pslot_serial == XB_SERIAL_NONE ? NULL : xb_sentry_of(s, s->pslot_serial);
    xb_pev p = xb_sprediction_at(s, cur, s->pslot_field);
    if (!p.kind)
        sym(e, node + c * nn, v);
    else
        sym(e, node + (c + XB_NODE_CONTEXTS) * nn, (p.kind == 'N' && p.v == v) ? xb_sn_pred : v);
    if (s->pslot_field == XB_PS_NEXT) { /* the message's first node event */
        xb_slearn_first(s, 'N', v);
    } else if (cur) {
        cur->slot[s->pslot_field].kind = 'N';
        cur->slot[s->pslot_field].v = v;
    }
    if (v == XB_N_END) {
        if (s->nopen) {
            s->pslot_serial = s->open[--s->nopen];
            s->pslot_field = XB_PS_AFTER;
        } else { /* the message's last END */
            s->pslot_serial = XB_SERIAL_NONE;
            s->pslot_field = 0;
            s->root_prev = s->root_cur;
        }
    } else {
        s->pslot_serial = s->nopen ? s->open[s->nopen - 1] : XB_SERIAL_DOC;
        s->pslot_field = XB_PS_TEXT;
    }
}

/* the serialized shape key of a start tag into s->kbuf (model.shape_key):
 * name NUL, then per item 1 prefix NUL uri NUL (namespace declaration) or
 * 2 qname NUL (attribute); -1 out of memory */
static int skey(xb_encoder *e, const xb_event *ev)
{
    xb_stream *s = e->st;
    const xb_eitem *it = e->items + ev->first;
    size_t need = ev->name.n + 1, k;
    char *o;
    for (k = 0; k < ev->nitems; k++)
        need += 3 + it[k].qname.n + (it[k].is_ns ? it[k].value.n : 0);
    if (need > s->kbuf_cap) {
        void *np = xb_grow(s->kbuf, &s->kbuf_cap, need, 1);
        if (!np)
            return -1;
        s->kbuf = np;
    }
    o = s->kbuf;
    memcpy(o, ev->name.p, ev->name.n);
    o += ev->name.n;
    *o++ = 0;
    for (k = 0; k < ev->nitems; k++) {
        if (it[k].is_ns) {
            size_t skip = it[k].qname.n > 5 ? 6 : 5;
            *o++ = 1;
            memcpy(o, it[k].qname.p + skip, it[k].qname.n - skip);
            o += it[k].qname.n - skip;
            *o++ = 0;
            if (it[k].value.n)
                memcpy(o, it[k].value.p, it[k].value.n);
            o += it[k].value.n;
            *o++ = 0;
        } else {
            *o++ = 2;
            memcpy(o, it[k].qname.p, it[k].qname.n);
            o += it[k].qname.n;
            *o++ = 0;
        }
    }
    s->kbuf_n = (size_t)(o - s->kbuf);
    return 0;
}

/* the start tag ev has the serialized shape key (key, klen) (skey's bytes),
 * compared piece by piece without building it */
static int skey_eq(const xb_encoder *e, const xb_event *ev, const char *key, size_t klen)
{
    const xb_eitem *it = e->items + ev->first;
    const char *o = key, *end = key + klen;
    size_t k;
    if ((size_t)(end - o) < ev->name.n + 1 || !xb_bytes_eq(o, ev->name.p, ev->name.n) || o[ev->name.n])
        return 0;
    o += ev->name.n + 1;
    for (k = 0; k < ev->nitems; k++) {
        if (it[k].is_ns) {
            size_t skip = it[k].qname.n > 5 ? 6 : 5, pl = it[k].qname.n - skip, vn = it[k].value.n;
            if ((size_t)(end - o) < 3 + pl + vn || o[0] != 1 || !xb_bytes_eq(o + 1, it[k].qname.p + skip, pl) ||
                o[1 + pl] || !xb_bytes_eq(o + 2 + pl, it[k].value.p, vn) || o[2 + pl + vn])
                return 0;
            o += 3 + pl + vn;
        } else {
            size_t qn = it[k].qname.n;
            if ((size_t)(end - o) < 2 + qn || o[0] != 2 || !xb_bytes_eq(o + 1, it[k].qname.p, qn) || o[1 + qn])
                return 0;
            o += 2 + qn;
        }
    }
    return o == end;
}

/* _Coder.start's shape cache with a state (its entries outlive the message,
 * so they are keyed by the serialized shape key, found by the shape hash h:
 * the key is built only for a new entry): the node symbol, the
 * generic start tag if neither cached nor static, the entry to the front;
 * -1 out of memory. h: the shape hash of the tag (static shapes). */
static int sstart_shape(xb_encoder *e, unsigned c, const xb_event *ev, uint64_t h)
{
    xb_stream *s = e->st;
    uint64_t kh = h;
    size_t i, n = s->ncache;
    uint32_t serial;
    xb_scache *slot;
    i = n;
    {
        /* the entries whose tag (kh's top byte) matches, then their whole hash and key */
        const uint8_t tag = (uint8_t)(kh >> 56);
        uint32_t m;
#if defined(XB_SSE2) && XB_SHAPE_CACHE == 32
        const __m128i t = _mm_set1_epi8((char)tag);
        m = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)s->ctag), t)) |
            (uint32_t)_mm_movemask_epi8(
                _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(s->ctag + 16)), t))
                << 16;
#else
        m = 0;
        for (size_t k = 0; k < XB_SHAPE_CACHE; k++)
            m |= (uint32_t)(s->ctag[k] == tag) << k;
#endif
        if (n < XB_SHAPE_CACHE)
            m &= ((uint32_t)1 << n) - 1;
        for (; m; m &= m - 1) {
#if defined(__GNUC__)
            size_t k = (size_t)__builtin_ctz(m);
#else
            size_t k = 0;
            while (!((m >> k) & 1u))
                k++;
#endif
            const xb_scache *t2 = s->cache[k];
            if (t2->kh == kh && skey_eq(e, ev, xb_scache_key(t2), t2->klen)) {
                i = k;
                break;
            }
        }
    }
    if (i < n) {
        slot = s->cache[i];
        serial = slot->ent.serial;
        snode(e, c, (uint32_t)(XB_N_LOCAL + i), 'S', serial);
        xb_scache_front(s, i, slot);
    } else {
        int j = static_shape(e, ev, h);
        if (j >= 0) {
            snode(e, c, (uint32_t)(XB_N_SHAPE + j), 0, 0);
        } else {
            snode(e, c, XB_N_GENERIC, 0, 0);
            generic_start(e, ev);
        }
        if (skey(e, ev))
            return -1;
        if (n == XB_SHAPE_CACHE) {
            n--; /* the last entry is evicted: its key buffer is reused */
            s->shape_bytes -= s->cache[n]->cost;
        }
        slot = s->cache[n]; /* the evicted entry, or a free pool slot */
        if (s->kbuf_n > XB_SKEY_INLINE && s->kbuf_n > slot->kcap) {
            void *np = xb_grow(slot->key, &slot->kcap, s->kbuf_n, 1);
            if (!np) {
                free(slot->key);
                memset(slot, 0, sizeof(*slot));
                slot->ent.serial = XB_SERIAL_NONE;
                if (n < s->ncache) /* the evicted entry is gone */
                    s->ncache = n;
                return -1;
            }
            slot->key = np;
        }
        memcpy(s->kbuf_n <= XB_SKEY_INLINE ? slot->kin : slot->key, s->kbuf, s->kbuf_n);
        slot->klen = s->kbuf_n;
        slot->kh = kh;
        memset(&slot->ent, 0, sizeof(slot->ent));
        slot->ent.serial = serial = s->next_serial++;
        slot->cost = (uint64_t)ev->name.n + 32;
        for (i = 0; i < ev->nitems; i++) {
            const xb_eitem *it = &e->items[ev->first + i];
            slot->cost += it->qname.n + (it->is_ns ? it->value.n : 0);
        }
        s->shape_bytes += slot->cost;
        xb_scache_front(s, n, slot);
        s->ncache = n + 1;
        if (xb_sbound_shapes(s))
            return -1;
    }
    xb_slearn(s, 'S', serial, serial, XB_PS_FIRST);
    if (!s->nopen)
        s->root_cur = serial;
    if (s->nopen + 1 > s->cap_open) {
        void *np = xb_grow(s->open, &s->cap_open, s->nopen + 1, sizeof(*s->open));
        if (!np)
            return -1;
        s->open = np;
    }
    s->open[s->nopen++] = serial;
    return 0;
}

/* the never-indexed ordinals of the message (distinct, increasing), as
 * encoder.encode_events writes them first */
static void ssecrets(xb_encoder *e)
{
    const xb_stream *s = e->st;
    size_t i, nsec = 0;
    for (i = 0; i < s->nsecrets; i++)
        if (!i || s->secrets[i] != s->secrets[i - 1])
            nsec++;
    gamma_code(e, nsec + 1);
    for (i = 0; i < s->nsecrets; i++)
        if (!i || s->secrets[i] != s->secrets[i - 1])
            gamma_code(e, (uint64_t)s->secrets[i] - (i ? (uint64_t)s->secrets[i - 1] : (uint64_t)-1));
}

/* ---- names and start tags ---------------------------------------------------------- */
static void code_prefix(xb_encoder *e, xb_str p)
{
    int i = stab_get(&prefix_tab, p);
    const uint32_t *code = e->codes[XB_T_PREFIX];
    if (i < 0) {
        sym(e, code, XB_P_LITERAL);
        value(e, p, XB_VC_NAME);
    } else {
        sym(e, code, (uint32_t)(1 + i));
    }
}

static void code_name(xb_encoder *e, xb_str n, unsigned ctx)
{
    int i = stab_get(&name_tab, n);
    const uint32_t *code = e->codes[XB_T_NAME] + (size_t)ctx * e->nsyms[XB_T_NAME];
    if (i < 0) {
        sym(e, code, XB_NM_LITERAL);
        value(e, n, XB_VC_NAME);
    } else {
        sym(e, code, (uint32_t)(1 + i));
    }
}

static void code_ns(xb_encoder *e, xb_str u)
{
    int i = stab_get(&ns_tab, u);
    const uint32_t *code = e->codes[XB_T_NS];
    if (i < 0) {
        sym(e, code, XB_NS_LITERAL);
        value(e, u, XB_VC_NSURI);
    } else {
        sym(e, code, (uint32_t)(1 + i));
    }
}

static inline xb_str sub(xb_str s, size_t a, size_t b)
{
    xb_str r;
    r.p = s.p + a;
    r.n = b - a;
    return r;
}

static const xb_str EMPTY_S = {xb_zeros16, 0};

/* encoder._Coder.generic_start */
static void generic_start(xb_encoder *e, const xb_event *ev)
{
    const xb_eitem *it = e->items + ev->first;
    const uint32_t *acode = e->codes[XB_T_AITEM];
    uint32_t k;
    if (ev->colon >= 0) {
        code_prefix(e, sub(ev->name, 0, (size_t)ev->colon));
        code_name(e, sub(ev->name, (size_t)ev->colon + 1, ev->name.n), XB_NMC_ELEMENT);
    } else {
        code_prefix(e, EMPTY_S);
        code_name(e, ev->name, XB_NMC_ELEMENT);
    }
    for (k = 0; k < ev->nitems; k++) {
        xb_str a = it[k].qname;
        if (it[k].is_ns) {
            if (it[k].colon >= 0) {
                sym(e, acode, XB_A_XMLNS_PREFIX);
                code_prefix(e, sub(a, 6, a.n));
            } else {
                sym(e, acode, XB_A_XMLNS);
            }
            code_ns(e, it[k].value);
        } else if (it[k].colon >= 0) {
            sym(e, acode, XB_A_PREFIXED);
            code_prefix(e, sub(a, 0, (size_t)it[k].colon));
            code_name(e, sub(a, (size_t)it[k].colon + 1, a.n), XB_NMC_ATTR);
        } else {
            int i = stab_get(&name_tab, a);
            if (i < 0) {
                sym(e, acode, XB_A_LITERAL);
                value(e, a, XB_VC_NAME);
            } else {
                sym(e, acode, (uint32_t)(XB_A_NAME + i));
            }
        }
    }
    sym(e, acode, XB_A_END);
}

static int same_shape(const xb_encoder *e, const xb_event *a, const xb_event *b)
{
    const xb_eitem *x = e->items + a->first, *y = e->items + b->first;
    uint32_t i;
    if (a->nitems != b->nitems || !str_eq(a->name, b->name))
        return 0;
    for (i = 0; i < a->nitems; i++) {
        if (x[i].is_ns != y[i].is_ns || !str_eq(x[i].qname, y[i].qname))
            return 0;
        if (x[i].is_ns && !str_eq(x[i].value, y[i].value))
            return 0;
    }
    return 1;
}

static int same_static_shape(const xb_encoder *e, const xb_event *a, const xb_key *k)
{
    const xb_eitem *x = e->items + a->first;
    uint32_t i;
    if (a->nitems != k->nitems || !str_eq(a->name, k->name))
        return 0;
    for (i = 0; i < a->nitems; i++) {
        if (x[i].is_ns != k->items[i].is_ns || !str_eq(x[i].qname, k->items[i].qname))
            return 0;
        if (x[i].is_ns && !str_eq(x[i].value, k->items[i].uri))
            return 0;
    }
    return 1;
}

static int static_shape(const xb_encoder *e, const xb_event *ev, uint64_t h)
{
    size_t k = shape_index(h);
    for (;;) {
        const hslot *s = &shape_slots[k];
        if (!s->idx1)
            return -1;
        if (s->hash == h && same_static_shape(e, ev, &dict1->pad_shapes[s->idx1 - 1]))
            return (int)s->idx1 - 1;
        k = (k + 1) & 4095;
    }
}

/* the order of ev's items in static shape k (order[i]: the item of k written
 * i-th) if they are k's items, as a set; 0 if not */
static int perm_match(const xb_encoder *e, const xb_event *ev, const xb_key *k, unsigned *order)
{
    const xb_eitem *x = e->items + ev->first;
    uint32_t used = 0, i, m;
    if (ev->nitems != k->nitems || !str_eq(ev->name, k->name))
        return 0;
    for (i = 0; i < ev->nitems; i++) {
        for (m = 0; m < k->nitems; m++) {
            const xb_kitem *it = &k->items[m];
            if (!(used & (1u << m)) && x[i].is_ns == it->is_ns && str_eq(x[i].qname, it->qname) &&
                (!it->is_ns || str_eq(x[i].value, it->uri)))
                break;
        }
        if (m == k->nitems)
            return 0;
        used |= 1u << m;
        order[i] = m;
    }
    return 1;
}

/* _Coder.start's PERMUTED: the first static shape whose items are ev's in
 * another order (ev is no static shape), and their order; -1 if none */
static int perm_shape(const xb_encoder *e, const xb_event *ev, unsigned *order)
{
    const xb_eitem *it = e->items + ev->first;
    uint64_t sum = 0, h;
    uint32_t k;
    size_t slot;
    if (ev->nitems < XB_PERM_MIN || ev->nitems > XB_PERM_MAX)
        return -1;
    for (k = 0; k < ev->nitems; k++)
        sum += perm_item(it[k].qh, it[k].is_ns, it[k].is_ns ? xb_str_hash_padded(it[k].value.p, it[k].value.n) : 0);
    h = shape_step(ev->nh, sum);
    for (slot = shape_index(h); perm_slots[slot].idx1; slot = (slot + 1) & 4095)
        if (perm_slots[slot].hash == h && perm_match(e, ev, &dict1->pad_shapes[perm_slots[slot].idx1 - 1], order))
            return (int)perm_slots[slot].idx1 - 1;
    return -1;
}

/* encoder._Coder.start; -1 if out of memory */
/* the hash of the shape key of a start tag (as static_shape_hash) */
static inline uint64_t shape_hash(const xb_encoder *e, const xb_event *ev)
{
    const xb_eitem *it = e->items + ev->first;
    uint64_t h = ev->nh;
    uint32_t k;
    for (k = 0; k < ev->nitems; k++) {
        h = shape_step(h, it[k].qh + (it[k].is_ns ? SHAPE_NS : SHAPE_ATTR));
        if (it[k].is_ns)
            h = shape_step(h, xb_str_hash_padded(it[k].value.p, it[k].value.n));
    }
    return h;
}

/* the attribute context of attribute it of a start tag (spec 8.5: the
 * "element attribute" entry, else the attribute's), -1 if none; pe: the
 * element's pairs (xb_pair_elem) */
static inline int attr_ctx_of(const xb_eitem *it, const xb_pelem *pe)
{
    const int c = pe ? xb_pair_find(pe, it->qname.p, it->qname.n) : -1;
    return c >= 0 ? c : stab_find(&attr_tab, it->qname.p, it->qname.n, it->qh);
}

/* _Coder.start with a state (node context c): the state's shape cache; every
 * attribute value has an ordinal (never-indexed or not) and is remembered */
static int sstart(xb_encoder *e, unsigned c, size_t evi)
{
    const xb_event *ev = &e->ev[evi];
    xb_eitem *it = e->items + ev->first;
    uint32_t k;
    const xb_pelem *pe;
    if (sstart_shape(e, c, ev, shape_hash(e, ev)))
        return -1;
    pe = xb_pair_elem(dict1, ev->name.p, ev->name.n);
    for (k = 0; k < ev->nitems; k++) {
        int a;
        if (it[k].is_ns)
            continue;
        a = attr_ctx_of(&it[k], pe);
        it[k].vctx = (int16_t)(a < 0 ? XB_VC_OTHER_ATTR : XB_VC_FIXED + a);
        svalue(e, it[k].value, (unsigned)it[k].vctx, ssecret(e->st), 1);
    }
    return 0;
}

/* encoder._Coder.start without a state (node codes ncode); -1 if out of memory */
static int start(xb_encoder *e, const xb_ncode *ncode, size_t evi)
{
    const xb_event *ev = &e->ev[evi];
    xb_eitem *it = e->items + ev->first;
    uint64_t h = shape_hash(e, ev);
    size_t i, n = e->ncache;
    uint32_t k;
    for (i = 0; i < n; i++)
        if (e->cache[i].hash == h && same_shape(e, ev, &e->ev[e->cache[i].ev]))
            break;
    /* the value contexts of the attributes (looked up by qname): those of the
       same shape's earlier tag, or of the static shape, else looked up */
    if (i < n) {
        const xb_eitem *src = e->items + e->ev[e->cache[i].ev].first;
        e->ev[evi].ncls = e->ev[e->cache[i].ev].ncls; /* the same qname */
        nsym(e, ncode, (uint32_t)(XB_N_LOCAL + i));
        for (k = 0; k < ev->nitems; k++)
            it[k].vctx = src[k].vctx;
        memmove(&e->cache[1], &e->cache[0], i * sizeof(e->cache[0]));
    } else {
        unsigned order[XB_PERM_MAX];
        int j = static_shape(e, ev, h), perm = 0;
        if (j < 0 && (j = perm_shape(e, ev, order)) >= 0)
            perm = 1;
        if (j >= 0) { /* a static shape, or its items in another order (PERMUTED) */
            const int16_t *sv = shape_vctx + (dict1->pad_shapes[j].items - dict1->pad_shapes[0].items);
            e->ev[evi].ncls = (uint8_t)dict1->shapes[j].node_cls;
            if (perm) {
                nsym(e, ncode, XB_N_PERMUTED);
                sym(e, ncode->node, (uint32_t)(XB_N_SHAPE + j));
                put(e, (uint32_t)(xb_perm_rank(order, ev->nitems) - 1), xb_perm_bits(ev->nitems));
            } else {
                nsym(e, ncode, (uint32_t)(XB_N_SHAPE + j));
            }
            for (k = 0; k < ev->nitems; k++)
                it[k].vctx = sv[perm ? order[k] : k];
        } else {
            e->ev[evi].ncls = (uint8_t)(stab_find(&node_tab, ev->name.p, ev->name.n, ev->nh) + 1);
            nsym(e, ncode, XB_N_GENERIC);
            const xb_pelem *pe = xb_pair_elem(dict1, ev->name.p, ev->name.n);
            generic_start(e, ev);
            for (k = 0; k < ev->nitems; k++) {
                int c = it[k].is_ns ? -1 : attr_ctx_of(&it[k], pe);
                it[k].vctx = (int16_t)(c < 0 ? XB_VC_OTHER_ATTR : XB_VC_FIXED + c);
            }
        }
        if (n == XB_SHAPE_CACHE)
            n--;
        memmove(&e->cache[1], &e->cache[0], n * sizeof(e->cache[0]));
        e->ncache = n + 1;
    }
    e->cache[0].hash = h;
    e->cache[0].ev = evi;
    for (k = 0; k < ev->nitems; k++)
        if (!it[k].is_ns)
            hvalue(e, it[k].value, (unsigned)it[k].vctx);
    return 0;
}

/* ---- text (encoder._Coder.text) ------------------------------------------------------ */
static unsigned text_ctx(xb_encoder *e, size_t depth)
{
    xb_ename *p;
    if (!depth)
        return XB_VC_OTHER_TEXT;
    p = &e->names[depth - 1];
    if (p->tctx == -2) {
        int c = stab_get(&text_tab, e->ev[p->ev].name);
        p->tctx = c < 0 ? XB_VC_OTHER_TEXT : (int32_t)(XB_VC_FIXED + dict1->nattr_contexts + (size_t)c);
    }
    return (unsigned)p->tctx;
}

static int all_spaces(xb_str s, size_t from)
{
    size_t i;
    for (i = from; i < s.n; i++)
        if (s.p[i] != ' ')
            return 0;
    return 1;
}

/* The event walk is written once and compiled twice: with stream = 0 for the
 * stateless coder and 1 for the stream coder (a constant, so neither has the
 * other's branches). */

/* a node symbol other than a start tag's in node context c (ncode: its
 * codes, stateless), predicted with a state */
XB_SHARED_INLINE void other(xb_encoder *e, int stream, const xb_ncode *ncode, unsigned c, uint32_t v)
{
    if (stream)
        sother(e, c, v);
    else
        nsym(e, ncode, v);
}

/* a text node's value (secret: never-indexed); with a state, text inside the
 * root is remembered */
XB_SHARED_INLINE void text_value(xb_encoder *e, int stream, xb_str v, size_t depth, int secret)
{
    if (stream)
        svalue(e, v, text_ctx(e, depth), secret, depth > 0);
    else
        hvalue(e, v, text_ctx(e, depth));
}

/* returns 1 if the text was whitespace-only (wsonly: model.is_ws_only(v), from
 * the scanner), -1 on out of memory; c: the node context, ncode its codes */
XB_SHARED_INLINE int text(xb_encoder *e, int stream, const xb_ncode *ncode, unsigned c, xb_str v, int wsonly,
                          size_t depth)
{
    /* with a state, every text inside the root has an ordinal */
    int secret = stream && depth ? ssecret(e->st) : 0;
    if (wsonly) {
        xb_str *ws;
        if (depth + 1 > e->nws) {
            if (depth + 1 > e->cap_ws) {
                void *p = xb_grow(e->ws, &e->cap_ws, depth + 1, sizeof(*e->ws));
                if (!p)
                    return -1;
                e->ws = p;
            }
            while (e->nws < depth + 1) {
                e->ws[e->nws].p = NULL;
                e->ws[e->nws].n = 0;
                e->nws++;
            }
        }
        ws = e->ws;
        if (ws[depth].p && str_eq(v, ws[depth])) {
            other(e, stream, ncode, c, XB_N_WS_SAME);
        } else if (depth >= 1 && ws[depth - 1].p && str_eq(v, ws[depth - 1])) {
            other(e, stream, ncode, c, XB_N_WS_PARENT);
        } else if (depth >= 1 && ws[depth - 1].p && v.n > ws[depth - 1].n &&
                   v.n - ws[depth - 1].n <= XB_WS_DEEPER_MAX && memcmp(v.p, ws[depth - 1].p, ws[depth - 1].n) == 0 &&
                   all_spaces(v, ws[depth - 1].n)) {
            other(e, stream, ncode, c, (uint32_t)(XB_N_WS_DEEPER + v.n - ws[depth - 1].n - 1));
        } else {
            other(e, stream, ncode, c, XB_N_TEXT);
            text_value(e, stream, v, depth, secret);
        }
        ws[depth] = v;
        return 1;
    }
    other(e, stream, ncode, c, XB_N_TEXT);
    text_value(e, stream, v, depth, secret);
    return 0;
}

/* ---- exact mode (encoder.choose_style, deviations, encode_lexical) ------------------ */
typedef struct {
    int dquote, empty, text_gt, text_quot, attr_gt, attr_oq;
} style;

/* raw == lexical.escape_attr(v, st, q) */
static int esc_attr_eq(xb_str v, xb_str raw, uint8_t q, int gt, int oq)
{
    size_t i, j = 0;
    for (i = 0; i < v.n; i++) {
        uint8_t c = (uint8_t)v.p[i];
        const char *rep = NULL;
        size_t rn = 0;
        switch (c) {
        case '&':
            rep = "&amp;", rn = 5;
            break;
        case '<':
            rep = "&lt;", rn = 4;
            break;
        case '>':
            if (gt)
                rep = "&gt;", rn = 4;
            break;
        case '\'':
            if (q == '\'' || oq)
                rep = "&apos;", rn = 6;
            break;
        case '"':
            if (q == '"' || oq)
                rep = "&quot;", rn = 6;
            break;
        case '\t':
            rep = "&#9;", rn = 4;
            break;
        case '\n':
            rep = "&#10;", rn = 5;
            break;
        case '\r':
            rep = "&#13;", rn = 5;
            break;
        default:
            break;
        }
        if (rep) {
            if (raw.n - j < rn || memcmp(raw.p + j, rep, rn) != 0)
                return 0;
            j += rn;
        } else {
            if (j >= raw.n || (uint8_t)raw.p[j] != c)
                return 0;
            j++;
        }
    }
    return j == raw.n;
}

/* raw == lexical.escape_text(v, st) */
static int esc_text_eq(xb_str v, xb_str raw, int gt, int quot)
{
    size_t i, j = 0;
    for (i = 0; i < v.n; i++) {
        uint8_t c = (uint8_t)v.p[i];
        const char *rep = NULL;
        size_t rn = 0;
        switch (c) {
        case '&':
            rep = "&amp;", rn = 5;
            break;
        case '<':
            rep = "&lt;", rn = 4;
            break;
        case '>':
            /* text_gt: every '>'; else only the one of "]]>" */
            if (gt || (i >= 2 && v.p[i - 1] == ']' && v.p[i - 2] == ']'))
                rep = "&gt;", rn = 4;
            break;
        case '\r':
            rep = "&#13;", rn = 5;
            break;
        case '\'':
            if (quot)
                rep = "&apos;", rn = 6;
            break;
        case '"':
            if (quot)
                rep = "&quot;", rn = 6;
            break;
        default:
            break;
        }
        if (rep) {
            if (raw.n - j < rn || memcmp(raw.p + j, rep, rn) != 0)
                return 0;
            j += rn;
        } else {
            if (j >= raw.n || (uint8_t)raw.p[j] != c)
                return 0;
            j++;
        }
    }
    return j == raw.n;
}

/* For a value spelled exactly as written (raw is the value itself: it has no
 * reference, CDATA, CR, nor in attributes TAB/LF), only '>' and quotes can be
 * escaped by a style, so these flags decide every style at once. */
#define EF_GT 1u     /* '>' */
#define EF_APOS 2u   /* '\'' */
#define EF_QUOT 4u   /* '"' */
#define EF_CDEND 8u  /* "]]>" */
static unsigned esc_flags(xb_str v)
{
    unsigned f = 0;
    size_t i;
    for (i = 0; i < v.n; i++) {
        char c = v.p[i];
        if (c == '>') {
            f |= EF_GT;
            if (i >= 2 && v.p[i - 1] == ']' && v.p[i - 2] == ']')
                f |= EF_CDEND;
        } else if (c == '\'') {
            f |= EF_APOS;
        } else if (c == '"') {
            f |= EF_QUOT;
        }
    }
    return f;
}

/* attribute VAL deviates (raw != escape_attr(v, st, q)) */
static inline int attr_dev(const xb_eitem *it, unsigned flags, int gt, int oq)
{
    if (it->value.p == it->raw.p && it->value.n == it->raw.n) {
        unsigned other = it->quote == '\'' ? EF_QUOT : EF_APOS;
        return (gt && (flags & EF_GT)) || (oq && (flags & other));
    }
    return !esc_attr_eq(it->value, it->raw, it->quote, gt, oq);
}

/* text TVAL deviates (raw != escape_text(v, st)) */
static inline int text_dev(const xb_event *ev, unsigned flags, int gt, int quot)
{
    if (ev->value.p == ev->raw.p && ev->value.n == ev->raw.n)
        return (flags & EF_CDEND) || (gt && (flags & EF_GT)) || (quot && (flags & (EF_APOS | EF_QUOT)));
    return !esc_text_eq(ev->value, ev->raw, gt, quot);
}

static int eqz(xb_str s, const char *z)
{
    size_t n = strlen(z);
    return s.n == n && memcmp(s.p, z, n) == 0;
}

/* deviation counts by the style fields they depend on */
typedef struct {
    uint64_t base;        /* WSB, EQ, ENDWS: independent of the style */
    uint64_t quote[2];    /* by dquote */
    uint64_t val[2][2];   /* by attr_gt, attr_oq */
    uint64_t tagend[3];   /* TAGEND + EMPTY by empty */
    uint64_t tval[2][2];  /* by text_gt, text_quot */
} devcount;

static uint64_t dev_total(const devcount *d, const style *st)
{
    return d->base + d->quote[st->dquote] + d->val[st->attr_gt][st->attr_oq] + d->tagend[st->empty] +
           d->tval[st->text_gt][st->text_quot];
}

static void count_devs(const xb_encoder *e, devcount *d)
{
    size_t k, depth = 0;
    memset(d, 0, sizeof(*d));
    for (k = 0; k < e->nev; k++) {
        const xb_event *ev = &e->ev[k];
        if (ev->type == XE_S) {
            const xb_eitem *it = e->items + ev->first;
            int empty = k + 1 < e->nev && e->ev[k + 1].type == XE_E, em;
            uint32_t i;
            for (i = 0; i < ev->nitems; i++) {
                int gt, oq;
                if (!eqz(it[i].ws, " "))
                    d->base++;
                if (!eqz(it[i].eq, "="))
                    d->base++;
                if (it[i].quote == '"')
                    d->quote[0]++;
                else
                    d->quote[1]++;
                unsigned fl = it[i].value.p == it[i].raw.p ? esc_flags(it[i].value) : 0;
                for (gt = 0; gt < 2; gt++)
                    for (oq = 0; oq < 2; oq++)
                        if (attr_dev(&it[i], fl, gt, oq))
                            d->val[gt][oq]++;
            }
            for (em = 0; em < 3; em++) {
                int sc = ev->selfclose && empty && em == 1;
                if (!eqz(ev->raw, sc ? " " : ""))
                    d->tagend[em]++;
                if (empty && ev->selfclose != (em != 2))
                    d->tagend[em]++;
            }
            depth++;
        } else if (ev->type == XE_E) {
            depth--;
            if (ev->raw.n)
                d->base++;
        } else if (ev->type == XE_T && depth > 0) {
            int gt, qt;
            unsigned fl = ev->value.p == ev->raw.p ? esc_flags(ev->value) : 0;
            for (gt = 0; gt < 2; gt++)
                for (qt = 0; qt < 2; qt++)
                    if (text_dev(ev, fl, gt, qt))
                        d->tval[gt][qt]++;
        }
    }
}

/* encoder.choose_style: per field in order, the value with the fewest
 * deviations, the default on ties */
static void choose_style(const devcount *d, style *st)
{
    int f;
    st->dquote = 0;
    st->empty = 0;
    st->text_gt = 1;
    st->text_quot = 0;
    st->attr_gt = 0;
    st->attr_oq = 0;
    for (f = 0; f < 6; f++) {
        int *field = f == 0 ? &st->dquote
                     : f == 1 ? &st->empty
                     : f == 2 ? &st->text_gt
                     : f == 3 ? &st->text_quot
                     : f == 4 ? &st->attr_gt
                              : &st->attr_oq;
        int dv = *field, nvals = f == 1 ? 3 : 2, v, best_v = dv;
        uint64_t best = dev_total(d, st);
        for (v = 0; v < nvals; v++) {
            uint64_t c;
            if (v == dv)
                continue;
            *field = v;
            c = dev_total(d, st);
            if (c < best) {
                best = c;
                best_v = v;
            }
        }
        *field = best_v;
    }
}

/* emit(ctx, slot, payload) for every lexical slot spelled unlike style st, in
 * slot order (payload NULL for QUOTE and EMPTY): encoder.deviations */
static void walk_deviations(const xb_encoder *e, const style *stp, void (*emit)(void *, uint64_t, const xb_str *),
                            void *ctx)
{
    const style st = *stp;
    uint64_t slot = 0;
    size_t k, depth = 0;
    for (k = 0; k < e->nev; k++) {
        const xb_event *ev = &e->ev[k];
        if (ev->type == XE_S) {
            const xb_eitem *it = e->items + ev->first;
            int empty = k + 1 < e->nev && e->ev[k + 1].type == XE_E;
            uint8_t sq = st.dquote ? '"' : '\'';
            uint32_t i;
            for (i = 0; i < ev->nitems; i++) {
                if (!eqz(it[i].ws, " "))
                    emit(ctx, slot, &it[i].ws);
                slot++;
                if (!eqz(it[i].eq, "="))
                    emit(ctx, slot, &it[i].eq);
                slot++;
                if (it[i].quote != sq)
                    emit(ctx, slot, NULL);
                slot++;
                if (attr_dev(&it[i], it[i].value.p == it[i].raw.p ? esc_flags(it[i].value) : 0, st.attr_gt,
                             st.attr_oq))
                    emit(ctx, slot, &it[i].raw);
                slot++;
            }
            if (!eqz(ev->raw, (ev->selfclose && empty && st.empty == 1) ? " " : ""))
                emit(ctx, slot, &ev->raw);
            slot++;
            if (empty) {
                if (ev->selfclose != (st.empty != 2))
                    emit(ctx, slot, NULL);
                slot++;
            }
            depth++;
        } else if (ev->type == XE_E) {
            depth--;
            if (ev->raw.n)
                emit(ctx, slot, &ev->raw);
            slot++;
        } else if (ev->type == XE_T && depth > 0) {
            if (text_dev(ev, ev->value.p == ev->raw.p ? esc_flags(ev->value) : 0, st.text_gt, st.text_quot))
                emit(ctx, slot, &ev->raw);
            slot++;
        }
    }
}

typedef struct {
    xb_encoder *e;
    int64_t prev; /* slot of the previous deviation, -1 before the first */
} devwriter;

/* a deviation of the lexical section: the slot gap, then the payload */
static void dev_emit(void *ctx, uint64_t slot, const xb_str *payload)
{
    devwriter *w = ctx;
    gamma_code(w->e, (uint64_t)((int64_t)slot - w->prev));
    w->prev = (int64_t)slot;
    if (payload)
        value(w->e, *payload, XB_VC_MISC);
}

static void encode_lexical(xb_encoder *e)
{
    devcount d;
    style st;
    devwriter w;
    count_devs(e, &d);
    choose_style(&d, &st);
    put(e, (uint32_t)st.dquote, 1);
    put(e, (uint32_t)st.empty, 2);
    put(e, (uint32_t)st.text_gt, 1);
    put(e, (uint32_t)st.text_quot, 1);
    put(e, (uint32_t)st.attr_gt, 1);
    put(e, (uint32_t)st.attr_oq, 1);
    if (e->prolog.n) {
        put(e, 1, 1);
        value(e, e->prolog, XB_VC_MISC);
    } else {
        put(e, 0, 1);
    }
    gamma_code(e, dev_total(&d, &st) + 1);
    if (!dev_total(&d, &st)) /* nothing to walk for (most messages: one style throughout) */
        return;
    w.e = e;
    w.prev = -1;
    walk_deviations(e, &st, dev_emit, &w);
}

/* ---- the main stream (encoder.encode_events) ---------------------------------------- */
/* the codes of a stateless node symbol at depth (spec 8.3), in *nc */
static inline const xb_ncode *ncode_at(const xb_encoder *e, xb_ncode *nc, const uint32_t *node, size_t nn,
                                       size_t depth)
{
    const unsigned c = e->nctx[depth];
    const uint32_t k = depth ? e->names[depth - 1].ncls : 0;
    nc->node = node + c * nn;
    if (k) {
        nc->cls = nodecls_codes + ((size_t)(k - 1) * XB_NODECLS_CONTEXTS + c - 1) * XBD_V1_NODECLS_NSYM;
        nc->local = dict1->node_local + (size_t)(k - 1) * XBD_V1_NODE_NSYM;
    } else {
        nc->cls = NULL;
    }
    return nc;
}

static void slexical(xb_encoder *e);

XB_SHARED_INLINE int encode_events(xb_encoder *e, int stream)
{
    const uint32_t *node = e->codes[XB_T_NODE];
    const size_t nn = e->nsyms[XB_T_NODE];
    xb_ncode nc = {NULL, NULL, NULL};
    size_t k, depth = 0; /* depth = len(names); node context stack: nctx[0 .. depth] */
    static const char NL16[16] = "\n"; /* padded, see str_eq */
    static const xb_str NL = {NL16, 1};
    /* node contexts and open elements: at most one per open element + 1;
       indentation memory: one per depth a text can be at (0 .. the most
       elements open at once), unset but the document's */
    XB_ENC_RESERVE(e, e->nctx, e->cap_nctx, 1);
    XB_ENC_RESERVE(e, e->ws, e->cap_ws, 1);
    e->ws[0] = NL;
    e->nws = 1;
    e->nctx[0] = XB_NC_DOC;
    if (stream) /* the never-indexed list first */
        ssecrets(e);
    for (k = 0; k < e->nev; k++) {
        const xb_event *ev = &e->ev[k];
        switch (ev->type) {
        case XE_S:
            if (stream ? sstart(e, e->nctx[depth], k) : start(e, ncode_at(e, &nc, node, nn, depth), k))
                return xb_enc_nomem(e);
            if (e->open_root)
                goto done;
            XB_ENC_RESERVE(e, e->names, e->cap_names, depth + 1);
            XB_ENC_RESERVE(e, e->nctx, e->cap_nctx, depth + 2);
            e->names[depth].ev = k;
            e->names[depth].tctx = -2;
            if (!stream)
                e->names[depth].ncls = ev->ncls; /* start() set it */
            depth++;
            e->nctx[depth] = XB_NC_START;
            break;
        case XE_E:
            other(e, stream, stream ? NULL : ncode_at(e, &nc, node, nn, depth), e->nctx[depth], XB_N_END);
            depth--;
            if (depth > 0)
                e->nctx[depth] = XB_NC_AFTER_ELEM;
            break;
        case XE_T: {
            int r;
            if (depth == 0 && !e->exact)
                break;
            r = text(e, stream, stream ? NULL : ncode_at(e, &nc, node, nn, depth), e->nctx[depth], ev->value,
                     ev->wsonly, depth);
            if (r < 0)
                return xb_enc_nomem(e);
            if (depth)
                e->nctx[depth] = r ? XB_NC_AFTER_WS : XB_NC_AFTER_OTHER;
            break;
        }
        default: /* comment or PI */
            other(e, stream, stream ? NULL : ncode_at(e, &nc, node, nn, depth), e->nctx[depth],
                  ev->type == XE_C ? XB_N_COMMENT : XB_N_PI);
            if (stream)
                svalue(e, ev->value, XB_VC_MISC, 0, 0);
            else
                hvalue(e, ev->value, XB_VC_MISC);
            if (depth)
                e->nctx[depth] = XB_NC_AFTER_OTHER;
            break;
        }
    }
    other(e, stream, stream ? NULL : ncode_at(e, &nc, node, nn, 0), XB_NC_DOC, XB_N_END);
done:
    if (e->exact) {
        if (stream)
            slexical(e);
        else
            encode_lexical(e);
    }
    return 0;
}

/* ---- encoder.canonical_size -------------------------------------------------------- */
static uint64_t esc_attr_len(xb_str v)
{
    uint64_t n = v.n;
    size_t i;
    for (i = 0; i < v.n; i++) {
        switch (v.p[i]) {
        case '&':
        case '\n':
        case '\r':
            n += 4;
            break;
        case '<':
        case '\t':
            n += 3;
            break;
        case '\'':
            n += 5;
            break;
        default:
            break;
        }
    }
    return n;
}

static uint64_t esc_text_len(xb_str v)
{
    uint64_t n = v.n;
    size_t i;
    for (i = 0; i < v.n; i++) {
        switch (v.p[i]) {
        case '&':
        case '\r':
            n += 4;
            break;
        case '<':
        case '>':
            n += 3;
            break;
        default:
            break;
        }
    }
    return n;
}

static uint64_t canonical_size(const xb_encoder *e)
{
    uint64_t total = 0;
    size_t k, depth = 0;
    for (k = 0; k < e->nev; k++) {
        const xb_event *ev = &e->ev[k];
        if (ev->type == XE_S) {
            const xb_eitem *it = e->items + ev->first;
            uint32_t i;
            total += 1 + ev->name.n;
            for (i = 0; i < ev->nitems; i++)
                total += 4 + it[i].qname.n + esc_attr_len(it[i].value);
            total += (k + 1 < e->nev && e->ev[k + 1].type == XE_E) ? 2 : 1;
            depth++;
        } else if (ev->type == XE_E) {
            depth--;
            if (!(k > 0 && e->ev[k - 1].type == XE_S))
                total += 3 + ev->name.n;
        } else if (ev->type == XE_T) {
            if (depth)
                total += esc_text_len(ev->value);
        } else if (ev->type == XE_C) {
            total += 7 + ev->value.n;
        } else {
            total += 4 + ev->value.n;
        }
    }
    return total;
}

/* ---- entry points ----------------------------------------------------------------- */
static int bad_options(xb_encoder *e)
{
    const xb_encode_options *o = e->opt;
    if (!o->max_size || !o->max_depth || !o->max_attributes || !o->max_string || !o->max_elements ||
        o->max_size > 0x7FFFFFFFu || o->max_depth > 0x7FFFFFFFu || o->max_attributes > 0x7FFFFFFFu ||
        o->max_string > 0x7FFFFFFFu || o->max_elements > 0x7FFFFFFFu || o->open_root < -1 || o->open_root > 1 ||
        (o->context_count && (!o->context_data || !o->context_lens)))
        return xb_enc_error(e, XB_ERR_INVALID, 0, XB_LIMIT_NONE, "invalid encoder options");
    if (o->dictionary != 1)
        return xb_enc_error(e, XB_ERR_UNKNOWN_DICTIONARY, 0, XB_LIMIT_NONE, "unknown dictionary id %d",
                            o->dictionary);
    return 0;
}

/* the input's size check and the scan (xmlscan.scan) */
static int scan_input(xb_encoder *e, const char *xml, size_t size)
{
    const xb_encode_options *o = e->opt;
    e->in = (const uint8_t *)(xml ? xml : "");
    e->n = xml ? size : 0;
    if (e->n > e->trim_n)
        e->trim_n = e->n;
    if (e->n > o->max_size)
        return xb_enc_error(e, XB_ERR_LIMIT, o->max_size, XB_LIMIT_MAX_SIZE,
                            "input of %llu bytes exceeds max_size=%lu", (unsigned long long)e->n,
                            (unsigned long)o->max_size);
    return xb_scan(e);
}

/* encoder.encode for one input; the message is appended to e->out */
static int encode_one(xb_encoder *e, const char *xml, size_t size)
{
    const xb_encode_options *o = e->opt;
    size_t start;
    int rc = scan_input(e, xml, size);
    if (rc)
        return rc;
    if (!e->exact && 6 * (uint64_t)e->n > o->max_size && canonical_size(e) > o->max_size)
        return xb_enc_error(e, XB_ERR_LIMIT, e->n, XB_LIMIT_MAX_SIZE, "decoded output would exceed max_size=%lu",
                            (unsigned long)o->max_size);
    start = e->out_n;
    XB_ENC_RESERVE(e, e->out, e->cap_out, start + 64);
    e->out_n = start + xb_put_header(e->out + start, e->open_root ? XB_KIND_STREAM_OPEN : XB_KIND_ELEMENT, e->exact,
                                     (unsigned)o->dictionary);
    e->acc = 0;
    e->nacc = 0;
    e->oom = 0;
    e->ncache = 0;
    e->st = NULL;
    e->codes = tcodes;
    e->nsyms = tnsym;
    hist_reset(e);
    win_reset(e);
    if (!e->cap_htab && hist_grow(e)) /* the index is never empty */
        return xb_enc_nomem(e);
    rc = encode_events(e, 0);
    if (rc)
        return rc;
    finish_bits(e);
    if (e->oom)
        return xb_enc_nomem(e);
    if (e->out_n - start > o->max_size)
        return xb_enc_error(e, XB_ERR_LIMIT, e->n, XB_LIMIT_MAX_SIZE, "message of %llu bytes exceeds max_size=%lu",
                            (unsigned long long)(e->out_n - start), (unsigned long)o->max_size);
    return 0;
}

/* Release buffers a large earlier call left behind (the output of the last
 * call stays valid until here). Only after an input of more than TRIM_INPUT
 * bytes: smaller ones cannot grow any buffer past KEEP_BYTES (the largest
 * per input byte is the event array, at most one 80-byte event per input byte,
 * doubled by the growth policy). */
#define KEEP_BYTES ((size_t)1 << 20)
#define TRIM_INPUT ((size_t)4096)
/* A stream state's encoder (one per connection, thousands per server) keeps
 * less: buffers above 64 KiB are released before the next message. */
#define KEEP_STREAM ((size_t)1 << 16)
#define TRIM(arr, cap)                                                                                     \
    do {                                                                                                   \
        if ((cap) * sizeof(*(arr)) > keep) {                                                         \
            free(arr);                                                                                     \
            (arr) = NULL;                                                                                  \
            (cap) = 0;                                                                                     \
        }                                                                                                  \
    } while (0)

/* keep: KEEP_BYTES, or KEEP_STREAM for a stream state's encoder */
static void trim(xb_encoder *e, size_t keep)
{
    TRIM(e->inbuf, e->cap_inbuf);
    TRIM(e->ev, e->cap_ev);
    TRIM(e->items, e->cap_items);
    TRIM(e->arena, e->cap_arena);
    TRIM(e->binds, e->cap_binds);
    TRIM(e->open, e->cap_open);
    TRIM(e->dset, e->cap_dset);
    if (e->cap_hist * sizeof(*e->hist) > keep) {
        free(e->hist);
        free(e->hhash);
        e->hist = NULL;
        e->hhash = NULL;
        e->cap_hist = 0;
        e->hist_lim = 0;
    }
    TRIM(e->ws, e->cap_ws);
    TRIM(e->nctx, e->cap_nctx);
    TRIM(e->names, e->cap_names);
    TRIM(e->out, e->cap_out);
    /* the copy window (spec 8.11) and its anchors; the key table is made
       again at its first size by win_grow (a stream's session window is
       kept: sess_trim) */
    if (!e->sess_st) {
        if (e->cap_win > keep) {
            free(e->win);
            e->win = NULL;
            e->cap_win = e->cap_w = 0;
        }
        TRIM(e->anch, e->cap_anchors);
        if (e->wtab && (e->wmask + 1) * sizeof(*e->wtab) > keep) {
            free(e->wtab);
            e->wtab = NULL;
            e->wmask = e->wlive = e->wgrow = 0;
            e->cap_w = 0;
        }
    }
    TRIM(e->anch_m, e->cap_anch);
    TRIM(e->cps, e->cap_cps);
    if (e->cap_htab * sizeof(*e->htab) > keep) {
        free(e->htab);
        e->htab = NULL;
        e->cap_htab = 0;
        e->hist_lim = 0;
    }
}

static int begin(xb_encoder *e, const xb_encode_options *opt, xb_encode_result *res)
{
    res->error = XB_OK;
    res->limit = XB_LIMIT_NONE;
    res->offset = 0;
    res->index = 0;
    res->data = NULL;
    res->size = 0;
    res->message[0] = 0;
    e->res = res;
    e->opt = opt;
    if (enc_tables() != 0)
        return xb_enc_error(e, XB_ERR_INIT, 0, XB_LIMIT_NONE, "the dictionary tables could not be built");
    if (bad_options(e))
        return res->error;
    e->exact = opt->exact != 0;
    if (e->trim_n > TRIM_INPUT) {
        trim(e, KEEP_BYTES);
        e->trim_n = 0;
    }
    e->out_n = 0;
    /* arrays that take pointer arithmetic are never NULL (NULL + 0 is undefined) */
    XB_ENC_RESERVE(e, e->ev, e->cap_ev, 1);
    XB_ENC_RESERVE(e, e->items, e->cap_items, 1);
    XB_ENC_RESERVE(e, e->binds, e->cap_binds, 1);
    return 0;
}

int xb_encode(xb_encoder *e, const char *xml, size_t size, const xb_encode_options *opt, xb_encode_result *res)
{
    int rc = begin(e, opt, res);
    if (rc)
        return rc;
    rc = encode_one(e, xml, size);
    if (rc)
        return rc;
    res->data = (const char *)e->out;
    res->size = e->out_n;
    return XB_OK;
}

int64_t xb_encode_into(xb_encoder *e, const char *xml, size_t size, const xb_encode_options *opt, char *out,
                       size_t cap)
{
    xb_encode_result *res = &e->own_res;
    if (xb_encode(e, xml, size, opt, res))
        return -1;
    if (res->size <= cap && out)
        memcpy(out, res->data, res->size);
    return (int64_t)res->size;
}

xb_encode_result *xb_encoder_result(xb_encoder *e)
{
    return &e->own_res;
}

void xb_encoder_bind(xb_encoder *e, const xb_encode_options *opt, char *out, size_t cap)
{
    e->bound_opt = opt;
    e->bound_out = out;
    e->bound_cap = out ? cap : 0;
}

int64_t xb_encode_bound(xb_encoder *e, const char *xml, size_t size)
{
    if (!e->bound_opt) {
        e->res = &e->own_res;
        xb_enc_error(e, XB_ERR_INVALID, 0, XB_LIMIT_NONE, "no options bound");
        return -1;
    }
    return xb_encode_into(e, xml, size, e->bound_opt, e->bound_out, e->bound_cap);
}

/* xb_encode_many and xb_encode_many_ptrs: the inputs concatenated in data, or
 * at datas[i] */
static int encode_many(xb_encoder *e, size_t count, const char *data, const char *const *datas, const size_t *sizes,
                       const xb_encode_options *opt, size_t *ends, xb_encode_result *res)
{
    size_t i, off = 0;
    int rc = begin(e, opt, res);
    if (rc)
        return rc;
    for (i = 0; i < count; i++) {
        const char *x = datas ? datas[i] : data ? data + off : NULL;
        rc = encode_one(e, x, sizes[i]);
        if (rc) {
            res->index = i;
            return rc;
        }
        ends[i] = e->out_n;
        off += sizes[i];
    }
    /* the output buffer grew with all messages: trimmed by the next call if it is large */
    if (e->out_n > e->trim_n)
        e->trim_n = e->out_n;
    res->data = (const char *)(e->out ? (const char *)e->out : "");
    res->size = e->out_n;
    return XB_OK;
}

int xb_encode_many(xb_encoder *e, size_t count, const char *data, const size_t *sizes,
                   const xb_encode_options *opt, size_t *ends, xb_encode_result *res)
{
    return encode_many(e, count, data, NULL, sizes, opt, ends, res);
}

int xb_encode_many_ptrs(xb_encoder *e, size_t count, const char *const *datas, const size_t *sizes,
                        const xb_encode_options *opt, size_t *ends, xb_encode_result *res)
{
    return encode_many(e, count, NULL, datas, sizes, opt, ends, res);
}

xb_encoder *xb_encoder_new(void)
{
    xb_encoder *e;
    if (enc_tables() != 0)
        return NULL;
    e = calloc(1, sizeof(*e));
    return e;
}

/* the bytes e holds: the context and the capacity of every buffer (kept
 * between calls, each trimmed to at most KEEP_BYTES after a large input) */
size_t xb_encoder_footprint(const xb_encoder *e)
{
    if (!e)
        return 0;
    return sizeof(*e) + e->cap_inbuf + e->cap_ev * sizeof(*e->ev) + e->cap_items * sizeof(*e->items) +
           e->cap_arena + e->cap_binds * sizeof(*e->binds) + e->cap_open * sizeof(*e->open) +
           e->cap_dset * sizeof(*e->dset) + e->cap_hist * (sizeof(*e->hist) + sizeof(*e->hhash)) +
           e->cap_htab * sizeof(*e->htab) + e->cap_ws * sizeof(*e->ws) + e->cap_nctx * sizeof(*e->nctx) +
           e->cap_names * sizeof(*e->names) + e->cap_out + e->cap_win + e->cap_anchors * sizeof(*e->anch) +
           (e->wtab ? (e->wmask + 1) * sizeof(*e->wtab) : 0) + e->cap_anch * sizeof(*e->anch_m) +
           e->cap_cps * sizeof(*e->cps) + (e->lcache ? LC_SLOTS * sizeof(*e->lcache) : 0);
}

uint64_t xb_encoder_copy_steps(const xb_encoder *e)
{
    return e->copy_steps;
}

void xb_encoder_free(xb_encoder *e)
{
    if (!e)
        return;
    free(e->inbuf);
    free(e->ev);
    free(e->items);
    free(e->arena);
    free(e->binds);
    free(e->open);
    free(e->dset);
    free(e->hist);
    free(e->hhash);
    free(e->htab);
    free(e->win);
    free(e->anch);
    free(e->wtab);
    free(e->anch_m);
    free(e->cps);
    free(e->ws);
    free(e->nctx);
    free(e->names);
    free(e->out);
    free(e->lcache);
    free(e);
}

/* ---- stream mode hooks (csrc/stream.c, xb_stream.h) ------------------------------- */
/* The lexical section's pieces over the scanned events e->ev, for the stream
 * coder (which codes the payloads with the stream's state). Styles are given
 * as int[6]: dquote, empty, text_gt, text_quot, attr_gt, attr_oq. */
static void style_from(style *st, const int v[6])
{
    st->dquote = v[0];
    st->empty = v[1];
    st->text_gt = v[2];
    st->text_quot = v[3];
    st->attr_gt = v[4];
    st->attr_oq = v[5];
}

static void enc_styles(const xb_encoder *e, const int prev[6], int best[6], uint64_t *nbest, uint64_t *nprev)
{
    devcount d;
    style st, pv;
    count_devs(e, &d);
    choose_style(&d, &st);
    style_from(&pv, prev);
    best[0] = st.dquote;
    best[1] = st.empty;
    best[2] = st.text_gt;
    best[3] = st.text_quot;
    best[4] = st.attr_gt;
    best[5] = st.attr_oq;
    *nbest = dev_total(&d, &st);
    *nprev = dev_total(&d, &pv);
}

/* emit(ctx, slot, payload) for every deviation from style v, in slot order
 * (payload NULL for QUOTE and EMPTY); the walk of encode_lexical */
static void enc_deviations(const xb_encoder *e, const int v[6], void (*emit)(void *, uint64_t, const xb_str *),
                       void *ctx)
{
    style st;
    style_from(&st, v);
    walk_deviations(e, &st, emit, ctx);
}


/* exact mode with a state (spec 14.3, encoder.encode_lexical): the stream's
 * style if its deviations are no more than the best style's, else the best
 * style (which becomes the stream's); 1 (plain) for the stream's style with
 * no prolog and no deviation, else 0, then 1 and the deviations from the
 * stream's style, or 0, the best style and its deviations */
static void slexical(xb_encoder *e)
{
    xb_stream *s = e->st;
    int best[6];
    uint64_t nbest, nprev, ndev;
    devwriter w;
    enc_styles(e, s->style, best, &nbest, &nprev);
    if (memcmp(best, s->style, sizeof(best)) == 0 || nprev <= nbest) {
        if (!nprev && !e->prolog.n) {
            put(e, 1, 1); /* plain */
            return;
        }
        put(e, 1, 2); /* 0 1 */
        ndev = nprev;
    } else {
        put(e, 0, 2); /* 0 0 */
        memcpy(s->style, best, sizeof(best));
        put(e, (uint32_t)best[0], 1);
        put(e, (uint32_t)best[1], 2);
        put(e, (uint32_t)best[2], 1);
        put(e, (uint32_t)best[3], 1);
        put(e, (uint32_t)best[4], 1);
        put(e, (uint32_t)best[5], 1);
        ndev = nbest;
    }
    if (e->prolog.n) {
        put(e, 1, 1);
        value(e, e->prolog, XB_VC_MISC);
    } else {
        put(e, 0, 1);
    }
    gamma_code(e, ndev + 1);
    if (!ndev) /* nothing to walk for (most messages: the stream's style throughout) */
        return;
    w.e = e;
    w.prev = -1;
    enc_deviations(e, s->style, dev_emit, &w);
}

/* ---- stream mode: one message body (xb_stream_encode, csrc/stream.c) ------------------ */
/* the first byte of the session window in e->win: the last budget bytes of
 * the session's literals are the window (spec 8.11) */
static inline size_t sess_lo(const xb_encoder *e, uint32_t budget)
{
    return e->win_n > budget ? e->win_n - budget : 0;
}

/* the bytes of e->win before e->wlo and their anchors dropped, the rest moved
 * to the front; the key table made again for the kept anchors, with as many
 * slots as it had (they have at most as many keys), or (shrink) from its
 * first size, grown as they need; -1 (e->oom) if out of memory */
static XB_ENC_COLD int sess_compact(xb_encoder *e, int shrink)
{
    const size_t cut = e->wlo;
    size_t m = 0, k, n, slots = e->wtab ? e->wmask + 1 : (size_t)1 << WTAB_BITS;
    struct xb_wslot *t;
    while (m < e->nanch && e->anch[m].pos < cut)
        m++;
    n = e->nanch - m;
    if (shrink) /* from the first size, grown as the kept keys need */
        slots = (size_t)1 << WTAB_BITS;
    t = calloc(slots, sizeof(*t));
    if (!t) {
        e->oom = 1;
        return -1;
    }
    memmove(e->win, e->win + cut, e->win_n - cut);
    e->win_n -= cut;
    for (k = 0; k < n; k++) { /* a chain link to a dropped anchor ends the chain */
        struct xb_anchor a = e->anch[m + k];
        e->anch[k].pos = a.pos - (uint32_t)cut;
        e->anch[k].prev = a.prev > m ? a.prev - (uint32_t)m : 0;
    }
    e->nanch = n;
    e->wlo = 0;
    free(e->wtab);
    e->wtab = t;
    e->wmask = slots - 1;
    e->wgrow = slots / 2;
    e->wlive = 0;
    e->wbase = 1; /* (a free slot's head is 0) */
    for (k = 0; k < n; k++) {
        const uint32_t key = xb_load32((const char *)e->win + e->anch[k].pos);
        size_t h;
        if (e->wlive == e->wgrow && wtab_grow(e))
            return -1;
        h = wslot(key, xb_hash_seed, e->wmask);
        while (e->wtab[h].head >= e->wbase && e->wtab[h].key != key)
            h = (h + 1) & e->wmask;
        if (e->wtab[h].head < e->wbase)
            e->wlive++;
        e->wtab[h].head = (uint32_t)(e->wbase + k);
        e->wtab[h].key = key;
    }
    return 0;
}

/* before a stream message, after a large one (trim): the session window
 * alone kept, in buffers of its size; -1 (e->oom) if out of memory */
static XB_ENC_COLD int sess_trim(xb_encoder *e, size_t keep)
{
    void *p;
    if (!e->sess_st || (e->cap_win <= keep && e->cap_anchors * sizeof(*e->anch) <= keep &&
                        (!e->wtab || (e->wmask + 1) * sizeof(*e->wtab) <= keep)))
        return 0;
    e->wlo = sess_lo(e, e->sess_st->budget);
    if (sess_compact(e, 1))
        return -1;
    if (e->cap_win > keep && (p = realloc(e->win, e->win_n + 16)) != NULL) {
        e->win = p;
        e->cap_win = e->cap_w = e->win_n + 16;
    }
    if (e->cap_anchors * sizeof(*e->anch) > keep && e->nanch &&
        (p = realloc(e->anch, e->nanch * sizeof(*e->anch))) != NULL) {
        e->anch = p;
        e->cap_anchors = e->nanch;
    }
    return 0;
}

/* a stream message's window: the session window of s (the last budget bytes
 * of the window the last message of s left, if this encoder coded it and s
 * was not reset since), else empty; the bytes before it are dropped once
 * they are more than the budget (e->win then holds over 2 x budget). -1
 * (e->oom) if out of memory */
static int sess_begin(xb_encoder *e, const xb_stream *s)
{
    if (!s->budget || e->sess_st != s || e->sess_gen != s->gen) {
        win_reset(e);
        if (s->budget) {
            e->sess_st = s;
            e->sess_gen = s->gen;
        }
        return 0;
    }
    e->wlo = sess_lo(e, s->budget);
    if (e->wlo > s->budget)
        return sess_compact(e, 0);
    return 0;
}

static int stream_body(xb_encoder *e, xb_stream *s)
{
    int rc;
    if (xb_stream_tables() != 0)
        return -1;
    e->st = s;
    e->codes = (const uint32_t *const *)xb_scode;
    e->nsyms = xb_snsym;
    e->out_n = 0;
    e->acc = 0;
    e->nacc = 0;
    e->oom = 0;
    if (sess_begin(e, s))
        return -1;
    if (e->cap_out < 64)
        out_grow(e, 64);
    rc = e->oom ? -1 : encode_events(e, 1);
    finish_bits(e);
    e->st = NULL;
    e->codes = tcodes;
    e->nsyms = tnsym;
    return rc || e->oom ? -1 : 0;
}

/* The first half of a stream message: its options (the stream's mode) kept
   in e->sopt, begin and the scan. The state is untouched; on an error e is
   done with the call. */
static int stream_scan(xb_encoder *e, xb_stream *s, const char *xml, size_t size, const xb_encode_options *opt,
                       xb_encode_result *res)
{
    int rc, lost = 0;
    e->sopt = *opt;
    e->sopt.exact = s->exact; /* the stream's mode */
    if (e->trim_n > TRIM_INPUT) { /* before begin: its trim keeps more */
        lost = sess_trim(e, KEEP_STREAM);
        trim(e, KEEP_STREAM);
        e->trim_n = 0;
        if (s->kbuf_cap > KEEP_STREAM) {
            free(s->kbuf);
            s->kbuf = NULL;
            s->kbuf_cap = 0;
        }
    }
    rc = begin(e, &e->sopt, res);
    if (!rc && lost) { /* the session window could not be kept: the stream cannot go on */
        xb_sstate_clear(s);
        rc = xb_enc_nomem(e);
    }
    if (!rc)
        rc = scan_input(e, xml, size);
    if (rc)
        e->opt = NULL;
    return rc;
}

/* The second half, after stream_scan returned 0: the never-indexed ordinals
   (secrets, or check's), then the body coded with the state. */
static int stream_code(xb_encoder *e, xb_stream *s, const uint32_t *secrets, size_t nsecrets, xb_secret_check check,
                       const void *ctx, xb_encode_result *res)
{
    uint32_t sec[1];
    int rc = 0;
    if (check) {
        if (check(ctx, e, sec, &nsecrets)) {
            e->opt = NULL;
            return XB_ENC_DECLINED;
        }
        secrets = sec;
    }
    s->secrets = secrets;
    s->nsecrets = secrets ? nsecrets : 0;
    s->sec_pos = 0;
    s->ordinal = 0;
    xb_sstart_slot(s);
    s->nopen = 0;
    if (stream_body(e, s)) {
        /* the state may be half updated: the stream cannot go on */
        xb_sstate_clear(s);
        rc = xb_enc_nomem(e);
    } else {
        res->data = (const char *)e->out;
        res->size = e->out_n;
    }
    e->opt = NULL;
    return rc;
}

int xb_enc_stream_message(xb_encoder *e, xb_stream *s, const char *xml, size_t size, const xb_encode_options *opt,
                          const uint32_t *secrets, size_t nsecrets, xb_encode_result *res)
{
    int rc = stream_scan(e, s, xml, size, opt, res);
    return rc ? rc : stream_code(e, s, secrets, nsecrets, NULL, NULL, res);
}

int xb_enc_stream_scan(xb_encoder *e, xb_stream *s, const char *xml, size_t size, const xb_encode_options *opt,
                       xb_encode_result *res)
{
    return stream_scan(e, s, xml, size, opt, res);
}

int xb_enc_stream_code(xb_encoder *e, xb_stream *s, xb_secret_check check, const void *ctx, xb_encode_result *res)
{
    return stream_code(e, s, NULL, 0, check, ctx, res);
}
