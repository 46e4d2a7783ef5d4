"""Glue for the C decoder (csrc/decode.c, built as xmppbin._xmppbin_c).

``decode`` has the signature and behaviour of xmppbin.decoder.decode: the same
output, and for invalid input the same exception class with the same
``offset`` (and ``limit`` for DecodeLimitError); only the wording of the
messages may differ. Importing this module raises ImportError when the
extension is not built.
"""
from __future__ import annotations

import threading
from array import array as _array
from collections.abc import Mapping
from itertools import islice as _islice

from ._cerrors import c_error
from ._xmppbin_c import ffi, lib
from .errors import (
    DecodeLimitError,
    InvalidDataError,
    RestrictedXMLDecodeError,
    TrailingDataError,
    TruncatedError,
    UnknownDictionaryError,
    with_index,
)
from .limits import Limits
from .xmlscan import DEFAULT_CONTEXT

if lib.xb_init() != 0:
    raise ImportError("xmppbin C core: the dictionary tables could not be built")

_ERRORS = {
    lib.XB_ERR_TRUNCATED: TruncatedError,
    lib.XB_ERR_TRAILING: TrailingDataError,
    lib.XB_ERR_UNKNOWN_DICTIONARY: UnknownDictionaryError,
    lib.XB_ERR_INVALID: InvalidDataError,
    lib.XB_ERR_RESTRICTED: RestrictedXMLDecodeError,
}

# Option structs by (limits, context items, allow_comments); each entry keeps the
# cdata its pointers refer to alive. Read-only for the C code, so shareable.
_OPTIONS: dict = {}
_OPTIONS_MAX = 256
# The last options used: (limits, copy of the context, allow_comments, option
# struct, _OPTIONS entry); decode() checks it inline. Replaced as a whole, so
# threads see either the old or the new one.
_NO_OPTIONS = object()
_last: tuple = (_NO_OPTIONS, None, _NO_OPTIONS, None)
# Per thread (the GIL is released during the C call): the result struct and
# views of its data and size fields as char * and size_t, which ffi.unpack
# turns into bytes without a cast per call.
_TLS = threading.local()
_xb_decode = lib.xb_decode
_xb_decode_many = lib.xb_decode_many
_xb_free = lib.xb_free
_unpack = ffi.unpack
_from_buffer = ffi.from_buffer
# the array typecode of size_t (unsigned int, long or long long: the first of
# its size) for the sizes of decode_many, which C then reads in place
_SIZE_T_CODE = next(c for c in "ILQ" if _array(c).itemsize == ffi.sizeof("size_t"))


def _new_state() -> tuple:
    res = ffi.new("xb_result *")
    pdata = ffi.cast("char **", ffi.addressof(res, "data"))
    psize = ffi.cast("size_t *", ffi.addressof(res, "size"))
    st = _TLS.state = (res, pdata, psize)
    return st


def _pack_context(context: Mapping[str, str]) -> tuple:
    """(count, data, lens) of the context as the C decoder takes it.

    The reference only ever compares context entries with strings read from a
    message, so entries it could never match are mirrored as such: non-str
    prefixes are dropped, and non-str URIs become byte strings no UTF-8 text
    can equal (the same one for equal values).
    """
    parts: list[bytes] = []
    lens: list[int] = []
    others: list = []
    for p, u in context.items():
        if not isinstance(p, str):
            continue
        pb = p.encode("utf-8", "surrogatepass")
        if isinstance(u, str):
            ub = u.encode("utf-8", "surrogatepass")
        else:
            i = next((k for k, x in enumerate(others) if x == u), -1)
            if i < 0:
                i = len(others)
                others.append(u)
            ub = b"\xff" + str(i).encode("ascii")
        parts += (pb, ub)
        lens += (len(pb), len(ub))
    data = ffi.new("char[]", b"".join(parts) or b"\0")
    arr = ffi.new("size_t[]", lens or [0])
    return len(lens) // 2, data, arr


def _options(limits: Limits, context: Mapping[str, str], allow_comments: bool):
    """(option struct, context data, context lengths) for these arguments, cached.
    The struct points into the other two: hold the whole tuple while C uses it."""
    global _last
    last = _last
    if last[0] is limits and last[2] is allow_comments and last[1] == context:
        return last[3]
    key: tuple | None
    try:
        key = (limits, tuple(context.items()), allow_comments)
        opt = _OPTIONS.get(key)
    except TypeError:  # unhashable: no caching
        key = opt = None
    if opt is not None:
        if type(limits) is Limits:  # frozen: the same object has the same values
            _last = (limits, dict(context), allow_comments, opt)
        return opt
    o = ffi.new("xb_decode_options *")
    o.max_size = limits.max_size
    o.max_depth = limits.max_depth
    o.max_attributes = limits.max_attributes
    o.max_string = limits.max_string
    o.max_elements = limits.max_elements
    o.allow_comments = 1 if allow_comments else 0
    n, data, lens = _pack_context(context)
    o.context_count = n
    o.context_data = data
    o.context_lens = lens
    opt = (o, data, lens)
    if key is not None:
        if len(_OPTIONS) >= _OPTIONS_MAX:
            _OPTIONS.clear()
        _OPTIONS[key] = opt
    return opt


def _error(res) -> Exception:
    return c_error(res, _ERRORS, DecodeLimitError, "decoder")


def decode(
    data: bytes,
    *,
    limits: Limits,
    context: Mapping[str, str] = DEFAULT_CONTEXT,
    allow_comments: bool = False,
) -> bytes:
    if type(data) is not bytes:
        data = bytes(data)
    last = _last  # _options() inline for the usual case: the same options again
    if last[0] is limits and last[2] is allow_comments and last[1] == context:
        opt = last[3]
    else:
        opt = _options(limits, context, bool(allow_comments))
    try:
        res, pdata, psize = _TLS.state
    except AttributeError:
        res, pdata, psize = _new_state()
    if _xb_decode(data, len(data), opt[0], res):
        raise _error(res)
    p = pdata[0]
    try:
        return _unpack(p, psize[0])
    finally:
        _xb_free(p)


def decode_many(
    datas: list,
    *,
    limits: Limits,
    context: Mapping[str, str] = DEFAULT_CONTEXT,
    allow_comments: bool = False,
) -> list[bytes]:
    """decode() of every message in one C call; the first failure raises its error
    (reason prefixed with the message index, .index set)."""
    n = len(datas)
    if n == 0:
        return []
    opt = _options(limits, context, bool(allow_comments))
    items = [x if type(x) is bytes else bytes(x) for x in datas]
    bufs = list(map(_from_buffer, items))  # held until the call returns
    ptrs = ffi.new("const char *[]", bufs)
    sizes = _from_buffer("size_t[]", _array(_SIZE_T_CODE, map(len, items)))
    res = ffi.new("xb_batch *")
    if _xb_decode_many(n, ptrs, sizes, opt[0], res):
        raise with_index(_error(res.error), res.index)
    try:
        out = _unpack(ffi.cast("char *", res.data), res.size)
        offs = _unpack(res.offsets, n + 1)
    finally:
        _xb_free(res.data)
        _xb_free(res.offsets)
    return [out[a:b] for a, b in zip(offs, _islice(offs, 1, None))]
