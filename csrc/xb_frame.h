/*
 * Stream I/O path (spec 14.1, 14.2), internal header: the unit splitter
 * (csrc/split.c) as used by the feed loops (csrc/frame.c), and the growable
 * byte buffer both use. Depends only on xmppbin.h (the public API: the
 * stream state, xb_stream_encode/xb_stream_decode, the error codes).
 */
#ifndef XB_FRAME_H
#define XB_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "xmppbin.h"

/* an empty result: no output, no error, no unit */
static inline void xb_feed_reset(xb_feed_result *res)
{
    res->data = NULL;
    res->size = 0;
    res->events = NULL;
    res->nevents = 0;
    res->error = XB_OK;
    res->limit = XB_LIMIT_NONE;
    res->offset = 0;
    res->message[0] = 0;
    res->kind = 0;
    res->unit = NULL;
    res->unit_size = 0;
    res->unit_offset = 0;
    res->need = 0;
    res->headers = 0;
    res->header_ctx = -1;
    res->header_budget = 0;
    res->header_exact = 0;
}

/* a growable byte buffer: live bytes p[head .. len) */
typedef struct xb_bytes {
    unsigned char *p;
    size_t head, len, cap;
} xb_bytes;

/* the live bytes (never NULL, so p + 0 is defined even before the first push) */
static inline unsigned char *xb_bytes_live(const xb_bytes *b)
{
    static unsigned char empty[1];
    return b->p ? b->p + b->head : empty;
}

/* append n bytes (after moving the live bytes to the front); 0, or -1 out of memory */
int xb_bytes_push(xb_bytes *b, const void *data, size_t n);
/* room for n more bytes at p + len; NULL out of memory */
unsigned char *xb_bytes_reserve(xb_bytes *b, size_t n);
void xb_bytes_release(xb_bytes *b);
/* give back memory a large feed left behind: when more than keep bytes are
   allocated and at most a quarter of them live, shrink to max(2 * live, keep) */
void xb_bytes_trim(xb_bytes *b, size_t keep);
/* buffers above this size are trimmed after each feed (a server holds many feeders) */
#define XB_FEED_KEEP 65536

/* a resumable search (a tag's end, a terminator, a whitespace run) */
typedef struct xb_find {
    int valid;
    int mode;
    size_t start; /* where the search began (key, with mode) */
    size_t pos;   /* how far it has looked */
    int quote;    /* generic tag scan: the open quote, or 0 */
} xb_find;

/* The splitter of XmlSplitter (xmppbin/stream.py): same boundaries, same
   errors and offsets, for any chunking, in linear time. Positions below are
   relative to the current unit's start (buf.p + buf.head). */
struct xb_split {
    xb_bytes buf;
    uint64_t base;     /* stream offset of the current unit's start */
    uint32_t max_size;
    int depth;         /* 1: inside the stream element */
    unsigned char *name; /* the stream header's qname (has_name) */
    size_t name_len;
    int has_name;
    size_t r_i;        /* resume point of an unfinished element */
    int64_t r_depth;
    size_t ws;         /* leading whitespace bytes known */
    size_t dws;        /* after an XML declaration: where its whitespace ends (0: unknown) */
    int element;       /* the unit's first tag is known to start an element */
    xb_find f[2];      /* [0] searches from the unit start, [1] from inside it */
    /* the candidate path (set by the caller: it scans every element unit it is
       given before using it): an element's end is guessed as its first
       matching end tag, without reading its tags, and the unit returned with
       cand set; the caller calls xb_split_undo if the scan rejects it */
    int fast;          /* candidates allowed (the caller's flag) */
    int cand;          /* the unit just returned is a candidate */
    int nofast;        /* this unit's candidate was rejected: its tags are read */
    size_t cand_n;     /* the candidate's size (for xb_split_undo) */
    uint64_t ncand, nundo; /* candidates returned, and undone (xb_fenc_candidates) */
    /* xb_split_feed's units: (kind, offset, length) triples */
    size_t *ev;
    size_t ev_n, ev_cap;
};

/* an empty splitter in place (as xb_split_new); release with xb_split_release */
void xb_split_init(xb_split *sp, uint32_t max_size, int in_stream);
void xb_split_release(xb_split *sp);
/* append (kind, offset, length) to a triple array; -1 out of memory */
int xb_events_push(size_t **ev, size_t *n, size_t *cap, size_t kind, size_t off, size_t len);

/* The next unit: 1 (kind, *data, *size and *offset set; data valid until the
   next push), 0 (more input needed; checks max_size then), or -1 (error in
   err: error, limit, offset, message). */
int xb_split_step(xb_split *sp, int *kind, const unsigned char **data, size_t *size, uint64_t *offset,
                  xb_feed_result *err);
/* The candidate just returned (cand set) was rejected by the caller's scan: it
   goes back, and the next step finds this unit's end by reading its tags. */
void xb_split_undo(xb_split *sp);
/* The bytes held (an unfinished unit or whitespace that may go on). */
size_t xb_split_held(const xb_split *sp, const unsigned char **data);
/* Drop the held bytes (the whitespace flushed at the end of input). */
void xb_split_drop(xb_split *sp);

/* error helper shared by split.c and frame.c */
void xb_feed_error(xb_feed_result *r, int error, int limit, uint64_t offset, const char *fmt, ...);

#endif
