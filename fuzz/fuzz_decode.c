/* libFuzzer target: the C decoder on arbitrary bytes (built with ASan + UBSan by fuzz/run.py).
 * The first input byte selects options (limits small or default, allow_comments), so
 * limit paths are reached too; the rest is the message. Every result must be a clean
 * success or a clean error: sanitizers catch the rest. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xmppbin.h"

static const char CTX[] = "jabber:clientstreamhttp://etherx.jabber.org/streams";
static const size_t CTX_LENS[4] = {0, 13, 6, 32};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xb_decode_options opt;
    xb_result res;
    uint8_t f = size ? data[0] : 0;
    memset(&opt, 0, sizeof(opt));
    opt.max_size = (f & 1) ? 512 : 1u << 20;
    opt.max_depth = (f & 2) ? 3 : 128;
    opt.max_attributes = (f & 4) ? 2 : 128;
    opt.max_string = (f & 8) ? 16 : 1u << 20;
    opt.max_elements = (f & 16) ? 4 : 65536;
    opt.allow_comments = (f >> 5) & 1;
    opt.context_count = (f & 64) ? 0 : 2;
    opt.context_data = CTX;
    opt.context_lens = CTX_LENS;
    if (size)
        data++, size--;
    if (xb_decode((const char *)data, size, &opt, &res) == XB_OK) {
        if (!res.data || res.size > opt.max_size)
            abort();
        xb_free(res.data);
    } else if (res.error == XB_OK || res.offset > size + opt.max_size) {
        abort();
    }
    return 0;
}
