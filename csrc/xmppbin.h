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
/* Work counter for tests (spec 8.11): the chain entries the copy search of
   this encoder has visited since it was created. */
uint64_t xb_encoder_copy_steps(const xb_encoder *enc);

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
/* The recent values (for tests): how many are table entries (neither empty
   nor a token); *stale: how many of those do not point into the table's
   live string buffer at the bytes of an equal live entry (0 unless a bug:
   spec 14.3's removal rule, the compaction's repointing). */
size_t xb_stream_recent_check(const xb_stream *s, size_t *stale);
/* ---- stream I/O path (csrc/split.c, csrc/frame.c; spec 14.1, 14.2, 14.5) ---- */
/* The unit splitter, the frame writer and parser and the feed loops: one
   feed call codes every unit or frame its input completes. */
#define XB_LIMIT_MAX_FRAME 6        /* xb_feed_result.limit: max_frame */
#define XB_LIMIT_MAX_TABLE_SIZE 7   /* xb_feed_result.limit: max_table_size (decoder) */
#define XB_FEED_DONE 0              /* every complete unit/frame was coded */
#define XB_FEED_PENDING 1           /* stopped before a unit/frame left to the caller */
#define XB_FEED_ERROR 2             /* error in xb_feed_result */
/* unit kinds (spec 14.1) = frame types (14.2) */
#define XB_UNIT_ELEMENT 0
#define XB_UNIT_TEXT 1
#define XB_UNIT_OPEN 2
#define XB_UNIT_CLOSE 3
/* a pending result only (xb_fdec_feed): a restart OPEN frame decoded by the loop,
   its event added, whose context the caller learns from its XML (res->unit) */
#define XB_UNIT_OPENED 6

typedef struct xb_feed_result {
    /* output of the call so far (also on PENDING and ERROR): frames (encoder),
       the XML of the events (decoder, splitter); owned by the feeder, valid
       until its next call */
    const unsigned char *data;
    size_t size;
    /* decoder, splitter: nevents (kind, offset into data, length) triples */
    const size_t *events;
    size_t nevents;
    /* XB_FEED_ERROR: as xb_result, offset from the start of the stream */
    int error;
    int limit;
    uint64_t offset;
    char message[256];
    /* XB_FEED_PENDING: the unit (encoder: its XML) or the frame (decoder: its
       payload) left to the caller, already consumed; valid until the next feed */
    int kind;
    const unsigned char *unit;
    size_t unit_size;
    uint64_t unit_offset; /* stream offset of the unit / of the payload */
    /* decoder, XB_FEED_DONE: bytes still needed before the frame it holds can
       complete or fail (1 while its header is unfinished; 0: nothing held), so
       a caller fed fewer bytes may keep them until it has that many */
    size_t need;
    /* encoder and decoder loops: the stream headers (OPEN units / frames) the
       call coded itself (see xb_hdrs), and of the last one: the context it
       opened (the index xb_hdrs_add gave its declarations; -1: the base
       context, an announcing OPEN frame), its table budget and exact flag */
    int headers;
    int header_ctx;
    uint32_t header_budget;
    int header_exact;
} xb_feed_result;

/* The splitter alone (XmlSplitter, spec 14.1): cuts raw XML stream bytes fed
   in any chunking into units, in linear time. feed: res->events are the
   units completed (data: their bytes, contiguous), returns XB_FEED_DONE or
   XB_FEED_ERROR (with the units before the error). close: the end of input,
   an unfinished unit (not whitespace) is an error. */
typedef struct xb_split xb_split;
xb_split *xb_split_new(uint32_t max_size, int in_stream);
void xb_split_free(xb_split *sp);
int xb_split_feed(xb_split *sp, const char *data, size_t size, xb_feed_result *res);
int xb_split_close(xb_split *sp, xb_feed_result *res);

/* Encoder feed loop (StreamEncoder.feed): split, code elements with the stream
   state st (borrowed: it must outlive the feeder) and opt (open_root 0, the
   context of the open stream), frame them and whitespace into res->data.
   Stops (XB_FEED_PENDING) before a stream header, an end tag (but that of
   the stream named by xb_fenc_set_stream), an element while !opened, and an
   element that may hold never-indexed values: one whose start tags include a
   local name from names (nnames strings, concatenated, lengths in name_lens;
   with their namespaces given by xb_fenc_secret_ns, only the elements it
   cannot settle itself), or every element if every_element. The caller codes
   that unit and feeds again (size 0 to go on). */
typedef struct xb_fenc xb_fenc;
xb_fenc *xb_fenc_new(xb_stream *st, uint32_t max_size, uint32_t max_frame, int in_stream, const char *names,
                     const size_t *name_lens, size_t nnames, int every_element);
void xb_fenc_free(xb_fenc *e);
/* The namespaces of the secret elements named by xb_fenc_new's names (one per
   name, concatenated, lengths in ns_lens): the loop then codes itself an
   element whose tags with those local names declare their own namespace (not
   a secret element, or a root holding only character data, its text then
   never indexed) instead of stopping before it. 0, or -1 out of memory. */
int xb_fenc_secret_ns(xb_fenc *e, const char *nss, const size_t *ns_lens);
/* The qname of the stream header the caller coded (NULL: none known): the
   loop then frames that header's end tag itself (CLOSE, empty for the plain
   "</qname>", else the tag's bytes) instead of stopping before it, and
   records it (xb_fenc_ended). Clears the record. 0, or -1 out of memory. */
int xb_fenc_set_stream(xb_fenc *e, const char *qname, size_t n);
/* 1: an end tag was framed by the loop since the last xb_fenc_set_stream */
int xb_fenc_ended(const xb_fenc *e);
int xb_fenc_feed(xb_fenc *e, const char *data, size_t size, int opened, const xb_encode_options *opt,
                 xb_feed_result *res);
/* End of input: trailing whitespace becomes a TEXT frame (res->data); an
   unfinished unit is an error. XB_FEED_DONE or XB_FEED_ERROR. */
int xb_fenc_flush(xb_fenc *e, xb_feed_result *res);

/* Decoder feed loop (StreamDecoder.feed): parse frames, decode ELEMENT frames
   with st (borrowed) and opt, check TEXT frames; events in res. Stops
   (XB_FEED_PENDING) after consuming an OPEN or CLOSE frame (the caller
   handles it and feeds again; see xb_fdec_set_stream). opened: an OPEN frame was seen (ELEMENT and
   CLOSE frames before one are errors). */
typedef struct xb_fdec xb_fdec;
xb_fdec *xb_fdec_new(xb_stream *st, uint32_t max_frame);
/* The qname of the stream header the caller decoded (NULL: none known): an
   empty CLOSE frame then gives a close event "</qname>" here (kind
   XB_UNIT_CLOSE) instead of stopping. 0, or -1 out of memory. */
int xb_fdec_set_stream(xb_fdec *d, const char *qname, size_t n);
void xb_fdec_free(xb_fdec *d);
int xb_fdec_feed(xb_fdec *d, const char *data, size_t size, int opened, const xb_decode_options *opt,
                 xb_feed_result *res);
/* Bytes held (an unfinished frame); *end: the stream offset after them. */
size_t xb_fdec_held(const xb_fdec *d, uint64_t *end);
/* Keep size bytes that cannot complete the frame being received (fewer than
   the need of the last XB_FEED_DONE) without parsing: 1 (kept, nothing to
   decode), 0 (not kept: call xb_fdec_feed), -1 (out of memory, not kept).
   xb_fdec_feed does this first itself. */
int xb_fdec_hold(xb_fdec *d, const char *data, size_t size);
/* The stream-header contexts of one option set (csrc/frame.c), shared by the
   feeders of the streams coded with those options: the options of the base
   context (encoder: xb_encode_options with open_root 1, for a header's body;
   decoder: xb_decode_options, for a header's body and the elements after an
   announcing OPEN frame), and per known set of namespace declarations of a
   stream header (its signature: "attribute\0value\0" per xmlns or xmlns:p
   attribute of the root start tag, in document order) the element options of
   the context that header opens. The options are borrowed (they must outlive
   the set); the set must outlive the feeders given it. xb_hdrs_add may run
   while feeders read the set in other threads (entries are published
   atomically, never changed): it returns the entry's index, or -1 (the set
   is full, or out of memory). */
typedef struct xb_hdrs xb_hdrs;
xb_hdrs *xb_hdrs_new(const void *base_options);
int xb_hdrs_add(xb_hdrs *h, const char *sig, size_t n, const void *options);
void xb_hdrs_free(xb_hdrs *h);
/* With a set (NULL: none), the encoder loop codes a stream header itself
   when it can read its root start tag simply (as xmppbin/_cstream.py's
   header_root), the root's name is an ASCII QName and the set knows its
   declarations: the state reset with budget and exact, the OPEN frame,
   the header's end tag named (xb_fenc_set_stream) and the elements after it
   coded with that context's options (res->headers, header_ctx). Others stop
   the loop as before. Not with every_element. */
void xb_fenc_set_headers(xb_fenc *e, xb_hdrs *h, uint32_t budget, int exact);
/* A StreamEncoder's C side in one call: a stream state (xb_stream_new with
   budget and exact) owned by a loop (xb_fenc_new; xb_fenc_free frees both),
   the secret elements' namespaces (xb_fenc_secret_ns, when nnames) and the
   header set (xb_fenc_set_headers with budget and exact, when hdrs). NULL out
   of memory or with a budget too large. */
xb_fenc *xb_fenc_open(uint32_t budget, int exact, uint32_t max_size, uint32_t max_frame, int in_stream,
                      const char *names, const size_t *name_lens, size_t nnames, const char *nss,
                      const size_t *ns_lens, int every_element, xb_hdrs *hdrs);
/* the stream state of a loop made by xb_fenc_open (or given to xb_fenc_new) */
xb_stream *xb_fenc_state(const xb_fenc *e);
/* With a set (NULL: none), the decoder loop decodes an OPEN frame itself:
   the checks of the reference (budget varint, max_table_size, format version,
   kind and reserved bits), then, for dictionary 1, the reset, the header's
   body and its "open" event (kind XB_UNIT_OPEN), its root's qname named
   (xb_fdec_set_stream) and the context the set knows for its declarations
   (res->headers, header_ctx, header_budget, header_exact); an announcing
   OPEN frame too. Other OPEN frames stop the loop as before (the caller
   decodes them from the start: the state it reset and the header it decoded
   are reset again). */
void xb_fdec_set_headers(xb_fdec *d, xb_hdrs *h, uint32_t max_table_size);
/* A StreamDecoder's C side in one call: a stream state (xb_stream_new, its
   budget and mode set by the first OPEN frame) owned by a loop (xb_fdec_new;
   xb_fdec_free frees both) and the header set (xb_fdec_set_headers, when
   hdrs). NULL out of memory. */
xb_fdec *xb_fdec_open(uint32_t max_frame, xb_hdrs *hdrs, uint32_t max_table_size);
/* the stream state of a loop made by xb_fdec_open (or given to xb_fdec_new) */
xb_stream *xb_fdec_state(const xb_fdec *d);
/* The qname of the open stream (xb_fenc_set_stream, xb_fdec_set_stream or a
   header the loop coded), or NULL. */
const char *xb_fenc_stream_name(const xb_fenc *e, size_t *n);
const char *xb_fdec_stream_name(const xb_fdec *d, size_t *n);
/* Test hook: how many element units the loop took at a guessed end (the
   splitter's candidate path, csrc/split.c) and how many of those the scan
   rejected (then split by reading their tags), since xb_fenc_new. */
void xb_fenc_candidates(const xb_fenc *e, uint64_t *taken, uint64_t *undone);
/* The bytes a stream state holds (capacities of every allocation reachable
   from it: the struct, the dynamic table's entries and string buffers, the
   recent values, the shape keys, the prediction slots, and the buffers the
   encoder and the decoder keep between messages). The feeders' (xb_fenc,
   xb_fdec) frame and unit buffers are not included. */
size_t xb_stream_footprint(const xb_stream *s);
/* CDEF-END */

#ifdef __cplusplus
}
#endif

#endif
