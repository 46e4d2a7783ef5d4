"""Exception hierarchy. Every error is a ValueError and carries a byte offset.

For encode errors the offset is into the UTF-8 XML input; for decode errors it
is into the binary message (see spec/xmppbin.md, "Errors").
"""
from __future__ import annotations


class XmppbinError(ValueError):
    """Base class of every xmppbin error."""

    #: set (only) on the error of a batch call: which message failed (see with_index)
    index: int

    def __init__(self, message: str, offset: int = 0) -> None:
        self.reason = message
        self.offset = offset
        super().__init__(f"{message} (at byte {offset})")

    def __reduce__(self):  # keep pickling (multiprocessing) working
        return (type(self), (self.reason, self.offset))


class EncodeError(XmppbinError):
    """The XML input cannot be encoded."""


class MalformedXMLError(EncodeError):
    """The input is not well-formed (namespace-well-formed) XML."""


class RestrictedXMLError(XmppbinError):
    """Comment, processing instruction, DTD or entity outside RFC 6120 restricted XML.

    Raised by encode for such input, and by decode for such a node unless
    allow_comments=True. It is both an EncodeError-like and DecodeError-like
    condition, so it derives from XmppbinError directly; the concrete classes
    below also derive from EncodeError / DecodeError.
    """


class RestrictedXMLEncodeError(RestrictedXMLError, EncodeError):
    pass


class DecodeError(XmppbinError):
    """The binary input is not a valid xmppbin message."""


class RestrictedXMLDecodeError(RestrictedXMLError, DecodeError):
    pass


class TruncatedError(DecodeError):
    """The message ends before the encoding is complete."""


class TrailingDataError(DecodeError):
    """Bytes (or non-zero padding bits) follow a complete message."""


class UnknownDictionaryError(DecodeError):
    """The message names a dictionary (or format version) this build does not have."""


class InvalidDataError(DecodeError):
    """A symbol, reference, or string in the message is invalid."""


class LimitExceededError(XmppbinError):
    """A configured limit (size, depth, attributes, string, elements) was exceeded."""

    def __init__(self, message: str, offset: int = 0, limit: str = "") -> None:
        self.limit = limit
        super().__init__(message, offset)

    def __reduce__(self):
        return (type(self), (self.reason, self.offset, self.limit))


class EncodeLimitError(LimitExceededError, EncodeError):
    pass


class DecodeLimitError(LimitExceededError, DecodeError):
    pass


def with_index(e: BaseException, index: int) -> BaseException:
    """The error of message `index` of a batch: same class, offset and limit, the
    reason prefixed with the index, and .index set. Other exceptions pass through."""
    if not isinstance(e, XmppbinError):
        return e
    reason = f"message {index}: {e.reason}"
    new = type(e)(reason, e.offset, e.limit) if isinstance(e, LimitExceededError) else type(e)(reason, e.offset)
    new.index = index
    return new
