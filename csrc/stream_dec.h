/*
 * Stream mode in the decoder (spec section 14.3): included once, at the end
 * of csrc/decode.c, whose static helpers it uses; decode.c calls the sdec_*
 * functions from a few delimited hooks (marked "stream mode") when
 * xb_dec.stream is set. The reference is xmppbin/decoder.py with
 * stream=... (read_secrets, _value with secret/recall, content_value, node
 * prediction in run(), the style bit in lexical()); the state is the
 * stream's (csrc/stream.c, xb_stream.h).
 */
#include "xb_stream.h"

/* a decoder with the stream code set: its dictionary view */
typedef struct {
    xb_dec d;
    xb_dictionary dict;
} xb_sdec;

/* a string of the stream state, copied into the arena (the state's strings may
 * be evicted before the message is written) */
static int sdec_copy(xb_dec *d, const char *p, size_t n, xb_str *out)
{
    char *c = arena_alloc(d, n, 1);
    if (!c)
        return nomem(d);
    if (n)
        memcpy(c, p, n);
    out->p = c;
    out->n = n;
    return 0;
}

static int sdec_value1(xb_dec *d, unsigned vctx, int secret, int recall, xb_str *out);

/* _value(vctx, secret, recall) */
static int sdec_value(xb_dec *d, unsigned vctx, int secret, int recall, xb_str *out)
{
    xb_stream *s = d->stream;
    uint64_t h;
    if (!recall || secret)
        return sdec_value1(d, vctx, secret, 0, out);
    TRY(sdec_value1(d, vctx, secret, 1, out));
    h = xb_shash(out->p, out->n);
    if (xb_sremember(s, vctx, out->p, out->n, h, !out->n || xb_srecallable(s, out->p, out->n, h)))
        return nomem(d);
    return 0;
}

static int sdec_jid(xb_dec *d, uint32_t sy, unsigned vctx, int secret, xb_str *out)
{
    xb_str local = NONE, domain = EMPTY, res = NONE;
    xb_str at = {AT_PAD, 1}, slash = {SLASH_PAD, 1};
    if (vctx == XB_VC_JID_LOCAL || vctx == XB_VC_JID_DOMAIN || vctx == XB_VC_JID_RESOURCE)
        return FAIL(d, "JID inside a JID part");
    if (sy != XB_V_JID_DR)
        TRY(sdec_value(d, XB_VC_JID_LOCAL, secret, 0, &local));
    TRY(sdec_value(d, XB_VC_JID_DOMAIN, secret, 0, &domain));
    if (sy != XB_V_JID_LD)
        TRY(sdec_value(d, XB_VC_JID_RESOURCE, secret, 0, &res));
    if ((local.p && (!local.n || memchr(local.p, '@', local.n) || memchr(local.p, '/', local.n))) || !domain.n ||
        memchr(domain.p, '/', domain.n) || (res.p && !res.n) || has_jid_ws(local) || has_jid_ws(domain) ||
        has_jid_ws(res))
        return FAIL(d, "JID parts that do not split back the same way");
    if (sy == XB_V_JID_LD)
        return concat3(d, local, at, domain, out);
    if (sy == XB_V_JID_DR)
        return concat3(d, domain, slash, res, out);
    {
        xb_str a = EMPTY;
        TRY(concat3(d, local, at, domain, &a));
        return concat3(d, a, slash, res, out);
    }
}

/* EXTEND: k, L, the first L bytes of recent value k, literal bytes */
static int sdec_extend(xb_dec *d, unsigned vctx, xb_str *out)
{
    xb_stream *s = d->stream;
    const xb_hcode *cc = d->dict->codes[XB_T_CHAR];
    uint32_t k = 0, n = 0, b = 0;
    uint32_t max_string = d->opt->max_string;
    const xb_sstr *src;
    size_t len;
    int clean = 1, chk;
    unsigned prev;
    TRY(read_bits(d, 3, &k));
    TRY(read_gamma(d, &n));
    if (k >= s->recent[vctx].n || !s->recent[vctx].v[k].n ||
        !xb_srecallable(s, s->recent[vctx].v[k].p, s->recent[vctx].v[k].n, s->recent[vctx].v[k].h))
        return FAIL(d, "EXTEND of recent value %u, which is no recallable recent value of its context", (unsigned)k);
    src = &s->recent[vctx].v[k];
    if (n > src->n)
        return FAIL(d, "EXTEND of %u bytes of a %u-byte value", (unsigned)n, (unsigned)src->n);
    d->tmp.n = 0;
    if (buf_reserve(&d->tmp, (size_t)n + 16))
        return nomem(d);
    memcpy(d->tmp.p, src->p, n);
    len = n;
    prev = (uint8_t)d->tmp.p[len - 1];
    for (;;) {
        TRY(read_sym(d, &cc[xb_byte_class(prev)], &b));
        if (b == 0)
            break;
        if (len + 1 > d->tmp.cap) {
            d->tmp.n = len;
            if (buf_reserve(&d->tmp, 16))
                return nomem(d);
        }
        d->tmp.p[len++] = (char)b;
        if (len > max_string)
            return too_long(d);
        prev = b;
    }
    chk = check_literal(d->tmp.p, len, &clean);
    if (chk == 1)
        return FAIL(d, "string is not valid UTF-8");
    if (chk == 2)
        return FAIL(d, "string contains a character not allowed in XML");
    return sdec_copy(d, d->tmp.p, len, out);
}

/* _value1 */
static int sdec_value1(xb_dec *d, unsigned vctx, int secret, int recall, xb_str *out)
{
    xb_stream *s = d->stream;
    uint32_t sy = 0;
    xb_str r = EMPTY;
    TRY(read_sym(d, &d->dict->codes[XB_T_VALUE][vctx], &sy));
    d->vclean = 1;
    if (sy == XB_V_EMPTY) {
        *out = EMPTY;
        return 0;
    }
    if (sy >= XB_V_RECENT && sy < XB_V_EXTEND) {
        unsigned k = sy - XB_V_RECENT;
        const xb_recent *rl = &s->recent[vctx];
        if (secret)
            return FAIL(d, "never-indexed value coded as RECENT");
        if (!recall)
            return FAIL(d, "RECENT outside the values a stream context remembers");
        if (k >= rl->n || !(!rl->v[k].n || xb_srecallable(s, rl->v[k].p, rl->v[k].n, rl->v[k].h)))
            return FAIL(d, "RECENT %u is no recallable recent value of its context", k);
        TRY(sdec_copy(d, rl->v[k].p, rl->v[k].n, out));
        d->vclean = str_clean(*out);
        return 0;
    }
    if (sy >= XB_V_REF && sy <= XB_V_REF_FAR) {
        uint64_t i;
        const xb_tent *t;
        if (secret)
            return FAIL(d, "never-indexed value coded as a reference");
        if (sy < XB_V_REF_FAR) {
            i = sy - XB_V_REF;
        } else {
            uint32_t g = 0;
            TRY(read_gamma(d, &g));
            i = (uint64_t)g + XB_REF_NEAR - 1;
        }
        if (i >= s->ntab)
            return FAIL(d, "reference to string %llu of %llu", (unsigned long long)i, (unsigned long long)s->ntab);
        t = &s->tab[s->ntab - 1 - i];
        TRY(sdec_copy(d, xb_stab_bytes(s, t), t->n, out));
        xb_stab_use(s, (size_t)i);
        d->vclean = str_clean(*out);
        return 0;
    }
    if (sy >= XB_V_TOKEN) {
        *out = d->dict->pad_values[sy - XB_V_TOKEN];
        d->vclean = out->p[-1];
        return 0;
    }
    switch (sy) {
    case XB_V_LIT:
        TRY(read_literal(d, &r));
        break;
    case XB_V_EXTEND:
        if (secret)
            return FAIL(d, "never-indexed value coded as EXTEND");
        if (!recall)
            return FAIL(d, "EXTEND outside the values a stream context remembers");
        TRY(sdec_extend(d, vctx, &r));
        break;
    case XB_V_INT:
        TRY(read_int(d, &r));
        break;
    case XB_V_UUID_L:
    case XB_V_UUID_U:
        TRY(read_uuid(d, sy == XB_V_UUID_U, &r));
        break;
    case XB_V_HEX_L:
    case XB_V_HEX_U:
        TRY(read_hex(d, sy == XB_V_HEX_U, &r));
        break;
    case XB_V_B64:
        TRY(read_b64(d, &r));
        break;
    default: /* JID */
        TRY(sdec_jid(d, sy, vctx, secret, &r));
        break;
    }
    if (r.n > d->opt->max_string)
        return too_long(d);
    if (!secret && xb_stab_add(s, r.p, r.n, xb_shash(r.p, r.n)))
        return nomem(d);
    d->vclean = str_clean(r);
    *out = r;
    return 0;
}

/* content_value: an attribute value or a text node inside the root */
static int sdec_content_value(xb_dec *d, unsigned vctx, xb_str *out)
{
    xb_stream *s = d->stream;
    int secret = 0;
    while (s->sec_pos < s->ndsec && s->dsec[s->sec_pos] < s->ordinal)
        s->sec_pos++;
    if (s->sec_pos < s->ndsec && s->dsec[s->sec_pos] == s->ordinal)
        secret = 1;
    s->ordinal++;
    TRY(sdec_value(d, vctx, secret, 1, out));
    TRY(check_len(d, *out));
    return count(d, out->n);
}

/* a text node inside the root coded by a whitespace symbol has an ordinal too */
static void sdec_ws_ordinal(xb_dec *d, size_t depth)
{
    if (depth)
        d->stream->ordinal++;
}

/* the next node symbol: in the predicted context if there is a prediction
 * (PRED stands for it), else in ctx (PRED invalid) */
static int sdec_node_sym(xb_dec *d, unsigned ctx, uint32_t *sy)
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
static void sdec_learn_end(xb_dec *d, uint32_t sy)
{
    xb_stream *s = d->stream;
    if (s->nopen) {
        uint32_t ser = s->open[--s->nopen];
        xb_slearn(s, 'N', sy, ser, XB_PS_AFTER);
    } else {
        xb_slearn(s, 'N', sy, XB_SERIAL_NONE, 0);
    }
}

/* after a text node, comment or PI: the next is the "text" slot of the
 * innermost open element (of the document at depth 0) */
static void sdec_learn_other(xb_dec *d, uint32_t sy)
{
    xb_stream *s = d->stream;
    xb_slearn(s, 'N', sy, s->nopen ? s->open[s->nopen - 1] : XB_SERIAL_DOC, XB_PS_TEXT);
}

/* a copy of a generic start tag's key that lives with the stream state, its
 * strings followed by XB_STR_PAD zero bytes (as the decoder's strings) */
static xb_key *sdec_key_copy(const xb_key *k, void **mem)
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
    nk = (xb_key *)(void *)m;
    items = (xb_kitem *)(void *)(m + sizeof(xb_key));
    o = m + sizeof(xb_key) + k->nitems * sizeof(xb_kitem);
    *nk = *k;
    nk->items = items;
#define SDEC_STR(dst, src)                                                                                 \
    do {                                                                                                   \
        if ((src).n)                                                                                       \
            memcpy(o, (src).p, (src).n);                                                                   \
        (dst).p = o;                                                                                       \
        (dst).n = (src).n;                                                                                 \
        o += (src).n + XB_STR_PAD;                                                                         \
    } while (0)
    SDEC_STR(nk->name, k->name);
    for (i = 0; i < k->nitems; i++) {
        items[i] = k->items[i];
        SDEC_STR(items[i].qname, k->items[i].qname);
        SDEC_STR(items[i].uri, k->items[i].uri);
    }
#undef SDEC_STR
    *mem = m;
    return nk;
}

/* the stream's shape cache for start tag symbol sy (GENERIC, SHAPE or LOCAL);
 * the entry moves (or enters) to the front, and the prediction slot learns it */
static int sdec_cache(xb_dec *d, uint32_t sy, const xb_key **key, unsigned *info)
{
    xb_stream *s = d->stream;
    size_t n = s->ncache;
    uint32_t serial;
    xb_scache slot;
    if (sy == XB_N_GENERIC || sy >= XB_N_SHAPE) {
        const xb_key *k;
        unsigned inf = 0;
        void *mem = NULL;
        if (sy == XB_N_GENERIC) {
            const xb_key *ak = NULL;
            TRY(generic_start(d, &ak, &inf));
            k = sdec_key_copy(ak, &mem);
            if (!k)
                return nomem(d);
        } else {
            k = &d->dict->pad_shapes[sy - XB_N_SHAPE];
            inf = d->dict->shape_info[sy - XB_N_SHAPE];
            if (k->nitems > d->opt->max_attributes)
                return LIMIT(d, XB_LIMIT_MAX_ATTRIBUTES, "more than max_attributes=%lu attributes",
                             (unsigned long)d->opt->max_attributes);
        }
        if (n == XB_SHAPE_CACHE) {
            free(s->cache[n - 1].dmem);
            free(s->cache[n - 1].key);
            n--;
        }
        memmove(&s->cache[1], &s->cache[0], n * sizeof(s->cache[0]));
        memset(&s->cache[0], 0, sizeof(s->cache[0]));
        s->cache[0].dkey = k;
        s->cache[0].dmem = mem;
        s->cache[0].dinfo = (uint16_t)inf;
        s->cache[0].ent.serial = serial = s->next_serial++;
        s->ncache = n + 1;
    } else {
        size_t j = sy - XB_N_LOCAL;
        if (j >= n)
            return FAIL(d, "shape cache entry %lu of %lu", (unsigned long)j, (unsigned long)n);
        slot = s->cache[j];
        memmove(&s->cache[1], &s->cache[0], j * sizeof(s->cache[0]));
        s->cache[0] = slot;
        serial = slot.ent.serial;
    }
    xb_slearn(s, 'S', serial, serial, XB_PS_FIRST);
    RESERVE(s->open, s->cap_open, s->nopen + 1);
    s->open[s->nopen++] = serial;
    *key = s->cache[0].dkey;
    *info = s->cache[0].dinfo;
    return 0;
}

/* exact mode: the first bit of the lexical section; 1 = the stream's style */
static int sdec_style(xb_dec *d, int *kept)
{
    uint32_t v = 0;
    TRY(read_bits(d, 1, &v));
    *kept = (int)v;
    if (v) {
        const int *st = d->stream->style;
        d->st.dquote = st[0];
        d->st.empty = st[1];
        d->st.text_gt = st[2];
        d->st.text_quot = st[3];
        d->st.attr_gt = st[4];
        d->st.attr_oq = st[5];
    }
    return 0;
}

static void sdec_style_save(xb_dec *d)
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
static int sdec_secrets(xb_dec *d)
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
static int sdec_decode(xb_dec *d)
{
    const uint8_t *data;
    size_t len = d->len;
    if (d->in.cap < len + XB_PAD && buf_reserve(&d->in, len + XB_PAD))
        return nomem(d);
    if (len)
        memcpy(d->in.p, d->data, len);
    memset(d->in.p + len, 0, XB_PAD);
    d->data = data = (const uint8_t *)d->in.p;
    d->plen = len + XB_PAD;
    d->pos = 0;
    d->end = (uint64_t)len * 8;
    return decode_body(d, data, len);
}

int xb_stream_decode(xb_stream *s, const char *body, size_t size, int open, const xb_decode_options *opt,
                     xb_result *res)
{
    xb_sdec *w;
    xb_dec *d;
    const xb_dictionary *d1;
    int rc, t;
    res->data = NULL;
    res->size = 0;
    res->error = XB_OK;
    res->limit = XB_LIMIT_NONE;
    res->offset = 0;
    res->message[0] = 0;
    if (xb_init() != 0 || !(d1 = xb_get_dictionary(1))) {
        res->error = XB_ERR_INIT;
        snprintf(res->message, sizeof(res->message), "the dictionary tables could not be built");
        return res->error;
    }
    w = s->dec;
    if (!w) {
        w = malloc(sizeof(*w));
        if (!w) {
            res->error = XB_ERR_NOMEM;
            snprintf(res->message, sizeof(res->message), "out of memory");
            return res->error;
        }
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
    s->pslot_serial = XB_SERIAL_DOC;
    s->pslot_field = XB_PS_FIRST;
    rc = sdec_decode(d);
    if (rc == XB_OK) {
        unsigned char *p = malloc(d->out.n ? d->out.n : 1);
        if (!p) {
            rc = nomem(d);
        } else {
            if (d->out.n)
                memcpy(p, d->out.p, d->out.n);
            res->data = p;
            res->size = d->out.n;
        }
    }
    d->stream = NULL;
    if (dec_footprint(d) > XB_CACHE_MAX_BYTES) { /* a large message's buffers are not kept */
        dec_release(d);
        dec_init(d);
    }
    return rc;
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
