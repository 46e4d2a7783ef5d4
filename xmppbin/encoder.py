"""Pure-Python reference encoder (spec/xmppbin.md)."""
from __future__ import annotations

from collections.abc import Mapping

from . import lexical as L
from . import model as M
from .bits import MAX_GAMMA_BITS, BitWriter, gamma_length
from .dictionary import Dictionary
from .errors import EncodeLimitError
from .history import History
from .limits import Limits
from .xmlscan import DEFAULT_CONTEXT, scan

#: Tests only: PERMUTED (spec 8.5) with a stream's state too, which no encoder
#: may write, so that the decoders' rejection of it can be tested.
PERMUTED_IN_STREAMS = False


def remember(recent: dict, vctx: int, s: str, recallable: bool) -> None:
    """After a value with an ordinal (not never-indexed) is coded: it moves to
    the front of its context's recent values if recallable (empty, a token or
    a live table entry), else it leaves the list; at most RECENT are kept."""
    lst = recent.setdefault(vctx, [])
    if s in lst:
        lst.remove(s)
    if recallable:
        lst.insert(0, s)
        del lst[M.RECENT :]


#: the largest Elias-gamma value a decoder reads (6.2)
MAX_GAMMA = (1 << MAX_GAMMA_BITS) - 1


def int_base(recent: dict | None, vctx: int) -> int:
    """The integer an INT may be relative to (spec 14.3, Relative integers):
    the context's most recent value when it is a canonical decimal integer
    (8.6), else -1 (and the INT has no relative bit). recent: None outside
    the values a stream context remembers (and for never-indexed values)."""
    lst = recent.get(vctx) if recent is not None else None
    return M.int_value(lst[0]) if lst else -1


class Entry:
    """Prediction slots of a shape cache entry, or of the document level (spec
    14.3): the node event that followed its start tag (first), its end tag
    (after), a text node, comment or PI inside it (text), and the first node
    event of the message after one whose root it was (next), the last time.
    The document level's first and next are the first node events of the
    previous message and of the one before it. An event is ("S", serial of
    the shape cache entry of a start tag) or ("N", node symbol) for END,
    TEXT, the whitespace symbols, COMMENT and PI."""

    __slots__ = ("serial", "first", "after", "text", "next")

    def __init__(self, serial: int) -> None:
        self.serial = serial
        self.first: tuple | None = None
        self.after: tuple | None = None
        self.text: tuple | None = None
        self.next: tuple | None = None


class StreamState:
    """What stream mode carries from one message to the next (spec section 14):
    the string history with a byte budget (the dynamic table) and the shape cache."""

    def __init__(self, budget: int) -> None:
        self.hist = History(budget)
        #: the session window (spec 8.11, 14.3): the literal bytes of the
        #: stream's messages since the OPEN, of which the last `budget` are the
        #: window a message starts with after the prior; sess_base is the
        #: session position (bytes since the OPEN) of sess[0]; older bytes are
        #: dropped when sess holds twice the budget
        self.budget = budget
        self.sess = bytearray()
        self.sess_base = 0
        #: encoder: the anchors of the session's literals by their key, at
        #: session positions in increasing order (entries before the window
        #: are dropped with the bytes)
        self.sidx: dict[bytes, list[int]] = {}
        self.hist.gone = self._gone
        self.cache: list[tuple] = []
        #: value context -> its most recent values, newest first (spec 14.3);
        #: every one recallable: a value leaves every list when it stops being
        #: a live table entry (unless empty or a value token)
        self.recent: dict[int, list[str]] = {}
        #: the value tokens of the stream's dictionary (set by the coder and
        #: the decoder of each message)
        self.tokens: Mapping[str, int] = {}
        #: exact mode: the style of the last message (spec 14.3)
        self.style = L.STYLE_DEFAULT
        #: node prediction (spec 14.3): the entry of every shape cache entry, in
        #: cache order (one per cache entry, even if two hold equal shapes, which
        #: a decoder may be sent), the live entries by serial, the next serial,
        #: the document level
        self.ents: list[Entry] = []
        self.by_serial: dict[int, Entry] = {}
        self.serial = 0
        self.doc = Entry(-1)
        #: the entry of the previous message's root (set when a message's last
        #: END is coded, None after an OPEN): its next slot predicts the first
        #: node event of the message
        self.root: Entry | None = None

    def session_window(self) -> tuple[bytes, int]:
        """The session window's bytes and the session position of its first."""
        n = len(self.sess)
        k = min(n, self.budget)
        return bytes(self.sess[n - k :]), self.sess_base + n - k

    def session_join(self, bs: bytes | bytearray) -> None:
        """A message's window bytes (its literals, never-indexed values
        excluded) join the session after the message."""
        if not self.budget:
            return
        self.sess += bs
        if len(self.sess) > 2 * self.budget:
            cut = len(self.sess) - self.budget
            del self.sess[:cut]
            self.sess_base += cut
            lo = self.sess_base
            self.sidx = {k: kept for k, v in self.sidx.items() if (kept := [a for a in v if a >= lo])}

    def _gone(self, s: str | None) -> None:
        """The table's last entry equal to s was evicted (None: the table was
        emptied): the recent values no longer recallable leave their lists,
        the others keeping their order (spec 14.3)."""
        tokens = self.tokens
        for lst in self.recent.values():
            if s is None:
                lst[:] = [v for v in lst if not v or v in tokens]
            elif s and s in lst and s not in tokens:  # (empty: recallable for good)
                lst.remove(s)

    def enter(self, evicted: bool) -> Entry:
        """A shape newly inserted at the front of the cache (evicted: it pushed
        the last one out): it gets the next serial and empty predictions."""
        if evicted:
            del self.by_serial[self.ents.pop().serial]
        e = Entry(self.serial)
        self.ents.insert(0, e)
        self.by_serial[self.serial] = e
        self.serial += 1
        return e

    def hit(self, i: int) -> Entry:
        """Cache entry i moved to the front (LOCAL): it keeps its serial."""
        e = self.ents.pop(i)
        self.ents.insert(0, e)
        return e

    def bound_shapes(self, cache: list) -> None:
        """After an insertion into the shape cache (spec 14.3): the oldest
        entries are evicted while its bytes exceed max(budget, 4096); a shape
        larger than that evicts itself too (the cache is left empty)."""
        bound = max(self.hist.budget or 0, M.SHAPE_BYTES_MIN)
        total = sum(M.shape_cost(k) for k in cache)
        while total > bound:
            total -= M.shape_cost(cache.pop())
            del self.by_serial[self.ents.pop().serial]

    def start_slot(self) -> tuple[Entry, str]:
        """The slot that predicts a message's first node event (spec 14.3): the
        previous message's root entry's next slot if the entry is still in the
        cache and the slot holds a live prediction, else the document's next
        (the first event of the message before the previous one)."""
        r = self.root
        if r is not None and self.prediction((r, "next")) is not None:
            return (r, "next")
        return (self.doc, "next")

    def learn_first(self, event: tuple) -> None:
        """A message's first node event was coded: the previous root's next
        slot (if its entry is still in the cache) and the document's two
        slots learn it."""
        r = self.root
        if r is not None and self.by_serial.get(r.serial) is r:
            r.next = event
        self.root = None
        doc = self.doc
        doc.next = doc.first
        doc.first = event

    def prediction(self, slot: tuple[Entry | None, str] | None) -> tuple | None:
        """The live prediction of a slot (entry, field), or None (also for no slot)."""
        if slot is None:
            return None
        ent, field = slot
        if ent is None:
            return None
        if ent is not self.doc and self.by_serial.get(ent.serial) is not ent:
            return None  # the entry has left the cache
        p = getattr(ent, field)
        if p is None or (p[0] == "S" and p[1] not in self.by_serial):
            return None
        return p


class _Coder:
    """Per-message encoder state: string history, shape cache, indentation memory."""

    def __init__(self, d: Dictionary, w, state: StreamState | None = None) -> None:
        self.d = d
        self.w = w
        self.state = state
        if state is None:
            self.hist = History()
            self.cache: list[tuple] = []
            self.recent: dict[int, list[str]] | None = None
        else:
            self.hist = state.hist
            self.cache = state.cache
            self.recent = state.recent
            state.tokens = d.value_map
            # where the next node event is predicted (None: nowhere, the message
            # ended); a "next" slot only before the first node event, which
            # learns through state.learn_first
            self.pslot: tuple[Entry, str] | None = state.start_slot()
            self.open: list[Entry] = []  # entries of the open elements
            self.root: Entry | None = None  # the entry of the message's root
        self.ws: list[str | None] = ["\n"]
        # the copy window (8.11): the prior text, in stream mode the session
        # window, then the literal bytes coded so far
        self.win = bytearray(d.prior)
        self.pidx = d.prior_index  # the prior's anchors by their key
        self.pin = d.prior_inner  # the prior's inner anchors by their key
        # the anchors of the window after the prior by their first 4 bytes, at
        # positions p (window position p + wofs, not before alo): the
        # message's (stateless), or the session's and the message's (stream mode)
        self.widx: dict[bytes, list[int]] = {}
        self.wofs = 0
        self.alo = 0
        if state is not None and state.budget:
            sw, self.alo = state.session_window()
            self.win += sw
            self.widx = state.sidx
            self.wofs = len(d.prior) - self.alo
        self.msg0 = len(self.win)  # where the message's literals start in the window
        self.search = True  # literals are searched for copies from the prior (8.11)
        self.copies = True  # ... and for copies of its own literals (8.11)
        self.secrets: frozenset[int] = frozenset()  # ordinals of never-indexed values
        self.ordinal = 0  # attribute values and text nodes inside the root, in order
        self.codes = d.codes if state is None else d.stream_codes
        self.ncodes = self.codes["node"]
        self.clcodes = d.codes["nodecls"]
        self.ncls = 0  # the node class of the innermost open element (spec 8.3), 0: none
        self.vcodes = self.codes["value"]
        self.ccodes = self.codes["char"]

    # ---- values -------------------------------------------------------------
    def _lit_cost(self, s: str, secret: bool = False) -> int:
        return self._bytes_cost(s.encode("utf-8"), M.CC_FIRST, 0, secret)

    def _parse(self, bs: bytes, ctx: int, start: int, secret: bool):
        """The greedy parse of bs[start:] (spec 8.11): (cost in bits of the
        bytes, copies and terminator, list of (position, length, copy symbol,
        source value, its bits) copies).
        The window is the prior text, every literal byte the message coded
        before this value, then bs[:position]; a copy starts at an anchor of bs
        and its candidates are anchors of bs and of earlier literals (in a
        message searched for them, self.copies) and of the prior text. A
        never-indexed value has no copies."""
        cc = self.ccodes
        nxt = M.CHAR_NEXT
        n = len(bs)
        if secret or not self.search or n - start < M.COPY_MIN:
            cost = 0
            for b in bs[start:]:
                cost += cc[ctx].lengths[b]
                ctx = nxt[ctx][b]
            return cost + cc[ctx].lengths[0], ()
        win = self.win
        w0 = len(win)
        win += bs  # the window followed by the literal, while it is parsed
        try:
            own = self.copies
            widx = self.widx
            pidx = self.pidx
            pin = self.pin
            kin = M.PRIOR_INNER_KEY
            alo = self.alo
            wofs = self.wofs
            local: dict[bytes, list[int]] = {}  # this literal's anchors, by their key
            lim = n - M.COPY_MIN
            if own:
                _index_anchors(local, bs, 0, min(start, lim + 1), w0)  # the EXTEND prefix's anchors
            cost = 0
            copies = []
            i = start
            while i < n:
                if i <= lim and M.is_anchor(bs, i):
                    key = bs[i : i + M.COPY_MIN]
                    pos = w0 + i
                    best_len = 0
                    best_p = 0
                    seen = 0
                    # nearest first: this literal's anchors, the earlier literals'
                    # (the session's too), the prior's: at the literal's first
                    # byte the strings starting with the key, after it (at an
                    # ASCII byte) the inner anchors with the PRIOR_INNER_KEY bytes from i
                    if i == start:
                        prior = pidx.get(key)
                    else:
                        prior = pin.get(bytes(bs[i : i + kin])) if i + kin <= n and bs[i] < 0x80 else None
                    for src, lst in ((0, local.get(key)), (1, widx.get(key)), (0, prior)):
                        if not lst:
                            continue
                        for p in reversed(lst):
                            if src:
                                if p < alo:  # before the session window (and so are the rest)
                                    break
                                p += wofs
                            if p + M.COPY_MIN > pos:
                                continue
                            if seen == M.COPY_CANDIDATES:
                                break
                            seen += 1
                            L = M.COPY_MIN
                            while i + L < n and win[p + L] == bs[i + L]:
                                L += 1
                            if L > best_len:
                                best_len, best_p = L, p
                        if seen == M.COPY_CANDIDATES:
                            break
                    if own:
                        local.setdefault(key, []).append(pos)
                    if best_len:
                        lit = 0
                        c2 = ctx
                        for b in bs[i : i + best_len]:
                            lit += cc[c2].lengths[b]
                            c2 = nxt[c2][b]
                        source = self._source(best_p, pos)
                        if source is None:  # a prior position that is no copy source
                            cpy = lit
                        else:
                            kind, val, nb = source
                            cpy = cc[ctx].lengths[kind] + gamma_length(best_len - M.COPY_MIN + 1) + nb
                        if cpy < lit:
                            copies.append((i, best_len, kind, val, nb))
                            cost += cpy
                            if own:
                                _index_anchors(local, bs, i + 1, min(i + best_len, lim + 1), w0)  # the copied bytes'
                            i += best_len
                            ctx = c2
                            continue
                b = bs[i]
                cost += cc[ctx].lengths[b]
                ctx = nxt[ctx][b]
                i += 1
        finally:
            del win[w0:]
        return cost + cc[ctx].lengths[0], copies

    def _source(self, p: int, pos: int) -> tuple[int, int, int] | None:
        """(copy symbol, value, bits of the value) of a copy from window position
        p at window length pos (spec 8.11); None for a prior position that is
        no copy source (the search finds none)."""
        d = self.d
        np_ = len(d.prior)
        if p < np_:
            i = d.prior_start_idx.get(p)
            if i is not None:
                return M.COPY_STR, i, (len(d.prior_starts) - 1).bit_length()
            i = d.prior_inner_idx.get(p)
            if i is None:
                return None
            return M.COPY_INNER, i, (len(d.prior_inner_list) - 1).bit_length()
        return M.COPY, pos - p - 1, (pos - np_ - 1).bit_length()

    def _bytes_cost(self, bs: bytes, ctx: int, start: int = 0, secret: bool = False) -> int:
        """Bits of bytes bs[start:] (copies included) and the terminator, from context ctx (8.1, 8.11)."""
        return self._parse(bs, ctx, start, secret)[0]

    def _write_bytes(self, bs: bytes, ctx: int, start: int = 0, secret: bool = False) -> None:
        w = self.w
        cc = self.ccodes
        nxt = M.CHAR_NEXT
        _, copies = self._parse(bs, ctx, start, secret)
        i = start
        for p, n, kind, val, nb in copies:
            for b in bs[i:p]:
                w.sym(cc[ctx], b)
                ctx = nxt[ctx][b]
            w.sym(cc[ctx], kind)
            w.gamma(n - M.COPY_MIN + 1)
            w.write(val, nb)
            for b in bs[p : p + n]:
                ctx = nxt[ctx][b]
            i = p + n
        for b in bs[i:]:
            w.sym(cc[ctx], b)
            ctx = nxt[ctx][b]
        w.sym(cc[ctx], 0)
        if not secret:
            self._add_window(bs)

    def _add_window(self, bs: bytes) -> None:
        """A literal joins the window; in a message searched for copies of its
        own literals its anchors are indexed (in any other, only the window's
        length matters: it sets the distances' width)."""
        w0 = len(self.win)
        self.win += bs
        if self.copies:
            # its anchors with a key inside it
            _index_anchors(self.widx, bs, 0, len(bs) - M.COPY_MIN + 1, w0 - self.wofs)

    def _extend(self, s: str, vctx: int):
        """Stream mode: the cheapest EXTEND of s, (cost without the symbol, k, L), or None:
        the first L bytes of the context's recent value k, then s's remaining bytes."""
        assert self.recent is not None  # stream mode only
        sb = s.encode("utf-8")
        best = None
        for k, src in enumerate(self.recent.get(vctx) or ()):
            if not src or not self._recallable(src):
                continue
            b = src.encode("utf-8")
            n = min(len(b), len(sb))
            L = 0
            while L < n and b[L] == sb[L]:
                L += 1
            while 0 < L < len(sb) and sb[L] & 0xC0 == 0x80:  # cut between characters
                L -= 1
            if L == 0:
                continue
            # priced without copies (8.8): the plain bytes of the suffix
            c = M.RECENT_BITS + gamma_length(L) + self._bytes_cost(sb, M.char_context_after(sb[:L]), L, True)
            if best is None or c < best[0]:
                best = (c, k, L)
        return best

    def content_value(self, s: str, vctx: int) -> None:
        """An attribute value or a text node inside the root: the values a
        stream may mark never-indexed, and the values its context recalls."""
        secret = self.ordinal in self.secrets
        self.ordinal += 1
        self.value(s, vctx, secret, True)

    def _recallable(self, s: str) -> bool:
        """A context keeps its last value only while it is a token or a live table entry."""
        return s in self.d.value_map or self.hist.find(s) is not None

    def _quick(self, s: str, vctx: int, secret: bool = False, recall: bool = False):
        """(symbol, extra) for the priority choices: empty, the context's last
        value, history, token (extra: REF_FAR's GAMMA value). A never-indexed
        (secret) value is never coded as SAME or as a history reference."""
        if not s:
            return M.V_EMPTY, None
        if secret:
            i = None
        else:
            if recall and self.recent is not None:
                lst = self.recent.get(vctx)
                if lst and s in lst and self._recallable(s):
                    return M.V_RECENT + lst.index(s), None
            i = self.hist.find(s)
        if i is not None:
            if i < M.REF_NEAR:
                return M.V_REF + i, None
            return M.V_REF_FAR, self.hist.far_gamma(i)
        t = self.d.value_map.get(s)
        if t is not None:
            return M.V_TOKEN + t, None
        return None

    def _est(self, s: str, vctx: int, secret: bool = False) -> int:
        q = self._quick(s, vctx, secret)
        lens = self.vcodes[vctx].lengths
        if q is not None:
            sym, extra = q
            return lens[sym] + (gamma_length(extra) if extra is not None else 0)
        # priced as if never-indexed (8.8): LIT without copies, the plain bytes;
        # a part context has no JID form and est no EXTEND, nothing else changes
        return self._choose(s, vctx, True)[1]

    def _choose(self, s: str, vctx: int, secret: bool = False, recall: bool = False):
        """Cheapest of the packed forms, ties resolved in the order below."""
        lens = self.vcodes[vctx].lengths
        # (symbol, cost in bits, payload: int, bytes or None)
        # LIT is priced without copies (8.8): the plain bytes; a chosen LIT is coded with them
        best: tuple[int, int, int | bytes | tuple | None] = (M.V_LIT, lens[M.V_LIT] + self._lit_cost(s, True), None)
        n = M.int_value(s)
        if n >= 0:
            base = int_base(self.recent if recall and not secret else None, vctx)
            flag = base >= 0  # the relative bit (spec 14.3, Relative integers)
            c = lens[M.V_INT] + flag + gamma_length(n.bit_length() + 1) + max(n.bit_length() - 1, 0)
            if c < best[1]:
                best = (M.V_INT, c, (n, 0 if flag else None))
            if base >= 0 and 0 < n - base <= MAX_GAMMA:
                c = lens[M.V_INT] + 1 + gamma_length(n - base)
                if c < best[1]:
                    best = (M.V_INT, c, (n, n - base))
        k = M.uuid_kind(s)
        if k >= 0:
            c = lens[k] + 128
            if c < best[1]:
                best = (k, c, None)
        k = M.hex_kind(s)
        if k >= 0:
            c = lens[k] + gamma_length(len(s) - M.HEX_MIN + 1) + 4 * len(s)
            if c < best[1]:
                best = (k, c, None)
        raw = M.b64_bytes(s)
        if raw is not None:
            c = lens[M.V_B64] + gamma_length(len(raw)) + (len(raw) >= M.B64_LAYOUT_MIN) + 8 * len(raw)
            if c < best[1]:
                best = (M.V_B64, c, (raw,))
        else:
            lay = M.b64_layout(s)
            if lay is not None and len(lay[0]) >= M.B64_LAYOUT_MIN:
                raw = lay[0]
                c = lens[M.V_B64] + gamma_length(len(raw)) + 1 + M.b64_layout_cost(*lay[1:]) + 8 * len(raw)
                if c < best[1]:
                    best = (M.V_B64, c, lay)
        if vctx not in (M.VC_JID_LOCAL, M.VC_JID_DOMAIN, M.VC_JID_RESOURCE):
            j = M.jid_split(s)
            if j is not None:
                sym, local, domain, res = j
                c = lens[sym] + self._est(domain, M.VC_JID_DOMAIN, secret)
                if local is not None:
                    c += self._est(local, M.VC_JID_LOCAL, secret)
                if res is not None:
                    c += self._est(res, M.VC_JID_RESOURCE, secret)
                if c < best[1]:
                    best = (sym, c, j)
        if recall and not secret and self.recent is not None:
            x = self._extend(s, vctx)
            if x is not None and lens[M.V_EXTEND] + x[0] < best[1]:
                best = (M.V_EXTEND, lens[M.V_EXTEND] + x[0], x[1:])
        return best

    def value(self, s: str, vctx: int, secret: bool = False, recall: bool = False) -> None:
        """Code one string. A secret (never-indexed) value is not looked up in,
        nor added to, the history or the context's last value; neither are its
        JID parts. recall: the context remembers the value (stream mode:
        attribute values and text inside the root; spec 14.3)."""
        self._value(s, vctx, secret, recall)
        if recall and self.recent is not None and not secret:
            remember(self.recent, vctx, s, not s or self._recallable(s))

    def _value(self, s: str, vctx: int, secret: bool, recall: bool) -> None:
        w = self.w
        code = self.vcodes[vctx]
        q = self._quick(s, vctx, secret, recall)
        if q is not None:
            sym = q[0]
            w.sym(code, sym)
            if q[1] is not None:
                w.gamma(q[1])
            if sym == M.V_REF_FAR:
                i = self.hist.far_index(q[1])
                self.hist.use(i)
                self.hist.last_far = i
            elif M.V_REF <= sym < M.V_REF_FAR:
                self.hist.use(sym - M.V_REF)
            return
        sym, _, extra = self._choose(s, vctx, secret, recall)
        w.sym(code, sym)
        if sym == M.V_LIT:
            self._write_bytes(s.encode("utf-8"), M.CC_FIRST, 0, secret)
        elif sym == M.V_EXTEND:
            k, n = extra
            sb = s.encode("utf-8")
            w.write(k, M.RECENT_BITS)
            w.gamma(n)
            self._write_bytes(sb, M.char_context_after(sb[:n]), n)
        elif sym == M.V_INT:
            n, rel = extra
            if rel is not None:
                w.write(rel > 0, 1)
            if rel:
                w.gamma(rel)
            else:
                bl = n.bit_length()
                w.gamma(bl + 1)
                if bl > 1:
                    w.write(n & ((1 << (bl - 1)) - 1), bl - 1)
        elif sym in (M.V_UUID_L, M.V_UUID_U):
            w.write(int(s.replace("-", ""), 16), 128)
        elif sym in (M.V_HEX_L, M.V_HEX_U):
            w.gamma(len(s) - M.HEX_MIN + 1)
            w.write(int(s, 16), 4 * len(s))
        elif sym == M.V_B64:
            raw = extra[0]
            w.gamma(len(raw))
            if len(raw) >= M.B64_LAYOUT_MIN:
                w.write(len(extra) > 1, 1)
            if len(extra) > 1:  # the layout (spec 8.6)
                _, lead, width, sep, trail = extra
                self._ws(lead)
                w.gamma(width + 1)
                if width:
                    w.write(sep == lead, 1)
                    if sep != lead:
                        self._ws(sep)
                self._ws(trail)
            w.write(int.from_bytes(raw, "big"), 8 * len(raw))
        else:  # JID
            _, local, domain, res = extra
            if local is not None:
                self.value(local, M.VC_JID_LOCAL, secret)
            self.value(domain, M.VC_JID_DOMAIN, secret)
            if res is not None:
                self.value(res, M.VC_JID_RESOURCE, secret)
        if not secret:
            self.hist.add(s)

    def _ws(self, ws: str) -> None:
        """WS(ws) of a B64 layout (spec 8.6)."""
        self.w.gamma(len(ws) + 1)
        for c in ws:
            self.w.write(*M.WS_CODE[c])

    # ---- names --------------------------------------------------------------
    def prefix(self, p: str) -> None:
        i = self.d.prefix_map.get(p)
        code = self.codes["prefix"][0]
        if i is None:
            self.w.sym(code, M.P_LITERAL)
            self.value(p, M.VC_NAME)
        else:
            self.w.sym(code, 1 + i)

    def name(self, n: str, ctx: int) -> None:
        i = self.d.name_map.get(n)
        code = self.codes["name"][ctx]
        if i is None:
            self.w.sym(code, M.NM_LITERAL)
            self.value(n, M.VC_NAME)
        else:
            self.w.sym(code, 1 + i)

    def ns(self, uri: str) -> None:
        i = self.d.ns_map.get(uri)
        code = self.codes["ns"][0]
        if i is None:
            self.w.sym(code, M.NS_LITERAL)
            self.value(uri, M.VC_NSURI)
        else:
            self.w.sym(code, 1 + i)

    def generic_start(self, key: tuple) -> None:
        w = self.w
        pfx, _, local = key[0].rpartition(":")
        self.prefix(pfx)
        self.name(local, M.NMC_ELEMENT)
        acode = self.codes["aitem"][0]
        for it in key[1:]:
            if it[0] == "x":
                if it[1]:
                    w.sym(acode, M.A_XMLNS_PREFIX)
                    self.prefix(it[1])
                else:
                    w.sym(acode, M.A_XMLNS)
                self.ns(it[2])
            else:
                apfx, _, alocal = it[1].rpartition(":")
                if apfx:
                    w.sym(acode, M.A_PREFIXED)
                    self.prefix(apfx)
                    self.name(alocal, M.NMC_ATTR)
                else:
                    i = self.d.name_map.get(alocal)
                    if i is None:
                        w.sym(acode, M.A_LITERAL)
                        self.value(alocal, M.VC_NAME)
                    else:
                        w.sym(acode, M.A_NAME + i)
        w.sym(acode, M.A_END)

    # ---- structure ----------------------------------------------------------
    def node(self, ctx: int, sym: int, event: tuple | None) -> None:
        """Code node symbol sym in node context ctx. Stream mode: in the
        predicted context if the current slot has a live prediction, as PRED
        if event (see Entry; None: not predictable) is that prediction."""
        st = self.state
        if st is None:
            k = self.ncls
            if k:  # inside an element of a node class: its table first, N_ESCAPE for others
                local = self.d.node_local[k - 1].get(sym, M.N_ESCAPE)
                self.w.sym(self.clcodes[(k - 1) * M.NODECLS_CONTEXTS + ctx - 1], local)
                if local != M.N_ESCAPE:
                    return
            self.w.sym(self.ncodes[ctx], sym)
            return
        p = st.prediction(self.pslot)
        if p is None:
            self.w.sym(self.ncodes[ctx], sym)
        else:
            self.w.sym(self.ncodes[ctx + M.NC_PREDICTED], self.d.n_pred if p == event else sym)

    def learn(self, event: tuple, nxt: tuple | None) -> None:
        """Stream mode: event becomes the prediction of the current slot; nxt
        (entry, field) predicts the next node event."""
        if self.state is not None:
            assert self.pslot is not None, "a node event after the end of the message"
            ent, field = self.pslot
            if field == "next":  # the message's first node event
                self.state.learn_first(event)
            else:
                setattr(ent, field, event)
            self.pslot = nxt

    def start(self, ctx: int, name: str, items) -> None:
        key = M.shape_key(name, items)
        cache = self.cache
        st = self.state
        try:
            i = cache.index(key)
        except ValueError:
            i = -1
        evicted = None
        if i >= 0:
            self.node(ctx, M.N_LOCAL + i, None if st is None else ("S", st.ents[i].serial))
            del cache[i]
        else:
            j = self.d.shape_map.get(key)
            pj = None
            if j is None and (st is None or PERMUTED_IN_STREAMS):
                pj = self.d.perm_map.get(M.perm_key(key))
            if j is not None:
                self.node(ctx, M.N_SHAPE + j, None)
            elif pj is not None:  # a static shape's items in another order (8.5)
                self.node(ctx, M.N_PERMUTED, None)
                self.w.sym(self.ncodes[ctx], M.N_SHAPE + pj)
                shape = self.d.shapes[pj]
                order = [shape.index(it) - 1 for it in key[1:]]
                self.w.write(M.perm_rank(order) - 1, M.perm_bits(len(order)))
            else:
                self.node(ctx, M.N_GENERIC, None)
                self.generic_start(key)
            if len(cache) == M.SHAPE_CACHE:
                evicted = cache.pop()
        cache.insert(0, key)
        if st is not None:
            ent = st.hit(i) if i >= 0 else st.enter(evicted is not None)
            if i < 0:
                st.bound_shapes(cache)
            self.learn(("S", ent.serial), (ent, "first"))
            if not self.open:
                self.root = ent
            self.open.append(ent)
        actx = self.d.attr_context
        for it in items:
            a = it[0]
            if a != "xmlns" and not a.startswith("xmlns:"):
                self.content_value(it[1], actx(name, a))

    def other(self, ctx: int, sym: int) -> None:
        """A node symbol other than a start tag (END, text, comment, PI)."""
        self.node(ctx, sym, ("N", sym))
        if self.state is not None:
            if sym == M.N_END:
                ent = self.open.pop() if self.open else None
                self.learn(("N", sym), None if ent is None else (ent, "after"))
                if ent is None:  # the message's last END
                    self.state.root = self.root
            else:
                self.learn(("N", sym), (self.open[-1] if self.open else self.state.doc, "text"))

    def text(self, ctx: int, value: str, depth: int, parent: str | None) -> bool:
        """Code a text node; returns True if it was whitespace-only."""
        ws = self.ws
        secret = False
        if depth:  # a text node inside the root has an ordinal, however it is coded
            secret = self.ordinal in self.secrets
            self.ordinal += 1
        if M.is_ws_only(value):
            while len(ws) <= depth:
                ws.append(None)
            if value == ws[depth]:
                self.other(ctx, M.N_WS_SAME)
            elif depth >= 1 and value == ws[depth - 1]:
                self.other(ctx, M.N_WS_PARENT)
            elif (
                depth >= 1
                and (base := ws[depth - 1]) is not None
                and value.startswith(base)
                and 1 <= len(value) - len(base) <= M.WS_DEEPER_MAX
                and value[len(base) :] == " " * (len(value) - len(base))
            ):
                self.other(ctx, M.N_WS_DEEPER + len(value) - len(base) - 1)
            else:
                self.other(ctx, M.N_TEXT)
                self.value(value, self._text_ctx(parent), secret, depth > 0)
            ws[depth] = value
            return True
        self.other(ctx, M.N_TEXT)
        self.value(value, self._text_ctx(parent), secret, depth > 0)
        return False

    def _text_ctx(self, parent: str | None) -> int:
        if parent is None:
            return M.VC_OTHER_TEXT
        return self.d.text_ctx.get(parent, M.VC_OTHER_TEXT)


def _index_anchors(index: dict[bytes, list[int]], bs: bytes, lo: int, hi: int, base: int) -> None:
    """The anchors j of bs in lo <= j < hi (spec 8.11) under their key bs[j:j+4], at window position base + j."""
    for j in range(lo, hi):
        if M.is_anchor(bs, j):
            index.setdefault(bs[j : j + M.COPY_MIN], []).append(base + j)


def value_bytes(events) -> int:
    """The message's value bytes (spec 8.11's gate): the UTF-8 lengths of its
    attribute values (namespace declarations included) and of its text nodes
    inside the root, after normalization; the same for every spelling of the
    infoset, so canonical output codes as its input did."""
    n = depth = 0
    for ev in events:
        t = ev[0]
        if t == "S":
            n += sum(len(it[1].encode("utf-8")) for it in ev[2])
            depth += 1
        elif t == "E":
            depth -= 1
        elif t == "T" and depth:
            n += len(ev[1].encode("utf-8"))
    return n


def encode_events(sc, d: Dictionary, exact: bool, w, state: StreamState | None = None, secrets=(),
                  search: bool = True) -> None:
    """Code the main stream of a scanned message into writer w (BitWriter or counter).

    In stream mode (state given) the message starts with the list of its
    never-indexed value ordinals, and the history and shape cache are the
    stream's; stateless messages have neither. search=False codes every literal
    byte by byte, without copies (the dictionary generator lists literals so).
    """
    c = _Coder(d, w, state)
    vb = value_bytes(sc.events)
    # the prior is searched in every message; a stream unit in full (its literals
    # join the session window)
    c.search = search
    c.copies = search and (state is not None or vb >= M.COPY_MIN_MESSAGE)
    if state is not None:
        c.secrets = frozenset(secrets)
        w.gamma(len(c.secrets) + 1)
        prev = -1
        for o in sorted(c.secrets):
            w.gamma(o - prev)
            prev = o
    ctx_stack = [M.NC_DOC]
    names: list[str] = []
    cls_stack = [0]  # node classes of the open elements (8.3), 0 at document level
    node_cls = d.node_cls
    for e in sc.events:
        t = e[0]
        depth = len(names)
        c.ncls = cls_stack[-1]
        if t == "S":
            c.start(ctx_stack[-1], e[1], e[2])
            if sc.open_root:
                break
            names.append(e[1])
            ctx_stack.append(M.NC_START)
            cls_stack.append(node_cls.get(e[1], 0))
        elif t == "E":
            c.other(ctx_stack.pop(), M.N_END)
            names.pop()
            cls_stack.pop()
            if len(ctx_stack) > 1:
                ctx_stack[-1] = M.NC_AFTER_ELEM
        elif t == "T":
            if depth == 0 and not exact:
                continue
            was_ws = c.text(ctx_stack[-1], e[1], depth, names[-1] if names else None)
            if depth:
                ctx_stack[-1] = M.NC_AFTER_WS if was_ws else M.NC_AFTER_OTHER
        else:  # comment or PI
            c.other(ctx_stack[-1], M.N_COMMENT if t == "C" else M.N_PI)
            c.value(e[1], M.VC_MISC)
            if depth:
                ctx_stack[-1] = M.NC_AFTER_OTHER
    if not sc.open_root:
        c.ncls = 0
        c.other(M.NC_DOC, M.N_END)
    if exact:
        encode_lexical(sc, c)
    if state is not None:
        state.session_join(c.win[c.msg0 :])


# ---- exact mode -------------------------------------------------------------------
def deviations(events, st: L.Style) -> list[tuple]:
    """(slot index, slot kind, payload) for every slot spelled unlike style st.

    events are scanner events, which carry the lexical detail.
    """
    out = []
    sq = L.style_quote(st)
    selfclose = False
    for idx, (kind, k, i) in enumerate(L.slots(events)):
        e = events[k]
        if kind <= L.SL_VAL:
            _a, value, raw, q, wsb, eq = e[2][i]
            if kind == L.SL_WSB:
                if wsb != " ":
                    out.append((idx, kind, wsb))
            elif kind == L.SL_EQ:
                if eq != "=":
                    out.append((idx, kind, eq))
            elif kind == L.SL_QUOTE:
                if q != sq:
                    out.append((idx, kind, None))
            elif raw != L.escape_attr(value, st, q):
                out.append((idx, kind, raw))
        elif kind == L.SL_TAGEND:
            selfclose = e[4]
            empty = k + 1 < len(events) and events[k + 1][0] == "E"
            if e[3] != L.canonical_tagend(st, empty and selfclose):
                out.append((idx, kind, e[3]))
        elif kind == L.SL_EMPTY:
            if selfclose != (st.empty != 2):
                out.append((idx, kind, None))
        elif kind == L.SL_ENDWS:
            if e[2]:
                out.append((idx, kind, e[2]))
        elif e[2] != L.escape_text(e[1], st):
            out.append((idx, kind, e[2]))
    return out


def choose_style(events) -> L.Style:
    """Per style field in order: the value with the fewest deviations (default on ties)."""
    st = L.STYLE_DEFAULT
    for field, _bits in L.STYLE_FIELDS:
        dv = getattr(L.STYLE_DEFAULT, field)
        best: tuple[int, L.Style] | None = None
        for v in [dv] + [x for x in range(3 if field == "empty" else 2) if x != dv]:
            cand = st._replace(**{field: v})
            cost = len(deviations(events, cand))
            if best is None or cost < best[0]:
                best = (cost, cand)
        assert best is not None  # the default value is always a candidate
        st = best[1]
    return st


def encode_lexical(sc, c: _Coder) -> None:
    w = c.w
    events = sc.events
    st = choose_style(events)
    devs = deviations(events, st)
    state = c.state
    keep = False
    if state is not None:  # stream mode (14.3): the stream's style unless it deviates more
        keep = st == state.style
        if not keep:
            kept = deviations(events, state.style)
            if len(kept) <= len(devs):
                keep, st, devs = True, state.style, kept
        if keep and not sc.prolog and not devs:
            w.write(1, 1)  # plain: the stream's style, no prolog, no deviation
            return
        w.write(0, 1)
        w.write(1 if keep else 0, 1)  # 1: the style of the stream's last message
        if not keep:
            state.style = st
    if not keep:
        for field, bits in L.STYLE_FIELDS:
            w.write(getattr(st, field), bits)
    if sc.prolog:
        w.write(1, 1)
        c.value(sc.prolog, M.VC_MISC)
    else:
        w.write(0, 1)
    w.gamma(len(devs) + 1)
    prev = -1
    for slot, _kind, payload in devs:
        w.gamma(slot - prev)
        prev = slot
        if payload is not None:
            c.value(payload, M.VC_MISC)


def encode(
    xml: bytes | str,
    d: Dictionary,
    *,
    exact: bool = False,
    limits: Limits,
    context: Mapping[str, str] = DEFAULT_CONTEXT,
    allow_comments: bool = False,
    open_root: bool | None = None,
) -> bytes:
    sc = scan(xml, limits, context, allow_comments, open_root, exact)
    in_size = sc.byte_offset(len(sc.text))
    # What encode accepts, decode accepts under the same limits: the default-mode
    # output may be longer than the input (escaping grows a character at most 6x).
    if not exact and 6 * in_size > limits.max_size and canonical_size(sc) > limits.max_size:
        raise EncodeLimitError(f"decoded output would exceed max_size={limits.max_size}", in_size, "max_size")
    kind = M.KIND_STREAM_OPEN if sc.open_root else M.KIND_ELEMENT
    w = BitWriter()
    encode_events(sc, d, exact, w)
    out = M.header(kind, exact, d.id) + w.getvalue()
    if len(out) > limits.max_size:
        raise EncodeLimitError(f"message of {len(out)} bytes exceeds max_size={limits.max_size}", in_size, "max_size")
    return out


def canonical_size(sc) -> int:
    """UTF-8 length of the default-mode decoding of a scanned message."""
    from .decoder import serialize

    events: list[tuple] = []
    depth = 0
    for e in sc.events:
        if e[0] == "S":
            events.append(("S", e[1], [(it[0], it[1]) for it in e[2]]))
            depth += 1
        elif e[0] == "E":
            events.append(("E", e[1]))
            depth -= 1
        elif e[0] == "T":
            if depth:
                events.append(("T", e[1]))
        else:
            events.append(e[:2])

    def fail(msg):  # a scanned message always serializes
        raise AssertionError(msg)

    return len(serialize(events, L.STYLE_DEFAULT, {}, "", fail).encode("utf-8"))
