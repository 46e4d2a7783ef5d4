/* Leak and memory-error check of the C core, built with -fsanitize=address,undefined
 * by tests/test_c_leaks.py. Reads length-prefixed inputs from stdin:
 *   'D' u32 n bytes   decode the message
 *   'E' u32 n bytes   encode the XML
 *   'O' / 'U' u32 n   a stream header / element unit of a stream: encoded with
 *                     stream states (exact and default, two budgets), each body
 *                     decoded with decoder states, and truncated and corrupted
 *                     bodies decoded with a scratch state
 * and runs each with several option sets (default limits, tiny limits, exact mode,
 * comments allowed), through single and batch calls, freeing every result.
 * LeakSanitizer reports any leak at exit (non-zero exit status). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmppbin.h"

static const char CTX[] = "jabber:clientstreamhttp://etherx.jabber.org/streams";
static const size_t CTX_LENS[4] = {0, 13, 6, 32};

static void limits(int tiny, uint32_t *v)
{
    v[0] = tiny ? 300 : 1u << 20;   /* max_size */
    v[1] = tiny ? 3 : 128;          /* max_depth */
    v[2] = tiny ? 2 : 128;          /* max_attributes */
    v[3] = tiny ? 12 : 1u << 20;    /* max_string */
    v[4] = tiny ? 5 : 65536;        /* max_elements */
}

static unsigned long ok_count, err_count;

static void decode_all(const char *p, size_t n)
{
    int tiny, comments;
    for (tiny = 0; tiny < 2; tiny++)
        for (comments = 0; comments < 2; comments++) {
            xb_decode_options o;
            xb_result r;
            xb_batch b;
            const char *ptrs[2] = {p, p};
            size_t sizes[2] = {n, n};
            uint32_t v[5];
            memset(&o, 0, sizeof(o));
            limits(tiny, v);
            o.max_size = v[0], o.max_depth = v[1], o.max_attributes = v[2], o.max_string = v[3];
            o.max_elements = v[4];
            o.allow_comments = comments;
            o.context_count = 2, o.context_data = CTX, o.context_lens = CTX_LENS;
            if (xb_decode(p, n, &o, &r) == XB_OK) {
                ok_count++;
                xb_free(r.data);
            } else {
                err_count++;
            }
            if (xb_decode_many(2, ptrs, sizes, &o, &b) == XB_OK) {
                xb_free(b.data);
                xb_free(b.offsets);
            }
        }
}

static void encode_all(xb_encoder *enc, const char *p, size_t n)
{
    int tiny, exact;
    for (tiny = 0; tiny < 2; tiny++)
        for (exact = 0; exact < 2; exact++) {
            xb_encode_options o;
            xb_encode_result r;
            uint32_t v[5];
            memset(&o, 0, sizeof(o));
            limits(tiny, v);
            o.max_size = v[0], o.max_depth = v[1], o.max_attributes = v[2], o.max_string = v[3];
            o.max_elements = v[4];
            o.exact = exact;
            o.allow_comments = tiny;
            o.open_root = -1;
            o.dictionary = 1;
            o.context_count = 2, o.context_data = CTX, o.context_lens = CTX_LENS;
            if (xb_encode(enc, p, n, &o, &r) == XB_OK)
                ok_count++;
            else
                err_count++;
        }
}

/* stream mode: [exact][budget] encoder and decoder states, and a scratch decoder */
static xb_stream *senc[2][2], *sdec[2][2], *sscratch;
static const uint32_t BUDGETS[2] = {64, 16384};

static void stream_unit(const char *p, size_t n, int open)
{
    int ex, bu;
    for (ex = 0; ex < 2; ex++)
        for (bu = 0; bu < 2; bu++) {
            xb_encode_options o;
            xb_decode_options dop;
            xb_encode_result r;
            xb_result dr;
            uint32_t v[5], secret = 1;
            char *body;
            size_t m, cut;
            memset(&o, 0, sizeof(o));
            memset(&dop, 0, sizeof(dop));
            limits(0, v);
            o.max_size = v[0], o.max_depth = v[1], o.max_attributes = v[2], o.max_string = v[3];
            o.max_elements = v[4];
            o.exact = ex;
            o.allow_comments = 1;
            o.open_root = open;
            o.dictionary = 1;
            dop.max_size = v[0], dop.max_depth = v[1], dop.max_attributes = v[2], dop.max_string = v[3];
            dop.max_elements = v[4];
            dop.allow_comments = 1;
            if (open) {
                xb_stream_reset(senc[ex][bu], BUDGETS[bu], ex);
                xb_stream_reset(sdec[ex][bu], BUDGETS[bu], ex);
            } else {
                o.context_count = 2, o.context_data = CTX, o.context_lens = CTX_LENS;
                dop.context_count = 2, dop.context_data = CTX, dop.context_lens = CTX_LENS;
            }
            if (xb_stream_encode(senc[ex][bu], p, n, &o, &secret, (size_t)(n & 1), &r) != XB_OK) {
                err_count++;
                continue;
            }
            ok_count++;
            m = r.size;
            body = malloc(m ? m : 1);
            if (!body)
                exit(4);
            if (m)
                memcpy(body, r.data, m);
            if (xb_stream_decode(sdec[ex][bu], body, m, open, &dop, &dr) == XB_OK) {
                ok_count++;
                xb_free(dr.data);
            } else {
                err_count++;
            }
            /* a truncated and a corrupted body, with the scratch state */
            cut = m ? (size_t)(n * 7u + 3u) % m : 0;
            xb_stream_reset(sscratch, BUDGETS[bu], ex);
            if (xb_stream_decode(sscratch, body, cut, open, &dop, &dr) == XB_OK) {
                ok_count++;
                xb_free(dr.data);
            } else {
                err_count++;
            }
            if (m) {
                body[(n * 13u) % m] ^= (char)(1u << (n % 8));
                if (xb_stream_decode(sscratch, body, m, open, &dop, &dr) == XB_OK) {
                    ok_count++;
                    xb_free(dr.data);
                } else {
                    err_count++;
                }
            }
            free(body);
        }
}

int main(void)
{
    xb_encoder *enc = xb_encoder_new();
    char tag;
    int ex, bu;
    if (!enc || xb_init() != 0)
        return 2;
    for (ex = 0; ex < 2; ex++)
        for (bu = 0; bu < 2; bu++)
            if (!(senc[ex][bu] = xb_stream_new(BUDGETS[bu], ex, 1)) || !(sdec[ex][bu] = xb_stream_new(BUDGETS[bu], ex, 1)))
                return 2;
    if (!(sscratch = xb_stream_new(64, 0, 1)))
        return 2;
    while (fread(&tag, 1, 1, stdin) == 1) {
        uint32_t n;
        char *buf;
        if (fread(&n, 4, 1, stdin) != 1)
            return 3;
        buf = malloc(n ? n : 1);
        if (!buf || (n && fread(buf, 1, n, stdin) != n))
            return 3;
        if (tag == 'D')
            decode_all(buf, n);
        else if (tag == 'O' || tag == 'U')
            stream_unit(buf, n, tag == 'O');
        else
            encode_all(enc, buf, n);
        free(buf);
    }
    xb_encoder_free(enc);
    for (ex = 0; ex < 2; ex++)
        for (bu = 0; bu < 2; bu++) {
            xb_stream_free(senc[ex][bu]);
            xb_stream_free(sdec[ex][bu]);
        }
    xb_stream_free(sscratch);
    printf("%lu ok, %lu errors\n", ok_count, err_count);
    return 0;
}
