"""Stream mode: a whole XMPP session as a sequence of frames (spec section 14).

A binary stream is a sequence of frames. Each frame starts with a LEB128
varint (at most 4 bytes), ``payload_length << 1`` for an ELEMENT frame and
``payload_length << 3 | type << 1 | 1`` for the others, and its payload:

    OPEN     varint(table budget), the 2-byte message header (format version,
             exact flag, dictionary id) and, if its kind is 1, the body of the
             stream header message (<?xml?><stream:stream ...>). Resets the
             stream state (dynamic table and shape cache). With kind 0 and no
             body it only announces the parameters, for a stream captured
             after its header. With kind 2 it is a restart (a header after
             STARTTLS or SASL): the header coded with the state kept. Every
             binary stream starts with an OPEN frame (TEXT frames may precede
             it).
    ELEMENT  a top-level element (stanza or nonza), coded with the stream state.
    TEXT     whitespace between top-level units (keepalives), as raw bytes.
    CLOSE    the closing tag </stream:stream>, as raw bytes; empty for the
             plain end tag of the open stream header.

Messages coded with the stream state keep the string history (the dynamic
table, bounded by the budget) and the shape cache from one frame to the next,
and start with the list of their never-indexed values: secrets (SASL
payloads, passwords, values the caller marks) are coded without references
and never enter the table, so attacker-chosen content in the same stream
cannot probe them.
"""
from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple

from . import decoder as _decoder
from . import encoder as _encoder
from . import model as M
from .bits import BitWriter
from .dictionary import Dictionary, get_dictionary
from .errors import (
    DecodeError,
    DecodeLimitError,
    EncodeLimitError,
    InvalidDataError,
    MalformedXMLError,
    RestrictedXMLEncodeError,
    TruncatedError,
    UnknownDictionaryError,
    XmppbinError,
)
from .limits import DEFAULT_LIMITS, Limits
from .xmlscan import DEFAULT_CONTEXT, NCNAME, XML_NS, scan

FRAME_ELEMENT = 0
FRAME_TEXT = 1
FRAME_OPEN = 2
FRAME_CLOSE = 3
#: a one-byte ELEMENT frame holding a 4-bit message (14.2): its header is the frame
FRAME_SHORT = 4
FRAME_KINDS = ("element", "text", "open", "close", "short")
#: csrc/xmppbin.h XB_UNIT_OPENED: the C decoder loop decoded a restart whose context it does not know
_UNIT_OPENED = 6

#: dynamic table budget in bytes (an entry costs its UTF-8 length + 32)
DEFAULT_TABLE_SIZE = 32768
#: the largest budget a decoder accepts unless told otherwise
MAX_TABLE_SIZE = 65536
#: largest frame payload accepted (bytes)
DEFAULT_MAX_FRAME = 1 << 20
#: largest max_frame of an encoder: every frame it writes has a header of at most 4 bytes
MAX_ENCODER_FRAME = (1 << 25) - 1
#: largest max_table_size of a decoder: the budget of an OPEN frame is a varint of at most 3 bytes
MAX_OPEN_BUDGET = (1 << 21) - 1
MAX_FRAME_HEADER = 4  # bytes of the varint: payload lengths below 2**27 (ELEMENT), 2**25 (others)

SASL_NS = "urn:ietf:params:xml:ns:xmpp-sasl"
SASL2_NS = "urn:xmpp:sasl:2"
#: elements whose text is never indexed: SASL payloads, legacy-auth and
#: in-band-registration passwords and digests
SECRET_ELEMENTS = frozenset(
    {
        (SASL_NS, "auth"),
        (SASL_NS, "response"),
        (SASL_NS, "challenge"),
        (SASL_NS, "success"),
        (SASL2_NS, "initial-response"),
        (SASL2_NS, "response"),
        (SASL2_NS, "challenge"),
        (SASL2_NS, "additional-data"),
        ("jabber:iq:auth", "password"),
        ("jabber:iq:auth", "digest"),
        ("jabber:iq:auth", "token"),
        ("jabber:iq:auth", "hash"),
        ("jabber:iq:register", "password"),
    }
)

_WS = re.compile(rb"[ \t\r\n]+")
_CLOSE = re.compile(rf"</({NCNAME}(?::{NCNAME})?)[ \t\r\n]*>")


def _close_name(data: bytes) -> str | None:
    """The qname of a well-formed end tag, else None."""
    try:
        m = _CLOSE.fullmatch(data.decode("utf-8"))
    except UnicodeDecodeError:
        return None
    return None if m is None else m.group(1)


@functools.lru_cache(maxsize=64)
def _closes_itself(qname: str) -> bool:
    """_close takes "</qname>" as the end tag of a stream header named qname."""
    return _close_name(f"</{qname}>".encode("utf-8", "surrogatepass")) == qname


class StreamEvent(NamedTuple):
    """One unit of the XML stream: kind is "open", "element", "text" or "close"."""

    kind: str
    xml: bytes


# ---- varints ---------------------------------------------------------------------
def put_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def get_varint(buf, pos: int, limit: int) -> tuple[int, int] | None:
    """(value, position after it), or None if buf ends inside the varint.
    Raises InvalidDataError past `limit` bytes (offset = the varint's start)."""
    n = 0
    shift = 0
    for i in range(limit):
        if pos + i >= len(buf):
            return None
        b = buf[pos + i]
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            if i and b == 0:
                raise InvalidDataError("non-minimal varint", pos)
            return n, pos + i + 1
    raise InvalidDataError(f"varint longer than {limit} bytes", pos)


def frame(kind: int, payload: bytes) -> bytes:
    """The frame header (14.2) and the payload. ELEMENT frames, nearly all of a
    stream, spend one header bit on their type: one byte up to 127 payload bytes."""
    n = len(payload)
    return put_varint(n << 1 if kind == FRAME_ELEMENT else n << 3 | kind << 1 | 1) + payload


def frame_header(v: int) -> tuple[int, int]:
    """(type, payload length) of a frame header's varint value. A SHORT frame
    (type 0 with the low bit set) is its header of 1 to 4 bytes (payload
    length 0; short_payload)."""
    if not v & 1:
        return FRAME_ELEMENT, v >> 1
    kind = (v >> 1) & 3
    if kind:
        return kind, v >> 3
    return FRAME_SHORT, 0


def element_frame(body: bytes, exact: bool) -> bytes:
    """The frame of an ELEMENT message body (14.2): a SHORT frame when the body
    fits one: one byte whose message takes its first 4 bits (then, in exact
    mode, the plain bit 1; zero padding after), or k = 2, 3 or 4 bytes whose
    bits after the first 7k - 3 are zero and whose first 7 are not; else
    header and body."""
    n = len(body)
    if n == 1 and body[0] & 0x0F == (0x08 if exact else 0):
        return bytes((body[0] >> 4 << 3 | 1,))
    if 2 <= n <= 4:
        c = int.from_bytes(body, "big")
        pad = n + 3  # 8n - (7n - 3)
        if not c & ((1 << pad) - 1) and c >> (8 * n - 7):
            return put_varint(c >> pad << 3 | 1)  # n bytes: its top group is not zero
    return frame(FRAME_ELEMENT, body)


def short_payload(v: int, exact: bool) -> bytes:
    """The ELEMENT message body a SHORT frame (header value v) stands for: of a
    one-byte header, the byte (v >> 3) << 4 | m (m = 8 in exact mode, else 0);
    of a k-byte one, the 7k - 3 bits of v >> 3 and zero bits, k bytes."""
    if v < 0x80:
        return bytes((v >> 3 << 4 | (0x08 if exact else 0),))
    k = 2 if v < 1 << 14 else 3 if v < 1 << 21 else 4
    return (v >> 3 << (k + 3)).to_bytes(k, "big")


# ---- the XML side: splitting a raw stream into units -----------------------------
class XmlSplitter:
    """Cuts raw XML stream bytes, fed in any chunking, into StreamEvents.

    Only boundaries are found here (tags, quoted attribute values, comments,
    CDATA and PIs are skipped correctly); the encoder's scanner validates each
    unit. A stream restart (an XML declaration or a new stream header while the
    stream is open) starts a new "open" unit. Memory: one unit, at most
    max_size bytes.
    """

    def __init__(self, *, max_size: int = Limits().max_size, in_stream: bool = False) -> None:
        self.buf = bytearray()
        self.base = 0  # stream offset of buf[0]
        self.max_size = max_size
        self.depth = 1 if in_stream else 0  # 1: inside the stream element
        self.stream_name: bytes | None = None
        self._resume = (0, 0)  # (position, depth) reached in an unfinished element

    def feed(self, data: bytes | bytearray | memoryview) -> list[StreamEvent]:
        """The units completed by data. An error carries the units completed
        before it in this call as ``e.events``."""
        self.buf += data
        out: list[StreamEvent] = []
        try:
            while True:
                ev = self._next()
                if ev is None:
                    break
                out.append(ev)
            if len(self.buf) > self.max_size:
                raise EncodeLimitError(
                    f"a stream unit is longer than max_size={self.max_size}", self.base + self.max_size, "max_size"
                )
        except XmppbinError as e:
            e.events = out  # type: ignore[attr-defined]
            raise
        return out

    def close(self) -> None:
        """The input ended: an unfinished unit is an error (whitespace is fine)."""
        if self.buf.strip(b" \t\r\n"):
            raise MalformedXMLError("the stream ends inside a unit", self.base + len(self.buf))

    def _take(self, n: int, kind: str) -> StreamEvent:
        self._resume = (0, 0)
        chunk = bytes(self.buf[:n])
        del self.buf[:n]
        self.base += n
        return StreamEvent(kind, chunk)

    def _next(self) -> StreamEvent | None:
        buf = self.buf
        if not buf:
            return None
        m = _WS.match(buf)
        if m:
            if m.end() == len(buf):
                return None  # the run may go on
            return self._take(m.end(), "text")
        if buf[0] != 0x3C:  # '<'
            raise MalformedXMLError("text between top-level elements", self.base)
        if buf.startswith(b"<?xml") and len(buf) > 5 and buf[5] in b" \t\r\n?":
            # declaration: belongs to the stream header that follows
            end = buf.find(b"?>")
            if end < 0:
                return None
            m = _WS.match(buf, end + 2)
            start = m.end() if m else end + 2
            if start == len(buf):
                return None
            hdr = self._tag_end(start)
            if hdr is None:
                return None
            return self._open(hdr)
        if buf.startswith(b"</"):
            end = buf.find(b">")
            if end < 0:
                return None
            if end + 1 > self.max_size:  # as when it arrives in pieces (the end tag is not scanned)
                raise EncodeLimitError(
                    f"a stream unit is longer than max_size={self.max_size}", self.base + self.max_size, "max_size"
                )
            if self.depth != 1:
                raise MalformedXMLError("end tag outside the stream", self.base)
            self.depth = 0
            return self._take(end + 1, "close")
        tend = self._tag_end(0)
        if tend is None:
            return None
        name = re.match(rb"<([^\s/>]+)", buf)
        qname = name.group(1) if name else b""
        if self.depth == 0 or qname == self.stream_name:
            if buf[tend - 2] == 0x2F:  # '/>' : a self-closed element, not a header
                return self._take(tend, "element")
            return self._open(tend)
        return self._element()

    def _open(self, end: int) -> StreamEvent:
        name = re.search(rb"<([^\s/>?!]+)", self.buf[:end])
        self.stream_name = name.group(1) if name else None
        self.depth = 1
        return self._take(end, "open")

    def _tag_end(self, i: int) -> int | None:
        """Index after the '>' of the markup starting at buf[i] ('<'), or None."""
        buf = self.buf
        if buf.startswith(b"<!--", i):
            e = buf.find(b"-->", i + 4)
            return None if e < 0 else e + 3
        if buf.startswith(b"<![CDATA[", i):
            e = buf.find(b"]]>", i + 9)
            return None if e < 0 else e + 3
        if buf.startswith(b"<?", i):
            e = buf.find(b"?>", i + 2)
            return None if e < 0 else e + 2
        q = 0
        j = i + 1
        n = len(buf)
        while j < n:
            c = buf[j]
            if q:
                if c == q:
                    q = 0
            elif c in (0x22, 0x27):
                q = c
            elif c == 0x3E:
                return j + 1
            j += 1
        return None

    def _element(self) -> StreamEvent | None:
        """A whole top-level element from buf[0], or None if incomplete. The scan
        resumes where the previous feed stopped, so any chunking costs linear time."""
        buf = self.buf
        i, depth = self._resume
        n = len(buf)
        while True:
            if i >= n:
                self._resume = (i, depth)
                return None
            if buf[i] != 0x3C:
                j = buf.find(b"<", i)
                if j < 0:
                    self._resume = (n, depth)
                    return None
                i = j
                continue
            end = self._tag_end(i)
            if end is None:
                self._resume = (i, depth)
                return None
            if buf[i + 1] == 0x2F:  # end tag
                depth -= 1
            elif buf[i + 1] not in b"!?" and buf[end - 2] != 0x2F:
                depth += 1
            i = end
            if depth <= 0:
                return self._take(i, "element")


# ---- stream state shared by both sides -----------------------------------------
class _StreamContext:
    """Per-direction stream state: the coding state, mode, dictionary, context.

    The contexts (base_context, context) are shared, interned dicts that
    nobody changes: the option structs of the C coder are cached by their
    identity. The reference's coding state is made when first used (the C
    backend keeps its own, _cstream.CStreamState)."""

    # slots: the C feed() reads context on every call (csrc/pyfast.c: context_of)
    __slots__ = ("base_context", "context", "_budget", "_state", "exact", "dictionary", "_qname", "_qloop", "__dict__")

    def __init__(self, base_context: Mapping[str, str] | None, table_size: int, exact: bool, d: Dictionary) -> None:
        # None: DEFAULT_CONTEXT, interned once (the usual case: no copy per object)
        self.base_context = _default_base() if base_context is None else _intern_context(dict(base_context))
        self.context = self.base_context  # what elements inherit
        self._budget = table_size
        self._state: _encoder.StreamState | None = None
        self.exact = exact
        self.dictionary = d
        self._qname: str | None = None
        self._qloop: Any = None  # a C feed loop that knows the stream name (named_by)

    @property
    def stream_qname(self) -> str | None:
        """The qname of the open stream's header (None: none known)."""
        loop = self._qloop
        if loop is not None:  # asked of the loop when first needed
            self._qname = loop.stream_name()
            self._qloop = None
        return self._qname

    @stream_qname.setter
    def stream_qname(self, name: str | None) -> None:
        self._qname = name
        self._qloop = None

    def named_by(self, loop: Any) -> None:
        """A C feed loop coded (or decoded) the stream header: its name is the
        one the loop knows now (loop.stream_name(), asked only when read; a
        loop changes it only with a header, which calls this again)."""
        self._qloop = loop

    @property
    def state(self) -> _encoder.StreamState:
        """The reference's coding state (made on first use)."""
        if self._state is None:
            self._state = _encoder.StreamState(self._budget)
        return self._state

    @state.setter
    def state(self, st: _encoder.StreamState) -> None:
        self._state = st

    @property
    def budget(self) -> int:
        """The table budget of the state (that of the last OPEN that reset it)."""
        return self._budget

    def reset(self, budget: int) -> None:
        """A new stream: an empty coding state with this budget, the outer context."""
        self._budget = budget
        self._state = None
        self.context = self.base_context

    def opened(self, name: str, items) -> tuple:
        """A new stream header: take its bindings; returns its namespace
        declarations ((attribute, value) pairs, in order)."""
        decls = tuple((a, v) for a, v in items if a == "xmlns" or a.startswith("xmlns:"))
        key = (id(self.base_context), decls)
        hit = _OPENED.get(key)
        if hit is None or hit[0] is not self.base_context:
            ctx = dict(self.base_context)
            for a, v in decls:
                if a == "xmlns":
                    ctx[""] = v
                else:
                    ctx[a[6:]] = v
            if len(_OPENED) >= 256:
                _OPENED.clear()
            hit = _OPENED[key] = (self.base_context, _intern_context(ctx))
        self.context = hit[1]
        self.stream_qname = name
        return decls


#: interned contexts (see _StreamContext), and the contexts of opened streams by
#: (id(base context), declarations) -> (base context, context)
_CONTEXTS: dict[tuple, dict[str, str]] = {}
_OPENED: dict[tuple, tuple[dict[str, str], dict[str, str]]] = {}


@functools.lru_cache(maxsize=1)
def _default_base() -> dict[str, str]:
    """The interned copy of DEFAULT_CONTEXT every stream without a context starts from."""
    return _intern_context(dict(DEFAULT_CONTEXT))


def _intern_context(ctx: dict[str, str]) -> dict[str, str]:
    """The shared dict equal to ctx (ctx itself the first time; not to be changed)."""
    try:
        key = tuple(ctx.items())
        hit = _CONTEXTS.get(key)
    except TypeError:  # unhashable values: not shared
        return ctx
    if hit is not None:
        return hit
    if len(_CONTEXTS) >= 256:
        _CONTEXTS.clear()
    _CONTEXTS[key] = ctx
    return ctx


def _header_root(c, xml: bytes, limits, s: _StreamContext, allow_comments: bool) -> tuple:
    """(qname, [(attribute, value)]) of an accepted stream header's root start
    tag: the C state's quick reading (c.header_root), else a scan in the outer
    context."""
    root = c.header_root(xml)
    if root is None:
        ev = next(e for e in scan(xml, limits, s.base_context, allow_comments, True, s.exact).events if e[0] == "S")
        root = ev[1], [(it[0], it[1]) for it in ev[2]]
    return root


_CSTREAM: Any = False  # xmppbin._cstream once imported (None: not built)


def _c_module():
    """xmppbin._cstream (imported once), or None when the C core is not built."""
    global _CSTREAM
    cs = _CSTREAM
    if cs is False:
        try:
            from . import _cstream as cs
        except ImportError:
            cs = None
        _CSTREAM = cs
    return cs


@functools.lru_cache(maxsize=16)
def _secret_names(secret_elements: frozenset) -> tuple[list[bytes], re.Pattern[bytes] | None]:
    """The local names of the secret elements (UTF-8, sorted) and a pattern
    finding any of them, made once per set: a StreamEncoder per connection
    would otherwise spend a third of its construction compiling it."""
    names = sorted({local.encode("utf-8") for _ns, local in secret_elements})
    return names, (re.compile(b"|".join(map(re.escape, names))) if names else None)


@functools.lru_cache(maxsize=16)
def _secret_pairs(secret_elements: frozenset) -> tuple[list[bytes], list[bytes]]:
    """The secret elements as (local names, their namespaces), UTF-8, sorted:
    the C feed loop codes an element itself when the elements with those
    local names declare their own namespace (csrc/frame.c: secret_ordinals,
    which reads the scanned events)."""
    pairs = sorted((local.encode("utf-8"), ns.encode("utf-8")) for ns, local in secret_elements)
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _secret_ordinals(sc, context: Mapping[str, str], secret_elements, never_index) -> list[int]:
    """Ordinals (attribute values and text nodes inside the root, in document
    order) of the values to send never-indexed."""
    out = []
    ordinal = 0
    scopes = [dict(context, xml=XML_NS)]
    names: list[tuple[str, str]] = []
    for e in sc.events:
        t = e[0]
        if t == "S":
            scope = dict(scopes[-1])
            for it in e[2]:
                if it[0] == "xmlns":
                    scope[""] = it[1]
                elif it[0].startswith("xmlns:"):
                    scope[it[0][6:]] = it[1]
            pfx, _, local = e[1].rpartition(":")
            names.append((scope.get(pfx, ""), local))
            for it in e[2]:
                a = it[0]
                if a == "xmlns" or a.startswith("xmlns:"):
                    continue
                apfx, _, alocal = a.rpartition(":")
                expanded = f"{{{scope.get(apfx, '')}}}{alocal}" if apfx else alocal
                if never_index is not None and never_index("attr", expanded, it[1]):
                    out.append(ordinal)
                ordinal += 1
            scopes.append(scope)
            if sc.open_root:
                break
        elif t == "E":
            names.pop()
            scopes.pop()
        elif t == "T" and names:
            ns, local = names[-1]
            if (ns, local) in secret_elements or (
                never_index is not None and never_index("text", f"{{{ns}}}{local}", e[1])
            ):
                out.append(ordinal)
            ordinal += 1
    return out


def _check_option(name: str, value: Any, lo: int, hi: int) -> None:
    """Validate an integer option as Limits does: ValueError naming it."""
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise ValueError(f"{name} must be an int in {lo}..{hi}, got {value!r}")


#: what fails a StreamEncoder / StreamDecoder for good (spec 14.5): an xmppbin
#: error, or running out of memory after the call may have changed the state
#: (in the C feed loop, or while its output was being built)
_FAILS = (XmppbinError, MemoryError)


def _again(e: Exception, what: str, empty: Any) -> Exception:
    """A new exception equal to a stored failure (class, reason, offset, limit;
    for a MemoryError its message), carrying nothing (what: "frames" or "events")."""
    x = _shift(e, 0) if isinstance(e, XmppbinError) else type(e)(*e.args)
    setattr(x, what, empty)
    return x


# A top-level element that is one start tag, character data and its end tag (or
# an empty-element tag): SASL and SASL2 nonzas. Attribute values that would need
# unescaping or normalization are left to the scan.
_QVALUE = rb"(?:'[^'<&\t\r\n]*'|\"[^\"<&\t\r\n]*\")"
_QNAME_B = rb"[^\s/>!?=\"'<&]+"
_QATTR = re.compile(rb"(" + _QNAME_B + rb")[ \t\r\n]*=[ \t\r\n]*(?:'([^']*)'|\"([^\"]*)\")")
_QELEMENT = re.compile(rb"<(" + _QNAME_B + rb")((?:[ \t\r\n]+" + _QNAME_B + rb"[ \t\r\n]*=[ \t\r\n]*" + _QVALUE
                       + rb")*)[ \t\r\n]*(?:/>|>([^<]*?[^ \t\r\n<][^<]*)</\1[ \t\r\n]*>)")


def _quick_secrets(xml: bytes, context: Mapping[str, str], secret_elements) -> list[int] | None:
    """_secret_ordinals without a scan (and without a never_index callback) for an
    element of a start tag, non-whitespace character data and its end tag, or an
    empty-element tag; None for anything else (scan it). The element's
    attributes have ordinals 0..n-1 and its text n."""
    m = _QELEMENT.fullmatch(xml)
    if m is None:
        return None
    try:
        qname = m.group(1).decode()
        attrs = [(a.decode(), (v1 or v2).decode()) for a, v1, v2 in _QATTR.findall(m.group(2))]
    except UnicodeDecodeError:
        return None
    pfx, _, local = qname.rpartition(":")
    ns = context.get(pfx, "") if pfx != "xml" else XML_NS
    n = 0
    for a, v in attrs:
        if a == "xmlns":
            if not pfx:
                ns = v
        elif a.startswith("xmlns:"):
            if a[6:] == pfx:
                ns = v
        else:
            n += 1
    if m.group(3) is None or (ns, local) not in secret_elements:
        return []
    return [n]


def _failed_get(self) -> Exception | None:
    e = self._error
    if e is None:
        # the C feed() entry fails the object itself when building its result
        # runs out of memory (csrc/pyfast.c: fail_feed): nothing to allocate then
        fast = getattr(self, "_cfeed", None)
        if fast is not None and fast.error is not None:
            e = self._error = fast.error
    return e


def _failed_set(self, e: Exception | None) -> None:
    """The stored failure (spec 14.5); the C feed() entry (_cfeed) is told, so
    that it hands every call of a failed object to the Python method."""
    self._error = e
    fast = getattr(self, "_cfeed", None)
    if fast is not None:
        fast.failed = e is not None


#: StreamEncoder._failed and StreamDecoder._failed: the error that failed the object, or None
_FAILED = property(_failed_get, _failed_set)


class StreamEncoder:
    """Encodes an XMPP stream (one direction of a session) into frames.

    Feed raw XML stream bytes in any chunking with feed(), or encode units
    yourself with open()/element()/text()/close(). never_index(kind, name,
    value) -> bool marks further values as secrets (kind "attr" or "text";
    name the attribute's, or the parent element's, expanded name "{ns}local").

    Errors (spec 14.5): an XmppbinError raised by feed() or flush() carries
    the frames of the units completed before the error in that call as
    ``e.frames`` (bytes, possibly empty): what was returned before plus
    ``e.frames`` is the same for any chunking of the input. After any
    XmppbinError the encoder is failed: every later call raises an error of
    the same class, reason, offset (and limit), with ``e.frames == b""``.
    """

    #: _cfeed is a slot: the C feed() reads it at its offset (csrc/pyfast.c: feed_of)
    # slots: the C feed() reads them on every call (csrc/pyfast.c: self_attr)
    __slots__ = ("_cfeed", "_s", "_opened", "allow_comments", "limits", "__dict__", "__weakref__")
    _failed = _FAILED

    def __init__(
        self,
        *,
        exact: bool = False,
        context: Mapping[str, str] | None = None,
        allow_comments: bool = False,
        table_size: int = DEFAULT_TABLE_SIZE,
        never_index: Callable[[str, str, str], bool] | None = None,
        secret_elements: Iterable[tuple[str, str]] = SECRET_ELEMENTS,
        in_stream: bool = False,
        max_frame: int = DEFAULT_MAX_FRAME,
        dictionary: int = 1,
        **limits: int,
    ) -> None:
        if table_size is not DEFAULT_TABLE_SIZE:  # (the defaults are valid: one check less per connection)
            _check_option("table_size", table_size, 0, MAX_TABLE_SIZE)
        if max_frame is not DEFAULT_MAX_FRAME:
            _check_option("max_frame", max_frame, 1, MAX_ENCODER_FRAME)
        self.limits = Limits(**limits) if limits else DEFAULT_LIMITS
        self.allow_comments = allow_comments
        self.never_index = never_index
        self.secret_elements = frozenset(secret_elements)
        self.max_frame = max_frame
        self.table_size = table_size
        self.exact = exact
        try:
            d = get_dictionary(dictionary)
        except UnknownDictionaryError:
            raise ValueError(f"unknown dictionary id {dictionary!r}") from None
        self._s = _StreamContext(context, table_size, exact, d)
        self._in_stream = in_stream
        self._splitter_: XmlSplitter | None = None
        self._opened = False
        self._ended = False  # the end tag of the open stream was encoded
        self._error = None  # (self._failed: no C entry to tell yet)
        self._pos = 0  # stream offset of the next unit fed through feed()
        self._secret_names = _secret_names(self.secret_elements)[1]
        # the C feed loop (splitter, framing, element coding) with its state, None with
        # the reference (its options for the first feed() prepared at once: context)
        cs = _c_module()
        self._feeder = None if cs is None else cs.encoder_for(
            d, self.limits, max_frame, in_stream, _secret_pairs(self.secret_elements), never_index is not None,
            self._s.base_context, allow_comments, table_size, exact, self._s.context)
        self._c = None if self._feeder is None else self._feeder._state  # None: the reference codes the messages
        #: the C entry of the feed loop (feed() is then a C method, see _install_feed)
        self._cfeed = None if self._feeder is None else self._feeder.fast

    @property
    def _splitter(self) -> XmlSplitter:
        """The reference's splitter (made when first used: the C feed loop has its own)."""
        if self._splitter_ is None:
            self._splitter_ = XmlSplitter(max_size=self.limits.max_size, in_stream=self._in_stream)
        return self._splitter_

    def _head(self, kind: int) -> bytes:
        s = self._s
        return M.header(kind, s.exact, s.dictionary.id)

    def _announce(self) -> bytes:
        """The open frame without a header, before the first element of a stream
        that is encoded from its middle."""
        if self._opened:
            return b""
        self._opened = True
        return self._frame(FRAME_OPEN, put_varint(self.table_size) + self._head(M.KIND_ELEMENT))

    def _message(self, sc, xml=None, open_root: bool = False) -> bytes:
        """The body of a unit; sc its scan (None: the C coder scans, and it has
        no never-indexed values)."""
        s = self._s
        secrets = [] if sc is None else _secret_ordinals(sc, s.context, self.secret_elements, self.never_index)
        if self._c is not None:
            return self._c.encode(xml, self.limits, s.context, self.allow_comments, open_root, secrets)
        w = BitWriter()
        _encoder.encode_events(sc, s.dictionary, s.exact, w, s.state, secrets)
        return w.getvalue()

    def _needs_scan(self, xml) -> bool:
        """The C coder scans an element itself unless it may hold never-indexed
        values: a never_index callback, or a secret element's name in it."""
        if self.never_index is not None:
            return True
        if self._secret_names is None:
            return False
        data = xml.encode("utf-8", "surrogatepass") if isinstance(xml, str) else xml
        return self._secret_names.search(data) is not None

    def _frame(self, kind: int, payload: bytes) -> bytes:
        if len(payload) > self.max_frame:
            raise EncodeLimitError(f"frame of {len(payload)} bytes exceeds max_frame={self.max_frame}",
                                   0, "max_frame")
        if kind == FRAME_ELEMENT:
            return element_frame(payload, self._s.exact)
        return frame(kind, payload)

    def _guard(self, fn: Callable[[Any], bytes], arg: Any) -> bytes:
        """A unit method: refused once failed; an error fails the encoder."""
        if self._failed is not None:
            raise _again(self._failed, "frames", b"")
        try:
            return fn(arg)
        except _FAILS as e:
            e.frames = b""  # type: ignore[union-attr]
            self._failed = e
            raise

    def footprint(self) -> int | None:
        """Bytes held by the C stream state of this encoder (dynamic table,
        recent values, shape cache and prediction, and the coder's buffers kept
        between messages; capacities, spec 14.3 "Budget"), or None with the
        pure-Python reference. The feed loop's unit and frame buffers are not
        included."""
        return None if self._c is None else self._c.footprint()

    @property
    def opened(self) -> bool:
        """An OPEN frame (a stream header, or an announcement) was written."""
        return self._opened

    @property
    def ended(self) -> bool:
        """The end tag of the stream was encoded (and no stream header since)."""
        return self._ended or (self._feeder is not None and self._feeder.ended())

    def open(self, xml: bytes | str) -> bytes:
        """A stream header (optionally with its XML declaration): the first resets
        the state; a later one is a restart, coded with the state as it is."""
        return self._guard(self._open, xml)

    def element(self, xml: bytes | str) -> bytes:
        """A top-level element (stanza or nonza) of the open stream."""
        return self._guard(self._element, xml)

    def text(self, ws: bytes | str) -> bytes:
        """Whitespace between top-level units (e.g. a keepalive)."""
        return self._guard(self._text, ws)

    def close(self, xml: bytes | str = b"</stream:stream>") -> bytes:
        """The closing tag of the stream."""
        return self._guard(self._close, xml)

    def encode(self, event: StreamEvent) -> bytes:
        """The frames of one unit (open(), element(), text() or close() by its kind)."""
        return self._guard(self._encode, event)

    def _open(self, xml: bytes | str) -> bytes:
        s = self._s
        if self._c is not None and self.never_index is None and type(xml) is bytes:
            return self._open_c(xml)
        sc = scan(xml, self.limits, s.base_context, self.allow_comments, True, s.exact)
        root = next(e for e in sc.events if e[0] == "S")
        kind = self._restart_or_reset()
        body = self._message(sc, xml, True)
        decls = s.opened(root[1], [(it[0], it[1]) for it in root[2]])
        if self._feeder is not None:
            self._feeder.learn(decls, s.context)
        self._named()
        self._opened = True
        self._ended = False
        return self._frame(FRAME_OPEN, put_varint(self.table_size) + self._head(kind) + body)

    def _restart_or_reset(self) -> int:
        """Before a stream header is coded (in the outer context): the message
        kind of its OPEN frame. The first OPEN resets the state; every later
        header is a restart (spec 14.2), coded with the state as it is."""
        s = self._s
        if self._opened:
            s.context = s.base_context
            return M.KIND_RESTART
        s.reset(self.table_size)
        if self._c is not None:
            self._c.reset(self.table_size, s.exact)
        return M.KIND_STREAM_OPEN

    def _open_c(self, xml: bytes) -> bytes:
        """_open with the C coder and no never_index callback: the header has no
        never-indexed values (secret elements concern text), so the C coder
        scans and codes it (same errors as the scan), and the root's name and
        bindings are read from the accepted start tag."""
        s = self._s
        c = self._c
        assert c is not None
        kind = self._restart_or_reset()
        body = c.encode(xml, self.limits, s.context, self.allow_comments, True, [])
        decls = s.opened(*_header_root(c, xml, self.limits, s, self.allow_comments))
        if self._feeder is not None:  # the C loop codes the next such headers itself
            self._feeder.learn(decls, s.context)
        self._named()
        self._opened = True
        self._ended = False
        return self._frame(FRAME_OPEN, put_varint(self.table_size) + self._head(kind) + body)

    def _header_c(self) -> None:
        """The C feed loop coded stream headers itself (csrc/frame.c: open_unit):
        the state the last one leaves, as _open_c leaves it (the reference's
        coding state, which the C coder does not use, is dropped either way)."""
        feeder = self._feeder
        assert feeder is not None
        k = feeder.header_ctx()
        s = self._s
        s.reset(self.table_size)
        s.context = feeder.context_of(k)
        s.named_by(feeder)
        self._opened = True
        self._ended = False
        feeder.adopt(k, s.context)

    def _named(self) -> None:
        """A stream header was coded: the C feed loop frames its end tag itself
        when _close would take it as the plain or spaced end tag of the stream."""
        if self._feeder is not None:
            q = self._s.stream_qname
            self._feeder.set_stream(q if q is not None and _closes_itself(q) else None)

    def _element(self, xml: bytes | str) -> bytes:
        s = self._s
        sc = None
        if self._c is None or self._needs_scan(xml):
            if self._c is not None and self.never_index is None and type(xml) is bytes:
                quick = _quick_secrets(xml, s.context, self.secret_elements)
                if quick is not None:  # a lone secret element (SASL): no scan in Python
                    body = self._c.encode(xml, self.limits, s.context, self.allow_comments, False, quick)
                    return self._announce() + self._frame(FRAME_ELEMENT, body)
            sc = scan(xml, self.limits, s.context, self.allow_comments, False, s.exact)
        body = self._message(sc, xml)
        head = self._announce()
        return head + self._frame(FRAME_ELEMENT, body)

    def _text(self, ws: bytes | str) -> bytes:
        data = ws.encode("utf-8") if isinstance(ws, str) else bytes(ws)
        if not data or _WS.fullmatch(data) is None:
            raise MalformedXMLError("only whitespace may stand between top-level elements", 0)
        if len(data) > self.limits.max_size:
            raise EncodeLimitError(f"whitespace longer than max_size={self.limits.max_size}",
                                   self.limits.max_size, "max_size")
        return self._frame(FRAME_TEXT, data)

    def _close(self, xml: bytes | str) -> bytes:
        data = xml.encode("utf-8") if isinstance(xml, str) else bytes(xml)
        name = _close_name(data)
        if name is None:
            raise MalformedXMLError("malformed stream end tag", 0)
        s = self._s
        if s.stream_qname is not None and name != s.stream_qname:
            raise MalformedXMLError(f"end tag does not match <{s.stream_qname}>", 0)
        if s.stream_qname is not None and data == f"</{name}>".encode():
            data = b""  # the plain end tag of the open stream header
        out = self._frame(FRAME_CLOSE, data)
        self._ended = True
        return out

    def _encode(self, event: StreamEvent) -> bytes:
        kind, xml = event
        if kind == "element":
            return self._element(xml)
        if kind == "text":
            return self._text(xml)
        if kind == "open":
            return self._open(xml)
        if kind == "close":
            return self._close(xml)
        raise ValueError(f"unknown stream event kind {kind!r}")

    def feed(self, data: bytes | bytearray | memoryview) -> bytes:
        """Raw XML stream bytes in, frames for every unit completed so far out.
        Error offsets count from the start of everything fed; an error carries
        the frames completed before it in this call as ``e.frames``."""
        if self._failed is not None:
            raise _again(self._failed, "frames", b"")
        out: list[bytes] = []
        try:
            if self._feeder is not None:
                self._feed_c(data, out)
                return b"".join(out)
            try:
                evs = self._splitter.feed(data)  # splitter errors count from the start already
                err: XmppbinError | None = None
            except XmppbinError as e:
                evs, err = getattr(e, "events", []), e
            for ev in evs:
                try:
                    out.append(self._encode(ev))
                except XmppbinError as e:
                    raise _shift(e, self._pos) from None
                self._pos += len(ev.xml)
            if err is not None:
                raise err
        except _FAILS as e:
            e.frames = b"".join(out)  # type: ignore[union-attr]
            self._failed = e
            raise
        return b"".join(out)

    def _feed_c(self, data, out: list[bytes]) -> None:
        """One call into the C feed loop, and back to Python only for the units it
        leaves to stream.py: stream headers, end tags, the first element of a
        stream without a header, and elements that may hold never-indexed values."""
        feeder = self._feeder
        assert feeder is not None
        self._pending_c(feeder.feed(data, self._s.context, self.allow_comments, self._opened, out, self._header_c),
                        out)

    def _pending_c(self, r: tuple[int, bytes, int] | None, out: list[bytes]) -> None:
        """The unit r the C feed loop stopped at (or None): coded here, then on in C."""
        feeder = self._feeder
        assert feeder is not None
        while r is not None:
            kind, xml, pos = r
            try:
                out.append(self._encode(StreamEvent(FRAME_KINDS[kind], xml)))
            except XmppbinError as e:
                raise _shift(e, pos) from None
            r = feeder.feed(b"", self._s.context, self.allow_comments, self._opened, out, self._header_c)

    def _unit_c(self, rc: int, out: list[bytes]) -> None:
        """feed() in C (csrc/pyfast.c) stopped with rc (XB_FEED_PENDING or
        XB_FEED_ERROR) after the frames in out: the pending unit coded (its
        frame appended to out, the options of a new context prepared), or the
        error raised as feed() raises it. The C method then feeds on."""
        feeder = self._feeder
        assert feeder is not None
        try:
            r = feeder.outcome(rc)
            assert r is not None
            kind, xml, pos = r
            try:
                out.append(self._encode(StreamEvent(FRAME_KINDS[kind], xml)))
            except XmppbinError as e:
                raise _shift(e, pos) from None
            feeder.prepare(self._s.context, self.allow_comments)
        except _FAILS as e:
            e.frames = b"".join(out)  # type: ignore[union-attr]
            self._failed = e
            raise

    def _resume_c(self, out: list[bytes]) -> bytes:
        """feed() in C after _unit_c, when it cannot feed on itself (the options
        changed): the rest of the call as feed() would do it."""
        feeder = self._feeder
        assert feeder is not None
        try:
            self._pending_c(feeder.feed(b"", self._s.context, self.allow_comments, self._opened, out,
                                        self._header_c), out)
        except _FAILS as e:
            e.frames = b"".join(out)  # type: ignore[union-attr]
            self._failed = e
            raise
        return b"".join(out)

    def flush(self) -> bytes:
        """End of input: any unfinished unit is an error; trailing whitespace is sent."""
        if self._failed is not None:
            raise _again(self._failed, "frames", b"")
        try:
            if self._feeder is not None:
                return self._feeder.flush()
            out = b""
            buf = bytes(self._splitter.buf)
            if buf and _WS.fullmatch(buf):
                try:
                    out = self._text(buf)
                except XmppbinError as e:
                    raise _shift(e, self._splitter.base) from None
                self._splitter.buf.clear()
            self._splitter.close()
            return out
        except _FAILS as e:
            e.frames = b""  # type: ignore[union-attr]
            self._failed = e
            raise


class StreamDecoder:
    """Decodes frames, fed in any chunking (one byte at a time included), back
    into stream units. Memory: the table budget plus one frame.

    Errors (spec 14.5): an XmppbinError raised by feed() carries the events
    decoded before the error in that call as ``e.events`` (a list, possibly
    empty): the events returned before plus ``e.events`` are the same for any
    chunking of the input, followed by the same error. After any XmppbinError
    the decoder is failed: every later feed() or close() raises an error of
    the same class, reason, offset (and limit), with ``e.events == []``.
    """

    #: _cfeed is a slot: the C feed() reads it at its offset (csrc/pyfast.c: feed_of)
    # slots: the C feed() reads them on every call (csrc/pyfast.c: self_attr)
    __slots__ = ("_cfeed", "_s", "_opened", "allow_comments", "limits", "__dict__", "__weakref__")
    _failed = _FAILED

    def __init__(
        self,
        *,
        context: Mapping[str, str] | None = None,
        allow_comments: bool = False,
        max_table_size: int = MAX_TABLE_SIZE,
        max_frame: int = DEFAULT_MAX_FRAME,
        **limits: int,
    ) -> None:
        if max_table_size is not MAX_TABLE_SIZE:  # (the defaults are valid)
            _check_option("max_table_size", max_table_size, 0, MAX_OPEN_BUDGET)
        if max_frame is not DEFAULT_MAX_FRAME:
            _check_option("max_frame", max_frame, 1, (1 << 31) - 1)
        self.limits = Limits(**limits) if limits else DEFAULT_LIMITS
        self.allow_comments = allow_comments
        self._max_table_size = max_table_size  # (the max_table_size setter also tells the loop, not made yet)
        self.max_frame = max_frame
        self.buf = bytearray()
        self.offset = 0  # stream offset of buf[0]
        self._opened = False
        self._error = None  # (self._failed: no C entry to tell yet)
        self._s = _StreamContext(context, 0, False, get_dictionary(1))
        # the C feed loop (frame parser, element and text frames) with its state, None with
        # the reference (its options for the first feed() prepared at once: context)
        cs = _c_module()
        self._feeder = None if cs is None else cs.decoder_for(
            max_frame, StreamEvent, self.limits, self._s.base_context, allow_comments, max_table_size,
            self._s.context)
        self._c = None if self._feeder is None else self._feeder._state  # None: the reference decodes
        #: the C entry of the feed loop (feed() is then a C method, see _install_feed)
        self._cfeed = None if self._feeder is None else self._feeder.fast

    def feed(self, data: bytes | bytearray | memoryview) -> list[StreamEvent]:
        """The events of every frame completed so far. An error carries the events
        decoded before it in this call as ``e.events``."""
        if self._failed is not None:
            raise _again(self._failed, "events", [])
        out: list[StreamEvent] = []
        try:
            feeder = self._feeder
            if feeder is not None:
                r = feeder.feed(data, self.limits, self._s.context, self.allow_comments, self._opened, out,
                                self._header_c)
                if r is not None:
                    self._feed_c(r, out)
                return out
            self.buf += data
            while True:
                ev = self._next()
                if ev is None:
                    return out
                if ev is not _NOTHING:
                    out.append(ev)
        except _FAILS as e:
            e.events = out  # type: ignore[union-attr]
            self._failed = e
            raise

    def _feed_c(self, r: tuple[int, bytes, int] | None, out: list[StreamEvent]) -> None:
        """After the C feed loop stopped at an OPEN or CLOSE frame r (they change
        the context and the stream's name): decode it here and go on in C."""
        feeder = self._feeder
        assert feeder is not None
        while r is not None:
            self._pending(r, out)
            r = feeder.feed(b"", self.limits, self._s.context, self.allow_comments, self._opened, out,
                            self._header_c)

    def _pending(self, r: tuple[int, bytes, int], out: list[StreamEvent]) -> None:
        """The frame (kind, payload, offset) the C loop left here: decoded (its
        event appended to out), or a restart the loop decoded whose context is
        learnt from its XML (its event is in out already)."""
        kind, payload, base = r
        if kind == _UNIT_OPENED:
            self._restarted(payload)
            return
        try:
            ev = self._frame(kind, payload)
        except DecodeError as e:
            raise _shift(e, base) from None
        if ev is not None:
            out.append(ev)

    @property
    def max_table_size(self) -> int:
        """The largest table budget an OPEN frame may announce."""
        return self._max_table_size

    @max_table_size.setter
    def max_table_size(self, n: int) -> None:
        self._max_table_size = n
        feeder = self.__dict__.get("_feeder")
        if feeder is not None:  # the C loop checks OPEN frames too
            feeder.set_max_table(n)

    def _header_c(self) -> None:
        """The C feed loop decoded OPEN frames itself (csrc/frame.c: open_frame):
        the state the last one leaves, as _frame leaves it."""
        feeder = self._feeder
        assert feeder is not None
        k, budget, exact = feeder.header()
        s = self._s
        s.exact = exact
        s.reset(budget)
        if k >= 0:  # a stream header (else an announcement: the base context)
            s.context = feeder.context_of(k)
            s.named_by(feeder)
        self._opened = True
        feeder.adopt(k, s.context)

    def _unit_c(self, rc: int, out: list[StreamEvent]) -> None:
        """feed() in C (csrc/pyfast.c) stopped with rc (XB_FEED_PENDING or
        XB_FEED_ERROR) after the events in out: the pending OPEN or CLOSE frame
        decoded (its event appended to out, the options of a new context
        prepared), or the error raised as feed() raises it. The C method then
        feeds on."""
        feeder = self._feeder
        assert feeder is not None
        try:
            r = feeder.outcome(rc)
            assert r is not None
            self._pending(r, out)
            feeder.prepare(self.limits, self._s.context, self.allow_comments)
        except _FAILS as e:
            e.events = out  # type: ignore[union-attr]
            self._failed = e
            raise

    def _restarted(self, xml: bytes) -> None:
        """The C loop decoded a restart (spec 14.2) whose declarations it did not
        know, with the state kept: its context, from the decoded header, as
        _frame takes it (the header is not decoded again)."""
        s = self._s
        s.context = s.base_context
        decls = s.opened(*_header_root(self._c, xml, self.limits, s, self.allow_comments))
        feeder = self._feeder
        assert feeder is not None
        feeder.set_stream(s.stream_qname)
        feeder.learn(decls, s.context)
        self._opened = True

    def _resume_c(self, out: list[StreamEvent]) -> list[StreamEvent]:
        """feed() in C after _unit_c, when it cannot feed on itself (the options
        changed): the rest of the call as feed() would do it."""
        feeder = self._feeder
        assert feeder is not None
        try:
            r = feeder.feed(b"", self.limits, self._s.context, self.allow_comments, self._opened, out,
                            self._header_c)
            if r is not None:
                self._feed_c(r, out)
        except _FAILS as e:
            e.events = out  # type: ignore[union-attr]
            self._failed = e
            raise
        return out

    def events(self, chunks: Iterable[bytes]) -> Iterator[StreamEvent]:
        for c in chunks:
            yield from self.feed(c)
        self.close()

    def footprint(self) -> int | None:
        """Bytes held by the C stream state of this decoder (as
        StreamEncoder.footprint(): the state and the decoder's buffers kept
        between messages, not the frame being read), or None with the
        pure-Python reference."""
        return None if self._c is None else self._c.footprint()

    def close(self) -> None:
        """The input ended: a partial frame is a TruncatedError."""
        if self._failed is not None:
            raise _again(self._failed, "events", [])
        end = self._feeder.buffered() if self._feeder is not None else (len(self.buf), self.offset + len(self.buf))
        if end[0]:
            e = TruncatedError("the stream ends inside a frame", end[1])
            e.events = []  # type: ignore[attr-defined]
            self._failed = e
            raise e

    def _next(self) -> StreamEvent | None:
        buf = self.buf
        if not buf:
            return None
        try:
            hv = get_varint(buf, 0, MAX_FRAME_HEADER)
        except InvalidDataError as e:
            raise type(e)(e.reason, self.offset + e.offset) from None
        if hv is None:
            return None
        v, start = hv
        kind, n = frame_header(v)
        size = start if kind == FRAME_SHORT else n  # a SHORT frame's payload: as long as its header
        if size > self.max_frame:
            raise DecodeLimitError(f"frame of {size} bytes exceeds max_frame={self.max_frame}", self.offset,
                                   "max_frame")
        if not self._opened and kind in (FRAME_ELEMENT, FRAME_CLOSE, FRAME_SHORT):
            raise InvalidDataError(f"{FRAME_KINDS[kind & 3]} frame before the stream's open frame", self.offset)
        if len(buf) < start + n:
            return None
        if kind == FRAME_SHORT:  # an ELEMENT frame's one-byte body, at the header byte
            kind, payload, base = FRAME_ELEMENT, short_payload(v, self._s.exact), self.offset
        else:
            payload = bytes(buf[start : start + n])
            base = self.offset + start
        try:
            ev = self._frame(kind, payload)
        except DecodeError as e:
            raise _shift(e, base) from None
        del buf[: start + n]
        self.offset += start + n
        return _NOTHING if ev is None else ev

    def _frame(self, kind: int, payload: bytes) -> StreamEvent | None:
        """The event of a frame (None for an announcement); offsets into the payload."""
        s = self._s
        if kind == FRAME_TEXT:
            if not payload or _WS.fullmatch(payload) is None:
                raise InvalidDataError("a text frame must hold whitespace only", 0)
            return StreamEvent("text", payload)
        if kind == FRAME_CLOSE:
            if not payload and s.stream_qname is not None:
                return StreamEvent("close", f"</{s.stream_qname}>".encode())
            name = _close_name(payload)
            if name is None or (s.stream_qname is not None and name != s.stream_qname):
                raise InvalidDataError("invalid stream end tag", 0)
            return StreamEvent("close", payload)
        if kind == FRAME_OPEN:
            hv = get_varint(payload, 0, 3)
            if hv is None:
                raise TruncatedError("frame is truncated", len(payload))
            budget, p = hv
            if budget > self.max_table_size:
                raise DecodeLimitError(f"table budget {budget} exceeds max_table_size={self.max_table_size}",
                                       0, "max_table_size")
            try:
                kind, exact, dict_id, hn = _decoder.read_header(payload, p)
            except TruncatedError:
                raise TruncatedError("frame is truncated", len(payload)) from None
            if kind > M.KIND_RESTART:
                raise InvalidDataError("invalid message header in an open frame", p)
            if kind == M.KIND_RESTART:  # the state carries over (14.2): same parameters
                if not self._opened:
                    raise InvalidDataError("a restart before the stream's open frame", p)
                if budget != s.budget or exact != s.exact or dict_id != s.dictionary.id:
                    raise InvalidDataError("a restart changes the table budget, the mode or the dictionary", p)
                s.context = s.base_context
            else:
                s.exact = exact
                s.dictionary = get_dictionary(dict_id, p + hn - 1)
                s.reset(budget)
                if self._c is not None:
                    self._c.reset(budget, s.exact)
            self._opened = True
            body = payload[p + hn :]
            if kind == M.KIND_ELEMENT:  # an announcement: no header
                if body:
                    raise InvalidDataError("an announcing open frame has no body", p + hn)
                return None
            try:
                out, events = self._decode(body, M.KIND_STREAM_OPEN)
            except DecodeError as e:  # offsets into the body: the payload's are 14.5's
                raise _shift(e, p + hn) from None
            root = next(e for e in events if e[0] == "S")
            decls = s.opened(root[1], root[2])
            if self._feeder is not None:  # the C loop gives the plain end tag's event
                self._feeder.set_stream(s.stream_qname)
                self._feeder.learn(decls, s.context)  # and decodes the next such headers itself
            return StreamEvent("open", out)
        if not self._opened:  # not reached from feed(): _next checks it at the header
            raise InvalidDataError("an element frame before the stream's open frame", 0)
        out, _events = self._decode(payload, M.KIND_ELEMENT)
        return StreamEvent("element", out)

    def _decode(self, body: bytes, kind: int):
        s = self._s
        if self._c is not None:
            return self._c.decode(body, kind == M.KIND_STREAM_OPEN, self.limits, s.context, self.allow_comments)
        dec = _decoder._Decoder(body, self.limits, s.context, self.allow_comments, stream=s)
        dec.kind = kind
        dec.read_secrets()
        events = dec.run()
        out = _decoder.finish(dec, events)
        s.state.session_join(dec.win[dec.msg0 :])  # the message's literals join the session window (8.11)
        return out, events


_NOTHING = StreamEvent("", b"")  # a frame that yields no unit (an announcement)

#: the Python feed() methods (the C entry points of _install_feed call them for
#: everything they do not take; tests call them to compare the two paths)
_PY_FEED = {0: StreamEncoder.feed, 1: StreamDecoder.feed}


def _install_feed() -> None:
    """With xmppbin._xmppbin_fast (csrc/pyfast.c), StreamEncoder.feed and
    StreamDecoder.feed become C methods that call the C feed loop of an object
    that has one (its _cfeed) directly, and the Python methods above for
    everything else (no C state, other input types, errors, a failed object)."""
    try:
        fast: Any = importlib.import_module("._xmppbin_fast", __package__)
    except ImportError:
        return
    fast.install_feed(StreamEncoder, 0, _PY_FEED[0], StreamEvent)
    fast.install_feed(StreamDecoder, 1, _PY_FEED[1], StreamEvent)


_install_feed()


def _shift(e: XmppbinError, base: int) -> XmppbinError:
    """The same error with its offset counted from the start of the stream."""
    args = (e.reason, e.offset + base) + ((e.limit,) if hasattr(e, "limit") else ())
    return type(e)(*args)


def encode_stream(chunks: Iterable[bytes], **options: Any) -> bytes:
    """All frames of a raw XML stream given in chunks."""
    enc = StreamEncoder(**options)
    out = [enc.feed(c) for c in chunks]
    out.append(enc.flush())
    return b"".join(out)


def decode_stream(data: bytes, **options: Any) -> bytes:
    """The XML stream of complete frames."""
    dec = StreamDecoder(**options)
    out = b"".join(ev.xml for ev in dec.feed(data))
    dec.close()
    return out


async def read_events(reader, decoder: StreamDecoder | None = None, chunk: int = 65536):
    """Async iterator of the stream units read from an asyncio StreamReader (or
    anything with an ``async read(n)``) carrying frames, until end of input;
    a stream that ends inside a frame raises TruncatedError. The decoding of
    each chunk runs synchronously (it is bounded by the chunk and max_frame).
    On bad input the events decoded before the error are yielded first, then
    the error is raised (its ``events`` emptied: they were yielded)."""
    dec = StreamDecoder() if decoder is None else decoder
    while True:
        data = await reader.read(chunk)
        if not data:
            dec.close()
            return
        err: XmppbinError | None
        try:
            evs = dec.feed(data)
        except XmppbinError as e:
            evs, err = getattr(e, "events", []), e
            e.events = []  # type: ignore[attr-defined]
        else:
            err = None
        for ev in evs:
            yield ev
        if err is not None:
            raise err


__all__ = [
    "DEFAULT_MAX_FRAME",
    "DEFAULT_TABLE_SIZE",
    "MAX_TABLE_SIZE",
    "SECRET_ELEMENTS",
    "RestrictedXMLEncodeError",
    "StreamDecoder",
    "StreamEncoder",
    "StreamEvent",
    "XmlSplitter",
    "decode_stream",
    "element_frame",
    "encode_stream",
    "frame",
    "frame_header",
    "read_events",
    "short_payload",
]
