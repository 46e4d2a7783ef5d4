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

#define V1_NCODES                                                                                          \
    (XBD_V1_NODE_NCTX + XBD_V1_PREFIX_NCTX + XBD_V1_NAME_NCTX + XBD_V1_AITEM_NCTX + XBD_V1_NS_NCTX +         \
     XBD_V1_VALUE_NCTX + XBD_V1_CHAR_NCTX)
#define V1_NSYMS                                                                                           \
    (XBD_V1_NODE_NCTX * XBD_V1_NODE_NSYM + XBD_V1_PREFIX_NCTX * XBD_V1_PREFIX_NSYM +                        \
     XBD_V1_NAME_NCTX * XBD_V1_NAME_NSYM + XBD_V1_AITEM_NCTX * XBD_V1_AITEM_NSYM +                          \
     XBD_V1_NS_NCTX * XBD_V1_NS_NSYM + XBD_V1_VALUE_NCTX * XBD_V1_VALUE_NSYM +                              \
     XBD_V1_CHAR_NCTX * XBD_V1_CHAR_NSYM)

static xb_hcode v1_codes[V1_NCODES];
static uint16_t v1_sorted[V1_NSYMS];
static uint8_t v1_lengths[V1_NSYMS];
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
    v1_dict.codes[t] = &v1_codes[*ci];
    v1_dict.nctx[t] = nctx;
    v1_dict.nsym[t] = nsym;
    for (k = 0; k < nctx; k++) {
        if (build_code(&v1_codes[*ci], digits[k], nsym, &v1_sorted[*si], &v1_lengths[*si]))
            return -1;
        *ci += 1;
        *si += nsym;
    }
    return 0;
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
    if (build_table(XB_T_NODE, XBD_V1_LENGTHS_NODE, XBD_V1_NODE_NCTX, XBD_V1_NODE_NSYM, &ci, &si) ||
        build_table(XB_T_PREFIX, XBD_V1_LENGTHS_PREFIX, XBD_V1_PREFIX_NCTX, XBD_V1_PREFIX_NSYM, &ci, &si) ||
        build_table(XB_T_NAME, XBD_V1_LENGTHS_NAME, XBD_V1_NAME_NCTX, XBD_V1_NAME_NSYM, &ci, &si) ||
        build_table(XB_T_AITEM, XBD_V1_LENGTHS_AITEM, XBD_V1_AITEM_NCTX, XBD_V1_AITEM_NSYM, &ci, &si) ||
        build_table(XB_T_NS, XBD_V1_LENGTHS_NS, XBD_V1_NS_NCTX, XBD_V1_NS_NSYM, &ci, &si) ||
        build_table(XB_T_VALUE, XBD_V1_LENGTHS_VALUE, XBD_V1_VALUE_NCTX, XBD_V1_VALUE_NSYM, &ci, &si) ||
        build_table(XB_T_CHAR, XBD_V1_LENGTHS_CHAR, XBD_V1_CHAR_NCTX, XBD_V1_CHAR_NSYM, &ci, &si)) {
        init_status = 1;
        return;
    }
    init_status = (ci == V1_NCODES && si == V1_NSYMS) ? 0 : 1;
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
