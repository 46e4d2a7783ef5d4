"""Glue for the C decoder (csrc/decode.c, built as xmppbin._xmppbin_c).

``decode`` has the signature and behaviour of xmppbin.decoder.decode: the same
output, and for invalid input the same exception class with the same
``offset`` (and ``limit`` for DecodeLimitError); only the wording of the
messages may differ. Importing this module raises ImportError when the
extension is not built.
"""
from __future__ import annotations

import threading
from typing import Mapping

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
_LIMIT_NAMES = {
    lib.XB_LIMIT_MAX_SIZE: "max_size",
    lib.XB_LIMIT_MAX_DEPTH: "max_depth",
    lib.XB_LIMIT_MAX_ATTRIBUTES: "max_attributes",
    lib.XB_LIMIT_MAX_STRING: "max_string",
    lib.XB_LIMIT_MAX_ELEMENTS: "max_elements",
}

# Option structs by (limits, context items, allow_comments); each entry keeps the
# cdata its pointers refer to alive. Read-only for the C code, so shareable.
_OPTIONS: dict = {}
_OPTIONS_MAX = 256
# the last options used: (limits, copy of the context, allow_comments, _OPTIONS entry)
_LAST: list = [None]
# one result struct per thread (the C call does not re-enter Python)
_TLS = threading.local()


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
            for i, x in enumerate(others):
                if x == u:
                    break
            else:
                i = len(others)
                others.append(u)
            ub = b"\xff" + str(i).encode("ascii")
        parts += (pb, ub)
        lens += (len(pb), len(ub))
    data = ffi.new("char[]", b"".join(parts) or b"\0")
    arr = ffi.new("size_t[]", lens or [0])
    return len(lens) // 2, data, arr


def _options(limits: Limits, context: Mapping[str, str], allow_comments: bool):
    last = _LAST[0]
    if last is not None and last[0] is limits and last[2] is allow_comments and last[1] == context:
        return last[3][0]
    try:
        key = (limits, tuple(context.items()), allow_comments)
        opt = _OPTIONS.get(key)
    except TypeError:  # unhashable: no caching
        key = opt = None
    if opt is not None:
        if type(limits) is Limits:  # frozen: the same object has the same values
            _LAST[0] = (limits, dict(context), allow_comments, opt)
        return opt[0]
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
    if key is not None:
        if len(_OPTIONS) >= _OPTIONS_MAX:
            _OPTIONS.clear()
        _OPTIONS[key] = (o, data, lens)
    return o


def _error(res) -> Exception:
    code = res.error
    msg = ffi.string(res.message).decode("utf-8", "replace")
    if code == lib.XB_ERR_LIMIT:
        return DecodeLimitError(msg, res.offset, _LIMIT_NAMES.get(res.limit, ""))
    if code == lib.XB_ERR_NOMEM:
        return MemoryError(msg)
    cls = _ERRORS.get(code)
    if cls is None:
        return RuntimeError(f"xmppbin C decoder failed (code {code}): {msg}")
    return cls(msg, res.offset)


def decode(
    data: bytes,
    *,
    limits: Limits,
    context: Mapping[str, str] = DEFAULT_CONTEXT,
    allow_comments: bool = False,
) -> bytes:
    if type(data) is not bytes:
        data = bytes(data)
    opt = _options(limits, context, bool(allow_comments))
    try:
        res = _TLS.res
    except AttributeError:
        res = _TLS.res = ffi.new("xb_result *")
    if lib.xb_decode(data, len(data), opt, res) != lib.XB_OK:
        raise _error(res)
    try:
        return ffi.unpack(ffi.cast("char *", res.data), res.size)
    finally:
        lib.xb_free(res.data)


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
    bufs = [ffi.from_buffer(x if type(x) is bytes else bytes(x)) for x in datas]
    ptrs = ffi.new("const char *[]", bufs)
    sizes = ffi.new("size_t[]", [len(b) for b in bufs])
    res = ffi.new("xb_batch *")
    if lib.xb_decode_many(n, ptrs, sizes, opt, res) != lib.XB_OK:
        raise with_index(_error(res.error), res.index)
    try:
        out = ffi.unpack(ffi.cast("char *", res.data), res.size)
        offs = ffi.unpack(res.offsets, n + 1)
    finally:
        lib.xb_free(res.data)
        lib.xb_free(res.offsets)
    return [out[offs[i] : offs[i + 1]] for i in range(n)]
