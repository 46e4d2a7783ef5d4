"""C error codes to xmppbin exceptions, shared by the cffi glue of both directions."""
from __future__ import annotations

from ._xmppbin_c import ffi, lib

LIMIT_NAMES = {
    lib.XB_LIMIT_MAX_SIZE: "max_size",
    lib.XB_LIMIT_MAX_DEPTH: "max_depth",
    lib.XB_LIMIT_MAX_ATTRIBUTES: "max_attributes",
    lib.XB_LIMIT_MAX_STRING: "max_string",
    lib.XB_LIMIT_MAX_ELEMENTS: "max_elements",
}


def c_error(res, errors: dict, limit_cls: type, what: str) -> Exception:
    """The exception for a failed C call: errors maps C codes to classes, limit_cls
    is the direction's limit error, what names the direction in unknown failures."""
    code = res.error
    msg = ffi.string(res.message).decode("utf-8", "replace")
    if code == lib.XB_ERR_LIMIT:
        return limit_cls(msg, res.offset, LIMIT_NAMES.get(res.limit, ""))
    if code == lib.XB_ERR_NOMEM:
        return MemoryError(msg)
    cls = errors.get(code)
    if cls is None:
        return RuntimeError(f"xmppbin C {what} failed (code {code}): {msg}")
    return cls(msg, res.offset)
