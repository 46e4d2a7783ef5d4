/*
 * Pieces shared by the scanner (scan.c), the encoder (encode.c) and the
 * stream coder (stream.c) that belong to none of them: reporting an error
 * into the call's xb_encode_result, and the constants of the hashing in
 * xb_enc.h (the seed is set once by the encoder's table initialization).
 * Depends on nothing but the C library.
 */
#include <stdarg.h>
#include <stdio.h>

#include "xb_enc.h"

/* ---- errors and memory ------------------------------------------------------------ */
int xb_enc_error(xb_encoder *e, int code, size_t offset, int limit, const char *fmt, ...)
{
    va_list ap;
    e->res->error = code;
    e->res->offset = offset;
    e->res->limit = limit;
    va_start(ap, fmt);
    vsnprintf(e->res->message, sizeof(e->res->message), fmt, ap);
    va_end(ap);
    return code;
}

int xb_enc_nomem(xb_encoder *e)
{
    return xb_enc_error(e, XB_ERR_NOMEM, 0, XB_LIMIT_NONE, "out of memory");
}


/* ---- hashing ------------------------------------------------------------------------ */
uint64_t xb_hash_seed;
const char xb_zeros16[16];
#define M8(k) ((k) >= 8 ? ~0ull : (1ull << ((8 * (k)) & 63)) - 1) /* & 63: clang checks the dead branch too */
#define M16(n) {M8((n) < 8 ? (n) : 8), M8((n) > 8 ? (n) - 8 : 0)}
const uint64_t xb_mask16[17][2] = {M16(0),  M16(1),  M16(2),  M16(3),  M16(4),  M16(5),
                                   M16(6),  M16(7),  M16(8),  M16(9),  M16(10), M16(11),
                                   M16(12), M16(13), M16(14), M16(15), M16(16)};
#undef M16
#undef M8
