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

#ifdef _WIN32
#include <windows.h>
#else
#include <pthread.h>
#endif

/* ---- errors and memory ------------------------------------------------------------ */
int xb_enc_error(xb_encoder *e, int code, size_t offset, int limit, const char *fmt, ...)
{
    va_list ap;
    e->res->error = code;
    e->res->offset = offset;
    e->res->limit = limit;
    va_start(ap, fmt);
    vsnprintf(e->res->message, sizeof(e->res->message), fmt, ap);
    va_end(ap);
    return code;
}

int xb_enc_nomem(xb_encoder *e)
{
    return xb_enc_error(e, XB_ERR_NOMEM, 0, XB_LIMIT_NONE, "out of memory");
}

void *xb_enc_grow(void *p, size_t *cap, size_t need, size_t elsize)
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

/* ---- hashing ------------------------------------------------------------------------ */
static uint64_t hash_seed;

static inline uint64_t mix64(uint64_t h)
{
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ull;
    h ^= h >> 32;
    return h;
}

#define load64 xb_load64
#define load32 xb_load32
#define bytes_eq xb_bytes_eq

/* A 64-bit hash of a byte string (fixed-size, possibly overlapping loads). */
static inline uint64_t str_hash(const char *p, size_t n)
{
    uint64_t h = hash_seed ^ ((uint64_t)n * 0x9E3779B97F4A7C15ull), v;
    if (n <= 8) {
        if (n >= 4)
            v = ((uint64_t)load32(p) << 32) | load32(p + n - 4);
        else if (n)
            v = ((uint64_t)(uint8_t)p[0] << 16) | ((uint64_t)(uint8_t)p[n >> 1] << 8) | (uint8_t)p[n - 1];
        else
            v = 0;
        return mix64((h ^ v) * 0x94d049bb133111ebull);
    } else {
        const char *end = p + n;
        while (end - p > 8) {
            h = (h ^ load64(p)) * 0xbf58476d1ce4e5b9ull;
            h ^= h >> 31;
            p += 8;
        }
        return mix64((h ^ load64(end - 8)) * 0x94d049bb133111ebull);
    }
}

static inline int str_eq(xb_str a, xb_str b)
{
    return a.n == b.n && bytes_eq(a.p, b.p, a.n);
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

/* model.CHAR_CLASS */
static uint8_t char_class[256];

/* byte classes for the packed forms: one pass over a value classifies it */
#define VF_DIGIT 1u  /* 0-9 */
#define VF_HEXL 2u   /* 0-9 a-f */
#define VF_HEXU 4u   /* 0-9 A-F */
#define VF_JIDWS 8u  /* SP TAB CR LF */
#define VF_JIDSEP 16u /* @ / */
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
            f |= VF_JIDWS;
        if (b == '@' || b == '/')
            f |= VF_JIDSEP;
        vflags[b] = (uint8_t)f;
    }
}


/* Open-addressing tables over the static token lists. A slot holds all a
 * probe needs (hash, length, index + 1, and the token's bytes inline when they
 * fit, else a pointer), so a lookup touches one slot and at most one string. */
typedef struct {
    uint32_t hash;
    uint16_t len;
    uint16_t idx1; /* 0: empty */
    union {
        char b[8];
        const char *p;
    } s;
} sslot;
_Static_assert(sizeof(sslot) == 16, "slot size");

typedef struct {
    sslot *slots;
    uint32_t mask;
} stab;

static sslot prefix_slots[64], name_slots[4096], ns_slots[1024], value_slots[4096], attr_slots[128],
    text_slots[64];
/* static shapes: full hash and index + 1 */
typedef struct {
    uint64_t hash;
    uint32_t idx1;
} hslot;
static hslot shape_slots[4096];
_Static_assert(2 * XBD_V1_NPREFIXES <= 64 && 2 * XBD_V1_NNAMES <= 4096 && 2 * XBD_V1_NNAMESPACES <= 1024 &&
                   2 * XBD_V1_NVALUES <= 4096 && 2 * XBD_V1_NATTRCONTEXTS <= 128 &&
                   2 * XBD_V1_NTEXTCONTEXTS <= 64 && 2 * XBD_V1_NSHAPES <= 4096,
               "static hash tables are too small");
_Static_assert(XBD_V1_NVALUES < 65535 && XBD_V1_NNAMES < 65535 && XBD_V1_NNAMESPACES < 65535,
               "token indices must fit in 16 bits");
static stab prefix_tab, name_tab, ns_tab, value_tab, attr_tab, text_tab;

static const xb_dictionary *dict1;
static int enc_status = -1;

static int stab_build(stab *t, sslot *slots, size_t nslots, const xb_str *list, size_t n)
{
    size_t i;
    t->slots = slots;
    t->mask = (uint32_t)(nslots - 1);
    for (i = 0; i < n; i++) {
        uint32_t h = (uint32_t)str_hash(list[i].p, list[i].n), k = h & t->mask;
        if (list[i].n > 0xFFFF)
            return -1;
        while (slots[k].idx1)
            k = (k + 1) & t->mask;
        slots[k].hash = h;
        slots[k].len = (uint16_t)list[i].n;
        slots[k].idx1 = (uint16_t)(i + 1);
        if (list[i].n <= 8) {
            memset(slots[k].s.b, 0, 8);
            memcpy(slots[k].s.b, list[i].p, list[i].n);
        } else {
            slots[k].s.p = list[i].p;
        }
    }
    return 0;
}

static inline int stab_find(const stab *t, const char *p, size_t n, uint64_t h64)
{
    uint32_t h = (uint32_t)h64, k = h & t->mask;
    for (;;) {
        const sslot *s = &t->slots[k];
        if (!s->idx1)
            return -1;
        if (s->hash == h && s->len == n && bytes_eq(n <= 8 ? s->s.b : s->s.p, p, n))
            return (int)s->idx1 - 1;
        k = (k + 1) & t->mask;
    }
}

static inline int stab_get(const stab *t, xb_str s)
{
    return stab_find(t, s.p, s.n, str_hash(s.p, s.n));
}

/* hash of a shape key: qname, then per item its kind, qname and (declarations) URI */
static inline uint64_t shape_step(uint64_t h, uint64_t x)
{
    return mix64((h ^ x) * 0x9E3779B97F4A7C15ull);
}

static uint64_t static_shape_hash(const xb_key *k)
{
    uint64_t h = str_hash(k->name.p, k->name.n);
    uint32_t i;
    for (i = 0; i < k->nitems; i++) {
        const xb_kitem *it = &k->items[i];
        h = shape_step(h, it->is_ns ? 0x51 : 0x17);
        h = shape_step(h, str_hash(it->qname.p, it->qname.n));
        if (it->is_ns)
            h = shape_step(h, str_hash(it->uri.p, it->uri.n));
    }
    return h;
}

static int build_codes(void)
{
    size_t off = 0;
    int t;
    for (t = 0; t < XB_NTABLES; t++) {
        uint32_t c, nsym = dict1->nsym[t];
        tcodes[t] = code_store + off;
        tnsym[t] = nsym;
        for (c = 0; c < dict1->nctx[t]; c++) {
            const xb_hcode *h = &dict1->codes[t][c];
            uint32_t *dst = code_store + off;
            uint32_t ln, k;
            if (off + nsym > TOTAL_SYMS)
                return -1;
            for (ln = 1; ln <= h->maxlen; ln++)
                for (k = 0; k < h->count[ln]; k++)
                    dst[h->sorted[h->offset[ln] + k]] = ((h->first[ln] + k) << 5) | ln;
            off += nsym;
        }
    }
    return off == TOTAL_SYMS ? 0 : -1;
}

static int model_char_class(int b)
{
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

static void enc_init(void)
{
    size_t i;
    static int seed_anchor;
    if (xb_dict_init() != 0 || !(dict1 = xb_get_dictionary(1))) {
        enc_status = 1;
        return;
    }
    hash_seed = mix64((uint64_t)(uintptr_t)&seed_anchor * 0x9E3779B97F4A7C15ull) | 1;
    if (build_codes()) {
        enc_status = 1;
        return;
    }
    for (i = 0; i < 256; i++)
        char_class[i] = (uint8_t)model_char_class((int)i);
    init_vflags();
    for (i = 0; i < XB_CHAR_CONTEXTS * 256; i++)
        char_len[i / 256][i % 256] = (uint8_t)(tcodes[XB_T_CHAR][i] & 31);
    if (stab_build(&prefix_tab, prefix_slots, 64, dict1->prefixes, dict1->nprefixes) ||
        stab_build(&name_tab, name_slots, 4096, dict1->names, dict1->nnames) ||
        stab_build(&ns_tab, ns_slots, 1024, dict1->namespaces, dict1->nnamespaces) ||
        stab_build(&value_tab, value_slots, 4096, dict1->values, dict1->nvalues) ||
        stab_build(&attr_tab, attr_slots, 128, dict1->attr_contexts, dict1->nattr_contexts) ||
        stab_build(&text_tab, text_slots, 64, dict1->text_contexts, dict1->ntext_contexts)) {
        enc_status = 1;
        return;
    }
    for (i = 0; i < dict1->nshapes; i++) {
        uint64_t h = static_shape_hash(&dict1->shapes[i]);
        size_t k = (size_t)h & 4095;
        while (shape_slots[k].idx1)
            k = (k + 1) & 4095;
        shape_slots[k].hash = h;
        shape_slots[k].idx1 = (uint32_t)i + 1;
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
static void out_grow(xb_encoder *e, size_t need)
{
    void *p = xb_enc_grow(e->out, &e->cap_out, need, 1);
    if (!p) {
        /* keep writing into what there is; the call fails at the end */
        e->oom = 1;
        e->out_n = 0;
        return;
    }
    e->out = p;
}

/* append 32 bits */
static inline void flush32(xb_encoder *e, uint32_t w)
{
    uint8_t *o;
    if (e->out_n + 4 > e->cap_out)
        out_grow(e, e->out_n + 4);
    o = e->out + e->out_n;
    o[0] = (uint8_t)(w >> 24);
    o[1] = (uint8_t)(w >> 16);
    o[2] = (uint8_t)(w >> 8);
    o[3] = (uint8_t)w;
    e->out_n += 4;
}

/* v < 2**n, n <= 32 */
static inline void put(xb_encoder *e, uint32_t v, unsigned n)
{
    uint64_t acc = (e->acc << n) | v;
    unsigned nacc = e->nacc + n;
    if (nacc >= 32) {
        nacc -= 32;
        flush32(e, (uint32_t)(acc >> nacc));
    }
    e->acc = acc;
    e->nacc = nacc;
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

static inline unsigned bitlen(uint64_t x)
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

static inline uint64_t gamma_length(uint64_t n)
{
    return 2u * bitlen(n) - 1u;
}

/* Elias gamma of n >= 1 */
static inline void gamma(xb_encoder *e, uint64_t n)
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

/* index of the most recent occurrence of s, or -1 */
static inline long hist_find(const xb_encoder *e, xb_str s, uint64_t h)
{
    size_t k, mask;
    if (!e->cap_htab)
        return -1;
    mask = e->cap_htab - 1;
    k = (size_t)h & mask;
    while (e->htab[k].gen == e->hgen) {
        if (e->htab[k].hash == h && str_eq(e->hist[e->htab[k].idx], s))
            return (long)e->htab[k].idx;
        k = (k + 1) & mask;
    }
    return -1;
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

static void hist_add(xb_encoder *e, xb_str s, uint64_t h)
{
    size_t i;
    if (e->nhist + 1 > e->cap_hist) {
        void *p = xb_enc_grow(e->hist, &e->cap_hist, e->nhist + 1, sizeof(*e->hist));
        if (!p) {
            e->oom = 1;
            return;
        }
        e->hist = p;
    }
    if (e->nhist + 1 > e->cap_hhash) {
        void *p = xb_enc_grow(e->hhash, &e->cap_hhash, e->nhist + 1, sizeof(*e->hhash));
        if (!p) {
            e->oom = 1;
            return;
        }
        e->hhash = p;
    }
    if (2 * (e->nhist + 1) > e->cap_htab) {
        size_t cap = e->cap_htab ? 2 * e->cap_htab : 64;
        xb_hslot *t = calloc(cap, sizeof(*t));
        if (!t) {
            e->oom = 1;
            return;
        }
        free(e->htab);
        e->htab = t;
        e->cap_htab = cap;
        e->hgen = 1;
        for (i = 0; i < e->nhist; i++)
            htab_put(e, e->hhash[i], (uint32_t)i);
    }
    e->hist[e->nhist] = s;
    e->hhash[e->nhist] = h;
    htab_put(e, h, (uint32_t)e->nhist);
    e->nhist++;
}

/* ---- values (encoder._Coder.value) ----------------------------------------------- */
/* model.int_value: 1 and *v if s is a canonical decimal below 2**64 */
static int int_value(xb_str s, uint64_t *v)
{
    uint64_t x = 0;
    size_t i;
    if (s.n == 0 || s.n > 20)
        return 0;
    if (s.p[0] == '0') {
        *v = 0;
        return s.n == 1;
    }
    for (i = 0; i < s.n; i++) {
        unsigned d = (unsigned)(uint8_t)s.p[i] - '0';
        if (d > 9)
            return 0;
        if (x > (UINT64_MAX - d) / 10)
            return 0;
        x = x * 10 + d;
    }
    *v = x;
    return 1;
}

static inline int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
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
}; /* value + 1; 0: not in the alphabet */

/* model.b64_bytes: the number of bytes if s is canonical padded base64, else -1 */
static int64_t b64_bytes(xb_str s)
{
    const uint8_t *p = (const uint8_t *)s.p;
    size_t i, n = s.n, pads = 0;
    if (n < XB_B64_MIN || n % 4)
        return -1;
    if (p[n - 1] == '=') {
        pads = p[n - 2] == '=' ? 2 : 1;
    }
    for (i = 0; i < n - pads; i++)
        if (!B64_VAL[p[i]])
            return -1;
    /* the bits below the last whole byte must be zero (re-encoding gives s) */
    if (pads == 2 && ((B64_VAL[p[n - 3]] - 1) & 0xF))
        return -1;
    if (pads == 1 && ((B64_VAL[p[n - 2]] - 1) & 0x3))
        return -1;
    return (int64_t)(n / 4 * 3 - pads);
}

typedef struct {
    int sym; /* JID symbol, or -1 */
    int has_local, has_res;
    xb_str local, domain, res;
} jid_parts;

/* model.jid_split */
static void jid_split(xb_str s, jid_parts *j)
{
    size_t i, slash = s.n, at;
    j->sym = -1;
    if (!s.n)
        return;
    for (i = 0; i < s.n; i++) {
        char c = s.p[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            return;
        if (c == '/' && slash == s.n)
            slash = i;
    }
    j->has_res = slash < s.n;
    if (j->has_res) {
        j->res.p = s.p + slash + 1;
        j->res.n = s.n - slash - 1;
    }
    at = slash;
    for (i = 0; i < slash; i++)
        if (s.p[i] == '@') {
            at = i;
            break;
        }
    j->has_local = at < slash;
    if (j->has_local) {
        j->local.p = s.p;
        j->local.n = at;
        j->domain.p = s.p + at + 1;
        j->domain.n = slash - at - 1;
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
    int64_t nbytes; /* B64 */
    /* LIT recorded by choose_basic: e->lit[0 .. lit_words) then lit_tail bits
       of lit_last; lit_words == SIZE_MAX if not recorded */
    size_t lit_words;
    uint32_t lit_last;
    unsigned lit_tail;
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

/* encoder._Coder._choose without the JID form: the cheapest of LIT, INT, UUID,
 * HEX, B64 (ties: the earlier); *fany gets the union of the byte classes */
static void choose_basic(xb_encoder *e, xb_str s, const uint32_t *code, packed *ch, unsigned *fany, int record)
{
    const uint8_t *p = (const uint8_t *)s.p;
    uint64_t cost = 0, c, n;
    unsigned ctx = 0, fall = 0xFF, fa = 0;
    size_t i;
    int k;
    int64_t nb;
    ch->lit_words = SIZE_MAX;
    if (record && (s.n + 1) / 4 * 3 + 4 > e->cap_lit) {
        void *q = xb_enc_grow(e->lit, &e->cap_lit, (s.n + 1) / 4 * 3 + 4, sizeof(*e->lit));
        if (q)
            e->lit = q;
        else
            record = 0; /* price only; value_h codes the bytes one by one */
    }
    if (record) {
        /* price the literal and write its bits to e->lit: 32-bit words, then
           the last ch->lit_tail bits in ch->lit_last */
        const uint32_t *cc = tcodes[XB_T_CHAR];
        uint32_t *lit = e->lit, cd;
        uint64_t acc = 0;
        unsigned nacc = 0;
        size_t w = 0;
        for (i = 0; i < s.n; i++) {
            uint8_t b = p[i];
            cd = cc[ctx * 256 + b];
            acc = (acc << (cd & 31u)) | (cd >> 5);
            nacc += cd & 31u;
            cost += cd & 31u;
            if (nacc >= 32) {
                nacc -= 32;
                lit[w++] = (uint32_t)(acc >> nacc);
            }
            ctx = char_class[b];
            fall &= vflags[b];
            fa |= vflags[b];
        }
        cd = cc[ctx * 256]; /* the terminator */
        acc = (acc << (cd & 31u)) | (cd >> 5);
        nacc += cd & 31u;
        cost += cd & 31u;
        if (nacc >= 32) {
            nacc -= 32;
            lit[w++] = (uint32_t)(acc >> nacc);
        }
        ch->lit_words = w;
        ch->lit_last = (uint32_t)(acc & ((1ull << nacc) - 1));
        ch->lit_tail = nacc;
        *fany = fa;
        ch->sym = XB_V_LIT;
        ch->cost = LEN(code, XB_V_LIT) + cost;
        goto packed_forms;
    }
    for (i = 0; i < s.n; i++) {
        uint8_t b = p[i];
        cost += char_len[ctx][b];
        ctx = char_class[b];
        fall &= vflags[b];
        fa |= vflags[b];
    }
    *fany = fa;
    ch->sym = XB_V_LIT;
    ch->cost = LEN(code, XB_V_LIT) + cost + char_len[ctx][0];
packed_forms:
    if ((fall & VF_DIGIT) && int_value(s, &n)) {
        unsigned bl = bitlen(n);
        c = LEN(code, XB_V_INT) + gamma_length(bl + 1) + (bl > 1 ? bl - 1 : 0);
        if (c < ch->cost) {
            ch->sym = XB_V_INT;
            ch->cost = c;
            ch->ival = n;
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
    if (s.n >= XB_B64_MIN && s.n % 4 == 0 && !(fa & VF_JIDWS) && (nb = b64_bytes(s)) >= 0) {
        c = LEN(code, XB_V_B64) + gamma_length((uint64_t)nb) + 8 * (uint64_t)nb;
        if (c < ch->cost) {
            ch->sym = XB_V_B64;
            ch->cost = c;
            ch->nbytes = nb;
        }
    }
}

/* encoder._Coder._est of a JID part, remembering what coding it needs again */
static uint64_t est_part(xb_encoder *e, xb_str s, unsigned vctx, partinfo *pi)
{
    const uint32_t *code = VCODE(vctx);
    long p;
    unsigned fa;
    pi->have = 0;
    pi->tok = -1;
    pi->h = str_hash(s.p, s.n);
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
    choose_basic(e, s, code, &pi->ch, &fa, 0);
    pi->have = 1;
    return pi->ch.cost;
}

/* encoder._Coder._choose: the cheapest packed form, ties in the order LIT, INT,
 * UUID, HEX, B64, JID; the JID parts are estimated with the history as it is */
static void choose(xb_encoder *e, xb_str s, unsigned vctx, vchoice *ch, int record)
{
    const uint32_t *code = VCODE(vctx);
    unsigned fa;
    choose_basic(e, s, code, &ch->p, &fa, record);
    if ((fa & VF_JIDSEP) && !(fa & VF_JIDWS) && vctx != XB_VC_JID_LOCAL && vctx != XB_VC_JID_DOMAIN &&
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
}

static void put_hex_digits(xb_encoder *e, xb_str s)
{
    size_t i;
    for (i = 0; i < s.n; i++) {
        int v = hexval((uint8_t)s.p[i]);
        if (v >= 0) /* UUID dashes are skipped */
            put(e, (uint32_t)v, 4);
    }
}

/* encoder._Coder.value for a non-empty s with hash h; pi: the part's estimate
 * when s is a JID part being coded (NULL otherwise) */
static void value_h(xb_encoder *e, xb_str s, unsigned vctx, uint64_t h, const partinfo *pi)
{
    const uint32_t *code = VCODE(vctx);
    long p;
    int t;
    vchoice ch;
    const packed *pk;
    p = hist_find(e, s, h);
    if (p >= 0) {
        size_t i = e->nhist - 1 - (size_t)p;
        if (i < XB_REF_NEAR) {
            sym(e, code, (uint32_t)(XB_V_REF + i));
        } else {
            sym(e, code, XB_V_REF_FAR);
            gamma(e, i - XB_REF_NEAR + 1);
        }
        return;
    }
    /* not in the history now, so it was not when pi was made: pi has the rest */
    t = pi ? pi->tok : stab_find(&value_tab, s.p, s.n, h);
    if (t >= 0) {
        sym(e, code, (uint32_t)(XB_V_TOKEN + t));
        return;
    }
    if (pi && pi->have) {
        pk = &pi->ch;
    } else {
        choose(e, s, vctx, &ch, 1);
        pk = &ch.p;
    }
    sym(e, code, (uint32_t)pk->sym);
    switch (pk->sym) {
    case XB_V_LIT:
        if (pk->lit_words != SIZE_MAX) {
            /* recorded while pricing */
            size_t w;
            for (w = 0; w < pk->lit_words; w++)
                put(e, e->lit[w], 32);
            put(e, pk->lit_last, pk->lit_tail);
        } else {
            /* put() with the accumulator in registers */
            const uint32_t *cc = tcodes[XB_T_CHAR];
            const uint8_t *b = (const uint8_t *)s.p;
            unsigned ctx = 0, nacc = e->nacc;
            uint64_t acc = e->acc;
            size_t i;
            for (i = 0; i <= s.n; i++) {
                uint8_t byte = i < s.n ? b[i] : 0;
                uint32_t c = cc[ctx * 256 + byte];
                acc = (acc << (c & 31u)) | (c >> 5);
                nacc += c & 31u;
                if (nacc >= 32) {
                    nacc -= 32;
                    flush32(e, (uint32_t)(acc >> nacc));
                }
                ctx = char_class[byte];
            }
            e->acc = acc;
            e->nacc = nacc;
        }
        break;
    case XB_V_INT: {
        unsigned bl = bitlen(pk->ival);
        gamma(e, bl + 1);
        if (bl > 1)
            put64(e, pk->ival & ((1ull << (bl - 1)) - 1), bl - 1);
        break;
    }
    case XB_V_UUID_L:
    case XB_V_UUID_U:
        put_hex_digits(e, s);
        break;
    case XB_V_HEX_L:
    case XB_V_HEX_U:
        gamma(e, s.n - XB_HEX_MIN + 1);
        put_hex_digits(e, s);
        break;
    case XB_V_B64: {
        const uint8_t *b = (const uint8_t *)s.p;
        size_t i, n = s.n;
        gamma(e, (uint64_t)pk->nbytes);
        if (b[n - 1] == '=')
            n -= b[n - 2] == '=' ? 2 : 1;
        /* the 6-bit groups, the last one cut to whole bytes (its cut bits are 0) */
        for (i = 0; i + 1 < n; i++)
            put(e, (uint32_t)(B64_VAL[b[i]] - 1), 6);
        if (n == s.n)
            put(e, (uint32_t)(B64_VAL[b[i]] - 1), 6);
        else if (s.n - n == 2)
            put(e, (uint32_t)(B64_VAL[b[i]] - 1) >> 4, 2);
        else
            put(e, (uint32_t)(B64_VAL[b[i]] - 1) >> 2, 4);
        break;
    }
    default: /* JID: only from choose(), so ch is set */
        if (ch.jid.has_local)
            value_h(e, ch.jid.local, XB_VC_JID_LOCAL, ch.part[0].h, &ch.part[0]);
        value_h(e, ch.jid.domain, XB_VC_JID_DOMAIN, ch.part[1].h, &ch.part[1]);
        if (ch.jid.has_res)
            value_h(e, ch.jid.res, XB_VC_JID_RESOURCE, ch.part[2].h, &ch.part[2]);
        break;
    }
    hist_add(e, s, h);
}

static void value(xb_encoder *e, xb_str s, unsigned vctx)
{
    if (!s.n)
        sym(e, VCODE(vctx), XB_V_EMPTY);
    else
        value_h(e, s, vctx, str_hash(s.p, s.n), NULL);
}

/* ---- names and start tags ---------------------------------------------------------- */
static void code_prefix(xb_encoder *e, xb_str p)
{
    int i = stab_get(&prefix_tab, p);
    const uint32_t *code = tcodes[XB_T_PREFIX];
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
    const uint32_t *code = tcodes[XB_T_NAME] + (size_t)ctx * tnsym[XB_T_NAME];
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
    const uint32_t *code = tcodes[XB_T_NS];
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

static const xb_str EMPTY_S = {"", 0};

/* encoder._Coder.generic_start */
static void generic_start(xb_encoder *e, const xb_event *ev)
{
    const xb_eitem *it = e->items + ev->first;
    const uint32_t *acode = tcodes[XB_T_AITEM];
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
    size_t k = (size_t)h & 4095;
    for (;;) {
        const hslot *s = &shape_slots[k];
        if (!s->idx1)
            return -1;
        if (s->hash == h && same_static_shape(e, ev, &dict1->shapes[s->idx1 - 1]))
            return (int)s->idx1 - 1;
        k = (k + 1) & 4095;
    }
}

/* encoder._Coder.start; -1 if out of memory */
static int start(xb_encoder *e, const uint32_t *ncode, size_t evi)
{
    const xb_event *ev = &e->ev[evi];
    const xb_eitem *it = e->items + ev->first;
    uint64_t h, *qh;
    size_t i, n = e->ncache;
    uint32_t k;
    if (ev->nitems > e->cap_qh) {
        void *p = xb_enc_grow(e->qh, &e->cap_qh, ev->nitems, sizeof(*e->qh));
        if (!p)
            return -1;
        e->qh = p;
    }
    qh = e->qh;
    /* the hash of the shape key (as static_shape_hash) */
    h = str_hash(ev->name.p, ev->name.n);
    for (k = 0; k < ev->nitems; k++) {
        qh[k] = str_hash(it[k].qname.p, it[k].qname.n);
        h = shape_step(h, it[k].is_ns ? 0x51 : 0x17);
        h = shape_step(h, qh[k]);
        if (it[k].is_ns)
            h = shape_step(h, str_hash(it[k].value.p, it[k].value.n));
    }
    for (i = 0; i < n; i++)
        if (e->cache[i].hash == h && same_shape(e, ev, &e->ev[e->cache[i].ev]))
            break;
    if (i < n) {
        sym(e, ncode, (uint32_t)(XB_N_LOCAL + i));
        memmove(&e->cache[1], &e->cache[0], i * sizeof(e->cache[0]));
    } else {
        int j = static_shape(e, ev, h);
        if (j >= 0) {
            sym(e, ncode, (uint32_t)(XB_N_SHAPE + j));
        } else {
            sym(e, ncode, XB_N_GENERIC);
            generic_start(e, ev);
        }
        if (n == XB_SHAPE_CACHE)
            n--;
        memmove(&e->cache[1], &e->cache[0], n * sizeof(e->cache[0]));
        e->ncache = n + 1;
    }
    e->cache[0].hash = h;
    e->cache[0].ev = evi;
    for (k = 0; k < ev->nitems; k++) {
        int c;
        if (it[k].is_ns)
            continue;
        c = stab_find(&attr_tab, it[k].qname.p, it[k].qname.n, qh[k]);
        value(e, it[k].value, c < 0 ? XB_VC_OTHER_ATTR : (unsigned)(XB_VC_FIXED + c));
    }
    return 0;
}

/* ---- text (encoder._Coder.text) ------------------------------------------------------ */
/* model.is_ws_only: SP, TAB, LF only */
static const uint8_t WSO[256] = {[' '] = 1, ['\t'] = 1, ['\n'] = 1};

static inline int is_ws_only(xb_str s)
{
    const uint8_t *p = (const uint8_t *)s.p;
    size_t i;
    if (!s.n)
        return 0;
    for (i = 0; i < s.n; i++)
        if (!WSO[p[i]])
            return 0;
    return 1;
}

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

/* returns 1 if the text was whitespace-only, -1 on out of memory */
static int text(xb_encoder *e, const uint32_t *ncode, xb_str v, size_t depth)
{
    if (is_ws_only(v)) {
        xb_str *ws;
        if (depth + 1 > e->nws) {
            if (depth + 1 > e->cap_ws) {
                void *p = xb_enc_grow(e->ws, &e->cap_ws, depth + 1, sizeof(*e->ws));
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
            sym(e, ncode, XB_N_WS_SAME);
        } else if (depth >= 1 && ws[depth - 1].p && str_eq(v, ws[depth - 1])) {
            sym(e, ncode, XB_N_WS_PARENT);
        } else if (depth >= 1 && ws[depth - 1].p && v.n > ws[depth - 1].n &&
                   v.n - ws[depth - 1].n <= XB_WS_DEEPER_MAX && memcmp(v.p, ws[depth - 1].p, ws[depth - 1].n) == 0 &&
                   all_spaces(v, ws[depth - 1].n)) {
            sym(e, ncode, (uint32_t)(XB_N_WS_DEEPER + v.n - ws[depth - 1].n - 1));
        } else {
            sym(e, ncode, XB_N_TEXT);
            value(e, v, text_ctx(e, depth));
        }
        ws[depth] = v;
        return 1;
    }
    sym(e, ncode, XB_N_TEXT);
    value(e, v, text_ctx(e, depth));
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

typedef struct {
    uint64_t slot;
    int64_t prev;
} devwriter;

static void dev_emit(xb_encoder *e, devwriter *w, const xb_str *payload)
{
    gamma(e, (uint64_t)((int64_t)w->slot - w->prev));
    w->prev = (int64_t)w->slot;
    if (payload)
        value(e, *payload, XB_VC_MISC);
}

static void encode_lexical(xb_encoder *e)
{
    devcount d;
    style st;
    devwriter w;
    size_t k, depth = 0;
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
    gamma(e, dev_total(&d, &st) + 1);
    w.slot = 0;
    w.prev = -1;
    for (k = 0; k < e->nev; k++) {
        const xb_event *ev = &e->ev[k];
        if (ev->type == XE_S) {
            const xb_eitem *it = e->items + ev->first;
            int empty = k + 1 < e->nev && e->ev[k + 1].type == XE_E;
            uint8_t sq = st.dquote ? '"' : '\'';
            uint32_t i;
            for (i = 0; i < ev->nitems; i++) {
                if (!eqz(it[i].ws, " "))
                    dev_emit(e, &w, &it[i].ws);
                w.slot++;
                if (!eqz(it[i].eq, "="))
                    dev_emit(e, &w, &it[i].eq);
                w.slot++;
                if (it[i].quote != sq)
                    dev_emit(e, &w, NULL);
                w.slot++;
                if (attr_dev(&it[i], it[i].value.p == it[i].raw.p ? esc_flags(it[i].value) : 0, st.attr_gt,
                             st.attr_oq))
                    dev_emit(e, &w, &it[i].raw);
                w.slot++;
            }
            if (!eqz(ev->raw, (ev->selfclose && empty && st.empty == 1) ? " " : ""))
                dev_emit(e, &w, &ev->raw);
            w.slot++;
            if (empty) {
                if (ev->selfclose != (st.empty != 2))
                    dev_emit(e, &w, NULL);
                w.slot++;
            }
            depth++;
        } else if (ev->type == XE_E) {
            depth--;
            if (ev->raw.n)
                dev_emit(e, &w, &ev->raw);
            w.slot++;
        } else if (ev->type == XE_T && depth > 0) {
            if (text_dev(ev, ev->value.p == ev->raw.p ? esc_flags(ev->value) : 0, st.text_gt, st.text_quot))
                dev_emit(e, &w, &ev->raw);
            w.slot++;
        }
    }
}

/* ---- the main stream (encoder.encode_events) ---------------------------------------- */
static int encode_events(xb_encoder *e)
{
    const uint32_t *node = tcodes[XB_T_NODE];
    const size_t nn = tnsym[XB_T_NODE];
    size_t k, depth = 0; /* depth = len(names); node context stack: nctx[0 .. depth] */
    static const xb_str NL = {"\n", 1};
    /* node contexts and open elements: at most one per open element + 1 */
    XB_ENC_RESERVE(e, e->nctx, e->cap_nctx, 1);
    XB_ENC_RESERVE(e, e->ws, e->cap_ws, 1);
    e->ws[0] = NL;
    e->nws = 1;
    e->nctx[0] = XB_NC_DOC;
    for (k = 0; k < e->nev; k++) {
        const xb_event *ev = &e->ev[k];
        switch (ev->type) {
        case XE_S:
            if (start(e, node + e->nctx[depth] * nn, k))
                return xb_enc_nomem(e);
            if (e->open_root)
                goto done;
            XB_ENC_RESERVE(e, e->names, e->cap_names, depth + 1);
            XB_ENC_RESERVE(e, e->nctx, e->cap_nctx, depth + 2);
            e->names[depth].ev = k;
            e->names[depth].tctx = -2;
            depth++;
            e->nctx[depth] = XB_NC_START;
            break;
        case XE_E:
            sym(e, node + e->nctx[depth] * nn, XB_N_END);
            depth--;
            if (depth > 0)
                e->nctx[depth] = XB_NC_AFTER_ELEM;
            break;
        case XE_T: {
            int r;
            if (depth == 0 && !e->exact)
                break;
            r = text(e, node + e->nctx[depth] * nn, ev->value, depth);
            if (r < 0)
                return xb_enc_nomem(e);
            if (depth)
                e->nctx[depth] = r ? XB_NC_AFTER_WS : XB_NC_AFTER_OTHER;
            break;
        }
        default: /* comment or PI */
            sym(e, node + e->nctx[depth] * nn, ev->type == XE_C ? XB_N_COMMENT : XB_N_PI);
            value(e, ev->value, XB_VC_MISC);
            if (depth)
                e->nctx[depth] = XB_NC_AFTER_OTHER;
            break;
        }
    }
    sym(e, node + XB_NC_DOC * nn, XB_N_END);
done:
    if (e->exact)
        encode_lexical(e);
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

/* encoder.encode for one input; the message is appended to e->out */
static int encode_one(xb_encoder *e, const char *xml, size_t size)
{
    const xb_encode_options *o = e->opt;
    size_t start;
    int rc;
    e->in = (const uint8_t *)(xml ? xml : "");
    e->n = xml ? size : 0;
    if (e->n > o->max_size)
        return xb_enc_error(e, XB_ERR_LIMIT, o->max_size, XB_LIMIT_MAX_SIZE,
                            "input of %llu bytes exceeds max_size=%lu", (unsigned long long)e->n,
                            (unsigned long)o->max_size);
    rc = xb_scan(e);
    if (rc)
        return rc;
    if (!e->exact && 6 * (uint64_t)e->n > o->max_size && canonical_size(e) > o->max_size)
        return xb_enc_error(e, XB_ERR_LIMIT, e->n, XB_LIMIT_MAX_SIZE, "decoded output would exceed max_size=%lu",
                            (unsigned long)o->max_size);
    start = e->out_n;
    XB_ENC_RESERVE(e, e->out, e->cap_out, start + 64);
    e->out[start] = (uint8_t)((XB_FORMAT_VERSION << 5) |
                              ((e->open_root ? XB_KIND_STREAM_OPEN : XB_KIND_ELEMENT) << 3) | (e->exact << 2));
    e->out[start + 1] = (uint8_t)o->dictionary;
    e->out_n = start + 2;
    e->acc = 0;
    e->nacc = 0;
    e->oom = 0;
    e->ncache = 0;
    hist_reset(e);
    rc = encode_events(e);
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
 * call stays valid until here). */
#define KEEP_BYTES ((size_t)1 << 20)
#define TRIM(arr, cap)                                                                                     \
    do {                                                                                                   \
        if ((cap) * sizeof(*(arr)) > KEEP_BYTES) {                                                         \
            free(arr);                                                                                     \
            (arr) = NULL;                                                                                  \
            (cap) = 0;                                                                                     \
        }                                                                                                  \
    } while (0)

static void trim(xb_encoder *e)
{
    TRIM(e->ev, e->cap_ev);
    TRIM(e->items, e->cap_items);
    TRIM(e->arena, e->cap_arena);
    TRIM(e->binds, e->cap_binds);
    TRIM(e->open, e->cap_open);
    TRIM(e->dset, e->cap_dset);
    TRIM(e->hist, e->cap_hist);
    TRIM(e->hhash, e->cap_hhash);
    TRIM(e->ws, e->cap_ws);
    TRIM(e->nctx, e->cap_nctx);
    TRIM(e->names, e->cap_names);
    TRIM(e->qh, e->cap_qh);
    TRIM(e->lit, e->cap_lit);
    TRIM(e->out, e->cap_out);
    if (e->cap_htab * sizeof(*e->htab) > KEEP_BYTES) {
        free(e->htab);
        e->htab = NULL;
        e->cap_htab = 0;
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
    trim(e);
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

int xb_encode_many(xb_encoder *e, size_t count, const char *data, const size_t *sizes,
                   const xb_encode_options *opt, size_t *ends, xb_encode_result *res)
{
    size_t i, off = 0;
    int rc = begin(e, opt, res);
    if (rc)
        return rc;
    for (i = 0; i < count; i++) {
        rc = encode_one(e, data ? data + off : NULL, sizes[i]);
        if (rc) {
            res->index = i;
            return rc;
        }
        ends[i] = e->out_n;
        off += sizes[i];
    }
    res->data = (const char *)(e->out ? (const char *)e->out : "");
    res->size = e->out_n;
    return XB_OK;
}

xb_encoder *xb_encoder_new(void)
{
    xb_encoder *e;
    if (enc_tables() != 0)
        return NULL;
    e = calloc(1, sizeof(*e));
    return e;
}

void xb_encoder_free(xb_encoder *e)
{
    if (!e)
        return;
    free(e->ev);
    free(e->items);
    free(e->arena);
    free(e->binds);
    free(e->open);
    free(e->dset);
    free(e->hist);
    free(e->hhash);
    free(e->htab);
    free(e->ws);
    free(e->nctx);
    free(e->names);
    free(e->qh);
    free(e->lit);
    free(e->out);
    free(e);
}
