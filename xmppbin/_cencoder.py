"""Glue for the C encoder (csrc/scan.c, csrc/encode.c, built as xmppbin._xmppbin_c).

``encode`` has the signature and behaviour of xmppbin.encoder.encode: the same
output bytes, and for invalid input the same exception class with the same
``offset`` (and ``limit`` for EncodeLimitError); only the wording of the
messages may differ. ``encode_many`` encodes a list of inputs in one C call
(one FFI crossing); the first invalid input raises its error, with the index
in the reason and as ``.index`` (xmppbin.errors.with_index), as the Python
backend does.

A dictionary other than the built-in id 1 (e.g. a bootstrap dictionary of the
generator) is passed to the reference encoder. Importing this module raises
ImportError when the extension is not built.
"""
from __future__ import annotations

import threading
from array import array as _array
from collections.abc import Mapping

from . import encoder as _pyencoder
from ._cdecoder import _pack_context
from ._cerrors import c_error
from ._xmppbin_c import ffi, lib
from .dictionary import get_dictionary
from .errors import EncodeLimitError, MalformedXMLError, RestrictedXMLEncodeError, with_index
from .limits import Limits
from .xmlscan import DEFAULT_CONTEXT

if lib.xb_init() != 0:
    raise ImportError("xmppbin C core: the dictionary tables could not be built")

_D1 = get_dictionary(1)
_encode_bound = lib.xb_encode_bound
_encode_many = lib.xb_encode_many
_bind = lib.xb_encoder_bind
_unpack = ffi.unpack
_from_buffer = ffi.from_buffer
# the array typecode of size_t (the first of its size), for arrays C reads and writes in place
_SIZE_T_CODE = next(c for c in "ILQ" if _array(c).itemsize == ffi.sizeof("size_t"))
_ZERO = (0,)
_ERRORS = {
    lib.XB_ERR_MALFORMED: MalformedXMLError,
    lib.XB_ERR_RESTRICTED: RestrictedXMLEncodeError,
}

# Option structs by (limits, context items, flags); each entry keeps the cdata its
# pointers refer to alive. Read-only for C, so shareable between threads.
_OPTIONS: dict = {}
_OPTIONS_MAX = 256
# Recently used (limits, context) objects -> (limits, context, copy of context,
# option struct), by identity and flags; an entry is used only while the
# context still equals its copy (a mapping may be changed in place).
_RECENT: dict = {}
_RECENT_MAX = 64
# the last entry used: (limits, context, copy, exact, allow_comments, open_root, option struct)
_LAST: tuple = (None, None, None, None, None, None, None)
_TLS = threading.local()
#: output buffer per thread; longer messages are read from the encoder's own buffer
_CAP = 1 << 16


def _state():
    """This thread's [encoder, output buffer, result struct, bound option entry,
    ffi.buffer of the output buffer]: the C encoder keeps its buffers between
    calls, so it must not be shared between threads (the GIL is released during
    the C call). The bound entry keeps the option struct (and the context arrays
    it points to) alive while the encoder refers to it. Slicing the ffi.buffer
    is the quickest way to bytes."""
    try:
        return _TLS.state
    except AttributeError:
        enc = lib.xb_encoder_new()
        if enc == ffi.NULL:
            raise MemoryError("xmppbin C encoder could not be created") from None
        enc = ffi.gc(enc, lib.xb_encoder_free)
        out = ffi.new("char[]", _CAP)
        st = _TLS.state = [enc, out, lib.xb_encoder_result(enc), None, ffi.buffer(out)]
        return st


def _open_root_mode(open_root) -> int:
    """xmlscan.scan tests open_root with `is not False` and by truth value:
    False is 0 (complete element), a true value 1 (stream header), any other
    false value (None, 0, ...) -1 (automatic)."""
    return 0 if open_root is False else 1 if open_root else -1


def _options(limits: Limits, context: Mapping[str, str], exact, allow_comments, open_root):
    """(option struct, context data, context lengths) for these arguments, cached;
    remembered as the last one. Holders of the struct keep the whole tuple."""
    global _LAST
    flags = (bool(exact), bool(allow_comments), _open_root_mode(open_root))
    rkey = (id(limits), id(context)) + flags
    hit = _RECENT.get(rkey)
    if hit is not None and hit[0] is limits and hit[1] is context and hit[2] == context:
        entry = hit[3]
    else:
        key: tuple | None
        try:
            key = (limits, tuple(context.items()), flags)
            entry = _OPTIONS.get(key)
        except TypeError:  # unhashable: no caching
            key = entry = None
        if entry is None:
            o = ffi.new("xb_encode_options *")
            o.max_size = limits.max_size
            o.max_depth = limits.max_depth
            o.max_attributes = limits.max_attributes
            o.max_string = limits.max_string
            o.max_elements = limits.max_elements
            o.exact = 1 if flags[0] else 0
            o.allow_comments = 1 if flags[1] else 0
            o.open_root = flags[2]
            o.dictionary = 1
            n, data, lens = _pack_context(context)
            o.context_count = n
            o.context_data = data
            o.context_lens = lens
            entry = (o, data, lens)
            if key is not None:
                if len(_OPTIONS) >= _OPTIONS_MAX:
                    _OPTIONS.clear()
                _OPTIONS[key] = entry
        if key is None or type(limits) is not Limits:  # not cacheable by identity
            return entry
        if len(_RECENT) >= _RECENT_MAX:
            _RECENT.clear()
        hit = _RECENT[rkey] = (limits, context, dict(context), entry)
    _LAST = (limits, context, hit[2], exact, allow_comments, open_root, entry)
    return entry


def _error(res) -> Exception:
    return c_error(res, _ERRORS, EncodeLimitError, "encoder")


def _utf8(xml) -> bytes:
    """The input as bytes, exactly as xmlscan.decode_input takes it."""
    if isinstance(xml, str):
        try:
            return xml.encode("utf-8")
        except UnicodeEncodeError as e:
            off = len(xml[: e.start].encode("utf-8", "surrogatepass"))
            raise MalformedXMLError("lone surrogate in input", off) from None
    if isinstance(xml, (bytes, bytearray, memoryview)):
        return bytes(xml)
    raise TypeError(f"xml must be bytes or str, not {type(xml).__name__}")


def encode(
    xml: bytes | str,
    d,
    *,
    exact: bool = False,
    limits: Limits,
    context: Mapping[str, str] = DEFAULT_CONTEXT,
    allow_comments: bool = False,
    open_root: bool | None = None,
) -> bytes:
    if d is not _D1:
        return _pyencoder.encode(
            xml, d, exact=exact, limits=limits, context=context, allow_comments=allow_comments, open_root=open_root
        )
    if type(xml) is not bytes:
        xml = _utf8(xml)
    last = _LAST
    if (
        last[0] is limits
        and last[1] is context
        and last[3] is exact
        and last[4] is allow_comments
        and last[5] is open_root
        and last[2] == context
    ):
        entry = last[6]
    else:
        entry = _options(limits, context, exact, allow_comments, open_root)
    try:
        st = _TLS.state
    except AttributeError:
        st = _state()
    if st[3] is not entry:
        _bind(st[0], entry[0], st[1], _CAP)
        st[3] = entry
    n = _encode_bound(st[0], xml, len(xml))
    if 0 <= n <= _CAP:
        return st[4][:n]
    return _finish(st, n)


def prepare(d, *, exact: bool = False, limits: Limits, context: Mapping[str, str] = DEFAULT_CONTEXT,
            allow_comments: bool = False):
    """encode with these options fixed, for xmppbin.Encoder: (f, fast) where
    f(xml, open_root) encodes with them and fast is what the inline path of
    Encoder.encode needs for bytes with open_root None, or None:
    (tls, entry, call, cap, finish): if tls.state exists and st[3] is entry,
    n = call(st[0], xml, len(xml)) encodes, and the message is st[4][:n] if
    0 <= n <= cap, else finish(st, n) (a long message, or raises the error).
    The options are converted once. The caller must not change the context
    afterwards (Encoder prepares again when it changes)."""
    if d is not _D1:
        def encode_other(xml, open_root=None):
            return _pyencoder.encode(xml, d, exact=exact, limits=limits, context=context,
                                     allow_comments=allow_comments, open_root=open_root)

        return encode_other, None
    entry = _options(limits, context, exact, allow_comments, None)

    def encode_prepared(xml, open_root=None):
        if open_root is None and type(xml) is bytes:
            try:
                st = _TLS.state
            except AttributeError:
                st = _state()
            if st[3] is not entry:
                _bind(st[0], entry[0], st[1], _CAP)
                st[3] = entry
            n = _encode_bound(st[0], xml, len(xml))
            if 0 <= n <= _CAP:
                return st[4][:n]
            return _finish(st, n)
        return encode(xml, d, exact=exact, limits=limits, context=context, allow_comments=allow_comments,
                      open_root=open_root)

    return encode_prepared, (_TLS, entry, _encode_bound, _CAP, _finish)


def _finish(st, n):
    """The message of a bound call that returned n: one too long for the
    thread's buffer, or the error (raised)."""
    if n >= 0:
        return _unpack(st[2].data, n)
    raise _error(st[2])


def encode_many(
    xmls,
    d,
    *,
    exact: bool = False,
    limits: Limits,
    context: Mapping[str, str] = DEFAULT_CONTEXT,
    allow_comments: bool = False,
    open_root: bool | None = None,
) -> list[bytes]:
    """encode() of every input in one C call. The first invalid input raises its
    error (same class, offset and limit; reason prefixed with the index, .index set)."""
    if type(xmls) is not list:
        xmls = list(xmls)
    if d is not _D1:
        out = []
        for i, x in enumerate(xmls):
            try:
                out.append(
                    _pyencoder.encode(
                        x, d, exact=exact, limits=limits, context=context, allow_comments=allow_comments,
                        open_root=open_root,
                    )
                )
            except Exception as e:
                raise with_index(e, i) from None
        return out
    n = len(xmls)
    if n == 0:
        return []
    entry = _options(limits, context, exact, allow_comments, open_root)
    # the inputs as bytes; an input that cannot be converted is an error only
    # if every input before it encodes (the order in which the reference fails)
    bad = None
    if len(set(map(type, xmls))) == 1 and type(xmls[0]) is bytes:
        parts = xmls
    else:
        parts = []
        for x in xmls:
            if type(x) is not bytes:
                try:
                    x = _utf8(x)
                except Exception as e:
                    bad = e
                    break
            parts.append(x)
        n = len(parts)
    try:
        st = _TLS.state
    except AttributeError:
        st = _state()
    if n:
        sizes = _array(_SIZE_T_CODE, map(len, parts))
        ends = _array(_SIZE_T_CODE, _ZERO) * n
        res = st[2]
        if _encode_many(st[0], n, b"".join(parts), _from_buffer("size_t[]", sizes), entry[0],
                        _from_buffer("size_t[]", ends), res):
            raise with_index(_error(res), res.index)
    if bad is not None:
        raise with_index(bad, n) from None
    if n == 1:
        return [_unpack(res.data, res.size)]
    out = _unpack(res.data, res.size)
    stops = ends.tolist()
    starts = [0]
    starts += stops
    return [out[a:b] for a, b in zip(starts, stops)]
