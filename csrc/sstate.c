/*
 * The state a stream carries from one message to the next (spec section
 * 14.3), shared by the coder (csrc/encode.c) and the decoder (csrc/decode.c)
 * in stream mode: the dynamic table, the recent values, the shape cache's
 * prediction slots, and the stream code set (with the value token map the
 * recallable test uses). It codes nothing and reads no bits:
 * xmppbin/encoder.py's StreamState, History with a budget, Entry.
 */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdlib.h>
#include <string.h>

#include "xb_stream.h"

#ifdef _WIN32
#include <windows.h>
#else
#include <pthread.h>
#endif

/* ---- static tables: the stream code set as (code << 5) | length, token maps ------- */
const xb_dictionary *xb_sdict;
uint32_t *xb_scode[XB_NTABLES]; /* xb_scode[t][ctx * nsym + s] */
uint32_t xb_snsym[XB_NTABLES];
uint32_t xb_sn_pred;
static uint8_t sclen[XB_CHAR_CONTEXTS][256];
const uint8_t (*const xb_sclen)[256] = sclen;

xb_smap xb_value_map;
static int s_status = -1;

/* The state's string hash: 8 bytes at a time (the last 8 overlapping), in
 * native byte order; it never leaves the process (no format depends on it). */
uint64_t xb_shash(const char *p, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ull * ((uint64_t)n + 1), w;
    if (n > 8) {
        const char *end = p + n;
        while (end - p > 8) {
            h = (h ^ xb_load64(p)) * 0xbf58476d1ce4e5b9ull;
            h ^= h >> 31;
            p += 8;
        }
        w = xb_load64(end - 8);
    } else if (n >= 4) {
        w = (uint64_t)xb_load32(p) << 32 | (uint64_t)xb_load32(p + n - 4);
    } else if (n) {
        w = (uint64_t)(uint8_t)p[0] << 16 | (uint64_t)(uint8_t)p[n / 2] << 8 | (uint8_t)p[n - 1];
    } else {
        w = 0;
    }
    h = (h ^ w) * 0x94d049bb133111ebull;
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ull;
    return h ^ (h >> 32);
}

static int smap_build(xb_smap *m, const xb_str *list, size_t n)
{
    size_t cap = 16, i;
    while (cap < 4 * n)
        cap *= 2;
    m->slot = calloc(cap, sizeof(*m->slot));
    if (!m->slot)
        return -1;
    m->mask = (uint32_t)(cap - 1);
    m->list = list;
    for (i = 0; i < n; i++) {
        size_t k = (size_t)xb_shash(list[i].p, list[i].n) & m->mask;
        while (m->slot[k]) {
            const xb_str *o = &list[m->slot[k] - 1];
            if (o->n == list[i].n && (o->n == 0 || memcmp(o->p, list[i].p, o->n) == 0))
                break; /* a duplicate: the last index wins, as in the reference's dict */
            k = (k + 1) & m->mask;
        }
        m->slot[k] = (uint32_t)i + 1;
    }
    return 0;
}

/* index of s, or -1 */
int xb_smap_get(const xb_smap *m, const char *p, size_t n, uint64_t h)
{
    size_t k = (size_t)h & m->mask;
    while (m->slot[k]) {
        const xb_str *o = &m->list[m->slot[k] - 1];
        if (o->n == n && xb_bytes_eq(o->p, p, n))
            return (int)m->slot[k] - 1;
        k = (k + 1) & m->mask;
    }
    return -1;
}

static void s_init(void)
{
    int t;
    size_t i;
    if (xb_dict_init() != 0 || !(xb_sdict = xb_get_dictionary(1))) {
        s_status = 1;
        return;
    }
    for (t = 0; t < XB_NTABLES; t++) {
        uint32_t c, nsym = xb_sdict->stream_nsym[t];
        if (!xb_sdict->stream_codes[t]) {
            s_status = 1;
            return;
        }
        xb_snsym[t] = nsym;
        xb_scode[t] = calloc((size_t)xb_sdict->stream_nctx[t] * nsym, sizeof(uint32_t));
        if (!xb_scode[t]) {
            s_status = 1;
            return;
        }
        for (c = 0; c < xb_sdict->stream_nctx[t]; c++) {
            xb_code_words(&xb_sdict->stream_codes[t][c], xb_scode[t] + (size_t)c * nsym);
        }
    }
    xb_sn_pred = xb_snsym[XB_T_NODE] - 1;
    if (xb_sdict->stream_nctx[XB_T_CHAR] != XB_CHAR_CONTEXTS || xb_snsym[XB_T_CHAR] != 256) {
        s_status = 1;
        return;
    }
    for (i = 0; i < XB_CHAR_CONTEXTS * 256; i++) {
        sclen[i / 256][i % 256] = (uint8_t)(xb_scode[XB_T_CHAR][i] & 31u);
        if (sclen[i / 256][i % 256] > 24) { /* the encoder's put_chars relies on it */
            s_status = 1;
            return;
        }
    }
    if (smap_build(&xb_value_map, xb_sdict->values, xb_sdict->nvalues)) {
        s_status = 1;
        return;
    }
    s_status = 0;
}

#ifdef _WIN32
static INIT_ONCE s_once = INIT_ONCE_STATIC_INIT;
static BOOL CALLBACK s_init_cb(PINIT_ONCE o, PVOID p, PVOID *ctx)
{
    (void)o;
    (void)p;
    (void)ctx;
    s_init();
    return TRUE;
}
int xb_stream_tables(void)
{
    InitOnceExecuteOnce(&s_once, s_init_cb, NULL, NULL);
    return s_status;
}
#else
static pthread_once_t s_once = PTHREAD_ONCE_INIT;
int xb_stream_tables(void)
{
    if (pthread_once(&s_once, s_init) != 0)
        return -1;
    return s_status;
}
#endif


/* ---- the dynamic table (history.History with a budget) ---------------------------- */
/* The index: a slot is (uint32_t)h << 32 | seq; its home is (uint32_t)h & mask. */
static inline uint64_t tslot(uint64_t h, uint32_t seq)
{
    return (uint64_t)(uint32_t)h << 32 | seq;
}

static void tidx_put(xb_stream *s, uint64_t h, uint32_t seq)
{
    size_t k = (uint32_t)h & s->tidx_mask;
    while (s->tidx[k])
        k = (k + 1) & s->tidx_mask;
    s->tidx[k] = tslot(h, seq);
}

/* the slot holding (h, seq), which is there (SIZE_MAX, unreachable, if not:
 * the probe ends at an empty slot, never loops) */
static size_t tidx_slot(const xb_stream *s, uint64_t h, uint32_t seq)
{
    uint64_t want = tslot(h, seq);
    size_t k = (uint32_t)h & s->tidx_mask;
    while (s->tidx[k] != want) {
        if (!s->tidx[k])
            return SIZE_MAX;
        k = (k + 1) & s->tidx_mask;
    }
    return k;
}

/* remove (h, seq): backward-shift deletion, no tombstones */
static void tidx_del(xb_stream *s, uint64_t h, uint32_t seq)
{
    size_t m = s->tidx_mask, k = tidx_slot(s, h, seq), j = k;
    if (k == SIZE_MAX)
        return;
    for (;;) {
        size_t home;
        j = (j + 1) & m;
        if (!s->tidx[j])
            break;
        home = (uint32_t)(s->tidx[j] >> 32) & m;
        /* slot j may move to the hole at k unless its home lies in (k, j] */
        if (k <= j ? (home <= k || home > j) : (home <= k && home > j)) {
            s->tidx[k] = s->tidx[j];
            k = j;
        }
    }
    s->tidx[k] = 0;
}

/* the records to the start of tab_mem, seqs 1 .. ntab, the index rebuilt
 * with at least 2 * need slots; -1 out of memory (the state unchanged) */
static int tab_renumber(xb_stream *s, size_t need)
{
    size_t cap = 16, i;
    while (cap < 2 * need)
        cap *= 2;
    if (!s->tidx || cap > s->tidx_mask + 1) {
        uint64_t *t = calloc(cap, sizeof(*t));
        if (!t)
            return -1;
        free(s->tidx);
        s->tidx = t;
        s->tidx_mask = cap - 1;
    } else {
        memset(s->tidx, 0, (s->tidx_mask + 1) * sizeof(*s->tidx));
    }
    if (s->tab != s->tab_mem && s->ntab)
        memmove(s->tab_mem, s->tab, s->ntab * sizeof(*s->tab));
    s->tab = s->tab_mem;
    for (i = 0; i < s->ntab; i++) {
        s->tab[i].seq = (uint32_t)i + 1;
        tidx_put(s, s->tab[i].h, s->tab[i].seq);
    }
    s->tseq = (uint32_t)s->ntab + 1;
    return 0;
}

void xb_stab_clear(xb_stream *s)
{
    s->tab = s->tab_mem;
    s->ntab = 0;
    s->tsize = 0;
    s->tused = 0;
    s->tseq = 1;
    if (s->tidx)
        memset(s->tidx, 0, (s->tidx_mask + 1) * sizeof(*s->tidx));
}

/* the position in tab of the entry with seq (it is live: tab is sorted by seq) */
static size_t tab_pos(const xb_stream *s, uint32_t seq)
{
    size_t lo = 0, hi = s->ntab;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->tab[mid].seq <= seq)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* recency index of the newest entry equal to (p, n), or -1 */
long xb_stab_find(const xb_stream *s, const char *p, size_t n, uint64_t h)
{
    size_t k, best = 0;
    uint32_t tag = (uint32_t)h, bseq = 0;
    int found = 0;
    if (!s->ntab)
        return -1;
    for (k = tag & s->tidx_mask; s->tidx[k]; k = (k + 1) & s->tidx_mask) {
        uint32_t seq = (uint32_t)s->tidx[k];
        size_t i;
        const xb_tent *t;
        if ((uint32_t)(s->tidx[k] >> 32) != tag || (found && seq < bseq))
            continue;
        i = tab_pos(s, seq);
        t = &s->tab[i];
        if (t->h == h && t->n == n && xb_bytes_eq(xb_stab_bytes(s, t), p, n)) {
            best = i;
            bseq = seq;
            found = 1;
        }
    }
    return found ? (long)(s->ntab - 1 - best) : -1;
}

/* the next seq, renumbering when it would overflow; -1 out of memory */
static int next_seq(xb_stream *s, uint32_t *seq)
{
    if (s->tseq == UINT32_MAX && tab_renumber(s, s->ntab + 1))
        return -1;
    *seq = s->tseq++;
    return 0;
}

/* a reference to entry i: it moves to the front; -1 out of memory (only when
 * the seqs are renumbered, once in 2**32 references; the table unchanged) */
int xb_stab_use(xb_stream *s, size_t i)
{
    if (i && i < s->ntab) {
        size_t k = s->ntab - 1 - i;
        xb_tent e;
        uint32_t seq;
        size_t slot;
        if (next_seq(s, &seq))
            return -1;
        /* (a renumbering keeps the order: the entry is still at k) */
        e = s->tab[k];
        slot = tidx_slot(s, e.h, e.seq);
        if (slot != SIZE_MAX)
            s->tidx[slot] = tslot(e.h, seq);
        e.seq = seq;
        memmove(&s->tab[k], &s->tab[k + 1], i * sizeof(*s->tab));
        s->tab[s->ntab - 1] = e;
    }
    return 0;
}

/* the recent values that may be table entries (StreamState._gone) */
static inline int listed_entry(const xb_sstr *v)
{
    return v->n && !v->tok;
}

static inline void listed_add(xb_stream *s, const xb_sstr *v)
{
    if (v->n)
        s->rlisted[v->h & (XB_RLISTED - 1)]++;
}

static inline void listed_del(xb_stream *s, const xb_sstr *v)
{
    if (v->n)
        s->rlisted[v->h & (XB_RLISTED - 1)]--;
}

/* What recent_sweep does to each listed value that is a table entry */
enum {
    SWEEP_REPOINT, /* point it to the bytes of a live entry equal to it in
                    * tbytes (after a compaction moved them; the old bytes
                    * still readable where it points). Every such value has
                    * one (the removal rule); one without (a bug) leaves. */
    SWEEP_DROP,    /* (p, n) is no longer a live entry: a value equal to it leaves */
    SWEEP_ALL      /* the table was emptied: every one leaves */
};

/* one pass over every recent list (tokens and empty values stay; the lists keep their order) */
static void recent_sweep(xb_stream *s, int what, const char *p, size_t n, uint64_t h)
{
    size_t c, j, k;
    if (!s->recent)
        return;
    for (c = 0; c < s->nvctx; c++) {
        xb_recent *r = &s->recent[c];
        for (j = k = 0; j < r->n; j++) {
            xb_sstr *v = &r->v[j];
            if (listed_entry(v)) {
                int gone;
                if (what == SWEEP_ALL) {
                    gone = 1;
                } else if (what == SWEEP_DROP) {
                    gone = v->h == h && v->n == n && xb_bytes_eq(v->p, p, n);
                } else {
                    long i = xb_stab_find(s, v->p, v->n, v->h);
                    gone = i < 0;
                    if (!gone)
                        v->p = xb_stab_bytes(s, &s->tab[s->ntab - 1 - (size_t)i]);
                }
                if (gone) {
                    listed_del(s, v);
                    continue;
                }
            }
            r->v[k++] = *v;
        }
        r->n = (uint8_t)k;
    }
}

static void recent_repoint(xb_stream *s)
{
    recent_sweep(s, SWEEP_REPOINT, NULL, 0, 0);
}

static void recent_drop(xb_stream *s, const char *p, size_t n, uint64_t h)
{
    if (s->recent && s->rlisted[h & (XB_RLISTED - 1)])
        recent_sweep(s, SWEEP_DROP, p, n, h);
}

static void recent_drop_all(xb_stream *s)
{
    recent_sweep(s, SWEEP_ALL, NULL, 0, 0);
}

/* History.add; -1 out of memory */
int xb_stab_add(xb_stream *s, const char *p, size_t n, uint64_t h)
{
    uint64_t size = (uint64_t)n + 32;
    size_t drop = 0, i, head = s->tab_mem ? (size_t)(s->tab - s->tab_mem) : 0;
    uint32_t seq;
    if (size > s->budget) {
        xb_stab_clear(s);
        recent_drop_all(s);
        return 0;
    }
    if (head + s->ntab + 1 > s->cap_tab) {
        if (s->ntab + 1 > s->cap_tab / 2) { /* at most half full after the move */
            void *np = xb_grow(s->tab_mem, &s->cap_tab, 2 * (s->ntab + 1), sizeof(*s->tab));
            if (!np)
                return -1;
            s->tab_mem = np;
            s->tab = s->tab_mem + head;
        }
        /* the records to the start, renumbered, the index sized for them */
        if (tab_renumber(s, s->ntab + 1))
            return -1;
    } else if (!s->tidx || 2 * (s->ntab + 1) > s->tidx_mask + 1) {
        if (tab_renumber(s, s->ntab + 1))
            return -1;
    }
    if (s->tcap < 2 * (size_t)s->budget + 64) { /* first use, or a larger budget */
        size_t cap = 2 * (size_t)s->budget + 64;
        char *a = malloc(cap);
        if (!a)
            return -1;
        if (s->tused)
            memcpy(a, s->tbytes, s->tused);
        if (s->recent) { /* the listed values to the same offsets in the new buffer */
            size_t c, j;
            for (c = 0; c < s->nvctx; c++)
                for (j = 0; j < s->recent[c].n; j++)
                    if (listed_entry(&s->recent[c].v[j]))
                        s->recent[c].v[j].p = a + (s->recent[c].v[j].p - s->tbytes);
        }
        free(s->tbytes);
        s->tbytes = a;
        s->tcap = cap;
    }
    if (next_seq(s, &seq))
        return -1;
    if (n > s->tcap - s->tused) {
        /* compaction: the live strings (at most budget - 32 bytes each time one
           is added, n + 32 <= budget) to a new buffer, in table order; the old
           one is freed once the listed values point into the new one (a
           buffer held only while it is copied: between messages the table
           keeps one, 2 x budget + 64 bytes) */
        size_t used = 0;
        char *t = malloc(s->tcap);
        if (!t)
            return -1;
        for (i = 0; i < s->ntab; i++) {
            if (s->tab[i].n)
                memcpy(t + used, s->tbytes + s->tab[i].off, s->tab[i].n);
            s->tab[i].off = (uint32_t)used;
            used += s->tab[i].n;
        }
        {
            char *old = s->tbytes;
            s->tbytes = t;
            s->tused = used;
            recent_repoint(s); /* (reads the listed values' old bytes) */
            free(old);
        }
    }
    if (n)
        memcpy(s->tbytes + s->tused, p, n);
    s->tab[s->ntab].off = (uint32_t)s->tused;
    s->tab[s->ntab].n = (uint32_t)n;
    s->tab[s->ntab].h = h;
    s->tab[s->ntab].seq = seq;
    tidx_put(s, h, seq);
    s->tused += n;
    s->ntab++;
    s->tsize += size;
    while (s->tsize > s->budget) {
        s->tsize -= (uint64_t)s->tab[drop].n + 32;
        tidx_del(s, s->tab[drop].h, s->tab[drop].seq);
        drop++;
    }
    s->tab += drop;
    s->ntab -= drop;
    /* the evicted strings with no live entry left leave the recent lists
       (their records and bytes are still where they were) */
    for (i = drop; i > 0; i--) {
        const xb_tent *t = s->tab - i;
        if (s->rlisted[t->h & (XB_RLISTED - 1)] && xb_stab_find(s, s->tbytes + t->off, t->n, t->h) < 0)
            recent_drop(s, s->tbytes + t->off, t->n, t->h);
    }
    return 0;
}

/* _recallable: a token (2) or a live table entry (1), else 0 */
int xb_srecallable(const xb_stream *s, const char *p, size_t n, uint64_t h)
{
    if (xb_smap_get(&xb_value_map, p, n, h) >= 0)
        return 2;
    return xb_stab_find(s, p, n, h) >= 0;
}

/* where a new listed value's bytes are: the dictionary's string of a token,
 * an equal live table entry's (the newest, or the one moved to the front,
 * when the value was just coded) */
static const char *recent_bytes(const xb_stream *s, const char *p, size_t n, uint64_t h, int rec)
{
    const xb_tent *t;
    long i;
    if (!n)
        return "";
    if (rec == 2) {
        int k = xb_smap_get(&xb_value_map, p, n, h);
        return k >= 0 ? xb_value_map.list[k].p : NULL;
    }
    if (!s->ntab)
        return NULL;
    t = &s->tab[s->ntab - 1];
    if (t->h == h && t->n == n && xb_bytes_eq(xb_stab_bytes(s, t), p, n))
        return xb_stab_bytes(s, t);
    i = xb_stab_find(s, p, n, h);
    return i < 0 ? NULL : xb_stab_bytes(s, &s->tab[s->ntab - 1 - (size_t)i]);
}

/* encoder.remember; -1 when rec says recallable but the value is neither a
 * token nor a live entry (a bug; the lists unchanged) */
int xb_sremember(xb_stream *s, unsigned vctx, const char *p, size_t n, uint64_t h, int rec, int at)
{
    xb_recent *r = &s->recent[vctx];
    size_t j;
    xb_sstr keep = {NULL, 0, 0, 0};
    if (at >= 0 && ((size_t)at >= r->n || r->v[at].h != h || r->v[at].n != n))
        at = -2; /* (the lists changed since it was looked up) */
    if (at >= -1) {
        j = at < 0 ? r->n : (size_t)at;
    } else {
        for (j = 0; j < r->n; j++)
            if (r->v[j].h == h && r->v[j].n == n && xb_bytes_eq(r->v[j].p, p, n))
                break;
    }
    if (rec < 0 && j < r->n) /* a listed value is recallable */
        rec = r->v[j].tok ? 2 : 1;
    if (!rec) {
        if (j < r->n) { /* it leaves the list */
            listed_del(s, &r->v[j]);
            for (; j + 1 < r->n; j++) /* (at most 7 records: no memmove call) */
                r->v[j] = r->v[j + 1];
            r->n--;
        }
        return 0;
    }
    if (j < r->n) { /* it moves to the front */
        keep = r->v[j]; /* (still listed: its count unchanged) */
        for (; j > 0; j--)
            r->v[j] = r->v[j - 1];
        keep.tok = rec == 2;
        r->v[0] = keep;
        return 0;
    } else { /* a new value: the bytes of its token or table entry */
        if (rec < 0) { /* not known: a token, else a live entry, else neither */
            keep.p = recent_bytes(s, p, n, h, 2);
            rec = keep.p ? 2 : 1;
            if (!keep.p && !(keep.p = recent_bytes(s, p, n, h, 1)))
                return 0; /* not recallable, and not listed */
        } else {
            keep.p = recent_bytes(s, p, n, h, rec);
        }
        if (!keep.p)
            return -1;
        keep.n = (uint32_t)n;
        keep.h = h;
    }
    if (r->n == XB_RECENT) { /* the oldest leaves */
        listed_del(s, &r->v[XB_RECENT - 1]);
        r->n--;
    }
    keep.tok = rec == 2;
    listed_add(s, &keep);
    for (j = r->n; j > 0; j--)
        r->v[j] = r->v[j - 1];
    r->v[0] = keep;
    r->n++;
    return 0;
}

/* ---- prediction (StreamState.prediction, Entry) ---------------------------------- */
/* xb_sentry_of without its hint: a look through the cache, the hint set */
xb_pentry *xb_sentry_slow(xb_stream *s, uint32_t serial)
{
    size_t i;
    if (serial == XB_SERIAL_DOC)
        return &s->doc;
    if (serial == XB_SERIAL_NONE)
        return NULL;
    for (i = 0; i < s->ncache; i++)
        if (s->cache[i]->ent.serial == serial) {
            s->shint[serial % XB_SHINT] = (uint8_t)(s->cache[i] - s->pool);
            return &s->cache[i]->ent;
        }
    return NULL;
}

long xb_scache_index(const xb_stream *s, uint32_t serial)
{
    size_t i;
    for (i = 0; i < s->ncache; i++)
        if (s->cache[i]->ent.serial == serial)
            return (long)i;
    return -1;
}

/* free the decoder's shape keys evicted during the message */
void xb_sstate_bury(xb_stream *s)
{
    while (s->ndead)
        free(s->dead[--s->ndead]);
}

/* After an insertion into the shape cache (spec 14.3): the oldest entries
 * are evicted while the entries' costs exceed max(budget, 4096), the new one
 * too if it alone does. The decoder's evicted keys are buried (freed after the
 * message), in room it reserved (s->cap_dead >= s->ndead + XB_SHAPE_CACHE). */
int xb_sbound_shapes(xb_stream *s)
{
    uint64_t bound = s->budget > XB_SHAPE_BYTES_MIN ? s->budget : XB_SHAPE_BYTES_MIN;
    while (s->shape_bytes > bound) {
        xb_scache *c = s->cache[--s->ncache];
        s->shape_bytes -= c->cost;
        if (c->dmem) {
            if (s->ndead >= s->cap_dead)
                return -1; /* not reserved: a bug, reported as out of memory */
            s->dead[s->ndead++] = c->dmem;
        }
        free(c->key);
        memset(c, 0, sizeof(*c));
        c->ent.serial = XB_SERIAL_NONE;
    }
    return 0;
}

/* the state of a new stream (the buffers are kept) */
void xb_sstate_clear(xb_stream *s)
{
    size_t i;
    xb_sstate_bury(s);
    xb_stab_clear(s);
    s->gen++;
    s->sess_n = 0;
    /* the entries emptied: only cache[0 .. ncache), since a free pool slot is
       always clean (no key, serial XB_SERIAL_NONE: xb_stream_new makes them
       so, and whoever evicts an entry cleans its slot or reuses it at once) */
    for (i = 0; i < s->ncache; i++) {
        xb_scache *c = s->cache[i];
        free(c->key);
        free(c->dmem);
        memset(c, 0, sizeof(*c));
        c->ent.serial = XB_SERIAL_NONE;
    }
    s->ncache = 0;
    s->shape_bytes = 0;
    s->next_serial = 0;
    memset(&s->doc, 0, sizeof(s->doc));
    s->doc.serial = XB_SERIAL_DOC;
    s->root_prev = XB_SERIAL_NONE;
    s->last_far = XB_REF_NEAR;
    if (s->recent)
        for (i = 0; i < s->nvctx; i++)
            s->recent[i].n = 0;
    memset(s->rlisted, 0, sizeof(s->rlisted));
    s->style[0] = 0;
    s->style[1] = 0;
    s->style[2] = 1;
    s->style[3] = 0;
    s->style[4] = 0;
    s->style[5] = 0;
}


/* the bytes the state holds (capacities): the struct, the table (entries and
 * its string buffer), the recent values' bytes, the shape keys (the
 * encoder's serialized keys, the decoder's copies of generic keys) and the
 * per-message arrays kept in the state */
size_t xb_sstate_footprint(const xb_stream *s)
{
    size_t n = sizeof(*s) + s->cap_tab * sizeof(*s->tab) + (s->tidx ? (s->tidx_mask + 1) * sizeof(*s->tidx) : 0) +
               (s->tbytes ? s->tcap : 0) +
               s->cap_open * sizeof(*s->open) + s->kbuf_cap + s->cap_dsec * sizeof(*s->dsec) +
               s->cap_dead * sizeof(*s->dead) + s->sess_cap, i;
    if (s->recent)
        n += s->nvctx * sizeof(*s->recent);
    for (i = 0; i < s->ncache; i++)
        n += s->cache[i]->kcap + s->cache[i]->dsize;
    return n;
}
