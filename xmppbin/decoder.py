"""Pure-Python reference decoder (spec/xmppbin.md)."""
from __future__ import annotations

import base64
import math
import re
from collections.abc import Mapping
from typing import NoReturn, Protocol

from . import lexical as L
from . import model as M
from .bits import BitReader
from .dictionary import Dictionary, get_dictionary
from .encoder import Entry, StreamState, int_base, remember
from .errors import (
    DecodeError,
    DecodeLimitError,
    InvalidDataError,
    RestrictedXMLDecodeError,
    TrailingDataError,
    TruncatedError,
    UnknownDictionaryError,
)
from .history import History
from .limits import Limits
from .xmlscan import _XMLDECL_RE, DEFAULT_CONTEXT, XML_NS, check_chars, is_name, is_ncname, resolve_start, unescape

_WS_RE = re.compile(r"[ \t\r\n]*")
_EQ_RE = re.compile(r"[ \t\r\n]*=[ \t\r\n]*")
_JID_PARTS = (M.VC_JID_LOCAL, M.VC_JID_DOMAIN, M.VC_JID_RESOURCE)


class StreamFrame(Protocol):
    """What stream mode passes for an element frame: the stream's decoding state."""

    exact: bool
    dictionary: Dictionary
    state: StreamState


def read_header(data: bytes, at: int) -> tuple[int, bool, int, int]:
    """The message header at data[at:] (spec 5): (kind, exact, dictionary id, its
    length). Kinds are the caller's to check."""
    if len(data) <= at:
        raise TruncatedError("message is truncated", len(data))
    b0 = data[at]
    if b0 >> 5 != M.FORMAT_VERSION:
        raise UnknownDictionaryError(f"unsupported format version {b0 >> 5}", at)
    kind, exact, dict_id = (b0 >> 3) & 3, bool(b0 & 4), b0 & 3
    if dict_id:
        return kind, exact, dict_id, 1
    if len(data) <= at + 1:
        raise TruncatedError("message is truncated", len(data))
    dict_id = data[at + 1]
    if dict_id in M.SHORT_HEADER_IDS:
        raise InvalidDataError(f"dictionary id {dict_id} in a two-byte header", at + 1)
    return kind, exact, dict_id, 2


class _Decoder:
    def __init__(
        self,
        data: bytes,
        limits: Limits,
        context: Mapping[str, str],
        allow_comments: bool,
        stream: StreamFrame | None = None,
    ) -> None:
        self.limits = limits
        self.allow_comments = allow_comments
        self.context = context
        self.data = data
        self.produced = 0
        self.secrets: frozenset[int] = frozenset()
        self.ordinal = 0
        if stream is not None:  # an element frame: no header, state from the stream
            self.kind = M.KIND_ELEMENT
            self.exact = stream.exact
            self.d = stream.dictionary
            # the copy window (8.11): the prior text, the session window, then the literals so far
            self.win = bytearray(self.d.prior) + stream.state.session_window()[0]
            self.msg0 = len(self.win)
            self.r = BitReader(data, 0)
            self.hist = stream.state.hist
            self.cache: list[tuple] = stream.state.cache
            self.recent: dict[int, list[str]] | None = stream.state.recent
            self.state: StreamState | None = stream.state
            stream.state.tokens = self.d.value_map
            self.codes = self.d.stream_codes
            return
        if len(data) > limits.max_size:
            raise DecodeLimitError(
                f"message of {len(data)} bytes exceeds max_size={limits.max_size}", limits.max_size, "max_size"
            )
        if len(data) < 2:
            raise TruncatedError("message is truncated", len(data))
        self.kind, self.exact, dict_id, hn = read_header(data, 0)
        if self.kind > M.KIND_STREAM_OPEN:
            raise InvalidDataError(f"reserved message kind {self.kind}", 0)
        self.d = get_dictionary(dict_id, hn - 1)
        self.win = bytearray(self.d.prior)  # the copy window (8.11)
        self.r = BitReader(data, hn)
        self.hist = History()
        self.cache = []
        self.recent = None
        self.state = None
        self.codes = self.d.codes

    def read_secrets(self) -> None:
        """Stream mode: the ordinals of the never-indexed values of this message."""
        r = self.r
        n = r.gamma() - 1
        out = []
        o = -1
        for _ in range(n):
            o += r.gamma()
            out.append(o)
        self.secrets = frozenset(out)

    def fail(self, msg: str, cls: type[DecodeError] = InvalidDataError) -> NoReturn:
        raise cls(msg, self.r.offset)

    def limit(self, msg: str, name: str) -> NoReturn:
        raise DecodeLimitError(msg, self.r.offset, name)

    # ---- values -------------------------------------------------------------
    def _ws(self, max_string: int) -> str:
        """WS() of a B64 layout (spec 8.6): GAMMA(len + 1), then each character."""
        r = self.r
        n = r.gamma() - 1
        if n > max_string:
            self.limit(f"string longer than max_string={max_string}", "max_string")
        out = []
        for _ in range(n):
            out.append(" " if not r.read(1) else "\n" if not r.read(1) else "\t" if not r.read(1) else "\r")
        return "".join(out)

    def _value(self, vctx: int, secret: bool = False, recall: bool = False) -> str:
        """One string; a never-indexed (secret) one is no reference and is not
        added to the history or its context's recent values, nor are its JID
        parts. recall: the context remembers the value (stream mode: attribute
        values and text inside the root; spec 14.3)."""
        recent = self.recent
        if not recall or recent is None or secret:
            return self._value1(vctx, secret, False)
        out = self._value1(vctx, secret, True)
        remember(recent, vctx, out, not out or self._recallable(out))
        return out

    def _recallable(self, s: str) -> bool:
        return s in self.d.value_map or self.hist.find(s) is not None

    def _value1(self, vctx: int, secret: bool, recall: bool) -> str:
        r = self.r
        d = self.d
        max_string = self.limits.max_string
        s = r.sym(self.codes["value"][vctx])
        if s == M.V_EMPTY:
            return ""
        if M.V_RECENT <= s < M.V_EXTEND:
            if secret:
                self.fail("never-indexed value coded as RECENT")
            k = s - M.V_RECENT
            if not recall or self.recent is None:
                self.fail("RECENT outside the values a stream context remembers")
            lst = self.recent.get(vctx)
            if not lst or k >= len(lst) or not (not lst[k] or self._recallable(lst[k])):
                self.fail(f"RECENT {k} is no recallable recent value of its context")
            return lst[k]
        hist = self.hist
        if M.V_REF <= s <= M.V_REF_FAR:
            if secret:
                self.fail("never-indexed value coded as a reference")
            if s < M.V_REF_FAR:
                i = s - M.V_REF
            else:  # stream mode: relative to the last REF_FAR (14.3)
                i = hist.far_index(r.gamma())
                if i < M.REF_NEAR:
                    self.fail(f"far reference to string {i}, below {M.REF_NEAR}")
            if i >= len(hist):
                self.fail(f"reference to string {i} of {len(hist)}")
            out = hist.get(i)
            hist.use(i)
            if s == M.V_REF_FAR:
                hist.last_far = i
            return out
        if s >= M.V_TOKEN:
            return d.values[s - M.V_TOKEN]
        if s == M.V_LIT or s == M.V_EXTEND:
            cc = self.codes["char"]
            nxt = M.CHAR_NEXT
            buf = bytearray()
            ctx = M.CC_FIRST
            if s == M.V_EXTEND:
                if secret:
                    self.fail("never-indexed value coded as EXTEND")
                if not recall or self.recent is None:
                    self.fail("EXTEND outside the values a stream context remembers")
                k = r.read(M.RECENT_BITS)
                n = r.gamma()
                lst = self.recent.get(vctx)
                if not lst or k >= len(lst) or not lst[k] or not self._recallable(lst[k]):
                    self.fail(f"EXTEND of recent value {k}, which is no recallable recent value of its context")
                src = lst[k].encode("utf-8")
                if n > len(src):
                    self.fail(f"EXTEND of {n} bytes of a {len(src)}-byte value")
                buf += src[:n]
                ctx = M.char_context_after(buf)
            win = self.win
            w0 = len(win)
            win += buf
            copy = M.COPY
            while True:
                b = r.sym(cc[ctx])
                if b == 0:
                    break
                if copy <= b <= M.COPY_INNER:
                    # copy (8.11): GAMMA(len - 3), then its source
                    if secret:
                        self.fail("never-indexed value coded with a copy")
                    L = r.gamma() + M.COPY_MIN - 1
                    W = len(win)
                    if b == copy:  # the window after the prior, distance - 1 in bl(that part - 1) bits
                        Wm = W - len(d.prior)
                        if Wm <= 0:
                            self.fail("copy before any literal byte")
                        dist = r.read((Wm - 1).bit_length()) + 1
                        if dist > Wm:
                            self.fail(f"copy from {dist} bytes back in a window of {Wm}")
                    elif b == M.COPY_STR:
                        k = r.read((len(d.prior_starts) - 1).bit_length())
                        if k >= len(d.prior_starts):
                            self.fail(f"copy from prior string {k} of {len(d.prior_starts)}")
                        dist = W - d.prior_starts[k]
                    else:
                        k = r.read((len(d.prior_inner_list) - 1).bit_length())
                        if k >= len(d.prior_inner_list):
                            self.fail(f"copy from prior anchor {k} of {len(d.prior_inner_list)}")
                        dist = W - d.prior_inner_list[k]
                    if W - w0 + L > max_string:
                        self.limit(f"string longer than max_string={max_string}", "max_string")
                    p = W - dist
                    if dist >= L:
                        win += win[p : p + L]
                    else:
                        for j in range(p, p + L):
                            win.append(win[j])
                    for b in win[W:]:
                        ctx = nxt[ctx][b]
                    continue
                win.append(b)
                if len(win) - w0 > max_string:
                    self.limit(f"string longer than max_string={max_string}", "max_string")
                ctx = nxt[ctx][b]
            raw = bytes(win[w0:])
            if secret:
                del win[w0:]
            try:
                out = raw.decode("utf-8")
            except UnicodeDecodeError:
                self.fail("string is not valid UTF-8")
            if check_chars(out) >= 0:
                self.fail("string contains a character not allowed in XML")
        elif s == M.V_INT:
            base = int_base(self.recent if recall else None, vctx)
            if base >= 0 and r.read(1):  # relative to the context's last value (14.3)
                v = base + r.gamma()
                if v >> M.INT_MAX_BITS:
                    self.fail("integer longer than 64 bits")
                out = str(v)
            else:
                bl = r.gamma() - 1
                if bl > M.INT_MAX_BITS:
                    self.fail("integer longer than 64 bits")
                out = str(0 if bl == 0 else (1 << (bl - 1)) | r.read(bl - 1))
        elif s in (M.V_UUID_L, M.V_UUID_U):
            h = f"{r.read(128):032x}"
            h = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
            out = h if s == M.V_UUID_L else h.upper()
        elif s in (M.V_HEX_L, M.V_HEX_U):
            n = r.gamma() + M.HEX_MIN - 1
            if n > max_string:
                self.limit(f"string longer than max_string={max_string}", "max_string")
            out = f"{r.read(4 * n):0{n}x}"
            if s == M.V_HEX_U:
                out = out.upper()
        elif s == M.V_B64:
            n = r.gamma()
            blen = (n + 2) // 3 * 4
            lead = sep = trail = ""
            width = 0
            if n >= M.B64_LAYOUT_MIN and r.read(1):  # the layout (spec 8.6)
                lead = self._ws(max_string)
                width = r.gamma() - 1
                if width:
                    sep = lead if r.read(1) else self._ws(max_string)
                trail = self._ws(max_string)
            olen = len(lead) + blen + len(trail)
            if width and blen:
                olen += (blen - 1) // width * len(sep)
            if olen > max_string:
                self.limit(f"string longer than max_string={max_string}", "max_string")
            out = base64.b64encode(r.read(8 * n).to_bytes(n, "big")).decode("ascii")
            if width:
                out = sep.join(out[i : i + width] for i in range(0, blen, width))
            out = lead + out + trail
        else:  # JID
            if vctx in _JID_PARTS:
                self.fail("JID inside a JID part")
            local = self._value(M.VC_JID_LOCAL, secret) if s != M.V_JID_DR else None
            domain = self._value(M.VC_JID_DOMAIN, secret)
            res = self._value(M.VC_JID_RESOURCE, secret) if s != M.V_JID_LD else None
            if (
                (local is not None and (not local or "@" in local or "/" in local))
                or not domain
                or "/" in domain
                or res == ""
                or any(c in M.JID_WS for part in (local, domain, res) if part for c in part)
            ):
                self.fail("JID parts that do not split back the same way")
            out = domain
            if local is not None:
                out = local + "@" + out
            if res is not None:
                out = out + "/" + res
        if len(out) > max_string // 4 and len(out.encode("utf-8")) > max_string:
            self.limit(f"string longer than max_string={max_string}", "max_string")
        if not secret:
            hist.add(out)
        return out

    def content_value(self, vctx: int) -> str:
        """An attribute value or a text node inside the root (those have
        never-indexed ordinals, and their contexts remember them)."""
        secret = self.ordinal in self.secrets
        self.ordinal += 1
        s = self._value(vctx, secret, True)
        self.check_len(s)
        self.count(s)
        return s

    def value(self, vctx: int) -> str:
        s = self._value(vctx)
        self.check_len(s)
        self.count(s)
        return s

    def check_len(self, s: str) -> None:
        """max_string applies to every string of the infoset, however it was coded."""
        m = self.limits.max_string
        if len(s) > m // 4 and len(s.encode("utf-8")) > m:
            self.limit(f"string longer than max_string={m}", "max_string")

    def count(self, s: str, extra: int = 0) -> None:
        self.produced += extra + (len(s) if s.isascii() else len(s.encode("utf-8")))
        if self.produced > self.limits.max_size:
            self.limit(f"output exceeds max_size={self.limits.max_size}", "max_size")

    def tag_string(self, vctx: int) -> str:
        """A string of a generic start tag: checked like any value, but counted
        toward max_size with the start tag (as names from shapes are), not here."""
        s = self._value(vctx)
        self.check_len(s)
        return s

    def ncname(self, vctx: int, what: str) -> str:
        s = self.tag_string(vctx)
        if not is_ncname(s):
            self.fail(f"invalid {what} {s!r}")
        return s

    # ---- names --------------------------------------------------------------
    def prefix(self) -> str:
        s = self.r.sym(self.codes["prefix"][0])
        if s == M.P_LITERAL:
            return self.ncname(M.VC_NAME, "prefix")
        return self.d.prefixes[s - 1]

    def name(self, ctx: int) -> str:
        s = self.r.sym(self.codes["name"][ctx])
        if s == M.NM_LITERAL:
            return self.ncname(M.VC_NAME, "name")
        return self.d.names[s - 1]

    def ns(self) -> str:
        s = self.r.sym(self.codes["ns"][0])
        if s == M.NS_LITERAL:
            return self.tag_string(M.VC_NSURI)
        return self.d.namespaces[s - 1]

    def generic_start(self) -> tuple:
        r = self.r
        pfx = self.prefix()
        local = self.name(M.NMC_ELEMENT)
        key: list[str | tuple[str, ...]] = [f"{pfx}:{local}" if pfx else local]
        acode = self.codes["aitem"][0]
        max_attr = self.limits.max_attributes
        while True:
            s = r.sym(acode)
            if s == M.A_END:
                break
            if len(key) > max_attr:
                self.limit(f"more than max_attributes={max_attr} attributes", "max_attributes")
            if s == M.A_XMLNS:
                key.append(("x", "", self.ns()))
            elif s == M.A_XMLNS_PREFIX:
                p = self.prefix()
                if not p:
                    self.fail("empty prefix in a prefixed namespace declaration")
                key.append(("x", p, self.ns()))
            elif s == M.A_PREFIXED:
                p = self.prefix()
                if not p or p == "xmlns":
                    self.fail("invalid attribute prefix")
                key.append(("a", f"{p}:{self.name(M.NMC_ATTR)}"))
            else:
                n = self.ncname(M.VC_NAME, "attribute name") if s == M.A_LITERAL else self.d.names[s - M.A_NAME]
                if n == "xmlns":
                    self.fail("namespace declaration coded as an attribute")
                key.append(("a", n))
        return tuple(key)

    def permuted(self, ncode) -> tuple:
        """After PERMUTED (8.5): the static shape (a node symbol in ncode) and the
        rank of the order its items are written in."""
        if self.state is not None:
            self.fail("PERMUTED in stream mode")
        s = self.r.sym(ncode)
        if s < M.N_SHAPE:
            self.fail("PERMUTED not followed by a static shape")
        shape = self.d.shapes[s - M.N_SHAPE]
        k = len(shape) - 1
        if not M.PERM_MIN <= k <= M.PERM_MAX:
            self.fail(f"PERMUTED of a shape of {k} items (2-12)")
        r = self.r.read(M.perm_bits(k)) + 1
        if r >= math.factorial(k):
            self.fail(f"permutation rank {r} of {k} items")
        return (shape[0],) + tuple(shape[1 + i] for i in M.perm_order(k, r))

    # ---- structure ----------------------------------------------------------
    def run(self) -> list[tuple]:
        r = self.r
        d = self.d
        lim = self.limits
        ncodes = self.codes["node"]
        events: list[tuple] = []
        ev = events.append
        ctx_stack = [M.NC_DOC]
        names: list[str] = []
        cls_stack = [0]  # node classes of the open elements (8.3), 0 at document level
        clcodes = d.codes["nodecls"]
        scope0 = dict(self.context)
        scope0["xml"] = XML_NS
        scopes = [scope0]
        cache = self.cache
        ws: list[str | None] = ["\n"]
        root_seen = False
        prev_text = False
        nelements = 0
        st = self.state  # stream mode: node prediction (spec 14.3)
        # the slot the next node symbol is predicted by (stream mode only)
        pslot: tuple[Entry | None, str] = (None, "first") if st is None else st.start_slot()
        open_entries: list = []
        root_ent = None  # the entry of the message's root

        def learn(event: tuple) -> None:
            assert st is not None
            if pslot[1] == "next":  # the message's first node event (a "next" slot only then)
                st.learn_first(event)
            else:
                setattr(pslot[0], pslot[1], event)
        while True:
            depth = len(names)
            if st is None:
                k = cls_stack[-1]
                if k:  # an element of a node class: its table first (8.3)
                    local = r.sym(clcodes[(k - 1) * M.NODECLS_CONTEXTS + ctx_stack[-1] - 1])
                    if local != M.N_ESCAPE:
                        s = d.node_contexts[k - 1][1][local - 1]
                    else:
                        s = r.sym(ncodes[ctx_stack[-1]])
                        if s in d.node_local[k - 1]:
                            self.fail("node symbol listed in its class coded after N_ESCAPE")
                else:
                    s = r.sym(ncodes[ctx_stack[-1]])
            else:
                p = st.prediction(pslot)
                if p is None:
                    s = r.sym(ncodes[ctx_stack[-1]])
                    if s == d.n_pred:
                        self.fail("PRED without a prediction")
                else:
                    s = r.sym(ncodes[ctx_stack[-1] + M.NC_PREDICTED])
                    if s == d.n_pred:
                        s = p[1] if p[0] == "N" else M.N_LOCAL + st.ents.index(st.by_serial[p[1]])
            if s == M.N_END:
                if depth == 0:
                    if not root_seen:
                        self.fail("message has no root element")
                    if st is not None:
                        learn(("N", s))
                        st.root = root_ent
                    break
                ev(("E", names.pop()))
                scopes.pop()
                ctx_stack.pop()
                cls_stack.pop()
                if depth > 1:
                    ctx_stack[-1] = M.NC_AFTER_ELEM
                prev_text = False
                if st is not None:
                    ent = open_entries.pop()
                    learn(("N", s))
                    pslot = (ent, "after")
            elif s <= M.N_WS_DEEPER + M.WS_DEEPER_MAX - 1:
                if prev_text:
                    self.fail("two adjacent text nodes")
                while len(ws) <= depth:
                    ws.append(None)
                if s == M.N_TEXT:
                    parent = names[-1] if names else None
                    vctx = d.text_ctx.get(parent, M.VC_OTHER_TEXT) if parent else M.VC_OTHER_TEXT
                    value = self.content_value(vctx) if depth else self.value(vctx)
                    if not value and (not self.exact or depth == 0):
                        self.fail("empty text node")  # exact mode: checked in lexical()
                else:
                    if depth:
                        self.ordinal += 1  # a text node inside the root, coded by a symbol
                    wsv: str | None
                    if s == M.N_WS_SAME:
                        wsv = ws[depth]
                    elif depth == 0:
                        wsv = None
                    elif s == M.N_WS_PARENT:
                        wsv = ws[depth - 1]
                    else:
                        base = ws[depth - 1]
                        wsv = None if base is None else base + " " * (s - M.N_WS_DEEPER + 1)
                    if wsv is None:
                        self.fail("whitespace symbol without a predecessor")
                    value = wsv
                    self.check_len(value)
                    self.count(value)
                is_ws = M.is_ws_only(value)
                if is_ws:
                    ws[depth] = value
                if depth == 0:
                    if not self.exact or value.strip(" \t\r\n"):
                        self.fail("text outside the root element")
                else:
                    ctx_stack[-1] = M.NC_AFTER_WS if is_ws else M.NC_AFTER_OTHER
                ev(("T", value))
                prev_text = True
                if st is not None:
                    learn(("N", s))
                    pslot = (open_entries[-1] if open_entries else st.doc, "text")
            elif s in (M.N_COMMENT, M.N_PI):
                if not self.allow_comments:
                    what = "comment" if s == M.N_COMMENT else "processing instruction"
                    self.fail(f"{what} not allowed (RFC 6120 11.1)", RestrictedXMLDecodeError)
                value = self.value(M.VC_MISC)
                self.count("-")
                if s == M.N_COMMENT:
                    if "--" in value or value.endswith("-"):
                        self.fail("invalid comment text")
                    ev(("C", value))
                else:
                    target = re.split(r"[ \t\r\n]", value, maxsplit=1)[0]
                    if (
                        not is_name(target)
                        or ":" in target
                        or target.lower() == "xml"
                        or "?>" in value
                    ):
                        self.fail("invalid processing instruction")
                    ev(("P", value))
                if depth:
                    ctx_stack[-1] = M.NC_AFTER_OTHER
                prev_text = False
                if st is not None:
                    learn(("N", s))
                    pslot = (open_entries[-1] if open_entries else st.doc, "text")
            else:
                if depth == 0 and root_seen:
                    self.fail("second root element")
                nelements += 1
                if nelements > lim.max_elements:
                    self.limit(f"more than max_elements={lim.max_elements} elements", "max_elements")
                if depth + 1 > lim.max_depth:
                    self.limit(f"nesting deeper than max_depth={lim.max_depth}", "max_depth")
                evicted = None
                if s == M.N_GENERIC:
                    key = self.generic_start()
                    if len(cache) == M.SHAPE_CACHE:
                        evicted = cache.pop()
                elif s >= M.N_SHAPE or s == M.N_PERMUTED:
                    if s == M.N_PERMUTED:
                        key = self.permuted(ncodes[ctx_stack[-1]])
                    else:
                        key = d.shapes[s - M.N_SHAPE]
                    if len(key) - 1 > lim.max_attributes:
                        self.limit(f"more than max_attributes={lim.max_attributes} attributes", "max_attributes")
                    if len(cache) == M.SHAPE_CACHE:
                        evicted = cache.pop()
                else:
                    i = s - M.N_LOCAL
                    if i >= len(cache):
                        self.fail(f"shape cache entry {i} of {len(cache)}")
                    key = cache.pop(i)
                cache.insert(0, key)
                if st is not None:
                    if M.N_LOCAL <= s < M.N_SHAPE:
                        ent = st.hit(s - M.N_LOCAL)
                    else:
                        ent = st.enter(evicted is not None)
                        st.bound_shapes(cache)
                    learn(("S", ent.serial))
                    pslot = (ent, "first")
                    if depth == 0:
                        root_ent = ent
                    open_entries.append(ent)
                # names and dictionary strings count toward max_size like values:
                # the output holds each of them at least once
                name = key[0]
                self.check_len(name)
                self.count(name, 1)
                items = []
                actx = d.attr_context
                for it in key[1:]:
                    if it[0] == "x":
                        items.append(("xmlns:" + it[1] if it[1] else "xmlns", it[2]))
                        self.check_len(items[-1][0])
                        self.check_len(it[2])
                        self.count(items[-1][0])
                        self.count(it[2])
                    else:
                        self.check_len(it[1])
                        self.count(it[1])
                        items.append((it[1], self.content_value(actx(name, it[1]))))
                scope, err = resolve_start(name, items, scopes[-1])
                if err is not None:
                    self.fail(err[0])
                ev(("S", name, items))
                root_seen = True
                prev_text = False
                if depth == 0 and self.kind == M.KIND_STREAM_OPEN:
                    break
                names.append(name)
                scopes.append(scope)
                ctx_stack.append(M.NC_START)
                cls_stack.append(d.node_cls.get(name, 0))
        return events

    # ---- exact mode ---------------------------------------------------------
    def lexical(self, events):
        r = self.r
        state = self.state
        # stream mode (14.3): 1 = plain (the last message's style, no prolog, no
        # deviation), else 1 = the style of the last message, 0 = its 7 bits
        plain = state is not None and r.bit() == 1
        if state is not None and (plain or r.bit()):
            st = state.style
        else:
            vals = {}
            for field, bits in L.STYLE_FIELDS:
                vals[field] = r.read(bits)
            if vals["empty"] == 3:
                self.fail("reserved empty-element style")
            st = L.Style(**vals)
            if state is not None:
                state.style = st
        prolog = ""
        lex_total = 0
        if not plain and r.bit():
            prolog = self._value(M.VC_MISC)
            self.check_len(prolog)
            m = _XMLDECL_RE.match(prolog, 1 if prolog.startswith("\ufeff") else 0)
            if not (prolog == "\ufeff" or (m is not None and m.end() == len(prolog))):
                self.fail("invalid prolog")
            enc = m.group(3) if m is not None else None
            if enc is not None and enc.lower() not in ("utf-8", "utf8"):
                self.fail("prolog declares an encoding other than UTF-8")
            lex_total += len(prolog.encode("utf-8"))
        ndev = 0 if plain else r.gamma() - 1
        slots = L.slots(events)
        if ndev > len(slots):
            self.fail(f"{ndev} deviations for {len(slots)} lexical slots")
        devs = {}
        idx = -1
        for _ in range(ndev):
            idx += r.gamma()
            if idx >= len(slots):
                self.fail("deviation beyond the last lexical slot")
            kind, k, i = slots[idx]
            payload = None
            if kind not in (L.SL_QUOTE, L.SL_EMPTY):
                payload = self._value(M.VC_MISC)
                self.check_len(payload)
                lex_total += len(payload.encode("utf-8"))
                if lex_total > self.limits.max_size:
                    self.limit(f"output exceeds max_size={self.limits.max_size}", "max_size")
                ok = True
                if kind == L.SL_WSB:
                    ok = bool(payload) and _WS_RE.fullmatch(payload) is not None
                elif kind == L.SL_EQ:
                    ok = _EQ_RE.fullmatch(payload) is not None
                elif kind in (L.SL_TAGEND, L.SL_ENDWS):
                    ok = _WS_RE.fullmatch(payload) is not None
                elif kind == L.SL_TVAL:
                    ok = unescape(payload, False) == events[k][1]
                if not ok:
                    self.fail("invalid lexical deviation")
            devs[idx] = (kind, payload)
        # an empty text node (exact mode only) is an empty CDATA section: its
        # spelling must be given
        for idx, (kind, k, _i) in enumerate(slots):
            if kind == L.SL_TVAL and not events[k][1] and not (idx in devs and devs[idx][1]):
                self.fail("empty text node")
        # attribute values depend on the quote chosen, so they are checked in serialize
        return st, devs, prolog


def serialize(events, st: L.Style, devs: dict, prolog: str, fail) -> str:
    """Write events with style st, applying exact-mode deviations; fail(msg) on conflicts."""
    out = [prolog]
    o = out.append
    slot = 0
    n = len(events)
    sq = L.style_quote(st)
    depth = 0
    open_close = []  # per open element: was it written <x></x> although empty?
    for k, e in enumerate(events):
        t = e[0]
        if t == "S":
            o("<" + e[1])
            for a, v in e[2]:
                dv = devs.get(slot)
                o(dv[1] if dv else " ")
                dv = devs.get(slot + 1)
                o(a + (dv[1] if dv else "="))
                q = L.other_quote(sq) if slot + 2 in devs else sq
                dv = devs.get(slot + 3)
                if dv:
                    raw = dv[1]
                    if q in raw or "<" in raw or unescape(raw, True) != v:
                        fail("invalid attribute spelling")
                else:
                    raw = L.escape_attr(v, st, q)
                o(q + raw + q)
                slot += 4
            empty = k + 1 < n and events[k + 1][0] == "E"
            tagend_slot = slot
            slot += 1
            selfclose = False
            if empty:
                selfclose = (st.empty != 2) != (slot in devs)
                slot += 1
            dv = devs.get(tagend_slot)
            o(dv[1] if dv else L.canonical_tagend(st, selfclose))
            o("/>" if selfclose else ">")
            open_close.append(selfclose)
            depth += 1
        elif t == "E":
            depth -= 1
            dv = devs.get(slot)
            if open_close.pop():
                if dv:
                    fail("end-tag whitespace on a self-closed element")
            else:
                o("</" + e[1] + (dv[1] if dv else "") + ">")
            slot += 1
        elif t == "T":
            if depth > 0:
                dv = devs.get(slot)
                o(dv[1] if dv else L.escape_text(e[1], st))
                slot += 1
            else:
                o(e[1])
        elif t == "C":
            o("<!--" + e[1] + "-->")
        else:
            o("<?" + e[1] + "?>")
    return "".join(out)


def finish(dec: _Decoder, events: list) -> bytes:
    """Lexical section, end-of-message checks and serialization (shared by
    stateless messages and stream frames)."""
    data = dec.data
    if dec.exact:
        st, devs, prolog = dec.lexical(events)
    else:
        st, devs, prolog = L.STYLE_DEFAULT, {}, ""
    r = dec.r
    end_byte = (r.pos + 7) >> 3
    if end_byte < len(data):
        raise TrailingDataError(f"{len(data) - end_byte} bytes after the end of the message", end_byte)
    if r.pos & 7 and data[-1] & ((1 << (8 - (r.pos & 7))) - 1):
        raise TrailingDataError("padding bits are not zero", len(data) - 1)

    def fail(msg: str) -> NoReturn:
        raise InvalidDataError(msg, len(data))

    out = serialize(events, st, devs, prolog, fail).encode("utf-8")
    if len(out) > dec.limits.max_size:
        raise DecodeLimitError(f"output exceeds max_size={dec.limits.max_size}", len(data), "max_size")
    return out


def decode(
    data: bytes,
    *,
    limits: Limits,
    context: Mapping[str, str] = DEFAULT_CONTEXT,
    allow_comments: bool = False,
) -> bytes:
    data = bytes(data)
    dec = _Decoder(data, limits, context, allow_comments)
    return finish(dec, dec.run())
