/*
 * Stream mode (spec section 14.3) in the C core: the public stream API
 * (xb_stream_new / reset / free / encode; xb_stream_decode is the decoder's,
 * csrc/decode.c) and the coding of one stream message body, bit for bit
 * that of the reference (xmppbin/encoder.py: StreamState, _Coder with a
 * state, encode_events, encode_lexical). Framing, splitting and the
 * never-indexed ordinals stay in Python (xmppbin/stream.py, _cstream.py).
 *
 * The state itself (dynamic table, recent values, prediction) is csrc/sstate.c.
 * The unit is scanned by the C scanner (csrc/scan.c) into an xb_encoder the
 * state owns; the coding here is deliberately plain (linear searches over
 * the at most budget / 32 table entries and 32 cache entries), mirroring the
 * reference function by function.
 */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdlib.h>
#include <string.h>

#include "xb_enc.h"
#include "xb_stream.h"
#include "xmppbin.h"


#define NCODE(c) (xb_scode[XB_T_NODE] + (size_t)(c)*xb_snsym[XB_T_NODE])
#define VCODE(c) (xb_scode[XB_T_VALUE] + (size_t)(c)*xb_snsym[XB_T_VALUE])
#define CCODE(c) (xb_scode[XB_T_CHAR] + (size_t)(c)*256u)
#define LEN(code, s) ((code)[s] & 31u)

/* ================================================================================== */
/* ---- encoder ---------------------------------------------------------------------- */
/* ================================================================================== */
/* the bit writer is the encoder's (csrc/encode.c), over the output of s->enc */
static inline void put(xb_stream *s, uint32_t v, unsigned n)
{
    xb_enc_put(s->enc, v, n);
}

static inline void gamma_code(xb_stream *s, uint64_t n)
{
    xb_enc_gamma(s->enc, n);
}

static inline void sym(xb_stream *s, const uint32_t *code, uint32_t v)
{
    xb_enc_sym(s->enc, code, v);
}

#define gamma_length xb_gamma_length

/* the value choice: a packed form or LIT (xb_enc_forms), JID, EXTEND */
typedef struct {
    xb_vform f; /* f.sym: the chosen symbol */
    unsigned k, L; /* EXTEND */
} choice;

/* _quick: (symbol, extra) or sym -1; extra -1: none */
static void quick(xb_stream *s, const char *p, size_t n, uint64_t h, unsigned vctx, int secret, int recall, int *qs,
                  int64_t *extra)
{
    long i = -1;
    int t;
    *extra = -1;
    if (!n) {
        *qs = XB_V_EMPTY;
        return;
    }
    if (!secret) {
        if (recall) {
            xb_recent *r = &s->recent[vctx];
            size_t j;
            for (j = 0; j < r->n; j++)
                if (r->v[j].h == h && r->v[j].n == n && memcmp(r->v[j].p, p, n) == 0)
                    break;
            if (j < r->n && xb_srecallable(s, p, n, h)) {
                *qs = XB_V_RECENT + (int)j;
                return;
            }
        }
        i = xb_stab_find(s, p, n, h);
    }
    if (i >= 0) {
        if (i < XB_REF_NEAR) {
            *qs = XB_V_REF + (int)i;
        } else {
            *qs = XB_V_REF_FAR;
            *extra = i - XB_REF_NEAR + 1;
        }
        return;
    }
    t = xb_smap_get(&xb_value_map, p, n, h);
    if (t >= 0) {
        *qs = XB_V_TOKEN + t;
        return;
    }
    *qs = -1;
}

static void choose(xb_stream *s, const char *p, size_t n, unsigned vctx, int secret, int recall, choice *ch);

static uint64_t est(xb_stream *s, xb_str v, unsigned vctx, int secret)
{
    int qs;
    int64_t extra;
    const uint32_t *code = VCODE(vctx);
    choice ch;
    quick(s, v.p, v.n, xb_shash(v.p, v.n), vctx, secret, 0, &qs, &extra);
    if (qs >= 0)
        return LEN(code, qs) + (extra >= 0 ? gamma_length((uint64_t)extra) : 0);
    choose(s, v.p, v.n, vctx, secret, 0, &ch);
    return ch.f.cost;
}

/* _extend: the cheapest EXTEND (cost without the symbol); 0 if none */
static int extend(xb_stream *s, const char *p, size_t n, unsigned vctx, uint64_t *cost, unsigned *bk, unsigned *bL)
{
    xb_recent *r = &s->recent[vctx];
    const uint8_t *sb = (const uint8_t *)p;
    int found = 0;
    size_t k;
    for (k = 0; k < r->n; k++) {
        const xb_sstr *src = &r->v[k];
        size_t m, L = 0;
        uint64_t c;
        if (!src->n || !xb_srecallable(s, src->p, src->n, src->h))
            continue;
        m = src->n < n ? src->n : n;
        while (L < m && (uint8_t)src->p[L] == sb[L])
            L++;
        while (L > 0 && L < n && (sb[L] & 0xC0) == 0x80)
            L--;
        if (!L)
            continue;
        c = 3 + gamma_length(L) + xb_enc_chars_cost(xb_sclen, sb + L, n - L, sb[L - 1]);
        if (!found || c < *cost) {
            *cost = c;
            *bk = (unsigned)k;
            *bL = (unsigned)L;
            found = 1;
        }
    }
    return found;
}

static void choose(xb_stream *s, const char *p, size_t n, unsigned vctx, int secret, int recall, choice *ch)
{
    const uint32_t *code = VCODE(vctx);
    xb_str v;
    v.p = p;
    v.n = n;
    xb_enc_forms(v, vctx, code, xb_sclen, &ch->f);
    if (ch->f.jid.sym >= 0) {
        const xb_jid *j = &ch->f.jid;
        uint64_t c = LEN(code, j->sym) + est(s, j->domain, XB_VC_JID_DOMAIN, secret);
        if (j->has_local)
            c += est(s, j->local, XB_VC_JID_LOCAL, secret);
        if (j->has_res)
            c += est(s, j->res, XB_VC_JID_RESOURCE, secret);
        if (c < ch->f.cost) {
            ch->f.sym = j->sym;
            ch->f.cost = c;
        }
    }
    if (recall && !secret) {
        uint64_t xc = 0;
        unsigned xk = 0, xL = 0;
        if (extend(s, p, n, vctx, &xc, &xk, &xL) && LEN(code, XB_V_EXTEND) + xc < ch->f.cost) {
            ch->f.sym = XB_V_EXTEND;
            ch->f.cost = LEN(code, XB_V_EXTEND) + xc;
            ch->k = xk;
            ch->L = xL;
        }
    }
}

static void value(xb_stream *s, xb_str v, unsigned vctx, int secret, int recall);

/* _value */
static void value1(xb_stream *s, const char *p, size_t n, uint64_t h, unsigned vctx, int secret, int recall)
{
    const uint32_t *code = VCODE(vctx);
    int qs;
    int64_t extra;
    choice ch;
    quick(s, p, n, h, vctx, secret, recall, &qs, &extra);
    if (qs >= 0) {
        sym(s, code, (uint32_t)qs);
        if (extra >= 0)
            gamma_code(s, (uint64_t)extra);
        if (qs >= XB_V_REF && qs <= XB_V_REF_FAR)
            xb_stab_use(s, extra < 0 ? (size_t)(qs - XB_V_REF) : (size_t)extra + XB_REF_NEAR - 1);
        return;
    }
    choose(s, p, n, vctx, secret, recall, &ch);
    sym(s, code, (uint32_t)ch.f.sym);
    switch (ch.f.sym) {
    case XB_V_LIT:
        xb_enc_chars(s->enc, CCODE(0), (const uint8_t *)p, n, -1);
        break;
    case XB_V_EXTEND:
        put(s, ch.k, 3);
        gamma_code(s, ch.L);
        xb_enc_chars(s->enc, CCODE(0), (const uint8_t *)p + ch.L, n - ch.L, (uint8_t)p[ch.L - 1]);
        break;
    case XB_V_INT:
    case XB_V_UUID_L:
    case XB_V_UUID_U:
    case XB_V_HEX_L:
    case XB_V_HEX_U:
    case XB_V_B64: {
        xb_str v;
        v.p = p;
        v.n = n;
        xb_enc_put_form(s->enc, v, &ch.f);
        break;
    }
    default: /* JID */
        if (ch.f.jid.has_local)
            value(s, ch.f.jid.local, XB_VC_JID_LOCAL, secret, 0);
        value(s, ch.f.jid.domain, XB_VC_JID_DOMAIN, secret, 0);
        if (ch.f.jid.has_res)
            value(s, ch.f.jid.res, XB_VC_JID_RESOURCE, secret, 0);
        break;
    }
    if (!secret && xb_stab_add(s, p, n, h))
        s->oom = 1;
}

/* _Coder.value */
static void value(xb_stream *s, xb_str v, unsigned vctx, int secret, int recall)
{
    uint64_t h = xb_shash(v.p, v.n);
    value1(s, v.p, v.n, h, vctx, secret, recall);
    if (recall && !secret) {
        int rec = !v.n || xb_srecallable(s, v.p, v.n, h);
        if (xb_sremember(s, vctx, v.p, v.n, h, rec))
            s->oom = 1;
    }
}

static int is_secret(xb_stream *s)
{
    int r = 0;
    while (s->sec_pos < s->nsecrets && s->secrets[s->sec_pos] < s->ordinal)
        s->sec_pos++;
    if (s->sec_pos < s->nsecrets && s->secrets[s->sec_pos] == s->ordinal)
        r = 1;
    s->ordinal++;
    return r;
}

/* ---- names and start tags ---- */
static const xb_str EMPTY_S = {"", 0};

static xb_str sub(xb_str v, size_t a, size_t b)
{
    xb_str r;
    r.p = v.p + a;
    r.n = b - a;
    return r;
}

static void code_prefix(xb_stream *s, xb_str p)
{
    int i = xb_smap_get(&xb_prefix_map, p.p, p.n, xb_shash(p.p, p.n));
    if (i < 0) {
        sym(s, xb_scode[XB_T_PREFIX], XB_P_LITERAL);
        value(s, p, XB_VC_NAME, 0, 0);
    } else {
        sym(s, xb_scode[XB_T_PREFIX], (uint32_t)(1 + i));
    }
}

static void code_name(xb_stream *s, xb_str nm, unsigned ctx)
{
    int i = xb_smap_get(&xb_name_map, nm.p, nm.n, xb_shash(nm.p, nm.n));
    const uint32_t *code = xb_scode[XB_T_NAME] + (size_t)ctx * xb_snsym[XB_T_NAME];
    if (i < 0) {
        sym(s, code, XB_NM_LITERAL);
        value(s, nm, XB_VC_NAME, 0, 0);
    } else {
        sym(s, code, (uint32_t)(1 + i));
    }
}

static void code_ns(xb_stream *s, xb_str u)
{
    int i = xb_smap_get(&xb_ns_map, u.p, u.n, xb_shash(u.p, u.n));
    if (i < 0) {
        sym(s, xb_scode[XB_T_NS], XB_NS_LITERAL);
        value(s, u, XB_VC_NSURI, 0, 0);
    } else {
        sym(s, xb_scode[XB_T_NS], (uint32_t)(1 + i));
    }
}

static void generic_start(xb_stream *s, const xb_event *ev)
{
    const xb_encoder *e = s->enc;
    const xb_eitem *it = e->items + ev->first;
    const uint32_t *acode = xb_scode[XB_T_AITEM];
    uint32_t k;
    if (ev->colon >= 0) {
        code_prefix(s, sub(ev->name, 0, (size_t)ev->colon));
        code_name(s, sub(ev->name, (size_t)ev->colon + 1, ev->name.n), XB_NMC_ELEMENT);
    } else {
        code_prefix(s, EMPTY_S);
        code_name(s, ev->name, XB_NMC_ELEMENT);
    }
    for (k = 0; k < ev->nitems; k++) {
        xb_str a = it[k].qname;
        if (it[k].is_ns) {
            if (a.n > 5) {
                sym(s, acode, XB_A_XMLNS_PREFIX);
                code_prefix(s, sub(a, 6, a.n));
            } else {
                sym(s, acode, XB_A_XMLNS);
            }
            code_ns(s, it[k].value);
        } else if (it[k].colon >= 0) {
            sym(s, acode, XB_A_PREFIXED);
            code_prefix(s, sub(a, 0, (size_t)it[k].colon));
            code_name(s, sub(a, (size_t)it[k].colon + 1, a.n), XB_NMC_ATTR);
        } else {
            int i = xb_smap_get(&xb_name_map, a.p, a.n, xb_shash(a.p, a.n));
            if (i < 0) {
                sym(s, acode, XB_A_LITERAL);
                value(s, a, XB_VC_NAME, 0, 0);
            } else {
                sym(s, acode, (uint32_t)(XB_A_NAME + i));
            }
        }
    }
    sym(s, acode, XB_A_END);
}

/* the serialized shape key of a start tag into s->kbuf; -1 out of memory */
static int key_of_event(xb_stream *s, const xb_event *ev)
{
    const xb_eitem *it = s->enc->items + ev->first;
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

/* node(): code node symbol v in node context c; ev_kind/ev_v the event (kind 0: not predictable) */
static void node(xb_stream *s, unsigned c, uint32_t v, uint8_t ev_kind, uint32_t ev_v)
{
    xb_pev p = xb_sprediction(s);
    if (!p.kind)
        sym(s, NCODE(c), v);
    else
        sym(s, NCODE(c + XB_NODE_CONTEXTS), (p.kind == ev_kind && p.v == ev_v) ? xb_sn_pred : v);
}

/* _Coder.other */
static int other(xb_stream *s, unsigned c, uint32_t v)
{
    node(s, c, v, 'N', v);
    if (v == XB_N_END) {
        if (s->nopen) {
            uint32_t ser = s->open[--s->nopen];
            xb_slearn(s, 'N', v, ser, XB_PS_AFTER);
        } else {
            xb_slearn(s, 'N', v, XB_SERIAL_NONE, 0);
        }
    } else {
        xb_slearn(s, 'N', v, s->nopen ? s->open[s->nopen - 1] : XB_SERIAL_DOC, XB_PS_TEXT);
    }
    return 0;
}

/* _Coder.start; -1 out of memory */
static int start(xb_stream *s, unsigned c, const xb_event *ev)
{
    const xb_eitem *it = s->enc->items + ev->first;
    uint64_t kh;
    size_t i, n = s->ncache;
    uint32_t k, serial;
    xb_scache slot;
    if (key_of_event(s, ev))
        return -1;
    kh = xb_shash(s->kbuf, s->kbuf_n);
    for (i = 0; i < n; i++)
        if (s->cache[i].kh == kh && s->cache[i].klen == s->kbuf_n && memcmp(s->cache[i].key, s->kbuf, s->kbuf_n) == 0)
            break;
    if (i < n) {
        serial = s->cache[i].ent.serial;
        node(s, c, (uint32_t)(XB_N_LOCAL + i), 'S', serial);
        slot = s->cache[i];
        memmove(&s->cache[1], &s->cache[0], i * sizeof(s->cache[0]));
        s->cache[0] = slot;
    } else {
        int j = xb_smap_get(&xb_shape_map, s->kbuf, s->kbuf_n, kh);
        if (j >= 0) {
            node(s, c, (uint32_t)(XB_N_SHAPE + j), 0, 0);
        } else {
            node(s, c, XB_N_GENERIC, 0, 0);
            generic_start(s, ev);
        }
        if (n == XB_SHAPE_CACHE) {
            slot = s->cache[n - 1]; /* evicted: its key buffer is reused */
            n--;
        } else {
            memset(&slot, 0, sizeof(slot));
        }
        if (s->kbuf_n > slot.kcap) {
            void *np = xb_grow(slot.key, &slot.kcap, s->kbuf_n, 1);
            if (!np) {
                free(slot.key);
                if (n < s->ncache) /* the evicted entry's buffer is gone */
                    s->ncache = n;
                return -1;
            }
            slot.key = np;
        }
        memcpy(slot.key, s->kbuf, s->kbuf_n);
        slot.klen = s->kbuf_n;
        slot.kh = kh;
        memset(&slot.ent, 0, sizeof(slot.ent));
        slot.ent.serial = serial = s->next_serial++;
        memmove(&s->cache[1], &s->cache[0], n * sizeof(s->cache[0]));
        s->cache[0] = slot;
        s->ncache = n + 1;
    }
    xb_slearn(s, 'S', serial, serial, XB_PS_FIRST);
    if (s->nopen + 1 > s->cap_open) {
        void *np = xb_grow(s->open, &s->cap_open, s->nopen + 1, sizeof(*s->open));
        if (!np)
            return -1;
        s->open = np;
    }
    s->open[s->nopen++] = serial;
    for (k = 0; k < ev->nitems; k++) {
        int ac;
        if (it[k].is_ns)
            continue;
        ac = xb_context_index(s->d, 0, it[k].qname.p, it[k].qname.n);
        value(s, it[k].value, ac < 0 ? XB_VC_OTHER_ATTR : (unsigned)(XB_VC_FIXED + ac), is_secret(s), 1);
    }
    return 0;
}

static unsigned text_ctx(xb_stream *s, size_t depth)
{
    int c;
    xb_str nm;
    if (!depth)
        return XB_VC_OTHER_TEXT;
    nm = s->enc->ev[s->names[depth - 1]].name;
    c = xb_context_index(s->d, 1, nm.p, nm.n);
    return c < 0 ? XB_VC_OTHER_TEXT : (unsigned)(XB_VC_FIXED + s->d->nattr_contexts + (size_t)c);
}

static int str_eq(xb_str a, xb_str b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

/* _Coder.text: 1 if whitespace-only, -1 out of memory */
static int text(xb_stream *s, unsigned c, const xb_event *ev, size_t depth)
{
    xb_str v = ev->value;
    int secret = depth ? is_secret(s) : 0;
    if (ev->wsonly) {
        xb_str *ws;
        if (depth + 1 > s->cap_ws) {
            void *np = xb_grow(s->ws, &s->cap_ws, depth + 1, sizeof(*s->ws));
            if (!np)
                return -1;
            s->ws = np;
        }
        while (s->nws < depth + 1) {
            s->ws[s->nws].p = NULL;
            s->ws[s->nws].n = 0;
            s->nws++;
        }
        ws = s->ws;
        if (ws[depth].p && str_eq(v, ws[depth])) {
            other(s, c, XB_N_WS_SAME);
        } else if (depth >= 1 && ws[depth - 1].p && str_eq(v, ws[depth - 1])) {
            other(s, c, XB_N_WS_PARENT);
        } else if (depth >= 1 && ws[depth - 1].p && v.n > ws[depth - 1].n && v.n - ws[depth - 1].n <= XB_WS_DEEPER_MAX &&
                   memcmp(v.p, ws[depth - 1].p, ws[depth - 1].n) == 0) {
            size_t i;
            for (i = ws[depth - 1].n; i < v.n && v.p[i] == ' '; i++)
                ;
            if (i == v.n) {
                other(s, c, (uint32_t)(XB_N_WS_DEEPER + v.n - ws[depth - 1].n - 1));
            } else {
                other(s, c, XB_N_TEXT);
                value(s, v, text_ctx(s, depth), secret, depth > 0);
            }
        } else {
            other(s, c, XB_N_TEXT);
            value(s, v, text_ctx(s, depth), secret, depth > 0);
        }
        ws[depth] = v;
        return 1;
    }
    other(s, c, XB_N_TEXT);
    value(s, v, text_ctx(s, depth), secret, depth > 0);
    return 0;
}

/* ---- exact mode ---- */
typedef struct {
    xb_stream *s;
    int64_t prev;
} devw;

static void dev_emit(void *ctx, uint64_t slot, const xb_str *payload)
{
    devw *w = ctx;
    gamma_code(w->s, (uint64_t)((int64_t)slot - w->prev));
    w->prev = (int64_t)slot;
    if (payload)
        value(w->s, *payload, XB_VC_MISC, 0, 0);
}

static void encode_lexical(xb_stream *s)
{
    int best[6], *st;
    uint64_t nbest, nprev, ndev;
    devw w;
    xb_enc_styles(s->enc, s->style, best, &nbest, &nprev);
    if (memcmp(best, s->style, sizeof(best)) == 0 || nprev <= nbest) {
        put(s, 1, 1);
        ndev = nprev;
    } else {
        put(s, 0, 1);
        memcpy(s->style, best, sizeof(best));
        put(s, (uint32_t)best[0], 1);
        put(s, (uint32_t)best[1], 2);
        put(s, (uint32_t)best[2], 1);
        put(s, (uint32_t)best[3], 1);
        put(s, (uint32_t)best[4], 1);
        put(s, (uint32_t)best[5], 1);
        ndev = nbest;
    }
    st = s->style;
    if (s->enc->prolog.n) {
        put(s, 1, 1);
        value(s, s->enc->prolog, XB_VC_MISC, 0, 0);
    } else {
        put(s, 0, 1);
    }
    gamma_code(s, ndev + 1);
    w.s = s;
    w.prev = -1;
    xb_enc_deviations(s->enc, st, dev_emit, &w);
}

/* encoder.encode_events with the stream state */
static int encode_events(xb_stream *s)
{
    xb_encoder *e = s->enc;
    size_t k, depth = 0, i, nsec = 0;
    static const xb_str NL = {"\n", 1};
    /* the never-indexed list: distinct ordinals, increasing */
    for (i = 0; i < s->nsecrets; i++)
        if (!i || s->secrets[i] != s->secrets[i - 1])
            nsec++;
    gamma_code(s, nsec + 1);
    for (i = 0; i < s->nsecrets; i++)
        if (!i || s->secrets[i] != s->secrets[i - 1])
            gamma_code(s, (uint64_t)s->secrets[i] - (i ? (uint64_t)s->secrets[i - 1] : (uint64_t)-1));
    if (1 > s->cap_nctx) {
        void *np = xb_grow(s->nctx, &s->cap_nctx, 1, 1);
        if (!np)
            return -1;
        s->nctx = np;
    }
    if (1 > s->cap_ws) {
        void *np = xb_grow(s->ws, &s->cap_ws, 1, sizeof(*s->ws));
        if (!np)
            return -1;
        s->ws = np;
    }
    s->ws[0] = NL;
    s->nws = 1;
    s->nctx[0] = XB_NC_DOC;
    for (k = 0; k < e->nev; k++) {
        const xb_event *ev = &e->ev[k];
        switch (ev->type) {
        case XE_S:
            if (start(s, s->nctx[depth], ev))
                return -1;
            if (e->open_root)
                goto done;
            if (depth + 1 > s->cap_names) {
                void *np = xb_grow(s->names, &s->cap_names, depth + 1, sizeof(*s->names));
                if (!np)
                    return -1;
                s->names = np;
            }
            if (depth + 2 > s->cap_nctx) {
                void *np = xb_grow(s->nctx, &s->cap_nctx, depth + 2, 1);
                if (!np)
                    return -1;
                s->nctx = np;
            }
            s->names[depth] = k;
            depth++;
            s->nctx[depth] = XB_NC_START;
            break;
        case XE_E:
            other(s, s->nctx[depth], XB_N_END);
            depth--;
            if (depth > 0)
                s->nctx[depth] = XB_NC_AFTER_ELEM;
            break;
        case XE_T: {
            int r;
            if (depth == 0 && !s->exact)
                break;
            r = text(s, s->nctx[depth], ev, depth);
            if (r < 0)
                return -1;
            if (depth)
                s->nctx[depth] = r ? XB_NC_AFTER_WS : XB_NC_AFTER_OTHER;
            break;
        }
        default:
            other(s, s->nctx[depth], ev->type == XE_C ? XB_N_COMMENT : XB_N_PI);
            value(s, ev->value, XB_VC_MISC, 0, 0);
            if (depth)
                s->nctx[depth] = XB_NC_AFTER_OTHER;
            break;
        }
    }
    other(s, XB_NC_DOC, XB_N_END);
done:
    if (s->exact)
        encode_lexical(s);
    return 0;
}

/* ---- public: state ----------------------------------------------------------------- */
int xb_stream_reset(xb_stream *s, uint32_t budget, int exact)
{
    if (budget > XB_STREAM_MAX_BUDGET)
        return -1;
    xb_sstate_clear(s);
    s->budget = budget;
    s->exact = exact != 0;
    return 0;
}

xb_stream *xb_stream_new(uint32_t budget, int exact, int dictionary)
{
    xb_stream *s;
    if (dictionary != 1 || budget > XB_STREAM_MAX_BUDGET || xb_stream_tables() != 0)
        return NULL;
    s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->d = xb_sdict;
    s->nvctx = xb_sdict->stream_nctx[XB_T_VALUE];
    s->recent = calloc(s->nvctx, sizeof(*s->recent));
    s->enc = xb_encoder_new();
    if (!s->recent || !s->enc) {
        free(s->recent);
        xb_encoder_free(s->enc);
        free(s);
        return NULL;
    }
    xb_stream_reset(s, budget, exact);
    return s;
}


void xb_stream_free(xb_stream *s)
{
    if (!s)
        return;
    xb_sstate_clear(s);
    free(s->tab);
    free(s->tbytes);
    free(s->tspare);
    free(s->recent);
    xb_encoder_free(s->enc);
    free(s->open);
    free(s->ws);
    free(s->nctx);
    free(s->names);
    free(s->kbuf);
    xb_stream_dec_release(s);
    free(s->dsec);
    free(s);
}

/* the dynamic table, for tests and inspection: entry i, oldest first */
size_t xb_stream_table_len(const xb_stream *s)
{
    return s->ntab;
}

const char *xb_stream_table_entry(const xb_stream *s, size_t i, size_t *len)
{
    if (i >= s->ntab) {
        *len = 0;
        return NULL;
    }
    *len = s->tab[i].n;
    return xb_stab_bytes(s, &s->tab[i]);
}

/* ---- public: encode one message body ---------------------------------------------- */
int xb_stream_encode(xb_stream *s, const char *xml, size_t size, const xb_encode_options *opt,
                     const uint32_t *secrets, size_t nsecrets, xb_encode_result *res)
{
    xb_encoder *e = s->enc;
    xb_encode_options o = *opt;
    int rc;
    res->error = XB_OK;
    res->limit = XB_LIMIT_NONE;
    res->offset = 0;
    res->index = 0;
    res->data = NULL;
    res->size = 0;
    res->message[0] = 0;
    o.exact = s->exact;
    e->res = res;
    e->opt = &o;
    if (o.open_root < 0 || o.open_root > 1 || o.dictionary != 1 || !o.max_size || !o.max_depth ||
        !o.max_attributes || !o.max_string || !o.max_elements ||
        (o.context_count && (!o.context_data || !o.context_lens)))
        return xb_enc_error(e, XB_ERR_INVALID, 0, XB_LIMIT_NONE, "invalid encoder options");
    e->exact = s->exact;
    e->in = (const uint8_t *)(xml ? xml : "");
    e->n = xml ? size : 0;
    XB_ENC_RESERVE(e, e->ev, e->cap_ev, 1);
    XB_ENC_RESERVE(e, e->items, e->cap_items, 1);
    XB_ENC_RESERVE(e, e->binds, e->cap_binds, 1);
    if (e->n > o.max_size)
        return xb_enc_error(e, XB_ERR_LIMIT, o.max_size, XB_LIMIT_MAX_SIZE, "input exceeds max_size");
    rc = xb_scan(e);
    if (rc)
        return rc;
    s->secrets = secrets;
    s->nsecrets = secrets ? nsecrets : 0;
    s->sec_pos = 0;
    s->ordinal = 0;
    s->pslot_serial = XB_SERIAL_DOC;
    s->pslot_field = XB_PS_FIRST;
    s->nopen = 0;
    s->oom = 0;
    xb_enc_bits_begin(e);
    if (encode_events(s))
        s->oom = 1;
    if (xb_enc_bits_end(e))
        s->oom = 1;
    e->opt = NULL;
    if (s->oom) {
        /* the state may be half updated: the stream cannot go on */
        xb_sstate_clear(s);
        return xb_enc_nomem(e);
    }
    res->data = (const char *)e->out;
    res->size = e->out_n;
    return XB_OK;
}
