/*
 * Stream mode (spec section 14.3) in the C core: the public stream API,
 * xb_stream_new / reset / free / encode and the table accessors
 * (xb_stream_decode is the decoder's, csrc/decode.c). A message body is
 * scanned by the scanner (csrc/scan.c) into the xb_encoder the state owns and
 * coded by the one coder of csrc/encode.c with the state (xb_enc_stream_body);
 * the state itself is csrc/sstate.c. Framing, splitting and the never-indexed
 * ordinals stay in Python (xmppbin/stream.py, _cstream.py).
 */
#include <stdlib.h>
#include <string.h>

#include "xb_enc.h"
#include "xb_stream.h"
#include "xmppbin.h"

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
    for (size_t i = 0; i < XB_SHAPE_CACHE; i++) { /* free pool slots (xb_sstate_clear) */
        s->pool[i].ent.serial = XB_SERIAL_NONE;
        s->cache[i] = &s->pool[i];
    }
    s->nvctx = xb_sdict->stream_nctx[XB_T_VALUE];
    /* (the lists are emptied by xb_stream_reset; entries past a list's
       length are never read) */
    s->recent = malloc(s->nvctx * sizeof(*s->recent));
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
    free(s->tab_mem);
    free(s->tidx);
    free(s->tbytes);
    free(s->recent);
    xb_encoder_free(s->enc);
    free(s->open);
    free(s->kbuf);
    free(s->sess);
    xb_stream_dec_release(s);
    free(s->dsec);
    free(s->dead);
    free(s);
}

/* the bytes the state holds: its own (table, recent values, shape cache,
 * prediction), the encoder's scanner and coder buffers and the decoder's,
 * all kept between messages; capacities, not lengths */
size_t xb_stream_footprint(const xb_stream *s)
{
    return xb_sstate_footprint(s) + xb_encoder_footprint(s->enc) + xb_stream_dec_footprint(s);
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

size_t xb_stream_recent_check(const xb_stream *s, size_t *stale)
{
    size_t c, j, listed = 0;
    *stale = 0;
    if (!s->recent)
        return 0;
    for (c = 0; c < s->nvctx; c++) {
        const xb_recent *r = &s->recent[c];
        for (j = 0; j < r->n; j++) {
            const xb_sstr *v = &r->v[j];
            if (!v->n || v->tok)
                continue;
            listed++;
            /* (addresses compared as integers: v->p may point elsewhere, which is the bug looked for) */
            uintptr_t a = (uintptr_t)v->p, lo = (uintptr_t)s->tbytes;
            if (!s->tbytes || a < lo || a - lo > s->tused || v->n > s->tused - (a - lo) ||
                xb_stab_find(s, v->p, v->n, v->h) < 0)
                (*stale)++;
        }
    }
    return listed;
}

/* ---- public: encode one message body (the coder is csrc/encode.c's) ------------------ */
int xb_stream_encode(xb_stream *s, const char *xml, size_t size, const xb_encode_options *opt,
                     const uint32_t *secrets, size_t nsecrets, xb_encode_result *res)
{
    return xb_enc_stream_message(s->enc, s, xml, size, opt, secrets, nsecrets, res);
}
