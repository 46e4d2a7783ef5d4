/*
 * Token dictionaries and their canonical Huffman decoding tables.
 *
 * The static data (token lists, shapes, code lengths) is generated from spec/
 * by tools/gen_tables.py into dict_v1.h. The decoding tables are built from the
 * code lengths once per process, exactly as xmppbin/bits.py:HuffmanCode does:
 * codes are assigned in order of (length, symbol), as in DEFLATE.
 */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdlib.h>
#include <string.h>

#define XBD_V1_IMPLEMENTATION
#include "dict_v1.h"
#include "xb_dict.h"

#ifdef _WIN32
#include <windows.h>
#else
#include <pthread.h>
#endif

/* The decoder packs (symbol << 4) | length into 16 bits. */
_Static_assert(XB_LUT_BITS < 16, "lookup lengths must fit in 4 bits");
_Static_assert(XBD_V1_VALUE_NSYM < 4096 && XBD_V1_NODE_NSYM < 4096 && XBD_V1_NAME_NSYM < 4096 &&
                   XBD_V1_AITEM_NSYM < 4096 && XBD_V1_NS_NSYM < 4096 && XBD_V1_PREFIX_NSYM < 4096,
               "symbols must fit in 12 bits");
/* The table sizes must be those of xmppbin/dictionary.py:table_sizes. */
_Static_assert(XBD_V1_NODE_NCTX == XB_NODE_CONTEXTS && XBD_V1_NODE_NSYM == XB_N_SHAPE + XBD_V1_NSHAPES,
               "node table size");
_Static_assert(XBD_V1_PREFIX_NCTX == 1 && XBD_V1_PREFIX_NSYM == 1 + XBD_V1_NPREFIXES, "prefix table size");
_Static_assert(XBD_V1_NAME_NCTX == XB_NAME_CONTEXTS && XBD_V1_NAME_NSYM == 1 + XBD_V1_NNAMES, "name table size");
_Static_assert(XBD_V1_AITEM_NCTX == 1 && XBD_V1_AITEM_NSYM == XB_A_NAME + XBD_V1_NNAMES, "aitem table size");
_Static_assert(XBD_V1_NS_NCTX == 1 && XBD_V1_NS_NSYM == 1 + XBD_V1_NNAMESPACES, "ns table size");
_Static_assert(XBD_V1_VALUE_NCTX == XB_VC_FIXED + XBD_V1_NATTRCONTEXTS + XBD_V1_NTEXTCONTEXTS &&
                   XBD_V1_VALUE_NSYM == XB_V_TOKEN + XBD_V1_NVALUES,
               "value table size");
_Static_assert(XBD_V1_CHAR_NCTX == XB_CHAR_CONTEXTS && XBD_V1_CHAR_NSYM == 256, "char table size");
_Static_assert(XBD_V1_NODECLS_NCTX == XB_NODECLS_CONTEXTS * XBD_V1_NNODECONTEXTS &&
                   XBD_V1_NODECLS_NSYM == 1 + XB_NODE_CLASS_SYMS && XBD_V1_NNODECONTEXTS < 255,
               "nodecls table size");
/* The stream code set (spec 14.3): node with the predicted contexts and PRED,
   the others of the stateless shapes (xmppbin/dictionary.py:stream_sizes). */
_Static_assert(XBD_V1_STREAM_NODE_NCTX == 2 * XB_NODE_CONTEXTS && XBD_V1_STREAM_NODE_NSYM == XBD_V1_NODE_NSYM + 1 &&
                   XBD_V1_STREAM_NODE_NSYM < 4096,
               "stream node table size");
_Static_assert(XBD_V1_STREAM_PREFIX_NCTX == XBD_V1_PREFIX_NCTX && XBD_V1_STREAM_PREFIX_NSYM == XBD_V1_PREFIX_NSYM &&
                   XBD_V1_STREAM_NAME_NCTX == XBD_V1_NAME_NCTX && XBD_V1_STREAM_NAME_NSYM == XBD_V1_NAME_NSYM &&
                   XBD_V1_STREAM_AITEM_NCTX == XBD_V1_AITEM_NCTX && XBD_V1_STREAM_AITEM_NSYM == XBD_V1_AITEM_NSYM &&
                   XBD_V1_STREAM_NS_NCTX == XBD_V1_NS_NCTX && XBD_V1_STREAM_NS_NSYM == XBD_V1_NS_NSYM &&
                   XBD_V1_STREAM_VALUE_NCTX == XBD_V1_VALUE_NCTX && XBD_V1_STREAM_VALUE_NSYM == XBD_V1_VALUE_NSYM &&
                   XBD_V1_STREAM_CHAR_NCTX == XBD_V1_CHAR_NCTX && XBD_V1_STREAM_CHAR_NSYM == XBD_V1_CHAR_NSYM,
               "stream table sizes");

#define V1_NCODES                                                                                          \
    (XBD_V1_NODE_NCTX + XBD_V1_PREFIX_NCTX + XBD_V1_NAME_NCTX + XBD_V1_AITEM_NCTX + XBD_V1_NS_NCTX +         \
     XBD_V1_VALUE_NCTX + XBD_V1_CHAR_NCTX)
#define V1_NSYMS                                                                                           \
    (XBD_V1_NODE_NCTX * XBD_V1_NODE_NSYM + XBD_V1_PREFIX_NCTX * XBD_V1_PREFIX_NSYM +                        \
     XBD_V1_NAME_NCTX * XBD_V1_NAME_NSYM + XBD_V1_AITEM_NCTX * XBD_V1_AITEM_NSYM +                          \
     XBD_V1_NS_NCTX * XBD_V1_NS_NSYM + XBD_V1_VALUE_NCTX * XBD_V1_VALUE_NSYM +                              \
     XBD_V1_CHAR_NCTX * XBD_V1_CHAR_NSYM)
/* the stream code set: one more node context set and node symbol */
#define V1_STREAM_NCODES (V1_NCODES + XB_NODE_CONTEXTS)
#define V1_STREAM_NSYMS (V1_NSYMS + XBD_V1_STREAM_NODE_NCTX * XBD_V1_STREAM_NODE_NSYM - XBD_V1_NODE_NCTX * XBD_V1_NODE_NSYM)

static xb_hcode v1_codes[V1_NCODES + V1_STREAM_NCODES];
static uint16_t v1_sorted[V1_NSYMS + V1_STREAM_NSYMS];
static uint8_t v1_lengths[V1_NSYMS + V1_STREAM_NSYMS];
static uint32_t v1_char_pairs[XBD_V1_CHAR_NCTX][1u << XB_CP_BITS];
/* node classes (spec 8.3) */
static xb_hcode v1_nodecls[XBD_V1_NODECLS_NCTX];
static uint16_t v1_nodecls_sorted[XBD_V1_NODECLS_NCTX * XBD_V1_NODECLS_NSYM];
static uint8_t v1_nodecls_lengths[XBD_V1_NODECLS_NCTX * XBD_V1_NODECLS_NSYM];
static uint8_t v1_node_local[XBD_V1_NNODECONTEXTS * XBD_V1_NODE_NSYM];
static uint8_t v1_nodecls_lut[XBD_V1_NODECLS_NCTX][1u << XB_NODECLS_MAX_LEN];
_Static_assert(XBD_V1_NODECLS_NSYM <= 32, "a local symbol fits the 5 bits of a nodecls_lut entry");

uint8_t xb_char_next[XB_CHAR_CONTEXTS][256];
uint8_t xb_char_after2[128][128];

/* The literal byte automaton of spec 8.1 (xmppbin/model.py _char_next). */
#define CC_SCRIPT ((unsigned)XB_CC_SCRIPT)
#define CC_INVALID (CC_SCRIPT + 16u)
#define CC_LEAD (CC_INVALID + 1u)
#define CC_MID (CC_LEAD + 26u)
#define CC_MID4 (CC_MID + 7u)
#define CC_LAST4 (CC_MID4 + 1u)
#define CC_OLD (CC_LAST4 + 1u)
_Static_assert(CC_OLD == XB_CC_OLD, "char contexts");
_Static_assert(CC_OLD + XBD_V1_CHAR_NTRACKED + XBD_V1_CHAR_NPAIRS == XB_CHAR_CONTEXTS, "char contexts");
_Static_assert(sizeof XBD_V1_CHAR_TRACKED == XBD_V1_CHAR_NTRACKED + 1, "tracked bytes");
_Static_assert(sizeof XBD_V1_CHAR_PAIRS == 2 * XBD_V1_CHAR_NPAIRS + 1, "listed pairs");
_Static_assert(XBD_V1_ASCII_CONTEXTS == XB_ASCII_CONTEXTS && XBD_V1_PAIR_CLASSES == 18, "ASCII contexts");
_Static_assert(XB_CHAR_CONTEXTS <= 256 && XB_CP_BITS <= 15 && XB_CP_BITS <= XB_LUT_BITS,
               "a context fits the 8 bits of XB_CP_CLS, a length its 4");

/* char_tracked[b]: the context after tracked byte b, else 0; char_pair_ctx[i][b]:
 * the context after listed pair a b, a the i-th tracked byte, else 0;
 * char_last[c - CC_OLD]: the byte that led to context c >= CC_OLD (built by
 * do_init) */
static uint8_t char_tracked[128], char_pair_ctx[XBD_V1_CHAR_NTRACKED][128];
static uint8_t char_last[XB_CHAR_CONTEXTS - CC_OLD];

static int char_tracking_init(void)
{
    static const char tracked[] = XBD_V1_CHAR_TRACKED, pairs[] = XBD_V1_CHAR_PAIRS;
    unsigned i;
    for (i = 0; i < XBD_V1_CHAR_NTRACKED; i++) {
        const unsigned t = (unsigned char)tracked[i];
        if (t == 0 || t >= 0x80 || char_tracked[t]) /* distinct ASCII bytes but 0 */
            return 1;
        char_tracked[t] = (uint8_t)(CC_OLD + i);
        char_last[i] = (uint8_t)t;
    }
    for (i = 0; i < XBD_V1_CHAR_NPAIRS; i++) {
        const unsigned a = (unsigned char)pairs[2 * i], b = (unsigned char)pairs[2 * i + 1];
        /* a pair: its first byte tracked, its second ASCII but 0, listed once */
        if (a >= 0x80 || !char_tracked[a] || b == 0 || b >= 0x80 || char_pair_ctx[char_tracked[a] - CC_OLD][b])
            return 1;
        char_pair_ctx[char_tracked[a] - CC_OLD][b] = (uint8_t)(CC_OLD + XBD_V1_CHAR_NTRACKED + i);
        char_last[XBD_V1_CHAR_NTRACKED + i] = (uint8_t)b;
    }
    return 0;
}

/* the script range (0 .. 15) of a lead byte 0xC2 .. 0xF4 */
static unsigned char_script(unsigned lead)
{
    static const uint8_t lo[16] = {0xC2, 0xC4, 0xCE, 0xD0, 0xD4, 0xD7, 0xD8, 0xDC,
                                   0xE0, 0xE1, 0xE2, 0xE3, 0xE4, 0xEA, 0xEE, 0xF0};
    unsigned i = 15;
    while (lead < lo[i])
        i--;
    return i;
}

/* the lead range (0 .. 25) of a lead byte 0xC2 .. 0xF4 */
static const uint8_t lead_lo[26] = {0xC2, 0xC3, 0xC4, 0xC6, 0xCE, 0xCF, 0xD0, 0xD1, 0xD2, 0xD4, 0xD5, 0xD6, 0xD7,
                                    0xD8, 0xD9, 0xDA, 0xDC, 0xE0, 0xE1, 0xE2, 0xE3, 0xE4, 0xEA, 0xEE, 0xF0, 0xF1};
static unsigned char_lead(unsigned lead)
{
    unsigned i = 25;
    while (lead < lead_lo[i])
        i--;
    return i;
}

/* the mid range (0 .. 6) of a lead byte 0xE0 .. 0xEF */
static unsigned char_mid(unsigned lead)
{
    static const uint8_t lo[7] = {0xE0, 0xE1, 0xE2, 0xE3, 0xE4, 0xEA, 0xEE};
    unsigned i = 6;
    while (lead < lo[i])
        i--;
    return i;
}

/* the class of the byte that led to context ctx (model.py pair_class): 0 for
 * none, 1 + its group for an ASCII byte, 17 for any other */
static unsigned pair_class(unsigned ctx)
{
    if (ctx == 0)
        return 0;
    if (ctx <= XB_ASCII_CONTEXTS)
        return 1u + XBD_V1_ASCII_CONTEXT_GROUP[ctx - 1];
    return XBD_V1_PAIR_CLASSES - 1;
}

static unsigned char_next(unsigned ctx, unsigned b)
{
    static const uint8_t mid_lo[7] = {0xE0, 0xE1, 0xE2, 0xE3, 0xE4, 0xEA, 0xEE};
    if (ctx >= CC_OLD) { /* after a tracked byte a: a listed pair a b, else as after a alone */
        const unsigned a = char_last[ctx - CC_OLD];
        if (b < 0x80 && char_tracked[a] && char_pair_ctx[char_tracked[a] - CC_OLD][b])
            return char_pair_ctx[char_tracked[a] - CC_OLD][b];
    }
    if (b < 0x80 && char_tracked[b])
        return char_tracked[b];
    if (ctx >= CC_OLD) /* only the group of the byte before matters below (spec 8.1) */
        ctx = XBD_V1_ASCII_NEXT[0][char_last[ctx - CC_OLD]];
    if (b >= 0x80 && b <= 0xBF && ctx >= CC_LEAD) { /* an expected continuation byte */
        if (ctx < CC_MID) {
            unsigned lead = lead_lo[ctx - CC_LEAD];
            if (lead < 0xE0)
                return CC_SCRIPT + char_script(lead);
            if (lead < 0xF0)
                return CC_MID + char_mid(lead);
            return CC_MID4;
        }
        if (ctx < CC_MID4)
            return CC_SCRIPT + char_script(mid_lo[ctx - CC_MID]);
        if (ctx == CC_MID4)
            return CC_LAST4;
        return CC_SCRIPT + char_script(0xF0);
    }
    if (b < 0x80) /* anything else starts a character */
        return XBD_V1_ASCII_NEXT[pair_class(ctx)][b];
    if (b < 0xC2 || b > 0xF4)
        return CC_INVALID;
    return CC_LEAD + char_lead(b);
}
static uint32_t v1_stream_char_pairs[XBD_V1_CHAR_NCTX][1u << XB_CP_BITS];
static uint16_t v1_shape_info[XBD_V1_NSHAPES];
/* the padded copies (xb_dict.h); the pool is about 90 KiB for v1 (bss pages
 * beyond what is used are never touched) */
#define V1_POOL_CAP ((size_t)1 << 20)
static char v1_pool[V1_POOL_CAP];
static size_t v1_pool_used;
static xb_str v1_pad_prefixes[XBD_V1_NPREFIXES], v1_pad_names[XBD_V1_NNAMES], v1_pad_namespaces[XBD_V1_NNAMESPACES],
    v1_pad_values[XBD_V1_NVALUES];
static xb_key v1_pad_shapes[XBD_V1_NSHAPES];
static xb_kitem v1_pad_shape_items[XBD_V1_NSHAPE_ITEMS];
/* context hash tables: at most a quarter full */
#define V1_ATTR_CTX_SLOTS 512
#define V1_TEXT_CTX_SLOTS 128
#define V1_NODE_CTX_SLOTS 256
_Static_assert(4 * XBD_V1_NATTRCONTEXTS <= V1_ATTR_CTX_SLOTS && 4 * XBD_V1_NTEXTCONTEXTS <= V1_TEXT_CTX_SLOTS &&
                   4 * XBD_V1_NNODECONTEXTS <= V1_NODE_CTX_SLOTS,
               "context hash tables too small");
static uint16_t v1_attr_ctx_tab[V1_ATTR_CTX_SLOTS], v1_text_ctx_tab[V1_TEXT_CTX_SLOTS],
    v1_node_ctx_tab[V1_NODE_CTX_SLOTS];
/* the elements of the "element attribute" entries of attr_contexts (spec 7.1), by xb_ctx_hash */
#define V1_PAIR_SLOTS 512
_Static_assert(4 * XBD_V1_NATTRCONTEXTS <= V1_PAIR_SLOTS, "pair hash table too small");
static xb_pelem v1_pair_tab[V1_PAIR_SLOTS];
static xb_pattr v1_pair_attrs[XBD_V1_NATTRCONTEXTS];
static int16_t v1_name_attr_ctx[XBD_V1_NNAMES], v1_name_text_ctx[XBD_V1_NNAMES];
static const xb_pelem *v1_name_pairs[XBD_V1_NNAMES];
static uint16_t v1_name_node_cls[XBD_V1_NNAMES];
static uint8_t v1_name_flags[XBD_V1_NNAMES];
static xb_dictionary v1_dict;
static int init_status = -1;

/* Build one code from its base-36 length digits. 0 on success. */
static int build_code(xb_hcode *c, const char *digits, uint32_t nsym, uint16_t *sorted, uint8_t *lens)
{
    uint32_t next[XB_MAX_CODE_LENGTH + 2];
    uint32_t s, ln;
    uint64_t kraft = 0;

    if (strlen(digits) != nsym || nsym == 0)
        return -1;
    memset(c, 0, sizeof(*c));
    c->nsym = nsym;
    c->sorted = sorted;
    c->lengths = lens;
    for (s = 0; s < nsym; s++) {
        char ch = digits[s];
        unsigned v;
        if (ch >= '0' && ch <= '9')
            v = (unsigned)(ch - '0');
        else if (ch >= 'a' && ch <= 'z')
            v = (unsigned)(ch - 'a') + 10;
        else
            return -1;
        if (v < 1 || v > XB_MAX_CODE_LENGTH)
            return -1;
        lens[s] = (uint8_t)v;
        c->count[v]++;
        if (v > c->maxlen)
            c->maxlen = (uint8_t)v;
    }
    for (ln = 1; ln <= c->maxlen; ln++)
        kraft += (uint64_t)c->count[ln] << (c->maxlen - ln);
    if (kraft > ((uint64_t)1 << c->maxlen))
        return -1; /* over-subscribed */
    {
        uint32_t code = 0, idx = 0;
        for (ln = 1; ln <= c->maxlen; ln++) {
            c->first[ln] = code;
            c->offset[ln] = idx;
            next[ln] = idx;
            code += c->count[ln];
            idx += c->count[ln];
            code <<= 1;
        }
    }
    for (s = 0; s < nsym; s++)
        sorted[next[lens[s]]++] = (uint16_t)s;
    for (ln = 1; ln <= c->maxlen && ln <= XB_LUT_BITS; ln++) {
        uint32_t k;
        for (k = 0; k < c->count[ln]; k++) {
            uint32_t sym = sorted[c->offset[ln] + k];
            uint32_t code = c->first[ln] + k;
            uint32_t lo = code << (XB_LUT_BITS - ln), hi = (code + 1) << (XB_LUT_BITS - ln), e;
            for (e = lo; e < hi; e++)
                c->lut[e] = (uint16_t)((sym << 4) | ln);
        }
    }
    return 0;
}

static int build_table(int t, const char *const *digits, uint32_t nctx, uint32_t nsym, size_t *ci, size_t *si)
{
    uint32_t k;
    if (*ci >= V1_NCODES) { /* the stream code set */
        v1_dict.stream_codes[t] = &v1_codes[*ci];
        v1_dict.stream_nctx[t] = nctx;
        v1_dict.stream_nsym[t] = nsym;
    } else {
        v1_dict.codes[t] = &v1_codes[*ci];
        v1_dict.nctx[t] = nctx;
        v1_dict.nsym[t] = nsym;
    }
    for (k = 0; k < nctx; k++) {
        if (build_code(&v1_codes[*ci], digits[k], nsym, &v1_sorted[*si], &v1_lengths[*si]))
            return -1;
        *ci += 1;
        *si += nsym;
    }
    return 0;
}

static int str_eq(xb_str a, xb_str b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static int str_eqz(xb_str a, const char *z)
{
    size_t n = strlen(z);
    return a.n == n && (n == 0 || memcmp(a.p, z, n) == 0);
}

static int is_xmlns_qname(xb_str a)
{
    return (a.n == 5 && memcmp(a.p, "xmlns", 5) == 0) || (a.n >= 6 && memcmp(a.p, "xmlns:", 6) == 0);
}

/* index of the first c in s[from ..], or s.n */
static size_t find_byte(xb_str s, size_t from, char c)
{
    while (from < s.n && s.p[from] != c)
        from++;
    return from;
}

/* no XB_ESCAPABLE byte in s */
static int is_clean(xb_str s)
{
    size_t i;
    for (i = 0; i < s.n; i++)
        if (XB_ESCAPABLE(s.p[i]))
            return 0;
    return 1;
}

/* XB_SHAPE_PLAIN | prefix length << XB_SHAPE_PFX_SHIFT, or 0 (see xb_dict.h);
 * mirrors the shape-only checks of resolve_start in decode.c. */
static uint16_t shape_plain(const xb_key *k)
{
    static const char xml_ns[] = "http://www.w3.org/XML/1998/namespace";
    static const char xmlns_ns[] = "http://www.w3.org/2000/xmlns/";
    uint32_t i, j;
    size_t pl;
    for (i = 0; i < k->nitems; i++) {
        const xb_kitem *it = &k->items[i];
        for (j = 0; j < i; j++)
            if (str_eq(it->qname, k->items[j].qname))
                return 0;
        if (is_xmlns_qname(it->qname)) {
            xb_str pfx = {it->qname.p + (it->qname.n > 5 ? 6 : 5), it->qname.n > 5 ? it->qname.n - 6 : 0};
            if (!it->is_ns || str_eqz(pfx, "xmlns") || (str_eqz(pfx, "xml") && !str_eqz(it->uri, xml_ns)) ||
                (!str_eqz(pfx, "xml") && str_eqz(it->uri, xml_ns)) || str_eqz(it->uri, xmlns_ns) ||
                (pfx.n && !it->uri.n))
                return 0;
        } else if (it->is_ns) {
            return 0;
        } else if (find_byte(it->qname, 0, ':') < it->qname.n) {
            /* xml:x only: the prefix xml is always bound to the XML namespace
             * (xmlns:xml can only repeat that), so its expanded name
             * (XML namespace, x) differs from those of the unprefixed items
             * and from those of other xml: items with another qname */
            if (it->qname.n < 4 || memcmp(it->qname.p, "xml:", 4) != 0 || find_byte(it->qname, 4, ':') < it->qname.n)
                return 0;
        }
    }
    pl = k->name.n;
    while (pl > 0 && k->name.p[pl - 1] != ':')
        pl--;
    pl = pl ? pl - 1 : 0; /* rpartition(":")[0] */
    if ((pl == 5 && memcmp(k->name.p, "xmlns", 5) == 0) || pl >= (1u << (16 - XB_SHAPE_PFX_SHIFT)))
        return 0;
    return (uint16_t)(XB_SHAPE_PLAIN | (pl << XB_SHAPE_PFX_SHIFT));
}

/* shape_plain | XB_SHAPE_NS_CLEAN if it applies */
uint16_t xb_shape_info(const xb_key *k)
{
    uint16_t clean = XB_SHAPE_NS_CLEAN;
    uint32_t i;
    for (i = 0; i < k->nitems; i++)
        if (k->items[i].is_ns && !is_clean(k->items[i].uri))
            clean = 0;
    return (uint16_t)(shape_plain(k) | clean);
}

static int ctx_find(const uint16_t *tab, uint32_t mask, const xb_str *list, const char *s, size_t len)
{
    uint32_t h = xb_ctx_hash(s, len) & mask;
    unsigned e;
    while ((e = tab[h]) != 0) {
        const xb_str *c = &list[e - 1];
        if (c->n == len && (len == 0 || memcmp(c->p, s, len) == 0))
            return (int)e - 1;
        h = (h + 1) & mask;
    }
    return -1;
}

/* the table of list; 1 if every entry is then found as xb_lookup finds it */
static int ctx_build(uint16_t *tab, uint32_t mask, const xb_str *list, const uint16_t *sorted, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        uint32_t h = xb_ctx_hash(list[i].p, list[i].n) & mask;
        while (tab[h])
            h = (h + 1) & mask;
        tab[h] = (uint16_t)(i + 1);
    }
    for (i = 0; i < n; i++)
        if (ctx_find(tab, mask, list, list[i].p, list[i].n) != xb_lookup(list, sorted, n, list[i].p, list[i].n))
            return 0;
    return 1;
}

/* the padded copy of the name s (its pad_names string), NULL if s is no name */
static const char *pad_name_of(const xb_dictionary *d, const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < d->nnames; i++)
        if (d->names[i].n == n && memcmp(d->names[i].p, s, n) == 0)
            return d->pad_names[i].p;
    return NULL;
}

#define NOT_A_PAIR SIZE_MAX

/* the length of the element qname of attr_contexts entry c if it is a pair
 * "e a" (spec 8.5: the qnames either side of its space), else NOT_A_PAIR */
static size_t pair_elem_len(const xb_str *c)
{
    const char *sp = c->n ? memchr(c->p, ' ', c->n) : NULL;
    return sp ? (size_t)(sp - c->p) : NOT_A_PAIR;
}

/* pair_tab (mask + 1 slots) and attrs (one per pair) of the "element
 * attribute" entries of attr_contexts, in their order; 1 on success */
static int pair_build(xb_dictionary *d, xb_pelem *tab, uint32_t mask, xb_pattr *attrs)
{
    size_t i, j, npairs = 0;
    for (i = 0; i < d->nattr_contexts; i++) { /* the elements, and how many pairs each has */
        const xb_str *c = &d->attr_contexts[i];
        const size_t en = pair_elem_len(c);
        uint32_t h, k;
        if (en == NOT_A_PAIR)
            continue;
        h = xb_ctx_hash(c->p, en);
        for (k = h & mask; tab[k].nattrs && !(tab[k].n == en && memcmp(tab[k].p, c->p, en) == 0); k = (k + 1) & mask)
            ;
        if (!tab[k].nattrs) {
            tab[k].h = h;
            tab[k].p = c->p;
            tab[k].n = en;
            tab[k].pad = pad_name_of(d, c->p, en);
        }
        tab[k].nattrs++;
        npairs++;
    }
    for (i = 0, j = 0; i <= mask; i++) { /* each element's part of attrs */
        tab[i].attrs = attrs + j;
        j += tab[i].nattrs;
        tab[i].nattrs = 0;
    }
    for (i = 0; i < d->nattr_contexts; i++) {
        const xb_str *c = &d->attr_contexts[i];
        const size_t en = pair_elem_len(c);
        uint32_t k;
        xb_pattr *x;
        if (en == NOT_A_PAIR)
            continue;
        for (k = xb_ctx_hash(c->p, en) & mask; !(tab[k].n == en && memcmp(tab[k].p, c->p, en) == 0);
             k = (k + 1) & mask)
            ;
        x = attrs + (tab[k].attrs - attrs) + tab[k].nattrs++;
        x->p = c->p + en + 1;
        x->n = c->n - en - 1;
        x->pad = pad_name_of(d, x->p, x->n);
        x->ctx = (int)i;
    }
    d->pair_tab = tab;
    d->pair_mask = mask;
    d->npairs = npairs;
    for (i = 0; i < d->nattr_contexts; i++) { /* every entry is found again */
        const xb_str *c = &d->attr_contexts[i];
        const size_t en = pair_elem_len(c);
        if (en != NOT_A_PAIR && xb_pair_context(d, c->p, en, c->p + en + 1, c->n - en - 1) != (int)i)
            return 0;
    }
    return 1;
}

int xb_pair_context(const xb_dictionary *d, const char *e, size_t en, const char *a, size_t an)
{
    const xb_pelem *pe = xb_pair_elem(d, e, en);
    return pe ? xb_pair_find(pe, a, an) : -1;
}

int xb_context_index(const xb_dictionary *d, int text, const char *s, size_t len)
{
    if (text)
        return ctx_find(d->text_ctx_tab, d->text_ctx_mask, d->text_contexts, s, len);
    return ctx_find(d->attr_ctx_tab, d->attr_ctx_mask, d->attr_contexts, s, len);
}

unsigned xb_node_class(const xb_dictionary *d, const char *s, size_t len)
{
    return (unsigned)(ctx_find(d->node_ctx_tab, d->node_ctx_mask, d->node_contexts, s, len) + 1);
}

/* the node class tables, the listed symbols' local symbols; 0 on success */
static int build_node_classes(xb_dictionary *d)
{
    uint32_t k, i;
    d->nnode_contexts = XBD_V1_NNODECONTEXTS;
    d->node_contexts = XBD_V1_NODE_CONTEXTS;
    d->node_contexts_sorted = XBD_V1_NODE_CONTEXTS_SORTED;
    d->node_class_syms = XBD_V1_NODE_CLASS_SYMS;
    d->node_local = v1_node_local;
    d->nodecls = v1_nodecls;
    d->node_ctx_tab = v1_node_ctx_tab;
    d->node_ctx_mask = V1_NODE_CTX_SLOTS - 1;
    for (k = 0; k < XBD_V1_NODECLS_NCTX; k++) {
        const xb_hcode *h = &v1_nodecls[k];
        uint32_t ln, filled = 0;
        if (build_code(&v1_nodecls[k], XBD_V1_LENGTHS_NODECLS[k], XBD_V1_NODECLS_NSYM,
                       &v1_nodecls_sorted[k * XBD_V1_NODECLS_NSYM], &v1_nodecls_lengths[k * XBD_V1_NODECLS_NSYM]) ||
            h->maxlen > XB_NODECLS_MAX_LEN)
            return -1;
        /* the one-lookup table: each code's entries, which must cover all 256 */
        for (ln = 1; ln <= h->maxlen; ln++)
            for (i = 0; i < h->count[ln]; i++) {
                const uint32_t first = (h->first[ln] + i) << (XB_NODECLS_MAX_LEN - ln);
                const uint32_t n = 1u << (XB_NODECLS_MAX_LEN - ln);
                memset(&v1_nodecls_lut[k][first], (int)((h->sorted[h->offset[ln] + i] << 3) | (ln - 1)), n);
                filled += n;
            }
        if (filled != 1u << XB_NODECLS_MAX_LEN)
            return -1;
    }
    d->nodecls_lut = (const uint8_t(*)[1u << XB_NODECLS_MAX_LEN])v1_nodecls_lut;
    for (k = 0; k < XBD_V1_NNODECONTEXTS; k++)
        for (i = 0; i < XB_NODE_CLASS_SYMS; i++) {
            uint32_t x = XBD_V1_NODE_CLASS_SYMS[k][i];
            /* distinct symbols of the node alphabet (the Python dictionary checks the same) */
            if (x >= XBD_V1_NODE_NSYM || v1_node_local[k * XBD_V1_NODE_NSYM + x])
                return -1;
            v1_node_local[k * XBD_V1_NODE_NSYM + x] = (uint8_t)(i + 1);
        }
    if (!ctx_build(v1_node_ctx_tab, V1_NODE_CTX_SLOTS - 1, XBD_V1_NODE_CONTEXTS, XBD_V1_NODE_CONTEXTS_SORTED,
                   XBD_V1_NNODECONTEXTS))
        return -1;
    for (k = 0; k < XBD_V1_NNAMES; k++)
        v1_name_node_cls[k] = (uint16_t)xb_node_class(d, XBD_V1_NAMES[k].p, XBD_V1_NAMES[k].n);
    d->name_node_cls = v1_name_node_cls;
    for (k = 0; k < XBD_V1_NSHAPES; k++) /* the generated classes of the static shapes */
        if (XBD_V1_SHAPES[k].node_cls != xb_node_class(d, XBD_V1_SHAPES[k].name.p, XBD_V1_SHAPES[k].name.n))
            return -1;
    return 0;
}

/* s copied into the pool; 0 if it is full */
static int pool_str(xb_str s, xb_str *out)
{
    if (s.n > V1_POOL_CAP - XB_STR_PAD - v1_pool_used)
        return 0;
    if (s.n)
        memcpy(v1_pool + v1_pool_used, s.p, s.n);
    out->p = v1_pool + v1_pool_used;
    out->n = s.n;
    v1_pool_used += s.n;
    return 1;
}

/* the values, each after a byte: is_clean */
static int pool_values(const xb_str *in, xb_str *out, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (v1_pool_used >= V1_POOL_CAP - XB_STR_PAD)
            return 0;
        v1_pool[v1_pool_used++] = (char)is_clean(in[i]);
        if (!pool_str(in[i], &out[i]))
            return 0;
    }
    return 1;
}

static int pool_strs(const xb_str *in, xb_str *out, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (!pool_str(in[i], &out[i]))
            return 0;
    return 1;
}

/* the padded copies of the v1 strings and shapes; 1 on success */
static int build_padded(xb_dictionary *d)
{
    size_t i, k, item = 0;
    if (!pool_strs(XBD_V1_PREFIXES, v1_pad_prefixes, XBD_V1_NPREFIXES) ||
        !pool_strs(XBD_V1_NAMES, v1_pad_names, XBD_V1_NNAMES) ||
        !pool_strs(XBD_V1_NAMESPACES, v1_pad_namespaces, XBD_V1_NNAMESPACES) ||
        !pool_values(XBD_V1_VALUES, v1_pad_values, XBD_V1_NVALUES))
        return 0;
    for (i = 0; i < XBD_V1_NSHAPES; i++) {
        const xb_key *k0 = &XBD_V1_SHAPES[i];
        xb_key *k1 = &v1_pad_shapes[i];
        *k1 = *k0;
        if (!pool_str(k0->name, &k1->name) || k0->nitems > XBD_V1_NSHAPE_ITEMS - item)
            return 0;
        k1->items = &v1_pad_shape_items[item];
        for (k = 0; k < k0->nitems; k++) {
            xb_kitem *it = &v1_pad_shape_items[item++];
            *it = k0->items[k];
            if (!pool_str(k0->items[k].qname, &it->qname) || !pool_str(k0->items[k].uri, &it->uri))
                return 0;
        }
    }
    /* v1_pool is static, so the XB_STR_PAD bytes after the last string are zeros */
    d->pad_prefixes = v1_pad_prefixes;
    d->pad_names = v1_pad_names;
    d->pad_namespaces = v1_pad_namespaces;
    d->pad_values = v1_pad_values;
    d->pad_shapes = v1_pad_shapes;
    return 1;
}

/* The char_pairs entry (xb_dict.h) of context ctx for the XB_CP_BITS lookup
 * bits x (the char code's own table is indexed by XB_LUT_BITS >= XB_CP_BITS
 * bits: x padded with zeros, which only codes no longer than x's bits ignore). */
static uint32_t char_pair(const xb_hcode *cc, uint32_t ctx, uint32_t x)
{
    const unsigned pad = XB_LUT_BITS - XB_CP_BITS;
    uint32_t e1 = cc[ctx].lut[x << pad], e2, len1, len2, b1, b2, c1, c2;
    if (!e1 || (e1 & 15u) > XB_CP_BITS)
        return 0;
    len1 = e1 & 15u;
    b1 = e1 >> 4;
    if (xb_is_copy(b1)) /* a copy (spec 8.11): the literal loop's slow path */
        return 0;
    if (b1 == 0)
        return (len1 << 16) | XB_CP_STOP;
    c1 = xb_char_next[ctx][b1];
    /* the code after b1 starts with the other XB_CP_BITS - len1 bits of x;
     * it is known if it is no longer than that */
    e2 = cc[c1].lut[((x << len1) & ((1u << XB_CP_BITS) - 1)) << pad];
    len2 = e2 & 15u;
    if (!e2 || len1 + len2 > XB_CP_BITS || xb_is_copy(e2 >> 4))
        return b1 | (len1 << 16) | (1u << 20) | (xb_byte_odd(b1) ? XB_CP_ODD : 0) | (c1 << 24);
    b2 = e2 >> 4;
    if (b2 == 0)
        return b1 | ((len1 + len2) << 16) | (1u << 20) | XB_CP_STOP | (xb_byte_odd(b1) ? XB_CP_ODD : 0);
    c2 = xb_char_next[c1][b2];
    return b1 | (b2 << 8) | ((len1 + len2) << 16) | (2u << 20) |
           (xb_byte_odd(b1) || xb_byte_odd(b2) ? XB_CP_ODD : 0) | (c2 << 24);
}

static void do_init(void)
{
    size_t ci = 0, si = 0;
    xb_dictionary *d = &v1_dict;
    d->id = 1;
    d->nprefixes = XBD_V1_NPREFIXES;
    d->nnames = XBD_V1_NNAMES;
    d->nnamespaces = XBD_V1_NNAMESPACES;
    d->nvalues = XBD_V1_NVALUES;
    d->nattr_contexts = XBD_V1_NATTRCONTEXTS;
    d->ntext_contexts = XBD_V1_NTEXTCONTEXTS;
    d->nshapes = XBD_V1_NSHAPES;
    d->prefixes = XBD_V1_PREFIXES;
    d->names = XBD_V1_NAMES;
    d->namespaces = XBD_V1_NAMESPACES;
    d->values = XBD_V1_VALUES;
    d->attr_contexts = XBD_V1_ATTR_CONTEXTS;
    d->text_contexts = XBD_V1_TEXT_CONTEXTS;
    d->attr_contexts_sorted = XBD_V1_ATTR_CONTEXTS_SORTED;
    d->text_contexts_sorted = XBD_V1_TEXT_CONTEXTS_SORTED;
    d->shapes = XBD_V1_SHAPES;
    d->prior = XBD_V1_PRIOR;
    d->nprior = XBD_V1_PRIOR_LEN;
    d->prior_starts = XBD_V1_PRIOR_STARTS;
    d->nprior_starts = XBD_V1_PRIOR_NSTARTS;
    d->prior_inner_list = XBD_V1_PRIOR_INNER_LIST;
    d->nprior_inner = XBD_V1_PRIOR_NINNER;
    if (build_table(XB_T_NODE, XBD_V1_LENGTHS_NODE, XBD_V1_NODE_NCTX, XBD_V1_NODE_NSYM, &ci, &si) ||
        build_table(XB_T_PREFIX, XBD_V1_LENGTHS_PREFIX, XBD_V1_PREFIX_NCTX, XBD_V1_PREFIX_NSYM, &ci, &si) ||
        build_table(XB_T_NAME, XBD_V1_LENGTHS_NAME, XBD_V1_NAME_NCTX, XBD_V1_NAME_NSYM, &ci, &si) ||
        build_table(XB_T_AITEM, XBD_V1_LENGTHS_AITEM, XBD_V1_AITEM_NCTX, XBD_V1_AITEM_NSYM, &ci, &si) ||
        build_table(XB_T_NS, XBD_V1_LENGTHS_NS, XBD_V1_NS_NCTX, XBD_V1_NS_NSYM, &ci, &si) ||
        build_table(XB_T_VALUE, XBD_V1_LENGTHS_VALUE, XBD_V1_VALUE_NCTX, XBD_V1_VALUE_NSYM, &ci, &si) ||
        build_table(XB_T_CHAR, XBD_V1_LENGTHS_CHAR, XBD_V1_CHAR_NCTX, XBD_V1_CHAR_NSYM, &ci, &si) ||
        build_table(XB_T_NODE, XBD_V1_LENGTHS_STREAM_NODE, XBD_V1_STREAM_NODE_NCTX, XBD_V1_STREAM_NODE_NSYM, &ci,
                    &si) ||
        build_table(XB_T_PREFIX, XBD_V1_LENGTHS_STREAM_PREFIX, XBD_V1_STREAM_PREFIX_NCTX, XBD_V1_STREAM_PREFIX_NSYM,
                    &ci, &si) ||
        build_table(XB_T_NAME, XBD_V1_LENGTHS_STREAM_NAME, XBD_V1_STREAM_NAME_NCTX, XBD_V1_STREAM_NAME_NSYM, &ci,
                    &si) ||
        build_table(XB_T_AITEM, XBD_V1_LENGTHS_STREAM_AITEM, XBD_V1_STREAM_AITEM_NCTX, XBD_V1_STREAM_AITEM_NSYM, &ci,
                    &si) ||
        build_table(XB_T_NS, XBD_V1_LENGTHS_STREAM_NS, XBD_V1_STREAM_NS_NCTX, XBD_V1_STREAM_NS_NSYM, &ci, &si) ||
        build_table(XB_T_VALUE, XBD_V1_LENGTHS_STREAM_VALUE, XBD_V1_STREAM_VALUE_NCTX, XBD_V1_STREAM_VALUE_NSYM, &ci,
                    &si) ||
        build_table(XB_T_CHAR, XBD_V1_LENGTHS_STREAM_CHAR, XBD_V1_STREAM_CHAR_NCTX, XBD_V1_STREAM_CHAR_NSYM, &ci,
                    &si)) {
        init_status = 1;
        return;
    }
    {
        static uint8_t same[XB_CHAR_CONTEXTS][XB_CHAR_CONTEXTS]; /* rows x, y found alike */
        uint32_t k, e;
        if (char_tracking_init()) {
            init_status = 1;
            return;
        }
        for (k = 0; k < XB_CHAR_CONTEXTS; k++)
            for (e = 0; e < 256; e++)
                xb_char_next[k][e] = (uint8_t)char_next(k, e);
        for (k = 0; k < 128; k++)
            for (e = 0; e < 128; e++)
                xb_char_after2[k][e] = xb_char_next[xb_char_next[0][k]][e];
        /* after a byte that is no UTF-8 continuation byte the context depends
           on that byte and the byte before it alone (spec 8.1: from any
           context c, after bytes a b the context is the one from context 0;
           xb_char_ctx_from, xb_char_after2 and the encoder's ASCII runs rely
           on it) */
        for (k = 0; k < XB_CHAR_CONTEXTS * 256u; k++) {
            const unsigned x = xb_char_next[k / 256][k % 256], y = xb_char_next[0][k % 256];
            if (x == y || same[x][y])
                continue;
            for (e = 0; e < 256; e++) {
                if ((e & 0xC0) != 0x80 && xb_char_next[x][e] != xb_char_next[y][e]) {
                    init_status = 1;
                    return;
                }
            }
            same[x][y] = 1;
        }
        for (k = 0; k < XBD_V1_CHAR_NCTX; k++)
            for (e = 0; e < (1u << XB_CP_BITS); e++)
                v1_char_pairs[k][e] = char_pair(d->codes[XB_T_CHAR], k, e);
        for (k = 0; k < XBD_V1_CHAR_NCTX; k++)
            for (e = 0; e < (1u << XB_CP_BITS); e++)
                v1_stream_char_pairs[k][e] = char_pair(d->stream_codes[XB_T_CHAR], k, e);
        d->stream_char_pairs = (const uint32_t(*)[1u << XB_CP_BITS])v1_stream_char_pairs;
        for (k = 0; k < XBD_V1_NSHAPES; k++)
            v1_shape_info[k] = xb_shape_info(&XBD_V1_SHAPES[k]);
        d->char_pairs = (const uint32_t(*)[1u << XB_CP_BITS])v1_char_pairs;
        d->shape_info = v1_shape_info;
        d->attr_ctx_tab = v1_attr_ctx_tab;
        d->attr_ctx_mask = V1_ATTR_CTX_SLOTS - 1;
        d->text_ctx_tab = v1_text_ctx_tab;
        d->text_ctx_mask = V1_TEXT_CTX_SLOTS - 1;
        if (!build_padded(d) ||
            !ctx_build(v1_attr_ctx_tab, V1_ATTR_CTX_SLOTS - 1, XBD_V1_ATTR_CONTEXTS, XBD_V1_ATTR_CONTEXTS_SORTED,
                       XBD_V1_NATTRCONTEXTS) ||
            !ctx_build(v1_text_ctx_tab, V1_TEXT_CTX_SLOTS - 1, XBD_V1_TEXT_CONTEXTS, XBD_V1_TEXT_CONTEXTS_SORTED,
                       XBD_V1_NTEXTCONTEXTS) ||
            !pair_build(d, v1_pair_tab, V1_PAIR_SLOTS - 1, v1_pair_attrs)) {
            init_status = 1;
            return;
        }
        for (k = 0; k < XBD_V1_NNAMES; k++) {
            v1_name_attr_ctx[k] = (int16_t)xb_context_index(d, 0, XBD_V1_NAMES[k].p, XBD_V1_NAMES[k].n);
            v1_name_text_ctx[k] = (int16_t)xb_context_index(d, 1, XBD_V1_NAMES[k].p, XBD_V1_NAMES[k].n);
            v1_name_pairs[k] = xb_pair_elem(d, XBD_V1_NAMES[k].p, XBD_V1_NAMES[k].n);
            v1_name_flags[k] = (uint8_t)((memchr(XBD_V1_NAMES[k].p, ':', XBD_V1_NAMES[k].n) ? XB_NAME_COLON : 0u) |
                                         (XBD_V1_NAMES[k].n == 5 && !memcmp(XBD_V1_NAMES[k].p, "xmlns", 5)
                                              ? XB_NAME_XMLNS
                                              : 0u));
        }
        d->name_attr_ctx = v1_name_attr_ctx;
        d->name_text_ctx = v1_name_text_ctx;
        d->name_pairs = v1_name_pairs;
        d->name_flags = v1_name_flags;
        if (build_node_classes(d)) {
            init_status = 1;
            return;
        }
    }
    init_status = (ci == V1_NCODES + V1_STREAM_NCODES && si == V1_NSYMS + V1_STREAM_NSYMS) ? 0 : 1;
}

#ifdef _WIN32
static INIT_ONCE init_once = INIT_ONCE_STATIC_INIT;
static BOOL CALLBACK init_cb(PINIT_ONCE o, PVOID p, PVOID *ctx)
{
    (void)o;
    (void)p;
    (void)ctx;
    do_init();
    return TRUE;
}
int xb_dict_init(void)
{
    InitOnceExecuteOnce(&init_once, init_cb, NULL, NULL);
    return init_status;
}
#else
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
int xb_dict_init(void)
{
    if (pthread_once(&init_once, do_init) != 0)
        return -1;
    return init_status;
}
#endif

const xb_dictionary *xb_get_dictionary(int id)
{
    if (id == 1 && init_status == 0)
        return &v1_dict;
    return NULL;
}

int xb_lookup(const xb_str *list, const uint16_t *sorted, size_t n, const char *s, size_t len)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const xb_str *e = &list[sorted[mid]];
        size_t m = e->n < len ? e->n : len;
        int c = m ? memcmp(e->p, s, m) : 0;
        if (c == 0)
            c = (e->n > len) - (e->n < len);
        if (c == 0)
            return sorted[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

void xb_code_words(const xb_hcode *h, uint32_t *dst)
{
    uint32_t ln, k;
    for (ln = 1; ln <= h->maxlen; ln++)
        for (k = 0; k < h->count[ln]; k++)
            dst[h->sorted[h->offset[ln] + k]] = ((h->first[ln] + k) << 5) | ln;
}

void *xb_grow(void *p, size_t *cap, size_t need, size_t elsize)
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
