/* libFuzzer target: the C stream I/O path (csrc/split.c, csrc/frame.c) on arbitrary
 * bytes, built with ASan + UBSan by fuzz/run.py. The first byte selects options
 * (exact mode, in_stream, small limits, a small table budget, the chunk size);
 * the rest is fed twice to both feed loops: as frames to the decoder feed loop
 * and as raw XML to the encoder feed loop, once whole and once in chunks. The
 * harness does what stream.py does with the units the loops hand back (OPEN
 * frames reset the state and decode the header; stream headers, end tags and
 * announced elements are coded and framed), so the two runs must give the same
 * output and the same error at the same offset: any chunking, same result.
 * Both loops run again with header sets (xb_hdrs: the usual c2s and s2s
 * declarations, and none) so that they code stream headers and OPEN frames
 * themselves (csrc/frame.c: open_unit, open_frame): whole and chunked must
 * agree there too. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmppbin.h"

static const char CTX[] = "jabber:clientstreamhttp://etherx.jabber.org/streams";
static const size_t CTX_LENS[4] = {0, 13, 6, 32};
static const char NAMES[] = "authresponsepassword";
/* declaration signatures the header sets know (xb_hdrs) */
static const char SIG_C2S[] = "xmlns\0jabber:client\0xmlns:stream\0http://etherx.jabber.org/streams";
static const char SIG_S2S[] = "xmlns:stream\0http://etherx.jabber.org/streams\0xmlns\0jabber:server";
static const char SIG_STREAM[] = "xmlns:stream\0http://etherx.jabber.org/streams";
static const size_t NAME_LENS[3] = {4, 8, 8};

typedef struct out {
    unsigned char *p;
    size_t n, cap;
    int error;
    uint64_t offset;
} out;

static void put(out *o, const void *d, size_t n)
{
    if (o->cap - o->n < n) {
        size_t c = o->cap ? o->cap : 256;
        while (c - o->n < n)
            c *= 2;
        unsigned char *p = realloc(o->p, c);
        if (p == NULL)
            abort();
        o->p = p;
        o->cap = c;
    }
    if (n)
        memcpy(o->p + o->n, d, n);
    o->n += n;
}

static void put_frame(out *o, int kind, const void *d, size_t n)
{
    uint64_t v = kind == XB_UNIT_ELEMENT ? (uint64_t)n << 1 : (uint64_t)n << 3 | (uint64_t)kind << 1 | 1;
    unsigned char h[10];
    size_t k = 0;
    do {
        unsigned char b = v & 0x7F;
        v >>= 7;
        h[k++] = v ? (unsigned char)(b | 0x80) : b;
    } while (v);
    put(o, h, k);
    put(o, d, n);
}

static void check_result(const xb_feed_result *r, int rc)
{
    if (rc == XB_FEED_ERROR && r->error == XB_OK)
        abort();
    if (rc != XB_FEED_ERROR && r->error != XB_OK)
        abort();
    if (r->nevents && (r->events == NULL || r->data == NULL))
        abort();
    for (size_t i = 0; i < r->nevents; i++) /* every event inside the output */
        if (r->events[3 * i] > 3 || r->events[3 * i + 1] + r->events[3 * i + 2] > r->size)
            abort();
}

/* The decoder feed loop over data in chunks of `chunk` bytes (0: whole). */
static void run_decoder(const uint8_t *data, size_t size, size_t chunk, uint32_t max_frame,
                        const xb_decode_options *opt, xb_hdrs *h, out *o)
{
    xb_stream *st = xb_stream_new(0, 0, 1);
    xb_fdec *d = st ? xb_fdec_new(st, max_frame) : NULL;
    if (d == NULL)
        abort();
    xb_fdec_set_headers(d, h, 4096);
    xb_feed_result r;
    int opened = 0;
    size_t pos = 0;
    while (!o->error) {
        size_t n = chunk && size - pos > chunk ? chunk : size - pos;
        int rc = xb_fdec_feed(d, (const char *)data + pos, n, opened, opt, &r);
        pos += n;
        for (;;) {
            check_result(&r, rc);
            if (r.headers) /* the loop coded a stream header itself: the stream is open (as stream.py's sync) */
                opened = 1;
            for (size_t i = 0; i < r.nevents; i++)
                put(o, r.data + r.events[3 * i + 1], r.events[3 * i + 2]);
            if (rc == XB_FEED_ERROR) {
                o->error = r.error;
                o->offset = r.offset;
                break;
            }
            if (rc == XB_FEED_DONE)
                break;
            if (r.kind == XB_UNIT_OPEN) { /* budget varint, header, maybe the header's body */
                const unsigned char *p = r.unit;
                size_t m = r.unit_size, k = 0;
                uint32_t budget = 0;
                while (k < m && k < 3 && (p[k] & 0x80))
                    budget |= (uint32_t)(p[k] & 0x7F) << (7 * k), k++;
                if (k < m && k < 3)
                    budget |= (uint32_t)(p[k] & 0x7F) << (7 * k);
                k++;
                if (k + 2 > m || budget > 4096 || xb_stream_reset(st, budget, (p[k] >> 2) & 1)) {
                    o->error = XB_ERR_INVALID;
                    o->offset = r.unit_offset;
                    break;
                }
                opened = 1;
                if ((p[k] >> 3) & 3) {
                    xb_result dr;
                    if (xb_stream_decode(st, (const char *)p + k + 2, m - k - 2, 1, opt, &dr)) {
                        o->error = dr.error;
                        o->offset = r.unit_offset + k + 2 + dr.offset;
                        break;
                    }
                    put(o, dr.data, dr.size);
                    xb_free(dr.data);
                }
            } else {
                put(o, r.unit, r.unit_size);
            }
            rc = xb_fdec_feed(d, "", 0, opened, opt, &r);
        }
        if (pos == size)
            break;
    }
    uint64_t end;
    if (!o->error && xb_fdec_held(d, &end)) {
        o->error = XB_ERR_TRUNCATED;
        o->offset = end;
    }
    xb_fdec_free(d);
    xb_stream_free(st);
}

/* The encoder feed loop over data in chunks, then flush. */
static void run_encoder(const uint8_t *data, size_t size, size_t chunk, int exact, int in_stream, uint32_t budget,
                        uint32_t max_frame, const xb_encode_options *eopt, const xb_encode_options *hopt, xb_hdrs *h,
                        out *o)
{
    xb_stream *st = xb_stream_new(budget, exact, 1);
    xb_fenc *e = st ? xb_fenc_new(st, eopt->max_size, max_frame, in_stream, NAMES, NAME_LENS, 3, 0) : NULL;
    if (e == NULL)
        abort();
    xb_fenc_set_headers(e, h, budget, exact);
    xb_feed_result r;
    xb_encode_result er;
    int opened = 0;
    size_t pos = 0;
    while (!o->error) {
        size_t n = chunk && size - pos > chunk ? chunk : size - pos;
        int rc = xb_fenc_feed(e, (const char *)data + pos, n, opened, eopt, &r);
        pos += n;
        for (;;) {
            check_result(&r, rc);
            if (r.headers) /* the loop coded a stream header itself: the stream is open (as stream.py's sync) */
                opened = 1;
            put(o, r.data, r.size);
            if (rc == XB_FEED_ERROR) {
                o->error = r.error;
                o->offset = r.offset;
                break;
            }
            if (rc == XB_FEED_DONE)
                break;
            if (r.kind == XB_UNIT_CLOSE) {
                put_frame(o, XB_UNIT_CLOSE, r.unit, r.unit_size);
            } else {
                const xb_encode_options *opt = eopt;
                if (r.kind == XB_UNIT_OPEN) {
                    xb_stream_reset(st, budget, exact);
                    opt = hopt;
                }
                if (xb_stream_encode(st, (const char *)r.unit, r.unit_size, opt, NULL, 0, &er)) {
                    o->error = er.error;
                    o->offset = r.unit_offset + er.offset;
                    break;
                }
                put_frame(o, r.kind, er.data, er.size);
                opened = 1;
            }
            rc = xb_fenc_feed(e, "", 0, opened, eopt, &r);
        }
        if (pos == size)
            break;
    }
    if (!o->error) {
        int rc = xb_fenc_flush(e, &r);
        check_result(&r, rc);
        if (rc == XB_FEED_ERROR) {
            o->error = r.error;
            o->offset = r.offset;
        } else {
            put(o, r.data, r.size);
        }
    }
    xb_fenc_free(e);
    xb_stream_free(st);
}

static void same(out *a, out *b)
{
    if (a->n != b->n || (a->n && memcmp(a->p, b->p, a->n)) || a->error != b->error || a->offset != b->offset) {
        fprintf(stderr, "chunking changed the result: %zu/%zu bytes, error %d/%d at %llu/%llu\n", a->n, b->n,
                a->error, b->error, (unsigned long long)a->offset, (unsigned long long)b->offset);
        abort();
    }
    free(a->p);
    free(b->p);
    memset(a, 0, sizeof *a);
    memset(b, 0, sizeof *b);
}

/* the decoder and the encoder loop each fed the input whole and in pieces of
   chunk bytes (with header sets dh / eh, or NULL): the same results */
static void both_loops(const uint8_t *data, size_t size, uint8_t f, size_t chunk, uint32_t budget, uint32_t max_frame,
                       const xb_decode_options *dopt, const xb_encode_options *eopt, const xb_encode_options *hopt,
                       xb_hdrs *dh, xb_hdrs *eh)
{
    out a = {0}, b = {0};
    run_decoder(data, size, 0, max_frame, dopt, dh, &a);
    run_decoder(data, size, chunk, max_frame, dopt, dh, &b);
    same(&a, &b);
    run_encoder(data, size, 0, f & 1, (f >> 1) & 1, budget, max_frame, eopt, hopt, eh, &a);
    run_encoder(data, size, chunk, f & 1, (f >> 1) & 1, budget, max_frame, eopt, hopt, eh, &b);
    same(&a, &b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t f = size ? data[0] : 0;
    if (size)
        data++, size--;
    xb_decode_options dopt;
    memset(&dopt, 0, sizeof dopt);
    dopt.max_size = (f & 4) ? 300 : 1u << 20;
    dopt.max_depth = 128;
    dopt.max_attributes = 128;
    dopt.max_string = 1u << 20;
    dopt.max_elements = 65536;
    dopt.allow_comments = 1;
    dopt.context_count = 2;
    dopt.context_data = CTX;
    dopt.context_lens = CTX_LENS;
    xb_encode_options eopt;
    memset(&eopt, 0, sizeof eopt);
    eopt.max_size = dopt.max_size;
    eopt.max_depth = 128;
    eopt.max_attributes = 128;
    eopt.max_string = 1u << 20;
    eopt.max_elements = 65536;
    eopt.allow_comments = (f >> 7) & 1;
    eopt.dictionary = 1;
    eopt.context_count = 2;
    eopt.context_data = CTX;
    eopt.context_lens = CTX_LENS;
    xb_encode_options hopt = eopt;
    hopt.open_root = 1;
    uint32_t max_frame = (f & 8) ? 64 : 1u << 20;
    uint32_t budget = (f & 16) ? 64 : 4096;
    static const size_t CHUNKS[4] = {1, 3, 7, 64};
    size_t chunk = CHUNKS[(f >> 5) & 3];

    both_loops(data, size, f, chunk, budget, max_frame, &dopt, &eopt, &hopt, NULL, NULL);

    /* the loops code headers themselves (every context with the element options) */
    xb_hdrs *dh = xb_hdrs_new(&dopt), *eh = xb_hdrs_new(&hopt);
    if (dh == NULL || eh == NULL)
        abort();
    const char *sigs[4] = {SIG_C2S, SIG_S2S, SIG_STREAM, ""};
    const size_t sig_lens[4] = {sizeof SIG_C2S, sizeof SIG_S2S, sizeof SIG_STREAM, 0};
    for (int i = 0; i < 4; i++)
        if (xb_hdrs_add(dh, sigs[i], sig_lens[i], &dopt) != i || xb_hdrs_add(eh, sigs[i], sig_lens[i], &eopt) != i)
            abort();
    both_loops(data, size, f, chunk, budget, max_frame, &dopt, &eopt, &hopt, dh, eh);
    xb_hdrs_free(dh);
    xb_hdrs_free(eh);
    return 0;
}
