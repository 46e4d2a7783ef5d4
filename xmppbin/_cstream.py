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
from ._cdecoder import _options as _decode_options
from ._cencoder import _ERRORS as _ENC_ERRORS
from ._cencoder import _options as _encode_options
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
        return ffi.unpack(res.data, res.size)


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
