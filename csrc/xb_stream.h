/*
 * Internal definitions of the C stream mode (spec section 14.3): the state a
 * stream carries from one message to the next, shared by the coder
 * (csrc/encode.c) and the decoder (csrc/decode.c) in stream mode;
 * csrc/sstate.c holds its functions. The reference is xmppbin/encoder.py
 * (StreamState, _Coder in stream mode) and xmppbin/decoder.py (_Decoder with
 * stream=...); the frames themselves stay in Python (xmppbin/stream.py).
 *
 * Memory: the dynamic table is bounded by its budget (at most budget / 32
 * entries, each its UTF-8 bytes; its index 8 bytes per slot, at most 4 slots
 * per entry), the shape cache by XB_SHAPE_CACHE keys and
 * by max(budget, XB_SHAPE_BYTES_MIN) bytes (xb_sbound_shapes), the
 * recent values by XB_RECENT per value context (each one empty, a token or
 * equal to a live table entry, whose bytes it points to: no bytes of its
 * own); per message
 * buffers grow with the message and are reused (the encoder's above 64 KiB
 * released before the next message, the decoder's when they total more than
 * 256 KiB). xb_stream_footprint counts all of it (capacities).
 */
#ifndef XMPPBIN_XB_STREAM_H
#define XMPPBIN_XB_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "xb_dict.h"
#include "xmppbin.h"

/* the largest budget a state takes (table offsets are 32-bit; the format's
 * OPEN frame carries at most 3 varint bytes, 2**21 - 1) */
#define XB_STREAM_MAX_BUDGET (1u << 24)

/* a recent value: its bytes, its hash (xb_shash). The bytes are not the
 * list's own: a listed value is empty, a value token (p: the dictionary's
 * string, tok 1) or equal to a live table entry (spec 14.3's removal rule),
 * and then p points to the bytes of an equal entry in tbytes, which are not
 * overwritten before the next compaction of the table's strings; the
 * compaction (and a new buffer) points every listed value to its entry's new
 * place (recent_repoint). */
typedef struct {
    const char *p;
    uint64_t h;
    uint32_t n;
    int tok; /* a value token (recallable for good), from xb_srecallable */
} xb_sstr;

/* a dynamic table entry: its bytes at tbytes + off; seq orders the entries
 * (increasing from the oldest) and names the entry in the table's index */
typedef struct {
    uint32_t off, n;
    uint64_t h;
    uint32_t seq;
} xb_tent;

/* a node event (encoder.Entry): kind 0 none, 'S' start of the entry with
 * serial v, 'N' node symbol v */
typedef struct {
    uint8_t kind;
    uint32_t v;
} xb_pev;

/* prediction slots of a shape cache entry or of the document level; the
 * document's first and next hold the first node events of the previous
 * message and of the one before it */
typedef struct {
    uint32_t serial;
    xb_pev slot[4]; /* first, after, text, next */
} xb_pentry;

#define XB_PS_FIRST 0
#define XB_PS_AFTER 1
#define XB_PS_TEXT 2
#define XB_PS_NEXT 3 /* of a message's root: the next message's first event */
#define XB_SERIAL_DOC UINT32_MAX   /* the document level's slots */
#define XB_SERIAL_NONE (UINT32_MAX - 1) /* no slot (after the message's last END) */

/* encoder: a shape key of at most this many bytes is kept in its entry
 * (kin), a longer one in key (kcap bytes, kept for reuse): 95 % of the start
 * tags of the recorded session have keys this short, and a new stream then
 * fills its cache without an allocation per entry */
#define XB_SKEY_INLINE 48

/* a shape cache entry: the shape key, serialized (encode.c:skey), and
 * its prediction slots */
typedef struct {
    char *key; /* encoder: a key longer than XB_SKEY_INLINE (xb_scache_key) */
    size_t klen, kcap;
    uint64_t kh; /* encoder: the shape hash of the key (encode.c:shape_hash) */
    xb_pentry ent;
    const xb_key *dkey; /* decoder: the key, static or in dmem (owned) */
    void *dmem;
    size_t dsize; /* bytes at dmem */
    uint64_t cost; /* what it counts toward the cache's bound (xb_sbound_shapes) */
    uint16_t dinfo; /* its xb_shape_info bits */
    char kin[XB_SKEY_INLINE]; /* encoder: a key of at most XB_SKEY_INLINE bytes */
} xb_scache;

/* the encoder's serialized key of c (klen bytes) */
static inline const char *xb_scache_key(const xb_scache *c)
{
    return c->klen <= XB_SKEY_INLINE ? c->kin : c->key;
}

typedef struct {
    xb_sstr v[XB_RECENT];
    uint8_t n;
} xb_recent;

struct xb_stream {
    const xb_dictionary *d;
    uint32_t budget;
    int exact;
    /* the dynamic table, oldest first: index i (0 = newest) is tab[ntab - 1 - i];
     * the strings are appended to tbytes (2 * budget + 64 bytes) and, when it is
     * full, the live ones (at most budget bytes) are copied to a new buffer,
     * which becomes tbytes (the old one freed): no allocation per entry, one
     * per compaction (at least budget bytes of strings added since the last). tab points into tab_mem
     * (cap_tab records): evicting the oldest entries moves tab, and the live
     * records go back to the start of tab_mem when the end is reached. */
    xb_tent *tab, *tab_mem;
    size_t ntab, cap_tab;
    /* the table's index: open addressing (linear probing) over tidx_mask + 1
     * slots (0 or at least twice ntab), a live entry's slot holding
     * (uint32_t)h << 32 | seq (0: empty); seqs are renumbered 1.. ntab when
     * the records go back to the start of tab_mem or tseq would overflow */
    uint64_t *tidx;
    size_t tidx_mask;
    uint32_t tseq; /* the next entry's seq */
    uint64_t tsize;
    char *tbytes;
    size_t tcap, tused;
    /* the shape cache, front first, and node prediction: the entries live in
     * pool and cache[] orders them (a move to the front moves pointers);
     * cache[0 .. ncache) are the entries, the rest the free pool slots */
    xb_scache pool[XB_SHAPE_CACHE];
    xb_scache *cache[XB_SHAPE_CACHE];
    /* ctag[i]: the top byte of cache[i]->kh, side by side for the
     * encoder's lookup (all 32 compared at once; xb_scache_front keeps it) */
    uint8_t ctag[XB_SHAPE_CACHE];
    /* shint[serial % XB_SHINT]: the pool slot that last held that serial, a
     * hint checked against the slot's serial (a free or evicted slot has
     * XB_SERIAL_NONE, a reused one a new serial: serials are not reused) */
#define XB_SHINT 64
    uint8_t shint[XB_SHINT];
    uint64_t shape_bytes; /* the entries' costs (xb_sbound_shapes) */
    size_t ncache;
    uint32_t next_serial;
    xb_pentry doc;
    /* the serial of the previous message's root entry (its next slot
     * predicts a message's first node event), XB_SERIAL_NONE after a reset */
    uint32_t root_prev;
    /* the table index of the last REF_FAR (XB_REF_NEAR after a reset): the
     * next one is coded relative to it (spec 14.3, far references) */
    size_t last_far;
    /* recent values per value context: every one recallable (spec 14.3: a
     * value leaves every list when the table's last entry equal to it is
     * evicted or the table is emptied, unless it is empty or a token) */
    xb_recent *recent;
    size_t nvctx;
    /* the listed values that are not empty, by h & (XB_RLISTED - 1): an
     * eviction, or a value that may share the bytes of a listed one, looks in
     * the lists only when its string's count is not 0 */
#define XB_RLISTED 1024
    uint16_t rlisted[XB_RLISTED];
    /* exact mode: the style of the last message (int[6] as xb_enc_styles) */
    int style[6];
    /* the session window (spec 8.11, 14.3): bumped by every reset of the
     * state, so an encoder's window of an older session is not used; the
     * decoder's copy of the session's literal bytes, the last min(budget,
     * sess_n) of them the window (sess_cap = 2 * budget once allocated) */
    uint64_t gen;
    char *sess;
    size_t sess_n, sess_cap;

    /* ---- per message ---- */
    struct xb_encoder *enc; /* the scanner, and the events of the message */
    const uint32_t *secrets;
    size_t nsecrets, sec_pos;
    uint64_t ordinal;
    uint32_t pslot_serial; /* where the next node event is predicted */
    int pslot_field;       /* XB_PS_NEXT only before the message's first node event */
    uint32_t root_cur; /* the serial of the message's root entry */
    uint32_t *open; /* serials of the open elements' entries */
    size_t nopen, cap_open;
    char *kbuf; /* the shape key being built */
    size_t kbuf_n, kbuf_cap;
    xb_encode_result *eres;

    /* ---- decoder (csrc/decode.c in stream mode) ---- */
    void *dec;           /* its xb_dec, kept between messages */
    uint64_t *dsec;      /* the never-indexed ordinals of the message */
    size_t ndsec, cap_dsec;
    /* the hash of the value value1_sym (decode.c) last read with a state
     * (a reference, RECENT, or one it added to the table), known there: for
     * stream_value's remember, if its bytes are still (vh_p, vh_n) */
    const char *vh_p;
    size_t vh_n;
    uint64_t vh;
    void **dead;         /* shape keys (dmem) evicted during the message, freed after it */
    size_t ndead, cap_dead;
};

/* the shape cache entry slot (s->cache[i], or the slot a new entry takes at
 * i = ncache) to the front, the i entries before it one place back (spec
 * 14.3's move to front, for the encoder and the decoder) */
static inline void xb_scache_front(xb_stream *s, size_t i, xb_scache *slot)
{
    switch (i) { /* (a few places by hand: no library call) */
    case 3:
        s->cache[3] = s->cache[2];
        s->ctag[3] = s->ctag[2];
        /* fall through */
    case 2:
        s->cache[2] = s->cache[1];
        s->ctag[2] = s->ctag[1];
        /* fall through */
    case 1:
        s->cache[1] = s->cache[0];
        s->ctag[1] = s->ctag[0];
        /* fall through */
    case 0:
        break;
    default:
        memmove(s->ctag + 1, s->ctag, i);
        memmove(s->cache + 1, s->cache, i * sizeof(s->cache[0]));
    }
    s->cache[0] = slot;
    s->ctag[0] = (uint8_t)(slot->kh >> 56);
}

/* the bytes of table entry e */
static inline const char *xb_stab_bytes(const xb_stream *s, const xb_tent *e)
{
    return s->tbytes + e->off;
}

/* ---- csrc/sstate.c: the static stream tables (built once, xb_stream_tables) ---- */
/* string -> index maps (open addressing, index + 1, 0 empty) */
typedef struct {
    uint32_t *slot;
    uint32_t mask;
    const xb_str *list;
} xb_smap;

extern const xb_dictionary *xb_sdict;
extern uint32_t *xb_scode[XB_NTABLES]; /* (code << 5) | length: xb_scode[t][ctx * nsym + s] */
extern uint32_t xb_snsym[XB_NTABLES];
extern uint32_t xb_sn_pred; /* the node symbol PRED */
extern const uint8_t (*const xb_sclen)[256]; /* lengths of the char codes: xb_sclen[ctx][byte] */
extern xb_smap xb_value_map; /* the value tokens (xb_srecallable) */
/* 0 when the tables are built (once per process), else nonzero */
int xb_stream_tables(void);
/* index of p[0 .. n) (hash xb_shash) in m, or -1 */
int xb_smap_get(const xb_smap *m, const char *p, size_t n, uint64_t h);

/* ---- csrc/sstate.c: the state, for the stream encoder and the decoder ---- */
void xb_sstate_clear(xb_stream *s);
void xb_sstate_bury(xb_stream *s);
/* the shape cache's bytes are bounded by max(budget, XB_SHAPE_BYTES_MIN) (spec 14.3) */
#define XB_SHAPE_BYTES_MIN 4096u
int xb_sbound_shapes(xb_stream *s);
uint64_t xb_shash(const char *p, size_t n);
void xb_stab_clear(xb_stream *s);
long xb_stab_find(const xb_stream *s, const char *p, size_t n, uint64_t h);
int xb_stab_use(xb_stream *s, size_t i);
int xb_stab_add(xb_stream *s, const char *p, size_t n, uint64_t h);
/* recallable (spec 14.3): 2 a value token, 1 a live table entry, 0 neither */
int xb_srecallable(const xb_stream *s, const char *p, size_t n, uint64_t h);
/* rec: recallable, as xb_srecallable gives it (2: a token), or -1 to find
 * out here; at: the index of the value in its context's list, -1 when it is
 * not there, -2 to look */
int xb_sremember(xb_stream *s, unsigned vctx, const char *p, size_t n, uint64_t h, int rec, int at);
long xb_scache_index(const xb_stream *s, uint32_t serial);
/* the slots of the cache entry with that serial (or of the document level),
 * NULL if it is not in the cache */
xb_pentry *xb_sentry_slow(xb_stream *s, uint32_t serial);
/* model.int_value: 1 and *v if p[0 .. n) is a canonical decimal below 2**64 */
static inline int xb_int_value(const char *p, size_t n, uint64_t *v)
{
    uint64_t x = 0;
    size_t i;
    if (n == 0 || n > 20)
        return 0;
    if (p[0] == '0') {
        *v = 0;
        return n == 1;
    }
    for (i = 0; i < n; i++) {
        unsigned d = (unsigned)(uint8_t)p[i] - '0';
        if (d > 9)
            return 0;
        if (x > (UINT64_MAX - d) / 10)
            return 0;
        x = x * 10 + d;
    }
    *v = x;
    return 1;
}

/* encoder.int_base (spec 14.3, Relative integers): 1 and *v if the most
 * recent value of the context vctx is a canonical decimal integer (an INT
 * coded in that context then has the relative bit), else 0 */
static inline int xb_sint_base(const xb_stream *s, unsigned vctx, uint64_t *v)
{
    const xb_recent *r = &s->recent[vctx];
    return r->n && xb_int_value(r->v[0].p, r->v[0].n, v);
}

/* the GAMMA value of a REF_FAR to table index i (>= XB_REF_NEAR): the zigzag
 * of i - last_far, plus 1 (spec 14.3, far references) */
static inline uint64_t xb_sfar_gamma(const xb_stream *s, size_t i)
{
    return i >= s->last_far ? 2 * (uint64_t)(i - s->last_far) + 1 : 2 * (uint64_t)(s->last_far - i);
}

static inline xb_pentry *xb_sentry_of(xb_stream *s, uint32_t serial)
{
    xb_scache *c;
    if (serial == XB_SERIAL_DOC)
        return &s->doc;
    c = &s->pool[s->shint[serial % XB_SHINT]];
    if (c->ent.serial == serial && serial != XB_SERIAL_NONE)
        return &c->ent;
    return xb_sentry_slow(s, serial);
}

/* the live prediction of the current slot, or kind 0 */
static inline xb_pev xb_sprediction(xb_stream *s)
{
    xb_pev none = {0, 0};
    xb_pentry *e;
    if (s->pslot_serial == XB_SERIAL_NONE)
        return none;
    e = xb_sentry_of(s, s->pslot_serial);
    if (!e)
        return none;
    if (e->slot[s->pslot_field].kind == 'S' && !xb_sentry_of(s, e->slot[s->pslot_field].v))
        return none;
    return e->slot[s->pslot_field];
}

/* the live prediction of slot field of e (NULL: none), or kind 0 */
static inline xb_pev xb_sprediction_at(xb_stream *s, const xb_pentry *e, int field)
{
    xb_pev none = {0, 0};
    if (!e || (e->slot[field].kind == 'S' && !xb_sentry_of(s, e->slot[field].v)))
        return none;
    return e->slot[field];
}

/* a message starts (StreamState.start_slot): its first node event is
 * predicted by the previous root entry's next slot if the entry is still in
 * the cache and the slot's prediction is live, else by the document's next */
static inline void xb_sstart_slot(xb_stream *s)
{
    xb_pentry *r = s->root_prev == XB_SERIAL_NONE ? NULL : xb_sentry_of(s, s->root_prev);
    if (r && xb_sprediction_at(s, r, XB_PS_NEXT).kind)
        s->pslot_serial = s->root_prev;
    else
        s->pslot_serial = XB_SERIAL_DOC;
    s->pslot_field = XB_PS_NEXT;
    s->root_cur = XB_SERIAL_NONE;
}

/* the message's first node event (StreamState.learn_first): the previous
 * root entry's next slot (if it is still in the cache) and the document's
 * two slots learn it */
static inline void xb_slearn_first(xb_stream *s, uint8_t kind, uint32_t v)
{
    xb_pentry *r = s->root_prev == XB_SERIAL_NONE ? NULL : xb_sentry_of(s, s->root_prev);
    if (r) {
        r->slot[XB_PS_NEXT].kind = kind;
        r->slot[XB_PS_NEXT].v = v;
    }
    s->root_prev = XB_SERIAL_NONE;
    s->doc.slot[XB_PS_NEXT] = s->doc.slot[XB_PS_FIRST];
    s->doc.slot[XB_PS_FIRST].kind = kind;
    s->doc.slot[XB_PS_FIRST].v = v;
}

/* learn: event becomes the current slot's prediction; (serial, field) is next */
static inline void xb_slearn(xb_stream *s, uint8_t kind, uint32_t v, uint32_t nserial, int nfield)
{
    if (s->pslot_field == XB_PS_NEXT) { /* the message's first node event */
        xb_slearn_first(s, kind, v);
    } else if (s->pslot_serial != XB_SERIAL_NONE) {
        xb_pentry *e = xb_sentry_of(s, s->pslot_serial);
        if (e) {
            e->slot[s->pslot_field].kind = kind;
            e->slot[s->pslot_field].v = v;
        }
    }
    s->pslot_serial = nserial;
    s->pslot_field = nfield;
}
/* the bytes of the state itself (xb_stream and what it owns, without the
 * encoder's and the decoder's per-message buffers) */
size_t xb_sstate_footprint(const xb_stream *s);
/* xb_stream_decode of a message body (not the root's start) whose output may
 * be lent: with *lent 1, res->data (not to be freed) stays valid until the
 * next call with s, xb_stream_dec_release or xb_stream_free (no copy, no
 * allocation per message: csrc/frame.c's feed loop); with *lent 0 it is a copy
 * to xb_free, as xb_stream_decode's (a large message, whose buffers the
 * state does not keep) */
int xb_stream_decode_lend(xb_stream *s, const char *body, size_t size, const xb_decode_options *opt, xb_result *res,
                          int *lent);
/* the decoder's part (csrc/decode.c): its xb_dec released; the bytes it holds */
void xb_stream_dec_release(xb_stream *s);
size_t xb_stream_dec_footprint(const xb_stream *s);

#endif
