"""Glue for the C stream mode (csrc/stream.c): the state of one direction of a
stream and the coding of its message bodies, for xmppbin/stream.py.

StreamEncoder / StreamDecoder use it when the active backend is C and the
dictionary is 1 (``state_for``). Their feed() is one call into the C feed loops
(csrc/frame.c, csrc/split.c: EncodeFeeder, DecodeFeeder), which split, frame and
code every ordinary unit, the end tag of a stream header stream.py named, and
the elements with a secret element's name they can settle (csrc/frame.c);
stream.py handles the rare units the loops hand back (stream headers, other end
tags, elements that may hold never-indexed values the loop cannot tell). Output
and errors are those of the reference (xmppbin/encoder.py, decoder.py with a
StreamState, stream.py's XmlSplitter and framing): the same bytes, the same
exception class and offset (and limit).

Importing this module raises ImportError when the extension is not built.
"""
from __future__ import annotations

import importlib
import re
from array import array as _array
from collections.abc import Callable, Mapping
from typing import Any

from ._cdecoder import _ERRORS as _DEC_ERRORS
from ._cdecoder import _options as _decode_options
from ._cencoder import _ERRORS as _ENC_ERRORS
from ._cencoder import _options as _encode_options
from ._cencoder import _utf8
from ._cerrors import LIMIT_NAMES, c_error
from ._xmppbin_c import ffi, lib
from .errors import DecodeLimitError, EncodeLimitError, XmppbinError
from .limits import Limits
from .xmlscan import scan

if lib.xb_init() != 0:
    raise ImportError("xmppbin C core: the dictionary tables could not be built")

#: limits for re-reading a decoded stream header (already within the caller's)
_HEADER_LIMITS = Limits(*(5 * ((1 << 31) - 1,)))
_U32 = next(c for c in "IL" if _array(c).itemsize == 4)
_FEED_LIMITS = {**LIMIT_NAMES, lib.XB_LIMIT_MAX_FRAME: "max_frame"}
_KINDS = ("element", "text", "open", "close")
_fdec_feed = lib.xb_fdec_feed
assert lib.XB_FEED_DONE == 0

# The CPython entry of the feed loops (csrc/pyfast.c, Feed): when it is built,
# StreamEncoder.feed / StreamDecoder.feed are C methods that call the loops of
# the feeders below directly (stream.py installs them), and these objects give
# it their addresses and option structs. None: every feed goes through cffi.
def _addr(p) -> int:
    return int(ffi.cast("uintptr_t", p))


_Feed: Any
try:
    _fast: Any = importlib.import_module("._xmppbin_fast", __package__)
except ImportError:
    _Feed = None
else:
    # the loops and states are this module's (cffi) objects, run by this module's code:
    # the fast module calls these functions, not its own copy of the core
    _fast.core_functions(*(_addr(ffi.addressof(lib, fn)) for fn in ("xb_fenc_feed", "xb_fdec_feed", "xb_fdec_hold")))
    _Feed = _fast.Feed


# The root start tag of a stream header the C coder has accepted (so well-formed):
# a prolog of whitespace, declaration, PIs and comments, then the start tag, with
# attribute values that need no unescaping or normalization; else None (scan it).
_PROLOG = re.compile(rb"(?:[ \t\r\n]+|<\?.*?\?>|<!--.*?-->)*", re.DOTALL)
_VALUE = rb"(?:'[^'<&\t\r\n]*'|\"[^\"<&\t\r\n]*\")"
_NAME = rb"[^\s/>!?=\"'<&]+"
_START = re.compile(rb"<(" + _NAME + rb")((?:[ \t\r\n]+" + _NAME + rb"[ \t\r\n]*=[ \t\r\n]*" + _VALUE
                    + rb")*)[ \t\r\n]*>")
_ATTR = re.compile(rb"(" + _NAME + rb")[ \t\r\n]*=[ \t\r\n]*(?:'([^']*)'|\"([^\"]*)\")")


def header_root(xml: bytes) -> tuple[str, list[tuple[str, str]]] | None:
    """(qname, [(attribute qname, value)]) of a well-formed stream header's root
    start tag (the events stream.py takes from a scan), or None when the quick
    reading does not apply (the caller scans)."""
    m = _START.match(xml, _PROLOG.match(xml).end())  # type: ignore[union-attr]
    if m is None or m.end() != len(xml):
        return None
    try:
        return m.group(1).decode(), [(a.decode(), (v1 or v2).decode()) for a, v1, v2 in _ATTR.findall(m.group(2))]
    except UnicodeDecodeError:
        return None


def _feed_error(res, errors: dict, limit_cls: type) -> Exception:
    """The exception of a failed feed call (offsets from the stream's start)."""
    code = res.error
    msg = ffi.string(res.message).decode("utf-8", "replace")
    if code == lib.XB_ERR_LIMIT:
        return limit_cls(msg, res.offset, _FEED_LIMITS.get(res.limit, ""))
    if code == lib.XB_ERR_NOMEM:
        return MemoryError(msg)
    cls = errors.get(code)
    if cls is None:
        return RuntimeError(f"xmppbin C stream feed failed (code {code}): {msg}")
    return cls(msg, res.offset)


def _events(res, make: Callable[[str, bytes], Any], out: list) -> None:
    """Append the events of a feed result (one XML buffer, (kind, offset, length)
    triples) to out, each built by make(kind, xml)."""
    n = res.nevents
    if not n:
        return
    blob = ffi.buffer(res.data, res.size)[:]
    ev = ffi.unpack(res.events, 3 * n)
    if n == 1:
        out.append(make(_KINDS[ev[0]], blob))
        return
    for i in range(0, 3 * n, 3):
        o = ev[i + 1]
        out.append(make(_KINDS[ev[i]], blob[o : o + ev[i + 2]]))


class CStreamState:
    """The C state of one direction of a stream (xb_stream): the dynamic table,
    the shape cache with node prediction, the recent values, the style."""

    def __init__(self, budget: int, exact: bool) -> None:
        p = lib.xb_stream_new(budget, 1 if exact else 0, 1)
        if p == ffi.NULL:
            raise MemoryError("xmppbin C stream state could not be created")
        self._p = ffi.gc(p, lib.xb_stream_free)
        self._eres = ffi.new("xb_encode_result *")
        self._dres = ffi.new("xb_result *")

    def reset(self, budget: int, exact: bool) -> None:
        """An OPEN frame: the state emptied, with this budget and mode."""
        if lib.xb_stream_reset(self._p, budget, 1 if exact else 0):
            raise ValueError(f"table budget {budget} is too large for the C stream state")

    @staticmethod
    def header_root(xml: bytes) -> tuple[str, list[tuple[str, str]]] | None:
        """header_root(): the root start tag of an accepted stream header, or None."""
        return header_root(xml)

    def encode_feeder(self, limits: Limits, max_frame: int, in_stream: bool,
                      secrets: tuple[list[bytes], list[bytes]], every_element: bool) -> EncodeFeeder:
        """The C feed loop of a StreamEncoder coding with this state; secrets:
        the secret elements' local names and namespaces (UTF-8)."""
        return EncodeFeeder(self, limits, max_frame, in_stream, secrets, every_element)

    def decode_feeder(self, max_frame: int, make: Callable[[str, bytes], Any]) -> DecodeFeeder:
        """The C feed loop of a StreamDecoder decoding with this state."""
        return DecodeFeeder(self, max_frame, make)

    def footprint(self) -> int:
        """Bytes the C state holds (xb_stream_footprint): capacities of its table,
        recent values, shape cache, prediction slots and the encoder's and
        decoder's buffers kept between messages."""
        return int(lib.xb_stream_footprint(self._p))

    def table(self) -> list[str]:
        """The strings of the dynamic table, oldest first (as History.entries)."""
        n = ffi.new("size_t *")
        out = []
        for i in range(lib.xb_stream_table_len(self._p)):
            p = lib.xb_stream_table_entry(self._p, i, n)
            out.append(ffi.unpack(p, n[0]).decode("utf-8"))
        return out

    def encode(self, xml, limits: Limits, context: Mapping[str, str], allow_comments: bool, open_root: bool,
               secrets) -> bytes:
        """One message body (never-indexed list, main stream, lexical section)
        of a unit: a stream header (open_root) or an element."""
        data = xml if type(xml) is bytes else _utf8(xml)
        # the cached option structs of the stateless encoder (the stream's state holds its mode)
        eo = _encode_options(limits, context, False, allow_comments, bool(open_root))
        sec = _array(_U32, secrets) if secrets else None
        res = self._eres
        rc = lib.xb_stream_encode(self._p, data, len(data), eo[0],
                                  ffi.from_buffer("uint32_t[]", sec) if sec else ffi.NULL,
                                  len(sec) if sec else 0, res)
        if rc:
            raise c_error(res, _ENC_ERRORS, EncodeLimitError, "stream encoder")
        return ffi.buffer(res.data, res.size)[:]


    def decode(self, body: bytes, open_root: bool, limits: Limits, context: Mapping[str, str],
               allow_comments: bool):
        """(XML, events) of one message body: the events are only the root's
        start tag ("S", qname, [(qname, value)]) of a stream header, for
        _StreamContext.opened (re-read from the output), else empty. Errors are
        the reference's, offsets into the body."""
        do = _decode_options(limits, context, bool(allow_comments))
        res = self._dres
        if lib.xb_stream_decode(self._p, body, len(body), 1 if open_root else 0, do[0], res):
            raise c_error(res, _DEC_ERRORS, DecodeLimitError, "stream decoder")
        try:
            out = ffi.unpack(ffi.cast("char *", res.data), res.size)
        finally:
            lib.xb_free(res.data)
        if not open_root:
            return out, []
        quick = header_root(out)
        if quick is not None:
            return out, [("S", quick[0], quick[1])]
        sc = scan(out, _HEADER_LIMITS, context, True, True, True)
        root = next(e for e in sc.events if e[0] == "S")
        return out, [("S", root[1], [(it[0], it[1]) for it in root[2]])]


#: (names, lengths, namespaces, lengths) given to xb_fenc_new / xb_fenc_secret_ns, per set
_SECRET_ARGS: dict[tuple, tuple] = {}


class EncodeFeeder:
    """The encoder feed loop (xb_fenc) of one StreamEncoder: splitter, element
    coding with the state, framing, in one C call per feed."""

    def __init__(self, state: CStreamState, limits: Limits, max_frame: int, in_stream: bool,
                 secrets: tuple[list[bytes], list[bytes]], every_element: bool) -> None:
        names, nss = secrets
        key = (tuple(names), tuple(nss))
        packed = _SECRET_ARGS.get(key)
        if packed is None:  # made once per set of secret elements
            packed = _SECRET_ARGS[key] = (b"".join(names), ffi.new("size_t[]", [len(n) for n in names] or [0]),
                                          b"".join(nss), ffi.new("size_t[]", [len(n) for n in nss] or [0]))
        p = lib.xb_fenc_new(state._p, limits.max_size, max_frame, 1 if in_stream else 0, packed[0], packed[1],
                            len(names), 1 if every_element else 0)
        if p == ffi.NULL:
            raise MemoryError("xmppbin C stream encoder could not be created")
        if names and lib.xb_fenc_secret_ns(p, packed[2], packed[3]):
            lib.xb_fenc_free(p)
            raise MemoryError("xmppbin C stream encoder could not be created")
        self._state = state  # the feeder borrows its xb_stream
        self._p = ffi.gc(p, lib.xb_fenc_free)
        self._res = ffi.new("xb_feed_result *")
        self._limits = limits
        self._ctx: Mapping[str, str] | None = None
        self._ac: bool | None = None
        self._opt: Any = None
        #: the C entry of this loop (xmppbin._xmppbin_fast.Feed), None without it; it
        #: keeps the loop, its result and the state alive, not this object (no
        #: reference cycle: a StreamEncoder is freed when its last reference goes)
        self.fast = None if _Feed is None else _Feed(0, _addr(self._p), _addr(self._res),
                                                     (self._p, self._res, state._p))

    def feed(self, data, context: Mapping[str, str], allow_comments: bool, opened: bool,
             out: list[bytes]) -> tuple[int, bytes, int] | None:
        """Append the frames of the units data completes to out; None when all
        are done, else (kind, XML, stream offset) of the unit left to the caller
        (feed b"" after coding it). Errors carry nothing; the caller adds out."""
        if context is not self._ctx or allow_comments is not self._ac:
            self.prepare(context, allow_comments)
        res = self._res
        rc = lib.xb_fenc_feed(self._p, data if type(data) is bytes else ffi.from_buffer(data), len(data),
                              opened, self._opt[0], res)
        if res.size:
            out.append(ffi.buffer(res.data, res.size)[:])
        return self.outcome(rc)

    def prepare(self, context: Mapping[str, str], allow_comments: bool) -> None:
        """The option struct for this context, kept while the context object
        stays (a stream header makes a new one), also given to the C entry."""
        if context is self._ctx and allow_comments is self._ac and self._opt is not None:
            return  # unchanged (the contexts of stream.py are never changed in place)
        self._opt = _encode_options(self._limits, context, False, allow_comments, False)
        self._ctx, self._ac = context, allow_comments
        if self.fast is not None:
            self.fast.set_options(_addr(self._opt[0]), self._opt, context, None, allow_comments)

    def set_stream(self, qname: str | None) -> None:
        """The qname of the stream header just coded (None: not known): the loop
        frames its end tag itself from now on (and clears ended())."""
        q = b"" if qname is None else qname.encode("utf-8")
        if lib.xb_fenc_set_stream(self._p, ffi.NULL if qname is None else q, len(q)):
            raise MemoryError("xmppbin C stream encoder: out of memory")

    def ended(self) -> bool:
        """The loop framed the end tag of the stream since set_stream()."""
        return bool(lib.xb_fenc_ended(self._p))

    def outcome(self, rc: int) -> tuple[int, bytes, int] | None:
        """What a call of the loop that returned rc leaves to the caller (its
        frames taken): None, the pending unit, or its error raised."""
        if rc == lib.XB_FEED_DONE:
            return None
        res = self._res
        if rc == lib.XB_FEED_PENDING:
            return res.kind, ffi.buffer(res.unit, res.unit_size)[:], res.unit_offset
        raise _feed_error(res, _ENC_ERRORS, EncodeLimitError)

    def flush(self) -> bytes:
        """The TEXT frame of trailing whitespace (or b""); an unfinished unit raises."""
        res = self._res
        if lib.xb_fenc_flush(self._p, res) != lib.XB_FEED_DONE:
            raise _feed_error(res, _ENC_ERRORS, EncodeLimitError)
        return ffi.buffer(res.data, res.size)[:]


class DecodeFeeder:
    """The decoder feed loop (xb_fdec) of one StreamDecoder: frame parser,
    ELEMENT and TEXT frames, in one C call per feed."""

    def __init__(self, state: CStreamState, max_frame: int, make: Callable[[str, bytes], Any]) -> None:
        p = lib.xb_fdec_new(state._p, max_frame)
        if p == ffi.NULL:
            raise MemoryError("xmppbin C stream decoder could not be created")
        self._state = state  # the feeder borrows its xb_stream
        self._p = ffi.gc(p, lib.xb_fdec_free)
        self._res = ffi.new("xb_feed_result *")
        self._make = make
        self._end = ffi.new("uint64_t *")
        self._ctx: Mapping[str, str] | None = None
        self._limits: Limits | None = None
        self._ac: bool | None = None
        self._opt: Any = None
        self._opt0: Any = None
        #: the C entry of this loop (xmppbin._xmppbin_fast.Feed), None without it
        #: (keeping the loop, its result and the state alive, as EncodeFeeder's)
        self.fast = None if _Feed is None else _Feed(1, _addr(self._p), _addr(self._res),
                                                     (self._p, self._res, state._p))

    def feed(self, data, limits: Limits, context: Mapping[str, str], allow_comments: bool, opened: bool,
             out: list) -> tuple[int, bytes, int] | None:
        """Append the events of the frames data completes to out; None when all
        are done, else (type, payload, stream offset of the payload) of an OPEN
        or CLOSE frame (consumed) left to the caller (feed b"" after it); the
        loop gives the close event of an empty CLOSE frame itself once
        set_stream() named the stream."""
        if context is not self._ctx or limits is not self._limits or allow_comments is not self._ac:
            self.prepare(limits, context, allow_comments)
        res = self._res
        # (a feed that cannot complete the frame being received only appends it, in C)
        rc = _fdec_feed(self._p, data if type(data) is bytes else ffi.from_buffer(data), len(data), opened,
                        self._opt0, res)
        if res.nevents:
            _events(res, self._make, out)
        if not rc:  # XB_FEED_DONE
            return None
        return self.outcome(rc)

    def prepare(self, limits: Limits, context: Mapping[str, str], allow_comments: bool) -> None:
        """The option struct for these options, kept while the context object
        stays (an OPEN frame makes a new one), also given to the C entry."""
        if context is self._ctx and limits is self._limits and allow_comments is self._ac and self._opt is not None:
            return  # unchanged (the contexts of stream.py are never changed in place)
        self._opt = _decode_options(limits, context, bool(allow_comments))
        self._opt0 = self._opt[0]
        self._ctx, self._limits, self._ac = context, limits, allow_comments
        if self.fast is not None:
            self.fast.set_options(_addr(self._opt0), self._opt, context, limits, allow_comments)

    def set_stream(self, qname: str | None) -> None:
        """The qname of the stream header just decoded (None: not known): an
        empty CLOSE frame then gives its close event in the loop."""
        q = b"" if qname is None else qname.encode("utf-8")
        if lib.xb_fdec_set_stream(self._p, ffi.NULL if qname is None else q, len(q)):
            raise MemoryError("xmppbin C stream decoder: out of memory")

    def outcome(self, rc: int) -> tuple[int, bytes, int] | None:
        """What a call of the loop that returned rc leaves to the caller (its
        events taken): None, the pending frame, or its error raised."""
        if rc == lib.XB_FEED_DONE:
            return None
        res = self._res
        if rc == lib.XB_FEED_PENDING:
            return res.kind, ffi.buffer(res.unit, res.unit_size)[:], res.unit_offset
        raise _feed_error(res, _DEC_ERRORS, DecodeLimitError)

    def buffered(self) -> tuple[int, int]:
        """(bytes held in an unfinished frame, stream offset after them)."""
        n = lib.xb_fdec_held(self._p, self._end)
        return n, self._end[0]


class CXmlSplitter:
    """The C splitter alone (xb_split), with XmlSplitter's interface, for tests:
    feed() returns StreamEvent-like (kind, xml) tuples built by make."""

    def __init__(self, *, max_size: int = Limits().max_size, in_stream: bool = False,
                 make: Callable[[str, bytes], Any] = lambda k, x: (k, x)) -> None:
        p = lib.xb_split_new(max_size, 1 if in_stream else 0)
        if p == ffi.NULL:
            raise MemoryError("xmppbin C splitter could not be created")
        self._p = ffi.gc(p, lib.xb_split_free)
        self._res = ffi.new("xb_feed_result *")
        self._make = make

    def feed(self, data) -> list:
        buf = ffi.from_buffer(data)
        res = self._res
        rc = lib.xb_split_feed(self._p, buf, len(buf), res)
        out: list = []
        _events(res, self._make, out)
        if rc != lib.XB_FEED_DONE:
            e = _feed_error(res, _ENC_ERRORS, EncodeLimitError)
            if isinstance(e, XmppbinError):
                e.events = out  # type: ignore[attr-defined]
            raise e
        return out

    def close(self) -> None:
        res = self._res
        if lib.xb_split_close(self._p, res) != lib.XB_FEED_DONE:
            raise _feed_error(res, _ENC_ERRORS, EncodeLimitError)


def state_for(dictionary, budget: int, exact: bool) -> CStreamState | None:
    """A C stream state if the C backend is active and the dictionary is 1, else
    None (the reference codes the stream)."""
    import xmppbin

    from .dictionary import get_dictionary

    if xmppbin.backend != "c" or dictionary is not get_dictionary(1):
        return None
    return CStreamState(budget, exact)
