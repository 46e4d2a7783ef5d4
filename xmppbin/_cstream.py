"""Glue for the C stream mode (csrc/stream.c): the state of one direction of a
stream and the coding of its message bodies, for xmppbin/stream.py.

StreamEncoder / StreamDecoder use it when the active backend is C and the
dictionary is 1 (``encoder_for``, ``decoder_for``). Their feed() is one call into the C feed loops
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
import threading
from array import array as _array
from collections.abc import Callable, Mapping
from typing import Any

import xmppbin as _package  # (being) initialized: its backend is read per call

from ._cdecoder import _ERRORS as _DEC_ERRORS
from ._cdecoder import _options as _decode_options
from ._cencoder import _ERRORS as _ENC_ERRORS
from ._cencoder import _options as _encode_options
from ._cencoder import _utf8
from ._cerrors import LIMIT_NAMES, c_error
from ._xmppbin_c import ffi, lib
from .dictionary import get_dictionary
from .errors import DecodeLimitError, EncodeLimitError, XmppbinError
from .limits import Limits
from .xmlscan import scan

_DICT1 = get_dictionary(1)

if lib.xb_init() != 0:
    raise ImportError("xmppbin C core: the dictionary tables could not be built")

#: limits for re-reading a decoded stream header (already within the caller's)
_HEADER_LIMITS = Limits(*(5 * ((1 << 31) - 1,)))
_U32 = next(c for c in "IL" if _array(c).itemsize == 4)
_FEED_LIMITS = {**LIMIT_NAMES, lib.XB_LIMIT_MAX_FRAME: "max_frame", lib.XB_LIMIT_MAX_TABLE_SIZE: "max_table_size"}
_KINDS = ("element", "text", "open", "close")
_fdec_feed = lib.xb_fdec_feed
assert lib.XB_FEED_DONE == 0

# The CPython entry of the feed loops (csrc/pyfast.c, Feed): when it is built,
# StreamEncoder.feed / StreamDecoder.feed are C methods that call the loops of
# the feeders below directly (stream.py installs them), and these objects give
# it their addresses and option structs. None: every feed goes through cffi.
_UINTPTR = ffi.typeof("uintptr_t")


def _addr(p) -> int:
    return int(ffi.cast(_UINTPTR, p))


#: id(option entry) -> (entry, the address of its struct): the feeders give the
#: C entry the address of the option struct they use, once per entry, not per object
_OPT_ADDRS: dict[int, tuple[Any, int]] = {}


def _opt_addr(entry) -> int:
    hit = _OPT_ADDRS.get(id(entry))
    if hit is not None and hit[0] is entry:
        return hit[1]
    a = _addr(entry[0])
    if len(_OPT_ADDRS) >= 256:
        _OPT_ADDRS.clear()
    _OPT_ADDRS[id(entry)] = (entry, a)
    return a


def _prepared(options: Callable[..., Any], *args) -> Any:
    """options(*args) (an option entry), or None when they cannot be made: the
    first feed() then raises their error, as without the C entry."""
    try:
        return options(*args)
    except (TypeError, ValueError):
        return None


def _feed_entry(d: int, p, res, state: CStreamState, setup: EncoderSetup | DecoderSetup, limits: Limits | None) -> Any:
    """The C entry (Feed) of loop p (d 0: encoder, 1: decoder) with result res
    and state, keeping them and the header set alive, with the options of the
    first feed of setup (limits: the decoder's) when they could be made; None
    without the fast module."""
    if _Feed is None:
        return None
    keep = (p, res, state._p, setup.headers)
    if setup.opt is None:
        return _Feed(d, _addr(p), _addr(res), keep)
    return _Feed(d, _addr(p), _addr(res), keep, setup.opt_addr, setup.opt_owner, setup.context, limits,
                 setup.allow_comments)


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
    the shape cache with node prediction, the recent values, the style. It is
    the state p of a feed loop that owns it (xb_fenc_open, xb_fdec_open): owner,
    the loop's pointer, is kept with it (it frees p)."""

    _eres: Any = None
    _dres: Any = None

    def __init__(self, p, owner) -> None:
        self._p = p
        self._owner = owner
        # the result structs of encode() / decode() (stream.py's units) are made
        # when first used: the feed loops have their own

    def reset(self, budget: int, exact: bool) -> None:
        """An OPEN frame: the state emptied, with this budget and mode."""
        if lib.xb_stream_reset(self._p, budget, 1 if exact else 0):
            raise ValueError(f"table budget {budget} is too large for the C stream state")

    @staticmethod
    def header_root(xml: bytes) -> tuple[str, list[tuple[str, str]]] | None:
        """header_root(): the root start tag of an accepted stream header, or None."""
        return header_root(xml)

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
        if res is None:
            res = self._eres = ffi.new("xb_encode_result *")
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
        if res is None:
            res = self._dres = ffi.new("xb_result *")
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


#: the most contexts a HeaderSet learns (xb_hdrs holds 32)
_HEADER_CONTEXTS = 32


def decl_signature(decls) -> bytes | None:
    """The signature of a stream header's namespace declarations ((attribute,
    value) pairs, in order) as the C loops compute it (xb_hdrs), or None."""
    try:
        return b"".join(a.encode("utf-8") + b"\0" + v.encode("utf-8") + b"\0" for a, v in decls)
    except (UnicodeEncodeError, AttributeError):
        return None


class HeaderSet:
    """The stream-header contexts of one option set (xb_hdrs), shared by the C
    feed loops of every StreamEncoder (dec=False) or StreamDecoder (dec=True)
    with these limits, base context and allow_comments: the options of the
    base context (a header's body), and per set of namespace declarations a
    header had (learn(): the first header with them is coded by stream.py)
    the context it opens and that context's element options. The loops code
    a header with known declarations themselves (csrc/frame.c: open_unit,
    open_frame) and report the index of its context (contexts[k])."""

    def __init__(self, dec: bool, limits: Limits, base: Mapping[str, str], allow_comments: bool) -> None:
        self.dec = dec
        self.limits = limits
        self.base = base
        self.ac = bool(allow_comments)
        self.base_opt = (_decode_options(limits, base, self.ac) if dec
                         else _encode_options(limits, base, False, self.ac, True))
        p = lib.xb_hdrs_new(self.base_opt[0])
        if p == ffi.NULL:
            raise MemoryError("xmppbin C stream header set could not be created")
        self._p = ffi.gc(p, lib.xb_hdrs_free)
        self.contexts: list[Mapping[str, str]] = []
        self.options: list[Any] = []
        # the addresses of the option structs, for the C entry (Feed.set_options)
        self.base_addr = _addr(self.base_opt[0])
        self.addrs: list[int] = []
        self._known: set[bytes] = set()
        # one learner at a time: xb_hdrs_add runs without the GIL, and the
        # index it gives must be that of the lists' new items
        self._lock = threading.Lock()

    def learn(self, decls, context: Mapping[str, str]) -> None:
        """A header with these declarations opened context (in the base context):
        the loops code the next ones themselves."""
        sig = decl_signature(decls)
        if sig is None or sig in self._known or len(self.contexts) >= _HEADER_CONTEXTS:
            return
        opt = (_decode_options(self.limits, context, self.ac) if self.dec
               else _encode_options(self.limits, context, False, self.ac, False))
        with self._lock:
            if sig in self._known:
                return
            # published to the loops (which may run in other threads) after the lists have it
            self.contexts.append(context)
            self.options.append(opt)
            self.addrs.append(_addr(opt[0]))
            if lib.xb_hdrs_add(self._p, sig, len(sig), opt[0]) < 0:  # else the lists' last index
                self.contexts.pop()
                self.options.pop()
                self.addrs.pop()
                return
            self._known.add(sig)


#: HeaderSet by (dec, limits, id(base context), allow_comments)
_HEADER_SETS: dict[tuple, HeaderSet] = {}


def header_set(dec: int, limits: Limits, base: Mapping[str, str], allow_comments: bool) -> HeaderSet:
    """The shared HeaderSet of these options (made once)."""
    try:
        key = (dec, limits, id(base), bool(allow_comments))
        hs = _HEADER_SETS.get(key)
    except TypeError:  # unhashable limits: not shared
        return HeaderSet(bool(dec), limits, base, allow_comments)
    if hs is None or hs.base is not base:
        if len(_HEADER_SETS) >= 64:
            _HEADER_SETS.clear()
        hs = _HEADER_SETS[key] = HeaderSet(bool(dec), limits, base, allow_comments)
    return hs


#: stream names as str, by their UTF-8 bytes
_NAMES: dict[bytes, str] = {}


def _stream_name(feeder, get) -> str | None:
    """The stream name a feed loop knows (get: xb_fenc_stream_name or
    xb_fdec_stream_name), through the feeder's size_t (made once) and _NAMES."""
    n = feeder._np
    if n is None:
        n = feeder._np = ffi.new("size_t *")
    p = get(feeder._p, n)
    if p == ffi.NULL:
        return None
    b = ffi.unpack(p, n[0])
    name = _NAMES.get(b)
    if name is None:
        name = b.decode("utf-8")
        if len(_NAMES) >= 256:
            _NAMES.clear()
        _NAMES[b] = name
    return name


class EncodeFeeder:
    """The encoder feed loop (xb_fenc) of one StreamEncoder: splitter, element
    coding with the state, framing, in one C call per feed."""

    _np: Any = None  # the size_t of stream_name(), made when first used

    def __init__(self, setup: EncoderSetup, budget: int = 0, exact: bool = False) -> None:
        """The loop with its own stream state (xb_fenc_open, one C call: the
        state, the secret elements' namespaces, the header set), for the
        options of setup (shared by every loop made with them); the C entry
        gets the options of the first feed at once."""
        hs = setup.headers
        p = lib.xb_fenc_open(budget, 1 if exact else 0, *setup.open_args)
        if p == ffi.NULL:
            raise MemoryError("xmppbin C stream encoder could not be created")
        self._p = p = ffi.gc(p, lib.xb_fenc_free)
        self._state = state = CStreamState(lib.xb_fenc_state(p), p)
        self._res = res = ffi.new("xb_feed_result *")
        self._limits = setup.limits
        self._hs = hs  # the loop borrows its xb_hdrs
        self._budget = budget
        self._exact = 1 if exact else 0
        opt = setup.opt  # the options of the first feed, when they could be made
        self._opt: Any = opt
        self._ctx: Mapping[str, str] | None = None if opt is None else setup.context
        self._ac: bool | None = None if opt is None else setup.allow_comments
        #: the C entry of this loop (xmppbin._xmppbin_fast.Feed), None without it; it
        #: keeps the loop, its result, the state and the header set alive, not this
        #: object (no reference cycle: a StreamEncoder is freed when its last reference goes)
        self.fast = _feed_entry(0, p, res, state, setup, None)

    def feed(self, data, context: Mapping[str, str], allow_comments: bool, opened: bool,
             out: list[bytes], synced: Callable[[], None]) -> tuple[int, bytes, int] | None:
        """Append the frames of the units data completes to out; None when all
        are done, else (kind, XML, stream offset) of the unit left to the caller
        (feed b"" after coding it). Errors carry nothing; the caller adds out.
        synced() is called when the loop coded stream headers (before an error
        is raised): the caller takes their state (header_ctx(), stream_name(),
        then adopt())."""
        if context is not self._ctx or allow_comments is not self._ac:
            self.prepare(context, allow_comments)
        res = self._res
        rc = lib.xb_fenc_feed(self._p, data if type(data) is bytes else ffi.from_buffer(data), len(data),
                              opened, self._opt[0], res)
        if res.size:
            out.append(ffi.buffer(res.data, res.size)[:])
        if res.headers:
            synced()
        return self.outcome(rc)

    def prepare(self, context: Mapping[str, str], allow_comments: bool) -> None:
        """The option struct for this context, kept while the context object
        stays (a stream header makes a new one), also given to the C entry."""
        if context is self._ctx and allow_comments is self._ac and self._opt is not None:
            return  # unchanged (the contexts of stream.py are never changed in place)
        self._opt = _encode_options(self._limits, context, False, allow_comments, False)
        self._ctx, self._ac = context, allow_comments
        hs = self._hs
        if hs is not None and hs.ac != bool(allow_comments):  # the headers' options follow
            hs = self._hs = header_set(0, self._limits, hs.base, allow_comments)
            lib.xb_fenc_set_headers(self._p, hs._p, self._budget, self._exact)
        if self.fast is not None:
            self.fast.set_options(_opt_addr(self._opt), (self._opt, hs), context, None, allow_comments)

    def learn(self, decls, context: Mapping[str, str]) -> None:
        """stream.py coded a header with these declarations (HeaderSet.learn)."""
        if self._hs is not None:
            self._hs.learn(decls, context)

    def set_headers(self, hs: HeaderSet | None) -> None:
        """The header set the loop codes stream headers with (None: they all go to stream.py)."""
        self._hs = hs
        lib.xb_fenc_set_headers(self._p, ffi.NULL if hs is None else hs._p, self._budget, self._exact)
        if self.fast is not None and self._opt is not None:  # the C entry keeps the set alive
            self.fast.set_options(_opt_addr(self._opt), (self._opt, hs), self._ctx, None, self._ac)

    def header_ctx(self) -> int:
        """The context index (in the header set) of the last header the last call coded."""
        return self._res.header_ctx

    def context_of(self, k: int) -> Mapping[str, str]:
        assert self._hs is not None
        return self._hs.contexts[k]

    def adopt(self, k: int, context: Mapping[str, str]) -> None:
        """The loop coded a header opening context (entry k of the header set):
        its element options are the current ones (the loop went on with them)."""
        hs = self._hs
        assert hs is not None
        self._opt = hs.options[k]
        self._ctx = context
        if self.fast is not None:
            self.fast.set_options(hs.addrs[k], (self._opt, hs), context, None, self._ac)

    def stream_name(self) -> str | None:
        """The qname of the open stream as the loop knows it (set_stream, or a header it coded)."""
        return _stream_name(self, lib.xb_fenc_stream_name)

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

    _np: Any = None  # the size_t of stream_name(), made when first used

    def __init__(self, setup: DecoderSetup, make: Callable[[str, bytes], Any]) -> None:
        """The loop with its own stream state (xb_fdec_open, one C call: the
        state and the header set), for the options of setup (shared by every
        loop made with them); the C entry gets the options of the first feed
        at once."""
        hs = setup.headers
        p = lib.xb_fdec_open(setup.max_frame, ffi.NULL if hs is None else hs._p, setup.max_table_size)
        if p == ffi.NULL:
            raise MemoryError("xmppbin C stream decoder could not be created")
        self._p = p = ffi.gc(p, lib.xb_fdec_free)
        self._state = state = CStreamState(lib.xb_fdec_state(p), p)
        self._res = res = ffi.new("xb_feed_result *")
        self._make = make
        self._end: Any = None
        self._hs: HeaderSet | None = hs  # the loop borrows its xb_hdrs
        self._max_table = setup.max_table_size
        opt = setup.opt  # the options of the first feed, when they could be made
        self._opt: Any = opt
        self._opt0: Any = None if opt is None else opt[0]
        self._ctx: Mapping[str, str] | None = None if opt is None else setup.context
        self._limits: Limits | None = None if opt is None else setup.limits
        self._ac: bool | None = None if opt is None else setup.allow_comments
        #: the C entry of this loop (xmppbin._xmppbin_fast.Feed), None without it
        #: (keeping the loop, its result, the state and the header set alive, as EncodeFeeder's)
        self.fast = _feed_entry(1, p, res, state, setup, setup.limits)

    def feed(self, data, limits: Limits, context: Mapping[str, str], allow_comments: bool, opened: bool,
             out: list, synced: Callable[[], None]) -> tuple[int, bytes, int] | None:
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
        if res.headers:
            synced()
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
        hs = self._hs
        if hs is not None and (hs.ac != bool(allow_comments) or hs.limits != limits):  # the headers' options follow
            hs = self._hs = header_set(1, limits, hs.base, allow_comments)
            lib.xb_fdec_set_headers(self._p, hs._p, self._max_table)
        if self.fast is not None:
            self.fast.set_options(_opt_addr(self._opt), (self._opt, hs), context, limits, allow_comments)

    def learn(self, decls, context: Mapping[str, str]) -> None:
        """stream.py decoded a header with these declarations (HeaderSet.learn)."""
        if self._hs is not None:
            self._hs.learn(decls, context)

    def set_max_table(self, n: int) -> None:
        """The largest budget of an OPEN frame (StreamDecoder.max_table_size)."""
        self._max_table = n
        lib.xb_fdec_set_headers(self._p, ffi.NULL if self._hs is None else self._hs._p, n)

    def set_headers(self, hs: HeaderSet | None) -> None:
        """The header set the loop decodes OPEN frames with (None: they all go to stream.py)."""
        self._hs = hs
        lib.xb_fdec_set_headers(self._p, ffi.NULL if hs is None else hs._p, self._max_table)
        if self.fast is not None and self._opt is not None:  # the C entry keeps the set alive
            self.fast.set_options(_addr(self._opt0), (self._opt, hs), self._ctx, self._limits, self._ac)

    def header(self) -> tuple[int, int, bool]:
        """(context index or -1 for the base context, budget, exact) of the last
        OPEN frame the last call decoded."""
        res = self._res
        return res.header_ctx, res.header_budget, bool(res.header_exact)

    def context_of(self, k: int) -> Mapping[str, str]:
        assert self._hs is not None
        return self._hs.contexts[k] if k >= 0 else self._hs.base

    def adopt(self, k: int, context: Mapping[str, str]) -> None:
        """The loop decoded an OPEN frame opening context (entry k of the
        header set, -1: the base context): its options are the current ones."""
        hs = self._hs
        assert hs is not None
        self._opt = hs.base_opt if k < 0 else hs.options[k]
        self._opt0 = self._opt[0]
        self._ctx = context
        if self.fast is not None:
            self.fast.set_options(hs.base_addr if k < 0 else hs.addrs[k], (self._opt, hs), context, self._limits,
                                  self._ac)

    def stream_name(self) -> str | None:
        """The qname of the open stream as the loop knows it (set_stream, or a header it decoded)."""
        return _stream_name(self, lib.xb_fdec_stream_name)

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
        if self._end is None:
            self._end = ffi.new("uint64_t *")
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


class EncoderSetup:
    """What the C encoder feed loops made with the same options share, made
    once per set of options (encoder_for keeps them): the arguments of
    xb_fenc_open after budget and mode (the secret elements packed), the
    header set, and the element options of the first feed (prepared at once;
    None when they cannot be made: the first feed() raises their error)."""

    __slots__ = ("limits", "secrets", "base_context", "context", "allow_comments", "headers", "open_args", "opt",
                 "opt_addr", "opt_owner")

    def __init__(self, limits: Limits, max_frame: int, in_stream: bool, secrets: tuple[list[bytes], list[bytes]],
                 every_element: bool, base_context: Mapping[str, str], allow_comments: bool,
                 context: Mapping[str, str]) -> None:
        names, nss = secrets
        self.limits, self.secrets, self.base_context, self.context = limits, secrets, base_context, context
        self.allow_comments = allow_comments
        self.headers = hs = None if every_element else header_set(0, limits, base_context, allow_comments)
        self.open_args = (limits.max_size, max_frame, 1 if in_stream else 0,
                          b"".join(names), ffi.new("size_t[]", [len(n) for n in names] or [0]), len(names),
                          b"".join(nss), ffi.new("size_t[]", [len(n) for n in nss] or [0]),
                          1 if every_element else 0, ffi.NULL if hs is None else hs._p)
        self.opt = opt = _prepared(_encode_options, limits, context, False, allow_comments, False)
        self.opt_addr = None if opt is None else _opt_addr(opt)
        self.opt_owner = (opt, hs)


def _shared_setup(cache: dict[tuple, tuple], make: Callable[..., Any], key: tuple, options: tuple) -> Any:
    """make(*options), made once for equal options: cache[key] (key: the ids
    of the options' objects, their scalars) when it was made from equal ones
    (as a rule the same objects: contexts are interned, limits and secret
    sets shared), else a new one kept there."""
    hit = cache.get(key)
    if hit is not None and hit[0] == options:
        return hit[1]
    setup = make(*options)
    if len(cache) >= 64:
        cache.clear()
    cache[key] = (options, setup)
    return setup


#: (options, EncoderSetup) by the options' ids and scalars (_shared_setup)
_ENCODER_SETUPS: dict[tuple, tuple] = {}


def encoder_for(dictionary, limits: Limits, max_frame: int, in_stream: bool,
                secrets: tuple[list[bytes], list[bytes]], every_element: bool, base_context: Mapping[str, str],
                allow_comments: bool, budget: int, exact: bool, context: Mapping[str, str]) -> EncodeFeeder | None:
    """The C feed loop of a StreamEncoder with its own state (its _state), or
    None: the C backend is not active or the dictionary is not 1 (the reference
    codes the stream)."""
    if _package.backend != "c" or dictionary is not _DICT1:
        return None
    setup = _shared_setup(_ENCODER_SETUPS, EncoderSetup,
                          (id(limits), max_frame, in_stream, id(secrets), every_element, id(base_context),
                           allow_comments, id(context)),
                          (limits, max_frame, in_stream, secrets, every_element, base_context, allow_comments, context))
    return EncodeFeeder(setup, budget, exact)


class DecoderSetup:
    """What the C decoder feed loops made with the same options share (as
    EncoderSetup): the header set and the element options of the first feed
    (None when they cannot be made: the first feed() raises their error)."""

    __slots__ = ("max_frame", "limits", "base_context", "context", "allow_comments", "max_table_size", "headers",
                 "opt", "opt_addr", "opt_owner")

    def __init__(self, max_frame: int, limits: Limits, base_context: Mapping[str, str], allow_comments: bool,
                 max_table_size: int, context: Mapping[str, str]) -> None:
        self.max_frame, self.limits, self.base_context, self.context = max_frame, limits, base_context, context
        self.allow_comments, self.max_table_size = allow_comments, max_table_size
        self.headers = hs = header_set(1, limits, base_context, allow_comments)
        self.opt = opt = _prepared(_decode_options, limits, context, bool(allow_comments))
        self.opt_addr = None if opt is None else _opt_addr(opt)
        self.opt_owner = (opt, hs)


#: (options, DecoderSetup) by the options' ids and scalars (_shared_setup)
_DECODER_SETUPS: dict[tuple, tuple] = {}


def decoder_for(max_frame: int, make: Callable[[str, bytes], Any], limits: Limits, base_context: Mapping[str, str],
                allow_comments: bool, max_table_size: int, context: Mapping[str, str]) -> DecodeFeeder | None:
    """The C feed loop of a StreamDecoder with its own state (its _state), or
    None: the C backend is not active (the reference decodes the stream)."""
    if _package.backend != "c":
        return None
    setup = _shared_setup(_DECODER_SETUPS, DecoderSetup,
                          (max_frame, id(limits), id(base_context), allow_comments, max_table_size, id(context)),
                          (max_frame, limits, base_context, allow_comments, max_table_size, context))
    return DecodeFeeder(setup, make)
