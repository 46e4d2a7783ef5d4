/* Leak and memory-error check of the C core, built with -fsanitize=address,undefined
 * by tests/test_c_leaks.py. Reads length-prefixed inputs from stdin:
 *   'D' u32 n bytes   decode the message
 *   'E' u32 n bytes   encode the XML
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

int main(void)
{
    xb_encoder *enc = xb_encoder_new();
    char tag;
    if (!enc || xb_init() != 0)
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
        else
            encode_all(enc, buf, n);
        free(buf);
    }
    xb_encoder_free(enc);
    printf("%lu ok, %lu errors\n", ok_count, err_count);
    return 0;
}
