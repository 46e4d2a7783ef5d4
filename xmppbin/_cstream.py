"""Glue for the C stream mode (csrc/stream.c): the state of one direction of a
stream and the coding of its message bodies, for xmppbin/stream.py.

StreamEncoder / StreamDecoder use it when the active backend is C and the
dictionary is 1 (``state_for``); the frames, the splitter, the never-indexed
ordinals and the error offsets stay in stream.py. Output and errors are those
of the reference (xmppbin/encoder.py, decoder.py with a StreamState): the same
bytes, the same exception class and offset (and limit).

Importing this module raises ImportError when the extension is not built.
"""
from __future__ import annotations

from array import array as _array
from typing import Mapping

from ._cdecoder import _ERRORS as _DEC_ERRORS
from ._cdecoder import _pack_context
from ._cencoder import _ERRORS as _ENC_ERRORS
from ._cencoder import _utf8
from ._cerrors import c_error
from ._xmppbin_c import ffi, lib
from .errors import DecodeLimitError, EncodeLimitError
from .limits import Limits
from .xmlscan import scan

if lib.xb_init() != 0:
    raise ImportError("xmppbin C core: the dictionary tables could not be built")

#: limits for re-reading a decoded stream header (already within the caller's)
_HEADER_LIMITS = Limits(*(5 * ((1 << 31) - 1,)))
_U32 = next(c for c in "IL" if _array(c).itemsize == 4)


class _EncodeOptions:
    """An xb_encode_options struct for (limits, context, allow_comments), both
    open_root values; rebuilt when the context changes."""

    __slots__ = ("key", "o", "keep")

    def __init__(self, limits: Limits, context: Mapping[str, str], allow_comments: bool) -> None:
        self.key = (limits, dict(context), bool(allow_comments))
        n, data, lens = _pack_context(context)
        self.keep = (data, lens)
        o = self.o = ffi.new("xb_encode_options *")
        o.max_size = limits.max_size
        o.max_depth = limits.max_depth
        o.max_attributes = limits.max_attributes
        o.max_string = limits.max_string
        o.max_elements = limits.max_elements
        o.exact = 0
        o.allow_comments = 1 if allow_comments else 0
        o.open_root = 0
        o.dictionary = 1
        o.context_count = n
        o.context_data = data
        o.context_lens = lens


class _DecodeOptions:
    """An xb_decode_options struct for (limits, context, allow_comments)."""

    __slots__ = ("key", "o", "keep")

    def __init__(self, limits: Limits, context: Mapping[str, str], allow_comments: bool) -> None:
        self.key = (limits, dict(context), bool(allow_comments))
        n, data, lens = _pack_context(context)
        self.keep = (data, lens)
        o = self.o = ffi.new("xb_decode_options *")
        o.max_size = limits.max_size
        o.max_depth = limits.max_depth
        o.max_attributes = limits.max_attributes
        o.max_string = limits.max_string
        o.max_elements = limits.max_elements
        o.allow_comments = 1 if allow_comments else 0
        o.context_count = n
        o.context_data = data
        o.context_lens = lens


def _same(cached, limits, context, allow_comments) -> bool:
    return (cached is not None and (cached.key[0] is limits or cached.key[0] == limits)
            and cached.key[1] == context and cached.key[2] == bool(allow_comments))


class CStreamState:
    """The C state of one direction of a stream (xb_stream): the dynamic table,
    the shape cache with node prediction, the recent values, the style."""

    def __init__(self, budget: int, exact: bool) -> None:
        p = lib.xb_stream_new(budget, 1 if exact else 0, 1)
        if p == ffi.NULL:
            raise MemoryError("xmppbin C stream state could not be created")
        self._p = ffi.gc(p, lib.xb_stream_free)
        self._eres = ffi.new("xb_encode_result *")
        self._eopt: _EncodeOptions | None = None
        self._dres = ffi.new("xb_result *")
        self._dopt: _DecodeOptions | None = None

    def reset(self, budget: int, exact: bool) -> None:
        """An OPEN frame: the state emptied, with this budget and mode."""
        if lib.xb_stream_reset(self._p, budget, 1 if exact else 0):
            raise ValueError(f"table budget {budget} is too large for the C stream state")

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
        eo = self._eopt
        if not _same(eo, limits, context, allow_comments):
            eo = self._eopt = _EncodeOptions(limits, context, allow_comments)
        eo.o.open_root = 1 if open_root else 0
        sec = _array(_U32, secrets) if secrets else None
        res = self._eres
        rc = lib.xb_stream_encode(self._p, data, len(data), eo.o,
                                  ffi.from_buffer("uint32_t[]", sec) if sec else ffi.NULL,
                                  len(sec) if sec else 0, res)
        if rc:
            raise c_error(res, _ENC_ERRORS, EncodeLimitError, "stream encoder")
        return ffi.unpack(res.data, res.size)


    def decode(self, body: bytes, open_root: bool, limits: Limits, context: Mapping[str, str],
               allow_comments: bool):
        """(XML, events) of one message body: the events are only the root's
        start tag ("S", qname, [(qname, value)]) of a stream header, for
        _StreamContext.opened (re-read from the output), else empty. Errors are
        the reference's, offsets into the body."""
        do = self._dopt
        if not _same(do, limits, context, allow_comments):
            do = self._dopt = _DecodeOptions(limits, context, allow_comments)
        res = self._dres
        if lib.xb_stream_decode(self._p, body, len(body), 1 if open_root else 0, do.o, res):
            raise c_error(res, _DEC_ERRORS, DecodeLimitError, "stream decoder")
        try:
            out = ffi.unpack(ffi.cast("char *", res.data), res.size)
        finally:
            lib.xb_free(res.data)
        if not open_root:
            return out, []
        sc = scan(out, _HEADER_LIMITS, context, True, True, True)
        root = next(e for e in sc.events if e[0] == "S")
        return out, [("S", root[1], [(it[0], it[1]) for it in root[2]])]


def state_for(dictionary, budget: int, exact: bool) -> CStreamState | None:
    """A C stream state if the C backend is active and the dictionary is 1, else
    None (the reference codes the stream)."""
    import xmppbin

    from .dictionary import get_dictionary

    if xmppbin.backend != "c" or dictionary is not get_dictionary(1):
        return None
    return CStreamState(budget, exact)
