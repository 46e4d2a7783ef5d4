/* libFuzzer target: the C encoder (strict XML scanner included) on arbitrary bytes,
 * built with ASan + UBSan by fuzz/run.py. The first byte selects options (small
 * limits, exact mode, comments, open_root); every result must be a clean success
 * (which then decodes back) or a clean error. One encoder is reused across inputs,
 * as a server would, so stale state between calls would show up too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xmppbin.h"

static const char CTX[] = "jabber:clientstreamhttp://etherx.jabber.org/streams";
static const size_t CTX_LENS[4] = {0, 13, 6, 32};
static xb_encoder *enc;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xb_encode_options opt;
    xb_decode_options dopt;
    xb_encode_result res;
    xb_result dres;
    uint8_t f = size ? data[0] : 0;
    if (!enc && !(enc = xb_encoder_new()))
        abort();
    memset(&opt, 0, sizeof(opt));
    opt.max_size = (f & 1) ? 512 : 1u << 20;
    opt.max_depth = (f & 2) ? 3 : 128;
    opt.max_attributes = (f & 2) ? 2 : 128;
    opt.max_string = (f & 4) ? 16 : 1u << 20;
    opt.max_elements = (f & 4) ? 4 : 65536;
    opt.exact = (f >> 3) & 1;
    opt.allow_comments = (f >> 4) & 1;
    opt.open_root = (int)((f >> 5) & 3) - 1; /* -1, 0, 1 (2 -> 1) */
    if (opt.open_root > 1)
        opt.open_root = 1;
    opt.dictionary = 1;
    opt.context_count = (f & 128) ? 0 : 2;
    opt.context_data = CTX;
    opt.context_lens = CTX_LENS;
    if (size)
        data++, size--;
    if (xb_encode(enc, (const char *)data, size, &opt, &res) != XB_OK) {
        if (res.error == XB_OK || res.offset > size + opt.max_size)
            abort();
        return 0;
    }
    if (!res.data || res.size > opt.max_size)
        abort();
    /* what encode accepts, decode accepts under the same limits */
    memset(&dopt, 0, sizeof(dopt));
    dopt.max_size = opt.max_size;
    dopt.max_depth = opt.max_depth;
    dopt.max_attributes = opt.max_attributes;
    dopt.max_string = opt.max_string;
    dopt.max_elements = opt.max_elements;
    dopt.allow_comments = opt.allow_comments;
    dopt.context_count = opt.context_count;
    dopt.context_data = CTX;
    dopt.context_lens = CTX_LENS;
    if (xb_decode(res.data, res.size, &dopt, &dres) != XB_OK)
        abort();
    /* exact mode gives the input back byte for byte */
    if (opt.exact && (dres.size != size || memcmp(dres.data, data, size) != 0))
        abort();
    xb_free(dres.data);
    return 0;
}
