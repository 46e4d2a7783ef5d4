/*
 * The decoder's output side: error reports into the caller's result, the
 * output buffer (bounded by max_size) and the escaping of text and attribute
 * values (lexical.escape_text / escape_attr), used by csrc/decode.c while it
 * decodes (messages that are not exact) and when it serializes (exact ones).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xb_dec.h"

/* ---- errors ----------------------------------------------------------------- */
int xb_dec_seterr(xb_dec *d, int code, size_t offset, int limit, const char *fmt, ...)
{
    va_list ap;
    d->res->error = code;
    d->res->offset = offset;
    d->res->limit = limit;
    va_start(ap, fmt);
    vsnprintf(d->res->message, sizeof(d->res->message), fmt, ap);
    va_end(ap);
    return code;
}

int xb_dec_nomem(xb_dec *d)
{
    return xb_dec_seterr(d, XB_ERR_NOMEM, OFFSET(d), XB_LIMIT_NONE, "out of memory");
}

/* ---- growing buffers -------------------------------------------------------- */
int xb_buf_grow(xb_buf *b, size_t extra)
{
    size_t need, c;
    char *p;
    if (b->cap - b->n >= extra)
        return 0;
    if (extra > SIZE_MAX - b->n)
        return -1;
    need = b->n + extra;
    c = b->cap ? b->cap : 256;
    while (c < need) {
        if (c > SIZE_MAX / 2) {
            c = need;
            break;
        }
        c *= 2;
    }
    p = realloc(b->p, c);
    if (!p)
        return -1;
    b->p = p;
    b->cap = c;
    return 0;
}

/* ---- output ------------------------------------------------------------------ */
/* Past max_size only the length is kept: the result is then an error anyway,
 * but the serialization's own checks still come first, as in the reference.
 * The output is out.n + out_over bytes long; the buffer grows up to max_size
 * (a buffer kept from an earlier message may be larger and is used as is). */
XB_NOINLINE int xb_dec_put_slow(xb_dec *d, const char *p, size_t n)
{
    size_t max = d->opt->max_size, need, c;
    char *q;
    if (d->out_over || d->out.n >= max || n > max - d->out.n) {
        d->out_over += n;
        return 0;
    }
    need = d->out.n + n;
    c = d->out.cap > max / 2 ? max : 2 * d->out.cap;
    if (c < 256)
        c = max < 256 ? max : 256;
    if (c < need)
        c = need;
    q = realloc(d->out.p, c);
    if (!q)
        return xb_dec_nomem(d);
    d->out.p = q;
    d->out.cap = c;
    memcpy(d->out.p + d->out.n, p, n);
    d->out.n += n;
    return 0;
}

/* escape_text / escape_attr: one pass (no replacement creates a later target).
 * ESC_CLASS has a bit for each byte they may replace; a mask of the bits that
 * apply in a context selects them. */
enum { E_AMP = 1, E_LT = 2, E_GT = 4, E_CR = 8, E_APOS = 16, E_QUOT = 32, E_TAB = 64, E_LF = 128 };
static const uint8_t ESC_CLASS[256] = {['&'] = E_AMP,  ['<'] = E_LT,   ['>'] = E_GT,  ['\r'] = E_CR,
                                       ['\''] = E_APOS, ['"'] = E_QUOT, ['\t'] = E_TAB, ['\n'] = E_LF};

unsigned xb_dec_text_mask(const xb_style *st)
{
    /* '>' always: without text_gt it is escaped after "]]" only (checked when found) */
    return E_AMP | E_LT | E_GT | E_CR | (st->text_quot ? E_APOS | E_QUOT : 0u);
}

unsigned xb_dec_attr_mask(const xb_style *st, char quote)
{
    return E_AMP | E_LT | E_CR | E_TAB | E_LF | (st->attr_gt ? E_GT : 0u) |
           (quote == '\'' || st->attr_oq ? E_APOS : 0u) | (quote == '"' || st->attr_oq ? E_QUOT : 0u);
}

/* v escaped with the bytes of mask; gt_after_brackets: '>' only after "]]" */
int xb_dec_put_escaped(xb_dec *d, xb_str v, unsigned mask, int gt_after_brackets)
{
    const unsigned char *s = (const unsigned char *)v.p;
    size_t n = v.n, i = 0, run = 0;
    for (;;) {
        const char *rep;
        size_t rn;
        while (i + 4 <= n &&
               !((ESC_CLASS[s[i]] | ESC_CLASS[s[i + 1]] | ESC_CLASS[s[i + 2]] | ESC_CLASS[s[i + 3]]) & mask))
            i += 4;
        while (i < n && !(ESC_CLASS[s[i]] & mask))
            i++;
        if (i == n)
            break;
        switch (s[i]) {
        case '&':
            rep = "&amp;", rn = 5;
            break;
        case '<':
            rep = "&lt;", rn = 4;
            break;
        case '>':
            if (gt_after_brackets && !(i >= 2 && s[i - 1] == ']' && s[i - 2] == ']')) {
                i++;
                continue;
            }
            rep = "&gt;", rn = 4;
            break;
        case '\r':
            rep = "&#13;", rn = 5;
            break;
        case '\'':
            rep = "&apos;", rn = 6;
            break;
        case '"':
            rep = "&quot;", rn = 6;
            break;
        case '\t':
            rep = "&#9;", rn = 4;
            break;
        default: /* '\n' */
            rep = "&#10;", rn = 5;
            break;
        }
        if (i > run)
            TRY(xb_dec_put(d, v.p + run, i - run));
        TRY(xb_dec_put(d, rep, rn));
        run = ++i;
    }
    return xb_dec_put(d, v.p + run, n - run);
}

/* put_escaped into at most 6 * v.n bytes at o */
char *xb_dec_w_escaped(char *o, xb_str v, unsigned mask, int gt_after_brackets)
{
    const unsigned char *s = (const unsigned char *)v.p;
    size_t n = v.n, i = 0;
    for (;;) {
        unsigned c;
        while (i + 8 <= n && !((ESC_CLASS[s[i]] | ESC_CLASS[s[i + 1]] | ESC_CLASS[s[i + 2]] | ESC_CLASS[s[i + 3]] |
                                ESC_CLASS[s[i + 4]] | ESC_CLASS[s[i + 5]] | ESC_CLASS[s[i + 6]] |
                                ESC_CLASS[s[i + 7]]) &
                               mask)) {
            memcpy(o, s + i, 8);
            o += 8;
            i += 8;
        }
        if (i == n)
            return o;
        c = s[i];
        if (!(ESC_CLASS[c] & mask)) {
            *o++ = (char)c;
        } else {
            switch (c) {
            case '&':
                W_LIT(o, "&amp;");
                break;
            case '<':
                W_LIT(o, "&lt;");
                break;
            case '>':
                if (gt_after_brackets && !(i >= 2 && s[i - 1] == ']' && s[i - 2] == ']'))
                    *o++ = '>';
                else
                    W_LIT(o, "&gt;");
                break;
            case '\r':
                W_LIT(o, "&#13;");
                break;
            case '\'':
                W_LIT(o, "&apos;");
                break;
            case '"':
                W_LIT(o, "&quot;");
                break;
            case '\t':
                W_LIT(o, "&#9;");
                break;
            default: /* '\n' */
                W_LIT(o, "&#10;");
                break;
            }
        }
        i++;
    }
}

