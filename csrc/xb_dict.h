/*
 * Internal definitions shared by the C codec: the coding model's constants
 * (mirroring xmppbin/model.py and xmppbin/lexical.py), the types of the
 * generated dictionary tables (csrc/dict_v1.h) and the canonical Huffman
 * decoding tables built from them (csrc/dict.c).
 */
#ifndef XMPPBIN_XB_DICT_H
#define XMPPBIN_XB_DICT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* SSE2 (every x86-64) for the byte searches and classes of the scanner, the
 * splitter, the literal coder and the decoder's copies; the portable code of
 * each elsewhere, or with XB_NO_SIMD */
#if defined(__SSE2__) && defined(__GNUC__) && !defined(XB_NO_SIMD)
#include <emmintrin.h>
#define XB_SSE2 1
#endif

/* ---- strings ------------------------------------------------------------ */
/* A byte string (UTF-8) that is not NUL-terminated. p is never NULL, except
 * in the decoder's marker for "no string" (Python None). */
typedef struct {
    const char *p;
    size_t n;
} xb_str;

/* One item of a start-tag shape: a namespace declaration (is_ns = 1, qname
 * "xmlns" or "xmlns:p", uri = the URI) or an attribute (is_ns = 0, qname, and
 * attr_ctx = index into the attribute contexts, -1 if none). */
typedef struct {
    uint8_t is_ns;
    int16_t attr_ctx;
    xb_str qname;
    xb_str uri;
} xb_kitem;

/* A start-tag shape: element qname, text context of the element (index into
 * the text contexts, -1 if none), its node class (spec 8.3: 1 + index into the
 * node contexts, 0 if none), and its items in order. */
typedef struct {
    xb_str name;
    int16_t text_ctx;
    uint16_t node_cls;
    uint32_t nitems;
    const xb_kitem *items;
} xb_key;

/* ---- model constants (xmppbin/model.py) ----------------------------------- */
#define XB_FORMAT_VERSION 1
#define XB_KIND_ELEMENT 0
#define XB_KIND_STREAM_OPEN 1
#define XB_KIND_RESTART 2 /* an OPEN frame's stream header coded with the state kept (spec 14.2) */

/* The message header (spec 5): byte 0 is version << 5 | kind << 3 | exact << 2 |
 * d, where d is the dictionary id for ids 1-3 (a one-byte header), else 0 with
 * the id in byte 1. Writes it to q (2 bytes of room) and returns its length. */
static inline size_t xb_put_header(uint8_t *q, unsigned kind, int exact, unsigned id)
{
    const unsigned d = id >= 1 && id <= 3 ? id : 0u;
    q[0] = (uint8_t)(XB_FORMAT_VERSION << 5 | kind << 3 | (exact ? 4u : 0u) | d);
    q[1] = (uint8_t)id;
    return d ? 1 : 2;
}

enum { XB_HDR_OK, XB_HDR_TRUNCATED, XB_HDR_VERSION, XB_HDR_LONG_SHORT_ID };

/* Reads the header of p[0 .. n): XB_HDR_OK with *kind, *exact, *id and *len,
 * or XB_HDR_TRUNCATED (the error is at n), XB_HDR_VERSION (at 0: an unsupported
 * format version), XB_HDR_LONG_SHORT_ID (at 1: an id 1-3 in a two-byte header).
 * The kind is the caller's to check, as is the dictionary. */
static inline int xb_read_header(const uint8_t *p, size_t n, unsigned *kind, int *exact, unsigned *id,
                                 size_t *len)
{
    if (n < 1)
        return XB_HDR_TRUNCATED;
    if (p[0] >> 5 != XB_FORMAT_VERSION)
        return XB_HDR_VERSION;
    *kind = (p[0] >> 3) & 3u;
    *exact = (p[0] & 4u) != 0;
    *id = p[0] & 3u;
    *len = 1;
    if (*id)
        return XB_HDR_OK;
    if (n < 2)
        return XB_HDR_TRUNCATED;
    *id = p[1];
    *len = 2;
    return *id >= 1 && *id <= 3 ? XB_HDR_LONG_SHORT_ID : XB_HDR_OK;
}

#define XB_N_END 0
#define XB_N_TEXT 1
#define XB_N_WS_SAME 2
#define XB_N_WS_PARENT 3
#define XB_N_WS_DEEPER 4
#define XB_WS_DEEPER_MAX 8
#define XB_N_COMMENT 12
#define XB_N_PI 13
#define XB_N_GENERIC 14
#define XB_N_PERMUTED 15 /* a static shape's items in another order (spec 8.5; stateless only) */
#define XB_N_LOCAL 16
#define XB_SHAPE_CACHE 32
#define XB_N_SHAPE (XB_N_LOCAL + XB_SHAPE_CACHE)
/* PERMUTED: shapes of XB_PERM_MIN .. XB_PERM_MAX items; the rank of the order
 * written (Lehmer code, first position most significant; 0 = the shape's own
 * order) minus 1, in xb_perm_bits(k) = bl(k! - 2) bits */
#define XB_PERM_MIN 2
#define XB_PERM_MAX 12

static inline uint64_t xb_factorial(unsigned k)
{
    uint64_t f = 1;
    while (k > 1)
        f *= k--;
    return f;
}

static inline unsigned xb_perm_bits(unsigned k)
{
    uint64_t v = xb_factorial(k) - 2;
    unsigned n = 0;
    while (v) {
        n++;
        v >>= 1;
    }
    return n;
}

/* the rank of order[0 .. k) (order[i]: the shape item written i-th; k <= XB_PERM_MAX) */
static inline uint64_t xb_perm_rank(const unsigned *order, unsigned k)
{
    uint32_t used = 0;
    uint64_t r = 0;
    unsigned i;
    for (i = 0; i + 1 < k; i++) {
        /* the position of order[i] among the items not yet written */
        unsigned below = 0, j;
        for (j = 0; j < order[i]; j++)
            below += !(used & (1u << j));
        used |= 1u << order[i];
        r = r * (k - i) + below;
    }
    return r;
}

/* xb_perm_rank's inverse for r < k! */
static inline void xb_perm_order(uint64_t r, unsigned k, unsigned *order)
{
    unsigned digit[XB_PERM_MAX], i, radix;
    uint32_t used = 0;
    for (radix = 2; radix <= k; radix++) { /* the last position's digit first */
        digit[k - radix] = (unsigned)(r % radix);
        r /= radix;
    }
    digit[k - 1] = 0;
    for (i = 0; i < k; i++) {
        unsigned j, left = digit[i];
        for (j = 0;; j++)
            if (!(used & (1u << j)) && left-- == 0)
                break;
        used |= 1u << j;
        order[i] = j;
    }
}

#define XB_NC_DOC 0
#define XB_NC_START 1
#define XB_NC_AFTER_WS 2
#define XB_NC_AFTER_ELEM 3
#define XB_NC_AFTER_OTHER 4
#define XB_NODE_CONTEXTS 5
/* node classes (spec 8.3): a class's tables cover the contexts START ..
 * AFTER_OTHER; local symbol 0 (XB_N_ESCAPE) or 1 + i, the i-th listed symbol */
#define XB_NODECLS_CONTEXTS (XB_NODE_CONTEXTS - 1)
#define XB_NODE_CLASS_SYMS 31
#define XB_N_ESCAPE 0
#define XB_NODECLS_MAX_LEN 8 /* the longest nodecls code (the dictionary checks it) */

#define XB_P_LITERAL 0
#define XB_NM_LITERAL 0
#define XB_NMC_ELEMENT 0
#define XB_NMC_ATTR 1
#define XB_NAME_CONTEXTS 2
#define XB_A_END 0
#define XB_A_XMLNS 1
#define XB_A_XMLNS_PREFIX 2
#define XB_A_PREFIXED 3
#define XB_A_LITERAL 4
#define XB_A_NAME 5
#define XB_NS_LITERAL 0

#define XB_V_LIT 0
#define XB_V_EMPTY 1
#define XB_V_INT 2
#define XB_V_UUID_L 3
#define XB_V_UUID_U 4
#define XB_V_HEX_L 5
#define XB_V_HEX_U 6
#define XB_V_B64 7
#define XB_V_JID_LD 8
#define XB_V_JID_DR 9
#define XB_V_JID_LDR 10
#define XB_V_REF 11
#define XB_REF_NEAR 16
#define XB_V_REF_FAR (XB_V_REF + XB_REF_NEAR)
#define XB_V_RECENT (XB_V_REF_FAR + 1) /* stream mode only: RECENT+0..7 and EXTEND */
#define XB_RECENT 8
#define XB_V_EXTEND (XB_V_RECENT + XB_RECENT)
#define XB_V_TOKEN (XB_V_EXTEND + 1)
/* copies of literal bytes (spec 8.11): char symbol XB_COPY (from the window
 * after the prior: distance - 1 in bl(that part - 1) bits), XB_COPY_STR or
 * XB_COPY_INNER (from the prior: the index of a string's start or of another
 * inner anchor), each after GAMMA(len - XB_COPY_MIN + 1) */
#define XB_COPY 1
#define XB_COPY_STR 2   /* a copy from the start of a prior string, by its index */
#define XB_COPY_INNER 3 /* a copy from another inner anchor of the prior, by its index */
/* whether char symbol b is one of the three copy symbols */
static inline int xb_is_copy(uint32_t b)
{
    return b >= XB_COPY && b <= XB_COPY_INNER;
}
#define XB_COPY_MIN 4
#define XB_COPY_CANDIDATES 16
/* the key of the prior's inner anchors (spec 8.11): an encoder looks a
 * literal's anchor after its first byte up by the 6 bytes from it, among the
 * last 4 inner anchors of the prior with that key */
#define XB_PRIOR_INNER_KEY 6
#define XB_PRIOR_INNER_CANDIDATES 4
/* the encoder searches copies of a stateless message's own literals only in
 * one with at least this many value bytes (spec 8.11; xb_encoder.vbytes); the
 * prior text is searched in every message, and every stream message is
 * searched in full (its literals join the session window) */
#define XB_COPY_MIN_MESSAGE 768

#define XB_VC_OTHER_ATTR 0
#define XB_VC_OTHER_TEXT 1
#define XB_VC_NSURI 2
#define XB_VC_NAME 3
#define XB_VC_JID_LOCAL 4
#define XB_VC_JID_DOMAIN 5
#define XB_VC_JID_RESOURCE 6
#define XB_VC_MISC 7
#define XB_VC_FIXED 8

/* literal byte contexts (spec 8.1, xmppbin/model.py CHAR_NEXT): 0 before the
 * first byte, 1 .. XB_ASCII_CONTEXTS after an ASCII byte (by its group,
 * model.py ASCII_GROUPS, and the class of the byte before it, ASCII_SPLITS),
 * then XB_CC_SCRIPT + i after a complete character whose lead byte is in
 * script range i (+ 16: after a byte that starts no UTF-8 character), + 17 + i
 * after a lead byte of lead range i, + 43 + i before the last byte of a 3-byte
 * character of mid range i, + 50 and + 51 before the third and fourth byte of
 * a 4-byte character; from XB_CC_OLD on, after a tracked byte, then after a
 * listed pair of bytes (dict.c char_next, from the generated dictionary's
 * XBD_V1_CHAR_TRACKED and XBD_V1_CHAR_PAIRS, whose counts dict.c checks). */
#define XB_ASCII_CONTEXTS 32
#define XB_CC_SCRIPT (1 + XB_ASCII_CONTEXTS)
#define XB_CC_OLD (XB_CC_SCRIPT + 52)
#define XB_CHAR_CONTEXTS 256
#define XB_HEX_MIN 6
#define XB_B64_MIN 8
#define XB_B64_LAYOUT_MIN 34 /* bytes: a B64 value this long has the wrapped bit (spec 8.6) */
#define XB_INT_MAX_BITS 64

#define XB_MAX_CODE_LENGTH 24
#define XB_MAX_GAMMA_BITS 32
#define XB_MAX_GAMMA 0xFFFFFFFFull /* the largest Elias-gamma value (6.2) */

/* lexical slot kinds (xmppbin/lexical.py) */
#define XB_SL_WSB 0
#define XB_SL_EQ 1
#define XB_SL_QUOTE 2
#define XB_SL_VAL 3
#define XB_SL_TAGEND 4
#define XB_SL_EMPTY 5
#define XB_SL_ENDWS 6
#define XB_SL_TVAL 7

/* ---- Huffman tables ------------------------------------------------------- */
/* Tables in the order of the dictionary's code-length file. */
enum { XB_T_NODE, XB_T_PREFIX, XB_T_NAME, XB_T_AITEM, XB_T_NS, XB_T_VALUE, XB_T_CHAR, XB_NTABLES };

/* First-level lookup on the next XB_LUT_BITS bits; longer codes fall back to
 * the canonical (first, count, offset) arrays. */
#define XB_LUT_BITS 10

typedef struct {
    /* (symbol << 4) | length for codes of length <= XB_LUT_BITS; 0 if the
     * next XB_LUT_BITS bits start no such code. */
    uint16_t lut[1u << XB_LUT_BITS];
    uint8_t maxlen;
    uint32_t nsym;
    uint32_t first[XB_MAX_CODE_LENGTH + 2];
    uint32_t count[XB_MAX_CODE_LENGTH + 2];
    uint32_t offset[XB_MAX_CODE_LENGTH + 2];
    const uint16_t *sorted; /* symbols ordered by (length, symbol) */
    const uint8_t *lengths; /* code length of every symbol */
} xb_hcode;

/* The bytes that a literal holding them must pass the UTF-8 / XML Char check
 * for (XB_CP_ODD): b >= 0x80 and every ASCII byte but letters, digits, space
 * and . / : - _ @ (a superset of the controls XML does not allow). b is 0 .. 255. */
static inline unsigned xb_byte_odd(unsigned b)
{
    if ((b | 0x20) >= 'a' && (b | 0x20) <= 'z')
        return 0;
    if (b >= '0' && b <= '9')
        return 0;
    return b >= 0x80 || !(b == ' ' || b == '.' || b == '/' || b == ':' || b == '-' || b == '_' || b == '@');
}

/* Entries of xb_dictionary.char_pairs, for the decoder's literal loop: the
 * char code of the context decoded from the next XB_CP_BITS bits, and when
 * the rest of those bits hold the whole code of the byte after it (in the
 * context after the first byte) that one too. 0 if the first code is
 * longer than XB_CP_BITS. Else b1 in bits 0 .. 7, b2 in 8 .. 15 (0 if none),
 * the bits both take (XB_CP_LEN), how many bytes of the string they are (0
 * if b1 is the terminator 0, 1 if b2 is or there is no b2, else 2), STOP if
 * the terminator is among them, ODD if a stored byte is xb_byte_odd, and
 * the context after the last byte (xb_char_next; 0 for a terminator). */
#define XB_CP_BITS 9 /* the bits a char_pairs lookup takes */
#define XB_CP_LEN(e) (((e) >> 16) & 15u) /* <= XB_CP_BITS */
#define XB_CP_NSTORE(e) (((e) >> 20) & 3u)
#define XB_CP_STOP (1u << 22)
#define XB_CP_ODD (1u << 23)
#define XB_CP_CLS(e) ((e) >> 24) /* 8 bits: XB_CHAR_CONTEXTS <= 256 */

/* Per-shape facts for the decoder, shape_info[i] for shapes[i]:
 * XB_SHAPE_PLAIN when the namespace checks (xmlscan.py:resolve_start) that
 * depend only on the shape pass (item qnames pairwise distinct, every xmlns /
 * xmlns:p item a namespace declaration whose URI may be bound to that prefix,
 * no other item with a ':' in its name but xml:x ones, element prefix not
 * "xmlns"); then the bits from XB_SHAPE_PFX_SHIFT on hold the length of the
 * element's prefix (0: none), the only thing left to check against the
 * bindings in scope.
 * XB_SHAPE_NS_CLEAN when no namespace URI of the shape has a byte that
 * escaping may replace (see XB_ESCAPABLE). */
/* xb_dictionary.name_flags: the name has a ':' / is "xmlns" */
#define XB_NAME_COLON 1u
#define XB_NAME_XMLNS 2u
#define XB_SHAPE_PLAIN 1u
#define XB_SHAPE_NS_CLEAN 2u
#define XB_SHAPE_PFX_SHIFT 2

/* the bytes that escape_text / escape_attr may replace */
#define XB_ESCAPABLE(c)                                                                                    \
    ((c) == '&' || (c) == '<' || (c) == '>' || (c) == '\r' || (c) == '\'' || (c) == '"' || (c) == '\t' ||     \
     (c) == '\n')

/* Readable bytes after the end of every string of the padded copies below
 * (for copies of up to that many bytes in one fixed-size move). */
#define XB_STR_PAD 32

/* The "element attribute" contexts of attr_contexts (spec 7.1, 8.5) of one
 * element qname: an attribute qname, its padded copy among pad_names (the
 * string the decoder has for a name coded by its token; NULL if it is no
 * name), so that it is recognized without comparing bytes, and its index in
 * attr_contexts; */
typedef struct {
    const char *p, *pad;
    size_t n;
    int ctx;
} xb_pattr;
/* and the element's slot in the dictionary's table of them (by xb_ctx_hash
 * of its qname): the hash, the qname and its padded copy, its pairs'
 * attributes (nattrs of them; 0: an empty slot). */
typedef struct {
    uint32_t h, nattrs;
    const char *p, *pad;
    size_t n;
    const xb_pattr *attrs;
} xb_pelem;

/* A dictionary with its decoding tables. */
typedef struct {
    int id;
    size_t nprefixes, nnames, nnamespaces, nvalues, nattr_contexts, ntext_contexts, nshapes;
    const xb_str *prefixes, *names, *namespaces, *values, *attr_contexts, *text_contexts;
    const uint16_t *attr_contexts_sorted, *text_contexts_sorted;
    const xb_key *shapes;
    /* codes[table] points to nctx[table] consecutive contexts */
    const xb_hcode *codes[XB_NTABLES];
    uint32_t nctx[XB_NTABLES];
    uint32_t nsym[XB_NTABLES];
    /* char_pairs[ctx][next XB_CP_BITS bits]: up to two literal bytes at once,
     * see XB_CP_* */
    const uint32_t (*char_pairs)[1u << XB_CP_BITS];
    const uint16_t *shape_info; /* nshapes entries, see XB_SHAPE_PLAIN */
    /* The same prefixes, names, namespaces, values and shapes (with their
     * items), their strings copied into one buffer so that XB_STR_PAD bytes
     * after the end of each can be read; for the decoder's output. The byte
     * before each pad_values string is 1 if it has no XB_ESCAPABLE byte. */
    const xb_str *pad_prefixes, *pad_names, *pad_namespaces, *pad_values;
    const xb_key *pad_shapes;
    /* hash tables of attr_contexts and text_contexts (index + 1, 0 = empty;
     * open addressing), for xb_context_index */
    const uint16_t *attr_ctx_tab, *text_ctx_tab;
    uint32_t attr_ctx_mask, text_ctx_mask;
    /* the "element attribute" entries of attr_contexts (spec 7.1, 8.5), by
     * element (npairs of them in all) */
    const xb_pelem *pair_tab;
    uint32_t pair_mask;
    size_t npairs;
    /* xb_pair_elem of each of names as an element's qname (nnames entries) */
    const xb_pelem *const *name_pairs;
    /* xb_context_index of each of names (nnames entries): as an attribute's
     * qname and as an element's, for a name coded by its token */
    const int16_t *name_attr_ctx, *name_text_ctx;
    /* XB_NAME_* of each of names: what the decoder asks of a name coded by
     * its token, answered once */
    const uint8_t *name_flags;
    /* node classes (spec 8.3): nnode_contexts qnames (class k = 1 + index),
     * each class's listed node symbols, their local symbols
     * (node_local[(k - 1) * nsym[XB_T_NODE] + symbol], 0: not listed), the
     * class tables (nodecls[(k - 1) * XB_NODECLS_CONTEXTS + context - 1], of
     * 1 + XB_NODE_CLASS_SYMS symbols), a hash table of the qnames like
     * text_ctx_tab, and the class of each of names as an element's qname */
    size_t nnode_contexts;
    const xb_str *node_contexts;
    const uint16_t *node_contexts_sorted;
    const uint16_t (*node_class_syms)[XB_NODE_CLASS_SYMS];
    const uint8_t *node_local;
    const xb_hcode *nodecls;
    /* nodecls_lut[table][next 8 bits] = (local symbol << 3) | (length - 1):
     * every code is at most XB_NODECLS_MAX_LEN bits and every code is complete */
    const uint8_t (*nodecls_lut)[1u << XB_NODECLS_MAX_LEN];
    const uint16_t *node_ctx_tab;
    uint32_t node_ctx_mask;
    const uint16_t *name_node_cls;
    /* The stream code set (spec 14.3; "stream." tables of the codes file), in
     * the same table order: node has 2 * XB_NODE_CONTEXTS contexts (without,
     * with a prediction) and one more symbol, PRED (stream_nsym[XB_T_NODE] - 1). */
    const xb_hcode *stream_codes[XB_NTABLES];
    uint32_t stream_nctx[XB_NTABLES];
    uint32_t stream_nsym[XB_NTABLES];
    const uint32_t (*stream_char_pairs)[1u << XB_CP_BITS]; /* char_pairs of the stream char table */
    /* the prior text of spec 8.11 (every copy window starts with it), with 16
     * readable bytes 0x00 after its end */
    const unsigned char *prior;
    size_t nprior;
    /* the prior's copy sources (spec 8.11), in increasing order: its strings'
     * starts and its kept inner anchors that start no string */
    const uint32_t *prior_starts, *prior_inner_list;
    size_t nprior_starts, nprior_inner;
} xb_dictionary;

/* Grow an array (realloc) to hold at least need elements of elsize bytes, the
 * capacity doubling from 16; *cap is updated on success. NULL on overflow or
 * when out of memory (the old array is then untouched). Shared by the codec. */
void *xb_grow(void *p, size_t *cap, size_t need, size_t elsize);

/* XML's whitespace (S): SP, TAB, CR, LF */
static inline int xb_xml_ws(unsigned c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* After an attribute's name at p[i]: [ws]* '=' [ws]* and an opening quote
 * ([ws]: xb_xml_ws). The index after the quote (the quote in *q), or 0
 * when they are not there (the stream headers' quick reading, csrc/frame.c,
 * and the XML declaration's pseudo-attributes, csrc/serialize.c). */
static inline size_t xb_eq_quote(const unsigned char *p, size_t n, size_t i, unsigned char *q)
{
    while (i < n && xb_xml_ws(p[i]))
        i++;
    if (i >= n || p[i] != '=')
        return 0;
    i++;
    while (i < n && xb_xml_ws(p[i]))
        i++;
    if (i >= n || (p[i] != '"' && p[i] != '\''))
        return 0;
    *q = p[i];
    return i + 1;
}

/* unaligned native-order loads (memcpy: no aliasing or alignment UB), for the
 * hashes and comparisons of the layers above */
static inline uint64_t xb_load64(const char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint32_t xb_load32(const char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* the length of the common prefix of a[0 .. n) and b[0 .. n), eight bytes a step */
static inline size_t xb_match_len(const char *a, const char *b, size_t n)
{
    size_t L = 0;
    while (n - L >= 8 && xb_load64(a + L) == xb_load64(b + L))
        L += 8;
    while (L < n && a[L] == b[L])
        L++;
    return L;
}

/* equality of two byte strings of length n (short ones without a call) */
static inline int xb_bytes_eq(const char *a, const char *b, size_t n)
{
    if (n <= 8) {
        if (n >= 4)
            return xb_load32(a) == xb_load32(b) && xb_load32(a + n - 4) == xb_load32(b + n - 4);
        if (n)
            return a[0] == b[0] && a[n >> 1] == b[n >> 1] && a[n - 1] == b[n - 1];
        return 1;
    }
    if (n <= 16)
        return xb_load64(a) == xb_load64(b) && xb_load64(a + n - 8) == xb_load64(b + n - 8);
    return memcmp(a, b, n) == 0;
}

/* xb_char_next[ctx][b]: the literal context after byte b coded in context ctx
 * (spec 8.1); filled by xb_dict_init. */
extern uint8_t xb_char_next[XB_CHAR_CONTEXTS][256];
/* xb_char_after2[a][b]: the literal context after ASCII bytes a b, whatever
 * came before them (xb_char_next[xb_char_next[0][a]][b]; filled with it) */
extern uint8_t xb_char_after2[128][128];

/* the literal context after the bytes p[0 .. n) coded from context ctx:
 * after a byte that is no UTF-8 continuation byte the context depends on that
 * byte and the one before it alone (spec 8.1's NEXT; the dictionary's init checks
 * the tables), so only the bytes from the last such byte on are stepped through */
static inline unsigned xb_char_ctx_from(const uint8_t *p, size_t n, unsigned ctx)
{
    size_t j = n, k = 0;
    while (j > 0 && (p[j - 1] & 0xC0) == 0x80)
        j--;
    if (j > 1) {
        ctx = xb_char_next[xb_char_next[0][p[j - 2]]][p[j - 1]]; /* p[j - 2] may be any byte */
        k = j;
    }
    for (; k < n; k++)
        ctx = xb_char_next[ctx][p[k]];
    return ctx;
}

/* the literal context after the bytes p[0 .. n) (0 if n is 0) */
static inline unsigned xb_char_ctx_after(const uint8_t *p, size_t n)
{
    return xb_char_ctx_from(p, n, 0);
}

/* Build the decoding tables (once per process; thread-safe). 0 on success. */
int xb_dict_init(void);
/* The dictionary with this id, or NULL (xb_dict_init must have succeeded). */
const xb_dictionary *xb_get_dictionary(int id);
/* xb_lookup in attr_contexts (text = 0) or text_contexts (text = 1), by hash. */
int xb_context_index(const xb_dictionary *d, int text, const char *s, size_t len);
/* a quick hash of a (short) qname, for the context tables: its length and
 * three of its bytes */
static inline uint32_t xb_ctx_hash(const char *s, size_t n)
{
    uint32_t h = (uint32_t)n;
    if (n) {
        const unsigned char *u = (const unsigned char *)s;
        h = h * 31u + u[0];
        h = h * 31u + u[n - 1];
        h = h * 31u + u[n / 2];
    }
    h *= 0x9E3779B1u;
    return h ^ (h >> 16);
}

/* the "element attribute" contexts of an element with qname e (spec 8.5),
 * NULL if it has none */
static inline const xb_pelem *xb_pair_elem(const xb_dictionary *d, const char *e, size_t en)
{
    uint32_t h, k;
    if (!d->npairs)
        return NULL;
    h = xb_ctx_hash(e, en);
    for (k = h & d->pair_mask;; k = (k + 1) & d->pair_mask) {
        const xb_pelem *pe = &d->pair_tab[k];
        if (!pe->nattrs)
            return NULL;
        if (pe->h == h && pe->n == en && (pe->pad == e || memcmp(pe->p, e, en) == 0))
            return pe;
    }
}

/* the attr_contexts index of the pair of pe's element and attribute qname a, or -1 */
static inline int xb_pair_find(const xb_pelem *pe, const char *a, size_t an)
{
    uint32_t i;
    for (i = 0; i < pe->nattrs; i++) {
        const xb_pattr *x = &pe->attrs[i];
        if (x->n == an && (x->pad == a || memcmp(x->p, a, an) == 0))
            return x->ctx;
    }
    return -1;
}

/* the attr_contexts index of the entry "e a" (element qname e, attribute qname a), or -1 */
int xb_pair_context(const xb_dictionary *d, const char *e, size_t en, const char *a, size_t an);
/* the node class of an element qname (spec 8.3): 1 + its index in the node contexts, 0 if none */
unsigned xb_node_class(const xb_dictionary *d, const char *s, size_t len);
/* The shape_info bits (XB_SHAPE_PLAIN ...) of any start-tag shape. */
uint16_t xb_shape_info(const xb_key *k);
/* Index of s in a string list through its sorted index array, or -1. */
/* the code of every symbol of canonical code h as (code << 5) | length, at
 * dst[symbol] (the encoders' form; symbols without a code are left alone) */
void xb_code_words(const xb_hcode *h, uint32_t *dst);
int xb_lookup(const xb_str *list, const uint16_t *sorted, size_t n, const char *s, size_t len);

/* return the error code of x (an int call) if it is not 0 */
#define TRY(x)                                                                                             \
    do {                                                                                                   \
        int rc_ = (x);                                                                                     \
        if (rc_)                                                                                           \
            return rc_;                                                                                    \
    } while (0)

#endif
