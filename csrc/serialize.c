/*
 * The decoder's exact-mode layer (decoder.serialize, lexical.py): unescaping
 * and checking the spellings a lexical section gives (xb_unescape_eq, the
 * prolog's XML declaration), the cursor over the lexical slots and the
 * deviation lookup that csrc/decode.c's lexical() uses while it reads the
 * section, and the serialization of a decoded exact message from its events
 * (xb_serialize; serialize_plain when nothing deviates from the default
 * style). Reads no bits: it works on the events, items and deviations that
 * csrc/decode.c collected in the xb_dec.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "xb_dec.h"

static const xb_str NONE = {NULL, 0}; /* "no string" (Python None) */

/* ---- unescape (xmlscan.py:unescape) ---------------------------------------- */
static int put_utf8(xb_buf *b, uint32_t c)
{
    char t[4];
    size_t n;
    if (c < 0x80) {
        t[0] = (char)c;
        n = 1;
    } else if (c < 0x800) {
        t[0] = (char)(0xC0 | (c >> 6));
        t[1] = (char)(0x80 | (c & 0x3F));
        n = 2;
    } else if (c < 0x10000) {
        t[0] = (char)(0xE0 | (c >> 12));
        t[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        t[2] = (char)(0x80 | (c & 0x3F));
        n = 3;
    } else {
        t[0] = (char)(0xF0 | (c >> 18));
        t[1] = (char)(0x80 | ((c >> 12) & 0x3F));
        t[2] = (char)(0x80 | ((c >> 6) & 0x3F));
        t[3] = (char)(0x80 | (c & 0x3F));
        n = 4;
    }
    if (buf_reserve(b, n))
        return -1;
    memcpy(b->p + b->n, t, n);
    b->n += n;
    return 0;
}

/* Line-end normalization of raw[i:j] (and in attributes whitespace to spaces). */
static int put_normalized(xb_buf *b, const char *p, size_t i, size_t j, int attr)
{
    if (buf_reserve(b, j - i))
        return -1;
    for (; i < j; i++) {
        char c = p[i];
        if (c == '\r') {
            if (i + 1 < j && p[i + 1] == '\n')
                continue;
            c = '\n';
        }
        if (attr && (c == '\t' || c == '\n'))
            c = ' ';
        b->p[b->n++] = c;
    }
    return 0;
}

/* Index of z in p[i:n], or n. */
static size_t find(const char *p, size_t n, size_t i, const char *z)
{
    size_t m = strlen(z);
    for (; i + m <= n; i++)
        if (p[i] == z[0] && memcmp(p + i, z, m) == 0)
            return i;
    return n;
}

/* unescape(raw, attr) into d->utmp: 1 if valid, 0 if None, -1 out of memory */
static int unescape(xb_dec *d, xb_str raw, int attr)
{
    const char *p = raw.p;
    size_t n = raw.n, i = 0;
    xb_buf *b = &d->utmp;
    b->n = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && p[j] != '<' && p[j] != '&')
            j++;
        if (j > i) {
            if (!attr && find(p, j, i, "]]>") < j)
                return 0;
            if (put_normalized(b, p, i, j, attr))
                return -1;
        }
        if (j == n)
            break;
        if (p[j] == '<') {
            size_t end;
            if (attr || !xb_starts_with(p, n, j, "<![CDATA["))
                return 0;
            end = find(p, n, j + 9, "]]>");
            if (end == n)
                return 0;
            if (put_normalized(b, p, j + 9, end, 0))
                return -1;
            i = end + 3;
            continue;
        }
        /* &(?:#([0-9]+)|#x([0-9a-fA-F]+)|([^;&<\s]*)); */
        if (j + 1 < n && p[j + 1] == '#') {
            uint32_t cp = 0;
            size_t k = j + 2, start;
            if (k < n && p[k] >= '0' && p[k] <= '9') {
                start = k;
                while (k < n && p[k] >= '0' && p[k] <= '9') {
                    if (cp <= 0x10FFFF)
                        cp = cp * 10 + (uint32_t)(p[k] - '0');
                    k++;
                }
            } else if (k < n && p[k] == 'x') {
                k++;
                start = k;
                while (k < n && ((p[k] >= '0' && p[k] <= '9') || (p[k] >= 'a' && p[k] <= 'f') ||
                                 (p[k] >= 'A' && p[k] <= 'F'))) {
                    if (cp <= 0x10FFFF)
                        cp = cp * 16 + (uint32_t)(p[k] <= '9' ? p[k] - '0' : (p[k] | 0x20) - 'a' + 10);
                    k++;
                }
            } else {
                return 0; /* only the name alternative can match: '#...' is no entity */
            }
            if (k == start || k >= n || p[k] != ';')
                return 0; /* ditto */
            if (cp > 0x10FFFF || !is_xml_char(cp))
                return 0;
            if (put_utf8(b, cp))
                return -1;
            i = k + 1;
        } else {
            static const char *const names[5] = {"lt;", "gt;", "amp;", "apos;", "quot;"};
            static const char chars[5] = {'<', '>', '&', '\'', '"'};
            int e;
            for (e = 0; e < 5; e++)
                if (xb_starts_with(p, n, j + 1, names[e]))
                    break;
            if (e == 5)
                return 0;
            if (buf_reserve(b, 1))
                return -1;
            b->p[b->n++] = chars[e];
            i = j + 1 + strlen(names[e]);
        }
    }
    return 1;
}

/* unescape(raw, attr) == target; -1 out of memory */
int xb_unescape_eq(xb_dec *d, xb_str raw, int attr, xb_str target)
{
    int r = unescape(d, raw, attr);
    if (r <= 0)
        return r;
    return d->utmp.n == target.n && (target.n == 0 || memcmp(d->utmp.p, target.p, target.n) == 0);
}

/* ---- exact mode (_Decoder.lexical) ----------------------------------------- */

/* A pseudo-attribute's start in an XML declaration at p[i ..
   n): [ws]+ name [ws]* '=' [ws]* and an opening quote. The index after the
   quote (the quote in *q), or 0 when it is not there. */
static size_t pseudo_attr(const char *p, size_t n, size_t i, const char *name, char *q)
{
    size_t k = i;
    while (i < n && xb_xml_ws(p[i]))
        i++;
    if (i == k || !xb_starts_with(p, n, i, name))
        return 0;
    unsigned char uq = 0;
    i = xb_eq_quote((const unsigned char *)p, n, i + strlen(name), &uq);
    *q = (char)uq;
    return i;
}

static int ascii_letter(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* _XMLDECL_RE.match(s, i): the end of the match or -1, and the encoding name */
long xb_match_xmldecl(xb_str s, size_t i, xb_str *enc)
{
    const char *p = s.p;
    size_t n = s.n, k, v;
    char q;
    *enc = NONE;
    if (!xb_starts_with(p, n, i, "<?xml"))
        return -1;
    i += 5;
    /* [ws]+version[ws]*=[ws]*(['"])1\.[0-9]+\1 */
    i = pseudo_attr(p, n, i, "version", &q);
    if (i == 0 || !xb_starts_with(p, n, i, "1."))
        return -1;
    i += 2;
    k = i;
    while (i < n && p[i] >= '0' && p[i] <= '9')
        i++;
    if (i == k || i >= n || p[i] != q)
        return -1;
    i++;
    /* (?:[ws]+encoding[ws]*=[ws]*(['"])([A-Za-z][A-Za-z0-9._-]*)\2)? */
    v = pseudo_attr(p, n, i, "encoding", &q);
    if (v && v < n && ascii_letter(p[v])) {
        k = v + 1;
        while (k < n && (ascii_letter(p[k]) || (p[k] >= '0' && p[k] <= '9') || p[k] == '.' || p[k] == '_' ||
                         p[k] == '-'))
            k++;
        if (k < n && p[k] == q) {
            enc->p = p + v;
            enc->n = k - v;
            i = k + 1;
        }
    }
    /* (?:[ws]+standalone[ws]*=[ws]*(['"])(?:yes|no)\4)? */
    v = pseudo_attr(p, n, i, "standalone", &q);
    if (v) {
        k = xb_starts_with(p, n, v, "yes") ? v + 3 : xb_starts_with(p, n, v, "no") ? v + 2 : 0;
        if (k && k < n && p[k] == q)
            i = k + 1;
    }
    while (i < n && xb_xml_ws(p[i]))
        i++;
    if (!xb_starts_with(p, n, i, "?>"))
        return -1;
    return (long)(i + 2);
}

int xb_ascii_ieq(xb_str s, const char *z)
{
    size_t n = strlen(z), i;
    if (s.n != n)
        return 0;
    for (i = 0; i < n; i++) {
        char c = s.p[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        if (c != z[i])
            return 0;
    }
    return 1;
}

static void cursor_step(const xb_dec *d, xb_slot_cursor *c)
{
    c->base += xb_event_slots(d, c->k, c->depth);
    if (d->ev[c->k].type == EV_S)
        c->depth++;
    else if (d->ev[c->k].type == EV_E)
        c->depth--;
    c->k++;
}

/* (kind, event, item) of slot idx >= the cursor's base */
void xb_cursor_seek(const xb_dec *d, xb_slot_cursor *c, uint64_t idx, int *kind, size_t *k, size_t *item)
{
    uint64_t sub;
    while (c->base + xb_event_slots(d, c->k, c->depth) <= idx)
        cursor_step(d, c);
    sub = idx - c->base;
    *k = c->k;
    *item = 0;
    switch (d->ev[c->k].type) {
    case EV_S:
        if (sub < 4 * (uint64_t)d->ev[c->k].nitems) {
            *kind = (int)(sub % 4);
            *item = (size_t)(sub / 4);
        } else {
            *kind = sub == 4 * (uint64_t)d->ev[c->k].nitems ? XB_SL_TAGEND : XB_SL_EMPTY;
        }
        break;
    case EV_E:
        *kind = XB_SL_ENDWS;
        break;
    default:
        *kind = XB_SL_TVAL;
        break;
    }
}

/* ---- serialization (decoder.serialize) ------------------------------------- */
const xb_dev *xb_dev_at(const xb_dec *d, size_t *dc, uint64_t slot)
{
    while (*dc < d->ndevs && d->devs[*dc].slot < slot)
        (*dc)++;
    return (*dc < d->ndevs && d->devs[*dc].slot == slot) ? &d->devs[*dc] : NULL;
}

/* A first output buffer of about the expected size (names and values are
 * counted in produced), at most max_size. */
static int reserve_output(xb_dec *d)
{
    uint64_t est = d->produced + 8 * (uint64_t)d->nev + 8 * (uint64_t)d->nitems + d->prolog.n + 64;
    if (est > d->opt->max_size)
        est = d->opt->max_size;
    if (d->out.cap < est && buf_reserve(&d->out, (size_t)est))
        return xb_dec_nomem(d);
    if (!d->out.p && buf_reserve(&d->out, 1))
        return xb_dec_nomem(d);
    return 0;
}

/* An upper bound of the size of serialize_plain's output (escaping makes at
 * most 6 bytes of one). */
static uint64_t plain_bound(const xb_dec *d)
{
    uint64_t b = d->prolog.n;
    size_t k, i;
    for (k = 0; k < d->nev; k++) {
        const xb_event *e = &d->ev[k];
        switch (e->type) {
        case EV_S:
            b += 3 + (uint64_t)e->s.n;
            for (i = 0; i < e->nitems; i++) {
                const xb_item *it = &d->items[e->first + i];
                b += 4 + (uint64_t)it->qname.n + (it->clean ? 1 : 6) * (uint64_t)it->value.n;
            }
            break;
        case EV_E:
            b += 3 + (uint64_t)e->s.n;
            break;
        case EV_T:
            b += (e->clean ? 1 : 6) * (uint64_t)e->s.n;
            break;
        default:
            b += 7 + (uint64_t)e->s.n;
            break;
        }
    }
    return b;
}

/* serialize_plain into a buffer of at least bound bytes */
static void serialize_plain_unchecked(xb_dec *d)
{
    const xb_event *ev = d->ev;
    size_t k, i, nev = d->nev, depth = 0;
    unsigned tmask = xb_dec_text_mask(&d->st), amask = xb_dec_attr_mask(&d->st, '\'');
    int gt_after_brackets = !d->st.text_gt;
    char *o = d->out.p;
    o = xb_dec_w_copy(o, d->prolog.p, d->prolog.n);
    for (k = 0; k < nev; k++) {
        const xb_event *e = &ev[k];
        switch (e->type) {
        case EV_S:
            *o++ = '<';
            o = xb_dec_w_copy(o, e->s.p, e->s.n);
            for (i = 0; i < e->nitems; i++) {
                const xb_item *it = &d->items[e->first + i];
                *o++ = ' ';
                o = xb_dec_w_copy(o, it->qname.p, it->qname.n);
                W_LIT(o, "='");
                if (it->clean)
                    o = xb_dec_w_copy(o, it->value.p, it->value.n);
                else
                    o = xb_dec_w_escaped(o, it->value, amask, 0);
                *o++ = '\'';
            }
            if (k + 1 < nev && ev[k + 1].type == EV_E) {
                W_LIT(o, "/>");
                k++; /* the end of the self-closed element writes nothing */
            } else {
                *o++ = '>';
                depth++;
            }
            break;
        case EV_E:
            depth--;
            W_LIT(o, "</");
            o = xb_dec_w_copy(o, e->s.p, e->s.n);
            *o++ = '>';
            break;
        case EV_T:
            if (depth > 0 && !e->clean)
                o = xb_dec_w_escaped(o, e->s, tmask, gt_after_brackets);
            else
                o = xb_dec_w_copy(o, e->s.p, e->s.n);
            break;
        case EV_C:
            W_LIT(o, "<!--");
            o = xb_dec_w_copy(o, e->s.p, e->s.n);
            W_LIT(o, "-->");
            break;
        default:
            W_LIT(o, "<?");
            o = xb_dec_w_copy(o, e->s.p, e->s.n);
            W_LIT(o, "?>");
            break;
        }
    }
    d->out.n = (size_t)(o - d->out.p);
}

/* xb_serialize() in the default style without deviations (every message that is
 * not exact): empty elements self-close as <x/>, attributes in single quotes. */
static int serialize_plain(xb_dec *d)
{
    const xb_event *ev = d->ev;
    size_t k, i, nev = d->nev, depth = 0;
    unsigned tmask = xb_dec_text_mask(&d->st), amask = xb_dec_attr_mask(&d->st, '\'');
    int gt_after_brackets = !d->st.text_gt;
    uint64_t bound = plain_bound(d);
    if (bound <= d->opt->max_size) {
        /* the output fits in max_size: one buffer of the bound, no checks */
        if (d->out.cap < bound + XB_STR_PAD && buf_reserve(&d->out, (size_t)bound + XB_STR_PAD))
            return xb_dec_nomem(d);
        serialize_plain_unchecked(d);
        return 0;
    }
    TRY(reserve_output(d));
    TRY(xb_dec_put_str(d, d->prolog));
    for (k = 0; k < nev; k++) {
        const xb_event *e = &ev[k];
        switch (e->type) {
        case EV_S:
            TRY(PUTL(d, "<"));
            TRY(xb_dec_put_str(d, e->s));
            for (i = 0; i < e->nitems; i++) {
                TRY(xb_dec_put_attr(d, &d->items[e->first + i], amask));
            }
            if (k + 1 < nev && ev[k + 1].type == EV_E) {
                TRY(PUTL(d, "/>"));
                k++; /* the end of the self-closed element writes nothing */
            } else {
                TRY(PUTL(d, ">"));
                depth++;
            }
            break;
        case EV_E:
            depth--;
            TRY(PUTL(d, "</"));
            TRY(xb_dec_put_str(d, e->s));
            TRY(PUTL(d, ">"));
            break;
        case EV_T:
            if (depth > 0 && !e->clean)
                TRY(xb_dec_put_escaped(d, e->s, tmask, gt_after_brackets));
            else
                TRY(xb_dec_put_str(d, e->s));
            break;
        case EV_C:
            TRY(PUTL(d, "<!--"));
            TRY(xb_dec_put_str(d, e->s));
            TRY(PUTL(d, "-->"));
            break;
        default:
            TRY(PUTL(d, "<?"));
            TRY(xb_dec_put_str(d, e->s));
            TRY(PUTL(d, "?>"));
            break;
        }
    }
    return 0;
}

int xb_serialize(xb_dec *d)
{
    const xb_style *st = &d->st;
    size_t k, dc = 0, depth = 0, noc = 0, i;
    uint64_t slot = 0;
    char sq = st->dquote ? '"' : '\'';
    char oq = st->dquote ? '\'' : '"';
    unsigned tmask = xb_dec_text_mask(st);

#define FAIL_END(...) xb_dec_seterr(d, XB_ERR_INVALID, d->len, XB_LIMIT_NONE, __VA_ARGS__)
    if (!d->ndevs && !st->dquote && !st->empty) {
        TRY(serialize_plain(d));
        goto done;
    }
    TRY(reserve_output(d));
    TRY(xb_dec_put_str(d, d->prolog));
    for (k = 0; k < d->nev; k++) {
        const xb_event *e = &d->ev[k];
        const xb_dev *dv;
        if (e->type == EV_S) {
            int empty, selfclose = 0;
            const xb_dev *tdv;
            TRY(PUTL(d, "<"));
            TRY(xb_dec_put_str(d, e->s));
            for (i = 0; i < e->nitems; i++) {
                const xb_item *it = &d->items[e->first + i];
                char q;
                dv = xb_dev_at(d, &dc, slot);
                if (dv)
                    TRY(xb_dec_put_str(d, dv->payload));
                else
                    TRY(PUTL(d, " "));
                TRY(xb_dec_put_str(d, it->qname));
                dv = xb_dev_at(d, &dc, slot + 1);
                if (dv)
                    TRY(xb_dec_put_str(d, dv->payload));
                else
                    TRY(PUTL(d, "="));
                q = xb_dev_at(d, &dc, slot + 2) ? oq : sq;
                TRY(xb_dec_put(d, &q, 1));
                dv = xb_dev_at(d, &dc, slot + 3);
                if (dv) {
                    xb_str raw = dv->payload;
                    int r = 0;
                    if (!memchr(raw.p, q, raw.n) && !memchr(raw.p, '<', raw.n)) {
                        r = xb_unescape_eq(d, raw, 1, it->value);
                        if (r < 0)
                            return xb_dec_nomem(d);
                    }
                    if (!r)
                        return FAIL_END("invalid attribute spelling");
                    TRY(xb_dec_put_str(d, raw));
                } else if (it->clean) {
                    TRY(xb_dec_put_str(d, it->value));
                } else {
                    TRY(xb_dec_put_escaped(d, it->value, xb_dec_attr_mask(st, q), 0));
                }
                TRY(xb_dec_put(d, &q, 1));
                slot += 4;
            }
            empty = k + 1 < d->nev && d->ev[k + 1].type == EV_E;
            tdv = xb_dev_at(d, &dc, slot); /* the TAGEND slot */
            slot++;
            if (empty) {
                selfclose = (st->empty != 2) != (xb_dev_at(d, &dc, slot) != NULL);
                slot++;
            }
            if (tdv)
                TRY(xb_dec_put_str(d, tdv->payload));
            else if (selfclose && st->empty == 1)
                TRY(PUTL(d, " "));
            if (selfclose)
                TRY(PUTL(d, "/>"));
            else
                TRY(PUTL(d, ">"));
            RESERVE(d->oc, d->cap_oc, noc + 1);
            d->oc[noc++] = (uint8_t)selfclose;
            depth++;
        } else if (e->type == EV_E) {
            depth--;
            dv = xb_dev_at(d, &dc, slot);
            if (d->oc[--noc]) {
                if (dv)
                    return FAIL_END("end-tag whitespace on a self-closed element");
            } else {
                TRY(PUTL(d, "</"));
                TRY(xb_dec_put_str(d, e->s));
                if (dv)
                    TRY(xb_dec_put_str(d, dv->payload));
                TRY(PUTL(d, ">"));
            }
            slot++;
        } else if (e->type == EV_T) {
            if (depth > 0) {
                dv = xb_dev_at(d, &dc, slot);
                if (dv)
                    TRY(xb_dec_put_str(d, dv->payload));
                else if (e->clean)
                    TRY(xb_dec_put_str(d, e->s));
                else
                    TRY(xb_dec_put_escaped(d, e->s, tmask, !st->text_gt));
                slot++;
            } else {
                TRY(xb_dec_put_str(d, e->s));
            }
        } else if (e->type == EV_C) {
            TRY(PUTL(d, "<!--"));
            TRY(xb_dec_put_str(d, e->s));
            TRY(PUTL(d, "-->"));
        } else {
            TRY(PUTL(d, "<?"));
            TRY(xb_dec_put_str(d, e->s));
            TRY(PUTL(d, "?>"));
        }
    }
#undef FAIL_END
done:
    if (d->out_over || d->out.n > d->opt->max_size)
        return xb_dec_seterr(d, XB_ERR_LIMIT, d->len, XB_LIMIT_MAX_SIZE, "output exceeds max_size=%lu",
                      (unsigned long)d->opt->max_size);
    return 0;
}
