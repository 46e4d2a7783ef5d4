/*
 * xmppbin C core: public interface.
 *
 * The decoder is byte-for-byte and error-for-error identical to the reference
 * implementation xmppbin/decoder.py: same output, same error class (code) and
 * same byte offset for every input; messages may be worded differently.
 *
 * The declarations between the CDEF markers are also given to cffi
 * (csrc/build_ffi.py), so they must stay plain C without preprocessor logic.
 */
#ifndef XMPPBIN_H
#define XMPPBIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* CDEF-BEGIN */
/* error codes (xb_result.error); the Python classes are in xmppbin/errors.py */
#define XB_OK 0
#define XB_ERR_TRUNCATED 1          /* TruncatedError */
#define XB_ERR_TRAILING 2           /* TrailingDataError */
#define XB_ERR_UNKNOWN_DICTIONARY 3 /* UnknownDictionaryError */
#define XB_ERR_INVALID 4            /* InvalidDataError */
#define XB_ERR_LIMIT 5              /* DecodeLimitError, see xb_result.limit */
#define XB_ERR_RESTRICTED 6         /* RestrictedXMLDecodeError */
#define XB_ERR_NOMEM 7              /* out of memory (MemoryError) */
#define XB_ERR_INIT 8               /* the dictionary tables could not be built */

/* which limit (xb_result.limit) */
#define XB_LIMIT_NONE 0
#define XB_LIMIT_MAX_SIZE 1
#define XB_LIMIT_MAX_DEPTH 2
#define XB_LIMIT_MAX_ATTRIBUTES 3
#define XB_LIMIT_MAX_STRING 4
#define XB_LIMIT_MAX_ELEMENTS 5

typedef struct xb_decode_options {
    /* limits (xmppbin/limits.py), each 1..2**31-1 */
    uint32_t max_size;
    uint32_t max_depth;
    uint32_t max_attributes;
    uint32_t max_string;
    uint32_t max_elements;
    int allow_comments;
    /* namespace context: context_count (prefix, URI) pairs of UTF-8 strings,
       concatenated in context_data as prefix0 uri0 prefix1 uri1 ..., with
       their byte lengths in context_lens[0 .. 2 * context_count - 1].
       Later pairs override earlier ones with the same prefix. */
    size_t context_count;
    const char *context_data;
    const size_t *context_lens;
} xb_decode_options;

typedef struct xb_result {
    unsigned char *data; /* output (UTF-8 XML) on success; release with xb_free */
    size_t size;
    int error;     /* XB_OK or XB_ERR_* */
    int limit;     /* XB_LIMIT_* for XB_ERR_LIMIT */
    size_t offset; /* byte offset into the message */
    char message[256];
} xb_result;

/* Build the static tables; called automatically, idempotent and thread-safe. */
int xb_init(void);

/* Decode one message. Returns res->error. On success res->data holds
   res->size bytes (res->data is never NULL then, even for size 0). */
int xb_decode(const char *data, size_t size, const xb_decode_options *opt, xb_result *res);

/* Many messages in one call (one FFI crossing, decoder state reused).
   On success data holds all outputs concatenated, message i in
   data[offsets[i] .. offsets[i + 1]); release data and offsets with xb_free.
   On error, index is the failing message and error describes it. */
typedef struct xb_batch {
    unsigned char *data;
    size_t size;
    size_t *offsets;
    size_t index;
    xb_result error;
} xb_batch;

int xb_decode_many(size_t n, const char *const *datas, const size_t *sizes, const xb_decode_options *opt,
                   xb_batch *res);

/* ---- encoder ---- */
/* Encoder errors (xb_encode_result.error): XB_ERR_MALFORMED is MalformedXMLError,
   XB_ERR_RESTRICTED RestrictedXMLEncodeError, XB_ERR_LIMIT EncodeLimitError;
   offsets are byte offsets into the XML input. */
#define XB_ERR_MALFORMED 9

typedef struct xb_encode_options {
    /* limits (xmppbin/limits.py), each 1..2**31-1 */
    uint32_t max_size;
    uint32_t max_depth;
    uint32_t max_attributes;
    uint32_t max_string;
    uint32_t max_elements;
    int exact;          /* exact (byte-preserving) mode */
    int allow_comments;
    int open_root;      /* -1: auto (None), 0: complete element (False), 1: stream header (True) */
    int dictionary;     /* dictionary id (1) */
    /* namespace context, as in xb_decode_options */
    size_t context_count;
    const char *context_data;
    const size_t *context_lens;
} xb_encode_options;

typedef struct xb_encode_result {
    const char *data; /* output on success, owned by the encoder: valid until its next call */
    size_t size;
    int error;        /* XB_OK or XB_ERR_* */
    int limit;        /* XB_LIMIT_* for XB_ERR_LIMIT */
    size_t offset;    /* byte offset into the (failing) XML input */
    size_t index;     /* xb_encode_many: the failing input */
    char message[256];
} xb_encode_result;

/* Reusable encoder state (buffers kept between calls). One per thread. */
typedef struct xb_encoder xb_encoder;
xb_encoder *xb_encoder_new(void);
void xb_encoder_free(xb_encoder *enc);

/* Encode one UTF-8 XML input (xmppbin.encoder.encode). Returns res->error. */
int xb_encode(xb_encoder *enc, const char *xml, size_t size, const xb_encode_options *opt,
              xb_encode_result *res);

/* The same for bindings (fewer arguments and result reads): the result is
   kept in the encoder (xb_encoder_result). Returns the message size, or -1 on
   error; a message of at most cap bytes is also copied to out. */
int64_t xb_encode_into(xb_encoder *enc, const char *xml, size_t size, const xb_encode_options *opt, char *out,
                       size_t cap);
xb_encode_result *xb_encoder_result(xb_encoder *enc);
/* Bind options and an output buffer to an encoder for xb_encode_bound, which
   is xb_encode_into(enc, xml, size, opt, out, cap) with the bound arguments;
   they must stay valid while bound. */
void xb_encoder_bind(xb_encoder *enc, const xb_encode_options *opt, char *out, size_t cap);
int64_t xb_encode_bound(xb_encoder *enc, const char *xml, size_t size);

/* Encode count inputs, concatenated in data with their sizes in sizes[], in one
   call. On success res->data holds all messages concatenated, message i ending
   at ends[i]. On error res->index is the failing input. */
int xb_encode_many(xb_encoder *enc, size_t count, const char *data, const size_t *sizes,
                   const xb_encode_options *opt, size_t *ends, xb_encode_result *res);
/* The same with input i at datas[i] (NULL: empty) instead of concatenated. */
int xb_encode_many_ptrs(xb_encoder *enc, size_t count, const char *const *datas, const size_t *sizes,
                        const xb_encode_options *opt, size_t *ends, xb_encode_result *res);

/* Release an output buffer (NULL is allowed). */
void xb_free(void *p);

/* ---- stream mode (csrc/stream.c; spec section 14.3) ---- */
/* The state one direction of a stream carries between its messages: the
   dynamic table (budget in bytes), the shape cache with node prediction, the
   recent values per value context and the exact-mode style. NULL if out of
   memory, dictionary is not 1 or budget is above 2**24. Frames stay with the
   caller. */
typedef struct xb_stream xb_stream;
xb_stream *xb_stream_new(uint32_t budget, int exact, int dictionary);
void xb_stream_free(xb_stream *s);
/* What an OPEN frame does: the state emptied, with this budget and mode
   (-1, nothing done, for a budget above 2**24). */
int xb_stream_reset(xb_stream *s, uint32_t budget, int exact);
/* Encode one stream message body (spec 14.2: the never-indexed list, the main
   stream, the lexical section): opt->open_root 1 for a stream header, 0 for
   an element; secrets: the never-indexed value ordinals, increasing. The
   output (res->data) is owned by the state, valid until its next call. Out of
   memory empties the state. Returns res->error. */
int xb_stream_encode(xb_stream *s, const char *xml, size_t size, const xb_encode_options *opt,
                     const uint32_t *secrets, size_t nsecrets, xb_encode_result *res);
/* Decode one stream message body (open: a stream header's, else an
   element's) with the state: res as xb_decode (res->data for xb_free), error
   offsets into the body. */
int xb_stream_decode(xb_stream *s, const char *body, size_t size, int open, const xb_decode_options *opt,
                     xb_result *res);
/* The dynamic table (for tests): its entries, oldest first. */
size_t xb_stream_table_len(const xb_stream *s);
const char *xb_stream_table_entry(const xb_stream *s, size_t i, size_t *len);
/* CDEF-END */

#ifdef __cplusplus
}
#endif

#endif
